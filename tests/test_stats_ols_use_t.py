"""OLS(use_t=...): Student t (and F) reference distributions for every covariance type, with
df_resid = n − k degrees of freedom, G − 1 for cluster-robust covariances: Stata's
``regress, vce(robust)`` / ``vce(cluster id)`` and statsmodels' ``fit(cov_type=...,
use_t=True)``.

The Stata values are Stata's own output as published with statsmodels' test suite
(statsmodels/regression/tests/results/results_macro_ols_robust.py, results_hc0, and
results_grunfeld_ols_robust_cluster.py, results_cluster): b, se, t, P>|t| and the 95%
interval for each coefficient, and the model F.
"""
from __future__ import annotations

import numpy as np
import pytest

from chainrule.datasets import load_grunfeld
from chainrule.stats import OLS

sm = pytest.importorskip("statsmodels.api")
pd = pytest.importorskip("pandas")

# rows mvalue/g_realgdp, kstock/L.realint, _cons; columns b, se, t, pvalue, ll, ul
STATA_ROBUST = {  # regress g_realinv g_realgdp L.realint, vce(robust)   (N = 202, df_r = 199)
    "table": [[4.3742216647032, .32355452428856, 13.519272136038, 5.703151404e-30, 3.7361862031101, 5.0122571262963],
              [-.61399696947899, .32772840315987, -1.8734933059173, .06246625509181, -1.2602631388273,
               .0322691998693],
              [-9.4816727746549, 1.3690593206013, -6.9256843965613, 5.860240898e-11, -12.181398261383,
               -6.7819472879264]],
    "F": 92.94502024547633, "df": 199,
}
STATA_CLUSTER = {  # regress invest mvalue kstock, vce(cluster company)   (N = 200, 10 clusters)
    "table": [[.11556215606596, .01589433647768, 7.2706499090564, .00004710548549, .07960666895505, .15151764317688],
              [.23067848754982, .08496711097464, 2.7149150406994, .02380515903536, .03846952885627, .42288744624337],
              [-42.714369016733, 20.425202580078, -2.0912580352272, .06604843284516, -88.919387334862,
               3.4906493013959]],
    "F": 51.59060716590177, "df": 9,
}


def _macro():
    data = sm.datasets.macrodata.load_pandas().data
    g_gdp = 400 * np.diff(np.log(data["realgdp"].to_numpy()))
    g_inv = 400 * np.diff(np.log(data["realinv"].to_numpy()))
    return np.column_stack([g_gdp, data["realint"].to_numpy()[:-1]]), g_inv


def _stata_grunfeld():
    """Stata's grunfeld.dta: the first ten firms (200 rows) of the Grunfeld data, stored by Stata
    as single-precision floats (so rounded to float32 here, which Stata widens to double)."""
    frame = load_grunfeld(as_frame=True).iloc[:200]
    values = frame[["value", "capital", "invest"]].astype(np.float32).astype(np.float64)
    return values[["value", "capital"]], values["invest"], frame["firm"]


def _table(model):
    """b, se, t, p, ll, ul with Stata's row order (slopes, then the constant)."""
    order = [1, 2, 0]
    columns = [np.asarray(model.params), np.asarray(model.bse), np.asarray(model.tvalues), np.asarray(model.pvalues)]
    return np.column_stack([c[order] for c in columns] + [np.asarray(model.conf_int())[order]])


def test_robust_t_inference_equals_stata_regress_vce_robust():
    X, y = _macro()
    model = OLS(cov_type="HC1", use_t=True).fit(X, y)
    np.testing.assert_allclose(_table(model), STATA_ROBUST["table"], rtol=1e-10)  # Stata prints ≥ 10 digits
    assert model.df_resid == STATA_ROBUST["df"]
    assert model.fvalue == pytest.approx(STATA_ROBUST["F"], rel=1e-12)
    assert model.results_.use_t and "t statistics with 199 degrees of freedom" in model.summary().as_text()


def test_cluster_t_inference_equals_stata_regress_vce_cluster():
    X, y, firm = _stata_grunfeld()
    model = OLS(cov_type="cluster", use_t=True).fit(X, y, groups=firm)
    np.testing.assert_allclose(_table(model), STATA_CLUSTER["table"], rtol=1e-10)
    assert model.results_.n_groups == 10 and model.results_._df_inference == STATA_CLUSTER["df"]
    assert model.fvalue == pytest.approx(STATA_CLUSTER["F"], rel=1e-12)
    # the F test's p-value from F(2, G - 1), as Stata's Prob > F
    from scipy import stats
    assert model.f_pvalue == pytest.approx(stats.f.sf(STATA_CLUSTER["F"], 2, 9), rel=1e-10)


def test_without_use_t_robust_inference_is_normal_as_statsmodels_default():
    X, y = _macro()
    model = OLS(cov_type="HC1").fit(X, y)
    assert not model.results_.use_t
    ref = sm.OLS(y, sm.add_constant(X)).fit(cov_type="HC1")
    np.testing.assert_allclose(model.pvalues, ref.pvalues, rtol=1e-10)
    np.testing.assert_allclose(model.conf_int(), ref.conf_int(), rtol=1e-10)


@pytest.mark.parametrize("cov_type", ["nonrobust", "HC0", "HC1", "HC2", "HC3", "cluster"])
@pytest.mark.parametrize("use_t", [True, False])
def test_matches_statsmodels_fit_with_use_t(cov_type, use_t):
    frame = load_grunfeld(as_frame=True)
    X, y, firm = frame[["value", "capital"]], frame["invest"], frame["firm"]
    groups = firm if cov_type == "cluster" else None
    model = OLS(cov_type=cov_type, use_t=use_t).fit(X, y, groups=groups)
    kwds = {"groups": pd.factorize(firm)[0]} if cov_type == "cluster" else None
    ref = sm.OLS(y, sm.add_constant(X)).fit(cov_type=cov_type, cov_kwds=kwds, use_t=use_t)
    assert model.results_.use_t == ref.use_t
    pd.testing.assert_series_equal(model.pvalues, ref.pvalues, rtol=1e-10)
    pd.testing.assert_series_equal(model.tvalues, ref.tvalues, rtol=1e-10)
    pd.testing.assert_frame_equal(model.conf_int(alpha=0.1), ref.conf_int(alpha=0.1), rtol=1e-10)
    assert model.fvalue == pytest.approx(float(ref.fvalue), rel=1e-10)
    assert model.f_pvalue == pytest.approx(float(ref.f_pvalue), rel=1e-10)
    text = model.summary().as_text()
    assert ("P>|t|" in text) == use_t and ("P>|z|" in text) == (not use_t)


@pytest.mark.parametrize("interval", ["confidence", "prediction"])
def test_predict_intervals_use_t_as_statsmodels(interval):
    X, y = _macro()
    model = OLS(cov_type="HC3", use_t=True).fit(X, y)
    ref = sm.OLS(y, sm.add_constant(X)).fit(cov_type="HC3", use_t=True)
    new = X[:5] + 0.5
    frame = ref.get_prediction(sm.add_constant(new, has_constant="add")).summary_frame(alpha=0.05)
    got = model.predict(new, interval=interval)
    prefix = "mean_ci" if interval == "confidence" else "obs_ci"
    np.testing.assert_allclose(got[:, 1], frame[f"{prefix}_lower"], rtol=1e-10)
    np.testing.assert_allclose(got[:, 2], frame[f"{prefix}_upper"], rtol=1e-10)


@pytest.mark.parametrize("bad", ["yes", 1, 0.5])
def test_use_t_must_be_none_or_a_bool(bad):
    X, y = _macro()
    with pytest.raises(TypeError, match=r"OLS: use_t: expected None, True or False; got"):
        OLS(use_t=bad).fit(X, y)
