"""chainrule: a NumPy-like Tensor with reverse-mode autodiff, and learning built on it.

    >>> import chainrule as cr
    >>> x = cr.tensor([1.0, 2.0, 3.0], requires_grad=True)
    >>> y = (x ** 2).sum()
    >>> y.backward()
    >>> x.grad
    tensor([2., 4., 6.], dtype=float32)

The package is built in layers, each importing only from those below it (the map:
docs/architecture.md): ``engine`` (backend, Tensor, autograd, ops) → ``metrics`` →
``tabular`` → ``datasets`` → ``nn``, ``optim`` → ``data``, ``models`` → ``stats``, ``train`` →
``formula`` → ``theory``, ``compute``, ``causal`` → ``report`` → ``cli``.
"""
# The order matters: the engine first, then the layers that build on it.
# isort: off
import sys as _sys
from .engine import autograd, backend, distributed, ops, random
from .engine.autograd import enable_grad, is_grad_enabled, no_grad, set_grad_enabled
from .engine.backend import bool_, float32, float64, int64
from .engine.ops import (
    abs, add, all, any, argmax, argmin, broadcast_to, cat, chunk, clamp, clip, clone, concatenate,
    cos, div, eq, exp, expand, flatten, ge, gelu, gt, isfinite, isnan, le, leaky_relu, log,
    log1p, log_softmax, logical_and, logical_not, logical_or, logical_xor, logsumexp, lt,
    matmul, max, maximum, mean, min, minimum, mul, ne, neg, one_hot, pad, permute, pow,
    relu, reshape, sigmoid, sin, softmax, split, sqrt, squeeze, stack, std, sub, sum, tanh,
    transpose, unsqueeze, var, view, where,
)
from .engine.ops import (
    flip, gather, index_add, index_select, masked_fill, masked_select, moveaxis, movedim, narrow, nonzero,
    roll, scatter, scatter_add, scatter_reduce, take_along_dim, tile, unflatten,
)
from .engine.ops import (  # scans, sorting, more math, type promotion
    amax, amin, argsort, atan2, ceil, cumprod, cumsum, erf, expm1, floor, lerp, logaddexp, prod,
    promote_types, result_type, return_types, round, selu, sign, sort, topk, trunc, unique,
)
from .engine.ops import (  # linear algebra
    bmm, det, diagonal, diagonal_scatter, dot, einsum, mm, norm, outer, slogdet, trace, tril, triu,
)
from .engine.ops import inv as inverse
from .engine import linalg_namespace as linalg  # torch.linalg: cr.linalg.solve(A, B) …
from .engine.random import manual_seed
from .engine.serialization import load, save
from .engine.tensor import Tensor, as_tensor, from_dlpack, from_numpy, tensor
from .engine.creation import (
    arange, empty, eye, full, full_like, linspace, ones, ones_like, rand, randint, randn, randperm,
    zeros, zeros_like,
)
from . import nn  # layers, losses, initializers (build on Tensor, autograd and ops)
from . import optim  # optimizers, lr schedules, minimize (update raw arrays in place)
from . import data, train  # after Tensor and autograd, which they build on
from . import _moved
# isort: on

bool = bool_  # noqa: A001 - PyTorch spells the dtype chainrule.bool
__version__ = "0.1.0"

_moved.install()
_sys.modules.setdefault("chainrule.linalg", linalg)  # so that `import chainrule.linalg` works too

# Submodules imported on first use (``chainrule.stats`` pulls in scipy.stats, the others
# matplotlib, pandas or mpi4py), so ``import chainrule`` stays quick for the tensor engine.
_LAZY_MODULES = {
    "stats": "chainrule.stats", "report": "chainrule.report", "tabular": "chainrule.tabular",
    "theory": "chainrule.theory", "compute": "chainrule.compute", "datasets": "chainrule.datasets",
    "landscape": "chainrule.theory.landscape", "diagnostics": "chainrule.theory.diagnostics",
    "models": "chainrule.models", "metrics": "chainrule.metrics",
    "formula": "chainrule.formula", "causal": "chainrule.causal",
}


def compile(fn):  # noqa: A001 - torch.compile's name
    """``fn`` (a whole training step: zero_grad, forward, loss, backward, optimizer step; or a
    forward pass) traced at its first call and replayed on raw arrays afterwards, with the same
    results as eager execution. See :mod:`chainrule.train.compiler` for what it captures and
    what it refuses."""
    from .train.compiler import compile_step  # noqa: PLC0415 - the compiler's own module

    return compile_step(fn)


def __getattr__(name):
    """Import the submodules of ``_LAZY_MODULES`` on first use (``chainrule.stats`` …)."""
    if name in _LAZY_MODULES:
        import importlib  # noqa: PLC0415

        return importlib.import_module(_LAZY_MODULES[name])
    raise AttributeError(f"module 'chainrule' has no attribute {name!r}")
