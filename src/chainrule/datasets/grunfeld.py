"""Loader for the Grunfeld (1950) investment data (``data/grunfeld.csv``), a regression set."""
from __future__ import annotations

from .bundled import check_as_frame, frame_to_arrays, read_bundled_csv

#: Column dtypes, in file order; ``invest`` is the target.
COLUMNS = {"invest": "float64", "value": "float64", "capital": "float64", "firm": "str", "year": "int64"}
TARGET = "invest"


def load_grunfeld(as_frame=False):
    """Grunfeld's investment data: 11 large U.S. firms observed yearly, 1935-1954 (220 rows).

    Columns: ``invest`` (gross investment, 1947 dollars; the target), ``value`` (market
    value of the firm as of 31 December, 1947 dollars), ``capital`` (stock of plant and
    equipment, 1947 dollars), ``firm`` (company name, 11 levels) and ``year``.
    Grunfeld's model is the linear regression ``invest = b0 + b1 value + b2 capital + e``,
    usually with firm effects.

    Returns
    -------
    ``as_frame=False``: ``(X, y)``: ``X`` float64 of shape (220, 13) with columns
    ``value, capital, firm[T.<name>]`` for the 10 firms other than the reference
    ``"American Steel"`` (first in sorted order), then ``year``; ``y`` float64 (220,)
    = ``invest``. ``as_frame=True``: the DataFrame of the five columns (target included).

    Source: Grunfeld (1958) PhD thesis, University of Chicago, as recreated by Kleiber and
    Zeileis (2010), "The Grunfeld Data at 50", German Economic Review 11(4), 404-417;
    file from statsmodels (``statsmodels.datasets.grunfeld``). Public domain.
    Provenance and checksum: ``chainrule/datasets/README.md``.
    """
    frame = read_bundled_csv("grunfeld.csv", dtypes=COLUMNS)
    if check_as_frame(as_frame):
        return frame
    return frame_to_arrays(frame, TARGET)
