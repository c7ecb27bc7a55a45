"""MLP: a multilayer perceptron, Linear layers with an activation between them.

Its layers sit in one :class:`~chainrule.nn.Sequential`, so its Linear and ReLU layers run as
one fused ``linear_chain`` node (:mod:`chainrule.nn.fused.linear_chain`).
"""
from __future__ import annotations

import itertools

from .arguments import check_size
from .containers import Sequential
from .layers import (
    ELU,
    GELU,
    SELU,
    BatchNorm1d,
    Dropout,
    Identity,
    LeakyReLU,
    Linear,
    ReLU,
    Sigmoid,
    SiLU,
    Softplus,
    Tanh,
)
from .module import Module

__all__ = ["MLP"]

_ACTIVATIONS = {
    "relu": ReLU, "leaky_relu": LeakyReLU, "sigmoid": Sigmoid, "tanh": Tanh,
    "gelu": GELU, "silu": SiLU, "elu": ELU, "selu": SELU, "softplus": Softplus, "identity": Identity,
}


class MLP(Module):
    """A multilayer perceptron: Linear layers of the given sizes with an activation
    between them (none after the last one, which gives logits or regression outputs).

    ``MLP([784, 256, 256, 10])`` is Linear(784, 256) -> ReLU -> Linear(256, 256) -> ReLU
    -> Linear(256, 10). Each hidden block is Linear -> [BatchNorm1d] -> activation ->
    [Dropout], in that order, held in ``self.layers`` (a Sequential), so state-dict
    keys read "layers.0.weight", "layers.2.bias", ….

    Args:
        sizes: [in_features, hidden_1, …, out_features] (at least two ints >= 1).
        activation: "relu" (default), "leaky_relu", "sigmoid", "tanh", "gelu", "silu", "elu", "selu", "softplus",
            "identity", or a callable returning a Module (e.g. ``nn.Tanh``).
        dropout: probability p of the Dropout after each hidden activation (0: none).
        batchnorm: put a BatchNorm1d after each hidden Linear.
        dtype, device: of the parameters.

    The Linear layers keep their default initialization (see :class:`Linear`).
    """

    def __init__(self, sizes, activation="relu", dropout: float = 0.0, batchnorm: bool = False, dtype=None,
                 device="cpu"):
        super().__init__()
        sizes = list(sizes) if not isinstance(sizes, (str, bytes)) else sizes
        if not isinstance(sizes, list) or len(sizes) < 2:
            raise ValueError(f"MLP: sizes must be a list of at least 2 layer sizes (input, …, output); got {sizes!r}")
        for position, size in enumerate(sizes):
            check_size(size, f"sizes[{position}]", "MLP", minimum=1)
        make_activation = _activation_factory(activation)
        if isinstance(dropout, bool) or not isinstance(dropout, (int, float)) or not 0 <= dropout < 1:
            raise ValueError(f"MLP: dropout must be a probability in [0, 1); got {dropout!r}")
        self.sizes = sizes
        layers = []
        for position, (fan_in, fan_out) in enumerate(itertools.pairwise(sizes)):
            layers.append(Linear(fan_in, fan_out, dtype=dtype, device=device))
            if position == len(sizes) - 2:
                break
            if batchnorm:
                layers.append(BatchNorm1d(fan_out, dtype=dtype, device=device))
            layers.append(make_activation())
            if dropout > 0:
                layers.append(Dropout(dropout))
        self.layers = Sequential(*layers)

    def forward(self, x):
        # the Sequential: its Linear and ReLU layers run as one linear_chain node (through
        # __call__ when it has hooks, so that hooks registered on model.layers fire)
        layers = self._modules["layers"]
        return layers.forward(x) if layers._module_hooks is None else layers(x)

    def extra_repr(self) -> str:
        return f"sizes={self.sizes}"


def _activation_factory(activation):
    if isinstance(activation, str):
        if activation not in _ACTIVATIONS:
            raise ValueError(
                f"MLP: activation must be one of {sorted(_ACTIVATIONS)} or a callable returning "
                f"a Module; got {activation!r}"
            )
        return _ACTIVATIONS[activation]
    if callable(activation):
        def make():
            module = activation()
            if not isinstance(module, Module):
                raise TypeError(f"MLP: activation() must return a Module; got {type(module).__name__}")
            return module
        return make
    raise TypeError(f"MLP: activation must be a name or a callable returning a Module; got {type(activation).__name__}")
