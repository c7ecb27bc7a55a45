"""repeat, tile, flip, roll (chainrule.ops.rearrange) against PyTorch: values and gradients in
float32 and float64, strided inputs, negative dims, more repeats than dimensions, zero repeats,
empty and 0-d tensors, a tensor used twice; results are copies, never views; gradcheck and
gradgradcheck in float64; bad arguments."""
from __future__ import annotations

import numpy as np
import pytest
from parity import DTYPES, LAYOUTS, check_gradients, check_modified_after, check_parity, values

import chainrule as cr

CASES = [
    ("repeat", lambda ns, x: x.repeat(2, 3), [(2, 3)]),
    ("repeat-tuple", lambda ns, x: x.repeat((1, 2)), [(2, 3)]),
    ("repeat-more-dims", lambda ns, x: x.repeat(2, 1, 3), [(2, 3)]),
    ("repeat-zero", lambda ns, x: x.repeat(0, 2), [(2, 3)]),
    ("repeat-0d", lambda ns, x: x.repeat(3, 2), [()]),
    ("repeat-ones", lambda ns, x: x.repeat(1, 1) * x, [(2, 3)]),
    ("repeat-3d", lambda ns, x: x.repeat(2, 1, 2), [(2, 1, 3)]),
    ("repeat-empty", lambda ns, x: x.repeat(2, 2), [(0, 3)]),
    ("tile", lambda ns, x: ns.tile(x, (2, 2)), [(2, 3)]),
    ("tile-fewer-dims", lambda ns, x: ns.tile(x, (3,)), [(2, 3)]),
    ("tile-more-dims", lambda ns, x: x.tile(2, 1, 2), [(3,)]),
    ("tile-no-dims", lambda ns, x: ns.tile(x, ()), [(2, 3)]),
    ("tile-method-tuple", lambda ns, x: x.tile((1, 2)), [(2, 3)]),
    ("flip", lambda ns, x: ns.flip(x, (0,)), [(3, 4)]),
    ("flip-two-dims", lambda ns, x: ns.flip(x, [0, -1]), [(2, 3, 4)]),
    ("flip-method-varargs", lambda ns, x: x.flip(-1, 0) * x, [(3, 4)]),
    ("flip-method-tuple", lambda ns, x: x.flip((1,)), [(2, 3, 4)]),
    ("flip-no-dims", lambda ns, x: ns.flip(x, ()), [(3, 4)]),
    ("flip-0d", lambda ns, x: x.flip(0), [()]),
    ("flip-empty", lambda ns, x: ns.flip(x, (1,)), [(2, 0)]),
    ("roll", lambda ns, x: ns.roll(x, 1, 0), [(3, 4)]),
    ("roll-flat", lambda ns, x: ns.roll(x, 5), [(3, 4)]),
    ("roll-flat-tuple", lambda ns, x: ns.roll(x, (-2,)), [(3, 4)]),
    ("roll-two-dims", lambda ns, x: ns.roll(x, (1, -3), (0, -1)), [(3, 4)]),
    ("roll-same-dim-twice", lambda ns, x: x.roll((1, 2), (1, 1)), [(3, 4)]),
    ("roll-larger-than-length", lambda ns, x: x.roll(7, -2) * x, [(3, 4)]),
    ("roll-0d", lambda ns, x: ns.roll(x, 2), [()]),
    ("roll-empty", lambda ns, x: ns.roll(x, 1, 0), [(0, 3)]),
]


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("layout", LAYOUTS)
def test_against_torch(case, dtype, layout):
    _, fn, shapes = case
    check_parity(fn, [values(shape, seed) for seed, shape in enumerate(shapes)], dtype, layout)


@pytest.mark.parametrize("case", [c for c in CASES if "empty" not in c[0] and "zero" not in c[0]],
                         ids=[c[0] for c in CASES if "empty" not in c[0] and "zero" not in c[0]])
def test_gradcheck_and_gradgradcheck(case):
    _, fn, shapes = case
    check_gradients(fn, [values(shape, seed) for seed, shape in enumerate(shapes)])


@pytest.mark.parametrize("fn", [
    lambda x: x.repeat(1, 1), lambda x: cr.tile(x, (1,)), lambda x: x.flip(()), lambda x: x.roll(0, 0),
], ids=["repeat", "tile", "flip", "roll"])
def test_results_are_copies(fn):
    x = cr.tensor(np.arange(6.0).reshape(2, 3))
    out = fn(x)
    out.data[...] = -1
    np.testing.assert_array_equal(x.numpy(), np.arange(6.0).reshape(2, 3))


def test_repeat_gradient_closed_form():
    x = cr.tensor([1.0, 2.0], requires_grad=True)
    out = x.repeat(3, 2)
    assert out.shape == (3, 4)
    (out * cr.tensor(np.arange(12.0).reshape(3, 4), dtype=cr.float32)).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [0 + 2 + 4 + 6 + 8 + 10, 1 + 3 + 5 + 7 + 9 + 11])


X = cr.zeros(2, 3)

ERRORS = [
    (lambda: X.repeat(2), ValueError, r"repeat: got 1 repeat size\(s\) \(2,\) for a tensor with 2 dimensions"),
    (lambda: X.repeat(-1, 2), ValueError, r"repeat: sizes must be non-negative; got \(-1, 2\)"),
    (lambda: X.repeat(2.0, 1), TypeError, r"repeat: sizes must be ints"),
    (lambda: cr.tile(X, 2), TypeError, r"tile: dims must be a tuple of ints; got int"),
    (lambda: cr.tile(X, (-2,)), ValueError, r"tile: dims must be non-negative; got \(-2,\)"),
    (lambda: cr.flip(X, 0), TypeError, r"flip: dims must be a tuple of ints; got int"),
    (lambda: cr.flip(X, (0, -2)), ValueError, r"flip: dim \(0, -2\) repeats a dimension"),
    (lambda: cr.flip(X, (2,)), IndexError, r"flip: dim 2 is out of range for a tensor with 2 dimension"),
    (lambda: cr.roll(X, (1, 1)), ValueError, r"roll: with dims None, shifts must be one int; got \(1, 1\)"),
    (lambda: cr.roll(X, (1, 1), 1), ValueError, r"roll: shifts \(1, 1\) and dims \(1,\) must have the same"),
    (lambda: cr.roll(X, 1.5, 0), TypeError, r"roll: shifts must be ints"),
    (lambda: cr.roll(X, 1, 2), IndexError, r"roll: dim 2 is out of range"),
    (lambda: cr.roll(cr.tensor(1.0), 1, 0), IndexError, r"roll: a 0-d tensor has no dimension to roll along"),
    (lambda: cr.flip(np.zeros(3), (0,)), TypeError, r"flip: input must be a Tensor; got ndarray"),
]


@pytest.mark.parametrize("call, error, message", ERRORS, ids=[m[:40] for _, _, m in ERRORS])
def test_errors(call, error, message):
    with pytest.raises(error, match=message):
        call()


AFTER = [
    ("repeat", lambda ns, a, s: a.repeat(2) * s.sum()),
    ("tile", lambda ns, a, s: ns.tile(a, (2, 1))),
    ("flip", lambda ns, a, s: ns.flip(a, (0,)) * s.sum()),
    ("roll", lambda ns, a, s: ns.roll(a, 1, 0)),
]


@pytest.mark.parametrize("name, fn", AFTER, ids=[c[0] for c in AFTER])
@pytest.mark.parametrize("which", ["a", "s", "out"])
def test_modified_in_place_afterwards_as_torch(name, fn, which):
    """PyTorch's version-counter rule: the same programs fail, or succeed with equal gradients."""
    check_modified_after(fn, which)
