"""Coordinate descent for the lasso and the elastic net on a Gram matrix: the solver that
:class:`~chainrule.stats.Lasso`, :class:`~chainrule.stats.ElasticNet` (and the proximal Newton
steps of :class:`~chainrule.stats.LogisticRegression`) share.

The problem (scikit-learn's scaling; the intercept b0 is not penalized)::

    minimize over (b0, b)   (1/(2n)) ||y - b0 - X b||^2 + alpha ||b||_1 + (l2/2) ||b||^2

(the lasso: l2 = 0; the elastic net with penalty a and mixing rho: alpha = a rho, l2 = a (1 - rho)).
With an intercept, X and y are centered (Xc, yc) and b0 = mean(y) - mean(X) b. In Gram form,
with G = Xc'Xc/n + l2 I, c = Xc'yc/n and q = c - G b (= Xc'r/n - l2 b, r = yc - Xc b), the
objective is 0.5 b'Gb - c'b + alpha||b||_1 + ||yc||^2/(2n). It is the lasso of the augmented
design [Xc/sqrt(n); sqrt(l2) I] and response [yc/sqrt(n); 0] (Zou & Hastie 2005, Lemma 1), so
every formula below is the lasso's with G, q and ||r||^2 read for that design.

Coordinate descent (Friedman, Hastie & Tibshirani 2010). Cycling over j, the exact
minimizer in b_j with the others fixed is the soft-thresholding update::

    z_j = q_j + G_jj b_j          (the partial-residual fit)
    b_j <- S(z_j, alpha) / G_jj,  S(z, a) = sign(z) max(|z| - a, 0)

followed, when b_j changed by d, by the covariance update q <- q - d G[:, j] (O(p), no
pass over the n rows). Two ways to get G:

* ``"gram"``: the whole p x p Gram matrix, one BLAS call (n p^2 / 2 multiply-adds);
  best for small p and for paths, which reuse it for every alpha (l2 is added to its
  diagonal for one solve and the diagonal restored exactly afterwards).
* ``"working-set"``: never forms the whole Gram matrix. Each outer round computes the
  exact residual and gradient Xc'r/n - l2 b over all p columns (two matrix-vector products,
  O(np)), keeps the current support plus the features that violate the optimality
  condition |x_j'r/n| <= alpha the most (at least 64, twice the support), forms the Gram
  matrix of those columns only, and runs the same coordinate descent on them. It stops
  when the duality gap over all p features is small. For n = 50,000, p = 500 it is
  several times faster than forming X'X (see benchmarks/bench_lasso.py).

``precompute="auto"`` uses "gram" when p <= 200 (3000 for paths), else "working-set". The
coordinate loop is compiled with numba when it is installed (``lasso_kernels.py``); without it,
or with ``CHAINRULE_NO_NUMBA=1``, a NumPy twin runs the same arithmetic (one vector update per
changed coordinate), which is fast enough for working sets of a few hundred columns.

Stopping rule: the duality gap, as in scikit-learn's ``cd_fast`` (in the 1/n scaling of
the objective above). With r = yc - Xc b, g = Xc'r/n - l2 b and the dual scale
s = min(1, alpha / ||g||_inf)::

    gap = (1/2) (||r||^2/n + l2 ||b||^2) (1 + s^2) + alpha ||b||_1 - s r'yc / n

(scikit-learn's elastic-net gap, term for term). The primal objective minus the dual objective
at the dual point; gap >= P(b) - P(b*) >= 0, and it is checked when the largest coordinate
change of a sweep is below ``tol`` times the largest coefficient (and after the last sweep).
Convergence: gap < tol * ||yc||^2 / n. It needs alpha > 0 (with no l1 term the dual point is
feasible only at the optimum): for alpha = 0 use ridge regression.

FISTA (Beck & Teboulle 2009), ``solver="fista"``: with L = lambda_max(G),
b_{k+1} = S(v_k - (G v_k - c)/L, alpha/L), t_{k+1} = (1 + sqrt(1 + 4 t_k^2))/2,
v_{k+1} = b_{k+1} + ((t_k - 1)/t_{k+1}) (b_{k+1} - b_k), with the gradient restart of
O'Donoghue & Candes (2015) (t <- 1 when (v_k - b_{k+1})'(b_{k+1} - b_k) > 0); the same
duality-gap stopping rule, checked every 10 iterations. ``max_iter`` counts sweeps for
coordinate descent and iterations for FISTA.

Regularization path: alpha_max = ||Xc'yc||_inf / n is the smallest l1 weight for which b = 0
(the optimality condition |x_j'yc/n| <= alpha holds for every j at b = 0); the grid is
log-spaced from alpha_max down to eps * alpha_max and each fit starts from the previous
solution (warm start).

References:
    Friedman, J., Hastie, T. & Tibshirani, R. (2010). Regularization paths for generalized
    linear models via coordinate descent. J. Statistical Software 33(1).
    Zou, H. & Hastie, T. (2005). Regularization and variable selection via the elastic net.
    JRSS B 67(2), 301-320.
    Beck, A. & Teboulle, M. (2009). A fast iterative shrinkage-thresholding algorithm for
    linear inverse problems. SIAM J. Imaging Sciences 2(1), 183-202.
    O'Donoghue, B. & Candes, E. (2015). Adaptive restart for accelerated gradient schemes.
    Foundations of Computational Mathematics 15, 715-732.
"""
from __future__ import annotations

import math
import numbers
import warnings

from scipy import linalg as _linalg

from ..engine import backend
from ..engine import compiled as _compiled_kernels
from .penalized import centered_gram, weighted_center

np = backend.host

__all__ = ["ConvergenceWarning", "Problem", "cd_gram", "solve", "solve_path", "choose_route", "check_settings",
           "warn_unconverged", "center_means", "centered_problem", "alpha_grid", "compiled_kernels"]

_GRAM_MAX_P = 200          # precompute="auto": whole Gram matrix up to this many columns
_PATH_GRAM_MAX_P = 3000    # paths: whole Gram matrix (reused for every alpha) up to here
_MIN_WORKING_SET = 64


class ConvergenceWarning(UserWarning):
    """An iterative solver stopped at ``max_iter`` before reaching its tolerance."""


def compiled_kernels(load: bool = False):
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


def cd_gram(G, c, q, w, alpha, yy, max_sweeps, tol_dw, gap_tol):
    """Cyclic coordinate descent on 0.5 w'Gw - c'w + alpha ||w||_1 from w (updated in place),
    with q = c - G w kept current: the compiled kernel when loaded, else its NumPy twin.
    Checks the gap (with ``yy``, see the module docstring) once a sweep moves no coordinate by
    more than ``tol_dw`` times the largest; returns (sweeps, gap) when gap <= gap_tol (pass
    ``gap_tol = inf`` to stop on the coordinate changes alone)."""
    kernels = compiled_kernels()
    if kernels is not None:
        sweeps, gap = kernels.cd_gram(G, c, q, w, alpha, yy, max_sweeps, tol_dw, gap_tol)
        return int(sweeps), float(gap)
    return _cd_gram_numpy(G, c, q, w, alpha, yy, max_sweeps, tol_dw, gap_tol)


def _residual_gap(r, g, w, yc, alpha, n, l2):
    """The duality gap from the exact residual r and gradient g = Xc'r/n - l2 w."""
    dual = float(np.max(np.abs(g)))
    const = alpha / dual if dual > alpha else 1.0
    rr = float(r @ r) / n + l2 * float(w @ w)
    return 0.5 * rr * (1.0 + const * const) + alpha * float(np.abs(w).sum()) - const * float(r @ yc) / n


class Problem:
    """A centered problem: X (not centered), its column means, yc; the Gram matrix
    Xc'Xc/n and c = Xc'yc/n on demand (computed once, shared by every solve)."""

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


def solve(problem, alpha, w, tol, max_iter, solver, route, l2=0.0):
    """Minimize the objective of the module docstring from w: (w, gap, sweeps or iterations)."""
    if solver == "fista":
        return _solve_fista(problem, alpha, w, tol, max_iter, l2)
    if route == "gram":
        return _solve_gram(problem, alpha, w, tol, max_iter, l2)
    return _solve_working_set(problem, alpha, w, tol, max_iter, l2)


def _ridged(problem, l2):
    """The problem's Gram matrix with l2 added to its diagonal (in place), the index of the
    diagonal and its saved values, to restore it exactly after the solve."""
    G, c = problem.gram()
    diagonal = np.diag_indices_from(G)
    saved = G[diagonal].copy()
    if l2:
        G[diagonal] += l2
    return G, c, diagonal, saved


def _solve_gram(problem, alpha, w, tol, max_iter, l2):
    G, c, diagonal, saved = _ridged(problem, l2)
    try:
        q = c - G @ w
        sweeps, gap = cd_gram(G, c, q, w, alpha, problem.yy, max_iter, tol, tol * problem.yy)
    finally:
        G[diagonal] = saved
    return w, gap, sweeps


def _solve_working_set(problem, alpha, w, tol, max_iter, l2):
    X, x_mean, yc, n, p = problem.X, problem.x_mean, problem.yc, problem.n, problem.p
    gap_tol = tol * problem.yy
    sweeps = 0
    previous = None
    r = yc - (X @ w - float(x_mean @ w)) if w.any() else yc
    while True:
        g = (X.T @ r - x_mean * r.sum()) / n - l2 * w
        gap = _residual_gap(r, g, w, yc, alpha, n, l2)
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
        G[np.diag_indices_from(G)] += l2
        c = (Xs.T @ yc) / n
        sub = w[ws].copy()
        q = c - G @ sub
        done, _ = cd_gram(G, c, q, sub, alpha, problem.yy, max_iter - sweeps, tol, 0.3 * gap_tol)
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


def _solve_fista(problem, alpha, w, tol, max_iter, l2):
    G, c, diagonal, saved = _ridged(problem, l2)
    try:
        return _fista(G, c, problem, alpha, w, tol, max_iter)
    finally:
        G[diagonal] = saved


def _fista(G, c, problem, alpha, w, tol, max_iter):
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


def choose_route(precompute, p: int, path: bool) -> str:
    if precompute == "auto":
        return "gram" if p <= (_PATH_GRAM_MAX_P if path else _GRAM_MAX_P) else "working-set"
    if precompute is True:
        return "gram"
    if precompute is False:
        return "working-set"
    raise ValueError(f"precompute: expected 'auto', True or False; got {precompute!r}")


def check_settings(tol, max_iter, solver):
    if isinstance(tol, bool) or not isinstance(tol, numbers.Real) or not (tol > 0 and math.isfinite(tol)):
        raise ValueError(f"tol: expected a finite number > 0; got {tol!r}")
    if isinstance(max_iter, bool) or not isinstance(max_iter, numbers.Integral) or max_iter < 1:
        raise ValueError(f"max_iter: expected an integer >= 1; got {max_iter!r}")
    if solver not in ("cd", "fista"):
        raise ValueError(f"solver: expected 'cd' or 'fista'; got {solver!r}")


def warn_unconverged(what, gap, tol, yy, max_iter):
    if gap > tol * yy:
        warnings.warn(
            f"{what} did not converge in max_iter={max_iter}: duality gap {gap:.3e} > "
            f"tol * ||yc||^2/n = {tol * yy:.3e}; raise max_iter or tol",
            ConvergenceWarning, stacklevel=3,
        )


def center_means(X, y, fit_intercept):
    """(yc, column means of X, mean of y), without copying X (the problems center lazily)."""
    if fit_intercept:
        x_mean = X.mean(axis=0)
        y_mean = float(y.mean())
        return y - y_mean, x_mean, y_mean
    return y, np.zeros(X.shape[1]), 0.0


def alpha_grid(alpha_max, n_alphas, eps):
    if isinstance(n_alphas, bool) or not isinstance(n_alphas, numbers.Integral) or n_alphas < 1:
        raise ValueError(f"n_alphas: expected an integer >= 1; got {n_alphas!r}")
    if not (0 < eps < 1):
        raise ValueError(f"eps: expected a number in (0, 1); got {eps!r}")
    resolution = np.finfo(backend.float64).resolution
    if alpha_max <= resolution:
        return np.full(int(n_alphas), resolution)
    return np.geomspace(alpha_max, alpha_max * eps, num=int(n_alphas))


def solve_path(problem, alphas, tol, max_iter, route, solver="cd", l1_ratio=1.0):
    """Solutions for each penalty of the decreasing grid ``alphas``, each from the previous one:
    the l1 weight alpha * l1_ratio and l2 = alpha (1 - l1_ratio) (the elastic net's mixing;
    1 for the lasso). Returns (coefs (p, len(alphas)), gaps, iterations)."""
    compiled_kernels(load=True)  # many solves: worth starting numba for (see compiled_kernels)
    p = problem.p
    coefs = np.zeros((p, alphas.size))
    gaps = np.zeros(alphas.size)
    iterations = np.zeros(alphas.size, dtype=backend.int64)
    w = np.zeros(p)
    for k, alpha in enumerate(alphas):
        w, gaps[k], iterations[k] = solve(problem, float(alpha) * l1_ratio, w.copy(), tol, max_iter, solver, route,
                                          l2=float(alpha) * (1.0 - l1_ratio))
        coefs[:, k] = w
    return coefs, gaps, iterations


def centered_problem(X, y, weights, fit_intercept):
    """(Problem, x̄, ȳ) of the (weighted) least squares 1/(2n) Σ_i s_i (y_i − b0 − x_i'w)²: without
    weights X and y centered lazily; with weights (checked, rescaled here to sum to n:
    scikit-learn's convention) X and y centered at their weighted means and their rows
    multiplied by √s_i (a copy of X), which makes the problem the unweighted one."""
    if weights is None:
        yc, x_mean, y_mean = center_means(X, y, fit_intercept)
        return Problem(X, x_mean, yc), x_mean, y_mean
    weights = weights * (X.shape[0] / weights.sum())
    Xw, yc, x_mean, y_mean = weighted_center(X, y, weights, fit_intercept)
    return Problem(Xw, np.zeros(X.shape[1]), yc), x_mean, y_mean


def fit_coordinate_descent(estimator, X, y, l1: float, l2: float, previous, what: str, weights=None):
    """Minimize 1/(2n) Σ_i s_i (y_i − b0 − x_i'w)² + l1 ‖w‖₁ + l2/2 ‖w‖² for a prepared X, y and
    set the fitted attributes of ``estimator`` (Lasso: l2 = 0; ElasticNet: l1 = αρ, l2 = α(1 − ρ)):
    ``coef_``, ``intercept_`` (b0 = ȳ − x̄'w with an intercept), ``dual_gap_``, ``n_iter_`` and
    ``route_``. ``weights`` are the checked sample weights (None: s_i = 1), rescaled here to sum
    to n (scikit-learn's convention), X and y centered at their weighted means and their rows
    multiplied by √s_i, which makes the problem the unweighted one. ``previous`` is the warm
    start (or None); ``what`` names the fit in the convergence warning."""
    problem, x_mean, y_mean = centered_problem(X, y, weights, estimator.fit_intercept)
    route = choose_route(estimator.precompute, X.shape[1], path=False)
    w = np.zeros(X.shape[1])
    if previous is not None and previous.shape == w.shape:
        w = previous.astype(backend.float64, copy=True)
    w, gap, iterations = solve(problem, l1, w, float(estimator.tol), int(estimator.max_iter), estimator.solver, route,
                               l2=l2)
    warn_unconverged(what, gap, estimator.tol, problem.yy, estimator.max_iter)
    estimator.coef_ = w
    estimator.intercept_ = y_mean - float(x_mean @ w) if estimator.fit_intercept else 0.0
    estimator.dual_gap_ = gap
    estimator.n_iter_ = iterations
    estimator.route_ = "fista" if estimator.solver == "fista" else route
    return estimator
