"""What a Trainer accepts as data, and how it becomes batches.

* :func:`as_loader` turns a ``(X, y)`` pair (or ``(X1, X2, …, y)``), a Dataset, a DataLoader
  or a ``ParquetDataset`` into something that yields batches ``(inputs…, target)``;
* :func:`split_batch` cuts a batch into the model's inputs and the target;
* :func:`hold_out` is Keras's ``validation_split``: the LAST fraction of the rows (before
  any shuffling) becomes the validation data, the rest the training data;
* :func:`prediction_loader` is what ``Trainer.predict`` iterates over: the same kinds of data,
  or the inputs alone (one Tensor or array), in their stored order.
"""
from __future__ import annotations

import math
import numbers

from ..data import DataLoader, ParquetDataset, Subset, TensorDataset
from ..engine import backend
from ..engine.tensor import Tensor

__all__ = ["DEFAULT_BATCH_SIZE", "EVALUATION_BATCH_SIZE", "as_loader", "split_batch", "hold_out",
           "prediction_loader", "prediction_inputs"]

DEFAULT_BATCH_SIZE = 32
#: Evaluation and prediction keep no graph, so larger batches are cheap.
EVALUATION_BATCH_SIZE = 256


def as_loader(data, batch_size, shuffle: bool, argument: str):
    """A loader over ``data`` (see the module docstring); ``argument`` names it in errors."""
    if isinstance(data, ParquetDataset):  # streamed: it makes its own batches
        if argument == "train" and batch_size is not None and batch_size != data.batch_size:
            raise ValueError(
                f"Trainer: {argument} is a ParquetDataset with batch_size={data.batch_size}; do not "
                f"also pass batch_size={batch_size}"
            )
        return data
    if isinstance(data, DataLoader):
        if batch_size is not None and batch_size != data.batch_size:
            raise ValueError(
                f"Trainer: {argument} is a DataLoader with batch_size={data.batch_size}; do not "
                f"also pass batch_size={batch_size} (set it on the DataLoader)"
            )
        return data
    if isinstance(data, (tuple, list)):
        if len(data) < 2:
            raise ValueError(
                f"Trainer: {argument} must be (inputs..., target), at least two tensors; got {len(data)}"
            )
        data = TensorDataset(*data)
    elif not (hasattr(data, "__len__") and hasattr(data, "__getitem__")):
        raise TypeError(
            f"Trainer: {argument} must be a (X, y) pair, a Dataset or a DataLoader; "
            f"got {type(data).__name__}"
        )
    return DataLoader(data, batch_size or DEFAULT_BATCH_SIZE, shuffle=shuffle)


def split_batch(batch):
    """``(inputs, target)`` of a batch ``(inputs…, target)``."""
    if not isinstance(batch, (tuple, list)) or len(batch) < 2:
        raise ValueError(
            "Trainer: each batch must be (inputs..., target) with at least two tensors; got "
            f"{type(batch).__name__}{'' if not isinstance(batch, (tuple, list)) else f' of length {len(batch)}'}"
        )
    return batch[:-1], batch[-1]


def hold_out(train, fraction):
    """``(training part, validation part)`` of ``train``: the last ``fraction`` of its rows are
    held out, as Keras's ``validation_split`` (rows ``[0, k)`` train and ``[k, n)`` validate,
    k = ⌊n (1 - fraction)⌋). ``train`` must be a ``(X, y)`` pair or a Dataset."""
    if isinstance(fraction, bool) or not isinstance(fraction, numbers.Real) or not 0 < fraction < 1:
        raise ValueError(f"Trainer.fit: validation_split must be a fraction in (0, 1); got {fraction!r}")
    if isinstance(train, (DataLoader, ParquetDataset)):
        raise ValueError(
            f"Trainer.fit: validation_split needs the rows themselves; train is a {type(train).__name__}. "
            f"Pass (X, y) or a Dataset, or split it yourself and pass val="
        )
    if isinstance(train, (tuple, list)):
        if len(train) < 2:
            raise ValueError(f"Trainer: train must be (inputs..., target), at least two tensors; got {len(train)}")
        train = TensorDataset(*train)
    elif not (hasattr(train, "__len__") and hasattr(train, "__getitem__")):
        raise TypeError(f"Trainer: train must be a (X, y) pair, a Dataset or a DataLoader; got {type(train).__name__}")
    n = len(train)
    split_at = int(math.floor(n * (1.0 - fraction)))
    if split_at == 0 or split_at == n:
        raise ValueError(
            f"Trainer.fit: validation_split={fraction!r} of {n} rows leaves {split_at} for training and "
            f"{n - split_at} for validation; both need at least one"
        )
    rows = backend.host.arange(n)
    return Subset(train, rows[:split_at]), Subset(train, rows[split_at:])


def prediction_loader(data, batch_size):
    """The batches ``Trainer.predict`` runs the model on, in order: ``data`` is the inputs
    alone (a Tensor or an array) or anything :func:`as_loader` accepts."""
    if isinstance(data, Tensor) or backend.is_array(data):
        data = TensorDataset(data)
    elif isinstance(data, (tuple, list)) and len(data) == 1:
        data = TensorDataset(*data)
    if batch_size is None and not isinstance(data, (DataLoader, ParquetDataset)):
        batch_size = EVALUATION_BATCH_SIZE
    if isinstance(data, DataLoader) and data.shuffle:
        raise ValueError(
            "Trainer.predict: data is a DataLoader with shuffle=True, so the predictions would come out in "
            "a random order; pass a DataLoader with shuffle=False, or the dataset itself"
        )
    if isinstance(data, TensorDataset) and len(data.tensors) == 1:
        return DataLoader(data, batch_size, shuffle=False)
    return as_loader(data, batch_size, shuffle=False, argument="data")


def prediction_inputs(batch) -> tuple:
    """The model's inputs in a batch: all fields but the target, or the one field there is."""
    if isinstance(batch, (tuple, list)):
        return tuple(batch) if len(batch) == 1 else tuple(batch[:-1])
    return (batch,)
