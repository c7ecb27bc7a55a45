"""PyTorch as the oracle for the linear-algebra tests: the same function of the same numbers in
chainrule and in torch, compared in values, gradients and (optionally) second derivatives.

``against_torch(cr_fn, torch_fn, arrays, dtype, layout)`` builds leaves from ``arrays`` in
``dtype`` (float32 or float64), contiguous or non-contiguous (a strided view: the op really
receives strided memory), runs both functions, backpropagates the same random upstream
gradient, and asserts equal outputs and gradients within the dtype's tolerances. With
``second_order=True`` it also compares a Hessian-vector product: the gradient of
sum(w * dL/dx) for a fixed random w, through ``create_graph=True`` in both libraries.
"""
from __future__ import annotations

import numpy as np

import chainrule as cr

#: (rtol, atol) for comparing with torch, per dtype.
TOLERANCES = {np.float64: (1e-9, 1e-10), np.float32: (2e-4, 2e-5)}


def strided(array, dtype) -> np.ndarray:
    """``array``'s values in ``dtype``, as a non-contiguous view (a transposed view of every other
    element of a larger buffer)."""
    array = np.asarray(array, dtype=dtype)
    if array.ndim == 0:
        return array.copy()
    buffer = np.full(tuple(2 * n for n in array.shape[::-1]), np.nan, dtype=dtype)
    view = buffer[(slice(None, None, 2),) * array.ndim]
    view[...] = array.T
    return view.T


def leaves(arrays, dtype, layout="contiguous"):
    """(chainrule leaves, torch leaves) of the same values."""
    torch = __import__("torch")
    made_cr, made_torch = [], []
    for array in arrays:
        data = strided(array, dtype) if layout == "noncontiguous" else np.array(array, dtype=dtype)
        if layout == "noncontiguous" and data.size > 1:
            assert not data.flags.c_contiguous
        made_cr.append(cr.from_numpy(data).requires_grad_(True))
        made_torch.append(torch.tensor(np.array(array, dtype=dtype), requires_grad=True))
    return made_cr, made_torch


def outputs_of(result) -> list:
    """A function's result as a list of tensors."""
    return list(result) if isinstance(result, (tuple, list)) else [result]


def assert_close(actual, expected, dtype, scale=1.0):
    rtol, atol = TOLERANCES[dtype]
    np.testing.assert_allclose(actual, expected, rtol=rtol * scale, atol=atol * scale)


def against_torch(cr_fn, torch_fn, arrays, dtype=np.float64, layout="contiguous", scale=1.0,
                  second_order=False, seed=0):
    """Assert that ``cr_fn`` and ``torch_fn`` agree on ``arrays`` in values and gradients (and in a
    Hessian-vector product with ``second_order``); ``scale`` widens the tolerances."""
    torch = __import__("torch")
    xs, ts = leaves(arrays, dtype, layout)
    out_cr = outputs_of(cr_fn(*xs))
    out_torch = outputs_of(torch_fn(*ts))
    assert len(out_cr) == len(out_torch)
    rng = np.random.default_rng(seed)
    seeds = [rng.standard_normal(tuple(o.shape)).astype(dtype) for o in out_torch]
    for o, e in zip(out_cr, out_torch):
        assert tuple(o.shape) == tuple(e.shape)
        assert o.dtype == np.dtype(dtype)
        assert_close(o.numpy(), e.detach().numpy(), dtype, scale)
    grads_cr = cr.autograd.grad(out_cr, xs, [cr.tensor(s) for s in seeds], create_graph=second_order,
                                allow_unused=True)
    grads_torch = torch.autograd.grad(out_torch, ts, [torch.tensor(s) for s in seeds], create_graph=second_order,
                                      allow_unused=True)
    for g, e, x in zip(grads_cr, grads_torch, xs):
        expected = np.zeros(x.shape, dtype) if e is None else e.detach().numpy(force=True)
        assert g is None or g.dtype == np.dtype(dtype)
        assert_close(np.zeros(x.shape, dtype) if g is None else g.numpy(), expected, dtype, scale)
    if second_order:
        _hessian_vector_products(grads_cr, grads_torch, xs, ts, dtype, scale, rng)
    return out_cr


def _hessian_vector_products(grads_cr, grads_torch, xs, ts, dtype, scale, rng):
    torch = __import__("torch")
    weights = [rng.standard_normal(tuple(x.shape)).astype(dtype) for x in xs]
    total_cr = sum((g * cr.tensor(w)).sum() for g, w in zip(grads_cr, weights) if g is not None)
    pairs = [(g, w) for g, w in zip(grads_torch, weights) if g is not None and g.requires_grad]
    if not pairs:  # the gradient does not depend on the inputs (a linear op)
        return
    total_torch = sum((g * torch.tensor(w)).sum() for g, w in pairs)
    if isinstance(total_cr, cr.Tensor) and total_cr.requires_grad:
        second_cr = cr.autograd.grad(total_cr, xs, allow_unused=True)
    else:  # chainrule recorded no dependence on the inputs: torch's must be zero
        second_cr = [None] * len(xs)
    second_torch = torch.autograd.grad(total_torch, ts, allow_unused=True)
    for g, e, x in zip(second_cr, second_torch, xs):
        actual = np.zeros(x.shape, dtype) if g is None else g.numpy()
        expected = np.zeros(x.shape, dtype) if e is None else e.detach().numpy(force=True)
        assert_close(actual, expected, dtype, scale)


def well_conditioned(shape, seed=0) -> np.ndarray:
    """Square matrices (shape (*, n, n)) with singular values kept away from 0: random plus n I."""
    rng = np.random.default_rng(seed)
    n = shape[-1]
    return rng.standard_normal(shape) + n * np.eye(n)


def positive_definite(shape, seed=0) -> np.ndarray:
    """Symmetric positive-definite matrices: X X^T + n I."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(shape)
    return x @ np.swapaxes(x, -1, -2) + shape[-1] * np.eye(shape[-1])
