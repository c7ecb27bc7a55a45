"""Tests for chainrule.data: TensorDataset, DataLoader, random_split,
train_test_split, StandardScaler (references: NumPy and scikit-learn)."""
from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
from chainrule.data import (
    DataLoader,
    Dataset,
    StandardScaler,
    Subset,
    TensorDataset,
    random_split,
    train_test_split,
)


def _dataset(n=10, features=3):
    X = np.arange(n * features, dtype=np.float32).reshape(n, features)
    y = np.arange(n, dtype=np.int64)
    return TensorDataset(cr.tensor(X), cr.tensor(y))


def _epoch_order(loader):
    """The sample ids one epoch visits (the dataset's targets are the row ids)."""
    return np.concatenate([yb.numpy() for _, yb in loader])


# ---------------------------------------------------------------------- TensorDataset

def test_tensor_dataset_rows_and_batches():
    ds = _dataset()
    assert len(ds) == 10
    x3, y3 = ds[3]
    np.testing.assert_array_equal(x3.numpy(), [9.0, 10.0, 11.0])
    assert y3.item() == 3
    xb, yb = ds.__getitems__(np.array([4, 1]))
    np.testing.assert_array_equal(yb.numpy(), [4, 1])
    assert xb.shape == (2, 3) and xb.dtype == cr.float32


def test_tensor_dataset_keeps_array_dtypes():
    ds = TensorDataset(np.zeros((4, 2)), np.zeros(4, dtype=np.int64))
    assert ds.tensors[0].dtype == cr.float64 and ds.tensors[1].dtype == cr.int64


@pytest.mark.parametrize("tensors, match", [
    ((np.zeros((5, 2)), np.zeros(4)), r"tensor 1 has 4 samples.*tensor 0 has 5"),
    ((), "at least one tensor"),
    ((np.float64(1.0),), "must be a Tensor or an array"),
    ((np.zeros(3, dtype=np.int32),), "dtype int32"),
    ((cr.tensor(1.0),), "0-d"),
])
def test_tensor_dataset_rejects(tensors, match):
    with pytest.raises((ValueError, TypeError), match=match):
        TensorDataset(*tensors)


def test_tensor_dataset_names_nan_count_and_columns():
    X = np.ones((6, 4))
    X[1, 2] = X[3, 2] = np.nan
    X[0, 0] = np.inf
    with pytest.raises(ValueError, match=r"2 NaN and 1 inf.*column\(s\) 0 \(0 NaN, 1 inf\), 2 \(2 NaN, 0 inf\)"):
        TensorDataset(X, np.zeros(6))


# ---------------------------------------------------------------------- DataLoader

@pytest.mark.parametrize("n, batch_size, drop_last, lengths", [
    (10, 3, False, [3, 3, 3, 1]),
    (10, 3, True, [3, 3, 3]),
    (10, 5, False, [5, 5]),
    (10, 5, True, [5, 5]),
    (10, 32, False, [10]),
    (1, 1, False, [1]),
])
def test_loader_batch_sizes(n, batch_size, drop_last, lengths):
    loader = DataLoader(_dataset(n), batch_size, shuffle=True, drop_last=drop_last, seed=0)
    assert len(loader) == len(lengths)
    assert [len(yb) for _, yb in loader] == lengths


@pytest.mark.parametrize("batch_size", [0, -1, 1.5, True, "8", None])
def test_loader_rejects_bad_batch_size(batch_size):
    with pytest.raises(ValueError, match="batch_size must be a positive int"):
        DataLoader(_dataset(), batch_size)


@pytest.mark.parametrize("kwargs, match", [
    ({"seed": -1}, "seed must be None or a non-negative int"),
    ({"seed": 1.0}, "seed must be None or a non-negative int"),
    ({"batch_size": 20, "drop_last": True}, "every epoch would be empty"),
])
def test_loader_rejects_bad_arguments(kwargs, match):
    kwargs = {"batch_size": 4, **kwargs}
    with pytest.raises(ValueError, match=match):
        DataLoader(_dataset(), **kwargs)


def test_loader_rejects_empty_and_non_datasets():
    with pytest.raises(ValueError, match="empty"):
        DataLoader(TensorDataset(np.zeros((0, 2))), 4)
    with pytest.raises(TypeError, match="TensorDataset"):
        DataLoader(42, 4)


def test_every_epoch_is_a_fresh_permutation_of_all_samples():
    loader = DataLoader(_dataset(50), 7, seed=3)
    orders = [_epoch_order(loader) for _ in range(4)]
    for order in orders:
        np.testing.assert_array_equal(np.sort(order), np.arange(50))  # each sample once
    assert len({tuple(order) for order in orders}) == 4  # a new order every epoch
    assert loader.epoch == 4


def test_shuffle_false_keeps_the_stored_order():
    loader = DataLoader(_dataset(10), 4, shuffle=False)
    np.testing.assert_array_equal(_epoch_order(loader), np.arange(10))
    np.testing.assert_array_equal(_epoch_order(loader), np.arange(10))


def test_own_seed_is_reproducible_and_independent_of_the_global_generator():
    first = DataLoader(_dataset(30), 8, seed=11)
    cr.manual_seed(0)
    a = [_epoch_order(first) for _ in range(3)]
    second = DataLoader(_dataset(30), 8, seed=11)
    cr.manual_seed(999)
    cr.randn(5)
    b = [_epoch_order(second) for _ in range(3)]
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x, y)


def test_seed_none_follows_manual_seed():
    loader = DataLoader(_dataset(30), 8)
    cr.manual_seed(5)
    a = [_epoch_order(loader) for _ in range(2)]
    cr.manual_seed(5)
    b = [_epoch_order(loader) for _ in range(2)]
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x, y)
    # the permutation is the global generator's: same as randperm after the same seed
    cr.manual_seed(5)
    np.testing.assert_array_equal(a[0], cr.randperm(30).numpy())


@pytest.mark.parametrize("seed", [None, 4])
def test_loader_state_dict_resumes_the_sequence_of_permutations(seed):
    cr.manual_seed(1)
    loader = DataLoader(_dataset(20), 6, seed=seed)
    _epoch_order(loader)
    state = loader.state_dict()
    global_state = cr.random.generator().bit_generator.state
    expected = [_epoch_order(loader) for _ in range(2)]

    other = DataLoader(_dataset(20), 6, seed=seed)
    other.load_state_dict(state)
    cr.random.generator().bit_generator.state = global_state
    assert other.epoch == 1
    for x, y in zip(expected, [_epoch_order(other) for _ in range(2)]):
        np.testing.assert_array_equal(x, y)


def test_load_state_dict_refuses_own_generator_state_on_a_global_loader():
    state = DataLoader(_dataset(), 4, seed=1).state_dict()
    with pytest.raises(ValueError, match="seed=None"):
        DataLoader(_dataset(), 4).load_state_dict(state)


class _Squares(Dataset):
    """A map-style dataset without __getitems__: collated item by item."""

    def __len__(self):
        return 7

    def __getitem__(self, i):
        return np.array([i, i * i], dtype=np.float32), i


def test_generic_dataset_items_are_collated():
    xb, yb = next(iter(DataLoader(_Squares(), 3, shuffle=False)))
    np.testing.assert_array_equal(xb.numpy(), [[0, 0], [1, 1], [2, 4]])
    assert xb.dtype == cr.float32
    np.testing.assert_array_equal(yb.numpy(), [0, 1, 2])
    assert yb.dtype == cr.int64


def test_dataset_base_class_requires_len_and_getitem():
    with pytest.raises(NotImplementedError):
        len(Dataset())
    with pytest.raises(NotImplementedError):
        Dataset()[0]


# ---------------------------------------------------------------------- random_split

@pytest.mark.parametrize("lengths, counts", [
    ([7, 3], [7, 3]),
    ([0.7, 0.3], [7, 3]),
    ([0.5, 0.25, 0.25], [6, 2, 2]),  # floor gives 5, 2, 2; the spare sample goes to the first
    ([1 / 3, 1 / 3, 1 / 3], [4, 3, 3]),
    ([0.1, 0.1, 0.8], [1, 1, 8]),
    ([10], [10]),
])
def test_random_split_sizes_and_partition(lengths, counts):
    parts = random_split(_dataset(10), lengths, seed=0)
    assert [len(p) for p in parts] == counts
    torch_data = pytest.importorskip("torch.utils.data")  # the same rule as PyTorch's
    assert [len(p) for p in torch_data.random_split(range(10), lengths)] == counts
    ids = np.concatenate([_epoch_order(DataLoader(p, 4, shuffle=False)) for p in parts if len(p)])
    np.testing.assert_array_equal(np.sort(ids), np.arange(10))  # disjoint and complete


def test_random_split_subsets_index_the_parent():
    train, _ = random_split(_dataset(10), [6, 4], seed=2)
    assert isinstance(train, Subset)
    x, y = train[0]
    np.testing.assert_array_equal(x.numpy(), np.arange(3 * y.item(), 3 * y.item() + 3))
    again = random_split(_dataset(10), [6, 4], seed=2)
    np.testing.assert_array_equal(train.indices, again[0].indices)


@pytest.mark.parametrize("lengths, error", [
    ([5, 4], ValueError),
    ([-1, 11], ValueError),
    ([0.5, 0.4], ValueError),
    ([5, 0.5], TypeError),
    ([], ValueError),
])
def test_random_split_rejects_bad_lengths(lengths, error):
    with pytest.raises(error, match="random_split"):
        random_split(_dataset(10), lengths)


# ---------------------------------------------------------------------- train_test_split

@pytest.mark.parametrize("n, test_size", [(10, 0.25), (1797, 0.2), (7, 0.5), (10, 3), (100, 0.01)])
def test_train_test_split_sizes_match_scikit_learn(n, test_size):
    sk = pytest.importorskip("sklearn.model_selection")
    X = np.arange(n * 2).reshape(n, 2)
    X_train, X_test = train_test_split(X, test_size=test_size, seed=0)
    sk_train, sk_test = sk.train_test_split(X, test_size=test_size, random_state=0)
    assert (len(X_train), len(X_test)) == (len(sk_train), len(sk_test))
    np.testing.assert_array_equal(np.sort(np.concatenate([X_train, X_test])[:, 0]), X[:, 0])


def test_train_test_split_keeps_rows_aligned_and_kinds():
    pd = pytest.importorskip("pandas")
    X = np.arange(20.0).reshape(10, 2)
    y = cr.tensor(np.arange(10))
    frame = pd.DataFrame({"a": np.arange(10)})
    X_tr, _, y_tr, y_te, _, f_te = train_test_split(X, y, frame, test_size=0.3, seed=1)
    assert isinstance(y_tr, cr.Tensor) and isinstance(f_te, pd.DataFrame)
    np.testing.assert_array_equal(X_tr[:, 0] / 2, y_tr.numpy())
    np.testing.assert_array_equal(f_te["a"].to_numpy(), y_te.numpy())


def test_train_test_split_without_shuffle_holds_out_the_last_rows():
    tr, te = train_test_split(np.arange(10), test_size=0.2, shuffle=False)
    np.testing.assert_array_equal(tr, np.arange(8))
    np.testing.assert_array_equal(te, [8, 9])


def test_train_test_split_seed_none_follows_manual_seed():
    cr.manual_seed(3)
    a = train_test_split(np.arange(50))
    cr.manual_seed(3)
    b = train_test_split(np.arange(50))
    np.testing.assert_array_equal(a[1], b[1])


@pytest.mark.parametrize("arrays, kwargs, match", [
    ((np.zeros(5), np.zeros(4)), {}, "array 1 has 4 samples but array 0 has 5"),
    ((np.zeros(5),), {"test_size": 1.5}, r"in \(0, 1\)"),
    ((np.zeros(5),), {"test_size": 5}, "both parts"),
    ((np.zeros(5),), {"test_size": "a"}, "float or an int"),
    ((), {}, "at least one array"),
    (([1, 2, 3],), {}, "array, a Tensor or a pandas"),
])
def test_train_test_split_rejects(arrays, kwargs, match):
    with pytest.raises((ValueError, TypeError), match=match):
        train_test_split(*arrays, **kwargs)


# ---------------------------------------------------------------------- StandardScaler

def _design(seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(loc=[0.0, 50.0, -3.0, 1e6], scale=[1.0, 10.0, 0.01, 1e3], size=(40, 4))
    X[:, 2] = 7.0  # a constant column
    return X


def test_standard_scaler_matches_scikit_learn():
    sk = pytest.importorskip("sklearn.preprocessing")
    X = _design()
    ours, theirs = StandardScaler().fit(X[:30]), sk.StandardScaler().fit(X[:30])
    np.testing.assert_allclose(ours.mean_, theirs.mean_)
    np.testing.assert_allclose(ours.scale_, theirs.scale_)
    np.testing.assert_allclose(ours.var_, theirs.var_)
    np.testing.assert_allclose(ours.transform(X[30:]), theirs.transform(X[30:]), atol=1e-12)
    assert (ours.n_samples_seen_, ours.n_features_in_) == (30, 4)


def test_standard_scaler_uses_training_statistics_only():
    X = _design()
    train, test = X[:30], X[30:]
    scaler = StandardScaler().fit(train)
    z = scaler.transform(test)
    np.testing.assert_allclose(z[:, 0], (test[:, 0] - train[:, 0].mean()) / train[:, 0].std())
    assert abs(scaler.transform(train)[:, 0].mean()) < 1e-12
    np.testing.assert_array_equal(z[:, 2], 0.0)  # constant column: centred, not divided by 0


def test_standard_scaler_round_trip_and_tensor_in_tensor_out():
    X = _design().astype(np.float32)
    scaler = StandardScaler()
    Z = scaler.fit_transform(cr.tensor(X))
    assert isinstance(Z, cr.Tensor) and Z.dtype == cr.float32
    np.testing.assert_allclose(scaler.inverse_transform(Z).numpy(), X, rtol=1e-5)
    assert scaler.transform(np.arange(8).reshape(2, 4)).dtype == np.float64  # ints become float64


def test_standard_scaler_names_nan_columns_of_a_data_frame():
    pd = pytest.importorskip("pandas")
    frame = pd.DataFrame({"income": [1.0, np.nan, 3.0], "age": [20.0, 30.0, np.nan], "ok": [1.0, 2.0, 3.0]})
    with pytest.raises(ValueError, match=r"2 NaN and 0 inf.*income \(1 NaN, 0 inf\), age \(1 NaN, 0 inf\)"):
        StandardScaler().fit(frame)
    scaler = StandardScaler().fit(frame.dropna())
    assert list(scaler.feature_names_in_) == ["income", "age", "ok"]


@pytest.mark.parametrize("fit_on, transform, error, match", [
    (None, np.zeros((2, 4)), RuntimeError, "not fitted"),
    (np.zeros((3, 4)), np.zeros((2, 3)), ValueError, "3 features.*fitted on 4"),
    (np.zeros(4), None, ValueError, "must be 2-D"),
    (np.zeros((0, 4)), None, ValueError, "0 samples"),
    (np.array([["a"]]), None, TypeError, "numbers"),
    (np.zeros((3, 4)), np.full((2, 4), np.inf), ValueError, "0 NaN and 8 inf"),
])
def test_standard_scaler_rejects(fit_on, transform, error, match):
    scaler = StandardScaler()
    with pytest.raises(error, match=match):
        if fit_on is not None:
            scaler.fit(fit_on)
        scaler.transform(transform)


# ---------------------------------------------------------------------- ParquetDataset

def _write_parquet(path, n, p, row_group_size, seed=0):
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, p)).astype(np.float32)
    y = (X[:, 0] + 0.5 * X[:, 1] > 0).astype(np.int64)
    table = pa.table({**{f"x{j}": X[:, j] for j in range(p)}, "y": y})
    pq.write_table(table, path, row_group_size=row_group_size)
    return X, y


def test_parquet_batches_in_file_order_equal_the_in_memory_loader(tmp_path):
    from chainrule.data import DataLoader, ParquetDataset, TensorDataset

    X, y = _write_parquet(tmp_path / "d.parquet", 103, 3, row_group_size=17)
    streamed = ParquetDataset(tmp_path / "d.parquet", [["x0", "x1", "x2"], "y"], batch_size=10, shuffle=False)
    in_memory = DataLoader(TensorDataset(X, y), batch_size=10, shuffle=False)
    assert len(streamed) == len(in_memory) == 11 and streamed.num_rows == 103
    for (xs, ys), (xm, ym) in zip(streamed, in_memory, strict=True):
        np.testing.assert_array_equal(xs.numpy(), xm.numpy())
        np.testing.assert_array_equal(ys.numpy(), ym.numpy())
        assert xs.dtype == cr.float32 and ys.dtype == cr.int64


def test_parquet_shuffled_epoch_visits_every_row_once_and_shards_partition_the_groups(tmp_path):
    from chainrule.data import ParquetDataset

    X, _ = _write_parquet(tmp_path / "d.parquet", 100, 2, row_group_size=9)
    data = ParquetDataset(tmp_path / "d.parquet", ["x0"], batch_size=7, seed=1)
    first = np.concatenate([b[0].numpy() for b in data])
    second = np.concatenate([b[0].numpy() for b in data])
    np.testing.assert_array_equal(np.sort(first), np.sort(X[:, 0]))
    assert not np.array_equal(first, second)  # a new order each epoch
    shards = [data.shard(r, 3) for r in range(3)]
    rows = np.concatenate([np.concatenate([b[0].numpy() for b in s]) for s in shards])
    np.testing.assert_array_equal(np.sort(rows), np.sort(X[:, 0]))
    steps = data.batches_per_step(3)
    assert [sum(s[r] for s in steps) for r in range(3)] == [s.num_rows for s in shards]


@pytest.mark.parametrize("columns, error, match", [
    (["nope"], ValueError, r"column 'nope' is not in .*available: \['x0', 'x1', 'y'\]"),
    ("x0", TypeError, "columns must be a non-empty list"),
])
def test_parquet_rejects_unknown_columns(tmp_path, columns, error, match):
    from chainrule.data import ParquetDataset

    _write_parquet(tmp_path / "d.parquet", 10, 2, row_group_size=5)
    with pytest.raises(error, match=match):
        ParquetDataset(tmp_path / "d.parquet", columns, batch_size=4)


def test_parquet_names_nulls_and_nan_instead_of_dropping_them(tmp_path):
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    from chainrule.data import ParquetDataset

    pq.write_table(pa.table({"a": [1.0, None, 3.0], "b": [1.0, float("nan"), 2.0]}), tmp_path / "m.parquet")
    with pytest.raises(ValueError, match=r"column 'a' has 1 missing values \(nulls\) in row group 0"):
        list(ParquetDataset(tmp_path / "m.parquet", ["a"], batch_size=2))
    with pytest.raises(ValueError, match=r"column 'b' \(row group 0\) holds 1 NaN"):
        list(ParquetDataset(tmp_path / "m.parquet", ["b"], batch_size=2))


def test_streaming_training_equals_in_memory_training(tmp_path):
    from chainrule import nn, optim
    from chainrule.data import ParquetDataset
    from chainrule.train import Trainer

    X, y = _write_parquet(tmp_path / "d.parquet", 240, 4, row_group_size=50)
    weights = []
    for source in ("memory", "parquet"):
        cr.manual_seed(0)
        model = nn.MLP([4, 8, 2])
        trainer = Trainer(model, nn.CrossEntropyLoss(), optim.Adam(model.parameters(), lr=1e-2), verbose=0)
        if source == "memory":
            from chainrule.data import DataLoader, TensorDataset
            trainer.fit(DataLoader(TensorDataset(X, y), batch_size=32, shuffle=False), epochs=2)
        else:
            data = ParquetDataset(tmp_path / "d.parquet", [["x0", "x1", "x2", "x3"], "y"], batch_size=32,
                                  shuffle=False)
            trainer.fit(data, val=data, epochs=2)
        weights.append([p.numpy().copy() for p in model.parameters()])
    for streamed, in_memory in zip(weights[1], weights[0]):
        np.testing.assert_array_equal(streamed, in_memory)


@pytest.mark.slow
def test_streaming_a_file_larger_than_the_memory_budget_keeps_memory_bounded(tmp_path):
    """The file holds 300,000 x 11 float32/int64 values (about 14.4 MB in memory); the budget
    is 3.5 MB. One epoch of training is streamed in a fresh process (tests/mpi/stream_peak.py):
    the peak of Python/NumPy allocations (tracemalloc) plus Arrow's high-water mark must stay
    within the budget."""
    import json
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).parent / "mpi"))
    import runner

    n, p = 300_000, 10
    X, y = _write_parquet(tmp_path / "big.parquet", n, p, row_group_size=10_000)
    in_memory_bytes = X.nbytes + y.nbytes
    budget = 3_500_000
    assert in_memory_bytes > 4 * budget
    out = runner.run_single("stream_peak.py", "mlp", tmp_path / "big.parquet", p, 500)
    assert out.returncode == 0, out.stderr
    measured = json.loads(out.stdout)
    peak = measured["numpy_peak"] + measured["arrow_peak"]
    print(f"streamed {in_memory_bytes / 1e6:.1f} MB with a peak of {peak / 1e6:.2f} MB "
          f"(NumPy {measured['numpy_peak'] / 1e6:.2f} MB, Arrow {measured['arrow_peak'] / 1e6:.2f} MB); "
          f"budget {budget / 1e6:.1f} MB")
    assert peak < budget and measured["arrow_peak"] > 0
    assert measured["train_loss"] < 0.69  # it learned something: below log 2
