"""OLS diagnostics against statsmodels: influence measures (get_influence / OLSInfluence),
Breusch–Pagan and White tests, Jarque–Bera, Durbin–Watson and variance inflation factors."""
from __future__ import annotations

import warnings

import numpy as np
import pytest

from chainrule.datasets import load_grunfeld
from chainrule.stats import (
    OLS,
    durbin_watson,
    het_breuschpagan,
    het_white,
    jarque_bera,
    variance_inflation_factor,
)

sm = pytest.importorskip("statsmodels.api")
pd = pytest.importorskip("pandas")
diagnostic = pytest.importorskip("statsmodels.stats.diagnostic")
stattools = pytest.importorskip("statsmodels.stats.stattools")
outliers = pytest.importorskip("statsmodels.stats.outliers_influence")

RTOL = 1e-10
ARRAYS = ["hat_matrix_diag", "resid_studentized_internal", "resid_studentized_external", "resid_studentized",
          "sigma2_not_obsi", "dfbetas", "dfbeta", "params_not_obsi", "cov_ratio", "resid_press", "influence",
          "hat_diag_factor", "resid_var", "resid_std"]


@pytest.fixture(scope="module")
def grunfeld():
    frame = load_grunfeld(as_frame=True)
    return frame, frame[["value", "capital"]], frame["invest"]


def _heteroscedastic(n=150, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 3)) + [0.0, 2.0, -1.0]
    y = 1.0 + X @ [1.0, -0.5, 0.25] + rng.normal(size=n) * (0.5 + np.abs(X[:, 0]))
    return X, y


def _compare_influence(ours, ref, rtol=RTOL):
    for name in ARRAYS:
        got, expected = getattr(ours, name), np.asarray(getattr(ref, name))
        assert type(got) is np.ndarray, name
        np.testing.assert_allclose(got, expected, rtol=rtol, atol=1e-13 * np.abs(expected).max(), err_msg=name)
    for name in ("cooks_distance", "dffits", "dffits_internal"):
        for got, expected in zip(getattr(ours, name), getattr(ref, name)):
            np.testing.assert_allclose(got, expected, rtol=rtol, atol=1e-300, err_msg=name)
    assert ours.ess_press == pytest.approx(ref.ess_press, rel=rtol)


@pytest.mark.parametrize("intercept", [True, False])
def test_influence_equals_statsmodels(grunfeld, intercept):
    _, X, y = grunfeld
    model = OLS(fit_intercept=intercept).fit(X, y)
    exog = sm.add_constant(X) if intercept else X
    ref = sm.OLS(y, exog).fit().get_influence()
    ours = model.get_influence()
    _compare_influence(ours, ref)
    pd.testing.assert_frame_equal(ours.summary_frame(), ref.summary_frame(), rtol=1e-9)


def test_influence_of_an_array_fit_and_of_a_robust_fit():
    X, y = _heteroscedastic()
    ref = sm.OLS(y, sm.add_constant(X)).fit().get_influence()
    _compare_influence(OLS().fit(X, y).get_influence(), ref)
    robust = OLS(cov_type="HC3").fit(X, y).get_influence()  # the same numbers: they use the nonrobust s²
    np.testing.assert_allclose(robust.dfbetas, ref.dfbetas, rtol=RTOL, atol=1e-13)
    frame = OLS().fit(X, y).get_influence().summary_frame()
    assert list(frame.columns[:4]) == ["dfb_const", "dfb_x1", "dfb_x2", "dfb_x3"] and frame.shape == (150, 10)


@pytest.mark.parametrize("robust", [True, False])
def test_breusch_pagan_equals_statsmodels(grunfeld, robust):
    _, X, y = grunfeld
    model = OLS().fit(X, y)
    Z = sm.add_constant(X)
    expected = diagnostic.het_breuschpagan(model.resid, Z, robust=robust)
    np.testing.assert_allclose(model.het_breuschpagan(robust=robust), expected, rtol=RTOL)
    np.testing.assert_allclose(het_breuschpagan(model.resid, Z, robust=robust), expected, rtol=RTOL)
    subset = Z[["const", "value"]]  # the variance as a function of some columns only
    np.testing.assert_allclose(model.het_breuschpagan(exog_het=subset, robust=robust),
                               diagnostic.het_breuschpagan(model.resid, subset, robust=robust), rtol=RTOL)


def test_breusch_pagan_without_intercept_adds_the_constant(grunfeld):
    _, X, y = grunfeld
    model = OLS(fit_intercept=False).fit(X, y)
    expected = diagnostic.het_breuschpagan(model.resid, sm.add_constant(X))
    np.testing.assert_allclose(model.het_breuschpagan(), expected, rtol=RTOL)


def test_white_equals_statsmodels(grunfeld):
    _, X, y = grunfeld
    model = OLS().fit(X, y)
    expected = diagnostic.het_white(model.resid, sm.add_constant(X))
    np.testing.assert_allclose(model.het_white(), expected, rtol=RTOL)


def test_white_with_dummies_counts_the_rank(grunfeld):
    """The squares of 0/1 dummies are the dummies and their cross-products are 0: the auxiliary
    design is rank deficient, and the degrees of freedom are its rank, as statsmodels' pinv."""
    frame, X, y = grunfeld
    dummies = pd.get_dummies(frame["firm"], drop_first=True, dtype=float).iloc[:, :3]
    design = pd.concat([X, dummies], axis=1)
    model = OLS().fit(design, y)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # statsmodels: "The design matrix is rank-deficient"
        expected = diagnostic.het_white(model.resid, sm.add_constant(design))
    np.testing.assert_allclose(model.het_white(), expected, rtol=1e-8)


def test_jarque_bera_and_durbin_watson_equal_statsmodels(grunfeld):
    _, X, y = grunfeld
    model = OLS().fit(X, y)
    expected = stattools.jarque_bera(model.resid)
    np.testing.assert_allclose(model.jarque_bera(), expected, rtol=RTOL)
    np.testing.assert_allclose(jarque_bera(model.resid.to_numpy()), expected, rtol=RTOL)
    assert model.durbin_watson() == pytest.approx(stattools.durbin_watson(model.resid), rel=RTOL)
    assert durbin_watson(model.resid) == pytest.approx(stattools.durbin_watson(model.resid), rel=RTOL)


@pytest.mark.parametrize("standardize", [True, False])
def test_vif_equals_statsmodels(grunfeld, standardize):
    frame, X, y = grunfeld
    design = pd.concat([X, frame[["year"]]], axis=1)
    Z = sm.add_constant(design).to_numpy()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # statsmodels warns on the unstandardized design's condition number
        expected = [outliers.variance_inflation_factor(Z, j, standardize=standardize) for j in range(4)]
    vif = OLS().fit(design, y).vif(standardize=standardize)
    pd.testing.assert_series_equal(vif, pd.Series(expected, index=["const", "value", "capital", "year"]), rtol=1e-9)
    got = [variance_inflation_factor(Z, j, standardize=standardize) for j in range(4)]
    np.testing.assert_allclose(got, expected, rtol=1e-9)
    without = OLS(fit_intercept=False).fit(design, y).vif(standardize=standardize)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        expected = [outliers.variance_inflation_factor(design.to_numpy(), j, standardize=standardize)
                    for j in range(3)]
    np.testing.assert_allclose(without, expected, rtol=1e-9)


def test_vif_with_an_implicit_constant_is_centered_as_statsmodels(grunfeld):
    """A full set of firm dummies (no constant column) spans the constant: statsmodels then
    centers the auxiliary R²."""
    frame, X, _ = grunfeld
    dummies = pd.get_dummies(frame["firm"], dtype=float).to_numpy()
    design = np.column_stack([X.to_numpy(), dummies])
    for j in (0, 1):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # statsmodels: "poorly conditioned"
            expected = outliers.variance_inflation_factor(design, j, standardize=False)
        assert variance_inflation_factor(design, j, standardize=False) == pytest.approx(expected, rel=1e-9)


def test_diagnostics_of_a_streamed_fit(grunfeld):
    _, X, y = grunfeld
    def blocks():
        return iter([(X.to_numpy(), y.to_numpy())])
    model = OLS().fit_stream(blocks, feature_names=["value", "capital"])
    pd.testing.assert_series_equal(model.vif(), OLS().fit(X, y).vif(), rtol=1e-10)  # from R: no rows needed
    for method in ("get_influence", "het_breuschpagan", "het_white", "jarque_bera", "durbin_watson"):
        with pytest.raises((AttributeError, ValueError), match="not kept by OLS.fit_stream"):
            getattr(model, method)()


@pytest.mark.parametrize("call, message", [
    (lambda: het_breuschpagan(np.ones(5), np.ones((4, 2))), r"het_breuschpagan: exog_het: expected a 2-D array "
                                                              r"with 5 rows; got shape \(4, 2\)"),
    (lambda: het_white(np.ones((5, 1)), np.ones((5, 2))), r"het_white: resid: expected a 1-D array of at least 2"),
    (lambda: jarque_bera([1.0]), r"jarque_bera: resid: expected a 1-D array of at least 2 residuals"),
    (lambda: variance_inflation_factor(np.ones((5, 2)), 2), r"exog_idx 2 is out of range for 2 columns"),
])
def test_bad_input(call, message):
    with pytest.raises((ValueError, IndexError), match=message):
        call()
