"""Mini-batches streamed from a Parquet file, one row group at a time (bounded memory).

:class:`ParquetDataset` reads a file row group by row group, with a two-level shuffle (row
groups, then rows within a group); :class:`ShardedParquet` gives rank r of N its batches in
data-parallel training (the row groups g ≡ r mod N), with the same number of steps on
every rank.
"""
from __future__ import annotations

from ..engine import backend
from ..engine import random as _random
from ..engine.backend import host as np
from ..engine.tensor import wrap
from .checks import check_finite, check_seed, new_generator

__all__ = ["ParquetDataset", "ShardedParquet"]


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
        self.seed = check_seed(seed, "ParquetDataset")
        self._generator = None if seed is None else new_generator(seed)
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
            check_finite(values, f"ParquetDataset: column {name!r} (row group {g})")
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
