"""The plan: a recorded step turned into straight-line Python over raw arrays.

:func:`build_plan` reads a :class:`~.tracer.Trace` and writes the source of one function,
``run(T, C)`` (T: this call's input Tensors, C: the captured tensors: parameters, buffers and
constants), and compiles it once. Every array gets a local variable: ``a<k>`` an input's data,
``c<k>`` a captured tensor's data (read at the start of every replay, so parameters replaced
or re-adopted by an optimizer's flat buffers are followed), ``v<i>`` the output of node i.

* Forward: one line per op, ``v<i> = F<i>(args, dynamic keyword arrays)``, where ``F<i>`` is
  the node's own ``forward`` with its recorded parameters bound (or a replay rule,
  :mod:`.rules`). One instance per node is made when the plan is built and reused by every
  replay: its ``forward`` saves what its ``backward`` reads, as in eager execution.
* Backward: the nodes the eager backward pass reached, newest first, which is the order of
  the engine's walk (:mod:`chainrule.engine.autograd.backward`): each ``B<i>(g<i>)`` gives
  the input gradients, summed back to the input's shape and dtype where they differ and
  added to what arrived before in the same order as the engine adds them, so the sums are
  the same to the bit. Leaves' gradients go to
  :func:`~chainrule.engine.autograd.grad_slots.store_leaf_grads` (the optimizers' flat
  gradient slots), and fused nodes write theirs into those slots directly, as in eager mode.
* Optimizers: ``zero_grad`` and ``step`` are called as recorded; a step is the optimizer's
  update over its flat buffers (one array-level pass), with its current learning rate.

No graph is recorded and no Tensor is made, except the gradient Tensors that wrap the
optimizer's slots (as eager backward makes them) and the returned ones.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from ...engine import backend
from ...engine.autograd import grad_slots, unbroadcast
from ...engine.autograd.gradients import seed_gradient
from .kernels import replay_node, replayed_update
from .rules import forward_rule
from .tracer import CompileError

__all__ = ["Plan", "build_plan"]

_ARRAY = backend.host.ndarray
_CODE: dict = {}  # generated source -> its compiled code object


@dataclass
class Plan:
    """A compiled step: ``run(T, C)`` returns the arrays of ``outputs``."""

    source: str
    run: object
    captured: list  # the captured Tensors, C
    node_count: int
    events: list = field(default_factory=list)
    outputs: list = field(default_factory=list)  # how each returned Tensor is given back (see replay)


class _Names:
    """Which variable holds each Tensor and array of the trace."""

    def __init__(self, inputs: list):
        self.tensors, self.arrays, self.captured = {}, {}, []
        for k, t in enumerate(inputs):
            self.tensors[id(t)] = f"a{k}"
            self.arrays.setdefault(id(t.data), f"a{k}")
        self.inputs = {id(t): k for k, t in enumerate(inputs)}
        self.keep = list(inputs)  # holds every named object so ids stay unique

    def of(self, t) -> str:
        name = self.tensors.get(id(t))
        if name is None:
            name = self.arrays.get(id(t.data))  # a detached alias of a known array
            if name is None:
                if t.grad_fn is not None:
                    raise CompileError(
                        "compile: the step uses a tensor computed before it that is part of a graph; "
                        "detach it or compute it inside the step"
                    )
                name = f"c{len(self.captured)}"
                self.captured.append(t)
                self.arrays[id(t.data)] = name
            self.tensors[id(t)] = name
            self.keep.append(t)
        return name

    def output(self, i: int, t) -> str:
        name = self.tensors[id(t)] = f"v{i}"
        self.arrays[id(t.data)] = name
        self.keep.append(t)
        return name


def build_plan(trace, inputs: list, outputs: list) -> Plan:
    """The plan of ``trace`` for input Tensors ``inputs``, returning the arrays of the Tensors
    ``outputs`` (each an op's output, an input or a captured tensor)."""
    names = _Names(inputs)
    scope = {"unbroadcast": unbroadcast, "store_leaf_grads": grad_slots.store_leaf_grads,
             "depth": grad_slots.depth}
    body, nodes = [], []
    for event in trace.events:
        if event[0] == "node":
            body.extend(_forward_lines(trace.nodes[event[1]], event[1], names, scope, nodes))
        elif event[0] == "backward":
            body.extend(_backward_lines(event, trace.nodes, names, scope, nodes))
        else:
            kind, optimizer, argument = event
            scope[f"O{id(optimizer)}"] = optimizer
            if kind == "zero_grad":
                body.append(f"O{id(optimizer)}.zero_grad({argument!r})")
            else:
                scope[f"U{id(optimizer)}"] = replayed_update(optimizer)
                body.append(f"U{id(optimizer)}()")
    returned = [names.of(t) for t in outputs]
    head = [f"a{k} = T[{k}].data" for k in range(len(inputs))]
    head += [f"c{k} = C[{k}].data" for k in range(len(names.captured))]
    tail = [f"return ({''.join(name + ', ' for name in returned)})"]
    source = "def run(T, C):\n" + "".join(f"    {line}\n" for line in head + body + tail)
    code = _CODE.get(source)
    if code is None:  # a plan traced again for new shapes has the same source: compile it once
        code = _CODE[source] = compile(source, "<chainrule.compile plan>", "exec")
    exec(code, scope)  # noqa: S102 - our own generated code
    return Plan(source, scope["run"], list(names.captured), len(trace.nodes), [e[0] for e in trace.events])


def _forward_lines(record, i: int, names: _Names, scope: dict, nodes: list) -> list:
    node = replay_node(record.cls)
    node.parents, node.needs_input_grad = record.inputs, record.needs
    nodes.append(node)
    args = [names.of(t) for t in record.inputs]
    static, dynamic = {}, []
    for key, value in record.params.items():
        name = names.arrays.get(id(value)) if isinstance(value, _ARRAY) else None
        if name is None:
            _check_static(record, key, value, names)
            static[key] = value
        else:
            dynamic.append(f"{key}={name}")
    scope[f"F{i}"] = forward_rule(record, node, static)
    scope[f"N{i}"] = node
    out = names.output(i, record.output)
    return [f"{out} = F{i}({', '.join(args + dynamic)})"]


def _check_static(record, key, value, names: _Names) -> None:
    """A parameter kept as recorded must not be (or hold) an array the step computes."""
    if isinstance(value, (tuple, list)):
        for item in value:
            if isinstance(item, _ARRAY) and id(item) in names.arrays:
                raise CompileError(
                    f"compile: the op {record.cls.op!r} takes an array of the step inside its parameter "
                    f"{key!r}; index with a tensor directly, or run the step eagerly"
                )


def _backward_lines(event, records: list, names: _Names, scope: dict, nodes: list) -> list:
    """The lines of one backward pass (see the module docstring)."""
    _, root, gradient, reached = event
    by_node = {id(r.grad_fn): i for i, r in enumerate(records) if r.grad_fn is not None}
    order = sorted((by_node[id(n)] for n in reached if id(n) in by_node), reverse=True)
    if len(order) != len(reached):
        raise CompileError("compile: backward reaches ops that ran before the step; compute them inside it")
    root_index = by_node[id(root.grad_fn)]
    if gradient is None:
        scope[f"S{root_index}"] = seed_gradient(root, None)
        seed = f"S{root_index}"
    else:
        seed = names.of(gradient)
    lines = ["depth[0] += 1", "try:"]
    inner = [f"g{i} = None" for i in order[1:]] + [f"g{root_index} = {seed}"]
    leaves: dict = {}
    for i in order:
        inner.extend(_node_backward_lines(records[i], i, names, scope, leaves))
    lines += [f"    {line}" for line in inner]
    lines.append("    grads = {}")
    lines += [f"    if l{k} is not None: grads[{tensor}] = [l{k}, False]" for k, tensor in enumerate(leaves.values())]
    lines += ["    if grads: store_leaf_grads(grads)", "finally:", "    depth[0] -= 1"]
    return [f"l{k} = None" for k in range(len(leaves))] + lines


def _node_backward_lines(record, i: int, names: _Names, scope: dict, leaves: dict) -> list:
    scope[f"B{i}"] = scope[f"N{i}"].backward
    lines = [f"if g{i} is not None:", f"    r = B{i}(g{i})"]
    for position, (parent, needed) in enumerate(zip(record.inputs, record.needs)):
        if not needed:
            continue
        shape, dtype = f"PS{i}_{position}", f"PD{i}_{position}"
        scope[shape], scope[dtype] = parent.data.shape, parent.data.dtype
        lines += [f"    t = r[{position}]", "    if t is not None:",
                  f"        if t.shape != {shape}: t = unbroadcast(t, {shape})",
                  f"        if t.dtype is not {dtype} and t.dtype != {dtype}: t = t.astype({dtype})"]
        target = _gradient_target(parent, names, leaves)
        lines.append(f"        {target} = t if {target} is None else {target} + t")
    return lines


def _gradient_target(parent, names: _Names, leaves: dict) -> str:
    """The variable that collects the gradient flowing into ``parent``: its producer's
    ``g<j>``, or a leaf's ``l<k>`` (the leaf Tensor itself is ``T[k]`` or ``C[k]``)."""
    name = names.of(parent)
    if name.startswith("v"):
        return "g" + name[1:]
    if name.startswith("a"):
        tensor = f"T[{name[1:]}]"
    else:
        tensor = f"C[{name[1:]}]"
    if tensor not in leaves:
        leaves[tensor] = tensor
    return f"l{list(leaves).index(tensor)}"

