"""Norms (chainrule.engine.ops.norms) against torch: linalg.vector_norm over every ord (2, 1,
inf, -inf, 0, other p) and dim, linalg.matrix_norm over every ord ("fro", "nuc", ±1, ±2, ±inf)
and pair of dims, torch.norm and Tensor.norm, linalg.norm; values and gradients in float64 and
float32, strided inputs, Hessian-vector products; the subgradient 0 at a zero vector; ties of
the inf-norm; gradcheck and gradgradcheck; the errors."""
from __future__ import annotations

import math

import numpy as np
import pytest
from conftest import check_grad
from linalg_oracle import against_torch

import chainrule as cr
from chainrule.autograd import gradgradcheck

torch = pytest.importorskip("torch")

INF = math.inf
VECTOR_ORDS = [2, 1, INF, -INF, 0, 3, 1.5, 0.5, -1]
VECTOR_DIMS = [None, 1, -1, (0, 2)]
MATRIX_ORDS = ["fro", "nuc", 1, -1, 2, -2, INF, -INF]
MATRIX_DIMS = [(-2, -1), (0, 2), (2, 0)]


def _values(shape, seed=0):
    return np.random.default_rng(seed).uniform(-2, 2, shape)


@pytest.mark.parametrize("ord", VECTOR_ORDS)
@pytest.mark.parametrize("dim", VECTOR_DIMS)
@pytest.mark.parametrize("keepdim", [False, True])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_vector_norm_against_torch(ord, dim, keepdim, dtype):
    against_torch(lambda x: cr.linalg.vector_norm(x, ord, dim, keepdim),
                  lambda x: torch.linalg.vector_norm(x, ord, dim, keepdim),
                  [_values((2, 3, 4))], dtype, "noncontiguous", scale=5.0, second_order=dtype == np.float64)


@pytest.mark.parametrize("ord", MATRIX_ORDS)
@pytest.mark.parametrize("dim", MATRIX_DIMS)
@pytest.mark.parametrize("keepdim", [False, True])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_matrix_norm_against_torch(ord, dim, keepdim, dtype):
    against_torch(lambda a: cr.linalg.matrix_norm(a, ord, dim, keepdim),
                  lambda a: torch.linalg.matrix_norm(a, ord, dim, keepdim),
                  [_values((3, 2, 4))], dtype, "noncontiguous", scale=5.0, second_order=dtype == np.float64)


NORM_CALLS = [
    pytest.param({}, (2, 3, 4), id="default-fro-all"),
    pytest.param({"p": "fro", "dim": (0, 1)}, (2, 3, 4), id="fro-two-dims"),
    pytest.param({"p": "nuc"}, (3, 4), id="nuc-matrix"),
    pytest.param({"p": "nuc", "dim": (0, 2), "keepdim": True}, (2, 3, 4), id="nuc-dims-keepdim"),
    pytest.param({"p": 2, "dim": (0, 1)}, (2, 3, 4), id="number-over-two-dims-is-a-vector-norm"),
    pytest.param({"p": 1, "dim": 1}, (2, 3, 4), id="one-dim"),
    pytest.param({"p": INF}, (3, 4), id="inf-all"),
    pytest.param({"p": 3, "dim": -1, "keepdim": True}, (2, 3), id="p3-keepdim"),
    pytest.param({"p": None}, (4,), id="p-none"),
]


@pytest.mark.parametrize("kwargs, shape", NORM_CALLS)
@pytest.mark.parametrize("method", [False, True])
def test_norm_against_torch(kwargs, shape, method):
    cr_fn = (lambda x: x.norm(**kwargs)) if method else (lambda x: cr.norm(x, **kwargs))
    against_torch(cr_fn, lambda x: torch.norm(x, **kwargs), [_values(shape)], second_order=True)


LINALG_NORM_CALLS = [
    pytest.param({}, (2, 3, 4), id="default-all-elements"),
    pytest.param({"ord": 2}, (3, 4), id="matrix-2"),
    pytest.param({"ord": "nuc"}, (3, 4), id="matrix-nuc"),
    pytest.param({"ord": 3}, (4,), id="vector-3"),
    pytest.param({"ord": INF, "dim": (1, 2)}, (2, 3, 4), id="matrix-inf-dims"),
    pytest.param({"ord": 1, "dim": 0, "keepdim": True}, (3, 4), id="vector-dim"),
    pytest.param({"dim": (0, 1)}, (2, 3, 4), id="ord-none-two-dims"),
]


@pytest.mark.parametrize("kwargs, shape", LINALG_NORM_CALLS)
def test_linalg_norm_against_torch(kwargs, shape):
    against_torch(lambda x: cr.linalg.norm(x, **kwargs), lambda x: torch.linalg.norm(x, **kwargs),
                  [_values(shape)], second_order=True)


@pytest.mark.parametrize("ord", [2, 1, INF, -INF, 0, 3, 1.5, 0.5, -1])
def test_vector_norm_subgradient_at_zero_as_torch(ord):
    values = np.array([[0.0, 0.0, 0.0], [1.0, 0.0, -2.0]])  # a zero row, and zeros among nonzeros
    x = cr.tensor(values, dtype=cr.float64, requires_grad=True)
    t = torch.tensor(values, requires_grad=True)
    cr.linalg.vector_norm(x, ord, dim=1).sum().backward()
    torch.linalg.vector_norm(t, ord, dim=1).sum().backward()
    expected = np.zeros_like(values) if t.grad is None else t.grad.numpy()
    assert np.isfinite(x.grad.numpy()).all()
    np.testing.assert_allclose(x.grad.numpy(), expected, rtol=1e-12)
    assert np.abs(x.grad.numpy()[0]).max() == 0  # the zero vector: gradient 0, not NaN


@pytest.mark.parametrize("ord", [INF, -INF])
def test_inf_norm_shares_ties_as_torch(ord):
    values = np.array([1.0, -1.0, 0.5, 1.0]) if ord == INF else np.array([0.5, -0.5, 2.0, 1.0])
    against_torch(lambda x: cr.linalg.vector_norm(x, ord), lambda x: torch.linalg.vector_norm(x, ord), [values])


@pytest.mark.parametrize("ord", VECTOR_ORDS)
def test_vector_norm_gradcheck_and_gradgradcheck(ord):
    x = cr.tensor(_values((2, 3), 1), dtype=cr.float64, requires_grad=True)
    check_grad(lambda t: cr.linalg.vector_norm(t, ord, dim=1), x)
    assert gradgradcheck(lambda t: cr.linalg.vector_norm(t, ord, dim=1), x)


@pytest.mark.parametrize("ord", MATRIX_ORDS)
def test_matrix_norm_gradcheck_and_gradgradcheck(ord):
    a = cr.tensor(_values((2, 3, 2), 2), dtype=cr.float64, requires_grad=True)
    check_grad(lambda t: cr.linalg.matrix_norm(t, ord), a)
    assert gradgradcheck(lambda t: cr.linalg.matrix_norm(t, ord), a)


def test_tensor_used_twice_and_empty_inputs():
    x = cr.tensor(_values((3, 3), 3), dtype=cr.float64, requires_grad=True)
    check_grad(lambda t: cr.linalg.vector_norm(t * t, 3) + cr.linalg.matrix_norm(t @ t, "nuc"), x)
    empty = cr.zeros(0, 3, dtype=cr.float64, requires_grad=True)
    out = cr.linalg.vector_norm(empty)
    assert out.item() == 0.0
    out.backward()
    assert empty.grad.shape == (0, 3)
    np.testing.assert_array_equal(cr.linalg.vector_norm(empty, 2, dim=0).numpy(), np.zeros(3))
    assert cr.linalg.matrix_norm(cr.zeros(0, 3), "nuc").item() == 0.0
    assert cr.linalg.vector_norm(cr.tensor(-3.0)).item() == 3.0  # a 0-d tensor


ERRORS = [
    pytest.param(lambda: cr.linalg.vector_norm(cr.tensor([1, 2])), TypeError, "floating-point", id="vector-int"),
    pytest.param(lambda: cr.linalg.vector_norm(cr.zeros(3), "fro"), TypeError, "ord must be a number",
                 id="vector-string-ord"),
    pytest.param(lambda: cr.linalg.vector_norm(cr.zeros(3), True), TypeError, "ord must be a number",
                 id="vector-bool-ord"),
    pytest.param(lambda: cr.linalg.vector_norm(cr.zeros(3), 2, 1), IndexError, "out of range", id="vector-dim"),
    pytest.param(lambda: cr.linalg.vector_norm(cr.zeros(0, 2), INF), ValueError, "empty dimension",
                 id="vector-inf-empty"),
    pytest.param(lambda: cr.linalg.vector_norm([1.0]), TypeError, "must be a Tensor", id="vector-type"),
    pytest.param(lambda: cr.linalg.matrix_norm(cr.zeros(3, 3), 3), ValueError, "ord must be one of",
                 id="matrix-ord"),
    pytest.param(lambda: cr.linalg.matrix_norm(cr.zeros(3, 3), "max"), ValueError, "ord must be one of",
                 id="matrix-ord-name"),
    pytest.param(lambda: cr.linalg.matrix_norm(cr.zeros(3)), ValueError, "at least 2 dimensions", id="matrix-1d"),
    pytest.param(lambda: cr.linalg.matrix_norm(cr.zeros(3, 3), dim=0), ValueError, "tuple of two", id="matrix-dim"),
    pytest.param(lambda: cr.linalg.matrix_norm(cr.zeros(3, 3), dim=(1, -1)), ValueError, "two different",
                 id="matrix-same-dims"),
    pytest.param(lambda: cr.linalg.matrix_norm(cr.zeros(3, 0), 1), ValueError, "empty matrix", id="matrix-empty"),
    pytest.param(lambda: cr.linalg.matrix_norm(cr.tensor([[1, 2]])), TypeError, "floating-point", id="matrix-int"),
    pytest.param(lambda: cr.norm(cr.zeros(2, 3, 4), "nuc"), ValueError, "tuple of two", id="norm-nuc-3d"),
    pytest.param(lambda: cr.linalg.norm(cr.zeros(2, 3, 4), 2), ValueError, "1-D or 2-D", id="linalg-norm-3d"),
    pytest.param(lambda: cr.linalg.norm(cr.zeros(2, 3, 4), 2, (0, 1, 2)), ValueError, "one or two",
                 id="linalg-norm-three-dims"),
]


@pytest.mark.parametrize("call, error, message", ERRORS)
def test_errors(call, error, message):
    with pytest.raises(error, match=message):
        call()
