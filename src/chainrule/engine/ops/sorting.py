"""Sorting and selection: sort, argsort, topk, the dim forms of max and min, unique.

Each differentiable result is the input gathered at integer indices along one dimension,
values = a[…, indices, …] (``TakeAlongDim``); its vector-Jacobian product scatters G back
to the positions the indices name (``ScatterAlongDim``) and leaves zeros elsewhere. Every
index appears at most once per slice, so the scatter is an assignment. The scatter's own
gradient is the gather at the same indices, which makes gradients of gradients exact.

Orders, as PyTorch: ``sort`` is stable here whatever ``stable`` says (PyTorch allows any
order of equal elements when ``stable=False``), also when descending; NaN sorts as the
largest value (last ascending, first descending). ``max``/``min`` along a dim return the
index of the first extreme value (PyTorch documents the same), and the gradient goes to
that index only (PyTorch's rule for the dim form; without a dim the gradient is split
evenly among ties, see :mod:`~chainrule.engine.ops.reduce`). ``topk`` returns its k values
in sorted order, ties in index order (PyTorch leaves their order unspecified); ``unique`` is
sorted (also for ``sorted=False``, whose order PyTorch leaves unspecified), each NaN a value
of its own, as PyTorch.
"""
from __future__ import annotations

from .. import backend
from ..autograd import Function
from ..tensor import Tensor, wrap
from . import copies, return_types
from .arguments import normalize_dim
from .gathering import coordinates


def scatter(values, indices, axis: int, shape: tuple):
    """Zeros of ``shape`` with ``values`` written at ``indices`` along ``axis``."""
    full = backend.namespace_of(values).zeros(shape, dtype=values.dtype)
    full[coordinates(indices, axis)] = values
    return full


class TakeAlongDim(Function):
    """a gathered at ``indices`` along ``axis`` (``keepdim=False`` drops that axis, of size 1)."""

    op = "take_along_dim"
    saves_inputs = False

    def forward(self, a, indices, axis, keepdim):
        self.shape, self.indices, self.axis = a.shape, indices, axis
        out = a[coordinates(indices, axis)]
        return out if keepdim else out.squeeze(axis)

    def backward(self, grad):
        return (scatter(grad.reshape(self.indices.shape), self.indices, self.axis, self.shape),)

    def backward_graph(self, grad):
        values = grad.reshape(self.indices.shape)
        return (ScatterAlongDim.apply(values, indices=self.indices, axis=self.axis, shape=self.shape),)


class ScatterAlongDim(Function):
    """Zeros of ``shape`` with the input written at ``indices`` along ``axis``."""

    op = "scatter"
    saves_inputs = False

    def forward(self, values, indices, axis, shape):
        self.indices, self.axis = indices, axis
        return scatter(values, indices, axis, shape)

    def backward(self, grad):
        return (grad[coordinates(self.indices, self.axis)],)

    def backward_graph(self, grad):
        return (TakeAlongDim.apply(grad, indices=self.indices, axis=self.axis, keepdim=True),)


class SortValues(TakeAlongDim):
    op = "sort"


class TopkValues(TakeAlongDim):
    op = "topk"


class MaxValues(TakeAlongDim):
    op = "max"


class MinValues(TakeAlongDim):
    op = "min"


def sort_indices(data, axis: int, descending: bool):
    """The stable sorting permutation of an array along ``axis`` (int64). Descending: sort
    the reversed array, then reverse the order, so equal elements keep their order."""
    xp = backend.namespace_of(data)
    if not descending:
        order = xp.argsort(data, axis=axis, kind="stable")
    else:
        reversed_order = xp.argsort(xp.flip(data, axis), axis=axis, kind="stable")
        order = xp.flip(data.shape[axis] - 1 - reversed_order, axis)
    return order.astype(backend.int64, copy=False)


# ------------------------------------------------------------------ public functions


def sort(input: Tensor, dim: int = -1, descending: bool = False, *, stable: bool = False):  # noqa: A002
    """The values along ``dim`` in order, and where each came from: a named tuple
    ``(values, indices)`` (``torch.return_types.sort``). Always stable."""
    a, axis = _checked(input, dim, "sort")
    if a.ndim == 0:
        return return_types.sort(copies.clone(a), _zero_index(a))
    indices = sort_indices(a.data, axis, bool(descending))
    return return_types.sort(SortValues.apply(a, indices=indices, axis=axis, keepdim=True), wrap(indices))


def argsort(input: Tensor, dim: int = -1, descending: bool = False, *, stable: bool = False) -> Tensor:  # noqa: A002
    """The indices that sort ``input`` along ``dim`` (int64): ``sort(...).indices``."""
    a, axis = _checked(input, dim, "argsort")
    if a.ndim == 0:
        return _zero_index(a)
    return wrap(sort_indices(a.data, axis, bool(descending)))


def topk(input: Tensor, k: int, dim: int = -1, largest: bool = True, sorted: bool = True):  # noqa: A002
    """The ``k`` largest (``largest=False``: smallest) values along ``dim`` and their indices,
    a named tuple ``(values, indices)``, largest first (smallest first)."""
    a, axis = _checked(input, dim, "topk")
    if isinstance(k, bool) or not isinstance(k, int):
        raise TypeError(f"topk: k must be an int; got {k!r}")
    size = a.shape[axis] if a.ndim else 1
    if not 0 <= k <= size:
        raise RuntimeError(f"topk: k={k} is out of range for dimension {dim} of size {size}")
    if a.ndim == 0:
        return return_types.topk(copies.clone(a), _zero_index(a))
    order = sort_indices(a.data, axis, bool(largest))
    indices = order[(slice(None),) * axis + (slice(0, k),)]
    return return_types.topk(TopkValues.apply(a, indices=indices, axis=axis, keepdim=True), wrap(indices))


def extreme_along(op: str, input: Tensor, dim, keepdim: bool = False):  # noqa: A002
    """``max(input, dim)`` / ``min(input, dim)`` (``op`` says which): the named tuple
    ``(values, indices)``; the index of the first extreme value; the gradient goes there."""
    if isinstance(dim, bool) or not isinstance(dim, int):
        raise TypeError(
            f"{op}: dim must be an int (one dimension); got {dim!r}; use a{op} for several dimensions"
        )
    a, axis = _checked(input, dim, op)
    result = return_types.max if op == "max" else return_types.min
    if a.ndim == 0:
        return result(copies.clone(a), _zero_index(a))
    if a.shape[axis] == 0:
        raise IndexError(f"{op}: cannot reduce over the empty dimension {dim} of shape {tuple(a.shape)}")
    xp = backend.namespace_of(a.data)
    arg = xp.argmax if op == "max" else xp.argmin
    indices = arg(a.data, axis=axis, keepdims=True).astype(backend.int64, copy=False)
    cls = MaxValues if op == "max" else MinValues
    values = cls.apply(a, indices=indices, axis=axis, keepdim=bool(keepdim))
    return result(values, wrap(indices if keepdim else indices.squeeze(axis)))


def unique(input: Tensor, sorted: bool = True, return_inverse: bool = False,  # noqa: A002
           return_counts: bool = False, dim=None):
    """The distinct values (sorted), or with ``dim`` the distinct slices along ``dim``; with
    ``return_inverse`` also where each element (slice) went, with ``return_counts`` how many
    times each occurs. Returns a tensor, or a tuple when either flag is set. No gradient."""
    if not isinstance(input, Tensor):
        raise TypeError(f"unique: expected a Tensor as input; got {type(input).__name__}")
    data = input.data
    xp = backend.namespace_of(data)
    axis = None if dim is None else normalize_dim(dim, data.ndim, "unique")
    if axis is not None and data.ndim == 0:
        raise IndexError("unique: dim is not defined for a 0-d tensor")
    extra = {"equal_nan": False} if xp is backend.host else {}  # each NaN distinct, as PyTorch
    values, inverse, counts = xp.unique(data, return_inverse=True, return_counts=True, axis=axis, **extra)
    inverse_shape = data.shape if axis is None else (data.shape[axis],)
    outputs = [wrap(values)]
    if return_inverse:
        outputs.append(wrap(inverse.reshape(inverse_shape).astype(backend.int64, copy=False)))
    if return_counts:
        outputs.append(wrap(counts.astype(backend.int64, copy=False)))
    return outputs[0] if len(outputs) == 1 else tuple(outputs)


def _checked(a, dim, op):
    if not isinstance(a, Tensor):
        raise TypeError(f"{op}: expected a Tensor as input; got {type(a).__name__}")
    if isinstance(dim, bool) or not isinstance(dim, int):
        raise TypeError(f"{op}: dim must be an int; got {dim!r}")
    return a, normalize_dim(dim, a.ndim, op)


def _zero_index(a: Tensor) -> Tensor:
    return wrap(backend.namespace_of(a.data).zeros((), dtype=backend.int64))
