r"""Least squares by an orthogonal factorization of the column-scaled design: the solver step of
:class:`~chainrule.stats.OLS` (its inference is :mod:`chainrule.stats.ols_results`).

For y = Z β + ε with Z = [1, X] (n x k; the column of ones only with an intercept), β̂ is
computed never as (Z'Z)⁻¹ Z'y. Forming and inverting Z'Z *squares* the condition number:
κ(Z'Z) = κ(Z)², so a design with κ(Z) = 1e6 loses about 12 of float64's 16 digits in
the normal equations but only about 6 through an orthogonal factorization Z = Q R
(Golub & Van Loan, *Matrix Computations*, 4th ed., §5.3.7-5.3.8). All solvers first
scale the columns to unit Euclidean norm, Zs = Z D with D = diag(1/‖z_j‖); this changes
nothing in exact arithmetic but stops columns of very different magnitude (a polynomial
in x ≈ 1e6) from inflating κ. Every solver returns R with Zs'Zs = R'R and Q'y, so
β̂ = D R⁻¹ Q'y; everything works on blocks of rows of Zs without forming Zs whole.

* ``solver="qr"`` (default): Cholesky QR done twice, CholQR2 (Fukaya, Nakatsukasa, Yanagisawa
  & Yamamoto 2014; Yamamoto et al. 2015)::

      R1 = chol(Zs'Zs)              one BLAS Gram, ~n k² flops at Gram-matrix speed
      Q1 = Zs R1⁻¹                  block by block (R1⁻¹ is k x k), never stored whole
      R2 = chol(Q1'Q1)              accumulated block by block in the same pass
      R  = R2 R1,  Q'y = R2⁻ᵀ (Q1'y)

  The first pass is as inaccurate as the normal equations, but Q1 is then well
  conditioned (κ(Q1) ≈ 1 + O(κ(Zs)² u)), so the second pass is a Cholesky QR of a nearly
  orthogonal matrix and gives Q orthogonal to O(u) and R as accurate as Householder QR,
  provided κ(Zs) ≲ u^{-1/2} ≈ 6.7e7. We therefore estimate κ(R1) (= κ(Zs), from the SVD of
  the small k x k R1) and fall back to blocked Householder QR (TSQR: LAPACK ``geqrf`` on
  blocks of rows of [Zs, y], then a QR of the stacked R factors) when κ(R1) > 1e6
  (a safety margin of ~70 below the limit) or when the Cholesky factorization fails.
  ``solver_used_`` says which path ran ("cholqr2" or "householder"). Cost: two Gram-like
  passes (n k² flops each, at BLAS-3 speed) plus one GEMM pass, against a bandwidth-bound
  Householder QR; memory: one k-column block of rows at a time besides X itself (X is
  not copied: the intercept column and the scaling are applied per block).
  Known limit: accuracy is normwise; a coefficient much smaller than the others (in the
  scaled units) can have a larger relative error, as for every backward-stable solver.

* ``solver="normal"``: the normal equations via one Cholesky factorization of Zs'Zs,
  kept for teaching: compare its digits with "qr" on an ill-conditioned design.

* Rows spread over MPI ranks (``OLS(distributed=True)``) or streamed block by block
  (``OLS.fit_stream``): the R factor of [Zs, y] by TSQR (:mod:`chainrule.stats.tsqr`),
  "tsqr".

Refinement in twice the working precision (``OLS(refine=...)``, on one process). Every
float64 solver above is backward stable: its β̂ and R are exact for a design perturbed by
about u‖Zs‖ (u = 1.1e-16), so they keep only about 16 − log10 κ(Zs) digits of the answer for
the data as given (Filip, NIST's degree-10 polynomial, has κ(Zs) ≈ 5e9: 7.5 digits). The
refinement recovers them with the compensated products of :mod:`chainrule.stats.compensated`
(as accurate as double-double arithmetic), on the data exactly as stored:

    S  = D R⁻¹                       any float64 matrix with Z S nearly orthogonal
    Q1 = fl(Z S)                     each entry by Dot2, then rounded (κ(Q1) ≈ 1 + O(κ u))
    M  = Q1'Q1 = R2'R2               float64 Gram and Cholesky of a well-conditioned matrix
    (Z'Z)⁻¹ = S M⁻¹ S' = T T',  T = S R2⁻¹   (upper triangular)

Only Q1 needs the extra precision (Z S cancels by a factor κ); rounding it perturbs M by
O(u) relative, and T T' has no cancellation on its diagonal, so the standard errors are
exact for the stored data to a few units of u. β̂ is then refined by iterating (Björck
1967, with the residual in twice the working precision)

    r = y − Z β̂,  g = Z'r  (both by Dot2 / Sum2),   β̂ ← β̂ + T (T'g)  (T'g and T(·) by Dot2)

until the correction is below u |β̂| (each step gains a factor κ u; at most 4 steps), and
the residuals are y − Z β̂ by Dot2. The result is the exact least-squares answer for the
stored data, rounded: on NIST's StRD, every certified digit that the float64 data still
holds. Cost: about 25 n k² float64 operations on NumPy arrays (no BLAS), roughly ten times
a float64 fit; "auto" (the default) runs it when it is cheap, n k² ≤ 2¹⁶, or needed,
κ(R) > 10⁴ (more than 4 of 16 digits at risk). The rows of Q for the robust covariances
and the leverages stay float64 (Zs T by GEMM).

Rank deficiency is detected by a column-pivoted QR (rank-revealing; Golub & Van Loan
§5.4.2) of R: the rank is the number of |T_jj| > tol · |T_11| with tol = max(n, k) · ε
(ε = 2.2e-16, the convention of ``numpy.linalg.matrix_rank``). A deficient design raises
:class:`CollinearityError` naming each dependent column and the columns it is a linear
combination of, instead of returning huge numbers.

References: G. H. Golub and C. F. Van Loan, *Matrix Computations*, 4th ed., 2013; T. Fukaya,
Y. Nakatsukasa, Y. Yanagisawa and Y. Yamamoto, "CholeskyQR2: a simple and communication-avoiding
algorithm for computing a tall-skinny QR factorization on a large-scale parallel system",
ScalA 2014; Å. Björck, "Iterative refinement of linear least squares solutions I", BIT 7 (1967),
257-278; Y. Yamamoto, Y. Nakatsukasa, Y. Yanagisawa and T. Fukaya, "Roundoff error analysis
of the CholeskyQR2 algorithm", ETNA 44 (2015).
"""
from __future__ import annotations

import math

import scipy.linalg as _la

from ..engine import backend
from . import tsqr
from .compensated import matmul2, sum2, two_prod, two_sum

np = backend.host

__all__ = ["LeastSquares", "CollinearityError", "solve", "solve_streamed", "refine", "q_row_blocks",
           "cond_triangular", "BLOCK_ROWS", "CHOLQR_MAX_COND", "REFINE_MIN_COND", "REFINE_MAX_CHEAP"]

#: CholQR2 is used while the estimated condition number of the scaled design stays below this.
CHOLQR_MAX_COND = 1e6
#: refine="auto" refines when the scaled condition number exceeds this …
REFINE_MIN_COND = 1e4
#: … or when n k² is at most this (the refinement then takes milliseconds).
REFINE_MAX_CHEAP = 2 ** 16
#: Rows per block in the passes over the data (a block of 50 float64 columns is ~6.5 MB).
BLOCK_ROWS = 16384
_EPS = float(np.finfo(np.float64).eps)


class CollinearityError(ValueError):
    """The design matrix is rank deficient. ``relations`` lists (column, [(other, coefficient)…])."""

    def __init__(self, message, relations=(), rank=None):
        super().__init__(message)
        self.relations = list(relations)
        self.rank = rank


class LeastSquares:
    """What the solver step hands to the inference step.

    Attributes:
        R: the k x k triangle with Zs'Zs = R'R, Zs = Z D the design with unit-norm columns.
        d: the column scales, D = diag(d), d_j = 1/‖z_j‖.
        beta: β̂ in the original units (the intercept first).
        method: "cholqr2", "householder", "normal" or "tsqr".
        nobs: n, the rows of all ranks.
        column_sums: 1'X (with an intercept, from the Gram pass of ``solve``), else None.
        first_condition: κ(R1) of CholQR2's first pass (``solve``), else inf.
        Rinv: R⁻¹, or after :func:`refine` the upper triangle T_s with (Zs'Zs)⁻¹ = T_s T_s'
            computed in twice the working precision (more accurate than inverting R).
        resid: after :func:`refine`, the residuals y − Z β̂ computed by Dot2; else None.
        refined: whether :func:`refine` ran.
    """

    def __init__(self, R, d, beta, method, nobs, column_sums=None, first_condition=math.inf):
        self.R, self.d, self.beta, self.method, self.nobs = R, d, beta, method, nobs
        self.column_sums, self.first_condition = column_sums, first_condition
        self.resid, self.refined, self._Rinv = None, False, None

    @property
    def Rinv(self):
        if self._Rinv is None:
            self._Rinv = _la.solve_triangular(self.R, np.eye(self.R.shape[0]), check_finite=False)
        return self._Rinv


def solve(X, y, n: int, names, intercept: bool, solver: str, rows: tsqr.RowBlocks) -> LeastSquares:
    """β̂ of y on Z = [1, X] by the factorization that ``solver`` ("qr", "normal"; "gd" is
    started like "qr") and the data allow (see the module docstring), for the n rows of all
    ranks that ``rows`` sums over. ``names`` are the k column names of Z, for the errors.

    Raises ValueError for an all-zero column (or solver="normal" on a full-rank design whose
    Gram matrix is too ill-conditioned for Cholesky), CollinearityError for a rank-deficient design.
    """
    G, sums = _gram(X, intercept)
    G = rows.sum(G)
    d = _unit_norm_scales(np.diag(G).copy(), names)
    R1 = _cholesky(G * d[:, None] * d[None, :])
    first_condition = cond_triangular(R1) if R1 is not None else math.inf
    if rows.distributed:
        R_aug = rows.tsqr_r(tsqr.augmented_r(X, y, d, intercept))
        k = d.size
        R, qty, method = np.triu(R_aug[:k, :k]), R_aug[:k, k].copy(), "tsqr"
    else:
        R, qty, method = _factor(X, y, d, intercept, solver, R1, first_condition, n, names)
    if method != "householder":  # _factor checked the Householder R already
        _rank_check(R, n, names, d, intercept)
    beta = _la.solve_triangular(R, qty, check_finite=False) * d
    return LeastSquares(R, d, beta, method, n, sums, first_condition)


def solve_streamed(R_raw, qty, n: int, names, intercept: bool) -> LeastSquares:
    r"""β̂ from the triangle of a streamed (or rank-split) fit.

    With A = [Z, y] = Q_A R_A for all rows (:func:`chainrule.stats.tsqr.streamed_least_squares`),

        R_A = [[R, Q'y], [0, ρ]],   β̂ = R⁻¹ Q'y,   SSR = ρ².

    The columns are then scaled as in :func:`solve`, Zs = Z D with D = diag(1/‖z_j‖) and
    ‖z_j‖ = ‖R e_j‖ (Z'Z = R'R), so R_s = R D; the rank check, and later the condition
    numbers and the collinearity diagnostics, use R_s.
    """
    d = _unit_norm_scales(np.einsum("ij,ij->j", R_raw, R_raw), names)
    R = R_raw * d[None, :]
    _rank_check(R, n, names, d, intercept)
    beta = _la.solve_triangular(R_raw, qty, check_finite=False)
    return LeastSquares(R, d, beta, "tsqr", n)


def should_refine(refine, n: int, k: int, condition: float) -> bool:
    """Whether ``OLS(refine=...)`` refines a fit of n rows and k columns whose scaled design
    has the (estimated) condition number ``condition``: always (True), never (False), or
    when cheap or needed ("auto": n k² ≤ REFINE_MAX_CHEAP or condition > REFINE_MIN_COND)."""
    if refine != "auto":
        return bool(refine)
    return n * k * k <= REFINE_MAX_CHEAP or not condition <= REFINE_MIN_COND


def refine(X, y, intercept: bool, solution: LeastSquares, max_steps: int = 4) -> LeastSquares:
    """The fit of ``solution`` refined in twice the working precision (module docstring):
    returns a new LeastSquares with the refined ``Rinv``, ``R``, ``beta`` and ``resid``, or
    ``solution`` itself when the refined Gram matrix M is not positive definite (never seen:
    M ≈ I)."""
    d, Rinv = solution.d, solution.Rinv
    k = d.size
    S = Rinv * d[:, None]  # Z S = Zs R⁻¹
    M = np.zeros((k, k))
    for _, _, Z in _design_blocks(X, intercept):
        hi, lo = matmul2(Z, S)
        Q1 = hi + lo
        M += Q1.T @ Q1
    R2 = _cholesky(M)
    if R2 is None:
        return solution
    R2inv = _la.solve_triangular(R2, np.eye(k), check_finite=False)
    T = S @ R2inv  # (Z'Z)⁻¹ = T T'
    beta = solution.beta.copy()
    for _ in range(max_steps):
        g_hi, g_lo, _ = _residual_gradient(X, y, beta, intercept)
        h_hi, h_lo = matmul2(T.T, g_hi[:, None], C=T.T @ g_lo[:, None])  # T'g
        delta = np.add(*matmul2(T, h_hi + h_lo))[:, 0]  # T (T'g)
        beta = beta + delta
        if np.all(np.abs(delta) <= _EPS * np.abs(beta)):
            break
    refined = LeastSquares(np.triu(R2 @ solution.R), d, beta, solution.method, solution.nobs,
                           solution.column_sums, solution.first_condition)
    refined._Rinv = np.triu(Rinv @ R2inv)  # the scaled T: (Zs'Zs)⁻¹ = D⁻¹ T T' D⁻¹
    refined.resid = _residual_gradient(X, y, beta, intercept, gradient=False)[2]
    refined.refined = True
    return refined


def _design_blocks(X, intercept, block_rows=BLOCK_ROWS):
    """Yield (start, stop, Z_block) with Z = [1, X] (the ones only with an intercept)."""
    n = X.shape[0]
    for start in range(0, n, block_rows):
        stop = min(start + block_rows, n)
        block = X[start:stop]
        yield start, stop, (np.column_stack([np.ones(stop - start), block]) if intercept else block)


def _residual_gradient(X, y, beta, intercept, gradient=True):
    """(g_hi, g_lo, r): g = Z'r as a double-double (None when ``gradient`` is False) and the
    residuals r = y − Z β rounded, both computed by Dot2 / Sum2."""
    k = beta.size
    g_hi, g_lo = np.zeros(k), np.zeros(k)
    resid = np.empty(X.shape[0])
    for start, stop, Z in _design_blocks(X, intercept):
        r_hi, r_lo = matmul2(Z, -beta[:, None], C=y[start:stop, None])
        resid[start:stop] = (r_hi + r_lo)[:, 0]
        if gradient:
            p, e = two_prod(Z, r_hi)  # Z_b' r as a double-double: exact products, then Sum2 down the rows
            s_hi, s_lo = sum2(p, e + Z * r_lo)
            g_hi, t = two_sum(g_hi, s_hi)
            g_lo += t + s_lo
    return (g_hi, g_lo, resid) if gradient else (None, None, resid)


def q_row_blocks(X, R, d, intercept, block_rows=BLOCK_ROWS, Rinv=None):
    """Yield (start, stop, Q_block): the rows of Q = Zs R⁻¹ block by block, each
    Q_block = X[start:stop] M + c from one GEMM (:func:`_q_map`; a reused buffer).
    ``Rinv``: R⁻¹ when already known (a refined fit's)."""
    M, c = _q_map(R, d, intercept, Rinv)
    n = X.shape[0]
    buffer = np.empty((min(block_rows, n), M.shape[1]))
    for start in range(0, n, block_rows):
        stop = min(start + block_rows, n)
        block = buffer[: stop - start]
        np.matmul(X[start:stop], M, out=block)
        if c is not None:
            block += c
        yield start, stop, block


def cond_triangular(R) -> float:
    """The 2-norm condition number σ_max / σ_min of a small square matrix (inf when singular)."""
    s = _la.svdvals(R, check_finite=False)
    return float(s[0] / s[-1]) if s[-1] > 0 else math.inf


def _factor(X, y, d, intercept, solver, R1, first_condition, n, names):
    """(R, Q'y, method) on one process: the normal equations, CholQR2, or Householder QR."""
    if solver == "normal" and R1 is not None:
        qty = _la.solve_triangular(R1, d * _cross(X, y, intercept), trans="T", check_finite=False)
        return R1, qty, "normal"
    if solver != "normal" and first_condition <= CHOLQR_MAX_COND:
        factored = _cholqr2(X, y, d, intercept, R1)
        if factored is not None:
            return factored + ("cholqr2",)
    R, qty = _householder(X, y, d, intercept)
    _rank_check(R, n, names, d, intercept)
    if solver == "normal":
        raise ValueError(
            f"OLS: solver='normal' failed: the Cholesky factorization of X'X broke down although X has "
            f"full rank (scaled condition number {cond_triangular(R):.3g}, squared by the normal "
            f"equations); use solver='qr'"
        )
    return R, qty, "householder"


def _unit_norm_scales(squared_norms, names):
    """d_j = 1/‖z_j‖ from the squared column norms; ValueError naming all-zero columns."""
    if not (squared_norms > 0).all():
        zero = [names[j] for j in np.flatnonzero(~(squared_norms > 0))]
        raise ValueError(f"X: column(s) {', '.join(map(repr, zero))} are all zero; drop them")
    return 1.0 / np.sqrt(squared_norms)


def _q_map(R, d, intercept, Rinv=None):
    """(M, c) with Zs_b R⁻¹ = X_b M + c, so rows of Q = Zs R⁻¹ come from one GEMM per block.

    R⁻¹ is the inverse of a small k x k triangle (a triangular solve against I). Applying it by
    GEMM rather than by a blocked triangular solve (trsm) is several times faster for tall,
    thin blocks; its rounding error, O(κ(R) u), is the same order as trsm's forward error and
    is what the second CholQR pass corrects.
    """
    if Rinv is None:
        Rinv = _la.solve_triangular(R, np.eye(R.shape[0]), check_finite=False)
    # C order: numpy's matmul into a preallocated C-ordered block is fastest with a C-ordered M
    if intercept:
        return np.ascontiguousarray(Rinv[1:] * d[1:, None]), d[0] * Rinv[0]
    return np.ascontiguousarray(Rinv * d[:, None]), None


def _gram(X, intercept):
    """Z'Z (unscaled) and the column sums of X, with one BLAS call on X."""
    n, p = X.shape
    G_x = X.T @ X
    if not intercept:
        return G_x, None
    sums = np.ones(n) @ X  # BLAS gemv (multithreaded); only seeds R1, which CholQR2 refines
    G = np.empty((p + 1, p + 1))
    G[0, 0] = n
    G[0, 1:] = G[1:, 0] = sums
    G[1:, 1:] = G_x
    return G, sums


def _cholesky(G):
    try:
        return _la.cholesky(G, lower=False, check_finite=False)
    except _la.LinAlgError:
        return None


def _cholqr2(X, y, d, intercept, R1):
    """Second CholQR pass: returns R = R2 R1 and Q'y, or None if chol(Q1'Q1) fails."""
    k = R1.shape[0]
    G2 = np.zeros((k, k))
    q1y = np.zeros(k)
    for start, stop, Q1 in q_row_blocks(X, R1, d, intercept):
        G2 += Q1.T @ Q1
        q1y += y[start:stop] @ Q1
    R2 = _cholesky(G2)
    if R2 is None:
        return None
    R = R2 @ R1
    qty = _la.solve_triangular(R2, q1y, trans="T", check_finite=False)
    return np.triu(R), qty


def _householder(X, y, d, intercept, block_rows=20_000):
    """Blocked Householder QR (TSQR) of [Zs, y]: R (k x k) and Q'y.

    Each block of rows of [Zs, y] is reduced to its (k+1) x (k+1) triangle by LAPACK geqrf; the
    stacked triangles are reduced once more (:func:`chainrule.stats.tsqr.augmented_r`, the
    same factorization every MPI rank runs on its own rows). Zs'Zs = R'R exactly as for one
    big QR.
    """
    k = X.shape[1] + intercept
    R_aug = tsqr.augmented_r(X, y, d, bool(intercept), block_rows)
    return R_aug[:k, :k].copy(), R_aug[:k, k].copy()


def _rank_check(R, n, names, d, intercept):
    """Rank-revealing (column-pivoted) QR of R; raise CollinearityError naming columns."""
    k = R.shape[0]
    T, piv = _la.qr(R, mode="r", pivoting=True, check_finite=False)
    diag = np.abs(np.diag(T))
    tol = max(n, k) * _EPS
    rank = int(np.sum(diag > tol * diag[0])) if diag[0] > 0 else 0
    if rank == k:
        return
    kept, dropped = piv[:rank], piv[rank:]
    relations = []
    parts = []
    for position, j in enumerate(dropped):
        if rank:
            c = _la.solve_triangular(T[:rank, :rank], T[:rank, rank + position], check_finite=False)
        else:
            c = np.zeros(0)
        # Zs_j ≈ Σ c_i Zs_i  ⇒  z_j ≈ Σ c_i (d_i / d_j) z_i in the original units
        coefficients = c * d[kept] / d[j]
        big = np.abs(c) > 1e-8 * max(1.0, float(np.abs(c).max(initial=0.0)))
        terms = [(names[i], float(coefficients[m])) for m, i in enumerate(kept) if big[m]]
        relations.append((names[j], terms))
        combo = " + ".join(f"{v:.6g}*{name!r}" for name, v in terms) or "0"
        parts.append(f"{names[j]!r} ≈ {combo}")
    raise CollinearityError(
        f"X: the design ({k} columns{' with the intercept' if intercept else ''}) is rank "
        f"deficient: rank {rank} by a column-pivoted QR with tolerance max(n, k)*eps = {tol:.3g} "
        f"relative to the largest pivot. Collinear columns: " + "; ".join(parts)
        + ". Drop or combine one column of each relation.",
        relations=relations, rank=rank,
    )


def _cross(X, y, intercept):
    """Z'y."""
    Xty = y @ X
    return np.concatenate([[y.sum()], Xty]) if intercept else Xty
