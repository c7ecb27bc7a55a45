"""A Linear layer as one graph node: y = x W^T + b.

Reference composition: ``matmul(x, W.T) + b`` (two nodes, :mod:`chainrule.engine.ops`);
this node gives the same values and gradients (tests/test_nn_fused.py) and writes dW and db
straight into the parameters' gradient slots when an optimizer keeps a flat buffer
(:mod:`chainrule.engine.autograd.grad_slots`).

Backward, G the upstream gradient: dx = G W (only when x needs it: a first layer's input
never does), dW = G^T x, db = G summed over the rows.

An input with leading dimensions (N, L, in) is multiplied as the (N L, in) matrix of its rows:
NumPy's matmul of a stack with a matrix calls BLAS once per block (32 calls of 128 rows for a
transformer batch, 15% slower on one thread, and with two OpenBLAS threads each call pays the
threads' hand-off). Large outputs come from :mod:`chainrule.engine.recycled` (no page faults step after step).
"""
from __future__ import annotations

from ...engine import backend, recycled
from ...engine.autograd import Function, claim_grad_slot
from .composed import ComposedBackward

__all__ = ["Linear", "linear_backward", "times_weight"]

_host = backend.host


_HOST_ARRAY = backend.host.ndarray


class Linear(ComposedBackward, Function):
    """y = x W^T + b with W of shape (out_features, in_features) (PyTorch's layout).

    x may have any number of leading dimensions (a 1-D x is one sample). Backward:
    dx = G W (only when x needs it: the first layer's input never does),
    dW = G^T x, db = G summed over the rows.
    """

    op = "linear"

    def forward(self, x, weight, *bias):
        self.x, self.weight = x, weight
        if x.ndim == 2 and x.shape[0] * weight.shape[0] < _SMALL:  # the common small case, nothing more
            out = x @ weight.T
        else:
            out = _product(x, weight)
        if bias:
            out += bias[0]  # out is a fresh array: add in place, no temporary
        return out

    def backward(self, grad):
        return linear_backward(self, grad)

    def reference(self, x, weight, *bias):
        out = x @ weight.mT
        return out + bias[0] if bias else out


_SMALL = 1 << 18  # outputs with fewer elements: no recycled buffer (its bookkeeping costs ~1 us)


def _product(x, weight):
    """x W^T for a large or stacked x: ONE product over all rows (see the module docstring),
    into a :mod:`chainrule.engine.recycled` array when large."""
    xp = backend.namespace_of(x)
    rows = x.reshape(-1, x.shape[-1]) if x.ndim > 2 else x
    out = recycled.empty(xp, rows.shape[:-1] + (weight.shape[0],), xp.result_type(rows, weight))
    xp.matmul(rows, weight.T, out=out)
    return out.reshape(x.shape[:-1] + (weight.shape[0],)) if x.ndim > 2 else out


def linear_backward(node, grad):
    """dx = G W, dW = G^T x, db = sum_rows G, each only where needed.

    dW and db go straight into the parameter's gradient slot when the engine offers
    one (:func:`chainrule.autograd.claim_grad_slot`): no allocation, no copy, and None
    is returned for that input, whose gradient is then already in place.
    """
    x, weight = node.x, node.weight
    needs = node.needs_input_grad
    out_features, in_features = weight.shape
    if grad.ndim != 2:  # a single sample or extra leading dims: work on rows
        grad = grad.reshape(-1, out_features)
        rows = x.reshape(-1, in_features)
    else:
        rows = x
    parents = node.parents
    host = grad.__class__ is _HOST_ARRAY
    grad_x = None
    if needs[0]:
        grad_x = times_weight(grad, weight)
        if grad_x.shape != x.shape:
            grad_x = grad_x.reshape(x.shape)
    grad_w = None
    if needs[1]:
        slot = claim_grad_slot(parents[1])
        if slot is None:
            grad_w = grad.T @ rows
        else:
            (_host if host else backend.namespace_of(grad)).matmul(grad.T, rows, out=slot)
    if len(needs) == 2:
        return grad_x, grad_w
    grad_b = None
    if needs[2]:
        slot = claim_grad_slot(parents[2])
        if host:  # the ufunc's own reduce skips ndarray.sum's Python wrapper
            grad_b = _host.add.reduce(grad, axis=0, out=slot)
        else:
            grad_b = grad.sum(axis=0, out=slot)
        if slot is not None:
            grad_b = None
    return grad_x, grad_w, grad_b


def times_weight(grad, weight):
    """G W for rows G (N, out) and W (out, in): the gradient with respect to a Linear
    layer's input. With one output (out = 1) this is the outer product of two vectors,
    which the broadcast product G * W computes exactly (every entry is one product) in
    a fraction of the time a matrix multiplication with an inner dimension of 1 takes.
    A large host result comes from :mod:`chainrule.engine.recycled`."""
    if weight.shape[0] == 1:
        return grad * weight
    if grad.__class__ is _HOST_ARRAY and grad.ndim == 2 and grad.shape[0] * weight.shape[1] >= _SMALL:
        return _host.matmul(grad, weight, out=recycled.empty(_host, (grad.shape[0], weight.shape[1]),
                                                              _host.result_type(grad, weight)))
    return grad @ weight
