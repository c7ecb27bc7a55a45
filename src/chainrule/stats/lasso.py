"""The lasso (Tibshirani 1996): coordinate descent, FISTA, regularization paths and CV.

Objective (the same scaling as scikit-learn; the intercept b0 is not penalized)::

    minimize over (b0, b)   (1/(2n)) ||y - b0 - X b||_2^2 + alpha * ||b||_1

With an intercept, X and y are centered (Xc, yc) and b0 = mean(y) - mean(X) b. In the
Gram form used below, with G = Xc'Xc/n, c = Xc'yc/n and q = c - G b = Xc'r/n (r = yc - Xc b
the residual), the objective is 0.5 b'Gb - c'b + alpha||b||_1 + ||yc||^2/(2n).

Coordinate descent (Friedman, Hastie & Tibshirani 2010). Cycling over j, the exact
minimizer in b_j with the others fixed is the soft-thresholding update::

    z_j = q_j + G_jj b_j          (= x_j'r/n + G_jj b_j, the partial-residual fit)
    b_j <- S(z_j, alpha) / G_jj,  S(z, a) = sign(z) max(|z| - a, 0)

followed, when b_j changed by d, by the covariance update q <- q - d G[:, j] (O(p), no
pass over the n rows). Two ways to get G:

* ``"gram"``: the whole p x p Gram matrix, one BLAS call (n p^2 / 2 multiply-adds);
  best for small p and for paths, which reuse it for every alpha.
* ``"working-set"``: never forms the whole Gram matrix. Each outer round computes the
  exact residual and gradient Xc'r/n over all p columns (two matrix-vector products,
  O(np)), keeps the current support plus the features that violate the optimality
  condition |x_j'r/n| <= alpha the most (at least 64, twice the support), forms the Gram
  matrix of those columns only, and runs the same coordinate descent on them. It stops
  when the duality gap over all p features is small. For n = 50,000, p = 500 it is
  several times faster than forming X'X (see benchmarks/bench_lasso.py).

``precompute="auto"`` uses "gram" when p <= 200, else "working-set". The coordinate loop
is compiled with numba when it is installed (``lasso_kernels.py``); without it, or with
``CHAINRULE_NO_NUMBA=1``, a NumPy twin runs the same arithmetic (one vector update per
changed coordinate), which is fast enough for working sets of a few hundred columns.

Stopping rule: the duality gap, as in scikit-learn's ``cd_fast`` (in the 1/n scaling of
the objective above). With r = yc - Xc b and the dual point theta = s r / n,
s = min(1, alpha / ||Xc'r/n||_inf)::

    gap = (1/(2n)) ||r||^2 (1 + s^2) + alpha ||b||_1 - s r'yc / n

The primal objective minus the dual objective at theta; gap >= P(b) - P(b*) >= 0, and
it is checked when the largest coordinate change of a sweep is below ``tol`` times the
largest coefficient (and after the last sweep). Convergence: gap < tol * ||yc||^2 / n.

FISTA (Beck & Teboulle 2009), ``solver="fista"``: with L = lambda_max(G),
b_{k+1} = S(v_k - (G v_k - c)/L, alpha/L), t_{k+1} = (1 + sqrt(1 + 4 t_k^2))/2,
v_{k+1} = b_{k+1} + ((t_k - 1)/t_{k+1}) (b_{k+1} - b_k), with the gradient restart of
O'Donoghue & Candes (2015) (t <- 1 when (v_k - b_{k+1})'(b_{k+1} - b_k) > 0); the same
duality-gap stopping rule, checked every 10 iterations. ``max_iter`` counts sweeps for
coordinate descent and iterations for FISTA.

Regularization path: alpha_max = ||Xc'yc||_inf / n is the smallest alpha for which b = 0
(the optimality condition |x_j'yc/n| <= alpha holds for every j at b = 0); the grid is
log-spaced from alpha_max down to eps * alpha_max and each fit starts from the previous
solution (warm start).

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
import warnings
from collections import namedtuple

from scipy import linalg as _linalg

from ..engine import backend
from ..engine import compiled as _compiled_kernels
from .cross_validation import train_test_splits
from .penalized import LinearRegressor, centered_gram

np = backend.host

__all__ = ["ConvergenceWarning", "Lasso", "LassoCV", "LassoPath", "lasso_path"]

_GRAM_MAX_P = 200          # precompute="auto": whole Gram matrix up to this many columns
_PATH_GRAM_MAX_P = 3000    # lasso_path: whole Gram matrix (reused for every alpha) up to here
_MIN_WORKING_SET = 64


class ConvergenceWarning(UserWarning):
    """An iterative solver stopped at ``max_iter`` before reaching its tolerance."""


class Lasso(LinearRegressor):
    """The lasso: (1/(2n)) ||y - b0 - X b||_2^2 + alpha ||b||_1 (scikit-learn's scaling).

    The intercept b0 is not penalized (X and y are centered). See the module docstring
    for the soft-thresholding update, the covariance updates and the duality-gap rule.

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

    def fit(self, X, y):
        if isinstance(self.alpha, bool) or not isinstance(self.alpha, numbers.Real):
            raise TypeError(f"alpha: expected a real number; got {self.alpha!r}")
        alpha = float(self.alpha)
        if not (alpha > 0 and math.isfinite(alpha)):
            raise ValueError(
                f"alpha: expected a finite number > 0; got {self.alpha!r} (for alpha = 0 use "
                f"ordinary least squares)"
            )
        _check_settings(self.tol, self.max_iter, self.solver)
        previous = getattr(self, "coef_", None) if self.warm_start else None
        X, y = self._prepare(X, y)
        yc, x_mean, y_mean = _center_means(X, y, self.fit_intercept)
        problem = _Problem(X, x_mean, yc)
        route = _route(self.precompute, X.shape[1], path=False)
        w = np.zeros(X.shape[1])
        if previous is not None and previous.shape == w.shape:
            w = previous.astype(backend.float64, copy=True)
        w, gap, iterations = _solve(problem, alpha, w, float(self.tol), int(self.max_iter), self.solver, route)
        _warn_unconverged(f"Lasso(alpha={alpha:g}, solver={self.solver!r})", gap, self.tol, problem.yy, self.max_iter)
        self.coef_ = w
        self.intercept_ = y_mean - float(x_mean @ w) if self.fit_intercept else 0.0
        self.dual_gap_ = gap
        self.n_iter_ = iterations
        self.route_ = "fista" if self.solver == "fista" else route
        return self


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
    _check_settings(tol, max_iter, "cd")
    model = Lasso(fit_intercept=fit_intercept)
    X, y = model._prepare(X, y)
    yc, x_mean, y_mean = _center_means(X, y, fit_intercept)
    problem = _Problem(X, x_mean, yc)
    if alphas is None:
        grid = _grid(problem.alpha_max(), n_alphas, eps)
    else:
        grid = np.sort(np.atleast_1d(np.asarray(alphas, dtype=backend.float64)))[::-1]
        if grid.ndim != 1 or grid.size == 0 or not np.all(np.isfinite(grid)) or grid[-1] <= 0:
            raise ValueError(f"alphas: expected finite penalties > 0; got {np.asarray(alphas).tolist()}")
    coefs, gaps, iterations = _path(problem, grid, float(tol), int(max_iter), _route(precompute, X.shape[1], True))
    intercepts = y_mean - x_mean @ coefs if fit_intercept else np.zeros(grid.size)
    if np.any(gaps > tol * problem.yy):
        _warn_unconverged("lasso_path", float(gaps.max()), tol, problem.yy, max_iter)
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

    def fit(self, X, y):
        if self.selection not in ("min", "1se"):
            raise ValueError(f"selection: expected 'min' or '1se'; got {self.selection!r}")
        _check_settings(self.tol, self.max_iter, "cd")
        raw_X = X
        X, y = self._prepare(X, y)
        n, p = X.shape
        if isinstance(self.alphas, numbers.Integral) and not isinstance(self.alphas, bool):
            yc, x_mean, _ = _center_means(X, y, self.fit_intercept)
            grid = _grid(_Problem(X, x_mean, yc).alpha_max(), self.alphas, self.eps)
        else:
            grid = np.sort(np.atleast_1d(np.asarray(self.alphas, dtype=backend.float64)))[::-1]
            if grid.ndim != 1 or grid.size == 0 or not np.all(np.isfinite(grid)) or grid[-1] <= 0:
                raise ValueError(f"alphas: expected an int or finite penalties > 0; got {self.alphas!r}")
        folds = train_test_splits(self.cv, raw_X, y, n)
        route = _route(self.precompute, p, path=True)
        mse = np.empty((grid.size, len(folds)))
        for f, (train, test) in enumerate(folds):
            Xt, yt = X[train], y[train]
            yc, x_mean, y_mean = _center_means(Xt, yt, self.fit_intercept)
            problem = _Problem(Xt, x_mean, yc)
            coefs, gaps, _ = _path(problem, grid, float(self.tol), int(self.max_iter), route)
            if np.any(gaps > self.tol * problem.yy):
                _warn_unconverged(f"LassoCV fold {f}", float(gaps.max()), self.tol, problem.yy, self.max_iter)
            intercepts = y_mean - x_mean @ coefs if self.fit_intercept else np.zeros(grid.size)
            predictions = X[test] @ coefs + intercepts
            mse[:, f] = np.mean((y[test][:, None] - predictions) ** 2, axis=0)
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
                      max_iter=self.max_iter, precompute=self.precompute).fit(raw_X, y)
        for name in ("coef_", "intercept_", "dual_gap_", "n_iter_", "route_"):
            setattr(self, name, getattr(model, name))
        return self


def _compiled(load: bool = False):
    """The numba kernels module, or None (numba missing, or CHAINRULE_NO_NUMBA=1).

    Starting numba and loading the cached kernels costs ~0.5 s once per process, which one
    fit does not repay (50,000 x 500: 0.90 s for a first compiled fit against 0.39 s in
    NumPy; 0.19 s per compiled fit after that). So paths and cross-validation, which solve
    many problems, load the kernels (``load=True``); a single ``Lasso.fit`` uses them only
    when this process has loaded them already."""
    name = "chainrule.stats.lasso_kernels"
    return _compiled_kernels.kernels(name) if load else _compiled_kernels.loaded(name)


def _gram_gap_numpy(c, q, w, alpha, yy):
    dual = float(np.max(np.abs(q))) if q.size else 0.0
    wc = float(w @ c)
    rr = yy - wc - float(w @ q)
    ry = yy - wc
    const = alpha / dual if dual > alpha else 1.0
    return 0.5 * rr * (1.0 + const * const) + alpha * float(np.abs(w).sum()) - const * ry


def _cd_gram_numpy(G, c, q, w, alpha, yy, max_sweeps, tol_dw, gap_tol):
    """The NumPy twin of ``lasso_kernels.cd_gram`` (same arithmetic, same order)."""
    k = w.size
    diagonal = np.diagonal(G).tolist()
    gap = 1e300
    for sweep in range(max_sweeps):
        dmax = 0.0
        wmax = 0.0
        for j in range(k):
            gjj = diagonal[j]
            if gjj == 0.0:
                continue
            wj = float(w[j])
            z = float(q[j]) + gjj * wj
            if z > alpha:
                new = (z - alpha) / gjj
            elif z < -alpha:
                new = (z + alpha) / gjj
            else:
                new = 0.0
            if new != wj:
                d = new - wj
                q -= G[j] * d
                w[j] = new
                dmax = max(dmax, abs(d))
            wmax = max(wmax, abs(new))
        if wmax == 0.0 or dmax / wmax < tol_dw or sweep == max_sweeps - 1:
            gap = _gram_gap_numpy(c, q, w, alpha, yy)
            if gap <= gap_tol:
                return sweep + 1, gap
    return max_sweeps, gap


def _cd_gram(G, c, q, w, alpha, yy, max_sweeps, tol_dw, gap_tol):
    kernels = _compiled()
    if kernels is not None:
        sweeps, gap = kernels.cd_gram(G, c, q, w, alpha, yy, max_sweeps, tol_dw, gap_tol)
        return int(sweeps), float(gap)
    return _cd_gram_numpy(G, c, q, w, alpha, yy, max_sweeps, tol_dw, gap_tol)


def _residual_gap(r, g, w, yc, alpha, n):
    """The duality gap from the exact residual r and gradient g = Xc'r/n."""
    dual = float(np.max(np.abs(g)))
    const = alpha / dual if dual > alpha else 1.0
    rr = float(r @ r) / n
    return 0.5 * rr * (1.0 + const * const) + alpha * float(np.abs(w).sum()) - const * float(r @ yc) / n


class _Problem:
    """A centered lasso problem: X (not centered), its column means, yc; Gram on demand."""

    def __init__(self, X, x_mean, yc):
        self.X, self.x_mean, self.yc = X, x_mean, yc
        self.n, self.p = X.shape
        self.yy = float(yc @ yc) / self.n
        self._gram = None
        self._c = None

    @property
    def c(self):
        if self._c is None:
            self._c = (self.X.T @ self.yc - self.x_mean * self.yc.sum()) / self.n
        return self._c

    def gram(self):
        if self._gram is None:
            self._gram = centered_gram(self.X, self.x_mean, self.yc)[0] / self.n
        return self._gram, self.c  # c as alpha_max sees it: at alpha_max, b = 0 exactly

    def alpha_max(self):
        return float(np.max(np.abs(self.c)))


def _solve(problem, alpha, w, tol, max_iter, solver, route):
    if solver == "fista":
        return _solve_fista(problem, alpha, w, tol, max_iter)
    if route == "gram":
        return _solve_gram(problem, alpha, w, tol, max_iter)
    return _solve_working_set(problem, alpha, w, tol, max_iter)


def _solve_gram(problem, alpha, w, tol, max_iter):
    G, c = problem.gram()
    q = c - G @ w
    sweeps, gap = _cd_gram(G, c, q, w, alpha, problem.yy, max_iter, tol, tol * problem.yy)
    return w, gap, sweeps


def _solve_working_set(problem, alpha, w, tol, max_iter):
    X, x_mean, yc, n, p = problem.X, problem.x_mean, problem.yc, problem.n, problem.p
    gap_tol = tol * problem.yy
    sweeps = 0
    previous = None
    r = yc - (X @ w - float(x_mean @ w)) if w.any() else yc
    while True:
        g = (X.T @ r - x_mean * r.sum()) / n
        gap = _residual_gap(r, g, w, yc, alpha, n)
        if gap <= gap_tol or sweeps >= max_iter:
            return w, gap, sweeps
        support = w != 0
        score = np.abs(g) / alpha
        score[support] = np.inf
        size = min(p, max(_MIN_WORKING_SET, 2 * int(support.sum())))
        ws = _top(score, size)
        if previous is not None and size < p and np.array_equal(ws, previous):
            ws = _top(score, min(p, 2 * size))  # the same set again was not enough: grow it
        previous = ws
        Xs = X[:, ws] - x_mean[ws]
        G = (Xs.T @ Xs) / n
        c = (Xs.T @ yc) / n
        sub = w[ws].copy()
        q = c - G @ sub
        done, _ = _cd_gram(G, c, q, sub, alpha, problem.yy, max_iter - sweeps, tol, 0.3 * gap_tol)
        sweeps += done
        w = np.zeros(p)
        w[ws] = sub
        r = yc - Xs @ sub  # the support lies inside the working set: no pass over all of X


def _top(score, size):
    """Indices of the ``size`` largest scores, in increasing order."""
    if size >= score.size:
        return np.arange(score.size)
    return np.sort(np.argpartition(-score, size - 1)[:size])


def _soft(v, a):
    return np.sign(v) * np.maximum(np.abs(v) - a, 0.0)


def _solve_fista(problem, alpha, w, tol, max_iter):
    G, c = problem.gram()
    L = float(_linalg.eigvalsh(G, subset_by_index=[problem.p - 1, problem.p - 1], check_finite=False)[0])
    gap_tol = tol * problem.yy
    if L <= 0:  # every column constant zero after centering: b = 0
        return np.zeros(problem.p), 0.0, 0
    w = w.copy()
    v = w.copy()
    t = 1.0
    gap = math.inf
    for k in range(1, max_iter + 1):
        w_new = _soft(v - (G @ v - c) / L, alpha / L)
        step = w_new - w
        if float((v - w_new) @ step) > 0:  # gradient restart
            t = 1.0
        t_new = (1.0 + math.sqrt(1.0 + 4.0 * t * t)) / 2.0
        v = w_new + ((t - 1.0) / t_new) * step
        w, t = w_new, t_new
        if k % 10 == 0 or k == max_iter:
            gap = _gram_gap_numpy(c, c - G @ w, w, alpha, problem.yy)
            if gap <= gap_tol:
                return w, gap, k
    return w, gap, max_iter


def _route(precompute, p: int, path: bool) -> str:
    if precompute == "auto":
        return "gram" if p <= (_PATH_GRAM_MAX_P if path else _GRAM_MAX_P) else "working-set"
    if precompute is True:
        return "gram"
    if precompute is False:
        return "working-set"
    raise ValueError(f"precompute: expected 'auto', True or False; got {precompute!r}")


def _check_settings(tol, max_iter, solver):
    if isinstance(tol, bool) or not isinstance(tol, numbers.Real) or not (tol > 0 and math.isfinite(tol)):
        raise ValueError(f"tol: expected a finite number > 0; got {tol!r}")
    if isinstance(max_iter, bool) or not isinstance(max_iter, numbers.Integral) or max_iter < 1:
        raise ValueError(f"max_iter: expected an integer >= 1; got {max_iter!r}")
    if solver not in ("cd", "fista"):
        raise ValueError(f"solver: expected 'cd' or 'fista'; got {solver!r}")


def _warn_unconverged(what, gap, tol, yy, max_iter):
    if gap > tol * yy:
        warnings.warn(
            f"{what} did not converge in max_iter={max_iter}: duality gap {gap:.3e} > "
            f"tol * ||yc||^2/n = {tol * yy:.3e}; raise max_iter or tol",
            ConvergenceWarning, stacklevel=3,
        )


def _center_means(X, y, fit_intercept):
    """(yc, column means of X, mean of y), without copying X (the problems center lazily)."""
    if fit_intercept:
        x_mean = X.mean(axis=0)
        y_mean = float(y.mean())
        return y - y_mean, x_mean, y_mean
    return y, np.zeros(X.shape[1]), 0.0


def _grid(alpha_max, n_alphas, eps):
    if isinstance(n_alphas, bool) or not isinstance(n_alphas, numbers.Integral) or n_alphas < 1:
        raise ValueError(f"n_alphas: expected an integer >= 1; got {n_alphas!r}")
    if not (0 < eps < 1):
        raise ValueError(f"eps: expected a number in (0, 1); got {eps!r}")
    resolution = np.finfo(backend.float64).resolution
    if alpha_max <= resolution:
        return np.full(int(n_alphas), resolution)
    return np.geomspace(alpha_max, alpha_max * eps, num=int(n_alphas))


def _path(problem, alphas, tol, max_iter, route, solver="cd"):
    _compiled(load=True)  # many solves: worth starting numba for (see _compiled)
    p = problem.p
    coefs = np.zeros((p, alphas.size))
    gaps = np.zeros(alphas.size)
    iterations = np.zeros(alphas.size, dtype=backend.int64)
    w = np.zeros(p)
    for k, alpha in enumerate(alphas):
        w, gaps[k], iterations[k] = _solve(problem, float(alpha), w.copy(), tol, max_iter, solver, route)
        coefs[:, k] = w
    return coefs, gaps, iterations
