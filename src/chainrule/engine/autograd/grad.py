"""``autograd.grad`` and the backward pass that records itself (``create_graph=True``).

``grad(outputs, inputs, grad_outputs)`` returns Σ_k (∂outputs_k/∂inputs)ᵀ grad_outputs_k for
each input (leaf or computed), without touching any ``.grad``; only the nodes that lead to
an input run. ``backward(..., create_graph=True)`` and ``backward(..., inputs=[...])`` use the
same walk.

Higher-order derivatives. With ``create_graph=True`` the gradients are Tensors, and each node
turns the gradient of its output into gradients of its inputs with ``backward_graph``: the
same vector-Jacobian product as its ``backward``, written with differentiable ops on Tensors.
Those ops are recorded like any others, so the gradients have a graph of their own and can be
differentiated again (gradients of gradients, Hessian-vector products, ``autograd.functional``).
Without ``create_graph`` the walk runs the raw-array ``backward`` of every node, as
``Tensor.backward()`` always does.

The walk is :func:`~chainrule.engine.autograd.backward.reference_backward`'s, with the same
checks as the fast walk (freed graphs, stale saved values, hooks, anomaly mode); it visits
nodes newest first (a heap by creation order).
"""
from __future__ import annotations

import heapq

from .. import backend
from ..tensor import Tensor, wrap
from . import anomaly, grad_mode, hooks
from .function import producers_of
from .gradients import check_node, seed_gradient, unbroadcast

__all__ = ["grad", "run_backward"]


def grad(outputs, inputs, grad_outputs=None, retain_graph=None, create_graph: bool = False,
         allow_unused: bool = False) -> tuple:
    """The gradients of ``outputs`` with respect to ``inputs``, as PyTorch's
    ``torch.autograd.grad``.

    Args:
        outputs: a tensor, or a sequence of tensors, that require grad.
        inputs: a tensor or a sequence of tensors (leaves or computed) to differentiate with
            respect to.
        grad_outputs: the vectors of the vector-Jacobian products, one per output (None: 1
            for a one-element output, required otherwise).
        retain_graph: keep the graph for another backward (default: ``create_graph``).
        create_graph: record the backward pass so that the gradients can be differentiated
            again.
        allow_unused: return None for an input that the outputs do not depend on (else that
            is an error).

    Returns:
        A tuple with one gradient (a Tensor, or None when unused and allowed) per input.
    """
    outputs, inputs = _as_tuple(outputs, "outputs"), _as_tuple(inputs, "inputs")
    grad_outputs = _as_grad_outputs(grad_outputs, len(outputs))
    for position, t in enumerate(inputs):
        if not t.requires_grad:
            raise RuntimeError(f"grad: inputs[{position}] does not require grad, so it has no gradient")
    retain = create_graph if retain_graph is None else retain_graph
    found = run_backward(outputs, grad_outputs, targets=inputs, create_graph=create_graph, retain_graph=retain)
    result = []
    for position, t in enumerate(inputs):
        g = found.get(t)
        if g is None and not allow_unused:
            raise RuntimeError(
                f"grad: inputs[{position}] (shape {tuple(t.shape)}) was not used to compute the outputs; "
                f"pass allow_unused=True to get None for it"
            )
        result.append(g if g is None or isinstance(g, Tensor) else wrap(g))
    return tuple(result)


def backward_by_walk(output, gradient, retain_graph, create_graph: bool, inputs) -> None:
    """``Tensor.backward`` with ``create_graph`` or ``inputs``: the walk of :func:`run_backward`,
    then each gradient added to ``.grad`` (of the leaves, or of ``inputs``)."""
    retain = create_graph if retain_graph is None else retain_graph
    if inputs is None:
        run_backward([output], [gradient], create_graph=create_graph, retain_graph=retain)
        return
    targets = [inputs] if isinstance(inputs, Tensor) else list(inputs)
    found = run_backward([output], [gradient], targets=targets, create_graph=create_graph, retain_graph=retain)
    for t in targets:
        g = found.get(t)
        if g is None:
            continue
        g = g if isinstance(g, Tensor) else wrap(g)
        t.grad = g if t.grad is None else t.grad + g
        if hooks.post_hooks_used and t.grad_fn is None:
            hooks.run_post_accumulate_hooks(t)


def run_backward(outputs, grad_outputs, *, targets=None, create_graph: bool = False,
                 retain_graph: bool = False):
    """Run the chain rule from ``outputs`` (seeded with ``grad_outputs``).

    With ``targets`` (a sequence of tensors), return ``{target: gradient}`` for those that
    the outputs depend on and leave every ``.grad`` alone; without, add each leaf's gradient
    to its ``.grad``. Gradients are Tensors with a graph when ``create_graph``, else arrays.
    """
    seeds = [_seed(out, g, create_graph) for out, g in zip(outputs, grad_outputs)]
    wanted = _Targets(targets)
    pending, queue, leaf_grads = {}, [], {}
    for out, seed in zip(outputs, seeds):
        if out.grad_fn is None:
            _add_into(leaf_grads, out, seed)
        else:
            _queue(pending, queue, out.grad_fn, seed)
    runs = _nodes_leading_to(wanted, [out.grad_fn for out in outputs]) if targets is not None else None
    queued = None if runs is None else runs | set(wanted.nodes)
    with grad_mode.set_grad_enabled(create_graph):
        while queue:
            node = heapq.heappop(queue)[1]
            node_grad = pending.pop(node)
            node_grad = _run_hooks(node, node_grad, create_graph)
            wanted.capture_node(node, node_grad)
            if node_grad is None or (runs is not None and node not in runs):
                continue
            _visit(node, node_grad, pending, queue, leaf_grads, queued, create_graph, retain_graph)
    if targets is None:
        _accumulate(leaf_grads, create_graph)
        return None
    return wanted.collect(leaf_grads, create_graph)


def _visit(node, node_grad, pending, queue, leaf_grads, queued, create_graph, retain_graph) -> None:
    """One node's vector-Jacobian product, and its results passed to its inputs' producers."""
    check_node(node)
    if create_graph:
        input_grads = node.backward_graph(node_grad)
    else:
        input_grads = node.backward(node_grad)
    if anomaly.enabled:
        anomaly.check_backward(node, [g.data if isinstance(g, Tensor) else g for g in input_grads])
    producers = producers_of(node)
    parents, needs = node.parents, node.needs_input_grad
    if not retain_graph:
        node.release()
    for parent, producer, needed_input, input_grad in zip(parents, producers, needs, input_grads):
        if not needed_input or input_grad is None:
            continue
        if queued is not None and producer is not None and producer not in queued:
            continue  # no target lies behind that input
        input_grad = _fit(input_grad, parent, create_graph)
        if producer is None:
            _add_into(leaf_grads, parent, input_grad)
        else:
            _queue(pending, queue, producer, input_grad)


# ---------------------------------------------------------------------- targets and pruning

class _Targets:
    """The tensors whose gradients ``grad`` returns: leaves (collected from the leaf sums)
    and computed tensors (their node's complete gradient, captured before it runs)."""

    def __init__(self, targets):
        self.tensors = list(targets) if targets is not None else []
        self.nodes = {t.grad_fn: t for t in self.tensors if t.grad_fn is not None}
        self.leaves = {id(t) for t in self.tensors if t.grad_fn is None}
        self.found = {}

    def capture_node(self, node, node_grad) -> None:
        target = self.nodes.get(node)
        if target is not None and node_grad is not None:
            self.found[id(target)] = node_grad

    def collect(self, leaf_grads: dict, create_graph: bool) -> dict:
        result = {}
        for t in self.tensors:
            g = self.found.get(id(t))
            if g is None and id(t) in self.leaves and t in leaf_grads:
                g = _leaf_hooked(t, leaf_grads[t], create_graph)
            if g is not None:
                result[t] = g
        return result


def _nodes_leading_to(wanted: _Targets, roots) -> set:
    """The nodes reachable from ``roots`` from which a target can be reached: those must run
    their backward; the others need not (a target node itself only needs its gradient)."""
    leads: dict = {}
    stack = [(root, False) for root in roots if root is not None]
    while stack:
        node, expanded = stack.pop()
        if node in leads and not expanded:
            continue
        producers = producers_of(node)
        if not expanded:
            leads.setdefault(node, False)
            stack.append((node, True))
            stack.extend((p, False) for p in producers if p is not None and p not in leads)
            continue
        reaches = any(
            (p is None and id(parent) in wanted.leaves) or (p is not None and (p in wanted.nodes or leads.get(p)))
            for parent, p in zip(node.parents, producers)
        )
        leads[node] = reaches
    return {node for node, reaches in leads.items() if reaches}


# ---------------------------------------------------------------------- gradients as arrays or Tensors

def _seed(output: Tensor, gradient, create_graph: bool):
    if not isinstance(output, Tensor) or not output.requires_grad:
        raise RuntimeError("grad: every output must be a tensor that requires grad")
    if create_graph and isinstance(gradient, Tensor):
        if tuple(gradient.shape) != tuple(output.shape):
            raise RuntimeError(
                f"grad: grad_outputs has shape {tuple(gradient.shape)} but the output has shape "
                f"{tuple(output.shape)}; they must match"
            )
        return gradient if gradient.dtype == output.dtype else gradient.to(output.dtype)
    seed = seed_gradient(output, gradient)
    return wrap(seed) if create_graph else seed


def _fit(input_grad, parent: Tensor, create_graph: bool):
    """The gradient summed back over broadcast dims to the parent's shape, in its dtype."""
    if create_graph:
        if tuple(input_grad.shape) != tuple(parent.shape):
            input_grad = sum_to_shape(input_grad, tuple(parent.shape))
        if input_grad.dtype != parent.dtype:
            input_grad = input_grad.to(parent.dtype)
        return input_grad
    if input_grad.shape != parent.data.shape:
        input_grad = unbroadcast(input_grad, parent.data.shape)
    if input_grad.dtype != parent.data.dtype:
        input_grad = input_grad.astype(parent.data.dtype)
    return input_grad


def sum_to_shape(t: Tensor, shape: tuple) -> Tensor:
    """:func:`~chainrule.engine.autograd.backward.unbroadcast` on a Tensor, differentiably:
    the sum over the axes along which ``shape`` was broadcast to ``t``'s shape."""
    extra = t.ndim - len(shape)
    axes = tuple(range(extra)) + tuple(
        extra + i for i, size in enumerate(shape) if size == 1 and t.shape[extra + i] != 1
    )
    if axes:
        t = t.sum(dim=axes, keepdim=True)
    return t.reshape(shape)


def _queue(pending: dict, queue: list, node, g) -> None:
    if node in pending:
        previous = pending[node]
        pending[node] = g if previous is None else previous + g
    else:
        pending[node] = g
        heapq.heappush(queue, (node.order, node))


def _add_into(leaf_grads: dict, leaf: Tensor, g) -> None:
    previous = leaf_grads.get(leaf)
    leaf_grads[leaf] = g if previous is None else previous + g


def _run_hooks(node, node_grad, create_graph: bool):
    if node_grad is None or (node.hooks is None and node.retained is None):
        return node_grad
    array = node_grad.data if create_graph else node_grad
    if node.hooks is not None:
        hooked = hooks.run_tensor_hooks(node.hooks, array)
        if hooked is not array:
            node_grad = wrap(hooked) if create_graph else hooked
    if node.retained is not None:
        hooks.store_retained_grad(node, node_grad.data if create_graph else node_grad)
    return node_grad


def _leaf_hooked(leaf: Tensor, g, create_graph: bool):
    leaf_hooks = hooks.hooks_of(leaf)
    if not leaf_hooks:
        return g
    hooked = hooks.run_tensor_hooks(leaf_hooks, g.data if create_graph else g)
    return (wrap(hooked) if create_graph else hooked) if hooked is not (g.data if create_graph else g) else g


def _accumulate(leaf_grads: dict, create_graph: bool) -> None:
    """Add each leaf's gradient to its ``.grad`` (out of place, keeping the graph, when
    ``create_graph``; as ``Tensor.backward`` does otherwise)."""
    for leaf, g in leaf_grads.items():
        g = _leaf_hooked(leaf, g, create_graph)
        if create_graph:
            leaf.grad = g if leaf.grad is None else leaf.grad + g
        elif leaf.grad is None:
            leaf.grad = wrap(g.copy())
        else:
            leaf.grad.data += g
        if hooks.post_hooks_used:  # after the walk here (no overlap with it), in the walk's leaf order
            hooks.run_post_accumulate_hooks(leaf)


def _as_tuple(value, name: str) -> tuple:
    if isinstance(value, Tensor):
        return (value,)
    try:
        items = tuple(value)
    except TypeError as err:
        raise TypeError(f"grad: {name} must be a tensor or a sequence of tensors; got {type(value).__name__}") from err
    for position, item in enumerate(items):
        if not isinstance(item, Tensor):
            raise TypeError(f"grad: {name}[{position}] must be a tensor; got {type(item).__name__}")
    return items


def _as_grad_outputs(grad_outputs, count: int) -> list:
    if grad_outputs is None:
        return [None] * count
    if isinstance(grad_outputs, Tensor) or backend.is_array(grad_outputs):
        grad_outputs = [grad_outputs]
    grad_outputs = list(grad_outputs)
    if len(grad_outputs) != count:
        raise ValueError(f"grad: got {len(grad_outputs)} grad_outputs for {count} output(s)")
    return grad_outputs
