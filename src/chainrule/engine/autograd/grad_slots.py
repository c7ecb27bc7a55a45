"""Gradient slots: leaves whose gradient goes straight into a preallocated array.

A fast path beside the plain rule "the first gradient of a leaf becomes its ``.grad``, later
ones are added to it" (:func:`chainrule.engine.autograd.backward.reference_backward`), with the
same values. An optimizer that keeps its parameters in one flat buffer
(:mod:`chainrule.optim.flat_buffers`) gives each parameter a ``grad_slot``: a view of the
parameter's shape into one flat gradient array. Backward then puts each leaf's first gradient
into its slot, so after ``zero_grad()`` and ``backward()`` the gradients of a whole model are
one array and the optimizer's step is one pass over it.

Two ways a gradient reaches its slot:

* :func:`store_leaf_grads`, at the end of a backward pass, copies it in (or keeps a fresh
  array as ``.grad`` when the leaf has no slot);
* a node's backward may compute it there directly: :func:`claim_grad_slot` hands out the slot
  (``matmul(G.T, x, out=slot)`` in the fused linear layers, :mod:`chainrule.nn.fused`), and
  the node returns None for that input.

Every node that claims a slot writes it before its next claim and before it returns. A
backward pass that tracks leaves for post-accumulate-grad hooks (:mod:`.backward`,
``_walk_tracked``) relies on that: while it runs, :data:`tracking` holds its
:class:`Tracking`, and a claim completes the leaves whose slots the same node claimed
before, when that node is their last edge (their hooks fire while the node goes on: the
fused MLP node finishes its last layer's weight before it computes the first layer's).
"""
from __future__ import annotations

from ..tensor import Tensor, wrap
from . import anomaly, hooks
from .hooks import hooks_of, run_tensor_hooks

__all__ = ["claim_grad_slot", "store_leaf_grads", "Tracking", "tracking"]

#: How many backward passes are running (a node's backward may start one), in a list so that
#: backward can count without a module attribute write.
depth = [0]
_new_tensor = Tensor.__new__

#: The :class:`Tracking` of the running tracked backward pass, or None (in a list, as ``depth``).
tracking = [None]


class Tracking:
    """What a tracked backward pass knows of its leaves: ``counts`` (edges not yet followed),
    ``had_grad`` (whether ``.grad`` was set before the pass), ``completed`` (leaves whose
    hooks have run), ``claims`` (the slots the running node has claimed, None between nodes)
    and ``complete(leaf, entry, tracking)``, the walk's completion of a leaf."""

    def __init__(self, counts: dict, complete):
        self.counts, self.complete = counts, complete
        self.had_grad = {leaf: leaf.grad is not None for leaf in counts}
        self.completed, self.claims = set(), None

    def claimed(self, leaf) -> None:
        """``leaf``'s slot was just claimed: the slots claimed before it by the same node are
        written, so complete those for which this node is the last edge."""
        claims = self.claims
        if claims is None:
            return
        for earlier in claims:
            if self.counts.get(earlier) == 1:
                self.complete(earlier, None, self)
        claims.clear()
        claims.append(leaf)


def claim_grad_slot(leaf: Tensor):
    """The array into which a node's backward may write ``leaf``'s gradient itself, or None.

    During a backward pass, a leaf whose ``.grad`` is None and that has a ``grad_slot``
    would end up with ``.grad`` wrapping that slot anyway. Claiming makes it so at once:
    ``leaf.grad`` becomes the slot, the caller writes the gradient there (e.g.
    ``matmul(..., out=slot)``) and returns None for that input, and the engine has
    nothing left to copy or store. Any later gradient for the same leaf in the same pass
    finds ``.grad`` set, gets None here, and is added to it as usual. Outside a backward
    pass, in anomaly mode (whose checks see returned gradients only), for a leaf with
    gradient hooks (they must see the gradient first) and for every other tensor, the
    answer is None.
    """
    if depth[0] and leaf.grad is None and not anomaly.enabled and (not hooks.leaf_hooks_used or hooks_of(leaf) is None):
        slot = getattr(leaf, "grad_slot", None)
        if slot is not None and leaf.grad_fn is None:
            data = leaf.data
            if slot.shape == data.shape and slot.__class__ is data.__class__ and slot.dtype == data.dtype:
                grad = _new_tensor(Tensor)  # what wrap(slot) makes, without the call
                grad.data, grad.grad, grad.requires_grad, grad.grad_fn, grad._version = slot, None, False, None, 0
                grad._memory = None
                leaf.grad = grad
                if tracking[0] is not None:
                    tracking[0].claimed(leaf)
                return slot
    return None


def store_leaf_grads(grads: dict) -> None:
    """Add the gradients of one backward pass into the leaves' ``.grad``.

    ``grads`` maps each leaf to ``[gradient, fresh]``; a leaf's gradient hooks see it first
    (:mod:`.hooks`). The first gradient becomes the
    leaf's ``.grad``: written into the leaf's ``grad_slot`` when it has one, else kept as
    is when ``fresh`` (no one else holds the array), else copied. Later gradients are added
    in place.
    """
    for leaf, (grad, fresh) in grads.items():
        leaf_hooks = hooks.leaf_hooks_used and hooks_of(leaf)
        if leaf_hooks:
            hooked = run_tensor_hooks(leaf_hooks, grad)
            if hooked is not grad:  # a hook's replacement: someone may hold it, so copy
                grad, fresh = hooked, False
        if leaf.grad is None:
            slot = getattr(leaf, "grad_slot", None)
            if slot is not None:
                slot[...] = grad
                leaf.grad = wrap(slot)
            else:
                leaf.grad = wrap(grad if fresh else grad.copy())
        else:
            leaf.grad.data += grad
