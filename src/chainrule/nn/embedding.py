"""Embedding: a learned table of vectors looked up by integer index, and its functional form
``embedding`` (PyTorch's names, signature, defaults, initialization and repr).

``embedding(I, W)[p] = W[I[p]]``: an index tensor I of any shape gives I.shape + (D,) for a
(V, D) table W. It is the product of one-hot rows with W computed without forming them, so
its gradient adds each position's upstream gradient into the row it read (a scatter-add;
:mod:`chainrule.nn.fused.embedding`). Options, as PyTorch:

* ``padding_idx``: that row is initialized to zeros and never receives a gradient (the
  output at padded positions is still W[padding_idx]);
* ``max_norm``: before the lookup, each looked-up row whose ``norm_type``-norm exceeds
  max_norm is rescaled in place to norm max_norm (factor max_norm / (norm + 1e-7)), outside
  the graph, as ``torch.embedding_renorm_``;
* ``scale_grad_by_freq``: each position's gradient is divided by how many positions of the
  batch read the same row.

``sparse=True`` (sparse gradients) is not supported: chainrule has no sparse tensors.
"""
from __future__ import annotations

from ..engine import backend
from ..engine.autograd import no_grad
from ..engine.creation import empty
from ..engine.tensor import Tensor, bump_version
from . import fused, init
from .arguments import check_same_device, float_dtype, require_float, tensor_argument
from .module import Module
from .parameter import Parameter

__all__ = ["embedding", "Embedding"]


def embedding(input: Tensor, weight: Tensor, padding_idx: int | None = None, max_norm: float | None = None,  # noqa: A002
              norm_type: float = 2.0, scale_grad_by_freq: bool = False, sparse: bool = False) -> Tensor:
    """Rows of ``weight`` (V, D) at the integer indices ``input`` (any shape): output shape
    input.shape + (D,) (torch.nn.functional.embedding). See the module docstring for
    ``padding_idx``, ``max_norm`` (which changes ``weight`` in place) and
    ``scale_grad_by_freq``. One graph node; the gradient of ``weight`` is a scatter-add."""
    indices = tensor_argument(input, "embedding", "input")
    weight = tensor_argument(weight, "embedding", "weight")
    if indices.dtype.kind not in "iu":
        raise TypeError(f"embedding: input must hold integer indices (int64 or int32); got dtype {indices.dtype}")
    if weight.ndim != 2:
        raise ValueError(f"embedding: weight must have shape (num_embeddings, embedding_dim); got shape {weight.shape}")
    require_float(weight, "embedding", "weight")
    check_same_device(weight, indices, "embedding", "input")
    if sparse:
        raise ValueError("embedding: sparse=True (sparse gradients) is not supported; use sparse=False")
    rows = weight.shape[0]
    padding_idx = check_padding_idx(padding_idx, rows, "embedding")
    data = indices.data
    if data.size:
        low, high = int(data.min()), int(data.max())
        if low < 0 or high >= rows:
            bad = low if low < 0 else high
            raise IndexError(
                f"embedding: index {bad} is out of range for a weight with {rows} rows "
                f"(indices must lie in [0, {rows}))"
            )
    if max_norm is not None:
        embedding_renorm_(weight, data, max_norm, norm_type)
    return fused.Embedding.apply(
        weight, indices=data.astype(backend.int64, copy=False), padding_idx=padding_idx,
        scale_grad_by_freq=bool(scale_grad_by_freq),
    )


def embedding_renorm_(weight: Tensor, indices, max_norm: float, norm_type: float = 2.0) -> Tensor:
    """Rescale, in place and outside the graph, each row of ``weight`` named in ``indices``
    whose ``norm_type``-norm exceeds ``max_norm`` to norm max_norm: W[v] *= max_norm /
    (norm + 1e-7) (torch.embedding_renorm_). Returns ``weight``."""
    if isinstance(max_norm, bool) or not isinstance(max_norm, (int, float)) or not max_norm >= 0:
        raise ValueError(f"embedding: max_norm must be a number >= 0 or None; got {max_norm!r}")
    if isinstance(norm_type, bool) or not isinstance(norm_type, (int, float)):
        raise ValueError(f"embedding: norm_type must be a number; got {norm_type!r}")
    xp = backend.namespace_of(weight.data)
    rows = xp.unique(indices.reshape(-1))
    with no_grad():
        picked = weight.data[rows]
        norms = xp.linalg.norm(picked.astype(backend.float64), ord=float(norm_type), axis=1)
        over = norms > max_norm
        if bool(over.any()):
            scale = (max_norm / (norms[over] + 1e-7)).astype(weight.dtype)
            weight.data[rows[over]] = picked[over] * scale[:, None]
            bump_version(weight)
    return weight


class Embedding(Module):
    """A lookup table of ``num_embeddings`` vectors of size ``embedding_dim``:
    ``Embedding(V, D)(I)`` is W[I], shape I.shape + (D,).

    Args:
        num_embeddings: V, the size of the vocabulary.
        embedding_dim: D.
        padding_idx: a row (negative counts from the end) initialized to zeros that never
            receives a gradient.
        max_norm, norm_type: renormalize looked-up rows whose norm exceeds max_norm, in place.
        scale_grad_by_freq: divide gradients by the words' frequency in the batch.
        sparse: must be False (sparse gradients are not supported).
        _weight: an initial (V, D) weight to use instead of N(0, 1) draws; _freeze: do not
            learn it (PyTorch's private arguments, used by :meth:`from_pretrained`).

    Attributes:
        weight: Parameter (num_embeddings, embedding_dim), initialized from N(0, 1) (the
            padding row zeroed).
    """

    def __init__(self, num_embeddings: int, embedding_dim: int, padding_idx: int | None = None,
                 max_norm: float | None = None, norm_type: float = 2.0, scale_grad_by_freq: bool = False,
                 sparse: bool = False, _weight: Tensor | None = None, _freeze: bool = False, device=None, dtype=None):
        super().__init__()
        for name, value in (("num_embeddings", num_embeddings), ("embedding_dim", embedding_dim)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ValueError(f"Embedding: {name} must be an int >= 0; got {value!r}")
        if sparse:
            raise ValueError("Embedding: sparse=True (sparse gradients) is not supported; use sparse=False")
        self.num_embeddings, self.embedding_dim = num_embeddings, embedding_dim
        self.padding_idx = check_padding_idx(padding_idx, num_embeddings, "Embedding")
        self.max_norm, self.norm_type = max_norm, norm_type
        self.scale_grad_by_freq, self.sparse = scale_grad_by_freq, sparse
        if _weight is None:
            self.weight = Parameter(empty(num_embeddings, embedding_dim, dtype=float_dtype(dtype, "Embedding"),
                                          device=device or "cpu"), requires_grad=not _freeze)
            self.reset_parameters()
        else:
            _weight = tensor_argument(_weight, "Embedding", "_weight")
            if tuple(_weight.shape) != (num_embeddings, embedding_dim):
                raise ValueError(
                    f"Embedding: _weight must have shape ({num_embeddings}, {embedding_dim}) "
                    f"(num_embeddings, embedding_dim); got shape {_weight.shape}"
                )
            self.weight = Parameter(_weight.detach(), requires_grad=not _freeze)

    def reset_parameters(self) -> None:
        """weight ~ N(0, 1), the padding row set to zeros (PyTorch's default)."""
        init.normal_(self.weight)
        self._fill_padding_idx_with_zero()

    def _fill_padding_idx_with_zero(self) -> None:
        if self.padding_idx is not None:
            self.weight.data[self.padding_idx] = 0
            bump_version(self.weight)

    def forward(self, input: Tensor) -> Tensor:  # noqa: A002
        return embedding(input, self.weight, self.padding_idx, self.max_norm, self.norm_type,
                         self.scale_grad_by_freq, self.sparse)

    def extra_repr(self) -> str:
        text = f"{self.num_embeddings}, {self.embedding_dim}"
        if self.padding_idx is not None:
            text += f", padding_idx={self.padding_idx}"
        if self.max_norm is not None:
            text += f", max_norm={self.max_norm}"
        if self.norm_type != 2:
            text += f", norm_type={self.norm_type}"
        if self.scale_grad_by_freq is not False:
            text += f", scale_grad_by_freq={self.scale_grad_by_freq}"
        return text

    @classmethod
    def from_pretrained(cls, embeddings: Tensor, freeze: bool = True, padding_idx: int | None = None,
                        max_norm: float | None = None, norm_type: float = 2.0, scale_grad_by_freq: bool = False,
                        sparse: bool = False) -> Embedding:
        """An Embedding whose weight is (a copy of) ``embeddings`` (V, D), not learned unless
        ``freeze=False`` (torch.nn.Embedding.from_pretrained). The padding row is not zeroed."""
        embeddings = tensor_argument(embeddings, "Embedding.from_pretrained", "embeddings")
        if embeddings.ndim != 2:
            raise ValueError(
                f"Embedding.from_pretrained: embeddings must be 2-D (num_embeddings, embedding_dim); "
                f"got shape {embeddings.shape}"
            )
        rows, cols = embeddings.shape
        return cls(rows, cols, padding_idx, max_norm, norm_type, scale_grad_by_freq, sparse,
                   _weight=embeddings.clone(), _freeze=freeze)


def check_padding_idx(padding_idx, rows: int, owner: str):
    """``padding_idx`` as a row number in [0, rows) (a negative one counts from the end), or None."""
    if padding_idx is None:
        return None
    if isinstance(padding_idx, bool) or not isinstance(padding_idx, int) or not -rows <= padding_idx < rows:
        raise ValueError(
            f"{owner}: padding_idx must be an int within num_embeddings (in [-{rows}, {rows})); got {padding_idx!r}"
        )
    return padding_idx + rows if padding_idx < 0 else padding_idx
