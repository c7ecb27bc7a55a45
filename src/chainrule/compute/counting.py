"""Counting the arithmetic of one forward and one backward pass of a model.

:func:`count_flops` runs one forward pass under ``no_grad`` and watches it
(:mod:`chainrule.compute.observe`): every call of a layer with a FLOP rule becomes one row,
counted from the shapes it saw (:mod:`~chainrule.compute.layer_rules`,
:mod:`~chainrule.compute.sequence_rules`), and every op that runs outside those layers (a
residual addition, ``F.relu``, ``F.scaled_dot_product_attention`` or a tied output head
``F.linear`` in a custom block, ``q @ k.mT``) is counted by its own rule
(:mod:`~chainrule.compute.op_rules`). The count never records a graph and never runs a backward.

Conventions
-----------
* A multiply-add (MAC) of a matrix product is **2 FLOPs** (one multiply, one add).
* *Matmul-class* FLOPs are those of matrix products, convolutions and attention's QK' and PV
  products (``forward_matmul``, ``backward_matmul``): exactly what PyTorch's
  ``torch.utils.flop_counter.FlopCounterMode`` counts (aten mm, addmm, bmm, baddbmm,
  convolution, scaled dot-product attention), so the two can be compared (see below).
* Elementwise operations and reductions are counted separately from matrix products: one
  FLOP per elementary operation per element (a transcendental such as exp, tanh or erf counts
  as one FLOP), and a sum or max over k values counts k. Softmax is elementwise work (3 per
  element) plus reductions (max and sum).
* Gathers (Embedding lookups) do no arithmetic: they are counted as memory traffic
  (``forward_memory_bytes``; their gradient, a scatter-add, as ``backward_memory_bytes`` and
  one addition per element), never as a matrix product.
* Backward = the FLOPs of the gradient formulas, each computed only when needed: a weight's
  gradient when it ``requires_grad``, an input's when a gradient flows into it (an input
  depending on a trainable parameter or on a tensor that requires grad; the data fed to the
  first layer needs none). This is what chainrule's and PyTorch's autograd do.

Per-layer rules (R = rows = product of the leading dimensions, n = elements of the output,
C = channels; fwd / bwd); the rest of the layers are in :mod:`~chainrule.compute.layer_rules`:

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
BatchNorm1d/2d (train) 4 n + C (+ 2 n affine);         6 n; reduction 2 n
                       reduction 2 n (mean, variance)
BatchNorm (eval)       2 n (+ 2 n affine)              1 n (+ 1 n, reduction 2 n affine)
Flatten, Identity      0                               0
PolynomialFeatures     R·Σ_k (degree_k − 1) multiplies  2 × forward (an estimate)
=====================  ==============================  ================================

A module with no rule is transparent: its children are counted, and the ops its own code
runs are summed into one row named after it (type ``<Type> (ops)``). An op with no rule is
named there and in :attr:`FlopCount.uncounted` (contributing nothing), never silently zero.

Comparing with PyTorch's FlopCounterMode (torch 2.13, on the CPU)
----------------------------------------------------------------
Our matmul-class forward and backward FLOPs equal its counts exactly (tests/test_compute_layers.py
builds each layer and architecture in both libraries with the same state dict), except where
PyTorch counts something else, documented and tested there:

* grouped convolutions (``groups`` = g > 1, depthwise too): PyTorch's formula for the weight
  gradient ignores the groups and counts it g times (its ``conv_backward_flop`` treats all
  C_in input channels as seen by every output channel); we count the true 2·n·(C_in/g)·k;
* scaled dot-product attention: on the CPU PyTorch runs its flash-attention kernel, which
  FlopCounterMode does not count (0 FLOPs); under ``sdpa_kernel(SDPBackend.MATH)`` it runs bmm
  and counts QK' and PV forward and four products backward, as we do (its formula for the
  flash and efficient kernels adds a fifth backward product, the recomputed QK');
* LSTM without ``proj_size``: on the CPU PyTorch runs oneDNN's fused ``mkldnn_rnn_layer``,
  which FlopCounterMode does not count (0 FLOPs); with ``torch.backends.mkldnn.flags(enabled=False)``
  it runs its native step-by-step products, counted, and equal to ours (its RNN, GRU and LSTM
  with ``proj_size`` always take that path);
* causal masks: neither count skips the masked half of QK' and PV (both compute it);
* the elementwise and reduction work is not counted by PyTorch at all.

Shape-only counting
-------------------
A model built under :func:`chainrule.compute.meta_init` holds no values; ``count_flops``
then replaces each layer's computation by its shape rule (nothing large is computed or
allocated) and returns the same counts as for the same model built normally.

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

from ..engine import backend
from ..engine import random as _random
from ..engine.autograd import no_grad
from ..engine.tensor import Tensor
from .meta import MetaArray, allow_meta_arithmetic, is_meta, meta_tensor
from .observe import Recorder

__all__ = ["LayerCount", "FlopCount", "count_flops", "training_flops", "six_nd"]


@dataclass(frozen=True)
class LayerCount:
    """The counted arithmetic of one call of one layer (or of the ops one module's own code ran,
    or of one matrix-product op outside the layers): FLOPs for the whole batch."""

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
    forward_memory_bytes: int = 0
    backward_memory_bytes: int = 0
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
            "forward_memory_bytes": self.forward_memory_bytes, "backward_memory_bytes": self.backward_memory_bytes,
            "activation_bytes": self.activation_bytes, "counted": self.counted, "note": self.note,
        }


@dataclass(frozen=True)
class FlopCount:
    """What :func:`count_flops` found: one :class:`LayerCount` per row and totals.

    All FLOP figures are for the whole example batch (``batch_size`` rows); the
    ``*_per_example`` properties divide by it. ``shape_only``: counted from shapes alone
    (a meta model), without running the layers.
    """

    layers: tuple
    batch_size: int
    params: int
    input_bytes: int
    notes: tuple = field(default_factory=tuple)
    shape_only: bool = False

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
    def forward_matmul_flops(self) -> int:
        """Matmul-class FLOPs (products, convolutions, attention) of the forward pass: what
        PyTorch's FlopCounterMode counts for it."""
        return self._total("forward_matmul")

    @property
    def backward_matmul_flops(self) -> int:
        """Matmul-class FLOPs of the backward pass (PyTorch's FlopCounterMode's backward)."""
        return self._total("backward_matmul")

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
        """Bytes of the input and of every row's output: what the backward pass keeps alive
        for this batch (an estimate; masks and saved statistics aside)."""
        return self.input_bytes + self._total("activation_bytes")

    @property
    def uncounted(self) -> list:
        """Names of the rows with work that has no FLOP rule here (left out of the totals)."""
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
            "forward_memory_bytes": self._total("forward_memory_bytes"),
            "backward_memory_bytes": self._total("backward_memory_bytes"),
            "training_flops": self.training_flops, "batch_size": self.batch_size,
            "training_flops_per_example": self.training_flops_per_example,
            "params": self.params, "activation_bytes": self.activation_bytes,
            "six_nd_flops": six_nd(self.params, self.batch_size), "six_nd_ratio": self.six_nd_ratio(),
        })
        return result

    def to_frame(self):
        """The per-row table as a pandas DataFrame."""
        import pandas as pd  # noqa: PLC0415 - pandas only when a table is asked for

        return pd.DataFrame([layer.as_dict() for layer in self.layers])


def six_nd(params, tokens) -> float:
    """C ≈ 6 · N · D training FLOPs for N parameters and D tokens (Kaplan et al. 2020, eq. 2.1):
    2 N per token forward, 4 N backward."""
    _check_positive(params, "params", "six_nd")
    _check_positive(tokens, "tokens", "six_nd")
    return 6.0 * float(params) * float(tokens)


def count_flops(model, example_input, *, shape_only: bool | None = None) -> FlopCount:
    """Count multiply-adds, FLOPs, parameters and activation memory of one forward
    pass of ``model`` on ``example_input`` and of the matching backward pass.

    The rules per layer type and the conventions are in this module's docstring:
    2 FLOPs per multiply-add; matmul-class, elementwise and reduction FLOPs reported
    separately; backward counted from the gradient formulas (≈ 2 × forward for
    matmul-dominated nets, so training ≈ 6 · N FLOPs per example, Kaplan et al.'s rule).

    The pass runs under ``no_grad`` in the model's current mode (train or eval:
    Dropout and BatchNorm count differently), and leaves no trace: BatchNorm running
    statistics and the global random generator are restored afterwards.

    Args:
        model: a :class:`chainrule.nn.Module`.
        example_input: a Tensor whose first dimension is the batch; a tuple of Tensors
            (the model's positional arguments, the first one's first dimension the batch);
            or a shape such as ``(8, 3, 224, 224)`` (a zero-stride float32 stand-in).
        shape_only: count from shapes without running the layers; None (the default)
            does so exactly for a model built under :func:`~chainrule.compute.meta_init`.

    Returns:
        a :class:`FlopCount` (``.to_frame()`` for the per-layer table, ``.totals()``).
    """
    from ..nn.module import Module  # noqa: PLC0415 - nn imports much of the package

    if not isinstance(model, Module):
        raise TypeError(f"count_flops: model must be a chainrule.nn.Module; got {type(model).__name__}")
    inputs = _inputs(example_input)
    batch_size = int(inputs[0].shape[0])
    if batch_size < 1:
        raise ValueError(
            f"count_flops: example_input must hold at least one example; got shape {tuple(inputs[0].shape)}"
        )
    meta = is_meta(model)
    if shape_only is None:
        shape_only = meta
    elif meta and not shape_only:
        raise ValueError("count_flops: the model was built under meta_init() (it has no values): count it with "
                         "shape_only=True (or None), or build it outside meta_init() to run it")
    recorder = Recorder(model, bool(shape_only))
    _observe(model, inputs, recorder)
    if not recorder.rows:
        raise RuntimeError(
            f"count_flops: no layer or op of {type(model).__name__} ran during the forward "
            f"pass, so there is nothing to count"
        )
    layers = tuple(LayerCount(forward_macs=row["forward_matmul"] // 2, **row) for row in recorder.rows)
    params = sum(_numel(p.shape) for p in model.parameters())
    input_bytes = sum(_numel(t.shape) * t.data.dtype.itemsize for t in inputs)
    return FlopCount(layers=layers, batch_size=batch_size, params=params, input_bytes=input_bytes,
                     notes=recorder.notes(), shape_only=bool(shape_only))


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


# ---------------------------------------------------------------------- helpers


def _inputs(example_input) -> tuple:
    """The model's positional arguments: a Tensor, a tuple of Tensors, or a shape."""
    if isinstance(example_input, (tuple, list)) and example_input and all(
            isinstance(s, numbers.Integral) and not isinstance(s, bool) for s in example_input):
        if any(s < 0 for s in example_input):
            raise ValueError(f"count_flops: a shape must not have negative sizes; got {tuple(example_input)}")
        return (meta_tensor(tuple(int(s) for s in example_input), backend.DEFAULT_FLOAT),)
    inputs = tuple(example_input) if isinstance(example_input, (tuple, list)) else (example_input,)
    first = inputs[0] if inputs else None
    if not isinstance(first, Tensor) or first.ndim == 0:
        got = "a 0-d Tensor" if isinstance(first, Tensor) else type(example_input).__name__
        raise TypeError(
            "count_flops: example_input must be a Tensor with a batch dimension first, a tuple of "
            f"Tensors or a shape; got {got}"
        )
    return inputs


def _observe(model, inputs, recorder) -> None:
    """One watched forward pass that leaves the model and the random generator as they were."""
    saved = [(b, b.data.copy()) for b in model.buffers() if b is not None and not isinstance(b.data, MetaArray)]
    generator = _random.generator()
    state = generator.bit_generator.state
    try:
        with recorder.watching(), no_grad(), allow_meta_arithmetic():
            model(*inputs)
    finally:
        for buffer, values in saved:
            buffer.data[...] = values
        generator.bit_generator.state = state


def _numel(shape) -> int:
    return math.prod(int(size) for size in shape)


def _check_positive(value, name: str, owner: str) -> None:
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value) or value <= 0:
        raise ValueError(f"{owner}: {name} must be a positive finite number; got {value!r}")
