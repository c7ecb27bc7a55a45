"""The networks the command line trains, and what they are trained with.

The MLP of ``--hidden``, ``--activation``, ``--dropout`` and ``--batchnorm`` (or, for a
linear model in ``compare-optimizers``, one Linear layer); the optimizer named by
``--optimizer`` with its learning rate (``--lr``, else :data:`DEFAULT_LR`); the loss of the
task; the data as the network takes it (float32 inputs; (n, 1) float32 targets for
regression and binary, int64 class ids for multiclass); and the ``--device`` check.
"""
from __future__ import annotations

import numpy as np

from .errors import CommandError

OPTIMIZERS = ("gd", "sgd", "momentum", "nesterov", "adagrad", "rmsprop", "adam", "adamw")

# Learning rates used when --lr is not given: common starting points for standardized inputs
# (full-batch "gd" can take a larger step than the stochastic methods).
DEFAULT_LR = {
    "gd": 0.1, "sgd": 0.01, "momentum": 0.01, "nesterov": 0.01,
    "adagrad": 0.05, "rmsprop": 0.001, "adam": 0.001, "adamw": 0.001,
}


def learning_rate(optimizer: str, lr: float | None = None) -> float:
    """The learning rate a run uses: ``lr`` (``--lr``) when given, else the optimizer's
    :data:`DEFAULT_LR`."""
    return DEFAULT_LR[optimizer] if lr is None else lr


def build_mlp(args, n_inputs: int, n_outputs: int):
    """``nn.MLP([n_inputs, *hidden, n_outputs])`` (float32) from ``--hidden``,
    ``--activation``, ``--dropout`` and ``--batchnorm``."""
    from .. import nn

    return nn.MLP([n_inputs, *args.hidden, n_outputs], activation=args.activation,
                  dropout=args.dropout, batchnorm=args.batchnorm)


def make_network(args, data, kind: str):
    """The network for ``kind``: the MLP of ``--hidden``…, or for a linear model (ols,
    logit, mnlogit in compare-optimizers) one Linear layer."""
    from .. import nn

    n_inputs = len(data.feature_names)
    if kind == "mlp":
        return build_mlp(args, n_inputs, data.n_outputs), {
            "sizes": [n_inputs, *args.hidden, data.n_outputs], "activation": args.activation,
            "dropout": args.dropout, "batchnorm": bool(args.batchnorm)}
    return nn.MLP([n_inputs, data.n_outputs]), {"sizes": [n_inputs, data.n_outputs],
                                                "activation": "relu", "dropout": 0.0,
                                                "batchnorm": False}


def make_optimizer(name: str, params, lr: float | None = None):
    """The optimizer called ``name`` over ``params`` with the :func:`learning_rate` of ``lr``:
    gd and sgd are plain SGD (gd on full batches), momentum and nesterov are SGD with
    momentum 0.9."""
    from .. import optim

    if name not in OPTIMIZERS:
        raise CommandError(f"unknown optimizer {name!r}; choose from {', '.join(OPTIMIZERS)}")
    lr = learning_rate(name, lr)
    params = list(params)
    if name in ("gd", "sgd"):
        return optim.SGD(params, lr=lr)
    if name == "momentum":
        return optim.SGD(params, lr=lr, momentum=0.9)
    if name == "nesterov":
        return optim.SGD(params, lr=lr, momentum=0.9, nesterov=True)
    if name == "adagrad":
        return optim.Adagrad(params, lr=lr)
    if name == "rmsprop":
        return optim.RMSprop(params, lr=lr)
    if name == "adam":
        return optim.Adam(params, lr=lr)
    return optim.AdamW(params, lr=lr)



def make_loss(task: str):
    """Mean squared error (regression), binary cross-entropy on logits (binary) or
    softmax cross-entropy (multiclass)."""
    from .. import nn

    if task == "regression":
        return nn.MSELoss()
    if task == "binary":
        return nn.BCEWithLogitsLoss()
    if task == "multiclass":
        return nn.CrossEntropyLoss()
    raise CommandError(f"unknown task {task!r}; expected regression, binary or multiclass")


def network_targets(y: np.ndarray, task: str):
    """Targets as the network's loss wants them: (n, 1) float32 for regression and binary,
    int64 class ids for multiclass."""
    import chainrule as cr

    if task == "multiclass":
        return cr.tensor(np.asarray(y, dtype=np.int64))
    return cr.tensor(np.asarray(y, dtype=np.float32).reshape(-1, 1))


def network_inputs(X: np.ndarray):
    """Inputs as a float32 Tensor."""
    import chainrule as cr

    return cr.tensor(np.asarray(X, dtype=np.float32))


def check_device(name: str) -> str:
    """``--device``: ``cpu``, ``cuda`` or ``cuda:N``, usable on this machine
    (:func:`chainrule.engine.backend.require_device`); another name, or a CUDA device without
    CuPy, is a :class:`CommandError`. Returns ``name`` as given."""
    from ..engine import backend

    try:
        backend.canonical_device(name)
    except backend.DeviceError:
        raise CommandError(f"--device must be cpu, cuda or cuda:N; got {name!r}") from None
    try:
        backend.require_device(name)
    except backend.DeviceError:
        raise CommandError(
            f"--device {name} needs CuPy and an NVIDIA GPU; install the gpu extra "
            "(pip install 'chainrule[gpu]') or use --device cpu") from None
    return name
