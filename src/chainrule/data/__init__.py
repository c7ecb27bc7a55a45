"""Datasets, mini-batches and input standardization.

The pieces of the supervised-learning pipeline that come before the model:

* :class:`TensorDataset` holds aligned tensors (features, targets) and checks them:
  equal lengths, no NaN or inf values.
* :class:`DataLoader` cuts a dataset into mini-batches. With ``shuffle=True`` each
  pass (epoch) visits the samples in a fresh random order: we shuffle, we do not
  sample with replacement, so every sample is seen exactly once per epoch. The order
  comes from the global generator (``chainrule.manual_seed``) unless the loader has
  its own ``seed``.
* :func:`random_split` and :func:`train_test_split` hold out data for validation and
  testing.
* :class:`StandardScaler` rescales features to mean 0 and standard deviation 1 with
  statistics of the *training* data only: ``fit`` on the training split, then
  ``transform`` the training, validation and test splits with those statistics, so
  no information from held-out data leaks into training.

Example::

    import chainrule as cr
    from chainrule.data import DataLoader, StandardScaler, TensorDataset, train_test_split

    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.2, seed=0)
    scaler = StandardScaler().fit(X_train)
    train = TensorDataset(cr.tensor(scaler.transform(X_train), dtype=cr.float32),
                          cr.tensor(y_train))
    for xb, yb in DataLoader(train, batch_size=64, seed=0):
        ...
"""
from __future__ import annotations

import math

from ..engine import backend
from ..engine import random as _random
from ..engine.backend import host as np
from ..engine.tensor import Tensor, wrap
from ..engine.tensor import tensor as _to_tensor

__all__ = [
    "Dataset", "TensorDataset", "Subset", "DataLoader", "DistributedLoader", "random_split",
    "train_test_split", "StandardScaler", "ParquetDataset",
]


# ---------------------------------------------------------------------- datasets

class Dataset:
    """A sized collection of samples: subclasses define ``__len__`` and ``__getitem__``.

    ``dataset[i]`` returns one sample, usually a tuple ``(features, target)``. A
    dataset may also define ``__getitems__(indices)`` returning a whole collated
    batch at once (as :class:`TensorDataset` does); :class:`DataLoader` uses it when
    present and otherwise collates ``dataset[i]`` one by one.
    """

    def __len__(self) -> int:
        raise NotImplementedError(f"{type(self).__name__} must define __len__")  # abstract

    def __getitem__(self, index):
        raise NotImplementedError(f"{type(self).__name__} must define __getitem__")  # abstract


class TensorDataset(Dataset):
    """Samples are rows: ``dataset[i] == (t[i] for t in tensors)``.

    Args:
        *tensors: Tensors or host arrays of one of chainrule's dtypes (float32,
            float64, int64, bool), all with the same length along dimension 0.
            Arrays are wrapped without copying and keep their dtype (convert
            explicitly, e.g. ``cr.tensor(X, dtype=cr.float32)``: nothing is cast
            silently).

    Raises ``ValueError`` when the lengths differ (naming both), when a tensor is
    0-d, or when a floating-point tensor holds NaN or inf values (naming how many
    and in which columns).

    Example::

        ds = TensorDataset(cr.randn(100, 3), cr.randint(0, 2, (100,)))
        x0, y0 = ds[0]
    """

    def __init__(self, *tensors):
        if not tensors:
            raise ValueError("TensorDataset: expected at least one tensor; got none")
        converted = []
        for position, item in enumerate(tensors):
            name = f"tensor {position}"
            t = _as_dataset_tensor(item, f"TensorDataset: {name}")
            if t.ndim == 0:
                raise ValueError(
                    f"TensorDataset: {name} is 0-d (a single value); each tensor needs a "
                    f"first dimension that indexes the samples"
                )
            _check_finite(t.data, f"TensorDataset: {name}")
            converted.append(t)
        first = len(converted[0])
        for position, t in enumerate(converted[1:], start=1):
            if len(t) != first:
                raise ValueError(
                    f"TensorDataset: tensor {position} has {len(t)} samples (shape "
                    f"{tuple(t.shape)}) but tensor 0 has {first} (shape "
                    f"{tuple(converted[0].shape)}); all tensors must have the same length "
                    f"along dimension 0"
                )
        self.tensors = tuple(converted)

    def __len__(self) -> int:
        return len(self.tensors[0])

    def __getitem__(self, index):
        return tuple(t[index] for t in self.tensors)

    def __getitems__(self, indices):
        """The batch of samples at ``indices`` (a host int64 array), one tensor per field."""
        return tuple(wrap(t.data[indices]) for t in self.tensors)

    def __repr__(self) -> str:
        shapes = ", ".join(f"{tuple(t.shape)} {t.dtype}" for t in self.tensors)
        return f"TensorDataset({len(self)} samples: {shapes})"


class Subset(Dataset):
    """The samples of ``dataset`` at ``indices``, in that order (what :func:`random_split` returns)."""

    def __init__(self, dataset, indices):
        self.dataset = dataset
        self.indices = np.asarray(indices, dtype=np.int64)

    def __len__(self) -> int:
        return len(self.indices)

    def __getitem__(self, index):
        return self.dataset[int(self.indices[index])]

    def __getitems__(self, indices):
        return _fetch(self.dataset, self.indices[indices])

    def __repr__(self) -> str:
        return f"Subset({len(self)} of {len(self.dataset)} samples)"


# ---------------------------------------------------------------------- loading

class DataLoader:
    """Iterate over a dataset in mini-batches.

    Each ``for batch in loader`` is one epoch. With ``shuffle=True`` it visits the
    samples in a fresh random permutation every epoch (a shuffle, not sampling with
    replacement); with ``shuffle=False`` in their stored order.

    Args:
        dataset: a :class:`Dataset` (or anything with ``__len__`` and ``__getitem__``).
        batch_size: samples per batch, a positive int. The last batch is smaller
            when ``len(dataset)`` is not a multiple of it, unless ``drop_last``.
        shuffle: draw a new permutation every epoch (default True).
        drop_last: skip the last, incomplete batch.
        seed: ``None`` (default) draws the permutations from the global generator,
            so ``chainrule.manual_seed`` makes a whole run reproducible; an int gives
            the loader its own generator (PCG64), independent of everything else.

    Batches are tuples with one tensor per field of the samples (``(xb, yb)`` for a
    two-tensor :class:`TensorDataset`). ``len(loader)`` is the number of batches per
    epoch. ``state_dict()`` / ``load_state_dict()`` save and restore the epoch count
    and the loader's own generator, so a resumed run draws the same permutations.

    Example::

        loader = DataLoader(TensorDataset(X, y), batch_size=32, seed=0)
        for epoch in range(10):
            for xb, yb in loader:
                ...
    """

    def __init__(self, dataset, batch_size: int, shuffle: bool = True,
                 drop_last: bool = False, seed: int | None = None):
        if not (hasattr(dataset, "__len__") and hasattr(dataset, "__getitem__")):
            raise TypeError(
                f"DataLoader: dataset must define __len__ and __getitem__ (a Dataset); "
                f"got {type(dataset).__name__}. Wrap tensors with TensorDataset(X, y)"
            )
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(f"DataLoader: batch_size must be a positive int; got {batch_size!r}")
        if len(dataset) == 0:
            raise ValueError("DataLoader: the dataset is empty (0 samples)")
        if drop_last and len(dataset) < batch_size:
            raise ValueError(
                f"DataLoader: drop_last=True with batch_size={batch_size} but the dataset "
                f"has only {len(dataset)} samples, so every epoch would be empty"
            )
        self.dataset = dataset
        self.batch_size = batch_size
        self.shuffle = bool(shuffle)
        self.drop_last = bool(drop_last)
        self.seed = _check_seed(seed, "DataLoader")
        self._generator = None if seed is None else _new_generator(seed)
        self.epoch = 0  # epochs (iterations) started

    def __len__(self) -> int:
        n = len(self.dataset)
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)

    def __iter__(self):
        n = len(self.dataset)
        order = self._generator_now().permutation(n) if self.shuffle else np.arange(n)
        self.epoch += 1
        return self._batches(order)

    def _batches(self, order):
        stop = len(self) * self.batch_size
        for start in range(0, min(stop, len(order)), self.batch_size):
            yield _fetch(self.dataset, order[start:start + self.batch_size])

    def _generator_now(self):
        # The global generator is looked up every epoch: manual_seed replaces it.
        return self._generator if self._generator is not None else _random.generator()

    def state_dict(self) -> dict:
        """``{"epoch": int, "generator": the own generator's state or None}``."""
        state = None if self._generator is None else self._generator.bit_generator.state
        return {"epoch": self.epoch, "generator": state}

    def load_state_dict(self, state: dict) -> None:
        """Restore what :meth:`state_dict` returned (the epoch count and own generator)."""
        self.epoch = int(state["epoch"])
        if state.get("generator") is not None:
            if self._generator is None:
                raise ValueError(
                    "DataLoader.load_state_dict: the state has its own generator (the loader "
                    "was made with seed=...) but this loader uses the global one (seed=None)"
                )
            self._generator.bit_generator.state = state["generator"]

    def __repr__(self) -> str:
        return (f"DataLoader({len(self.dataset)} samples, batch_size={self.batch_size}, "
                f"shuffle={self.shuffle}, drop_last={self.drop_last}, seed={self.seed})")


class DistributedLoader:
    """One rank's mini-batches in data-parallel training (what ``Trainer(distributed=True)`` uses).

    Every epoch all ranks share one permutation π of the n samples (drawn as
    :class:`DataLoader` draws it, from the global generator or from ``seed``, and then
    broadcast from rank 0, so the ranks cannot disagree). Global batch j holds the
    samples π[jNB : (j+1)NB] for N = ``world_size`` ranks and per-rank batch B =
    ``batch_size``; its m rows are dealt out in N contiguous slices, rank r taking
    π[jNB + ⌊rm/N⌋ : jNB + ⌊(r+1)m/N⌋] (B rows each when the batch is full). The ranks'
    shards are disjoint and together cover the epoch, and one process with batch NB visits
    exactly the same global batches.

    Iterating yields ``(batch, m)`` per global batch: this rank's batch (a tuple of
    tensors, or None when the last, short global batch has no rows for this rank) and m,
    the size of the global batch (the Trainer weights each rank's mean gradient by its
    share of m). ``len(loader)`` is the number of global batches per epoch.
    """

    def __init__(self, dataset, batch_size: int, *, rank: int, world_size: int,
                 shuffle: bool = True, drop_last: bool = False, seed: int | None = None):
        if isinstance(world_size, bool) or not isinstance(world_size, int) or world_size < 1:
            raise ValueError(f"DistributedLoader: world_size must be a positive int; got {world_size!r}")
        if isinstance(rank, bool) or not isinstance(rank, int) or not 0 <= rank < world_size:
            raise ValueError(f"DistributedLoader: rank must be an int in 0 … {world_size - 1}; got {rank!r}")
        # a DataLoader over the global batch size validates the rest and draws the permutations
        self._global = DataLoader(dataset, batch_size * world_size if isinstance(batch_size, int)
                                  and not isinstance(batch_size, bool) else batch_size,
                                  shuffle=shuffle, drop_last=drop_last, seed=seed)
        self.dataset, self.batch_size = dataset, batch_size
        self.rank, self.world_size = rank, world_size
        self.shuffle, self.drop_last, self.seed = bool(shuffle), bool(drop_last), seed

    def __len__(self) -> int:
        return len(self._global)

    def __iter__(self):
        n = len(self.dataset)
        order = self._global._generator_now().permutation(n) if self.shuffle else np.arange(n)
        self._global.epoch += 1
        if self.shuffle and self.world_size > 1:
            from ..engine import distributed  # noqa: PLC0415 - MPI only for a distributed run

            distributed.broadcast_(order)
        return self._shards(order)

    def _shards(self, order):
        step = self._global.batch_size
        for start in range(0, len(self) * step, step):
            batch = order[start:start + step]
            m = len(batch)
            lo, hi = m * self.rank // self.world_size, m * (self.rank + 1) // self.world_size
            yield (_fetch(self.dataset, batch[lo:hi]) if hi > lo else None), m

    @property
    def epoch(self) -> int:
        return self._global.epoch

    def state_dict(self) -> dict:
        """As :meth:`DataLoader.state_dict`: the epoch count and the own generator's state."""
        return self._global.state_dict()

    def load_state_dict(self, state: dict) -> None:
        self._global.load_state_dict(state)

    def __repr__(self) -> str:
        return (f"DistributedLoader({len(self.dataset)} samples, rank {self.rank} of {self.world_size}, "
                f"batch_size={self.batch_size} per rank, shuffle={self.shuffle}, seed={self.seed})")


def _fetch(dataset, indices):
    """One batch: the dataset's own batched fetch when it has one, else collate items."""
    getitems = getattr(dataset, "__getitems__", None)
    if getitems is not None:
        return getitems(indices)
    return _collate([dataset[int(i)] for i in indices])


def _collate(samples):
    """Stack a list of samples field by field into tensors."""
    first = samples[0]
    if isinstance(first, (tuple, list)):
        return tuple(_collate_field([s[k] for s in samples]) for k in range(len(first)))
    return _collate_field(samples)


def _collate_field(values):
    if isinstance(values[0], Tensor):
        xp = backend.namespace_of(values[0].data)
        return wrap(xp.stack([v.data for v in values]))
    if backend.is_array(values[0]) or isinstance(values[0], np.generic):
        return _to_tensor(np.stack([np.asarray(v) for v in values]))
    return _to_tensor(list(values))


# ---------------------------------------------------------------------- streaming

class ParquetDataset:
    """Mini-batches streamed from a Parquet file, one row group at a time (bounded memory).

    A Parquet file is stored in row groups; this reads one group at a time (pyarrow), so a
    pass over a file larger than memory holds one row group plus one batch, never the file.
    Each ``for batch in dataset`` is one epoch of batches of ``batch_size`` rows (the last
    smaller), each a tuple with one tensor per entry of ``columns``.

    Shuffling without reading the file whole: with ``shuffle=True`` each epoch visits the
    row groups in a random order and the rows of each group in a random order (a
    two-level shuffle: rows of one group stay in neighbouring batches, which is the price
    of bounded memory; write the file with many small row groups, or pre-shuffled, if that
    matters). ``shuffle=False`` keeps the file's order, so batches equal those of
    ``DataLoader(TensorDataset(...), batch_size, shuffle=False)`` on the same rows.

    Sharding: in data-parallel training rank r of N reads only the row groups g with
    g mod N = r (:meth:`shard`); the Trainer does this itself when ``distributed``.

    Args:
        path: the Parquet file.
        columns: one entry per tensor of a batch: a column name gives a 1-D tensor, a list
            of names a 2-D tensor with those columns, e.g. ``[["x1", "x2"], "y"]`` for
            batches ``(X, y)``.
        batch_size: rows per batch, a positive int.
        dtype: the dtype of floating-point columns (float32 by default; float64 for
            statistics); integer columns become int64 (class labels), booleans bool.
        shuffle, seed: as :class:`DataLoader` (``seed=None``: the global generator).

    Missing values (nulls), NaN and inf raise ValueError naming the column and the row
    group: nothing is dropped silently. ``len(dataset)`` is the number of batches per
    epoch; ``num_rows`` the number of rows.

    Example::

        train = ParquetDataset("big.parquet", [["x1", "x2", "x3"], "label"], batch_size=256)
        Trainer(model, nn.CrossEntropyLoss(), optim.Adam(model.parameters())).fit(train, epochs=5)
    """

    def __init__(self, path, columns, batch_size: int, *, dtype=None, shuffle: bool = True,
                 seed: int | None = None):
        try:
            import pyarrow.parquet as pq  # noqa: PLC0415 - optional dependency
        except ImportError as err:
            raise ImportError("ParquetDataset needs pyarrow (pip install pyarrow)") from err
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(f"ParquetDataset: batch_size must be a positive int; got {batch_size!r}")
        self.path = str(path)
        self._file = pq.ParquetFile(self.path, pre_buffer=False)  # row group by row group
        self.fields = _parquet_fields(columns, self._file.schema_arrow, self.path)
        self.batch_size = batch_size
        self.dtype = backend.float32 if dtype is None else backend.canonical_dtype(dtype, "ParquetDataset: dtype")
        if self.dtype not in backend.FLOAT_DTYPES:
            raise TypeError(f"ParquetDataset: dtype must be float32 or float64; got {self.dtype}")
        self.shuffle = bool(shuffle)
        self.seed = _check_seed(seed, "ParquetDataset")
        self._generator = None if seed is None else _new_generator(seed)
        metadata = self._file.metadata
        self.group_rows = np.asarray([metadata.row_group(g).num_rows for g in range(metadata.num_row_groups)],
                                     dtype=np.int64)
        self.groups = np.arange(len(self.group_rows))  # the row groups this dataset reads
        self.epoch = 0
        if self.num_rows == 0:
            raise ValueError(f"ParquetDataset: {self.path!r} has no rows")

    @property
    def num_rows(self) -> int:
        """Rows in the row groups this dataset reads."""
        return int(self.group_rows[self.groups].sum())

    def __len__(self) -> int:
        return -(-self.num_rows // self.batch_size)

    def shard(self, rank: int, world_size: int) -> ParquetDataset:
        """A copy that reads only the row groups g with g mod world_size = rank."""
        if isinstance(world_size, bool) or not isinstance(world_size, int) or world_size < 1:
            raise ValueError(f"ParquetDataset.shard: world_size must be a positive int; got {world_size!r}")
        if isinstance(rank, bool) or not isinstance(rank, int) or not 0 <= rank < world_size:
            raise ValueError(f"ParquetDataset.shard: rank must be an int in 0 … {world_size - 1}; got {rank!r}")
        copy = object.__new__(ParquetDataset)
        copy.__dict__.update(self.__dict__)
        copy.groups = self.groups[rank::world_size]
        copy.epoch = 0
        return copy

    def __iter__(self):
        generator = self._generator if self._generator is not None else _random.generator()
        groups = generator.permutation(self.groups) if self.shuffle else self.groups
        self.epoch += 1
        return self._batches(groups, generator)

    def _batches(self, groups, generator):
        pending = []   # arrays per field, rows not yet batched (fewer than batch_size)
        held = 0
        for g in groups:
            arrays = self._read_group(int(g))
            if self.shuffle:
                order = generator.permutation(len(arrays[0]))
                arrays = [a[order] for a in arrays]
            pending.append(arrays)
            held += len(arrays[0])
            while held >= self.batch_size:
                batch, pending, held = _take_rows(pending, held, self.batch_size)
                yield tuple(wrap(a) for a in batch)
        if held:
            batch, pending, held = _take_rows(pending, held, held)
            yield tuple(wrap(a) for a in batch)

    def _read_group(self, g: int) -> list:
        """The arrays of row group g, one per field, checked for nulls, NaN and inf."""
        names = [name for field in self.fields for name in (field if isinstance(field, list) else [field])]
        table = self._file.read_row_group(g, columns=names)
        arrays = []
        for field in self.fields:
            group = field if isinstance(field, list) else [field]
            columns = [self._column(table, name, g) for name in group]
            if isinstance(field, list):
                dtype = np.result_type(*columns)
                out = np.empty((len(columns[0]), len(columns)), dtype=dtype)
                for j, column in enumerate(columns):
                    out[:, j] = column
                arrays.append(out)
            else:
                arrays.append(np.ascontiguousarray(columns[0]))
        return arrays

    def _column(self, table, name: str, g: int):
        column = table.column(name)
        if column.null_count:
            raise ValueError(
                f"ParquetDataset: column {name!r} has {column.null_count} missing values (nulls) in row "
                f"group {g} of {self.path!r}; drop or impute them first"
            )
        values = column.to_numpy()
        kind = values.dtype.kind
        if kind == "f":
            values = values.astype(self.dtype, copy=False)
            _check_finite(values, f"ParquetDataset: column {name!r} (row group {g})")
        elif kind in "iu":
            values = values.astype(np.int64, copy=False)
        elif kind != "b":
            raise TypeError(f"ParquetDataset: column {name!r} holds {values.dtype} values; expected numbers")
        return values

    def batches_per_step(self, world_size: int) -> list:
        """For data-parallel training, per global step j the rows of every rank's shard:
        ``rows[j][r]`` (ranks whose shard ran out contribute 0). Computed from the file's
        metadata alone, so every rank knows every step's global batch size."""
        shard_rows = [int(self.group_rows[r::world_size].sum()) for r in range(world_size)]
        steps = max(-(-n // self.batch_size) for n in shard_rows)
        return [[max(0, min(self.batch_size, n - j * self.batch_size)) for n in shard_rows]
                for j in range(steps)]

    def state_dict(self) -> dict:
        """The epoch count and the own generator's state (as :class:`DataLoader`)."""
        state = None if self._generator is None else self._generator.bit_generator.state
        return {"epoch": self.epoch, "generator": state}

    def load_state_dict(self, state: dict) -> None:
        self.epoch = int(state["epoch"])
        if state.get("generator") is not None and self._generator is not None:
            self._generator.bit_generator.state = state["generator"]

    def __repr__(self) -> str:
        return (f"ParquetDataset({self.path!r}, {self.num_rows} rows in {len(self.groups)} row groups, "
                f"batch_size={self.batch_size}, shuffle={self.shuffle})")


class ShardedParquet:
    """Rank r's batches of a :class:`ParquetDataset` in data-parallel training: yields
    ``(batch or None, m)`` per global step, m the rows of all ranks in that step, with the
    same number of steps on every rank (a rank whose shard ran out yields None)."""

    def __init__(self, dataset: ParquetDataset, rank: int, world_size: int):
        self.dataset = dataset
        self.local = dataset.shard(rank, world_size)
        self.rank, self.world_size = rank, world_size
        self.rows = dataset.batches_per_step(world_size)
        self.batch_size = dataset.batch_size

    def __len__(self) -> int:
        return len(self.rows)

    def __iter__(self):
        batches = iter(self.local)
        for rows in self.rows:
            yield (next(batches) if rows[self.rank] else None), sum(rows)

    def state_dict(self) -> dict:
        return self.local.state_dict()

    def load_state_dict(self, state: dict) -> None:
        self.local.load_state_dict(state)


def _parquet_fields(columns, schema, path: str) -> list:
    if isinstance(columns, str) or not isinstance(columns, (list, tuple)) or not columns:
        raise TypeError(
            f"ParquetDataset: columns must be a non-empty list of column names or lists of names, "
            f"e.g. [['x1', 'x2'], 'y']; got {columns!r}"
        )
    fields = []
    for entry in columns:
        group = list(entry) if isinstance(entry, (list, tuple)) else [entry]
        for name in group:
            if not isinstance(name, str) or schema.get_field_index(name) < 0:
                raise ValueError(
                    f"ParquetDataset: column {name!r} is not in {path!r}; available: {schema.names}"
                )
        fields.append(group if isinstance(entry, (list, tuple)) else entry)
    return fields


def _take_rows(pending: list, held: int, count: int):
    """The first ``count`` pending rows as one array per field, and what remains."""
    joined = [np.concatenate([part[k] for part in pending]) if len(pending) > 1 else pending[0][k]
              for k in range(len(pending[0]))]
    batch = [a[:count] for a in joined]
    rest = [a[count:] for a in joined]
    return batch, ([rest] if held > count else []), held - count


# ---------------------------------------------------------------------- splitting

def random_split(dataset, lengths, seed: int | None = None) -> list:
    """Split ``dataset`` into non-overlapping random :class:`Subset` s.

    ``lengths`` are either sample counts that add up to ``len(dataset)`` or
    fractions that add up to 1 (each part gets ``floor(fraction * n)`` samples and
    the remainder is dealt out one by one from the first part, as in PyTorch).
    The permutation comes from the global generator, or from ``seed`` when given.

    Example::

        train, val = random_split(dataset, [0.8, 0.2], seed=0)
    """
    n = len(dataset)
    counts = _split_counts(list(lengths), n)
    order = _permutation(n, seed, "random_split")
    parts, start = [], 0
    for count in counts:
        parts.append(Subset(dataset, order[start:start + count]))
        start += count
    return parts


def _split_counts(lengths: list, n: int) -> list:
    if not lengths:
        raise ValueError("random_split: lengths is empty")
    if all(isinstance(v, int) and not isinstance(v, bool) for v in lengths):
        if any(v < 0 for v in lengths) or sum(lengths) != n:
            raise ValueError(
                f"random_split: lengths {lengths} must be non-negative and add up to the "
                f"dataset's {n} samples (they add up to {sum(lengths)})"
            )
        return lengths
    if all(isinstance(v, float) for v in lengths):
        if any(not 0 <= v <= 1 for v in lengths) or not math.isclose(sum(lengths), 1.0, abs_tol=1e-6):
            raise ValueError(
                f"random_split: fractions {lengths} must lie in [0, 1] and add up to 1 "
                f"(they add up to {sum(lengths)})"
            )
        counts = [math.floor(v * n) for v in lengths]
        for k in range(n - sum(counts)):
            counts[k % len(counts)] += 1
        return counts
    raise TypeError(
        f"random_split: lengths must be all ints (counts) or all floats (fractions); got {lengths}"
    )


def train_test_split(*arrays, test_size=0.25, shuffle: bool = True, seed: int | None = None):
    """Split aligned arrays into a training and a held-out part (scikit-learn's signature).

    Args:
        *arrays: host arrays, Tensors or pandas objects with the same length.
        test_size: a fraction in (0, 1) (the held-out part gets ``ceil(test_size * n)``
            samples, as in scikit-learn) or a sample count.
        shuffle: split a random permutation (default) or the stored order (the last
            rows are held out: for time-ordered data).
        seed: ``None`` uses the global generator; an int its own generator.

    Returns ``[a_train, a_test, b_train, b_test, ...]``, each of the same kind as its input.

    Example::

        X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.2, seed=0)
    """
    if not arrays:
        raise ValueError("train_test_split: expected at least one array")
    n = _length(arrays[0], "array 0")
    for position, a in enumerate(arrays[1:], start=1):
        if _length(a, f"array {position}") != n:
            raise ValueError(
                f"train_test_split: array {position} has {_length(a, '')} samples but array 0 "
                f"has {n}; all arrays must have the same length"
            )
    n_test = _test_count(test_size, n)
    order = _permutation(n, seed, "train_test_split") if shuffle else np.arange(n)
    if shuffle:
        test_idx, train_idx = order[:n_test], order[n_test:]
    else:
        train_idx, test_idx = order[:n - n_test], order[n - n_test:]
    result = []
    for a in arrays:
        result.extend((_take(a, train_idx), _take(a, test_idx)))
    return result


def _test_count(test_size, n: int) -> int:
    if isinstance(test_size, bool):
        raise TypeError(f"train_test_split: test_size must be a float or an int; got {test_size!r}")
    if isinstance(test_size, float):
        if not 0.0 < test_size < 1.0:
            raise ValueError(f"train_test_split: test_size as a fraction must lie in (0, 1); got {test_size}")
        count = math.ceil(test_size * n)
    elif isinstance(test_size, int):
        count = test_size
    else:
        raise TypeError(f"train_test_split: test_size must be a float or an int; got {test_size!r}")
    if not 1 <= count <= n - 1:
        raise ValueError(
            f"train_test_split: test_size={test_size} leaves {count} of {n} samples for "
            f"testing; both parts need at least one sample"
        )
    return count


def _length(a, name: str) -> int:
    if isinstance(a, Tensor) or backend.is_array(a):
        if a.ndim == 0:
            raise ValueError(f"train_test_split: {name} is 0-d; it needs a dimension of samples")
        return a.shape[0]
    if hasattr(a, "iloc"):
        return len(a)
    raise TypeError(
        f"train_test_split: {name} must be an array, a Tensor or a pandas object; "
        f"got {type(a).__name__}"
    )


def _take(a, indices):
    if isinstance(a, Tensor):
        return wrap(a.data[indices])
    if hasattr(a, "iloc"):
        return a.iloc[indices]
    return a[indices]


def _permutation(n: int, seed, where: str):
    _check_seed(seed, where)
    generator = _random.generator() if seed is None else _new_generator(seed)
    return generator.permutation(n)


# ---------------------------------------------------------------------- scaling

class StandardScaler:
    """Standardize features: ``z = (x - mean_) / scale_`` column by column.

    ``mean_`` is the column mean and ``scale_`` the column standard deviation
    (``ddof=0``, as scikit-learn) of the data given to :meth:`fit`; a constant
    column has ``scale_ = 1`` (it is only centred). Fit on the **training split
    only** and transform every split with those statistics: fitting on all the data
    would leak the held-out rows' mean and spread into training.

    Accepts 2-D host arrays, Tensors and pandas DataFrames (whose column names appear
    in error messages); ``transform`` returns a Tensor for a Tensor and a float host
    array otherwise. NaN or inf values raise ``ValueError`` naming their count and
    columns.

    Attributes (after ``fit``): ``mean_``, ``scale_``, ``var_`` (host float64
    arrays), ``n_features_in_``, ``n_samples_seen_``, ``feature_names_in_`` (for a
    DataFrame).

    Example::

        scaler = StandardScaler().fit(X_train)
        X_train_z, X_test_z = scaler.transform(X_train), scaler.transform(X_test)
    """

    def __init__(self, with_mean: bool = True, with_std: bool = True):
        self.with_mean = with_mean
        self.with_std = with_std

    def fit(self, X, y=None) -> StandardScaler:
        """Compute ``mean_`` and ``scale_`` from ``X`` (n_samples, n_features); return self."""
        values, columns = _as_matrix(X, "StandardScaler.fit")
        if values.shape[0] == 0:
            raise ValueError("StandardScaler.fit: X has 0 samples")
        values = values.astype(np.float64, copy=False)
        self.n_samples_seen_, self.n_features_in_ = values.shape
        if columns is not None:
            self.feature_names_in_ = np.asarray(columns, dtype=object)
        self.mean_ = values.mean(axis=0) if self.with_mean else np.zeros(values.shape[1])
        self.var_ = values.var(axis=0)
        std = np.sqrt(self.var_)
        # A constant column is centred only: dividing by its zero spread would give NaN.
        self.scale_ = np.where(std > 0, std, 1.0) if self.with_std else np.ones(values.shape[1])
        return self

    def transform(self, X):
        """``(X - mean_) / scale_``, in X's float dtype (float64 for integer input)."""
        values, like = self._checked(X, "transform")
        return _like(like, (values - self.mean_.astype(values.dtype)) / self.scale_.astype(values.dtype))

    def inverse_transform(self, Z):
        """``Z * scale_ + mean_``: back to the original units."""
        values, like = self._checked(Z, "inverse_transform")
        return _like(like, values * self.scale_.astype(values.dtype) + self.mean_.astype(values.dtype))

    def fit_transform(self, X, y=None):
        """``fit(X)`` then ``transform(X)`` (use on the training split only)."""
        return self.fit(X).transform(X)

    def _checked(self, X, method: str):
        if not hasattr(self, "mean_"):
            raise RuntimeError(
                f"StandardScaler.{method}: the scaler is not fitted yet; call fit(X_train) first"
            )
        values, _ = _as_matrix(X, f"StandardScaler.{method}")
        if values.shape[1] != self.n_features_in_:
            raise ValueError(
                f"StandardScaler.{method}: X has {values.shape[1]} features (columns) but the "
                f"scaler was fitted on {self.n_features_in_}"
            )
        if values.dtype.kind != "f":
            values = values.astype(np.float64)
        return values, X

    def __repr__(self) -> str:
        fitted = f", fitted on {self.n_samples_seen_}x{self.n_features_in_}" if hasattr(self, "mean_") else ""
        return f"StandardScaler(with_mean={self.with_mean}, with_std={self.with_std}{fitted})"


def _as_matrix(X, where: str):
    """A 2-D host array of numbers from X (array, Tensor or DataFrame), checked for NaN/inf,
    and the column names when X has them."""
    columns = None
    if isinstance(X, Tensor):
        values = backend.to_host(X.data)
    elif hasattr(X, "columns") and hasattr(X, "to_numpy"):
        columns = [str(c) for c in X.columns]
        values = X.to_numpy()
    else:
        values = np.asarray(X)
    if values.ndim != 2:
        raise ValueError(
            f"{where}: X must be 2-D (n_samples, n_features); got shape {values.shape}. "
            f"Reshape a single feature with X.reshape(-1, 1)"
        )
    if values.dtype.kind not in "biuf":
        raise TypeError(f"{where}: X must hold numbers; got dtype {values.dtype}")
    _check_finite(values, where, columns)
    return values, columns


def _like(original, values):
    if isinstance(original, Tensor):
        return _to_tensor(values, dtype=values.dtype, device=original.device)
    return values


# ---------------------------------------------------------------------- validation

def _check_finite(array, where: str, columns=None) -> None:
    """Raise ValueError naming the NaN/inf count (and the columns of a 2-D array)."""
    if array.dtype.kind != "f":
        return
    host = backend.to_host(array)
    if np.isfinite(host).all():
        return
    nan = np.isnan(host)
    inf = np.isinf(host)
    message = f"{where} holds {int(nan.sum())} NaN and {int(inf.sum())} inf values"
    if host.ndim == 2:
        bad = np.flatnonzero((nan | inf).any(axis=0))
        names = [columns[j] if columns is not None else str(j) for j in bad]
        detail = ", ".join(
            f"{name} ({int(nan[:, j].sum())} NaN, {int(inf[:, j].sum())} inf)"
            for name, j in zip(names[:10], bad[:10])
        )
        more = f" and {len(bad) - 10} more" if len(bad) > 10 else ""
        message += f" in column(s) {detail}{more}"
    raise ValueError(message + "; drop or impute them before training")


def _as_dataset_tensor(item, where: str) -> Tensor:
    if isinstance(item, Tensor):
        return item
    if backend.is_array(item):
        if item.dtype not in backend.SUPPORTED_DTYPES:
            raise TypeError(
                f"{where} has dtype {item.dtype}; expected float32, float64, int64 or bool. "
                f"Convert explicitly, e.g. cr.tensor(X, dtype=cr.float32)"
            )
        return wrap(item)
    raise TypeError(f"{where} must be a Tensor or an array; got {type(item).__name__}")


def _check_seed(seed, where: str):
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int) or seed < 0):
        raise ValueError(f"{where}: seed must be None or a non-negative int; got {seed!r}")
    return seed


def _new_generator(seed: int):
    return np.random.Generator(np.random.PCG64(seed))
