"""Recurrent cells: RNNCell, LSTMCell and GRUCell, as PyTorch's: ONE time step, for loops the user writes.

The formulas are those of :mod:`chainrule.nn.recurrent` (PyTorch's, same gate orders):

* ``RNNCell``:  h' = act(x W_ih^T + b_ih + h W_hh^T + b_hh), act = tanh or relu;
* ``GRUCell``:  r, z = σ(·), n = tanh(x W_in^T + b_in + r ⊙ (h W_hn^T + b_hn)), h' = (1 - z) ⊙ n + z ⊙ h;
* ``LSTMCell``: i, f, o = σ(·), g = tanh(·) (rows i, f, g, o), c' = f ⊙ c + i ⊙ g, h' = o ⊙ tanh(c').

A call is two nodes of work: x W_ih^T + b_ih (+ b_hh where it folds) as one Linear node, then
the cell as one node with its closed-form backward (the one-step case of the sequence nodes of
:mod:`chainrule.nn.fused.recurrent` and :mod:`chainrule.nn.fused.lstm`, whose reference
compositions give gradients of gradients).
"""
from __future__ import annotations

import math

from ..engine.creation import empty, zeros
from ..engine.tensor import Tensor
from . import fused, init
from .arguments import float_dtype
from .fused.lstm import LSTMLayer, split_lstm_output
from .fused.recurrent import GRULayer, RNNLayer
from .module import Module
from .parameter import Parameter
from .recurrent import check_recurrent_sizes

__all__ = ["RNNCellBase", "RNNCell", "LSTMCell", "GRUCell"]


class RNNCellBase(Module):
    """What the cells share: weight_ih (G, input_size), weight_hh (G, hidden_size), bias_ih and
    bias_hh (G,) with ``bias`` (G = gates · hidden_size), all U(-1/√H, 1/√H) at first."""

    def __init__(self, input_size: int, hidden_size: int, bias: bool, num_chunks: int, dtype=None, device="cpu"):
        super().__init__()
        owner = type(self).__name__
        check_recurrent_sizes(owner, input_size, hidden_size, bias)
        dtype = float_dtype(dtype, owner)
        self.input_size, self.hidden_size, self.bias = input_size, hidden_size, bias
        gates = num_chunks * hidden_size
        self.weight_ih = Parameter(empty(gates, input_size, dtype=dtype, device=device))
        self.weight_hh = Parameter(empty(gates, hidden_size, dtype=dtype, device=device))
        if bias:
            self.bias_ih = Parameter(empty(gates, dtype=dtype, device=device))
            self.bias_hh = Parameter(empty(gates, dtype=dtype, device=device))
        else:
            self.register_parameter("bias_ih", None)
            self.register_parameter("bias_hh", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Every parameter ~ U(-1/√hidden_size, 1/√hidden_size) (PyTorch's default)."""
        bound = 1.0 / math.sqrt(self.hidden_size)
        for weight in self.parameters():
            init.uniform_(weight, -bound, bound)

    def extra_repr(self) -> str:
        s = f"{self.input_size}, {self.hidden_size}"
        if self.bias is not True:
            s += f", bias={self.bias}"
        if getattr(self, "nonlinearity", "tanh") != "tanh":
            s += f", nonlinearity={self.nonlinearity}"
        return s

    def _batched(self, input, states) -> tuple:  # noqa: A002 - PyTorch's name
        """(x (B, input_size), the states (B, H) or None, whether the input had a batch dimension),
        checked as PyTorch checks them."""
        owner = type(self).__name__
        if not isinstance(input, Tensor):
            raise TypeError(f"{owner}: expected a Tensor input; got {type(input).__name__}")
        if input.ndim not in (1, 2):
            raise ValueError(f"{owner}: Expected input to be 1D or 2D, got {input.ndim}D instead")
        batched = input.ndim == 2
        x = input if batched else input.unsqueeze(0)
        if x.shape[1] != self.input_size:
            raise RuntimeError(f"{owner}: input has inconsistent input_size: got {x.shape[1]} expected "
                               f"{self.input_size}")
        if x.dtype != self.weight_ih.dtype:
            raise ValueError(f"{owner}: input dtype ({x.dtype}) does not match weight dtype ({self.weight_ih.dtype})")
        if states is None:
            return x, None, batched
        checked = []
        for position, state in enumerate(states):
            if not isinstance(state, Tensor) or state.ndim != input.ndim:
                got = f"{state.ndim}D" if isinstance(state, Tensor) else type(state).__name__
                raise ValueError(f"{owner}: Expected hidden[{position}] to be {input.ndim}D like the input, got {got}")
            state = state if batched else state.unsqueeze(0)
            if tuple(state.shape) != (x.shape[0], self.hidden_size):
                raise RuntimeError(f"{owner}: hidden[{position}] must have shape ({x.shape[0]}, {self.hidden_size}) "
                                   f"(batch, hidden_size); got {tuple(state.shape)}")
            if state.dtype != x.dtype:
                raise ValueError(f"{owner}: hidden[{position}] has dtype {state.dtype} but the input has {x.dtype}")
            checked.append(state)
        return x, checked, batched

    def _projection(self, x: Tensor, fold_bias: bool) -> Tensor:
        """x W_ih^T + b_ih (+ b_hh when ``fold_bias``) as (1, B, G): the step's input part."""
        if self.bias_ih is None:
            xproj = fused.Linear.apply(x, self.weight_ih)
        else:
            xproj = fused.Linear.apply(x, self.weight_ih, self.bias_ih + self.bias_hh if fold_bias else self.bias_ih)
        return xproj.reshape(1, x.shape[0], xproj.shape[1])

    def _zeros(self, x: Tensor) -> Tensor:
        return zeros(x.shape[0], self.hidden_size, dtype=x.dtype, device=x.device)


class RNNCell(RNNCellBase):
    """h' = tanh(x W_ih^T + b_ih + h W_hh^T + b_hh) (``nonlinearity="relu"``: relu).

    ``forward(input, hx=None)``: input (B, input_size) or (input_size,), hx (B, H) or (H,)
    (zeros when None) -> h' of hx's shape.
    """

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, nonlinearity: str = "tanh",
                 dtype=None, device="cpu"):
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"RNNCell: Unknown nonlinearity {nonlinearity!r}. Select from 'tanh' or 'relu'.")
        super().__init__(input_size, hidden_size, bias, 1, dtype, device)
        self.nonlinearity = nonlinearity

    def forward(self, input, hx=None):  # noqa: A002 - PyTorch's name
        x, states, batched = self._batched(input, None if hx is None else (hx,))
        h = self._zeros(x) if states is None else states[0]
        out = RNNLayer.apply(self._projection(x, True), h, self.weight_hh, nonlinearity=self.nonlinearity)
        return out[1] if batched else out[1, 0]


class GRUCell(RNNCellBase):
    """One GRU step (PyTorch's form, gates r, z, n); ``forward(input, hx=None)`` -> h'."""

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, dtype=None, device="cpu"):
        super().__init__(input_size, hidden_size, bias, 3, dtype, device)

    def forward(self, input, hx=None):  # noqa: A002 - PyTorch's name
        x, states, batched = self._batched(input, None if hx is None else (hx,))
        h = self._zeros(x) if states is None else states[0]
        extra = () if self.bias_hh is None else (self.bias_hh,)
        out = GRULayer.apply(self._projection(x, False), h, self.weight_hh, *extra)
        return out[1] if batched else out[1, 0]


class LSTMCell(RNNCellBase):
    """One LSTM step (gates i, f, g, o); ``forward(input, hx=None)`` with hx = (h, c) or None
    (zeros) -> (h', c')."""

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, dtype=None, device="cpu"):
        super().__init__(input_size, hidden_size, bias, 4, dtype, device)

    def forward(self, input, hx=None):  # noqa: A002 - PyTorch's name
        if hx is not None and (not isinstance(hx, (tuple, list)) or len(hx) != 2):
            raise TypeError(f"LSTMCell: hx must be a pair (h, c) of Tensors; got {type(hx).__name__}")
        x, states, batched = self._batched(input, hx)
        h, c = (self._zeros(x), self._zeros(x)) if states is None else states
        out = LSTMLayer.apply(self._projection(x, True), h, c, self.weight_hh)
        _, h_new, c_new = split_lstm_output(out, 1, x.shape[0], self.hidden_size, self.hidden_size)
        return (h_new, c_new) if batched else (h_new[0], c_new[0])
