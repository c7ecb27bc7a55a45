"""The tracer: run a step once, eagerly, and record what it did.

Inside :class:`Recorder` (a context manager) a handful of entry points are swapped for
recording twins, and put back on exit, so that the engine's hot path costs nothing when no
trace runs (no flag is tested in :meth:`Function.apply` itself):

* ``Function.apply`` records every op run at the top level (not the ops an op runs inside
  itself): its class, its input Tensors, its keyword parameters and its output Tensor;
* ``Tensor.backward`` records a backward pass and which recorded nodes it reaches;
* ``Optimizer.zero_grad`` and ``Optimizer.step`` (and any subclass's own) record the call;
* ``Module.__call__`` records which modules ran (their train/eval flags and parameters are
  the guards of the plan) and which module an op ran inside (batch normalization needs its
  module's running statistics and counter);
* ``nn.functional.dropout`` marks the random draw its mask needs, so that a replay draws a
  fresh mask from chainrule's generator in the same order as eager execution.

Refused with :class:`CompileError`, because a replay could not reproduce them: reading a
tensor's value into Python (``item``, ``bool``, ``float``, ``int``, ``numpy``, ``tolist``,
``__array__``) — control flow may depend on it; random numbers drawn anywhere but in a
dropout mask; in-place operations on tensors; ``backward(create_graph=True)`` or
``inputs=``; an optimizer ``step`` with a closure; ops run by hooks during backward.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from ...engine import autograd as engine_autograd
from ...engine import inplace
from ...engine import random as engine_random
from ...engine.autograd import Function
from ...engine.autograd.function import producers_of
from ...engine.tensor import Tensor
from ...nn import attention as nn_attention
from ...nn import functional as nn_functional
from ...nn import fused
from ...nn.layers import BatchNorm1d, BatchNorm2d
from ...nn.module import Module
from ...optim.optimizer import Optimizer

__all__ = ["ACTIVE", "CompileError", "NodeRecord", "Recorder", "Trace", "VALUE_READS"]

#: The Tensor methods that hand a value to Python: refused while tracing.
VALUE_READS = ("item", "numpy", "tolist", "__array__", "__bool__", "__float__", "__int__", "__index__")


_READS = (
    "the step reads a tensor's value into Python, so control flow may depend on it and a replay of "
    "the recorded ops would not repeat it. Return the tensor and read it after the call, or run the step eagerly"
)
_WRITES = "in-place operations on tensors are not replayed; use the out-of-place op, or run the step eagerly"
_GRAD = "autograd.grad is not replayed; use loss.backward() inside the step, or run it eagerly"
#: How many traces are running (at most one: the entry points are swapped process-wide).
ACTIVE = [0]
_INHERITED = object()  # what _swap saves for a name the class inherits


class CompileError(RuntimeError):
    """The step cannot be compiled: it does something a replay of its ops would not repeat."""


@dataclass
class NodeRecord:
    """One op as it ran: ``cls.forward(*[t.data for t in inputs], **params)`` gave ``output``."""

    cls: type
    inputs: tuple
    params: dict
    output: Tensor
    needs: tuple
    grad_fn: object  # the engine's node (None when nothing was recorded)
    module: object = None  # the batch-norm module it ran in, for BatchNorm in training
    dropout_p: float | None = None  # for a Dropout node: the probability F.dropout drew with
    masks: dict = field(default_factory=dict)  # parameter name -> (shape, p) of a dropout_keep draw


@dataclass
class Trace:
    """Everything one eager run did, in order: ``events`` holds ("node", i), ("backward",
    root, gradient, reached) and ("zero_grad" | "step", optimizer, argument)."""

    nodes: list = field(default_factory=list)
    events: list = field(default_factory=list)
    modules: list = field(default_factory=list)  # modules called at the top level, in order


class Recorder:
    """The context manager that swaps in the recording entry points (see the module docstring)."""

    def __init__(self):
        self.trace = Trace()
        self.depth = 0  # > 0 inside an op, a backward pass or an optimizer call: nothing is recorded
        self.module_stack = []
        self.dropout_p = None  # set while nn.functional.dropout (or attention's dropout_keep) runs
        self.masks = {}  # id(array) -> (array, shape, p): attention's dropout factors drawn so far
        self.saved = []

    # ------------------------------------------------------------------ swapping
    def __enter__(self):
        if ACTIVE[0]:
            raise CompileError("compile: a compiled function called while another one is being traced; "
                               "compile the outer function only")
        ACTIVE[0] += 1
        try:
            self._swap_all()
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def _swap_all(self) -> None:
        self._swap(Function, "apply", classmethod(self._make_apply(Function.__dict__["apply"].__func__)))
        self._swap(Tensor, "backward", self._make_backward(Tensor.backward))
        self._swap(Module, "__call__", self._make_call(Module.__call__))
        self._swap(nn_functional, "dropout", self._make_dropout(nn_functional.dropout))
        self._swap(nn_attention, "dropout_keep", self._make_dropout_keep(nn_attention.dropout_keep))
        self._swap(engine_random, "generator", self._make_generator(engine_random.generator))
        self._swap(inplace, "modify", self._make_refusal("an in-place operation", _WRITES, inplace.modify))
        self._swap(engine_autograd, "grad", self._make_refusal("autograd.grad()", _GRAD, engine_autograd.grad))
        for name in VALUE_READS:
            self._swap(Tensor, name, self._make_refusal(f"Tensor.{name}()", _READS, getattr(Tensor, name)))
        for cls in _optimizer_classes():
            for name in ("zero_grad", "step"):
                if name in cls.__dict__:
                    self._swap(cls, name, self._make_optimizer_call(name, cls.__dict__[name]))

    def __exit__(self, *exc_info):
        ACTIVE[0] -= 1
        while self.saved:
            owner, name, original = self.saved.pop()
            if original is _INHERITED:
                delattr(owner, name)
            else:
                setattr(owner, name, original)
        return False

    def _swap(self, owner, name, replacement) -> None:
        self.saved.append((owner, name, owner.__dict__.get(name, _INHERITED)))
        setattr(owner, name, replacement)

    # ------------------------------------------------------------------ the recording twins
    def _make_apply(self, original):
        recorder = self

        def apply(cls, *inputs, **params):
            if recorder.depth:
                return original(cls, *inputs, **params)
            recorder.depth += 1
            try:
                out = original(cls, *inputs, **params)
            finally:
                recorder.depth -= 1
            recorder.record_node(cls, inputs, params, out)
            return out

        return apply

    def record_node(self, cls, inputs, params, out) -> None:
        if not isinstance(out, Tensor):
            raise CompileError(f"compile: the op {cls.op!r} returned {type(out).__name__}, not a Tensor")
        record = NodeRecord(cls, inputs, params, out, tuple(t.requires_grad for t in inputs), out.grad_fn)
        if cls is fused.Dropout:
            if self.dropout_p is None:
                raise CompileError(
                    "compile: a dropout node whose mask was not drawn by chainrule.nn.functional.dropout; "
                    "its mask would be frozen. Call F.dropout (or nn.Dropout)"
                )
            record.dropout_p = self.dropout_p
        elif cls is fused.BatchNorm and params.get("training"):
            record.module = self._batch_norm_module()
        for key, value in params.items():
            drawn = self.masks.get(id(value))
            if drawn is not None and drawn[0] is value:
                if len(drawn) > 3:
                    raise CompileError("compile: one dropout draw feeds two ops; a replay would draw it twice")
                record.masks[key] = drawn[1:]
                self.masks[id(value)] = (*drawn, "used")
        self.trace.events.append(("node", len(self.trace.nodes)))
        self.trace.nodes.append(record)

    def _batch_norm_module(self):
        module = self.module_stack[-1] if self.module_stack else None
        if not isinstance(module, (BatchNorm1d, BatchNorm2d)):
            raise CompileError(
                "compile: batch_norm in training mode outside a BatchNorm1d/BatchNorm2d module: "
                "its running statistics are updated outside the graph and cannot be replayed; use the module"
            )
        return module

    def _make_backward(self, original):
        recorder = self

        def backward(tensor, gradient=None, retain_graph=None, create_graph=False, inputs=None):
            if recorder.depth:
                return original(tensor, gradient, retain_graph, create_graph, inputs)
            if create_graph or inputs is not None:
                raise CompileError("compile: backward(create_graph=True) and backward(inputs=...) are not supported")
            if tensor.grad_fn is None:
                raise CompileError("compile: backward() of a tensor that no op of the step computed")
            recorder.trace.events.append(("backward", tensor, gradient, reached_nodes(tensor.grad_fn)))
            recorder.depth += 1
            try:
                return original(tensor, gradient, retain_graph, create_graph, inputs)
            finally:
                recorder.depth -= 1

        return backward

    def _make_call(self, original):
        recorder = self

        def call(module, *args, **kwargs):
            if recorder.depth:
                return original(module, *args, **kwargs)
            if not recorder.module_stack:
                recorder.trace.modules.append(module)
            recorder.module_stack.append(module)
            try:
                return original(module, *args, **kwargs)
            finally:
                recorder.module_stack.pop()

        return call

    def _make_dropout(self, original):
        recorder = self

        def dropout(x, p=0.5, training=True):
            previous, recorder.dropout_p = recorder.dropout_p, p
            try:
                return original(x, p, training)
            finally:
                recorder.dropout_p = previous

        return dropout

    def _make_dropout_keep(self, original):
        recorder = self

        def dropout_keep(like, shape, p):
            previous, recorder.dropout_p = recorder.dropout_p, p
            try:
                factors = original(like, shape, p)
            finally:
                recorder.dropout_p = previous
            recorder.masks[id(factors)] = (factors, tuple(shape), p)
            return factors

        return dropout_keep

    def _make_generator(self, original):
        recorder = self

        def generator():
            if recorder.depth == 0 and recorder.dropout_p is None:
                raise CompileError(
                    "compile: random numbers drawn inside the step outside a dropout mask (rand, randn, "
                    "randperm …) would be frozen into the plan; draw them outside and pass them in"
                )
            return original()

        return generator

    def _make_refusal(self, what: str, why: str, original):
        recorder = self

        def refused(*args, **kwargs):
            if recorder.depth == 0:
                raise CompileError(f"compile: {what} while tracing: {why}")
            return original(*args, **kwargs)

        return refused

    def _make_optimizer_call(self, name: str, original):
        recorder = self

        def call(optimizer, *args, **kwargs):
            if recorder.depth:
                return original(optimizer, *args, **kwargs)
            if name == "step" and (args or kwargs):
                raise CompileError("compile: optimizer.step(closure) is not supported; call step() without a closure")
            argument = kwargs.get("set_to_none", args[0] if args else True) if name == "zero_grad" else None
            recorder.trace.events.append((name, optimizer, argument))
            recorder.depth += 1
            try:
                return original(optimizer, *args, **kwargs)
            finally:
                recorder.depth -= 1

        return call


def reached_nodes(root) -> set:
    """The engine nodes a backward pass from ``root`` visits (every producer, transitively)."""
    seen, stack = {root}, [root]
    while stack:
        for producer in producers_of(stack.pop()):
            if producer is not None and producer not in seen:
                seen.add(producer)
                stack.append(producer)
    return seen


def _optimizer_classes() -> list:
    classes, stack = [], [Optimizer]
    while stack:
        cls = stack.pop()
        classes.append(cls)
        stack.extend(cls.__subclasses__())
    return classes

