"""Compiled (numba) elementwise passes of a replayed step: two fused epilogues of the
buffered Linear [ReLU] chain (:mod:`.kernels`).

This module imports numba at the top, so it is the optional part: :mod:`.kernels` asks
:func:`chainrule.engine.compiled.kernels` for it and runs the NumPy twin of each pass when
numba is missing or ``CHAINRULE_NO_NUMBA=1``. Each loop does exactly its twin's arithmetic
per element (one float addition, one comparison, one multiplication by 0 or 1), so both give
the same bits; flags as in :mod:`chainrule.optim.numba_kernels` (no ``fastmath``, the numpy
error model, ``cache=True``). Arrays are 2-D and C-contiguous; ``b`` is 1-D.
"""
from __future__ import annotations

from numba import njit

_JIT = {"cache": True, "error_model": "numpy", "nogil": True}


@njit(**_JIT)
def bias_relu(z, b, relu):  # pragma: no cover - compiled
    """z <- max(z + b, 0) (or z + b), row by row: ``add(z, b, out=z); maximum(z, 0, out=z)``."""
    rows, cols = z.shape
    for i in range(rows):
        for j in range(cols):
            v = z[i, j] + b[j]
            if relu and not v > 0 and v == v:  # NumPy's maximum(v, 0): +0.0 for -0.0, NaN kept
                v = 0.0
            z[i, j] = v


@njit(**_JIT)
def relu_mask(g, out, result):  # pragma: no cover - compiled
    """result <- g * (out > 0): ``multiply(g, greater(out, 0), out=result)``."""
    rows, cols = g.shape
    for i in range(rows):
        for j in range(cols):
            result[i, j] = g[i, j] * (1.0 if out[i, j] > 0 else 0.0)
