r"""Logistic (binary) and multinomial (softmax) regression by maximum likelihood, with inference.

Binary model (``Logit``). For rows i = 1..n with regressors x_i (a leading 1 when
``fit_intercept``) and y_i in {0, 1}, with η_i = x_i'β and p_i = σ(η_i) = 1 / (1 + e^{-η_i}):

    log-likelihood  ℓ(β) = Σ_i [ y_i η_i − log(1 + e^{η_i}) ],
                    computed as Σ_i [ y_i η_i − max(η_i, 0) − log1p(e^{−|η_i|}) ]
                    (never the exponential of a large positive number)
    score           g(β) = ∂ℓ/∂β = X'(y − p)
    Hessian         H(β) = ∂²ℓ/∂β∂β' = −X'WX,  W = diag(p_i (1 − p_i))

Newton–Raphson (for the canonical link identical to Fisher scoring / iteratively
reweighted least squares, McCullagh & Nelder 1989, §2.5 and §4.4):

    β_{k+1} = β_k + t_k (X'W_kX)^{-1} X'(y − p_k),

where X'W_kX is a weighted Gram matrix, solved by its Cholesky factor (``cho_solve``). One
iteration reads X once: per cache-sized block of rows it forms η, the block's share of ℓ,
p and w, then adds B'B with B the block's rows scaled by √w_i (one BLAS gemm/syrk) to
X'WX and the block's X'(y − p) to the score. Step halving: t_k = 1, 1/2, 1/4, …
until ℓ(β_{k+1}) ≥ ℓ(β_k), so the log-likelihood never decreases. The iteration stops
when max_j |Δβ_j| ≤ tol (1 + max_j |β_j|); the accepted point is then within about tol²
of the maximum, and the covariance is always the information evaluated (in one more
pass, if needed) where the last Newton step was ≤ 1e-12 (1 + max|β|).

Speed on tall data (see ``_newton_binary``): X'WX is re-formed only when it is needed.
Between re-formations the last factor is reused (a chord / lazy-Hessian Newton step,
with a BFGS secant update of the matrix, so an iteration costs one read of X for ℓ and
X'(y − p)), and it is re-formed when the steps stop shrinking by 4x per iteration. On
large data (n > 50,000) the iteration starts from the estimate and the information
(scaled by n/m) of an evenly strided subsample of m ≈ 25,000 rows; the answer, its
stopping rule and its covariance are those of the full data.

Inference (Greene, *Econometric Analysis*, 7th ed., ch. 14 and 17): the covariance is the
inverse observed information, Cov(β̂) = (X'ŴX)^{-1}; ``bse`` its square-rooted diagonal;
z = β̂ / se with normal p-values and intervals (:func:`chainrule.stats.wald`). With
ℓ_0 the log-likelihood of the intercept-only model (always fitted with a constant, as in
statsmodels), ℓ_0 = n [ȳ log ȳ + (1 − ȳ) log(1 − ȳ)]:

    McFadden pseudo R²   1 − ℓ(β̂) / ℓ_0
    likelihood ratio     LR = 2 (ℓ(β̂) − ℓ_0) ~ χ²(df_model), df_model = k − 1
    AIC = −2ℓ + 2k,  BIC = −2ℓ + k log n,  k = number of parameters

Average marginal effects (Greene §17.3): for a continuous regressor j (not the constant),

    AME_j = (1/n) Σ_i ∂p_i/∂x_ij = β_j (1/n) Σ_i p_i (1 − p_i),

with delta-method covariance G Cov(β̂) G', where

    G_jl = ∂AME_j/∂β_l = (1/n) Σ_i [ δ_jl w_i + β_j w_i (1 − 2 p_i) x_il ],  w_i = p_i (1 − p_i).

Separation (Albert & Anderson 1984, *Biometrika* 71, 1–10): the maximum-likelihood
estimate does not exist when some direction b ≠ 0 has s_i x_i'b ≥ 0 for every row
(s_i = 2y_i − 1): *complete* separation when all inequalities can be strict, and
*quasi-complete* when some must hold with equality. Newton's iterates then run off to
infinity. When the iteration shows the symptom (a fitted |η_i| > 30, a singular
information matrix, or no convergence), the fit checks each column alone (its values for
y = 0 and y = 1 do not overlap) and otherwise solves the linear program of Konis (2007)
for such a b, and raises :class:`PerfectSeparationError` naming the columns and rows.

Multinomial model (``MNLogit``): classes 0..K−1 in sorted order, the first the
reference with β_0 = 0; η_ik = x_i'β_k, p_ik = e^{η_ik} / Σ_m e^{η_im}:

    ℓ(B) = Σ_i [ η_{i,y_i} − logsumexp_m(η_im) ]
    score    ∂ℓ/∂β_k = X'(1{y = k} − p_k),  k = 1..K−1
    Hessian  ∂²ℓ/∂β_j∂β_k' = −X' diag(p_j (δ_jk − p_k)) X

with the same Newton iteration, step halving and inverse-information covariance
(Greene §18.2). ``params`` has one column per non-reference class (statsmodels' layout).

References: P. McCullagh and J. A. Nelder, *Generalized Linear Models*, 2nd ed., 1989;
W. H. Greene, *Econometric Analysis*, 7th ed., 2012; A. Albert and J. A. Anderson, "On the
existence of maximum likelihood estimates in logistic regression models", *Biometrika*
71 (1984); K. Konis, *Linear programming algorithms for detecting separated data in
binary logistic regression models*, DPhil thesis, Oxford, 2007.
"""
from __future__ import annotations

import math

from scipy import linalg as _linalg
from scipy import optimize as _optimize
from scipy import special as _special
from scipy import stats as _distributions

from .. import backend
from ._base import Estimator
from ._validation import (
    as_design,
    as_target,
    check_binary,
    check_columns,
    check_enough_rows,
    warn,
)
from .inference import Summary, wald

np = backend.host

__all__ = ["Logit", "MNLogit", "MarginalEffects", "PerfectSeparationError", "find_separation"]

_SOLVERS = ("newton", "gd", "adam")
_SCORE_BLOCK_ROWS = 32768  # rows per block when only ℓ and the score are needed
_BLOCK_ROWS = 8192          # rows per block of the weighted Gram matrix (fits in cache)
_SUBSAMPLE_ABOVE = 50_000   # warm-start Newton on a strided subsample above this many rows
_EXACT = 1e-12            # a final Newton step this small leaves I_k exact to ~1e-12
_ETA_ALARM = 30.0           # |η_i| beyond this: p_i(1 − p_i) < 1e-13, a symptom of separation


class PerfectSeparationError(ValueError):
    """The maximum-likelihood estimate does not exist: the data are (quasi-)completely separated.

    Attributes:
        kind: "complete" or "quasi-complete".
        columns: the names of the columns in the separating direction.
        direction: the separating direction b (one entry per parameter, constant first).
        rows: the positions of the rows that the direction predicts perfectly.
    """

    def __init__(self, message, kind, columns, direction, rows):
        super().__init__(message)
        self.kind, self.columns, self.direction, self.rows = kind, list(columns), direction, rows


# ----------------------------------------------------------------------------- the design


class _Design:
    """X with an implicit leading column of ones (never copied to add the constant)."""

    def __init__(self, X, intercept: bool):
        self.X, self.intercept = X, intercept
        self.n = X.shape[0]
        self.k = X.shape[1] + int(intercept)

    def dot(self, beta):
        """η = X β (β has k entries, or k rows for several columns)."""
        if self.intercept:
            return self.X @ beta[1:] + beta[0]
        return self.X @ beta

    def tdot(self, r):
        """X' r for a vector (or matrix) r of n rows."""
        body = self.X.T @ r
        if self.intercept:
            return np.concatenate([np.sum(r, axis=0, keepdims=True), body.reshape((-1,) + r.shape[1:])])
        return body

    def gram(self, w):
        """X' diag(w) X for w ≥ 0 (one symmetric k × k matrix), over cache-sized row blocks."""
        X, n, k, off = self.X, self.n, self.k, int(self.intercept)
        s = np.sqrt(w)
        gram = np.zeros((k, k))
        block = np.empty((min(_BLOCK_ROWS, n), k))
        for start in range(0, n, _BLOCK_ROWS):
            stop = min(start + _BLOCK_ROWS, n)
            b = block[: stop - start]
            if off:
                b[:, 0] = s[start:stop]
            np.multiply(X[start:stop], s[start:stop, None], out=b[:, off:])
            gram += b.T @ b
        return gram

    def newton_pass(self, beta, y, hessian=True):
        """What one Newton iteration needs at β, in one read of X.

        Per block of rows (small enough to stay in cache while it is used): η = X_b β, the
        block's share of ℓ, p = σ(η); X_b'(y − p) into the score; and, when ``hessian``,
        the block scaled by √w (w = p(1 − p)) into X'WX by one BLAS product B'B (which
        NumPy runs as ``syrk``). Returns (ℓ, X'WX or None, X'(y − p), max|η|).
        """
        X, n, k, off = self.X, self.n, self.k, int(self.intercept)
        slopes, shift = (beta[1:], beta[0]) if off else (beta, 0.0)
        gram, score = (np.zeros((k, k)) if hessian else None), np.zeros(k)
        llf, largest = 0.0, 0.0
        block = np.empty((min(_BLOCK_ROWS, n), k)) if hessian else None
        size = _BLOCK_ROWS if hessian else _SCORE_BLOCK_ROWS
        for start in range(0, n, size):
            stop = min(start + size, n)
            rows, yb = X[start:stop], y[start:stop]
            eta = rows @ slopes
            eta += shift
            magnitude = np.abs(eta)
            largest = max(largest, float(magnitude.max()))
            np.negative(magnitude, out=magnitude)
            np.exp(magnitude, out=magnitude)
            np.log1p(magnitude, out=magnitude)
            llf += float(yb @ eta - np.maximum(eta, 0.0).sum() - magnitude.sum())  # as _loglik
            p = _special.expit(eta)
            r = yb - p
            if off:
                score[0] += r.sum()
            score[off:] += rows.T @ r
            if hessian:
                b = block[: stop - start]
                w = p * (1.0 - p)
                np.sqrt(w, out=w)
                if off:
                    b[:, 0] = w
                np.multiply(rows, w[:, None], out=b[:, off:])
                gram += b.T @ b
        return llf, gram, score, largest

    def cross(self, w):
        """X' diag(w) X for any weights w (signs allowed), as one matrix product."""
        Z = self.full()
        return Z.T @ (Z * w[:, None])

    def full(self):
        if self.intercept:
            return np.column_stack([np.ones(self.n), self.X])
        return self.X


def _loglik(eta, y):
    """Σ [y η − max(η, 0) − log1p(e^{−|η|})]."""
    return float(y @ eta - np.sum(np.maximum(eta, 0.0)) - np.sum(np.log1p(np.exp(-np.abs(eta)))))


def _null_loglik(y):
    n, m = y.size, float(y.sum())
    return sum(c * math.log(c / n) for c in (m, n - m) if c > 0)


# ----------------------------------------------------------------------------- separation


def find_separation(X, y, names=None, fit_intercept: bool = True):
    """Look for (quasi-)complete separation of a binary y by the columns of X.

    Returns ``None`` when the classes overlap (a finite maximum-likelihood estimate exists),
    else a :class:`PerfectSeparationError` (not raised) describing it. First each column
    alone is checked (with an intercept: max over one class ≤ min over the other); then
    the linear programs of Konis (2007) over all columns: maximize t subject to
    s_i x_i'b ≥ t, −1 ≤ b ≤ 1 (t > 0: complete separation), then maximize Σ_i s_i x_i'b
    subject to s_i x_i'b ≥ 0 (a positive optimum: quasi-complete separation).
    """
    X, names = as_design(X, "X") if names is None else (np.asarray(X, dtype=backend.float64), list(names))
    target, y_name = as_target(y, X.shape[0], "y")
    positive = check_binary(target, y_name)[1] > 0.5
    if fit_intercept:
        found = _separating_column(X, positive, names)
        if found is not None:
            return found
    design = _Design(X, fit_intercept)
    Z = design.full()
    scale = np.max(np.abs(Z), axis=0)
    scale[scale == 0] = 1.0
    S = (Z / scale) * np.where(positive, 1.0, -1.0)[:, None]
    n, k = S.shape
    bounds = [(-1.0, 1.0)] * k + [(None, 1.0)]
    # complete: max t s.t. S b >= t  <=>  -S b + t <= 0
    result = _optimize.linprog(
        np.r_[np.zeros(k), -1.0], A_ub=np.hstack([-S, np.ones((n, 1))]), b_ub=np.zeros(n),
        bounds=bounds, method="highs",
    )
    if result.status == 0 and -result.fun > 1e-7:
        return _separation_report("complete", result.x[:k] / scale, S @ result.x[:k], names, fit_intercept)
    result = _optimize.linprog(
        -S.sum(axis=0), A_ub=-S, b_ub=np.zeros(n), bounds=bounds[:k], method="highs",
    )
    if result.status == 0 and -result.fun > 1e-7:
        margins = S @ result.x
        if np.min(margins) > -1e-9 and np.any(margins > 1e-7):
            return _separation_report("quasi-complete", result.x / scale, margins, names, fit_intercept)
    return None


def _separating_column(X, positive, names):
    for j in range(X.shape[1]):
        on, off = X[positive, j], X[~positive, j]
        for high, low, label in ((on, off, 1), (off, on, 0)):
            top, bottom = low.max(), high.min()
            if top > bottom:
                continue
            name = names[j]
            if top < bottom:
                kind, rows = "complete", np.arange(X.shape[0])
                detail = (f"every row with {name} >= {bottom:g} has y = {label} and every row with "
                          f"{name} <= {top:g} has y = {1 - label}")
            else:
                kind, rows = "quasi-complete", np.flatnonzero(X[:, j] != top)
                detail = (f"every row with {name} > {top:g} has y = {label} and every row with {name} < "
                          f"{top:g} has y = {1 - label}; only rows with {name} = {top:g} have both "
                          f"({rows.size} rows predicted perfectly)")
            message = (
                f"Logit: {kind} separation: column {name!r} alone separates the classes: {detail}. "
                f"The maximum-likelihood estimate does not exist (the coefficient of {name!r} runs to "
                f"{'+' if label == 1 else '-'}infinity; Albert & Anderson 1984). Drop or merge that "
                f"column, or use a penalized model"
            )
            direction = np.zeros(X.shape[1] + 1)
            direction[j + 1] = 1.0 if label == 1 else -1.0
            return PerfectSeparationError(message, kind, [name], direction, rows)
    return None


def _separation_report(kind, direction, margins, names, fit_intercept):
    direction = direction / np.max(np.abs(direction))
    labels = (["const"] if fit_intercept else []) + list(names)
    columns = [labels[j] for j in np.flatnonzero(np.abs(direction) > 1e-6) if labels[j] != "const" or not fit_intercept]
    rows = np.flatnonzero(margins > 1e-7)
    terms = " ".join(f"{'+' if direction[j] >= 0 else '-'} {abs(direction[j]):.3g}*{labels[j]}"
                     for j in np.flatnonzero(np.abs(direction) > 1e-6))
    message = (
        f"Logit: {kind} separation by the columns {', '.join(map(repr, columns))}: the linear combination "
        f"{terms.lstrip('+ ')} is >= 0 for every row with y = 1 and <= 0 for every row with y = 0 "
        f"({rows.size} rows predicted perfectly, first at rows {', '.join(map(str, rows[:5]))}). The "
        f"maximum-likelihood estimate does not exist (Albert & Anderson 1984). Drop or merge those "
        f"columns, or use a penalized model"
    )
    return PerfectSeparationError(message, kind, columns, direction, rows)


# ----------------------------------------------------------------------------- Newton


class _NewtonResult:
    def __init__(self, beta, llf, iterations, converged, message="", information=None):
        self.beta, self.llf, self.information = beta, llf, information
        self.iterations, self.converged, self.message = iterations, converged, message


class _Alarm(Exception):
    """The iteration shows a symptom of separation (|η| too large or a singular information)."""

    def __init__(self, reason, beta):
        super().__init__(reason)
        self.reason, self.beta = reason, beta


def _newton_binary(design, y, beta, tol, max_iter, alarm=True, exact_information=True, information=None):
    """Maximize ℓ by Newton with step halving from β; raises _Alarm on a symptom of separation.

    Steps s_k = I^{-1} g_k with g_k = X'(y − p_k) and I = X'WX evaluated at β_k (Newton) or,
    while that converges fast, kept from an earlier iterate (the "chord" or lazy-Hessian
    Newton method: the factor is reused and an iteration costs one read of X for ℓ and g
    without forming X'WX). I is re-evaluated whenever the last step was not at least 4
    times shorter than the one before it, so the iteration is never slower than linear
    with rate 1/4, and near the answer (where the stale I is within O(|β_k − β̂|) of the
    true one) it contracts by that much each time.

    Stopping: max|s_k| ≤ tol (1 + max|β_k|). The result is then β_k + s_k, with
    ℓ(β_k + s_k) = ℓ_k + g_k's_k / 2 (exact to O(|s_k|³) when I is current, since
    I s_k = g_k), and the covariance from I evaluated at β_k; unless I is current and
    max|s_k| ≤ 1e-12 (1 + max|β_k|) (so that I is within ~1e-12 of its value at the
    answer), one more pass evaluates I at β_k + s_k and takes one more (tiny) Newton step.
    Step halving: β_{k+1} = β_k + t s_k with the first t in 1, 1/2, 1/4, … for which ℓ does
    not decrease. ``information``, when given, is an approximation of I at β to start the
    chord iteration with (e.g. from a subsample, scaled to n rows).
    """
    fresh = information is None
    if not fresh:
        try:
            factor = _linalg.cho_factor(information, lower=False, check_finite=False)
        except _linalg.LinAlgError:
            fresh = True
    llf, computed, score, largest = design.newton_pass(beta, y, hessian=fresh)
    if fresh:
        information = computed
    polished, previous = False, math.inf
    for iteration in range(1, max_iter + 1):
        if fresh:
            try:
                factor = _linalg.cho_factor(information, lower=False, check_finite=False)
            except _linalg.LinAlgError:
                raise _Alarm("the information matrix X'WX is singular", beta) from None
        step = _linalg.cho_solve(factor, score, check_finite=False)
        if not np.all(np.isfinite(step)):
            raise _Alarm("the Newton step is not finite", beta)
        size, scale = np.max(np.abs(step)), 1.0 + np.max(np.abs(beta))
        if size <= tol * scale:
            if not exact_information or (fresh and (polished or size <= _EXACT * scale)):
                return _NewtonResult(beta + step, llf + 0.5 * float(score @ step), iteration, True,
                                     information=(information, factor))
            beta = beta + step
            llf, information, score, largest = design.newton_pass(beta, y)
            fresh, polished = True, True
            continue
        refresh = bool(size > 0.25 * previous)  # a fresh I when the chord contracts slowly
        previous = size
        t = 1.0
        while True:
            candidate = beta + t * step
            evaluation = design.newton_pass(candidate, y, hessian=refresh and t == 1.0)
            if evaluation[0] >= llf - 1e-12 * abs(llf) or t < 1e-10:
                break
            t *= 0.5
        moved, old_score = candidate - beta, score
        beta, (llf, new_information, score, largest) = candidate, evaluation
        fresh = new_information is not None
        if fresh:
            information = new_information
        else:
            information = _bfgs_update(information, moved, old_score - score)
            try:
                factor = _linalg.cho_factor(information, lower=False, check_finite=False)
            except _linalg.LinAlgError:  # the approximation lost definiteness: form X'WX afresh
                llf, information, score, largest = design.newton_pass(beta, y)
                fresh = True
        if alarm and largest > _ETA_ALARM:
            raise _Alarm(f"a fitted linear predictor |x_i'b| exceeds {_ETA_ALARM:g}", beta)
    return _NewtonResult(beta, llf, max_iter, False, f"Newton did not converge in max_iter={max_iter} iterations")


def _bfgs_update(B, s, d):
    """BFGS update of an approximation B of I = −∇²ℓ so that it satisfies the secant condition
    B_new s = d (s the step, d = g_old − g_new): B + dd'/(d's) − Bs(Bs)'/(s'Bs); skipped
    when d's ≤ 0 (curvature not positive along s)."""
    curvature = float(d @ s)
    Bs = B @ s
    sBs = float(s @ Bs)
    if curvature <= 1e-12 * sBs or sBs <= 0:
        return B
    return B + np.outer(d, d) / curvature - np.outer(Bs, Bs) / sBs


# ----------------------------------------------------------------------------- Logit


class _LikelihoodResults:
    """The results every maximum-likelihood model reports, from ``llf_``, ``llnull_``,
    ``nobs``, ``df_model`` and ``_n_params`` (the number of estimated parameters k):

        llr = 2 (llf - llnull), its p-value from chi^2(df_model)
        McFadden pseudo R^2 = 1 - llf / llnull
        aic = -2 llf + 2 k,   bic = -2 llf + log(n) k
    """

    @property
    def llf(self):
        self._check_fitted()
        return self.llf_

    @property
    def llnull(self):
        self._check_fitted()
        return self.llnull_

    @property
    def llr(self):
        return 2.0 * (self.llf - self.llnull)

    @property
    def llr_pvalue(self):
        return float(_distributions.chi2.sf(self.llr, self.df_model))

    @property
    def prsquared(self):
        """McFadden's pseudo R^2 = 1 - llf / llnull."""
        return 1.0 - self.llf / self.llnull

    @property
    def aic(self):
        return -2.0 * self.llf + 2.0 * self._n_params

    @property
    def bic(self):
        return -2.0 * self.llf + math.log(self.nobs) * self._n_params


class Logit(_LikelihoodResults, Estimator):
    r"""Binary logistic regression by maximum likelihood, with statsmodels-style inference.

    The model, the log-likelihood, score and Hessian, the Newton iteration with step halving,
    McFadden's R², the average marginal effects with their delta-method gradient, and the
    separation check are stated in the module docstring (:mod:`chainrule.stats.logit`).

    Args:
        fit_intercept: add a constant (named "const", first) to the regressors.
        solver: "newton" (Newton–Raphson / IRLS, the default), or "gd" / "adam": first-order
            minimization of the mean cross-entropy (1/n) Σ_i BCE(η_i, y_i) with
            :func:`chainrule.optim.minimize` on chainrule float64 tensors (the loss is
            :func:`chainrule.nn.functional.binary_cross_entropy_with_logits`), stopping when
            the gradient norm is below ``tol``. The standard errors are always the
            inverse observed information at the solution found.
        tol: Newton: stop when max|Δβ| ≤ tol (1 + max|β|) (default 1e-8); gd/adam: the
            gradient-norm tolerance of the mean loss (default 1e-8 as well).
        max_iter: the most iterations (default: 100 for Newton, 100,000 for gd/adam).
        lr: the learning rate for gd/adam (default: 1/L for gd, with L = λ_max(X'X) / (4n)
            the smoothness constant of the mean loss; 0.01 for adam).
        alpha: the level of the confidence intervals in ``conf_int()`` and ``summary()``.

    Fitted attributes (scikit-learn): ``coef_`` (p,), ``intercept_`` (float), ``classes_``,
    ``n_iter_``, ``converged_``, ``param_names_``. Results (statsmodels names): ``params``,
    ``bse``, ``tvalues``, ``pvalues``, ``conf_int()``, ``cov_params()``, ``llf``, ``llnull``,
    ``llr``, ``llr_pvalue``, ``prsquared``, ``aic``, ``bic``, ``nobs``, ``df_model``,
    ``df_resid``, ``summary()``, ``get_margeff()``.
    """

    _estimator_type = "classifier"

    def __init__(self, fit_intercept=True, solver="newton", tol=1e-8, max_iter=None, lr=None, alpha=0.05):
        self.fit_intercept = fit_intercept
        self.solver = solver
        self.tol = tol
        self.max_iter = max_iter
        self.lr = lr
        self.alpha = alpha

    # -- fitting -------------------------------------------------------------------------

    def fit(self, X, y):
        """Fit by maximum likelihood; returns self. Raises PerfectSeparationError on separation."""
        if self.solver not in _SOLVERS:
            raise ValueError(f"Logit: solver must be one of {', '.join(map(repr, _SOLVERS))}; got {self.solver!r}")
        if not (isinstance(self.tol, (int, float)) and self.tol > 0):
            raise ValueError(f"Logit: tol must be a number > 0; got {self.tol!r}")
        X, names = as_design(X, "X")
        target, y_name = as_target(y, X.shape[0], "y")
        check_columns(X, names, bool(self.fit_intercept))
        classes, y01 = check_binary(target, y_name)
        design = _Design(X, bool(self.fit_intercept))
        check_enough_rows(X.shape[0], design.k, "Logit")
        self.param_names_ = (["const"] if self.fit_intercept else []) + names
        self.feature_names_ = names
        self.classes_ = classes
        self.endog_name_ = y_name
        if self.solver == "newton":
            result = self._fit_newton(design, y01, X, names)
        else:
            result = self._fit_first_order(design, y01, X, names)
        beta = result.beta
        self.n_iter_, self.converged_ = result.iterations, result.converged
        if not result.converged:
            warn(f"Logit: {result.message}; the estimates and standard errors may be inaccurate")
        if result.information is None:
            p = _special.expit(design.dot(beta))
            information = design.gram(p * (1.0 - p))
            try:
                factor = _linalg.cho_factor(information, lower=False)
            except _linalg.LinAlgError:
                factor = None
        else:
            information, factor = result.information
        if factor is None:
            self._cov = np.full((design.k, design.k), np.nan)
            warn("Logit: the information matrix X'WX is singular at the solution; standard errors are NaN")
        else:
            self._cov = _linalg.cho_solve(factor, np.eye(design.k))
        self.params_ = beta
        self._design_shape = (design.n, design.k)
        self.llf_ = result.llf
        self.llnull_ = _null_loglik(y01)
        self._design = design
        self.coef_ = beta[1:].copy() if self.fit_intercept else beta.copy()
        self.intercept_ = float(beta[0]) if self.fit_intercept else 0.0
        return self

    def _start(self, y01, k):
        beta = np.zeros(k)
        if self.fit_intercept:
            mean = float(y01.mean())
            beta[0] = math.log(mean / (1.0 - mean))
        return beta

    def _fit_newton(self, design, y01, X, names):
        max_iter = 100 if self.max_iter is None else int(self.max_iter)
        beta, start_information = self._start(y01, design.k), None
        if design.n > _SUBSAMPLE_ABOVE:
            stride = design.n // (_SUBSAMPLE_ABOVE // 2)
            sub = _Design(np.ascontiguousarray(X[::stride]), design.intercept)
            ys = y01[::stride]
            if 0 < ys.sum() < ys.size:
                try:
                    warm = _newton_binary(sub, ys, beta, 1e-3, 50, exact_information=False)
                    beta, start_information = warm.beta, warm.information[0] * (design.n / sub.n)
                except (_Alarm, _linalg.LinAlgError, TypeError):
                    beta = self._start(y01, design.k)
        try:
            result = _newton_binary(design, y01, beta, float(self.tol), max_iter, information=start_information)
            if not result.converged:
                self._raise_if_separated(X, y01, names)
            return result
        except _Alarm as alarm:
            self._raise_if_separated(X, y01, names)
            if "singular" in alarm.reason or "finite" in alarm.reason:
                raise ValueError(
                    f"Logit: {alarm.reason} although the classes are not separated: the columns are "
                    f"(nearly) collinear; drop redundant columns"
                ) from None
            # a large |η| without separation: carry on without the alarm
            return _newton_binary(design, y01, alarm.beta, float(self.tol), max_iter, alarm=False)

    def _raise_if_separated(self, X, y01, names):
        found = find_separation(X, y01, names, bool(self.fit_intercept))
        if found is not None:
            raise found

    def _fit_first_order(self, design, y01, X, names):
        from .. import optim
        from ..nn import functional as F
        from ..tensor import tensor

        Z = design.full()
        Zt, yt = tensor(Z, dtype=backend.float64), tensor(y01, dtype=backend.float64)
        lr = self.lr
        if lr is None:
            if self.solver == "gd":
                largest = float(_linalg.eigvalsh(Z.T @ Z, subset_by_index=[design.k - 1, design.k - 1])[0])
                lr = 4.0 * design.n / largest
            else:
                lr = 0.01
        max_iter = 100_000 if self.max_iter is None else int(self.max_iter)
        beta = tensor(self._start(y01, design.k), dtype=backend.float64, requires_grad=True)
        result = optim.minimize(
            lambda b: F.binary_cross_entropy_with_logits(Zt @ b, yt), beta,
            method=self.solver, lr=lr, tol=float(self.tol), max_iter=max_iter,
        )
        solution = result.x.numpy().astype(backend.float64)
        if not result.converged:
            self._raise_if_separated(X, y01, names)
        return _NewtonResult(solution, _loglik(design.dot(solution), y01), result.iterations, result.converged,
                             f"{self.solver} {result.message}")

    # -- prediction (scikit-learn) ---------------------------------------------------------

    def _linear(self, X):
        self._check_fitted()
        X, _ = as_design(X, "X")
        if X.shape[1] != len(self.feature_names_):
            raise ValueError(f"X has {X.shape[1]} columns but the model was fitted on {len(self.feature_names_)}")
        return X @ self.coef_ + self.intercept_

    def decision_function(self, X):
        """The linear predictor η = x'β̂ for each row."""
        return self._linear(X)

    def predict_proba(self, X):
        """(n, 2) probabilities [P(y = classes_[0]), P(y = classes_[1])] (scikit-learn's layout)."""
        p = _special.expit(self._linear(X))
        return np.column_stack([1.0 - p, p])

    def predict(self, X):
        """The more probable class (p ≥ 1/2 → classes_[1]), in the labels of the fitted y."""
        positive = self._linear(X) > 0
        return self.classes_[positive.astype(int)]

    def score(self, X, y):
        """Accuracy: the fraction of rows where predict(X) equals y."""
        target, _ = as_target(y, len(X) if not hasattr(X, "shape") else X.shape[0], "y")
        return float(np.mean(self.predict(X) == target))

    # -- results (statsmodels names) -------------------------------------------------------

    @property
    def params(self):
        self._check_fitted()
        return self.params_

    @property
    def nobs(self):
        self._check_fitted()
        return self._design_shape[0]

    @property
    def df_model(self):
        """k − 1: the parameters beyond the null model's one constant (statsmodels' convention,
        also without an intercept, since ℓ_0 is always the constant-only model)."""
        self._check_fitted()
        return self._design_shape[1] - 1

    @property
    def df_resid(self):
        return self.nobs - self._design_shape[1]

    def cov_params(self):
        """Cov(β̂) = (X'ŴX)^{-1}, the inverse observed information."""
        self._check_fitted()
        return self._cov

    @property
    def bse(self):
        return np.sqrt(np.diag(self.cov_params()))

    @property
    def tvalues(self):
        return self.params / self.bse

    @property
    def pvalues(self):
        return wald(self.params, self.bse)["pvalues"]

    def conf_int(self, alpha=None):
        """(k, 2) Wald intervals β̂ ± z_{1−α/2} se (α defaults to the estimator's ``alpha``)."""
        return wald(self.params, self.bse, alpha=self.alpha if alpha is None else alpha)["conf_int"]

    @property
    def _n_params(self) -> int:
        return self._design_shape[1]

    def summary(self, alpha=None):
        """A statsmodels-style table (``print`` it, or ``.as_html()``)."""
        self._check_fitted()
        alpha = self.alpha if alpha is None else alpha
        inference = wald(self.params, self.bse, alpha=alpha)
        info = [
            ("Dep. Variable", self.endog_name_), ("Model", "Logit"),
            ("Method", "MLE" if self.solver == "newton" else f"MLE ({self.solver})"),
            ("No. Observations", self.nobs), ("Df Residuals", self.df_resid), ("Df Model", self.df_model),
            ("converged", str(bool(self.converged_))), ("Iterations", self.n_iter_),
            ("Pseudo R-squ.", f"{self.prsquared:.4f}"), ("Log-Likelihood", f"{self.llf:.5g}"),
            ("LL-Null", f"{self.llnull:.5g}"), ("LLR p-value", f"{self.llr_pvalue:.4g}"),
            ("AIC", f"{self.aic:.5g}"), ("BIC", f"{self.bic:.5g}"),
        ]
        return Summary("Logit Regression Results", info, self.param_names_, self.params, self.bse,
                       inference["statistic"], inference["pvalues"], inference["conf_int"],
                       statistic_name="z", alpha=alpha,
                       notes=["Covariance: inverse observed information (X'WX)^-1"])

    def get_margeff(self):
        """Average marginal effects dp/dx_j (all regressors treated as continuous), with
        delta-method standard errors (formulas in the module docstring)."""
        self._check_fitted()
        X = self._design.X
        p = _special.expit(self._design.dot(self.params))
        w = p * (1.0 - p)
        beta, off = self.params, int(bool(self.fit_intercept))
        slopes = beta[off:]
        n = X.shape[0]
        mean_w = float(w.mean())
        margeff = slopes * mean_w
        # G_jl = δ_jl mean(w) + β_j mean(w (1 − 2p) x_l)   (x_l = 1 for the constant)
        v = w * (1.0 - 2.0 * p)
        moment = X.T @ v / n
        if off:
            moment = np.concatenate([[v.mean()], moment])
        G = np.outer(slopes, moment)
        G[:, off:] += np.eye(slopes.size) * mean_w
        cov = G @ self._cov @ G.T
        return MarginalEffects(self.feature_names_, margeff, np.sqrt(np.diag(cov)), cov, self.alpha,
                               self.endog_name_)


class MarginalEffects:
    """Average marginal effects: ``margeff``, ``margeff_se``, ``margeff_cov``, ``tvalues``,
    ``pvalues``, ``conf_int()``, ``summary()`` (statsmodels' names)."""

    def __init__(self, names, margeff, se, cov, alpha, endog_name):
        self.names, self.margeff, self.margeff_se, self.margeff_cov = list(names), margeff, se, cov
        self.alpha, self.endog_name = alpha, endog_name
        inference = wald(margeff, se, alpha=alpha)
        self.tvalues, self.pvalues, self._conf_int = inference["statistic"], inference["pvalues"], inference["conf_int"]

    def conf_int(self, alpha=None):
        if alpha is None:
            return self._conf_int
        return wald(self.margeff, self.margeff_se, alpha=alpha)["conf_int"]

    def summary(self):
        info = [("Dep. Variable", self.endog_name), ("Method", "dydx"), ("At", "overall")]
        return Summary("Logit Marginal Effects", info, self.names, self.margeff, self.margeff_se,
                       self.tvalues, self.pvalues, self._conf_int, statistic_name="z", alpha=self.alpha,
                       notes=["Average marginal effects; delta-method standard errors"])


# ----------------------------------------------------------------------------- MNLogit


class MNLogit(_LikelihoodResults, Estimator):
    r"""Multinomial (softmax) logistic regression by maximum likelihood, the first class the reference.

    Model, log-likelihood, score and Hessian blocks are stated in the module docstring;
    fitted by Newton with step halving, covariance the inverse observed information.

    Args:
        fit_intercept: add a constant (named "const", first).
        tol: stop when max|Δβ| ≤ tol (1 + max|β|) (default 1e-8).
        max_iter: the most Newton iterations (default 100).
        alpha: the level of the intervals.

    Fitted attributes: ``classes_`` (sorted; ``classes_[0]`` the reference), ``coef_``
    (K−1, p), ``intercept_`` (K−1,), ``n_iter_``, ``converged_``. Results: ``params`` and
    ``bse``, ``tvalues``, ``pvalues`` of shape (k, K−1) (one column per non-reference class,
    statsmodels' layout), ``cov_params()`` (k(K−1) square, class blocks in order), ``llf``,
    ``llnull``, ``llr``, ``llr_pvalue``, ``prsquared``, ``aic``, ``bic``, ``summary()``.
    """

    _estimator_type = "classifier"

    def __init__(self, fit_intercept=True, tol=1e-8, max_iter=100, alpha=0.05):
        self.fit_intercept = fit_intercept
        self.tol = tol
        self.max_iter = max_iter
        self.alpha = alpha

    def fit(self, X, y):
        """Fit by Newton–Raphson; returns self."""
        X, names = as_design(X, "X")
        target, y_name = as_target(y, X.shape[0], "y")
        check_columns(X, names, bool(self.fit_intercept))
        classes, codes = np.unique(target, return_inverse=True)
        if classes.size < 2:
            raise ValueError(f"{y_name}: MNLogit needs at least 2 classes; got {classes.size}")
        design = _Design(X, bool(self.fit_intercept))
        K, k, n = classes.size, design.k, design.n
        check_enough_rows(n, k * (K - 1), "MNLogit")
        Y = np.zeros((n, K))
        Y[np.arange(n), codes] = 1.0
        B = np.zeros((k, K - 1))
        if self.fit_intercept:
            freq = Y.mean(axis=0)
            B[0] = np.log(freq[1:] / freq[0])
        llf = _mn_loglik(design.dot(B), codes)
        converged, iteration = False, 0
        for iteration in range(1, int(self.max_iter) + 1):
            P = _mn_probs(design.dot(B))
            information = _mn_information(design, P)
            score = design.tdot(Y[:, 1:] - P[:, 1:]).ravel(order="F")
            try:
                step = _linalg.cho_solve(_linalg.cho_factor(information), score).reshape((k, K - 1), order="F")
            except _linalg.LinAlgError:
                raise ValueError(
                    "MNLogit: the information matrix is singular: a class may be (quasi-)separated "
                    "from the reference by some columns, or the columns are collinear"
                ) from None
            t = 1.0
            while True:
                candidate = B + t * step
                llf_new = _mn_loglik(design.dot(candidate), codes)
                if llf_new >= llf - 1e-12 * abs(llf) or t < 1e-10:
                    break
                t *= 0.5
            B, llf = candidate, llf_new
            if np.max(np.abs(t * step)) <= self.tol * (1.0 + np.max(np.abs(B))):
                converged = True
                break
        eta = design.dot(B)
        if np.max(np.abs(eta)) > _ETA_ALARM:
            warn("MNLogit: some fitted linear predictors exceed 30 in absolute value: a class may be "
                 "(quasi-)separated; the estimates may not be finite")
        if not converged:
            warn(f"MNLogit: Newton did not converge in max_iter={self.max_iter} iterations")
        P = _mn_probs(eta)
        try:
            cov = _linalg.cho_solve(_linalg.cho_factor(_mn_information(design, P)), np.eye(k * (K - 1)))
        except _linalg.LinAlgError:
            cov = np.full((k * (K - 1),) * 2, np.nan)
        self.classes_, self.params_, self._cov = classes, B, cov
        self.param_names_ = (["const"] if self.fit_intercept else []) + names
        self.feature_names_, self.endog_name_ = names, y_name
        self.llf_ = _mn_loglik(eta, codes)
        counts = Y.sum(axis=0)
        self.llnull_ = float(np.sum(counts * np.log(counts / n)))
        self.n_iter_, self.converged_ = iteration, converged
        self._shape = (n, k, K)
        self.coef_ = (B[1:] if self.fit_intercept else B).T.copy()
        self.intercept_ = B[0].copy() if self.fit_intercept else np.zeros(K - 1)
        return self

    def _linear(self, X):
        self._check_fitted()
        X, _ = as_design(X, "X")
        if X.shape[1] != len(self.feature_names_):
            raise ValueError(f"X has {X.shape[1]} columns but the model was fitted on {len(self.feature_names_)}")
        return X @ self.coef_.T + self.intercept_

    def predict_proba(self, X):
        """(n, K) class probabilities, columns in the order of ``classes_``."""
        return _mn_probs(self._linear(X))

    def predict(self, X):
        """The most probable class for each row."""
        return self.classes_[np.argmax(self.predict_proba(X), axis=1)]

    def score(self, X, y):
        """Accuracy."""
        target, _ = as_target(y, X.shape[0] if hasattr(X, "shape") else len(X), "y")
        return float(np.mean(self.predict(X) == target))

    @property
    def params(self):
        self._check_fitted()
        return self.params_

    def cov_params(self):
        self._check_fitted()
        return self._cov

    @property
    def bse(self):
        k = self._shape[1]
        return np.sqrt(np.diag(self.cov_params())).reshape((k, -1), order="F")

    @property
    def tvalues(self):
        return self.params / self.bse

    @property
    def pvalues(self):
        return 2.0 * _distributions.norm.sf(np.abs(self.tvalues))

    def conf_int(self, alpha=None):
        """(k, K−1, 2) Wald intervals."""
        inference = wald(self.params.ravel(), self.bse.ravel(), alpha=self.alpha if alpha is None else alpha)
        return inference["conf_int"].reshape(self.params.shape + (2,))

    @property
    def nobs(self):
        self._check_fitted()
        return self._shape[0]

    @property
    def df_model(self):
        """(k − 1)(K − 1), statsmodels' convention (the null model has one constant per class)."""
        _, k, K = self._shape
        return (k - 1) * (K - 1)

    @property
    def df_resid(self):
        n, k, K = self._shape
        return n - k * (K - 1)

    @property
    def _n_params(self) -> int:
        _, k, K = self._shape
        return k * (K - 1)

    def summary(self, alpha=None):
        """One block of rows per non-reference class ("y=<class>: <column>")."""
        self._check_fitted()
        alpha = self.alpha if alpha is None else alpha
        params, bse = self.params.ravel(order="F"), self.bse.ravel(order="F")
        inference = wald(params, bse, alpha=alpha)
        names = [f"{self.endog_name_}={_label(c)}: {name}" for c in self.classes_[1:] for name in self.param_names_]
        info = [
            ("Dep. Variable", self.endog_name_), ("Model", "MNLogit"), ("Method", "MLE"),
            ("No. Observations", self.nobs), ("Df Residuals", self.df_resid), ("Df Model", self.df_model),
            ("converged", str(bool(self.converged_))), ("Iterations", self.n_iter_),
            ("Pseudo R-squ.", f"{self.prsquared:.4f}"), ("Log-Likelihood", f"{self.llf:.5g}"),
            ("LL-Null", f"{self.llnull:.5g}"), ("LLR p-value", f"{self.llr_pvalue:.4g}"),
            ("Reference class", _label(self.classes_[0])),
        ]
        return Summary("MNLogit Regression Results", info, names, params, bse, inference["statistic"],
                       inference["pvalues"], inference["conf_int"], statistic_name="z", alpha=alpha,
                       notes=["Covariance: inverse observed information"])


def _label(value):
    value = float(value)
    return str(int(value)) if value.is_integer() else f"{value:g}"


def _mn_probs(eta):
    """Softmax over [0, η_1, …, η_{K−1}] per row."""
    full = np.column_stack([np.zeros(eta.shape[0]), eta])
    full -= full.max(axis=1, keepdims=True)
    np.exp(full, out=full)
    full /= full.sum(axis=1, keepdims=True)
    return full


def _mn_loglik(eta, codes):
    full = np.column_stack([np.zeros(eta.shape[0]), eta])
    top = full.max(axis=1)
    lse = top + np.log(np.sum(np.exp(full - top[:, None]), axis=1))
    return float(np.sum(full[np.arange(full.shape[0]), codes] - lse))


def _mn_information(design, P):
    """Blocks I_jk = X' diag(p_j (δ_jk − p_k)) X, j, k = 1..K−1."""
    K, k = P.shape[1], design.k
    info = np.empty((k * (K - 1),) * 2)
    for a in range(1, K):
        for b in range(a, K):
            w = P[:, a] * ((a == b) - P[:, b])
            block = design.gram(w) if a == b else design.cross(w)
            info[(a - 1) * k:a * k, (b - 1) * k:b * k] = block
            info[(b - 1) * k:b * k, (a - 1) * k:a * k] = block.T
    return info
