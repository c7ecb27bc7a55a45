"""Tests for chainrule.datasets: the bundled digits file and its loader."""
import hashlib
import re
from importlib import resources

import numpy as np
import pytest

from chainrule.datasets import load_digits

DIGITS_COUNTS = [178, 182, 177, 183, 181, 182, 181, 179, 174, 180]


def _package_file(name):
    return resources.files("chainrule.datasets").joinpath(name)


def test_shapes_and_dtypes():
    X, y = load_digits()
    assert X.shape == (1797, 64) and X.dtype == np.float64
    assert y.shape == (1797,) and y.dtype == np.int64


def test_value_ranges():
    X, y = load_digits()
    assert X.min() == 0 and X.max() == 16
    assert np.array_equal(X, np.round(X))  # integer counts 0..16
    assert set(np.unique(y).tolist()) == set(range(10))


def test_class_counts():
    _, y = load_digits()
    assert np.bincount(y).tolist() == DIGITS_COUNTS


def test_returns_fresh_copies():
    X1, y1 = load_digits()
    X1[0, 0] = -1.0
    y1[0] = -1
    X2, y2 = load_digits()
    assert X2[0, 0] == 0.0 and y2[0] == 0


def test_sha256_matches_readme():
    readme = _package_file("README.md").read_text(encoding="utf-8")
    match = re.search(r"sha256\s*\|\s*`([0-9a-f]{64})`", readme)
    assert match, "README.md must state the sha256 of data/digits.npz"
    digest = hashlib.sha256(_package_file("data/digits.npz").read_bytes()).hexdigest()
    assert digest == match.group(1)


def test_equals_scikit_learn():
    datasets = pytest.importorskip("sklearn.datasets")
    reference = datasets.load_digits()
    X, y = load_digits()
    assert np.array_equal(X, reference.data)
    assert np.array_equal(y, reference.target)
