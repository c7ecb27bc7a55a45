"""Pointwise regression losses as one graph node: mean squared, absolute and Huber error.

Reference compositions (tests/test_nn_fused.py): ``((x - y) ** 2).mean()``,
``abs(x - y).mean()`` and, for Huber with threshold delta, ``(m * (|d| - m / 2)).mean()`` with
d = x - y and m = clamp(|d|, max=delta); "sum" and "none" reductions likewise.
"""
from __future__ import annotations

from ...engine import backend
from ...engine.autograd import Function
from .composed import ComposedBackward, reduce_tensor_losses
from .reduction import element_weights, reduce_elements

__all__ = ["MSELoss", "L1Loss", "HuberLoss"]

_host = backend.host


_HOST_ARRAY = backend.host.ndarray


class _PointwiseLoss(ComposedBackward, Function):
    """l = f(x - y) elementwise, then reduced; dx = f'(x - y), dy = -f'(x - y)."""

    def forward(self, x, y, reduction, delta=None):
        self.diff, self.reduction, self.delta = x - y, reduction, delta
        return reduce_elements(self, self.loss(self.diff), reduction)

    def reference(self, x, y):
        """The loss of each difference x - y (:meth:`loss_graph`), reduced."""
        return reduce_tensor_losses(self.loss_graph(x - y), self.reduction, self.count, self.shape)

    def backward(self, grad):
        derivative = element_weights(self, grad) * self.derivative(self.diff)
        needs_x, needs_y = self.needs_input_grad
        return derivative if needs_x else None, -derivative if needs_y else None


class MSELoss(_PointwiseLoss):
    """f(d) = d^2, f'(d) = 2 d.

    On host arrays with reduction "mean" or "sum", the sum of squares is one dot
    product, sum(d^2) = <d, d>, instead of a square and a sum (two array passes and a
    temporary), and the backward is d times the one number 2 G / n (or 2 G): one pass.
    """

    op = "mse_loss"

    def forward(self, x, y, reduction, delta=None):
        if reduction == "none" or x.__class__ is not _HOST_ARRAY or x.size == 0:
            return super().forward(x, y, reduction, delta)
        diff = self.difference(x, y)
        self.diff, self.reduction, self.delta = diff, reduction, delta
        self.count, self.shape = diff.size, diff.shape
        total = _host.vdot(diff, diff)  # vdot flattens its arguments
        if reduction == "mean":
            total = total / self.count
        return _host.asarray(total, dtype=diff.dtype)

    def backward(self, grad):
        if self.reduction == "none" or grad.__class__ is not _HOST_ARRAY or self.count == 0:
            return super().backward(grad)
        scale = 2.0 * float(grad)  # G is one number here: 2 G / n is one scalar, one array pass
        if self.reduction == "mean":
            scale /= self.count
        derivative = self.scaled_difference(scale)
        needs_x, needs_y = self.needs_input_grad
        return derivative if needs_x else None, self.negated_derivative(derivative) if needs_y else None

    # the host path's three array results, one method each (the step compiler's replay writes
    # them into arrays it keeps: chainrule.train.compiler.buffered.BufferedMSELoss)
    def difference(self, x, y):
        return x - y

    def scaled_difference(self, scale):
        return self.diff * scale

    def negated_derivative(self, derivative):
        return -derivative

    def loss(self, d):
        return d * d

    def loss_graph(self, d):
        return d * d

    def derivative(self, d):
        return 2 * d


class L1Loss(_PointwiseLoss):
    """f(d) = |d|, f'(d) = sign(d) (0 at d = 0)."""

    op = "l1_loss"

    def loss(self, d):
        return backend.namespace_of(d).abs(d)

    def loss_graph(self, d):
        return d.abs()

    def derivative(self, d):
        return backend.namespace_of(d).sign(d)


class HuberLoss(_PointwiseLoss):
    """f(d) = d^2 / 2 for |d| <= delta, delta (|d| - delta / 2) otherwise;
    f'(d) = clip(d, -delta, delta)."""

    op = "huber_loss"

    def loss(self, d):
        xp = backend.namespace_of(d)
        absolute = xp.abs(d)
        clipped = xp.minimum(absolute, self.delta)
        return clipped * (absolute - 0.5 * clipped)

    def loss_graph(self, d):
        absolute = d.abs()
        clipped = absolute.clamp(max=self.delta)
        return clipped * (absolute - 0.5 * clipped)

    def derivative(self, d):
        return backend.namespace_of(d).clip(d, -self.delta, self.delta)
