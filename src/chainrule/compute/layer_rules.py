"""The FLOP rules of the layers: what one call of each ``chainrule.nn`` layer costs, forward and
backward, from the shapes of its inputs and outputs (and, for shape-only counting, the shapes of
its outputs from those of its inputs).

Notation: n = elements of the output, R = rows (the product of the leading dimensions), C =
channels, k = the kernel's taps (the product of its sizes), "mm(a, b, c)" = a product of an
(a × b) and a (b × c) matrix = 2·a·b·c FLOPs. "[if x]" marks a gradient computed only when x
needs one: an input needs one when a trainable parameter or a gradient-tracking input lies
upstream of it (the data fed to a network does not), a parameter when ``requires_grad``.

=======================  ==================================  ==========================================
layer                    forward                             backward
=======================  ==================================  ==========================================
Linear(i, o)             mm(R, i, o); R·o bias adds          dW mm [if W]; dx mm [if x]; db R·o [if b]
Conv1d, Conv2d           2·n·(C_in/groups)·k; n bias adds    dW, dx: as the forward each [if W / x];
                                                             db: n reduction
ConvTranspose2d          2·(input elements)·(C_out/g)·k      as Conv2d
MaxPool1d/2d             reduction n·k (compares)            n (route to the maxima) [if x]
AvgPool1d/2d             reduction n·k; n divides            n·k [if x]
AdaptiveAvgPool2d        reduction Σ window sizes; n         Σ window sizes [if x]
Upsample (nearest)       0 (copies)                          reduction n (sum the copies) [if x]
BatchNorm1d/2d           as in :mod:`~chainrule.compute.counting` (train: 4n + C, reduction 2n …)
LayerNorm, GroupNorm     4n + R; reduction 2n; affine        6n, reduction 2n [if x]; n + reduction n
                         +n per weight and bias              [if weight]; reduction n [if bias]
RMSNorm                  2n + R; reduction n; +n weight      4n, reduction n [if x]; weight as above
Embedding(V, D)          0 FLOPs: a gather; memory           R·D adds (scatter) [if W]; memory
                         2·R·D·itemsize                      3·R·D·itemsize + V·D·itemsize (the dense dW)
MultiheadAttention       projections mm(N·L, E, E) for Q     dW of each projection [if W]; dx of query,
(E, H heads, L queries,  and the output, mm(N·S, kdim/vdim,  key, value [if they need one]; attention:
S keys)                  E) for K and V; QK': mm(N·H·L, d,   dV [if V]; dP [if Q or K]; dQ [if Q];
                         S), PV: mm(N·H·L, S, d); softmax    dK [if K]: each 2·N·L·S·E; softmax 3,
                         3 + reduction 2 per score; scale,   reduction 1 per score
                         mask, dropout 1 or 2 per score
RNN, GRU, LSTM           per layer and direction: input      dW_ih, dW_hh, dW_hr (one mm each per
(T steps, B, G = gates   projection mm(T·B, I, G); hidden    product) [if W]; dx [if the layer's input
· H, H_out)              mm(B, H_out, G) per step; proj      needs one]; dh per step except the first
                         mm(B, H, P) per step; gates:        unless h_0 needs one; proj d(o·tanh c)
                         2H (RNN), 18H (GRU), 22H (LSTM)     per step; gates 4H, 20H, 24H per row
                         per row per step
RNNCell, GRUCell,        mm(B, I, G) + mm(B, H, G)           dW [if W]; dx [if x]; dh [if h given
LSTMCell                                                     and needing one]
Dropout2d (training)     2·N·C (mask per channel) + n        n
ReLU, LeakyReLU, Sigmoid, Tanh, GELU, SiLU, ELU, SELU, Softplus, Hardtanh: per element, see ACTIVATIONS
Softmax, LogSoftmax, Dropout, Flatten, Identity, PolynomialFeatures: as in the counting module
=======================  ==================================  ==========================================

All matrix products, convolutions and attention products are "matmul-class" FLOPs
(``forward_matmul``, ``backward_matmul``), what ``torch.utils.flop_counter.FlopCounterMode``
counts; everything else is elementwise or reduction work, reported separately.
"""
from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

from ..engine.tensor import Tensor
from .meta import meta_tensor

__all__ = ["Call", "Rule", "BASIC_RULES", "ACTIVATIONS", "numel", "products", "tensors_in", "batch_norm_counts",
           "norm_counts", "embedding_counts", "softmax_counts"]


@dataclass
class Call:
    """One call of a layer: its arguments, its output and ``needs(tensor)``, whether a gradient
    flows into a tensor in the backward pass."""

    module: object
    args: tuple
    kwargs: dict
    output: object
    needs: Callable

    def arg(self, index: int, name: str, default=None):
        if len(self.args) > index:
            return self.args[index]
        return self.kwargs.get(name, default)

    @property
    def x(self):
        return self.arg(0, "input")

    @property
    def out(self):
        found = tensors_in(self.output)
        return found[0] if found else None

    @staticmethod
    def trainable(parameter) -> bool:
        return parameter is not None and bool(parameter.requires_grad)


@dataclass(frozen=True)
class Rule:
    """``count(module, call) -> Counter`` of FLOPs; ``meta(module, args, kwargs) -> output``, the
    layer's output as zero-stride tensors of the right shapes (shape-only counting)."""

    count: Callable
    meta: Callable


# ---------------------------------------------------------------------- helpers


def numel(shape) -> int:
    return math.prod(int(s) for s in shape)


def tensors_in(value) -> list:
    """The Tensors in an output (a Tensor, or tuples and lists of them, None skipped)."""
    if isinstance(value, Tensor):
        return [value]
    if isinstance(value, (tuple, list)):
        return [t for item in value for t in tensors_in(item)]
    return []


def products(macs: int, *needs: bool) -> Counter:
    """A product of ``macs`` multiply-adds: 2·macs forward, 2·macs backward per operand needing a gradient."""
    return Counter(forward_matmul=2 * macs, backward_matmul=2 * macs * sum(bool(n) for n in needs))


def _bias(call, bias, adds: int) -> Counter:
    if bias is None:
        return Counter()
    return Counter(forward_elementwise=adds, backward_reduction=adds if call.trainable(bias) else 0)


def _same_shape(module, args, kwargs):
    x = args[0] if args else kwargs.get("input")
    return meta_tensor(x.shape, x.data.dtype)


def _run(module, args, kwargs):
    """Shape-only layers (reshapes, the identity) run as they are: on zero-stride arrays their views are free."""
    return type(module).forward(module, *args, **kwargs)


# ---------------------------------------------------------------------- matrix products and convolutions


def _linear(module, call) -> Counter:
    x = call.x
    rows = numel(x.shape[:-1])
    counts = products(rows * module.in_features * module.out_features, call.needs(x), call.trainable(module.weight))
    return counts + _bias(call, module.bias, rows * module.out_features)


def _linear_meta(module, args, kwargs):
    x = args[0] if args else kwargs["x"]
    return meta_tensor(tuple(x.shape[:-1]) + (module.out_features,), x.data.dtype)


def _conv(module, call) -> Counter:
    x, n = call.x, numel(call.out.shape)
    taps = math.prod(module.kernel_size)
    if module.transposed:
        macs = numel(x.shape) * (module.out_channels // module.groups) * taps
    else:
        macs = n * (module.in_channels // module.groups) * taps
    return products(macs, call.needs(x), call.trainable(module.weight)) + _bias(call, module.bias, n)


def _conv_meta(module, args, kwargs):
    from ..nn.conv_arguments import conv_output_size, transposed_output_size  # noqa: PLC0415

    x, dims, name = (args[0] if args else kwargs["input"]), module.dims, type(module).__name__
    size = tuple(x.shape[-dims:])
    if module.transposed:
        output_size = args[1] if len(args) > 1 else kwargs.get("output_size")
        extra = module.output_padding_for(x, output_size)
        grid = transposed_output_size(size, module.kernel_size, module.stride, module.padding, module.dilation,
                                      extra, name)
    else:
        before, after = module.pads
        grid = conv_output_size(size, before, after, module.kernel_size, module.stride, module.dilation, name)
    return meta_tensor(tuple(x.shape[:-dims - 1]) + (module.out_channels,) + tuple(grid), x.data.dtype)


# ---------------------------------------------------------------------- pooling and upsampling


def _window(value, dims: int) -> tuple:
    return tuple(value) if isinstance(value, (tuple, list)) else (value,) * dims


def _pool(module, call) -> Counter:
    n = numel(call.out.shape)
    taps = math.prod(_window(module.kernel_size, _dims(module)))
    needs = call.needs(call.x)
    if type(module).__name__.startswith("Max"):
        return Counter(forward_reduction=n * taps, backward_elementwise=n if needs else 0)
    return Counter(forward_reduction=n * taps, forward_elementwise=n, backward_elementwise=n * taps if needs else 0)


def _dims(module) -> int:
    return 1 if type(module).__name__.endswith("1d") else 2


def _pool_meta(module, args, kwargs):
    from ..nn.conv_arguments import pool_output_size  # noqa: PLC0415

    x, dims = (args[0] if args else kwargs["input"]), _dims(module)
    kernel = _window(module.kernel_size, dims)
    stride = _window(module.stride, dims)
    dilation = _window(getattr(module, "dilation", 1), dims)
    grid = pool_output_size(tuple(x.shape[-dims:]), kernel, stride, _window(module.padding, dims), dilation,
                            bool(module.ceil_mode), type(module).__name__)
    out = meta_tensor(tuple(x.shape[:-dims]) + tuple(grid), x.data.dtype)
    if getattr(module, "return_indices", False):
        return out, meta_tensor(out.shape, "int64")
    return out


def _adaptive_grid(module, x) -> tuple:
    sizes = module.output_size if isinstance(module.output_size, (tuple, list)) else (module.output_size,) * 2
    return tuple(n if o is None else o for n, o in zip(x.shape[-2:], sizes))


def _adaptive_taps(size: int, grid: int) -> int:
    """Σ over the windows of their sizes: window a covers floor(a n / o) … ceil((a + 1) n / o) - 1."""
    return sum(-(-(a + 1) * size // grid) - (a * size // grid) for a in range(grid))


def _adaptive_pool(module, call) -> Counter:
    x = call.x
    (h, w), (oh, ow) = x.shape[-2:], _adaptive_grid(module, x)
    taps = numel(x.shape[:-2]) * _adaptive_taps(h, oh) * _adaptive_taps(w, ow)
    return Counter(forward_reduction=taps, forward_elementwise=numel(call.out.shape),
                   backward_elementwise=taps if call.needs(x) else 0)


def _adaptive_pool_meta(module, args, kwargs):
    x = args[0] if args else kwargs["input"]
    return meta_tensor(tuple(x.shape[:-2]) + _adaptive_grid(module, x), x.data.dtype)


def _upsample(module, call) -> Counter:
    return Counter(backward_reduction=numel(call.out.shape) if call.needs(call.x) else 0)


def _upsample_meta(module, args, kwargs):
    x = args[0] if args else kwargs["input"]
    dims = x.ndim - 2
    if module.size is not None:
        grid = _window(module.size, dims)
    else:
        factors = _window(module.scale_factor, dims)
        grid = tuple(math.floor(float(n) * f) for n, f in zip(x.shape[2:], factors))
    return meta_tensor(tuple(x.shape[:2]) + tuple(grid), x.data.dtype)


# ---------------------------------------------------------------------- normalization


def batch_norm_counts(n: int, channels: int, batch_statistics: bool, needs_x: bool, weight: bool,
                      bias: bool, affine: bool) -> Counter:
    """BatchNorm's rule (see :mod:`chainrule.compute.counting`)."""
    if batch_statistics:
        counts = Counter(forward_elementwise=4 * n + channels + (2 * n if affine else 0), forward_reduction=2 * n)
        if needs_x:
            return counts + Counter(backward_elementwise=6 * n, backward_reduction=2 * n)
        return counts + Counter(backward_elementwise=n if weight else 0, backward_reduction=n * (weight + bias))
    counts = Counter(forward_elementwise=2 * n + (2 * n if affine else 0))
    return counts + Counter(backward_elementwise=(n if needs_x else 0) + (n if weight else 0),
                            backward_reduction=n * (weight + bias))


def _batch_norm(module, call) -> Counter:
    batch_statistics = module.training or not module.track_running_stats
    return batch_norm_counts(numel(call.x.shape), module.num_features, batch_statistics, call.needs(call.x),
                             call.trainable(module.weight), call.trainable(module.bias), module.weight is not None)


def norm_counts(n: int, rows: int, needs_x: bool, weight: bool, bias: bool, has_weight: bool, has_bias: bool,
                rms: bool = False) -> Counter:
    """Layer, group and RMS normalization of n elements in ``rows`` groups (statistics per row)."""
    affine = n * (has_weight + has_bias)
    if rms:
        counts = Counter(forward_elementwise=2 * n + rows + affine, forward_reduction=n)
        x_grad = Counter(backward_elementwise=4 * n, backward_reduction=n)
    else:
        counts = Counter(forward_elementwise=4 * n + rows + affine, forward_reduction=2 * n)
        x_grad = Counter(backward_elementwise=6 * n, backward_reduction=2 * n)
    if needs_x:
        counts += x_grad
    if weight:
        counts += Counter(backward_elementwise=n, backward_reduction=n)
    if bias:
        counts += Counter(backward_reduction=n)
    return counts


def _layer_norm(module, call) -> Counter:
    n = numel(call.x.shape)
    rows = n // max(numel(module.normalized_shape), 1)
    bias = getattr(module, "bias", None)
    return norm_counts(n, rows, call.needs(call.x), call.trainable(module.weight), call.trainable(bias),
                       module.weight is not None, bias is not None, rms=type(module).__name__ == "RMSNorm")


def _group_norm(module, call) -> Counter:
    x = call.x
    rows = x.shape[0] * module.num_groups
    return norm_counts(numel(x.shape), rows, call.needs(x), call.trainable(module.weight),
                       call.trainable(module.bias), module.weight is not None, module.bias is not None)


# ---------------------------------------------------------------------- embedding, dropout, the rest


def embedding_counts(rows: int, dim: int, vocabulary: int, itemsize: int, trainable: bool) -> Counter:
    """A lookup of ``rows`` vectors: no arithmetic, memory traffic; its gradient a scatter-add."""
    counts = Counter(forward_memory_bytes=2 * rows * dim * itemsize)
    if trainable:
        counts += Counter(backward_elementwise=rows * dim,
                          backward_memory_bytes=(3 * rows * dim + vocabulary * dim) * itemsize)
    return counts


def _embedding(module, call) -> Counter:
    weight = module.weight
    return embedding_counts(numel(call.x.shape), module.embedding_dim, module.num_embeddings,
                            weight.data.dtype.itemsize, call.trainable(weight))


def _embedding_meta(module, args, kwargs):
    x = args[0] if args else kwargs["input"]
    return meta_tensor(tuple(x.shape) + (module.embedding_dim,), module.weight.data.dtype)


def _dropout(module, call) -> Counter:
    if not module.training or module.p == 0:
        return Counter()
    n = numel(call.x.shape)
    return Counter(forward_elementwise=2 * n, backward_elementwise=n if call.needs(call.x) else 0)


def _dropout2d(module, call) -> Counter:
    if not module.training or module.p == 0:
        return Counter()
    x = call.x
    n = numel(x.shape)
    masks = numel(x.shape[:-2]) if x.ndim == 4 else numel(x.shape[:-1])
    return Counter(forward_elementwise=2 * masks + n, backward_elementwise=n if call.needs(x) else 0)


#: (forward, backward) FLOPs per element of the activation layers.
ACTIVATIONS = {
    "ReLU": (1, 1), "LeakyReLU": (2, 2), "Sigmoid": (4, 3), "Tanh": (1, 3), "SiLU": (5, 5), "ELU": (4, 3),
    "SELU": (5, 4), "Softplus": (5, 5), "Hardtanh": (2, 2),
}


def _activation(module, call) -> Counter:
    n = numel(call.x.shape)
    kind = type(module).__name__
    if kind == "GELU":
        forward, backward = (9, 14) if module.approximate == "tanh" else (5, 11)
    else:
        forward, backward = ACTIVATIONS[kind]
    return Counter(forward_elementwise=forward * n, backward_elementwise=backward * n if call.needs(call.x) else 0)


def softmax_counts(n: int, rows: int, needs: bool, log: bool = False) -> Counter:
    counts = Counter(forward_elementwise=3 * n + (rows if log else 0), forward_reduction=2 * n)
    return counts + (Counter(backward_elementwise=3 * n, backward_reduction=n) if needs else Counter())


def _softmax(module, call) -> Counter:
    n = numel(call.x.shape)
    rows = n // call.x.shape[module.dim] if call.x.ndim else 1
    return softmax_counts(n, rows, call.needs(call.x), log=type(module).__name__ == "LogSoftmax")


def _free(module, call) -> Counter:
    return Counter()


def _polynomial(module, call) -> Counter:
    x = call.x
    rows = numel(x.shape[:-1])
    powers = module.powers(x.shape[-1])
    multiplies = rows * int(sum(max(int(degree) - 1, 0) for degree in powers.sum(axis=1).tolist()))
    return Counter(forward_elementwise=multiplies, backward_elementwise=2 * multiplies if call.needs(x) else 0)


def _polynomial_meta(module, args, kwargs):
    x = args[0] if args else kwargs["x"]
    features = module.powers(x.shape[-1]).shape[0]
    return meta_tensor(tuple(x.shape[:-1]) + (features,), x.data.dtype)


#: layer type name -> :class:`Rule` for the layers above (the attention and recurrent layers'
#: rules are in :mod:`chainrule.compute.sequence_rules`). Layers are looked up by class name.
BASIC_RULES = {
    "Linear": Rule(_linear, _linear_meta), "NonDynamicallyQuantizableLinear": Rule(_linear, _linear_meta),
    "Conv1d": Rule(_conv, _conv_meta), "Conv2d": Rule(_conv, _conv_meta), "ConvTranspose2d": Rule(_conv, _conv_meta),
    "MaxPool1d": Rule(_pool, _pool_meta), "MaxPool2d": Rule(_pool, _pool_meta),
    "AvgPool1d": Rule(_pool, _pool_meta), "AvgPool2d": Rule(_pool, _pool_meta),
    "AdaptiveAvgPool2d": Rule(_adaptive_pool, _adaptive_pool_meta), "Upsample": Rule(_upsample, _upsample_meta),
    "BatchNorm1d": Rule(_batch_norm, _same_shape), "BatchNorm2d": Rule(_batch_norm, _same_shape),
    "LayerNorm": Rule(_layer_norm, _same_shape), "RMSNorm": Rule(_layer_norm, _same_shape),
    "GroupNorm": Rule(_group_norm, _same_shape), "Embedding": Rule(_embedding, _embedding_meta),
    "Dropout": Rule(_dropout, _same_shape), "Dropout2d": Rule(_dropout2d, _same_shape),
    "GELU": Rule(_activation, _same_shape), "Softmax": Rule(_softmax, _same_shape),
    "LogSoftmax": Rule(_softmax, _same_shape), "Flatten": Rule(_free, _run), "Unflatten": Rule(_free, _run),
    "Identity": Rule(_free, _run), "PolynomialFeatures": Rule(_polynomial, _polynomial_meta),
    **{kind: Rule(_activation, _same_shape) for kind in ACTIVATIONS},
}
