"""Non-differentiable ops (chainrule.ops.compare and argmax/argmin): comparisons
against NumPy (tensor-tensor with broadcasting, tensor-scalar, reflected scalar-tensor),
logic on bool tensors, isnan/isfinite, one_hot, argmax/argmin; none of their
results require grad, even when the inputs do."""
from __future__ import annotations

import operator

import numpy as np
import pytest
from conftest import broadcastable_pairs, leaf, make_values, seeds, shapes
from hypothesis import given
from hypothesis import strategies as st

import chainrule as cr

COMPARISONS = [
    pytest.param(operator.eq, cr.eq, "eq", id="eq"),
    pytest.param(operator.ne, cr.ne, "ne", id="ne"),
    pytest.param(operator.lt, cr.lt, "lt", id="lt"),
    pytest.param(operator.le, cr.le, "le", id="le"),
    pytest.param(operator.gt, cr.gt, "gt", id="gt"),
    pytest.param(operator.ge, cr.ge, "ge", id="ge"),
]


def small_ints(shape, seed):
    """float64 values from {-1, 0, 1, 2} so equality cases actually occur."""
    return np.random.default_rng(seed).integers(-1, 3, size=shape).astype(np.float64)


@pytest.mark.parametrize("op, function, method", COMPARISONS)
@given(shape_pair=broadcastable_pairs(), seed=seeds)
def test_compare_tensor_tensor_broadcast(op, function, method, shape_pair, seed):
    shape_a, shape_b = shape_pair
    a_values, b_values = small_ints(shape_a, seed), small_ints(shape_b, seed + 1)
    a, b = leaf(a_values), leaf(b_values)
    expected = op(a_values, b_values)
    for out in (op(a, b), function(a, b), getattr(a, method)(b)):
        assert out.dtype == np.bool_
        assert out.requires_grad is False and out.grad_fn is None
        np.testing.assert_array_equal(out.numpy(), expected)


@pytest.mark.parametrize("op, function, method", COMPARISONS)
@pytest.mark.parametrize("scalar", [1, 0.5, 2.0, True])
def test_compare_tensor_scalar_and_reflected(op, function, method, scalar):
    values = np.array([[-1.0, 0.5, 1.0], [2.0, 0.0, 3.0]])
    t = leaf(values)
    for out, expected in [
        (op(t, scalar), op(values, scalar)),
        (function(t, scalar), op(values, scalar)),
        (op(scalar, t), op(scalar, values)),  # Python reflects: 2 < t calls t.__gt__(2)
        (function(scalar, t), op(scalar, values)),
    ]:
        assert out.dtype == np.bool_ and not out.requires_grad
        np.testing.assert_array_equal(out.numpy(), expected)


def test_reflected_comparison_examples():
    t = cr.tensor([1, 2, 3])
    np.testing.assert_array_equal((2 < t).numpy(), [False, False, True])
    np.testing.assert_array_equal((2 >= t).numpy(), [True, True, False])
    np.testing.assert_array_equal((2 == t).numpy(), [False, True, False])
    np.testing.assert_array_equal((t != 2).numpy(), [True, False, True])
    np.testing.assert_array_equal(cr.lt(np.array([0, 5, 3]), t).numpy(), [True, False, False])
    np.testing.assert_array_equal(cr.ge(t, [3, 2, 1]).numpy(), [False, True, True])


@pytest.mark.parametrize("left, right", [
    pytest.param(np.int64, np.float32, id="int-vs-float32"),
    pytest.param(np.float32, np.float64, id="float32-vs-float64"),
    pytest.param(np.bool_, np.int64, id="bool-vs-int"),
])
def test_compare_mixed_dtypes(left, right):
    a_values = np.array([0, 1, 2]).astype(left)
    b_values = np.array([1, 1, 1]).astype(right)
    a, b = cr.tensor(a_values), cr.tensor(b_values)
    np.testing.assert_array_equal((a < b).numpy(), a_values < b_values)
    np.testing.assert_array_equal((a == b).numpy(), a_values == b_values)


# ---------------------------------------------------------------------- logic
LOGIC = [
    pytest.param(operator.and_, cr.logical_and, np.logical_and, id="and"),
    pytest.param(operator.or_, cr.logical_or, np.logical_or, id="or"),
    pytest.param(operator.xor, cr.logical_xor, np.logical_xor, id="xor"),
]


@pytest.mark.parametrize("op, function, reference", LOGIC)
@given(shape_pair=broadcastable_pairs(), seed=seeds)
def test_logic_on_bool_tensors(op, function, reference, shape_pair, seed):
    rng = np.random.default_rng(seed)
    a_values = rng.random(shape_pair[0]) < 0.5
    b_values = rng.random(shape_pair[1]) < 0.5
    a, b = cr.tensor(a_values), cr.tensor(b_values)
    expected = reference(a_values, b_values)
    for out in (op(a, b), function(a, b)):
        assert out.dtype == np.bool_ and not out.requires_grad
        np.testing.assert_array_equal(out.numpy(), expected)


def test_logic_with_python_bool_and_not():
    a = cr.tensor([True, False, True])
    np.testing.assert_array_equal((a & True).numpy(), [True, False, True])
    np.testing.assert_array_equal((a | False).numpy(), [True, False, True])
    np.testing.assert_array_equal((a ^ True).numpy(), [False, True, False])
    np.testing.assert_array_equal((~a).numpy(), [False, True, False])
    np.testing.assert_array_equal(cr.logical_not(a).numpy(), [False, True, False])
    x = leaf([0.5, -1.0, 2.0])
    combined = (x > 0) & ~(x > 1)
    np.testing.assert_array_equal(combined.numpy(), [True, False, False])
    assert not combined.requires_grad


def test_logic_errors():
    with pytest.raises(TypeError, match=r"logical_and: expected bool tensors; got int64"):
        cr.tensor([1, 0]) & cr.tensor([True, False])
    with pytest.raises(TypeError, match=r"logical_or: expected bool tensors; got float32"):
        cr.tensor([True, False]) | cr.tensor([1.0, 0.0])
    with pytest.raises(TypeError, match=r"logical_not: expected a bool tensor; got float32"):
        ~cr.tensor([1.0])


# ---------------------------------------------------------------------- isnan / isfinite
def test_isnan_isfinite():
    values = np.array([1.0, np.nan, np.inf, -np.inf, 0.0, -2.5])
    t = cr.tensor(values, requires_grad=True)
    for out, expected in [(cr.isnan(t), np.isnan(values)), (t.isnan(), np.isnan(values)),
                          (cr.isfinite(t), np.isfinite(values)), (t.isfinite(), np.isfinite(values))]:
        assert out.dtype == np.bool_ and not out.requires_grad
        np.testing.assert_array_equal(out.numpy(), expected)
    f32 = cr.tensor(values.astype(np.float32))
    np.testing.assert_array_equal(cr.isnan(f32).numpy(), np.isnan(values))
    ints = cr.tensor([1, 2])
    np.testing.assert_array_equal(cr.isfinite(ints).numpy(), [True, True])
    np.testing.assert_array_equal(cr.isnan(ints).numpy(), [False, False])


# ---------------------------------------------------------------------- one_hot
def test_one_hot_values_and_dtype():
    labels = np.array([[0, 2], [1, 0]])
    out = cr.one_hot(cr.tensor(labels), 4)
    assert out.dtype == np.int64 and out.shape == (2, 2, 4) and not out.requires_grad
    np.testing.assert_array_equal(out.numpy(), np.eye(4, dtype=np.int64)[labels])
    inferred = cr.one_hot(cr.tensor([3, 1]))  # num_classes=-1: max label + 1
    np.testing.assert_array_equal(inferred.numpy(), [[0, 0, 0, 1], [0, 1, 0, 0]])
    explicit = cr.one_hot(cr.tensor([3, 1]), num_classes=-1)
    np.testing.assert_array_equal(explicit.numpy(), inferred.numpy())
    scalar = cr.one_hot(cr.tensor(2), 3)
    np.testing.assert_array_equal(scalar.numpy(), [0, 0, 1])
    empty = cr.one_hot(cr.tensor(np.zeros(0, dtype=np.int64)), 3)
    assert empty.shape == (0, 3)


@given(shape=shapes(), seed=seeds, classes=st.integers(1, 5))
def test_one_hot_matches_eye_indexing(shape, seed, classes):
    labels = np.random.default_rng(seed).integers(0, classes, size=shape)
    out = cr.one_hot(cr.tensor(labels), classes)
    np.testing.assert_array_equal(out.numpy(), np.eye(classes, dtype=np.int64)[labels])
    np.testing.assert_array_equal(out.numpy().sum(axis=-1), np.ones(shape, dtype=np.int64))


def test_one_hot_errors():
    with pytest.raises(ValueError, match=r"one_hot: labels must lie in \[0, 3\); got values from 0 to 3"):
        cr.one_hot(cr.tensor([0, 3]), 3)
    with pytest.raises(ValueError, match=r"one_hot: labels must lie in \[0, 4\); got values from -1 to 2"):
        cr.one_hot(cr.tensor([-1, 2]), 4)
    with pytest.raises(TypeError, match=r"one_hot: labels must be an int64 Tensor; got float32"):
        cr.one_hot(cr.tensor([0.0, 1.0]), 2)
    with pytest.raises(TypeError, match=r"one_hot: labels must be an int64 Tensor; got list"):
        cr.one_hot([0, 1], 2)
    with pytest.raises(ValueError, match=r"one_hot: cannot infer num_classes from empty labels"):
        cr.one_hot(cr.tensor(np.zeros(0, dtype=np.int64)))


# ---------------------------------------------------------------------- argmax / argmin
@pytest.mark.parametrize("name", ["argmax", "argmin"])
@given(shape=shapes(), seed=seeds, keepdim=st.booleans(), data=st.data())
def test_argmax_argmin_against_numpy(name, shape, seed, keepdim, data):
    values = make_values(shape, "distinct", seed)
    x = leaf(values)
    reference = getattr(np, name)
    # dim=None: index into the flattened tensor
    out = getattr(cr, name)(x)
    assert out.dtype == np.int64 and not out.requires_grad
    np.testing.assert_array_equal(out.numpy(), reference(values))
    out_keep = getattr(x, name)(keepdim=True)
    assert out_keep.shape == (1,) * len(shape)
    np.testing.assert_array_equal(out_keep.numpy().reshape(()), reference(values))
    if shape:
        dim = data.draw(st.integers(-len(shape), len(shape) - 1))
        out = getattr(cr, name)(x, dim, keepdim)
        expected = reference(values, axis=dim, keepdims=keepdim)
        assert out.shape == expected.shape and out.dtype == np.int64
        np.testing.assert_array_equal(out.numpy(), expected)
        np.testing.assert_array_equal(getattr(x, name)(axis=dim, keepdims=keepdim).numpy(), expected)


def test_argmax_argmin_ties_take_first_and_specific_values():
    x = leaf([[1.0, 3.0, 3.0], [2.0, 2.0, 0.0]])
    np.testing.assert_array_equal(cr.argmax(x, dim=1).numpy(), [1, 0])
    np.testing.assert_array_equal(cr.argmin(x, dim=0).numpy(), [0, 1, 1])
    assert cr.argmax(x).item() == 1
    assert cr.argmin(x).item() == 5
    assert cr.argmax(cr.tensor([5, 7, 7])).item() == 1


def test_argmax_errors():
    x = leaf(np.zeros((2, 3)))
    with pytest.raises(IndexError, match=r"argmax: dim 2 is out of range for a tensor with 2 dimension\(s\)"):
        cr.argmax(x, dim=2)
    with pytest.raises(IndexError, match=r"argmin: dim -3 is out of range"):
        x.argmin(dim=-3)
    with pytest.raises(TypeError, match=r"argmax: dim must be an int or None; got \(0, 1\)"):
        cr.argmax(x, dim=(0, 1))
    with pytest.raises(ValueError, match=r"argmin: the tensor is empty \(shape \(0,\)\)"):
        cr.argmin(cr.zeros(0))


# ---------------------------------------------------------------------- no gradients
NON_DIFFERENTIABLE = [
    pytest.param(lambda x: x == 1.0, id="eq"), pytest.param(lambda x: x != x * 2.0, id="ne"),
    pytest.param(lambda x: x < 0.5, id="lt"), pytest.param(lambda x: 0.5 <= x, id="le-reflected"),
    pytest.param(lambda x: x > x * 2, id="gt-tensors"), pytest.param(lambda x: x >= 0, id="ge"),
    pytest.param(lambda x: cr.isnan(x), id="isnan"), pytest.param(lambda x: cr.isfinite(x), id="isfinite"),
    pytest.param(lambda x: cr.argmax(x), id="argmax"), pytest.param(lambda x: x.argmin(dim=0), id="argmin"),
    pytest.param(lambda x: (x > 0) & (x < 2), id="and"), pytest.param(lambda x: (x > 0) | (x < 2), id="or"),
    pytest.param(lambda x: (x > 0) ^ (x < 2), id="xor"), pytest.param(lambda x: ~(x > 0), id="not"),
    pytest.param(lambda x: cr.one_hot(cr.argmax(x, dim=0), 3), id="one_hot"),
]


@pytest.mark.parametrize("fn", NON_DIFFERENTIABLE)
def test_results_never_require_grad(fn):
    x = leaf([0.5, 1.5, -1.0])
    out = fn(x)
    assert out.dtype in (np.bool_, np.int64)
    assert out.requires_grad is False
    assert out.grad_fn is None
    with pytest.raises(RuntimeError, match=r"backward: this tensor does not require grad"):
        out.backward()
