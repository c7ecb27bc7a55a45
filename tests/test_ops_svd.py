"""The singular value decomposition (chainrule.engine.ops.svd) against torch.linalg: svdvals
of square, wide, tall and batched matrices, and svd through losses that do not depend on the
singular vectors' signs (the only ones with a gradient); values, gradients, Hessian-vector
products in float64 and float32, contiguous and strided; gradcheck and gradgradcheck; the
reconstruction, full_matrices, no-grad path and errors."""
from __future__ import annotations

import numpy as np
import pytest
from conftest import check_grad
from linalg_oracle import against_torch

import chainrule as cr
from chainrule.autograd import gradgradcheck

torch = pytest.importorskip("torch")


def _random(shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape)


def _projection(svd):
    """U Vh (the orthogonal polar factor): independent of the signs of the singular vectors."""
    return lambda a: (lambda r: r.U @ r.Vh)(svd(a, full_matrices=False))


def _first_rank_one(svd):
    """u_1 v_1^T: the first singular pair's outer product, also sign-free."""
    return lambda a: (lambda r: r.U[..., :, :1] * r.Vh[..., :1, :])(svd(a, full_matrices=False))


def _abs_factors(svd, full, cat):
    """|U| and |Vh| restricted to the first k columns / rows: sign-free, also with full_matrices."""
    def loss(a):
        r = svd(a, full_matrices=full)
        k = min(a.shape[-2:])
        left = (r.U[..., :, :k].abs() * r.S[..., None, :]).sum(-1)
        right = (r.Vh[..., :k, :].abs() * r.S[..., :, None]).sum(-2)
        return cat([left, right], -1)
    return loss


CASES = [
    pytest.param(cr.linalg.svdvals, torch.linalg.svdvals, (3, 3), id="svdvals-square"),
    pytest.param(cr.linalg.svdvals, torch.linalg.svdvals, (2, 3, 5), id="svdvals-wide-batched"),
    pytest.param(cr.linalg.svdvals, torch.linalg.svdvals, (2, 5, 3), id="svdvals-tall-batched"),
    pytest.param(cr.linalg.svdvals, torch.linalg.svdvals, (1, 4), id="svdvals-row"),
    pytest.param(lambda a: cr.linalg.svd(a).S, lambda a: torch.linalg.svd(a).S, (4, 2), id="svd-S"),
    pytest.param(_projection(cr.linalg.svd), _projection(torch.linalg.svd), (3, 3), id="svd-polar-square"),
    pytest.param(_projection(cr.linalg.svd), _projection(torch.linalg.svd), (2, 4, 3), id="svd-polar-tall"),
    pytest.param(_projection(cr.linalg.svd), _projection(torch.linalg.svd), (2, 3, 4), id="svd-polar-wide"),
    pytest.param(_first_rank_one(cr.linalg.svd), _first_rank_one(torch.linalg.svd), (4, 3), id="svd-rank-one"),
    pytest.param(_abs_factors(cr.linalg.svd, False, cr.cat), _abs_factors(torch.linalg.svd, False, torch.cat), (3, 4),
                 id="svd-abs-factors"),
    pytest.param(_abs_factors(cr.linalg.svd, True, cr.cat), _abs_factors(torch.linalg.svd, True, torch.cat), (4, 2),
                 id="svd-abs-factors-full-tall"),
    pytest.param(_abs_factors(cr.linalg.svd, True, cr.cat), _abs_factors(torch.linalg.svd, True, torch.cat), (2, 4),
                 id="svd-abs-factors-full-wide"),
]


@pytest.mark.parametrize("fn, torch_fn, shape", CASES)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("layout", ["contiguous", "noncontiguous"])
def test_against_torch(fn, torch_fn, shape, dtype, layout):
    second = dtype == np.float64 and layout == "contiguous"
    against_torch(fn, torch_fn, [_random(shape)], dtype, layout, scale=20.0, second_order=second)


@pytest.mark.parametrize("fn, torch_fn, shape", CASES)
def test_gradcheck_and_gradgradcheck(fn, torch_fn, shape):
    a = cr.tensor(_random(shape, 1), dtype=cr.float64, requires_grad=True)
    check_grad(fn, a)
    assert gradgradcheck(fn, a)


@pytest.mark.parametrize("shape, full", [((3, 5), True), ((5, 3), True), ((2, 3, 4), False), ((4, 4), True)])
def test_svd_reconstructs_and_has_torch_shapes(shape, full):
    a = _random(shape, 2)
    result = cr.linalg.svd(cr.tensor(a, dtype=cr.float64), full_matrices=full)
    expected = torch.linalg.svd(torch.tensor(a), full_matrices=full)
    assert result._fields == ("U", "S", "Vh")
    for mine, theirs in zip(result, expected):
        assert mine.shape == tuple(theirs.shape)
    k = min(shape[-2:])
    u, s, vh = (t.numpy() for t in result)
    np.testing.assert_allclose((u[..., :, :k] * s[..., None, :]) @ vh[..., :k, :], a, atol=1e-12)


def test_svdvals_without_grad_and_factors_are_private_copies():
    a = cr.tensor(_random((3, 4), 3), dtype=cr.float64)
    np.testing.assert_allclose(cr.linalg.svdvals(a).numpy(), np.linalg.svd(a.numpy(), compute_uv=False))
    x = cr.tensor(_random((3, 3), 4), dtype=cr.float64, requires_grad=True)
    u, s, vh = cr.linalg.svd(x)
    before = u.numpy().copy()
    s.data[...] = 0  # another factor's memory is not the one the nodes saved
    np.testing.assert_array_equal(u.numpy(), before)
    (u @ vh).sum().backward()
    assert np.isfinite(x.grad.numpy()).all()


ERRORS = [
    pytest.param(lambda: cr.linalg.svd(cr.zeros(3)), ValueError, "linalg.svd: A must be a matrix", id="svd-1d"),
    pytest.param(lambda: cr.linalg.svdvals(cr.tensor([[1, 2]])), TypeError, "floating-point", id="svdvals-int"),
    pytest.param(lambda: cr.linalg.svdvals([[1.0]]), TypeError, "A must be a Tensor", id="svdvals-type"),
]


@pytest.mark.parametrize("call, error, message", ERRORS)
def test_errors(call, error, message):
    with pytest.raises(error, match=message):
        call()
