"""Running one program in chainrule and in PyTorch and comparing values and gradients.

A *program* is ``fn(ns, *leaves)``: ``ns`` is the module (``chainrule`` or ``torch``), so one
lambda spelled with the shared names (``ns.gather(x, 1, ns.tensor(I))``, ``x.flip(0)``) runs in
both. The leaves come from float64 NumPy arrays, converted to the dtype under test; in the
"noncontiguous" layout chainrule's leaves are strided views (no copy), so the op really
receives non-contiguous memory. Used by the tests of the gathering, scattering, masking and
rearranging ops.
"""
from __future__ import annotations

import numpy as np
import pytest
from conftest import GRADCHECK

import chainrule as cr
from chainrule.autograd import gradcheck, gradgradcheck

torch = pytest.importorskip("torch")

DTYPES = ["float32", "float64"]
LAYOUTS = ["contiguous", "noncontiguous"]
TOLERANCE = {"float32": {"rtol": 1e-5, "atol": 1e-6}, "float64": {"rtol": 1e-12, "atol": 1e-12}}


def strided(values, dtype) -> np.ndarray:
    """``values`` in ``dtype`` as a NON-contiguous view: the transpose of every other element
    of a buffer of the reversed shape (0-d and one-element arrays stay contiguous)."""
    values = np.asarray(values, dtype=dtype)
    if values.ndim == 0:
        return values.copy()
    buffer = np.zeros(tuple(2 * n for n in values.shape[::-1]), dtype=dtype)
    view = buffer[(slice(None, None, 2),) * values.ndim]
    view[...] = values.T
    return view.T


def chainrule_leaf(values, dtype: str, layout: str):
    if layout == "noncontiguous":
        return cr.from_numpy(strided(values, dtype)).requires_grad_()
    return cr.tensor(np.asarray(values, dtype=dtype), requires_grad=True)


def torch_leaf(values, dtype: str):
    return torch.tensor(np.asarray(values, dtype=dtype), requires_grad=True)


def _outputs(result) -> list:
    return list(result) if isinstance(result, (tuple, list)) else [result]


def _numpy(t) -> np.ndarray:
    return t.detach().numpy() if isinstance(t, torch.Tensor) else t.numpy()


def check_parity(fn, arrays, dtype: str = "float64", layout: str = "contiguous", seed: int = 0, grads: bool = True):
    """Run ``fn`` in both libraries on leaves made from ``arrays``: the outputs (values, shapes,
    dtypes) and, with ``grads``, the gradients of a random weighting of them must agree.
    Returns chainrule's outputs."""
    ours = [chainrule_leaf(a, dtype, layout) for a in arrays]
    theirs = [torch_leaf(a, dtype).requires_grad_(grads) for a in arrays]
    out_ours, out_theirs = _outputs(fn(cr, *ours)), _outputs(fn(torch, *theirs))
    assert len(out_ours) == len(out_theirs)
    rng = np.random.default_rng(seed)
    loss_ours = loss_theirs = None
    for a, b in zip(out_ours, out_theirs):
        assert tuple(a.shape) == tuple(b.shape), (a.shape, b.shape)
        assert str(a.dtype) == str(b.dtype).removeprefix("torch."), (a.dtype, b.dtype)
        np.testing.assert_allclose(_numpy(a), _numpy(b), **TOLERANCE[dtype])
        if not b.requires_grad:
            assert a.grad_fn is None or not grads
            continue
        weights = rng.standard_normal(tuple(a.shape)).astype(dtype)
        term_ours, term_theirs = (a * cr.tensor(weights)).sum(), (b * torch.tensor(weights)).sum()
        loss_ours = term_ours if loss_ours is None else loss_ours + term_ours
        loss_theirs = term_theirs if loss_theirs is None else loss_theirs + term_theirs
    if loss_theirs is not None:
        loss_ours.backward()
        loss_theirs.backward()
        for a, b in zip(ours, theirs):
            expected = np.zeros(b.shape, dtype=dtype) if b.grad is None else b.grad.numpy()
            got = np.zeros(b.shape, dtype=dtype) if a.grad is None else a.grad.numpy()
            assert got.dtype == expected.dtype
            np.testing.assert_allclose(got, expected, **TOLERANCE[dtype])
    return out_ours


def check_gradients(fn, arrays) -> None:
    """gradcheck and gradgradcheck of ``fn(chainrule, *leaves)`` in float64."""
    leaves = [cr.tensor(np.asarray(a, dtype=np.float64), requires_grad=True) for a in arrays]

    def program(*xs):
        out = fn(cr, *xs)
        if isinstance(out, (tuple, list)):  # several outputs (split): one vector for gradgradcheck
            return cr.cat([o.reshape(-1) for o in out])
        return out

    assert gradcheck(program, *leaves, **GRADCHECK)
    assert gradgradcheck(program, *leaves, **GRADCHECK)


def values(shape, seed: int = 0) -> np.ndarray:
    """Distinct float64 values of ``shape`` (no ties: max/min and sorting are well defined)."""
    rng = np.random.default_rng(seed)
    size = int(np.prod(shape, dtype=np.int64))
    return ((rng.permutation(size) - size / 2) * 0.37 + rng.uniform(-0.05, 0.05, size)).reshape(shape)


def check_modified_after(fn, which: str) -> None:
    """``out = fn(ns, a, s)`` with ``a = x * 1`` and ``s = w * 1``; then ``which`` ("a", "s" or
    "out") is modified in place and ``out.sum()`` differentiated: both libraries must fail (a
    saved value was modified, PyTorch's version-counter rule) or both succeed with equal
    gradients."""
    results = []
    for ns in (torch, cr):
        x = ns.tensor([1.0, 2.0, 3.0], dtype=ns.float64, requires_grad=True)
        w = ns.tensor([5.0, 0.5], dtype=ns.float64, requires_grad=True)
        a, s = x * 1, w * 1
        out = fn(ns, a, s)
        {"a": a, "s": s, "out": out}[which].mul_(2)
        try:
            out.sum().backward()
        except RuntimeError as err:
            results.append(str(err))
            continue
        results.append([_numpy(t.grad) if t.grad is not None else None for t in (x, w)])
    theirs, ours = results
    assert isinstance(theirs, str) == isinstance(ours, str), (theirs, ours)
    if isinstance(ours, str):
        assert "modified" in ours or "in place" in ours, ours
        return
    for a, b in zip(ours, theirs):
        assert (a is None) == (b is None)
        if a is not None:
            np.testing.assert_allclose(a, b, rtol=1e-12)
