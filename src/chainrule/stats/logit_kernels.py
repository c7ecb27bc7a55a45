"""Compiled (numba) row kernel of the Logit information pass (``stats.logit_newton.Design``).

This module imports numba at its top, so it is itself the optional part: ``stats.logit_newton``
asks :func:`chainrule.engine.compiled.kernels` for it and runs its NumPy twin (a broadcast
multiply and two BLAS matrix-vector products per block) when numba is missing or
``CHAINRULE_NO_NUMBA=1`` is set.

:func:`weighted_rows` does, for one block of rows X_b (m × p) with √w_b, r_b = y_b − p_b
and w_b = (√w_b)², in one read of X_b:

    B = diag(√w_b) X_b            (written to ``out``; B'B is then one BLAS ``syrk``)
    score += X_b' r_b             (the score's non-constant entries)
    edge  += B' √w_b = X_b' w_b   (the constant's row of X'WX)

Why: the NumPy twin reads the block three times, and its broadcast multiply runs a
50-element inner loop per row. On the 200,000 × 50 benchmark (blocks of 4,096 rows, 2-core
machine) the whole X'WX pass takes 28.5 ms with this kernel and 34.1 ms with the twin
(medians of 9, ``python benchmarks/bench_logit.py --phases``); the kernel alone runs at
about the speed of copying the rows once. Flags as in ``optim/numba_kernels.py``:
``error_model="numpy"`` (no zero-division checks, so the loops vectorize), no
``fastmath`` (IEEE arithmetic, no reassociation), no ``parallel`` (its threads stall
beside OpenBLAS's spinning ones on these 2-core machines), ``cache=True`` (the machine
code is kept in ``__pycache__``). Only C-ordered X: on a row block of an F-ordered X
(strided, so not vectorized by numba) the kernel was slower than the NumPy twin.
"""
from __future__ import annotations

from numba import njit

_JIT = {"cache": True, "error_model": "numpy", "nogil": True}


@njit(**_JIT)
def weighted_rows(rows, root, residual, out, score, edge):  # pragma: no cover - compiled
    """out = diag(root) rows; score += rows' residual; edge += rows' root² (in place).

    ``rows`` is a C-contiguous float64 block (m, p); ``root``, ``residual`` float64 vectors
    of m; ``out`` a C-contiguous (m, p) float64 buffer; ``score`` and ``edge`` float64
    vectors of p that are accumulated into.
    """
    m, p = rows.shape
    for i in range(m):
        s = root[i]
        r = residual[i]
        for j in range(p):
            x = rows[i, j]
            b = x * s
            out[i, j] = b
            score[j] += x * r
            edge[j] += b * s
