"""stats.Logit and stats.MNLogit against statsmodels and scikit-learn; validation; separation."""
import pickle
import warnings

import numpy as np
import pytest

import chainrule as cr
from chainrule.stats import DataWarning, Logit, MNLogit, NotFittedError
from chainrule.stats.separation import (
    PerfectSeparationError,
    PerfectSeparationWarning,
    find_multinomial_separation,
    find_separation,
)

sm = pytest.importorskip("statsmodels.api")
pd = pytest.importorskip("pandas")
sklearn = pytest.importorskip("sklearn")
from sklearn.base import clone  # noqa: E402 - after the importorskip above
from sklearn.linear_model import LogisticRegression  # noqa: E402
from sklearn.model_selection import cross_val_score  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402

RTOL = 1e-8


def unpenalized():
    """scikit-learn's LogisticRegression without a penalty, solved tightly. C = inf is
    penalty=None (scikit-learn >= 1.8 deprecates the ``penalty`` argument in its favour)."""
    return LogisticRegression(C=np.inf, tol=1e-12, max_iter=10_000)


def binary_data(n=600, p=4, seed=0, intercept=0.3):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, p)) @ np.linalg.cholesky(0.3 * np.ones((p, p)) + 0.7 * np.eye(p)).T
    beta = np.linspace(-1.0, 1.0, p)
    y = (rng.random(n) < 1.0 / (1.0 + np.exp(-(intercept + X @ beta)))).astype(float)
    return X, y


def multiclass_data(n=900, p=3, K=3, seed=1):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, p))
    B = rng.normal(size=(p, K)) * 0.8
    logits = X @ B + rng.normal(size=K) * 0.3
    P = np.exp(logits - logits.max(axis=1, keepdims=True))
    P /= P.sum(axis=1, keepdims=True)
    y = np.array([rng.choice(K, p=row) for row in P]).astype(float)
    return X, y


@pytest.fixture(scope="module")
def cancer():
    datasets = pytest.importorskip("sklearn.datasets")
    data = datasets.load_breast_cancer(as_frame=True)
    cols = ["mean radius", "mean texture", "mean smoothness", "mean symmetry", "worst concavity"]
    X = data.data[cols]
    return (X - X.mean()) / X.std(), data.target


def assert_matches_statsmodels(model, reference, names=("params", "bse", "tvalues", "pvalues", "llf", "llnull",
                                                         "llr", "llr_pvalue", "prsquared", "aic", "bic")):
    for name in names:
        ours, theirs = np.asarray(getattr(model, name)), np.asarray(getattr(reference, name))
        # statsmodels fits the null model iteratively (llnull to ~1e-10 relative); ours is the closed
        # form. A tiny chi-square tail probability amplifies that difference by about LR / 2.
        rtol = 1e-6 if name == "llr_pvalue" else RTOL
        if name == "pvalues":  # far in the tail a p-value's relative error is z² times that of z
            tiny = theirs < 1e-12
            np.testing.assert_allclose(ours[tiny], theirs[tiny], rtol=1e-6, atol=0, err_msg=name)
            ours, theirs = ours[~tiny], theirs[~tiny]
        np.testing.assert_allclose(ours, theirs, rtol=rtol, atol=0, err_msg=name)


# ----------------------------------------------------------------------------- Logit vs statsmodels


@pytest.mark.parametrize("seed", [0, 1])
def test_logit_matches_statsmodels_on_generated_data(seed):
    X, y = binary_data(seed=seed)
    model = Logit().fit(X, y)
    reference = sm.Logit(y, sm.add_constant(X)).fit(disp=0, method="newton", tol=1e-12, maxiter=100)
    assert model.converged_
    assert_matches_statsmodels(model, reference)
    np.testing.assert_allclose(model.conf_int(), reference.conf_int(), rtol=RTOL)
    np.testing.assert_allclose(model.cov_params(), reference.cov_params(), rtol=1e-8)
    assert model.nobs == reference.nobs and model.df_model == reference.df_model
    assert model.df_resid == reference.df_resid
    np.testing.assert_allclose(model.intercept_, reference.params[0], rtol=RTOL)
    np.testing.assert_allclose(model.coef_, reference.params[1:], rtol=RTOL)


def test_logit_without_intercept_matches_statsmodels():
    X, y = binary_data(seed=3, intercept=0.0)
    model = Logit(fit_intercept=False).fit(X, y)
    reference = sm.Logit(y, X).fit(disp=0, tol=1e-12)
    assert_matches_statsmodels(model, reference, ("params", "bse", "pvalues", "llf", "aic", "bic"))
    assert model.intercept_ == 0.0 and model.param_names_ == ["x1", "x2", "x3", "x4"]
    assert model.df_model == reference.df_model and model.df_resid == reference.df_resid


def test_logit_matches_statsmodels_on_breast_cancer(cancer):
    X, y = cancer
    model = Logit().fit(X, y)  # a strong fit (McFadden R² 0.82, max |x'b| about 27)
    reference = sm.Logit(y, sm.add_constant(X)).fit(disp=0, tol=1e-12, maxiter=100)
    assert_matches_statsmodels(model, reference)
    assert model.param_names_ == ["const"] + list(X.columns)
    assert find_separation(X, y) is None


def test_average_marginal_effects_match_statsmodels(cancer):
    for X, y in (binary_data(seed=4), cancer):
        model = Logit().fit(X, y)
        reference = sm.Logit(y, sm.add_constant(X)).fit(disp=0, tol=1e-12).get_margeff()
        effects = model.get_margeff()
        np.testing.assert_allclose(effects.margeff, reference.margeff, rtol=RTOL)
        # statsmodels differentiates numerically (complex step); ours is the analytic gradient
        np.testing.assert_allclose(effects.margeff_se, reference.margeff_se, rtol=1e-7)
        np.testing.assert_allclose(effects.pvalues, reference.pvalues, rtol=1e-6)
        np.testing.assert_allclose(effects.conf_int(), reference.conf_int(), rtol=1e-7)
    text = effects.summary().as_text()
    assert "mean radius" in text and "const" not in text


def test_large_n_takes_the_subsample_warm_start_and_still_matches():
    X, y = binary_data(n=60_000, p=3, seed=5)
    model = Logit().fit(X, y)
    reference = sm.Logit(y, sm.add_constant(X)).fit(disp=0, tol=1e-12)
    assert_matches_statsmodels(model, reference, ("params", "bse", "pvalues", "llf", "aic"))
    assert model.n_iter_ <= 8  # the warm start leaves only a few full-data iterations


# ----------------------------------------------------------------------------- Logit vs scikit-learn


def test_logit_matches_sklearn_unpenalized(cancer):
    for X, y in (binary_data(seed=6), cancer):
        model = Logit().fit(X, y)
        reference = unpenalized().fit(X, y)
        np.testing.assert_allclose(model.coef_, reference.coef_[0], rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(model.intercept_, reference.intercept_[0], rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(model.predict_proba(X), reference.predict_proba(X), atol=1e-6)
        np.testing.assert_array_equal(model.predict(X), reference.predict(X))
        assert model.score(X, y) == pytest.approx(reference.score(X, y))


def test_class_labels_are_kept():
    X, y01 = binary_data(seed=7)
    y = np.where(y01 > 0, 5.0, 2.0)
    model = Logit().fit(X, y)
    np.testing.assert_array_equal(model.classes_, [2.0, 5.0])
    assert set(np.unique(model.predict(X))) <= {2.0, 5.0}
    np.testing.assert_allclose(model.params, Logit().fit(X, y01).params, rtol=1e-12)


@pytest.mark.parametrize("solver, rtol", [("gd", 1e-6), ("adam", 1e-4)])
def test_first_order_solvers_reach_the_newton_solution(solver, rtol):
    X, y = binary_data(n=400, p=3, seed=8)
    newton = Logit().fit(X, y)
    options = {"tol": 1e-9} if solver == "gd" else {"tol": 1e-6, "lr": 0.02, "max_iter": 20_000}
    model = Logit(solver=solver, **options).fit(X, y)
    assert model.converged_
    np.testing.assert_allclose(model.params, newton.params, rtol=rtol, atol=rtol)
    np.testing.assert_allclose(model.bse, newton.bse, rtol=10 * rtol)
    np.testing.assert_allclose(model.llf, newton.llf, rtol=rtol)
    assert "MLE (" + solver + ")" in model.summary().as_text()


# ----------------------------------------------------------------------------- inputs and protocol


def test_pandas_and_tensor_inputs(cancer):
    X, y = cancer
    from_frame = Logit().fit(X, y.rename("malignant"))
    from_tensor = Logit().fit(cr.tensor(X.to_numpy(), dtype=cr.float64), cr.tensor(y.to_numpy().astype(float)))
    np.testing.assert_allclose(from_tensor.params, from_frame.params, rtol=1e-12)
    assert list(from_frame.feature_names_in_) == list(X.columns) and from_frame.n_features_in_ == 5
    assert not hasattr(from_tensor, "feature_names_in_") and from_tensor.n_features_in_ == 5
    text = from_frame.summary().as_text()
    for name in ["const", "mean radius", "worst concavity", "malignant", "Pseudo R-squ.", "z"]:
        assert name in text
    assert "mean texture" in from_frame.summary().as_html()
    assert from_tensor.param_names_[1] == "x1"


def test_sklearn_protocol_clone_pipeline_and_cross_validation(cancer):
    X, y = cancer
    model = Logit(tol=1e-10)
    assert model.get_params() == {"fit_intercept": True, "solver": "newton", "tol": 1e-10, "max_iter": None,
                                  "lr": None, "alpha": 0.05, "distributed": False, "on_separation": "raise"}
    assert repr(model) == "Logit(tol=1e-10)"
    copy = clone(model)
    assert copy.tol == 1e-10 and not hasattr(copy, "coef_")
    assert model.fit(X, y) is model
    pipeline = make_pipeline(StandardScaler(), Logit())
    scores = cross_val_score(pipeline, X.to_numpy(), y.to_numpy(), cv=5)
    reference = cross_val_score(make_pipeline(StandardScaler(), unpenalized()), X.to_numpy(), y.to_numpy(), cv=5)
    np.testing.assert_allclose(scores, reference)
    auc = cross_val_score(Logit(), X, y, cv=3, scoring="roc_auc")
    assert np.all(auc > 0.9)
    with pytest.raises(NotFittedError, match="not fitted"):
        Logit().predict(X)
    with pytest.raises(NotFittedError, match="not fitted"):
        Logit().params  # noqa: B018


def test_validation_errors_name_the_problem():
    X, y = binary_data(n=50, p=3, seed=9)
    frame = pd.DataFrame(X, columns=["age", "income", "score"])
    bad = frame.copy()
    bad.loc[7, "income"] = np.nan
    with pytest.raises(ValueError, match="income.*first at row 7"):
        Logit().fit(bad, y)
    with pytest.raises(ValueError, match="y has 49 rows but X has 50"):
        Logit().fit(frame, y[:-1])
    with pytest.raises(ValueError, match="'score'.*constant"):
        Logit().fit(frame.assign(score=1.0), y)
    with pytest.raises(ValueError, match="'age' and 'score' are identical"):
        Logit().fit(frame.assign(score=frame["age"]), y)
    with pytest.raises(ValueError, match="3 rows are too few for 4 parameters"):
        Logit().fit(frame.iloc[:3], np.array([0.0, 1.0, 0.0]))
    with pytest.raises(ValueError, match="Only binary classification is supported by Logit.*use MNLogit"):
        Logit().fit(frame, np.arange(50) % 3)
    with pytest.raises(ValueError, match="Unknown label type: continuous"):
        Logit().fit(frame, np.linspace(0, 1, 50))
    with pytest.raises(ValueError, match="solver must be one of"):
        Logit(solver="lbfgs").fit(frame, y)
    with pytest.raises(ValueError, match="X has 2 features, but Logit is expecting 3 features as input"):
        Logit().fit(frame, y).predict(X[:, :2])


def test_collinear_columns_are_reported():
    X, y = binary_data(n=200, p=2, seed=10)
    X = np.column_stack([X, X[:, 0] + X[:, 1]])
    with pytest.raises(ValueError, match="collinear"):
        Logit().fit(X, y)


# ----------------------------------------------------------------------------- separation


def test_complete_separation_by_one_column_names_it():
    rng = np.random.default_rng(11)
    frame = pd.DataFrame({"noise": rng.normal(size=80), "dose": rng.normal(size=80)})
    y = (frame["dose"] > 0.1).astype(float)
    with pytest.raises(PerfectSeparationError, match="complete separation: column 'dose'") as info:
        Logit().fit(frame, y)
    assert info.value.kind == "complete" and info.value.columns == ["dose"]
    assert info.value.rows.size == 80
    big = np.random.default_rng(11).normal(size=(60_000, 2))  # the large-n path (subsample warm start)
    with pytest.raises(PerfectSeparationError, match="column 'x2'"):
        Logit().fit(big, (big[:, 1] > 0.3).astype(float))


def test_quasi_complete_separation_by_a_dummy():
    rng = np.random.default_rng(12)
    n = 200
    frame = pd.DataFrame({"x": rng.normal(size=n), "treated": (rng.random(n) < 0.3).astype(float)})
    y = (rng.random(n) < 1 / (1 + np.exp(-frame["x"]))).astype(float)
    y[frame["treated"] == 1] = 1.0  # every treated row has y = 1; untreated rows have both classes
    with pytest.raises(PerfectSeparationError, match="quasi-complete separation: column 'treated'") as info:
        Logit().fit(frame, y)
    assert info.value.columns == ["treated"]
    np.testing.assert_array_equal(info.value.rows, np.flatnonzero(frame["treated"] == 1))


def test_separation_by_a_combination_of_columns_is_found_by_linear_programming():
    rng = np.random.default_rng(13)
    frame = pd.DataFrame({"a": rng.normal(size=120), "b": rng.normal(size=120), "c": rng.normal(size=120)})
    y = (frame["a"] + frame["b"] > 0).astype(float)  # neither column alone separates
    with pytest.raises(PerfectSeparationError, match="complete separation by the columns 'a', 'b'") as info:
        Logit().fit(frame, y)
    assert info.value.kind == "complete"
    # quasi-complete: the same, plus rows on the boundary with both outcomes
    tie = pd.DataFrame({"a": [0.5, 0.5, -0.5, -0.5], "b": [-0.5, -0.5, 0.5, 0.5], "c": [0.1, -0.2, 0.3, 0.0]})
    frame2 = pd.concat([frame, tie], ignore_index=True)
    y2 = np.r_[y.to_numpy(), [0.0, 1.0, 1.0, 0.0]]
    found = find_separation(frame2, np.where(y2 > 0, 5.0, 2.0))  # any two labels
    assert found.kind == "quasi-complete" and found.columns == ["a", "b"]
    assert found.rows.size == 120


def test_a_large_linear_predictor_without_separation_is_fitted(monkeypatch):
    import chainrule.stats.logit as logit_module

    rng = np.random.default_rng(14)
    x = np.r_[rng.normal(size=400), [7.0, 8.0, -7.5]][:, None]  # three far-out rows, |x'b| > 30 at the answer
    y = (rng.random(x.size) < 1 / (1 + np.exp(-5 * x[:, 0]))).astype(float)
    checks = []
    real = logit_module.find_separation
    monkeypatch.setattr(logit_module, "find_separation", lambda *a, **k: checks.append(1) or real(*a, **k))
    model = Logit().fit(x, y)
    assert checks == [1]  # the symptom triggered the check once; it found overlap and the fit went on
    reference = sm.Logit(y, sm.add_constant(x)).fit(disp=0, tol=1e-12)
    assert_matches_statsmodels(model, reference, ("params", "bse", "pvalues", "llf"))
    assert np.max(np.abs(model.decision_function(x))) > 30


def test_gradient_solver_reports_separation_too():
    x = np.r_[np.linspace(-2, -0.1, 20), np.linspace(0.1, 2, 20)][:, None]
    y = (x[:, 0] > 0).astype(float)
    with pytest.raises(PerfectSeparationError, match="'x1'"):
        Logit(solver="gd", max_iter=200).fit(x, y)


@pytest.mark.parametrize("solver", ["newton", "gd"])
def test_on_separation_warn_fits_where_the_iteration_stopped(solver):
    rng = np.random.default_rng(15)
    frame = pd.DataFrame({"noise": rng.normal(size=80), "dose": rng.normal(size=80)})
    labels = np.where(frame["dose"] > 0.1, "sick", "well")
    model = Logit(solver=solver, max_iter=300, on_separation="warn")
    with pytest.warns(PerfectSeparationWarning, match="column 'dose' alone separates") as caught:
        assert model.fit(frame, labels) is model
    message = str(caught[0].message)
    assert "on_separation='warn'" in message and "standard errors" in message and "not valid" in message
    assert caught[0].filename == __file__  # points at the caller's fit
    assert model.separation_.kind == "complete" and model.separation_.columns == ["dose"]
    assert not model.converged_ and model.n_iter_ >= 1
    np.testing.assert_array_equal(model.predict(frame), labels)  # the fit separates the training rows
    for inference in (lambda: model.bse, lambda: model.pvalues, model.conf_int, model.summary, model.get_margeff):
        with pytest.raises(PerfectSeparationError, match="no standard errors.*complete separation.*'dose'"):
            inference()  # an invalid standard error is an error, never NaN
    assert np.all(np.isfinite(model.params)) and np.isfinite(model.llf) and model.llf > model.llnull
    copy = pickle.loads(pickle.dumps(model))
    assert copy.separation_.columns == ["dose"] and str(copy.separation_) == str(model.separation_)
    np.testing.assert_array_equal(copy.predict(frame), labels)
    with pytest.raises(PerfectSeparationError, match="column 'dose'"):  # the default is "raise"
        Logit(solver=solver, max_iter=300).fit(frame, labels)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        overlapping = Logit(on_separation="warn").fit(*binary_data(n=200, seed=16))  # nothing to report
    assert overlapping.separation_ is None and overlapping.converged_


def test_on_separation_is_checked():
    X, y = binary_data(n=50, seed=17)
    for model in (Logit(on_separation="ignore"), MNLogit(on_separation=None)):
        with pytest.raises(ValueError, match="on_separation must be 'raise' or 'warn'"):
            model.fit(X, y)


# ----------------------------------------------------------------------------- MNLogit


@pytest.mark.parametrize("K, fit_intercept", [(3, True), (4, True), (3, False)])
def test_mnlogit_matches_statsmodels(K, fit_intercept):
    X, y = multiclass_data(K=K, seed=K)
    model = MNLogit(fit_intercept=fit_intercept).fit(X, y)
    exog = sm.add_constant(X) if fit_intercept else X
    reference = sm.MNLogit(y, exog).fit(disp=0, method="newton", tol=1e-12, maxiter=100)
    for name in ("params", "bse", "tvalues", "pvalues", "llf", "aic", "bic"):
        np.testing.assert_allclose(np.asarray(getattr(model, name)), np.asarray(getattr(reference, name)),
                                   rtol=RTOL, err_msg=name)
    np.testing.assert_allclose(model.cov_params(), reference.cov_params(), rtol=1e-8, atol=1e-14)
    if fit_intercept:  # statsmodels' null model always has a constant; so does ours
        for name in ("llnull", "llr", "prsquared", "llr_pvalue"):
            rtol = 1e-6 if name == "llr_pvalue" else RTOL  # see assert_matches_statsmodels
            np.testing.assert_allclose(getattr(model, name), getattr(reference, name), rtol=rtol, err_msg=name)
    np.testing.assert_allclose(model.predict_proba(X), reference.predict(exog), rtol=1e-8)
    assert model.df_model == reference.df_model and model.df_resid == reference.df_resid


def test_mnlogit_matches_sklearn_multinomial_and_keeps_names():
    X, y = multiclass_data(K=3, seed=20)
    labels = np.array([10.0, 20.0, 30.0])[y.astype(int)]
    frame = pd.DataFrame(X, columns=["price", "distance", "rating"])
    model = MNLogit().fit(frame, pd.Series(labels, name="choice"))
    reference = unpenalized().fit(X, labels)
    np.testing.assert_allclose(model.predict_proba(frame), reference.predict_proba(X), atol=1e-6)
    np.testing.assert_array_equal(model.predict(frame), reference.predict(X))
    # softmax coefficients are identified up to a shift: compare differences with the reference class
    np.testing.assert_allclose(model.coef_, reference.coef_[1:] - reference.coef_[0], atol=1e-5)
    assert list(model.feature_names_in_) == ["price", "distance", "rating"]
    text = model.summary().as_text()
    for name in ["choice=20: price", "choice=30: rating", "Reference class", "MNLogit"]:
        assert name in text
    assert model.conf_int().shape == (8, 2)  # named results: rows (class, term), statsmodels' layout
    assert model.conf_int().index[1] == ("20", "price")
    assert cross_val_score(MNLogit(), frame, labels, cv=3).mean() > 0.4
    assert clone(MNLogit(tol=1e-9)).tol == 1e-9


def test_string_labels_are_kept_and_predicted_in_classes_order():
    X, y = binary_data(n=300, seed=30)
    words = np.array(["no", "yes"])[y.astype(int)]
    numeric = Logit().fit(X, y)
    model = Logit().fit(X, words)
    assert model.classes_.tolist() == ["no", "yes"]
    np.testing.assert_allclose(model.params, numeric.params)
    np.testing.assert_array_equal(model.predict(X), np.array(["no", "yes"])[numeric.predict(X).astype(int)])
    np.testing.assert_allclose(model.predict_proba(X), numeric.predict_proba(X))
    assert model.score(X, words) == numeric.score(X, y)
    flipped = Logit().fit(X, np.where(y == 1, "a_yes", "b_no"))  # classes_ sorted: P(y = "b_no") is modelled
    np.testing.assert_allclose(flipped.params, -numeric.params)
    np.testing.assert_allclose(flipped.predict_proba(X)[:, 0], numeric.predict_proba(X)[:, 1])
    Xm, ym = multiclass_data(n=400, K=3, seed=31)
    names = np.array(["bus", "car", "train"], dtype=object)[ym.astype(int)]
    reference = MNLogit().fit(Xm, ym)
    multi = MNLogit().fit(Xm, names)
    assert multi.classes_.tolist() == ["bus", "car", "train"]
    np.testing.assert_allclose(multi.params, reference.params)
    np.testing.assert_array_equal(multi.predict(Xm), multi.classes_[reference.predict(Xm).astype(int)])
    assert "y=car: x1" in multi.summary().as_text()
    with pytest.raises(ValueError, match="Unknown label type: continuous"):
        MNLogit().fit(Xm, ym + 0.5)


def test_mnlogit_with_two_classes_is_logit():
    X, y = binary_data(seed=21)
    np.testing.assert_allclose(MNLogit().fit(X, y).params[:, 0], Logit().fit(X, y).params, rtol=1e-10)


def test_mnlogit_validation():
    X, y = multiclass_data(n=60)
    with pytest.raises(ValueError, match="at least 2 classes"):
        MNLogit().fit(X, np.zeros(60))
    with pytest.raises(ValueError, match="rows are too few"):
        MNLogit().fit(X[:7], np.arange(7) % 3)
    with warnings.catch_warnings():
        warnings.simplefilter("error", DataWarning)
        MNLogit().fit(X, y)


@pytest.mark.parametrize("K, fit_intercept", [(3, True), (4, True), (3, False)])
def test_mnlogit_marginal_effects_match_statsmodels(K, fit_intercept):
    X, y = multiclass_data(K=K, seed=30 + K)
    frame = pd.DataFrame(X, columns=["price", "distance", "rating"])
    model = MNLogit(fit_intercept=fit_intercept).fit(frame, pd.Series(y, name="choice"))
    exog = sm.add_constant(X) if fit_intercept else X
    reference = sm.MNLogit(y, exog).fit(disp=0, method="newton", tol=1e-12, maxiter=100).get_margeff()
    effects = model.get_margeff()
    assert effects.margeff.shape == (3, K) == reference.margeff.shape
    np.testing.assert_allclose(effects.margeff, reference.margeff, rtol=1e-6)
    # statsmodels differentiates numerically; ours is the analytic Jacobian
    np.testing.assert_allclose(effects.margeff_se, reference.margeff_se, rtol=1e-6)
    np.testing.assert_allclose(effects.margeff_cov, reference.margeff_cov, rtol=1e-6, atol=1e-12)
    np.testing.assert_allclose(effects.pvalues, reference.pvalues, rtol=1e-6)
    np.testing.assert_allclose(effects.conf_int(), reference.conf_int().swapaxes(1, 2), rtol=1e-6)  # theirs (p, 2, K)
    # probabilities sum to one, so the effects on them sum to zero over the classes
    np.testing.assert_allclose(effects.margeff.sum(axis=1), 0.0, atol=1e-14)
    text = effects.summary().as_text()
    assert "MNLogit Marginal Effects" in text and "choice=1: price" in text and "const" not in text


def test_mnlogit_marginal_effects_match_central_differences():
    X, y = multiclass_data(n=300, K=3, seed=37)
    model = MNLogit().fit(X, y)
    effects = model.get_margeff()
    h = 1e-6
    for j in range(X.shape[1]):
        up, down = X.copy(), X.copy()
        up[:, j] += h
        down[:, j] -= h
        numeric = (model.predict_proba(up) - model.predict_proba(down)).mean(axis=0) / (2 * h)
        np.testing.assert_allclose(effects.margeff[j], numeric, rtol=1e-6, atol=1e-10)


@pytest.mark.parametrize("solver, options, rtol", [
    ("gd", {"tol": 1e-9}, 1e-6),
    ("adam", {"tol": 1e-6, "lr": 0.02, "max_iter": 20_000}, 1e-4),
])
def test_mnlogit_first_order_solvers_reach_the_newton_solution(solver, options, rtol):
    X, y = multiclass_data(n=400, K=3, seed=38)
    newton = MNLogit().fit(X, y)
    model = MNLogit(solver=solver, **options).fit(X, y)
    assert model.converged_
    np.testing.assert_allclose(model.params, newton.params, rtol=rtol, atol=rtol)
    np.testing.assert_allclose(model.bse, newton.bse, rtol=10 * rtol)
    np.testing.assert_allclose(model.llf, newton.llf, rtol=rtol)
    assert f"MLE ({solver})" in model.summary().as_text()
    with pytest.raises(ValueError, match="solver must be one of 'newton', 'gd', 'adam'; got 'lbfgs'"):
        MNLogit(solver="lbfgs").fit(X, y)


def test_mnlogit_quasi_complete_separation_names_the_column_and_classes():
    X, y = multiclass_data(n=300, K=3, seed=39)
    rng = np.random.default_rng(39)
    treated = (rng.random(300) < 0.2).astype(float)
    y[treated == 1] = 2.0  # every treated row chose class 2; untreated rows chose all three
    frame = pd.DataFrame(np.column_stack([X, treated]), columns=["price", "distance", "rating", "treated"])
    with pytest.raises(PerfectSeparationError, match="MNLogit: quasi-complete separation by the columns 'treated'") \
            as info:
        MNLogit().fit(frame, y)
    error = info.value
    assert error.kind == "quasi-complete" and error.columns == ["treated"]
    assert error.pairs == [(2.0, 0.0), (2.0, 1.0)] and error.classes == [0.0, 1.0, 2.0]
    np.testing.assert_array_equal(error.rows, np.flatnonzero(treated == 1))
    # the direction found does separate: every row ranks its own class at or above the others,
    # and the treated rows strictly
    scores = np.column_stack([np.zeros(300), sm.add_constant(frame.to_numpy()) @ error.direction])
    margins = scores[np.arange(300), y.astype(int)][:, None] - scores
    assert error.direction.shape == (5, 2) and margins.min() > -1e-9
    assert np.all(np.sort(margins[treated == 1], axis=1)[:, 1] > 1e-6)
    with pytest.raises(PerfectSeparationError, match="'treated'"):
        MNLogit(solver="gd", max_iter=300).fit(frame, y)


def test_mnlogit_complete_separation_and_overlap():
    x = np.linspace(-2, 2, 120)[:, None]
    y = np.digitize(x[:, 0], [-0.5, 0.7]).astype(float)  # three ordered bands of x
    with pytest.raises(PerfectSeparationError, match="complete separation by the columns 'x1'") as info:
        MNLogit().fit(x, y)
    assert info.value.kind == "complete" and info.value.rows.size == 120
    X, y = multiclass_data(n=200, K=3, seed=40)
    assert find_multinomial_separation(X, y) is None


def test_mnlogit_on_separation_warn():
    x = np.linspace(-2, 2, 120)[:, None]
    y = np.array(["low", "mid", "high"], dtype=object)[np.digitize(x[:, 0], [-0.5, 0.7])]
    model = MNLogit(on_separation="warn")
    with pytest.warns(PerfectSeparationWarning, match="MNLogit: complete separation by the columns 'x1'"):
        model.fit(x, y)
    assert model.separation_.kind == "complete" and set(model.separation_.classes) == {"low", "mid", "high"}
    assert np.mean(model.predict(x) == y) > 0.95
    with pytest.raises(PerfectSeparationError, match="MNLogit: no standard errors"):
        model.bse  # noqa: B018 - the property raises
    assert model.classes_.tolist() == ["high", "low", "mid"] and not model.converged_


def test_mnlogit_collinear_columns_are_reported():
    X, y = multiclass_data(n=200, K=3, seed=41)
    with pytest.raises(ValueError, match="collinear"):
        MNLogit().fit(np.column_stack([X, X[:, 0] - 2 * X[:, 1]]), y)


def test_mnlogit_information_is_formed_without_copies_of_X():
    import tracemalloc

    from chainrule.stats.logit_newton import Design
    from chainrule.stats.mnlogit import _mn_information, _mn_probs

    rng = np.random.default_rng(42)
    X = rng.normal(size=(80_000, 20))
    B = rng.normal(size=(21, 3)) * 0.3
    design = Design(X, True)
    P = _mn_probs(design.dot(B))
    tracemalloc.start()
    info = _mn_information(design, P)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    # the six weight vectors (0.3 X.nbytes) and one stacked block of the six scaled copies of
    # 4,096 rows (3.9 MB, whatever n): about 0.6 X.nbytes here; never [1, X] or w * X whole
    assert peak < 0.75 * X.nbytes
    Z = np.column_stack([np.ones(len(X)), X])
    for a in range(1, 4):
        for b in range(1, 4):
            w = P[:, a] * ((a == b) - P[:, b])
            np.testing.assert_allclose(info[(a - 1) * 21:a * 21, (b - 1) * 21:b * 21], Z.T @ (Z * w[:, None]),
                                       rtol=1e-10, atol=1e-10)


def test_mnlogit_protocol_and_pipeline():
    X, y = multiclass_data(n=300, K=3, seed=43)
    model = MNLogit(solver="gd", lr=0.5)
    assert model.get_params() == {"fit_intercept": True, "solver": "gd", "tol": 1e-8, "max_iter": None,
                                  "lr": 0.5, "alpha": 0.05, "on_separation": "raise"}
    assert repr(clone(model)) == "MNLogit(solver='gd', lr=0.5)"
    scores = cross_val_score(make_pipeline(StandardScaler(), MNLogit()), X, y, cv=3)
    reference = cross_val_score(make_pipeline(StandardScaler(), unpenalized()), X, y, cv=3)
    np.testing.assert_allclose(scores, reference)


def test_logit_nested_warm_start_on_large_n_matches_statsmodels(monkeypatch):
    from chainrule.stats.logit_newton import Design

    X, y = binary_data(n=170_000, p=2, seed=44)
    sizes = []
    real = Design.subsample
    monkeypatch.setattr(Design, "subsample", lambda self, s: sizes.append(s) or real(self, s))
    model = Logit().fit(X, y)
    assert sizes == [8, 8]  # every 8th row (21,250), every 8th of those (2,657); fitted smallest first
    reference = sm.Logit(y, sm.add_constant(X)).fit(disp=0, tol=1e-12)
    assert_matches_statsmodels(model, reference, ("params", "bse", "pvalues", "llf", "aic"))
    np.testing.assert_allclose(model.cov_params(), reference.cov_params(), rtol=1e-8)


def large_multiclass_data(n, p, K, seed):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, p))
    logits = np.column_stack([np.zeros(n), X @ (0.5 * rng.normal(size=(p, K - 1)))])
    P = np.exp(logits - logits.max(axis=1, keepdims=True))
    P /= P.sum(axis=1, keepdims=True)
    return X, (P.cumsum(axis=1) > rng.random(n)[:, None]).argmax(axis=1).astype(float)


def test_mnlogit_nested_warm_start_on_large_n_matches_statsmodels(monkeypatch):
    import chainrule.stats.mnlogit as mnlogit_module
    from chainrule.stats.logit_newton import Design

    X, y = large_multiclass_data(70_000, 3, 3, seed=47)
    sizes, starts = [], []
    real_subsample, real_newton = Design.subsample, mnlogit_module._newton_multinomial
    monkeypatch.setattr(Design, "subsample", lambda self, s: sizes.append(s) or real_subsample(self, s))
    monkeypatch.setattr(mnlogit_module, "_newton_multinomial",
                        lambda design, *args, **kw: starts.append(design.n) or real_newton(design, *args, **kw))
    model = MNLogit().fit(X, y)
    assert sizes == [8] and starts == [8_750, 70_000]  # every 8th row (every 64th would be < 2,500 rows), then all
    assert model.n_iter_ <= 4  # from the subsample estimate, Newton on all rows needs few iterations
    reference = sm.MNLogit(y, sm.add_constant(X)).fit(disp=0, method="newton", tol=1e-12, maxiter=100)
    for name in ("params", "bse", "pvalues", "llf", "aic"):
        np.testing.assert_allclose(np.asarray(getattr(model, name)), np.asarray(getattr(reference, name)),
                                   rtol=RTOL, err_msg=name)


def test_mnlogit_warm_start_falls_back_when_a_subsample_lacks_a_class(monkeypatch):
    import chainrule.stats.mnlogit as mnlogit_module

    X, y = large_multiclass_data(60_000, 2, 3, seed=48)
    y[::8] = np.where(y[::8] == 2, 0, y[::8])  # class 2 never in the subsample of every 8th row
    starts, real_newton = [], mnlogit_module._newton_multinomial
    monkeypatch.setattr(mnlogit_module, "_newton_multinomial",
                        lambda design, *args, **kw: starts.append(design.n) or real_newton(design, *args, **kw))
    model = MNLogit().fit(X, y)
    assert starts == [60_000]  # no subsample fit: the cold start on all rows
    reference = sm.MNLogit(y, sm.add_constant(X)).fit(disp=0, method="newton", tol=1e-12, maxiter=100)
    np.testing.assert_allclose(model.params, np.asarray(reference.params), rtol=RTOL)
    np.testing.assert_allclose(model.bse, np.asarray(reference.bse), rtol=RTOL)


def test_logit_warm_start_falls_back_when_a_subsample_has_one_class():
    X, y = binary_data(n=60_000, p=2, seed=45)
    y[::8] = 0.0  # the subsample of every 8th row has only y = 0: no warm start, same answer
    model = Logit().fit(X, y)
    reference = sm.Logit(y, sm.add_constant(X)).fit(disp=0, tol=1e-12)
    assert_matches_statsmodels(model, reference, ("params", "bse", "llf"))


def test_benchmark_script_runs_and_implementations_agree(tmp_path):
    import importlib.util
    from pathlib import Path

    script = Path(__file__).resolve().parent.parent / "benchmarks" / "bench_logit.py"
    spec = importlib.util.spec_from_file_location("bench_logit", script)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    out = bench.main(["--n", "3000", "--p", "4", "--repeats", "1", "--only", "statsmodels,scikit-learn",
                      "--json", str(tmp_path / "logit.json")])
    assert out["results"]["chainrule"]["ratio_to_chainrule"] == 1.0
    for name, row in out["results"].items():
        assert row["max_abs_param_diff"] < 1e-5, name
    assert set(out["results"]) == {"chainrule", "statsmodels", "scikit-learn"}
    assert (tmp_path / "logit.json").exists()


def test_multinomial_benchmark_script_runs_and_implementations_agree(tmp_path):
    import importlib.util
    from pathlib import Path

    script = Path(__file__).resolve().parent.parent / "benchmarks" / "bench_mnlogit.py"
    spec = importlib.util.spec_from_file_location("bench_mnlogit", script)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    out = bench.main(["--quick", "--rounds", "1", "--json", str(tmp_path / "mnlogit.json")])
    assert set(out["results"]) == {"chainrule", "statsmodels", "scikit-learn"}
    assert out["results"]["chainrule"]["ratio_to_chainrule"] == 1.0
    assert out["agreement"]["statsmodels params max rel diff"] < 1e-8
    assert out["agreement"]["statsmodels bse max rel diff"] < 1e-8
    assert out["agreement"]["scikit-learn probabilities max abs diff"] < 1e-6
    assert (tmp_path / "mnlogit.json").exists()


@pytest.mark.parametrize("order", ["C", "F"])
def test_information_pass_with_the_compiled_kernel_matches_numpy_and_closed_form(monkeypatch, order):
    """The X'WX pass (compiled row kernel on C-ordered X, NumPy on F-ordered X) against the
    NumPy pass and against ℓ, X'(y − p), [1, X]' diag(p(1 − p)) [1, X] written out directly."""
    pytest.importorskip("numba")
    import chainrule.stats.logit_newton as newton_module

    X, y = binary_data(n=9_000, p=5, seed=46)  # two full blocks of rows and a partial one
    X = np.asarray(X, order=order)
    beta = np.array([0.2, -0.4, 0.1, 0.3, -0.2, 0.5])
    Z = np.column_stack([np.ones(len(y)), X])
    eta = Z @ beta
    p = 1.0 / (1.0 + np.exp(-eta))
    expected = (float(np.sum(y * eta - np.log1p(np.exp(eta)))), (Z * (p * (1 - p))[:, None]).T @ Z,
                Z.T @ (y - p), float(np.max(np.abs(eta))))
    monkeypatch.setattr(newton_module, "_COMPILED_MIN_SIZE", 0)
    monkeypatch.delenv("CHAINRULE_NO_NUMBA", raising=False)
    design = newton_module.Design(X, True)
    assert (newton_module._row_kernels(design.X) is not None) == (order == "C")
    compiled = design.newton_pass(beta, y, hessian=True)
    monkeypatch.setenv("CHAINRULE_NO_NUMBA", "1")
    assert newton_module._row_kernels(design.X) is None
    plain = design.newton_pass(beta, y, hessian=True)
    for ours, numpy_pass, reference in zip(compiled, plain, expected):
        np.testing.assert_allclose(ours, reference, rtol=1e-12, atol=1e-9)
        np.testing.assert_allclose(ours, numpy_pass, rtol=1e-13, atol=1e-10)
    without = newton_module.Design(np.ascontiguousarray(X), False)  # no constant: k = p
    monkeypatch.delenv("CHAINRULE_NO_NUMBA")
    _, gram, score, _ = without.newton_pass(beta[1:], y, hessian=True)
    eta = X @ beta[1:]
    p = 1.0 / (1.0 + np.exp(-eta))
    np.testing.assert_allclose(gram, (X * (p * (1 - p))[:, None]).T @ X, rtol=1e-12)
    np.testing.assert_allclose(score, X.T @ (y - p), rtol=1e-12, atol=1e-9)
