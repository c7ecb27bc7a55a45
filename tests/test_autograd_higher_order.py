"""autograd.grad, create_graph (gradients of gradients), autograd.functional and gradient
hooks, against closed forms and PyTorch."""
from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
from chainrule.autograd import Function, functional

torch = pytest.importorskip("torch")
RNG = np.random.default_rng(0)


def f64(values, requires_grad=True):
    return cr.tensor(np.asarray(values, dtype=np.float64), requires_grad=requires_grad)


# ---------------------------------------------------------------------- autograd.grad

def test_grad_of_non_leaf_inputs_and_several_outputs_matches_torch():
    x_values = RNG.standard_normal(4)

    def program(lib, x):
        h = (x * 2).tanh() if lib is cr else torch.tanh(x * 2)
        a, b = (h * h).sum(), (h * x).sum()
        return h, a, b

    x = f64(x_values)
    h, a, b = program(cr, x)
    ours = cr.autograd.grad([a, b], [h, x], grad_outputs=[f64(2.0, False), f64(-1.0, False)])
    tx = torch.tensor(x_values, requires_grad=True)
    th, ta, tb = program(torch, tx)
    theirs = torch.autograd.grad([ta, tb], [th, tx], grad_outputs=[torch.tensor(2.0), torch.tensor(-1.0)])
    for o, t in zip(ours, theirs):
        np.testing.assert_allclose(o.numpy(), t.numpy(), rtol=1e-12)
    assert x.grad is None  # grad never touches .grad


def test_grad_allow_unused_and_its_error():
    x, y = f64([1.0, 2.0]), f64([3.0])
    out = (x * x).sum()
    with pytest.raises(RuntimeError, match=r"inputs\[1\] \(shape \(1,\)\) was not used"):
        cr.autograd.grad(out, [x, y], retain_graph=True)
    gx, gy = cr.autograd.grad(out, [x, y], allow_unused=True)
    np.testing.assert_allclose(gx.numpy(), [2.0, 4.0])
    assert gy is None


class _Counted(Function):
    op = "counted"
    calls = 0

    def forward(self, a):
        return a * 1.0

    def backward(self, grad):
        type(self).calls += 1
        return (grad,)


def test_grad_runs_only_the_nodes_that_lead_to_the_inputs():
    x, y = f64([1.0, 2.0]), f64([3.0, 4.0])
    _Counted.calls = 0
    out = (_Counted.apply(y) * 2).sum() + (x * x).sum()
    (gx,) = cr.autograd.grad(out, x)
    np.testing.assert_allclose(gx.numpy(), [2.0, 4.0])
    assert _Counted.calls == 0


def test_second_and_third_derivatives_of_a_scalar_function():
    x = f64([0.3, -1.2, 2.0])
    y = (x ** 4).sum() + (x.sin() * x).sum()
    (g,) = cr.autograd.grad(y, x, create_graph=True)
    (h_diag,) = cr.autograd.grad(g.sum(), x, create_graph=True)
    (third,) = cr.autograd.grad(h_diag.sum(), x)
    a = x.numpy()
    np.testing.assert_allclose(g.numpy(), 4 * a ** 3 + np.cos(a) * a + np.sin(a), rtol=1e-12)
    np.testing.assert_allclose(h_diag.numpy(), 12 * a ** 2 - np.sin(a) * a + 2 * np.cos(a), rtol=1e-12)
    np.testing.assert_allclose(third.numpy(), 24 * a - np.cos(a) * a - 3 * np.sin(a), rtol=1e-12)


def test_backward_create_graph_leaves_differentiable_grads_and_inputs_limits_accumulation():
    x, w = f64([1.0, -2.0]), f64([0.5, 3.0])
    loss = (x * x * w).sum()
    loss.backward(create_graph=True)
    assert x.grad.requires_grad and x.grad.grad_fn is not None
    np.testing.assert_allclose(x.grad.numpy(), 2 * np.array([1.0, -2.0]) * np.array([0.5, 3.0]))
    gradient_norm = (x.grad * x.grad).sum()
    x.grad, w.grad = None, None
    gradient_norm.backward(inputs=[w])
    assert x.grad is None  # inputs=[w]: only w accumulates
    np.testing.assert_allclose(w.grad.numpy(), 2 * (2 * np.array([1.0, -2.0])) ** 2 * np.array([0.5, 3.0]))


# ---------------------------------------------------------------------- autograd.functional

def _least_squares(X, y):
    return lambda b: ((X @ b - y) ** 2).mean() / 2


def test_hvp_and_hessian_of_least_squares_equal_x_x_over_n():
    X = cr.tensor(RNG.standard_normal((30, 4)), dtype=cr.float64)
    y = cr.tensor(RNG.standard_normal(30), dtype=cr.float64)
    b, v = f64(RNG.standard_normal(4), False), f64(RNG.standard_normal(4), False)
    expected = X.numpy().T @ X.numpy() / 30
    np.testing.assert_allclose(functional.hessian(_least_squares(X, y), b).numpy(), expected, atol=1e-10)
    np.testing.assert_allclose(functional.hvp(_least_squares(X, y), b, v)[1].numpy(), expected @ v.numpy(),
                               atol=1e-10)
    np.testing.assert_allclose(functional.vhp(_least_squares(X, y), b, v)[1].numpy(), v.numpy() @ expected,
                               atol=1e-10)


def test_hvp_and_hessian_of_logistic_regression_equal_x_w_x_over_n():
    Xv = RNG.standard_normal((40, 3))
    yv = (RNG.random(40) < 0.5).astype(np.float64)
    X, y = cr.tensor(Xv, dtype=cr.float64), cr.tensor(yv, dtype=cr.float64)
    b, v = f64(RNG.standard_normal(3) * 0.5, False), f64(RNG.standard_normal(3), False)

    def loss(b):
        return cr.nn.functional.binary_cross_entropy_with_logits(X @ b, y)

    p = 1 / (1 + np.exp(-(Xv @ b.numpy())))
    expected = Xv.T @ (Xv * (p * (1 - p))[:, None]) / 40
    np.testing.assert_allclose(functional.hessian(loss, b).numpy(), expected, atol=1e-10)
    np.testing.assert_allclose(functional.hvp(loss, b, v)[1].numpy(), expected @ v.numpy(), atol=1e-10)


def test_logistic_hessian_at_zero_is_x_x_over_4n():
    # every p_i (1 - p_i) = 1/4 at b = 0: the logits sit exactly on softplus's kink-free point
    Xv = RNG.standard_normal((25, 3))
    X, y = cr.tensor(Xv, dtype=cr.float64), cr.tensor((RNG.random(25) < 0.5).astype(np.float64), dtype=cr.float64)
    hess = functional.hessian(lambda b: cr.nn.functional.binary_cross_entropy_with_logits(X @ b, y), f64(np.zeros(3)))
    np.testing.assert_allclose(hess.numpy(), Xv.T @ Xv / (4 * 25), atol=1e-12)


def _scalar_cr(x, w):
    return ((x * w).tanh() * x).sum() + (w.exp() * x).sum() ** 2


def _scalar_torch(x, w):
    return (torch.tanh(x * w) * x).sum() + (torch.exp(w) * x).sum() ** 2


def _vector_cr(x, w):
    return (x * w).sin(), x.exp() * w.sum()


def _vector_torch(x, w):
    return torch.sin(x * w), torch.exp(x) * w.sum()


@pytest.mark.parametrize("name", ["vjp", "jvp", "jacobian", "hvp", "vhp", "hessian"])
def test_functional_matches_torch_on_tuple_inputs(name):
    xv, wv, av, bv = (RNG.standard_normal(3) for _ in range(4))
    ours_in, theirs_in = (f64(xv, False), f64(wv, False)), (torch.tensor(xv), torch.tensor(wv))
    ours_v, theirs_v = (f64(av, False), f64(bv, False)), (torch.tensor(av), torch.tensor(bv))
    scalar = name in ("hvp", "vhp", "hessian")
    f_ours, f_theirs = (_scalar_cr, _scalar_torch) if scalar else (_vector_cr, _vector_torch)
    if name in ("jacobian", "hessian"):
        ours = getattr(functional, name)(f_ours, ours_in)
        theirs = getattr(torch.autograd.functional, name)(f_theirs, theirs_in)
    else:
        ours = getattr(functional, name)(f_ours, ours_in, ours_v)
        theirs = getattr(torch.autograd.functional, name)(f_theirs, theirs_in, theirs_v)
    _assert_nested_close(ours, theirs)


def _assert_nested_close(ours, theirs):
    if isinstance(theirs, (tuple, list)):
        assert isinstance(ours, (tuple, list)) and len(ours) == len(theirs)
        for o, t in zip(ours, theirs):
            _assert_nested_close(o, t)
        return
    np.testing.assert_allclose(ours.numpy(), theirs.detach().numpy(), rtol=1e-10, atol=1e-12)


def test_functional_create_graph_and_strict():
    x = f64([0.5, 1.5])
    hess = functional.hessian(lambda x: (x ** 3).sum(), x, create_graph=True)
    (third,) = cr.autograd.grad(hess.sum(), x)
    np.testing.assert_allclose(third.numpy(), [6.0, 6.0])
    with pytest.raises(RuntimeError, match="independent of input 1; this is not allowed in strict mode"):
        functional.vjp(lambda a, b: a * 2, (f64([1.0], False), f64([2.0], False)), f64([1.0], False), strict=True)
    _, (ga, gb) = functional.vjp(lambda a, b: a * 2, (f64([1.0], False), f64([2.0], False)), f64([1.0], False))
    assert gb.numpy().tolist() == [0.0]
    with pytest.raises(RuntimeError, match="hessian: the function must return a single-element tensor"):
        functional.hessian(lambda x: x * 2, f64([1.0, 2.0], False))


# ---------------------------------------------------------------------- hooks

def test_tensor_hooks_fire_in_torch_order_and_may_replace_the_gradient():
    def program(lib, tensor):
        x = tensor([1.0, -2.0, 3.0], requires_grad=True)
        events = []
        y = x * 2
        z = y.exp() if lib is cr else torch.exp(y)
        handle = y.register_hook(lambda g: events.append(("y first", g.sum().item())))
        y.register_hook(lambda g: g * 10)
        y.register_hook(lambda g: events.append(("y after", g.sum().item())))
        x.register_hook(lambda g: events.append(("x", g.sum().item())))
        z.register_hook(lambda g: events.append(("z", g.sum().item())))
        z.sum().backward(retain_graph=True)
        handle.remove()
        x.grad = None
        events.append("second pass")
        z.sum().backward()
        return events, x.grad

    ours, ours_grad = program(cr, cr.tensor)
    theirs, theirs_grad = program(torch, lambda v, requires_grad: torch.tensor(v, dtype=torch.float32,
                                                                                requires_grad=requires_grad))
    assert [e if isinstance(e, str) else e[0] for e in ours] == [e if isinstance(e, str) else e[0] for e in theirs]
    np.testing.assert_allclose([e[1] for e in ours if not isinstance(e, str)],
                               [e[1] for e in theirs if not isinstance(e, str)], rtol=1e-5)
    np.testing.assert_allclose(ours_grad.numpy(), theirs_grad.numpy(), rtol=1e-5)


def test_leaf_hooks_also_see_gradients_written_by_fused_layers():
    cr.manual_seed(0)
    model = cr.nn.MLP([3, 4, 2])
    cr.optim.SGD(model.parameters(), lr=0.1)  # flat buffers: the fused chain would write into slots
    weight = model.layers[0].weight
    seen = []
    weight.register_hook(lambda g: seen.append(g.numpy().copy()) or g * 0)
    model(cr.randn(5, 3)).sum().backward()
    assert len(seen) == 1 and seen[0].shape == (4, 3) and np.any(seen[0])
    np.testing.assert_array_equal(weight.grad.numpy(), 0)  # the hook's replacement was stored


def test_hook_errors():
    with pytest.raises(RuntimeError, match="register_hook: cannot register a hook on a tensor that does not require"):
        cr.ones(2).register_hook(lambda g: g)
    x = f64([1.0, 2.0])
    y = x * 3
    y.register_hook(lambda g: cr.ones(3, dtype=cr.float64))
    with pytest.raises(RuntimeError, match=r"a gradient hook returned a gradient of shape \(3,\) for a tensor"):
        y.sum().backward()
