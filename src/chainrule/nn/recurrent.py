"""Recurrent layers: RNN, LSTM and GRU, as PyTorch's ``torch.nn`` (names, shapes, initialization, repr).

Each layer l and direction runs, for t = 1 … T (backward in time for the ``_reverse`` direction
of a bidirectional layer), one of (PyTorch's formulas and gate orders):

* ``RNN``:  h_t = act(x_t W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh), act = tanh or relu;
* ``GRU``:  r, z = σ(x W_i{r,z}^T + b_i{r,z} + h W_h{r,z}^T + b_h{r,z}),
  n = tanh(x W_in^T + b_in + r ⊙ (h W_hn^T + b_hn)),  h' = (1 - z) ⊙ n + z ⊙ h;
* ``LSTM``: i, f, o = σ(·), g = tanh(·) of x W_ih^T + b_ih + h W_hh^T + b_hh (rows i, f, g, o),
  c' = f ⊙ c + i ⊙ g,  h' = o ⊙ tanh(c')  (times W_hr^T with ``proj_size`` > 0).

Layer l > 0 reads the outputs of layer l - 1 (both directions concatenated, forward first),
after dropout with probability ``dropout`` in training mode (not after the last layer).

How it runs: per layer and direction, the input projection x W_ih^T + b_ih (+ b_hh where it
can be folded in) of ALL time steps is one matrix product (a :class:`~chainrule.nn.fused.Linear`
node on T·B rows), then the whole time loop is ONE node with a hand-written backpropagation
through time (:mod:`chainrule.nn.fused.recurrent`, :mod:`chainrule.nn.fused.lstm`), tested
equal to the step-by-step composition of reference ops. A :class:`~chainrule.nn.utils.rnn.
PackedSequence` input runs each sequence to its own length.
"""
from __future__ import annotations

import math
import warnings

from ..engine import backend, ops
from ..engine.creation import empty, zeros
from ..engine.tensor import Tensor
from . import functional as F
from . import fused, init
from .arguments import float_dtype
from .fused.lstm import LSTMLayer, split_lstm_output
from .fused.recurrent import GRULayer, RNNLayer
from .module import Module
from .parameter import Parameter
from .utils.rnn import PackedSequence, packed_from_padded, padded_from_packed

__all__ = ["RNNBase", "RNN", "LSTM", "GRU", "check_recurrent_sizes", "run_recurrence"]

GATES = {"RNN_TANH": 1, "RNN_RELU": 1, "LSTM": 4, "GRU": 3}
WEIGHT_NAMES = ("weight_ih", "weight_hh", "bias_ih", "bias_hh", "weight_hr")


def check_recurrent_sizes(owner: str, input_size, hidden_size, bias) -> None:
    """The checks every recurrent layer and cell makes of its sizes (PyTorch's error types)."""
    for name, value in (("input_size", input_size), ("hidden_size", hidden_size)):
        if isinstance(value, bool) or not isinstance(value, int):
            raise TypeError(f"{owner}: {name} should be of type int, got: {type(value).__name__}")
        if value <= 0:
            raise ValueError(f"{owner}: {name} must be greater than zero; got {value}")
    if not isinstance(bias, bool):
        raise TypeError(f"{owner}: bias should be of type bool, got: {type(bias).__name__}")


def run_recurrence(mode: str, x: Tensor, state: tuple, weights: dict, reverse: bool = False,
                   batch_sizes=None, nonlinearity: str = "tanh"):
    """One layer in one direction over x (T, B, I): (outputs (T, B, H_out), final states).

    ``weights`` holds weight_ih, weight_hh and, where present, bias_ih, bias_hh, weight_hr;
    ``state`` is (h_0,) or, for the LSTM, (h_0, c_0), each (B, ·)."""
    steps, batch, features = x.shape
    w_ih, w_hh, b_ih, b_hh = (weights.get(k) for k in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"))
    rows = x.reshape(steps * batch, features)
    if b_ih is None:
        xproj = fused.Linear.apply(rows, w_ih)
    else:
        xproj = fused.Linear.apply(rows, w_ih, b_ih if mode == "GRU" else b_ih + b_hh)
    xproj = xproj.reshape(steps, batch, w_ih.shape[0])
    if mode == "LSTM":
        extra = (weights["weight_hr"],) if weights.get("weight_hr") is not None else ()
        out = LSTMLayer.apply(xproj, *state, w_hh, *extra, reverse=reverse, batch_sizes=batch_sizes)
        outputs, h_n, c_n = split_lstm_output(out, steps, batch, w_hh.shape[1], state[1].shape[1])
        return outputs, (h_n, c_n)
    if mode == "GRU":
        extra = () if b_hh is None else (b_hh,)
        out = GRULayer.apply(xproj, state[0], w_hh, *extra, reverse=reverse, batch_sizes=batch_sizes)
    else:
        out = RNNLayer.apply(xproj, state[0], w_hh, nonlinearity=nonlinearity, reverse=reverse,
                             batch_sizes=batch_sizes)
    return out[:steps], (out[steps],)


class RNNBase(Module):
    """What RNN, LSTM and GRU share: the parameters of every layer and direction (PyTorch's
    names ``weight_ih_l{k}[_reverse]`` …), their initialization, the checks and the forward.

    Parameters of layer k (``_reverse`` appended for the backward direction), G = gates · H
    (gates: 1 RNN, 3 GRU, 4 LSTM), H_out = ``proj_size`` or H, D = 2 if bidirectional else 1:
    weight_ih_l{k} (G, input_size for k = 0 else D · H_out), weight_hh_l{k} (G, H_out),
    bias_ih_l{k} and bias_hh_l{k} (G,) with ``bias``, weight_hr_l{k} (proj_size, H) with a
    projection. All start as U(-1/√H, 1/√H) (``reset_parameters``, PyTorch's default).
    """

    def __init__(self, mode: str, input_size: int, hidden_size: int, num_layers: int = 1, bias: bool = True,
                 batch_first: bool = False, dropout: float = 0.0, bidirectional: bool = False,
                 proj_size: int = 0, dtype=None, device="cpu"):
        super().__init__()
        owner = type(self).__name__
        _check_layer_arguments(owner, input_size, hidden_size, num_layers, bias, batch_first, dropout,
                               bidirectional, proj_size)
        dtype = float_dtype(dtype, owner)
        self.mode, self.input_size, self.hidden_size, self.num_layers = mode, input_size, hidden_size, num_layers
        self.bias, self.batch_first, self.dropout = bias, batch_first, float(dropout)
        self.bidirectional, self.proj_size = bidirectional, proj_size
        gates, size, directions = GATES[mode] * hidden_size, proj_size or hidden_size, 2 if bidirectional else 1
        self._flat_weights_names = []
        for layer in range(num_layers):
            for direction in range(directions):
                shapes = {"weight_ih": (gates, input_size if layer == 0 else size * directions),
                          "weight_hh": (gates, size)}
                if bias:
                    shapes.update(bias_ih=(gates,), bias_hh=(gates,))
                if proj_size:
                    shapes["weight_hr"] = (proj_size, hidden_size)
                for name, shape in shapes.items():
                    full_name = f"{name}_l{layer}{'_reverse' if direction else ''}"
                    setattr(self, full_name, Parameter(empty(*shape, dtype=dtype, device=device)))
                    self._flat_weights_names.append(full_name)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Every parameter ~ U(-1/√hidden_size, 1/√hidden_size) (PyTorch's default)."""
        bound = 1.0 / math.sqrt(self.hidden_size)
        for weight in self.parameters():
            init.uniform_(weight, -bound, bound)

    def flatten_parameters(self) -> None:
        """Nothing to do (PyTorch's packs the weights for cuDNN); kept so that code calling it runs."""

    @property
    def all_weights(self) -> list:
        """The parameters of each layer and direction, in order (PyTorch's ``all_weights``)."""
        per = len(self._flat_weights_names) // (self.num_layers * (2 if self.bidirectional else 1))
        names = self._flat_weights_names
        return [[getattr(self, n) for n in names[k: k + per]] for k in range(0, len(names), per)]

    def extra_repr(self) -> str:
        s = f"{self.input_size}, {self.hidden_size}"
        if self.proj_size != 0:
            s += f", proj_size={self.proj_size}"
        if self.num_layers != 1:
            s += f", num_layers={self.num_layers}"
        if self.bias is not True:
            s += f", bias={self.bias}"
        if self.batch_first is not False:
            s += f", batch_first={self.batch_first}"
        if self.dropout != 0:
            s += f", dropout={self.dropout}"
        if self.bidirectional is not False:
            s += f", bidirectional={self.bidirectional}"
        return s

    def forward(self, input, hx=None):  # noqa: A002 - PyTorch's name
        """(output, h_n) (LSTM: (output, (h_n, c_n))) for ``input`` (T, B, input_size) ((B, T, ·) with
        ``batch_first``; (T, input_size) unbatched; or a PackedSequence) and the initial state ``hx``
        (num_layers · D, B, H_out) (LSTM: a pair (h_0, c_0), c_0 (·, B, H)), zeros when None.
        output: (T, B, D · H_out) (as the input's layout), or a PackedSequence for a packed input."""
        x, batch_sizes, batched = self._sequence(input)
        states = self._initial_states(hx, x, batched, input if batch_sizes is not None else None)
        output, finals = self._layers(x, states, batch_sizes)
        finals = [ops.stack([f[k] for f in finals]) for k in range(len(finals[0]))]
        if batch_sizes is not None:
            output = PackedSequence(packed_from_padded(output, batch_sizes), input.batch_sizes,
                                    input.sorted_indices, input.unsorted_indices)
            if input.unsorted_indices is not None:
                finals = [f.index_select(1, input.unsorted_indices) for f in finals]
        elif not batched:
            output, finals = output.squeeze(1), [f.squeeze(1) for f in finals]
        elif self.batch_first:
            output = output.transpose(0, 1)
        return output, (tuple(finals) if self.mode == "LSTM" else finals[0])

    def _sequence(self, input):  # noqa: A002
        """The input as (T, B, input_size), time first (sorted and padded when packed); the packed
        batch sizes (or None); whether the input had a batch dimension."""
        owner = type(self).__name__
        if isinstance(input, PackedSequence):
            data = input.data
            if not isinstance(data, Tensor) or data.ndim != 2:
                raise RuntimeError(f"{owner}: a packed input's data must have 2 dimensions (N, input_size); "
                                   f"got {_shape_of(data)}")
            self._check_features(data)
            sizes = tuple(int(s) for s in backend.to_host(input.batch_sizes.data))
            return padded_from_packed(data, sizes), sizes, True
        if not isinstance(input, Tensor):
            raise TypeError(f"{owner}: expected a Tensor or a PackedSequence input; got {type(input).__name__}")
        if input.ndim not in (2, 3):
            raise ValueError(f"{owner}: Expected input to be 2D or 3D, got {input.ndim}D tensor instead "
                             f"(shape {tuple(input.shape)})")
        self._check_features(input)
        batched = input.ndim == 3
        x = input if not batched or not self.batch_first else input.transpose(0, 1)
        x = x if batched else x.unsqueeze(1)
        if x.shape[0] == 0:
            raise RuntimeError(f"{owner}: Expected sequence length to be larger than 0 in RNN; got input shape "
                               f"{tuple(input.shape)}")
        return x, None, batched

    def _check_features(self, x: Tensor) -> None:
        owner, weight = type(self).__name__, self.weight_ih_l0
        if x.shape[-1] != self.input_size:
            raise RuntimeError(f"{owner}: input.size(-1) must be equal to input_size. Expected {self.input_size}, "
                               f"got {x.shape[-1]} (input shape {tuple(x.shape)})")
        if x.dtype != weight.dtype:
            raise ValueError(f"{owner}: input dtype ({x.dtype}) does not match weight dtype ({weight.dtype}); "
                             f"convert the input (x.to({weight.dtype})) or the model (model.to({x.dtype}))")

    def _state_shapes(self) -> list:
        """(what, size) of each initial state: h_0 (H_out) and, for the LSTM, c_0 (H)."""
        size = self.proj_size or self.hidden_size
        return [("h_0", size), ("c_0", self.hidden_size)] if self.mode == "LSTM" else [("h_0", size)]

    def _initial_states(self, hx, x: Tensor, batched: bool, packed) -> list:
        """Per layer and direction, the tuple of initial states (B, ·): zeros, or the given ones
        checked, unsqueezed for an unbatched input and sorted like a packed batch."""
        owner, batch = type(self).__name__, x.shape[1]
        count = self.num_layers * (2 if self.bidirectional else 1)
        shapes = self._state_shapes()
        if hx is None:
            return [tuple(zeros(batch, size, dtype=x.dtype, device=x.device) for _, size in shapes)] * count
        given = hx if self.mode == "LSTM" else (hx,)
        if self.mode == "LSTM" and (not isinstance(hx, (tuple, list)) or len(hx) != 2):
            raise TypeError(f"{owner}: hx must be a pair (h_0, c_0) of Tensors; got {type(hx).__name__}")
        states = []
        for position, (state, (what, size)) in enumerate(zip(given, shapes)):
            if not isinstance(state, Tensor):
                raise TypeError(f"{owner}: {what} must be a Tensor; got {type(state).__name__}")
            if state.ndim != (3 if batched else 2):
                kind = "batched 3-D" if batched else "unbatched 2-D"
                raise RuntimeError(f"{owner}: For {kind} input, {what} should be {3 if batched else 2}-D but got "
                                   f"{state.ndim}-D tensor (shape {tuple(state.shape)})")
            state = state if batched else state.unsqueeze(1)
            expected = (count, batch, size)
            if tuple(state.shape) != expected:
                raise RuntimeError(f"{owner}: Expected hidden[{position}] ({what}) size {expected} (num_layers * "
                                   f"num_directions, batch, {size}), got {tuple(state.shape)}")
            if state.dtype != x.dtype:
                raise ValueError(f"{owner}: {what} has dtype {state.dtype} but the input has {x.dtype}")
            if packed is not None and packed.sorted_indices is not None:
                state = state.index_select(1, packed.sorted_indices)
            states.append(state)
        return [tuple(s[k] for s in states) for k in range(count)]

    def _layers(self, x: Tensor, states: list, batch_sizes):
        """Run every layer and direction: the last layer's output (T, B, D · H_out) and the final
        states of each layer and direction."""
        directions = 2 if self.bidirectional else 1
        parameters, finals = self._parameters, []
        nonlinearity = "relu" if self.mode == "RNN_RELU" else "tanh"
        for layer in range(self.num_layers):
            outputs = []
            for direction in range(directions):
                suffix = f"_l{layer}{'_reverse' if direction else ''}"
                weights = {name: parameters.get(name + suffix) for name in WEIGHT_NAMES}
                out, final = run_recurrence(self.mode, x, states[layer * directions + direction], weights,
                                            direction == 1, batch_sizes, nonlinearity)
                outputs.append(out)
                finals.append(final)
            x = outputs[0] if directions == 1 else ops.cat(outputs, 2)
            if layer < self.num_layers - 1 and self.training and self.dropout > 0:
                x = x * 0.0 if self.dropout >= 1 else F.dropout(x, self.dropout, True)
        return x, finals


class RNN(RNNBase):
    """Elman RNN: h_t = tanh(x_t W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh) (``nonlinearity="relu"``: relu).

    Args (PyTorch's): input_size, hidden_size, num_layers (1), nonlinearity ("tanh" or "relu"),
    bias (True), batch_first (False), dropout (0.0: between layers, training mode only),
    bidirectional (False), dtype, device. See :class:`RNNBase` for the parameters and ``forward``.
    """

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, nonlinearity: str = "tanh",
                 bias: bool = True, batch_first: bool = False, dropout: float = 0.0, bidirectional: bool = False,
                 dtype=None, device="cpu"):
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"RNN: Unknown nonlinearity {nonlinearity!r}. Select from 'tanh' or 'relu'.")
        mode = "RNN_TANH" if nonlinearity == "tanh" else "RNN_RELU"
        super().__init__(mode, input_size, hidden_size, num_layers, bias, batch_first, dropout,
                         bidirectional, 0, dtype, device)
        self.nonlinearity = nonlinearity


class LSTM(RNNBase):
    """Long short-term memory (Hochreiter & Schmidhuber 1997), PyTorch's form and gate order i, f, g, o.

    Args (PyTorch's): input_size, hidden_size, num_layers (1), bias (True), batch_first (False),
    dropout (0.0), bidirectional (False), proj_size (0: none; 0 < P < hidden_size: h_t = (o ⊙ tanh c_t)
    W_hr^T has P features, Sak et al. 2014), dtype, device. ``forward(input, (h_0, c_0))`` returns
    (output, (h_n, c_n)); see :class:`RNNBase`.
    """

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, bias: bool = True,
                 batch_first: bool = False, dropout: float = 0.0, bidirectional: bool = False, proj_size: int = 0,
                 dtype=None, device="cpu"):
        super().__init__("LSTM", input_size, hidden_size, num_layers, bias, batch_first, dropout,
                         bidirectional, proj_size, dtype, device)


class GRU(RNNBase):
    """Gated recurrent unit (Cho et al. 2014), PyTorch's form (b_hn inside r ⊙ (·)) and gate order r, z, n.

    Args (PyTorch's): input_size, hidden_size, num_layers (1), bias (True), batch_first (False),
    dropout (0.0), bidirectional (False), dtype, device. See :class:`RNNBase`.
    """

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, bias: bool = True,
                 batch_first: bool = False, dropout: float = 0.0, bidirectional: bool = False,
                 dtype=None, device="cpu"):
        super().__init__("GRU", input_size, hidden_size, num_layers, bias, batch_first, dropout,
                         bidirectional, 0, dtype, device)


def _check_layer_arguments(owner, input_size, hidden_size, num_layers, bias, batch_first, dropout,
                           bidirectional, proj_size) -> None:
    check_recurrent_sizes(owner, input_size, hidden_size, bias)
    if isinstance(num_layers, bool) or not isinstance(num_layers, int) or num_layers <= 0:
        raise ValueError(f"{owner}: num_layers must be an int greater than zero; got {num_layers!r}")
    for name, value in (("batch_first", batch_first), ("bidirectional", bidirectional)):
        if not isinstance(value, bool):
            raise TypeError(f"{owner}: {name} should be of type bool, got: {type(value).__name__}")
    if isinstance(dropout, bool) or not isinstance(dropout, (int, float)) or not 0 <= dropout <= 1:
        raise ValueError(f"{owner}: dropout should be a number in range [0, 1] representing the probability of "
                         f"an element being zeroed; got {dropout!r}")
    if dropout > 0 and num_layers == 1:
        warnings.warn(f"{owner}: dropout option adds dropout after all but last recurrent layer, so non-zero "
                      f"dropout expects num_layers greater than 1, but got dropout={dropout} and "
                      f"num_layers={num_layers}", stacklevel=4)
    if isinstance(proj_size, bool) or not isinstance(proj_size, int) or proj_size < 0:
        raise ValueError(f"{owner}: proj_size should be a positive integer or zero to disable projections; "
                         f"got {proj_size!r}")
    if proj_size >= hidden_size:
        raise ValueError(f"{owner}: proj_size has to be smaller than hidden_size; got proj_size={proj_size}, "
                         f"hidden_size={hidden_size}")


def _shape_of(value) -> str:
    return f"shape {tuple(value.shape)}" if isinstance(value, Tensor) else type(value).__name__
