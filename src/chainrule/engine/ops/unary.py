"""Elementwise functions of one tensor: exp, log, log1p, sqrt, abs, sin, cos, clamp.

Each backward multiplies the upstream gradient G by the function's derivative at the
input: d exp(a) = G exp(a), d log(a) = G / a, d sqrt(a) = G / (2 sqrt(a)), d |a| = G sign(a)
(0 at 0), d clamp(a) = G where the input lies inside the bounds.
"""
from __future__ import annotations

from .. import backend
from ..autograd import Function
from ..tensor import Tensor
from .arguments import is_python_scalar


class Exp(Function):
    op = "exp"
    saves_inputs = False
    saves_output = True

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
    saves_inputs = False
    saves_output = True

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
