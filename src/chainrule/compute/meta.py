"""Shape-only ("meta") models: build a model of any size without allocating its parameters.

    >>> with compute.meta_init():
    ...     model = nn.Linear(100_000, 100_000)       # 1e10 weights, no memory
    >>> compute.count_flops(model, (8, 100_000))       # counted from the shapes alone

PyTorch's analogue is ``torch.device("meta")``. Inside :func:`meta_init` every tensor that
``chainrule.zeros``, ``ones``, ``empty`` and ``full`` create (the parameters and buffers of the
layers being built) is a :class:`MetaArray`: a zero-stride, read-only NumPy view of ONE element
(``numpy.broadcast_to``), so a (49152, 12288) weight costs 4 bytes, and the initializers of
:mod:`chainrule.nn.init` skip their sampling (no random numbers are drawn). Deep copies made
inside the block (``TransformerEncoder`` copies its layer) stay meta.

What a meta model can do: report its parameters (shapes, counts, names, ``state_dict`` keys),
be moved to another dtype (``model.to(float64)``: still meta) and be counted by
:func:`chainrule.compute.count_flops`, which replaces every layer's computation by its shape rule
so no arithmetic runs. What it refuses, with an error naming meta_init: any arithmetic on its
parameters (a forward pass outside ``count_flops``, an optimizer step or creating an optimizer,
``load_state_dict`` of real values, assignments other than of zero). Outside the block,
``copy.deepcopy`` of a meta model gives an ordinary model of zeros (it allocates the memory), and
printing a meta tensor shows zeros.

Cost: ``chainrule.models.gpt(50257, 2048, 96, 96, 12288)`` (GPT-3, 174.6e9 parameters) builds in
about 0.1 s and counts at 2,048 tokens in about 0.3 s, with 25 MB of memory at the peak (on a
2-core CPU; the causal mask the model caches, 2048² float32, is most of it).
"""
from __future__ import annotations

import contextlib
import copyreg

from ..engine import backend, creation
from ..engine.tensor import Tensor, wrap

__all__ = ["MetaArray", "meta_init", "is_meta", "meta_array", "meta_tensor", "allow_meta_arithmetic"]

_MESSAGE = (
    "this {shape} array was made under chainrule.compute.meta_init(): it holds no values (shape only). "
    "A meta model can be inspected and counted (chainrule.compute.count_flops), not run, trained or "
    "loaded; build it outside meta_init() for that"
)
_state = {"arithmetic": 0}
numpy = backend.host  # meta arrays live on the host


class MetaArray(numpy.ndarray):
    """A zero-stride, read-only array standing for a tensor of its shape (one element of memory).

    NumPy arithmetic on it (ufuncs, ``einsum``, ``zeros_like`` …) raises a RuntimeError that
    names :func:`meta_init`, except while :func:`chainrule.compute.count_flops` counts (then it
    behaves as an array of zeros). Views (reshape, transpose, slicing) stay meta; ``copy``,
    ``astype`` and ``deepcopy`` return meta arrays."""

    shape_only = True  # what chainrule.nn.init looks for (it skips filling these)

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        _refuse_unless_counting(self)
        inputs = tuple(_plain(a) for a in inputs)
        if "out" in kwargs:
            kwargs["out"] = tuple(_plain(a) for a in kwargs["out"])
        return getattr(ufunc, method)(*inputs, **kwargs)

    def __array_function__(self, func, types, args, kwargs):
        if func in (numpy.array2string, numpy.array_repr, numpy.array_str):
            return f"meta({self.shape}, dtype={self.dtype})"
        _refuse_unless_counting(self)
        return super().__array_function__(func, types, args, kwargs)

    def __setitem__(self, index, value):
        if numpy.ndim(value) == 0 and not isinstance(value, MetaArray) and value == 0:
            return  # zeroing a row (Embedding's padding_idx): it is zero already
        raise RuntimeError(_MESSAGE.format(shape=self.shape) + f" (an assignment to [{index!r}])")

    def copy(self, order="C"):
        return meta_array(self.shape, self.dtype)

    def astype(self, dtype, *args, **kwargs):
        return meta_array(self.shape, dtype)

    def __deepcopy__(self, memo):
        return meta_array(self.shape, self.dtype)

    def __reduce__(self):
        return meta_array, (self.shape, self.dtype.str)


def meta_array(shape, dtype) -> MetaArray:
    """A :class:`MetaArray` of ``shape`` and ``dtype`` (zero strides, one element of memory)."""
    dtype = numpy.dtype(dtype)
    return numpy.broadcast_to(numpy.zeros((), dtype), tuple(int(s) for s in shape)).view(MetaArray)


def meta_tensor(shape, dtype=numpy.float32) -> Tensor:
    """A Tensor around a zero-stride array of zeros of ``shape`` (a plain, countable stand-in)."""
    return wrap(numpy.broadcast_to(numpy.zeros((), numpy.dtype(dtype)), tuple(int(s) for s in shape)))


def is_meta(obj) -> bool:
    """True for a MetaArray, a Tensor holding one, or a Module with a meta parameter or buffer."""
    if isinstance(obj, MetaArray):
        return True
    if isinstance(obj, Tensor):
        return isinstance(obj.data, MetaArray)
    tensors = getattr(obj, "parameters", None)
    if tensors is None:
        return False
    return any(isinstance(t.data, MetaArray) for t in obj.parameters()) or any(
        t is not None and isinstance(t.data, MetaArray) for t in obj.buffers()
    )


@contextlib.contextmanager
def meta_init():
    """Build models shape-only inside this block (see the module docstring).

    Nested blocks are allowed; the previous behaviour returns when the block ends."""
    previous = creation.array_factory
    previous_reducer = copyreg.dispatch_table.get(_parameter_class())
    creation.array_factory = _factory
    copyreg.dispatch_table[_parameter_class()] = _reduce_parameter
    try:
        yield
    finally:
        creation.array_factory = previous
        if previous_reducer is None:
            copyreg.dispatch_table.pop(_parameter_class(), None)
        else:
            copyreg.dispatch_table[_parameter_class()] = previous_reducer


@contextlib.contextmanager
def allow_meta_arithmetic():
    """Let NumPy compute on MetaArrays (as zeros) inside this block: what count_flops uses
    while it runs a meta model's own code between its layers."""
    _state["arithmetic"] += 1
    try:
        yield
    finally:
        _state["arithmetic"] -= 1


# ---------------------------------------------------------------------- helpers


def _factory(shape, dtype, fill):
    array = meta_array(shape, dtype)
    if fill not in (None, 0, False):
        array = numpy.broadcast_to(numpy.full((), fill, dtype=dtype), array.shape).view(MetaArray)
    return array


def _parameter_class():
    from ..nn.parameter import Parameter  # noqa: PLC0415 - nn imports much of the package

    return Parameter


def _reduce_parameter(parameter):
    """copy.deepcopy of a Parameter inside meta_init: a meta one stays meta (its own
    ``__reduce_ex__`` would copy a full array of zeros)."""
    if isinstance(parameter.data, MetaArray):
        return _rebuild_meta_parameter, (parameter.shape, parameter.data.dtype.str, parameter.requires_grad)
    return parameter.__reduce_ex__(4)


def _rebuild_meta_parameter(shape, dtype, requires_grad):
    return _parameter_class()(wrap(meta_array(shape, dtype)), requires_grad)


def _refuse_unless_counting(array) -> None:
    if not _state["arithmetic"]:
        raise RuntimeError(_MESSAGE.format(shape=array.shape))


def _plain(a):
    return a.view(numpy.ndarray) if isinstance(a, MetaArray) else a
