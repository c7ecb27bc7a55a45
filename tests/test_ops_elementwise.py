"""Elementwise ops (chainrule.engine.ops: arithmetic, unary, activations, copies): forward values against NumPy/SciPy,
gradients against central differences over hypothesis-drawn shapes (0-d, size-1 dims,
broadcasting, non-contiguous inputs), dtype promotion, tie-splitting and errors."""
from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.special
import scipy.stats
from conftest import (
    avoid,
    broadcastable_pairs,
    check_grad,
    layouts,
    leaf,
    make_leaf,
    make_values,
    seeds,
    shapes,
)
from hypothesis import given
from hypothesis.extra import numpy as hnp

import chainrule as cr

CLAMP_LOW, CLAMP_HIGH = -0.5, 0.6


def values_for(domain, shape, seed):
    """make_values plus one domain for clamp: reals kept 0.1 away from both bounds."""
    if domain == "clamp":
        return avoid(make_values(shape, "real", seed), [CLAMP_LOW, CLAMP_HIGH])
    return make_values(shape, domain, seed)


def gelu_reference(a):
    return a * scipy.stats.norm.cdf(a)


def gelu_tanh_reference(a):
    return 0.5 * a * (1.0 + np.tanh(math.sqrt(2.0 / math.pi) * (a + 0.044715 * a**3)))


# ---------------------------------------------------------------------- unary ops
# (id, chainrule function, independent NumPy/SciPy reference, input domain)
UNARY = [
    pytest.param(lambda x: -x, np.negative, "real", id="neg-operator"),
    pytest.param(cr.neg, np.negative, "real", id="neg"),
    pytest.param(lambda x: x.neg(), np.negative, "real", id="neg-method"),
    pytest.param(lambda x: +x, lambda a: a, "real", id="pos-operator"),
    pytest.param(cr.exp, np.exp, "real", id="exp"),
    pytest.param(lambda x: x.exp(), np.exp, "real", id="exp-method"),
    pytest.param(cr.log, np.log, "positive", id="log"),
    pytest.param(lambda x: x.log(), np.log, "positive", id="log-method"),
    pytest.param(cr.log1p, np.log1p, "unit", id="log1p"),
    pytest.param(cr.sqrt, np.sqrt, "positive", id="sqrt"),
    pytest.param(cr.abs, np.abs, "nonzero", id="abs"),
    pytest.param(lambda x: abs(x), np.abs, "nonzero", id="abs-builtin"),
    pytest.param(cr.sin, np.sin, "real", id="sin"),
    pytest.param(cr.cos, np.cos, "real", id="cos"),
    pytest.param(cr.tanh, np.tanh, "real", id="tanh"),
    pytest.param(cr.sigmoid, scipy.special.expit, "real", id="sigmoid"),
    pytest.param(cr.relu, lambda a: np.maximum(a, 0.0), "nonzero", id="relu"),
    pytest.param(lambda x: x.relu(), lambda a: np.maximum(a, 0.0), "nonzero", id="relu-method"),
    pytest.param(cr.leaky_relu, lambda a: np.where(a > 0, a, 0.01 * a), "nonzero", id="leaky_relu-default"),
    pytest.param(lambda x: cr.leaky_relu(x, 0.2),
                 lambda a: np.where(a > 0, a, 0.2 * a), "nonzero", id="leaky_relu-0.2"),
    pytest.param(lambda x: x.leaky_relu(negative_slope=0.3),
                 lambda a: np.where(a > 0, a, 0.3 * a), "nonzero", id="leaky_relu-method"),
    pytest.param(cr.gelu, gelu_reference, "real", id="gelu-none"),
    pytest.param(lambda x: cr.gelu(x, approximate="none"), gelu_reference, "real", id="gelu-none-explicit"),
    pytest.param(lambda x: cr.gelu(x, approximate="tanh"), gelu_tanh_reference, "real", id="gelu-tanh"),
    pytest.param(lambda x: x.gelu("tanh"), gelu_tanh_reference, "real", id="gelu-tanh-method"),
    pytest.param(lambda x: cr.clamp(x, min=CLAMP_LOW), lambda a: np.maximum(a, CLAMP_LOW), "clamp", id="clamp-min"),
    pytest.param(lambda x: cr.clamp(x, max=CLAMP_HIGH), lambda a: np.minimum(a, CLAMP_HIGH), "clamp", id="clamp-max"),
    pytest.param(lambda x: cr.clamp(x, CLAMP_LOW, CLAMP_HIGH),
                 lambda a: np.clip(a, CLAMP_LOW, CLAMP_HIGH), "clamp", id="clamp-both"),
    pytest.param(lambda x: x.clamp(min=CLAMP_LOW, max=CLAMP_HIGH),
                 lambda a: np.clip(a, CLAMP_LOW, CLAMP_HIGH), "clamp", id="clamp-method"),
    pytest.param(lambda x: cr.clip(x, CLAMP_LOW, CLAMP_HIGH),
                 lambda a: np.clip(a, CLAMP_LOW, CLAMP_HIGH), "clamp", id="clip"),
    pytest.param(lambda x: x.clip(max=CLAMP_HIGH), lambda a: np.minimum(a, CLAMP_HIGH), "clamp", id="clip-method"),
    pytest.param(lambda x: cr.clamp(x, min=-1), lambda a: np.maximum(a, -1.0), "clamp", id="clamp-int-bound"),
    # tensor-scalar and scalar-tensor arithmetic: operators and functions
    pytest.param(lambda x: x + 1.5, lambda a: a + 1.5, "real", id="add-scalar"),
    pytest.param(lambda x: 1.5 + x, lambda a: 1.5 + a, "real", id="radd-scalar"),
    pytest.param(lambda x: x + 2, lambda a: a + 2, "real", id="add-int-scalar"),
    pytest.param(lambda x: cr.add(x, 1.5), lambda a: a + 1.5, "real", id="add-fn-scalar"),
    pytest.param(lambda x: cr.add(1.5, x), lambda a: 1.5 + a, "real", id="add-fn-rscalar"),
    pytest.param(lambda x: x.add(1.5), lambda a: a + 1.5, "real", id="add-method-scalar"),
    pytest.param(lambda x: x - 1.5, lambda a: a - 1.5, "real", id="sub-scalar"),
    pytest.param(lambda x: 1.5 - x, lambda a: 1.5 - a, "real", id="rsub-scalar"),
    pytest.param(lambda x: cr.sub(x, 1.5), lambda a: a - 1.5, "real", id="sub-fn-scalar"),
    pytest.param(lambda x: cr.sub(1.5, x), lambda a: 1.5 - a, "real", id="sub-fn-rscalar"),
    pytest.param(lambda x: x * -2.5, lambda a: a * -2.5, "real", id="mul-scalar"),
    pytest.param(lambda x: -2.5 * x, lambda a: -2.5 * a, "real", id="rmul-scalar"),
    pytest.param(lambda x: x * 3, lambda a: a * 3, "real", id="mul-int-scalar"),
    pytest.param(lambda x: cr.mul(x, -2.5), lambda a: a * -2.5, "real", id="mul-fn-scalar"),
    pytest.param(lambda x: cr.mul(-2.5, x), lambda a: -2.5 * a, "real", id="mul-fn-rscalar"),
    pytest.param(lambda x: x / 1.7, lambda a: a / 1.7, "real", id="div-scalar"),
    pytest.param(lambda x: 1.7 / x, lambda a: 1.7 / a, "nonzero", id="rdiv-scalar"),
    pytest.param(lambda x: 3 / x, lambda a: 3 / a, "nonzero", id="rdiv-int-scalar"),
    pytest.param(lambda x: cr.div(x, 1.7), lambda a: a / 1.7, "real", id="div-fn-scalar"),
    pytest.param(lambda x: cr.div(1.7, x), lambda a: 1.7 / a, "nonzero", id="div-fn-rscalar"),
    pytest.param(lambda x: x ** 2, lambda a: a**2, "real", id="pow-2"),
    pytest.param(lambda x: x ** 3, lambda a: a**3, "real", id="pow-3"),
    pytest.param(lambda x: x ** 1, lambda a: a**1, "real", id="pow-1"),
    pytest.param(lambda x: x ** 0, lambda a: a**0, "real", id="pow-0"),
    pytest.param(lambda x: x ** 0.5, np.sqrt, "positive", id="pow-0.5"),
    pytest.param(lambda x: x ** -1.5, lambda a: a**-1.5, "positive", id="pow-neg-1.5"),
    pytest.param(lambda x: cr.pow(x, 2.5), lambda a: a**2.5, "positive", id="pow-fn-scalar"),
    pytest.param(lambda x: x.pow(3), lambda a: a**3, "real", id="pow-method"),
    pytest.param(lambda x: 2.0 ** x, lambda a: 2.0**a, "real", id="rpow-scalar"),
    pytest.param(lambda x: 0.5 ** x, lambda a: 0.5**a, "real", id="rpow-fraction"),
    pytest.param(lambda x: 3 ** x, lambda a: 3.0**a, "real", id="rpow-int"),
    pytest.param(lambda x: cr.pow(2.0, x), lambda a: 2.0**a, "real", id="pow-fn-rscalar"),
    # dtype casts and copies (identity maps on float64 input)
    pytest.param(lambda x: x.to(cr.float64), lambda a: a, "real", id="to-float64"),
    pytest.param(lambda x: x.to("float64"), lambda a: a, "real", id="to-float64-name"),
    pytest.param(lambda x: x.double(), lambda a: a, "real", id="double"),
    pytest.param(lambda x: x.clone(), lambda a: a, "real", id="clone"),
    pytest.param(lambda x: x.contiguous() * 1.0, lambda a: a, "real", id="contiguous"),
]


@pytest.mark.parametrize("fn, reference, domain", UNARY)
@given(shape=shapes(), seed=seeds, layout=layouts)
def test_unary_forward_and_gradcheck(fn, reference, domain, shape, seed, layout):
    values = values_for(domain, shape, seed)
    x = make_leaf(values, layout)
    out = fn(x)
    assert out.shape == values.shape
    assert out.dtype == np.float64
    np.testing.assert_allclose(out.numpy(), reference(values), rtol=1e-6, atol=1e-12)
    check_grad(fn, x)


# Analytic derivatives, checked at a few fixed points (independent of gradcheck).
DERIVATIVES = [
    pytest.param(cr.exp, np.exp, "real", id="exp"),
    pytest.param(cr.log, lambda a: 1 / a, "positive", id="log"),
    pytest.param(cr.log1p, lambda a: 1 / (1 + a), "unit", id="log1p"),
    pytest.param(cr.sqrt, lambda a: 0.5 / np.sqrt(a), "positive", id="sqrt"),
    pytest.param(cr.abs, np.sign, "nonzero", id="abs"),
    pytest.param(cr.sin, np.cos, "real", id="sin"),
    pytest.param(cr.cos, lambda a: -np.sin(a), "real", id="cos"),
    pytest.param(cr.tanh, lambda a: 1 / np.cosh(a) ** 2, "real", id="tanh"),
    pytest.param(cr.sigmoid, lambda a: scipy.special.expit(a) * scipy.special.expit(-a), "real", id="sigmoid"),
    pytest.param(cr.relu, lambda a: (a > 0).astype(float), "nonzero", id="relu"),
    pytest.param(lambda x: cr.leaky_relu(x, 0.2), lambda a: np.where(a > 0, 1.0, 0.2), "nonzero", id="leaky_relu"),
    pytest.param(cr.gelu, lambda a: scipy.stats.norm.cdf(a) + a * scipy.stats.norm.pdf(a), "real", id="gelu"),
    pytest.param(lambda x: x ** 3, lambda a: 3 * a**2, "real", id="pow-3"),
    pytest.param(lambda x: 2.0 ** x, lambda a: 2.0**a * np.log(2.0), "real", id="rpow"),
    pytest.param(lambda x: 1.7 / x, lambda a: -1.7 / a**2, "nonzero", id="rdiv"),
    pytest.param(lambda x: cr.clamp(x, CLAMP_LOW, CLAMP_HIGH),
                 lambda a: ((a > CLAMP_LOW) & (a < CLAMP_HIGH)).astype(float), "clamp", id="clamp"),
]


@pytest.mark.parametrize("fn, derivative, domain", DERIVATIVES)
def test_unary_gradient_matches_closed_form(fn, derivative, domain):
    values = values_for(domain, (3, 4), seed=7)
    x = leaf(values)
    fn(x).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), derivative(values), rtol=1e-7, atol=1e-12)


def test_pow_zero_exponent_gradient_is_zero():
    x = leaf([0.5, -1.5, 2.0])
    (x**0).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [0.0, 0.0, 0.0])


def test_rpow_nonpositive_base_gradient_is_zero():
    # d(0 ** x)/dx is 0 for x > 0 (the base is a constant 0).
    x = leaf([0.5, 1.5])
    y = 0.0 ** x
    np.testing.assert_array_equal(y.numpy(), [0.0, 0.0])
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [0.0, 0.0])


def test_abs_and_relu_subgradient_at_zero_is_zero():
    x = leaf([0.0, 2.0, -3.0])
    (cr.abs(x) + cr.relu(x)).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [0.0, 2.0, -1.0])


def test_clamp_gradient_passes_at_the_bounds():
    # Values exactly on a bound count as inside (the gradient passes), as documented.
    x = leaf([-1.0, -0.5, 0.0, 0.6, 1.0])
    cr.clamp(x, -0.5, 0.6).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [0.0, 1.0, 1.0, 1.0, 0.0])


# ---------------------------------------------------------------------- binary ops
# (chainrule function of (a, b), reference, domain of a, domain of b)
BINARY = [
    pytest.param(lambda a, b: a + b, np.add, "real", "real", id="add-operator"),
    pytest.param(cr.add, np.add, "real", "real", id="add"),
    pytest.param(lambda a, b: a.add(b), np.add, "real", "real", id="add-method"),
    pytest.param(lambda a, b: a - b, np.subtract, "real", "real", id="sub-operator"),
    pytest.param(cr.sub, np.subtract, "real", "real", id="sub"),
    pytest.param(lambda a, b: a.sub(b), np.subtract, "real", "real", id="sub-method"),
    pytest.param(lambda a, b: a * b, np.multiply, "real", "real", id="mul-operator"),
    pytest.param(cr.mul, np.multiply, "real", "real", id="mul"),
    pytest.param(lambda a, b: a.mul(b), np.multiply, "real", "real", id="mul-method"),
    pytest.param(lambda a, b: a / b, np.divide, "real", "nonzero", id="div-operator"),
    pytest.param(cr.div, np.divide, "real", "nonzero", id="div"),
    pytest.param(lambda a, b: a.div(b), np.divide, "real", "nonzero", id="div-method"),
    pytest.param(lambda a, b: a ** b, np.power, "positive", "real", id="pow-operator"),
    pytest.param(cr.pow, np.power, "positive", "real", id="pow"),
    pytest.param(lambda a, b: a.pow(b), np.power, "positive", "real", id="pow-method"),
    pytest.param(cr.maximum, np.maximum, "grid_a", "grid_b", id="maximum"),
    pytest.param(lambda a, b: a.maximum(b), np.maximum, "grid_b", "grid_a", id="maximum-method"),
    pytest.param(cr.minimum, np.minimum, "grid_a", "grid_b", id="minimum"),
    pytest.param(lambda a, b: a.minimum(b), np.minimum, "grid_b", "grid_a", id="minimum-method"),
    # compositions that use both inputs twice (gradients arriving along two paths)
    pytest.param(lambda a, b: a * b + a / (b * b + 1.0), lambda a, b: a * b + a / (b * b + 1.0),
                 "real", "real", id="composite"),
]


@pytest.mark.parametrize("fn, reference, domain_a, domain_b", BINARY)
@given(shape_pair=broadcastable_pairs(), seed=seeds, layout_a=layouts, layout_b=layouts)
def test_binary_broadcast_forward_and_gradcheck(fn, reference, domain_a, domain_b, shape_pair,
                                                seed, layout_a, layout_b):
    shape_a, shape_b = shape_pair
    a_values = make_values(shape_a, domain_a, seed)
    b_values = make_values(shape_b, domain_b, seed + 1)
    a, b = make_leaf(a_values, layout_a), make_leaf(b_values, layout_b)
    out = fn(a, b)
    expected = reference(a_values, b_values)
    assert out.shape == np.broadcast_shapes(shape_a, shape_b)
    np.testing.assert_allclose(out.numpy(), expected, rtol=1e-6, atol=1e-12)
    check_grad(fn, a, b)


@pytest.mark.parametrize("fn, reference, domain_a, domain_b", BINARY)
def test_binary_gradient_only_to_inputs_that_require_it(fn, reference, domain_a, domain_b):
    a = leaf(make_values((2, 3), domain_a, 1))
    b = leaf(make_values((3,), domain_b, 2), requires_grad=False)
    fn(a, b).sum().backward()
    assert a.grad is not None and a.grad.shape == (2, 3)
    assert b.grad is None
    a2 = leaf(make_values((2, 3), domain_a, 1), requires_grad=False)
    b2 = leaf(make_values((3,), domain_b, 2))
    fn(a2, b2).sum().backward()
    assert a2.grad is None
    assert b2.grad is not None and b2.grad.shape == (3,)


def test_binary_gradients_sum_over_broadcast_dims_closed_form():
    a = leaf(np.arange(6.0).reshape(2, 3) + 1.0)  # (2, 3)
    b = leaf([[2.0], [4.0]])  # (2, 1)
    (a * b).sum().backward()
    np.testing.assert_array_equal(a.grad.numpy(), np.broadcast_to([[2.0], [4.0]], (2, 3)))
    np.testing.assert_array_equal(b.grad.numpy(), [[6.0], [15.0]])
    c = leaf(5.0)  # 0-d against (2, 3)
    d = leaf(np.ones((2, 3)) * 2.0)
    (c / d).sum().backward()
    np.testing.assert_allclose(c.grad.numpy(), 3.0)
    np.testing.assert_allclose(d.grad.numpy(), np.full((2, 3), -5.0 / 4.0))


CONSTANT_OPERANDS = [
    pytest.param(lambda x, c: x + c, lambda a, c: a + c, id="add-array"),
    pytest.param(lambda x, c: c + x, lambda a, c: c + a, id="radd-array"),
    pytest.param(lambda x, c: x - c, lambda a, c: a - c, id="sub-array"),
    pytest.param(lambda x, c: c - x, lambda a, c: c - a, id="rsub-array"),
    pytest.param(lambda x, c: x * c, lambda a, c: a * c, id="mul-array"),
    pytest.param(lambda x, c: c * x, lambda a, c: c * a, id="rmul-array"),
    pytest.param(lambda x, c: x / c, lambda a, c: a / c, id="div-array"),
    pytest.param(lambda x, c: c / x, lambda a, c: c / a, id="rdiv-array"),
    pytest.param(lambda x, c: x ** c, lambda a, c: a**c, id="pow-array"),
    # a list is a float32 tensor: next to a 0-d float64 tensor it sets the dtype (PyTorch's rule)
    pytest.param(lambda x, c: cr.mul(x, c.tolist()) if x.ndim else cr.mul(x, c), lambda a, c: a * c, id="mul-list"),
    pytest.param(lambda x, c: cr.maximum(x, c), np.maximum, id="maximum-array"),
]


@pytest.mark.parametrize("fn, reference", CONSTANT_OPERANDS)
@given(shape_pair=broadcastable_pairs(), seed=seeds)
def test_binary_with_numpy_constant_operand(fn, reference, shape_pair, seed):
    shape_x, shape_c = shape_pair
    x_values = make_values(shape_x, "grid_a", seed) ** 2 + 0.5  # positive, no ties with c
    c = make_values(shape_c, "grid_b", seed + 1) ** 2 + 0.55
    x = leaf(x_values)
    out = fn(x, c)
    np.testing.assert_allclose(out.numpy(), reference(x_values, c), rtol=1e-6)
    check_grad(lambda t: fn(t, c), x)


def test_maximum_minimum_split_gradient_evenly_at_ties():
    a = leaf([1.0, 2.0, 3.0, 5.0])
    b = leaf([1.0, 4.0, 3.0, 0.0])
    cr.maximum(a, b).sum().backward()
    np.testing.assert_array_equal(a.grad.numpy(), [0.5, 0.0, 0.5, 1.0])
    np.testing.assert_array_equal(b.grad.numpy(), [0.5, 1.0, 0.5, 0.0])
    a.grad = b.grad = None
    cr.minimum(a, b).sum().backward()
    np.testing.assert_array_equal(a.grad.numpy(), [0.5, 1.0, 0.5, 0.0])
    np.testing.assert_array_equal(b.grad.numpy(), [0.5, 0.0, 0.5, 1.0])


def test_maximum_tie_with_broadcasting_accumulates_halves():
    a = leaf([[2.0, 2.0, 1.0]])  # (1, 3)
    b = leaf([[2.0], [0.0]])  # (2, 1)
    cr.maximum(a, b).sum().backward()
    # column 0, 1: tie with row 0 (1/2 each), a wins row 1; column 2: b wins row 0, a wins row 1
    np.testing.assert_array_equal(a.grad.numpy(), [[1.5, 1.5, 1.0]])
    np.testing.assert_array_equal(b.grad.numpy(), [[2.0], [0.0]])


def test_pow_tensor_exponent_gradient_closed_form():
    a = leaf([0.5, 2.0, 3.0])
    b = leaf([2.0, -1.0, 0.5])
    (a**b).sum().backward()
    av, bv = np.array([0.5, 2.0, 3.0]), np.array([2.0, -1.0, 0.5])
    np.testing.assert_allclose(a.grad.numpy(), bv * av ** (bv - 1), rtol=1e-12)
    np.testing.assert_allclose(b.grad.numpy(), av**bv * np.log(av), rtol=1e-12)


def test_pow_exponent_gradient_is_zero_for_nonpositive_base():
    a = leaf([-2.0, 0.0], requires_grad=False)
    b = leaf([2.0, 3.0])
    y = a**b
    np.testing.assert_array_equal(y.numpy(), [4.0, 0.0])
    y.sum().backward()
    np.testing.assert_array_equal(b.grad.numpy(), [0.0, 0.0])


# ---------------------------------------------------------------------- where
@given(shapes3=hnp.mutually_broadcastable_shapes(num_shapes=3, min_dims=0, max_dims=3, max_side=4),
       seed=seeds, layout=layouts)
def test_where_broadcast_forward_and_gradcheck(shapes3, seed, layout):
    shape_c, shape_a, shape_b = shapes3.input_shapes
    cond_values = np.random.default_rng(seed).random(shape_c) < 0.5
    a_values = make_values(shape_a, "real", seed)
    b_values = make_values(shape_b, "real", seed + 1)
    cond = cr.tensor(cond_values)
    a, b = make_leaf(a_values, layout), make_leaf(b_values, layout)
    out = cr.where(cond, a, b)
    np.testing.assert_array_equal(out.numpy(), np.where(cond_values, a_values, b_values))
    check_grad(lambda x, y: cr.where(cond, x, y), a, b)


def test_where_gradient_closed_form_and_scalars():
    cond = cr.tensor([True, False, True])
    a = leaf([1.0, 2.0, 3.0])
    b = leaf([10.0, 20.0, 30.0])
    cr.where(cond, a, b).sum().backward()
    np.testing.assert_array_equal(a.grad.numpy(), [1.0, 0.0, 1.0])
    np.testing.assert_array_equal(b.grad.numpy(), [0.0, 1.0, 0.0])
    x = leaf([1.0, 2.0, 3.0])
    y = cr.where(cond, x, 0.5)
    np.testing.assert_array_equal(y.numpy(), [1.0, 0.5, 3.0])
    assert y.dtype == np.float64
    z = cr.where(cond, -1.0, x)
    np.testing.assert_array_equal(z.numpy(), [-1.0, 2.0, -1.0])
    (y + z).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [1.0, 1.0, 1.0])
    f32 = cr.tensor([1.0, 2.0, 3.0])
    assert cr.where(cond, f32, 0.5).dtype == np.float32


WHERE_SCALAR_DTYPES = [
    # (tensor dtype, Python scalar, expected dtype) — as torch.where (a float scalar next to an
    # integer or bool tensor gives float32, PyTorch's default float dtype)
    pytest.param(np.float32, 2, np.float32, id="f32-int"),
    pytest.param(np.float64, 0.5, np.float64, id="f64-float"),
    pytest.param(np.int64, 2, np.int64, id="i64-int"),
    pytest.param(np.int64, 2.5, np.float32, id="i64-float"),
    pytest.param(np.bool_, True, np.bool_, id="bool-bool"),
    pytest.param(np.bool_, 2, np.int64, id="bool-int"),
    pytest.param(np.bool_, 2.5, np.float32, id="bool-float"),
]


@pytest.mark.parametrize("dtype, scalar, expected", WHERE_SCALAR_DTYPES)
def test_where_python_scalar_promotion(dtype, scalar, expected):
    cond_values = np.array([True, False, True])
    values = np.array([0, 1, 0]).astype(dtype)
    cond, t = cr.tensor(cond_values), cr.tensor(values)
    for out, reference in [(cr.where(cond, t, scalar), np.where(cond_values, values, scalar)),
                           (cr.where(cond, scalar, t), np.where(cond_values, scalar, values))]:
        assert out.dtype == np.dtype(expected)
        np.testing.assert_array_equal(out.numpy(), reference.astype(expected))


# ---------------------------------------------------------------------- casts
def test_cast_float32_to_float64_backward_returns_float32_grad():
    x = cr.tensor([1.0, 2.0, 3.0], requires_grad=True)
    y = x.double()
    assert y.dtype == np.float64 and y.requires_grad
    (y * cr.tensor([1.0, 2.0, 3.0], dtype=cr.float64)).sum().backward()
    assert x.grad.dtype == np.float32
    np.testing.assert_array_equal(x.grad.numpy(), [1.0, 2.0, 3.0])
    z = x.to(cr.float64)
    assert z.dtype == np.float64
    np.testing.assert_array_equal(z.numpy(), [1.0, 2.0, 3.0])


def test_cast_float64_to_float32_backward_and_integer_cast_has_no_grad():
    x = leaf([1.0, 2.5])
    y = x.float()
    assert y.dtype == np.float32 and y.requires_grad
    (y * y).sum().backward()
    assert x.grad.dtype == np.float64
    np.testing.assert_array_equal(x.grad.numpy(), [2.0, 5.0])
    as_int = leaf([1.7, -2.2]).long()
    assert as_int.dtype == np.int64 and not as_int.requires_grad and as_int.grad_fn is None
    np.testing.assert_array_equal(as_int.numpy(), [1, -2])


def test_to_same_dtype_and_clone():
    x = leaf([1.0, 2.0])
    assert x.to(cr.float64) is x
    assert x.double() is x
    c = x.clone()
    assert c is not x and c.requires_grad
    assert not np.shares_memory(c.numpy(), x.numpy())
    np.testing.assert_array_equal(c.numpy(), x.numpy())


# ---------------------------------------------------------------------- dtypes
FLOAT32_UNARY = [
    pytest.param(fn, id=name) for name, fn in [
        ("neg", cr.neg), ("exp", cr.exp), ("log", cr.log), ("log1p", cr.log1p),
        ("sqrt", cr.sqrt), ("abs", cr.abs), ("sin", cr.sin), ("cos", cr.cos),
        ("tanh", cr.tanh), ("sigmoid", cr.sigmoid), ("relu", cr.relu),
        ("leaky_relu", cr.leaky_relu), ("gelu", cr.gelu),
        ("gelu-tanh", lambda x: cr.gelu(x, "tanh")), ("clamp", lambda x: cr.clamp(x, 0.2, 0.9)),
        ("add-scalar", lambda x: x + 1.5), ("rsub-scalar", lambda x: 1.5 - x),
        ("mul-scalar", lambda x: x * 2.5), ("rmul-scalar", lambda x: 2.5 * x),
        ("div-scalar", lambda x: x / 3.0), ("rdiv-scalar", lambda x: 3.0 / x),
        ("pow-scalar", lambda x: x**1.5), ("rpow-scalar", lambda x: 1.5**x),
        ("pow-2", lambda x: x**2), ("clone", lambda x: x.clone()),
    ]
]


@pytest.mark.parametrize("fn", FLOAT32_UNARY)
def test_float32_in_float32_out_and_grad(fn):
    values = np.array([0.25, 0.5, 1.5], dtype=np.float32)
    x = cr.tensor(values, requires_grad=True)
    y = fn(x)
    assert y.dtype == np.float32
    reference = fn(cr.tensor(values.astype(np.float64))).numpy()  # float64 values are checked against NumPy above
    np.testing.assert_allclose(y.numpy(), reference, rtol=1e-5)
    y.sum().backward()
    assert x.grad.dtype == np.float32


PROMOTIONS = [
    # (left, right, operator, expected dtype) — PyTorch's promotion (tests/test_type_promotion
    # has the full table against torch.result_type)
    pytest.param(np.float32, np.float64, "+", np.float64, id="f32+f64"),
    pytest.param(np.float64, np.float32, "*", np.float64, id="f64*f32"),
    pytest.param(np.float32, np.float32, "/", np.float32, id="f32/f32"),
    pytest.param(np.int64, np.float32, "+", np.float32, id="i64+f32"),
    pytest.param(np.int64, np.int64, "+", np.int64, id="i64+i64"),
    pytest.param(np.int64, np.int64, "/", np.float32, id="i64/i64"),
    pytest.param(np.int64, 2.5, "+", np.float32, id="i64+pyfloat"),
    pytest.param(np.int64, 2.5, "*", np.float32, id="i64*pyfloat"),
    pytest.param(np.int64, 2, "*", np.int64, id="i64*pyint"),
    pytest.param(np.int64, 2, "/", np.float32, id="i64/pyint"),
    pytest.param(np.float32, 2.5, "*", np.float32, id="f32*pyfloat"),
    pytest.param(2.5, np.float32, "*", np.float32, id="pyfloat*f32"),
    pytest.param(np.float32, 2, "-", np.float32, id="f32-pyint"),
    pytest.param(2, np.float32, "-", np.float32, id="pyint-f32"),
    pytest.param(np.float32, 3, "**", np.float32, id="f32**pyint"),
    pytest.param(2.0, np.float32, "**", np.float32, id="pyfloat**f32"),
    pytest.param(np.float32, np.float64, "**", np.float64, id="f32**f64"),
]

_OPERATORS = {
    "+": lambda a, b: a + b, "-": lambda a, b: a - b, "*": lambda a, b: a * b,
    "/": lambda a, b: a / b, "**": lambda a, b: a**b,
}


@pytest.mark.parametrize("left, right, operator, expected", PROMOTIONS)
def test_dtype_promotion_follows_pytorch(left, right, operator, expected):
    torch = pytest.importorskip("torch")

    def operand(kind, values):
        if isinstance(kind, (int, float)):
            return kind, kind, kind
        array = np.asarray(values, dtype=kind)
        return cr.tensor(array), array, torch.from_numpy(array)

    left_t, left_np, left_torch = operand(left, [1, 2, 3])
    right_t, right_np, right_torch = operand(right, [2, 1, 3])
    out = _OPERATORS[operator](left_t, right_t)
    reference = _OPERATORS[operator](left_np, right_np)
    assert out.dtype == np.dtype(expected)
    # the table is PyTorch's
    assert str(_OPERATORS[operator](left_torch, right_torch).dtype) == f"torch.{np.dtype(expected)}"
    np.testing.assert_allclose(out.numpy(), reference, rtol=1e-6)


def test_mixed_precision_gradients_keep_each_leafs_dtype():
    a = cr.tensor([1.0, 2.0], requires_grad=True)  # float32
    b = cr.tensor([3.0, 4.0], dtype=cr.float64, requires_grad=True)
    y = a * b
    assert y.dtype == np.float64
    y.sum().backward()
    assert a.grad.dtype == np.float32 and b.grad.dtype == np.float64
    np.testing.assert_array_equal(a.grad.numpy(), [3.0, 4.0])
    np.testing.assert_array_equal(b.grad.numpy(), [1.0, 2.0])


def test_integer_tensor_arithmetic_values():
    t = cr.tensor([1, 2, 3])
    np.testing.assert_array_equal((t + 2.5).numpy(), [3.5, 4.5, 5.5])
    np.testing.assert_array_equal((t * 2).numpy(), [2, 4, 6])
    np.testing.assert_allclose((t / 2).numpy(), [0.5, 1.0, 1.5])
    np.testing.assert_array_equal((t**2).numpy(), [1, 4, 9])
    np.testing.assert_array_equal((-t).numpy(), [-1, -2, -3])
    assert not (t + 2.5).requires_grad


# ---------------------------------------------------------------------- errors
def test_where_requires_bool_condition():
    x = leaf([1.0, 2.0])
    with pytest.raises(TypeError, match=r"where: condition must have dtype bool; got int64"):
        cr.where(cr.tensor([1, 0]), x, x)
    with pytest.raises(TypeError, match=r"where: condition must have dtype bool; got float32"):
        cr.where(cr.tensor([1.0, 0.0]), x, x)
    with pytest.raises(TypeError, match=r"where: condition must be a bool Tensor"):
        cr.where(np.array([True, False]), x, x)
    with pytest.raises(TypeError, match=r"where: at least one of a and b must be a Tensor"):
        cr.where(cr.tensor([True, False]), 1.0, 2.0)


def test_clamp_errors():
    x = leaf([1.0, 2.0])
    with pytest.raises(ValueError, match=r"clamp: at least one of min and max must be given"):
        cr.clamp(x)
    with pytest.raises(ValueError, match=r"clamp: at least one of min and max must be given"):
        x.clamp()
    with pytest.raises(TypeError, match=r"clamp: min must be a number or None; got Tensor"):
        cr.clamp(x, min=cr.tensor(0.0))
    with pytest.raises(TypeError, match=r"clamp: max must be a number or None; got str"):
        cr.clamp(x, max="1")


def test_activation_argument_errors():
    x = leaf([1.0, 2.0])
    with pytest.raises(ValueError, match=r"gelu: approximate must be 'none' or 'tanh'; got 'erf'"):
        cr.gelu(x, approximate="erf")
    with pytest.raises(TypeError, match=r"gelu: expected a floating-point tensor; got dtype int64"):
        cr.gelu(cr.tensor([1, 2]))
    with pytest.raises(TypeError, match=r"leaky_relu: negative_slope must be a number; got str"):
        cr.leaky_relu(x, "0.1")


def test_binary_operand_errors():
    x = leaf([1.0, 2.0])
    with pytest.raises(TypeError, match=r"add: expected a Tensor, an array or a Python number as operand; got str"):
        cr.add(x, "1")
    with pytest.raises(TypeError, match=r"mul: expected at least one Tensor operand"):
        cr.mul(2.0, 3.0)
    with pytest.raises(ValueError):  # shapes that do not broadcast
        x + leaf([1.0, 2.0, 3.0])
