"""The Transformer (Vaswani et al. 2017) as PyTorch builds it: ``TransformerEncoderLayer``,
``TransformerEncoder``, ``TransformerDecoderLayer``, ``TransformerDecoder`` and ``Transformer``,
with PyTorch's arguments, defaults, sub-module names (so state dicts load as they are) and
masks; ``Transformer.generate_square_subsequent_mask`` gives the causal mask.

An encoder layer is self-attention and a position-wise feed-forward network, each in a
residual connection with layer normalization, after the sum (post-norm, the paper's and
PyTorch's default) or before the sub-layer (``norm_first=True``, pre-norm):

    post-norm:  x = LN1(x + SA(x));        x = LN2(x + FF(x))
    pre-norm:   x = x + SA(LN1(x));        x = x + FF(LN2(x))
    FF(x) = linear2(dropout(activation(linear1(x))))

with dropout after each sub-layer (``dropout1``, ``dropout2``). A decoder layer adds
cross-attention on the encoder's output (``memory``) between the two, with its own norm
(``norm3`` is then the feed-forward's). Stacks (``TransformerEncoder``, ``TransformerDecoder``)
hold ``num_layers`` deep copies of the given layer (independent parameters) and an optional
final norm. The self-attention runs without returning its weights (PyTorch's
``need_weights=False``), so it is one fused node (:mod:`chainrule.nn.fused.attention`).

PyTorch's inference fast path (nested tensors for padded batches in evaluation without
gradients) is not reproduced: ``enable_nested_tensor`` and ``mask_check`` are accepted and
ignored, and outputs at padded query positions are computed as in training mode (PyTorch's
fast path returns 0 there).
"""
from __future__ import annotations

import copy

from ..engine import backend
from ..engine.tensor import Tensor, wrap
from . import functional as F
from . import init
from .attention import canonical_mask, causal_bias
from .containers import ModuleList
from .layers import Dropout, Linear
from .module import Module
from .multihead_attention import MultiheadAttention
from .normalization import LayerNorm

__all__ = [
    "TransformerEncoderLayer", "TransformerEncoder", "TransformerDecoderLayer", "TransformerDecoder", "Transformer",
    "generate_square_subsequent_mask",
]


def generate_square_subsequent_mask(sz: int, device=None, dtype=None) -> Tensor:
    """The (sz, sz) causal mask: 0 on and below the diagonal, -inf above (position i may
    attend to positions j <= i), float32 unless ``dtype`` (torch.nn.Transformer.
    generate_square_subsequent_mask)."""
    if isinstance(sz, bool) or not isinstance(sz, int) or sz < 0:
        raise ValueError(f"generate_square_subsequent_mask: sz must be an int >= 0; got {sz!r}")
    dtype = backend.canonical_dtype(dtype) if dtype is not None else backend.DEFAULT_FLOAT
    like = wrap(backend.move(backend.host.zeros((), dtype=dtype), device or "cpu"))
    return wrap(causal_bias(like, sz, sz))


def activation_function(activation, owner: str):
    """"relu" and "gelu" as the functions of :mod:`chainrule.nn.functional`; a callable as it is."""
    if isinstance(activation, str):
        if activation == "relu":
            return F.relu
        if activation == "gelu":
            return F.gelu
        raise ValueError(f"{owner}: activation should be 'relu' or 'gelu' (or a callable); got {activation!r}")
    if not callable(activation):
        raise TypeError(f"{owner}: activation must be 'relu', 'gelu' or a callable; got {type(activation).__name__}")
    return activation


class _FeedForwardLayer(Module):
    """What the encoder and decoder layers share: the feed-forward block and its checks."""

    @staticmethod
    def check_sizes(d_model, nhead, dim_feedforward, owner: str) -> None:
        for name, value in (("d_model", d_model), ("nhead", nhead), ("dim_feedforward", dim_feedforward)):
            if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
                raise ValueError(f"{owner}: {name} must be an int > 0; got {value!r}")

    def build_feed_forward(self, d_model, dim_feedforward, dropout, bias, dtype, device):
        self.linear1 = Linear(d_model, dim_feedforward, bias=bias, dtype=dtype, device=device or "cpu")
        self.dropout = Dropout(dropout)
        self.linear2 = Linear(dim_feedforward, d_model, bias=bias, dtype=dtype, device=device or "cpu")

    def set_activation(self, activation, owner: str) -> None:
        activation = activation_function(activation, owner)
        kind = type(activation).__name__
        self.activation_relu_or_gelu = 1 if activation is F.relu or kind == "ReLU" else (
            2 if activation is F.gelu or kind == "GELU" else 0)
        self.activation = activation

    def _ff_block(self, x: Tensor) -> Tensor:
        return self.dropout_last(self.linear2(self.dropout(self.activation(self.linear1(x)))))


class TransformerEncoderLayer(_FeedForwardLayer):
    """Self-attention and a feed-forward network, each with a residual connection and
    layer normalization (see the module docstring for post-norm and ``norm_first``).

    Args:
        d_model: E, the model width.
        nhead: attention heads (E divisible by nhead).
        dim_feedforward: the feed-forward's hidden width (2048).
        dropout: dropout after attention weights, inside and after the sub-layers (0.1).
        activation: "relu" (default), "gelu" or a callable (a Module is registered).
        layer_norm_eps: the norms' eps (1e-5).
        batch_first: (N, L, E) instead of (L, N, E).
        norm_first: pre-norm instead of post-norm (False).
        bias: biases in the linear layers and norms (True).

    Sub-modules (PyTorch's names): self_attn, linear1, dropout, linear2, norm1, norm2,
    dropout1, dropout2.
    """

    def __init__(self, d_model: int, nhead: int, dim_feedforward: int = 2048, dropout: float = 0.1,
                 activation="relu", layer_norm_eps: float = 1e-5, batch_first: bool = False,
                 norm_first: bool = False, bias: bool = True, device=None, dtype=None):
        super().__init__()
        self.check_sizes(d_model, nhead, dim_feedforward, "TransformerEncoderLayer")
        activation_function(activation, "TransformerEncoderLayer")
        self.self_attn = MultiheadAttention(d_model, nhead, dropout=dropout, bias=bias, batch_first=batch_first,
                                            device=device, dtype=dtype)
        self.build_feed_forward(d_model, dim_feedforward, dropout, bias, dtype, device)
        self.norm_first = norm_first
        self.norm1 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, device=device, dtype=dtype)
        self.norm2 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, device=device, dtype=dtype)
        self.dropout1, self.dropout2 = Dropout(dropout), Dropout(dropout)
        self.set_activation(activation, "TransformerEncoderLayer")

    def dropout_last(self, x: Tensor) -> Tensor:
        return self.dropout2(x)

    def forward(self, src: Tensor, src_mask: Tensor | None = None, src_key_padding_mask: Tensor | None = None,
                is_causal: bool = False) -> Tensor:
        x = src
        if self.norm_first:
            x = x + self._sa_block(self.norm1(x), src_mask, src_key_padding_mask, is_causal)
            return x + self._ff_block(self.norm2(x))
        x = self.norm1(x + self._sa_block(x, src_mask, src_key_padding_mask, is_causal))
        return self.norm2(x + self._ff_block(x))

    def _sa_block(self, x, attn_mask, key_padding_mask, is_causal):
        x = self.self_attn(x, x, x, attn_mask=attn_mask, key_padding_mask=key_padding_mask,
                           need_weights=False, is_causal=is_causal)[0]
        return self.dropout1(x)


class TransformerDecoderLayer(_FeedForwardLayer):
    """Causal-capable self-attention, cross-attention on ``memory`` and a feed-forward
    network, each with a residual connection and layer normalization (post-norm, or pre-norm
    with ``norm_first``). Arguments as :class:`TransformerEncoderLayer`.

    Sub-modules (PyTorch's names): self_attn, multihead_attn, linear1, dropout, linear2,
    norm1, norm2, norm3, dropout1, dropout2, dropout3.

    ``forward(tgt, memory, tgt_mask, memory_mask, tgt_key_padding_mask,
    memory_key_padding_mask, tgt_is_causal=False, memory_is_causal=False)``.
    """

    def __init__(self, d_model: int, nhead: int, dim_feedforward: int = 2048, dropout: float = 0.1,
                 activation="relu", layer_norm_eps: float = 1e-5, batch_first: bool = False,
                 norm_first: bool = False, bias: bool = True, device=None, dtype=None):
        super().__init__()
        self.check_sizes(d_model, nhead, dim_feedforward, "TransformerDecoderLayer")
        activation_function(activation, "TransformerDecoderLayer")
        attention = {"dropout": dropout, "bias": bias, "batch_first": batch_first, "device": device, "dtype": dtype}
        self.self_attn = MultiheadAttention(d_model, nhead, **attention)
        self.multihead_attn = MultiheadAttention(d_model, nhead, **attention)
        self.build_feed_forward(d_model, dim_feedforward, dropout, bias, dtype, device)
        self.norm_first = norm_first
        self.norm1, self.norm2, self.norm3 = (LayerNorm(d_model, eps=layer_norm_eps, bias=bias, device=device,
                                                        dtype=dtype) for _ in range(3))
        self.dropout1, self.dropout2, self.dropout3 = Dropout(dropout), Dropout(dropout), Dropout(dropout)
        self.set_activation(activation, "TransformerDecoderLayer")

    def dropout_last(self, x: Tensor) -> Tensor:
        return self.dropout3(x)

    def forward(self, tgt: Tensor, memory: Tensor, tgt_mask: Tensor | None = None, memory_mask: Tensor | None = None,
                tgt_key_padding_mask: Tensor | None = None, memory_key_padding_mask: Tensor | None = None,
                tgt_is_causal: bool = False, memory_is_causal: bool = False) -> Tensor:
        x = tgt
        if self.norm_first:
            x = x + self._sa_block(self.norm1(x), tgt_mask, tgt_key_padding_mask, tgt_is_causal)
            x = x + self._mha_block(self.norm2(x), memory, memory_mask, memory_key_padding_mask, memory_is_causal)
            return x + self._ff_block(self.norm3(x))
        x = self.norm1(x + self._sa_block(x, tgt_mask, tgt_key_padding_mask, tgt_is_causal))
        x = self.norm2(x + self._mha_block(x, memory, memory_mask, memory_key_padding_mask, memory_is_causal))
        return self.norm3(x + self._ff_block(x))

    def _sa_block(self, x, attn_mask, key_padding_mask, is_causal):
        x = self.self_attn(x, x, x, attn_mask=attn_mask, key_padding_mask=key_padding_mask,
                           is_causal=is_causal, need_weights=False)[0]
        return self.dropout1(x)

    def _mha_block(self, x, memory, attn_mask, key_padding_mask, is_causal):
        x = self.multihead_attn(x, memory, memory, attn_mask=attn_mask, key_padding_mask=key_padding_mask,
                                is_causal=is_causal, need_weights=False)[0]
        return self.dropout2(x)


class TransformerEncoder(Module):
    """``num_layers`` deep copies of ``encoder_layer`` applied in turn (``layers``, a
    ModuleList), then ``norm`` if given. ``forward(src, mask=None, src_key_padding_mask=None,
    is_causal=None)``: ``is_causal`` None detects whether ``mask`` is the causal mask."""

    def __init__(self, encoder_layer: Module, num_layers: int, norm: Module | None = None,
                 enable_nested_tensor: bool = True, mask_check: bool = True):
        super().__init__()
        _check_stack(encoder_layer, num_layers, "TransformerEncoder")
        self.layers = ModuleList([copy.deepcopy(encoder_layer) for _ in range(num_layers)])
        self.num_layers, self.norm = num_layers, norm
        self.enable_nested_tensor, self.mask_check = enable_nested_tensor, mask_check

    def forward(self, src: Tensor, mask: Tensor | None = None, src_key_padding_mask: Tensor | None = None,
                is_causal: bool | None = None) -> Tensor:
        src_key_padding_mask = canonical_mask(src_key_padding_mask, "src_key_padding_mask", src, "TransformerEncoder")
        mask = canonical_mask(mask, "mask", src, "TransformerEncoder")
        first = self.layers[0]
        batch_first = getattr(getattr(first, "self_attn", None), "batch_first", False)
        is_causal = detect_is_causal_mask(mask, is_causal, _sequence_length(src, batch_first))
        output = src
        for layer in self.layers:
            output = layer(output, src_mask=mask, is_causal=is_causal, src_key_padding_mask=src_key_padding_mask)
        return self.norm(output) if self.norm is not None else output


class TransformerDecoder(Module):
    """``num_layers`` deep copies of ``decoder_layer`` applied in turn, then ``norm`` if
    given. ``forward(tgt, memory, tgt_mask, memory_mask, tgt_key_padding_mask,
    memory_key_padding_mask, tgt_is_causal=None, memory_is_causal=False)``."""

    def __init__(self, decoder_layer: Module, num_layers: int, norm: Module | None = None):
        super().__init__()
        _check_stack(decoder_layer, num_layers, "TransformerDecoder")
        self.layers = ModuleList([copy.deepcopy(decoder_layer) for _ in range(num_layers)])
        self.num_layers, self.norm = num_layers, norm

    def forward(self, tgt: Tensor, memory: Tensor, tgt_mask: Tensor | None = None, memory_mask: Tensor | None = None,
                tgt_key_padding_mask: Tensor | None = None, memory_key_padding_mask: Tensor | None = None,
                tgt_is_causal: bool | None = None, memory_is_causal: bool = False) -> Tensor:
        batch_first = getattr(getattr(self.layers[0], "self_attn", None), "batch_first", False)
        tgt_is_causal = detect_is_causal_mask(tgt_mask, tgt_is_causal, _sequence_length(tgt, batch_first))
        output = tgt
        for layer in self.layers:
            output = layer(output, memory, tgt_mask=tgt_mask, memory_mask=memory_mask,
                           tgt_key_padding_mask=tgt_key_padding_mask,
                           memory_key_padding_mask=memory_key_padding_mask, tgt_is_causal=tgt_is_causal,
                           memory_is_causal=memory_is_causal)
        return self.norm(output) if self.norm is not None else output


class Transformer(Module):
    """The encoder-decoder Transformer: ``encoder`` (a TransformerEncoder of
    ``num_encoder_layers`` layers and a final LayerNorm) and ``decoder`` (likewise), or the
    given ``custom_encoder`` / ``custom_decoder``; every parameter with more than one dim is
    re-initialized Glorot-uniform, as PyTorch. ``forward(src, tgt, src_mask, tgt_mask,
    memory_mask, src_key_padding_mask, tgt_key_padding_mask, memory_key_padding_mask,
    src_is_causal=None, tgt_is_causal=None, memory_is_causal=False)`` returns the decoder's output."""

    def __init__(self, d_model: int = 512, nhead: int = 8, num_encoder_layers: int = 6, num_decoder_layers: int = 6,
                 dim_feedforward: int = 2048, dropout: float = 0.1, activation="relu", custom_encoder=None,
                 custom_decoder=None, layer_norm_eps: float = 1e-5, batch_first: bool = False,
                 norm_first: bool = False, bias: bool = True, device=None, dtype=None):
        super().__init__()
        shared = {"dim_feedforward": dim_feedforward, "dropout": dropout, "activation": activation,
                  "layer_norm_eps": layer_norm_eps, "batch_first": batch_first, "norm_first": norm_first,
                  "bias": bias, "device": device, "dtype": dtype}
        if custom_encoder is not None:
            self.encoder = custom_encoder
        else:
            layer = TransformerEncoderLayer(d_model, nhead, **shared)
            norm = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, device=device, dtype=dtype)
            self.encoder = TransformerEncoder(layer, num_encoder_layers, norm)
        if custom_decoder is not None:
            self.decoder = custom_decoder
        else:
            layer = TransformerDecoderLayer(d_model, nhead, **shared)
            norm = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, device=device, dtype=dtype)
            self.decoder = TransformerDecoder(layer, num_decoder_layers, norm)
        self.d_model, self.nhead, self.batch_first = d_model, nhead, batch_first
        self._reset_parameters()

    def _reset_parameters(self) -> None:
        for p in self.parameters():
            if p.ndim > 1:
                init.xavier_uniform_(p)

    generate_square_subsequent_mask = staticmethod(generate_square_subsequent_mask)

    def forward(self, src: Tensor, tgt: Tensor, src_mask: Tensor | None = None, tgt_mask: Tensor | None = None,
                memory_mask: Tensor | None = None, src_key_padding_mask: Tensor | None = None,
                tgt_key_padding_mask: Tensor | None = None, memory_key_padding_mask: Tensor | None = None,
                src_is_causal: bool | None = None, tgt_is_causal: bool | None = None,
                memory_is_causal: bool = False) -> Tensor:
        batch = 0 if self.batch_first else 1
        if src.ndim == 3 and src.shape[batch] != tgt.shape[batch]:
            raise ValueError(f"Transformer: the batch sizes of src and tgt must be equal; got src of shape "
                             f"{src.shape} and tgt of shape {tgt.shape}")
        if src.shape[-1] != self.d_model or tgt.shape[-1] != self.d_model:
            raise ValueError(f"Transformer: src and tgt must have d_model={self.d_model} features; got shapes "
                             f"{src.shape} and {tgt.shape}")
        memory = self.encoder(src, mask=src_mask, src_key_padding_mask=src_key_padding_mask, is_causal=src_is_causal)
        return self.decoder(tgt, memory, tgt_mask=tgt_mask, memory_mask=memory_mask,
                            tgt_key_padding_mask=tgt_key_padding_mask,
                            memory_key_padding_mask=memory_key_padding_mask, tgt_is_causal=tgt_is_causal,
                            memory_is_causal=memory_is_causal)


def detect_is_causal_mask(mask, is_causal: bool | None, size: int | None) -> bool:
    """PyTorch's ``_detect_is_causal_mask``: ``is_causal`` when given; otherwise whether
    ``mask`` equals the causal mask of ``size``."""
    if is_causal is not None or mask is None:
        return bool(is_causal)
    causal = causal_bias(mask, size, size) if mask.dtype.kind == "f" else None
    return causal is not None and tuple(mask.shape) == causal.shape and bool((mask.data == causal).all())


def _sequence_length(x: Tensor, batch_first: bool) -> int:
    return x.shape[0] if x.ndim == 2 else x.shape[1 if batch_first else 0]


def _check_stack(layer, num_layers, owner: str) -> None:
    if not isinstance(layer, Module):
        raise TypeError(f"{owner}: expected a layer Module to copy; got {type(layer).__name__}")
    if isinstance(num_layers, bool) or not isinstance(num_layers, int) or num_layers < 1:
        raise ValueError(f"{owner}: num_layers must be an int >= 1; got {num_layers!r}")
