"""How :func:`chainrule.compute.count_flops` watches one forward pass.

For the duration of the pass (and only then) two things are wrapped:

* every module's ``forward`` (an instance attribute, removed afterwards). A module whose type
  has a rule in :mod:`~chainrule.compute.layer_rules` or :mod:`~chainrule.compute.sequence_rules`
  is a *counted layer*: its call becomes one row, from its input and output shapes, and nothing
  it runs inside is looked at again (MultiheadAttention's ``out_proj`` is counted by the
  attention's rule, not as a Linear). Any other module (containers, blocks, custom layers) is
  transparent: its children are watched, and the ops its own code runs are counted;
* ``Function.apply``, the entry of every op: an op run outside a counted layer is counted by
  :mod:`~chainrule.compute.op_rules` (the residual ``x + f(x)``, ``F.relu`` in a transformer
  layer, ``F.scaled_dot_product_attention`` or ``F.linear`` in a custom block). Matrix products
  get a row of their own, named ``<module>:<op>``; the other ops of one module call are summed
  into one row, ``<module>`` of type ``<Type> (ops)``.

Which inputs need a gradient is followed exactly without recording a graph: the pass runs
under ``no_grad``, and every op or layer output that depends on a tensor requiring grad, or on
a layer with trainable parameters, is remembered (a weak reference) as needing one.

Shape-only counting (a model built under :func:`~chainrule.compute.meta_init`, or
``shape_only=True``): counted layers do not run; their rule's ``meta`` gives zero-stride outputs
of the right shapes. Ops outside layers with a shape rule (products, attention, elementwise ops,
sums) do not run either; the rest (reshapes, indexing, concatenation) run on the zero-stride
arrays, which costs little memory: the containers' own code still decides the structure.

While a count runs, ``Function.apply`` is wrapped for the whole process (outside a count it is
untouched: the engine's hot path pays nothing); do not train in another thread meanwhile.
"""
from __future__ import annotations

import weakref
from collections import Counter
from contextlib import contextmanager
from dataclasses import dataclass, field

from ..engine.autograd import Function
from ..engine.tensor import Tensor
from .layer_rules import BASIC_RULES, Call, numel, tensors_in
from .op_rules import FREE_OPS, OP_RULES
from .sequence_rules import SEQUENCE_RULES

__all__ = ["Recorder", "LAYER_RULES", "COUNT_KEYS"]

#: layer type name -> Rule: every layer with a FLOP rule.
LAYER_RULES = {**BASIC_RULES, **SEQUENCE_RULES}
COUNT_KEYS = ("forward_matmul", "forward_elementwise", "forward_reduction", "backward_matmul",
              "backward_elementwise", "backward_reduction", "forward_memory_bytes", "backward_memory_bytes")
_MISSING = object()


@dataclass
class _Frame:
    """One call of a transparent module: the ops its own code ran."""

    name: str
    kind: str
    input_shape: tuple
    counts: Counter = field(default_factory=Counter)
    ops: Counter = field(default_factory=Counter)
    uncounted: Counter = field(default_factory=Counter)
    op_rows: Counter = field(default_factory=Counter)
    activation_bytes: int = 0


class Recorder:
    """Watches one forward pass of ``model``; ``rows`` (dicts of LayerCount fields) in call order."""

    def __init__(self, model, shape_only: bool):
        self.model, self.shape_only = model, shape_only
        self.rows, self.frames, self.inside = [], [], 0
        self.flow, self.calls, self.called = {}, Counter(), set()

    # ------------------------------------------------------------------ gradient flow

    def needs(self, tensor) -> bool:
        """Whether a gradient flows into ``tensor`` in the backward pass."""
        if not isinstance(tensor, Tensor):
            return False
        if tensor.requires_grad:
            return True
        ref = self.flow.get(id(tensor))
        return ref is not None and ref() is tensor

    def mark(self, value) -> None:
        for t in tensors_in(value):
            self.flow[id(t)] = weakref.ref(t)

    # ------------------------------------------------------------------ installing the watch

    @contextmanager
    def watching(self):
        modules = list(self.model.named_modules())
        previous = [(module, module.__dict__.get("forward", _MISSING)) for _, module in modules]
        original_apply = Function.__dict__["apply"]
        try:
            for name, module in modules:
                object.__setattr__(module, "forward", self._wrap(name, module))
            Function.apply = classmethod(self._apply(original_apply.__func__))
            yield self
        finally:
            Function.apply = original_apply
            for module, original in previous:
                if original is _MISSING:
                    module.__dict__.pop("forward", None)
                else:
                    object.__setattr__(module, "forward", original)

    def _label(self, name: str, module) -> str:
        self.called.add(id(module))
        self.calls[id(module)] += 1
        label = name or type(module).__name__
        return label if self.calls[id(module)] == 1 else f"{label}#{self.calls[id(module)]}"

    def _wrap(self, name, module):
        rule = LAYER_RULES.get(type(module).__name__)
        original = module.forward
        if rule is not None:
            return self._layer(name, module, rule, original)

        def forward(*args, **kwargs):
            if self.inside:
                return original(*args, **kwargs)
            inputs = tensors_in(list(args) + list(kwargs.values()))
            frame = _Frame(self._label(name, module), type(module).__name__,
                           tuple(inputs[0].shape) if inputs else ())
            self.frames.append(frame)
            try:
                out = original(*args, **kwargs)
            finally:
                self.frames.pop()
            self._frame_row(frame, out)
            return out

        return forward

    def _layer(self, name, module, rule, original):
        kind = type(module).__name__
        trainable = any(p.requires_grad for p in module.parameters())
        params = sum(numel(p.shape) for p in module.parameters())

        def forward(*args, **kwargs):
            if self.inside:
                return original(*args, **kwargs)
            label = self._label(name, module)
            if self.shape_only:
                out = rule.meta(module, args, kwargs)
            else:
                self.inside += 1
                try:
                    out = original(*args, **kwargs)
                finally:
                    self.inside -= 1
            inputs = tensors_in(list(args) + list(kwargs.values()))
            counts = rule.count(module, Call(module, args, kwargs, out, self.needs))
            if trainable or any(self.needs(t) for t in inputs):
                self.mark(out)
            self.rows.append(_row(label, kind, inputs, out, params, counts))
            return out

        return forward

    def _apply(self, original):
        recorder = self

        def apply(cls, *inputs, **params):
            if recorder.inside or not recorder.frames:
                return original(cls, *inputs, **params)
            return recorder.op(cls, original, inputs, params)

        return apply

    # ------------------------------------------------------------------ ops outside layers

    def op(self, cls, original, inputs, params):
        """Run (or, shape-only, stand in for) one op outside the counted layers and count it."""
        label, rule = cls.op, OP_RULES.get(cls.op)
        if self.shape_only and rule is not None and rule.meta is not None:
            out = rule.meta(inputs, params)
        else:
            out = original(cls, *inputs, **params)
        needs = tuple(self.needs(t) for t in inputs)
        if any(needs):
            self.mark(out)
        frame = self.frames[-1]
        if rule is None:
            frame.uncounted[label] += 1
            return out
        counts = rule.count(inputs, params, out, needs)
        if rule.own_row:
            frame.op_rows[label] += 1
            suffix = "" if frame.op_rows[label] == 1 else f"#{frame.op_rows[label]}"
            self.rows.append(_row(f"{frame.name}:{label}{suffix}", label, list(inputs), out, 0, counts))
        elif label not in FREE_OPS:
            frame.counts += counts
            frame.ops[label] += 1
            frame.activation_bytes += out.data.nbytes if isinstance(out, Tensor) else 0
        return out

    def _frame_row(self, frame: _Frame, out) -> None:
        if not frame.ops and not frame.uncounted:
            return
        done = ", ".join(f"{op}×{n}" if n > 1 else op for op, n in frame.ops.items())
        missing = ", ".join(f"{op}×{n}" if n > 1 else op for op, n in frame.uncounted.items())
        note = f"ops: {done}" if done else ""
        if missing:
            note += ("; " if note else "") + f"not counted (no FLOP rule): {missing}"
        outputs = tensors_in(out)
        self.rows.append({
            "name": frame.name, "type": f"{frame.kind} (ops)", "input_shape": frame.input_shape,
            "output_shape": tuple(outputs[0].shape) if outputs else (), "params": 0,
            **{key: frame.counts.get(key, 0) for key in COUNT_KEYS}, "activation_bytes": frame.activation_bytes,
            "counted": not missing, "note": note,
        })

    # ------------------------------------------------------------------ after the pass

    def notes(self) -> tuple:
        """Counted layers the pass never called (those inside another counted layer aside)."""
        covered = set()
        for _, module in self.model.named_modules():
            if type(module).__name__ in LAYER_RULES:
                covered.update(id(m) for m in module.modules() if m is not module)
        return tuple(
            f"{name} ({type(module).__name__}) was not called during the forward pass: not counted"
            for name, module in self.model.named_modules()
            if type(module).__name__ in LAYER_RULES and id(module) not in self.called and id(module) not in covered
        )


def _row(name, kind, inputs, out, params, counts) -> dict:
    outputs = tensors_in(out)
    first = outputs[0] if outputs else None
    return {
        "name": name, "type": kind, "input_shape": tuple(inputs[0].shape) if inputs else (),
        "output_shape": tuple(first.shape) if first is not None else (), "params": params,
        **{key: int(counts.get(key, 0)) for key in COUNT_KEYS},
        "activation_bytes": first.data.nbytes if first is not None else 0, "counted": True, "note": "",
    }
