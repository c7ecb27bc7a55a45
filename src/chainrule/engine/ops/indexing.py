"""Indexing: reading ``a[index]`` and writing ``a[index] = v``, differentiably.

``a[index]`` (:class:`Index`) accepts what NumPy does: ints, slices, None, ``...``, integer
arrays and boolean masks. Its backward scatters the gradient into zeros of the input's shape,
accumulating where an integer index repeats (an element picked twice gets both gradients).

``index_put(a, index, v)`` (:class:`IndexPut`) is ``a`` with ``a[index]`` replaced by ``v``
(or increased by it with ``accumulate=True``), out of place: the gradient of ``a`` is G with
the written positions zeroed (kept with ``accumulate``), the gradient of ``v`` is ``G[index]``
summed back to ``v``'s shape. ``a[index] = v`` on a tensor in a graph is this op, applied in
place (:mod:`chainrule.engine.inplace`).
"""
from __future__ import annotations

from .. import backend
from ..autograd import Function, ViewFunction
from ..tensor import Tensor, wrap
from .arguments import as_operand, check_same_device


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
        if needs_v:
            grad_v = Index.apply(grad, index=self.index, accumulate=False)
        return grad_a, grad_v


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
