"""Bundled real datasets, with their provenance and licence in ``README.md`` here.

* ``load_digits()``: the UCI 8x8 handwritten digits (1797 samples, 64 features, 10 classes;
  ``as_images=True`` gives them as (1797, 1, 8, 8) images).
* ``load_grunfeld()``: Grunfeld's investment data, 11 U.S. firms 1935-1954 (220 rows;
  regression of ``invest``; public domain).
* ``load_anes96()``: 1996 American National Election Study subset (944 rows; binary
  ``vote``; public domain).

Every loader takes ``as_frame=False`` (arrays ``X, y``) or ``as_frame=True`` (a pandas
DataFrame including the target). ``names()``, ``info(name)`` and ``load(name, as_frame)``
give uniform access by name. ``read_table(source)`` and ``iter_table_chunks(source)`` read
a table given as a file path or as a bundled dataset's name (what the ``chainrule``
commands accept as DATA).

Text corpora for language models: ``load_text(name)`` (one string; ``"tinyshakespeare"``),
``text_names()``.

Modules: one loader per dataset (``digits``, ``grunfeld``, ``anes96``), ``text`` (the corpora), ``bundled`` (reading
the files in ``data/``), ``registry`` (the catalogue by name), ``sources`` (a file or a name).
This package builds on :mod:`chainrule.tabular` (reading files, encoding), never the reverse.
"""
from .anes96 import load_anes96
from .digits import load_digits
from .grunfeld import load_grunfeld
from .registry import DatasetInfo, info, load, names
from .sources import iter_table_chunks, read_table
from .text import load_text, text_names

__all__ = ["load_digits", "load_grunfeld", "load_anes96", "names", "info", "load", "DatasetInfo",
           "read_table", "iter_table_chunks", "load_text", "text_names"]
