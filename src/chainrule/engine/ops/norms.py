"""Vector and matrix norms: linalg.vector_norm, linalg.matrix_norm, linalg.norm and torch.norm.

Vector norms over ``dim`` (all elements when None), of x with |x| elementwise:

* ord = 2: sqrt(sum x^2);      d/dx = x / ||x||;
* ord = 1: sum |x|;            d/dx = sign(x);
* ord = inf / -inf: max / min |x|;  d/dx = sign(x) on the elements attaining it, shared evenly
  among ties (PyTorch's rule for amax / amin);
* ord = 0: the number of nonzero elements;  d/dx = 0;
* any other p: (sum |x|^p)^(1/p);  d/dx = sign(x) |x|^(p-1) / ||x||^(p-1).

Where the norm is 0 the gradient is 0 (a subgradient, as in PyTorch: the 2-norm of a zero
vector has gradient 0, not NaN); for p < 1 the elements equal to 0 get gradient 0.

Matrix norms over the two dims ``dim`` (PyTorch's definitions, each a composition of
differentiable ops, so no gradient formula of its own): "fro" is the 2-norm of the entries,
"nuc" the sum of the singular values, 2 / -2 the largest / smallest singular value
(:mod:`.svd`), 1 / -1 the max / min over columns of the column sums of |A|, inf / -inf the
same over rows.

``norm(input, p, dim, keepdim)`` is ``torch.norm``: a vector norm for a number p (over all
elements when dim is None, even for a matrix), and for "fro" with at most two dims; otherwise
the matrix norm. ``linalg_norm`` is ``torch.linalg.norm``.

Differences from PyTorch: the ``dtype`` and ``out`` arguments are not accepted; the gradient
of the 0-"norm" is a tensor of zeros where PyTorch leaves ``.grad`` None (an undefined, zero,
gradient).
"""
from __future__ import annotations

import math

from .. import backend
from ..autograd import Function
from ..tensor import Tensor, wrap
from . import copies
from .arguments import normalize_dims, require_float
from .reduce import Max, Min, Sum
from .svd import svdvals

INF = math.inf


class VectorNorm(Function):
    op = "linalg.vector_norm"
    saves_output = True  # the norm, read by backward (the output is a view of it)

    def forward(self, a, ord, axes, keepdim):  # noqa: A002 - PyTorch's argument name
        self.a, self.ord, self.axes = a, ord, axes
        self.norm = vector_norm_keepdims(a, ord, axes)
        if keepdim:
            return self.norm
        return self.norm.reshape(() if axes is None else tuple(n for i, n in enumerate(a.shape) if i not in axes))

    def kept(self, grad):
        return grad.reshape(self.norm.shape)

    def backward(self, grad):
        xp = backend.namespace_of(grad)
        a, p, norm, g = self.a, self.ord, self.norm, self.kept(grad)
        if p == 0:
            return (xp.zeros_like(a, dtype=grad.dtype),)
        if p == 1:
            return (xp.sign(a) * g,)
        positive = norm > 0
        if p in (INF, -INF):
            hits = xp.abs(a) == norm
            return (xp.sign(a) * hits * (g / hits.sum(axis=self.axes, keepdims=True)),)
        scale = xp.where(positive, g / xp.where(positive, norm, 1) ** (p - 1), 0)
        if p == 2:
            return (a * scale,)
        return (_scaled_input(xp, a, p) * (g * norm ** (1 - p) if p < 1 else scale),)

    def backward_graph(self, grad):
        x, p, g = self.parents[0], self.ord, self.kept(grad)
        xp = backend.namespace_of(x.data)
        sign = wrap(xp.sign(x.data).astype(x.data.dtype))
        if p == 0:
            return (g * wrap(xp.zeros_like(x.data)),)
        if p == 1:
            return (g * sign,)
        if p in (INF, -INF):
            hits = xp.abs(x.data) == self.norm
            return (g * wrap((xp.sign(x.data) * hits / hits.sum(axis=self.axes, keepdims=True)).astype(x.data.dtype)),)
        norm = VectorNorm.apply(x, ord=p, axes=self.axes, keepdim=True)
        positive = wrap(self.norm > 0)
        safe = copies.where(positive, norm, 1.0)
        scale = copies.where(positive, g / safe ** (p - 1), 0.0)
        if p == 2:
            return (x * scale,)
        nonzero = x.data != 0
        magnitude = copies.where(wrap(nonzero), x.abs(), 1.0) ** (p - 1) * wrap(nonzero.astype(x.data.dtype))
        return (sign * magnitude * (g * norm ** (1 - p) if p < 1 else scale),)


def _scaled_input(xp, a, p):
    """sign(a) |a|^(p-1), taken as 0 where a = 0 (for p < 1 it is infinite there)."""
    nonzero = a != 0
    return xp.sign(a) * xp.where(nonzero, xp.abs(xp.where(nonzero, a, 1)) ** (p - 1), 0)


def vector_norm_keepdims(a, ord, axes):  # noqa: A002
    """The ``ord``-norm of an array over ``axes`` (None: all), keeping the reduced dims."""
    xp = backend.namespace_of(a)
    magnitude = xp.abs(a)
    if ord == 2:
        return xp.sqrt((a * a).sum(axis=axes, keepdims=True))
    if ord == 1:
        return magnitude.sum(axis=axes, keepdims=True)
    if ord == INF:
        return magnitude.max(axis=axes, keepdims=True)
    if ord == -INF:
        return magnitude.min(axis=axes, keepdims=True)
    if ord == 0:
        return (a != 0).sum(axis=axes, keepdims=True).astype(a.dtype)
    with backend.host.errstate(divide="ignore"):  # p < 0 and an element 0: |0|^p = inf, the norm 0
        return (magnitude ** ord).sum(axis=axes, keepdims=True) ** (1 / ord)


# ------------------------------------------------------------------ public functions


def _check_ord_number(op: str, ord) -> float:  # noqa: A002
    if isinstance(ord, bool) or not isinstance(ord, (int, float)):
        raise TypeError(f"{op}: ord must be a number (int, float, inf or -inf); got {ord!r}")
    return float(ord)


def vector_norm(x: Tensor, ord=2, dim=None, keepdim: bool = False) -> Tensor:  # noqa: A002
    """The ``ord``-norm of the elements of x over ``dim`` (all when None), as a vector:
    ord in 2 (default), 1, inf, -inf, 0 or any other number p: (sum |x|^p)^(1/p)."""
    op = "linalg.vector_norm"
    if not isinstance(x, Tensor):
        raise TypeError(f"{op}: x must be a Tensor; got {type(x).__name__}")
    require_float(x, op)
    p = _check_ord_number(op, ord)
    axes = normalize_dims(dim, x.ndim, op) or None  # () (a 0-d x, or dim=()) is all dims
    count = x.data.size if axes is None else math.prod(x.shape[i] for i in axes)
    if count == 0 and (p < 0 or p == INF):
        raise ValueError(
            f"{op}: cannot compute the {ord} norm over an empty dimension (shape {tuple(x.shape)}, dim={dim}): "
            f"it has no identity"
        )
    return VectorNorm.apply(x, ord=p, axes=axes, keepdim=bool(keepdim))


MATRIX_ORDS = ("fro", "nuc", 1, -1, 2, -2, INF, -INF)


def _matrix_dims(op: str, a: Tensor, ord, dim) -> tuple:  # noqa: A002
    """The two dims as non-negative axes (in the given order), after the argument checks."""
    if not isinstance(a, Tensor):
        raise TypeError(f"{op}: A must be a Tensor; got {type(a).__name__}")
    require_float(a, op)
    if isinstance(ord, bool) or ord not in MATRIX_ORDS:
        raise ValueError(f"{op}: ord must be one of 'fro', 'nuc', 1, -1, 2, -2, inf, -inf; got {ord!r}")
    if a.ndim < 2:
        raise ValueError(f"{op}: A must have at least 2 dimensions; got shape {tuple(a.shape)}")
    if not isinstance(dim, (tuple, list)) or len(dim) != 2:
        raise ValueError(f"{op}: dim must be a tuple of two dims; got {dim!r}")
    first, second = (normalize_dims(d, a.ndim, op)[0] for d in dim)
    if first == second:
        raise ValueError(f"{op}: dim must name two different dims; got {dim!r}")
    return first, second


def matrix_norm(A: Tensor, ord="fro", dim=(-2, -1), keepdim: bool = False) -> Tensor:  # noqa: A002, N803
    """The ``ord``-norm of the matrices in dims ``dim`` of A: "fro" (default), "nuc", 2, -2
    (largest / smallest singular value), 1, -1 (max / min column sum of |A|), inf, -inf (rows)."""
    op = "linalg.matrix_norm"
    rows, cols = _matrix_dims(op, A, ord, dim)
    if ord == "fro":
        return vector_norm(A, 2, (rows, cols), keepdim)
    if ord in (INF, -INF):
        rows, cols = cols, rows  # the inf-norm is the 1-norm of the transpose
    if ord != "nuc" and (A.shape[cols] == 0 or (ord in (2, -2) and A.shape[rows] == 0)):
        raise ValueError(
            f"{op}: the {ord} norm of an empty matrix is undefined (a max or min over nothing); "
            f"got shape {tuple(A.shape)}"
        )
    if ord in ("nuc", 2, -2):
        rest = [i for i in range(A.ndim) if i not in (rows, cols)]
        values = svdvals(A.permute(*rest, rows, cols))
        if ord == "nuc":
            out = Sum.apply(values, axes=(values.ndim - 1,), keepdim=False)
        else:
            out = (Max if ord == 2 else Min).apply(values, axes=(values.ndim - 1,), keepdim=False)
        if keepdim:
            for axis in sorted((rows, cols)):
                out = out.unsqueeze(axis)
        return out
    sums = Sum.apply(A.abs(), axes=(rows,), keepdim=True)
    out = (Max if ord > 0 else Min).apply(sums, axes=(cols,), keepdim=True)
    return out if keepdim else out.squeeze(tuple(sorted((rows, cols))))


def norm(input: Tensor, p="fro", dim=None, keepdim: bool = False) -> Tensor:  # noqa: A002
    """``torch.norm``: for a number p, the vector p-norm over ``dim`` (all elements when None);
    "fro" over at most two dims, the 2-norm of those elements; "nuc", the nuclear norm of the
    matrices in ``dim`` (the whole 2-D tensor when None)."""
    dims = [dim] if isinstance(dim, int) and not isinstance(dim, bool) else dim
    if isinstance(p, str):
        if p == "fro" and (dims is None or len(dims) <= 2):
            return vector_norm(input, 2, dims, keepdim)
        if dims is None:
            if not isinstance(input, Tensor):
                raise TypeError(f"norm: input must be a Tensor; got {type(input).__name__}")
            dims = list(range(input.ndim))
        return matrix_norm(input, p, tuple(dims), keepdim)
    return vector_norm(input, 2.0 if p is None else p, dims, keepdim)


def linalg_norm(A: Tensor, ord=None, dim=None, keepdim: bool = False) -> Tensor:  # noqa: A002, N803
    """``torch.linalg.norm``: the matrix norm when ord is given and ``dim`` is two dims (or None for
    a 2-D A), else the vector norm (ord None: the 2-norm, over all elements when dim is None)."""
    op = "linalg.norm"
    if isinstance(dim, int) and not isinstance(dim, bool):
        dim = (dim,)
    if dim is not None:
        if not isinstance(dim, (tuple, list)) or len(dim) not in (1, 2):
            raise ValueError(f"{op}: dim must be an int or a tuple of one or two ints; got {dim!r}")
    elif ord is not None and isinstance(A, Tensor) and A.ndim not in (1, 2):
        raise ValueError(f"{op}: with ord={ord!r} and dim=None, A must be 1-D or 2-D; got shape {tuple(A.shape)}")
    matrix = (dim is not None and len(dim) == 2) or (dim is None and isinstance(A, Tensor) and A.ndim == 2)
    if ord is not None and matrix:
        return matrix_norm(A, ord, (0, 1) if dim is None else tuple(dim), keepdim)
    return vector_norm(A, 2 if ord is None else ord, dim, keepdim)
