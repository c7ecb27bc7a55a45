"""Input checks for the estimators: nothing is dropped, cast or guessed silently.

Every check raises ``ValueError`` (or warns, where a fit is still meaningful) with a
message that names the argument, what was expected and what was received: the column
names for NaN/inf, constant and duplicate columns, the row positions where useful.
"""
from __future__ import annotations

import hashlib
import warnings

from ..engine import backend
from ..engine.tensor import Tensor
from . import row_parts

np = backend.host

_HEAD_ROWS = 256  # rows that pick the candidate duplicate and constant columns


class DataWarning(UserWarning):
    """A property of the data that a user should know about but that does not stop a fit."""


def as_design(X, name: str = "X", dtype=None):
    """``X`` as a 2-D float array and its column names.

    Accepts NumPy arrays, chainrule Tensors, pandas DataFrames (their column names are
    kept), and nested lists. A 1-D input is one column. Non-numeric data, NaN and inf
    raise errors that name the offending columns.
    """
    dtype = backend.float64 if dtype is None else backend.canonical_dtype(dtype, "dtype")
    names = None
    if hasattr(X, "columns") and hasattr(X, "to_numpy"):  # a pandas DataFrame
        names = [str(c) for c in X.columns]
        non_numeric = [str(c) for c, kind in zip(X.columns, X.dtypes) if getattr(kind, "kind", "O") not in "biuf"]
        if non_numeric:
            raise ValueError(
                f"{name}: columns must be numeric; these are not: {', '.join(non_numeric)} "
                f"(encode categories first, e.g. with pandas.get_dummies)"
            )
        values = X.to_numpy()
    elif isinstance(X, Tensor):
        values = X.numpy()
    else:
        values = np.asarray(X)
    if values.dtype.kind not in "biuf":
        raise ValueError(f"{name}: expected numeric data; got dtype {values.dtype}")
    if values.ndim == 1:
        values = values[:, None]
    if values.ndim != 2:
        raise ValueError(f"{name}: expected a 2-D array (rows x columns); got shape {values.shape}")
    if names is None:
        names = [f"x{j + 1}" for j in range(values.shape[1])]
    values = np.asarray(values, dtype=dtype)
    _check_finite(values, names, name)
    return values, names


def as_target(y, n_rows: int, name: str = "y", dtype=None):
    """``y`` as a 1-D float array of length ``n_rows``, and its name (Series name or "y")."""
    dtype = backend.float64 if dtype is None else backend.canonical_dtype(dtype, "dtype")
    target_name = str(y.name) if getattr(y, "name", None) is not None and hasattr(y, "to_numpy") else name
    if hasattr(y, "to_numpy"):
        values = y.to_numpy()
    elif isinstance(y, Tensor):
        values = y.numpy()
    else:
        values = np.asarray(y)
    if values.ndim == 2 and values.shape[1] == 1:
        values = values[:, 0]
    if values.ndim != 1:
        raise ValueError(f"{name}: expected a 1-D target; got shape {values.shape}")
    if values.dtype.kind not in "biuf":
        raise ValueError(f"{name}: expected a numeric target; got dtype {values.dtype}")
    if values.shape[0] != n_rows:
        raise ValueError(f"{name} has {values.shape[0]} rows but X has {n_rows}; they must match")
    values = np.asarray(values, dtype=dtype)
    _check_finite(values[:, None], [target_name], name)
    return values, target_name


def check_columns(X, names, fit_intercept: bool, argument: str = "X") -> None:
    """Reject duplicate columns, and constant columns next to an intercept, by name.

    Cost O(np) at most, and usually O(p) reads of a few hundred rows: a column can equal
    another (or be constant) only if it does so on the first ``_HEAD_ROWS`` rows, so only
    such candidates are read in full, once each (exactly, value by value; -0.0 equals 0.0).
    """
    if X.shape[1] == 0:
        raise ValueError(f"{argument}: has no columns")
    head = X[:_HEAD_ROWS] + 0.0  # + 0.0 turns -0.0 into 0.0, so equal values have equal bytes
    _check_duplicates(X, head, names, argument)
    if fit_intercept and X.shape[0] > 1:
        candidates = np.flatnonzero(np.all(head == head[0], axis=0))
        constant = [names[j] for j in candidates if bool(np.all(X[:, j] == X[0, j]))]
        if constant:
            raise ValueError(
                f"{argument}: column(s) {', '.join(map(repr, constant))} are constant, which is "
                f"collinear with the intercept; drop them or pass fit_intercept=False"
            )


def as_design_like_fit(estimator, X):
    """``X`` at predict or transform time as a float array, checked against what ``fit`` saw:
    the number of columns (``n_features_in_``) and, for a DataFrame, their names
    (``feature_names_in_``)."""
    values, names = as_design(X, "X")
    expected = estimator.n_features_in_
    if values.shape[1] != expected:
        raise ValueError(
            f"X has {values.shape[1]} columns but {type(estimator).__name__} was fitted with "
            f"{expected} ({', '.join(estimator.feature_names_)})"
        )
    fitted_names = getattr(estimator, "feature_names_in_", None)
    if fitted_names is not None and hasattr(X, "columns") and list(names) != list(fitted_names):
        raise ValueError(
            f"X: column names {list(names)} differ from those seen in fit {list(fitted_names)}"
        )
    return values


def check_enough_rows(n_rows: int, n_params: int, model: str) -> None:
    """Inference needs more rows than parameters (residual degrees of freedom > 0)."""
    if n_rows <= n_params:
        raise ValueError(
            f"{model}: {n_rows} rows are too few for {n_params} parameters; need at least "
            f"{n_params + 1} for standard errors"
        )


def check_binary(y, name: str = "y"):
    """The two classes of a binary target, mapped to 0/1; anything else raises."""
    classes = np.unique(y)
    if classes.size != 2:
        shown = ", ".join(repr(float(c)) for c in classes[:6]) + (" …" if classes.size > 6 else "")
        raise ValueError(f"{name}: a binary model needs exactly 2 classes; got {classes.size} ({shown})")
    return classes, (y == classes[1]).astype(backend.float64)


def warn(message: str) -> None:
    """Issue a DataWarning (pointing at the user's call, not at this module)."""
    warnings.warn(message, DataWarning, stacklevel=3)


def _column_sums(values):
    """The column sums of each range of rows (:func:`row_parts.row_ranges`)."""
    def part(index, start, stop):
        rows = values[start:stop]
        if rows.flags.c_contiguous and stop - start < values.shape[0]:
            return np.einsum("ij->j", rows)  # on this thread's core (BLAS's 1'X on C order uses one)
        return np.ones(stop - start, dtype=values.dtype) @ rows

    return row_parts.map_ranges(part, row_parts.row_ranges(values.shape[0]))


def _check_finite(values, names, argument: str) -> None:
    # fast path, one read of X: 1'X is finite only if every entry is (NaN and ±inf reach the
    # column sum; an overflowing sum of finite values falls through to the exact check
    # below, which then finds nothing). A matrix-vector product reads a C-ordered X at
    # memory speed, where X.sum(axis=0) walks it several times slower; inside
    # row_parts.parallel_rows the rows are cut into one range per thread.
    if values.size == 0:
        return
    with np.errstate(over="ignore", invalid="ignore"):
        if all(bool(np.isfinite(total).all()) for total in _column_sums(values)):
            return
    bad = ~np.isfinite(values)
    if not bad.any():
        return
    counts = bad.sum(axis=0)
    details = ", ".join(
        f"{names[j]} ({int(counts[j])} of {values.shape[0]} rows, first at row {int(np.argmax(bad[:, j]))})"
        for j in np.flatnonzero(counts)
    )
    raise ValueError(
        f"{argument}: NaN or inf in column(s) {details}. chainrule drops nothing silently: "
        f"remove or impute those rows first"
    )


def _check_duplicates(X, head, names, argument: str) -> None:
    """Columns equal on the first rows are candidates; a digest of each candidate's full
    values splits them further; the remaining pairs are compared value by value."""
    pairs = []
    for group in _group_by(range(X.shape[1]), lambda j: head[:, j].tobytes()):
        if X.shape[0] > head.shape[0]:
            subgroups = _group_by(group, lambda j: _digest(X[:, j]))
        else:
            subgroups = [group]
        pairs += [pair for members in subgroups if (pair := _first_duplicate_pair(X, members))]
    if pairs:
        i, j = min(pairs, key=lambda pair: (pair[1], pair[0]))
        raise ValueError(f"{argument}: columns {names[i]!r} and {names[j]!r} are identical; drop one")


def _group_by(columns, key) -> list:
    """The groups (of two or more) of columns with equal keys."""
    groups = {}
    for j in columns:
        groups.setdefault(key(j), []).append(j)
    return [group for group in groups.values() if len(group) > 1]


def _digest(column) -> bytes:
    return hashlib.blake2b((column + 0.0).tobytes(), digest_size=16).digest()


def _first_duplicate_pair(X, members):
    """The first (i, j), i < j, with X[:, i] == X[:, j] exactly, in the order of j, or None."""
    for position, j in enumerate(members):
        for i in members[:position]:
            if np.array_equal(X[:, i], X[:, j]):
                return i, j
    return None
