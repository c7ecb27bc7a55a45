"""Input checks for the estimators: nothing is dropped, cast or guessed silently.

Every check raises ``ValueError`` (``TypeError`` for sparse matrices and values that are
not numbers; a warning where a fit is still meaningful) with a message that names the
argument, what was expected and what was received: the column names for NaN/inf, constant
and duplicate columns, the row positions where useful.

The rules and the wording are scikit-learn's where its ``check_estimator`` looks for them
(tests/test_sklearn_estimator_checks.py runs it on every estimator): X must be 2-D (a 1-D
array is refused with "Reshape your data", since it may be one feature or one sample), with
at least one row and one column; sparse, complex and non-numeric data are refused, object
arrays of numbers converted; a column-vector y is raveled with a DataConversionWarning; at
predict time the column names (``feature_names_in_``, recorded when fit saw a DataFrame with
string column names) and the number of columns (``n_features_in_``) must match fit's.
"""
from __future__ import annotations

import hashlib
import warnings

from scipy import sparse as _sparse

from ..engine import backend
from ..engine.tensor import Tensor
from . import row_parts
from .estimator import feature_names_of, sklearn_twin

np = backend.host

_HEAD_ROWS = 256  # rows that pick the candidate duplicate and constant columns


class DataWarning(UserWarning):
    """A property of the data that a user should know about but that does not stop a fit."""


class DataConversionWarning(DataWarning):
    """The data were converted to what the estimator needs (a column-vector y raveled);
    scikit-learn's ``DataConversionWarning`` too once scikit-learn is imported."""


def as_design(X, name: str = "X", dtype=None):
    """``X`` as a 2-D float array and its column names.

    Accepts NumPy arrays, chainrule Tensors, pandas DataFrames (their column names are
    kept), nested lists and object arrays of numbers. Refused, with scikit-learn's wording
    where its checks look for it: sparse matrices, complex and non-numeric data, a 1-D
    array ("Reshape your data": one feature or one sample?), no rows or no columns, NaN and
    inf (naming the offending columns).
    """
    dtype = backend.float64 if dtype is None else backend.canonical_dtype(dtype, "dtype")
    _refuse_sparse(X, name)
    names = None
    if hasattr(X, "columns") and hasattr(X, "to_numpy"):  # a pandas DataFrame
        names = [str(c) for c in X.columns]
        non_numeric = [str(c) for c, kind in zip(X.columns, X.dtypes) if getattr(kind, "kind", "O") not in "biufc"]
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
    values = _numeric(values, name)
    if values.ndim != 2:
        _refuse_shape(values, name)
    if values.shape[0] == 0 or values.shape[1] == 0:
        raise ValueError(
            f"{name}: Found array with {values.shape[0]} sample(s) and {values.shape[1]} feature(s) "
            f"(shape={values.shape}) while a minimum of 1 is required; an estimator needs rows and columns"
        )
    if names is None:
        names = [f"x{j + 1}" for j in range(values.shape[1])]
    values = np.asarray(values, dtype=dtype)
    _check_finite(values, names, name)
    return values, names


def as_target(y, n_rows: int, name: str = "y", dtype=None):
    """``y`` as a 1-D float array of length ``n_rows``, and its name (Series name or "y").

    A column vector (n, 1) is raveled with a :class:`DataConversionWarning` (as scikit-learn
    does); object arrays of numbers are converted; None, sparse, complex and non-numeric
    targets are refused."""
    dtype = backend.float64 if dtype is None else backend.canonical_dtype(dtype, "dtype")
    values, target_name = _target_values(y, n_rows, name)
    values = _numeric(values, name)
    values = np.asarray(values, dtype=dtype)
    _check_finite(values[:, None], [target_name], name)
    return values, target_name


def as_labels(y, n_rows: int, name: str = "y"):
    """Class labels ``y`` as a 1-D array of length ``n_rows`` (numbers, strings, booleans or
    objects: any labels ``numpy.unique`` can sort), and its name.

    Refused: what :func:`as_target` refuses, missing labels (NaN, None), and a continuous
    target (floats that are not whole numbers), with scikit-learn's "Unknown label type"."""
    values, target_name = _target_values(y, n_rows, name)
    if values.dtype.kind == "c":
        raise ValueError(f"{name}: Complex data not supported; got dtype {values.dtype}")
    if values.dtype.kind == "f":
        _check_finite(values[:, None], [target_name], name)
        if values.size and not np.all(values == np.round(values)):
            example = values[np.flatnonzero(values != np.round(values))[0]]
            raise ValueError(
                f"{name}: Unknown label type: continuous (the value {example:g} is not a whole number); a "
                f"classifier needs class labels; for a continuous target use a regressor"
            )
    if values.dtype.kind == "O":
        missing = [i for i, v in enumerate(values) if v is None or (isinstance(v, float) and v != v)]
        if missing:
            raise ValueError(f"{name}: missing class labels (None or NaN) at rows {missing[:10]}")
        try:
            np.unique(values)
        except TypeError:
            kinds = sorted({type(v).__name__ for v in values})
            raise ValueError(
                f"{name}: Unknown label type: the labels mix types ({', '.join(kinds)}) that cannot be sorted"
            ) from None
    elif values.dtype.kind not in "biufUS":
        raise ValueError(f"{name}: Unknown label type: expected class labels; got dtype {values.dtype}")
    return values, target_name


def _target_values(y, n_rows: int, name: str):
    """The raw 1-D values of a target and its name: the checks :func:`as_target` and
    :func:`as_labels` share (None, sparse, shape, length)."""
    if y is None:
        raise ValueError(
            f"{name}: this estimator requires y to be passed, but the target y is None"
        )
    _refuse_sparse(y, name)
    target_name = str(y.name) if getattr(y, "name", None) is not None and hasattr(y, "to_numpy") else name
    if hasattr(y, "to_numpy"):
        values = y.to_numpy()
    elif isinstance(y, Tensor):
        values = y.numpy()
    else:
        values = np.asarray(y)
    if values.ndim == 2 and values.shape[1] == 1:
        warnings.warn(
            f"A column-vector y was passed when a 1d array was expected. Please change the shape of "
            f"{name} to (n_samples, ), for example using ravel(); got shape {values.shape}",
            sklearn_twin(DataConversionWarning, "DataConversionWarning"), stacklevel=4,
        )
        values = values[:, 0]
    if values.ndim != 1:
        raise ValueError(f"{name}: expected a 1-D target; got shape {values.shape}")
    if values.shape[0] != n_rows:
        raise ValueError(f"{name} has {values.shape[0]} rows but X has {n_rows}; they must match")
    return values, target_name


def _refuse_sparse(X, name: str) -> None:
    if _sparse.issparse(X):
        raise TypeError(
            f"{name}: sparse input is not supported (got a {type(X).__name__} of shape {X.shape}): "
            f"chainrule.stats needs dense data; convert it with {name}.toarray()"
        )


def _numeric(values, name: str):
    """``values`` with a real numeric dtype: object arrays of numbers converted; complex and
    other non-numeric data refused (the TypeError or ValueError of the failed conversion,
    with NumPy's reason)."""
    kind = values.dtype.kind
    if kind in "biuf":
        return values
    if kind == "c":
        raise ValueError(f"{name}: Complex data not supported; got dtype {values.dtype}")
    if kind == "O":
        try:
            return values.astype(backend.float64)
        except (TypeError, ValueError) as error:
            raise type(error)(f"{name}: expected numeric data; the object array holds a value that "
                              f"is not a number: {error}") from None
    raise ValueError(f"{name}: expected numeric data; got dtype {values.dtype}")


def _refuse_shape(values, name: str) -> None:
    """The error for an X that is not 2-D, with scikit-learn's "Reshape your data"."""
    if values.ndim == 1:
        raise ValueError(
            f"{name}: Expected 2D array, got 1D array instead (shape {values.shape}). Reshape your data "
            f"either using {name}.reshape(-1, 1) if it has a single feature or {name}.reshape(1, -1) if "
            f"it is a single sample"
        )
    if values.ndim == 0:
        raise ValueError(f"{name}: Expected 2D array, got a scalar ({values!r}) instead")
    raise ValueError(f"{name}: expected a 2-D array (rows x columns); got shape {values.shape}")


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


# Beyond these magnitudes the squares (and the sums of squares every estimator forms) leave
# float64's range (about 1e-308 .. 1.8e308): they overflow to inf or underflow to zero.
SCALE_LARGEST = 1e150
SCALE_SMALLEST = 1e-150


def check_scale(values, names, argument: str = "X", model: str = "") -> None:
    """Refuse columns whose values are so large (|x| > 1e150) or so small (0 < max |x| < 1e-150)
    that their squares overflow or underflow float64, naming them and their order of magnitude:
    the fit would otherwise fail with a misleading message ("collinear", "all zero", a NaN) or
    return zeros silently. ``values`` is 2-D (a target: one column)."""
    if values.size == 0:
        return
    largest = np.max(np.abs(values), axis=0)
    for j in np.flatnonzero((largest > SCALE_LARGEST) | ((largest > 0) & (largest < SCALE_SMALLEST))):
        order = int(np.floor(np.log10(largest[j])))
        big = largest[j] > SCALE_LARGEST
        prefix = f"{model}: " if model else ""
        raise ValueError(
            f"{prefix}{argument}: column {names[j]!r} has values of order 1e{order} (largest |value| "
            f"{largest[j]:.3g}), whose squares {'overflow' if big else 'underflow'} float64: rescale it "
            f"({'divide' if big else 'multiply'} it by 1e{abs(order)}, or change its units) and fit again"
        )


def as_design_like_fit(estimator, X, name: str = "X"):
    """``X`` at predict or transform time as a float array, checked against what ``fit`` saw,
    as scikit-learn checks it (with its wording): the column names when fit and X both have
    them (``feature_names_in_``: the same names in the same order, or a ValueError listing the
    unseen and the missing ones), then the number of columns (``n_features_in_``). Raises
    NotFittedError before ``fit``."""
    estimator._check_fitted()
    check_feature_names(estimator, X)
    values, _ = as_design(X, name)
    expected = estimator.n_features_in_
    if values.shape[1] != expected:
        fitted = getattr(estimator, "feature_names_", None)
        shown = f" ({', '.join(map(str, fitted[:10]))}{' …' if len(fitted) > 10 else ''})" if fitted else ""
        raise ValueError(
            f"{name} has {values.shape[1]} features, but {type(estimator).__name__} is expecting {expected} "
            f"features as input{shown}"
        )
    return values


def check_feature_names(estimator, X) -> None:
    """Compare the column names of a DataFrame X with ``feature_names_in_`` (scikit-learn's
    messages). Unlike scikit-learn, no warning when only one of them has names: a plain array
    after a DataFrame fit (or a DataFrame after an array fit) is read by position."""
    fitted = getattr(estimator, "feature_names_in_", None)
    given = feature_names_of(X)
    if fitted is None or given is None:
        return
    if len(fitted) == len(given) and np.all(fitted == given):
        return
    unseen = sorted(set(given) - set(fitted))
    missing = sorted(set(fitted) - set(given))
    message = "The feature names should match those that were passed during fit.\n"
    if unseen:
        message += "Feature names unseen at fit time:\n" + _name_list(unseen)
    if missing:
        message += "Feature names seen at fit time, yet now missing:\n" + _name_list(missing)
    if not unseen and not missing:
        message += "Feature names must be in the same order as they were in fit.\n"
    raise ValueError(message)


def _name_list(names) -> str:
    shown = "".join(f"- {name}\n" for name in names[:5])
    return shown + ("- ...\n" if len(names) > 5 else "")


def check_enough_rows(n_rows: int, n_params: int, model: str) -> None:
    """Inference needs more rows than parameters (residual degrees of freedom > 0)."""
    if n_rows <= n_params:
        raise ValueError(
            f"{model}: {n_rows} rows are too few for {n_params} parameters (n_samples={n_rows}); need at least "
            f"{n_params + 1} for standard errors"
        )


def check_binary(y, name: str = "y", model: str = "Logit"):
    """The two classes of a binary target (sorted), and y mapped to 0/1 (1 for the second).

    One class, or more than two, raise ValueError (scikit-learn's wording: "Only binary
    classification is supported")."""
    classes = np.unique(y)
    if classes.size != 2:
        shown = ", ".join(repr(c.item() if hasattr(c, "item") else c) for c in classes[:6])
        shown += " …" if classes.size > 6 else ""
        if classes.size < 2:
            raise ValueError(f"{name}: {model} needs 2 classes; got {classes.size} class ({shown})")
        raise ValueError(
            f"{name}: Only binary classification is supported by {model}; the target is multiclass, "
            f"with {classes.size} classes ({shown}): use MNLogit for more than 2 classes"
        )
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
