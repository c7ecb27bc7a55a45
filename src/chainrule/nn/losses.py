"""Loss modules: the functional losses as objects that remember their options.

``criterion = nn.CrossEntropyLoss(label_smoothing=0.1)`` then
``loss = criterion(logits, target)``. Each class's docstring names the function
it calls; the math (the formula, the gradient, what "mean" divides by) is stated
there, in :mod:`chainrule.nn.functional`. Class weights passed as tensors are
registered as buffers (so ``to()`` moves them and ``state_dict()`` saves them).
"""
from __future__ import annotations

from ..engine.tensor import Tensor
from . import functional as F
from .arguments import check_reduction
from .module import Module

__all__ = [
    "MSELoss", "L1Loss", "HuberLoss", "BCEWithLogitsLoss", "BCELoss", "CrossEntropyLoss", "NLLLoss",
]


class _Loss(Module):
    def __init__(self, reduction: str = "mean"):
        super().__init__()
        check_reduction(reduction, type(self).__name__)
        self.reduction = reduction

    def _weight_buffer(self, name: str, value) -> None:
        if value is not None and not isinstance(value, Tensor):
            raise TypeError(f"{type(self).__name__}: {name} must be a Tensor or None; got {type(value).__name__}")
        self.register_buffer(name, value)

    def extra_repr(self) -> str:
        return f"reduction={self.reduction!r}"


class MSELoss(_Loss):
    """Mean squared error, l = (x - y)^2 (see :func:`functional.mse_loss`)."""

    def forward(self, input, target):
        return F.mse_loss(input, target, self.reduction)


class L1Loss(_Loss):
    """Absolute error, l = |x - y| (see :func:`functional.l1_loss`)."""

    def forward(self, input, target):
        return F.l1_loss(input, target, self.reduction)


class HuberLoss(_Loss):
    """Huber loss: d^2 / 2 for |d| <= delta, delta (|d| - delta / 2) beyond, d = x - y
    (see :func:`functional.huber_loss`)."""

    def __init__(self, reduction: str = "mean", delta: float = 1.0):
        super().__init__(reduction)
        if not delta > 0:
            raise ValueError(f"HuberLoss: delta must be positive; got {delta}")
        self.delta = float(delta)

    def forward(self, input, target):
        return F.huber_loss(input, target, self.reduction, self.delta)

    def extra_repr(self) -> str:
        return f"reduction={self.reduction!r}, delta={self.delta}"


class BCEWithLogitsLoss(_Loss):
    """Binary cross-entropy on logits, l = (1 - y) x + (1 + (pos_weight - 1) y) log(1 + e^{-x}),
    stable for any x (see :func:`functional.binary_cross_entropy_with_logits`)."""

    def __init__(self, weight: Tensor | None = None, reduction: str = "mean", pos_weight: Tensor | None = None):
        super().__init__(reduction)
        self._weight_buffer("weight", weight)
        self._weight_buffer("pos_weight", pos_weight)

    def forward(self, input, target):
        return F.binary_cross_entropy_with_logits(input, target, self.weight, self.reduction, self.pos_weight)


class BCELoss(_Loss):
    """Binary cross-entropy on probabilities, l = -(y log p + (1 - y) log(1 - p))
    (see :func:`functional.binary_cross_entropy`)."""

    def __init__(self, weight: Tensor | None = None, reduction: str = "mean"):
        super().__init__(reduction)
        self._weight_buffer("weight", weight)

    def forward(self, input, target):
        return F.binary_cross_entropy(input, target, self.weight, self.reduction)


class CrossEntropyLoss(_Loss):
    """Softmax cross-entropy on logits, fused and numerically stable,
    l_i = logsumexp(z_i) - z_{i,t_i} for class indices (see :func:`functional.cross_entropy`
    for class probabilities, ``weight``, ``ignore_index`` and ``label_smoothing``)."""

    def __init__(self, weight: Tensor | None = None, ignore_index: int = -100, reduction: str = "mean",
                 label_smoothing: float = 0.0):
        super().__init__(reduction)
        if not 0.0 <= label_smoothing <= 1.0:
            raise ValueError(f"CrossEntropyLoss: label_smoothing must lie in [0, 1]; got {label_smoothing}")
        self._weight_buffer("weight", weight)
        self.ignore_index, self.label_smoothing = ignore_index, float(label_smoothing)

    def forward(self, input, target):
        return F.cross_entropy(input, target, self.weight, self.ignore_index, self.reduction, self.label_smoothing)

    def extra_repr(self) -> str:
        return f"reduction={self.reduction!r}, ignore_index={self.ignore_index}, label_smoothing={self.label_smoothing}"


class NLLLoss(_Loss):
    """Negative log-likelihood of log-probabilities, l_i = -w_{t_i} a_{i,t_i}
    (see :func:`functional.nll_loss`)."""

    def __init__(self, weight: Tensor | None = None, ignore_index: int = -100, reduction: str = "mean"):
        super().__init__(reduction)
        self._weight_buffer("weight", weight)
        self.ignore_index = ignore_index

    def forward(self, input, target):
        return F.nll_loss(input, target, self.weight, self.ignore_index, self.reduction)

    def extra_repr(self) -> str:
        return f"reduction={self.reduction!r}, ignore_index={self.ignore_index}"
