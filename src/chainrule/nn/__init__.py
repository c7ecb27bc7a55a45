"""Neural networks: modules, layers, losses, initializers, and their functional forms.

    >>> import chainrule as cr
    >>> from chainrule import nn
    >>> import chainrule.nn.functional as F
    >>> model = nn.MLP([784, 256, 256, 10])                 # Linear-ReLU-Linear-ReLU-Linear
    >>> loss = F.cross_entropy(model(x), y)                  # fused, numerically stable
    >>> loss.backward()

module         Module (registration, parameters, train/eval, state_dict)
parameter      Parameter
containers     Sequential, ModuleList
layers         Linear, activations, Flatten, Identity, Dropout, BatchNorm1d, PolynomialFeatures,
               BatchNorm2d, Dropout2d, Unflatten
conv           Conv1d, Conv2d, ConvTranspose2d (im2col and one matrix product per batch)
pooling        MaxPool1d/2d, AvgPool1d/2d, AdaptiveAvgPool2d, Upsample
mlp            MLP
residual       Residual (a skip connection around any module)
recurrent      RNN, LSTM, GRU (PyTorch's; packed sequences: utils.rnn); recurrent_cells: RNNCell, LSTMCell, GRUCell
losses         MSELoss, L1Loss, HuberLoss, BCEWithLogitsLoss, BCELoss, CrossEntropyLoss, NLLLoss
init           zeros_, ones_, constant_, normal_, uniform_, xavier_*, kaiming_*, calculate_gain
functional     the functions behind all of the above, plus penalties (l1_penalty, l2_penalty);
               conv_functional, pooling_functional, dropout_functional hold the convolutional
               ones (conv2d, unfold, fold, max_pool2d, interpolate, dropout2d …), re-exported there
im2col         unfold/fold of sliding windows (the arrays, and the Unfold/Fold ops)
conv_arguments the sizes, paddings and output sizes of convolution and pooling
normalization  LayerNorm, GroupNorm, RMSNorm (and layer_norm, group_norm, rms_norm)
embedding      Embedding (and embedding)
attention      scaled_dot_product_attention, multi_head_attention_forward, the mask helpers
multihead_attention  MultiheadAttention
transformer    TransformerEncoderLayer, TransformerEncoder, TransformerDecoderLayer,
               TransformerDecoder, Transformer (and generate_square_subsequent_mask)
positional     SinusoidalPositionalEncoding, LearnedPositionalEncoding
utils          clip_grad_norm_, clip_grad_value_, parameters_to_vector, vector_to_parameters; utils.rnn
arguments      the argument checks they share
fused/         fast paths: layers and losses as one graph node each, each tested equal to
               the composition of reference ops it replaces
"""
from . import functional, init, utils
from .containers import ModuleList, Sequential
from .conv import Conv1d, Conv2d, ConvTranspose2d
from .embedding import Embedding
from .layers import (
    ELU,
    GELU,
    SELU,
    BatchNorm1d,
    BatchNorm2d,
    Dropout,
    Dropout2d,
    Flatten,
    Hardtanh,
    Identity,
    LeakyReLU,
    Linear,
    LogSoftmax,
    PolynomialFeatures,
    ReLU,
    Sigmoid,
    SiLU,
    Softmax,
    Softplus,
    Tanh,
    Unflatten,
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
from .mlp import MLP
from .module import IncompatibleKeys, Module
from .multihead_attention import MultiheadAttention
from .normalization import GroupNorm, LayerNorm, RMSNorm
from .parameter import Parameter
from .pooling import AdaptiveAvgPool2d, AvgPool1d, AvgPool2d, MaxPool1d, MaxPool2d, Upsample
from .positional import LearnedPositionalEncoding, SinusoidalPositionalEncoding
from .recurrent import GRU, LSTM, RNN, RNNBase
from .recurrent_cells import GRUCell, LSTMCell, RNNCell, RNNCellBase
from .residual import Residual
from .transformer import (
    Transformer,
    TransformerDecoder,
    TransformerDecoderLayer,
    TransformerEncoder,
    TransformerEncoderLayer,
)

__all__ = [
    "functional", "init", "utils",
    "Module", "Parameter", "Sequential", "ModuleList", "IncompatibleKeys",
    "Linear", "Identity", "Flatten", "ReLU", "LeakyReLU", "Sigmoid", "Tanh", "GELU", "Softplus", "SiLU",
    "ELU", "SELU", "Hardtanh", "Softmax",
    "LogSoftmax", "Dropout", "BatchNorm1d", "MLP", "PolynomialFeatures", "Residual",
    "MSELoss", "L1Loss", "HuberLoss", "BCEWithLogitsLoss", "BCELoss", "CrossEntropyLoss", "NLLLoss",
    # normalization, embeddings, attention and transformers (issue 17)
    "LayerNorm", "GroupNorm", "RMSNorm", "Embedding", "MultiheadAttention", "TransformerEncoderLayer",
    "TransformerEncoder", "TransformerDecoderLayer", "TransformerDecoder", "Transformer",
    "SinusoidalPositionalEncoding", "LearnedPositionalEncoding",
]
__all__ += ["RNNBase", "RNN", "LSTM", "GRU", "RNNCellBase", "RNNCell", "LSTMCell", "GRUCell"]  # recurrent layers
__all__ += [
    "Conv1d", "Conv2d", "ConvTranspose2d", "BatchNorm2d", "Dropout2d", "Unflatten",
    "MaxPool1d", "MaxPool2d", "AvgPool1d", "AvgPool2d", "AdaptiveAvgPool2d", "Upsample",
]
