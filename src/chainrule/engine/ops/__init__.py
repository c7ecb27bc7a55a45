"""Differentiable primitives, one small Function subclass per op, grouped by kind.

elementwise  arithmetic, unary functions, activations, casts
reduce       sum, mean, var, std, max, min, logsumexp, argmax …
shape        reshape, permute, squeeze, expand, cat, stack, split, pad, indexing
linalg       matmul
fused        softmax, log_softmax
compare      comparisons, logic, isnan, isfinite, one_hot (not differentiable)
"""
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
from .elementwise import (
    abs,
    add,
    cast,
    clamp,
    clip,
    clone,
    cos,
    div,
    exp,
    gelu,
    leaky_relu,
    log,
    log1p,
    maximum,
    minimum,
    mul,
    neg,
    pow,
    relu,
    sigmoid,
    sin,
    sqrt,
    sub,
    tanh,
    to_device,
    where,
)
from .linalg import matmul
from .reduce import all, any, argmax, argmin, logsumexp, max, mean, min, std, sum, var
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
    setitem,
    split,
    squeeze,
    stack,
    transpose,
    unsqueeze,
    view,
)
from .shape import (
    index_tensor as index,
)
from .softmax import log_softmax, softmax

__all__ = [
    "abs", "add", "all", "any", "argmax", "argmin", "broadcast_to", "cast", "cat", "chunk",
    "clamp", "clip", "clone", "concatenate", "cos", "div", "eq", "exp", "expand", "flatten",
    "ge", "gelu", "gt", "index", "isfinite", "isnan", "le", "leaky_relu", "log", "log1p",
    "log_softmax", "logical_and", "logical_not", "logical_or", "logical_xor", "logsumexp",
    "lt", "matmul", "max", "maximum", "mean", "min", "minimum", "mul", "ne", "neg",
    "one_hot", "pad", "permute", "pow", "relu", "reshape", "setitem", "sigmoid", "sin",
    "softmax", "split", "sqrt", "squeeze", "stack", "std", "sub", "sum", "tanh",
    "to_device", "transpose", "unsqueeze", "var", "view", "where",
]
