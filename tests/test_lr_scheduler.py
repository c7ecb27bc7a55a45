"""Learning-rate schedules: their sequences against closed forms and torch.optim.lr_scheduler."""
from __future__ import annotations

import math

import pytest

import chainrule as cr
from chainrule import optim
from chainrule.optim import lr_scheduler as sched

BASE = 0.1
STEPS = 25


def make_optimizer(lrs=(BASE,)):
    groups = [{"params": [cr.tensor([1.0], requires_grad=True)], "lr": lr} for lr in lrs]
    return optim.SGD(groups, lr=lrs[0], momentum=0.9)


def sequence(scheduler, steps=STEPS, metrics=None):
    """The lr of every group at t = 0, 1, …, steps."""
    lrs = [scheduler.get_last_lr()]
    for t in range(steps):
        scheduler.optimizer.step()
        if metrics is None:
            scheduler.step()
        else:
            scheduler.step(metrics[t])
        lrs.append(scheduler.get_last_lr())
        assert lrs[-1] == [g["lr"] for g in scheduler.optimizer.param_groups]
    return lrs


def torch_sequence(make, steps=STEPS, metrics=None, lrs=(BASE,)):
    torch = pytest.importorskip("torch")
    params = [torch.zeros(1, requires_grad=True) for _ in lrs]
    opt = torch.optim.SGD([{"params": [p], "lr": lr} for p, lr in zip(params, lrs)], lr=lrs[0], momentum=0.9)
    scheduler = make(torch.optim.lr_scheduler, opt)
    out = [[g["lr"] for g in opt.param_groups]]
    for t in range(steps):
        opt.step()
        if metrics is None:
            scheduler.step()
        else:
            scheduler.step(metrics[t])
        out.append([g["lr"] for g in opt.param_groups])
    return out


def closed(fn, lrs=(BASE,), steps=STEPS):
    return [[fn(base, t) for base in lrs] for t in range(steps + 1)]


def assert_sequences_close(actual, expected):
    assert len(actual) == len(expected)
    for t, (a, b) in enumerate(zip(actual, expected)):
        assert a == pytest.approx(b, rel=1e-12, abs=1e-15), f"t = {t}"


# ---------------------------------------------------------------------- closed forms

def cosine(base, t, t_max=10, eta_min=0.001):
    return eta_min + (base - eta_min) * (1 + math.cos(math.pi * t / t_max)) / 2


def warm_then_cosine(base, t, warmup=4, start=0.25):
    return base * (start + (1 - start) * t / warmup) if t < warmup else cosine(base, t - warmup)


CLOSED_FORM_CASES = [
    ("StepLR", lambda o: sched.StepLR(o, step_size=3, gamma=0.5), lambda b, t: b * 0.5 ** (t // 3)),
    ("ExponentialLR", lambda o: sched.ExponentialLR(o, gamma=0.9), lambda b, t: b * 0.9 ** t),
    ("CosineAnnealingLR", lambda o: sched.CosineAnnealingLR(o, T_max=10, eta_min=0.001), cosine),
    ("LinearWarmup", lambda o: sched.LinearWarmup(o, warmup_steps=5, start_factor=0.2),
     lambda b, t: b * (0.2 + 0.8 * min(t, 5) / 5)),
    ("LinearWarmup+Cosine", lambda o: sched.LinearWarmup(
        o, warmup_steps=4, start_factor=0.25, then=sched.CosineAnnealingLR(o, T_max=10, eta_min=0.001)),
     warm_then_cosine),
    ("LinearWarmup+StepLR", lambda o: sched.LinearWarmup(o, warmup_steps=2, then=sched.StepLR(o, step_size=3)),
     lambda b, t: b * (0.1 + 0.9 * t / 2) if t < 2 else b * 0.1 ** ((t - 2) // 3)),
]


@pytest.mark.parametrize("name, make, formula", CLOSED_FORM_CASES, ids=[c[0] for c in CLOSED_FORM_CASES])
@pytest.mark.parametrize("lrs", [(BASE,), (0.1, 0.03)], ids=["one group", "two groups"])
def test_sequence_matches_closed_form(name, make, formula, lrs):
    assert_sequences_close(sequence(make(make_optimizer(lrs))), closed(formula, lrs))


TORCH_CASES = [
    ("StepLR", lambda o: sched.StepLR(o, step_size=3, gamma=0.5), lambda m, o: m.StepLR(o, step_size=3, gamma=0.5)),
    ("ExponentialLR", lambda o: sched.ExponentialLR(o, gamma=0.9), lambda m, o: m.ExponentialLR(o, gamma=0.9)),
    ("CosineAnnealingLR", lambda o: sched.CosineAnnealingLR(o, T_max=10, eta_min=0.001),
     lambda m, o: m.CosineAnnealingLR(o, T_max=10, eta_min=0.001)),
    ("LinearWarmup~LinearLR", lambda o: sched.LinearWarmup(o, warmup_steps=5, start_factor=0.2),
     lambda m, o: m.LinearLR(o, start_factor=0.2, end_factor=1.0, total_iters=5)),
    ("LinearWarmup+Cosine~SequentialLR", lambda o: sched.LinearWarmup(
        o, warmup_steps=4, start_factor=0.25, then=sched.CosineAnnealingLR(o, T_max=10)),
     lambda m, o: m.SequentialLR(o, [m.LinearLR(o, start_factor=0.25, total_iters=4), m.CosineAnnealingLR(o, T_max=10)],
                                 milestones=[4])),
]


@pytest.mark.filterwarnings("ignore")
@pytest.mark.parametrize("name, ours, theirs", TORCH_CASES, ids=[c[0] for c in TORCH_CASES])
def test_sequence_matches_torch(name, ours, theirs):
    lrs = (0.1, 0.03)
    expected = torch_sequence(theirs, lrs=lrs)
    actual = sequence(ours(make_optimizer(lrs)))
    for t, (a, b) in enumerate(zip(actual, expected)):
        assert a == pytest.approx(b, rel=1e-9, abs=1e-12), f"t = {t}"


# ---------------------------------------------------------------------- plateau

PLATEAU_METRICS = [5.0, 4.0, 4.0, 3.9999, 4.1, 4.2, 3.0, 3.0, 3.0, 3.0, 3.0, 3.0, 2.9, 3.5, 3.5, 3.5, 3.5,
                   3.5, 3.5, 3.5, 1.0, 1.0, 1.0, 1.0, 1.0]

PLATEAU_CASES = [
    {"patience": 2},
    {"patience": 1, "factor": 0.5, "cooldown": 2},
    {"patience": 0, "factor": 0.5, "min_lr": 0.02},
    {"patience": 1, "threshold": 0.1, "threshold_mode": "abs"},
    {"mode": "max", "patience": 1, "factor": 0.3},
    {"mode": "max", "patience": 2, "threshold_mode": "abs", "threshold": 0.5},
]


@pytest.mark.parametrize("kwargs", PLATEAU_CASES, ids=lambda k: ",".join(f"{a}={b}" for a, b in k.items()))
def test_reduce_on_plateau_matches_torch(kwargs):
    lrs = (0.1, 0.03)
    expected = torch_sequence(lambda m, o: m.ReduceLROnPlateau(o, **kwargs), metrics=PLATEAU_METRICS, lrs=lrs)
    actual = sequence(sched.ReduceLROnPlateau(make_optimizer(lrs), **kwargs), metrics=PLATEAU_METRICS)
    for t, (a, b) in enumerate(zip(actual, expected)):
        assert a == pytest.approx(b, rel=1e-12), f"t = {t}"


def test_reduce_on_plateau_by_hand():
    """patience 2: the third bad epoch in a row divides the lr by 10."""
    scheduler = sched.ReduceLROnPlateau(make_optimizer(), patience=2)
    lrs = sequence(scheduler, steps=6, metrics=[1.0, 1.0, 1.0, 1.0, 0.5, 0.5])
    assert [lr[0] for lr in lrs] == pytest.approx([0.1, 0.1, 0.1, 0.1, 0.01, 0.01, 0.01])
    assert scheduler.best == 0.5 and scheduler.num_bad_epochs == 1


def test_warmup_then_plateau_passes_the_metric_after_the_warmup():
    opt = make_optimizer()
    plateau = sched.ReduceLROnPlateau(opt, patience=0, factor=0.5)
    warm = sched.LinearWarmup(opt, warmup_steps=2, start_factor=0.5, then=plateau)
    lrs = sequence(warm, steps=5, metrics=[9.0, 9.0, 1.0, 2.0, 3.0])
    assert [lr[0] for lr in lrs] == pytest.approx([0.05, 0.075, 0.1, 0.1, 0.05, 0.025])


# ---------------------------------------------------------------------- state and errors

@pytest.mark.parametrize("make", [
    lambda o: sched.StepLR(o, step_size=3),
    lambda o: sched.CosineAnnealingLR(o, T_max=7),
    lambda o: sched.LinearWarmup(o, warmup_steps=3, then=sched.ExponentialLR(o, gamma=0.8)),
    lambda o: sched.LinearWarmup(o, warmup_steps=8, then=sched.ExponentialLR(o, gamma=0.8)),
    lambda o: sched.ReduceLROnPlateau(o, patience=1),
], ids=["StepLR", "Cosine", "Warmup+Exponential", "in-Warmup+Exponential", "Plateau"])
def test_state_dict_round_trip_resumes_the_sequence(make):
    metrics = [3.0, 2.0, 2.0, 2.0, 2.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0]
    plateau = "Plateau" in type(make(make_optimizer())).__name__
    full = sequence(make(make_optimizer()), steps=12, metrics=metrics if plateau else None)
    first_opt = make_optimizer()
    first = make(first_opt)
    sequence(first, steps=5, metrics=metrics if plateau else None)
    saved_sched, saved_opt = first.state_dict(), first_opt.state_dict()
    resumed_opt = make_optimizer()
    resumed_opt.load_state_dict(saved_opt)
    resumed = make(resumed_opt)  # building it sets the rates of t = 0 ...
    resumed.load_state_dict(saved_sched)
    assert [g["lr"] for g in resumed_opt.param_groups] == full[5]  # ... loading puts back those in force
    rest = sequence(resumed, steps=7, metrics=metrics[5:] if plateau else None)
    assert rest == full[5:]


@pytest.mark.parametrize("make, error, match", [
    (lambda o: sched.StepLR(o, step_size=0), ValueError, "step_size must be an int >= 1"),
    (lambda o: sched.StepLR(o, step_size=2, gamma=-1), ValueError, "gamma must be > 0"),
    (lambda o: sched.ExponentialLR(o, gamma="x"), TypeError, "gamma must be a finite real number"),
    (lambda o: sched.CosineAnnealingLR(o, T_max=0), ValueError, "T_max must be an int >= 1"),
    (lambda o: sched.CosineAnnealingLR(o, T_max=5, eta_min=-1), ValueError, "eta_min must be >= 0"),
    (lambda o: sched.LinearWarmup(o, warmup_steps=0), ValueError, "warmup_steps must be an int >= 1"),
    (lambda o: sched.LinearWarmup(o, warmup_steps=3, start_factor=0), ValueError, r"start_factor must be in \(0, 1\]"),
    (lambda o: sched.LinearWarmup(o, warmup_steps=3, then=make_optimizer()), TypeError,
     "then must be a learning-rate scheduler"),
    (lambda o: sched.LinearWarmup(o, warmup_steps=3, then=sched.StepLR(make_optimizer(), 2)), ValueError,
     "different optimizer"),
    (lambda o: sched.ReduceLROnPlateau(o, mode="low"), ValueError, "mode must be 'min' or 'max'"),
    (lambda o: sched.ReduceLROnPlateau(o, factor=1.0), ValueError, r"factor must be in \(0, 1\)"),
    (lambda o: sched.ReduceLROnPlateau(o, patience=-1), ValueError, "patience must be an int >= 0"),
    (lambda o: sched.ReduceLROnPlateau(o, min_lr=[0.0, 0.0]), ValueError, "min_lr has 2 entries"),
    (lambda o: sched.StepLR("optimizer", step_size=2), TypeError, "expected an optimizer"),
    (lambda o: sched.StepLR(o, step_size=2, last_epoch=4), KeyError, "initial_lr"),
])
def test_arguments_are_validated(make, error, match):
    with pytest.raises(error, match=match):
        make(make_optimizer())


def test_load_state_dict_rejects_another_schedulers_state():
    opt = make_optimizer()
    with pytest.raises(ValueError, match="unknown keys"):
        sched.StepLR(opt, step_size=2).load_state_dict(sched.ReduceLROnPlateau(opt).state_dict())
