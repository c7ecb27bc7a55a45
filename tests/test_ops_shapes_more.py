"""movedim/moveaxis, unflatten, narrow, split with a list of sizes, and cat/concatenate with
NumPy's ``axis`` (chainrule.ops.shape), against PyTorch: values and gradients in float32 and
float64, strided inputs, negative dims, 0-d, size-1 and empty dims, a tensor used twice; views
where PyTorch gives views (movedim, unflatten, narrow); gradcheck and gradgradcheck in float64;
bad arguments."""
from __future__ import annotations

import numpy as np
import pytest
from parity import DTYPES, LAYOUTS, check_gradients, check_parity, torch, values

import chainrule as cr


def weighted(pieces):
    """The pieces of a split, each scaled differently and flattened into one vector."""
    return [p * (k + 1.0) for k, p in enumerate(pieces)]


CASES = [
    ("movedim", lambda ns, x: ns.movedim(x, 0, 2), [(2, 3, 4)]),
    ("movedim-negative", lambda ns, x: ns.movedim(x, -1, 0), [(2, 3, 4)]),
    ("movedim-several", lambda ns, x: ns.movedim(x, (0, 1), (2, 0)), [(2, 3, 4)]),
    ("movedim-lists", lambda ns, x: x.movedim([2, 0], [0, -1]), [(2, 3, 4)]),
    ("movedim-0d", lambda ns, x: ns.movedim(x, 0, -1), [()]),
    ("moveaxis", lambda ns, x: ns.moveaxis(x, 1, -1) * x.moveaxis(1, 2), [(2, 3, 3)]),
    ("unflatten", lambda ns, x: ns.unflatten(x, 1, (2, 3)), [(4, 6)]),
    ("unflatten-inferred", lambda ns, x: x.unflatten(-1, (-1, 2)), [(4, 6)]),
    ("unflatten-list-first-dim", lambda ns, x: ns.unflatten(x, 0, [2, 1, 2]), [(4, 3)]),
    ("unflatten-size-one", lambda ns, x: x.unflatten(0, (1, 3, 1)), [(3,)]),
    ("unflatten-empty", lambda ns, x: x.unflatten(1, (0, 5)), [(2, 0)]),
    ("narrow", lambda ns, x: ns.narrow(x, 1, 1, 2), [(3, 4)]),
    ("narrow-negative-start", lambda ns, x: x.narrow(-1, -3, 2) * x[:, :2], [(3, 4)]),
    ("narrow-empty", lambda ns, x: x.narrow(0, 3, 0), [(3, 4)]),
    ("narrow-tensor-start", lambda ns, x: x.narrow(0, ns.tensor(1), 2), [(3, 4)]),
    ("split-sizes", lambda ns, x: weighted(ns.split(x, [1, 3], dim=1)), [(2, 4)]),
    ("split-sizes-with-zero", lambda ns, x: weighted(x.split([2, 0, 1], -2)), [(3, 2)]),
    ("split-int", lambda ns, x: weighted(ns.split(x, 2, 0)), [(5, 2)]),
    ("split-keywords", lambda ns, x: weighted(ns.split(x, split_size_or_sections=[2, 1], dim=-1)), [(2, 3)]),
    ("split-method-keyword", lambda ns, x: weighted(x.split(split_size=2, dim=1)), [(2, 3)]),
    ("split-empty", lambda ns, x: ns.split(x, 2), [(0,)]),
    ("split-zero-size-of-empty", lambda ns, x: ns.split(x, 0), [(0, 2)]),
    ("concatenate-axis", lambda ns, x, y: ns.concatenate([x, y], axis=1), [(2, 3), (2, 1)]),
    ("concatenate-dim", lambda ns, x, y: ns.concatenate((x, y, x), dim=-1), [(2, 3), (2, 1)]),
    ("concatenate-default", lambda ns, x, y: ns.concatenate([x, y]), [(2, 3), (1, 3)]),
    ("cat-axis", lambda ns, x, y: ns.cat([x, y], axis=0), [(2, 3), (1, 3)]),
]


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("layout", LAYOUTS)
def test_against_torch(case, dtype, layout):
    _, fn, shapes = case
    check_parity(fn, [values(shape, seed) for seed, shape in enumerate(shapes)], dtype, layout)


@pytest.mark.parametrize("case", [c for c in CASES if "empty" not in c[0]],
                         ids=[c[0] for c in CASES if "empty" not in c[0]])
def test_gradcheck_and_gradgradcheck(case):
    _, fn, shapes = case
    check_gradients(fn, [values(shape, seed) for seed, shape in enumerate(shapes)])


@pytest.mark.parametrize("fn", [
    lambda x: x.movedim(0, 1), lambda x: x.unflatten(1, (2, 2)), lambda x: x.narrow(1, 1, 2),
], ids=["movedim", "unflatten", "narrow"])
def test_views_share_memory(fn):
    x = cr.tensor(np.arange(12.0).reshape(3, 4))
    out = fn(x)
    assert np.shares_memory(out.data, x.data)
    with cr.no_grad():
        out.fill_(-1.0)  # a write through the view is seen by the base, as in PyTorch
    assert (x.numpy() == -1).sum() == out.numel()


def test_narrow_and_split_match_torch_shapes():
    x, tx = cr.zeros(5, 3), torch.zeros(5, 3)
    for start, length in [(0, 5), (-5, 5), (4, 1), (5, 0), (-1, 1), (2, 0)]:
        assert tuple(x.narrow(0, start, length).shape) == tuple(tx.narrow(0, start, length).shape)
    for sizes in ([5], [0, 5], [2, 2, 1], 1, 2, 5, 7):
        ours, theirs = x.split(sizes), tx.split(sizes)
        assert [tuple(p.shape) for p in ours] == [tuple(p.shape) for p in theirs]


X = cr.zeros(2, 3, 4)

ERRORS = [
    (lambda: cr.movedim(X, (0, 1), (2,)), ValueError,
     r"movedim: source \(0, 1\) and destination \(2,\) must name the same number of dims"),
    (lambda: cr.movedim(X, (0, 0), (1, 2)), ValueError, r"movedim: repeated dim in source \(0, 0\)"),
    (lambda: cr.movedim(X, (0, 1), (1, -2)), ValueError, r"movedim: repeated dim in destination \(1, -2\)"),
    (lambda: cr.movedim(X, 3, 0), IndexError, r"movedim: dim 3 is out of range for a tensor with 3 dimension"),
    (lambda: cr.movedim(X, 0.0, 1), TypeError, r"movedim: source must be an int or a sequence of ints; got 0.0"),
    (lambda: cr.unflatten(X, 1, (2, 2)), ValueError,
     r"unflatten: sizes \(2, 2\) don't multiply up to the length 3 of dim 1"),
    (lambda: cr.unflatten(X, 2, (-1, -1)), ValueError, r"unflatten: sizes \(-1, -1\) don't multiply up"),
    (lambda: cr.unflatten(X, 2, (3, -1)), ValueError, r"unflatten: sizes \(3, -1\) don't multiply up to the length 4"),
    (lambda: cr.unflatten(X, 2, ()), ValueError, r"unflatten: sizes must be non-empty"),
    (lambda: cr.unflatten(X, 2, 4), TypeError, r"unflatten: sizes must be a tuple or list of ints; got int"),
    (lambda: cr.unflatten(X, 3, (4,)), IndexError, r"unflatten: dim 3 is out of range"),
    (lambda: cr.unflatten(cr.tensor(1.0), 0, (1,)), IndexError,
     r"unflatten: a 0-d tensor has no dimension to unflatten"),
    (lambda: cr.narrow(X, 1, 2, 2), ValueError, r"narrow: start \(2\) \+ length \(2\) exceeds the length 3 of dim 1"),
    (lambda: cr.narrow(X, 1, -4, 1), IndexError, r"narrow: start -4 is out of range for dim 1 of length 3"),
    (lambda: cr.narrow(X, 1, 4, 0), IndexError, r"narrow: start 4 is out of range"),
    (lambda: cr.narrow(X, 1, 0, -1), ValueError, r"narrow: length must be non-negative; got -1"),
    (lambda: cr.narrow(X, 1, 0.5, 1), TypeError, r"narrow: start must be an int; got 0.5"),
    (lambda: cr.narrow(X, 3, 0, 1), IndexError, r"narrow: dim 3 is out of range"),
    (lambda: cr.narrow(cr.tensor(1.0), 0, 0, 1), IndexError, r"narrow: cannot be applied to a 0-d tensor"),
    (lambda: cr.split(X, [1, 2]), ValueError, r"split: sections \[1, 2\] do not add up to the length 2 of dim 0"),
    (lambda: cr.split(X, [-1, 3]), ValueError, r"split: sections \[-1, 3\] do not add up"),
    (lambda: cr.split(X, [1.0, 1.0]), TypeError, r"split: sections must be ints; got \[1.0, 1.0\]"),
    (lambda: cr.split(X, 0), ValueError, r"split: split_size must be positive; got 0 \(0 only splits a dimension"),
    (lambda: cr.split(X, -1), ValueError, r"split: split_size must be positive; got -1"),
    (lambda: cr.split(cr.tensor(1.0), 1), ValueError, r"split: expects a tensor with at least one dimension"),
    (lambda: cr.concatenate([X, X], dim=0, axis=0), TypeError, r"cat: pass either dim or axis, not both"),
    (lambda: cr.concatenate([X, X], axis=3), IndexError, r"cat: dim 3 is out of range"),
]


@pytest.mark.parametrize("call, error, message", ERRORS, ids=[m[:40] for _, _, m in ERRORS])
def test_errors(call, error, message):
    with pytest.raises(error, match=message):
        call()
