"""Functional forms of the layers and losses: plain functions of tensors.

``import chainrule.nn.functional as F``. The layer classes in :mod:`chainrule.nn`
hold parameters and call these. Layers and losses with a fused op
(:mod:`chainrule.nn.fused`) record ONE graph node: ``linear``,
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
from ..engine.tensor import Tensor, bump_version
from . import fused
from .arguments import (
    REDUCTIONS,
    broadcast_weight,
    check_binary,
    check_channel_vector,
    check_class_targets,
    check_degree,
    check_linear,
    check_probability,
    check_reduction,
    check_same_device,
    check_same_dtype,
    check_same_shape,
    class_count,
    class_weight,
    require_float,
    tensor_argument,
)

__all__ = [
    "linear", "relu", "leaky_relu", "sigmoid", "tanh", "gelu", "softplus", "silu", "elu", "selu",
    "hardtanh", "softmax", "log_softmax",
    "identity", "flatten", "dropout", "batch_norm", "batch_norm_relu", "polynomial_features", "polynomial_powers",
    "cross_entropy", "nll_loss", "binary_cross_entropy_with_logits", "binary_cross_entropy",
    "mse_loss", "l1_loss", "huber_loss", "l1_penalty", "l2_penalty",
]

_HOST_ARRAY = backend.host.ndarray

# ---------------------------------------------------------------------- activations
# (thin aliases of the engine's ops, so F.relu etc. exist as in torch.nn.functional)


def relu(x: Tensor) -> Tensor:
    """ReLU(x) = max(x, 0) elementwise (gradient 0 at x = 0)."""
    return ops.relu(tensor_argument(x, "relu", "input"))


def leaky_relu(x: Tensor, negative_slope: float = 0.01) -> Tensor:
    """LeakyReLU(x) = x for x > 0, negative_slope * x otherwise."""
    return ops.leaky_relu(tensor_argument(x, "leaky_relu", "input"), negative_slope)


def sigmoid(x: Tensor) -> Tensor:
    """sigma(x) = 1 / (1 + e^{-x}), computed without overflow."""
    return ops.sigmoid(tensor_argument(x, "sigmoid", "input"))


def tanh(x: Tensor) -> Tensor:
    """tanh(x) = (e^x - e^{-x}) / (e^x + e^{-x})."""
    return ops.tanh(tensor_argument(x, "tanh", "input"))


def gelu(x: Tensor, approximate: str = "none") -> Tensor:
    """GELU(x) = x Phi(x), Phi the standard normal CDF (Hendrycks & Gimpel 2016);
    ``approximate="tanh"`` uses Phi(x) ~ (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))) / 2."""
    return fused.fast_gelu(tensor_argument(x, "gelu", "input"), approximate)


def softplus(x: Tensor, beta: float = 1.0, threshold: float = 20.0) -> Tensor:
    """Softplus(x) = log(1 + e^{beta x}) / beta, a smooth ReLU; x itself where beta x > threshold
    (where the two agree to float precision), as PyTorch."""
    return ops.softplus(tensor_argument(x, "softplus", "input"), beta, threshold)


def silu(x: Tensor) -> Tensor:
    """SiLU(x) = x sigma(x) (the swish of Ramachandran et al. 2017)."""
    return ops.silu(tensor_argument(x, "silu", "input"))


def elu(x: Tensor, alpha: float = 1.0) -> Tensor:
    """ELU(x) = x for x > 0, alpha (e^x - 1) otherwise (Clevert et al. 2016)."""
    return ops.elu(tensor_argument(x, "elu", "input"), alpha)


def selu(x: Tensor) -> Tensor:
    """SELU(x) = scale * ELU(x, alpha) with Klambauer et al.'s self-normalizing constants
    (alpha ~ 1.6733, scale ~ 1.0507)."""
    return ops.selu(tensor_argument(x, "selu", "input"))


def hardtanh(x: Tensor, min_val: float = -1.0, max_val: float = 1.0) -> Tensor:
    """HardTanh(x) = x clamped to [min_val, max_val] (gradient 0 outside, and at the bounds)."""
    return ops.hardtanh(tensor_argument(x, "hardtanh", "input"), min_val, max_val)


def softmax(x: Tensor, dim: int = -1) -> Tensor:
    """softmax(x)_i = exp(x_i - m) / sum_j exp(x_j - m), m = max_j x_j, along ``dim``."""
    return ops.softmax(tensor_argument(x, "softmax", "input"), dim)


def log_softmax(x: Tensor, dim: int = -1) -> Tensor:
    """log_softmax(x) = x - logsumexp(x) along ``dim`` (never log(softmax(x)), which underflows)."""
    return ops.log_softmax(tensor_argument(x, "log_softmax", "input"), dim)


def identity(x: Tensor) -> Tensor:
    """x itself."""
    return x


def flatten(x: Tensor, start_dim: int = 1, end_dim: int = -1) -> Tensor:
    """Merge dims start_dim … end_dim (by default all but the batch dim) into one."""
    return ops.flatten(tensor_argument(x, "flatten", "input"), start_dim, end_dim)


# ---------------------------------------------------------------------- layers


def linear(x: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """y = x W^T + b, one graph node.

    Shapes: x (*, in_features), weight (out_features, in_features) (PyTorch's
    layout), bias (out_features,) or None; y (*, out_features).
    Backward: dx = G W, dW = G^T x, db = sum of G over all but the last dim.
    """
    check_linear(x, weight, bias, "linear", "weight.shape[1]")
    if bias is None:
        return fused.Linear.apply(x, weight)
    return fused.Linear.apply(x, weight, bias)


def dropout(x: Tensor, p: float = 0.5, training: bool = True) -> Tensor:
    """Inverted dropout (Srivastava et al. 2014): y = x * m / (1 - p), m ~ Bernoulli(1 - p)
    independently per element, so E[y] = x; the identity when not ``training`` or p = 0.

    Each element is zeroed with probability p; the survivors are scaled by 1 / (1 - p)
    at training time so that nothing needs rescaling at evaluation time. The mask is
    drawn from chainrule's global generator (``manual_seed``).
    """
    check_probability(p, "dropout")
    x = tensor_argument(x, "dropout", "input")
    if not training or p == 0:
        return x
    require_float(x, "dropout", "input")
    keep = _random.generator().random(x.shape, dtype=backend.float32) >= p
    scale = keep.astype(x.dtype) * (1.0 / (1.0 - p))
    return fused.Dropout.apply(x, scale=backend.move(scale, x.device))


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
    """Batch normalization (Ioffe & Szegedy 2015) of x (N, C, *) per channel c:

        y = gamma_c (x - mu_c) / sqrt(sigma2_c + eps) + beta_c

    Training (``training=True``): mu and sigma2 are the batch mean and the biased
    batch variance (over N and every dimension after C); the running statistics, when given, are updated
    in place: running = (1 - momentum) * running + momentum * batch_stat, where the
    variance fed to running_var is the UNBIASED one, sigma2 * m / (m - 1) with m
    values per channel (PyTorch's rule). Evaluation: mu = running_mean,
    sigma2 = running_var. gamma (``weight``) and beta (``bias``) default to 1 and 0.
    """
    x = _batch_norm_checks(x, "batch_norm", running_mean, running_var, weight, bias)
    axes = (0,) + tuple(range(2, x.ndim))
    if training:
        statistics = _training_statistics(x, running_mean, running_var, momentum)
        mean, var = statistics.mean, statistics.var
    else:
        if running_mean is None or running_var is None:
            raise ValueError("batch_norm: running_mean and running_var are required when training=False")
        mean, var, statistics = running_mean.data, running_var.data, None
    affine = [t for t in (weight, bias) if t is not None]
    return fused.BatchNorm.apply(
        x, *affine, mean=mean, var=var, eps=eps, axes=axes, training=bool(training),
        has_weight=weight is not None, has_bias=bias is not None, statistics=statistics,
    )


def _batch_norm_checks(x, name, running_mean, running_var, weight, bias):
    """x as a float Tensor of shape (N, C, *), the per-channel vectors checked against it."""
    x = tensor_argument(x, name, "input")
    require_float(x, name, "input")
    if x.ndim < 2:
        raise ValueError(
            f"{name}: expected input of shape (N, C), (N, C, L), (N, C, H, W) …; got shape {tuple(x.shape)}"
        )
    channels = x.shape[1]
    for label, t in (("running_mean", running_mean), ("running_var", running_var), ("weight", weight),
                     ("bias", bias)):
        if t is not None:
            check_channel_vector(t, label, channels, x)
            check_same_dtype(x, t, name, label)
    return x


def _check_count(x):
    """Training needs more than one value per channel."""
    if x.data.size // x.shape[1] <= 1:
        raise ValueError(
            f"batch_norm: expected more than 1 value per channel when training; got input "
            f"shape {tuple(x.shape)}. Use a batch of at least 2 rows, or eval() mode"
        )


def _training_statistics(x, running_mean, running_var, momentum):
    """The batch statistics of x per channel (one pass for the mean, one for the variance),
    after checking there is more than one value per channel; the running statistics updated."""
    _check_count(x)
    statistics = fused.batch_statistics(x.data)
    _update_running(running_mean, running_var, statistics.mean, statistics.var, momentum,
                    x.data.size // x.shape[1])
    return statistics


def _update_running(running_mean, running_var, mean, var, momentum, count):
    """running = (1 - momentum) running + momentum batch (the variance unbiased), in place."""
    if running_mean is not None:
        running_mean.data[...] = (1 - momentum) * running_mean.data + momentum * mean
        bump_version(running_mean)
    if running_var is not None:
        running_var.data[...] = (1 - momentum) * running_var.data + momentum * var * (count / (count - 1))
        bump_version(running_var)


def batch_norm_relu(
    x: Tensor,
    running_mean: Tensor | None,
    running_var: Tensor | None,
    weight: Tensor | None = None,
    bias: Tensor | None = None,
    training: bool = False,
    momentum: float = 0.1,
    eps: float = 1e-5,
    residual: Tensor | None = None,
) -> Tensor:
    """``relu(batch_norm(x, …) + residual)`` (the residual optional): a ResNet's normalization,
    shortcut and activation. Not in torch.nn.functional; equal to that composition (running
    statistics updated alike). In training mode it is ONE graph node
    (:class:`~chainrule.nn.fused.batch_norm_relu.BatchNormReLU`, on compiled kernels for
    channels-last feature maps); in evaluation mode the composition itself."""
    x = _batch_norm_checks(x, "batch_norm_relu", running_mean, running_var, weight, bias)
    if residual is not None:
        residual = tensor_argument(residual, "batch_norm_relu", "residual")
        check_same_shape(x, residual, "batch_norm_relu", "input", "residual")
        check_same_dtype(x, residual, "batch_norm_relu", "residual")
        check_same_device(x, residual, "batch_norm_relu", "residual")
    if not training:
        out = batch_norm(x, running_mean, running_var, weight, bias, False, momentum, eps)
        return ops.relu(out if residual is None else out + residual)
    statistics = _training_statistics(x, running_mean, running_var, momentum)
    inputs = [t for t in (weight, bias, residual) if t is not None]
    return fused.BatchNormReLU.apply(
        x, *inputs, mean=statistics.mean, var=statistics.var, eps=eps, has_weight=weight is not None,
        has_bias=bias is not None, has_residual=residual is not None, statistics=statistics,
    )


def polynomial_powers(in_features: int, degree: int, interaction_only: bool = False, include_bias: bool = False):
    """The exponent matrix P (one row per output feature, one column per input) of
    :func:`polynomial_features`, as a host int64 array.

    Terms come in scikit-learn's order: by total degree, then lexicographically in
    the input indices (for two inputs and degree 2: x1, x2, x1^2, x1 x2, x2^2).
    """
    check_degree(degree, "polynomial_powers")
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
    x = tensor_argument(x, "polynomial_features", "input")
    require_float(x, "polynomial_features", "input")
    if x.ndim != 2:
        raise ValueError(f"polynomial_features: expected input of shape (N, d); got shape {tuple(x.shape)}")
    powers = polynomial_powers(x.shape[1], degree, interaction_only, include_bias)
    return fused.PolynomialFeatures.apply(x, powers=backend.move(powers.astype(x.dtype), x.device))


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
    logits = tensor_argument(logits, "cross_entropy", "input")
    target = tensor_argument(target, "cross_entropy", "target")
    require_float(logits, "cross_entropy", "input (logits)")
    check_reduction(reduction, "cross_entropy")
    if not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(f"cross_entropy: label_smoothing must lie in [0, 1]; got {label_smoothing}")
    classes = class_count(logits, "cross_entropy")
    weight_data = class_weight(weight, classes, logits, "cross_entropy")
    if target.dtype.kind == "f":
        check_same_shape(logits, target, "cross_entropy", "input (logits)", "target (probabilities)")
        check_same_dtype(logits, target, "cross_entropy", "target")
        return fused.SoftCrossEntropy.apply(
            logits, target, weight=weight_data, reduction=reduction, label_smoothing=float(label_smoothing)
        )
    ignored = check_class_targets(logits, target, classes, ignore_index, "cross_entropy")
    return fused.CrossEntropy.apply(
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
    log_probs = tensor_argument(log_probs, "nll_loss", "input")
    target = tensor_argument(target, "nll_loss", "target")
    require_float(log_probs, "nll_loss", "input (log-probabilities)")
    check_reduction(reduction, "nll_loss")
    classes = class_count(log_probs, "nll_loss")
    weight_data = class_weight(weight, classes, log_probs, "nll_loss")
    ignored = check_class_targets(log_probs, target, classes, ignore_index, "nll_loss")
    return fused.NLLLoss.apply(
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
    logits = tensor_argument(logits, "binary_cross_entropy_with_logits", "input")
    target = tensor_argument(target, "binary_cross_entropy_with_logits", "target")
    check_binary(logits, target, reduction, "binary_cross_entropy_with_logits")
    weight_data = broadcast_weight(weight, logits, "weight", "binary_cross_entropy_with_logits")
    pos_data = broadcast_weight(pos_weight, logits, "pos_weight", "binary_cross_entropy_with_logits")
    return fused.BCEWithLogits.apply(logits, target, weight=weight_data, pos_weight=pos_data, reduction=reduction)


def binary_cross_entropy(
    probs: Tensor, target: Tensor, weight: Tensor | None = None, reduction: str = "mean"
) -> Tensor:
    """Binary cross-entropy of probabilities p in [0, 1]:
    l = -w [y log p + (1 - y) log(1 - p)], each log clamped at -100 (PyTorch's rule).
    Prefer :func:`binary_cross_entropy_with_logits` on logits: it is stable where
    sigma(x) rounds to 0 or 1.
    """
    probs = tensor_argument(probs, "binary_cross_entropy", "input")
    target = tensor_argument(target, "binary_cross_entropy", "target")
    check_binary(probs, target, reduction, "binary_cross_entropy")
    if probs.data.size:
        low, high = float(probs.data.min()), float(probs.data.max())
        if not (low >= 0 and high <= 1):
            raise ValueError(
                f"binary_cross_entropy: input must be probabilities in [0, 1]; got values from "
                f"{low} to {high}. For logits use binary_cross_entropy_with_logits"
            )
    weight_data = broadcast_weight(weight, probs, "weight", "binary_cross_entropy")
    return fused.BinaryCrossEntropy.apply(probs, target, weight=weight_data, reduction=reduction)


# ---------------------------------------------------------------------- regression losses


def mse_loss(input: Tensor, target: Tensor, reduction: str = "mean") -> Tensor:
    """Mean squared error: l = (x - y)^2 elementwise; "mean" gives (1/n) sum (x - y)^2.
    Gradient: dl/dx = 2 (x - y) (/ n for "mean")."""
    return _pointwise(fused.MSELoss, input, target, reduction, "mse_loss")


def l1_loss(input: Tensor, target: Tensor, reduction: str = "mean") -> Tensor:
    """Absolute error: l = |x - y| elementwise; gradient sign(x - y) (0 where x = y)."""
    return _pointwise(fused.L1Loss, input, target, reduction, "l1_loss")


def huber_loss(input: Tensor, target: Tensor, reduction: str = "mean", delta: float = 1.0) -> Tensor:
    """Huber loss (Huber 1964) of d = x - y: d^2 / 2 where |d| <= delta, else
    delta (|d| - delta / 2): quadratic near 0, linear (robust to outliers) beyond delta.
    Gradient: clip(d, -delta, delta)."""
    if not delta > 0:
        raise ValueError(f"huber_loss: delta must be positive; got {delta}")
    return _pointwise(fused.HuberLoss, input, target, reduction, "huber_loss", delta=float(delta))


# ---------------------------------------------------------------------- penalties


def l1_penalty(params) -> Tensor:
    """sum over the given tensors of sum_j |theta_j| (the lasso penalty ||theta||_1), one
    graph node. Multiply by lambda and add to the loss. ``params`` is an iterable of
    tensors or a Module (all its parameters; to leave biases out pass e.g.
    ``[p for n, p in model.named_parameters() if n.endswith("weight")]``)."""
    return _penalty(fused.L1Penalty, params, "l1_penalty")


def l2_penalty(params) -> Tensor:
    """sum over the given tensors of sum_j theta_j^2 (the ridge penalty ||theta||_2^2), one
    graph node; its gradient is 2 theta. Adding (lambda / 2) * l2_penalty(params) to the
    loss is weight decay with coefficient lambda. ``params`` as in :func:`l1_penalty`."""
    return _penalty(fused.L2Penalty, params, "l2_penalty")


# ---------------------------------------------------------------------- dispatch


def _pointwise(cls, x, target, reduction, op: str, **params) -> Tensor:
    if x.__class__ is Tensor and target.__class__ is Tensor and reduction in REDUCTIONS:
        a, b = x.data, target.data  # the common case, checked in one go; errors below
        same = a.shape == b.shape and a.dtype == b.dtype and a.__class__ is b.__class__ is _HOST_ARRAY
        if same and a.dtype.kind == "f":
            return cls.apply(x, target, reduction=reduction, **params)
    x = tensor_argument(x, op, "input")
    target = tensor_argument(target, op, "target")
    require_float(x, op, "input")
    require_float(target, op, "target")
    check_reduction(reduction, op)
    check_same_shape(x, target, op, "input", "target")
    check_same_dtype(x, target, op, "target")
    check_same_device(x, target, op, "target")
    return cls.apply(x, target, reduction=reduction, **params)


def _penalty(cls, params, op: str) -> Tensor:
    if hasattr(params, "parameters") and callable(params.parameters):
        params = params.parameters()
    tensors = list(params) if not isinstance(params, Tensor) else [params]
    if not tensors:
        raise ValueError(f"{op}: params is empty; pass model.parameters() or a list of tensors")
    for position, t in enumerate(tensors):
        tensor_argument(t, op, f"params[{position}]")
        require_float(t, op, f"params[{position}]")
        check_same_device(tensors[0], t, op, f"params[{position}]")
    return cls.apply(*tensors)


# ---------------------------------------------------------------------- convolutional networks (issue 17)
# Defined in their own modules (conv_functional, pooling_functional, dropout_functional), re-exported here
# so that torch.nn.functional's names are all in chainrule.nn.functional.
from .conv_functional import conv1d, conv2d, conv_transpose2d, fold, unfold  # noqa: E402
from .dropout_functional import dropout2d  # noqa: E402
from .pooling_functional import (  # noqa: E402
    adaptive_avg_pool2d,
    avg_pool1d,
    avg_pool2d,
    interpolate,
    max_pool1d,
    max_pool2d,
)

__all__ += [
    "conv1d", "conv2d", "conv_transpose2d", "unfold", "fold", "dropout2d",
    "max_pool1d", "max_pool2d", "avg_pool1d", "avg_pool2d", "adaptive_avg_pool2d", "interpolate",
]

# ---------------------------------------------------------------------- normalization, embeddings, attention
# (issue 17: defined beside their layers; re-exported here under torch.nn.functional's names)
from .attention import multi_head_attention_forward, scaled_dot_product_attention  # noqa: E402
from .embedding import embedding  # noqa: E402
from .normalization import group_norm, layer_norm, rms_norm  # noqa: E402

__all__ += [
    "layer_norm", "group_norm", "rms_norm", "embedding", "scaled_dot_product_attention",
    "multi_head_attention_forward",
]
