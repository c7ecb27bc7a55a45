"""Channel dropout, as torch.nn.functional.dropout2d: whole feature maps are zeroed.

In a convolutional network neighbouring pixels are strongly correlated, so dropping single
pixels barely regularizes; dropout2d (Tompson et al. 2015, "Efficient object localization using
convolutional networks") drops whole channels instead:

    y[n, c] = x[n, c] * m[n, c] / (1 - p),   m[n, c] ~ Bernoulli(1 - p),

one draw per (sample, channel), shared by every position of that feature map, so E[y] = x.
Evaluation mode (``training=False``) and p = 0 give x itself; p = 1 gives zeros. The node is the
fused dropout of :mod:`chainrule.nn.fused.dropout` with the (N, C, 1, 1) scale broadcast.
"""
from __future__ import annotations

from ..engine import backend
from ..engine import random as _random
from ..engine.tensor import Tensor
from . import fused
from .arguments import require_float, tensor_argument

__all__ = ["dropout2d", "check_channel_dropout_p"]


def check_channel_dropout_p(p, op: str) -> float:
    """p as a float in [0, 1] (PyTorch's range for the channel dropouts), else a ValueError."""
    if isinstance(p, bool) or not isinstance(p, (int, float)) or not 0 <= p <= 1:
        raise ValueError(f"{op}: p (the probability of zeroing a channel) must be a number in [0, 1]; got {p!r}")
    return float(p)


def dropout2d(input: Tensor, p: float = 0.5, training: bool = True, inplace: bool = False) -> Tensor:  # noqa: A002
    """Zero whole channels of input (N, C, H, W) with probability p each, scaling the kept ones
    by 1 / (1 - p); the identity when not ``training``. A 3-D input is taken as (N, C, L), as
    PyTorch does today (one draw per (N, C) pair)."""
    p = check_channel_dropout_p(p, "dropout2d")
    x = tensor_argument(input, "dropout2d", "input")
    require_float(x, "dropout2d", "input")
    if inplace:
        raise ValueError("dropout2d: inplace=True is not supported (chainrule's dropout returns a new tensor); "
                         "use inplace=False")
    if x.ndim not in (3, 4):
        raise ValueError(f"dropout2d: expected input of shape (N, C, H, W) (or (N, C, L)); got shape {tuple(x.shape)}")
    if not training or p == 0:
        return x
    shape = tuple(x.shape[:2]) + (1,) * (x.ndim - 2)
    if p == 1:
        scale = backend.host.zeros(shape, dtype=x.dtype)
    else:
        keep = _random.generator().random(shape, dtype=backend.float32) >= p
        scale = keep.astype(x.dtype) * (1.0 / (1.0 - p))
    return fused.Dropout.apply(x, scale=backend.move(scale, x.device))
