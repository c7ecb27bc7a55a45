"""L1 and L2 penalties over many tensors as one graph node.

Reference compositions (tests/test_nn_fused.py): ``sum(p.abs().sum() for p in params)`` and
``sum((p * p).sum() for p in params)`` — one node for any number of parameters instead of
three per parameter.
"""
from __future__ import annotations

from ...engine import backend
from ...engine.autograd import Function
from .composed import ComposedBackward

__all__ = ["L1Penalty", "L2Penalty"]


class L2Penalty(ComposedBackward, Function):
    """sum over all inputs p of sum(p^2), one node for any number of tensors; dp = 2 G p."""

    op = "l2_penalty"

    def forward(self, *params):
        self.params = params
        xp = backend.namespace_of(params[0])
        total = sum(float(xp.vdot(p.reshape(-1), p.reshape(-1))) for p in params)
        return xp.asarray(total, dtype=params[0].dtype)

    def backward(self, grad):
        twice = 2 * grad
        return tuple(p * twice if needed else None for p, needed in zip(self.params, self.needs_input_grad))


    def reference(self, *params):
        return _total((p * p).sum() for p in params)


class L1Penalty(ComposedBackward, Function):
    """sum over all inputs p of sum(|p|); dp = G sign(p) (0 at p = 0)."""

    op = "l1_penalty"

    def forward(self, *params):
        self.params = params
        xp = backend.namespace_of(params[0])
        total = sum(float(xp.abs(p).sum()) for p in params)
        return xp.asarray(total, dtype=params[0].dtype)

    def backward(self, grad):
        xp = backend.namespace_of(grad)
        return tuple(xp.sign(p) * grad if needed else None for p, needed in zip(self.params, self.needs_input_grad))

    def reference(self, *params):
        return _total(p.abs().sum() for p in params)


def _total(terms):
    total = None
    for term in terms:
        total = term if total is None else total + term
    return total
