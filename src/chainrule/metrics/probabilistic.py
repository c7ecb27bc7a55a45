r"""Metrics of predicted probabilities: scikit-learn's definitions under shorter names.

With the one-hot labels Y (n x K, the classes in sorted order, as scikit-learn's
LabelBinarizer orders them) and the predicted probabilities P (n x K; a 1-D P is the
probability of the positive class, P = [1 − p, p]), weights w_i (1 by default):

    log_loss      −Σ_i w_i Σ_k Y_ik log clip(P_ik, ε, 1 − ε) / Σ_i w_i,   ε the machine epsilon of
                  P's dtype (the sum instead of the mean with normalize=False)
    brier_score   Σ_i w_i Σ_k (Y_ik − P_ik)² / Σ_i w_i, halved for two classes (scale_by_half="auto":
                  then the mean of (y_i − p_i)², in [0, 1])
    calibration_curve   the probabilities cut into ``n_bins`` bins (equal widths on [0, 1], or
                  quantiles of p with strategy="quantile"); per non-empty bin, the share of
                  positives (prob_true) and the mean predicted probability (prob_pred)

Rows of P that do not sum to 1 (relative tolerance √ε) give a UserWarning, as in scikit-learn
(the loss is computed on P as given). A single class in ``y_true`` without ``labels`` is an
error for log_loss: the loss needs every class the probabilities refer to.

Reference: scikit-learn's ``log_loss``, ``brier_score_loss`` and
``sklearn.calibration.calibration_curve`` (version 1.9), whose arguments and edge cases these
follow.
"""
from __future__ import annotations

import numbers
import warnings

from ..engine import backend
from .checks import (
    as_labels,
    as_scores,
    as_weights,
    check_choice,
    check_lengths,
    positive_label,
    target_type,
)

np = backend.host

__all__ = ["log_loss", "brier_score", "calibration_curve"]


def _probabilities(y_proba, metric: str):
    proba = as_scores(y_proba, "y_proba", metric, ndims=(1, 2))
    if proba.size and proba.max() > 1:
        raise ValueError(f"{metric}: y_proba contains values greater than 1: {proba.max()}")
    if proba.size and proba.min() < 0:
        raise ValueError(f"{metric}: y_proba contains values less than 0: {proba.min()}")
    return proba


def _one_hot(y_true, labels, metric: str):
    """(Y, classes): the one-hot labels over the sorted classes of ``labels`` (or of y_true)."""
    if labels is not None:
        given = as_labels(labels, "labels", metric)
        classes = np.unique(given)
        if classes.size != given.size or np.any(classes != given):
            warnings.warn(
                f"{metric}: labels passed were {given.tolist()}, but the columns of y_proba are taken to be the "
                f"labels in sorted order: pass labels={classes.tolist()} and make sure the columns of y_proba "
                f"follow it", UserWarning, stacklevel=3)
        unknown = set(y_true.tolist()) - set(classes.tolist())
        if unknown:
            raise ValueError(f"{metric}: y_true contains values {unknown} not belonging to the passed labels "
                             f"{given.tolist()}")
        if classes.size < 2:
            raise ValueError(f"{metric}: labels: needs at least two labels; got {classes.tolist()}")
    else:
        classes = np.unique(y_true)
        if classes.size < 2:
            raise ValueError(
                f"{metric}: y_true contains only one label ({classes.tolist()[0]!r}); pass the list of all expected "
                f"class labels through the labels argument")
    return (y_true[:, None] == classes[None, :]), classes


def _multiclass(y_true, proba, labels, metric: str):
    """(Y, P), both n x K, for 1-D labels and probabilities (scikit-learn's
    ``_validate_multiclass_probabilistic_prediction``)."""
    onehot, classes = _one_hot(y_true, labels, metric)
    if proba.ndim == 1:
        proba = proba[:, None]
    if proba.shape[1] == 1:
        proba = np.concatenate([1 - proba, proba], axis=1)
    eps = np.finfo(proba.dtype).eps
    if not np.all(np.isclose(proba.sum(axis=1), 1, rtol=np.sqrt(eps))):
        warnings.warn(f"{metric}: the y_proba values do not sum to one; make sure to pass probabilities",
                      UserWarning, stacklevel=3)
    if classes.size != proba.shape[1]:
        if labels is None:
            raise ValueError(
                f"{metric}: y_true and y_proba contain different numbers of classes: {classes.size} vs "
                f"{proba.shape[1]}; pass the true labels explicitly through the labels argument (classes found "
                f"in y_true: {classes.tolist()})")
        raise ValueError(f"{metric}: the number of classes in labels ({classes.size}) is different from that in "
                         f"y_proba ({proba.shape[1]})")
    return onehot.astype(proba.dtype), proba


def log_loss(y_true, y_proba, *, normalize=True, sample_weight=None, labels=None) -> float:
    """The mean negative log-likelihood of the labels under the predicted probabilities
    (cross-entropy); scikit-learn's ``log_loss``."""
    metric = "log_loss"
    y_true = as_labels(y_true, "y_true", metric)
    proba = _probabilities(y_proba, metric)
    n = check_lengths(metric, y_true=y_true, y_proba=proba)
    weights = as_weights(sample_weight, n, metric)
    onehot, proba = _multiclass(y_true, proba, labels, metric)
    eps = np.finfo(proba.dtype).eps
    loss = -np.sum(onehot * np.log(np.clip(proba, eps, 1 - eps)), axis=1)
    if normalize:
        return float(np.average(loss, weights=weights))
    return float(loss.sum() if weights is None else loss @ weights)


def _binary(y_true, proba, pos_label, metric: str):
    """(Y, P), both n x 2, for binary labels and the positive class's probabilities."""
    kind = target_type(y_true)
    if kind != "binary":
        raise ValueError(f"{metric}: y_true is {kind} but y_proba is 1-D (the probabilities of one class): "
                         f"pass one column per class for more than two classes")
    try:
        pos_label = positive_label(pos_label, y_true, metric)
    except ValueError:
        if y_true.dtype.kind in "OUS":
            raise
        pos_label = np.unique(y_true)[-1]  # scikit-learn: the greater label for numbers
    positive = (y_true == pos_label).astype(proba.dtype)
    return np.stack([1 - positive, positive], axis=1), np.stack([1 - proba, proba], axis=1)


def brier_score(y_true, y_proba, *, sample_weight=None, pos_label=None, labels=None, scale_by_half="auto") -> float:
    """The mean squared difference between the one-hot labels and the predicted probabilities;
    scikit-learn's ``brier_score_loss``.

    A 1-D ``y_proba`` is the probability of ``pos_label`` (default: 1 for labels in {0, 1} or
    {-1, 1}, else the greater label; string labels need it); 2-D has one column per label, in
    sorted order. ``scale_by_half``: True halves the sum over classes, "auto" does so for two
    classes."""
    metric = "brier_score"
    if not (scale_by_half == "auto" or isinstance(scale_by_half, (bool, np.bool_))):
        raise ValueError(f"{metric}: scale_by_half: expected True, False or 'auto'; got {scale_by_half!r}")
    y_true = as_labels(y_true, "y_true", metric)
    proba = _probabilities(y_proba, metric)
    n = check_lengths(metric, y_true=y_true, y_proba=proba)
    weights = as_weights(sample_weight, n, metric)
    if proba.ndim == 1 or proba.shape[1] == 1:
        onehot, proba = _binary(y_true, proba.reshape(n), pos_label, metric)
    else:
        onehot, proba = _multiclass(y_true, proba, labels, metric)
    score = np.average(np.sum((onehot - proba) ** 2, axis=1), weights=weights)
    if scale_by_half == "auto":
        scale_by_half = proba.shape[1] < 3
    return float(score * 0.5 if scale_by_half else score)


def calibration_curve(y_true, y_prob, *, pos_label=None, n_bins=5, strategy="uniform"):
    """(prob_true, prob_pred): per non-empty bin of the predicted probabilities, the share of
    positives and the mean probability; scikit-learn's ``calibration_curve``.

    ``strategy``: "uniform" (bins of equal width on [0, 1]) or "quantile" (edges at the
    quantiles of y_prob, so bins hold about equally many samples)."""
    metric = "calibration_curve"
    check_choice(strategy, ("uniform", "quantile"), "strategy", metric)
    if not isinstance(n_bins, numbers.Integral) or isinstance(n_bins, bool) or n_bins < 1:
        raise ValueError(f"{metric}: n_bins: expected an integer >= 1; got {n_bins!r}")
    y_true = as_labels(y_true, "y_true", metric)
    proba = as_scores(y_prob, "y_prob", metric, dtype=np.float64)
    check_lengths(metric, y_true=y_true, y_prob=proba)
    pos_label = positive_label(pos_label, y_true, metric)
    if proba.min() < 0 or proba.max() > 1:
        raise ValueError(f"{metric}: y_prob has values outside [0, 1]")
    labels = np.unique(y_true)
    if labels.size > 2:
        raise ValueError(f"{metric}: only binary classification is supported; y_true has labels {labels.tolist()}")
    positive = y_true == pos_label
    if strategy == "quantile":
        edges = np.percentile(proba, np.linspace(0, 1, n_bins + 1) * 100)
    else:
        edges = np.linspace(0.0, 1.0, n_bins + 1)
    bins = np.searchsorted(edges[1:-1], proba)
    sums = np.bincount(bins, weights=proba, minlength=n_bins)
    trues = np.bincount(bins, weights=positive, minlength=n_bins)
    totals = np.bincount(bins, minlength=n_bins)
    nonzero = totals != 0
    return trues[nonzero] / totals[nonzero], sums[nonzero] / totals[nonzero]
