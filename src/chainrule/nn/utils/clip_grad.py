"""Gradient clipping, in place on the parameters' ``.grad`` (PyTorch's ``torch.nn.utils``).

**By norm.** With the gradients g_1 … g_k of the parameters that have one and p = ``norm_type``,

    N = ‖(‖g_1‖_p, …, ‖g_k‖_p)‖_p           (for finite p > 0: (Σ_i Σ_j |g_ij|^p)^(1/p);
                                             p = inf: max_ij |g_ij|)
    c = min(max_norm / (N + 1e-6), 1)
    g_i ← c g_i

so the gradient as a whole has norm at most ``max_norm`` and keeps its direction: a step of
gradient descent is shortened, never turned (Pascanu, Mikolov & Bengio 2013, "On the
difficulty of training recurrent neural networks"). ``clip_grad_norm_`` returns N, the norm
BEFORE clipping (as PyTorch, computed in the gradients' dtype in the same two stages).

**By value.** ``clip_grad_value_`` clamps every gradient coordinate into
[-clip_value, clip_value]; this changes the direction.
"""
from __future__ import annotations

import math

from ...engine import backend
from ...engine.tensor import Tensor, wrap

__all__ = ["clip_grad_norm_", "clip_grad_value_", "total_grad_norm", "clip_grads_with_norm_"]

_np = backend.host


def clip_grad_norm_(parameters, max_norm, norm_type=2.0, error_if_nonfinite: bool = False, foreach=None) -> Tensor:
    """Scale the gradients of ``parameters`` in place so that their total ``norm_type``-norm
    is at most ``max_norm``; returns the total norm before clipping (a 0-d Tensor).

    Args:
        parameters: a Tensor or an iterable of Tensors (``model.parameters()``); those
            without a gradient are skipped.
        max_norm: the largest norm allowed.
        norm_type: p of the p-norm: 2.0 (default), 1.0, any p > 0, or ``float("inf")``
            (the largest absolute coordinate).
        error_if_nonfinite: raise ``RuntimeError`` when the total norm is NaN or inf
            instead of scaling by it (which turns every gradient into NaN or 0).
        foreach: accepted for PyTorch compatibility and ignored.

    Same values as ``torch.nn.utils.clip_grad_norm_`` (see the module docstring for the
    formula). With no gradients at all it returns ``tensor(0.)`` and changes nothing.
    """
    grads = _grads(parameters)
    if not grads:
        return wrap(_np.zeros((), _np.float32))
    max_norm, norm_type = float(max_norm), float(norm_type)
    total = total_grad_norm(grads, norm_type)
    if error_if_nonfinite and not math.isfinite(float(total)):
        raise RuntimeError(
            f"The total norm of order {norm_type} for gradients from `parameters` is non-finite, so it "
            f"cannot be clipped. To disable this error and scale the gradients by the non-finite norm "
            f"anyway, set `error_if_nonfinite=False`"
        )
    clip_grads_with_norm_(grads, max_norm, total)
    return wrap(backend.move(_np.asarray(total), backend.device_of(grads[0])))


def clip_grad_value_(parameters, clip_value, foreach=None) -> None:
    """Clamp every gradient coordinate of ``parameters`` into [-clip_value, clip_value], in
    place (``torch.nn.utils.clip_grad_value_``; ``foreach`` is ignored)."""
    clip_value = float(clip_value)
    for grad in _grads(parameters):
        backend.namespace_of(grad).clip(grad, -clip_value, clip_value, out=grad)


def total_grad_norm(grads: list, norm_type: float = 2.0):
    """N = ‖(‖g_1‖_p, …, ‖g_k‖_p)‖_p over the gradient arrays ``grads``, as a 0-d host array
    of their common dtype (each ‖g_i‖_p in its own dtype first, as PyTorch)."""
    dtype = _np.result_type(*[grad.dtype for grad in grads])
    with _np.errstate(over="ignore"):  # a norm too large for the dtype is inf, as in PyTorch
        norms = _np.array([backend.to_host(_vector_norm(grad, norm_type)) for grad in grads], dtype=dtype)
        return _vector_norm(norms, norm_type)


def clip_grads_with_norm_(grads: list, max_norm: float, total_norm) -> None:
    """g_i ← min(max_norm / (N + 1e-6), 1) g_i in place, for the gradient arrays ``grads``
    whose total norm N (in their dtype) is ``total_norm``."""
    total = _np.asarray(total_norm)
    cast = total.dtype.type
    coefficient = _np.minimum(cast(max_norm) / (total + cast(1e-6)), cast(1.0))
    if coefficient == 1:  # min(…, 1) = 1: multiplying by 1 would change nothing
        return
    with _np.errstate(invalid="ignore"):  # an infinite norm gives c = 0, and inf · 0 = NaN (as PyTorch)
        for grad in grads:
            grad *= grad.dtype.type(coefficient)


def _vector_norm(array, p: float):
    """‖array‖_p over all coordinates, in the array's dtype (PyTorch's ``vector_norm``)."""
    xp = backend.namespace_of(array)
    flat = array.reshape(-1)
    if p == 2:
        return xp.sqrt(xp.vdot(flat, flat).real) if flat.dtype.kind == "c" else xp.sqrt(xp.dot(flat, flat))
    magnitude = xp.abs(flat)
    if p == math.inf:
        return magnitude.max() if magnitude.size else xp.zeros((), array.dtype)
    if p == -math.inf:
        return magnitude.min() if magnitude.size else xp.asarray(math.inf, array.dtype)
    if p == 0:
        return xp.count_nonzero(magnitude).astype(array.dtype)
    if p == 1:
        return magnitude.sum()
    return (magnitude ** array.dtype.type(p)).sum() ** array.dtype.type(1 / p)


def _grads(parameters) -> list:
    """The gradient arrays of ``parameters`` (a Tensor or an iterable of them) that have one."""
    if isinstance(parameters, Tensor):
        parameters = [parameters]
    grads = []
    for position, p in enumerate(parameters):
        if not isinstance(p, Tensor):
            raise TypeError(f"expected Tensors as parameters; parameters[{position}] is a {type(p).__name__}")
        if p.grad is not None:
            grads.append(p.grad.data)
    return grads
