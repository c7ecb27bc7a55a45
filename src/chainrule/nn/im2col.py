"""im2col and col2im: the sliding windows of a feature map as the columns of a matrix, and back.

A convolution is one matrix product once the input's sliding windows are laid out as the
columns of a matrix (Chellapilla, Puri & Simard 2006, "High performance convolutional neural
networks for document processing"): this module makes that matrix (``unfold``, im2col) and
sums a matrix of windows back onto a map (``fold``, col2im, the adjoint of unfold).

Geometry, along one spatial axis. An image of size n sits at offset t on a *canvas* of extent
E = (o - 1) s + d (k - 1) + 1, the span of o windows of k taps with stride s and dilation d;
canvas row r holds image row r - t, and zeros where there is none (the padding t before, and
whatever the canvas has beyond the image after). Window a, tap i reads canvas row a s + i d:

    unfold:  cols[c, i, j, n, a, b] = canvas[c, n, a sh + i dh, b sw + j dw]
    fold:    canvas[c, n, a sh + i dh, b sw + j dw] += cols[c, i, j, n, a, b];
             the image is canvas rows t … t + n - 1 (zero where the canvas has none)

Fold is the adjoint (transpose) of unfold: <unfold(x), Y> = <x, fold(Y)>, so the gradient of
each is the other, and both are linear, so they can be differentiated any number of times.

Layout: ``unfold`` and ``fold`` work on channel-first arrays, (C, N, H, W) ("CNHW"): the columns
of all N images then form one (C kh kw, N oh ow) matrix, and a convolution of the whole batch is
ONE matrix product. They loop over the kh kw kernel taps (never over pixels), copying or adding
one strided slice per tap. ``unfold_last`` and ``fold_last`` are the same maps on channels-last
arrays, (N, H, W, C): the window matrix is (N oh ow, kh kw C), each window one contiguous row,
copied in ONE strided copy from a view of the canvas (``as_strided``: axes (N, oh, ow, kh, kw,
C), the taps' rows and columns stepping through the canvas like the windows'); the convolution's
fast path uses them (:mod:`chainrule.nn.fused.convolution`).

Working set: a window matrix is kh kw times its image (75 MB for a batch of 128 16-channel
32 x 32 maps and a 3 x 3 kernel), far beyond the caches, so a product reading it runs at memory
speed, and an array that large is mapped fresh from the operating system at every allocation
(page faults cost 2-100 ms per 75 MB on the 2-core benchmark machine, the more the more
fragmented its memory). ``window_chunks`` splits a batch into runs of whole images whose window
rows fill about ``CHUNK_BYTES``; ``copy_windows`` writes one run's rows into a small buffer
that stays in the cache while the product reads it. Both ops at the end of this module,
:class:`Unfold` and :class:`Fold`, use PyTorch's layout instead (``F.unfold``'s (N, C kh kw, L)).
"""
from __future__ import annotations

from typing import NamedTuple

from ..engine import backend
from ..engine.autograd import Function
from .kernel_choice import kernels_for

__all__ = ["Windows", "place", "crop", "unfold", "fold", "tap", "place_last", "window_view", "window_chunks",
           "copy_windows", "window_rows", "unfold_last", "fold_last", "CHUNK_BYTES", "PART_CHUNK_BYTES",
           "Unfold", "Fold"]

#: The size of the window rows one product reads at a time (see the module docstring). Measured
#: with two OpenBLAS threads on the 2-core benchmark machine (a 3 x 3 convolution of 128 maps,
#: forward, ms for runs of 2 / 3 / 6 / 8 / 16 / 32 / 128 images of 16 channels at 32 x 32):
#: 12.6 / 10.9 / 9.3 / 8.6 / 8.8 / 13.1 / 19.3; 4-8 MiB runs are fastest at every stage width
#: (fewer products, each still in the cache), 2 MiB on one thread by a few percent.
CHUNK_BYTES = 4 << 20

#: The same when the batch is cut into one part per thread, each with a one-thread BLAS
#: (:mod:`chainrule.nn.image_threads`): about one core's L2 cache. Measured on the 2-core machine
#: (ResNet-20's first-stage convolution, forward + backward, CPU ms a step, runs of 600 KiB /
#: 1.2 / 2 / 4 / 8 MiB): 53 / 52 / 53 / 62 / 72: two threads' 4 MiB runs crowd the shared cache.
PART_CHUNK_BYTES = 1200 << 10


class Windows(NamedTuple):
    """The windows of one call, per spatial dimension (two tuples of two ints each): the
    kernel, stride and dilation, the image ``size``, its ``offset`` on the canvas (the padding
    before) and the ``grid`` of windows (the output size)."""

    kernel: tuple
    stride: tuple
    dilation: tuple
    size: tuple
    offset: tuple
    grid: tuple

    @property
    def extent(self) -> tuple:
        """E = (o - 1) s + d (k - 1) + 1 per dimension: the canvas the windows cover."""
        return tuple((o - 1) * s + d * (k - 1) + 1
                     for o, s, d, k in zip(self.grid, self.stride, self.dilation, self.kernel))

    @property
    def taps(self) -> int:
        return self.kernel[0] * self.kernel[1]


def tap(windows: Windows, i: int, j: int) -> tuple:
    """The canvas slice read by tap (i, j) of every window: rows i dh, i dh + sh, …"""
    (sh, sw), (dh, dw), (oh, ow) = windows.stride, windows.dilation, windows.grid
    return (..., slice(i * dh, i * dh + (oh - 1) * sh + 1, sh), slice(j * dw, j * dw + (ow - 1) * sw + 1, sw))


def _overlap(size: int, offset: int, extent: int) -> tuple:
    """Image rows [lo - offset, hi - offset) land on canvas rows [lo, hi)."""
    return max(offset, 0), min(offset + size, extent)


def place(x, windows: Windows, fill: float = 0.0):
    """The canvas (..., Eh, Ew) of the image x (..., H, W): x at ``windows.offset``, ``fill``
    elsewhere. x itself when the canvas is the image (no padding, nothing cut)."""
    (eh, ew), (th, tw) = windows.extent, windows.offset
    h, w = x.shape[-2:]
    if (th, tw) == (0, 0) and (eh, ew) == (h, w):
        return x
    xp = backend.namespace_of(x)
    canvas = xp.full(x.shape[:-2] + (eh, ew), fill, dtype=x.dtype)
    (r0, r1), (c0, c1) = _overlap(h, th, eh), _overlap(w, tw, ew)
    if r0 < r1 and c0 < c1:
        canvas[..., r0:r1, c0:c1] = x[..., r0 - th:r1 - th, c0 - tw:c1 - tw]
    return canvas


def crop(canvas, windows: Windows):
    """The image (..., H, W) at ``windows.offset`` of the canvas: a view when the canvas covers
    it, else a copy with zeros where it does not."""
    (eh, ew), (th, tw), (h, w) = windows.extent, windows.offset, windows.size
    if th >= 0 and tw >= 0 and th + h <= eh and tw + w <= ew:
        return canvas[..., th:th + h, tw:tw + w]
    xp = backend.namespace_of(canvas)
    image = xp.zeros(canvas.shape[:-2] + (h, w), dtype=canvas.dtype)
    (r0, r1), (c0, c1) = _overlap(h, th, eh), _overlap(w, tw, ew)
    if r0 < r1 and c0 < c1:
        image[..., r0 - th:r1 - th, c0 - tw:c1 - tw] = canvas[..., r0:r1, c0:c1]
    return image


def unfold(x, windows: Windows, fill: float = 0.0, view: bool = False):
    """im2col of x (C, N, H, W): the columns (C, kh, kw, N, oh, ow), one strided copy per tap.

    With ``view=True`` a 1 x 1 kernel with stride 1 on an unpadded image gives x itself as
    (C, 1, 1, N, H, W) (no copy): the caller must then not write into it."""
    canvas = place(x, windows, fill)
    kh, kw = windows.kernel
    if view and windows.taps == 1 and canvas.shape[-2:] == tuple(windows.grid):
        return canvas[:, None, None]
    c, n = x.shape[:2]
    xp = backend.namespace_of(x)
    cols = xp.empty((c, kh, kw, n) + tuple(windows.grid), dtype=x.dtype)
    for i in range(kh):
        for j in range(kw):
            cols[:, i, j] = canvas[tap(windows, i, j)]
    return cols


def fold(cols, windows: Windows):
    """col2im: the image (C, N, H, W) onto which the columns (C, kh, kw, N, oh, ow) sum
    (the adjoint of :func:`unfold`), one strided addition per tap."""
    kh, kw = windows.kernel
    xp = backend.namespace_of(cols)
    c, n = cols.shape[0], cols.shape[3]
    canvas = xp.zeros((c, n) + windows.extent, dtype=cols.dtype)
    for i in range(kh):
        for j in range(kw):
            canvas[tap(windows, i, j)] += cols[:, i, j]
    return crop(canvas, windows)


# ---------------------------------------------------------------------- channels last: (N, H, W, C)

def place_last(x, windows: Windows):
    """The zero canvas (N, Eh, Ew, C) of x (N, H, W, C) (any strides): x at ``windows.offset``,
    a new C-contiguous array (only the border outside the image zeroed); x itself (a view)
    when no padding is needed and each pixel's channels are contiguous."""
    (eh, ew), (th, tw) = windows.extent, windows.offset
    n, h, w, c = x.shape
    if (th, tw) == (0, 0) and eh <= h and ew <= w and x.strides[3] == x.itemsize:
        return x[:, :eh, :ew]
    xp = backend.namespace_of(x)
    canvas = xp.empty((n, eh, ew, c), dtype=x.dtype)
    (r0, r1), (c0, c1) = _overlap(h, th, eh), _overlap(w, tw, ew)
    if not (r0 < r1 and c0 < c1):
        canvas[...] = 0
        return canvas
    canvas[:, :r0] = 0
    canvas[:, r1:] = 0
    canvas[:, r0:r1, :c0] = 0
    canvas[:, r0:r1, c1:] = 0
    canvas[:, r0:r1, c0:c1] = x[:, r0 - th:r1 - th, c0 - tw:c1 - tw]
    return canvas


def window_view(canvas, windows: Windows):
    """The (N, oh, ow, kh, kw, C) view of the windows of a canvas (N, Eh, Ew, C) (no copy):
    element [n, a, b, i, j, c] = canvas[n, a sh + i dh, b sw + j dw, c]."""
    (kh, kw), (sh, sw), (dh, dw), (oh, ow) = windows.kernel, windows.stride, windows.dilation, windows.grid
    sn, srow, scol, sc = canvas.strides
    xp = backend.namespace_of(canvas)
    return xp.lib.stride_tricks.as_strided(canvas, (canvas.shape[0], oh, ow, kh, kw, canvas.shape[3]),
                                           (sn, srow * sh, scol * sw, srow * dh, scol * dw, sc), writeable=False)


def window_chunks(batch: int, windows: Windows, channels: int, itemsize: int, chunk_bytes: int | None = None) -> list:
    """Runs [n0, n1) of whole images whose window rows take about ``chunk_bytes`` (default
    :data:`CHUNK_BYTES`)."""
    per_image = windows.grid[0] * windows.grid[1] * windows.taps * channels * itemsize
    step = max(1, min(batch, (CHUNK_BYTES if chunk_bytes is None else chunk_bytes) // max(per_image, 1)))
    return [(n0, min(n0 + step, batch)) for n0 in range(0, batch, step)]


def copy_windows(view, n0: int, n1: int, buffer):
    """The window rows of images [n0, n1) of a :func:`window_view`, written into the front of
    ``buffer`` (rows, kh kw C): returns that (rows (n1 - n0) oh ow, kh kw C) part."""
    part = view[n0:n1]
    rows = buffer[:part.shape[0] * part.shape[1] * part.shape[2]]
    backend.namespace_of(buffer).copyto(rows.reshape(part.shape), part)
    return rows


def window_rows(x, windows: Windows):
    """A function ``copy(n0, n1, buffer)`` that writes the window rows of images [n0, n1) of x
    (N, H, W, C) (any strides) into the front of ``buffer`` and returns them (as
    :func:`copy_windows`): one strided NumPy copy per run from the zero-padded canvas
    (:func:`place_last`, made here once). A compiled gather measured slower than these copies
    on two threads (benchmarks/README.md, the deep-net kernels section), so there is none."""
    view = window_view(place_last(x, windows), windows)
    return lambda n0, n1, buffer: copy_windows(view, n0, n1, buffer)


def _geometry(windows: Windows) -> tuple:
    """kernel, stride, dilation, grid, offset as tuples of Python ints (the kernels' arguments)."""
    return tuple(tuple(int(v) for v in pair) for pair in
                 (windows.kernel, windows.stride, windows.dilation, windows.grid, windows.offset))


def unfold_last(x, windows: Windows):
    """im2col of x (N, H, W, C) (any strides): the whole window matrix (N oh ow, kh kw C), row
    (n, a, b), column (i, j, c) = canvas[n, a sh + i dh, b sw + j dw, c]; ONE strided copy.
    (The convolution's fast path copies it a chunk at a time instead: :func:`copy_windows`.)"""
    n, _, _, c = x.shape
    (kh, kw), (oh, ow) = windows.kernel, windows.grid
    cols = backend.namespace_of(x).empty((n * oh * ow, kh * kw * c), dtype=x.dtype)
    return copy_windows(window_view(place_last(x, windows), windows), 0, n, cols)


def fold_last(cols, windows: Windows, batch: int):
    """col2im on channels-last arrays: the image (N, H, W, C) onto which the window matrix
    (N oh ow, kh kw C) sums (the adjoint of :func:`unfold_last`), one strided addition per tap."""
    (kh, kw), (oh, ow) = windows.kernel, windows.grid
    channels = cols.shape[1] // (kh * kw)
    xp = backend.namespace_of(cols)
    kernels = kernels_for(cols) if cols.flags.c_contiguous else None
    if kernels is not None:  # parallel over the images, each pixel summed in the same tap order
        image = xp.empty((batch,) + tuple(windows.size) + (channels,), dtype=cols.dtype)
        kernels.scatter(cols, image, _geometry(windows))
        return image
    blocks = cols.reshape(batch, oh, ow, kh, kw, channels)
    canvas = xp.zeros((batch,) + windows.extent + (channels,), dtype=cols.dtype)
    for i in range(kh):
        for j in range(kw):
            canvas[tap(windows, i, j) + (slice(None),)] += blocks[:, :, :, i, j]
    (eh, ew), (th, tw), (h, w) = windows.extent, windows.offset, windows.size
    if th >= 0 and tw >= 0 and th + h <= eh and tw + w <= ew:
        return canvas[:, th:th + h, tw:tw + w]
    image = xp.zeros((batch, h, w, channels), dtype=cols.dtype)
    (r0, r1), (c0, c1) = _overlap(h, th, eh), _overlap(w, tw, ew)
    if r0 < r1 and c0 < c1:
        image[:, r0 - th:r1 - th, c0 - tw:c1 - tw] = canvas[:, r0:r1, c0:c1]
    return image


# ---------------------------------------------------------------------- PyTorch's layout (Unfold, Fold)

def _unfold_batch(x, windows: Windows):
    """PyTorch's unfold of x (N, C, H, W): (N, C kh kw, oh ow), a view of fresh columns."""
    cols = unfold(x.transpose(1, 0, 2, 3), windows)
    c, kh, kw, n, oh, ow = cols.shape
    return cols.transpose(3, 0, 1, 2, 4, 5).reshape(n, c * kh * kw, oh * ow)


def _fold_batch(blocks, windows: Windows):
    """PyTorch's fold of blocks (N, C kh kw, oh ow) onto (N, C, H, W)."""
    (kh, kw), (oh, ow) = windows.kernel, windows.grid
    n, rows = blocks.shape[:2]
    cols = blocks.reshape(n, rows // (kh * kw), kh, kw, oh, ow).transpose(1, 2, 3, 0, 4, 5)
    return fold(cols, windows).transpose(1, 0, 2, 3)


class Unfold(Function):
    """F.unfold: x (N, C, H, W) -> its sliding windows (N, C kh kw, L), row c kh kw + i kw + j,
    column a ow + b (PyTorch's order). Linear; the gradient is :class:`Fold` of the gradient."""

    op = "unfold"
    saves_inputs = False

    def forward(self, x, windows):
        self.windows = windows
        return _unfold_batch(x, windows)

    def backward(self, grad):
        return (_fold_batch(grad, self.windows),)

    def backward_graph(self, grad):
        return (Fold.apply(grad, windows=self.windows),)


class Fold(Function):
    """F.fold: blocks (N, C kh kw, L) summed onto (N, C, H, W), the adjoint of :class:`Unfold`;
    the gradient is Unfold of the gradient."""

    op = "fold"
    saves_inputs = False

    def forward(self, blocks, windows):
        self.windows = windows
        return _fold_batch(blocks, windows)

    def backward(self, grad):
        return (_unfold_batch(grad, self.windows),)

    def backward_graph(self, grad):
        return (Unfold.apply(grad, windows=self.windows),)
