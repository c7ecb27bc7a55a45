"""The arguments of convolution and pooling: sizes per spatial dimension, padding, output sizes.

PyTorch accepts ``kernel_size``, ``stride``, ``padding`` and ``dilation`` as one int (the same for
every spatial dimension) or a tuple with one int per dimension; these helpers turn them into
tuples and check them, raising errors that name the operation, the argument, what was expected
and what was received. The output-size arithmetic is PyTorch's, along each spatial dimension
(size n, padding p before and q after, kernel k, stride s, dilation d):

* convolution, unfold:            o = floor((n + p + q - d (k - 1) - 1) / s) + 1
* transposed convolution:         o = (n - 1) s - 2 p + d (k - 1) + output_padding + 1
* pooling (``ceil_mode=False``):  as convolution with p = q;
  ``ceil_mode=True``:             o = ceil((n + 2 p - d (k - 1) - 1) / s) + 1, less one when the
  last window would start beyond the input and its left padding ((o - 1) s >= n + p).

``padding="same"`` pads d (k - 1) in total, the odd one after (PyTorch's rule, stride 1 only);
``"valid"`` pads nothing.
"""
from __future__ import annotations

from ..engine.tensor import Tensor
from .arguments import require_float, tensor_argument

__all__ = [
    "spatial_tuple", "conv_padding", "conv_output_size", "pool_output_size", "transposed_output_size",
    "spatial_input", "check_window_fits",
]


def spatial_tuple(value, dims: int, op: str, name: str, minimum: int = 1) -> tuple:
    """``value`` (an int, or a tuple or list of ``dims`` ints) as a tuple of ``dims`` ints >= ``minimum``."""
    values = tuple(value) if isinstance(value, (tuple, list)) else (value,) * dims
    if len(values) != dims or any(isinstance(v, bool) or not isinstance(v, int) for v in values):
        raise TypeError(f"{op}: {name} must be an int or a tuple of {dims} ints; got {value!r}")
    if any(v < minimum for v in values):
        raise ValueError(f"{op}: {name} must be >= {minimum} in every dimension; got {value!r}")
    return values


def conv_padding(padding, dims: int, kernel: tuple, stride: tuple, dilation: tuple, op: str) -> tuple:
    """The padding of a convolution as (before, after) tuples: from ints, or "same" / "valid"."""
    if isinstance(padding, str):
        if padding == "valid":
            return (0,) * dims, (0,) * dims
        if padding != "same":
            raise ValueError(f"{op}: padding must be an int, a tuple of {dims} ints, 'same' or 'valid'; "
                             f"got {padding!r}")
        if any(s != 1 for s in stride):
            raise ValueError(f"{op}: padding='same' is not supported for strided convolutions; got stride={stride}")
        total = tuple(d * (k - 1) for d, k in zip(dilation, kernel))
        before = tuple(t // 2 for t in total)
        return before, tuple(t - b for t, b in zip(total, before))
    before = spatial_tuple(padding, dims, op, "padding", minimum=0)
    return before, before


def conv_output_size(size: tuple, before: tuple, after: tuple, kernel: tuple, stride: tuple, dilation: tuple,
                     op: str) -> tuple:
    """o = floor((n + p + q - d (k - 1) - 1) / s) + 1 per dimension; an error when a window does
    not fit in the padded input (PyTorch's "kernel size can't be greater than actual input size")."""
    out = []
    for n, p, q, k, s, d in zip(size, before, after, kernel, stride, dilation):
        span = d * (k - 1) + 1
        if n + p + q < span:
            raise ValueError(
                f"{op}: the padded input of size {tuple(a + b + c for a, b, c in zip(size, before, after))} "
                f"is smaller than the (dilated) kernel of size "
                f"{tuple(dd * (kk - 1) + 1 for kk, dd in zip(kernel, dilation))}; the output would be empty"
            )
        out.append((n + p + q - span) // s + 1)
    return tuple(out)


def pool_output_size(size: tuple, kernel: tuple, stride: tuple, padding: tuple, dilation: tuple,
                     ceil_mode: bool, op: str) -> tuple:
    """Pooling's output size per dimension (PyTorch's ``pooling_output_shape``), after checking
    that the padding is at most half the kernel (p <= k / 2) and that the output is not empty."""
    out = []
    for n, k, s, p, d in zip(size, kernel, stride, padding, dilation):
        span = d * (k - 1) + 1
        if 2 * p > k:
            raise ValueError(f"{op}: padding should be at most half of kernel_size; got padding={padding} "
                             f"for kernel_size={kernel}")
        numerator = n + 2 * p - span
        o = (-(-numerator // s) if ceil_mode else numerator // s) + 1
        if ceil_mode and (o - 1) * s >= n + p:
            o -= 1
        if o < 1:
            raise ValueError(
                f"{op}: the output would be empty: input of spatial size {tuple(size)} with kernel_size={kernel}, "
                f"stride={stride}, padding={padding}, dilation={dilation} gives output size < 1"
            )
        out.append(o)
    return tuple(out)


def transposed_output_size(size: tuple, kernel: tuple, stride: tuple, padding: tuple, dilation: tuple,
                           output_padding: tuple, op: str) -> tuple:
    """o = (n - 1) s - 2 p + d (k - 1) + output_padding + 1 per dimension (must be >= 1);
    output_padding must be smaller than the stride or the dilation (PyTorch's rule)."""
    for op_, s, d in zip(output_padding, stride, dilation):
        if op_ >= max(s, d):
            raise ValueError(
                f"{op}: output_padding must be smaller than either stride or dilation; got output_padding="
                f"{output_padding}, stride={stride}, dilation={dilation}"
            )
    out = tuple((n - 1) * s - 2 * p + d * (k - 1) + q + 1
                for n, k, s, p, d, q in zip(size, kernel, stride, padding, dilation, output_padding))
    if any(o < 1 for o in out):
        raise ValueError(f"{op}: the output size {out} is not positive (input spatial size {tuple(size)}, "
                         f"kernel_size={kernel}, stride={stride}, padding={padding})")
    return out


def spatial_input(x, dims: int, op: str) -> tuple:
    """``(x as a batch, whether x was unbatched)``: x must be a float Tensor of shape
    (N, C, *spatial) or, unbatched, (C, *spatial) with ``dims`` spatial dimensions; an unbatched
    x is returned with a batch dimension of 1 in front."""
    x = tensor_argument(x, op, "input")
    require_float(x, op, "input")
    names = {1: "L", 2: "H, W"}[dims]
    if x.ndim not in (dims + 1, dims + 2):
        raise ValueError(
            f"{op}: expected input of shape (N, C, {names}) or, unbatched, (C, {names}); got shape {tuple(x.shape)}"
        )
    if x.ndim == dims + 1:
        return x.reshape(1, *x.shape), True
    return x, False


def check_window_fits(x: Tensor, channels: int, op: str, what: str) -> None:
    """x has ``channels`` channels (dim 1 of the batch) and at least one element per sample."""
    if x.shape[1] != channels:
        raise ValueError(f"{op}: expected input with {channels} channels ({what}); got input of shape {tuple(x.shape)}")
