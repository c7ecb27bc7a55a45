"""Objects that act during training: the :class:`Callback` hooks and :class:`EarlyStopping`.

A callback's hooks run at the start and end of the run, of every epoch and after every
optimizer step; a callback whose behaviour depends on the past keeps it in ``state_dict()``,
which checkpoints save and restore.
"""
from __future__ import annotations

from ..engine import backend
from ..engine.tensor import tensor as _to_tensor


class Callback:
    """Base class for objects that act during :meth:`Trainer.fit`; override what you need.

    ``logs`` in ``on_batch_end`` has ``epoch``, ``step``, ``loss``, ``grad_norm``,
    ``lr``; in ``on_epoch_end`` it is the epoch's :class:`History` record. Set
    ``trainer.stop_training = True`` to stop after the current epoch. A callback
    whose behaviour depends on the past stores it in ``state_dict()`` (numbers,
    strings, lists, dicts, arrays) so checkpoints can restore it.
    """

    def on_train_begin(self, trainer) -> None: ...
    def on_epoch_begin(self, trainer, epoch: int) -> None: ...
    def on_batch_end(self, trainer, step: int, logs: dict) -> None: ...
    def on_epoch_end(self, trainer, epoch: int, logs: dict) -> None: ...
    def on_train_end(self, trainer) -> None: ...

    def state_dict(self) -> dict:
        return {}

    def load_state_dict(self, state: dict) -> None:
        return None


class EarlyStopping(Callback):
    """Stop when a monitored quantity has not improved for ``patience`` epochs.

    An epoch improves on the best value so far when (mode "min")
    ``value < best - min_delta``, or (mode "max") ``value > best + min_delta``.
    After ``patience`` epochs in a row without improvement training stops. With
    ``restore_best_weights`` (default) the model gets the weights of the best epoch
    back at the end of training, whether it stopped early or ran out of epochs.

    Args:
        monitor: a History column, e.g. ``"val_loss"`` (default), ``"val_accuracy"``,
            ``"train_loss"``. A ``val_`` column needs validation data in ``fit``.
        patience: epochs without improvement before stopping (a positive int).
        min_delta: the smallest change that counts as an improvement (>= 0).
        mode: "min", "max", or "auto" ("max" for accuracy and R², else "min").
        restore_best_weights: load the best epoch's weights at the end.

    After training: ``best``, ``best_epoch``, ``stopped_epoch`` (None if it did not stop).
    """

    def __init__(self, monitor: str = "val_loss", patience: int = 5, min_delta: float = 0.0,
                 mode: str = "auto", restore_best_weights: bool = True):
        if isinstance(patience, bool) or not isinstance(patience, int) or patience < 1:
            raise ValueError(f"EarlyStopping: patience must be a positive int; got {patience!r}")
        if not (isinstance(min_delta, (int, float)) and min_delta >= 0):
            raise ValueError(f"EarlyStopping: min_delta must be a number >= 0; got {min_delta!r}")
        if mode not in ("auto", "min", "max"):
            raise ValueError(f"EarlyStopping: mode must be 'auto', 'min' or 'max'; got {mode!r}")
        if mode == "auto":
            mode = "max" if any(k in monitor for k in ("accuracy", "r2")) else "min"
        self.monitor, self.patience, self.min_delta = monitor, patience, float(min_delta)
        self.mode, self.restore_best_weights = mode, bool(restore_best_weights)
        self._reset()

    def _reset(self) -> None:
        self.best = None
        self.best_epoch = None
        self.stopped_epoch = None
        self.wait = 0
        self.best_weights = None

    def on_train_begin(self, trainer) -> None:
        available = trainer.record_columns
        if self.monitor not in available:
            hint = (" (fit() got no validation data; pass val=... or monitor a train_ column)"
                    if self.monitor.startswith("val_") else "")
            raise ValueError(
                f"EarlyStopping: monitor={self.monitor!r} is not recorded{hint}; "
                f"available: {available}"
            )
        self._reset()

    def on_epoch_end(self, trainer, epoch: int, logs: dict) -> None:
        value = logs[self.monitor]
        if self.best is None or self._improved(value):
            self.best, self.best_epoch, self.wait = value, epoch, 0
            if self.restore_best_weights:
                self.best_weights = {name: backend.to_host(t.data).copy()
                                     for name, t in trainer.model.state_dict().items()}
            return
        self.wait += 1
        if self.wait >= self.patience:
            self.stopped_epoch = epoch
            trainer.stop_training = True

    def on_train_end(self, trainer) -> None:
        if self.restore_best_weights and self.best_weights is not None and self.best_epoch != trainer.epoch:
            trainer.model.load_state_dict({name: _to_tensor(array, dtype=array.dtype)
                                           for name, array in self.best_weights.items()})

    def summary(self) -> str | None:
        """A line for the log: when it stopped and which epoch's weights the model has."""
        if self.best_epoch is None:
            return None
        stopped = (f"stopped early after epoch {self.stopped_epoch}"
                   if self.stopped_epoch is not None else "ran all epochs")
        restored = (f"; the model has the weights of epoch {self.best_epoch}"
                    if self.restore_best_weights else "")
        return f"early stopping: {stopped}; best {self.monitor} {self.best:.4g} at epoch {self.best_epoch}{restored}"

    def _improved(self, value) -> bool:
        if self.mode == "min":
            return value < self.best - self.min_delta
        return value > self.best + self.min_delta

    def state_dict(self) -> dict:
        return {"best": self.best, "best_epoch": self.best_epoch, "wait": self.wait,
                "stopped_epoch": self.stopped_epoch, "best_weights": self.best_weights}

    def load_state_dict(self, state: dict) -> None:
        self.best, self.best_epoch = state["best"], state["best_epoch"]
        self.wait, self.stopped_epoch = state["wait"], state["stopped_epoch"]
        self.best_weights = state["best_weights"]


def stateful_callbacks(callbacks) -> list:
    """The callbacks that keep state across epochs (they override ``state_dict``)."""
    return [c for c in callbacks if type(c).state_dict is not Callback.state_dict]
