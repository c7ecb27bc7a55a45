"""atan2, logaddexp, lerp (chainrule.engine.ops.special) against PyTorch: values and
gradients in float32 and float64 with broadcasting, strided inputs and a tensor used twice;
logaddexp's stability at extreme values; lerp with a number and a tensor weight;
gradcheck and gradgradcheck in float64; dtypes and errors."""
from __future__ import annotations

import numpy as np
import pytest
import torch_checks

import chainrule as cr
from chainrule.autograd import gradcheck, gradgradcheck

torch = pytest.importorskip("torch")

DTYPES, LAYOUTS = torch_checks.DTYPES, torch_checks.LAYOUTS
TOLERANCE = {"float32": {"rtol": 2e-5, "atol": 2e-6}, "float64": {"rtol": 1e-12, "atol": 1e-13}}


def check_against_torch(ours, theirs, arrays, dtype, layout, seed=0):
    """Forward values and the gradients of sum(out * w) for every input (tests/torch_checks.py)."""
    torch_checks.check_against_torch(ours, theirs, arrays, dtype, layout, TOLERANCE[dtype], seed)


def values_of(shape, seed):
    return np.random.default_rng(seed).uniform(-2.0, 2.0, shape)


SHAPE_PAIRS = [
    pytest.param((3, 4), (3, 4), id="same"),
    pytest.param((3, 4), (4,), id="row"),
    pytest.param((3, 1), (1, 4), id="outer"),
    pytest.param((), (2, 3), id="0d-left"),
    pytest.param((2, 1, 3), (), id="0d-right"),
    pytest.param((0, 3), (3,), id="empty"),
]

BINARY = [
    pytest.param(cr.atan2, torch.atan2, id="atan2"),
    pytest.param(lambda a, b: a.atan2(b), lambda a, b: a.atan2(b), id="atan2-method"),
    pytest.param(cr.logaddexp, torch.logaddexp, id="logaddexp"),
    pytest.param(lambda a, b: a.logaddexp(b), lambda a, b: a.logaddexp(b), id="logaddexp-method"),
    pytest.param(lambda a, b: cr.lerp(a, b + 0 * a, 0.3), lambda a, b: torch.lerp(a, b + 0 * a, 0.3), id="lerp-0.3"),
    pytest.param(lambda a, b: a.lerp(b + 0 * a, 0.8), lambda a, b: a.lerp(b + 0 * a, 0.8), id="lerp-0.8"),
    pytest.param(lambda a, b: cr.atan2(a, b) * a, lambda a, b: torch.atan2(a, b) * a, id="atan2-used-twice"),
    pytest.param(lambda a, b: cr.logaddexp(a, a * b), lambda a, b: torch.logaddexp(a, a * b), id="logaddexp-twice"),
]


@pytest.mark.parametrize("ours, theirs", BINARY)
@pytest.mark.parametrize("shape_a, shape_b", SHAPE_PAIRS)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("layout", LAYOUTS)
def test_binary_matches_torch(ours, theirs, shape_a, shape_b, dtype, layout):
    arrays = [values_of(shape_a, 1), values_of(shape_b, 2)]
    check_against_torch(ours, theirs, arrays, dtype, layout)


WEIGHT_SHAPES = [pytest.param((3, 4), id="full"), pytest.param((4,), id="row"), pytest.param((), id="0d")]


@pytest.mark.parametrize("weight_shape", WEIGHT_SHAPES)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("layout", LAYOUTS)
def test_lerp_tensor_weight_matches_torch(weight_shape, dtype, layout):
    arrays = [values_of((3, 4), 1), values_of((4,), 2), np.random.default_rng(3).uniform(-0.5, 1.5, weight_shape)]
    check_against_torch(lambda a, e, w: cr.lerp(a, e.expand(3, 4), w), lambda a, e, w: torch.lerp(a, e.expand(3, 4), w),
                        arrays, dtype, layout)


def test_lerp_weight_one_gives_end_exactly():
    a = cr.tensor([1e8, -3.0, 0.1])
    e = cr.tensor([1.0, 7.0, 0.3])
    assert cr.lerp(a, e, 1.0).tolist() == e.tolist()
    assert cr.lerp(a, e, 0).tolist() == a.tolist()


def test_logaddexp_is_stable_at_extremes():
    a = cr.tensor([1000.0, -1000.0, -np.inf, 0.0], dtype=cr.float64, requires_grad=True)
    b = cr.tensor([1000.0, -1001.0, 0.0, -np.inf], dtype=cr.float64, requires_grad=True)
    out = cr.logaddexp(a, b)
    expected = torch.logaddexp(torch.tensor(a.numpy()), torch.tensor(b.numpy()))
    np.testing.assert_allclose(out.numpy(), expected.numpy(), rtol=1e-15)
    out.sum().backward()
    np.testing.assert_allclose(a.grad.numpy(), [0.5, 1 / (1 + np.exp(-1)), 0.0, 1.0], rtol=1e-12)
    np.testing.assert_allclose(a.grad.numpy() + b.grad.numpy(), 1.0, rtol=1e-12)


def test_atan2_quadrants_and_promotion():
    y = cr.tensor([1.0, 1.0, -1.0, -1.0, 0.0])
    x = cr.tensor([1.0, -1.0, -1.0, 1.0, -1.0])
    np.testing.assert_allclose(cr.atan2(y, x).numpy(), np.arctan2(y.numpy(), x.numpy()), rtol=1e-7)
    assert cr.atan2(cr.tensor([1, 2]), cr.tensor([3, 4])).dtype == cr.float32  # integers: float32, as torch
    assert cr.atan2(y, x.double()).dtype == cr.float64
    assert cr.atan2(y, cr.tensor(2.0, dtype=cr.float64)).dtype == cr.float32  # a 0-d float64 does not widen
    assert cr.logaddexp(y, x.double()).dtype == cr.float64


SECOND = [
    pytest.param(cr.atan2, id="atan2"),
    pytest.param(cr.logaddexp, id="logaddexp"),
    pytest.param(lambda a, b: cr.lerp(a, b, 0.3), id="lerp-number"),
    pytest.param(lambda a, b: cr.lerp(a, b, 0.7), id="lerp-number-high"),
    pytest.param(lambda a, b: cr.lerp(a, b, a.sigmoid()), id="lerp-tensor"),
]


@pytest.mark.parametrize("fn", SECOND)
def test_gradcheck_and_gradgradcheck(fn):
    a = cr.tensor(values_of((2, 3), 4), dtype=cr.float64, requires_grad=True)
    b = cr.tensor(values_of((3,), 5), dtype=cr.float64, requires_grad=True)
    b_full = cr.tensor(values_of((2, 3), 5), dtype=cr.float64, requires_grad=True)
    assert gradcheck(fn, (a, b_full))
    assert gradgradcheck(fn, (a, b_full))
    assert gradcheck(lambda p, q: fn(p, q.expand(2, 3)), (a, b))  # a broadcast operand


ERRORS = [
    pytest.param(lambda x: cr.lerp(x, x.double(), 0.5), TypeError,
                 r"lerp: expected end of dtype float32 \(the input's\); got float64", id="lerp-end-dtype"),
    pytest.param(lambda x: cr.lerp(x, x, x.double()), TypeError, r"lerp: expected weight of dtype float32",
                 id="lerp-weight-dtype"),
    pytest.param(lambda x: cr.lerp(x, x, "0.5"), TypeError, r"lerp: weight must be a number or a Tensor; got str",
                 id="lerp-weight-type"),
    pytest.param(lambda x: cr.lerp(x, [1.0, 2.0], 0.5), TypeError, r"lerp: input and end must be Tensors; got list",
                 id="lerp-end-list"),
    pytest.param(lambda x: cr.lerp(x.long(), x.long(), 0.5), TypeError, r"lerp: expected a floating-point tensor",
                 id="lerp-int"),
    pytest.param(lambda x: cr.logaddexp(x.long(), x.long()), TypeError, r"logaddexp: expected a floating-point",
                 id="logaddexp-int"),
    pytest.param(lambda x: cr.atan2(x, "1"), TypeError, r"atan2: expected a Tensor, an array or a Python number",
                 id="atan2-str"),
    pytest.param(lambda x: cr.atan2(1.0, 2.0), TypeError, r"atan2: expected at least one Tensor operand",
                 id="atan2-numbers"),
    pytest.param(lambda x: cr.logaddexp(x, cr.ones(3)), ValueError, r"broadcast", id="logaddexp-shapes"),
]


@pytest.mark.parametrize("fn, error, message", ERRORS)
def test_errors(fn, error, message):
    with pytest.raises(error, match=message):
        fn(cr.ones(2))
