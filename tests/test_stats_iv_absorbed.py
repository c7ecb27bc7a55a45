"""IV2SLS and IVLIML with absorbed fixed effects (``absorb=[...]``).

References and tolerances:
* pyfixest's ``feols("y ~ x | firm + year | d ~ z1 + z2", vcov=...)`` (one endogenous regressor, pyfixest's
  limit): coefficients, standard errors, t statistics and the first-stage F (one-way clustering: pyfixest's
  first stage clusters by the first variable only) to 1e-10 relative (two factors; the exact two-factor
  solve leaves ~1e-15), 1e-7 with three factors (alternating projections to tol 1e-10);
* linearmodels' IV2SLS / IVLIML with the fixed effects as dummy columns: with no factor nested in a
  cluster, "nonrobust" and "HC1" count the absorbed levels exactly as the dummies do, so coefficients
  and standard errors agree to 1e-8 relative, LIML's kappa to 1e-10 (two endogenous regressors; LIML
  and Fuller, which pyfixest does not have).
"""
import warnings

import numpy as np
import pandas as pd
import pytest

from chainrule import formula
from chainrule.datasets import load_grunfeld
from chainrule.stats import IV2SLS, IVLIML, CollinearityError, DataWarning

pf = pytest.importorskip("pyfixest")
lm_iv = pytest.importorskip("linearmodels.iv")

VCOVS = [  # (pyfixest vcov, chainrule cov_type, groups)
    ("iid", "nonrobust", None),
    ("hetero", "HC1", None),
    ({"CRV1": "firm"}, "cluster", "firm"),
    ({"CRV1": "firm+year"}, "cluster", ["firm", "year"]),
]


def panel(n=2500, firms=200, years=12, seed=0, singletons=20):
    rng = np.random.default_rng(seed)
    firm = rng.integers(0, firms, n)
    year = rng.integers(0, years, n)
    firm[:singletons] = firms + np.arange(singletons)
    z1, z2, z3, x1, u = rng.normal(size=(5, n))
    d = 0.6 * z1 + 0.3 * z2 + 0.2 * x1 + np.sin(firm) + 0.05 * year + u + rng.normal(size=n)
    d2 = 0.5 * z3 - 0.3 * z1 + np.cos(firm) + 0.5 * u + rng.normal(size=n)
    y = 0.5 * x1 - d + 0.4 * d2 + np.cos(firm) + 0.1 * year + u * (1 + 0.3 * (firm % 3)) + rng.normal(size=n)
    return pd.DataFrame({"y": y, "x1": x1, "d": d, "d2": d2, "z1": z1, "z2": z2, "z3": z3, "firm": firm,
                         "year": year, "region": firm % 9})


def grunfeld():
    data = load_grunfeld(as_frame=True).sort_values(["firm", "year"])
    data["value_lag"] = data.groupby("firm")["value"].shift(1)
    data["capital_lag"] = data.groupby("firm")["capital"].shift(1)
    return data.dropna().reset_index(drop=True)


def feols(fml, data, vcov):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return pf.feols(fml, data=data, vcov=vcov, fixef_tol=1e-12)


def fit(estimator, data, columns, target, absorb, cov_type, groups, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DataWarning)
        return estimator(absorb=absorb, cov_type=cov_type, **kwargs).fit(data[columns + absorb], data[target],
                                                                          groups=groups)


def assert_equal_to_pyfixest(reference, model, vcov, rtol):
    np.testing.assert_allclose(model.params.to_numpy(), reference.coef().to_numpy(), rtol=rtol)
    np.testing.assert_allclose(model.bse.to_numpy(), reference.se().to_numpy(), rtol=rtol)
    np.testing.assert_allclose(model.tvalues.to_numpy(), reference.tstat().to_numpy(), rtol=rtol)
    np.testing.assert_allclose(model.pvalues.to_numpy(), reference.pvalue().to_numpy(), rtol=1e-6, atol=1e-14)
    np.testing.assert_allclose(model.conf_int().to_numpy(), reference.confint().to_numpy(), rtol=rtol)
    assert list(model.params.index) == list(reference.coef().index)
    assert model.nobs == reference._N
    if not (isinstance(vcov, dict) and "+" in next(iter(vcov.values()))):
        fstat = next(iter(model.first_stage.fstat.values()))
        np.testing.assert_allclose(fstat, reference._f_stat_1st_stage, rtol=rtol)
        np.testing.assert_allclose(model.first_stage.kleibergen_paap_f, reference._f_stat_1st_stage, rtol=rtol)


@pytest.mark.parametrize("vcov,cov_type,groups", VCOVS)
def test_simulated_panel_with_singletons_equals_pyfixest(vcov, cov_type, groups):
    data = panel()
    reference = feols("y ~ x1 | firm + year | d ~ z1 + z2", data, vcov)
    model = fit(IV2SLS, data, ["x1", "d", "z1", "z2"], "y", ["firm", "year"], cov_type, groups,
                endog="d", instruments=["z1", "z2"])
    assert_equal_to_pyfixest(reference, model, vcov, 1e-10)
    assert model.n_singletons_ == 20 and model.results_.n_singletons == 20
    assert model.results_.absorb == ["firm", "year"]
    assert model.results_.use_t  # t statistics, as pyfixest


@pytest.mark.parametrize("vcov,cov_type,groups", VCOVS)
def test_grunfeld_value_instrumented_by_its_lags_within_firm_and_year_equals_pyfixest(vcov, cov_type, groups):
    data = grunfeld()
    reference = feols("invest ~ capital | firm + year | value ~ value_lag + capital_lag", data, vcov)
    model = fit(IV2SLS, data, ["capital", "value", "value_lag", "capital_lag"], "invest", ["firm", "year"],
                cov_type, groups, endog="value", instruments=["value_lag", "capital_lag"])
    assert_equal_to_pyfixest(reference, model, vcov, 1e-10)


@pytest.mark.parametrize("vcov,cov_type,groups", VCOVS[:3])
def test_three_factors_by_alternating_projections_equal_pyfixest(vcov, cov_type, groups):
    data = panel(seed=3, singletons=0)
    reference = feols("y ~ x1 | firm + year + region | d ~ z1 + z2", data, vcov)
    model = fit(IV2SLS, data, ["x1", "d", "z1", "z2"], "y", ["firm", "year", "region"], cov_type, groups,
                endog="d", instruments=["z1", "z2"])
    assert_equal_to_pyfixest(reference, model, vcov, 1e-7)


def dummies_reference(estimator, data, exog, endog, instruments, cov, debiased, **kwargs):
    """linearmodels with the firm and year effects as dummy columns (firm 0 and year 0 left out)."""
    frame = pd.concat([data[exog], pd.get_dummies(data["firm"], prefix="f", drop_first=True, dtype=float),
                       pd.get_dummies(data["year"], prefix="t", drop_first=True, dtype=float)], axis=1)
    frame.insert(0, "const", 1.0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return estimator(data["y"], frame, data[endog], data[instruments], **kwargs).fit(cov_type=cov,
                                                                                          debiased=debiased)


@pytest.mark.parametrize("cov,cov_type", [("unadjusted", "nonrobust"), ("robust", "HC1")])
@pytest.mark.parametrize("reference_estimator,estimator,kwargs", [
    (lm_iv.IV2SLS, IV2SLS, {}), (lm_iv.IVLIML, IVLIML, {}), (lm_iv.IVLIML, IVLIML, {"fuller": 1.0})])
def test_two_endogenous_regressors_equal_linearmodels_with_dummies(reference_estimator, estimator, kwargs, cov,
                                                                   cov_type):
    data = panel(n=800, firms=40, singletons=0)
    reference = dummies_reference(reference_estimator, data, ["x1"], ["d", "d2"], ["z1", "z2", "z3"], cov, True,
                                  **kwargs)
    model = fit(estimator, data, ["x1", "d", "d2", "z1", "z2", "z3"], "y", ["firm", "year"], cov_type, None,
                endog=["d", "d2"], instruments=["z1", "z2", "z3"], **kwargs)
    names = ["x1", "d", "d2"]
    np.testing.assert_allclose(model.params.to_numpy(), reference.params[names].to_numpy(), rtol=1e-8)
    np.testing.assert_allclose(model.bse.to_numpy(), reference.std_errors[names].to_numpy(), rtol=1e-8)
    np.testing.assert_allclose(model.results_.kappa, reference.kappa, rtol=1e-10)
    np.testing.assert_allclose(model.sargan.stat, reference.sargan.stat, rtol=1e-7)
    np.testing.assert_allclose(model.results_.rsquared, reference.rsquared, rtol=1e-8)


def test_formula_with_instruments_and_fixed_effects_equals_pyfixest():
    data = panel(seed=5)
    reference = feols("y ~ x1 | firm + year | d ~ z1 + z2", data, {"CRV1": "firm"})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DataWarning)
        model = formula.iv2sls("y ~ x1 + (d ~ z1 + z2) | firm + year", data, cov_type="cluster", groups="firm")
        liml = formula.ivliml("y ~ x1 + (d ~ z1 + z2) | firm + year", data)
    assert_equal_to_pyfixest(reference, model, {"CRV1": "firm"}, 1e-10)
    assert list(model.params.index) == ["x1", "d"]
    assert liml.results_.kappa >= 1 and liml.results_.absorb == ["firm", "year"]


def test_exogenous_regressor_constant_within_firms_is_dropped_as_pyfixest_drops_it():
    data = panel(seed=6, singletons=0)
    data["size"] = np.sin(data["firm"] * 1.3)  # a firm-level characteristic: absorbed by the firm effects
    reference = feols("y ~ x1 + size | firm + year | d ~ z1 + z2", data, "hetero")
    with pytest.warns(DataWarning, match="dropped size"):
        model = IV2SLS(endog="d", instruments=["z1", "z2"], absorb=["firm", "year"], cov_type="HC1").fit(
            data[["x1", "size", "d", "z1", "z2", "firm", "year"]], data["y"])
    assert model.dropped_ == ["size"]
    np.testing.assert_allclose(model.params.to_numpy(), reference.coef().to_numpy(), rtol=1e-10)
    np.testing.assert_allclose(model.bse.to_numpy(), reference.se().to_numpy(), rtol=1e-10)


def test_array_input_with_positions_equals_dataframe_input_and_predict_is_refused():
    data = panel(seed=7)
    columns = ["x1", "d", "z1", "z2", "firm", "year"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DataWarning)
        named = IV2SLS(endog="d", instruments=["z1", "z2"], absorb=["firm", "year"]).fit(data[columns], data["y"])
        plain = IV2SLS(endog=1, instruments=[2, 3], absorb=[4, 5]).fit(data[columns].to_numpy(), data["y"].to_numpy())
    np.testing.assert_allclose(plain.params, named.params.to_numpy(), rtol=1e-12)
    with pytest.raises(ValueError, match="cannot predict new rows"):
        named.predict(data[columns])


def _bad_panel():
    data = panel(n=600, firms=30, singletons=0)
    data["firm_z"] = np.cos(data["firm"] * 0.7)  # constant within firms
    data["firm_d"] = np.sin(data["firm"] * 0.9)
    return data


@pytest.mark.parametrize("kwargs,columns,error,match", [
    (dict(endog="d", instruments=["firm_z"]), ["x1", "d", "firm_z"], CollinearityError,
     "excluded instrument 'firm_z' has no variation left after absorbing the fixed effects \\(firm, year\\)"),
    (dict(endog="d", instruments=["z1", "firm_z"]), ["x1", "d", "z1", "firm_z"], CollinearityError,
     "excluded instrument 'firm_z'"),
    (dict(endog="firm_d", instruments=["z1"]), ["x1", "firm_d", "z1"], CollinearityError,
     "endogenous regressor 'firm_d' has no variation left after absorbing"),
    (dict(endog=["d", "d2"], instruments=["z1"]), ["x1", "d", "d2", "z1"], ValueError,
     "fewer instruments \\(1: \\['z1'\\]\\) than endogenous regressors \\(2: \\['d', 'd2'\\]\\)"),
    (dict(endog="d", instruments=["z1"], absorb=["plant"]), ["x1", "d", "z1"], ValueError, "no column 'plant'"),
    (dict(endog="d", instruments=["z1"], cov_type="cluster"), ["x1", "d", "z1"], ValueError, "needs groups="),
])
def test_bad_input_names_the_column(kwargs, columns, error, match):
    data = _bad_panel()
    kwargs = {"absorb": ["firm", "year"], **kwargs}
    with pytest.raises(error, match=match):
        IV2SLS(**kwargs).fit(data[columns + ["firm", "year"]], data["y"])


@pytest.mark.parametrize("estimator", [IV2SLS, IVLIML])
def test_hansen_j_within_equals_linearmodels_ivgmm_with_dummies(estimator):
    # the fixed effects' own moments are exactly identified, so the J of the within-transformed moments is the J
    # of the model with the dummies among the regressors and the instruments (robust weight)
    data = panel(n=800, firms=40, singletons=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        reference = dummies_reference(lm_iv.IVGMM, data, ["x1"], ["d", "d2"], ["z1", "z2", "z3"], "robust", False,
                                      weight_type="robust").j_stat
    model = fit(estimator, data, ["x1", "d", "d2", "z1", "z2", "z3"], "y", ["firm", "year"], "HC0", None,
                endog=["d", "d2"], instruments=["z1", "z2", "z3"])
    np.testing.assert_allclose(model.j_stat.stat, reference.stat, rtol=1e-8)
    np.testing.assert_allclose(model.j_stat.pval, reference.pval, rtol=1e-8)
    assert model.j_stat.df == reference.df == 1
