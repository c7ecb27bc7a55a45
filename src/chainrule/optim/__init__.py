"""Optimizers, learning-rate schedules and full-batch minimization.

    >>> import chainrule as cr
    >>> opt = cr.optim.Adam(model.parameters(), lr=1e-3)          # doctest: +SKIP
    >>> sched = cr.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=100)  # doctest: +SKIP

Every optimizer states its update rule in its docstring, in the curriculum's notation, with
the reference. See :mod:`chainrule.optim.optimizer` for how parameters, gradients and state
are kept in flat buffers so that a step costs a few array operations.
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
