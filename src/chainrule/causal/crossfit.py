r"""Cross-fitted nuisance predictions and their out-of-fold losses.

For a learner and a split into folds (I_k), the prediction of row i ∈ I_k comes from the
learner fitted on the training rows of fold k (I_k^c, restricted to a subsample where the
nuisance is conditional, e.g. the untreated rows for E[Y | D = 0, X]). Every row thus gets
an out-of-fold prediction η̂(X_i).

The learners' out-of-fold losses (what DoubleML reports as ``nuisance_loss``), over the rows
where the target is defined:

    regression:  RMSE = sqrt(mean((y_i − ŷ_i)²))
    propensity:  log loss = −mean(y_i log p̂_i + (1 − y_i) log(1 − p̂_i)), p̂ clipped to [1e-15, 1 − 1e-15]
"""
from __future__ import annotations

from ..engine import backend

np = backend.host

__all__ = ["cross_fit", "out_of_fold_loss"]


def cross_fit(learner, X, target, folds, train_rows=None, keep_models=False):
    """Out-of-fold predictions of ``learner`` (a :class:`~chainrule.causal.learners.Learner`)
    for ``target`` on ``X`` over one repetition's ``folds``; ``train_rows``: a boolean mask of
    the rows a fold may train on (None: all its training rows). Returns (predictions, models)."""
    predictions = np.full(X.shape[0], np.nan)
    models = []
    for k, (train, test) in enumerate(folds):
        rows = train if train_rows is None else train[train_rows[train]]
        if rows.size == 0:
            raise ValueError(f"{learner.name}: fold {k} has no training rows in the subsample it is fitted on "
                             f"(e.g. no untreated rows for E[Y|D=0,X])")
        values, model = learner.fit_predict(X[rows], target[rows], X[test])
        if values.shape != (test.size,):
            raise ValueError(f"{learner.name}: the learner returned {values.shape} predictions for a test fold of "
                             f"{test.size} rows")
        predictions[test] = values
        if keep_models:
            models.append(model)
    if not np.isfinite(predictions).all():
        raise ValueError(f"{learner.name}: the learner predicted non-finite values (nan or inf)")
    return predictions, models


def out_of_fold_loss(target, predictions, proba: bool, rows=None) -> float:
    """RMSE (regression) or log loss (``proba``) of the predictions over ``rows`` (a boolean mask; all)."""
    if rows is not None:
        target, predictions = target[rows], predictions[rows]
    if target.size == 0:
        return float("nan")
    if proba:
        p = np.clip(predictions, 1e-15, 1 - 1e-15)
        return float(-np.mean(target * np.log(p) + (1 - target) * np.log(1 - p)))
    return float(np.sqrt(np.mean((target - predictions) ** 2)))
