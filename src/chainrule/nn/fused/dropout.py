"""Inverted dropout as one graph node: y = x * m / (1 - p).

Reference composition: ``x * scale`` (:func:`chainrule.engine.ops.mul`) with the constant
``scale = m / (1 - p)``, m the Bernoulli(1 - p) mask that :func:`chainrule.nn.functional.dropout`
draws; the node only gives the product its own label, "dropout".
"""
from __future__ import annotations

from ...engine.autograd import Function
from .composed import ComposedBackward, constant

__all__ = ["Dropout"]


class Dropout(ComposedBackward, Function):
    """y = x * scale with scale = m / (1 - p), m a Bernoulli(1 - p) mask drawn by the caller."""

    op = "dropout"
    saves_inputs = False

    def forward(self, x, scale):
        self.scale = scale
        return x * scale

    def backward(self, grad):
        return (grad * self.scale,)

    def reference(self, x):
        return x * constant(self.scale)
