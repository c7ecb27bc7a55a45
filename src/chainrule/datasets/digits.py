"""Loader for the bundled UCI handwritten-digits data (``data/digits.npz``)."""
from __future__ import annotations

from importlib import resources

from ..backend import host as np

#: Package-relative location of the bundled file.
_DIGITS_FILE = "data/digits.npz"


def load_digits():
    """Return the UCI "Optical Recognition of Handwritten Digits" data as ``(X, y)``.

    ``X`` is a float64 host array of shape (1797, 64): each row is an 8x8 image,
    row-major, whose entries are integers 0..16 (the count of "on" pixels in a 4x4
    block of the original 32x32 bitmap). ``y`` is an int64 host array of shape (1797,)
    holding the digit 0..9. The arrays are fresh copies; changing them is safe.

    Source: E. Alpaydin and C. Kaynak (1998), UCI Machine Learning Repository,
    DOI 10.24432/C50P49 — the 1797-sample test-set-derived version that scikit-learn
    ships (identical to ``sklearn.datasets.load_digits()``). Licence: CC BY 4.0.
    Provenance and checksum: ``chainrule/datasets/README.md``.

    Example::

        X, y = load_digits()
        X.shape, y.shape   # ((1797, 64), (1797,))
    """
    path = resources.files(__package__).joinpath(_DIGITS_FILE)
    with path.open("rb") as f, np.load(f) as archive:
        X = archive["images"].astype(np.float64)
        y = archive["target"].astype(np.int64)
    return X, y
