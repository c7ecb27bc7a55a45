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
shape        reshape, permute, squeeze, expand, cat, stack, split, pad
indexing     a[index], index_put (and a[index] = v)
linalg       matmul
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
from .indexing import index_put
from .indexing import index_tensor as index
from .linalg import matmul
from .reduce import all, amax, amin, any, argmax, argmin, logsumexp, max, mean, min, prod, std, sum, var
from .scans import cumprod, cumsum
from .shape import (
    broadcast_to,
    cat,
    chunk,
    concatenate,
    expand,
    flatten,
    pad,
    permute,
    reshape,
    split,
    squeeze,
    stack,
    transpose,
    unsqueeze,
    view,
)
from .sorting import argsort, sort, topk, unique
from .special import atan2, lerp, logaddexp
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
