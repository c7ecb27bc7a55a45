"""Standardizing inputs with statistics of the training data only.

:class:`StandardScaler` rescales features to mean 0 and standard deviation 1 with
statistics of the *training* data only: ``fit`` on the training split, then
``transform`` the training, validation and test splits with those statistics, so
no information from held-out data leaks into training.
"""
from __future__ import annotations

from ..engine import backend
from ..engine.backend import host as np
from ..engine.tensor import Tensor
from ..engine.tensor import tensor as _to_tensor
from .checks import check_finite

__all__ = ["StandardScaler"]


class StandardScaler:
    """Standardize features: ``z = (x - mean_) / scale_`` column by column.

    ``mean_`` is the column mean and ``scale_`` the column standard deviation
    (``ddof=0``, as scikit-learn) of the data given to :meth:`fit`; a constant
    column has ``scale_ = 1`` (it is only centred). Fit on the **training split
    only** and transform every split with those statistics: fitting on all the data
    would leak the held-out rows' mean and spread into training.

    Accepts 2-D host arrays, Tensors and pandas DataFrames (whose column names appear
    in error messages); ``transform`` returns a Tensor for a Tensor and a float host
    array otherwise. NaN or inf values raise ``ValueError`` naming their count and
    columns.

    Attributes (after ``fit``): ``mean_``, ``scale_``, ``var_`` (host float64
    arrays), ``n_features_in_``, ``n_samples_seen_``, ``feature_names_in_`` (for a
    DataFrame).

    Example::

        scaler = StandardScaler().fit(X_train)
        X_train_z, X_test_z = scaler.transform(X_train), scaler.transform(X_test)
    """

    def __init__(self, with_mean: bool = True, with_std: bool = True):
        self.with_mean = with_mean
        self.with_std = with_std

    def fit(self, X, y=None) -> StandardScaler:
        """Compute ``mean_`` and ``scale_`` from ``X`` (n_samples, n_features); return self."""
        values, columns = _as_matrix(X, "StandardScaler.fit")
        if values.shape[0] == 0:
            raise ValueError("StandardScaler.fit: X has 0 samples")
        values = values.astype(np.float64, copy=False)
        self.n_samples_seen_, self.n_features_in_ = values.shape
        if columns is not None:
            self.feature_names_in_ = np.asarray(columns, dtype=object)
        self.mean_ = values.mean(axis=0) if self.with_mean else np.zeros(values.shape[1])
        self.var_ = values.var(axis=0)
        std = np.sqrt(self.var_)
        # A constant column is centred only: dividing by its zero spread would give NaN.
        self.scale_ = np.where(std > 0, std, 1.0) if self.with_std else np.ones(values.shape[1])
        return self

    def transform(self, X):
        """``(X - mean_) / scale_``, in X's float dtype (float64 for integer input)."""
        values, like = self._checked(X, "transform")
        return _like(like, (values - self.mean_.astype(values.dtype)) / self.scale_.astype(values.dtype))

    def inverse_transform(self, Z):
        """``Z * scale_ + mean_``: back to the original units."""
        values, like = self._checked(Z, "inverse_transform")
        return _like(like, values * self.scale_.astype(values.dtype) + self.mean_.astype(values.dtype))

    def fit_transform(self, X, y=None):
        """``fit(X)`` then ``transform(X)`` (use on the training split only)."""
        return self.fit(X).transform(X)

    def _checked(self, X, method: str):
        if not hasattr(self, "mean_"):
            raise RuntimeError(
                f"StandardScaler.{method}: the scaler is not fitted yet; call fit(X_train) first"
            )
        values, _ = _as_matrix(X, f"StandardScaler.{method}")
        if values.shape[1] != self.n_features_in_:
            raise ValueError(
                f"StandardScaler.{method}: X has {values.shape[1]} features (columns) but the "
                f"scaler was fitted on {self.n_features_in_}"
            )
        if values.dtype.kind != "f":
            values = values.astype(np.float64)
        return values, X

    def __repr__(self) -> str:
        fitted = f", fitted on {self.n_samples_seen_}x{self.n_features_in_}" if hasattr(self, "mean_") else ""
        return f"StandardScaler(with_mean={self.with_mean}, with_std={self.with_std}{fitted})"


def _as_matrix(X, where: str):
    """A 2-D host array of numbers from X (array, Tensor or DataFrame), checked for NaN/inf,
    and the column names when X has them."""
    columns = None
    if isinstance(X, Tensor):
        values = backend.to_host(X.data)
    elif hasattr(X, "columns") and hasattr(X, "to_numpy"):
        columns = [str(c) for c in X.columns]
        values = X.to_numpy()
    else:
        values = np.asarray(X)
    if values.ndim != 2:
        raise ValueError(
            f"{where}: X must be 2-D (n_samples, n_features); got shape {values.shape}. "
            f"Reshape a single feature with X.reshape(-1, 1)"
        )
    if values.dtype.kind not in "biuf":
        raise TypeError(f"{where}: X must hold numbers; got dtype {values.dtype}")
    check_finite(values, where, columns)
    return values, columns


def _like(original, values):
    if isinstance(original, Tensor):
        return _to_tensor(values, dtype=values.dtype, device=original.device)
    return values
