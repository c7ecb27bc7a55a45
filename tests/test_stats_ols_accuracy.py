"""The compensated sums and products (chainrule.stats.compensated) against exact rational
arithmetic, and the refinement of least-squares fits in twice the working precision
(chainrule.stats.least_squares.refine): when it runs, over many row blocks, and what it changes."""
from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pytest

from chainrule.stats import OLS, least_squares
from chainrule.stats.compensated import matmul2, sum2, two_prod, two_sum


def _exact_matmul(A, B):
    return np.array([[float(sum(Fraction(float(A[i, m])) * Fraction(float(B[m, j])) for m in range(A.shape[1])))
                      for j in range(B.shape[1])] for i in range(A.shape[0])])


def test_error_free_transformations_are_exact():
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=200) * 10.0 ** rng.integers(-20, 20, 200), rng.normal(size=200)
    s, t = two_sum(a, b)
    p, e = two_prod(a, b)
    for i in range(200):
        assert Fraction(s[i]) + Fraction(t[i]) == Fraction(a[i]) + Fraction(b[i])
        assert Fraction(p[i]) + Fraction(e[i]) == Fraction(a[i]) * Fraction(b[i])


@pytest.mark.parametrize("shape", [(1, 1, 1), (7, 5, 3), (40, 11, 11), (5000, 3, 2)])
def test_matmul2_is_correctly_rounded_on_cancelling_products(shape):
    """Products that cancel by ~1e16 (float64 loses every digit): Dot2 keeps them all."""
    n, m, k = shape
    rng = np.random.default_rng(m)
    A = rng.normal(size=(n, m)) * 10.0 ** rng.integers(-8, 8, size=(n, m))
    B = rng.normal(size=(m, k))
    if m > 1:  # make the last column cancel the others almost exactly
        B[-1] = -(A[:, :-1] @ B[:-1])[0] / A[0, -1] if n == 1 else B[-1]
    rows = min(n, 40)
    hi, lo = matmul2(A, B, block_rows=16)
    exact = _exact_matmul(A[:rows], B)
    np.testing.assert_allclose(hi[:rows] + lo[:rows], exact, rtol=4e-16, atol=1e-300)
    C = rng.normal(size=(n, k))
    hi, lo = matmul2(A, B, C=(C, np.zeros((n, k))))
    np.testing.assert_allclose(hi[:rows] + lo[:rows], exact + C[:rows], rtol=1e-15, atol=1e-15 * np.abs(C).max())


def test_matmul2_keeps_a_result_that_cancels_completely():
    A = np.array([[1e16, 1.0, -1e16]])
    B = np.array([[1.0], [1.0], [1.0]])
    assert float(np.add(*matmul2(A, B))[0, 0]) == 1.0
    assert float((A @ B)[0, 0]) != 1.0  # float64 loses it


def test_sum2_is_correctly_rounded():
    rng = np.random.default_rng(1)
    a = rng.normal(size=(1001, 3)) * 10.0 ** rng.integers(-12, 12, size=(1001, 3))
    a[500] = -a[:500].sum(0) - a[501:].sum(0) + 1.0
    hi, lo = sum2(a)
    exact = [float(sum(Fraction(v) for v in a[:, j])) for j in range(3)]
    np.testing.assert_allclose(hi + lo, exact, rtol=1e-15)
    assert sum2(np.zeros((0, 2)))[0].tolist() == [0.0, 0.0]


@pytest.mark.parametrize("n, k, condition, expected", [
    (100, 5, 10.0, True), (10_000, 11, 10.0, False), (10_000, 11, 1e5, True), (10_000, 11, np.inf, True)])
def test_auto_refines_when_cheap_or_needed(n, k, condition, expected):
    assert least_squares.should_refine("auto", n, k, condition) is expected
    assert least_squares.should_refine(True, n, k, condition) is True
    assert least_squares.should_refine(False, n, k, condition) is False


def test_refinement_over_many_blocks_agrees_with_the_float64_fit():
    """n spans several row blocks; on a well-conditioned design the float64 fit is already
    accurate to ~1e-15, so refining changes the results only in the last digits."""
    rng = np.random.default_rng(2)
    n = 2 * least_squares.BLOCK_ROWS + 5
    X = rng.normal(size=(n, 5)) + [0.0, 5.0, -2.0, 1.0, 0.0]  # n k² > REFINE_MAX_CHEAP: "auto" does not refine
    y = 1.0 + X @ [0.5, -1.0, 2.0, 0.0, 1.0] + rng.normal(size=n) * (1 + np.abs(X[:, 0]))
    plain, refined = OLS(cov_type="HC2").fit(X, y), OLS(cov_type="HC2", refine=True).fit(X, y)
    assert not plain.refined_ and refined.refined_
    for name in ("params", "bse"):
        np.testing.assert_allclose(getattr(refined, name), getattr(plain, name), rtol=1e-12, err_msg=name)
    np.testing.assert_allclose(refined.pvalues, plain.pvalues, rtol=1e-9)  # p ≈ 1e-237 magnifies the last digits
    np.testing.assert_allclose(refined.resid, y - refined.predict(X), rtol=0, atol=1e-12)
    assert refined.rsquared == pytest.approx(plain.rsquared, rel=1e-14)


def test_refinement_gives_the_exact_answer_on_many_rows():
    """A known exact answer over several row blocks: y = Zβ + e with integer data, Z a degree-9
    polynomial in x ∈ {−10, …, 10} (every power exact in float64) and e exactly orthogonal
    to Z (group sums that a 10th difference annihilates, plus zero-sum noise within each
    value of x), so β and e are the exact least-squares answer. The residuals are large
    (as in NIST's Wampler5), which costs the float64 solvers ~8 digits of β; the refined fit
    is exact."""
    n = 2 * least_squares.BLOCK_ROWS + 5
    rng = np.random.default_rng(0)
    group = np.arange(n) % 21
    x = np.arange(-10.0, 11.0)[group]
    X = np.column_stack([x ** j for j in range(1, 10)])
    beta = np.array([3.0, -2.0, 1.0, 0.5, -0.25, 0.125, -0.0625, 0.03125, -1 / 64, 1 / 128])
    difference = np.zeros((11, 21))  # rows: the 10th difference at positions 0..10
    for r in range(11):
        difference[r, r:r + 11] = [(-1) ** (10 - i) * math.comb(10, i) for i in range(11)]
    group_sums = difference.T @ (rng.integers(-1000, 1000, 11) * 1e6)
    e = rng.integers(-1000, 1000, n) * 1e6
    for value in range(21):
        rows = np.flatnonzero(group == value)
        e[rows[-1]] -= e[rows].sum() - group_sums[value]
    y = np.column_stack([np.ones(n), X]) @ beta + e
    assert np.abs(y).max() < 2 ** 53  # every number above is an exact float64
    refined, plain = OLS(refine=True).fit(X, y), OLS(refine=False).fit(X, y)
    np.testing.assert_array_equal(refined.params, beta)
    np.testing.assert_array_equal(refined.resid, e)
    assert np.max(np.abs(plain.params - beta) / np.abs(beta)) > 1e-12
