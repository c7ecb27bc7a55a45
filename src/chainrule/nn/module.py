"""Module: the base class every layer and model is built from (registration, parameters,
train/eval modes, state dicts).

A :class:`Module` is a function with state. Assigning a :class:`Parameter` or a
Module to an attribute registers it (``self.fc = Linear(3, 2)``), so a model can
list its parameters (``parameters()``, ``named_parameters()``), walk its
sub-modules (``children()``, ``modules()``), switch between training and
evaluation behaviour (``train()``, ``eval()``), and save and restore its values
(``state_dict()``, ``load_state_dict()``) without any bookkeeping by its author.
Hooks (``register_forward_pre_hook``, ``register_forward_hook``,
``register_full_backward_hook`` …, :mod:`chainrule.nn.module_hooks`) observe or change
what a module receives and returns, and its gradients; ``summary()`` prints a table of
the layers with their output shapes and parameter counts (:mod:`chainrule.nn.summary`).
Names follow PyTorch (torch.nn.Module), and so do the state-dict keys: the
attribute path joined by dots, e.g. ``"layers.0.weight"``.

Parameters may live as views into one flat buffer owned by an optimizer (which
replaces ``p.data`` by a view and gives ``p`` a ``grad_slot``). Everything here
therefore writes parameter values in place (``load_state_dict``, the
initializers) and never caches a parameter's array: layers read
``self.weight`` on every call.
"""
from __future__ import annotations

from collections import namedtuple

from ..engine import backend
from ..engine.tensor import Tensor, bump_version, wrap
from .module_hooks import call_with_hooks, register_hook
from .parameter import Parameter
from .summary import summarize

__all__ = ["Module", "IncompatibleKeys"]


#: How many modules have hooks now (:mod:`chainrule.nn.module_hooks`). While it is 0,
#: ``Module.__call__`` goes straight to ``forward`` after one test of this count.
hooked_modules = 0


def count_hooked_modules(delta: int) -> None:
    """Add ``delta`` to :data:`hooked_modules` (a module got its first hook: +1, or lost its last: -1)."""
    global hooked_modules
    hooked_modules += delta


IncompatibleKeys = namedtuple("IncompatibleKeys", ["missing_keys", "unexpected_keys"])
IncompatibleKeys.__doc__ = """What ``load_state_dict(strict=False)`` could not match:
keys the model has that the state dict lacks, and keys the state dict has that the model lacks."""


class Module:
    """Base class of every layer and model.

    Subclasses call ``super().__init__()`` first, assign their parameters and
    sub-modules as attributes, and define ``forward``; calling the module calls
    ``forward``::

        class TwoLayer(nn.Module):
            def __init__(self):
                super().__init__()
                self.hidden = nn.Linear(4, 8)
                self.out = nn.Linear(8, 1)

            def forward(self, x):
                return self.out(self.hidden(x).relu())

    Attributes:
        training: True in training mode (the default), False after ``eval()``.
            Dropout and BatchNorm behave differently in the two modes.
    """

    def __init__(self):
        object.__setattr__(self, "training", True)
        object.__setattr__(self, "_parameters", {})
        object.__setattr__(self, "_buffers", {})
        object.__setattr__(self, "_non_persistent", set())
        object.__setattr__(self, "_modules", {})

    def forward(self, *args, **kwargs):
        raise NotImplementedError(f"{type(self).__name__} must define forward()")  # abstract

    #: The module's hooks (:class:`~chainrule.nn.module_hooks.ModuleHooks`), set on the instance
    #: when one is registered and removed with the last one: None here means "no hook".
    _module_hooks = None

    def __call__(self, *args, **kwargs):
        # while no module has hooks, one test of a global count (measured: +5 ns a call)
        if hooked_modules == 0 or self._module_hooks is None:
            return self.forward(*args, **kwargs)
        return call_with_hooks(self, args, kwargs)

    # ------------------------------------------------------------------ hooks

    def register_forward_pre_hook(self, hook, *, prepend: bool = False, with_kwargs: bool = False):
        """Call ``hook(module, args)`` before each ``forward``; a value it returns replaces the
        positional arguments (a single value is wrapped as a 1-tuple). With ``with_kwargs``:
        ``hook(module, args, kwargs)`` returning None or ``(args, kwargs)``. ``prepend`` runs it
        before the hooks already registered. Returns a handle whose ``remove()`` takes it out."""
        return register_hook(self, "forward_pre", hook, prepend, with_kwargs, count_hooked_modules)

    def register_forward_hook(self, hook, *, prepend: bool = False, with_kwargs: bool = False):
        """Call ``hook(module, args, output)`` after each ``forward``; a value it returns replaces
        the output. With ``with_kwargs``: ``hook(module, args, kwargs, output)``. Returns a
        removable handle."""
        return register_hook(self, "forward", hook, prepend, with_kwargs, count_hooked_modules)

    def register_full_backward_pre_hook(self, hook, prepend: bool = False):
        """Call ``hook(module, grad_output)`` when the gradients with respect to the module's
        outputs are known (a tuple, None where an output is not a Tensor that requires grad);
        a tuple it returns replaces them. Returns a removable handle."""
        return register_hook(self, "backward_pre", hook, prepend, False, count_hooked_modules)

    def register_full_backward_hook(self, hook, prepend: bool = False):
        """Call ``hook(module, grad_input, grad_output)`` when the gradients with respect to
        the module's positional inputs have been computed (tuples with one entry per argument
        and per output, None where there is no Tensor gradient); a tuple it returns replaces
        ``grad_input``. Returns a removable handle. See :mod:`chainrule.nn.module_hooks`."""
        return register_hook(self, "backward", hook, prepend, False, count_hooked_modules)

    # ------------------------------------------------------------------ registration

    def __setattr__(self, name: str, value) -> None:
        registries = self.__dict__.get("_parameters")
        if registries is None and isinstance(value, (Parameter, Module)):
            raise AttributeError(
                f"{type(self).__name__}: cannot assign {type(value).__name__} {name!r} before "
                f"Module.__init__() is called; call super().__init__() first in __init__"
            )
        if isinstance(value, Parameter):
            self._forget(name, keep=self._parameters)
            self._parameters[name] = value
        elif isinstance(value, Module):
            self._forget(name, keep=self._modules)
            self._modules[name] = value
        elif registries is not None and name in self._parameters:
            if value is not None:
                raise TypeError(
                    f"{type(self).__name__}: cannot assign {type(value).__name__} to parameter "
                    f"{name!r}; expected a Parameter or None"
                )
            self._parameters[name] = None
        elif registries is not None and name in self._modules:
            if value is not None:
                raise TypeError(
                    f"{type(self).__name__}: cannot assign {type(value).__name__} to sub-module "
                    f"{name!r}; expected a Module or None"
                )
            self._modules[name] = None
        elif registries is not None and name in self._buffers:
            if value is not None and not isinstance(value, Tensor):
                raise TypeError(
                    f"{type(self).__name__}: cannot assign {type(value).__name__} to buffer "
                    f"{name!r}; expected a Tensor or None"
                )
            self._buffers[name] = value
        else:
            object.__setattr__(self, name, value)

    def __getattr__(self, name: str):
        # Only called when ordinary lookup fails: parameters, buffers and
        # sub-modules live in the registries, not in __dict__.
        state = self.__dict__
        for registry in ("_parameters", "_buffers", "_modules"):
            found = state.get(registry)
            if found is not None and name in found:
                return found[name]
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    def __delattr__(self, name: str) -> None:
        for registry in (self._parameters, self._buffers, self._modules):
            if name in registry:
                del registry[name]
                self._non_persistent.discard(name)
                return
        object.__delattr__(self, name)

    def _forget(self, name: str, keep=None) -> None:
        """Remove ``name`` from __dict__ and from every registry but ``keep`` (where a
        reassignment then keeps its place, so state-dict order does not change)."""
        self.__dict__.pop(name, None)
        for registry in (self._parameters, self._buffers, self._modules):
            if registry is not keep:
                registry.pop(name, None)
        self._non_persistent.discard(name)

    def register_parameter(self, name: str, param) -> None:
        """Register ``param`` (a Parameter, or None for an absent one) under ``name``."""
        _check_name(self, name, "register_parameter")
        if param is not None and not isinstance(param, Parameter):
            raise TypeError(
                f"register_parameter: expected a Parameter or None for {name!r}; got "
                f"{type(param).__name__} (wrap a tensor with nn.Parameter(tensor))"
            )
        self._forget(name, keep=self._parameters)
        self._parameters[name] = param

    def register_buffer(self, name: str, value, persistent: bool = True) -> None:
        """Register a tensor that is state but not a parameter (BatchNorm's running mean).

        Buffers are moved and cast by ``to()`` and, when ``persistent``, saved in
        ``state_dict()``; they receive no gradient and optimizers never see them.
        """
        _check_name(self, name, "register_buffer")
        if value is not None and not isinstance(value, Tensor):
            raise TypeError(f"register_buffer: expected a Tensor or None for {name!r}; got {type(value).__name__}")
        self._forget(name, keep=self._buffers)
        self._buffers[name] = value
        if not persistent:
            self._non_persistent.add(name)

    def add_module(self, name: str, module) -> None:
        """Register ``module`` (a Module, or None) under ``name``."""
        _check_name(self, name, "add_module")
        if module is not None and not isinstance(module, Module):
            raise TypeError(f"add_module: expected a Module or None for {name!r}; got {type(module).__name__}")
        self._forget(name, keep=self._modules)
        self._modules[name] = module

    # ------------------------------------------------------------------ traversal

    def named_modules(self, prefix: str = ""):
        """Yield ``(name, module)`` for this module and every sub-module, depth first,
        each module once (the root's name is ``prefix``, ``""`` by default)."""
        seen = set()
        stack = [(prefix, self)]
        while stack:
            name, module = stack.pop()
            if id(module) in seen:
                continue
            seen.add(id(module))
            yield name, module
            children = [
                (f"{name}.{child_name}" if name else child_name, child)
                for child_name, child in module._modules.items()
                if child is not None
            ]
            stack.extend(reversed(children))

    def modules(self):
        """Yield this module and every sub-module (each once), depth first."""
        for _, module in self.named_modules():
            yield module

    def named_children(self):
        """Yield ``(name, module)`` for the direct sub-modules."""
        seen = set()
        for name, module in self._modules.items():
            if module is not None and id(module) not in seen:
                seen.add(id(module))
                yield name, module

    def children(self):
        """Yield the direct sub-modules."""
        for _, module in self.named_children():
            yield module

    def named_parameters(self, prefix: str = "", recurse: bool = True):
        """Yield ``(name, parameter)`` pairs, e.g. ``("layers.0.weight", p)``.

        A parameter shared by several modules is yielded once, under its first name.
        """
        yield from self._named_members("_parameters", prefix, recurse)

    def parameters(self, recurse: bool = True):
        """Yield every parameter once (pass them to an optimizer)."""
        for _, param in self.named_parameters(recurse=recurse):
            yield param

    def named_buffers(self, prefix: str = "", recurse: bool = True):
        """Yield ``(name, buffer)`` pairs."""
        yield from self._named_members("_buffers", prefix, recurse)

    def buffers(self, recurse: bool = True):
        """Yield every buffer once."""
        for _, buffer in self.named_buffers(recurse=recurse):
            yield buffer

    def _named_members(self, registry: str, prefix: str, recurse: bool):
        seen = set()
        owners = self.named_modules(prefix) if recurse else [(prefix, self)]
        for owner_name, owner in owners:
            for name, member in getattr(owner, registry).items():
                if member is None or id(member) in seen:
                    continue
                seen.add(id(member))
                yield (f"{owner_name}.{name}" if owner_name else name), member

    def num_parameters(self, trainable_only: bool = False) -> int:
        """The number of scalar parameters (each shared parameter counted once);
        with ``trainable_only``, only those that require grad."""
        return sum(p.numel() for p in self.parameters() if p.requires_grad or not trainable_only)

    def apply(self, fn):
        """Call ``fn(module)`` on every sub-module (children first, in order) and then on
        this one, e.g. a custom initialization; returns self."""
        for module in self.children():
            module.apply(fn)
        fn(self)
        return self

    # ------------------------------------------------------------------ modes and gradients

    def train(self, mode: bool = True):
        """Set training mode (``mode=True``) or evaluation mode on this module and all
        sub-modules; returns self."""
        if not isinstance(mode, bool):
            raise TypeError(f"train: mode must be a bool; got {type(mode).__name__}")
        for module in self.modules():
            object.__setattr__(module, "training", mode)
        return self

    def eval(self):
        """Evaluation mode: ``train(False)``. Dropout becomes the identity and
        BatchNorm uses its running statistics. Returns self."""
        return self.train(False)

    def requires_grad_(self, requires_grad: bool = True):
        """Turn gradient tracking of every parameter on or off (freezing); returns self."""
        for param in self.parameters():
            param.requires_grad_(requires_grad)
        return self

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Clear the gradients of every parameter.

        ``set_to_none=True`` (the default, as in PyTorch) sets ``.grad = None``: the
        next backward stores a fresh gradient (or writes it into the parameter's
        ``grad_slot``). ``set_to_none=False`` fills the existing gradient with zeros.
        """
        for param in self.parameters():
            if param.grad is None:
                continue
            if set_to_none:
                param.grad = None
            else:
                param.grad.data[...] = 0

    # ------------------------------------------------------------------ state

    def state_dict(self, prefix: str = "", keep_vars: bool = False) -> dict:
        """All parameters and persistent buffers, by dotted name, in registration order
        (keys are prefixed by ``prefix``, e.g. "net.").

        Values are tensors that SHARE memory with the module (as in PyTorch): they
        change when training continues. Take a snapshot with
        ``{k: v.clone() for k, v in model.state_dict().items()}``.
        With ``keep_vars=True`` the Parameter objects themselves are returned.
        """
        state = {}
        self._collect_state(state, prefix, keep_vars)
        return state

    def _collect_state(self, state: dict, prefix: str, keep_vars: bool) -> None:
        # Unlike parameters(), no de-duplication: a module registered under two names
        # appears under both, as in PyTorch (so PyTorch state dicts load as they are).
        for name, param in self._parameters.items():
            if param is not None:
                state[prefix + name] = param if keep_vars else wrap(param.data)
        for name, buffer in self._buffers.items():
            if buffer is not None and name not in self._non_persistent:
                state[prefix + name] = buffer if keep_vars else wrap(buffer.data)
        for name, module in self._modules.items():
            if module is not None:
                module._collect_state(state, f"{prefix}{name}.", keep_vars)

    def load_state_dict(self, state_dict, strict: bool = True) -> IncompatibleKeys:
        """Copy values from ``state_dict`` into this module's parameters and buffers, in place.

        Values may be Tensors or arrays; they are cast to each target's dtype and
        moved to its device. Everything is checked before anything is written:
        a shape mismatch always raises (naming the key and both shapes); with
        ``strict=True`` (the default) keys missing from ``state_dict`` or not in the
        model raise too, listing them. Returns the missing and unexpected keys.
        """
        if not hasattr(state_dict, "items"):
            raise TypeError(f"load_state_dict: expected a dict of name -> tensor; got {type(state_dict).__name__}")
        targets = self.state_dict(keep_vars=True)
        missing = [key for key in targets if key not in state_dict]
        unexpected = [key for key in state_dict if key not in targets]
        problems = []
        if strict and (missing or unexpected):
            problems.append(_key_problem(type(self).__name__, missing, unexpected))
        values = {}
        for key, target in targets.items():
            if key not in state_dict:
                continue
            value = _as_array(state_dict[key], key)
            if tuple(value.shape) != tuple(target.shape):
                problems.append(
                    f"size mismatch for {key!r}: the state dict has shape {tuple(value.shape)}, "
                    f"the model has shape {tuple(target.shape)}"
                )
            else:
                values[key] = value
        if problems:
            raise RuntimeError(
                f"load_state_dict: could not load into {type(self).__name__}:\n  " + "\n  ".join(problems)
            )
        for key, value in values.items():
            target = targets[key]
            target.data[...] = backend.move(value, backend.device_of(target.data)).astype(target.dtype, copy=False)
            bump_version(target)
        return IncompatibleKeys(missing, unexpected)

    def to(self, target=None, dtype=None, device=None):
        """Move and/or cast every parameter and buffer in place: ``model.to("cuda")``,
        ``model.to(chainrule.float64)``; returns self.

        Parameters stay the same objects (their ``.data`` is replaced), so references
        held elsewhere see the change; only floating-point tensors change dtype.
        Call this before creating an optimizer: it replaces arrays an optimizer's
        flat buffer would hold views of.
        """
        if target is not None:
            if isinstance(target, str) and (target == "cpu" or target.startswith("cuda")):
                device = target
            else:
                dtype = target
        dtype = backend.canonical_dtype(dtype) if dtype is not None else None
        device = backend.canonical_device(device) if device is not None else None
        if dtype is not None and dtype.kind != "f":
            raise TypeError(f"to: modules can only be cast to floating-point dtypes; got {dtype}")
        for module in self.modules():
            for registry in (module._parameters, module._buffers):
                for item in registry.values():
                    if item is not None:
                        _convert(item, dtype, device)
        return self

    def float(self):
        """Cast floating-point parameters and buffers to float32; returns self."""
        return self.to(backend.float32)

    def double(self):
        """Cast floating-point parameters and buffers to float64; returns self."""
        return self.to(backend.float64)

    # ------------------------------------------------------------------ printing

    def summary(self, input_size=None, *, dtype=None, print_fn=print) -> str:
        """Print (with ``print_fn``) and return a table of this model's layers, as Keras's
        ``model.summary()``: each sub-module with its type, output shape and parameter count,
        then the total, trainable and non-trainable parameter counts.

        Output shapes need one forward pass: with ``input_size`` (the shape of one input,
        batch dimension included, e.g. ``(1, 784)``; a list of shapes for several inputs),
        the model runs once on zeros of that shape (the parameters' dtype unless ``dtype``),
        in evaluation mode and without a graph, and forward hooks record every layer's
        output. Without it the table has no output shapes. See :mod:`chainrule.nn.summary`.
        """
        return summarize(self, input_size, dtype=dtype, print_fn=print_fn)

    def extra_repr(self) -> str:
        """The configuration shown inside this module's parentheses in its repr."""
        return ""

    def __repr__(self) -> str:
        extra = self.extra_repr()
        children = [(name, module) for name, module in self._modules.items() if module is not None]
        if not children:
            return f"{type(self).__name__}({extra})"
        lines = [extra] if extra else []
        for name, module in children:
            lines.append(f"({name}): " + _indent(repr(module)))
        body = "\n  ".join(lines)
        return f"{type(self).__name__}(\n  {body}\n)"


# ---------------------------------------------------------------------- helpers


def _check_name(module: Module, name, method: str) -> None:
    if "_parameters" not in module.__dict__:
        raise AttributeError(f"{method}: call super().__init__() before registering {name!r}")
    if not isinstance(name, str) or not name or "." in name:
        raise KeyError(f"{method}: name must be a non-empty string without '.'; got {name!r}")
    if hasattr(type(module), name):
        raise KeyError(f"{method}: {name!r} is already an attribute of {type(module).__name__}")


def _key_problem(owner: str, missing: list, unexpected: list) -> str:
    parts = []
    if missing:
        parts.append(f"missing keys (in {owner}, not in the state dict): {missing}")
    if unexpected:
        parts.append(f"unexpected keys (in the state dict, not in {owner}): {unexpected}")
    return "; ".join(parts) + ". Pass strict=False to load only the keys that match"


def _as_array(value, key: str):
    if isinstance(value, Tensor):
        return value.data
    if backend.is_array(value):
        return value
    try:
        return backend.host.asarray(value)
    except (TypeError, ValueError) as err:
        raise TypeError(f"load_state_dict: value for {key!r} is not a tensor or array: {err}") from err


def _convert(item: Tensor, dtype, device) -> None:
    data = item.data
    if dtype is not None and data.dtype.kind == "f" and data.dtype != dtype:
        data = data.astype(dtype)
    if device is not None:
        data = backend.move(data, device)
    if data is item.data:
        return
    item.data = data
    grad = item.grad
    if grad is not None:
        grad.data = backend.move(grad.data.astype(data.dtype, copy=False), backend.device_of(data))
    if getattr(item, "grad_slot", None) is not None:
        item.grad_slot = None  # the old slot has the old dtype/device


def _indent(text: str) -> str:
    return text.replace("\n", "\n  ")
