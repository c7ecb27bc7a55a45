"""LogisticRegression and LogisticRegressionCV: scikit-learn's objective minimized, equal to
scikit-learn's solutions (newton-cholesky for l2 and no penalty, saga for l1 and the elastic net,
both at tol=1e-12) on well-posed, separated and collinear data, binary and multinomial; checked
also by the optimality conditions computed here from scratch, against Logit/MNLogit without a
penalty, and for the API (labels, shapes, methods, errors, cross-validation).
"""
from __future__ import annotations

import warnings

import numpy as np
import pytest
from scipy.special import logsumexp

from chainrule.stats import (
    LogisticRegression,
    LogisticRegressionCV,
    Logit,
    MNLogit,
    PerfectSeparationError,
    PerfectSeparationWarning,
)
from chainrule.stats.coordinate_descent import ConvergenceWarning
from chainrule.stats.cross_validation import stratified_kfold

sklearn = pytest.importorskip("sklearn")
from sklearn import linear_model as lm  # noqa: E402 - after the importorskip above
from sklearn.datasets import load_breast_cancer, load_iris  # noqa: E402
from sklearn.model_selection import StratifiedKFold  # noqa: E402


def _standardized(X):
    return (X - X.mean(axis=0)) / X.std(axis=0)


def _data():
    rng = np.random.default_rng(3)
    cancer_X, cancer_y = load_breast_cancer(return_X_y=True)
    iris_X, iris_y = load_iris(return_X_y=True)
    separated = rng.standard_normal((60, 3))
    blobs = np.repeat(np.eye(3) * 6, 20, axis=0) + rng.standard_normal((60, 3))
    base = rng.standard_normal((80, 4))
    collinear = np.column_stack([base, base[:, 0], 2 * base[:, 1]])
    overlap = rng.standard_normal((200, 3))
    logits = overlap @ np.array([[0.0, 1.0, -0.5], [0.0, -1.0, 1.0], [0.0, 0.5, 1.0]])
    probabilities = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    return {
        "cancer": (_standardized(cancer_X)[:, :8], cancer_y),                       # well-posed, binary
        "iris": (_standardized(iris_X), iris_y),                                    # multinomial, K = 3
        "separated": (separated, (separated[:, 0] + 0.5 * separated[:, 1] > 0).astype(int)),
        "separated-3": (blobs, np.repeat([0, 1, 2], 20)),                           # every class separated
        "collinear": (collinear, (base[:, 0] + base[:, 2] + rng.standard_normal(80) > 0).astype(int)),
        "collinear-3": (collinear, np.digitize(base[:, 0] + base[:, 2] + rng.standard_normal(80), [-0.7, 0.7])),
        "overlap-3": (overlap, (rng.random(200)[:, None] > probabilities.cumsum(axis=1)).sum(axis=1)),
    }


DATA = _data()


def objective(model, X, y, penalty, C, l1_ratio=None):
    """scikit-learn's objective C Σ ℓ_i + P(W) at a fitted model (C = 1 without a penalty)."""
    scores = X @ model.coef_.T + model.intercept_
    index = np.searchsorted(model.classes_, y)
    if model.classes_.size == 2:
        s = scores[:, 0]
        loss = np.sum(np.logaddexp(0.0, s) - (index == 1) * s)
    else:
        loss = np.sum(logsumexp(scores, axis=1) - scores[np.arange(len(y)), index])
    W = model.coef_
    rho = {"l2": 0.0, "l1": 1.0, None: None}.get(penalty, l1_ratio)
    if rho is None:
        return loss
    return C * loss + rho * np.abs(W).sum() + (1 - rho) / 2 * np.sum(W * W)


def optimality_residual(model, X, y, penalty, C, l1_ratio=None):
    """The largest entry of the minimum-norm subgradient of objective / (C n), from scratch."""
    n = len(y)
    scores = X @ model.coef_.T + model.intercept_
    index = np.searchsorted(model.classes_, y)
    if model.classes_.size == 2:
        residual = (1 / (1 + np.exp(-scores[:, 0])) - (index == 1))[:, None]
    else:
        P = np.exp(scores - logsumexp(scores, axis=1, keepdims=True))
        residual = P - np.eye(model.classes_.size)[index]
    g_w, g_b = residual.T @ X / n, residual.sum(axis=0) / n
    rho = {"l2": 0.0, "l1": 1.0, None: 0.0}.get(penalty, l1_ratio)
    scale = 0.0 if penalty is None else 1.0 / (C * n)
    W = model.coef_
    g_w = g_w + scale * (1 - rho) * W
    a = scale * rho
    sub = np.where(W != 0, g_w + a * np.sign(W), np.sign(g_w) * np.maximum(np.abs(g_w) - a, 0))
    return max(np.max(np.abs(sub)), np.max(np.abs(g_b)))


def sklearn_fit(X, y, penalty, C, l1_ratio=None, fit_intercept=True):
    """scikit-learn's solution at tol=1e-12, without its deprecated ``penalty`` argument."""
    rho = {"l2": 0.0, "l1": 1.0, None: 0.0}.get(penalty, l1_ratio)
    solver = "newton-cholesky" if rho == 0.0 else "saga"
    C = np.inf if penalty is None else C
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return lm.LogisticRegression(C=C, l1_ratio=rho, solver=solver, tol=1e-12, max_iter=100_000,
                                     fit_intercept=fit_intercept).fit(X, y)


CASES = [(name, penalty, C, l1_ratio)
         for name in DATA if name != "overlap-3"
         for penalty, l1_ratio in (("l2", None), ("l1", None), ("elasticnet", 0.5), ("elasticnet", 0.9))
         for C in (0.1, 1.0, 10.0)
         if not (name == "cancer" and penalty != "l2" and C > 1)]   # saga needs > 10^5 epochs there


@pytest.mark.parametrize("name, penalty, C, l1_ratio", CASES)
def test_solution_equals_sklearns(name, penalty, C, l1_ratio):
    X, y = DATA[name]
    ours = LogisticRegression(penalty=penalty, C=C, l1_ratio=l1_ratio, tol=1e-12).fit(X, y)
    reference = sklearn_fit(X, y, penalty, C, l1_ratio)
    mine, theirs = objective(ours, X, y, penalty, C, l1_ratio), objective(reference, X, y, penalty, C, l1_ratio)
    assert mine == pytest.approx(theirs, rel=1e-9)
    assert mine <= theirs * (1 + 1e-12)
    assert optimality_residual(ours, X, y, penalty, C, l1_ratio) <= 1e-10
    assert ours.converged_ and ours.coef_.shape == reference.coef_.shape
    np.testing.assert_allclose(ours.predict_proba(X), reference.predict_proba(X), rtol=0, atol=1e-7)
    if not (name.startswith("collinear") and penalty == "l1"):      # the l1 solution is not unique there
        scale = max(1.0, np.max(np.abs(reference.coef_)))
        np.testing.assert_allclose(ours.coef_, reference.coef_, rtol=0, atol=1e-6 * scale)
        np.testing.assert_allclose(ours.intercept_, reference.intercept_, rtol=0, atol=1e-6 * scale)


@pytest.mark.parametrize("name", ["cancer", "overlap-3", "collinear", "collinear-3"])
def test_no_penalty_equals_sklearns_minimum_norm_solution(name):
    X, y = DATA[name]
    ours = LogisticRegression(penalty=None, tol=1e-12).fit(X, y)
    reference = sklearn_fit(X, y, None, np.inf)
    assert objective(ours, X, y, None, 1.0) == pytest.approx(objective(reference, X, y, None, 1.0), rel=1e-9)
    assert optimality_residual(ours, X, y, None, 1.0) <= 1e-10
    np.testing.assert_allclose(ours.coef_, reference.coef_, rtol=0, atol=1e-6 * np.max(np.abs(reference.coef_)))
    np.testing.assert_array_equal(LogisticRegression(C=np.inf, tol=1e-12).fit(X, y).coef_, ours.coef_)
    if name.startswith("collinear"):   # duplicated columns share the effect equally (minimum norm)
        np.testing.assert_allclose(ours.coef_[:, 4], ours.coef_[:, 0], rtol=1e-8)
        np.testing.assert_allclose(ours.coef_[:, 5], 2 * ours.coef_[:, 1], rtol=1e-8)


def test_no_penalty_equals_the_maximum_likelihood_of_logit_and_mnlogit():
    X, y = DATA["cancer"]
    ours = LogisticRegression(penalty=None, tol=1e-12).fit(X, y)
    logit = Logit(tol=1e-12).fit(X, y)
    np.testing.assert_allclose(ours.coef_[0], logit.coef_, rtol=1e-8)
    assert ours.intercept_[0] == pytest.approx(logit.intercept_, rel=1e-8)
    X, y = DATA["overlap-3"]
    ours = LogisticRegression(penalty=None, tol=1e-12).fit(X, y)
    mnlogit = MNLogit(tol=1e-12).fit(X, y)
    # MNLogit's class k parameters are the symmetric ones minus the reference class's
    np.testing.assert_allclose(ours.coef_[1:] - ours.coef_[0], mnlogit.coef_, rtol=1e-7, atol=1e-9)
    np.testing.assert_allclose(ours.intercept_[1:] - ours.intercept_[0], mnlogit.intercept_, rtol=1e-7)
    np.testing.assert_allclose(ours.coef_.sum(axis=0), 0.0, atol=1e-12)
    np.testing.assert_allclose(ours.intercept_.sum(), 0.0, atol=1e-12)


def test_separated_data_is_refused_by_logit_pointing_here_and_fitted_here():
    X, y = DATA["separated"]
    with pytest.raises(PerfectSeparationError, match="chainrule.stats.LogisticRegression"):
        Logit().fit(X, y)
    with pytest.raises(PerfectSeparationError, match="chainrule.stats.LogisticRegression"):
        MNLogit().fit(*DATA["separated-3"])
    model = LogisticRegression().fit(X, y)
    assert model.converged_ and model.score(X, y) == 1.0 and np.all(np.isfinite(model.coef_))
    with pytest.warns(PerfectSeparationWarning, match=r"penalty=None\): Logit: complete separation.*use a penalty"):
        LogisticRegression(penalty=None).fit(X, y)
    with pytest.warns(PerfectSeparationWarning, match="MNLogit: complete separation"):
        LogisticRegression(penalty=None).fit(*DATA["separated-3"])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        LogisticRegression(penalty=None).fit(*DATA["cancer"])   # logits beyond 30, but no separation


@pytest.mark.parametrize("penalty, l1_ratio", [("l2", None), ("l1", None), ("elasticnet", 0.3)])
def test_without_intercept_equals_sklearn(penalty, l1_ratio):
    for name in ("cancer", "iris"):
        X, y = DATA[name]
        ours = LogisticRegression(penalty=penalty, l1_ratio=l1_ratio, fit_intercept=False, tol=1e-12).fit(X, y)
        reference = sklearn_fit(X, y, penalty, 1.0, l1_ratio, fit_intercept=False)
        np.testing.assert_allclose(ours.coef_, reference.coef_, rtol=0, atol=1e-6)
        assert not ours.intercept_.any() and ours.intercept_.shape == reference.intercept_.shape


def test_prediction_methods_equal_sklearns_on_string_labels():
    X, y = DATA["iris"]
    labels = np.array(["setosa", "versicolor", "virginica"])[y]
    ours = LogisticRegression(C=0.5, tol=1e-12).fit(X, labels)
    reference = sklearn_fit(X, labels, "l2", 0.5)
    assert list(ours.classes_) == list(reference.classes_)
    np.testing.assert_array_equal(ours.predict(X), reference.predict(X))
    for method in ("decision_function", "predict_proba", "predict_log_proba"):
        np.testing.assert_allclose(getattr(ours, method)(X), getattr(reference, method)(X), rtol=1e-7, atol=1e-9)
    assert ours.score(X, labels) == reference.score(X, labels)
    binary = np.where(y == 2, "yes", "no")
    ours, reference = LogisticRegression(tol=1e-12).fit(X, binary), sklearn_fit(X, binary, "l2", 1.0)
    assert ours.coef_.shape == (1, 4) and ours.intercept_.shape == (1,) and ours.decision_function(X).shape == (150,)
    for method in ("decision_function", "predict_proba", "predict_log_proba"):
        np.testing.assert_allclose(getattr(ours, method)(X), getattr(reference, method)(X), rtol=1e-7, atol=1e-9)
    np.testing.assert_array_equal(ours.predict(X), reference.predict(X))
    assert ours.n_iter_.shape == (1,) and ours.n_iter_[0] >= 1


def test_pandas_input_and_feature_names():
    pd = pytest.importorskip("pandas")
    X, y = DATA["cancer"]
    frame = pd.DataFrame(X, columns=[f"f{j}" for j in range(X.shape[1])])
    model = LogisticRegression().fit(frame, pd.Series(y, name="malignant"))
    assert list(model.feature_names_in_) == list(frame.columns) and model.n_features_in_ == 8
    np.testing.assert_allclose(model.predict_proba(frame), model.predict_proba(X))
    with pytest.raises(ValueError, match="Feature names must be in the same order"):
        model.predict(frame[frame.columns[::-1]])


@pytest.mark.parametrize("settings, y, error, match", [
    (dict(penalty="l3"), None, ValueError, "penalty: expected one of 'l2', 'l1', 'elasticnet', None; got 'l3'"),
    (dict(penalty="elasticnet"), None, ValueError, r"l1_ratio: penalty='elasticnet' needs a number in \[0, 1\]"),
    (dict(penalty="elasticnet", l1_ratio=1.5), None, ValueError, "l1_ratio: penalty='elasticnet' needs"),
    (dict(C=0.0), None, ValueError, "C: expected a number > 0"),
    (dict(C=-1), None, ValueError, "C: expected a number > 0"),
    (dict(tol=0), None, ValueError, "tol: expected a finite number > 0"),
    (dict(max_iter=0), None, ValueError, "max_iter: expected an integer >= 1"),
    ({}, np.zeros(569), ValueError, "needs samples of at least 2 classes.*only one class: 0.0"),
    ({}, np.linspace(0, 1, 569), ValueError, "Unknown label type: continuous"),
])
def test_bad_settings_and_targets_are_refused(settings, y, error, match):
    X, labels = DATA["cancer"]
    with pytest.raises(error, match=match):
        LogisticRegression(**settings).fit(X, labels if y is None else y)


def test_warnings_for_an_unused_l1_ratio_and_too_few_iterations():
    X, y = DATA["cancer"]
    with pytest.warns(UserWarning, match="l1_ratio is only used when penalty='elasticnet'"):
        LogisticRegression(l1_ratio=0.5).fit(X, y)
    with pytest.warns(ConvergenceWarning, match="no convergence in max_iter=1"):
        model = LogisticRegression(max_iter=1).fit(X, y)
    assert not model.converged_ and model.n_iter_[0] == 1


# ----------------------------------------------------------------------------- cross-validation
def test_stratified_folds_equal_sklearns():
    for name in ("cancer", "iris", "separated-3"):
        _, y = DATA[name]
        for folds in (2, 3, 5):
            ours = stratified_kfold(y, folds)
            theirs = list(StratifiedKFold(folds).split(np.zeros((len(y), 1)), y))
            for (train, test), (train_ref, test_ref) in zip(ours, theirs, strict=True):
                np.testing.assert_array_equal(train, train_ref)
                np.testing.assert_array_equal(test, test_ref)
    with pytest.raises(ValueError, match="n_splits=5 cannot be greater than the number of members in each class"):
        stratified_kfold(np.array([0, 0, 1, 1, 2]), 5)


def sklearn_cv(X, y, **settings):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return lm.LogisticRegressionCV(use_legacy_attributes=False, max_iter=100_000, **settings).fit(X, y)


@pytest.mark.parametrize("name", ["cancer", "iris"])
@pytest.mark.parametrize("scoring", [None, "neg_log_loss"])
def test_cv_l2_equals_sklearn(name, scoring):
    X, y = DATA[name]
    ours = LogisticRegressionCV(Cs=6, scoring=scoring, tol=1e-10).fit(X, y)
    reference = sklearn_cv(X, y, Cs=6, l1_ratios=(0.0,), scoring=scoring, solver="newton-cholesky", tol=1e-10)
    np.testing.assert_allclose(ours.Cs_, reference.Cs_, rtol=1e-15)
    assert ours.scores_.shape == reference.scores_.shape and ours.coefs_paths_.shape == reference.coefs_paths_.shape
    np.testing.assert_allclose(ours.scores_, reference.scores_, rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(ours.coefs_paths_, reference.coefs_paths_, rtol=0, atol=1e-6)
    assert (ours.C_, ours.l1_ratio_) == (reference.C_, reference.l1_ratio_) == (ours.C_, 0.0)
    np.testing.assert_allclose(ours.coef_, reference.coef_, rtol=0, atol=1e-6)
    np.testing.assert_allclose(ours.intercept_, reference.intercept_, rtol=0, atol=1e-6)
    assert ours.score(X, y) == pytest.approx(reference.score(X, y), rel=1e-9)
    assert ours.n_iter_.shape == ours.scores_.shape and ours.n_iter_.min() >= 1


@pytest.mark.parametrize("name", ["cancer", "iris"])
@pytest.mark.parametrize("penalty, l1_ratios", [("l1", None), ("elasticnet", [0.2, 0.8])])
def test_cv_l1_and_elastic_net_equal_sklearn(name, penalty, l1_ratios):
    X, y = DATA[name]
    # scored by the log-loss: with strong l1 penalties some rows' top two classes tie (their
    # coefficients are all 0), so accuracy would hinge on rounding
    ours = LogisticRegressionCV(Cs=[0.03, 0.1, 0.3], cv=3, penalty=penalty, l1_ratios=l1_ratios, tol=1e-11,
                                scoring="neg_log_loss").fit(X, y)
    ratios = (1.0,) if penalty == "l1" else l1_ratios
    reference = sklearn_cv(X, y, Cs=[0.03, 0.1, 0.3], cv=3, l1_ratios=ratios, solver="saga", tol=1e-12,
                           scoring="neg_log_loss")
    np.testing.assert_allclose(ours.scores_, reference.scores_, rtol=0, atol=1e-8)
    np.testing.assert_allclose(ours.coefs_paths_, reference.coefs_paths_, rtol=0, atol=1e-6)
    assert (ours.C_, ours.l1_ratio_) == (reference.C_, reference.l1_ratio_)
    np.testing.assert_allclose(ours.l1_ratios_, ratios)
    np.testing.assert_allclose(ours.coef_, reference.coef_, rtol=0, atol=1e-6)


def test_cv_scorers_folds_and_errors():
    X, y = DATA["iris"]
    folds = list(StratifiedKFold(3, shuffle=True, random_state=1).split(X, y))
    calls = []

    def scorer(estimator, X_test, y_test):
        calls.append(X_test.shape[0])
        return -np.mean(np.abs(estimator.predict_proba(X_test)[np.arange(len(y_test)), y_test] - 1))

    model = LogisticRegressionCV(Cs=[0.1, 1.0], cv=folds, scoring=scorer).fit(X, y)
    assert len(calls) == 6 and model.scores_.shape == (3, 1, 2)
    assert model.score(X, y) == pytest.approx(scorer(model, X, y))
    sk_scored = LogisticRegressionCV(Cs=[0.1, 1.0], cv=3, scoring="balanced_accuracy").fit(X, y)
    assert sk_scored.scores_.max() <= 1.0
    for settings, error, match in [
        (dict(penalty=None), ValueError, "penalty: expected one of 'l2', 'l1', 'elasticnet'; got None"),
        (dict(penalty="elasticnet"), ValueError, "l1_ratios: penalty='elasticnet' needs a sequence"),
        (dict(penalty="elasticnet", l1_ratios=[0.5, 2.0]), ValueError, r"l1_ratio: .*needs a number in \[0, 1\]"),
        (dict(Cs=[1.0, -1.0]), ValueError, "Cs: expected an int or values > 0"),
        (dict(Cs=0), ValueError, "Cs: expected a number of values >= 1"),
        (dict(cv=1), ValueError, r"cv: expected a number of folds in \[2, 150\]"),
        (dict(scoring="no such score"), ValueError, "scoring: "),
        (dict(scoring=3), TypeError, "scoring: expected None, a scoring name or a callable"),
    ]:
        with pytest.raises(error, match=match):
            LogisticRegressionCV(**settings).fit(X, y)
    with pytest.warns(UserWarning, match="l1_ratios is only used when penalty='elasticnet'"):
        LogisticRegressionCV(Cs=2, l1_ratios=[0.5]).fit(X, y)
