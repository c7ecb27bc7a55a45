"""Arithmetic: + - * / ** with broadcasting, maximum and minimum, negation.

Binary ops broadcast like NumPy; their backward returns gradients in the broadcast
shape and the engine sums them back to each input's shape (autograd.unbroadcast).
A Python number operand is a parameter of a scalar op (``AddScalar``, ``MulScalar``
…), never a graph node. The result dtype follows PyTorch's promotion rule, not NumPy's
(:mod:`~chainrule.engine.ops.arguments` states it): a float32 tensor with a Python float,
a NumPy float64 scalar or a 0-d float64 tensor stays float32; an integer tensor with a
float scalar is float32; true division of integers is float32. Operands of different
dtypes are cast to the result dtype (differentiably) before the op runs.
For c = a * b and upstream gradient G: da = G b, db = G a; the rest follow the same
pattern (each class's backward is its derivative times G).
"""
from __future__ import annotations

import math

from .. import backend, recycled
from ..autograd import Function
from ..tensor import Tensor, wrap
from . import copies
from .arguments import SCALAR_TYPES, as_operand, check_same_device, promote_operands, python_scalar, result_type


class Add(Function):
    """a + b; a large host result comes from :mod:`~chainrule.engine.recycled` (the residual
    sums of a network: no page faults step after step)."""

    op = "add"
    saves_inputs = False

    def forward(self, a, b):
        return recycled.add(a, b)

    def backward(self, grad):
        return grad, grad

    def backward_graph(self, grad):
        return grad, grad


class Sub(Function):
    op = "sub"
    saves_inputs = False

    def forward(self, a, b):
        return a - b

    def backward(self, grad):
        return grad, -grad if self.needs_input_grad[1] else None

    def backward_graph(self, grad):
        return grad, -grad if self.needs_input_grad[1] else None


class Mul(Function):
    op = "mul"

    def forward(self, a, b):
        self.a, self.b = a, b
        return a * b

    def backward(self, grad):
        needs_a, needs_b = self.needs_input_grad
        return (grad * self.b if needs_a else None, grad * self.a if needs_b else None)

    def backward_graph(self, grad):
        a, b = self.parents
        needs_a, needs_b = self.needs_input_grad
        return (grad * b if needs_a else None, grad * a if needs_b else None)


class Div(Function):
    """d(a/b)/da = 1/b, d(a/b)/db = -a/b^2 = -out/b."""

    op = "div"
    saves_output = True

    def forward(self, a, b):
        self.b = b
        self.out = a / b
        return self.out

    def backward(self, grad):
        needs_a, needs_b = self.needs_input_grad
        grad_a = grad / self.b if needs_a else None
        grad_b = -grad * self.out / self.b if needs_b else None
        return grad_a, grad_b

    def backward_graph(self, grad):
        a, b = self.parents
        needs_a, needs_b = self.needs_input_grad
        return (grad / b if needs_a else None, -grad * a / (b * b) if needs_b else None)


class Pow(Function):
    """d(a^b)/da = b a^(b-1); d(a^b)/db = a^b log a, taken as 0 where a <= 0
    (a^b is not differentiable in b there over the reals)."""

    op = "pow"
    saves_output = True

    def forward(self, a, b):
        self.a, self.b = a, b
        self.out = a ** b
        return self.out

    def backward(self, grad):
        a, b = self.a, self.b
        xp = backend.namespace_of(a)
        needs_a, needs_b = self.needs_input_grad
        grad_a = grad * b * a ** (b - 1) if needs_a else None
        grad_b = None
        if needs_b:
            positive = a > 0
            grad_b = grad * self.out * xp.where(positive, xp.log(xp.where(positive, a, 1)), 0)
        return grad_a, grad_b

    def backward_graph(self, grad):
        a, b = self.parents
        needs_a, needs_b = self.needs_input_grad
        grad_a = grad * b * a ** (b - 1) if needs_a else None
        grad_b = None
        if needs_b:
            positive = a.detach() > 0
            safe = copies.where(positive, a, 1.0)
            grad_b = grad * a ** b * copies.where(positive, safe.log(), 0.0)
        return grad_a, grad_b


class Maximum(Function):
    """Elementwise max; at ties the gradient is split evenly (as PyTorch does)."""

    op = "maximum"

    def forward(self, a, b):
        self.a, self.b = a, b
        return backend.namespace_of(a).maximum(a, b)

    def backward(self, grad):
        return _split_ties(grad, self.a > self.b, self.a == self.b, self.needs_input_grad)

    def backward_graph(self, grad):
        a, b = self.parents
        return _split_ties_graph(grad, a.data > b.data, a.data == b.data, self.needs_input_grad)


class Minimum(Function):
    """Elementwise min; at ties the gradient is split evenly (as PyTorch does)."""

    op = "minimum"

    def forward(self, a, b):
        self.a, self.b = a, b
        return backend.namespace_of(a).minimum(a, b)

    def backward(self, grad):
        return _split_ties(grad, self.a < self.b, self.a == self.b, self.needs_input_grad)

    def backward_graph(self, grad):
        a, b = self.parents
        return _split_ties_graph(grad, a.data < b.data, a.data == b.data, self.needs_input_grad)


def _split_ties_graph(grad, a_wins, tie, needs):
    """:func:`_split_ties` on Tensors: the shares are constants (they do not depend on a, b
    away from ties)."""
    share_a = wrap(a_wins + 0.5 * tie).to(grad.dtype)
    grad_a = grad * share_a if needs[0] else None
    grad_b = grad * (1 - share_a) if needs[1] else None
    return grad_a, grad_b


def _split_ties(grad, a_wins, tie, needs):
    share_a = a_wins + 0.5 * tie
    grad_a = grad * share_a if needs[0] else None
    grad_b = grad * (1 - share_a) if needs[1] else None
    return grad_a, grad_b


class AddScalar(Function):
    op = "add"
    saves_inputs = False

    def forward(self, a, c):
        return a + c

    def backward(self, grad):
        return (grad,)

    def backward_graph(self, grad):
        return (grad,)


class RSubScalar(Function):
    """c - a."""

    op = "rsub"
    saves_inputs = False

    def forward(self, a, c):
        return c - a

    def backward(self, grad):
        return (-grad,)

    def backward_graph(self, grad):
        return (-grad,)


class MulScalar(Function):
    op = "mul"
    saves_inputs = False

    def forward(self, a, c):
        self.c = c
        return a * c

    def backward(self, grad):
        return (grad * self.c,)

    def backward_graph(self, grad):
        return (grad * self.c,)


class DivScalar(Function):
    """a / c."""

    op = "div"
    saves_inputs = False

    def forward(self, a, c):
        self.c = c
        return a / c

    def backward(self, grad):
        return (grad / self.c,)

    def backward_graph(self, grad):
        return (grad / self.c,)


class RDivScalar(Function):
    """c / a; the derivative is -c/a^2 = -out/a."""

    op = "rdiv"
    saves_output = True

    def forward(self, a, c):
        self.a, self.c = a, c
        self.out = c / a
        return self.out

    def backward(self, grad):
        return (-grad * self.out / self.a,)

    def backward_graph(self, grad):
        a = self.parents[0]
        return (-grad * self.c / (a * a),)


class PowScalar(Function):
    """a ** c; the derivative is c a^(c-1)."""

    op = "pow"

    def forward(self, a, c):
        self.a, self.c = a, c
        return a ** c

    def backward(self, grad):
        c = self.c
        if c == 0:
            return (grad * 0,)
        if c == 2:
            return (grad * 2 * self.a,)
        return (grad * c * self.a ** (c - 1),)

    def backward_graph(self, grad):
        a, c = self.parents[0], self.c
        if c == 0:
            return (grad * 0,)
        return (grad * c * a ** (c - 1),)


class RPowScalar(Function):
    """c ** a; the derivative is c^a log c."""

    op = "rpow"
    saves_inputs = False
    saves_output = True

    def forward(self, a, c):
        self.c = c
        self.out = c ** a
        return self.out

    def backward(self, grad):
        return (grad * self.out * math.log(self.c) if self.c > 0 else grad * 0,)

    def backward_graph(self, grad):
        a, c = self.parents[0], self.c
        return (grad * (c ** a) * math.log(c) if c > 0 else grad * 0,)


class Neg(Function):
    op = "neg"
    saves_inputs = False

    def forward(self, a):
        return -a

    def backward(self, grad):
        return (-grad,)

    def backward_graph(self, grad):
        return (-grad,)


# ------------------------------------------------------------------ public functions

_HOST_ARRAY = backend.host.ndarray
_BOOLS = (bool, backend.host.bool_)


def _binary(tensor_op, scalar_op, reversed_scalar_op, a, b, name):
    """Dispatch a binary op on (Tensor | scalar | array, Tensor | scalar | array), with
    PyTorch's type promotion (:func:`~chainrule.engine.ops.arguments.result_type`)."""
    if isinstance(a, Tensor):
        if isinstance(b, Tensor):
            a_data, b_data = a.data, b.data
            if a_data.dtype is not b_data.dtype:
                a, b = promote_operands(a, b, name)
            elif a_data.__class__ is not _HOST_ARRAY or b_data.__class__ is not _HOST_ARRAY:
                check_same_device(a, b, name)
            return tensor_op.apply(a, b)
        if scalar_op is not None:
            scalar = b if b.__class__ in SCALAR_TYPES else python_scalar(b)
            if scalar is not None:
                if scalar.__class__ is float and a.data.dtype.kind != "f":  # float scalar, integer tensor: float32
                    a = copies.cast(a, backend.DEFAULT_FLOAT)
                return scalar_op.apply(a, c=scalar)
        return _binary(tensor_op, scalar_op, reversed_scalar_op, a, as_operand(b, a, name), name)
    if not isinstance(b, Tensor):
        raise TypeError(f"{name}: expected at least one Tensor operand")
    scalar = python_scalar(a)
    if scalar is not None and reversed_scalar_op is not None:
        if b.data.dtype.kind != "f" and isinstance(scalar, float):
            b = copies.cast(b, backend.DEFAULT_FLOAT)
        return reversed_scalar_op.apply(b, c=scalar)
    return _binary(tensor_op, scalar_op, reversed_scalar_op, as_operand(a, b, name), b, name)


def add(a, b) -> Tensor:
    """a + b, broadcasting."""
    return _binary(Add, AddScalar, AddScalar, a, b, "add")


def sub(a, b) -> Tensor:
    """a - b, broadcasting. As in PyTorch, a bool operand (tensor or number) is refused: use
    ``~`` / ``logical_not`` to invert a mask, ``^`` / ``logical_xor`` for two masks."""
    scalar = b if b.__class__ in SCALAR_TYPES else None if isinstance(b, Tensor) else python_scalar(b)
    if scalar is not None and isinstance(a, Tensor):  # a - c is a + (-c)
        if a.data.dtype.kind != "f":
            _refuse_bool_subtraction(a, scalar)
            if scalar.__class__ is float:
                a = copies.cast(a, backend.DEFAULT_FLOAT)
        elif scalar.__class__ is bool:
            _refuse_bool_subtraction(a, scalar)
        return AddScalar.apply(a, c=-scalar)
    if isinstance(a, Tensor):
        if not isinstance(b, Tensor) or a.data.dtype is not b.data.dtype:  # (one dtype: NumPy refuses bool)
            _refuse_bool_subtraction(a, b)
    elif isinstance(b, Tensor) and (b.data.dtype.kind == "b" or isinstance(a, _BOOLS)):
        _refuse_bool_subtraction(a, b)
    return _binary(Sub, None, RSubScalar, a, b, "sub")


def _refuse_bool_subtraction(a, b) -> None:
    for operand in (a, b):
        value = python_scalar(operand)
        if isinstance(value, bool) or (isinstance(operand, Tensor) and operand.dtype.kind == "b"):
            raise TypeError(
                "sub: subtraction with a bool operand is not supported, as in PyTorch; to invert a mask "
                "use ~ or logical_not(), for two masks use ^ or logical_xor()"
            )


def mul(a, b) -> Tensor:
    """a * b, broadcasting."""
    return _binary(Mul, MulScalar, MulScalar, a, b, "mul")


def div(a, b) -> Tensor:
    """a / b (true division), broadcasting; integer and bool operands give float32 (PyTorch's
    default float dtype), as ``torch.div`` does."""
    if isinstance(a, Tensor) and isinstance(b, Tensor):
        a_data, b_data = a.data, b.data
        if a_data.dtype is b_data.dtype and a_data.__class__ is _HOST_ARRAY and b_data.__class__ is _HOST_ARRAY:
            if a_data.dtype.kind == "f":  # the common case: two float arrays of one dtype on the CPU
                return Div.apply(a, b)
    if (isinstance(a, Tensor) and a.data.dtype.kind != "f") or (isinstance(b, Tensor) and b.data.dtype.kind != "f"):
        a, b = _true_division_operands(a, b)
    return _binary(Div, DivScalar, RDivScalar, a, b, "div")


def _true_division_operands(a, b):
    """The operands of a true division, promoted; integer and bool ones as float32."""
    like = a if isinstance(a, Tensor) else b
    if not isinstance(like, Tensor):
        raise TypeError("div: expected at least one Tensor operand")
    a, b = as_operand(a, like, "div"), as_operand(b, like, "div")
    target = result_type(a, b)
    if target.kind != "f":
        target = backend.DEFAULT_FLOAT
    return copies.cast(a, target), copies.cast(b, target)


def pow(a, b) -> Tensor:  # noqa: A001 - the operator's name
    """a ** b, broadcasting."""
    out = _binary(Pow, PowScalar, RPowScalar, a, b, "pow")
    if out.data.dtype.itemsize == 1 and out.data.dtype.kind == "i":  # NumPy's bool ** bool is int8; PyTorch's bool
        return wrap(out.data.astype(backend.bool_))
    return out


def maximum(a, b) -> Tensor:
    """Elementwise maximum of two tensors (ties split the gradient evenly)."""
    return _binary(Maximum, None, None, a, b, "maximum")


def minimum(a, b) -> Tensor:
    """Elementwise minimum of two tensors (ties split the gradient evenly)."""
    return _binary(Minimum, None, None, a, b, "minimum")


def neg(a: Tensor) -> Tensor:
    return Neg.apply(a)
