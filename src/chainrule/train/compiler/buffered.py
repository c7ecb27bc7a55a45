"""Buffer-reusing replay forms of the small elementwise ops and of the regression loss.

An op's ``forward`` and ``backward`` return fresh arrays at every call. In a replayed step the
shapes never change (the guards re-trace when the inputs' would), so each node keeps the arrays
its first replay made and writes into them with ``out=`` at every later one: the same ufunc on
the same operands (a ``out=`` array of the result's own dtype and shape changes nothing in
NumPy's loop), so the same bits as eager execution, and no allocation per step
(tests/test_compile_fused.py counts it with tracemalloc).

The forms here cover what a loss written by hand records (``1 - y * s``, ``relu``, ``a + b``,
``l2 * penalty``; :class:`~chainrule.nn.fused.MSELoss`); the Linear [ReLU] chain's form is
:class:`.kernels.BufferedLinearChain`. Every form falls back to the op's own code for arrays
that are not NumPy's (CuPy).
"""
from __future__ import annotations

from ...engine import backend, compiled
from ...engine.ops.activations import ReLU
from ...engine.ops.arithmetic import Add, AddScalar, Mul, MulScalar, Neg, RSubScalar, Sub
from ...engine.ops.reduce import Mean, Sum
from ...nn.fused.cross_entropy import CrossEntropy
from ...nn.fused.penalties import L2Penalty
from ...nn.fused.reduction import reduce_losses, row_weights
from ...nn.fused.regression_losses import MSELoss

__all__ = ["BUFFERED"]

_host = backend.host
_HOST_ARRAY = _host.ndarray
_multiply, _add, _subtract = _host.multiply, _host.add, _host.subtract
_negative, _greater = _host.negative, _host.greater
_FLOATS = (_host.dtype(_host.float32), _host.dtype(_host.float64))
_KERNELS = "chainrule.train.compiler.numba_kernels"  # its relu_mask, once a chain has loaded it
_INTP = _host.dtype(_host.intp)
_PAIRWISE_BLOCK = 128  # numba_kernels.PAIRWISE_BLOCK (that module imports numba)


def _kept(result):
    """The array to keep for the next replays: the result itself when it is an array that owns
    its memory (the op made it), else a copy (a NumPy scalar becomes a 0-d array)."""
    if result.__class__ is _HOST_ARRAY and result.base is None:
        return result
    return _host.array(result)


def _first(node, result, a):
    """A forward's result on a first replay (or on arrays that are not NumPy's): kept as
    ``node.out`` when ``a`` is a NumPy array, so that the later replays write into it."""
    if a.__class__ is _HOST_ARRAY:
        node.out = result = _kept(result)
    return result


def _negated_into(node, grad):
    """−grad into ``node.negated`` (kept from the first replay, which makes it)."""
    negated = node.negated
    if negated is None:
        negated = node.negated = _kept(-grad)
        return negated
    return _negative(grad, out=negated)


class BufferedAdd(Add):
    out = None

    def forward(self, a, b):
        out = self.out
        if out is None or a.__class__ is not _HOST_ARRAY:
            return _first(self, a + b, a)
        return _add(a, b, out=out)


class BufferedSub(Sub):
    out = negated = None

    def forward(self, a, b):
        out = self.out
        if out is None or a.__class__ is not _HOST_ARRAY:
            return _first(self, a - b, a)
        return _subtract(a, b, out=out)

    def backward(self, grad):
        if not self.needs_input_grad[1] or grad.__class__ is not _HOST_ARRAY:
            return super().backward(grad)
        return grad, _negated_into(self, grad)


class BufferedMul(Mul):
    out = grad_a = grad_b = None

    def forward(self, a, b):
        self.a, self.b = a, b
        out = self.out
        if out is None or a.__class__ is not _HOST_ARRAY:
            return _first(self, a * b, a)
        return _multiply(a, b, out=out)

    def backward(self, grad):
        if grad.__class__ is not _HOST_ARRAY:
            return super().backward(grad)
        needs_a, needs_b = self.needs_input_grad
        grad_a = grad_b = None
        if needs_a:
            grad_a = self.grad_a
            if grad_a is None:
                grad_a = self.grad_a = _kept(grad * self.b)
            else:
                _multiply(grad, self.b, out=grad_a)
        if needs_b:
            grad_b = self.grad_b
            if grad_b is None:
                grad_b = self.grad_b = _kept(grad * self.a)
            else:
                _multiply(grad, self.a, out=grad_b)
        return grad_a, grad_b


class BufferedAddScalar(AddScalar):
    out = None

    def forward(self, a, c):
        out = self.out
        if out is None or a.__class__ is not _HOST_ARRAY:
            return _first(self, a + c, a)
        return _add(a, c, out=out)


class BufferedRSubScalar(RSubScalar):
    out = negated = None

    def forward(self, a, c):
        out = self.out
        if out is None or a.__class__ is not _HOST_ARRAY:
            return _first(self, c - a, a)
        return _subtract(c, a, out=out)

    def backward(self, grad):
        if grad.__class__ is not _HOST_ARRAY:
            return super().backward(grad)
        return (_negated_into(self, grad),)


class BufferedMulScalar(MulScalar):
    out = scaled = None

    def forward(self, a, c):
        self.c = c
        out = self.out
        if out is None or a.__class__ is not _HOST_ARRAY:
            return _first(self, a * c, a)
        return _multiply(a, c, out=out)

    def backward(self, grad):
        if grad.__class__ is not _HOST_ARRAY:
            return super().backward(grad)
        scaled = self.scaled
        if scaled is None:
            scaled = self.scaled = _kept(grad * self.c)
        else:
            _multiply(grad, self.c, out=scaled)
        return (scaled,)


class BufferedNeg(Neg):
    out = negated = None

    def forward(self, a):
        out = self.out
        if out is None or a.__class__ is not _HOST_ARRAY:
            return _first(self, -a, a)
        return _negative(a, out=out)

    def backward(self, grad):
        if grad.__class__ is not _HOST_ARRAY:
            return super().backward(grad)
        return (_negated_into(self, grad),)


class BufferedReLU(ReLU):
    """max(a, 0) into a kept array; backward ``grad * (out > 0)`` with the mask and the product
    in kept arrays (eager's ``maximum(a, 0)`` and ``grad * (out > 0)``)."""

    buffer = mask = masked = kernels = None

    def forward(self, a):
        out = self.buffer
        if out is None or a.__class__ is not _HOST_ARRAY:
            out = super().forward(a)
            if a.__class__ is _HOST_ARRAY:
                self.out = self.buffer = _kept(out)
            return self.out
        self.out = _host.maximum(a, 0, out=out)
        return out

    def backward(self, grad):
        if grad.__class__ is not _HOST_ARRAY or self.buffer is None:
            return super().backward(grad)
        masked = self.masked
        if masked is None:
            self.mask = _kept(self.out > 0)
            masked = self.masked = _kept(grad * self.mask)
            out = self.out
            same = grad.shape == out.shape == masked.shape and out.ndim == 2 and grad.dtype == out.dtype
            self.kernels = compiled.loaded(_KERNELS) if same else None
        elif self.kernels is not None and grad.flags.c_contiguous and self.out.flags.c_contiguous:
            self.kernels.relu_mask(grad, self.out, masked)  # the same product, without NumPy's cast buffer
        else:
            _greater(self.out, 0, out=self.mask)
            _multiply(grad, self.mask, out=masked)  # NumPy casts the mask through its own buffer
        return (masked,)


class BufferedMSELoss(MSELoss):
    """:class:`~chainrule.nn.fused.MSELoss`'s host path ("mean" or "sum") with the difference
    and the derivatives in kept arrays: ``x - y``, and ``diff * (2 G / n)`` (and its negative
    for ``y``), as the node computes them (its ``difference``, ``scaled_difference`` and
    ``negated_derivative``)."""

    diff_buffer = derivative_buffer = negated = None

    def difference(self, x, y):
        diff = self.diff_buffer
        if diff is None:
            diff = self.diff_buffer = _kept(x - y)
            return diff
        return _subtract(x, y, out=diff)

    def scaled_difference(self, scale):
        derivative = self.derivative_buffer
        if derivative is None:
            derivative = self.derivative_buffer = _kept(self.diff * scale)
            return derivative
        return _multiply(self.diff, scale, out=derivative)

    def negated_derivative(self, derivative):
        return _negated_into(self, derivative)


class BufferedSum(Sum):
    """``a.sum(axis, keepdims)`` of a float array as ``add.reduce`` into a kept array (the
    ufunc that ``ndarray.sum`` calls, without its Python layer); backward copies the gradient
    over the input's shape into a kept array (eager's broadcast view has the same values)."""

    out = spread_out = None

    def forward(self, a, axes, keepdim):
        self.setup(a, axes)
        if a.__class__ is not _HOST_ARRAY or a.dtype.kind != "f":
            return super().forward(a, axes, keepdim)
        out = self.out
        if out is None:
            out = self.out = _kept(a.sum(axis=axes, keepdims=keepdim))
            return out
        return _add.reduce(a, axis=axes, keepdims=keepdim, out=out)

    def backward(self, grad):
        if grad.__class__ is not _HOST_ARRAY or self.out is None:
            return super().backward(grad)
        return (self.fill(grad),)

    def fill(self, grad):
        spread = self.spread_out
        if spread is None or spread.dtype != grad.dtype:
            spread = self.spread_out = _host.empty(self.shape, grad.dtype)
            self.kept = self.kept_shape()
        _host.copyto(spread, grad.reshape(self.kept))
        return spread


class BufferedMean(BufferedSum, Mean):
    """``a.mean(axis, keepdims)`` of a float32/float64 array as NumPy's ``_mean`` computes it
    (``add.reduce``, then ``true_divide`` by the count as an ``intp``: in float64, rounded to
    the result's dtype) into a kept array; backward ``grad / count`` copied over the input's
    shape."""

    quotient = None

    def forward(self, a, axes, keepdim):
        self.setup(a, axes)
        if a.__class__ is not _HOST_ARRAY or a.dtype not in _FLOATS:
            return Mean.forward(self, a, axes, keepdim)
        out = self.out
        if out is None:
            out = self.out = _kept(a.mean(axis=axes, keepdims=keepdim))
            self.items = _host.intp(self.count)
            return out
        _add.reduce(a, axis=axes, keepdims=keepdim, out=out)
        return _host.true_divide(out, self.items, out=out, casting="unsafe")

    def backward(self, grad):
        if grad.__class__ is not _HOST_ARRAY or self.out is None:
            return Mean.backward(self, grad)
        quotient = self.quotient
        if quotient is None or quotient.shape != grad.shape or quotient.dtype != grad.dtype:
            quotient = self.quotient = _kept(grad / self.count)
        else:
            _host.true_divide(grad, self.count, out=quotient)
        return (self.fill(quotient),)


class BufferedL2Penalty(L2Penalty):
    """:class:`~chainrule.nn.fused.L2Penalty` with ``p * 2G`` written into kept arrays."""

    grads = None

    def backward(self, grad):
        if grad.__class__ is not _HOST_ARRAY:
            return super().backward(grad)
        twice = 2 * grad
        kept = self.grads
        if kept is None:
            kept = self.grads = [None] * len(self.params)
        out = []
        for k, (p, needed) in enumerate(zip(self.params, self.needs_input_grad)):
            if not needed:
                out.append(None)
            elif kept[k] is None:
                kept[k] = _kept(p * twice)
                out.append(kept[k])
            else:
                out.append(_multiply(p, twice, out=kept[k]))
        return tuple(out)


class BufferedCrossEntropy(CrossEntropy):
    """:class:`~chainrule.nn.fused.CrossEntropy`'s plain case (2-D logits, no class weights, no
    smoothing, no ignored target, "mean" or "sum") with every (N, C) and (N,) array kept: the
    row maxima, the shifted logits, their exponentials and sums, the picked logits (a gather at
    ``row * C + target``, the elements ``shifted[rows, t]`` reads) and, backward, ``exp *
    (scale / total)`` with the scale taken off at the targets (the elements ``dz[rows, t] -=
    scale`` updates); the same ufuncs in the same order as the node, so the same bits. Once
    numba is loaded (a large chain loads it), the passes between NumPy's ``exp`` and ``log`` and
    the whole backward are compiled calls (:mod:`.numba_kernels`: the same arithmetic per
    element, the sums in NumPy's pairwise order; at most 128 rows and classes)."""

    kept = None
    fused = False

    def forward(self, logits, target, weight, ignore_index, reduction, label_smoothing, ignored):
        if (logits.__class__ is not _HOST_ARRAY or logits.ndim != 2 or weight is not None or label_smoothing
                or ignored or reduction == "none" or logits.dtype not in _FLOATS):
            self.kept = None
            return super().forward(logits, target, weight, ignore_index, reduction, label_smoothing, ignored)
        n, classes = logits.shape
        kept = self.kept
        if kept is None or kept[1].shape != logits.shape or kept[1].dtype != logits.dtype:
            kept = self.kept = self.allocate(n, classes, logits.dtype)
        most, shifted, exp, total, log_total, index, picked, losses, rows, quotient, dz = kept
        t = target.reshape(-1)
        self.reduction, self.denominator = reduction, n
        self.exp, self.total, self.rows, self.t = exp, total, rows, t
        kernels = self.kernels
        if kernels is None and n and n <= _PAIRWISE_BLOCK and 0 < classes <= _PAIRWISE_BLOCK:
            kernels = self.kernels = compiled.loaded(_KERNELS) or False  # numba is started by the chain
        if kernels and t.__class__ is _HOST_ARRAY and t.dtype == _INTP and logits.flags.c_contiguous:
            kernels.softmax_shift(logits, shifted)
            _host.exp(shifted, out=exp)
            kernels.row_sums(exp, total)
            _host.log(total[:, 0], out=log_total)
            if kernels.picked_losses(log_total, shifted, t, losses, self.result, reduction == "mean"):
                self.fused = True
                self.layout, self.target_shape, self.smoothing, self.simple = None, target.shape, 0.0, True
                return self.loss
        self.fused = False
        _host.maximum.reduce(logits, axis=1, keepdims=True, out=most)
        _subtract(logits, most, out=shifted)
        _host.exp(shifted, out=exp)
        _add.reduce(exp, axis=1, keepdims=True, out=total)
        _host.log(total[:, 0], out=log_total)
        _multiply(rows, classes, out=index)
        _add(index, t, out=index)
        _host.take(shifted.reshape(-1), index, out=picked)
        _subtract(log_total, picked, out=losses)
        self.layout, self.target_shape, self.smoothing, self.simple = None, target.shape, label_smoothing, True
        return reduce_losses(losses, reduction, n, target.shape)

    def allocate(self, n: int, classes: int, dtype) -> tuple:
        empty = _host.empty
        self.result = _host.array([0, n], dtype)  # the loss, and the mean's denominator in the dtype
        self.loss = self.result[:1].reshape(())
        self.kernels = None
        return (empty((n, 1), dtype), empty((n, classes), dtype), empty((n, classes), dtype), empty((n, 1), dtype),
                empty(n, dtype), empty(n, _host.intp), empty(n, dtype), empty(n, dtype), _host.arange(n),
                empty((n, 1), dtype), empty((n, classes), dtype))

    def backward(self, grad):
        kept = self.kept
        if kept is None or grad.__class__ is not _HOST_ARRAY:
            return super().backward(grad)
        index, picked, quotient, dz = kept[5], kept[6], kept[9], kept[10]
        scale = row_weights(grad, self.reduction, self.denominator)
        if self.fused and scale.dtype == dz.dtype:
            self.kernels.cross_entropy_backward(self.exp, self.total, self.t, scale.reshape(1), quotient, dz)
            return (dz,)
        _host.true_divide(scale, self.total, out=quotient)
        _multiply(self.exp, quotient, out=dz)
        flat = dz.reshape(-1)
        _host.take(flat, index, out=picked)
        _subtract(picked, scale, out=picked)
        flat.put(index, picked)
        return (dz,)


#: op class -> its buffer-reusing replay form.
BUFFERED = {Add: BufferedAdd, Sub: BufferedSub, Mul: BufferedMul, AddScalar: BufferedAddScalar,
            RSubScalar: BufferedRSubScalar, MulScalar: BufferedMulScalar, Neg: BufferedNeg, ReLU: BufferedReLU,
            MSELoss: BufferedMSELoss, Sum: BufferedSum, Mean: BufferedMean, L2Penalty: BufferedL2Penalty,
            CrossEntropy: BufferedCrossEntropy}
