"""Tests for chainrule.datasets: the bundled files, their loaders and the catalogue.

References: scikit-learn's copy of the digits, statsmodels' copies of the Grunfeld and
ANES 1996 data, and the sha256 checksums stated in the datasets README.
"""
import hashlib
import re
from importlib import resources

import numpy as np
import pandas as pd
import pytest

from chainrule import datasets
from chainrule.datasets import load_anes96, load_digits, load_grunfeld

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


# ----------------------------------------------------------------------------- the catalogue


INFO_FIELDS = {"name", "task", "n_rows", "n_features", "n_encoded_features", "target",
               "description", "source", "citation", "licence", "file"}

# name -> (X shape, y dtype, frame shape, target)
EXPECTED = {
    "digits": ((1797, 64), np.int64, (1797, 65), "target"),
    "grunfeld": ((220, 13), np.float64, (220, 5), "invest"),
    "anes96": ((944, 9), np.int64, (944, 10), "vote"),
}


def test_catalogue_names():
    assert datasets.names() == ["digits", "grunfeld", "anes96"]


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_each_dataset_loads_as_documented(name):
    x_shape, y_dtype, frame_shape, target = EXPECTED[name]
    X, y = datasets.load(name)
    assert X.shape == x_shape and X.dtype == np.float64
    assert y.shape == (x_shape[0],) and y.dtype == y_dtype
    assert not np.isnan(X).any() and not np.isnan(y.astype(float)).any()
    frame = datasets.load(name, as_frame=True)
    assert isinstance(frame, pd.DataFrame) and frame.shape == frame_shape
    assert frame.isna().sum().sum() == 0
    np.testing.assert_array_equal(frame[target].to_numpy(), y)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_info_is_complete_and_consistent(name):
    info = datasets.info(name)
    assert set(info) == INFO_FIELDS
    assert all(isinstance(info[k], str) and info[k] for k in INFO_FIELDS - {"n_rows", "n_features",
                                                                             "n_encoded_features"})
    X, y = datasets.load(name)
    frame = datasets.load(name, as_frame=True)
    assert info["n_rows"] == X.shape[0] == len(frame)
    assert info["n_encoded_features"] == X.shape[1]
    assert info["n_features"] == frame.shape[1] - 1 and info["target"] in frame.columns
    n_classes = len(np.unique(y))
    expected_task = "regression" if y.dtype == np.float64 else ("binary" if n_classes == 2 else "multiclass")
    assert info["task"] == expected_task
    readme = _package_file("README.md").read_text(encoding="utf-8")
    assert f"`{info['file']}`" in readme
    assert info["licence"].lower() in readme.lower()


@pytest.mark.parametrize("filename", ["grunfeld.csv", "anes96.csv"])
def test_csv_sha256_matches_readme(filename):
    readme = _package_file("README.md").read_text(encoding="utf-8")
    section = readme.split(f"## `data/{filename}`", 1)[1]
    match = re.search(r"sha256\s*\|\s*`([0-9a-f]{64})`", section)
    assert match, f"README.md must state the sha256 of data/{filename}"
    digest = hashlib.sha256(_package_file(f"data/{filename}").read_bytes()).hexdigest()
    assert digest == match.group(1)
    assert _package_file(f"data/{filename}").read_bytes().__len__() < 1_000_000


def test_unknown_dataset_lists_the_names():
    with pytest.raises(ValueError,
                       match=r"unknown dataset 'iris'; bundled datasets are \['digits', 'grunfeld', 'anes96'\]"):
        datasets.load("iris")
    with pytest.raises(ValueError, match=r"unknown dataset"):
        datasets.info("iris")


def test_digits_as_frame_equals_arrays():
    frame = load_digits(as_frame=True)
    X, y = load_digits()
    assert list(frame.columns[:2]) == ["pixel_0_0", "pixel_0_1"] and frame.columns[-1] == "target"
    np.testing.assert_array_equal(frame.drop(columns="target").to_numpy(dtype=float), X)
    np.testing.assert_array_equal(frame["target"].to_numpy(), y)


def test_digits_frame_names_equal_scikit_learn():
    sk = pytest.importorskip("sklearn.datasets")
    assert list(load_digits(as_frame=True).columns[:64]) == list(sk.load_digits().feature_names)


def test_grunfeld_equals_statsmodels():
    sm = pytest.importorskip("statsmodels.datasets.grunfeld")
    reference = sm.load_pandas().data
    frame = load_grunfeld(as_frame=True)
    assert list(frame.columns) == ["invest", "value", "capital", "firm", "year"]
    assert frame["firm"].value_counts().to_dict() == {firm: 20 for firm in reference["firm"].unique()}
    np.testing.assert_array_equal(frame[["invest", "value", "capital"]].to_numpy(),
                                  reference[["invest", "value", "capital"]].to_numpy())
    np.testing.assert_array_equal(frame["year"].to_numpy(), reference["year"].to_numpy())
    assert frame["year"].min() == 1935 and frame["year"].max() == 1954


def test_grunfeld_arrays_are_the_documented_encoding():
    X, y = load_grunfeld()
    frame = load_grunfeld(as_frame=True)
    firms = sorted(frame["firm"].unique())
    assert firms[0] == "American Steel"  # the reference level: no column of its own
    np.testing.assert_array_equal(X[:, 0], frame["value"].to_numpy())
    np.testing.assert_array_equal(X[:, 1], frame["capital"].to_numpy())
    np.testing.assert_array_equal(X[:, 2:12], pd.get_dummies(frame["firm"], dtype=float)[firms[1:]].to_numpy())
    np.testing.assert_array_equal(X[:, 12], frame["year"].to_numpy())
    np.testing.assert_array_equal(y, frame["invest"].to_numpy())


def test_grunfeld_ols_matches_statsmodels():
    sm = pytest.importorskip("statsmodels.api")
    frame = load_grunfeld(as_frame=True)
    X, y = load_grunfeld()
    fit = sm.OLS(y, sm.add_constant(X)).fit()
    reference = sm.OLS.from_formula("invest ~ value + capital + C(firm) + year", frame).fit()
    np.testing.assert_allclose(fit.rsquared, reference.rsquared, rtol=1e-10)
    np.testing.assert_allclose(fit.params[1:3], reference.params[["value", "capital"]], rtol=1e-8)


def test_anes96_equals_statsmodels():
    sm = pytest.importorskip("statsmodels.datasets.anes96")
    reference = sm.load_pandas().data
    frame = load_anes96(as_frame=True)
    columns = ["popul", "TVnews", "selfLR", "ClinLR", "DoleLR", "PID", "age", "educ", "income", "vote"]
    assert list(frame.columns) == columns
    assert all(frame[c].dtype == np.int64 for c in columns)
    np.testing.assert_array_equal(frame.to_numpy(dtype=float), reference[columns].to_numpy())
    assert frame["vote"].value_counts().to_dict() == {0: 551, 1: 393}
    X, y = load_anes96()
    np.testing.assert_array_equal(X, frame[columns[:-1]].to_numpy(dtype=float))


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_as_frame_must_be_a_bool(name):
    with pytest.raises(TypeError, match=r"as_frame must be True or False, got 'no'"):
        datasets.load(name, as_frame="no")
