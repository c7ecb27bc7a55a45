"""Batch normalization in training mode, an optional residual and a ReLU as ONE graph node.

    y = relu(gamma (x - mean) / sqrt(var + eps) + beta [+ s])

with the batch's mean and biased variance per channel (functions of x), the residual s of x's
shape (a ResNet block's shortcut). Reference composition (tests/test_nn_batch_norm_relu.py):
``relu(BatchNorm(x) [+ s])`` with :class:`~chainrule.nn.fused.batch_norm.BatchNorm`'s own
reference, so gradients of gradients differentiate it. With D = G [y > 0] (the ReLU's mask,
taken from the output as PyTorch's ReLU does), inv = 1 / sqrt(var + eps), m values per channel:

    dx = k1 D + k2 (x - mean) + k3,   k1 = gamma inv,   k2 = -gamma inv^3 sum(D (x - mean)) / m,
    k3 = -gamma inv sum(D) / m,       ds = D,   dgamma = inv sum(D (x - mean)),   dbeta = sum(D).

Why one node: in a ResNet step batch norm and ReLU were six single-core NumPy passes forward
(the statistics, x - mean, scale, shift, the ReLU, the residual addition) and about eight
backward, each over an 8 MB feature map. With the compiled kernels
(:mod:`~chainrule.nn.fused.numba_kernels`, on channels-last x, which is what the convolutions
return) the forward reads x twice (the statistics, in blocks that stay in the cache, merged by
Chan et al.'s pairwise rule in float64; then the normalization, residual and ReLU) and the
backward twice (the two sums; then dx and ds), on all cores. The normalization and dx are
evaluated in the NumPy twin's order of float operations (equal to it bit for bit given the same
statistics); the statistics are summed in float64 where the twin sums float32 with BLAS, so
the two paths agree to float32 rounding (float64: to 1e-15, relative). Without the kernels
(``CHAINRULE_NO_NUMBA=1``, other layouts, other devices) the NumPy twin runs: the passes of
:class:`~chainrule.nn.fused.batch_norm.BatchNorm` with the ReLU and the residual in place.
"""
from __future__ import annotations

from ...engine import backend, ops, recycled
from ...engine.autograd import Function
from .batch_norm import BatchNorm, RowStatistics, last_rows, restore_rows, row_coefficients
from .composed import ComposedBackward

__all__ = ["BatchNormReLU"]


class BatchNormReLU(ComposedBackward, Function):
    """relu(batch_norm(x) [+ residual]) in training mode (see the module docstring); inputs
    x, then gamma and beta where ``has_weight`` / ``has_bias``, then the residual where
    ``has_residual``; ``statistics`` from :func:`~chainrule.nn.fused.batch_norm.batch_statistics`."""

    op = "batch_norm_relu"
    saves_output = True

    def forward(self, x, *rest, mean, var, eps, has_weight, has_bias, has_residual, statistics):
        xp = backend.namespace_of(x)
        self.shape, self.eps, self.mean, self.var = tuple(x.shape), eps, mean, var
        self.has_weight, self.has_bias, self.has_residual = has_weight, has_bias, has_residual
        self.inv = inv = 1.0 / xp.sqrt(var + eps)
        self.scale = scale = inv * rest[0] if has_weight else inv
        beta = rest[int(has_weight)] if has_bias else xp.empty(0, dtype=x.dtype)
        residual = rest[-1] if has_residual else None
        self.kernels = statistics.kernels if isinstance(statistics, RowStatistics) else None
        if self.kernels is not None:
            self.rows = statistics.rows
            out = recycled.empty(xp, self.rows.shape, x.dtype)
            extra = xp.empty((0, 0), dtype=x.dtype) if residual is None else last_rows(residual, self.shape)
            self.kernels.normalize(self.rows, mean, scale, beta, extra, True, out)
            self.out = out
            return restore_rows(out, self.shape)
        self.layout = layout = statistics.layout
        out = statistics.centred  # the twin: BatchNorm's passes, in place over x - mean
        out *= layout.vector(scale)
        if has_bias:
            out += layout.vector(beta)
        if residual is not None:
            out += layout.of(residual)
        xp.maximum(out, 0, out=out)
        self.out = out
        return layout.restore(out)

    def backward(self, grad):
        needs = self.needs_input_grad
        if self.kernels is not None:
            dx, dz, dots, dbeta = self._backward_compiled(grad)
        else:
            dx, dz, dots, dbeta = self._backward_numpy(grad)
        grads = [dx if needs[0] else None]
        if self.has_weight:
            grads.append(dots * self.inv if needs[len(grads)] else None)
        if self.has_bias:
            grads.append(dbeta if needs[len(grads)] else None)
        if self.has_residual:
            grads.append(dz if needs[len(grads)] else None)
        return tuple(grads)

    def _backward_compiled(self, grad):
        xp, rows, kernels = backend.namespace_of(grad), self.rows, self.kernels
        g = last_rows(grad, self.shape)
        sums, dots = kernels.normalize_backward(g, rows, self.out, self.mean, True)
        dbeta, dots = sums.astype(rows.dtype), dots.astype(rows.dtype)
        dx = recycled.empty(xp, rows.shape, rows.dtype)
        dz = xp.empty(rows.shape, dtype=rows.dtype) if self.has_residual else xp.empty((0, 0), dtype=rows.dtype)
        coefficients = row_coefficients(self.scale, self.inv, dots, dbeta, rows.shape[0])
        kernels.normalize_gradient(g, rows, self.out, self.mean, coefficients, True, dx, dz)
        ds = restore_rows(dz, self.shape) if self.has_residual else None
        return restore_rows(dx, self.shape), ds, dots, dbeta

    def _backward_numpy(self, grad):
        layout = self.layout
        d = layout.of(grad) * (self.out > 0)
        dbeta = layout.sums(d)
        centred = layout.matrix - layout.vector(self.mean)
        dots = layout.dots(d, centred)
        k1, k2, k3 = row_coefficients(self.scale, self.inv, dots, dbeta, layout.count)
        dx = d * layout.vector(k1)
        centred *= layout.vector(k2)
        dx += centred
        dx += layout.vector(k3)
        return layout.restore(dx), layout.restore(d) if self.has_residual else None, dots, dbeta

    def reference(self, x, *rest):
        """relu(BatchNorm's training-mode reference [+ residual])."""
        node = BatchNorm()
        node.training, node.eps, node.axes = True, self.eps, (0,) + tuple(range(2, x.ndim))
        node.shape = (1, x.shape[1]) + (1,) * (x.ndim - 2)
        node.has_weight, node.has_bias = self.has_weight, self.has_bias
        affine = rest[:int(self.has_weight) + int(self.has_bias)]
        out = node.reference(x, *affine)
        if self.has_residual:
            out = out + rest[-1]
        return ops.relu(out)

