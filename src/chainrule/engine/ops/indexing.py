"""Indexing: reading ``a[index]`` and writing ``a[index] = v``, differentiably.

``a[index]`` (:class:`Index`) accepts what NumPy does: ints, slices, None, ``...``, integer
arrays and boolean masks. Its backward scatters the gradient into zeros of the input's shape,
accumulating where an integer index repeats (an element picked twice gets both gradients).

``index_put(a, index, v)`` (:class:`IndexPut`) is ``a`` with ``a[index]`` replaced by ``v``
(or increased by it with ``accumulate=True``), out of place: the gradient of ``a`` is G with
the written positions zeroed (kept with ``accumulate``), the gradient of ``v`` is ``G[index]``
summed back to ``v``'s shape. ``a[index] = v`` on a tensor in a graph is this op, applied in
place (:mod:`chainrule.engine.inplace`).

``masked_fill(a, m, v)`` (:class:`MaskedFill`) is ``v`` where the bool mask ``m`` holds and ``a``
elsewhere (``a`` and ``m`` broadcast): ``∂a = G`` with the masked positions zeroed, and ``v``
(a number, or a 0-d tensor) gets ``∂v = Σ_{m} G``. ``masked_select(a, m)`` is ``a[m]`` after
broadcasting ``a`` and ``m`` (a 1-D result; its gradient scatters back, summed over the
broadcast). ``nonzero`` gives the positions of the non-zero elements (int64, no gradient).
"""
from __future__ import annotations

from .. import backend
from ..autograd import Function, ViewFunction
from ..tensor import Tensor, wrap
from .arguments import as_operand, check_same_device
from .copies import cast, where


class Index(ViewFunction):
    """``a[index]``. Backward scatters the gradient into zeros of the input's shape;
    with integer-array indices it accumulates, since an element picked twice gets
    both gradients."""

    op = "index"

    def forward(self, a, index, accumulate):
        self.shape, self.dtype, self.index, self.accumulate = a.shape, a.dtype, index, accumulate
        return a[index]

    def backward(self, grad):
        xp = backend.namespace_of(grad)
        full = xp.zeros(self.shape, dtype=grad.dtype)
        if self.accumulate:
            xp.add.at(full, self.index, grad)
        else:
            full[self.index] = grad
        return (full,)

    def backward_graph(self, grad):
        xp = backend.namespace_of(grad.data)
        zeros = wrap(xp.zeros(self.shape, dtype=grad.dtype))
        return (IndexPut.apply(zeros, grad, index=self.index, accumulate=self.accumulate),)


def index_tensor(a: Tensor, index) -> Tensor:
    """``a[index]`` with basic (ints, slices, None, ...) and advanced (integer
    arrays, boolean masks) indexing, as NumPy."""
    key, advanced_int = _index_key(index, a)
    return Index.apply(a, index=key, accumulate=advanced_int)


def _index_key(index, like: Tensor):
    """Translate Tensors inside an index to arrays; report whether any integer
    array is present (those may repeat positions)."""
    items = index if isinstance(index, tuple) else (index,)
    translated, advanced_int = [], False
    for item in items:
        if isinstance(item, Tensor):
            check_same_device(like, item, "index")
            item = item.data
        elif isinstance(item, list):
            item = backend.host.asarray(item)
            if item.size == 0:
                item = item.astype(backend.int64)
            item = backend.move(item, like.device)
        if backend.is_array(item):
            kind = item.dtype.kind
            if kind not in "biu":
                raise IndexError(
                    f"index: tensors used as indices must be integer or bool; got dtype {item.dtype}"
                )
            advanced_int = advanced_int or kind in "iu"
        translated.append(item)
    key = tuple(translated) if isinstance(index, tuple) else translated[0]
    return key, advanced_int


class IndexPut(Function):
    """``a`` with ``a[index]`` replaced by (or, accumulating, increased by) ``v``."""

    op = "index_put"
    saves_inputs = False  # the gradients depend only on where, not on what, was written

    def forward(self, a, v, index, accumulate):
        xp = backend.namespace_of(a)
        self.index, self.accumulate, self.v_shape = index, accumulate, v.shape
        out = a.copy()
        if accumulate:
            xp.add.at(out, index, v)
        else:
            out[index] = v
        return out

    def backward(self, grad):
        needs_a, needs_v = self.needs_input_grad
        grad_a = grad_v = None
        if needs_a:
            grad_a = grad
            if not self.accumulate:
                grad_a = grad.copy()
                grad_a[self.index] = 0
        if needs_v:
            picked = grad[self.index]
            grad_v = picked if picked.shape == self.v_shape else _sum_to(picked, self.v_shape)
        return grad_a, grad_v

    def backward_graph(self, grad):
        needs_a, needs_v = self.needs_input_grad
        grad_a = grad_v = None
        if needs_a:
            grad_a = grad
            if not self.accumulate:
                zeros = wrap(backend.namespace_of(grad.data).zeros(self.v_shape, dtype=grad.dtype))
                grad_a = IndexPut.apply(grad, zeros, index=self.index, accumulate=False)
        if needs_v:  # picking G[index] again; its own backward must add up repeated positions
            grad_v = Index.apply(grad, index=self.index, accumulate=picks_repeatable(self.index))
        return grad_a, grad_v


def picks_repeatable(key) -> bool:
    """Whether an (already translated) index holds an integer array, which may name a position
    twice (then a scatter back must add up)."""
    items = key if isinstance(key, tuple) else (key,)
    return any(backend.is_array(item) and item.dtype.kind in "iu" for item in items)


def index_put(a: Tensor, index, values, accumulate: bool = False) -> Tensor:
    """``a`` with ``a[index]`` set to ``values`` (added to it with ``accumulate=True``), out of
    place; ``values`` broadcasts to the indexed shape. With ``accumulate``, repeated integer
    indices add up (as ``torch.index_put(..., accumulate=True)``)."""
    key, _ = _index_key(index, a)
    values = as_operand(values, a, "index_put")
    if values.dtype != a.dtype:
        raise TypeError(f"index_put: values have dtype {values.dtype} but the tensor has dtype {a.dtype}")
    check_same_device(a, values, "index_put")
    indexed = a.data[key].shape
    try:
        fits = backend.host.broadcast_shapes(tuple(values.shape), indexed) == indexed
    except ValueError:
        fits = False
    if not fits:
        raise RuntimeError(
            f"index_put: values of shape {tuple(values.shape)} do not broadcast to the indexed shape {indexed}"
        )
    return IndexPut.apply(a, values, index=key, accumulate=bool(accumulate))


def _sum_to(array, shape):
    """Sum a broadcast gradient back to ``shape`` (the values' own shape)."""
    from ..autograd import unbroadcast  # noqa: PLC0415 - autograd's one un-broadcast

    return unbroadcast(array, shape)


# ------------------------------------------------------------------ masks


class MaskedFill(Function):
    """``value`` where ``mask`` holds, ``a`` elsewhere (broadcast)."""

    op = "masked_fill"
    saves_inputs = False

    def forward(self, a, value, mask):
        self.mask = mask
        return backend.namespace_of(a).where(mask, value, a)

    def backward(self, grad):
        xp = backend.namespace_of(grad)
        needs_a, needs_value = self.needs_input_grad
        grad_a = xp.where(self.mask, 0, grad) if needs_a else None
        grad_value = xp.where(self.mask, grad, 0).sum() if needs_value else None
        return grad_a, grad_value

    def backward_graph(self, grad):
        mask = wrap(self.mask)
        needs_a, needs_value = self.needs_input_grad
        grad_a = where(mask, 0.0, grad) if needs_a else None
        grad_value = where(mask, grad, 0.0).sum() if needs_value else None
        return grad_a, grad_value


class MaskedSelect(Index):
    """``a[mask]`` for a mask of ``a``'s shape: :class:`Index`, except that, as in PyTorch (whose
    formula saves the input), modifying the input in place before backward is an error."""

    op = "masked_select"
    saves_inputs = True


def check_mask(a: Tensor, mask, op: str) -> tuple:
    """``mask`` must be a bool Tensor that broadcasts with ``a``; returns the broadcast shape."""
    if not isinstance(a, Tensor):
        raise TypeError(f"{op}: input must be a Tensor; got {type(a).__name__}")
    if not isinstance(mask, Tensor):
        raise TypeError(f"{op}: mask must be a bool Tensor; got {type(mask).__name__}")
    if mask.dtype != backend.bool_:
        raise TypeError(f"{op}: mask must have dtype bool; got {mask.dtype}")
    check_same_device(a, mask, op)
    try:
        return backend.host.broadcast_shapes(tuple(a.shape), tuple(mask.shape))
    except ValueError:
        raise ValueError(
            f"{op}: mask of shape {tuple(mask.shape)} does not broadcast with input of shape {tuple(a.shape)}"
        ) from None


def masked_fill(input: Tensor, mask: Tensor, value) -> Tensor:  # noqa: A002 - PyTorch's name
    """``value`` where the bool ``mask`` holds and ``input`` elsewhere, out of place
    (torch.masked_fill). ``value`` is a number or a 0-d tensor (converted to ``input``'s dtype;
    a tensor that requires grad receives the gradient of the filled positions)."""
    check_mask(input, mask, "masked_fill")
    if isinstance(value, Tensor):
        if value.ndim:
            raise ValueError(
                f"masked_fill: value must be a number or a 0-dimensional tensor; got a tensor of shape "
                f"{tuple(value.shape)}"
            )
        check_same_device(input, value, "masked_fill")
        if value.dtype != input.dtype:
            value = cast(value, input.dtype)
    elif type(value) in (int, float, bool):
        value = wrap(backend.namespace_of(input.data).asarray(value).astype(input.dtype))
    else:
        raise TypeError(f"masked_fill: value must be a number or a 0-dimensional tensor; got {type(value).__name__}")
    return MaskedFill.apply(input, value, mask=mask.data)


def masked_select(input: Tensor, mask: Tensor) -> Tensor:  # noqa: A002
    """The elements of ``input`` where the bool ``mask`` holds, as a 1-D tensor (``input``
    and ``mask`` broadcast; torch.masked_select)."""
    shape = check_mask(input, mask, "masked_select")
    if tuple(input.shape) != shape:
        input = input.expand(*shape)  # noqa: A001 - the broadcast view (ops.expand)
    selector = backend.namespace_of(mask.data).broadcast_to(mask.data, shape)
    return MaskedSelect.apply(input, index=selector, accumulate=False)


def nonzero(input: Tensor, *, as_tuple: bool = False):  # noqa: A002
    """The positions of the non-zero elements (torch.nonzero): an int64 tensor of shape
    (count, ndim), one row per element in row-major order, or with ``as_tuple`` one 1-D
    tensor per dimension (a 0-d input counts as one dimension of length 1). No gradient."""
    if not isinstance(input, Tensor):
        raise TypeError(f"nonzero: input must be a Tensor; got {type(input).__name__}")
    xp = backend.namespace_of(input.data)
    if as_tuple:
        data = input.data if input.ndim else input.data.reshape(1)
        return tuple(wrap(xp.asarray(p, dtype=backend.int64)) for p in xp.nonzero(data))
    return wrap(xp.asarray(xp.argwhere(input.data), dtype=backend.int64))
