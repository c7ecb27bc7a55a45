"""Principal component analysis by the SVD, and principal-component regression.

PCA (Jolliffe 2002, chapters 1-3; ISLR section 12.2): centre the columns,
X̃ = X - 1 x̄', and take the thin singular value decomposition

    X̃ = U S V',   U'U = I,  V'V = I,  S = diag(s_1 >= s_2 >= ... >= 0).

The principal directions (loadings) are the columns of V (rows of ``components_``),
the scores are Z = X̃ V = U S, and the variance of the j-th score is the j-th
eigenvalue of the sample covariance X̃'X̃ / (n - 1):

    explained_variance_j       = s_j² / (n - 1)
    explained_variance_ratio_j = s_j² / Σ_i s_i²   (Σ_i over all min(n, p) components)

``transform(X) = (X - x̄) V_k`` (divided by sqrt(explained_variance_) when whiten=True,
so each score has unit variance); ``inverse_transform(Z) = Z V_k' + x̄`` (Z first
multiplied back by sqrt(explained_variance_) when whitened). Signs are fixed as
scikit-learn fixes them: the largest-magnitude entry of each direction is positive.

PCR (ISLR section 6.3.1): regress y on the first M scores Z_M = U_M S_M by least
squares. The scores are orthogonal and centred, so the least-squares coefficients are

    γ_j = z_j'(y - ȳ) / ||z_j||² = u_j'(y - ȳ) / s_j,   β = V_M γ,   β_0 = ȳ - x̄'β,

and the fitted model is linear in X. M is fixed, or chosen by K-fold cross-validation
(``n_components="cv"``): on each training fold the SVD is computed once and the
predictions of every M = 1..max are cumulative sums of the per-component terms,
CV(M) = Σ_folds SSE_fold(M) / n, M* = argmin CV(M) (ties: the smallest M).

References:
    I. T. Jolliffe, Principal Component Analysis, 2nd ed., Springer 2002.
    G. James, D. Witten, T. Hastie, R. Tibshirani, An Introduction to Statistical
    Learning (ISLR), 2nd ed., Springer 2021, sections 6.3 and 12.2.
"""
from __future__ import annotations

import math

from ..engine import backend
from .cross_validation import check_folds, kfold
from .estimator import Estimator, r_squared
from .inference import Table, format_number
from .validation import as_design, as_design_like_fit, as_target, check_scale

np = backend.host


class PCA(Estimator):
    """Principal component analysis via the SVD X - x̄ = U S V' (see the module docstring).

    Args:
        n_components: None (all min(n, p)), an integer 1..min(n, p), or a float in (0, 1):
            the fewest components whose cumulative explained_variance_ratio_ reaches it.
        whiten: scale the scores to unit variance.

    Fitted attributes: ``components_`` (k x p, rows are V's columns), ``explained_variance_``
    (s²/(n-1)), ``explained_variance_ratio_``, ``singular_values_``, ``mean_``,
    ``n_components_``, ``noise_variance_`` (mean of the discarded eigenvalues, as
    scikit-learn), ``n_samples_``, ``n_features_in_``, ``feature_names_``.

    References: Jolliffe, Principal Component Analysis, 2nd ed. (2002), ch. 1-3;
    ISLR 2nd ed. (2021), section 12.2.
    """

    _fitted_attribute = "components_"

    def __init__(self, n_components=None, whiten=False):
        self.n_components = n_components
        self.whiten = whiten

    def fit(self, X, y=None):
        """Centre X and take its SVD; returns self (``y`` is ignored)."""
        values, names = as_design(X, "X")
        n, p = values.shape
        if n < 2:
            raise ValueError(f"PCA: needs at least 2 rows; X has {n} (n_samples={n})")
        check_scale(values, names, "X", "PCA")
        rank_max = min(n, p)
        self.mean_ = values.mean(axis=0)
        U, S, Vt = _svd(values - self.mean_)
        variance = S ** 2 / (n - 1)
        total = variance.sum()
        ratio = variance / total if total > 0 else np.zeros_like(variance)
        k = self._resolve_components(ratio, rank_max)
        self.n_components_ = k
        self.components_ = Vt[:k]
        self.singular_values_ = S[:k]
        self.explained_variance_ = variance[:k]
        self.explained_variance_ratio_ = ratio[:k]
        self.noise_variance_ = float(variance[k:].mean()) if k < rank_max else 0.0
        self.n_samples_ = n
        self._remember_feature_names(X, names)
        self.feature_names_ = list(names)
        self._scores = U[:, :k] * S[:k]
        return self

    def _resolve_components(self, ratio, rank_max) -> int:
        m = self.n_components
        if m is None:
            return rank_max
        if isinstance(m, bool):
            raise ValueError(f"PCA: n_components must be None, an int or a float in (0, 1); got {m!r}")
        if isinstance(m, (int, np.integer)):
            if not 1 <= m <= rank_max:
                raise ValueError(f"PCA: n_components={m} must lie in 1..min(n_samples, n_features)={rank_max}")
            return int(m)
        if isinstance(m, (float, np.floating)) and 0 < m < 1:
            return int(min(np.searchsorted(np.cumsum(ratio), m, side="right") + 1, rank_max))
        raise ValueError(f"PCA: n_components must be None, an int or a float in (0, 1); got {m!r}")

    def transform(self, X):
        """Scores (X - x̄) V_k, whitened (divided by sqrt(explained_variance_)) if whiten."""
        self._check_fitted("components_")
        scores = (as_design_like_fit(self, X) - self.mean_) @ self.components_.T
        if self.whiten:
            scores = scores / np.sqrt(self.explained_variance_)
        return scores

    def fit_transform(self, X, y=None):
        self.fit(X)
        scores = self._scores
        if self.whiten:
            scores = scores / np.sqrt(self.explained_variance_)
        return scores

    def inverse_transform(self, Z):
        """Back to the data space: Z V_k' + x̄ (Z scaled by sqrt(explained_variance_) if whiten)."""
        self._check_fitted("components_")
        values, _ = as_design(Z, "Z")
        if values.shape[1] != self.n_components_:
            raise ValueError(f"Z has {values.shape[1]} columns but PCA has {self.n_components_} components")
        if self.whiten:
            values = values * np.sqrt(self.explained_variance_)
        return values @ self.components_ + self.mean_

    def summary(self) -> Table:
        """Standard deviation, proportion and cumulative proportion of variance per component."""
        self._check_fitted("components_")
        cumulative = np.cumsum(self.explained_variance_ratio_)
        columns = zip(self.explained_variance_, self.explained_variance_ratio_, cumulative)
        rows = [[f"PC{j + 1}"] + [format_number(value) for value in (math.sqrt(v), v, r, c)]
                for j, (v, r, c) in enumerate(columns)]
        info = [("Observations", self.n_samples_), ("Variables", self.n_features_in_),
                ("Components", self.n_components_), ("Whiten", self.whiten)]
        return Table("Principal Component Analysis", info,
                     ["component", "std dev", "variance", "proportion", "cumulative"], rows,
                     ["variance = s²/(n-1), the eigenvalues of the sample covariance matrix"], left=1)


class PCR(Estimator):
    """Principal-component regression: PCA of X, then least squares of y on the first M scores.

    Args:
        n_components: an integer M, None (all components: least squares on X when X has
            full column rank), or "cv" (default): M chosen by K-fold cross-validation
            among 1..max_components (see the module docstring).
        cv: the number of folds for "cv".
        max_components: the largest M tried by "cv" (None: the numerical rank of each
            training fold's centred X, at most min(n_train - 1, p)).
        scale: divide each column by its standard deviation before the PCA (ISLR's
            ``scale=TRUE``); coef_ is reported on the original scale either way.
        random_state: None for contiguous folds, or a seed to shuffle rows into folds.

    Fitted attributes: ``pca_`` (the fitted :class:`PCA` of the (scaled) X), ``n_components_``,
    ``gamma_`` (coefficients on the scores), ``coef_``, ``intercept_`` (on X's scale),
    ``cv_mse_`` (CV(M) for M = 1..len(cv_mse_), when "cv"), ``scale_`` (column divisors).

    Model: y = β_0 + Σ_{j<=M} γ_j z_j + ε with z_j = X̃ v_j, fitted by least squares
    (γ_j = u_j'(y - ȳ)/s_j, since the scores are orthogonal); β = V_M γ.
    Reference: ISLR 2nd ed. (2021), section 6.3.1; Jolliffe (2002), ch. 8.
    """

    _estimator_type = "regressor"

    def __init__(self, n_components="cv", cv=5, max_components=None, scale=False, random_state=None):
        self.n_components = n_components
        self.cv = cv
        self.max_components = max_components
        self.scale = scale
        self.random_state = random_state

    def fit(self, X, y):
        """Choose M (if "cv"), fit the PCA and the least squares on its scores; returns self."""
        values, names = as_design(X, "X")
        n, p = values.shape
        target, target_name = as_target(y, n, "y")
        if n < 3:
            raise ValueError(f"PCR: needs at least 3 rows; X has {n} (n_samples={n})")
        check_scale(values, names, "X", "PCR")
        check_scale(target[:, None], [target_name], "y", "PCR")
        if self.scale:
            sd = values.std(axis=0, ddof=1)
            constant = [names[j] for j in np.flatnonzero(sd == 0)]
            if constant:
                raise ValueError(f"PCR: scale=True but column(s) {', '.join(map(repr, constant))} are constant")
        else:
            sd = np.ones(p)
        Xs = values / sd
        m = self.n_components
        self.cv_mse_ = None
        if isinstance(m, str):
            if m != "cv":
                raise ValueError(f"PCR: n_components must be an int, None or 'cv'; got {m!r}")
            folds = check_folds(self.cv, n, "PCR")
            cv_mse = self._cross_validate(Xs, target, folds)
            self.cv_mse_ = cv_mse
            m = int(np.nanargmin(cv_mse)) + 1
        elif m is not None and (isinstance(m, bool) or not isinstance(m, (int, np.integer))):
            raise ValueError(f"PCR: n_components must be an int, None or 'cv'; got {m!r}")
        self.pca_ = PCA(n_components=m).fit(Xs)
        k = self.pca_.n_components_
        S = self.pca_.singular_values_
        if np.any(S <= S[0] * max(n, p) * np.finfo(backend.float64).eps):
            raise ValueError(f"PCR: component(s) beyond the numerical rank of X requested (M={k}); use fewer")
        y_mean = float(target.mean())
        scores = self.pca_._scores
        self.gamma_ = scores.T @ (target - y_mean) / S ** 2
        self.coef_ = (self.pca_.components_.T @ self.gamma_) / sd
        self.intercept_ = y_mean - float(values.mean(axis=0) @ self.coef_)
        self.n_components_ = k
        self.scale_ = sd
        self.target_name_ = target_name
        self._remember_feature_names(X, names)
        self.feature_names_ = list(names)
        return self

    def _cross_validate(self, Xs, target, folds):
        n, p = Xs.shape
        limit = min(p, n - 1)
        if self.max_components is not None:
            if isinstance(self.max_components, bool) or not isinstance(self.max_components, (int, np.integer)) \
                    or self.max_components < 1:
                raise ValueError(f"PCR: max_components must be None or an integer >= 1; got {self.max_components!r}")
            limit = min(limit, int(self.max_components))
        sse = np.zeros(limit)
        for train, test in kfold(n, folds, self.random_state):
            x_mean, y_mean = Xs[train].mean(axis=0), target[train].mean()
            U, S, Vt = _svd(Xs[train] - x_mean)
            rank = int(np.sum(S > S[0] * max(Xs[train].shape) * np.finfo(backend.float64).eps)) if S.size else 0
            kmax = min(limit, rank)
            gamma = U[:, :kmax].T @ (target[train] - y_mean) / S[:kmax]
            terms = ((Xs[test] - x_mean) @ Vt[:kmax].T) * gamma
            predictions = y_mean + np.cumsum(terms, axis=1)
            resid = target[test][:, None] - predictions
            sse[:kmax] += np.einsum("ij,ij->j", resid, resid)
            sse[kmax:] = np.nan
        return sse / n

    def predict(self, X):
        """X β + β_0 with β = V_M γ (divided by the column scales when scale=True)."""
        self._check_fitted("coef_")
        return as_design_like_fit(self, X) @ self.coef_ + self.intercept_

    def score(self, X, y):
        """R² of the predictions on (X, y)."""
        prediction = self.predict(X)
        target, _ = as_target(y, prediction.shape[0], "y")
        return r_squared(target, prediction)


def _svd(Xc):
    """Thin SVD with scikit-learn's sign convention (largest |entry| of each row of V' > 0)."""
    U, S, Vt = np.linalg.svd(Xc, full_matrices=False)
    signs = np.sign(Vt[np.arange(Vt.shape[0]), np.argmax(np.abs(Vt), axis=1)])
    signs[signs == 0] = 1.0
    return U * signs, S, Vt * signs[:, None]
