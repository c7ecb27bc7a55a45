"""The products and matrix pieces of chainrule.engine.ops.linalg beside matmul: dot, mm, bmm,
outer, diagonal (a writable view), diagonal_scatter, trace, tril, triu, against torch in float64
and float32, contiguous and strided, with Hessian-vector products; gradcheck and gradgradcheck;
the Tensor methods; and the errors (wrong ranks, shapes, dims, types)."""
from __future__ import annotations

import numpy as np
import pytest
from conftest import check_grad
from linalg_oracle import against_torch

import chainrule as cr
from chainrule.autograd import gradgradcheck

torch = pytest.importorskip("torch")

# (name, chainrule function, torch function, operand shapes)
OPS = [
    pytest.param(cr.dot, torch.dot, [(4,), (4,)], id="dot"),
    pytest.param(lambda a, b: a.dot(b), torch.dot, [(1,), (1,)], id="dot-method-size-one"),
    pytest.param(cr.mm, torch.mm, [(2, 3), (3, 4)], id="mm"),
    pytest.param(lambda a, b: a.mm(b), torch.mm, [(3, 0), (0, 2)], id="mm-method-empty-inner"),
    pytest.param(cr.bmm, torch.bmm, [(2, 2, 3), (2, 3, 4)], id="bmm"),
    pytest.param(lambda a, b: a.bmm(b), torch.bmm, [(1, 1, 1), (1, 1, 3)], id="bmm-method-ones"),
    pytest.param(cr.outer, torch.outer, [(2,), (3,)], id="outer"),
    pytest.param(lambda a, b: a.outer(b), torch.outer, [(0,), (3,)], id="outer-method-empty"),
    pytest.param(cr.diagonal, torch.diagonal, [(3, 4)], id="diagonal"),
    pytest.param(lambda a: cr.diagonal(a, 1), lambda a: torch.diagonal(a, 1), [(3, 4)], id="diagonal-above"),
    pytest.param(lambda a: cr.diagonal(a, -2), lambda a: torch.diagonal(a, -2), [(3, 4)], id="diagonal-below"),
    pytest.param(lambda a: cr.diagonal(a, 5), lambda a: torch.diagonal(a, 5), [(3, 4)], id="diagonal-past-the-end"),
    pytest.param(lambda a: a.diagonal(0, -1, 0), lambda a: a.diagonal(0, -1, 0), [(3, 2, 4)], id="diagonal-dims"),
    pytest.param(lambda a: cr.linalg.diagonal(a, offset=1), lambda a: torch.linalg.diagonal(a, offset=1),
                 [(2, 3, 3)], id="linalg-diagonal"),
    pytest.param(lambda a, s: cr.diagonal_scatter(a, s), torch.diagonal_scatter, [(3, 4), (3,)],
                 id="diagonal_scatter"),
    pytest.param(lambda a, s: cr.diagonal_scatter(a, s, -1, 2, 0), lambda a, s: torch.diagonal_scatter(a, s, -1, 2, 0),
                 [(3, 2, 4), (2, 3)], id="diagonal_scatter-dims"),
    pytest.param(cr.trace, torch.trace, [(3, 3)], id="trace"),
    pytest.param(lambda a: a.trace(), torch.trace, [(2, 4)], id="trace-method-wide"),
    pytest.param(cr.tril, torch.tril, [(3, 4)], id="tril"),
    pytest.param(lambda a: a.tril(-1), lambda a: a.tril(-1), [(2, 3, 3)], id="tril-batched-below"),
    pytest.param(lambda a: cr.tril(a, 2), lambda a: torch.tril(a, 2), [(3, 2)], id="tril-above"),
    pytest.param(cr.triu, torch.triu, [(3, 4)], id="triu"),
    pytest.param(lambda a: a.triu(1), lambda a: a.triu(1), [(2, 3, 3)], id="triu-batched-above"),
    pytest.param(lambda a: cr.triu(a, -5), lambda a: torch.triu(a, -5), [(3, 2)], id="triu-everything"),
]


def _values(shapes, seed=0):
    rng = np.random.default_rng(seed)
    return [rng.uniform(-2, 2, shape) for shape in shapes]


@pytest.mark.parametrize("fn, torch_fn, shapes", OPS)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("layout", ["contiguous", "noncontiguous"])
def test_against_torch(fn, torch_fn, shapes, dtype, layout):
    second = dtype == np.float64 and layout == "contiguous"
    against_torch(fn, torch_fn, _values(shapes), dtype, layout, second_order=second)


@pytest.mark.parametrize("fn, torch_fn, shapes", OPS)
def test_gradcheck_and_gradgradcheck(fn, torch_fn, shapes):
    xs = [cr.tensor(v, dtype=cr.float64, requires_grad=True) for v in _values(shapes, 1)]
    check_grad(fn, *xs)
    assert gradgradcheck(fn, *xs)


def test_tensor_used_twice():
    x = cr.tensor([1.0, 2.0, -1.0], dtype=cr.float64, requires_grad=True)
    cr.dot(x, x).backward()
    np.testing.assert_allclose(x.grad.numpy(), [2.0, 4.0, -2.0])
    m = cr.tensor(_values([(3, 3)])[0], dtype=cr.float64, requires_grad=True)
    check_grad(lambda t: cr.mm(t, t).trace() + cr.outer(t.diagonal(), t.diagonal()).sum(), m)


def test_diagonal_is_a_writable_view_as_in_torch():
    base = cr.tensor(np.arange(9.0).reshape(3, 3))
    diag = base.diagonal()
    with cr.no_grad():
        diag.fill_(-1.0)
    np.testing.assert_array_equal(base.numpy(), [[-1, 1, 2], [3, -1, 5], [6, 7, -1]])
    reference = torch.arange(9.0).reshape(3, 3)
    reference.diagonal().fill_(-1.0)
    np.testing.assert_array_equal(base.numpy(), reference.numpy())
    above = base.diagonal(1)
    with cr.no_grad():
        above.zero_()
    assert base.numpy()[0, 1] == 0 and base.numpy()[1, 2] == 0


def test_diagonal_of_a_read_only_array_stays_read_only():
    base = cr.tensor([1.0, 2.0]).expand(2, 2)  # a broadcast view: NumPy keeps it read-only
    assert not base.diagonal().data.flags.writeable


def test_closed_form_gradients():
    rng = np.random.default_rng(2)
    a_values, g = rng.standard_normal((3, 4)), rng.standard_normal((3, 4))
    a = cr.tensor(a_values, dtype=cr.float64, requires_grad=True)
    cr.trace(a).backward()
    np.testing.assert_array_equal(a.grad.numpy(), np.eye(3, 4))
    a.grad = None
    cr.tril(a, 1).backward(cr.tensor(g))
    np.testing.assert_array_equal(a.grad.numpy(), np.tril(g, 1))
    a.grad = None
    cr.diagonal(a, 1).backward(cr.tensor([1.0, 2.0, 3.0], dtype=cr.float64))
    expected = np.zeros((3, 4))
    expected[[0, 1, 2], [1, 2, 3]] = [1, 2, 3]
    np.testing.assert_array_equal(a.grad.numpy(), expected)


def test_integer_inputs_keep_their_dtype():
    a = cr.tensor(np.arange(6).reshape(2, 3))
    assert cr.tril(a).dtype == np.int64 and cr.trace(a).item() == 4
    np.testing.assert_array_equal(cr.mm(a, a.T).numpy(), a.numpy() @ a.numpy().T)


ERRORS = [
    pytest.param(lambda: cr.dot(cr.zeros(2, 2), cr.zeros(2)), ValueError, "dot: input must be 1-D", id="dot-rank"),
    pytest.param(lambda: cr.dot(cr.zeros(2), cr.zeros(3)), ValueError, "same length", id="dot-lengths"),
    pytest.param(lambda: cr.dot(cr.zeros(2), [1.0, 2.0]), TypeError, "other must be a Tensor", id="dot-type"),
    pytest.param(lambda: cr.mm(cr.zeros(2, 3, 4), cr.zeros(4, 2)), ValueError, "mm: input must be 2-D", id="mm-rank"),
    pytest.param(lambda: cr.mm(cr.zeros(2, 3), cr.zeros(4, 2)), ValueError, "inner dimensions", id="mm-inner"),
    pytest.param(lambda: cr.mm(cr.zeros(2, 3, dtype=cr.bool), cr.zeros(3, 2)), TypeError, "bool", id="mm-bool"),
    pytest.param(lambda: cr.bmm(cr.zeros(2, 3), cr.zeros(3, 2)), ValueError, "bmm: input must be 3-D", id="bmm-rank"),
    pytest.param(lambda: cr.bmm(cr.zeros(2, 2, 3), cr.zeros(1, 3, 2)), ValueError, "batch sizes", id="bmm-batch"),
    pytest.param(lambda: cr.bmm(cr.zeros(2, 2, 3), cr.zeros(2, 4, 2)), ValueError, "inner", id="bmm-inner"),
    pytest.param(lambda: cr.outer(cr.zeros(2, 1), cr.zeros(2)), ValueError, "outer: input must be 1-D",
                 id="outer-rank"),
    pytest.param(lambda: cr.diagonal(cr.zeros(3)), ValueError, "at least 2 dimensions", id="diagonal-rank"),
    pytest.param(lambda: cr.diagonal(cr.zeros(3, 3), 0, 1, -1), ValueError, "different dimensions",
                 id="diagonal-same-dims"),
    pytest.param(lambda: cr.diagonal(cr.zeros(3, 3), 0, 0, 2), IndexError, "out of range", id="diagonal-dim-range"),
    pytest.param(lambda: cr.diagonal(cr.zeros(3, 3), 0.5), TypeError, "offset must be an int", id="diagonal-offset"),
    pytest.param(lambda: cr.diagonal_scatter(cr.zeros(3, 3), cr.zeros(2)), ValueError, "diagonal's shape",
                 id="diagonal_scatter-shape"),
    pytest.param(lambda: cr.trace(cr.zeros(2, 2, 2)), ValueError, "trace: expected a 2-D", id="trace-rank"),
    pytest.param(lambda: cr.trace([[1.0]]), TypeError, "must be a Tensor", id="trace-type"),
    pytest.param(lambda: cr.tril(cr.zeros(3)), ValueError, "tril: input must have at least 2", id="tril-rank"),
    pytest.param(lambda: cr.triu(cr.zeros(3, 3), 1.0), TypeError, "triu: diagonal must be an int", id="triu-k"),
]


@pytest.mark.parametrize("call, error, message", ERRORS)
def test_errors(call, error, message):
    with pytest.raises(error, match=message):
        call()
