"""Gradient hooks: functions that see (and may replace) a tensor's gradient during backward.

``t.register_hook(fn)`` (as PyTorch): ``fn(grad)`` is called with the gradient of ``t``, a
Tensor, once per backward pass, when that gradient is complete; a Tensor it returns replaces
the gradient from then on (for ``t``'s own ``.grad`` and for everything upstream of ``t``).
Hooks run in the order they were registered. For a leaf the hooks sit on the tensor and run
before the gradient is added to ``.grad``; for a computed tensor they sit on its ``grad_fn``
and run before that node's backward. ``register_hook`` returns a :class:`RemovableHandle`.

``retain_grad()`` is the same mechanism: the complete gradient of a computed tensor is kept
in its ``.grad`` (after its other hooks, as in PyTorch).

``t.register_post_accumulate_grad_hook(fn)`` (PyTorch ≥ 2.1), leaves only: ``fn(t)`` is called
with the leaf itself once per backward pass, right after this pass's gradient has been added
to ``t.grad`` (so ``fn`` reads the accumulated ``t.grad``); it must return None. The backward
walk fires it as soon as the leaf has received its last contribution, before the walk goes on
to older nodes (as PyTorch's engine runs a leaf's AccumulateGrad as soon as it is ready): this
is what lets data-parallel training start a gradient all-reduce during backward
(:mod:`chainrule.train.data_parallel`). Leaves finishing at the same node fire in the order of
that node's inputs.
"""
from __future__ import annotations

import itertools
import weakref

from ..tensor import Tensor, TensorMap, wrap

__all__ = ["RemovableHandle", "register_tensor_hook", "retain_grad", "run_tensor_hooks", "leaf_hooks", "hooks_of",
           "register_post_accumulate_hook", "run_post_accumulate_hooks", "post_hooks_of"]

_ids = itertools.count()

#: leaf tensor -> its hooks (few leaves have hooks, so they live here rather than on every Tensor)
leaf_hooks = TensorMap()

#: Whether any leaf ever had a hook: a plain flag the backward pass can read per leaf
#: (asking the weak dictionary itself costs a Python-level call).
leaf_hooks_used = False

#: leaf tensor -> its post-accumulate-grad hooks, and whether any is registered (the flag
#: backward reads once per pass: while it is False the walk does no extra work for them). The
#: flag follows registrations, ``remove()`` and the garbage collection of hooked tensors.
post_hooks = TensorMap()
post_hooks_used = False
_post_hooks_live = [0]


class RemovableHandle:
    """What ``register_hook`` (and the Module hook registrations) return: ``handle.remove()``
    takes the hook out again; also a context manager that removes it on exit."""

    def __init__(self, registry: dict, key):
        self._registry = weakref.ref(registry) if _weakrefable(registry) else (lambda: registry)
        self.id = key

    def remove(self) -> None:
        registry = self._registry()
        if registry is not None:
            registry.pop(self.id, None)

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.remove()
        return False


def _weakrefable(obj) -> bool:
    try:
        weakref.ref(obj)
    except TypeError:
        return False
    return True


class HookDict(dict):
    """The hooks of one tensor, in registration order (a dict subclass: weak-referenceable)."""


def register_tensor_hook(tensor: Tensor, hook) -> RemovableHandle:
    """Add ``hook`` to ``tensor``'s gradient hooks (see the module docstring)."""
    if not callable(hook):
        raise TypeError(f"register_hook: expected a callable taking the gradient; got {type(hook).__name__}")
    if not tensor.requires_grad:
        raise RuntimeError("register_hook: cannot register a hook on a tensor that does not require grad")
    node = tensor.grad_fn
    if node is None:
        registry = leaf_hooks.get(tensor)
        if registry is None:
            registry = leaf_hooks[tensor] = HookDict()
        global leaf_hooks_used
        leaf_hooks_used = True
    else:
        if node.hooks is None:
            node.hooks = HookDict()
            node.needs_checks = True
        registry = node.hooks
    key = next(_ids)
    registry[key] = hook
    return RemovableHandle(registry, key)


def register_post_accumulate_hook(tensor: Tensor, hook) -> RemovableHandle:
    """Add ``hook`` to the leaf ``tensor``'s post-accumulate-grad hooks (see the module
    docstring); PyTorch's errors for a tensor that does not require grad or is not a leaf."""
    if not callable(hook):
        raise TypeError(
            f"register_post_accumulate_grad_hook: expected a callable taking the tensor; got {type(hook).__name__}"
        )
    if not tensor.requires_grad:
        raise RuntimeError("cannot register a hook on a tensor that doesn't require gradient")
    if tensor.grad_fn is not None:
        raise RuntimeError("post accumulate grad hooks cannot be registered on non-leaf tensors")
    registry = post_hooks.get(tensor)
    if registry is None:
        registry = post_hooks[tensor] = HookDict()
        weakref.finalize(tensor, _forget_post_hooks, registry)  # a collected tensor's hooks stop counting
    key = next(_ids)
    registry[key] = hook
    _count_post_hooks(+1)
    return _PostHookHandle(registry, key)


class _PostHookHandle(RemovableHandle):
    """A post-accumulate-grad hook's handle: removing the last one lowers the flag."""

    def remove(self) -> None:
        registry = self._registry()
        if registry is not None and registry.pop(self.id, None) is not None:
            _count_post_hooks(-1)


def _forget_post_hooks(registry: HookDict) -> None:
    _count_post_hooks(-len(registry))
    registry.clear()


def _count_post_hooks(change: int) -> None:
    global post_hooks_used
    _post_hooks_live[0] += change
    post_hooks_used = _post_hooks_live[0] > 0


def post_hooks_of(leaf: Tensor):
    """The post-accumulate-grad hooks registered on ``leaf`` (None or empty when none)."""
    if not post_hooks_used:
        return None
    return post_hooks.get(leaf)


def run_post_accumulate_hooks(leaf: Tensor) -> None:
    """Call each post-accumulate-grad hook of ``leaf`` with the leaf, in registration order."""
    registry = post_hooks_of(leaf)
    if not registry:
        return
    for hook in list(registry.values()):
        result = hook(leaf)
        if result is not None:
            raise TypeError(
                f"a post accumulate grad hook must return None; got {type(result).__name__}"
            )


def retain_grad(tensor: Tensor) -> None:
    """Keep the complete gradient of the computed tensor ``tensor`` in its ``.grad``."""
    if not tensor.requires_grad:
        raise RuntimeError("retain_grad: this tensor does not require grad")
    node = tensor.grad_fn
    if node is not None:
        node.retained = weakref.ref(tensor)
        node.needs_checks = True


def run_tensor_hooks(hooks: dict, grad):
    """``grad`` (an array) after every hook in ``hooks``: each gets a Tensor and may return
    a replacement of the same shape."""
    if not hooks:
        return grad
    current = wrap(grad)
    for hook in list(hooks.values()):
        replaced = hook(current)
        if replaced is not None:
            if not isinstance(replaced, Tensor):
                raise TypeError(f"a gradient hook must return None or a Tensor; got {type(replaced).__name__}")
            if tuple(replaced.shape) != tuple(current.shape):
                raise RuntimeError(
                    f"a gradient hook returned a gradient of shape {tuple(replaced.shape)} for a "
                    f"tensor of shape {tuple(current.shape)}"
                )
            current = replaced
    return current.data


def store_retained_grad(node, grad) -> None:
    """Add ``grad`` (an array) to the ``.grad`` of the tensor that ``node.retained`` refers to."""
    output = node.retained()
    if output is None:
        return
    if output.grad is None:
        output.grad = wrap(grad.copy())
    else:
        output.grad.data += grad


def hooks_of(leaf: Tensor):
    """The hooks registered on ``leaf``, or None (cheap when no leaf ever had one)."""
    if not leaf_hooks_used:
        return None
    return leaf_hooks.get(leaf)
