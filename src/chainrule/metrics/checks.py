"""The input checks every metric shares: scikit-learn's rules, errors that name the metric and
the argument.

A metric takes NumPy arrays, lists, chainrule Tensors (on any device: copied to the host) and
pandas Series or DataFrames, and reads them as plain NumPy arrays. Class labels are 1-D
(a column vector ``(n, 1)`` is read as 1-D): numbers, booleans or strings, never a mix of
strings and numbers, never NaN; scores, probabilities and regression targets are finite
floating-point numbers. What scikit-learn's ``type_of_target`` calls the type of a label
vector is :func:`target_type`: "binary" (at most two distinct values), "multiclass" (more)
or "continuous" (floats that are not all whole numbers, which no classification metric
accepts).
"""
from __future__ import annotations

import numbers

from ..engine import backend
from ..engine.tensor import Tensor

np = backend.host

__all__ = ["UndefinedMetricWarning", "as_array", "as_labels", "as_scores", "as_weights", "check_lengths",
           "target_type", "union_of_labels", "classification_targets", "positive_label", "check_choice"]


class UndefinedMetricWarning(UserWarning):
    """A metric is not defined for the data given (a single class, no positive predictions …)
    and a conventional value (0, 1 or NaN, as scikit-learn returns) is returned instead;
    scikit-learn's ``UndefinedMetricWarning``."""


def as_array(value, name: str, metric: str):
    """``value`` as a NumPy array: a Tensor's values (copied to the host), a pandas object's
    ``to_numpy()``, or ``numpy.asarray`` of anything else."""
    if value is None:
        raise TypeError(f"{metric}: {name}: expected an array; got None")
    if isinstance(value, Tensor):
        return backend.to_host(value.detach().data)
    if hasattr(value, "to_numpy") and not isinstance(value, np.ndarray):  # pandas
        value = value.to_numpy()
    try:
        array = np.asarray(value)
    except (TypeError, ValueError) as error:
        raise TypeError(f"{metric}: {name}: expected an array-like; got {type(value).__name__} ({error})") from None
    if array.dtype.kind == "c":
        raise TypeError(f"{metric}: {name}: complex values are not supported")
    return array


def _one_dimensional(array, name: str, metric: str, what: str):
    if array.ndim == 2 and array.shape[1] == 1:
        array = array[:, 0]
    if array.ndim != 1:
        raise ValueError(f"{metric}: {name}: expected a 1-D array of {what}; got an array of shape {array.shape}")
    return array


def as_labels(value, name: str, metric: str):
    """A 1-D array of class labels (numbers, booleans or strings; no NaN, no mix of strings and
    numbers)."""
    array = _one_dimensional(as_array(value, name, metric), name, metric, "class labels")
    if array.dtype.kind == "O":
        kinds = {isinstance(v, str) for v in array.tolist()}
        if len(kinds) > 1:
            raise ValueError(f"{metric}: {name}: a mix of strings and numbers as labels; use one type")
        if kinds == {False}:
            import pandas  # only for object arrays: None, NaN and pandas.NA are all missing

            if pandas.isna(array).any():
                raise ValueError(f"{metric}: {name}: contains missing values (None, NaN or NA)")
            try:
                array = array.astype(np.float64) if not all(isinstance(v, bool) for v in array.tolist()) else array
            except (TypeError, ValueError):
                raise TypeError(f"{metric}: {name}: labels must be numbers, booleans or strings") from None
    if array.dtype.kind == "f" and not np.isfinite(array).all():
        raise ValueError(f"{metric}: {name}: contains NaN or infinity; labels must be finite")
    return array


def as_scores(value, name: str, metric: str, ndims=(1,), dtype=None):
    """A finite floating-point array with one of the dimensions ``ndims`` (a column vector
    counts as 1-D when 2-D is not allowed). ``dtype``: kept float32/float64 when None."""
    array = as_array(value, name, metric)
    if array.dtype.kind not in "biuf":
        raise TypeError(f"{metric}: {name}: expected numbers; got values of dtype {array.dtype}")
    if array.ndim == 2 and array.shape[1] == 1 and 2 not in ndims:
        array = array[:, 0]
    if array.ndim not in ndims:
        wanted = " or ".join(f"{d}-D" for d in ndims)
        raise ValueError(f"{metric}: {name}: expected a {wanted} array; got an array of shape {array.shape}")
    if dtype is None:
        dtype = array.dtype if array.dtype in (np.float32, np.float64) else np.float64
    array = array.astype(dtype, copy=False)
    if not np.isfinite(array).all():
        raise ValueError(f"{metric}: {name}: contains NaN or infinity")
    return array


def as_weights(sample_weight, n: int, metric: str):
    """``sample_weight`` as a 1-D float64 array of length n, or None."""
    if sample_weight is None:
        return None
    weights = as_scores(sample_weight, "sample_weight", metric)
    if weights.shape[0] != n:
        raise ValueError(f"{metric}: sample_weight has {weights.shape[0]} values for {n} samples")
    return weights.astype(np.float64, copy=False)


def check_lengths(metric: str, **arrays) -> int:
    """The common number of samples of ``arrays`` (at least one), or a ValueError naming them."""
    lengths = {name: int(array.shape[0]) for name, array in arrays.items() if array is not None}
    if len(set(lengths.values())) > 1:
        listed = ", ".join(f"{name} has {n}" for name, n in lengths.items())
        raise ValueError(f"{metric}: inconsistent numbers of samples: {listed}")
    n = next(iter(lengths.values()))
    if n == 0:
        raise ValueError(f"{metric}: empty input: at least one sample is needed")
    return n


def _is_string_kind(array) -> bool:
    return array.dtype.kind in "OUS"


def target_type(labels) -> str:
    """scikit-learn's ``type_of_target`` for 1-D labels: "binary", "multiclass" or "continuous"."""
    if labels.dtype.kind == "f" and np.any(labels != np.round(labels)):
        return "continuous"
    return "binary" if np.unique(labels).size <= 2 else "multiclass"


def union_of_labels(metric: str, **arrays):
    """The sorted distinct labels of all ``arrays`` (scikit-learn's ``unique_labels``); an error
    for a mix of string and number labels across them."""
    present = [a for a in arrays.values() if a is not None]
    kinds = {_is_string_kind(a) for a in present if a.size}
    if len(kinds) > 1:
        names = ", ".join(arrays)
        raise ValueError(f"{metric}: {names} mix string and number labels; use one type")
    return np.unique(np.concatenate([a.astype(object) if kinds == {True} else a for a in present]))


def classification_targets(metric: str, y_true, y_pred, sample_weight=None):
    """(type, labels, y_true, y_pred, weights) for two label vectors (scikit-learn's
    ``_check_targets``): "binary" or "multiclass"; continuous values are refused."""
    y_true, y_pred = as_labels(y_true, "y_true", metric), as_labels(y_pred, "y_pred", metric)
    n = check_lengths(metric, y_true=y_true, y_pred=y_pred)
    weights = as_weights(sample_weight, n, metric)
    for name, array in (("y_true", y_true), ("y_pred", y_pred)):
        if target_type(array) == "continuous":
            example = array[array != np.round(array)][0]
            raise ValueError(
                f"{metric}: {name} holds continuous values (e.g. {example!r}); expected class labels "
                f"(threshold scores or probabilities first, e.g. y_score > 0.5)"
            )
    labels = union_of_labels(metric, y_true=y_true, y_pred=y_pred)
    return ("binary" if labels.size <= 2 else "multiclass"), labels, y_true, y_pred, weights


def positive_label(pos_label, y_true, metric: str):
    """scikit-learn's ``_check_pos_label_consistency``: ``pos_label`` when given; else 1 when the
    labels lie in {0, 1} or {-1, 1} (or one of those values alone); else a ValueError."""
    if pos_label is not None:
        if not isinstance(pos_label, (numbers.Number, str, np.bool_)):
            raise TypeError(f"{metric}: pos_label: expected a label (number, boolean or string); got {pos_label!r}")
        return pos_label
    classes = np.unique(y_true)
    numeric = not _is_string_kind(classes)
    allowed = ([0, 1], [-1, 1], [0], [-1], [1])
    if numeric and classes.size <= 2 and any(classes.tolist() == a for a in allowed):
        return 1
    shown = ", ".join(repr(c) for c in classes.tolist())
    raise ValueError(
        f"{metric}: y_true takes values in {{{shown}}} and pos_label is not specified: either make y_true "
        f"take values in {{0, 1}} or {{-1, 1}} or pass pos_label explicitly"
    )


def check_choice(value, choices, name: str, metric: str):
    """``value`` if it is one of ``choices``, else a ValueError naming the argument."""
    if not any(value is c or (type(value) is type(c) and value == c) for c in choices):
        shown = ", ".join(repr(c) for c in choices)
        raise ValueError(f"{metric}: {name}: expected one of {shown}; got {value!r}")
    return value
