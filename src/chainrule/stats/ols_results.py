r"""OLS inference: the covariance of β̂, goodness of fit and conditioning, and the results
objects (:class:`OLSResults`, statsmodels' names and conventions).

From the solver step (:mod:`chainrule.stats.least_squares`: R with Zs'Zs = R'R for the
design Zs = Z D with unit-norm columns, and β̂), with k = rank(Z) parameters,
df_resid = n − k, df_model = k − 1 (k with no intercept):

    scale s² = SSR / df_resid
    cov_type="nonrobust":  V = s² (Z'Z)⁻¹,       t statistics, Student t(df_resid)
    HC0 (White 1980):      V = (Z'Z)⁻¹ Z' diag(e_i²) Z (Z'Z)⁻¹
    HC1:                   n / (n − k) · HC0
    HC2 (MacKinnon & White 1985):  e_i² replaced by e_i² / (1 − h_ii)
    HC3 (MacKinnon & White 1985):  e_i² replaced by e_i² / (1 − h_ii)²
    cluster (one-way, ``fit(X, y, groups=g)``, G groups):
        V = G/(G−1) · (n−1)/(n−k) · (Z'Z)⁻¹ (Σ_g Z_g'e_g e_g'Z_g) (Z'Z)⁻¹

h_ii = z_i (Z'Z)⁻¹ z_i' = ‖row i of Q‖² is the leverage. Every (Z'Z)⁻¹ above is applied as
R⁻¹ R⁻ᵀ by triangular solves (or the refined inverse triangle of a refined fit); the "meat"
is accumulated in Q coordinates, block by block. For robust covariances the F statistic is
the Wald test of all slopes with V, F = b' V_ss⁻¹ b / df_model.

Reference distributions (``OLS(use_t=...)``): with use_t (the default for "nonrobust", as
statsmodels' ``fit()``), t statistics on t(df) and intervals b ± t_{1−α/2}(df) se, where
df = df_resid, or G − 1 for "cluster" (Stata's ``regress, vce(cluster)``; statsmodels'
``df_resid_inference``); without, z statistics on N(0, 1). The F statistic's p-value uses
F(df_model, df) either way (F(df_model, df_resid) for "nonrobust").

    R² = 1 − SSR / TSS (TSS centered about ȳ with an intercept, uncentered without)
    R²_adj = 1 − (n − 1)/df_resid · (1 − R²)      (n instead of n − 1 without intercept)
    F = (ESS / df_model) / (SSR / df_resid),  ESS = TSS − SSR,  p from F(df_model, df_resid)
    llf = −n/2 · (log(2π SSR / n) + 1)
    aic = −2 llf + 2k,    bic = −2 llf + log(n) k
    condition_number = σ_max(Z) / σ_min(Z)      (unscaled, as statsmodels reports it)

References: White (1980), Econometrica 48(4) 817-838; MacKinnon & White (1985), J.
Econometrics 29(3) 305-325; Cameron & Miller (2015), J. Human Resources 50(2)
(cluster-robust inference); Belsley, Kuh & Welsch (1980), *Regression Diagnostics*
(condition indices and variance proportions).
"""
from __future__ import annotations

import math

import scipy.linalg as _la
import scipy.sparse as _sparse
from scipy import stats as _distributions

from ..engine import backend
from . import specification_tests
from .inference import StoredResults, Summary
from .least_squares import cond_triangular, q_row_blocks
from .validation import warn

np = backend.host

__all__ = ["COV_TYPES", "OLSResults", "StreamedOLSResults", "CollinearityDiagnostics", "inference_fields",
           "robust_meat"]

COV_TYPES = ("nonrobust", "HC0", "HC1", "HC2", "HC3", "cluster")
#: A DataWarning names the near-dependent columns above this scaled condition number.
WARN_COND = 1e7


class OLSResults(StoredResults):
    """The fitted model's estimates and inference, with statsmodels' attribute names.

    Attributes: ``params``, ``bse``, ``tvalues``, ``pvalues``, ``rsquared``, ``rsquared_adj``,
    ``fvalue``, ``f_pvalue``, ``llf``, ``aic``, ``bic``, ``nobs``, ``df_model``, ``df_resid``,
    ``resid``, ``fittedvalues``, ``scale``, ``ssr``, ``ess``, ``centered_tss``,
    ``condition_number``, ``cov_type``, ``use_t``, ``names`` (the parameter names; "const"
    for the intercept) and methods ``conf_int(alpha)``, ``cov_params()``, ``summary()``,
    ``collinearity()``; the tests of linear restrictions ``t_test``, ``f_test``,
    ``wald_test`` (:class:`~chainrule.stats.inference.WaldResults`); the diagnostics
    ``get_influence()`` (:class:`~chainrule.stats.influence.OLSInfluence`),
    ``het_breuschpagan()``, ``het_white()``, ``jarque_bera()``, ``durbin_watson()`` and
    ``vif()`` (:mod:`chainrule.stats.specification_tests`). The formulas are in the module
    docstring of ``chainrule.stats.ols_results``.

    Named results (a fit on a DataFrame with string column names, or ``fit_stream`` with
    ``feature_names``): ``params``, ``bse``, ``tvalues``, ``pvalues`` and ``vif()`` are
    Series indexed by ``names``, ``conf_int()`` and ``cov_params()`` DataFrames, and
    ``resid`` and ``fittedvalues`` Series indexed as the rows of X (statsmodels' pandas
    results); arrays otherwise. The diagnostics read the rows of the design, to which the
    results keep a reference (as statsmodels' results keep ``model.exog``).

    ``use_t``: Student t statistics and intervals with ``df_resid`` degrees of freedom (G − 1
    for cluster-robust covariances, G clusters: Stata's ``regress, vce(cluster)``), and F for
    ``wald_test``; else normal statistics and χ². ``fvalue`` and ``f_test`` use F(df, n − k)
    (F(df, G − 1) for cluster) either way, as statsmodels.
    """

    def __init__(self, **fields):
        super().__init__(**fields)
        k = self._params.size
        n = self.nobs
        # the t and F denominators' degrees of freedom: G − 1 with G clusters, else n − k
        self._df_inference = float(self.n_groups - 1) if self.cov_type == "cluster" else self.df_resid
        # an exact fit (SSR = 0): llf = +inf, as statsmodels
        self.llf = -n / 2 * (math.log(2 * math.pi * self.ssr / n) + 1) if self.ssr > 0 else math.inf
        self.aic = -2 * self.llf + 2 * k
        self.bic = -2 * self.llf + math.log(n) * k

    def _default_use_t(self) -> bool:
        """t statistics for the classical covariance, normal ones for the robust kinds (statsmodels)."""
        return self.cov_type == "nonrobust"

    @property
    def resid(self):
        """The residuals e = y − Z β̂ (a Series indexed as X's rows for named results)."""
        return self._by_row(self._resid)

    @property
    def fittedvalues(self):
        """The fitted values Z β̂ (a Series indexed as X's rows for named results)."""
        return self._by_row(self._fitted)

    def _by_row(self, values):
        if not self._named or self._row_index is None:
            return values
        import pandas as pd

        return pd.Series(values, index=self._row_index)

    def cov_params(self):
        """The k x k covariance matrix V of the estimates, for ``cov_type`` (a DataFrame for
        named results)."""
        return super().cov_params()

    def summary(self, alpha: float = 0.05) -> Summary:
        """A statsmodels-style table (``print`` it, or ``.as_text()`` / ``.as_html()``)."""
        left = [("Dep. Variable", self.target_name), ("Model", "OLS"), ("Method", "Least Squares"),
                ("Solver", self.solver_used), ("No. Observations", str(self.nobs)),
                ("Df Residuals", f"{self.df_resid:g}"), ("Df Model", f"{self.df_model:g}"),
                ("Covariance Type", self.cov_type)]
        right = [("R-squared", _shown(self.rsquared, ".3f")), ("Adj. R-squared", _shown(self.rsquared_adj, ".3f")),
                 ("F-statistic", _shown(self.fvalue, ".4g")), ("Prob (F-statistic)", _shown(self.f_pvalue, ".3g")),
                 ("Log-Likelihood", f"{self.llf:.5g}"), ("AIC", f"{self.aic:.4g}"), ("BIC", f"{self.bic:.4g}"),
                 ("Cond. No.", f"{self.condition_number:.3g}")]
        info = left + right
        notes = [_COV_NOTES[self.cov_type]]
        if self.cov_type == "cluster":
            notes[0] += f" ({self.n_groups} groups)"
        if self.use_t and self.cov_type != "nonrobust":
            notes.append(f"t statistics with {self._df_inference:g} degrees of freedom")
        if self.scaled_condition_number > 1e4:
            notes.append(
                f"the condition number of the unit-norm-scaled design is {self.scaled_condition_number:.3g}; "
                f"see collinearity() for the columns involved"
            )
        return self._coefficient_summary("OLS Regression Results", info, self.names, alpha, notes)

    def collinearity(self) -> CollinearityDiagnostics:
        """Variance inflation factors and Belsley condition indices (see CollinearityDiagnostics)."""
        return self._collinearity

    # -- diagnostics ------------------------------------------------------------------------
    def get_influence(self):
        """Leverage, studentized residuals, Cook's distance, DFFITS and DFBETAS of every row:
        an :class:`~chainrule.stats.influence.OLSInfluence` (statsmodels' ``get_influence()``)."""
        from .influence import OLSInfluence

        return OLSInfluence(self)

    def _rows(self, what):
        """The residuals, after checking that they are all the rows (not one MPI rank's)."""
        resid = self._resid  # a streamed fit's raise: not kept
        if not self._all_rows:
            raise ValueError(f"OLS: {what} needs the residuals of every row; a distributed fit keeps only this "
                             f"rank's")
        return resid

    def het_breuschpagan(self, exog_het=None, robust: bool = True) -> tuple:
        """Breusch–Pagan test of homoscedasticity: (lm, lm_pvalue, fvalue, f_pvalue), as
        statsmodels' ``het_breuschpagan(resid, exog_het, robust)``; ``exog_het`` defaults to
        the model's design Z (see :func:`chainrule.stats.specification_tests.het_breuschpagan`)."""
        resid = self._rows("het_breuschpagan")
        exog = self._design() if exog_het is None else exog_het
        return specification_tests.het_breuschpagan(resid, exog, robust=robust)

    def het_white(self) -> tuple:
        """White's test of homoscedasticity on the model's design: (lm, lm_pvalue, fvalue,
        f_pvalue), as statsmodels' ``het_white(resid, exog)``."""
        return specification_tests.het_white(self._rows("het_white"), self._design())

    def jarque_bera(self) -> tuple:
        """The Jarque–Bera test of normal residuals: (jb, jb_pvalue, skew, kurtosis)."""
        return specification_tests.jarque_bera(self._rows("jarque_bera"))

    def durbin_watson(self) -> float:
        """The Durbin–Watson statistic of the residuals, in row order."""
        return specification_tests.durbin_watson(self._rows("durbin_watson"))

    def vif(self, standardize: bool = True):
        """Variance inflation factors of every column of the design, the constant included:
        statsmodels' ``variance_inflation_factor(Z, j, standardize=...)`` for each j (a Series
        for named results). With an intercept they come from the R factor of the fit (no pass
        over the rows, also after ``fit_stream``); without one, from k auxiliary regressions."""
        if self._intercept:
            values = specification_tests.vif_from_r(self._R, self._Rinv, standardize=standardize)
        else:
            Z = self._design()
            values = np.array([specification_tests.variance_inflation_factor(Z, j, standardize=standardize)
                               for j in range(Z.shape[1])])
        return self._labelled(values)

    def _design(self):
        """Z = [1, X] (the ones only with an intercept): the rows the fit kept a reference to."""
        X = self._exog
        if self._intercept:
            return np.column_stack([np.ones(X.shape[0]), X])
        return X


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

    @property
    def _resid(self):
        raise AttributeError(_NOT_KEPT.format(name="the residuals this diagnostic needs"))

    def _design(self):
        raise AttributeError(_NOT_KEPT.format(name="the design this diagnostic needs"))


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


def _shown(value, spec: str) -> str:
    """A statistic for the summary; "undefined" for NaN (0/0, e.g. the F of an all-zero y), never "nan"."""
    return "undefined" if value != value else format(value, spec)


def inference_fields(R, d, beta, names, n, sums_of_squares, cov_type, intercept, meat=None, n_groups=0,
                     Rinv=None) -> dict:
    """The :class:`OLSResults` fields that need no per-row array (formulas: module docstring).

    R: the R factor of the scaled design Zs = Z diag(d) (Zs'Zs = R'R); beta: β̂ in the
    original units; sums_of_squares: (SSR, TSS, centered TSS); meat: Σ w_i q_i q_i' (HC) or
    Σ_g s_g s_g' (cluster) in Q coordinates (:func:`robust_meat`), None for "nonrobust".
    """
    ssr, tss, centered_tss = sums_of_squares
    k = R.shape[0]
    df_resid = n - k
    df_model = k - intercept
    cov, bread, scale, Rinv = _covariance(R, d, n, ssr, cov_type, meat, n_groups, Rinv)
    ess = tss - ssr
    rsquared = 1 - ssr / tss if tss > 0 else float("nan")
    rsquared_adj = 1 - (n - intercept) / df_resid * (1 - rsquared)
    fvalue, f_pvalue = _f_test(beta, cov, ess, ssr, df_model, df_resid, cov_type, intercept, n_groups)
    s_scaled = _la.svd(R, compute_uv=False, check_finite=False)
    condition_number = cond_triangular(R / d[None, :])  # σ(Z) = σ(R D⁻¹)
    collinearity = _collinearity(R, names, intercept, bread)
    _warn_if_ill_conditioned(collinearity, names)
    return dict(
        _params=beta, _cov=cov, names=names, nobs=n, _R=R, _d=d, _Rinv=Rinv, _intercept=bool(intercept),
        df_resid=float(df_resid),
        df_model=float(df_model), ssr=ssr, ess=ess, centered_tss=centered_tss, scale=scale,
        rsquared=rsquared, rsquared_adj=rsquared_adj, fvalue=float(fvalue), f_pvalue=f_pvalue,
        condition_number=condition_number, scaled_condition_number=float(s_scaled[0] / s_scaled[-1]),
        cov_type=cov_type, n_groups=n_groups, _collinearity=collinearity,
    )


def robust_meat(X, resid, d, intercept, R, cov_type, codes, n_groups, Rinv=None):
    """Σ w_i q_i q_i' (HC) or Σ_g s_g s_g' with s_g = Σ_{i∈g} q_i e_i (cluster), q_i = zs_i R⁻¹."""
    k = R.shape[0]
    meat = np.zeros((k, k))
    sums = np.zeros((n_groups, k)) if cov_type == "cluster" else None
    for start, stop, W in q_row_blocks(X, R, d, intercept, Rinv=Rinv):  # W: rows of Q
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


def _covariance(R, d, n, ssr, cov_type, meat, n_groups, Rinv=None):
    """(V, the bread (Zs'Zs)⁻¹, s², R⁻¹): V for ``cov_type`` in the original units."""
    k = R.shape[0]
    df_resid = n - k
    scale = ssr / df_resid
    if Rinv is None:
        Rinv = _la.solve_triangular(R, np.eye(k), check_finite=False)
    bread = Rinv @ Rinv.T  # (Zs'Zs)⁻¹ = R⁻¹R⁻ᵀ (k x k; R⁻¹ is the well-conditioned route)
    if cov_type == "nonrobust":
        cov_s = scale * bread
    else:
        cov_s = Rinv @ meat @ Rinv.T
        if cov_type == "HC1":
            cov_s *= n / df_resid
        elif cov_type == "cluster":
            cov_s *= n_groups / (n_groups - 1) * (n - 1) / df_resid
    return cov_s * d[:, None] * d[None, :], bread, scale, Rinv


def _f_test(beta, cov, ess, ssr, df_model, df_resid, cov_type, intercept, n_groups):
    """(F, its p-value): all slopes zero, from the sums of squares (nonrobust) or as the Wald
    test with the robust covariance (as statsmodels)."""
    if cov_type == "nonrobust":
        with np.errstate(divide="ignore", invalid="ignore"):  # SSR = 0: F = inf, as statsmodels
            fvalue = np.float64(ess / df_model) / np.float64(ssr / df_resid)
        df_denom = df_resid
    else:
        sl = slice(1, None) if intercept else slice(None)
        b = beta[sl]
        df_denom = n_groups - 1 if cov_type == "cluster" else df_resid
        if cov_type == "cluster" and n_groups - 1 < df_model:
            fvalue = float("nan")  # the cluster covariance of the slopes has rank <= G - 1: no joint test
        elif not np.any(cov[sl, sl]):  # a perfect fit (e = 0): the robust covariance is zero; F = b'V⁻¹b/q grows
            # without bound as e → 0 (statsmodels' 1e30-ish from rounded residuals), so F = inf, p = 0, as the
            # nonrobust F of SSR = 0; with b = 0 too (an all-zero y) it is 0/0, undefined (NaN, as statsmodels)
            fvalue = float("inf") if np.any(b != 0) else float("nan")
        else:
            try:
                fvalue = float(b @ np.linalg.solve(cov[sl, sl], b)) / df_model
            except np.linalg.LinAlgError:  # a singular robust covariance of the slopes: no joint Wald test
                fvalue = float("nan")
    return fvalue, float(_distributions.f.sf(fvalue, df_model, df_denom))


def _warn_if_ill_conditioned(collinearity, names):
    if collinearity.scaled_condition_number > WARN_COND:
        involved = collinearity.dependencies()
        which = "; ".join(", ".join(cols) for _, cols in involved) or ", ".join(names)
        warn(
            f"X: the design is ill-conditioned (condition number {collinearity.scaled_condition_number:.3g} "
            f"after scaling columns to unit norm; about {math.log10(collinearity.scaled_condition_number):.0f} "
            f"of 16 digits are at risk in the least accurate coefficients). Near-dependent columns: {which}. "
            f"Centering or rescaling them (e.g. x - mean before taking powers) helps"
        )


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
