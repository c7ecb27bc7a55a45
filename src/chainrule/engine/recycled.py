"""Large output arrays that come back: a cache of arrays handed out again once nothing refers to them.

In a training loop every step allocates the same large activations (a ResNet's 8 MB feature
maps) and keeps them until backward. NumPy asks the C allocator for each; arrays that large
come from fresh pages of the operating system whenever the allocator has returned the previous
step's memory (glibc returns the top of its heap, and maps arrays above its threshold
separately), and every 4 KiB page costs a fault on first touch: measured on the 2-core
benchmark machine, 43,000 faults and 0.15 s of system time in one ResNet-20 step (batch 128),
against 10,000-17,000 faults for the same step in PyTorch. A GPT training step (4 layers, 4,096
tokens of width 128) made 16,800 faults a step, 80 ms of its 390 on this machine, before its
layer norms, GELUs, attention, residual sums and gradient sums took their arrays from here.

:func:`empty` hands out views of arrays it keeps: an array is handed out again only when no
view of it is alive any more (its reference count is back to the cache's own references: every
NumPy view of a view keeps a reference to the array that owns the memory). At most
:data:`LIMIT_BYTES` are kept; arrays under :data:`MIN_BYTES`, and arrays of other devices, come
from the allocator as usual. :func:`clear` drops the cache.
"""
from __future__ import annotations

import math
import sys
import threading

from . import backend

__all__ = ["empty", "empty_like", "add", "clear", "LIMIT_BYTES", "MIN_BYTES"]

LIMIT_BYTES = 1 << 30  #: the most bytes kept for reuse
MIN_BYTES = 1 << 20  #: smaller arrays are left to the allocator (it keeps those itself)

_cache: dict = {}  # (shape, dtype) -> [arrays that own their memory]
_held = [0]
_lock = threading.Lock()
_HOST_ARRAY = backend.host.ndarray


def _first_free(arrays, baseline):
    """The first array referred to only by ``arrays`` (and this loop), or None; with
    ``baseline`` None, the reference count such an array shows here."""
    for array in arrays:
        count = sys.getrefcount(array)
        if baseline is None:
            return count
        if count <= baseline:
            return array
    return None


# Measured, not assumed: what the count of an array held by the cache alone reads in the loop
# above (a live view of it adds one). None where the interpreter keeps no reference counts.
_BASELINE = _first_free([object()], None) if hasattr(sys, "getrefcount") else None


def empty(xp, shape: tuple, dtype):
    """An uninitialized array of ``shape`` and ``dtype`` (a view of a cached array when one is free)."""
    dtype = xp.dtype(dtype)
    size = math.prod(shape) * dtype.itemsize
    if xp is not backend.host or size < MIN_BYTES or _BASELINE is None:
        return xp.empty(shape, dtype=dtype)
    key = (tuple(shape), dtype.str)
    with _lock:  # the test and the handing out are one step for every thread
        arrays = _cache.setdefault(key, [])
        array = _first_free(arrays, _BASELINE)
        if array is not None:
            return array[...]
        array = xp.empty(shape, dtype=dtype)
        if _held[0] + size <= LIMIT_BYTES:
            arrays.append(array)
            _held[0] += size
        return array[...]


def empty_like(xp, array):
    """:func:`empty` of ``array``'s shape and dtype, in C order whatever ``array``'s order."""
    return empty(xp, array.shape, array.dtype)


def add(a, b):
    """a + b as a new array: in one from the cache when a and b are host arrays of one dtype and
    the larger has at least :data:`MIN_BYTES` (a residual sum, two gradients of one tensor, token
    embeddings plus positions), NumPy's ``a + b`` otherwise (mixed dtypes, scalars, other devices)."""
    if (a.__class__ is _HOST_ARRAY and b.__class__ is _HOST_ARRAY and a.dtype == b.dtype
            and max(a.nbytes, b.nbytes) >= MIN_BYTES and _BASELINE is not None):
        shape = a.shape if a.shape == b.shape else backend.host.broadcast_shapes(a.shape, b.shape)
        return backend.host.add(a, b, out=empty(backend.host, shape, a.dtype))
    return a + b


def clear() -> None:
    """Drop every cached array (the memory goes back to the allocator once no view is alive)."""
    with _lock:
        _cache.clear()
        _held[0] = 0
