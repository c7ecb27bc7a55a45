"""The catalogue of bundled datasets: names, descriptions, provenance, licences, loaders.

``names()`` lists them, ``info(name)`` describes one (what ``chainrule datasets`` shows),
``load(name, as_frame=False)`` loads one. Full provenance: ``README.md`` in this folder.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from .anes96 import load_anes96
from .digits import load_digits
from .grunfeld import load_grunfeld


@dataclass(frozen=True)
class DatasetInfo:
    """One bundled dataset. ``n_features`` counts input columns (before one-hot encoding);
    ``n_encoded_features`` is the width of ``X`` from ``load(name)``."""

    name: str
    task: str
    n_rows: int
    n_features: int
    n_encoded_features: int
    target: str
    description: str
    source: str
    citation: str
    licence: str
    file: str
    loader: Callable

    def as_dict(self) -> dict:
        return {field: getattr(self, field) for field in _PUBLIC_FIELDS}


_PUBLIC_FIELDS = ("name", "task", "n_rows", "n_features", "n_encoded_features", "target",
                  "description", "source", "citation", "licence", "file")

_DATASETS = (
    DatasetInfo(
        name="digits", task="multiclass", n_rows=1797, n_features=64, n_encoded_features=64,
        target="target",
        description="8x8 images of handwritten digits 0-9 (pixel counts 0-16); classify the digit.",
        source="UCI Machine Learning Repository, Optical Recognition of Handwritten Digits "
               "(test part, as shipped by scikit-learn), https://doi.org/10.24432/C50P49",
        citation="E. Alpaydin and C. Kaynak (1998). Optical Recognition of Handwritten Digits "
                 "[Dataset]. UCI Machine Learning Repository.",
        licence="CC BY 4.0", file="data/digits.npz", loader=load_digits,
    ),
    DatasetInfo(
        name="grunfeld", task="regression", n_rows=220, n_features=4, n_encoded_features=13,
        target="invest",
        description="Yearly investment of 11 large U.S. firms, 1935-1954, with market value, "
                    "capital stock, firm and year; predict gross investment.",
        source="Grunfeld (1958) thesis data as recreated by Kleiber and Zeileis (2010), "
               "distributed with statsmodels (statsmodels.datasets.grunfeld)",
        citation="Y. Grunfeld (1958). The Determinants of Corporate Investment. PhD thesis, "
                 "University of Chicago; C. Kleiber and A. Zeileis (2010). The Grunfeld Data "
                 "at 50. German Economic Review 11(4), 404-417.",
        licence="public domain", file="data/grunfeld.csv", loader=load_grunfeld,
    ),
    DatasetInfo(
        name="anes96", task="binary", n_rows=944, n_features=9, n_encoded_features=9,
        target="vote",
        description="1996 U.S. election survey: income, education, age, party identification "
                    "and ideology of 944 voters; predict a Dole (1) vs Clinton (0) vote.",
        source="American National Election Studies, 1996 Time Series Study "
               "(www.electionstudies.org), subset distributed with statsmodels "
               "(statsmodels.datasets.anes96)",
        citation="The American National Election Studies (www.electionstudies.org). "
                 "The 1996 National Election Study [dataset].",
        licence="public domain", file="data/anes96.csv", loader=load_anes96,
    ),
)

_BY_NAME = {dataset.name: dataset for dataset in _DATASETS}


def names() -> list:
    """The names of the bundled datasets, in catalogue order."""
    return [dataset.name for dataset in _DATASETS]


def info(name) -> dict:
    """A dict describing dataset ``name``: name, task, n_rows, n_features (input columns),
    n_encoded_features (width of X), target, description, source, citation, licence, file."""
    return _lookup(name).as_dict()


def load(name, as_frame=False):
    """Load dataset ``name``: ``(X, y)`` arrays, or a DataFrame with the target column when
    ``as_frame=True`` (see each ``load_<name>`` for the exact columns and dtypes)."""
    return _lookup(name).loader(as_frame=as_frame)


def _lookup(name):
    if name not in _BY_NAME:
        raise ValueError(f"unknown dataset {name!r}; bundled datasets are {names()}")
    return _BY_NAME[name]
