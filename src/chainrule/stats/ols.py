r"""Ordinary least squares with statsmodels-style inference and scikit-learn's protocol.

Model and estimate
------------------
y = Z β + ε with Z = [1, X] (n x k; the column of ones only when ``fit_intercept``) and

    β̂ = argmin_β ‖y − Z β‖²,   e = y − Z β̂,   SSR = e'e.

How β̂ is computed (``solver``)
------------------------------
Never as (Z'Z)⁻¹ Z'y. Forming and inverting Z'Z *squares* the condition number:
κ(Z'Z) = κ(Z)², so a design with κ(Z) = 1e6 loses about 12 of float64's 16 digits in
the normal equations but only about 6 through an orthogonal factorization Z = Q R
(Golub & Van Loan, *Matrix Computations*, 4th ed., §5.3.7-5.3.8). All solvers first
scale the columns to unit Euclidean norm, Zs = Z D with D = diag(1/‖z_j‖); this changes
nothing in exact arithmetic but stops columns of very different magnitude (a polynomial
in x ≈ 1e6) from inflating κ.

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

* ``solver="gd"``: gradient descent with :func:`chainrule.optim.minimize` on chainrule
  float64 tensors, minimizing f(b) = ½‖ỹ − A b‖² where A holds the (centered, when there is
  an intercept) unit-norm columns, with step 1/L, L = λ_max(A'A), and the stopping rule
  ‖∇f(b_k)‖ < tol · ‖∇f(0)‖. It reports ``n_iter_``, ``converged_`` and
  ``optimization_error_`` = |β̂_gd − β̂_qr| / se(β̂): the optimization error in units of
  the statistical error.

Rank deficiency is detected by a column-pivoted QR (rank-revealing; Golub & Van Loan
§5.4.2) of R: the rank is the number of |T_jj| > tol · |T_11| with tol = max(n, k) · ε
(ε = 2.2e-16, the convention of ``numpy.linalg.matrix_rank``). A deficient design raises
:class:`CollinearityError` naming each dependent column and the columns it is a linear
combination of, instead of returning huge numbers.

Inference (statsmodels' names and conventions)
-----------------------------------------------
With k = rank(Z) parameters, df_resid = n − k, df_model = k − 1 (k with no intercept):

    scale s² = SSR / df_resid
    cov_type="nonrobust":  V = s² (Z'Z)⁻¹,       t statistics, Student t(df_resid)
    HC0 (White 1980):      V = (Z'Z)⁻¹ Z' diag(e_i²) Z (Z'Z)⁻¹
    HC1:                   n / (n − k) · HC0
    HC2 (MacKinnon & White 1985):  e_i² replaced by e_i² / (1 − h_ii)
    HC3 (MacKinnon & White 1985):  e_i² replaced by e_i² / (1 − h_ii)²
    cluster (one-way, ``fit(X, y, groups=g)``, G groups):
        V = G/(G−1) · (n−1)/(n−k) · (Z'Z)⁻¹ (Σ_g Z_g'e_g e_g'Z_g) (Z'Z)⁻¹

h_ii = z_i (Z'Z)⁻¹ z_i' = ‖row i of Q‖² is the leverage. Every (Z'Z)⁻¹ above is applied as
R⁻¹ R⁻ᵀ by triangular solves; the "meat" is accumulated in Q coordinates, block by block.
As in statsmodels, robust covariances use normal (z) p-values and intervals
(``use_t=False``), and the F statistic becomes the Wald test of all slopes with V.

    R² = 1 − SSR / TSS (TSS centered about ȳ with an intercept, uncentered without)
    R²_adj = 1 − (n − 1)/df_resid · (1 − R²)      (n instead of n − 1 without intercept)
    F = (ESS / df_model) / (SSR / df_resid),  ESS = TSS − SSR,  p from F(df_model, df_resid)
    llf = −n/2 · (log(2π SSR / n) + 1)
    aic = −2 llf + 2k,    bic = −2 llf + log(n) k
    condition_number = σ_max(Z) / σ_min(Z)      (unscaled, as statsmodels reports it)

References: White (1980), Econometrica 48(4) 817-838; MacKinnon & White (1985), J.
Econometrics 29(3) 305-325; Golub & Van Loan (2013), Matrix Computations, 4th ed.;
Cameron & Miller (2015), J. Human Resources 50(2) (cluster-robust inference).
"""
from __future__ import annotations

import math
import warnings

import scipy.linalg as _la
import scipy.sparse as _sparse
from scipy import stats as _distributions

from ..engine import backend
from ..engine.tensor import Tensor
from . import tsqr
from .estimator import Estimator
from .inference import Summary, WaldResults
from .validation import as_design, as_target, check_columns, check_enough_rows, warn

np = backend.host

__all__ = ["OLS", "CollinearityDiagnostics", "CollinearityError", "OLSResults", "StreamedOLSResults"]

COV_TYPES = ("nonrobust", "HC0", "HC1", "HC2", "HC3", "cluster")
SOLVERS = ("qr", "normal", "gd")
#: CholQR2 is used while the estimated condition number of the scaled design stays below this.
CHOLQR_MAX_COND = 1e6
#: Rows per block in the passes over the data (a block of 50 float64 columns is ~6.5 MB).
BLOCK_ROWS = 16384
_EPS = float(np.finfo(np.float64).eps)
#: A DataWarning names the near-dependent columns above this scaled condition number.
WARN_COND = 1e7


class CollinearityError(ValueError):
    """The design matrix is rank deficient. ``relations`` lists (column, [(other, coefficient)…])."""

    def __init__(self, message, relations=(), rank=None):
        super().__init__(message)
        self.relations = list(relations)
        self.rank = rank


# ----------------------------------------------------------------------------------------------
# numerical core: everything works on blocks of rows of Zs = [1, X] D without forming Zs whole
# ----------------------------------------------------------------------------------------------

def _q_map(R, d, intercept):
    """(M, c) with Zs_b R⁻¹ = X_b M + c, so rows of Q = Zs R⁻¹ come from one GEMM per block.

    R⁻¹ is the inverse of a small k x k triangle (a triangular solve against I). Applying it by
    GEMM rather than by a blocked triangular solve (trsm) is several times faster for tall,
    thin blocks; its rounding error, O(κ(R) u), is the same order as trsm's forward error and
    is what the second CholQR pass corrects.
    """
    k = R.shape[0]
    Rinv = _la.solve_triangular(R, np.eye(k), check_finite=False)
    # C order: numpy's matmul into a preallocated C-ordered block is fastest with a C-ordered M
    if intercept:
        return np.ascontiguousarray(Rinv[1:] * d[1:, None]), d[0] * Rinv[0]
    return np.ascontiguousarray(Rinv * d[:, None]), None


def _q_blocks(X, M, c, block_rows=BLOCK_ROWS):
    """Yield (start, stop, Q_block) with Q_block = X[start:stop] M + c (a reused buffer)."""
    n = X.shape[0]
    buffer = np.empty((min(block_rows, n), M.shape[1]))
    for start in range(0, n, block_rows):
        stop = min(start + block_rows, n)
        block = buffer[: stop - start]
        np.matmul(X[start:stop], M, out=block)
        if c is not None:
            block += c
        yield start, stop, block


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


def _cond_triangular(R):
    s = _la.svdvals(R, check_finite=False)
    return float(s[0] / s[-1]) if s[-1] > 0 else math.inf


def _cholqr2(X, y, d, intercept, R1):
    """Second CholQR pass: returns R = R2 R1 and Q'y, or None if chol(Q1'Q1) fails."""
    k = R1.shape[0]
    G2 = np.zeros((k, k))
    q1y = np.zeros(k)
    M, c = _q_map(R1, d, intercept)
    for start, stop, Q1 in _q_blocks(X, M, c):
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


# ----------------------------------------------------------------------------------------------
# results
# ----------------------------------------------------------------------------------------------

class OLSResults(WaldResults):
    """The fitted model's estimates and inference, with statsmodels' attribute names.

    Attributes: ``params``, ``bse``, ``tvalues``, ``pvalues``, ``rsquared``, ``rsquared_adj``,
    ``fvalue``, ``f_pvalue``, ``llf``, ``aic``, ``bic``, ``nobs``, ``df_model``, ``df_resid``,
    ``resid``, ``fittedvalues``, ``scale``, ``ssr``, ``ess``, ``centered_tss``,
    ``condition_number``, ``cov_type``, ``use_t``, ``names`` (the parameter names; "const"
    for the intercept) and methods ``conf_int(alpha)``, ``cov_params()``, ``summary()``,
    ``collinearity()``. The formulas are in the module docstring of ``chainrule.stats.ols``.
    """

    def __init__(self, **fields):
        self.__dict__.update(fields)
        self.use_t = self.cov_type == "nonrobust"
        k = self.params.size
        n = self.nobs
        self._df_inference = self.df_resid if self.use_t else None  # t(df_resid), else z statistics
        self.llf = -n / 2 * (math.log(2 * math.pi * self.ssr / n) + 1)
        self.aic = -2 * self.llf + 2 * k
        self.bic = -2 * self.llf + math.log(n) * k

    def cov_params(self):
        """The k x k covariance matrix V of the estimates, for ``cov_type``."""
        return self._cov.copy()

    def summary(self, alpha: float = 0.05) -> Summary:
        """A statsmodels-style table (``print`` it, or ``.as_text()`` / ``.as_html()``)."""
        left = [("Dep. Variable", self.target_name), ("Model", "OLS"), ("Method", "Least Squares"),
                ("Solver", self.solver_used), ("No. Observations", str(self.nobs)),
                ("Df Residuals", f"{self.df_resid:g}"), ("Df Model", f"{self.df_model:g}"),
                ("Covariance Type", self.cov_type)]
        right = [("R-squared", f"{self.rsquared:.3f}"), ("Adj. R-squared", f"{self.rsquared_adj:.3f}"),
                 ("F-statistic", f"{self.fvalue:.4g}"), ("Prob (F-statistic)", f"{self.f_pvalue:.3g}"),
                 ("Log-Likelihood", f"{self.llf:.5g}"), ("AIC", f"{self.aic:.4g}"), ("BIC", f"{self.bic:.4g}"),
                 ("Cond. No.", f"{self.condition_number:.3g}")]
        info = left + right
        notes = [_COV_NOTES[self.cov_type]]
        if self.cov_type == "cluster":
            notes[0] += f" ({self.n_groups} groups)"
        if self.scaled_condition_number > 1e4:
            notes.append(
                f"the condition number of the unit-norm-scaled design is {self.scaled_condition_number:.3g}; "
                f"see collinearity() for the columns involved"
            )
        return self._coefficient_summary("OLS Regression Results", info, self.names, alpha, notes)

    def collinearity(self) -> CollinearityDiagnostics:
        """Variance inflation factors and Belsley condition indices (see CollinearityDiagnostics)."""
        return self._collinearity


class StreamedOLSResults(OLSResults):
    """OLSResults of ``OLS.fit_stream``: every statistic of :class:`OLSResults` except the
    per-row arrays ``resid`` and ``fittedvalues``, which would be as large as the data that
    was streamed because it does not fit in memory."""

    @property
    def resid(self):
        raise AttributeError(_NOT_KEPT.format(name="resid"))

    @property
    def fittedvalues(self):
        raise AttributeError(_NOT_KEPT.format(name="fittedvalues"))


_NOT_KEPT = ("{name} is not kept by OLS.fit_stream: it has one entry per row of the streamed data, which "
             "need not fit in memory; compute it block by block, e.g. y_b - model.predict(X_b)")


_COV_NOTES = {
    "nonrobust": "Standard errors assume that the covariance matrix of the errors is correctly specified.",
    "HC0": "Standard errors are heteroscedasticity robust (HC0, White 1980).",
    "HC1": "Standard errors are heteroscedasticity robust (HC1 = n/(n-k) HC0).",
    "HC2": "Standard errors are heteroscedasticity robust (HC2, MacKinnon & White 1985).",
    "HC3": "Standard errors are heteroscedasticity robust (HC3, MacKinnon & White 1985).",
    "cluster": "Standard errors are robust to cluster correlation (CRV1, G/(G-1)(n-1)/(n-k))",
}


class CollinearityDiagnostics:
    r"""Collinearity diagnostics of a design, by column name.

    * ``vif[name]`` = 1 / (1 − R_j²), R_j² from regressing column j on the other columns
      (and the intercept); computed as [(Z'Z)⁻¹]_jj · Σ_i (x_ij − x̄_j)² (uncentered sums
      of squares without an intercept). Values above ~10 flag a column.
    * ``condition_indices`` = σ_max / σ_j of the unit-norm-scaled design Zs (Belsley, Kuh &
      Welsch 1980), one per dimension; ``variance_proportions[j, m]`` is the share of
      Var(β̂_m) owed to dimension j: v_mj² / σ_j² normalized over j. A condition index above
      ~30 with two or more proportions above 0.5 names a near-dependency.
    * ``scaled_condition_number`` = the largest condition index.
    """

    def __init__(self, names, vif, condition_indices, variance_proportions):
        self.names = list(names)
        self.vif = dict(vif)
        self.condition_indices = condition_indices
        self.variance_proportions = variance_proportions
        self.scaled_condition_number = float(condition_indices.max())

    def dependencies(self, index_threshold: float = 30.0, proportion_threshold: float = 0.5) -> list:
        """[(condition index, [column names with proportion > threshold])], worst first."""
        found = []
        for j in np.argsort(-self.condition_indices):
            if self.condition_indices[j] < index_threshold:
                break
            involved = [self.names[m] for m in range(len(self.names))
                        if self.variance_proportions[j, m] > proportion_threshold]
            if len(involved) >= 2:
                found.append((float(self.condition_indices[j]), involved))
        return found

    def as_text(self) -> str:
        lines = ["Variance inflation factors:"]
        width = max([len(n) for n in self.names] + [8])
        lines += [f"  {name.ljust(width)}  {value:12.4g}" for name, value in self.vif.items()]
        lines.append(f"Scaled condition number: {self.scaled_condition_number:.4g}")
        for index, involved in self.dependencies():
            lines.append(f"  near-dependency (condition index {index:.3g}): {', '.join(involved)}")
        return "\n".join(lines)

    __str__ = as_text

    def __repr__(self) -> str:
        return self.as_text()


# ----------------------------------------------------------------------------------------------
# the estimator
# ----------------------------------------------------------------------------------------------

class OLS(Estimator):
    r"""Ordinary least squares: fit(X, y), predict, score, and statsmodels-style inference.

    β̂ = argmin ‖y − Zβ‖², Z = [1, X]; see the module docstring of ``chainrule.stats.ols`` for
    the solvers (QR by CholQR2 with a Householder fallback, never an inverse of X'X, since
    κ(X'X) = κ(X)²), the covariance formulas (nonrobust; HC0-HC3: White 1980, MacKinnon &
    White 1985; one-way cluster with the factor G/(G−1)·(n−1)/(n−k)), and
    llf = −n/2 (log(2π SSR/n) + 1), aic = −2 llf + 2k, bic = −2 llf + k log n,
    F = (ESS/df_model)/(SSR/df_resid).

    Args:
        fit_intercept: add a column of ones (named "const").
        cov_type: the covariance V of β̂, with B = (Z'Z)⁻¹ (applied as R⁻¹R⁻ᵀ), h_ii the leverage:
            "nonrobust"  V = s² B, s² = SSR/(n − k);
            "HC0"        V = B Z' diag(e_i²) Z B                         (White 1980);
            "HC1"        n/(n − k) · HC0;
            "HC2"        e_i² → e_i²/(1 − h_ii)                          (MacKinnon & White 1985);
            "HC3"        e_i² → e_i²/(1 − h_ii)²                         (MacKinnon & White 1985);
            "cluster"    V = G/(G−1) · (n−1)/(n−k) · B (Σ_g Z_g'e_g e_g'Z_g) B, one-way,
                         ``groups=`` passed to ``fit``.
            Robust types report z statistics (normal p-values), as statsmodels does.
        solver: "qr" (default), "normal" (normal equations, for teaching) or "gd"
            (gradient descent with chainrule.optim.minimize).
        tol: for solver="gd", stop when ‖∇f(b_k)‖ < tol · ‖∇f(0)‖.
        max_iter: for solver="gd", the most gradient steps.
        distributed: fit on rows spread over MPI ranks (``mpiexec -n N``): every rank calls
            ``fit`` with its own block of rows; R comes from TSQR (each rank factors its
            block, the triangles are combined up a reduction tree: ``stats.tsqr``) and the
            sums (SSR, TSS, the HC meat) from all-reduces, so only k x k numbers move and the
            results equal the fit of the concatenated rows. ``resid`` and ``fittedvalues``
            are then this rank's rows. Needs solver="qr" and a cov_type other than "cluster".

    Data larger than memory: ``fit_stream(batches)`` takes a function returning an iterator
    of (X_b, y_b) blocks and fits in one pass (sequential TSQR of [Z, y]; a second pass for
    HC0-HC3), with results equal to ``fit`` on the concatenated rows and a
    :class:`StreamedOLSResults` that keeps no per-row arrays (see :meth:`fit_stream`).

    Fitted attributes: ``coef_`` (slopes), ``intercept_``, ``results_`` (an
    :class:`OLSResults`), ``n_features_in_``, ``feature_names_in_`` (DataFrame input),
    ``solver_used_``, and for "gd" ``n_iter_``, ``converged_``, ``optimization_``,
    ``optimization_error_``. The results' names (``params``, ``bse``, ``summary()`` …) are
    also readable on the estimator itself.

    Example::

        >>> model = OLS(cov_type="HC3").fit(X, y)
        >>> print(model.summary())
    """

    _estimator_type = "regressor"
    _fitted_attribute = "results_"

    def __init__(self, fit_intercept=True, cov_type="nonrobust", solver="qr", tol=1e-10, max_iter=100_000,
                 distributed=False):
        self.fit_intercept = fit_intercept
        self.cov_type = cov_type
        self.solver = solver
        self.tol = tol
        self.max_iter = max_iter
        self.distributed = distributed

    # -- validation ------------------------------------------------------------------------
    def _check_hyperparameters(self):
        if not isinstance(self.fit_intercept, (bool, np.bool_)):
            raise TypeError(f"OLS: fit_intercept: expected True or False; got {self.fit_intercept!r}")
        if self.cov_type not in COV_TYPES:
            raise ValueError(f"OLS: cov_type: expected one of {', '.join(map(repr, COV_TYPES))}; got {self.cov_type!r}")
        if self.solver not in SOLVERS:
            raise ValueError(f"OLS: solver: expected one of {', '.join(map(repr, SOLVERS))}; got {self.solver!r}")
        if not isinstance(self.distributed, (bool, np.bool_)):
            raise TypeError(f"OLS: distributed: expected True or False; got {self.distributed!r}")
        if self.distributed and (self.solver != "qr" or self.cov_type == "cluster"):
            raise ValueError(
                f"OLS: distributed=True fits by TSQR and needs solver='qr' and a cov_type other than "
                f"'cluster'; got solver={self.solver!r}, cov_type={self.cov_type!r}"
            )
        if self.solver == "gd":
            if isinstance(self.tol, bool) or not isinstance(self.tol, (int, float)) or not self.tol > 0:
                raise ValueError(f"OLS: tol: expected a number > 0; got {self.tol!r}")
            if isinstance(self.max_iter, bool) or not isinstance(self.max_iter, int) or self.max_iter < 0:
                raise ValueError(f"OLS: max_iter: expected an int >= 0; got {self.max_iter!r}")

    def _check_groups(self, groups, n):
        if self.cov_type != "cluster":
            if groups is not None:
                raise ValueError(f"OLS.fit: groups is used only with cov_type='cluster'; got cov_type={self.cov_type!r}")
            return None, 0
        if groups is None:
            raise ValueError("OLS.fit: cov_type='cluster' needs groups= (one group label per row); got None")
        if isinstance(groups, Tensor):
            groups = groups.numpy()
        elif hasattr(groups, "to_numpy"):
            groups = groups.to_numpy()
        groups = np.asarray(groups)
        if groups.ndim != 1 or groups.shape[0] != n:
            raise ValueError(f"OLS.fit: groups: expected a 1-D array of {n} labels (one per row of X); got shape {groups.shape}")
        if groups.dtype.kind == "f" and not np.isfinite(groups).all():
            rows = np.flatnonzero(~np.isfinite(groups))
            raise ValueError(f"OLS.fit: groups: NaN or inf labels at rows {rows[:10].tolist()}{' …' if rows.size > 10 else ''}")
        if groups.dtype.kind == "O":
            missing = [i for i, g in enumerate(groups) if g is None or (isinstance(g, float) and math.isnan(g))]
            if missing:
                raise ValueError(f"OLS.fit: groups: missing labels at rows {missing[:10]}")
        _, codes = np.unique(groups, return_inverse=True)
        codes = codes.reshape(-1)
        G = int(codes.max()) + 1
        if G < 2:
            raise ValueError(f"OLS.fit: groups: cluster-robust covariance needs at least 2 groups; got {G}")
        return codes, G

    def _checked_input(self, X, y, groups):
        """X, its column names, y, its name, the cluster codes and count, all validated."""
        Xv, columns = as_design(X, "X")
        yv, target_name = as_target(y, Xv.shape[0], "y")
        if not self.distributed:  # a block's constant or equal columns need not be so in all rows:
            check_columns(Xv, columns, bool(self.fit_intercept), "X")  # there the rank check on R decides
        codes, n_groups = self._check_groups(groups, Xv.shape[0])
        return Xv, columns, yv, target_name, codes, n_groups

    # -- fit --------------------------------------------------------------------------------
    def fit(self, X, y, groups=None):
        """Fit by least squares; ``groups`` (one label per row) only for cov_type="cluster".

        Returns self. Raises ValueError (naming the columns or rows) for NaN/inf, mismatched
        lengths, constant or duplicate columns, too few rows; CollinearityError for a
        rank-deficient design.
        """
        self._check_hyperparameters()
        for attribute in [a for a in vars(self) if a.endswith("_") and not a.startswith("_")]:
            delattr(self, attribute)
        rows = tsqr.RowBlocks(self.distributed)  # sums over the ranks' rows; identity on one process
        error, checked = None, None
        try:
            checked = self._checked_input(X, y, groups)
        except (ValueError, TypeError) as caught:
            error = caught
        rows.check(error, "OLS.fit")  # a rank whose block is bad fails every rank, none waits
        Xv, columns, yv, target_name, codes, n_groups = checked
        p = rows.agree(Xv.shape[1], "OLS.fit: the number of columns of X")
        n = rows.sum(Xv.shape[0])
        intercept = bool(self.fit_intercept)
        k = p + intercept
        check_enough_rows(n, k, "OLS")
        names = (["const"] if intercept else []) + list(columns)

        # -- factor: R with Zs'Zs = R'R, and Q'y --------------------------------------------
        G, sums = _gram(Xv, intercept)
        G = rows.sum(G)
        diag = np.diag(G).copy()
        if not (diag > 0).all():
            zero = [names[j] for j in np.flatnonzero(~(diag > 0))]
            raise ValueError(f"X: column(s) {', '.join(map(repr, zero))} are all zero; drop them")
        d = 1.0 / np.sqrt(diag)
        Gs = G * d[:, None] * d[None, :]
        R1 = _cholesky(Gs)
        cond1 = _cond_triangular(R1) if R1 is not None else math.inf
        factored = None
        if self.distributed:
            R_aug = rows.tsqr_r(tsqr.augmented_r(Xv, yv, d, intercept))
            factored, used = (np.triu(R_aug[:k, :k]), R_aug[:k, k].copy()), "tsqr"
        elif self.solver == "normal" and R1 is not None:
            qty = _la.solve_triangular(R1, d * _cross(Xv, yv, intercept), trans="T", check_finite=False)
            factored, used = (R1, qty), "normal"
        elif self.solver != "normal" and cond1 <= CHOLQR_MAX_COND:
            factored, used = _cholqr2(Xv, yv, d, intercept, R1), "cholqr2"
        if factored is None:
            R_h, qty_h = _householder(Xv, yv, d, intercept)
            _rank_check(R_h, n, names, d, intercept)
            if self.solver == "normal":
                raise ValueError(
                    f"OLS: solver='normal' failed: the Cholesky factorization of X'X broke down although X has "
                    f"full rank (scaled condition number {_cond_triangular(R_h):.3g}, squared by the normal "
                    f"equations); use solver='qr'"
                )
            factored, used = (R_h, qty_h), "householder"
        R, qty = factored
        if used != "householder":
            _rank_check(R, n, names, d, intercept)
        beta_s = _la.solve_triangular(R, qty, check_finite=False)
        beta = beta_s * d

        # -- gradient descent, if asked: same model, fitted by our optimizer -----------------
        if self.solver == "gd":
            beta_exact = beta
            beta, result = self._fit_gd(Xv, yv, d, intercept, sums, Gs)
            self.optimization_ = result
            self.n_iter_ = result.iterations
            self.converged_ = bool(result.converged)
            if not result.converged:
                warnings.warn(f"OLS(solver='gd'): {result.message}; raise max_iter or tol", RuntimeWarning, stacklevel=2)

        # -- residuals: e = y − Z β̂ (one GEMV over X), SSR = e'e ---------------------------------
        slopes = beta[1:] if intercept else beta
        b0 = float(beta[0]) if intercept else 0.0
        resid = yv - Xv @ slopes
        if intercept:
            resid -= b0
        ssr = rows.sum(float(resid @ resid))
        fitted = yv - resid

        # -- inference: covariance, goodness of fit, conditioning (shared with fit_stream) --------
        ybar = float(yv.mean()) if not self.distributed else rows.sum(float(yv.sum())) / n
        centered_tss = rows.sum(float(((yv - ybar) ** 2).sum()))
        tss = centered_tss if intercept else rows.sum(float(yv @ yv))
        meat = None
        if self.cov_type != "nonrobust":
            meat = rows.sum(_meat(Xv, resid, d, intercept, R, self.cov_type, codes, n_groups))
        fields = self._inference(R, d, beta, n, names, ssr, tss, centered_tss, meat, n_groups)
        self.results_ = OLSResults(**fields, target_name=target_name, resid=resid, fittedvalues=fitted,
                                   solver_used=used)
        if self.solver == "gd":
            self.optimization_error_ = np.abs(beta - beta_exact) / self.results_.bse
        self._set_fitted(beta, p, columns if hasattr(X, "columns") else None, used)
        self._scaled_cond_R1 = cond1
        return self

    def fit_stream(self, batches, feature_names=None, target_name="y"):
        r"""Fit by least squares on rows read block by block (data larger than memory).

        ``batches`` is a function of no arguments that returns a fresh iterator of
        (X_b, y_b) blocks (float64 arrays, (m_b, p) and (m_b,); Tensors are accepted); it is
        called once per pass and must yield the same rows each time, e.g.
        ``lambda: data.ParquetDataset(path, [features, "y"], batch_size=..., shuffle=False)``
        or a function reading a CSV with ``pandas.read_csv(chunksize=...)``.

        Pass 1 (always) folds each block's triangle into a running one (sequential TSQR,
        :func:`chainrule.stats.tsqr.streamed_least_squares`): with A = [Z, y] = Q_A R_A,

            R_A = [[R, Q'y], [0, ρ]],   β̂ = R⁻¹ Q'y,   SSR = ρ²,

        and ȳ, Σ(y − ȳ)² (Chan, Golub & LeVeque 1983) and Σy² merged block by block. The
        columns are then scaled as in ``fit``, Zs = Z D with D = diag(1/‖z_j‖) and
        ‖z_j‖ = ‖R e_j‖ (Z'Z = R'R), so R_s = R D; the rank check, the condition numbers and
        the collinearity diagnostics use R_s, and the nonrobust covariance s² R_s⁻¹R_s⁻ᵀ
        (scaled back by D) needs nothing more.

        Pass 2 (cov_type "HC0"-"HC3" only) reads the blocks again for the meat
        Σ_i w_i q_i q_i' with q_i = zs_i R_s⁻¹ (the rows of Q), e_i = y_i − z_i'β̂ and
        w_i = e_i² (HC0, HC1), e_i²/(1 − h_ii) (HC2), e_i²/(1 − h_ii)² (HC3), where the
        leverage h_ii = ‖R_s⁻ᵀ zs_i‖² = ‖q_i‖² is computed from the block's own rows.

        Memory: one block and O(k²) numbers. Results equal ``fit`` on the concatenated rows
        (to rounding; both factor the same matrix by backward-stable QR), except that the
        per-row arrays ``resid`` and ``fittedvalues`` are not kept (they would be as large as
        the data): reading them raises AttributeError saying so. ``solver_used_`` is "tsqr";
        ``n_batches_`` is the number of blocks in a pass.

        Args:
            batches: the block factory described above.
            feature_names: the p column names of X (default x1 … xp), for the summary.
            target_name: the name of y, for the summary.

        With ``distributed=True`` (under ``mpiexec``) every rank streams its own blocks; the
        per-rank augmented triangles are combined by TSQR and the meat and the sums of y by
        all-reduces (:func:`chainrule.stats.tsqr.reduce_least_squares`), so every rank gets
        the fit of all ranks' rows; a rank without rows fails every rank.

        Needs solver="qr" and a cov_type other than "cluster" (group sums need the group
        labels of every row); raises ValueError otherwise, and for
        blocks with NaN/inf, mismatched lengths, a changing number of columns, no rows, or
        a second pass that does not see the same number of rows; CollinearityError for a
        rank-deficient design.
        """
        self._check_hyperparameters()
        self._check_stream_settings()
        for attribute in [a for a in vars(self) if a.endswith("_") and not a.startswith("_")]:
            delattr(self, attribute)
        if not callable(batches):
            raise TypeError(
                f"OLS.fit_stream: batches: expected a function of no arguments returning an iterator of "
                f"(X_block, y_block) arrays (it is called once per pass over the data); got {type(batches).__name__}"
            )
        intercept = bool(self.fit_intercept)
        rows = tsqr.RowBlocks(self.distributed)  # sums over the ranks' blocks; identity on one process
        error, sums = None, None
        try:
            sums = tsqr.streamed_least_squares(batches(), intercept)
        except (ValueError, TypeError) as caught:
            error = caught
        rows.check(error, "OLS.fit_stream")  # a rank whose blocks are bad (or empty) fails every rank
        rows.agree(sums["R"].shape[0], "OLS.fit_stream: the number of columns of X")
        local_rows = sums["nobs"]
        sums = tsqr.reduce_least_squares(sums, rows)
        R_raw, n = sums["R"], sums["nobs"]
        k = R_raw.shape[0]
        p = k - intercept
        columns = tsqr.stream_feature_names(feature_names, p, "OLS.fit_stream")
        names = (["const"] if intercept else []) + columns
        check_enough_rows(n, k, "OLS")
        norms = np.sqrt(np.einsum("ij,ij->j", R_raw, R_raw))  # ‖z_j‖ = ‖R e_j‖ since Z'Z = R'R
        if not (norms > 0).all():
            zero = [names[j] for j in np.flatnonzero(~(norms > 0))]
            raise ValueError(f"X: column(s) {', '.join(map(repr, zero))} are all zero; drop them")
        d = 1.0 / norms
        R = R_raw * d[None, :]
        _rank_check(R, n, names, d, intercept)
        beta = _la.solve_triangular(R_raw, sums["qty"], check_finite=False)
        tss = sums["centered_tss"] if intercept else sums["yty"]
        meat = None
        if self.cov_type != "nonrobust":
            meat = rows.sum(_streamed_meat(batches, beta, R, d, intercept, self.cov_type, local_rows))
        fields = self._inference(R, d, beta, n, names, sums["ssr"], tss, sums["centered_tss"], meat, 0)
        self.results_ = StreamedOLSResults(**fields, target_name=str(target_name), solver_used="tsqr")
        self._set_fitted(beta, p, columns if feature_names is not None else None, "tsqr")
        self.n_batches_ = sums["nblocks"]
        return self

    def _check_stream_settings(self):
        if self.solver != "qr" or self.cov_type == "cluster":
            raise ValueError(
                f"OLS.fit_stream: needs solver='qr' and cov_type in 'nonrobust', 'HC0', 'HC1', 'HC2', 'HC3' "
                f"(cluster sums need every row's group label); got solver={self.solver!r}, "
                f"cov_type={self.cov_type!r}"
            )

    def _inference(self, R, d, beta, n, names, ssr, tss, centered_tss, meat, n_groups) -> dict:
        """The OLSResults fields that need no per-row array (formulas: module docstring).

        R: the R factor of the scaled design Zs = Z diag(d) (Zs'Zs = R'R); beta: β̂ in the
        original units; meat: Σ w_i q_i q_i' (HC) or Σ_g s_g s_g' (cluster) in Q coordinates,
        None for "nonrobust".
        """
        intercept = bool(self.fit_intercept)
        k = R.shape[0]
        df_resid = n - k
        scale = ssr / df_resid
        Rinv = _la.solve_triangular(R, np.eye(k), check_finite=False)
        bread = Rinv @ Rinv.T  # (Zs'Zs)⁻¹ = R⁻¹R⁻ᵀ (k x k; R⁻¹ is the well-conditioned route)
        if self.cov_type == "nonrobust":
            cov_s = scale * bread
        else:
            cov_s = Rinv @ meat @ Rinv.T
            if self.cov_type == "HC1":
                cov_s *= n / df_resid
            elif self.cov_type == "cluster":
                cov_s *= n_groups / (n_groups - 1) * (n - 1) / df_resid
        cov = cov_s * d[:, None] * d[None, :]

        ess = tss - ssr
        df_model = k - intercept
        rsquared = 1 - ssr / tss if tss > 0 else float("nan")
        rsquared_adj = 1 - (n - intercept) / df_resid * (1 - rsquared)
        if self.cov_type == "nonrobust":
            fvalue = (ess / df_model) / (ssr / df_resid)
            df_denom = df_resid
        else:  # Wald test of all slopes with the robust covariance (as statsmodels)
            sl = slice(1, None) if intercept else slice(None)
            b = beta[sl]
            df_denom = n_groups - 1 if self.cov_type == "cluster" else df_resid
            if self.cov_type == "cluster" and n_groups - 1 < df_model:
                fvalue = float("nan")  # the cluster covariance of the slopes has rank <= G - 1: no joint test
            else:
                fvalue = float(b @ np.linalg.solve(cov[sl, sl], b)) / df_model
        f_pvalue = float(_distributions.f.sf(fvalue, df_model, df_denom))

        s_scaled = _la.svd(R, compute_uv=False, check_finite=False)
        condition_number = _cond_triangular(R / d[None, :])  # σ(Z) = σ(R D⁻¹)
        collinearity = _collinearity(R, names, intercept, bread)
        if collinearity.scaled_condition_number > WARN_COND:
            involved = collinearity.dependencies()
            which = "; ".join(", ".join(cols) for _, cols in involved) or ", ".join(names)
            warn(
                f"X: the design is ill-conditioned (condition number {collinearity.scaled_condition_number:.3g} "
                f"after scaling columns to unit norm; about {math.log10(collinearity.scaled_condition_number):.0f} "
                f"of 16 digits are at risk in the least accurate coefficients). Near-dependent columns: {which}. "
                f"Centering or rescaling them (e.g. x - mean before taking powers) helps"
            )
        return dict(
            params=beta, _cov=cov, names=names, nobs=n, df_resid=float(df_resid),
            df_model=float(df_model), ssr=ssr, ess=ess, centered_tss=centered_tss, scale=scale,
            rsquared=rsquared, rsquared_adj=rsquared_adj, fvalue=float(fvalue), f_pvalue=f_pvalue,
            condition_number=condition_number, scaled_condition_number=float(s_scaled[0] / s_scaled[-1]),
            cov_type=self.cov_type, n_groups=n_groups, _collinearity=collinearity,
        )

    def _set_fitted(self, beta, p, feature_names, used):
        """scikit-learn's fitted attributes from β̂ (intercept first when fitted)."""
        intercept = bool(self.fit_intercept)
        self.coef_ = (beta[1:] if intercept else beta).copy()
        self.intercept_ = float(beta[0]) if intercept else 0.0
        self.n_features_in_ = p
        if feature_names is not None:
            self.feature_names_in_ = np.asarray(feature_names, dtype=object)
        self.solver_used_ = used

    def _fit_gd(self, X, y, d, intercept, sums, Gs):
        """Gradient descent on f(b) = ½‖ỹ − A b‖² (A: centered unit-norm columns) with step 1/L."""
        from ..engine.tensor import tensor
        from ..optim import minimize

        n, p = X.shape
        if intercept:
            mean = sums / n
            A = X - mean
            scale = 1.0 / np.sqrt(np.einsum("ij,ij->j", A, A))
            A *= scale
            target = y - y.mean()
        else:
            scale = d
            A = X * scale
            target = y
        L = float(_la.eigvalsh(A.T @ A, check_finite=False)[-1])
        A_t = tensor(A, dtype=backend.float64)
        y_t = tensor(target, dtype=backend.float64)
        b = tensor(np.zeros(p), dtype=backend.float64, requires_grad=True)
        gradient0 = float(np.linalg.norm(A.T @ target))
        result = minimize(lambda b: 0.5 * ((A_t @ b - y_t) ** 2).sum(), b, method="gd", lr=1.0 / L,
                          tol=max(self.tol * gradient0, 1e-300), max_iter=self.max_iter)
        slopes = result.x.numpy() * scale
        if intercept:
            return np.concatenate([[y.mean() - mean @ slopes], slopes]), result
        return slopes, result

    # -- prediction -------------------------------------------------------------------------
    def _design_for_predict(self, X):
        self._check_fitted("results_")
        Xv, columns = as_design(X, "X")
        if Xv.shape[1] != self.n_features_in_:
            raise ValueError(f"OLS.predict: X: expected {self.n_features_in_} columns (as in fit); got {Xv.shape[1]}")
        if hasattr(self, "feature_names_in_") and hasattr(X, "columns") and list(columns) != list(self.feature_names_in_):
            raise ValueError(
                f"OLS.predict: X: expected columns {list(self.feature_names_in_)} (as in fit); got {list(columns)}"
            )
        return Xv

    def predict(self, X, interval=None, alpha: float = 0.05):
        r"""ŷ = b0 + X b; with ``interval`` an (m x 3) array [ŷ, lower, upper].

        interval="confidence": ŷ ± q · sqrt(z V z'), the interval for the mean E[y|x];
        interval="prediction": ŷ ± q · sqrt(z V z' + s²), for a new observation. V is
        ``cov_params()`` (so robust when cov_type is), q the t(df_resid) quantile (normal for
        robust covariances), as statsmodels' ``get_prediction().summary_frame``.
        """
        Xv = self._design_for_predict(X)
        yhat = Xv @ self.coef_ + self.intercept_
        if interval is None:
            return yhat
        if interval not in ("confidence", "prediction"):
            raise ValueError(f"OLS.predict: interval: expected None, 'confidence' or 'prediction'; got {interval!r}")
        if not 0 < alpha < 1:
            raise ValueError(f"OLS.predict: alpha: expected a number in (0, 1); got {alpha!r}")
        results = self.results_
        V = results._cov
        var = np.empty(Xv.shape[0])
        for start in range(0, Xv.shape[0], BLOCK_ROWS):
            stop = min(start + BLOCK_ROWS, Xv.shape[0])
            Z = np.column_stack([np.ones(stop - start), Xv[start:stop]]) if self.fit_intercept else Xv[start:stop]
            var[start:stop] = np.einsum("ij,ij->i", Z @ V, Z)
        if interval == "prediction":
            var = var + results.scale
        dist = _distributions.t(results.df_resid) if results.use_t else _distributions.norm
        half = dist.ppf(1 - alpha / 2) * np.sqrt(var)
        return np.column_stack([yhat, yhat - half, yhat + half])

    def score(self, X, y) -> float:
        """R² of the predictions on (X, y): 1 − Σ(y − ŷ)² / Σ(y − ȳ)² (scikit-learn's score)."""
        yhat = self.predict(X)
        yv, _ = as_target(y, yhat.shape[0], "y")
        return float(1 - ((yv - yhat) ** 2).sum() / ((yv - yv.mean()) ** 2).sum())


def _cross(X, y, intercept):
    """Z'y."""
    Xty = y @ X
    return np.concatenate([[y.sum()], Xty]) if intercept else Xty


def _meat(X, resid, d, intercept, R, cov_type, codes, n_groups):
    """Σ w_i q_i q_i' (HC) or Σ_g s_g s_g' with s_g = Σ_{i∈g} q_i e_i (cluster), q_i = zs_i R⁻¹."""
    k = R.shape[0]
    meat = np.zeros((k, k))
    sums = np.zeros((n_groups, k)) if cov_type == "cluster" else None
    M, c = _q_map(R, d, intercept)
    for start, stop, W in _q_blocks(X, M, c):  # W: rows of Q
        e = resid[start:stop]
        if cov_type == "cluster":
            # s_g += Σ_{i in block, g(i)=g} q_i e_i, as a sparse (groups x rows) indicator times W
            m = stop - start
            indicator = _sparse.csr_matrix((e, (codes[start:stop], np.arange(m))), shape=(n_groups, m))
            sums += indicator @ W
            continue
        w = e * e
        if cov_type in ("HC2", "HC3"):
            h = np.einsum("ij,ij->i", W, W)
            w = w / (1 - h) if cov_type == "HC2" else w / (1 - h) ** 2
        W *= np.sqrt(w)[:, None]
        meat += W.T @ W
    if cov_type == "cluster":
        meat = sums.T @ sums
    return meat


def _streamed_meat(batches, beta, R, d, intercept, cov_type, n):
    """Σ_b meat of block b (see :func:`_meat`): the second pass of ``OLS.fit_stream``."""
    k = R.shape[0]
    slopes, b0 = (beta[1:], float(beta[0])) if intercept else (beta, 0.0)
    meat, rows = np.zeros((k, k)), 0
    for position, (X_b, y_b) in enumerate(batches()):
        X_b, y_b = tsqr.host_block(X_b, y_b, position)
        if X_b.shape[1] != slopes.size:
            raise ValueError(f"OLS.fit_stream: block {position} of the second pass has {X_b.shape[1]} columns; "
                             f"the first pass had {slopes.size}")
        resid = y_b - X_b @ slopes - b0
        meat += _meat(X_b, resid, d, intercept, R, cov_type, None, 0)
        rows += X_b.shape[0]
    if rows != n:
        raise ValueError(f"OLS.fit_stream: batches: the second pass read {rows} rows but the first read {n}; "
                         f"batches() must return the same rows on every call")
    return meat


def _collinearity(R, names, intercept, bread):
    k = R.shape[0]
    _, s, Vt = _la.svd(R, check_finite=False)
    condition_indices = s[0] / s
    phi = (Vt.T ** 2) / (s ** 2)[None, :]  # phi[m, j] = v_mj² / σ_j²
    proportions = (phi / phi.sum(axis=1, keepdims=True)).T  # [j, m]
    # Σ_i (zs_im − mean)²: with the constant first, q_1 = 1/√n, so the part of column m
    # orthogonal to the constant is Σ_{j>=2} R_jm² (no cancellation, unlike Σx² − n x̄²)
    offset = 1 if intercept else 0
    vif = {}
    for m in range(offset, k):
        css = float(R[offset: m + 1, m] @ R[offset: m + 1, m])
        vif[names[m]] = float(bread[m, m] * css)
    return CollinearityDiagnostics(names, vif, condition_indices, proportions)


def _delegate(name, doc):
    def getter(self):
        self._check_fitted("results_")
        return getattr(self.results_, name)
    getter.__doc__ = doc
    return property(getter)


for _name in ("params", "bse", "tvalues", "pvalues", "rsquared", "rsquared_adj", "fvalue", "f_pvalue",
              "llf", "aic", "bic", "nobs", "df_model", "df_resid", "resid", "fittedvalues", "scale",
              "condition_number", "conf_int", "cov_params", "summary", "collinearity"):
    setattr(OLS, _name, _delegate(_name, f"``results_.{_name}`` (see OLSResults)."))
del _name
