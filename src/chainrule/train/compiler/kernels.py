"""The buffer-reusing forms of the hot nodes a plan replays.

An op's ``forward`` allocates its output at every call. In a replayed step the shapes never
change (the guards re-trace when they would), so the arrays of one replay can be the arrays of
the next: :class:`BufferedLinearChain` runs a whole MLP's Linear [ReLU] layers
(:class:`~chainrule.nn.fused.LinearChain`, the node ``nn.MLP`` and ``nn.Sequential`` record)
with every activation, ReLU mask and input gradient in arrays it keeps, ``out=`` in every
matrix product, and the weight gradients written straight into the optimizer's flat gradient
slots as in eager mode. Arrays of a few hundred kilobytes and more (W1's 128 x 256
activations) are otherwise fresh memory from the system at each step, page faults included.

Where numba is present (:func:`chainrule.engine.compiled.kernels`, not with
``CHAINRULE_NO_NUMBA=1``) the elementwise chains of large layers run as one compiled pass each
(:mod:`.numba_kernels`): bias + ReLU in the forward pass, ReLU mask x gradient in the backward
pass; otherwise the same NumPy calls as eager mode. Both are the same arithmetic per element,
and the matrix products are the same BLAS calls, so the results equal eager execution to the
bit (tests/test_compile.py, both paths).
"""
from __future__ import annotations

from ...engine import backend
from ...engine import compiled as compiled_kernels
from ...engine.autograd import claim_grad_slot
from ...nn.fused.linear_chain import LinearChain

__all__ = ["BufferedLinearChain", "FUSED_MIN_SIZE", "fused_kernels", "replay_node"]

_host = backend.host
_HOST_ARRAY = _host.ndarray
#: Elementwise passes over fewer elements than this stay NumPy calls (a compiled pass saves
#: about a microsecond per call, numba's start costs about a second per process).
FUSED_MIN_SIZE = 1 << 15
_ZEROS: dict = {}


def replay_node(cls):
    """An instance of the class that replays nodes of ``cls``: the buffered form, or ``cls``."""
    return BufferedLinearChain() if cls is LinearChain else cls()


def _zero(dtype):
    zero = _ZEROS.get(dtype)
    if zero is None:
        zero = _ZEROS[dtype] = _host.zeros((), dtype)
        zero.flags.writeable = False
    return zero


def fused_kernels(size: int):
    """The numba kernels module when a pass over ``size`` elements should use it, else None."""
    if size < FUSED_MIN_SIZE:
        return None
    return compiled_kernels.kernels("chainrule.train.compiler.numba_kernels")


class BufferedLinearChain(LinearChain):
    """:class:`~chainrule.nn.fused.LinearChain` on arrays kept from one replay to the next
    (2-D host inputs; anything else takes the node's own forward and backward)."""

    def __init__(self):
        self.store = {}
        self.buffered = False
        self.kernels = {}  # size -> the numba module or None, decided once per plan

    def fused(self, size: int):
        """:func:`fused_kernels` for ``size``, asked once per size (the environment is read once)."""
        try:
            return self.kernels[size]
        except KeyError:
            found = self.kernels[size] = fused_kernels(size)
            return found

    def buffer(self, key, shape: tuple, dtype):
        array = self.store.get(key)
        if array is None or array.shape != shape or array.dtype != dtype:
            array = self.store[key] = _host.empty(shape, dtype)
        return array

    def forward(self, x, *params, layout):
        self.buffered = x.__class__ is _HOST_ARRAY and x.ndim == 2
        if not self.buffered:
            return super().forward(x, *params, layout=layout)
        self.x, self.params, self.layout = x, params, layout
        zero, rows, outs, h, k = _zero(x.dtype), x.shape[0], [], x, 0
        for i, (has_bias, relu) in enumerate(layout):
            weight = params[k]
            k += 1
            z = self.buffer(("z", i), (rows, weight.shape[0]), x.dtype)
            _host.matmul(h, weight.T, out=z)
            kernels = self.fused(z.size) if has_bias else None
            if kernels is not None:
                kernels.bias_relu(z, params[k], relu)
            else:
                if has_bias:
                    _host.add(z, params[k], out=z)
                if relu:
                    _host.maximum(z, zero, out=z)
            k += 1 if has_bias else 0
            outs.append(z)
            h = z
        self.outs = outs
        return h

    def backward(self, grad):
        if not self.buffered or grad.ndim != 2:
            return super().backward(grad)
        needs, params, layout, outs, parents = self.needs_input_grad, self.params, self.layout, self.outs, self.parents
        grads = [None] * len(needs)
        lowest = needs.index(True)
        starts = _weight_positions(layout)
        g, own = grad, False
        for i in range(len(layout) - 1, -1, -1):
            has_bias, relu = layout[i]
            if relu:
                target = g if own else self.buffer(("m", i), g.shape, g.dtype)
                self.mask(g, outs[i], target, i)
                g, own = target, True
            w = starts[i]
            if needs[w]:
                rows = self.x if i == 0 else outs[i - 1]
                slot = claim_grad_slot(parents[w])
                if slot is None:
                    grads[w] = g.T @ rows
                else:
                    _host.matmul(g.T, rows, out=slot)
            if has_bias and needs[w + 1]:
                slot = claim_grad_slot(parents[w + 1])
                total = _host.add.reduce(g, axis=0, out=slot)
                grads[w + 1] = total if slot is None else None
            if lowest >= w:
                break
            g = self.times_weight(g, params[w - 1], i)
        if needs[0]:
            grads[0] = g
        return tuple(grads)

    def mask(self, g, out, target, i: int) -> None:
        """target <- g * (out > 0), as eager's ``g * greater(out, 0)``."""
        kernels = self.fused(g.size)
        if kernels is not None:
            kernels.relu_mask(g, out, target)
            return
        mask = self.buffer(("b", i), out.shape, bool)
        _host.greater(out, _zero(out.dtype), out=mask)
        _host.multiply(g, mask, out=target)

    def times_weight(self, g, weight, i: int):
        """G W into a kept array (the product eager's ``times_weight`` computes)."""
        result = self.buffer(("d", i), (g.shape[0], weight.shape[1]), g.dtype)
        if weight.shape[0] == 1:
            return _host.multiply(g, weight, out=result)
        return _host.matmul(g, weight, out=result)


_POSITIONS: dict = {}


def _weight_positions(layout: tuple) -> tuple:
    """Where each layer's weight sits among the node's inputs (x is input 0)."""
    starts = _POSITIONS.get(layout)
    if starts is None:
        found, k = [], 1
        for has_bias, _ in layout:
            found.append(k)
            k += 2 if has_bias else 1
        starts = _POSITIONS[layout] = tuple(found)
    return starts
