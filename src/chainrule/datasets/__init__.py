"""Bundled real datasets, with their provenance and licence in ``README.md`` here.

``load_digits()``: the UCI 8x8 handwritten digits (1797 samples, 64 features, 10 classes).
"""
from .digits import load_digits

__all__ = ["load_digits"]
