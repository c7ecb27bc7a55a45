"""OLS on the eleven linear problems of NIST's Statistical Reference Datasets, scored by the
log relative error (LRE: correct significant digits) of every certified value.

The designs are NIST's data rounded once to float64 (tests/nist_strd.py). On that data the
exact least-squares answer (rational arithmetic) is the best any float64 program can give, and
on Filip it holds only 7.7 certified digits of the estimates and 8.2 of the standard errors:
rounding x to float64 is a relative perturbation of 1e-16 that the problem (scaled condition
number 5e9) amplifies. The default fit, refined in twice the working precision
(:func:`chainrule.stats.least_squares.refine`), reaches that ceiling on every set; without the
refinement (``refine=False``, the float64 solvers alone) Filip keeps 7.6 digits of both.

``python tests/test_stats_ols_nist.py`` prints the LRE table with and without refinement.
"""
from __future__ import annotations

import sys
import warnings
from fractions import Fraction

import nist_strd
import numpy as np
import pytest

from chainrule.stats import OLS

# the least LRE over the coefficients / standard errors, residual SD and R² (each capped at 15)
# that the default (refined) fit must reach; measured values are 0.1-0.5 above
MINIMUM_LRE = {
    "Norris": (13.5, 13.5, 13.5, 14.5),
    "Pontius": (13.0, 13.0, 13.0, 14.5),
    "NoInt1": (14.0, 14.5, 14.5, 14.5),
    "NoInt2": (14.5, 14.0, 14.5, 14.5),
    "Filip": (7.5, 8.0, 8.0, 10.0),
    "Longley": (14.0, 14.0, 14.5, 14.5),
    "Wampler1": (14.5, 14.5, 14.5, 14.5),
    "Wampler2": (13.0, 14.5, 14.5, 14.5),
    "Wampler3": (14.5, 14.0, 14.5, 14.5),
    "Wampler4": (14.5, 14.0, 14.5, 14.5),
    "Wampler5": (14.5, 14.0, 14.5, 13.5),
}


def _fit(problem, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the ill-conditioning DataWarning (Filip, Wampler)
        return OLS(fit_intercept=problem.intercept, **kwargs).fit(problem.X, problem.y)


def _scores(problem, model):
    r = model.results_
    return (float(nist_strd.lre(np.asarray(r.params), problem.params).min()),
            float(nist_strd.lre(np.asarray(r.bse), problem.bse).min()),
            float(nist_strd.lre(np.sqrt(r.scale), problem.resid_sd)),
            float(nist_strd.lre(r.rsquared, problem.rsquared)))


@pytest.mark.parametrize("name", nist_strd.NAMES)
def test_certified_digits(name):
    problem = nist_strd.load(name)
    model = _fit(problem)
    assert model.refined_
    scores = _scores(problem, model)
    assert all(s >= m for s, m in zip(scores, MINIMUM_LRE[name])), (name, scores)


def _exact_fit(Z, y):
    """β̂, diag (Z'Z)⁻¹ and SSR of the float64 data in exact rational arithmetic."""
    Zf = [[Fraction(float(v)) for v in row] for row in Z]
    yf = [Fraction(float(v)) for v in y]
    k = len(Zf[0])
    A = [[sum(r[i] * r[j] for r in Zf) for j in range(k)] + [Fraction(int(i == j)) for j in range(k)]
         + [sum(r[i] * t for r, t in zip(Zf, yf))] for i in range(k)]
    for c in range(k):  # Gauss-Jordan on [Z'Z | I | Z'y]
        pivot = next(r for r in range(c, k) if A[r][c] != 0)
        A[c], A[pivot] = A[pivot], A[c]
        A[c] = [a / A[c][c] for a in A[c]]
        for r in range(k):
            if r != c and A[r][c] != 0:
                f = A[r][c]
                A[r] = [a - f * b for a, b in zip(A[r], A[c])]
    beta = [A[i][2 * k] for i in range(k)]
    ssr = sum((t - sum(b * z for b, z in zip(beta, r))) ** 2 for r, t in zip(Zf, yf))
    return beta, [A[i][k + i] for i in range(k)], ssr


def test_filip_refined_fit_is_the_exact_answer_for_the_stored_data():
    """Against rational arithmetic on the same float64 data: every digit float64 can hold."""
    problem = nist_strd.load("Filip")
    n = problem.y.size
    Z = np.column_stack([np.ones(n), problem.X])
    beta, inverse_diagonal, ssr = _exact_fit(Z, problem.y)
    k = len(beta)
    bse = [float((ssr / (n - k) * v) ** 0.5) for v in inverse_diagonal]  # ** 0.5 of a Fraction: a float
    exact = ([float(b) for b in beta], bse, float(ssr))
    refined, plain = _fit(problem), _fit(problem, refine=False)
    assert refined.refined_ and not plain.refined_ and plain.solver_used_ == "householder"
    assert min(_digits(refined, exact)) >= 13, _digits(refined, exact)
    assert max(_digits(plain, exact)[:2]) < 9, _digits(plain, exact)  # float64 alone: κ(Zs) u ≈ 5e-7


def _digits(model, exact):
    """The LREs of β̂, the standard errors and SSR against the exact answer for the stored data."""
    beta, bse, ssr = exact
    return (float(nist_strd.lre(np.asarray(model.params), beta).min()),
            float(nist_strd.lre(np.asarray(model.bse), bse).min()), float(nist_strd.lre(model.results_.ssr, ssr)))


def main():  # pragma: no cover - prints the table for the report
    print(f"{'':9s} {'refine=False (float64 solvers)':>34s}   {'default (refined)':>30s}")
    print(f"{'':9s} {'params   bse    sd     R2':>34s}   {'params   bse    sd     R2':>30s}")
    for name in nist_strd.NAMES:
        problem = nist_strd.load(name)
        before, after = _scores(problem, _fit(problem, refine=False)), _scores(problem, _fit(problem))
        print(f"{name:9s} " + " ".join(f"{v:6.2f}" for v in before) + "    " + " ".join(f"{v:6.2f}" for v in after))
    problem = nist_strd.load("Filip")
    beta, inverse_diagonal, ssr = _exact_fit(np.column_stack([np.ones(problem.y.size), problem.X]), problem.y)
    bse = [float((ssr / (problem.y.size - len(beta)) * v) ** 0.5) for v in inverse_diagonal]
    exact = ([float(b) for b in beta], bse, float(ssr))
    ceiling = (float(nist_strd.lre(exact[0], problem.params).min()), float(nist_strd.lre(bse, problem.bse).min()))
    print(f"Filip: the exact answer for the stored data has {ceiling[0]:.2f} / {ceiling[1]:.2f} certified digits "
          f"(params / bse); digits of (params, bse, SSR) against it: "
          f"refine=False {_digits(_fit(problem, refine=False), exact)}, refined {_digits(_fit(problem), exact)}")


if __name__ == "__main__":  # pragma: no cover
    sys.path.insert(0, str(nist_strd.DIRECTORY.parent.parent))
    main()
