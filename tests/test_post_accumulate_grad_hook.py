"""Tensor.register_post_accumulate_grad_hook against torch (≥ 2.1): when it fires relative to
other leaves, the ``.grad`` it sees, accumulation over passes, retain_graph, leaves used
several times, removal, ``register_hook`` hooks, the errors; and that the backward walk that
tracks leaves gives the plain walk's gradients."""
from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr

torch = pytest.importorskip("torch")


def _leaves(lib, *values):
    return [lib.tensor(np.asarray(v, dtype=np.float64), requires_grad=True) for v in values]


def _record(log, named, pre=False):
    handles = []
    for name, t in named:
        if pre:
            t.register_hook(lambda g, name=name: log.append(("pre", name, g.detach().numpy().tolist())))
        handles.append(t.register_post_accumulate_grad_hook(
            lambda p, name=name: log.append(("post", name, p.grad.detach().numpy().tolist()))))
    return handles


# each scenario: lib -> the log of hook calls (same code for chainrule and torch)

def _leaves_used_several_times(lib):
    a, b, c = _leaves(lib, [1.0, 2.0], [3.0, -1.0], [0.5, 4.0])
    log = []
    _record(log, [("a", a), ("b", b), ("c", c)], pre=True)
    ((a.exp() * b).sum() + (b * c * a).sum() + (c * c).sum()).backward()
    return log


def _matmul_mlp(lib):
    rng = np.random.default_rng(0)
    w1, b1, w2, b2 = _leaves(lib, rng.normal(size=(3, 4)), rng.normal(size=4), rng.normal(size=(4, 2)),
                             rng.normal(size=2))
    x = lib.tensor(rng.normal(size=(5, 3)))
    log = []
    _record(log, [("w1", w1), ("b1", b1), ("w2", w2), ("b2", b2)])
    (((x @ w1 + b1).relu() @ w2 + b2) ** 2).sum().backward()
    return log


def _two_passes_accumulate(lib):
    a, b = _leaves(lib, [1.0, 2.0, 3.0], [2.0, 0.5, -1.0])
    log = []
    _record(log, [("a", a), ("b", b)])
    (a.exp() * b).sum().backward()
    (a * a.sin() * b).sum().backward()
    return log


def _retain_graph(lib):
    a, b = _leaves(lib, [1.0, -2.0], [3.0, 4.0])
    log = []
    _record(log, [("a", a), ("b", b)])
    y = (a.exp() * b).sum()
    y.backward(retain_graph=True)
    y.backward()
    return log


def _removed(lib):
    a, b = _leaves(lib, [1.0, 2.0], [3.0, 4.0])
    log = []
    handle_a, _ = _record(log, [("a", a), ("b", b)])
    (a.exp() * b).sum().backward()
    handle_a.remove()
    handle_a.remove()  # twice: harmless
    (a.exp() * b).sum().backward()
    return log


def _pre_hook_replaces_the_gradient(lib):
    a, b = _leaves(lib, [1.0, 2.0], [3.0, 4.0])
    log = []
    a.register_hook(lambda g: g * 10)
    _record(log, [("a", a), ("b", b)], pre=True)
    (a.exp() * b + b).sum().backward()
    return log


def _leaf_is_the_output(lib):
    (a,) = _leaves(lib, [1.0, 2.0])
    log = []
    _record(log, [("a", a)])
    a.backward(lib.tensor(np.array([3.0, 4.0])))
    return log


def _several_hooks_in_order(lib):
    (a,) = _leaves(lib, [1.0])
    log = []
    for k in range(3):
        a.register_post_accumulate_grad_hook(lambda p, k=k: log.append(k))
    (a * 2).sum().backward()
    return log


def _create_graph(lib):
    a, b = _leaves(lib, [1.0, 2.0], [3.0, 4.0])
    log = []
    _record(log, [("a", a), ("b", b)])
    (a * a * b).sum().backward(create_graph=True)
    return log


def _hook_not_reached(lib):
    a, b = _leaves(lib, [1.0, 2.0], [3.0, 4.0])
    log = []
    _record(log, [("a", a), ("b", b)])
    (a * 3).sum().backward()
    return log


SCENARIOS = [_leaves_used_several_times, _matmul_mlp, _two_passes_accumulate, _retain_graph, _removed,
             _pre_hook_replaces_the_gradient, _leaf_is_the_output, _several_hooks_in_order, _create_graph,
             _hook_not_reached]


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda f: f.__name__.strip("_"))
def test_hook_calls_match_torch(scenario):
    ours, theirs = scenario(cr), scenario(torch)
    assert len(ours) == len(theirs)
    for got, want in zip(ours, theirs):
        if isinstance(want, tuple):
            assert got[:2] == want[:2]
            np.testing.assert_allclose(got[2], want[2], rtol=1e-12)
        else:
            assert got == want


def _linear_model(lib, nn, optimizer):
    """Two Linear layers (chainrule fuses them into one node) with deterministic weights."""
    model = nn.Sequential(nn.Linear(4, 5), nn.ReLU(), nn.Linear(5, 3))
    with lib.no_grad():
        for i, p in enumerate(model.parameters()):
            p.copy_(lib.tensor(np.random.default_rng(i).normal(size=tuple(p.shape))))
    model = model.double() if hasattr(model, "double") else model
    log = []
    for name, p in model.named_parameters():
        p.register_post_accumulate_grad_hook(lambda p, name=name: log.append((name, p.grad.detach().numpy().copy())))
    x = lib.tensor(np.random.default_rng(9).normal(size=(6, 4)))
    opt = optimizer(model.parameters()) if optimizer is not None else None
    for _ in range(2):
        if opt is not None:
            opt.zero_grad()
        model(x).pow(2).sum().backward()
        if opt is not None:
            opt.step()
    return log


def test_leaves_one_node_completes_together_fire_in_reverse_input_order():
    """(torch breaks this tie by its ready queue's heap order; for a linear layer, bias then
    weight, which is what the reverse input order gives for chainrule's one-node linear.)"""
    a, b, c = _leaves(cr, [1.0], [2.0], [3.0])
    log = []
    _record(log, [("a", a), ("b", b), ("c", c)])
    cr.lerp(a, b, c).sum().backward()
    assert [(name, grad) for _, name, grad in log] == [("c", [1.0]), ("b", [3.0]), ("a", [-2.0])]


def test_linear_layers_fire_bias_then_weight_from_the_last_layer_like_torch():
    ours = _linear_model(cr, cr.nn, None)
    theirs = _linear_model(torch, torch.nn, None)
    assert [name for name, _ in ours] == [name for name, _ in theirs]
    assert [name for name, _ in ours][:4] == ["2.bias", "2.weight", "0.bias", "0.weight"]
    for (_, got), (_, want) in zip(ours, theirs):
        np.testing.assert_allclose(got, want, rtol=1e-10)


def test_with_gradient_slots_each_parameter_fires_once_its_slot_is_written():
    """An optimizer with a flat gradient buffer: the fused node writes the last layer first,
    and each parameter's hook fires once its slot is written (weight, then bias) with the
    value torch accumulates."""
    ours = _linear_model(cr, cr.nn, lambda ps: cr.optim.Adam(ps, lr=0.1))
    theirs = dict()
    for name, grad in _linear_model(torch, torch.nn, lambda ps: torch.optim.Adam(ps, lr=0.1)):
        theirs.setdefault(name, []).append(grad)
    assert [name for name, _ in ours] == ["2.weight", "2.bias", "0.weight", "0.bias"] * 2
    seen = {}
    for name, grad in ours:
        seen.setdefault(name, []).append(grad)
    for name, grads in seen.items():
        for got, want in zip(grads, theirs[name]):
            np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-12)


def test_hook_runs_inside_the_fused_node_before_it_finishes():
    """The first layer's weight gradient is not written yet when the last layer's weight fires."""
    model = cr.nn.Sequential(cr.nn.Linear(4, 5), cr.nn.ReLU(), cr.nn.Linear(5, 3))
    cr.optim.SGD(model.parameters(), lr=0.1)  # gives the parameters gradient slots
    first = model[0].weight
    seen = []
    model[2].weight.register_post_accumulate_grad_hook(lambda p: seen.append(first.grad is None))
    model(cr.randn(6, 4)).sum().backward()
    assert seen == [True] and first.grad is not None


def test_tracked_walk_gives_the_plain_walks_gradients():
    rng = np.random.default_rng(3)
    values = [rng.normal(size=(3, 4)), rng.normal(size=4), rng.normal(size=(4, 2))]

    def grads(hook):
        w, b, v = (cr.tensor(a, requires_grad=True) for a in values)
        if hook:
            b.register_post_accumulate_grad_hook(lambda p: None)
        x = cr.tensor(rng.normal(size=(5, 3)) if False else np.ones((5, 3)))
        h = (x @ w + b).tanh()
        ((h @ v) * (h @ v).sigmoid() + (w * w).sum()).sum().backward()
        return [t.grad.numpy() for t in (w, b, v)]

    for got, want in zip(grads(True), grads(False)):
        np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("make, error, match", [
    (lambda: (cr.ones(2, requires_grad=True) * 2), RuntimeError, "cannot be registered on non-leaf tensors"),
    (lambda: cr.ones(2), RuntimeError, "cannot register a hook on a tensor that doesn't require gradient"),
])
def test_registration_errors_match_torch(make, error, match):
    with pytest.raises(error, match=match):
        make().register_post_accumulate_grad_hook(lambda p: None)


def test_a_hook_must_be_callable_and_return_none():
    a = cr.ones(2, requires_grad=True)
    with pytest.raises(TypeError, match="expected a callable"):
        a.register_post_accumulate_grad_hook(5)
    a.register_post_accumulate_grad_hook(lambda p: 3)
    with pytest.raises(TypeError, match="must return None; got int"):
        (a * 2).sum().backward()


def test_removing_every_hook_returns_backward_to_the_plain_walk():
    from chainrule.engine.autograd import hooks

    before = hooks.post_hooks_used
    a = cr.ones(2, requires_grad=True)
    handles = [a.register_post_accumulate_grad_hook(lambda p: None) for _ in range(2)]
    assert hooks.post_hooks_used
    for handle in handles:
        handle.remove()
    assert hooks.post_hooks_used == before


def test_a_collected_tensors_hooks_stop_counting():
    import gc

    from chainrule.engine.autograd import hooks

    gc.collect()  # hooked tensors left unreachable by earlier tests die now, not inside the count below
    before = hooks._post_hooks_live[0]
    a = cr.ones(2, requires_grad=True)
    a.register_post_accumulate_grad_hook(lambda p: None)
    handle = a.register_post_accumulate_grad_hook(lambda p: None)
    assert hooks._post_hooks_live[0] == before + 2 and hooks.post_hooks_used
    del a
    gc.collect()
    assert hooks._post_hooks_live[0] == before
    handle.remove()  # after the tensor's death: nothing left to remove
    assert hooks._post_hooks_live[0] == before
