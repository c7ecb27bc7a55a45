"""A Trainer's state in one checkpoint file, and back.

:func:`training_state` collects everything that determines the rest of a run (model
parameters and buffers, optimizer state, scheduler and callback state, the epoch and step
counters, the gradient-clipping threshold, the history, and the random generators: the global
one and the training loader's own); :func:`write_checkpoint` stores it in one safetensors
file, atomically (:mod:`chainrule.engine.serialization`). :func:`restore_run` puts all of it
back, so a run resumed with ``Trainer.fit(..., resume_from=path)`` ends with the same weights,
bit for bit, as the run left alone; :func:`restore_model_state` puts back only what
``Trainer.load`` restores (model, optimizer, scheduler, history and counters).
"""
from __future__ import annotations

import os

from ..engine import random as _random
from ..engine.serialization import (
    TRAINER_FORMAT,
    decode_state,
    encode_state,
    load_checkpoint,
    remove_stale_temporaries,
    save_checkpoint,
)
from .callbacks import stateful_callbacks
from .history import history_from_state, history_to_state

__all__ = ["training_state", "write_checkpoint", "read_checkpoint", "restore_run", "restore_model_state"]


def training_state(trainer, train_loader, last_finite) -> dict:
    """The whole training state of ``trainer`` (whose run draws batches from ``train_loader``,
    and whose last finite loss was ``last_finite``) as a nested dict of arrays and plain values."""
    return {
        "model": trainer.model.state_dict(),
        "optimizer": trainer.optimizer.state_dict(),
        "scheduler": None if trainer.scheduler is None else trainer.scheduler.state_dict(),
        "callbacks": [[type(callback).__name__, callback.state_dict()]
                      for callback in stateful_callbacks(trainer.callbacks)],
        "rng": {
            "global": _random.generator().bit_generator.state,
            "train_loader": None if train_loader is None else train_loader.state_dict(),
        },
        "trainer": {"epoch": trainer.epoch, "global_step": trainer.global_step,
                    "stop_training": trainer.stop_training, "last_finite": last_finite,
                    "clip_grad_norm": trainer.clip_grad_norm, "optimizer": type(trainer.optimizer).__name__},
        "history": history_to_state(trainer.history),
    }


def write_checkpoint(trainer, path, train_loader, last_finite) -> None:
    """:func:`training_state` to ``path`` (safetensors, atomically)."""
    text, arrays = encode_state(training_state(trainer, train_loader, last_finite), prefix="")
    save_checkpoint(path, arrays, {"format": TRAINER_FORMAT, "epoch": str(trainer.epoch), "state": text})


def read_checkpoint(path, who: str) -> dict:
    """The state a Trainer wrote to ``path``; ``ValueError`` naming the file when it is not a
    Trainer checkpoint (corrupt, truncated, foreign), after deleting the temporary files a
    killed write of ``path`` left beside it."""
    remove_stale_temporaries(path)
    arrays, metadata = load_checkpoint(path, who)
    if metadata.get("format") != TRAINER_FORMAT:
        raise ValueError(
            f"{who}: {os.fspath(path)!r} is not a Trainer checkpoint "
            f"(format {metadata.get('format')!r}, expected {TRAINER_FORMAT!r})"
        )
    return decode_state(metadata["state"], arrays)


def restore_model_state(trainer, state: dict, who: str) -> None:
    """Model, optimizer, scheduler, history and the epoch and step counters from ``state``."""
    if (state["scheduler"] is None) != (trainer.scheduler is None):
        raise ValueError(
            f"{who}: the checkpoint and this Trainer disagree on having a learning-rate scheduler; "
            f"build the Trainer as the checkpointed run was built"
        )
    _check_optimizer(trainer.optimizer, state, who)
    trainer.model.load_state_dict(state["model"])
    trainer.optimizer.load_state_dict(state["optimizer"])
    if trainer.scheduler is not None:
        trainer.scheduler.load_state_dict(state["scheduler"])
    counters = state["trainer"]
    trainer.epoch, trainer.global_step = counters["epoch"], counters["global_step"]
    trainer.history = history_from_state(state["history"])


def restore_run(trainer, state: dict, train_loader):
    """Everything :func:`training_state` saved, checked against ``trainer`` first (the same
    stateful callbacks, a scheduler or not, the same gradient clipping), so that the run
    continues exactly; returns the last finite loss record (or None)."""
    who = "Trainer.load_checkpoint"
    stateful = stateful_callbacks(trainer.callbacks)
    saved = [name for name, _ in state["callbacks"]]
    if saved != [type(callback).__name__ for callback in stateful]:
        raise ValueError(
            f"{who}: the checkpoint has state for the callbacks {saved} but "
            f"this Trainer's stateful callbacks are {[type(c).__name__ for c in stateful]}; "
            f"build it with the same callbacks"
        )
    counters = state["trainer"]
    clip = counters.get("clip_grad_norm")  # None in checkpoints from before the option
    if clip != trainer.clip_grad_norm:
        raise ValueError(
            f"{who}: the checkpointed run clipped gradients with clip_grad_norm={clip!r} but this "
            f"Trainer has clip_grad_norm={trainer.clip_grad_norm!r}; build the Trainer as the run was "
            f"built, or the resumed run would not be the same"
        )
    restore_model_state(trainer, state, who)
    for callback, (_, callback_state) in zip(stateful, state["callbacks"]):
        callback.load_state_dict(callback_state)
    _random.generator().bit_generator.state = state["rng"]["global"]
    if train_loader is not None and state["rng"]["train_loader"] is not None:
        train_loader.load_state_dict(state["rng"]["train_loader"])
    trainer.stop_training = counters["stop_training"]
    return None if counters["last_finite"] is None else tuple(counters["last_finite"])


def _check_optimizer(optimizer, state: dict, who: str) -> None:
    """Refuse a checkpoint written with another optimizer: another type (recorded since issue
    19) or other hyper-parameter names in its parameter groups (older checkpoints too)."""
    saved_type = state["trainer"].get("optimizer")
    if saved_type is not None and saved_type != type(optimizer).__name__:
        raise ValueError(
            f"{who}: the checkpoint was written by a run with the optimizer {saved_type} but this Trainer "
            f"has {type(optimizer).__name__}; build the Trainer with {saved_type} (its state, e.g. momentum "
            f"buffers, means nothing to another optimizer)"
        )
    saved_groups = state["optimizer"].get("param_groups", [])
    for g, (saved, group) in enumerate(zip(saved_groups, optimizer.param_groups)):
        saved_names = sorted(set(saved) - {"params"})
        names = sorted(set(group) - {"params"})
        if saved_names != names:
            raise ValueError(
                f"{who}: the checkpoint's optimizer has the hyper-parameters {saved_names} (group {g}) but "
                f"this Trainer's {type(optimizer).__name__} has {names}; build the Trainer with the "
                f"optimizer the checkpointed run used"
            )
