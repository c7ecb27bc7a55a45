r"""Metrics of predicted class labels: scikit-learn's definitions under shorter names.

For labels y_i and predictions ŷ_i (weights w_i, 1 by default):

    accuracy          Σ w_i [y_i = ŷ_i] / Σ w_i      (the count Σ w_i [y_i = ŷ_i] with normalize=False)
    confusion_matrix  C[i, j] = Σ w over the samples of true label i predicted as label j
                      (normalize="true" divides each row by its sum, "pred" each column, "all" the whole)

and per label k, with tp_k, the predicted count p_k and the true count t_k (weighted):

    precision_k = tp_k / p_k,   recall_k = tp_k / t_k,
    F_β,k = (1 + β²) tp_k / (β² t_k + p_k)      (F_1 = f1: the harmonic mean of precision and recall)

A ratio with a zero denominator is ``zero_division`` (0.0 with an UndefinedMetricWarning for
"warn", or 0.0, 1.0, NaN). ``average``: "binary" (the label ``pos_label`` only), "micro" (the
ratio of the summed counts), "macro" (the mean over labels, ignoring NaN), "weighted" (the
mean weighted by t_k) or None (one value per label, in the order of ``labels`` or of the
sorted labels). Multilabel (indicator matrix) targets are not supported.

Reference: scikit-learn's ``sklearn.metrics`` (accuracy_score, confusion_matrix,
precision_recall_fscore_support), whose names, arguments and edge cases these follow.
"""
from __future__ import annotations

import math
import warnings

from ..engine import backend
from .checks import UndefinedMetricWarning, as_labels, check_choice, classification_targets

np = backend.host

__all__ = ["accuracy", "confusion_matrix", "precision_recall_fscore_support", "precision", "recall", "f1",
           "fbeta", "label_counts"]

AVERAGES = ("binary", "micro", "macro", "weighted", None)


def accuracy(y_true, y_pred, *, normalize=True, sample_weight=None) -> float:
    """The share of samples predicted right (the weighted count with ``normalize=False``);
    scikit-learn's ``accuracy_score``."""
    _, _, y_true, y_pred, weights = classification_targets("accuracy", y_true, y_pred, sample_weight)
    correct = (y_true == y_pred).astype(np.float64)
    if normalize:
        return float(np.average(correct, weights=weights))
    return float(correct.sum() if weights is None else correct @ weights)


def _checked_label_list(labels, metric: str):
    labels = as_labels(labels, "labels", metric)
    if labels.size == 0:
        raise ValueError(f"{metric}: labels: should contain at least one label")
    return labels


def confusion_matrix(y_true, y_pred, *, labels=None, sample_weight=None, normalize=None):
    """C[i, j]: the (weighted) number of samples of true label i predicted as j, labels in the
    order of ``labels`` (default: the sorted labels of both); scikit-learn's ``confusion_matrix``.

    ``normalize``: None (counts: int64, float64 with weights), "true" (rows sum to 1), "pred"
    (columns sum to 1) or "all"; an empty row or column gives zeros. Samples whose label is not
    in ``labels`` are left out."""
    metric = "confusion_matrix"
    check_choice(normalize, ("true", "pred", "all", None), "normalize", metric)
    _, present, y_true, y_pred, weights = classification_targets(metric, y_true, y_pred, sample_weight)
    if labels is None:
        labels = present
    else:
        labels = _checked_label_list(labels, metric)
        if not np.isin(y_true, labels).any():
            raise ValueError(f"{metric}: labels: at least one label specified must be in y_true")
    n_labels = labels.size
    true_index, pred_index = label_index(y_true, labels), label_index(y_pred, labels)
    keep = (true_index >= 0) & (pred_index >= 0)
    cells = true_index[keep] * n_labels + pred_index[keep]
    if weights is None:
        matrix = np.bincount(cells, minlength=n_labels * n_labels).astype(np.int64)
    else:
        matrix = np.bincount(cells, weights=weights[keep], minlength=n_labels * n_labels)
    matrix = matrix.reshape(n_labels, n_labels)
    if normalize is not None:
        with np.errstate(all="ignore"):
            total = {"true": matrix.sum(axis=1, keepdims=True), "pred": matrix.sum(axis=0, keepdims=True),
                     "all": matrix.sum()}[normalize]
            matrix = np.nan_to_num(matrix / total)
    if matrix.shape == (1, 1):
        warnings.warn(
            "confusion_matrix: a single label was found in y_true and y_pred; for the confusion matrix to have "
            "the intended shape, pass all known labels with the labels argument", UserWarning, stacklevel=2)
    return matrix


def label_index(values, labels, missing: int = -1):
    """The position in ``labels`` of each of ``values`` (``missing`` for a value not among them)."""
    if values.dtype.kind in "OUS" or labels.dtype.kind in "OUS":
        values, labels = values.astype(object), labels.astype(object)
    try:
        order = np.argsort(labels, kind="stable")
        ordered = labels[order]
        at = np.minimum(np.searchsorted(ordered, values), ordered.size - 1)
    except TypeError:
        raise ValueError("labels and the targets mix string and number labels; use one type") from None
    found = ordered[at] == values
    return np.where(found, order[at], missing).astype(np.int64)


def label_counts(y_true, y_pred, labels, weights):
    """(tp, predicted, true): the (weighted) true-positive, predicted and true counts of each
    label of ``labels`` (scikit-learn's ``multilabel_confusion_matrix`` for 1-D labels)."""
    n = labels.size
    true_index, pred_index = label_index(y_true, labels, missing=n), label_index(y_pred, labels, missing=n)
    hit = y_true == y_pred
    w = np.ones(y_true.shape[0]) if weights is None else weights

    def count(indices, mask=None):
        values = w if mask is None else w[mask]
        return np.bincount(indices if mask is None else indices[mask], weights=values, minlength=n + 1)[:n]

    return count(true_index, hit), count(pred_index), count(true_index)


def _zero_division_value(zero_division, metric: str):
    if isinstance(zero_division, str):
        if zero_division == "warn":
            return 0.0
    elif isinstance(zero_division, (int, float, np.number)) and not isinstance(zero_division, bool):
        value = float(zero_division)
        if value in (0.0, 1.0) or math.isnan(value):
            return value
    raise ValueError(f"{metric}: zero_division: expected 'warn', 0.0, 1.0 or nan; got {zero_division!r}")


def _divide(numerator, denominator, what: str, modifier: str, zero_division, warn: bool, metric: str):
    """numerator / denominator per label; ``zero_division`` where the denominator is 0 (with
    scikit-learn's UndefinedMetricWarning for "warn")."""
    zero = denominator == 0
    result = numerator / np.where(zero, 1.0, denominator)
    if zero.any():
        result[zero] = _zero_division_value(zero_division, metric)
        if warn and isinstance(zero_division, str):
            where = "due to" if result.size == 1 else "in labels with"
            warnings.warn(
                f"{what} is ill-defined and being set to 0.0 {where} no {modifier} samples. Use `zero_division` "
                f"parameter to control this behavior.", UndefinedMetricWarning, stacklevel=4)
    return result


def _set_wise_labels(metric, kind, present, average, labels, pos_label):
    """The labels to score (scikit-learn's ``_check_set_wise_labels``)."""
    if average == "binary":
        if kind != "binary":
            raise ValueError(
                f"{metric}: the target is {kind} but average='binary'; choose another average setting, "
                f"one of {[a for a in AVERAGES if a != 'binary']}")
        if pos_label not in present.tolist() and present.size >= 2:
            raise ValueError(f"{metric}: pos_label={pos_label!r} is not a valid label: it should be one of "
                             f"{present.tolist()}")
        return np.asarray([pos_label])
    if pos_label not in (None, 1):
        warnings.warn(
            f"Note that pos_label (set to {pos_label!r}) is ignored when average != 'binary' (got {average!r}). "
            f"You may use labels=[pos_label] to specify a single positive class.", UserWarning, stacklevel=3)
    return labels


def _nan_average(values, weights=None):
    keep = ~np.isnan(values)
    if not keep.any():
        return float("nan")
    if weights is None or weights[keep].sum() == 0:
        return float(np.mean(values[keep]))
    return float(np.average(values[keep], weights=weights[keep]))


def precision_recall_fscore_support(y_true, y_pred, *, beta=1.0, labels=None, pos_label=1, average=None,
                                    warn_for=("precision", "recall", "f-score"), sample_weight=None,
                                    zero_division="warn"):
    """(precision, recall, F_β, support) per label (``average=None``: arrays, support the true
    counts) or averaged (floats, support None); scikit-learn's function of the same name."""
    metric = "precision_recall_fscore_support"
    _zero_division_value(zero_division, metric)
    if not isinstance(beta, (int, float, np.number)) or isinstance(beta, bool) or not beta >= 0:
        raise ValueError(f"{metric}: beta: expected a number >= 0; got {beta!r}")
    check_choice(average, AVERAGES, "average", metric)
    kind, present, y_true, y_pred, weights = classification_targets(metric, y_true, y_pred, sample_weight)
    labels = _set_wise_labels(metric, kind, present, average, labels, pos_label)
    chosen = present if labels is None else _checked_label_list(labels, metric)
    tp, predicted, true = label_counts(y_true, y_pred, chosen, weights)
    if average == "micro":
        tp, predicted, true = np.array([tp.sum()]), np.array([predicted.sum()]), np.array([true.sum()])
    precision_ = _divide(tp, predicted, "Precision", "predicted", zero_division, "precision" in warn_for, metric)
    recall_ = _divide(tp, true, "Recall", "true", zero_division, "recall" in warn_for, metric)
    if np.isposinf(beta):
        fscore = recall_
    elif beta == 0:
        fscore = precision_
    else:
        fscore = _divide((1 + beta ** 2) * tp, beta ** 2 * true + predicted, "F-score", "true nor predicted",
                         zero_division, "f-score" in warn_for, metric)
    if average is None:
        support = true if weights is not None else true.astype(np.int64)
        return precision_, recall_, fscore, support
    weighting = true if average == "weighted" else None
    return _nan_average(precision_, weighting), _nan_average(recall_, weighting), _nan_average(fscore, weighting), None


def precision(y_true, y_pred, *, labels=None, pos_label=1, average="binary", sample_weight=None,
              zero_division="warn"):
    """tp / (tp + fp): of the samples predicted as a label, the share that have it;
    scikit-learn's ``precision_score``."""
    return precision_recall_fscore_support(y_true, y_pred, labels=labels, pos_label=pos_label, average=average,
                                           warn_for=("precision",), sample_weight=sample_weight,
                                           zero_division=zero_division)[0]


def recall(y_true, y_pred, *, labels=None, pos_label=1, average="binary", sample_weight=None,
           zero_division="warn"):
    """tp / (tp + fn): of the samples with a label, the share predicted as it; scikit-learn's
    ``recall_score``."""
    return precision_recall_fscore_support(y_true, y_pred, labels=labels, pos_label=pos_label, average=average,
                                           warn_for=("recall",), sample_weight=sample_weight,
                                           zero_division=zero_division)[1]


def fbeta(y_true, y_pred, *, beta, labels=None, pos_label=1, average="binary", sample_weight=None,
          zero_division="warn"):
    """F_β = (1 + β²) tp / ((1 + β²) tp + β² fn + fp); scikit-learn's ``fbeta_score``."""
    return precision_recall_fscore_support(y_true, y_pred, beta=beta, labels=labels, pos_label=pos_label,
                                           average=average, warn_for=("f-score",), sample_weight=sample_weight,
                                           zero_division=zero_division)[2]


def f1(y_true, y_pred, *, labels=None, pos_label=1, average="binary", sample_weight=None, zero_division="warn"):
    """F_1 = 2 tp / (2 tp + fp + fn), the harmonic mean of precision and recall; scikit-learn's
    ``f1_score``."""
    return fbeta(y_true, y_pred, beta=1.0, labels=labels, pos_label=pos_label, average=average,
                 sample_weight=sample_weight, zero_division=zero_division)
