"""Elementwise functions of one tensor: exp, log, log1p, sqrt, abs, sin, cos, erf, clamp.

Each backward multiplies the upstream gradient G by the function's derivative at the
input: d exp(a) = G exp(a), d log(a) = G / a, d sqrt(a) = G / (2 sqrt(a)), d |a| = G sign(a)
(0 at 0), d clamp(a) = G where the input lies inside the bounds.
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
