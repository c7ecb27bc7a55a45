"""Normalization by each sample's own statistics: LayerNorm, GroupNorm, RMSNorm and their
functional forms ``layer_norm``, ``group_norm``, ``rms_norm`` (PyTorch's names, signatures,
defaults, parameters and reprs).

Unlike batch normalization nothing is averaged over the batch, so training and evaluation
modes compute the same thing and there are no running statistics.

* Layer norm (Ba, Kiros & Hinton 2016), over the trailing dims D = ``normalized_shape``:
  y = (x - E[x]) / sqrt(Var[x] + eps) * gamma + beta, E and the biased Var over D;
  gamma and beta have shape D.
* Group norm (Wu & He 2018), x (N, C, *): the C channels form G groups of C / G; E and Var
  over each sample's group (its channels and all positions); gamma, beta one per channel.
* RMS norm (Zhang & Sennrich 2019): y = x / sqrt(mean(x^2) + eps) * gamma over D, no
  centring and no bias; ``eps=None`` means the dtype's machine epsilon (torch >= 2.4).

Each runs as one graph node (:mod:`chainrule.nn.fused.layer_norm`, whose docstring has the
gradient formulas), tested equal to its reference composition and to PyTorch.
"""
from __future__ import annotations

import numbers

from ..engine import backend
from ..engine.creation import ones, zeros
from ..engine.tensor import Tensor
from . import fused, init
from .arguments import check_same_device, check_same_dtype, float_dtype, require_float, tensor_argument
from .module import Module
from .parameter import Parameter

__all__ = ["layer_norm", "group_norm", "rms_norm", "LayerNorm", "GroupNorm", "RMSNorm"]


# ---------------------------------------------------------------------- functional forms


def layer_norm(input: Tensor, normalized_shape, weight: Tensor | None = None, bias: Tensor | None = None,  # noqa: A002
               eps: float = 1e-5) -> Tensor:
    """Layer normalization over the trailing dims ``normalized_shape`` (torch.nn.functional.layer_norm):
    y = (x - mean) / sqrt(var + eps) * weight + bias, mean and the biased var over those dims.
    ``weight`` and ``bias`` (optional) have shape ``normalized_shape``. One graph node."""
    x, shape = _check_trailing(input, normalized_shape, "layer_norm")
    check_eps(eps, "layer_norm")
    affine = _affine(x, (weight, bias), ("weight", "bias"), shape, "layer_norm")
    count = _product(shape)
    return fused.LayerNorm.apply(
        x, *affine, rows=(x.data.size // count if count else 0, count), affine_shape=shape, eps=float(eps),
        has_weight=weight is not None, has_bias=bias is not None,
    )


def group_norm(input: Tensor, num_groups: int, weight: Tensor | None = None, bias: Tensor | None = None,  # noqa: A002
               eps: float = 1e-5) -> Tensor:
    """Group normalization (torch.nn.functional.group_norm) of x (N, C, *): the channels split
    into ``num_groups`` groups of C / num_groups; each sample's group is normalized by its
    own mean and biased variance; then y = xhat * weight[c] + bias[c] (shapes (C,)). One node."""
    x = tensor_argument(input, "group_norm", "input")
    require_float(x, "group_norm", "input")
    check_eps(eps, "group_norm")
    if x.ndim < 2:
        raise ValueError(f"group_norm: expected input of shape (N, C, *) with at least 2 dims; got shape {x.shape}")
    if isinstance(num_groups, bool) or not isinstance(num_groups, int) or num_groups < 1:
        raise ValueError(f"group_norm: num_groups must be an int >= 1; got {num_groups!r}")
    channels = x.shape[1]
    if channels % num_groups:
        raise ValueError(
            f"group_norm: the number of channels (dim 1 of the input of shape {x.shape}) must be divisible "
            f"by num_groups; got {channels} channels and num_groups={num_groups}"
        )
    affine = _affine(x, (weight, bias), ("weight", "bias"), (channels,), "group_norm")
    rows = x.shape[0] * num_groups
    return fused.GroupNorm.apply(
        x, *affine, rows=(rows, x.data.size // rows if rows else 0), affine_shape=(channels,) + (1,) * (x.ndim - 2),
        eps=float(eps), has_weight=weight is not None, has_bias=bias is not None,
    )


def rms_norm(input: Tensor, normalized_shape, weight: Tensor | None = None, eps: float | None = None) -> Tensor:  # noqa: A002
    """Root-mean-square normalization over the trailing dims ``normalized_shape``
    (torch.nn.functional.rms_norm): y = x / sqrt(mean(x^2) + eps) * weight; ``eps=None`` is
    the machine epsilon of x's dtype (``finfo(dtype).eps``, as torch >= 2.4). One node."""
    x, shape = _check_trailing(input, normalized_shape, "rms_norm")
    if eps is None:
        eps = float(backend.host.finfo(x.dtype).eps)
    check_eps(eps, "rms_norm")
    affine = _affine(x, (weight,), ("weight",), shape, "rms_norm")
    count = _product(shape)
    return fused.RMSNorm.apply(
        x, *affine, rows=(x.data.size // count if count else 0, count), affine_shape=shape, eps=float(eps),
        has_weight=weight is not None, has_bias=False,
    )


# ---------------------------------------------------------------------- modules


class LayerNorm(Module):
    """Layer normalization (Ba et al. 2016) over the last ``len(normalized_shape)`` dims:

        y = (x - E[x]) / sqrt(Var[x] + eps) * weight + bias

    with E and the biased Var over those dims of each sample (no running statistics: the
    same in training and evaluation).

    Args:
        normalized_shape: an int or a tuple, the trailing shape normalized over.
        eps: added to the variance (1e-5).
        elementwise_affine: learn ``weight`` (init 1) and ``bias`` (init 0) of shape
            ``normalized_shape`` (True).
        bias: learn the bias (True; only with elementwise_affine).
        device, dtype: of the parameters (cpu, float32).
    """

    def __init__(self, normalized_shape, eps: float = 1e-5, elementwise_affine: bool = True, bias: bool = True,
                 device=None, dtype=None):
        super().__init__()
        self.normalized_shape = check_normalized_shape(normalized_shape, "LayerNorm")
        check_eps(eps, "LayerNorm")
        self.eps, self.elementwise_affine = eps, elementwise_affine
        dtype, device = float_dtype(dtype, "LayerNorm"), device or "cpu"
        if elementwise_affine:
            self.weight = Parameter(ones(*self.normalized_shape, dtype=dtype, device=device))
            if bias:
                self.bias = Parameter(zeros(*self.normalized_shape, dtype=dtype, device=device))
            else:
                self.register_parameter("bias", None)
        else:
            self.register_parameter("weight", None)
            self.register_parameter("bias", None)

    def reset_parameters(self) -> None:
        """weight = 1, bias = 0."""
        reset_affine(self)

    def forward(self, input: Tensor) -> Tensor:  # noqa: A002
        return layer_norm(input, self.normalized_shape, self.weight, self.bias, self.eps)

    def extra_repr(self) -> str:
        return (f"{self.normalized_shape}, eps={self.eps}, elementwise_affine={self.elementwise_affine}, "
                f"bias={self.bias is not None}")


class GroupNorm(Module):
    """Group normalization (Wu & He 2018) of x (N, C, *): the C channels form ``num_groups``
    groups; each sample's group is normalized by its own mean and biased variance, then
    y = xhat * weight[c] + bias[c]. The same in training and evaluation.

    Args:
        num_groups: G, which must divide num_channels.
        num_channels: C.
        eps: added to the variance (1e-5).
        affine: learn per-channel ``weight`` (init 1) and ``bias`` (init 0) (True).
        bias: keyword-only, learn the bias (True; only with affine).
    """

    def __init__(self, num_groups: int, num_channels: int, eps: float = 1e-5, affine: bool = True,
                 device=None, dtype=None, *, bias: bool = True):
        super().__init__()
        for name, value in (("num_groups", num_groups), ("num_channels", num_channels)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"GroupNorm: {name} must be an int >= 1; got {value!r}")
        if num_channels % num_groups:
            raise ValueError(
                f"GroupNorm: num_channels ({num_channels}) must be divisible by num_groups ({num_groups})"
            )
        check_eps(eps, "GroupNorm")
        self.num_groups, self.num_channels, self.eps, self.affine = num_groups, num_channels, eps, affine
        dtype, device = float_dtype(dtype, "GroupNorm"), device or "cpu"
        if affine:
            self.weight = Parameter(ones(num_channels, dtype=dtype, device=device))
            if bias:
                self.bias = Parameter(zeros(num_channels, dtype=dtype, device=device))
            else:
                self.register_parameter("bias", None)
        else:
            self.register_parameter("weight", None)
            self.register_parameter("bias", None)

    def reset_parameters(self) -> None:
        """weight = 1, bias = 0."""
        reset_affine(self)

    def forward(self, input: Tensor) -> Tensor:  # noqa: A002
        x = tensor_argument(input, "GroupNorm", "input")
        if x.ndim < 2 or x.shape[1] != self.num_channels:
            raise ValueError(
                f"GroupNorm: expected input of shape (N, {self.num_channels}, *) (num_channels="
                f"{self.num_channels}); got shape {x.shape}"
            )
        return group_norm(x, self.num_groups, self.weight, self.bias, self.eps)

    def extra_repr(self) -> str:
        return (f"{self.num_groups}, {self.num_channels}, eps={self.eps}, affine={self.affine}, "
                f"bias={self.bias is not None}")


class RMSNorm(Module):
    """Root-mean-square normalization (Zhang & Sennrich 2019) over the trailing dims:

        y = x / sqrt(mean(x^2) + eps) * weight

    Args:
        normalized_shape: an int or a tuple, the trailing shape normalized over.
        eps: added to the mean square; None (the default) means ``finfo(x.dtype).eps``.
        elementwise_affine: learn ``weight`` (init 1) of shape ``normalized_shape`` (True).
    """

    def __init__(self, normalized_shape, eps: float | None = None, elementwise_affine: bool = True,
                 device=None, dtype=None):
        super().__init__()
        self.normalized_shape = check_normalized_shape(normalized_shape, "RMSNorm")
        if eps is not None:
            check_eps(eps, "RMSNorm")
        self.eps, self.elementwise_affine = eps, elementwise_affine
        dtype, device = float_dtype(dtype, "RMSNorm"), device or "cpu"
        if elementwise_affine:
            self.weight = Parameter(ones(*self.normalized_shape, dtype=dtype, device=device))
        else:
            self.register_parameter("weight", None)

    def reset_parameters(self) -> None:
        """weight = 1."""
        reset_affine(self)

    def forward(self, x: Tensor) -> Tensor:
        return rms_norm(x, self.normalized_shape, self.weight, self.eps)

    def extra_repr(self) -> str:
        return f"{self.normalized_shape}, eps={self.eps}, elementwise_affine={self.elementwise_affine}"


# ---------------------------------------------------------------------- checks


def check_normalized_shape(normalized_shape, owner: str) -> tuple:
    """``normalized_shape`` (an int or a sequence of ints) as a tuple of non-negative ints."""
    if isinstance(normalized_shape, numbers.Integral) and not isinstance(normalized_shape, bool):
        normalized_shape = (int(normalized_shape),)
    try:
        shape = tuple(normalized_shape)
    except TypeError:
        shape = None
    if not shape or any(isinstance(s, bool) or not isinstance(s, numbers.Integral) or s < 0 for s in shape):
        raise ValueError(
            f"{owner}: normalized_shape must be an int or a non-empty sequence of ints >= 0; got {normalized_shape!r}"
        )
    return tuple(int(s) for s in shape)


def check_eps(eps, owner: str) -> None:
    if isinstance(eps, bool) or not isinstance(eps, numbers.Real) or not eps >= 0:
        raise ValueError(f"{owner}: eps must be a number >= 0; got {eps!r}")


def reset_affine(module: Module) -> None:
    """weight = 1 and bias = 0, where the module has them."""
    if module.weight is not None:
        init.ones_(module.weight)
    if getattr(module, "bias", None) is not None:
        init.zeros_(module.bias)


def _check_trailing(input, normalized_shape, op: str):  # noqa: A002
    x = tensor_argument(input, op, "input")
    require_float(x, op, "input")
    shape = check_normalized_shape(normalized_shape, op)
    if tuple(x.shape[x.ndim - len(shape):]) != shape or x.ndim < len(shape):
        raise ValueError(
            f"{op}: normalized_shape={list(shape)} expects input of shape (*, {', '.join(map(str, shape))}); "
            f"got shape {x.shape}"
        )
    return x, shape


def _affine(x: Tensor, tensors: tuple, names: tuple, shape: tuple, op: str) -> list:
    present = []
    for name, t in zip(names, tensors):
        if t is None:
            continue
        t = tensor_argument(t, op, name)
        if tuple(t.shape) != tuple(shape):
            raise ValueError(f"{op}: {name} must have shape {tuple(shape)}; got shape {t.shape}")
        check_same_dtype(x, t, op, name)
        check_same_device(x, t, op, name)
        present.append(t)
    return present


def _product(shape: tuple) -> int:
    count = 1
    for size in shape:
        count *= size
    return count
