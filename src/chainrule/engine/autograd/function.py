"""Function: one differentiable operation, and how running it records a node of the graph.

Every op of :mod:`chainrule.engine.ops` (and every fused layer of :mod:`chainrule.nn.fused`) is
a subclass with a ``forward`` and a ``backward`` on raw arrays. ``Function.apply`` runs
``forward`` at once (eager, like PyTorch) and, when grad mode is on and some input requires
grad, records the function instance as the output's ``grad_fn`` together with its parent
tensors: that instance is a node of the graph, and ``op`` is its short label.
"""
from __future__ import annotations

import itertools

from ..tensor import Tensor, TensorMap, share_memory, wrap
from . import anomaly, grad_mode

__all__ = ["Function", "ViewFunction", "producer_of", "producers_of"]

# Every recorded node gets the next (decreasing) number: a node's number is smaller than
# those of all nodes recorded after it, in particular of every consumer of its output.
_creation_order = itertools.count(0, -1)


class Function:
    """One differentiable operation, written on raw arrays.

    Subclasses set ``op`` (a short label used in error messages and graph drawings)
    and implement:

    * ``forward(self, *arrays, **params) -> array`` — computes the output and stores
      on ``self`` whatever ``backward`` needs (and nothing more);
    * ``backward(self, grad) -> tuple`` — given the gradient of the loss with respect
      to the output, returns one gradient per array input (``None`` where an input
      needs none; ``self.needs_input_grad[i]`` says which do). A gradient may have the
      broadcast shape of the output: the engine sums it back to the input's shape.
      Return fresh arrays, ``grad`` itself or views of it, never arrays saved on
      ``self`` (the engine may hand a fresh array to a leaf's ``.grad`` without a copy)
      and never one fresh array for two inputs. A node may also deliver a leaf's
      gradient itself: write it into the array
      :func:`~chainrule.engine.autograd.grad_slots.claim_grad_slot` gives and return
      None for that input;
    * ``backward_graph(self, grad) -> tuple`` — the same, on Tensors with differentiable ops
      (for ``create_graph=True``: gradients of gradients).

    Inputs that are not Tensors must be converted by the caller (:func:`as_tensor`);
    Python scalars that are parameters of an op (the exponent of ``x ** 2``, the slope
    of a leaky ReLU) are passed as keyword ``params`` and never become graph nodes.
    """

    op = "function"
    #: Whether ``backward`` reads the values of the inputs (then modifying an input in place
    #: before backward is an error, caught by version counters). False for ops whose
    #: gradient does not depend on their inputs' values (add, sum, reshape, indexing …):
    #: PyTorch accepts those modifications, and so do we.
    saves_inputs = True
    #: Whether ``backward`` reads the op's own output (exp, sigmoid, softmax …): then
    #: modifying that output in place before backward is an error.
    saves_output = False
    # Set by apply when the node is recorded (slots: four stores on every recorded op, about
    # 0.25 µs cheaper than in the instance dict): ``parents`` (the input Tensors),
    # ``needs_input_grad``, ``order`` (decreasing in creation order, see backward) and
    # ``versions`` (each input's in-place version when the op ran, see producers_of). What an
    # op saves for backward goes to the instance dict, as ``self.c = c``.
    __slots__ = ("parents", "needs_input_grad", "order", "versions", "__dict__", "__weakref__")
    freed = False
    output_modified = False  # set when the output was modified in place and saves_output
    hooks = None  # gradient hooks on the output (Tensor.register_hook), or None
    retained = None  # weak reference to an output that asked to keep its .grad (retain_grad)
    #: True when backward must take the checked path: freed, hooked, retained, or its saved
    #: output modified (the fast walk tests this one flag).
    needs_checks = False

    def forward(self, *arrays, **params):
        raise NotImplementedError(f"{type(self).__name__} must define forward")  # abstract

    def backward(self, grad):
        raise NotImplementedError(f"{type(self).__name__} must define backward")  # abstract

    def backward_graph(self, grad):
        """The same vector-Jacobian product as :meth:`backward`, on Tensors: ``grad`` is a
        Tensor, and the input gradients are built from differentiable ops on ``self.parents``
        (and constants saved in ``forward``), so that ``create_graph=True`` records them and
        they can be differentiated again."""
        raise RuntimeError(
            f"{self.op}: differentiating its gradient again (create_graph=True) is not implemented for this op"
        )

    def release(self):
        """Drop the arrays saved for backward (after a backward without retain_graph);
        keep only the creation order, by which a later backward still sorts the node
        before it reports that the node was freed."""
        self.__dict__ = {"freed": True, "needs_checks": True}
        self.parents = self.needs_input_grad = self.versions = ()  # no edges out of a freed node

    @classmethod
    def apply(cls, *inputs: Tensor, **params) -> Tensor:
        """Run the op on tensors and record it when a gradient will be needed.

        The hot path of every forward op: one, two and three inputs (nearly every op)
        are spelled out, which is several times cheaper than building the tuples with
        comprehensions.
        """
        fn = cls()
        count = len(inputs)
        if count == 1:
            a = inputs[0]
            out = fn.forward(a.data, **params)
            needs = (a.requires_grad,)
        elif count == 2:
            a, b = inputs
            out = fn.forward(a.data, b.data, **params)
            needs = (a.requires_grad, b.requires_grad)
        elif count == 3:
            a, b, c = inputs
            out = fn.forward(a.data, b.data, c.data, **params)
            needs = (a.requires_grad, b.requires_grad, c.requires_grad)
        else:  # one pass over the inputs (cheaper than three comprehensions)
            arrays, flags, stamps = [], [], []
            for t in inputs:
                arrays.append(t.data)
                flags.append(t.requires_grad)
                stamps.append((t._memory or t)._version)
            out = fn.forward(*arrays, **params)
            needs = tuple(flags)
        if grad_mode.enabled and True in needs and out.dtype.kind == "f":
            fn.parents = inputs
            fn.needs_input_grad = needs
            fn.order = next(_creation_order)
            if count == 1:  # the version of the memory each input lives in (its own, or its base's)
                fn.versions = ((a._memory or a)._version,)
            elif count == 2:
                fn.versions = ((a._memory or a)._version, (b._memory or b)._version)
            elif count == 3:
                fn.versions = ((a._memory or a)._version, (b._memory or b)._version, (c._memory or c)._version)
            else:
                fn.versions = tuple(stamps)
            result = wrap(out, True, fn)
        else:  # grad mode off, no input requires grad, or an integer/bool result (argmax, casts)
            result = wrap(out)
        if anomaly.enabled:
            anomaly.check_forward(fn, result.data, inputs)
        return result

    def __repr__(self):
        return f"<{self.op} backward>"


class ViewFunction(Function):
    """A Function whose output may share its first input's memory (reshape, permute,
    expand, basic indexing): when it does, the two share one version counter
    (:func:`~chainrule.engine.tensor.share_memory`), so an in-place write to either is seen
    by the version checks of every node that saved the other."""

    saves_inputs = False  # a view's gradient never depends on the values it views

    @classmethod
    def apply(cls, *inputs: Tensor, **params) -> Tensor:
        out = super().apply(*inputs, **params)
        owner, source = out.data.base, inputs[0].data
        if owner is not None and (owner is source or owner is source.base):
            share_memory(out, inputs[0])
        return out


def producer_of(tensor: Tensor, version: int):
    """The node that produced ``tensor`` when its version was ``version``: its ``grad_fn``,
    unless an in-place operation has since made it the output of a newer node
    (:mod:`chainrule.engine.inplace`), in which case the node it had then."""
    history = rebased.get(tensor) if rebased else None
    if history is not None:
        for last_version, grad_fn in history:
            if version <= last_version:
                return grad_fn
    return tensor.grad_fn


def producers_of(node: Function) -> tuple:
    """The node behind each input of ``node`` (None for a leaf or a constant)."""
    return tuple(producer_of(p, v) for p, v in zip(node.parents, node.versions))


#: tensor -> [(last version, grad_fn it had up to that version), …] for tensors that an
#: in-place operation made the output of a new node (rare: only those tensors are here).
rebased = TensorMap()
