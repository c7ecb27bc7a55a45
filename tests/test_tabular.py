"""Tests for chainrule.tabular: reading files and encoding frames into (X, y).

References are computed independently: pandas.get_dummies for one-hot encoding,
numpy.unique for class ids, pandas mean/median for imputation, scikit-learn's
StandardScaler for standardization, pandas.read_csv/read_parquet for reading.
"""
import json
import warnings

import numpy as np
import pandas as pd
import pytest

from chainrule import datasets
from chainrule.tabular import (
    MAX_AUTO_CLASSES,
    DataError,
    DataWarning,
    TabularEncoder,
    iter_table_chunks,
    read_table,
)


def make_frame(n=40, seed=0):
    """Numeric, categorical (string), boolean columns and a string target."""
    rng = np.random.default_rng(seed)
    return pd.DataFrame({
        "income": rng.normal(50.0, 10.0, n),
        "region": rng.choice(["west", "east", "north"], n),
        "members": rng.integers(1, 6, n),
        "online": rng.random(n) > 0.5,
        "churn": rng.choice(["no", "yes"], n),
    })


def reference_design(frame, features):
    """One-hot (drop first sorted level) with pandas, in the encoder's column order."""
    blocks = []
    for column in features:
        series = frame[column]
        if series.dtype == object or pd.api.types.is_string_dtype(series.dtype):
            blocks.append(pd.get_dummies(series, prefix=column, prefix_sep="=", drop_first=True, dtype=float))
        else:
            blocks.append(series.astype(float).to_frame())
    return pd.concat(blocks, axis=1).to_numpy()


def fit_quietly(encoder, frame, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        return encoder.fit_transform(frame, **kwargs)


# ----------------------------------------------------------------------------- encoding


def test_mixed_columns_encode_like_pandas_get_dummies():
    frame = make_frame()
    encoder = TabularEncoder("churn")
    X, y = fit_quietly(encoder, frame)
    features = ["income", "region", "members", "online"]
    assert encoder.input_columns_ == features
    assert encoder.feature_names_ == ["income", "region[T.north]", "region[T.west]", "members", "online"]
    assert encoder.column_kinds_ == {"income": "numeric", "region": "categorical",
                                     "members": "numeric", "online": "boolean"}
    assert encoder.levels_ == {"region": ["east", "north", "west"]}
    assert X.dtype == np.float64 and X.shape == (40, 5)
    np.testing.assert_array_equal(X, reference_design(frame, features))


def test_string_target_maps_to_sorted_classes():
    frame = make_frame()
    encoder = TabularEncoder("churn")
    _, y = fit_quietly(encoder, frame)
    classes, codes = np.unique(frame["churn"].to_numpy(dtype=str), return_inverse=True)
    assert encoder.classes_ == classes.tolist() == ["no", "yes"]
    assert encoder.task_ == "binary"
    assert y.dtype == np.int64
    np.testing.assert_array_equal(y, codes)


def test_categorical_dtype_keeps_declared_level_order():
    frame = make_frame()
    frame["region"] = pd.Categorical(frame["region"], categories=["west", "north", "east"])
    frame["churn"] = pd.Categorical(frame["churn"], categories=["yes", "no"])
    encoder = TabularEncoder("churn")
    X, y = fit_quietly(encoder, frame)
    assert encoder.levels_["region"] == ["west", "north", "east"]
    assert encoder.feature_names_[1:3] == ["region[T.north]", "region[T.east]"]
    np.testing.assert_array_equal(X[:, 2], (frame["region"] == "east").to_numpy(dtype=float))
    assert encoder.classes_ == ["yes", "no"]
    np.testing.assert_array_equal(y, (frame["churn"] == "no").to_numpy(dtype=np.int64))


@pytest.mark.parametrize("values, task, classes", [
    ([True, False, True, False], "binary", [False, True]),
    (["a", "b", "c", "a"], "multiclass", ["a", "b", "c"]),
    ([3, 1, 2, 3], "multiclass", [1, 2, 3]),
    ([0, 1, 1, 0], "binary", [0, 1]),
    (list(range(MAX_AUTO_CLASSES)), "multiclass", list(range(MAX_AUTO_CLASSES))),
    (list(range(MAX_AUTO_CLASSES + 1)), "regression", None),
    ([0.5, 1.0, 1.0, 0.5], "regression", None),
])
def test_auto_task_rule(values, task, classes):
    n = len(values)
    frame = pd.DataFrame({"x": np.arange(n, dtype=float) ** 2, "y": values})
    encoder = TabularEncoder("y").fit(frame)
    assert encoder.task_ == task
    assert encoder.classes_ == classes
    assert "y" in encoder.task_rule_ and ("classification" in encoder.task_rule_ or task == "regression")


def test_explicit_task_overrides_the_rule():
    frame = pd.DataFrame({"x": [1.0, 2.0, 3.0, 4.0], "y": [0.0, 1.0, 1.0, 0.0]})
    encoder = TabularEncoder("y", task="classification")
    _, y = encoder.fit_transform(frame)
    assert encoder.task_ == "binary" and encoder.classes_ == [0.0, 1.0]
    np.testing.assert_array_equal(y, [0, 1, 1, 0])
    reg = TabularEncoder("y", task="regression")
    _, y = reg.fit_transform(pd.DataFrame({"x": [1.0, 2.0, 3.0], "y": [1, 2, 2]}))
    assert reg.task_ == "regression" and y.dtype == np.float64


def test_regression_refuses_a_string_target():
    frame = pd.DataFrame({"x": [1.0, 2.0, 3.0], "y": ["a", "b", "a"]})
    with pytest.raises(DataError, match=r"task='regression' needs a numeric target, but 'y' is categorical"):
        TabularEncoder("y", task="regression").fit(frame)


def test_boolean_with_missing_values_is_still_boolean():
    frame = pd.DataFrame({"flag": [True, None, False, True], "x": [1.0, 2.0, 3.0, 5.0], "y": [1.0, 2.0, 3.0, 4.0]})
    encoder = TabularEncoder("y", dropna=True)
    X, _ = encoder.fit_transform(frame)
    assert encoder.column_kinds_["flag"] == "boolean"
    np.testing.assert_array_equal(X[:, 0], [1.0, 0.0, 1.0])
    np.testing.assert_array_equal(encoder.last_kept_rows_, [0, 2, 3])


# ----------------------------------------------------------------------------- refusals


def test_missing_values_error_lists_each_column_with_its_count():
    frame = make_frame()
    frame.loc[[1, 4, 7], "income"] = np.nan
    frame.loc[[2], "region"] = None
    frame.loc[[3, 5], "churn"] = None
    with pytest.raises(DataError) as info:
        TabularEncoder("churn").fit(frame)
    message = str(info.value)
    assert "'income': 3" in message and "'region': 1" in message and "'churn': 2" in message
    assert "dropna" in message and "impute" in message


def test_dropna_drops_incomplete_rows_and_reports_them():
    frame = make_frame()
    frame.loc[[1, 4], "income"] = np.nan
    frame.loc[[4, 9], "region"] = None
    encoder = TabularEncoder("churn", dropna=True)
    X, y = fit_quietly(encoder, frame)
    kept = np.setdiff1d(np.arange(40), [1, 4, 9])
    assert encoder.n_rows_in_ == 40 and encoder.n_rows_dropped_ == 3 and encoder.n_rows_used_ == 37
    assert encoder.missing_counts_ == {"income": 2, "region": 2}
    np.testing.assert_array_equal(encoder.last_kept_rows_, kept)
    expected = reference_design(frame.iloc[kept].reset_index(drop=True), encoder.input_columns_)
    np.testing.assert_array_equal(X, expected)
    assert len(y) == 37
    assert encoder.summary()["rows"] == {"in": 40, "dropped_incomplete": 3, "used": 37}


@pytest.mark.parametrize("how", ["mean", "median"])
def test_impute_fills_numeric_features_from_the_training_rows(how):
    frame = make_frame()
    frame.loc[[0, 30, 35], "income"] = np.nan
    train = np.arange(25)
    encoder = TabularEncoder("churn", impute=how)
    X, _ = fit_quietly(encoder, frame, standardize_rows=train)
    observed = frame.loc[train, "income"].dropna()
    expected = observed.mean() if how == "mean" else observed.median()
    assert encoder.impute_values_["income"] == pytest.approx(expected, rel=1e-15)
    np.testing.assert_array_equal(X[[0, 30, 35], 0], [expected] * 3)
    assert encoder.n_rows_dropped_ == 0


def test_impute_does_not_fill_categorical_columns():
    frame = make_frame()
    frame.loc[[3], "income"] = np.nan
    frame.loc[[5, 6], "region"] = None
    with pytest.raises(DataError, match=r"'region': 2.*fills numeric features only") as info:
        TabularEncoder("churn", impute="mean").fit(frame)
    assert "'income'" not in str(info.value)
    encoder = TabularEncoder("churn", impute="mean", dropna=True)
    X, _ = encoder.fit_transform(frame)
    assert encoder.n_rows_dropped_ == 2 and X.shape[0] == 38


def test_infinite_values_name_the_column_and_count():
    frame = make_frame()
    frame["members"] = frame["members"].astype(float)
    frame.loc[[2, 3], "income"] = np.inf
    frame.loc[[8], "members"] = -np.inf
    with pytest.raises(DataError, match=r"infinite values .* 'income': 2, 'members': 1"):
        TabularEncoder("churn").fit(frame)


def test_constant_column_is_dropped_with_a_warning():
    frame = make_frame()
    frame["country"] = "NL"
    frame["version"] = 3
    encoder = TabularEncoder("churn")
    with pytest.warns(DataWarning) as record:
        X, _ = encoder.fit_transform(frame)
    messages = [str(w.message) for w in record]
    assert messages == ["column 'country' takes a single value ('NL') on all 40 usable rows; "
                        "it is dropped from the features",
                        "column 'version' takes a single value (3) on all 40 usable rows; "
                        "it is dropped from the features"]
    assert encoder.dropped_constant_ == ["country", "version"]
    assert "country" not in encoder.input_columns_ and X.shape[1] == 5
    assert encoder.summary()["dropped_constant"] == ["country", "version"]


@pytest.mark.parametrize("dates", [
    pd.date_range("2024-01-01", periods=6, freq="D"),
    ["2024-01-01", "2024-01-02", "2024-02-03", "2024-03-04", None, "2024-05-06"],
    ["2024-01-01 10:00:00", "2024-01-02T11:30", "2024-02-03", "2024-03-04", "2024-04-05", "2024-05-06"],
])
def test_date_column_is_refused_with_advice(dates):
    frame = pd.DataFrame({"day": dates, "x": np.arange(6.0), "y": np.arange(6.0) * 1.5})
    with pytest.raises(DataError, match=r"column 'day' holds dates/times.*year, month, day of week"):
        TabularEncoder("y").fit(frame)


def test_target_among_features_is_refused():
    frame = make_frame()
    with pytest.raises(DataError, match=r"target 'churn' is also listed among the features"):
        TabularEncoder("churn", features=["income", "churn"]).fit(frame)


def test_absent_feature_and_absent_target_are_named():
    frame = make_frame()
    with pytest.raises(DataError, match=r"feature column\(s\) \['age', 'zip'\] not in the data"):
        TabularEncoder("churn", features=["income", "age", "zip"]).fit(frame)
    with pytest.raises(DataError, match=r"target column 'spend' is not in the data"):
        TabularEncoder("spend").fit(frame)


def test_single_class_target_is_refused():
    frame = pd.DataFrame({"x": [1.0, 2.0, 3.0], "y": ["a", "a", "a"]})
    with pytest.raises(DataError, match=r"target 'y' has a single class \['a'\]"):
        TabularEncoder("y").fit(frame)


def test_mostly_numeric_text_column_is_refused_naming_the_text():
    frame = pd.DataFrame({"price": ["1.5", "2.0", "n/a", "3.25", "4"], "y": [1.0, 2.0, 3.0, 4.0, 5.0]})
    with pytest.raises(DataError, match=r"column 'price' is mostly numbers but 1 value\(s\) are text, e.g. \['n/a'\]"):
        TabularEncoder("y").fit(frame)


def test_identifier_like_column_is_refused():
    frame = pd.DataFrame({"id": [f"c{i}" for i in range(30)], "x": np.arange(30.0), "y": np.arange(30.0) % 7})
    with pytest.raises(DataError, match=r"'id' has 30 distinct values \(more than max_levels=20\)"):
        TabularEncoder("y", max_levels=20).fit(frame)


@pytest.mark.parametrize("kwargs, match", [
    ({"task": "ranking"}, r"task must be one of"),
    ({"impute": "mode"}, r"impute must be one of"),
    ({"dropna": "yes"}, r"dropna must be True or False"),
])
def test_bad_parameters_name_themselves(kwargs, match):
    with pytest.raises((ValueError, TypeError), match=match):
        TabularEncoder("churn", **kwargs).fit(make_frame())


# ----------------------------------------------------------------------------- standardization


def test_standardization_uses_only_the_training_rows():
    sklearn_preprocessing = pytest.importorskip("sklearn.preprocessing")
    frame = make_frame(n=60)
    train = np.arange(0, 60, 3)
    encoder = TabularEncoder("churn", standardize=True)
    X, _ = fit_quietly(encoder, frame, standardize_rows=train)
    raw = reference_design(frame, encoder.input_columns_)
    numeric = [encoder.feature_names_.index(c) for c in ("income", "members")]
    scaler = sklearn_preprocessing.StandardScaler().fit(raw[train][:, numeric])
    np.testing.assert_allclose(encoder.mean_[numeric], scaler.mean_, rtol=1e-14)
    np.testing.assert_allclose(encoder.scale_[numeric], scaler.scale_, rtol=1e-14)
    np.testing.assert_allclose(X[:, numeric], scaler.transform(raw[:, numeric]), rtol=1e-12, atol=1e-14)
    dummies = [i for i in range(X.shape[1]) if i not in numeric]
    np.testing.assert_array_equal(X[:, dummies], raw[:, dummies])  # one-hot/boolean stay 0/1
    summary = encoder.summary()["standardization"]
    assert summary["applied"] and summary["n_rows"] == 20 and summary["columns"] == ["income", "members"]


def test_boolean_mask_and_positions_select_the_same_rows():
    frame = make_frame()
    mask = np.zeros(40, dtype=bool)
    mask[5:30] = True
    by_mask = TabularEncoder("churn", standardize=True).fit(frame, standardize_rows=mask)
    by_position = TabularEncoder("churn", standardize=True).fit(frame, standardize_rows=np.arange(5, 30))
    np.testing.assert_array_equal(by_mask.mean_, by_position.mean_)
    with pytest.raises(ValueError, match=r"standardize_rows as a boolean mask must have shape \(40,\)"):
        TabularEncoder("churn").fit(frame, standardize_rows=mask[:10])
    with pytest.raises(ValueError, match=r"positions outside 0..39"):
        TabularEncoder("churn").fit(frame, standardize_rows=[0, 40])


# ----------------------------------------------------------------------------- transform on new data


def fitted_encoder(**kwargs):
    encoder = TabularEncoder("churn", **kwargs)
    fit_quietly(encoder, make_frame())
    return encoder


def test_transform_new_data_matches_fit_encoding():
    encoder = fitted_encoder(standardize=True)
    new = make_frame(n=15, seed=1)
    X, y = encoder.transform(new)
    raw = reference_design(new, encoder.input_columns_)
    np.testing.assert_allclose(X, (raw - encoder.mean_) / encoder.scale_, rtol=1e-15)
    X_only, y_none = encoder.transform(new.drop(columns="churn"), require_target=False)
    assert y_none is None
    np.testing.assert_array_equal(X_only, X)
    new.loc[[1, 2], "churn"] = [None, "unknown-label"]  # ignored when the target is not required
    X_ignored, y_ignored = encoder.transform(new, require_target=False)
    assert y_ignored is None and encoder.last_kept_rows_.tolist() == list(range(15))
    np.testing.assert_array_equal(X_ignored, X)


def test_transform_names_missing_and_extra_columns():
    encoder = fitted_encoder()
    new = make_frame(n=5, seed=1)
    with pytest.raises(DataError, match=r"lacks feature column\(s\) \['region', 'online'\]"):
        encoder.transform(new.drop(columns=["region", "online"]))
    with pytest.raises(DataError, match=r"target column 'churn' is missing"):
        encoder.transform(new.drop(columns="churn"))
    new["note"] = "x"
    encoder.transform(new)  # extra columns are ignored unless strict
    with pytest.raises(DataError, match=r"column\(s\) \['note'\] the model was not fitted with"):
        encoder.transform(new, strict=True)


def test_transform_refuses_unseen_levels_and_classes():
    encoder = fitted_encoder()
    new = make_frame(n=6, seed=1)
    new.loc[[0, 3], "region"] = ["south", "mars"]
    with pytest.raises(DataError, match=r"column 'region' has level\(s\) \['mars', 'south'\] not seen when "
                                        r"fitting, at row\(s\) 0, 3 \(0-based"):
        encoder.transform(new)
    new = make_frame(n=6, seed=1)
    new.loc[2, "churn"] = "maybe"
    with pytest.raises(DataError, match=r"target 'churn' has label\(s\) \['maybe'\] that were not seen "
                                        r"when fitting, at row\(s\) 2 "):
        encoder.transform(new)


def test_transform_refuses_text_in_a_numeric_column():
    encoder = fitted_encoder()
    new = make_frame(n=4, seed=1)
    new["income"] = ["1.0", "abc", "2", "3"]
    with pytest.raises(DataError, match=r"column 'income' was numeric when fitted .* \['abc'\]"):
        encoder.transform(new)


def test_transform_missing_values_error_or_drop_with_alignment():
    new = make_frame(n=10, seed=1)
    new.loc[[2, 7], "members"] = np.nan
    with pytest.raises(DataError, match=r"'members': 2"):
        fitted_encoder().transform(new)
    encoder = fitted_encoder(dropna=True)
    X, y = encoder.transform(new)
    kept = encoder.last_kept_rows_
    np.testing.assert_array_equal(kept, [0, 1, 3, 4, 5, 6, 8, 9])
    X_full, _ = encoder.transform(new.fillna({"members": 0}))
    np.testing.assert_array_equal(X, X_full[kept])
    imputer = fitted_encoder(impute="median")
    X, _ = imputer.transform(new)
    np.testing.assert_array_equal(X[[2, 7], 3], [imputer.impute_values_["members"]] * 2)


def test_to_dict_round_trip_transforms_identically():
    frame = make_frame(n=50)
    frame.loc[[1, 2], "income"] = np.nan
    frame.loc[[3], "region"] = None
    frame["region"] = pd.Categorical(frame["region"], categories=["west", "north", "east"])
    encoder = TabularEncoder("churn", dropna=True, impute="mean", standardize=True)
    encoder.fit(frame, standardize_rows=np.arange(30))
    restored = TabularEncoder.from_dict(json.loads(json.dumps(encoder.to_dict())))
    new = make_frame(n=20, seed=3)
    new.loc[[4], "income"] = np.nan
    new["online"] = new["online"].astype(object)
    new.loc[[6], "online"] = None
    for data in (frame, new):
        X1, y1 = encoder.transform(data)
        X2, y2 = restored.transform(data)
        np.testing.assert_array_equal(X1, X2)
        np.testing.assert_array_equal(y1, y2)
        np.testing.assert_array_equal(encoder.last_kept_rows_, restored.last_kept_rows_)
    assert restored.summary() == encoder.summary()
    assert restored.classes_ == ["no", "yes"] and restored.levels_ == encoder.levels_


def test_from_dict_refuses_foreign_dicts():
    with pytest.raises(ValueError, match=r"from_dict expects a dict made by TabularEncoder.to_dict"):
        TabularEncoder.from_dict({"weights": [1, 2]})


def test_summary_is_json_and_describes_columns():
    frame = make_frame()
    frame.loc[[0], "income"] = np.nan
    encoder = TabularEncoder("churn", impute="median")
    fit_quietly(encoder, frame)
    summary = json.loads(json.dumps(encoder.summary()))
    columns = {c["name"]: c for c in summary["columns"]}
    assert columns["region"]["encoding"] == "one-hot (treatment), reference level 'east'"
    assert columns["region"]["features"] == ["region[T.north]", "region[T.west]"]
    assert columns["online"]["kind"] == "boolean" and columns["income"]["missing"] == 1
    assert summary["target"]["classes"] == ["no", "yes"] and summary["target"]["task"] == "binary"
    assert summary["missing"]["policy"] == "impute numeric features with the median"
    assert summary["standardization"] == {"applied": False}


def test_unfitted_encoder_says_so():
    with pytest.raises(RuntimeError, match=r"not fitted yet"):
        TabularEncoder("churn").transform(make_frame())


# ----------------------------------------------------------------------------- reading files


@pytest.mark.parametrize("name, write", [
    ("table.csv", lambda f, p: f.to_csv(p, index=False)),
    ("table.csv.gz", lambda f, p: f.to_csv(p, index=False)),
    ("table.tsv", lambda f, p: f.to_csv(p, index=False, sep="\t")),
    ("table.parquet", lambda f, p: f.to_parquet(p, index=False)),
    ("table.pq", lambda f, p: f.to_parquet(p, index=False)),
])
def test_read_table_round_trips(tmp_path, name, write):
    frame = make_frame(n=25)
    path = tmp_path / name
    write(frame, path)
    read = read_table(path)
    pd.testing.assert_frame_equal(read, frame, check_dtype=False)
    assert read["income"].dtype == np.float64 and read["online"].dtype == bool
    subset = read_table(str(path), columns=["churn", "income"])
    assert list(subset.columns) == ["churn", "income"]
    # CSV text holds 17 significant digits; pandas < 3 may parse the last bit differently
    np.testing.assert_allclose(subset["income"].to_numpy(), frame["income"].to_numpy(), rtol=1e-15)


@pytest.mark.parametrize("name, write, chunksize", [
    ("t.csv", lambda f, p: f.to_csv(p, index=False), 7),
    ("t.csv", lambda f, p: f.to_csv(p, index=False), 1000),
    ("t.parquet", lambda f, p: f.to_parquet(p, index=False, row_group_size=10), 7),
    ("t.parquet", lambda f, p: f.to_parquet(p, index=False, row_group_size=10), 1),
])
def test_chunked_reading_equals_whole_reading(tmp_path, name, write, chunksize):
    frame = make_frame(n=32)
    path = tmp_path / name
    write(frame, path)
    chunks = list(iter_table_chunks(path, chunksize=chunksize))
    assert all(len(c) <= chunksize for c in chunks)
    assert len(chunks) == -(-32 // chunksize)
    pd.testing.assert_frame_equal(pd.concat(chunks), read_table(path))
    columns = ["members", "region"]
    pd.testing.assert_frame_equal(pd.concat(iter_table_chunks(path, chunksize=chunksize, columns=columns)),
                                  read_table(path, columns=columns))


def test_chunked_dataset_by_name_equals_whole():
    from chainrule.datasets import iter_table_chunks, read_table

    chunks = list(iter_table_chunks("grunfeld", chunksize=64))
    assert [len(c) for c in chunks] == [64, 64, 64, 28]
    pd.testing.assert_frame_equal(pd.concat(chunks), read_table("grunfeld"))


def test_read_table_by_dataset_name():
    from chainrule.datasets import read_table

    frame = read_table("anes96")
    assert frame.shape == (944, 10) and "vote" in frame.columns
    assert list(read_table("grunfeld", columns=["firm", "invest"]).columns) == ["firm", "invest"]


def test_read_table_errors_name_the_problem(tmp_path):
    from chainrule.datasets import read_table

    (tmp_path / "data.xlsx").write_text("x")
    with pytest.raises(DataError, match=r"data.xlsx'?: unsupported file type; expected a name ending in .csv"):
        read_table(tmp_path / "data.xlsx")
    with pytest.raises(DataError) as info:
        read_table(tmp_path / "absent.csv")
    assert "absent.csv" in str(info.value)
    assert all(name in str(info.value) for name in datasets.names())
    (tmp_path / "empty.csv").write_text("")
    with pytest.raises(DataError, match=r"empty.csv' is empty"):
        read_table(tmp_path / "empty.csv")
    (tmp_path / "header.csv").write_text("a,b\n")
    with pytest.raises(DataError, match=r"header.csv' has a header \(\['a', 'b'\]\) but no data rows"):
        read_table(tmp_path / "header.csv")
    with pytest.raises(DataError, match=r"header.csv' has a header but no data rows"):
        list(iter_table_chunks(tmp_path / "header.csv"))
    (tmp_path / "dup.csv").write_text("a,b,a\n1,2,3\n")
    with pytest.raises(DataError, match=r"duplicate column names \['a'\]"):
        read_table(tmp_path / "dup.csv")
    with pytest.raises(DataError, match=r"no column\(s\) \['c'\]"):
        read_table(tmp_path / "dup.csv".replace("dup", "header"), columns=["a", "c"])
    (tmp_path / "bad.parquet").write_bytes(b"not a parquet file")
    with pytest.raises(DataError, match=r"bad.parquet' could not be read as parquet"):
        read_table(tmp_path / "bad.parquet")


def test_duplicate_columns_in_parquet_are_refused(tmp_path):
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    table = pa.Table.from_arrays([pa.array([1, 2]), pa.array([3, 4])], names=["x", "x"])
    pq.write_table(table, tmp_path / "dup.parquet")
    with pytest.raises(DataError, match=r"duplicate column names \['x'\]"):
        read_table(tmp_path / "dup.parquet")


def test_csv_file_through_encoder_end_to_end(tmp_path):
    frame = make_frame(n=30)
    frame.to_csv(tmp_path / "t.csv", index=False)
    X_file, y_file = TabularEncoder("churn").fit_transform(read_table(tmp_path / "t.csv"))
    X_mem, y_mem = TabularEncoder("churn").fit_transform(frame)
    np.testing.assert_allclose(X_file, X_mem, rtol=1e-15)
    np.testing.assert_array_equal(y_file, y_mem)


# ----------------------------------------------------------------------------- fitting in chunks


def messy_frame(n=90, seed=4):
    frame = make_frame(n=n, seed=seed)
    frame.loc[[3, 40, 77], "income"] = np.nan
    frame.loc[[10, 61], "region"] = None
    frame.loc[[12], "churn"] = None
    return frame


@pytest.mark.parametrize("chunksize", [7, 30, 1000])
def test_fit_chunks_equals_fit_on_the_whole_table(tmp_path, chunksize):
    frame = messy_frame()
    path = tmp_path / "big.csv"
    frame.to_csv(path, index=False)
    train = np.arange(0, 90, 2)
    options = dict(dropna=True, impute="mean", standardize=True)
    whole = TabularEncoder("churn", **options).fit(read_table(path), standardize_rows=train)
    chunked = TabularEncoder("churn", **options).fit_chunks(
        lambda: iter_table_chunks(path, chunksize=chunksize), standardize_rows=train)
    a, b = whole.to_dict()["fitted"], chunked.to_dict()["fitted"]
    for name in ("mean_", "scale_"):
        np.testing.assert_allclose(b.pop(name), a.pop(name), rtol=1e-12)
    assert b.pop("impute_values_") == pytest.approx(a.pop("impute_values_"), rel=1e-12)
    assert b == a
    assert chunked.n_rows_dropped_ == 3 and chunked.missing_counts_ == {"income": 3, "region": 2, "churn": 1}
    X_whole, y_whole = whole.transform(frame)
    parts = [chunked.transform(chunk) for chunk in iter_table_chunks(path, chunksize=chunksize)]
    np.testing.assert_allclose(np.vstack([p[0] for p in parts]), X_whole, rtol=1e-12, atol=1e-12)
    np.testing.assert_array_equal(np.concatenate([p[1] for p in parts]), y_whole)


def test_fit_chunks_with_a_callable_training_mask_and_parquet(tmp_path):
    frame = make_frame(n=50)
    path = tmp_path / "t.parquet"
    frame.to_parquet(path, row_group_size=8)
    first_30 = lambda chunk: chunk.index.to_numpy() < 30  # noqa: E731
    chunked = TabularEncoder("churn", standardize=True).fit_chunks(
        lambda: iter_table_chunks(path, chunksize=8), standardize_rows=first_30)
    whole = TabularEncoder("churn", standardize=True).fit(frame, standardize_rows=np.arange(30))
    np.testing.assert_allclose(chunked.mean_, whole.mean_, rtol=1e-13)
    np.testing.assert_allclose(chunked.scale_, whole.scale_, rtol=1e-13)
    assert chunked.n_rows_standardize_ == 30


def test_fit_chunks_refusals():
    frame = make_frame()
    with pytest.raises(TypeError, match=r"chunks must be a zero-argument callable"):
        TabularEncoder("churn").fit_chunks([frame])
    with pytest.raises(ValueError, match=r"impute='median' needs the whole column"):
        TabularEncoder("churn", impute="median").fit_chunks(lambda: [frame])
    once = iter([frame])
    with pytest.raises(DataError, match=r"second pass over chunks\(\) yielded no rows.*fresh iterable"):
        TabularEncoder("churn").fit_chunks(lambda: once)
    text = frame.iloc[20:].copy()
    text["members"] = "many"
    with pytest.raises(DataError, match=r"column 'members' reads as categorical in rows 20..39 but as numeric"):
        TabularEncoder("churn").fit_chunks(lambda: [frame.iloc[:20], text])
    infinite = frame.copy()
    infinite.loc[[5, 25], "income"] = np.inf
    with pytest.raises(DataError, match=r"'income': 2"):
        TabularEncoder("churn").fit_chunks(lambda: [infinite.iloc[:20], infinite.iloc[20:]])


def test_zero_variance_on_training_rows_warns_and_keeps_scale_one():
    frame = pd.DataFrame({"x": [1.0, 1.0, 1.0, 2.0, 3.0], "y": [0.1, 0.2, 0.3, 0.4, 0.5]})
    encoder = TabularEncoder("y", standardize=True)
    with pytest.warns(DataWarning, match=r"\['x'\] take a single value on the standardization rows"):
        encoder.fit(frame, standardize_rows=[0, 1, 2])
    assert encoder.mean_.tolist() == [1.0] and encoder.scale_.tolist() == [1.0]


def test_usable_rows_predicts_the_rows_fit_keeps():
    frame = messy_frame()
    for options in ({"dropna": True}, {"dropna": True, "impute": "mean"}):
        encoder = TabularEncoder("churn", **options)
        rows = encoder.usable_rows(frame)
        encoder.fit(frame, standardize_rows=rows[:50])
        encoder.transform(frame)
        np.testing.assert_array_equal(rows, encoder.last_kept_rows_)
    assert TabularEncoder("churn", dropna=True, impute="mean").usable_rows(frame).tolist() == [
        i for i in range(90) if i not in (10, 12, 61)]
    with pytest.raises(DataError, match=r"'income': 3"):
        TabularEncoder("churn").usable_rows(frame)


def test_unreadable_and_empty_files(tmp_path):
    (tmp_path / "binary.csv").write_bytes(b"\xff\xfe\xfa\x00\x81\x82,\n\x90\x91\n")
    with pytest.raises(DataError, match=r"binary.csv' could not be read as csv"):
        read_table(tmp_path / "binary.csv")
    make_frame(n=5).iloc[:0].to_parquet(tmp_path / "none.parquet")
    with pytest.raises(DataError, match=r"none.parquet' has a header .* but no data rows"):
        read_table(tmp_path / "none.parquet")
    with pytest.raises(DataError, match=r"none.parquet' has columns but no data rows"):
        list(iter_table_chunks(tmp_path / "none.parquet"))
    with pytest.raises(DataError, match=r"is a directory"):
        read_table(tmp_path)
    with pytest.raises(ValueError, match=r"chunksize must be a positive integer, got 0"):
        iter_table_chunks("grunfeld", chunksize=0)
