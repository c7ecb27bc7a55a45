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

from ...engine import backend
from ...engine.ops.activations import ReLU
from ...engine.ops.arithmetic import Add, AddScalar, Mul, MulScalar, Neg, RSubScalar, Sub
from ...nn.fused.regression_losses import MSELoss

__all__ = ["BUFFERED"]

_host = backend.host
_HOST_ARRAY = _host.ndarray
_multiply, _add, _subtract = _host.multiply, _host.add, _host.subtract
_negative, _greater = _host.negative, _host.greater


def _kept(result):
    """The array to keep for the next replays: the result itself when it is an array that owns
    its memory (the op made it), else a copy (a NumPy scalar becomes a 0-d array)."""
    if result.__class__ is _HOST_ARRAY and result.base is None:
        return result
    return _host.array(result)


class BufferedAdd(Add):
    out = None

    def forward(self, a, b):
        out = self.out
        if out is None or a.__class__ is not _HOST_ARRAY:
            out = a + b
            if a.__class__ is _HOST_ARRAY:
                self.out = _kept(out)
                return self.out
            return out
        return _add(a, b, out=out)


class BufferedSub(Sub):
    out = negated = None

    def forward(self, a, b):
        out = self.out
        if out is None or a.__class__ is not _HOST_ARRAY:
            out = a - b
            if a.__class__ is _HOST_ARRAY:
                self.out = _kept(out)
                return self.out
            return out
        return _subtract(a, b, out=out)

    def backward(self, grad):
        if not self.needs_input_grad[1] or grad.__class__ is not _HOST_ARRAY:
            return super().backward(grad)
        negated = self.negated
        if negated is None:
            negated = self.negated = _kept(-grad)
        else:
            _negative(grad, out=negated)
        return grad, negated


class BufferedMul(Mul):
    out = grad_a = grad_b = None

    def forward(self, a, b):
        self.a, self.b = a, b
        out = self.out
        if out is None or a.__class__ is not _HOST_ARRAY:
            out = a * b
            if a.__class__ is _HOST_ARRAY:
                self.out = _kept(out)
                return self.out
            return out
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
            out = a + c
            if a.__class__ is _HOST_ARRAY:
                self.out = _kept(out)
                return self.out
            return out
        return _add(a, c, out=out)


class BufferedRSubScalar(RSubScalar):
    out = negated = None

    def forward(self, a, c):
        out = self.out
        if out is None or a.__class__ is not _HOST_ARRAY:
            out = c - a
            if a.__class__ is _HOST_ARRAY:
                self.out = _kept(out)
                return self.out
            return out
        return _subtract(c, a, out=out)

    def backward(self, grad):
        if grad.__class__ is not _HOST_ARRAY:
            return super().backward(grad)
        negated = self.negated
        if negated is None:
            negated = self.negated = _kept(-grad)
        else:
            _negative(grad, out=negated)
        return (negated,)


class BufferedMulScalar(MulScalar):
    out = scaled = None

    def forward(self, a, c):
        self.c = c
        out = self.out
        if out is None or a.__class__ is not _HOST_ARRAY:
            out = a * c
            if a.__class__ is _HOST_ARRAY:
                self.out = _kept(out)
                return self.out
            return out
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
            out = -a
            if a.__class__ is _HOST_ARRAY:
                self.out = _kept(out)
                return self.out
            return out
        return _negative(a, out=out)

    def backward(self, grad):
        if grad.__class__ is not _HOST_ARRAY:
            return super().backward(grad)
        negated = self.negated
        if negated is None:
            negated = self.negated = _kept(-grad)
        else:
            _negative(grad, out=negated)
        return (negated,)


class BufferedReLU(ReLU):
    """max(a, 0) into a kept array; backward ``grad * (out > 0)`` with the mask and the product
    in kept arrays (eager's ``maximum(a, 0)`` and ``grad * (out > 0)``)."""

    buffer = mask = masked = None

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
        else:
            _greater(self.out, 0, out=self.mask)
            _multiply(grad, self.mask, out=masked)
        return (masked,)


class BufferedMSELoss(MSELoss):
    """:class:`~chainrule.nn.fused.MSELoss`'s host path ("mean" or "sum") with the difference
    and the derivatives in kept arrays: ``x - y``, its dot product with itself, and
    ``diff * (2 G / n)`` (and its negative for ``y``), as the node computes them."""

    diff_buffer = derivative = negated = None

    def forward(self, x, y, reduction, delta=None):
        if reduction == "none" or x.__class__ is not _HOST_ARRAY or x.size == 0:
            return super().forward(x, y, reduction, delta)
        diff = self.diff_buffer
        if diff is None:
            diff = self.diff_buffer = _kept(x - y)
        else:
            _subtract(x, y, out=diff)
        self.diff, self.reduction, self.delta = diff, reduction, delta
        self.count, self.shape = diff.size, diff.shape
        total = _host.vdot(diff, diff)
        if reduction == "mean":
            total = total / self.count
        return _host.asarray(total, dtype=diff.dtype)

    def backward(self, grad):
        if self.reduction == "none" or grad.__class__ is not _HOST_ARRAY or self.count == 0:
            return super().backward(grad)
        scale = 2.0 * float(grad)
        if self.reduction == "mean":
            scale /= self.count
        derivative = self.derivative
        if derivative is None:
            derivative = self.derivative = _kept(self.diff * scale)
        else:
            _multiply(self.diff, scale, out=derivative)
        needs_x, needs_y = self.needs_input_grad
        negated = None
        if needs_y:
            negated = self.negated
            if negated is None:
                negated = self.negated = _kept(-derivative)
            else:
                _negative(derivative, out=negated)
        return derivative if needs_x else None, negated


#: op class -> its buffer-reusing replay form.
BUFFERED = {Add: BufferedAdd, Sub: BufferedSub, Mul: BufferedMul, AddScalar: BufferedAddScalar,
            RSubScalar: BufferedRSubScalar, MulScalar: BufferedMulScalar, Neg: BufferedNeg, ReLU: BufferedReLU,
            MSELoss: BufferedMSELoss}
