"""Reading CSV/TSV/Parquet files, whole or in chunks.

Files only: the layers above that know other tables by name (the bundled data) load the
frame themselves and use :func:`select_columns` and :func:`frame_chunks` here, so a table
read by name behaves like one read from a file.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from .errors import DataError

#: File-name endings :func:`read_table` understands, and the reader each one uses.
SUPPORTED_SUFFIXES = {
    ".csv": "csv",
    ".csv.gz": "csv",
    ".tsv": "tsv",
    ".tsv.gz": "tsv",
    ".parquet": "parquet",
    ".pq": "parquet",
}


# --------------------------------------------------------------------------- reading


def read_table(source, *, columns=None) -> pd.DataFrame:
    """Read a whole table from a file.

    Parameters
    ----------
    source : str or os.PathLike
        A file ending in one of :data:`SUPPORTED_SUFFIXES` (``.csv``, ``.csv.gz``,
        ``.tsv``, ``.tsv.gz``, ``.parquet``, ``.pq``).
    columns : list of str, optional
        Read only these columns (in this order). Absent names raise :class:`DataError`.

    Raises
    ------
    DataError
        Unknown extension, missing or unreadable file, a table with no rows or no columns,
        duplicate column names, requested columns absent.
    """
    columns = check_columns_argument(columns)
    kind, path = _resolve_file(source)
    header = _read_header(path, kind)
    _check_header(header, columns, path)
    frame = _read_whole_file(path, kind, columns)
    _check_not_empty(frame, path)
    return frame


def iter_table_chunks(source, *, chunksize=100_000, columns=None):
    """Yield a table as consecutive DataFrames of at most ``chunksize`` rows each.

    CSV/TSV files are read with ``pandas.read_csv(chunksize=...)``; Parquet files with
    ``pyarrow.parquet.ParquetFile.iter_batches(batch_size=...)``, so at most one chunk
    (plus one Parquet row group) is in memory at a time. The concatenation of the chunks
    equals :func:`read_table` of the same source (column dtypes are inferred per chunk for
    CSV, so a column with missing values only in some chunks is float64 there).
    The row index continues across chunks (0, 1, ... over the whole file).

    Raises :class:`DataError` for the same problems as :func:`read_table`: a missing file,
    bad extension or duplicate header at the call, a table without data rows or an
    unparsable chunk when iteration reaches it.
    """
    chunksize = check_chunksize(chunksize)
    columns = check_columns_argument(columns)
    kind, path = _resolve_file(source)
    header = _read_header(path, kind)
    _check_header(header, columns, path)
    if kind == "parquet":
        return _parquet_chunks(path, chunksize, columns)
    return _csv_chunks(path, kind, chunksize, columns)


def select_columns(frame, columns, where):
    """``frame[columns]`` (all of ``frame`` for None); absent names raise :class:`DataError`
    naming ``where`` (the source the frame came from)."""
    if columns is None:
        return frame
    absent = [c for c in columns if c not in frame.columns]
    if absent:
        raise DataError(f"{where!r}: no column(s) {absent}; it has {list(frame.columns)}")
    return frame[columns]


def frame_chunks(frame, chunksize):
    """Yield an in-memory frame as consecutive pieces of at most ``chunksize`` rows."""
    for start in range(0, len(frame), chunksize):
        yield frame.iloc[start : start + chunksize]


def check_chunksize(chunksize) -> int:
    """``chunksize`` as an int; anything but a positive integer raises ``ValueError``."""
    if isinstance(chunksize, bool) or not isinstance(chunksize, (int, np.integer)) or chunksize < 1:
        raise ValueError(f"iter_table_chunks: chunksize must be a positive integer, got {chunksize!r}")
    return int(chunksize)


def duplicate_names(names):
    """The names that occur more than once in ``names``, each once, in order of first repeat."""
    seen, repeated = set(), []
    for name in names:
        if name in seen and name not in repeated:
            repeated.append(name)
        seen.add(name)
    return repeated


def check_columns_argument(columns):
    """The ``columns`` argument as a list of distinct names (None stays None); else TypeError/ValueError."""
    if columns is None:
        return None
    if isinstance(columns, str) or not all(isinstance(c, str) for c in columns):
        raise TypeError(f"columns must be a list of column names (str), got {columns!r}")
    columns = list(columns)
    duplicates = duplicate_names(columns)
    if duplicates:
        raise ValueError(f"columns lists {duplicates} more than once")
    return columns


def _resolve_file(source):
    """Return ``("csv"|"tsv"|"parquet", Path)`` for a file."""
    if not isinstance(source, (str, Path)):
        raise TypeError(f"source must be a path (str or pathlib.Path), got {type(source).__name__}")
    path = Path(source)
    if path.is_file():
        return _reader_for(path), path
    if path.is_dir():
        raise DataError(f"{str(source)!r} is a directory; expected a data file ({_suffix_list()})")
    raise DataError(
        f"no file {str(source)!r} (looked in {Path.cwd()}); a bundled dataset is read by name with "
        f"chainrule.datasets.read_table"
    )


def _reader_for(path):
    name = path.name.lower()
    for suffix in sorted(SUPPORTED_SUFFIXES, key=len, reverse=True):
        if name.endswith(suffix):
            return SUPPORTED_SUFFIXES[suffix]
    raise DataError(f"{str(path)!r}: unsupported file type; expected a name ending in {_suffix_list()}")


def _suffix_list():
    return ", ".join(SUPPORTED_SUFFIXES)


def _read_header(path, kind):
    """The column names exactly as written in the file (duplicates not renamed)."""
    try:
        if kind == "parquet":
            import pyarrow.parquet as pq

            return list(pq.read_schema(path).names)
        header = pd.read_csv(path, sep=_separator(kind), header=None, nrows=1, dtype=str)
    except pd.errors.EmptyDataError:
        raise DataError(f"{str(path)!r} is empty: no header row and no data") from None
    except Exception as error:  # every parser failure is a data problem to report
        raise DataError(f"{str(path)!r} could not be read as {kind}: {error}") from error
    return [str(value) for value in header.iloc[0].tolist()]


def _separator(kind):
    return "\t" if kind == "tsv" else ","


def _check_header(header, columns, path):
    duplicates = duplicate_names(header)
    if duplicates:
        raise DataError(f"{str(path)!r}: duplicate column names {duplicates}; every column needs a unique name")
    if columns is not None:
        absent = [c for c in columns if c not in header]
        if absent:
            raise DataError(f"{str(path)!r}: no column(s) {absent}; the file has {header}")


def _read_whole_file(path, kind, columns):
    try:
        if kind == "parquet":
            return pd.read_parquet(path, columns=columns)
        frame = pd.read_csv(path, sep=_separator(kind), usecols=columns)
    except Exception as error:
        raise DataError(f"{str(path)!r} could not be read as {kind}: {error}") from error
    return frame[columns] if columns else frame  # usecols keeps file order; restore the order asked


def _check_not_empty(frame, where):
    if frame.shape[1] == 0:
        raise DataError(f"{str(where)!r} has no columns")
    if frame.shape[0] == 0:
        raise DataError(f"{str(where)!r} has a header ({list(frame.columns)}) but no data rows")


def _csv_chunks(path, kind, chunksize, columns):
    reader = _open_csv_reader(path, kind, chunksize, columns)
    with reader:
        first = True
        while True:
            try:
                chunk = next(reader)
            except StopIteration:
                if first:
                    raise DataError(f"{str(path)!r} has a header but no data rows") from None
                return
            except Exception as error:
                raise DataError(f"{str(path)!r} could not be read as {kind}: {error}") from error
            if first and len(chunk) == 0:
                raise DataError(f"{str(path)!r} has a header but no data rows")
            first = False
            yield chunk[columns] if columns else chunk


def _open_csv_reader(path, kind, chunksize, columns):
    try:
        return pd.read_csv(path, sep=_separator(kind), usecols=columns, chunksize=chunksize)
    except Exception as error:
        raise DataError(f"{str(path)!r} could not be read as {kind}: {error}") from error


def _parquet_chunks(path, chunksize, columns):
    import pyarrow.parquet as pq

    try:
        parquet = pq.ParquetFile(path, pre_buffer=False)  # read row group by row group, not the whole file
    except Exception as error:
        raise DataError(f"{str(path)!r} could not be read as parquet: {error}") from error
    if parquet.metadata.num_rows == 0:
        raise DataError(f"{str(path)!r} has columns but no data rows")
    start = 0
    for batch in parquet.iter_batches(batch_size=chunksize, columns=columns):
        chunk = batch.to_pandas()
        chunk.index = pd.RangeIndex(start, start + len(chunk))
        start += len(chunk)
        yield chunk
