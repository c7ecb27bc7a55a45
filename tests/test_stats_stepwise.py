"""Forward stepwise selection against brute-force refits (NumPy lstsq, statsmodels OLS).

References: the incremental Gram-Schmidt path must equal forward selection by refitting
least squares at every step (same order, RSS to 1e-10 relative); AIC/BIC/adjusted R²
must equal statsmodels OLS's; the chosen model must be the one a brute-force search over
statsmodels fits chooses; CV errors must equal those of refits on sklearn's KFold folds.
"""
from __future__ import annotations

import warnings

import numpy as np
import pytest
import statsmodels.api as sm
from sklearn.base import clone
from sklearn.datasets import load_diabetes
from sklearn.linear_model import LinearRegression
from sklearn.model_selection import KFold, cross_val_score
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

import chainrule
from chainrule.stats import DataWarning, ForwardStepwise, NotFittedError


def _generated(n=200, p=15, seed=0, rho=0.5):
    rng = np.random.default_rng(seed)
    cov = rho ** np.abs(np.subtract.outer(np.arange(p), np.arange(p)))  # correlated columns
    X = rng.multivariate_normal(np.zeros(p), cov, size=n) * rng.uniform(0.5, 3, p) + rng.normal(0, 2, p)
    beta = np.zeros(p)
    beta[[0, 3, 4, 9, 12]] = [2.0, -1.5, 1.0, 0.7, -0.4]
    y = 1.0 + X @ beta + rng.normal(0, 1.5, n)
    return X, y


def _diabetes():
    X, y = load_diabetes(return_X_y=True, as_frame=True)
    return X, y


def _brute_force(X, y, intercept=True, max_steps=None):
    """Forward selection by refitting lstsq on every candidate at every step."""
    n, p = X.shape
    ones = np.ones((n, 1)) if intercept else np.zeros((n, 0))

    def rss(cols):
        A = np.hstack([ones, X[:, cols]])
        if A.shape[1] == 0:
            return float(y @ y)
        beta = np.linalg.lstsq(A, y, rcond=None)[0]
        r = y - A @ beta
        return float(r @ r)

    order, path = [], [rss([])]
    steps = p if max_steps is None else max_steps
    for _ in range(steps):
        candidates = [j for j in range(p) if j not in order]
        scores = [rss(order + [j]) for j in candidates]
        best = int(np.argmin(scores))
        order.append(candidates[best])
        path.append(scores[best])
    return order, np.array(path)


def _sm_fit(X, y, cols, intercept=True):
    A = X[:, cols]
    if intercept:
        A = np.hstack([np.ones((X.shape[0], 1)), A])
    return sm.OLS(y, A, hasconst=intercept).fit()


@pytest.mark.parametrize("dataset", ["generated", "correlated", "wide", "diabetes"])
def test_incremental_path_equals_brute_force(dataset):
    X, y = {
        "generated": lambda: _generated(),
        "correlated": lambda: _generated(n=120, p=20, seed=6, rho=0.99),  # ill-conditioned
        "wide": lambda: _generated(n=40, p=60, seed=8),  # p > n: the path stops at n - 2
        "diabetes": _diabetes,
    }[dataset]()
    model = ForwardStepwise().fit(X, y)
    Xa, ya = np.asarray(X, float), np.asarray(y, float)
    order, rss = _brute_force(Xa, ya, max_steps=min(Xa.shape[1], len(ya) - 2))
    assert model.order_ == order
    np.testing.assert_allclose([s.rss for s in model.path_], rss, rtol=1e-10)
    assert [s.size for s in model.path_] == list(range(len(order) + 1))


def test_path_without_intercept_equals_brute_force():
    X, y = _generated(seed=3)
    model = ForwardStepwise(fit_intercept=False).fit(X, y)
    order, rss = _brute_force(X, y, intercept=False)
    assert model.order_ == order
    np.testing.assert_allclose([s.rss for s in model.path_], rss, rtol=1e-10)


@pytest.mark.parametrize("dataset", ["generated", "diabetes"])
def test_criteria_equal_statsmodels_and_coefficients(dataset):
    X, y = _generated(seed=1) if dataset == "generated" else _diabetes()
    Xa, ya = np.asarray(X, float), np.asarray(y, float)
    n, p = Xa.shape
    model = ForwardStepwise().fit(X, y)
    sigma2 = _sm_fit(Xa, ya, list(range(p))).scale
    assert model.sigma2_ == pytest.approx(sigma2, rel=1e-10)
    for step in model.path_:
        cols = model.order_[: step.size]
        fit = _sm_fit(Xa, ya, cols)
        assert step.rss == pytest.approx(fit.ssr, rel=1e-10)
        assert step.aic == pytest.approx(fit.aic, rel=1e-12)
        assert step.bic == pytest.approx(fit.bic, rel=1e-12)
        assert step.r2 == pytest.approx(fit.rsquared, rel=1e-9, abs=1e-12)
        assert step.adjr2 == pytest.approx(fit.rsquared_adj, rel=1e-9, abs=1e-12)
        assert step.cp == pytest.approx((fit.ssr + 2 * step.size * sigma2) / n, rel=1e-10)
        assert step.intercept == pytest.approx(fit.params[0], rel=1e-8, abs=1e-10)
        np.testing.assert_allclose(list(step.coef.values()), fit.params[1:], rtol=1e-8, atol=1e-10)
    assert model.criterion_values_ == pytest.approx([s.bic for s in model.path_])


def test_aic_without_intercept_equals_statsmodels():
    X, y = _generated(seed=4)
    model = ForwardStepwise(criterion="aic", fit_intercept=False).fit(X, y)
    for step in model.path_[1:]:
        fit = _sm_fit(X, y, model.order_[: step.size], intercept=False)
        assert step.aic == pytest.approx(fit.aic, rel=1e-12)
        assert step.bic == pytest.approx(fit.bic, rel=1e-12)
        assert step.adjr2 == pytest.approx(fit.rsquared_adj, rel=1e-9)


@pytest.mark.parametrize("dataset", ["generated", "diabetes"])
@pytest.mark.parametrize("criterion", ["aic", "bic", "adjr2", "cp"])
def test_selection_equals_brute_force_statsmodels_search(dataset, criterion):
    """Forward search by statsmodels refits, then argmin AIC/BIC/Cp or argmax adj. R²."""
    X, y = _generated(seed=2) if dataset == "generated" else _diabetes()
    Xa, ya = np.asarray(X, float), np.asarray(y, float)
    n, p = Xa.shape
    order, fits = [], [_sm_fit(Xa, ya, [])]
    for _ in range(p):
        candidates = [j for j in range(p) if j not in order]
        trial = [_sm_fit(Xa, ya, order + [j]) for j in candidates]
        best = int(np.argmin([f.ssr for f in trial]))
        order.append(candidates[best])
        fits.append(trial[best])
    sigma2 = fits[-1].scale
    values = {
        "aic": [f.aic for f in fits], "bic": [f.bic for f in fits],
        "adjr2": [-f.rsquared_adj for f in fits],
        "cp": [(f.ssr + 2 * d * sigma2) / n for d, f in enumerate(fits)],
    }[criterion]
    size = int(np.argmin(values))
    model = ForwardStepwise(criterion=criterion).fit(X, y)
    assert model.best_size_ == size
    names = list(X.columns) if hasattr(X, "columns") else [f"x{j + 1}" for j in range(p)]
    assert model.selected_ == [names[j] for j in order[:size]]
    expected = np.zeros(p)
    expected[order[:size]] = fits[size].params[1:]
    np.testing.assert_allclose(model.coef_, expected, rtol=1e-8, atol=1e-10)
    assert model.intercept_ == pytest.approx(fits[size].params[0], rel=1e-8)
    np.testing.assert_allclose(model.predict(X), fits[size].fittedvalues, rtol=1e-9)


def test_bic_recovers_true_support_on_generated_data():
    X, y = _generated(n=500, seed=5)
    model = ForwardStepwise(criterion="bic").fit(X, y)
    assert set(model.selected_) >= {"x1", "x4", "x5", "x10"}
    assert model.support_.sum() == model.best_size_


@pytest.mark.parametrize("random_state", [None, 7])
def test_cv_errors_equal_refits_on_kfold(random_state):
    X, y = _diabetes()
    Xa, ya = X.to_numpy(float), y.to_numpy(float)
    model = ForwardStepwise(criterion="cv", cv=5, random_state=random_state).fit(X, y)
    if random_state is None:
        splits = list(KFold(5).split(Xa))
    else:  # the shuffled folds are documented: contiguous blocks of a seeded permutation
        perm = np.random.default_rng(random_state).permutation(len(ya))
        splits = [(np.sort(np.setdiff1d(perm, perm[t])), np.sort(perm[t])) for _, t in KFold(5).split(Xa)]
    sse = np.zeros(Xa.shape[1] + 1)
    for train, test in splits:
        order, _ = _brute_force(Xa[train], ya[train])
        for d in range(Xa.shape[1] + 1):
            A = np.hstack([np.ones((len(train), 1)), Xa[train][:, order[:d]]])
            beta = np.linalg.lstsq(A, ya[train], rcond=None)[0]
            r = ya[test] - np.hstack([np.ones((len(test), 1)), Xa[test][:, order[:d]]]) @ beta
            sse[d] += r @ r
    np.testing.assert_allclose(model.cv_mse_, sse / len(ya), rtol=1e-9)
    assert model.best_size_ == int(np.argmin(sse))
    assert [s.cv_mse for s in model.path_] == pytest.approx(list(sse / len(ya)), rel=1e-9)


def test_max_features_truncates_path():
    X, y = _generated()
    model = ForwardStepwise(max_features=4, criterion="aic").fit(X, y)
    order, rss = _brute_force(X, y, max_steps=4)
    assert model.order_ == order
    assert len(model.path_) == 5
    np.testing.assert_allclose([s.rss for s in model.path_], rss, rtol=1e-10)


def test_wide_data_stops_before_zero_residual_df():
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(12, 30)), rng.normal(size=12)
    model = ForwardStepwise(criterion="bic").fit(X, y)
    assert len(model.path_) == 11  # d <= n - 2 with an intercept
    assert np.isnan(model.sigma2_)
    with pytest.raises(ValueError, match="Cp needs"):
        ForwardStepwise(criterion="cp").fit(X, y)


def test_collinear_column_is_never_added_and_warned():
    X, y = _generated(n=100)
    X = X[:, :5]
    X = np.column_stack([X, X[:, 0] + 2 * X[:, 1]])  # x6 = x1 + 2 x2
    with pytest.warns(DataWarning, match="collinear") as record:
        model = ForwardStepwise().fit(X, y)
    order, rss = _brute_force(X, y, max_steps=5)
    assert model.order_ == order and len(model.path_) == 6
    np.testing.assert_allclose([s.rss for s in model.path_], rss, rtol=1e-10)
    (missing,) = set(range(6)) - set(order)
    assert missing in (0, 1, 5) and f"'x{missing + 1}'" in str(record[0].message)


def test_pandas_tensor_and_numpy_inputs_agree_and_names_reach_the_table():
    X, y = _diabetes()
    from_frame = ForwardStepwise().fit(X, y)
    from_numpy = ForwardStepwise().fit(X.to_numpy(), y.to_numpy())
    from_tensor = ForwardStepwise().fit(chainrule.tensor(X.to_numpy()), chainrule.tensor(y.to_numpy()))
    np.testing.assert_allclose(from_frame.coef_, from_numpy.coef_)
    np.testing.assert_allclose(from_tensor.coef_, from_numpy.coef_)
    assert from_numpy.selected_[0] == "x3" and from_frame.selected_[0] == "bmi"
    text = from_frame.summary().as_text()
    assert "bmi" in text and "s5" in text and "target" in text and "BIC" in text
    assert "<table" in from_frame.summary().as_html() and "bmi" in from_frame.summary()._repr_html_()
    assert from_frame.path_[2].features == ("bmi", "s5")
    np.testing.assert_allclose(from_frame.transform(X), X.to_numpy()[:, from_frame.support_])


def test_sklearn_protocol_clone_pipeline_cross_val_score():
    X, y = _diabetes()
    model = ForwardStepwise(criterion="aic", max_features=6)
    assert model.get_params() == {"criterion": "aic", "max_features": 6, "fit_intercept": True,
                                  "cv": 5, "random_state": None}
    assert repr(model) == "ForwardStepwise(criterion='aic', max_features=6)"
    copy = clone(model)
    assert copy.get_params() == model.get_params() and not hasattr(copy, "coef_")
    assert model.set_params(criterion="bic") is model and model.criterion == "bic"
    with pytest.raises(ValueError, match="unknown parameter"):
        model.set_params(alpha=1)
    assert model.fit(X, y) is model
    pipe = Pipeline([("scale", StandardScaler()), ("select", ForwardStepwise())])
    scores = cross_val_score(pipe, X, y, cv=3)
    assert np.all(np.isfinite(scores)) and scores.mean() > 0.4
    # as a selection step in front of another regressor
    pipe = Pipeline([("select", ForwardStepwise()), ("ols", LinearRegression())]).fit(X, y)
    np.testing.assert_allclose(pipe.predict(X), ForwardStepwise().fit(X, y).predict(X), rtol=1e-9)
    assert ForwardStepwise().fit(X, y).score(X, y) == pytest.approx(pipe.score(X, y))


def test_validation_names_columns_and_arguments():
    X, y = _diabetes()
    bad = X.copy()
    bad.loc[3, "bp"] = np.nan
    with pytest.raises(ValueError, match="bp"):
        ForwardStepwise().fit(bad, y)
    const = X.assign(k=1.0)
    with pytest.raises(ValueError, match="'k'.*constant"):
        ForwardStepwise().fit(const, y)
    with pytest.raises(ValueError, match="identical"):
        ForwardStepwise().fit(X.assign(dup=X["bmi"]), y)
    with pytest.raises(ValueError, match="criterion"):
        ForwardStepwise(criterion="r2").fit(X, y)
    with pytest.raises(ValueError, match="max_features"):
        ForwardStepwise(max_features=-1).fit(X, y)
    with pytest.raises(ValueError, match="cv must be"):
        ForwardStepwise(criterion="cv", cv=1).fit(X, y)
    with pytest.raises(ValueError, match="rows"):
        ForwardStepwise().fit(X, y[:-1])
    with pytest.raises(NotFittedError, match="not fitted"):
        ForwardStepwise().predict(X)
    model = ForwardStepwise().fit(X, y)
    with pytest.raises(ValueError, match="X has 9 features, but ForwardStepwise is expecting 10 features as input"):
        model.predict(X.iloc[:, :9].to_numpy())
    with pytest.raises(ValueError, match="The feature names should match those that were passed during fit"):
        model.predict(X.rename(columns={"bmi": "BMI"}))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        model.predict(X.to_numpy())  # plain arrays are accepted after a DataFrame fit
