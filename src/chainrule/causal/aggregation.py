r"""Combining the estimates of repeated cross-fitting (n_rep sample splits) by medians.

Each repetition s = 1 … S gives estimates θ̂_s and standard errors se_s. The point estimate
is the median (Chernozhukov et al. 2018, Definition 3.3 / eq. 3.7, the "median method"):

    θ̂ = median_s θ̂_s.

Two rules for the standard error:

    "doubleml" (DoubleML ≥ 0.10, the default): the median of the upper 95% bounds,
        se = (median_s(θ̂_s + 1.96 se_s) − θ̂) / 1.96
    "paper" (Chernozhukov et al. 2018, eq. 3.7; DoubleML before 0.10): the variance adds the
        spread of the estimates across splits,
        se = sqrt(median_s(se_s² + (θ̂_s − θ̂)²))

Per-repetition confidence intervals are combined the same way, by the medians of their
bounds (DoubleML's ``confint``); p-values are those of the aggregated z statistic θ̂ / se
(DoubleML's ``pval``), and each repetition's are kept (``all_pvalues``).
"""
from __future__ import annotations

from ..engine import backend

np = backend.host

__all__ = ["SE_AGGREGATIONS", "aggregate"]

SE_AGGREGATIONS = ("doubleml", "paper")
_CRITICAL = 1.96


def aggregate(all_coef, all_se, method: str = "doubleml"):
    """The median estimates and the aggregated standard errors of (k, S) arrays, by ``method``."""
    if method not in SE_AGGREGATIONS:
        raise ValueError(f"se_aggregation must be one of {SE_AGGREGATIONS}; got {method!r}")
    coef = np.median(all_coef, axis=1)
    if method == "doubleml":
        upper = np.median(all_coef + _CRITICAL * all_se, axis=1)
        return coef, (upper - coef) / _CRITICAL
    return coef, np.sqrt(np.median(all_se**2 + (all_coef - coef[:, None]) ** 2, axis=1))
