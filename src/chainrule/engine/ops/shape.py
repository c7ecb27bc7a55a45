"""Shape ops: reshape, transpose/permute, movedim, squeeze/unsqueeze, unflatten, expand,
cat/stack, split/chunk, narrow, pad (indexing is :mod:`.indexing`; repeat, tile, flip and roll,
which copy, are :mod:`.rearrange`).

None of these changes a value, so each backward only moves the gradient back to
where the value came from: reshape it back, transpose it back, slice it apart,
or scatter it (with accumulation where an index repeats).
"""
from __future__ import annotations

from .. import backend
from ..autograd import Function, ViewFunction
from ..tensor import Tensor
from .arguments import check_same_device, normalize_dim, normalize_dims
from .indexing import index_tensor

# ------------------------------------------------------------------ reshaping

class Reshape(ViewFunction):
    op = "reshape"

    def forward(self, a, shape):
        self.shape = a.shape
        return a.reshape(shape)

    def backward(self, grad):
        return (grad.reshape(self.shape),)

    def backward_graph(self, grad):
        return (grad.reshape(self.shape),)


class Permute(ViewFunction):
    op = "permute"

    def forward(self, a, axes):
        self.inverse = tuple(sorted(range(len(axes)), key=axes.__getitem__))
        return a.transpose(axes)

    def backward(self, grad):
        return (grad.transpose(self.inverse),)

    def backward_graph(self, grad):
        return (grad.permute(*self.inverse) if self.inverse else grad,)


class Expand(ViewFunction):
    """Broadcast to a larger shape (a view); the engine sums the gradient back."""

    op = "expand"

    def forward(self, a, shape):
        return backend.namespace_of(a).broadcast_to(a, shape)

    def backward(self, grad):
        return (grad,)

    def backward_graph(self, grad):
        return (grad,)


def reshape(a: Tensor, *shape) -> Tensor:
    """The same values in a new shape (one dimension may be -1: inferred).
    ``view`` is the same operation: a view when memory allows, else a copy."""
    target = _shape_argument(shape)
    known = 1
    for size in target:
        if size != -1:
            known *= size
    if target.count(-1) > 1 or any(size < -1 for size in target):
        raise ValueError(f"reshape: invalid shape {target}: at most one -1 and no other negative sizes")
    inferable = -1 in target and known > 0 and a.data.size % known == 0
    if (-1 in target and not inferable) or (-1 not in target and known != a.data.size):
        raise ValueError(
            f"reshape: cannot reshape a tensor of shape {tuple(a.shape)} "
            f"({a.data.size} elements) into shape {target}"
        )
    return Reshape.apply(a, shape=target)


view = reshape


def _shape_argument(shape) -> tuple:
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        shape = tuple(shape[0])
    for size in shape:
        if isinstance(size, bool) or not isinstance(size, int):
            raise TypeError(f"shape must be ints; got {shape!r}")
    return tuple(shape)


def flatten(a: Tensor, start_dim: int = 0, end_dim: int = -1) -> Tensor:
    """Merge dimensions start_dim … end_dim into one."""
    if a.ndim == 0:
        return reshape(a, 1)
    start = normalize_dim(start_dim, a.ndim, "flatten")
    end = normalize_dim(end_dim, a.ndim, "flatten")
    if start > end:
        raise ValueError(f"flatten: start_dim {start_dim} comes after end_dim {end_dim}")
    merged = 1
    for size in a.shape[start:end + 1]:
        merged *= size
    return reshape(a, a.shape[:start] + (merged,) + a.shape[end + 1:])


def squeeze(a: Tensor, dim=None) -> Tensor:
    """Remove dimensions of size 1 (all of them, or those in ``dim``; others are kept)."""
    axes = normalize_dims(dim, a.ndim, "squeeze")
    if axes is None:
        axes = tuple(i for i, size in enumerate(a.shape) if size == 1)
    shape = tuple(size for i, size in enumerate(a.shape) if not (i in axes and size == 1))
    return reshape(a, shape)


def unsqueeze(a: Tensor, dim: int) -> Tensor:
    """Insert a dimension of size 1 at position ``dim`` (-1 appends)."""
    position = normalize_dim(dim, a.ndim + 1, "unsqueeze")
    return reshape(a, a.shape[:position] + (1,) + a.shape[position:])


def permute(a: Tensor, *dims) -> Tensor:
    """Reorder the dimensions: output dim i is input dim ``dims[i]``."""
    axes = _shape_argument(dims)
    normalized = tuple(normalize_dim(d, a.ndim, "permute") for d in axes)
    if sorted(normalized) != list(range(a.ndim)):
        raise ValueError(
            f"permute: dims {axes} are not a permutation of the {a.ndim} dimensions of shape {tuple(a.shape)}"
        )
    return Permute.apply(a, axes=normalized)


def movedim(input: Tensor, source, destination) -> Tensor:  # noqa: A002 - PyTorch's name
    """Move the dimensions ``source`` (an int or a sequence) to the positions ``destination``;
    the other dimensions keep their order (torch.movedim, NumPy's moveaxis). A view."""
    ndim = max(input.ndim, 1)
    sources = _dims_argument(source, ndim, "movedim", "source")
    targets = _dims_argument(destination, ndim, "movedim", "destination")
    if len(sources) != len(targets):
        raise ValueError(
            f"movedim: source {source!r} and destination {destination!r} must name the same number of dims"
        )
    if input.ndim == 0:
        return Permute.apply(input, axes=())
    order = [d for d in range(input.ndim) if d not in sources]
    for target, origin in sorted(zip(targets, sources)):
        order.insert(target, origin)
    return Permute.apply(input, axes=tuple(order))


moveaxis = movedim


def _dims_argument(dims, ndim: int, op: str, name: str) -> tuple:
    """An int or a sequence of ints as non-negative axes, in the given order, without repeats."""
    items = tuple(dims) if isinstance(dims, (list, tuple)) else (dims,)
    for d in items:
        if isinstance(d, bool) or not isinstance(d, int):
            raise TypeError(f"{op}: {name} must be an int or a sequence of ints; got {dims!r}")
    axes = tuple(normalize_dim(d, ndim, op) for d in items)
    if len(set(axes)) != len(axes):
        raise ValueError(f"{op}: repeated dim in {name} {dims!r}")
    return axes


def transpose(a: Tensor, dim0: int, dim1: int) -> Tensor:
    """Swap two dimensions."""
    axes = list(range(a.ndim))
    if a.ndim == 0:  # as PyTorch: dims 0 and -1 are valid for a 0-d tensor
        normalize_dims(dim0, 0, "transpose"), normalize_dims(dim1, 0, "transpose")
        return Permute.apply(a, axes=())
    i, j = normalize_dim(dim0, a.ndim, "transpose"), normalize_dim(dim1, a.ndim, "transpose")
    axes[i], axes[j] = axes[j], axes[i]
    return Permute.apply(a, axes=tuple(axes))


def unflatten(input: Tensor, dim: int, sizes) -> Tensor:  # noqa: A002
    """Split dimension ``dim`` into dimensions of the given ``sizes`` (one may be -1:
    inferred), which must multiply up to its length (torch.unflatten). A view."""
    if input.ndim == 0:
        raise IndexError("unflatten: a 0-d tensor has no dimension to unflatten")
    axis = normalize_dim(dim, input.ndim, "unflatten")
    if not isinstance(sizes, (list, tuple)):
        raise TypeError(f"unflatten: sizes must be a tuple or list of ints; got {type(sizes).__name__}")
    parts = _shape_argument((tuple(sizes),))
    if not parts:
        raise ValueError("unflatten: sizes must be non-empty")
    length = input.shape[axis]
    known = 1
    for size in parts:
        known *= size if size != -1 else 1
    inferred = parts.count(-1) == 1 and known > 0 and length % known == 0
    valid = all(size >= -1 for size in parts) and parts.count(-1) <= 1
    if not valid or (-1 in parts and not inferred) or (-1 not in parts and known != length):
        raise ValueError(
            f"unflatten: sizes {parts} don't multiply up to the length {length} of dim {dim} "
            f"(at most one -1, no other negative size)"
        )
    parts = tuple(length // known if size == -1 else size for size in parts)
    return reshape(input, input.shape[:axis] + parts + input.shape[axis + 1:])


def expand(a: Tensor, *shape) -> Tensor:
    """Broadcast to ``shape`` without copying (-1 keeps a dimension's size)."""
    target = _shape_argument(shape)
    offset = len(target) - a.ndim
    if offset < 0:
        raise ValueError(f"expand: target shape {target} has fewer dimensions than the tensor's {tuple(a.shape)}")
    resolved = tuple(
        a.shape[i - offset] if size == -1 and i >= offset else size for i, size in enumerate(target)
    )
    if any(size < 0 for size in resolved):
        raise ValueError(
            f"expand: sizes must be non-negative (-1 only for an existing dimension); "
            f"got {target} for a tensor of shape {tuple(a.shape)}"
        )
    return broadcast_to(a, resolved)


def broadcast_to(a: Tensor, shape) -> Tensor:
    """Broadcast to ``shape`` (NumPy rules) without copying."""
    target = _shape_argument((shape,))
    offset = len(target) - a.ndim
    compatible = offset >= 0 and all(
        size == target[i + offset] or size == 1 for i, size in enumerate(a.shape)
    )
    if not compatible:
        raise ValueError(f"broadcast_to: cannot broadcast shape {tuple(a.shape)} to {target}")
    if tuple(a.shape) == target:
        return a
    return Expand.apply(a, shape=target)


# ------------------------------------------------------------------ joining and splitting

class Cat(Function):
    op = "cat"
    saves_inputs = False

    def forward(self, *arrays, axis):
        self.axis = axis
        self.bounds = _offsets([array.shape[axis] for array in arrays])
        return backend.namespace_of(arrays[0]).concatenate(arrays, axis=axis)

    def backward(self, grad):
        index = [slice(None)] * grad.ndim
        grads = []
        for needs, (start, stop) in zip(self.needs_input_grad, self.bounds):
            index[self.axis] = slice(start, stop)
            grads.append(grad[tuple(index)] if needs else None)
        return tuple(grads)

    backward_graph = backward  # slicing a Tensor is differentiable: the same code records itself


class Stack(Function):
    op = "stack"
    saves_inputs = False

    def forward(self, *arrays, axis):
        self.axis = axis
        return backend.namespace_of(arrays[0]).stack(arrays, axis=axis)

    def backward(self, grad):
        moved = backend.namespace_of(grad).moveaxis(grad, self.axis, 0)
        return tuple(moved[i] if needs else None for i, needs in enumerate(self.needs_input_grad))

    def backward_graph(self, grad):
        index = [slice(None)] * grad.ndim
        grads = []
        for i, needs in enumerate(self.needs_input_grad):
            index[self.axis] = i
            grads.append(grad[tuple(index)] if needs else None)
        return tuple(grads)


def _offsets(sizes) -> list:
    bounds, start = [], 0
    for size in sizes:
        bounds.append((start, start + size))
        start += size
    return bounds


def cat(tensors, dim=None, *, axis=None) -> Tensor:
    """Join tensors along an existing dimension ``dim`` (NumPy's ``axis`` is an alias; 0 by
    default); all other dimensions must match. ``concatenate`` is the same function."""
    if dim is not None and axis is not None:
        raise TypeError("cat: pass either dim or axis, not both")
    dim = axis if dim is None else dim
    dim = 0 if dim is None else dim
    tensors = _tensor_sequence(tensors, "cat")
    first = tensors[0]
    axis = normalize_dim(dim, first.ndim, "cat")
    for position, t in enumerate(tensors[1:], start=1):
        check_same_device(first, t, "cat")
        same_rest = t.ndim == first.ndim and all(
            t.shape[i] == first.shape[i] for i in range(first.ndim) if i != axis
        )
        if not same_rest:
            raise ValueError(
                f"cat: tensor {position} has shape {tuple(t.shape)}, which does not match "
                f"tensor 0's shape {tuple(first.shape)} outside dim {dim}"
            )
    if first.ndim == 0:
        raise ValueError("cat: zero-dimensional tensors cannot be concatenated; use stack")
    return Cat.apply(*tensors, axis=axis)


concatenate = cat


def stack(tensors, dim: int = 0) -> Tensor:
    """Join tensors of the same shape along a new dimension ``dim``."""
    tensors = _tensor_sequence(tensors, "stack")
    first = tensors[0]
    for position, t in enumerate(tensors[1:], start=1):
        check_same_device(first, t, "stack")
        if tuple(t.shape) != tuple(first.shape):
            raise ValueError(
                f"stack: tensor {position} has shape {tuple(t.shape)} but tensor 0 has "
                f"shape {tuple(first.shape)}; stacked tensors must have equal shapes"
            )
    axis = normalize_dim(dim, first.ndim + 1, "stack")
    return Stack.apply(*tensors, axis=axis)


def _tensor_sequence(tensors, op: str) -> list:
    if isinstance(tensors, Tensor) or not isinstance(tensors, (list, tuple)):
        raise TypeError(f"{op}: expected a list or tuple of tensors; got {type(tensors).__name__}")
    if not tensors:
        raise ValueError(f"{op}: expected at least one tensor; got an empty sequence")
    for position, t in enumerate(tensors):
        if not isinstance(t, Tensor):
            raise TypeError(f"{op}: element {position} is a {type(t).__name__}, not a Tensor")
    return list(tensors)


def split(a: Tensor, split_size_or_sections, dim: int = 0) -> tuple:
    """Split into pieces along ``dim``: an int gives pieces of that size (the last may
    be smaller); a list gives the size of each piece, which must add up to the length."""
    if a.ndim == 0:
        raise ValueError("split: expects a tensor with at least one dimension; got a 0-d tensor")
    axis = normalize_dim(dim, a.ndim, "split")
    length = a.shape[axis]
    if isinstance(split_size_or_sections, bool) or not isinstance(split_size_or_sections, (int, list, tuple)):
        raise TypeError(
            f"split: split_size_or_sections must be an int or a list of ints; got {split_size_or_sections!r}"
        )
    if isinstance(split_size_or_sections, int) and not isinstance(split_size_or_sections, bool):
        size = split_size_or_sections
        if size < 0 or (size == 0 and length):
            raise ValueError(f"split: split_size must be positive; got {size} (0 only splits a dimension of length 0)")
        sizes = [min(size, length - start) for start in range(0, length, size)] if size else []
        sizes = sizes or [0]
    else:
        sizes = list(split_size_or_sections)
        if any(isinstance(s, bool) or not isinstance(s, int) for s in sizes):
            raise TypeError(f"split: sections must be ints; got {sizes}")
        if any(s < 0 for s in sizes) or sum(sizes) != length:
            raise ValueError(f"split: sections {sizes} do not add up to the length {length} of dim {dim}")
    return tuple(_slice_along(a, axis, start, stop) for start, stop in _offsets(sizes))


def chunk(a: Tensor, chunks: int, dim: int = 0) -> tuple:
    """Split into ``chunks`` pieces of equal size (the last may be smaller), as PyTorch."""
    if isinstance(chunks, bool) or not isinstance(chunks, int) or chunks <= 0:
        raise ValueError(f"chunk: chunks must be a positive int; got {chunks!r}")
    length = a.shape[normalize_dim(dim, a.ndim, "chunk")]
    size = -(-length // chunks) if length else 1
    return split(a, size, dim)


def narrow(input: Tensor, dim: int, start, length: int) -> Tensor:  # noqa: A002
    """The ``length`` elements of ``input`` along ``dim`` from ``start`` on (negative: counted
    from the end), as a view (torch.narrow). ``start`` may be a 0-d integer tensor."""
    if input.ndim == 0:
        raise IndexError("narrow: cannot be applied to a 0-d tensor")
    axis = normalize_dim(dim, input.ndim, "narrow")
    size = input.shape[axis]
    start = _int_argument(start, "narrow", "start")
    length = _int_argument(length, "narrow", "length")
    if not -size <= start <= size:
        raise IndexError(f"narrow: start {start} is out of range for dim {dim} of length {size}")
    start = start + size if start < 0 else start
    if length < 0:
        raise ValueError(f"narrow: length must be non-negative; got {length}")
    if start + length > size:
        raise ValueError(f"narrow: start ({start}) + length ({length}) exceeds the length {size} of dim {dim}")
    return _slice_along(input, axis, start, start + length)


def _int_argument(value, op: str, name: str) -> int:
    if isinstance(value, Tensor) and value.ndim == 0 and value.dtype.kind in "iu":
        return int(value.item())
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{op}: {name} must be an int; got {value!r}")
    return value


def _slice_along(a: Tensor, axis: int, start: int, stop: int) -> Tensor:
    index = (slice(None),) * axis + (slice(start, stop),)
    return index_tensor(a, index)


# ------------------------------------------------------------------ padding

class Pad(Function):
    op = "pad"
    saves_inputs = False

    def forward(self, a, widths, value):
        self.inner = tuple(slice(before, before + size) for (before, _), size in zip(widths, a.shape))
        return backend.namespace_of(a).pad(a, widths, mode="constant", constant_values=value)

    def backward(self, grad):
        return (grad[self.inner],)

    def backward_graph(self, grad):
        return (grad[self.inner],)


def pad(a: Tensor, pad, mode: str = "constant", value: float = 0.0) -> Tensor:  # noqa: A002 - PyTorch's name
    """Pad with a constant, PyTorch's ``F.pad`` convention: ``pad`` lists
    (before, after) pairs starting from the last dimension, e.g. (1, 1, 2, 0) pads
    the last dim by 1 on both sides and the one before it by 2 in front."""
    if mode != "constant":
        raise ValueError(f"pad: only mode='constant' is supported; got {mode!r}")
    if a.ndim == 0:
        raise ValueError("pad: a 0-d tensor has no dimension to pad; reshape it to (1,) first")
    pad = tuple(pad)
    if len(pad) % 2 or len(pad) // 2 > a.ndim:
        raise ValueError(
            f"pad: expected an even number of widths for at most {a.ndim} dimensions; got {pad}"
        )
    if any(isinstance(w, bool) or not isinstance(w, int) or w < 0 for w in pad):
        raise ValueError(f"pad: widths must be non-negative ints; got {pad}")
    widths = [(0, 0)] * a.ndim
    for k in range(len(pad) // 2):
        widths[a.ndim - 1 - k] = (pad[2 * k], pad[2 * k + 1])
    return Pad.apply(a, widths=tuple(widths), value=value)


# ------------------------------------------------------------------ indexing
