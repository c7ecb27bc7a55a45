"""The autograd engine: backward, accumulation, graph lifetime, grad mode, anomaly
detection and gradcheck.

References are closed-form derivatives computed by hand with NumPy.
"""
from __future__ import annotations

import re

import numpy as np
import pytest

import chainrule as cr
from chainrule.autograd import AnomalyError, Function, GradcheckError, detect_anomaly, gradcheck


def f64(values, requires_grad=True):
    return cr.tensor(np.asarray(values, dtype=np.float64), requires_grad=requires_grad)


@pytest.fixture(autouse=True)
def _grad_mode_restored():
    """Every test starts and must end with grad mode on and anomaly mode off."""
    assert cr.is_grad_enabled()
    yield
    enabled = cr.is_grad_enabled()
    _force_grad_mode_on()
    assert enabled, "a test left grad mode off"


def _force_grad_mode_on():
    if not cr.is_grad_enabled():
        cr.set_grad_enabled(True).__enter__()  # entered for good: resets the global mode
    assert cr.is_grad_enabled()


# ---------------------------------------------------------------------- backward basics

def test_scalar_backward_defaults_to_gradient_one():
    x = f64([1.0, -2.0, 3.0])
    (x * x * x).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), 3 * np.array([1.0, -2.0, 3.0]) ** 2)


@pytest.mark.parametrize("shape", [(), (1,), (1, 1)])
def test_one_element_outputs_of_any_shape_default_to_one(shape):
    x = cr.tensor(np.full(shape, 3.0), requires_grad=True)
    (x * x).backward()
    np.testing.assert_allclose(x.grad.numpy(), np.full(shape, 6.0))


def test_backward_of_a_leaf_itself():
    x = f64(2.0)
    x.backward()
    assert x.grad.item() == 1.0
    x.backward(gradient=f64(3.0, requires_grad=False))
    assert x.grad.item() == 4.0


@pytest.mark.parametrize("shape", [(3,), (2, 2), (0,)])
def test_non_scalar_backward_without_gradient_raises(shape):
    x = cr.ones(*shape, requires_grad=True)
    y = x * 2
    with pytest.raises(RuntimeError, match=rf"only for outputs with one element; this output has shape "
                                           rf"\({', '.join(map(str, shape))},?\)\. Pass gradient="):
        y.backward()


def test_vector_jacobian_product():
    a = np.array([[1.0, 2.0], [-1.0, 0.5], [3.0, -2.0]])
    w = np.array([[0.5, -1.0, 2.0], [1.5, 0.25, -0.5]])
    v = np.array([[1.0, -2.0, 0.5], [0.0, 3.0, 1.0], [2.0, 1.0, -1.0]])
    x, W = f64(a), f64(w)
    y = cr.tanh(x @ W)  # (3, 3)
    y.backward(gradient=cr.tensor(v))
    # y = tanh(A W): dL/d(AW) = v * (1 - y^2); dL/dA = G W^T; dL/dW = A^T G
    g = v * (1 - np.tanh(a @ w) ** 2)
    np.testing.assert_allclose(x.grad.numpy(), g @ w.T, rtol=1e-12)
    np.testing.assert_allclose(W.grad.numpy(), a.T @ g, rtol=1e-12)


def test_gradient_may_be_a_list_or_array():
    x = f64([1.0, 2.0])
    (x * x).backward(gradient=[1.0, 10.0])
    np.testing.assert_allclose(x.grad.numpy(), [2.0, 40.0])
    x.grad = None
    (x * x).backward(gradient=np.array([3.0, 0.0]))
    np.testing.assert_allclose(x.grad.numpy(), [6.0, 0.0])


@pytest.mark.parametrize("gradient_shape", [(2,), (3, 2), (1, 3), ()])
def test_wrong_gradient_shape_raises(gradient_shape):
    y = cr.ones(2, 3, requires_grad=True) * 2
    with pytest.raises(RuntimeError,
                       match=rf"gradient has shape {re_shape(gradient_shape)} but the output has shape \(2, 3\)"):
        y.backward(gradient=cr.ones(*gradient_shape))


def re_shape(shape):
    return str(tuple(shape)).replace("(", r"\(").replace(")", r"\)")


def test_backward_on_tensor_without_grad_raises():
    with pytest.raises(RuntimeError, match="does not require grad and has no grad_fn"):
        cr.ones(3).sum().backward()


# ---------------------------------------------------------------------- deep graphs

def test_chain_of_10000_ops_no_recursion_error():
    x = f64(1.0)
    y = x
    for _ in range(10_000):
        y = y * 1.0001
    y.backward()
    np.testing.assert_allclose(x.grad.item(), 1.0001 ** 10_000, rtol=1e-11)
    np.testing.assert_allclose(y.item(), 1.0001 ** 10_000, rtol=1e-11)


def test_chain_of_10000_alternating_ops_with_a_reused_leaf():
    # y_{k+1} = y_k * w + c, 5000 times each: y_n = x w^n + c (w^n - 1) / (w - 1)
    n, w0, x0, c = 5000, 1.0002, 0.5, 0.01
    x, w = f64(x0), f64(w0)
    y = x
    for _ in range(n):
        y = y * w + c
    y.backward(retain_graph=True)
    geometric = (w0 ** n - 1) / (w0 - 1)
    np.testing.assert_allclose(y.item(), x0 * w0 ** n + c * geometric, rtol=1e-10)
    np.testing.assert_allclose(x.grad.item(), w0 ** n, rtol=1e-10)
    # d/dw [x w^n + c sum_{k<n} w^k] = n x w^(n-1) + c sum_k k w^(k-1)
    dgeometric = sum(k * w0 ** (k - 1) for k in range(1, n))
    np.testing.assert_allclose(w.grad.item(), n * x0 * w0 ** (n - 1) + c * dgeometric, rtol=1e-9)
    del y  # tearing down a 10,000-node retained graph must not overflow the stack either


def test_deep_chain_of_unary_functions():
    x = f64([0.3, -0.2])
    y = x
    for _ in range(3000):
        y = cr.sin(y)
    y.sum().backward()
    # derivative of the iterated map: product of cos(y_k) along the trajectory
    value, derivative = np.array([0.3, -0.2]), np.ones(2)
    for _ in range(3000):
        derivative *= np.cos(value)
        value = np.sin(value)
    np.testing.assert_allclose(y.numpy(), value, rtol=1e-12)
    np.testing.assert_allclose(x.grad.numpy(), derivative, rtol=1e-10)


# ---------------------------------------------------------------------- accumulation

@pytest.mark.parametrize(
    "build, derivative",
    [
        (lambda x: x * x + x, lambda a: 2 * a + 1),
        (lambda x: x * x * x - x * 4.0, lambda a: 3 * a ** 2 - 4),
        (lambda x: cr.exp(x) * cr.sin(x) + x / (x * x + 1.0),
         lambda a: np.exp(a) * (np.sin(a) + np.cos(a)) + (1 - a ** 2) / (a ** 2 + 1) ** 2),
        (lambda x: (x + x) * (x + x), lambda a: 8 * a),
    ],
)
def test_diamond_graphs_sum_gradients(build, derivative):
    a = np.array([-1.5, 0.0, 0.5, 2.0])
    x = f64(a)
    build(x).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), derivative(a), rtol=1e-12, atol=1e-14)


def test_shared_intermediate_used_by_two_branches():
    a = np.array([0.5, -1.0])
    x = f64(a)
    h = cr.tanh(x)
    loss = (h * h).sum() + (h * 3.0).sum()
    loss.backward()
    t = np.tanh(a)
    np.testing.assert_allclose(x.grad.numpy(), (2 * t + 3) * (1 - t ** 2), rtol=1e-12)


def test_leaf_grads_accumulate_until_reset():
    x = f64([1.0, 2.0])
    (x * 3.0).sum().backward()
    (x * x).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [3.0 + 2.0, 3.0 + 4.0])
    x.grad = None
    (x * x).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [2.0, 4.0])


def test_accumulation_keeps_the_grad_object():
    x = f64([1.0, 2.0])
    (x * 3.0).sum().backward()
    grad = x.grad
    (x * 3.0).sum().backward()
    assert x.grad is grad
    np.testing.assert_allclose(grad.numpy(), [6.0, 6.0])


def test_retain_graph_allows_second_backward_and_accumulates():
    x = f64([1.0, -2.0])
    y = (x * x * x).sum()
    y.backward(retain_graph=True)
    np.testing.assert_allclose(x.grad.numpy(), [3.0, 12.0])
    y.backward()
    np.testing.assert_allclose(x.grad.numpy(), [6.0, 24.0])


def test_second_backward_without_retain_graph_raises():
    x = f64([1.0, 2.0])
    y = (cr.exp(x) * 2.0).sum()
    y.backward()
    with pytest.raises(RuntimeError, match=r"backward through the graph a second time.*Pass retain_graph=True"):
        y.backward()


def test_backward_through_a_freed_subgraph_raises():
    x = f64([1.0, 2.0])
    h = cr.exp(x)
    h.sum().backward()
    with pytest.raises(RuntimeError, match=r"second time \(at exp\).*retain_graph=True"):
        (h * 2.0).sum().backward()


# ---------------------------------------------------------------------- grad mode

def test_no_grad_context_manager():
    x = f64([1.0, 2.0])
    with cr.no_grad():
        assert not cr.is_grad_enabled()
        y = x * 2 + 1
    assert cr.is_grad_enabled()
    assert y.requires_grad is False and y.grad_fn is None and y.is_leaf
    np.testing.assert_array_equal(y.numpy(), [3.0, 5.0])


def test_no_grad_decorator():
    @cr.no_grad()
    def double(t):
        assert not cr.is_grad_enabled()
        return t * 2

    y = double(f64([1.0]))
    assert cr.is_grad_enabled()
    assert y.requires_grad is False and y.grad_fn is None


def test_enable_grad_decorator_inside_no_grad():
    @cr.enable_grad()
    def double(t):
        return t * 2

    with cr.no_grad():
        y = double(f64([1.0]))
        assert not cr.is_grad_enabled()
    assert y.requires_grad and y.grad_fn.op == "mul"


def test_set_grad_enabled_decorator():
    @cr.set_grad_enabled(False)
    def double(t):
        return t * 2

    y = double(f64([1.0]))
    assert y.requires_grad is False
    assert cr.is_grad_enabled()


def test_enable_grad_inside_no_grad():
    x = f64([1.0])
    with cr.no_grad():
        with cr.enable_grad():
            assert cr.is_grad_enabled()
            y = x * 2
        assert not cr.is_grad_enabled()
        z = x * 2
    assert y.requires_grad and y.grad_fn is not None
    assert not z.requires_grad


@pytest.mark.parametrize("mode", [False, True])
def test_set_grad_enabled_context(mode):
    x = f64([1.0])
    with cr.set_grad_enabled(mode):
        assert cr.is_grad_enabled() is mode
        y = x * 2
    assert cr.is_grad_enabled()
    assert y.requires_grad is mode


def test_set_grad_enabled_as_a_plain_call_like_torch():
    try:
        cr.set_grad_enabled(False)
        assert not cr.is_grad_enabled()
        assert not (f64([1.0]) * 2).requires_grad
        cr.set_grad_enabled(True)
        assert cr.is_grad_enabled()
    finally:
        _force_grad_mode_on()


def test_nested_modes_restore_after_exceptions():
    with pytest.raises(KeyError):
        with cr.no_grad():
            with cr.enable_grad():
                with cr.set_grad_enabled(False):
                    raise KeyError("boom")
    assert cr.is_grad_enabled()
    with cr.no_grad():
        with pytest.raises(ValueError):
            with cr.enable_grad():
                raise ValueError
        assert not cr.is_grad_enabled()
    assert cr.is_grad_enabled()


def test_no_grad_decorated_function_restores_after_exception():
    @cr.set_grad_enabled(False)
    def fail():
        raise ZeroDivisionError

    with pytest.raises(ZeroDivisionError):
        fail()
    assert cr.is_grad_enabled()


def test_reused_context_manager_instance_nests():
    off = cr.no_grad()
    with off:
        with cr.enable_grad():
            with off:
                assert not cr.is_grad_enabled()
            assert cr.is_grad_enabled()
        assert not cr.is_grad_enabled()
    assert cr.is_grad_enabled()


# ---------------------------------------------------------------------- graph structure

def test_detach_shares_data_but_cuts_the_graph():
    x = f64([1.0, 2.0])
    h = x * 3.0
    d = h.detach()
    assert d.requires_grad is False and d.grad_fn is None and d.is_leaf
    assert np.shares_memory(d.numpy(), h.numpy())
    (h * d).sum().backward()  # d is a constant: d/dx (3x * d) = 3 d
    np.testing.assert_allclose(x.grad.numpy(), 3 * np.array([3.0, 6.0]))


@pytest.mark.parametrize(
    "build, op",
    [
        (lambda x, y: x * y, "mul"),
        (lambda x, y: x @ y, "matmul"),
        (lambda x, y: x + y, "add"),
        (lambda x, y: x - y, "sub"),
        (lambda x, y: x / y, "div"),
        (lambda x, y: x * 2.0, "mul"),
        (lambda x, y: x.sum(), "sum"),
        (lambda x, y: x.exp(), "exp"),
        (lambda x, y: x.reshape(3, 1), "reshape"),
        (lambda x, y: x[0], "index"),
        (lambda x, y: cr.cat([x, y]), "cat"),
        (lambda x, y: x.softmax(), "softmax"),
        (lambda x, y: x.relu(), "relu"),
    ],
)
def test_grad_fn_op_labels(build, op):
    x, y = f64([1.0, 2.0, 3.0]), f64([4.0, 5.0, 6.0])
    out = build(x, y)
    assert out.grad_fn.op == op
    assert not out.is_leaf and out.requires_grad
    assert x.is_leaf and x.grad_fn is None


def test_results_without_grad_inputs_are_leaves():
    out = cr.ones(3) * cr.ones(3)
    assert out.is_leaf and out.grad_fn is None and not out.requires_grad


def test_requires_grad_underscore():
    x = cr.tensor([1.0, 2.0])
    assert x.requires_grad_() is x and x.requires_grad
    (x * x).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [2.0, 4.0])
    assert x.requires_grad_(False) is x and not x.requires_grad
    y = f64([1.0]) * 2
    with pytest.raises(RuntimeError, match="cannot turn off gradients of a non-leaf"):
        y.requires_grad_(False)


def test_retain_grad_on_an_intermediate():
    a = np.array([1.0, -2.0, 0.5])
    x = f64(a)
    h = x * 2.0
    h.retain_grad()
    y = cr.exp(h)
    y.retain_grad()
    (y * y).sum().backward()
    np.testing.assert_allclose(y.grad.numpy(), 2 * np.exp(2 * a), rtol=1e-12)
    np.testing.assert_allclose(h.grad.numpy(), 2 * np.exp(4 * a), rtol=1e-12)
    np.testing.assert_allclose(x.grad.numpy(), 4 * np.exp(4 * a), rtol=1e-12)
    assert (x * 2).grad is None  # not retained: no grad on intermediates by default


def test_retain_grad_on_tensor_without_grad_raises():
    with pytest.raises(RuntimeError, match="retain_grad: this tensor does not require grad"):
        cr.ones(2).retain_grad()


# ---------------------------------------------------------------------- dtypes and shapes of gradients

@pytest.mark.parametrize(
    "build",
    [
        lambda a, b: a * b,
        lambda a, b: a + b,
        lambda a, b: a / b,
        lambda a, b: a @ b.reshape(3, 1),
        lambda a, b: cr.where(a > 0, a, b),
        lambda a, b: a.double() * b,
    ],
)
def test_float32_leaf_gets_float32_grad_when_mixed_with_float64(build):
    a = cr.tensor([1.0, -2.0, 3.0], requires_grad=True)  # float32
    b = cr.tensor([0.5, 1.5, -1.0], dtype=cr.float64, requires_grad=True)
    out = build(a, b)
    assert out.dtype == np.float64
    out.sum().backward()
    assert a.grad.dtype == np.float32 and a.grad.shape == (3,)
    assert b.grad.dtype == np.float64 and b.grad.shape == (3,)


def test_mixed_precision_grad_values():
    a = cr.tensor([1.0, -2.0], requires_grad=True)
    b = cr.tensor([0.1, 0.7], dtype=cr.float64, requires_grad=True)
    (a * b).sum().backward()
    np.testing.assert_array_equal(a.grad.numpy(), np.array([0.1, 0.7]).astype(np.float32))
    np.testing.assert_array_equal(b.grad.numpy(), np.array([1.0, -2.0]))


@pytest.mark.parametrize(
    "x_shape, y_shape",
    [((4, 3), (3,)), ((4, 3), (1, 3)), ((4, 3), (4, 1)), ((2, 4, 3), (4, 3)), ((2, 1, 3), (4, 1)), ((), (2, 2)),
     ((1,), (5,))],
)
def test_broadcast_leaves_get_grads_of_their_own_shape(x_shape, y_shape):
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal(x_shape), rng.standard_normal(y_shape)
    x, y = f64(a), f64(b)
    out_shape = np.broadcast_shapes(x_shape, y_shape)
    v = rng.standard_normal(out_shape)
    (x * y).backward(gradient=cr.tensor(v))
    assert x.grad.shape == x_shape and y.grad.shape == y_shape
    np.testing.assert_allclose(x.grad.numpy(), _sum_to(v * np.broadcast_to(b, out_shape), x_shape), rtol=1e-12)
    np.testing.assert_allclose(y.grad.numpy(), _sum_to(v * np.broadcast_to(a, out_shape), y_shape), rtol=1e-12)


def _sum_to(g, shape):
    while g.ndim > len(shape):
        g = g.sum(axis=0)
    for axis, size in enumerate(shape):
        if size == 1:
            g = g.sum(axis=axis, keepdims=True)
    return g


def test_bias_gradient_is_the_column_sum():
    rng = np.random.default_rng(1)
    a, v = rng.standard_normal((4, 3)), rng.standard_normal((4, 3))
    x, bias = f64(a), f64([0.1, 0.2, 0.3])
    (x + bias).backward(gradient=cr.tensor(v))
    assert bias.grad.shape == (3,)
    np.testing.assert_allclose(bias.grad.numpy(), v.sum(axis=0), rtol=1e-12)
    np.testing.assert_allclose(x.grad.numpy(), v)


# ---------------------------------------------------------------------- aliasing safety

@pytest.mark.parametrize(
    "build",
    [
        lambda x, y: (x + y).sum(),
        lambda x, y: x + y,
        lambda x, y: (x - y) * 1.0,
        lambda x, y: cr.cat([x, y]).reshape(2, 3),
        lambda x, y: cr.stack([x, y]),
        lambda x, y: x.reshape(3, 1) + y.reshape(3, 1),
        lambda x, y: (x + 0.0) + (y + 0.0),
    ],
)
def test_leaf_grads_never_share_memory(build):
    x, y = f64([1.0, 2.0, 3.0]), f64([4.0, 5.0, 6.0])
    out = build(x, y)
    seed = cr.ones(*out.shape, dtype=cr.float64)
    out.backward(gradient=seed if out.numel() > 1 else None)
    gx, gy = x.grad.numpy(), y.grad.numpy()
    assert not np.shares_memory(gx, gy)
    assert not np.shares_memory(gx, seed.numpy()) and not np.shares_memory(gy, seed.numpy())
    before_y, before_seed = gy.copy(), seed.numpy().copy()
    gx += 100.0
    np.testing.assert_array_equal(y.grad.numpy(), before_y)
    np.testing.assert_array_equal(seed.numpy(), before_seed)


def test_leaf_grad_does_not_alias_user_gradient():
    x = f64([1.0, 2.0])
    g = cr.tensor([1.0, 1.0], dtype=cr.float64)
    (x + 0.0).backward(gradient=g)
    x.grad.numpy()[0] = 50.0
    np.testing.assert_array_equal(g.numpy(), [1.0, 1.0])
    x.backward(gradient=g)  # a leaf as the output
    np.testing.assert_array_equal(g.numpy(), [1.0, 1.0])


def test_leaf_grads_are_writable():
    x = f64([[1.0, 2.0], [3.0, 4.0]])
    x.sum().backward()  # sum's backward is a read-only broadcast view
    x.grad.numpy()[...] += 1.0
    (x.sum() * 2).backward()
    np.testing.assert_allclose(x.grad.numpy(), np.full((2, 2), 4.0))


def test_retained_grad_does_not_alias_leaf_grad():
    x = f64([1.0, 2.0])
    h = x + 0.0
    h.retain_grad()
    h.sum().backward()
    assert not np.shares_memory(h.grad.numpy(), x.grad.numpy())


# ---------------------------------------------------------------------- anomaly detection

def test_detect_anomaly_catches_log_of_zero_in_forward():
    x = cr.tensor([1.0, 0.0, 2.0, 0.0], requires_grad=True)
    with np.errstate(divide="ignore"), detect_anomaly():
        with pytest.raises(AnomalyError, match=r"forward of log produced 2 non-finite value\(s\)"
                                               r".*output of shape \(4,\); input shapes: \(4,\)"):
            cr.log(x)


def test_detect_anomaly_checks_forward_without_grad_too():
    with np.errstate(invalid="ignore"), detect_anomaly():
        with pytest.raises(AnomalyError, match=r"forward of sqrt.*input shapes: \(2, 1\)"):
            cr.sqrt(cr.tensor([[-1.0], [4.0]]))


def test_detect_anomaly_catches_nan_made_only_in_backward():
    x = f64([0.0, 4.0, 9.0])
    with detect_anomaly():
        y = cr.sqrt(x)  # forward is finite: [0, 2, 3]
        np.testing.assert_array_equal(y.numpy(), [0.0, 2.0, 3.0])
        with np.errstate(divide="ignore"), pytest.raises(
            AnomalyError,
            match=r"backward of sqrt produced 1 non-finite value\(s\).*gradient of input 0; input shapes: \(3,\)",
        ):
            y.sum().backward()


def test_detect_anomaly_error_is_a_floating_point_error():
    assert issubclass(AnomalyError, FloatingPointError)


def test_nan_and_inf_pass_silently_outside_detect_anomaly():
    x = f64([0.0, 4.0])
    with np.errstate(divide="ignore"):
        y = cr.log(x)
        assert np.isneginf(y.numpy()[0])
        cr.sqrt(x).sum().backward()
    assert np.isposinf(x.grad.numpy()[0])
    np.testing.assert_allclose(x.grad.numpy()[1], 0.25)


def test_detect_anomaly_restores_state_after_exception():
    with pytest.raises(KeyError):
        with detect_anomaly():
            raise KeyError
    with np.errstate(divide="ignore"):
        cr.log(cr.zeros(2))  # no error: anomaly mode is off again


# ---------------------------------------------------------------------- gradcheck

@pytest.mark.parametrize(
    "fn, shapes",
    [
        (lambda a: (a * a).sum(), [(3,)]),
        (lambda a, b: cr.tanh(a @ b), [(2, 3), (3, 4)]),
        (lambda a, b: a / (b * b + 1.0), [(2, 3), (3,)]),
        (lambda a: cr.log_softmax(a, dim=1), [(3, 4)]),
    ],
)
def test_gradcheck_passes_on_correct_functions(fn, shapes):
    rng = np.random.default_rng(3)
    inputs = [f64(rng.standard_normal(s)) for s in shapes]
    assert gradcheck(fn, *inputs) is True
    assert all(x.grad is None for x in inputs)  # gradcheck leaves .grad as it found it


class WrongSquare(Function):
    """forward a*a with a deliberately wrong backward (grad*a instead of 2*grad*a)."""

    op = "wrong_square"

    def forward(self, a):
        self.a = a
        return a * a

    def backward(self, grad):
        return (grad * self.a,)


class RightSquare(WrongSquare):
    op = "right_square"

    def backward(self, grad):
        return (2 * grad * self.a,)


def test_custom_function_with_right_backward_passes():
    x = f64([0.5, -1.0, 2.0])
    assert gradcheck(lambda t: RightSquare.apply(t), x)
    RightSquare.apply(x).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [1.0, -2.0, 4.0])


def test_gradcheck_reports_a_wrong_backward():
    a = np.array([1.0, 2.0, 3.0])
    x = f64(a)
    with pytest.raises(GradcheckError) as info:
        gradcheck(lambda t: WrongSquare.apply(t), x)
    message = str(info.value)
    # gradcheck weights the outputs by v = standard_normal(shape) from default_rng(0):
    # autodiff gives v*a, the central difference 2*v*a; the worst element is the largest |v*a|.
    v = np.random.default_rng(0).standard_normal(3)
    worst = int(np.argmax(np.abs(v * a) - 1e-3 * np.abs(2 * v * a)))
    assert "gradcheck failed for wrong_square" in message
    assert f"gradient of input 0 at index ({worst},)" in message
    found = re.search(r"autodiff (\S+) vs central difference (\S+) ", message)
    assert found, message
    np.testing.assert_allclose(float(found.group(1)), v[worst] * a[worst], rtol=1e-8)
    np.testing.assert_allclose(float(found.group(2)), 2 * v[worst] * a[worst], rtol=1e-6)
    assert isinstance(info.value, AssertionError)


class WrongMul(Function):
    """forward a*b; the gradient of b is doubled by mistake."""

    op = "wrong_mul"

    def forward(self, a, b):
        self.a, self.b = a, b
        return a * b

    def backward(self, grad):
        return grad * self.b, 2 * grad * self.a


def test_gradcheck_names_the_failing_input_and_its_multi_dim_index():
    rng = np.random.default_rng(5)
    a, b = rng.standard_normal((2, 3)), rng.standard_normal((2, 3))
    x, y = f64(a), f64(b)
    y.grad = f64(np.full((2, 3), 7.0), requires_grad=False)
    with pytest.raises(GradcheckError) as info:
        gradcheck(lambda p, q: WrongMul.apply(p, q), x, y)
    v = np.random.default_rng(0).standard_normal((2, 3))
    worst = np.unravel_index(np.argmax(np.abs(v * a)), (2, 3))
    message = str(info.value)
    assert f"gradcheck failed for wrong_mul: gradient of input 1 at index ({worst[0]}, {worst[1]})" in message
    found = re.search(r"autodiff (\S+) vs central difference (\S+) ", message)
    np.testing.assert_allclose(float(found.group(1)), 2 * v[worst] * a[worst], rtol=1e-8)
    np.testing.assert_allclose(float(found.group(2)), v[worst] * a[worst], rtol=1e-6)
    assert x.grad is None  # gradcheck restores the inputs' .grad
    np.testing.assert_array_equal(y.grad.numpy(), np.full((2, 3), 7.0))
    np.testing.assert_array_equal(x.numpy(), a)  # and their values


def test_gradcheck_rejects_float32_inputs():
    x = cr.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(TypeError, match="gradcheck: input 0 has dtype float32; central differences need float64"):
        gradcheck(lambda t: (t * t).sum(), x)


def test_gradcheck_needs_an_input_requiring_grad():
    with pytest.raises(ValueError, match="no input requires grad"):
        gradcheck(lambda t: t * 2, f64([1.0], requires_grad=False))


# ---------------------------------------------------------------------- walk order, seeds, gradient slots

def test_a_consumer_outside_the_backward_does_not_hold_it_up():
    # h feeds two losses; backward from one must not wait for the other's node
    x = cr.tensor([1.0, 2.0], requires_grad=True)
    h = x * 2
    first = h.sum()
    second = (h * 3).sum()
    first.backward(retain_graph=True)  # h's node is shared: keep it for the second loss
    np.testing.assert_array_equal(x.grad.numpy(), [2.0, 2.0])
    second.backward()
    np.testing.assert_array_equal(x.grad.numpy(), [8.0, 8.0])


def test_interleaved_branches_run_each_node_once_with_its_full_gradient():
    # the branches are recorded interleaved, so creation order is not branch order
    x = cr.tensor([0.5, -1.5], dtype=cr.float64, requires_grad=True)
    a = x * 3
    b = x.exp()
    c = a * b
    d = b + a
    e = (c * d).sum()
    e.backward()
    xv = x.numpy()
    av, bv = 3 * xv, np.exp(xv)
    # e = (a b)(a + b) = a^2 b + a b^2; de/dx = (2 a b + b^2) a' + (a^2 + 2 a b) b'
    expected = (2 * av * bv + bv**2) * 3 + (av**2 + 2 * av * bv) * bv
    np.testing.assert_allclose(x.grad.numpy(), expected, rtol=1e-14)


def test_backward_through_two_freed_producers_reports_the_freed_graph():
    x = cr.tensor([1.0, 2.0], requires_grad=True)
    a, b = x * 2, x * 3
    (a + b).sum().backward()  # frees a's and b's nodes
    with pytest.raises(RuntimeError, match="second time"):
        (a * b).sum().backward()  # both freed producers are queued before either runs


def test_the_implicit_seed_is_shared_and_read_only():
    class WritesIntoItsGradient(Function):
        op = "writes_into_grad"

        def forward(self, a):
            return a.sum()

        def backward(self, grad):
            grad *= 2  # breaks the Function contract: gradients are read-only
            return (grad,)

    x = cr.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(ValueError, match="read-only"):
        WritesIntoItsGradient.apply(x).backward()
    y = cr.tensor([3.0], requires_grad=True)
    (y * 2).sum().backward()
    np.testing.assert_array_equal(y.grad.numpy(), [2.0])
    y.grad.data += 1  # a leaf's own gradient stays writable
    np.testing.assert_array_equal(y.grad.numpy(), [3.0])


class _ScaleIntoSlot(Function):
    """y = 2 a; writes da into a's gradient slot when the engine offers it."""

    op = "scale_into_slot"

    def forward(self, a):
        return 2 * a

    def backward(self, grad):
        slot = cr.autograd.claim_grad_slot(self.parents[0])
        if slot is None:
            return (2 * grad,)
        np.multiply(grad, 2, out=slot)
        return (None,)


def test_claim_grad_slot_writes_in_place_and_later_paths_add_to_it():
    from chainrule.nn import Parameter

    p = Parameter(cr.tensor([1.0, 2.0, 3.0]))
    slot = np.full(3, np.nan, dtype=np.float32)
    p.grad_slot = slot
    assert cr.autograd.claim_grad_slot(p) is None  # only during a backward pass
    (_ScaleIntoSlot.apply(p) + p * 5).sum().backward()
    assert p.grad.data is slot
    np.testing.assert_array_equal(slot, [7.0, 7.0, 7.0])
    (_ScaleIntoSlot.apply(p)).sum().backward()  # .grad is set: accumulate, do not claim
    np.testing.assert_array_equal(p.grad.numpy(), [9.0, 9.0, 9.0])
    plain = cr.tensor([1.0], requires_grad=True)  # no slot: the ordinary path
    _ScaleIntoSlot.apply(plain).sum().backward()
    np.testing.assert_array_equal(plain.grad.numpy(), [2.0])


# ---------------------------------------------------------------------- the fast walk equals the reference walk

_GRAPH_OPS = {
    "add": lambda a, b: a + b,
    "sub_row": lambda a, b: a - b[0],  # broadcasts a row: its gradient is summed back
    "mul": lambda a, b: a * b,
    "matmul": lambda a, b: a @ b.T,
    "tanh": lambda a, b: a.tanh(),
    "relu_plus": lambda a, b: (a + 0.3).relu() + b,
    "sum_keep": lambda a, b: a.sum(dim=1, keepdim=True) * b,
    "softmax": lambda a, b: cr.softmax(a, dim=1),
    "rows": lambda a, b: a[cr.tensor([2, 0, 0, 1])] + b,  # a repeated row index
    "cat_split": lambda a, b: cr.cat([a[:2], b[2:]], dim=0),
}


def _random_graph(seed):
    """A random DAG of ops over four float64 leaves of shape (4, 4): every op takes two
    earlier tensors (often the same one twice, or a leaf reused far downstream)."""
    rng = np.random.default_rng(seed)
    leaves = [f64(rng.standard_normal((4, 4))) for _ in range(4)]
    nodes = list(leaves)
    names = sorted(_GRAPH_OPS)
    for _ in range(int(rng.integers(3, 12))):
        a, b = (nodes[int(i)] for i in rng.integers(0, len(nodes), size=2))
        nodes.append(_GRAPH_OPS[names[int(rng.integers(len(names)))]](a, b))
    loss = sum((node * f64(rng.standard_normal((4, 4)), False)).sum() for node in nodes[4:])
    return leaves, loss


@pytest.mark.parametrize("seed", range(40))
def test_backward_equals_the_reference_walk(seed):
    leaves, loss = _random_graph(seed)
    cr.autograd.reference_backward(loss)
    expected = [leaf.grad.numpy().copy() if leaf.grad is not None else None for leaf in leaves]
    for leaf in leaves:
        leaf.grad = None
    loss.backward()
    for leaf, want in zip(leaves, expected):
        if want is None:
            assert leaf.grad is None
        else:
            np.testing.assert_allclose(leaf.grad.numpy(), want, rtol=1e-12, atol=1e-14)


def test_reference_walk_orders_a_consumer_before_its_producer():
    x = f64([0.5, -1.0])
    a = x * 2          # a is consumed by b and by the output
    b = a.exp()
    y = (a * b).sum()  # dy/dx = 2 (b + a b)
    cr.autograd.reference_backward(y)
    expected = 2 * (np.exp([1.0, -2.0]) * (1 + np.array([1.0, -2.0])))
    np.testing.assert_allclose(x.grad.numpy(), expected, rtol=1e-14)
