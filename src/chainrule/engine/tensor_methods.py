"""The methods and operators of a Tensor that forward to the ops.

``a + b``, ``a.sum(dim)``, ``a.gather(dim, index)``, ``a.add_(b)`` … each is one line
that calls the op of the same name in :mod:`chainrule.ops` (or the in-place op in
:mod:`chainrule.engine.inplace`), where the math and its gradient live. They sit in
this mixin, which :class:`chainrule.engine.tensor.Tensor` inherits, so that tensor.py
keeps to what a tensor *is* (its data, dtype, device, grad and version counter).
"""
from __future__ import annotations

__all__ = ["TensorMethods"]


class TensorMethods:
    """Forwarding methods and operators of :class:`~chainrule.engine.tensor.Tensor`."""

    __slots__ = ()

    # ------------------------------------------------------------------ in place
    # (recorded in the graph when gradients are; see chainrule.engine.inplace)
    def add_(self, other, *, alpha=1): return inplace.add_(self, other, alpha)
    def sub_(self, other, *, alpha=1): return inplace.sub_(self, other, alpha)
    def mul_(self, other): return inplace.mul_(self, other)
    def div_(self, other): return inplace.div_(self, other)
    def clamp_(self, min=None, max=None): return inplace.clamp_(self, min, max)  # noqa: A002
    clip_ = clamp_
    def fill_(self, value): return inplace.fill_(self, value)
    def zero_(self): return inplace.zero_(self)
    def copy_(self, source): return inplace.copy_(self, source)
    def masked_fill_(self, mask, value): return inplace.masked_fill_(self, mask, value)
    def index_put_(self, indices, values, accumulate=False):
        return inplace.index_put_(self, indices, values, accumulate)

    # ------------------------------------------------------------------ arithmetic
    def __add__(self, other): return ops.add(self, other)
    def __radd__(self, other): return ops.add(other, self)
    def __sub__(self, other): return ops.sub(self, other)
    def __rsub__(self, other): return ops.sub(other, self)
    def __mul__(self, other): return ops.mul(self, other)
    def __rmul__(self, other): return ops.mul(other, self)
    def __truediv__(self, other): return ops.div(self, other)
    def __rtruediv__(self, other): return ops.div(other, self)
    def __pow__(self, other): return ops.pow(self, other)
    def __rpow__(self, other): return ops.pow(other, self)
    def __matmul__(self, other): return ops.matmul(self, other)
    def __rmatmul__(self, other): return ops.matmul(other, self)
    def __neg__(self): return ops.neg(self)
    def __pos__(self): return self
    def __abs__(self): return ops.abs(self)

    def __iadd__(self, other): return inplace.add_(self, other)
    def __isub__(self, other): return inplace.sub_(self, other)
    def __imul__(self, other): return inplace.mul_(self, other)
    def __itruediv__(self, other): return inplace.div_(self, other)

    # comparisons and logic (never differentiable)
    def __eq__(self, other): return ops.eq(self, other)
    def __ne__(self, other): return ops.ne(self, other)
    def __lt__(self, other): return ops.lt(self, other)
    def __le__(self, other): return ops.le(self, other)
    def __gt__(self, other): return ops.gt(self, other)
    def __ge__(self, other): return ops.ge(self, other)
    def __and__(self, other): return ops.logical_and(self, other)
    def __rand__(self, other): return ops.logical_and(other, self)
    def __or__(self, other): return ops.logical_or(self, other)
    def __ror__(self, other): return ops.logical_or(other, self)
    def __xor__(self, other): return ops.logical_xor(self, other)
    def __rxor__(self, other): return ops.logical_xor(other, self)
    def __invert__(self): return ops.logical_not(self)

    # ------------------------------------------------------------------ indexing
    def __getitem__(self, index): return ops.index(self, index)

    def __setitem__(self, index, value) -> None:
        """``t[index] = value`` in place (recorded in the graph when gradients are)."""
        inplace.setitem(self, index, value)

    # ------------------------------------------------------------------ methods
    def add(self, other): return ops.add(self, other)
    def sub(self, other): return ops.sub(self, other)
    def mul(self, other): return ops.mul(self, other)
    def div(self, other): return ops.div(self, other)
    def pow(self, exponent): return ops.pow(self, exponent)
    def neg(self): return ops.neg(self)
    def matmul(self, other): return ops.matmul(self, other)
    def exp(self): return ops.exp(self)
    def log(self): return ops.log(self)
    def log1p(self): return ops.log1p(self)
    def sqrt(self): return ops.sqrt(self)
    def abs(self): return ops.abs(self)
    def sin(self): return ops.sin(self)
    def cos(self): return ops.cos(self)
    def tanh(self): return ops.tanh(self)
    def sigmoid(self): return ops.sigmoid(self)
    def relu(self): return ops.relu(self)
    def leaky_relu(self, negative_slope=0.01): return ops.leaky_relu(self, negative_slope)
    def gelu(self, approximate="none"): return ops.gelu(self, approximate)
    def maximum(self, other): return ops.maximum(self, other)
    def minimum(self, other): return ops.minimum(self, other)
    def clamp(self, min=None, max=None): return ops.clamp(self, min, max)
    clip = clamp

    def sum(self, dim=None, keepdim=False, **aliases): return ops.sum(self, dim, keepdim, **aliases)
    def mean(self, dim=None, keepdim=False, **aliases): return ops.mean(self, dim, keepdim, **aliases)
    def var(self, dim=None, unbiased=None, keepdim=False, *, correction=None, **aliases):
        return ops.var(self, dim, unbiased, keepdim, correction=correction, **aliases)
    def std(self, dim=None, unbiased=None, keepdim=False, *, correction=None, **aliases):
        return ops.std(self, dim, unbiased, keepdim, correction=correction, **aliases)
    def max(self, dim=None, keepdim=False, **aliases): return ops.max(self, dim, keepdim, **aliases)
    def min(self, dim=None, keepdim=False, **aliases): return ops.min(self, dim, keepdim, **aliases)
    def logsumexp(self, dim=None, keepdim=False, **aliases): return ops.logsumexp(self, dim, keepdim, **aliases)
    def softmax(self, dim=-1, **aliases): return ops.softmax(self, dim, **aliases)
    def log_softmax(self, dim=-1, **aliases): return ops.log_softmax(self, dim, **aliases)
    def argmax(self, dim=None, keepdim=False, **aliases): return ops.argmax(self, dim, keepdim, **aliases)
    def argmin(self, dim=None, keepdim=False, **aliases): return ops.argmin(self, dim, keepdim, **aliases)
    def all(self, dim=None, keepdim=False, **aliases): return ops.all(self, dim, keepdim, **aliases)
    def any(self, dim=None, keepdim=False, **aliases): return ops.any(self, dim, keepdim, **aliases)

    def reshape(self, *shape): return ops.reshape(self, *shape)
    def view(self, *shape): return ops.reshape(self, *shape)
    def transpose(self, dim0, dim1): return ops.transpose(self, dim0, dim1)
    def permute(self, *dims): return ops.permute(self, *dims)
    def squeeze(self, dim=None): return ops.squeeze(self, dim)
    def unsqueeze(self, dim): return ops.unsqueeze(self, dim)
    def expand(self, *shape): return ops.expand(self, *shape)
    def broadcast_to(self, shape): return ops.broadcast_to(self, shape)
    def flatten(self, start_dim=0, end_dim=-1): return ops.flatten(self, start_dim, end_dim)
    def split(self, split_size, dim=0): return ops.split(self, split_size, dim)
    def chunk(self, chunks, dim=0): return ops.chunk(self, chunks, dim)

    # gathering, scattering, masks, rearranging (ops/gathering.py, scatter_reduce.py, indexing.py, rearrange.py …)
    def gather(self, dim, index): return ops.gather(self, dim, index)
    def scatter(self, dim, index, src=None, *, value=None): return ops.scatter(self, dim, index, src, value=value)
    def scatter_add(self, dim, index, src): return ops.scatter_add(self, dim, index, src)
    def scatter_reduce(self, dim, index, src, reduce, *, include_self=True):
        return ops.scatter_reduce(self, dim, index, src, reduce, include_self=include_self)
    def index_select(self, dim, index): return ops.index_select(self, dim, index)
    def index_add(self, dim, index, source, *, alpha=1): return ops.index_add(self, dim, index, source, alpha=alpha)
    def take_along_dim(self, indices, dim=None): return ops.take_along_dim(self, indices, dim)
    def masked_fill(self, mask, value): return ops.masked_fill(self, mask, value)
    def masked_select(self, mask): return ops.masked_select(self, mask)
    def nonzero(self, *, as_tuple=False): return ops.nonzero(self, as_tuple=as_tuple)
    def repeat(self, *sizes): return ops.repeat(self, *sizes)
    def tile(self, *dims): return ops.tile(self, ops.rearrange.dims_of(dims))
    def flip(self, *dims): return ops.flip(self, ops.rearrange.dims_of(dims))
    def roll(self, shifts, dims=None): return ops.roll(self, shifts, dims)
    def movedim(self, source, destination): return ops.movedim(self, source, destination)
    moveaxis = movedim
    def unflatten(self, dim, sizes): return ops.unflatten(self, dim, sizes)
    def narrow(self, dim, start, length): return ops.narrow(self, dim, start, length)
    def index_add_(self, dim, index, source, *, alpha=1): return inplace.index_add_(self, dim, index, source, alpha)
    def scatter_(self, dim, index, src=None, *, value=None): return inplace.scatter_(self, dim, index, src, value)
    def scatter_add_(self, dim, index, src): return inplace.scatter_add_(self, dim, index, src)

    def eq(self, other): return ops.eq(self, other)
    def ne(self, other): return ops.ne(self, other)
    def lt(self, other): return ops.lt(self, other)
    def le(self, other): return ops.le(self, other)
    def gt(self, other): return ops.gt(self, other)
    def ge(self, other): return ops.ge(self, other)
    def isnan(self): return ops.isnan(self)
    def isfinite(self): return ops.isfinite(self)

    # ------------------------------------------------------------------ linear algebra
    def dot(self, other): return ops.dot(self, other)
    def mm(self, mat2): return ops.mm(self, mat2)
    def bmm(self, mat2): return ops.bmm(self, mat2)
    def outer(self, vec2): return ops.outer(self, vec2)
    def diagonal(self, offset=0, dim1=0, dim2=1): return ops.diagonal(self, offset, dim1, dim2)
    def trace(self): return ops.trace(self)
    def tril(self, diagonal=0): return ops.tril(self, diagonal)
    def triu(self, diagonal=0): return ops.triu(self, diagonal)
    def norm(self, p="fro", dim=None, keepdim=False): return ops.norm(self, p, dim, keepdim)
    def det(self): return ops.det(self)
    def slogdet(self): return ops.slogdet(self)
    def inverse(self): return ops.inv(self)

    # ------------------------------------------------------------------ scans, sorting, more math
    def cumsum(self, dim, *, dtype=None): return ops.cumsum(self, dim, dtype=dtype)
    def cumprod(self, dim, *, dtype=None): return ops.cumprod(self, dim, dtype=dtype)
    def prod(self, dim=None, keepdim=False, *, dtype=None, **aliases):
        return ops.prod(self, dim, keepdim, dtype=dtype, **aliases)
    def amax(self, dim=(), keepdim=False, **aliases): return ops.amax(self, dim, keepdim, **aliases)
    def amin(self, dim=(), keepdim=False, **aliases): return ops.amin(self, dim, keepdim, **aliases)
    def sort(self, dim=-1, descending=False, *, stable=False): return ops.sort(self, dim, descending, stable=stable)
    def argsort(self, dim=-1, descending=False, *, stable=False):
        return ops.argsort(self, dim, descending, stable=stable)
    def topk(self, k, dim=-1, largest=True, sorted=True): return ops.topk(self, k, dim, largest, sorted)
    def unique(self, sorted=True, return_inverse=False, return_counts=False, dim=None):
        return ops.unique(self, sorted, return_inverse, return_counts, dim)
    def expm1(self): return ops.expm1(self)
    def erf(self): return ops.erf(self)
    def sign(self): return ops.sign(self)
    def floor(self): return ops.floor(self)
    def ceil(self): return ops.ceil(self)
    def trunc(self): return ops.trunc(self)
    def round(self, *, decimals=0): return ops.round(self, decimals=decimals)
    def atan2(self, other): return ops.atan2(self, other)
    def logaddexp(self, other): return ops.logaddexp(self, other)
    def lerp(self, end, weight): return ops.lerp(self, end, weight)


# The ops build Tensors, so they can be imported only once the class Tensor exists:
# engine/tensor.py imports them at its end and binds them here (the one import cycle
# docs/architecture.md allows passes through engine/tensor.py).
ops = inplace = None


def bind(ops_module, inplace_module) -> None:
    """Make ``ops`` and ``inplace`` the modules these methods forward to (engine/tensor.py calls it)."""
    global ops, inplace
    ops, inplace = ops_module, inplace_module
