"""LogisticRegression and LogisticRegressionCV with ``sample_weight``, ``class_weight`` and
``warm_start``: equal to scikit-learn's (newton-cholesky for l2 and no penalty, saga for l1 and
the elastic net, tol=1e-12), binary and multinomial; integer weights equal repeating the rows
(an identity checked without scikit-learn); the errors for bad weights.
"""
from __future__ import annotations

import warnings

import numpy as np
import pytest

from chainrule.stats import LogisticRegression, LogisticRegressionCV

sklearn = pytest.importorskip("sklearn")
from sklearn import linear_model as lm  # noqa: E402 - after the importorskip above


def _data(classes):
    rng = np.random.default_rng(7 + classes)
    X = rng.standard_normal((90, 3))
    eta = X @ np.array([1.0, -1.0, 0.5]) + rng.standard_normal(90)
    y = np.digitize(eta, [-0.7, 0.6][:classes - 1]) if classes > 2 else (eta > 0.3).astype(int)
    weights = rng.integers(0, 4, size=90).astype(float)
    return X, y, weights


def sklearn_fit(X, y, penalty, C, l1_ratio, class_weight, sample_weight):
    rho = {"l2": 0.0, "l1": 1.0, None: 0.0}.get(penalty, l1_ratio)
    solver = "newton-cholesky" if rho == 0.0 else "saga"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return lm.LogisticRegression(C=np.inf if penalty is None else C, l1_ratio=rho, solver=solver, tol=1e-12,
                                     max_iter=100_000, class_weight=class_weight).fit(X, y, sample_weight)


CASES = [(classes, penalty, l1_ratio, class_weight, weighted)
         for classes in (2, 3)
         for penalty, l1_ratio in (("l2", None), (None, None), ("l1", None), ("elasticnet", 0.4))
         for class_weight in (None, "balanced", {0: 2.0, 1: 0.5})
         for weighted in (False, True)
         if class_weight is not None or weighted]


@pytest.mark.parametrize("classes, penalty, l1_ratio, class_weight, weighted", CASES)
def test_weighted_fit_equals_sklearns(classes, penalty, l1_ratio, class_weight, weighted):
    X, y, weights = _data(classes)
    weights = weights if weighted else None
    ours = LogisticRegression(penalty=penalty, C=0.5, l1_ratio=l1_ratio, class_weight=class_weight,
                              tol=1e-12).fit(X, y, sample_weight=weights)
    reference = sklearn_fit(X, y, penalty, 0.5, l1_ratio, class_weight, weights)
    assert ours.converged_
    np.testing.assert_allclose(ours.coef_, reference.coef_, rtol=0, atol=1e-6)
    np.testing.assert_allclose(ours.intercept_, reference.intercept_, rtol=0, atol=1e-6)


@pytest.mark.parametrize("classes", [2, 3])
@pytest.mark.parametrize("penalty, l1_ratio", [("l2", None), (None, None), ("l1", None), ("elasticnet", 0.4)])
def test_integer_weights_equal_repeated_rows(classes, penalty, l1_ratio):
    X, y, weights = _data(classes)
    repeats = weights.astype(int)
    settings = dict(penalty=penalty, C=0.5, l1_ratio=l1_ratio, tol=1e-12, class_weight={1: 1.5})
    weighted = LogisticRegression(**settings).fit(X, y, sample_weight=weights)
    repeated = LogisticRegression(**settings).fit(np.repeat(X, repeats, axis=0), np.repeat(y, repeats))
    np.testing.assert_allclose(weighted.coef_, repeated.coef_, rtol=0, atol=1e-9)
    np.testing.assert_allclose(weighted.intercept_, repeated.intercept_, rtol=0, atol=1e-9)


def test_class_weight_equals_the_sample_weights_it_implies():
    X, y, _ = _data(3)
    by_class = LogisticRegression(class_weight={0: 3.0, 2: 0.25}, tol=1e-12).fit(X, y)
    by_row = LogisticRegression(tol=1e-12).fit(X, y, sample_weight=np.array([3.0, 1.0, 0.25])[y])
    np.testing.assert_allclose(by_class.coef_, by_row.coef_, rtol=0, atol=1e-12)
    counts = np.bincount(y)
    balanced = LogisticRegression(class_weight="balanced", tol=1e-12).fit(X, y)
    implied = LogisticRegression(tol=1e-12).fit(X, y, sample_weight=(y.size / (3 * counts))[y])
    np.testing.assert_allclose(balanced.coef_, implied.coef_, rtol=0, atol=1e-12)


def test_string_labels_and_weighted_score():
    X, y, weights = _data(2)
    labels = np.array(["no", "yes"])[y]
    ours = LogisticRegression(class_weight={"yes": 2.0}, tol=1e-12).fit(X, labels, sample_weight=weights)
    reference = sklearn_fit(X, labels, "l2", 1.0, None, {"yes": 2.0}, weights)
    np.testing.assert_allclose(ours.coef_, reference.coef_, rtol=0, atol=1e-6)
    assert ours.score(X, labels, sample_weight=weights) == pytest.approx(
        reference.score(X, labels, sample_weight=weights), rel=1e-12)


@pytest.mark.parametrize("classes", [2, 3])
def test_warm_start_reuses_the_fit(classes):
    X, y, _ = _data(classes)
    model = LogisticRegression(C=0.3, tol=1e-12, warm_start=True).fit(X, y)
    first = model.coef_.copy()
    model.set_params(max_iter=1).fit(X, y)                     # already optimal: no step needed
    assert model.n_iter_[0] == 0
    np.testing.assert_array_equal(model.coef_, first)
    cold = LogisticRegression(C=3.0, tol=1e-12).fit(X, y)
    warm = model.set_params(C=3.0, max_iter=100).fit(X, y)
    np.testing.assert_allclose(warm.coef_, cold.coef_, rtol=0, atol=1e-9)
    assert warm.n_iter_[0] <= cold.n_iter_[0]
    with pytest.raises(ValueError, match="warm_start: the fitted coef_ has shape"):
        model.fit(X[:, :2], y)


BAD = [
    (dict(sample_weight=-np.ones(90)), "sample_weight: expected non-negative"),
    (dict(sample_weight=np.r_[np.nan, np.ones(89)]), "sample_weight: expected finite"),
    (dict(sample_weight=np.r_[np.inf, np.ones(89)]), "sample_weight: expected finite"),
    (dict(sample_weight=np.ones(89)), r"sample_weight: expected shape \(90,\)"),
    (dict(sample_weight=np.zeros(90)), "sample_weight: the weights sum to 0"),
    (dict(class_weight={5: 1.0}), r"class_weight: the labels \[5\] are not classes of y"),
    (dict(class_weight={0: -1.0}), "class_weight: the weight of class 0 must be a finite number >= 0"),
    (dict(class_weight="equal"), "class_weight: expected None, 'balanced' or a dict"),
]


@pytest.mark.parametrize("arguments, match", BAD)
@pytest.mark.parametrize("estimator", [LogisticRegression, LogisticRegressionCV])
def test_bad_weights_are_refused(estimator, arguments, match):
    X, y, _ = _data(2)
    settings = {"class_weight": arguments["class_weight"]} if "class_weight" in arguments else {}
    with pytest.raises(ValueError, match=match):
        estimator(**settings).fit(X, y, sample_weight=arguments.get("sample_weight"))


def sklearn_cv(X, y, sample_weight, **settings):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return lm.LogisticRegressionCV(use_legacy_attributes=False, max_iter=100_000, **settings).fit(
            X, y, sample_weight=sample_weight)


@pytest.mark.parametrize("classes", [2, 3])
@pytest.mark.parametrize("scoring", [None, "neg_log_loss"])
@pytest.mark.parametrize("class_weight", [None, "balanced"])
def test_cv_weighted_folds_and_scores_equal_sklearns(classes, scoring, class_weight):
    X, y, weights = _data(classes)
    weights = weights + 0.5       # every fold keeps weight in each class
    ours = LogisticRegressionCV(Cs=4, cv=3, scoring=scoring, tol=1e-11, class_weight=class_weight).fit(
        X, y, sample_weight=weights)
    reference = sklearn_cv(X, y, weights, Cs=4, cv=3, l1_ratios=(0.0,), scoring=scoring,
                           solver="newton-cholesky", tol=1e-12, class_weight=class_weight)
    np.testing.assert_allclose(ours.scores_, reference.scores_, rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(ours.coefs_paths_, reference.coefs_paths_, rtol=0, atol=1e-6)
    assert ours.C_ == reference.C_
    np.testing.assert_allclose(ours.coef_, reference.coef_, rtol=0, atol=1e-6)
    np.testing.assert_allclose(ours.intercept_, reference.intercept_, rtol=0, atol=1e-6)


def test_cv_l1_weighted_equals_sklearns():
    X, y, weights = _data(3)
    weights = weights + 0.5
    ours = LogisticRegressionCV(Cs=[0.3, 1.0, 3.0], cv=3, penalty="l1", scoring="neg_log_loss", tol=1e-11,
                                class_weight={2: 2.0}).fit(X, y, sample_weight=weights)
    reference = sklearn_cv(X, y, weights, Cs=[0.3, 1.0, 3.0], cv=3, l1_ratios=(1.0,), solver="saga", tol=1e-12,
                           scoring="neg_log_loss", class_weight={2: 2.0})
    converged = reference.n_iter_ < 100_000        # saga stalls on some weighted folds: compare where it converged
    assert converged.sum() >= 7
    np.testing.assert_allclose(ours.scores_[converged], reference.scores_[converged], rtol=0, atol=1e-8)
    np.testing.assert_allclose(ours.coefs_paths_[converged], reference.coefs_paths_[converged], rtol=0, atol=1e-6)
    np.testing.assert_allclose(ours.coef_, reference.coef_, rtol=0, atol=1e-6)
