"""Functional forms of the layers and losses: plain functions of tensors.

``import chainrule.nn.functional as F``. The layer classes in :mod:`chainrule.nn`
hold parameters and call these. Layers and losses with a fused op
(:mod:`chainrule.ops.nn_ops`) record ONE graph node: ``linear``,
``cross_entropy``, ``nll_loss``, the binary cross-entropies, ``mse_loss``,
``l1_loss``, ``huber_loss``, ``dropout``, ``batch_norm``,
``polynomial_features`` and the penalties.

Losses take ``reduction``: "mean" (the default), "sum", or "none" (one loss per
element or per sample). Arguments are checked before any arithmetic; errors name
the argument, what was expected and what was received.
"""
from __future__ import annotations

import itertools

from ..engine import backend, ops
from ..engine import random as _random
from ..engine.tensor import Tensor
from . import fused_ops as nn_ops

__all__ = [
    "linear", "relu", "leaky_relu", "sigmoid", "tanh", "gelu", "softmax", "log_softmax",
    "identity", "flatten", "dropout", "batch_norm", "polynomial_features", "polynomial_powers",
    "cross_entropy", "nll_loss", "binary_cross_entropy_with_logits", "binary_cross_entropy",
    "mse_loss", "l1_loss", "huber_loss", "l1_penalty", "l2_penalty",
]

_REDUCTIONS = ("mean", "sum", "none")
_HOST_ARRAY = backend.host.ndarray

# ---------------------------------------------------------------------- activations
# (thin aliases of the engine's ops, so F.relu etc. exist as in torch.nn.functional)


def relu(x: Tensor) -> Tensor:
    """ReLU(x) = max(x, 0) elementwise (gradient 0 at x = 0)."""
    return ops.relu(_tensor(x, "relu", "input"))


def leaky_relu(x: Tensor, negative_slope: float = 0.01) -> Tensor:
    """LeakyReLU(x) = x for x > 0, negative_slope * x otherwise."""
    return ops.leaky_relu(_tensor(x, "leaky_relu", "input"), negative_slope)


def sigmoid(x: Tensor) -> Tensor:
    """sigma(x) = 1 / (1 + e^{-x}), computed without overflow."""
    return ops.sigmoid(_tensor(x, "sigmoid", "input"))


def tanh(x: Tensor) -> Tensor:
    """tanh(x) = (e^x - e^{-x}) / (e^x + e^{-x})."""
    return ops.tanh(_tensor(x, "tanh", "input"))


def gelu(x: Tensor, approximate: str = "none") -> Tensor:
    """GELU(x) = x Phi(x), Phi the standard normal CDF (Hendrycks & Gimpel 2016);
    ``approximate="tanh"`` uses Phi(x) ~ (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))) / 2."""
    return ops.gelu(_tensor(x, "gelu", "input"), approximate)


def softmax(x: Tensor, dim: int = -1) -> Tensor:
    """softmax(x)_i = exp(x_i - m) / sum_j exp(x_j - m), m = max_j x_j, along ``dim``."""
    return ops.softmax(_tensor(x, "softmax", "input"), dim)


def log_softmax(x: Tensor, dim: int = -1) -> Tensor:
    """log_softmax(x) = x - logsumexp(x) along ``dim`` (never log(softmax(x)), which underflows)."""
    return ops.log_softmax(_tensor(x, "log_softmax", "input"), dim)


def identity(x: Tensor) -> Tensor:
    """x itself."""
    return x


def flatten(x: Tensor, start_dim: int = 1, end_dim: int = -1) -> Tensor:
    """Merge dims start_dim … end_dim (by default all but the batch dim) into one."""
    return ops.flatten(_tensor(x, "flatten", "input"), start_dim, end_dim)


# ---------------------------------------------------------------------- layers


def linear(x: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """y = x W^T + b, one graph node.

    Shapes: x (*, in_features), weight (out_features, in_features) (PyTorch's
    layout), bias (out_features,) or None; y (*, out_features).
    Backward: dx = G W, dW = G^T x, db = sum of G over all but the last dim.
    """
    _check_linear(x, weight, bias, "linear", "weight.shape[1]")
    if bias is None:
        return nn_ops.Linear.apply(x, weight)
    return nn_ops.Linear.apply(x, weight, bias)


def dropout(x: Tensor, p: float = 0.5, training: bool = True) -> Tensor:
    """Inverted dropout (Srivastava et al. 2014): y = x * m / (1 - p), m ~ Bernoulli(1 - p)
    independently per element, so E[y] = x; the identity when not ``training`` or p = 0.

    Each element is zeroed with probability p; the survivors are scaled by 1 / (1 - p)
    at training time so that nothing needs rescaling at evaluation time. The mask is
    drawn from chainrule's global generator (``manual_seed``).
    """
    _check_probability(p, "dropout")
    x = _tensor(x, "dropout", "input")
    if not training or p == 0:
        return x
    _require_float(x, "dropout", "input")
    keep = _random.generator().random(x.shape, dtype=backend.float32) >= p
    scale = keep.astype(x.dtype) * (1.0 / (1.0 - p))
    return nn_ops.Dropout.apply(x, scale=backend.move(scale, x.device))


def batch_norm(
    x: Tensor,
    running_mean: Tensor | None,
    running_var: Tensor | None,
    weight: Tensor | None = None,
    bias: Tensor | None = None,
    training: bool = False,
    momentum: float = 0.1,
    eps: float = 1e-5,
) -> Tensor:
    """Batch normalization (Ioffe & Szegedy 2015) of x (N, C) or (N, C, L) per channel c:

        y = gamma_c (x - mu_c) / sqrt(sigma2_c + eps) + beta_c

    Training (``training=True``): mu and sigma2 are the batch mean and the biased
    batch variance (over N, and L); the running statistics, when given, are updated
    in place: running = (1 - momentum) * running + momentum * batch_stat, where the
    variance fed to running_var is the UNBIASED one, sigma2 * m / (m - 1) with m
    values per channel (PyTorch's rule). Evaluation: mu = running_mean,
    sigma2 = running_var. gamma (``weight``) and beta (``bias``) default to 1 and 0.
    """
    x = _tensor(x, "batch_norm", "input")
    _require_float(x, "batch_norm", "input")
    if x.ndim not in (2, 3):
        raise ValueError(f"batch_norm: expected input of shape (N, C) or (N, C, L); got shape {tuple(x.shape)}")
    channels = x.shape[1]
    for name, t in (("running_mean", running_mean), ("running_var", running_var), ("weight", weight), ("bias", bias)):
        if t is not None:
            _check_channel_vector(t, name, channels, x)
            _check_same_dtype(x, t, "batch_norm", name)
    axes = (0,) if x.ndim == 2 else (0, 2)
    data = x.data
    if training:
        count = data.size // channels
        if count <= 1:
            raise ValueError(
                f"batch_norm: expected more than 1 value per channel when training; got input "
                f"shape {tuple(x.shape)}. Use a batch of at least 2 rows, or eval() mode"
            )
        mean = data.mean(axis=axes)
        centred = data - mean.reshape((1, channels) + (1,) * (x.ndim - 2))
        var = (centred * centred).mean(axis=axes)
        if running_mean is not None:
            running_mean.data[...] = (1 - momentum) * running_mean.data + momentum * mean
            running_mean._version += 1
        if running_var is not None:
            running_var.data[...] = (1 - momentum) * running_var.data + momentum * var * (count / (count - 1))
            running_var._version += 1
    else:
        if running_mean is None or running_var is None:
            raise ValueError("batch_norm: running_mean and running_var are required when training=False")
        mean, var = running_mean.data, running_var.data
    affine = [t for t in (weight, bias) if t is not None]
    return nn_ops.BatchNorm.apply(
        x, *affine, mean=mean, var=var, eps=eps, axes=axes, training=bool(training),
        has_weight=weight is not None, has_bias=bias is not None,
    )


def polynomial_powers(in_features: int, degree: int, interaction_only: bool = False, include_bias: bool = False):
    """The exponent matrix P (one row per output feature, one column per input) of
    :func:`polynomial_features`, as a host int64 array.

    Terms come in scikit-learn's order: by total degree, then lexicographically in
    the input indices (for two inputs and degree 2: x1, x2, x1^2, x1 x2, x2^2).
    """
    _check_degree(degree, "polynomial_powers")
    xp = backend.host
    rows = []
    if include_bias:
        rows.append([0] * in_features)
    combine = itertools.combinations if interaction_only else itertools.combinations_with_replacement
    for total in range(1, degree + 1):
        for term in combine(range(in_features), total):
            row = [0] * in_features
            for index in term:
                row[index] += 1
            rows.append(row)
    return xp.asarray(rows, dtype=backend.int64).reshape(len(rows), in_features)


def polynomial_features(x: Tensor, degree: int, interaction_only: bool = False, include_bias: bool = False) -> Tensor:
    """The polynomial feature map phi(x) of each row of x (N, d), one graph node:
    every monomial x_1^{k_1} … x_d^{k_d} with 1 <= k_1 + … + k_d <= degree
    (e.g. d = 2, degree 2: (x1, x2, x1^2, x1 x2, x2^2)), in scikit-learn's order
    (see :func:`polynomial_powers`). ``interaction_only`` keeps products of distinct
    inputs (no powers above 1); ``include_bias`` prepends the constant 1.
    """
    x = _tensor(x, "polynomial_features", "input")
    _require_float(x, "polynomial_features", "input")
    if x.ndim != 2:
        raise ValueError(f"polynomial_features: expected input of shape (N, d); got shape {tuple(x.shape)}")
    powers = polynomial_powers(x.shape[1], degree, interaction_only, include_bias)
    return nn_ops.PolynomialFeatures.apply(x, powers=backend.move(powers.astype(x.dtype), x.device))


# ---------------------------------------------------------------------- classification losses


def cross_entropy(
    logits: Tensor,
    target: Tensor,
    weight: Tensor | None = None,
    ignore_index: int = -100,
    reduction: str = "mean",
    label_smoothing: float = 0.0,
) -> Tensor:
    """Softmax cross-entropy of ``logits`` against ``target``, fused with the log-softmax
    into one numerically stable graph node (no softmax is ever formed in the forward pass).

    With log p_i = log_softmax(z_i) = z_i - logsumexp(z_i) (computed after subtracting
    max_c z_ic, so no exp overflows):

    * integer targets t_i (int64 class indices in [0, C)):
      l_i = -w_{t_i} log p_{i,t_i}; rows with t_i = ``ignore_index`` count 0, and
      "mean" divides by sum_i w_{t_i} over the other rows (PyTorch's rule);
    * class probabilities y_i (float, same shape as the logits):
      l_i = -sum_c w_c y_ic log p_ic; "mean" divides by the number of rows.

    ``label_smoothing`` eps mixes the target with the uniform distribution:
    (1 - eps) target + eps / C. ``weight`` (C,) rescales classes (default 1).
    Gradient: dl_i/dz_i = softmax(z_i) - e_{t_i} (unweighted, unsmoothed case).

    Shapes: logits (N, C), (N, C, d1, …) or (C,); target (N,), (N, d1, …) or ()
    for indices, the logits' shape for probabilities.
    """
    logits = _tensor(logits, "cross_entropy", "input")
    target = _tensor(target, "cross_entropy", "target")
    _require_float(logits, "cross_entropy", "input (logits)")
    _check_reduction(reduction, "cross_entropy")
    if not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(f"cross_entropy: label_smoothing must lie in [0, 1]; got {label_smoothing}")
    classes = _class_count(logits, "cross_entropy")
    weight_data = _class_weight(weight, classes, logits, "cross_entropy")
    if target.dtype.kind == "f":
        _check_same_shape(logits, target, "cross_entropy", "input (logits)", "target (probabilities)")
        _check_same_dtype(logits, target, "cross_entropy", "target")
        return nn_ops.SoftCrossEntropy.apply(
            logits, target, weight=weight_data, reduction=reduction, label_smoothing=float(label_smoothing)
        )
    ignored = _check_class_targets(logits, target, classes, ignore_index, "cross_entropy")
    return nn_ops.CrossEntropy.apply(
        logits, target=target.data, weight=weight_data, ignore_index=ignore_index,
        reduction=reduction, label_smoothing=float(label_smoothing), ignored=ignored,
    )


def nll_loss(
    log_probs: Tensor,
    target: Tensor,
    weight: Tensor | None = None,
    ignore_index: int = -100,
    reduction: str = "mean",
) -> Tensor:
    """Negative log-likelihood l_i = -w_{t_i} a_{i,t_i} of log-probabilities a (e.g. the
    output of log_softmax) and int64 class targets t. ``cross_entropy(z, t)`` equals
    ``nll_loss(log_softmax(z), t)``; "mean" divides by sum_i w_{t_i} over rows whose
    target is not ``ignore_index``. Shapes as :func:`cross_entropy` with index targets.
    """
    log_probs = _tensor(log_probs, "nll_loss", "input")
    target = _tensor(target, "nll_loss", "target")
    _require_float(log_probs, "nll_loss", "input (log-probabilities)")
    _check_reduction(reduction, "nll_loss")
    classes = _class_count(log_probs, "nll_loss")
    weight_data = _class_weight(weight, classes, log_probs, "nll_loss")
    ignored = _check_class_targets(log_probs, target, classes, ignore_index, "nll_loss")
    return nn_ops.NLLLoss.apply(
        log_probs, target=target.data, weight=weight_data, ignore_index=ignore_index,
        reduction=reduction, ignored=ignored,
    )


def binary_cross_entropy_with_logits(
    logits: Tensor,
    target: Tensor,
    weight: Tensor | None = None,
    reduction: str = "mean",
    pos_weight: Tensor | None = None,
) -> Tensor:
    """Binary cross-entropy on logits x with targets y in [0, 1], stable for any x:

        l = -w [pos_weight y log sigma(x) + (1 - y) log(1 - sigma(x))]
          = w [(1 - y) x + (1 + (pos_weight - 1) y) log(1 + e^{-x})],

    with log(1 + e^{-x}) = log1p(e^{-|x|}) + max(-x, 0) (never exp of a large
    positive number). Gradient (pos_weight = 1): dl/dx = w (sigma(x) - y).
    ``weight`` broadcasts to the input; ``pos_weight`` (one per class, the last
    dim) weights the positive term. Target must be float and of the input's shape.
    """
    logits = _tensor(logits, "binary_cross_entropy_with_logits", "input")
    target = _tensor(target, "binary_cross_entropy_with_logits", "target")
    _check_binary(logits, target, reduction, "binary_cross_entropy_with_logits")
    weight_data = _broadcast_weight(weight, logits, "weight", "binary_cross_entropy_with_logits")
    pos_data = _broadcast_weight(pos_weight, logits, "pos_weight", "binary_cross_entropy_with_logits")
    return nn_ops.BCEWithLogits.apply(logits, target, weight=weight_data, pos_weight=pos_data, reduction=reduction)


def binary_cross_entropy(
    probs: Tensor, target: Tensor, weight: Tensor | None = None, reduction: str = "mean"
) -> Tensor:
    """Binary cross-entropy of probabilities p in [0, 1]:
    l = -w [y log p + (1 - y) log(1 - p)], each log clamped at -100 (PyTorch's rule).
    Prefer :func:`binary_cross_entropy_with_logits` on logits: it is stable where
    sigma(x) rounds to 0 or 1.
    """
    probs = _tensor(probs, "binary_cross_entropy", "input")
    target = _tensor(target, "binary_cross_entropy", "target")
    _check_binary(probs, target, reduction, "binary_cross_entropy")
    if probs.data.size:
        low, high = float(probs.data.min()), float(probs.data.max())
        if not (low >= 0 and high <= 1):
            raise ValueError(
                f"binary_cross_entropy: input must be probabilities in [0, 1]; got values from "
                f"{low} to {high}. For logits use binary_cross_entropy_with_logits"
            )
    weight_data = _broadcast_weight(weight, probs, "weight", "binary_cross_entropy")
    return nn_ops.BinaryCrossEntropy.apply(probs, target, weight=weight_data, reduction=reduction)


# ---------------------------------------------------------------------- regression losses


def mse_loss(input: Tensor, target: Tensor, reduction: str = "mean") -> Tensor:
    """Mean squared error: l = (x - y)^2 elementwise; "mean" gives (1/n) sum (x - y)^2.
    Gradient: dl/dx = 2 (x - y) (/ n for "mean")."""
    return _pointwise(nn_ops.MSELoss, input, target, reduction, "mse_loss")


def l1_loss(input: Tensor, target: Tensor, reduction: str = "mean") -> Tensor:
    """Absolute error: l = |x - y| elementwise; gradient sign(x - y) (0 where x = y)."""
    return _pointwise(nn_ops.L1Loss, input, target, reduction, "l1_loss")


def huber_loss(input: Tensor, target: Tensor, reduction: str = "mean", delta: float = 1.0) -> Tensor:
    """Huber loss (Huber 1964) of d = x - y: d^2 / 2 where |d| <= delta, else
    delta (|d| - delta / 2): quadratic near 0, linear (robust to outliers) beyond delta.
    Gradient: clip(d, -delta, delta)."""
    if not delta > 0:
        raise ValueError(f"huber_loss: delta must be positive; got {delta}")
    return _pointwise(nn_ops.HuberLoss, input, target, reduction, "huber_loss", delta=float(delta))


# ---------------------------------------------------------------------- penalties


def l1_penalty(params) -> Tensor:
    """sum over the given tensors of sum_j |theta_j| (the lasso penalty ||theta||_1), one
    graph node. Multiply by lambda and add to the loss. ``params`` is an iterable of
    tensors or a Module (all its parameters; to leave biases out pass e.g.
    ``[p for n, p in model.named_parameters() if n.endswith("weight")]``)."""
    return _penalty(nn_ops.L1Penalty, params, "l1_penalty")


def l2_penalty(params) -> Tensor:
    """sum over the given tensors of sum_j theta_j^2 (the ridge penalty ||theta||_2^2), one
    graph node; its gradient is 2 theta. Adding (lambda / 2) * l2_penalty(params) to the
    loss is weight decay with coefficient lambda. ``params`` as in :func:`l1_penalty`."""
    return _penalty(nn_ops.L2Penalty, params, "l2_penalty")


# ---------------------------------------------------------------------- checks


def _tensor(value, op: str, argument: str) -> Tensor:
    if isinstance(value, Tensor):
        return value
    raise TypeError(f"{op}: {argument} must be a Tensor; got {type(value).__name__}")


def _require_float(t: Tensor, op: str, argument: str) -> None:
    if t.data.dtype.kind != "f":
        raise TypeError(f"{op}: {argument} must be floating point (float32 or float64); got dtype {t.dtype}")


def _check_same_device(a: Tensor, b: Tensor, op: str, argument: str) -> None:
    if a.data.__class__ is b.data.__class__ is backend.host.ndarray:
        return
    if a.device != b.device:
        raise RuntimeError(f"{op}: {argument} is on {b.device} but the input is on {a.device}; move it with .to()")


def _check_same_dtype(a: Tensor, b: Tensor, op: str, argument: str) -> None:
    if a.dtype != b.dtype:
        raise TypeError(
            f"{op}: {argument} has dtype {b.dtype} but the input has dtype {a.dtype}; "
            f"convert one of them (e.g. .float() or .double())"
        )


def _check_linear(x, weight, bias, op: str, name: str) -> None:
    x = _tensor(x, op, "input")
    weight = _tensor(weight, op, "weight")
    if weight.ndim != 2:
        raise ValueError(f"{op}: weight must have shape (out_features, in_features); got shape {tuple(weight.shape)}")
    _require_float(weight, op, "weight")
    if x.ndim == 0 or x.shape[-1] != weight.shape[1]:
        raise ValueError(
            f"{op}: expected input with last dimension {weight.shape[1]} ({name}); got shape {tuple(x.shape)}"
        )
    _check_same_dtype(weight, x, op, "input")
    _check_same_device(weight, x, op, "input")
    if bias is not None:
        bias = _tensor(bias, op, "bias")
        if tuple(bias.shape) != (weight.shape[0],):
            raise ValueError(f"{op}: bias must have shape ({weight.shape[0]},) (out_features); got shape {tuple(bias.shape)}")
        _check_same_dtype(weight, bias, op, "bias")
        _check_same_device(weight, bias, op, "bias")


def _check_probability(p, op: str) -> None:
    if isinstance(p, bool) or not isinstance(p, (int, float)) or not 0 <= p < 1:
        raise ValueError(f"{op}: p (the probability of zeroing an element) must be a number in [0, 1); got {p!r}")


def _check_reduction(reduction, op: str) -> None:
    if reduction not in _REDUCTIONS:
        raise ValueError(f"{op}: reduction must be 'mean', 'sum' or 'none'; got {reduction!r}")


def _check_degree(degree, op: str) -> None:
    if isinstance(degree, bool) or not isinstance(degree, int) or degree < 1:
        raise ValueError(f"{op}: degree must be an int >= 1; got {degree!r}")


def _check_channel_vector(t, name: str, channels: int, x: Tensor) -> None:
    t = _tensor(t, "batch_norm", name)
    if tuple(t.shape) != (channels,):
        raise ValueError(
            f"batch_norm: {name} must have shape ({channels},) (one value per channel, dim 1 of the "
            f"input of shape {tuple(x.shape)}); got shape {tuple(t.shape)}"
        )
    _check_same_device(x, t, "batch_norm", name)


def _check_same_shape(a: Tensor, b: Tensor, op: str, name_a: str, name_b: str) -> None:
    if tuple(a.shape) != tuple(b.shape):
        hint = ""
        if a.data.size == b.data.size:
            hint = f"; reshape one of them, e.g. {name_b.split()[0]}.reshape({tuple(a.shape)})"
        raise ValueError(
            f"{op}: {name_a} and {name_b} must have the same shape; got {tuple(a.shape)} and "
            f"{tuple(b.shape)} (no broadcasting: a mismatch like (N, 1) vs (N,) would silently "
            f"give an (N, N) loss){hint}"
        )


def _class_count(t: Tensor, op: str) -> int:
    if t.ndim == 0:
        raise ValueError(f"{op}: input must have a class dimension, shape (N, C), (N, C, d1, …) or (C,); got a 0-d tensor")
    return t.shape[0] if t.ndim == 1 else t.shape[1]


def _class_weight(weight, classes: int, like: Tensor, op: str):
    if weight is None:
        return None
    weight = _tensor(weight, op, "weight")
    if tuple(weight.shape) != (classes,):
        raise ValueError(f"{op}: weight must have shape ({classes},) (one per class); got shape {tuple(weight.shape)}")
    _check_same_device(like, weight, op, "weight")
    return weight.data.astype(like.dtype, copy=False)


def _check_class_targets(scores: Tensor, target: Tensor, classes: int, ignore_index, op: str) -> bool:
    """Validate int64 class targets; return whether any equals ``ignore_index``."""
    if isinstance(ignore_index, bool) or not isinstance(ignore_index, int):
        raise TypeError(f"{op}: ignore_index must be an int; got {ignore_index!r}")
    if target.dtype != backend.int64:
        raise TypeError(
            f"{op}: target must be int64 class indices (or float class probabilities of the "
            f"input's shape); got dtype {target.dtype}"
        )
    expected = () if scores.ndim == 1 else scores.shape[:1] + scores.shape[2:]
    if tuple(target.shape) != tuple(expected):
        raise ValueError(
            f"{op}: target must have shape {tuple(expected)} for input of shape {tuple(scores.shape)} "
            f"(one class index per row); got shape {tuple(target.shape)}"
        )
    _check_same_device(scores, target, op, "target")
    data = target.data
    if data.size == 0:
        return False
    # One reduction checks 0 <= t < C: negative int64 values are huge as uint64.
    if int(data.view("uint64").max()) < classes:
        return 0 <= ignore_index < classes and bool((data == ignore_index).any())
    ignored = data == ignore_index
    bad = data[~ignored & ((data < 0) | (data >= classes))]
    if bad.size:
        raise IndexError(
            f"{op}: target contains class index {int(bad.reshape(-1)[0])}, outside [0, {classes}) "
            f"for input with {classes} classes (ignore_index={ignore_index})"
        )
    return bool(ignored.any())


def _check_binary(x: Tensor, target: Tensor, reduction, op: str) -> None:
    _require_float(x, op, "input")
    _check_reduction(reduction, op)
    if target.dtype.kind != "f":
        raise TypeError(f"{op}: target must be floating point (values in [0, 1]); got dtype {target.dtype}. Use target.float()")
    _check_same_shape(x, target, op, "input", "target")
    _check_same_dtype(x, target, op, "target")
    _check_same_device(x, target, op, "target")


def _broadcast_weight(weight, like: Tensor, name: str, op: str):
    if weight is None:
        return None
    weight = _tensor(weight, op, name)
    shape = tuple(weight.shape)
    target = tuple(like.shape)
    fits = len(shape) <= len(target) and all(
        size in (1, target[len(target) - len(shape) + i]) for i, size in enumerate(shape)
    )
    if not fits:
        raise ValueError(f"{op}: {name} of shape {shape} does not broadcast to the input's shape {target}")
    _check_same_device(like, weight, op, name)
    return weight.data.astype(like.dtype, copy=False)


def _pointwise(cls, x, target, reduction, op: str, **params) -> Tensor:
    if x.__class__ is Tensor and target.__class__ is Tensor and reduction in _REDUCTIONS:
        a, b = x.data, target.data  # the common case, checked in one go; errors below
        same = a.shape == b.shape and a.dtype == b.dtype and a.__class__ is b.__class__ is _HOST_ARRAY
        if same and a.dtype.kind == "f":
            return cls.apply(x, target, reduction=reduction, **params)
    x = _tensor(x, op, "input")
    target = _tensor(target, op, "target")
    _require_float(x, op, "input")
    _require_float(target, op, "target")
    _check_reduction(reduction, op)
    _check_same_shape(x, target, op, "input", "target")
    _check_same_dtype(x, target, op, "target")
    _check_same_device(x, target, op, "target")
    return cls.apply(x, target, reduction=reduction, **params)


def _penalty(cls, params, op: str) -> Tensor:
    if hasattr(params, "parameters") and callable(params.parameters):
        params = params.parameters()
    tensors = list(params) if not isinstance(params, Tensor) else [params]
    if not tensors:
        raise ValueError(f"{op}: params is empty; pass model.parameters() or a list of tensors")
    for position, t in enumerate(tensors):
        _tensor(t, op, f"params[{position}]")
        _require_float(t, op, f"params[{position}]")
        _check_same_device(tensors[0], t, op, f"params[{position}]")
    return cls.apply(*tensors)

