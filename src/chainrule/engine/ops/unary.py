"""Elementwise functions of one tensor: exp, expm1, log, log1p, sqrt, abs, sin, cos, erf,
clamp, and the piecewise-constant sign, floor, ceil, round, trunc.

Each backward multiplies the upstream gradient G by the function's derivative at the
input: d exp(a) = G exp(a), d expm1(a) = G exp(a) = G (expm1(a) + 1), d log(a) = G / a,
d sqrt(a) = G / (2 sqrt(a)), d |a| = G sign(a) (0 at 0), d clamp(a) = G where the input lies
inside the bounds. sign, floor, ceil, round and trunc are constant between their jumps:
their gradient is 0 everywhere (PyTorch's convention, also at the jumps). On integer
tensors floor, ceil, round and trunc return the values unchanged and sign keeps the dtype;
expm1 of an integer tensor is float32 (PyTorch's default float dtype).
round(a, decimals=d) is PyTorch's: rint(a * 10^d) / 10^d, and rint(a / 10^-d) * 10^-d for
d < 0 (halves to even).
"""
from __future__ import annotations

import math

from .. import backend
from ..autograd import Function
from ..tensor import Tensor, wrap
from .arguments import is_python_scalar, require_float


class Exp(Function):
    op = "exp"
    saves_inputs = False
    saves_output = True

    def forward(self, a):
        self.out = backend.namespace_of(a).exp(a)
        return self.out

    def backward(self, grad):
        return (grad * self.out,)

    def backward_graph(self, grad):
        return (grad * self.parents[0].exp(),)


class Log(Function):
    op = "log"

    def forward(self, a):
        self.a = a
        return backend.namespace_of(a).log(a)

    def backward(self, grad):
        return (grad / self.a,)

    def backward_graph(self, grad):
        return (grad / self.parents[0],)


class Log1p(Function):
    op = "log1p"

    def forward(self, a):
        self.a = a
        return backend.namespace_of(a).log1p(a)

    def backward(self, grad):
        return (grad / (1 + self.a),)

    def backward_graph(self, grad):
        return (grad / (1 + self.parents[0]),)


class Sqrt(Function):
    op = "sqrt"
    saves_inputs = False
    saves_output = True

    def forward(self, a):
        self.out = backend.namespace_of(a).sqrt(a)
        return self.out

    def backward(self, grad):
        return (grad / (2 * self.out),)

    def backward_graph(self, grad):
        return (grad / (2 * self.parents[0].sqrt()),)


class Abs(Function):
    """|a|; the gradient at 0 is taken as 0 (the subgradient PyTorch uses)."""

    op = "abs"

    def forward(self, a):
        self.a = a
        return backend.namespace_of(a).abs(a)

    def backward(self, grad):
        return (grad * backend.namespace_of(self.a).sign(self.a),)

    def backward_graph(self, grad):
        a = self.parents[0]
        return (grad * wrap(backend.namespace_of(a.data).sign(a.data)),)


class Sin(Function):
    op = "sin"

    def forward(self, a):
        self.a = a
        return backend.namespace_of(a).sin(a)

    def backward(self, grad):
        return (grad * backend.namespace_of(self.a).cos(self.a),)

    def backward_graph(self, grad):
        return (grad * self.parents[0].cos(),)


class Cos(Function):
    op = "cos"

    def forward(self, a):
        self.a = a
        return backend.namespace_of(a).cos(a)

    def backward(self, grad):
        return (-grad * backend.namespace_of(self.a).sin(self.a),)

    def backward_graph(self, grad):
        return (-grad * self.parents[0].sin(),)


class Erf(Function):
    """erf(a) = (2 / sqrt(pi)) int_0^a e^{-t^2} dt; the derivative is (2 / sqrt(pi)) e^{-a^2}."""

    op = "erf"

    def forward(self, a):
        self.a = a
        return backend.erf(a)

    def backward(self, grad):
        xp = backend.namespace_of(grad)
        return (grad * (2 / math.sqrt(math.pi)) * xp.exp(-self.a * self.a),)

    def backward_graph(self, grad):
        a = self.parents[0]
        return (grad * (2 / math.sqrt(math.pi)) * (-a * a).exp(),)


class Expm1(Function):
    """e^a - 1, accurate for small a; the derivative is e^a = out + 1."""

    op = "expm1"
    saves_inputs = False
    saves_output = True

    def forward(self, a):
        self.out = backend.namespace_of(a).expm1(a)
        return self.out

    def backward(self, grad):
        return (grad * (self.out + 1),)

    def backward_graph(self, grad):
        return (grad * self.parents[0].exp(),)


class PiecewiseConstant(Function):
    """Base of sign, floor, ceil, round and trunc: the gradient is 0 everywhere."""

    saves_inputs = False

    def backward(self, grad):
        return (backend.namespace_of(grad).zeros_like(grad),)

    def backward_graph(self, grad):
        return (wrap(backend.namespace_of(grad.data).zeros_like(grad.data)),)


class Sign(PiecewiseConstant):
    """-1, 0 or 1; 0 for NaN (as PyTorch)."""

    op = "sign"

    def forward(self, a):
        return (a > 0).astype(a.dtype) - (a < 0).astype(a.dtype)


class Floor(PiecewiseConstant):
    op = "floor"

    def forward(self, a):
        return backend.namespace_of(a).floor(a)


class Ceil(PiecewiseConstant):
    op = "ceil"

    def forward(self, a):
        return backend.namespace_of(a).ceil(a)


class Trunc(PiecewiseConstant):
    op = "trunc"

    def forward(self, a):
        return backend.namespace_of(a).trunc(a)


class Round(PiecewiseConstant):
    op = "round"

    def forward(self, a, decimals):
        xp = backend.namespace_of(a)
        if decimals == 0:
            return xp.rint(a)
        scale = a.dtype.type(10.0 ** (decimals if decimals > 0 else -decimals))  # (abs is this module's op)
        return xp.rint(a * scale) / scale if decimals > 0 else xp.rint(a / scale) * scale


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

    def backward_graph(self, grad):
        a = self.parents[0].data
        inside = backend.namespace_of(a).ones(a.shape, dtype=bool)
        if self.low is not None:
            inside = a >= self.low
        if self.high is not None:
            inside = inside & (a <= self.high)
        return (grad * wrap(inside.astype(a.dtype)),)


# ------------------------------------------------------------------ public functions


def exp(a: Tensor) -> Tensor:
    return Exp.apply(a)


def expm1(input: Tensor) -> Tensor:  # noqa: A002 - PyTorch's name
    """e^input - 1, accurate near 0; integer tensors give float32."""
    return Expm1.apply(_as_float(input, "expm1"))


def sign(input: Tensor) -> Tensor:  # noqa: A002
    """-1, 0 or 1 elementwise (0 for NaN; a bool tensor is returned as a copy); zero gradient."""
    _check_tensor(input, "sign")
    if input.dtype.kind == "b":
        return wrap(input.data.copy())
    return Sign.apply(input)


def floor(input: Tensor) -> Tensor:  # noqa: A002
    """The largest integer <= input, elementwise; zero gradient."""
    return _rounding(Floor, input)


def ceil(input: Tensor) -> Tensor:  # noqa: A002
    """The smallest integer >= input, elementwise; zero gradient."""
    return _rounding(Ceil, input)


def trunc(input: Tensor) -> Tensor:  # noqa: A002
    """input rounded toward zero, elementwise; zero gradient."""
    return _rounding(Trunc, input)


def round(input: Tensor, *, decimals: int = 0) -> Tensor:  # noqa: A001, A002
    """input rounded to ``decimals`` decimal places, halves to even; zero gradient."""
    if isinstance(decimals, bool) or not isinstance(decimals, int):
        raise TypeError(f"round: decimals must be an int; got {decimals!r}")
    _check_tensor(input, "round")
    if decimals and input.dtype.kind != "f":
        raise TypeError(f"round: decimals needs a floating-point tensor; got dtype {input.dtype}")
    return _rounding(Round, input, decimals=decimals)


def _rounding(cls, a, **params) -> Tensor:
    _check_tensor(a, cls.op)
    if a.dtype.kind == "b":
        raise TypeError(f"{cls.op}: not defined for bool tensors")
    if a.dtype.kind != "f":
        return wrap(a.data.copy())
    return cls.apply(a, **params)


def _check_tensor(a, op: str) -> None:
    if not isinstance(a, Tensor):
        raise TypeError(f"{op}: expected a Tensor as input; got {type(a).__name__}")


def _as_float(a, op: str) -> Tensor:
    """``a``, or a float32 copy of an integer or bool tensor (PyTorch's integer-to-float rule)."""
    _check_tensor(a, op)
    return a if a.dtype.kind == "f" else a.to(backend.DEFAULT_FLOAT)


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


def erf(a: Tensor) -> Tensor:
    """The error function (2 / sqrt(pi)) int_0^a e^{-t^2} dt, elementwise."""
    require_float(a, "erf")
    return Erf.apply(a)


def sin(a: Tensor) -> Tensor:
    return Sin.apply(a)


def cos(a: Tensor) -> Tensor:
    return Cos.apply(a)


def clamp(a: Tensor, min=None, max=None) -> Tensor:  # noqa: A002 - PyTorch's names
    """Clip values to [min, max]; either bound may be None."""
    if min is None and max is None:
        raise ValueError("clamp: at least one of min and max must be given")
    for name, bound in (("min", min), ("max", max)):
        if bound is not None and not is_python_scalar(bound):
            raise TypeError(f"clamp: {name} must be a number or None; got {type(bound).__name__}")
    return Clamp.apply(a, low=min, high=max)


clip = clamp
