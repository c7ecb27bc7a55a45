"""Penalized least squares: what :class:`~chainrule.stats.Ridge` and :class:`~chainrule.stats.Lasso` share.

Both minimize a penalized residual sum of squares with an unpenalized intercept b0,

    ridge   ||y - b0 - X b||^2 + alpha ||b||_2^2,      lasso   (1/(2n)) ||y - b0 - X b||^2 + alpha ||b||_1,

by centering: with Xc = X - mean(X) and yc = y - mean(y) the slopes solve the centered
problem and b0 = mean(y) - mean(X) b. With row weights s_i (``sample_weight``) each squared
error is multiplied by s_i; X and y are then centered at their weighted means and their rows
multiplied by sqrt(s_i) (``weighted_center``, scikit-learn's preprocessing), which turns the
weighted problem into the unweighted one. This module holds the regressor they both are
(validated input, ``predict`` = b0 + X b, ``score`` = R^2, ``coef_table``) and the centered
Gram matrix Xc'Xc both solvers start from.

Reference: T. Hastie, R. Tibshirani, J. Friedman, *The Elements of Statistical Learning*,
2nd ed., 2009, section 3.4 (shrinkage methods; centering and the unpenalized intercept).
"""
from __future__ import annotations

from ..engine import backend
from .estimator import Estimator, r_squared
from .validation import as_design, as_design_like_fit, as_target, check_columns, check_scale

np = backend.host

__all__ = ["LinearRegressor", "centered_gram", "check_sample_weight", "weighted_center"]


class LinearRegressor(Estimator):
    """predict / score / coef_table and input handling shared by Ridge and Lasso."""

    _estimator_type = "regressor"  # for scikit-learn's tags

    def _prepare(self, X, y):
        """Validated float64 X and y (returned); remembers the feature and target names."""
        if not isinstance(self.fit_intercept, bool):
            raise TypeError(f"fit_intercept: expected True or False; got {self.fit_intercept!r}")
        data = X
        X, names = as_design(X, "X")
        y, target = as_target(y, X.shape[0], "y")
        if X.shape[0] < 2:
            raise ValueError(f"X: need at least 2 rows to fit; got {X.shape[0]} (n_samples={X.shape[0]})")
        check_scale(X, names, "X", type(self).__name__)
        check_scale(y[:, None], [target], "y", type(self).__name__)
        check_columns(X, names, self.fit_intercept, "X")
        self._remember_feature_names(data, names)
        self.feature_names_ = list(names)
        self.target_name_ = target
        return X, y

    def predict(self, X):
        """Predictions b0 + X b (a NumPy float64 array)."""
        return as_design_like_fit(self, X) @ self.coef_ + self.intercept_

    def score(self, X, y):
        """R^2 = 1 - sum (y - yhat)^2 / sum (y - mean(y))^2 (scikit-learn's ``score``)."""
        yhat = self.predict(X)
        y, _ = as_target(y, yhat.shape[0], "y")
        return r_squared(y, yhat)

    def coef_table(self) -> dict:
        """The fitted coefficients by name: ``{"intercept": b0, name_1: b_1, ...}``."""
        self._check_fitted()
        table = {"intercept": float(self.intercept_)} if self.fit_intercept else {}
        table.update({name: float(b) for name, b in zip(self.feature_names_, self.coef_)})
        return table

    def fit(self, X, y):  # pragma: no cover - each regressor defines its own
        raise NotImplementedError(f"{type(self).__name__} must define fit")  # abstract


def centered_gram(X, x_mean, yc):
    """(Xc'Xc, Xc'yc) for Xc = X - x_mean, without copying X when that is accurate.

    X'X - n m m' equals Xc'Xc in exact arithmetic; in floating point it loses about
    log10(1 + m_j^2 / var_j) digits to cancellation, so it is used only when every column
    mean is at most its standard deviation (at most 1 bit lost); otherwise X is centered
    first (a copy). Xc'yc = X'yc because yc sums to zero.
    """
    n = X.shape[0]
    if not x_mean.any():
        return X.T @ X, X.T @ yc
    G = X.T @ X
    variance = np.diagonal(G) / n - x_mean * x_mean
    if np.all(x_mean * x_mean <= variance):
        G -= n * np.outer(x_mean, x_mean)
        return G, X.T @ yc - x_mean * yc.sum()
    Xc = X - x_mean
    return Xc.T @ Xc, Xc.T @ yc



def check_sample_weight(sample_weight, n_rows: int, owner: str):
    """``sample_weight`` as a float64 vector of ``n_rows`` finite, non-negative entries with a
    positive sum (None stays None; a number is every row's weight, as scikit-learn's); the
    errors (ValueError) name the argument."""
    if sample_weight is None:
        return None
    try:
        weights = np.asarray(sample_weight, dtype=backend.float64)
    except (TypeError, ValueError):
        raise ValueError(f"{owner}: sample_weight: expected numbers, one per row; got "
                         f"{type(sample_weight).__name__}") from None
    if weights.ndim == 0:
        weights = np.full(n_rows, float(weights))
    if weights.ndim != 1 or weights.shape[0] != n_rows:
        raise ValueError(f"{owner}: sample_weight: expected shape ({n_rows},) (one weight per row of X); got "
                         f"shape {weights.shape}")
    if not np.all(np.isfinite(weights)):
        raise ValueError(f"{owner}: sample_weight: expected finite weights; got NaN or infinity at rows "
                         f"{np.flatnonzero(~np.isfinite(weights))[:10].tolist()}")
    if np.any(weights < 0):
        raise ValueError(f"{owner}: sample_weight: expected non-negative weights; got negative weights at rows "
                         f"{np.flatnonzero(weights < 0)[:10].tolist()}")
    if not weights.sum() > 0:
        raise ValueError(f"{owner}: sample_weight: the weights sum to 0 (all zero); at least one row needs a "
                         f"positive weight")
    return weights.copy()


def weighted_center(X, y, weights, fit_intercept):
    """(Xc, yc, x_mean, y_mean) for weighted least squares (scikit-learn's preprocessing):
    the weighted means x̄ = Σ s_i x_i / Σ s_i, ȳ likewise (zeros without an intercept), and the
    rows of X − x̄ and y − ȳ multiplied by √s_i, so that the unweighted problem on (Xc, yc)
    without an intercept is the weighted one; b0 = ȳ − x̄'b."""
    if fit_intercept:
        x_mean = weights @ X / weights.sum()
        y_mean = float(weights @ y / weights.sum())
    else:
        x_mean, y_mean = np.zeros(X.shape[1]), 0.0
    root = np.sqrt(weights)
    return (X - x_mean) * root[:, None], (y - y_mean) * root, x_mean, y_mean
