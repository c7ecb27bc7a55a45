"""What fitting learns from a table, gathered from one frame or chunk by chunk: :class:`TableProfile`.

The standardization moments (count, mean, M2 = Σ(x − mean)²) of each chunk are merged with
Chan, Golub and LeVeque's (1979) update ``M2 = M2_a + M2_b + d² n_a n_b / n``,
``d = mean_b − mean_a``, so a table read in chunks gives the statistics of the whole.
The training rows (``standardize_rows``) are read by :func:`rows_mask` for a whole frame and by
:func:`chunk_rows_mask` for one chunk; :func:`chunk_frames` makes one checked pass over chunks.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
from pandas.api import types as ptypes

from .errors import DataError
from .inference import (
    MAX_AUTO_CLASSES,
    common_dtype,
    decide_task,
    declared_order,
    distinct_labels,
    infer_kind,
    python_scalar,
)
from .missing import complete_rows, fill_missing, infinite_counts, infinite_message
from .reading import duplicate_names


class TableProfile:
    """What fitting learns from the data, gathered from one frame or chunk by chunk.

    Pass 1 (``scan_types``, ``count_target_values``, imputation sums, ``finish_types``):
    column kinds and dtypes, missing and infinite counts, the target's distinct values.
    Pass 2 (``scan_usable_rows``, after the kinds and imputation values are known): rows
    kept, distinct labels per column (levels, classes, constant detection), and the
    standardization moments (count, mean, M2) of numeric features on the training rows.
    """

    def __init__(self, target, features, all_columns=None):
        self.target, self.features = target, list(features)
        self.columns = self.features + [target]
        self.all_columns = all_columns
        self.kinds, self.declared, self.impute_values, self.moments = {}, {}, {}, {}
        self._fallback_kinds, self._dtypes_seen = {}, {c: [] for c in self.columns}
        self.missing = {c: 0 for c in self.columns}
        self.infinite = {c: 0 for c in self.columns}
        self.labels = {c: set() for c in self.columns}
        self._target_values, self.target_distinct = set(), 0
        self._impute_sums = {}
        self.n_rows_in = self.n_rows_used = self.n_rows_train = 0
        self.task = self.rule = None

    # pass 1 ------------------------------------------------------------------
    def check_same_columns(self, chunk):
        if self.all_columns is not None and list(chunk.columns) != self.all_columns:
            raise DataError(f"a chunk has columns {list(chunk.columns)}, the first had {self.all_columns}")

    def scan_types(self, frame):
        self.n_rows_in += len(frame)
        for column in self.columns:
            series = frame[column]
            self.missing[column] += int(series.isna().sum())
            self._dtypes_seen[column].append(series.dtype)
            if series.notna().any():
                self._merge_kind(column, infer_kind(series, column), frame)
            else:
                self._fallback_kinds.setdefault(column, infer_kind(series, column))
        numeric = [c for c in self.columns if self.kinds.get(c) == "numeric"]
        for column, count in infinite_counts(frame, numeric).items():
            self.infinite[column] += count

    def _merge_kind(self, column, kind, frame):
        known = self.kinds.setdefault(column, kind)
        if known != kind:
            rows = f"rows {frame.index[0]}..{frame.index[-1]}"
            raise DataError(f"column {column!r} reads as {kind} in {rows} but as {known} earlier; make "
                            f"its values consistent (e.g. no text in a numeric column)")

    def count_target_values(self, series):
        """Distinct values of an integer target, up to MAX_AUTO_CLASSES + 1 (the auto rule)."""
        if ptypes.is_integer_dtype(series.dtype) and len(self._target_values) <= MAX_AUTO_CLASSES:
            _add_capped(self._target_values, series, MAX_AUTO_CLASSES + 1)

    def finish_types(self):
        for column in self.columns:
            self.kinds.setdefault(column, self._fallback_kinds.get(column))
        infinite = {c: n for c, n in self.infinite.items() if n}
        if infinite:
            raise DataError(infinite_message(infinite))
        self.dtypes = {c: str(common_dtype(seen)) for c, seen in self._dtypes_seen.items()}
        self.target_dtype = common_dtype(self._dtypes_seen[self.target])
        self.target_distinct = len(self._target_values)

    def decide_task(self, requested):
        self.task, self.rule = decide_task(self.target, self.target_kind, self.target_dtype,
                                           self.target_distinct, requested)

    @property
    def target_kind(self):
        return self.kinds[self.target]

    def numeric_features(self):
        return [c for c in self.features if self.kinds[c] == "numeric"]

    def add_impute_sums(self, frame, train_mask):
        for column in self.numeric_features():
            values = frame.loc[train_mask, column].dropna().to_numpy(dtype=np.float64)
            total, count = self._impute_sums.get(column, (0.0, 0))
            self._impute_sums[column] = (total + float(values.sum()), count + len(values))

    def finish_impute_means(self):
        for column in self.numeric_features():
            total, count = self._impute_sums.get(column, (0.0, 0))
            if count == 0:
                raise DataError(f"cannot impute column {column!r}: it has no values on the fitting rows")
            self.impute_values[column] = total / count

    # pass 2 ------------------------------------------------------------------
    def scan_usable_rows(self, frame, train_mask, standardize):
        filled = fill_missing(frame, self.impute_values)
        keep = complete_rows(filled, self.columns)
        train = train_mask[keep]
        used = filled if keep.all() else filled[keep]
        self.n_rows_used += len(used)
        self.n_rows_train += int(train.sum())
        for column in self.columns:
            self._collect_labels(column, used[column])
        if standardize:
            for column in self.numeric_features():
                values = used[column].to_numpy(dtype=np.float64)[train]
                self.moments[column] = _merge_moments(self.moments.get(column, (0, 0.0, 0.0)),
                                                      _moments(values))

    def _collect_labels(self, column, series):
        kind = self.kinds[column]
        if column == self.target and self.task == "regression":
            return
        if isinstance(series.dtype, pd.CategoricalDtype):
            self.declared.setdefault(column, declared_order(series))
        if kind == "categorical" or column == self.target:
            self.labels[column] |= distinct_labels(series, kind)
        elif len(self.labels[column]) < 2:  # a numeric/boolean feature: enough to tell constant
            self.labels[column] |= _two_distinct(series)


def _add_capped(found, series, cap):
    """Add distinct non-missing values of ``series`` (as Python scalars) to ``found`` up to ``cap``."""
    for value in pd.unique(series.dropna()):
        if len(found) >= cap:
            return
        found.add(python_scalar(value))


def _two_distinct(series):
    """Up to two distinct non-missing values (as Python scalars), in one vectorized pass."""
    values = series.dropna().to_numpy()
    if len(values) == 0:
        return set()
    first = values[0]
    others = values[values != first]
    return {python_scalar(v) for v in (first, *others[:1])}


def _moments(values):
    """(count, mean, M2) of a float array, M2 = sum((x - mean)^2)."""
    if len(values) == 0:
        return 0, 0.0, 0.0
    mean = float(values.mean())
    return len(values), mean, float(((values - mean) ** 2).sum())


def _merge_moments(a, b):
    """Chan, Golub and LeVeque (1979): moments of the union of two disjoint samples."""
    (na, mean_a, m2_a), (nb, mean_b, m2_b) = a, b
    if na == 0:
        return b
    if nb == 0:
        return a
    n = na + nb
    delta = mean_b - mean_a
    return n, mean_a + delta * nb / n, m2_a + m2_b + delta * delta * na * nb / n


# --------------------------------------------------------------------------- passes and training rows


def chunk_frames(chunks, which):
    """Iterate one pass over ``chunks()``, checking each item; refuse a table with no rows."""
    seen = 0
    for chunk in chunks():
        if not isinstance(chunk, pd.DataFrame):
            raise TypeError(f"fit_chunks: chunks() must yield pandas DataFrames, got {type(chunk).__name__}")
        duplicates = duplicate_names([str(c) for c in chunk.columns])
        if duplicates:
            raise DataError(f"duplicate column names {duplicates}; every column needs a unique name")
        if len(chunk):
            seen += 1
            yield chunk
    if seen == 0:
        raise DataError(f"fit_chunks: the {which} pass over chunks() yielded no rows"
                        + ("; chunks must return a fresh iterable each time it is called" if which == "second" else ""))


def chunk_rows_mask(rows, chunk):
    """Boolean mask over the chunk's rows from None, a callable, or whole-table mask/positions."""
    n = len(chunk)
    if rows is None:
        return np.ones(n, dtype=bool)
    if callable(rows):
        mask = np.asarray(rows(chunk))
        if mask.dtype != bool or mask.shape != (n,):
            raise ValueError(f"standardize_rows(chunk) must return a boolean mask of shape ({n},), "
                             f"got dtype {mask.dtype} shape {mask.shape}")
        return mask
    rows = np.asarray(rows)
    index = chunk.index.to_numpy()
    if not ptypes.is_integer_dtype(index.dtype):
        raise ValueError("standardize_rows as an array needs chunks indexed by row position "
                         "(as iter_table_chunks yields); pass a callable chunk -> mask instead")
    if rows.dtype == bool:
        if index.size and index.max() >= len(rows):
            raise ValueError(f"standardize_rows mask has {len(rows)} entries but the table has row {index.max()}")
        return rows[index]
    if ptypes.is_integer_dtype(rows.dtype):
        return np.isin(index, rows)
    raise TypeError(f"standardize_rows must be None, a callable, a boolean mask or integer positions, "
                    f"got dtype {rows.dtype}")


def rows_mask(rows, n):
    """Boolean mask over n rows from None (all), a boolean mask, or positional indices."""
    if rows is None:
        return np.ones(n, dtype=bool)
    rows = np.asarray(rows)
    if rows.dtype == bool:
        if rows.shape != (n,):
            raise ValueError(f"standardize_rows as a boolean mask must have shape ({n},), got {rows.shape}")
        mask = rows.copy()
    elif ptypes.is_integer_dtype(rows.dtype) and rows.ndim == 1:
        if rows.size and (rows.min() < 0 or rows.max() >= n):
            raise ValueError(f"standardize_rows holds positions outside 0..{n - 1} "
                             f"(min {rows.min()}, max {rows.max()})")
        mask = np.zeros(n, dtype=bool)
        mask[rows] = True
    else:
        raise TypeError(f"standardize_rows must be a boolean mask or 1-D integer positions, "
                        f"got dtype {rows.dtype} with shape {rows.shape}")
    if not mask.any():
        raise ValueError("standardize_rows selects no rows")
    return mask
