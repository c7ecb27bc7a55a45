"""Scaled dot-product attention (Vaswani et al. 2017), ``scaled_dot_product_attention`` with
torch.nn.functional's name, signature and mask conventions, and the mask helpers that
:mod:`chainrule.nn.multihead_attention` and :mod:`chainrule.nn.transformer` share.

For queries Q (…, L, E), keys K (…, S, E) and values V (…, S, Ev):

    Attention(Q, K, V) = softmax(Q K^T * scale + B) V,   scale = 1 / sqrt(E) by default

where B (…, L, S) is the additive bias built from the mask: a float ``attn_mask`` is added as
it is (it may require grad: learned position biases get their gradient), a bool one keeps the
pairs where it is True (B = 0) and masks the others (B = -inf), and ``is_causal`` masks every
key after the query (B_ij = -inf for j > i, the top-left-aligned lower triangle, as PyTorch).
A query whose keys are all masked out gets the output 0 (PyTorch's ``scaled_dot_product_attention``
does the same; its ``MultiheadAttention`` with ``need_weights=True`` gives NaN there, and so
does ours). ``dropout_p`` zeroes attention weights with that probability (scaling the rest by
1 / (1 - p)) whenever it is > 0, as PyTorch: pass 0.0 in evaluation.

The computation is one graph node (:mod:`chainrule.nn.fused.attention`, which has the
gradient formulas), tested equal to the reference composition matmul, softmax, matmul and to
PyTorch. Mask conventions differ between the two PyTorch APIs and so here: in this function a
bool mask is True where attention is ALLOWED; in ``MultiheadAttention`` (``attn_mask``,
``key_padding_mask``) True marks what is masked OUT. :func:`canonical_mask` converts the latter.

``multi_head_attention_forward`` (PyTorch's functional multi-head attention, sequence-first)
and :func:`attend` (the same in either layout, what :class:`~chainrule.nn.MultiheadAttention`
runs) are described in :mod:`chainrule.nn.multihead_attention`.

A difference from PyTorch: it accepts ``attn_mask`` together with ``is_causal=True`` and then
(on the CPU) ignores the mask; this function refuses the combination, as PyTorch documents.
"""
from __future__ import annotations

import math
import numbers

from ..engine import backend, ops
from ..engine import random as _random
from ..engine.creation import zeros
from ..engine.tensor import Tensor, wrap
from . import fused
from .arguments import (
    check_linear,
    check_probability,
    check_same_device,
    check_same_dtype,
    require_float,
    tensor_argument,
)

__all__ = [
    "scaled_dot_product_attention", "multi_head_attention_forward", "attend", "canonical_mask", "causal_bias",
    "dropout_keep", "broadcast_shape", "linear",
]

_OP = "multi_head_attention_forward"


def scaled_dot_product_attention(query: Tensor, key: Tensor, value: Tensor, attn_mask: Tensor | None = None,
                                 dropout_p: float = 0.0, is_causal: bool = False, scale: float | None = None,
                                 enable_gqa: bool = False) -> Tensor:
    """softmax(Q K^T * scale + B) V for Q (…, L, E), K (…, S, E), V (…, S, Ev); returns
    (…, L, Ev) (torch.nn.functional.scaled_dot_product_attention). ``attn_mask``: bool (True =
    take part) or float (added), broadcastable to (…, L, S); ``is_causal``: mask the keys after
    each query; ``scale``: default 1 / sqrt(E); ``dropout_p``: dropout on the weights (always
    applied when > 0); ``enable_gqa``: grouped-query attention, K and V with fewer heads
    (dim -3) than Q, each shared by Hq / Hk query heads. One graph node."""
    q, k, v = (tensor_argument(t, "scaled_dot_product_attention", name)
               for t, name in ((query, "query"), (key, "key"), (value, "value")))
    _check_qkv(q, k, v)
    check_probability(dropout_p, "scaled_dot_product_attention")
    if scale is not None and (isinstance(scale, bool) or not isinstance(scale, numbers.Real)):
        raise TypeError(f"scaled_dot_product_attention: scale must be a number or None; got {scale!r}")
    if enable_gqa:
        k, v = _grouped(q, k, v)
    batch = broadcast_shape((q.shape[:-2], k.shape[:-2], v.shape[:-2]), "scaled_dot_product_attention",
                            "the batch dims of query, key and value")
    q, k, v = (t if t.shape[:-2] == batch else ops.expand(t, *(batch + t.shape[-2:])) for t in (q, k, v))
    length, source = q.shape[-2], k.shape[-2]
    scale = 1.0 / math.sqrt(q.shape[-1]) if scale is None else float(scale)
    bias = _bias(q, attn_mask, is_causal, batch + (length, source))
    keep = dropout_keep(q, batch + (length, source), dropout_p) if dropout_p > 0 else None
    if length == 0 or source == 0 or q.shape[-1] == 0:  # nothing to normalize: the empty sums
        weights = ops.matmul(q, k.mT) * 0.0
        return ops.matmul(weights, v)
    inputs = (q, k, v) if bias is None else (q, k, v, bias)
    return fused.ScaledDotProductAttention.apply(*inputs, scale=scale, keep=keep)


def _check_qkv(q: Tensor, k: Tensor, v: Tensor) -> None:
    op = "scaled_dot_product_attention"
    for name, t in (("query", q), ("key", k), ("value", v)):
        require_float(t, op, name)
        if t.ndim < 2:
            raise ValueError(f"{op}: {name} must have at least 2 dims (…, sequence, features); got shape {t.shape}")
    check_same_dtype(q, k, op, "key")
    check_same_dtype(q, v, op, "value")
    check_same_device(q, k, op, "key")
    check_same_device(q, v, op, "value")
    if k.shape[-1] != q.shape[-1]:
        raise ValueError(
            f"{op}: key must have the query's feature size E = {q.shape[-1]} (last dim); got key of shape {k.shape}"
        )
    if v.shape[-2] != k.shape[-2]:
        raise ValueError(
            f"{op}: value must have as many positions as key (dim -2: {k.shape[-2]}); got value of shape {v.shape}"
        )


def _grouped(q: Tensor, k: Tensor, v: Tensor):
    """K and V with each of their Hk heads repeated Hq / Hk times along dim -3 (repeat_interleave)."""
    op = "scaled_dot_product_attention"
    if q.ndim < 3 or k.ndim < 3 or v.ndim < 3:
        raise ValueError(f"{op}: enable_gqa needs a heads dim (-3) in query, key and value")
    heads, groups = q.shape[-3], k.shape[-3]
    if v.shape[-3] != groups or groups == 0 or heads % groups:
        raise ValueError(
            f"{op}: enable_gqa needs key and value with the same number of heads (dim -3) dividing the "
            f"query's {heads}; got key {k.shape} and value {v.shape}"
        )
    repeat = heads // groups

    def spread(t):
        wide = ops.expand(ops.unsqueeze(t, -3), *(t.shape[:-2] + (repeat,) + t.shape[-2:]))
        return ops.reshape(wide, t.shape[:-3] + (heads,) + t.shape[-2:])

    return spread(k), spread(v)


def _bias(q: Tensor, attn_mask, is_causal: bool, scores_shape: tuple):
    """The additive bias B as a Tensor (None without a mask): a float mask itself, a bool
    mask as 0 / -inf, or the causal triangle."""
    op = "scaled_dot_product_attention"
    if is_causal:
        if attn_mask is not None:
            raise ValueError(f"{op}: pass either attn_mask or is_causal=True, not both (PyTorch documents the same)")
        return wrap(causal_bias(q, scores_shape[-2], scores_shape[-1]))
    if attn_mask is None:
        return None
    mask = tensor_argument(attn_mask, op, "attn_mask")
    check_same_device(q, mask, op, "attn_mask")
    broadcast_shape((mask.shape, scores_shape), op, f"attn_mask and the attention weights {scores_shape}")
    if len(mask.shape) > len(scores_shape):
        raise ValueError(f"{op}: attn_mask of shape {mask.shape} has more dims than the weights {scores_shape}")
    if mask.dtype == backend.bool_:
        xp = backend.namespace_of(q.data)
        mask = wrap(xp.where(mask.data, q.data.dtype.type(0), q.data.dtype.type(-math.inf)))
    elif mask.dtype != q.dtype:
        raise TypeError(
            f"{op}: attn_mask must be bool or have the query's dtype {q.dtype}; got dtype {mask.dtype}"
        )
    if mask.ndim < 2:  # (S,) or a scalar: the node reads the mask as (…, L, S)
        mask = ops.reshape(mask, (1,) * (2 - mask.ndim) + tuple(mask.shape))
    return mask


def causal_bias(like: Tensor, length: int, source: int):
    """The (L, S) array with 0 on and below the diagonal and -inf above it (keys after the
    query masked), in ``like``'s dtype and device."""
    xp = backend.namespace_of(like.data)
    above = xp.triu(xp.ones((length, source), dtype=bool), 1)
    return xp.where(above, like.data.dtype.type(-math.inf), like.data.dtype.type(0))


def dropout_keep(like: Tensor, shape: tuple, p: float):
    """The dropout factors m / (1 - p), m ~ Bernoulli(1 - p), as an array of ``shape`` in
    ``like``'s dtype and device, from chainrule's generator."""
    keep = _random.generator().random(shape, dtype=backend.float32) >= p
    return backend.move(keep.astype(like.dtype) * (1.0 / (1.0 - p)), like.device)


def canonical_mask(mask, name: str, like: Tensor, op: str):
    """A ``MultiheadAttention``-style mask (bool: True = masked OUT; or float: added) as the
    additive float Tensor PyTorch's ``F._canonical_mask`` makes: -inf where a bool mask is
    True, 0 elsewhere. None stays None."""
    if mask is None:
        return None
    mask = tensor_argument(mask, op, name)
    check_same_device(like, mask, op, name)
    if mask.dtype == backend.bool_:
        xp = backend.namespace_of(like.data)
        return wrap(xp.where(mask.data, like.data.dtype.type(-math.inf), like.data.dtype.type(0)))
    if mask.dtype.kind != "f":
        raise TypeError(f"{op}: only bool and floating-point {name} are supported; got dtype {mask.dtype}")
    if mask.dtype != like.dtype:
        raise TypeError(f"{op}: a float {name} must have the query's dtype {like.dtype}; got dtype {mask.dtype}")
    return mask


def broadcast_shape(shapes, op: str, what: str) -> tuple:
    """The broadcast of ``shapes`` (NumPy's rule), or a ValueError naming ``what``."""
    try:
        return tuple(backend.host.broadcast_shapes(*(tuple(s) for s in shapes)))
    except ValueError:
        raise ValueError(f"{op}: {what} do not broadcast: shapes {[tuple(s) for s in shapes]}") from None


def linear(x: Tensor, weight: Tensor, bias: Tensor | None) -> Tensor:
    """x W^T + b, one node (:func:`chainrule.nn.functional.linear`, which this module cannot import:
    functional re-exports it)."""
    check_linear(x, weight, bias, "linear", "weight.shape[1]")
    return fused.Linear.apply(x, weight) if bias is None else fused.Linear.apply(x, weight, bias)


# ---------------------------------------------------------------------- multi-head attention


def multi_head_attention_forward(query, key, value, embed_dim_to_check: int, num_heads: int, in_proj_weight,
                                 in_proj_bias, bias_k, bias_v, add_zero_attn: bool, dropout_p: float,
                                 out_proj_weight, out_proj_bias, training: bool = True, key_padding_mask=None,
                                 need_weights: bool = True, attn_mask=None, use_separate_proj_weight: bool = False,
                                 q_proj_weight=None, k_proj_weight=None, v_proj_weight=None, static_k=None,
                                 static_v=None, average_attn_weights: bool = True, is_causal: bool = False):
    """torch.nn.functional.multi_head_attention_forward: sequence-first inputs query (L, N, E),
    key (S, N, kdim), value (S, N, vdim) (or unbatched (L, E) …); returns (output, weights)
    as :class:`MultiheadAttention`. ``static_k`` and ``static_v`` are not supported."""
    if static_k is not None or static_v is not None:
        raise ValueError(f"{_OP}: static_k and static_v are not supported; pass them as key and value instead")
    weights = {
        "in_proj_weight": None if use_separate_proj_weight else in_proj_weight, "in_proj_bias": in_proj_bias,
        "q_proj_weight": q_proj_weight if use_separate_proj_weight else None, "k_proj_weight": k_proj_weight,
        "v_proj_weight": v_proj_weight, "bias_k": bias_k, "bias_v": bias_v,
        "out_proj_weight": out_proj_weight, "out_proj_bias": out_proj_bias,
    }
    if use_separate_proj_weight and (q_proj_weight is None or k_proj_weight is None or v_proj_weight is None):
        raise ValueError(f"{_OP}: use_separate_proj_weight=True needs q_proj_weight, k_proj_weight and v_proj_weight")
    if not use_separate_proj_weight and in_proj_weight is None:
        raise ValueError(f"{_OP}: use_separate_proj_weight is False but in_proj_weight is None")
    settings = {"embed_dim": embed_dim_to_check, "num_heads": num_heads, "add_zero_attn": add_zero_attn,
                "dropout_p": dropout_p if training else 0.0, "batch_first": False}
    return attend(query, key, value, weights, settings, key_padding_mask, need_weights, attn_mask,
                  average_attn_weights, is_causal)


def attend(query, key, value, weights: dict, settings: dict, key_padding_mask, need_weights: bool, attn_mask,
           average_attn_weights: bool, is_causal: bool):
    """Multi-head attention on (N, L, E) (``batch_first``) or (L, N, E) inputs (or unbatched
    (L, E)): the steps of PyTorch's ``multi_head_attention_forward``, in the inputs' layout."""
    same_qkv, same_kv = query is key and key is value, key is value
    query, key, value, key_padding_mask, batched = _batched(query, key, value, key_padding_mask, attn_mask, settings)
    seq = 1 if settings["batch_first"] else 0  # the sequence axis
    sizes = {"n": query.shape[1 - seq], "l": query.shape[seq], "s": key.shape[seq]}
    key_padding_mask = canonical_mask(key_padding_mask, "key_padding_mask", query, _OP)
    if is_causal and attn_mask is None:
        raise ValueError(f"{_OP}: is_causal=True needs attn_mask (the causal mask, e.g. "
                         f"Transformer.generate_square_subsequent_mask(L)): it is a hint about the mask")
    # PyTorch's rule: without a padding mask and without weights the hint replaces the mask
    causal = is_causal and key_padding_mask is None and not need_weights
    attn_mask = None if causal else canonical_mask(attn_mask, "attn_mask", query, _OP)
    head_dim = _check_dims(query, key, value, weights, settings)
    projected = _project(query, key, value, weights, same_qkv, same_kv)
    attn_mask = _check_attn_mask(attn_mask, sizes, settings["num_heads"])
    projected, attn_mask, key_padding_mask = _extend_keys(projected, attn_mask, key_padding_mask, weights,
                                                          settings, seq)
    if len(projected) == 3:
        sizes["s"] = projected[1].shape[seq]
    bias = _combined_bias(attn_mask, key_padding_mask, sizes, settings["num_heads"])
    if causal:
        bias = wrap(causal_bias(query, sizes["l"], sizes["s"]))
    if need_weights or sizes["l"] == 0 or sizes["s"] == 0:
        out, attention = _attention_with_weights(projected, bias, settings, head_dim)
        attention = (attention.mean(dim=1) if average_attn_weights else attention) if need_weights else None
    else:
        out, attention = _fused_attention(projected, bias, settings, head_dim, sizes), None
    out = linear(out, weights["out_proj_weight"], weights["out_proj_bias"])
    if not batched:
        out = ops.squeeze(out, seq ^ 1)
        attention = ops.squeeze(attention, 0) if attention is not None else None
    return out, attention


def _batched(query, key, value, key_padding_mask, attn_mask, settings: dict):
    """The inputs with a batch axis (added for unbatched input), and whether they had one."""
    query, key, value = (tensor_argument(t, _OP, name) for t, name in ((query, "query"), (key, "key"),
                                                                        (value, "value")))
    if key_padding_mask is not None:
        key_padding_mask = tensor_argument(key_padding_mask, _OP, "key_padding_mask")
    if attn_mask is not None:
        attn_mask = tensor_argument(attn_mask, _OP, "attn_mask")
    batched = _check_ranks(query, key, value, key_padding_mask, attn_mask, settings["num_heads"])
    if batched:
        return query, key, value, key_padding_mask, True
    axis = 0 if settings["batch_first"] else 1
    query, key, value = (ops.unsqueeze(t, axis) for t in (query, key, value))
    if key_padding_mask is not None:
        key_padding_mask = ops.unsqueeze(key_padding_mask, 0)
    return query, key, value, key_padding_mask, False


def _check_ranks(query, key, value, key_padding_mask, attn_mask, num_heads: int) -> bool:
    """PyTorch's ``_mha_shape_check``: batched (3-D) or unbatched (2-D) inputs and masks."""
    if query.ndim not in (2, 3):
        raise ValueError(f"{_OP}: query must be 3-D (batched) or 2-D (unbatched); got shape {query.shape}")
    batched = query.ndim == 3
    kind = "batched (3-D)" if batched else "unbatched (2-D)"
    if key.ndim != query.ndim or value.ndim != query.ndim:
        raise ValueError(f"{_OP}: for {kind} query, key and value must be {query.ndim}-D too; got key of shape "
                         f"{key.shape} and value of shape {value.shape}")
    if key_padding_mask is not None and key_padding_mask.ndim != query.ndim - 1:
        raise ValueError(f"{_OP}: for {kind} query, key_padding_mask must be {query.ndim - 1}-D; got shape "
                         f"{key_padding_mask.shape}")
    if attn_mask is not None:
        if attn_mask.ndim not in (2, 3):
            raise ValueError(f"{_OP}: attn_mask must be 2-D or 3-D; got shape {attn_mask.shape}")
        expected = (num_heads, query.shape[0], key.shape[0])
        if not batched and attn_mask.ndim == 3 and tuple(attn_mask.shape) != expected:
            raise ValueError(f"{_OP}: for unbatched query, a 3-D attn_mask must have shape {expected} "
                             f"(num_heads, L, S); got shape {attn_mask.shape}")
    return batched


def _check_dims(query, key, value, weights: dict, settings: dict) -> int:
    """The head size d; errors for feature sizes that do not fit the weights."""
    embed_dim, heads = query.shape[-1], settings["num_heads"]
    require_float(query, _OP, "query")
    if embed_dim != settings["embed_dim"]:
        raise ValueError(f"{_OP}: expected query with {settings['embed_dim']} features (embed_dim, the last dim); "
                         f"got shape {query.shape}")
    if embed_dim % heads:
        raise ValueError(f"{_OP}: embed_dim {embed_dim} is not divisible by num_heads {heads}")
    seq = 1 if settings["batch_first"] else 0
    if key.shape[1 - seq] != query.shape[1 - seq]:
        raise ValueError(f"{_OP}: key and query must have the same batch size; got key of shape {key.shape} and "
                         f"query of shape {query.shape}")
    if weights["in_proj_weight"] is not None:
        if tuple(key.shape) != tuple(value.shape) or key.shape[-1] != embed_dim:
            raise ValueError(f"{_OP}: with the packed in_proj_weight, key and value must have the same shape with "
                             f"{embed_dim} features; got key {key.shape} and value {value.shape}")
    elif key.shape[:2] != value.shape[:2]:
        raise ValueError(f"{_OP}: key's sequence and batch dims {key.shape[:2]} do not match value's "
                         f"{value.shape[:2]}")
    return embed_dim // heads


def _project(query, key, value, weights: dict, same_qkv: bool, same_kv: bool) -> tuple:
    """The input projections: (QKV,) packed for self-attention, else (Q, K, V)."""
    weight, bias = weights["in_proj_weight"], weights["in_proj_bias"]
    if weight is None:
        parts = (None, None, None) if bias is None else ops.chunk(bias, 3)
        projection = (weights["q_proj_weight"], weights["k_proj_weight"], weights["v_proj_weight"])
        return tuple(linear(x, w, b) for x, w, b in zip((query, key, value), projection, parts))
    if same_qkv:
        return (linear(query, weight, bias),)
    width = weight.shape[1]
    q = linear(query, weight[:width], bias[:width] if bias is not None else None)
    if same_kv:
        kv = linear(key, weight[width:], bias[width:] if bias is not None else None)
        return q, kv[..., :width], kv[..., width:]
    k = linear(key, weight[width:2 * width], bias[width:2 * width] if bias is not None else None)
    v = linear(value, weight[2 * width:], bias[2 * width:] if bias is not None else None)
    return q, k, v


def _check_attn_mask(attn_mask, sizes: dict, heads: int):
    if attn_mask is None:
        return None
    expected = (sizes["l"], sizes["s"]) if attn_mask.ndim == 2 else (sizes["n"] * heads, sizes["l"], sizes["s"])
    if tuple(attn_mask.shape) != expected:
        raise ValueError(f"{_OP}: the {attn_mask.ndim}-D attn_mask must have shape {expected}"
                         f"{' (L, S)' if attn_mask.ndim == 2 else ' (N * num_heads, L, S)'}; got shape "
                         f"{attn_mask.shape}")
    return attn_mask


def _extend_keys(projected: tuple, attn_mask, key_padding_mask, weights: dict, settings: dict, seq: int):
    """``add_bias_kv`` (the learned bias_k, bias_v as one more key and value) and
    ``add_zero_attn`` (a zero key and value), with the masks padded by one column each."""
    bias_k, bias_v, zero = weights["bias_k"], weights["bias_v"], settings["add_zero_attn"]
    if (bias_k is None) != (bias_v is None):
        raise ValueError(f"{_OP}: bias_k and bias_v must be given together")
    if bias_k is None and not zero:
        return projected, attn_mask, key_padding_mask
    if len(projected) == 1:
        width = projected[0].shape[-1] // 3
        projected = tuple(projected[0][..., i * width:(i + 1) * width] for i in range(3))
    q, k, v = projected
    token = (1, k.shape[1], k.shape[2]) if seq == 0 else (k.shape[0], 1, k.shape[2])
    extras = []
    if bias_k is not None:
        extras.append((ops.expand(bias_k, *token), ops.expand(bias_v, *token)))
    if zero:
        blank = zeros(*token, dtype=k.dtype, device=k.device)
        extras.append((blank, blank))
    for extra_k, extra_v in extras:
        k, v = ops.cat([k, extra_k], dim=seq), ops.cat([v, extra_v], dim=seq)
        attn_mask = ops.pad(attn_mask, (0, 1)) if attn_mask is not None else None
        key_padding_mask = ops.pad(key_padding_mask, (0, 1)) if key_padding_mask is not None else None
    return (q, k, v), attn_mask, key_padding_mask


def _combined_bias(attn_mask, key_padding_mask, sizes: dict, heads: int):
    """attn_mask (+) key_padding_mask as one bias broadcastable to (N, H, L, S), or None."""
    n, length, source = sizes["n"], sizes["l"], sizes["s"]
    bias = None
    if attn_mask is not None:
        bias = attn_mask if attn_mask.ndim == 2 else attn_mask.reshape(n, heads, length, source)
    if key_padding_mask is not None:
        if tuple(key_padding_mask.shape) != (n, source):
            raise ValueError(f"{_OP}: key_padding_mask must have shape {(n, source)} (N, S); got shape "
                             f"{key_padding_mask.shape}")
        padding = key_padding_mask.reshape(n, 1, 1, source)
        bias = padding if bias is None else bias + padding
    return bias


def _heads(projected: tuple, settings: dict) -> tuple:
    """Q, K, V as (N, H, L, d) Tensors (reference ops: reshape, permute)."""
    if len(projected) == 1:
        width = projected[0].shape[-1] // 3
        projected = tuple(projected[0][..., i * width:(i + 1) * width] for i in range(3))
    heads, order = settings["num_heads"], (0, 2, 1, 3) if settings["batch_first"] else (1, 2, 0, 3)
    return tuple(t.reshape(t.shape[0], t.shape[1], heads, t.shape[2] // heads).permute(*order) for t in projected)


def _attention_with_weights(projected: tuple, bias, settings: dict, head_dim: int):
    """PyTorch's need_weights path in reference ops: (output, weights (N, H, L, S))."""
    q, k, v = _heads(projected, settings)
    scores = ops.matmul(q * math.sqrt(1.0 / head_dim), k.mT)
    if bias is not None:
        scores = scores + bias
    attention = ops.softmax(scores, -1)
    if settings["dropout_p"] > 0:
        keep = dropout_keep(attention, tuple(attention.shape), settings["dropout_p"])
        attention = fused.Dropout.apply(attention, scale=keep)
    out = ops.matmul(attention, v)
    n, heads, length, width = out.shape
    if settings["batch_first"]:
        return out.permute(0, 2, 1, 3).reshape(n, length, heads * width), attention
    return out.permute(2, 0, 1, 3).reshape(length, n, heads * width), attention


def _fused_attention(projected: tuple, bias, settings: dict, head_dim: int, sizes: dict):
    """The attention as one node reading the projections' layout."""
    p, heads = settings["dropout_p"], settings["num_heads"]
    keep = dropout_keep(projected[0], (sizes["n"], heads, sizes["l"], sizes["s"]), p) if p > 0 else None
    inputs = projected if bias is None else projected + (bias,)
    return fused.MultiheadAttentionCore.apply(
        *inputs, scale=1.0 / math.sqrt(head_dim), keep=keep, heads=heads, batch_first=settings["batch_first"],
        packed=len(projected) == 1,
    )
