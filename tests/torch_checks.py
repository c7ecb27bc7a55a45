"""Helpers for the op tests that run one function in chainrule and in PyTorch: the inputs,
contiguous or as strided views, and the comparison of forward values and of the gradients of
``sum(out * w)`` for a random ``w``. Used by the tests of reductions, scans, sorting, the
elementwise functions and activations."""
from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr

torch = pytest.importorskip("torch")

DTYPES = ["float32", "float64"]
LAYOUTS = ["contiguous", "strided"]


def arrange(values, dtype, layout) -> np.ndarray:
    """``values`` as an array of ``dtype``, contiguous or as a strided (non-contiguous) view
    (0-d and one-element arrays stay contiguous)."""
    values = np.asarray(values, dtype=dtype)
    if layout == "contiguous" or values.size < 2:
        return values.copy()
    buffer = np.zeros(values.shape + (2,), dtype=dtype)
    buffer[..., 0] = values
    view = buffer[..., 0]
    assert not view.flags.c_contiguous
    return view


def check_against_torch(ours, theirs, arrays, dtype, layout, tolerance: dict, seed=0) -> None:
    """``ours(*xs)`` and ``theirs(*ts)`` on the same inputs (one leaf per array in ``arrays``):
    equal shapes, dtypes and values, and equal gradients of sum(out * w) for every input,
    to ``tolerance`` (``rtol``, ``atol``)."""
    laid = [arrange(a, dtype, layout) for a in arrays]
    xs = [cr.from_numpy(a).requires_grad_() for a in laid]
    ts = [torch.tensor(a.copy(), requires_grad=True) for a in laid]
    out, expected = ours(*xs), theirs(*ts)
    assert out.shape == tuple(expected.shape) and str(out.dtype) == dtype
    np.testing.assert_allclose(out.numpy(), expected.detach().numpy(), **tolerance)
    assert out.requires_grad
    weights = np.random.default_rng(seed).standard_normal(out.shape).astype(dtype)
    (out * cr.tensor(weights)).sum().backward()
    (expected * torch.from_numpy(weights)).sum().backward()
    for x, t in zip(xs, ts):
        assert x.grad.shape == x.shape and x.grad.dtype == x.dtype
        np.testing.assert_allclose(x.grad.numpy(), t.grad.numpy(), **tolerance)
