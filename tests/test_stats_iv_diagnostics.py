"""The Kleibergen–Paap rk Wald statistic and Hansen's J (stats/iv_diagnostics.py).

* Hansen's J equals linearmodels' ``IVGMM(weight_type="robust"|"clustered").fit(cov_type=...).j_stat`` to 1e-8
  relative (statistic and p-value; 2SLS and LIML fits, whose J is the same two-step GMM's);
* with one endogenous regressor the rk Wald F equals linearmodels' first-stage F of the excluded instruments under
  the same covariance (``first_stage.diagnostics["f.stat"]``: W for the robust types, W/q unadjusted) to 1e-8;
* with two endogenous regressors the rk statistic equals an independent implementation written here: the
  covariance of the first stage's coefficients from the full (not partialled) regression on [1, X_1, Z_2], and
  the rank test computed line by line as Kleibergen & Paap (2006) and ivreg2's ranktest.ado (Mata) write it
  (A_⊥ = [U12; U22] U22⁻¹ (U22 U22')^½, B_⊥ = (V22 V22')^½ V22'⁻¹ [V12; V22]'), to 1e-8 relative.
"""
import warnings

import numpy as np
import pytest
import scipy.linalg as la
from scipy import stats
from test_stats_iv import COVS, grunfeld_with_lags, reference_fit, simulated

from chainrule.stats import IV2SLS, IVLIML

lm_iv = pytest.importorskip("linearmodels.iv")

DESIGNS = [  # (data, exogenous, endogenous, instruments)
    (simulated, ["x1"], ["d1", "d2"], ["z1", "z2", "z3"]),
    (grunfeld_with_lags, ["capital"], ["value"], ["value_lag", "capital_lag"]),
]


def fit(estimator, data, exog, endog, instruments, cov_type, clusters):
    groups = None if clusters is None else data[clusters]
    return estimator(endog=endog, instruments=instruments, cov_type=cov_type).fit(
        data[exog + endog + instruments], data["y"] if "y" in data else data["invest"], groups=groups)


def _data(make):
    data = make()
    if "y" not in data:
        data["y"] = data["invest"]
    return data


@pytest.mark.parametrize("estimator", [IV2SLS, IVLIML])
@pytest.mark.parametrize("make,exog,endog,instruments", DESIGNS)
@pytest.mark.parametrize("cov,cov_type,clusters", [("robust", "HC0", None), ("robust", "HC1", None),
                                                   ("clustered", "cluster", "g")])
def test_hansen_j_equals_linearmodels_ivgmm(make, exog, endog, instruments, cov, cov_type, clusters, estimator):
    data = _data(make)
    weight = {} if clusters is None else {"clusters": data[clusters]}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        reference = lm_iv.IVGMM(data["y"], data[["const", *exog]], data[endog], data[instruments],
                                weight_type=cov, **weight).fit(cov_type=cov, **weight).j_stat
    model = fit(estimator, data, exog, endog, instruments, cov_type, clusters)
    np.testing.assert_allclose(model.j_stat.stat, reference.stat, rtol=1e-8)
    np.testing.assert_allclose(model.j_stat.pval, reference.pval, rtol=1e-8)
    assert model.j_stat.df == reference.df == len(instruments) - len(endog)
    assert "Hansen's J" in str(model.summary())
    diagnostics = model.diagnostics
    assert diagnostics.loc["j_stat", "stat"] == model.j_stat.stat
    assert diagnostics.loc["kleibergen_paap_f", "stat"] == model.first_stage.kleibergen_paap_f
    assert list(diagnostics.index) == ["sargan", "wooldridge_overid", "j_stat", "kleibergen_paap",
                                       "kleibergen_paap_f", "cragg_donald"]


def test_hansen_j_is_nan_when_exactly_identified():
    data = simulated()
    model = IV2SLS(endog="d1", instruments="z1", cov_type="HC1").fit(data[["x1", "d1", "z1"]], data["y"])
    assert np.isnan(model.j_stat.stat) and model.j_stat.df == 0


@pytest.mark.parametrize("cov,debiased,cov_type,clusters", COVS)
def test_rk_wald_f_with_one_endogenous_regressor_equals_linearmodels_first_stage_f(cov, debiased, cov_type,
                                                                                   clusters):
    data = simulated(seed=4)
    reference = reference_fit(lm_iv.IV2SLS, data, ["x1"], ["d1"], ["z1", "z2", "z3"], cov, debiased, clusters)
    model = fit(IV2SLS, data, ["x1"], ["d1"], ["z1", "z2", "z3"], cov_type, clusters)
    fstat = float(reference.first_stage.diagnostics["f.stat"].iloc[0]) / (1 if cov == "unadjusted" else 3)
    np.testing.assert_allclose(model.first_stage.kleibergen_paap_f, fstat, rtol=1e-8)
    np.testing.assert_allclose(model.first_stage.kleibergen_paap.stat, 3 * fstat, rtol=1e-8)
    assert model.first_stage.kleibergen_paap.df == 3
    assert "Kleibergen-Paap rk Wald F" in str(model.first_stage)


def ranktest_reference(data, exog, endog, instruments, cov_type, clusters):
    """Kleibergen & Paap's rk statistic for H0: rank Π = m − 1, line by line (see the module docstring)."""
    y = data[endog].to_numpy()
    Zfull = np.column_stack([np.ones(len(data)), data[exog + instruments].to_numpy()])
    n, L = Zfull.shape
    m, q = len(endog), len(instruments)
    ZZinv = np.linalg.inv(Zfull.T @ Zfull)
    coefficients = ZZinv @ Zfull.T @ y
    v = y - Zfull @ coefficients
    if cov_type == "nonrobust":
        V_full = np.kron(v.T @ v / (n - L), ZZinv)
    else:
        moments = np.zeros((L * m, L * m))
        if cov_type == "cluster":
            for g in np.unique(data[clusters]):
                rows = (data[clusters] == g).to_numpy()
                s = np.concatenate([Zfull[rows].T @ v[rows, j] for j in range(m)])
                moments += np.outer(s, s)
            G = data[clusters].nunique()
            moments *= G / (G - 1) * (n - 1) / (n - L)
        else:
            for i in range(n):
                s = np.kron(v[i], Zfull[i])
                moments += np.outer(s, s)
            moments *= n / (n - L) if cov_type == "HC1" else 1.0
        bread = np.kron(np.eye(m), ZZinv)
        V_full = bread @ moments @ bread
    block = [j * L + (L - q) + a for j in range(m) for a in range(q)]  # the excluded instruments' rows, vec order
    V_pi, pihat = V_full[np.ix_(block, block)], coefficients[L - q:, :]
    X1 = Zfull[:, :L - q]
    zhat = data[instruments].to_numpy() - X1 @ np.linalg.lstsq(X1, data[instruments].to_numpy(), rcond=None)[0]
    yhat = y - X1 @ np.linalg.lstsq(X1, y, rcond=None)[0]
    rzhat, ryhat = la.cholesky(zhat.T @ zhat, lower=True), la.cholesky(yhat.T @ yhat, lower=True)
    iryhat = np.linalg.inv(ryhat.T)
    that = rzhat.T @ pihat @ iryhat
    vhat = np.kron(iryhat.T, rzhat.T) @ V_pi @ np.kron(iryhat.T, rzhat.T).T
    ut, _, vt = np.linalg.svd(that, full_matrices=True)
    vt = vt.T
    i = m  # ranktest's loop index for the test of rank m − 1 (1-based)
    u12, u22 = ut[:i - 1, i - 1:], ut[i - 1:, i - 1:]
    v12, v22 = vt[:i - 1, i - 1:], vt[i - 1:, i - 1:]
    u22h, v22h = la.sqrtm(u22 @ u22.T).real, la.sqrtm(v22 @ v22.T).real
    aq = np.vstack([u12, u22]) @ np.linalg.inv(u22) @ u22h
    bq = v22h @ np.linalg.inv(v22.T) @ np.vstack([v12, v22]).T
    lab = np.kron(bq, aq.T) @ that.ravel(order="F")
    vlab = np.kron(bq, aq.T) @ vhat @ np.kron(bq, aq.T).T
    return float(lab @ np.linalg.solve(vlab, lab))


@pytest.mark.parametrize("cov_type,clusters", [("nonrobust", None), ("HC0", None), ("HC1", None), ("cluster", "g")])
@pytest.mark.parametrize("seed", [0, 1])
def test_rk_statistic_with_two_endogenous_regressors_equals_kleibergen_paap_written_out(cov_type, clusters, seed):
    data = simulated(n=400, seed=seed)
    expected = ranktest_reference(data, ["x1"], ["d1", "d2"], ["z1", "z2", "z3"], cov_type, clusters)
    model = fit(IV2SLS, data, ["x1"], ["d1", "d2"], ["z1", "z2", "z3"], cov_type, clusters)
    rk = model.first_stage.kleibergen_paap
    np.testing.assert_allclose(rk.stat, expected, rtol=1e-8)
    np.testing.assert_allclose(model.first_stage.kleibergen_paap_f, expected / 3, rtol=1e-8)
    assert rk.df == 2
    np.testing.assert_allclose(rk.pval, stats.chi2.sf(expected, 2), rtol=1e-8)


def test_hansen_j_is_nan_when_the_moments_covariance_is_not_positive_definite():
    data = simulated()
    data["few"] = np.arange(len(data)) % 3  # 3 clusters for 5 instruments: Σ_g S_g S_g' has rank ≤ 3
    model = IV2SLS(endog=["d1", "d2"], instruments=["z1", "z2", "z3"], cov_type="cluster").fit(
        data[["x1", "d1", "d2", "z1", "z2", "z3"]], data["y"], groups=data["few"])
    assert np.isnan(model.j_stat.stat) and "not positive definite" in model.j_stat.name
