"""Loader for the bundled UCI handwritten-digits data (``data/digits.npz``)."""
from __future__ import annotations

from importlib import resources

from ..engine.backend import host as np
from .bundled import check_as_frame

#: Package-relative location of the bundled file.
_DIGITS_FILE = "data/digits.npz"

#: Column names of ``load_digits(as_frame=True)``: pixel_<row>_<column> (as scikit-learn), then target.
FEATURE_NAMES = [f"pixel_{row}_{col}" for row in range(8) for col in range(8)]
TARGET = "target"


def load_digits(as_frame=False, as_images=False):
    """Return the UCI "Optical Recognition of Handwritten Digits" data.

    ``as_frame=False`` (default): ``(X, y)``. ``X`` is a float64 host array of shape
    (1797, 64): each row is an 8x8 image, row-major, whose entries are integers 0..16 (the
    count of "on" pixels in a 4x4 block of the original 32x32 bitmap). ``y`` is an int64
    host array of shape (1797,) holding the digit 0..9. The arrays are fresh copies;
    changing them is safe.

    ``as_images=True``: the same ``(X, y)`` with ``X`` of shape (1797, 1, 8, 8), one grey
    channel per image in PyTorch's (N, C, H, W) layout, for convolutional networks
    (``X[k, 0]`` is ``X_flat[k].reshape(8, 8)``).

    ``as_frame=True``: a pandas DataFrame of 1797 rows with the 64 pixel columns
    ``pixel_<row>_<col>`` (int64, scikit-learn's names) and the int64 column ``target``.

    Source: E. Alpaydin and C. Kaynak (1998), UCI Machine Learning Repository,
    DOI 10.24432/C50P49 — the 1797-sample test-set-derived version that scikit-learn
    ships (identical to ``sklearn.datasets.load_digits()``). Licence: CC BY 4.0.
    Provenance and checksum: ``chainrule/datasets/README.md``.

    Example::

        X, y = load_digits()
        X.shape, y.shape   # ((1797, 64), (1797,))
        images, y = load_digits(as_images=True)
        images.shape       # (1797, 1, 8, 8)
    """
    check_as_frame(as_frame)
    if not isinstance(as_images, bool):
        raise TypeError(f"load_digits: as_images must be True or False, got {as_images!r}")
    if as_frame and as_images:
        raise ValueError("load_digits: as_frame=True and as_images=True exclude each other (a frame has "
                         "one column per pixel)")
    path = resources.files(__package__).joinpath(_DIGITS_FILE)
    with path.open("rb") as f, np.load(f) as archive:
        images = archive["images"]
        target = archive["target"]
    if as_frame:
        return _as_frame(images, target)
    X = images.astype(np.float64)
    return (X.reshape(-1, 1, 8, 8) if as_images else X), target.astype(np.int64)


def _as_frame(images, target):
    import pandas as pd

    frame = pd.DataFrame(images.astype(np.int64), columns=FEATURE_NAMES)
    frame[TARGET] = target.astype(np.int64)
    return frame
