r"""Influence and outlier measures of an OLS fit (statsmodels' ``OLSInfluence``), in closed form.

For the fit y = Z β̂ + e (n rows, k parameters, s² = SSR / (n − k)), with q_i = zs_i R⁻¹ the
rows of the orthogonal factor Q of the scaled design Zs = QR (one GEMM per block of rows):

    hat_matrix_diag              h_i = z_i (Z'Z)⁻¹ z_i' = ‖q_i‖²
    resid_studentized_internal   r_i = e_i / (s sqrt(1 − h_i))
    sigma2_not_obsi              s²_(i) = (SSR − e_i² / (1 − h_i)) / (n − k − 1)
                                 (s² of the fit without row i)
    resid_studentized_external   t_i = e_i / (s_(i) sqrt(1 − h_i))
    cooks_distance               D_i = r_i² h_i / (k (1 − h_i)),  p-value P(F(k, n − k) > D_i)
    dffits_internal, dffits      r_i sqrt(h_i / (1 − h_i)), t_i sqrt(h_i / (1 − h_i));
                                 threshold 2 sqrt(k / n)
    dfbeta                       β̂ − β̂_(i) = (Z'Z)⁻¹ z_i' e_i / (1 − h_i)
    dfbetas                      dfbeta_ij / (s_(i) sqrt([(Z'Z)⁻¹]_jj))
    cov_ratio                    det Cov(β̂_(i)) / det Cov(β̂) = (s²_(i) / s²)^k / (1 − h_i)
    resid_press, influence       e_i / (1 − h_i),  e_i h_i / (1 − h_i);  ess_press = Σ resid_press²

statsmodels computes the leave-one-out quantities by refitting the model n times; these are
the same numbers from one pass over the rows (the Sherman–Morrison identities of Belsley, Kuh
& Welsch 1980, ch. 2). As in statsmodels they use the nonrobust s² whatever the covariance
type of the fit (cov_ratio compares nonrobust covariances; statsmodels' divides by the fit's
own, possibly robust, covariance). Arrays are NumPy arrays (as statsmodels'), one entry per
row; ``summary_frame()`` is a DataFrame indexed as the rows of X.

Reference: D. A. Belsley, E. Kuh and R. E. Welsch, *Regression Diagnostics*, Wiley, 1980;
R. D. Cook, "Detection of influential observation in linear regression", Technometrics
19(1) (1977) 15-18.
"""
from __future__ import annotations

from scipy import stats as _distributions

from ..engine import backend
from .least_squares import q_row_blocks

np = backend.host

__all__ = ["OLSInfluence"]


class OLSInfluence:
    """Influence measures of every row of an OLS fit: ``OLS.get_influence()`` (formulas in the
    module docstring, attribute names statsmodels')."""

    def __init__(self, results):
        X = results._exog
        if X is None:
            raise ValueError("get_influence: the rows of the data are not kept by OLS.fit_stream (they need not "
                             "fit in memory); influence measures have one value per row")
        self.results = results
        self.nobs, self.k_vars = X.shape[0], results._params.size
        self.resid = np.asarray(results._resid)
        self.scale = results.scale
        self._rows = (X, results._R, results._d, bool(results._intercept), results._Rinv)
        h = np.empty(self.nobs)
        for start, stop, Q in q_row_blocks(X, results._R, results._d, results._intercept, Rinv=results._Rinv):
            h[start:stop] = np.einsum("ij,ij->i", Q, Q)
        self.hat_matrix_diag = h
        with np.errstate(divide="ignore", invalid="ignore"):
            self.hat_diag_factor = h / (1 - h)
            self.resid_press = self.resid / (1 - h)
            self.influence = self.resid * self.hat_diag_factor
            self.sigma2_not_obsi = (results.ssr - self.resid * self.resid_press) / (results.df_resid - 1)
            self.resid_var = self.scale * (1 - h)
            self.resid_std = np.sqrt(self.resid_var)
            self.resid_studentized_internal = self.resid / self.resid_std
            self.resid_studentized_external = self.resid / np.sqrt(self.sigma2_not_obsi * (1 - h))
            self.cov_ratio = (self.sigma2_not_obsi / self.scale) ** self.k_vars / (1 - h)
        self.resid_studentized = self.resid_studentized_internal
        self.ess_press = float(self.resid_press @ self.resid_press)

    @property
    def cooks_distance(self) -> tuple:
        """(D_i, the p-values P(F(k, n − k) > D_i))."""
        with np.errstate(divide="ignore", invalid="ignore"):
            d = self.resid_studentized_internal ** 2 / self.k_vars * self.hat_diag_factor
        return d, _distributions.f.sf(d, self.k_vars, self.results.df_resid)

    @property
    def dffits_internal(self) -> tuple:
        """(r_i sqrt(h_i / (1 − h_i)), the threshold 2 sqrt(k / n))."""
        return self.resid_studentized_internal * np.sqrt(self.hat_diag_factor), self._dffits_threshold()

    @property
    def dffits(self) -> tuple:
        """(t_i sqrt(h_i / (1 − h_i)), the threshold 2 sqrt(k / n))."""
        return self.resid_studentized_external * np.sqrt(self.hat_diag_factor), self._dffits_threshold()

    def _dffits_threshold(self) -> float:
        return 2 * np.sqrt(self.k_vars / self.nobs)

    @property
    def dfbeta(self):
        """(n, k): β̂ − β̂_(i), the change of the estimates when row i is left out."""
        X, R, d, intercept, Rinv = self._rows
        back = Rinv.T * d[None, :]  # q_i R⁻ᵀ D = z_i (Z'Z)⁻¹
        out = np.empty((self.nobs, self.k_vars))
        for start, stop, Q in q_row_blocks(X, R, d, intercept, Rinv=Rinv):
            out[start:stop] = Q @ back
        with np.errstate(divide="ignore", invalid="ignore"):
            out *= self.resid_press[:, None]
        return out

    @property
    def params_not_obsi(self):
        """(n, k): β̂_(i), the estimates without row i."""
        return np.asarray(self.results._params)[None, :] - self.dfbeta

    @property
    def dfbetas(self):
        """(n, k): dfbeta scaled by s_(i) and the unscaled standard error sqrt([(Z'Z)⁻¹]_jj)."""
        _, _, d, _, Rinv = self._rows
        unscaled_se = np.sqrt(np.einsum("ij,ij->i", Rinv, Rinv)) * d  # sqrt diag (Z'Z)⁻¹
        with np.errstate(divide="ignore", invalid="ignore"):
            return self.dfbeta / np.sqrt(self.sigma2_not_obsi)[:, None] / unscaled_se[None, :]

    def summary_frame(self):
        """A DataFrame, one row per observation (indexed as X's rows when X was a DataFrame):
        dfb_<name> for every parameter, cooks_d, standard_resid, hat_diag, dffits_internal,
        student_resid, dffits (statsmodels' columns)."""
        import pandas as pd

        index = self.results._row_index
        frame = pd.DataFrame(self.dfbetas, columns=[f"dfb_{name}" for name in self.results.names], index=index)
        summary = pd.DataFrame({
            "cooks_d": self.cooks_distance[0],
            "standard_resid": self.resid_studentized_internal,
            "hat_diag": self.hat_matrix_diag,
            "dffits_internal": self.dffits_internal[0],
            "student_resid": self.resid_studentized_external,
            "dffits": self.dffits[0],
        }, index=index)
        return frame.join(summary)
