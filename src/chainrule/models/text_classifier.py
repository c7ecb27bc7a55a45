r"""A text classifier (or regressor): token embeddings, a sequence encoder, pooling, a linear head.

For token ids t_1 … t_T of a document (right-padded with ``padding_idx`` to the batch's
longest; m_i = 1 for a real token, 0 for padding)::

    h_i = E[t_i] (+ P[i] for the transformer)                       embeddings
    h   = Encoder(h)                                                  transformer or GRU
    z   = Σ_i m_i h_i / Σ_i m_i   ("mean")   or   max_{i: m_i = 1} h_i  ("max")
          or the GRU's final state at each document's own last token ("last")
    ŷ   = W z + b                                                     (N, num_classes)

The transformer encoder is a stack of pre-norm ``nn.TransformerEncoderLayer`` (GELU) with
the padding as ``src_key_padding_mask``, so padded positions take part in nothing; the GRU
runs a :class:`~chainrule.nn.utils.rnn.PackedSequence`, each document to its own length.
Appending padding therefore never changes a prediction. Train it with
``F.cross_entropy`` (classes) or ``F.mse_loss`` (``num_classes=1``: regression).
"""
from __future__ import annotations

from .. import nn
from ..engine import backend, ops
from ..engine.creation import arange
from ..engine.tensor import Tensor, wrap
from ..nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

__all__ = ["TextClassifier", "text_classifier", "ENCODERS", "POOLINGS"]

ENCODERS = ("transformer", "gru")
POOLINGS = ("mean", "max", "last")


class TextClassifier(nn.Module):
    """Embedding, encoder, pooling and linear head (see the module docstring).

    Args:
        vocab: tokens in the vocabulary (ids 0 … vocab - 1, ``padding_idx`` among them).
        num_classes: outputs of the head (classes; 1 for a regression).
        width: the embedding and encoder width.
        encoder: "transformer" or "gru".
        layers: encoder layers.
        heads: attention heads (transformer).
        context: the longest document, in tokens (transformer: learned positions).
        padding_idx: the padding token id.
        pooling: "mean", "max", or "last" (GRU only: the final state of each direction).
        dropout: dropout in the encoder and before the head.
        bidirectional: the GRU reads both ways (its outputs have 2 · width features).

    Input (N, T) integer ids, right-padded → (N, num_classes). ``features(tokens)`` is the
    pooled (N, ``feature_size``) representation before dropout and head.
    """

    def __init__(self, vocab: int, num_classes: int, width: int = 128, encoder: str = "transformer",
                 layers: int = 2, heads: int = 4, context: int = 512, padding_idx: int = 0, pooling: str = "mean",
                 dropout: float = 0.1, bidirectional: bool = True):
        super().__init__()
        self.encoder_kind, self.pooling, self.padding_idx, self.context = encoder, pooling, padding_idx, context
        self.embedding = nn.Embedding(vocab, width, padding_idx=padding_idx)
        features = width
        if encoder == "transformer":
            self.position_embedding = nn.Embedding(context, width)
            layer = nn.TransformerEncoderLayer(width, heads, 4 * width, dropout, activation="gelu", batch_first=True,
                                               norm_first=True)
            self.encoder = nn.TransformerEncoder(layer, layers, norm=nn.LayerNorm(width), enable_nested_tensor=False)
        else:
            self.encoder = nn.GRU(width, width, layers, batch_first=True, dropout=dropout if layers > 1 else 0.0,
                                  bidirectional=bidirectional)
            features = width * (2 if bidirectional else 1)
        self.feature_size = features
        self.drop = nn.Dropout(dropout)
        self.head = nn.Linear(features, num_classes)

    def forward(self, tokens: Tensor) -> Tensor:
        return self.head(self.drop(self.features(tokens)))

    def features(self, tokens: Tensor) -> Tensor:
        """The pooled representation z (N, ``feature_size``) before dropout and head."""
        keep = self._real_tokens(tokens)
        h = self.embedding(tokens)
        if self.encoder_kind == "transformer":
            h = h + self.position_embedding(arange(tokens.shape[1], device=tokens.device))
            h = self.encoder(h, src_key_padding_mask=wrap(~keep))
            return pool(h, keep, self.pooling)
        return self._gru(h, keep)

    def _gru(self, h: Tensor, keep) -> Tensor:
        lengths = keep.sum(axis=1)
        packed = pack_padded_sequence(h, backend.to_host(lengths), batch_first=True, enforce_sorted=False)
        output, final = self.encoder(packed)
        if self.pooling == "last":
            directions = 2 if self.encoder.bidirectional else 1
            return ops.cat([final[-d] for d in range(directions, 0, -1)], dim=1)
        padded, _ = pad_packed_sequence(output, batch_first=True, total_length=h.shape[1])
        return pool(padded, keep, self.pooling)

    def _real_tokens(self, tokens):
        """The (N, T) bool array m (True for a real token), after checking the input."""
        if not isinstance(tokens, Tensor) or tokens.ndim != 2 or backend.host.dtype(tokens.dtype).kind not in "iu":
            got = (f"shape {tuple(tokens.shape)}, dtype {tokens.dtype}" if isinstance(tokens, Tensor)
                   else type(tokens).__name__)
            raise ValueError(f"TextClassifier: expected integer token ids of shape (N, T); got {got}")
        if self.encoder_kind == "transformer" and tokens.shape[1] > self.context:
            raise ValueError(
                f"TextClassifier: documents are at most context={self.context} tokens; got {tokens.shape[1]}"
            )
        keep = tokens.data != self.padding_idx
        xp = backend.namespace_of(keep)
        if tokens.shape[1] == 0 or not bool(xp.all(keep[:, 0])):
            raise ValueError(
                "TextClassifier: every document needs at least one token and must start with one "
                f"(right padding with padding_idx={self.padding_idx}); a row begins with padding or is empty"
            )
        if self.encoder_kind == "gru" and bool(xp.any(keep[:, 1:] & ~keep[:, :-1])):
            raise ValueError(
                f"TextClassifier: padding (id {self.padding_idx}) must come after each document's tokens "
                "(right padding); a row has a token after padding"
            )
        return keep

    def extra_repr(self) -> str:
        return f"encoder={self.encoder_kind!r}, pooling={self.pooling!r}, padding_idx={self.padding_idx}"


def pool(h: Tensor, keep, how: str) -> Tensor:
    """Pool (N, T, D) over the real tokens (``keep`` (N, T) bool): their mean or their maximum."""
    mask = wrap(keep[..., None].astype(h.data.dtype))
    if how == "mean":
        return (h * mask).sum(dim=1) / mask.sum(dim=1)
    return ops.amax(ops.masked_fill(h, wrap(~keep[..., None]), float("-inf")), dim=1)


def text_classifier(vocab: int, num_classes: int, *, width: int = 128, encoder: str = "transformer",
                    layers: int = 2, heads: int = 4, context: int = 512, padding_idx: int = 0,
                    pooling: str = "mean", dropout: float = 0.1, bidirectional: bool = True) -> TextClassifier:
    """A :class:`TextClassifier`: ``encoder="transformer"`` (a pre-norm transformer encoder
    with learned positions) or ``"gru"`` (a bidirectional GRU over packed sequences), pooled
    by ``"mean"``, ``"max"`` or (GRU) ``"last"``, then a linear head of ``num_classes`` outputs.

        >>> model = chainrule.models.text_classifier(vocab=5000, num_classes=2, encoder="gru")
        >>> model(token_ids).shape        # token_ids (N, T), right-padded with 0
        (N, 2)
    """
    for name, value in (("vocab", vocab), ("num_classes", num_classes), ("width", width), ("layers", layers),
                        ("heads", heads), ("context", context)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"text_classifier: {name} must be a positive int; got {value!r}")
    if encoder not in ENCODERS:
        raise ValueError(f"text_classifier: encoder must be one of {', '.join(map(repr, ENCODERS))}; got {encoder!r}")
    if pooling not in POOLINGS or (pooling == "last" and encoder != "gru"):
        allowed = POOLINGS if encoder == "gru" else POOLINGS[:2]
        raise ValueError(
            f"text_classifier: pooling must be one of {', '.join(map(repr, allowed))} with encoder={encoder!r}; "
            f"got {pooling!r}"
        )
    if encoder == "transformer" and width % heads:
        raise ValueError(f"text_classifier: width must be divisible by heads; got width={width}, heads={heads}")
    if isinstance(padding_idx, bool) or not isinstance(padding_idx, int) or not 0 <= padding_idx < vocab:
        raise ValueError(f"text_classifier: padding_idx must be an int in [0, {vocab}); got {padding_idx!r}")
    if isinstance(dropout, bool) or not isinstance(dropout, (int, float)) or not 0 <= dropout < 1:
        raise ValueError(f"text_classifier: dropout must be a probability in [0, 1); got {dropout!r}")
    return TextClassifier(vocab, num_classes, width, encoder, layers, heads, context, padding_idx, pooling,
                          float(dropout), bool(bidirectional))
