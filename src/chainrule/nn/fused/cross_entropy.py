"""Softmax cross-entropy and the negative log-likelihood, each as one graph node.

Reference compositions (tests/test_nn_fused.py checks values and gradients against them):

* ``CrossEntropy`` (integer targets t): ``nll(log_softmax(z), t)``, i.e. the mean (or sum) of
  ``-w[t_i] log_softmax(z)[i, t_i]`` with ``log_softmax`` of :mod:`chainrule.engine.ops.activations`,
  divided by sum_i w[t_i]; with label smoothing eps, (1 - eps) of that plus eps times the
  mean over classes of ``-w_c log_softmax(z)[i, c]``.
* ``SoftCrossEntropy`` (class probabilities y): ``-(w * y' * log_softmax(z)).sum(dim=1)``, y'
  the smoothed targets.
* ``NLLLoss`` (log-probabilities a): ``-w[t_i] a[i, t_i]``, reduced as above.

Fused, the log-softmax is never a separate node and the gradient is the closed form
softmax(z_i) - e_{t_i} (times the reduction's weight), not the chain of the pieces.
"""
from __future__ import annotations

from ...engine import backend, recycled
from ...engine.autograd import Function
from .composed import ComposedBackward, class_rows, constant, pick, reduce_tensor_losses
from .reduction import reduce_losses, restore_layout, row_weights, rows_of_classes

__all__ = ["CrossEntropy", "SoftCrossEntropy", "NLLLoss"]


class CrossEntropy(ComposedBackward, Function):
    """Softmax cross-entropy with integer class targets, fused with its log-softmax.

    For logits z_i (C classes), target t_i, class weights w (1 when absent),
    smoothing eps and valid_i = [t_i != ignore_index]:

        log p_ic = z_ic - logsumexp(z_i)          (shifted by max_c z_ic: no overflow)
        l_i = valid_i ((1 - eps) w_{t_i} (-log p_{i,t_i}) + (eps / C) sum_c w_c (-log p_ic))

    Reduction "mean" divides the sum by sum_i valid_i w_{t_i} (PyTorch's rule).
    Backward, with r_i the reduction's weight of row i:

        dz_i = r_i valid_i (p_i ((1 - eps) w_{t_i} + (eps / C) sum_c w_c)
                            - (1 - eps) w_{t_i} e_{t_i} - (eps / C) w)

    which without weights and smoothing is r_i (softmax(z_i) - e_{t_i}). The scatter
    into the target positions is one fancy-index assignment on distinct rows.
    """

    op = "cross_entropy"

    def forward(self, logits, target, weight, ignore_index, reduction, label_smoothing, ignored):
        xp = backend.namespace_of(logits)
        z, self.layout = rows_of_classes(logits)
        t = target.reshape(-1)
        n, classes = z.shape
        rows = xp.arange(n)
        shifted = xp.subtract(z, z.max(axis=1, keepdims=True), out=recycled.empty_like(xp, z))
        exp = xp.exp(shifted, out=recycled.empty_like(xp, z))
        total = exp.sum(axis=1, keepdims=True)
        log_total = xp.log(total[:, 0])
        self.reduction, self.target_shape, self.smoothing = reduction, target.shape, label_smoothing
        self.simple = weight is None and label_smoothing == 0 and not ignored
        if self.simple:
            losses = log_total - shifted[rows, t]
            self.denominator = n
            self.exp, self.total, self.rows, self.t = exp, total, rows, t
            return reduce_losses(losses, reduction, n, target.shape)
        keep = (t != ignore_index) if ignored else None
        t = xp.where(keep, t, 0) if ignored else t
        row_weight = weight[t] if weight is not None else xp.ones(n, dtype=z.dtype)
        if keep is not None:
            row_weight = row_weight * keep
        losses = (1 - label_smoothing) * row_weight * (log_total - shifted[rows, t])
        class_weight = weight if weight is not None else xp.ones(classes, dtype=z.dtype)
        smoothing = label_smoothing / classes
        row_valid = keep.astype(z.dtype) if keep is not None else xp.ones(n, dtype=z.dtype)
        if label_smoothing:
            smooth = class_weight.sum() * log_total - shifted @ class_weight
            losses = losses + smoothing * row_valid * smooth
        denominator = row_weight.sum() if reduction == "mean" else n
        self.exp, self.total, self.rows, self.t = exp, total, rows, t
        self.probability_coefficient = (1 - label_smoothing) * row_weight + smoothing * class_weight.sum() * row_valid
        self.target_coefficient = (1 - label_smoothing) * row_weight
        self.smoothing_vector = (smoothing * class_weight) if label_smoothing else None
        self.row_valid = row_valid
        self.row_weight, self.class_weight = row_weight, class_weight
        self.denominator = denominator
        return reduce_losses(losses, reduction, denominator, target.shape)

    def backward(self, grad):
        scale = row_weights(grad, self.reduction, self.denominator)
        if self.simple:
            dz = self.exp * (scale / self.total)
            dz[self.rows, self.t] -= scale[:, 0] if scale.ndim else scale
            return (restore_layout(dz, self.layout),)
        row_scale = scale[:, 0] if scale.ndim else scale
        dz = self.exp * ((row_scale * self.probability_coefficient)[:, None] / self.total)
        dz[self.rows, self.t] -= row_scale * self.target_coefficient
        if self.smoothing_vector is not None:
            dz -= (row_scale * self.row_valid)[:, None] * self.smoothing_vector
        return (restore_layout(dz, self.layout),)

    def reference(self, logits):
        """nll(log_softmax(z), t): -w_t log p_t per row (plus the smoothing term), reduced."""
        log_p = class_rows(logits).log_softmax(dim=1)
        picked = pick(log_p, self.rows, self.t)
        if self.simple:
            losses = -picked
        else:
            losses = -(1 - self.smoothing) * constant(self.row_weight) * picked
            if self.smoothing:
                classes = log_p.shape[1]
                smooth = (log_p * constant(self.class_weight)).sum(dim=1)
                losses = losses - (self.smoothing / classes) * constant(self.row_valid) * smooth
        return reduce_tensor_losses(losses, self.reduction, self.denominator, self.target_shape)


class SoftCrossEntropy(ComposedBackward, Function):
    """Cross-entropy against class probabilities y (same shape as the logits).

    With y'_i = (1 - eps) y_i + eps / C and class weights w (1 when absent):
    l_i = -sum_c w_c y'_ic log p_ic, log p = log_softmax(z). Reduction "mean"
    divides by the number of rows. Gradients:
    dz_i = r_i (p_i sum_c w_c y'_ic - w * y'_i) and dy_ic = -r_i (1 - eps) w_c log p_ic.
    """

    op = "cross_entropy"

    def forward(self, logits, target, weight, reduction, label_smoothing):
        xp = backend.namespace_of(logits)
        z, self.layout = rows_of_classes(logits)
        y, _ = rows_of_classes(target)
        n, classes = z.shape
        shifted = z - z.max(axis=1, keepdims=True)
        log_p = shifted - xp.log(xp.exp(shifted).sum(axis=1, keepdims=True))
        smoothed = (1 - label_smoothing) * y + label_smoothing / classes if label_smoothing else y
        weighted = smoothed * weight if weight is not None else smoothed
        self.log_p, self.weighted, self.weight = log_p, weighted, weight
        self.reduction, self.smoothing, self.denominator = reduction, label_smoothing, n
        losses = -(weighted * log_p).sum(axis=1)
        row_shape = () if target.ndim == 1 else target.shape[:1] + target.shape[2:]
        self.row_shape = row_shape
        return reduce_losses(losses, reduction, n, row_shape)

    def backward(self, grad):
        xp = backend.namespace_of(grad)
        scale = row_weights(grad, self.reduction, self.denominator)
        grad_z = grad_y = None
        if self.needs_input_grad[0]:
            p = xp.exp(self.log_p)
            grad_z = restore_layout(
                scale * (p * self.weighted.sum(axis=1, keepdims=True) - self.weighted), self.layout
            )
        if self.needs_input_grad[1]:
            coefficient = -(1 - self.smoothing) * scale
            if self.weight is not None:
                coefficient = coefficient * self.weight
            grad_y = restore_layout(coefficient * self.log_p, self.layout)
        return grad_z, grad_y

    def reference(self, logits, target):
        """-sum_c w_c y'_c log_softmax(z)_c per row, y' the smoothed targets, reduced."""
        log_p = class_rows(logits).log_softmax(dim=1)
        y = class_rows(target)
        if self.smoothing:
            y = (1 - self.smoothing) * y + self.smoothing / log_p.shape[1]
        if self.weight is not None:
            y = y * constant(self.weight)
        return reduce_tensor_losses(-(y * log_p).sum(dim=1), self.reduction, self.denominator, self.row_shape)


class NLLLoss(ComposedBackward, Function):
    """Negative log-likelihood of log-probabilities a (N, C): l_i = -valid_i w_{t_i} a_{i,t_i}.

    Reduction "mean" divides by sum_i valid_i w_{t_i}. Gradient: -r_i valid_i w_{t_i}
    at (i, t_i), zero elsewhere.
    """

    op = "nll_loss"

    def forward(self, log_probs, target, weight, ignore_index, reduction, ignored):
        xp = backend.namespace_of(log_probs)
        a, self.layout = rows_of_classes(log_probs)
        t = target.reshape(-1)
        n = a.shape[0]
        keep = (t != ignore_index) if ignored else None
        if ignored:
            t = xp.where(keep, t, 0)
        row_weight = weight[t] if weight is not None else xp.ones(n, dtype=a.dtype)
        if keep is not None:
            row_weight = row_weight * keep
        rows = xp.arange(n)
        losses = -row_weight * a[rows, t]
        self.rows, self.t, self.row_weight, self.shape = rows, t, row_weight, a.shape
        self.reduction, self.target_shape = reduction, target.shape
        self.denominator = row_weight.sum() if reduction == "mean" else n
        return reduce_losses(losses, reduction, self.denominator, target.shape)

    def backward(self, grad):
        xp = backend.namespace_of(grad)
        scale = row_weights(grad, self.reduction, self.denominator)
        row_scale = scale[:, 0] if scale.ndim else scale
        da = xp.zeros(self.shape, dtype=grad.dtype)
        da[self.rows, self.t] = -row_scale * self.row_weight
        return (restore_layout(da, self.layout),)

    def reference(self, log_probs):
        """-w_t a_t per row, reduced."""
        picked = pick(class_rows(log_probs), self.rows, self.t)
        losses = -constant(self.row_weight) * picked
        return reduce_tensor_losses(losses, self.reduction, self.denominator, self.target_shape)
