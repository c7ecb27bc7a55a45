r"""A network over a table's text columns and its other (encoded, numeric) features at once.

One row of the input is the token ids of C text columns, each right-padded to L positions,
followed by p encoded features, stored in one float matrix (the ids are small integers, exact
in float32 up to 2²⁴, so the table travels through the same mini-batches, Trainer and
predictor as any other)::

    x = [ t^(1)_1 … t^(1)_L | … | t^(C)_1 … t^(C)_L | f_1 … f_p ]      (N, C · L + p)

Every text column is read by one shared body (the same embedding and encoder for every
column), which pools a column's tokens into z^(c); the head reads their concatenation with
the features::

    ŷ = head([ z^(1), …, z^(C), f ])

Bodies (``kind``): "mlp" — the mean embedding of the real tokens (:class:`MeanEmbedding`),
read by an MLP head of ``hidden`` layers; "textcnn" — Kim's convolutions with max-over-time
pooling (:class:`~chainrule.models.textcnn.TextCNN`); "gru" — a bidirectional GRU over
packed sequences, mean-pooled; "transformer" — a pre-norm transformer encoder with learned
positions and the padding masked, mean-pooled
(:class:`~chainrule.models.text_classifier.TextClassifier`). For all but "mlp" the head is
dropout and one linear layer.
"""
from __future__ import annotations

from .. import nn
from ..engine import backend, ops
from ..engine.tensor import Tensor, wrap
from .text_classifier import TextClassifier
from .textcnn import MeanEmbedding, TextCNN

__all__ = ["TextColumns", "text_columns", "TEXT_BODIES"]

TEXT_BODIES = ("mlp", "textcnn", "gru", "transformer")


class TextColumns(nn.Module):
    """A shared text body over ``columns`` token blocks of ``length`` ids, and a head over the
    pooled blocks and ``numeric`` features (see the module docstring). The constructor's
    arguments are those of :func:`text_columns`."""

    def __init__(self, kind: str, vocab: int, num_outputs: int, columns: int, length: int, numeric: int = 0, *,
                 width: int = 64, hidden=(64,), activation: str = "relu", dropout: float = 0.0, batchnorm: bool = False,
                 layers: int = 1, heads: int = 4, kernel_sizes=(3, 4, 5), filters: int = 64, padding_idx: int = 0):
        super().__init__()
        self.kind, self.columns, self.length, self.numeric = kind, columns, length, numeric
        if kind == "mlp":
            self.body = MeanEmbedding(vocab, width, padding_idx)
        elif kind == "textcnn":
            self.body = TextCNN(vocab, 1, width, kernel_sizes, filters, padding_idx, dropout)
        else:
            self.body = TextClassifier(vocab, 1, width, kind, layers, heads, context=length, padding_idx=padding_idx,
                                       pooling="mean", dropout=dropout)
        inputs = columns * self.body.feature_size + numeric
        if kind == "mlp":
            self.head = nn.MLP([inputs, *hidden, num_outputs], activation=activation, dropout=dropout,
                               batchnorm=batchnorm)
        else:
            self.head = nn.Sequential(nn.Dropout(dropout), nn.Linear(inputs, num_outputs))

    def forward(self, x: Tensor) -> Tensor:
        if not isinstance(x, Tensor) or x.ndim != 2 or x.shape[1] != self.columns * self.length + self.numeric:
            got = tuple(x.shape) if isinstance(x, Tensor) else type(x).__name__
            raise ValueError(f"TextColumns: expected input of shape (N, {self.columns * self.length + self.numeric}) "
                             f"({self.columns} text columns of {self.length} ids, then {self.numeric} features); "
                             f"got {got}")
        data = x.data
        xp = backend.namespace_of(data)
        ids = data[:, :self.columns * self.length].astype(xp.int64)
        parts = [self.body.features(wrap(ids[:, c * self.length:(c + 1) * self.length]))
                 for c in range(self.columns)]
        if self.numeric:
            parts.append(wrap(data[:, self.columns * self.length:]))
        return self.head(ops.cat(parts, dim=1) if len(parts) > 1 else parts[0])

    def extra_repr(self) -> str:
        return f"kind={self.kind!r}, columns={self.columns}, length={self.length}, numeric={self.numeric}"


def text_columns(kind: str, vocab: int, num_outputs: int, columns: int, length: int, numeric: int = 0, *,
                 width: int = 64, hidden=(64,), activation: str = "relu", dropout: float = 0.0, batchnorm: bool = False,
                 layers: int = 1, heads: int = 4, kernel_sizes=(3, 4, 5), filters: int = 64,
                 padding_idx: int = 0) -> TextColumns:
    """A :class:`TextColumns` network, with its arguments checked.

    Args:
        kind: the text body: "mlp", "textcnn", "gru" or "transformer".
        vocab: tokens in the vocabulary (ids 0 … vocab - 1, ``padding_idx`` among them).
        num_outputs: outputs (1 for a regression or a binary classifier, K classes otherwise).
        columns: text columns; length: ids per column (right-padded with ``padding_idx``).
        numeric: encoded features after the text blocks.
        width: embedding (and encoder) width; hidden, activation, batchnorm: the MLP head ("mlp");
        dropout: in the head (and the encoder); layers, heads: the GRU / transformer;
        kernel_sizes, filters: the TextCNN.

        >>> net = chainrule.models.text_columns("textcnn", vocab=2000, num_outputs=1, columns=1, length=64)
        >>> net(x).shape     # x (N, 64): float token ids
        (N, 1)
    """
    if kind not in TEXT_BODIES:
        raise ValueError(f"text_columns: kind must be one of {', '.join(map(repr, TEXT_BODIES))}; got {kind!r}")
    for name, value, low in (("vocab", vocab, 1), ("num_outputs", num_outputs, 1), ("columns", columns, 1),
                             ("length", length, 1), ("numeric", numeric, 0), ("width", width, 1),
                             ("layers", layers, 1), ("heads", heads, 1), ("filters", filters, 1)):
        if isinstance(value, bool) or not isinstance(value, int) or value < low:
            raise ValueError(f"text_columns: {name} must be an int >= {low}; got {value!r}")
    if kind == "transformer" and width % heads:
        raise ValueError(f"text_columns: width must be divisible by heads; got width={width}, heads={heads}")
    if isinstance(dropout, bool) or not isinstance(dropout, (int, float)) or not 0 <= dropout < 1:
        raise ValueError(f"text_columns: dropout must be a probability in [0, 1); got {dropout!r}")
    if isinstance(padding_idx, bool) or not isinstance(padding_idx, int) or not 0 <= padding_idx < vocab:
        raise ValueError(f"text_columns: padding_idx must be an int in [0, {vocab}); got {padding_idx!r}")
    return TextColumns(kind, vocab, num_outputs, columns, length, numeric, width=width, hidden=tuple(hidden),
                       activation=activation, dropout=float(dropout), batchnorm=bool(batchnorm), layers=layers,
                       heads=heads,
                       kernel_sizes=tuple(kernel_sizes), filters=filters, padding_idx=padding_idx)
