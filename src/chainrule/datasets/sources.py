"""A table named by the user: a data file, or a bundled dataset by its name.

What ``chainrule`` commands accept as DATA. :func:`read_table` and :func:`iter_table_chunks`
are :func:`chainrule.tabular.read_table` and :func:`chainrule.tabular.iter_table_chunks`
that also take the name of a bundled dataset (:func:`~chainrule.datasets.names`), returned
with its target column; a file of that name comes first.
"""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from .. import tabular
from ..tabular import DataError
from ..tabular.reading import check_chunksize, check_columns_argument, frame_chunks, select_columns
from .registry import load, names


def read_table(source, *, columns=None) -> pd.DataFrame:
    """Read a whole table: a file path or the name of a bundled dataset.

    Parameters
    ----------
    source : str or os.PathLike
        A file ending in one of :data:`chainrule.tabular.SUPPORTED_SUFFIXES`, or the name
        of a bundled dataset (:func:`~chainrule.datasets.names`).
    columns : list of str, optional
        Read only these columns (in this order). Absent names raise :class:`DataError`.

    Raises
    ------
    DataError
        What :func:`chainrule.tabular.read_table` raises for a file, or a name that is
        neither a file nor a bundled dataset (the message lists the dataset names).
    """
    columns = check_columns_argument(columns)
    name = _bundled_name(source)
    if name is None:
        return tabular.read_table(source, columns=columns)
    return select_columns(load(name, as_frame=True), columns, name)


def iter_table_chunks(source, *, chunksize=100_000, columns=None):
    """Yield a table (a file path or the name of a bundled dataset) as consecutive
    DataFrames of at most ``chunksize`` rows each; see :func:`chainrule.tabular.iter_table_chunks`."""
    chunksize = check_chunksize(chunksize)
    columns = check_columns_argument(columns)
    name = _bundled_name(source)
    if name is None:
        return tabular.iter_table_chunks(source, chunksize=chunksize, columns=columns)
    return frame_chunks(select_columns(load(name, as_frame=True), columns, name), chunksize)


def _bundled_name(source):
    """``source`` when it names a bundled dataset and no file; None when the file reader
    should handle it (a file or a directory); DataError listing the datasets otherwise."""
    if not isinstance(source, (str, Path)):
        raise TypeError(f"source must be a path (str or pathlib.Path) or a dataset name, got {type(source).__name__}")
    path = Path(source)
    if path.is_file():
        return None
    if isinstance(source, str) and source in names():
        return source
    if path.is_dir():
        return None
    raise DataError(
        f"no file {str(source)!r} (looked in {Path.cwd()}) and no bundled dataset of that name; "
        f"bundled datasets: {', '.join(names())}"
    )
