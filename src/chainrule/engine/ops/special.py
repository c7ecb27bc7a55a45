"""Elementwise functions of two or three tensors: atan2, logaddexp, lerp.

atan2(y, x): the angle of the point (x, y), in (-pi, pi]. With r^2 = x^2 + y^2:
d/dy = x / r^2, d/dx = -y / r^2 (NaN at the origin, as PyTorch).

logaddexp(a, b) = log(e^a + e^b), computed as max(a, b) + log1p(e^{-|a - b|}) so that
nothing overflows (NumPy's ``logaddexp``); d/da = sigmoid(a - b), d/db = sigmoid(b - a).

lerp(input, end, weight) = input + weight (end - input), evaluated as PyTorch does
(end - (end - input)(1 - weight) when |weight| >= 1/2, which is exact at weight = 1);
d/dinput = 1 - weight, d/dend = weight, d/dweight = end - input. ``weight`` is a number
or a tensor (then it broadcasts with the others).

atan2 and logaddexp promote their operands by PyTorch's rule
(:mod:`~chainrule.engine.ops.arguments`); atan2 of integer tensors is float32. lerp wants
``end`` (and a tensor ``weight`` with dimensions) of the input's dtype, as PyTorch.
"""
from __future__ import annotations

from .. import backend
from ..autograd import Function
from ..tensor import Tensor
from .arguments import as_operand, is_python_scalar, promote_operands, require_float


class Atan2(Function):
    op = "atan2"

    def forward(self, y, x):
        self.y, self.x = y, x
        return backend.namespace_of(y).arctan2(y, x)

    def backward(self, grad):
        y, x = self.y, self.x
        scale = grad / (x * x + y * y)
        needs_y, needs_x = self.needs_input_grad
        return (scale * x if needs_y else None, -scale * y if needs_x else None)

    def backward_graph(self, grad):
        y, x = self.parents
        scale = grad / (x * x + y * y)
        needs_y, needs_x = self.needs_input_grad
        return (scale * x if needs_y else None, -scale * y if needs_x else None)


class LogAddExp(Function):
    op = "logaddexp"

    def forward(self, a, b):
        self.a, self.b = a, b
        return backend.namespace_of(a).logaddexp(a, b)

    def backward(self, grad):
        needs_a, needs_b = self.needs_input_grad
        share = backend.expit(self.a - self.b)
        return (grad * share if needs_a else None, grad * (1 - share) if needs_b else None)

    def backward_graph(self, grad):
        a, b = self.parents
        needs_a, needs_b = self.needs_input_grad
        share = (a - b).sigmoid()
        return (grad * share if needs_a else None, grad * (1 - share) if needs_b else None)


def _lerp(xp, a, end, weight):
    """PyTorch's evaluation of a + weight (end - a) (``lerp`` in ATen's Lerp.h)."""
    difference = end - a
    return xp.where(xp.abs(weight) < 0.5, a + weight * difference, end - difference * (1 - weight))


class Lerp(Function):
    """lerp with a number ``weight`` (a parameter, not an input)."""

    op = "lerp"
    saves_inputs = False

    def forward(self, a, end, weight):
        self.weight = weight
        difference = end - a
        return a + weight * difference if abs(weight) < 0.5 else end - difference * (1 - weight)

    def backward(self, grad):
        needs_a, needs_end = self.needs_input_grad
        return (grad * (1 - self.weight) if needs_a else None, grad * self.weight if needs_end else None)

    def backward_graph(self, grad):
        needs_a, needs_end = self.needs_input_grad
        return (grad * (1 - self.weight) if needs_a else None, grad * self.weight if needs_end else None)


class LerpTensor(Function):
    """lerp with a tensor ``weight`` (a third input)."""

    op = "lerp"

    def forward(self, a, end, weight):
        self.a, self.end, self.weight = a, end, weight
        return _lerp(backend.namespace_of(a), a, end, weight)

    def backward(self, grad):
        needs_a, needs_end, needs_weight = self.needs_input_grad
        return (
            grad * (1 - self.weight) if needs_a else None,
            grad * self.weight if needs_end else None,
            grad * (self.end - self.a) if needs_weight else None,
        )

    def backward_graph(self, grad):
        a, end, weight = self.parents
        needs_a, needs_end, needs_weight = self.needs_input_grad
        return (
            grad * (1 - weight) if needs_a else None,
            grad * weight if needs_end else None,
            grad * (end - a) if needs_weight else None,
        )


# ------------------------------------------------------------------ public functions


def atan2(input: Tensor, other: Tensor) -> Tensor:  # noqa: A002 - PyTorch's names
    """The angle of the point (other, input) elementwise, in (-pi, pi], broadcasting."""
    y, x = _operands(input, other, "atan2")
    if y.dtype.kind != "f":
        y, x = y.to(backend.DEFAULT_FLOAT), x.to(backend.DEFAULT_FLOAT)
    return Atan2.apply(y, x)


def logaddexp(input: Tensor, other: Tensor) -> Tensor:  # noqa: A002
    """log(exp(input) + exp(other)) elementwise, without overflow, broadcasting."""
    a, b = _operands(input, other, "logaddexp")
    require_float(a, "logaddexp")
    return LogAddExp.apply(a, b)


def lerp(input: Tensor, end: Tensor, weight) -> Tensor:  # noqa: A002
    """input + weight * (end - input), broadcasting; ``weight`` a number or a tensor."""
    if not isinstance(input, Tensor) or not isinstance(end, Tensor):
        got = type(end if isinstance(input, Tensor) else input).__name__
        raise TypeError(f"lerp: input and end must be Tensors; got {got}")
    require_float(input, "lerp")
    if end.dtype != input.dtype:
        raise TypeError(f"lerp: expected end of dtype {input.dtype} (the input's); got {end.dtype}")
    if is_python_scalar(weight) and not isinstance(weight, bool):
        return Lerp.apply(input, end, weight=float(weight))
    if not isinstance(weight, Tensor):
        raise TypeError(f"lerp: weight must be a number or a Tensor; got {type(weight).__name__}")
    if weight.dtype != input.dtype:
        if weight.ndim:
            raise TypeError(f"lerp: expected weight of dtype {input.dtype} (the input's); got {weight.dtype}")
        weight = weight.to(input.dtype)  # a 0-d weight follows the input, as in PyTorch
    return LerpTensor.apply(input, end, weight)


def _operands(a, b, op):
    if not isinstance(a, Tensor):
        if not isinstance(b, Tensor):
            raise TypeError(f"{op}: expected at least one Tensor operand")
        a = as_operand(a, b, op)
    b = as_operand(b, a, op)
    if a.dtype != b.dtype:
        a, b = promote_operands(a, b, op)
    return a, b

