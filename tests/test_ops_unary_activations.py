"""The newer elementwise functions of chainrule.engine.ops.unary (expm1, sign, floor, ceil,
round, trunc) and activations (softplus, silu, elu, selu, hardtanh) against PyTorch: values
and gradients in float32 and float64, strided inputs, odd shapes, a tensor used twice, the
kinks (0 for ELU and sign, the bounds of hardtanh, the threshold of softplus); gradcheck
and gradgradcheck in float64; integer inputs and errors."""
from __future__ import annotations

import numpy as np
import pytest
import torch_checks

import chainrule as cr
from chainrule.autograd import gradcheck, gradgradcheck
from chainrule.engine import ops

torch = pytest.importorskip("torch")
F = torch.nn.functional

DTYPES, LAYOUTS = torch_checks.DTYPES, torch_checks.LAYOUTS
TOLERANCE = {"float32": {"rtol": 2e-5, "atol": 2e-6}, "float64": {"rtol": 1e-12, "atol": 1e-13}}


def check_against_torch(ours, theirs, values, dtype, layout, seed=0):
    """Forward values and the gradient of sum(out * w) (see tests/torch_checks.py)."""
    torch_checks.check_against_torch(ours, theirs, [values], dtype, layout, TOLERANCE[dtype], seed)


KINKS = np.array([[-3.7, -1.0, -0.5, 0.0, 0.5, 1.0, 2.5], [-25.0, -0.3, 0.3, 1.5, 20.0, 25.0, 7.2]])

FUNCTIONS = [
    pytest.param(cr.expm1, torch.expm1, id="expm1"),
    pytest.param(lambda x: x.expm1(), lambda t: t.expm1(), id="expm1-method"),
    pytest.param(cr.sign, torch.sign, id="sign"),
    pytest.param(cr.floor, torch.floor, id="floor"),
    pytest.param(lambda x: x.ceil(), lambda t: t.ceil(), id="ceil-method"),
    pytest.param(cr.ceil, torch.ceil, id="ceil"),
    pytest.param(cr.trunc, torch.trunc, id="trunc"),
    pytest.param(cr.round, torch.round, id="round"),
    pytest.param(lambda x: cr.round(x, decimals=1), lambda t: torch.round(t, decimals=1), id="round-1"),
    pytest.param(lambda x: x.round(decimals=-1), lambda t: t.round(decimals=-1), id="round-minus-1"),
    pytest.param(lambda x: x.erf(), lambda t: t.erf(), id="erf-method"),
    pytest.param(ops.softplus, F.softplus, id="softplus"),
    pytest.param(lambda x: ops.softplus(x, beta=2.0, threshold=5.0), lambda t: F.softplus(t, beta=2.0, threshold=5.0),
                 id="softplus-beta-threshold"),
    pytest.param(lambda x: ops.softplus(x, beta=-0.5), lambda t: F.softplus(t, beta=-0.5), id="softplus-negative-beta"),
    pytest.param(ops.silu, F.silu, id="silu"),
    pytest.param(ops.elu, F.elu, id="elu"),
    pytest.param(lambda x: ops.elu(x, alpha=0.3), lambda t: F.elu(t, alpha=0.3), id="elu-alpha"),
    pytest.param(ops.selu, F.selu, id="selu"),
    pytest.param(cr.selu, torch.selu, id="selu-top-level"),
    pytest.param(ops.hardtanh, F.hardtanh, id="hardtanh"),
    pytest.param(lambda x: ops.hardtanh(x, -0.5, 2.5), lambda t: F.hardtanh(t, -0.5, 2.5), id="hardtanh-bounds"),
    pytest.param(lambda x: ops.silu(x) * x.expm1(), lambda t: F.silu(t) * t.expm1(), id="used-twice"),
]


@pytest.mark.parametrize("ours, theirs", FUNCTIONS)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("layout", LAYOUTS)
def test_matches_torch_at_kinks_and_elsewhere(ours, theirs, dtype, layout):
    check_against_torch(ours, theirs, KINKS, dtype, layout)
    values = np.random.default_rng(4).uniform(-3.0, 3.0, (2, 3, 4))
    check_against_torch(ours, theirs, values, dtype, layout, seed=1)


@pytest.mark.parametrize("ours, theirs", FUNCTIONS)
@pytest.mark.parametrize("shape", [(), (1,), (0, 3)])
def test_odd_shapes(ours, theirs, shape):
    check_against_torch(ours, theirs, np.full(shape, 0.7), "float64", "contiguous")


SMOOTH = [
    pytest.param(cr.expm1, id="expm1"),
    pytest.param(ops.softplus, id="softplus"),
    pytest.param(lambda x: ops.softplus(x, beta=3.0, threshold=2.0), id="softplus-threshold"),
    pytest.param(ops.silu, id="silu"),
    pytest.param(ops.elu, id="elu"),
    pytest.param(lambda x: ops.elu(x, 0.4) * x, id="elu-used-twice"),
    pytest.param(ops.selu, id="selu"),
    pytest.param(ops.hardtanh, id="hardtanh"),
    pytest.param(lambda x: cr.floor(x) * x + cr.sign(x) * cr.round(x, decimals=1), id="zero-gradient-ops"),
]


@pytest.mark.parametrize("fn", SMOOTH)
def test_gradcheck_and_gradgradcheck(fn):
    # away from every kink (|x| > 0.05 and not within 0.05 of ±1, the rounding steps or the threshold)
    x = cr.tensor([[-2.3, -0.62, 0.17, 0.44], [1.38, 2.71, -1.27, 0.83]], dtype=cr.float64, requires_grad=True)
    assert gradcheck(fn, (x,))
    assert gradgradcheck(fn, (x,))


def test_piecewise_constant_gradients_are_zero():
    x = cr.tensor([-1.5, -0.5, 0.0, 0.5, 2.0], requires_grad=True)
    for fn in (cr.sign, cr.floor, cr.ceil, cr.round, cr.trunc):
        x.grad = None
        out = fn(x)
        assert out.requires_grad and out.grad_fn is not None
        out.sum().backward()
        assert x.grad.tolist() == [0.0] * 5


def test_integer_inputs():
    i = cr.tensor([-3, 0, 4])
    for fn in (cr.floor, cr.ceil, cr.round, cr.trunc, cr.sign):
        out = fn(i)
        expected = getattr(torch, fn.__name__)(torch.tensor([-3, 0, 4]))
        assert out.dtype == cr.int64 and out.tolist() == expected.tolist()
    assert cr.sign(cr.tensor([True, False])).tolist() == [True, False]
    e = cr.expm1(i)
    assert e.dtype == cr.float32  # integers to the default float dtype, as torch.expm1
    np.testing.assert_allclose(e.numpy(), torch.expm1(torch.tensor([-3, 0, 4])).numpy(), rtol=1e-6)


def test_sign_of_nan_is_zero_as_torch():
    values = np.array([np.nan, -0.0, 3.0], dtype=np.float32)
    np.testing.assert_array_equal(cr.sign(cr.tensor(values)).numpy(), torch.sign(torch.from_numpy(values)).numpy())


ERRORS = [
    pytest.param(lambda x: ops.softplus(x, beta="1"), TypeError, r"softplus: beta must be a number; got str",
                 id="softplus-beta"),
    pytest.param(lambda x: ops.softplus(x, beta=0), ValueError, r"softplus: beta must be non-zero", id="softplus-0"),
    pytest.param(lambda x: ops.softplus(x.long()), TypeError, r"softplus: expected a floating-point tensor",
                 id="softplus-int"),
    pytest.param(lambda x: ops.silu(x.long()), TypeError, r"silu: expected a floating-point tensor", id="silu-int"),
    pytest.param(lambda x: ops.elu(x, alpha=None), TypeError, r"elu: alpha must be a number; got NoneType",
                 id="elu-alpha"),
    pytest.param(lambda x: ops.selu(x.bool()), TypeError, r"selu: expected a floating-point tensor", id="selu-bool"),
    pytest.param(lambda x: ops.hardtanh(x, 2.0, 1.0), ValueError,
                 r"hardtanh: min_val \(2.0\) cannot be greater than max_val \(1.0\)", id="hardtanh-order"),
    pytest.param(lambda x: ops.hardtanh(x, max_val=x), TypeError, r"hardtanh: max_val must be a number; got Tensor",
                 id="hardtanh-tensor-bound"),
    pytest.param(lambda x: cr.round(x, decimals=1.5), TypeError, r"round: decimals must be an int; got 1.5",
                 id="round-decimals"),
    pytest.param(lambda x: cr.round(x.long(), decimals=1), TypeError, r"round: decimals needs a floating-point tensor",
                 id="round-int-decimals"),
    pytest.param(lambda x: cr.floor(x.bool()), TypeError, r"floor: not defined for bool tensors", id="floor-bool"),
    pytest.param(lambda x: cr.expm1([1.0]), TypeError, r"expm1: expected a Tensor as input; got list", id="expm1-list"),
    pytest.param(lambda x: cr.sign(1.0), TypeError, r"sign: expected a Tensor as input; got float", id="sign-number"),
]


@pytest.mark.parametrize("fn, error, message", ERRORS)
def test_errors(fn, error, message):
    with pytest.raises(error, match=message):
        fn(cr.ones(2))
