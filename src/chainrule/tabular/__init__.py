"""Reading tabular files and encoding their columns into a model matrix.

Two halves:

* **Reading.** :func:`read_table` reads a whole CSV/TSV/Parquet file into a
  :class:`pandas.DataFrame`; :func:`iter_table_chunks` yields it piece by piece for files
  larger than memory.
* **Encoding.** :class:`TabularEncoder` turns a frame into ``(X, y)``: numeric columns
  kept, categorical/string columns one-hot encoded against their first level, booleans as
  0/1, the target mapped to class indices for classification, missing values refused,
  dropped or imputed, and numeric inputs optionally standardized with statistics from the
  training rows only. Everything it learns is saved by :meth:`TabularEncoder.to_dict`, so
  ``chainrule predict`` applies exactly the same encoding to new data. For tables larger
  than memory, :meth:`TabularEncoder.fit_chunks` learns the same encoding in two passes
  over :func:`iter_table_chunks`, and ``transform`` is applied chunk by chunk.

Every problem the user must fix in the data raises :class:`DataError` with the column,
what was expected and what was found.

Modules: :mod:`~chainrule.tabular.reading` (files, whole or in chunks),
:mod:`~chainrule.tabular.inference` (what each column is, and the task),
:mod:`~chainrule.tabular.encoder` (:class:`TabularEncoder`: the fitted encoding, one-hot
coding, saving and restoring), :mod:`~chainrule.tabular.profile` (the scan that gathers the
statistics of a frame or of chunks), :mod:`~chainrule.tabular.missing` (missing and
infinite values, imputation), :mod:`~chainrule.tabular.errors`.
"""
from .encoder import TabularEncoder
from .errors import DataError, DataWarning
from .inference import MAX_AUTO_CLASSES
from .reading import SUPPORTED_SUFFIXES, iter_table_chunks, read_table

__all__ = [
    "DataError",
    "DataWarning",
    "TabularEncoder",
    "read_table",
    "iter_table_chunks",
    "SUPPORTED_SUFFIXES",
    "MAX_AUTO_CLASSES",
]
