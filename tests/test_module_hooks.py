"""Module hooks (chainrule.nn.module_hooks) against torch.nn.Module's: the order in which forward
pre-hooks, forward hooks, full backward pre-hooks and full backward hooks fire on a model with
nested modules, the values they see, what they may replace, removal, and the linear-chain
fusion stepping aside for hooked modules."""
from __future__ import annotations

import copy

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn
from chainrule.nn import module as module_module

torch = pytest.importorskip("torch")


# ---------------------------------------------------------------------- twin models

def build(lib):
    """The same nested model in chainrule (lib = nn) or torch (lib = torch.nn)."""

    class Net(lib.Module):
        def __init__(self):
            super().__init__()
            self.body = lib.Sequential(lib.Linear(3, 5), lib.ReLU(), lib.Sequential(lib.Linear(5, 5), lib.Tanh()))
            self.head = lib.Linear(5, 2)

        def forward(self, x):
            return self.head(self.body(x))

    return Net()


class Pair(nn.Module):
    """Two tensor inputs and a flag in, two tensors out."""

    def forward(self, a, b, flag=True):
        return a * b, (a + b).tanh() if flag else a


class TorchPair(torch.nn.Module):
    def forward(self, a, b, flag=True):
        return a * b, (a + b).tanh() if flag else a


def twins(seed=0):
    ours, theirs = build(nn).double(), build(torch.nn).double()
    rng = np.random.default_rng(seed)
    state = {key: rng.standard_normal(tuple(value.shape)) for key, value in theirs.state_dict().items()}
    ours.load_state_dict(state)
    theirs.load_state_dict({key: torch.tensor(value) for key, value in state.items()})
    x = rng.standard_normal((4, 3))
    return ours, theirs, x


def values(item):
    """A hook argument as comparable data: arrays for tensors, nested for tuples."""
    if isinstance(item, (tuple, list)):
        return tuple(values(i) for i in item)
    if isinstance(item, cr.Tensor):
        return item.numpy().copy()
    if isinstance(item, torch.Tensor):
        return item.detach().numpy().copy()
    return item


def assert_same(a, b, where):
    if isinstance(a, tuple):
        assert isinstance(b, tuple) and len(a) == len(b), f"{where}: {a!r} vs {b!r}"
        for i, (x, y) in enumerate(zip(a, b)):
            assert_same(x, y, f"{where}[{i}]")
    elif isinstance(a, np.ndarray):
        assert isinstance(b, np.ndarray), f"{where}: {a!r} vs {b!r}"
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-14, err_msg=where)
    else:
        assert a == b, f"{where}: {a!r} vs {b!r}"


def log_everything(model, log):
    """Every kind of hook on every module, each appending (event, module name, values)."""
    handles = []
    for name, module in model.named_modules():
        name = name or "model"
        handles += [
            module.register_forward_pre_hook(lambda m, args, n=name: log.append(("pre", n, values(args)))),
            module.register_forward_hook(lambda m, args, out, n=name: log.append(("forward", n, values(out)))),
            module.register_full_backward_pre_hook(lambda m, go, n=name: log.append(("backward_pre", n, values(go)))),
            module.register_full_backward_hook(
                lambda m, gi, go, n=name: log.append(("backward", n, values(gi), values(go)))),
        ]
    return handles


def assert_same_logs(ours, theirs):
    assert [entry[:2] for entry in ours] == [entry[:2] for entry in theirs]
    for a, b in zip(ours, theirs):
        assert_same(tuple(a[2:]), tuple(b[2:]), f"{a[0]} {a[1]}")


# ---------------------------------------------------------------------- order and values

@pytest.mark.filterwarnings("ignore:Full backward hook is firing")  # torch's note on the input that needs none
@pytest.mark.parametrize("input_requires_grad", [False, True])
def test_every_hook_fires_in_torchs_order_with_torchs_values(input_requires_grad):
    ours, theirs, x = twins()
    log_ours, log_theirs = [], []
    log_everything(ours, log_ours)
    log_everything(theirs, log_theirs)
    xs, xt = cr.tensor(x, requires_grad=input_requires_grad), torch.tensor(x, requires_grad=input_requires_grad)
    (ours(xs) ** 2).sum().backward()
    (theirs(xt) ** 2).sum().backward()
    assert len(log_ours) == 4 * 8
    assert_same_logs(log_ours, log_theirs)
    for p, q in zip(ours.parameters(), theirs.parameters()):
        np.testing.assert_allclose(p.grad.numpy(), q.grad.numpy(), rtol=1e-12)
    if input_requires_grad:
        np.testing.assert_allclose(xs.grad.numpy(), xt.grad.numpy(), rtol=1e-12)


def test_the_order_itself():
    """What torch does, spelled out: forward pre-hooks outside in, forward hooks inside out;
    backward pre-hooks from the output down, and a backward hook fires when its module's
    input gradient is known (at once for the modules whose inputs need none)."""
    ours, _, x = twins()
    log = []
    log_everything(ours, log)
    (ours(cr.tensor(x)) ** 2).sum().backward()
    events = [f"{event} {name}" for event, name, *_ in log]
    assert events[:16] == [
        "pre model", "pre body", "pre body.0", "forward body.0", "pre body.1", "forward body.1",
        "pre body.2", "pre body.2.0", "forward body.2.0", "pre body.2.1", "forward body.2.1", "forward body.2",
        "forward body", "pre head", "forward head", "forward model",
    ]
    assert events[16:] == [
        "backward_pre model", "backward model",  # x needs no gradient: the model's hook fires at once
        "backward_pre head", "backward head",
        "backward_pre body", "backward body",
        "backward_pre body.2", "backward_pre body.2.1", "backward body.2.1",
        "backward_pre body.2.0", "backward body.2.0", "backward body.2",
        "backward_pre body.1", "backward body.1", "backward_pre body.0", "backward body.0",
    ]


def test_several_inputs_and_outputs_as_torch():
    rng = np.random.default_rng(3)
    a, b = rng.standard_normal((2, 3)), rng.standard_normal((2, 3))
    logs = []
    for module, lib, make in ((Pair(), "cr", lambda v, g: cr.tensor(v, requires_grad=g)),
                              (TorchPair(), "torch", lambda v, g: torch.tensor(v, requires_grad=g))):
        log = []
        log_everything(module, log)
        for b_grad in (True, False):
            for use_second in (True, False):
                ta, tb = make(a, True), make(b, b_grad)
                first, second = module(ta, tb, True)
                loss = (first * 3).sum() + ((second ** 2).sum() if use_second else 0)
                loss.backward()
                log.append(("grads", lib, values(ta.grad), values(tb.grad)))
        logs.append(log)
    ours, theirs = logs
    assert [e[0] for e in ours] == [e[0] for e in theirs]
    for a_entry, b_entry in zip(ours, theirs):
        if a_entry[0] == "grads":
            assert_same(tuple(a_entry[2:]), tuple(b_entry[2:]), "grads")
        else:
            assert_same(tuple(a_entry[2:]), tuple(b_entry[2:]), a_entry[0])
    # an unused output's grad_output is None, as torch's; the flag argument's grad_input is None
    unused = [e for e in ours if e[0] == "backward"][1]
    assert unused[3][1] is None and unused[2][2] is None


# ---------------------------------------------------------------------- replacing values

def test_hooks_may_replace_arguments_outputs_and_gradients():
    ours, theirs, x = twins()
    for model in (ours, theirs):
        model.body[0].register_forward_pre_hook(lambda m, args: args[0] * 2)  # a bare value: wrapped in a tuple
        model.body[2].register_forward_hook(lambda m, args, out: out + 1)
        model.head.register_full_backward_hook(lambda m, gi, go: (gi[0] * 3,))
        model.body[2][0].register_full_backward_pre_hook(lambda m, go: (go[0] - 0.5,))
    xs, xt = cr.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    ys, yt = ours(xs), theirs(xt)
    np.testing.assert_allclose(ys.numpy(), yt.detach().numpy(), rtol=1e-12)
    (ys ** 2).sum().backward()
    (yt ** 2).sum().backward()
    for p, q in zip(ours.parameters(), theirs.parameters()):
        np.testing.assert_allclose(p.grad.numpy(), q.grad.numpy(), rtol=1e-12)
    np.testing.assert_allclose(xs.grad.numpy(), xt.grad.numpy(), rtol=1e-12)


def test_prepend_and_with_kwargs():
    calls = []
    ours, theirs = Pair(), TorchPair()
    for module in (ours, theirs):
        module.register_forward_pre_hook(lambda m, args: calls.append("first"))
        module.register_forward_pre_hook(lambda m, args: calls.append("prepended"), prepend=True)

        def with_kwargs(m, args, kwargs):
            calls.append(sorted(kwargs))
            return args, {"flag": False}

        module.register_forward_pre_hook(with_kwargs, with_kwargs=True)
        module.register_forward_hook(lambda m, args, kwargs, out: (out[0], out[1] * 10), with_kwargs=True)
    a = np.array([1.0, 2.0])
    out_ours = ours(cr.tensor(a), cr.tensor(a), flag=True)
    out_theirs = theirs(torch.tensor(a), torch.tensor(a), flag=True)
    assert calls[:3] == ["prepended", "first", ["flag"]] and calls[3:] == calls[:3]
    np.testing.assert_array_equal(out_ours[1].numpy(), out_theirs[1].numpy())  # flag=False: a, times 10
    np.testing.assert_array_equal(out_ours[1].numpy(), a * 10)


# ---------------------------------------------------------------------- removal and the fast path

def test_handles_remove_hooks_and_the_module_returns_to_the_fast_call():
    before = module_module.hooked_modules
    layer = nn.Linear(2, 2)
    calls = []
    handle = layer.register_forward_hook(lambda m, a, o: calls.append(1))
    with layer.register_forward_pre_hook(lambda m, a: calls.append(0)):
        assert module_module.hooked_modules == before + 1
        layer(cr.ones(1, 2))
    layer(cr.ones(1, 2))
    assert calls == [0, 1, 1]
    handle.remove()
    handle.remove()  # twice is harmless
    layer(cr.ones(1, 2))
    assert calls == [0, 1, 1]
    assert layer._module_hooks is None and "_module_hooks" not in layer.__dict__
    assert module_module.hooked_modules == before


def test_a_hook_removed_while_the_graph_lives_still_fires_for_that_call():
    """As torch: the backward hooks of a call are fixed when the call runs."""
    layer, calls = nn.Linear(2, 2), []
    handle = layer.register_full_backward_hook(lambda m, gi, go: calls.append("hook"))
    y = layer(cr.ones(1, 2, requires_grad=True))
    handle.remove()
    y.sum().backward()
    assert calls == ["hook"]


def test_deepcopy_copies_the_hooks():
    layer, calls = nn.Linear(2, 2), []
    handle = layer.register_forward_hook(lambda m, a, o: calls.append(m))
    twin = copy.deepcopy(layer)
    twin(cr.ones(1, 2))
    assert calls == [twin]
    handle.remove()  # the original's handle leaves the copy's hooks alone
    twin(cr.ones(1, 2))
    layer(cr.ones(1, 2))
    assert calls == [twin, twin]


# ---------------------------------------------------------------------- fusion

def test_hooked_modules_run_unfused_with_the_same_values():
    cr.manual_seed(0)
    model = nn.MLP([4, 8, 8, 3]).double()
    x = cr.randn(5, 4, dtype=cr.float64)
    fused = model(x)
    assert fused.grad_fn.op == "linear_chain"
    seen = []
    handle = model.layers[2].register_forward_hook(lambda m, a, o: seen.append(o.shape))
    hooked = model(x)
    assert seen == [(5, 8)] and hooked.grad_fn.op != "linear_chain"
    np.testing.assert_allclose(hooked.numpy(), fused.numpy(), rtol=1e-14)
    handle.remove()
    relu_handle = model.layers[1].register_full_backward_hook(lambda m, gi, go: seen.append("relu"))
    hooked = model(x)
    hooked.sum().backward()
    assert seen[-1] == "relu" and hooked.grad_fn.op != "linear_chain"
    relu_handle.remove()
    assert model(x).grad_fn.op == "linear_chain"  # fused again


def test_hooks_on_the_container_leave_its_inner_fusion_alone():
    cr.manual_seed(0)
    model = nn.MLP([4, 8, 3])
    seen = []
    model.layers.register_forward_hook(lambda m, a, o: seen.append(o.grad_fn.op))
    model(cr.randn(2, 4))
    assert seen == ["linear_chain"]


# ---------------------------------------------------------------------- gradients of gradients

def test_create_graph_through_a_hooked_module():
    ours, _, x = twins()
    xs = cr.tensor(x, requires_grad=True)
    (gx_plain,) = cr.autograd.grad((ours(xs) ** 3).sum(), xs, create_graph=True)
    second_plain = cr.autograd.grad((gx_plain ** 2).sum(), xs)[0].numpy()
    calls = []
    for module in ours.modules():
        module.register_full_backward_hook(lambda m, gi, go: calls.append(m))
    (gx,) = cr.autograd.grad((ours(xs) ** 3).sum(), xs, create_graph=True)
    assert len(calls) == 8
    np.testing.assert_allclose(gx.numpy(), gx_plain.numpy(), rtol=1e-12)
    second = cr.autograd.grad((gx ** 2).sum(), xs)[0].numpy()
    np.testing.assert_allclose(second, second_plain, rtol=1e-12)


# ---------------------------------------------------------------------- errors

def test_errors_as_torch():
    layer, x = nn.Linear(2, 2), cr.ones(1, 2, requires_grad=True)
    handle = layer.register_full_backward_hook(lambda m, gi, go: (gi[0], gi[0]))
    with pytest.raises(RuntimeError, match="Backward hook returned an invalid number of grad_input, got 2, but "
                                           "expected 1"):
        layer(x).sum().backward()
    handle.remove()
    handle = layer.register_full_backward_hook(lambda m, gi, go: (cr.ones(3),))
    with pytest.raises(RuntimeError, match=r"gradient of shape \(3,\) in grad_input for a tensor of shape \(1, 2\)"):
        layer(x).sum().backward()
    handle.remove()
    handle = layer.register_full_backward_hook(lambda m, gi, go: (cr.ones(1, 2),))
    with pytest.raises(RuntimeError, match="where no input requires gradient should always return None"):
        layer(cr.ones(1, 2)).sum().backward()
    handle.remove()
    handle = layer.register_forward_pre_hook(lambda m, args, kwargs: args, with_kwargs=True)
    with pytest.raises(RuntimeError, match=r"must return None or a tuple of \(new_args, new_kwargs\)"):
        layer(x)
    handle.remove()
    with pytest.raises(TypeError, match="register_forward_hook: expected a callable; got int"):
        layer.register_forward_hook(3)
    with pytest.raises(TypeError, match="prepend must be True or False"):
        layer.register_full_backward_hook(print, prepend=1)
    assert layer._module_hooks is None


def test_several_tensors_of_mixed_dtypes_and_create_graph():
    """Packed through one node: each tensor keeps its dtype, and second derivatives are those
    of the module without hooks."""
    rng = np.random.default_rng(5)
    a = cr.tensor(rng.standard_normal(3), dtype=cr.float32, requires_grad=True)
    b = cr.tensor(rng.standard_normal(3), dtype=cr.float64, requires_grad=True)
    module = Pair()

    def second_derivatives():
        first, second = module(a, b)
        assert first.dtype == cr.float64 and second.dtype == cr.float64
        ga, gb = cr.autograd.grad((first * second).sum(), (a, b), create_graph=True)
        assert ga.dtype == cr.float32 and gb.dtype == cr.float64
        return [g.numpy() for g in cr.autograd.grad((ga ** 2).sum() + (gb ** 3).sum(), (a, b))]

    plain = second_derivatives()
    seen = []
    module.register_full_backward_hook(lambda m, gi, go: seen.append(tuple(g.dtype for g in gi[:2])))
    hooked = second_derivatives()
    # twice, as torch: differentiating the gradient passes through the module's nodes again
    assert seen == [(cr.float32, cr.float64)] * 2
    for x, y in zip(hooked, plain):
        np.testing.assert_allclose(x, y, rtol=1e-6)


def test_the_count_of_hooked_modules_follows_removal_copies_and_collection():
    import gc

    gc.collect()  # modules of earlier tests, with hooks, that nothing holds any more
    before = module_module.hooked_modules
    layer = nn.Linear(2, 2)
    layer.register_forward_hook(lambda m, a, o: None)
    twin = copy.deepcopy(layer)
    assert module_module.hooked_modules == before + 2
    del layer, twin
    gc.collect()
    assert module_module.hooked_modules == before  # collected with their hooks on
    summary_model = nn.MLP([3, 4, 2])
    summary_model.summary((1, 3), print_fn=None)  # registers and removes a hook on every module
    assert module_module.hooked_modules == before


def test_outputs_of_a_module_with_backward_hooks_may_be_modified_in_place():
    """(PyTorch refuses this: its hook node's outputs are views.)"""
    rng = np.random.default_rng(2)
    w = rng.standard_normal((2, 2))
    results = []
    for hooked in (False, True):
        layer = nn.Linear(2, 2, bias=False).double()
        layer.load_state_dict({"weight": w})
        seen = []
        if hooked:
            layer.register_full_backward_hook(lambda m, gi, go, seen=seen: seen.append(go[0].numpy().copy()))
        x = cr.tensor([[1.0, -2.0]], dtype=cr.float64, requires_grad=True)
        y = layer(x)
        y.mul_(3)
        (y ** 2).sum().backward()
        results.append((x.grad.numpy(), layer.weight.grad.numpy(), seen))
    np.testing.assert_allclose(results[1][0], results[0][0], rtol=1e-14)
    np.testing.assert_allclose(results[1][1], results[0][1], rtol=1e-14)
    assert len(results[1][2]) == 1
