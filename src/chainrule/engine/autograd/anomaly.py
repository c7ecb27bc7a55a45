"""Anomaly mode: stop at the first op whose output or gradient is NaN or inf.

Inside ``with detect_anomaly():`` every op's forward output (:meth:`Function.apply`) and every
node's input gradients (:func:`chainrule.engine.autograd.backward`) are checked; the error
names the op, the shapes of its inputs and how many values are non-finite. Checking costs a
pass over every array: a tool for debugging, not for training.
"""
from __future__ import annotations

from contextlib import contextmanager

from .. import backend

__all__ = ["detect_anomaly", "AnomalyError"]

enabled = False  # read by Function.apply and the backward walk; set only by detect_anomaly


class AnomalyError(FloatingPointError):
    """Raised inside :func:`detect_anomaly` when an op produces NaN or inf."""


@contextmanager
def detect_anomaly():
    """Raise at the first op whose forward output or backward gradient has NaN or inf.

    The error names the op, the shapes of its inputs and how many values are
    non-finite. Checking every array costs a pass over it: use this for debugging,
    not for training.
    """
    global enabled
    previous = enabled
    enabled = True
    try:
        yield
    finally:
        enabled = previous


def check_forward(fn, out, inputs) -> None:
    """Raise :class:`AnomalyError` when the output ``out`` of op ``fn`` has a non-finite value."""
    bad = _count_nonfinite(out)
    if bad:
        shapes = ", ".join(str(tuple(t.shape)) for t in inputs)
        raise AnomalyError(
            f"detect_anomaly: forward of {fn.op} produced {bad} non-finite value(s) "
            f"(NaN or inf) in an output of shape {tuple(out.shape)}; input shapes: {shapes}"
        )


def check_backward(node, input_grads) -> None:
    """Raise :class:`AnomalyError` when a gradient that ``node`` returned has a non-finite value."""
    for index, grad in enumerate(input_grads):
        if grad is None:
            continue
        bad = _count_nonfinite(grad)
        if bad:
            shapes = ", ".join(str(tuple(p.shape)) for p in node.parents)
            raise AnomalyError(
                f"detect_anomaly: backward of {node.op} produced {bad} non-finite value(s) "
                f"(NaN or inf) in the gradient of input {index}; input shapes: {shapes}"
            )


def _count_nonfinite(array) -> int:
    if array.dtype.kind != "f":
        return 0
    xp = backend.namespace_of(array)
    return int((~xp.isfinite(array)).sum())
