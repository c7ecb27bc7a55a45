"""The fused Linear [ReLU] chain (chainrule.nn.fused.linear_chain) and how nn.Sequential / nn.MLP
use it: gradient checks of the op (biases or not, ReLU or not, 1-D, 2-D and 3-D and
non-contiguous inputs, frozen layers), equality with the unfused layers, one graph node
per run, the fallbacks (instance-level forward, mismatched sizes, bad input: the layers'
own errors), plans that follow changes to the modules, and training with the optimizer's
gradient slots against an optimizer without them."""
from __future__ import annotations

import copy

import numpy as np
import pytest
from conftest import check_grad, leaf, make_leaf

import chainrule as cr
import chainrule.nn.functional as F
from chainrule import nn, optim
from chainrule.nn.fused import linear_chain


def values(shape, seed, low=-2.0, high=2.0):
    return np.random.default_rng(seed).uniform(low, high, shape)


def params_for(sizes, biases, seed=0):
    """float64 leaves W_i (out, in) and b_i (out,) for the given sizes."""
    tensors = []
    for i, (fan_in, fan_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        tensors.append(leaf(values((fan_out, fan_in), seed + 2 * i, -1, 1)))
        if biases[i]:
            tensors.append(leaf(values((fan_out,), seed + 2 * i + 1, -1, 1)))
    return tensors


def unfused(x, params, layout):
    """The same computation from separate linear and relu nodes."""
    k = 0
    for has_bias, relu in layout:
        weight = params[k]
        bias = params[k + 1] if has_bias else None
        k += 2 if has_bias else 1
        x = F.linear(x, weight, bias)
        if relu:
            x = x.relu()
    return x


LAYOUTS = {  # name: (layout, layer sizes)
    "mlp": (((True, True), (True, True), (True, False)), [3, 4, 5, 2]),
    "no-bias": (((False, True), (True, False), (False, True)), [3, 4, 5, 2]),
    "linear-linear": (((True, False), (True, False)), [3, 4, 5]),
    "one-layer-relu": (((True, True),), [3, 4]),
    "one-output": (((True, True), (True, False)), [3, 4, 1]),  # dx of the last layer: an outer product
}


@pytest.mark.parametrize("name", sorted(LAYOUTS))
@pytest.mark.parametrize("x_shape", [(5, 3), (3,), (2, 4, 3)], ids=["batch", "single", "3-d"])
@pytest.mark.parametrize("layout_kind", ["contiguous", "noncontiguous"])
def test_chain_gradcheck(name, x_shape, layout_kind):
    layout, sizes = LAYOUTS[name]
    params = params_for(sizes, [b for b, _ in layout], seed=7)
    x = make_leaf(values(x_shape, 1), layout_kind)
    check_grad(lambda *ts: linear_chain.LinearChain.apply(*ts, layout=layout), x, *params)


@pytest.mark.parametrize("name", sorted(LAYOUTS))
def test_chain_equals_the_unfused_layers(name):
    layout, sizes = LAYOUTS[name]
    fused_params = params_for(sizes, [b for b, _ in layout], seed=3)
    plain_params = params_for(sizes, [b for b, _ in layout], seed=3)
    x_fused, x_plain = leaf(values((6, 3), 2)), leaf(values((6, 3), 2))
    out = linear_chain.LinearChain.apply(x_fused, *fused_params, layout=layout)
    ref = unfused(x_plain, plain_params, layout)
    np.testing.assert_allclose(out.numpy(), ref.numpy(), rtol=1e-14, atol=1e-15)
    g = values(out.shape, 9)
    out.backward(cr.tensor(g, dtype=cr.float64))
    ref.backward(cr.tensor(g, dtype=cr.float64))
    for ours, theirs in zip([x_fused, *fused_params], [x_plain, *plain_params]):
        np.testing.assert_allclose(ours.grad.numpy(), theirs.grad.numpy(), rtol=1e-13, atol=1e-15)


def test_chain_stops_at_the_lowest_input_that_needs_a_gradient():
    layout, sizes = LAYOUTS["mlp"]
    params = params_for(sizes, [True] * 3, seed=4)
    for p in params[:2]:  # the first layer is frozen
        p.requires_grad_(False)
    x = leaf(values((6, 3), 5), requires_grad=False)
    out = linear_chain.LinearChain.apply(x, *params, layout=layout)
    assert out.grad_fn.needs_input_grad == (False, False, False, True, True, True, True)
    grads = out.grad_fn.backward(np.ones((6, 2)))
    assert grads[:3] == (None, None, None)
    assert [g.shape for g in grads[3:]] == [(5, 4), (5,), (2, 5), (2,)]
    check_grad(lambda *ts: linear_chain.LinearChain.apply(x, params[0], params[1], *ts, layout=layout), *params[2:])


def test_mlp_records_one_node_with_every_parameter():
    cr.manual_seed(0)
    model = nn.MLP([4, 8, 8, 2], dtype=cr.float64)
    x = leaf(values((5, 4), 1))
    out = model(x)
    assert out.grad_fn.op == "linear_chain"
    assert out.grad_fn.parents == (x, *model.parameters())
    seq = nn.Sequential(nn.Linear(4, 3), nn.ReLU(), nn.Linear(3, 2), nn.ReLU())
    assert seq(cr.randn(2, 4)).grad_fn.op == "linear_chain"


@pytest.mark.parametrize("dtype", [cr.float32, cr.float64])
def test_sequential_equals_its_layers_called_one_by_one(dtype):
    cr.manual_seed(1)
    model = nn.MLP([5, 7, 6, 3], dtype=dtype)
    x = cr.tensor(values((9, 5), 2), dtype=dtype, requires_grad=True)
    x_plain = cr.tensor(values((9, 5), 2), dtype=dtype, requires_grad=True)
    out = model(x)
    h = x_plain
    for layer in model.layers:
        h = layer.forward(h)  # each module's own forward: linear and relu nodes
    assert h.grad_fn.op == "linear"
    np.testing.assert_array_equal(out.numpy(), h.numpy())
    fused = [g.copy() for g in _grads(out, [x, *model.parameters()])]
    plain = _grads(h, [x_plain, *model.parameters()])
    for a, b in zip(fused, plain):
        np.testing.assert_allclose(a, b, rtol=1e-6 if dtype == cr.float32 else 1e-13, atol=1e-7)


def _grads(out, tensors):
    for t in tensors:
        t.grad = None
    out.sum().backward()
    return [t.grad.numpy().copy() for t in tensors]


def test_a_layer_used_twice_gets_the_sum_of_both_gradients():
    cr.manual_seed(2)
    shared = nn.Linear(4, 4, dtype=cr.float64)
    model = nn.Sequential(shared, nn.ReLU(), shared, nn.ReLU(), nn.Linear(4, 1, dtype=cr.float64))
    opt = optim.SGD(model.parameters(), lr=0.1)  # gradient slots: claimed once, then added to
    x = leaf(values((6, 4), 3), requires_grad=False)
    out = model(x)
    assert out.grad_fn.op == "linear_chain" and len(out.grad_fn.parents) == 7
    opt.zero_grad()
    out.sum().backward()
    w, b = shared.weight.numpy(), shared.bias.numpy()
    h1 = np.maximum(x.numpy() @ w.T + b, 0)
    h2 = np.maximum(h1 @ w.T + b, 0)
    g2 = np.ones((6, 1)) @ model[4].weight.numpy() * (h2 > 0)
    g1 = (g2 @ w) * (h1 > 0)
    np.testing.assert_allclose(shared.weight.grad.numpy(), g2.T @ h1 + g1.T @ x.numpy(), rtol=1e-13)
    np.testing.assert_allclose(shared.bias.grad.numpy(), g2.sum(0) + g1.sum(0), rtol=1e-13)
    assert shared.weight.grad.data is shared.weight.grad_slot


def test_retain_graph_accumulates_and_no_grad_records_nothing():
    cr.manual_seed(3)
    model = nn.MLP([3, 4, 1], dtype=cr.float64)
    x = leaf(values((5, 3), 4), requires_grad=False)
    loss = model(x).sum()
    loss.backward(retain_graph=True)
    once = model.layers[0].weight.grad.numpy().copy()
    loss.backward()
    np.testing.assert_allclose(model.layers[0].weight.grad.numpy(), 2 * once, rtol=1e-14)
    with pytest.raises(RuntimeError, match="second time"):
        loss.backward()
    with cr.no_grad():
        out = model(x)
    assert out.grad_fn is None and not out.requires_grad


def test_an_instance_level_forward_runs_the_layers_one_by_one():
    cr.manual_seed(4)
    model = nn.MLP([3, 4, 2])
    seen = []
    layer = model.layers[0]
    original = type(layer).forward

    def observed(x):
        seen.append(x.shape)
        return original(layer, x)

    object.__setattr__(layer, "forward", observed)
    out = model(cr.randn(5, 3))
    assert seen == [(5, 3)] and out.grad_fn.op == "linear"
    del layer.__dict__["forward"]
    assert model(cr.randn(5, 3)).grad_fn.op == "linear_chain"


def test_bad_input_raises_the_linear_layers_own_errors():
    model = nn.MLP([3, 4, 2])
    with pytest.raises(ValueError,
                       match=r"^Linear: expected input with last dimension 3 \(in_features\); got shape \(5, 2\)$"):
        model(cr.zeros(5, 2))
    with pytest.raises(TypeError, match=r"^Linear: input has dtype float64 but the weights have dtype float32"):
        model(cr.zeros(5, 3, dtype=cr.float64))
    with pytest.raises(TypeError, match=r"^Linear: expected a Tensor input; got ndarray"):
        model(np.zeros((5, 3), dtype=np.float32))
    mismatched = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(5, 2))
    with pytest.raises(ValueError,
                       match=r"^Linear: expected input with last dimension 5 \(in_features\); got shape \(2, 4\)$"):
        mismatched(cr.zeros(2, 3))


def test_the_plan_follows_changes_to_the_modules():
    cr.manual_seed(5)
    seq = nn.Sequential(nn.Linear(3, 4), nn.ReLU())
    x = cr.randn(2, 3)
    assert len(seq(x).grad_fn.parents) == 3
    seq.append(nn.Linear(4, 2))
    out = seq(x)
    assert out.grad_fn.op == "linear_chain" and len(out.grad_fn.parents) == 5
    seq[2].register_parameter("bias", None)  # a parameter removed: read at every call
    assert len(seq(x).grad_fn.parents) == 4
    seq.append(nn.Dropout(0.5))
    seq.eval()
    np.testing.assert_array_equal(seq(x).numpy(), seq[:3](x).numpy())


def test_a_deep_copy_computes_with_its_own_parameters():
    cr.manual_seed(6)
    model = nn.MLP([3, 4, 2])
    x = cr.randn(5, 3)
    before = model(x).numpy().copy()
    clone = copy.deepcopy(model)
    with cr.no_grad():
        clone.layers[0].weight.data[...] = 0
    np.testing.assert_array_equal(model(x).numpy(), before)
    assert not np.array_equal(clone(x).numpy(), before)


def test_training_with_gradient_slots_equals_training_without_them():
    cr.manual_seed(7)
    flat_model = nn.MLP([6, 8, 8, 1])
    own_model = copy.deepcopy(flat_model)
    flat_opt = optim.SGD(flat_model.parameters(), lr=0.05, momentum=0.9)
    own_opt = optim.SGD(own_model.parameters(), lr=0.05, momentum=0.9, flatten=False)
    rng = np.random.default_rng(0)
    for _ in range(5):
        x = cr.tensor(rng.standard_normal((16, 6)).astype(np.float32))
        y = cr.tensor(rng.standard_normal((16, 1)).astype(np.float32))
        for model, opt in ((flat_model, flat_opt), (own_model, own_opt)):
            opt.zero_grad()
            F.mse_loss(model(x), y).backward()
            opt.step()
        assert all(p.grad.data is p.grad_slot for p in flat_model.parameters())
    for a, b in zip(flat_model.parameters(), own_model.parameters()):
        np.testing.assert_array_equal(a.numpy(), b.numpy())


@pytest.mark.parametrize("x_shape", [(5, 3), (3,), (2, 4, 3)], ids=["batch", "single", "3-d"])
def test_linear_with_one_output_gradcheck(x_shape):
    # dx = G W is an outer product here, computed as a broadcast product
    weight, bias = leaf(values((1, 3), 11, -1, 1)), leaf(values((1,), 12, -1, 1))
    x = make_leaf(values(x_shape, 13), "noncontiguous")
    check_grad(lambda *ts: F.linear(*ts), x, weight, bias)
