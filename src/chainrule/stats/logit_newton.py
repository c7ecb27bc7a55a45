r"""The Newton iteration of :class:`chainrule.stats.Logit` on tall data: the design, its
row passes (log-likelihood, score, X'WX), the chord Newton loop and the subsample warm start.

Model and notation as in :mod:`chainrule.stats.logit`: η = Xβ, p = σ(η), ℓ(β) = Σ_i [y_i η_i −
log(1 + e^{η_i})], score X'(y − p), information X'WX with W = diag(p_i (1 − p_i)).

Speed on tall data (``newton_binary``, ``warm_start``). Every pass runs on ranges of
rows, one per thread, inside ``Logit.fit`` and ``MNLogit.fit`` when threadpoolctl is
installed (:mod:`chainrule.stats.row_parts`). A pass that needs only ℓ and the score reads
X twice (η = Xβ by BLAS, X'(y − p) by ``einsum``, which runs on its thread's core where
OpenBLAS's X'r on C-ordered X uses one core however it is called); X'WX is formed only
when needed, in a pass that reads X once more, block by block (each block, scaled by √w_i,
goes into one BLAS ``syrk``; on C-ordered X of at least 2^29 numbers, with numba
installed, the scaling, the block's score and the constant's row come from one compiled
loop over the block, :mod:`chainrule.stats.logit_kernels`: about 0.6 ns less per number
of X per pass, which outweighs the one-off start of numba, about 0.25 s per process, only
on such large data). Between formations the last factor
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
"""
from __future__ import annotations

import math

from scipy import linalg as _linalg

from ..engine import backend
from ..engine import compiled as _compiled
from . import row_parts

np = backend.host

_BLOCK_ROWS = 4096          # rows per block of a weighted Gram matrix (in the 2 MB L2 cache at p = 50)
# n·p from which X'WX passes use the compiled row kernel (numba): it saves about 0.6 ns per
# number of X per pass, and starting numba costs about 0.25 s once per process, so it pays
# within a single fit only from about 4e8 numbers (measured: 200,000 x 50 fits 0.11 s
# without it, 0.31-0.44 s with it on the first fit of a process).
_COMPILED_MIN_SIZE = 1 << 29
_SUBSAMPLE_ABOVE = 50_000   # warm-start Newton on strided subsamples above this many rows
_SUBSAMPLE_STRIDE = 8       # each subsample keeps every 8th row of the one around it
_SUBSAMPLE_MIN_ROWS = 2_500  # … as long as it keeps at least this many (and 25 per parameter)
WARM_TOL = 3e-3            # the subsample fits stop at max|Δβ| ≤ 3e-3 (1 + max|β|)
_EXACT = 1e-12            # a final Newton step this small leaves I_k exact to ~1e-12
ETA_ALARM = 30.0           # |η_i| beyond this: p_i(1 − p_i) < 1e-13, a symptom of separation


class Design:
    """X with an implicit leading column of ones (never copied to add the constant).

    Holds the work buffers of the passes over the rows (a few vectors of n entries and one
    block of rows), allocated on first use and reused by every later pass.
    """

    def __init__(self, X, intercept: bool):
        self.X, self.intercept = X, intercept
        self.n = X.shape[0]
        self.k = X.shape[1] + int(intercept)
        self._vectors = None
        self._blocks = {}

    def subsample(self, stride: int) -> Design:
        """Every ``stride``-th row (a contiguous copy), with the same constant."""
        return Design(np.ascontiguousarray(self.X[::stride]), self.intercept)

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
        :func:`_row_terms`. The pass runs on ranges of rows, one per thread
        (:mod:`chainrule.stats.row_parts`), and the ranges' sums are added in order. A
        range's part is η_r = X_r β (BLAS), its row terms and X_r'(y_r − p_r)
        (:meth:`_score_range`); with ``hessian``, X'WX as well, block by block
        (:meth:`_hessian_range`). Every output is a sum over rows (the last a maximum), so a
        data-parallel fit computes them on each worker's rows and adds them up
        (``allreduce``): nothing else in the iteration touches the rows.
        """
        eta, e, t = self._work_vectors()
        w = np.empty(self.n) if hessian else None
        ranges = row_parts.row_ranges(self.n, _BLOCK_ROWS)
        if hessian:
            parts = row_parts.map_ranges(lambda index, start, stop: self._hessian_range(
                index, start, stop, beta, eta, y, e, t, w), ranges)
        else:
            parts = row_parts.map_ranges(lambda index, start, stop: self._score_range(
                start, stop, beta, eta, y, e, t), ranges)
        llf = sum(part[0] for part in parts)
        largest = max(part[1] for part in parts)
        score = np.sum([part[2] for part in parts], axis=0)
        if not hessian:
            return llf, None, score, largest
        body = np.sum([part[3] for part in parts], axis=0)
        if not self.intercept:
            return llf, body, score, largest
        edge = np.sum([part[4] for part in parts], axis=0)
        return llf, self._bordered(float(w.sum()), edge, body), score, largest

    def _score_range(self, start, stop, beta, eta, y, e, t):
        """(ℓ_r, max|η|_r, X_r'(y_r − p_r)) on the rows [start, stop) (with the constant's entry)."""
        rows, r = slice(start, stop), t[start:stop]
        _linear_into(self.X[rows], beta, self.intercept, eta[rows])
        llf, largest = _row_terms(eta[rows], y[rows], e[rows], r)
        return llf, largest, self._score_entries(_transposed_product(self.X[rows], r, stop - start < self.n), r)

    def _hessian_range(self, index, start, stop, beta, eta, y, e, t, w):
        """(ℓ_r, max|η|_r, X_r'(y_r − p_r), X_r'W_rX_r without the constant, X_r'w_r) on the
        rows [start, stop), the last three in one read of the range, block by block of
        ``_BLOCK_ROWS`` rows (in cache while it is used): X_b'(y_b − p_b), then B = diag(√w_b)
        X_b in a buffer of this range with B'B (one BLAS ``syrk``) and B'√w_b = X_b'w_b for
        the constant's row. On C-ordered X the buffer holds B' (p x m, C-ordered): OpenBLAS's
        syrk of B'(B')' takes 302 µs on a 4,096 x 50 block against 363 µs for B'B from an
        m x p buffer, which leaves the whole pass 1.5 ms shorter at 200,000 x 50. On large
        designs the first three come from one compiled loop over the block
        (:func:`chainrule.stats.logit_kernels.weighted_rows`, when numba is available)."""
        X, p, off = self.X, self.X.shape[1], int(self.intercept)
        rows = slice(start, stop)
        _linear_into(X[rows], beta, self.intercept, eta[rows])
        llf, largest = _row_terms(eta[rows], y[rows], e[rows], t[rows], w[rows])
        np.sqrt(w[rows], out=e[rows])  # e = √w
        body, edge, score = np.zeros((p, p)), np.zeros(p), np.zeros(self.k)
        kernels = _row_kernels(X)
        transposed = kernels is None and X.flags.c_contiguous
        block = self._work_block(index, transposed)
        for first in range(start, stop, _BLOCK_ROWS):
            last = min(first + _BLOCK_ROWS, stop)
            block_rows, root = X[first:last], e[first:last]
            if transposed:  # B' = X_b' diag(√w_b), p x m, C-ordered: B'(B')' is the faster syrk
                bt = block[:, : last - first]
                score[off:] += block_rows.T @ t[first:last]
                np.multiply(block_rows.T, root, out=bt)
                if off:
                    edge += bt @ root
                body += bt @ bt.T
                continue
            b = block[: last - first]
            if kernels is not None:  # b, the block's score and X_b'w_b in one read of the block
                kernels.weighted_rows(block_rows, root, t[first:last], b, score[off:], edge)
            else:
                score[off:] += block_rows.T @ t[first:last]
                np.multiply(block_rows, root[:, None], out=b)
                if off:
                    edge += b.T @ root
            body += b.T @ b
        if off:
            score[0] = t[rows].sum()
        return llf, largest, score, body, edge

    def _score_entries(self, body, r):
        """X'r with the constant's entry Σ r_i first (when there is a constant)."""
        if not self.intercept:
            return body
        return np.concatenate([[r.sum()], body])

    def _bordered(self, corner, edge, body):
        """The k × k matrix [[corner, edge'], [edge, body]] of [1, X]."""
        gram = np.empty((self.k, self.k))
        gram[0, 0], gram[0, 1:], gram[1:, 0], gram[1:, 1:] = corner, edge, edge, body
        return gram

    def gram(self, w):
        """X' diag(w) X for w ≥ 0 (with the constant: the k × k matrix of [1, X]).

        Per range of rows (one per thread) and per block of ``_BLOCK_ROWS`` rows in it
        (small enough to stay in cache while it is used): B = diag(√w_b) X_b in a reused
        buffer, then B'B by one BLAS ``syrk`` (NumPy's product of an array with its own
        transpose), and B'√w_b = X_b'w_b for the constant's row. X is never copied whole.
        """
        s = np.sqrt(w)

        def part(index, start, stop):
            X, p = self.X, self.X.shape[1]
            body, edge = np.zeros((p, p)), np.zeros(p)
            transposed = X.flags.c_contiguous  # B' (p x m, C-ordered), as in _hessian_range
            block = self._work_block(index, transposed)
            for first in range(start, stop, _BLOCK_ROWS):
                last = min(first + _BLOCK_ROWS, stop)
                if transposed:
                    bt = block[:, : last - first]
                    np.multiply(X[first:last].T, s[first:last], out=bt)
                    body += bt @ bt.T
                    if self.intercept:
                        edge += bt @ s[first:last]
                    continue
                b = block[: last - first]
                np.multiply(X[first:last], s[first:last, None], out=b)
                body += b.T @ b
                if self.intercept:
                    edge += b.T @ s[first:last]
            return body, edge

        parts = row_parts.map_ranges(part, row_parts.row_ranges(self.n, _BLOCK_ROWS))
        body = np.sum([part[0] for part in parts], axis=0)
        if not self.intercept:
            return body
        return self._bordered(float(w.sum()), np.sum([part[1] for part in parts], axis=0), body)

    def grams(self, W):
        """X' diag(W[:, m]) X for every column m of W (any signs), in one read of X.
        Returns an array (M, k, k).

        Per range of rows (one per thread) and per block of rows in it, on C-ordered X the
        M scaled copies of the block are stacked, transposed, into one (M p) x m buffer S'
        (rows m p .. m p + p − 1 hold X_b' diag(w_m), each scaling along contiguous memory),
        and one BLAS ``gemm`` S'X_b gives all M blocks X_b' diag(w_m) X_b; W_b'X_b gives
        their constant's rows. One large product instead of M small ones: OpenBLAS's small
        level-3 calls (p ≤ 20) do not run side by side on two threads, a (120 x 20) one does
        (MNLogit's information at 200,000 x 20, K = 4: 34 ms against 61 ms).
        On F-ordered X each block is X_b'(w_b ⊙ X_b), one ``gemm`` per column. Memory beyond
        the results: one buffer per thread; X is never copied whole.
        """
        off, M, p = int(self.intercept), W.shape[1], self.X.shape[1]
        stacked = self.X.flags.c_contiguous

        def part(index, start, stop):
            X = self.X
            out = np.zeros((M, self.k, self.k))
            if stacked:
                buffer = self._stack_buffer(index, M * p)
            else:
                block = self._work_block(index)
            for first in range(start, stop, _BLOCK_ROWS):
                last = min(first + _BLOCK_ROWS, stop)
                rows, weights = X[first:last], W[first:last]
                if stacked:
                    scaled = buffer[:, : last - first]
                    for m in range(M):
                        np.multiply(rows.T, weights[:, m], out=scaled[m * p:(m + 1) * p])
                    out[:, off:, off:] += (scaled @ rows).reshape(M, p, p)
                else:
                    b = block[: last - first]
                    for m in range(M):
                        np.multiply(rows, weights[:, m:m + 1], out=b)
                        out[m, off:, off:] += rows.T @ b
                if off:
                    out[:, 0, 1:] += weights.T @ rows
            return out

        out = np.sum(row_parts.map_ranges(part, row_parts.row_ranges(self.n, _BLOCK_ROWS)), axis=0)
        if off:
            out[:, 0, 0] = W.sum(axis=0)
            out[:, 1:, 0] = out[:, 0, 1:]
        return out

    def _stack_buffer(self, index, height):
        """A C-ordered height x (block of rows) buffer of the thread that sums range ``index``."""
        key = (index, "stack", height)
        if key not in self._blocks:
            self._blocks[key] = np.empty((height, min(_BLOCK_ROWS, self.n)))
        return self._blocks[key]

    def full(self):
        """[1, X] (or X) as one array: only for small problems (the separation check)."""
        if self.intercept:
            return np.column_stack([np.ones(self.n), self.X])
        return self.X

    def without_buffers(self) -> Design:
        """This design with its work buffers released (what a fitted model keeps)."""
        self._vectors, self._blocks = None, {}
        return self

    def _work_vectors(self):
        if self._vectors is None:
            self._vectors = tuple(np.empty(self.n) for _ in range(3))
        return self._vectors

    def _work_block(self, index=0, transposed=False):
        """The buffer for one block of rows of the thread that sums range ``index``: m x p in
        X's memory order (so that copies of rows into it run along contiguous memory), or
        p x m C-ordered when ``transposed``."""
        key = (index, transposed)
        if key not in self._blocks:
            rows, p = min(_BLOCK_ROWS, self.n), self.X.shape[1]
            if transposed:
                self._blocks[key] = np.empty((p, rows))
            else:
                order = "F" if self.X.strides[0] < self.X.strides[1] else "C"
                self._blocks[key] = np.empty((rows, p), order=order)
        return self._blocks[key]


def loglik(eta, y):
    """Σ [y η − max(η, 0) − log1p(e^{−|η|})]."""
    return float(y @ eta - np.sum(np.maximum(eta, 0.0)) - np.sum(np.log1p(np.exp(-np.abs(eta)))))


def null_loglik(y):
    n, m = y.size, float(y.sum())
    return sum(c * math.log(c / n) for c in (m, n - m) if c > 0)


class NewtonResult:
    """An iteration's answer: the estimate, ℓ there, and, where the iteration has them, the
    information (matrix, Cholesky factor) and the linear predictor at the estimate."""

    def __init__(self, beta, llf, iterations, converged, message="", information=None, eta=None):
        self.beta, self.llf, self.information, self.eta = beta, llf, information, eta
        self.iterations, self.converged, self.message = iterations, converged, message
        self.separation = None  # the PerfectSeparationError of a fit that stopped on separation


class Alarm(Exception):
    """The iteration shows a symptom of separation (|η| too large or a singular information);
    ``beta`` is the iterate where it showed, in iteration ``iterations``."""

    def __init__(self, reason, beta, iterations=0):
        super().__init__(reason)
        self.reason, self.beta, self.iterations = reason, beta, iterations


def newton_binary(design, y, beta, tol, max_iter, alarm=True, exact_information=True, information=None):
    """Maximize ℓ by Newton with step halving from β; raises Alarm on a symptom of separation.

    Steps s_k = I^{-1} g_k with g_k = X'(y − p_k) and I = X'WX evaluated at β_k (Newton) or,
    while that converges fast, kept from an earlier iterate with a BFGS secant update (the
    "chord" or lazy-Hessian Newton method: an iteration costs one read of X for ℓ and g
    without forming X'WX). I is re-evaluated whenever the last step was not at least 4 times
    shorter than the one before it, so the iteration is never slower than linear with rate
    1/4, and near the answer (where the stale I is within O(|β_k − β̂|) of the true one) it
    contracts by that much each time. Step halving: :func:`_halving_step`.

    Stopping: max|s_k| ≤ tol (1 + max|β_k|). The result is then β_k + s_k, with
    ℓ(β_k + s_k) = ℓ_k + g_k's_k / 2 (exact to O(|s_k|³) when I is current, since I s_k = g_k),
    and the covariance from I evaluated at β_k; unless I is current and max|s_k| ≤ 1e-12
    (1 + max|β_k|), one more pass evaluates I at β_k + s_k and takes one more (tiny) step.
    ``information``, when given, approximates I at β to start the chord iteration with (e.g.
    from a subsample, scaled to n rows). The rows are reached only through
    ``design.newton_pass`` (sums over rows: ℓ, X'WX, X'(y − p), max|η|), so a design whose
    ``newton_pass`` all-reduces those sums over workers runs this iteration on rows split among them.
    """
    factor = None if information is None else _cholesky(information)
    fresh = factor is None
    llf, computed, score, largest = design.newton_pass(beta, y, hessian=fresh)
    if fresh:
        information = computed
    polished, previous = False, math.inf
    for iteration in range(1, max_iter + 1):
        if fresh:
            factor = _cholesky(information)
            if factor is None:
                raise Alarm("the information matrix X'WX is singular", beta, iteration)
        step = _linalg.cho_solve(factor, score, check_finite=False)
        if not np.all(np.isfinite(step)):
            raise Alarm("the Newton step is not finite", beta, iteration)
        size, scale = np.max(np.abs(step)), 1.0 + np.max(np.abs(beta))
        if size <= tol * scale:
            if not exact_information or (fresh and (polished or size <= _EXACT * scale)):
                return NewtonResult(beta + step, llf + 0.5 * float(score @ step), iteration, True,
                                    information=(information, factor))
            beta = beta + step
            llf, information, score, largest = design.newton_pass(beta, y)
            fresh, polished = True, True
            continue
        refresh = bool(size > 0.25 * previous)  # a fresh I when the chord contracts slowly
        previous = size
        candidate, (llf, new_information, new_score, largest) = _halving_step(design, y, beta, step, llf, refresh)
        fresh = new_information is not None
        if fresh:
            information = new_information
        else:
            information = _bfgs_update(information, candidate - beta, score - new_score)
            factor = _cholesky(information)
        beta, score = candidate, new_score
        if factor is None:  # the secant approximation lost definiteness: form X'WX afresh
            llf, information, score, largest = design.newton_pass(beta, y)
            fresh = True
        if alarm and largest > ETA_ALARM:
            raise Alarm(f"a fitted linear predictor |x_i'b| exceeds {ETA_ALARM:g}", beta, iteration)
    return NewtonResult(beta, llf, max_iter, False, f"Newton did not converge in max_iter={max_iter} iterations")


def nested_subsamples(design, y, parameters):
    """[(design, y) of every ``_SUBSAMPLE_STRIDE``-th row, of every stride² -th row, …], the
    largest first, while a subsample keeps at least max(``_SUBSAMPLE_MIN_ROWS``,
    25 ``parameters``) rows; empty on at most ``_SUBSAMPLE_ABOVE`` rows. Each subsample is
    taken from the one before it (one read of X in all)."""
    levels, smallest = [], max(_SUBSAMPLE_MIN_ROWS, 25 * parameters)
    if design.n <= _SUBSAMPLE_ABOVE:
        return levels
    current = (design, y)
    while current[0].n // _SUBSAMPLE_STRIDE >= smallest:
        sub, ys = current
        current = (sub.subsample(_SUBSAMPLE_STRIDE), ys[::_SUBSAMPLE_STRIDE])
        levels.append(current)
    return levels


def warm_start(design, y, beta):
    """A start (β, I) for the full-data Newton iteration, from nested strided subsamples.

    On more than ``_SUBSAMPLE_ABOVE`` rows, the rows 0, s, 2s, … with s = ``_SUBSAMPLE_STRIDE``
    form a subsample, and so on while a subsample keeps at least max(``_SUBSAMPLE_MIN_ROWS``,
    25 k) rows (at n = 200,000: 25,000 rows, then 3,125). The smallest is fitted from β by
    Newton; each larger one starts from the estimate and the information (scaled by the
    ratio of row counts) of the one inside it, all to a loose tolerance (``WARM_TOL``). The
    largest ends with its information evaluated at its estimate, which (scaled to n rows)
    starts the chord iteration of :func:`newton_binary` on all rows: it differs from the
    full-data information by O(√(k/m)) relatively, so each full-data iteration shortens
    the step by about that factor. The answer, its stopping rule and its covariance are
    those of the full data: the warm start only decides how many passes over all rows are
    needed. Returns (β, None) when no subsample is taken or one fails (one class only,
    separation, a singular information or no convergence in a subsample): the full-data
    iteration then starts from β itself.
    """
    levels = nested_subsamples(design, y, design.k)
    information, rows = None, 0
    for level, (sub, ys) in enumerate(reversed(levels)):
        if not 0 < ys.sum() < ys.size:
            return beta, None
        scaled = None if information is None else information * (sub.n / rows)
        largest = level == len(levels) - 1
        try:
            result = newton_binary(sub, ys, beta, WARM_TOL, 50, exact_information=largest, information=scaled)
        except (Alarm, _linalg.LinAlgError):
            return beta, None
        if not result.converged:
            return beta, None
        beta, information, rows = result.beta, result.information[0], sub.n
    if information is None:
        return beta, None
    return beta, information * (design.n / rows)


def _row_kernels(X):
    """The compiled row kernels (``stats.logit_kernels``) for a pass over X, or None: when
    X is not C-contiguous, when it holds fewer than ``_COMPILED_MIN_SIZE`` numbers (where
    numba's one-off start, about 0.25 s per process to import it and load the cached machine
    code, weighs more against what it saves: about 0.6 ns per number of X per X'WX pass),
    when numba is missing, or when ``CHAINRULE_NO_NUMBA`` is set."""
    if X.size < _COMPILED_MIN_SIZE or not X.flags.c_contiguous:
        return None
    return _compiled.kernels("chainrule.stats.logit_kernels")


def _transposed_product(rows, r, threaded):
    """rows' r. On C-ordered rows of one range among several (``threaded``) by ``einsum``,
    which runs on the calling thread's core, so that ranges on several threads overlap
    (OpenBLAS's X'r on C-ordered X uses one core however it is called: 3.6 ms on 200,000 x
    50, against 1.9 ms for two ``einsum`` threads); otherwise by BLAS (on F-ordered X it
    reads columns contiguously: 1.4 ms)."""
    if threaded and rows.flags.c_contiguous:
        return np.einsum("ij,i->j", rows, r)
    return rows.T @ r


def _linear_into(X, beta, intercept, out):
    """out = X β (+ β_0 when ``intercept``), without temporaries (BLAS: on ranges of rows
    on two threads it beat ``einsum`` by ~0.6 ms per pass in place, though not alone)."""
    np.matmul(X, beta[1:] if intercept else beta, out=out)
    if intercept:
        out += beta[0]


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


def _halving_step(design, y, beta, step, llf, refresh):
    """(β + t s, the pass there) for the first t in 1, 1/2, 1/4, … at which ℓ does not decrease
    (or t < 1e-10). The pass forms X'WX only when ``refresh`` and t = 1."""
    t = 1.0
    while True:
        candidate = beta + t * step
        evaluation = design.newton_pass(candidate, y, hessian=refresh and t == 1.0)
        if evaluation[0] >= llf - 1e-12 * abs(llf) or t < 1e-10:
            return candidate, evaluation
        t *= 0.5


def _cholesky(information):
    """The Cholesky factor of I (``cho_factor``), or None when I is not positive definite."""
    try:
        return _linalg.cho_factor(information, lower=False, check_finite=False)
    except _linalg.LinAlgError:
        return None


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
