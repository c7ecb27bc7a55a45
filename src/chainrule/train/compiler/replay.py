"""Replay: what ``chainrule.compile(fn)`` returns, and how a call picks or makes a plan.

The first call with a new key (:func:`~.guards.call_key`) runs ``fn`` eagerly inside a
:class:`~.tracer.Recorder`, which gives the eager result and the trace; :func:`~.plan.build_plan`
turns the trace into a plan. Later calls whose key and :class:`~.guards.StateGuard` match run
the plan on the new arrays and rebuild ``fn``'s return value from the plan's output arrays
(as Tensors without a graph: a replayed step has already run its backward pass).
"""
from __future__ import annotations

import functools

from ...engine.tensor import wrap
from .guards import StateGuard, call_key, check_outputs, flatten_arguments
from .plan import build_plan
from .tracer import ACTIVE, CompileError, Recorder

__all__ = ["CompiledStep", "compile_step", "forward_backward_step"]

#: Plans kept per key at most (each a different state of the modules: train/eval, parameters).
MAX_PLANS_PER_KEY = 8


class CompiledStep:
    """``fn`` traced once per key and replayed on later calls (see :func:`compile_step`).

    Attributes: ``traces`` (how many times ``fn`` was traced), ``replays`` (how many calls
    ran a plan), ``plans`` (key -> list of (guard, plan, template)).
    """

    def __init__(self, fn):
        if not callable(fn):
            raise TypeError(f"compile: expected a callable; got {type(fn).__name__}")
        self.fn = fn
        self.plans: dict = {}
        self.traces = 0
        self.replays = 0
        functools.update_wrapper(self, fn)

    def __call__(self, *args, **kwargs):
        if ACTIVE[0]:  # a replay would run no op the outer trace could record
            raise CompileError("compile: a compiled function called while another one is being traced; "
                               "compile the outer function only")
        args, kwargs, tensors = flatten_arguments(args, kwargs)
        key = call_key(args, kwargs, tensors)
        for guard, plan, template in self.plans.get(key, ()):
            if guard.holds():
                self.replays += 1
                arrays = plan.run(tensors, plan.captured)
                return _rebuild(template, arrays, plan.outputs, tensors)
        return self._trace(key, args, kwargs, tensors)

    def _trace(self, key, args, kwargs, tensors):
        with Recorder() as recorder:
            result = self.fn(*args, **kwargs)
        template, outputs = check_outputs(result)
        plan = build_plan(recorder.trace, tensors, outputs)
        plan.outputs = [_output_kind(t, tensors, plan.captured) for t in outputs]
        plans = self.plans.setdefault(key, [])
        if len(plans) >= MAX_PLANS_PER_KEY:
            plans.pop(0)
        plans.append((StateGuard(recorder.trace.modules, plan.captured, self.fn), plan, template))
        self.traces += 1
        return result

    def reset(self) -> None:
        """Forget every plan: the next call traces again."""
        self.plans.clear()

    @property
    def plan_source(self) -> list:
        """The generated source of every plan (for reading what a replay runs)."""
        return [plan.source for plans in self.plans.values() for _, plan, _ in plans]


def compile_step(fn) -> CompiledStep:
    """``fn`` (a whole training step, or a forward pass) compiled by tracing: see :mod:`chainrule.train.compiler`."""
    return CompiledStep(fn)


def forward_backward_step(trainer) -> CompiledStep:
    """What ``Trainer(compile=True)`` runs on each batch ``(*inputs, target)``: the model, the
    loss, ``zero_grad`` and backward, compiled; returns (outputs, loss)."""

    def forward_backward(*batch):
        outputs = trainer.model(*batch[:-1])
        loss = trainer.loss(outputs, batch[-1])
        trainer.optimizer.zero_grad()
        loss.backward()
        return outputs, loss

    return CompiledStep(forward_backward)


def _output_kind(t, tensors: list, captured: list):
    """How a returned Tensor is given back: a fresh wrap of its array, or the very Tensor
    (an argument or a captured tensor, e.g. a parameter)."""
    for k, candidate in enumerate(tensors):
        if candidate is t:
            return ("argument", k)
    for candidate in captured:
        if candidate is t:
            return ("captured", t)
    return ("array", None)


def _rebuild(template, arrays, kinds, tensors):
    kind = template[0]
    if kind == "tensor":
        position = template[1]
        how, which = kinds[position]
        if how == "argument":
            return tensors[which]
        if how == "captured":
            return which
        return wrap(arrays[position].copy())  # the plan may reuse its arrays at the next call
    if kind == "constant":
        return template[1]
    if kind is dict:
        return {key: _rebuild(item, arrays, kinds, tensors) for key, item in template[1]}
    return kind(_rebuild(item, arrays, kinds, tensors) for item in template[1])
