"""Parameter initializers: fill a tensor in place with values of a chosen variance.

Why the variance matters: for a layer y = W x with n_in inputs of variance v and
weights of variance s^2, Var(y_i) = n_in s^2 v. Keeping s^2 = 1 / n_in (times the
activation's gain^2) keeps activations from shrinking or exploding with depth
(LeCun 1998; Glorot & Bengio 2010; He et al. 2015).

fan_in and fan_out of a weight of shape (out, in, k1, k2, …) are in * k1 * k2 * …
and out * k1 * k2 * … (for Linear's (out_features, in_features): in_features and
out_features; for a convolution's (out_channels, in_channels / groups, kh, kw) the
receptive field kh * kw multiplies both, as PyTorch's ``_calculate_fan_in_and_fan_out``;
a transposed convolution's weight (in_channels, out_channels / groups, kh, kw) gets the same
rule, so its fan_in counts out_channels / groups, as PyTorch's).

Every initializer writes into ``tensor.data`` in place and without recording a
graph (like PyTorch's, which run under no_grad), returns the tensor, and draws from chainrule's global generator (so
``chainrule.manual_seed`` makes it reproducible). Values are drawn on the host
and moved to the tensor's device. Shape-only tensors (made under
:func:`chainrule.compute.meta_init`, see :func:`shape_only`) are returned untouched.

References:
    X. Glorot, Y. Bengio (2010). Understanding the difficulty of training deep
    feedforward neural networks. AISTATS.
    K. He, X. Zhang, S. Ren, J. Sun (2015). Delving deep into rectifiers:
    surpassing human-level performance on ImageNet classification. ICCV.
"""
from __future__ import annotations

import math

from ..engine import backend
from ..engine import random as _random
from ..engine.tensor import Tensor, bump_version

__all__ = [
    "calculate_gain", "zeros_", "ones_", "constant_", "normal_", "uniform_",
    "xavier_uniform_", "xavier_normal_", "kaiming_uniform_", "kaiming_normal_",
]

_LINEAR_LIKE = (
    "linear", "identity", "conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d", "conv_transpose3d",
    "sigmoid",
)


def calculate_gain(nonlinearity: str, param=None) -> float:
    """The factor g by which an initializer's standard deviation is scaled so that an
    activation function keeps the variance of its input (PyTorch's values):

    ========================= =========================================
    nonlinearity              gain g
    ========================= =========================================
    linear, identity, conv*,  1
    conv_transpose*, sigmoid
    tanh                      5/3
    relu                      sqrt(2)      (ReLU halves the second moment)
    leaky_relu                sqrt(2 / (1 + a^2)), a = param (default 0.01)
    selu                      3/4
    ========================= =========================================
    """
    if nonlinearity in _LINEAR_LIKE:
        return 1.0
    if nonlinearity == "tanh":
        return 5.0 / 3
    if nonlinearity == "relu":
        return math.sqrt(2.0)
    if nonlinearity == "leaky_relu":
        if param is None:
            slope = 0.01
        elif isinstance(param, (int, float)) and not isinstance(param, bool):
            slope = float(param)
        else:
            raise ValueError(f"calculate_gain: param (the negative slope) must be a number; got {param!r}")
        return math.sqrt(2.0 / (1 + slope ** 2))
    if nonlinearity == "selu":
        return 3.0 / 4
    raise ValueError(
        f"calculate_gain: unsupported nonlinearity {nonlinearity!r}; expected one of "
        f"{', '.join(_LINEAR_LIKE)}, tanh, relu, leaky_relu, selu"
    )


def zeros_(tensor: Tensor) -> Tensor:
    """Fill with 0 (variance 0)."""
    return constant_(tensor, 0.0)


def ones_(tensor: Tensor) -> Tensor:
    """Fill with 1 (variance 0)."""
    return constant_(tensor, 1.0)


def constant_(tensor: Tensor, val: float) -> Tensor:
    """Fill with the constant ``val`` (variance 0)."""
    _check_tensor(tensor, "constant_")
    if shape_only(tensor):
        return tensor
    tensor.data[...] = val
    bump_version(tensor)
    return tensor


def normal_(tensor: Tensor, mean: float = 0.0, std: float = 1.0) -> Tensor:
    """Fill with samples of N(mean, std^2): variance std^2."""
    _check_tensor(tensor, "normal_")
    _check_nonnegative(std, "std", "normal_")
    if shape_only(tensor):
        return tensor
    return _fill(tensor, _random.generator().normal(mean, std, tensor.shape))


def uniform_(tensor: Tensor, a: float = 0.0, b: float = 1.0) -> Tensor:
    """Fill with samples of U(a, b): variance (b - a)^2 / 12."""
    _check_tensor(tensor, "uniform_")
    if not a <= b:
        raise ValueError(f"uniform_: need a <= b; got a={a}, b={b}")
    if shape_only(tensor):
        return tensor
    return _fill(tensor, _random.generator().uniform(a, b, tensor.shape))


def xavier_uniform_(tensor: Tensor, gain: float = 1.0) -> Tensor:
    """Glorot & Bengio (2010) uniform: U(-bound, bound) with
    bound = gain * sqrt(6 / (fan_in + fan_out)), so the variance is
    gain^2 * 2 / (fan_in + fan_out) (a compromise between keeping the forward
    variance, 1/fan_in, and the backward variance, 1/fan_out)."""
    fan_in, fan_out = _fans(tensor, "xavier_uniform_")
    bound = gain * math.sqrt(6.0 / (fan_in + fan_out))
    if shape_only(tensor):
        return tensor
    return _fill(tensor, _random.generator().uniform(-bound, bound, tensor.shape))


def xavier_normal_(tensor: Tensor, gain: float = 1.0) -> Tensor:
    """Glorot & Bengio (2010) normal: N(0, std^2) with
    std = gain * sqrt(2 / (fan_in + fan_out)), variance gain^2 * 2 / (fan_in + fan_out)."""
    fan_in, fan_out = _fans(tensor, "xavier_normal_")
    std = gain * math.sqrt(2.0 / (fan_in + fan_out))
    if shape_only(tensor):
        return tensor
    return _fill(tensor, _random.generator().normal(0.0, std, tensor.shape))


def kaiming_uniform_(tensor: Tensor, a: float = 0.0, mode: str = "fan_in", nonlinearity: str = "leaky_relu") -> Tensor:
    """He et al. (2015) uniform: U(-bound, bound) with bound = sqrt(3) * gain / sqrt(fan),
    so the variance is gain^2 / fan.

    fan is fan_in (``mode="fan_in"``, the default: keeps the forward variance) or
    fan_out (``mode="fan_out"``: keeps the backward variance); gain is
    ``calculate_gain(nonlinearity, a)`` with ``a`` the negative slope of a leaky
    ReLU (with the defaults a = 0 and "leaky_relu", gain = sqrt(2): variance 2 / fan_in).

    ``kaiming_uniform_(w, a=sqrt(5))`` gives gain^2 = 2 / 6 = 1/3 and bound = 1/sqrt(fan_in):
    that is Linear's default initialization, U(-1/sqrt(fan_in), 1/sqrt(fan_in)).
    """
    fan = _fan(tensor, mode, "kaiming_uniform_")
    bound = math.sqrt(3.0) * calculate_gain(nonlinearity, a) / math.sqrt(fan)
    if shape_only(tensor):
        return tensor
    return _fill(tensor, _random.generator().uniform(-bound, bound, tensor.shape))


def kaiming_normal_(tensor: Tensor, a: float = 0.0, mode: str = "fan_in", nonlinearity: str = "leaky_relu") -> Tensor:
    """He et al. (2015) normal: N(0, std^2) with std = gain / sqrt(fan), variance gain^2 / fan
    (fan and gain as in :func:`kaiming_uniform_`; for ReLU, variance 2 / fan_in)."""
    fan = _fan(tensor, mode, "kaiming_normal_")
    std = calculate_gain(nonlinearity, a) / math.sqrt(fan)
    if shape_only(tensor):
        return tensor
    return _fill(tensor, _random.generator().normal(0.0, std, tensor.shape))


# ---------------------------------------------------------------------- shape-only hook


def shape_only(tensor: Tensor) -> bool:
    """True for a tensor made under :func:`chainrule.compute.meta_init` (its array has the
    ``shape_only`` mark): it has no values, so the initializers above return it untouched
    and draw no random numbers."""
    return getattr(tensor.data, "shape_only", False)


# ---------------------------------------------------------------------- helpers


def calculate_fan_in_and_fan_out(tensor: Tensor) -> tuple:
    """(fan_in, fan_out) of a weight of shape (out, in, *kernel): (in * k, out * k),
    k the product of the kernel sizes (1 for a matrix)."""
    _check_tensor(tensor, "calculate_fan_in_and_fan_out")
    if tensor.ndim < 2:
        raise ValueError(
            f"calculate_fan_in_and_fan_out: fan in and fan out need a tensor with at least "
            f"2 dimensions (out, in, …); got shape {tuple(tensor.shape)}"
        )
    receptive = 1
    for size in tensor.shape[2:]:
        receptive *= size
    return tensor.shape[1] * receptive, tensor.shape[0] * receptive


def _fans(tensor: Tensor, op: str) -> tuple:
    _check_tensor(tensor, op)
    if tensor.ndim < 2:
        raise ValueError(
            f"{op}: needs a weight with at least 2 dimensions (out, in, …) to compute "
            f"fan_in and fan_out; got shape {tuple(tensor.shape)}"
        )
    fan_in, fan_out = calculate_fan_in_and_fan_out(tensor)
    if fan_in == 0 or fan_out == 0:
        raise ValueError(f"{op}: the tensor of shape {tuple(tensor.shape)} has no elements")
    return fan_in, fan_out


def _fan(tensor: Tensor, mode: str, op: str) -> int:
    if mode not in ("fan_in", "fan_out"):
        raise ValueError(f"{op}: mode must be 'fan_in' or 'fan_out'; got {mode!r}")
    fan_in, fan_out = _fans(tensor, op)
    return fan_in if mode == "fan_in" else fan_out


def _check_tensor(tensor, op: str) -> None:
    if not isinstance(tensor, Tensor):
        raise TypeError(f"{op}: expected a Tensor (e.g. layer.weight); got {type(tensor).__name__}")
    if tensor.dtype.kind != "f":
        raise TypeError(f"{op}: expected a floating-point tensor; got dtype {tensor.dtype}")


def _check_nonnegative(value, name: str, op: str) -> None:
    if not value >= 0:
        raise ValueError(f"{op}: {name} must be non-negative; got {value}")


def _fill(tensor: Tensor, host_values) -> Tensor:
    """Write host samples into the tensor's memory (in place: views stay valid), and
    bump its version so a graph that saved the old values refuses to backward."""
    data = tensor.data
    data[...] = backend.move(host_values.astype(data.dtype, copy=False), backend.device_of(data))
    bump_version(tensor)
    return tensor
