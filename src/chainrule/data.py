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

from . import backend
from . import random as _random
from .backend import host as np
from .tensor import Tensor, _wrap
from .tensor import tensor as _to_tensor

__all__ = [
    "Dataset", "TensorDataset", "Subset", "DataLoader", "random_split",
    "train_test_split", "StandardScaler",
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
        return tuple(_wrap(t.data[indices]) for t in self.tensors)

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
        return _wrap(xp.stack([v.data for v in values]))
    if backend.is_array(values[0]) or isinstance(values[0], np.generic):
        return _to_tensor(np.stack([np.asarray(v) for v in values]))
    return _to_tensor(list(values))


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
        return _wrap(a.data[indices])
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

    def fit(self, X, y=None) -> "StandardScaler":
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
        return _wrap(item)
    raise TypeError(f"{where} must be a Tensor or an array; got {type(item).__name__}")


def _check_seed(seed, where: str):
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int) or seed < 0):
        raise ValueError(f"{where}: seed must be None or a non-negative int; got {seed!r}")
    return seed


def _new_generator(seed: int):
    return np.random.Generator(np.random.PCG64(seed))
