"""Refits the rational erf of the compiled GELU (chainrule.nn.fused.numba_kernels: _ERF_P, _ERF_Q)
and prints its coefficients and error; one command, about 10 s:

    PYTHONPATH=src python benchmarks/fit_gelu_erf.py

erf(x) = x P(x^2) / Q(x^2) on [0, 3.92] (degrees 6 and 5 in x^2, Q(0) = 1), fitted to
scipy.special.erf (float64) on 40,002 points: the linearized least-squares problem
min sum (x P(s) - erf(x) Q(s))^2 w, s = (x / 3.92)^2, first with w = 1 / Q_previous^2
(Sanathanan-Koerner, 60 steps), then w multiplied by |error| at each step (Lawson, 200 steps),
which drives the fit towards the minimax (equal-ripple) one.
"""
from __future__ import annotations

import numpy as np
from scipy.special import erf

CLAMP, N_P, N_Q = 3.92, 7, 6


def fit(clamp=CLAMP, n_p=N_P, n_q=N_Q, steps=60, lawson=200):
    """(P, Q) as power series in x^2, highest first, and the largest absolute error on the grid."""
    k = np.arange(20001)
    x = np.concatenate([clamp * (0.5 - 0.5 * np.cos(np.pi * k / 20000)), np.linspace(0, clamp, 20001)])
    s, f = (x / clamp) ** 2, erf(x)
    numerator = np.vander(s, n_p, increasing=True) * x[:, None]
    denominator = np.vander(s, n_q, increasing=True)
    q_values, weights = np.ones_like(x), np.ones_like(x)
    for step in range(steps + lawson):
        system = np.hstack([numerator, -(f[:, None] * denominator[:, 1:])])
        w = np.sqrt(weights) / q_values
        coefficients = np.linalg.lstsq(system * w[:, None], f * w, rcond=None)[0]
        p, q = coefficients[:n_p], np.concatenate([[1.0], coefficients[n_p:]])
        q_values = denominator @ q
        error = numerator @ p / q_values - f
        if step >= steps:
            weights = weights * np.abs(error)
            weights /= weights.sum()
    p, q = p / clamp ** (2 * np.arange(n_p)), q / clamp ** (2 * np.arange(n_q))
    return p[::-1], q[::-1], np.abs(error).max()


if __name__ == "__main__":
    p, q, error = fit()
    print("_ERF_P =", tuple(float(c) for c in p))
    print("_ERF_Q =", tuple(float(c) for c in q))
    print(f"largest absolute error on the grid: {error:.3g}")
