"""chainrule: a NumPy-like Tensor with reverse-mode autodiff, and learning built on it.

    >>> import chainrule as cr
    >>> x = cr.tensor([1.0, 2.0, 3.0], requires_grad=True)
    >>> y = (x ** 2).sum()
    >>> y.backward()
    >>> x.grad
    tensor([2., 4., 6.], dtype=float32)
"""
from . import tensor as _tensor_module  # first: autograd and ops build on Tensor
from . import autograd, backend, ops
from .autograd import enable_grad, is_grad_enabled, no_grad, set_grad_enabled
from .backend import bool_, float32, float64, int64
from .ops import (
    abs, add, all, any, argmax, argmin, broadcast_to, cat, chunk, clamp, clip, clone, concatenate,
    cos, div, eq, exp, expand, flatten, ge, gelu, gt, isfinite, isnan, le, leaky_relu, log,
    log1p, log_softmax, logical_and, logical_not, logical_or, logical_xor, logsumexp, lt,
    matmul, max, maximum, mean, min, minimum, mul, ne, neg, one_hot, pad, permute, pow,
    relu, reshape, sigmoid, sin, softmax, split, sqrt, squeeze, stack, std, sub, sum, tanh,
    transpose, unsqueeze, var, view, where,
)
from .random import manual_seed
from .tensor import (
    Tensor, arange, as_tensor, empty, eye, from_dlpack, from_numpy, full, full_like,
    linspace, ones, ones_like, rand, randint, randn, randperm, tensor, zeros, zeros_like,
)
from . import nn  # layers, losses, initializers (build on Tensor, autograd and ops)
from . import optim  # optimizers, lr schedules, minimize (update raw arrays in place)
from . import data, train  # after Tensor and autograd, which they build on

bool = bool_  # noqa: A001 - PyTorch spells the dtype chainrule.bool
__version__ = "0.1.0"


# Submodules imported on first use (``chainrule.stats`` pulls in scipy.stats, the others
# matplotlib, pandas or mpi4py), so ``import chainrule`` stays quick for the tensor engine.
_LAZY_MODULES = ("stats", "report", "tabular", "theory", "landscape", "diagnostics", "compute",
                 "distributed")


def __getattr__(name):
    """Import the submodules of ``_LAZY_MODULES`` on first use (``chainrule.stats`` …)."""
    if name in _LAZY_MODULES:
        import importlib  # noqa: PLC0415

        return importlib.import_module(f".{name}", __name__)
    raise AttributeError(f"module 'chainrule' has no attribute {name!r}")
