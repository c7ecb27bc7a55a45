"""Reading the files bundled in ``chainrule/datasets/data/`` (shared by the loaders)."""
from __future__ import annotations

from importlib import resources

import pandas as pd

from ..tabular import TabularEncoder

#: Package-relative folder of the bundled files.
DATA_DIR = "data"


def check_as_frame(as_frame) -> bool:
    """``as_frame`` must be a real bool (a string such as "no" would silently mean True)."""
    if not isinstance(as_frame, bool):
        raise TypeError(f"as_frame must be True or False, got {as_frame!r}")
    return as_frame


def read_bundled_csv(filename: str, *, dtypes: dict) -> pd.DataFrame:
    """Read ``data/<filename>`` with the column dtypes given, checking the columns match.

    ``dtypes`` maps every expected column, in file order, to its dtype; a file whose header
    differs (a damaged installation) raises ``RuntimeError`` naming both lists.
    """
    path = resources.files(__package__).joinpath(f"{DATA_DIR}/{filename}")
    with path.open("rb") as f:
        frame = pd.read_csv(f, dtype=dtypes)
    if list(frame.columns) != list(dtypes):
        raise RuntimeError(f"bundled file {filename!r} has columns {list(frame.columns)}, "
                           f"expected {list(dtypes)}; the installation is damaged")
    return frame


def frame_to_arrays(frame: pd.DataFrame, target: str):
    """``(X, y)`` of a bundled frame through :class:`chainrule.tabular.TabularEncoder`.

    Numeric columns are kept, string columns one-hot encoded against their first level
    (sorted), an integer class target mapped to class ids 0..K-1.
    """
    return TabularEncoder(target).fit_transform(frame)
