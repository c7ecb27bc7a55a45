"""The FLOP rules of single ops, for the code a model runs between its layers: a residual
``x + f(x)``, a functional activation (``F.relu`` in TransformerEncoderLayer), a tied output
head ``F.linear(h, embedding.weight)``, ``F.scaled_dot_product_attention`` in a custom attention
block, a ``q @ k.mT``. :func:`chainrule.compute.count_flops` watches every op run outside a
counted layer (every ``Function.apply``) and applies these rules to its input and output shapes.

Matmul-class ops, one row each in the count: ``linear``, ``matmul`` (``@``, with broadcasting:
2·batch·m·k·n), ``scaled_dot_product_attention`` and ``multi_head_attention`` (see
:mod:`~chainrule.compute.sequence_rules`), ``conv2d`` and ``conv_transpose2d`` (conv1d runs
as conv2d), ``einsum`` of two operands that contracts a letter (2 × the product of all letter
sizes); backward: one product as large as the forward per operand that needs a gradient.
``embedding`` moves memory and does no arithmetic.

Elementwise ops count :data:`ELEMENTWISE` FLOPs per output element forward and per output
element backward for each input that needs a gradient; reductions count the elements they
read. Data movement (reshape, permute, indexing, cat, pad, masked_fill, where …) is free.
An op not listed is named in the count's notes as not counted.
"""
from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

from ..engine import backend
from .layer_rules import batch_norm_counts, embedding_counts, norm_counts, numel, products, softmax_counts
from .meta import meta_tensor
from .sequence_rules import attention_counts

__all__ = ["OpRule", "OP_RULES", "ELEMENTWISE", "FREE_OPS"]


@dataclass(frozen=True)
class OpRule:
    """``count(inputs, params, output, needs) -> Counter``; ``meta(inputs, params)`` -> the output
    as a zero-stride Tensor, or None to run the op (shape-only counting); ``own_row``: the op
    gets its own row (matmul-class ops) instead of joining its module's row."""

    count: Callable
    meta: Callable | None = None
    own_row: bool = False


#: op -> (forward FLOPs per output element, backward FLOPs per element per input needing a gradient).
ELEMENTWISE = {
    "add": (1, 0), "sub": (1, 1), "rsub": (1, 1), "mul": (1, 1), "div": (1, 2), "rdiv": (1, 2), "neg": (1, 1),
    "pow": (1, 3), "rpow": (1, 2), "maximum": (1, 1), "minimum": (1, 1), "exp": (1, 1), "log": (1, 1),
    "log1p": (2, 2), "expm1": (1, 1), "sqrt": (1, 2), "abs": (1, 1), "sin": (1, 2), "cos": (1, 2), "erf": (1, 3),
    "tanh": (1, 3), "sigmoid": (4, 3), "relu": (1, 1), "leaky_relu": (2, 2), "silu": (5, 5), "elu": (4, 3),
    "selu": (5, 4), "softplus": (5, 5), "hardtanh": (2, 2), "clamp": (2, 1), "lerp": (3, 2), "atan2": (3, 4),
    "logaddexp": (4, 3), "dropout": (2, 1), "sign": (1, 0), "floor": (1, 0), "ceil": (1, 0), "trunc": (1, 0),
    "round": (1, 0),
}
#: op -> (forward FLOPs per element read, backward FLOPs per element read) of the reductions.
REDUCTIONS = {
    "sum": (1, 0), "mean": (1, 1), "amax": (1, 1), "amin": (1, 1), "max": (1, 1), "min": (1, 1), "prod": (1, 2),
    "var": (3, 3), "std": (3, 3), "logsumexp": (4, 2), "linalg.vector_norm": (2, 2), "cumsum": (1, 1),
    "cumprod": (2, 3),
}
#: ops that only move or select data: no FLOPs.
FREE_OPS = frozenset({
    "reshape", "permute", "expand", "index", "cat", "stack", "pad", "clone", "cast", "to_device", "repeat", "flip",
    "roll", "tril", "triu", "diagonal", "diagonal_scatter", "gather", "index_select", "take_along_dim",
    "masked_select", "masked_fill", "where", "index_put", "scatter",
})


def _dtype(inputs):
    return backend.host.result_type(*(t.data.dtype for t in inputs))


def _broadcast(inputs) -> tuple:
    return tuple(backend.host.broadcast_shapes(*(tuple(t.shape) for t in inputs)))


# ---------------------------------------------------------------------- matmul-class ops


def _linear(inputs, params, out, needs) -> Counter:
    x, weight = inputs[0], inputs[1]
    rows = numel(x.shape[:-1])
    counts = products(rows * weight.shape[1] * weight.shape[0], needs[0], needs[1])
    if len(inputs) == 3:
        counts += Counter(forward_elementwise=rows * weight.shape[0],
                          backward_reduction=rows * weight.shape[0] if needs[2] else 0)
    return counts


def _linear_meta(inputs, params):
    return meta_tensor(tuple(inputs[0].shape[:-1]) + (inputs[1].shape[0],), _dtype(inputs))


def _matmul_sizes(a, b) -> tuple:
    m = a.shape[-2] if a.ndim > 1 else None
    n = b.shape[-1] if b.ndim > 1 else None
    batch = tuple(backend.host.broadcast_shapes(tuple(a.shape[:-2]), tuple(b.shape[:-2])))
    return batch, m, a.shape[-1], n


def _matmul(inputs, params, out, needs) -> Counter:
    batch, m, k, n = _matmul_sizes(*inputs)
    return products(numel(batch) * (m or 1) * k * (n or 1), *needs)


def _matmul_meta(inputs, params):
    batch, m, _, n = _matmul_sizes(*inputs)
    return meta_tensor(batch + tuple(s for s in (m, n) if s is not None), _dtype(inputs))


def _sdpa(inputs, params, out, needs) -> Counter:
    q, k, v = inputs[:3]
    return attention_counts(numel(q.shape[:-2]), q.shape[-2], k.shape[-2], q.shape[-1], v.shape[-1], needs[:3],
                            masked=len(inputs) == 4, dropout=params.get("keep") is not None)


def _sdpa_meta(inputs, params):
    q, v = inputs[0], inputs[2]
    return meta_tensor(tuple(q.shape[:-1]) + (v.shape[-1],), _dtype(inputs[:3]))


def _core_sizes(inputs, params) -> tuple:
    packed, heads = params["packed"], params["heads"]
    q = inputs[0]
    width = q.shape[-1] // 3 if packed else q.shape[-1]
    value_width = width if packed else inputs[2].shape[-1]
    batch, length = (q.shape[0], q.shape[1]) if params["batch_first"] else (q.shape[1], q.shape[0])
    source = length if packed else (inputs[1].shape[1] if params["batch_first"] else inputs[1].shape[0])
    return heads, batch, length, source, width, value_width


def _core(inputs, params, out, needs) -> Counter:
    heads, batch, length, source, width, value_width = _core_sizes(inputs, params)
    flags = (needs[0],) * 3 if params["packed"] else needs[:3]
    count = 1 if params["packed"] else 3
    return attention_counts(batch * heads, length, source, width // heads, value_width // heads, flags,
                            masked=len(inputs) > count, dropout=params.get("keep") is not None)


def _core_meta(inputs, params):
    _, _, _, _, width, value_width = _core_sizes(inputs, params)
    return meta_tensor(tuple(inputs[0].shape[:-1]) + (value_width,), _dtype(inputs[:1]))


def _convolution(inputs, params, out, needs) -> Counter:
    x, weight = inputs[0], inputs[1]
    taps = weight.shape[1] * math.prod(weight.shape[2:])
    n = numel(out.shape)
    counts = products((numel(x.shape) if params.get("transposed") else n) * taps, needs[0], needs[1])
    if len(inputs) == 3:
        counts += Counter(forward_elementwise=n, backward_reduction=n if needs[2] else 0)
    return counts


def _transposed(inputs, params, out, needs) -> Counter:
    return _convolution(inputs, {**params, "transposed": True}, out, needs)


def _convolution_meta(inputs, params):
    windows = params["windows"]
    return meta_tensor((inputs[0].shape[0], inputs[1].shape[0]) + tuple(windows.grid), _dtype(inputs[:2]))


def _transposed_meta(inputs, params):
    windows, channels = params["windows"], inputs[1].shape[1] * params["groups"]
    return meta_tensor((inputs[0].shape[0], channels) + tuple(windows.size), _dtype(inputs[:2]))


def _einsum(inputs, params, out, needs) -> Counter:
    letters = {}
    for subscripts, t in zip(params["inputs"], inputs):
        for letter, size in zip(subscripts, t.shape):
            letters[letter] = max(letters.get(letter, 1), int(size))
    total = math.prod(letters.values())
    contracted = set(letters) - set(params["output"])
    if len(inputs) == 1:
        return Counter(forward_reduction=numel(inputs[0].shape) if contracted else 0)
    if contracted:
        return products(total, *needs)
    return Counter(forward_elementwise=total, backward_elementwise=total * sum(bool(n) for n in needs))


# ---------------------------------------------------------------------- layer-like ops


def _embedding(inputs, params, out, needs) -> Counter:
    weight, indices = inputs
    return embedding_counts(numel(indices.shape), weight.shape[1], weight.shape[0], weight.data.dtype.itemsize,
                            needs[0])


def _embedding_meta(inputs, params):
    weight, indices = inputs
    return meta_tensor(tuple(indices.shape) + (weight.shape[1],), weight.data.dtype)


def _same_meta(inputs, params):
    return meta_tensor(inputs[0].shape, inputs[0].data.dtype)


def _affine_needs(params, needs) -> tuple:
    """(weight, bias) need a gradient: the inputs after x are the weight (if any), then the bias (if any)."""
    flags = list(needs[1:]) + [False, False]
    weight = bool(flags[0]) if params.get("has_weight") else False
    bias = bool(flags[int(bool(params.get("has_weight")))]) if params.get("has_bias") else False
    return weight, bias


def _norm(inputs, params, out, needs, rms=False) -> Counter:
    weight, bias = _affine_needs(params, needs)
    return norm_counts(numel(inputs[0].shape), params["rows"][0], needs[0], weight, bias,
                       bool(params.get("has_weight")), bool(params.get("has_bias")), rms=rms)


def _rms_norm(inputs, params, out, needs) -> Counter:
    return _norm(inputs, params, out, needs, rms=True)


def _batch_norm(inputs, params, out, needs) -> Counter:
    x = inputs[0]
    weight, bias = _affine_needs(params, needs)
    return batch_norm_counts(numel(x.shape), x.shape[1], params["training"], needs[0], weight, bias,
                             bool(params["has_weight"]))


def _softmax(inputs, params, out, needs, log=False) -> Counter:
    x = inputs[0]
    n = numel(x.shape)
    return softmax_counts(n, n // max(x.shape[params["axis"]], 1) if x.ndim else 1, needs[0], log)


def _log_softmax(inputs, params, out, needs) -> Counter:
    return _softmax(inputs, params, out, needs, log=True)


def _gelu(inputs, params, out, needs) -> Counter:
    forward, backward = (9, 14) if params.get("approximate") == "tanh" else (5, 11)
    n = numel(out.shape)
    return Counter(forward_elementwise=forward * n, backward_elementwise=backward * n if needs[0] else 0)


def _pool(inputs, params, out, needs) -> Counter:
    n, taps = numel(out.shape), params["windows"].taps
    if "divisor" in params:
        return Counter(forward_reduction=n * taps, forward_elementwise=n, backward_elementwise=n * taps * needs[0])
    return Counter(forward_reduction=n * taps, backward_elementwise=n * needs[0])


def _nearest(inputs, params, out, needs) -> Counter:
    return Counter(backward_reduction=numel(out.shape) if needs[0] else 0)


def _polynomial(inputs, params, out, needs) -> Counter:
    x, powers = inputs[0], params["powers"]
    multiplies = numel(x.shape[:-1]) * int(sum(max(int(d) - 1, 0) for d in powers.sum(axis=1).tolist()))
    return Counter(forward_elementwise=multiplies, backward_elementwise=2 * multiplies * needs[0])


# ---------------------------------------------------------------------- elementwise ops and reductions


def _elementwise(op):
    forward, backward = ELEMENTWISE[op]

    def count(inputs, params, out, needs) -> Counter:
        n = numel(out.shape)
        return Counter(forward_elementwise=forward * n, backward_elementwise=backward * n * sum(map(bool, needs)))

    return count


def _elementwise_meta(inputs, params):
    return meta_tensor(_broadcast(inputs), _dtype(inputs))


def _reduction(op):
    forward, backward = REDUCTIONS[op]

    def count(inputs, params, out, needs) -> Counter:
        n = numel(inputs[0].shape)
        return Counter(forward_reduction=forward * n, backward_elementwise=backward * n if needs[0] else 0)

    return count


def _reduction_meta(inputs, params):
    x, axes, keepdim = inputs[0], params.get("axes"), params.get("keepdim", False)
    axes = range(x.ndim) if axes is None else [a % max(x.ndim, 1) for a in axes]
    shape = tuple(1 if i in axes else s for i, s in enumerate(x.shape)) if keepdim else tuple(
        s for i, s in enumerate(x.shape) if i not in axes)
    return meta_tensor(shape, x.data.dtype)


def _free(inputs, params, out, needs) -> Counter:
    return Counter()


#: op label -> :class:`OpRule`.
OP_RULES = {
    "linear": OpRule(_linear, _linear_meta, True), "matmul": OpRule(_matmul, _matmul_meta, True),
    "scaled_dot_product_attention": OpRule(_sdpa, _sdpa_meta, True),
    "multi_head_attention": OpRule(_core, _core_meta, True),
    "conv2d": OpRule(_convolution, _convolution_meta, True), "conv_transpose2d": OpRule(_transposed, _transposed_meta,
                                                                                        True),
    "einsum": OpRule(_einsum, None, True), "embedding": OpRule(_embedding, _embedding_meta, True),
    "layer_norm": OpRule(_norm, _same_meta), "group_norm": OpRule(_norm, _same_meta),
    "rms_norm": OpRule(_rms_norm, _same_meta), "batch_norm": OpRule(_batch_norm, _same_meta),
    "softmax": OpRule(_softmax, _same_meta), "log_softmax": OpRule(_log_softmax, _same_meta),
    "gelu": OpRule(_gelu, _same_meta), "max_pool2d": OpRule(_pool), "avg_pool2d": OpRule(_pool),
    "upsample_nearest2d": OpRule(_nearest), "polynomial_features": OpRule(_polynomial),
    **{op: OpRule(_elementwise(op), _elementwise_meta) for op in ELEMENTWISE},
    **{op: OpRule(_reduction(op), _reduction_meta if op in ("sum", "mean", "amax", "amin") else None)
       for op in REDUCTIONS},
    **{op: OpRule(_free) for op in FREE_OPS},
}
