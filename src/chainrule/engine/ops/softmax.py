"""Ops that fuse several steps into one node for speed and numerical stability.

softmax(a)_i = exp(a_i - m) / sum_j exp(a_j - m) with m = max_j a_j (subtracting m
changes nothing mathematically and keeps exp from overflowing).
log_softmax(a) = a - logsumexp(a), never log(softmax(a)), which underflows to -inf.

Backward (s = softmax(a), G the upstream gradient, sums over the softmax dim):
    softmax:      dL/da = s * (G - sum(G * s))
    log_softmax:  dL/da = G - s * sum(G)
"""
from __future__ import annotations

from .. import backend
from ..autograd import Function
from ..tensor import Tensor
from ._support import normalize_dim, require_float
from .reduce import logsumexp_keepdims


class Softmax(Function):
    op = "softmax"

    def forward(self, a, axis):
        xp = backend.namespace_of(a)
        self.axis = axis
        shifted = xp.exp(a - a.max(axis=axis, keepdims=True))
        self.out = shifted / shifted.sum(axis=axis, keepdims=True)
        return self.out

    def backward(self, grad):
        s = self.out
        return (s * (grad - (grad * s).sum(axis=self.axis, keepdims=True)),)


class LogSoftmax(Function):
    op = "log_softmax"

    def forward(self, a, axis):
        self.axis = axis
        self.out = a - logsumexp_keepdims(a, axis)
        return self.out

    def backward(self, grad):
        xp = backend.namespace_of(grad)
        return (grad - xp.exp(self.out) * grad.sum(axis=self.axis, keepdims=True),)


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
