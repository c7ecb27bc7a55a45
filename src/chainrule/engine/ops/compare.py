"""Non-differentiable elementwise ops: comparisons, logic, NaN tests, one-hot.

Their results are bool (or int64 for one_hot) tensors that never require grad. Operands of
different dtypes are compared in their PyTorch result dtype (``arguments.result_type``).
"""
from __future__ import annotations

from .. import backend
from ..tensor import Tensor, wrap
from .arguments import SCALAR_TYPES, as_operand, check_same_device, python_scalar, result_type


def _compare(a, b, method: str, name: str) -> Tensor:
    """``a <method> b`` on the operands promoted by PyTorch's rule (see
    :mod:`~chainrule.engine.ops.arguments`): ``float32 tensor == np.float64(0.1)`` compares in
    float32, as ``float32 tensor == 0.1`` does."""
    if not isinstance(a, Tensor):
        if not isinstance(b, Tensor):
            raise TypeError(f"{name}: expected at least one Tensor operand")
        return _compare(b, a, _REFLECTED[method], name)
    if b.__class__ in SCALAR_TYPES:  # NumPy's weak scalars: compared in the tensor's dtype, as PyTorch
        return wrap(getattr(a.data, method)(b))
    if isinstance(b, Tensor):
        a_data, b_data = a.data, b.data
        if a_data.dtype is b_data.dtype and a_data.__class__ is _HOST_ARRAY and b_data.__class__ is _HOST_ARRAY:
            return wrap(getattr(a_data, method)(b_data))
    else:
        scalar = python_scalar(b)  # a NumPy scalar counts as a Python number
        if scalar is not None:
            return wrap(getattr(a.data, method)(scalar))
    b = as_operand(b, a, name)
    check_same_device(a, b, name)
    a_data, b_data = a.data, b.data
    if a_data.dtype != b_data.dtype:
        target = result_type(a, b)
        a_data, b_data = a_data.astype(target, copy=False), b_data.astype(target, copy=False)
    return wrap(getattr(a_data, method)(b_data))


_HOST_ARRAY = backend.host.ndarray

_REFLECTED = {
    "__eq__": "__eq__", "__ne__": "__ne__", "__lt__": "__gt__", "__le__": "__ge__",
    "__gt__": "__lt__", "__ge__": "__le__",
}


def eq(a, b) -> Tensor:
    """a == b elementwise (bool)."""
    return _compare(a, b, "__eq__", "eq")


def ne(a, b) -> Tensor:
    """a != b elementwise (bool)."""
    return _compare(a, b, "__ne__", "ne")


def lt(a, b) -> Tensor:
    """a < b elementwise (bool)."""
    return _compare(a, b, "__lt__", "lt")


def le(a, b) -> Tensor:
    """a <= b elementwise (bool)."""
    return _compare(a, b, "__le__", "le")


def gt(a, b) -> Tensor:
    """a > b elementwise (bool)."""
    return _compare(a, b, "__gt__", "gt")


def ge(a, b) -> Tensor:
    """a >= b elementwise (bool)."""
    return _compare(a, b, "__ge__", "ge")


def _logical(a, b, function: str, name: str) -> Tensor:
    a_data = a.data if isinstance(a, Tensor) else a
    b_data = b.data if isinstance(b, Tensor) else b
    for operand in (a, b):
        if isinstance(operand, Tensor) and operand.dtype != backend.bool_:
            raise TypeError(f"{name}: expected bool tensors; got {operand.dtype}")
    xp = backend.namespace_of(a_data if isinstance(a, Tensor) else b_data)
    return wrap(getattr(xp, function)(a_data, b_data))


def logical_and(a, b) -> Tensor:
    """Elementwise and of bool tensors (also ``a & b``)."""
    return _logical(a, b, "logical_and", "logical_and")


def logical_or(a, b) -> Tensor:
    """Elementwise or of bool tensors (also ``a | b``)."""
    return _logical(a, b, "logical_or", "logical_or")


def logical_xor(a, b) -> Tensor:
    """Elementwise exclusive or of bool tensors (also ``a ^ b``)."""
    return _logical(a, b, "logical_xor", "logical_xor")


def logical_not(a: Tensor) -> Tensor:
    """Elementwise not of a bool tensor (also ``~a``)."""
    if a.dtype != backend.bool_:
        raise TypeError(f"logical_not: expected a bool tensor; got {a.dtype}")
    return wrap(backend.namespace_of(a.data).logical_not(a.data))


def isnan(a: Tensor) -> Tensor:
    """True where a is NaN."""
    return wrap(backend.namespace_of(a.data).isnan(a.data))


def isfinite(a: Tensor) -> Tensor:
    """True where a is neither NaN nor ±inf."""
    return wrap(backend.namespace_of(a.data).isfinite(a.data))


def one_hot(labels: Tensor, num_classes: int = -1) -> Tensor:
    """int64 tensor of shape labels.shape + (num_classes,) with a 1 at each label.

    ``num_classes=-1`` uses max(labels) + 1. Labels must be int64 in [0, num_classes).
    """
    if not isinstance(labels, Tensor) or labels.dtype != backend.int64:
        got = labels.dtype if isinstance(labels, Tensor) else type(labels).__name__
        raise TypeError(f"one_hot: labels must be an int64 Tensor; got {got}")
    data = labels.data
    xp = backend.namespace_of(data)
    if num_classes == -1:
        if data.size == 0:
            raise ValueError("one_hot: cannot infer num_classes from empty labels; pass num_classes")
        num_classes = int(data.max()) + 1
    if data.size and (int(data.min()) < 0 or int(data.max()) >= num_classes):
        raise ValueError(
            f"one_hot: labels must lie in [0, {num_classes}); got values from "
            f"{int(data.min())} to {int(data.max())}"
        )
    return wrap((data[..., None] == xp.arange(num_classes)).astype(backend.int64))
