r"""Metrics of scores that rank the samples: ROC and precision-recall curves and the areas under
them, scikit-learn's definitions under shorter names.

Sort the samples by decreasing score; at each distinct score s (a threshold: "positive" when
score ≥ s) count the (weighted) true positives TP(s) and false positives FP(s). Then

    roc_curve               fpr = FP/FP_total, tpr = TP/TP_total, thresholds from +inf (the point (0, 0))
                            down; drop_intermediate=True leaves out the points on a straight
                            segment (where neither FP nor TP turns: their second differences are 0)
    roc_auc                 the trapezoidal area under (fpr, tpr) (max_fpr: McClish's standardized
                            partial area); for K classes, one-vs-rest (each class against the others,
                            averaged "macro", "weighted" by prevalence, "micro" over the pooled
                            decisions, or None) or one-vs-one (Hand & Till 2001)
    precision_recall_curve  precision = TP/(TP + FP), recall = TP/TP_total, thresholds increasing,
                            with the final point (recall 0, precision 1)
    average_precision       AP = Σ_n (R_n − R_{n−1}) P_n, the step-function area (no interpolation)

Ties share a threshold, so every tied group enters the curves as one step (a diagonal segment
of the ROC curve). A single class in ``y_true`` makes the ROC area undefined: NaN with an
UndefinedMetricWarning, as in scikit-learn.

References: Fawcett (2006), An introduction to ROC analysis, Pattern Recognition Letters 27;
McClish (1989), Medical Decision Making 9(3); Hand & Till (2001), Machine Learning 45;
scikit-learn's ``sklearn.metrics`` (version 1.9), whose arguments and edge cases these follow.
"""
from __future__ import annotations

import itertools
import warnings

from ..engine import backend
from .checks import (
    UndefinedMetricWarning,
    as_labels,
    as_scores,
    as_weights,
    check_choice,
    check_lengths,
    positive_label,
    target_type,
)

np = backend.host
_trapezoid = getattr(np, "trapezoid", None) or np.trapz  # NumPy < 2 names it trapz

__all__ = ["auc", "roc_curve", "roc_auc", "precision_recall_curve", "average_precision", "counts_at_thresholds"]


def auc(x, y) -> float:
    """The trapezoidal area under the points (x, y), x increasing or decreasing; scikit-learn's
    ``auc``."""
    x, y = as_scores(x, "x", "auc", dtype=np.float64), as_scores(y, "y", "auc", dtype=np.float64)
    if x.shape[0] != y.shape[0]:
        raise ValueError(f"auc: x has {x.shape[0]} points and y {y.shape[0]}")
    if x.shape[0] < 2:
        raise ValueError(f"auc: at least 2 points are needed to compute an area; got {x.shape[0]}")
    return _area(x, y)


def _area(x, y) -> float:
    dx = np.diff(x)
    direction = 1
    if np.any(dx < 0):
        if not np.all(dx <= 0):
            raise ValueError("auc: x is neither increasing nor decreasing")
        direction = -1
    return float(direction * _trapezoid(y, x))


def _binary_inputs(y_true, y_score, pos_label, sample_weight, metric: str):
    """(positive 0/1 float64, scores, weights) checked for a binary curve."""
    y_true = as_labels(y_true, "y_true", metric)
    y_score = as_scores(y_score, "y_score", metric)
    n = check_lengths(metric, y_true=y_true, y_score=y_score)
    weights = as_weights(sample_weight, n, metric)
    kind = target_type(y_true)
    if not (kind == "binary" or (kind == "multiclass" and pos_label is not None)):
        raise ValueError(f"{metric}: y_true is {kind}; expected binary labels (or pass pos_label for one class "
                         f"against the others)")
    pos_label = positive_label(pos_label, y_true, metric)
    return (y_true == pos_label).astype(np.float64), y_score, weights


def counts_at_thresholds(positive, score, weights=None):
    """(fps, tps, thresholds): the (weighted) false and true positives when every sample with a
    score ≥ threshold is called positive, one entry per distinct score in decreasing order
    (scikit-learn's ``confusion_matrix_at_thresholds``, its fns and tns left out)."""
    if weights is not None:
        keep = weights != 0
        positive, score, weights = positive[keep], score[keep], weights[keep]
    order = np.argsort(score, kind="stable")[::-1]
    score, positive = score[order], positive[order]
    weights = None if weights is None else weights[order]
    last = np.r_[np.flatnonzero(np.diff(score)), positive.size - 1]
    weight = 1.0 if weights is None else weights
    tps = np.cumsum(positive * weight, dtype=np.float64)[last]
    if weights is None:
        fps = 1 + last.astype(np.float64) - tps
    else:
        fps = np.cumsum((1 - positive) * weight, dtype=np.float64)[last]
    return fps, tps, score[last]


def roc_curve(y_true, y_score, *, pos_label=None, sample_weight=None, drop_intermediate=True):
    """(fpr, tpr, thresholds) of the receiver operating characteristic; scikit-learn's
    ``roc_curve``: thresholds[0] is +inf (no sample called positive)."""
    metric = "roc_curve"
    positive, score, weights = _binary_inputs(y_true, y_score, pos_label, sample_weight, metric)
    fps, tps, thresholds = counts_at_thresholds(positive, score, weights)
    if drop_intermediate and fps.shape[0] > 2:
        keep = np.r_[True, np.logical_or(np.diff(fps, 2), np.diff(tps, 2)), True]
        fps, tps, thresholds = fps[keep], tps[keep], thresholds[keep]
    tps, fps = np.r_[0.0, tps], np.r_[0.0, fps]
    thresholds = np.r_[np.inf, thresholds.astype(np.float64)]
    if fps[-1] <= 0:
        warnings.warn("roc_curve: no negative samples in y_true, the false positive rate is undefined (NaN)",
                      UndefinedMetricWarning, stacklevel=2)
        fpr = np.full(fps.shape, np.nan)
    else:
        fpr = fps / fps[-1]
    if tps[-1] <= 0:
        warnings.warn("roc_curve: no positive samples in y_true, the true positive rate is undefined (NaN)",
                      UndefinedMetricWarning, stacklevel=2)
        tpr = np.full(tps.shape, np.nan)
    else:
        tpr = tps / tps[-1]
    return fpr, tpr, thresholds


def _binary_roc_auc(positive, score, weights, max_fpr=None) -> float:
    if np.unique(positive).size != 2:
        warnings.warn("roc_auc: only one class is present in y_true; the ROC AUC is not defined in that case (NaN)",
                      UndefinedMetricWarning, stacklevel=4)
        return float("nan")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UndefinedMetricWarning)
        fpr, tpr, _ = roc_curve(positive, score, pos_label=1, sample_weight=weights)
    if max_fpr is None or max_fpr == 1:
        return _area(fpr, tpr)
    stop = np.searchsorted(fpr, max_fpr, "right")
    tpr = np.append(tpr[:stop], np.interp(max_fpr, [fpr[stop - 1], fpr[stop]], [tpr[stop - 1], tpr[stop]]))
    fpr = np.append(fpr[:stop], max_fpr)
    partial = _area(fpr, tpr)
    min_area, max_area = 0.5 * max_fpr ** 2, max_fpr
    return 0.5 * (1 + (partial - min_area) / (max_area - min_area))  # McClish's standardization


def _class_average(binary_metric, onehot, scores, average, weights):
    """scikit-learn's ``_average_binary_score`` for a one-hot (one-vs-rest) target."""
    if average == "micro":
        repeated = None if weights is None else np.repeat(weights, onehot.shape[1])
        return binary_metric(onehot.ravel(), scores.ravel(), repeated)
    per_class = np.array([binary_metric(onehot[:, k], scores[:, k], weights) for k in range(onehot.shape[1])])
    if average is None:
        return per_class
    share = None
    if average == "weighted":
        share = onehot.sum(axis=0) if weights is None else (onehot * weights[:, None]).sum(axis=0)
        if np.isclose(share.sum(), 0):
            return 0.0
        per_class[share == 0] = 0
    return float(np.average(per_class, weights=share))


def _multiclass_classes(y_true, scores, labels, metric: str):
    if labels is None:
        classes = np.unique(y_true)
        if classes.size != scores.shape[1]:
            raise ValueError(f"{metric}: the number of classes in y_true ({classes.size}) is not the number of "
                             f"columns of y_score ({scores.shape[1]}); pass labels")
        return classes
    classes = as_labels(labels, "labels", metric)
    if np.unique(classes).size != classes.size:
        raise ValueError(f"{metric}: labels must be unique")
    if np.any(np.unique(classes) != classes):
        raise ValueError(f"{metric}: labels must be ordered (sorted)")
    if classes.size != scores.shape[1]:
        raise ValueError(f"{metric}: the number of labels ({classes.size}) is not the number of columns of "
                         f"y_score ({scores.shape[1]})")
    if np.setdiff1d(y_true, classes).size:
        raise ValueError(f"{metric}: y_true contains labels not in labels")
    return classes


def _one_column(scores, metric: str):
    if scores.ndim == 2:
        if scores.shape[1] != 1:
            raise ValueError(f"{metric}: y_true is binary, so y_score must be 1-D (the score of the greater label, "
                             f"e.g. predict_proba(X)[:, 1]); got an array of shape {scores.shape}")
        scores = scores[:, 0]
    return scores


def roc_auc(y_true, y_score, *, average="macro", sample_weight=None, max_fpr=None, multi_class="raise",
            labels=None) -> float:
    """The area under the ROC curve; scikit-learn's ``roc_auc_score``.

    Binary ``y_true``: ``y_score`` is 1-D, the score of the greater label. More classes:
    ``y_score`` is n x K probabilities (rows summing to 1, columns in the order of ``labels`` or
    of the sorted classes) and ``multi_class`` must be "ovr" (one-vs-rest; ``average`` "macro",
    "weighted", "micro" or None) or "ovo" (one-vs-one, Hand & Till; "macro" or "weighted")."""
    metric = "roc_auc"
    check_choice(average, ("micro", "macro", "weighted", None), "average", metric)
    check_choice(multi_class, ("raise", "ovr", "ovo"), "multi_class", metric)
    if max_fpr is not None and not (isinstance(max_fpr, (int, float, np.number)) and 0 < max_fpr <= 1):
        raise ValueError(f"{metric}: max_fpr: expected a number in (0, 1] or None; got {max_fpr!r}")
    y_true = as_labels(y_true, "y_true", metric)
    scores = as_scores(y_score, "y_score", metric, ndims=(1, 2))
    n = check_lengths(metric, y_true=y_true, y_score=scores)
    weights = as_weights(sample_weight, n, metric)
    kind = target_type(y_true)
    if kind == "continuous":
        raise ValueError(f"{metric}: y_true holds continuous values; expected class labels")
    if kind == "multiclass" or (scores.ndim == 2 and scores.shape[1] > 2):
        if max_fpr is not None and max_fpr != 1:
            raise ValueError(f"{metric}: the partial AUC (max_fpr) is not available for more than two classes")
        if multi_class == "raise":
            raise ValueError(f"{metric}: y_true has more than two classes: pass multi_class='ovr' (one-vs-rest) "
                             f"or multi_class='ovo' (one-vs-one)")
        return _multiclass_roc_auc(y_true, scores, labels, multi_class, average, weights)
    classes = np.unique(y_true)
    positive = (y_true == classes[-1]).astype(np.float64) if classes.size == 2 else np.zeros(n)
    return _binary_roc_auc(positive, _one_column(scores, metric), weights, max_fpr)


def _multiclass_roc_auc(y_true, scores, labels, multi_class, average, weights):
    metric = "roc_auc"
    if scores.ndim != 2:
        raise ValueError(f"{metric}: y_true has more than two classes, so y_score must be n x K (one column per "
                         f"class); got an array of shape {scores.shape}")
    if not np.allclose(1, scores.sum(axis=1)):
        raise ValueError(f"{metric}: for more than two classes, y_score must hold probabilities: its rows must "
                         f"sum to 1")
    if multi_class == "ovo" and average not in ("macro", "weighted"):
        raise ValueError(f"{metric}: multi_class='ovo' averages 'macro' or 'weighted'; got average={average!r}")
    classes = _multiclass_classes(y_true, scores, labels, metric)
    if multi_class == "ovr":
        onehot = (y_true[:, None] == classes[None, :]).astype(np.float64)
        return _class_average(_binary_roc_auc, onehot, scores, average, weights)
    if weights is not None:
        raise ValueError(f"{metric}: sample_weight is not supported for multi_class='ovo'")
    codes = np.searchsorted(classes, y_true)
    present = np.unique(codes)
    pair_scores, prevalence = [], []
    for a, b in itertools.combinations(present, 2):
        in_pair = (codes == a) | (codes == b)
        a_true, b_true = (codes[in_pair] == a).astype(np.float64), (codes[in_pair] == b).astype(np.float64)
        pair_scores.append((_binary_roc_auc(a_true, scores[in_pair, a], None)
                            + _binary_roc_auc(b_true, scores[in_pair, b], None)) / 2)
        prevalence.append(in_pair.mean())
    return float(np.average(pair_scores, weights=prevalence if average == "weighted" else None))


def precision_recall_curve(y_true, y_score, *, pos_label=None, sample_weight=None, drop_intermediate=False):
    """(precision, recall, thresholds), thresholds increasing, with a last point (precision 1,
    recall 0) that has no threshold; scikit-learn's ``precision_recall_curve``.
    ``drop_intermediate`` keeps only the first and last point of each run of equal true
    positives (a vertical segment of the curve)."""
    metric = "precision_recall_curve"
    positive, score, weights = _binary_inputs(y_true, y_score, pos_label, sample_weight, metric)
    fps, tps, thresholds = counts_at_thresholds(positive, score, weights)
    if drop_intermediate and fps.shape[0] > 2:
        keep = np.r_[True, np.logical_or(np.diff(tps[:-1]), np.diff(tps[1:])), True]
        fps, tps, thresholds = fps[keep], tps[keep], thresholds[keep]
    predicted = tps + fps
    precision_ = np.divide(tps, predicted, out=np.zeros_like(tps), where=predicted != 0)
    if tps[-1] == 0:
        warnings.warn(f"{metric}: no positive class found in y_true, recall is set to one for all thresholds",
                      UserWarning, stacklevel=2)
        recall_ = np.ones_like(tps)
    else:
        recall_ = tps / tps[-1]
    return np.r_[precision_[::-1], 1.0], np.r_[recall_[::-1], 0.0], thresholds[::-1]


def _binary_average_precision(positive, score, weights) -> float:
    precision_, recall_, _ = precision_recall_curve(positive, score, pos_label=1, sample_weight=weights)
    return float(max(0.0, -np.sum(np.diff(recall_) * precision_[:-1])))


def average_precision(y_true, y_score, *, average="macro", pos_label=1, sample_weight=None) -> float:
    """AP = Σ_n (R_n − R_{n−1}) P_n over the thresholds; scikit-learn's
    ``average_precision_score``. For more than two classes, ``y_score`` is n x K (columns in
    the order of the sorted classes), one class against the rest, averaged by ``average``."""
    metric = "average_precision"
    check_choice(average, ("micro", "macro", "weighted", None), "average", metric)
    y_true = as_labels(y_true, "y_true", metric)
    scores = as_scores(y_score, "y_score", metric, ndims=(1, 2))
    n = check_lengths(metric, y_true=y_true, y_score=scores)
    weights = as_weights(sample_weight, n, metric)
    kind = target_type(y_true)
    present = np.unique(y_true)
    if kind == "continuous":
        raise ValueError(f"{metric}: y_true holds continuous values; expected class labels")
    if kind == "binary":
        if present.size == 2 and pos_label not in present.tolist():
            raise ValueError(f"{metric}: pos_label={pos_label!r} is not a valid label: it should be one of "
                             f"{present.tolist()}")
        positive = (y_true == pos_label).astype(np.float64)
        return _binary_average_precision(positive, _one_column(scores, metric), weights)
    if pos_label != 1:
        raise ValueError(f"{metric}: pos_label is fixed to 1 for multiclass y_true; do not set it")
    onehot = (y_true[:, None] == present[None, :]).astype(np.float64)
    if scores.shape != onehot.shape:
        raise ValueError(f"{metric}: y_score must be of shape (n_samples, n_classes) = {onehot.shape}, since "
                         f"y_true contains {present.size} classes; got {scores.shape}")
    return _class_average(_binary_average_precision, onehot, scores, average, weights)
