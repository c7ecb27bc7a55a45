"""The FLOP rules of the sequence layers: MultiheadAttention, scaled dot-product attention, and
the recurrent layers and cells (RNN, GRU, LSTM; RNNCell, GRUCell, LSTMCell). The conventions and
the table are in :mod:`chainrule.compute.layer_rules`.

Attention (``attention_counts``), for ``units`` independent heads (batch × heads), L queries and S
keys of E features (values Ev): QK' and PV are 2·units·L·S·E and 2·units·L·S·Ev FLOPs forward;
backward dV = P' dO [if V], dP = dO V' [if Q or K], dQ = dS K [if Q], dK = dS' Q [if K], the
four products that PyTorch's autograd runs through its math kernel (its flash-attention formula
also recomputes QK', a fifth: see :mod:`chainrule.compute.counting`). The mask and causal
masking do not reduce the count: the whole L × S score matrix is computed, as PyTorch does.

Recurrent layers count what PyTorch's CPU implementation runs: the input projection of all
steps as one product per layer and direction, then per step one product with W_hh (and, for an
LSTM with ``proj_size``, one with W_hr); backward, the hidden-state gradient of the first step
only when h_0 needs one (PyTorch skips it for the zero initial state).
"""
from __future__ import annotations

from collections import Counter

from .layer_rules import Call, Rule, products, tensors_in
from .meta import meta_tensor

__all__ = ["SEQUENCE_RULES", "attention_counts"]

#: FLOPs per row per step of a recurrent layer's gate arithmetic (× hidden_size), forward and backward.
GATE_FLOPS = {"RNN_TANH": (2, 4), "RNN_RELU": (2, 2), "GRU": (18, 20), "LSTM": (22, 24)}


def attention_counts(units: int, length: int, source: int, width: int, value_width: int, needs: tuple,
                     masked: bool = False, dropout: bool = False, averaged: bool = False) -> Counter:
    """softmax(Q K' · scale + B) V for ``units`` heads; ``needs`` = (Q, K, V) need a gradient."""
    scores = units * length * source
    needs_q, needs_k, needs_v = (bool(n) for n in needs)
    counts = Counter(
        forward_matmul=2 * scores * (width + value_width),
        forward_elementwise=scores * (1 + 3 + masked + 2 * dropout), forward_reduction=scores * (2 + averaged),
        backward_matmul=2 * scores * (value_width * (needs_v + (needs_q or needs_k)) + width * (needs_q + needs_k)),
    )
    if needs_q or needs_k:
        counts += Counter(backward_elementwise=scores * (3 + 1 + dropout), backward_reduction=scores)
    return counts


# ---------------------------------------------------------------------- MultiheadAttention


def _mha_sizes(module, call):
    query, key = call.arg(0, "query"), call.arg(1, "key")
    batched = query.ndim == 3
    seq = (1 if module.batch_first else 0) if batched else 0
    batch = query.shape[1 - seq] if batched else 1
    extra = (module.bias_k is not None) + bool(module.add_zero_attn)
    return batch, query.shape[seq], key.shape[seq], extra


def _mha(module, call) -> Counter:
    query, key, value = call.arg(0, "query"), call.arg(1, "key"), call.arg(2, "value")
    batch, length, source, extra = _mha_sizes(module, call)
    width, trainable = module.embed_dim, call.trainable
    packed = module.in_proj_weight is not None
    weights = (module.in_proj_weight,) * 3 if packed else (module.q_proj_weight, module.k_proj_weight,
                                                            module.v_proj_weight)
    bias = module.in_proj_bias
    counts = Counter()
    needs = []
    for x, rows, features, weight in zip((query, key, value), (length, source, source),
                                         (width, module.kdim, module.vdim), weights):
        counts += products(batch * rows * features * width, call.needs(x), trainable(weight))
        counts += Counter(forward_elementwise=batch * rows * width if bias is not None else 0,
                          backward_reduction=batch * rows * width if trainable(bias) else 0)
        needs.append(call.needs(x) or trainable(weight) or trainable(bias))
    masked = any(call.arg(i, name) is not None for i, name in ((3, "key_padding_mask"), (5, "attn_mask")))
    need_weights = call.arg(4, "need_weights", True)
    counts += attention_counts(batch * module.num_heads, length, source + extra, module.head_dim,
                               module.head_dim, tuple(needs), masked or call.arg(7, "is_causal", False),
                               module.training and module.dropout > 0,
                               need_weights and call.arg(6, "average_attn_weights", True))
    out = module.out_proj
    counts += products(batch * length * width * width, any(needs), trainable(out.weight))
    counts += Counter(forward_elementwise=batch * length * width if out.bias is not None else 0,
                      backward_reduction=batch * length * width if trainable(out.bias) else 0)
    return counts


def _mha_meta(module, args, kwargs):
    call = Call(module, args, kwargs, None, None)
    query = call.arg(0, "query")
    batch, length, source, extra = _mha_sizes(module, call)
    out = meta_tensor(tuple(query.shape[:-1]) + (module.embed_dim,), query.data.dtype)
    if not call.arg(4, "need_weights", True):
        return out, None
    heads = () if call.arg(6, "average_attn_weights", True) else (module.num_heads,)
    lead = (batch,) if query.ndim == 3 else ()
    return out, meta_tensor(lead + heads + (length, source + extra), query.data.dtype)


# ---------------------------------------------------------------------- recurrent layers


def _recurrent_input(module, call):
    """(input data, per-step batch sizes, whether packed)."""
    x = call.arg(0, "input")
    if hasattr(x, "batch_sizes"):
        return x.data, [int(s) for s in x.batch_sizes.data.tolist()], True
    if x.ndim == 2:
        return x, [1] * x.shape[0], False
    steps, batch = (x.shape[1], x.shape[0]) if module.batch_first else (x.shape[0], x.shape[1])
    return x, [batch] * steps, False


def _initial_state_needs(call) -> bool:
    hx = call.arg(1, "hx")
    state = hx[0] if isinstance(hx, (tuple, list)) else hx
    return state is not None and call.needs(state)


def _recurrent(module, call) -> Counter:
    x, sizes, _ = _recurrent_input(module, call)
    rows, hidden = sum(sizes), module.hidden_size
    gates = {"LSTM": 4, "GRU": 3}.get(module.mode, 1) * hidden
    out_size, projection = module.proj_size or hidden, module.proj_size
    directions = 2 if module.bidirectional else 1
    parameters = dict(module.named_parameters())
    trainable = any(p.requires_grad for p in parameters.values())
    needs_x, needs_h0 = call.needs(x), _initial_state_needs(call)
    forward_gates, backward_gates = GATE_FLOPS[module.mode]
    counts = Counter()
    for layer in range(module.num_layers):
        features = module.input_size if layer == 0 else directions * out_size
        layer_needs = needs_x if layer == 0 else (needs_x or needs_h0 or trainable)
        any_grad = trainable or layer_needs or needs_h0
        for direction in range(directions):
            suffix = f"_l{layer}{'_reverse' if direction else ''}"
            weight = {name: parameters.get(name + suffix) for name in ("weight_ih", "weight_hh", "weight_hr")}
            counts += products(rows * features * gates, layer_needs, Call.trainable(weight["weight_ih"]))
            counts += products(rows * out_size * gates, Call.trainable(weight["weight_hh"]))
            first = sizes[0] if direction == 0 else sizes[-1]
            hidden_rows = rows if needs_h0 else rows - first
            counts["backward_matmul"] += 2 * hidden_rows * out_size * gates if any_grad else 0
            if projection:
                counts += products(rows * hidden * projection, any_grad, Call.trainable(weight["weight_hr"]))
            counts += _gate_counts(module.bias, rows, gates, hidden, forward_gates, backward_gates, any_grad,
                                   trainable)
        if module.training and module.dropout > 0 and layer < module.num_layers - 1:
            n = rows * directions * out_size
            counts += Counter(forward_elementwise=2 * n, backward_elementwise=n if any_grad else 0)
    return counts


def _gate_counts(bias, rows, gates, hidden, forward_gates, backward_gates, any_grad, trainable) -> Counter:
    counts = Counter(forward_elementwise=rows * (forward_gates * hidden + (gates if bias else 0)))
    if any_grad:
        counts += Counter(backward_elementwise=rows * backward_gates * hidden,
                          backward_reduction=2 * rows * gates if bias and trainable else 0)
    return counts


def _recurrent_meta(module, args, kwargs):
    from ..nn.utils.rnn import PackedSequence  # noqa: PLC0415 - nn imports much of the package

    call = Call(module, args, kwargs, None, None)
    x, sizes, packed = _recurrent_input(module, call)
    directions = 2 if module.bidirectional else 1
    out_size = module.proj_size or module.hidden_size
    dtype = x.data.dtype
    batched = packed or x.ndim == 3
    lead = (module.num_layers * directions,) + ((max(sizes),) if batched else ())
    h_n = meta_tensor(lead + (out_size,), dtype)
    output = meta_tensor(tuple(x.shape[:-1]) + (directions * out_size,), dtype)
    if packed:
        source = call.arg(0, "input")
        output = PackedSequence(output, source.batch_sizes, source.sorted_indices, source.unsorted_indices)
    if module.mode == "LSTM":
        return output, (h_n, meta_tensor(lead + (module.hidden_size,), dtype))
    return output, h_n


_CELL_MODES = {"LSTMCell": "LSTM", "GRUCell": "GRU"}


def _cell_mode(module) -> str:
    kind = type(module).__name__
    return _CELL_MODES.get(kind) or ("RNN_RELU" if module.nonlinearity == "relu" else "RNN_TANH")


def _cell(module, call) -> Counter:
    x, hx = call.arg(0, "input"), call.arg(1, "hx")
    batch = x.shape[0] if x.ndim == 2 else 1
    gates, hidden = module.weight_ih.shape[0], module.hidden_size
    trainable = any(p.requires_grad for p in module.parameters())
    needs_h = hx is not None and any(call.needs(t) for t in tensors_in(hx)[:1])
    any_grad = trainable or call.needs(x) or needs_h
    counts = products(batch * module.input_size * gates, call.needs(x), Call.trainable(module.weight_ih))
    counts += products(batch * hidden * gates, needs_h, Call.trainable(module.weight_hh))
    forward_gates, backward_gates = GATE_FLOPS[_cell_mode(module)]
    return counts + _gate_counts(module.bias, batch, gates, hidden, forward_gates, backward_gates, any_grad, trainable)


def _cell_meta(module, args, kwargs):
    x = args[0] if args else kwargs["input"]
    shape = ((x.shape[0],) if x.ndim == 2 else ()) + (module.hidden_size,)
    h = meta_tensor(shape, x.data.dtype)
    return (h, meta_tensor(shape, x.data.dtype)) if type(module).__name__ == "LSTMCell" else h


#: layer type name -> :class:`~chainrule.compute.layer_rules.Rule` for the sequence layers.
SEQUENCE_RULES = {
    "MultiheadAttention": Rule(_mha, _mha_meta),
    **{kind: Rule(_recurrent, _recurrent_meta) for kind in ("RNN", "LSTM", "GRU")},
    **{kind: Rule(_cell, _cell_meta) for kind in ("RNNCell", "GRUCell", "LSTMCell")},
}

