"""Ops that select or copy values without arithmetic: where, cast, clone, to_device.

where(c, a, b) passes G to a where c holds and to b elsewhere; cast, clone and to_device
pass G through (converted back to the input's dtype or device).
"""
from __future__ import annotations

from .. import backend
from ..autograd import Function
from ..tensor import Tensor, wrap
from .arguments import as_operand, check_same_device, promote_operands


class Where(Function):
    """cond ? a : b; the gradient goes to a where cond holds and to b elsewhere."""

    op = "where"
    saves_inputs = False

    def forward(self, a, b, condition):
        self.condition = condition
        return backend.namespace_of(a).where(condition, a, b)

    def backward(self, grad):
        xp = backend.namespace_of(grad)
        needs_a, needs_b = self.needs_input_grad
        grad_a = xp.where(self.condition, grad, 0) if needs_a else None
        grad_b = xp.where(self.condition, 0, grad) if needs_b else None
        return grad_a, grad_b

    def backward_graph(self, grad):
        condition = wrap(self.condition)
        needs_a, needs_b = self.needs_input_grad
        grad_a = where(condition, grad, 0.0) if needs_a else None
        grad_b = where(condition, 0.0, grad) if needs_b else None
        return grad_a, grad_b


class Cast(Function):
    """Change dtype; the gradient is cast back by the engine."""

    op = "cast"
    saves_inputs = False

    def forward(self, a, dtype):
        return a.astype(dtype)

    def backward(self, grad):
        return (grad,)

    def backward_graph(self, grad):
        return (grad,)


class Clone(Function):
    op = "clone"
    saves_inputs = False

    def forward(self, a):
        return a.copy()

    def backward(self, grad):
        return (grad,)

    def backward_graph(self, grad):
        return (grad,)


class ToDevice(Function):
    op = "to_device"
    saves_inputs = False

    def forward(self, a, device):
        self.source = backend.device_of(a)
        return backend.move(a, device)

    def backward(self, grad):
        return (backend.move(grad, self.source),)

    def backward_graph(self, grad):
        return (to_device(grad, self.source),)


# ------------------------------------------------------------------ public functions


def where(condition, a, b) -> Tensor:
    """Elementwise ``a`` where ``condition`` holds, else ``b`` (all three broadcast; ``a`` and
    ``b`` promoted by PyTorch's rule, see :mod:`~chainrule.engine.ops.arguments`)."""
    if not isinstance(condition, Tensor):
        raise TypeError(f"where: condition must be a bool Tensor; got {type(condition).__name__}")
    if condition.dtype != backend.bool_:
        raise TypeError(f"where: condition must have dtype bool; got {condition.dtype}")
    like = a if isinstance(a, Tensor) else b
    if not isinstance(like, Tensor):
        raise TypeError("where: at least one of a and b must be a Tensor")
    a = as_operand(a, like, "where")
    b = as_operand(b, like, "where")
    check_same_device(a, condition, "where")
    if a.dtype != b.dtype:  # PyTorch's promotion: torch.where(c, float32 tensor, 0-d float64) is float32
        a, b = promote_operands(a, b, "where")
    check_same_device(a, b, "where")
    return Where.apply(a, b, condition=condition.data)


def cast(a: Tensor, dtype) -> Tensor:
    """Convert to ``dtype`` (returns ``a`` itself when it already has it)."""
    if a.dtype == dtype:
        return a
    return Cast.apply(a, dtype=dtype)


def clone(a: Tensor) -> Tensor:
    """A copy with its own memory; gradients flow through it."""
    return Clone.apply(a)


def to_device(a: Tensor, device: str) -> Tensor:
    """Move to ``device`` (returns ``a`` itself when it is already there)."""
    if a.device == device:
        return a
    return ToDevice.apply(a, device=device)
