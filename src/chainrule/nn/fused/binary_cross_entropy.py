"""Binary cross-entropy on logits and on probabilities, each as one graph node.

Reference compositions (tests/test_nn_fused.py):

* ``BCEWithLogits``: ``w ((1 - y) x + c softplus(-x))`` with c = 1 + (pos_weight - 1) y
  (softplus(-x) = log1p(exp(-|x|)) + relu(-x), the stable form), i.e. -w [pos_weight y log σ(x)
  + (1 - y) log(1 - σ(x))];
* ``BinaryCrossEntropy``: ``-w (y log p + (1 - y) log(1 - p))`` (each log clamped at -100,
  PyTorch's rule, which the reference matches for p away from 0 and 1).
"""
from __future__ import annotations

from ...engine import backend, ops
from ...engine.autograd import Function
from .composed import ComposedBackward, constant, reduce_tensor_losses, softplus
from .reduction import element_weights, quiet, reduce_elements

__all__ = ["BCEWithLogits", "BinaryCrossEntropy"]


class BCEWithLogits(ComposedBackward, Function):
    """Binary cross-entropy on logits x, stable for any x:

        l = w ((1 - y) x + c softplus(-x)),  c = 1 + (pos_weight - 1) y,
        softplus(-x) = log(1 + e^{-x}) = log1p(e^{-|x|}) + max(-x, 0).

    dx = w ((1 - y) - c sigmoid(-x)) (= w (sigmoid(x) - y) when pos_weight is absent),
    dy = w (-x + (pos_weight - 1) softplus(-x)).
    """

    op = "binary_cross_entropy_with_logits"

    def forward(self, x, y, weight, pos_weight, reduction):
        xp = backend.namespace_of(x)
        relu_neg = xp.maximum(-x, 0)
        log_term = xp.log1p(xp.exp(-xp.abs(x)))
        # (1 - y) x + max(-x, 0) is formed first: for y = 0 it is exactly max(x, 0),
        # so a tiny log_term (large |x|) is not lost to cancellation.
        if pos_weight is None:
            losses = ((1 - y) * x + relu_neg) + log_term
        else:
            c = 1 + (pos_weight - 1) * y
            losses = ((1 - y) * x + c * relu_neg) + c * log_term
        if weight is not None:
            losses = losses * weight
        self.x, self.y = x, y
        self.weight, self.pos_weight = weight, pos_weight
        self.reduction = reduction
        return reduce_elements(self, losses, reduction)

    def backward(self, grad):
        scale = element_weights(self, grad)
        if self.weight is not None:
            scale = scale * self.weight
        x, y, pos_weight = self.x, self.y, self.pos_weight
        grad_x = grad_y = None
        if self.needs_input_grad[0]:
            if pos_weight is None:
                grad_x = scale * (backend.expit(x) - y)
            else:
                grad_x = scale * ((1 - y) - (1 + (pos_weight - 1) * y) * backend.expit(-x))
        if self.needs_input_grad[1]:
            if pos_weight is None:
                grad_y = -scale * x
            else:
                xp = backend.namespace_of(x)
                softplus_neg = xp.log1p(xp.exp(-xp.abs(x))) + xp.maximum(-x, 0)
                grad_y = scale * ((pos_weight - 1) * softplus_neg - x)
        return grad_x, grad_y

    def reference(self, x, y):
        """w ((1 - y) x + c softplus(-x)), c = 1 + (pos_weight - 1) y."""
        softplus_neg = softplus(-x)
        if self.pos_weight is None:
            losses = (1 - y) * x + softplus_neg
        else:
            c = 1 + (constant(self.pos_weight) - 1) * y
            losses = (1 - y) * x + c * softplus_neg
        if self.weight is not None:
            losses = losses * constant(self.weight)
        return reduce_tensor_losses(losses, self.reduction, self.count, self.shape)


class BinaryCrossEntropy(ComposedBackward, Function):
    """l = -w (y log p + (1 - y) log(1 - p)) with each log clamped at -100 (PyTorch's
    rule, so p = 0 or 1 gives a finite loss). dp = w (p - y) / max(p (1 - p), 1e-12),
    dy = w (log(1 - p) - log p)."""

    op = "binary_cross_entropy"

    def forward(self, p, y, weight, reduction):
        xp = backend.namespace_of(p)
        with quiet(xp):
            log_p = xp.maximum(xp.log(p), -100)
            log_q = xp.maximum(xp.log1p(-p), -100)
        losses = -(y * log_p + (1 - y) * log_q)
        if weight is not None:
            losses = losses * weight
        self.p, self.y, self.log_p, self.log_q = p, y, log_p, log_q
        self.weight, self.reduction = weight, reduction
        return reduce_elements(self, losses, reduction)

    def backward(self, grad):
        xp = backend.namespace_of(grad)
        scale = element_weights(self, grad)
        if self.weight is not None:
            scale = scale * self.weight
        p, y = self.p, self.y
        grad_p = grad_y = None
        if self.needs_input_grad[0]:
            grad_p = scale * (p - y) / xp.maximum(p * (1 - p), 1e-12)
        if self.needs_input_grad[1]:
            grad_y = scale * (self.log_q - self.log_p)
        return grad_p, grad_y

    def reference(self, p, y):
        """-w (y max(log p, -100) + (1 - y) max(log(1 - p), -100))."""
        log_p = ops.maximum(p.log(), -100.0)
        log_q = ops.maximum((-p).log1p(), -100.0)
        losses = -(y * log_p + (1 - y) * log_q)
        if self.weight is not None:
            losses = losses * constant(self.weight)
        return reduce_tensor_losses(losses, self.reduction, self.count, self.shape)
