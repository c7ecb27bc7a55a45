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
(:mod:`.numba_kernels`): bias + ReLU in the forward pass, ReLU mask x gradient together with
the bias gradient's column sums (or the column sums alone) in the backward pass; otherwise the
same NumPy calls as eager mode. Both are the same arithmetic per element,
and the matrix products are the same BLAS calls, so the results equal eager execution to the
bit (tests/test_compile.py, both paths).
"""
from __future__ import annotations

from ...engine import backend
from ...engine import compiled as compiled_kernels
from ...engine.autograd import claim_grad_slot
from ...nn.fused.linear_chain import LinearChain
from ...optim.optimizer import Optimizer
from ...optim.sgd import SGD
from .buffered import BUFFERED

__all__ = ["BufferedLinearChain", "CHAIN_MAX_SIZE", "FUSED_MIN_SIZE", "ReplayedUpdate", "chain_kernels",
           "fused_kernels", "replay_node", "replayed_update"]

_host = backend.host
_HOST_ARRAY = _host.ndarray
#: Elementwise passes over fewer elements than this stay NumPy calls (a compiled pass saves
#: about a microsecond per call, numba's start costs about a second per process).
FUSED_MIN_SIZE = 1 << 15
#: A chain whose widest layer output (rows x features) is below this runs each pass, forward
#: and backward, as ONE compiled call (:func:`.numba_kernels.chain_forward`,
#: :func:`.numba_kernels.chain_backward`): on small networks the per-call cost of a dozen
#: NumPy calls is most of the step.
CHAIN_MAX_SIZE = 1 << 15
_ZEROS: dict = {}


def replay_node(cls):
    """An instance of the class that replays nodes of ``cls``: the buffered form
    (:class:`BufferedLinearChain`, :data:`.buffered.BUFFERED`), or ``cls``."""
    if cls is LinearChain:
        return BufferedLinearChain()
    return BUFFERED.get(cls, cls)()


def _zero(dtype):
    zero = _ZEROS.get(dtype)
    if zero is None:
        zero = _ZEROS[dtype] = _host.zeros((), dtype)
        zero.flags.writeable = False
    return zero


def chain_kernels(rows: int, widest: int, dtype):
    """The numba kernels module when a whole chain of ``rows`` x ``widest`` layers should run as
    one compiled call per pass, else None."""
    if rows < 2 or rows * widest >= CHAIN_MAX_SIZE or dtype not in (_host.float32, _host.float64):
        return None
    return compiled_kernels.kernels("chainrule.train.compiler.numba_kernels")


def fused_kernels(size: int):
    """The numba kernels module when a pass over ``size`` elements should use it, else None."""
    if size < FUSED_MIN_SIZE:
        return None
    return compiled_kernels.kernels("chainrule.train.compiler.numba_kernels")


class BufferedLinearChain(LinearChain):
    """:class:`~chainrule.nn.fused.LinearChain` on arrays kept from one replay to the next
    (2-D host inputs; anything else takes the node's own forward and backward). The arrays of
    every layer are made at once when the rows or the dtype change (once per plan: its shapes
    are fixed), so a replay looks nothing up: per layer ``z`` (its output), ``m`` (the masked
    gradient), ``b`` (the ReLU mask), ``d`` (the gradient of its input) and the compiled
    elementwise kernels to use, or None."""

    def __init__(self):
        self.key = None
        self.buffered = False

    def allocate(self, x, params, layout) -> None:
        rows, dtype, k = x.shape[0], x.dtype, 0
        self.z, self.m, self.b, self.d, self.fused = [], [], [], [], []
        for has_bias, _ in layout:
            out_features, in_features = params[k].shape
            k += 2 if has_bias else 1
            self.z.append(_host.empty((rows, out_features), dtype))
            self.m.append(_host.empty((rows, out_features), dtype))
            self.b.append(_host.empty((rows, out_features), bool))
            self.d.append(_host.empty((rows, in_features), dtype))
            self.fused.append(fused_kernels(rows * out_features))
        if any(self.fused):  # numba is started anyway: the small layers' passes too (NumPy's broadcast
            self.fused = [next(k for k in self.fused if k)] * len(self.fused)  # add takes a temporary)
        self.key = (rows, dtype, layout)
        self.whole = None
        widths = [w.shape for w in params[0::2]] if all(has_bias for has_bias, _ in layout) else None
        if widths and all(in_features > 1 for _, in_features in widths[1:]):
            self.whole = chain_kernels(rows, max(out_features for out_features, _ in widths), dtype)
            self.relus = _host.array([relu for _, relu in layout], bool)
            self.long_sums = [i for i, (out_features, _) in enumerate(widths) if out_features == 1 and rows > 128]
            self.dx_ok = widths[0][1] > 1  # dx = D_1 W_1 is a gemm (with one input feature NumPy takes gemv)
            self.gb = [_host.empty(out_features, dtype) for out_features, _ in widths]
            self.gw = [_host.empty(shape, dtype) for shape in widths]

    def forward(self, x, *params, layout):
        self.buffered = x.__class__ is _HOST_ARRAY and x.ndim == 2
        if not self.buffered:
            return super().forward(x, *params, layout=layout)
        if self.key != (x.shape[0], x.dtype, layout):
            self.allocate(x, params, layout)
        self.x, self.params, self.layout = x, params, layout
        self.outs = self.z
        whole = self.whole
        self.in_one = whole is not None and x.flags.c_contiguous and all(p.flags.c_contiguous for p in params)
        if self.in_one:
            return whole.chain_forward(x, params[0::2], params[1::2], tuple(self.z), self.relus)
        zero, h, k = _zero(x.dtype), x, 0
        for i, (has_bias, relu) in enumerate(layout):
            z = self.z[i]
            _host.matmul(h, params[k].T, out=z)
            k += 1
            kernels = self.fused[i] if has_bias else None
            if kernels is not None:
                kernels.bias_relu(z, params[k], relu)
            else:
                if has_bias:
                    _host.add(z, params[k], out=z)
                if relu:
                    _host.maximum(z, zero, out=z)
            k += 1 if has_bias else 0
            h = z
        return h

    def backward(self, grad):
        if not self.buffered or grad.ndim != 2:
            return super().backward(grad)
        needs = self.needs_input_grad
        if (self.in_one and grad.flags.c_contiguous and grad.dtype == self.x.dtype and False not in needs[1:]
                and (self.dx_ok or not needs[0])):
            return self.backward_in_one(grad)
        needs, params, layout, outs, parents = self.needs_input_grad, self.params, self.layout, self.z, self.parents
        grads = [None] * len(needs)
        lowest = needs.index(True)
        starts = _weight_positions(layout)
        g, own = grad, False
        for i in range(len(layout) - 1, -1, -1):
            has_bias, relu = layout[i]
            w, summed = starts[i], False
            if relu:
                target = g if own else self.m[i]
                if (has_bias and needs[w + 1] and self.fused[i] is not None and g.shape[1] > 1
                        and g.flags.c_contiguous):
                    grads[w + 1] = self.mask_and_sum(g, outs[i], target, parents[w + 1], i)
                    summed = True
                else:
                    self.mask(g, outs[i], target, i)
                g, own = target, True
            if needs[w]:
                rows = self.x if i == 0 else outs[i - 1]
                slot = claim_grad_slot(parents[w])
                if slot is None:
                    grads[w] = g.T @ rows
                else:
                    _host.matmul(g.T, rows, out=slot)
            if has_bias and needs[w + 1] and not summed:
                grads[w + 1] = self.bias_gradient(g, parents[w + 1], i)
            if lowest >= w:
                break
            g = self.times_weight(g, params[w - 1], i)
        if needs[0]:
            grads[0] = g
        return tuple(grads)

    def backward_in_one(self, grad):
        """The whole backward pass as one compiled call (:func:`.numba_kernels.chain_backward`),
        each parameter's gradient written into its gradient slot when the engine hands it out,
        else into an array of the plan that is returned."""
        parents, grads = self.parents, [None] * len(self.parents)
        gw, gb = [], []
        for i in range(len(self.layout)):
            w = 2 * i + 1
            slot = claim_grad_slot(parents[w])
            if slot is None:
                slot = grads[w] = self.gw[i]
            gw.append(slot)
            slot = claim_grad_slot(parents[w + 1])
            if slot is None:
                slot = grads[w + 1] = self.gb[i]
            gb.append(slot)
        need_dx = self.needs_input_grad[0]
        self.whole.chain_backward(grad, self.x, self.params[0::2], tuple(self.z), tuple(self.m), tuple(self.d),
                                  tuple(gw), tuple(gb), self.relus, need_dx)
        if self.long_sums:  # one-column layers of more than 128 rows: NumPy's pairwise halves
            for i in self.long_sums:
                d = self.m[i] if self.layout[i][1] else grad if i == len(self.layout) - 1 else self.d[i + 1]
                _host.add.reduce(d, axis=0, out=gb[i])
        if need_dx:
            grads[0] = self.d[0]
        return tuple(grads)

    def mask(self, g, out, target, i: int) -> None:
        """target <- g * (out > 0), as eager's ``g * greater(out, 0)``."""
        kernels = self.fused[i]
        if kernels is not None:
            kernels.relu_mask(g, out, target)
            return
        mask = self.b[i]
        _host.greater(out, _zero(out.dtype), out=mask)
        _host.multiply(g, mask, out=target)

    def mask_and_sum(self, g, out, target, bias, i: int):
        """target <- g * (out > 0) and its column sums (the bias gradient) in one compiled pass
        (:func:`.numba_kernels.relu_mask_sum`), into ``bias``'s gradient slot when the engine
        hands it out (then None is returned), else into a new array that is returned."""
        slot = claim_grad_slot(bias)
        total = _host.empty(g.shape[1], g.dtype) if slot is None else slot
        self.fused[i].relu_mask_sum(g, out, target, total)
        return total if slot is None else None

    def bias_gradient(self, g, bias, i: int):
        """The column sums of ``g`` into ``bias``'s gradient slot (then None is returned) or a
        new array (returned): a compiled pass for a C-contiguous g of two columns or more where
        the layer has the compiled kernels, else NumPy's ``add.reduce`` (the same order)."""
        slot = claim_grad_slot(bias)
        kernels = self.fused[i]
        if kernels is None or g.shape[1] < 2 or not g.flags.c_contiguous:
            total = _host.add.reduce(g, axis=0, out=slot)
        else:
            total = _host.empty(g.shape[1], g.dtype) if slot is None else slot
            kernels.column_sums(g, total)
        return total if slot is None else None

    def times_weight(self, g, weight, i: int):
        """G W into layer i's input-gradient array (the product eager's ``times_weight`` computes)."""
        if weight.shape[0] == 1:
            return _host.multiply(g, weight, out=self.d[i])
        return _host.matmul(g, weight, out=self.d[i])


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


# ------------------------------------------------------------------ the optimizer's step

def replayed_update(optimizer):
    """What a replay calls for ``optimizer.step()``: a :class:`ReplayedUpdate` for the
    flat-buffer optimizers of :mod:`chainrule.optim` that have a compiled update, else the
    optimizer's own ``step``."""
    cls = type(optimizer)
    if cls.step is not Optimizer.step or cls._compiled_update is None or not optimizer.flatten:
        return optimizer.step
    return ReplayedUpdate(optimizer)


class ReplayedUpdate:
    """``optimizer.step()`` for a replayed step: when every parameter of a chunk was updated
    together last time and has its gradient in its slot now (the optimizer's own test,
    ``as_last_time``), the chunk's update is the optimizer's compiled kernel over its flat
    buffers (:mod:`chainrule.optim.numba_kernels`, one call whatever the size: the optimizer
    itself takes it for large chunks only, to spare one-off steps numba's start) or, without
    numba, its NumPy update; anything else goes through the optimizer's general path. The
    kernels do the NumPy update's arithmetic in its order (tests/test_compiled_paths.py), so
    the parameters equal eager's to the bit. SGD's kernel arguments are kept from one replay
    to the next while the group's hyper-parameters stay the same (its scalars do not depend on
    the step count)."""

    def __init__(self, optimizer):
        self.optimizer = optimizer
        self.kernels = compiled_kernels.kernels("chainrule.optim.numba_kernels")
        self.sgd = type(optimizer) is SGD
        self.arguments: dict = {}  # id(chunk) -> (hyper-parameters, the SGD kernel's arguments)

    def __call__(self):
        opt = self.optimizer
        if len(opt._layouts) != len(opt.param_groups):
            return opt.step()
        kernels, state = self.kernels, opt.state
        for group, layout in zip(opt.param_groups, opt._layouts):
            buffers = opt._buffers(group)
            for chunk in layout:
                previous = chunk.full_run
                if previous is None or not chunk.as_last_time(previous, buffers, state):
                    opt._step_chunk(group, chunk, buffers)
                    continue
                step, _, entries = previous
                if kernels is not None and chunk.data.__class__ is _HOST_ARRAY:
                    if self.sgd:
                        kernels.sgd(*self.sgd_arguments(group, chunk, buffers))
                    else:
                        param, grad, arrays, _ = chunk.whole(buffers)
                        opt._compiled_update(kernels, group, param, grad, arrays, step + 1, ())
                else:
                    param, grad, arrays, work = chunk.whole(buffers)
                    opt._update(group, param, grad, arrays, step + 1, (), work)
                for entry in entries:
                    entry["step"] = step + 1
                chunk.full_run = (step + 1, buffers, entries)
        return None

    def sgd_arguments(self, group, chunk, buffers) -> tuple:
        """The arguments of ``numba_kernels.sgd`` as ``SGD._compiled_update`` makes them."""
        key = (group["lr"], group["weight_decay"], group["momentum"], group["dampening"], group["nesterov"],
               group["momentum_form"], buffers)
        use_momentum = group["momentum"] != 0
        name = "velocity" if group["momentum_form"] == "velocity" else "momentum_buffer"
        buffer = chunk.buffers[name] if use_momentum else None
        kept = self.arguments.get(id(chunk))
        if kept is not None and kept[0] == key:
            arguments = kept[1]  # the same arrays still (a loaded state is copied into them)
            if arguments[0] is chunk.data and arguments[1] is chunk.grad and (buffer is None or arguments[2] is buffer):
                return arguments
        cast, param = chunk.data.dtype.type, chunk.data
        if buffer is None:
            buffer = _host.empty(0, param.dtype)
        arguments = (param, chunk.grad, buffer, cast(group["lr"]), cast(group["weight_decay"]),
                     cast(group["momentum"]), cast(1 - group["dampening"]), use_momentum, False,
                     group["nesterov"], group["momentum_form"] == "velocity")
        self.arguments[id(chunk)] = (key, arguments)
        return arguments
