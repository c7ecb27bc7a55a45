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

where X'W_kX is a weighted Gram matrix, solved by its Cholesky factor (``cho_solve``).
Step halving: t_k = 1, 1/2, 1/4, … until ℓ(β_{k+1}) ≥ ℓ(β_k), so the log-likelihood
never decreases. The iteration stops when max_j |Δβ_j| ≤ tol (1 + max_j |β_j|).

Speed on tall data (``_newton_binary``, ``_warm_start``). A pass that needs only ℓ and the
score reads X twice by BLAS matrix-vector products; X'WX is formed only when needed, in
a pass that reads X once, block by block (each block, scaled by √w_i, goes into one BLAS
``syrk``; on C-ordered X of at least 2^29 numbers, with numba installed, the scaling, the
block's score and the constant's row come from one compiled loop over the block,
:mod:`chainrule.stats._logit_kernels`: about 0.6 ns less per number of X per pass, which
outweighs the one-off start of numba, about 0.25 s per process, only on such large data). Between formations the last factor
is reused (a chord / lazy-Hessian Newton step, with a BFGS secant update of the matrix),
and X'WX is formed afresh when the steps stop shrinking by 4x per iteration. On more
than 50,000 rows the iteration starts from the estimate and the information (scaled by
n/m) of nested strided subsamples (every 8th row, then every 64th, …); the answer, its
stopping rule and its covariance are those of the full data.

The covariance is the inverse of X'WX formed at the last iterate β_h whose Newton step
s_h = (X'W_hX)^{-1} g_h was within the tolerance (formed in one extra pass after the
chord iteration converges, unless the last pass already formed it), and the estimate is
β̂ = β_h + s_h. Why X'W_hX may stand for the information at β̂: w(η) = p(1 − p) has
|d log w / dη| = |1 − 2p| < 1, so each weight changes by a factor within e^{±ε},
ε = max_i |x_i's_h|, between β_h and β̂; X'ŴX then lies between e^{−ε} and e^{ε} times
X'W_hX (in the positive semi-definite order), and every standard error within a factor
e^{±ε/2}. s_h is the step after an already converged one (at most tol (1 + max|β|), in
practice the previous step times the chord contraction), so ε/2 is far below the four
digits reported: on the 200,000 x 50 benchmark the standard errors differ from those of
X'WX evaluated at β̂ by 1e-10 relatively; with plain Newton (small n) by 1e-15.

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
The K(K−1)/2 distinct blocks X' diag(w_jk) X are accumulated over blocks of rows in one
read of X, so the memory beyond the result is the weight vectors and one block of rows.
Separation is detected as for the binary model, by the linear programs of
:func:`find_multinomial_separation`; average marginal effects dP(y = c)/dx_j with
delta-method standard errors come from ``MNLogit.get_margeff()``.

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

from .. import _compiled, backend
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

__all__ = ["Logit", "MNLogit", "MarginalEffects", "PerfectSeparationError", "find_multinomial_separation",
           "find_separation"]

_SOLVERS = ("newton", "gd", "adam")
_BLOCK_ROWS = 4096          # rows per block of a weighted Gram matrix (in the 2 MB L2 cache at p = 50)
# n·p from which X'WX passes use the compiled row kernel (numba): it saves about 0.6 ns per
# number of X per pass, and starting numba costs about 0.25 s once per process, so it pays
# within a single fit only from about 4e8 numbers (measured: 200,000 x 50 fits 0.11 s
# without it, 0.31-0.44 s with it on the first fit of a process).
_COMPILED_MIN_SIZE = 1 << 29
_SUBSAMPLE_ABOVE = 50_000   # warm-start Newton on strided subsamples above this many rows
_SUBSAMPLE_STRIDE = 8       # each subsample keeps every 8th row of the one around it
_SUBSAMPLE_MIN_ROWS = 2_500  # … as long as it keeps at least this many (and 25 per parameter)
_WARM_TOL = 1e-3            # the subsample fits stop at max|Δβ| ≤ 1e-3 (1 + max|β|)
_EXACT = 1e-12            # a final Newton step this small leaves I_k exact to ~1e-12
_ETA_ALARM = 30.0           # |η_i| beyond this: p_i(1 − p_i) < 1e-13, a symptom of separation


class PerfectSeparationError(ValueError):
    """The maximum-likelihood estimate does not exist: the data are (quasi-)completely separated.

    Attributes:
        kind: "complete" or "quasi-complete".
        columns: the names of the columns in the separating direction.
        direction: the separating direction b (one entry per parameter, constant first; for
            MNLogit a (k, K−1) matrix, one column per non-reference class).
        rows: the positions of the rows that the direction predicts perfectly (MNLogit: the
            rows with a positive margin).
        classes, pairs: MNLogit only: the classes involved, and the (observed class, other
            class) pairs that the direction ranks apart.
    """

    def __init__(self, message, kind, columns, direction, rows):
        super().__init__(message)
        self.kind, self.columns, self.direction, self.rows = kind, list(columns), direction, rows


# ----------------------------------------------------------------------------- the design


class _Design:
    """X with an implicit leading column of ones (never copied to add the constant).

    Holds the work buffers of the passes over the rows (a few vectors of n entries and one
    block of rows), allocated on first use and reused by every later pass.
    """

    def __init__(self, X, intercept: bool):
        self.X, self.intercept = X, intercept
        self.n = X.shape[0]
        self.k = X.shape[1] + int(intercept)
        self._vectors = None
        self._block = None

    def subsample(self, stride: int) -> "_Design":
        """Every ``stride``-th row (a contiguous copy), with the same constant."""
        return _Design(np.ascontiguousarray(self.X[::stride]), self.intercept)

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

    def newton_pass(self, beta, y, hessian=True):
        """The sums over rows that one Newton iteration needs at β.

        Returns (ℓ, X'WX or None, X'(y − p), max_i |η_i|); the per-row terms are those of
        :func:`_row_terms`. Without ``hessian``, X is read twice by BLAS matrix-vector
        products (η = Xβ and X'(y − p)) with the row terms in between; with it, X is read
        once, block by block (:meth:`_hessian_pass`). Every output is a sum over rows (the
        last a maximum), so a data-parallel fit computes them on each worker's rows and adds
        them up (``allreduce``): nothing else in the iteration touches the rows.
        """
        if hessian:
            return self._hessian_pass(beta, y)
        eta, e, t = self._work_vectors()
        _linear_into(self.X, beta, self.intercept, eta)
        llf, largest = _row_terms(eta, y, e, t)
        return llf, None, self.tdot(t), largest

    def _hessian_pass(self, beta, y):
        """ℓ, X'WX, X'(y − p) and max|η| in two reads of X: η = Xβ by one BLAS product and
        the row terms on whole vectors; then per block of ``_BLOCK_ROWS`` rows (in cache
        while it is used) X_b'(y_b − p_b), and B = diag(√w_b) X_b in a reused buffer with
        B'B (one BLAS ``syrk``) and B'√w_b = X_b'w_b for the constant's row. On large
        designs the first three come from one compiled loop over the block
        (:func:`chainrule.stats._logit_kernels.weighted_rows`, when numba is available)."""
        X, p, off = self.X, self.X.shape[1], int(self.intercept)
        eta, e, t = self._work_vectors()
        w = np.empty(self.n)
        _linear_into(X, beta, self.intercept, eta)
        llf, largest = _row_terms(eta, y, e, t, w)
        np.sqrt(w, out=e)  # e = √w
        body, edge, score = np.zeros((p, p)), np.zeros(p), np.zeros(self.k)
        block = self._work_block()
        kernels = _row_kernels(X)
        for start in range(0, self.n, _BLOCK_ROWS):
            stop = min(start + _BLOCK_ROWS, self.n)
            rows, b, root = X[start:stop], block[: stop - start], e[start:stop]
            if kernels is not None:  # b, the block's score and X_b'w_b in one read of the block
                kernels.weighted_rows(rows, root, t[start:stop], b, score[off:], edge)
            else:
                score[off:] += rows.T @ t[start:stop]
                np.multiply(rows, root[:, None], out=b)
                if off:
                    edge += b.T @ root
            body += b.T @ b
        if not off:
            return llf, body, score, largest
        score[0] = t.sum()
        gram = np.empty((self.k, self.k))
        gram[0, 0], gram[0, 1:], gram[1:, 0], gram[1:, 1:] = w.sum(), edge, edge, body
        return llf, gram, score, largest

    def gram(self, w):
        """X' diag(w) X for w ≥ 0 (with the constant: the k × k matrix of [1, X]).

        Per block of ``_BLOCK_ROWS`` rows (small enough to stay in cache while it is used):
        B = diag(√w_b) X_b in a reused buffer, then B'B by one BLAS ``syrk`` (NumPy's
        product of an array with its own transpose), and B'√w_b = X_b'w_b for the constant's
        row. X is never copied whole.
        """
        X, n, p = self.X, self.n, self.X.shape[1]
        s = np.sqrt(w)
        body, edge = np.zeros((p, p)), np.zeros(p)
        block = self._work_block()
        for start in range(0, n, _BLOCK_ROWS):
            stop = min(start + _BLOCK_ROWS, n)
            b = block[: stop - start]
            np.multiply(X[start:stop], s[start:stop, None], out=b)
            body += b.T @ b
            if self.intercept:
                edge += b.T @ s[start:stop]
        if not self.intercept:
            return body
        gram = np.empty((self.k, self.k))
        gram[0, 0], gram[0, 1:], gram[1:, 0], gram[1:, 1:] = w.sum(), edge, edge, body
        return gram

    def grams(self, W):
        """X' diag(W[:, m]) X for every column m of W (any signs), in one read of X.

        Per block of rows, each is X_b'(w_b ⊙ X_b) (a BLAS ``gemm`` on the block, which is in
        cache), so memory beyond the results is one block: X is never copied whole.
        Returns an array (M, k, k).
        """
        X, n, p, off = self.X, self.n, self.X.shape[1], int(self.intercept)
        M = W.shape[1]
        out = np.zeros((M, self.k, self.k))
        block = self._work_block()
        for start in range(0, n, _BLOCK_ROWS):
            stop = min(start + _BLOCK_ROWS, n)
            rows, b = X[start:stop], block[: stop - start]
            for m in range(M):
                w = W[start:stop, m]
                np.multiply(rows, w[:, None], out=b)
                out[m, off:, off:] += rows.T @ b
                if off:
                    out[m, 0, 1:] += w @ rows
        if off:
            out[:, 0, 0] = W.sum(axis=0)
            out[:, 1:, 0] = out[:, 0, 1:]
        return out

    def full(self):
        """[1, X] (or X) as one array: only for small problems (the separation check)."""
        if self.intercept:
            return np.column_stack([np.ones(self.n), self.X])
        return self.X

    def without_buffers(self) -> "_Design":
        """This design with its work buffers released (what a fitted model keeps)."""
        self._vectors = self._block = None
        return self

    def _work_vectors(self):
        if self._vectors is None:
            self._vectors = tuple(np.empty(self.n) for _ in range(3))
        return self._vectors

    def _work_block(self):
        """A buffer for one block of rows, in X's memory order (so that copies of rows into
        it run along contiguous memory)."""
        if self._block is None:
            order = "F" if self.X.strides[0] < self.X.strides[1] else "C"
            self._block = np.empty((min(_BLOCK_ROWS, self.n), self.X.shape[1]), order=order)
        return self._block


def _row_kernels(X):
    """The compiled row kernels (``stats._logit_kernels``) for a pass over X, or None: when
    X is not C-contiguous, when it holds fewer than ``_COMPILED_MIN_SIZE`` numbers (where
    numba's one-off start, about 0.25 s per process to import it and load the cached machine
    code, weighs more against what it saves: about 0.6 ns per number of X per X'WX pass),
    when numba is missing, or when ``CHAINRULE_NO_NUMBA`` is set."""
    if X.size < _COMPILED_MIN_SIZE or not X.flags.c_contiguous:
        return None
    return _compiled.kernels("chainrule.stats._logit_kernels")


def _linear_into(X, beta, intercept, out):
    """out = X β (+ β_0 when ``intercept``), without temporaries."""
    if intercept:
        np.matmul(X, beta[1:], out=out)
        out += beta[0]
    else:
        np.matmul(X, beta, out=out)


def _row_terms(eta, y, e, t, w=None):
    """The per-row terms of a Newton pass, in place; returns (Σ ℓ_i, max |η_i|).

    With e_i = exp(−|η_i|) (never the exponential of a positive number):

        ℓ_i = y_i η_i − max(η_i, 0) − log1p(e_i),   Σ max(η, 0) = (Σ η + Σ |η|) / 2
        q_i = 1 / (1 + e_i) = max(p_i, 1 − p_i),   w_i = p_i (1 − p_i) = e_i q_i²
        p_i = 1/2 + sign(η_i) (q_i − 1/2)   (q_i where η_i ≥ 0, else 1 − q_i)

    q ∈ [1/2, 1], so q − 1/2 and 1 − q are exact in floating point (Sterbenz): p carries
    only the rounding of q (absolute error ≤ 2^{−53}), and w, which must keep its relative
    accuracy where p is near 0 or 1, is formed from e q without a difference.
    On return ``t`` holds y − p and ``w`` (when given) the weights w_i; ``e`` is scratch.
    """
    np.abs(eta, out=e)
    largest, total_abs = float(e.max()), float(e.sum())
    np.negative(e, out=e)
    np.exp(e, out=e)
    np.log1p(e, out=t)
    llf = float(y @ eta) - 0.5 * (float(eta.sum()) + total_abs) - float(t.sum())
    np.add(e, 1.0, out=t)
    np.reciprocal(t, out=t)          # t = q = max(p, 1 − p)
    if w is not None:
        np.multiply(e, t, out=w)
        w *= t
    t -= 0.5
    np.copysign(t, eta, out=t)
    t += 0.5                         # t = p
    np.subtract(y, t, out=t)         # t = y − p
    return llf, largest


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

    The loop reaches the rows only through ``design.newton_pass`` (sums over rows: ℓ, X'WX,
    X'(y − p), and max|η|), so a design object whose ``newton_pass`` all-reduces those sums
    over workers runs this same iteration on data split by rows.
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


def _warm_start(design, y, beta):
    """A start (β, I) for the full-data Newton iteration, from nested strided subsamples.

    On more than ``_SUBSAMPLE_ABOVE`` rows, the rows 0, s, 2s, … with s = ``_SUBSAMPLE_STRIDE``
    form a subsample, and so on while a subsample keeps at least max(``_SUBSAMPLE_MIN_ROWS``,
    25 k) rows (at n = 200,000: 25,000 rows, then 3,125). The smallest is fitted from β by
    Newton; each larger one starts from the estimate and the information (scaled by the
    ratio of row counts) of the one inside it, all to a loose tolerance (``_WARM_TOL``). The
    largest ends with its information evaluated at its estimate, which (scaled to n rows)
    starts the chord iteration of :func:`_newton_binary` on all rows: it differs from the
    full-data information by O(√(k/m)) relatively, so each full-data iteration shortens
    the step by about that factor. The answer, its stopping rule and its covariance are
    those of the full data: the warm start only decides how many passes over all rows are
    needed. Returns (β, None) when no subsample is taken or one fails (one class only,
    separation, a singular information or no convergence in a subsample): the full-data
    iteration then starts from β itself.
    """
    levels, smallest = [], max(_SUBSAMPLE_MIN_ROWS, 25 * design.k)
    if design.n > _SUBSAMPLE_ABOVE:
        levels.append((design.subsample(_SUBSAMPLE_STRIDE), y[::_SUBSAMPLE_STRIDE]))
        while levels[-1][0].n // _SUBSAMPLE_STRIDE >= smallest:  # each from the one before: one read of X
            sub, ys = levels[-1]
            levels.append((sub.subsample(_SUBSAMPLE_STRIDE), ys[::_SUBSAMPLE_STRIDE]))
    information, rows = None, 0
    for level, (sub, ys) in enumerate(reversed(levels)):
        if not 0 < ys.sum() < ys.size:
            return beta, None
        scaled = None if information is None else information * (sub.n / rows)
        largest = level == len(levels) - 1
        try:
            result = _newton_binary(sub, ys, beta, _WARM_TOL, 50, exact_information=largest, information=scaled)
        except (_Alarm, _linalg.LinAlgError):
            return beta, None
        if not result.converged:
            return beta, None
        beta, information, rows = result.beta, result.information[0], sub.n
    if information is None:
        return beta, None
    return beta, information * (design.n / rows)


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
        distributed: fit on rows spread over MPI ranks (``mpiexec -n N``): every rank calls
            ``fit`` with its own block of rows; each Newton pass sums ℓ, the score X'(y − p)
            and the information X'WX over the ranks (one all-reduce of 1 + k + k² numbers,
            :class:`chainrule.stats._tsqr.SummedDesign`), so every rank takes the step of the
            concatenated rows and the results equal the single-process fit. The two classes
            are those of all ranks together; the start is (log(ȳ/(1 − ȳ)), 0, …) with ȳ over
            all rows (no subsample warm start); the separation check, which reads all rows,
            is replaced by the symptom checks of ``fit_stream``. Needs solver="newton";
            ``get_margeff()`` is not available.

    Data larger than memory: ``fit_stream(batches)`` runs the same Newton iteration on blocks
    of rows read by ``batches()``, one pass per iteration (see :meth:`fit_stream`).

    Fitted attributes (scikit-learn): ``coef_`` (p,), ``intercept_`` (float), ``classes_``,
    ``n_iter_``, ``converged_``, ``param_names_``. Results (statsmodels names): ``params``,
    ``bse``, ``tvalues``, ``pvalues``, ``conf_int()``, ``cov_params()``, ``llf``, ``llnull``,
    ``llr``, ``llr_pvalue``, ``prsquared``, ``aic``, ``bic``, ``nobs``, ``df_model``,
    ``df_resid``, ``summary()``, ``get_margeff()``.
    """

    _estimator_type = "classifier"

    def __init__(self, fit_intercept=True, solver="newton", tol=1e-8, max_iter=None, lr=None, alpha=0.05,
                 distributed=False):
        self.fit_intercept = fit_intercept
        self.solver = solver
        self.tol = tol
        self.max_iter = max_iter
        self.lr = lr
        self.alpha = alpha
        self.distributed = distributed

    # -- fitting -------------------------------------------------------------------------

    def fit(self, X, y):
        """Fit by maximum likelihood; returns self. Raises PerfectSeparationError on separation."""
        if self.solver not in _SOLVERS:
            raise ValueError(f"Logit: solver must be one of {', '.join(map(repr, _SOLVERS))}; got {self.solver!r}")
        if not (isinstance(self.tol, (int, float)) and self.tol > 0):
            raise ValueError(f"Logit: tol must be a number > 0; got {self.tol!r}")
        if self.distributed is not False:
            return self._fit_distributed(X, y)
        data = X
        X, names = as_design(X, "X")
        target, y_name = as_target(y, X.shape[0], "y")
        check_columns(X, names, bool(self.fit_intercept))
        classes, y01 = check_binary(target, y_name)
        self._remember_feature_names(data, names)
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
        self._design = design.without_buffers()
        self.coef_ = beta[1:].copy() if self.fit_intercept else beta.copy()
        self.intercept_ = float(beta[0]) if self.fit_intercept else 0.0
        return self

    def _fit_distributed(self, X, y):
        """``fit`` with ``distributed=True``: this rank's block of rows; Newton on the sums of all ranks."""
        from . import _tsqr

        if self.distributed is not True:
            raise TypeError(f"Logit: distributed: expected True or False; got {self.distributed!r}")
        if self.solver != "newton":
            raise ValueError(f"Logit: distributed=True fits by Newton (sums of per-rank scores and "
                             f"information matrices); expected solver='newton', got {self.solver!r}")
        rows = _tsqr.RowBlocks(True)
        error, checked = None, None
        try:
            Xv, names = as_design(X, "X")
            target, y_name = as_target(y, Xv.shape[0], "y")
            checked = (Xv, names, target, y_name)
        except (ValueError, TypeError) as caught:
            error = caught
        rows.check(error, "Logit.fit")  # a rank whose block is bad fails every rank, none waits
        Xv, names, target, y_name = checked
        rows.agree(Xv.shape[1], "Logit.fit: the number of columns of X")
        classes, _ = check_binary(rows.union(target), y_name)  # the same two classes on every rank
        y01 = (target == classes[1]).astype(np.float64)
        design = _tsqr.SummedDesign(_Design(Xv, bool(self.fit_intercept)), rows)
        check_enough_rows(design.n, design.k, "Logit")
        ybar = rows.sum(float(y01.sum())) / design.n
        beta = np.zeros(design.k)
        if self.fit_intercept:
            beta[0] = math.log(ybar / (1.0 - ybar))
        max_iter = 100 if self.max_iter is None else int(self.max_iter)
        result = _tsqr.newton_without_separation_check(design, y01, beta, float(self.tol), max_iter, "Logit.fit")
        self._remember_feature_names(X, names)
        self._set_streamed_results(design, result, names, y_name, ybar)
        self.classes_ = classes
        return self

    def fit_stream(self, batches, feature_names=None, target_name="y"):
        r"""Fit by Newton on rows read block by block: one pass over the data per iteration.

        ``batches`` is a function of no arguments returning a fresh iterator of (X_b, y_b)
        blocks (float64 (m_b, p) and (m_b,) arrays, y_b in {0, 1}); it is called once per pass
        and must yield the same rows each time. A pass sums over the blocks
        (:class:`chainrule.stats._tsqr.StreamedDesign`)

            ℓ(β) = Σ_b ℓ_b(β),   g = Σ_b X_b'(y_b − p_b),   I = Σ_b X_b'W_bX_b,

        so the iteration β_{k+1} = β_k + t_k I⁻¹ g (step halving, chord steps, stopping rule
        and covariance I⁻¹ as in ``fit``) is that of ``fit`` on the concatenated rows, with
        memory for one block and k x k numbers. It starts at β = (log(ȳ/(1 − ȳ)), 0, …)
        (without an intercept, β = 0), ȳ from the first pass that counts the rows; there is
        no subsample warm start. ℓ_0 = n [ȳ log ȳ + (1 − ȳ) log(1 − ȳ)].

        Unlike ``fit``, the separation check (a linear program over all rows) is not run: a
        singular information matrix raises ValueError naming separation or collinearity as
        the cause, and ``get_margeff()`` (which reads the rows) raises. ``classes_`` is
        [0, 1]; ``n_batches_`` the number of blocks in a pass. Needs solver="newton".

        Args:
            batches: the block factory described above.
            feature_names: the p names of X's columns (default x1 … xp), for the summary.
            target_name: the name of y, for the summary.
        """
        from . import _tsqr

        if self.solver != "newton":
            raise ValueError(f"Logit.fit_stream: solver: expected 'newton' (one pass over the data per "
                             f"iteration); got {self.solver!r}")
        if self.distributed is not False:
            raise ValueError(f"Logit.fit_stream: distributed: expected False (a streamed fit reads every block "
                             f"in this process); got {self.distributed!r}")
        if not (isinstance(self.tol, (int, float)) and self.tol > 0):
            raise ValueError(f"Logit: tol must be a number > 0; got {self.tol!r}")
        if not callable(batches):
            raise TypeError(f"Logit.fit_stream: batches: expected a function of no arguments returning an "
                            f"iterator of (X_block, y_block) arrays; got {type(batches).__name__}")
        design = _tsqr.StreamedDesign(batches, bool(self.fit_intercept), binary=True)
        names = _tsqr.stream_feature_names(feature_names, design.k - int(bool(self.fit_intercept)),
                                           "Logit.fit_stream")
        check_enough_rows(design.n, design.k, "Logit")
        if not 0 < design.y_sum < design.n:
            raise ValueError(f"Logit.fit_stream: y: expected both classes 0 and 1; all {design.n} targets "
                             f"are {int(design.y_sum > 0)}")
        ybar = design.y_sum / design.n
        beta = np.zeros(design.k)
        if self.fit_intercept:
            beta[0] = math.log(ybar / (1.0 - ybar))
        max_iter = 100 if self.max_iter is None else int(self.max_iter)
        result = _tsqr.newton_without_separation_check(design, None, beta, float(self.tol), max_iter,
                                                       "Logit.fit_stream")
        self._set_streamed_results(design, result, names, str(target_name), ybar)
        self.n_batches_ = design.n_batches
        return self

    def _set_streamed_results(self, design, result, names, target_name, ybar):
        """The fitted attributes of a fit whose rows are not kept (``fit_stream``)."""
        self.n_iter_, self.converged_ = result.iterations, result.converged
        if not result.converged:
            warn(f"Logit: {result.message}; the estimates and standard errors may be inaccurate")
            information = design.newton_pass(result.beta, None)[1]
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
        beta = result.beta
        self.param_names_ = (["const"] if self.fit_intercept else []) + list(names)
        self.feature_names_, self.classes_, self.endog_name_ = list(names), np.array([0, 1]), target_name
        self.params_, self._design_shape, self._design = beta, (design.n, design.k), None
        self.llf_ = result.llf
        self.llnull_ = design.n * sum(share * math.log(share) for share in (ybar, 1.0 - ybar))
        self.coef_ = beta[1:].copy() if self.fit_intercept else beta.copy()
        self.intercept_ = float(beta[0]) if self.fit_intercept else 0.0

    def _start(self, y01, k):
        beta = np.zeros(k)
        if self.fit_intercept:
            mean = float(y01.mean())
            beta[0] = math.log(mean / (1.0 - mean))
        return beta

    def _fit_newton(self, design, y01, X, names):
        max_iter = 100 if self.max_iter is None else int(self.max_iter)
        beta, start_information = _warm_start(design, y01, self._start(y01, design.k))
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
        if self._design is None:
            raise ValueError("Logit.get_margeff: the average marginal effects are means over the rows, which a "
                             "fit by fit_stream or with distributed=True does not keep; fit in memory to get them")
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
    ``pvalues``, ``conf_int()``, ``summary()`` (statsmodels' names).

    For a binary model the arrays have one entry per regressor; for a multinomial one
    (``classes`` given) they have shape (p, K), one column per class, ``conf_int()`` shape
    (p, K, 2), and ``margeff_cov`` is in class blocks (class-major order).
    """

    def __init__(self, names, margeff, se, cov, alpha, endog_name, classes=None):
        self.names, self.margeff, self.margeff_se, self.margeff_cov = list(names), margeff, se, cov
        self.alpha, self.endog_name, self.classes = alpha, endog_name, classes
        inference = wald(self._flat(margeff), self._flat(se), alpha=alpha)
        self.tvalues = self._shaped(inference["statistic"])
        self.pvalues = self._shaped(inference["pvalues"])
        self._conf_int = self._shaped(inference["conf_int"])

    def _flat(self, values):
        """Class-major: all regressors of the first class, then the next class, …"""
        return np.asarray(values).ravel(order="F") if self.classes is not None else np.asarray(values)

    def _shaped(self, values):
        if self.classes is None:
            return values
        p, K = len(self.names), len(self.classes)
        return values.reshape((K, p) + values.shape[1:]).swapaxes(0, 1)

    def conf_int(self, alpha=None):
        """Wald intervals AME ± z_{1−α/2} se (α defaults to the model's ``alpha``)."""
        if alpha is None:
            return self._conf_int
        return self._shaped(wald(self._flat(self.margeff), self._flat(self.margeff_se), alpha=alpha)["conf_int"])

    def summary(self):
        info = [("Dep. Variable", self.endog_name), ("Method", "dydx"), ("At", "overall")]
        if self.classes is None:
            title, names = "Logit Marginal Effects", self.names
        else:
            title = "MNLogit Marginal Effects"
            names = [f"{self.endog_name}={c}: {name}" for c in self.classes for name in self.names]
        conf_int = self._conf_int if self.classes is None else self._conf_int.swapaxes(0, 1).reshape(-1, 2)
        return Summary(title, info, names, self._flat(self.margeff), self._flat(self.margeff_se),
                       self._flat(self.tvalues), self._flat(self.pvalues), conf_int, statistic_name="z",
                       alpha=self.alpha, notes=["Average marginal effects; delta-method standard errors"])


# ----------------------------------------------------------------------------- MNLogit


class MNLogit(_LikelihoodResults, Estimator):
    r"""Multinomial (softmax) logistic regression by maximum likelihood, the first class the reference.

    Model, log-likelihood, score and Hessian blocks are stated in the module docstring;
    covariance the inverse observed information at the estimate.

    Args:
        fit_intercept: add a constant (named "const", first).
        solver: "newton" (Newton–Raphson with step halving, the default), or "gd" / "adam":
            first-order minimization of the mean cross-entropy
            (1/n) Σ_i −log p_{i,y_i} with :func:`chainrule.optim.minimize` on chainrule
            float64 tensors (the loss is :func:`chainrule.nn.functional.cross_entropy` of
            the logits [0, x_i'β_1, …, x_i'β_{K−1}]), stopping when the gradient norm is
            below ``tol``. The standard errors are always the inverse observed information
            at the solution found.
        tol: Newton: stop when max|Δβ| ≤ tol (1 + max|β|) (default 1e-8); gd/adam: the
            gradient-norm tolerance of the mean loss.
        max_iter: the most iterations (default: 100 for Newton, 100,000 for gd/adam).
        lr: the learning rate for gd/adam (default: 1/L for gd, with L = λ_max(X'X) / (2n),
            Böhning's (1992) bound on the curvature of the mean loss; 0.01 for adam).
        alpha: the level of the intervals.

    Separation: when the iteration shows a symptom (a fitted logit spread
    max_m η_im − min_m η_im above 30, a singular information matrix, or no convergence),
    :func:`find_multinomial_separation` looks for a direction that ranks every row's
    observed class at or above every other class, and a :class:`PerfectSeparationError`
    names the columns, the classes and the rows.

    Fitted attributes: ``classes_`` (sorted; ``classes_[0]`` the reference), ``coef_``
    (K−1, p), ``intercept_`` (K−1,), ``n_iter_``, ``converged_``. Results: ``params`` and
    ``bse``, ``tvalues``, ``pvalues`` of shape (k, K−1) (one column per non-reference class,
    statsmodels' layout), ``cov_params()`` (k(K−1) square, class blocks in order), ``llf``,
    ``llnull``, ``llr``, ``llr_pvalue``, ``prsquared``, ``aic``, ``bic``, ``summary()``,
    ``get_margeff()``.

    Reference: D. Böhning, "Multinomial logistic regression algorithm", *Annals of the
    Institute of Statistical Mathematics* 44 (1992), 197–200.
    """

    _estimator_type = "classifier"

    def __init__(self, fit_intercept=True, solver="newton", tol=1e-8, max_iter=None, lr=None, alpha=0.05):
        self.fit_intercept = fit_intercept
        self.solver = solver
        self.tol = tol
        self.max_iter = max_iter
        self.lr = lr
        self.alpha = alpha

    def fit(self, X, y):
        """Fit by maximum likelihood; returns self. Raises PerfectSeparationError on separation."""
        if self.solver not in _SOLVERS:
            raise ValueError(f"MNLogit: solver must be one of {', '.join(map(repr, _SOLVERS))}; got {self.solver!r}")
        if not (isinstance(self.tol, (int, float)) and self.tol > 0):
            raise ValueError(f"MNLogit: tol must be a number > 0; got {self.tol!r}")
        data = X
        X, names = as_design(X, "X")
        target, y_name = as_target(y, X.shape[0], "y")
        check_columns(X, names, bool(self.fit_intercept))
        classes, codes = np.unique(target, return_inverse=True)
        self._remember_feature_names(data, names)
        if classes.size < 2:
            raise ValueError(f"{y_name}: MNLogit needs at least 2 classes; got {classes.size}")
        design = _Design(X, bool(self.fit_intercept))
        K, k, n = classes.size, design.k, design.n
        check_enough_rows(n, k * (K - 1), "MNLogit")
        self.classes_, self.feature_names_, self.endog_name_ = classes, names, y_name
        self.param_names_ = (["const"] if self.fit_intercept else []) + names
        if self.solver == "newton":
            result = self._fit_newton(design, codes, X, names)
        else:
            result = self._fit_first_order(design, codes, X, names)
        B = result.beta
        self.n_iter_, self.converged_ = result.iterations, result.converged
        eta = design.dot(B)
        if _logit_spread(eta) > _ETA_ALARM:
            warn("MNLogit: some fitted logits differ by more than 30 between classes; the estimates are "
                 "finite (no separation was found) but the probabilities of some rows are below 1e-13")
        if not result.converged:
            warn(f"MNLogit: {result.message}; the estimates and standard errors may be inaccurate")
        try:
            cov = _linalg.cho_solve(_linalg.cho_factor(_mn_information(design, _mn_probs(eta))), np.eye(k * (K - 1)))
        except _linalg.LinAlgError:
            cov = np.full((k * (K - 1),) * 2, np.nan)
            warn("MNLogit: the information matrix is singular at the solution; standard errors are NaN")
        self.params_, self._cov, self._design = B, cov, design.without_buffers()
        self.llf_ = _mn_loglik(eta, codes)
        counts = np.bincount(codes, minlength=K).astype(backend.float64)
        self.llnull_ = float(np.sum(counts * np.log(counts / n)))
        self._shape = (n, k, K)
        self.coef_ = (B[1:] if self.fit_intercept else B).T.copy()
        self.intercept_ = B[0].copy() if self.fit_intercept else np.zeros(K - 1)
        return self

    def _start(self, codes, k, K):
        B = np.zeros((k, K - 1))
        if self.fit_intercept:
            freq = np.bincount(codes, minlength=K) / codes.size
            B[0] = np.log(freq[1:] / freq[0])
        return B

    def _fit_newton(self, design, codes, X, names):
        max_iter = 100 if self.max_iter is None else int(self.max_iter)
        K = self.classes_.size
        start = self._start(codes, design.k, K)
        try:
            result = _newton_multinomial(design, codes, K, start, float(self.tol), max_iter)
            if not result.converged:
                self._raise_if_separated(X, codes, names)
            return result
        except _Alarm as alarm:
            self._raise_if_separated(X, codes, names)
            if "singular" in alarm.reason or "finite" in alarm.reason:
                raise ValueError(
                    f"MNLogit: {alarm.reason} although no class is separated: the columns are (nearly) "
                    f"collinear; drop redundant columns"
                ) from None
            return _newton_multinomial(design, codes, K, alarm.beta, float(self.tol), max_iter, alarm=False)

    def _raise_if_separated(self, X, codes, names):
        found = find_multinomial_separation(X, self.classes_[codes], names, bool(self.fit_intercept))
        if found is not None:
            raise found

    def _fit_first_order(self, design, codes, X, names):
        from .. import optim
        from ..nn import functional as F
        from ..ops.shape import cat
        from ..tensor import tensor, zeros

        K, k = self.classes_.size, design.k
        Z = design.full()
        Zt = tensor(Z, dtype=backend.float64)
        targets = tensor(codes.astype(np.int64))
        reference = zeros(design.n, 1, dtype=backend.float64)
        lr = self.lr
        if lr is None:
            if self.solver == "gd":
                largest = float(_linalg.eigvalsh(Z.T @ Z, subset_by_index=[k - 1, k - 1])[0])
                lr = 2.0 * design.n / largest
            else:
                lr = 0.01
        max_iter = 100_000 if self.max_iter is None else int(self.max_iter)
        B = tensor(self._start(codes, k, K), dtype=backend.float64, requires_grad=True)
        result = optim.minimize(
            lambda b: F.cross_entropy(cat([reference, Zt @ b], dim=1), targets), B,
            method=self.solver, lr=lr, tol=float(self.tol), max_iter=max_iter,
        )
        solution = result.x.numpy().astype(backend.float64).reshape(k, K - 1)
        if not result.converged:
            self._raise_if_separated(X, codes, names)
        return _NewtonResult(solution, _mn_loglik(design.dot(solution), codes), result.iterations,
                             result.converged, f"{self.solver} {result.message}")

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
            ("Dep. Variable", self.endog_name_), ("Model", "MNLogit"),
            ("Method", "MLE" if self.solver == "newton" else f"MLE ({self.solver})"),
            ("No. Observations", self.nobs), ("Df Residuals", self.df_resid), ("Df Model", self.df_model),
            ("converged", str(bool(self.converged_))), ("Iterations", self.n_iter_),
            ("Pseudo R-squ.", f"{self.prsquared:.4f}"), ("Log-Likelihood", f"{self.llf:.5g}"),
            ("LL-Null", f"{self.llnull:.5g}"), ("LLR p-value", f"{self.llr_pvalue:.4g}"),
            ("Reference class", _label(self.classes_[0])),
        ]
        return Summary("MNLogit Regression Results", info, names, params, bse, inference["statistic"],
                       inference["pvalues"], inference["conf_int"], statistic_name="z", alpha=alpha,
                       notes=["Covariance: inverse observed information"])


    def get_margeff(self):
        r"""Average marginal effects dP(y = c)/dx_j for every class c (the reference included) and
        regressor j (all treated as continuous; the constant has none), with delta-method
        standard errors (Greene §18.2.2). With β_0 = 0 and β̄_i = Σ_m p_im β_m:

            AME_cj = (1/n) Σ_i ∂p_ic/∂x_ij = (1/n) Σ_i p_ic (β_cj − β̄_ij)

        and, for the parameter l of the non-reference class a (x_il = 1 for the constant),

            ∂AME_cj/∂β_al = (1/n) Σ_i x_il [p_ic (δ_ca − p_ia)(β_cj − β̄_ij) − p_ic p_ia (β_aj − β̄_ij)]
                            + δ_{l,j} (1/n) Σ_i p_ic (δ_ca − p_ia),

        so Cov(AME) = G Cov(β̂) G'. ``margeff`` and ``margeff_se`` have shape (p, K), one column
        per class in the order of ``classes_`` (statsmodels' layout); ``margeff_cov`` is
        (pK, pK) in class blocks.
        """
        self._check_fitted()
        design, B = self._design, self.params_
        n, k, K = self._shape
        off = int(bool(self.fit_intercept))
        P = _mn_probs(design.dot(B))
        slopes = np.column_stack([np.zeros(k - off), B[off:]])   # (p, K), the reference's are 0
        mean_slope = P @ slopes.T                                 # β̄_i, (n, p)
        p_count = k - off
        margeff = np.empty((p_count, K))
        G = np.zeros((K, p_count, K - 1, k))
        for c in range(K):
            D_c = slopes[:, c][None, :] - mean_slope              # β_c − β̄_i, (n, p)
            margeff[:, c] = P[:, c] @ D_c / n
            for a in range(1, K):
                D_a = slopes[:, a][None, :] - mean_slope
                own = P[:, c] * (float(c == a) - P[:, a])
                V = own[:, None] * D_c - (P[:, c] * P[:, a])[:, None] * D_a
                G[c, :, a - 1, :] = design.tdot(V).T / n
                G[c, :, a - 1, off:] += np.eye(p_count) * (own.sum() / n)
        G = G.reshape(K * p_count, (K - 1) * k)
        cov = G @ self._cov @ G.T
        se = np.sqrt(np.diag(cov)).reshape(K, p_count).T
        return MarginalEffects(self.feature_names_, margeff, se, cov, self.alpha, self.endog_name_,
                               classes=[_label(c) for c in self.classes_])


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
    """I = −∇²ℓ in class blocks I_ab = X' diag(p_a (δ_ab − p_b)) X, a, b = 1..K−1, from one
    read of X (:meth:`_Design.grams`: one block of rows in memory, never a copy of X)."""
    K, k = P.shape[1], design.k
    pairs = [(a, b) for a in range(1, K) for b in range(a, K)]
    W = np.empty((P.shape[0], len(pairs)))
    for m, (a, b) in enumerate(pairs):
        np.multiply(P[:, a], float(a == b) - P[:, b], out=W[:, m])
    blocks = design.grams(W)
    info = np.empty((k * (K - 1),) * 2)
    for (a, b), block in zip(pairs, blocks):
        info[(a - 1) * k:a * k, (b - 1) * k:b * k] = block
        info[(b - 1) * k:b * k, (a - 1) * k:a * k] = block.T
    return info


def _logit_spread(eta):
    """max_i (max_m η_im − min_m η_im) over the K logits [0, η_i1, …, η_i,K−1] of each row."""
    top = np.maximum(eta.max(axis=1), 0.0)
    bottom = np.minimum(eta.min(axis=1), 0.0)
    return float(np.max(top - bottom))


def _newton_multinomial(design, codes, K, B, tol, max_iter, alarm=True):
    """Maximize the multinomial ℓ by Newton with step halving from B (k × (K−1)).

    Step: vec(S) = I^{-1} vec(X'(Y − P)) over the non-reference classes, I the block
    information of :func:`_mn_information` (class blocks in order); B ← B + t S with the
    first t in 1, 1/2, 1/4, … for which ℓ does not decrease. Stops when
    max|t S| ≤ tol (1 + max|B|). Raises _Alarm (when ``alarm``) on a symptom of separation:
    a logit spread above ``_ETA_ALARM``, a singular information or a non-finite step.
    """
    k = design.k
    Y = np.zeros((design.n, K))
    Y[np.arange(design.n), codes] = 1.0
    llf = _mn_loglik(design.dot(B), codes)
    for iteration in range(1, max_iter + 1):
        eta = design.dot(B)
        if alarm and _logit_spread(eta) > _ETA_ALARM:
            raise _Alarm(f"a fitted logit spread exceeds {_ETA_ALARM:g}", B)
        P = _mn_probs(eta)
        score = design.tdot(Y[:, 1:] - P[:, 1:]).ravel(order="F")
        try:
            step = _linalg.cho_solve(_linalg.cho_factor(_mn_information(design, P)), score)
        except _linalg.LinAlgError:
            raise _Alarm("the information matrix is singular", B) from None
        if not np.all(np.isfinite(step)):
            raise _Alarm("the Newton step is not finite", B)
        step = step.reshape((k, K - 1), order="F")
        t = 1.0
        while True:
            candidate = B + t * step
            llf_new = _mn_loglik(design.dot(candidate), codes)
            if llf_new >= llf - 1e-12 * abs(llf) or t < 1e-10:
                break
            t *= 0.5
        B, llf = candidate, llf_new
        if np.max(np.abs(t * step)) <= tol * (1.0 + np.max(np.abs(B))):
            return _NewtonResult(B, llf, iteration, True)
    return _NewtonResult(B, llf, max_iter, False, f"Newton did not converge in max_iter={max_iter} iterations")


def find_multinomial_separation(X, y, names=None, fit_intercept: bool = True):
    r"""Look for (quasi-)complete separation of a multiclass y (Albert & Anderson 1984, §4).

    The multinomial maximum-likelihood estimate does not exist when some coefficients
    B = (β_1, …, β_{K−1}) (β_0 = 0 for the reference), not all zero, rank every row's
    observed class at or above every other class: the margins

        m_ij = x_i'(β_{y_i} − β_j) ≥ 0   for every row i and class j ≠ y_i.

    Two linear programs over −1 ≤ B ≤ 1 (columns scaled to max |x| = 1), as for the binary
    model (Konis 2007): maximize t subject to m_ij ≥ t (t > 0: *complete* separation, every
    row's class strictly first); else maximize Σ m_ij subject to m_ij ≥ 0 (a positive optimum:
    *quasi-complete*). Returns ``None`` when no such B exists (a finite estimate exists), else
    a :class:`PerfectSeparationError` (not raised) whose ``columns`` are the columns with
    non-zero coefficients, ``classes`` the classes ranked apart (pairs (observed class,
    other class) with a positive margin in ``pairs``), ``direction`` the (k, K−1) matrix B and
    ``rows`` the rows with a positive margin.
    """
    X, names = as_design(X, "X") if names is None else (np.asarray(X, dtype=backend.float64), list(names))
    target, _ = as_target(y, X.shape[0], "y")
    classes, codes = np.unique(target, return_inverse=True)
    K = classes.size
    Z = _Design(X, fit_intercept).full()
    scale = np.max(np.abs(Z), axis=0)
    scale[scale == 0] = 1.0
    S, owners = _margin_rows(Z / scale, codes, K)
    m, width = S.shape
    bounds = [(-1.0, 1.0)] * width
    result = _optimize.linprog(
        np.r_[np.zeros(width), -1.0], A_ub=np.hstack([-S, np.ones((m, 1))]), b_ub=np.zeros(m),
        bounds=bounds + [(None, 1.0)], method="highs",
    )
    if result.status == 0 and -result.fun > 1e-7:
        b, kind = result.x[:width], "complete"
    else:
        result = _optimize.linprog(-S.sum(axis=0), A_ub=-S, b_ub=np.zeros(m), bounds=bounds, method="highs")
        if not (result.status == 0 and -result.fun > 1e-7):
            return None
        b, kind = result.x, "quasi-complete"
        margins = S @ b
        if np.min(margins) < -1e-9 or not np.any(margins > 1e-7):
            return None
    direction = (b.reshape(Z.shape[1], K - 1, order="F") / scale[:, None])
    return _multinomial_report(kind, direction, S @ b, owners, classes, names, fit_intercept)


def _margin_rows(Z, codes, K):
    """The rows s_ij of the margins m_ij = s_ij' vec(B) (i, j ≠ y_i), and their (i, y_i, j)."""
    n, k = Z.shape
    rows, owners = [], []
    for j in range(K):
        others = np.flatnonzero(codes != j)
        block = np.zeros((others.size, k * (K - 1)))
        for i_class in range(1, K):
            members = codes[others] == i_class
            block[members, (i_class - 1) * k:i_class * k] += Z[others[members]]
        if j > 0:
            block[:, (j - 1) * k:j * k] -= Z[others]
        rows.append(block)
        owners.append(np.column_stack([others, codes[others], np.full(others.size, j)]))
    return np.vstack(rows), np.vstack(owners)


def _multinomial_report(kind, direction, margins, owners, classes, names, fit_intercept):
    direction = direction / np.max(np.abs(direction))
    labels = (["const"] if fit_intercept else []) + list(names)
    used = np.flatnonzero(np.any(np.abs(direction) > 1e-6, axis=1))
    columns = [labels[j] for j in used if not (fit_intercept and j == 0)]
    positive = margins > 1e-7
    pairs = sorted({(int(c), int(j)) for _, c, j in owners[positive]})
    rows = np.unique(owners[positive, 0])
    involved = sorted({c for pair in pairs for c in pair})
    shown = ", ".join(f"{_label(classes[a])} over {_label(classes[b])}" for a, b in pairs[:6])
    message = (
        f"MNLogit: {kind} separation by the columns {', '.join(map(repr, columns)) or repr('const')}: a linear "
        f"score in them ranks the observed class of every row at or above the other classes, strictly for "
        f"{rows.size} rows (first at rows {', '.join(map(str, rows[:5]))}); separated classes (observed over "
        f"other): {shown}{' …' if len(pairs) > 6 else ''}. The maximum-likelihood estimate does not exist "
        f"(Albert & Anderson 1984): some coefficients run to infinity. Drop or merge those columns or "
        f"classes, or use a penalized model"
    )
    error = PerfectSeparationError(message, kind, columns, direction, rows)
    error.classes = [classes[c].item() for c in involved]
    error.pairs = [(classes[a].item(), classes[b].item()) for a, b in pairs]
    return error
