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

__all__ = ["gradcheck", "gradgradcheck", "GradcheckError"]


class GradcheckError(AssertionError):
    """The recorded gradient disagrees with central finite differences."""


def gradcheck(fn, *inputs, eps: float = 1e-6, atol: float = 1e-5, rtol: float = 1e-3) -> bool:
    """Compare the autodiff gradient of ``fn`` with float64 central differences.

    ``gradcheck(fn, x, w)`` and PyTorch's ``gradcheck(fn, (x, w))`` are the same call.

    For every input ``x`` that requires grad and every element ``x_j``,
    the numerical derivative of the scalar ``s(x) = sum(fn(x) * v)`` (``v`` a fixed
    random weighting, so every output element matters) is
    ``(s(x + eps e_j) - s(x - eps e_j)) / (2 eps)``, which has error O(eps^2).
    It must match the recorded gradient within ``atol + rtol * |numerical|``. ``fn`` may
    return a tuple of tensors: then s sums such a term for each.

    Inputs must be float64 tensors (float32 has too few digits for differences).
    Returns True, or raises :class:`GradcheckError` naming the input, the worst
    element's index, both values and the op under test (the output's ``grad_fn``).
    """
    inputs = _unpacked(inputs)
    tensors = [x for x in inputs if isinstance(x, Tensor) and x.requires_grad]
    if not tensors:
        raise ValueError("gradcheck: no input requires grad; pass tensors created with requires_grad=True")
    for position, x in enumerate(tensors):
        if x.dtype != backend.float64:
            raise TypeError(
                f"gradcheck: input {position} has dtype {x.dtype}; central differences "
                f"need float64 inputs (use .double())"
            )
    outputs = _outputs(fn(*inputs))
    rng = backend.host.random.default_rng(0)
    weights = [backend.namespace_of(o.data).asarray(rng.standard_normal(o.shape), dtype=o.data.dtype) for o in outputs]
    op = ", ".join(o.grad_fn.op if o.grad_fn is not None else "identity" for o in outputs)
    analytic = _analytic_gradients(fn, inputs, tensors, weights)
    for position, (x, recorded) in enumerate(zip(tensors, analytic)):
        numerical = _numerical_gradient(fn, inputs, x, weights, eps)
        _compare_gradients(op, position, recorded, numerical, atol, rtol)
    return True


def gradgradcheck(fn, *inputs, grad_outputs=None, eps: float = 1e-6, atol: float = 1e-5,
                  rtol: float = 1e-3) -> bool:
    """Check second derivatives: :func:`gradcheck` of the map from the inputs (and the upstream
    gradient v) to the gradient ``grad(fn(inputs), inputs, v, create_graph=True)``, as
    PyTorch's ``gradgradcheck``. Every op whose gradient this differentiates must implement
    ``backward_graph``. ``v`` (``grad_outputs``) defaults to a fixed random float64 tensor
    that requires grad, so derivatives with respect to it are checked too.
    """
    inputs = _unpacked(inputs)
    from .grad import grad  # noqa: PLC0415 - grad builds on gradcheck's package, not on this module

    count = len(inputs)
    needs = [i for i, x in enumerate(inputs) if isinstance(x, Tensor) and x.requires_grad]
    if not needs:
        raise ValueError("gradgradcheck: no input requires grad; pass tensors created with requires_grad=True")
    if grad_outputs is None:
        shape = fn(*inputs).shape
        grad_outputs = wrap(backend.host.random.default_rng(1).standard_normal(shape), True)
    elif not isinstance(grad_outputs, Tensor):
        raise TypeError("gradgradcheck: grad_outputs must be a Tensor")

    def first_derivatives(*args):
        values, v = args[:count], args[count]
        with enable_grad():
            out = fn(*values)
            grads = grad(out, [values[i] for i in needs], v, create_graph=True, allow_unused=True)
        return tuple(g for g in grads if g is not None)

    return gradcheck(first_derivatives, *inputs, grad_outputs, eps=eps, atol=atol, rtol=rtol)


def _unpacked(inputs: tuple) -> tuple:
    """Accept PyTorch's single tuple of inputs as well as separate arguments."""
    if len(inputs) == 1 and isinstance(inputs[0], (tuple, list)):
        return tuple(inputs[0])
    return inputs


def _outputs(result) -> list:
    """``fn``'s result as a list of tensors (a tensor, or a tuple of them, as in PyTorch)."""
    if isinstance(result, Tensor):
        return [result]
    return [o for o in result if o is not None]


def _weighted_sum(fn, inputs, weights):
    total = None
    for output, w in zip(_outputs(fn(*inputs)), weights):
        term = (output * wrap(w)).sum()
        total = term if total is None else total + term
    return total


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
