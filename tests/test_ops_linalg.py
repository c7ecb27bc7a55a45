"""Matrix multiplication (chainrule.ops.linalg.matmul): NumPy's matmul semantics for
1-D, 2-D and batched operands with broadcasting batch dims, forward values against
np.matmul, gradients against central differences and the closed forms
dA = G B^T, dB = A^T G, dtypes and the shape-mismatch messages."""
from __future__ import annotations

import re

import numpy as np
import pytest
from conftest import check_grad, layouts, leaf, make_leaf, make_values, seeds
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import chainrule as cr

LAYOUTS = ["contiguous", "noncontiguous"]

MATMUL_SHAPES = [
    pytest.param((4,), (4,), id="1d@1d"),
    pytest.param((3,), (3, 2), id="1d@2d"),
    pytest.param((2, 3), (3,), id="2d@1d"),
    pytest.param((2, 3), (3, 4), id="2d@2d"),
    pytest.param((1, 1), (1, 1), id="1x1@1x1"),
    pytest.param((1,), (1, 3), id="size-one-inner"),
    pytest.param((2, 3, 4), (2, 4, 2), id="batched"),
    pytest.param((2, 1, 3, 4), (5, 4, 2), id="broadcast-batch"),
    pytest.param((3, 4), (2, 4, 2), id="2d@batched"),
    pytest.param((2, 3, 4), (4, 2), id="batched@2d"),
    pytest.param((1, 3, 4), (2, 1, 4, 2), id="batch-size-one-both"),
    pytest.param((4,), (2, 4, 3), id="1d@batched"),
    pytest.param((2, 3, 4), (4,), id="batched@1d"),
    pytest.param((4,), (2, 1, 4, 3), id="1d@4d"),
]

CALLS = [
    pytest.param(lambda a, b: a @ b, id="operator"),
    pytest.param(cr.matmul, id="function"),
    pytest.param(lambda a, b: a.matmul(b), id="method"),
]


@pytest.mark.parametrize("call", CALLS)
@pytest.mark.parametrize("shape_a, shape_b", MATMUL_SHAPES)
@pytest.mark.parametrize("layout", LAYOUTS)
def test_matmul_table_forward_and_gradcheck(shape_a, shape_b, call, layout):
    a_values = make_values(shape_a, "real", 1)
    b_values = make_values(shape_b, "real", 2)
    a, b = make_leaf(a_values, layout), make_leaf(b_values, layout)
    out = call(a, b)
    expected = np.matmul(a_values, b_values)
    assert out.shape == expected.shape
    np.testing.assert_allclose(out.numpy(), expected, rtol=1e-12, atol=1e-12)
    check_grad(call, a, b)


@st.composite
def matmul_shapes(draw):
    """Operand shapes for matmul: each 1-D, 2-D, or batched with broadcastable batch dims."""
    batch_a, batch_b = draw(hnp.mutually_broadcastable_shapes(
        num_shapes=2, min_dims=0, max_dims=2, min_side=1, max_side=3)).input_shapes
    m, k, n = (draw(st.integers(1, 3)) for _ in range(3))
    kind_a = draw(st.sampled_from(["vector", "matrix"]))
    kind_b = draw(st.sampled_from(["vector", "matrix"]))
    shape_a = (k,) if kind_a == "vector" else (*batch_a, m, k)
    shape_b = (k,) if kind_b == "vector" else (*batch_b, k, n)
    return shape_a, shape_b


@given(case=matmul_shapes(), seed=seeds, layout_a=layouts, layout_b=layouts)
def test_matmul_hypothesis_forward_and_gradcheck(case, seed, layout_a, layout_b):
    shape_a, shape_b = case
    a_values = make_values(shape_a, "real", seed)
    b_values = make_values(shape_b, "real", seed + 1)
    a, b = make_leaf(a_values, layout_a), make_leaf(b_values, layout_b)
    out = a @ b
    expected = np.matmul(a_values, b_values)
    assert out.shape == expected.shape
    np.testing.assert_allclose(out.numpy(), expected, rtol=1e-10, atol=1e-12)
    check_grad(lambda x, y: x @ y, a, b)


@pytest.mark.parametrize("layout", LAYOUTS)
def test_matmul_gradient_closed_form(layout):
    a_values = make_values((3, 4), "real", 5)
    b_values = make_values((4, 2), "real", 6)
    g = make_values((3, 2), "real", 7)
    a, b = make_leaf(a_values, layout), make_leaf(b_values, layout)
    (a @ b).backward(cr.tensor(g))
    np.testing.assert_allclose(a.grad.numpy(), g @ b_values.T, rtol=1e-12)
    np.testing.assert_allclose(b.grad.numpy(), a_values.T @ g, rtol=1e-12)


def test_matmul_batched_broadcast_gradient_sums_over_batch():
    a_values = make_values((2, 1, 3, 4), "real", 8)
    b_values = make_values((5, 4, 2), "real", 9)
    a, b = leaf(a_values), leaf(b_values)
    (a @ b).sum().backward()
    g = np.ones((2, 5, 3, 2))
    expected_a = (g @ np.swapaxes(b_values, -1, -2)).sum(axis=1, keepdims=True)
    expected_b = (np.swapaxes(a_values, -1, -2) @ g).sum(axis=0)
    np.testing.assert_allclose(a.grad.numpy(), expected_a, rtol=1e-12)
    np.testing.assert_allclose(b.grad.numpy(), expected_b, rtol=1e-12)


def test_vector_dot_gradient_closed_form():
    a, b = leaf([1.0, 2.0, 3.0]), leaf([4.0, 5.0, 6.0])
    out = a @ b
    assert out.shape == () and out.item() == 32.0
    out.backward()
    np.testing.assert_array_equal(a.grad.numpy(), [4.0, 5.0, 6.0])
    np.testing.assert_array_equal(b.grad.numpy(), [1.0, 2.0, 3.0])


def test_matmul_with_transposed_operand_in_graph():
    x = leaf(make_values((3, 4), "real", 10))
    w = leaf(make_values((2, 4), "real", 11))
    check_grad(lambda x_, w_: x_ @ w_.T, x, w)
    check_grad(lambda x_, w_: (w_ @ x_.T).t(), x, w)


def test_matmul_with_constant_numpy_operand():
    m = make_values((2, 3), "real", 12)
    x = leaf(make_values((3, 4), "real", 13))
    np.testing.assert_allclose((m @ x).numpy(), m @ x.numpy(), rtol=1e-12)  # reflected: ndarray @ Tensor
    np.testing.assert_allclose(cr.matmul(x.T, m.T).numpy(), x.numpy().T @ m.T, rtol=1e-12)
    check_grad(lambda t: m @ t, x)
    check_grad(lambda t: t.T @ m.T, x)


@pytest.mark.parametrize("dtype_a, dtype_b, expected", [
    pytest.param(np.float32, np.float32, np.float32, id="f32@f32"),
    pytest.param(np.float32, np.float64, np.float64, id="f32@f64"),
    pytest.param(np.float64, np.float64, np.float64, id="f64@f64"),
    pytest.param(np.int64, np.int64, np.int64, id="i64@i64"),
    pytest.param(np.int64, np.float32, np.float64, id="i64@f32"),
])
def test_matmul_dtypes(dtype_a, dtype_b, expected):
    a_values = np.arange(6).reshape(2, 3).astype(dtype_a)
    b_values = np.arange(12).reshape(3, 4).astype(dtype_b)
    out = cr.tensor(a_values) @ cr.tensor(b_values)
    assert out.dtype == np.dtype(expected) == np.matmul(a_values, b_values).dtype
    np.testing.assert_allclose(out.numpy(), a_values.astype(np.float64) @ b_values.astype(np.float64))


def test_matmul_float32_grads_stay_float32():
    a = cr.tensor(np.ones((2, 3), dtype=np.float32), requires_grad=True)
    b = cr.tensor(np.ones((3,), dtype=np.float32), requires_grad=True)
    (a @ b).sum().backward()
    assert a.grad.dtype == np.float32 and b.grad.dtype == np.float32
    np.testing.assert_array_equal(a.grad.numpy(), np.ones((2, 3)))
    np.testing.assert_array_equal(b.grad.numpy(), [2.0, 2.0, 2.0])


MISMATCHES = [
    pytest.param((128, 784), (256, 256), "matmul: (128, 784) @ (256, 256): inner dimensions 784 and 256 differ",
                 id="2d"),
    pytest.param((3,), (4,), "matmul: (3,) @ (4,): inner dimensions 3 and 4 differ", id="1d"),
    pytest.param((2, 3), (4,), "matmul: (2, 3) @ (4,): inner dimensions 3 and 4 differ", id="2d@1d"),
    pytest.param((5,), (4, 2), "matmul: (5,) @ (4, 2): inner dimensions 5 and 4 differ", id="1d@2d"),
    pytest.param((2, 3, 4), (2, 5, 1), "matmul: (2, 3, 4) @ (2, 5, 1): inner dimensions 4 and 5 differ", id="batched"),
    pytest.param((2, 3, 4), (3, 4, 1), "matmul: (2, 3, 4) @ (3, 4, 1): batch dimensions (2,) and (3,) do not broadcast",
                 id="batch"),
    pytest.param((), (3,), "matmul: () @ (3,): both operands need at least one dimension; use * for scalars", id="0d"),
]


@pytest.mark.parametrize("shape_a, shape_b, message", MISMATCHES)
def test_matmul_shape_errors_exact_message(shape_a, shape_b, message):
    a, b = cr.zeros(*shape_a), cr.zeros(*shape_b)
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        a @ b


def test_matmul_bool_error():
    with pytest.raises(TypeError, match=r"matmul: bool tensors cannot be multiplied; got bool @ float32"):
        cr.matmul(cr.tensor([True, False]), cr.zeros(2))
