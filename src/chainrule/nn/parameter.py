"""Parameter: a leaf Tensor that a Module registers as one of its parameters.

Parameters may live as views into one flat buffer owned by an optimizer (which replaces
``p.data`` by a view and gives ``p`` a ``grad_slot``, :mod:`chainrule.optim.flat_buffers`).
"""
from __future__ import annotations

from ..engine import backend
from ..engine.tensor import Tensor, tensor, wrap

__all__ = ["Parameter"]


class Parameter(Tensor):
    """A leaf Tensor that a :class:`Module` registers as one of its parameters.

    ``Parameter(data, requires_grad=True)``: ``data`` is a Tensor (its memory is
    shared, as in PyTorch) or anything :func:`chainrule.tensor` accepts (copied).
    It must be floating point: only real numbers have gradients.

    Attributes (besides Tensor's):
        grad_slot: None, or a preallocated array of the parameter's shape and dtype
            into which ``backward()`` writes the first gradient (set by optimizers
            that keep all gradients in one flat buffer).
    """

    __slots__ = ("grad_slot",)

    def __init__(self, data=None, requires_grad: bool = True):
        if data is None:
            data = backend.host.empty((0,), dtype=backend.DEFAULT_FLOAT)
        if isinstance(data, Tensor):
            array = data.data
        else:
            array = tensor(data).data
        if array.dtype.kind != "f":
            raise TypeError(
                f"Parameter: data must be floating point (float32 or float64); got dtype "
                f"{array.dtype}. Convert first, e.g. tensor.float()"
            )
        template = wrap(array, bool(requires_grad))
        for name in _TENSOR_FIELDS:  # every field a fresh leaf has (data, grad, version …)
            setattr(self, name, getattr(template, name))
        self.grad_slot = None

    def __repr__(self) -> str:
        return "Parameter containing:\n" + super().__repr__()

    def __reduce_ex__(self, protocol):
        # copy.deepcopy and pickle: rebuild from a copy of the values; the flat-buffer
        # slot (an optimizer's view) does not travel with the copy.
        return (_rebuild_parameter, (backend.to_host(self.data).copy(), self.requires_grad, self.device))


def _rebuild_parameter(values, requires_grad, device):
    return Parameter(wrap(backend.move(values, device)), requires_grad)


_TENSOR_FIELDS = tuple(name for name in Tensor.__slots__ if name != "__weakref__")
