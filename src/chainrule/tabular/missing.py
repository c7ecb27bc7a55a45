"""Missing and infinite values: counting them, the messages that list them, imputation and
the rows left complete.

Infinite values are always refused (replace them or mark them missing). Missing values are
refused unless they are imputed (numeric features only: the mean or median over the fitting
rows) or their rows dropped (``dropna``); the refusal lists every column with its count.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from .errors import DataError


def check_finite(frame, columns):
    """DataError listing the columns of ``columns`` that hold +-inf, with their counts."""
    bad = infinite_counts(frame, columns)
    if bad:
        raise DataError(infinite_message(bad))


def infinite_counts(frame, columns):
    """Column -> number of +-inf values, for the columns that have any."""
    counts = {}
    for column in columns:
        values = pd.to_numeric(frame[column], errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
        count = int(np.isinf(values).sum())
        if count:
            counts[column] = count
    return counts


def infinite_message(counts):
    """The DataError message for infinite values, from column -> count."""
    listed = ", ".join(f"{c!r}: {n}" for c, n in counts.items())
    return (f"infinite values (inf or -inf) in column(s) {listed}; "
            f"replace them with finite numbers or mark them as missing")


def missing_counts(frame, columns):
    """Column -> number of missing values, for the columns of ``columns`` that have any."""
    counts = frame[columns].isna().sum()
    return {str(c): int(n) for c, n in counts.items() if n > 0}


def missing_message(counts, impute):
    """The DataError message for missing values left unhandled, with what the user can do."""
    listed = ", ".join(f"{c!r}: {n}" for c, n in counts.items())
    advice = "drop incomplete rows (dropna / --dropna)"
    if impute:
        advice += f"; impute={impute!r} fills numeric features only"
    else:
        advice += " or impute numeric features (impute='mean'|'median' / --impute)"
    return f"missing values in column(s) {listed}; {advice}"


def imputation_values(frame, columns, train_mask, how):
    """Column -> fill value: the mean or median (``how``) of its values on the ``train_mask`` rows."""
    values = {}
    for column in columns:
        train = frame.loc[train_mask, column].dropna()
        if len(train) == 0:
            raise DataError(f"cannot impute column {column!r}: it has no values on the fitting rows")
        values[column] = float(train.mean() if how == "mean" else train.median())
    return values


def fill_missing(frame, impute_values):
    """``frame`` with the missing values of the columns in ``impute_values`` filled (the frame itself if none)."""
    if not impute_values:
        return frame
    return frame.fillna({c: v for c, v in impute_values.items() if c in frame.columns})


def complete_rows(frame, columns):
    """Boolean mask of the rows with a value in every column of ``columns``."""
    return frame[columns].notna().all(axis=1).to_numpy()


def check_rows_left(n_rows, when, missing=None, n_rows_in=None):
    """DataError when no row is left ``when`` (e.g. "after dropping rows with missing values");
    with ``missing`` (column -> missing count over the ``n_rows_in`` rows) it names the columns
    responsible: those missing in every row, else those whose missing values cover every row."""
    if n_rows != 0:
        return
    message = f"no rows left {when}; every row has a missing value in a used column"
    counts = {c: n for c, n in (missing or {}).items() if n > 0}
    if counts and n_rows_in:
        empty = [c for c, n in counts.items() if n >= n_rows_in]
        if empty:
            message += (f": column(s) {', '.join(map(repr, empty))} have no value in any of the {n_rows_in} rows; "
                        f"leave them out of the features (--features)")
        else:
            ranked = sorted(counts.items(), key=lambda item: -item[1])
            listed = ", ".join(f"{c!r} ({n} of {n_rows_in} rows missing)" for c, n in ranked)
            message += (f": the missing values of {listed} together cover every row; leave the worst of them "
                        f"out of the features (--features) or impute numeric features (--impute)")
    raise DataError(message)
