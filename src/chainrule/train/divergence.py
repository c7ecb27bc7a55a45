"""What stops a run that diverged: the check of ‖g‖₂ and the :class:`DivergenceError` it raises.

A non-finite loss or gradient norm stops training at once with a :class:`DivergenceError`
that names the epoch and step, the last finite loss, the checkpoint that is kept and what
to try. It is raised before the optimizer step, so the model keeps the last finite weights.
"""
from __future__ import annotations

import math

from ..engine import backend
from ..engine.backend import host as np


class DivergenceError(FloatingPointError):
    """Training produced a non-finite loss or gradient.

    It is raised before the optimizer step, so the model keeps the last finite
    weights (those of the previous step) and nothing is written to the checkpoint.
    Attributes: ``epoch`` and ``step`` (1-based, the step within the epoch),
    ``global_step``, ``quantity`` ("loss" or "gradient norm") and its ``value``,
    ``last_finite_loss`` (None if there was none), and ``checkpoint`` (the path of
    the last good checkpoint, or None).
    """

    def __init__(self, message, *, epoch, step, global_step, quantity, value,
                 last_finite_loss, checkpoint):
        super().__init__(message)
        self.epoch, self.step, self.global_step = epoch, step, global_step
        self.quantity, self.value = quantity, value
        self.last_finite_loss, self.checkpoint = last_finite_loss, checkpoint


def divergence_error(epoch: int, step: int, quantity: str, value: float, *, global_step: int,
                     last_finite, last_checkpoint, checkpoint_path, lr: float) -> DivergenceError:
    """The error for a non-finite ``quantity`` ("loss" or "gradient norm") at ``step`` of ``epoch``.

    ``last_finite`` is (loss, epoch, step) of the last finite loss or None, ``last_checkpoint``
    (path, epoch) of the last checkpoint written or None, ``checkpoint_path`` where checkpoints
    go (or None), and ``lr`` the learning rate, which the message suggests lowering.
    """
    where = f"epoch {epoch}, step {step} (global step {global_step})"
    lines = [f"training diverged at {where}: the {quantity} is {value}."]
    if last_finite is not None:
        loss, at_epoch, at_step = last_finite
        lines.append(f"Last finite loss: {loss:.6g} (epoch {at_epoch}, step {at_step}).")
    else:
        lines.append("No finite loss was seen in this run (the very first batch failed).")
    if last_checkpoint is not None:
        path, at = last_checkpoint
        lines.append(f"The last good checkpoint is kept: {path!r} (end of epoch {at}); "
                     f"resume with fit(..., resume_from={path!r}).")
    elif checkpoint_path is not None:
        lines.append(f"No checkpoint was written yet ({checkpoint_path!r} is written at "
                     f"the end of each good epoch).")
    lines.append(
        f"What to try: lower the learning rate (it is {lr:g}); standardize the "
        f"inputs (chainrule.data.StandardScaler, fit on the training split); check the "
        f"data for NaN or inf values."
    )
    last = None if last_finite is None else last_finite[0]
    return DivergenceError("\n".join(lines), epoch=epoch, step=step,
                           global_step=global_step, quantity=quantity, value=value,
                           last_finite_loss=last,
                           checkpoint=None if last_checkpoint is None else last_checkpoint[0])


def global_grad_norm(params) -> float:
    """‖g‖₂ over all parameters' gradients. Squares are summed in the gradients' dtype
    (one pass each); if that overflows, the sum is redone in float64 to tell a large
    but finite gradient from a non-finite one."""
    grads = [p.grad.data for p in params if p.grad is not None]
    total = 0.0
    for g in grads:
        flat = g.reshape(-1)
        total += float(backend.namespace_of(g).vdot(flat, flat))
    if math.isfinite(total):
        return math.sqrt(total)
    total = 0.0
    for g in grads:
        flat = g.reshape(-1).astype(np.float64)
        total += float(backend.namespace_of(g).vdot(flat, flat))
    return math.sqrt(total)
