"""Solving and factoring (chainrule.engine.ops.decompositions) against torch.linalg: solve
(matrices, vectors, broadcast batches, left=False), inv, det (also at singular matrices),
slogdet (the named tuple), cholesky (lower and upper); values, gradients and Hessian-vector
products in float64 (tight) and float32 (relaxed), contiguous and strided; gradcheck and
gradgradcheck on well-conditioned and positive-definite inputs; the errors, naming the op and
the batch element that is singular or not positive-definite."""
from __future__ import annotations

import numpy as np
import pytest
from conftest import check_grad
from linalg_oracle import against_torch, positive_definite, well_conditioned

import chainrule as cr
from chainrule.autograd import gradgradcheck

torch = pytest.importorskip("torch")


def _random(shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape)


def _chol_cr(x, upper=False):
    """cholesky of the positive-definite X X^T + n I (so that gradients see symmetric input)."""
    n = x.shape[-1]
    return cr.linalg.cholesky(x @ x.mT + n * cr.eye(n, dtype=x.dtype), upper=upper)


def _chol_torch(x, upper=False):
    n = x.shape[-1]
    return torch.linalg.cholesky(x @ x.mT + n * torch.eye(n, dtype=x.dtype), upper=upper)


# (chainrule function, torch function, input arrays)
CASES = [
    pytest.param(cr.linalg.solve, torch.linalg.solve, [well_conditioned((3, 3)), _random((3, 2))], id="solve"),
    pytest.param(cr.linalg.solve, torch.linalg.solve, [well_conditioned((2, 3, 3)), _random((2, 3, 2))],
                 id="solve-batched"),
    pytest.param(cr.linalg.solve, torch.linalg.solve, [well_conditioned((3, 3)), _random((3,))], id="solve-vector"),
    pytest.param(cr.linalg.solve, torch.linalg.solve, [well_conditioned((2, 3, 3)), _random((2, 3))],
                 id="solve-batch-of-vectors"),
    pytest.param(cr.linalg.solve, torch.linalg.solve, [well_conditioned((2, 3, 3)), _random((3,))],
                 id="solve-one-vector-many-matrices"),
    pytest.param(cr.linalg.solve, torch.linalg.solve, [well_conditioned((2, 1, 3, 3)), _random((4, 3, 2))],
                 id="solve-broadcast"),
    pytest.param(lambda a, b: cr.linalg.solve(a, b, left=False), lambda a, b: torch.linalg.solve(a, b, left=False),
                 [well_conditioned((2, 3, 3)), _random((2, 4, 3))], id="solve-right"),
    pytest.param(lambda a, b: cr.linalg.solve(a, a @ b), lambda a, b: torch.linalg.solve(a, a @ b),
                 [well_conditioned((3, 3)), _random((3, 2))], id="solve-matrix-used-twice"),
    pytest.param(cr.linalg.inv, torch.linalg.inv, [well_conditioned((3, 3))], id="inv"),
    pytest.param(lambda a: a.inverse(), torch.inverse, [well_conditioned((2, 3, 3))], id="inverse-batched"),
    pytest.param(cr.inverse, torch.inverse, [well_conditioned((1, 1))], id="inverse-1x1"),
    pytest.param(cr.linalg.det, torch.linalg.det, [well_conditioned((3, 3))], id="det"),
    pytest.param(lambda a: a.det(), torch.det, [_random((2, 4, 4), 5)], id="det-batched"),
    pytest.param(cr.det, torch.det, [well_conditioned((0, 0))], id="det-empty-matrix"),
    pytest.param(lambda a: cr.linalg.slogdet(a).logabsdet, lambda a: torch.linalg.slogdet(a).logabsdet,
                 [_random((2, 3, 3), 6)], id="slogdet"),
    pytest.param(lambda a: cr.slogdet(a)[1], lambda a: torch.slogdet(a)[1], [well_conditioned((4, 4))],
                 id="slogdet-top-level"),
    pytest.param(_chol_cr, _chol_torch, [_random((3, 3))], id="cholesky"),
    pytest.param(lambda x: _chol_cr(x, True), lambda x: _chol_torch(x, True), [_random((2, 3, 3))],
                 id="cholesky-upper-batched"),
    pytest.param(cr.linalg.cholesky, torch.linalg.cholesky, [positive_definite((2, 3, 3))], id="cholesky-direct"),
]


@pytest.mark.parametrize("fn, torch_fn, arrays", CASES)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("layout", ["contiguous", "noncontiguous"])
def test_against_torch(fn, torch_fn, arrays, dtype, layout):
    second = dtype == np.float64 and layout == "contiguous"
    against_torch(fn, torch_fn, arrays, dtype, layout, scale=10.0, second_order=second)


@pytest.mark.parametrize("fn, torch_fn, arrays", [case for case in CASES if case.id != "cholesky-direct"])
def test_gradcheck_and_gradgradcheck(fn, torch_fn, arrays):
    xs = [cr.tensor(a, dtype=cr.float64, requires_grad=True) for a in arrays]
    check_grad(fn, *xs)
    assert gradgradcheck(fn, *xs)


def test_cholesky_gradient_is_symmetric_as_torch():
    a = positive_definite((3, 3), 7)
    against_torch(cr.linalg.cholesky, torch.linalg.cholesky, [a])
    x = cr.tensor(a, dtype=cr.float64, requires_grad=True)
    cr.linalg.cholesky(x).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), x.grad.numpy().T, rtol=1e-12)


@pytest.mark.parametrize("matrix", [
    pytest.param([[1.0, 2.0], [2.0, 4.0]], id="rank-one-2x2"),
    pytest.param([[1.0, 2.0, 3.0], [2.0, 4.0, 6.0], [0.5, -1.0, 2.0]], id="rank-two-3x3"),
    pytest.param([[0.0, 0.0], [0.0, 0.0]], id="zero"),
])
def test_det_gradient_at_singular_matrices_is_the_cofactor_matrix(matrix):
    """A deliberate difference: torch gives 0 here (pytorch/pytorch#104675), which is wrong
    wherever the rank is n - 1; the derivative of det is the cofactor matrix everywhere."""
    a = np.array(matrix)
    n = a.shape[0]
    cofactors = np.array([[(-1) ** (i + j) * np.linalg.det(np.delete(np.delete(a, i, 0), j, 1)) for j in range(n)]
                          for i in range(n)])
    x = cr.tensor(a, dtype=cr.float64, requires_grad=True)
    cr.linalg.det(x).backward()
    np.testing.assert_allclose(x.grad.numpy(), cofactors, atol=1e-12)
    check_grad(cr.linalg.det, cr.tensor(a, dtype=cr.float64, requires_grad=True))


def test_slogdet_named_tuple_and_sign():
    a = _random((3, 4, 4), 8)
    result = cr.linalg.slogdet(cr.tensor(a, dtype=cr.float64))
    expected = torch.linalg.slogdet(torch.tensor(a))
    assert result._fields == ("sign", "logabsdet")
    sign, logabsdet = result
    np.testing.assert_array_equal(sign.numpy(), expected.sign.numpy())
    np.testing.assert_allclose(logabsdet.numpy(), expected.logabsdet.numpy(), rtol=1e-12)
    assert set(np.unique(sign.numpy())) <= {-1.0, 1.0}
    singular = cr.linalg.slogdet(cr.zeros(2, 2, dtype=cr.float64))
    assert singular.sign.item() == 0.0 and singular.logabsdet.item() == -np.inf
    product = cr.Tensor.slogdet(cr.tensor(a[0], dtype=cr.float64))
    np.testing.assert_allclose(product.sign.item() * np.exp(product.logabsdet.item()), np.linalg.det(a[0]))


def test_closed_forms():
    rng = np.random.default_rng(9)
    a_values, g = well_conditioned((3, 3), 9), rng.standard_normal((3, 3))
    a = cr.tensor(a_values, dtype=cr.float64, requires_grad=True)
    cr.linalg.inv(a).backward(cr.tensor(g))
    inverse = np.linalg.inv(a_values)
    np.testing.assert_allclose(a.grad.numpy(), -inverse.T @ g @ inverse.T, rtol=1e-10)
    a.grad = None
    cr.linalg.det(a).backward()
    np.testing.assert_allclose(a.grad.numpy(), np.linalg.det(a_values) * inverse.T, rtol=1e-10)


def test_lower_triangle_only_is_read_by_cholesky():
    a = positive_definite((3, 3), 10)
    garbage = a.copy()
    garbage[0, 2] = 100.0  # the upper triangle is ignored, as in LAPACK and torch
    np.testing.assert_allclose(cr.linalg.cholesky(cr.tensor(garbage, dtype=cr.float64)).numpy(),
                               np.linalg.cholesky(a), rtol=1e-12)


ERRORS = [
    pytest.param(lambda: cr.linalg.inv(cr.zeros(2, 3)), ValueError, "linalg.inv: A must be a square", id="inv-shape"),
    pytest.param(lambda: cr.linalg.det(cr.zeros(3)), ValueError, "linalg.det: A must be a square", id="det-1d"),
    pytest.param(lambda: cr.linalg.slogdet(cr.zeros(2, 3, 4)), ValueError, "square", id="slogdet-shape"),
    pytest.param(lambda: cr.linalg.cholesky(cr.zeros(3, 2)), ValueError, "linalg.cholesky: A must be a square",
                 id="cholesky-shape"),
    pytest.param(lambda: cr.linalg.solve(cr.zeros(2, 3), cr.zeros(2)), ValueError, "square", id="solve-shape"),
    pytest.param(lambda: cr.linalg.inv(cr.tensor([[1, 0], [0, 1]])), TypeError, "floating-point", id="inv-int"),
    pytest.param(lambda: cr.linalg.inv([[1.0]]), TypeError, "A must be a Tensor", id="inv-type"),
    pytest.param(lambda: cr.linalg.solve(cr.eye(2), cr.tensor([1, 2])), TypeError, "floating-point", id="solve-int"),
    pytest.param(lambda: cr.linalg.solve(cr.eye(2), [1.0, 2.0]), TypeError, "B must be a Tensor", id="solve-type"),
    pytest.param(lambda: cr.linalg.solve(cr.eye(2), cr.zeros(3)), ValueError, "B needs 2 rows", id="solve-rows"),
    pytest.param(lambda: cr.linalg.solve(cr.eye(2).expand(3, 2, 2), cr.zeros(4, 2, 1)), ValueError,
                 "do not broadcast", id="solve-batch"),
    pytest.param(lambda: cr.linalg.solve(cr.eye(2), cr.zeros(2), left=False), ValueError, "left=False",
                 id="solve-right-vector"),
    pytest.param(lambda: cr.linalg.inv(cr.zeros(2, 2)), cr.linalg.LinAlgError,
                 r"^linalg.inv: the input matrix is singular", id="inv-singular"),
    pytest.param(lambda: cr.linalg.inv(cr.stack([cr.eye(2), cr.zeros(2, 2)])), cr.linalg.LinAlgError,
                 r"singular .*\(batch element \(1,\)\)", id="inv-singular-batch-element"),
    pytest.param(lambda: cr.linalg.solve(cr.tensor([[1.0, 2.0], [2.0, 4.0]]), cr.zeros(2)), cr.linalg.LinAlgError,
                 r"^linalg.solve: the input matrix is singular", id="solve-singular"),
    pytest.param(lambda: cr.linalg.cholesky(cr.tensor([[1.0, 2.0], [2.0, 1.0]])), cr.linalg.LinAlgError,
                 r"^linalg.cholesky: .*not positive-definite \(the leading minor of order 2", id="cholesky-not-pd"),
    pytest.param(lambda: cr.linalg.cholesky(cr.stack([cr.eye(3), -cr.eye(3)])), cr.linalg.LinAlgError,
                 r"leading minor of order 1 .*\(batch element \(1,\)\)", id="cholesky-not-pd-batch-element"),
]


@pytest.mark.parametrize("call, error, message", ERRORS)
def test_errors(call, error, message):
    with pytest.raises(error, match=message):
        call()


def test_linalg_error_is_a_runtime_error_as_torch():
    assert issubclass(cr.linalg.LinAlgError, RuntimeError)
    assert issubclass(torch.linalg.LinAlgError, RuntimeError)


def test_gradient_errors_at_singular_matrices():
    a = cr.tensor([[1.0, 2.0], [2.0, 4.0]], dtype=cr.float64, requires_grad=True)
    with pytest.raises(cr.linalg.LinAlgError, match="linalg.slogdet: .*singular"):
        cr.linalg.slogdet(a).logabsdet.backward()
    (grad,) = cr.autograd.grad(cr.linalg.det(a), [a], create_graph=False)
    np.testing.assert_allclose(grad.numpy(), [[4.0, -2.0], [-2.0, 1.0]], atol=1e-12)  # the cofactors
    with pytest.raises(cr.linalg.LinAlgError, match="linalg.det: the second derivative at a singular matrix"):
        cr.autograd.grad(cr.linalg.det(a), [a], create_graph=True)
