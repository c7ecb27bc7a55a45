"""Positional encodings: the information about token order that attention, being
permutation-equivariant, does not have on its own. PyTorch has no such layer (its tutorials
write one by hand); these two are chainrule's, documented here.

* :class:`SinusoidalPositionalEncoding` (Vaswani et al. 2017, section 3.5) adds the fixed table

      PE[pos, 2i]     = sin(pos / 10000^(2i / d_model))
      PE[pos, 2i + 1] = cos(pos / 10000^(2i / d_model))

  to its input. Each pair of features is a rotation at its own wavelength (a geometric
  progression from 2 pi to 10000 * 2 pi), so PE[pos + k] is a linear function of PE[pos]
  for every offset k: relative positions are easy for attention to read. The table is a
  buffer (not learned and not in the state dict: ``persistent=False``), computed for
  ``max_len`` positions in float64 and stored in the module's dtype.
* :class:`LearnedPositionalEncoding` (Gehring et al. 2017; BERT, GPT) adds a learned vector
  per position: an :class:`~chainrule.nn.Embedding` over positions 0 … max_len - 1, its
  weight initialized N(0, 1) as an Embedding's.

Both take ``batch_first`` (input (N, L, E)) or not ((L, N, E), PyTorch's Transformer default;
also unbatched (L, E)), apply ``dropout`` after the sum as in the paper, and refuse a sequence
longer than ``max_len``.
"""
from __future__ import annotations

import math

from ..engine import backend
from ..engine.creation import arange
from ..engine.tensor import Tensor, wrap
from .arguments import check_size, float_dtype, tensor_argument
from .embedding import Embedding
from .layers import Dropout
from .module import Module

__all__ = ["SinusoidalPositionalEncoding", "LearnedPositionalEncoding", "sinusoidal_table"]


def sinusoidal_table(max_len: int, d_model: int, dtype=None):
    """The (max_len, d_model) host array PE of Vaswani et al. (see the module docstring),
    computed in float64 (then cast to ``dtype``, float32 by default). An odd d_model keeps the
    first ceil(d / 2) sines and floor(d / 2) cosines."""
    xp = backend.host
    position = xp.arange(max_len, dtype=backend.float64)[:, None]
    rates = xp.exp(xp.arange(0, d_model, 2, dtype=backend.float64) * (-math.log(10000.0) / d_model))
    table = xp.zeros((max_len, d_model), dtype=backend.float64)
    table[:, 0::2] = xp.sin(position * rates)
    table[:, 1::2] = xp.cos(position * rates[: d_model // 2])
    return table.astype(float_dtype(dtype, "sinusoidal_table"))


class _PositionalEncoding(Module):
    """What both encodings share: the layout, the length check, dropout."""

    def configure(self, d_model: int, max_len: int, dropout: float, batch_first: bool, owner: str) -> None:
        check_size(d_model, "d_model", owner, 1)
        check_size(max_len, "max_len", owner, 1)
        self.d_model, self.max_len, self.batch_first = d_model, max_len, batch_first
        self.dropout = Dropout(dropout)

    def positions_of(self, x, owner: str) -> int:
        """The sequence length of x, checked against the layout and max_len."""
        x = tensor_argument(x, owner, "input")
        if x.ndim not in (2, 3) or x.shape[-1] != self.d_model:
            layout = "(N, L, E)" if self.batch_first else "(L, N, E)"
            raise ValueError(f"{owner}: expected input of shape {layout} or (L, E) with E = d_model = "
                             f"{self.d_model}; got shape {x.shape}")
        length = x.shape[1] if x.ndim == 3 and self.batch_first else x.shape[0]
        if length > self.max_len:
            raise ValueError(f"{owner}: the sequence has {length} positions, more than max_len={self.max_len}")
        return length

    def add(self, x: Tensor, table: Tensor) -> Tensor:
        """x + table (L, E) broadcast over the batch in the input's layout, then dropout."""
        if x.ndim == 3 and not self.batch_first:
            table = table.reshape(table.shape[0], 1, table.shape[1])
        return self.dropout(x + table)

    def extra_repr(self) -> str:
        return f"d_model={self.d_model}, max_len={self.max_len}, batch_first={self.batch_first}"


class SinusoidalPositionalEncoding(_PositionalEncoding):
    """x + PE[:L] (then dropout), PE the fixed sinusoidal table of Vaswani et al. (2017).

    Args:
        d_model: E, the model width.
        max_len: the longest sequence (5000).
        dropout: dropout after the sum (0.0; the paper uses 0.1).
        batch_first: input (N, L, E) instead of (L, N, E).

    Buffer ``pe`` (max_len, d_model), not persistent (not in the state dict: it is a
    function of d_model and max_len), moved and cast with the module.
    """

    def __init__(self, d_model: int, max_len: int = 5000, dropout: float = 0.0, batch_first: bool = False,
                 device=None, dtype=None):
        super().__init__()
        self.configure(d_model, max_len, dropout, batch_first, "SinusoidalPositionalEncoding")
        table = backend.move(sinusoidal_table(max_len, d_model, dtype), device or "cpu")
        self.register_buffer("pe", wrap(table), persistent=False)

    def forward(self, x: Tensor) -> Tensor:
        length = self.positions_of(x, "SinusoidalPositionalEncoding")
        table = self.pe[:length]
        if table.dtype != x.dtype:
            raise TypeError(f"SinusoidalPositionalEncoding: input has dtype {x.dtype} but the table has dtype "
                            f"{table.dtype}; convert one of them (module.to(dtype))")
        return self.add(x, table)


class LearnedPositionalEncoding(_PositionalEncoding):
    """x + P[0 … L-1] (then dropout), P a learned (max_len, d_model) table: the ``embedding``
    sub-module, an :class:`~chainrule.nn.Embedding` over positions (weight N(0, 1)).

    Args as :class:`SinusoidalPositionalEncoding`.
    """

    def __init__(self, d_model: int, max_len: int = 5000, dropout: float = 0.0, batch_first: bool = False,
                 device=None, dtype=None):
        super().__init__()
        self.configure(d_model, max_len, dropout, batch_first, "LearnedPositionalEncoding")
        self.embedding = Embedding(max_len, d_model, device=device, dtype=dtype)

    def forward(self, x: Tensor) -> Tensor:
        length = self.positions_of(x, "LearnedPositionalEncoding")
        positions = arange(length, device=x.device)
        return self.add(x, self.embedding(positions))
