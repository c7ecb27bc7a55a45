"""Figures of fitted models for the report: residual diagnostics, regularization paths with
their cross-validation curves, the stepwise criterion path, the PCR scree, classifier curves
and coefficient bars.

Like :mod:`chainrule.report.figures` every builder returns a
:class:`matplotlib.figure.Figure` on its own Agg canvas (pyplot is never imported), axes
carry their units, legends sit outside the data or in a corner the builder keeps free, and
user-provided names are shown literally. The classifier curves take their numbers from
:mod:`chainrule.metrics` (``roc_curve``, ``roc_auc``, ``precision_recall_curve``,
``average_precision``, ``calibration_curve``), never from a local re-computation.

Formulas drawn:

* residuals vs fitted: e_i = y_i − ŷ_i against ŷ_i, with a lowess-free running mean (the
  mean of e over 20 equal-count bins of ŷ) to show curvature;
* normal QQ: the sorted standardized residuals r_(i) against Φ⁻¹((i − 0.5)/n);
* leverage: the studentized residual t_i against h_i = [Z(Z'Z)⁻¹Z']_ii, with the
  conventional thresholds h = 2k/n and |t| = 2;
* regularization path: b_j(α) over the penalty grid, the chosen α as a vertical line; the CV
  curve: the mean held-out score over K folds ± one standard error (sd/√K);
* scree: the share of the variance of X of each principal component, s_j² / Σ s_i², and
  its cumulative sum.
"""
from __future__ import annotations

import math
import warnings

import numpy as np

from .figures import float_array, literal, new_figure

__all__ = [
    "figure_residual_diagnostics", "figure_regularization_path", "figure_criterion_path",
    "figure_scree", "figure_classifier_curves", "figure_coefficient_bars",
]

MAX_WIDTH_IN = 9.2  # 1,012 px at the report's 110 dpi: the report's column shows it unscaled
_PATH_LABELS = 8  # label the largest paths by name; the rest stay unnamed grey-ish lines
_BINS = 20


def figure_residual_diagnostics(fitted, resid, *, studentized=None, leverage=None, n_params=None,
                                target_name: str = "target"):
    """Residuals vs fitted, a normal QQ plot of the standardized residuals and, when
    ``leverage`` and ``studentized`` (one per row, e.g. from ``OLS.get_influence()``) are
    given, studentized residuals against leverage; one row of two or three panels."""
    fitted = float_array(fitted, "fitted", name="figure_residual_diagnostics")
    resid = float_array(resid, "resid", len(fitted), name="figure_residual_diagnostics")
    finite = np.isfinite(fitted) & np.isfinite(resid)
    if not finite.any():
        raise ValueError("figure_residual_diagnostics: no finite (fitted, residual) pair to draw")
    fitted, resid = fitted[finite], resid[finite]
    panels = 3 if leverage is not None and studentized is not None else 2
    figure, axes = new_figure(1, panels, width=min(3.3 * panels, MAX_WIDTH_IN), height=3.4)
    _residuals_vs_fitted(axes[0], fitted, resid, target_name)
    scale = resid.std(ddof=1) if len(resid) > 1 else 0.0
    standardized = resid / scale if scale > 0 else resid
    if studentized is not None:
        standardized = float_array(studentized, "studentized", len(finite), name="figure_residual_diagnostics")[finite]
    _normal_qq(axes[1], standardized)
    if panels == 3:
        lev = float_array(leverage, "leverage", len(finite), name="figure_residual_diagnostics")[finite]
        _leverage(axes[2], lev, standardized, n_params)
    return figure


def _residuals_vs_fitted(axes, fitted, resid, target_name):
    alpha = _alpha(len(fitted))
    axes.scatter(fitted, resid, s=10, alpha=alpha, color="tab:blue", edgecolors="none")
    axes.axhline(0.0, color="0.35", linewidth=1.0, linestyle="--")
    if len(fitted) >= 2 * _BINS:
        order = np.argsort(fitted)
        bins = np.array_split(order, _BINS)
        axes.plot([fitted[b].mean() for b in bins], [resid[b].mean() for b in bins], color="tab:red",
                  linewidth=1.5)
    axes.set_xlabel(f"fitted {literal(target_name)}")
    axes.set_ylabel("residual (y − ŷ)")
    axes.set_title("Residuals vs fitted" + (" (red: binned mean)" if len(fitted) >= 2 * _BINS else ""))
    axes.grid(True, alpha=0.3)


def _normal_qq(axes, standardized):
    from scipy import stats as distributions  # noqa: PLC0415 - scipy is a dependency of chainrule.stats

    values = np.sort(standardized[np.isfinite(standardized)])
    n = len(values)
    theoretical = distributions.norm.ppf((np.arange(1, n + 1) - 0.5) / n)
    axes.scatter(theoretical, values, s=10, alpha=_alpha(n), color="tab:blue", edgecolors="none")
    low, high = float(theoretical.min()), float(theoretical.max())
    axes.plot([low, high], [low, high], color="0.35", linestyle="--", linewidth=1.0)
    axes.set_xlabel("normal quantile")
    axes.set_ylabel("standardized residual")
    axes.set_title("Normal QQ")
    axes.grid(True, alpha=0.3)


def _leverage(axes, leverage, studentized, n_params):
    n = len(leverage)
    axes.scatter(leverage, studentized, s=10, alpha=_alpha(n), color="tab:blue", edgecolors="none")
    for level in (-2.0, 2.0):
        axes.axhline(level, color="tab:red", linewidth=0.8, linestyle=":")
    if n_params:
        axes.axvline(2.0 * n_params / n, color="tab:red", linewidth=0.8, linestyle=":")
    axes.set_xlabel("leverage h (dotted: 2k/n)")
    axes.set_ylabel("studentized residual (dotted: ±2)")
    axes.set_title("Leverage vs studentized residual")
    axes.grid(True, alpha=0.3)


def figure_regularization_path(alphas, coefs, names, *, chosen=None, cv_mean=None, cv_se=None,
                               alpha_1se=None, score_label: str = "CV mean squared error",
                               penalty_label: str = "α (penalty)", better: str = "lower",
                               coef_label: str = "coefficient"):
    """The coefficient path b_j(α) (``coefs`` of shape (p, len(alphas))) on a log α axis
    with the chosen α marked and, when ``cv_mean`` is given, the CV curve below it with
    ± ``cv_se`` error bars. The largest paths are named in a legend outside the axes.

    Args:
        penalty_label: the x label ("α (penalty)", or "C (inverse penalty)" for logistic
            regression, whose grid runs the other way).
        better: "lower" (an error) or "higher" (an accuracy): said in the CV panel's title.
        coef_label: the path panel's y label (say when the features were standardized).
    """
    alphas = float_array(alphas, "alphas", name="figure_regularization_path")
    coefs = np.asarray(coefs, dtype=np.float64)
    names = [str(n) for n in names]
    if coefs.shape != (len(names), len(alphas)):
        raise ValueError(f"figure_regularization_path: coefs has shape {coefs.shape}; expected "
                         f"(len(names), len(alphas)) = ({len(names)}, {len(alphas)})")
    if len(alphas) == 0 or np.any(alphas <= 0):
        raise ValueError("figure_regularization_path: alphas must be a non-empty grid of positive penalties")
    rows = 2 if cv_mean is not None else 1
    figure, axes = new_figure(rows, 1, width=7.6, height=3.3 * rows + 0.4, sharex=True, squeeze=False)
    top = axes[0, 0]
    order = np.argsort(-np.abs(coefs).max(axis=1))
    colours = [f"C{i % 10}" for i in range(len(names))]
    for rank, j in enumerate(order):
        named = rank < _PATH_LABELS and bool(np.any(coefs[j] != 0))
        top.plot(alphas, coefs[j], color=colours[rank] if named else "0.6", linewidth=1.4 if named else 0.8,
                 label=literal(names[j]) if named else None)
    top.axhline(0.0, color="0.35", linewidth=0.8)
    top.set_xscale("log")
    top.set_ylabel(coef_label)
    top.set_title("Coefficient path" + ("" if len(names) <= _PATH_LABELS else
                                          f" (the {_PATH_LABELS} largest named)"))
    top.grid(True, alpha=0.3)
    if chosen is not None:
        for ax in axes[:, 0]:
            ax.axvline(chosen, color="black", linewidth=1.2, linestyle="--")
    handles, labels = top.get_legend_handles_labels()
    if chosen is not None:
        from matplotlib.lines import Line2D  # noqa: PLC0415

        handles.append(Line2D([], [], color="black", linestyle="--"))
        labels.append(f"chosen {penalty_label.split(' ')[0]} = {chosen:.4g}")
    top.legend(handles, labels, loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8, frameon=False)
    if rows == 2:
        _cv_panel(axes[1, 0], alphas, cv_mean, cv_se, alpha_1se, score_label, better)
    axes[-1, 0].set_xlabel(penalty_label + " (log scale)")
    return figure


def _cv_panel(axes, alphas, cv_mean, cv_se, alpha_1se, score_label, better):
    mean = float_array(cv_mean, "cv_mean", len(alphas), name="figure_regularization_path")
    se = None if cv_se is None else float_array(cv_se, "cv_se", len(alphas), name="figure_regularization_path")
    axes.errorbar(alphas, mean, yerr=se, fmt="o-", markersize=3, color="tab:red", ecolor="0.6",
                  elinewidth=0.8, capsize=2, linewidth=1.2, label="mean over folds ± 1 s.e." if se is not None
                  else "mean over folds")
    if alpha_1se is not None:
        axes.axvline(alpha_1se, color="tab:green", linewidth=1.0, linestyle=":", label="one-standard-error rule")
    axes.set_ylabel(score_label)
    axes.set_title(f"Cross-validation ({better} is better)")
    axes.grid(True, alpha=0.3)
    axes.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8, frameon=False)


def figure_criterion_path(sizes, values, *, chosen: int, criterion: str, names=None):
    """The selection criterion of forward stepwise against model size d (M_0 … M_K), the
    chosen size d* marked; ``names`` (the variable entering at each step, from M_1) label
    the x ticks when there are few."""
    sizes = float_array(sizes, "sizes", name="figure_criterion_path")
    values = float_array(values, "values", len(sizes), name="figure_criterion_path")
    figure, axes = new_figure(width=7.0, height=3.8)
    axes.plot(sizes, values, "o-", color="tab:blue", markersize=4, label=criterion)
    where = np.flatnonzero(sizes == chosen)
    if where.size:
        axes.plot([chosen], [values[where[0]]], "o", color="tab:red", markersize=9, fillstyle="none",
                  markeredgewidth=2, label=f"chosen size d* = {chosen}")
    axes.set_xlabel("number of predictors d")
    axes.set_ylabel(criterion)
    axes.set_title("Forward stepwise: criterion by model size")
    if names is not None and len(sizes) <= 20:
        labels = ["(mean only)"] + [f"+ {literal(n)}" for n in names]
        axes.set_xticks(sizes, [f"{labels[int(d)]}  {int(d)}" if int(d) < len(labels) else str(int(d))
                                for d in sizes], fontsize=7, rotation=40, ha="right", rotation_mode="anchor")
        axes.set_xlabel("number of predictors d (and the variable that entered)")
    axes.grid(True, alpha=0.3)
    axes.legend(loc="best", fontsize=8)
    return figure


def figure_scree(ratio, *, kept: int, cv_mse=None):
    """Principal components: each one's share of the variance of X (bars) and the cumulative
    share (line), the kept components highlighted; beside it the CV mean squared error of
    the regression on the first M components, M = 1 … len(cv_mse)."""
    ratio = float_array(ratio, "ratio", name="figure_scree")
    panels = 2 if cv_mse is not None else 1
    figure, axes = new_figure(1, panels, width=min(4.4 * panels + 0.4, MAX_WIDTH_IN), height=3.6, squeeze=False)
    left = axes[0, 0]
    components = np.arange(1, len(ratio) + 1)
    colours = ["tab:blue" if m <= kept else "0.7" for m in components]
    left.bar(components, ratio, color=colours, label="share of variance")
    left.plot(components, np.cumsum(ratio), "o-", color="tab:orange", markersize=3, label="cumulative share")
    left.set_ylim(0, 1.05)
    left.set_xlabel("principal component")
    left.set_ylabel("share of the variance of X")
    left.set_title(f"Scree ({kept} kept, in blue)")
    left.legend(loc="center right", fontsize=8)
    left.grid(True, axis="y", alpha=0.3)
    if cv_mse is not None:
        mse = float_array(cv_mse, "cv_mse", name="figure_scree")
        right = axes[0, 1]
        m = np.arange(1, len(mse) + 1)
        right.plot(m, mse, "o-", color="tab:red", markersize=3)
        if 1 <= kept <= len(mse):
            right.plot([kept], [mse[kept - 1]], "o", color="black", markersize=9, fillstyle="none",
                       markeredgewidth=2, label=f"chosen M = {kept}")
            right.legend(loc="upper right", fontsize=8)
        right.set_xlabel("components M")
        right.set_ylabel("CV mean squared error")
        right.set_title("Cross-validation")
        right.grid(True, alpha=0.3)
    return figure


def figure_classifier_curves(y_true, proba, labels):
    """ROC (with its AUC), precision-recall (with the average precision) and calibration
    (observed share of positives per bin of predicted probability) curves, computed by
    :mod:`chainrule.metrics`.

    Args:
        y_true: class indices 0..K−1.
        proba: P(class 1) (n,) for two classes, or (n, K) probabilities.
        labels: the K class labels. With more than two classes each class is drawn
            one-vs-rest (up to 10), and the calibration panel shows the top class's
            probability against whether it was right.
    """
    from .. import metrics  # noqa: PLC0415

    y = np.asarray(y_true).astype(np.int64)
    scores = np.asarray(proba, dtype=np.float64)
    if scores.ndim == 2 and scores.shape[1] == 2:
        scores = scores[:, 1]
    binary = scores.ndim == 1
    columns = [(1, scores)] if binary else [(k, scores[:, k]) for k in range(min(scores.shape[1], 10))]
    figure, (roc_ax, pr_ax, cal_ax) = new_figure(1, 3, width=MAX_WIDTH_IN, height=3.5)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", metrics.UndefinedMetricWarning)
        for k, score in columns:
            positive = (y == k).astype(np.int64)
            if positive.min() == positive.max():
                continue
            name = "" if binary else f"{literal(labels[k])}: "
            fpr, tpr, _ = metrics.roc_curve(positive, score)
            roc_ax.plot(fpr, tpr, linewidth=1.4, label=f"{name}AUC {metrics.roc_auc(positive, score):.3f}")
            precision, recall, _ = metrics.precision_recall_curve(positive, score)
            pr_ax.plot(recall, precision, linewidth=1.4,
                       label=f"{name}AP {metrics.average_precision(positive, score):.3f}")
        hit, confidence = ((y == 1).astype(np.int64), scores) if binary else (
            (scores.argmax(axis=1) == y).astype(np.int64), scores.max(axis=1))
        observed, predicted = metrics.calibration_curve(hit, confidence, n_bins=10, pos_label=1)
    roc_ax.plot([0, 1], [0, 1], color="0.5", linestyle="--", linewidth=0.8)
    _style(roc_ax, "false positive rate", "true positive rate", "ROC" + ("" if binary else " (one-vs-rest)"))
    _style(pr_ax, "recall", "precision", "Precision-recall")
    cal_ax.plot([0, 1], [0, 1], color="0.5", linestyle="--", linewidth=0.8, label="perfect calibration")
    cal_ax.plot(predicted, observed, "o-", color="tab:purple", markersize=4, label="model (10 bins)")
    _style(cal_ax, f"predicted P({literal(labels[1])})" if binary else "predicted P(top class)",
           "observed share" if binary else "observed accuracy", "Calibration")
    cal_ax.legend(loc="lower right", fontsize=8, framealpha=0.85)  # both curves run above the diagonal's end
    for ax, corner in ((roc_ax, "lower right"), (pr_ax, "lower left")):
        if not ax.get_legend_handles_labels()[0]:
            continue
        if binary:  # one curve, far from that corner
            ax.legend(loc=corner, fontsize=8, framealpha=0.85)
        else:  # many curves: the legend goes below the axes, over none of them
            ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.2), ncols=2, fontsize=7, frameon=False)
    return figure


def figure_coefficient_bars(names, values, *, title: str, xlabel: str,
                            omit=("const", "Intercept", "intercept")):
    """Point estimates without intervals (penalized fits have no standard errors here), one
    horizontal bar per term, largest magnitude on top, zero estimates listed in the title."""
    names = [str(n) for n in names]
    values = float_array(values, "values", len(names), name="figure_coefficient_bars")
    keep = [j for j, n in enumerate(names) if n not in set(omit)] or list(range(len(names)))
    nonzero = [j for j in keep if values[j] != 0] or keep
    order = sorted(nonzero, key=lambda j: -abs(values[j]))
    figure, axes = new_figure(height=max(2.2, 1.2 + 0.3 * len(order)))
    rows = np.arange(len(order))
    axes.barh(rows, values[order], color=["tab:blue" if values[j] >= 0 else "tab:red" for j in order])
    axes.axvline(0.0, color="0.35", linewidth=0.8)
    axes.set_yticks(rows, [literal(names[j]) for j in order])
    axes.set_ylim(len(order) - 0.5, -0.5)
    axes.set_xlabel(xlabel)
    zero = len(keep) - len(nonzero)
    axes.set_title(title + (f" ({zero} terms at exactly 0 not shown)" if zero else ""))
    axes.grid(True, axis="x", alpha=0.3)
    return figure


def _style(axes, xlabel, ylabel, title):
    axes.set_xlim(-0.02, 1.02)
    axes.set_ylim(-0.02, 1.02)
    axes.set_xlabel(xlabel)
    axes.set_ylabel(ylabel)
    axes.set_title(title)
    axes.grid(True, alpha=0.3)


def _alpha(n: int) -> float:
    return 0.7 if n <= 500 else max(0.08, 0.7 * math.sqrt(500 / n))
