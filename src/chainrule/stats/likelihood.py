"""What every maximum-likelihood estimator of ``chainrule.stats`` (Logit, MNLogit) shares: the
checks of its solver settings, the covariance as the inverse observed information
Cov(θ̂) = I(θ̂)⁻¹, the results it reports besides the Wald ones (likelihood-ratio test,
McFadden's pseudo R², AIC, BIC: :class:`LikelihoodResults`). Their marginal effects are in
:mod:`chainrule.stats.marginal_effects`.

References: W. H. Greene, *Econometric Analysis*, 7th ed., 2012, ch. 14 (maximum likelihood,
the likelihood-ratio test, information criteria); D. McFadden,
"Conditional logit analysis of qualitative choice behavior", in *Frontiers in Econometrics*,
1974 (the pseudo R²).
"""
from __future__ import annotations

import math
import warnings

from scipy import linalg as _linalg
from scipy import stats as _distributions

from ..engine import backend
from .inference import WaldResults
from .separation import PerfectSeparationWarning, class_label
from .validation import warn

np = backend.host

SOLVERS = ("newton", "gd", "adam")
ON_SEPARATION = ("raise", "warn")


def check_solver_and_tol(owner: str, solver, tol) -> None:
    """The ``solver`` and ``tol`` settings shared by Logit and MNLogit, checked before a fit."""
    if solver not in SOLVERS:
        raise ValueError(f"{owner}: solver must be one of {', '.join(map(repr, SOLVERS))}; got {solver!r}")
    if not (isinstance(tol, (int, float)) and tol > 0):
        raise ValueError(f"{owner}: tol must be a number > 0; got {tol!r}")


def check_on_separation(owner: str, on_separation) -> None:
    """The ``on_separation`` setting of Logit and MNLogit: "raise" or "warn"."""
    if not isinstance(on_separation, str) or on_separation not in ON_SEPARATION:
        raise ValueError(f"{owner}: on_separation must be 'raise' or 'warn'; got {on_separation!r}")


def separated_fit(found, on_separation: str, stopped):
    """What a fit does once :func:`~chainrule.stats.find_separation` (or its multinomial twin)
    has found separation: raise ``found`` (on_separation="raise"), or warn with its message
    (a :class:`PerfectSeparationWarning` naming the separating columns) and return ``stopped``,
    the iterate where the iteration stopped, marked with the diagnosis (on_separation="warn")."""
    if on_separation == "raise":
        raise found
    warnings.warn(
        f"{found}. on_separation='warn': the fit stops where the iteration did (iteration "
        f"{stopped.iterations}: {stopped.message}); these coefficients are not maximum-likelihood estimates "
        f"(none exists: along the separating direction the likelihood keeps increasing toward its supremum "
        f"without reaching it), so their standard errors, z statistics, p-values and confidence intervals are "
        f"not valid and are reported as NaN",
        PerfectSeparationWarning, stacklevel=6,  # separated_fit, _separated, _fit_*, _fit_local, fit: the caller
    )
    stopped.separation = found
    return stopped


def cholesky_or_none(information):
    """The Cholesky factor of an information matrix, or None when it is not positive definite."""
    try:
        return _linalg.cho_factor(information, lower=False)
    except _linalg.LinAlgError:
        return None


def inverse_information(factor, size: int, owner: str, matrix: str = "the information matrix"):
    """Cov(θ̂) = I(θ̂)^{-1} from the Cholesky factor of the observed information; NaN, with a
    warning saying why, when the information is singular at the solution."""
    if factor is None:
        warn(f"{owner}: {matrix} is singular at the solution; standard errors are NaN")
        return np.full((size, size), np.nan)
    return _linalg.cho_solve(factor, np.eye(size))


class LikelihoodResults(WaldResults):
    """The results every maximum-likelihood model reports: the Wald results of
    :class:`~chainrule.stats.inference.WaldResults` and

        nobs, df_model = k − k_0, df_resid = n − k
        llr = 2 (llf − llnull), its p-value from χ²(df_model)
        McFadden pseudo R² = 1 − llf / llnull
        aic = −2 llf + 2 k,   bic = −2 llf + log(n) k

    with k the number of estimated parameters (the entries of ``params``) and k_0 those of
    the null model, a constant per non-reference class (``_n_null_params``: 1 for Logit,
    K − 1 for MNLogit; statsmodels' convention, also without an intercept, since ℓ_0 is
    always the constants-only model). A fit sets ``params_``, ``_cov`` (the inverse
    observed information), ``llf_``, ``llnull_`` and ``_nobs``; intervals default to the
    estimator's ``alpha``. Statistics are z (``use_t`` False, as statsmodels); ``f_test``
    uses F(J, df_resid). Results are named (pandas) after a fit on a DataFrame with string
    column names (``feature_names_in_``); for several equations (MNLogit) the restriction
    strings of ``t_test`` … name parameters "y<class>_<name>", as statsmodels.
    """

    _n_null_params = 1

    def _params_array(self):
        self._check_fitted()
        return self.params_

    def _cov_array(self):
        """Cov(θ̂) = I(θ̂)^{-1}, the inverse observed information. A fit that met separation
        with ``on_separation="warn"`` has no estimate and so no covariance: a
        :class:`PerfectSeparationError` says so (every inference result goes through here)."""
        self._check_fitted()
        self._check_inference_exists()
        return self._cov

    @property
    def _named(self) -> bool:
        return hasattr(self, "feature_names_in_")

    def _term_names(self) -> list:
        return list(self.param_names_)

    def _equations(self):
        if np.ndim(self.params_) == 1:
            return None
        return self.endog_name_, [class_label(c) for c in self.classes_[1:]]

    @property
    def _df_inference(self):
        return self.df_resid

    def _check_inference_exists(self) -> None:
        separation = getattr(self, "separation_", None)
        if separation is not None:
            raise type(separation)(
                f"{type(self).__name__}: no standard errors, p-values, intervals or marginal-effect errors: "
                f"the fit met {separation.kind} separation (by {', '.join(map(repr, separation.columns))}) and "
                "completed only because on_separation='warn', so the maximum-likelihood estimate does not "
                "exist and its inference would be invalid. The fit still predicts; drop or merge the separating "
                "columns, or fit a penalized model (chainrule.stats.LogisticRegression, whose estimate exists "
                "on separated data).",
                separation.kind, separation.columns, separation.direction, separation.rows,
            )

    @property
    def _default_alpha(self):
        return self.alpha

    @property
    def nobs(self):
        self._check_fitted()
        return self._nobs

    @property
    def df_model(self):
        """k − k_0: the parameters beyond the null model's constants."""
        self._check_fitted()
        return self._n_params - self._n_null_params

    @property
    def df_resid(self):
        return self.nobs - self._n_params

    @property
    def _n_params(self) -> int:
        return self.params_.size

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
