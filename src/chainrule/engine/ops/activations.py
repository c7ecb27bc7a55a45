"""Activations: ReLU, leaky ReLU, sigmoid, tanh, GELU, softplus, SiLU, ELU, SELU, hardtanh,
softmax and log-softmax.

ReLU(a) = max(a, 0), gradient G [a > 0] (0 at a = 0, as PyTorch).
sigmoid(a) = 1 / (1 + e^{-a}), gradient G s (1 - s); tanh: G (1 - t^2).
softplus(a) = log(1 + e^{beta a}) / beta, and a where beta a > threshold (PyTorch's linear
region); gradient G sigmoid(beta a), G in the linear region (Dugas et al. 2001).
SiLU(a) = a sigmoid(a) (Elfwing et al. 2018), gradient G s (1 + a (1 - s)).
ELU(a) = a for a > 0, alpha (e^a - 1) otherwise (Clevert et al. 2016), gradient G or
G alpha e^a (the second also at a = 0, as PyTorch). SELU(a) = scale ELU_alpha(a) with
PyTorch's alpha = 1.6732632…, scale = 1.0507009… (Klambauer et al. 2017).
hardtanh(a) = clamp(a, min_val, max_val), gradient G strictly inside (min_val, max_val)
and 0 at the bounds, as PyTorch (unlike clamp, whose gradient passes at the bounds).
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
from . import copies, unary
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


class Softplus(Function):
    op = "softplus"

    def forward(self, a, beta, threshold):
        xp = backend.namespace_of(a)
        self.a, self.beta, self.threshold = a, beta, threshold
        z = a * beta
        self.linear = z > threshold
        return xp.where(self.linear, a, xp.log1p(xp.exp(xp.minimum(z, threshold))) / beta)

    def backward(self, grad):
        xp = backend.namespace_of(grad)
        return (xp.where(self.linear, grad, grad * backend.expit(self.a * self.beta)),)

    def backward_graph(self, grad):
        a = self.parents[0]
        return (copies.where(wrap(self.linear), grad, grad * (a * self.beta).sigmoid()),)


class SiLU(Function):
    op = "silu"

    def forward(self, a):
        self.a = a
        return a * backend.expit(a)

    def backward(self, grad):
        s = backend.expit(self.a)
        return (grad * (s * (1 + self.a * (1 - s))),)

    def backward_graph(self, grad):
        a = self.parents[0]
        s = a.sigmoid()
        return (grad * (s * (1 + a * (1 - s))),)


class ELU(Function):
    """scale * (a for a > 0, alpha (e^a - 1) otherwise); scale is 1 for ELU."""

    op = "elu"

    def forward(self, a, alpha, scale):
        xp = backend.namespace_of(a)
        self.a, self.alpha, self.scale = a, alpha, scale
        self.positive = a > 0
        return scale * xp.where(self.positive, a, alpha * xp.expm1(xp.minimum(a, 0)))

    def backward(self, grad):
        xp = backend.namespace_of(grad)
        negative = (self.alpha * self.scale) * xp.exp(xp.minimum(self.a, 0))
        return (grad * xp.where(self.positive, self.scale, negative),)

    def backward_graph(self, grad):
        a, positive = self.parents[0], wrap(self.positive)
        negative = (self.alpha * self.scale) * copies.where(positive, 0.0, a).exp()
        return (grad * copies.where(positive, float(self.scale), negative),)


class SELU(ELU):
    op = "selu"


SELU_ALPHA = 1.6732632423543772848170429916717
SELU_SCALE = 1.0507009873554804934193349852946


class Hardtanh(Function):
    op = "hardtanh"
    saves_inputs = False

    def forward(self, a, low, high):
        inside = (a > low) & (a < high)
        self.inside = inside
        return backend.namespace_of(a).clip(a, low, high)

    def backward(self, grad):
        return (grad * self.inside,)

    def backward_graph(self, grad):
        return (grad * wrap(self.inside.astype(grad.dtype)),)


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


def softplus(input: Tensor, beta: float = 1.0, threshold: float = 20.0) -> Tensor:  # noqa: A002
    """log(1 + exp(beta input)) / beta, and input itself where beta input > threshold."""
    for name, value in (("beta", beta), ("threshold", threshold)):
        if not is_python_scalar(value):
            raise TypeError(f"softplus: {name} must be a number; got {type(value).__name__}")
    if beta == 0:
        raise ValueError("softplus: beta must be non-zero; got 0")
    require_float(input, "softplus")
    return Softplus.apply(input, beta=beta, threshold=threshold)


def silu(input: Tensor) -> Tensor:  # noqa: A002
    """input * sigmoid(input) (also called swish)."""
    require_float(input, "silu")
    return SiLU.apply(input)


def elu(input: Tensor, alpha: float = 1.0) -> Tensor:  # noqa: A002
    """input for input > 0, alpha (exp(input) - 1) otherwise."""
    if not is_python_scalar(alpha):
        raise TypeError(f"elu: alpha must be a number; got {type(alpha).__name__}")
    require_float(input, "elu")
    return ELU.apply(input, alpha=alpha, scale=1.0)


def selu(input: Tensor) -> Tensor:  # noqa: A002
    """scale * elu(input, alpha) with the self-normalizing constants of Klambauer et al."""
    require_float(input, "selu")
    return SELU.apply(input, alpha=SELU_ALPHA, scale=SELU_SCALE)


def hardtanh(input: Tensor, min_val: float = -1.0, max_val: float = 1.0) -> Tensor:  # noqa: A002
    """input clamped to [min_val, max_val]; the gradient is 0 at the bounds (PyTorch's)."""
    for name, value in (("min_val", min_val), ("max_val", max_val)):
        if not is_python_scalar(value):
            raise TypeError(f"hardtanh: {name} must be a number; got {type(value).__name__}")
    if min_val > max_val:
        raise ValueError(f"hardtanh: min_val ({min_val}) cannot be greater than max_val ({max_val})")
    require_float(input, "hardtanh")
    return Hardtanh.apply(input, low=min_val, high=max_val)


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
