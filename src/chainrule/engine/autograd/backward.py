"""backward: the chain rule run backwards over the recorded graph.

How it works (docs/architecture.md, "How data flows"):

1. Every differentiable op is a :class:`~chainrule.engine.autograd.function.Function`;
   running it on tensors that require grad records a node (the op, its parent tensors and
   what its backward needs) as the output's ``grad_fn``.
2. ``backward`` visits the nodes reachable from the output in reverse topological order
   (every node after all the nodes that consume its output), iteratively: a chain of
   10,000 ops must not hit Python's recursion limit. Each node turns the gradient of its
   output into gradients of its inputs (the chain rule: one vector-Jacobian product per
   node). Gradients reaching one tensor along several paths are summed. An input that was
   broadcast in the forward pass gets its gradient summed back to its own shape here, in
   one place (:func:`unbroadcast`), so no op has to.
3. Leaves (tensors created by the user with ``requires_grad=True``) accumulate into
   ``.grad`` across calls until it is zeroed.

:func:`reference_backward` is exactly that, on one screen. :func:`backward`, which
``Tensor.backward()`` runs, computes the same gradients (tested equal in
tests/test_autograd.py) with the bookkeeping a training loop needs:

* the walk order comes from creation numbers instead of a separate topological sort: every
  node was recorded after the nodes it consumes, so taking the newest queued node each
  time (a heap) is a reverse topological order, and a node runs once, with its full
  gradient, without a pass over the graph beforehand to count consumers;
* the graph's saved arrays are freed after the walk unless ``retain_graph=True`` (a second
  backward through a freed graph is an error);
* an input modified in place after an op used it is detected (version counters);
* ``retain_grad()`` outputs and anomaly mode (:mod:`.anomaly`) are served;
* leaves' gradients may go straight into preallocated slots (:mod:`.grad_slots`), and an
  array that no one else holds becomes ``.grad`` without a copy;
* post-accumulate-grad hooks (``Tensor.register_post_accumulate_grad_hook``, :mod:`.hooks`)
  fire as soon as a leaf's gradient is complete. Only when some leaf of the graph has one
  does the walk need to know when that is: a pre-pass then counts, for every leaf, the
  graph's edges into it (as an engine that counts node dependencies would), and
  :func:`_walk_tracked` completes each leaf (its ``register_hook`` hooks, the addition into
  ``.grad``, its post-accumulate hooks) when its count reaches zero, before the walk goes on
  to older nodes. Without such hooks none of this runs: the plain walk stores every leaf's
  gradient after the walk, as before.
"""
from __future__ import annotations

import heapq
import itertools

from .. import recycled
from ..tensor import Tensor, wrap
from . import anomaly, grad_slots, hooks
from .function import Function, producer_of, producers_of
from .grad import backward_by_walk
from .gradients import check_node, seed_gradient, unbroadcast

__all__ = ["backward", "reference_backward"]

_depth = grad_slots.depth  # running backward passes (the counter claim_grad_slot reads)


# --------------------------------------------------------------------------- the reference walk

def reference_backward(output: Tensor, gradient=None) -> None:
    """Accumulate d(output)/d(leaf) into ``leaf.grad``: the textbook chain rule.

    The graph is kept, and none of :func:`backward`'s bookkeeping runs (no freeing, no
    in-place checks, no gradient slots): this is the definition :func:`backward` is tested
    against, and the walk to read first.
    """
    if not output.requires_grad:
        raise RuntimeError("reference_backward: this tensor does not require grad and has no grad_fn")
    seed = seed_gradient(output, gradient)
    if output.grad_fn is None:  # the output is itself a leaf
        _accumulate_into_leaves({output: seed})
        return
    grads = {output.grad_fn: seed}  # node -> gradient of the loss with respect to its output
    leaf_grads = {}  # leaf tensor -> its gradient so far
    for node in reverse_topological_order(output.grad_fn):
        grad = grads.pop(node, None)
        if grad is None:  # reachable, but no path carried a gradient here
            continue
        input_grads = node.backward(grad)
        for parent, producer, needed, grad in zip(node.parents, producers_of(node), node.needs_input_grad, input_grads):
            if not needed or grad is None:
                continue
            grad = unbroadcast(grad, parent.shape).astype(parent.dtype, copy=False)
            if producer is None:
                leaf_grads[parent] = leaf_grads[parent] + grad if parent in leaf_grads else grad
            else:
                grads[producer] = grads[producer] + grad if producer in grads else grad
    _accumulate_into_leaves(leaf_grads)


def reverse_topological_order(root) -> list:
    """The nodes reachable from ``root``, each after every node that consumes its output
    (depth-first search, iteratively; reversed post-order)."""
    order, visited, stack = [], set(), [(root, False)]
    while stack:
        node, expanded = stack.pop()
        if expanded:
            order.append(node)
        elif node not in visited:
            visited.add(node)
            stack.append((node, True))
            stack.extend((producer, False) for producer in producers_of(node) if producer is not None)
    return order[::-1]


def _accumulate_into_leaves(leaf_grads: dict) -> None:
    for leaf, grad in leaf_grads.items():
        if leaf.grad is None:
            leaf.grad = wrap(grad.copy())
        else:
            leaf.grad.data += grad


# --------------------------------------------------------------------------- the fast walk

def backward(output: Tensor, gradient=None, retain_graph=None, create_graph: bool = False,
             inputs=None) -> None:
    """Accumulate d(output)/d(leaf) into ``leaf.grad`` for every leaf that requires grad.

    ``gradient`` is the vector of the vector-Jacobian product (the gradient of some
    scalar with respect to ``output``); it defaults to 1 for a one-element output and
    is required otherwise. Without ``retain_graph`` the graph's saved arrays are freed,
    and a second backward through it raises an error. Same gradients as
    :func:`reference_backward`; see the module docstring for what else it does.

    ``create_graph=True`` records the backward pass, so that the gradients (in ``.grad``)
    can be differentiated again; ``inputs`` limits the accumulation to those tensors (leaves
    or not). Both take the walk of :mod:`.grad`; ``retain_graph`` then defaults to
    ``create_graph``, as in PyTorch.
    """
    if not output.requires_grad:
        raise RuntimeError(
            "backward: this tensor does not require grad and has no grad_fn; "
            "create the inputs with requires_grad=True (and not inside no_grad())"
        )
    if create_graph or inputs is not None:
        backward_by_walk(output, gradient, retain_graph, create_graph, inputs)
        return
    retain_graph = bool(retain_graph)
    seed = seed_gradient(output, gradient)
    root = output.grad_fn
    if root is None:
        grad_slots.store_leaf_grads({output: [seed, False]})
        if hooks.post_hooks_used:
            hooks.run_post_accumulate_hooks(output)
        return
    leaf_grads: dict = {}
    if hooks.post_hooks_used:  # some leaf somewhere has a post-accumulate hook
        _tracked_backward(root, seed, leaf_grads, retain_graph)
    else:
        _depth[0] += 1
        try:
            _walk(root, seed, leaf_grads, retain_graph)
        finally:
            _depth[0] -= 1
    grad_slots.store_leaf_grads(leaf_grads)


def _walk(root: Function, seed, leaf_grads: dict, retain_graph: bool) -> None:
    """Run every node reachable from ``root`` once, newest first: the walk of
    :func:`reference_backward` with the bookkeeping of :func:`backward` (see the module
    docstring, "The fast walk"); the checks that pass in the common case are inlined and
    any failure goes to :func:`_node_backward` for its error."""
    pending = {root: seed}
    queue = [(root.order, root)]
    pop, push = heapq.heappop, heapq.heappush
    checking = anomaly.enabled
    while queue:
        node = pop(queue)[1]
        grad = pending.pop(node)
        parents, needs, versions = node.parents, node.needs_input_grad, node.versions
        stale = False  # some input was modified in place since: find its producer by version
        if grad is None:
            input_grads = ()
        elif node.needs_checks or checking:
            input_grads, stale = _node_backward(node, grad), True
        else:
            for parent, version in zip(parents, versions):
                if (parent._memory or parent)._version != version:  # modified in place since
                    input_grads, stale = _node_backward(node, grad), True
                    break
            else:
                input_grads = node.backward(grad)
        if not retain_graph:
            node.release()
        for position, needed in enumerate(needs):
            if not needed:
                continue
            parent = parents[position]
            input_grad = input_grads[position] if input_grads else None
            producer = producer_of(parent, versions[position]) if stale else parent.grad_fn
            if input_grad is not None:
                data = parent.data
                fresh = input_grad is not grad and input_grad.base is None
                if input_grad.shape != data.shape:
                    input_grad = unbroadcast(input_grad, data.shape)
                    fresh = True
                if input_grad.dtype != data.dtype:
                    input_grad = input_grad.astype(data.dtype)
                    fresh = True
                if producer is None:
                    entry = leaf_grads.get(parent)
                    if entry is None:
                        leaf_grads[parent] = [input_grad, fresh]
                    else:  # a second path into this leaf: sum (a new array)
                        entry[0] = entry[0] + input_grad
                        entry[1] = True
                    continue
            elif producer is None:
                continue
            if producer in pending:
                if input_grad is not None:
                    previous = pending[producer]
                    pending[producer] = input_grad if previous is None else recycled.add(previous, input_grad)
            else:  # first edge into this node: queue it (with no gradient yet if this one is None)
                pending[producer] = input_grad
                push(queue, (producer.order, producer))


# --------------------------------------------------------------------------- with post-accumulate hooks

def _tracked_backward(root: Function, seed, leaf_grads: dict, retain_graph: bool) -> None:
    """The walk when post-accumulate hooks exist: :func:`_walk_tracked` when a leaf of this
    graph has one, else the plain walk (with no tracking of an enclosing pass in force)."""
    counts = _leaf_edge_counts(root)
    outer = grad_slots.tracking[0]
    _depth[0] += 1
    try:
        if counts is None:
            grad_slots.tracking[0] = None
            _walk(root, seed, leaf_grads, retain_graph)
        else:
            _walk_tracked(root, seed, leaf_grads, retain_graph, counts)
    finally:
        _depth[0] -= 1
        grad_slots.tracking[0] = outer


def _leaf_edge_counts(root: Function):
    """{leaf: number of the graph's edges into it} for the leaves reachable from ``root``
    (following only the edges the walk follows: inputs that need a gradient), or None when
    no such leaf has a post-accumulate-grad hook (then the plain walk runs)."""
    counts, seen, stack = {}, {root}, [root]
    while stack:
        node = stack.pop()
        for parent, producer, needed in zip(node.parents, producers_of(node), node.needs_input_grad):
            if not needed:
                continue
            if producer is None:
                counts[parent] = counts.get(parent, 0) + 1
            elif producer not in seen:
                seen.add(producer)
                stack.append(producer)
    if not any(hooks.post_hooks_of(leaf) for leaf in counts):
        return None
    return counts


def _walk_tracked(root: Function, seed, leaf_grads: dict, retain_graph: bool, counts: dict) -> None:
    """:func:`_walk` (the same order, gradients and checks), completing each leaf as soon as
    ``counts`` says its last edge has been followed. Leaves that one node completes together
    complete in the reverse order of its inputs (PyTorch's order for a linear layer: bias,
    then weight), and a leaf whose slot the node claimed may complete earlier, inside the
    node's backward (:class:`grad_slots.Tracking`). ``leaf_grads`` is left holding only what
    no count covered (nothing, unless the graph changed under the walk)."""
    tracking = grad_slots.tracking[0] = grad_slots.Tracking(counts, _complete_leaf)
    pending = {root: seed}
    queue = [(root.order, root)]
    while queue:
        node = heapq.heappop(queue)[1]
        grad = pending.pop(node)
        producers, parents, needs = producers_of(node), node.parents, node.needs_input_grad
        tracking.claims = []
        input_grads = () if grad is None else _node_backward(node, grad)
        tracking.claims = None
        if not retain_graph:
            node.release()
        done = []
        for parent, producer, needed, input_grad in zip(parents, producers, needs,
                                                        input_grads or itertools.repeat(None)):
            if needed:
                _follow_edge(parent, producer, _fitted(input_grad, grad, parent.data), pending, queue,
                             leaf_grads, tracking, done)
        for leaf in reversed(done):
            _complete_leaf(leaf, leaf_grads.pop(leaf, None), tracking)


def _fitted(input_grad, grad, data):
    """``(input_grad, fresh)`` un-broadcast and cast to ``data``'s shape and dtype, as in :func:`_walk`."""
    if input_grad is None:
        return None, False
    fresh = input_grad is not grad and input_grad.base is None
    if input_grad.shape != data.shape:
        input_grad, fresh = unbroadcast(input_grad, data.shape), True
    if input_grad.dtype != data.dtype:
        input_grad, fresh = input_grad.astype(data.dtype), True
    return input_grad, fresh


def _follow_edge(parent, producer, fitted, pending, queue, leaf_grads, tracking, done) -> None:
    """One edge of the tracked walk: into a leaf's entry (``done`` gets the leaf when this was
    its last edge), or into the producer's pending gradient (queueing it on its first edge)."""
    input_grad, fresh = fitted
    if producer is None:
        if input_grad is not None:
            entry = leaf_grads.get(parent)
            if entry is None:
                leaf_grads[parent] = [input_grad, fresh]
            else:
                entry[0], entry[1] = entry[0] + input_grad, True
        left = tracking.counts[parent] - 1
        tracking.counts[parent] = left
        if not left:
            done.append(parent)
    elif producer in pending:
        if input_grad is not None:
            previous = pending[producer]
            pending[producer] = input_grad if previous is None else recycled.add(previous, input_grad)
    else:
        pending[producer] = input_grad
        heapq.heappush(queue, (producer.order, producer))


def _complete_leaf(leaf, entry, tracking) -> None:
    """The leaf has had its last edge: its gradient hooks and the addition into ``.grad``
    (:func:`grad_slots.store_leaf_grads`), then its post-accumulate hooks, when this pass gave
    it a gradient (returned, or written into its slot by a node); once per pass."""
    if leaf in tracking.completed:
        return
    tracking.completed.add(leaf)
    if entry is not None:
        grad_slots.store_leaf_grads({leaf: entry})
    elif tracking.had_grad[leaf] or leaf.grad is None:  # no gradient reached it in this pass
        return
    hooks.run_post_accumulate_hooks(leaf)


def _node_backward(node: Function, grad):
    """Run one node's backward, with the checks that surround it and its output's hooks."""
    check_node(node)
    if node.hooks is not None:
        grad = hooks.run_tensor_hooks(node.hooks, grad)
    if node.retained is not None:
        hooks.store_retained_grad(node, grad)
    input_grads = node.backward(grad)
    if anomaly.enabled:
        anomaly.check_backward(node, input_grads)
    return input_grads
