"""Argument handling shared by the ops: operands, type promotion, devices, dims, dtypes.

Type promotion follows PyTorch (``torch.result_type``), not NumPy. Operands fall in three
priority groups: tensors with at least one dimension, zero-dimensional tensors, and scalars
(Python ``bool``/``int``/``float`` and NumPy scalars such as ``np.float64(2.0)``). Within a
group dtypes promote as usual (``promote_types``: bool < int64 < float32 < float64, and an
integer with a float gives that float). A lower-priority group changes the result only
when its *category* (bool < integer < floating) is higher than that of the groups above it:

* ``float32 tensor * 2.5``, ``* np.float64(2.0)`` and ``* tensor(2.0, dtype=float64)`` are
  float32 (a scalar or 0-d tensor of the same category never widens a dimensioned tensor);
* ``int64 tensor * 2.5`` is float32: a Python (or NumPy) float scalar counts as the default
  float dtype, float32; ``int64 tensor * tensor(2.5, dtype=float64)`` is float64;
* ``bool tensor + 2`` is int64; ``int64 tensor + float32 tensor`` is float32 (NumPy: float64);
* true division of integers or bools gives float32 (the default float dtype), as in PyTorch.

One difference from PyTorch: a NumPy ``bool_`` scalar counts as a Python ``bool`` here
(PyTorch converts it to a float and gives float32 with an integer or bool tensor).
"""
from __future__ import annotations

from .. import backend
from ..tensor import Tensor, tensor, wrap

SCALAR_TYPES = (int, float, bool)

# bool < integer < floating: the categories of PyTorch's promotion rule
_CATEGORY = {"b": 0, "i": 1, "u": 1, "f": 2}


def is_python_scalar(value) -> bool:
    """True for Python numbers, which NumPy treats as 'weak' (they take the tensor's dtype)."""
    return type(value) in SCALAR_TYPES


def python_scalar(value):
    """``value`` as a Python number when it is a Python or NumPy scalar, else None."""
    if type(value) in SCALAR_TYPES:
        return value
    if isinstance(value, backend.host.generic) and value.dtype.kind in "biuf":
        return value.item()
    return None


def as_operand(value, like: Tensor, op: str) -> Tensor:
    """A Tensor for the non-Tensor operand of a binary op: an array or list becomes a
    constant; a Python or NumPy scalar becomes a 0-d constant of the dtype PyTorch's rule
    gives it next to ``like`` (``like``'s dtype, unless the scalar is of a higher category:
    a float next to an integer or bool tensor is float32, an int next to a bool tensor int64)."""
    if isinstance(value, Tensor):
        check_same_device(value, like, op)
        return value
    scalar = python_scalar(value)
    if scalar is not None:
        return wrap(backend.namespace_of(like.data).asarray(scalar, dtype=scalar_dtype(scalar, like.dtype)))
    if backend.is_array(value) or isinstance(value, (list, tuple)):
        return tensor(value, device=like.device)
    raise TypeError(
        f"{op}: expected a Tensor, an array or a Python number as operand; got {type(value).__name__}"
    )


def scalar_dtype(value, dtype):
    """The dtype of the result of a tensor of ``dtype`` with the Python number ``value``."""
    kind = dtype.kind
    if isinstance(value, float):
        return dtype if kind == "f" else backend.DEFAULT_FLOAT
    if kind == "b" and not isinstance(value, bool):
        return backend.int64
    return dtype


def promote_types(first, second):
    """The dtype both promote to (``torch.promote_types``): the higher category wins; within
    a category the wider dtype."""
    first, second = backend.canonical_dtype(first), backend.canonical_dtype(second)
    if first == second:
        return first
    a, b = _CATEGORY[first.kind], _CATEGORY[second.kind]
    if a != b:
        return first if a > b else second
    return backend.host.promote_types(first, second)


def result_type(*operands):
    """The dtype of an elementwise op on ``operands`` by PyTorch's rule (``torch.result_type``):
    see the module docstring. Operands are Tensors, arrays or Python/NumPy scalars."""
    groups = [None, None, None]  # dimensioned tensors, 0-d tensors, scalars
    for value in operands:
        scalar = python_scalar(value)
        if scalar is not None:
            dtype, group = _scalar_own_dtype(scalar), 2
        elif isinstance(value, Tensor) or backend.is_array(value):
            dtype, group = backend.canonical_dtype(value.dtype), 0 if value.ndim else 1
        else:
            raise TypeError(f"result_type: expected Tensors or numbers; got {type(value).__name__}")
        groups[group] = dtype if groups[group] is None else promote_types(groups[group], dtype)
    return _combine(groups[0], _combine(groups[1], groups[2]))


def _scalar_own_dtype(value):
    if isinstance(value, bool):
        return backend.bool_
    return backend.int64 if isinstance(value, int) else backend.DEFAULT_FLOAT


def _combine(higher, lower):
    """``higher`` (the dtype of the higher-priority group) unless ``lower`` is of a higher
    category; None stands for an empty group."""
    if higher is None:
        return lower
    if lower is None or _CATEGORY[lower.kind] <= _CATEGORY[higher.kind]:
        return higher
    return promote_types(higher, lower)


def promote_operands(a: Tensor, b: Tensor, op: str):
    """``a`` and ``b`` converted (differentiably) to their PyTorch result dtype."""
    check_same_device(a, b, op)
    target = result_type(a, b)
    return (a if a.dtype == target else a.to(target)), (b if b.dtype == target else b.to(target))


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
