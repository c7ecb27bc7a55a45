r"""The fit shared by the DML models: data checks, sample splits, and the loop over
repetitions and treatments.

For each repetition s (a partition of the rows into K folds, :mod:`chainrule.causal.folds`)
and each treatment j, the model cross-fits its nuisance learners
(:mod:`chainrule.causal.crossfit`), forms its score elements (ψ_a, ψ_b)
(:mod:`chainrule.causal.scores`) and solves the score for θ̂_js and se_js. With several
treatments, treatment j's nuisances condition on the controls X and the other treatments
(DoubleML's ``use_other_treat_as_covariate``). The repetitions are then aggregated
(:mod:`chainrule.causal.aggregation`) into a :class:`~chainrule.causal.results.DMLResults`.
"""
from __future__ import annotations

from ..engine import backend
from ..stats.estimator import Estimator
from .aggregation import SE_AGGREGATIONS
from .clusters import cluster_codes, cluster_fold_sets, make_cluster_folds, solve_clustered_score
from .crossfit import cross_fit, out_of_fold_loss
from .folds import check_folds, make_folds
from .results import DMLResults
from .scores import solve_linear_score

np = backend.host

__all__ = ["DMLModel", "as_matrix", "as_vector"]


class DMLModel(Estimator):
    """Base of PLR, IRM and PLIV (the scikit-learn protocol of ``chainrule.stats``). A
    subclass sets ``_model``, ``_scores`` and implements ``_check_learners(d)`` and
    ``_score_elements(X, y, d, z, folds, keep)`` for one treatment and repetition, which
    returns (ψ_a, ψ_b, predictions, losses, models)."""

    _fitted_attribute = "results_"
    _model = "DML"
    _scores: tuple = ()
    _one_treatment = False

    def fit(self, X, y, d, z=None, folds=None, keep_models: bool = False, clusters=None):
        """Estimate the effect of ``d`` (n,) or (n, k) on ``y`` (n,) controlling for ``X``
        (n, p); ``folds``: the sample splits to use (a list of (train, test) index pairs, or
        a list of such lists for several repetitions; default: ``n_folds`` random folds drawn
        ``n_rep`` times with ``random_state``); ``clusters``: the rows' cluster labels, (n,)
        or (n, 2) for two-way clustering, for cluster sample splits and cluster-robust standard
        errors (:mod:`chainrule.causal.clusters`; ``n_folds`` folds per cluster dimension). Sets
        ``results_`` (and ``predictions_``, ``nuisance_loss_``, ``folds_``, ``models_`` when
        ``keep_models``); returns self."""
        model = self._model
        self._check_settings()
        Xv, x_names = as_matrix(X, "X", model)
        n = Xv.shape[0]
        yv, _ = as_vector(y, n, "y", model)
        dv, d_names, named = _treatments(d, n, model)
        if self._one_treatment and dv.shape[1] != 1:
            raise ValueError(f"{model}: one treatment is estimated at a time; d has {dv.shape[1]} columns")
        zv = self._instruments(z, n)
        clustering = None if clusters is None else cluster_codes(clusters, n, model)
        splits = _splits(folds, clustering, n, self.n_folds, self.n_rep, self.random_state, model)
        solvers = [_solver(rep, clustering, model) for rep in splits]
        self._check_learners(dv, yv)
        self._loss_kinds = {}
        k, n_rep = dv.shape[1], len(splits)
        all_coef, all_se, J = np.empty((k, n_rep)), np.empty((k, n_rep)), np.empty((k, n_rep))
        psi = np.empty((n, k, n_rep))
        predictions, losses, models = {}, {}, {}
        for s, rep in enumerate(splits):
            for j in range(k):
                controls = np.column_stack([Xv, np.delete(dv, j, axis=1)]) if k > 1 else Xv
                psi_a, psi_b, preds, loss, fitted = self._score_elements(controls, yv, dv[:, j], zv, rep, keep_models)
                all_coef[j, s], psi[:, j, s], J[j, s], all_se[j, s] = _solve(solvers[s], psi_a, psi_b, model,
                                                                             d_names[j])
                for name, values in preds.items():
                    predictions.setdefault(name, np.full((n, n_rep, k), np.nan))[:, s, j] = values
                for name, value in loss.items():
                    losses.setdefault(name, np.full((n_rep, k), np.nan))[s, j] = value
                if keep_models:
                    for name, value in fitted.items():
                        models.setdefault(name, {}).setdefault(d_names[j], []).append(value)
        self.results_ = DMLResults(all_coef, all_se, psi, J, d_names, model, self.score, len(splits[0]),
                                   self.se_aggregation, losses, named, self._loss_kinds,
                                   clusters=None if clustering is None else _cluster_counts(*clustering))
        self.predictions_, self.nuisance_loss_, self.folds_ = predictions, losses, splits
        self.feature_names_ = x_names
        if keep_models:
            self.models_ = models
        return self

    def summary(self, alpha: float = 0.05):
        """``results_.summary(alpha)``."""
        self._check_fitted()
        return self.results_.summary(alpha)

    def _check_settings(self):
        model = self._model
        if self.score not in self._scores:
            raise ValueError(f"{model}: score must be one of {self._scores}; got {self.score!r}")
        for name, minimum in (("n_folds", 2), ("n_rep", 1)):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
                raise ValueError(f"{model}: {name} must be an int >= {minimum}; got {value!r}")
        if self.se_aggregation not in SE_AGGREGATIONS:
            raise ValueError(f"{model}: se_aggregation must be one of {SE_AGGREGATIONS}; got {self.se_aggregation!r}")

    def _instruments(self, z, n):
        if z is not None:
            raise ValueError(f"{self._model}: this model takes no instruments (z); use PLIV for instrumental variables")
        return None

    def _nuisance(self, learner, X, target, folds, keep, train_rows=None, loss_rows=None, name=None):
        """Cross-fit one learner; returns (predictions, loss, models)."""
        self._loss_kinds[name or learner.name] = "log loss" if learner.proba else "RMSE"
        values, models = cross_fit(learner, X, target, folds, train_rows, keep)
        return values, out_of_fold_loss(target, values, learner.proba, loss_rows), models


def _splits(folds, clustering, n, n_folds, n_rep, random_state, model):
    """The repetitions' (train, test) pairs: drawn (by cluster when ``clustering``), or ``folds`` checked."""
    if folds is not None:
        return check_folds(folds, n, model)
    if clustering is not None:
        return make_cluster_folds(clustering[0], n_folds, n_rep, random_state)
    return make_folds(n, n_folds, n_rep, random_state)


def _solver(rep, clustering, model):
    """The score solver of one repetition: the i.i.d. one, or the cluster-robust one on its folds."""
    if clustering is None:
        return solve_linear_score
    codes = clustering[0]
    K, sets = cluster_fold_sets(codes, rep, model)
    return lambda psi_a, psi_b: solve_clustered_score(psi_a, psi_b, rep, sets, K, codes)


def _cluster_counts(codes, names):
    """{dimension name: number of clusters}."""
    return {name: int(codes[:, j].max() + 1) for j, name in enumerate(names)}


def _solve(solver, psi_a, psi_b, model, name):
    try:
        return solver(psi_a, psi_b)
    except ValueError as error:
        raise ValueError(f"{model}: treatment {name!r}: {error}") from None


def _finite_float64(values, name, model):
    """``values`` as float64, refusing non-numeric dtypes and nan/inf (errors name ``model`` and ``name``)."""
    try:
        values = values.astype(np.float64)
    except (TypeError, ValueError):
        raise TypeError(f"{model}: {name} must be numeric; got dtype {values.dtype}") from None
    if not np.isfinite(values).all():
        raise ValueError(f"{model}: {name} has non-finite values (nan or inf)")
    return values


def as_matrix(X, name, model):
    """A finite float64 2-d array from ``X`` and its column names (strings of a DataFrame, else None)."""
    names = [str(c) for c in X.columns] if hasattr(X, "columns") else None
    values = np.asarray(X.to_numpy() if hasattr(X, "to_numpy") else X)
    if values.ndim == 1:
        values = values.reshape(-1, 1)
    if values.ndim != 2:
        raise ValueError(f"{model}: {name} must be 2-d (rows x columns); got shape {values.shape}")
    values = _finite_float64(values, name, model)
    if values.shape[0] < 4:
        raise ValueError(f"{model}: {name} needs at least 4 rows; got {values.shape[0]}")
    return values, names


def as_vector(v, n, name, model):
    """A finite float64 (n,) array from ``v`` and its name (a Series' name, else None)."""
    label = getattr(v, "name", None)
    values = np.asarray(v.to_numpy() if hasattr(v, "to_numpy") else v)
    if values.ndim == 2 and values.shape[1] == 1:
        values = values[:, 0]
    if values.ndim != 1 or values.shape[0] != n:
        raise ValueError(f"{model}: {name} must have shape ({n},), one value per row of X; got {values.shape}")
    values = _finite_float64(values, name, model)
    return values, label


def _treatments(d, n, model):
    if hasattr(d, "columns"):
        matrix, names = as_matrix(d, "d", model)
        named = True
    else:
        array = np.asarray(d.to_numpy() if hasattr(d, "to_numpy") else d)
        if array.ndim == 2 and array.shape[1] > 1:
            matrix, _ = as_matrix(array, "d", model)
            names, named = [f"d{j + 1}" for j in range(array.shape[1])], False
        else:
            vector, label = as_vector(d, n, "d", model)
            matrix, names, named = vector.reshape(-1, 1), [str(label) if label is not None else "d"], label is not None
    if matrix.shape[0] != n:
        raise ValueError(f"{model}: d must have {n} rows, one per row of X; got {matrix.shape[0]}")
    for j in range(matrix.shape[1]):
        if np.ptp(matrix[:, j]) == 0:
            raise ValueError(f"{model}: treatment {names[j]!r} has no variation (every row is {matrix[0, j]:g})")
    return matrix, names, named
