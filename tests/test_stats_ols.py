"""chainrule.stats.OLS against statsmodels, known answers, and scikit-learn's protocol."""
from __future__ import annotations

import warnings
from fractions import Fraction

import numpy as np
import pytest

import chainrule as cr
from chainrule.stats import OLS, CollinearityError, NotFittedError, least_squares

sm = pytest.importorskip("statsmodels.api")
pd = pytest.importorskip("pandas")

COV_TYPES = ["nonrobust", "HC0", "HC1", "HC2", "HC3", "cluster"]
RTOL = 1e-8


def _heteroscedastic(n=400, p=4, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, p)) + np.arange(p)  # columns with different means
    beta = np.linspace(-1.0, 2.0, p)
    y = 1.5 + X @ beta + rng.normal(size=n) * (0.5 + np.abs(X[:, 0]))
    groups = rng.integers(0, 30, size=n)
    return X, y, groups


def _statsmodels(X, y, cov_type, groups=None, intercept=True):
    Z = sm.add_constant(X, has_constant="add") if intercept else X
    kwds = {"groups": groups} if cov_type == "cluster" else None
    return sm.OLS(y, Z).fit(cov_type=cov_type, cov_kwds=kwds)


def _compare(ours, ref, rtol=RTOL):
    for name in ("params", "bse", "pvalues", "tvalues"):
        np.testing.assert_allclose(getattr(ours, name), np.asarray(getattr(ref, name)), rtol=rtol, atol=1e-300,
                                   err_msg=name)
    for name in ("resid", "fittedvalues"):  # a residual near 0 is compared on the scale of y
        expected = np.asarray(getattr(ref, name))
        np.testing.assert_allclose(getattr(ours, name), expected, rtol=rtol, atol=rtol * np.abs(expected).max(),
                                   err_msg=name)
    for name in ("llf", "aic", "bic", "rsquared", "rsquared_adj", "fvalue", "f_pvalue", "scale",
                 "condition_number", "nobs", "df_model", "df_resid"):
        assert getattr(ours, name) == pytest.approx(float(getattr(ref, name)), rel=rtol), name
    np.testing.assert_allclose(ours.conf_int(), np.asarray(ref.conf_int()), rtol=rtol)
    np.testing.assert_allclose(ours.conf_int(alpha=0.1), np.asarray(ref.conf_int(alpha=0.1)), rtol=rtol)
    ref_cov = np.asarray(ref.cov_params())
    sd = np.sqrt(np.diag(ref_cov))  # compare on the correlation scale (off-diagonals may be ~0)
    np.testing.assert_allclose(ours.cov_params() / np.outer(sd, sd), ref_cov / np.outer(sd, sd), rtol=rtol, atol=rtol)


# --------------------------------------------------------------------------- statsmodels parity
@pytest.mark.parametrize("cov_type", COV_TYPES)
def test_matches_statsmodels_every_cov_type_generated(cov_type):
    X, y, groups = _heteroscedastic()
    g = groups if cov_type == "cluster" else None
    model = OLS(cov_type=cov_type).fit(X, y, groups=g)
    assert model.solver_used_ == "cholqr2"
    _compare(model, _statsmodels(X, y, cov_type, g))


@pytest.mark.parametrize("cov_type", COV_TYPES)
def test_matches_statsmodels_every_cov_type_diabetes(cov_type):
    datasets = pytest.importorskip("sklearn.datasets")
    data = datasets.load_diabetes(as_frame=True)
    X, y = data.data, data.target
    groups = (X["age"] > X["age"].median()).astype(int) * 20 + np.arange(len(y)) % 20  # 40 clusters
    g = groups.to_numpy() if cov_type == "cluster" else None
    model = OLS(cov_type=cov_type).fit(X, y, groups=g)
    ref = _statsmodels(X.to_numpy(), y.to_numpy(), cov_type, g)
    _compare(model, ref)
    assert model.results_.names == ["const"] + list(X.columns)


@pytest.mark.parametrize("cov_type", ["nonrobust", "HC1", "HC3"])
def test_matches_statsmodels_without_intercept(cov_type):
    X, y, _ = _heteroscedastic(seed=1)
    model = OLS(fit_intercept=False, cov_type=cov_type).fit(X, y)
    _compare(model, _statsmodels(X, y, cov_type, intercept=False))
    assert model.intercept_ == 0.0


@pytest.mark.parametrize("cov_type", ["HC3", "cluster"])
def test_many_blocks_match_statsmodels(cov_type):
    """n spans several row blocks of the passes over the data."""
    X, y, _ = _heteroscedastic(n=3 * least_squares.BLOCK_ROWS + 17, p=3, seed=2)
    groups = np.arange(len(y)) // 500
    g = groups if cov_type == "cluster" else None
    _compare(OLS(cov_type=cov_type).fit(X, y, groups=g), _statsmodels(X, y, cov_type, g))


@pytest.mark.parametrize("cov_type", ["nonrobust", "HC2"])
@pytest.mark.parametrize("interval", ["confidence", "prediction"])
def test_predict_intervals_match_statsmodels(cov_type, interval):
    X, y, _ = _heteroscedastic(seed=3)
    model = OLS(cov_type=cov_type).fit(X, y)
    ref = _statsmodels(X, y, cov_type)
    new = X[:7] + 0.25
    frame = ref.get_prediction(sm.add_constant(new, has_constant="add")).summary_frame(alpha=0.1)
    got = model.predict(new, interval=interval, alpha=0.1)
    prefix = "mean_ci" if interval == "confidence" else "obs_ci"
    np.testing.assert_allclose(got[:, 0], frame["mean"], rtol=RTOL)
    np.testing.assert_allclose(got[:, 1], frame[f"{prefix}_lower"], rtol=RTOL)
    np.testing.assert_allclose(got[:, 2], frame[f"{prefix}_upper"], rtol=RTOL)
    np.testing.assert_allclose(model.predict(new), frame["mean"], rtol=RTOL)


# --------------------------------------------------------------------------- solvers and accuracy
def test_householder_fallback_agrees_with_cholqr2(monkeypatch):
    X, y, _ = _heteroscedastic(seed=4)
    fast = OLS(cov_type="HC3").fit(X, y)
    monkeypatch.setattr(least_squares, "CHOLQR_MAX_COND", 0.0)
    slow = OLS(cov_type="HC3").fit(X, y)
    assert (fast.solver_used_, slow.solver_used_) == ("cholqr2", "householder")
    _compare(fast, slow, rtol=1e-10)


def test_cholqr2_factor_is_orthogonal_on_a_moderately_ill_conditioned_design():
    """Q = Zs R⁻¹ from CholQR2 is orthogonal to O(u) although κ(Zs) ≈ 1e5."""
    rng = np.random.default_rng(5)
    base = rng.normal(size=(2000, 1))
    X = np.hstack([base + 1e-5 * rng.normal(size=(2000, 1)), base, rng.normal(size=(2000, 2))])
    y = X @ [1.0, -1.0, 2.0, 0.5] + rng.normal(size=2000)
    model = OLS().fit(X, y)
    assert model.solver_used_ == "cholqr2"
    assert 1e4 < model.results_.scaled_condition_number < 1e6
    Z = np.column_stack([np.ones(2000), X])
    d = 1 / np.linalg.norm(Z, axis=0)
    G, _ = least_squares._gram(X, True)
    R1 = least_squares._cholesky(G * d[:, None] * d[None, :])
    R, _ = least_squares._cholqr2(X, y, d, True, R1)
    Q = (Z * d) @ np.linalg.inv(R)
    assert np.abs(Q.T @ Q - np.eye(5)).max() < 1e-10  # normal equations: ~κ²u = 1e-6
    ref = _statsmodels(X, y, "nonrobust")
    np.testing.assert_allclose(model.params, ref.params, rtol=1e-9)


NIST_LONGLEY = {  # certified values, https://www.itl.nist.gov/div898/strd/lls/data/Longley.shtml
    "params": [-3482258.63459582, 15.0618722713733, -0.358191792925910e-01, -2.02022980381683,
               -1.03322686717359, -0.511041056535807e-01, 1829.15146461355],
    "bse": [890420.383607373, 84.9149257747669, 0.334910077722432e-01, 0.488399681651699,
            0.214274163161675, 0.226073200069370, 455.478499142212],
    "rsquared": 0.995479004577296,
    "resid_sd": 304.854073561965,
}


def test_longley_certified_values():
    data = sm.datasets.longley.load_pandas()
    model = OLS().fit(data.exog, data.endog)
    digits = -np.log10(np.abs(model.params - NIST_LONGLEY["params"]) / np.abs(NIST_LONGLEY["params"]))
    assert digits.min() >= 9, digits  # at least 7 significant digits required
    np.testing.assert_allclose(model.bse, NIST_LONGLEY["bse"], rtol=1e-8)
    assert model.rsquared == pytest.approx(NIST_LONGLEY["rsquared"], rel=1e-10)
    assert np.sqrt(model.scale) == pytest.approx(NIST_LONGLEY["resid_sd"], rel=1e-10)
    reference = sm.OLS(data.endog, sm.add_constant(data.exog)).fit()
    assert model.condition_number == pytest.approx(reference.condition_number, rel=1e-6)


def _exact_least_squares(Z, y):
    """The exact least-squares solution in rational arithmetic (normal equations over Fractions)."""
    Zf = [[Fraction(float(v)) for v in row] for row in Z]
    yf = [Fraction(float(v)) for v in y]
    k = len(Zf[0])
    A = [[sum(r[i] * r[j] for r in Zf) for j in range(k)] + [sum(r[i] * t for r, t in zip(Zf, yf))] for i in range(k)]
    for c in range(k):  # Gauss-Jordan, exact
        pivot = next(r for r in range(c, k) if A[r][c] != 0)
        A[c], A[pivot] = A[pivot], A[c]
        for r in range(k):
            if r != c and A[r][c] != 0:
                f = A[r][c] / A[c][c]
                A[r] = [a - f * b for a, b in zip(A[r], A[c])]
    return np.array([float(A[i][k] / A[i][i]) for i in range(k)])


def _polynomial_design(degree, offset, n=60):
    x = offset + np.arange(n) / 4.0  # exactly representable, powers exact in float64
    return np.column_stack([x ** j for j in range(1, degree + 1)])


@pytest.mark.parametrize("degree, offset, n", [(5, 0.0, 60), (8, 0.0, 80), (6, 10.0, 60), (4, 100.0, 60),
                                               (10, 0.0, 82)])
def test_ill_conditioned_polynomial_keeps_seven_digits(degree, offset, n):
    """Known answer (exact rational arithmetic) on polynomial designs, κ(scaled Z) up to ~1e7.

    (10, 0.0, 82) is Filip-like: numpy.linalg.lstsq gets no correct digit there.
    """
    rng = np.random.default_rng(degree)
    X = _polynomial_design(degree, offset, n)
    y = np.round(rng.normal(size=n) * 100) / 8 + 3.0  # exactly representable
    exact = _exact_least_squares(np.column_stack([np.ones(n), X]), y)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the ill-conditioning DataWarning
        model = OLS().fit(X, y)
    rel = np.abs(model.params - exact) / np.abs(exact)
    assert model.refined_  # small data: refined in twice the working precision, so (nearly) exact
    assert rel.max() < 1e-13, (model.solver_used_, model.results_.scaled_condition_number, rel)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        plain = OLS(refine=False).fit(X, y)
    rel = np.abs(plain.params - exact) / np.abs(exact)
    assert rel.max() < 1e-7, (plain.solver_used_, plain.results_.scaled_condition_number, rel)
    if plain.results_.scaled_condition_number > least_squares.CHOLQR_MAX_COND:
        assert plain.solver_used_ == "householder"


def test_ill_conditioning_warns_naming_the_columns():
    from chainrule.stats import DataWarning

    X = pd.DataFrame(_polynomial_design(10, 0.0, 82), columns=[f"x^{j}" for j in range(1, 11)])
    y = np.random.default_rng(0).normal(size=82)
    with pytest.warns(DataWarning, match=r"ill-conditioned.*Near-dependent columns: .*x\^10"):
        OLS().fit(X, y)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        OLS().fit(X.iloc[:, :3], y)  # κ ≈ 1e2: silent


def test_exact_fit_of_known_coefficients():
    """Integer x and β: y = Zβ is exact in float64, so the least-squares answer is β itself.

    (Componentwise accuracy of a small coefficient next to large ones is limited by the
    problem, not the solver; the rational-arithmetic tests above cover large κ.)
    """
    x = -20.0 + np.arange(40.0)
    X = np.column_stack([x ** j for j in range(1, 7)])
    beta = np.array([7.0, -3.0, 5.0, -2.0, 1.0, 3.0, -1.0])
    y = np.column_stack([np.ones(40), X]) @ beta
    assert np.array_equal(y, np.round(y)) and np.abs(y).max() < 2.0 ** 53
    model = OLS().fit(X, y)
    np.testing.assert_allclose(model.params, beta, rtol=1e-7)
    assert model.rsquared == pytest.approx(1.0, abs=1e-12)


def test_normal_equations_lose_the_digits_that_qr_keeps():
    X = _polynomial_design(8, 0.0, 80)
    y = np.round(np.random.default_rng(8).normal(size=80) * 100) / 8 + 3.0
    exact = _exact_least_squares(np.column_stack([np.ones(80), X]), y)
    err_qr = np.max(np.abs(OLS(refine=False).fit(X, y).params - exact) / np.abs(exact))
    try:
        normal = OLS(solver="normal").fit(X, y)
        err_normal = np.max(np.abs(normal.params - exact) / np.abs(exact))
        assert err_normal > 1000 * err_qr, (err_normal, err_qr)
    except ValueError as error:  # the Gram matrix was numerically indefinite
        assert "solver='qr'" in str(error)


def test_normal_solver_matches_on_well_conditioned_data():
    X, y, _ = _heteroscedastic(seed=6)
    a, b = OLS().fit(X, y), OLS(solver="normal").fit(X, y)
    assert b.solver_used_ == "normal"
    np.testing.assert_allclose(b.params, a.params, rtol=1e-10)
    np.testing.assert_allclose(b.bse, a.bse, rtol=1e-10)


def test_gradient_descent_solver_reports_iterations_and_optimization_error():
    X, y, _ = _heteroscedastic(n=200, p=3, seed=7)
    exact = OLS().fit(X, y)
    gd = OLS(solver="gd", tol=1e-10).fit(X, y)
    assert gd.solver_used_ == "cholqr2" or gd.solver_used_ == "householder"
    assert gd.converged_ and 0 < gd.n_iter_ < 10_000
    assert gd.optimization_.iterations == gd.n_iter_
    np.testing.assert_allclose(gd.params, exact.params, rtol=1e-8)
    assert np.all(gd.optimization_error_ < 1e-6)  # optimization error ≪ statistical error
    np.testing.assert_allclose(gd.optimization_error_, np.abs(gd.params - exact.params) / gd.bse)
    loose = OLS(solver="gd", tol=1e-2).fit(X, y)
    assert loose.n_iter_ < gd.n_iter_
    with pytest.warns(RuntimeWarning, match="max_iter"):
        OLS(solver="gd", max_iter=2).fit(X, y)


# --------------------------------------------------------------------------- collinearity
def test_rank_deficiency_names_the_collinear_columns():
    rng = np.random.default_rng(8)
    frame = pd.DataFrame(rng.normal(size=(50, 3)), columns=["price", "income", "noise"])
    frame["total"] = frame["price"] + 2 * frame["income"]
    with pytest.raises(CollinearityError) as info:
        OLS().fit(frame, rng.normal(size=50))
    message = str(info.value)
    assert "rank 4" in message and "'total'" in message or "'income'" in message
    assert info.value.rank == 4
    (column, terms), = info.value.relations
    involved = {column, *(name for name, _ in terms)}
    assert involved == {"price", "income", "total"}
    # the relation is expressed in the original units
    coefficients = dict(terms)
    if column == "total":
        assert coefficients["price"] == pytest.approx(1.0) and coefficients["income"] == pytest.approx(2.0)


def test_rank_deficiency_with_the_intercept_names_const():
    rng = np.random.default_rng(9)
    X = rng.normal(size=(40, 2))
    X = np.column_stack([X, 1.0 - X[:, 0]])  # x1 + x3 = 1 = const
    with pytest.raises(CollinearityError, match="const"):
        OLS().fit(X, rng.normal(size=40))
    OLS(fit_intercept=False).fit(X, rng.normal(size=40))  # full rank without the intercept


def test_collinearity_diagnostics_vif_and_condition_indices():
    oi = pytest.importorskip("statsmodels.stats.outliers_influence")
    rng = np.random.default_rng(10)
    a = rng.normal(size=300)
    frame = pd.DataFrame({"a": a, "b": a + 0.05 * rng.normal(size=300), "c": rng.normal(size=300) + 5})
    y = frame @ [1.0, 1.0, 1.0] + rng.normal(size=300)
    model = OLS().fit(frame, y)
    diagnostics = model.collinearity()
    Z = sm.add_constant(frame.to_numpy())
    for j, name in enumerate(frame.columns, start=1):
        assert diagnostics.vif[name] == pytest.approx(oi.variance_inflation_factor(Z, j), rel=1e-9)
    Zs = Z / np.linalg.norm(Z, axis=0)
    s = np.linalg.svd(Zs, compute_uv=False)
    np.testing.assert_allclose(np.sort(diagnostics.condition_indices), np.sort(s[0] / s), rtol=1e-9)
    np.testing.assert_allclose(diagnostics.variance_proportions.sum(axis=0), 1.0)
    assert diagnostics.vif["a"] > 100 and diagnostics.vif["c"] < 1.1
    (index, involved), = diagnostics.dependencies()
    assert set(involved) == {"a", "b"} and index > 30
    text = diagnostics.as_text()
    assert "a" in text and "near-dependency" in text


# --------------------------------------------------------------------------- validation
def test_input_validation_names_columns_and_rows():
    frame = pd.DataFrame({"height": [1.0, 2.0, np.nan, 4.0, 5.0], "weight": [1.0, 3.0, 2.0, 5.0, 4.0]})
    y = np.arange(5.0)
    with pytest.raises(ValueError, match="height.*row 2"):
        OLS().fit(frame, y)
    X = np.random.default_rng(0).normal(size=(10, 2))
    with pytest.raises(ValueError, match="y has 9 rows but X has 10"):
        OLS().fit(X, np.ones(9))
    with pytest.raises(ValueError, match="'x2' are constant"):
        OLS().fit(np.column_stack([X[:, 0], np.full(10, 3.0)]), np.arange(10.0))
    with pytest.raises(ValueError, match="'x1' and 'x2' are identical"):
        OLS().fit(np.column_stack([X[:, 0], X[:, 0]]), np.arange(10.0))
    with pytest.raises(ValueError, match="3 rows are too few for 3 parameters"):
        OLS().fit(X[:3], np.arange(3.0))
    with pytest.raises(ValueError, match="all zero"):
        OLS(fit_intercept=False).fit(np.column_stack([X[:, 0], np.zeros(10)]), np.arange(10.0))
    with pytest.raises(ValueError, match="NaN or inf"):
        OLS().fit(X, np.r_[np.arange(9.0), np.inf])


def test_hyperparameter_and_groups_errors():
    X, y, groups = _heteroscedastic(n=50)
    with pytest.raises(ValueError, match="cov_type: expected one of .*got 'HC4'"):
        OLS(cov_type="HC4").fit(X, y)
    with pytest.raises(ValueError, match="solver: expected one of .*got 'svd'"):
        OLS(solver="svd").fit(X, y)
    with pytest.raises(ValueError, match="needs groups"):
        OLS(cov_type="cluster").fit(X, y)
    with pytest.raises(ValueError, match="only with cov_type='cluster'"):
        OLS().fit(X, y, groups=groups)
    with pytest.raises(ValueError, match="groups: expected a 1-D array of 50"):
        OLS(cov_type="cluster").fit(X, y, groups=groups[:10])
    with pytest.raises(ValueError, match="at least 2 groups"):
        OLS(cov_type="cluster").fit(X, y, groups=np.zeros(50))
    with pytest.raises(ValueError, match="NaN"):
        OLS(cov_type="cluster").fit(X, y, groups=np.r_[np.nan, np.ones(49)])
    few = OLS(cov_type="cluster").fit(X, y, groups=np.arange(50) % 3)  # G - 1 = 2 < 4 slopes
    assert np.isnan(few.fvalue) and np.all(np.isfinite(few.bse))
    with pytest.raises(NotFittedError, match="not fitted"):
        OLS().predict(X)
    with pytest.raises(NotFittedError, match="not fitted"):
        _ = OLS().bse
    model = OLS().fit(X, y)
    with pytest.raises(ValueError, match="X has 2 features, but OLS is expecting 4 features as input"):
        model.predict(X[:, :2])
    with pytest.raises(ValueError, match="interval"):
        model.predict(X, interval="credible")


# --------------------------------------------------------------------------- inputs and tables
def test_tensor_pandas_and_numpy_inputs_agree_and_names_reach_every_table():
    X, y, _ = _heteroscedastic(n=120, p=2, seed=11)
    frame = pd.DataFrame(X, columns=["age", "income"])
    series = pd.Series(y, name="spending")
    from_numpy = OLS().fit(X, y)
    from_pandas = OLS().fit(frame, series)
    from_tensor = OLS().fit(cr.tensor(X, dtype=cr.float64), cr.tensor(y, dtype=cr.float64))
    for other in (from_pandas, from_tensor):
        np.testing.assert_allclose(other.params, from_numpy.params, rtol=1e-13)
    assert list(from_pandas.feature_names_in_) == ["age", "income"]
    assert not hasattr(from_numpy, "feature_names_in_")
    text = from_pandas.summary().as_text()
    for word in ("OLS Regression Results", "spending", "age", "income", "const", "nonrobust", "P>|t|"):
        assert word in text
    html = from_pandas.summary().as_html()
    assert "<table" in html and "income" in html and "spending" in html
    assert "income" in from_pandas.collinearity().as_text()
    robust = OLS(cov_type="HC3").fit(frame, series).summary().as_text()
    assert "HC3" in robust and "P>|z|" in robust
    with pytest.raises(ValueError, match="Feature names must be in the same order as they were in fit"):
        from_pandas.predict(frame[["income", "age"]])
    assert from_pandas.predict(frame).shape == (120,)


def test_score_is_r_squared_and_attributes():
    X, y, _ = _heteroscedastic(seed=12)
    model = OLS().fit(X, y)
    assert model.score(X, y) == pytest.approx(model.rsquared, rel=1e-12)
    assert model.coef_.shape == (4,) and isinstance(model.intercept_, float)
    assert model.params[0] == model.intercept_
    assert model.n_features_in_ == 4
    assert model.n_iter_ == 1 and OLS(solver="normal").fit(X, y).n_iter_ == 1  # one factorization
    assert OLS(solver="gd").fit(X, y).n_iter_ > 1


# --------------------------------------------------------------------------- scikit-learn protocol
def test_estimator_protocol_get_set_params_and_repr():
    model = OLS(cov_type="HC1")
    assert model.get_params() == {"fit_intercept": True, "cov_type": "HC1", "solver": "qr",
                                  "tol": 1e-10, "max_iter": 100_000, "distributed": False, "refine": "auto",
                                  "use_t": None, "absorb": None}
    assert repr(model) == "OLS(cov_type='HC1')"
    assert model.set_params(solver="normal") is model and model.solver == "normal"
    with pytest.raises(ValueError, match="unknown parameter"):
        model.set_params(alpha=1.0)
    X, y, _ = _heteroscedastic(n=60)
    assert model.fit(X, y) is model


def test_works_with_sklearn_clone_pipeline_and_cross_val_score():
    pytest.importorskip("sklearn")
    from sklearn.base import clone
    from sklearn.linear_model import LinearRegression
    from sklearn.model_selection import KFold, cross_val_score
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    X, y, _ = _heteroscedastic(n=200, seed=13)
    model = OLS(cov_type="HC3")
    copy = clone(model)
    assert copy is not model and copy.get_params() == model.get_params()
    pipe = make_pipeline(StandardScaler(), OLS()).fit(X, y)
    reference = make_pipeline(StandardScaler(), LinearRegression()).fit(X, y)
    np.testing.assert_allclose(pipe.predict(X), reference.predict(X), rtol=1e-10)
    folds = KFold(5, shuffle=True, random_state=0)
    ours = cross_val_score(OLS(), X, y, cv=folds)
    theirs = cross_val_score(LinearRegression(), X, y, cv=folds)
    np.testing.assert_allclose(ours, theirs, rtol=1e-10)
    fitted = clone(OLS()).fit(X, y)
    assert hasattr(fitted, "coef_") and not hasattr(clone(fitted), "coef_")


# --------------------------------------------------------------------------- the benchmark instrument
def test_benchmark_script_runs_and_methods_agree(capsys):
    """benchmarks/bench_ols.py at a tiny size: it runs, and every method agrees with ours."""
    import importlib.util
    from pathlib import Path

    script = Path(__file__).resolve().parent.parent / "benchmarks" / "bench_ols.py"
    spec = importlib.util.spec_from_file_location("bench_ols", script)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    timing = bench.main(["--n", "3000", "--p", "6", "--repeat", "1"])
    assert "chainrule OLS (HC3)" in timing and "numpy lstsq (no SEs)" in timing
    for name, row in timing.items():
        assert row["median_s"] > 0
        assert row["params_max_rel_diff"] < 1e-8, name
        if "bse_max_rel_diff" in row:
            assert row["bse_max_rel_diff"] < 1e-8, name
    assert "median s" in capsys.readouterr().out
