"""Optimizers, learning-rate schedules and full-batch minimization.

    >>> import chainrule as cr
    >>> opt = cr.optim.Adam(model.parameters(), lr=1e-3)          # doctest: +SKIP
    >>> sched = cr.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=100)  # doctest: +SKIP

Every optimizer states its update rule in its docstring, in the curriculum's notation, with
the reference, and its ``_update`` runs that algorithm box line by line in NumPy.

optimizer      Optimizer: parameter groups, per-parameter state, state dicts, the step
sgd, adagrad, rmsprop, adam    the update rules
flat_buffers   parameters, gradients and state kept back to back in one array each
kernels        when a compiled kernel runs an update instead (numba_kernels: the kernels)
arguments      hyper-parameter checks
lr_scheduler   learning-rate schedules
minimize       full-batch minimization of a function of tensors
"""
from . import lr_scheduler
from .adagrad import Adagrad
from .adam import Adam, AdamW
from .minimize import MinimizeResult, minimize
from .optimizer import Optimizer
from .rmsprop import RMSprop
from .sgd import SGD

__all__ = [
    "Optimizer", "SGD", "Adagrad", "RMSprop", "Adam", "AdamW", "lr_scheduler", "minimize", "MinimizeResult",
]
