"""Argument checks for hyper-parameters: each error names the optimizer, the group and the value."""
from __future__ import annotations

import math
import numbers

__all__ = ["check_nonnegative", "check_positive", "check_fraction", "check_flag"]


def check_nonnegative(where: str, name: str, value) -> None:
    """Raise unless ``value`` is a finite real number >= 0."""
    _check_real(where, name, value)
    if value < 0:
        raise ValueError(f"{where}: {name} must be >= 0; got {value!r}")


def check_positive(where: str, name: str, value) -> None:
    """Raise unless ``value`` is a finite real number > 0."""
    _check_real(where, name, value)
    if value <= 0:
        raise ValueError(f"{where}: {name} must be > 0; got {value!r}")


def check_fraction(where: str, name: str, value, closed: bool = False) -> None:
    """Raise unless ``value`` is in [0, 1) (or [0, 1] when ``closed``)."""
    _check_real(where, name, value)
    if value < 0 or value > 1 or (value == 1 and not closed):
        interval = "[0, 1]" if closed else "[0, 1)"
        raise ValueError(f"{where}: {name} must be in {interval}; got {value!r}")


def check_flag(where: str, name: str, value) -> None:
    """Raise unless ``value`` is True or False."""
    if not isinstance(value, bool):
        raise TypeError(f"{where}: {name} must be True or False; got {value!r}")


def _check_real(where: str, name: str, value) -> None:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{where}: {name} must be a real number; got {value!r}")
    if not math.isfinite(value):
        raise ValueError(f"{where}: {name} must be finite; got {value!r}")
