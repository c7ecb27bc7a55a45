"""Differentiable primitives: the reference ops, one small Function subclass per op.

Each op is a class with ``forward`` and ``backward`` on raw arrays (a few lines each, the
math in the module's docstring) and a public function that checks its arguments:

arithmetic   + - * / **, maximum, minimum, neg (broadcasting; scalar forms; PyTorch's promotion)
unary        exp, expm1, log, log1p, sqrt, abs, sin, cos, erf, clamp, sign, floor, ceil, round, trunc
activations  relu, leaky_relu, sigmoid, tanh, gelu, softplus, silu, elu, selu, hardtanh,
             softmax, log_softmax
special      atan2, logaddexp, lerp
reduce       sum, mean, var, std, prod, amax, amin, max, min, logsumexp, argmax …
scans        cumsum, cumprod
sorting      sort, argsort, topk, max/min along a dim, unique
return_types the named tuples (values, indices) of max, min, sort, topk
shape        reshape, permute, movedim, squeeze, unflatten, expand, cat, stack, split, narrow, pad
rearrange    repeat, tile, flip, roll
indexing     a[index], index_put (and a[index] = v), masked_fill, masked_select, nonzero
gathering    gather, scatter, scatter_add, index_select, index_add, take_along_dim
scatter_reduce  scatter_reduce (sum, mean, amax, amin)
linalg       matmul, dot, mm, bmm, outer, diagonal, diagonal_scatter, trace, tril, triu
einsum       einsum (any subscripts, ellipsis, diagonals)
norms        vector_norm, matrix_norm, norm (torch.norm), linalg_norm (torch.linalg.norm)
svd          svd, svdvals (the SVD, each factor a node)
decompositions  solve, inv, det, slogdet, cholesky (LinAlgError for singular input)
copies       where, cast, clone, to_device
compare      comparisons, logic, isnan, isfinite, one_hot (not differentiable)
arguments    the argument checks the ops share, and type promotion (result_type)

Fused paths that run several of these as one node (a Linear layer, softmax cross-entropy …)
live beside the layers that use them, in :mod:`chainrule.nn.fused`, each tested equal to
the composition of these reference ops.
"""
from . import return_types
from .activations import (
    elu,
    gelu,
    hardtanh,
    leaky_relu,
    log_softmax,
    relu,
    selu,
    sigmoid,
    silu,
    softmax,
    softplus,
    tanh,
)
from .arguments import promote_types, result_type
from .arithmetic import add, div, maximum, minimum, mul, neg, pow, sub
from .compare import (
    eq,
    ge,
    gt,
    isfinite,
    isnan,
    le,
    logical_and,
    logical_not,
    logical_or,
    logical_xor,
    lt,
    ne,
    one_hot,
)
from .copies import cast, clone, to_device, where
from .decompositions import LinAlgError, cholesky, det, inv, slogdet, solve
from .einsum import einsum
from .gathering import gather, index_add, index_select, scatter, scatter_add, take_along_dim
from .indexing import index_put, masked_fill, masked_select, nonzero
from .indexing import index_tensor as index
from .linalg import bmm, diagonal, diagonal_scatter, dot, matmul, mm, outer, trace, tril, triu
from .norms import linalg_norm, matrix_norm, norm, vector_norm
from .rearrange import flip, repeat, roll, tile
from .reduce import all, amax, amin, any, argmax, argmin, logsumexp, max, mean, min, prod, std, sum, var
from .scans import cumprod, cumsum
from .scatter_reduce import scatter_reduce
from .shape import (
    broadcast_to,
    cat,
    chunk,
    concatenate,
    expand,
    flatten,
    moveaxis,
    movedim,
    narrow,
    pad,
    permute,
    reshape,
    split,
    squeeze,
    stack,
    transpose,
    unflatten,
    unsqueeze,
    view,
)
from .sorting import argsort, sort, topk, unique
from .special import atan2, lerp, logaddexp
from .svd import svd, svdvals
from .unary import abs, ceil, clamp, clip, cos, erf, exp, expm1, floor, log, log1p, round, sign, sin, sqrt, trunc

__all__ = [
    "abs", "add", "all", "any", "argmax", "argmin", "broadcast_to", "cast", "cat", "chunk",
    "clamp", "clip", "clone", "concatenate", "cos", "div", "eq", "erf", "exp", "expand", "flatten",
    "ge", "gelu", "gt", "index", "index_put", "isfinite", "isnan", "le", "leaky_relu", "log", "log1p",
    "log_softmax", "logical_and", "logical_not", "logical_or", "logical_xor", "logsumexp",
    "lt", "matmul", "max", "maximum", "mean", "min", "minimum", "mul", "ne", "neg",
    "one_hot", "pad", "permute", "pow", "relu", "reshape", "sigmoid", "sin",
    "softmax", "split", "sqrt", "squeeze", "stack", "std", "sub", "sum", "tanh",
    "to_device", "transpose", "unsqueeze", "var", "view", "where",
    # scans, sorting, more elementwise functions and type promotion
    "amax", "amin", "argsort", "atan2", "ceil", "cumprod", "cumsum", "elu", "expm1", "floor",
    "hardtanh", "lerp", "logaddexp", "prod", "promote_types", "result_type", "return_types",
    "round", "selu", "sign", "silu", "softplus", "sort", "topk", "trunc", "unique",
]
__all__ += [  # linear algebra
    "LinAlgError", "bmm", "cholesky", "det", "diagonal", "diagonal_scatter", "dot", "einsum", "inv",
    "linalg_norm", "matrix_norm", "mm", "norm", "outer", "slogdet", "solve", "svd", "svdvals", "trace",
    "tril", "triu", "vector_norm",
]
__all__ += [  # gathering, scattering, masks and rearranging
    "flip", "gather", "index_add", "index_select", "masked_fill", "masked_select", "moveaxis", "movedim",
    "narrow", "nonzero", "repeat", "roll", "scatter", "scatter_add", "scatter_reduce", "take_along_dim", "tile",
    "unflatten",
]
