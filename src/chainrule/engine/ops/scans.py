"""Scans along one dimension: cumsum and cumprod.

cumsum:  y_i = sum_{j<=i} x_j.   Its vector-Jacobian product is the cumulative sum taken
from the end: dx_k = sum_{i>=k} g_i.

cumprod: y_i = prod_{j<=i} x_j.  dx_k = sum_{i>=k} g_i prod_{j<=i, j!=k} x_j.
Without a zero along the slice the product over j != k is y_i / x_k, so
dx = revcumsum(g y) / x. With zeros (z the first zero of the slice), following the case
analysis of PyTorch's ``cumprod_backward`` (aten/src/ATen/native/... FunctionsManual.cpp):

* k < z: x_k != 0 and the same formula holds;
* k > z: every term contains x_z = 0, so dx_k = 0;
* k = z: dx_z = (prod_{j<z} x_j) sum_{i>=z} g_i prod_{z<j<=i} x_j.

For gradients of gradients the case k > z is a value, not a function of x (its derivative
in x_z is not 0), so ``backward_graph`` on an input with zeros writes the sum exactly:
prod_{j<=i, j!=k} x_j is the cumulative product of x with x_k replaced by 1, one row per k
(an n-by-n table per slice, built only then).

Both scans run from either end (``reverse``): each one's gradient is the other direction's
scan, and prod's gradient uses the products from both ends.
"""
from __future__ import annotations

from .. import backend
from ..autograd import Function
from ..tensor import Tensor, wrap
from . import copies
from .arguments import normalize_dim


def scan_sum(a, axis: int, reverse: bool):
    """The cumulative sum of an array along ``axis``, from the end when ``reverse``."""
    xp = backend.namespace_of(a)
    if not reverse:
        return xp.cumsum(a, axis=axis)
    return xp.flip(xp.cumsum(xp.flip(a, axis), axis=axis), axis)


def scan_product(a, axis: int, reverse: bool):
    """The cumulative product of an array along ``axis``, from the end when ``reverse``."""
    xp = backend.namespace_of(a)
    if not reverse:
        return xp.cumprod(a, axis=axis)
    return xp.flip(xp.cumprod(xp.flip(a, axis), axis=axis), axis)


class Cumsum(Function):
    op = "cumsum"
    saves_inputs = False

    def forward(self, a, axis, reverse):
        self.axis, self.reverse = axis, reverse
        return scan_sum(a, axis, reverse)

    def backward(self, grad):
        return (scan_sum(grad, self.axis, not self.reverse),)

    def backward_graph(self, grad):
        return (Cumsum.apply(grad, axis=self.axis, reverse=not self.reverse),)


class Cumprod(Function):
    op = "cumprod"
    saves_output = True

    def forward(self, a, axis, reverse):
        self.a, self.axis, self.reverse = a, axis, reverse
        self.out = scan_product(a, axis, reverse)
        return self.out

    def backward(self, grad):
        xp = backend.namespace_of(grad)
        axis, reverse = self.axis, self.reverse

        def last(array):  # the scanned axis last, in scan order
            array = xp.moveaxis(array, axis, -1)
            return xp.flip(array, -1) if reverse else array

        result = _cumprod_vjp(last(self.a), last(self.out), last(grad))
        result = xp.flip(result, -1) if reverse else result
        return (xp.moveaxis(result, -1, axis),)

    def backward_graph(self, grad):
        a = self.parents[0]
        if not (self.a == 0).any():
            out = Cumprod.apply(a, axis=self.axis, reverse=self.reverse)
            return (Cumsum.apply(grad * out, axis=self.axis, reverse=not self.reverse) / a,)
        return (_cumprod_vjp_exact(a, grad, self.axis, self.reverse),)


def _cumprod_vjp(x, y, g):
    """dx of y = cumprod(x) along the last axis, with PyTorch's case analysis for zeros."""
    xp = backend.namespace_of(x)
    zero = x == 0
    tail = scan_sum(g * y, -1, True)
    if not zero.any():
        return tail / x
    positions = xp.arange(x.shape[-1])
    first = xp.where(zero.any(axis=-1, keepdims=True), xp.argmax(zero, axis=-1)[..., None], x.shape[-1])
    before = positions < first
    grad = xp.where(before, tail / xp.where(zero, 1, x), 0)
    left = xp.where(before, x, 1).prod(axis=-1, keepdims=True)  # prod_{j<z} x_j
    after = xp.cumprod(xp.where(positions <= first, 1, x), axis=-1)  # prod_{z<j<=i} x_j for i >= z
    at_first = left * xp.where(positions >= first, g * after, 0).sum(axis=-1, keepdims=True)
    return xp.where(positions == first, at_first, grad)


def _cumprod_vjp_exact(a: Tensor, grad: Tensor, axis: int, reverse: bool) -> Tensor:
    """dx_k = sum_i g_i [i reached from k] prod_{j<=i, j!=k} x_j on Tensors, through an n-by-n
    table per slice: row k is the scan of x with x_k replaced by 1."""
    xp = backend.namespace_of(a.data)
    x, g = a.transpose(axis, -1), grad.transpose(axis, -1)
    n = x.shape[-1]
    rows = x.unsqueeze(-2).expand(*x.shape[:-1], n, n)  # rows[..., k, i] = x_i
    table = Cumprod.apply(copies.where(wrap(xp.eye(n, dtype=bool)), 1.0, rows), axis=x.ndim, reverse=reverse)
    k, i = xp.arange(n)[:, None], xp.arange(n)[None, :]
    reached = wrap(i <= k if reverse else i >= k)
    result = (g.unsqueeze(-2) * copies.where(reached, table, 0.0)).sum(-1)
    return result.transpose(axis, -1)


# ------------------------------------------------------------------ public functions


def cumsum(input: Tensor, dim: int, *, dtype=None) -> Tensor:  # noqa: A002 - PyTorch's name
    """Cumulative sum along ``dim``: out[i] = input[0] + … + input[i]. Integer and bool
    tensors give int64 (as PyTorch); ``dtype`` casts the input first."""
    return _scan(Cumsum, input, dim, dtype)


def cumprod(input: Tensor, dim: int, *, dtype=None) -> Tensor:  # noqa: A002
    """Cumulative product along ``dim``: out[i] = input[0] * … * input[i]. The gradient is
    exact with zeros in the input (see the module docstring)."""
    return _scan(Cumprod, input, dim, dtype)


def _scan(cls, a, dim, dtype) -> Tensor:
    if not isinstance(a, Tensor):
        raise TypeError(f"{cls.op}: expected a Tensor as input; got {type(a).__name__}")
    if isinstance(dim, bool) or not isinstance(dim, int):
        raise TypeError(f"{cls.op}: dim must be an int; got {dim!r}")
    if dtype is not None:
        a = copies.cast(a, backend.canonical_dtype(dtype, f"{cls.op}: dtype"))
    elif a.dtype.kind != "f":
        a = copies.cast(a, backend.int64)
    axis = normalize_dim(dim, a.ndim, cls.op)
    if a.ndim == 0:
        return cls.apply(a.reshape(1), axis=0, reverse=False).reshape(())
    return cls.apply(a, axis=axis, reverse=False)
