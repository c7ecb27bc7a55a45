"""Module hooks, as PyTorch's: functions called around a module's forward and backward.

* ``register_forward_pre_hook(hook)``: ``hook(module, args)`` before ``forward``; a value it
  returns replaces ``args`` (a non-tuple is wrapped as ``(value,)``). With
  ``with_kwargs=True``: ``hook(module, args, kwargs)``, returning None or ``(args, kwargs)``.
* ``register_forward_hook(hook)``: ``hook(module, args, output)`` after ``forward``; a value it
  returns replaces the output. With ``with_kwargs=True``: ``hook(module, args, kwargs, output)``.
* ``register_full_backward_pre_hook(hook)``: ``hook(module, grad_output)`` when the gradients
  with respect to the module's outputs are known; a tuple it returns replaces them.
* ``register_full_backward_hook(hook)``: ``hook(module, grad_input, grad_output)`` when the
  gradients with respect to the module's positional Tensor inputs are computed; a tuple it
  returns replaces ``grad_input``. ``grad_input`` and ``grad_output`` are tuples with one entry
  per positional argument (per output): a Tensor, or None for what is not a Tensor or does
  not require grad. When no input requires grad, the hook is called as soon as
  ``grad_output`` is known, with ``grad_input`` all None.

Each registration returns a :class:`~chainrule.engine.autograd.hooks.RemovableHandle`;
``prepend=True`` puts the hook before those already registered. Hooks run in registration
order, in the order of PyTorch's ``Module._call_impl``: forward pre-hooks, forward (on the
inputs as the backward hooks see them), forward hooks, then the outputs are passed on.

How the backward hooks see gradients (as PyTorch's ``BackwardHook``): the module's inputs
that require grad are passed through an identity node (:class:`HookGate`) before ``forward``,
and its outputs through another one after it. Reverse mode reaches the output node first:
its backward records ``grad_output`` (and runs the pre-hooks); then, once the gradient has
gone through the module, the input node's backward gets ``grad_input``, calls the hooks, and
passes on what they return. Several tensors are packed into one flat array for that node
(:class:`Unpack` takes each back out), so that one node sees all their gradients at once.
The nodes copy the tensors (a module with backward hooks holds its inputs and outputs twice),
so that they may still be modified in place, which PyTorch's views refuse.

A module with no hook pays (almost) nothing: while no module has hooks, ``Module.__call__``
tests one global count; otherwise it also tests the module's ``_module_hooks``, which is None
until a hook is registered and again once every hook of that module has been removed.
"""
from __future__ import annotations

import itertools
import weakref

from ..engine import backend
from ..engine.autograd import Function, grad_mode
from ..engine.autograd.hooks import RemovableHandle
from ..engine.ops import pad, reshape
from ..engine.tensor import Tensor, wrap

__all__ = ["ModuleHooks", "register_hook", "call_with_hooks", "BackwardHook", "HookGate", "Unpack", "KINDS"]

_ids = itertools.count()

#: The kinds of module hooks, as ``register_hook`` names them.
KINDS = ("forward_pre", "forward", "backward_pre", "backward")


class HookRegistry(dict):
    """The hooks of one kind on one module, in calling order (a dict subclass: weak-
    referenceable, and it tells its owner when a handle removes the last hook)."""

    def __init__(self, owner: ModuleHooks):
        super().__init__()
        self.owner = owner

    def pop(self, key, *default):
        value = super().pop(key, *default)
        self.owner.forget_if_empty()
        return value


class ModuleHooks:
    """The hooks registered on one module: a registry per kind (``KINDS``), the ids of the
    hooks registered ``with_kwargs``, and the module (weakly), which drops this object again
    when every hook has been removed."""

    def __init__(self, module, on_change):
        for kind in KINDS:
            setattr(self, kind, HookRegistry(self))
        self.with_kwargs: set = set()
        self.module = weakref.ref(module)
        self.on_change = on_change  # called with +1 when a module gets hooks, -1 when it loses them
        on_change(+1)
        # -1 again when the module is collected with hooks still on it (detached when they go first)
        self.collected = weakref.finalize(module, on_change, -1)

    def __deepcopy__(self, memo):
        """``copy.deepcopy(module)`` copies its hooks too (as PyTorch's): the same functions, in
        registries of the copy (the original's handles do not remove them)."""
        module = self.module()
        copied_module = memo.get(id(module)) if module is not None else None
        if copied_module is None:
            return None
        copied = ModuleHooks(copied_module, self.on_change)
        for kind in KINDS:
            dict.update(getattr(copied, kind), getattr(self, kind))
        copied.with_kwargs = set(self.with_kwargs)
        return copied

    def forget_if_empty(self) -> None:
        if any(getattr(self, kind) for kind in KINDS):
            return
        module = self.module()
        if module is not None and module.__dict__.get("_module_hooks") is self:
            del module.__dict__["_module_hooks"]  # back to the class's None: the fast __call__
            if self.collected.detach() is not None:
                self.on_change(-1)


def register_hook(module, kind: str, hook, prepend: bool = False, with_kwargs: bool = False,
                  on_change=None) -> RemovableHandle:
    """Add ``hook`` to ``module``'s hooks of ``kind`` (see the module docstring); ``on_change(±1)``
    is told when the module gets its first hook and when it loses its last one."""
    method = {"forward_pre": "register_forward_pre_hook", "forward": "register_forward_hook",
              "backward_pre": "register_full_backward_pre_hook", "backward": "register_full_backward_hook"}[kind]
    if not callable(hook):
        raise TypeError(f"{method}: expected a callable; got {type(hook).__name__}")
    for name, flag in (("prepend", prepend), ("with_kwargs", with_kwargs)):
        if not isinstance(flag, bool):
            raise TypeError(f"{method}: {name} must be True or False; got {flag!r}")
    hooks = module.__dict__.get("_module_hooks")
    if hooks is None:
        hooks = ModuleHooks(module, on_change or _ignore)
        object.__setattr__(module, "_module_hooks", hooks)
    registry = getattr(hooks, kind)
    key = next(_ids)
    if prepend:
        rest = dict(registry)
        dict.clear(registry)
        dict.update(registry, {key: hook, **rest})
    else:
        registry[key] = hook
    if with_kwargs:
        hooks.with_kwargs.add(key)
    return RemovableHandle(registry, key)


def _ignore(delta: int) -> None:
    """The default ``on_change``: nobody counts."""


# ---------------------------------------------------------------------- the call

def call_with_hooks(module, args: tuple, kwargs: dict):
    """``module(*args, **kwargs)`` with its hooks, in PyTorch's order (``Module._call_impl``)."""
    hooks = module._module_hooks
    backward_hooks, backward_pre_hooks = list(hooks.backward.values()), list(hooks.backward_pre.values())
    for key, hook in list(hooks.forward_pre.items()):
        if key in hooks.with_kwargs:
            result = hook(module, args, kwargs)
            if result is not None:
                if not (isinstance(result, tuple) and len(result) == 2):
                    raise RuntimeError(
                        f"forward pre-hook must return None or a tuple of (new_args, new_kwargs), but got {result}."
                    )
                args, kwargs = result
        else:
            result = hook(module, args)
            if result is not None:
                args = result if isinstance(result, tuple) else (result,)
    gate = None
    if backward_hooks or backward_pre_hooks:
        gate = BackwardHook(module, backward_hooks, backward_pre_hooks)
        args = gate.setup_input_hook(args)
    output = module.forward(*args, **kwargs)
    for key, hook in list(hooks.forward.items()):
        if key in hooks.with_kwargs:
            result = hook(module, args, kwargs, output)
        else:
            result = hook(module, args, output)
        if result is not None:
            output = result
    if gate is not None:
        output = gate.setup_output_hook(output)
    return output


# ---------------------------------------------------------------------- backward hooks

class BackwardHook:
    """One call's backward hooks: the identity nodes around the module's inputs and outputs,
    and what they call (PyTorch's ``torch.utils.hooks.BackwardHook``, on single-output nodes)."""

    def __init__(self, module, user_hooks: list, user_pre_hooks: list):
        self.module, self.user_hooks, self.user_pre_hooks = module, user_hooks, user_pre_hooks
        self.grad_outputs = None  # set by the output node's backward, used by the input node's
        self.n_inputs = self.n_outputs = -1
        self.input_positions = None  # positions of the Tensor arguments; None: none requires grad
        self.input_gated = self.output_gated = ()  # positions of the tensors passed through a node
        self.input_zeros = []  # (position, shape, dtype, namespace) of the Tensor arguments that need no gradient
        self.reached: set = set()  # packed outputs whose gradient arrived (the others' is None)

    def setup_input_hook(self, args: tuple) -> tuple:
        self.n_inputs = len(args)
        args, self.input_positions, self.input_gated = self._gate(args, "input")
        if self.input_positions is not None:
            self.input_zeros = [(i, args[i].shape, args[i].dtype, backend.namespace_of(args[i].data))
                                for i in self.input_positions if i not in self.input_gated]
        return args

    def setup_output_hook(self, output):
        single = not isinstance(output, tuple)
        outputs = (output,) if single else output
        self.n_outputs = len(outputs)
        outputs, _, self.output_gated = self._gate(outputs, "output")
        return outputs[0] if single else outputs

    def _gate(self, values: tuple, side: str):
        """``values`` with their Tensors that require grad passed through one identity node;
        the positions of all Tensors (None when none requires grad, or grad mode is off) and
        of those passed through."""
        positions = [i for i, value in enumerate(values) if isinstance(value, Tensor)]
        gated = [i for i in positions if values[i].requires_grad]
        if not gated or not grad_mode.enabled:
            return values, None, ()
        tensors = [values[i] for i in gated]
        if len(tensors) == 1:
            passed = [HookGate.apply(tensors[0], hook=self, side=side)]
        else:
            packed = PackGate.apply(*tensors, hook=self, side=side)
            passed, start = [], 0
            for index, t in enumerate(tensors):
                stop = start + t.numel()
                passed.append(Unpack.apply(packed, start=start, stop=stop, shape=tuple(t.shape), dtype=t.dtype,
                                           hook=self if side == "output" else None, index=index))
                start = stop
        values = list(values)
        for i, value in zip(gated, passed):
            values[i] = value
        return tuple(values), positions, tuple(gated)

    def gradients_arrived(self, side: str, grads: list) -> list:
        """What an identity node's backward passes on: ``grads`` (Tensors, one per tensor
        that went through it) after the hooks."""
        if side == "output":
            return self._output_grads(grads)
        if self.grad_outputs is None:  # the gradient reached the inputs without passing the outputs
            return grads
        grad_inputs = list(_pack_with_none(self.input_gated, grads, self.n_inputs))
        for position, shape, dtype, xp in self.input_zeros:  # as PyTorch: zeros for a Tensor needing none
            grad_inputs[position] = wrap(xp.zeros(shape, dtype))
        grad_inputs = tuple(grad_inputs)
        for hook in self.user_hooks:
            result = hook(self.module, grad_inputs, self.grad_outputs)
            if result is None:
                continue
            if len(result) != len(grad_inputs):
                raise RuntimeError(
                    f"Backward hook returned an invalid number of grad_input, got {len(result)}, but "
                    f"expected {len(grad_inputs)}"
                )
            grad_inputs = tuple(result)
        self.grad_outputs = None
        return [grad_inputs[i] for i in self.input_gated]

    def _output_grads(self, grads: list) -> list:
        if len(grads) > 1:  # packed: an output whose gradient never arrived has None, as in PyTorch
            grads = [g if index in self.reached else None for index, g in enumerate(grads)]
            self.reached = set()
        self.grad_outputs = _pack_with_none(self.output_gated, grads, self.n_outputs)
        for hook in self.user_pre_hooks:
            result = hook(self.module, self.grad_outputs)
            if result is None:
                continue
            if len(result) != len(self.grad_outputs):
                raise RuntimeError(
                    f"Backward pre hook returned an invalid number of grad_output, got {len(result)}, but "
                    f"expected {len(self.grad_outputs)}"
                )
            self.grad_outputs = tuple(result)
        local = self.grad_outputs
        if self.input_positions is None:  # no input requires grad: the hooks run now
            grad_inputs = (None,) * self.n_inputs
            for hook in self.user_hooks:
                result = hook(self.module, grad_inputs, self.grad_outputs)
                if result is not None and not (isinstance(result, tuple) and all(r is None for r in result)):
                    raise RuntimeError(
                        "Backward hook for Modules where no input requires gradient should always return None "
                        "or None for all gradients."
                    )
            self.grad_outputs = None
        return [local[i] for i in self.output_gated]


def _pack_with_none(positions, values, size: int) -> tuple:
    result = [None] * size
    for position, value in zip(positions, values):
        result[position] = value
    return tuple(result)


# ---------------------------------------------------------------------- the identity nodes

class HookGate(Function):
    """y = x for one tensor: its backward hands the gradient to a :class:`BackwardHook`
    (which may replace it) and passes on what comes back. y is a copy, not a view, so that the
    module's inputs and outputs may still be modified in place (PyTorch refuses that)."""

    op = "backward_hook"
    saves_inputs = False

    def forward(self, a, hook, side):
        self.hook, self.side, self.shape = hook, side, a.shape
        return a.copy()

    def backward(self, grad):
        replaced = self.hook.gradients_arrived(self.side, [wrap(grad)])[0]
        return (_array(replaced, grad, self.shape, self.side),)

    def backward_graph(self, grad):
        return (_checked(self.hook.gradients_arrived(self.side, [grad])[0], self.shape, self.side),)


class PackGate(Function):
    """y = (vec(x_1); …; vec(x_k)) in the tensors' common dtype: one node that sees the
    gradients of all k tensors at once (:class:`Unpack` takes each tensor back out)."""

    op = "backward_hook"
    saves_inputs = False

    def forward(self, *arrays, hook, side):
        self.hook, self.side = hook, side
        self.shapes = [a.shape for a in arrays]
        self.dtypes = [a.dtype for a in arrays]
        xp = backend.namespace_of(arrays[0])
        dtype = xp.result_type(*arrays)
        return xp.concatenate([a.reshape(-1).astype(dtype, copy=False) for a in arrays])

    def _pieces(self, grad) -> list:
        pieces, start = [], 0
        for shape in self.shapes:
            stop = start + _size(shape)
            pieces.append(reshape(grad[start:stop], shape) if isinstance(grad, Tensor) else
                          grad[start:stop].reshape(shape))
            start = stop
        return pieces

    def backward(self, grad):
        pieces = [piece.astype(dtype, copy=False) for piece, dtype in zip(self._pieces(grad), self.dtypes)]
        replaced = self.hook.gradients_arrived(self.side, [wrap(piece) for piece in pieces])
        return tuple(_array(g, piece, shape, self.side) for g, piece, shape in zip(replaced, pieces, self.shapes))

    def backward_graph(self, grad):
        pieces = [piece if piece.dtype == dtype else piece.to(dtype)
                  for piece, dtype in zip(self._pieces(grad), self.dtypes)]
        replaced = self.hook.gradients_arrived(self.side, pieces)
        return tuple(_checked(g, shape, self.side) for g, shape in zip(replaced, self.shapes))


class Unpack(Function):
    """y = x[start:stop] reshaped to ``shape`` and cast to ``dtype``: one tensor out of a
    :class:`PackGate`'s output. Its gradient is the packed vector with ``grad`` in that slice
    and zeros elsewhere; on the output side it also tells the hook that it arrived. A copy,
    as :class:`HookGate`'s output."""

    op = "backward_hook_unpack"
    saves_inputs = False

    def forward(self, packed, start, stop, shape, dtype, hook, index):
        self.start, self.stop, self.size, self.packed_dtype = start, stop, packed.shape[0], packed.dtype
        self.hook, self.index = hook, index
        return packed[start:stop].reshape(shape).astype(dtype, copy=True)

    def backward(self, grad):
        if self.hook is not None:
            self.hook.reached.add(self.index)
        full = backend.namespace_of(grad).zeros(self.size, self.packed_dtype)
        full[self.start:self.stop] = grad.reshape(-1)
        return (full,)

    def backward_graph(self, grad):
        if self.hook is not None:
            self.hook.reached.add(self.index)
        flat = reshape(grad if grad.dtype == self.packed_dtype else grad.to(self.packed_dtype), -1)
        return (pad(flat, (self.start, self.size - self.stop)),)


def _size(shape) -> int:
    size = 1
    for n in shape:
        size *= n
    return size


def _checked(grad, shape, side: str):
    """A gradient a hook returned: None or a Tensor of the tensor's shape."""
    if grad is None:
        return None
    what = "grad_input" if side == "input" else "grad_output"
    if not isinstance(grad, Tensor):
        raise TypeError(f"a module backward hook must return Tensors or None in {what}; got {type(grad).__name__}")
    if tuple(grad.shape) != tuple(shape):
        raise RuntimeError(
            f"a module backward hook returned a gradient of shape {tuple(grad.shape)} in {what} "
            f"for a tensor of shape {tuple(shape)}"
        )
    return grad


def _array(grad, original, shape, side: str):
    """The array behind a hook's gradient: ``original`` when the hook passed it on, a copy of a
    replacement (the engine may adopt a fresh array as a leaf's ``.grad``)."""
    grad = _checked(grad, shape, side)
    if grad is None:
        return None
    return original if grad.data is original else grad.data.copy()
