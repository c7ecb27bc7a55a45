r"""Penalized logistic regression with scikit-learn's objective, API and results:
:class:`LogisticRegression` and :class:`LogisticRegressionCV`.

The estimate minimizes scikit-learn's objective (the intercept b is not penalized)

    C Σ_i s_i ℓ_i(b, W) + P(W),   P = ½||W||² (l2),  ||W||_1 (l1),  ρ||W||_1 + ((1 − ρ)/2)||W||² (elasticnet),

with the row weights s_i = (the weight of y_i's class, ``class_weight``) × ``sample_weight``_i
(scikit-learn's product; 1 without them: integer weights equal repeating the rows); P = 0 for
``penalty=None`` (or C = ∞); ℓ_i is the binary log-loss of the row for two classes
(one coefficient vector, ``coef_`` of shape (1, p)) and the softmax (multinomial) log-loss for
three or more (one row of W per class, ``coef_`` (K, p), scikit-learn's symmetric
parametrization). With a penalty the minimizer exists even when the classes are separated,
where :class:`~chainrule.stats.Logit` has no maximum-likelihood estimate: this is the remedy
its separation diagnosis names. The solvers (Newton for l2 and none, proximal Newton with
coordinate descent for l1 and elasticnet) and the stopping rule are in
:mod:`chainrule.stats.logistic_solvers`.

Identification, as scikit-learn's solutions: for K ≥ 3 classes the loss does not change when
the same number is added to every class's intercept (nor, without a penalty, to every class's
coefficient of a feature); the intercepts are reported centered (summing to 0 over the
classes), and without a penalty the minimum-norm minimizer is reported (the coefficients then
also sum to 0 over the classes, and collinear columns share their effect). With the l1
penalty alone the minimizer may also be non-unique when columns are collinear; any one has
the same objective and probabilities.

Cross-validation (:class:`LogisticRegressionCV`) fits, on each fold and for each l1_ratio, the
path of the Cs in the given order (each fit starts from the previous solution), scores the
held-out rows, and refits on all rows at the (C, l1_ratio) with the best mean score over the
folds (ties: the smallest C, then the first l1_ratio, as scikit-learn's ``argmax``).

References: T. Hastie, R. Tibshirani and J. Friedman, *The Elements of Statistical Learning*,
2nd ed., 2009, §4.4 and §18.4; scikit-learn's ``LogisticRegression`` user guide (the objective).
"""
from __future__ import annotations

import math
import numbers
import warnings

from scipy import special as _special

from ..engine import backend
from .coordinate_descent import ConvergenceWarning, compiled_kernels
from .cross_validation import stratified_kfold, train_test_splits
from .estimator import Estimator, accuracy
from .logistic_solvers import LogisticProblem, solve_logistic
from .penalized import check_sample_weight
from .separation import PerfectSeparationWarning, find_multinomial_separation, find_separation
from .validation import as_design, as_design_like_fit, as_labels

np = backend.host

__all__ = ["LogisticRegression", "LogisticRegressionCV"]

PENALTIES = ("l2", "l1", "elasticnet", None)
_ETA_ALARM = 30.0
_COMPILE_SIZE = 50   # l1 problems with this many coefficients or more start numba (when installed)


def _check_penalty(owner, penalty, l1_ratio, cv=False):
    """(λ_1, λ_2): the weights of ||W||_1 and ½||W||² in P (see the module docstring)."""
    allowed = PENALTIES[:3] if cv else PENALTIES
    if penalty not in allowed:
        raise ValueError(f"{owner}: penalty: expected one of {', '.join(map(repr, allowed))}; got {penalty!r}")
    if penalty == "elasticnet":
        if isinstance(l1_ratio, bool) or not isinstance(l1_ratio, numbers.Real) or not 0 <= l1_ratio <= 1:
            raise ValueError(f"{owner}: l1_ratio: penalty='elasticnet' needs a number in [0, 1] (1 is the l1 "
                             f"penalty, 0 the l2); got {l1_ratio!r}")
        return float(l1_ratio), 1.0 - float(l1_ratio)
    if l1_ratio is not None and not cv:
        warnings.warn(f"{owner}: l1_ratio is only used when penalty='elasticnet'; got penalty={penalty!r}, "
                      f"l1_ratio={l1_ratio!r} (ignored)", UserWarning, stacklevel=3)
    return {"l2": (0.0, 1.0), "l1": (1.0, 0.0), None: (0.0, 0.0)}[penalty]


def _check_numbers(owner, C, tol, max_iter):
    if isinstance(C, bool) or not isinstance(C, numbers.Real) or not C > 0:
        raise ValueError(f"{owner}: C: expected a number > 0 (the inverse penalty; inf for none); got {C!r}")
    if isinstance(tol, bool) or not isinstance(tol, numbers.Real) or not (tol > 0 and math.isfinite(tol)):
        raise ValueError(f"{owner}: tol: expected a finite number > 0; got {tol!r}")
    if isinstance(max_iter, bool) or not isinstance(max_iter, numbers.Integral) or max_iter < 1:
        raise ValueError(f"{owner}: max_iter: expected an integer >= 1; got {max_iter!r}")


def class_weights(class_weight, classes, codes, sample_weight, owner):
    """The weight of each class (K,) (scikit-learn's ``compute_class_weight``): None → ones;
    "balanced" → S / (K S_k), S_k the (sample-weighted) count of class k and S their sum; a dict
    {label: weight} (labels left out weigh 1; a label that is not a class of y is refused)."""
    K = classes.size
    if class_weight is None:
        return np.ones(K)
    if isinstance(class_weight, str) and class_weight == "balanced":
        counts = np.bincount(codes, weights=sample_weight, minlength=K)
        return counts.sum() / (K * counts)
    if not isinstance(class_weight, dict):
        raise ValueError(f"{owner}: class_weight: expected None, 'balanced' or a dict {{label: weight}}; got "
                         f"{class_weight!r}")
    known = [c.item() if hasattr(c, "item") else c for c in classes]
    unknown = [key for key in class_weight if not any(_same_label(key, c) for c in known)]
    if unknown:
        raise ValueError(f"{owner}: class_weight: the labels {unknown!r} are not classes of y (classes: {known!r})")
    weights = np.ones(K)
    for key, value in class_weight.items():
        if isinstance(value, bool) or not isinstance(value, numbers.Real) or not (value >= 0 and math.isfinite(value)):
            raise ValueError(f"{owner}: class_weight: the weight of class {key!r} must be a finite number >= 0; "
                             f"got {value!r}")
        weights[[i for i, c in enumerate(known) if _same_label(key, c)]] = float(value)
    return weights


def _same_label(key, label):
    try:
        return bool(key == label)
    except (TypeError, ValueError):
        return False


def row_weights(class_weight, sample_weight, classes, codes, owner):
    """s_i = class weight of y_i × sample_weight_i (scikit-learn's product), or None when both
    are None (every row 1)."""
    weights = check_sample_weight(sample_weight, codes.size, owner)
    if class_weight is None:
        return weights
    per_class = class_weights(class_weight, classes, codes, weights, owner)
    rows = per_class[codes]
    return rows if weights is None else rows * weights


def _classes(labels, owner):
    classes, codes = np.unique(labels, return_inverse=True)
    if classes.size < 2:
        shown = classes[0].item() if hasattr(classes[0], "item") else classes[0]
        raise ValueError(f"{owner}: this solver needs samples of at least 2 classes in the data, but the data "
                         f"contains only one class: {shown!r} (got 1 class)")
    return classes, codes.reshape(-1)


class _LinearClassifier(Estimator):
    """What LogisticRegression and LogisticRegressionCV share: prediction from ``coef_``,
    ``intercept_`` and ``classes_`` (scikit-learn's layout)."""

    _estimator_type = "classifier"

    def decision_function(self, X):
        """The linear predictors: (n,) for two classes (the log-odds of ``classes_[1]``), else (n, K)."""
        scores = as_design_like_fit(self, X) @ self.coef_.T + self.intercept_
        return scores[:, 0] if self.classes_.size == 2 else scores

    def predict_log_proba(self, X):
        """log P(y = class | x), (n, K), columns in the order of ``classes_``."""
        scores = self.decision_function(X)
        if self.classes_.size == 2:
            return np.column_stack([-np.logaddexp(0.0, scores), -np.logaddexp(0.0, -scores)])
        return scores - _special.logsumexp(scores, axis=1, keepdims=True)

    def predict_proba(self, X):
        """P(y = class | x), (n, K), columns in the order of ``classes_``."""
        scores = self.decision_function(X)
        if self.classes_.size == 2:
            p = _special.expit(scores)
            return np.column_stack([1.0 - p, p])
        return _special.softmax(scores, axis=1)

    def predict(self, X):
        """The most probable class of each row (labels from ``classes_``)."""
        scores = self.decision_function(X)
        index = (scores > 0).astype(int) if self.classes_.size == 2 else np.argmax(scores, axis=1)
        return self.classes_[index]

    def _set_solution(self, theta, fit_intercept):
        """coef_ and intercept_ from θ (M, k), the intercepts centered for K ≥ 3 classes."""
        off = int(bool(fit_intercept))
        intercept = theta[:, 0].copy() if off else np.zeros(theta.shape[0])
        if theta.shape[0] > 1 and off:
            intercept -= intercept.mean()
        self.coef_, self.intercept_ = theta[:, off:].copy(), intercept


def _fit_one(X, codes, K, fit_intercept, C, l1, l2, tol, max_iter, start=None, weights=None):
    """The solution of one problem (a Solution of logistic_solvers), from ``start`` or 0, with
    the row weights ``weights`` (None: every row 1)."""
    total = X.shape[0] if weights is None else float(weights.sum())
    if not total > 0:
        raise ValueError("LogisticRegression: sample_weight: the weights of the training rows sum to 0")
    scale = 0.0 if math.isinf(C) else 1.0 / (C * total)
    problem = LogisticProblem(X, codes, K, fit_intercept, l1 * scale, l2 * scale, weights)
    if problem.l1 > 0 and problem.size >= _COMPILE_SIZE:
        compiled_kernels(load=True)   # the inner coordinate descent: numba repays its start-up here
    theta = np.zeros((problem.M, problem.k)) if start is None else start.copy()
    solution = solve_logistic(problem, theta, float(tol), int(max_iter))
    theta = solution.theta
    if problem.M > 1 and problem.l1 == problem.l2 == 0:   # the minimum-norm solution: W sums to 0
        theta = theta - theta.mean(axis=0)
    return solution._replace(theta=theta), problem


class LogisticRegression(_LinearClassifier):
    r"""Penalized logistic regression: scikit-learn's objective, solutions and API.

    Minimizes C Σ_i s_i ℓ_i + P(W) (module docstring): binary log-loss for two classes, the
    multinomial (softmax) loss for more, the intercept not penalized; s_i is the row's weight,
    the product of its class's weight (``class_weight``) and its ``sample_weight`` (both 1 by
    default), as scikit-learn's: integer weights equal repeating the rows.

    Args:
        penalty: "l2" (default), "l1", "elasticnet" or None (no penalty: maximum likelihood,
            which does not exist on separated data).
        C: the inverse penalty strength > 0 (smaller: stronger); ``numpy.inf`` means no penalty.
        l1_ratio: ρ in [0, 1] for penalty="elasticnet" (1: l1, 0: l2); ignored otherwise.
        fit_intercept: fit an unpenalized intercept.
        tol: stop when the optimality residual of the objective divided by C Σ_i s_i (C n without
            weights, as scikit-learn's) is at most ``tol`` in every entry (the gradient, or the
            minimum-norm subgradient with an l1 part).
        max_iter: the most (proximal) Newton iterations.
        class_weight: None (every class 1), "balanced" (class k weighs S / (K S_k), S_k the
            sample-weighted count of class k, S = Σ_k S_k: scikit-learn's ``compute_class_weight``)
            or a dict {label: weight} (classes left out weigh 1; a label that is not a class of y
            is refused).
        warm_start: start the next ``fit`` from the fitted ``coef_`` and ``intercept_`` (they must
            have the new problem's shapes), as scikit-learn's.

    Targets: any class labels (numbers, strings, booleans), at least two. Fitted attributes
    (scikit-learn's): ``classes_``, ``coef_`` ((1, p) for two classes, (K, p) for more),
    ``intercept_`` ((1,) or (K,)), ``n_iter_`` (array of shape (1,)), ``n_features_in_``,
    ``feature_names_in_`` (DataFrame input); also ``converged_``.
    """

    def __init__(self, penalty="l2", C=1.0, l1_ratio=None, fit_intercept=True, tol=1e-8, max_iter=100,
                 class_weight=None, warm_start=False):
        self.penalty = penalty
        self.C = C
        self.l1_ratio = l1_ratio
        self.fit_intercept = fit_intercept
        self.tol = tol
        self.max_iter = max_iter
        self.class_weight = class_weight
        self.warm_start = warm_start

    def fit(self, X, y, sample_weight=None):
        """Fit on X (n, p) and the labels y, with the row weights ``sample_weight`` (n,) (finite,
        >= 0; None: every row 1) multiplied by the class weights; returns self."""
        owner = "LogisticRegression"
        l1, l2 = _check_penalty(owner, self.penalty, self.l1_ratio)
        _check_numbers(owner, self.C, self.tol, self.max_iter)
        data = X
        X, names = as_design(X, "X")
        labels, _ = as_labels(y, X.shape[0], "y")
        classes, codes = _classes(labels, owner)
        weights = row_weights(self.class_weight, sample_weight, classes, codes, owner)
        start = self._warm_start(classes.size, X.shape[1])
        self._remember_feature_names(data, names)
        C = math.inf if self.penalty is None else float(self.C)
        solution, problem = _fit_one(X, codes, classes.size, self.fit_intercept, C, l1, l2, self.tol, self.max_iter,
                                     start, weights)
        self.classes_ = classes
        self._set_solution(solution.theta, self.fit_intercept)
        self.n_iter_ = np.array([solution.iterations], dtype=np.int32)
        self.converged_ = solution.converged
        if not solution.converged:
            warnings.warn(f"LogisticRegression: {solution.message}; optimality residual {solution.residual:.3g} > "
                          f"tol={self.tol:g}: raise max_iter, or tol", ConvergenceWarning, stacklevel=2)
        if problem.l1 == problem.l2 == 0 and np.max(np.abs(problem.linear(solution.theta))) > _ETA_ALARM:
            self._check_separation(X, labels, names)
        return self

    def _warm_start(self, K, p):
        """θ (M, k) from the fitted coef_ and intercept_ when warm_start is set (else None)."""
        coef = getattr(self, "coef_", None) if self.warm_start else None
        if coef is None:
            return None
        M = 1 if K == 2 else K
        if coef.shape != (M, p):
            raise ValueError(f"LogisticRegression: warm_start: the fitted coef_ has shape {coef.shape}; the new data "
                             f"needs ({M}, {p}) ({K} classes, {p} features)")
        theta = np.array(coef, dtype=backend.float64)
        if self.fit_intercept:
            theta = np.column_stack([np.broadcast_to(self.intercept_, (M,)), theta])
        return theta

    def _check_separation(self, X, labels, names):
        """Without a penalty, a fitted |logit| above 30 is the symptom of separation: the linear
        programs of :mod:`chainrule.stats.separation` decide, and a separation is reported as a
        :class:`PerfectSeparationWarning` (the fit has no finite minimizer; the coefficients
        returned grow with max_iter and tol, as scikit-learn's)."""
        find = find_separation if self.classes_.size == 2 else find_multinomial_separation
        found = find(X, labels, names, bool(self.fit_intercept))
        if found is not None:
            warnings.warn(f"LogisticRegression(penalty=None): {found}; without a penalty no finite estimate "
                          f"exists and the coefficients returned grow with max_iter and tol: use a penalty "
                          f"(penalty='l2', the default)", PerfectSeparationWarning, stacklevel=3)

    def score(self, X, y, sample_weight=None):
        """Accuracy: the fraction of rows where predict(X) equals y (weighted by ``sample_weight``)."""
        prediction = self.predict(X)
        labels, _ = as_labels(y, prediction.shape[0], "y")
        if sample_weight is None:
            return accuracy(labels, prediction)
        weights = check_sample_weight(sample_weight, labels.shape[0], "LogisticRegression.score")
        return float(np.average(prediction == labels, weights=weights))


def _accuracy(estimator, X, y, sample_weight=None):
    """The (sample-weighted) fraction of rows classified right (a scorer: larger is better)."""
    prediction = estimator.predict(X)
    labels, _ = as_labels(y, prediction.shape[0], "y")
    return float(np.average(prediction == labels, weights=sample_weight))


def neg_log_loss(estimator, X, y, sample_weight=None):
    """−(1/n) Σ_i log P̂(y_i | x_i) (the weighted mean with ``sample_weight``), probabilities
    clipped to [ε, 1 − ε] (scikit-learn's "neg_log_loss" scorer: larger is better)."""
    probabilities = estimator.predict_proba(X)
    labels, _ = as_labels(y, probabilities.shape[0], "y")
    classes = estimator.classes_
    index = np.minimum(np.searchsorted(classes, labels), classes.size - 1)
    if np.any(classes[index] != labels):
        raise ValueError("neg_log_loss: y holds labels that the model was not fitted on")
    eps = np.finfo(probabilities.dtype).eps
    rows = np.log(np.clip(probabilities[np.arange(labels.size), index], eps, 1 - eps))
    return float(np.average(rows, weights=sample_weight))


SCORERS = {"accuracy": _accuracy, "neg_log_loss": neg_log_loss}


def get_scorer(scoring, owner="LogisticRegressionCV"):
    """A scorer(estimator, X, y) (larger is better): None is accuracy; "accuracy" and
    "neg_log_loss" are built in; other names are scikit-learn's scoring names (needs
    scikit-learn); a callable is used as it is."""
    if scoring is None:
        return _accuracy
    if callable(scoring):
        return scoring
    if not isinstance(scoring, str):
        raise TypeError(f"{owner}: scoring: expected None, a scoring name or a callable scorer(estimator, X, y); "
                        f"got {type(scoring).__name__}")
    if scoring in SCORERS:
        return SCORERS[scoring]
    try:
        from sklearn.metrics import get_scorer as sklearn_scorer  # noqa: PLC0415 - optional, only when named
    except ImportError:
        raise ValueError(f"{owner}: scoring: {scoring!r} is not built in ('accuracy', 'neg_log_loss'); other "
                         f"names are scikit-learn's, which is not installed") from None
    try:
        return sklearn_scorer(scoring)
    except ValueError as error:
        raise ValueError(f"{owner}: scoring: {error}") from None


class LogisticRegressionCV(_LinearClassifier):
    r"""Logistic regression with C (and, for the elastic net, l1_ratio) chosen by cross-validation.

    Each fold's training rows are fitted for every C of ``Cs`` (in order, each fit from the
    previous solution) and every l1_ratio, and scored on the held-out rows; the pair with the
    best mean score over the folds (ties: smallest C, then first l1_ratio) is refitted on all
    rows (scikit-learn's ``refit=True``). The objective, solvers and tolerance are those of
    :class:`LogisticRegression`.

    Args:
        Cs: the candidate C values, or an int: that many log-spaced from 1e-4 to 1e4
            (scikit-learn's grid).
        cv: None (5 folds) or a number of folds (scikit-learn's unshuffled ``StratifiedKFold``:
            :func:`chainrule.stats.cross_validation.stratified_kfold`), a splitter with
            ``split(X, y)``, or an iterable of (train, test) index pairs.
        penalty: "l2" (default), "l1" or "elasticnet".
        l1_ratios: the candidate ρ in [0, 1] for penalty="elasticnet" (required there).
        scoring: None or "accuracy" (the default, as scikit-learn's), "neg_log_loss", another
            scikit-learn scoring name, or a callable scorer(estimator, X, y) (called with
            ``sample_weight=`` the held-out rows' weights when ``fit`` has ``sample_weight``).
        fit_intercept, tol, max_iter: as in :class:`LogisticRegression`.
        class_weight: as in :class:`LogisticRegression`; "balanced" is computed once on all rows
            (with their sample weights) and used by every fold's fit, as scikit-learn's.

    With ``fit(X, y, sample_weight)`` each fold's fits minimize the weighted objective on its
    training rows (class weight × sample weight) and its held-out rows are scored with their
    sample weights (not the class weights), as scikit-learn's ``LogisticRegressionCV``.

    Fitted attributes (scikit-learn's, in its ``use_legacy_attributes=False`` layout):
    ``Cs_``, ``l1_ratios_``, ``C_`` and ``l1_ratio_`` (floats), ``scores_`` (n_folds,
    n_l1_ratios, n_cs), ``coefs_paths_`` (n_folds, n_l1_ratios, n_cs, M, p [+ 1 intercept,
    last]; M = 1 for two classes, K for more), ``n_iter_`` (n_folds, n_l1_ratios, n_cs),
    ``classes_``, ``coef_``, ``intercept_``. ``score(X, y)`` uses ``scoring``.
    """

    def __init__(self, Cs=10, cv=None, penalty="l2", l1_ratios=None, scoring=None, fit_intercept=True, tol=1e-8,
                 max_iter=100, class_weight=None):
        self.Cs = Cs
        self.cv = cv
        self.penalty = penalty
        self.l1_ratios = l1_ratios
        self.scoring = scoring
        self.fit_intercept = fit_intercept
        self.tol = tol
        self.max_iter = max_iter
        self.class_weight = class_weight

    def _grid(self):
        if isinstance(self.Cs, numbers.Integral) and not isinstance(self.Cs, bool):
            if self.Cs < 1:
                raise ValueError(f"LogisticRegressionCV: Cs: expected a number of values >= 1; got {self.Cs}")
            return np.logspace(-4, 4, int(self.Cs))
        grid = np.atleast_1d(np.asarray(self.Cs, dtype=backend.float64))
        if grid.ndim != 1 or grid.size == 0 or np.any(np.isnan(grid)) or np.any(grid <= 0):
            raise ValueError(f"LogisticRegressionCV: Cs: expected an int or values > 0; got {self.Cs!r}")
        return grid

    def _ratios(self):
        """[(ρ, (λ_1, λ_2))] for each candidate mixing."""
        owner = "LogisticRegressionCV"
        if self.penalty != "elasticnet":
            _check_penalty(owner, self.penalty, None, cv=True)
            if self.l1_ratios is not None:
                warnings.warn(f"{owner}: l1_ratios is only used when penalty='elasticnet'; got penalty="
                              f"{self.penalty!r} (ignored)", UserWarning, stacklevel=3)
            rho = 1.0 if self.penalty == "l1" else 0.0
            return [(rho, _check_penalty(owner, self.penalty, None, cv=True))]
        if self.l1_ratios is None or isinstance(self.l1_ratios, (str, numbers.Number)) or len(self.l1_ratios) == 0:
            raise ValueError(f"{owner}: l1_ratios: penalty='elasticnet' needs a sequence of numbers in [0, 1]; "
                             f"got {self.l1_ratios!r}")
        return [(float(rho), _check_penalty(owner, "elasticnet", rho, cv=True)) for rho in self.l1_ratios]

    def _folds(self, raw_X, labels, n):
        if self.cv is None or (isinstance(self.cv, numbers.Integral) and not isinstance(self.cv, bool)):
            folds = 5 if self.cv is None else int(self.cv)
            if not 2 <= folds <= n:
                raise ValueError(f"LogisticRegressionCV: cv: expected a number of folds in [2, {n}]; got {self.cv}")
            return stratified_kfold(labels, folds)
        return train_test_splits(self.cv, raw_X, labels, n)

    def fit(self, X, y, sample_weight=None):
        """Cross-validate the grid, then refit at the best (C, l1_ratio); returns self.
        ``sample_weight`` (n,): the rows' weights (see the class docstring)."""
        grid, ratios, scorer = self._grid(), self._ratios(), get_scorer(self.scoring)
        _check_numbers("LogisticRegressionCV", float(grid[0]), self.tol, self.max_iter)
        raw_X = X
        X, names = as_design(X, "X")
        labels, _ = as_labels(y, X.shape[0], "y")
        classes, codes = _classes(labels, "LogisticRegressionCV")
        scores_weight = check_sample_weight(sample_weight, X.shape[0], "LogisticRegressionCV")
        weights = row_weights(self.class_weight, scores_weight, classes, codes, "LogisticRegressionCV")
        folds = self._folds(raw_X, labels, X.shape[0])
        if any(l1 > 0 for _, (l1, _) in ratios):
            compiled_kernels(load=True)   # many l1 solves: worth starting numba for
        M, k = (1 if classes.size == 2 else classes.size), X.shape[1] + int(bool(self.fit_intercept))
        shape = (len(folds), len(ratios), grid.size)
        self.scores_, self.n_iter_ = np.empty(shape), np.zeros(shape, dtype=np.int32)
        self.coefs_paths_ = np.empty(shape + (M, k))
        for f, (train, test) in enumerate(folds):
            for r, (_, (l1, l2)) in enumerate(ratios):
                self._path(f, r, grid, X, codes, classes, (train, test), labels, (l1, l2), scorer,
                           (weights, scores_weight))
        mean = self.scores_.mean(axis=0).T                        # (n_cs, n_l1_ratios), scikit-learn's order
        best_c, best_r = np.unravel_index(int(np.argmax(mean)), mean.shape)
        self.Cs_, self.l1_ratios_ = grid, np.array([rho for rho, _ in ratios])
        self.C_, self.l1_ratio_ = float(grid[best_c]), float(ratios[best_r][0])
        penalty = self.penalty
        model = LogisticRegression(penalty=penalty, C=self.C_, l1_ratio=self.l1_ratio_ if penalty == "elasticnet"
                                   else None, fit_intercept=self.fit_intercept, tol=self.tol,
                                   max_iter=self.max_iter, class_weight=self.class_weight).fit(raw_X, y, sample_weight)
        self.classes_, self.coef_, self.intercept_ = model.classes_, model.coef_, model.intercept_
        self._remember_feature_names(raw_X, names)
        return self

    def _path(self, f, r, grid, X, codes, classes, fold, labels, penalty, scorer, weights):
        """Fit fold f's training rows along the Cs with the mixing r (the penalty's (λ_1, λ_2)),
        weighted by the rows' weights; score the held-out rows with their sample weights."""
        (train, test), (l1, l2), (rows, samples) = fold, penalty, weights
        score_weight = {} if samples is None else {"sample_weight": samples[test]}
        start = None
        for c, C in enumerate(grid):
            solution, _ = _fit_one(X[train], codes[train], classes.size, self.fit_intercept, float(C), l1, l2,
                                   self.tol, self.max_iter, start, None if rows is None else rows[train])
            start = solution.theta
            if not solution.converged:
                warnings.warn(f"LogisticRegressionCV: fold {f}, C={C:g}: {solution.message}", ConvergenceWarning,
                              stacklevel=3)
            model = _fitted(solution.theta, classes, self.fit_intercept)
            path = np.column_stack([model.coef_, model.intercept_]) if self.fit_intercept else model.coef_
            self.coefs_paths_[f, r, c] = path
            self.n_iter_[f, r, c] = solution.iterations
            self.scores_[f, r, c] = scorer(model, X[test], labels[test], **score_weight)

    def score(self, X, y, sample_weight=None):
        """The ``scoring`` of the predictions on X against y (accuracy by default), weighted by
        ``sample_weight`` when given."""
        self._check_fitted()
        extra = {} if sample_weight is None else {"sample_weight": sample_weight}
        return float(get_scorer(self.scoring)(self, X, y, **extra))


def _fitted(theta, classes, fit_intercept):
    """A fitted LogisticRegression holding θ (for the scorers)."""
    model = LogisticRegression(fit_intercept=fit_intercept)
    model.classes_ = classes
    model._set_solution(theta, fit_intercept)
    model.n_features_in_ = model.coef_.shape[1]
    return model
