"""Second derivatives of the fused nodes: differentiate the reference composition they equal.

A fused node's ``backward`` is a hand-written closed form on raw arrays; differentiating it
again (``create_graph=True``: gradients of gradients, Hessian-vector products) would need a
second closed form per node. Instead each fused node states its reference composition as
``reference(*inputs)``, built from the differentiable reference ops, and
:meth:`ComposedBackward.backward_graph` returns the gradient of that composition, recorded, so
it can be differentiated again. It equals the node's own gradient (tests/test_nn_fused checks
the node against the same composition), and the fast path is untouched when ``create_graph``
is off.

Helpers on Tensors for the references: the class-rows layout and the loss reductions of
:mod:`.reduction`.
"""
from __future__ import annotations

from ...engine import ops
from ...engine.autograd import enable_grad, grad
from ...engine.tensor import Tensor, wrap

__all__ = ["ComposedBackward", "class_rows", "reduce_tensor_losses", "softplus"]


class ComposedBackward:
    """Mixin for a fused Function: ``backward_graph`` = the recorded gradient of
    ``self.reference(*self.parents)``."""

    def reference(self, *inputs: Tensor) -> Tensor:
        raise NotImplementedError(f"{type(self).__name__} must define reference")  # abstract

    def backward_graph(self, upstream):
        needs = self.needs_input_grad
        wanted = [parent for parent, needed in zip(self.parents, needs) if needed]
        with enable_grad():
            out = self.reference(*self.parents)
        grads = iter(grad(out, wanted, upstream, create_graph=True, allow_unused=True))
        return tuple(next(grads) if needed else None for needed in needs)


def class_rows(t: Tensor) -> Tensor:
    """(N, C, d1, …), (N, C) or (C,) class scores as rows (M, C), on Tensors
    (:func:`~chainrule.nn.fused.reduction.rows_of_classes`)."""
    if t.ndim == 2:
        return t
    if t.ndim == 1:
        return t.reshape(1, -1)
    moved = t.permute(0, *range(2, t.ndim), 1)
    return moved.reshape(-1, t.shape[1])


def reduce_tensor_losses(losses: Tensor, reduction: str, denominator, shape) -> Tensor:
    """Per-row or per-element losses reduced as asked (:func:`~chainrule.nn.fused.reduction.
    reduce_losses` on Tensors)."""
    if reduction == "none":
        return losses.reshape(*shape) if tuple(shape) else losses.reshape(())
    total = losses.sum()
    return total / float(denominator) if reduction == "mean" else total


def softplus(z: Tensor) -> Tensor:
    """log(1 + e^z) built so that its first and second derivatives are right everywhere:
    z + log1p(e^{-z}) where z > 0, log1p(e^z) elsewhere, each branch fed only the values it
    is used for (so neither overflows, and no 0 · inf reaches the gradient). The usual stable
    form max(z, 0) + log1p(e^{-|z|}) has kinks in its pieces that autodiff differentiates to a
    wrong slope at z = 0 exactly, where logistic regression starts."""
    positive = wrap(z.data > 0)
    above = ops.where(positive, z, 0.0)
    below = ops.where(positive, 0.0, z)
    return ops.where(positive, above + (-above).exp().log1p(), below.exp().log1p())


def constant(array) -> Tensor:
    """A saved array as a Tensor that takes no gradient."""
    return wrap(array)


def pick(rows: Tensor, row_index, column_index) -> Tensor:
    """``rows[i, t_i]`` for every row: the target column of each row."""
    return ops.index(rows, (row_index, column_index))
