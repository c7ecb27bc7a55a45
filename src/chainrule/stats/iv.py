r"""Instrumental-variables regression: two-stage least squares (``IV2SLS``) and limited-information
maximum likelihood (``IVLIML``), k-class estimators with linearmodels' results.

Model: y = X β + ε with X = [1, X_1, X_2], X_1 exogenous, X_2 (m columns) endogenous
(E[X_2'ε] ≠ 0), and q ≥ m excluded instruments Z_2: Z = [1, X_1, Z_2] (n x L) with E[Z'ε] = 0.
Every estimator here is a k-class estimator (Theil 1958; Nagar 1959):

    β̂_κ = [(1 − κ) X'X + κ X'P_Z X]⁻¹ [(1 − κ) X'y + κ X'P_Z y],    P_Z = Z (Z'Z)⁻¹ Z'

* 2SLS: κ = 1, β̂ = (X̂'X̂)⁻¹ X̂'y with X̂ = P_Z X the first-stage fitted values (the second stage
  is OLS of y on X̂; its residuals are not y − X̂ β̂ but e = y − X β̂).
* LIML (Anderson & Rubin 1949): κ = the smallest root of det(W'M_{X_1*} W − κ W'M_Z W) = 0,
  W = [y, X_2], X_1* = [1, X_1] — the smallest eigenvalue of (W'M_Z W)⁻¹ W'M_{X_1*} W (κ ≥ 1; = 1
  exactly identified, where LIML = 2SLS). Fuller's (1977) modification: κ − α/(n − L)
  (``IVLIML(fuller=α)``; α = 1 is nearly unbiased). LIML is median-unbiased and far less biased
  than 2SLS with many or weak instruments.

Computation: an orthonormal basis Q_Z of Z by QR (refusing collinear instruments by name),
X'P_Z X = (Q_Z'X)'(Q_Z'X), and β̂ by a Cholesky solve of the K x K system; LIML's κ by the
generalized symmetric eigenproblem (SciPy's ``eigh(a, b)``). The covariances, first-stage
statistics and Sargan's test are those of :mod:`chainrule.stats.iv_results`.

Columns are passed as the other estimators take them: X holds the exogenous regressors, the
endogenous ones and the excluded instruments, and ``endog=`` and ``instruments=`` name (for a
DataFrame) or give the positions (for an array) of the latter two; ``fit(X, y, groups=...)``.
With ``absorb=["firm", "year"]`` X also holds the fixed effects' columns, which are partialled out
of y, X and Z before the same k-class fit (:mod:`chainrule.stats.iv_absorbed`). Beside the tests of
:mod:`chainrule.stats.iv_results`, every fit has the Kleibergen–Paap rk Wald statistic and Hansen's
J (:mod:`chainrule.stats.iv_diagnostics`).

References: T. W. Anderson and H. Rubin, Ann. Math. Statist. 20 (1949) 46-63; H. Theil, *Economic
Forecasts and Policy* (1958); W. A. Fuller, Econometrica 45 (1977) 939-953; J. M. Wooldridge,
*Econometric Analysis of Cross Section and Panel Data*, 2nd ed. (2010), ch. 5; A. C. Cameron and
P. K. Trivedi, *Microeconometrics* (2005), §4.8.
"""
from __future__ import annotations

import scipy.linalg as _la

from ..engine import backend
from . import clustering
from .estimator import Estimator, feature_names_of, r_squared
from .iv_absorbed import IVDesign, absorbed_design, absorbed_fields
from .iv_diagnostics import hansen_j, kleibergen_paap
from .iv_results import (
    IV_COV_TYPES,
    IVResults,
    first_stage,
    kclass_covariance,
    sargan,
    shea_rsquared,
    wooldridge_overid,
)
from .least_squares import CollinearityError
from .validation import as_design, as_design_like_fit, as_target, check_enough_rows, check_scale

np = backend.host

__all__ = ["IV2SLS", "IVLIML"]

#: |R_jj| ≤ this · max|R_ii| in the QR of unit-norm instruments: collinear
RANK_TOL = 1e-10


def _names(spec, who, argument):
    if isinstance(spec, (str, int)) and not isinstance(spec, bool):
        spec = [spec]
    if not isinstance(spec, (list, tuple)) or not spec or not all(
            isinstance(s, (str, int)) and not isinstance(s, bool) for s in spec):
        raise TypeError(f"{who}: {argument}: expected a column name or position of X, or a non-empty list of them; "
                        f"got {spec!r}")
    return list(spec)


class _KClassIV(Estimator):
    """What IV2SLS and IVLIML share: fit, predict, score and the results (module docstring)."""

    _estimator_type = "regressor"
    _fitted_attribute = "results_"
    _method = "IV-2SLS"

    def _check_hyperparameters(self):
        who = type(self).__name__
        endog = _names(self.endog, who, "endog")
        instruments = _names(self.instruments, who, "instruments")
        both = set(endog) & set(instruments)
        if both:
            raise ValueError(f"{who}: column {sorted(both, key=str)[0]!r} is both in endog and in instruments")
        if len(instruments) < len(endog):
            raise ValueError(f"{who}: fewer instruments ({len(instruments)}: {instruments}) than endogenous "
                             f"regressors ({len(endog)}: {endog}); the model is not identified: need at least one "
                             f"excluded instrument per endogenous regressor")
        if self.cov_type not in IV_COV_TYPES:
            raise ValueError(f"{who}: cov_type: expected one of {', '.join(map(repr, IV_COV_TYPES))}; "
                             f"got {self.cov_type!r}")
        if not isinstance(self.fit_intercept, (bool, np.bool_)):
            raise TypeError(f"{who}: fit_intercept: expected True or False; got {self.fit_intercept!r}")
        return endog, instruments

    def _kappa(self, W, Q_Z, Q_exog, n, L):
        return 1.0

    def _split(self, X, endog, instruments, values=None):
        """(exogenous values, their names, endogenous values, instrument values) of X, checked as
        every estimator checks X (numbers, finite, 2-D, not sparse); ``values``: X already checked."""
        who = type(self).__name__
        names = None
        if values is None:
            values, names = as_design(X, "X")
        columns = list(X.columns) if hasattr(X, "columns") and hasattr(X, "to_numpy") else None
        p = values.shape[1]
        positions = []
        for wanted in endog + instruments:
            if columns is not None and wanted in columns:
                positions.append(columns.index(wanted))
            elif columns is not None and not isinstance(wanted, int):
                raise ValueError(f"{who}: endog/instruments: X has no column {wanted!r}; its columns are {columns}")
            elif isinstance(wanted, int) and -p <= wanted < p:  # a position (also in a DataFrame)
                positions.append(wanted % p)
            else:
                raise ValueError(f"{who}: endog/instruments: X has {p} feature(s); expected column positions in "
                                 f"[{-p}, {p}), got {wanted!r} (column names need a DataFrame)")
        rest = [j for j in range(p) if j not in positions]
        names = names or [f"x{j + 1}" for j in range(p)]
        m = len(endog)
        return (values[:, rest], [str(names[j]) for j in rest], values[:, positions[:m]], values[:, positions[m:]])

    def fit(self, X, y, groups=None):
        """Fit on X (exogenous regressors, the ``endog`` and ``instruments`` columns, and the
        ``absorb`` columns if any) and y; ``groups`` (labels, or an (n, m) array / DataFrame for m-way
        clustering; with ``absorb`` also column names of X) for cov_type="cluster". Returns self."""
        endog, instruments = self._check_hyperparameters()
        if self.absorb is not None:
            design = absorbed_design(self, X, y, groups, endog, instruments)
        else:
            design = self._plain_design(X, y, groups, endog, instruments)
        self._fit_design(design, X)
        return self

    def _plain_design(self, X, y, groups, endog, instruments):
        """The design of a fit without fixed effects: the constant (if fitted) with the exogenous columns."""
        who = type(self).__name__
        exog, exog_names, E, Z2 = self._split(X, endog, instruments)
        n = E.shape[0]
        yv, target_name = as_target(y, n, "y")
        check_scale(np.column_stack([exog, E, Z2]), exog_names + [str(c) for c in endog + instruments], "X", who)
        clusters = (None, None)
        if self.cov_type == "cluster":
            if groups is None:
                raise ValueError(f"{who}.fit: cov_type='cluster' needs groups= (one label per row); got None")
            clusters = clustering.cluster_codes(groups, n, who)
        elif groups is not None:
            raise ValueError(f"{who}.fit: groups is used only with cov_type='cluster'; got cov_type={self.cov_type!r}")
        intercept = bool(self.fit_intercept)
        ones = [np.ones((n, 1))] if intercept else []
        exog_all = np.column_stack(ones + [exog]) if intercept or exog.shape[1] else np.empty((n, 0))
        tss = float(((yv - yv.mean()) ** 2).sum()) if intercept else float(yv @ yv)
        return IVDesign(exog=exog_all, exog_names=(["const"] if intercept else []) + exog_names, endog=E,
                        instruments=Z2, y=yv, target_name=target_name, clusters=clusters, tss=tss,
                        endog_names=[str(c) for c in endog], instrument_names=[str(c) for c in instruments],
                        feature_names=exog_names + [str(c) for c in endog + instruments], absorbed=None,
                        y_levels=yv)

    def _fit_design(self, design, X):
        """The k-class fit on a design (the plain one, or the within-transformed one of ``absorb``)."""
        who = type(self).__name__
        yv, E, exog_all, exog_all_names = design.y, design.endog, design.exog, design.exog_names
        n = E.shape[0]
        absorbed_df = 0 if design.absorbed is None else design.absorbed.df
        Xfull = np.column_stack([exog_all, E])
        Z = np.column_stack([exog_all, design.instruments])
        names = exog_all_names + design.endog_names
        check_enough_rows(n, Z.shape[1] + absorbed_df + 1, who)
        Q_Z = _orthonormal(Z, exog_all_names + design.instrument_names, who, "instruments and exogenous")
        _orthonormal(Xfull, names, who, "regressors")
        Q_exog = _orthonormal(exog_all, exog_all_names, who, "exogenous") if exog_all.shape[1] else None
        kappa = self._kappa(np.column_stack([yv, E]), Q_Z, Q_exog, n, Z.shape[1] + absorbed_df)
        self.results_ = self._estimate(
            (Xfull, yv, Z, Q_Z, Q_exog, E), kappa, names, design,
            dict(target_name=design.target_name, endog_names=design.endog_names,
                 instrument_names=design.instrument_names, named=feature_names_of(X) is not None))
        beta = self.results_._params
        intercept = bool(self.fit_intercept) and design.absorbed is None
        self.coef_ = beta[1:].copy() if intercept else beta.copy()
        self.intercept_ = float(beta[0]) if intercept else 0.0
        self.kappa_ = kappa
        self.n_iter_, self.converged_ = 1, True  # a direct solve; with absorb, the projections' sweeps
        if design.absorbed is not None:
            self.dropped_ = list(design.absorbed.dropped)
            self.n_singletons_ = design.absorbed.n_singletons
            self.n_iter_, self.converged_ = design.absorbed.n_iter, design.absorbed.converged
        self._remember_feature_names(X if design.absorbed is None else design.absorbed.rest, design.feature_names)

    def _estimate(self, data, kappa, names, design, labels):
        Xfull, y, Z, Q_Z, Q_exog, E = data
        n, K = Xfull.shape
        QX, Qy = Q_Z.T @ Xfull, Q_Z.T @ y
        A = kappa * (QX.T @ QX) + (1 - kappa) * (Xfull.T @ Xfull)
        b = kappa * (QX.T @ Qy) + (1 - kappa) * (Xfull.T @ y)
        factor = _la.cho_factor(A)
        beta = _la.cho_solve(factor, b)
        A_inv = _la.cho_solve(factor, np.eye(K))
        resid = y - Xfull @ beta
        X_hat = Q_Z @ QX
        (codes, counts), absorbed = design.clusters, design.absorbed
        absorbed_df = None if absorbed is None else absorbed.df
        cov = kclass_covariance(self.cov_type, A_inv, X_hat, resid, codes, absorbed_df)
        intercept = bool(self.fit_intercept) and absorbed is None
        ssr = float(resid @ resid)
        q, m = len(labels["instrument_names"]), E.shape[1]
        stage = first_stage(Z, Q_Z, Q_exog, E, labels["endog_names"], q, self.cov_type, codes, intercept,
                            absorbed_df)
        stage.shea_rsquared = dict(zip(labels["endog_names"], shea_rsquared(Xfull, X_hat, m)))
        K1 = K - m
        stage.kleibergen_paap, stage.kleibergen_paap_f = kleibergen_paap(
            Z[:, K1:], E, Q_exog, Z.shape[1], self.cov_type, codes, absorbed_df)
        overid = wooldridge_overid(Z[:, K1:], np.column_stack([Xfull[:, :K1], X_hat[:, K1:]]), resid, m)
        fields = absorbed_fields(absorbed, ssr, y)
        return IVResults(_params=beta, _cov=cov, names=names, nobs=n, df_resid=float(n - K - (absorbed_df or 0)),
                         df_model=float(K - intercept), ssr=ssr, rsquared=1 - ssr / design.tss, _resid=resid,
                         _fitted=design.y_levels - resid,
                         cov_type=self.cov_type, n_groups=counts, kappa=float(kappa),
                         method=self._method, first_stage=stage, sargan=sargan(Q_Z, resid, q, m),
                         wooldridge_overid=overid, j_stat=hansen_j(Xfull, y, Z, Q_Z, self.cov_type, codes),
                         use_t=self.use_t, **fields, **labels)

    def predict(self, X):
        """ŷ = b0 + X_1 b_1 + X_2 b_2 for rows holding the fit's columns (the instruments are not used)."""
        if self.absorb is not None:
            raise ValueError(f"{type(self).__name__}.predict: a fit with absorb= estimates the slopes within groups, "
                             f"not the fixed effects, so it cannot predict new rows")
        values = as_design_like_fit(self, X)
        endog, instruments = self._check_hyperparameters()
        exog, _, E, _ = self._split(X, endog, instruments, values)
        return np.column_stack([exog, E]) @ self.coef_ + self.intercept_

    def score(self, X, y) -> float:
        """R² of the predictions on (X, y)."""
        yhat = self.predict(X)
        yv, _ = as_target(y, yhat.shape[0], "y")
        return r_squared(yv, yhat)


def _orthonormal(M, names, who, what):
    """Q of the thin QR of M (columns scaled to unit norm first); CollinearityError naming a dependent column."""
    norms = np.sqrt(np.einsum("ij,ij->j", M, M))
    zero = [names[j] for j in np.flatnonzero(norms == 0)]
    if zero:
        raise CollinearityError(f"{who}: the {what} columns include an all-zero column: {zero[0]}")
    Q, R = np.linalg.qr(M / norms)
    diagonal = np.abs(np.diag(R))
    weak = np.flatnonzero(diagonal <= RANK_TOL * diagonal.max())
    if weak.size:
        raise CollinearityError(f"{who}: the {what} columns are collinear: {names[weak[0]]} is a linear "
                                f"combination of the columns before it ({', '.join(names[:weak[0]])})")
    return Q


class IV2SLS(_KClassIV):
    r"""Two-stage least squares, β̂ = (X̂'X̂)⁻¹ X̂'y (see :mod:`chainrule.stats.iv`).

    Args:
        endog: the endogenous regressors: column names of a DataFrame X, or positions of an array X.
        instruments: the excluded instruments, likewise (at least as many as ``endog``).
        fit_intercept: add a column of ones ("const") to the regressors and the instruments.
        cov_type: "nonrobust" (s² = SSR/(n − K)), "HC0", "HC1" or "cluster" (``groups=`` in
            ``fit``; two-way with an (n, 2) array): linearmodels' "unadjusted" with debiased=True,
            "robust" without and with it, "clustered" with it (:mod:`chainrule.stats.iv_results`).
        use_t: Student t statistics (df n − K, or G − 1 for "cluster"); None: t for "nonrobust",
            normal for the robust types, as OLS (with ``absorb``: t always, as pyfixest).
        absorb: column names (DataFrame X) or positions (array X) of fixed effects to absorb
            (e.g. ["firm", "year"]): y, the regressors and the instruments are within-transformed by
            OLS(absorb=...)'s alternating projections, singletons dropped, and the covariances use
            pyfixest's degrees of freedom (:mod:`chainrule.stats.iv_absorbed`); ``fit_intercept`` is
            not used and ``predict`` is refused (the effects are not estimated).
        tol, max_iter: with ``absorb``, the alternating projections' tolerance and most sweeps (as OLS's).

    Fitted: ``results_`` (:class:`~chainrule.stats.iv_results.IVResults`: ``params``, ``bse``,
    ``std_errors``, ``pvalues``, ``conf_int()``, ``summary()``, ``first_stage``, ``sargan`` …, also
    readable on the estimator), ``coef_``, ``intercept_``, ``kappa_``, ``n_iter_`` and ``converged_`` (1 and
    True; with ``absorb`` the sweeps of the projections), with ``absorb`` also ``dropped_`` and ``n_singletons_``.

    Example::

        >>> model = IV2SLS(endog="price", instruments=["cost", "distance"], cov_type="HC1").fit(X, y)
        >>> print(model.summary()); print(model.first_stage)
    """

    _method = "IV-2SLS"

    def __init__(self, endog=None, instruments=None, fit_intercept=True, cov_type="nonrobust", use_t=None,
                 absorb=None, tol=1e-10, max_iter=100_000):
        self.endog = endog
        self.instruments = instruments
        self.fit_intercept = fit_intercept
        self.cov_type = cov_type
        self.use_t = use_t
        self.absorb = absorb
        self.tol = tol
        self.max_iter = max_iter


class IVLIML(_KClassIV):
    r"""Limited-information maximum likelihood, the k-class estimator with κ = the smallest
    eigenvalue of (W'M_Z W)⁻¹ W'M_{X_1*} W, W = [y, X_2] (see :mod:`chainrule.stats.iv`);
    ``fuller=α`` uses κ − α/(n − L). Arguments and results as :class:`IV2SLS`; ``kappa_`` is the κ used.
    """

    _method = "IV-LIML"
    _sklearn_expected_failed_checks = {
        "check_regressors_no_decision_function": "its noiseless toy target lies in the span of the instruments, "
                                                 "where LIML's kappa is undefined (a ValueError says so)"}

    def __init__(self, endog=None, instruments=None, fit_intercept=True, cov_type="nonrobust", use_t=None,
                 fuller=0.0, absorb=None, tol=1e-10, max_iter=100_000):
        self.endog = endog
        self.instruments = instruments
        self.fit_intercept = fit_intercept
        self.cov_type = cov_type
        self.use_t = use_t
        self.fuller = fuller
        self.absorb = absorb
        self.tol = tol
        self.max_iter = max_iter

    def _kappa(self, W, Q_Z, Q_exog, n, L):
        if isinstance(self.fuller, bool) or not isinstance(self.fuller, (int, float)) or self.fuller < 0:
            raise ValueError(f"IVLIML: fuller: expected a number >= 0; got {self.fuller!r}")
        Wz = W - Q_Z @ (Q_Z.T @ W)
        Wx = W - Q_exog @ (Q_exog.T @ W) if Q_exog is not None else W
        try:
            kappa = float(_la.eigh(Wx.T @ Wx, Wz.T @ Wz, eigvals_only=True)[0])
        except _la.LinAlgError:
            raise ValueError("IVLIML: kappa is undefined: the residuals of y and the endogenous regressors on the "
                             "instruments are linearly dependent (y or an endogenous regressor is an exact linear "
                             "combination of the instruments and the other columns)") from None
        return kappa - self.fuller / (n - L)


def _delegate(name):
    def getter(self):
        self._check_fitted()
        return getattr(self.results_, name)
    getter.__doc__ = f"``results_.{name}`` (see IVResults)."
    return property(getter)


for _name in ("params", "bse", "std_errors", "tvalues", "pvalues", "conf_int", "cov_params", "summary", "nobs",
              "df_resid", "df_model", "resid", "fittedvalues", "rsquared", "first_stage", "sargan", "wooldridge_overid",
              "j_stat", "diagnostics", "t_test", "f_test", "wald_test"):
    setattr(_KClassIV, _name, _delegate(_name))
del _name
