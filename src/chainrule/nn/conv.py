"""Convolution layers: Conv1d, Conv2d, ConvTranspose2d, with PyTorch's arguments, parameters,
initialization and reprs.

Each layer holds ``weight`` and ``bias`` and calls the function of the same name in
:mod:`chainrule.nn.conv_functional` (one graph node: im2col and one matrix product for the whole
batch; see :mod:`chainrule.nn.fused.convolution` for the math and the gradients).

Shapes (PyTorch's): Conv weight (out_channels, in_channels / groups, *kernel_size);
ConvTranspose weight (in_channels, out_channels / groups, *kernel_size); bias (out_channels,).

Initialization (``reset_parameters``, PyTorch's default): ``init.kaiming_uniform_(weight,
a=sqrt(5))``, i.e. U(-1/sqrt(fan_in), 1/sqrt(fan_in)) with fan_in = weight.shape[1] * kh * kw
(the receptive field: in_channels / groups * kh * kw for a convolution, out_channels / groups
* kh * kw for a transposed one), and the bias from the same U(-1/sqrt(fan_in), 1/sqrt(fan_in)).
"""
from __future__ import annotations

import math

from ..engine.creation import empty
from ..engine.tensor import Tensor
from . import init
from .arguments import check_size, float_dtype
from .conv_arguments import conv_padding, spatial_tuple, transposed_output_size
from .conv_functional import PADDING_MODES, conv1d, conv2d, conv_transpose2d, pad_spatial
from .module import Module
from .parameter import Parameter

__all__ = ["Conv1d", "Conv2d", "ConvTranspose2d"]


class _ConvNd(Module):
    """What the convolution layers share: the arguments, the parameters, their initialization
    and the repr (PyTorch's ``_ConvNd``)."""

    dims = 2
    transposed = False

    def __init__(self, in_channels, out_channels, kernel_size, stride, padding, dilation, output_padding, groups,
                 bias, padding_mode, dtype, device):
        super().__init__()
        name, dims = type(self).__name__, self.dims
        check_size(in_channels, "in_channels", name)
        check_size(out_channels, "out_channels", name)
        if isinstance(groups, bool) or not isinstance(groups, int) or groups <= 0:
            raise ValueError(f"{name}: groups must be a positive int; got {groups!r}")
        if in_channels % groups:
            raise ValueError(f"{name}: in_channels ({in_channels}) must be divisible by groups ({groups})")
        if out_channels % groups:
            raise ValueError(f"{name}: out_channels ({out_channels}) must be divisible by groups ({groups})")
        if padding_mode not in PADDING_MODES:
            raise ValueError(f"{name}: padding_mode must be one of {', '.join(PADDING_MODES)}; got {padding_mode!r}")
        if self.transposed and padding_mode != "zeros":
            raise ValueError(f'{name}: only "zeros" padding mode is supported; got padding_mode={padding_mode!r}')
        self.kernel_size = spatial_tuple(kernel_size, dims, name, "kernel_size")
        self.stride = spatial_tuple(stride, dims, name, "stride")
        self.dilation = spatial_tuple(dilation, dims, name, "dilation")
        if isinstance(padding, str) and not self.transposed:
            self.pads = conv_padding(padding, dims, self.kernel_size, self.stride, self.dilation, name)
            self.padding = padding
        else:
            self.padding = spatial_tuple(padding, dims, name, "padding", minimum=0)
            self.pads = (self.padding, self.padding)
        self.output_padding = spatial_tuple(output_padding, dims, name, "output_padding", minimum=0)
        self.in_channels, self.out_channels, self.groups = in_channels, out_channels, groups
        self.padding_mode = padding_mode
        dtype = float_dtype(dtype, name)
        if self.transposed:
            shape = (in_channels, out_channels // groups) + self.kernel_size
        else:
            shape = (out_channels, in_channels // groups) + self.kernel_size
        self.weight = Parameter(empty(*shape, dtype=dtype, device=device))
        if bias:
            self.bias = Parameter(empty(out_channels, dtype=dtype, device=device))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """weight ~ kaiming_uniform_(a=sqrt(5)) = U(-1/sqrt(fan_in), 1/sqrt(fan_in)); bias from the
        same interval (PyTorch's default)."""
        init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            fan_in, _ = init.calculate_fan_in_and_fan_out(self.weight)
            bound = 1 / math.sqrt(fan_in) if fan_in > 0 else 0
            init.uniform_(self.bias, -bound, bound)

    def padded(self, x: Tensor) -> Tensor:
        """x padded in ``padding_mode`` (not "zeros": those pads are the convolution's own)."""
        unbatched = isinstance(x, Tensor) and x.ndim == self.dims + 1
        batch = x.unsqueeze(0) if unbatched else x
        out = pad_spatial(batch, self.pads[0], self.pads[1], self.padding_mode, type(self).__name__)
        return out.squeeze(0) if unbatched else out

    def extra_repr(self) -> str:
        s = f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, stride={self.stride}"
        if self.padding != (0,) * self.dims:
            s += f", padding={self.padding}"
        if self.dilation != (1,) * self.dims:
            s += f", dilation={self.dilation}"
        if self.output_padding != (0,) * self.dims:
            s += f", output_padding={self.output_padding}"
        if self.groups != 1:
            s += f", groups={self.groups}"
        if self.bias is None:
            s += ", bias=False"
        if self.padding_mode != "zeros":
            s += f", padding_mode={self.padding_mode}"
        return s


class Conv2d(_ConvNd):
    """2-D convolution over a batch of images (N, C_in, H, W) -> (N, C_out, oh, ow):

        y[n, o] = bias[o] + sum_{c in group(o)} weight[o, c] * x[n, c]      (* = cross-correlation)

    with oh = floor((H + 2 padding - dilation (kh - 1) - 1) / stride) + 1 (and ow alike).

    Args:
        in_channels, out_channels: C_in and C_out.
        kernel_size: int or (kh, kw).
        stride: int or pair (1).
        padding: int, pair, "valid" or "same" (0; "same" only with stride 1).
        dilation: spacing between kernel taps (1).
        groups: split the channels into this many independent convolutions (1; in_channels:
            depthwise).
        bias: learn an additive bias (True).
        padding_mode: "zeros", "reflect", "replicate" or "circular" ("zeros").
        dtype, device: of the parameters (float32 on "cpu" by default).

    Attributes: weight (C_out, C_in / groups, kh, kw), bias (C_out,) or None.
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size, stride=1, padding=0, dilation=1,
                 groups: int = 1, bias: bool = True, padding_mode: str = "zeros", device="cpu", dtype=None):
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation, 0, groups, bias,
                         padding_mode, dtype, device)

    def forward(self, input: Tensor) -> Tensor:  # noqa: A002 - PyTorch's name
        if self.padding_mode == "zeros":
            return conv2d(input, self.weight, self.bias, self.stride, self.padding, self.dilation, self.groups)
        return conv2d(self.padded(input), self.weight, self.bias, self.stride, 0, self.dilation, self.groups)


class Conv1d(_ConvNd):
    """1-D convolution over a batch of sequences (N, C_in, L) -> (N, C_out, L_out), with
    L_out = floor((L + 2 padding - dilation (k - 1) - 1) / stride) + 1; arguments as
    :class:`Conv2d`, one int (or a 1-tuple) each. weight (C_out, C_in / groups, k)."""

    dims = 1

    def __init__(self, in_channels: int, out_channels: int, kernel_size, stride=1, padding=0, dilation=1,
                 groups: int = 1, bias: bool = True, padding_mode: str = "zeros", device="cpu", dtype=None):
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation, 0, groups, bias,
                         padding_mode, dtype, device)

    def forward(self, input: Tensor) -> Tensor:  # noqa: A002
        if self.padding_mode == "zeros":
            return conv1d(input, self.weight, self.bias, self.stride, self.padding, self.dilation, self.groups)
        return conv1d(self.padded(input), self.weight, self.bias, self.stride, 0, self.dilation, self.groups)


class ConvTranspose2d(_ConvNd):
    """2-D transposed convolution (the gradient of Conv2d with respect to its input; the
    "deconvolution" of decoders and GANs): (N, C_in, H, W) -> (N, C_out, oh, ow) with

        oh = (H - 1) stride - 2 padding + dilation (kh - 1) + output_padding + 1.

    ``padding`` removes rows and columns from the output's borders; ``output_padding`` (smaller
    than the stride or the dilation) adds them after, to pick one of the input sizes a strided
    convolution maps onto the same size. ``forward(x, output_size)`` chooses it from a wanted
    output size. weight (C_in, C_out / groups, kh, kw); only padding_mode "zeros"."""

    transposed = True

    def __init__(self, in_channels: int, out_channels: int, kernel_size, stride=1, padding=0, output_padding=0,
                 groups: int = 1, bias: bool = True, dilation=1, padding_mode: str = "zeros", device="cpu",
                 dtype=None):
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation, output_padding, groups,
                         bias, padding_mode, dtype, device)
        name = type(self).__name__
        for extra, s, d in zip(self.output_padding, self.stride, self.dilation):
            if extra >= max(s, d):
                raise ValueError(f"{name}: output_padding must be smaller than either stride or dilation; got "
                                 f"output_padding={self.output_padding}, stride={self.stride}, "
                                 f"dilation={self.dilation}")

    def output_padding_for(self, x: Tensor, output_size) -> tuple:
        """The output_padding that gives ``output_size`` (the last two entries are used), as
        PyTorch's ``_output_padding``; an error naming the valid range when none does."""
        if output_size is None:
            return self.output_padding
        wanted = tuple(output_size)[-2:]
        if len(wanted) != 2:
            raise ValueError(f"ConvTranspose2d: output_size must have 2 (or 4) entries; got {output_size!r}")
        smallest = transposed_output_size(tuple(x.shape[-2:]), self.kernel_size, self.stride, self.padding,
                                          self.dilation, (0, 0), "ConvTranspose2d")
        largest = tuple(o + s - 1 for o, s in zip(smallest, self.stride))
        if any(not lo <= w <= hi for w, lo, hi in zip(wanted, smallest, largest)):
            raise ValueError(f"ConvTranspose2d: requested an output size of {wanted}, but valid sizes range from "
                             f"{smallest} to {largest} (for an input of spatial size {tuple(x.shape[-2:])})")
        return tuple(w - lo for w, lo in zip(wanted, smallest))

    def forward(self, input: Tensor, output_size=None) -> Tensor:  # noqa: A002
        extra = self.output_padding_for(input, output_size)
        return conv_transpose2d(input, self.weight, self.bias, self.stride, self.padding, extra, self.groups,
                                self.dilation)
