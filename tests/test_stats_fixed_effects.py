"""OLS(absorb=...): the within estimator with absorbed fixed effects, equal to pyfixest's feols
(coefficients to 1e-8, standard errors to 1e-6 relative; in practice ~1e-12) on the bundled
Grunfeld panel and on simulated unbalanced panels with singletons; one- and two-way clustering;
the demeaning methods against each other; bad input."""
import warnings

import numpy as np
import pandas as pd
import pytest

from chainrule.datasets import load_grunfeld
from chainrule.stats import OLS, DataWarning, clustering, fixed_effects

pf = pytest.importorskip("pyfixest")

VCOVS = [  # (pyfixest vcov, chainrule cov_type, groups)
    ("iid", "nonrobust", None),
    ("hetero", "HC1", None),
    ({"CRV1": "firm"}, "cluster", "firm"),
    ({"CRV1": "firm+year"}, "cluster", ["firm", "year"]),
]


def simulated_panel(n=3000, firms=400, years=15, seed=0, singletons=25):
    rng = np.random.default_rng(seed)
    firm = rng.integers(0, firms, n)
    year = rng.integers(0, years, n)
    firm[:singletons] = firms + np.arange(singletons)  # firms with one row: singletons
    x1 = rng.normal(size=n) + 0.5 * np.sin(firm) + 0.05 * year
    x2 = rng.normal(size=n) + 0.1 * year
    y = 1.0 * x1 - 0.5 * x2 + np.cos(firm) + 0.1 * year + rng.normal(size=n) * (1 + 0.5 * (firm % 3))
    return pd.DataFrame({"y": y, "x1": x1, "x2": x2, "firm": firm, "year": year, "industry": firm % 7})


def feols(formula, data, vcov):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return pf.feols(formula, data=data, vcov=vcov, fixef_tol=1e-12)


def assert_equal_fits(reference, model, coef_tol=1e-8, se_tol=1e-6):
    np.testing.assert_allclose(np.asarray(model.params), reference.coef().to_numpy(), rtol=coef_tol, atol=1e-12)
    np.testing.assert_allclose(np.asarray(model.bse), reference.se().to_numpy(), rtol=se_tol)
    np.testing.assert_allclose(np.asarray(model.tvalues), reference.tstat().to_numpy(), rtol=se_tol)
    np.testing.assert_allclose(np.asarray(model.pvalues), reference.pvalue().to_numpy(), rtol=1e-5, atol=1e-12)
    np.testing.assert_allclose(np.asarray(model.conf_int()), reference.confint().to_numpy(), rtol=1e-6)
    assert model.nobs == reference._N


@pytest.mark.parametrize("vcov,cov_type,groups", VCOVS)
def test_grunfeld_firm_and_year_effects_equal_pyfixest(vcov, cov_type, groups):
    data = load_grunfeld(as_frame=True)
    reference = feols("invest ~ value + capital | firm + year", data, vcov)
    model = OLS(absorb=["firm", "year"], cov_type=cov_type).fit(
        data[["value", "capital", "firm", "year"]], data["invest"], groups=groups)
    assert_equal_fits(reference, model)
    assert list(model.params.index) == ["value", "capital"]
    np.testing.assert_allclose(model.results_.rsquared, reference._r2, rtol=1e-10)
    np.testing.assert_allclose(model.results_.rsquared_within, reference._r2_within, rtol=1e-10)


@pytest.mark.parametrize("vcov,cov_type,groups", VCOVS)
def test_simulated_unbalanced_panel_with_singletons_equals_pyfixest(vcov, cov_type, groups):
    data = simulated_panel()
    reference = feols("y ~ x1 + x2 | firm + year", data, vcov)
    with pytest.warns(DataWarning, match=r"dropped \d+ singleton rows"):
        model = OLS(absorb=["firm", "year"], cov_type=cov_type).fit(
            data[["x1", "x2", "firm", "year"]], data["y"], groups=groups)
    assert model.n_singletons_ == len(data) - reference._N >= 25
    assert_equal_fits(reference, model)


@pytest.mark.parametrize("vcov,cov_type,groups", VCOVS[:3])
def test_three_factors_by_alternating_projections_equal_pyfixest(vcov, cov_type, groups):
    data = simulated_panel(seed=1)
    data["region"] = (data["year"] * 3 + np.arange(len(data))) % 11
    reference = feols("y ~ x1 + x2 | firm + year + region", data, vcov)
    with pytest.warns(DataWarning):
        model = OLS(absorb=["firm", "year", "region"], cov_type=cov_type).fit(
            data[["x1", "x2", "firm", "year", "region"]], data["y"], groups=groups)
    assert model.n_iter_ > 1 and model.converged_
    assert_equal_fits(reference, model)


def test_one_factor_and_cluster_not_nested_equal_pyfixest():
    data = simulated_panel(seed=2, singletons=0)
    reference = feols("y ~ x1 + x2 | firm", data, {"CRV1": "industry"})
    model = OLS(absorb="firm", cov_type="cluster").fit(data[["x1", "x2", "firm"]], data["y"],
                                                       groups=data["industry"])
    assert_equal_fits(reference, model)
    reference = feols("y ~ x1 + x2 | year", data, {"CRV1": "firm"})  # year not nested in firm
    model = OLS(absorb="year", cov_type="cluster").fit(data[["x1", "x2", "year"]], data["y"], groups=data["firm"])
    assert_equal_fits(reference, model)


def test_direct_and_alternating_projection_demeaning_agree():
    data = simulated_panel(seed=3)
    keep = fixed_effects.remove_singletons([data["firm"].to_numpy(), data["year"].to_numpy()])
    fe = fixed_effects.FixedEffects([data["firm"].to_numpy(), data["year"].to_numpy()], ["firm", "year"])
    assert np.array_equal(fe.keep, keep)
    columns = data[["y", "x1", "x2"]].to_numpy()[fe.keep]
    direct = fixed_effects.demean(fe, columns, 1e-13, 10_000, method="direct")
    projected = fixed_effects.demean(fe, columns, 1e-13, 10_000, method="map")
    assert fe.converged and fe.n_iter > 1
    np.testing.assert_allclose(projected, direct, atol=1e-10)
    # the within transformation is orthogonal to every group indicator
    for codes in fe.codes:
        sums = np.stack([np.bincount(codes, weights=direct[:, j]) for j in range(3)])
        np.testing.assert_allclose(sums, 0, atol=1e-9)


def test_singleton_removal_is_iterated_to_a_fixed_point():
    # row 0 is alone in firm 9; dropping it leaves row 1 alone in year 5, then row 2 alone in firm 1
    firm = np.array([9, 1, 1, 2, 2, 3, 3])
    year = np.array([5, 5, 0, 0, 1, 1, 0])
    keep = fixed_effects.remove_singletons([firm, year])
    assert keep.tolist() == [False, False, False, True, True, True, True]


def test_absorbed_dof_nesting_correction():
    fe = fixed_effects.FixedEffects([np.repeat(np.arange(10), 4), np.tile(np.arange(4), 10)], ["firm", "year"])
    assert fixed_effects.absorbed_dof(fe) == 10 + 4 - 1
    assert fixed_effects.absorbed_dof(fe, [fe.codes[0]]) == 10 + 4 - 1 - 10 + 1
    assert fixed_effects.nested_in(fe.codes[0], fe.codes[0] // 2)
    assert not fixed_effects.nested_in(fe.codes[1], fe.codes[0])


def test_array_input_with_column_positions_equals_dataframe_input():
    data = simulated_panel(seed=4, singletons=0)
    frame = OLS(absorb=["firm", "year"], cov_type="HC1").fit(data[["x1", "x2", "firm", "year"]], data["y"])
    array = OLS(absorb=[2, 3], cov_type="HC1").fit(data[["x1", "x2", "firm", "year"]].to_numpy(), data["y"])
    np.testing.assert_allclose(array.params, frame.params.to_numpy(), rtol=1e-12)
    np.testing.assert_allclose(array.bse, frame.bse.to_numpy(), rtol=1e-12)
    two_way = OLS(absorb=[2, 3], cov_type="cluster").fit(data[["x1", "x2", "firm", "year"]].to_numpy(), data["y"],
                                                         groups=data[["firm", "year"]].to_numpy())
    named = OLS(absorb=["firm", "year"], cov_type="cluster").fit(data[["x1", "x2", "firm", "year"]], data["y"],
                                                                  groups=["firm", "year"])
    np.testing.assert_allclose(two_way.bse, named.bse.to_numpy(), rtol=1e-12)
    assert "absorbed" in named.summary().as_text()


def test_regressor_collinear_with_fixed_effects_is_dropped_as_pyfixest_does():
    data = simulated_panel(seed=5, singletons=0)
    data["size"] = data["firm"] % 5 + 0.5  # constant within firm
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        reference = pf.feols("y ~ x1 + size + x2 | firm + year", data=data, vcov="iid", fixef_tol=1e-12)
    with pytest.warns(DataWarning, match="dropped size: collinear with the fixed effects"):
        model = OLS(absorb=["firm", "year"]).fit(data[["x1", "size", "x2", "firm", "year"]], data["y"])
    assert model.dropped_ == ["size"]
    assert list(model.params.index) == list(reference.coef().index) == ["x1", "x2"]
    assert_equal_fits(reference, model)


def test_multiway_meat_inclusion_exclusion():
    rng = np.random.default_rng(0)
    scores = rng.normal(size=(40, 2))
    a, b = np.arange(40) % 4, np.arange(40) // 10
    meat = clustering.multiway_meat(scores, [a, b], lambda G: 1.0)
    both = clustering.intersect([a, b])[0]
    one = [clustering.group_sums(scores, c, int(c.max()) + 1) for c in (a, b, both)]
    expected = one[0].T @ one[0] + one[1].T @ one[1] - one[2].T @ one[2]
    np.testing.assert_allclose(meat, expected, rtol=1e-12)


def _panel():
    return simulated_panel(n=200, firms=20, years=5, singletons=0)


@pytest.mark.parametrize("kwargs,fit,error,match", [
    ({"absorb": ["plant"]}, {}, ValueError, "absorb: X has no column 'plant'"),
    ({"absorb": []}, {}, TypeError, "absorb: expected a column name"),
    ({"absorb": ["firm", "firm"]}, {}, ValueError, "named twice"),
    ({"absorb": [7]}, {"array": True}, ValueError, "column positions"),
    ({"absorb": ["firm"], "cov_type": "HC3"}, {}, ValueError, "absorb= needs cov_type"),
    ({"absorb": ["firm"], "cov_type": "cluster"}, {}, ValueError, "needs groups="),
    ({"absorb": ["firm"]}, {"groups": "firm"}, ValueError, "groups is used only with cov_type='cluster'"),
    ({"absorb": ["firm"], "cov_type": "cluster"}, {"groups": np.zeros(200)}, ValueError, "at least 2 groups"),
    ({"absorb": ["firm"], "cov_type": "cluster"}, {"groups": "plant"}, ValueError, "groups: X has no column"),
    ({"absorb": ["firm"], "cov_type": "cluster"}, {"groups": np.zeros((200, 2, 2))}, ValueError, "shape"),
])
def test_bad_input(kwargs, fit, error, match):
    data = _panel()
    X = data[["x1", "x2", "firm", "year"]]
    if fit.pop("array", False):
        X = X.to_numpy()
    with pytest.raises(error, match=match):
        OLS(**kwargs).fit(X, data["y"], **fit)


def test_singleton_only_fixed_effect_and_all_regressors_absorbed_are_refused():
    data = _panel()
    data["row"] = np.arange(len(data))
    with pytest.raises(ValueError, match="every row is a singleton"):
        OLS(absorb=["row"]).fit(data[["x1", "row"]], data["y"])
    data["firm_size"] = data["firm"] * 2.0
    with pytest.warns(DataWarning), pytest.raises(ValueError, match="every regressor"):
        OLS(absorb=["firm"]).fit(data[["firm_size", "firm"]], data["y"])


def test_predict_and_streaming_are_refused_and_plain_ols_is_unchanged():
    data = _panel()
    model = OLS(absorb=["firm"]).fit(data[["x1", "x2", "firm"]], data["y"])
    with pytest.raises(ValueError, match="cannot predict new rows"):
        model.predict(data[["x1", "x2", "firm"]])
    np.testing.assert_allclose(model.results_.fittedvalues + model.results_.resid, data["y"], rtol=1e-12)
    with pytest.raises(ValueError, match="fit_stream: absorb="):
        model.fit_stream(lambda: iter([]))
    dummies = pd.get_dummies(data["firm"], prefix="f", drop_first=True, dtype=float)
    plain = OLS(cov_type="HC1").fit(pd.concat([data[["x1", "x2"]], dummies], axis=1), data["y"])
    absorbed = OLS(absorb=["firm"], cov_type="HC1").fit(data[["x1", "x2", "firm"]], data["y"])
    np.testing.assert_allclose(absorbed.params.to_numpy(), plain.params.to_numpy()[1:3], rtol=1e-9)
    np.testing.assert_allclose(absorbed.bse.to_numpy(), plain.bse.to_numpy()[1:3], rtol=1e-9)


def test_benchmark_script_runs_and_agrees_at_a_tiny_size():
    """benchmarks/bench_fixed_effects.py at a tiny size: it runs, and every implementation agrees."""
    import importlib.util
    from pathlib import Path

    script = Path(__file__).resolve().parent.parent / "benchmarks" / "bench_fixed_effects.py"
    spec = importlib.util.spec_from_file_location("bench_fixed_effects", script)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    report = bench.run(rows=3000, firms=100, years=8, repeats=1)
    assert set(report["seconds"]) == {"chainrule", "chainrule (alternating projections)", "pyfixest"}
    for row in report["agreement"].values():
        assert row["params_rel_diff"] < 1e-8 and row["bse_rel_diff"] < 1e-6
    assert fixed_effects.DIRECT_MAX_LEVELS == 1000  # restored after the projections' run


def test_formula_with_absorbed_fixed_effects_equals_pyfixest():
    from chainrule import formula

    data = load_grunfeld(as_frame=True)
    reference = feols("np.log(invest) ~ value + capital | firm + year", data, {"CRV1": "firm+year"})
    model = formula.ols("np.log(invest) ~ value + capital | firm + year", data, cov_type="cluster",
                        groups=["firm", "year"])
    assert_equal_fits(reference, model)
    assert model.formula_ == "np.log(invest) ~ value + capital | firm + year"


@pytest.mark.parametrize("text,error,match", [
    ("invest ~ value | plant", "FormulaError", "no fixed-effect column 'plant'"),
    ("invest ~ value | np.log(firm)", "FormulaError", "plain names"),
    ("invest ~ value + (capital ~ year) | firm", "FormulaError", "needs iv2sls or ivliml"),
])
def test_formula_bad_input(text, error, match):
    from chainrule import formula

    with pytest.raises(getattr(formula, error), match=match):
        formula.ols(text, load_grunfeld(as_frame=True))


# Stata's reghdfe on pyfixest's get_data() (N=1000, seed 1234; 997 complete rows), as printed in pyfixest's
# docs/how-to/stata-2-pyfixest.qmd (github.com/py-econometrics/pyfixest, commit 1532c4c): coefficient, std. err.,
# t, the 95% interval and the within R², to the 7 significant digits Stata prints.
REGHDFE = [  # (absorb, cluster, [(coef, se, t, lower, upper) for X1, X2], within R²)
    (["f1"], None, [(-.9495256, .0663728, -14.31, -1.079777, -.8192739),
                    (-.1742253, .0175957, -9.90, -.2087555, -.1396951)], 0.2388),
    (["f1"], "f1", [(-.9495256, .0665572, -14.27, -1.08565, -.8134009),
                    (-.1742253, .018409, -9.46, -.2118759, -.1365746)], 0.2388),
    (["f1", "f2"], "f1", [(-.9240462, .0618743, -14.93, -1.050593, -.7974991),
                          (-.1741073, .0148338, -11.74, -.2044458, -.1437689)], 0.3026),
]


@pytest.mark.parametrize("absorb,cluster,rows,within", REGHDFE)
def test_equals_stata_reghdfe_as_stored_in_pyfixests_docs(absorb, cluster, rows, within):
    data = pf.get_data()[["Y", "X1", "X2", "f1", "f2"]].dropna()
    assert len(data) == 997  # reghdfe's "Number of obs"
    model = OLS(absorb=absorb, cov_type="cluster" if cluster else "nonrobust").fit(
        data[["X1", "X2", *absorb]], data["Y"], groups=cluster)
    expected = np.array(rows)
    # Stata prints 7 significant digits: relative 5e-7 of the printed value (t to 2 decimals)
    np.testing.assert_allclose(model.params.to_numpy(), expected[:, 0], rtol=5e-7)
    np.testing.assert_allclose(model.bse.to_numpy(), expected[:, 1], rtol=5e-6)
    np.testing.assert_allclose(model.tvalues.to_numpy(), expected[:, 2], atol=0.005)
    np.testing.assert_allclose(model.conf_int().to_numpy(), expected[:, 3:], rtol=5e-6)
    assert round(model.results_.rsquared_within, 4) == within
    assert model.results_._df_inference == (965 if cluster is None else 29)  # Stata's F(2, 965) and F(2, 29)
