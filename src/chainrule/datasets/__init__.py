"""Bundled real datasets, with their provenance and licence in ``README.md`` here.

* ``load_digits()``: the UCI 8x8 handwritten digits (1797 samples, 64 features, 10 classes).
* ``load_grunfeld()``: Grunfeld's investment data, 11 U.S. firms 1935-1954 (220 rows;
  regression of ``invest``; public domain).
* ``load_anes96()``: 1996 American National Election Study subset (944 rows; binary
  ``vote``; public domain).

Every loader takes ``as_frame=False`` (arrays ``X, y``) or ``as_frame=True`` (a pandas
DataFrame including the target). ``names()``, ``info(name)`` and ``load(name, as_frame)``
give uniform access by name.
"""
from .anes96 import load_anes96
from .digits import load_digits
from .grunfeld import load_grunfeld
from .registry import DatasetInfo, info, load, names

__all__ = ["load_digits", "load_grunfeld", "load_anes96", "names", "info", "load", "DatasetInfo"]
