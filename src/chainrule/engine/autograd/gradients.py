"""What every backward pass needs: the gradient it starts from, the sum back over broadcast
dimensions, and the checks before a node runs (freed graphs, values modified in place)."""
from __future__ import annotations

from .. import backend
from ..tensor import Tensor
from ..tensor import tensor as to_tensor

__all__ = ["unbroadcast", "seed_gradient", "check_node"]

_seeds: dict = {}  # (shape, dtype) -> a read-only array of ones: the implicit seed gradient


def unbroadcast(grad, shape: tuple):
    """Sum ``grad`` over the axes along which an input of ``shape`` was broadcast.

    Broadcasting prepends axes and stretches size-1 axes; its adjoint sums over
    exactly those axes.
    """
    extra = grad.ndim - len(shape)
    axes = tuple(range(extra)) + tuple(
        extra + i for i, size in enumerate(shape) if size == 1 and grad.shape[extra + i] != 1
    )
    if axes:
        grad = grad.sum(axis=axes)
    return grad.reshape(shape)


def seed_gradient(output: Tensor, gradient):
    """The gradient a backward pass starts from: ``gradient`` checked against ``output``, or 1."""
    data = output.data
    if gradient is None:
        if data.size != 1:
            raise RuntimeError(
                f"backward: gradient can be implicitly created only for outputs with one "
                f"element; this output has shape {tuple(data.shape)}. Pass "
                f"gradient=<tensor of that shape>, or reduce the output (e.g. .sum())."
            )
        key = (data.shape, data.dtype)
        seed = _seeds.get(key) if data.__class__ is backend.host.ndarray else None
        if seed is None:
            seed = backend.namespace_of(data).ones(data.shape, data.dtype)
            if data.__class__ is backend.host.ndarray:
                seed.flags.writeable = False  # shared by every backward: nodes only read grads
                _seeds[key] = seed
        return seed
    seed = gradient.data if isinstance(gradient, Tensor) else to_tensor(gradient).data
    if tuple(seed.shape) != tuple(data.shape):
        raise RuntimeError(
            f"backward: gradient has shape {tuple(seed.shape)} but the output has shape "
            f"{tuple(data.shape)}; they must match"
        )
    if backend.device_of(seed) != backend.device_of(data):
        raise RuntimeError(
            f"backward: gradient is on {backend.device_of(seed)} but the output is on "
            f"{backend.device_of(data)}"
        )
    return seed.astype(data.dtype, copy=False)


def check_node(node) -> None:
    """Raise when a node cannot run backward: its saved arrays were freed, or a value it
    saved (an input, or its own output) was modified in place after it ran."""
    if node.freed:
        raise RuntimeError(
            f"backward: trying to backward through the graph a second time "
            f"(at {node.op}); its saved arrays were freed after the first backward. "
            f"Pass retain_graph=True to the first backward() to keep them."
        )
    for parent, version in zip(node.parents, node.versions):
        if node.saves_inputs and (parent._memory or parent)._version != version:
            raise RuntimeError(
                f"backward: an input of {node.op} (shape {tuple(parent.shape)}) was modified "
                f"in place after {node.op} used it, so the saved values are stale and the "
                f"gradient would be wrong. Modify a copy (.clone()) instead, or recompute "
                f"the forward pass after the change."
            )
    if node.output_modified:
        raise RuntimeError(
            f"backward: the output of {node.op} was modified in place after {node.op} saved it "
            f"for its backward, so the gradient would be wrong. Modify a copy (.clone()) instead."
        )
