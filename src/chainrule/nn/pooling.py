"""Pooling and upsampling layers: MaxPool1d, MaxPool2d, AvgPool1d, AvgPool2d, AdaptiveAvgPool2d,
Upsample, with PyTorch's arguments, attributes and reprs.

None has parameters; each calls the function of the same name in
:mod:`chainrule.nn.pooling_functional` (the math is there and in
:mod:`chainrule.nn.fused.pooling`). Arguments are checked at construction.
"""
from __future__ import annotations

from ..engine.tensor import Tensor
from .conv_arguments import spatial_tuple
from .module import Module
from .pooling_functional import (
    INTERPOLATION_MODES,
    TORCH_ONLY_MODES,
    adaptive_avg_pool2d,
    avg_pool1d,
    avg_pool2d,
    interpolate,
    max_pool1d,
    max_pool2d,
)

__all__ = ["MaxPool1d", "MaxPool2d", "AvgPool1d", "AvgPool2d", "AdaptiveAvgPool2d", "Upsample"]


def _check_window(owner: str, dims: int, kernel_size, stride, padding, dilation=1) -> None:
    kernel = spatial_tuple(kernel_size, dims, owner, "kernel_size")
    if stride is not None:
        spatial_tuple(stride, dims, owner, "stride")
    pads = spatial_tuple(padding, dims, owner, "padding", minimum=0)
    spatial_tuple(dilation, dims, owner, "dilation")
    if any(2 * p > k for p, k in zip(pads, kernel)):
        raise ValueError(f"{owner}: padding should be at most half of kernel_size; got padding={padding!r} "
                         f"for kernel_size={kernel_size!r}")


class _MaxPoolNd(Module):
    dims = 2

    def __init__(self, kernel_size, stride=None, padding=0, dilation=1, return_indices: bool = False,
                 ceil_mode: bool = False):
        super().__init__()
        _check_window(type(self).__name__, self.dims, kernel_size, stride, padding, dilation)
        self.kernel_size = kernel_size
        self.stride = stride if stride is not None else kernel_size
        self.padding, self.dilation = padding, dilation
        self.return_indices, self.ceil_mode = return_indices, ceil_mode

    def extra_repr(self) -> str:
        return (f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}, "
                f"dilation={self.dilation}, ceil_mode={self.ceil_mode}")


class MaxPool2d(_MaxPoolNd):
    """Max pooling over (N, C, H, W): each output is the largest value of its kh x kw window
    (see :func:`~chainrule.nn.functional.max_pool2d`). ``stride`` defaults to ``kernel_size``;
    ``return_indices=True`` also returns the flat positions of the maxima (for MaxUnpool)."""

    def forward(self, input: Tensor):  # noqa: A002 - PyTorch's name
        return max_pool2d(input, self.kernel_size, self.stride, self.padding, self.dilation, self.ceil_mode,
                          self.return_indices)


class MaxPool1d(_MaxPoolNd):
    """Max pooling over (N, C, L) (see :class:`MaxPool2d`)."""

    dims = 1

    def forward(self, input: Tensor):  # noqa: A002
        return max_pool1d(input, self.kernel_size, self.stride, self.padding, self.dilation, self.ceil_mode,
                          self.return_indices)


class AvgPool2d(Module):
    """Average pooling over (N, C, H, W) (see :func:`~chainrule.nn.functional.avg_pool2d`):
    each output is its window's mean, counting the zero padding (``count_include_pad=True``) or
    not, or the window's sum over ``divisor_override``. ``stride`` defaults to ``kernel_size``."""

    def __init__(self, kernel_size, stride=None, padding=0, ceil_mode: bool = False, count_include_pad: bool = True,
                 divisor_override: int | None = None):
        super().__init__()
        _check_window("AvgPool2d", 2, kernel_size, stride, padding)
        if divisor_override is not None and (isinstance(divisor_override, bool) or not isinstance(divisor_override, int)
                                             or divisor_override == 0):
            raise ValueError(f"AvgPool2d: divisor_override must be a non-zero int or None; got {divisor_override!r}")
        self.kernel_size = kernel_size
        self.stride = stride if stride is not None else kernel_size
        self.padding, self.ceil_mode, self.count_include_pad = padding, ceil_mode, count_include_pad
        self.divisor_override = divisor_override

    def forward(self, input: Tensor) -> Tensor:  # noqa: A002
        return avg_pool2d(input, self.kernel_size, self.stride, self.padding, self.ceil_mode, self.count_include_pad,
                          self.divisor_override)

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class AvgPool1d(Module):
    """Average pooling over (N, C, L) (see :class:`AvgPool2d`; no divisor_override, as PyTorch).
    Its sizes are stored as 1-tuples, as PyTorch's."""

    def __init__(self, kernel_size, stride=None, padding=0, ceil_mode: bool = False, count_include_pad: bool = True):
        super().__init__()
        _check_window("AvgPool1d", 1, kernel_size, stride, padding)
        self.kernel_size = spatial_tuple(kernel_size, 1, "AvgPool1d", "kernel_size")
        self.stride = spatial_tuple(stride if stride is not None else kernel_size, 1, "AvgPool1d", "stride")
        self.padding = spatial_tuple(padding, 1, "AvgPool1d", "padding", minimum=0)
        self.ceil_mode, self.count_include_pad = ceil_mode, count_include_pad

    def forward(self, input: Tensor) -> Tensor:  # noqa: A002
        return avg_pool1d(input, self.kernel_size, self.stride, self.padding, self.ceil_mode, self.count_include_pad)

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class AdaptiveAvgPool2d(Module):
    """Average pooling to a fixed output size, whatever the input's (see
    :func:`~chainrule.nn.functional.adaptive_avg_pool2d`): ``output_size`` is an int, a pair, or
    a pair with None for "keep the input's size". ``AdaptiveAvgPool2d(1)`` is global average
    pooling."""

    def __init__(self, output_size):
        super().__init__()
        sizes = tuple(output_size) if isinstance(output_size, (tuple, list)) else (output_size, output_size)
        if len(sizes) != 2 or any(s is not None and (isinstance(s, bool) or not isinstance(s, int) or s < 1)
                                  for s in sizes):
            raise ValueError(f"AdaptiveAvgPool2d: output_size must be a positive int, None, or a pair of them; "
                             f"got {output_size!r}")
        self.output_size = output_size

    def forward(self, input: Tensor) -> Tensor:  # noqa: A002
        return adaptive_avg_pool2d(input, self.output_size)

    def extra_repr(self) -> str:
        return f"output_size={self.output_size}"


class Upsample(Module):
    """Upsampling of (N, C, L) or (N, C, H, W) to ``size`` or by ``scale_factor`` (see
    :func:`~chainrule.nn.functional.interpolate`); modes "nearest" (the default) and
    "nearest-exact"."""

    def __init__(self, size=None, scale_factor=None, mode: str = "nearest", align_corners=None,
                 recompute_scale_factor=None):
        super().__init__()
        if mode in TORCH_ONLY_MODES:
            raise ValueError(f"Upsample: mode={mode!r} (a PyTorch mode) is not offered by chainrule, which "
                             f"upsamples by {' or '.join(map(repr, INTERPOLATION_MODES))} only")
        if mode not in INTERPOLATION_MODES:
            raise ValueError(f"Upsample: mode must be one of {', '.join(INTERPOLATION_MODES)}; got {mode!r}")
        if (size is None) == (scale_factor is None):
            raise ValueError("Upsample: give exactly one of size and scale_factor")
        self.name = type(self).__name__
        self.size = size
        if isinstance(scale_factor, tuple):
            self.scale_factor = tuple(float(factor) for factor in scale_factor)
        else:
            self.scale_factor = float(scale_factor) if scale_factor else None
        self.mode, self.align_corners, self.recompute_scale_factor = mode, align_corners, recompute_scale_factor

    def forward(self, input: Tensor) -> Tensor:  # noqa: A002
        return interpolate(input, self.size, self.scale_factor, self.mode, self.align_corners,
                           recompute_scale_factor=self.recompute_scale_factor)

    def extra_repr(self) -> str:
        info = f"scale_factor={self.scale_factor!r}" if self.scale_factor is not None else f"size={self.size!r}"
        return info + f", mode={self.mode!r}"
