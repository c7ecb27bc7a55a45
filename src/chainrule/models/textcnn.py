r"""Kim's (2014) convolutional network for sentence classification (and regression).

For token ids t_1 … t_T of a document (right-padded with ``padding_idx``; m_i = 1 for a real
token, 0 for padding) and kernel widths k ∈ K (e.g. 3, 4, 5)::

    x_i   = E[t_i]                                              embeddings (E[padding_idx] = 0)
    c_k,i = relu(W_k · [x_i; x_{i+1}; …; x_{i+k-1}] + b_k)      one Conv1d per width, F filters
    z_k   = max_{i: m_i = 1} c_k,i                              max over time, windows that
                                                                 start on a real token
    z     = [z_k for k in K]                                    (N, F · |K|)
    ŷ     = W dropout(z) + b                                    (N, num_classes)

The ids are right-padded by max(K) - 1 more positions (zero embeddings, as Kim pads short
sentences), so every window that starts on a real token exists; pooling over exactly those
windows makes the prediction independent of how much padding follows a document (the
batch's longest decides the padding). Train it with ``F.cross_entropy`` (classes) or ``F.mse_loss`` (``num_classes=1``).

:class:`MeanEmbedding` is the simplest text model of all (a "bag of embeddings", as in
fastText: Joulin et al. 2017): z = Σ_i m_i E[t_i] / Σ_i m_i, the mean embedding of the real
tokens, which an MLP then reads.

Reference: Y. Kim, "Convolutional Neural Networks for Sentence Classification", EMNLP 2014;
A. Joulin, E. Grave, P. Bojanowski and T. Mikolov, "Bag of Tricks for Efficient Text
Classification", EACL 2017.
"""
from __future__ import annotations

from .. import nn
from ..engine import backend, ops
from ..engine.tensor import Tensor, wrap

__all__ = ["TextCNN", "textcnn", "MeanEmbedding", "token_mask"]


def token_mask(tokens: Tensor, padding_idx: int, who: str):
    """The (N, T) bool array m (True for a real token) of right-padded integer ids, after
    checking that ``tokens`` is (N, T) integer and every row starts with a real token."""
    if not isinstance(tokens, Tensor) or tokens.ndim != 2 or backend.host.dtype(tokens.dtype).kind not in "iu":
        got = (f"shape {tuple(tokens.shape)}, dtype {tokens.dtype}" if isinstance(tokens, Tensor)
               else type(tokens).__name__)
        raise ValueError(f"{who}: expected integer token ids of shape (N, T); got {got}")
    keep = tokens.data != padding_idx
    xp = backend.namespace_of(keep)
    if tokens.shape[1] == 0 or not bool(xp.all(keep[:, 0])):
        raise ValueError(f"{who}: every document needs at least one token and must start with one (right padding "
                         f"with padding_idx={padding_idx}); a row begins with padding or is empty")
    return keep


class TextCNN(nn.Module):
    """Embedding, parallel Conv1d of several widths, max-over-time pooling, dropout, linear head.

    Args:
        vocab: tokens in the vocabulary (ids 0 … vocab - 1, ``padding_idx`` among them).
        num_classes: outputs of the head (classes; 1 for a regression).
        width: the embedding width.
        kernel_sizes: the convolution widths (Kim: 3, 4, 5).
        filters: feature maps per width (Kim: 100).
        padding_idx: the padding token id (its embedding is zero and is not trained).
        dropout: dropout before the head (Kim: 0.5).

    Input (N, T) integer ids, right-padded → (N, num_classes). ``features(tokens)`` is the
    pooled (N, filters · len(kernel_sizes)) representation before dropout and head.
    """

    def __init__(self, vocab: int, num_classes: int, width: int = 128, kernel_sizes=(3, 4, 5), filters: int = 100,
                 padding_idx: int = 0, dropout: float = 0.5):
        super().__init__()
        self.padding_idx, self.kernel_sizes = padding_idx, tuple(kernel_sizes)
        self.embedding = nn.Embedding(vocab, width, padding_idx=padding_idx)
        self.convs = nn.ModuleList([nn.Conv1d(width, filters, k) for k in self.kernel_sizes])
        self.feature_size = filters * len(self.kernel_sizes)
        self.drop = nn.Dropout(dropout)
        self.head = nn.Linear(self.feature_size, num_classes)

    def forward(self, tokens: Tensor) -> Tensor:
        return self.head(self.drop(self.features(tokens)))

    def features(self, tokens: Tensor) -> Tensor:
        """The max-over-time pooled feature maps z (N, filters · len(kernel_sizes))."""
        keep = token_mask(tokens, self.padding_idx, "TextCNN")
        tokens, keep = _pad_to(tokens, keep, tokens.shape[1] + max(self.kernel_sizes) - 1, self.padding_idx)
        x = self.embedding(tokens).transpose(1, 2)  # (N, width, T)
        pooled = []
        for conv in self.convs:
            c = ops.relu(conv(x))  # (N, filters, T - k + 1) for kernel width k
            starts = keep[:, None, :c.shape[2]]  # a window counts when it starts on a real token
            pooled.append(ops.amax(ops.masked_fill(c, wrap(~starts), float("-inf")), dim=2))
        return ops.cat(pooled, dim=1)

    def extra_repr(self) -> str:
        return f"kernel_sizes={self.kernel_sizes}, padding_idx={self.padding_idx}"


def _pad_to(tokens: Tensor, keep, length: int, padding_idx: int):
    """``tokens`` and ``keep`` right-padded to at least ``length`` positions."""
    short = length - tokens.shape[1]
    if short <= 0:
        return tokens, keep
    xp = backend.namespace_of(keep)
    ids = xp.pad(tokens.data, ((0, 0), (0, short)), constant_values=padding_idx)
    return wrap(ids), xp.pad(keep, ((0, 0), (0, short)), constant_values=False)


class MeanEmbedding(nn.Module):
    """The mean embedding of a document's real tokens (a bag of embeddings).

    Args:
        vocab: tokens in the vocabulary; width: the embedding width; padding_idx: the padding id.

    ``features(tokens)`` and ``forward(tokens)``: (N, T) right-padded ids → (N, width).
    """

    def __init__(self, vocab: int, width: int = 64, padding_idx: int = 0):
        super().__init__()
        self.padding_idx, self.feature_size = padding_idx, width
        self.embedding = nn.Embedding(vocab, width, padding_idx=padding_idx)

    def forward(self, tokens: Tensor) -> Tensor:
        return self.features(tokens)

    def features(self, tokens: Tensor) -> Tensor:
        """z = Σ_i m_i E[t_i] / Σ_i m_i (N, width)."""
        keep = token_mask(tokens, self.padding_idx, "MeanEmbedding")
        counts = wrap(keep.sum(axis=1, keepdims=True).astype(self.embedding.weight.data.dtype))
        return self.embedding(tokens).sum(dim=1) / counts  # the padding's embedding is zero

    def extra_repr(self) -> str:
        return f"padding_idx={self.padding_idx}"


def textcnn(vocab: int, num_classes: int, *, width: int = 128, kernel_sizes=(3, 4, 5), filters: int = 100,
            padding_idx: int = 0, dropout: float = 0.5) -> TextCNN:
    """A :class:`TextCNN` (Kim 2014), with its arguments checked.

        >>> model = chainrule.models.textcnn(vocab=5000, num_classes=2)
        >>> model(token_ids).shape        # token_ids (N, T), right-padded with 0
        (N, 2)
    """
    for name, value in (("vocab", vocab), ("num_classes", num_classes), ("width", width), ("filters", filters)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"textcnn: {name} must be a positive int; got {value!r}")
    sizes = list(kernel_sizes) if isinstance(kernel_sizes, (list, tuple)) else None
    if not sizes or any(isinstance(k, bool) or not isinstance(k, int) or k < 1 for k in sizes):
        raise ValueError(f"textcnn: kernel_sizes must be a non-empty list of positive ints; got {kernel_sizes!r}")
    if isinstance(padding_idx, bool) or not isinstance(padding_idx, int) or not 0 <= padding_idx < vocab:
        raise ValueError(f"textcnn: padding_idx must be an int in [0, {vocab}); got {padding_idx!r}")
    if isinstance(dropout, bool) or not isinstance(dropout, (int, float)) or not 0 <= dropout < 1:
        raise ValueError(f"textcnn: dropout must be a probability in [0, 1); got {dropout!r}")
    return TextCNN(vocab, num_classes, width, tuple(sizes), filters, padding_idx, float(dropout))
