"""Datasets and the loaders that cut them into mini-batches.

* :class:`Dataset` is the protocol (``__len__``, ``__getitem__``); :class:`TensorDataset`
  holds aligned tensors (features, targets) and checks them: equal lengths, no NaN or inf
  values; :class:`Subset` is a dataset's samples at given indices.
* :class:`DataLoader` cuts a dataset into mini-batches. With ``shuffle=True`` each
  pass (epoch) visits the samples in a fresh random order: we shuffle, we do not
  sample with replacement, so every sample is seen exactly once per epoch. The order
  comes from the global generator (``chainrule.manual_seed``) unless the loader has
  its own ``seed``.
* :class:`DistributedLoader` gives one rank its shard of every global batch in
  data-parallel training.

A batch is the dataset's own ``__getitems__(indices)`` when it has one, else its samples
collated field by field into tensors.
"""
from __future__ import annotations

from ..engine import backend
from ..engine import random as _random
from ..engine.backend import host as np
from ..engine.tensor import Tensor, wrap
from ..engine.tensor import tensor as _to_tensor
from .checks import check_finite, check_seed, new_generator

__all__ = ["Dataset", "TensorDataset", "Subset", "DataLoader", "DistributedLoader"]


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
            check_finite(t.data, f"TensorDataset: {name}")
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
        self.seed = check_seed(seed, "DataLoader")
        self._generator = None if seed is None else new_generator(seed)
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


# ---------------------------------------------------------------------- helpers

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
