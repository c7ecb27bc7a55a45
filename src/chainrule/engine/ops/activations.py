"""Activations: ReLU, leaky ReLU, sigmoid, tanh, GELU, softmax and log-softmax.

ReLU(a) = max(a, 0), gradient G [a > 0] (0 at a = 0, as PyTorch).
sigmoid(a) = 1 / (1 + e^{-a}), gradient G s (1 - s); tanh: G (1 - t^2).
Ops that fuse several steps into one node for speed and numerical stability.

softmax(a)_i = exp(a_i - m) / sum_j exp(a_j - m) with m = max_j a_j (subtracting m
changes nothing mathematically and keeps exp from overflowing).
log_softmax(a) = a - logsumexp(a), never log(softmax(a)), which underflows to -inf.

Backward (s = softmax(a), G the upstream gradient, sums over the softmax dim):
    softmax:      dL/da = s * (G - sum(G * s))
    log_softmax:  dL/da = G - s * sum(G)
"""
from __future__ import annotations

import math

from .. import backend
from ..autograd import Function
from ..tensor import Tensor, wrap
from . import unary
from .arguments import is_python_scalar, normalize_dim, require_float
from .reduce import logsumexp_keepdims


class ReLU(Function):
    """max(a, 0); the gradient at 0 is taken as 0.

    Backward multiplies by the mask (a > 0) rather than calling ``where``: on the
    CPU that is about ten times faster, and the hot path of every ReLU network.
    """

    op = "relu"
    saves_inputs = False
    saves_output = True

    def forward(self, a):
        self.out = backend.namespace_of(a).maximum(a, 0)
        return self.out

    def backward(self, grad):
        return (grad * (self.out > 0),)

    def backward_graph(self, grad):
        a = self.parents[0].data
        return (grad * wrap((a > 0).astype(a.dtype)),)


class LeakyReLU(Function):
    """a for a > 0, slope * a otherwise; the derivative is 1 or slope."""

    op = "leaky_relu"

    def forward(self, a, slope):
        self.a, self.slope = a, slope
        return backend.namespace_of(a).where(a > 0, a, a * slope)

    def backward(self, grad):
        derivative = (self.a > 0).astype(grad.dtype) * (1 - self.slope) + self.slope
        return (grad * derivative,)

    def backward_graph(self, grad):
        a = self.parents[0].data
        return (grad * wrap((a > 0).astype(a.dtype) * (1 - self.slope) + self.slope),)


class Sigmoid(Function):
    """sigma(a) = 1 / (1 + e^-a), computed without overflow; sigma' = sigma (1 - sigma)."""

    op = "sigmoid"
    saves_inputs = False
    saves_output = True

    def forward(self, a):
        self.out = backend.expit(a)
        return self.out

    def backward(self, grad):
        return (grad * self.out * (1 - self.out),)

    def backward_graph(self, grad):
        s = self.parents[0].sigmoid()
        return (grad * s * (1 - s),)


class Tanh(Function):
    """tanh; the derivative is 1 - tanh^2."""

    op = "tanh"
    saves_inputs = False
    saves_output = True

    def forward(self, a):
        self.out = backend.namespace_of(a).tanh(a)
        return self.out

    def backward(self, grad):
        return (grad * (1 - self.out * self.out),)

    def backward_graph(self, grad):
        t = self.parents[0].tanh()
        return (grad * (1 - t * t),)


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

    def backward_graph(self, grad):
        a = self.parents[0]
        if self.approximate == "tanh":
            t = (_GELU_K * (a + 0.044715 * a ** 3)).tanh()
            inner = _GELU_K * (1 + 3 * 0.044715 * a * a)
            return (grad * (0.5 * (1 + t) + 0.5 * a * (1 - t * t) * inner),)
        cdf = 0.5 * (1 + unary.erf(a * (1 / math.sqrt(2))))
        pdf = (-0.5 * a * a).exp() * (1 / math.sqrt(2 * math.pi))
        return (grad * (cdf + a * pdf),)


_GELU_K = math.sqrt(2 / math.pi)


class Softmax(Function):
    op = "softmax"
    saves_inputs = False
    saves_output = True

    def forward(self, a, axis):
        xp = backend.namespace_of(a)
        self.axis = axis
        shifted = xp.exp(a - a.max(axis=axis, keepdims=True))
        self.out = shifted / shifted.sum(axis=axis, keepdims=True)
        return self.out

    def backward(self, grad):
        s = self.out
        return (s * (grad - (grad * s).sum(axis=self.axis, keepdims=True)),)

    def backward_graph(self, grad):
        s = softmax(self.parents[0], self.axis if self.axis is not None else -1)
        return (s * (grad - (grad * s).sum(dim=self.axis, keepdim=True)),)


class LogSoftmax(Function):
    op = "log_softmax"
    saves_inputs = False
    saves_output = True

    def forward(self, a, axis):
        self.axis = axis
        self.out = a - logsumexp_keepdims(a, axis)
        return self.out

    def backward(self, grad):
        xp = backend.namespace_of(grad)
        return (grad - xp.exp(self.out) * grad.sum(axis=self.axis, keepdims=True),)

    def backward_graph(self, grad):
        out = log_softmax(self.parents[0], self.axis if self.axis is not None else -1)
        return (grad - out.exp() * grad.sum(dim=self.axis, keepdim=True),)


# ------------------------------------------------------------------ public functions


def relu(a: Tensor) -> Tensor:
    """max(a, 0)."""
    return ReLU.apply(a)


def leaky_relu(a: Tensor, negative_slope: float = 0.01) -> Tensor:
    """a for a > 0, negative_slope * a otherwise."""
    if not is_python_scalar(negative_slope):
        raise TypeError(f"leaky_relu: negative_slope must be a number; got {type(negative_slope).__name__}")
    return LeakyReLU.apply(a, slope=negative_slope)


def sigmoid(a: Tensor) -> Tensor:
    """The logistic function 1 / (1 + exp(-a))."""
    return Sigmoid.apply(a)


def tanh(a: Tensor) -> Tensor:
    return Tanh.apply(a)


def gelu(a: Tensor, approximate: str = "none") -> Tensor:
    """Gaussian error linear unit a Phi(a); ``approximate="tanh"`` for the tanh form."""
    if approximate not in ("none", "tanh"):
        raise ValueError(f"gelu: approximate must be 'none' or 'tanh'; got {approximate!r}")
    require_float(a, "gelu")
    return GELU.apply(a, approximate=approximate)


def softmax(a: Tensor, dim: int = -1, **aliases) -> Tensor:
    """exp(a) / sum(exp(a)) along ``dim``, computed stably."""
    return _along_dim(Softmax, a, dim, aliases)


def log_softmax(a: Tensor, dim: int = -1, **aliases) -> Tensor:
    """a - logsumexp(a) along ``dim``: log-probabilities, computed stably."""
    return _along_dim(LogSoftmax, a, dim, aliases)


def _along_dim(cls, a: Tensor, dim, aliases) -> Tensor:
    if aliases:
        if set(aliases) != {"axis"}:
            raise TypeError(f"{cls.op}: unexpected keyword argument(s) {sorted(set(aliases) - {'axis'})}")
        if dim != -1:
            raise TypeError(f"{cls.op}: pass either dim or axis, not both")
        dim = aliases["axis"]
    require_float(a, cls.op)
    axis = normalize_dim(dim, a.ndim, cls.op)
    if a.ndim == 0:
        axis = None
    return cls.apply(a, axis=axis)
