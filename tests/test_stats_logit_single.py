"""Logit's float32 start (``stats.logit.single_precision_start``, issue 20).

When ``stats.logit.FLOAT32_START`` is set (off by default: benchmarks/README.md, issue 20),
the first full-data Newton passes on tall C-ordered data read X rounded to float32; the
float64 iteration then decides convergence and forms the covariance. Checked with it on:
the float32 start runs where it should (and nowhere else), the fit still equals statsmodels
to the tolerances of tests/test_stats_logit.py, and it equals the float64-only iteration
far below those tolerances; with it off (the default) it never runs.
"""
from __future__ import annotations

import importlib

import numpy as np
import pytest

from chainrule.stats import Logit, logit_newton

sm = pytest.importorskip("statsmodels.api")
logit_module = importlib.import_module("chainrule.stats.logit")  # the module (stats.logit is not the class)

RTOL = 1e-8  # as tests/test_stats_logit.py


def tall_data(n=120_000, p=20, seed=3):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, p)) @ np.linalg.cholesky(0.3 * np.ones((p, p)) + 0.7 * np.eye(p)).T
    y = (rng.random(n) < 1.0 / (1.0 + np.exp(-(0.3 + X @ np.linspace(-0.5, 0.5, p))))).astype(float)
    return np.ascontiguousarray(X), y


@pytest.fixture(scope="module")
def tall():
    return tall_data()


@pytest.fixture
def float32_start(monkeypatch):
    monkeypatch.setattr(logit_module, "FLOAT32_START", True)


def fit_counting(monkeypatch, X, y, **options):
    """The fit and how many float32 designs it made."""
    made = []
    real = logit_newton.Design.single

    def counting(self):
        made.append(self.n)
        return real(self)
    monkeypatch.setattr(logit_newton.Design, "single", counting)
    return Logit(**options).fit(X, y), made


@pytest.mark.slow
def test_tall_fit_starts_in_float32_and_matches_statsmodels(tall, monkeypatch, float32_start):
    X, y = tall
    model, made = fit_counting(monkeypatch, X, y)
    assert made == [X.shape[0]]
    reference = sm.Logit(y, sm.add_constant(X)).fit(disp=0, method="newton", tol=1e-12, maxiter=100)
    for name in ("params", "bse", "llf"):
        np.testing.assert_allclose(getattr(model, name), getattr(reference, name), rtol=RTOL, err_msg=name)
    np.testing.assert_allclose(model.cov_params(), reference.cov_params(), rtol=1e-8)


@pytest.mark.slow
def test_float32_start_equals_the_float64_iteration(tall, monkeypatch):
    X, y = tall
    double, made = fit_counting(monkeypatch, X, y)
    assert made == []  # off by default
    monkeypatch.setattr(logit_module, "FLOAT32_START", True)
    mixed, made = fit_counting(monkeypatch, X, y)
    assert made == [X.shape[0]]
    np.testing.assert_allclose(mixed.params, double.params, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(mixed.bse, double.bse, rtol=1e-10)
    assert mixed.llf == pytest.approx(double.llf, rel=1e-14)


@pytest.mark.parametrize("case", ["small", "fortran", "loose tol"])
def test_float32_start_only_on_tall_c_ordered_data_and_tight_tolerances(tall, monkeypatch, case, float32_start):
    X, y = tall
    options = {}
    if case == "small":
        X, y = X[:40_000], y[:40_000]  # no subsample warm start, so no information to start from
    elif case == "fortran":
        X = np.asfortranarray(X)
    else:
        options["tol"] = logit_module.ROUGH_TOL
    model, made = fit_counting(monkeypatch, X, y, **options)
    assert made == [] and model.converged_


def test_float32_pass_is_the_float64_pass_to_float32_accuracy(tall):
    """The first pass of a float32 design rounds X block by block as it reads it; it equals
    the pass on a design rounded beforehand, and the float64 pass to float32 accuracy."""
    X, y = tall
    beta = np.linspace(-0.2, 0.3, X.shape[1] + 1)
    exact = logit_newton.Design(X, True)
    fused, whole = exact.single(), exact.single().rounded()
    assert whole.X.dtype == np.float32 and whole.X.flags.c_contiguous
    np.testing.assert_array_equal(whole.X, X.astype(np.float32))
    llf, _, score, largest = exact.newton_pass(beta, y, hessian=False)
    first = fused.newton_pass(beta, y, hessian=False)
    np.testing.assert_array_equal(fused.X, whole.X)  # filled by its first pass
    for again in (whole.newton_pass(beta, y, hessian=False), fused.newton_pass(beta, y, hessian=False), first):
        llf32, _, score32, largest32 = again
        assert llf32 == pytest.approx(llf, rel=1e-7)
        assert largest32 == pytest.approx(largest, rel=1e-6)
        np.testing.assert_allclose(score32, score, rtol=0, atol=1e-4 * np.abs(score).max())
    _, info, _, _ = exact.newton_pass(beta, y, hessian=True)
    for design in (exact.single(), whole):  # the rare X'WX pass on float32 X (rounding X first)
        _, info32, _, _ = design.newton_pass(beta, y, hessian=True)
        np.testing.assert_allclose(info32, info, rtol=1e-5, atol=1e-5 * np.abs(info).max())
    np.testing.assert_allclose(exact.single().dot(beta), exact.dot(beta), rtol=1e-5, atol=1e-5)
