"""Guards: when a recorded plan still describes what the step would do.

A plan is looked up by a key computed on every call, :func:`call_key`: the shape and dtype of
every Tensor argument, the value of every other argument, and the grad mode. Among the plans
of that key, the first whose :class:`StateGuard` holds runs; when none does, the step is
traced again (and the new plan kept beside the others: a last, smaller batch and the full
ones each keep their own plan, so an epoch does not re-trace twice).

A :class:`StateGuard` checks what the key cannot see, in about a microsecond for an MLP:
the globals and closure variables the step function itself names are the same objects, every
module that ran (and their submodules) is in the same train/eval mode, holds the same
parameter and buffer Tensors under the same names, and every captured tensor (the
parameters, buffers and constants the plan reads) has the shape, dtype and ``requires_grad``
it had. Functions the step calls are not looked into: what they rebind is not seen.
"""
from __future__ import annotations

import dis

from ...engine import backend
from ...engine.autograd import grad_mode
from ...engine.tensor import Tensor, as_tensor
from .tracer import CompileError

__all__ = ["StateGuard", "call_key", "check_outputs", "flatten_arguments"]


def flatten_arguments(args: tuple, kwargs: dict) -> tuple:
    """(new args, new kwargs, the Tensors among them in order): arrays become Tensors that share
    their memory; tuples and lists are searched one level deep."""
    if not kwargs:
        for value in args:
            if value.__class__ is not Tensor:
                break
        else:  # the common case: positional Tensors only
            return args, kwargs, list(args)
    tensors = []

    def visit(value):
        if isinstance(value, backend.host.ndarray):
            value = as_tensor(value)
        if isinstance(value, Tensor):
            tensors.append(value)
            return value
        if isinstance(value, (tuple, list)) and any(isinstance(v, (Tensor, backend.host.ndarray)) for v in value):
            return type(value)(visit(v) for v in value)
        return value

    new_args = tuple(visit(a) for a in args)
    new_kwargs = {key: visit(value) for key, value in kwargs.items()}
    return new_args, new_kwargs, tensors


def call_key(args: tuple, kwargs: dict, tensors: list) -> tuple:
    """What must be equal for a plan to apply: shapes and dtypes of the Tensors, requires_grad
    of each, the other arguments' values, the grad mode."""
    key = [grad_mode.enabled]
    for t in tensors:
        data = t.data
        key.append((data.shape, data.dtype, t.requires_grad, data.__class__))
    if not kwargs and len(tensors) == len(args) and all(a is t for a, t in zip(args, tensors)):
        return tuple(key)  # positional Tensors only: nothing else to key on
    for value in list(args) + sorted(kwargs.items(), key=lambda item: item[0]):
        key.append(_value_key(value))
    return tuple(key)


def _value_key(value):
    if isinstance(value, Tensor):
        return Tensor
    if isinstance(value, (tuple, list)):
        return (type(value), tuple(_value_key(v) for v in value))
    try:
        hash(value)
    except TypeError:
        return ("id", id(value))
    return (type(value), value)


class StateGuard:
    """The modules' modes and parameters and the captured arrays' shapes at trace time."""

    def __init__(self, modules: list, captured: list, fn=None):
        self.names = _names_of(fn)
        self.modes, self.slots, seen = [], [], set()
        for root in modules:
            for module in root.modules():
                if id(module) in seen:
                    continue
                seen.add(id(module))
                self.modes.append((module, module.training))
                for registry in (module._parameters, module._buffers):
                    for name, t in registry.items():
                        self.slots.append((registry, name, t))
        self.arrays = [(t, t.data.shape, t.data.dtype, t.requires_grad) for t in captured]

    def holds(self) -> bool:
        for holder, name, value in self.names:
            if (holder.cell_contents if name is None else holder.get(name, _MISSING)) is not value:
                return False
        for module, training in self.modes:
            if module.training is not training:
                return False
        for registry, name, t in self.slots:
            if registry.get(name) is not t:
                return False
        for t, shape, dtype, requires_grad in self.arrays:
            data = t.data
            if data.shape != shape or data.dtype != dtype or t.requires_grad is not requires_grad:
                return False
        return True


_MISSING = object()


def _names_of(fn) -> list:
    """What ``fn``'s own code refers to by name: (cell, None, contents) for each closure
    variable and (globals, name, value) for each global it reads; a plan holds while every one
    is the same object (rebinding ``model = other_model`` traces again)."""
    fn = getattr(fn, "__func__", fn)
    code = getattr(fn, "__code__", None)
    if code is None:
        return []
    names = [(cell, None, cell.cell_contents) for cell in (fn.__closure__ or ()) if _filled(cell)]
    scope = fn.__globals__
    loaded = {op.argval for op in dis.get_instructions(code) if op.opname == "LOAD_GLOBAL"}
    names += [(scope, name, scope[name]) for name in sorted(loaded) if name in scope]
    return names


def _filled(cell) -> bool:
    try:
        cell.cell_contents  # noqa: B018 - an empty cell raises
    except ValueError:
        return False
    return True


def check_outputs(result) -> tuple:
    """(template, Tensors): the structure of what the step returned, with its Tensors taken
    out; a template is a Tensor's position, a tuple/list/dict of templates, or a constant."""
    tensors = []

    def take(value):
        if isinstance(value, Tensor):
            tensors.append(value)
            return ("tensor", len(tensors) - 1)
        if isinstance(value, (tuple, list)):
            return (type(value), tuple(take(v) for v in value))
        if isinstance(value, dict):
            return (dict, tuple((key, take(v)) for key, v in value.items()))
        if value is None or isinstance(value, (bool, int, float, str)):
            return ("constant", value)
        raise CompileError(f"compile: the step returned a {type(value).__name__}; return Tensors (or tuples, "
                           f"lists and dicts of them)")

    return take(result), tensors
