"""Multi-head attention (Vaswani et al. 2017, section 3.2.2): ``MultiheadAttention``, with
PyTorch's arguments, parameter names and shapes,
initialization, masks and outputs, so that PyTorch state dicts load as they are.

With H heads of size d = E / H, and W_Q, W_K, W_V (stacked as ``in_proj_weight`` (3E, E), or
``q_proj_weight`` (E, E), ``k_proj_weight`` (E, kdim), ``v_proj_weight`` (E, vdim) when kdim or
vdim differ from E) and the output projection W_O (``out_proj``):

    head_h = softmax((Q W_Q^h)(K W_K^h)^T / sqrt(d) + B) (V W_V^h),   h = 1 … H
    MultiHead(Q, K, V) = concat(head_1, …, head_H) W_O^T + b_O

B is the additive mask: ``attn_mask`` (L, S) or (N * H, L, S) and ``key_padding_mask`` (N, S),
each bool (True = masked OUT, as PyTorch's MultiheadAttention) or float (added).
``add_bias_kv`` appends the learned ``bias_k``, ``bias_v`` as one more key and value;
``add_zero_attn`` appends a zero key and value after the head split.

Returns (output, weights) as PyTorch: output (L, N, E), or (N, L, E) with ``batch_first``,
(L, E) unbatched; with ``need_weights`` the attention weights (N, L, S) averaged over heads
(``average_attn_weights``) or (N, H, L, S) per head — computed as PyTorch does then, with the
reference ops (matmul, softmax, matmul), so a fully masked row gives NaN as there — and
None otherwise. The computation is :func:`chainrule.nn.attention.attend` (PyTorch's
``multi_head_attention_forward``, which :mod:`chainrule.nn.attention` also provides, in either
layout). Without ``need_weights`` (as TransformerEncoderLayer calls it) the attention
runs as one fused node (:class:`chainrule.nn.fused.MultiheadAttentionCore`) reading the
projections' layout as it is: no transpose copies for ``batch_first`` or not, and for
self-attention (query, key and value the same tensor) one packed projection whose gradient is
written in one buffer. Fully masked rows then give 0, as PyTorch's fast path.
"""
from __future__ import annotations

from ..engine.creation import empty
from ..engine.tensor import Tensor
from . import init
from .arguments import check_probability, float_dtype
from .attention import attend
from .layers import Linear
from .module import Module
from .parameter import Parameter

__all__ = ["MultiheadAttention", "NonDynamicallyQuantizableLinear"]


class NonDynamicallyQuantizableLinear(Linear):
    """A Linear layer under PyTorch's name for MultiheadAttention's ``out_proj`` (so reprs
    match; PyTorch uses the class to keep quantization tools away from it)."""


class MultiheadAttention(Module):
    """Multi-head attention (Vaswani et al. 2017) with PyTorch's arguments and parameters.

    Args:
        embed_dim: E, the model width (query features and output features).
        num_heads: H; E must be divisible by H (each head has d = E / H features).
        dropout: dropout probability on the attention weights in training (0.0).
        bias: learn ``in_proj_bias`` (3E,) and ``out_proj.bias`` (True).
        add_bias_kv: learn ``bias_k``, ``bias_v`` (1, 1, E), appended to the keys and values.
        add_zero_attn: append a zero key and value after the head split.
        kdim, vdim: features of key and value (default E); when either differs from E the
            projections are separate parameters ``q_proj_weight``, ``k_proj_weight``,
            ``v_proj_weight`` instead of the stacked ``in_proj_weight`` (3E, E).
        batch_first: inputs and output (N, L, E) instead of (L, N, E).

    Initialization (PyTorch's): Glorot-uniform projection weights, zero projection biases,
    ``out_proj.weight`` as a Linear layer's, ``bias_k``/``bias_v`` Glorot-normal.

    ``forward(query, key, value, key_padding_mask=None, need_weights=True, attn_mask=None,
    average_attn_weights=True, is_causal=False)`` returns (output, weights) as PyTorch (see
    the module docstring); ``is_causal`` is a hint that ``attn_mask`` is the causal mask.
    """

    def __init__(self, embed_dim: int, num_heads: int, dropout: float = 0.0, bias: bool = True,
                 add_bias_kv: bool = False, add_zero_attn: bool = False, kdim: int | None = None,
                 vdim: int | None = None, batch_first: bool = False, device=None, dtype=None):
        super().__init__()
        for name, value in (("embed_dim", embed_dim), ("num_heads", num_heads)):
            if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
                raise ValueError(f"MultiheadAttention: {name} must be an int > 0; got {value!r}")
        if embed_dim % num_heads:
            raise ValueError(
                f"MultiheadAttention: embed_dim must be divisible by num_heads; got embed_dim={embed_dim} "
                f"and num_heads={num_heads}"
            )
        check_probability(dropout, "MultiheadAttention")
        self.embed_dim, self.num_heads, self.dropout, self.batch_first = embed_dim, num_heads, dropout, batch_first
        self.kdim = kdim if kdim is not None else embed_dim
        self.vdim = vdim if vdim is not None else embed_dim
        self._qkv_same_embed_dim = self.kdim == embed_dim and self.vdim == embed_dim
        self.head_dim = embed_dim // num_heads
        self.add_zero_attn = add_zero_attn
        dtype, device = float_dtype(dtype, "MultiheadAttention"), device or "cpu"

        def parameter(*shape):
            return Parameter(empty(*shape, dtype=dtype, device=device))

        if not self._qkv_same_embed_dim:
            self.q_proj_weight = parameter(embed_dim, embed_dim)
            self.k_proj_weight = parameter(embed_dim, self.kdim)
            self.v_proj_weight = parameter(embed_dim, self.vdim)
            self.register_parameter("in_proj_weight", None)
        else:
            self.in_proj_weight = parameter(3 * embed_dim, embed_dim)
            for name in ("q_proj_weight", "k_proj_weight", "v_proj_weight"):
                self.register_parameter(name, None)
        if bias:
            self.in_proj_bias = parameter(3 * embed_dim)
        else:
            self.register_parameter("in_proj_bias", None)
        self.out_proj = NonDynamicallyQuantizableLinear(embed_dim, embed_dim, bias=bias, dtype=dtype, device=device)
        if add_bias_kv:
            self.bias_k, self.bias_v = parameter(1, 1, embed_dim), parameter(1, 1, embed_dim)
        else:
            self.bias_k = self.bias_v = None
        self._reset_parameters()

    def _reset_parameters(self) -> None:
        """PyTorch's initialization: Glorot-uniform projections, zero biases, Glorot-normal bias_k/v."""
        if self._qkv_same_embed_dim:
            init.xavier_uniform_(self.in_proj_weight)
        else:
            for weight in (self.q_proj_weight, self.k_proj_weight, self.v_proj_weight):
                init.xavier_uniform_(weight)
        if self.in_proj_bias is not None:
            init.zeros_(self.in_proj_bias)
            init.zeros_(self.out_proj.bias)
        if self.bias_k is not None:
            init.xavier_normal_(self.bias_k)
            init.xavier_normal_(self.bias_v)

    def forward(self, query: Tensor, key: Tensor, value: Tensor, key_padding_mask: Tensor | None = None,
                need_weights: bool = True, attn_mask: Tensor | None = None, average_attn_weights: bool = True,
                is_causal: bool = False):
        parameters = self._parameters
        weights = {name: parameters[name] for name in ("in_proj_weight", "in_proj_bias", "q_proj_weight",
                                                       "k_proj_weight", "v_proj_weight")}
        weights.update(bias_k=parameters.get("bias_k"), bias_v=parameters.get("bias_v"),
                       out_proj_weight=self.out_proj.weight, out_proj_bias=self.out_proj.bias)
        settings = {"embed_dim": self.embed_dim, "num_heads": self.num_heads, "add_zero_attn": self.add_zero_attn,
                    "dropout_p": self.dropout if self.training else 0.0, "batch_first": self.batch_first}
        return attend(query, key, value, weights, settings, key_padding_mask, need_weights, attn_mask,
                      average_attn_weights, is_causal)
