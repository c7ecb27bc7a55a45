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
