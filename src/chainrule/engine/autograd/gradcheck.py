"""gradcheck: the recorded gradient against float64 central differences.

For a function ``fn`` of tensors and every input ``x`` that requires grad, the derivative of
the scalar ``s(x) = sum(fn(x) * v)`` (``v`` a fixed random weighting, so that every output
element matters) with respect to each element ``x_j`` is estimated as
``(s(x + eps e_j) - s(x - eps e_j)) / (2 eps)`` (error O(eps^2)) and compared with what
backward recorded.
"""
from __future__ import annotations

from .. import backend
from ..tensor import Tensor, wrap
from .grad_mode import enable_grad, no_grad

__all__ = ["gradcheck", "GradcheckError"]


class GradcheckError(AssertionError):
    """The recorded gradient disagrees with central finite differences."""


def gradcheck(fn, *inputs, eps: float = 1e-6, atol: float = 1e-5, rtol: float = 1e-3) -> bool:
    """Compare the autodiff gradient of ``fn`` with float64 central differences.

    For every input ``x`` that requires grad and every element ``x_j``,
    the numerical derivative of the scalar ``s(x) = sum(fn(x) * v)`` (``v`` a fixed
    random weighting, so every output element matters) is
    ``(s(x + eps e_j) - s(x - eps e_j)) / (2 eps)``, which has error O(eps^2).
    It must match the recorded gradient within ``atol + rtol * |numerical|``.

    Inputs must be float64 tensors (float32 has too few digits for differences).
    Returns True, or raises :class:`GradcheckError` naming the input, the worst
    element's index, both values and the op under test (the output's ``grad_fn``).
    """
    tensors = [x for x in inputs if isinstance(x, Tensor) and x.requires_grad]
    if not tensors:
        raise ValueError("gradcheck: no input requires grad; pass tensors created with requires_grad=True")
    for position, x in enumerate(tensors):
        if x.dtype != backend.float64:
            raise TypeError(
                f"gradcheck: input {position} has dtype {x.dtype}; central differences "
                f"need float64 inputs (use .double())"
            )
    output = fn(*inputs)
    xp = backend.namespace_of(output.data)
    weights = xp.asarray(
        backend.host.random.default_rng(0).standard_normal(output.shape), dtype=output.data.dtype
    )
    op = output.grad_fn.op if output.grad_fn is not None else "identity"
    analytic = _analytic_gradients(fn, inputs, tensors, weights)
    for position, (x, recorded) in enumerate(zip(tensors, analytic)):
        numerical = _numerical_gradient(fn, inputs, x, weights, eps)
        _compare_gradients(op, position, recorded, numerical, atol, rtol)
    return True


def _weighted_sum(fn, inputs, weights):
    output = fn(*inputs)
    return (output * wrap(weights)).sum()


def _analytic_gradients(fn, inputs, tensors, weights):
    saved = [x.grad for x in tensors]
    for x in tensors:
        x.grad = None
    with enable_grad():
        _weighted_sum(fn, inputs, weights).backward()
    grads = []
    for x, previous in zip(tensors, saved):
        grads.append(x.grad.data.copy() if x.grad is not None else backend.namespace_of(x.data).zeros_like(x.data))
        x.grad = previous
    return grads


def _numerical_gradient(fn, inputs, x, weights, eps):
    xp = backend.namespace_of(x.data)
    original = x.data
    perturbed = original.copy()
    flat = perturbed.reshape(-1)  # a view: writing to flat writes to perturbed
    grad = xp.zeros(original.size, dtype=original.dtype)
    try:
        x.data = perturbed
        with no_grad():
            for j in range(flat.size):
                keep = flat[j].copy()
                flat[j] = keep + eps
                plus = _weighted_sum(fn, inputs, weights).item()
                flat[j] = keep - eps
                minus = _weighted_sum(fn, inputs, weights).item()
                flat[j] = keep
                grad[j] = (plus - minus) / (2 * eps)
    finally:
        x.data = original
    return grad.reshape(original.shape)


def _compare_gradients(op, position, recorded, numerical, atol, rtol):
    xp = backend.namespace_of(numerical)
    error = xp.abs(recorded - numerical) - (atol + rtol * xp.abs(numerical))
    if error.size == 0 or float(error.max()) <= 0:
        return
    worst = tuple(int(i) for i in xp.unravel_index(int(xp.argmax(error)), error.shape))
    raise GradcheckError(
        f"gradcheck failed for {op}: gradient of input {position} at index {worst}: "
        f"autodiff {float(recorded[worst]):.10g} vs central difference "
        f"{float(numerical[worst]):.10g} (atol={atol}, rtol={rtol})"
    )
