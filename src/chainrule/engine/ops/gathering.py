"""Gathering and scattering along a dimension: gather, scatter, scatter_add, index_select,
index_add, take_along_dim (PyTorch's semantics; scatter_reduce is :mod:`.scatter_reduce`).

Write I for the index tensor (int64), d for ``dim`` and, for an element position
p = (p_0, …, p_{n-1}) of I, p[d ← k] for p with its d-th coordinate replaced by k.

* ``gather(a, d, I)[p] = a[p[d ← I[p]]]``. The output has I's shape, which may be smaller
  than ``a``'s along every dimension but d. Gradient: the output gradient G is scattered back
  and added where an index repeats, ``∂a = scatter_add(0, d, I, G)``.
* ``scatter(a, d, I, s)`` is ``a`` with ``out[p[d ← I[p]]] = s[p]`` for every p of I (when two p
  name the same position, which write wins is not specified: PyTorch's rule). Gradients
  (PyTorch's formulas): ``∂a = G`` with the written positions zeroed, ``∂s = gather(G, d, I)``
  (embedded in zeros where ``s`` is larger than I).
* ``scatter_add(a, d, I, s)``: ``out[p[d ← I[p]]] += s[p]``; ``∂a = G``, ``∂s = gather(G, d, I)``.
* ``index_select(a, d, i)`` (``i`` a vector) picks the slices ``i[k]`` along d;
  ``∂a = index_add(0, d, i, G)``.
* ``index_add(a, d, i, t, alpha)``: ``out[…, i[k], …] += alpha · t[…, k, …]``; ``∂a = G``,
  ``∂t = alpha · index_select(G, d, i)``.
* ``take_along_dim(a, I, d)`` is gather after broadcasting ``a`` and I against each other outside
  d (NumPy's ``take_along_axis``); with d None, ``gather`` on the flattened tensors.

None of these gradients reads the values of ``a`` or ``s``, only the index; as in PyTorch,
whose derivative formulas save them, modifying gather's input in place before backward is
nevertheless an error (and index_add's source may be modified, where PyTorch refuses). References: the
PyTorch documentation of ``torch.gather`` / ``Tensor.scatter_`` / ``Tensor.index_add_`` and its
derivative formulas (tools/autograd/derivatives.yaml).
"""
from __future__ import annotations

from .. import backend
from ..autograd import Function
from ..tensor import Tensor, wrap
from .arguments import check_same_device, is_python_scalar, normalize_dim
from .indexing import IndexPut
from .shape import broadcast_to, reshape

# ------------------------------------------------------------------ positions


def coordinates(index, dim: int) -> tuple:
    """The advanced index that names, for every element p of ``index``, the position
    p[dim ← index[p]]: ``index`` itself along ``dim`` and an open grid (an arange shaped to
    broadcast) along every other dimension."""
    xp = backend.namespace_of(index)
    coords = []
    for d, size in enumerate(index.shape):
        if d == dim:
            coords.append(index)
        else:
            shape = [1] * index.ndim
            shape[d] = size
            coords.append(xp.arange(size).reshape(shape))
    return tuple(coords)


def leading_block(index_shape: tuple) -> tuple:
    """The slices that select the first ``index_shape`` elements of a (larger) source."""
    return tuple(slice(0, size) for size in index_shape)


def embed(values, shape: tuple, block: tuple):
    """``values`` placed at ``block`` in zeros of ``shape`` (``values`` itself when it fills it)."""
    if values.shape == shape:
        return values
    full = backend.namespace_of(values).zeros(shape, dtype=values.dtype)
    full[block] = values
    return full


def embed_graph(values: Tensor, shape: tuple, block: tuple) -> Tensor:
    """:func:`embed` on Tensors, differentiably."""
    if tuple(values.shape) == shape:
        return values
    zeros = wrap(backend.namespace_of(values.data).zeros(shape, dtype=values.dtype))
    return IndexPut.apply(zeros, values, index=block, accumulate=False)


def _zeros_like_shape(grad, shape) -> Tensor:
    return wrap(backend.namespace_of(grad.data).zeros(shape, dtype=grad.dtype))


# ------------------------------------------------------------------ the ops


class Gather(Function):
    op = "gather"
    saves_inputs = True  # the gradient reads only the index, but PyTorch's formula saves the input

    def forward(self, a, index, dim):
        self.shape, self.index, self.dim = a.shape, index, dim
        self.coords = coordinates(index, dim)
        return a[self.coords]

    def backward(self, grad):
        xp = backend.namespace_of(grad)
        full = xp.zeros(self.shape, dtype=grad.dtype)
        xp.add.at(full, self.coords, grad)
        return (full,)

    def backward_graph(self, grad):
        zeros = _zeros_like_shape(grad, self.shape)
        return (ScatterAdd.apply(zeros, grad, index=self.index, dim=self.dim),)


class _Scattering(Function):
    """What scatter and scatter_add share: the positions written and the part of the source read."""

    saves_inputs = False

    def setup(self, src, index, dim):
        self.index, self.dim, self.src_shape = index, dim, src.shape
        self.coords = coordinates(index, dim)
        self.block = leading_block(index.shape)
        return src[self.block]

    def source_gradient(self, grad):
        return embed(grad[self.coords], self.src_shape, self.block)

    def source_gradient_graph(self, grad):
        return embed_graph(Gather.apply(grad, index=self.index, dim=self.dim), self.src_shape, self.block)


class Scatter(_Scattering):
    op = "scatter"

    def forward(self, a, src, index, dim):
        values = self.setup(src, index, dim)
        out = a.copy()
        out[self.coords] = values
        return out

    def backward(self, grad):
        needs_a, needs_src = self.needs_input_grad
        grad_a = grad_src = None
        if needs_a:
            grad_a = grad.copy()
            grad_a[self.coords] = 0
        if needs_src:
            grad_src = self.source_gradient(grad)
        return grad_a, grad_src

    def backward_graph(self, grad):
        needs_a, needs_src = self.needs_input_grad
        grad_a = grad_src = None
        if needs_a:
            zeros = _zeros_like_shape(grad, self.index.shape)
            grad_a = Scatter.apply(grad, zeros, index=self.index, dim=self.dim)
        if needs_src:
            grad_src = self.source_gradient_graph(grad)
        return grad_a, grad_src


class ScatterAdd(_Scattering):
    op = "scatter_add"

    def forward(self, a, src, index, dim):
        values = self.setup(src, index, dim)
        out = a.copy()
        backend.namespace_of(a).add.at(out, self.coords, values)
        return out

    def backward(self, grad):
        needs_a, needs_src = self.needs_input_grad
        return grad if needs_a else None, self.source_gradient(grad) if needs_src else None

    def backward_graph(self, grad):
        needs_a, needs_src = self.needs_input_grad
        return grad if needs_a else None, self.source_gradient_graph(grad) if needs_src else None


class IndexSelect(Function):
    op = "index_select"
    saves_inputs = False

    def forward(self, a, index, dim):
        self.shape, self.index, self.dim = a.shape, index, dim
        return backend.namespace_of(a).take(a, index, axis=dim)

    def backward(self, grad):
        xp = backend.namespace_of(grad)
        full = xp.zeros(self.shape, dtype=grad.dtype)
        xp.add.at(full, (slice(None),) * self.dim + (self.index,), grad)
        return (full,)

    def backward_graph(self, grad):
        zeros = _zeros_like_shape(grad, self.shape)
        return (IndexAdd.apply(zeros, grad, index=self.index, dim=self.dim, alpha=1),)


class IndexAdd(Function):
    op = "index_add"
    saves_inputs = False

    def forward(self, a, source, index, dim, alpha):
        self.index, self.dim, self.alpha = index, dim, alpha
        out = a.copy()
        added = source if alpha == 1 else source * alpha
        backend.namespace_of(a).add.at(out, (slice(None),) * dim + (index,), added)
        return out

    def backward(self, grad):
        needs_a, needs_source = self.needs_input_grad
        grad_source = None
        if needs_source:
            grad_source = backend.namespace_of(grad).take(grad, self.index, axis=self.dim)
            if self.alpha != 1:
                grad_source *= self.alpha
        return grad if needs_a else None, grad_source

    def backward_graph(self, grad):
        needs_a, needs_source = self.needs_input_grad
        grad_source = None
        if needs_source:
            grad_source = IndexSelect.apply(grad, index=self.index, dim=self.dim)
            if self.alpha != 1:
                grad_source = grad_source * self.alpha
        return grad if needs_a else None, grad_source


# ------------------------------------------------------------------ argument checks


def check_input(a, op: str) -> None:
    """``a`` must be a Tensor."""
    if not isinstance(a, Tensor):
        raise TypeError(f"{op}: input must be a Tensor; got {type(a).__name__}")


def check_index(index, like: Tensor, op: str, name: str = "index") -> None:
    """``index`` must be an int64 Tensor on ``like``'s device."""
    if not isinstance(index, Tensor):
        raise TypeError(f"{op}: {name} must be an int64 Tensor; got {type(index).__name__}")
    if index.dtype != backend.int64:
        raise TypeError(f"{op}: {name} must have dtype int64; got {index.dtype}")
    check_same_device(like, index, op)


def check_bounds(index, size: int, dim: int, op: str, name: str = "index", allow_negative: bool = False) -> None:
    """Every value of ``index`` must name a position of a dimension of length ``size``."""
    if index.data.size == 0:
        return
    low, high = int(index.data.min()), int(index.data.max())
    lowest = -size if allow_negative else 0
    for value in (low, high):
        if not lowest <= value < size:
            raise IndexError(f"{op}: {name} has the value {value}, out of bounds for dimension {dim} of size {size}")


def check_dtype(a: Tensor, src: Tensor, op: str, name: str) -> None:
    """The source of a scatter must have the input's dtype (nothing is cast silently)."""
    if src.dtype != a.dtype:
        raise TypeError(f"{op}: {name} has dtype {src.dtype} but input has dtype {a.dtype}; they must be equal")


def _ndim(t: Tensor) -> int:
    return max(t.ndim, 1)  # PyTorch treats a 0-d tensor as having one dimension of length 1


def _shape(t: Tensor) -> tuple:
    return tuple(t.shape) if t.ndim else (1,)


def check_gather_shapes(a: Tensor, index: Tensor, dim, op: str, src=None) -> int:
    """The checks gather and the scatters share; returns ``dim`` as a non-negative axis.
    ``index`` must have the input's number of dimensions and be no larger than the input
    outside ``dim`` (and, for a scatter, no larger than ``src`` anywhere)."""
    if isinstance(dim, bool) or not isinstance(dim, int):
        raise TypeError(f"{op}: dim must be an int; got {dim!r}")
    axis = normalize_dim(dim, _ndim(a), op)
    check_index(index, a, op)
    if _ndim(index) != _ndim(a):
        raise ValueError(
            f"{op}: index has {index.ndim} dimension(s) but input has {a.ndim}; they must have the same number"
        )
    for d, (n, m) in enumerate(zip(_shape(index), _shape(a))):
        if d != axis and n > m:
            raise ValueError(
                f"{op}: index of shape {tuple(index.shape)} is larger than input of shape {tuple(a.shape)} "
                f"at dimension {d} (only dim {dim} may be larger)"
            )
    if src is not None:
        if _ndim(src) != _ndim(a) or any(n > m for n, m in zip(_shape(index), _shape(src))):
            raise ValueError(
                f"{op}: src of shape {tuple(src.shape)} must have the input's number of dimensions and be "
                f"no smaller than index (shape {tuple(index.shape)}) in any dimension"
            )
    check_bounds(index, _shape(a)[axis], axis, op)
    return axis


def as_one_dimensional(t: Tensor) -> Tensor:
    """A 0-d tensor as a tensor of shape (1,) (any other tensor as it is)."""
    return t if t.ndim else reshape(t, (1,))


# ------------------------------------------------------------------ public functions


def gather(input: Tensor, dim: int, index: Tensor) -> Tensor:  # noqa: A002 - PyTorch's name
    """Values of ``input`` along ``dim`` at the positions ``index`` names:
    ``out[i][j][k] = input[index[i][j][k]][j][k]`` for dim 0 (torch.gather)."""
    check_input(input, "gather")
    axis = check_gather_shapes(input, index, dim, "gather")
    out = Gather.apply(as_one_dimensional(input), index=as_one_dimensional(index).data, dim=axis)
    return out if index.ndim else reshape(out, ())


def _scatter_call(cls, op, input, dim, index, src):
    check_input(input, op)
    axis = check_gather_shapes(input, index, dim, op, src)
    check_dtype(input, src, op, "src")
    check_same_device(input, src, op)
    out = cls.apply(as_one_dimensional(input), as_one_dimensional(src), index=as_one_dimensional(index).data, dim=axis)
    return out if input.ndim else reshape(out, ())


def scatter(input: Tensor, dim: int, index: Tensor, src=None, *, value=None) -> Tensor:  # noqa: A002
    """``input`` with the values of ``src`` (a tensor, or a number: ``value``) written at the
    positions ``index`` names along ``dim``, out of place (torch.scatter). With repeated
    positions, which value is written is not specified."""
    check_input(input, "scatter")
    if (src is None) == (value is None):
        raise TypeError("scatter: pass exactly one of src (a tensor or a number) and value (a number)")
    if src is None:
        src = value
    if not isinstance(src, Tensor):
        if not is_python_scalar(src):
            raise TypeError(f"scatter: src must be a Tensor or a number; got {type(src).__name__}")
        check_index(index, input, "scatter")
        src = wrap(backend.namespace_of(input.data).full(tuple(index.shape), src, dtype=input.dtype))
    return _scatter_call(Scatter, "scatter", input, dim, index, src)


def scatter_add(input: Tensor, dim: int, index: Tensor, src: Tensor) -> Tensor:  # noqa: A002
    """``input`` with ``src[p]`` added at position p[dim ← index[p]] for every p of ``index``
    (repeated positions add up), out of place (torch.scatter_add)."""
    if not isinstance(src, Tensor):
        raise TypeError(f"scatter_add: src must be a Tensor; got {type(src).__name__}")
    return _scatter_call(ScatterAdd, "scatter_add", input, dim, index, src)


def _check_vector_index(input: Tensor, dim, index, op: str) -> int:
    check_input(input, op)
    if isinstance(dim, bool) or not isinstance(dim, int):
        raise TypeError(f"{op}: dim must be an int; got {dim!r}")
    axis = normalize_dim(dim, _ndim(input), op)
    check_index(index, input, op)
    if index.ndim > 1:
        raise IndexError(f"{op}: index must be a vector (0 or 1 dimension); got shape {tuple(index.shape)}")
    check_bounds(index, _shape(input)[axis], axis, op)
    return axis


def index_select(input: Tensor, dim: int, index: Tensor) -> Tensor:  # noqa: A002
    """The slices of ``input`` along ``dim`` at the positions in ``index`` (a vector; repeats
    allowed), in that order (torch.index_select)."""
    axis = _check_vector_index(input, dim, index, "index_select")
    if not input.ndim and index.numel() != 1:
        raise IndexError(f"index_select: a 0-d input takes one index; got {index.numel()}")
    out = IndexSelect.apply(as_one_dimensional(input), index=as_one_dimensional(index).data, dim=axis)
    return out if input.ndim else reshape(out, ())


def index_add(input: Tensor, dim: int, index: Tensor, source: Tensor, *, alpha=1) -> Tensor:  # noqa: A002
    """``input`` with ``alpha * source[…, k, …]`` added to the slice ``index[k]`` along ``dim``
    (repeats add up), out of place (torch.index_add)."""
    axis = _check_vector_index(input, dim, index, "index_add")
    if not isinstance(source, Tensor):
        raise TypeError(f"index_add: source must be a Tensor; got {type(source).__name__}")
    check_dtype(input, source, "index_add", "source")
    check_same_device(input, source, "index_add")
    expected = list(input.shape)
    if input.ndim:
        expected[axis] = index.numel()
    if tuple(source.shape) != tuple(expected) or (not input.ndim and index.numel() != 1):
        raise ValueError(
            f"index_add: source of shape {tuple(source.shape)} must have the input's shape {tuple(input.shape)} "
            f"except along dim {dim}, where its length must be the number of indices ({index.numel()})"
        )
    if not is_python_scalar(alpha):
        raise TypeError(f"index_add: alpha must be a number; got {type(alpha).__name__}")
    if isinstance(alpha, float) and input.dtype.kind != "f":
        raise TypeError(f"index_add: alpha must be an int for an input of dtype {input.dtype}; got {alpha}")
    out = IndexAdd.apply(as_one_dimensional(input), as_one_dimensional(source),
                         index=as_one_dimensional(index).data, dim=axis, alpha=alpha)
    return out if input.ndim else reshape(out, ())


def take_along_dim(input: Tensor, indices: Tensor, dim=None) -> Tensor:  # noqa: A002
    """Values of ``input`` at ``indices`` along ``dim``, with ``input`` and ``indices`` broadcast
    against each other in the other dimensions (torch.take_along_dim, NumPy's
    take_along_axis); negative indices count from the end. With dim None, positions in the
    flattened tensor."""
    check_input(input, "take_along_dim")
    check_index(indices, input, "take_along_dim", "indices")
    if dim is None:
        flat = reshape(input, (-1,))
        check_bounds(indices, flat.shape[0], 0, "take_along_dim", "indices")
        return Gather.apply(flat, index=indices.data.reshape(-1), dim=0)
    if isinstance(dim, bool) or not isinstance(dim, int):
        raise TypeError(f"take_along_dim: dim must be an int or None; got {dim!r}")
    if input.ndim != indices.ndim:
        raise ValueError(
            f"take_along_dim: input and indices must have the same number of dimensions; got {input.ndim} "
            f"for input and {indices.ndim} for indices"
        )
    axis = normalize_dim(dim, input.ndim, "take_along_dim")
    if not input.ndim:
        raise IndexError("take_along_dim: a 0-d input has no dimension to take along; pass dim=None")
    size = input.shape[axis]
    check_bounds(indices, size, axis, "take_along_dim", "indices", allow_negative=True)
    shape = _broadcast_outside(input, indices, axis)
    expanded = broadcast_to(input, shape[:axis] + (size,) + shape[axis + 1:])
    positions = indices.data % size if indices.data.size and int(indices.data.min()) < 0 else indices.data
    xp = backend.namespace_of(positions)
    positions = xp.broadcast_to(positions, shape[:axis] + (indices.shape[axis],) + shape[axis + 1:])
    return Gather.apply(expanded, index=positions, dim=axis)


def _broadcast_outside(input: Tensor, indices: Tensor, axis: int) -> tuple:
    """The broadcast of the two shapes with ``axis`` left out (set to 1)."""
    left = tuple(1 if d == axis else n for d, n in enumerate(input.shape))
    right = tuple(1 if d == axis else n for d, n in enumerate(indices.shape))
    try:
        return backend.host.broadcast_shapes(left, right)
    except ValueError:
        raise ValueError(
            f"take_along_dim: input of shape {tuple(input.shape)} and indices of shape {tuple(indices.shape)} "
            f"do not broadcast outside dim {axis}"
        ) from None
