"""einsum (chainrule.engine.ops.einsum) against torch.einsum on a table of equations: matrix
and batch products, traces and diagonals (repeated indices), outer products, transposes,
sums, ellipsis broadcasting, size-1 broadcasting, implicit outputs, three operands; values and
gradients in float64 (tight) and float32 (relaxed), contiguous and strided; a Hessian-vector
product against torch; gradcheck and gradgradcheck; the optimized and plain contractions
agree; the output never aliases an input; the errors for malformed equations."""
from __future__ import annotations

import importlib

import numpy as np
import pytest
from conftest import check_grad
from linalg_oracle import against_torch

import chainrule as cr
from chainrule.autograd import gradgradcheck

einsum_module = importlib.import_module("chainrule.engine.ops.einsum")

torch = pytest.importorskip("torch")

# (equation, operand shapes)
EQUATIONS = [
    pytest.param("ij,jk->ik", [(2, 3), (3, 4)], id="matrix-product"),
    pytest.param("bij,bjk->bik", [(2, 2, 3), (2, 3, 4)], id="batch-matmul"),
    pytest.param("ii->", [(3, 3)], id="trace"),
    pytest.param("ii", [(3, 3)], id="trace-implicit"),
    pytest.param("ii->i", [(3, 3)], id="diagonal"),
    pytest.param("i,j->ij", [(2,), (3,)], id="outer"),
    pytest.param("ij->ji", [(2, 3)], id="transpose"),
    pytest.param("ij->", [(2, 3)], id="sum-all"),
    pytest.param("ij->j", [(2, 3)], id="sum-rows"),
    pytest.param("i,i->", [(4,), (4,)], id="dot"),
    pytest.param("ij,ij->ij", [(2, 3), (2, 3)], id="hadamard"),
    pytest.param("ij,ij->", [(1, 3), (2, 3)], id="size-one-broadcast"),
    pytest.param("ij,kj", [(2, 3), (4, 3)], id="implicit-output"),
    pytest.param("Ba,b", [(2, 3), (4,)], id="implicit-uppercase-first"),
    pytest.param("...ij,...jk->...ik", [(2, 2, 3), (3, 4)], id="ellipsis-matmul"),
    pytest.param("...ij->...ji", [(2, 1, 2, 3)], id="ellipsis-transpose"),
    pytest.param("i...,i...->...", [(2, 3), (2, 1, 3)], id="ellipsis-right-aligned"),
    pytest.param("...ij->ij", [(4, 2, 3)], id="ellipsis-summed"),
    pytest.param("ij,jk,kl->il", [(2, 3), (3, 4), (4, 2)], id="three-operands"),
    pytest.param("ijk,ikl,ijl->i", [(2, 3, 2), (2, 2, 4), (2, 3, 4)], id="three-operands-to-vector"),
    pytest.param("bii->bi", [(2, 3, 3)], id="batched-diagonal"),
    pytest.param("iij,jk->ik", [(2, 2, 3), (3, 4)], id="repeated-index-and-product"),
    pytest.param("iji->j", [(2, 3, 2)], id="repeated-index-apart"),
    pytest.param("ijij->ij", [(2, 3, 2, 3)], id="two-repeated-indices"),
    pytest.param("iii->i", [(2, 2, 2)], id="thrice-repeated"),
    pytest.param("i,->i", [(3,), ()], id="scalar-operand"),
    pytest.param("bhqd,bhkd->bhqk", [(1, 2, 3, 4), (1, 2, 5, 4)], id="attention-scores"),
    pytest.param(" i j , j k -> i k ", [(2, 3), (3, 2)], id="spaces"),
    pytest.param("ij,kj->ik", [(0, 3), (2, 3)], id="empty-dimension"),
    pytest.param("ij,j->", [(2, 1), (3,)], id="size-one-against-larger"),
]


def _values(shapes, seed=0):
    rng = np.random.default_rng(seed)
    return [rng.uniform(-2, 2, shape) for shape in shapes]


@pytest.mark.parametrize("equation, shapes", EQUATIONS)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("layout", ["contiguous", "noncontiguous"])
def test_einsum_against_torch(equation, shapes, dtype, layout):
    second = dtype == np.float64 and layout == "contiguous"
    against_torch(lambda *xs: cr.einsum(equation, *xs), lambda *ts: torch.einsum(equation, *ts),
                  _values(shapes), dtype, layout, second_order=second)


@pytest.mark.parametrize("equation, shapes", EQUATIONS)
def test_einsum_gradcheck_and_gradgradcheck(equation, shapes):
    xs = [cr.tensor(v, dtype=cr.float64, requires_grad=True) for v in _values(shapes, 1)]
    check_grad(lambda *ts: cr.einsum(equation, *ts), *xs)
    assert gradgradcheck(lambda *ts: cr.einsum(equation, *ts), *xs)


def test_einsum_operands_as_a_list_and_the_method_forms():
    a, b = (cr.tensor(v, dtype=cr.float64) for v in _values([(2, 3), (3, 4)]))
    np.testing.assert_allclose(cr.einsum("ij,jk->ik", [a, b]).numpy(), a.numpy() @ b.numpy(), rtol=1e-12)
    np.testing.assert_allclose(cr.einsum("ij,jk->ik", (a, b)).numpy(), (a @ b).numpy(), rtol=1e-12)


def test_einsum_tensor_used_twice():
    x = cr.tensor([1.0, -2.0, 3.0], dtype=cr.float64, requires_grad=True)
    cr.einsum("i,i->", x, x).backward()
    np.testing.assert_allclose(x.grad.numpy(), [2.0, -4.0, 6.0])
    m = cr.tensor(_values([(3, 3)])[0], dtype=cr.float64, requires_grad=True)
    check_grad(lambda t: cr.einsum("ij,jk,ki->", t, t, t), m)


def test_einsum_output_never_aliases_an_input():
    x = cr.tensor(np.arange(6.0).reshape(2, 3))
    for equation in ("ij->ji", "ij->ij"):
        out = cr.einsum(equation, x)
        out.data[...] = -1
        np.testing.assert_array_equal(x.numpy(), np.arange(6.0).reshape(2, 3))
    square = cr.tensor(np.arange(9.0).reshape(3, 3))
    diag = cr.einsum("ii->i", square)
    diag.data[...] = 0
    assert square.numpy()[1, 1] == 4.0


def test_einsum_optimized_and_plain_contractions_agree(monkeypatch):
    values = _values([(6, 7), (7, 8), (8, 5)], 3)
    results = []
    for threshold in (0, 10**12):  # always optimize, never optimize
        monkeypatch.setattr(einsum_module, "OPTIMIZE_FROM", threshold)
        xs = [cr.tensor(v, dtype=cr.float64, requires_grad=True) for v in values]
        out = cr.einsum("ij,jk,kl->il", *xs)
        out.sum().backward()
        results.append([out.numpy()] + [x.grad.numpy() for x in xs])
    for optimized, plain in zip(*results):
        np.testing.assert_allclose(optimized, plain, rtol=1e-12, atol=1e-12)


def test_einsum_integers_and_no_grad():
    a = cr.tensor(np.arange(6).reshape(2, 3))
    b = cr.tensor(np.arange(12).reshape(3, 4))
    out = cr.einsum("ij,jk->ik", a, b)
    assert out.dtype == np.int64 and not out.requires_grad
    np.testing.assert_array_equal(out.numpy(), np.arange(6).reshape(2, 3) @ np.arange(12).reshape(3, 4))


def test_einsum_gradient_closed_forms():
    rng = np.random.default_rng(4)
    a_values, g = rng.standard_normal((3, 3)), rng.standard_normal(3)
    a = cr.tensor(a_values, dtype=cr.float64, requires_grad=True)
    cr.einsum("ii->i", a).backward(cr.tensor(g))
    np.testing.assert_allclose(a.grad.numpy(), np.diag(g))  # scattered onto the diagonal
    a.grad = None
    cr.einsum("ij->i", a).backward(cr.tensor(g))
    np.testing.assert_allclose(a.grad.numpy(), np.repeat(g[:, None], 3, axis=1))  # broadcast over j


ERRORS = [
    pytest.param("ij,jk->ik", [(2, 3)], ValueError, "2 operand subscript", id="too-few-operands"),
    pytest.param("ij", [(2, 3), (3,)], ValueError, "1 operand subscript", id="too-many-operands"),
    pytest.param("ijk", [(2, 3)], ValueError, "operand 0 has 2", id="too-many-subscripts"),
    pytest.param("i", [(2, 3)], ValueError, "no ellipsis", id="too-few-subscripts"),
    pytest.param("...ijk", [(2, 3)], ValueError, "has only 2", id="ellipsis-too-many-subscripts"),
    pytest.param("ij->ii", [(2, 3)], ValueError, "more than once", id="repeated-output"),
    pytest.param("ij->k", [(2, 3)], ValueError, "does not appear", id="output-not-in-input"),
    pytest.param("i.j", [(2, 3)], ValueError, "stray", id="stray-dot"),
    pytest.param("......", [(2, 3)], ValueError, "more than one ellipsis", id="two-ellipses"),
    pytest.param("i1", [(2, 3)], ValueError, "invalid subscript", id="digit"),
    pytest.param("ii", [(2, 3)], ValueError, "different sizes", id="repeated-sizes-differ"),
    pytest.param("ij,ij", [(2, 3), (4, 3)], ValueError, "do not broadcast", id="sizes-differ"),
    pytest.param("...,...", [(2,), (3,)], ValueError, "do not broadcast", id="ellipsis-sizes-differ"),
]


@pytest.mark.parametrize("equation, shapes, error, message", ERRORS)
def test_einsum_errors(equation, shapes, error, message):
    xs = [cr.zeros(*shape) for shape in shapes]
    with pytest.raises(error, match=message) as caught:
        cr.einsum(equation, *xs)
    assert str(caught.value).startswith("einsum:")


def test_einsum_argument_type_errors():
    with pytest.raises(TypeError, match="operand 1 must be a Tensor"):
        cr.einsum("i,i->", cr.zeros(2), np.zeros(2))
    with pytest.raises(TypeError, match="equation must be a string"):
        cr.einsum(["i"], cr.zeros(2))
    with pytest.raises(ValueError, match="at least one operand"):
        cr.einsum("i->i")
