r"""Ordinary least squares with statsmodels-style inference and scikit-learn's protocol.

Model and estimate
------------------
y = Z β + ε with Z = [1, X] (n x k; the column of ones only when ``fit_intercept``) and

    β̂ = argmin_β ‖y − Z β‖²,   e = y − Z β̂,   SSR = e'e.

A fit is two steps. The solver step (:mod:`chainrule.stats.least_squares`) computes β̂
through an orthogonal factorization of the design with unit-norm columns, never as
(Z'Z)⁻¹ Z'y (``solver="qr"``: CholQR2 with a Householder fallback; ``solver="normal"``: the
normal equations by Cholesky, for teaching; TSQR for rows spread over MPI ranks or streamed
block by block), and rejects a rank-deficient design by naming its collinear columns. The
inference step (:mod:`chainrule.stats.ols_results`) computes the covariance of β̂
(nonrobust, HC0-HC3, one-way cluster), R², F, the likelihood, AIC, BIC and the conditioning
from the R factor and the residuals, under statsmodels' names.

``solver="gd"``: gradient descent with :func:`chainrule.optim.minimize` on chainrule
float64 tensors, minimizing f(b) = ½‖ỹ − A b‖² where A holds the (centered, when there is
an intercept) unit-norm columns, with step 1/L, L = λ_max(A'A), and the stopping rule
‖∇f(b_k)‖ < tol · ‖∇f(0)‖. It reports ``n_iter_``, ``converged_`` and
``optimization_error_`` = |β̂_gd − β̂_qr| / se(β̂): the optimization error in units of
the statistical error.

References: Golub & Van Loan (2013), Matrix Computations, 4th ed.; White (1980),
Econometrica 48(4) 817-838; MacKinnon & White (1985), J. Econometrics 29(3) 305-325;
Cameron & Miller (2015), J. Human Resources 50(2) (cluster-robust inference).
"""
from __future__ import annotations

import math
import warnings

import scipy.linalg as _la
from scipy import stats as _distributions

from ..engine import backend
from ..engine.tensor import Tensor
from . import least_squares, tsqr
from .absorbed_ols import ABSORB_COV_TYPES, check_absorb, fit_absorbed
from .estimator import Estimator, feature_names_of, r_squared
from .least_squares import BLOCK_ROWS, cond_triangular
from .ols_results import COV_TYPES, OLSResults, StreamedOLSResults, inference_fields, robust_meat
from .validation import (
    as_design,
    as_design_like_fit,
    as_target,
    check_columns,
    check_enough_rows,
    check_scale,
)

np = backend.host

__all__ = ["OLS"]

SOLVERS = ("qr", "normal", "gd")


class OLS(Estimator):
    r"""Ordinary least squares: fit(X, y), predict, score, and statsmodels-style inference.

    β̂ = argmin ‖y − Zβ‖², Z = [1, X]; see the module docstrings of
    ``chainrule.stats.least_squares`` for the solvers (QR by CholQR2 with a Householder
    fallback, never an inverse of X'X, since κ(X'X) = κ(X)²) and of
    ``chainrule.stats.ols_results`` for the covariance formulas (nonrobust; HC0-HC3: White
    1980, MacKinnon & White 1985; one-way cluster with the factor G/(G−1)·(n−1)/(n−k)), and
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
            Robust types report z statistics (normal p-values) unless ``use_t``, as statsmodels does.
        use_t: the reference distribution of the Wald statistics. None (default, statsmodels'
            ``fit()`` default): Student t for cov_type="nonrobust", normal for the robust types.
            True: Student t (and F for ``wald_test``) for every cov_type, with df_resid = n − k
            degrees of freedom, or G − 1 for "cluster" (G clusters): the p-values and
            intervals of Stata's ``regress`` (``vce(robust)`` is HC1, ``vce(cluster id)``
            "cluster") and of statsmodels' ``fit(cov_type=..., use_t=True)``. False: normal
            statistics (and χ² for ``wald_test``) also for "nonrobust". ``fvalue`` and
            ``f_test`` use F(J, n − k), F(J, G − 1) for cluster, whatever ``use_t``.
        solver: "qr" (default), "normal" (normal equations, for teaching) or "gd"
            (gradient descent with chainrule.optim.minimize).
        tol: for solver="gd", stop when ‖∇f(b_k)‖ < tol · ‖∇f(0)‖; with ``absorb``, stop the
            alternating projections when a sweep moves no value by more than tol · max|x|.
        max_iter: for solver="gd", the most gradient steps; with ``absorb``, the most sweeps.
        absorb: column names (DataFrame X) or positions (array X) of X holding fixed effects
            (e.g. ["firm", "year"]) to absorb: the within estimator by accelerated alternating
            projections, singletons dropped, standard errors as pyfixest's (cov_type
            "nonrobust", "HC0", "HC1" or "cluster", one- or multi-way with ``groups`` an (n, m)
            array, a DataFrame or column names); see :mod:`chainrule.stats.absorbed_ols`.
            The intercept is absorbed (``fit_intercept`` is not used).
        distributed: fit on rows spread over MPI ranks (``mpiexec -n N``): every rank calls
            ``fit`` with its own block of rows; R comes from TSQR (each rank factors its
            block, the triangles are combined up a reduction tree: ``stats.tsqr``) and the
            sums (SSR, TSS, the HC meat) from all-reduces, so only k x k numbers move and the
            results equal the fit of the concatenated rows. ``resid`` and ``fittedvalues``
            are then this rank's rows. Needs solver="qr" and a cov_type other than "cluster".
        refine: refine β̂, the residuals and (Z'Z)⁻¹ in twice the working precision
            (compensated dot products, :func:`chainrule.stats.least_squares.refine`), so that
            they are the exact least-squares answer for the data as stored, rounded: on NIST's
            StRD every certified digit the float64 data holds (Filip: 13-15 digits of the
            exact answer for the stored data instead of 7.5). "auto" (default): when cheap
            (n k² ≤ 2¹⁶) or needed (scaled condition number > 1e4); True: always (about ten
            times a float64 fit); False: never. ``refined_`` says whether it ran. Applies to
            solver="qr" (and the exact answer solver="gd" is measured against) on one process;
            streamed and distributed fits are not refined.

    Data larger than memory: ``fit_stream(batches)`` takes a function returning an iterator
    of (X_b, y_b) blocks and fits in one pass (sequential TSQR of [Z, y]; a second pass for
    HC0-HC3), with results equal to ``fit`` on the concatenated rows and a
    :class:`StreamedOLSResults` that keeps no per-row arrays (see :meth:`fit_stream`).

    Fitted attributes: ``coef_`` (slopes), ``intercept_``, ``results_`` (an
    :class:`OLSResults`), ``n_features_in_``, ``feature_names_in_`` (DataFrame input),
    ``solver_used_``, ``refined_``, ``n_iter_`` (the gradient steps for "gd"; 1 for the direct solvers, one
    factorization), and for "gd" ``converged_``, ``optimization_``, ``optimization_error_``.
    With ``absorb``: ``results_`` is an :class:`~chainrule.stats.absorbed_ols.AbsorbedOLSResults`,
    ``n_iter_`` the sweeps of the projections, ``converged_``, ``n_singletons_`` (rows dropped) and
    ``dropped_`` (regressors collinear with the fixed effects, dropped with a warning).
    The results' names (``params``, ``bse``, ``summary()``, ``t_test()``, ``get_influence()``,
    ``het_breuschpagan()`` … see :class:`OLSResults`) are also readable on the estimator
    itself. After a fit on a DataFrame with string column names they are pandas objects
    indexed by the parameter names ("const" for the intercept), as statsmodels' results for
    pandas data; ``coef_`` and ``intercept_`` stay NumPy.

    Example::

        >>> model = OLS(cov_type="HC3").fit(X, y)
        >>> print(model.summary())
    """

    _estimator_type = "regressor"
    _fitted_attribute = "results_"

    def __init__(self, fit_intercept=True, cov_type="nonrobust", solver="qr", tol=1e-10, max_iter=100_000,
                 distributed=False, refine="auto", use_t=None, absorb=None):
        self.fit_intercept = fit_intercept
        self.cov_type = cov_type
        self.solver = solver
        self.tol = tol
        self.max_iter = max_iter
        self.distributed = distributed
        self.refine = refine
        self.use_t = use_t
        self.absorb = absorb

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
        if self.use_t is not None and not isinstance(self.use_t, (bool, np.bool_)):
            raise TypeError(f"OLS: use_t: expected None, True or False; got {self.use_t!r}")
        if not (isinstance(self.refine, (bool, np.bool_)) or (isinstance(self.refine, str) and self.refine == "auto")):
            raise ValueError(f"OLS: refine: expected 'auto', True or False; got {self.refine!r}")
        if self.absorb is not None:
            self._check_absorb_settings()
        if self.solver == "gd" or self.absorb is not None:
            if isinstance(self.tol, bool) or not isinstance(self.tol, (int, float)) or not self.tol > 0:
                raise ValueError(f"OLS: tol: expected a number > 0; got {self.tol!r}")
            if isinstance(self.max_iter, bool) or not isinstance(self.max_iter, int) or self.max_iter < 0:
                raise ValueError(f"OLS: max_iter: expected an int >= 0; got {self.max_iter!r}")

    def _check_absorb_settings(self):
        check_absorb(self.absorb)
        if self.cov_type not in ABSORB_COV_TYPES or self.solver != "qr" or self.distributed:
            raise ValueError(
                f"OLS: absorb= needs cov_type in {', '.join(map(repr, ABSORB_COV_TYPES))}, solver='qr' and "
                f"distributed=False; got cov_type={self.cov_type!r}, solver={self.solver!r}, "
                f"distributed={self.distributed!r}"
            )

    def _check_groups(self, groups, n):
        if self.cov_type != "cluster":
            if groups is not None:
                raise ValueError(
                    f"OLS.fit: groups is used only with cov_type='cluster'; got cov_type={self.cov_type!r}"
                )
            return None, 0
        if groups is None:
            raise ValueError("OLS.fit: cov_type='cluster' needs groups= (one group label per row); got None")
        if isinstance(groups, Tensor):
            groups = groups.numpy()
        elif hasattr(groups, "to_numpy"):
            groups = groups.to_numpy()
        groups = np.asarray(groups)
        if groups.ndim != 1 or groups.shape[0] != n:
            raise ValueError(
                f"OLS.fit: groups: expected a 1-D array of {n} labels (one per row of X); got shape {groups.shape}"
            )
        if groups.dtype.kind == "f" and not np.isfinite(groups).all():
            rows = np.flatnonzero(~np.isfinite(groups))
            more = " …" if rows.size > 10 else ""
            raise ValueError(f"OLS.fit: groups: NaN or inf labels at rows {rows[:10].tolist()}{more}")
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

    def _checked_input(self, X, y, groups, rows):
        """X, its column names, y, its name, the cluster codes and count, all validated; a rank
        whose block is bad fails every rank (none waits)."""
        error, checked = None, None
        try:
            checked = self._validated(X, y, groups)
        except (ValueError, TypeError) as caught:
            error = caught
        rows.check(error, "OLS.fit")
        return checked

    def _validated(self, X, y, groups):
        Xv, columns = as_design(X, "X")
        yv, target_name = as_target(y, Xv.shape[0], "y")
        check_scale(Xv, columns, "X", "OLS")
        check_scale(yv[:, None], [target_name], "y", "OLS")
        if not self.distributed:  # a block's constant or equal columns need not be so in all rows:
            check_columns(Xv, columns, bool(self.fit_intercept), "X")  # there the rank check on R decides
        codes, n_groups = self._check_groups(groups, Xv.shape[0])
        return Xv, columns, yv, target_name, codes, n_groups

    # -- fit --------------------------------------------------------------------------------
    def fit(self, X, y, groups=None):
        """Fit by least squares; ``groups`` (one label per row) only for cov_type="cluster".

        With ``absorb``: the within estimator (:mod:`chainrule.stats.absorbed_ols`); ``groups``
        may then also be an (n, m) array or DataFrame (m-way clustering) or column names of X.

        Returns self. Raises ValueError (naming the columns or rows) for NaN/inf, mismatched
        lengths, constant or duplicate columns, too few rows; CollinearityError for a
        rank-deficient design.
        """
        self._check_hyperparameters()
        self._forget_fitted()
        if self.absorb is not None:
            return fit_absorbed(self, X, y, groups)
        rows = tsqr.RowBlocks(self.distributed)  # sums over the ranks' rows; identity on one process
        Xv, columns, yv, target_name, codes, n_groups = self._checked_input(X, y, groups, rows)
        p = rows.agree(Xv.shape[1], "OLS.fit: the number of columns of X")
        n = rows.sum(Xv.shape[0])
        intercept = bool(self.fit_intercept)
        check_enough_rows(n, p + intercept, "OLS")
        names = (["const"] if intercept else []) + list(columns)
        solution = least_squares.solve(Xv, yv, n, names, intercept, self.solver, rows)
        if self.solver != "normal" and not self.distributed and least_squares.should_refine(
                self.refine, n, solution.R.shape[0], cond_triangular(solution.R)):
            solution = least_squares.refine(Xv, yv, intercept, solution)
        self.refined_ = solution.refined
        beta = self._fit_gd(Xv, yv, solution) if self.solver == "gd" else solution.beta
        self.results_ = self._inference(Xv, yv, beta, solution, names, target_name, (codes, n_groups), rows,
                                        getattr(X, "index", None) if feature_names_of(X) is not None else None)
        if self.solver == "gd":
            self.optimization_error_ = np.abs(beta - solution.beta) / self.results_._bse_array()
        self._set_fitted(beta, p, solution.method)
        self._remember_feature_names(X, columns)
        self._scaled_cond_R1 = solution.first_condition
        return self

    def _inference(self, X, y, beta, solution, names, target_name, groups, rows, row_index) -> OLSResults:
        """The inference step of ``fit``: e = y − Z β̂ (one GEMV over X), SSR = e'e, the total
        sums of squares and, for a robust covariance, its meat; then the OLSResults
        (:func:`chainrule.stats.ols_results.inference_fields`). ``groups`` is (codes, count);
        ``row_index`` the DataFrame's index when results are named (X had feature names), else None."""
        intercept, n = bool(self.fit_intercept), solution.nobs
        slopes = beta[1:] if intercept else beta
        b0 = float(beta[0]) if intercept else 0.0
        if solution.resid is not None and beta is solution.beta:  # refined: in twice the working precision
            resid = solution.resid
        else:
            resid = y - X @ slopes
            if intercept:
                resid -= b0
        ssr = rows.sum(float(resid @ resid))
        fitted = y - resid
        ybar = float(y.mean()) if not self.distributed else rows.sum(float(y.sum())) / n
        centered_tss = rows.sum(float(((y - ybar) ** 2).sum()))
        tss = centered_tss if intercept else rows.sum(float(y @ y))
        codes, n_groups = groups
        meat = None
        if self.cov_type != "nonrobust":
            meat = rows.sum(robust_meat(X, resid, solution.d, intercept, solution.R, self.cov_type, codes, n_groups,
                                        Rinv=solution.Rinv))
        fields = inference_fields(solution.R, solution.d, beta, names, n, (ssr, tss, centered_tss), self.cov_type,
                                  intercept, meat, n_groups, Rinv=solution.Rinv if solution.refined else None)
        return OLSResults(**fields, target_name=target_name, _resid=resid, _fitted=fitted,
                          solver_used=solution.method, use_t=self.use_t, named=row_index is not None,
                          _row_index=row_index, _exog=X, _all_rows=not self.distributed)

    def fit_stream(self, batches, feature_names=None, target_name="y"):
        r"""Fit by least squares on rows read block by block (data larger than memory).

        ``batches`` is a function of no arguments that returns a fresh iterator of
        (X_b, y_b) blocks (float64 arrays, (m_b, p) and (m_b,); Tensors are accepted); it is
        called once per pass and must yield the same rows each time, e.g.
        ``lambda: data.ParquetDataset(path, [features, "y"], batch_size=..., shuffle=False)``
        or a function reading a CSV with ``pandas.read_csv(chunksize=...)``.

        Pass 1 (always) folds each block's triangle into a running one (sequential TSQR,
        :func:`chainrule.stats.tsqr.streamed_least_squares`), from which β̂ and SSR follow
        (:func:`chainrule.stats.least_squares.solve_streamed`); pass 2 (cov_type "HC0"-"HC3"
        only) reads the blocks again for the meat of the robust covariance
        (:meth:`_streamed_inference`). Memory: one block and O(k²) numbers. Results equal
        ``fit`` on the concatenated rows (to rounding; both factor the same matrix by
        backward-stable QR), except that the per-row arrays ``resid`` and ``fittedvalues``
        are not kept (they would be as large as the data): reading them raises
        AttributeError saying so. ``solver_used_`` is "tsqr"; ``n_batches_`` is the number
        of blocks in a pass.

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
        self._forget_fitted()
        if not callable(batches):
            raise TypeError(
                f"OLS.fit_stream: batches: expected a function of no arguments returning an iterator of "
                f"(X_block, y_block) arrays (it is called once per pass over the data); got {type(batches).__name__}"
            )
        intercept = bool(self.fit_intercept)
        rows = tsqr.RowBlocks(self.distributed)  # sums over the ranks' blocks; identity on one process
        sums, local_rows = self._streamed_sums(_scale_checked(batches, feature_names), rows)
        n, k = sums["nobs"], sums["R"].shape[0]
        columns = tsqr.stream_feature_names(feature_names, k - intercept, "OLS.fit_stream")
        names = (["const"] if intercept else []) + columns
        check_enough_rows(n, k, "OLS")
        solution = least_squares.solve_streamed(sums["R"], sums["qty"], n, names, intercept)
        self.results_ = self._streamed_inference(batches, solution, sums, names, str(target_name), local_rows, rows)
        self.results_._named = feature_names is not None
        self._set_fitted(solution.beta, k - intercept, "tsqr")
        self.n_batches_ = sums["nblocks"]
        self.refined_ = False
        return self

    def _streamed_sums(self, batches, rows):
        """Pass 1 of ``fit_stream``: the least-squares sums of all ranks' blocks, and this rank's row count."""
        error, sums = None, None
        try:
            sums = tsqr.streamed_least_squares(batches(), bool(self.fit_intercept))
        except (ValueError, TypeError) as caught:
            error = caught
        rows.check(error, "OLS.fit_stream")  # a rank whose blocks are bad (or empty) fails every rank
        rows.agree(sums["R"].shape[0], "OLS.fit_stream: the number of columns of X")
        return tsqr.reduce_least_squares(sums, rows), sums["nobs"]

    def _streamed_inference(self, batches, solution, sums, names, target_name, local_rows, rows) -> StreamedOLSResults:
        r"""The inference step of ``fit_stream``. The nonrobust covariance s² R_s⁻¹R_s⁻ᵀ (scaled
        back by D) needs nothing more than pass 1; for HC0-HC3, pass 2 reads the blocks again
        for the meat Σ_i w_i q_i q_i' with q_i = zs_i R_s⁻¹ (the rows of Q), e_i = y_i − z_i'β̂ and
        w_i = e_i² (HC0, HC1), e_i²/(1 − h_ii) (HC2), e_i²/(1 − h_ii)² (HC3), where the
        leverage h_ii = ‖R_s⁻ᵀ zs_i‖² = ‖q_i‖² is computed from the block's own rows. ȳ,
        Σ(y − ȳ)² (Chan, Golub & LeVeque 1983) and Σy² come merged block by block from pass 1."""
        intercept = bool(self.fit_intercept)
        tss = sums["centered_tss"] if intercept else sums["yty"]
        meat = None
        if self.cov_type != "nonrobust":
            meat = rows.sum(_streamed_meat(batches, solution, intercept, self.cov_type, local_rows))
        fields = inference_fields(solution.R, solution.d, solution.beta, names, solution.nobs,
                                  (sums["ssr"], tss, sums["centered_tss"]), self.cov_type, intercept, meat, 0)
        return StreamedOLSResults(**fields, target_name=target_name, solver_used="tsqr", use_t=self.use_t,
                                  _row_index=None, _exog=None, _all_rows=False)

    def _check_stream_settings(self):
        if self.absorb is not None:
            raise ValueError("OLS.fit_stream: absorb= needs every row at once (the projections sweep the data "
                             "many times); use fit")
        if self.solver != "qr" or self.cov_type == "cluster":
            raise ValueError(
                f"OLS.fit_stream: needs solver='qr' and cov_type in 'nonrobust', 'HC0', 'HC1', 'HC2', 'HC3' "
                f"(cluster sums need every row's group label); got solver={self.solver!r}, "
                f"cov_type={self.cov_type!r}"
            )

    def _set_fitted(self, beta, p, used):
        """scikit-learn's fitted attributes from β̂ (intercept first when fitted); ``n_iter_`` is
        1 for the direct solvers (one factorization; solver="gd" counts its steps)."""
        intercept = bool(self.fit_intercept)
        self.coef_ = (beta[1:] if intercept else beta).copy()
        self.intercept_ = float(beta[0]) if intercept else 0.0
        self.n_features_in_ = p
        self.solver_used_ = used
        if self.solver != "gd":
            self.n_iter_ = 1

    def _forget_fitted(self):
        """Remove the fitted attributes of an earlier fit (those ending in "_")."""
        for attribute in [a for a in vars(self) if a.endswith("_") and not a.startswith("_")]:
            delattr(self, attribute)

    def _fit_gd(self, X, y, solution):
        """β̂ by gradient descent on f(b) = ½‖ỹ − A b‖² (A: centered unit-norm columns) with step
        1/L; sets ``optimization_``, ``n_iter_`` and ``converged_`` and warns when it did not converge."""
        from ..engine.tensor import tensor
        from ..optim import minimize

        intercept = bool(self.fit_intercept)
        n, p = X.shape
        if intercept:
            mean = solution.column_sums / n
            A = X - mean
            scale = 1.0 / np.sqrt(np.einsum("ij,ij->j", A, A))
            A *= scale
            target = y - y.mean()
        else:
            scale = solution.d
            A = X * scale
            target = y
        L = float(_la.eigvalsh(A.T @ A, check_finite=False)[-1])
        A_t = tensor(A, dtype=backend.float64)
        y_t = tensor(target, dtype=backend.float64)
        b = tensor(np.zeros(p), dtype=backend.float64, requires_grad=True)
        gradient0 = float(np.linalg.norm(A.T @ target))
        result = minimize(lambda b: 0.5 * ((A_t @ b - y_t) ** 2).sum(), b, method="gd", lr=1.0 / L,
                          tol=max(self.tol * gradient0, 1e-300), max_iter=self.max_iter)
        self.optimization_, self.n_iter_, self.converged_ = result, result.iterations, bool(result.converged)
        if not result.converged:
            warnings.warn(f"OLS(solver='gd'): {result.message}; raise max_iter or tol", RuntimeWarning, stacklevel=3)
        slopes = result.x.numpy() * scale
        if intercept:
            return np.concatenate([[y.mean() - mean @ slopes], slopes])
        return slopes

    # -- prediction -------------------------------------------------------------------------
    def predict(self, X, interval=None, alpha: float = 0.05):
        r"""ŷ = b0 + X b; with ``interval`` an (m x 3) array [ŷ, lower, upper].

        interval="confidence": ŷ ± q · sqrt(z V z'), the interval for the mean E[y|x];
        interval="prediction": ŷ ± q · sqrt(z V z' + s²), for a new observation. V is
        ``cov_params()`` (so robust when cov_type is), q the t(df_resid) quantile (normal for
        robust covariances), as statsmodels' ``get_prediction().summary_frame``.
        """
        if self.absorb is not None:
            raise ValueError("OLS.predict: a fit with absorb= estimates the slopes within groups, not the fixed "
                             "effects, so it cannot predict new rows; results_.fittedvalues holds the fit's rows")
        Xv = as_design_like_fit(self, X)
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
        return r_squared(yv, yhat)


def _streamed_meat(batches, solution, intercept, cov_type, n):
    """Σ_b meat of block b (:func:`chainrule.stats.ols_results.robust_meat`): the second pass of
    ``OLS.fit_stream``."""
    beta, R, d = solution.beta, solution.R, solution.d
    k = R.shape[0]
    slopes, b0 = (beta[1:], float(beta[0])) if intercept else (beta, 0.0)
    meat, rows = np.zeros((k, k)), 0
    for position, (X_b, y_b) in enumerate(batches()):
        X_b, y_b = tsqr.host_block(X_b, y_b, position)
        if X_b.shape[1] != slopes.size:
            raise ValueError(f"OLS.fit_stream: block {position} of the second pass has {X_b.shape[1]} columns; "
                             f"the first pass had {slopes.size}")
        resid = y_b - X_b @ slopes - b0
        meat += robust_meat(X_b, resid, d, intercept, R, cov_type, None, 0)
        rows += X_b.shape[0]
    if rows != n:
        raise ValueError(f"OLS.fit_stream: batches: the second pass read {rows} rows but the first read {n}; "
                         f"batches() must return the same rows on every call")
    return meat


def _delegate(name, doc):
    def getter(self):
        self._check_fitted("results_")
        return getattr(self.results_, name)
    getter.__doc__ = doc
    return property(getter)


for _name in ("params", "bse", "tvalues", "pvalues", "rsquared", "rsquared_adj", "fvalue", "f_pvalue",
              "llf", "aic", "bic", "nobs", "df_model", "df_resid", "resid", "fittedvalues", "scale",
              "condition_number", "conf_int", "cov_params", "summary", "collinearity",
              "t_test", "f_test", "wald_test", "get_influence", "het_breuschpagan", "het_white", "jarque_bera",
              "durbin_watson", "vif"):
    setattr(OLS, _name, _delegate(_name, f"``results_.{_name}`` (see OLSResults)."))
del _name


def _scale_checked(batches, feature_names):
    """``batches`` whose blocks are checked by :func:`check_scale` as they pass (so a streamed fit
    names a column of values near 1e±300 as ``fit`` does, not as collinear or all zero); blocks
    that are not plain 2-D numbers pass unchecked, for the stream's own checks to name."""
    def checked():
        for X_block, y_block in batches():
            _check_block_scale(X_block, y_block, feature_names)
            yield X_block, y_block

    return checked


def _check_block_scale(X_block, y_block, feature_names):
    try:
        X = np.asarray(X_block.numpy() if isinstance(X_block, Tensor) else
                       X_block.to_numpy() if hasattr(X_block, "to_numpy") else X_block, dtype=np.float64)
        y = np.asarray(y_block.numpy() if isinstance(y_block, Tensor) else
                       y_block.to_numpy() if hasattr(y_block, "to_numpy") else y_block, dtype=np.float64)
    except (TypeError, ValueError):
        return
    if X.ndim != 2 or X.shape[0] == 0 or y.ndim == 0 or y.shape[0] != X.shape[0] \
            or not (np.isfinite(X).all() and np.isfinite(y).all()):
        return  # (an empty or malformed block: the stream's own checks name it)
    names = feature_names_of(X_block)
    names = list(names) if names is not None else list(feature_names or [])
    if len(names) != X.shape[1]:
        names = [f"x{j + 1}" for j in range(X.shape[1])]
    check_scale(X, names, "X", "OLS")
    check_scale(y.reshape(y.shape[0], -1)[:, :1], [str(getattr(y_block, "name", None) or "y")], "y", "OLS")
