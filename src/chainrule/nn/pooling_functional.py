"""Functional pooling and resampling, as torch.nn.functional: max_pool1d/2d, avg_pool1d/2d,
adaptive_avg_pool2d and interpolate (modes "nearest" and "nearest-exact").

Each checks its arguments (errors name the function, the argument, what was expected and what
was received) and runs one graph node of :mod:`chainrule.nn.fused.pooling` (a loop over the
kernel taps on strided views, never over pixels); 1-D pooling is the 2-D one on the
(N, C, 1, L) view. Unbatched inputs ((C, H, W), (C, L)) are accepted as in PyTorch.

* Average pooling divides each window's sum by D: the window's size clipped to the padded
  input (``count_include_pad=True``, the default), or the number of input elements in it
  (``False``), or ``divisor_override``; windows that ``ceil_mode`` adds past the padded input
  count only what they cover (PyTorch's rule).
* Adaptive average pooling to (oh, ow): window a covers rows floor(a H / oh) … ceil((a + 1) H / oh) - 1.
  Equal windows run as average pooling (or a mean); unequal ones as y = A_h x A_w^T with the
  averaging matrices A (two matmuls).
* Nearest interpolation reads source row floor(a s) (``"nearest"``) or floor((a + 1/2) s)
  (``"nearest-exact"``), s = 1 / scale_factor when given, else H / oh, in float32 as PyTorch
  (so the rows chosen are PyTorch's).
"""
from __future__ import annotations

import math

from ..engine import backend
from ..engine.tensor import Tensor, wrap
from . import fused
from .conv_arguments import pool_output_size, spatial_input, spatial_tuple
from .im2col import Windows

__all__ = ["max_pool1d", "max_pool2d", "avg_pool1d", "avg_pool2d", "adaptive_avg_pool2d", "interpolate"]

INTERPOLATION_MODES = ("nearest", "nearest-exact")
TORCH_ONLY_MODES = ("linear", "bilinear", "bicubic", "trilinear", "area")


def _pool_windows(x: Tensor, kernel_size, stride, padding, dilation, ceil_mode, dims: int, op: str) -> Windows:
    kernel = spatial_tuple(kernel_size, dims, op, "kernel_size")
    stride = kernel if stride is None or stride == () or stride == [] else spatial_tuple(stride, dims, op, "stride")
    padding = spatial_tuple(padding, dims, op, "padding", minimum=0)
    dilation = spatial_tuple(dilation, dims, op, "dilation")
    size = tuple(x.shape[2:])
    grid = pool_output_size(size, kernel, stride, padding, dilation, bool(ceil_mode), op)
    if dims == 1:
        return Windows((1,) + kernel, (1,) + stride, (1,) + dilation, (1,) + size, (0,) + padding, (1,) + grid)
    return Windows(kernel, stride, dilation, size, padding, grid)


def _batched(x: Tensor, dims: int) -> Tensor:
    return x.unsqueeze(2) if dims == 1 else x


def _unbatched(out: Tensor, dims: int, unbatched: bool) -> Tensor:
    if dims == 1:
        out = out.squeeze(2)
    return out.reshape(*out.shape[1:]) if unbatched else out


def _max_pool(input, kernel_size, stride, padding, dilation, ceil_mode, return_indices, dims: int, op: str):
    x, unbatched = spatial_input(input, dims, op)
    windows = _pool_windows(x, kernel_size, stride, padding, dilation, ceil_mode, dims, op)
    out = fused.MaxPool.apply(_batched(x, dims), windows=windows)
    if not return_indices:
        return _unbatched(out, dims, unbatched)
    node_indices = out.grad_fn.indices if out.grad_fn is not None else None
    if node_indices is None:  # not recorded: compute the node's forward again for its indices
        node = fused.MaxPool()
        node.forward(_batched(x, dims).data, windows=windows)
        node_indices = node.indices
    indices = node_indices.reshape(out.shape).astype(backend.int64, copy=False)
    return _unbatched(out, dims, unbatched), _unbatched(wrap(backend.move(indices, x.device)), dims, unbatched)


def max_pool2d(input: Tensor, kernel_size, stride=None, padding=0, dilation=1, ceil_mode: bool = False,  # noqa: A002
               return_indices: bool = False):
    """2-D max pooling of input (N, C, H, W): each output is the largest value of its window
    (padding counts as -inf). ``stride`` defaults to ``kernel_size``; ``padding`` is at most half
    the kernel. With ``return_indices`` also the flat position (into H W) of each maximum
    (int64), as PyTorch. The gradient goes to the first maximum of each window."""
    return _max_pool(input, kernel_size, stride, padding, dilation, ceil_mode, return_indices, 2, "max_pool2d")


def max_pool1d(input: Tensor, kernel_size, stride=None, padding=0, dilation=1, ceil_mode: bool = False,  # noqa: A002
               return_indices: bool = False):
    """1-D max pooling of input (N, C, L) (arguments as :func:`max_pool2d`, one int each)."""
    return _max_pool(input, kernel_size, stride, padding, dilation, ceil_mode, return_indices, 1, "max_pool1d")


def _window_counts(size: int, pad: int, kernel: int, stride: int, grid: int, include_pad: bool):
    """How many positions each window along one axis divides by (PyTorch's avg_pool rule)."""
    xp = backend.host
    start = xp.arange(grid) * stride - pad
    end = xp.minimum(start + kernel, size + pad)
    if include_pad:
        return end - start
    return xp.minimum(end, size) - xp.maximum(start, 0)


def _avg_pool(input, kernel_size, stride, padding, ceil_mode, count_include_pad, divisor_override, dims, op):
    x, unbatched = spatial_input(input, dims, op)
    windows = _pool_windows(x, kernel_size, stride, padding, 1, ceil_mode, dims, op)
    if divisor_override is not None:
        if isinstance(divisor_override, bool) or not isinstance(divisor_override, int) or divisor_override == 0:
            raise ValueError(f"{op}: divisor_override must be a non-zero int or None; got {divisor_override!r}")
        divisor = backend.host.full(windows.grid, float(divisor_override))
    else:
        per_axis = zip(windows.size, windows.offset, windows.kernel, windows.stride, windows.grid)
        rows, cols = (_window_counts(n, p, k, s, o, bool(count_include_pad)) for n, p, k, s, o in per_axis)
        divisor = (rows[:, None] * cols[None, :]).astype(backend.float64)
    divisor = backend.move(divisor.astype(x.dtype), x.device)
    out = fused.AvgPool.apply(_batched(x, dims), windows=windows, divisor=divisor)
    return _unbatched(out, dims, unbatched)


def avg_pool2d(input: Tensor, kernel_size, stride=None, padding=0, ceil_mode: bool = False,  # noqa: A002
               count_include_pad: bool = True, divisor_override: int | None = None) -> Tensor:
    """2-D average pooling of input (N, C, H, W): each output is its window's sum divided by the
    window's size (with the zero padding when ``count_include_pad``, the default; without it
    otherwise) or by ``divisor_override``. ``stride`` defaults to ``kernel_size``."""
    return _avg_pool(input, kernel_size, stride, padding, ceil_mode, count_include_pad, divisor_override, 2,
                     "avg_pool2d")


def avg_pool1d(input: Tensor, kernel_size, stride=None, padding=0, ceil_mode: bool = False,  # noqa: A002
               count_include_pad: bool = True) -> Tensor:
    """1-D average pooling of input (N, C, L) (arguments as :func:`avg_pool2d`; PyTorch's avg_pool1d
    has no divisor_override)."""
    return _avg_pool(input, kernel_size, stride, padding, ceil_mode, count_include_pad, None, 1, "avg_pool1d")


def _averaging_matrix(size: int, grid: int, dtype, device):
    """A (grid, size) with A[a, r] = 1 / |window a| for r in window a = [floor(a n / o), ceil((a + 1) n / o))."""
    xp = backend.host
    a = xp.arange(grid)
    start, end = (a * size) // grid, -((-(a + 1) * size) // grid)
    rows = xp.arange(size)
    inside = (rows[None, :] >= start[:, None]) & (rows[None, :] < end[:, None])
    matrix = inside / (end - start)[:, None]
    return wrap(backend.move(matrix.astype(dtype), device))


def adaptive_avg_pool2d(input: Tensor, output_size) -> Tensor:  # noqa: A002
    """Average pooling of input (N, C, H, W) to the spatial size ``output_size`` (an int, a pair,
    with None for "keep the input's size"), whatever the input's size: window a covers rows
    floor(a H / oh) … ceil((a + 1) H / oh) - 1 (and columns alike)."""
    op = "adaptive_avg_pool2d"
    x, unbatched = spatial_input(input, 2, op)
    sizes = tuple(output_size) if isinstance(output_size, (tuple, list)) else (output_size, output_size)
    if len(sizes) != 2:
        raise TypeError(f"{op}: output_size must be an int, None or a tuple of 2 of them; got {output_size!r}")
    grid = tuple(n if o is None else o for n, o in zip(x.shape[2:], sizes))
    spatial_tuple(grid, 2, op, "output_size")
    (h, w), (oh, ow) = x.shape[2:], grid
    if (oh, ow) == (1, 1):
        out = x.mean(dim=(2, 3), keepdim=True)
    elif h % oh == 0 and w % ow == 0:
        kernel = (h // oh, w // ow)
        windows = Windows(kernel, kernel, (1, 1), (h, w), (0, 0), grid)
        divisor = backend.move(backend.host.full(grid, float(kernel[0] * kernel[1]), dtype=x.dtype), x.device)
        out = fused.AvgPool.apply(x, windows=windows, divisor=divisor)
    else:
        rows = _averaging_matrix(h, oh, x.dtype, x.device)
        cols = _averaging_matrix(w, ow, x.dtype, x.device)
        out = rows @ x @ cols.mT
    return out.reshape(*out.shape[1:]) if unbatched else out


def _source_positions(size: int, grid: int, scale, mode: str):
    """The input position each output position reads, as PyTorch's upsample_nearest kernels compute it."""
    xp = backend.host
    out = xp.arange(grid)
    if mode == "nearest" and grid == size:
        return out
    if mode == "nearest" and grid == 2 * size:
        return out >> 1
    step = xp.float32(1.0 / scale) if scale is not None and scale > 0 else xp.float32(size) / xp.float32(grid)
    if mode == "nearest":
        source = xp.floor(out.astype(xp.float32) * step)
    else:
        source = xp.floor(((out + 0.5) * xp.float64(step)).astype(xp.float32))
    return xp.minimum(source.astype(backend.int64), size - 1)


def _check_interpolation(mode, align_corners, antialias) -> None:
    if mode in TORCH_ONLY_MODES:
        raise ValueError(f"interpolate: mode={mode!r} (a PyTorch mode) is not offered by chainrule, which "
                         f"interpolates by {' or '.join(map(repr, INTERPOLATION_MODES))} only")
    if mode not in INTERPOLATION_MODES:
        raise ValueError(f"interpolate: mode must be one of {', '.join(INTERPOLATION_MODES + TORCH_ONLY_MODES)}; "
                         f"got {mode!r}")
    if align_corners is not None:
        raise ValueError("interpolate: align_corners can only be set with the interpolating modes "
                         f"(linear, bilinear, bicubic, trilinear); got align_corners={align_corners!r} "
                         f"with mode={mode!r}")
    if antialias:
        raise ValueError(f"interpolate: antialias is only for the bilinear and bicubic modes; got mode={mode!r}")


def _output_grid(x: Tensor, size, scale_factor, recompute_scale_factor, dims: int) -> tuple:
    """(output sizes, scale factors or None per dimension) as PyTorch's interpolate."""
    if size is not None and scale_factor is not None:
        raise ValueError("interpolate: only one of size or scale_factor should be defined")
    if size is None and scale_factor is None:
        raise ValueError("interpolate: either size or scale_factor should be defined")
    if size is not None:
        if recompute_scale_factor:
            raise ValueError("interpolate: recompute_scale_factor is not meaningful with an explicit size")
        return spatial_tuple(size, dims, "interpolate", "size"), (None,) * dims
    factors = tuple(scale_factor) if isinstance(scale_factor, (tuple, list)) else (scale_factor,) * dims
    if len(factors) != dims or any(isinstance(f, bool) or not isinstance(f, (int, float)) or not f > 0
                                   for f in factors):
        raise ValueError(f"interpolate: scale_factor must be a positive number or a tuple of {dims}; "
                         f"got {scale_factor!r}")
    grid = tuple(math.floor(float(n) * f) for n, f in zip(x.shape[2:], factors))
    if any(o < 1 for o in grid):
        raise ValueError(f"interpolate: scale_factor={scale_factor!r} gives an empty output for input of shape "
                         f"{tuple(x.shape)}")
    return grid, (None,) * dims if recompute_scale_factor else tuple(float(f) for f in factors)


def interpolate(input: Tensor, size=None, scale_factor=None, mode: str = "nearest", align_corners=None,  # noqa: A002
                recompute_scale_factor=None, antialias: bool = False) -> Tensor:
    """Resize input (N, C, L) or (N, C, H, W) to ``size`` (or by ``scale_factor``: output size
    floor(n * scale_factor)) with nearest-neighbour sampling (``mode="nearest"`` or
    ``"nearest-exact"``; PyTorch's other modes are not implemented). The gradient sums over the
    output positions that copied each input position."""
    if not isinstance(input, Tensor) or input.ndim not in (3, 4):
        got = tuple(input.shape) if isinstance(input, Tensor) else type(input).__name__
        raise ValueError(f"interpolate: expected input of shape (N, C, L) or (N, C, H, W); got {got}")
    _check_interpolation(mode, align_corners, antialias)
    dims = input.ndim - 2
    x, _ = spatial_input(input, dims, "interpolate")
    grid, scales = _output_grid(x, size, scale_factor, recompute_scale_factor, dims)
    sizes = tuple(x.shape[2:])
    if dims == 1:
        x, sizes, grid, scales = x.unsqueeze(2), (1,) + sizes, (1,) + grid, (None,) + scales
    rows, cols = (backend.move(_source_positions(n, o, s, mode), x.device) for n, o, s in zip(sizes, grid, scales))
    out = fused.Nearest.apply(x, rows=rows, cols=cols)
    return out.squeeze(2) if dims == 1 else out
