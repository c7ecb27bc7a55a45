r"""The solvers of :class:`~chainrule.stats.LogisticRegression`: Newton's method for the smooth
penalties (l2, none) and proximal Newton with coordinate descent for those with an l1 part.

The objective is scikit-learn's, C Σ_i s_i ℓ_i + P(W) with the row weights s_i (1 without
``sample_weight`` and ``class_weight``), divided by C S, S = Σ_i s_i (n without weights; its
minimizer is the same):

    f(θ) = (1/S) Σ_i s_i ℓ_i(θ) + (a_2/2) ||W||² + a_1 ||W||_1,   a_2 = λ_2/(C S),  a_1 = λ_1/(C S),

with (λ_1, λ_2) = (0, 1) for l2, (1, 0) for l1, (ρ, 1 − ρ) for the elastic net, and a_1 = a_2 = 0
without a penalty (or C = ∞). θ holds one row (b_m, w_m) per linear predictor, the intercept b_m
first and not penalized: one row for two classes, ℓ_i = log(1 + e^{η_i}) − y_i η_i with
η_i = b + x_i'w; K rows for K ≥ 3 classes (the symmetric softmax, as scikit-learn's),
ℓ_i = log Σ_m e^{η_im} − η_{i,y_i}. With z_i = [1, x_i] and p the fitted probabilities,

    gradient   ∂f/∂θ_m = (1/S) Σ_i s_i z_i (p_im − y_im) + a_2 (0, w_m)
    Hessian    ∂²f/∂θ_m∂θ_l = (1/S) Z' diag(s p_m (δ_ml − p_l)) Z + a_2 δ_ml diag(0, I)

(binary: the single block (1/S) Z' diag(s p (1 − p)) Z + a_2 diag(0, I)).

Newton (a_1 = 0): θ ← θ + t s with H s = −g, t the first of 1, 1/2, 1/4, … that satisfies
Armijo's condition f(θ + t s) ≤ f(θ) + 10⁻⁴ t g's. With a_2 > 0, H is positive definite except
along the known null direction of the softmax, the shift of every intercept by the same
amount (the gradient is orthogonal to it); H + μ N N' (N that direction, μ the mean of H's
diagonal) is then positive definite and its Cholesky solve is the minimum-norm step. Without
a penalty H may be singular (collinear columns; the softmax's shift of every coefficient);
the step is then H⁺(−g) from H's eigendecomposition (eigenvalues below d ε λ_max dropped), so
that from θ = 0 every iterate stays in the row space: the limit is the minimum-norm
minimizer, the one scikit-learn's L-BFGS (whose steps are combinations of gradients) finds.

Proximal Newton (a_1 > 0; Lee, Sun & Saunders 2014, the glmnet and newGLMNET scheme of
Friedman et al. 2010 and Yuan, Ho & Lin 2012): at θ, minimize the quadratic model of the
smooth part plus the l1 term,

    g'd + ½ d'H d + a_1 ||w + d_w||_1,

first over the intercepts in closed form (d_b = −H_bb⁺ (g_b + H_bw d_w)), which leaves for the
penalized coordinates the lasso ½ v'A v − c'v + a_1 ||v||_1 with A = H_ww − H_wb H_bb⁺ H_bw (a
Schur complement) and c = A w − (g_w − H_wb H_bb⁺ g_b); it is solved by the coordinate descent
of :func:`chainrule.stats.coordinate_descent.cd_gram` from v = w. The step d is then taken
with the line search F(θ + t d) ≤ F(θ) + 10⁻⁴ t Δ, Δ = g'd + a_1 (||w + d_w||_1 − ||w||_1) < 0.

Cost: each iteration reads X once for the gradient and the Hessian blocks
(:meth:`~chainrule.stats.logit_newton.Design.grams`) and factors the (M k) × (M k) Hessian, so
the solvers suit problems up to a few thousand coefficients M k (as scikit-learn's
``newton-cholesky``); the coordinate descent of a proximal Newton step runs on the dense
Schur complement, compiled by numba when the problem has 50 coefficients or more.

Both stop when the optimality residual is at most ``tol``: max |g| (Newton), or the largest
entry of the minimum-norm subgradient (|g_j + a_1 sign(w_j)| where w_j ≠ 0, max(|g_j| − a_1, 0)
where w_j = 0, |g_j| for intercepts) — scikit-learn's ``tol`` for its lbfgs solver, on the
same scaled objective.

References: J. D. Lee, Y. Sun and M. A. Saunders, "Proximal Newton-type methods for minimizing
composite functions", SIAM J. Optim. 24 (2014); J. Friedman, T. Hastie and R. Tibshirani,
"Regularization paths for generalized linear models via coordinate descent", J. Stat. Softw.
33 (2010); G.-X. Yuan, C.-H. Ho and C.-J. Lin, "An improved GLMNET for L1-regularized logistic
regression", JMLR 13 (2012).
"""
from __future__ import annotations

from collections import namedtuple

from scipy import linalg as _linalg
from scipy import special as _special

from ..engine import backend
from .coordinate_descent import cd_gram
from .logit_newton import Design

np = backend.host

__all__ = ["LogisticProblem", "Solution", "solve_logistic"]

_ARMIJO = 1e-4
_INNER_SWEEPS = 2000        # coordinate-descent sweeps per proximal Newton step, at most
_INNER_TOL = 1e-13          # … stopping when no coordinate moves more than this (relative) near the optimum

Solution = namedtuple("Solution", ["theta", "iterations", "converged", "residual", "message"])


class LogisticProblem:
    """The scaled objective f of the module docstring on one data set.

    Args:
        X: the (n, p) regressors; codes: the class of each row, 0..K − 1; K: the classes.
        fit_intercept: whether θ has an intercept column (first); l1, l2: a_1 and a_2;
        weights: the row weights s (None: every row 1).
    """

    def __init__(self, X, codes, K, fit_intercept, l1, l2, weights=None):
        self.design = Design(X, bool(fit_intercept))
        self.n, self.k, self.K = self.design.n, self.design.k, K
        self.weights = None if weights is None else np.asarray(weights, dtype=backend.float64)
        self.total = float(self.n) if weights is None else float(self.weights.sum())
        self.M = 1 if K == 2 else K
        self.off = int(bool(fit_intercept))
        self.l1, self.l2 = float(l1), float(l2)
        if self.M == 1:
            self.target = (codes == 1).astype(backend.float64)
        else:
            self.target = np.zeros((self.n, K))
            self.target[np.arange(self.n), codes] = 1.0
        self.penalized = np.ones((self.M, self.k), dtype=bool)
        self.penalized[:, :self.off] = False
        self.penalized = self.penalized.ravel()

    @property
    def size(self) -> int:
        return self.M * self.k

    def linear(self, theta):
        """η: (n,) for two classes, (n, K) for more; θ is (M, k)."""
        return self.design.dot(theta[0]) if self.M == 1 else self.design.dot(theta.T)

    def smooth(self, theta):
        """The weighted mean loss plus (a_2/2) ||W||²."""
        eta = self.linear(theta)
        if self.M == 1:
            rows = np.logaddexp(0.0, eta) - self.target * eta
        else:
            rows = _special.logsumexp(eta, axis=1) - np.sum(eta * self.target, axis=1)
        loss = float(np.mean(rows)) if self.weights is None else float(self.weights @ rows) / self.total
        weights = theta.ravel()[self.penalized]
        return loss + 0.5 * self.l2 * float(weights @ weights)

    def value(self, theta):
        """f(θ): the smooth part plus a_1 ||W||_1."""
        return self.smooth(theta) + self.l1 * float(np.abs(theta.ravel()[self.penalized]).sum())

    def probabilities(self, eta):
        if self.M == 1:
            return _special.expit(eta)
        return _special.softmax(eta, axis=1)

    def derivatives(self, theta, hessian=True):
        """(smooth value, gradient (M k,), Hessian (M k, M k) or None) at θ."""
        P = self.probabilities(self.linear(theta))
        residual = P - self.target
        if self.weights is not None:
            residual *= self.weights if self.M == 1 else self.weights[:, None]
        gradient = (self.design.tdot(residual).T / self.total).reshape(-1)
        gradient[self.penalized] += self.l2 * theta.ravel()[self.penalized]
        if not hessian:
            return self.smooth(theta), gradient, None
        if self.M == 1:
            curvature = P * (1.0 - P) if self.weights is None else self.weights * P * (1.0 - P)
            H = self.design.grams(curvature[:, None])[0] / self.total
        else:
            H = self._softmax_hessian(P)
        H[np.diag_indices_from(H)] += self.l2 * self.penalized
        return self.smooth(theta), gradient, H

    def _softmax_hessian(self, P):
        K, k = self.K, self.k
        pairs = [(a, b) for a in range(K) for b in range(a, K)]
        W = np.empty((self.n, len(pairs)))
        for m, (a, b) in enumerate(pairs):
            np.multiply(P[:, a], float(a == b) - P[:, b], out=W[:, m])
        if self.weights is not None:
            W *= self.weights[:, None]
        blocks = self.design.grams(W) / self.total
        H = np.empty((K * k, K * k))
        for (a, b), block in zip(pairs, blocks):
            H[a * k:(a + 1) * k, b * k:(b + 1) * k] = block
            H[b * k:(b + 1) * k, a * k:(a + 1) * k] = block.T
        return H

    def residual(self, theta, gradient):
        """The largest entry of the minimum-norm subgradient (the gradient when a_1 = 0)."""
        r = gradient.copy()
        if self.l1 > 0:
            w, g = theta.ravel()[self.penalized], gradient[self.penalized]
            at_zero = np.sign(g) * np.maximum(np.abs(g) - self.l1, 0.0)
            r[self.penalized] = np.where(w != 0, g + self.l1 * np.sign(w), at_zero)
        return float(np.max(np.abs(r))) if r.size else 0.0

    def shift_directions(self):
        """The unit directions along which the softmax loss is constant and the penalty
        absent: the common shift of the intercepts (and, without a penalty, of each column of
        W); empty for two classes."""
        if self.M == 1:
            return np.zeros((self.size, 0))
        columns = range(self.k) if self.l2 == 0 and self.l1 == 0 else range(self.off)
        N = np.zeros((self.size, len(columns)))
        for c, j in enumerate(columns):
            N[j::self.k, c] = 1.0 / np.sqrt(self.K)
        return N


def solve_logistic(problem, theta, tol, max_iter):
    """Minimize f from θ (M, k): Newton when a_1 = 0, proximal Newton otherwise."""
    if problem.l1 > 0:
        return _proximal_newton(problem, theta, tol, max_iter)
    return _newton(problem, theta, tol, max_iter)


def _newton_step(problem, H, g):
    """−H⁻¹ g (the minimum-norm solution when H is singular), as the module docstring says."""
    if problem.l2 > 0:
        N = problem.shift_directions()
        A = H + float(np.mean(np.diag(H))) * (N @ N.T) if N.shape[1] else H
        try:
            return -_linalg.cho_solve(_linalg.cho_factor(A), g)
        except _linalg.LinAlgError:
            pass
    values, vectors = _linalg.eigh(H)
    keep = values > values.size * np.finfo(backend.float64).eps * max(values[-1], 0.0)
    basis = vectors[:, keep]
    return -(basis @ ((basis.T @ g) / values[keep]))


def _newton(problem, theta, tol, max_iter):
    f, g, H = problem.derivatives(theta)
    for iteration in range(max_iter + 1):
        residual = float(np.max(np.abs(g))) if g.size else 0.0
        if residual <= tol:
            return Solution(theta, iteration, True, residual, "converged")
        if iteration == max_iter:
            break
        step = _newton_step(problem, H, g).reshape(theta.shape)
        accepted = _line_search(problem.smooth, theta, step, f, float(g @ step.ravel()))
        if accepted is None:
            return Solution(theta, iteration, False, residual, "the line search found no decrease (rounding floor)")
        theta, f = accepted
        f, g, H = problem.derivatives(theta)
    return Solution(theta, max_iter, False, residual, f"no convergence in max_iter={max_iter} iterations")


def _line_search(objective, theta, step, value, slope):
    """(θ + t step, f there) for the first t in 1, 1/2, … with Armijo's decrease (a slack of a
    few units in the last place of f, so that the last steps of a converged iteration pass),
    or None."""
    slack = 8 * np.finfo(backend.float64).eps * abs(value)
    t = 1.0
    while t >= 1e-12:
        candidate = theta + t * step
        new = objective(candidate)
        if new <= value + _ARMIJO * t * slope + slack:
            return candidate, new
        t *= 0.5
    return None


def _proximal_newton(problem, theta, tol, max_iter):
    for iteration in range(max_iter + 1):
        f, g, H = problem.derivatives(theta)
        residual = problem.residual(theta, g)
        if residual <= tol:
            return Solution(theta, iteration, True, residual, "converged")
        if iteration == max_iter:
            break
        step = _proximal_direction(problem, theta.ravel(), g, H, max(_INNER_TOL, min(1e-2, residual)))
        w, moved = theta.ravel()[problem.penalized], step[problem.penalized]
        # Δ < 0 in exact arithmetic; near the optimum (Δ ~ −residual²) rounding can make it ≥ 0
        decrease = min(float(g @ step) + problem.l1 * (np.abs(w + moved).sum() - np.abs(w).sum()), 0.0)
        value = f + problem.l1 * float(np.abs(w).sum())
        accepted = _line_search(problem.value, theta, step.reshape(theta.shape), value, decrease)
        if accepted is None:
            return Solution(theta, iteration, False, residual, "the line search found no decrease (rounding floor)")
        theta = accepted[0]
    return Solution(theta, max_iter, False, residual, f"no convergence in max_iter={max_iter} iterations")


def _proximal_direction(problem, flat, g, H, inner_tol):
    """The minimizer d of the quadratic model plus the l1 term (module docstring), by coordinate
    descent until no coordinate moves more than ``inner_tol`` times the largest (the outer
    residual, so that the early steps, far from the optimum, take few sweeps: inexact proximal
    Newton, Lee, Sun & Saunders 2014, §4)."""
    u, v = np.flatnonzero(problem.penalized), np.flatnonzero(~problem.penalized)
    A, g_u = H[np.ix_(u, u)], g[u]
    if v.size:
        H_uv = H[np.ix_(u, v)]
        inverse = _linalg.pinvh(H[np.ix_(v, v)])
        A = A - H_uv @ inverse @ H_uv.T
        g_u = g_u - H_uv @ (inverse @ g[v])
    A = np.ascontiguousarray(A)
    start = flat[u].copy()
    z = start.copy()
    c = A @ start - g_u
    cd_gram(A, c, -g_u.copy(), z, problem.l1, 0.0, _INNER_SWEEPS, inner_tol, np.inf)
    step = np.zeros_like(flat)
    step[u] = z - start
    if v.size:
        step[v] = -inverse @ (g[v] + H_uv.T @ step[u])
    return step
