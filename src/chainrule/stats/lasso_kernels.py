"""Compiled (numba) coordinate descent for the lasso on a Gram matrix.

This module imports numba at the top, so it is itself the optional part: ``lasso.py``
imports it lazily and runs the plain-NumPy twin ``_cd_gram_numpy`` when numba is missing
or ``CHAINRULE_NO_NUMBA=1`` is set. Both perform the same arithmetic in the same order
(the loop below is the NumPy twin with the vector update ``q -= G[j] * d`` written out),
so they agree to rounding.

Flags as in ``chainrule/optim/numba_kernels.py``: ``error_model="numpy"`` (no zero-division
checks in the loop), no ``fastmath`` (results must match the NumPy path), ``cache=True``.
"""
from __future__ import annotations

from numba import njit

_JIT = {"cache": True, "error_model": "numpy", "nogil": True}


@njit(**_JIT)
def gram_gap(c, q, w, alpha, yy):  # pragma: no cover - compiled
    """Duality gap of 0.5 w'Gw - c'w + alpha|w|_1 + yy/2 with q = c - G w (see lasso.py)."""
    dual = 0.0
    l1 = 0.0
    wc = 0.0
    wq = 0.0
    for j in range(w.size):
        a = abs(q[j])
        dual = max(dual, a)
        l1 += abs(w[j])
        wc += w[j] * c[j]
        wq += w[j] * q[j]
    rr = yy - wc - wq
    ry = yy - wc
    const = alpha / dual if dual > alpha else 1.0
    return 0.5 * rr * (1.0 + const * const) + alpha * l1 - const * ry


@njit(**_JIT)
def cd_gram(G, c, q, w, alpha, yy, max_sweeps, tol_dw, gap_tol):  # pragma: no cover - compiled
    """Cyclic coordinate descent with covariance updates; returns (sweeps, gap)."""
    k = w.size
    gap = 1e300
    for sweep in range(max_sweeps):
        dmax = 0.0
        wmax = 0.0
        for j in range(k):
            gjj = G[j, j]
            if gjj == 0.0:
                continue
            wj = w[j]
            z = q[j] + gjj * wj
            if z > alpha:
                new = (z - alpha) / gjj
            elif z < -alpha:
                new = (z + alpha) / gjj
            else:
                new = 0.0
            if new != wj:
                d = new - wj
                for i in range(k):
                    q[i] -= G[j, i] * d
                w[j] = new
                dmax = max(dmax, abs(d))
            wmax = max(wmax, abs(new))
        if wmax == 0.0 or dmax / wmax < tol_dw or sweep == max_sweeps - 1:
            gap = gram_gap(c, q, w, alpha, yy)
            if gap <= gap_tol:
                return sweep + 1, gap
    return max_sweeps, gap
