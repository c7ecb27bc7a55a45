"""The elastic net (Zou & Hastie 2005): coordinate descent, regularization paths and CV.

Objective (scikit-learn's ``ElasticNet``; the intercept b0 is not penalized)::

    minimize over (b0, b)   (1/(2n)) ||y - b0 - X b||^2 + alpha rho ||b||_1 + (alpha (1 - rho) / 2) ||b||^2

with rho = ``l1_ratio`` in (0, 1]: rho = 1 is the lasso. It is solved exactly as the lasso,
by coordinate descent on the centered Gram matrix with (1 - rho) alpha added to its diagonal
(:mod:`chainrule.stats.coordinate_descent`, the elastic net being the lasso of an augmented
design), stopped by scikit-learn's elastic-net duality gap (gap < tol ||yc||^2 / n). The
soft-thresholding update of coordinate j is

    b_j <- S(x_j'r_j / n, alpha rho) / (x_j'x_j / n + alpha (1 - rho)),

r_j the partial residual. The largest useful penalty is alpha_max = ||Xc'yc||_inf / (n rho)
(every coefficient is 0 from there on, scikit-learn's grid start); a path runs down a
log-spaced grid from it with warm starts. rho = 0 (ridge) is refused: without an l1 term
the duality gap does not bound the error; use :class:`~chainrule.stats.Ridge` with
alpha_ridge = n alpha.

References:
    Zou, H. & Hastie, T. (2005). Regularization and variable selection via the elastic net.
    JRSS B 67(2), 301-320.
    Friedman, J., Hastie, T. & Tibshirani, R. (2010). Regularization paths for generalized
    linear models via coordinate descent. J. Statistical Software 33(1).
"""
from __future__ import annotations

import math
import numbers
from collections import namedtuple

from ..engine import backend
from .coordinate_descent import (
    Problem,
    alpha_grid,
    center_means,
    centered_problem,
    check_settings,
    choose_route,
    fit_coordinate_descent,
    solve_path,
    warn_unconverged,
)
from .cross_validation import train_test_splits
from .penalized import LinearRegressor, check_sample_weight

np = backend.host

__all__ = ["ElasticNet", "ElasticNetCV", "ElasticNetPath", "enet_path"]


def check_l1_ratio(value, owner="l1_ratio") -> float:
    """The mixing rho in (0, 1] as a float (0 refused: that is ridge regression)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{owner}: expected a real number in (0, 1]; got {value!r}")
    if not 0 < float(value) <= 1:
        raise ValueError(f"{owner}: expected a number in (0, 1] (1 is the lasso); got {value!r} (for "
                         f"l1_ratio = 0, a pure l2 penalty, use Ridge with alpha = n_samples * alpha)")
    return float(value)


def _check_alpha(value) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"alpha: expected a real number; got {value!r}")
    if not (float(value) > 0 and math.isfinite(value)):
        raise ValueError(f"alpha: expected a finite number > 0; got {value!r} (for alpha = 0 use ordinary "
                         f"least squares)")
    return float(value)


class ElasticNet(LinearRegressor):
    """The elastic net: (1/(2n)) ||y - b0 - X b||^2 + alpha rho ||b||_1 + (alpha (1 - rho)/2) ||b||^2,
    rho = ``l1_ratio`` (scikit-learn's scaling and parameters; the intercept is not penalized).
    With ``fit(X, y, sample_weight=s)`` the squared errors are weighted, (1/(2n)) Σ_i s_i (y_i −
    b0 − x_i'b)², s rescaled to sum to n (scikit-learn's convention: integer weights equal
    repeating the rows), X and y centered at their weighted means.

    Args:
        alpha: the penalty > 0.
        l1_ratio: rho in (0, 1]; 1 is the lasso.
        solver: "cd" (coordinate descent) or "fista" (accelerated proximal gradient).
        fit_intercept: center X and y and fit an unpenalized intercept.
        tol: stop when the duality gap < tol * ||yc||^2 / n (scikit-learn's rule).
        max_iter: sweeps over the coordinates (cd) or iterations (fista).
        precompute: "auto", True (whole Gram matrix) or False (working sets); cd only.
        warm_start: start from the previous ``coef_`` when refitting.

    Fitted attributes: ``coef_``, ``intercept_``, ``dual_gap_``, ``n_iter_``, ``route_``,
    ``n_features_in_``, ``feature_names_``. Solver and stopping rule: the module docstring.
    """

    def __init__(self, alpha=1.0, l1_ratio=0.5, solver="cd", fit_intercept=True, tol=1e-4, max_iter=1000,
                 precompute="auto", warm_start=False):
        self.alpha = alpha
        self.l1_ratio = l1_ratio
        self.solver = solver
        self.fit_intercept = fit_intercept
        self.tol = tol
        self.max_iter = max_iter
        self.precompute = precompute
        self.warm_start = warm_start

    def fit(self, X, y, sample_weight=None):
        """Fit on X (n, p) and y (n,), with the row weights ``sample_weight`` (n,) (finite, >= 0;
        None: every row 1; rescaled to sum to n, scikit-learn's convention); returns self."""
        alpha, rho = _check_alpha(self.alpha), check_l1_ratio(self.l1_ratio)
        check_settings(self.tol, self.max_iter, self.solver)
        previous = getattr(self, "coef_", None) if self.warm_start else None
        X, y = self._prepare(X, y)
        weights = check_sample_weight(sample_weight, X.shape[0], "ElasticNet")
        return fit_coordinate_descent(self, X, y, alpha * rho, alpha * (1.0 - rho), previous,
                                      f"ElasticNet(alpha={alpha:g}, l1_ratio={rho:g})", weights)


ElasticNetPath = namedtuple("ElasticNetPath", ["alphas", "coefs", "intercepts", "dual_gaps", "n_iter"])
ElasticNetPath.__doc__ = """Result of :func:`enet_path`: ``alphas`` (decreasing), ``coefs`` (p x len(alphas),
scikit-learn's layout), ``intercepts``, ``dual_gaps`` and ``n_iter`` (one per alpha)."""


def _grid(problem, rho, alphas, n_alphas, eps, owner):
    """The decreasing penalties: ``alphas`` sorted, or ``n_alphas`` log-spaced from alpha_max / rho."""
    if alphas is None:
        return alpha_grid(problem.alpha_max() / rho, n_alphas, eps)
    grid = np.sort(np.atleast_1d(np.asarray(alphas, dtype=backend.float64)))[::-1]
    if grid.ndim != 1 or grid.size == 0 or not np.all(np.isfinite(grid)) or grid[-1] <= 0:
        raise ValueError(f"{owner}: alphas: expected finite penalties > 0; got {np.asarray(alphas).tolist()}")
    return grid


def enet_path(X, y, *, l1_ratio=0.5, alphas=None, n_alphas=100, eps=1e-3, fit_intercept=True, tol=1e-4,
              max_iter=1000, precompute="auto"):
    """Elastic-net solutions over a decreasing grid of alphas, with warm starts.

    The default grid is ``n_alphas`` values log-spaced from alpha_max = ||Xc'yc||_inf / (n rho)
    down to ``eps * alpha_max`` (scikit-learn's grid); the Gram matrix is formed once
    (p <= 3000 with precompute="auto") and reused along the path. Returns an
    :class:`ElasticNetPath`. X and y are centered when ``fit_intercept`` is true.
    """
    rho = check_l1_ratio(l1_ratio)
    check_settings(tol, max_iter, "cd")
    model = ElasticNet(fit_intercept=fit_intercept)
    X, y = model._prepare(X, y)
    yc, x_mean, y_mean = center_means(X, y, fit_intercept)
    problem = Problem(X, x_mean, yc)
    grid = _grid(problem, rho, alphas, n_alphas, eps, "enet_path")
    route = choose_route(precompute, X.shape[1], True)
    coefs, gaps, iterations = solve_path(problem, grid, float(tol), int(max_iter), route, l1_ratio=rho)
    intercepts = y_mean - x_mean @ coefs if fit_intercept else np.zeros(grid.size)
    if np.any(gaps > tol * problem.yy):
        warn_unconverged("enet_path", float(gaps.max()), tol, problem.yy, max_iter)
    return ElasticNetPath(grid, coefs, intercepts, gaps, iterations)


class ElasticNetCV(LinearRegressor):
    """The elastic net with alpha (and l1_ratio) chosen by K-fold cross-validation.

    For each l1_ratio rho a grid is computed once from the whole data (``alphas`` values
    log-spaced from alpha_max = ||Xc'yc||_inf / (n rho) to ``eps`` alpha_max, or the given
    sequence); on each fold the warm-started path is fitted on the training rows (centered
    within the fold) and scored by the mean squared error on the held-out rows. The pair with
    the smallest mean error over the folds (the first l1_ratio on ties, as scikit-learn) gives
    ``alpha_`` and ``l1_ratio_``, at which the model is refitted on all rows.

    Args:
        l1_ratio: rho in (0, 1], or a sequence of them to choose from.
        eps: ratio of the smallest to the largest alpha on a generated grid.
        alphas: number of grid points (int) or a sequence of penalties.
        cv: number of folds (scikit-learn's unshuffled KFold), a splitter with ``split``,
            or an iterable of (train, test) index pairs.
        fit_intercept, tol, max_iter, precompute: as in :class:`ElasticNet`.

    Fitted attributes (scikit-learn's): ``alpha_``, ``l1_ratio_``, ``alphas_`` ((n_l1_ratio,
    n_alphas), or (n_alphas,) for one l1_ratio), ``mse_path_`` ((n_l1_ratio, n_alphas, n_folds),
    or (n_alphas, n_folds)), ``coef_``, ``intercept_``, ``dual_gap_``, ``n_iter_``.
    """

    def __init__(self, l1_ratio=0.5, eps=1e-3, alphas=100, cv=5, fit_intercept=True, tol=1e-4, max_iter=1000,
                 precompute="auto"):
        self.l1_ratio = l1_ratio
        self.eps = eps
        self.alphas = alphas
        self.cv = cv
        self.fit_intercept = fit_intercept
        self.tol = tol
        self.max_iter = max_iter
        self.precompute = precompute

    def _ratios(self):
        if isinstance(self.l1_ratio, numbers.Real) and not isinstance(self.l1_ratio, bool):
            return [check_l1_ratio(self.l1_ratio)]
        try:
            ratios = [check_l1_ratio(value, "l1_ratio") for value in self.l1_ratio]
        except TypeError:
            raise TypeError(f"l1_ratio: expected a number in (0, 1] or a sequence of them; got "
                            f"{self.l1_ratio!r}") from None
        if not ratios:
            raise ValueError("l1_ratio: expected at least one value")
        return ratios

    def fit(self, X, y, sample_weight=None):
        """Cross-validate the grid and refit at (``alpha_``, ``l1_ratio_``); returns self. With
        ``sample_weight`` (n,), as scikit-learn's ElasticNetCV: the grids' alpha_max, each fold's
        paths (its training weights rescaled to sum to its rows) and the refit are weighted, and
        each held-out error is the weighted mean of the squared errors."""
        ratios = self._ratios()
        check_settings(self.tol, self.max_iter, "cd")
        raw_X = X
        X, y = self._prepare(X, y)
        n, p = X.shape
        weights = check_sample_weight(sample_weight, n, "ElasticNetCV")
        whole = centered_problem(X, y, weights, self.fit_intercept)[0]
        count = isinstance(self.alphas, numbers.Integral) and not isinstance(self.alphas, bool)
        grids = np.array([_grid(whole, rho, None if count else self.alphas, self.alphas if count else 100,
                                self.eps, "ElasticNetCV") for rho in ratios])
        folds = train_test_splits(self.cv, raw_X, y, n)
        route = choose_route(self.precompute, p, path=True)
        mse = np.empty((len(ratios), grids.shape[1], len(folds)))
        for f, (train, test) in enumerate(folds):
            problem, x_mean, y_mean = centered_problem(X[train], y[train], None if weights is None else
                                                       weights[train], self.fit_intercept)
            for r, rho in enumerate(ratios):
                coefs, gaps, _ = solve_path(problem, grids[r], float(self.tol), int(self.max_iter), route, l1_ratio=rho)
                if np.any(gaps > self.tol * problem.yy):
                    warn_unconverged(f"ElasticNetCV fold {f}", float(gaps.max()), self.tol, problem.yy, self.max_iter)
                intercepts = y_mean - x_mean @ coefs if self.fit_intercept else np.zeros(grids.shape[1])
                mse[r, :, f] = np.average((y[test][:, None] - (X[test] @ coefs + intercepts)) ** 2, axis=0,
                                          weights=None if weights is None else weights[test])
        mean = mse.mean(axis=2)
        best_ratio = min(range(len(ratios)), key=lambda r: (mean[r].min(), r))
        best_alpha = int(np.argmin(mean[best_ratio]))
        self.alpha_, self.l1_ratio_ = float(grids[best_ratio, best_alpha]), ratios[best_ratio]
        single = isinstance(self.l1_ratio, numbers.Real)
        self.alphas_ = grids[0] if single else grids
        self.mse_path_ = mse[0] if single else mse
        model = ElasticNet(self.alpha_, l1_ratio=self.l1_ratio_, fit_intercept=self.fit_intercept, tol=self.tol,
                           max_iter=self.max_iter, precompute=self.precompute).fit(raw_X, y, sample_weight)
        for name in ("coef_", "intercept_", "dual_gap_", "n_iter_", "route_"):
            setattr(self, name, getattr(model, name))
        return self
