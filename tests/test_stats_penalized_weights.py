"""Ridge, Lasso and ElasticNet with ``sample_weight``: equal to scikit-learn's (weighted
centering for the intercept; the lasso's and elastic net's weights rescaled to sum to n), with
and without an intercept; integer weights equal repeating the rows (checked without
scikit-learn); zero weights drop rows; the errors for bad weights.
"""
from __future__ import annotations

import numpy as np
import pytest

from chainrule.stats import ElasticNet, ElasticNetCV, Lasso, LassoCV, Ridge, RidgeCV

sklearn = pytest.importorskip("sklearn")
from sklearn import linear_model as lm  # noqa: E402 - after the importorskip above


def _data(n=80, p=5):
    rng = np.random.default_rng(11)
    X = rng.standard_normal((n, p)) + np.arange(p)
    y = X @ np.array([1.5, 0.0, -2.0, 0.3, 0.0])[:p] + 3.0 + rng.standard_normal(n)
    weights = rng.integers(0, 4, size=n).astype(float)
    return X, y, weights


MODELS = [
    ("ridge", lambda fit_intercept: Ridge(alpha=2.5, fit_intercept=fit_intercept),
     lambda fit_intercept: lm.Ridge(alpha=2.5, fit_intercept=fit_intercept, solver="svd")),
    ("ridge-svd", lambda fit_intercept: Ridge(alpha=0.7, fit_intercept=fit_intercept, solver="svd"),
     lambda fit_intercept: lm.Ridge(alpha=0.7, fit_intercept=fit_intercept, solver="cholesky")),
    ("lasso", lambda fit_intercept: Lasso(alpha=0.1, fit_intercept=fit_intercept, tol=1e-14, max_iter=100_000),
     lambda fit_intercept: lm.Lasso(alpha=0.1, fit_intercept=fit_intercept, tol=1e-14, max_iter=100_000)),
    ("lasso-fista", lambda fit_intercept: Lasso(alpha=0.1, solver="fista", fit_intercept=fit_intercept, tol=1e-14,
                                                max_iter=100_000),
     lambda fit_intercept: lm.Lasso(alpha=0.1, fit_intercept=fit_intercept, tol=1e-14, max_iter=100_000)),
    ("lasso-working-set", lambda fit_intercept: Lasso(alpha=0.1, precompute=False, fit_intercept=fit_intercept,
                                                      tol=1e-14, max_iter=100_000),
     lambda fit_intercept: lm.Lasso(alpha=0.1, fit_intercept=fit_intercept, tol=1e-14, max_iter=100_000)),
    ("elastic-net", lambda fit_intercept: ElasticNet(alpha=0.2, l1_ratio=0.3, fit_intercept=fit_intercept,
                                                     tol=1e-14, max_iter=100_000),
     lambda fit_intercept: lm.ElasticNet(alpha=0.2, l1_ratio=0.3, fit_intercept=fit_intercept, tol=1e-14,
                                         max_iter=100_000)),
]


@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("name, ours, theirs", MODELS, ids=[m[0] for m in MODELS])
def test_weighted_fit_equals_sklearns(name, ours, theirs, fit_intercept):
    X, y, weights = _data()
    model = ours(fit_intercept).fit(X, y, sample_weight=weights)
    reference = theirs(fit_intercept).fit(X, y, sample_weight=weights)
    np.testing.assert_allclose(model.coef_, reference.coef_, rtol=0, atol=1e-8)
    assert model.intercept_ == pytest.approx(reference.intercept_, abs=1e-8)
    assert model.score(X, y) == pytest.approx(reference.score(X, y), abs=1e-10)


@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("name, ours, theirs", MODELS, ids=[m[0] for m in MODELS])
def test_integer_weights_equal_repeated_rows(name, ours, theirs, fit_intercept):
    X, y, weights = _data()
    repeats = weights.astype(int)
    weighted = ours(fit_intercept).fit(X, y, sample_weight=weights)
    repeated = ours(fit_intercept).fit(np.repeat(X, repeats, axis=0), np.repeat(y, repeats))
    np.testing.assert_allclose(weighted.coef_, repeated.coef_, rtol=0, atol=1e-9)
    assert weighted.intercept_ == pytest.approx(repeated.intercept_, abs=1e-9)


@pytest.mark.parametrize("name, ours, theirs", MODELS, ids=[m[0] for m in MODELS])
def test_unit_weights_change_nothing(name, ours, theirs):
    X, y, _ = _data()
    plain = ours(True).fit(X, y)
    ones = ours(True).fit(X, y, sample_weight=np.full(y.size, 3.0))
    if name.startswith("ridge"):    # ridge's weights are not rescaled: 3 everywhere means alpha / 3
        ones = ours(True).set_params(alpha=ours(True).alpha * 3).fit(X, y, sample_weight=np.full(y.size, 3.0))
    np.testing.assert_allclose(ones.coef_, plain.coef_, rtol=0, atol=1e-9)


BAD = [
    (-np.ones(80), "sample_weight: expected non-negative"),
    (np.r_[np.nan, np.ones(79)], "sample_weight: expected finite"),
    (np.ones(81), r"sample_weight: expected shape \(80,\)"),
    (np.zeros(80), "sample_weight: the weights sum to 0"),
]


@pytest.mark.parametrize("weights, match", BAD)
@pytest.mark.parametrize("estimator", [Ridge, Lasso, ElasticNet, LassoCV, ElasticNetCV, RidgeCV])
def test_bad_weights_are_refused(estimator, weights, match):
    X, y, _ = _data()
    with pytest.raises(ValueError, match=f"{estimator.__name__}: {match}"):
        estimator().fit(X, y, sample_weight=weights)


CV_MODELS = [
    ("lasso-cv", lambda: LassoCV(alphas=8, cv=4, tol=1e-14, max_iter=100_000),
     lambda: lm.LassoCV(alphas=8, cv=4, tol=1e-14, max_iter=100_000)),
    ("elastic-net-cv", lambda: ElasticNetCV(l1_ratio=[0.3, 0.8], alphas=8, cv=4, tol=1e-14, max_iter=100_000),
     lambda: lm.ElasticNetCV(l1_ratio=[0.3, 0.8], alphas=8, cv=4, tol=1e-14, max_iter=100_000)),
]


@pytest.mark.parametrize("name, ours, theirs", CV_MODELS, ids=[m[0] for m in CV_MODELS])
def test_weighted_cv_equals_sklearns(name, ours, theirs):
    X, y, weights = _data()
    weights = weights + 0.25
    model = ours().fit(X, y, sample_weight=weights)
    reference = theirs().fit(X, y, sample_weight=weights)
    np.testing.assert_allclose(model.alphas_, reference.alphas_, rtol=1e-12)
    np.testing.assert_allclose(model.mse_path_, reference.mse_path_, rtol=1e-8)
    assert model.alpha_ == pytest.approx(reference.alpha_, rel=1e-12)
    np.testing.assert_allclose(model.coef_, reference.coef_, rtol=0, atol=1e-8)
    assert model.intercept_ == pytest.approx(reference.intercept_, abs=1e-8)


@pytest.mark.parametrize("fit_intercept", [True, False])
def test_weighted_ridge_leave_one_out_equals_sklearns(fit_intercept):
    X, y, weights = _data()
    alphas = np.logspace(-2, 3, 12)
    model = RidgeCV(alphas=alphas, fit_intercept=fit_intercept).fit(X, y, sample_weight=weights)
    reference = lm.RidgeCV(alphas=alphas, fit_intercept=fit_intercept, store_cv_results=True).fit(
        X, y, sample_weight=weights)
    np.testing.assert_allclose(model.cv_errors_, reference.cv_results_.mean(axis=0), rtol=1e-9)
    assert model.alpha_ == reference.alpha_
    assert model.best_score_ == pytest.approx(reference.best_score_, rel=1e-9)
    np.testing.assert_allclose(model.coef_, reference.coef_, rtol=0, atol=1e-8)
    assert model.intercept_ == pytest.approx(reference.intercept_, abs=1e-8)


def test_weighted_ridge_leave_one_out_equals_refitting_without_each_row():
    X, y, weights = _data(n=30)
    weights = weights + 0.5
    model = RidgeCV(alphas=[0.3, 3.0]).fit(X, y, sample_weight=weights)
    for k, alpha in enumerate([0.3, 3.0]):
        errors = [weights[i] * (y[i] - Ridge(alpha=alpha).fit(np.delete(X, i, 0), np.delete(y, i), np.delete(
            weights, i)).predict(X[i:i + 1])[0]) ** 2 for i in range(30)]
        assert model.cv_errors_[k] == pytest.approx(np.mean(errors), rel=1e-10)


def test_ridge_cv_refuses_weights_with_gcv():
    X, y, weights = _data()
    with pytest.raises(ValueError, match="RidgeCV: sample_weight: not supported with cv='gcv'"):
        RidgeCV(cv="gcv").fit(X, y, sample_weight=weights)


def test_weighted_ridge_k_fold_equals_fold_fits_and_weighted_errors():
    X, y, weights = _data()
    folds = [(np.arange(40, 80), np.arange(40)), (np.arange(40), np.arange(40, 80))]
    model = RidgeCV(alphas=[0.5, 5.0], cv=folds).fit(X, y, sample_weight=weights)
    for k, alpha in enumerate([0.5, 5.0]):
        errors = []
        for train, test in folds:
            fit = lm.Ridge(alpha=alpha).fit(X[train], y[train], sample_weight=weights[train])
            errors.append(np.average((y[test] - fit.predict(X[test])) ** 2, weights=weights[test]))
        assert model.cv_errors_[k] == pytest.approx(np.mean(errors), rel=1e-10)
    np.testing.assert_allclose(model.coef_, lm.Ridge(alpha=model.alpha_).fit(X, y, weights).coef_, atol=1e-9)
