"""IV2SLS and IVLIML equal to linearmodels' IV2SLS and IVLIML (coefficients and standard errors to
1e-8 relative for every covariance type, the first-stage F statistics, partial and Shea R², Sargan's
test, LIML's kappa) on a simulated overidentified design and on the bundled Grunfeld panel
(firm value instrumented by its lag); the k-class algebra; bad input."""
import warnings

import numpy as np
import pandas as pd
import pytest

from chainrule.datasets import load_grunfeld
from chainrule.stats import IV2SLS, IVLIML, OLS, CollinearityError

lm_iv = pytest.importorskip("linearmodels.iv")

COVS = [  # (linearmodels cov_type, debiased, chainrule cov_type, cluster columns)
    ("unadjusted", True, "nonrobust", None),
    ("robust", False, "HC0", None),
    ("robust", True, "HC1", None),
    ("clustered", True, "cluster", "g"),
    ("clustered", True, "cluster", ["g", "h"]),
]
ESTIMATORS = [(lm_iv.IV2SLS, IV2SLS), (lm_iv.IVLIML, IVLIML)]


def simulated(n=500, seed=0):
    rng = np.random.default_rng(seed)
    z1, z2, z3, x1, u = rng.normal(size=(5, n))
    d1 = 0.5 * z1 + 0.3 * z2 + 0.2 * x1 + u + rng.normal(size=n)
    d2 = 0.4 * z3 - 0.2 * z1 + 0.5 * u + rng.normal(size=n)
    y = 1 + 2 * x1 - d1 + 0.5 * d2 + u * (1 + 0.5 * np.abs(x1)) + rng.normal(size=n)
    return pd.DataFrame({"y": y, "x1": x1, "d1": d1, "d2": d2, "z1": z1, "z2": z2, "z3": z3,
                         "g": rng.integers(0, 40, n), "h": rng.integers(0, 7, n), "const": 1.0})


def grunfeld_with_lags():
    data = load_grunfeld(as_frame=True).sort_values(["firm", "year"])
    data["value_lag"] = data.groupby("firm")["value"].shift(1)
    data["capital_lag"] = data.groupby("firm")["capital"].shift(1)
    data = data.dropna().reset_index(drop=True)
    data["const"] = 1.0
    data["g"] = pd.factorize(data["firm"])[0]  # linearmodels' two-way clustering needs numeric labels
    data["h"] = data["year"]
    return data


def reference_fit(estimator, data, exog, endog, instruments, cov, debiased, clusters):
    kwargs = {} if clusters is None else {"clusters": data[clusters]}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return estimator(data["y"], data[["const", *exog]], data[endog], data[instruments]).fit(
            cov_type=cov, debiased=debiased, **kwargs)


def assert_equal_to_linearmodels(reference, model, q, unadjusted):
    np.testing.assert_allclose(model.params.to_numpy(), reference.params.to_numpy(), rtol=1e-8)
    np.testing.assert_allclose(model.bse.to_numpy(), reference.std_errors.to_numpy(), rtol=1e-8)
    np.testing.assert_allclose(model.std_errors.to_numpy(), reference.std_errors.to_numpy(), rtol=1e-8)
    np.testing.assert_allclose(model.tvalues.to_numpy(), reference.tstats.to_numpy(), rtol=1e-8)
    assert list(model.params.index) == list(reference.params.index)
    diagnostics = reference.first_stage.diagnostics
    fstat = diagnostics["f.stat"].to_numpy() / (1 if unadjusted else q)  # linearmodels: W, robust; W/q, unadjusted
    np.testing.assert_allclose(model.first_stage.diagnostics["f.stat"].to_numpy(), fstat, rtol=1e-8)
    np.testing.assert_allclose(model.first_stage.diagnostics["f.pval"].to_numpy(),
                               diagnostics["f.pval"].to_numpy(), rtol=1e-6, atol=1e-300)
    np.testing.assert_allclose(model.first_stage.diagnostics["partial.rsquared"].to_numpy(),
                               diagnostics["partial.rsquared"].to_numpy(), rtol=1e-8)
    np.testing.assert_allclose(model.first_stage.diagnostics["rsquared"].to_numpy(),
                               diagnostics["rsquared"].to_numpy(), rtol=1e-8)
    np.testing.assert_allclose(model.first_stage.diagnostics["shea.rsquared"].to_numpy(),
                               diagnostics["shea.rsquared"].to_numpy(), rtol=1e-8)
    np.testing.assert_allclose(model.rsquared, reference.rsquared, rtol=1e-8)
    np.testing.assert_allclose(model.results_.kappa, reference.kappa, rtol=1e-10)
    if model.sargan.df:
        np.testing.assert_allclose(model.sargan.stat, reference.sargan.stat, rtol=1e-6, atol=1e-8)
        np.testing.assert_allclose(model.sargan.pval, reference.sargan.pval, rtol=1e-6, atol=1e-8)
        assert model.sargan.df == reference.sargan.df
        np.testing.assert_allclose(model.wooldridge_overid.stat, reference.wooldridge_overid.stat, rtol=1e-8)
        np.testing.assert_allclose(model.wooldridge_overid.pval, reference.wooldridge_overid.pval, rtol=1e-6)


@pytest.mark.parametrize("cov,debiased,cov_type,clusters", COVS)
@pytest.mark.parametrize("reference_estimator,estimator", ESTIMATORS)
def test_simulated_overidentified_design_equals_linearmodels(reference_estimator, estimator, cov, debiased,
                                                             cov_type, clusters):
    data = simulated()
    instruments = ["z1", "z2", "z3"]
    reference = reference_fit(reference_estimator, data, ["x1"], ["d1", "d2"], instruments, cov, debiased, clusters)
    model = estimator(endog=["d1", "d2"], instruments=instruments, cov_type=cov_type).fit(
        data[["x1", "d1", "d2", *instruments]], data["y"], groups=None if clusters is None else data[clusters])
    assert_equal_to_linearmodels(reference, model, 3, cov == "unadjusted")


@pytest.mark.parametrize("cov,debiased,cov_type,clusters", COVS)
@pytest.mark.parametrize("reference_estimator,estimator", ESTIMATORS)
def test_grunfeld_value_instrumented_by_its_lags_equals_linearmodels(reference_estimator, estimator, cov, debiased,
                                                                     cov_type, clusters):
    data = grunfeld_with_lags().rename(columns={"invest": "y"})
    instruments = ["value_lag", "capital_lag"]
    reference = reference_fit(reference_estimator, data, ["capital"], ["value"], instruments, cov, debiased, clusters)
    groups = None if clusters is None else data[clusters]
    model = estimator(endog="value", instruments=instruments, cov_type=cov_type).fit(
        data[["capital", "value", *instruments]], data["y"], groups=groups)
    assert_equal_to_linearmodels(reference, model, 2, cov == "unadjusted")


def test_liml_equals_2sls_when_exactly_identified_and_kclass_algebra():
    data = simulated(seed=1)
    X = data[["x1", "d1", "z1"]]
    tsls = IV2SLS(endog="d1", instruments="z1").fit(X, data["y"])
    liml = IVLIML(endog="d1", instruments="z1").fit(X, data["y"])
    assert liml.kappa_ == pytest.approx(1.0, abs=1e-10)
    np.testing.assert_allclose(liml.params, tsls.params, rtol=1e-9)
    assert np.isnan(tsls.sargan.stat) and tsls.sargan.df == 0
    # 2SLS is OLS of y on the first-stage fitted values (same coefficients)
    Z = np.column_stack([np.ones(len(data)), data[["x1", "z1"]].to_numpy()])
    d_hat = Z @ np.linalg.lstsq(Z, data["d1"].to_numpy(), rcond=None)[0]
    second = OLS().fit(np.column_stack([data["x1"], d_hat]), data["y"])
    np.testing.assert_allclose(tsls.params.to_numpy(), second.params, rtol=1e-9)
    # one endogenous regressor: Cragg-Donald is the nonrobust first-stage F
    assert tsls.first_stage.cragg_donald == pytest.approx(tsls.first_stage.fstat["d1"], rel=1e-9)
    # with the regressors as their own instruments, 2SLS is OLS
    ols = OLS(cov_type="HC1").fit(data[["x1", "d1"]], data["y"])
    own = IV2SLS(endog="d1", instruments="z1", cov_type="HC1").fit(
        data[["x1", "d1"]].assign(z1=data["d1"]), data["y"])
    np.testing.assert_allclose(own.params.to_numpy(), ols.params.to_numpy(), rtol=1e-9)
    np.testing.assert_allclose(own.bse.to_numpy(), ols.bse.to_numpy(), rtol=1e-9)


def test_fuller_liml_equals_linearmodels_and_array_input():
    data = simulated(seed=2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        reference = lm_iv.IVLIML(data["y"], data[["const", "x1"]], data[["d1"]], data[["z1", "z2"]], fuller=1).fit(
            cov_type="robust", debiased=True)
    model = IVLIML(endog=[1], instruments=[2, 3], fuller=1, cov_type="HC1").fit(
        data[["x1", "d1", "z1", "z2"]].to_numpy(), data["y"].to_numpy())
    np.testing.assert_allclose(model.params, reference.params.to_numpy(), rtol=1e-8)
    np.testing.assert_allclose(model.bse, reference.std_errors.to_numpy(), rtol=1e-8)
    prediction = model.predict(data[["x1", "d1", "z1", "z2"]].to_numpy())
    np.testing.assert_allclose(prediction, data["y"] - model.resid, rtol=1e-10)
    assert "IV-LIML" in model.summary().as_text()
    assert "Cragg-Donald" in str(model.first_stage)


def _data():
    return simulated(n=120, seed=3)


@pytest.mark.parametrize("kwargs,fit,error,match", [
    ({"endog": ["d1", "d2"], "instruments": ["z1"]}, {}, ValueError, "fewer instruments"),
    ({"endog": ["d1"], "instruments": ["zz"]}, {}, ValueError, "X has no column 'zz'"),
    ({"endog": None, "instruments": ["z1"]}, {}, TypeError, "endog: expected a column name"),
    ({"endog": ["d1"], "instruments": ["d1"]}, {}, ValueError, "both in endog and in instruments"),
    ({"endog": ["d1"], "instruments": ["z1"], "cov_type": "HC3"}, {}, ValueError, "cov_type: expected one of"),
    ({"endog": ["d1"], "instruments": ["z1"], "cov_type": "cluster"}, {}, ValueError, "needs groups="),
    ({"endog": ["d1"], "instruments": ["z1"], "cov_type": "cluster"}, {"groups": np.ones(120)}, ValueError,
     "at least 2 groups"),
    ({"endog": ["d1"], "instruments": ["z1"]}, {"groups": np.arange(120)}, ValueError, "only with cov_type"),
    ({"endog": ["d1"], "instruments": ["z1", "z1b"]}, {}, CollinearityError, "z1b is a linear combination"),
    ({"endog": ["d1"], "instruments": ["zero"]}, {}, CollinearityError, "all-zero column: zero"),
])
def test_bad_input(kwargs, fit, error, match):
    data = _data().assign(z1b=lambda d: 2 * d["z1"], zero=0.0)
    named = [c for c in [*(kwargs["endog"] or ["d1"]), *kwargs["instruments"]] if c in data.columns]
    X = data[["x1", *dict.fromkeys(named)]]
    with pytest.raises(error, match=match):
        IV2SLS(**kwargs).fit(X, data["y"], **fit)
    if error is ValueError and "fewer" in match:
        with pytest.raises(error, match=match):
            IVLIML(**kwargs).fit(X, data["y"], **fit)


@pytest.mark.parametrize("name,reference_estimator", [("iv2sls", lm_iv.IV2SLS), ("ivliml", lm_iv.IVLIML)])
def test_formula_equals_linearmodels_formula(name, reference_estimator):
    from chainrule import formula

    data = simulated(seed=4)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        reference = reference_estimator.from_formula("y ~ 1 + x1 + [d1 + d2 ~ z1 + z2 + z3]", data).fit(
            cov_type="clustered", debiased=True, clusters=data["g"])
    model = getattr(formula, name)("y ~ x1 + (d1 + d2 ~ z1 + z2 + z3)", data, cov_type="cluster", groups="g")
    assert list(model.params.index) == ["Intercept", "x1", "d1", "d2"]
    np.testing.assert_allclose(model.params.to_numpy(), reference.params.to_numpy(), rtol=1e-8)
    np.testing.assert_allclose(model.bse.to_numpy(), reference.std_errors.to_numpy(), rtol=1e-8)


@pytest.mark.parametrize("text,match", [
    ("y ~ x1 + d1", "no '\\(endogenous ~ instruments\\)' term"),
    ("y ~ x1 + (d1 ~ z1) + (d2 ~ z2)", "one '\\(endogenous ~ instruments\\)' term"),
    ("y ~ x1 + (d1 ~ x1)", "both a regressor and an excluded instrument"),
    ("y ~ x1 + (d1 ~ z1) | plant", "no fixed-effect column 'plant'"),
])
def test_formula_bad_input(text, match):
    from chainrule import formula

    with pytest.raises(formula.FormulaError, match=match):
        formula.iv2sls(text, simulated(n=100))
