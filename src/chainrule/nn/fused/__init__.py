"""Fast paths: layers and losses as ONE graph node each, with a hand-written backward.

A network built from the reference ops of :mod:`chainrule.engine.ops` records several nodes
per layer (matmul, add, relu, log_softmax, index, mean …); on small and medium models the
per-node bookkeeping costs as much as the arithmetic. Each module here does one layer's or
loss's whole computation in one forward and one backward on raw arrays. Each names, in its
docstring, the composition of reference ops it equals, and tests/test_nn_fused.py checks in
float64 that it gives the same values and gradients. The user-facing functions, with their
argument checks, are in :mod:`chainrule.nn.functional`; these classes assume valid arguments.

attention             softmax(Q K^T scale + B) V         = matmul, softmax, matmul
linear                y = x W^T + b                      = matmul(x, W.T) + b
linear_chain          Linear [ReLU] runs of a Sequential = the layers one after another
cross_entropy         softmax cross-entropy, NLL         = nll(log_softmax(z), t)
binary_cross_entropy  on logits and on probabilities     = the log-likelihood of y
regression_losses     MSE, L1, Huber                     = ((x - y) ** 2).mean() …
batch_norm            batch normalization                = (x - mean) / sqrt(var + eps) …
batch_norm_relu       training batch norm [+ s], ReLU    = relu(batch_norm(x) [+ s]), compiled passes
dropout               inverted dropout                   = x * mask / (1 - p)
polynomial_features   all monomials of each row          = prod(x ** P)
penalties             L1 and L2 over many tensors        = sum of |p| or p^2
recurrent, lstm       an RNN, GRU or LSTM layer's whole  = the cell's formulas step by step
                      sequence (imported from their modules by nn.recurrent)
reduction             what the losses share: "mean", "sum", "none"
convolution           conv2d and its transpose by im2col = W @ unfold(x) + b, fold(W^T @ x) + b
pooling               max and average pooling, nearest upsampling = gather / sums of unfold(x) / index_select
embedding             a table lookup, gradient by scatter-add = index_select(W, 0, I)
layer_norm            layer, group and RMS normalization = (x - mean) / sqrt(var + eps) * gamma + beta
gelu                  the exact GELU on compiled kernels = gelu(x) (engine op), when numba is there
numba_kernels         compiled (numba) kernels: GELU, window scatter, softmax shift, layer norm, batch norm
"""
from .attention import MultiheadAttentionCore, ScaledDotProductAttention
from .batch_norm import BatchNorm, batch_statistics
from .batch_norm_relu import BatchNormReLU
from .binary_cross_entropy import BCEWithLogits, BinaryCrossEntropy
from .convolution import Convolution, TransposedConvolution
from .cross_entropy import CrossEntropy, NLLLoss, SoftCrossEntropy
from .dropout import Dropout
from .embedding import Embedding
from .gelu import GELU, fast_gelu
from .layer_norm import GroupNorm, LayerNorm, RMSNorm
from .linear import Linear
from .penalties import L1Penalty, L2Penalty
from .polynomial_features import PolynomialFeatures
from .pooling import AvgPool, MaxPool, Nearest
from .regression_losses import HuberLoss, L1Loss, MSELoss
