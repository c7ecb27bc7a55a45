"""Scans (chainrule.engine.ops.scans): cumsum and cumprod against PyTorch — values and
gradients in float32 and float64, contiguous and strided inputs, every dim (negative ones
too), 0-d and empty inputs, zeros in cumprod's input (one, several, first, last); gradcheck
and gradgradcheck in float64; integer dtypes; errors."""
from __future__ import annotations

import numpy as np
import pytest
import torch_checks

import chainrule as cr
from chainrule.autograd import gradcheck, gradgradcheck

torch = pytest.importorskip("torch")

DTYPES, LAYOUTS = torch_checks.DTYPES, torch_checks.LAYOUTS
TOLERANCE = {"float32": {"rtol": 2e-5, "atol": 2e-6}, "float64": {"rtol": 1e-12, "atol": 1e-13}}


def check_against_torch(ours, theirs, values, dtype, layout, seed=0):
    """Forward values and the gradient of sum(out * w) (see tests/torch_checks.py)."""
    torch_checks.check_against_torch(ours, theirs, [values], dtype, layout, TOLERANCE[dtype], seed)


SHAPES_AND_DIMS = [
    pytest.param((5,), 0, id="1d"),
    pytest.param((5,), -1, id="1d-neg"),
    pytest.param((3, 4), 0, id="2d-dim0"),
    pytest.param((3, 4), 1, id="2d-dim1"),
    pytest.param((2, 3, 4), -2, id="3d-neg2"),
    pytest.param((2, 1, 3), 1, id="size-1-dim"),
    pytest.param((), 0, id="0d"),
    pytest.param((), -1, id="0d-neg"),
    pytest.param((0, 3), 1, id="empty-other-dim"),
    pytest.param((3, 0), 1, id="empty-scanned-dim"),
]

SCANS = [
    pytest.param(lambda x, d: cr.cumsum(x, d), lambda t, d: torch.cumsum(t, d), id="cumsum"),
    pytest.param(lambda x, d: x.cumsum(dim=d), lambda t, d: t.cumsum(dim=d), id="cumsum-method"),
    pytest.param(lambda x, d: cr.cumprod(x, d), lambda t, d: torch.cumprod(t, d), id="cumprod"),
    pytest.param(lambda x, d: x.cumprod(d), lambda t, d: t.cumprod(d), id="cumprod-method"),
    pytest.param(lambda x, d: x.cumsum(d) * x, lambda t, d: t.cumsum(d) * t, id="cumsum-used-twice"),
    pytest.param(lambda x, d: x.cumprod(d) + x.cumsum(d), lambda t, d: t.cumprod(d) + t.cumsum(d), id="both"),
]


@pytest.mark.parametrize("ours, theirs", SCANS)
@pytest.mark.parametrize("shape, dim", SHAPES_AND_DIMS)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("layout", LAYOUTS)
def test_scan_matches_torch(ours, theirs, shape, dim, dtype, layout):
    values = np.random.default_rng(1).uniform(0.5, 1.5, shape) * np.random.default_rng(2).choice([-1, 1], shape)
    check_against_torch(lambda x: ours(x, dim), lambda t: theirs(t, dim), values, dtype, layout)


ZEROS = [
    pytest.param([1.5, 0.0, 2.0, -1.0, 0.5], id="one-zero"),
    pytest.param([0.0, 2.0, 3.0, -0.5, 1.0], id="zero-first"),
    pytest.param([2.0, 3.0, -1.0, 0.5, 0.0], id="zero-last"),
    pytest.param([1.5, 0.0, 2.0, 0.0, 0.5], id="two-zeros"),
    pytest.param([0.0, 0.0, 0.0], id="all-zeros"),
    pytest.param([[1.5, 0.0, 2.0], [0.0, 2.0, 0.0], [2.0, 3.0, -1.0]], id="rows-with-and-without"),
]


@pytest.mark.parametrize("values", ZEROS)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("layout", LAYOUTS)
def test_cumprod_gradient_with_zeros_matches_torch(values, dtype, layout):
    for dim in range(np.ndim(values)):
        check_against_torch(lambda x, d=dim: cr.cumprod(x, d), lambda t, d=dim: torch.cumprod(t, d),
                            values, dtype, layout, seed=dim)


def test_cumprod_gradient_with_a_zero_closed_form():
    # y = (x0, x0 x1, x0 x1 x2) with x1 = 0: dy.sum/dx = (1, x0 + x0 x2, 0)
    x = cr.tensor([2.0, 0.0, 3.0], dtype=cr.float64, requires_grad=True)
    cr.cumprod(x, 0).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [1.0, 2.0 + 6.0, 0.0])


GRAD_CASES = [
    pytest.param(lambda x: cr.cumsum(x, 1), [[0.3, -1.2, 0.7], [1.1, 0.4, -0.6]], id="cumsum"),
    pytest.param(lambda x: cr.cumsum(x, -2) * x, [[0.3, -1.2, 0.7], [1.1, 0.4, -0.6]], id="cumsum-twice"),
    pytest.param(lambda x: cr.cumprod(x, 1), [[0.3, -1.2, 0.7], [1.1, 0.4, -0.6]], id="cumprod"),
    pytest.param(lambda x: cr.cumprod(x, 0), [[0.3, 0.0, 0.7], [1.1, 0.4, 0.0], [0.0, 0.5, 0.9]], id="cumprod-zeros"),
    pytest.param(lambda x: cr.cumprod(x, -1), [[0.3, 0.0, 0.7, 0.0], [0.0, 1.1, 0.4, 2.0]], id="cumprod-two-zeros"),
    pytest.param(lambda x: cr.cumprod(x, 0), [0.5, -1.5, 0.0], id="cumprod-zero-last"),
]


@pytest.mark.parametrize("fn, values", GRAD_CASES)
def test_gradcheck_and_gradgradcheck(fn, values):
    x = cr.tensor(values, dtype=cr.float64, requires_grad=True)
    assert gradcheck(fn, (x,))
    assert gradgradcheck(fn, (x,))


def test_cumprod_second_derivative_with_zeros_matches_torch():
    values = np.array([[0.5, 0.0, 2.0, -1.0], [0.0, 1.5, 0.0, 0.7]])
    x = cr.tensor(values, requires_grad=True)
    x_torch = torch.tensor(values, requires_grad=True)
    v = np.random.default_rng(3).standard_normal(values.shape)
    (g,) = cr.autograd.grad(cr.cumprod(x, 1), x, cr.tensor(v), create_graph=True)
    (g_torch,) = torch.autograd.grad(torch.cumprod(x_torch, 1), x_torch, torch.tensor(v), create_graph=True)
    np.testing.assert_allclose(g.numpy(), g_torch.detach().numpy(), rtol=1e-12)
    (g * g).sum().backward()
    (g_torch * g_torch).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), x_torch.grad.numpy(), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("op", ["cumsum", "cumprod"])
@pytest.mark.parametrize("dtype", ["int64", "bool"])
def test_integer_and_bool_scans_give_int64(op, dtype):
    values = np.array([[1, 0, 2], [3, 1, 1]]).astype(dtype)
    out = getattr(cr, op)(cr.tensor(values), 1)
    expected = getattr(torch, op)(torch.from_numpy(values), 1)
    assert out.dtype == cr.int64 and str(expected.dtype) == "torch.int64"
    np.testing.assert_array_equal(out.numpy(), expected.numpy())
    assert not out.requires_grad


def test_dtype_argument_casts_first():
    x = cr.tensor([1, 2, 3])
    out = cr.cumsum(x, 0, dtype=cr.float64)
    assert out.dtype == cr.float64 and out.tolist() == [1.0, 3.0, 6.0]
    y = cr.tensor([0.5, 2.0], requires_grad=True)
    z = y.cumprod(0, dtype="float64")
    assert z.dtype == cr.float64
    z.sum().backward()
    assert y.grad.dtype == cr.float32 and y.grad.tolist() == [3.0, 0.5]


ERRORS = [
    pytest.param(lambda x: cr.cumsum(x, 2), IndexError, r"cumsum: dim 2 is out of range for a tensor with 2",
                 id="range"),
    pytest.param(lambda x: cr.cumprod(x, -3), IndexError, r"cumprod: dim -3 is out of range", id="range-neg"),
    pytest.param(lambda x: cr.cumsum(x, None), TypeError, r"cumsum: dim must be an int; got None", id="none"),
    pytest.param(lambda x: cr.cumsum(x, 1.0), TypeError, r"cumsum: dim must be an int; got 1.0", id="float-dim"),
    pytest.param(lambda x: cr.cumprod(x, (0, 1)), TypeError, r"cumprod: dim must be an int; got \(0, 1\)", id="tuple"),
    pytest.param(lambda x: cr.cumsum(x.numpy(), 0), TypeError, r"cumsum: expected a Tensor as input; got ndarray",
                 id="array"),
    pytest.param(lambda x: cr.cumsum(x, 0, dtype="int8"), TypeError, r"cumsum: dtype: expected one of", id="dtype"),
    pytest.param(lambda x: x.cumsum(), TypeError, r"dim", id="missing-dim"),
]


@pytest.mark.parametrize("fn, error, message", ERRORS)
def test_errors(fn, error, message):
    with pytest.raises(error, match=message):
        fn(cr.ones(2, 3))
