"""Max pooling, average pooling and nearest-neighbour upsampling as one graph node each.

All three work on the last two (spatial) axes of x (N, C, H, W) in any memory layout, with the
window geometry of :class:`~chainrule.nn.im2col.Windows` (the padding is the image's offset on
a canvas that the windows cover exactly). They loop over the kh kw kernel taps, one strided
slice of the canvas per tap, never over pixels.

* Max pooling: y[a, b] = max over the taps of the canvas (padded with -inf), and the position
  of the first maximum (NaN counts as the maximum, as PyTorch), returned as PyTorch's
  ``indices`` (flat positions into H W). dx puts each gradient at its position (adding where
  windows overlap). Reference composition: ``gather(x.reshape(N, C, H W), 2, indices)``.
* Average pooling: y = (sum of the taps of the zero-padded canvas) / D[a, b], D the divisor of
  each window (``count_include_pad``, ``ceil_mode``, ``divisor_override``: chosen by the caller);
  dx = fold(G / D). Reference composition: ``unfold(x).reshape(N, C, kh kw, L).sum(2) / D``.
* Nearest upsampling: y = x[..., r[a], c[b]] for non-decreasing source rows r and columns c;
  dx sums the gradient over each run of equal sources (``add.reduceat``). Reference
  composition: ``index_select(index_select(x, 2, r), 3, c)``.
"""
from __future__ import annotations

import itertools

from ...engine import backend, ops
from ...engine.autograd import Function
from ...engine.tensor import wrap
from ..im2col import Unfold, Windows, crop, place, tap
from .composed import ComposedBackward, constant

__all__ = ["MaxPool", "AvgPool", "Nearest"]


def _taps(windows: Windows):
    return itertools.product(range(windows.kernel[0]), range(windows.kernel[1]))


def _overlapping(windows: Windows) -> bool:
    """Whether two windows share a tap position (then gradients must be added, not written)."""
    return any(s < d * (k - 1) + 1 for k, s, d in zip(windows.kernel, windows.stride, windows.dilation))


class MaxPool(ComposedBackward, Function):
    """y = the maximum over each window (padding counts as -inf); ``self.indices`` holds the
    flat position (into H W) of each maximum."""

    op = "max_pool2d"

    def forward(self, x, windows: Windows):
        xp = backend.namespace_of(x)
        self.windows, self.shape = windows, x.shape
        canvas = place(x, windows, fill=-xp.inf)
        best = canvas[tap(windows, 0, 0)].copy()
        arg = xp.zeros(best.shape, dtype=xp.intp)
        for position, (i, j) in enumerate(_taps(windows)):
            if position:
                values = canvas[tap(windows, i, j)]
                better = (values > best) | xp.isnan(values)
                xp.copyto(best, values, where=better)
                xp.copyto(arg, position, where=better)
        width = x.shape[-1]
        (kh, kw), (dh, dw), (sh, sw), (th, tw) = windows.kernel, windows.dilation, windows.stride, windows.offset
        offsets = (xp.arange(kh)[:, None] * dh * width + xp.arange(kw)[None, :] * dw).reshape(-1)
        starts = ((xp.arange(windows.grid[0]) * sh - th)[:, None] * width
                  + (xp.arange(windows.grid[1]) * sw - tw)[None, :])
        self.indices = starts + offsets[arg]
        return best

    def backward(self, grad):
        xp = backend.namespace_of(grad)
        planes = grad.shape[:-2]
        area = self.shape[-2] * self.shape[-1]
        count = grad.size // max(grad.shape[-2] * grad.shape[-1], 1)
        positions = self.indices.reshape(count, -1)
        if _overlapping(self.windows):
            flat = positions + (xp.arange(count) * area)[:, None]
            full = xp.bincount(flat.reshape(-1), weights=grad.reshape(-1), minlength=count * area)
            return (full.astype(grad.dtype, copy=False).reshape(self.shape),)
        full = xp.zeros((count, area), dtype=grad.dtype)
        xp.put_along_axis(full, positions, grad.reshape(count, -1), axis=1)
        return (full.reshape(planes + self.shape[-2:]),)

    def reference(self, x):
        """gather(x.reshape(N, C, H W), 2, indices), reshaped to (N, C, oh, ow)."""
        planes = x.shape[:-2]
        flat = x.reshape(*planes, -1)
        index = wrap(self.indices.reshape(planes + (-1,)))
        return ops.gather(flat, len(planes), index).reshape(*self.indices.shape)


class AvgPool(ComposedBackward, Function):
    """y = (the sum over each window of the zero-padded input) / divisor, the divisor an array of
    the output's spatial shape."""

    op = "avg_pool2d"
    saves_inputs = False

    def forward(self, x, windows: Windows, divisor):
        xp = backend.namespace_of(x)
        self.windows, self.divisor = windows, divisor
        canvas = place(x, windows)
        total = None
        for i, j in _taps(windows):
            values = canvas[tap(windows, i, j)]
            if total is None:
                total = values.copy() if windows.taps > 1 else xp.array(values)
            else:
                total += values
        total /= divisor
        return total

    def backward(self, grad):
        xp = backend.namespace_of(grad)
        windows = self.windows
        share = grad / self.divisor
        canvas = xp.zeros(grad.shape[:-2] + windows.extent, dtype=grad.dtype)
        overlapping = _overlapping(windows)
        for i, j in _taps(windows):
            if overlapping:
                canvas[tap(windows, i, j)] += share
            else:
                canvas[tap(windows, i, j)] = share
        return (crop(canvas, windows),)

    def reference(self, x):
        """unfold(x).reshape(N, C, kh kw, L).sum(2) / divisor, reshaped to (N, C, oh, ow)."""
        n, c = x.shape[:2]
        windows = self.windows
        cols = Unfold.apply(x, windows=windows).reshape(n, c, windows.taps, -1)
        return (cols.sum(dim=2) / constant(self.divisor.reshape(-1))).reshape(n, c, *windows.grid)


def _run_sums(grad, sources, size: int, axis: int):
    """The gradient summed over each run of equal (non-decreasing) ``sources`` along ``axis``,
    placed at those sources in an axis of length ``size`` (zero for sources never read)."""
    xp = backend.namespace_of(grad)
    starts = xp.flatnonzero(xp.concatenate(([True], sources[1:] != sources[:-1])))
    sums = xp.add.reduceat(grad, starts, axis=axis)
    if starts.size == size:
        return sums
    shape = list(grad.shape)
    shape[axis] = size
    full = xp.zeros(shape, dtype=grad.dtype)
    index = [slice(None)] * grad.ndim
    index[axis] = sources[starts]
    full[tuple(index)] = sums
    return full


class Nearest(ComposedBackward, Function):
    """y[..., a, b] = x[..., rows[a], cols[b]] with non-decreasing source rows and columns."""

    op = "upsample_nearest2d"
    saves_inputs = False

    def forward(self, x, rows, cols):
        xp = backend.namespace_of(x)
        self.rows, self.cols, self.size = rows, cols, x.shape[-2:]
        return xp.take(xp.take(x, rows, axis=-2), cols, axis=-1)

    def backward(self, grad):
        by_rows = _run_sums(grad, self.rows, self.size[0], grad.ndim - 2)
        return (_run_sums(by_rows, self.cols, self.size[1], grad.ndim - 1),)

    def reference(self, x):
        """index_select(index_select(x, -2, rows), -1, cols)."""
        picked = ops.index_select(x, x.ndim - 2, wrap(self.rows))
        return ops.index_select(picked, x.ndim - 1, wrap(self.cols))
