"""Neural networks: modules, layers, losses, initializers, and their functional forms.

    >>> import chainrule as cr
    >>> from chainrule import nn
    >>> import chainrule.nn.functional as F
    >>> model = nn.MLP([784, 256, 256, 10])                 # Linear-ReLU-Linear-ReLU-Linear
    >>> loss = F.cross_entropy(model(x), y)                  # fused, numerically stable
    >>> loss.backward()

module.py      Module (registration, parameters, train/eval, state_dict), Parameter,
               Sequential, ModuleList
layers.py      Linear, activations, Flatten, Identity, Dropout, BatchNorm1d, MLP,
               PolynomialFeatures
losses.py      MSELoss, L1Loss, HuberLoss, BCEWithLogitsLoss, BCELoss, CrossEntropyLoss, NLLLoss
init.py        zeros_, ones_, constant_, normal_, uniform_, xavier_*, kaiming_*, calculate_gain
functional.py  the functions behind all of the above, plus penalties (l1_penalty, l2_penalty)
"""
from . import functional, init
from .layers import (
    GELU,
    MLP,
    BatchNorm1d,
    Dropout,
    Flatten,
    Identity,
    LeakyReLU,
    Linear,
    LogSoftmax,
    PolynomialFeatures,
    ReLU,
    Sigmoid,
    Softmax,
    Tanh,
)
from .losses import (
    BCELoss,
    BCEWithLogitsLoss,
    CrossEntropyLoss,
    HuberLoss,
    L1Loss,
    MSELoss,
    NLLLoss,
)
from .module import IncompatibleKeys, Module, ModuleList, Parameter, Sequential
from .residual import Residual

__all__ = [
    "functional", "init",
    "Module", "Parameter", "Sequential", "ModuleList", "IncompatibleKeys",
    "Linear", "Identity", "Flatten", "ReLU", "LeakyReLU", "Sigmoid", "Tanh", "GELU", "Softmax",
    "LogSoftmax", "Dropout", "BatchNorm1d", "MLP", "PolynomialFeatures", "Residual",
    "MSELoss", "L1Loss", "HuberLoss", "BCEWithLogitsLoss", "BCELoss", "CrossEntropyLoss", "NLLLoss",
]
