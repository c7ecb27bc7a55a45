"""Reverse-mode automatic differentiation: graph recording, backward, gradcheck.

How it works (DESIGN.md, "How data flows"):

1. Every differentiable operation is a :class:`Function` subclass with a ``forward``
   and a ``backward``, both on raw arrays. ``Function.apply`` runs ``forward`` at once
   and, when grad mode is on and some input requires grad, records the function
   instance as the output's ``grad_fn`` together with its parent tensors. That
   recorded instance is a node of the graph; ``op`` is its short label.
2. :func:`backward` orders the nodes reachable from the output in reverse
   topological order, iteratively (a chain of 10,000 ops must not hit Python's
   recursion limit), and walks them once. Each node turns the gradient of its output
   into gradients of its inputs (the chain rule, one vector-Jacobian product per
   node). Gradients reaching one tensor along several paths are summed. An input
   that was broadcast in the forward pass gets its gradient summed back to its own
   shape here, in one place (:func:`unbroadcast`), so no op has to.
3. Leaves (tensors created by the user with ``requires_grad=True``) accumulate into
   ``.grad`` across calls until it is zeroed. The graph's saved arrays are freed
   after the walk unless ``retain_graph=True``.
"""
from __future__ import annotations

import functools
import heapq
import itertools
from contextlib import contextmanager

from . import backend
from .tensor import Tensor, wrap
from .tensor import tensor as _to_tensor

__all__ = [
    "Function", "backward", "no_grad", "enable_grad", "set_grad_enabled",
    "is_grad_enabled", "gradcheck", "detect_anomaly", "AnomalyError", "unbroadcast",
    "claim_grad_slot",
]

_grad_enabled = True
_anomaly_enabled = False
_backward_depth = 0  # how many backward passes are running (a node's backward may call one)
# Every recorded node gets the next (decreasing) number: a node's number is smaller than
# those of all nodes recorded after it, in particular of every consumer of its output.
_creation_order = itertools.count(0, -1)
_seeds: dict = {}  # (shape, dtype) -> a read-only array of ones: the implicit seed gradient
_new_tensor = Tensor.__new__


# --------------------------------------------------------------------------- grad mode

def is_grad_enabled() -> bool:
    """True when operations record the graph (the default)."""
    return _grad_enabled


class _GradMode:
    """Sets the grad mode inside a ``with`` block or a decorated function and
    restores the previous mode afterwards, so these nest."""

    def __init__(self, mode: bool):
        self.mode = bool(mode)
        self._previous = []

    def __enter__(self):
        global _grad_enabled
        self._previous.append(_grad_enabled)
        _grad_enabled = self.mode
        return self

    def __exit__(self, *exc_info):
        global _grad_enabled
        _grad_enabled = self._previous.pop()
        return False

    def __call__(self, function):
        mode = self.mode

        @functools.wraps(function)
        def run_in_mode(*args, **kwargs):
            with _GradMode(mode):
                return function(*args, **kwargs)

        return run_in_mode


class no_grad(_GradMode):
    """Context manager and decorator in which no operation records a graph.

    Use it for evaluation and for parameter updates: results have
    ``requires_grad=False`` and keep no references to their inputs.
    """

    def __init__(self):
        super().__init__(False)


class enable_grad(_GradMode):
    """Context manager and decorator that turns graph recording back on (inside ``no_grad``)."""

    def __init__(self):
        super().__init__(True)


class set_grad_enabled(_GradMode):
    """Set grad mode to ``mode``, as PyTorch does: at once when called on its own
    (``set_grad_enabled(False)``), or for the duration of a ``with`` block or a
    decorated function, after which the mode from before the call is restored."""

    def __init__(self, mode: bool):
        global _grad_enabled
        super().__init__(mode)
        self._before_call = _grad_enabled
        _grad_enabled = self.mode

    def __enter__(self):
        global _grad_enabled
        self._previous.append(self._before_call)
        _grad_enabled = self.mode
        return self

    def __call__(self, function):
        global _grad_enabled
        _grad_enabled = self._before_call  # decorating must not change the mode now
        return super().__call__(function)


# --------------------------------------------------------------------------- functions

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
      gradient itself: write it into the array :func:`claim_grad_slot` gives and return
      None for that input.

    Inputs that are not Tensors must be converted by the caller (:func:`as_tensor`);
    Python scalars that are parameters of an op (the exponent of ``x ** 2``, the slope
    of a leaky ReLU) are passed as keyword ``params`` and never become graph nodes.
    """

    op = "function"
    parents: tuple = ()
    needs_input_grad: tuple = ()
    versions: tuple = ()  # each input's in-place version when the op ran
    freed = False
    order = 0  # set when recorded: decreasing in creation order (see _walk)
    retained = None  # weak reference to an output that asked to keep its .grad

    def forward(self, *arrays, **params):
        raise NotImplementedError(f"{type(self).__name__} must define forward")  # abstract

    def backward(self, grad):
        raise NotImplementedError(f"{type(self).__name__} must define backward")  # abstract

    def release(self):
        """Drop the arrays saved for backward (after a backward without retain_graph);
        keep only the creation order, by which a later backward still sorts the node
        before it reports that the node was freed."""
        self.__dict__ = {"order": self.order, "freed": True}

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
                stamps.append(t._version)
            out = fn.forward(*arrays, **params)
            needs = tuple(flags)
        if _grad_enabled and True in needs and out.dtype.kind == "f":
            fn.parents = inputs
            fn.needs_input_grad = needs
            fn.order = next(_creation_order)
            if count == 1:
                fn.versions = (a._version,)
            elif count == 2:
                fn.versions = (a._version, b._version)
            elif count == 3:
                fn.versions = (a._version, b._version, c._version)
            else:
                fn.versions = tuple(stamps)
            result = wrap(out, True, fn)
        else:  # grad mode off, no input requires grad, or an integer/bool result (argmax, casts)
            result = wrap(out)
        if _anomaly_enabled:
            _check_forward(fn, result.data, inputs)
        return result

    def __repr__(self):
        return f"<{self.op} backward>"


# --------------------------------------------------------------------------- backward

def backward(output: Tensor, gradient=None, retain_graph: bool = False) -> None:
    """Accumulate d(output)/d(leaf) into ``leaf.grad`` for every leaf that requires grad.

    ``gradient`` is the vector of the vector-Jacobian product (the gradient of some
    scalar with respect to ``output``); it defaults to 1 for a one-element output and
    is required otherwise. Without ``retain_graph`` the graph's saved arrays are freed,
    and a second backward through it raises an error.

    Nodes are visited in reverse topological order, newest first (every node was
    recorded after the nodes it consumes; see :func:`_walk`): a node runs once all of its
    recorded consumers that lead to the output have passed their gradient on, so each
    node runs once, with its full gradient.
    """
    if not output.requires_grad:
        raise RuntimeError(
            "backward: this tensor does not require grad and has no grad_fn; "
            "create the inputs with requires_grad=True (and not inside no_grad())"
        )
    seed = _seed_gradient(output, gradient)
    root = output.grad_fn
    if root is None:
        _store_leaf_grads({output: [seed, False]})
        return
    global _backward_depth
    leaf_grads: dict = {}
    _backward_depth += 1
    try:
        _walk(root, seed, leaf_grads, retain_graph)
    finally:
        _backward_depth -= 1
    _store_leaf_grads(leaf_grads)


def _walk(root: Function, seed, leaf_grads: dict, retain_graph: bool) -> None:
    """Run every node reachable from ``root`` once, newest first (see :func:`backward`).

    ``pending`` holds each queued node's gradient so far (None while none has arrived);
    ``queue`` is a heap of the queued nodes by creation order. Taking the newest queued
    node each time is a reverse topological order: every consumer of a node was recorded
    after it, and any consumer still to run would be queued itself, or sit downstream of a
    queued node, newer than this one. So a node runs once, with its full gradient, and no
    pass over the graph is needed beforehand to count consumers.

    The hot loop of every training step, so the checks of :func:`_node_backward` that
    pass in the common case (not freed, inputs unmodified, no retained output, no
    anomaly mode) are inlined here; any failure goes to ``_node_backward`` for its error.
    """
    pending = {root: seed}
    queue = [(root.order, root)]
    pop, push = heapq.heappop, heapq.heappush
    while queue:
        node = pop(queue)[1]
        grad = pending.pop(node)
        parents, needs = node.parents, node.needs_input_grad
        if grad is None:
            input_grads = ()
        elif node.freed or node.retained is not None or _anomaly_enabled:
            input_grads = _node_backward(node, grad)
        else:
            for parent, version in zip(parents, node.versions):
                if parent._version != version:  # modified in place: _node_backward raises
                    input_grads = _node_backward(node, grad)
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
            producer = parent.grad_fn
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
                    pending[producer] = input_grad if previous is None else previous + input_grad
            else:  # first edge into this node: queue it (with no gradient yet if this one is None)
                pending[producer] = input_grad
                push(queue, (producer.order, producer))


def _node_backward(node: Function, grad):
    """Run one node's backward, with the checks that surround it."""
    if node.freed:
        raise RuntimeError(
            f"backward: trying to backward through the graph a second time "
            f"(at {node.op}); its saved arrays were freed after the first backward. "
            f"Pass retain_graph=True to the first backward() to keep them."
        )
    for parent, version in zip(node.parents, node.versions):
        if parent._version != version:
            raise RuntimeError(
                f"backward: an input of {node.op} (shape {tuple(parent.shape)}) was modified "
                f"in place after {node.op} used it, so the saved values are stale and the "
                f"gradient would be wrong. Modify a copy (.clone()) instead, or recompute "
                f"the forward pass after the change."
            )
    if node.retained is not None:
        _store_retained_grad(node, grad)
    input_grads = node.backward(grad)
    if _anomaly_enabled:
        _check_backward(node, input_grads)
    return input_grads


def unbroadcast(grad, shape: tuple):
    """Sum ``grad`` over the axes along which an input of ``shape`` was broadcast.

    Broadcasting prepends axes and stretches size-1 axes; its adjoint sums over
    exactly those axes.
    """
    extra = grad.ndim - len(shape)
    axes = tuple(range(extra)) + tuple(
        extra + i for i, size in enumerate(shape) if size == 1 and grad.shape[extra + i] != 1
    )
    if axes:
        grad = grad.sum(axis=axes)
    return grad.reshape(shape)


def _seed_gradient(output: Tensor, gradient):
    data = output.data
    if gradient is None:
        if data.size != 1:
            raise RuntimeError(
                f"backward: gradient can be implicitly created only for outputs with one "
                f"element; this output has shape {tuple(data.shape)}. Pass "
                f"gradient=<tensor of that shape>, or reduce the output (e.g. .sum())."
            )
        key = (data.shape, data.dtype)
        seed = _seeds.get(key) if data.__class__ is backend.host.ndarray else None
        if seed is None:
            seed = backend.namespace_of(data).ones(data.shape, data.dtype)
            if data.__class__ is backend.host.ndarray:
                seed.flags.writeable = False  # shared by every backward: nodes only read grads
                _seeds[key] = seed
        return seed
    seed = gradient.data if isinstance(gradient, Tensor) else _to_tensor(gradient).data
    if tuple(seed.shape) != tuple(data.shape):
        raise RuntimeError(
            f"backward: gradient has shape {tuple(seed.shape)} but the output has shape "
            f"{tuple(data.shape)}; they must match"
        )
    if backend.device_of(seed) != backend.device_of(data):
        raise RuntimeError(
            f"backward: gradient is on {backend.device_of(seed)} but the output is on "
            f"{backend.device_of(data)}"
        )
    return seed.astype(data.dtype, copy=False)


def claim_grad_slot(leaf: Tensor):
    """The array into which a node's backward may write ``leaf``'s gradient itself, or None.

    During :func:`backward`, a leaf whose ``.grad`` is None and that has a ``grad_slot``
    (a view into an optimizer's flat gradient buffer, see :mod:`chainrule.optim.optimizer`)
    would end up with ``.grad`` wrapping that slot anyway. Claiming makes it so at once:
    ``leaf.grad`` becomes the slot, the caller writes the gradient there (e.g.
    ``matmul(..., out=slot)``) and returns None for that input, and the engine has
    nothing left to copy or store. Any later gradient for the same leaf in the same pass
    finds ``.grad`` set, gets None here, and is added to it as usual. Outside a backward
    pass, in anomaly mode (whose checks see returned gradients only) and for every other
    tensor, the answer is None.
    """
    if _backward_depth and leaf.grad is None and not _anomaly_enabled:
        slot = getattr(leaf, "grad_slot", None)
        if slot is not None and leaf.grad_fn is None:
            data = leaf.data
            if slot.shape == data.shape and slot.__class__ is data.__class__ and slot.dtype == data.dtype:
                grad = _new_tensor(Tensor)  # what wrap(slot) makes, without the call
                grad.data, grad.grad, grad.requires_grad, grad.grad_fn, grad._version = slot, None, False, None, 0
                leaf.grad = grad
                return slot
    return None


def _store_leaf_grads(grads: dict) -> None:
    """Add the gradients of one backward pass into the leaves' ``.grad``.

    The first gradient becomes the leaf's ``.grad``: written into the leaf's
    ``grad_slot`` when it has one (a preallocated view, e.g. into an optimizer's
    flat gradient buffer), else kept as is when the engine knows no one else holds
    the array, else copied. Later gradients are added in place.
    """
    for leaf, (grad, fresh) in grads.items():
        if leaf.grad is None:
            slot = getattr(leaf, "grad_slot", None)
            if slot is not None:
                slot[...] = grad
                leaf.grad = wrap(slot)
            else:
                leaf.grad = wrap(grad if fresh else grad.copy())
        else:
            leaf.grad.data += grad


def _store_retained_grad(node: Function, grad) -> None:
    output = node.retained()
    if output is None:
        return
    if output.grad is None:
        output.grad = wrap(grad.copy())
    else:
        output.grad.data += grad


# --------------------------------------------------------------------------- anomaly mode

class AnomalyError(FloatingPointError):
    """Raised inside :func:`detect_anomaly` when an op produces NaN or inf."""


@contextmanager
def detect_anomaly():
    """Raise at the first op whose forward output or backward gradient has NaN or inf.

    The error names the op, the shapes of its inputs and how many values are
    non-finite. Checking every array costs a pass over it: use this for debugging,
    not for training.
    """
    global _anomaly_enabled
    previous = _anomaly_enabled
    _anomaly_enabled = True
    try:
        yield
    finally:
        _anomaly_enabled = previous


def _count_nonfinite(array) -> int:
    if array.dtype.kind != "f":
        return 0
    xp = backend.namespace_of(array)
    return int((~xp.isfinite(array)).sum())


def _check_forward(fn: Function, out, inputs) -> None:
    bad = _count_nonfinite(out)
    if bad:
        shapes = ", ".join(str(tuple(t.shape)) for t in inputs)
        raise AnomalyError(
            f"detect_anomaly: forward of {fn.op} produced {bad} non-finite value(s) "
            f"(NaN or inf) in an output of shape {tuple(out.shape)}; input shapes: {shapes}"
        )


def _check_backward(node: Function, input_grads) -> None:
    for index, grad in enumerate(input_grads):
        if grad is None:
            continue
        bad = _count_nonfinite(grad)
        if bad:
            shapes = ", ".join(str(tuple(p.shape)) for p in node.parents)
            raise AnomalyError(
                f"detect_anomaly: backward of {node.op} produced {bad} non-finite value(s) "
                f"(NaN or inf) in the gradient of input {index}; input shapes: {shapes}"
            )


# --------------------------------------------------------------------------- gradcheck

class GradcheckError(AssertionError):
    """The recorded gradient disagrees with central finite differences."""


def gradcheck(fn, *inputs, eps: float = 1e-6, atol: float = 1e-5, rtol: float = 1e-3) -> bool:
    """Compare the autodiff gradient of ``fn`` with float64 central differences.

    For every input ``x`` that requires grad and every element ``x_j``,
    the numerical derivative of the scalar ``s(x) = sum(fn(x) * v)`` (``v`` a fixed
    random weighting, so every output element matters) is
    ``(s(x + eps e_j) - s(x - eps e_j)) / (2 eps)``, which has error O(eps^2).
    It must match the recorded gradient within ``atol + rtol * |numerical|``.

    Inputs must be float64 tensors (float32 has too few digits for differences).
    Returns True, or raises :class:`GradcheckError` naming the input, the worst
    element's index, both values and the op under test (the output's ``grad_fn``).
    """
    tensors = [x for x in inputs if isinstance(x, Tensor) and x.requires_grad]
    if not tensors:
        raise ValueError("gradcheck: no input requires grad; pass tensors created with requires_grad=True")
    for position, x in enumerate(tensors):
        if x.dtype != backend.float64:
            raise TypeError(
                f"gradcheck: input {position} has dtype {x.dtype}; central differences "
                f"need float64 inputs (use .double())"
            )
    output = fn(*inputs)
    xp = backend.namespace_of(output.data)
    weights = xp.asarray(
        backend.host.random.default_rng(0).standard_normal(output.shape), dtype=output.data.dtype
    )
    op = output.grad_fn.op if output.grad_fn is not None else "identity"
    analytic = _analytic_gradients(fn, inputs, tensors, weights)
    for position, (x, recorded) in enumerate(zip(tensors, analytic)):
        numerical = _numerical_gradient(fn, inputs, x, weights, eps)
        _compare_gradients(op, position, recorded, numerical, atol, rtol)
    return True


def _weighted_sum(fn, inputs, weights):
    output = fn(*inputs)
    return (output * wrap(weights)).sum()


def _analytic_gradients(fn, inputs, tensors, weights):
    saved = [x.grad for x in tensors]
    for x in tensors:
        x.grad = None
    with enable_grad():
        _weighted_sum(fn, inputs, weights).backward()
    grads = []
    for x, previous in zip(tensors, saved):
        grads.append(x.grad.data.copy() if x.grad is not None else backend.namespace_of(x.data).zeros_like(x.data))
        x.grad = previous
    return grads


def _numerical_gradient(fn, inputs, x, weights, eps):
    xp = backend.namespace_of(x.data)
    original = x.data
    perturbed = original.copy()
    flat = perturbed.reshape(-1)  # a view: writing to flat writes to perturbed
    grad = xp.zeros(original.size, dtype=original.dtype)
    try:
        x.data = perturbed
        with no_grad():
            for j in range(flat.size):
                keep = flat[j].copy()
                flat[j] = keep + eps
                plus = _weighted_sum(fn, inputs, weights).item()
                flat[j] = keep - eps
                minus = _weighted_sum(fn, inputs, weights).item()
                flat[j] = keep
                grad[j] = (plus - minus) / (2 * eps)
    finally:
        x.data = original
    return grad.reshape(original.shape)


def _compare_gradients(op, position, recorded, numerical, atol, rtol):
    xp = backend.namespace_of(numerical)
    error = xp.abs(recorded - numerical) - (atol + rtol * xp.abs(numerical))
    if error.size == 0 or float(error.max()) <= 0:
        return
    worst = tuple(int(i) for i in xp.unravel_index(int(xp.argmax(error)), error.shape))
    raise GradcheckError(
        f"gradcheck failed for {op}: gradient of input {position} at index {worst}: "
        f"autodiff {float(recorded[worst]):.10g} vs central difference "
        f"{float(numerical[worst]):.10g} (atol={atol}, rtol={rtol})"
    )
