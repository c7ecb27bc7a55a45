"""What a training run recorded: one record per epoch and the columns of every optimizer step.

A :class:`History` is what :meth:`Trainer.fit <chainrule.train.Trainer.fit>` returns and what
a checkpoint stores (:func:`history_to_state`, :func:`history_from_state`), so a resumed run
continues the same record.
"""
from __future__ import annotations

from ..engine.backend import host as np

#: The per-step columns of ``History.steps``, in the order the Trainer records them.
STEP_COLUMNS = ("step", "epoch", "loss", "grad_norm", "lr")


class History:
    """What a training run recorded.

    * ``history.epochs``: one dict per epoch with ``epoch``, ``train_loss`` and
      ``train_<metric>`` (averaged over the epoch's batches while the weights moved),
      ``val_loss`` and ``val_<metric>`` (with the epoch's final weights; present when
      there is validation data), ``grad_norm`` (mean over the epoch's steps of the
      global gradient norm ‖g‖₂), ``lr`` (the first parameter group's learning rate
      during the epoch), ``time`` (seconds, validation included) and
      ``samples_per_sec`` (training throughput).
    * ``history.steps``: per optimizer step, lists ``step`` (global, 1-based),
      ``epoch``, ``loss``, ``grad_norm`` and ``lr``.

    ``history["val_loss"]`` is that column over the epochs; ``to_dict()`` gives
    ``{"epoch": {column: list}, "step": {column: list}}``; ``to_frame()`` a pandas
    DataFrame (``to_frame("step")`` for the steps).
    """

    def __init__(self):
        self.epochs: list[dict] = []
        self.steps: dict[str, list] = {name: [] for name in STEP_COLUMNS}

    def __len__(self) -> int:
        return len(self.epochs)

    def __getitem__(self, column: str) -> list:
        if column not in self.columns:
            raise KeyError(f"History has no column {column!r}; columns: {self.columns}")
        return [record.get(column) for record in self.epochs]

    @property
    def columns(self) -> list:
        """The per-epoch column names, in first-seen order."""
        names: dict = {}
        for record in self.epochs:
            names.update(dict.fromkeys(record))
        return list(names)

    def to_dict(self) -> dict:
        """``{"epoch": {column: [value per epoch]}, "step": {column: [value per step]}}``."""
        return {
            "epoch": {name: self[name] for name in self.columns},
            "step": {name: list(values) for name, values in self.steps.items()},
        }

    def to_frame(self, level: str = "epoch"):
        """A pandas DataFrame with one row per epoch (``level="epoch"``) or per step."""
        if level not in ("epoch", "step"):
            raise ValueError(f"History.to_frame: level must be 'epoch' or 'step'; got {level!r}")
        try:
            import pandas  # noqa: PLC0415 - optional dependency
        except ImportError as err:
            raise ImportError(
                "History.to_frame needs pandas (pip install pandas); History.to_dict() "
                "gives the same columns as plain lists"
            ) from err
        return pandas.DataFrame(self.to_dict()[level])

    def __repr__(self) -> str:
        return f"History({len(self.epochs)} epochs, {len(self.steps['step'])} steps)"


def history_to_state(history: History) -> dict:
    """The history as checkpoint state: the epoch records, and the step columns as arrays
    (int64 for ``step`` and ``epoch``, float64 for the rest)."""
    dtypes = {"step": np.int64, "epoch": np.int64}
    steps = {name: np.asarray(values, dtype=dtypes.get(name, np.float64))
             for name, values in history.steps.items()}
    return {"epochs": history.epochs, "steps": steps}


def history_from_state(state: dict) -> History:
    """The :class:`History` that :func:`history_to_state` saved."""
    history = History()
    history.epochs = [dict(record) for record in state["epochs"]]
    history.steps = {name: values.tolist() for name, values in state["steps"].items()}
    return history
