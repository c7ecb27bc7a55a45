"""Batch normalization as one graph node.

Reference composition (tests/test_nn_fused.py): in training mode
``gamma * (x - x.mean(axes)) / sqrt(x.var(axes, unbiased=False) + eps) + beta`` with the
batch statistics as functions of x (so their gradients flow); in evaluation mode the same
with the running statistics as constants.
"""
from __future__ import annotations

from ...engine import backend
from ...engine.autograd import Function
from .composed import ComposedBackward, constant

__all__ = ["BatchNorm"]


class BatchNorm(ComposedBackward, Function):
    """Batch normalization over ``axes`` (all but the channel axis).

    Training mode (``training=True``; ``mean`` and ``var`` are the batch's mean and
    biased variance, which depend on x): with xhat = (x - mean) / sqrt(var + eps),
    y = gamma xhat + beta and D = G gamma,

        dx = (1 / sqrt(var + eps)) (D - mean(D) - xhat mean(D xhat))

    (means over ``axes``). Evaluation mode (``training=False``; ``mean`` and ``var``
    are the running statistics, constants): dx = G gamma / sqrt(var + eps).
    In both, dgamma = sum(G xhat) and dbeta = sum(G) over ``axes``.
    """

    op = "batch_norm"

    def forward(self, x, *affine, mean, var, eps, axes, training, has_weight, has_bias):
        xp = backend.namespace_of(x)
        shape = _channel_shape(x.ndim, x.shape[1])
        self.axes, self.training, self.shape = axes, training, shape
        self.mean, self.var, self.eps = mean, var, eps
        self.has_weight, self.has_bias = has_weight, has_bias
        self.inv_std = (1.0 / xp.sqrt(var + eps)).reshape(shape)
        self.xhat = (x - mean.reshape(shape)) * self.inv_std
        out = self.xhat
        if has_weight:
            self.weight = affine[0].reshape(shape)
            out = out * self.weight
        if has_bias:
            out = out + affine[-1].reshape(shape)
        return out

    def backward(self, grad):
        needs = self.needs_input_grad
        axes, xhat = self.axes, self.xhat
        scaled = grad * self.weight if self.has_weight else grad
        grad_x = None
        if needs[0]:
            if self.training:
                centred = scaled - scaled.mean(axis=axes, keepdims=True)
                centred -= xhat * (scaled * xhat).mean(axis=axes, keepdims=True)
                grad_x = centred * self.inv_std
            else:
                grad_x = scaled * self.inv_std
        grads = [grad_x]
        if self.has_weight:
            grads.append((grad * xhat).sum(axis=axes) if needs[len(grads)] else None)
        if self.has_bias:
            grads.append(grad.sum(axis=axes) if needs[len(grads)] else None)
        return tuple(grads)

    def reference(self, x, *affine):
        """gamma (x - mean) / sqrt(var + eps) + beta, the batch's statistics as functions of x
        in training mode, the running ones (constants) in evaluation mode."""
        if self.training:
            mean = x.mean(dim=self.axes, keepdim=True)
            centred = x - mean
            var = (centred * centred).mean(dim=self.axes, keepdim=True)
        else:
            mean, var = constant(self.mean.reshape(self.shape)), constant(self.var.reshape(self.shape))
            centred = x - mean
        out = centred / (var + self.eps).sqrt()
        if self.has_weight:
            out = out * affine[0].reshape(*self.shape)
        if self.has_bias:
            out = out + affine[-1].reshape(*self.shape)
        return out


def _channel_shape(ndim: int, channels: int) -> tuple:
    """(1, C) for (N, C) input, (1, C, 1) for (N, C, L) input."""
    return (1, channels) + (1,) * (ndim - 2)
