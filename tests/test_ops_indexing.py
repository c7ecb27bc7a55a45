"""Masks and assignment (chainrule.ops.indexing): masked_fill, masked_select, nonzero, and
``t[mask] = v`` / ``t[idx] = v`` / index_put_ with gradients, against PyTorch (float32 and
float64, strided inputs, broadcasting masks, 0-d and empty tensors, a tensor used twice);
gradcheck and gradgradcheck in float64; bad arguments. (Reading ``a[index]`` is tested in
tests/test_ops_shape.py.)"""
from __future__ import annotations

import numpy as np
import pytest
from parity import DTYPES, LAYOUTS, check_gradients, check_modified_after, check_parity, torch, values

import chainrule as cr

M = np.array([[True, False, True, False], [False, False, False, False], [True, True, False, True]])
ROW = np.array([True, False, True, True])  # broadcasts over rows of a (3, 4)
COLUMN = np.array([[False], [True], [True]])


def b(ns, array):
    return ns.tensor(np.asarray(array, dtype=bool))


def i(ns, array):
    return ns.tensor(np.asarray(array, dtype=np.int64))


def _setitem(target, index, value):
    target[index] = value
    return target


CASES = [
    ("masked_fill", lambda ns, x: ns.masked_fill(x, b(ns, M), -1.5), [(3, 4)]),
    ("masked_fill-method-broadcast-mask", lambda ns, x: x.masked_fill(b(ns, ROW), 2), [(3, 4)]),
    ("masked_fill-mask-broadcasts-input", lambda ns, x: ns.masked_fill(x, b(ns, COLUMN), 0.5), [(4,)]),
    ("masked_fill-tensor-value", lambda ns, x, v: ns.masked_fill(x, b(ns, M), v[0] * 2), [(3, 4), (2,)]),
    ("masked_fill-0d-value-leaf", lambda ns, x, v: ns.masked_fill(x * x, b(ns, ROW), v), [(3, 4), ()]),
    ("masked_fill-empty", lambda ns, x: ns.masked_fill(x, b(ns, np.zeros((0, 4))), 1.0), [(0, 4)]),
    ("masked_fill-0d", lambda ns, x: ns.masked_fill(x, b(ns, True), 3.0) + x, [()]),
    ("masked_select", lambda ns, x: ns.masked_select(x, b(ns, M)), [(3, 4)]),
    ("masked_select-broadcast-mask", lambda ns, x: x.masked_select(b(ns, COLUMN)), [(3, 4)]),
    ("masked_select-broadcast-input", lambda ns, x: ns.masked_select(x, b(ns, M)), [(1, 4)]),
    ("masked_select-none", lambda ns, x: ns.masked_select(x, b(ns, np.zeros((3, 4)))), [(3, 4)]),
    ("masked_select-0d", lambda ns, x: ns.masked_select(x, b(ns, True)), [()]),
    ("masked_select-used-twice", lambda ns, x: ns.masked_select(x, b(ns, M)) * ns.masked_select(x, b(ns, ~M))[:5],
     [(3, 4)]),
    ("setitem-mask-number", lambda ns, x: _setitem(x * 1, b(ns, M), 0.5) * x, [(3, 4)]),
    ("setitem-mask-tensor", lambda ns, x, v: _setitem(x * 2, b(ns, M), v * v), [(3, 4), (5,)]),
    ("setitem-mask-broadcast", lambda ns, x, v: _setitem(x + 0, b(ns, M), v[0]) * x, [(3, 4), (1,)]),
    ("setitem-row-mask", lambda ns, x, v: _setitem(x * 1, b(ns, COLUMN[:, 0]), v), [(3, 4), (4,)]),
    ("setitem-int-array", lambda ns, x, v: _setitem(x * 1, i(ns, [2, 0]), v) * x, [(3, 4), (2, 4)]),
    ("setitem-int-array-negative", lambda ns, x, v: _setitem(x * 1, i(ns, [-1]), v.exp()), [(3, 4), (4,)]),
    ("setitem-two-arrays", lambda ns, x, v: _setitem(x * 1, (i(ns, [0, 2, 1]), i(ns, [3, 0, 0])), v), [(3, 4), (3,)]),
    ("setitem-array-and-slice", lambda ns, x, v: _setitem(x * 1, (i(ns, [1, 2]), slice(1, 3)), v), [(3, 4), (2, 2)]),
    ("setitem-on-constant", lambda ns, x: _setitem(ns.zeros(3, 4, dtype=x.dtype), b(ns, M), x[0, 0]), [(3, 4)]),
    ("index_put_-accumulate-repeats", lambda ns, x, v: (x * 1).index_put_((i(ns, [0, 2, 0]),), v, accumulate=True),
     [(3, 4), (3, 4)]),
    ("index_put_-mask", lambda ns, x, v: (x * 1).index_put_((b(ns, M),), v[0]) * x, [(3, 4), (1,)]),
]


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("layout", LAYOUTS)
def test_against_torch(case, dtype, layout):
    _, fn, shapes = case
    check_parity(fn, [values(shape, seed) for seed, shape in enumerate(shapes)], dtype, layout)


@pytest.mark.parametrize("case", [c for c in CASES if "empty" not in c[0] and "none" not in c[0]],
                         ids=[c[0] for c in CASES if "empty" not in c[0] and "none" not in c[0]])
def test_gradcheck_and_gradgradcheck(case):
    _, fn, shapes = case
    check_gradients(fn, [values(shape, seed) for seed, shape in enumerate(shapes)])


def test_masked_fill_closed_form_and_dtypes():
    x = cr.tensor([1.0, 2.0, 3.0], requires_grad=True)
    v = cr.tensor(5.0, dtype=cr.float64, requires_grad=True)
    out = cr.masked_fill(x, cr.tensor([True, False, True]), v)
    assert out.dtype == np.float32  # the value takes the input's dtype, as in PyTorch
    np.testing.assert_array_equal(out.numpy(), [5, 2, 5])
    (out * cr.tensor([1.0, 2.0, 3.0])).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [0, 2, 0])
    assert v.grad.dtype == np.float64 and v.grad.item() == 4.0
    ints = cr.masked_fill(cr.tensor([1, 2, 3]), cr.tensor([True, False, True]), 2.5)
    assert ints.dtype == np.int64
    np.testing.assert_array_equal(ints.numpy(), [2, 2, 2])


@pytest.mark.parametrize("array", [
    np.array([[0.0, 1.5, 0.0], [2.0, 0.0, -1.0]]), np.array([0, 3, 0, 0, 7]), np.array([[True], [False]]),
    np.zeros((2, 0)), np.array(5.0), np.array(0.0), np.zeros((2, 3, 2)),
], ids=["float", "int", "bool", "empty", "0d", "0d-zero", "all-zero"])
@pytest.mark.parametrize("as_tuple", [False, True])
def test_nonzero_against_torch(array, as_tuple):
    ours = cr.nonzero(cr.tensor(array), as_tuple=as_tuple)
    theirs = torch.nonzero(torch.tensor(array), as_tuple=as_tuple)
    ours, theirs = (ours, theirs) if as_tuple else ((ours,), (theirs,))
    assert len(ours) == len(theirs)
    for a, c in zip(ours, theirs):
        assert a.dtype == np.int64 and not a.requires_grad
        assert tuple(a.shape) == tuple(c.shape)
        np.testing.assert_array_equal(a.numpy(), c.numpy())
    x = cr.tensor(array, dtype=cr.float64, requires_grad=True)
    assert x.nonzero().grad_fn is None


X = cr.zeros(3, 4)

ERRORS = [
    (lambda: cr.masked_fill(X, cr.tensor([1, 0, 1, 0]), 1.0), TypeError,
     r"masked_fill: mask must have dtype bool; got int64"),
    (lambda: cr.masked_fill(X, [True] * 4, 1.0), TypeError, r"masked_fill: mask must be a bool Tensor; got list"),
    (lambda: cr.masked_fill(X, cr.tensor([True, False]), 1.0), ValueError,
     r"masked_fill: mask of shape \(2,\) does not broadcast with input of shape \(3, 4\)"),
    (lambda: cr.masked_fill(X, cr.tensor(True), cr.tensor([1.0])), ValueError,
     r"masked_fill: value must be a number or a 0-dimensional tensor; got a tensor of shape \(1,\)"),
    (lambda: cr.masked_fill(X, cr.tensor(True), "1"), TypeError,
     r"masked_fill: value must be a number or a 0-dimensional tensor; got str"),
    (lambda: cr.masked_fill(np.zeros(3), cr.tensor(True), 1.0), TypeError, r"masked_fill: input must be a Tensor"),
    (lambda: cr.masked_select(X, cr.tensor([1.0, 0.0, 1.0, 0.0])), TypeError,
     r"masked_select: mask must have dtype bool; got float32"),
    (lambda: cr.masked_select(X, cr.tensor([[True], [False]])), ValueError,
     r"masked_select: mask of shape \(2, 1\) does not broadcast with input of shape \(3, 4\)"),
    (lambda: cr.nonzero([1, 0]), TypeError, r"nonzero: input must be a Tensor; got list"),
]


@pytest.mark.parametrize("call, error, message", ERRORS, ids=[m[:40] for _, _, m in ERRORS])
def test_errors(call, error, message):
    with pytest.raises(error, match=message):
        call()


READS = [
    ("int-array-repeats", lambda ns, x: x[i(ns, [2, 0, 2, 2])] * x[0]),
    ("two-arrays-repeats", lambda ns, x: x[i(ns, [0, 0, 2]), i(ns, [3, 3, 1])] ** 2),
    ("mask", lambda ns, x: x[b(ns, M)] * 3),
    ("array-and-slice", lambda ns, x: x[i(ns, [1, 1]), 1:] * x[1, 1:]),
]


@pytest.mark.parametrize("name, fn", READS, ids=[r[0] for r in READS])
def test_reading_gradgradcheck_with_repeats(name, fn):
    """a[index] twice differentiated: repeated positions add up at every order."""
    check_parity(fn, [values((3, 4))])
    check_gradients(fn, [values((3, 4))])


AFTER = [
    ("masked_fill", lambda ns, a, s: ns.masked_fill(a, b(ns, [True, False, True]), s[1])),
    ("masked_select", lambda ns, a, s: ns.masked_select(a, b(ns, [True, False, True]))),
    ("setitem", lambda ns, a, s: _setitem(a * 1, i(ns, [2, 0]), s)),
]


@pytest.mark.parametrize("name, fn", AFTER, ids=[c[0] for c in AFTER])
@pytest.mark.parametrize("which", ["a", "s", "out"])
def test_modified_in_place_afterwards_as_torch(name, fn, which):
    """PyTorch's version-counter rule: the same programs fail, or succeed with equal gradients."""
    check_modified_after(fn, which)
