"""Softmax and log_softmax along a dim (chainrule.engine.ops.activations). Forward values
against SciPy, gradients against central differences and the closed forms, numerical
stability at extreme logits, dtypes and errors."""
from __future__ import annotations

import numpy as np
import pytest
import scipy.special
from conftest import check_grad, layouts, leaf, make_leaf, make_values, seeds, shapes
from hypothesis import given
from hypothesis import strategies as st

import chainrule as cr

LAYOUTS = ["contiguous", "noncontiguous"]


def scipy_reference(function):
    """SciPy's softmax/log_softmax along ``axis`` (a 0-d input has no axis)."""
    def reference(values, dim):
        return getattr(scipy.special, function)(values, axis=None if values.ndim == 0 else dim)
    return reference


FUSED = [
    pytest.param(lambda x, d: cr.softmax(x, d), scipy_reference("softmax"), id="softmax"),
    pytest.param(lambda x, d: cr.softmax(x, dim=d), scipy_reference("softmax"), id="softmax-dim-keyword"),
    pytest.param(lambda x, d: cr.softmax(x, axis=d), scipy_reference("softmax"), id="softmax-axis-alias"),
    pytest.param(lambda x, d: x.softmax(d), scipy_reference("softmax"), id="softmax-method"),
    pytest.param(lambda x, d: cr.log_softmax(x, d), scipy_reference("log_softmax"), id="log_softmax"),
    pytest.param(lambda x, d: cr.log_softmax(x, axis=d), scipy_reference("log_softmax"), id="log_softmax-axis-alias"),
    pytest.param(lambda x, d: x.log_softmax(dim=d), scipy_reference("log_softmax"), id="log_softmax-method"),
]


@pytest.mark.parametrize("fn, reference", FUSED)
@given(shape=shapes(), seed=seeds, layout=layouts, data=st.data())
def test_fused_forward_and_gradcheck(fn, reference, shape, seed, layout, data):
    positions = max(len(shape), 1)
    dim = data.draw(st.integers(-positions, positions - 1))
    values = make_values(shape, "real", seed) * 2.0
    x = make_leaf(values, layout)
    out = fn(x, dim)
    expected = reference(values, dim)
    assert out.shape == values.shape and out.dtype == np.float64
    np.testing.assert_allclose(out.numpy(), expected, rtol=1e-6, atol=1e-12)
    check_grad(lambda t: fn(t, dim), x)


@pytest.mark.parametrize("layout", LAYOUTS)
def test_default_dim_is_last(layout):
    values = make_values((2, 3, 4), "real", 1)
    x = make_leaf(values, layout)
    np.testing.assert_allclose(cr.softmax(x).numpy(), scipy.special.softmax(values, axis=-1), rtol=1e-12)
    np.testing.assert_allclose(cr.log_softmax(x).numpy(), scipy.special.log_softmax(values, axis=-1), rtol=1e-12)


@pytest.mark.parametrize("layout", LAYOUTS)
def test_softmax_backward_closed_form(layout):
    values = make_values((3, 4), "real", 2)
    g = make_values((3, 4), "real", 3)
    x = make_leaf(values, layout)
    cr.softmax(x, dim=1).backward(cr.tensor(g))
    s = scipy.special.softmax(values, axis=1)
    expected = s * (g - (g * s).sum(axis=1, keepdims=True))
    np.testing.assert_allclose(x.grad.numpy(), expected, rtol=1e-10, atol=1e-14)
    y = make_leaf(values, layout)
    cr.log_softmax(y, dim=0).backward(cr.tensor(g))
    s0 = scipy.special.softmax(values, axis=0)
    np.testing.assert_allclose(y.grad.numpy(), g - s0 * g.sum(axis=0, keepdims=True), rtol=1e-10, atol=1e-14)


def test_softmax_rows_sum_to_one_and_log_softmax_is_log_of_softmax():
    values = make_values((4, 5), "real", 4) * 5
    x = leaf(values)
    s = cr.softmax(x, dim=1).numpy()
    np.testing.assert_allclose(s.sum(axis=1), np.ones(4), rtol=1e-12)
    assert (s > 0).all()
    np.testing.assert_allclose(cr.log_softmax(x, dim=1).numpy(), np.log(s), rtol=1e-10)


def test_extreme_logits_are_stable():
    values = np.array([[1000.0, 0.0, -1000.0], [-1000.0, -1000.0, -1000.0]])
    x = leaf(values)
    s = cr.softmax(x, dim=1)
    ls = cr.log_softmax(x, dim=1)
    np.testing.assert_allclose(s.numpy(), scipy.special.softmax(values, axis=1), rtol=1e-12, atol=1e-300)
    np.testing.assert_allclose(ls.numpy(), [[0.0, -1000.0, -2000.0], [-np.log(3)] * 3], rtol=1e-12)
    assert np.isfinite(ls.numpy()).all()  # never log(softmax): no -inf for a tiny probability
    (s.sum() + ls.sum()).backward()
    assert np.isfinite(x.grad.numpy()).all()


def test_float32_stays_float32():
    x = cr.tensor(np.array([[1.0, 2.0, 3.0]], dtype=np.float32), requires_grad=True)
    s = cr.softmax(x, dim=-1)
    ls = cr.log_softmax(x, dim=-1)
    assert s.dtype == np.float32 and ls.dtype == np.float32
    np.testing.assert_allclose(s.numpy(), scipy.special.softmax([[1.0, 2.0, 3.0]], axis=-1), rtol=1e-6)
    (s * ls).sum().backward()
    assert x.grad.dtype == np.float32


@pytest.mark.parametrize("op", ["softmax", "log_softmax"])
def test_fused_errors(op):
    function = getattr(cr, op)
    with pytest.raises(TypeError, match=rf"^{op}: expected a floating-point tensor; got dtype int64"):
        function(cr.tensor([1, 2, 3]))
    with pytest.raises(TypeError, match=rf"^{op}: expected a floating-point tensor; got dtype bool"):
        function(cr.tensor([True, False]))
    with pytest.raises(IndexError, match=rf"^{op}: dim 2 is out of range for a tensor with 2 dimension\(s\)$"):
        function(cr.zeros(2, 3), dim=2)
    with pytest.raises(TypeError, match=rf"^{op}: unexpected keyword argument"):
        function(cr.zeros(2, 3), keepdim=True)
