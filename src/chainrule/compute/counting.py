"""Counting the arithmetic of one forward and one backward pass of a model.

:func:`count_flops` runs one forward pass under ``no_grad`` (nothing is recorded) and
watches the model's *leaf* modules (those without sub-modules): each leaf's
``forward`` is wrapped for the duration of that pass to record the shapes it saw.
The FLOPs of each layer then follow from those shapes by the rules in the table
below, so the count never touches the autograd engine or the ops.

Conventions
-----------
* A multiply-add (MAC) of a matrix product is **2 FLOPs** (one multiply, one add).
* Elementwise operations and reductions are counted separately from matrix
  products: one FLOP per elementary operation per element (a transcendental such as
  exp, tanh or erf counts as one FLOP), and a sum or max over k values counts k.
* Backward = the FLOPs of the gradient formulas. A layer's input gradient is only
  computed when the input depends on a trainable parameter (what chainrule's
  backward does too: the first layer's input is data and never needs one).

Per-layer rules (R = rows = product of the leading dimensions, n = elements of the
output, C = channels; fwd / bwd):

=====================  ==============================  ================================
layer                  forward                         backward
=====================  ==============================  ================================
Linear(i, o)           matmul 2·R·i·o; elementwise     matmul 2·R·i·o (dW = Gᵀx)
                       R·o (bias add)                  + 2·R·i·o (dx = G W, when x needs
                                                       a gradient); reduction R·o (db)
ReLU                   1 n                             1 n (mask multiply)
LeakyReLU              2 n (compare, multiply)         2 n
Sigmoid                4 n (neg, exp, add, divide)     3 n (g·s·(1 − s))
Tanh                   1 n                             3 n (g·(1 − t²))
GELU (exact)           5 n (x·½(1 + erf(x/√2)))        11 n
GELU (tanh)            9 n                             14 n
Softmax                3 n; reduction 2 n (max, sum)   3 n; reduction 1 n
LogSoftmax             3 n + R (log); reduction 2 n    3 n; reduction 1 n
Dropout (training)     2 n (compare, scale)            1 n
Dropout (eval), p = 0  0                               0
BatchNorm1d (train)    4 n + C (+ 2 n affine);         6 n; reduction 2 n
                       reduction 2 n (mean, variance)
BatchNorm1d (eval)     2 n (+ 2 n affine)              1 n (+ 1 n, reduction 2 n affine)
Flatten, Identity      0                               0
PolynomialFeatures     R·Σ_k (degree_k − 1) multiplies  2 × forward (an estimate)
=====================  ==============================  ================================

Backward work on layers whose input needs no gradient is only the parameter
gradients (Linear: dW and db; BatchNorm: dγ, dβ); parameter-free layers before the
first parameter do no backward work at all.

Leaf modules of any other type are listed with ``counted=False`` and contribute
nothing to the totals (they are named in :attr:`FlopCount.uncounted`), never silently
counted as zero. A container other than Sequential, ModuleList and MLP may do its own
arithmetic around its children (a residual addition, say); that arithmetic is not
seen and the container is named in :attr:`FlopCount.notes`.

Training FLOPs and the 6·N·D rule
---------------------------------
training FLOPs per example = (forward + backward) / batch size. For a network of
Linear layers the backward is about twice the forward (dW and dx each cost as much
as the forward product), which gives ≈ 3 × forward = 3 · 2 · N per example for N
weights: the 6·N·D rule of Kaplan et al. (2020), "Scaling Laws for Neural Language
Models", eq. (2.1) and Table 1, with D the number of examples (tokens for a
language model). The first Linear layer has no dx, so counted FLOPs fall slightly
below 6·N·D for a shallow net; :meth:`FlopCount.six_nd_ratio` reports the ratio.
Kaplan's rule also ignores the attention term 2·n_layer·n_ctx·d_model per token,
which matters only when n_ctx approaches 12·d_model.
"""
from __future__ import annotations

import math
import numbers
from dataclasses import dataclass, field

from ..engine import random as _random
from ..engine.autograd import no_grad
from ..engine.tensor import Tensor

__all__ = ["LayerCount", "FlopCount", "count_flops", "training_flops", "six_nd"]

_TRANSPARENT_CONTAINERS = ("Sequential", "ModuleList", "MLP")
_MISSING = object()


@dataclass(frozen=True)
class LayerCount:
    """The counted arithmetic of one call of one leaf module (FLOPs for the whole batch)."""

    name: str
    type: str
    input_shape: tuple
    output_shape: tuple
    params: int
    forward_macs: int = 0
    forward_matmul: int = 0
    forward_elementwise: int = 0
    forward_reduction: int = 0
    backward_matmul: int = 0
    backward_elementwise: int = 0
    backward_reduction: int = 0
    activation_bytes: int = 0
    counted: bool = True
    note: str = ""

    @property
    def forward_flops(self) -> int:
        """Matmul + elementwise + reduction FLOPs of the forward pass."""
        return self.forward_matmul + self.forward_elementwise + self.forward_reduction

    @property
    def backward_flops(self) -> int:
        """Matmul + elementwise + reduction FLOPs of the backward pass."""
        return self.backward_matmul + self.backward_elementwise + self.backward_reduction

    def as_dict(self) -> dict:
        """One row of :meth:`FlopCount.to_frame`."""
        return {
            "layer": self.name, "type": self.type, "input_shape": self.input_shape,
            "output_shape": self.output_shape, "params": self.params,
            "forward_macs": self.forward_macs, "forward_matmul_flops": self.forward_matmul,
            "forward_elementwise_flops": self.forward_elementwise,
            "forward_reduction_flops": self.forward_reduction, "forward_flops": self.forward_flops,
            "backward_matmul_flops": self.backward_matmul,
            "backward_elementwise_flops": self.backward_elementwise,
            "backward_reduction_flops": self.backward_reduction, "backward_flops": self.backward_flops,
            "activation_bytes": self.activation_bytes, "counted": self.counted, "note": self.note,
        }


@dataclass(frozen=True)
class FlopCount:
    """What :func:`count_flops` found: one :class:`LayerCount` per leaf-module call and totals.

    All FLOP figures are for the whole example batch (``batch_size`` rows); the
    ``*_per_example`` properties divide by it.
    """

    layers: tuple
    batch_size: int
    params: int
    input_bytes: int
    notes: tuple = field(default_factory=tuple)

    def _total(self, attribute: str) -> int:
        return sum(getattr(layer, attribute) for layer in self.layers)

    @property
    def forward_macs(self) -> int:
        return self._total("forward_macs")

    @property
    def forward_flops(self) -> int:
        return self._total("forward_flops")

    @property
    def backward_flops(self) -> int:
        return self._total("backward_flops")

    @property
    def training_flops(self) -> int:
        """Forward + backward FLOPs of one training step on this batch."""
        return self.forward_flops + self.backward_flops

    @property
    def training_flops_per_example(self) -> float:
        return self.training_flops / self.batch_size

    @property
    def forward_flops_per_example(self) -> float:
        return self.forward_flops / self.batch_size

    @property
    def activation_bytes(self) -> int:
        """Bytes of the input and of every leaf layer's output: what the backward
        pass keeps alive for this batch (an estimate; masks and saved statistics aside)."""
        return self.input_bytes + self._total("activation_bytes")

    @property
    def uncounted(self) -> list:
        """Names of the leaf modules whose arithmetic has no rule here (not in the totals)."""
        return [layer.name for layer in self.layers if not layer.counted]

    def six_nd_ratio(self) -> float:
        """Counted training FLOPs / (6 · parameters · batch size) (Kaplan et al. 2020)."""
        return self.training_flops / six_nd(self.params, self.batch_size)

    def totals(self) -> dict:
        """The totals as a flat dict (whole batch unless the key says per example)."""
        keys = ("forward_macs", "forward_matmul", "forward_elementwise", "forward_reduction",
                "forward_flops", "backward_matmul", "backward_elementwise", "backward_reduction",
                "backward_flops")
        result = {key if key.endswith(("flops", "macs")) else f"{key}_flops": self._total(key) for key in keys}
        result.update({
            "training_flops": self.training_flops, "batch_size": self.batch_size,
            "training_flops_per_example": self.training_flops_per_example,
            "params": self.params, "activation_bytes": self.activation_bytes,
            "six_nd_flops": six_nd(self.params, self.batch_size), "six_nd_ratio": self.six_nd_ratio(),
        })
        return result

    def to_frame(self):
        """The per-layer table as a pandas DataFrame (one row per leaf-module call)."""
        import pandas as pd  # noqa: PLC0415 - pandas only when a table is asked for

        return pd.DataFrame([layer.as_dict() for layer in self.layers])


def six_nd(params, tokens) -> float:
    """C ≈ 6 · N · D training FLOPs for N parameters and D tokens (Kaplan et al. 2020, eq. 2.1):
    2 N per token forward, 4 N backward."""
    _check_positive(params, "params", "six_nd")
    _check_positive(tokens, "tokens", "six_nd")
    return 6.0 * float(params) * float(tokens)


def count_flops(model, example_input) -> FlopCount:
    """Count multiply-adds, FLOPs, parameters and activation memory of one forward
    pass of ``model`` on ``example_input`` and of the matching backward pass.

    The rules per layer type and the conventions are in this module's docstring:
    2 FLOPs per multiply-add; elementwise and reduction FLOPs reported separately;
    backward counted from the gradient formulas (≈ 2 × forward for matmul-dominated
    nets, so training ≈ 6 · N FLOPs per example, Kaplan et al.'s rule).

    The pass runs under ``no_grad`` in the model's current mode (train or eval:
    Dropout and BatchNorm count differently), and leaves no trace: BatchNorm running
    statistics and the global random generator are restored afterwards.

    Args:
        model: a :class:`chainrule.nn.Module`.
        example_input: a Tensor whose first dimension is the batch.

    Returns:
        a :class:`FlopCount` (``.to_frame()`` for the per-layer table, ``.totals()``).
    """
    from ..nn.module import Module  # noqa: PLC0415 - nn imports much of the package

    if not isinstance(model, Module):
        raise TypeError(f"count_flops: model must be a chainrule.nn.Module; got {type(model).__name__}")
    if not isinstance(example_input, Tensor) or example_input.ndim == 0:
        got = "a 0-d Tensor" if isinstance(example_input, Tensor) else type(example_input).__name__
        raise TypeError(
            f"count_flops: example_input must be a Tensor with a batch dimension first; got {got}"
        )
    batch_size = int(example_input.shape[0])
    if batch_size < 1:
        raise ValueError(
            f"count_flops: example_input must hold at least one example; got shape {tuple(example_input.shape)}"
        )

    calls = _observe_forward(model, example_input)
    if not calls:
        raise RuntimeError(
            f"count_flops: no leaf module of {type(model).__name__} was called during the forward "
            f"pass, so there is nothing to count (does its forward call its layers as modules?)"
        )
    layers = tuple(_count_call(call) for call in calls)
    notes = tuple(
        f"{name or type(module).__name__} ({type(module).__name__}) is a container; arithmetic "
        f"its forward does outside its sub-modules is not counted"
        for name, module in model.named_modules()
        if module._modules and type(module).__name__ not in _TRANSPARENT_CONTAINERS
    )
    called = {id(call.module) for call in calls}
    notes += tuple(
        f"{name} ({type(module).__name__}) was not called during the forward pass: not counted"
        for name, module in model.named_modules() if not module._modules and id(module) not in called
    )
    params = sum(_numel(p.shape) for p in model.parameters())
    input_bytes = _numel(example_input.shape) * example_input.data.dtype.itemsize
    return FlopCount(layers=layers, batch_size=batch_size, params=params, input_bytes=input_bytes, notes=notes)


def training_flops(params=None, tokens=None, model=None, example_input=None, samples=None, epochs=1) -> float:
    """Total training FLOPs, either by Kaplan et al.'s rule or by counting a model.

    * ``training_flops(params=N, tokens=D, epochs=E)`` = 6 · N · D · E (dense
      transformers; D tokens per epoch).
    * ``training_flops(model=m, example_input=x, samples=S, epochs=E)`` =
      :func:`count_flops` (m, x).training_flops_per_example · S · E.

    Exactly one of the two forms must be given.
    """
    _check_positive(epochs, "epochs", "training_flops")
    by_rule = params is not None or tokens is not None
    by_count = model is not None or example_input is not None or samples is not None
    if by_rule == by_count:
        raise ValueError(
            "training_flops: give either params and tokens (the 6·N·D rule) or model, "
            "example_input and samples (counted); got "
            + ("both" if by_rule else "neither")
        )
    if by_rule:
        if params is None or tokens is None:
            raise ValueError(
                f"training_flops: the 6·N·D rule needs both params and tokens; got params={params!r}, tokens={tokens!r}"
            )
        return six_nd(params, tokens) * float(epochs)
    if model is None or example_input is None or samples is None:
        raise ValueError(
            "training_flops: counting needs model, example_input and samples; got "
            f"model={type(model).__name__}, example_input={type(example_input).__name__}, samples={samples!r}"
        )
    _check_positive(samples, "samples", "training_flops")
    return count_flops(model, example_input).training_flops_per_example * float(samples) * float(epochs)


# ---------------------------------------------------------------------- observing


@dataclass
class _Call:
    name: str
    module: object
    input_shape: tuple
    output_shape: tuple | None
    output_itemsize: int
    input_needs_grad: bool


def _observe_forward(model, example_input) -> list:
    """Run one forward pass with every leaf module's forward wrapped; return the calls in order."""
    leaves = [(name, module) for name, module in model.named_modules() if not module._modules]
    calls = []
    state = {"parameter_seen": bool(example_input.requires_grad)}
    saved_buffers = [(buffer, buffer.data.copy()) for buffer in model.buffers() if buffer is not None]
    generator = _random.generator()
    saved_random = generator.bit_generator.state
    previous = [(module, module.__dict__.get("forward", _MISSING)) for _, module in leaves]
    try:
        for name, module in leaves:
            object.__setattr__(module, "forward", _recording_forward(name, module, calls, state))
        with no_grad():
            model(example_input)
    finally:
        for module, original in previous:
            if original is _MISSING:
                module.__dict__.pop("forward", None)
            else:
                object.__setattr__(module, "forward", original)
        for buffer, values in saved_buffers:
            buffer.data[...] = values
        generator.bit_generator.state = saved_random
    return calls


def _recording_forward(name, module, calls, state):
    original = module.forward
    trainable = any(p.requires_grad for p in module.parameters(recurse=False))

    def forward(*args, **kwargs):
        x = args[0] if args else None
        needs_grad = state["parameter_seen"]
        out = original(*args, **kwargs)
        state["parameter_seen"] = needs_grad or trainable
        output_shape = tuple(out.shape) if isinstance(out, Tensor) else None
        itemsize = out.data.dtype.itemsize if isinstance(out, Tensor) else 0
        input_shape = tuple(x.shape) if isinstance(x, Tensor) else ()
        suffix = sum(1 for call in calls if call.module is module)
        label = name if suffix == 0 else f"{name}#{suffix + 1}"
        calls.append(_Call(label, module, input_shape, output_shape, itemsize, needs_grad))
        return out

    return forward


# ---------------------------------------------------------------------- rules


def _count_call(call: _Call) -> LayerCount:
    module = call.module
    kind = type(module).__name__
    params = sum(_numel(p.shape) for p in module.parameters(recurse=False))
    base = {"name": call.name or kind, "type": kind, "input_shape": call.input_shape,
            "output_shape": call.output_shape or (), "params": params}
    rule = _RULES.get(kind)
    if rule is None or call.output_shape is None:
        why = "no FLOP rule for this layer type" if rule is None else "its output is not a Tensor"
        return LayerCount(**base, counted=False, note=f"not counted: {why}")
    n = _numel(call.output_shape)
    counts = rule(module, call, n)
    return LayerCount(**base, activation_bytes=n * call.output_itemsize, **counts)


def _linear(module, call, n):
    rows = _numel(call.input_shape[:-1])
    macs = rows * module.in_features * module.out_features
    has_bias = module.bias is not None
    return {
        "forward_macs": macs, "forward_matmul": 2 * macs,
        "forward_elementwise": rows * module.out_features if has_bias else 0,
        "backward_matmul": 2 * macs * (2 if call.input_needs_grad else 1),
        "backward_reduction": rows * module.out_features if has_bias else 0,
    }


def _elementwise(forward_per_element, backward_per_element):
    def rule(module, call, n):
        backward = backward_per_element * n if call.input_needs_grad else 0
        return {"forward_elementwise": forward_per_element * n, "backward_elementwise": backward}
    return rule


def _gelu(module, call, n):
    forward, backward = (9, 14) if module.approximate == "tanh" else (5, 11)
    return _elementwise(forward, backward)(module, call, n)


def _softmax(module, call, n, per_row_log=False):
    rows = n // call.output_shape[module.dim] if call.output_shape else 0
    backward = call.input_needs_grad
    return {
        "forward_elementwise": 3 * n + (rows if per_row_log else 0), "forward_reduction": 2 * n,
        "backward_elementwise": 3 * n if backward else 0, "backward_reduction": n if backward else 0,
    }


def _log_softmax(module, call, n):
    return _softmax(module, call, n, per_row_log=True)


def _dropout(module, call, n):
    if not module.training or module.p == 0:
        return {}
    return {"forward_elementwise": 2 * n, "backward_elementwise": n if call.input_needs_grad else 0}


def _batch_norm(module, call, n):
    channels = module.num_features
    affine = module.weight is not None
    batch_statistics = module.training or not module.track_running_stats
    if batch_statistics:
        counts = {"forward_elementwise": 4 * n + channels + (2 * n if affine else 0),
                  "forward_reduction": 2 * n}
        if call.input_needs_grad:
            counts.update(backward_elementwise=6 * n, backward_reduction=2 * n)
        elif affine:
            counts.update(backward_elementwise=n, backward_reduction=2 * n)
        return counts
    counts = {"forward_elementwise": 2 * n + (2 * n if affine else 0)}
    backward_elementwise = (n if call.input_needs_grad else 0) + (n if affine else 0)
    counts.update(backward_elementwise=backward_elementwise, backward_reduction=2 * n if affine else 0)
    return counts


def _free(module, call, n):
    return {}


def _polynomial(module, call, n):
    rows = _numel(call.input_shape[:-1])
    powers = module.powers(call.input_shape[-1])
    multiplies = rows * int(sum(max(int(degree) - 1, 0) for degree in powers.sum(axis=1).tolist()))
    return {"forward_elementwise": multiplies,
            "backward_elementwise": 2 * multiplies if call.input_needs_grad else 0}


_RULES = {
    "Linear": _linear,
    "ReLU": _elementwise(1, 1),
    "LeakyReLU": _elementwise(2, 2),
    "Sigmoid": _elementwise(4, 3),
    "Tanh": _elementwise(1, 3),
    "GELU": _gelu,
    "Softmax": _softmax,
    "LogSoftmax": _log_softmax,
    "Dropout": _dropout,
    "BatchNorm1d": _batch_norm,
    "Flatten": _free,
    "Identity": _free,
    "PolynomialFeatures": _polynomial,
}


# ---------------------------------------------------------------------- helpers


def _numel(shape) -> int:
    return math.prod(int(size) for size in shape)


def _check_positive(value, name: str, owner: str) -> None:
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value) or value <= 0:
        raise ValueError(f"{owner}: {name} must be a positive finite number; got {value!r}")
