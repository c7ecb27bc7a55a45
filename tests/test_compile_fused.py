"""The step compiler's fused and buffer-reusing paths (issue 20): each equals the plain NumPy
replay (``CHAINRULE_NO_NUMBA=1``) and eager execution to the bit, and a replayed MLP step
allocates no new arrays."""
from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn, optim
from chainrule.nn import functional as F
from chainrule.train.compiler import compile_step

pytest.importorskip("numba")


def _run(sizes, rows, steps, numba, monkeypatch, input_grad=False, optimizer="sgd", loss="mse"):
    """``steps`` compiled steps of an MLP of ``sizes`` on ``rows`` rows; the parameters, the
    losses, the input gradients and the compiled step."""
    if numba:
        monkeypatch.delenv("CHAINRULE_NO_NUMBA", raising=False)
    else:
        monkeypatch.setenv("CHAINRULE_NO_NUMBA", "1")
    cr.manual_seed(0)
    model = nn.MLP(list(sizes))
    if optimizer == "sgd":
        opt = optim.SGD(model.parameters(), lr=1e-2, momentum=0.9, weight_decay=1e-3)
    else:
        opt = optim.Adam(model.parameters(), lr=1e-3, weight_decay=1e-3)
    loss_fn = F.mse_loss if loss == "mse" else F.cross_entropy

    def step(x, y):
        opt.zero_grad()
        out = loss_fn(model(x), y)
        out.backward()
        opt.step()
        return out

    run = compile_step(step)
    rng = np.random.default_rng(1)
    losses, input_grads = [], []
    for _ in range(steps):
        x = cr.tensor(rng.standard_normal((rows, sizes[0])).astype(np.float32), requires_grad=input_grad)
        if loss == "mse":
            y = cr.tensor(rng.standard_normal((rows, sizes[-1])).astype(np.float32))
        else:
            y = cr.tensor(rng.integers(0, sizes[-1], rows))
        losses.append(run(x, y).numpy().copy())
        if input_grad:
            input_grads.append(x.grad.numpy().copy())
    params = [p.data.copy() for p in model.parameters()]
    return params, np.array(losses), input_grads, run


def _chain_node(run):
    (entries,) = run.plans.values()
    (_, plan, _), = entries
    return plan.run.__globals__["N0"]


CHAINS = {
    "W6": ((2, 16, 16, 1), 100, False),
    "W2": ((20, 64, 64, 1), 32, False),
    "one output, more than 128 rows": ((4, 7, 1), 300, False),
    "one input feature": ((1, 8, 3), 50, False),
    "input gradient": ((3, 6, 5, 2), 40, True),
    "one output and the input gradient": ((3, 6, 1), 9, True),
}


@pytest.mark.parametrize("case", list(CHAINS))
def test_a_small_chain_runs_as_one_compiled_call_per_pass_with_numpys_bits(case, monkeypatch):
    sizes, rows, input_grad = CHAINS[case]
    fused = _run(sizes, rows, 12, True, monkeypatch, input_grad)
    plain = _run(sizes, rows, 12, False, monkeypatch, input_grad)
    assert _chain_node(fused[3]).in_one and not _chain_node(plain[3]).whole
    for a, b in zip(fused[0], plain[0]):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(fused[1], plain[1])
    for a, b in zip(fused[2], plain[2]):
        np.testing.assert_array_equal(a, b)


OPTIMIZERS = {
    "sgd": lambda ps: optim.SGD(ps, lr=1e-2),
    "sgd momentum, weight decay": lambda ps: optim.SGD(ps, lr=1e-2, momentum=0.9, weight_decay=1e-3),
    "sgd nesterov, dampening": lambda ps: optim.SGD(ps, lr=1e-2, momentum=0.8, nesterov=True),
    "sgd velocity form": lambda ps: optim.SGD(ps, lr=1e-2, momentum=0.5, dampening=0.1, momentum_form="velocity"),
    "adam": lambda ps: optim.Adam(ps, lr=1e-3, weight_decay=1e-3),
    "adamw amsgrad": lambda ps: optim.AdamW(ps, lr=1e-3, amsgrad=True),
    "rmsprop": lambda ps: optim.RMSprop(ps, lr=1e-3, momentum=0.5),
}


@pytest.mark.parametrize("engine", ["numba", "numpy"])
@pytest.mark.parametrize("name", list(OPTIMIZERS))
def test_the_replayed_update_equals_eager_with_a_learning_rate_changed_between_steps(name, engine, monkeypatch):
    if engine == "numpy":
        monkeypatch.setenv("CHAINRULE_NO_NUMBA", "1")
    else:
        monkeypatch.delenv("CHAINRULE_NO_NUMBA", raising=False)
    rng = np.random.default_rng(2)
    X = rng.standard_normal((24, 5)).astype(np.float32)
    Y = rng.standard_normal((24, 2)).astype(np.float32)
    results = []
    for compiled in (False, True):
        cr.manual_seed(0)
        model = nn.MLP([5, 9, 2])
        opt = OPTIMIZERS[name](model.parameters())

        def step(x, y, model=model, opt=opt):
            opt.zero_grad()
            loss = F.mse_loss(model(x), y)
            loss.backward()
            opt.step()
            return loss

        run = compile_step(step) if compiled else step
        for k in range(20):
            if k == 10:
                opt.param_groups[0]["lr"] *= 0.5
            run(cr.tensor(X[k % 3 * 8:k % 3 * 8 + 8]), cr.tensor(Y[k % 3 * 8:k % 3 * 8 + 8]))
        results.append([p.data.copy() for p in model.parameters()])
        if compiled:
            assert run.replays == 19
    for a, b in zip(*results):
        np.testing.assert_array_equal(a, b)


def _allocated_per_replay(workload, rows, monkeypatch, replays=5):
    """The median over ``replays`` replayed steps of each one's peak of traced memory
    (tracemalloc: NumPy's arrays and Python objects) above what was allocated before it, in bytes."""
    import tracemalloc  # noqa: PLC0415

    monkeypatch.delenv("CHAINRULE_NO_NUMBA", raising=False)
    cr.manual_seed(0)
    if workload == "W2":
        model, features = nn.MLP([20, 64, 64, 1]), 20
        opt, loss_fn = optim.SGD(model.parameters(), lr=1e-2, momentum=0.9), F.mse_loss
    else:
        model, features = nn.MLP([2, 16, 16, 1]), 2
        opt = optim.SGD(model.parameters(), lr=0.1)

        def loss_fn(scores, y):
            return (1 - y * scores).relu().mean() + 1e-4 * F.l2_penalty(model.parameters())

    def step(x, y):
        opt.zero_grad()
        loss = loss_fn(model(x), y)
        loss.backward()
        opt.step()
        return loss

    run = compile_step(step)
    rng = np.random.default_rng(0)
    batches = [(cr.tensor(rng.standard_normal((rows, features)).astype(np.float32)),
                cr.tensor(np.sign(rng.standard_normal((rows, 1))).astype(np.float32))) for _ in range(3 + replays)]
    for x, y in batches[:3]:  # the trace and two replays (the kept arrays are made at the first)
        run(x, y)
    peaks = []
    tracemalloc.start()
    try:
        for x, y in batches[3:]:
            before = tracemalloc.get_traced_memory()[0]
            tracemalloc.reset_peak()
            run(x, y)
            peaks.append(tracemalloc.get_traced_memory()[1] - before)
    finally:
        tracemalloc.stop()
    assert run.traces == 1
    return sorted(peaks)[len(peaks) // 2]


@pytest.mark.parametrize("workload, rows", [("W2", (32, 500)), ("W6", (100, 1000))])
def test_a_replayed_mlp_step_allocates_no_arrays(workload, rows, monkeypatch):
    small, large = (_allocated_per_replay(workload, r, monkeypatch) for r in rows)
    # what remains is a few Python objects per step (the returned loss, the .grad Tensors of
    # the slots, 0-d scalars): a few kilobytes, the same at every batch size; one array of
    # the larger batch would be 2 KB (W2's 500 x 1 outputs) to 128 KB (its 500 x 64 activations)
    assert small < 8192 and large < 8192
    assert abs(large - small) < 1000


@pytest.mark.parametrize("engine", ["numba", "numpy"])
def test_the_buffered_elementwise_forms_equal_eager_with_every_input_gradient(engine, monkeypatch):
    if engine == "numpy":
        monkeypatch.setenv("CHAINRULE_NO_NUMBA", "1")
    else:
        monkeypatch.delenv("CHAINRULE_NO_NUMBA", raising=False)
    results = []
    for compiled in (False, True):
        cr.manual_seed(0)
        model = nn.MLP([3, 7, 2])
        opt = optim.SGD(model.parameters(), lr=1e-2, momentum=0.9)

        def step(x, y, z, model=model, opt=opt):
            opt.zero_grad()
            out = model(x)
            hinge = (-(out - y) * 2.0 + 0.5).relu() * z + (out + 1.0) * (out - z)
            loss = hinge.mean() + F.mse_loss(out, y) + F.mse_loss(out, z, reduction="sum")
            loss = loss + F.mse_loss(out, y, reduction="none").mean()  # the node's eager path, replayed
            loss = loss + (out * out).sum(dim=1).mean() * 0.1 + out.mean(dim=0, keepdim=True).sum()
            loss = loss + 1e-3 * F.l2_penalty(model.parameters())
            loss.backward()
            opt.step()
            return loss, out

        run = compile_step(step) if compiled else step
        got = []
        for k in range(6):
            data = np.random.default_rng(k)
            x = cr.tensor(data.standard_normal((5, 3)).astype(np.float32))
            y = cr.tensor(data.standard_normal((5, 2)).astype(np.float32), requires_grad=True)
            z = cr.tensor(data.standard_normal((5, 2)).astype(np.float32), requires_grad=True)
            loss, out = run(x, y, z)
            got.append((loss.numpy().copy(), out.numpy().copy(), y.grad.numpy().copy(), z.grad.numpy().copy()))
        results.append((got, [p.data.copy() for p in model.parameters()]))
        if compiled:
            (entries,) = run.plans.values()
            scope = entries[0][1].run.__globals__
            kinds = {type(scope[name]).__name__ for name in scope if name[0] == "N" and name[1:].isdigit()}
            assert {"BufferedSub", "BufferedNeg", "BufferedAddScalar", "BufferedMulScalar", "BufferedMul",
                    "BufferedReLU", "BufferedAdd", "BufferedMSELoss", "BufferedSum", "BufferedMean",
                    "BufferedL2Penalty"} <= kinds
    (eager, params_e), (replayed, params_c) = results
    for a, b in zip(params_e, params_c):
        np.testing.assert_array_equal(a, b)
    for step_e, step_c in zip(eager, replayed):
        for a, b in zip(step_e, step_c):
            np.testing.assert_array_equal(a, b)


CROSS_ENTROPY_CASES = [((128, 10), np.float32, "mean"), ((96, 10), np.float32, "sum"), ((1, 1), np.float32, "mean"),
                       ((7, 3), np.float64, "mean"), ((128, 128), np.float32, "sum"), ((64, 17), np.float64, "sum")]


@pytest.mark.parametrize("shape, dtype, reduction", CROSS_ENTROPY_CASES)
def test_the_compiled_cross_entropy_passes_equal_the_node(shape, dtype, reduction):
    from chainrule.engine import compiled  # noqa: PLC0415
    from chainrule.nn.fused.cross_entropy import CrossEntropy  # noqa: PLC0415
    from chainrule.train.compiler.buffered import BufferedCrossEntropy  # noqa: PLC0415

    if compiled.kernels("chainrule.train.compiler.numba_kernels") is None:
        pytest.skip("numba disabled")
    rng = np.random.default_rng(3)
    buffered = BufferedCrossEntropy()
    buffered.needs_input_grad = (True,)
    for trial in range(4):
        z = (rng.standard_normal(shape) * 5).astype(dtype)
        t = rng.integers(0, shape[1], shape[0])
        if trial == 3:
            z[0, 0], z[-1, -1] = np.nan, -0.0
        node = CrossEntropy()
        node.needs_input_grad = (True,)
        expected = node.forward(z, t, None, -100, reduction, 0.0, False)
        expected_grad = node.backward(np.ones((), dtype))[0]
        got = buffered.forward(z, t, None, -100, reduction, 0.0, False).copy()
        grad = buffered.backward(np.ones((), dtype))[0]
        assert buffered.fused and got.shape == () and got.dtype == dtype
        np.testing.assert_array_equal(got, expected)
        np.testing.assert_array_equal(grad, expected_grad)
    t[-1] = shape[1]  # out of range: NumPy's path (its take raises here)
    with pytest.raises(IndexError):
        buffered.forward(z, t, None, -100, reduction, 0.0, False)
    assert not buffered.fused
