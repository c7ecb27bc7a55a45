"""A run of Linear [ReLU] layers as one graph node, and how nn.Sequential finds such runs.

The MLP fast path, whole, in one module. ``nn.Sequential`` (so also ``nn.MLP``) asks
:func:`plan_steps` how to run its modules: every maximal run of plain ``nn.Linear`` layers,
each optionally followed by a plain ``nn.ReLU``, becomes one :class:`LinearChainStep`, which
records ONE ``linear_chain`` node (:class:`LinearChain`) instead of two or three per layer,
and writes the weight and bias gradients straight into the optimizer's flat gradient buffer
(:mod:`chainrule.engine.autograd.grad_slots`).

Reference composition: the modules one after another, i.e. ``relu?(h @ W_i.T + b_i)`` per
layer with the ops of :mod:`chainrule.engine.ops`; same values and gradients
(tests/test_nn_linear_chain.py and tests/test_nn_fused.py, float64).
"""
from __future__ import annotations

from ...engine import backend
from ...engine.autograd import Function, claim_grad_slot
from ...engine.tensor import Tensor
from .. import module as module_state
from ..layers import Linear, ReLU
from .composed import ComposedBackward
from .linear import times_weight

__all__ = ["LinearChain", "LinearChainStep", "plan_steps"]

_host = backend.host


_HOST_ARRAY = backend.host.ndarray


# ------------------------------------------------------------------ planning: which modules fuse

def plan_steps(modules: tuple) -> tuple:
    """The steps of a Sequential's forward: each module, or one :class:`LinearChainStep` for
    every run of Linear [ReLU] modules that :func:`_linear_run` finds."""
    steps, position = [], 0
    while position < len(modules):
        fused = _linear_run(modules, position)
        if fused is None:
            steps.append(modules[position])
            position += 1
        else:
            step, position = fused
            steps.append(step)
    return tuple(steps)


def _linear_run(modules: tuple, start: int):
    """A step that runs ``modules[start:stop]`` as one ``linear_chain`` node, and
    ``stop``; or None. The run is the longest sequence of plain ``nn.Linear`` layers,
    each optionally followed by a plain ``nn.ReLU``, whose sizes match (a mismatch
    ends the run, so the unfused layer reports it). A lone Linear is not worth it."""
    stop, linears, relus = start, [], []
    while stop < len(modules) and modules[stop].__class__ is Linear:
        layer = modules[stop]
        if linears and layer.in_features != linears[-1].out_features:
            break
        relu = stop + 1 < len(modules) and modules[stop + 1].__class__ is ReLU
        linears.append(layer)
        relus.append(relu)
        stop += 2 if relu else 1
    if len(linears) < 2 and not any(relus):
        return None
    return LinearChainStep(modules[start:stop], linears, tuple(relus)), stop


class LinearChainStep:
    """What :class:`~chainrule.nn.Sequential` runs for a run of Linear [ReLU] modules: the
    whole run as one ``linear_chain`` node (:class:`LinearChain`).

    Every call checks what each Linear would check (a Tensor input whose last dimension
    is in_features and whose dtype is the weights'), that the parameters still have the
    layers' shapes, dtype and the host device, and that no module of the run has an
    instance-level ``forward`` (as diagnostics install to observe layers) or hooks
    (``register_forward_hook`` …, :mod:`chainrule.nn.module_hooks`). If anything differs,
    the modules run one by one instead, with their own errors, behaviour and hooks.
    """

    __slots__ = ("modules", "layers", "in_features", "relu_modules")

    def __init__(self, modules: tuple, linears: list, relus: tuple):
        self.modules = modules
        self.relu_modules = tuple(module for module in modules if module.__class__ is ReLU)
        # per layer: its module, its parameter registry, the weight's and bias's shapes, relu
        self.layers = tuple(
            (layer, layer._parameters, (layer.out_features, layer.in_features), (layer.out_features,), relu)
            for layer, relu in zip(linears, relus)
        )
        self.in_features = linears[0].in_features

    def __call__(self, x):
        if x.__class__ is not Tensor and not isinstance(x, Tensor):
            return self.unfused(x)
        data = x.data
        shape = data.shape
        if not shape or shape[-1] != self.in_features or data.__class__ is not _HOST_ARRAY:
            return self.unfused(x)
        dtype = data.dtype
        inputs, layout = [x], []
        hooked = module_state.hooked_modules != 0  # some module somewhere has hooks: look at ours
        for layer, parameters, weight_shape, bias_shape, relu in self.layers:
            weight, bias = parameters["weight"], parameters["bias"]
            array = weight.data
            own = layer.__dict__  # an instance-level forward, or hooks: run the modules themselves
            if (
                array.__class__ is not _HOST_ARRAY or array.shape != weight_shape or array.dtype != dtype
                or "forward" in own or (hooked and own.get("_module_hooks") is not None)
            ):
                return self.unfused(x)
            inputs.append(weight)
            if bias is not None:
                array = bias.data
                if array.__class__ is not _HOST_ARRAY or array.shape != bias_shape or array.dtype != dtype:
                    return self.unfused(x)
                inputs.append(bias)
            layout.append((bias is not None, relu))
        for module in self.relu_modules:
            own = module.__dict__
            if "forward" in own or (hooked and own.get("_module_hooks") is not None):
                return self.unfused(x)
        return LinearChain.apply(*inputs, layout=tuple(layout))

    def unfused(self, x):
        """The modules one after another, each through its own ``__call__``."""
        for module in self.modules:
            x = module(x)
        return x


# ------------------------------------------------------------------ the node

class LinearChain(ComposedBackward, Function):
    """Consecutive Linear layers, each optionally followed by a ReLU, as one node.

    With h_0 = x and, for layer i = 1 … L (``layout[i - 1] = (has_bias, relu)``):

        z_i = h_{i-1} W_i^T + b_i,    h_i = max(z_i, 0) if relu else z_i,

    the output is h_L. Backward, from G_L = G (the upstream gradient) down to the lowest
    layer any input needs: D_i = G_i * [h_i > 0] where layer i has a ReLU (its gradient at
    0 taken as 0, as in :class:`~chainrule.engine.ops.activations.ReLU`), else D_i = G_i; then
    dW_i = D_i^T h_{i-1}, db_i = sum_rows D_i and G_{i-1} = D_i W_i (dx = G_0, only when
    x needs it). The inputs are
    x, W_1, [b_1], W_2, [b_2], …; weight and bias gradients go straight into the
    parameters' gradient slots when the engine offers them (see :func:`linear_backward`).
    A whole MLP is then one node: one record in the forward pass, one visit in backward.
    """

    op = "linear_chain"
    saves_output = True

    def forward(self, x, *params, layout):
        maximum = _host.maximum if x.__class__ is _HOST_ARRAY else backend.namespace_of(x).maximum
        zero = _zero(x)
        self.x, self.params, self.layout = x, params, layout
        outs = []
        h, k = x, 0
        for has_bias, relu in layout:
            h = h @ params[k].T
            k += 1
            if has_bias:
                h += params[k]  # h is a fresh array: add in place
                k += 1
            if relu:
                maximum(h, zero, out=h)
            outs.append(h)
        self.outs = outs
        return h

    def backward(self, grad):
        needs, params, layout, outs = self.needs_input_grad, self.params, self.layout, self.outs
        parents = self.parents
        host = grad.__class__ is _HOST_ARRAY
        xp = _host if host else backend.namespace_of(grad)
        grads = [None] * len(needs)
        lowest = needs.index(True)  # the first input that needs a gradient
        starts = _WEIGHT_POSITIONS.get(layout)
        if starts is None:
            starts = _WEIGHT_POSITIONS[layout] = _weight_positions(layout)
        g = grad if grad.ndim == 2 else grad.reshape(-1, grad.shape[-1])
        zero = _zero(g)
        own = False  # whether g is an array made here (then the ReLU mask may go in place)
        for i in range(len(layout) - 1, -1, -1):
            has_bias, relu = layout[i]
            if relu:
                out = outs[i]
                mask = xp.greater(out if out.ndim == 2 else out.reshape(g.shape), zero)
                if own:
                    xp.multiply(g, mask, out=g)
                else:
                    g = g * mask
                    own = True
            w = starts[i]
            if needs[w]:
                h = self.x if i == 0 else outs[i - 1]
                rows = h if h.ndim == 2 else h.reshape(-1, h.shape[-1])
                slot = claim_grad_slot(parents[w])
                if slot is None:
                    grads[w] = g.T @ rows
                else:
                    xp.matmul(g.T, rows, out=slot)
            if has_bias and needs[w + 1]:
                slot = claim_grad_slot(parents[w + 1])
                total = _host.add.reduce(g, axis=0, out=slot) if host else g.sum(axis=0, out=slot)
                grads[w + 1] = total if slot is None else None
            if lowest >= w:
                break
            g = times_weight(g, params[w - 1])
            own = True
        if needs[0]:
            grads[0] = g if g.shape == self.x.shape else g.reshape(self.x.shape)
        return tuple(grads)


    def reference(self, x, *params):
        h, k = x, 0
        for has_bias, relu in self.layout:
            h = h @ params[k].mT
            k += 1
            if has_bias:
                h = h + params[k]
                k += 1
            if relu:
                h = h.relu()
        return h


_WEIGHT_POSITIONS: dict = {}  # layout -> the input position of each layer's weight


_ZEROS: dict = {}  # dtype -> a read-only 0-d host array 0


def _zero(like):
    """0 as a 0-d array of ``like``'s dtype: a ufunc takes it faster than the Python int 0,
    which it must convert at every call (about 0.2 µs of a 1 µs operation on small arrays)."""
    if like.__class__ is not _HOST_ARRAY:
        return 0
    zero = _ZEROS.get(like.dtype)
    if zero is None:
        zero = _ZEROS[like.dtype] = _host.zeros((), like.dtype)
        zero.flags.writeable = False
    return zero


def _weight_positions(layout: tuple) -> tuple:
    """Where each layer's weight sits among a LinearChain's inputs (x is input 0)."""
    starts, k = [], 1
    for has_bias, _ in layout:
        starts.append(k)
        k += 2 if has_bias else 1
    return tuple(starts)
