"""Convolution and transposed convolution as one graph node each: im2col and ONE matrix product.

Convolution (cross-correlation, as PyTorch) of x (N, C, H, W) with W (O, C/g, kh, kw) in g
groups, bias b (O,):

    y[n, o, a, b] = b[o] + sum_{c in group(o), i, j} W[o, c, i, j] x[n, c, a sh + i dh - ph, b sw + j dw - pw]

Reference composition (tests/test_nn_conv_fused.py): ``W.reshape(g, O/g, C/g kh kw) @
unfold(x).reshape(N, g, C/g kh kw, L)`` reshaped to (N, O, oh, ow), plus b: :class:`~chainrule.nn.
im2col.Unfold` and a matmul. The fast path builds the same columns for the whole batch at once
in channel-first layout, X_col (C kh kw, N L), so the forward is ONE matrix product (a batched
one over the groups) Y = W_mat X_col. With G the upstream gradient as (O, N L):

    dW = G X_col^T,   dX = fold(W_mat^T G)   (col2im),   db = sum of G over N, oh, ow.

The output is returned as a transposed view of the (O, N, oh, ow) product, so its memory is
channel-first; the next convolution's own channel-first view of its input then needs no copy,
and NumPy's elementwise ops (batch norm, ReLU) keep that layout.

Transposed convolution (x (N, Cin, H, W), W (Cin, Cout/g, kh, kw)) is the gradient of a
convolution with respect to its input: ``fold(W_mat^T X)`` with the output's windows; its
gradients are dX = W_mat unfold(G), dW = X unfold(G)^T, db = sum G. Reference composition:
``fold((W^T @ x) …)`` with :class:`~chainrule.nn.im2col.Fold`.
"""
from __future__ import annotations

from ...engine import backend
from ...engine.autograd import Function, claim_grad_slot
from .. import im2col
from ..im2col import Fold, Unfold, Windows
from .composed import ComposedBackward

__all__ = ["Convolution", "TransposedConvolution"]


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


def _bias_gradient(node, index, grad, axes):
    """db = the sum of G over ``axes`` (everything but the channel)."""
    xp = backend.namespace_of(grad)
    slot = claim_grad_slot(node.parents[index])
    if slot is None:
        return xp.add.reduce(grad, axis=axes)
    xp.add.reduce(grad, axis=axes, out=slot)
    return None


class Convolution(ComposedBackward, Function):
    """y = W * x + b (2-D cross-correlation in ``groups`` groups, PyTorch's layouts), with
    ``windows`` the geometry of the input's windows (:class:`~chainrule.nn.im2col.Windows`)."""

    op = "conv2d"

    def forward(self, x, weight, *bias, windows: Windows, groups: int):
        self.windows, self.groups = windows, groups
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

    def backward(self, grad):
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
