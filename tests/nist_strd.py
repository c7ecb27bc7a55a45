"""The eleven linear-regression problems of NIST's Statistical Reference Datasets (StRD).

tests/data/nist_strd/*.dat are NIST's own files, unchanged (public domain; from
https://www.itl.nist.gov/div898/strd/lls/lls.shtml): certified estimates, standard deviations
of the estimates, residual standard deviation and R² (computed by NIST in 500-digit
arithmetic), and the data. :func:`load` reads one; :func:`lre` is the log relative error
(McCullough 1998) with which results are scored: the number of correct significant digits.

Reference: B. D. McCullough, "Assessing the reliability of statistical software: Part I",
The American Statistician 52(4), 1998, 358-366.
"""
from __future__ import annotations

import pathlib
import re
from fractions import Fraction

import numpy as np

DIRECTORY = pathlib.Path(__file__).parent / "data" / "nist_strd"
#: In order of difficulty class: lower (Norris, Pontius, NoInt1, NoInt2), average (none
#: linear), higher (Filip, Longley, Wampler1-5).
NAMES = ["Norris", "Pontius", "NoInt1", "NoInt2", "Filip", "Longley",
         "Wampler1", "Wampler2", "Wampler3", "Wampler4", "Wampler5"]
_NUMBER = r"[-+]?\d*\.?\d+(?:[Ee][-+]?\d+)?"


class Problem:
    """One StRD problem: the design X (without the constant), y, whether the model has an
    intercept, and the certified ``params``, ``bse``, ``resid_sd`` and ``rsquared``."""

    def __init__(self, name, X, y, intercept, params, bse, resid_sd, rsquared):
        self.name, self.X, self.y, self.intercept = name, X, y, intercept
        self.params, self.bse, self.resid_sd, self.rsquared = params, bse, resid_sd, rsquared


def load(name: str) -> Problem:
    """The StRD problem ``name`` (one of :data:`NAMES`) rounded once to float64: polynomial
    models get their powers of x as columns (x, x², …), each computed exactly from NIST's
    decimal x (rational arithmetic) and then rounded, the most faithful float64 copy of the
    problem (``x ** j`` in float64 adds up to j rounding errors per entry, which on Filip
    alone costs the certified standard errors half a digit); Longley gets its columns as given."""
    lines = (DIRECTORY / f"{name}.dat").read_text().splitlines()
    header = "\n".join(lines[:60])
    first, last = (int(v) for v in re.search(r"Data\s+\(lines (\d+) to (\d+)\)", header).groups())
    rows = [line.split() for line in lines[first - 1:last]]
    table = np.array([[float(v) for v in row] for row in rows])
    estimates = [(int(m.group(1)), float(m.group(2)), float(m.group(3)))
                 for m in re.finditer(rf"^\s*B(\d+)\s+({_NUMBER})\s+({_NUMBER})\s*$", header, re.M)]
    resid_sd = float(re.search(rf"Standard Deviation\s+({_NUMBER})", header).group(1))
    rsquared = float(re.search(rf"R-Squared\s+({_NUMBER})", header).group(1))
    intercept = estimates[0][0] == 0
    y, x = table[:, 0], table[:, 1:]
    slopes = len(estimates) - intercept
    if x.shape[1] == 1 and slopes > 1:  # a polynomial in x
        exact = [Fraction(row[1]) for row in rows]
        x = np.array([[float(v ** j) for j in range(1, slopes + 1)] for v in exact])
    params = np.array([e[1] for e in estimates])
    bse = np.array([e[2] for e in estimates])
    return Problem(name, x, y, intercept, params, bse, resid_sd, rsquared)


def lre(estimate, certified, cap: float = 15.0):
    """The log relative error −log10(|estimate − certified| / |certified|), elementwise
    (−log10 |estimate| where certified = 0; ``cap`` where they are equal)."""
    estimate, certified = np.asarray(estimate, dtype=float), np.asarray(certified, dtype=float)
    error = np.abs(estimate - certified)
    scale = np.where(certified == 0, 1.0, np.abs(certified))
    with np.errstate(divide="ignore"):
        digits = -np.log10(error / scale)
    return np.minimum(digits, cap)
