"""chainrule.formula: design matrices equal formulaic's and patsy's, fitted models equal the array
API on the same design and statsmodels' formula API, predictions on new data re-apply the
design, and bad formulas or data get errors that name the column and rows."""
from __future__ import annotations

import pickle
import warnings

import numpy as np
import pandas as pd
import pytest

from chainrule import formula, metrics, stats
from chainrule.datasets.grunfeld import load_grunfeld
from chainrule.formula import FormulaError, FormulaSpec, apply_design, design_matrices

formulaic = pytest.importorskip("formulaic")


def _data(n=120, seed=0):
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({
        "x": rng.normal(size=n), "z": rng.uniform(0.5, 3.0, n), "w": rng.normal(size=n),
        "g": rng.choice(["a", "b", "c"], n), "h": rng.choice(["u", "v"], n), "k": rng.choice([1990, 1991, 1992], n),
    })
    eta = 0.4 + frame.x - 0.7 * (frame.g == "b") + 0.5 * (frame.h == "v") + 0.3 * np.log(frame.z)
    frame["y"] = eta + 0.5 * frame.w * frame.x + rng.normal(size=n)
    frame["d"] = (rng.uniform(size=n) < 1 / (1 + np.exp(-eta))).astype(np.int64)
    frame["label"] = np.where(frame.d == 1, "yes", "no")
    frame["k3"] = np.digitize(eta + rng.normal(size=n), [0.0, 1.0])
    return frame


DATA = _data()

# (formula, patsy gives the same columns): patsy has no poly() or contr.treatment, and its
# standardize is not formulaic's scale
FORMULAS = [
    ("y ~ x", True), ("y ~ x + z + w", True), ("y ~ C(g)", True), ("y ~ g + h", True), ("y ~ x + C(g)", True),
    ("y ~ x:w", True), ("y ~ x*w", True), ("y ~ x*C(g)", True), ("y ~ x:C(g)", True), ("y ~ C(g):C(h)", True),
    ("y ~ C(g)*C(h)", True), ("y ~ C(k)", True), ("y ~ np.log(z)", True), ("y ~ I(x**2) + I(x*z)", True),
    ("y ~ x - 1", True), ("y ~ x + 0", True), ("y ~ C(g) - 1", True), ("y ~ C(g):x - 1", True),
    ("y ~ C(g, Treatment('b')) + x", True), ("np.log(z) ~ x + C(h)", True), ("y ~ center(x) + w", True),
    ("y ~ scale(z) + x", False), ("y ~ poly(x, 2)", False), ("y ~ C(g, contr.treatment('c'))", False),
]
IDS = [f for f, _ in FORMULAS]


# -------------------------------------------------------------------- design matrices

@pytest.mark.parametrize("text, with_patsy", FORMULAS, ids=IDS)
def test_design_matrices_equal_formulaic_and_patsy(text, with_patsy):
    y, X, spec = design_matrices(text, DATA)
    reference = formulaic.model_matrix(text, DATA)
    rhs = reference.rhs
    assert spec.intercept == ("Intercept" in rhs.columns)
    expected = rhs.drop(columns=["Intercept"]) if spec.intercept else rhs
    assert list(X.columns) == list(expected.columns) == list(spec.columns)
    np.testing.assert_array_equal(X.to_numpy(), expected.to_numpy(dtype=float))
    assert all(X.dtypes == np.float64)
    np.testing.assert_array_equal(y.to_numpy(), reference.lhs.iloc[:, 0].to_numpy(dtype=float))
    assert y.name == spec.target == str(reference.lhs.columns[0])
    if with_patsy:
        patsy = pytest.importorskip("patsy")
        y_patsy, X_patsy = patsy.dmatrices(text, DATA, return_type="dataframe")
        mine = X.assign(Intercept=1.0) if spec.intercept else X
        assert sorted(mine.columns) == sorted(X_patsy.columns)  # the same names; the order may differ
        np.testing.assert_allclose(mine[X_patsy.columns].to_numpy(), X_patsy.to_numpy(), rtol=1e-14)
        np.testing.assert_allclose(y.to_numpy(), y_patsy.iloc[:, 0].to_numpy(), rtol=1e-14)


def test_apply_design_rebuilds_the_same_matrix_with_the_fitted_levels_and_states():
    y, X, spec = design_matrices("y ~ center(x) + C(g) + x:C(h) + poly(z, 2)", DATA)
    np.testing.assert_array_equal(apply_design(spec, DATA).to_numpy(), X.to_numpy())
    part = DATA.iloc[:7]  # fewer levels present, another mean of x: the fitted coding and centre stay
    np.testing.assert_array_equal(apply_design(spec, part).to_numpy(), X.iloc[:7].to_numpy())
    assert list(spec.transform(part.drop(columns=["y"])).columns) == list(X.columns)  # no target needed
    assert isinstance(spec, FormulaSpec) and spec.model_spec is spec.rhs_spec
    restored = pickle.loads(pickle.dumps(spec))
    np.testing.assert_array_equal(apply_design(restored, part).to_numpy(), X.iloc[:7].to_numpy())


def test_labels_target_is_the_column_as_it_is():
    y, X, spec = design_matrices("label ~ x + C(g)", DATA, target="labels")
    assert y.tolist() == DATA.label.tolist() and spec.target_kind == "labels" and spec.lhs_spec is None
    y, _, _ = design_matrices("I(y > 0) ~ x", DATA, target="labels")
    assert y.name == "I(y > 0)" and y.tolist() == (DATA.y > 0).tolist()


# -------------------------------------------------------------------- fitted models

def _named(values, names):
    return pd.Series(np.asarray(values), index=list(names))


OLS_FORMULAS = ["y ~ x + C(g)", "y ~ x*w + C(g)*C(h)", "np.log(z) ~ x + I(x**2) + C(k)", "y ~ C(g) + x - 1",
                "y ~ center(x) + np.exp(w / 4)"]


@pytest.mark.parametrize("text", OLS_FORMULAS)
@pytest.mark.parametrize("cov_type", ["nonrobust", "HC1", "HC3"])
def test_ols_equals_the_array_api_and_statsmodels(text, cov_type):
    smf = pytest.importorskip("statsmodels.formula.api")
    model = formula.ols(text, DATA, cov_type=cov_type)
    y, X, spec = design_matrices(text, DATA)
    array = stats.OLS(fit_intercept=spec.intercept, cov_type=cov_type).fit(X, y)
    np.testing.assert_array_equal(np.asarray(model.params), np.asarray(array.params))
    np.testing.assert_array_equal(np.asarray(model.bse), np.asarray(array.bse))
    reference = smf.ols(text, DATA).fit(cov_type=cov_type)
    names = model.results_.names
    assert sorted(names) == sorted(reference.params.index) and ("Intercept" in names) == spec.intercept
    for ours, theirs in ((model.params, reference.params), (model.bse, reference.bse)):
        np.testing.assert_allclose(_named(ours, names)[theirs.index], theirs, rtol=1e-10)
    if spec.intercept:
        assert model.rsquared == pytest.approx(reference.rsquared, rel=1e-10)
    else:  # statsmodels finds the constant the full set of C(g)'s dummies spans, and centres R²; OLS does not
        assert model.rsquared == pytest.approx(1 - reference.ssr / float(y @ y), rel=1e-10)
    new = _data(n=15, seed=9)
    np.testing.assert_allclose(model.predict(new), reference.predict(new), rtol=1e-10)
    np.testing.assert_array_equal(model.predict(new), array.predict(apply_design(model.design_info_, new)))


def test_ols_on_grunfeld_with_firm_effects_and_cluster_covariance_equals_statsmodels():
    smf = pytest.importorskip("statsmodels.formula.api")
    grunfeld = load_grunfeld(as_frame=True)
    text = "invest ~ value + capital + C(firm)"
    model = formula.ols(text, grunfeld, cov_type="cluster", groups="firm")
    reference = smf.ols(text, grunfeld).fit(cov_type="cluster", cov_kwds={"groups": pd.factorize(grunfeld.firm)[0]})
    names = model.results_.names
    np.testing.assert_allclose(_named(model.params, names)[reference.params.index], reference.params, rtol=1e-10)
    np.testing.assert_allclose(_named(model.bse, names)[reference.bse.index], reference.bse, rtol=1e-10)
    assert "Intercept" in model.summary().as_text() and "C(firm)[T.Chrysler]" in model.summary().as_text()


@pytest.mark.parametrize("text", ["d ~ x + C(g) + np.log(z)", "d ~ x*C(h)", "d ~ C(g) + x - 1"])
def test_logit_equals_the_array_api_and_statsmodels(text):
    smf = pytest.importorskip("statsmodels.formula.api")
    model = formula.logit(text, DATA)
    y, X, spec = design_matrices(text, DATA, target="labels")
    array = stats.Logit(fit_intercept=spec.intercept).fit(X, y)
    np.testing.assert_array_equal(np.asarray(model.params), np.asarray(array.params))
    reference = smf.logit(text, DATA).fit(disp=0, tol=1e-12)
    names = model.param_names_
    assert sorted(names) == sorted(reference.params.index)
    for ours, theirs in ((model.params, reference.params), (model.bse, reference.bse)):
        np.testing.assert_allclose(_named(ours, names)[theirs.index], theirs, rtol=1e-10)
    new = _data(n=15, seed=9)
    np.testing.assert_allclose(model.predict_proba(new)[:, 1], reference.predict(new), rtol=1e-10)
    assert model.score(DATA) == metrics.accuracy(DATA.d, model.predict(DATA))


def test_logit_takes_any_two_labels_and_mnlogit_equals_statsmodels():
    smf = pytest.importorskip("statsmodels.formula.api")
    labelled, numbered = formula.logit("label ~ x + C(g)", DATA), formula.logit("d ~ x + C(g)", DATA)
    np.testing.assert_allclose(np.asarray(labelled.params), np.asarray(numbered.params), rtol=1e-12)
    assert labelled.classes_.tolist() == ["no", "yes"] and set(labelled.predict(DATA)) <= {"no", "yes"}
    model = formula.mnlogit("k3 ~ x + C(g)", DATA)
    reference = smf.mnlogit("k3 ~ x + C(g)", DATA).fit(disp=0, tol=1e-12)
    frame = pd.DataFrame(np.asarray(model.params), index=model.param_names_).loc[reference.params.index]
    np.testing.assert_allclose(frame.to_numpy(), reference.params.to_numpy(), rtol=1e-10)
    new = _data(n=15, seed=9)
    np.testing.assert_allclose(model.predict_proba(new), reference.predict(new).to_numpy(), rtol=1e-10)
    assert model.score(new) == metrics.accuracy(new.k3, model.predict(new))


@pytest.mark.parametrize("fit, estimator, params", [
    (formula.ridge, stats.Ridge, {"alpha": 2.5}), (formula.lasso, stats.Lasso, {"alpha": 0.05}),
])
def test_ridge_and_lasso_equal_the_array_api(fit, estimator, params):
    text = "y ~ x + C(g) + x:C(h) + np.log(z)"
    model = fit(text, DATA, **params)
    y, X, _ = design_matrices(text, DATA)
    array = estimator(**params).fit(X, y)
    np.testing.assert_array_equal(model.coef_, array.coef_)
    assert model.intercept_ == array.intercept_ and model.alpha == params["alpha"]
    new = _data(n=15, seed=9)
    np.testing.assert_array_equal(model.predict(new), array.predict(apply_design(model.design_info_, new)))
    assert model.score(new) == pytest.approx(metrics.r2(new.y, model.predict(new)), rel=1e-12)


def test_the_fitted_model_keeps_the_formula_and_its_design():
    model = formula.ols("y ~ x + C(g)", DATA, cov_type="HC3")
    assert isinstance(model, stats.OLS) and isinstance(model, formula.FormulaOLS)
    assert model.formula == "y ~ x + C(g)" and model.get_params()["formula"] == model.formula
    assert "fit_intercept" not in model.get_params() and model.get_params()["cov_type"] == "HC3"
    assert isinstance(model.design_info_, FormulaSpec) and model.model_spec_ is model.design_info_.rhs_spec
    assert repr(model) == "FormulaOLS(formula='y ~ x + C(g)', cov_type='HC3')"
    assert model.results_.names == ["Intercept", "x", "C(g)[T.b]", "C(g)[T.c]"]
    restored = pickle.loads(pickle.dumps(model))
    np.testing.assert_array_equal(restored.predict(DATA), model.predict(DATA))
    refit = formula.FormulaOLS("y ~ x + C(g)").fit(_data(seed=4))  # the class API: fit(data) again
    assert refit.results_.names == model.results_.names
    assert model.score(DATA) == pytest.approx(metrics.r2(DATA.y, model.predict(DATA)), rel=1e-12)
    assert model.score(DATA, DATA.y) == model.score(DATA)
    interval = model.predict(DATA.iloc[:3], interval="prediction")
    assert interval.shape == (3, 3)
    sklearn = pytest.importorskip("sklearn.base")
    clone = sklearn.clone(model)
    assert clone.get_params() == model.get_params() and not hasattr(clone, "design_info_")


# -------------------------------------------------------------------- errors

def _with(**changes):
    frame = DATA.copy()
    for column, (row, value) in changes.items():
        frame[column] = frame[column].astype(object) if isinstance(value, str) else frame[column]
        frame.loc[row, column] = value
    return frame


FIT_ERRORS = [
    ("y ~ x + q", DATA, "the data has no column 'q'"),
    ("y ~ x + zz", DATA, r"no column 'zz'; did you mean 'z'\?"),
    ("y ~ x", _with(x=(5, np.nan)), r"column 'x' has 1 missing value\(s\) in rows 5; .*statsmodels' formulas do"),
    ("y ~ C(g)", _with(g=(7, None)), r"column 'g' has 1 missing value\(s\) in rows 7"),
    ("y ~ x", _with(y=(3, np.nan)), r"column 'y' has 1 missing value\(s\) in rows 3"),
    ("g ~ x", DATA, r"the target 'g' is not numeric \(dtype .*\); a regression needs numbers"),
    ("C(g) ~ x", DATA, "the left-hand side must be one column; it gives 3"),
    ("x + w", DATA, "a two-sided formula is required"),
    ("~ x", DATA, "a two-sided formula is required"),
    ("y ~ x +", DATA, "cannot be parsed"),
    ("y ~ x | w | g", DATA, "'|' parts are not supported"),
    ("y ~ np.log(x)", DATA, r"the design column 'np.log\(x\)' is NaN or infinite in rows"),
    ("y ~ 1", DATA, "no column besides the intercept"),
    ("y ~ foo(x)", DATA, "no function 'foo': a formula can call NumPy"),
    ("y ~ center(x) + poly(w, 2)", _with(w=(4, np.nan)), r"column 'w' has 1 missing value\(s\) in rows 4"),
]


@pytest.mark.parametrize("text, data, message", FIT_ERRORS, ids=[e[0] for e in FIT_ERRORS])
def test_fit_errors_name_the_column_and_rows(text, data, message):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # np.log of negative numbers
        with pytest.raises(FormulaError, match=message):
            formula.ols(text, data)


def test_predict_errors_name_the_column_levels_and_rows():
    model = formula.ols("y ~ x + C(g) + h", DATA)
    new = _data(n=6, seed=3)
    new.loc[2, "g"], new.loc[4, "h"] = "zebra", "w"
    with pytest.raises(FormulaError, match=r"column 'g' has levels not seen in the fitting data: 'zebra' \(rows 2\); "
                                           r"the fitted levels are \['a', 'b', 'c'\]"):
        model.predict(new)
    with pytest.raises(FormulaError, match=r"column 'h' has levels not seen .*'w' \(rows 4\)"):
        model.predict(new.assign(g="a"))
    with pytest.raises(FormulaError, match=r"column 'x' has 1 missing value\(s\) in rows 1"):
        model.predict(_with(x=(1, np.nan)))
    with pytest.raises(FormulaError, match="the new data has no column 'g'"):
        model.predict(DATA.drop(columns=["g"]))
    years = formula.ols("y ~ C(k)", DATA)
    with pytest.raises(FormulaError, match=r"column 'k' has levels not seen .*2030"):
        years.predict(DATA.assign(k=2030))


def test_argument_errors():
    with pytest.raises(TypeError, match="fit_intercept is set by the formula: write '- 1'"):
        formula.ols("y ~ x", DATA, fit_intercept=False)
    with pytest.raises(TypeError, match="expected a pandas DataFrame"):
        formula.ols("y ~ x", DATA.to_numpy())
    with pytest.raises(TypeError, match="formula: expected a string"):
        formula.ols(None, DATA)
    with pytest.raises(TypeError, match="the target comes from the formula"):
        formula.FormulaOLS("y ~ x").fit(DATA, DATA.y)
    with pytest.raises(FormulaError, match="groups: the data has no column 'firm'"):
        formula.ols("y ~ x", DATA, cov_type="cluster", groups="firm")
    with pytest.raises(stats.NotFittedError):
        formula.FormulaOLS("y ~ x").predict(DATA)
    with pytest.raises(ValueError, match="target: expected 'numeric' or 'labels'"):
        design_matrices("y ~ x", DATA, target="classes")
    with pytest.raises(TypeError, match="fit_stream takes arrays"):
        formula.FormulaOLS("y ~ x").fit_stream(lambda: iter(()))
    assert formula.ols("y ~ x", DATA.to_dict("list")).params.shape == (2,)  # a dict of columns is a table
    assert formula.ols("y ~ abs(x) + np.abs(w)", DATA).results_.names == ["Intercept", "abs(x)", "np.abs(w)"]
