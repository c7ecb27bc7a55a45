"""chainrule.metrics equals scikit-learn's metrics: seeded random cases (small samples, tied
scores, weights, string labels, absent labels), the edge cases where scikit-learn warns or
raises, every input type, and the errors for bad input."""
from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

import chainrule as cr
from chainrule import metrics
from chainrule.metrics import UndefinedMetricWarning

sk = pytest.importorskip("sklearn.metrics")
calibration = pytest.importorskip("sklearn.calibration")
SEEDS = range(40)


def same(ours, theirs):
    """Equal to 1e-12 (NaN equal to NaN), with the same shape; floats stay floats."""
    if isinstance(theirs, tuple):
        assert len(ours) == len(theirs)
        for a, b in zip(ours, theirs):
            same(a, b)
        return
    if theirs is None:
        assert ours is None
        return
    if np.ndim(theirs) == 0:
        assert np.ndim(ours) == 0 and isinstance(ours, float | np.floating), type(ours)
    else:
        assert np.shape(ours) == np.shape(theirs)
    np.testing.assert_allclose(np.asarray(ours, dtype=float), np.asarray(theirs, dtype=float), rtol=1e-12,
                               atol=1e-14, equal_nan=True)


def quiet(function, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return function(*args, **kwargs)


def both(ours, theirs, *args, **kwargs):
    """Our metric and scikit-learn's on the same arguments, compared (warnings silenced)."""
    same(quiet(ours, *args, **kwargs), quiet(theirs, *args, **kwargs))


def _case(seed):
    """n samples, k classes, ties in the scores, and weights on odd seeds."""
    rng = np.random.default_rng(seed)
    n, k = int(rng.integers(6, 60)), int(rng.integers(3, 6))
    decimals = int(rng.integers(1, 4))  # one decimal: many ties
    y = rng.integers(0, 2, n)
    y[:2] = [0, 1]
    score = np.round(rng.uniform(size=n) * 0.6 + 0.4 * y, decimals)
    weights = rng.uniform(0.1, 2, n) if seed % 2 else None
    if seed % 2 and seed % 3 == 0:
        weights[rng.integers(0, n)] = 0.0
    yk = rng.integers(0, k, n)
    yk[:k] = np.arange(k)
    proba = rng.dirichlet(np.ones(k), n)
    return rng, n, k, y, score, weights, yk, proba


# -------------------------------------------------------------------- labels

@pytest.mark.parametrize("seed", SEEDS)
def test_label_metrics_equal_scikit_learn(seed):
    rng, n, k, y, _, w, yk, _ = _case(seed)
    predicted = rng.integers(0, 2, n)
    predicted_k = np.where(rng.uniform(size=n) < 0.5, yk, rng.integers(0, k + 1, n))  # a label y never has
    names = np.array(["ant", "bee", "cat", "dog", "eel", "fox", "gnu"])
    for a, b in ((y, predicted), (yk, predicted_k), (names[yk], names[predicted_k])):
        both(metrics.accuracy, sk.accuracy_score, a, b, sample_weight=w)
        both(metrics.accuracy, sk.accuracy_score, a, b, normalize=False, sample_weight=w)
        for normalize in (None, "true", "pred", "all"):
            both(metrics.confusion_matrix, sk.confusion_matrix, a, b, normalize=normalize, sample_weight=w)
        labels = list(np.unique(a)[::-1][:3])
        both(metrics.confusion_matrix, sk.confusion_matrix, a, b, labels=labels, sample_weight=w)
    assert metrics.confusion_matrix(yk, predicted_k).dtype == np.int64
    averages = ("binary", "micro", "macro", "weighted", None)
    for a, b, pos_label in ((y, predicted, 1), (y, predicted, 0), (yk, predicted_k, 1)):
        for average in averages[1:] if a is yk else averages:
            for zero_division in ("warn", 0.0, 1.0, np.nan):
                kwargs = dict(average=average, pos_label=pos_label, zero_division=zero_division, sample_weight=w)
                both(metrics.precision, sk.precision_score, a, b, **kwargs)
                both(metrics.recall, sk.recall_score, a, b, **kwargs)
                both(metrics.f1, sk.f1_score, a, b, **kwargs)
                both(metrics.fbeta, sk.fbeta_score, a, b, beta=0.5, **kwargs)
            both(metrics.precision_recall_fscore_support, sk.precision_recall_fscore_support, a, b,
                 beta=2.0, average=average, pos_label=pos_label, sample_weight=w)
    for labels in ([0, 2], [k, 1, 0], [k + 3]):
        both(metrics.f1, sk.f1_score, yk, predicted_k, labels=labels, average="macro")
        both(metrics.precision_recall_fscore_support, sk.precision_recall_fscore_support, yk, predicted_k,
             labels=labels)


def test_binary_metrics_with_string_labels_and_pos_label():
    y = np.array(["no", "yes", "yes", "no", "yes", "no"])
    predicted = np.array(["no", "yes", "no", "no", "yes", "yes"])
    for function, theirs in ((metrics.precision, sk.precision_score), (metrics.recall, sk.recall_score),
                             (metrics.f1, sk.f1_score)):
        both(function, theirs, y, predicted, pos_label="yes")
        with pytest.raises(ValueError, match=r"pos_label=1 is not a valid label.*'no', 'yes'"):
            function(y, predicted)


# -------------------------------------------------------------------- probabilities

@pytest.mark.parametrize("seed", SEEDS)
def test_probability_metrics_equal_scikit_learn(seed):
    rng, n, k, y, _, w, yk, proba = _case(seed)
    p = rng.uniform(size=n)
    both(metrics.log_loss, sk.log_loss, y, p, sample_weight=w)
    both(metrics.log_loss, sk.log_loss, y, p, normalize=False, sample_weight=w)
    both(metrics.log_loss, sk.log_loss, yk, proba, sample_weight=w)
    both(metrics.log_loss, sk.log_loss, yk[yk < 2], proba[yk < 2], labels=np.arange(k))  # absent classes
    both(metrics.log_loss, sk.log_loss, yk, proba.astype(np.float32))  # ε of float32
    extreme = np.where(rng.uniform(size=n) < 0.3, 0.0, 1.0)  # log 0 clipped
    both(metrics.log_loss, sk.log_loss, y, extreme)
    both(metrics.brier_score, sk.brier_score_loss, y, p, sample_weight=w)
    both(metrics.brier_score, sk.brier_score_loss, y, p, pos_label=0)
    both(metrics.brier_score, sk.brier_score_loss, y + 3, p)  # labels {3, 4}: the greater is positive
    both(metrics.brier_score, sk.brier_score_loss, yk, proba, sample_weight=w)
    both(metrics.brier_score, sk.brier_score_loss, yk, proba, scale_by_half=True)
    both(metrics.brier_score, sk.brier_score_loss, y, p, scale_by_half=False)
    for strategy in ("uniform", "quantile"):
        n_bins = int(rng.integers(1, 12))
        both(metrics.calibration_curve, calibration.calibration_curve, y, p, n_bins=n_bins, strategy=strategy)
        both(metrics.calibration_curve, calibration.calibration_curve, y, np.round(p, 1), n_bins=n_bins,
             strategy=strategy, pos_label=0)


# -------------------------------------------------------------------- rankings

@pytest.mark.parametrize("seed", SEEDS)
def test_ranking_metrics_equal_scikit_learn(seed):
    rng, n, k, y, score, w, yk, proba = _case(seed)
    for drop in (True, False):
        both(metrics.roc_curve, sk.roc_curve, y, score, sample_weight=w, drop_intermediate=drop)
        both(metrics.precision_recall_curve, sk.precision_recall_curve, y, score, sample_weight=w,
             drop_intermediate=drop)
    both(metrics.roc_curve, sk.roc_curve, y, score, pos_label=0)
    both(metrics.roc_curve, sk.roc_curve, yk, proba[:, 1], pos_label=1)  # one class against the rest
    both(metrics.roc_auc, sk.roc_auc_score, y, score, sample_weight=w)
    both(metrics.roc_auc, sk.roc_auc_score, y, score, max_fpr=float(rng.uniform(0.05, 1)))
    both(metrics.average_precision, sk.average_precision_score, y, score, sample_weight=w)
    both(metrics.average_precision, sk.average_precision_score, y, score, pos_label=0)
    for average in ("macro", "weighted", "micro", None):
        both(metrics.roc_auc, sk.roc_auc_score, yk, proba, multi_class="ovr", average=average, sample_weight=w)
        both(metrics.average_precision, sk.average_precision_score, yk, proba, average=average, sample_weight=w)
    for average in ("macro", "weighted"):
        both(metrics.roc_auc, sk.roc_auc_score, yk, proba, multi_class="ovo", average=average)
    absent = yk[yk != 1]  # labels name a class y_true never has: NaN for it, as scikit-learn
    both(metrics.roc_auc, sk.roc_auc_score, absent, proba[yk != 1], multi_class="ovr", labels=np.arange(k),
         average=None)
    curve = (rng.uniform(size=n).cumsum(), rng.uniform(size=n))
    both(metrics.auc, sk.auc, *curve)
    both(metrics.auc, sk.auc, curve[0][::-1], curve[1])


def test_roc_auc_of_ties_and_perfect_rankings():
    y = np.array([0, 0, 1, 1])
    assert metrics.roc_auc(y, [0.5, 0.5, 0.5, 0.5]) == 0.5  # all tied: the diagonal
    assert metrics.roc_auc(y, [0.1, 0.2, 0.8, 0.9]) == 1.0
    assert metrics.roc_auc(y, [0.9, 0.8, 0.2, 0.1]) == 0.0
    fpr, tpr, thresholds = metrics.roc_curve(y, [0.1, 0.4, 0.35, 0.8])
    np.testing.assert_array_equal(thresholds, [np.inf, 0.8, 0.4, 0.35, 0.1])
    np.testing.assert_array_equal(fpr, [0, 0, 0.5, 0.5, 1])
    np.testing.assert_array_equal(tpr, [0, 0.5, 0.5, 1, 1])


# -------------------------------------------------------------------- regression

@pytest.mark.parametrize("seed", SEEDS)
def test_regression_metrics_equal_scikit_learn(seed):
    rng = np.random.default_rng(seed)
    n, outputs = int(rng.integers(2, 50)), int(rng.integers(1, 4))
    y, predicted = rng.normal(size=(n, outputs)), rng.normal(size=(n, outputs))
    w = rng.uniform(0.1, 2, n) if seed % 2 else None
    if seed % 5 == 0:
        y[:, 0] = 1.5  # a constant output: force_finite decides
        predicted[: n // 2, 0] = 1.5
    choices = ["raw_values", "uniform_average"] + ([rng.uniform(size=outputs)] if outputs > 1 else [])
    for multioutput in choices:
        kwargs = dict(sample_weight=w, multioutput=multioutput)
        both(metrics.mse, sk.mean_squared_error, y, predicted, **kwargs)
        both(metrics.rmse, sk.root_mean_squared_error, y, predicted, **kwargs)
        both(metrics.mae, sk.mean_absolute_error, y, predicted, **kwargs)
        both(metrics.mape, sk.mean_absolute_percentage_error, y, predicted, **kwargs)
        for force_finite in (True, False):
            both(metrics.r2, sk.r2_score, y, predicted, force_finite=force_finite, **kwargs)
    both(metrics.r2, sk.r2_score, y, predicted, multioutput="variance_weighted")
    both(metrics.r2, sk.r2_score, y[:, 0], predicted[:, 0])
    zero = y[:, 0].copy()
    zero[0] = 0.0  # |y| floored at ε in mape
    both(metrics.mape, sk.mean_absolute_percentage_error, zero, predicted[:, 0])


# -------------------------------------------------------------------- edge cases

def _warned(function, *args, **kwargs):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            value = function(*args, **kwargs)
        except ValueError as error:
            return "raises", type(error)
    return value, sorted({w.category.__name__ for w in caught})


EDGES = [
    ("roc_auc one class", "roc_auc", "roc_auc_score", ([1, 1, 1], [0.2, 0.5, 0.9]), {}),
    ("roc_curve no negatives", "roc_curve", "roc_curve", ([1, 1, 1], [0.2, 0.5, 0.9]), {}),
    ("roc_curve no positives", "roc_curve", "roc_curve", ([0, 0, 0], [0.2, 0.5, 0.9]), {}),
    ("pr curve no positives", "precision_recall_curve", "precision_recall_curve", ([0, 0], [0.2, 0.5]), {}),
    ("average_precision no positives", "average_precision", "average_precision_score", ([0, 0], [0.2, 0.5]), {}),
    ("log_loss one class", "log_loss", "log_loss", ([1, 1], [0.7, 0.9]), {}),
    ("log_loss one class, labels", "log_loss", "log_loss", ([1, 1], [0.7, 0.9]), {"labels": [0, 1]}),
    ("brier one class", "brier_score", "brier_score_loss", ([1, 1], [0.7, 0.9]), {}),
    ("precision nothing predicted", "precision", "precision_score", ([0, 1], [0, 0]), {}),
    ("recall no positives", "recall", "recall_score", ([0, 0], [0, 1]), {}),
    ("f1 nothing at all", "f1", "f1_score", ([0, 0], [0, 0]), {}),
    ("f1 nothing at all, zero_division=1", "f1", "f1_score", ([0, 0], [0, 0]), {"zero_division": 1.0}),
    ("macro precision, a label never predicted", "precision", "precision_score", ([0, 1, 2], [0, 1, 1]),
     {"average": "macro"}),
    ("pos_label ignored", "f1", "f1_score", ([0, 1, 2], [0, 1, 1]), {"average": "macro", "pos_label": 2}),
    ("confusion of one label", "confusion_matrix", "confusion_matrix", ([1, 1], [1, 1]), {}),
    ("r2 of one sample", "r2", "r2_score", ([1.0], [2.0]), {}),
    ("r2 constant, perfect", "r2", "r2_score", ([1.0, 1.0], [1.0, 1.0]), {}),
    ("r2 constant, imperfect", "r2", "r2_score", ([1.0, 1.0], [1.0, 2.0]), {}),
    ("calibration of one class", "calibration_curve", None, ([1, 1, 1], [0.2, 0.5, 0.9]), {}),
]


@pytest.mark.parametrize("name, ours, theirs, args, kwargs", EDGES, ids=[e[0] for e in EDGES])
def test_edge_cases_warn_or_raise_as_scikit_learn(name, ours, theirs, args, kwargs):
    mine = _warned(getattr(metrics, ours), *args, **kwargs)
    reference = _warned(getattr(calibration if theirs is None else sk, theirs or ours), *args, **kwargs)
    if reference[0] == "raises":
        assert mine == reference
        return
    same(mine[0], reference[0])
    rename = {"UndefinedMetricWarning": "UndefinedMetricWarning", "UserWarning": "UserWarning"}
    assert [rename.get(c, c) for c in mine[1]] == reference[1], (mine[1], reference[1])


def test_a_single_class_gives_a_clear_message():
    with pytest.warns(UndefinedMetricWarning, match="only one class is present in y_true"):
        assert np.isnan(metrics.roc_auc([0, 0, 0], [0.1, 0.2, 0.3]))
    with pytest.raises(ValueError, match=r"log_loss: y_true contains only one label \(1\).*labels argument"):
        metrics.log_loss([1, 1], [0.7, 0.9])
    assert metrics.log_loss([1, 1], [0.7, 0.9], labels=[0, 1]) == pytest.approx(-np.log([0.7, 0.9]).mean())


# -------------------------------------------------------------------- inputs

def test_tensors_pandas_lists_and_column_vectors_give_the_same_values():
    rng = np.random.default_rng(3)
    y, score = rng.integers(0, 2, 30), rng.uniform(size=30)
    y[:2] = [0, 1]
    reference = metrics.roc_auc(y, score)
    for a, b in ((cr.tensor(y), cr.tensor(score)), (pd.Series(y), pd.Series(score)), (list(y), list(score)),
                 (y[:, None], score[:, None]), (cr.tensor(y.astype(np.float32)), cr.tensor(score[:, None]))):
        assert metrics.roc_auc(a, b) == reference
    assert metrics.accuracy(cr.tensor(y), pd.Series(y)) == 1.0
    assert metrics.r2(pd.DataFrame({"a": score}), cr.tensor(score, requires_grad=True)) == 1.0
    assert metrics.accuracy(pd.Series(["a", "b"], dtype="category"), ["a", "c"]) == 0.5


BAD = [
    (metrics.accuracy, ([0, 1], [0.2, 0.7]), {}, ValueError, r"accuracy: y_pred holds continuous values .*0\.2"),
    (metrics.accuracy, ([0, 1, 1], [0, 1]), {}, ValueError, "accuracy: inconsistent numbers of samples: y_true "
                                                           "has 3, y_pred has 2"),
    (metrics.accuracy, ([], []), {}, ValueError, "accuracy: empty input"),
    (metrics.accuracy, ([0, 1], ["a", "b"]), {}, ValueError, "accuracy: y_true, y_pred mix string and number"),
    (metrics.accuracy, ([0.0, np.nan], [0, 1]), {}, ValueError, "accuracy: y_true: contains NaN"),
    (metrics.accuracy, (pd.Series([1, None], dtype="Int64"), [0, 1]), {}, ValueError, "y_true: contains (NaN|missing)"),
    (metrics.accuracy, (np.zeros((3, 2)), np.zeros((3, 2))), {}, ValueError,
     r"accuracy: y_true: expected a 1-D array of class labels; got an array of shape \(3, 2\)"),
    (metrics.accuracy, ([0, 1], [0, 1]), {"sample_weight": [1.0]}, ValueError,
     "accuracy: sample_weight has 1 values for 2 samples"),
    (metrics.precision, ([0, 1, 2], [0, 1, 2]), {}, ValueError, "precision.*multiclass but average='binary'"),
    (metrics.precision, ([0, 1], [0, 1]), {"average": "samples"}, ValueError, "average: expected one of"),
    (metrics.precision, ([0, 1], [0, 1]), {"zero_division": 2}, ValueError, "zero_division: expected"),
    (metrics.fbeta, ([0, 1], [0, 1]), {"beta": -1}, ValueError, "beta: expected a number >= 0"),
    (metrics.confusion_matrix, ([0, 1], [0, 1]), {"labels": [5]}, ValueError, "at least one label"),
    (metrics.confusion_matrix, ([0, 1], [0, 1]), {"normalize": "rows"}, ValueError, "normalize: expected one"),
    (metrics.log_loss, ([0, 1], [0.2, 1.5]), {}, ValueError, "log_loss: y_proba contains values greater than 1"),
    (metrics.log_loss, ([0, 1, 2], [[0.5, 0.5]] * 3), {}, ValueError, "different numbers of classes: 3 vs 2"),
    (metrics.log_loss, ([0, 1], [0.2, np.inf]), {}, ValueError, "log_loss: y_proba: contains NaN or infinity"),
    (metrics.log_loss, ([0, 3], [0.2, 0.4]), {"labels": [0, 1]}, ValueError, r"values \{3\} not belonging"),
    (metrics.brier_score, (["a", "b"], [0.2, 0.4]), {}, ValueError, "brier_score: y_true takes values in"),
    (metrics.brier_score, ([0, 1, 2], [0.2, 0.4, 0.1]), {}, ValueError, "y_true is multiclass but y_proba is 1-D"),
    (metrics.calibration_curve, ([0, 1], [0.2, 0.4]), {"n_bins": 0}, ValueError, "n_bins: expected an integer"),
    (metrics.calibration_curve, ([0, 1], [0.2, 0.4]), {"strategy": "kmeans"}, ValueError, "strategy: expected"),
    (metrics.calibration_curve, ([0, 1, 2], [0.2, 0.4, 0.1]), {"pos_label": 2}, ValueError, "only binary"),
    (metrics.roc_auc, ([0, 1, 2], [[0.2, 0.3, 0.5]] * 3), {}, ValueError, "multi_class='ovr'"),
    (metrics.roc_auc, ([0, 1, 2], [[0.2, 0.3, 0.6]] * 3), {"multi_class": "ovr"}, ValueError, "sum to 1"),
    (metrics.roc_auc, ([0, 1, 2], [0.2, 0.3, 0.6]), {"multi_class": "ovr"}, ValueError, "must be n x K"),
    (metrics.roc_auc, ([0, 1], [[0.2, 0.8]] * 2), {}, ValueError, r"y_score must be 1-D .*predict_proba\(X\)\[:, 1\]"),
    (metrics.roc_auc, ([0, 1], [0.2, 0.8]), {"max_fpr": 0}, ValueError, r"max_fpr: expected a number in \(0, 1\]"),
    (metrics.roc_auc, ([0, 1, 2], [[0.2, 0.3, 0.5]] * 3), {"multi_class": "ovo", "sample_weight": [1, 1, 1]},
     ValueError, "sample_weight is not supported for multi_class='ovo'"),
    (metrics.roc_auc, ([0, 1], ["a", "b"]), {}, TypeError, "roc_auc: y_score: expected numbers"),
    (metrics.roc_auc, (None, [0.1]), {}, TypeError, "roc_auc: y_true: expected an array; got None"),
    (metrics.roc_curve, ([0, 1, 2], [0.2, 0.3, 0.5]), {}, ValueError, "roc_curve: y_true is multiclass"),
    (metrics.roc_curve, (["a", "b"], [0.2, 0.3]), {}, ValueError, "pos_label is not specified"),
    (metrics.average_precision, ([0, 1, 2], [[0.2, 0.8]] * 3), {}, ValueError, r"shape \(n_samples, n_classes\)"),
    (metrics.average_precision, ([2, 3], [0.2, 0.8]), {}, ValueError, "pos_label=1 is not a valid label"),
    (metrics.auc, ([0, 1, 0.5], [0, 1, 1]), {}, ValueError, "neither increasing nor decreasing"),
    (metrics.auc, ([0], [1]), {}, ValueError, "at least 2 points"),
    (metrics.r2, ([1.0, 2.0], [[1.0, 2.0], [1.0, 2.0]]), {}, ValueError, r"different numbers of outputs \(1 != 2\)"),
    (metrics.r2, ([1.0, 2.0], [1.0, 2.0]), {"multioutput": "median"}, ValueError, "multioutput: expected one of"),
    (metrics.rmse, ([1.0, 2.0], [1.0, 2.0]), {"multioutput": [0.5, 0.5]}, ValueError, "custom weights"),
    (metrics.mae, ([1.0, np.nan], [1.0, 2.0]), {}, ValueError, "mae: y_true: contains NaN or infinity"),
    (metrics.mape, ([[[1.0]]], [[[1.0]]]), {}, ValueError, "mape: y_true: expected a 1-D or 2-D array"),
]


@pytest.mark.parametrize("function, args, kwargs, error, message", BAD,
                         ids=[f"{b[0].__name__}-{i}" for i, b in enumerate(BAD)])
def test_bad_input_gets_a_clear_error(function, args, kwargs, error, message):
    with pytest.raises(error, match=message):
        function(*args, **kwargs)
