r"""A decoder-only transformer language model (GPT: Radford et al. 2018, 2019; Brown et al. 2020).

For a sequence of token ids t_1 … t_T (T ≤ ``context``)::

    h_0 = E[t] + P[1..T]                             token and learned position embeddings
    h_l = Block_l(h_{l-1})                           l = 1 … layers
    logits = LayerNorm(h_L) · E^T                    tied: the output layer is the embedding

where each block is pre-norm self-attention and a feed-forward network (GELU, 4 × width),
each added back to its input::

    h = h + MultiHeadAttention(LN(h)) under the causal mask (position i sees j ≤ i)
    h = h + W_2 gelu(W_1 LN(h) + b_1) + b_2

that is ``nn.TransformerEncoderLayer(width, heads, 4 * width, norm_first=True,
activation="gelu", batch_first=True)`` with the causal mask: the blocks are the library's own
layers, so a GPT trains with the same optimizers and Trainer as any other model and the
planner counts it layer by layer. Weights start as GPT-2's: every linear and embedding weight
N(0, 0.02²), the residual projections (attention's ``out_proj`` and the feed-forward's
``linear2``) N(0, (0.02 / √(2 · layers))²), biases 0, layer norms 1 and 0.

Training minimizes the cross-entropy of each next token (``F.cross_entropy(logits.flatten(0,
1), targets.flatten())``); in bits per character that is the loss / ln 2.
:meth:`GPT.generate` samples continuations.
"""
from __future__ import annotations

import math

from .. import nn
from ..engine import random as _random
from ..engine.autograd.grad_mode import no_grad
from ..engine.backend import host as np
from ..engine.creation import arange
from ..engine.tensor import Tensor, tensor

__all__ = ["GPT", "gpt"]


class GPT(nn.Module):
    """Token and position embeddings, ``layers`` pre-norm causal transformer blocks, a final
    layer norm and the tied output layer. Input (N, T) integer ids, T ≤ context → logits
    (N, T, vocab). See the module docstring for the math and the initialization.

    Sub-modules: ``token_embedding``, ``position_embedding``, ``drop``, ``blocks`` (a
    ModuleList of ``nn.TransformerEncoderLayer``), ``norm``, ``head`` (``nn.Linear`` without
    bias whose weight IS ``token_embedding.weight``).
    """

    def __init__(self, vocab: int, context: int, layers: int, heads: int, width: int, dropout: float = 0.0):
        super().__init__()
        self.vocab, self.context = vocab, context
        self.token_embedding = nn.Embedding(vocab, width)
        self.position_embedding = nn.Embedding(context, width)
        self.drop = nn.Dropout(dropout)
        self.blocks = nn.ModuleList([
            nn.TransformerEncoderLayer(width, heads, 4 * width, dropout, activation="gelu", batch_first=True,
                                       norm_first=True)
            for _ in range(layers)
        ])
        self.norm = nn.LayerNorm(width)
        self.head = nn.Linear(width, vocab, bias=False)
        self.head.weight = self.token_embedding.weight  # tied input and output embeddings
        self._masks = {}
        self._initialize(layers)

    def _initialize(self, layers: int) -> None:
        residual_std = 0.02 / math.sqrt(2 * layers)
        for name, parameter in self.named_parameters():
            if name.endswith("out_proj.weight") or name.endswith("linear2.weight"):
                nn.init.normal_(parameter, 0.0, residual_std)
            elif parameter.ndim == 2:
                nn.init.normal_(parameter, 0.0, 0.02)
            elif not name.startswith("norm") and ".norm" not in name:
                nn.init.zeros_(parameter)

    def forward(self, idx: Tensor) -> Tensor:
        if not isinstance(idx, Tensor):
            raise TypeError(f"GPT: expected a Tensor of token ids; got {type(idx).__name__}")
        if idx.ndim != 2:
            raise ValueError(f"GPT: expected token ids of shape (N, T); got shape {tuple(idx.shape)}")
        length = idx.shape[1]
        if not 1 <= length <= self.context:
            raise ValueError(f"GPT: sequence length must be between 1 and context={self.context}; got {length}")
        positions = arange(length, device=idx.device)
        h = self.drop(self.token_embedding(idx) + self.position_embedding(positions))
        mask = self._causal_mask(length, h)
        for block in self.blocks:
            h = block(h, src_mask=mask, is_causal=True)
        return self.head(self.norm(h))

    def _causal_mask(self, length: int, like: Tensor) -> Tensor:
        key = (length, like.dtype, like.device)
        if key not in self._masks:
            self._masks[key] = nn.Transformer.generate_square_subsequent_mask(length, like.device, like.dtype)
        return self._masks[key]

    def generate(self, prompt, max_new_tokens: int, temperature: float = 1.0, top_k: int | None = None) -> Tensor:
        """Continue ``prompt`` (token ids, shape (T,) or (N, T)) by ``max_new_tokens`` tokens
        sampled one at a time from softmax(logits / temperature) at the last position, keeping
        only the ``top_k`` most likely tokens when given (``top_k=1`` is greedy decoding). The
        model sees at most the last ``context`` tokens. Runs in evaluation mode without
        recording gradients (the training mode is restored); draws from chainrule's generator
        (``chainrule.manual_seed`` makes it repeatable). Returns the prompt and its continuation,
        int64, with the prompt's number of dimensions."""
        tokens, one_dim = self._check_generate(prompt, max_new_tokens, temperature, top_k)
        was_training = self.training
        self.eval()
        try:
            with no_grad():
                for _ in range(max_new_tokens):
                    window = tensor(tokens[:, -self.context:], device=self.head.weight.device)
                    logits = np.asarray(self(window)[:, -1, :].numpy(), dtype=np.float64)
                    tokens = np.concatenate([tokens, sample_next(logits, temperature, top_k)[:, None]], axis=1)
        finally:
            self.train(was_training)
        return tensor(tokens[0] if one_dim else tokens)

    def _check_generate(self, prompt, max_new_tokens, temperature, top_k):
        ids = np.asarray(prompt.numpy() if isinstance(prompt, Tensor) else prompt)
        if ids.dtype.kind not in "iu" or ids.ndim not in (1, 2) or ids.shape[-1] == 0:
            raise ValueError(
                f"GPT.generate: prompt must be integer token ids of shape (T,) or (N, T) with T >= 1; "
                f"got dtype {ids.dtype} and shape {ids.shape}"
            )
        if ids.min() < 0 or ids.max() >= self.vocab:
            raise ValueError(f"GPT.generate: prompt ids must lie in [0, {self.vocab}); got {ids.min()} … {ids.max()}")
        if isinstance(max_new_tokens, bool) or not isinstance(max_new_tokens, int) or max_new_tokens < 0:
            raise ValueError(f"GPT.generate: max_new_tokens must be an int >= 0; got {max_new_tokens!r}")
        if isinstance(temperature, bool) or not isinstance(temperature, (int, float)) or not (
                0 < temperature < math.inf):
            raise ValueError(
                f"GPT.generate: temperature must be a positive number (top_k=1 for greedy); got {temperature!r}"
            )
        if top_k is not None and (
                isinstance(top_k, bool) or not isinstance(top_k, int) or not 1 <= top_k <= self.vocab):
            raise ValueError(f"GPT.generate: top_k must be None or an int in [1, {self.vocab}]; got {top_k!r}")
        return np.atleast_2d(ids).astype(np.int64), ids.ndim == 1

    def extra_repr(self) -> str:
        return f"vocab={self.vocab}, context={self.context}"


def sample_next(logits, temperature: float, top_k: int | None):
    """One token id per row of ``logits`` (N, V): a draw from softmax(logits / temperature)
    restricted to the ``top_k`` largest logits (ties at the k-th value kept)."""
    scaled = logits / temperature
    if top_k is not None:
        kth = np.partition(scaled, -top_k, axis=-1)[:, -top_k, None]
        scaled = np.where(scaled < kth, -np.inf, scaled)
    probabilities = np.exp(scaled - scaled.max(axis=-1, keepdims=True))
    cumulative = np.cumsum(probabilities, axis=-1)
    draws = _random.generator().random((len(scaled), 1)) * cumulative[:, -1:]
    return np.minimum((cumulative <= draws).sum(axis=-1), scaled.shape[-1] - 1)


def gpt(vocab: int, context: int, layers: int, heads: int, width: int, *, dropout: float = 0.0) -> GPT:
    """A GPT language model: ``vocab`` tokens, at most ``context`` positions, ``layers``
    blocks of ``heads`` attention heads, model width ``width`` (divisible by ``heads``).

    ``gpt(65, 128, 4, 4, 128)`` is the character model of the guide (0.8M parameters);
    ``gpt(50257, 2048, 96, 96, 12288)`` has GPT-3's shape (175e9 parameters: build it with
    the planner's shape-only construction, not in memory).

        >>> model = chainrule.models.gpt(vocab=65, context=128, layers=4, heads=4, width=128)
        >>> model(chainrule.zeros(2, 16, dtype=chainrule.int64)).shape
        (2, 16, 65)
    """
    for name, value in (("vocab", vocab), ("context", context), ("layers", layers), ("heads", heads),
                        ("width", width)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"gpt: {name} must be a positive int; got {value!r}")
    if width % heads:
        raise ValueError(f"gpt: width must be divisible by heads; got width={width}, heads={heads}")
    if isinstance(dropout, bool) or not isinstance(dropout, (int, float)) or not 0 <= dropout < 1:
        raise ValueError(f"gpt: dropout must be a probability in [0, 1); got {dropout!r}")
    return GPT(vocab, context, layers, heads, width, float(dropout))
