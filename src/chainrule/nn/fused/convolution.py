"""Convolution and transposed convolution as one graph node each: im2col and ONE matrix product.

Convolution (cross-correlation, as PyTorch) of x (N, C, H, W) with W (O, C/g, kh, kw) in g
groups, bias b (O,):

    y[n, o, a, b] = b[o] + sum_{c in group(o), i, j} W[o, c, i, j] x[n, c, a sh + i dh - ph, b sw + j dw - pw]

Reference composition (tests/test_nn_conv_fused.py): ``W.reshape(g, O/g, C/g kh kw) @
unfold(x).reshape(N, g, C/g kh kw, L)`` reshaped to (N, O, oh, ow), plus b: :class:`~chainrule.nn.
im2col.Unfold` and a matmul.

The fast path (one group) works channels-last: the windows of the batch form the matrix
X_col (N oh ow, kh kw C), each window a contiguous row, and the forward is the matrix product
Y = X_col W_col with W_col (kh kw C, O) the weight's transpose. X_col is kh kw times the image
and would be read from memory: it is made and multiplied a run of whole images at a time
(:func:`~chainrule.nn.im2col.window_chunks`, about 4 MiB of rows: one strided copy from the
zero-padded canvas into a small buffer that the product then reads from the cache), and never
kept: backward makes the runs again from x. The batch is cut into one part per thread
(:mod:`~chainrule.nn.image_threads`), each thread doing its part's copies and products with a
one-thread BLAS (the copies are half the time, and would otherwise run on one core). Y is
(N oh ow, O): the output is returned as a (N, O, oh, ow) view of it, channels-last in memory,
which is what the next convolution's window copy and batch norm's per-channel sums read fastest.
With G the upstream gradient as (N oh ow, O) (a view when it is channels-last, as the gradients
of channels-last outputs are):

    dW = G^T X_col (summed over the runs),   db = the column sums of G,
    dX = conv(G, W flipped) for stride 1,    dX = fold(G W_col^T) (col2im) otherwise

(for stride 1 the input gradient is the convolution of the gradient, on a canvas with
(k - 1) d - p zeros before, with the kernel flipped in both spatial axes and its channel axes
swapped: the same chunked copy and product, no col2im of kh kw overlapping slices). A 1 x 1
convolution with stride 1 multiplies x's own rows. Measured on the 2-core benchmark machine
(OpenBLAS): the tall (N oh ow, kh kw C) orientation runs the thin products of a ResNet's
16-channel stage 20-30% faster than the wide (O, kh kw C) x (kh kw C, N oh ow) one, and the
chunked product of a 16-channel 3 x 3 convolution of 128 32 x 32 maps takes 14 ms (one
thread, CPU time) against 24 ms for the whole 75 MB window matrix. Grouped convolutions use
the wide, channel-first orientation: (C kh kw, N oh ow) columns
(:func:`~chainrule.nn.im2col.unfold`) and a batched product over the groups; their output is
channel-first in memory.

With numba (:func:`~chainrule.nn.kernel_choice.kernels_for`, host float arrays), one-group
convolutions take the direct kernels of :mod:`~chainrule.nn.fused.direct_convolution` instead
(no window matrix: each part of the batch makes its own zero canvas and the kernel reads it,
a register block of output pixels x channels at a time): the forward (bias fused), the
stride-1 input gradient (the same kernel on G's canvas with the flipped, channel-swapped
kernel) and the weight gradient when C >= 8 (the 3-channel first layer's measured slower than
X_col^T G: there the window products stay); the input gradient of other strides stays
``fold(G W_col^T)``. One thread, CPU time, batch 128, float32 (bench_conv_phases.py): the
16-channel 3 x 3 convolution's forward 9.2 ms against 14.4, dX 12.8 against 18.7, dW 10.8
against 17.4; every ResNet-20 shape as fast or faster (1 x 1 stride 2: equal).

Transposed convolution (x (N, Cin, H, W), W (Cin, Cout/g, kh, kw)) is the gradient of a
convolution with respect to its input: ``fold(W_mat^T X)`` with the output's windows; its
gradients are dX = W_mat unfold(G), dW = X unfold(G)^T, db = sum G. Reference composition:
``fold((W^T @ x) …)`` with :class:`~chainrule.nn.im2col.Fold`.
"""
from __future__ import annotations

from ...engine import backend, recycled
from ...engine.autograd import Function, claim_grad_slot
from .. import im2col, image_threads, kernel_choice
from ..im2col import Fold, Unfold, Windows
from .composed import ComposedBackward

__all__ = ["Convolution", "TransposedConvolution", "DIRECT"]

DIRECT = "chainrule.nn.fused.direct_convolution"  #: the direct kernels' module (numba)


def _channels_first(x):
    """(N, C, H, W) -> (C, N, H, W) as a view."""
    return x.transpose(1, 0, 2, 3)


def _grouped(matrix_rows, groups: int):
    """(R, K) -> (g, R/g, K) as a view; the matrix itself when g = 1."""
    if groups == 1:
        return matrix_rows
    return matrix_rows.reshape(groups, matrix_rows.shape[0] // groups, matrix_rows.shape[1])


def _transposed(stack):
    """The transpose of each matrix of a (g, R, K) stack (or of one matrix)."""
    return stack.T if stack.ndim == 2 else stack.transpose(0, 2, 1)


def _contiguous_rows(array, rows: int):
    """``array`` as a C-contiguous (rows, -1) matrix (a view when it already is one)."""
    return backend.namespace_of(array).ascontiguousarray(array).reshape(rows, -1)


def _weight_gradient(node, index, grad_rows, cols_rows, groups, shape):
    """dW = G X^T per group, written into the weight's gradient slot when an optimizer keeps one."""
    xp = backend.namespace_of(grad_rows)
    g_stack, c_stack = _grouped(grad_rows, groups), _grouped(cols_rows, groups)
    slot = claim_grad_slot(node.parents[index])
    if slot is None:
        return xp.matmul(g_stack, _transposed(c_stack)).reshape(shape)
    xp.matmul(g_stack, _transposed(c_stack), out=slot.reshape(g_stack.shape[:-1] + (c_stack.shape[-2],)))
    return None


def _weight_columns(weight):
    """W (O, C, kh, kw) as the (kh kw C, O) matrix the window rows multiply (a small copy)."""
    out_channels = weight.shape[0]
    return weight.transpose(2, 3, 1, 0).reshape(-1, out_channels)


def _windows_times(xp, image, windows: Windows, matrix, out):
    """out (N oh ow, M) = (the window matrix of ``image`` (N, H, W, C)) @ matrix (kh kw C, M), a
    run of whole images at a time: each run's window rows are copied into one small buffer and
    multiplied while they are in the cache (:func:`~chainrule.nn.im2col.window_chunks`,
    :func:`~chainrule.nn.im2col.window_rows`); the batch cut into one part per thread
    (:mod:`~chainrule.nn.image_threads`), each part writing its own rows of ``out``."""
    pixels = windows.grid[0] * windows.grid[1]
    parts = image_threads.image_parts(image.shape[0], pixels * windows.taps * image.shape[3] * image.itemsize)
    chunk = _chunk_bytes(parts)

    def part(n0, n1):
        _windows_times_part(xp, image[n0:n1], windows, matrix, out[n0 * pixels:n1 * pixels], chunk)

    image_threads.map_parts(part, parts)


def _chunk_bytes(parts) -> int:
    """The size of the runs of window rows: smaller when the batch is cut for several threads."""
    return im2col.CHUNK_BYTES if len(parts) == 1 else im2col.PART_CHUNK_BYTES


def _windows_times_part(xp, image, windows: Windows, matrix, out, chunk_bytes: int):
    """:func:`_windows_times` of one part of the batch, on the calling thread."""
    copy = im2col.window_rows(image, windows)
    channels = image.shape[3]
    chunks = im2col.window_chunks(image.shape[0], windows, channels, image.itemsize, chunk_bytes)
    buffer = _chunk_buffer(xp, chunks, windows, channels, image.dtype)
    pixels = windows.grid[0] * windows.grid[1]
    for n0, n1 in chunks:  # none for an empty batch
        xp.matmul(copy(n0, n1, buffer), matrix, out=out[n0 * pixels:n1 * pixels])


def _windows_gram_part(xp, image, windows: Windows, rows, chunk_bytes: int):
    """X_col^T G (kh kw C, M): the window matrix of ``image`` (N, H, W, C) against ``rows``
    (N oh ow, M), summed over runs of images (their window rows made again from the image).
    This orientation, not G^T X_col: with two OpenBLAS threads the (kh kw C) x rows x O products
    split their rows between the threads, the O x rows x (kh kw C) ones barely (16 channels:
    0.23 against 0.34 ms a run)."""
    channels = image.shape[3]
    copy = im2col.window_rows(image, windows)
    chunks = im2col.window_chunks(image.shape[0], windows, channels, rows.itemsize, chunk_bytes)
    buffer = _chunk_buffer(xp, chunks, windows, channels, rows.dtype)
    pixels = windows.grid[0] * windows.grid[1]
    total, part = xp.zeros((windows.taps * channels, rows.shape[1]), dtype=rows.dtype), None
    for n0, n1 in chunks:
        block = copy(n0, n1, buffer)
        if part is None:
            total = xp.matmul(block.T, rows[n0 * pixels:n1 * pixels])
            part = xp.empty_like(total)
        else:
            total += xp.matmul(block.T, rows[n0 * pixels:n1 * pixels], out=part)
    return total


def _chunk_buffer(xp, chunks, windows: Windows, channels: int, dtype):
    """The buffer for the window rows of the largest run of images."""
    largest = max((n1 - n0 for n0, n1 in chunks), default=0)
    return xp.empty((largest * windows.grid[0] * windows.grid[1], windows.taps * channels), dtype=dtype)


def _summed(arrays):
    """The sum of ``arrays`` added in their order, into the first."""
    arrays = iter(arrays)
    total = next(arrays)
    for other in arrays:
        total += other
    return total


def _into_slot(node, index, value):
    """``value`` written into the gradient slot of input ``index`` when an optimizer keeps one
    (then None), else ``value`` as a new C-contiguous array."""
    slot = claim_grad_slot(node.parents[index])
    if slot is None:
        return backend.namespace_of(value).ascontiguousarray(value)
    slot[...] = value
    return None


def _bias_gradient(node, index, grad, axes):
    """db = the sum of G over ``axes`` (everything but the channel)."""
    xp = backend.namespace_of(grad)
    slot = claim_grad_slot(node.parents[index])
    if slot is None:
        return xp.add.reduce(grad, axis=axes)
    xp.add.reduce(grad, axis=axes, out=slot)
    return None


def _last(x):
    """(N, C, H, W) -> (N, H, W, C) as a view."""
    return x.transpose(0, 2, 3, 1)


def _flipped_windows(windows: Windows) -> Windows:
    """The windows of the stride-1 input gradient as a convolution of the upstream gradient:
    the output's grid is the image, offset (k - 1) d - p, one window per input pixel."""
    offset = tuple(d * (k - 1) - p for k, d, p in zip(windows.kernel, windows.dilation, windows.offset))
    return Windows(windows.kernel, (1, 1), windows.dilation, windows.grid, offset, windows.size)


def _canvas(image, windows: Windows):
    """The zero canvas of image (N, H, W, C) (:func:`~chainrule.nn.im2col.place_last`), C-contiguous."""
    canvas = im2col.place_last(image, windows)
    return canvas if canvas.flags.c_contiguous else backend.namespace_of(canvas).ascontiguousarray(canvas)


def _direct_kernels(x):
    """The direct kernels (:mod:`~chainrule.nn.fused.direct_convolution`) for a one-group
    convolution of x, or None (the window-matrix path)."""
    return kernel_choice.kernels_for(x, DIRECT)


def _direct_times(direct, image, windows: Windows, taps, bias, out):
    """out (N, oh, ow, M), C-contiguous = the convolution of image (N, H, W, C) with taps (kh, kw,
    C, M) + bias (M,), by the direct kernel, the batch cut into one part per thread (each making
    its part's canvas: the copies run on every core)."""
    batch, pixels = image.shape[0], windows.grid[0] * windows.grid[1]
    parts = image_threads.image_parts(batch, pixels * windows.taps * image.shape[3] * image.itemsize)

    def part(n0, n1):
        direct.forward(_canvas(image[n0:n1], windows), taps, bias, out[n0:n1], 0, n1 - n0, windows.stride,
                       windows.dilation)

    image_threads.map_parts(part, parts)


def _direct_input_gradient(direct, grad_maps, weight, windows: Windows, out_rows):
    """out_rows (n H W, C) = dX of a stride-1 convolution: the direct kernel on the canvas of G
    (n, oh, ow, O) (C-contiguous: its canvas is a plain copy) with the flipped, channel-swapped
    kernel (kh, kw, O, C)."""
    xp = backend.namespace_of(grad_maps)
    flipped = xp.ascontiguousarray(weight[:, :, ::-1, ::-1].transpose(2, 3, 0, 1))
    channels, batch = weight.shape[1], grad_maps.shape[0]
    direct.forward(_canvas(grad_maps, _flipped_windows(windows)), flipped, xp.zeros(channels, dtype=grad_maps.dtype),
                   out_rows.reshape((batch,) + tuple(windows.size) + (channels,)), 0, batch, (1, 1), windows.dilation)


def _direct_weight_gradient(direct, image, grad_maps, weight, windows: Windows):
    """dW^T (kh kw C, O) summed over the images of image (n, H, W, C) and G (n, oh, ow, O), by
    the direct kernel on image's canvas (made again here)."""
    out_channels, channels, kh, kw = weight.shape
    total = backend.namespace_of(grad_maps).zeros((kh, kw, channels, out_channels), dtype=grad_maps.dtype)
    direct.weight_gradient(_canvas(image, windows), grad_maps, total, 0, image.shape[0], windows.stride,
                           windows.dilation)
    return total.reshape(-1, out_channels)


def _taps(weight):
    """W (O, C, kh, kw) as the C-contiguous (kh, kw, C, O) array of the direct kernels."""
    return backend.namespace_of(weight).ascontiguousarray(weight.transpose(2, 3, 1, 0))


class Convolution(ComposedBackward, Function):
    """y = W * x + b (2-D cross-correlation in ``groups`` groups, PyTorch's layouts), with
    ``windows`` the geometry of the input's windows (:class:`~chainrule.nn.im2col.Windows`)."""

    op = "conv2d"

    def forward(self, x, weight, *bias, windows: Windows, groups: int):
        self.windows, self.groups = windows, groups
        if groups == 1:
            return self._forward_last(x, weight, bias)
        out_channels = weight.shape[0]
        n = x.shape[0]
        cols = im2col.unfold(_channels_first(x), windows, view=True)  # (C, kh, kw, N, oh, ow)
        self.cols = cols = cols.reshape(cols.shape[0] * windows.taps, -1)
        self.weight = weight
        xp = backend.namespace_of(x)
        out = xp.matmul(_grouped(weight.reshape(out_channels, -1), groups), _grouped(cols, groups))
        out = out.reshape(out_channels, -1)
        if bias:
            out += bias[0][:, None]
        return _channels_first(out.reshape((out_channels, n) + tuple(windows.grid)))

    def _forward_last(self, x, weight, bias):
        """One group, channels-last: Y (N oh ow, O) = X_col (N oh ow, kh kw C) W_col (kh kw C, O),
        a run of images at a time (the window rows stay in the cache)."""
        xp, windows = backend.namespace_of(x), self.windows
        x_last = _last(x)
        batch, channels, out_channels = x.shape[0], x.shape[1], weight.shape[0]
        self.weight, self.x, self.cols = weight, x, None
        self.direct = direct = _direct_kernels(x)
        if direct is not None:
            grid = tuple(windows.grid)
            maps = recycled.empty(xp, (batch,) + grid + (out_channels,), x.dtype)
            b = xp.ascontiguousarray(bias[0]) if bias else xp.zeros(out_channels, dtype=x.dtype)
            _direct_times(direct, x_last, windows, _taps(weight), b, maps)
            return maps.transpose(0, 3, 1, 2)
        w_cols = _weight_columns(weight)
        if windows.taps == 1 and windows.stride == (1, 1) and tuple(windows.grid) == tuple(x.shape[2:]) \
                and windows.offset == (0, 0) and x_last.flags.c_contiguous:
            self.cols = x_last.reshape(-1, channels)  # a 1 x 1 convolution reads x itself
            out = xp.matmul(self.cols, w_cols)
        else:  # the canvas is made again in backward: nothing but x is kept
            out = recycled.empty(xp, (batch * windows.grid[0] * windows.grid[1], out_channels), x.dtype)
            _windows_times(xp, x_last, windows, w_cols, out)
        if bias:
            out += bias[0]
        return out.reshape((batch,) + tuple(windows.grid) + (out_channels,)).transpose(0, 3, 1, 2)

    def _backward_last(self, grad):
        """dX, dW and db from G (N oh ow, O), the batch cut into one part per thread
        (:mod:`~chainrule.nn.image_threads`, :meth:`_gradient_part`): each part writes its
        rows of dX (of G W_col^T, folded after, for a stride other than 1) and returns its dW
        and db sums, added in the order of the parts."""
        needs, weight, windows = self.needs_input_grad, self.weight, self.windows
        xp = backend.namespace_of(grad)
        out_channels, channels, kh, kw = weight.shape
        batch, pixels = grad.shape[0], windows.grid[0] * windows.grid[1]
        parts = image_threads.image_parts(batch, pixels * windows.taps * channels * grad.itemsize)
        target = None
        if needs[0]:
            size = windows.size if windows.stride == (1, 1) else windows.grid
            columns = channels if windows.stride == (1, 1) else windows.taps * channels
            target = recycled.empty(xp, (batch * size[0] * size[1], columns), grad.dtype)
        chunk = _chunk_bytes(parts)
        sums = image_threads.map_parts(lambda n0, n1: self._gradient_part(xp, grad, n0, n1, target, chunk), parts)
        grad_x = grad_w = grad_b = None
        if needs[0]:
            if windows.stride != (1, 1):
                target = im2col.fold_last(target, windows, batch)
            grad_x = target.reshape((batch,) + tuple(windows.size) + (channels,)).transpose(0, 3, 1, 2)
        if needs[1]:  # dW^T (kh kw C, O) as (O, C, kh, kw)
            total = _summed(part[0] for part in sums)
            grad_w = _into_slot(self, 1, total.T.reshape(out_channels, kh, kw, channels).transpose(0, 3, 1, 2))
        if len(needs) == 3 and needs[2]:
            grad_b = _into_slot(self, 2, _summed(part[1] for part in sums))
        return (grad_x, grad_w, grad_b) if len(needs) == 3 else (grad_x, grad_w)

    def _gradient_part(self, xp, grad, n0, n1, target, chunk_bytes):
        """Images [n0, n1) of the backward: their rows of dX into ``target`` (stride 1: the
        convolution of G with the flipped kernel, chunked like the forward; else G W_col^T,
        the input of col2im), and their sums of dW^T = X_col^T G (the window rows made again
        from x, or x's own rows for a 1 x 1 kernel) and of db (None where not needed)."""
        needs, windows, weight = self.needs_input_grad, self.windows, self.weight
        grad = grad[n0:n1]
        rows = xp.ascontiguousarray(_last(grad)).reshape(-1, weight.shape[0])  # a view if channels-last
        pixels = windows.grid[0] * windows.grid[1]  # G's rows [n0 pixels, n1 pixels) are this part's
        grad_maps = rows.reshape((n1 - n0,) + tuple(windows.grid) + (weight.shape[0],))  # G (n, oh, ow, O)
        if target is not None and windows.stride == (1, 1) and self.direct is not None:
            image = windows.size[0] * windows.size[1]
            _direct_input_gradient(self.direct, grad_maps, weight, windows, target[n0 * image:n1 * image])
        elif target is not None and windows.stride == (1, 1):
            image = windows.size[0] * windows.size[1]
            flipped = weight[:, :, ::-1, ::-1].transpose(2, 3, 0, 1).reshape(-1, weight.shape[1])
            _windows_times_part(xp, _last(grad), _flipped_windows(windows), flipped, target[n0 * image:n1 * image],
                                chunk_bytes)
        elif target is not None:
            xp.matmul(rows, _weight_columns(weight).T, out=target[n0 * pixels:n1 * pixels])
        w_sum = b_sum = None
        if needs[1] and self.cols is not None:  # a 1 x 1 kernel: x's own rows
            w_sum = xp.matmul(self.cols[n0 * pixels:n1 * pixels].T, rows)
        elif needs[1] and self.direct is not None and weight.shape[1] >= self.direct.IN_BLOCK:
            w_sum = _direct_weight_gradient(self.direct, _last(self.x[n0:n1]), grad_maps, weight, windows)
        elif needs[1]:
            w_sum = _windows_gram_part(xp, _last(self.x[n0:n1]), windows, rows, chunk_bytes)
        if len(needs) == 3 and needs[2]:
            b_sum = xp.add.reduce(rows, axis=0)
        return w_sum, b_sum

    def backward(self, grad):
        if self.groups == 1:
            return self._backward_last(grad)
        needs, groups, windows = self.needs_input_grad, self.groups, self.windows
        weight = self.weight
        out_channels = weight.shape[0]
        grad_cf = _channels_first(grad)
        rows = _contiguous_rows(grad_cf, out_channels)  # G as (O, N oh ow)
        grad_x = grad_w = grad_b = None
        if needs[0]:
            xp = backend.namespace_of(grad)
            w_rows = _grouped(weight.reshape(out_channels, -1), groups)
            d_cols = xp.matmul(_transposed(w_rows), _grouped(rows, groups))
            kh, kw = windows.kernel
            channels = weight.shape[1] * groups
            d_cols = d_cols.reshape((channels, kh, kw, grad.shape[0]) + tuple(windows.grid))
            grad_x = _channels_first(im2col.fold(d_cols, windows))
        if needs[1]:
            grad_w = _weight_gradient(self, 1, rows, self.cols, groups, weight.shape)
        if len(needs) == 3 and needs[2]:
            grad_b = _bias_gradient(self, 2, rows, 1)
        return (grad_x, grad_w, grad_b) if len(needs) == 3 else (grad_x, grad_w)

    def reference(self, x, weight, *bias):
        """W.reshape(g, O/g, C/g kh kw) @ unfold(x).reshape(N, g, C/g kh kw, L), + b."""
        groups, windows = self.groups, self.windows
        n, out_channels = x.shape[0], weight.shape[0]
        cols = Unfold.apply(x, windows=windows)
        blocks = cols.reshape(n, groups, cols.shape[1] // groups, cols.shape[2])
        out = weight.reshape(groups, out_channels // groups, -1) @ blocks
        out = out.reshape(n, out_channels, *windows.grid)
        return out + bias[0].reshape(1, out_channels, 1, 1) if bias else out


class TransposedConvolution(ComposedBackward, Function):
    """y = W^T * x + b, the transposed convolution (the gradient of a convolution with respect to
    its input), W (Cin, Cout/g, kh, kw); ``windows`` are those of the equivalent convolution on
    the OUTPUT (size: the output's, grid: the input's spatial size)."""

    op = "conv_transpose2d"

    def forward(self, x, weight, *bias, windows: Windows, groups: int):
        self.windows, self.groups = windows, groups
        in_channels = weight.shape[0]
        out_channels = weight.shape[1] * groups
        n = x.shape[0]
        self.rows = rows = _contiguous_rows(_channels_first(x), in_channels)  # X as (Cin, N H W)
        self.weight = weight
        xp = backend.namespace_of(x)
        w_rows = _grouped(weight.reshape(in_channels, -1), groups)
        cols = xp.matmul(_transposed(w_rows), _grouped(rows, groups))
        kh, kw = windows.kernel
        cols = cols.reshape((out_channels, kh, kw, n) + tuple(windows.grid))
        out = im2col.fold(cols, windows)
        if bias:
            out = out + bias[0][:, None, None, None]
        return _channels_first(out)

    def backward(self, grad):
        needs, groups, windows, weight = self.needs_input_grad, self.groups, self.windows, self.weight
        in_channels = weight.shape[0]
        grad_cf = _channels_first(grad)
        d_cols = im2col.unfold(grad_cf, windows, view=True)
        d_cols = d_cols.reshape(d_cols.shape[0] * windows.taps, -1)  # (Cout kh kw, N H W)
        grad_x = grad_w = grad_b = None
        if needs[0]:
            xp = backend.namespace_of(grad)
            w_rows = _grouped(weight.reshape(in_channels, -1), groups)
            grad_x = xp.matmul(w_rows, _grouped(d_cols, groups))
            grad_x = _channels_first(grad_x.reshape((in_channels, grad.shape[0]) + tuple(windows.grid)))
        if needs[1]:
            grad_w = _weight_gradient(self, 1, self.rows, d_cols, groups, weight.shape)
        if len(needs) == 3 and needs[2]:
            grad_b = _bias_gradient(self, 2, grad, (0, 2, 3))
        return (grad_x, grad_w, grad_b) if len(needs) == 3 else (grad_x, grad_w)

    def reference(self, x, weight, *bias):
        """fold((W.reshape(g, Cin/g, Cout/g kh kw)^T @ x.reshape(N, g, Cin/g, L)) …), + b."""
        groups, windows = self.groups, self.windows
        n, in_channels = x.shape[0], weight.shape[0]
        out_channels = weight.shape[1] * groups
        blocks = x.reshape(n, groups, in_channels // groups, -1)
        w = weight.reshape(groups, in_channels // groups, -1).transpose(-1, -2)
        cols = (w @ blocks).reshape(n, out_channels * windows.taps, -1)
        out = Fold.apply(cols, windows=windows)
        return out + bias[0].reshape(1, out_channels, 1, 1) if bias else out
