"""Gathering and scattering along a dimension (chainrule.ops.gathering): gather, scatter,
scatter_add, index_select, index_add, take_along_dim and the in-place index_add_, scatter_,
scatter_add_, against PyTorch (values and gradients, float32 and float64, contiguous and
strided inputs, negative dims, repeated indices, empty and 0-d tensors, a tensor used twice),
gradcheck and gradgradcheck in float64, and the errors for bad arguments.

torch.scatter with a repeated target position writes one of the values, unspecified which:
the scatter cases use indices without repeats along dim; scatter_add and index_add repeat."""
from __future__ import annotations

import numpy as np
import pytest
from parity import DTYPES, LAYOUTS, check_gradients, check_modified_after, check_parity, torch, values

import chainrule as cr

I0 = np.array([[2, 0, 1, 2], [0, 0, 2, 1]])  # along dim 0 of a (3, 4): repeats
I1 = np.array([[3, 0], [1, 1], [0, 3]])  # along dim 1 of a (3, 4): repeats
I1F = np.array([[3, 0, 0, 1], [1, 1, 2, 2], [0, 3, 3, 3]])  # dim 1, the input's shape
I_SMALL = np.array([[1, 2, 0], [3, 3, 3]])  # dim 1, smaller than the input in dim 0 too
P1 = np.array([[3, 0], [1, 2], [0, 3]])  # dim 1 without repeats in a row (for scatter)
P0 = np.array([[2, 0, 1, 2], [0, 1, 2, 1]])  # dim 0 without repeats in a column
V = np.array([2, 0, 2, 1, 2])  # a vector with repeats
I3 = np.array([[[1, 0], [0, 0], [1, 1]]])  # dim -1 of a (2, 3, 2) … smaller in dim 0
E = np.zeros((3, 0), dtype=np.int64)


def t(ns, array):
    return ns.tensor(np.asarray(array, dtype=np.int64))


# (id, program, shapes of the float leaves[, whether PyTorch can give the gradient]). PyTorch's
# backward of scatter and scatter_add refuses a src larger than index (it returns a gradient of
# index's shape): there only the values are compared, and gradcheck checks chainrule's gradient.
NO_TORCH_GRAD = False
CASES = [
    ("gather-dim0", lambda ns, x: ns.gather(x, 0, t(ns, I0)), [(3, 4)]),
    ("gather-dim1", lambda ns, x: ns.gather(x, 1, t(ns, I1)), [(3, 4)]),
    ("gather-negative-dim", lambda ns, x: ns.gather(x, -1, t(ns, I1)), [(3, 4)]),
    ("gather-smaller-index", lambda ns, x: x.gather(1, t(ns, I_SMALL)), [(3, 4)]),
    ("gather-3d", lambda ns, x: ns.gather(x, -1, t(ns, I3)), [(2, 3, 2)]),
    ("gather-empty-index", lambda ns, x: ns.gather(x, 1, t(ns, E)), [(3, 4)]),
    ("gather-0d", lambda ns, x: ns.gather(x, 0, t(ns, 0)) * 3, [()]),
    ("gather-0d-input-1d-index", lambda ns, x: ns.gather(x, 0, t(ns, [0, 0])), [()]),
    ("gather-used-twice", lambda ns, x: ns.gather(x, 1, t(ns, I1)) * x[:, :2] + ns.gather(x, 0, t(ns, I0))[:, :3].T,
     [(3, 4)]),
    ("scatter", lambda ns, x, s: ns.scatter(x, 1, t(ns, P1), s), [(3, 4), (3, 2)]),
    ("scatter-dim0-src-larger", lambda ns, x, s: ns.scatter(x, 0, t(ns, P0), s), [(3, 4), (3, 5)], NO_TORCH_GRAD),
    ("scatter-negative-dim", lambda ns, x, s: x.scatter(-2, t(ns, P0), s), [(3, 4), (2, 4)]),
    ("scatter-value", lambda ns, x: ns.scatter(x, 1, t(ns, P1), value=1.5), [(3, 4)]),
    ("scatter-number-src", lambda ns, x: ns.scatter(x, 1, t(ns, P1), 2.5), [(3, 4)]),
    ("scatter-0d", lambda ns, x, s: ns.scatter(x, 0, t(ns, 0), s), [(), ()]),
    ("scatter-empty-index", lambda ns, x, s: ns.scatter(x, 1, t(ns, E), s), [(3, 4), (3, 2)], NO_TORCH_GRAD),
    ("scatter_add-repeats", lambda ns, x, s: ns.scatter_add(x, 0, t(ns, I0), s), [(3, 4), (2, 4)]),
    ("scatter_add-dim1-src-larger", lambda ns, x, s: ns.scatter_add(x, -1, t(ns, I1), s), [(3, 4), (4, 3)],
     NO_TORCH_GRAD),
    ("scatter_add-3d", lambda ns, x, s: x.scatter_add(2, t(ns, I3), s), [(2, 3, 2), (1, 3, 2)]),
    ("scatter_add-into-itself", lambda ns, x: ns.scatter_add(x, 1, t(ns, I1), x), [(3, 4)], NO_TORCH_GRAD),
    ("scatter_add-into-itself-full-index", lambda ns, x: ns.scatter_add(x, 1, t(ns, I1F), x), [(3, 4)]),
    ("index_select", lambda ns, x: ns.index_select(x, 0, t(ns, V)), [(3, 4)]),
    ("index_select-negative-dim", lambda ns, x: x.index_select(-1, t(ns, V)), [(2, 3, 4)]),
    ("index_select-0d-index", lambda ns, x: ns.index_select(x, 1, t(ns, 2)), [(3, 4)]),
    ("index_select-empty", lambda ns, x: ns.index_select(x, 1, t(ns, np.zeros(0))), [(3, 4)]),
    ("index_select-0d", lambda ns, x: ns.index_select(x, 0, t(ns, 0)), [()]),
    ("index_add", lambda ns, x, s: ns.index_add(x, 1, t(ns, V), s), [(3, 4), (3, 5)]),
    ("index_add-alpha", lambda ns, x, s: x.index_add(-2, t(ns, V), s, alpha=-2.5), [(2, 3, 4), (2, 5, 4)]),
    ("index_add-0d-index", lambda ns, x, s: ns.index_add(x, 0, t(ns, 1), s), [(3, 4), (1, 4)]),
    ("index_add-0d", lambda ns, x, s: ns.index_add(x, 0, t(ns, 0), s, alpha=3), [(), ()]),
    ("index_add-into-itself", lambda ns, x: ns.index_add(x, 0, t(ns, [2, 2, 0]), x, alpha=2), [(3, 4)]),
    ("take_along_dim-flat", lambda ns, x: ns.take_along_dim(x, t(ns, [[11, 0], [5, 5]])), [(3, 4)]),
    ("take_along_dim", lambda ns, x: ns.take_along_dim(x, t(ns, I1), dim=1), [(3, 4)]),
    ("take_along_dim-broadcast-index", lambda ns, x: ns.take_along_dim(x, t(ns, [[2, 0, 0, 1]]), dim=1), [(3, 4)]),
    ("take_along_dim-broadcast-input", lambda ns, x: x.take_along_dim(t(ns, [[2], [0], [3]]), -1), [(1, 4)]),
    ("take_along_dim-negative-indices", lambda ns, x: ns.take_along_dim(x, t(ns, [[-1, -4]]), dim=1), [(3, 4)]),
    ("take_along_dim-argsort", lambda ns, x: ns.take_along_dim(x, x.argsort(dim=0) if ns is torch else
                                                               ns.tensor(np.argsort(x.numpy(), axis=0)), dim=0),
     [(3, 4)]),
    ("take_along_dim-0d", lambda ns, x: ns.take_along_dim(x, t(ns, 0)), [()]),
]


def _arrays(shapes):
    return [values(shape, seed=i) for i, shape in enumerate(shapes)]


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("layout", LAYOUTS)
def test_against_torch(case, dtype, layout):
    _, fn, shapes, *torch_grad = case
    check_parity(fn, _arrays(shapes), dtype, layout, grads=torch_grad != [NO_TORCH_GRAD])


@pytest.mark.parametrize("case", [c for c in CASES if "empty" not in c[0]],
                         ids=[c[0] for c in CASES if "empty" not in c[0]])
def test_gradcheck_and_gradgradcheck(case):
    check_gradients(case[1], _arrays(case[2]))


def test_closed_forms():
    x = cr.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]], requires_grad=True)
    out = cr.gather(x, 1, cr.tensor([[2, 2], [0, 1]]))
    np.testing.assert_array_equal(out.numpy(), [[3, 3], [4, 5]])
    out.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [[0, 0, 2], [1, 1, 0]])
    added = cr.scatter_add(cr.zeros(3), 0, cr.tensor([0, 2, 0]), cr.tensor([1.0, 2.0, 3.0]))
    np.testing.assert_array_equal(added.numpy(), [4, 0, 2])
    picked = cr.index_add(cr.zeros(2, 2), 0, cr.tensor([1, 1]), cr.ones(2, 2), alpha=3)
    np.testing.assert_array_equal(picked.numpy(), [[0, 0], [6, 6]])


def test_integer_inputs_and_no_grad_for_constants():
    a = cr.tensor([[1, 2], [3, 4]])
    out = cr.gather(a, 1, cr.tensor([[1], [0]]))
    assert out.dtype == np.int64 and not out.requires_grad
    np.testing.assert_array_equal(out.numpy(), [[2], [3]])
    np.testing.assert_array_equal(cr.scatter(a, 0, cr.tensor([[1, 0]]), 9).numpy(), [[1, 9], [9, 4]])
    np.testing.assert_array_equal(cr.index_add(a, 1, cr.tensor([0]), cr.tensor([[5], [6]]), alpha=2).numpy(),
                                  [[11, 2], [15, 4]])
    x = cr.tensor([1.0, 2.0], requires_grad=True)
    src = cr.tensor([5.0])
    cr.scatter(x, 0, cr.tensor([1]), src).sum().backward()
    assert src.grad is None
    np.testing.assert_array_equal(x.grad.numpy(), [1, 0])


# ---------------------------------------------------------------------- in place
INPLACE = [
    ("index_add_", lambda ns, x, w: (x * 1).index_add_(0, t(ns, [2, 0, 2]), w, alpha=2) * x, [(3, 2), (3, 2)]),
    ("scatter_", lambda ns, x, w: (x * 2).scatter_(1, t(ns, [[1], [0], [1]]), w[:, :1]) * x, [(3, 2), (3, 2)]),
    ("scatter_-value", lambda ns, x, w: (x * w).scatter_(1, t(ns, [[1], [0], [1]]), value=4.0), [(3, 2), (3, 2)]),
    ("scatter_add_", lambda ns, x, w: (x + 0).scatter_add_(0, t(ns, [[0, 0], [0, 2]]), w[:2]) ** 2, [(3, 2), (3, 2)]),
]


@pytest.mark.parametrize("name, fn, shapes", INPLACE, ids=[c[0] for c in INPLACE])
@pytest.mark.parametrize("dtype", DTYPES)
def test_in_place_against_torch(name, fn, shapes, dtype):
    check_parity(fn, _arrays(shapes), dtype)
    check_gradients(fn, _arrays(shapes))


def test_in_place_without_grad_writes_the_memory():
    x = cr.zeros(2, 3)
    same = x.index_add_(1, cr.tensor([0, 0]), cr.ones(2, 2))
    assert same is x
    x.scatter_(0, cr.tensor([[1, 0, 1]]), value=7.0).scatter_add_(1, cr.tensor([[2], [2]]), cr.ones(2, 1))
    np.testing.assert_array_equal(x.numpy(), [[2, 7, 1], [7, 0, 8]])
    leaf = cr.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(RuntimeError, match=r"index_add_: a leaf tensor that requires grad"):
        leaf.index_add_(0, cr.tensor([0]), cr.ones(1))


# ---------------------------------------------------------------------- errors
X = cr.zeros(3, 4)
IDX = cr.tensor([[0, 1]])

ERRORS = [
    (lambda: cr.gather(X, 1, cr.tensor([[4]])), IndexError,
     r"gather: index has the value 4, out of bounds for dimension 1 of size 4"),
    (lambda: cr.gather(X, 1, cr.tensor([[-1]])), IndexError,
     r"gather: index has the value -1, out of bounds for dimension 1"),
    (lambda: cr.gather(X, 1, cr.tensor([[0.0]])), TypeError, r"gather: index must have dtype int64; got float32"),
    (lambda: cr.gather(X, 1, [[0]]), TypeError, r"gather: index must be an int64 Tensor; got list"),
    (lambda: cr.gather(X, 1, cr.tensor([0, 1])), ValueError,
     r"gather: index has 1 dimension\(s\) but input has 2; they must have the same number"),
    (lambda: cr.gather(X, 1, cr.zeros(4, 1, dtype=cr.int64)), ValueError,
     r"gather: index of shape \(4, 1\) is larger than input of shape \(3, 4\) at dimension 0"),
    (lambda: cr.gather(X, 2, IDX), IndexError, r"gather: dim 2 is out of range for a tensor with 2 dimension"),
    (lambda: cr.gather(X, 1.0, IDX), TypeError, r"gather: dim must be an int; got 1.0"),
    (lambda: cr.gather(np.zeros(3), 0, IDX), TypeError, r"gather: input must be a Tensor; got ndarray"),
    (lambda: cr.scatter(X, 1, IDX, cr.zeros(1, 1)), ValueError,
     r"scatter: src of shape \(1, 1\) must have the input's number of dimensions and be no smaller than index"),
    (lambda: cr.scatter(X, 1, IDX, cr.zeros(2)), ValueError, r"scatter: src of shape \(2,\)"),
    (lambda: cr.scatter(X, 1, IDX, cr.zeros(1, 2, dtype=cr.float64)), TypeError,
     r"scatter: src has dtype float64 but input has dtype float32; they must be equal"),
    (lambda: cr.scatter(X, 1, IDX), TypeError, r"scatter: pass exactly one of src .* and value"),
    (lambda: cr.scatter(X, 1, IDX, cr.zeros(1, 2), value=1.0), TypeError, r"scatter: pass exactly one of src"),
    (lambda: cr.scatter(X, 1, IDX, "a"), TypeError, r"scatter: src must be a Tensor or a number; got str"),
    (lambda: cr.scatter(X, 1, cr.tensor([[5]]), 1.0), IndexError, r"scatter: index has the value 5, out of bounds"),
    (lambda: cr.scatter_add(X, 1, IDX, 1.0), TypeError, r"scatter_add: src must be a Tensor; got float"),
    (lambda: cr.scatter_add(X, 0, cr.tensor([[3, 0]]), cr.zeros(1, 2)), IndexError,
     r"scatter_add: index has the value 3, out of bounds for dimension 0 of size 3"),
    (lambda: cr.scatter_add(X, 1, IDX.double(), cr.zeros(1, 2)), TypeError,
     r"scatter_add: index must have dtype int64; got float64"),
    (lambda: cr.index_select(X, 0, cr.tensor([[0]])), IndexError,
     r"index_select: index must be a vector \(0 or 1 dimension\); got shape \(1, 1\)"),
    (lambda: cr.index_select(X, 0, cr.tensor([3])), IndexError,
     r"index_select: index has the value 3, out of bounds for dimension 0 of size 3"),
    (lambda: cr.index_select(X, 0, cr.tensor([-1])), IndexError,
     r"index_select: index has the value -1, out of bounds"),
    (lambda: cr.index_select(X, 0, cr.tensor([True])), TypeError,
     r"index_select: index must have dtype int64; got bool"),
    (lambda: cr.index_select(X, -3, cr.tensor([0])), IndexError, r"index_select: dim -3 is out of range"),
    (lambda: cr.index_select(cr.tensor(1.0), 0, cr.tensor([0, 0])), IndexError,
     r"index_select: a 0-d input takes one index; got 2"),
    (lambda: cr.index_add(X, 0, cr.tensor([0, 1]), cr.zeros(3, 4)), ValueError,
     r"index_add: source of shape \(3, 4\) must have the input's shape \(3, 4\) except along dim 0, where its "
     r"length must be the number of indices \(2\)"),
    (lambda: cr.index_add(X, 0, cr.tensor([0]), cr.zeros(1, 1)), ValueError, r"index_add: source of shape \(1, 1\)"),
    (lambda: cr.index_add(cr.tensor(1.0), 0, cr.tensor([0]), cr.zeros(1)), ValueError,
     r"index_add: source of shape \(1,\) must have the input's shape \(\)"),
    (lambda: cr.index_add(cr.tensor(1.0), 0, cr.tensor([0, 0]), cr.tensor(1.0)), ValueError,
     r"index_add: source of shape \(\) must have the input's shape \(\)"),
    (lambda: cr.index_add(X, 0, cr.tensor([0]), cr.zeros(1, 4, dtype=cr.float64)), TypeError,
     r"index_add: source has dtype float64 but input has dtype float32"),
    (lambda: cr.index_add(X, 0, cr.tensor([0]), np.zeros((1, 4))), TypeError,
     r"index_add: source must be a Tensor; got ndarray"),
    (lambda: cr.index_add(X, 0, cr.tensor([3]), cr.zeros(1, 4)), IndexError,
     r"index_add: index has the value 3, out of bounds"),
    (lambda: cr.index_add(cr.zeros(2, dtype=cr.int64), 0, cr.tensor([0]), cr.zeros(1, dtype=cr.int64), alpha=1.5),
     TypeError, r"index_add: alpha must be an int for an input of dtype int64; got 1.5"),
    (lambda: cr.index_add(X, 0, cr.tensor([0]), cr.zeros(1, 4), alpha=cr.tensor(1.0)), TypeError,
     r"index_add: alpha must be a number; got Tensor"),
    (lambda: cr.take_along_dim(X, cr.tensor([0]), dim=1), ValueError,
     r"take_along_dim: input and indices must have the same number of dimensions; got 2 for input and 1"),
    (lambda: cr.take_along_dim(X, cr.tensor([[4]]), dim=1), IndexError,
     r"take_along_dim: indices has the value 4, out of bounds for dimension 1 of size 4"),
    (lambda: cr.take_along_dim(X, cr.tensor([[-5]]), dim=1), IndexError,
     r"take_along_dim: indices has the value -5, out of bounds"),
    (lambda: cr.take_along_dim(X, cr.tensor([-1])), IndexError,
     r"take_along_dim: indices has the value -1, out of bounds for dimension 0 of size 12"),
    (lambda: cr.take_along_dim(X, cr.tensor([[0.0]]), dim=1), TypeError,
     r"take_along_dim: indices must have dtype int64; got float32"),
    (lambda: cr.take_along_dim(X, cr.zeros(2, 1, dtype=cr.int64), dim=1), ValueError,
     r"take_along_dim: input of shape \(3, 4\) and indices of shape \(2, 1\) do not broadcast outside dim 1"),
    (lambda: cr.take_along_dim(cr.tensor(1.0), cr.tensor(0), dim=0), IndexError,
     r"take_along_dim: a 0-d input has no dimension to take along; pass dim=None"),
    (lambda: cr.take_along_dim(X, cr.tensor([[0]]), dim="1"), TypeError, r"take_along_dim: dim must be an int or None"),
]


@pytest.mark.parametrize("call, error, message", ERRORS, ids=[m[:40] for _, _, m in ERRORS])
def test_errors(call, error, message):
    with pytest.raises(error, match=message):
        call()


def test_torch_raises_on_the_same_inputs():
    """The bad inputs above are bad for PyTorch too (it raises RuntimeError or IndexError)."""
    x = torch.zeros(3, 4)
    for call in (lambda: torch.gather(x, 1, torch.tensor([[4]])), lambda: torch.gather(x, 1, torch.tensor([0, 1])),
                 lambda: torch.index_select(x, 0, torch.tensor([[0]])),
                 lambda: torch.scatter(x, 1, torch.tensor([[0, 1]]), torch.zeros(1, 1)),
                 lambda: torch.index_add(x, 0, torch.tensor([0, 1]), torch.zeros(3, 4))):
        with pytest.raises((RuntimeError, IndexError)):
            call()


# ---------------------------------------------------------------------- in-place modification afterwards
# PyTorch's rule: backward fails when a value its formula saved was modified in place since.
AFTER = [
    ("gather", lambda ns, a, s: ns.gather(a, 0, t(ns, [0, 2, 2]))),
    ("scatter", lambda ns, a, s: ns.scatter(a, 0, t(ns, [0, 2]), s)),
    ("scatter-value", lambda ns, a, s: ns.scatter(a, 0, t(ns, [0, 2]), 1.5) * s.sum()),
    ("scatter_add", lambda ns, a, s: ns.scatter_add(a, 0, t(ns, [0, 0]), s)),
    ("index_select", lambda ns, a, s: ns.index_select(a, 0, t(ns, [2, 2, 0]))),
    ("take_along_dim", lambda ns, a, s: ns.take_along_dim(a, t(ns, [1, -1]), 0)),
    ("scatter_reduce-sum", lambda ns, a, s: ns.scatter_reduce(a, 0, t(ns, [1, 1]), s, "sum")),
    ("scatter_reduce-amin", lambda ns, a, s: ns.scatter_reduce(a, 0, t(ns, [1, 0]), s, "amin", include_self=False)),
]


@pytest.mark.parametrize("name, fn", AFTER, ids=[c[0] for c in AFTER])
@pytest.mark.parametrize("which", ["a", "s", "out"])
def test_modified_in_place_afterwards_as_torch(name, fn, which):
    check_modified_after(fn, which)


def test_index_add_source_may_be_modified_afterwards():
    """A documented difference: PyTorch's index_add formula saves the source (it refuses this
    program); chainrule's gradient never reads it, so the program runs, with the right gradient."""
    x, w = cr.zeros(3, requires_grad=True), cr.tensor([5.0, 0.5], requires_grad=True)
    a, s = x * 1, w * 1
    out = cr.index_add(a, 0, cr.tensor([0, 2]), s, alpha=3)
    s.mul_(2)
    (out * cr.tensor([1.0, 2.0, 4.0])).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [1, 2, 4])
    np.testing.assert_array_equal(w.grad.numpy(), [3, 12])
