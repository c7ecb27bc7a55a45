"""Argument handling shared by the ops: operands, devices, dims, dtypes."""
from __future__ import annotations

from .. import backend
from ..tensor import Tensor, tensor, wrap

SCALAR_TYPES = (int, float, bool)


def is_python_scalar(value) -> bool:
    """True for Python numbers, which NumPy treats as 'weak' (they take the tensor's dtype)."""
    return type(value) in SCALAR_TYPES


def as_operand(value, like: Tensor, op: str) -> Tensor:
    """A Tensor for the non-Tensor operand of a binary op: an array or list becomes a
    constant; a Python number becomes a 0-d constant that follows NumPy's weak-scalar
    rule (it takes ``like``'s dtype unless that would lose it: a float next to an
    integer tensor is float64, an int next to a bool tensor is int64)."""
    if isinstance(value, Tensor):
        check_same_device(value, like, op)
        return value
    if is_python_scalar(value):
        return wrap(backend.namespace_of(like.data).asarray(value, dtype=_weak_scalar_dtype(value, like)))
    if backend.is_array(value) or isinstance(value, (list, tuple, backend.host.generic)):
        return tensor(value, device=like.device)
    raise TypeError(
        f"{op}: expected a Tensor, an array or a Python number as operand; got {type(value).__name__}"
    )


def _weak_scalar_dtype(value, like: Tensor):
    if like.dtype.kind != "f" and isinstance(value, float):
        return backend.float64
    if like.dtype == backend.bool_ and not isinstance(value, bool):
        return backend.int64
    return like.dtype


def check_same_device(a: Tensor, b: Tensor, op: str) -> None:
    """Raise when two tensors live on different devices."""
    if a.data.__class__ is b.data.__class__ and a.data.__class__ is backend.host.ndarray:
        return
    if a.device != b.device:
        raise RuntimeError(
            f"{op}: tensors are on different devices: {a.device} and {b.device}; "
            f"move one with .to(device) first"
        )


def require_float(t: Tensor, op: str) -> None:
    """Raise unless ``t`` has a floating-point dtype (for ops defined only on reals)."""
    if t.data.dtype.kind != "f":
        raise TypeError(f"{op}: expected a floating-point tensor; got dtype {t.dtype}. Use .float() or .double()")


def resolve_aliases(op: str, dim, keepdim, aliases: dict):
    """Accept NumPy's ``axis=`` / ``keepdims=`` as aliases of ``dim`` / ``keepdim``."""
    for name in aliases:
        if name not in ("axis", "keepdims"):
            raise TypeError(f"{op}: unexpected keyword argument {name!r}")
    if "axis" in aliases:
        if dim is not None:
            raise TypeError(f"{op}: pass either dim or axis, not both")
        dim = aliases["axis"]
    if "keepdims" in aliases:
        keepdim = aliases["keepdims"]
    return dim, bool(keepdim)


def normalize_dims(dim, ndim: int, op: str):
    """``dim`` (None, an int or a tuple of ints) as a sorted tuple of non-negative axes,
    or None for 'all axes'. Out-of-range and repeated dims raise an error naming op."""
    if dim is None:
        return None
    if isinstance(dim, int) and not isinstance(dim, bool):
        dims = (dim,)
    elif isinstance(dim, (tuple, list)):
        dims = tuple(dim)
    else:
        raise TypeError(f"{op}: dim must be an int or a tuple of ints; got {dim!r}")
    axes = []
    for d in dims:
        if isinstance(d, bool) or not isinstance(d, int):
            raise TypeError(f"{op}: dim must be an int or a tuple of ints; got {dim!r}")
        size = max(ndim, 1)
        if not -size <= d < size:
            raise IndexError(
                f"{op}: dim {d} is out of range for a tensor with {ndim} dimension(s)"
            )
        axes.append(d % size)
    if len(set(axes)) != len(axes):
        raise ValueError(f"{op}: dim {dim!r} repeats a dimension")
    if ndim == 0:
        return ()
    return tuple(sorted(axes))


def normalize_dim(dim: int, ndim: int, op: str) -> int:
    """One dim as a non-negative axis (ndim is the number of valid positions)."""
    return normalize_dims(dim, ndim, op)[0] if ndim else 0


def constant(array) -> Tensor:
    """A tensor that never requires grad around an existing array."""
    return wrap(array)
