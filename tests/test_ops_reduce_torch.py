"""Reductions of chainrule.engine.ops.reduce against PyTorch: prod (with zeros), amax/amin
and max/min without a dim (ties split the gradient evenly), var/std (torch's defaults:
unbiased; unbiased=, correction=, keepdim, dim tuples). Values and gradients in float32 and
float64, contiguous and strided inputs, negative dims; gradcheck and gradgradcheck in
float64; errors."""
from __future__ import annotations

import numpy as np
import pytest
import torch_checks

import chainrule as cr
from chainrule.autograd import gradcheck, gradgradcheck

torch = pytest.importorskip("torch")

DTYPES, LAYOUTS = torch_checks.DTYPES, torch_checks.LAYOUTS
TOLERANCE = {"float32": {"rtol": 3e-5, "atol": 3e-6}, "float64": {"rtol": 1e-11, "atol": 1e-13}}


def check_against_torch(ours, theirs, values, dtype, layout, seed=0):
    """Forward values and the gradient of sum(out * w) (see tests/torch_checks.py)."""
    torch_checks.check_against_torch(ours, theirs, [values], dtype, layout, TOLERANCE[dtype], seed)


def values_of(shape, seed=0):
    rng = np.random.default_rng(seed)
    return rng.uniform(0.5, 1.5, shape) * rng.choice([-1.0, 1.0], shape)


# ---------------------------------------------------------------------- prod
PROD_CALLS = [
    pytest.param(lambda x: cr.prod(x), lambda t: torch.prod(t), id="all"),
    pytest.param(lambda x: x.prod(), lambda t: t.prod(), id="all-method"),
    pytest.param(lambda x: cr.prod(x, 1), lambda t: torch.prod(t, 1), id="dim1"),
    pytest.param(lambda x: x.prod(dim=-1, keepdim=True), lambda t: t.prod(dim=-1, keepdim=True), id="neg-keepdim"),
    pytest.param(lambda x: cr.prod(x, 0), lambda t: torch.prod(t, 0), id="dim0"),
    pytest.param(lambda x: x.prod(axis=0, keepdims=True), lambda t: t.prod(0, keepdim=True), id="numpy-aliases"),
    pytest.param(lambda x: cr.prod(x, 1) * x.sum(1), lambda t: torch.prod(t, 1) * t.sum(1), id="used-twice"),
]

PROD_VALUES = [
    pytest.param(values_of((3, 4)), id="no-zero"),
    pytest.param([[1.5, 0.0, 2.0, -1.0], [0.5, 2.0, 1.5, 1.2], [0.7, 1.1, -0.9, 0.0]], id="one-zero-per-row"),
    pytest.param([[1.5, 0.0, 2.0, 0.0], [0.0, 2.0, 1.5, 1.2], [0.7, 1.1, -0.9, 1.3]], id="two-zeros-in-a-row"),
    pytest.param([[0.0, 0.0, 0.0, 0.0], [0.0, 2.0, 0.0, 1.2], [0.0, 1.1, -0.9, 1.3]], id="zeros-everywhere"),
]


@pytest.mark.parametrize("ours, theirs", PROD_CALLS)
@pytest.mark.parametrize("values", PROD_VALUES)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("layout", LAYOUTS)
def test_prod_matches_torch(ours, theirs, values, dtype, layout):
    check_against_torch(ours, theirs, values, dtype, layout)


@pytest.mark.parametrize("shape, dim", [((), None), ((), 0), ((1,), 0), ((0, 3), 0), ((0, 3), 1), ((2, 1, 3), -2)])
def test_prod_odd_shapes_match_torch(shape, dim):
    ours = (lambda x: cr.prod(x)) if dim is None else (lambda x: cr.prod(x, dim))
    theirs = (lambda t: torch.prod(t)) if dim is None else (lambda t: torch.prod(t, dim))
    check_against_torch(ours, theirs, values_of(shape), "float64", "contiguous")


def test_prod_gradient_with_zeros_closed_form():
    x = cr.tensor([[2.0, 0.0, 3.0], [0.0, 5.0, 0.0]], dtype=cr.float64, requires_grad=True)
    cr.prod(x, 1).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [[0.0, 6.0, 0.0], [0.0, 0.0, 0.0]])


@pytest.mark.parametrize("dtype", ["int64", "bool"])
def test_prod_of_integers_is_int64(dtype):
    values = np.array([[1, 2, 3], [4, 0, 2]]).astype(dtype)
    for ours, theirs in [(cr.prod(cr.tensor(values)), torch.prod(torch.from_numpy(values))),
                         (cr.prod(cr.tensor(values), 1), torch.prod(torch.from_numpy(values), 1))]:
        assert ours.dtype == cr.int64 and str(theirs.dtype) == "torch.int64"
        np.testing.assert_array_equal(ours.numpy(), theirs.numpy())
    assert cr.prod(cr.tensor([1, 2]), dtype=cr.float64).dtype == cr.float64


# ---------------------------------------------------------------------- amax, amin, max, min: ties
EXTREMES = [
    pytest.param(lambda x: cr.amax(x, 1), lambda t: torch.amax(t, 1), id="amax"),
    pytest.param(lambda x: x.amax(dim=(0, -1), keepdim=True), lambda t: t.amax(dim=(0, -1), keepdim=True),
                 id="amax-tuple-keepdim"),
    pytest.param(lambda x: x.amax(), lambda t: t.amax(), id="amax-all"),
    pytest.param(lambda x: cr.amin(x, -2), lambda t: torch.amin(t, -2), id="amin-neg"),
    pytest.param(lambda x: x.amin((1, 2)), lambda t: t.amin((1, 2)), id="amin-tuple"),
    pytest.param(lambda x: cr.max(x), lambda t: torch.max(t), id="max-all"),
    pytest.param(lambda x: x.min(), lambda t: t.min(), id="min-all"),
]

TIED = [
    pytest.param([[[1.0, 4.0, 4.0], [2.0, 0.0, 4.0]], [[3.0, 3.0, 3.0], [-1.0, 0.5, 0.0]]], id="ties"),
    pytest.param(np.full((2, 2, 3), 1.5), id="all-equal"),
    pytest.param(np.arange(12.0).reshape(2, 2, 3) * 0.3 - 1.0, id="distinct"),
]


@pytest.mark.parametrize("ours, theirs", EXTREMES)
@pytest.mark.parametrize("values", TIED)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("layout", LAYOUTS)
def test_amax_amin_and_max_min_without_dim_split_ties_as_torch(ours, theirs, values, dtype, layout):
    check_against_torch(ours, theirs, values, dtype, layout)


# ---------------------------------------------------------------------- var and std
SPREADS = [
    pytest.param(lambda x: x.var(), lambda t: t.var(), id="var-default-unbiased"),
    pytest.param(lambda x: x.std(), lambda t: t.std(), id="std-default-unbiased"),
    pytest.param(lambda x: cr.var(x, 1), lambda t: torch.var(t, 1), id="var-dim"),
    pytest.param(lambda x: cr.std(x, -1, True, True), lambda t: torch.std(t, -1, True, True), id="std-positional"),
    pytest.param(lambda x: x.var(0, unbiased=False), lambda t: t.var(0, unbiased=False), id="var-biased"),
    pytest.param(lambda x: x.std(dim=(0, 2), keepdim=True), lambda t: t.std(dim=(0, 2), keepdim=True),
                 id="std-tuple-keepdim"),
    pytest.param(lambda x: x.var(dim=(-1, 0), correction=0), lambda t: t.var(dim=(-1, 0), correction=0),
                 id="var-correction-0"),
    pytest.param(lambda x: cr.std(x, 2, correction=2), lambda t: torch.std(t, 2, correction=2), id="std-correction-2"),
    pytest.param(lambda x: x.std(unbiased=False), lambda t: t.std(unbiased=False), id="std-all-biased"),
    pytest.param(lambda x: x.var(None, keepdim=True), lambda t: t.var(None, keepdim=True), id="var-all-keepdim"),
]


@pytest.mark.parametrize("ours, theirs", SPREADS)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("layout", LAYOUTS)
def test_var_std_match_torch(ours, theirs, dtype, layout):
    check_against_torch(ours, theirs, values_of((2, 3, 4)), dtype, layout)


def test_std_is_the_unbiased_estimator_unlike_numpy():
    values = np.array([1.0, 2.0, 4.0, 7.0])
    assert cr.tensor(values).std().item() == pytest.approx(np.std(values, ddof=1))
    assert cr.tensor(values).std().item() != pytest.approx(np.std(values))
    assert cr.tensor(values).std(correction=0).item() == pytest.approx(np.std(values))


# ---------------------------------------------------------------------- second derivatives
SECOND = [
    pytest.param(lambda x: cr.prod(x, 1), [[0.3, -1.2, 0.7], [1.1, 0.4, -0.6]], id="prod"),
    pytest.param(lambda x: cr.prod(x), [[0.3, -1.2, 0.7], [1.1, 0.4, -0.6]], id="prod-all"),
    pytest.param(lambda x: cr.prod(x, 1), [[0.3, 0.0, 0.7], [0.0, 0.4, 0.0]], id="prod-zeros"),
    pytest.param(lambda x: cr.prod(x), [[0.3, 0.0, 0.7], [1.1, 0.4, -0.6]], id="prod-all-one-zero"),
    pytest.param(lambda x: cr.prod(x, 0, keepdim=True) * x, [[0.3, 0.0], [0.0, 0.4], [1.5, -0.2]],
                 id="prod-zeros-used-twice"),
    pytest.param(lambda x: cr.amax(x, 1), [[0.3, -1.2, 0.7], [1.1, 0.4, -0.6]], id="amax"),
    pytest.param(lambda x: x.amin(0) * x.sum(0), [[0.3, -1.2, 0.7], [1.1, 0.4, -0.6]], id="amin-composed"),
]


@pytest.mark.parametrize("fn, values", SECOND)
def test_gradcheck_and_gradgradcheck(fn, values):
    x = cr.tensor(values, dtype=cr.float64, requires_grad=True)
    assert gradcheck(fn, (x,))
    assert gradgradcheck(fn, (x,))


def test_prod_second_derivative_with_zeros_matches_torch():
    values = np.array([[0.5, 0.0, 2.0, -1.0], [0.0, 1.5, 0.0, 0.7], [0.3, 1.2, -0.8, 2.0]])
    x = cr.tensor(values, requires_grad=True)
    x_torch = torch.tensor(values, requires_grad=True)
    v = np.random.default_rng(3).standard_normal(3)
    (g,) = cr.autograd.grad(cr.prod(x, 1), x, cr.tensor(v), create_graph=True)
    (g_torch,) = torch.autograd.grad(torch.prod(x_torch, 1), x_torch, torch.tensor(v), create_graph=True)
    np.testing.assert_allclose(g.numpy(), g_torch.detach().numpy(), rtol=1e-12)
    (g * g).sum().backward()
    (g_torch * g_torch).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), x_torch.grad.numpy(), rtol=1e-10, atol=1e-12)


# ---------------------------------------------------------------------- errors
ERRORS = [
    pytest.param(lambda x: cr.prod(x, (0, 1)), TypeError, r"prod: dim must be an int or None; got \(0, 1\)",
                 id="prod-tuple"),
    pytest.param(lambda x: cr.prod(x, 2), IndexError, r"prod: dim 2 is out of range", id="prod-range"),
    pytest.param(lambda x: cr.prod(x, dtype="int8"), TypeError, r"prod: dtype: expected one of", id="prod-dtype"),
    pytest.param(lambda x: cr.amax(x, 3), IndexError, r"amax: dim 3 is out of range", id="amax-range"),
    pytest.param(lambda x: cr.amin(x, (0, 0)), ValueError, r"amin: dim \(0, 0\) repeats a dimension", id="amin-repeat"),
    pytest.param(lambda x: cr.amax(cr.zeros(0, 2), 0), IndexError, r"amax: cannot reduce over an empty dimension",
                 id="amax-empty"),
    pytest.param(lambda x: x.std(correction=2, dim=0), ValueError, r"std: needs more than correction=2 element",
                 id="std-too-few"),
]


@pytest.mark.parametrize("fn, error, message", ERRORS)
def test_errors(fn, error, message):
    with pytest.raises(error, match=message):
        fn(cr.ones(2, 3))
