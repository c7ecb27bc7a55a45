"""Batch normalization as one graph node.

Reference composition (tests/test_nn_fused.py): in training mode
``gamma * (x - x.mean(axes)) / sqrt(x.var(axes, unbiased=False) + eps) + beta`` with the
batch statistics as functions of x (so their gradients flow); in evaluation mode the same
with the running statistics as constants.

How it runs on arrays. x (N, C, *) is seen, without a copy, as a matrix in which every
per-channel step is ONE NumPy call over contiguous memory (:class:`ChannelLayout`), whatever
the memory layout the previous layer left:

* channels-last memory (what the convolutions return, and (N, C) batches): the (P, C) matrix of
  the P = N H W pixels, viewed as (P C / L, L) with L = T C a multiple of C near 1024, the
  per-channel vectors tiled T times (a 16-channel row is too short an inner loop for NumPy:
  measured 5x slower than the wide view);
* channel-first memory ((C, N, H, W), the grouped convolutions' output): the (C, P) matrix;
* PyTorch's contiguous (N, C, H, W): the (N, C, H W) stack.

Channel sums are ones-vector products (BLAS), sums of products ``einsum``. Training mode takes
five passes over the data forward (the sum, x - mean, its square sum, the scale and the shift,
the last two in place over x - mean) and keeps nothing but the statistics: an array kept from
forward to backward is fresh memory in every forward (a page fault per 4 KiB: measured 6 ms per
8 MB on the 2-core benchmark machine), while making x - mean again in backward is one pass
(0.3 ms). Backward takes that pass, two reductions and four more:

    dx = k1 G + k2 (x - mean) + k3,   k1 = gamma inv,   k2 = -gamma inv^3 sum(G (x - mean)) / m,
    k3 = -gamma inv sum(G) / m   (m values per channel, inv = 1 / sqrt(var + eps)).
"""
from __future__ import annotations

import math
from typing import NamedTuple

from ...engine import backend, recycled
from ...engine.autograd import Function
from .. import image_threads, kernel_choice
from .composed import ComposedBackward, constant

__all__ = ["BatchNorm", "ChannelLayout", "BatchStatistics", "RowStatistics", "batch_statistics", "channel_rows",
           "last_rows", "restore_rows", "row_coefficients"]

WIDE = 1024  #: the length of the rows of a channels-last matrix's wide view


class ChannelLayout:
    """x (N, C, *) as a matrix whose per-channel reductions and broadcasts are single calls.

    ``mode`` is "last" (the wide (P C / L, L) view of the channels-last (P, C) matrix; vectors
    tiled ``tiles`` times), "first" ((C, P)) or "stack" ((N, C, S)); ``matrix`` is x's view in
    that form (a copy into channels-last only when x is none of the three)."""

    def __init__(self, x):
        self.xp = xp = backend.namespace_of(x)
        self.shape, self.channels = tuple(x.shape), x.shape[1]
        n, c, spatial = x.shape[0], x.shape[1], math.prod(x.shape[2:])
        self.count = n * spatial
        moved = x if x.ndim == 2 else x.transpose((0,) + tuple(range(2, x.ndim)) + (1,))
        if moved.flags.c_contiguous or not (x.flags.c_contiguous or _first(x).flags.c_contiguous):
            self.mode = "last"
            self.tiles = _tiles(self.count, c)
            rows = xp.ascontiguousarray(moved).reshape(self.count, c)
            self.matrix = rows.reshape(self.count // self.tiles, self.tiles * c)
        elif x.flags.c_contiguous:
            self.mode, self.matrix = "stack", x.reshape(n, c, spatial)
        else:
            self.mode, self.matrix = "first", _first(x).reshape(c, self.count)

    def of(self, array):
        """Another array of x's shape in this layout (a view when its memory matches)."""
        xp = self.xp
        if self.mode == "last":
            moved = array if array.ndim == 2 else array.transpose((0,) + tuple(range(2, array.ndim)) + (1,))
            return xp.ascontiguousarray(moved).reshape(self.matrix.shape)
        if self.mode == "first":
            return xp.ascontiguousarray(_first(array)).reshape(self.matrix.shape)
        return xp.ascontiguousarray(array).reshape(self.matrix.shape)

    def restore(self, matrix):
        """A matrix of this layout as an array of x's shape (a view)."""
        if self.mode == "stack":
            return matrix.reshape(self.shape)
        n, c, spatial = self.shape[0], self.channels, self.shape[2:]
        if self.mode == "first":
            return _first(matrix.reshape((c, n) + spatial))
        stored = matrix.reshape((n,) + spatial + (c,))
        return stored if not spatial else stored.transpose((0, stored.ndim - 1) + tuple(range(1, stored.ndim - 1)))

    def vector(self, v):
        """A per-channel vector (C,) shaped to broadcast against the matrix."""
        if self.mode == "last":
            return self.xp.tile(v, self.tiles)
        return v[:, None] if self.mode == "first" else v[None, :, None]

    def sums(self, matrix):
        """The per-channel sums (C,) of a matrix of this layout (for large ones BLAS at one thread
        where the convolutions run on threads: :func:`~chainrule.nn.image_threads.one_blas_thread`;
        small ones are one-thread BLAS calls anyway, and skip the check's few microseconds)."""
        if matrix.size < _THREADED_SUMS:
            return self._sums(matrix)
        with image_threads.one_blas_thread():
            return self._sums(matrix)

    def _sums(self, matrix):
        xp, dtype = self.xp, matrix.dtype
        if self.mode == "last":
            total = xp.ones(matrix.shape[0], dtype=dtype) @ matrix
            return total.reshape(self.tiles, self.channels).sum(axis=0)
        if self.mode == "first":
            return matrix @ xp.ones(matrix.shape[1], dtype=dtype)
        n, c, s = matrix.shape
        return (xp.ones(n, dtype=dtype) @ matrix.reshape(n, c * s)).reshape(c, s) @ xp.ones(s, dtype=dtype)

    def dots(self, a, b):
        """The per-channel sums of a * b (C,), without forming the product."""
        xp = self.xp
        if self.mode == "last":
            return xp.einsum("ij,ij->j", a, b).reshape(self.tiles, self.channels).sum(axis=0)
        return xp.einsum("ij,ij->i", a, b) if self.mode == "first" else xp.einsum("ncs,ncs->c", a, b)


_THREADED_SUMS = 1 << 16  # matrices with fewer elements: OpenBLAS sums them on one thread anyway


def _first(x):
    """(N, C, *) -> (C, N, *) as a view."""
    return x.transpose((1, 0) + tuple(range(2, x.ndim)))


def _tiles(rows: int, channels: int) -> int:
    """The largest power of two T with T C <= WIDE that divides the number of rows."""
    tiles = 1
    while channels and 2 * tiles * channels <= WIDE and rows % (2 * tiles) == 0 and rows:
        tiles *= 2
    return tiles


class BatchStatistics(NamedTuple):
    """The batch mean and biased variance (C,) of x, its layout and x - mean in that layout."""

    mean: object
    var: object
    layout: ChannelLayout
    centred: object


class RowStatistics(NamedTuple):
    """The batch mean and biased variance (C,) of channels-last x computed by the compiled
    kernels, x's channels-last (P, C) rows and the kernels module."""

    mean: object
    var: object
    rows: object
    kernels: object


def batch_statistics(x):
    """The per-channel batch mean and biased variance of x (N, C, *): with the compiled kernels
    (:mod:`~chainrule.nn.kernel_choice`: host float arrays) on channels-last memory one pass in
    blocks (:class:`RowStatistics`), else the NumPy twin's two passes, the per-channel mean
    then x - mean and its per-channel mean square (:class:`BatchStatistics`)."""
    kernels = kernel_choice.kernels_for(x)
    rows = None if kernels is None else channel_rows(x)
    if rows is not None:
        mean, var = kernels.batch_moments(rows)
        return RowStatistics(mean.astype(x.dtype), var.astype(x.dtype), rows, kernels)
    layout = ChannelLayout(x)
    mean = layout.sums(layout.matrix) / layout.count
    centred = layout.xp.subtract(layout.matrix, layout.vector(mean),
                                 out=recycled.empty(layout.xp, layout.matrix.shape, layout.matrix.dtype))
    var = layout.dots(centred, centred) / layout.count
    return BatchStatistics(mean, var, layout, centred)


def channel_rows(x):
    """x (N, C, *) as its channels-last (P, C) rows (a view), or None when its memory is not
    channels-last (or x is empty)."""
    moved = x if x.ndim == 2 else x.transpose((0,) + tuple(range(2, x.ndim)) + (1,))
    if not moved.flags.c_contiguous or x.size == 0:
        return None
    return moved.reshape(-1, x.shape[1])


def last_rows(array, shape):
    """``array`` of x's shape as channels-last (P, C) rows (a copy only when its memory is not)."""
    rows = channel_rows(array)
    if rows is None:
        moved = array.transpose((0,) + tuple(range(2, array.ndim)) + (1,)) if array.ndim > 2 else array
        rows = backend.namespace_of(array).ascontiguousarray(moved).reshape(-1, shape[1])
    return rows


def restore_rows(rows, shape):
    """(P, C) channels-last rows as an array of x's shape (a view)."""
    stored = rows.reshape((shape[0],) + tuple(shape[2:]) + (shape[1],))
    return stored.transpose((0, stored.ndim - 1) + tuple(range(1, stored.ndim - 1))) if len(shape) > 2 else stored


def row_coefficients(scale, inv, dots, dbeta, count):
    """(k1, k2, k3) of the training-mode input gradient dx = k1 D + k2 (x - mean) + k3."""
    return scale, -scale * inv * inv * dots / count, -scale * dbeta / count


class BatchNorm(ComposedBackward, Function):
    """Batch normalization over ``axes`` (all but the channel axis).

    Training mode (``training=True``; ``mean`` and ``var`` are the batch's mean and
    biased variance, which depend on x, and ``statistics`` their :class:`BatchStatistics`):
    with xhat = (x - mean) / sqrt(var + eps), y = gamma xhat + beta and D = G gamma,

        dx = (1 / sqrt(var + eps)) (D - mean(D) - xhat mean(D xhat))

    (means over ``axes``). Evaluation mode (``training=False``; ``mean`` and ``var``
    are the running statistics, constants): dx = G gamma / sqrt(var + eps).
    In both, dgamma = sum(G xhat) and dbeta = sum(G) over ``axes``.
    """

    op = "batch_norm"

    def forward(self, x, *affine, mean, var, eps, axes, training, has_weight, has_bias, statistics=None):
        xp = backend.namespace_of(x)
        self.shape = _channel_shape(x.ndim, x.shape[1])
        self.axes, self.training = axes, training
        self.mean, self.var, self.eps = mean, var, eps
        self.has_weight, self.has_bias = has_weight, has_bias
        if training and statistics is None:
            statistics = batch_statistics(x)
        self.kernels = statistics.kernels if training and isinstance(statistics, RowStatistics) else None
        self.inv = inv = 1.0 / xp.sqrt(var + eps)
        self.scale = scale = inv * affine[0] if has_weight else inv
        if self.kernels is not None:  # the compiled pass over x's channels-last rows
            self.rows = statistics.rows
            out = recycled.empty(xp, self.rows.shape, x.dtype)
            beta = affine[-1] if has_bias else xp.empty(0, dtype=x.dtype)
            self.layout_shape = tuple(x.shape)
            self.kernels.normalize(self.rows, mean, scale, beta, xp.empty((0, 0), dtype=x.dtype), False, out)
            return restore_rows(out, x.shape)
        self.layout = layout = statistics.layout if training else ChannelLayout(x)
        if training:  # y = (x - mean) scale + beta, written over x - mean
            out = statistics.centred
            out *= layout.vector(scale)
            if has_bias:
                out += layout.vector(affine[-1])
            return layout.restore(out)
        shift = -mean * scale
        if has_bias:
            shift = shift + affine[-1]
        out = layout.matrix * layout.vector(scale)
        out += layout.vector(shift)
        return layout.restore(out)

    def backward(self, grad):
        if self.kernels is not None:
            return self._backward_rows(grad)
        needs, layout, scale = self.needs_input_grad, self.layout, self.scale
        g = layout.of(grad)
        want_weight = self.has_weight and needs[1]
        dbeta = layout.sums(g) if self.training or (self.has_bias and needs[-1]) else None
        if self.training or want_weight:  # x - mean made again (cheaper than keeping it from forward)
            centred = layout.matrix - layout.vector(self.mean)
            dots = layout.dots(g, centred)  # sum(G (x - mean)) = sum(G xhat) / inv
        grad_x = None
        if needs[0]:
            grad_x = g * layout.vector(scale)
            if self.training:
                count = layout.count
                centred *= layout.vector(-scale * self.inv * self.inv * dots / count)
                grad_x += centred
                grad_x += layout.vector(-scale * dbeta / count)
            grad_x = layout.restore(grad_x)
        grads = [grad_x]
        if self.has_weight:
            grads.append(dots * self.inv if want_weight else None)
        if self.has_bias:
            grads.append(dbeta if needs[len(grads)] else None)
        return tuple(grads)

    def _backward_rows(self, grad):
        """The compiled backward (training mode, channels-last rows): the two sums in one pass,
        dx in another."""
        xp, rows, needs = backend.namespace_of(grad), self.rows, self.needs_input_grad
        shape = self.layout_shape
        g = last_rows(grad, shape)
        sums, dots = self.kernels.normalize_backward(g, rows, rows, self.mean, False)
        dbeta, dots = sums.astype(rows.dtype), dots.astype(rows.dtype)
        grad_x = None
        if needs[0]:
            dx = recycled.empty(xp, rows.shape, rows.dtype)
            coefficients = row_coefficients(self.scale, self.inv, dots, dbeta, rows.shape[0])
            self.kernels.normalize_gradient(g, rows, rows, self.mean, coefficients, False, dx,
                                            xp.empty((0, 0), dtype=rows.dtype))
            grad_x = restore_rows(dx, shape)
        grads = [grad_x]
        if self.has_weight:
            grads.append(dots * self.inv if needs[1] else None)
        if self.has_bias:
            grads.append(dbeta if needs[len(grads)] else None)
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
