"""Creation functions: tensors of a given shape filled with a constant, a range or random values.

``zeros``, ``ones``, ``full``, ``empty``, ``arange``, ``linspace``, ``eye``, the ``*_like``
forms, and the random ``rand``, ``randn``, ``randint``, ``randperm`` (drawn on the host from the
one global generator, :func:`chainrule.manual_seed`, then moved to the device, so a seed gives
the same numbers on every device). Floating-point results are float32 unless ``dtype`` says
otherwise, as in PyTorch. Converting existing data is :func:`chainrule.tensor`
(:mod:`chainrule.engine.tensor`).
"""
from __future__ import annotations

from . import backend
from . import random as _random
from .tensor import Tensor, device_namespace, leaf_from_array

__all__ = [
    "zeros", "ones", "full", "empty", "arange", "linspace", "eye",
    "zeros_like", "ones_like", "full_like", "rand", "randn", "randint", "randperm",
]


# ---------------------------------------------------------------------- shape-only construction hook
#: None, or a callable ``(shape, dtype, fill) -> array`` that :func:`chainrule.compute.meta_init`
#: installs while a shape-only model is built: zeros, ones, empty and full then return its array
#: (a zero-stride view of one element) instead of allocating one.
array_factory = None


def _filled(op, size, fill, dtype, requires_grad, device) -> Tensor:
    shape = _shape_from(size, op)
    canonical, xp = device_namespace(device)
    target = backend.canonical_dtype(dtype) if dtype is not None else backend.DEFAULT_FLOAT
    if array_factory is not None:
        data = array_factory(shape, target, fill)
    elif fill is None:
        data = xp.empty(shape, dtype=target)
    else:
        data = xp.full(shape, fill, dtype=target)
    return leaf_from_array(data, requires_grad, op)


def zeros(*size, dtype=None, requires_grad=False, device="cpu") -> Tensor:
    """A tensor of zeros with the given shape (float32 unless dtype is given)."""
    return _filled("zeros", size, 0, dtype, requires_grad, device)


def ones(*size, dtype=None, requires_grad=False, device="cpu") -> Tensor:
    """A tensor of ones with the given shape (float32 unless dtype is given)."""
    return _filled("ones", size, 1, dtype, requires_grad, device)


def empty(*size, dtype=None, requires_grad=False, device="cpu") -> Tensor:
    """An uninitialized tensor with the given shape (float32 unless dtype is given)."""
    return _filled("empty", size, None, dtype, requires_grad, device)


def full(size, fill_value, dtype=None, requires_grad=False, device="cpu") -> Tensor:
    """A tensor filled with ``fill_value``; dtype inferred from it when not given
    (float32 for a float, int64 for an int, bool for a bool)."""
    if dtype is None:
        dtype = _python_scalar_dtype(fill_value, "full")
    return _filled("full", (size,), fill_value, dtype, requires_grad, device)


def _python_scalar_dtype(value, op: str):
    if isinstance(value, bool):
        return backend.bool_
    if isinstance(value, int):
        return backend.int64
    if isinstance(value, float):
        return backend.DEFAULT_FLOAT
    raise TypeError(f"{op}: expected a Python bool, int or float; got {type(value).__name__}")


def zeros_like(other: Tensor, dtype=None, requires_grad=False, device=None) -> Tensor:
    """Zeros with the shape (and, unless given, dtype and device) of ``other``."""
    return _filled("zeros_like", other.shape, 0, dtype or other.dtype, requires_grad, device or other.device)


def ones_like(other: Tensor, dtype=None, requires_grad=False, device=None) -> Tensor:
    """Ones with the shape (and, unless given, dtype and device) of ``other``."""
    return _filled("ones_like", other.shape, 1, dtype or other.dtype, requires_grad, device or other.device)


def full_like(other: Tensor, fill_value, dtype=None, requires_grad=False, device=None) -> Tensor:
    """``fill_value`` everywhere, with the shape (and, unless given, dtype and device) of ``other``."""
    return _filled("full_like", other.shape, fill_value, dtype or other.dtype, requires_grad, device or other.device)


def arange(start, end=None, step=1, dtype=None, requires_grad=False, device="cpu") -> Tensor:
    """Values ``start, start + step, …`` below ``end`` (``arange(n)`` is 0 … n-1).

    int64 when all arguments are ints, else float32, unless dtype is given.
    """
    if end is None:
        start, end = 0, start
    if step == 0:
        raise ValueError("arange: step must be non-zero")
    if dtype is None:
        all_ints = all(isinstance(v, int) and not isinstance(v, bool) for v in (start, end, step))
        dtype = backend.int64 if all_ints else backend.DEFAULT_FLOAT
    canonical, xp = device_namespace(device)
    data = xp.arange(start, end, step, dtype=backend.canonical_dtype(dtype))
    return leaf_from_array(data, requires_grad, "arange")


def linspace(start, end, steps: int, dtype=None, requires_grad=False, device="cpu") -> Tensor:
    """``steps`` evenly spaced values from ``start`` to ``end`` inclusive (float32 by default)."""
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 0:
        raise ValueError(f"linspace: steps must be a non-negative int; got {steps!r}")
    canonical, xp = device_namespace(device)
    target = backend.canonical_dtype(dtype) if dtype is not None else backend.DEFAULT_FLOAT
    data = xp.linspace(start, end, steps, dtype=backend.float64).astype(target)
    return leaf_from_array(data, requires_grad, "linspace")


def eye(n: int, m: int | None = None, dtype=None, requires_grad=False, device="cpu") -> Tensor:
    """The n x m identity matrix (m defaults to n)."""
    _shape_from((n,) if m is None else (n, m), "eye")
    canonical, xp = device_namespace(device)
    target = backend.canonical_dtype(dtype) if dtype is not None else backend.DEFAULT_FLOAT
    return leaf_from_array(xp.eye(n, m, dtype=target), requires_grad, "eye")


def _random_tensor(op, host_values, dtype, requires_grad, device) -> Tensor:
    canonical, _ = device_namespace(device)
    data = backend.move(host_values.astype(dtype, copy=False), canonical)
    return leaf_from_array(data, requires_grad, op)


def rand(*size, dtype=None, requires_grad=False, device="cpu") -> Tensor:
    """Uniform samples on [0, 1) from the global generator (see manual_seed)."""
    shape = _shape_from(size, "rand")
    target = backend.canonical_dtype(dtype) if dtype is not None else backend.DEFAULT_FLOAT
    _require_float(target, "rand")
    values = _random.generator().random(shape, dtype=target)
    return _random_tensor("rand", values, target, requires_grad, device)


def randn(*size, dtype=None, requires_grad=False, device="cpu") -> Tensor:
    """Standard normal samples from the global generator (see manual_seed)."""
    shape = _shape_from(size, "randn")
    target = backend.canonical_dtype(dtype) if dtype is not None else backend.DEFAULT_FLOAT
    _require_float(target, "randn")
    values = _random.generator().standard_normal(shape, dtype=target)
    return _random_tensor("randn", values, target, requires_grad, device)


def randint(low, high=None, size=(), dtype=None, device="cpu") -> Tensor:
    """Integers drawn uniformly from [low, high); ``randint(high, size)`` uses low = 0."""
    if high is None:
        low, high = 0, low
    elif isinstance(high, (tuple, list)) and size == ():
        low, high, size = 0, low, tuple(high)
    if high <= low:
        raise ValueError(f"randint: need low < high; got low={low}, high={high}")
    shape = _shape_from((tuple(size),) if not isinstance(size, int) else (size,), "randint")
    target = backend.canonical_dtype(dtype) if dtype is not None else backend.int64
    values = _random.generator().integers(low, high, size=shape, dtype=backend.int64)
    return _random_tensor("randint", values, target, False, device)


def randperm(n: int, dtype=None, device="cpu") -> Tensor:
    """A random permutation of 0 … n-1 (int64)."""
    if isinstance(n, bool) or not isinstance(n, int) or n < 0:
        raise ValueError(f"randperm: n must be a non-negative int; got {n!r}")
    target = backend.canonical_dtype(dtype) if dtype is not None else backend.int64
    values = _random.generator().permutation(n)
    return _random_tensor("randperm", values, target, False, device)


def _require_float(dtype, op: str) -> None:
    if dtype.kind != "f":
        raise TypeError(f"{op}: dtype must be float32 or float64; got {dtype}")


def _shape_from(size, op: str) -> tuple:
    """Accept ``f(2, 3)``, ``f((2, 3))`` or ``f([2, 3])``."""
    if len(size) == 1 and isinstance(size[0], (tuple, list)):
        size = tuple(size[0])
    for s in size:
        if isinstance(s, bool) or not isinstance(s, int) or s < 0:
            raise ValueError(f"{op}: size must be non-negative ints; got {size!r}")
    return tuple(size)
