"""Layers: Linear, activations, Flatten, Identity, Dropout, BatchNorm1d, PolynomialFeatures;
BatchNorm2d, Dropout2d, Unflatten.

Each layer is a :class:`~chainrule.nn.Module` whose ``forward`` calls the function
of the same name in :mod:`chainrule.nn.functional`; the docstrings give the math.
"""
from __future__ import annotations

import math

from ..engine import backend, ops
from ..engine.creation import empty, ones, zeros
from ..engine.tensor import Tensor, tensor
from . import dropout_functional, fused, init
from . import functional as F
from .arguments import check_size, float_dtype
from .module import Module
from .parameter import Parameter

_MODULE_CALL = Module.__call__  # forward_relu fuses only while no one has swapped it

__all__ = [
    "Linear", "Identity", "Flatten", "ReLU", "LeakyReLU", "Sigmoid", "Tanh", "GELU",
    "Softmax", "LogSoftmax", "Dropout", "BatchNorm1d", "PolynomialFeatures",
    "BatchNorm2d", "Dropout2d", "Unflatten",
]

_HOST_ARRAY = backend.host.ndarray


class Linear(Module):
    """Affine map y = x W^T + b (one fused graph node; see :func:`functional.linear`).

    Inside a :class:`~chainrule.nn.Sequential` (and so an :class:`MLP`), consecutive
    Linear layers and the ReLUs after them run as ONE graph node (``linear_chain``),
    with the same values and gradients.

    Args:
        in_features: size of each input sample (the last dimension of x).
        out_features: size of each output sample.
        bias: whether to learn the additive bias b (default True).
        dtype, device: of the parameters (float32 on "cpu" by default).

    Shape:
        input (*, in_features) -> output (*, out_features); * is any number of
        leading dimensions (usually just the batch).

    Attributes:
        weight: Parameter of shape (out_features, in_features) (PyTorch's layout).
        bias: Parameter of shape (out_features,), or None.

    Initialization (``reset_parameters``, PyTorch's default): W and b are drawn from
    U(-1/sqrt(in_features), 1/sqrt(in_features)), i.e. variance 1 / (3 in_features).
    For W this is ``init.kaiming_uniform_(W, a=sqrt(5))``. Re-initialize with any
    function of :mod:`chainrule.nn.init`, e.g. ``init.kaiming_normal_(layer.weight,
    nonlinearity="relu")`` for He initialization of a ReLU network.

    Example::

        >>> layer = nn.Linear(784, 256)
        >>> layer(chainrule.randn(128, 784)).shape
        (128, 256)
    """

    def __init__(self, in_features: int, out_features: int, bias: bool = True, dtype=None, device="cpu"):
        super().__init__()
        check_size(in_features, "in_features", "Linear")
        check_size(out_features, "out_features", "Linear")
        dtype = float_dtype(dtype, "Linear")
        self.in_features, self.out_features = in_features, out_features
        self.weight = Parameter(empty(out_features, in_features, dtype=dtype, device=device))
        if bias:
            self.bias = Parameter(empty(out_features, dtype=dtype, device=device))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """W, b ~ U(-1/sqrt(in_features), 1/sqrt(in_features)) (PyTorch's default)."""
        init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            bound = 1 / math.sqrt(self.in_features) if self.in_features > 0 else 0
            init.uniform_(self.bias, -bound, bound)

    def forward(self, x: Tensor) -> Tensor:
        parameters = self._parameters  # a plain attribute: skips Module.__getattr__
        weight, bias = parameters["weight"], parameters["bias"]
        if x.__class__ is not Tensor and not isinstance(x, Tensor):
            raise TypeError(f"Linear: expected a Tensor input; got {type(x).__name__} (wrap it with chainrule.tensor)")
        data = x.data
        shape = data.shape
        if not shape or shape[-1] != self.in_features:
            raise ValueError(
                f"Linear: expected input with last dimension {self.in_features} (in_features); "
                f"got shape {tuple(x.shape)}"
            )
        if data.dtype != weight.data.dtype:
            raise TypeError(
                f"Linear: input has dtype {x.dtype} but the weights have dtype {weight.dtype}; "
                f"convert the input (x.float() / x.double()) or the model (model.to(dtype))"
            )
        if bias is None:
            return fused.Linear.apply(x, weight)
        return fused.Linear.apply(x, weight, bias)

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}, bias={self.bias is not None}"


class Identity(Module):
    """y = x (a placeholder, e.g. for an optional layer)."""

    def __init__(self, *args, **kwargs):
        super().__init__()

    def forward(self, x):
        return x


class Flatten(Module):
    """Merge dims start_dim … end_dim (default: all but the batch dim) into one:
    (N, *) -> (N, prod(*))."""

    def __init__(self, start_dim: int = 1, end_dim: int = -1):
        super().__init__()
        self.start_dim, self.end_dim = start_dim, end_dim

    def forward(self, x):
        return F.flatten(x, self.start_dim, self.end_dim)

    def extra_repr(self) -> str:
        return f"start_dim={self.start_dim}, end_dim={self.end_dim}"


class ReLU(Module):
    """ReLU(x) = max(x, 0) elementwise."""

    def forward(self, x):
        return ops.relu(x)


class LeakyReLU(Module):
    """LeakyReLU(x) = x for x > 0, negative_slope * x otherwise."""

    def __init__(self, negative_slope: float = 0.01):
        super().__init__()
        self.negative_slope = negative_slope

    def forward(self, x):
        return ops.leaky_relu(x, self.negative_slope)

    def extra_repr(self) -> str:
        return f"negative_slope={self.negative_slope}"


class Sigmoid(Module):
    """sigma(x) = 1 / (1 + e^{-x}) elementwise."""

    def forward(self, x):
        return ops.sigmoid(x)


class Tanh(Module):
    """tanh(x) elementwise."""

    def forward(self, x):
        return ops.tanh(x)


class GELU(Module):
    """GELU(x) = x Phi(x), Phi the standard normal CDF (Hendrycks & Gimpel 2016);
    ``approximate="tanh"`` for the tanh approximation."""

    def __init__(self, approximate: str = "none"):
        super().__init__()
        if approximate not in ("none", "tanh"):
            raise ValueError(f"GELU: approximate must be 'none' or 'tanh'; got {approximate!r}")
        self.approximate = approximate

    def forward(self, x):
        return fused.fast_gelu(x, self.approximate)

    def extra_repr(self) -> str:
        return f"approximate={self.approximate!r}"


class Softplus(Module):
    """Softplus(x) = log(1 + e^{beta x}) / beta; x itself where beta x > threshold."""

    def __init__(self, beta: float = 1.0, threshold: float = 20.0):
        super().__init__()
        F.softplus(tensor([0.0]), beta, threshold)  # checks the arguments now, not at the first call
        self.beta, self.threshold = beta, threshold

    def forward(self, x):
        return ops.softplus(x, self.beta, self.threshold)

    def extra_repr(self) -> str:
        return f"beta={self.beta}, threshold={self.threshold}"


class SiLU(Module):
    """SiLU(x) = x sigma(x) (swish)."""

    def forward(self, x):
        return ops.silu(x)


class ELU(Module):
    """ELU(x) = x for x > 0, alpha (e^x - 1) otherwise."""

    def __init__(self, alpha: float = 1.0):
        super().__init__()
        F.elu(tensor([0.0]), alpha)  # checks alpha now
        self.alpha = alpha

    def forward(self, x):
        return ops.elu(x, self.alpha)

    def extra_repr(self) -> str:
        return f"alpha={self.alpha}"


class SELU(Module):
    """SELU(x) = scale * ELU(x, alpha), Klambauer et al.'s self-normalizing activation."""

    def forward(self, x):
        return ops.selu(x)


class Hardtanh(Module):
    """HardTanh(x) = x clamped to [min_val, max_val]."""

    def __init__(self, min_val: float = -1.0, max_val: float = 1.0):
        super().__init__()
        F.hardtanh(tensor([0.0]), min_val, max_val)  # checks the bounds now
        self.min_val, self.max_val = min_val, max_val

    def forward(self, x):
        return ops.hardtanh(x, self.min_val, self.max_val)

    def extra_repr(self) -> str:
        return f"min_val={self.min_val}, max_val={self.max_val}"


class Softmax(Module):
    """softmax(x)_i = exp(x_i) / sum_j exp(x_j) along ``dim`` (default: the last), computed stably."""

    def __init__(self, dim: int = -1):
        super().__init__()
        self.dim = dim

    def forward(self, x):
        return ops.softmax(x, self.dim)

    def extra_repr(self) -> str:
        return f"dim={self.dim}"


class LogSoftmax(Module):
    """log_softmax(x) = x - logsumexp(x) along ``dim`` (default: the last)."""

    def __init__(self, dim: int = -1):
        super().__init__()
        self.dim = dim

    def forward(self, x):
        return ops.log_softmax(x, self.dim)

    def extra_repr(self) -> str:
        return f"dim={self.dim}"


class Dropout(Module):
    """Inverted dropout (Srivastava et al. 2014).

    Training mode: each element is zeroed with probability ``p`` and the kept ones
    are scaled by 1 / (1 - p): y = x * m / (1 - p), m ~ Bernoulli(1 - p), so
    E[y] = x and nothing needs rescaling later. Evaluation mode (``eval()``): y = x.

    Args:
        p: probability of zeroing an element, in [0, 1).
    """

    def __init__(self, p: float = 0.5):
        super().__init__()
        if isinstance(p, bool) or not isinstance(p, (int, float)) or not 0 <= p < 1:
            raise ValueError(
                f"Dropout: p (the probability of zeroing an element) must be a number in [0, 1); got {p!r}"
            )
        self.p = float(p)

    def forward(self, x):
        return F.dropout(x, self.p, self.training)

    def extra_repr(self) -> str:
        return f"p={self.p}"


class _BatchNorm(Module):
    """What BatchNorm1d and BatchNorm2d share (PyTorch's ``_BatchNorm``): the arguments, the
    parameters and buffers, the running statistics and the repr. Subclasses set ``shapes`` (the
    input shapes accepted, as text) and ``ndims`` (their numbers of dimensions)."""

    shapes, ndims = "", ()

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float | None = 0.1,
                 affine: bool = True, track_running_stats: bool = True, dtype=None, device="cpu", *,
                 bias: bool = True):
        super().__init__()
        name = type(self).__name__
        check_size(num_features, "num_features", name)
        if momentum is not None and not 0 <= momentum <= 1:
            raise ValueError(f"{name}: momentum must be in [0, 1] or None; got {momentum}")
        if not eps > 0:
            raise ValueError(f"{name}: eps must be positive; got {eps}")
        dtype = float_dtype(dtype, name)
        self.num_features, self.eps, self.momentum = num_features, eps, momentum
        self.affine, self.track_running_stats = affine, track_running_stats
        if affine:
            self.weight = Parameter(ones(num_features, dtype=dtype, device=device))
            if bias:
                self.bias = Parameter(zeros(num_features, dtype=dtype, device=device))
            else:
                self.register_parameter("bias", None)
        else:
            self.register_parameter("weight", None)
            self.register_parameter("bias", None)
        if track_running_stats:
            self.register_buffer("running_mean", zeros(num_features, dtype=dtype, device=device))
            self.register_buffer("running_var", ones(num_features, dtype=dtype, device=device))
            self.register_buffer("num_batches_tracked", tensor(0, dtype=backend.int64, device=device))
        else:
            self.register_buffer("running_mean", None)
            self.register_buffer("running_var", None)
            self.register_buffer("num_batches_tracked", None)

    def reset_running_stats(self) -> None:
        """running_mean = 0, running_var = 1, num_batches_tracked = 0."""
        if self.track_running_stats:
            self.running_mean.data[...] = 0
            self.running_var.data[...] = 1
            self.num_batches_tracked.data[...] = 0

    def forward(self, x):
        return self._normalize(F.batch_norm, x)

    def forward_relu(self, x, residual=None):
        """``relu(self(x) + residual)`` (the residual optional), in training mode as ONE graph
        node (:func:`chainrule.nn.functional.batch_norm_relu`): a ResNet block's normalization,
        shortcut and activation. The three ops instead (the batch norm called as usual) where
        something watches or replaces this module's call: hooks on it, a forward of its own
        (synchronized batch norm, the FLOP counter) or a swapped ``Module.__call__`` (the step
        compiler's tracer)."""
        if self._module_hooks is not None or "forward" in self.__dict__ or Module.__call__ is not _MODULE_CALL:
            out = self(x)
            return ops.relu(out if residual is None else out + residual)
        return self._normalize(F.batch_norm_relu, x, residual=residual)

    def _normalize(self, function, x, **extra):
        if not isinstance(x, Tensor) or x.ndim not in self.ndims or x.shape[1] != self.num_features:
            got = tuple(x.shape) if isinstance(x, Tensor) else type(x).__name__
            shapes = self.shapes.replace("C", str(self.num_features))
            raise ValueError(
                f"{type(self).__name__}: expected input of shape {shapes} "
                f"(num_features={self.num_features}); got shape {got}"
            )
        if not self.track_running_stats:  # batch statistics in both modes
            return function(x, None, None, self.weight, self.bias, True, 0.0, self.eps, **extra)
        if not self.training:
            return function(x, self.running_mean, self.running_var, self.weight, self.bias, False, 0.0, self.eps,
                            **extra)
        batches = int(self.num_batches_tracked.data) + 1
        momentum = 1.0 / batches if self.momentum is None else self.momentum
        out = function(x, self.running_mean, self.running_var, self.weight, self.bias, True, momentum, self.eps,
                       **extra)
        self.num_batches_tracked.data[...] = batches
        return out

    def extra_repr(self) -> str:
        return (
            f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, affine={self.affine}, "
            f"bias={self.bias is not None}, track_running_stats={self.track_running_stats}"
        )


class BatchNorm1d(_BatchNorm):
    """Batch normalization (Ioffe & Szegedy 2015) over a batch of shape (N, C) or (N, C, L).

    For each channel c:  y = gamma_c (x - mu_c) / sqrt(sigma2_c + eps) + beta_c.

    * Training mode: mu_c and sigma2_c are the mean and the biased variance of the
      batch (over N, and L). The running statistics are updated as
      running = (1 - momentum) * running + momentum * batch_stat, with the UNBIASED
      batch variance (m / (m - 1)) sigma2_c (m values per channel) in running_var
      (PyTorch's rule); with ``momentum=None`` they are the cumulative averages
      over all batches seen (factor 1 / num_batches_tracked).
    * Evaluation mode: mu = running_mean, sigma2 = running_var.

    Args:
        num_features: C.
        eps: added to the variance for stability (1e-5).
        momentum: weight of the newest batch in the running averages (0.1), or None.
        affine: learn gamma (``weight``, init 1) and beta (``bias``, init 0) (True).
        bias (keyword only): with ``affine``, learn beta too (True; PyTorch 2.13's argument).
        track_running_stats: keep running statistics (True); when False, batch
            statistics are used in both modes.

    Buffers: running_mean (init 0), running_var (init 1), num_batches_tracked (int64).
    """

    shapes, ndims = "(N, C) or (N, C, L)", (2, 3)


class PolynomialFeatures(Module):
    """The polynomial feature map phi(x) of each row x = (x_1, …, x_d): all monomials
    x_1^{k_1} … x_d^{k_d} of total degree 1 … ``degree``, e.g. for d = 2, degree 2:

        phi(x) = (x1, x2, x1^2, x1 x2, x2^2),

    in scikit-learn's order (by degree, then lexicographically), so the columns match
    ``sklearn.preprocessing.PolynomialFeatures(degree, include_bias=False)``. Linear
    regression on phi(x) is polynomial regression. No parameters; differentiable in x.

    Args:
        degree: the highest total degree (>= 1).
        interaction_only: keep only products of distinct inputs (x1 x2, not x1^2).
        include_bias: prepend the constant feature 1 (default False: pair with a
            Linear layer's bias instead).

    Shape: (N, d) -> (N, K) with K = C(d + degree, degree) - 1 (+ 1 with the bias).
    """

    def __init__(self, degree: int, interaction_only: bool = False, include_bias: bool = False):
        super().__init__()
        if isinstance(degree, bool) or not isinstance(degree, int) or degree < 1:
            raise ValueError(f"PolynomialFeatures: degree must be an int >= 1; got {degree!r}")
        self.degree, self.interaction_only, self.include_bias = degree, interaction_only, include_bias

    def forward(self, x):
        return F.polynomial_features(x, self.degree, self.interaction_only, self.include_bias)

    def powers(self, in_features: int):
        """The (K, d) exponent matrix: row k holds the powers of x_1 … x_d in feature k."""
        return F.polynomial_powers(in_features, self.degree, self.interaction_only, self.include_bias)

    def feature_names(self, input_names) -> list:
        """Readable names of the output features, e.g. ["x1", "x2", "x1^2", "x1 x2", "x2^2"]
        for ``input_names=["x1", "x2"]`` (or an int d: names x1 … xd)."""
        if isinstance(input_names, int):
            input_names = [f"x{i + 1}" for i in range(input_names)]
        names = []
        for row in self.powers(len(input_names)).tolist():
            parts = [name if k == 1 else f"{name}^{k}" for name, k in zip(input_names, row) if k]
            names.append(" ".join(parts) if parts else "1")
        return names

    def extra_repr(self) -> str:
        return f"degree={self.degree}, interaction_only={self.interaction_only}, include_bias={self.include_bias}"


# ---------------------------------------------------------------------- convolutional networks (issue 17)


class BatchNorm2d(_BatchNorm):
    """Batch normalization of feature maps (N, C, H, W), per channel c:

        y = gamma_c (x - mu_c) / sqrt(sigma2_c + eps) + beta_c,

    mu_c and sigma2_c the mean and the biased variance over N, H and W in training mode (the
    running statistics get the unbiased variance, m / (m - 1) sigma2_c with m = N H W), the
    running statistics in evaluation mode. Arguments, parameters, buffers and the momentum
    rule as :class:`BatchNorm1d` (one fused graph node, :mod:`chainrule.nn.fused.batch_norm`).
    """

    shapes, ndims = "(N, C, H, W)", (4,)


class Dropout2d(Module):
    """Channel dropout (Tompson et al. 2015): in training mode each channel of each sample
    (a whole H x W feature map) is zeroed with probability ``p`` and the kept ones are scaled by
    1 / (1 - p); the identity in evaluation mode (see
    :func:`~chainrule.nn.functional.dropout2d`). Input (N, C, H, W) (or (N, C, L)).

    Args:
        p: probability of zeroing a channel, in [0, 1].
        inplace: must be False (chainrule's dropout returns a new tensor).
    """

    def __init__(self, p: float = 0.5, inplace: bool = False):
        super().__init__()
        self.p = dropout_functional.check_channel_dropout_p(p, "Dropout2d")
        if inplace:
            raise ValueError("Dropout2d: inplace=True is not supported (chainrule's dropout returns a new tensor)")
        self.inplace = inplace

    def forward(self, x):
        return dropout_functional.dropout2d(x, self.p, self.training)

    def extra_repr(self) -> str:
        return f"p={self.p}, inplace={self.inplace}"


class Unflatten(Module):
    """Split dimension ``dim`` into ``unflattened_size`` (the inverse of :class:`Flatten`), e.g.
    (N, 50) -> (N, 2, 5, 5) with ``Unflatten(1, (2, 5, 5))``; one entry may be -1."""

    def __init__(self, dim: int, unflattened_size):
        super().__init__()
        if isinstance(dim, bool) or not isinstance(dim, int):
            raise TypeError(f"Unflatten: dim must be an int; got {dim!r}")
        if not isinstance(unflattened_size, (tuple, list)):
            raise TypeError(
                f"Unflatten: unflattened_size must be a tuple of ints; got {type(unflattened_size).__name__}"
            )
        for position, size in enumerate(unflattened_size):
            if isinstance(size, bool) or not isinstance(size, int):
                raise TypeError(f"Unflatten: unflattened_size must be a tuple of ints; found {type(size).__name__} "
                                f"at position {position}")
        self.dim, self.unflattened_size = dim, unflattened_size

    def forward(self, x):
        return ops.unflatten(x, self.dim, self.unflattened_size)

    def extra_repr(self) -> str:
        return f"dim={self.dim}, unflattened_size={self.unflattened_size}"
