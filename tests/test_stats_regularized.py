"""Ridge, RidgeCV, Lasso, lasso_path and LassoCV against scikit-learn and brute force."""
from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

from chainrule import Tensor, stats
from chainrule.stats import lasso as lasso_module

sklearn = pytest.importorskip("sklearn")
from sklearn import linear_model as lm  # noqa: E402 - after the importorskip above
from sklearn.base import clone  # noqa: E402
from sklearn.datasets import load_diabetes  # noqa: E402
from sklearn.exceptions import NotFittedError  # noqa: E402
from sklearn.model_selection import KFold, cross_val_score  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402
from sklearn.utils.validation import check_is_fitted  # noqa: E402

TIGHT = {"tol": 1e-12, "max_iter": 100_000}


@pytest.fixture(scope="module")
def diabetes():
    return load_diabetes(return_X_y=True)


@pytest.fixture(scope="module")
def generated():
    rng = np.random.default_rng(1)
    n, p = 120, 15
    X = rng.standard_normal((n, p)) @ (np.eye(p) + 0.3 * rng.standard_normal((p, p))) + 3.0
    beta = np.zeros(p)
    beta[:5] = [3.0, -2.0, 1.5, 0.5, -1.0]
    y = X @ beta + 5.0 + rng.standard_normal(n)
    return X, y


def _rel(a, b):
    return float(np.max(np.abs(np.asarray(a) - np.asarray(b))) / max(np.max(np.abs(b)), 1e-300))


def _lasso_objective(X, y, b0, b, alpha):
    r = y - b0 - X @ b
    return float(r @ r) / (2 * len(y)) + alpha * float(np.abs(b).sum())


# ----------------------------------------------------------------------------- ridge
@pytest.mark.parametrize("alpha", [1e-3, 1.0, 50.0])
@pytest.mark.parametrize("solver", ["svd", "gram", "cholesky", "auto"])
@pytest.mark.parametrize("fit_intercept", [True, False])
def test_ridge_matches_sklearn(diabetes, generated, alpha, solver, fit_intercept):
    for X, y in (diabetes, generated):
        ours = stats.Ridge(alpha, fit_intercept=fit_intercept, solver=solver).fit(X, y)
        ref = lm.Ridge(alpha, fit_intercept=fit_intercept, solver="svd").fit(X, y)
        assert _rel(ours.coef_, ref.coef_) < 1e-10
        assert ours.intercept_ == pytest.approx(ref.intercept_, rel=1e-10, abs=1e-10)
        np.testing.assert_allclose(ours.predict(X), ref.predict(X), rtol=1e-10)


def test_ridge_wide_design_matches_sklearn():
    rng = np.random.default_rng(2)
    X, y = rng.standard_normal((30, 80)), rng.standard_normal(30)
    ours = stats.Ridge(0.7).fit(X, y)
    assert ours.solver_ == "svd"
    ref = lm.Ridge(0.7, solver="svd").fit(X, y)
    assert _rel(ours.coef_, ref.coef_) < 1e-10
    assert ours.intercept_ == pytest.approx(ref.intercept_, rel=1e-10)


@pytest.mark.parametrize("solver", ["gram", "cholesky", "auto"])
def test_ridge_normal_equations_fall_back_to_svd_when_ill_conditioned(solver):
    rng = np.random.default_rng(3)
    x = rng.standard_normal(200)
    X = np.column_stack([x, x + 1e-7 * rng.standard_normal(200), rng.standard_normal(200)])
    y = X @ [1.0, 1.0, 2.0] + 0.1 * rng.standard_normal(200)
    ours = stats.Ridge(1e-12, solver=solver).fit(X, y)
    assert ours.solver_ == "svd"
    assert stats.Ridge(10.0, solver=solver).fit(X, y).solver_ == ("cholesky" if solver == "auto" else solver)
    ref = stats.Ridge(1e-12, solver="svd").fit(X, y)
    np.testing.assert_array_equal(ours.coef_, ref.coef_)


def test_ridge_alpha_zero_on_rank_deficient_design_is_minimum_norm_least_squares():
    rng = np.random.default_rng(5)
    A = rng.standard_normal((50, 3))
    X = np.column_stack([A, A @ [1.0, -2.0, 0.5]])  # rank 3 of 4 columns
    y = rng.standard_normal(50)
    Xc, yc = X - X.mean(axis=0), y - y.mean()
    expected = np.linalg.lstsq(Xc, yc, rcond=None)[0]
    for solver in ("svd", "gram"):
        coefs, _ = stats.ridge_path(X, y, [0.0, 1.0], solver=solver)
        np.testing.assert_allclose(coefs[0], expected, rtol=1e-8, atol=1e-10)
    assert stats.RidgeCV([0.1, 1.0], cv=3, solver="cholesky").fit(X, y).alpha_ in (0.1, 1.0)


def test_ridge_path_is_one_decomposition_for_many_alphas(diabetes):
    X, y = diabetes
    alphas = np.logspace(-4, 3, 25)
    coefs, intercepts = stats.ridge_path(X, y, alphas)
    assert coefs.shape == (25, X.shape[1])
    for k in (0, 12, 24):
        ref = lm.Ridge(alphas[k], solver="svd").fit(X, y)
        assert _rel(coefs[k], ref.coef_) < 1e-10
        assert intercepts[k] == pytest.approx(ref.intercept_, rel=1e-10)


def test_ridge_intercept_is_not_penalized(generated):
    X, y = generated
    big = stats.Ridge(1e12).fit(X, y)
    assert np.max(np.abs(big.coef_)) < 1e-6
    assert big.intercept_ == pytest.approx(y.mean(), rel=1e-6)
    base = stats.Ridge(2.0).fit(X, y)
    shifted = stats.Ridge(2.0).fit(X + 100.0, y + 7.0)  # shifts move only the intercept
    np.testing.assert_allclose(shifted.coef_, base.coef_, rtol=1e-8)
    assert shifted.intercept_ == pytest.approx(base.intercept_ + 7.0 - 100.0 * base.coef_.sum(), rel=1e-8)


@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("solver", ["svd", "gram"])
def test_ridgecv_loo_equals_brute_force_refits(generated, fit_intercept, solver):
    X, y = generated[0][:40], generated[1][:40]
    alphas = [0.01, 0.5, 3.0, 40.0]
    model = stats.RidgeCV(alphas, fit_intercept=fit_intercept, solver=solver).fit(X, y)
    brute = np.empty((len(y), len(alphas)))
    for i in range(len(y)):
        keep = np.arange(len(y)) != i
        for k, alpha in enumerate(alphas):
            fit = lm.Ridge(alpha, fit_intercept=fit_intercept, solver="svd").fit(X[keep], y[keep])
            brute[i, k] = y[i] - fit.predict(X[i:i + 1])[0]
    np.testing.assert_allclose(model.loo_residuals_, brute, rtol=1e-9, atol=1e-10)
    np.testing.assert_allclose(model.cv_errors_, np.mean(brute ** 2, axis=0), rtol=1e-9)
    assert model.alpha_ == alphas[int(np.argmin(np.mean(brute ** 2, axis=0)))]
    wide = stats.RidgeCV(alphas, fit_intercept=fit_intercept, solver=solver).fit(X[:12], y[:12])
    keep = np.arange(12) != 5
    refit = lm.Ridge(alphas[1], fit_intercept=fit_intercept, solver="svd").fit(X[:12][keep], y[:12][keep])
    assert wide.loo_residuals_[5, 1] == pytest.approx(y[5] - refit.predict(X[5:6])[0], rel=1e-8)


def test_ridgecv_loo_matches_sklearn(diabetes):
    X, y = diabetes
    alphas = np.logspace(-3, 2, 11)
    ours = stats.RidgeCV(alphas).fit(X, y)
    ref = lm.RidgeCV(alphas, store_cv_results=True).fit(X, y)
    assert ours.alpha_ == ref.alpha_
    assert ours.best_score_ == pytest.approx(ref.best_score_, rel=1e-10)
    np.testing.assert_allclose(ours.loo_residuals_ ** 2, ref.cv_results_, rtol=1e-8)
    assert _rel(ours.coef_, ref.coef_) < 1e-10


def test_ridgecv_gcv_formula(generated):
    X, y = generated
    alphas = [0.1, 1.0, 10.0]
    model = stats.RidgeCV(alphas, cv="gcv").fit(X, y)
    n = len(y)
    Z = np.column_stack([np.ones(n), X])
    for k, alpha in enumerate(alphas):
        P = np.diag([0.0] + [alpha] * X.shape[1])
        H = Z @ np.linalg.solve(Z.T @ Z + P, Z.T)
        e = y - H @ y
        gcv = np.mean(e ** 2) / (1 - np.trace(H) / n) ** 2
        assert model.cv_errors_[k] == pytest.approx(gcv, rel=1e-9)


def test_ridgecv_kfold_matches_sklearn_grid_search(diabetes):
    X, y = diabetes
    alphas = np.logspace(-3, 2, 9)
    ours = stats.RidgeCV(alphas, cv=5).fit(X, y)
    ref = lm.RidgeCV(alphas, cv=5, scoring="neg_mean_squared_error").fit(X, y)
    assert ours.alpha_ == ref.alpha_
    assert ours.best_score_ == pytest.approx(ref.best_score_, rel=1e-10)
    splitter = stats.RidgeCV(alphas, cv=KFold(4, shuffle=True, random_state=0)).fit(X, y)
    ref4 = lm.RidgeCV(alphas, cv=KFold(4, shuffle=True, random_state=0), scoring="neg_mean_squared_error").fit(X, y)
    assert splitter.best_score_ == pytest.approx(ref4.best_score_, rel=1e-10)


# ----------------------------------------------------------------------------- lasso
@pytest.mark.parametrize("alpha", [0.005, 0.1, 1.0])
@pytest.mark.parametrize("precompute", [True, False])
def test_lasso_matches_sklearn(diabetes, generated, alpha, precompute):
    for X, y in (diabetes, generated):
        ours = stats.Lasso(alpha, precompute=precompute, **TIGHT).fit(X, y)
        ref = lm.Lasso(alpha, **TIGHT).fit(X, y)
        np.testing.assert_allclose(ours.coef_, ref.coef_, rtol=0, atol=1e-6)
        assert ours.intercept_ == pytest.approx(ref.intercept_, abs=1e-6)
        assert ours.route_ == ("gram" if precompute else "working-set")


def test_lasso_without_intercept_matches_sklearn(generated):
    X, y = generated
    ours = stats.Lasso(0.05, fit_intercept=False, **TIGHT).fit(X, y)
    ref = lm.Lasso(0.05, fit_intercept=False, **TIGHT).fit(X, y)
    np.testing.assert_allclose(ours.coef_, ref.coef_, rtol=0, atol=1e-6)
    assert ours.intercept_ == 0.0


def test_lasso_wide_design_working_set_matches_sklearn():
    rng = np.random.default_rng(4)
    n, p = 80, 400
    X = rng.standard_normal((n, p))
    y = X[:, :6] @ [3, -2, 2, 1, -1, 1.5] + 0.5 * rng.standard_normal(n)
    ours = stats.Lasso(0.05, **TIGHT).fit(X, y)
    assert ours.route_ == "working-set"
    ref = lm.Lasso(0.05, **TIGHT).fit(X, y)
    np.testing.assert_allclose(ours.coef_, ref.coef_, rtol=0, atol=1e-6)
    np.testing.assert_array_equal(ours.coef_ != 0, ref.coef_ != 0)


def test_lasso_intercept_is_not_penalized(generated):
    X, y = generated
    model = stats.Lasso(0.2, **TIGHT).fit(X, y)
    assert model.intercept_ == pytest.approx(y.mean() - X.mean(axis=0) @ model.coef_, rel=1e-12)
    shifted = stats.Lasso(0.2, **TIGHT).fit(X - 50.0, y + 1000.0)
    np.testing.assert_allclose(shifted.coef_, model.coef_, rtol=0, atol=1e-8)
    everything = stats.Lasso(1e6).fit(X, y)
    assert not everything.coef_.any() and everything.intercept_ == pytest.approx(y.mean())


def test_numba_and_numpy_coordinate_descent_agree(diabetes, monkeypatch):
    pytest.importorskip("numba")
    X, y = diabetes
    assert lasso_module._compiled(load=True) is not None  # as a path or CV run loads them
    compiled = stats.Lasso(0.02, **TIGHT).fit(X, y)
    monkeypatch.setenv("CHAINRULE_NO_NUMBA", "1")
    assert lasso_module._compiled() is None
    plain = stats.Lasso(0.02, **TIGHT).fit(X, y)
    np.testing.assert_allclose(plain.coef_, compiled.coef_, rtol=1e-12, atol=1e-10)
    assert plain.n_iter_ == compiled.n_iter_


def test_a_single_fit_does_not_start_numba(monkeypatch):
    """One Lasso.fit uses the compiled kernels only when the process already loaded them."""
    from chainrule.engine import compiled as compiled_module
    monkeypatch.setattr(compiled_module, "_modules", {})
    monkeypatch.delenv("CHAINRULE_NO_NUMBA", raising=False)
    assert lasso_module._compiled() is None


@pytest.mark.parametrize("alpha", [0.01, 0.3])
def test_fista_agrees_with_coordinate_descent(diabetes, generated, alpha):
    for X, y in (diabetes, generated):
        cd = stats.Lasso(alpha, **TIGHT).fit(X, y)
        fista = stats.Lasso(alpha, solver="fista", tol=1e-13, max_iter=200_000).fit(X, y)
        scale = np.max(np.abs(cd.coef_))
        np.testing.assert_allclose(fista.coef_, cd.coef_, rtol=0, atol=1e-6 * scale)
        assert fista.route_ == "fista"
        # both objectives agree to the tolerance
        assert _lasso_objective(X, y, fista.intercept_, fista.coef_, alpha) == pytest.approx(
            _lasso_objective(X, y, cd.intercept_, cd.coef_, alpha), rel=1e-10)


def test_duality_gap_formula_and_bound(generated):
    X, y = generated
    alpha = 0.1
    rough = stats.Lasso(alpha, tol=1e-2).fit(X, y)
    exact = stats.Lasso(alpha, **TIGHT).fit(X, y)
    n = len(y)
    Xc, yc = X - X.mean(axis=0), y - y.mean()
    r = yc - Xc @ rough.coef_
    dual_norm = np.max(np.abs(Xc.T @ r)) / n
    s = min(1.0, alpha / dual_norm)
    gap = (r @ r) / (2 * n) * (1 + s ** 2) + alpha * np.abs(rough.coef_).sum() - s * (r @ yc) / n
    assert rough.dual_gap_ == pytest.approx(gap, rel=1e-8)
    suboptimality = (_lasso_objective(X, y, rough.intercept_, rough.coef_, alpha)
                     - _lasso_objective(X, y, exact.intercept_, exact.coef_, alpha))
    assert -1e-12 <= suboptimality <= rough.dual_gap_ + 1e-12
    assert rough.dual_gap_ <= 1e-2 * (yc @ yc) / n


def test_alpha_max_is_exact(diabetes, generated):
    for X, y in (diabetes, generated):
        path = stats.lasso_path(X, y, n_alphas=5, **TIGHT)
        ref = lm.LassoCV(alphas=5, cv=3).fit(X, y)
        assert path.alphas[0] == pytest.approx(ref.alphas_[0], rel=1e-13)
        np.testing.assert_allclose(path.alphas, ref.alphas_, rtol=1e-13)
        alpha_max = path.alphas[0]
        assert not stats.Lasso(alpha_max, **TIGHT).fit(X, y).coef_.any()
        assert stats.Lasso(alpha_max * (1 - 1e-6), **TIGHT).fit(X, y).coef_.any()


def test_lasso_path_matches_sklearn_and_sparsity_pattern(diabetes, generated):
    for X, y in (diabetes, generated):
        ours = stats.lasso_path(X, y, n_alphas=60, **TIGHT)
        Xc, yc = X - X.mean(axis=0), y - y.mean()
        _, coefs, _ = lm.lasso_path(Xc, yc, alphas=ours.alphas, **TIGHT)
        assert ours.coefs.shape == coefs.shape == (X.shape[1], 60)
        np.testing.assert_allclose(ours.coefs, coefs, rtol=0, atol=1e-6)
        np.testing.assert_array_equal(ours.coefs != 0, coefs != 0)
        assert not ours.coefs[:, 0].any()
        np.testing.assert_allclose(ours.intercepts, y.mean() - X.mean(axis=0) @ ours.coefs, rtol=1e-12)
    working_set = stats.lasso_path(X, y, n_alphas=60, precompute=False, **TIGHT)
    np.testing.assert_allclose(working_set.coefs, ours.coefs, rtol=0, atol=1e-6)


def test_lassocv_matches_sklearn(diabetes):
    X, y = diabetes
    ours = stats.LassoCV(cv=5, tol=1e-10, max_iter=100_000).fit(X, y)
    ref = lm.LassoCV(cv=5, tol=1e-10, max_iter=100_000).fit(X, y)
    np.testing.assert_allclose(ours.alphas_, ref.alphas_, rtol=1e-13)
    np.testing.assert_allclose(ours.mse_path_, ref.mse_path_, rtol=1e-6)
    assert ours.alpha_ == pytest.approx(ref.alpha_, rel=1e-13)
    np.testing.assert_allclose(ours.coef_, ref.coef_, rtol=0, atol=1e-6)


def test_lassocv_one_standard_error_rule(generated):
    X, y = generated
    model = stats.LassoCV(alphas=30, cv=4, selection="1se", **TIGHT).fit(X, y)
    mean = model.mse_path_.mean(axis=1)
    se = model.mse_path_.std(axis=1, ddof=1) / 2.0
    best = np.argmin(mean)
    eligible = model.alphas_[mean <= mean[best] + se[best]]
    assert model.alpha_min_ == model.alphas_[best]
    assert model.alpha_1se_ == eligible.max() >= model.alpha_min_
    assert model.alpha_ == model.alpha_1se_
    assert np.count_nonzero(model.coef_) <= np.count_nonzero(stats.Lasso(model.alpha_min_, **TIGHT).fit(X, y).coef_)


def test_warm_start_and_convergence_warning(generated):
    X, y = generated
    with pytest.warns(lasso_module.ConvergenceWarning, match="max_iter=1"):
        stats.Lasso(0.01, tol=1e-12, max_iter=1).fit(X, y)
    model = stats.Lasso(0.05, warm_start=True, **TIGHT).fit(X, y)
    first = model.n_iter_
    model.fit(X, y)
    assert model.n_iter_ < first


# ----------------------------------------------------------------------------- elastic net
def _enet_objective(X, y, b0, b, alpha, rho):
    return _lasso_objective(X, y, b0, b, alpha * rho) + alpha * (1 - rho) / 2 * float(b @ b)


@pytest.fixture(scope="module")
def collinear():
    """Two nearly equal columns and an exact copy scaled by 2: the elastic net's grouping case."""
    rng = np.random.default_rng(7)
    X = rng.standard_normal((150, 8))
    X[:, 1] = X[:, 0] + 1e-4 * rng.standard_normal(150)
    X[:, 2] = 2.0 * X[:, 3]
    y = X[:, 0] + X[:, 1] - X[:, 3] + 0.5 * rng.standard_normal(150)
    return X, y


@pytest.mark.parametrize("alpha", [0.003, 0.1, 1.0])
@pytest.mark.parametrize("l1_ratio", [0.05, 0.5, 0.95])
@pytest.mark.parametrize("precompute", [True, False])
def test_elastic_net_matches_sklearn(diabetes, generated, collinear, alpha, l1_ratio, precompute):
    for X, y in (diabetes, generated, collinear):
        ours = stats.ElasticNet(alpha, l1_ratio=l1_ratio, precompute=precompute, **TIGHT).fit(X, y)
        ref = lm.ElasticNet(alpha=alpha, l1_ratio=l1_ratio, **TIGHT).fit(X, y)
        scale = max(1.0, np.max(np.abs(ref.coef_)))
        np.testing.assert_allclose(ours.coef_, ref.coef_, rtol=0, atol=1e-8 * scale)
        assert ours.intercept_ == pytest.approx(ref.intercept_, abs=1e-8 * max(1.0, abs(ref.intercept_)))
        mine, theirs = (_enet_objective(X, y, m.intercept_, m.coef_, alpha, l1_ratio) for m in (ours, ref))
        assert mine <= theirs * (1 + 1e-12)
        np.testing.assert_array_equal(ours.coef_ != 0, ref.coef_ != 0)
        assert ours.route_ == ("gram" if precompute else "working-set")


def test_elastic_net_with_l1_ratio_one_is_the_lasso(generated):
    X, y = generated
    np.testing.assert_array_equal(stats.ElasticNet(0.1, l1_ratio=1.0, **TIGHT).fit(X, y).coef_,
                                  stats.Lasso(0.1, **TIGHT).fit(X, y).coef_)


def test_elastic_net_without_intercept_and_fista_and_wide_design(generated):
    X, y = generated
    ours = stats.ElasticNet(0.05, l1_ratio=0.3, fit_intercept=False, **TIGHT).fit(X, y)
    ref = lm.ElasticNet(alpha=0.05, l1_ratio=0.3, fit_intercept=False, **TIGHT).fit(X, y)
    np.testing.assert_allclose(ours.coef_, ref.coef_, rtol=0, atol=1e-8)
    assert ours.intercept_ == 0.0
    fista = stats.ElasticNet(0.05, l1_ratio=0.3, solver="fista", tol=1e-13, max_iter=200_000).fit(X, y)
    cd = stats.ElasticNet(0.05, l1_ratio=0.3, **TIGHT).fit(X, y)
    np.testing.assert_allclose(fista.coef_, cd.coef_, rtol=0, atol=1e-6)
    rng = np.random.default_rng(5)
    wide = rng.standard_normal((80, 400))
    target = wide[:, :6] @ [3, -2, 2, 1, -1, 1.5] + 0.5 * rng.standard_normal(80)
    ours = stats.ElasticNet(0.05, l1_ratio=0.7, **TIGHT).fit(wide, target)
    assert ours.route_ == "working-set"
    ref = lm.ElasticNet(alpha=0.05, l1_ratio=0.7, **TIGHT).fit(wide, target)
    np.testing.assert_allclose(ours.coef_, ref.coef_, rtol=0, atol=1e-8)


def test_elastic_net_duality_gap_is_sklearns_and_bounds_the_error(generated):
    X, y = generated
    alpha, rho = 0.1, 0.4
    rough = stats.ElasticNet(alpha, l1_ratio=rho, tol=1e-2).fit(X, y)
    exact = stats.ElasticNet(alpha, l1_ratio=rho, **TIGHT).fit(X, y)
    n, w = len(y), rough.coef_
    Xc, yc = X - X.mean(axis=0), y - y.mean()
    r = yc - Xc @ w
    g = Xc.T @ r / n - alpha * (1 - rho) * w
    s = min(1.0, alpha * rho / np.max(np.abs(g)))
    squares = (r @ r) / n + alpha * (1 - rho) * (w @ w)
    gap = squares / 2 * (1 + s ** 2) + alpha * rho * np.abs(w).sum() - s * (r @ yc) / n
    assert rough.dual_gap_ == pytest.approx(gap, rel=1e-8)
    suboptimality = (_enet_objective(X, y, rough.intercept_, w, alpha, rho)
                     - _enet_objective(X, y, exact.intercept_, exact.coef_, alpha, rho))
    assert -1e-12 <= suboptimality <= rough.dual_gap_ + 1e-12


def test_enet_path_matches_sklearn(diabetes, collinear):
    for X, y in (diabetes, collinear):
        ours = stats.enet_path(X, y, l1_ratio=0.3, n_alphas=40, **TIGHT)
        Xc, yc = X - X.mean(axis=0), y - y.mean()
        alphas, coefs, _ = lm.enet_path(Xc, yc, l1_ratio=0.3, alphas=ours.alphas, **TIGHT)
        np.testing.assert_allclose(ours.alphas[0], np.max(np.abs(Xc.T @ yc)) / (len(y) * 0.3), rtol=1e-13)
        np.testing.assert_allclose(ours.coefs, coefs, rtol=0, atol=1e-7)
        assert not ours.coefs[:, 0].any() and ours.coefs[:, 1].any()
        np.testing.assert_allclose(ours.intercepts, y.mean() - X.mean(axis=0) @ ours.coefs, rtol=1e-12)


@pytest.mark.parametrize("l1_ratio", [0.5, [0.1, 0.5, 0.9, 1.0]])
def test_elastic_net_cv_matches_sklearn(diabetes, l1_ratio):
    X, y = diabetes
    ours = stats.ElasticNetCV(l1_ratio=l1_ratio, alphas=30, cv=5, tol=1e-10, max_iter=100_000).fit(X, y)
    ref = lm.ElasticNetCV(l1_ratio=l1_ratio, alphas=30, cv=5, tol=1e-10, max_iter=100_000).fit(X, y)
    assert ours.alphas_.shape == ref.alphas_.shape and ours.mse_path_.shape == ref.mse_path_.shape
    np.testing.assert_allclose(ours.alphas_, ref.alphas_, rtol=1e-13)
    np.testing.assert_allclose(ours.mse_path_, ref.mse_path_, rtol=1e-8)
    assert ours.alpha_ == pytest.approx(ref.alpha_, rel=1e-13) and ours.l1_ratio_ == ref.l1_ratio_
    np.testing.assert_allclose(ours.coef_, ref.coef_, rtol=0, atol=1e-7)
    assert ours.intercept_ == pytest.approx(ref.intercept_, rel=1e-9)


def test_elastic_net_cv_with_given_alphas_and_folds(generated):
    X, y = generated
    folds = list(KFold(4, shuffle=True, random_state=0).split(X))
    ours = stats.ElasticNetCV(l1_ratio=[0.3, 0.8], alphas=[0.5, 0.05, 0.01], cv=folds, **TIGHT).fit(X, y)
    ref = lm.ElasticNetCV(l1_ratio=[0.3, 0.8], alphas=[0.5, 0.05, 0.01], cv=folds, **TIGHT).fit(X, y)
    np.testing.assert_allclose(ours.mse_path_, ref.mse_path_, rtol=1e-8)
    assert (ours.alpha_, ours.l1_ratio_) == (ref.alpha_, ref.l1_ratio_)


@pytest.mark.parametrize("make, error, match", [
    (lambda: stats.ElasticNet(l1_ratio=0.0), ValueError, r"l1_ratio: expected a number in \(0, 1\].*use Ridge"),
    (lambda: stats.ElasticNet(l1_ratio=1.5), ValueError, r"l1_ratio: expected a number in \(0, 1\]"),
    (lambda: stats.ElasticNet(l1_ratio=True), TypeError, "l1_ratio: expected a real number"),
    (lambda: stats.ElasticNet(l1_ratio="half"), TypeError, "l1_ratio: expected a real number"),
    (lambda: stats.ElasticNet(alpha=0.0), ValueError, "alpha: expected a finite number > 0"),
    (lambda: stats.ElasticNet(alpha=np.inf), ValueError, "alpha: expected a finite number > 0"),
    (lambda: stats.ElasticNet(tol=0), ValueError, "tol: expected a finite number > 0"),
    (lambda: stats.ElasticNet(solver="lars"), ValueError, "solver: expected 'cd' or 'fista'"),
    (lambda: stats.ElasticNetCV(l1_ratio=[0.5, 0.0]), ValueError, r"l1_ratio: expected a number in \(0, 1\]"),
    (lambda: stats.ElasticNetCV(l1_ratio=[]), ValueError, "l1_ratio: expected at least one value"),
    (lambda: stats.ElasticNetCV(l1_ratio=None), TypeError, "l1_ratio: expected a number in \\(0, 1\\] or a seq"),
    (lambda: stats.ElasticNetCV(alphas=[0.1, -1.0]), ValueError, "alphas: expected finite penalties > 0"),
    (lambda: stats.ElasticNetCV(cv=1), ValueError, "cv: expected a number of folds"),
])
def test_elastic_net_errors(generated, make, error, match):
    X, y = generated
    with pytest.raises(error, match=match):
        make().fit(X, y)


# ----------------------------------------------------------------------------- protocol
@pytest.mark.parametrize("make", [lambda: stats.Ridge(0.5), lambda: stats.Lasso(0.05),
                                  lambda: stats.RidgeCV([0.1, 1.0]), lambda: stats.LassoCV(alphas=10, cv=3),
                                  lambda: stats.ElasticNet(1e-3, l1_ratio=0.9),
                                  lambda: stats.ElasticNetCV(l1_ratio=[0.5, 0.9, 1.0], alphas=30, cv=3)])
def test_estimator_protocol_with_sklearn_tools(diabetes, make):
    X, y = diabetes
    model = make()
    with pytest.raises(NotFittedError):
        check_is_fitted(model)
    copy = clone(model)
    assert copy.get_params() == model.get_params() and copy is not model
    assert model.fit(X, y) is model
    check_is_fitted(model)
    pipe = make_pipeline(StandardScaler(), clone(model))
    pipe.fit(X, y)
    assert pipe.score(X, y) == pytest.approx(model.score(X, y), abs=0.05)
    scores = cross_val_score(clone(model), X, y, cv=3)
    assert scores.shape == (3,) and np.all(scores > 0.3)


def test_scores_and_cross_val_score_equal_sklearn(diabetes):
    X, y = diabetes
    for ours, ref in ((stats.Ridge(0.3), lm.Ridge(0.3)), (stats.Lasso(0.1, **TIGHT), lm.Lasso(0.1, **TIGHT))):
        np.testing.assert_allclose(cross_val_score(ours, X, y, cv=4), cross_val_score(ref, X, y, cv=4),
                                   rtol=1e-8)


def test_params_and_repr():
    model = stats.Lasso(0.3, solver="fista")
    assert repr(model) == "Lasso(alpha=0.3, solver='fista')"
    model.set_params(alpha=2.0)
    assert model.alpha == 2.0
    with pytest.raises(ValueError, match="unknown parameter"):
        model.set_params(lambda_=1.0)
    assert repr(stats.Ridge()) == "Ridge()"


def test_pandas_and_tensor_inputs_keep_names(diabetes):
    pd = pytest.importorskip("pandas")
    X, y = diabetes
    names = ["age", "sex", "bmi", "bp", "s1", "s2", "s3", "s4", "s5", "s6"]
    frame, series = pd.DataFrame(X, columns=names), pd.Series(y, name="progression")
    for model in (stats.Ridge(1.0), stats.Lasso(0.1)):
        model.fit(frame, series)
        table = model.coef_table()
        assert list(table) == ["intercept"] + names
        assert list(model.feature_names_in_) == names
        assert model.target_name_ == "progression"
        np.testing.assert_allclose(model.predict(frame), model.predict(X))
        with pytest.raises(ValueError, match="Feature names must be in the same order as they were in fit"):
            model.predict(frame[names[::-1]])
        tensor_fit = type(model)(model.alpha).fit(Tensor(X), Tensor(y))
        np.testing.assert_allclose(tensor_fit.coef_, model.coef_, rtol=1e-12)
        assert not hasattr(tensor_fit, "feature_names_in_")


def test_validation_names_the_problem(generated):
    pd = pytest.importorskip("pandas")
    X, y = generated
    for make in (stats.Ridge, stats.Lasso, stats.ElasticNet):
        bad = pd.DataFrame(X.copy(), columns=[f"c{j}" for j in range(X.shape[1])])
        bad.iloc[3, 2] = np.nan
        with pytest.raises(ValueError, match="c2"):
            make().fit(bad, y)
        with pytest.raises(ValueError, match="rows"):
            make().fit(X, y[:-1])
        with pytest.raises(ValueError, match="identical"):
            make().fit(np.column_stack([X, X[:, 0]]), y)
        with pytest.raises(ValueError, match="alpha"):
            make(alpha=-1.0).fit(X, y)
        with pytest.raises(NotFittedError, match="not fitted"):
            make().predict(X)
        with pytest.raises(ValueError, match="X has 3 features, but .* is expecting 15 features as input"):
            make().fit(X, y).predict(X[:, :3])
    with pytest.raises(ValueError, match="alpha"):
        stats.Lasso(alpha=0.0).fit(X, y)
    with pytest.raises(ValueError, match="solver"):
        stats.Lasso(solver="lars").fit(X, y)
    with pytest.raises(ValueError, match="alphas"):
        stats.RidgeCV(alphas=[0.0, 1.0]).fit(X, y)
    with pytest.raises(ValueError, match="selection"):
        stats.LassoCV(selection="best").fit(X, y)


# ----------------------------------------------------------------------------- benchmark
def test_benchmark_instrument_agrees_with_sklearn():
    script = Path(__file__).resolve().parent.parent / "benchmarks" / "bench_lasso.py"
    spec = importlib.util.spec_from_file_location("bench_lasso", script)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    out = bench.run({"n": 600, "p": 40, "nonzero": 5, "rounds": 1, "lasso_alpha": 0.01, "ridge_alpha": 1.0})
    for row in out["lasso_agreement_tol_1e-10"].values():
        assert row["max_abs_diff"] < 1e-6
    assert max(out["ridge_agreement"].values()) < 1e-10
    assert set(out["lasso"]) == set(bench.lasso_cases(0.01))
    assert all(out["ridgecv_agreement"].values())
