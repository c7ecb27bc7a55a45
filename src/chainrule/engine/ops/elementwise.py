"""Elementwise differentiable ops: arithmetic, unary functions, activations.

Binary ops broadcast like NumPy; their backward returns gradients in the broadcast
shape and the engine sums them back to each input's shape (autograd.unbroadcast).
A Python number operand is a parameter of a scalar op (``AddScalar``, ``MulScalar``
…), never a graph node, and takes the tensor's dtype (NumPy's weak-scalar rule).
"""
from __future__ import annotations

import math

from .. import backend
from ..autograd import Function
from ..tensor import Tensor
from ._support import as_operand, check_same_device, is_python_scalar, require_float

# ------------------------------------------------------------------ binary arithmetic

class Add(Function):
    op = "add"

    def forward(self, a, b):
        return a + b

    def backward(self, grad):
        return grad, grad


class Sub(Function):
    op = "sub"

    def forward(self, a, b):
        return a - b

    def backward(self, grad):
        return grad, -grad if self.needs_input_grad[1] else None


class Mul(Function):
    op = "mul"

    def forward(self, a, b):
        self.a, self.b = a, b
        return a * b

    def backward(self, grad):
        needs_a, needs_b = self.needs_input_grad
        return (grad * self.b if needs_a else None, grad * self.a if needs_b else None)


class Div(Function):
    """d(a/b)/da = 1/b, d(a/b)/db = -a/b^2 = -out/b."""

    op = "div"

    def forward(self, a, b):
        self.b = b
        self.out = a / b
        return self.out

    def backward(self, grad):
        needs_a, needs_b = self.needs_input_grad
        grad_a = grad / self.b if needs_a else None
        grad_b = -grad * self.out / self.b if needs_b else None
        return grad_a, grad_b


class Pow(Function):
    """d(a^b)/da = b a^(b-1); d(a^b)/db = a^b log a, taken as 0 where a <= 0
    (a^b is not differentiable in b there over the reals)."""

    op = "pow"

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


class Maximum(Function):
    """Elementwise max; at ties the gradient is split evenly (as PyTorch does)."""

    op = "maximum"

    def forward(self, a, b):
        self.a, self.b = a, b
        return backend.namespace_of(a).maximum(a, b)

    def backward(self, grad):
        return _split_ties(grad, self.a > self.b, self.a == self.b, self.needs_input_grad)


class Minimum(Function):
    """Elementwise min; at ties the gradient is split evenly (as PyTorch does)."""

    op = "minimum"

    def forward(self, a, b):
        self.a, self.b = a, b
        return backend.namespace_of(a).minimum(a, b)

    def backward(self, grad):
        return _split_ties(grad, self.a < self.b, self.a == self.b, self.needs_input_grad)


def _split_ties(grad, a_wins, tie, needs):
    share_a = a_wins + 0.5 * tie
    grad_a = grad * share_a if needs[0] else None
    grad_b = grad * (1 - share_a) if needs[1] else None
    return grad_a, grad_b


# ------------------------------------------------------------------ scalar arithmetic

class AddScalar(Function):
    op = "add"

    def forward(self, a, c):
        return a + c

    def backward(self, grad):
        return (grad,)


class RSubScalar(Function):
    """c - a."""

    op = "rsub"

    def forward(self, a, c):
        return c - a

    def backward(self, grad):
        return (-grad,)


class MulScalar(Function):
    op = "mul"

    def forward(self, a, c):
        self.c = c
        return a * c

    def backward(self, grad):
        return (grad * self.c,)


class DivScalar(Function):
    """a / c."""

    op = "div"

    def forward(self, a, c):
        self.c = c
        return a / c

    def backward(self, grad):
        return (grad / self.c,)


class RDivScalar(Function):
    """c / a; the derivative is -c/a^2 = -out/a."""

    op = "rdiv"

    def forward(self, a, c):
        self.a = a
        self.out = c / a
        return self.out

    def backward(self, grad):
        return (-grad * self.out / self.a,)


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


class RPowScalar(Function):
    """c ** a; the derivative is c^a log c."""

    op = "rpow"

    def forward(self, a, c):
        self.c = c
        self.out = c ** a
        return self.out

    def backward(self, grad):
        return (grad * self.out * math.log(self.c) if self.c > 0 else grad * 0,)


# ------------------------------------------------------------------ unary functions

class Neg(Function):
    op = "neg"

    def forward(self, a):
        return -a

    def backward(self, grad):
        return (-grad,)


class Exp(Function):
    op = "exp"

    def forward(self, a):
        self.out = backend.namespace_of(a).exp(a)
        return self.out

    def backward(self, grad):
        return (grad * self.out,)


class Log(Function):
    op = "log"

    def forward(self, a):
        self.a = a
        return backend.namespace_of(a).log(a)

    def backward(self, grad):
        return (grad / self.a,)


class Log1p(Function):
    op = "log1p"

    def forward(self, a):
        self.a = a
        return backend.namespace_of(a).log1p(a)

    def backward(self, grad):
        return (grad / (1 + self.a),)


class Sqrt(Function):
    op = "sqrt"

    def forward(self, a):
        self.out = backend.namespace_of(a).sqrt(a)
        return self.out

    def backward(self, grad):
        return (grad / (2 * self.out),)


class Abs(Function):
    """|a|; the gradient at 0 is taken as 0 (the subgradient PyTorch uses)."""

    op = "abs"

    def forward(self, a):
        self.a = a
        return backend.namespace_of(a).abs(a)

    def backward(self, grad):
        return (grad * backend.namespace_of(self.a).sign(self.a),)


class Sin(Function):
    op = "sin"

    def forward(self, a):
        self.a = a
        return backend.namespace_of(a).sin(a)

    def backward(self, grad):
        return (grad * backend.namespace_of(self.a).cos(self.a),)


class Cos(Function):
    op = "cos"

    def forward(self, a):
        self.a = a
        return backend.namespace_of(a).cos(a)

    def backward(self, grad):
        return (-grad * backend.namespace_of(self.a).sin(self.a),)


class Tanh(Function):
    """tanh; the derivative is 1 - tanh^2."""

    op = "tanh"

    def forward(self, a):
        self.out = backend.namespace_of(a).tanh(a)
        return self.out

    def backward(self, grad):
        return (grad * (1 - self.out * self.out),)


class Sigmoid(Function):
    """sigma(a) = 1 / (1 + e^-a), computed without overflow; sigma' = sigma (1 - sigma)."""

    op = "sigmoid"

    def forward(self, a):
        self.out = backend.expit(a)
        return self.out

    def backward(self, grad):
        return (grad * self.out * (1 - self.out),)


class ReLU(Function):
    """max(a, 0); the gradient at 0 is taken as 0.

    Backward multiplies by the mask (a > 0) rather than calling ``where``: on the
    CPU that is about ten times faster, and the hot path of every ReLU network.
    """

    op = "relu"

    def forward(self, a):
        self.out = backend.namespace_of(a).maximum(a, 0)
        return self.out

    def backward(self, grad):
        return (grad * (self.out > 0),)


class LeakyReLU(Function):
    """a for a > 0, slope * a otherwise; the derivative is 1 or slope."""

    op = "leaky_relu"

    def forward(self, a, slope):
        self.a, self.slope = a, slope
        return backend.namespace_of(a).where(a > 0, a, a * slope)

    def backward(self, grad):
        derivative = (self.a > 0).astype(grad.dtype) * (1 - self.slope) + self.slope
        return (grad * derivative,)


class GELU(Function):
    """GELU(a) = a Phi(a) with Phi the standard normal CDF (Hendrycks & Gimpel 2016).

    ``approximate="none"``: Phi(a) = (1 + erf(a / sqrt 2)) / 2, derivative Phi(a) + a phi(a).
    ``approximate="tanh"``: Phi(a) ~ (1 + tanh(k (a + 0.044715 a^3))) / 2, k = sqrt(2/pi).
    """

    op = "gelu"

    def forward(self, a, approximate):
        xp = backend.namespace_of(a)
        self.a, self.approximate = a, approximate
        if approximate == "tanh":
            self.t = xp.tanh(_GELU_K * (a + 0.044715 * a ** 3))
            return 0.5 * a * (1 + self.t)
        self.cdf = 0.5 * (1 + backend.erf(a * (1 / math.sqrt(2))))
        return a * self.cdf

    def backward(self, grad):
        a = self.a
        xp = backend.namespace_of(a)
        if self.approximate == "tanh":
            t = self.t
            inner = _GELU_K * (1 + 3 * 0.044715 * a * a)
            return (grad * (0.5 * (1 + t) + 0.5 * a * (1 - t * t) * inner),)
        pdf = xp.exp(-0.5 * a * a) * (1 / math.sqrt(2 * math.pi))
        return (grad * (self.cdf + a * pdf),)


_GELU_K = math.sqrt(2 / math.pi)


class Clamp(Function):
    """Clip to [low, high]; the gradient passes where low <= a <= high, else is 0."""

    op = "clamp"

    def forward(self, a, low, high):
        self.a, self.low, self.high = a, low, high
        return backend.namespace_of(a).clip(a, low, high)

    def backward(self, grad):
        inside = True
        if self.low is not None:
            inside = self.a >= self.low
        if self.high is not None:
            inside = inside & (self.a <= self.high)
        return (grad * inside,)


class Where(Function):
    """cond ? a : b; the gradient goes to a where cond holds and to b elsewhere."""

    op = "where"

    def forward(self, a, b, condition):
        self.condition = condition
        return backend.namespace_of(a).where(condition, a, b)

    def backward(self, grad):
        xp = backend.namespace_of(grad)
        needs_a, needs_b = self.needs_input_grad
        grad_a = xp.where(self.condition, grad, 0) if needs_a else None
        grad_b = xp.where(self.condition, 0, grad) if needs_b else None
        return grad_a, grad_b


class Cast(Function):
    """Change dtype; the gradient is cast back by the engine."""

    op = "cast"

    def forward(self, a, dtype):
        return a.astype(dtype)

    def backward(self, grad):
        return (grad,)


class Clone(Function):
    op = "clone"

    def forward(self, a):
        return a.copy()

    def backward(self, grad):
        return (grad,)


class ToDevice(Function):
    op = "to_device"

    def forward(self, a, device):
        self.source = backend.device_of(a)
        return backend.move(a, device)

    def backward(self, grad):
        return (backend.move(grad, self.source),)


# ------------------------------------------------------------------ public functions

def _binary(tensor_op, scalar_op, reversed_scalar_op, a, b, name):
    """Dispatch a binary op on (Tensor | scalar | array, Tensor | scalar | array)."""
    if isinstance(a, Tensor):
        if isinstance(b, Tensor):
            check_same_device(a, b, name)
            return tensor_op.apply(a, b)
        if is_python_scalar(b) and scalar_op is not None:
            return scalar_op.apply(a, c=b)
        return tensor_op.apply(a, as_operand(b, a, name))
    if not isinstance(b, Tensor):
        raise TypeError(f"{name}: expected at least one Tensor operand")
    if is_python_scalar(a) and reversed_scalar_op is not None:
        return reversed_scalar_op.apply(b, c=a)
    return tensor_op.apply(as_operand(a, b, name), b)


def add(a, b) -> Tensor:
    """a + b, broadcasting."""
    return _binary(Add, AddScalar, AddScalar, a, b, "add")


def sub(a, b) -> Tensor:
    """a - b, broadcasting."""
    if isinstance(a, Tensor) and is_python_scalar(b):
        return AddScalar.apply(a, c=-b)
    return _binary(Sub, None, RSubScalar, a, b, "sub")


def mul(a, b) -> Tensor:
    """a * b, broadcasting."""
    return _binary(Mul, MulScalar, MulScalar, a, b, "mul")


def div(a, b) -> Tensor:
    """a / b (true division), broadcasting."""
    return _binary(Div, DivScalar, RDivScalar, a, b, "div")


def pow(a, b) -> Tensor:  # noqa: A001 - the operator's name
    """a ** b, broadcasting."""
    return _binary(Pow, PowScalar, RPowScalar, a, b, "pow")


def maximum(a, b) -> Tensor:
    """Elementwise maximum of two tensors (ties split the gradient evenly)."""
    return _binary(Maximum, None, None, a, b, "maximum")


def minimum(a, b) -> Tensor:
    """Elementwise minimum of two tensors (ties split the gradient evenly)."""
    return _binary(Minimum, None, None, a, b, "minimum")


def neg(a: Tensor) -> Tensor:
    return Neg.apply(a)


def exp(a: Tensor) -> Tensor:
    return Exp.apply(a)


def log(a: Tensor) -> Tensor:
    """Natural logarithm."""
    return Log.apply(a)


def log1p(a: Tensor) -> Tensor:
    """log(1 + a), accurate for small a."""
    return Log1p.apply(a)


def sqrt(a: Tensor) -> Tensor:
    return Sqrt.apply(a)


def abs(a: Tensor) -> Tensor:  # noqa: A001 - the function's name
    return Abs.apply(a)


def sin(a: Tensor) -> Tensor:
    return Sin.apply(a)


def cos(a: Tensor) -> Tensor:
    return Cos.apply(a)


def tanh(a: Tensor) -> Tensor:
    return Tanh.apply(a)


def sigmoid(a: Tensor) -> Tensor:
    """The logistic function 1 / (1 + exp(-a))."""
    return Sigmoid.apply(a)


def relu(a: Tensor) -> Tensor:
    """max(a, 0)."""
    return ReLU.apply(a)


def leaky_relu(a: Tensor, negative_slope: float = 0.01) -> Tensor:
    """a for a > 0, negative_slope * a otherwise."""
    if not is_python_scalar(negative_slope):
        raise TypeError(f"leaky_relu: negative_slope must be a number; got {type(negative_slope).__name__}")
    return LeakyReLU.apply(a, slope=negative_slope)


def gelu(a: Tensor, approximate: str = "none") -> Tensor:
    """Gaussian error linear unit a Phi(a); ``approximate="tanh"`` for the tanh form."""
    if approximate not in ("none", "tanh"):
        raise ValueError(f"gelu: approximate must be 'none' or 'tanh'; got {approximate!r}")
    require_float(a, "gelu")
    return GELU.apply(a, approximate=approximate)


def clamp(a: Tensor, min=None, max=None) -> Tensor:  # noqa: A002 - PyTorch's names
    """Clip values to [min, max]; either bound may be None."""
    if min is None and max is None:
        raise ValueError("clamp: at least one of min and max must be given")
    for name, bound in (("min", min), ("max", max)):
        if bound is not None and not is_python_scalar(bound):
            raise TypeError(f"clamp: {name} must be a number or None; got {type(bound).__name__}")
    return Clamp.apply(a, low=min, high=max)


clip = clamp


def where(condition, a, b) -> Tensor:
    """Elementwise ``a`` where ``condition`` holds, else ``b`` (all three broadcast)."""
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
