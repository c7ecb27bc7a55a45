"""Reading CSV/TSV/Parquet files, whole or in chunks.

Files only: the layers above that know other tables by name (the bundled data) load the
frame themselves and use :func:`select_columns` and :func:`frame_chunks` here, so a table
read by name behaves like one read from a file.

The delimiter of a ``.csv`` file is detected from its first lines (issue 19): a header without
a comma but with ``;``, a tab or ``|`` (a European "CSV" written with ``;`` and decimal commas, a
TSV saved as .csv) is read with that delimiter, with decimal commas when the values use them,
and a warning names what was detected.
"""
from __future__ import annotations

import gzip
import re
import warnings
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
    if kind != "parquet":
        _warn_leading_zeros(path, kind, frame)
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
        header = pd.read_csv(path, **_csv_options(path, kind), header=None, nrows=1, dtype=str)
    except pd.errors.EmptyDataError:
        raise DataError(f"{str(path)!r} is empty: no header row and no data") from None
    except Exception as error:  # every parser failure is a data problem to report
        raise DataError(f"{str(path)!r} could not be read as {kind}: {error}") from error
    return [str(value) for value in header.iloc[0].tolist()]


def _separator(kind):
    return "\t" if kind == "tsv" else ","


_OTHER_DELIMITERS = {";": "';'", "\t": "a tab", "|": "'|'"}
_ANNOUNCED = set()
_DECIMAL_COMMA = re.compile(r"^\s*-?\d+,\d+([eE][-+]?\d+)?\s*$")


def _csv_options(path, kind, *, announce=False) -> dict:
    """``read_csv``'s ``sep`` (and ``decimal``) for ``path``: the extension's delimiter, or for
    a ``.csv`` whose header has no comma the ``;``, tab or ``|`` it has (the first of them that
    splits the header), with decimal commas when a ``;`` file's values are written so. With
    ``announce``, a warning names a detected delimiter."""
    if kind != "csv":
        return {"sep": _separator(kind)}
    lines = _first_lines(path, 6)
    if not lines or "," in lines[0]:
        return {"sep": ","}
    found = next((d for d in _OTHER_DELIMITERS if d in lines[0]), None)
    if found is None:
        return {"sep": ","}
    options = {"sep": found}
    cells = [cell for line in lines[1:] for cell in line.split(found)]
    if found == ";" and any(_DECIMAL_COMMA.match(cell) for cell in cells):
        options["decimal"] = ","
    if announce and (str(Path(path).resolve()), found) not in _ANNOUNCED:  # once per file, not per pass
        _ANNOUNCED.add((str(Path(path).resolve()), found))
        decimal = " and decimal commas" if "decimal" in options else ""
        warnings.warn(f"{str(path)!r}: its header has no comma but {_OTHER_DELIMITERS[found]}: read with "
                      f"{_OTHER_DELIMITERS[found]} as the delimiter{decimal}", stacklevel=3)
    return options


_LEADING_ZERO = r"[-+]?0\d+"


def _warn_leading_zeros(path, kind, frame, sample_rows=2000):
    """Warn about numeric columns written with leading zeros in the file ("00123": an identifier
    or a code, such as a ZIP code or an account number, whose zeros were lost when read as a
    number), looking at the first ``sample_rows`` rows as text."""
    numeric = [c for c in frame.columns if pd.api.types.is_numeric_dtype(frame[c].dtype)
               and not pd.api.types.is_bool_dtype(frame[c].dtype)]
    if not numeric:
        return
    try:
        text = pd.read_csv(path, **_csv_options(path, kind), usecols=numeric, dtype=str, nrows=sample_rows)
    except Exception:  # noqa: BLE001 - a warning only; the read itself succeeded
        return
    found = {}
    for column in numeric:
        values = text[column].dropna().str.strip()
        hits = values[values.str.fullmatch(_LEADING_ZERO)]
        if len(hits):
            found[column] = hits.iloc[0]
    key = (str(Path(path).resolve()), "leading zeros", tuple(found))
    if found and key not in _ANNOUNCED:  # once per file, not once per pass over its chunks
        _ANNOUNCED.add(key)
        listed = ", ".join(f"{c!r} (e.g. {v!r})" for c, v in found.items())
        warnings.warn(
            f"{str(path)!r}: column(s) {listed} are written with leading zeros but were read as numbers, which "
            f"drops the zeros: an identifier or a code (ZIP code, account number) is not a quantity; leave it out "
            f"of the features (--features), or store it as text", stacklevel=3)


def _first_lines(path, count):
    """The first ``count`` lines of a (possibly gzip-compressed) text file, without line ends."""
    opener = gzip.open if str(path).lower().endswith(".gz") else open
    try:
        with opener(path, "rt", encoding="utf-8", errors="replace", newline="") as f:
            return [line.rstrip("\r\n") for _, line in zip(range(count), f)]
    except OSError:
        return []


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
        frame = pd.read_csv(path, **_csv_options(path, kind, announce=True), usecols=columns)
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
            if first:
                _warn_leading_zeros(path, kind, chunk)
            first = False
            yield chunk[columns] if columns else chunk


def _open_csv_reader(path, kind, chunksize, columns):
    try:
        return pd.read_csv(path, **_csv_options(path, kind, announce=True), usecols=columns, chunksize=chunksize)
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
