"""Ridge regression (Hoerl & Kennard 1970): closed form, many alphas at once, LOO/GCV/K-fold.

Objective, with an unpenalized intercept b0 (scikit-learn's scaling)::

    minimize over (b0, b)   ||y - b0 - X b||^2 + alpha * ||b||^2

With an intercept, X and y are centered (Xc = X - mean(X), yc = y - mean(y)), the slopes
solve the centered problem and b0 = mean(y) - mean(X) b; the intercept is never
penalized. With the thin SVD Xc = U S V' (s_k the singular values)::

    b(alpha) = V diag(s_k / (s_k^2 + alpha)) U' yc

so one decomposition gives the solution for every alpha in O(p^2) more each
(:func:`ridge_path`). When n is much larger than p the same quantities come from the
eigendecomposition of the Gram matrix Xc'Xc = V diag(s_k^2) V' (one BLAS call, about
ten times cheaper than the SVD of the tall matrix); it squares the condition number, so
``solver="auto"`` falls back to the SVD when (s_min^2 + alpha) / (s_max^2 + alpha) < 1e-7.
A single fit with n >= 2p (``Ridge``, ``solver="auto"``) solves the normal equations
(Xc'Xc + alpha I) b = Xc'yc by Cholesky instead (the eigendecomposition costs more than
the factorization), falling back to the SVD when LAPACK's reciprocal condition estimate
(dpocon) is below 1e-7.

Leave-one-out without refitting. Ridge with an unpenalized intercept is a linear smoother
yhat = H y with hat matrix H = 11'/n + Xc (Xc'Xc + alpha I)^-1 Xc', whose diagonal is::

    h_ii = 1/n + sum_k U_ik^2 s_k^2 / (s_k^2 + alpha)

and the leave-one-out residual is exactly e_i / (1 - h_ii), e = y - yhat (the refit
without row i, centering included, is a penalized least-squares fit with the same penalty,
so the Sherman-Morrison identity applies). Generalized cross-validation (Golub, Heath &
Wahba 1979) replaces each h_ii by the mean tr(H)/n::

    GCV(alpha) = (1/n) ||y - yhat||^2 / (1 - tr(H)/n)^2,  tr(H) = 1 + sum_k s_k^2/(s_k^2 + alpha)

References:
    Hoerl, A. E. & Kennard, R. W. (1970). Ridge regression: biased estimation for
    nonorthogonal problems. Technometrics 12(1), 55-67.
    Golub, G. H., Heath, M. & Wahba, G. (1979). Generalized cross-validation as a method
    for choosing a good ridge parameter. Technometrics 21(2), 215-223.
"""
from __future__ import annotations

import numbers

from scipy import linalg as _linalg
from scipy.linalg import lapack as _lapack

from ..engine import backend
from .cross_validation import train_test_splits
from .penalized import LinearRegressor, centered_gram, check_sample_weight, weighted_center

np = backend.host

__all__ = ["Ridge", "RidgeCV", "ridge_path"]

_GRAM_RCOND = 1e-7  # below this (s_min^2+alpha)/(s_max^2+alpha) the Gram route loses digits


class Ridge(LinearRegressor):
    """Ridge regression in closed form (one SVD, or one Cholesky factorization when n >> p).

    Objective (scikit-learn's scaling; the intercept b0 is not penalized)::

        sum_i s_i (y_i - b0 - x_i'b)^2 + alpha * ||b||_2^2

    with the row weights s_i of ``fit(X, y, sample_weight)`` (1 without them; integer weights
    equal repeating the rows). With weights, X and y are centered at their weighted means and
    their rows multiplied by sqrt(s_i) (scikit-learn's preprocessing), and the unweighted
    problem below is solved on them.

    Solution: b = V diag(s_k / (s_k^2 + alpha)) U' yc from the thin SVD Xc = U S V' of the
    centered design (see the module docstring), b0 = mean(y) - mean(X) b.

    Args:
        alpha: penalty >= 0 (0 gives the minimum-norm least-squares fit).
        fit_intercept: center X and y and fit an unpenalized intercept.
        solver: "auto" (Cholesky of Xc'Xc + alpha I when n >= 2p and its reciprocal
            condition number is >= 1e-7, else SVD), "cholesky", "svd" or "gram" (the
            eigendecomposition of Xc'Xc). Cholesky and "gram" fall back to the SVD when
            ill-conditioned; ``solver_`` tells which ran.

    Fitted attributes: ``coef_``, ``intercept_``, ``n_features_in_``, ``feature_names_``
    (``feature_names_in_`` for DataFrames), ``solver_``.
    Use :func:`ridge_path` for many alphas from one decomposition.

    Reference: Hoerl & Kennard (1970), Technometrics 12(1), 55-67.
    """

    def __init__(self, alpha=1.0, fit_intercept=True, solver="auto"):
        self.alpha = alpha
        self.fit_intercept = fit_intercept
        self.solver = solver

    def fit(self, X, y, sample_weight=None):
        """Fit on X (n, p) and y (n,), with the row weights ``sample_weight`` (n,) (finite, >= 0;
        None: every row 1); returns self."""
        alpha = _check_alpha(self.alpha)
        X, y = self._prepare(X, y)
        weights = check_sample_weight(sample_weight, X.shape[0], "Ridge")
        if weights is not None:
            X, yc, x_mean, y_mean = weighted_center(X, y, weights, self.fit_intercept)
            coef, solver = self._solve(X, np.zeros(X.shape[1]), yc, alpha)
        else:
            if self.fit_intercept:
                x_mean, y_mean = X.mean(axis=0), float(y.mean())
            else:
                x_mean, y_mean = np.zeros(X.shape[1]), 0.0
            coef, solver = self._solve(X, x_mean, y - y_mean, alpha)
        self.coef_ = coef
        self.intercept_ = y_mean - float(x_mean @ self.coef_) if self.fit_intercept else 0.0
        self.solver_ = solver
        return self

    def _solve(self, X, x_mean, yc, alpha):
        """(b, the solver that ran) for the centered problem X - x_mean, yc."""
        coef = None
        solver = self.solver
        n, p = X.shape
        if solver == "cholesky" or (solver == "auto" and n >= 2 * p):
            coef = _cholesky(X, x_mean, yc, alpha)
            solver = "svd" if coef is None else "cholesky"
        if coef is None:
            spectrum = _Spectrum(X - x_mean, yc, solver, alpha)
            coef, solver = spectrum.coef(alpha), spectrum.solver
        return coef, solver


def ridge_path(X, y, alphas, fit_intercept=True, solver="auto", sample_weight=None):
    """Ridge coefficients for many alphas from one decomposition.

    Returns ``(coefs, intercepts)``: ``coefs`` has shape (len(alphas), p) with row k the
    solution of ``sum_i s_i (y_i - b0 - x_i'b)^2 + alphas[k] ||b||^2`` (s = ``sample_weight``,
    or 1); each extra alpha costs O(p^2).
    """
    alphas = np.atleast_1d(np.asarray(alphas, dtype=backend.float64))
    if alphas.ndim != 1 or not np.all(np.isfinite(alphas)) or np.any(alphas < 0):
        raise ValueError(f"alphas: expected finite penalties >= 0; got {alphas.tolist()}")
    model = Ridge(fit_intercept=fit_intercept, solver=solver)
    X, y = model._prepare(X, y)
    weights = check_sample_weight(sample_weight, X.shape[0], "ridge_path")
    if weights is None:
        Xc, yc, x_mean, y_mean = _center(X, y, fit_intercept)
    else:
        Xc, yc, x_mean, y_mean = weighted_center(X, y, weights, fit_intercept)
    spectrum = _Spectrum(Xc, yc, solver, float(alphas.min()))
    denominators = spectrum.s2[None, :] + alphas[:, None]
    with np.errstate(divide="ignore", invalid="ignore"):
        shrunk = np.where(denominators > 0, spectrum.z[None, :] / denominators, 0.0)
    coefs = shrunk @ spectrum.V.T
    intercepts = y_mean - coefs @ x_mean if fit_intercept else np.zeros(alphas.size)
    return coefs, intercepts


class RidgeCV(LinearRegressor):
    """Ridge with alpha chosen by efficient leave-one-out, GCV or K-fold cross-validation.

    Args:
        alphas: candidate penalties (> 0).
        fit_intercept: as in :class:`Ridge`.
        cv: None: exact leave-one-out from one decomposition (e_i / (1 - h_ii)), which is
            scikit-learn's default; "gcv": generalized cross-validation
            GCV(alpha) = (1/n)||y - yhat||^2 / (1 - tr(H)/n)^2 (Golub, Heath & Wahba 1979);
            an int K: K-fold (scikit-learn's unshuffled KFold), one decomposition per fold;
            or a splitter with ``split(X, y)`` / an iterable of (train, test) indices.
        solver: as in :class:`Ridge`.

    The chosen alpha minimizes the mean squared prediction error (for K-fold: the mean over
    folds of each fold's mean squared error, as scikit-learn's GridSearchCV). Fitted
    attributes: ``alpha_``, ``cv_errors_`` (one per alpha), ``best_score_`` (=
    -min error, scikit-learn's sign), ``loo_residuals_`` (n x len(alphas), cv=None only),
    and those of :class:`Ridge` refitted at ``alpha_``.

    ``fit(X, y, sample_weight=s)``: the fits are :class:`Ridge`'s weighted ones. Leave-one-out
    (cv=None, as scikit-learn's): the error is (1/n) Σ_i s_i e_(i)², e_(i) the residual of row i
    from the fit without it; with an intercept the leverage is s_i / Σ s + z_i'(S² + α)⁻¹z_i on
    the weighted, centered design; ``loo_residuals_`` are √s_i e_(i). K-fold: each fold's fit
    uses its training rows' weights and its error is the weighted mean of the held-out squared
    errors (integer weights equal repeating the rows within a fold). "gcv" refuses weights.
    """

    def __init__(self, alphas=(0.1, 1.0, 10.0), fit_intercept=True, cv=None, solver="auto"):
        self.alphas = alphas
        self.fit_intercept = fit_intercept
        self.cv = cv
        self.solver = solver

    def fit(self, X, y, sample_weight=None):
        """Choose alpha and refit on all rows; returns self. ``sample_weight`` (n,): the rows'
        weights, with cv=None only (see the class docstring)."""
        alphas = _check_alphas(self.alphas)
        raw_X = X
        X, y = self._prepare(X, y)
        n = X.shape[0]
        weights = check_sample_weight(sample_weight, n, "RidgeCV")
        if weights is not None and isinstance(self.cv, str):
            raise ValueError(f"RidgeCV: sample_weight: not supported with cv={self.cv!r} (GCV has no weighted "
                             f"form here); use cv=None (the weighted leave-one-out) or K folds")
        if self.cv is None or (isinstance(self.cv, str) and self.cv == "gcv"):
            if weights is None:
                Xc, yc, _, _ = _center(X, y, self.fit_intercept)
                base = 1.0 / n if self.fit_intercept else 0.0
            else:
                Xc, yc, _, _ = weighted_center(X, y, weights, self.fit_intercept)
                base = weights / weights.sum() if self.fit_intercept else 0.0
            spectrum = _Spectrum(Xc, yc, self.solver, float(alphas.min()))
            Z2 = spectrum.Z ** 2
            errors = np.empty(alphas.size)
            residuals = np.empty((n, alphas.size))
            for k, alpha in enumerate(alphas):
                e = yc - spectrum.Z @ spectrum.shrink(alpha)
                if self.cv is None:
                    h = base + Z2 @ (1.0 / (spectrum.s2 + alpha))
                    residuals[:, k] = e / (1.0 - h)
                    errors[k] = float(np.mean(residuals[:, k] ** 2))
                else:
                    trace = base * n + float(np.sum(spectrum.s2 / (spectrum.s2 + alpha)))
                    residuals[:, k] = e
                    errors[k] = float(np.mean(e ** 2)) / (1.0 - trace / n) ** 2
            if self.cv is None:
                self.loo_residuals_ = residuals
        elif isinstance(self.cv, str):
            raise ValueError(f"cv: expected None, 'gcv', an int or a splitter; got {self.cv!r}")
        else:
            folds = train_test_splits(self.cv, raw_X, y, n)
            fold_errors = np.empty((len(folds), alphas.size))
            for f, (train, test) in enumerate(folds):
                coefs, intercepts = ridge_path(X[train], y[train], alphas, self.fit_intercept, self.solver,
                                               None if weights is None else weights[train])
                predictions = X[test] @ coefs.T + intercepts
                fold_errors[f] = np.average((y[test][:, None] - predictions) ** 2, axis=0,
                                            weights=None if weights is None else weights[test])
            errors = fold_errors.mean(axis=0)
            self.fold_errors_ = fold_errors
        best = int(np.argmin(errors))
        self.alpha_ = float(alphas[best])
        self.cv_errors_ = errors
        self.best_score_ = -float(errors[best])
        model = Ridge(self.alpha_, fit_intercept=self.fit_intercept, solver=self.solver).fit(raw_X, y, weights)
        for name in ("coef_", "intercept_", "solver_"):
            setattr(self, name, getattr(model, name))
        return self


class _Spectrum:
    """The pieces of Xc = U S V' that ridge needs: V, s^2, z = S U'yc, and (lazily) Z = U S.

    Built by the SVD of Xc, or by the eigendecomposition of Xc'Xc when that is safe.
    With Z = Xc V = U S:  b(alpha) = V (z / (s^2 + alpha)),  fitted = Z (z / (s^2 + alpha)).
    """

    def __init__(self, Xc, yc, solver: str, alpha_min: float = 0.0):
        n, p = Xc.shape
        self.Xc = Xc
        if solver in ("auto", "cholesky"):  # many alphas: a decomposition, not one factorization
            solver = "gram" if n >= 2 * p else "svd"
        if solver == "gram":
            gram = Xc.T @ Xc
            s2, V = _linalg.eigh(gram, check_finite=False)
            s2 = np.maximum(s2, 0.0)
            top = s2[-1] + alpha_min
            if top == 0 or (s2[0] + alpha_min) / top >= _GRAM_RCOND:
                self.V, self.s2 = V, s2
                self.z = V.T @ (Xc.T @ yc)
                self.solver, self._Z = "gram", None
                self._drop_null_directions(n, p)
                return
            solver = "svd"  # too ill-conditioned for the normal equations
        if solver != "svd":
            raise ValueError(f"solver: expected 'auto', 'cholesky', 'svd' or 'gram'; got {solver!r}")
        U, s, Vt = _linalg.svd(Xc, full_matrices=False, check_finite=False, lapack_driver="gesdd")
        self.V, self.s2 = Vt.T, s * s
        self.z = s * (U.T @ yc)
        self._Z = U * s
        self.solver = "svd"
        self._drop_null_directions(n, p)

    def _drop_null_directions(self, n, p):
        """Singular values below max(n, p) * eps * s_max count as 0 (as numpy's lstsq), so
        alpha = 0 gives the minimum-norm least-squares fit instead of dividing by noise."""
        if self.s2.size and self.s2.max() > 0:
            null = self.s2 <= (max(n, p) * np.finfo(backend.float64).eps) ** 2 * self.s2.max()
            self.s2 = np.where(null, 0.0, self.s2)
            self.z = np.where(null, 0.0, self.z)

    @property
    def Z(self):
        if self._Z is None:
            self._Z = self.Xc @ self.V
        return self._Z

    def shrink(self, alpha):
        """z_k / (s_k^2 + alpha), with 0 where both vanish (alpha = 0, rank deficient)."""
        denominator = self.s2 + alpha
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(denominator > 0, self.z / denominator, 0.0)

    def coef(self, alpha):
        return self.V @ self.shrink(alpha)


def _cholesky(X, x_mean, yc, alpha):
    """Solve (Xc'Xc + alpha I) b = Xc'yc by Cholesky; None when the system is too
    ill-conditioned for the normal equations (reciprocal condition number < 1e-7)."""
    A, rhs = centered_gram(X, x_mean, yc)
    A[np.diag_indices_from(A)] += alpha
    anorm = float(np.max(np.abs(A).sum(axis=0)))
    try:
        factor = _linalg.cho_factor(A, lower=False, check_finite=False)
    except _linalg.LinAlgError:
        return None
    rcond, info = _lapack.dpocon(factor[0], anorm)  # upper triangle (uplo "U")
    if info != 0 or not rcond >= _GRAM_RCOND:
        return None
    return _linalg.cho_solve(factor, rhs, check_finite=False)


def _center(X, y, fit_intercept: bool):
    if fit_intercept:
        x_mean = X.mean(axis=0)
        y_mean = float(y.mean())
        return X - x_mean, y - y_mean, x_mean, y_mean
    return X, y, np.zeros(X.shape[1]), 0.0


def _check_alpha(alpha, name="alpha", positive=False):
    if isinstance(alpha, bool) or not isinstance(alpha, numbers.Real):
        raise TypeError(f"{name}: expected a real number; got {alpha!r}")
    alpha = float(alpha)
    if not np.isfinite(alpha) or alpha < 0 or (positive and alpha == 0):
        raise ValueError(f"{name}: expected a finite number {'>' if positive else '>='} 0; got {alpha}")
    return alpha


def _check_alphas(alphas, name="alphas"):
    values = np.atleast_1d(np.asarray(alphas, dtype=backend.float64))
    if values.ndim != 1 or values.size == 0:
        raise ValueError(f"{name}: expected a non-empty 1-D sequence of penalties; got shape {values.shape}")
    if not np.all(np.isfinite(values)) or np.any(values <= 0):
        raise ValueError(f"{name}: every penalty must be finite and > 0; got {values.tolist()}")
    return values
