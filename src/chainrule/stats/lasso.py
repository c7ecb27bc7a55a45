"""The lasso (Tibshirani 1996): coordinate descent, FISTA, regularization paths and CV.

Objective (the same scaling as scikit-learn; the intercept b0 is not penalized)::

    minimize over (b0, b)   (1/(2n)) ||y - b0 - X b||_2^2 + alpha * ||b||_1

With an intercept, X and y are centered (Xc, yc) and b0 = mean(y) - mean(X) b. In the
Gram form used below, with G = Xc'Xc/n, c = Xc'yc/n and q = c - G b = Xc'r/n (r = yc - Xc b
the residual), the objective is 0.5 b'Gb - c'b + alpha||b||_1 + ||yc||^2/(2n).

The solver (coordinate descent on the Gram matrix, whole or by working sets, with numba
kernels; FISTA; the duality-gap stopping rule as in scikit-learn's ``cd_fast``; warm-started
paths from alpha_max = ||Xc'yc||_inf / n, the smallest alpha with b = 0) is
:mod:`chainrule.stats.coordinate_descent`, shared with the elastic net
(:mod:`chainrule.stats.elastic_net`).

References:
    Tibshirani, R. (1996). Regression shrinkage and selection via the lasso. JRSS B 58(1).
    Friedman, J., Hastie, T. & Tibshirani, R. (2010). Regularization paths for generalized
    linear models via coordinate descent. J. Statistical Software 33(1).
    Beck, A. & Teboulle, M. (2009). A fast iterative shrinkage-thresholding algorithm for
    linear inverse problems. SIAM J. Imaging Sciences 2(1), 183-202.
    O'Donoghue, B. & Candes, E. (2015). Adaptive restart for accelerated gradient schemes.
    Foundations of Computational Mathematics 15, 715-732.
"""
from __future__ import annotations

import math
import numbers
from collections import namedtuple

from ..engine import backend
from .coordinate_descent import (
    ConvergenceWarning,
    Problem,
    alpha_grid,
    center_means,
    centered_problem,
    check_settings,
    choose_route,
    compiled_kernels,
    fit_coordinate_descent,
    solve_path,
    warn_unconverged,
)
from .cross_validation import train_test_splits
from .penalized import LinearRegressor, check_sample_weight

np = backend.host

__all__ = ["ConvergenceWarning", "Lasso", "LassoCV", "LassoPath", "lasso_path"]


class Lasso(LinearRegressor):
    """The lasso: (1/(2n)) ||y - b0 - X b||_2^2 + alpha ||b||_1 (scikit-learn's scaling).

    The intercept b0 is not penalized (X and y are centered). See the module docstring
    for the soft-thresholding update, the covariance updates and the duality-gap rule.

    With ``fit(X, y, sample_weight=s)`` the objective is (1/(2n)) Σ_i s_i (y_i − b0 − x_i'b)²
    + alpha ||b||_1 with s rescaled to sum to n (scikit-learn's convention: the weights' scale
    does not change the fit; integer weights equal repeating the rows); X and y are centered
    at their weighted means.

    Args:
        alpha: penalty > 0 (for alpha = 0 use ordinary least squares).
        solver: "cd" (coordinate descent) or "fista" (accelerated proximal gradient).
        fit_intercept: center X and y and fit an unpenalized intercept.
        tol: stop when the duality gap < tol * ||yc||^2 / n (scikit-learn's rule).
        max_iter: sweeps over the coordinates (cd) or iterations (fista).
        precompute: "auto", True (whole Gram matrix) or False (working sets); cd only.
        warm_start: start from the previous ``coef_`` when refitting.

    Fitted attributes: ``coef_``, ``intercept_``, ``dual_gap_``, ``n_iter_``, ``route_``
    ("gram", "working-set" or "fista"), ``n_features_in_``, ``feature_names_``.

    References: Tibshirani (1996); Friedman, Hastie & Tibshirani (2010); Beck & Teboulle (2009).
    """

    def __init__(self, alpha=1.0, solver="cd", fit_intercept=True, tol=1e-4, max_iter=1000,
                 precompute="auto", warm_start=False):
        self.alpha = alpha
        self.solver = solver
        self.fit_intercept = fit_intercept
        self.tol = tol
        self.max_iter = max_iter
        self.precompute = precompute
        self.warm_start = warm_start

    def fit(self, X, y, sample_weight=None):
        """Fit on X (n, p) and y (n,), with the row weights ``sample_weight`` (n,) (finite, >= 0;
        None: every row 1; rescaled to sum to n, scikit-learn's convention); returns self."""
        if isinstance(self.alpha, bool) or not isinstance(self.alpha, numbers.Real):
            raise TypeError(f"alpha: expected a real number; got {self.alpha!r}")
        alpha = float(self.alpha)
        if not (alpha > 0 and math.isfinite(alpha)):
            raise ValueError(
                f"alpha: expected a finite number > 0; got {self.alpha!r} (for alpha = 0 use "
                f"ordinary least squares)"
            )
        check_settings(self.tol, self.max_iter, self.solver)
        previous = getattr(self, "coef_", None) if self.warm_start else None
        X, y = self._prepare(X, y)
        weights = check_sample_weight(sample_weight, X.shape[0], "Lasso")
        return fit_coordinate_descent(self, X, y, alpha, 0.0, previous,
                                      f"Lasso(alpha={alpha:g}, solver={self.solver!r})", weights)


LassoPath = namedtuple("LassoPath", ["alphas", "coefs", "intercepts", "dual_gaps", "n_iter"])
LassoPath.__doc__ = """Result of :func:`lasso_path`: ``alphas`` (decreasing), ``coefs`` (p x len(alphas),
scikit-learn's layout), ``intercepts``, ``dual_gaps`` and ``n_iter`` (one per alpha)."""


def lasso_path(X, y, *, alphas=None, n_alphas=100, eps=1e-3, fit_intercept=True, tol=1e-4,
               max_iter=1000, precompute="auto"):
    """Lasso solutions over a decreasing grid of alphas, with warm starts.

    The default grid is ``n_alphas`` values log-spaced from alpha_max = ||Xc'yc||_inf / n
    (the smallest alpha at which every coefficient is 0) down to ``eps * alpha_max``
    (scikit-learn's grid). Each alpha solves (1/(2n))||y - b0 - Xb||^2 + alpha||b||_1 by
    coordinate descent started from the previous solution. With ``precompute="auto"`` the
    Gram matrix is formed once (p <= 3000) and reused along the whole path.

    Returns a :class:`LassoPath` (alphas, coefs of shape (p, n_alphas), intercepts,
    dual_gaps, n_iter). Unlike scikit-learn's ``lasso_path``, X and y are centered when
    ``fit_intercept`` is true (as every scikit-learn estimator does before calling it).
    """
    check_settings(tol, max_iter, "cd")
    model = Lasso(fit_intercept=fit_intercept)
    X, y = model._prepare(X, y)
    yc, x_mean, y_mean = center_means(X, y, fit_intercept)
    problem = Problem(X, x_mean, yc)
    if alphas is None:
        grid = alpha_grid(problem.alpha_max(), n_alphas, eps)
    else:
        grid = np.sort(np.atleast_1d(np.asarray(alphas, dtype=backend.float64)))[::-1]
        if grid.ndim != 1 or grid.size == 0 or not np.all(np.isfinite(grid)) or grid[-1] <= 0:
            raise ValueError(f"alphas: expected finite penalties > 0; got {np.asarray(alphas).tolist()}")
    route = choose_route(precompute, X.shape[1], True)
    coefs, gaps, iterations = solve_path(problem, grid, float(tol), int(max_iter), route)
    intercepts = y_mean - x_mean @ coefs if fit_intercept else np.zeros(grid.size)
    if np.any(gaps > tol * problem.yy):
        warn_unconverged("lasso_path", float(gaps.max()), tol, problem.yy, max_iter)
    return LassoPath(grid, coefs, intercepts, gaps, iterations)


class LassoCV(LinearRegressor):
    """The lasso with alpha chosen by K-fold cross-validation along a warm-started path.

    The grid is computed once from the whole data (``alphas`` values log-spaced from
    alpha_max to ``eps * alpha_max``, or the given sequence); on each fold the path is fitted
    on the training rows (centered within the fold) and scored by the mean squared error on
    the held-out rows: ``mse_path_`` has shape (n_alphas, n_folds), as scikit-learn's.

    Two choices of alpha:

    * minimum error: ``alpha_min_`` minimizes the mean over folds CV(alpha);
    * one standard error (Hastie, Tibshirani & Friedman, The Elements of Statistical
      Learning, 2nd ed., sec. 7.10): ``alpha_1se_`` is the largest alpha with
      CV(alpha) <= CV(alpha_min) + SE(alpha_min), SE = (std over folds, ddof=1) / sqrt(K).

    ``selection`` ("min" or "1se") decides which becomes ``alpha_``, at which the model is
    refitted on all rows (``coef_``, ``intercept_``).

    Args:
        alphas: number of grid points (int) or a sequence of penalties.
        eps: ratio of the smallest to the largest alpha on a generated grid.
        cv: number of folds (scikit-learn's unshuffled KFold), a splitter with ``split``,
            or an iterable of (train, test) index pairs.
        fit_intercept, tol, max_iter, precompute: as in :class:`Lasso`.
        selection: "min" or "1se".
    """

    def __init__(self, alphas=100, eps=1e-3, cv=5, fit_intercept=True, tol=1e-4, max_iter=1000,
                 precompute="auto", selection="min"):
        self.alphas = alphas
        self.eps = eps
        self.cv = cv
        self.fit_intercept = fit_intercept
        self.tol = tol
        self.max_iter = max_iter
        self.precompute = precompute
        self.selection = selection

    def fit(self, X, y, sample_weight=None):
        """Cross-validate the grid and refit at ``alpha_``; returns self. With ``sample_weight``
        (n,), as scikit-learn's LassoCV: the grid's alpha_max, each fold's path (its training
        weights rescaled to sum to its rows) and the refit are weighted, and each held-out error
        is the weighted mean of the squared errors."""
        if self.selection not in ("min", "1se"):
            raise ValueError(f"selection: expected 'min' or '1se'; got {self.selection!r}")
        check_settings(self.tol, self.max_iter, "cd")
        raw_X = X
        X, y = self._prepare(X, y)
        n, p = X.shape
        weights = check_sample_weight(sample_weight, n, "LassoCV")
        if isinstance(self.alphas, numbers.Integral) and not isinstance(self.alphas, bool):
            grid = alpha_grid(centered_problem(X, y, weights, self.fit_intercept)[0].alpha_max(), self.alphas,
                              self.eps)
        else:
            grid = np.sort(np.atleast_1d(np.asarray(self.alphas, dtype=backend.float64)))[::-1]
            if grid.ndim != 1 or grid.size == 0 or not np.all(np.isfinite(grid)) or grid[-1] <= 0:
                raise ValueError(f"alphas: expected an int or finite penalties > 0; got {self.alphas!r}")
        folds = train_test_splits(self.cv, raw_X, y, n)
        route = choose_route(self.precompute, p, path=True)
        mse = np.empty((grid.size, len(folds)))
        for f, (train, test) in enumerate(folds):
            problem, x_mean, y_mean = centered_problem(X[train], y[train], None if weights is None else
                                                       weights[train], self.fit_intercept)
            coefs, gaps, _ = solve_path(problem, grid, float(self.tol), int(self.max_iter), route)
            if np.any(gaps > self.tol * problem.yy):
                warn_unconverged(f"LassoCV fold {f}", float(gaps.max()), self.tol, problem.yy, self.max_iter)
            intercepts = y_mean - x_mean @ coefs if self.fit_intercept else np.zeros(grid.size)
            predictions = X[test] @ coefs + intercepts
            mse[:, f] = np.average((y[test][:, None] - predictions) ** 2, axis=0,
                                   weights=None if weights is None else weights[test])
        mean = mse.mean(axis=1)
        best = int(np.argmin(mean))
        se = mse.std(axis=1, ddof=1) / math.sqrt(len(folds)) if len(folds) > 1 else np.zeros(grid.size)
        self.alphas_ = grid
        self.mse_path_ = mse
        self.cv_mean_ = mean
        self.cv_se_ = se
        self.alpha_min_ = float(grid[best])
        self.alpha_1se_ = float(grid[mean <= mean[best] + se[best]].max())
        self.alpha_ = self.alpha_min_ if self.selection == "min" else self.alpha_1se_
        model = Lasso(self.alpha_, fit_intercept=self.fit_intercept, tol=self.tol,
                      max_iter=self.max_iter, precompute=self.precompute).fit(raw_X, y, sample_weight)
        for name in ("coef_", "intercept_", "dual_gap_", "n_iter_", "route_"):
            setattr(self, name, getattr(model, name))
        return self


_compiled = compiled_kernels  # the name benchmarks and tests know
