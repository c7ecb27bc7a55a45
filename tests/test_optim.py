"""Optimizers: every update against its formula computed by hand and against torch.optim.

The references below are written straight from the algorithm boxes, out of place and in
float64, independently of the in-place code under test. Every case runs six steps on three
parameters (a matrix, a vector, a scalar) with random gradients whose scale changes from
step to step (so AMSGrad's running maximum matters), and with some gradients missing
(None), which optimizers must skip as PyTorch does.
"""
from __future__ import annotations

import itertools

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn, optim
from chainrule.optim import kernels as kernels_module
from chainrule.optim import optimizer as optimizer_module

SHAPES = [(3, 4), (4,), ()]
STEPS = 6
SCALES = [1.0, 3.0, 0.1, 2.0, 0.05, 1.0]
MISSING = {(1, 1), (3, 0), (4, 2)}  # (step, parameter) pairs whose gradient is None


def initial_values(seed: int = 0) -> list:
    rng = np.random.default_rng(seed)
    return [rng.standard_normal(shape) for shape in SHAPES]


def gradient_sequence(seed: int = 1, missing=MISSING) -> list:
    rng = np.random.default_rng(seed)
    steps = []
    for step in range(STEPS):
        grads = [SCALES[step] * rng.standard_normal(shape) for shape in SHAPES]
        steps.append([None if (step, i) in missing else g for i, g in enumerate(grads)])
    return steps


# ---------------------------------------------------------------------- references by hand

def reference_sgd(theta, grads, lr, momentum=0.0, dampening=0.0, nesterov=False, weight_decay=0.0,
                  momentum_form="gradient"):
    out, buffer = [], None
    for g in grads:
        if g is not None:
            g = g + weight_decay * theta
            if momentum != 0 and momentum_form == "velocity":
                # V_t = μ V_{t-1} - α (1 - τ) g_t (V_1 = -α g_1); θ_t = θ_{t-1} + V_t (+ μ V_t - α g_t - V_t)
                buffer = -lr * g if buffer is None else momentum * buffer - lr * (1 - dampening) * g
                theta = theta + momentum * buffer - lr * g if nesterov else theta + buffer
            else:
                if momentum != 0:
                    buffer = g if buffer is None else momentum * buffer + (1 - dampening) * g
                    g = g + momentum * buffer if nesterov else buffer
                theta = theta - lr * g
        out.append(theta)
    return out


def reference_adagrad(theta, grads, lr=1e-2, lr_decay=0.0, weight_decay=0.0, initial_accumulator_value=0.0, eps=1e-10):
    out, total, t = [], initial_accumulator_value, 0
    for g in grads:
        if g is not None:
            t += 1
            g = g + weight_decay * theta
            total = total + g ** 2
            denominator = np.sqrt(total) + eps
            safe = np.where(denominator == 0, 1.0, denominator)  # D_t = 0 (only with eps = 0): θ unchanged
            theta = theta - np.where(denominator == 0, 0.0, lr / (1 + (t - 1) * lr_decay) * g / safe)
        out.append(theta)
    return out


def reference_rmsprop(theta, grads, lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0.0, momentum=0.0, centered=False):
    out, r, mean, b = [], 0.0, 0.0, 0.0
    for g in grads:
        if g is not None:
            g = g + weight_decay * theta
            r = alpha * r + (1 - alpha) * g ** 2
            if centered:
                mean = alpha * mean + (1 - alpha) * g
                denom = np.sqrt(r - mean ** 2) + eps
            else:
                denom = np.sqrt(r) + eps
            if momentum > 0:
                b = momentum * b + g / denom
                theta = theta - lr * b
            else:
                theta = theta - lr * g / denom
        out.append(theta)
    return out


def reference_adam(theta, grads, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0,
                   amsgrad=False, eps_inside_sqrt=False, decoupled=False):
    beta1, beta2 = betas
    out, v, r, r_max, t = [], 0.0, 0.0, 0.0, 0
    for g in grads:
        if g is not None:
            t += 1
            if decoupled:
                theta = theta * (1 - lr * weight_decay)
            else:
                g = g + weight_decay * theta
            v = beta1 * v + (1 - beta1) * g
            r = beta2 * r + (1 - beta2) * g ** 2
            if amsgrad:
                r_max = np.maximum(r_max, r)
            v_hat = v / (1 - beta1 ** t)
            r_hat = (r_max if amsgrad else r) / (1 - beta2 ** t)
            denom = np.sqrt(r_hat + eps) if eps_inside_sqrt else np.sqrt(r_hat) + eps
            theta = theta - lr * v_hat / denom
        out.append(theta)
    return out


def reference_adamw(theta, grads, weight_decay=1e-2, **kwargs):
    return reference_adam(theta, grads, weight_decay=weight_decay, decoupled=True, **kwargs)


# ---------------------------------------------------------------------- the cases

def _sgd_cases():
    cases = []
    for momentum, dampening, nesterov, weight_decay in itertools.product((0.0, 0.9), (0.0, 0.5), (False, True),
                                                                         (0.0, 0.1)):
        if nesterov and (momentum == 0 or dampening != 0):
            continue
        cases.append(("SGD", {"lr": 0.1, "momentum": momentum, "dampening": dampening,
                              "nesterov": nesterov, "weight_decay": weight_decay}))
        if momentum != 0:  # the velocity form: equal to the gradient form while lr is constant
            cases.append(("SGD", {"lr": 0.1, "momentum": momentum, "dampening": dampening, "nesterov": nesterov,
                                  "weight_decay": weight_decay, "momentum_form": "velocity"}))
    return cases


def _adagrad_cases():
    return [("Adagrad", {"lr": 0.1, "lr_decay": lr_decay, "weight_decay": weight_decay,
                         "initial_accumulator_value": initial})
            for lr_decay, weight_decay, initial in itertools.product((0.0, 0.05), (0.0, 0.1), (0.0, 0.5))] + [
        ("Adagrad", {"lr": 0.1, "eps": 0.0}), ("Adagrad", {"lr": 0.1, "eps": 0.0, "lr_decay": 0.05})]


def _rmsprop_cases():
    return [("RMSprop", {"lr": 0.01, "alpha": 0.9, "momentum": momentum, "centered": centered,
                         "weight_decay": weight_decay})
            for momentum, centered, weight_decay in itertools.product((0.0, 0.9), (False, True), (0.0, 0.1))]


def _adam_cases():
    cases = []
    for name, amsgrad, weight_decay, inside in itertools.product(("Adam", "AdamW"), (False, True), (0.0, 0.1),
                                                                 (False, True)):
        cases.append((name, {"lr": 0.01, "betas": (0.8, 0.99), "amsgrad": amsgrad,
                             "weight_decay": weight_decay, "eps_inside_sqrt": inside}))
    cases.append(("Adam", {"lr": 0.01, "eps": 1e-3}))
    return cases


CASES = _sgd_cases() + _adagrad_cases() + _rmsprop_cases() + _adam_cases()
REFERENCES = {"SGD": reference_sgd, "Adagrad": reference_adagrad, "RMSprop": reference_rmsprop,
              "Adam": reference_adam, "AdamW": reference_adamw}


def case_id(case) -> str:
    name, kwargs = case
    return name + "-" + ",".join(f"{k}={v}" for k, v in kwargs.items() if k != "lr")


def run(name, kwargs, dtype=cr.float64, flatten=True, grads=None, init=None):
    """Trajectory of chainrule's optimizer: per step, the list of parameter values."""
    init = initial_values() if init is None else init
    grads = gradient_sequence() if grads is None else grads
    params = [cr.tensor(a, dtype=dtype, requires_grad=True) for a in init]
    opt = getattr(optim, name)(params, flatten=flatten, **kwargs)
    trajectory = []
    for step_grads in grads:
        for p, g in zip(params, step_grads):
            p.grad = None if g is None else cr.tensor(g, dtype=dtype)
        opt.step()
        trajectory.append([p.numpy().copy() for p in params])
    return trajectory


def run_torch(name, kwargs, dtype="float64", grads=None, init=None):
    torch = pytest.importorskip("torch")
    init = initial_values() if init is None else init
    grads = gradient_sequence() if grads is None else grads
    torch_dtype = getattr(torch, dtype)
    params = [torch.tensor(a, dtype=torch_dtype, requires_grad=True) for a in init]
    # torch has only the default forms (SGD's velocity form equals its gradient form at a constant lr)
    kwargs = {k: v for k, v in kwargs.items() if k not in ("eps_inside_sqrt", "momentum_form")}
    opt = getattr(torch.optim, name)(params, **kwargs)
    trajectory = []
    for step_grads in grads:
        for p, g in zip(params, step_grads):
            p.grad = None if g is None else torch.tensor(g, dtype=torch_dtype)
        opt.step()
        trajectory.append([p.detach().numpy().copy() for p in params])
    return trajectory


def reference(name, kwargs, grads=None, init=None):
    init = initial_values() if init is None else init
    grads = gradient_sequence() if grads is None else grads
    per_param = [REFERENCES[name](theta, [step[i] for step in grads], **kwargs) for i, theta in enumerate(init)]
    return [[per_param[i][step] for i in range(len(init))] for step in range(len(grads))]


def assert_trajectories_close(actual, expected, rtol, atol=0.0):
    for step, (got, want) in enumerate(zip(actual, expected)):
        for i, (a, b) in enumerate(zip(got, want)):
            np.testing.assert_allclose(a, b, rtol=rtol, atol=atol, err_msg=f"step {step + 1}, parameter {i}")


@pytest.fixture(autouse=True)
def compile_small_updates(monkeypatch):
    """Let the compiled kernels run on the tests' small parameters (by default they start
    only from COMPILED_MIN_SIZE elements, where they pay for numba's start-up)."""
    monkeypatch.setattr(kernels_module, "COMPILED_MIN_SIZE", 0)


@pytest.fixture(params=["numpy", "numba"])
def update_path(request, monkeypatch):
    """Run the test once with the plain array path and once with the compiled kernels."""
    if request.param == "numpy":
        monkeypatch.setenv("CHAINRULE_NO_NUMBA", "1")
    else:
        pytest.importorskip("numba")
        monkeypatch.delenv("CHAINRULE_NO_NUMBA", raising=False)
    return request.param


# ---------------------------------------------------------------------- formulas

@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_matches_hand_formula(case, update_path):
    name, kwargs = case
    assert_trajectories_close(run(name, kwargs), reference(name, kwargs), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("case", [c for c in CASES if not c[1].get("eps_inside_sqrt")], ids=case_id)
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_matches_torch(case, dtype):
    name, kwargs = case
    expected = run_torch(name, kwargs, dtype)
    actual = run(name, kwargs, dtype=getattr(cr, dtype))
    if dtype == "float64":
        assert_trajectories_close(actual, expected, rtol=1e-10, atol=1e-12)
    else:
        assert_trajectories_close(actual, expected, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_layouts_and_update_paths_agree(case, monkeypatch):
    """Flat and per-parameter layouts, compiled and plain updates agree in float32: exactly
    across layouts, and to 1e-6 across update paths (they are bit-identical where IEEE
    arithmetic is not contracted into fused multiply-adds, which is the case on x86-64)."""
    name, kwargs = case
    results = {}
    paths = ["numpy"]
    try:
        import numba  # noqa: F401
        paths.append("numba")
    except ImportError:  # pragma: no cover - numba is optional
        pass
    for path in paths:
        if path == "numpy":
            monkeypatch.setenv("CHAINRULE_NO_NUMBA", "1")
        else:
            monkeypatch.delenv("CHAINRULE_NO_NUMBA", raising=False)
        for flatten in (True, False):
            results[path, flatten] = run(name, kwargs, dtype=cr.float32, flatten=flatten)
    baseline = results["numpy", True]
    for (path, _flatten), trajectory in results.items():
        for step, (got, want, same_path) in enumerate(zip(trajectory, baseline, results[path, True])):
            for a, b, c in zip(got, want, same_path):
                assert a.dtype == np.float32
                np.testing.assert_array_equal(a, c, err_msg=f"{path}: layouts differ at step {step + 1}")
                np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7, err_msg=f"{path} vs numpy at step {step + 1}")


def test_compiled_kernels_are_used_when_available(monkeypatch):
    pytest.importorskip("numba")
    monkeypatch.delenv("CHAINRULE_NO_NUMBA", raising=False)
    a = np.zeros(8, np.float32)
    assert kernels_module.compiled_kernels(a, a) is not None
    monkeypatch.setattr(kernels_module, "COMPILED_MIN_SIZE", 9)
    assert kernels_module.compiled_kernels(a, a) is None  # too small to be worth it
    monkeypatch.setattr(kernels_module, "COMPILED_MIN_SIZE", 0)
    assert kernels_module.compiled_kernels(a, np.zeros(8)) is None  # mixed dtypes
    assert kernels_module.compiled_kernels(a, np.zeros((4, 4), np.float32)[:, 0]) is None  # strided
    monkeypatch.setenv("CHAINRULE_NO_NUMBA", "1")
    assert kernels_module.compiled_kernels(a, a) is None


# ---------------------------------------------------------------------- Adam's two eps forms

def test_adam_eps_forms_differ_as_their_formulas_say():
    """After one step from zero state, V̂ = g and R̂ = g²: the default step is
    α g / (|g| + ε) and the course-notes form is α g / √(g² + ε)."""
    g = np.array([1e-6, 1e-3, 1.0, -2.0])
    lr, eps = 0.1, 1e-8
    steps = {}
    for inside in (False, True):
        p = cr.tensor(np.zeros(4), dtype=cr.float64, requires_grad=True)
        p.grad = cr.tensor(g, dtype=cr.float64)
        optim.Adam([p], lr=lr, eps=eps, eps_inside_sqrt=inside).step()
        steps[inside] = -p.numpy()
    np.testing.assert_allclose(steps[False], lr * g / (np.abs(g) + eps), rtol=1e-12)
    np.testing.assert_allclose(steps[True], lr * g / np.sqrt(g ** 2 + eps), rtol=1e-12)
    # where g² ≫ ε the forms agree; at |g| = 1e-6 the √ε = 1e-4 inside the root shrinks the step 100-fold
    np.testing.assert_allclose(steps[True][2:], steps[False][2:], rtol=1e-7)
    assert steps[True][0] == pytest.approx(lr * 1e-6 / np.sqrt(1e-12 + 1e-8), rel=1e-12)
    assert steps[False][0] / steps[True][0] == pytest.approx(np.sqrt(1e-12 + 1e-8) / (1e-6 + 1e-8), rel=1e-12)


# ---------------------------------------------------------------------- momentum's two forms

def quadratic_gradient(x):
    a = np.diag([1.0, 4.0, 9.0])
    return a @ x - np.array([1.0, -2.0, 0.5])


def velocity_form(x0, lrs, mu):
    """V_t = μ V_{t-1} - α_t ∇f(W_{t-1}),  W_t = W_{t-1} + V_t."""
    w, v, path = x0.copy(), np.zeros_like(x0), []
    for lr in lrs:
        v = mu * v - lr * quadratic_gradient(w)
        w = w + v
        path.append(w.copy())
    return path


def gradient_form(x0, lrs, mu):
    """g_k = ∇f(θ_{k-1}) + μ g_{k-1},  θ_k = θ_{k-1} - α_k g_k."""
    x, g, path = x0.copy(), np.zeros_like(x0), []
    for lr in lrs:
        g = quadratic_gradient(x) + mu * g
        x = x - lr * g
        path.append(x.copy())
    return path


def sgd_momentum_form(x0, lrs, mu, form=None, scheduler=False):
    """SGD's path with learning rates ``lrs`` (set by hand, or by a StepLR that divides by 10
    after 5 steps when ``scheduler``)."""
    x = cr.tensor(x0, dtype=cr.float64, requires_grad=True)
    options = {} if form is None else {"momentum_form": form}
    opt = optim.SGD([x], lr=lrs[0], momentum=mu, **options)
    schedule = optim.lr_scheduler.StepLR(opt, step_size=5, gamma=0.1) if scheduler else None
    path = []
    for lr in lrs:
        if schedule is None:
            opt.param_groups[0]["lr"] = lr
        assert opt.param_groups[0]["lr"] == pytest.approx(lr, rel=1e-15)
        x.grad = cr.tensor(quadratic_gradient(x.numpy()), dtype=cr.float64)
        opt.step()
        if schedule is not None:
            schedule.step()
        path.append(x.numpy().copy())
    return path


def test_momentum_forms_coincide_for_a_constant_learning_rate():
    x0 = np.array([2.0, -1.0, 3.0])
    lrs = [0.05] * 40
    expected = velocity_form(x0, lrs, 0.9)
    np.testing.assert_allclose(gradient_form(x0, lrs, 0.9), expected, rtol=1e-12, atol=1e-12)
    for form in (None, "gradient", "velocity"):
        np.testing.assert_allclose(sgd_momentum_form(x0, lrs, 0.9, form), expected, rtol=1e-12, atol=1e-12)


def test_momentum_forms_differ_under_a_schedule():
    x0 = np.array([2.0, -1.0, 3.0])
    lrs = [0.05] * 5 + [0.005] * 5  # StepLR(step_size=5, gamma=0.1)
    by_hand = {"gradient": gradient_form(x0, lrs, 0.9), "velocity": velocity_form(x0, lrs, 0.9)}
    ours = {form: sgd_momentum_form(x0, lrs, 0.9, form, scheduler=True) for form in by_hand}
    for form in by_hand:  # each form is its formula, step by step
        np.testing.assert_allclose(ours[form], by_hand[form], rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(sgd_momentum_form(x0, lrs, 0.9, scheduler=True), ours["gradient"], rtol=0, atol=0)
    np.testing.assert_allclose(ours["gradient"][4], ours["velocity"][4], rtol=1e-12)  # identical while α is constant
    # after the decay the gradient form rescales its whole memory by the new α; the velocity keeps it
    assert np.abs(ours["gradient"][5] - ours["velocity"][5]).max() > 1e-3
    step_gradient = ours["gradient"][5] - ours["gradient"][4]
    step_velocity = ours["velocity"][5] - ours["velocity"][4]
    assert np.linalg.norm(step_velocity) > 3 * np.linalg.norm(step_gradient)  # 4.6 times here


def test_velocity_form_state_is_recorded():
    x = cr.tensor([1.0, 2.0], dtype=cr.float64, requires_grad=True)
    opt = optim.SGD([x], lr=0.1, momentum=0.5, momentum_form="velocity")
    x.grad = cr.tensor([1.0, -2.0], dtype=cr.float64)
    opt.step()
    state = opt.state_dict()
    assert state["param_groups"][0]["momentum_form"] == "velocity"
    np.testing.assert_array_equal(state["state"][0]["velocity"], [-0.1, 0.2])  # V_1 = -α g_1
    assert "momentum_buffer" not in state["state"][0]
    y = cr.tensor([1.0, 2.0], dtype=cr.float64, requires_grad=True)
    other = optim.SGD([y], lr=0.1, momentum=0.5)  # the form comes from the state dict
    other.load_state_dict(state)
    assert other.param_groups[0]["momentum_form"] == "velocity"


def test_adagrad_with_zero_eps_leaves_coordinates_without_gradient_unchanged(update_path):
    # coordinate 0 never has a gradient (G_t = 0: √G_t + 0 = 0), coordinate 1 only from step 2,
    # coordinate 2 always; in float32, 1e-30 squared underflows to 0 while the gradient is not 0
    for dtype, tiny in ((cr.float64, 0.0), (cr.float32, 1e-30)):
        x = cr.tensor([1.0, -2.0, 3.0, 4.0], dtype=dtype, requires_grad=True)
        opt = optim.Adagrad([x], lr=0.5, eps=0.0)
        expected, total = x.numpy().astype(np.float64), np.zeros(4)
        for step, g in enumerate(([0.0, 0.0, 2.0, tiny], [0.0, 3.0, -1.0, tiny], [0.0, -1.0, 0.5, tiny])):
            x.grad = cr.tensor(g, dtype=dtype)
            opt.step()
            g = np.array(g)
            total += g.astype(np.float32 if dtype == cr.float32 else np.float64) ** 2
            moved = total > 0
            expected[moved] -= 0.5 * g[moved] / np.sqrt(total[moved])
            values = x.numpy()
            assert np.isfinite(values).all(), f"step {step + 1}: {values}"
            assert values[0] == 1.0 and values[3] == 4.0  # untouched, bit for bit
            np.testing.assert_allclose(values, expected, rtol=1e-6)


# ---------------------------------------------------------------------- groups and skipping

def test_param_groups_with_their_own_learning_rates():
    init, grads = initial_values(), gradient_sequence(missing=set())
    params = [cr.tensor(a, dtype=cr.float64, requires_grad=True) for a in init]
    opt = optim.SGD([{"params": params[:2], "lr": 0.5}, {"params": params[2:]}], lr=0.01, momentum=0.9)
    assert [g["lr"] for g in opt.param_groups] == [0.5, 0.01]
    assert opt.param_groups[1]["momentum"] == 0.9
    for step_grads in grads:
        for p, g in zip(params, step_grads):
            p.grad = cr.tensor(g, dtype=cr.float64)
        opt.step()
    for i, lr in enumerate([0.5, 0.5, 0.01]):
        expected = reference_sgd(init[i], [s[i] for s in grads], lr=lr, momentum=0.9)[-1]
        np.testing.assert_allclose(params[i].numpy(), expected, rtol=1e-12)
    torch = pytest.importorskip("torch")
    tparams = [torch.tensor(a, requires_grad=True) for a in init]
    topt = torch.optim.SGD([{"params": tparams[:2], "lr": 0.5}, {"params": tparams[2:]}], lr=0.01, momentum=0.9)
    for step_grads in grads:
        for p, g in zip(tparams, step_grads):
            p.grad = torch.tensor(g)
        topt.step()
    for p, q in zip(params, tparams):
        np.testing.assert_allclose(p.numpy(), q.detach().numpy(), rtol=1e-12)


def test_parameters_without_gradient_are_skipped_entirely():
    a = cr.tensor([1.0, 2.0], dtype=cr.float64, requires_grad=True)
    b = cr.tensor([3.0], dtype=cr.float64, requires_grad=True)
    opt = optim.Adam([a, b], lr=0.1)
    a.grad = cr.tensor([1.0, 1.0], dtype=cr.float64)
    opt.step()
    assert b.tolist() == [3.0] and b not in opt.state and opt.state[a]["step"] == 1
    b.grad = cr.tensor([1.0], dtype=cr.float64)
    opt.step()
    assert opt.state[a]["step"] == 2 and opt.state[b]["step"] == 1
    # b's first Adam step moves it by lr (V̂ = g, R̂ = g² at t = 1)
    assert b.item() == pytest.approx(3.0 - 0.1, rel=1e-7)


def test_add_param_group_uses_the_defaults_and_rejects_duplicates():
    a = cr.tensor([1.0], requires_grad=True)
    b = cr.tensor([2.0], requires_grad=True)
    opt = optim.Adam([a], lr=0.1, betas=(0.5, 0.6))
    opt.add_param_group({"params": b, "lr": 0.2})
    assert opt.param_groups[1]["betas"] == (0.5, 0.6) and opt.param_groups[1]["lr"] == 0.2
    with pytest.raises(ValueError, match="more than one parameter group"):
        opt.add_param_group({"params": [a]})
    with pytest.raises(ValueError, match="appears twice"):
        optim.SGD([a, a], lr=0.1)
    a.grad, b.grad = cr.tensor([1.0]), cr.tensor([1.0])
    opt.step()
    assert b.item() == pytest.approx(2.0 - 0.2, rel=1e-6)


# ---------------------------------------------------------------------- flat buffers

class SlotTensor(cr.Tensor):
    """A leaf tensor that accepts a grad_slot, as nn.Parameter does."""

    __slots__ = ("grad_slot",)


def slot_params(dtype=cr.float32):
    return [SlotTensor(a, dtype=dtype, requires_grad=True) for a in initial_values()]


def test_gradient_slots_hold_the_same_gradients_as_plain_leaves():
    """The grad-slot fast path (engine/autograd/grad_slots.py: gradients written straight into
    an optimizer's flat buffer, by the fused layers and at the end of backward) gives, in
    float64, the gradients that the same model's parameters get without slots."""
    x = cr.tensor(np.random.default_rng(0).standard_normal((16, 5)), dtype=cr.float64)
    target = cr.tensor(np.random.default_rng(1).integers(0, 3, 16))
    grads = []
    for flatten in (True, False):
        cr.manual_seed(4)
        model = nn.MLP([5, 8, 8, 3]).double()
        scale = nn.Parameter(cr.tensor([1.5, 0.5, 2.0], dtype=cr.float64))  # a leaf no fused node sees
        params = [*model.parameters(), scale]
        optim.SGD(params, lr=0.1, flatten=flatten)
        loss = nn.functional.cross_entropy(model(x) * scale, target) + 0.5 * (model.layers[0].weight ** 2).sum()
        loss.backward()  # the fused chain claims its slots; scale's gradient is copied into its slot at the
        #                  end; the first weight's second gradient (the penalty's) is added to its slot
        assert all((p.grad.data is p.grad_slot) == flatten for p in params)
        grads.append([p.grad.numpy().copy() for p in params])
    for with_slots, without in zip(*grads):
        np.testing.assert_allclose(with_slots, without, rtol=1e-14, atol=1e-15)


def test_flat_layout_shares_one_buffer_and_backward_fills_the_slots():
    params = slot_params()
    opt = optim.SGD(params, lr=0.1)
    chunk = opt._layouts[0][0]
    for p in params:
        assert np.shares_memory(p.data, chunk.data) and np.shares_memory(p.grad_slot, chunk.grad)
    loss = sum(((p * p).sum() for p in params[1:]), (params[0] * 3.0).sum())
    loss.backward()
    for p in params:
        assert p.grad.data is p.grad_slot  # backward wrote into the slot
    expected = [p.numpy() - 0.1 * g
                for p, g in zip(params, [np.full((3, 4), 3.0), 2 * params[1].numpy(), 2 * params[2].numpy()])]
    opt.step()
    for p, want in zip(params, expected):
        np.testing.assert_allclose(p.numpy(), want, rtol=1e-6)
    opt.zero_grad()
    assert all(p.grad is None for p in params)


def test_flat_layout_with_nn_parameters_matches_torch():
    nn = pytest.importorskip("chainrule.nn")
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(3)
    x, y = rng.standard_normal((32, 5)), rng.standard_normal((32, 2))
    w0, b0 = rng.standard_normal((5, 2)), rng.standard_normal(2)
    w, b = nn.Parameter(cr.tensor(w0, dtype=cr.float64)), nn.Parameter(cr.tensor(b0, dtype=cr.float64))
    tw, tb = torch.tensor(w0, requires_grad=True), torch.tensor(b0, requires_grad=True)
    opt = optim.Adam([w, b], lr=0.05, amsgrad=True)
    topt = torch.optim.Adam([tw, tb], lr=0.05, amsgrad=True)
    xs, ys = cr.tensor(x, dtype=cr.float64), cr.tensor(y, dtype=cr.float64)
    for _ in range(10):
        opt.zero_grad()
        ((xs @ w + b - ys) ** 2).mean().backward()
        assert w.grad.data is w.grad_slot
        opt.step()
        topt.zero_grad()
        ((torch.tensor(x) @ tw + tb - torch.tensor(y)) ** 2).mean().backward()
        topt.step()
    np.testing.assert_allclose(w.numpy(), tw.detach().numpy(), rtol=1e-10)
    np.testing.assert_allclose(b.numpy(), tb.detach().numpy(), rtol=1e-10)


def test_accumulated_gradients_and_zero_grad_without_none():
    params = slot_params()
    opt = optim.SGD(params, lr=1.0)
    for _ in range(2):  # two backward passes accumulate
        (params[0] * 2.0).sum().backward()
    np.testing.assert_array_equal(params[0].grad.numpy(), np.full((3, 4), 4.0))
    opt.zero_grad(set_to_none=False)
    assert params[0].grad is not None and not params[0].grad.numpy().any()


def test_replaced_parameter_data_is_readopted():
    params = [cr.tensor(a, dtype=cr.float32, requires_grad=True) for a in initial_values()]
    opt = optim.SGD(params, lr=0.5)
    params[1].data = np.ones(4, np.float32)  # e.g. a load that assigns instead of copying
    for p in params:
        p.grad = cr.ones_like(p)
    opt.step()
    np.testing.assert_array_equal(params[1].numpy(), np.full(4, 0.5, np.float32))
    assert np.shares_memory(params[1].data, opt._layouts[0][0].data)
    params[1].data = np.ones(5, np.float32)
    with pytest.raises(RuntimeError, match=r"replaced since the optimizer was built.*shape \(4,\)"):
        opt.step()


def test_float32_stays_float32():
    params = [cr.tensor(a, dtype=cr.float32, requires_grad=True) for a in initial_values()]
    for flatten in (True, False):
        opt = optim.Adam(params, lr=0.01, amsgrad=True, weight_decay=0.1, flatten=flatten)
        for p in params:
            p.grad = cr.ones_like(p)
        opt.step()
        assert all(p.dtype == cr.float32 for p in params)
        for entry in opt.state.values():
            assert all(v.dtype == np.float32 for k, v in entry.items() if k != "step")


def test_noncontiguous_parameters_without_flattening():
    base = np.arange(12, dtype=np.float32).reshape(3, 4)
    p = cr.from_numpy(base.T).requires_grad_()  # a strided view: the update must write through it
    p.grad = cr.ones(4, 3)
    optim.RMSprop([p], lr=0.1, momentum=0.5, flatten=False).step()
    expected = np.arange(12, dtype=np.float32).reshape(3, 4).T - 0.1 * 1 / (np.sqrt(0.01) + 1e-8)
    np.testing.assert_allclose(base.T, expected, rtol=1e-6, atol=1e-6)


def test_closure_is_called_with_gradients_enabled():
    x = cr.tensor([3.0], dtype=cr.float64, requires_grad=True)
    opt = optim.SGD([x], lr=0.25)

    def closure():
        opt.zero_grad()
        loss = (x * x).sum()
        loss.backward()
        return loss

    with cr.no_grad():
        loss = opt.step(closure)
    assert loss.item() == 9.0 and x.item() == pytest.approx(3.0 - 0.25 * 6.0)


# ---------------------------------------------------------------------- state dicts

RESUME_CASES = [
    ("SGD", {"lr": 0.1, "momentum": 0.9, "nesterov": True}),
    ("SGD", {"lr": 0.1, "momentum": 0.9, "momentum_form": "velocity"}),
    ("Adagrad", {"lr": 0.1, "lr_decay": 0.01, "initial_accumulator_value": 0.1}),
    ("Adagrad", {"lr": 0.1, "eps": 0.0}),
    ("RMSprop", {"lr": 0.01, "momentum": 0.9, "centered": True}),
    ("Adam", {"lr": 0.01, "amsgrad": True}),
    ("AdamW", {"lr": 0.01, "eps_inside_sqrt": True}),
]


@pytest.mark.parametrize("case", RESUME_CASES, ids=case_id)
@pytest.mark.parametrize("resume_flatten", [True, False])
def test_state_dict_round_trip_continues_bit_identically(case, resume_flatten):
    name, kwargs = case
    grads = gradient_sequence(missing={(1, 1)})
    params = [cr.tensor(a, dtype=cr.float32, requires_grad=True) for a in initial_values()]
    opt = getattr(optim, name)(params, **kwargs)

    def train(optimizer, tensors, steps):
        for step_grads in steps:
            for p, g in zip(tensors, step_grads):
                p.grad = None if g is None else cr.tensor(g, dtype=cr.float32)
            optimizer.step()

    train(opt, params, grads[:3])
    saved = opt.state_dict()
    saved_copy = {i: {k: np.copy(v) for k, v in s.items()} for i, s in saved["state"].items()}
    values = [p.numpy().copy() for p in params]
    train(opt, params, grads[3:])
    for i, entry in saved["state"].items():  # the checkpoint holds copies, not live buffers
        for key, value in entry.items():
            np.testing.assert_array_equal(value, saved_copy[i][key])

    resumed = [cr.tensor(v, dtype=cr.float32, requires_grad=True) for v in values]
    fresh = getattr(optim, name)(resumed, lr=123.0, flatten=resume_flatten)  # hyper-parameters come from the state
    fresh.load_state_dict(saved)
    assert fresh.param_groups[0]["lr"] == kwargs["lr"]
    train(fresh, resumed, grads[3:])
    for p, q in zip(params, resumed):
        np.testing.assert_array_equal(p.numpy(), q.numpy())
    assert fresh.state[resumed[0]]["step"] == opt.state[params[0]]["step"] == 6


def test_state_dict_layout_matches_pytorch():
    a = cr.tensor([1.0, 2.0], requires_grad=True)
    b = cr.tensor([[3.0]], requires_grad=True)
    c = cr.tensor([4.0], requires_grad=True)
    opt = optim.Adam([{"params": [a, b]}, {"params": [c], "lr": 0.5}], lr=0.1)
    a.grad, b.grad = cr.ones_like(a), cr.ones_like(b)
    opt.step()
    state = opt.state_dict()
    assert [g["params"] for g in state["param_groups"]] == [[0, 1], [2]]
    assert state["param_groups"][1]["lr"] == 0.5 and state["param_groups"][0]["betas"] == (0.9, 0.999)
    assert sorted(state["state"]) == [0, 1]  # c has not been updated yet
    assert state["state"][1]["step"] == 1 and state["state"][1]["exp_avg"].shape == (1, 1)
    assert isinstance(state["state"][0]["exp_avg_sq"], np.ndarray)


def _trained_adam():
    params = [cr.tensor(a, dtype=cr.float32, requires_grad=True) for a in initial_values()]
    opt = optim.Adam(params, lr=0.1)
    for p in params:
        p.grad = cr.ones_like(p)
    opt.step()
    return opt


def _with_bad_shape(state):
    state["state"][0]["exp_avg"] = np.zeros((4, 3))
    return state


def _with_bad_step(state):
    state["state"][0]["step"] = -1
    return state


@pytest.mark.parametrize("corrupt, error, match", [
    (lambda s: {**s, "param_groups": s["param_groups"] * 2}, ValueError, "2 parameter group"),
    (lambda s: {**s, "param_groups": [{**s["param_groups"][0], "params": [0, 1]}]}, ValueError, "has 2 parameter"),
    (_with_bad_shape, ValueError, r"shape \(4, 3\) but the parameter has shape \(3, 4\)"),
    (_with_bad_step, ValueError, "must be an int >= 0"),
    (lambda s: {**s, "state": {7: {"step": 1}}}, ValueError, "parameter 7"),
    (lambda s: {"state": s["state"]}, TypeError, "'state' and 'param_groups'"),
    (lambda s: {**s, "param_groups": [{**s["param_groups"][0], "lr": -1.0}]}, ValueError, "lr must be >= 0"),
])
def test_load_state_dict_validates_before_changing_anything(corrupt, error, match):
    opt = _trained_adam()
    before = {k: np.copy(v) for k, v in opt.state_dict()["state"][0].items()}
    with pytest.raises(error, match=match):
        opt.load_state_dict(corrupt(opt.state_dict()))
    after = opt.state_dict()["state"][0]
    for key, value in before.items():
        np.testing.assert_array_equal(after[key], value)


# ---------------------------------------------------------------------- validation

def _p():
    return [cr.tensor([1.0], requires_grad=True)]


@pytest.mark.parametrize("make, error, match", [
    (lambda: optim.SGD(_p(), lr=-0.1), ValueError, "SGD: lr must be >= 0; got -0.1"),
    (lambda: optim.SGD(_p(), lr=0.1, momentum=-1), ValueError, "momentum must be >= 0"),
    (lambda: optim.SGD(_p(), lr=0.1, dampening=1.5), ValueError, r"dampening must be in \[0, 1\]"),
    (lambda: optim.SGD(_p(), lr=0.1, nesterov=True), ValueError,
     "nesterov=True requires momentum > 0 and dampening = 0"),
    (lambda: optim.SGD(_p(), lr=0.1, momentum=0.9, dampening=0.1, nesterov=True), ValueError, "dampening = 0"),
    (lambda: optim.SGD(_p(), lr=0.1, weight_decay=-1e-4), ValueError, "weight_decay must be >= 0"),
    (lambda: optim.SGD(_p(), lr="0.1"), TypeError, "lr must be a real number"),
    (lambda: optim.SGD(_p(), lr=float("nan")), ValueError, "lr must be finite"),
    (lambda: optim.Adam(_p(), betas=(1.0, 0.999)), ValueError, r"betas\[0\] must be in \[0, 1\); got 1.0"),
    (lambda: optim.Adam(_p(), betas=(0.9, -0.1)), ValueError, r"betas\[1\] must be in \[0, 1\)"),
    (lambda: optim.Adam(_p(), betas=0.9), TypeError, "betas must be a pair"),
    (lambda: optim.Adam(_p(), eps=0.0), ValueError, "eps must be > 0"),
    (lambda: optim.Adam(_p(), amsgrad=1), TypeError, "amsgrad must be True or False"),
    (lambda: optim.AdamW(_p(), weight_decay=-1), ValueError, "AdamW: weight_decay must be >= 0"),
    (lambda: optim.RMSprop(_p(), alpha=1.0), ValueError, r"alpha must be in \[0, 1\)"),
    (lambda: optim.RMSprop(_p(), centered="yes"), TypeError, "centered must be True or False"),
    (lambda: optim.Adagrad(_p(), lr_decay=-1), ValueError, "lr_decay must be >= 0"),
    (lambda: optim.Adagrad(_p(), initial_accumulator_value=-1), ValueError, "initial_accumulator_value must be >= 0"),
    (lambda: optim.Adagrad(_p(), eps=-1e-10), ValueError, "Adagrad: eps must be >= 0"),
    (lambda: optim.SGD(_p(), lr=0.1, momentum_form="heavy ball"), ValueError,
     "SGD: momentum_form must be 'gradient' or 'velocity'; got 'heavy ball'"),
    (lambda: optim.Adam([{"params": _p(), "lr": -1}]), ValueError, r"Adam \(param group 0\): lr must be >= 0"),
    (lambda: optim.Adam(cr.tensor([1.0], requires_grad=True)), TypeError, "got a single Tensor"),
    (lambda: optim.Adam([]), ValueError, "empty parameter list"),
    (lambda: optim.Adam([cr.tensor([1, 2])]), TypeError, "only floating-point tensors"),
    (lambda: optim.Adam([cr.tensor([1.0], requires_grad=True) * 2]), ValueError, "not a leaf tensor"),
    (lambda: optim.Adam([[1.0]]), TypeError, "optimizers update Tensors"),
    (lambda: optim.Adam(_p(), flatten=1), TypeError, "flatten must be True or False"),
])
def test_hyper_parameters_are_validated_with_their_names(make, error, match):
    with pytest.raises(error, match=match):
        make()


def test_sgd_requires_a_learning_rate():
    with pytest.raises(TypeError, match="lr"):
        optim.SGD(_p())


def test_repr_lists_the_groups():
    text = repr(optim.SGD(_p(), lr=0.1, momentum=0.9))
    assert text.startswith("SGD (") and "Parameter Group 0" in text and "momentum: 0.9" in text


def test_every_optimizer_runs_its_compiled_kernel(monkeypatch):
    pytest.importorskip("numba")
    monkeypatch.delenv("CHAINRULE_NO_NUMBA", raising=False)
    used = []

    def spy(*arrays):
        kernels = kernels_module.compiled_kernels(*arrays)
        used.append(kernels is not None)
        return kernels

    monkeypatch.setattr(optimizer_module, "compiled_kernels", spy)  # where every optimizer's step looks it up
    for name, kwargs in [("SGD", {"lr": 0.1, "momentum": 0.9}), ("Adagrad", {}), ("RMSprop", {"centered": True}),
                         ("Adam", {"amsgrad": True}), ("AdamW", {}),
                         ("SGD", {"lr": 0.1, "momentum": 0.9, "momentum_form": "velocity"}),
                         ("Adagrad", {"eps": 0.0})]:
        run(name, kwargs, grads=gradient_sequence(missing=set())[:1])
    assert len(used) == 7 and all(used)


def test_the_common_step_and_the_general_step_agree_whatever_changes_between_steps():
    # steps whose gradients sit in their slots take the one-pass check; a hand-set
    # gradient, a missing one or a reloaded state sends a step down the general path
    nn = pytest.importorskip("chainrule.nn")
    rng = np.random.default_rng(8)
    starts = [rng.standard_normal((3, 4)), rng.standard_normal(4)]
    flat = [nn.Parameter(cr.tensor(a, dtype=cr.float64)) for a in starts]
    own = [nn.Parameter(cr.tensor(a, dtype=cr.float64)) for a in starts]
    flat_opt = optim.SGD(flat, lr=0.1, momentum=0.9)
    own_opt = optim.SGD(own, lr=0.1, momentum=0.9, flatten=False)
    x = cr.tensor(rng.standard_normal((5, 3)), dtype=cr.float64)
    for step in range(6):
        for params, opt in ((flat, flat_opt), (own, own_opt)):
            opt.zero_grad()
            ((x @ params[0] + params[1]) ** 2).mean().backward()
            if step == 2:
                params[1].grad = cr.ones(4, dtype=cr.float64)  # not the slot: copied into it
            if step == 3:
                params[0].grad = None  # skipped this step
            if step == 4:
                opt.load_state_dict(opt.state_dict())
            opt.step()
        for a, b in zip(flat, own):
            np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-14, atol=1e-15)
    assert flat_opt.state[flat[0]]["step"] == own_opt.state[own[0]]["step"] == 5
