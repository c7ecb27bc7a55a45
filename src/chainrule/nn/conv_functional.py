"""Functional convolution, as torch.nn.functional: conv1d, conv2d, conv_transpose2d, unfold, fold,
and the padding modes of the convolution layers ("zeros", "reflect", "replicate", "circular").

Each function checks its arguments (errors name the function, the argument, what was expected
and what was received), then runs one graph node: :class:`~chainrule.nn.fused.convolution.
Convolution` (im2col and one matrix product for the whole batch) or its transpose, or the
reference ops :class:`~chainrule.nn.im2col.Unfold` / :class:`~chainrule.nn.im2col.Fold`.
A 1-D convolution is the 2-D one on a (N, C, 1, L) view. Unbatched inputs ((C, H, W) for the
2-D functions, (C, L) for conv1d) are accepted as in PyTorch and give unbatched outputs.

The padding modes other than zeros are gathers along each spatial axis (so they are
differentiable to any order): "reflect" mirrors without repeating the edge (x2 x1 | x0 x1 x2),
"replicate" repeats the edge (x0 x0 | x0 x1), "circular" wraps around (x1 x2 | x0 x1 x2).
"""
from __future__ import annotations

from ..engine import backend, ops
from ..engine.tensor import Tensor, wrap
from . import fused
from .arguments import check_same_device, check_same_dtype, require_float, tensor_argument
from .conv_arguments import (
    conv_output_size,
    conv_padding,
    spatial_input,
    spatial_tuple,
    transposed_output_size,
)
from .im2col import Fold, Unfold, Windows

__all__ = ["conv1d", "conv2d", "conv_transpose2d", "unfold", "fold", "pad_spatial", "PADDING_MODES"]

PADDING_MODES = ("zeros", "reflect", "replicate", "circular")


def _check_weight(x: Tensor, weight, bias, groups, op: str, transposed: bool = False) -> int:
    """Checks weight (and bias, groups) against x (N, C, …); returns the output channels."""
    weight = tensor_argument(weight, op, "weight")
    require_float(weight, op, "weight")
    if weight.ndim != x.ndim:
        layout = "(in_channels, out_channels/groups, *kernel)" if transposed else \
            "(out_channels, in_channels/groups, *kernel)"
        raise ValueError(f"{op}: weight must have {x.ndim} dimensions {layout}; got shape {tuple(weight.shape)}")
    if isinstance(groups, bool) or not isinstance(groups, int) or groups < 1:
        raise ValueError(f"{op}: groups must be a positive int; got {groups!r}")
    check_same_dtype(x, weight, op, "weight")
    check_same_device(x, weight, op, "weight")
    if transposed:
        in_channels, out_channels = weight.shape[0], weight.shape[1] * groups
        if in_channels % groups:
            raise ValueError(f"{op}: weight.shape[0] = {in_channels} (in_channels) is not divisible by groups={groups}")
    else:
        in_channels, out_channels = weight.shape[1] * groups, weight.shape[0]
        if out_channels % groups:
            raise ValueError(f"{op}: weight.shape[0] = {out_channels} (out_channels) is not divisible by "
                             f"groups={groups}")
    if x.shape[1] != in_channels:
        raise ValueError(
            f"{op}: groups={groups} and weight of shape {tuple(weight.shape)} expect input with {in_channels} "
            f"channels; got input of shape {tuple(x.shape)}"
        )
    if bias is not None:
        bias = tensor_argument(bias, op, "bias")
        if tuple(bias.shape) != (out_channels,):
            raise ValueError(f"{op}: bias must have shape ({out_channels},) (out_channels); got {tuple(bias.shape)}")
        check_same_dtype(x, bias, op, "bias")
        check_same_device(x, bias, op, "bias")
    return out_channels


def _apply(cls, x, weight, bias, windows, groups):
    if bias is None:
        return cls.apply(x, weight, windows=windows, groups=groups)
    return cls.apply(x, weight, bias, windows=windows, groups=groups)


def _convolve(x: Tensor, weight: Tensor, bias, stride, padding, dilation, groups, dims: int, op: str) -> Tensor:
    """The checks of conv1d/conv2d on a batch x, then the node on the 2-D (N, C, 1, L) view for 1-D."""
    _check_weight(x, weight, bias, groups, op)
    kernel = tuple(weight.shape[2:])
    stride = spatial_tuple(stride, dims, op, "stride")
    dilation = spatial_tuple(dilation, dims, op, "dilation")
    before, after = conv_padding(padding, dims, kernel, stride, dilation, op)
    size = tuple(x.shape[2:])
    grid = conv_output_size(size, before, after, kernel, stride, dilation, op)
    if dims == 1:
        kernel, stride, dilation, size = (1,) + kernel, (1,) + stride, (1,) + dilation, (1,) + size
        before, grid = (0,) + before, (1,) + grid
        x, weight = x.unsqueeze(2), weight.unsqueeze(2)
    windows = Windows(kernel, stride, dilation, size, before, grid)
    out = _apply(fused.Convolution, x, weight, bias, windows, groups)
    return out.squeeze(2) if dims == 1 else out


def conv2d(input: Tensor, weight: Tensor, bias: Tensor | None = None, stride=1, padding=0, dilation=1,  # noqa: A002
           groups: int = 1) -> Tensor:
    """2-D convolution (cross-correlation) of input (N, C_in, H, W) with weight
    (C_out, C_in / groups, kh, kw), plus bias (C_out,): one graph node, (N, C_out, oh, ow) with
    oh = floor((H + 2 ph - dh (kh - 1) - 1) / sh) + 1 (and ow alike).

    ``padding``: an int, a pair, "valid" (none) or "same" (output size = input size; stride 1;
    an odd total padding puts the extra row and column after, as PyTorch). ``groups`` splits the
    channels into independent convolutions (groups = C_in: depthwise).
    """
    x, unbatched = spatial_input(input, 2, "conv2d")
    out = _convolve(x, weight, bias, stride, padding, dilation, groups, 2, "conv2d")
    return out.reshape(*out.shape[1:]) if unbatched else out


def conv1d(input: Tensor, weight: Tensor, bias: Tensor | None = None, stride=1, padding=0, dilation=1,  # noqa: A002
           groups: int = 1) -> Tensor:
    """1-D convolution of input (N, C_in, L) with weight (C_out, C_in / groups, k), plus bias
    (C_out,): (N, C_out, L_out), L_out = floor((L + 2 p - d (k - 1) - 1) / s) + 1; the 2-D
    convolution of the (N, C_in, 1, L) view with the (C_out, C_in / groups, 1, k) kernel
    (arguments as :func:`conv2d`, one int or a 1-tuple each)."""
    x, unbatched = spatial_input(input, 1, "conv1d")
    out = _convolve(x, weight, bias, stride, padding, dilation, groups, 1, "conv1d")
    return out.reshape(*out.shape[1:]) if unbatched else out


def conv_transpose2d(input: Tensor, weight: Tensor, bias: Tensor | None = None, stride=1, padding=0,  # noqa: A002
                     output_padding=0, groups: int = 1, dilation=1) -> Tensor:
    """2-D transposed convolution ("deconvolution": the gradient of conv2d with respect to its
    input) of input (N, C_in, H, W) with weight (C_in, C_out / groups, kh, kw), plus bias
    (C_out,): one graph node, (N, C_out, oh, ow) with
    oh = (H - 1) sh - 2 ph + dh (kh - 1) + output_padding_h + 1.
    ``output_padding`` (smaller than the stride or the dilation) adds rows and columns after."""
    op = "conv_transpose2d"
    x, unbatched = spatial_input(input, 2, op)
    _check_weight(x, weight, bias, groups, op, transposed=True)
    kernel = tuple(weight.shape[2:])
    stride = spatial_tuple(stride, 2, op, "stride")
    dilation = spatial_tuple(dilation, 2, op, "dilation")
    if isinstance(padding, str):
        raise ValueError(f"{op}: padding must be an int or a tuple of 2 ints; got {padding!r}")
    padding = spatial_tuple(padding, 2, op, "padding", minimum=0)
    extra = spatial_tuple(output_padding, 2, op, "output_padding", minimum=0)
    size = transposed_output_size(tuple(x.shape[2:]), kernel, stride, padding, dilation, extra, op)
    windows = Windows(kernel, stride, dilation, size, padding, tuple(x.shape[2:]))
    out = _apply(fused.TransposedConvolution, x, weight, bias, windows, groups)
    return out.reshape(*out.shape[1:]) if unbatched else out


def unfold(input: Tensor, kernel_size, dilation=1, padding=0, stride=1) -> Tensor:  # noqa: A002
    """im2col: the sliding windows of input (N, C, H, W) as columns, (N, C kh kw, L) with
    L = oh ow windows (row c kh kw + i kw + j holds tap (i, j) of channel c; PyTorch's order).
    ``conv2d(x, W)`` equals ``(W.view(C_out, -1) @ unfold(x, k)).view(N, C_out, oh, ow)``."""
    x, unbatched = spatial_input(input, 2, "unfold")
    kernel = spatial_tuple(kernel_size, 2, "unfold", "kernel_size")
    dilation = spatial_tuple(dilation, 2, "unfold", "dilation")
    padding = spatial_tuple(padding, 2, "unfold", "padding", minimum=0)
    stride = spatial_tuple(stride, 2, "unfold", "stride")
    grid = conv_output_size(tuple(x.shape[2:]), padding, padding, kernel, stride, dilation, "unfold")
    out = Unfold.apply(x, windows=Windows(kernel, stride, dilation, tuple(x.shape[2:]), padding, grid))
    return out.reshape(*out.shape[1:]) if unbatched else out


def fold(input: Tensor, output_size, kernel_size, dilation=1, padding=0, stride=1) -> Tensor:  # noqa: A002
    """col2im: columns (N, C kh kw, L) (as :func:`unfold` makes them) summed back onto
    (N, C, H, W) with (H, W) = ``output_size``: overlapping windows add up. The adjoint of unfold."""
    op = "fold"
    blocks = tensor_argument(input, op, "input")
    require_float(blocks, op, "input")
    if blocks.ndim not in (2, 3):
        raise ValueError(f"{op}: expected input of shape (N, C*kh*kw, L) or, unbatched, (C*kh*kw, L); "
                         f"got shape {tuple(blocks.shape)}")
    unbatched = blocks.ndim == 2
    if unbatched:
        blocks = blocks.reshape(1, *blocks.shape)
    size = spatial_tuple(output_size, 2, op, "output_size")
    kernel = spatial_tuple(kernel_size, 2, op, "kernel_size")
    dilation = spatial_tuple(dilation, 2, op, "dilation")
    padding = spatial_tuple(padding, 2, op, "padding", minimum=0)
    stride = spatial_tuple(stride, 2, op, "stride")
    taps = kernel[0] * kernel[1]
    if blocks.shape[1] % taps:
        raise ValueError(f"{op}: input.shape[1] = {blocks.shape[1]} must be divisible by the kernel's "
                         f"{kernel[0]}*{kernel[1]} = {taps} taps")
    grid = conv_output_size(size, padding, padding, kernel, stride, dilation, op)
    if blocks.shape[2] != grid[0] * grid[1]:
        raise ValueError(f"{op}: expected input.shape[-1] = {grid[0] * grid[1]} blocks ({grid[0]} x {grid[1]} windows "
                         f"for output_size={size}); got shape {tuple(input.shape)}")
    out = Fold.apply(blocks, windows=Windows(kernel, stride, dilation, size, padding, grid))
    return out.reshape(*out.shape[1:]) if unbatched else out


def _mode_positions(size: int, before: int, after: int, mode: str, op: str):
    """For each padded position along one axis, the input position it copies."""
    xp = backend.host
    positions = xp.arange(-before, size + after)
    if mode == "circular":
        if before > size or after > size:
            raise ValueError(f"{op}: circular padding ({before}, {after}) must not exceed the input size {size}")
        return positions % size
    if mode == "replicate":
        return xp.clip(positions, 0, size - 1)
    if before >= size or after >= size:
        raise ValueError(f"{op}: reflect padding ({before}, {after}) must be smaller than the input size {size}")
    period = 2 * (size - 1) if size > 1 else 1
    folded = xp.abs(positions) % period
    return xp.where(folded < size, folded, period - folded)


def pad_spatial(x: Tensor, before: tuple, after: tuple, mode: str, op: str) -> Tensor:
    """x (N, C, *spatial) padded by ``before``/``after`` per spatial axis in ``mode``: "zeros",
    "reflect", "replicate" or "circular" (gathers along each axis: differentiable)."""
    if mode not in PADDING_MODES:
        raise ValueError(f"{op}: padding_mode must be one of {', '.join(PADDING_MODES)}; got {mode!r}")
    if mode == "zeros":
        widths = [w for b, a in zip(reversed(before), reversed(after)) for w in (b, a)]
        return ops.pad(x, widths)
    for axis, (b, a) in enumerate(zip(before, after), start=2):
        if b or a:
            index = _mode_positions(x.shape[axis], b, a, mode, op).astype(backend.int64)
            x = ops.index_select(x, axis, wrap(backend.move(index, x.device)))
    return x
