"""Type inference: deciding what each column of a table is.

A column is **numeric** (int/float dtype), **boolean** (bool dtype, or only True/False
values) or **categorical** (pandas Categorical, string or object dtype). Columns that cannot
be encoded are refused with a :class:`~chainrule.tabular.DataError` that says what to do:
dates and time spans (derive numeric features first), complex numbers, a text column that is
mostly numbers (typos or a missing-value marker), and a categorical column with more levels
than ``max_levels`` (an identifier or free text). A feature that takes a single value is
**constant** and dropped with a :class:`~chainrule.tabular.DataWarning`.

The target's kind decides the task under ``task="auto"`` (:func:`decide_task`): boolean or
categorical → classification; integer with at most :data:`MAX_AUTO_CLASSES` distinct values
→ classification, with more → regression; float → regression. Levels and classes are in
declared order for a pandas Categorical, otherwise sorted.

New data given to a fitted encoder must still read as the kinds it was fitted with
(:func:`check_kinds_match`).
"""
from __future__ import annotations

import re
import warnings

import numpy as np
import pandas as pd
from pandas.api import types as ptypes

from .errors import DataError, DataWarning

#: ``task="auto"``: an integer target with at most this many distinct values is a class label.
MAX_AUTO_CLASSES = 20

_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}([ T]\d{2}:\d{2}(:\d{2}(\.\d+)?)?([+-]\d{2}:?\d{2}|Z)?)?$")
# Dates in other (and mixed) formats: 03/04/2021, 4.3.2021, 2021/3/4, 5 Jan 2022, January 5, 2022 …
# (a value must match one of these, with a 4-digit year, before pandas parses it: "12", "1.2.3" never count)
_TIME = r"([ T]\d{1,2}:\d{2}(:\d{2}(\.\d+)?)?( ?[AaPp][Mm])?)?"
_NUMERIC_DATE = re.compile(r"^(\d{4}([-/.])\d{1,2}\2\d{1,2}|\d{1,2}([-/.])\d{1,2}\3\d{4})" + _TIME + "$")
_MONTH = r"(jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec)[a-z]*\.?"
_NAMED_DATE = re.compile(
    r"^((\d{1,2}[ -]" + _MONTH + r"[ ,-]*\d{2,4})|(" + _MONTH + r" \d{1,2},? \d{4}))" + _TIME + "$", re.IGNORECASE)
_NESTED_TYPES = (list, tuple, dict, set, np.ndarray)


# --------------------------------------------------------------------------- column kinds


def infer_kind(series, column):
    """"numeric", "boolean" or "categorical"; DataError for dates and unusable dtypes."""
    _refuse_nested(series, column)
    _refuse_dates(series, column)
    if ptypes.is_bool_dtype(series.dtype) or _is_object_bool(series):
        return "boolean"
    if ptypes.is_complex_dtype(series.dtype):
        raise DataError(f"column {column!r} holds complex numbers; expected real numbers, booleans or categories")
    if ptypes.is_numeric_dtype(series.dtype):
        return "numeric"
    if isinstance(series.dtype, pd.CategoricalDtype) or ptypes.is_object_dtype(series.dtype) \
            or ptypes.is_string_dtype(series.dtype):
        _refuse_mostly_numeric_text(series, column)
        return "categorical"
    raise DataError(f"column {column!r} has dtype {series.dtype}, which cannot be encoded; "
                    f"expected numbers, booleans or categories")


def common_dtype(dtypes):
    """The dtype a concatenation of chunks with these dtypes would have (numeric: numpy promotion)."""
    unique = list(dict.fromkeys(dtypes))
    if len(unique) == 1:
        return unique[0]
    if all(isinstance(d, np.dtype) and d.kind in "iuf" for d in unique):
        return np.result_type(*unique)
    return np.dtype(object)


def _refuse_dates(series, column):
    dtype = series.dtype
    is_date = ptypes.is_datetime64_any_dtype(dtype) or isinstance(dtype, pd.PeriodDtype)
    if not is_date and (ptypes.is_object_dtype(dtype) or ptypes.is_string_dtype(dtype)) \
            and not isinstance(dtype, pd.CategoricalDtype):
        values = pd.unique(series.dropna())
        is_date = len(values) > 0 and all(isinstance(v, str) and bool(_ISO_DATE.match(v)) for v in values)
        is_date = is_date or _dates_in_other_formats(values)
    if is_date:
        raise DataError(
            f"column {column!r} holds dates/times, which cannot be used directly; derive numeric or "
            f"categorical features from it first (e.g. year, month, day of week, days since a start "
            f"date) and drop the date column, or leave it out of the features")
    if ptypes.is_timedelta64_dtype(dtype):
        raise DataError(f"column {column!r} holds time spans (timedelta); convert it to a number first, "
                        f"e.g. days = column.dt.total_seconds() / 86400")


def _dates_in_other_formats(values) -> bool:
    """Every value a date written as 03/04/2021, 2021/3/4, 5 Jan 2022 … (formats possibly mixed)
    that pandas parses."""
    if len(values) == 0 or not all(isinstance(v, str) and (_ISO_DATE.match(v) or _NUMERIC_DATE.match(v.strip())
                                                           or _NAMED_DATE.match(v.strip())) for v in values):
        return False
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        parsed = pd.to_datetime(pd.Series(values, dtype=object), format="mixed", errors="coerce")
    return bool(parsed.notna().all())


def _refuse_nested(series, column):
    """A column of lists, arrays or structs (dicts), e.g. a Parquet list or struct column."""
    if not ptypes.is_object_dtype(series.dtype):
        return
    sample = series.dropna().head(1000)
    nested = next((v for v in sample if isinstance(v, _NESTED_TYPES)), None)
    if nested is not None:
        what = "structs (records)" if isinstance(nested, dict) else "lists (arrays)"
        raise DataError(
            f"column {column!r} holds {what}, not single values (a Parquet list or struct column); it cannot "
            f"be encoded: flatten it into columns of numbers or categories first, or leave it out of the features"
        )


def _is_object_bool(series):
    if not ptypes.is_object_dtype(series.dtype):
        return False
    values = pd.unique(series.dropna())
    return len(values) > 0 and all(isinstance(v, (bool, np.bool_)) for v in values)


def _refuse_mostly_numeric_text(series, column):
    """A text column whose values are mostly numbers is a numeric column with typos."""
    if isinstance(series.dtype, pd.CategoricalDtype):
        return
    values = series.dropna()
    distinct = pd.unique(values)
    text = [v for v, number in zip(distinct, pd.to_numeric(pd.Series(distinct, dtype=object), errors="coerce"))
            if pd.isna(number)]
    if not text or len(text) == len(distinct):
        return
    n_text = int(values.isin(text).sum())
    if n_text * 2 < len(values):
        examples = sorted(map(str, text))[:5]
        raise DataError(f"column {column!r} is mostly numbers but {n_text} value(s) are text, e.g. {examples}; "
                        f"fix them or mark them as missing (empty cells) so the column reads as numeric")


# --------------------------------------------------------------------------- the task


def decide_task(column, kind, dtype, distinct, requested):
    """Return (task, rule): "regression" or "classification", and why (see TabularEncoder).

    ``distinct`` is the number of distinct non-missing target values (used only for an
    integer dtype).
    """
    if requested == "regression":
        if kind != "numeric":
            raise DataError(f"task='regression' needs a numeric target, but {column!r} is {kind} "
                            f"(dtype {dtype}); use task='classification'")
        return "regression", "task='regression' requested"
    if requested == "classification":
        return "classification", "task='classification' requested"
    if kind != "numeric":
        return "classification", f"target {column!r} is {kind} (dtype {dtype}): classification"
    if ptypes.is_integer_dtype(dtype):
        if distinct <= MAX_AUTO_CLASSES:
            return "classification", (f"target {column!r} is integer with {distinct} distinct values "
                                      f"(<= {MAX_AUTO_CLASSES}): classification")
        return "regression", (f"target {column!r} is integer with more than {MAX_AUTO_CLASSES} distinct "
                              f"values: regression")
    return "regression", f"target {column!r} is float (dtype {dtype}): regression"


def classification_task(classes):
    """"binary" for two classes, "multiclass" for more."""
    return "binary" if len(classes) == 2 else "multiclass"


# --------------------------------------------------------------------------- levels, classes, constants


def distinct_labels(series, kind):
    """Distinct non-missing values: as str for categorical columns, else as Python scalars."""
    values = pd.unique(series.dropna())
    if kind == "categorical":
        return {str(v) for v in values}
    return {python_scalar(v) for v in values}


def declared_order(series):
    """A pandas Categorical's categories (as str), or None for other dtypes."""
    if isinstance(series.dtype, pd.CategoricalDtype):
        return [str(c) for c in series.cat.categories]
    return None


def target_classes(labels, declared, column):
    """The classes of a classification target, ordered; a single class is refused."""
    classes = _ordered(labels, declared)
    if len(classes) < 2:
        raise DataError(f"classification target {column!r} has a single class {classes}; "
                        f"a classifier needs at least two")
    return classes


def category_levels(labels, declared, column, max_levels):
    """The levels of a categorical feature, ordered; more than ``max_levels`` is an identifier."""
    if len(labels) > max_levels:
        raise DataError(f"categorical column {column!r} has {len(labels)} distinct values (more than "
                        f"max_levels={max_levels}); it looks like an identifier or free text — drop it, "
                        f"or list the features explicitly")
    return _ordered(labels, declared)


def constant_columns(features, labels):
    """The features that take a single value (at most one distinct label in ``labels[column]``)."""
    return [c for c in features if len(labels[c]) <= 1]


def warn_constant(constant, labels, n_rows):
    """A DataWarning per constant column (one distinct value in ``labels[column]``): it is dropped."""
    for column in constant:
        value = next(iter(labels[column]), None)
        warnings.warn(f"column {column!r} takes a single value ({value!r}) on all {n_rows} "
                      f"usable rows; it is dropped from the features", DataWarning, stacklevel=4)


def python_scalar(value):
    """A NumPy scalar as the equivalent Python scalar (labels compare and serialize as such)."""
    return value.item() if isinstance(value, np.generic) else value


def _ordered(labels, declared):
    """Declared category order where there is one (labels not declared follow, sorted), else sorted."""
    if declared is None:
        return sorted(labels)
    return [c for c in declared if c in labels] + sorted(labels - set(declared))


# --------------------------------------------------------------------------- new data against fitted kinds


def check_kinds_match(frame, kinds):
    """Each column of ``frame`` must still read as the kind in ``kinds`` (column → kind)."""
    for column, kind in kinds.items():
        series = frame[column]
        _refuse_dates(series, column)
        if kind == "numeric":
            require_numeric(series, column)
        elif kind == "boolean":
            _require_boolean(series, column)


def require_numeric(series, column):
    """A column fitted as numeric must have a numeric dtype here; name the non-numeric values."""
    if ptypes.is_numeric_dtype(series.dtype) and not ptypes.is_bool_dtype(series.dtype):
        return
    text = series.dropna()
    bad = text[pd.to_numeric(text, errors="coerce").isna()] if len(text) else text
    examples = sorted(map(str, pd.unique(bad)))[:5]
    raise DataError(f"column {column!r} was numeric when fitted but has dtype {series.dtype} here"
                    + (f", with non-numeric values {examples}" if examples else ""))


def _require_boolean(series, column):
    if ptypes.is_bool_dtype(series.dtype):
        return
    values = pd.unique(series.dropna())
    bad = [v for v in values if not (isinstance(v, (bool, np.bool_)) or (
        isinstance(v, (int, float, np.integer, np.floating)) and v in (0, 1)))]
    if bad:
        examples = sorted(map(str, bad))[:5]
        raise DataError(f"column {column!r} was boolean when fitted but has values {examples} here; "
                        f"expected True/False (or 1/0)")
