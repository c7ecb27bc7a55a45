"""Encoding a table's columns into a model matrix: :class:`TabularEncoder`.

The encoder's fitted state is what it learned from the training table (the feature columns
and their kinds, the categorical levels, the classes, the imputation values, the
standardization mean and scale); :meth:`TabularEncoder.transform` applies exactly that to
new data, and :meth:`~TabularEncoder.to_dict` / :meth:`~TabularEncoder.from_dict` save and
restore it. Categorical columns get treatment (one-hot) coding against their first level.
What each column is comes from :mod:`chainrule.tabular.inference`; the scan that gathers the
statistics from a frame or from chunks is :mod:`chainrule.tabular.profile`.
"""
from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from .errors import DataError, DataWarning
from .inference import (
    category_levels,
    check_kinds_match,
    classification_task,
    constant_columns,
    python_scalar,
    require_numeric,
    target_classes,
    warn_constant,
)
from .missing import (
    check_finite,
    check_rows_left,
    complete_rows,
    fill_missing,
    imputation_values,
    missing_counts,
    missing_message,
)
from .profile import TableProfile, chunk_frames, chunk_rows_mask, rows_mask
from .reading import duplicate_names

#: A categorical feature with more levels than this is refused (likely an identifier column).
DEFAULT_MAX_LEVELS = 100

_TASKS = ("auto", "regression", "classification")
_IMPUTE = (None, "mean", "median")
_ENCODER_FORMAT = "chainrule.TabularEncoder"
_ENCODER_VERSION = 1


# --------------------------------------------------------------------------- encoding


class TabularEncoder:
    """Turn a DataFrame into a float64 design matrix ``X`` and a target vector ``y``.

    Parameters
    ----------
    target : str
        The column to predict.
    features : list of str, optional
        The input columns, in order. Default: every column except ``target``.
    task : {"auto", "regression", "classification"}
        ``"auto"`` decides from the target column (the rule is stored in ``task_rule_``):

        * boolean, categorical, string/object dtype → classification;
        * integer dtype with at most :data:`MAX_AUTO_CLASSES` (20) distinct values →
          classification, with more → regression;
        * float dtype → regression. (pandas reads an integer column that has missing
          values as float; pass ``task="classification"`` for such a target.)
    dropna : bool
        Drop rows with a missing value in a used column (after imputation, if any).
        Without it, missing values that imputation does not fill raise :class:`DataError`
        listing each column with its count.
    impute : {None, "mean", "median"}
        Fill missing values of numeric features with that column's mean or median over the
        fitting rows (``standardize_rows`` when given). Categorical, boolean and target
        columns are never imputed.
    standardize : bool
        Standardize numeric features: ``z = (x - mean) / scale`` with the mean and the
        population standard deviation ``scale = sqrt(mean((x - mean)^2))`` (ddof = 0, as
        scikit-learn's ``StandardScaler``) computed over the training rows only. Dummy
        (one-hot) and boolean columns stay 0/1 so their coefficients remain contrasts.
    max_levels : int
        A categorical feature with more distinct levels raises :class:`DataError` (it is
        most likely an identifier; drop it or list ``features`` explicitly).

    Encoding
    --------
    * numeric (int/float) columns: kept as float64, feature name = column name;
    * boolean columns (bool dtype, or only True/False values): 1.0/0.0, name = column name;
    * categorical/string columns: values compared as ``str(value)``; levels are the
      categories in declared order for a pandas ``Categorical``, otherwise sorted; the
      first level is the reference and each other level ``L`` gives a 0/1 column named
      ``column[T.L]`` (patsy/statsmodels treatment coding);
    * date/time columns are refused (derive numeric features such as year, month,
      day of week first); a string column holding mostly numbers but some text is refused
      naming the text values (likely a typo or a missing-value marker).

    Classification targets become int64 class ids ``0..K-1`` indexing ``classes_``
    (the original labels, sorted; declared order for a pandas Categorical). Regression
    targets become float64.

    Fitted attributes
    -----------------
    input_columns_ : list of str — the feature columns used (constant ones excluded)
    feature_names_ : list of str — the columns of ``X``
    column_kinds_ : dict — column → "numeric" | "boolean" | "categorical" (used features)
    levels_ : dict — categorical column → list of levels (str), the first is the reference
    task_ : "regression" | "binary" | "multiclass";  task_rule_ : str — why
    classes_ : list or None — original target labels, index = class id
    dropped_constant_ : list of str — features dropped because they take one value
    n_rows_in_, n_rows_dropped_, n_rows_used_ : int — rows given, dropped (dropna), used
    missing_counts_ : dict — column → number of missing values (columns with any)
    impute_values_ : dict — numeric feature → fill value (empty without ``impute``)
    mean_, scale_ : float64 arrays of length ``len(feature_names_)`` (0 and 1 for columns
        not standardized), or None without ``standardize``
    n_rows_standardize_ : int or None — rows the mean/scale were computed from
    last_kept_rows_ : int64 array — positions (0-based) in the last frame given to
        :meth:`transform` of the rows that are the rows of the returned ``X`` and ``y``;
        use it to align predictions with the input rows when ``dropna`` drops some.

    Saving: ``to_dict()`` / ``TabularEncoder.from_dict(d)`` (JSON-serializable).
    Tables larger than memory: :meth:`fit_chunks` (two passes over the chunks), then
    :meth:`transform` chunk by chunk.

    Example
    -------
    >>> enc = TabularEncoder("y", standardize=True)
    >>> X, y = enc.fit_transform(frame, standardize_rows=train_index)   # doctest: +SKIP
    >>> X_new, _ = enc.transform(new_frame, require_target=False)      # doctest: +SKIP
    >>> enc.fit_chunks(lambda: iter_table_chunks("big.csv"))            # doctest: +SKIP
    """

    def __init__(self, target, features=None, *, task="auto", dropna=False, impute=None,
                 standardize=False, max_levels=DEFAULT_MAX_LEVELS):
        self.target = target
        self.features = features
        self.task = task
        self.dropna = dropna
        self.impute = impute
        self.standardize = standardize
        self.max_levels = max_levels

    # ----------------------------------------------------------------- public API

    def fit(self, frame, standardize_rows=None):
        """Learn the encoding from ``frame``; return ``self``.

        The structure (features, kinds, levels, constant columns, classes) comes from every
        usable row; the imputation values and the standardization mean/scale come from the
        rows selected by ``standardize_rows`` (positional indices or a boolean mask over
        the rows of ``frame``, typically the training split), or from all usable rows.
        """
        self._check_params()
        frame = _check_frame(frame)
        profile = TableProfile(self.target, self._resolve_features(frame))
        profile.scan_types(frame)
        profile.count_target_values(frame[self.target])
        profile.finish_types()
        profile.decide_task(self.task)
        self._check_missing_handled(profile)
        train_mask = rows_mask(standardize_rows, len(frame))
        if self.impute:
            profile.impute_values = imputation_values(frame, profile.numeric_features(), train_mask, self.impute)
        profile.scan_usable_rows(frame, train_mask, self.standardize)
        self._apply_profile(profile)
        return self

    def fit_chunks(self, chunks, standardize_rows=None):
        """Learn the encoding from a table read in chunks (two passes); return ``self``.

        For tables larger than memory (``iter_table_chunks``). ``chunks`` is a callable
        with no arguments that returns a fresh iterable of DataFrames each time; it is
        called twice: pass 1 infers column kinds, counts missing values, checks for
        infinities and sums the imputation means; pass 2 collects levels, classes,
        constant columns and the standardization statistics, merging per-chunk
        (count, mean, M2 = sum of squared deviations) with Chan et al.'s (1979) update
        ``M2 = M2_a + M2_b + d^2 n_a n_b / n`` with ``d = mean_b - mean_a``.
        The fitted encoder equals ``fit(pd.concat(chunks))`` (statistics to rounding),
        provided each column reads with the same kind in every chunk.

        ``standardize_rows``: None (all rows), a callable ``chunk -> boolean mask``, or a
        boolean mask / integer positions over the whole table, matched against each
        chunk's index (``iter_table_chunks`` numbers rows 0, 1, ... across chunks).
        ``impute="median"`` is refused here: an exact median needs the whole column.
        Then transform each chunk with :meth:`transform`.
        """
        self._check_params()
        if not callable(chunks):
            raise TypeError("fit_chunks: chunks must be a zero-argument callable returning an iterable of "
                            "DataFrames (it is read twice), e.g. lambda: iter_table_chunks(path); "
                            f"got {type(chunks).__name__}")
        if self.impute == "median":
            raise ValueError("fit_chunks: impute='median' needs the whole column in memory; use "
                             "impute='mean', or read the table whole and call fit()")
        profile = None
        for chunk in chunk_frames(chunks, "first"):
            if profile is None:
                profile = TableProfile(self.target, self._resolve_features(chunk), list(chunk.columns))
            profile.check_same_columns(chunk)
            profile.scan_types(chunk)
            profile.count_target_values(chunk[self.target])
            if self.impute:
                profile.add_impute_sums(chunk, chunk_rows_mask(standardize_rows, chunk))
        profile.finish_types()
        profile.decide_task(self.task)
        self._check_missing_handled(profile)
        if self.impute:
            profile.finish_impute_means()
        for chunk in chunk_frames(chunks, "second"):
            profile.check_same_columns(chunk)
            profile.scan_usable_rows(chunk, chunk_rows_mask(standardize_rows, chunk), self.standardize)
        self._apply_profile(profile)
        return self

    def usable_rows(self, frame):
        """Positions (0-based) of the rows :meth:`fit` would use, without fitting.

        All rows, unless ``dropna`` drops some: then the rows complete in every used column
        after imputation (numeric features are filled when ``impute`` is set). Lets a caller
        split training/validation rows among the usable ones before calling ``fit``.
        Raises the same :class:`DataError` as ``fit`` for absent columns, dates, infinities
        and unhandled missing values.
        """
        self._check_params()
        frame = _check_frame(frame)
        profile = TableProfile(self.target, self._resolve_features(frame))
        profile.scan_types(frame)
        profile.finish_types()
        self._check_missing_handled(profile)
        filled_by_imputation = set(profile.numeric_features()) if self.impute else set()
        columns = [c for c in profile.columns if c not in filled_by_imputation]
        rows = np.flatnonzero(complete_rows(frame, columns)).astype(np.int64)
        check_rows_left(len(rows), "after dropping rows with missing values",
                        missing_counts(frame, columns), len(frame))
        return rows

    def _apply_profile(self, profile):
        """Turn the statistics gathered by fit/fit_chunks into the fitted attributes."""
        filled = set(profile.impute_values or ()) if self.impute else set()
        check_rows_left(profile.n_rows_used, "after dropping rows with missing values",
                        {c: n for c, n in profile.missing.items() if c not in filled}, profile.n_rows_in)
        if profile.n_rows_train == 0:
            raise DataError("standardize_rows selects no usable rows (all of them have missing values)")
        task, rule = profile.task, profile.rule
        constant = constant_columns(profile.features, profile.labels)
        warn_constant(constant, profile.labels, profile.n_rows_used)
        features = [c for c in profile.features if c not in constant]
        if not features:
            raise DataError(f"no usable feature columns: every feature is constant ({constant})")
        kinds = profile.kinds
        self.task_, self.task_rule_, self.target_kind_ = task, rule, profile.target_kind
        self.classes_ = None
        if task == "classification":
            self.classes_ = target_classes(profile.labels[self.target], profile.declared.get(self.target), self.target)
            self.task_ = classification_task(self.classes_)
        self.input_columns_ = features
        self.column_kinds_ = {c: kinds[c] for c in features}
        self.dtypes_ = {c: profile.dtypes[c] for c in features + [self.target]}
        self.levels_ = {c: category_levels(profile.labels[c], profile.declared.get(c), c, self.max_levels)
                        for c in features if kinds[c] == "categorical"}
        self.feature_names_ = _feature_names(features, self.column_kinds_, self.levels_)
        self.dropped_constant_ = constant
        self.n_rows_in_ = profile.n_rows_in
        self.n_rows_dropped_ = profile.n_rows_in - profile.n_rows_used
        self.n_rows_used_ = profile.n_rows_used
        self.missing_counts_ = {c: n for c, n in profile.missing.items() if n > 0}
        self.impute_values_ = {c: v for c, v in profile.impute_values.items() if c in features}
        self.mean_, self.scale_, self.n_rows_standardize_ = None, None, None
        if self.standardize:
            self._set_scaling(profile.moments, profile.n_rows_train)

    def transform(self, frame, *, require_target=True, strict=False):
        """Encode ``frame`` exactly as fitted; return ``(X, y)``.

        ``X`` is float64 of shape (n, len(feature_names_)); ``y`` is float64 (regression)
        or int64 class ids (classification). ``require_target=False`` encodes the features
        only, for prediction: the target column is not needed and, if present, ignored (its
        missing values or new labels do not matter) and ``y`` is None. Missing numeric
        values are imputed with the fitted values; with ``dropna`` rows still incomplete are
        dropped, and ``last_kept_rows_`` holds the positions (0-based) of the rows returned.
        ``strict=True`` also refuses columns the encoder does not use.
        """
        self._check_fitted()
        frame = _check_frame(frame)
        has_target = require_target
        if require_target and self.target not in frame.columns:
            raise DataError(f"target column {self.target!r} is missing; the data has columns {list(frame.columns)}")
        self._check_columns(frame, strict)
        columns = self.input_columns_ + ([self.target] if has_target else [])
        check_kinds_match(frame, self.column_kinds_)
        numeric = [c for c in self.input_columns_ if self.column_kinds_[c] == "numeric"]
        if has_target and self.task_ == "regression":
            numeric.append(self.target)
            require_numeric(frame[self.target], self.target)
        check_finite(frame, numeric)
        filled = fill_missing(frame, self.impute_values_)
        keep = complete_rows(filled, columns)
        if not self.dropna and not keep.all():
            raise DataError(missing_message(missing_counts(filled, columns), self.impute))
        check_rows_left(int(keep.sum()), "after dropping rows with missing values")
        used = filled if keep.all() else filled[keep]
        X = _encode_features(used, self.input_columns_, self.column_kinds_, self.levels_)
        if self.mean_ is not None:
            X -= self.mean_  # in place: X is a fresh array
            X /= self.scale_
        y = self._encode_target(used[self.target]) if has_target else None
        self.last_kept_rows_ = np.flatnonzero(keep).astype(np.int64)
        return X, y

    def fit_transform(self, frame, standardize_rows=None):
        """``fit(frame, standardize_rows)`` then ``transform(frame)``."""
        return self.fit(frame, standardize_rows).transform(frame)

    def summary(self) -> dict:
        """A JSON-able description of what was inferred and done, for reports and metrics.json."""
        self._check_fitted()
        return {
            "rows": {"in": self.n_rows_in_, "dropped_incomplete": self.n_rows_dropped_, "used": self.n_rows_used_},
            "target": {"column": self.target, "dtype": self.dtypes_[self.target], "kind": self.target_kind_,
                       "task": self.task_, "rule": self.task_rule_, "classes": self.classes_},
            "columns": [self._column_summary(c) for c in self.input_columns_],
            "n_features": len(self.feature_names_),
            "feature_names": list(self.feature_names_),
            "dropped_constant": list(self.dropped_constant_),
            "missing": {"counts": dict(self.missing_counts_), "policy": self._missing_policy(),
                        "impute_values": dict(self.impute_values_)},
            "standardization": self._scaling_summary(),
        }

    def to_dict(self) -> dict:
        """Everything needed to transform new data, as JSON-serializable built-in types."""
        self._check_fitted()
        fitted = {name: getattr(self, name) for name in _FITTED_FIELDS}
        fitted["mean_"] = None if self.mean_ is None else self.mean_.tolist()
        fitted["scale_"] = None if self.scale_ is None else self.scale_.tolist()
        return {"format": _ENCODER_FORMAT, "version": _ENCODER_VERSION,
                "params": self._params(), "fitted": _jsonable(fitted)}

    @classmethod
    def from_dict(cls, d):
        """Rebuild a fitted encoder from :meth:`to_dict` output (e.g. after ``json.load``)."""
        if not isinstance(d, dict):
            raise TypeError(f"from_dict expects the dict made by TabularEncoder.to_dict, got {type(d).__name__}")
        if d.get("format") != _ENCODER_FORMAT:
            raise ValueError(f"from_dict expects a dict made by TabularEncoder.to_dict (format "
                             f"{_ENCODER_FORMAT!r}), got format {d.get('format')!r}")
        if d.get("version") != _ENCODER_VERSION:
            raise ValueError(f"from_dict: unsupported encoder version {d.get('version')!r}; "
                             f"expected {_ENCODER_VERSION}")
        encoder = cls(**d["params"])
        fitted = d["fitted"]
        missing = [name for name in _FITTED_FIELDS if name not in fitted]
        if missing:
            raise ValueError(f"from_dict: the saved encoder lacks fields {missing}")
        for name in _FITTED_FIELDS:
            setattr(encoder, name, fitted[name])
        for name in ("mean_", "scale_"):
            value = fitted[name]
            setattr(encoder, name, None if value is None else np.asarray(value, dtype=np.float64))
        return encoder

    def __repr__(self):
        return (f"TabularEncoder(target={self.target!r}, features={self.features!r}, task={self.task!r}, "
                f"dropna={self.dropna!r}, impute={self.impute!r}, standardize={self.standardize!r})")

    # ----------------------------------------------------------------- fitting helpers

    def _params(self):
        return {"target": self.target, "features": None if self.features is None else list(self.features),
                "task": self.task, "dropna": self.dropna, "impute": self.impute,
                "standardize": self.standardize, "max_levels": self.max_levels}

    def _check_params(self):
        if not isinstance(self.target, str):
            raise TypeError(f"target must be a column name (str), got {self.target!r}")
        if self.features is not None and (isinstance(self.features, str)
                                          or not all(isinstance(c, str) for c in self.features)):
            raise TypeError(f"features must be a list of column names (str) or None, got {self.features!r}")
        if self.task not in _TASKS:
            raise ValueError(f"task must be one of {_TASKS}, got {self.task!r}")
        if self.impute not in _IMPUTE:
            raise ValueError(f"impute must be one of {_IMPUTE}, got {self.impute!r}")
        for name in ("dropna", "standardize"):
            if not isinstance(getattr(self, name), bool):
                raise TypeError(f"{name} must be True or False, got {getattr(self, name)!r}")
        if isinstance(self.max_levels, bool) or not isinstance(self.max_levels, int) or self.max_levels < 2:
            raise ValueError(f"max_levels must be an integer >= 2, got {self.max_levels!r}")

    def _resolve_features(self, frame):
        columns = list(frame.columns)
        if self.target not in columns:
            raise DataError(f"target column {self.target!r} is not in the data; columns are {columns}")
        if self.features is None:
            features = [c for c in columns if c != self.target]
            unnamed = [c for c in features if not isinstance(c, str)]
            if unnamed:
                raise DataError(f"column names must be text; got {unnamed}; rename the columns")
            return features
        features = list(self.features)
        if self.target in features:
            raise DataError(f"the target {self.target!r} is also listed among the features; "
                            f"a model cannot use its own target as an input — remove it from the features")
        duplicates = duplicate_names(features)
        if duplicates:
            raise DataError(f"features lists {duplicates} more than once")
        absent = [c for c in features if c not in columns]
        if absent:
            raise DataError(f"feature column(s) {absent} not in the data; columns are {columns}")
        if not features:
            raise DataError("features is empty; list at least one input column")
        return features

    def _check_missing_handled(self, profile):
        """Missing values that imputation does not fill need dropna; without it, list them all."""
        fillable = set(profile.numeric_features()) if self.impute else set()
        unhandled = {c: n for c, n in profile.missing.items() if n > 0 and c not in fillable}
        if unhandled and not self.dropna:
            raise DataError(missing_message(unhandled, self.impute))

    def _set_scaling(self, moments, n_rows):
        """mean_/scale_ per feature: numeric columns from their (count, mean, M2), others 0/1."""
        mean = np.zeros(len(self.feature_names_))
        scale = np.ones(len(self.feature_names_))
        flat = []
        for i, name in enumerate(self.feature_names_):
            if self.column_kinds_.get(name) != "numeric":
                continue
            count, mu, m2 = moments[name]
            mean[i] = mu
            sd = float(np.sqrt(m2 / count))
            if sd == 0.0:
                flat.append(name)
            else:
                scale[i] = sd
        if flat:
            warnings.warn(f"feature(s) {flat} take a single value on the standardization rows; "
                          f"they are centred but not scaled (scale 1)", DataWarning, stacklevel=4)
        self.mean_, self.scale_, self.n_rows_standardize_ = mean, scale, int(n_rows)

    # ----------------------------------------------------------------- transform helpers

    def _check_fitted(self):
        if not hasattr(self, "feature_names_"):
            raise RuntimeError("this TabularEncoder is not fitted yet; call fit(frame) first")

    def _check_columns(self, frame, strict):
        absent = [c for c in self.input_columns_ if c not in frame.columns]
        if absent:
            raise DataError(f"the data lacks feature column(s) {absent} the model was fitted with; "
                            f"it has {list(frame.columns)}")
        if strict:
            known = set(self.input_columns_) | {self.target} | set(self.dropped_constant_)
            extra = [c for c in frame.columns if c not in known]
            if extra:
                raise DataError(f"the data has column(s) {extra} the model was not fitted with "
                                f"(strict mode); expected only {self.input_columns_ + [self.target]}")

    def _encode_target(self, series):
        if self.classes_ is None:
            return series.to_numpy(dtype=np.float64)
        codes, uniques = pd.factorize(series)
        index = {label: i for i, label in enumerate(self.classes_)}
        labels = [str(u) if self.target_kind_ == "categorical" else python_scalar(u) for u in uniques]
        unknown = [i for i, label in enumerate(labels) if label not in index]
        if unknown:
            found = sorted(str(labels[i]) for i in unknown)
            raise DataError(f"target {self.target!r} has label(s) {found} that were not seen when fitting, "
                            f"{_rows_text(series, unknown, codes)}; known classes are {self.classes_}")
        return np.array([index[label] for label in labels], dtype=np.int64)[codes]

    def _column_summary(self, column):
        kind = self.column_kinds_[column]
        entry = {"name": column, "dtype": self.dtypes_[column], "kind": kind,
                 "missing": int(self.missing_counts_.get(column, 0))}
        if kind == "categorical":
            levels = self.levels_[column]
            entry.update(encoding="one-hot (treatment), reference level " + repr(levels[0]), levels=list(levels),
                         features=[_dummy_name(column, level) for level in levels[1:]])
        elif kind == "boolean":
            entry.update(encoding="0/1 (True = 1)", features=[column])
        else:
            entry.update(encoding="as is", features=[column])
        if column in self.impute_values_:
            entry["impute_value"] = self.impute_values_[column]
        return entry

    def _missing_policy(self):
        parts = ([f"impute numeric features with the {self.impute}"] if self.impute else []) + (
            ["drop incomplete rows"] if self.dropna else [])
        return " then ".join(parts) if parts else "error"

    def _scaling_summary(self):
        if self.mean_ is None:
            return {"applied": False}
        columns = [n for n in self.feature_names_ if self.column_kinds_.get(n) == "numeric"]
        position = {n: i for i, n in enumerate(self.feature_names_)}
        return {"applied": True, "formula": "z = (x - mean) / scale, scale = population standard deviation",
                "n_rows": self.n_rows_standardize_, "columns": columns,
                "mean": {c: float(self.mean_[position[c]]) for c in columns},
                "scale": {c: float(self.scale_[position[c]]) for c in columns}}


_FITTED_FIELDS = (
    "input_columns_", "feature_names_", "column_kinds_", "dtypes_", "levels_", "task_", "task_rule_",
    "target_kind_", "classes_", "dropped_constant_", "n_rows_in_", "n_rows_dropped_", "n_rows_used_",
    "missing_counts_", "impute_values_", "mean_", "scale_", "n_rows_standardize_",
)


def _check_frame(frame):
    if not isinstance(frame, pd.DataFrame):
        raise TypeError(f"expected a pandas.DataFrame, got {type(frame).__name__}")
    duplicates = duplicate_names([str(c) for c in frame.columns])
    if duplicates:
        raise DataError(f"duplicate column names {duplicates}; every column needs a unique name")
    if len(frame) == 0:
        raise DataError(f"the data has no rows (columns: {list(frame.columns)})")
    return frame.reset_index(drop=True)


def _feature_names(features, kinds, levels):
    names = []
    for column in features:
        if kinds[column] == "categorical":
            names.extend(_dummy_name(column, level) for level in levels[column][1:])
        else:
            names.append(column)
    return names


def _dummy_name(column, level):
    return f"{column}[T.{level}]"


def _encode_features(frame, features, kinds, levels):
    """Fill the (n, p) float64 design matrix column block by column block."""
    widths = [len(levels[c]) - 1 if kinds[c] == "categorical" else 1 for c in features]
    X = np.empty((len(frame), sum(widths)))
    start = 0
    for column, width in zip(features, widths):
        if kinds[column] == "categorical":
            X[:, start:start + width] = _one_hot(frame[column], column, levels[column])
        else:
            X[:, start] = frame[column].to_numpy(dtype=np.float64)
        start += width
    return X


def _one_hot(series, column, levels):
    """Treatment coding: one 0/1 column per non-reference level (``levels[1:]``).

    Each distinct value is converted with ``str`` once (``pandas.factorize``), then the
    rows are scattered into the indicator matrix by their level index.
    """
    codes, uniques = pd.factorize(series)
    names = [str(value) for value in uniques]
    unseen = sorted(set(names) - set(levels))
    if unseen:
        more = f" (and {len(unseen) - 10} more)" if len(unseen) > 10 else ""
        raise DataError(f"column {column!r} has level(s) {unseen[:10]}{more} not seen when fitting, "
                        f"{_rows_text(series, [names.index(u) for u in unseen], codes)}; "
                        f"known levels are {levels}")
    position = {level: i for i, level in enumerate(levels)}
    level_of_row = np.array([position[name] for name in names], dtype=np.int64)[codes]
    dummies = np.zeros((len(series), len(levels) - 1))
    rows = np.flatnonzero(level_of_row > 0)
    dummies[rows, level_of_row[rows] - 1] = 1.0
    return dummies


def _rows_text(series, bad_codes, codes, limit=5):
    """"at row(s) 3, 17, ..." for the rows whose factorize code is in ``bad_codes``."""
    rows = series.index[np.isin(codes, bad_codes)]
    shown = ", ".join(str(r) for r in rows[:limit]) + (f", ... ({len(rows)} rows)" if len(rows) > limit else "")
    return f"at row(s) {shown} (0-based, header not counted)"


def _jsonable(value):
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    return python_scalar(value)
