"""The report of a fitted model (``chainrule fit``): results first, per model family.

:func:`add_fit_sections` adds to a :class:`~chainrule.report.Report`, in this order:

1. the estimates: the coefficient table with standard errors and intervals (ols, logit,
   mnlogit: the estimator's ``summary()``), or the tables the caller passes for the models
   without standard errors (ridge, lasso, elastic net, penalized logit, stepwise, pcr: the
   coefficients and the chosen α / C / size / components with the CV score or criterion);
2. the metrics of every split, with, for classifiers, ROC AUC, average precision, log loss
   and the Brier score computed by :mod:`chainrule.metrics` on the rows in memory;
3. the figures that matter for the model family:

   ========================  ==========================================================
   ols                       coefficients per standard deviation of each term with 95%
                             intervals; residuals vs fitted, normal QQ, leverage vs
                             studentized residual; predicted vs actual
   logit                     coefficients (log-odds per standard deviation) with 95%
                             intervals; ROC, precision-recall, calibration; confusion
   mnlogit                   ROC / precision-recall one-vs-rest, calibration; confusion
   ridge, lasso, elasticnet  coefficient path with the chosen α and the CV curve with
                             ± 1 s.e. bars; predicted vs actual; residuals
   logit --penalty           the path over C with the CV accuracy (or the coefficients
                             at the given C); ROC, precision-recall, calibration; confusion
   stepwise                  the criterion by model size; predicted vs actual; residuals
   pcr                       scree and cumulative variance, CV error by M; predicted vs
                             actual; residuals
   mlp (networks)            loss curves, metric curves, gradient norm and learning
                             rate; then the regression or classifier figures
   ========================  ==========================================================

4. the remaining results (average marginal effects);
5. the run's details, collapsed after the results by :class:`~chainrule.report.Report`:
   the settings that were given (those left unset are omitted), the data profile and the
   timings.

Standardized coefficients are b_j · sd(x_j) (the change in the target, or in the log-odds,
for a one-standard-deviation change in term j, with the interval scaled alike), so a dummy
and a continuous term share one readable axis; sd is taken over the training rows.
"""
from __future__ import annotations

import dataclasses
import warnings

import numpy as np

from . import figures as fig
from . import model_figures as mfig

__all__ = ["FitRun", "add_fit_sections"]

PENALIZED = ("ridge", "lasso", "elasticnet")


@dataclasses.dataclass
class FitRun:
    """What :func:`add_fit_sections` reports about one fit.

    Attributes:
        model: the ``--model`` name (ols, logit, mnlogit, ridge, lasso, elasticnet,
            stepwise, pcr, mlp …).
        task: "regression", "binary" or "multiclass".
        target: the target column's name.
        feature_names: the encoded columns of X.
        metrics: split name -> metric name -> value (``{"train": {...}, "validation": {...}}``).
        estimator: the fitted ``chainrule.stats`` estimator (None for a network).
        history: the Trainer's History (None for a statistical model).
        estimate_tables: the coefficient tables of the models without ``summary()``
            (objects with ``as_html()`` and a ``title``).
        predict_scores, predict_classes: callables on an X array (regression: ŷ; binary:
            P(class 1); multiclass: (n, K) probabilities / class indices).
        X_train, y_train, X_eval, y_eval: rows in memory (for a chunked fit, samples);
            ``eval_split`` names the evaluation rows ("validation", "training", …).
        classes: the class labels of a classifier.
        settings, data_summary, timings: the run's details.
        summary: the coefficient table to show for ols / logit / mnlogit (default: the
            estimator's ``summary()``; e.g. one on the original scale of standardized inputs).
        margeff: the marginal effects summary (logit), or None.
        standardized: X_train holds standardized columns (the path is then drawn on that scale).
        sample_note: a note when the rows in memory are a sample (chunked fits).
    """

    model: str
    task: str
    target: str
    feature_names: list
    metrics: dict
    estimator: object = None
    history: object = None
    estimate_tables: list = dataclasses.field(default_factory=list)
    predict_scores: object = None
    predict_classes: object = None
    X_train: object = None
    y_train: object = None
    X_eval: object = None
    y_eval: object = None
    eval_split: str = "validation"
    classes: list | None = None
    settings: dict = dataclasses.field(default_factory=dict)
    data_summary: dict = dataclasses.field(default_factory=dict)
    timings: dict = dataclasses.field(default_factory=dict)
    summary: object = None
    margeff: object = None
    standardized: bool = False
    sample_note: str = ""


def add_fit_sections(report, run: FitRun):
    """Add the sections of a fit's report to ``report`` (see the module docstring); titles
    are passed first (or as ``title=``) so a wrapper that prefixes titles works."""
    estimator = run.estimator
    if run.summary is not None:
        report.add_summary("Coefficients", run.summary)
    elif estimator is not None and hasattr(estimator, "summary") and not run.estimate_tables:
        report.add_summary("Coefficients", estimator.summary())
    for table in run.estimate_tables:
        report.add_summary(table.title, table)
    report.add_table("Metrics", metric_rows(run))
    if run.history is not None:
        _network_figures(report, run)
    if estimator is not None:
        _model_figures(report, run)
    _prediction_figures(report, run)
    if run.margeff is not None:
        report.add_summary("Average marginal effects", run.margeff)
    report.add_settings({k: v for k, v in run.settings.items() if v is not None}, title="Run settings")
    report.add_data_summary(run.data_summary, title="Data")
    report.add_timings(run.timings, title="Timings")
    return report


def metric_rows(run: FitRun) -> list:
    """One row per split: the caller's metrics, then for a classifier the ones
    :mod:`chainrule.metrics` adds on the rows in memory (none for a sample)."""
    rows = [{"split": split, **values} for split, values in run.metrics.items()]
    if run.task == "regression" or run.predict_scores is None or run.sample_note:
        return rows
    splits = {"train": (run.X_train, run.y_train)}
    if run.eval_split == "validation":
        splits["validation"] = (run.X_eval, run.y_eval)
    for row in rows:
        X, y = splits.get(row["split"], (None, None))
        if X is not None and len(y):
            row.update(classifier_metrics(y, run.predict_scores(X), len(run.classes or ())))
            if "n" in row:
                row["n"] = row.pop("n")  # the row count last
    return rows


def classifier_metrics(y, proba, n_classes: int) -> dict:
    """ROC AUC, average precision (two classes), log loss and Brier score from
    :mod:`chainrule.metrics`; a metric that is undefined on these rows is left out."""
    from .. import metrics  # noqa: PLC0415

    y = np.asarray(y).astype(np.int64)
    proba = np.asarray(proba, dtype=np.float64)
    labels = list(range(n_classes))
    found = {}
    calls = {"roc_auc": lambda: metrics.roc_auc(y, proba) if proba.ndim == 1 else
             metrics.roc_auc(y, proba, multi_class="ovr", labels=labels),
             "average_precision": lambda: metrics.average_precision(y, proba) if proba.ndim == 1 else None,
             "log_loss": lambda: metrics.log_loss(y, proba, labels=labels),
             "brier": lambda: metrics.brier_score(y, proba) if proba.ndim == 1 else
             metrics.brier_score(y, proba, labels=labels)}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for name, call in calls.items():
            try:
                value = call()
            except (ValueError, TypeError):
                continue
            if value is not None and np.isfinite(value):
                found[name] = float(value)
    return found


# ---------------------------------------------------------------------- figures per family

def _network_figures(report, run: FitRun) -> None:
    loss_name = {"regression": "MSE", "binary": "binary cross-entropy"}.get(run.task, "cross-entropy")
    report.add_figure("Loss curves", fig.figure_loss_curves(run.history, loss_name=loss_name))
    metric_figure = fig.figure_metric_curves(run.history)
    if metric_figure is not None:
        report.add_figure("Metric curves", metric_figure)
    report.add_figure("Gradient norm and learning rate", fig.figure_gradient_and_lr(run.history))


def _model_figures(report, run: FitRun) -> None:
    estimator, model = run.estimator, run.model
    if model in ("ols", "logit") and hasattr(estimator, "conf_int"):
        figure = _standardized_coefficients(run)
        if figure is not None:
            report.add_figure("Coefficient plot", figure, caption=(
                "Estimates with 95% confidence intervals, each multiplied by the standard deviation of its term "
                "over the training rows, so continuous terms and dummies share one axis (the intercept is not "
                "shown)."))
    elif model in PENALIZED or (model == "logit" and hasattr(estimator, "penalty")):
        _penalized_figure(report, run)
    elif model == "stepwise":
        sizes = np.arange(len(estimator.criterion_values_))
        names = [str(run.feature_names[j]) for j in getattr(estimator, "order_", [])]
        report.add_figure("Stepwise criterion path", mfig.figure_criterion_path(
            sizes, estimator.criterion_values_, chosen=int(estimator.best_size_),
            criterion=str(estimator.criterion), names=names or None),
            caption="The criterion of the best model of each size M_0 … M_K; the chosen size is circled.")
    elif model == "pcr":
        report.add_figure("Scree and cross-validation", mfig.figure_scree(
            estimator.pca_.explained_variance_ratio_, kept=int(estimator.n_components_), cv_mse=estimator.cv_mse_),
            caption="Share of the variance of the standardized X per component (blue: kept) and the CV error "
                    "of the regression on the first M components.")


def _standardized_coefficients(run: FitRun):
    estimator = run.estimator
    values = np.asarray(estimator.params, dtype=np.float64)
    if values.ndim != 1:
        return None
    interval = np.asarray(estimator.conf_int(), dtype=np.float64)
    results = getattr(estimator, "results_", estimator)
    names = getattr(estimator, "param_names_", None) or getattr(results, "names", None)
    if names is None or len(names) != len(values):
        names = [f"b{j}" for j in range(len(values))]
    names = [str(n) for n in names]
    scale = np.ones(len(values))
    if run.X_train is not None and len(run.X_train) > 1:
        sd = np.asarray(run.X_train, dtype=np.float64).std(axis=0, ddof=1)
        column = {str(name): j for j, name in enumerate(run.feature_names)}
        scale = np.array([sd[column[n]] if n in column and sd[column[n]] > 0 else 1.0 for n in names])
    unit = "log-odds" if run.model == "logit" else _target_phrase(run.target)
    return fig.figure_coefficients(names, values * scale, interval[:, 0] * scale, interval[:, 1] * scale,
                                   xlabel=f"change in {unit} per standard deviation of the term")


def _target_phrase(target: str) -> str:
    return str(target) if target else "the target"


def _penalized_figure(report, run: FitRun) -> None:
    path = penalized_path(run)
    if path is not None:
        report.add_figure("Regularization path and cross-validation", mfig.figure_regularization_path(**path),
                          caption=path_caption(run))
        return
    coef = np.asarray(run.estimator.coef_, dtype=np.float64).reshape(-1)
    unit = "log-odds" if run.model == "logit" else _target_phrase(run.target)
    report.add_figure("Coefficient plot", mfig.figure_coefficient_bars(
        run.feature_names, coef, title="Penalized coefficients", xlabel=f"coefficient ({unit} per unit of the term)"))


def path_caption(run: FitRun) -> str:
    if run.model == "logit":
        return ("Coefficients (log-odds) along the grid of C, averaged over the CV folds, and the mean CV "
                "accuracy ± 1 standard error; the dashed line is the chosen C.")
    return ("Coefficients along the penalty grid, fitted on the training rows, and the mean CV error ± 1 "
            "standard error over the folds; the dashed line is the chosen α.")


def penalized_path(run: FitRun) -> dict | None:
    """The keyword arguments of ``figure_regularization_path`` for a penalized fit, from
    what the estimator kept (its CV grid and scores) and one path fitted on the training
    rows; None when there is nothing to draw a path from."""
    from .. import stats  # noqa: PLC0415

    estimator, model, names = run.estimator, run.model, list(map(str, run.feature_names))
    intercept = bool(getattr(estimator, "fit_intercept", True))
    if model == "logit":
        return _logit_path(estimator, names) if hasattr(estimator, "Cs_") else None
    if run.X_train is None or run.y_train is None or run.sample_note:
        return None
    X, y = np.asarray(run.X_train, dtype=np.float64), np.asarray(run.y_train, dtype=np.float64)
    cv = {}
    if model == "ridge":
        cross_validated = hasattr(estimator, "cv_errors_")
        alphas = np.asarray(estimator.alphas if cross_validated else np.logspace(-4, 4, 33), dtype=np.float64)
        chosen = float(estimator.alpha_ if cross_validated else estimator.alpha)
        if not cross_validated:
            alphas = np.union1d(alphas, [chosen]) if chosen > 0 else alphas
        keep = alphas > 0  # a log axis
        alphas = alphas[keep]
        coefs = stats.ridge_path(X, y, alphas, fit_intercept=intercept)[0].T
        if cross_validated:
            cv = _fold_summary(np.asarray(estimator.cv_errors_)[keep], _folds(estimator, keep))
    elif model == "lasso":
        grid = getattr(estimator, "alphas_", None)
        coefs = stats.lasso_path(X, y, alphas=grid, fit_intercept=intercept)
        alphas, coefs = np.asarray(coefs.alphas), np.asarray(coefs.coefs)
        chosen = _alpha(estimator)
        if hasattr(estimator, "cv_mean_"):
            cv = {"cv_mean": estimator.cv_mean_, "cv_se": estimator.cv_se_, "alpha_1se": estimator.alpha_1se_}
    else:
        ratio = float(estimator.l1_ratio_ if hasattr(estimator, "l1_ratio_") else estimator.l1_ratio)
        grid = getattr(estimator, "alphas_", None)
        grid = None if grid is None or np.ndim(grid) != 1 else grid
        path = stats.enet_path(X, y, l1_ratio=ratio, alphas=grid, fit_intercept=intercept)
        alphas, coefs = np.asarray(path.alphas), np.asarray(path.coefs)
        chosen = _alpha(estimator)
        mse = getattr(estimator, "mse_path_", None)
        if mse is not None and np.ndim(mse) == 2 and grid is not None:
            cv = _fold_summary(np.asarray(mse).mean(axis=1), np.asarray(mse).T)
    label = "coefficient (standardized features)" if run.standardized else "coefficient"
    return {"alphas": alphas, "coefs": coefs, "names": names, "chosen": chosen, "coef_label": label, **cv}


def _alpha(estimator) -> float:
    """The chosen penalty of a CV fit, or the given one."""
    return float(estimator.alpha_ if hasattr(estimator, "alpha_") else estimator.alpha)


def _folds(estimator, keep):
    folds = getattr(estimator, "fold_errors_", None)
    if folds is None or np.ndim(folds) != 2:
        return None
    folds = np.asarray(folds, dtype=np.float64)
    return folds[:, keep] if folds.shape[1] == keep.size else folds[keep].T


def _fold_summary(mean, per_fold) -> dict:
    """cv_mean and, from the per-fold errors (folds × alphas), the standard error sd/√K."""
    summary = {"cv_mean": np.asarray(mean, dtype=np.float64)}
    if per_fold is not None and np.ndim(per_fold) == 2 and np.shape(per_fold)[0] > 1:
        folds = np.asarray(per_fold, dtype=np.float64)
        if folds.shape[1] != summary["cv_mean"].size:
            folds = folds.T
        if folds.shape[1] == summary["cv_mean"].size:
            summary["cv_se"] = folds.std(axis=0, ddof=1) / np.sqrt(folds.shape[0])
    return summary


def _logit_path(estimator, names: list) -> dict:
    ratio = int(np.flatnonzero(estimator.l1_ratios_ == estimator.l1_ratio_)[0])
    scores = np.asarray(estimator.scores_, dtype=np.float64)[:, ratio, :]  # folds x Cs
    paths = np.asarray(estimator.coefs_paths_, dtype=np.float64)[:, ratio]  # folds x Cs x M x k
    coefs = paths.mean(axis=0)[:, 0, :len(names)].T  # the intercept, when fitted, is last
    return {"alphas": np.asarray(estimator.Cs_, dtype=np.float64), "coefs": coefs, "names": names,
            "chosen": float(estimator.C_), "cv_mean": scores.mean(axis=0),
            "cv_se": scores.std(axis=0, ddof=1) / np.sqrt(scores.shape[0]) if scores.shape[0] > 1 else None,
            "score_label": "CV accuracy", "penalty_label": "C (inverse penalty)", "better": "higher"}


def _prediction_figures(report, run: FitRun) -> None:
    if run.X_eval is None or run.y_eval is None or not len(run.y_eval):
        return
    split = f"{run.eval_split} rows{run.sample_note}"
    if run.task == "regression":
        predicted = np.asarray(run.predict_scores(run.X_eval), dtype=np.float64).reshape(-1)
        report.add_figure(f"Predicted vs actual ({split})",
                          fig.figure_predicted_vs_actual(run.y_eval, predicted, target_name=run.target))
        if run.sample_note:  # a chunked fit: the bounded sample's prediction figure is enough
            return
        figure, where = _residual_figure(run, predicted)
        report.add_figure(where or f"Residuals ({split})", figure)
        return
    labels = [str(label) for label in run.classes]
    report.add_figure(f"ROC, precision-recall and calibration ({split})",
                      mfig.figure_classifier_curves(run.y_eval, run.predict_scores(run.X_eval), labels))
    report.add_figure(f"Confusion matrix ({split})",
                      fig.figure_confusion_matrix(run.y_eval, run.predict_classes(run.X_eval), labels))


def _residual_figure(run: FitRun, predicted):
    """OLS in memory: on the training rows with leverage and studentized residuals from
    its influence measures; otherwise residuals of the evaluation rows. Returns (figure,
    the section's title when its rows are not the evaluation rows)."""
    results = getattr(run.estimator, "results_", None)
    if run.model == "ols" and results is not None and hasattr(results, "get_influence") and not run.sample_note:
        try:
            influence = results.get_influence()
        except ValueError:  # a streamed fit keeps no rows
            influence = None
        if influence is not None:
            resid = np.asarray(influence.resid, dtype=np.float64)
            fitted = np.asarray(run.y_train, dtype=np.float64) - resid
            return mfig.figure_residual_diagnostics(
                fitted, resid, studentized=influence.resid_studentized_external,
                leverage=influence.hat_matrix_diag, n_params=influence.k_vars, target_name=run.target), \
                "Residuals and leverage (training rows)"
    y = np.asarray(run.y_eval, dtype=np.float64).reshape(-1)
    return mfig.figure_residual_diagnostics(predicted, y - predicted, target_name=run.target), None
