r"""Inference for the k-class instrumental-variables estimators (:mod:`chainrule.stats.iv`):
covariances, the first-stage diagnostics, the overidentification test and the results objects,
under linearmodels' and statsmodels' names.

Notation: X = [1, X_1, X_2] (n x K) the regressors (X_1 exogenous, X_2 the m endogenous),
Z = [1, X_1, Z_2] (n x L) the instruments (Z_2 the q excluded ones), P_Z the projection on Z,
X̂ = P_Z X, κ the k-class parameter (1 for 2SLS), e = y − X β̂ and

    A = (1 − κ) X'X + κ X'P_Z X      (= X̂'X̂ for 2SLS).

Covariances (linearmodels' IV estimators; their ``debiased`` in brackets):

    "nonrobust"  V = SSR/(n − K) · A⁻¹                                       ("unadjusted", debiased=True)
    "HC0"        V = A⁻¹ (Σ e_i² x̂_i x̂_i') A⁻¹                               ("robust", debiased=False)
    "HC1"        V = n/(n − K) · HC0                                          ("robust", debiased=True)
    "cluster"    V = A⁻¹ (Σ_S ± G_S/(G_S − 1)·(n − 1)/(n − K) · M_S) A⁻¹      ("clustered", debiased=True)

with M_S the cluster sums of the scores x̂_i e_i (:mod:`chainrule.stats.clustering`; two
variables: V_1 + V_2 − V_12, each with its own G). With absorbed fixed effects the corrections are
pyfixest's instead: n − K − k_fe in place of n − K, and G the fewest clusters in every term
(:mod:`chainrule.stats.iv_absorbed`).

First stage, for each endogenous regressor x_j (regressed on Z with coefficients π̂_j and
residuals v_j; X_1* = [1, X_1]):

    rsquared          1 − v_j'v_j / Σ(x_j − x̄_j)²
    partial_rsquared  1 − v_j'v_j / ‖M_{X_1*} x_j‖²       (the R² of Z_2 once X_1* is partialled out)
    shea_rsquared     [(X'X)⁻¹]_jj / [(X̂'X̂)⁻¹]_jj          (Shea 1997: the partial R² of x_j's instruments
                      net of the other regressors' first stages; linearmodels' ``shea.rsquared``)
    fstat             W/q, W = π̂_{j,2}' V_{22}⁻¹ π̂_{j,2}, V the first stage's covariance of the
                      model's cov_type (linearmodels' ``f.stat``, which reports W itself for the
                      robust types); p-value from F(q, n − L) for "nonrobust", from χ²(q) of W else
    cragg_donald      the smallest eigenvalue of Σ_VV^{-1/2} Π̂_2' Z̃_2'Z̃_2 Π̂_2 Σ_VV^{-1/2} / q,
                      Z̃_2 = M_{X_1*} Z_2, Σ_VV = V'V/(n − L) (Cragg & Donald 1993; Stock & Yogo
                      2005 tabulate its critical values); the nonrobust F when m = 1

Sargan's test of the overidentifying restrictions (homoskedastic, whatever cov_type; linearmodels'
``sargan``): S = n (1 − e'M_Z e / e'e) on χ²(q − m), for q > m. Its heteroskedasticity-robust
counterpart, Wooldridge's (1995) score test (linearmodels' ``wooldridge_overid``): with Z̃ the
residuals of q − m of the excluded instruments on [X_1*, X̂_2], regress 1 on the columns of
Z̃ e (no constant); n R² = n − SSR on χ²(q − m).

References: J. G. Cragg and S. G. Donald, Econometric Theory 9 (1993) 222-240; J. H. Stock and M.
Yogo, "Testing for weak instruments in linear IV regression" (2005); J. D. Sargan, Econometrica 26
(1958) 393-415; K. Sheppard, linearmodels documentation (IV estimators and covariances).
"""
from __future__ import annotations

from collections import namedtuple

import scipy.linalg as _la
from scipy import stats as _distributions

from ..engine import backend
from . import clustering
from .inference import StoredResults, Summary, Table

np = backend.host

__all__ = ["IV_COV_TYPES", "IVResults", "FirstStageResults", "TestStatistic", "kclass_covariance", "score_meat",
           "first_stage", "sargan", "shea_rsquared", "wooldridge_overid"]

IV_COV_TYPES = ("nonrobust", "HC0", "HC1", "cluster")

TestStatistic = namedtuple("TestStatistic", ["stat", "pval", "df", "name"])
TestStatistic.__doc__ = "A test: the statistic, its p-value, its degrees of freedom and its name."


def _residualize(Q, values):
    """M values for M the annihilator of the orthonormal columns Q."""
    return values - Q @ (Q.T @ values)


def kclass_covariance(cov_type, A_inv, X_hat, resid, clusters, absorbed=None):
    """V of the k-class estimate (module docstring). ``clusters``: a list of code arrays for "cluster".
    ``absorbed``: None (linearmodels' corrections), or the degrees of freedom of absorbed fixed effects
    (pyfixest's: n − df_k with df_k = K + absorbed, and G = the fewest clusters in every term;
    :mod:`chainrule.stats.iv_absorbed`)."""
    n, K = X_hat.shape
    if cov_type == "nonrobust":
        return float(resid @ resid) / (n - K - (absorbed or 0)) * A_inv
    V = A_inv @ score_meat(cov_type, X_hat * resid[:, None], clusters, K, absorbed) @ A_inv
    return (V + V.T) / 2


def score_meat(cov_type, scores, clusters, K, absorbed=None):
    """The corrected sum of outer products of the (n, k) scores for "HC0", "HC1" or "cluster", with K
    the estimated coefficients of the regression the scores come from (:func:`kclass_covariance`)."""
    n = scores.shape[0]
    df_k = K + (absorbed or 0)
    if cov_type == "cluster":
        if absorbed is None:
            factor = clustering.own_clusters_factor(n, K)
        else:
            factor = clustering.min_clusters_factor([int(c.max()) + 1 for c in clusters], n, df_k)
        return clustering.multiway_meat(scores, clusters, factor)
    return scores.T @ scores * (n / (n - df_k) if cov_type == "HC1" else 1.0)


def shea_rsquared(X, X_hat, m):
    """Shea's partial R² of the last m columns of X (the endogenous ones; module docstring)."""
    plain = np.diag(_la.inv(X.T @ X))
    projected = np.diag(_la.inv(X_hat.T @ X_hat))
    return (plain / projected)[-m:]


def first_stage(Z, Q_Z, Q_exog, endog, endog_names, q, cov_type, clusters, intercept, absorbed=None):
    """The first-stage diagnostics of every endogenous regressor (module docstring); ``absorbed`` as
    in :func:`kclass_covariance` (the data then within-transformed, the R² within R²)."""
    n, L = Z.shape
    Pi, *_ = _la.lstsq(Z, endog, check_finite=False)
    V = endog - Z @ Pi
    Z_inv = _la.cho_solve(_la.cho_factor(Z.T @ Z), np.eye(L))
    Z_hat = Z  # in the first stage the regressors are their own instruments
    rows = []
    for j in range(endog.shape[1]):
        x, v = endog[:, j], V[:, j]
        ssr = float(v @ v)
        tss = float(((x - x.mean()) ** 2).sum()) if intercept else float(x @ x)
        partial = _residualize(Q_exog, x[:, None])[:, 0] if Q_exog is not None else x
        cov = kclass_covariance(cov_type, Z_inv, Z_hat, v, clusters, absorbed)
        pi2 = Pi[L - q:, j]
        W = float(pi2 @ _la.solve(cov[L - q:, L - q:], pi2, assume_a="sym"))
        if cov_type == "nonrobust":
            pval = float(_distributions.f.sf(W / q, q, n - L - (absorbed or 0)))
        else:
            pval = float(_distributions.chi2.sf(W, q))
        rows.append((1 - ssr / tss, 1 - ssr / float(partial @ partial), W / q, pval))
    Z2 = _residualize(Q_exog, Z[:, L - q:]) if Q_exog is not None else Z[:, L - q:]
    Pi2 = Pi[L - q:, :]
    sigma = V.T @ V / (n - L - (absorbed or 0))
    root = _inverse_sqrt(sigma)
    G = root @ Pi2.T @ (Z2.T @ Z2) @ Pi2 @ root
    cragg_donald = float(_la.eigvalsh((G + G.T) / 2)[0] / q)
    return FirstStageResults(endog_names, rows, cragg_donald, Pi, cov_type)


def _inverse_sqrt(S):
    w, U = _la.eigh(S)
    return (U / np.sqrt(w)) @ U.T


def sargan(Q_Z, resid, q, m):
    """Sargan's test (module docstring); a TestStatistic with nan for an exactly identified model."""
    name = "Sargan's test of overidentification"
    if q <= m:
        return TestStatistic(float("nan"), float("nan"), 0, name + " (exactly identified: no test)")
    n = resid.shape[0]
    projected = Q_Z.T @ resid  # e'P_Z e = ‖Q_Z'e‖², so n (1 − e'M_Z e/e'e) without the cancellation
    stat = n * float(projected @ projected) / float(resid @ resid)
    return TestStatistic(stat, float(_distributions.chi2.sf(stat, q - m)), q - m, name)


def wooldridge_overid(Z2, X_exog_hat, resid, m):
    """Wooldridge's robust score test of the overidentifying restrictions (module docstring)."""
    name = "Wooldridge's score test of overidentification"
    q = Z2.shape[1]
    if q <= m:
        return TestStatistic(float("nan"), float("nan"), 0, name + " (exactly identified: no test)")
    Q, _ = np.linalg.qr(X_exog_hat)
    tests = _residualize(Q, Z2[:, :q - m]) * resid[:, None]
    n = resid.shape[0]
    ones = np.ones(n)
    gamma, *_ = _la.lstsq(tests, ones, check_finite=False)
    left = ones - tests @ gamma
    stat = n - float(left @ left)
    return TestStatistic(stat, float(_distributions.chi2.sf(stat, q - m)), q - m, name)


class FirstStageResults:
    """First-stage diagnostics, one row per endogenous regressor (module docstring).

    Attributes: ``rsquared``, ``partial_rsquared``, ``shea_rsquared``, ``fstat``, ``f_pvalue`` (dicts by name),
    ``cragg_donald`` (the minimum-eigenvalue statistic), ``kleibergen_paap`` (the rk Wald statistic, a
    TestStatistic) and ``kleibergen_paap_f`` (its F form, ivreg2's "Kleibergen-Paap rk Wald F statistic";
    :mod:`chainrule.stats.iv_diagnostics`), ``params`` (the first-stage coefficients, L x m),
    ``diagnostics`` (a DataFrame, linearmodels' ``first_stage.diagnostics`` columns) and ``summary()``.
    """

    def __init__(self, names, rows, cragg_donald, params, cov_type):
        self.names = list(names)
        self.rsquared = {n: r[0] for n, r in zip(names, rows)}
        self.partial_rsquared = {n: r[1] for n, r in zip(names, rows)}
        self.fstat = {n: r[2] for n, r in zip(names, rows)}
        self.f_pvalue = {n: r[3] for n, r in zip(names, rows)}
        self.cragg_donald = cragg_donald
        self.params = params
        self.cov_type = cov_type
        self.shea_rsquared = {}
        self.kleibergen_paap = None
        self.kleibergen_paap_f = float("nan")

    @property
    def diagnostics(self):
        import pandas as pd

        return pd.DataFrame({"rsquared": self.rsquared, "partial.rsquared": self.partial_rsquared,
                             "shea.rsquared": self.shea_rsquared, "f.stat": self.fstat, "f.pval": self.f_pvalue})

    def summary(self) -> Table:
        rows = [[n, f"{self.rsquared[n]:.4f}", f"{self.partial_rsquared[n]:.4f}", f"{self.fstat[n]:.4g}",
                 f"{self.f_pvalue[n]:.4g}"] for n in self.names]
        return Table("First-stage diagnostics", [("Covariance Type", self.cov_type),
                                                 ("Cragg-Donald min. eigenvalue F", f"{self.cragg_donald:.4g}"),
                                                 ("Kleibergen-Paap rk Wald F", f"{self.kleibergen_paap_f:.4g}")],
                     ["", "R-squared", "partial R-squared", "F", "P>F"], rows,
                     notes=["F = Wald statistic of the excluded instruments / their number, with the model's "
                            "covariance", "Stock-Yogo critical values for Cragg-Donald: e.g. 16.38 for 10% maximal "
                            "IV size with one endogenous regressor and one instrument"])

    def __str__(self) -> str:
        return self.summary().as_text()

    __repr__ = __str__


class IVResults(StoredResults):
    """The results of IV2SLS and IVLIML (linearmodels' and statsmodels' names).

    ``params``, ``bse`` (also ``std_errors``), ``tvalues``, ``pvalues``, ``conf_int()``,
    ``cov_params()``, ``t_test``/``f_test``/``wald_test``, ``summary()``; ``nobs``, ``df_resid``
    (n − K), ``df_model``, ``resid``, ``fittedvalues``, ``rsquared``, ``ssr``, ``kappa`` (1 for
    2SLS), ``cov_type``, ``first_stage`` (:class:`FirstStageResults`), ``sargan``, ``wooldridge_overid``
    and ``j_stat`` (Hansen's J of two-step efficient GMM, linearmodels' name; :class:`TestStatistic`),
    ``diagnostics`` (all of them in a DataFrame, with the Kleibergen-Paap and Cragg-Donald statistics),
    ``method``; with ``absorb``: ``absorb``, ``levels``, ``df_absorbed``, ``n_singletons``,
    ``rsquared_within``, ``dropped``.
    """

    def __init__(self, **fields):
        super().__init__(**fields)
        if self.cov_type == "cluster":
            self._df_inference = float(min(self.n_groups) - 1)
        else:
            self._df_inference = self.df_resid

    def _default_use_t(self) -> bool:
        return self.cov_type == "nonrobust" or self.absorb is not None

    @property
    def std_errors(self):
        """``bse`` under linearmodels' name."""
        return self.bse

    @property
    def diagnostics(self):
        """The model's tests as a DataFrame (rows: the attribute names; columns: stat, pval, df, name):
        ``sargan``, ``wooldridge_overid``, ``j_stat``, ``kleibergen_paap`` (and its F form,
        ``kleibergen_paap_f``, without a p-value) and ``cragg_donald`` (an F, read against Stock-Yogo)."""
        import pandas as pd

        stage = self.first_stage
        tests = {"sargan": self.sargan, "wooldridge_overid": self.wooldridge_overid, "j_stat": self.j_stat,
                 "kleibergen_paap": stage.kleibergen_paap}
        rows = {key: dict(stat=t.stat, pval=t.pval, df=t.df, name=t.name) for key, t in tests.items()}
        rows["kleibergen_paap_f"] = dict(stat=stage.kleibergen_paap_f, pval=float("nan"), df=stage.kleibergen_paap.df,
                                         name="Kleibergen-Paap rk Wald F statistic (rk / q)")
        rows["cragg_donald"] = dict(stat=stage.cragg_donald, pval=float("nan"), df=len(self.instrument_names),
                                    name="Cragg-Donald minimum eigenvalue F statistic")
        return pd.DataFrame.from_dict(rows, orient="index")

    def summary(self, alpha: float = 0.05) -> Summary:
        """A statsmodels-style table of the coefficients, with the instruments and the diagnostics."""
        info = [("Dep. Variable", self.target_name), ("Estimator", self.method), ("No. Observations", str(self.nobs)),
                ("Df Residuals", f"{self.df_resid:g}"), ("Df Model", f"{self.df_model:g}"),
                ("Covariance Type", self.cov_type), ("R-squared", f"{self.rsquared:.4f}"),
                ("Kappa", f"{self.kappa:.5g}")]
        notes = [f"endogenous: {', '.join(self.endog_names)}; excluded instruments: "
                 f"{', '.join(self.instrument_names)}",
                 "first-stage F: " + ", ".join(f"{n} {self.first_stage.fstat[n]:.4g}" for n in self.endog_names)
                 + f"; Cragg-Donald {self.first_stage.cragg_donald:.4g}"]
        notes[-1] += f"; Kleibergen-Paap rk Wald F {self.first_stage.kleibergen_paap_f:.4g}"
        if self.sargan.df > 0:
            notes.append(f"Sargan overidentification: {self.sargan.stat:.4g} (p = {self.sargan.pval:.3g}, "
                         f"df {self.sargan.df}); Hansen's J: {self.j_stat.stat:.4g} (p = {self.j_stat.pval:.3g})")
        if self.cov_type == "cluster":
            notes.append(f"clusters: {', '.join(map(str, self.n_groups))}")
        if self.absorb is not None:
            info += [("R-squared within", f"{self.rsquared_within:.4f}"), ("Absorbed df", str(self.df_absorbed)),
                     ("Singletons dropped", str(self.n_singletons))]
            notes.append("fixed effects absorbed: " + ", ".join(
                f"{name} ({levels})" for name, levels in zip(self.absorb, self.levels)))
            if self.dropped:
                notes.append(f"dropped as collinear with the fixed effects: {', '.join(self.dropped)}")
        return self._coefficient_summary(f"{self.method} Estimation Summary", info, self.names, alpha, notes)
