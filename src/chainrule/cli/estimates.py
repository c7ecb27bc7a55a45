"""What a fitted model estimated, as tables for the console and the report.

OLS, Logit and MNLogit have their own ``summary()`` (estimates with standard errors). The
models without standard errors get a coefficient table here, with what chose them:

* ridge, lasso, elastic net: the intercept and the slopes, the penalty α (and the l1 ratio)
  given by ``--alpha`` or chosen by cross-validation, with the CV mean squared error at the
  chosen α (leave-one-out for ridge without ``--cv``);
* penalized logit (``--penalty``): the coefficients of log-odds of the second class, C (given
  by ``--C`` or chosen by ``--cv``) and the mean CV accuracy at the chosen C;
* forward stepwise: the final model M_{d*}'s coefficients (the path is its own summary) and
  the criterion value that chose it;
* PCR: the coefficients on the original features (β = V_M γ) and the components kept (their
  share of the variance of X and γ), with the CV mean squared error that chose M.

:func:`estimates_tables` returns them as :class:`chainrule.stats.inference.Table` (text for
the console, HTML for the report); :func:`chosen_settings` the chosen values as numbers (for
``metrics.json`` and the tests).
"""
from __future__ import annotations

import numpy as np

PENALIZED_NOTE = ("penalized estimates have no standard errors here: the penalty biases them, "
                  "so the usual Wald intervals do not apply")


def chosen_settings(kind: str, estimator) -> dict:
    """The tuning values of a fitted model and the score that chose them (JSON-able)."""
    chosen = {}
    if kind in ("ridge", "lasso", "elasticnet"):
        cv = hasattr(estimator, "alpha_")
        chosen["alpha"] = float(estimator.alpha_ if cv else estimator.alpha)
        if kind == "elasticnet":
            chosen["l1_ratio"] = float(estimator.l1_ratio_ if cv else estimator.l1_ratio)
        score = _cv_mse(kind, estimator)
        if score is not None:
            chosen["cv_mse"] = score
    elif kind == "logit" and hasattr(estimator, "C_"):
        chosen["C"] = float(estimator.C_)
        if estimator.penalty == "elasticnet":
            chosen["l1_ratio"] = float(estimator.l1_ratio_)
        best = int(np.flatnonzero(estimator.Cs_ == estimator.C_)[0])
        ratio = int(np.flatnonzero(estimator.l1_ratios_ == estimator.l1_ratio_)[0])
        chosen["cv_accuracy"] = float(estimator.scores_[:, ratio, best].mean())
    elif kind == "logit" and hasattr(estimator, "penalty"):
        chosen["C"] = float(estimator.C)
        if estimator.penalty == "elasticnet":
            chosen["l1_ratio"] = float(estimator.l1_ratio)
    elif kind == "stepwise":
        chosen["size"] = int(estimator.best_size_)
        chosen[estimator.criterion] = float(estimator.criterion_values_[estimator.best_size_])
    elif kind == "pcr":
        chosen["n_components"] = int(estimator.n_components_)
        if estimator.cv_mse_ is not None:
            chosen["cv_mse"] = float(estimator.cv_mse_[estimator.n_components_ - 1])
    return chosen


def _cv_mse(kind: str, estimator):
    """The cross-validated mean squared error at the chosen alpha, None for a given alpha."""
    if kind == "ridge" and hasattr(estimator, "cv_errors_"):
        return float(-estimator.best_score_)
    if kind == "lasso" and hasattr(estimator, "cv_mean_"):
        return float(estimator.cv_mean_[np.flatnonzero(estimator.alphas_ == estimator.alpha_)[0]])
    if kind == "elasticnet" and hasattr(estimator, "mse_path_"):
        best = np.flatnonzero(estimator.alphas_ == estimator.alpha_)[0]
        return float(estimator.mse_path_[best].mean())
    return None


def has_estimates_table(kind: str, estimator) -> bool:
    """True for the models :func:`estimates_tables` describes."""
    return kind in ("ridge", "lasso", "elasticnet", "stepwise", "pcr") or (
        kind == "logit" and hasattr(estimator, "penalty"))


def estimates_tables(kind: str, estimator, feature_names, target: str, n_rows: int, cv=None, *,
                     scaling=None, scaling_note: str | None = None) -> list:
    """The tables of what ``estimator`` (a fitted ``--model kind``) estimated: the
    coefficients, and for pcr the components kept. ``scaling``: the (mean, sd) of the
    standardized features the model was fitted on; the coefficients are then shown on the
    original scale (:func:`chainrule.cli.scaling.to_original`) beside the fitted ones, with
    ``scaling_note`` below."""
    from ..stats.inference import Table

    chosen = chosen_settings(kind, estimator)
    coef = np.asarray(estimator.coef_, dtype=np.float64).reshape(-1)
    intercept = float(np.asarray(estimator.intercept_, dtype=np.float64).reshape(-1)[0])
    columns = [(coef, intercept)]
    if scaling is not None:
        from .scaling import to_original

        original, shift = to_original(coef, intercept, scaling)
        columns = [(original, float(shift)), (coef, intercept)]
    names = [str(name) for name in feature_names]
    info = [("Dep. variable", target), ("Observations", n_rows)] + _choice_info(kind, estimator, chosen, cv)
    rows = [["intercept"] + [_number(b0) for _, b0 in columns]] if _has_intercept(estimator) else []
    keep = estimator.support_ if kind == "stepwise" else np.ones(len(names), dtype=bool)
    rows += [[name] + [_number(b[j]) for b, _ in columns] for j, name in enumerate(names) if keep[j]]
    heading = "coef (log-odds)" if kind == "logit" else "coef"
    headings = ["", heading] + (["standardized"] if scaling is not None else [])
    notes = [] if kind == "stepwise" else [PENALIZED_NOTE] if kind != "pcr" else [
        "coefficients on the original features: β = V_M γ, V_M the loadings of the components kept"]
    if scaling_note:
        notes.append(scaling_note + "; 'standardized': the fitted coefficients, per standard deviation")
    tables = [Table(_TITLES[kind], info, headings, rows, notes)]
    if kind == "pcr":
        tables.append(_components_table(estimator))
    return tables


_TITLES = {
    "ridge": "Ridge Regression (L2-penalized least squares)",
    "lasso": "Lasso Regression (L1-penalized least squares)",
    "elasticnet": "Elastic Net Regression (L1 + L2-penalized least squares)",
    "logit": "Penalized Logistic Regression",
    "stepwise": "Forward Stepwise: Final Model",
    "pcr": "Principal Component Regression",
}


def _has_intercept(estimator) -> bool:
    return bool(getattr(estimator, "fit_intercept", True))


def _choice_info(kind: str, estimator, chosen: dict, cv) -> list:
    """(label, value) pairs: the tuning values, how they were chosen and the score."""
    info = []
    if kind in ("ridge", "lasso", "elasticnet"):
        how = "given by --alpha" if "cv_mse" not in chosen else (
            f"{cv}-fold CV" if cv else "leave-one-out CV" if kind == "ridge" else "5-fold CV")
        info.append(("alpha", f"{_number(chosen['alpha'])} ({how})"))
        if "l1_ratio" in chosen:
            info.append(("l1_ratio", _number(chosen["l1_ratio"])))
        if "cv_mse" in chosen:
            info.append(("CV mean squared error", _number(chosen["cv_mse"])))
        info.append(("Nonzero coefficients", int(np.count_nonzero(estimator.coef_))))
    elif kind == "logit":
        how = f"{cv or 5}-fold CV" if "cv_accuracy" in chosen else "given by --C"
        info += [("Penalty", estimator.penalty), ("C", f"{_number(chosen['C'])} ({how})")]
        if "l1_ratio" in chosen:
            info.append(("l1_ratio", _number(chosen["l1_ratio"])))
        if "cv_accuracy" in chosen:
            info.append(("CV accuracy", _number(chosen["cv_accuracy"])))
    elif kind == "stepwise":
        label = {"cv": "CV mean squared error", "adjr2": "adj. R2"}.get(estimator.criterion,
                                                                          estimator.criterion.upper())
        info += [("Chosen size", chosen["size"]), ("Criterion", estimator.criterion),
                 (label, _number(chosen[estimator.criterion]))]
    elif kind == "pcr":
        how = f"{cv or 5}-fold CV" if "cv_mse" in chosen else "given by --n-components"
        info.append(("Components kept", f"{chosen['n_components']} ({how})"))
        if "cv_mse" in chosen:
            info.append(("CV mean squared error", _number(chosen["cv_mse"])))
    return info


def _components_table(estimator):
    from ..stats.inference import Table

    pca = estimator.pca_
    ratio = np.asarray(pca.explained_variance_ratio_, dtype=np.float64)
    rows = [[f"PC{j + 1}", _number(ratio[j]), _number(ratio[: j + 1].sum()), _number(estimator.gamma_[j])]
            for j in range(estimator.n_components_)]
    return Table("PCR: Components Kept", [], ["component", "variance share", "cumulative", "gamma"], rows,
                 ["gamma: the coefficient of y on the component's scores"])


def _number(value) -> str:
    """A number with 6 significant digits (the tables' readers compare them with the library)."""
    value = float(value)
    return f"{value:.6g}"
