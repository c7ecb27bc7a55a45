r"""Metrics of numeric predictions: scikit-learn's definitions under shorter names.

For targets y_ij and predictions ŷ_ij (sample i, output j), weights w_i (1 by default), per
output j:

    r2     R²_j = 1 − Σ_i w_i (y_ij − ŷ_ij)² / Σ_i w_i (y_ij − ȳ_j)²,  ȳ_j the weighted mean
    mse    Σ_i w_i (y_ij − ŷ_ij)² / Σ_i w_i          rmse = √mse (per output, then averaged)
    mae    Σ_i w_i |y_ij − ŷ_ij| / Σ_i w_i
    mape   Σ_i w_i |y_ij − ŷ_ij| / max(|y_ij|, ε) / Σ_i w_i,  ε the float64 machine epsilon (a fraction,
           not a percentage)

and ``multioutput`` combines the outputs: "uniform_average" (the mean), "raw_values" (one per
output), weights (an array), or for r2 "variance_weighted" (weighted by Σ_i w_i (y_ij − ȳ_j)²).
With ``force_finite`` (the default) R² of a constant target is 1.0 for a perfect prediction
and 0.0 otherwise instead of NaN or −∞; fewer than two samples give NaN with an
UndefinedMetricWarning.

Reference: scikit-learn's ``r2_score``, ``mean_squared_error``, ``root_mean_squared_error``,
``mean_absolute_error`` and ``mean_absolute_percentage_error`` (version 1.9).
"""
from __future__ import annotations

import warnings

from ..engine import backend
from .checks import UndefinedMetricWarning, as_scores, as_weights, check_lengths

np = backend.host

__all__ = ["r2", "mse", "rmse", "mae", "mape", "explained_fraction"]

MULTIOUTPUT = ("raw_values", "uniform_average")


def _targets(metric: str, y_true, y_pred, sample_weight, multioutput, allowed=MULTIOUTPUT):
    """(y_true, y_pred, weights, multioutput) as n x k float arrays (scikit-learn's
    ``_check_reg_targets``)."""
    y_true = as_scores(y_true, "y_true", metric, ndims=(1, 2))
    y_pred = as_scores(y_pred, "y_pred", metric, ndims=(1, 2))
    n = check_lengths(metric, y_true=y_true, y_pred=y_pred)
    weights = as_weights(sample_weight, n, metric)
    dtype = np.result_type(y_true, y_pred)
    y_true, y_pred = y_true.reshape(n, -1).astype(dtype), y_pred.reshape(n, -1).astype(dtype)
    if y_true.shape[1] != y_pred.shape[1]:
        raise ValueError(f"{metric}: y_true and y_pred have different numbers of outputs "
                         f"({y_true.shape[1]} != {y_pred.shape[1]})")
    if isinstance(multioutput, str):
        if multioutput not in allowed:
            raise ValueError(f"{metric}: multioutput: expected one of {allowed} or an array of weights; "
                             f"got {multioutput!r}")
    elif multioutput is not None:
        multioutput = as_scores(multioutput, "multioutput", metric, dtype=np.float64)
        if y_true.shape[1] == 1:
            raise ValueError(f"{metric}: multioutput: custom weights are useful only with several outputs")
        if multioutput.shape[0] != y_true.shape[1]:
            raise ValueError(f"{metric}: multioutput: {multioutput.shape[0]} weights for {y_true.shape[1]} outputs")
    return y_true, y_pred, weights, multioutput


def _combine(per_output, multioutput):
    if isinstance(multioutput, str) and multioutput == "raw_values":
        return per_output
    weights = None if isinstance(multioutput, str) else multioutput
    return float(np.average(per_output, weights=weights))


def mse(y_true, y_pred, *, sample_weight=None, multioutput="uniform_average"):
    """The mean squared error; scikit-learn's ``mean_squared_error``."""
    y_true, y_pred, weights, multioutput = _targets("mse", y_true, y_pred, sample_weight, multioutput)
    return _combine(np.average((y_true - y_pred) ** 2, axis=0, weights=weights), multioutput)


def rmse(y_true, y_pred, *, sample_weight=None, multioutput="uniform_average"):
    """The root of the mean squared error, per output (then averaged); scikit-learn's
    ``root_mean_squared_error``."""
    y_true, y_pred, weights, multioutput = _targets("rmse", y_true, y_pred, sample_weight, multioutput)
    return _combine(np.sqrt(np.average((y_true - y_pred) ** 2, axis=0, weights=weights)), multioutput)


def mae(y_true, y_pred, *, sample_weight=None, multioutput="uniform_average"):
    """The mean absolute error; scikit-learn's ``mean_absolute_error``."""
    y_true, y_pred, weights, multioutput = _targets("mae", y_true, y_pred, sample_weight, multioutput)
    return _combine(np.average(np.abs(y_pred - y_true), axis=0, weights=weights), multioutput)


def mape(y_true, y_pred, *, sample_weight=None, multioutput="uniform_average"):
    """The mean absolute percentage error, as a fraction (0.1 for 10 %), with |y| floored at the
    float64 machine epsilon; scikit-learn's ``mean_absolute_percentage_error``."""
    y_true, y_pred, weights, multioutput = _targets("mape", y_true, y_pred, sample_weight, multioutput)
    epsilon = np.asarray(np.finfo(np.float64).eps, dtype=y_true.dtype)
    ratio = np.abs(y_pred - y_true) / np.maximum(np.abs(y_true), epsilon)
    return _combine(np.average(ratio, axis=0, weights=weights), multioutput)


def explained_fraction(residual, total, multioutput="uniform_average", force_finite=True):
    """1 − residual/total per output, combined by ``multioutput``: R² from its sums of squares
    (Σ w (y − ŷ)², Σ w (y − ȳ)²), shared with the running sums of the Trainer. With
    ``force_finite`` a zero total gives 1.0 when the residual is 0 too, else 0.0."""
    residual = np.atleast_1d(np.asarray(residual, dtype=np.float64))
    total = np.atleast_1d(np.asarray(total, dtype=np.float64))
    nonzero_total = total != 0
    if not force_finite:
        with np.errstate(divide="ignore", invalid="ignore"):
            scores = 1 - residual / total
    else:
        nonzero_residual = residual != 0
        scores = np.ones(residual.shape[0])
        valid = nonzero_total & nonzero_residual
        scores[valid] = 1 - residual[valid] / total[valid]
        scores[nonzero_residual & ~nonzero_total] = 0.0
    if isinstance(multioutput, str) and multioutput == "raw_values":
        return scores
    weights = None
    if isinstance(multioutput, str) and multioutput == "variance_weighted":
        weights = total if nonzero_total.any() else None
    elif not isinstance(multioutput, str):
        weights = multioutput
    return float(np.average(scores, weights=weights))


def r2(y_true, y_pred, *, sample_weight=None, multioutput="uniform_average", force_finite=True):
    """The coefficient of determination R² (1 is a perfect fit, 0 the mean's, below 0 worse);
    scikit-learn's ``r2_score``."""
    y_true, y_pred, weights, multioutput = _targets(
        "r2", y_true, y_pred, sample_weight, multioutput, allowed=MULTIOUTPUT + ("variance_weighted",))
    if y_pred.shape[0] < 2:
        warnings.warn("r2: R² is not well-defined with fewer than two samples (NaN)", UndefinedMetricWarning,
                      stacklevel=2)
        return float("nan")
    weight = 1.0 if weights is None else weights[:, None]
    residual = np.sum(weight * (y_true - y_pred) ** 2, axis=0)
    total = np.sum(weight * (y_true - np.average(y_true, axis=0, weights=weights)) ** 2, axis=0)
    return explained_fraction(residual, total, multioutput, force_finite)
