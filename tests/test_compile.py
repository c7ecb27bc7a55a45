"""Tests for chainrule.compile (chainrule.train.compiler): replayed steps equal eager steps to
the bit (W1, W2, W6 and a network with BatchNorm and Dropout, 100 steps, with and without the
compiled kernels), guards re-trace on shape and mode changes, value-dependent Python is refused,
dropout draws fresh masks on every replay (the same as eager under one seed)."""
from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn, optim
from chainrule.nn import functional as F
from chainrule.train.compiler import CompileError, compile_step

ENGINES = ["numba", "numpy"]


@pytest.fixture(params=ENGINES)
def engine(request, monkeypatch):
    """Every equality test runs with the compiled (numba) kernels allowed and with
    CHAINRULE_NO_NUMBA=1 (the NumPy fallback of every kernel)."""
    if request.param == "numpy":
        monkeypatch.setenv("CHAINRULE_NO_NUMBA", "1")
    else:
        monkeypatch.delenv("CHAINRULE_NO_NUMBA", raising=False)
    return request.param


def _data(rows, features, outputs, classes=None, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((rows, features)).astype(np.float32)
    if classes is not None:
        return X, rng.integers(0, classes, size=rows).astype(np.int64)
    return X, rng.standard_normal((rows, outputs)).astype(np.float32)


def _state(model) -> dict:
    return {name: np.array(t.data, copy=True) for name, t in model.state_dict().items()}


def _train(build, X, Y, batch, steps, compiled, seed=0):
    """``steps`` steps of the model/optimizer/loss ``build()`` makes, eagerly or compiled;
    returns the final state dict, the losses and the compiled step (or None)."""
    cr.manual_seed(seed)
    model, optimizer, loss_fn = build()
    model.train()

    def step(x, y):
        optimizer.zero_grad()
        loss = loss_fn(model(x), y)
        loss.backward()
        optimizer.step()
        return loss

    run = compile_step(step) if compiled else step
    losses, rows = [], len(X)
    for k in range(steps):
        start = (k * batch) % rows
        x, y = cr.tensor(X[start:start + batch]), cr.tensor(Y[start:start + batch])
        losses.append(run(x, y).numpy().copy())
    return _state(model), losses, (run if compiled else None)


def _w1():
    model = nn.MLP([784, 256, 256, 10])
    return model, optim.Adam(model.parameters(), lr=1e-3), F.cross_entropy


def _w2():
    model = nn.MLP([20, 64, 64, 1])
    return model, optim.SGD(model.parameters(), lr=1e-2, momentum=0.9), F.mse_loss


def _w6():
    model = nn.MLP([2, 16, 16, 1])

    def hinge_l2(scores, y):
        return (1 - y * scores).relu().mean() + 1e-4 * F.l2_penalty(model.parameters())

    return model, optim.SGD(model.parameters(), lr=0.1), hinge_l2


def _bn_dropout():
    model = nn.MLP([6, 16, 16, 3], dropout=0.2, batchnorm=True)
    return model, optim.Adam(model.parameters(), lr=1e-2), nn.CrossEntropyLoss()


def _assert_same(eager, compiled):
    (state_e, losses_e, _), (state_c, losses_c, run) = eager, compiled
    assert state_e.keys() == state_c.keys()
    for name in state_e:
        np.testing.assert_array_equal(state_c[name], state_e[name], err_msg=name)
    np.testing.assert_array_equal(np.array(losses_c), np.array(losses_e))
    return run


# ---------------------------------------------------------------------- replay equals eager

@pytest.mark.parametrize("workload", ["W1", "W2", "W6", "bn_dropout"])
def test_100_replayed_steps_equal_eager_to_the_bit(workload, engine):
    build, batch, (X, Y) = {
        "W1": (_w1, 128, _data(512, 784, 10, classes=10)),
        "W2": (_w2, 32, _data(640, 20, 1)),
        "W6": (_w6, 100, (_data(100, 2, 1)[0], np.sign(_data(100, 2, 1, seed=3)[1]))),
        "bn_dropout": (_bn_dropout, 32, _data(320, 6, 3, classes=3)),
    }[workload]
    eager = _train(build, X, Y, batch, 100, compiled=False)
    compiled = _train(build, X, Y, batch, 100, compiled=True)
    run = _assert_same(eager, compiled)
    assert run.traces == 1 and run.replays == 99


def test_batchnorm_counters_and_running_statistics_follow_eager():
    X, Y = _data(96, 6, 3, classes=3)
    state_e, _, _ = _train(_bn_dropout, X, Y, 32, 10, compiled=False)
    state_c, _, _ = _train(_bn_dropout, X, Y, 32, 10, compiled=True)
    counters = [name for name in state_c if name.endswith("num_batches_tracked")]
    assert counters and all(int(state_c[name]) == 10 for name in counters)
    for name in state_e:
        np.testing.assert_array_equal(state_c[name], state_e[name], err_msg=name)


def test_momentum_none_batchnorm_uses_the_cumulative_average():
    def build():
        model = nn.Sequential(nn.Linear(4, 8), nn.BatchNorm1d(8, momentum=None), nn.ReLU(), nn.Linear(8, 2))
        return model, optim.SGD(model.parameters(), lr=0.1), nn.CrossEntropyLoss()

    X, Y = _data(64, 4, 2, classes=2)
    eager = _train(build, X, Y, 16, 12, compiled=False)
    _assert_same(eager, _train(build, X, Y, 16, 12, compiled=True))


def test_a_forward_only_function_under_no_grad_equals_eager():
    cr.manual_seed(0)
    model = nn.MLP([5, 7, 3], batchnorm=True)
    model.eval()

    @cr.no_grad()
    def predict(x):
        return F.softmax(model(x), dim=-1)

    run = compile_step(predict)
    X, _ = _data(40, 5, 3)
    for start in (0, 10, 20, 30):
        x = cr.tensor(X[start:start + 10])
        np.testing.assert_array_equal(run(x).numpy(), predict(x).numpy())
    assert run.traces == 1 and run.replays == 3


def test_returned_structures_and_input_gradients():
    cr.manual_seed(0)
    w = cr.randn(3, 2, requires_grad=True)

    def fn(x, scale):
        y = (x @ w * scale).tanh()
        loss = y.sum()
        loss.backward()
        return {"y": y, "loss": loss, "pair": (x, None)}

    run = compile_step(fn)
    for k in range(3):
        x = cr.tensor(np.full((4, 3), 0.1 * (k + 1), np.float32), requires_grad=True)
        w.grad = None
        out = run(x, 2.0)
        expected = (x.data @ w.data * 2.0)
        np.testing.assert_allclose(out["y"].numpy(), np.tanh(expected), rtol=1e-6)
        assert out["pair"][0] is x and out["pair"][1] is None
        assert x.grad is not None and x.grad.shape == (4, 3)
    assert run.traces == 1


# ---------------------------------------------------------------------- guards

def test_a_smaller_last_batch_traces_once_more_and_both_plans_stay():
    X, Y = _data(80, 20, 1)
    state_e, losses_e, _ = _train(_w2, X, Y, 32, 9, compiled=False)
    cr.manual_seed(0)
    model, optimizer, loss_fn = _w2()

    def step(x, y):
        optimizer.zero_grad()
        loss = loss_fn(model(x), y)
        loss.backward()
        optimizer.step()
        return loss

    run = compile_step(step)
    losses = []
    for k in range(9):  # batches of 32, 32, 16 (rows 80), three epochs
        start = (k % 3) * 32
        losses.append(run(cr.tensor(X[start:start + 32]), cr.tensor(Y[start:start + 32])).numpy().copy())
    assert run.traces == 2 and run.replays == 7
    # the eager reference above used (k * 32) % 80 offsets; compare with its own schedule
    eager_state, eager_losses, _ = _eager_epochs(X, Y)
    np.testing.assert_array_equal(np.array(losses), np.array(eager_losses))
    for name, value in _state(model).items():
        np.testing.assert_array_equal(value, eager_state[name])


def _eager_epochs(X, Y):
    cr.manual_seed(0)
    model, optimizer, loss_fn = _w2()
    losses = []
    for k in range(9):
        start = (k % 3) * 32
        optimizer.zero_grad()
        loss = loss_fn(model(cr.tensor(X[start:start + 32])), cr.tensor(Y[start:start + 32]))
        loss.backward()
        optimizer.step()
        losses.append(loss.numpy().copy())
    return _state(model), losses, None


def test_train_eval_switch_and_grad_mode_and_replaced_parameters_trace_again():
    cr.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 6), nn.Dropout(0.5), nn.Linear(6, 2))
    run = compile_step(lambda x: model(x))
    x = cr.tensor(np.ones((3, 4), np.float32))
    run(x)
    run(x)
    assert run.traces == 1
    model.eval()
    out = run(x)
    assert run.traces == 2
    np.testing.assert_array_equal(out.numpy(), model(x).numpy())  # no dropout in eval mode
    with cr.no_grad():
        run(x)
    assert run.traces == 3
    model[0].weight = nn.Parameter(cr.zeros(6, 4))
    out = run(x)
    assert run.traces == 4
    np.testing.assert_array_equal(out.numpy(), model(x).numpy())
    model.train()
    run(x)
    assert run.traces == 5  # train mode with the new weight: a new plan
    run(cr.tensor(np.ones((3, 4), np.float64)).float())
    assert run.traces == 5


_swapped = nn.Linear(2, 1)
step = None


def test_rebinding_what_the_step_names_and_freezing_a_parameter_trace_again():
    global _swapped
    cr.manual_seed(0)
    first, second = nn.Linear(2, 1), nn.Linear(2, 1)
    _swapped = first
    run = compile_step(lambda x: _swapped(x))
    x = cr.ones(3, 2)
    run(x)
    _swapped = second
    np.testing.assert_array_equal(run(x).numpy(), second(x).numpy())
    assert run.traces == 2
    scale = [2.0]

    def scaled(x):
        return first(x) * scale[0]

    run = compile_step(scaled)
    run(x)
    first.weight.requires_grad_(False)
    run(x)
    assert run.traces == 2
    global step  # a global that shares only an attribute's name with what the step calls
    opt = optim.SGD(second.parameters(), lr=0.1)
    run = compile_step(lambda x: opt.step())
    for step in range(3):  # noqa: B007
        run(x)
    assert run.traces == 1


def test_new_dtype_traces_again():
    cr.manual_seed(0)
    w = cr.randn(3, 3, dtype=cr.float64)
    run = compile_step(lambda x: x @ w)
    run(cr.ones(2, 3, dtype=cr.float64))
    run(cr.ones(2, 3, dtype=cr.float32).double())
    assert run.traces == 1
    x = cr.ones(2, 3, dtype=cr.float32)
    np.testing.assert_array_equal(run(x).numpy(), (x @ w).numpy())
    assert run.traces == 2


# ---------------------------------------------------------------------- refusals

def _model():
    cr.manual_seed(0)
    return nn.Linear(3, 1)


@pytest.mark.parametrize("body, what", [
    (lambda m, x: m(x).sum().item(), r"Tensor\.item\(\)"),
    (lambda m, x: m(x) * 2 if m(x).sum() > 0 else m(x), r"Tensor\.__bool__\(\)"),
    (lambda m, x: float(m(x).sum()), r"Tensor\.__float__\(\)"),
    (lambda m, x: m(x).numpy(), r"Tensor\.numpy\(\)"),
    (lambda m, x: np.asarray(m(x)), r"Tensor\.__array__\(\)"),
    (lambda m, x: m(x).tolist(), r"Tensor\.tolist\(\)"),
    (lambda m, x: m(x) + cr.randn(4, 1), "random numbers"),
    (lambda m, x: m(x).add_(1.0), "in-place"),
    (lambda m, x: cr.autograd.grad(m(x).sum(), [m.weight]), r"autograd\.grad"),
])
def test_value_dependent_python_is_refused_at_trace_time(body, what):
    model, x = _model(), cr.ones(4, 3)
    run = compile_step(lambda x: body(model, x))
    with pytest.raises(CompileError, match=what):
        run(x)
    assert run.traces == 0
    assert float(model(x).sum()) == float(model(x).sum())  # the entry points are restored


def test_the_engine_entry_points_are_the_originals_after_a_trace():
    from chainrule.engine.autograd import Function  # noqa: PLC0415
    from chainrule.engine.tensor import Tensor  # noqa: PLC0415

    before = (Function.__dict__["apply"], Tensor.__dict__["backward"], Tensor.__dict__["item"],
              nn.Module.__dict__["__call__"], F.dropout, optim.Optimizer.__dict__["step"], cr.autograd.grad)
    model = _model()
    run = compile_step(lambda x: model(x).sum())
    run(cr.ones(4, 3))
    with pytest.raises(CompileError):
        compile_step(lambda x: model(x).sum().item())(cr.ones(4, 3))
    after = (Function.__dict__["apply"], Tensor.__dict__["backward"], Tensor.__dict__["item"],
             nn.Module.__dict__["__call__"], F.dropout, optim.Optimizer.__dict__["step"], cr.autograd.grad)
    assert all(a is b for a, b in zip(before, after))


def test_create_graph_closures_and_outside_graphs_are_refused():
    model, x = _model(), cr.ones(4, 3)
    with pytest.raises(CompileError, match="create_graph"):
        compile_step(lambda x: model(x).sum().backward(create_graph=True))(x)
    opt = optim.SGD(model.parameters(), lr=0.1)
    with pytest.raises(CompileError, match="closure"):
        compile_step(lambda x: opt.step(lambda: model(x).sum()))(x)
    outside = model(x)
    with pytest.raises(CompileError, match="computed before"):
        compile_step(lambda x: (outside * x[:, :1]).sum())(x)
    with pytest.raises(CompileError, match="returned a"):
        compile_step(lambda x: object())(x)
    with pytest.raises(TypeError, match="callable"):
        compile_step(3)
    inner = compile_step(lambda x: model(x))
    with pytest.raises(CompileError, match="another one is being traced"):
        compile_step(lambda x: inner(x) * 2)(x)
    assert float(inner(x).sum()) == float(model(x).sum())  # usable afterwards


# ---------------------------------------------------------------------- randomness

def test_dropout_draws_fresh_masks_and_matches_eager_under_one_seed():
    cr.manual_seed(0)
    model = nn.Sequential(nn.Linear(8, 32), nn.Dropout(0.5))
    x = cr.ones(16, 8)
    run = compile_step(lambda x: model(x))
    cr.manual_seed(7)
    compiled = [run(x).numpy().copy() for _ in range(4)]
    cr.manual_seed(7)
    eager = [model(x).numpy().copy() for _ in range(4)]
    for a, b in zip(compiled, eager):
        np.testing.assert_array_equal(a, b)
    masks = [(c == 0) for c in compiled]
    assert not np.array_equal(masks[1], masks[2]) and not np.array_equal(masks[2], masks[3])


@pytest.mark.parametrize("relu", [True, False])
def test_compiled_elementwise_passes_equal_their_numpy_twins(relu):
    kernels = pytest.importorskip("chainrule.train.compiler.numba_kernels")
    rng = np.random.default_rng(0)
    z = rng.standard_normal((7, 5)).astype(np.float32)
    z[0, :] = [-0.0, 0.0, np.nan, np.inf, -np.inf]
    b = rng.standard_normal(5).astype(np.float32)
    b[:] = np.where(np.arange(5) < 2, 0.0, b)
    expected = z + b
    if relu:
        expected = np.maximum(expected, np.zeros((), np.float32))
    got = z.copy()
    kernels.bias_relu(got, b, relu)
    np.testing.assert_array_equal(got, expected)
    assert np.array_equal(np.signbit(got), np.signbit(expected))
    g = rng.standard_normal((7, 5)).astype(np.float32)
    g[1, :] = [-1.0, np.nan, np.inf, -0.0, 2.0]
    result = np.empty_like(g)
    kernels.relu_mask(g, got, result)
    twin = g * (got > np.zeros((), np.float32))
    np.testing.assert_array_equal(result, twin)
    assert np.array_equal(np.signbit(result), np.signbit(twin))
    total = np.empty(5, np.float32)
    kernels.relu_mask_sum(g, got, result, total)  # the mask and the bias gradient's column sums in one pass
    np.testing.assert_array_equal(result, twin)
    np.testing.assert_array_equal(total, np.add.reduce(twin, axis=0))
    long = rng.standard_normal((300, 9)).astype(np.float32)
    total = np.empty(9, np.float32)
    kernels.relu_mask_sum(long, long, result := np.empty_like(long), total)
    np.testing.assert_array_equal(total, np.add.reduce(long * (long > 0), axis=0))
    kernels.relu_mask_sum(long[:0], long[:0], result[:0], total)
    np.testing.assert_array_equal(total, np.zeros(9, np.float32))
    kernels.column_sums(long, total)  # a layer without ReLU: its bias gradient alone
    np.testing.assert_array_equal(total, np.add.reduce(long, axis=0))
    kernels.column_sums(long[:0], total)
    np.testing.assert_array_equal(total, np.zeros(9, np.float32))


def test_large_layers_use_the_compiled_passes_unless_disabled(monkeypatch):
    from chainrule.train.compiler import kernels  # noqa: PLC0415

    pytest.importorskip("numba")
    monkeypatch.delenv("CHAINRULE_NO_NUMBA", raising=False)
    assert kernels.fused_kernels(1 << 15) is not None and kernels.fused_kernels(100) is None
    monkeypatch.setenv("CHAINRULE_NO_NUMBA", "1")
    assert kernels.fused_kernels(1 << 20) is None


def test_plan_source_is_straight_line_code():
    X, Y = _data(64, 20, 1)
    _, _, run = _train(_w2, X, Y, 32, 2, compiled=True)
    (source,) = run.plan_source
    assert source.startswith("def run(T, C):") and "r = B1(g1)" in source and "zero_grad(" in source
    assert source.rstrip().splitlines()[-2].strip().startswith("U")  # the optimizer's step, then return
    assert "for " not in source


# ---------------------------------------------------------------------- the library's networks

def _lstm_classifier():
    class LastStep(nn.Module):
        def __init__(self):
            super().__init__()
            self.rnn = nn.LSTM(3, 5, batch_first=True)
            self.head = nn.Linear(5, 2)

        def forward(self, x):
            out, _ = self.rnn(x)
            return self.head(out[:, -1])

    return LastStep(), F.cross_entropy


def _gpt():
    model = cr.models.gpt(20, 8, 2, 2, 16, dropout=0.1)
    return model, lambda logits, y: F.cross_entropy(logits.reshape(-1, 20), y.reshape(-1))


def _cnn():
    model = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(), nn.MaxPool2d(2),
                          nn.Dropout(0.3), nn.Flatten(), nn.Linear(64, 10))
    return model, nn.CrossEntropyLoss()


_RNG = np.random.default_rng(0)
NETWORKS = {
    "resnet": (lambda: (cr.models.resnet(8, widths=(4, 8, 16)), F.cross_entropy),
               (_RNG.standard_normal((8, 3, 8, 8)).astype(np.float32), _RNG.integers(0, 10, 8))),
    "cnn_batchnorm2d_dropout": (_cnn, (_RNG.standard_normal((8, 3, 8, 8)).astype(np.float32), _RNG.integers(0, 10, 8))),
    "gpt_with_attention_dropout": (_gpt, (_RNG.integers(0, 20, (4, 8)), _RNG.integers(0, 20, (4, 8)))),
    "text_gru": (lambda: (cr.models.text_classifier(20, 3, width=16, encoder="gru", layers=1), F.cross_entropy),
                 (_RNG.integers(1, 20, (4, 7)), _RNG.integers(0, 3, 4))),
    "lstm": (_lstm_classifier, (_RNG.standard_normal((4, 6, 3)).astype(np.float32), _RNG.integers(0, 2, 4))),
}


@pytest.mark.parametrize("network", list(NETWORKS))
def test_the_library_networks_replay_to_eager_bits(network):
    build, (X, Y) = NETWORKS[network]
    results = []
    for compiled in (False, True):
        cr.manual_seed(0)
        model, loss_fn = build()
        opt = optim.Adam(model.parameters(), lr=1e-3)

        def step(x, y, model=model, opt=opt, loss_fn=loss_fn):
            opt.zero_grad()
            loss = loss_fn(model(x), y)
            loss.backward()
            opt.step()
            return loss

        run = compile_step(step) if compiled else step
        cr.manual_seed(5)  # the dropout masks
        losses = [run(cr.tensor(X), cr.tensor(Y)).numpy().copy() for _ in range(4)]
        results.append((_state(model), losses))
    (state_e, losses_e), (state_c, losses_c) = results
    np.testing.assert_array_equal(np.array(losses_c), np.array(losses_e))
    for name in state_e:
        np.testing.assert_array_equal(state_c[name], state_e[name], err_msg=name)
