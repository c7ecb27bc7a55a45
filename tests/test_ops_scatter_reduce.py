"""scatter_reduce (chainrule.ops.scatter_reduce) against PyTorch: every reduction ("sum",
"mean", "amax", "amin") with and without include_self, repeated targets, ties (the gradient of
amax/amin split evenly among the values attaining the result, the input's own value included),
positions nothing is scattered to, negative dims, float32 and float64, strided inputs, integer
tensors (floor division for "mean"); gradcheck and gradgradcheck in float64; bad arguments."""
from __future__ import annotations

import numpy as np
import pytest
from parity import DTYPES, LAYOUTS, check_gradients, check_parity, values

import chainrule as cr

REDUCTIONS = ["sum", "mean", "amax", "amin"]
I0 = np.array([[2, 0, 1, 2], [0, 0, 2, 1], [2, 0, 1, 1]])  # dim 0 of a (3, 4): repeats; row 1 col 3 …
I1 = np.array([[3, 3], [1, 1], [0, 3]])  # dim 1 of a (3, 4): positions 2 never written
# small integers as floats: ties between the input and the sources, and among the sources
TIES_X = np.array([[1.0, 3.0, 2.0, 2.0], [0.0, 3.0, 3.0, 1.0], [2.0, 2.0, 2.0, 2.0]])
TIES_SRC = np.array([[2.0, 3.0, 3.0, 2.0], [2.0, 3.0, 2.0, 2.0], [1.0, 3.0, 3.0, 1.0]])


def t(ns, array):
    return ns.tensor(np.asarray(array, dtype=np.int64))


def program(reduce, include_self, dim=0, index=I0):
    def fn(ns, x, src):
        return ns.scatter_reduce(x, dim, t(ns, index), src, reduce, include_self=include_self)

    return fn


@pytest.mark.parametrize("reduce", REDUCTIONS)
@pytest.mark.parametrize("include_self", [True, False])
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("layout", LAYOUTS)
def test_against_torch(reduce, include_self, dtype, layout):
    check_parity(program(reduce, include_self), [values((3, 4)), values((3, 4), 1)], dtype, layout)
    check_parity(program(reduce, include_self, -1, I1), [values((3, 4)), values((3, 2), 2)], dtype, layout)


@pytest.mark.parametrize("reduce", REDUCTIONS)
@pytest.mark.parametrize("include_self", [True, False])
@pytest.mark.parametrize("dtype", DTYPES)
def test_ties_against_torch(reduce, include_self, dtype):
    check_parity(program(reduce, include_self), [TIES_X, TIES_SRC], dtype)
    check_parity(program(reduce, include_self, 1, I1), [TIES_X, TIES_SRC[:, :2]], dtype)


@pytest.mark.parametrize("reduce", REDUCTIONS)
@pytest.mark.parametrize("include_self", [True, False])
def test_gradcheck_and_gradgradcheck(reduce, include_self):
    check_gradients(program(reduce, include_self), [values((3, 4)), values((3, 4), 1)])
    check_gradients(program(reduce, include_self, -1, I1), [values((3, 4)), values((3, 2), 2)])


@pytest.mark.parametrize("reduce", REDUCTIONS)
def test_tensor_used_twice_method_and_larger_src(reduce):
    def twice(ns, x):
        return x.scatter_reduce(1, t(ns, [[0, 0, 3, 3]] * 3), x * x, reduce) * x

    check_parity(twice, [values((3, 4))])
    check_gradients(twice, [values((3, 4))])
    # src larger than index: PyTorch's backward refuses it; the values agree, gradcheck checks ours
    larger = program(reduce, True, 0, I0[:2])
    check_parity(larger, [values((3, 4)), values((3, 5), 1)], grads=False)
    check_gradients(larger, [values((3, 4)), values((3, 5), 1)])


@pytest.mark.parametrize("reduce", REDUCTIONS)
@pytest.mark.parametrize("include_self", [True, False])
def test_integer_tensors(reduce, include_self):
    torch = pytest.importorskip("torch")
    x, src = np.array([-5, 5, 5, 7]), np.array([1, 2, 4, -3, 8])
    index = np.array([0, 0, 1, 0, 2])
    ours = cr.scatter_reduce(cr.tensor(x), 0, cr.tensor(index), cr.tensor(src), reduce, include_self=include_self)
    theirs = torch.scatter_reduce(torch.tensor(x), 0, torch.tensor(index), torch.tensor(src), reduce,
                                  include_self=include_self)
    assert ours.dtype == np.int64
    np.testing.assert_array_equal(ours.numpy(), theirs.numpy())


def test_closed_forms():
    x = cr.tensor([1.0, 5.0, 2.0], requires_grad=True)
    src = cr.tensor([5.0, 5.0, 0.5, 4.0], requires_grad=True)
    out = cr.scatter_reduce(x, 0, cr.tensor([1, 1, 0, 2]), src, "amax")
    np.testing.assert_array_equal(out.numpy(), [1.0, 5.0, 4.0])
    out.backward(cr.tensor([1.0, 3.0, 2.0]))
    np.testing.assert_array_equal(x.grad.numpy(), [1.0, 1.0, 0.0])  # a three-way tie at position 1
    np.testing.assert_array_equal(src.grad.numpy(), [1.0, 1.0, 0.0, 2.0])
    mean = cr.scatter_reduce(cr.zeros(2), 0, cr.tensor([0, 0, 0]), cr.tensor([1.0, 2.0, 6.0]), "mean",
                             include_self=False)
    np.testing.assert_array_equal(mean.numpy(), [3.0, 0.0])
    scalar = cr.scatter_reduce(cr.tensor(2.0), 0, cr.tensor(0), cr.tensor(3.0), "sum")
    assert scalar.shape == () and scalar.item() == 5.0


X, IDX, SRC = cr.zeros(3, 4), cr.tensor([[0, 1]]), cr.ones(1, 2)

ERRORS = [
    (lambda: cr.scatter_reduce(X, 0, IDX, SRC, "prod"), ValueError,
     r"scatter_reduce: reduce must be one of 'sum', 'mean', 'amax', 'amin'; got 'prod'"),
    (lambda: cr.scatter_reduce(X, 0, IDX, SRC, "max"), ValueError, r"scatter_reduce: reduce must be one of"),
    (lambda: cr.scatter_reduce(X, 0, IDX, 1.0, "sum"), TypeError, r"scatter_reduce: src must be a Tensor; got float"),
    (lambda: cr.scatter_reduce(X, 0, cr.tensor([[3, 0]]), SRC, "sum"), IndexError,
     r"scatter_reduce: index has the value 3, out of bounds for dimension 0 of size 3"),
    (lambda: cr.scatter_reduce(X, 0, IDX.float(), SRC, "sum"), TypeError,
     r"scatter_reduce: index must have dtype int64; got float32"),
    (lambda: cr.scatter_reduce(X, 0, cr.tensor([0, 1]), SRC, "sum"), ValueError,
     r"scatter_reduce: index has 1 dimension\(s\) but input has 2"),
    (lambda: cr.scatter_reduce(X, 0, IDX, cr.ones(1, 1), "sum"), ValueError, r"scatter_reduce: src of shape \(1, 1\)"),
    (lambda: cr.scatter_reduce(X, 0, IDX, SRC.double(), "sum"), TypeError,
     r"scatter_reduce: src has dtype float64 but input has dtype float32"),
    (lambda: cr.scatter_reduce(X, -3, IDX, SRC, "sum"), IndexError, r"scatter_reduce: dim -3 is out of range"),
]


@pytest.mark.parametrize("call, error, message", ERRORS, ids=[m[:40] for _, _, m in ERRORS])
def test_errors(call, error, message):
    with pytest.raises(error, match=message):
        call()
