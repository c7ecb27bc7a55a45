#!/usr/bin/env python3
"""The step compiler (issue 20): chainrule eager vs ``chainrule.compile`` vs torch eager vs NumPy.

Run from the repository root::

    python benchmarks/bench_compile.py               # full run (a few minutes on 2 cores)
    python benchmarks/bench_compile.py --quick       # smoke test (fewer rows and rounds)
    python benchmarks/bench_compile.py --json out.json --threads 2

Workloads (float32, synthetic data, the same initial weights (``nn.MLP``'s initialization after
``manual_seed(0)``) and the same batch order (PCG64 permutations) for every implementation):

* W1: MLP 784-256-256-10, ReLU, softmax cross-entropy, Adam lr 1e-3, batch 128, 60,000 rows:
  seconds per epoch;
* W2: MLP 20-64-64-1, ReLU, mean squared error, SGD momentum 0.9 lr 1e-2, batch 32, 10,000
  rows: seconds per epoch;
* W6: the micrograd demo's size: MLP 2-16-16-1, ReLU, full batch of 100 points, hinge loss
  mean(relu(1 - y s)) + 1e-4 ||theta||^2, SGD lr 0.1: seconds per step.

Implementations:

* ``chainrule eager``: the step a user writes (zero_grad, ``loss_fn(model(x), y)``, backward,
  ``opt.step()``) on ``chainrule.from_numpy(X[idx])`` batches;
* ``chainrule compiled``: the same step function wrapped by ``chainrule.compile``;
* ``torch eager``: the same in PyTorch (``nn.Sequential``, ``torch.optim``), torch threads = --threads;
* ``numpy (by hand)``: the forward, backward and update written out in NumPy with
  preallocated update buffers (what a competent person writes; the floor of the eager engines).

Timing: every implementation first runs one warm-up epoch (W6: 200 steps); then rounds in which
each runs one epoch (W6: a block of steps), interleaved with the order rotating each round, so
that the load of the shared machine hits all alike. Reported: the median over rounds, and the
ratio to the compiled time. The trace cost is the compiled function's first call (eager step,
trace and plan) in units of the median eager step. Aims (JAX jit's times on this machine, issue
20): W1 <= 0.59 s/epoch, W2 <= 0.018 s/epoch, W6 <= 5.2e-5 s/step. Always print the load
(``os.getloadavg``) beside the numbers: the machine is shared.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

import chainrule as cr  # noqa: E402
from chainrule import nn as crnn  # noqa: E402
from chainrule import optim as croptim  # noqa: E402
from chainrule.nn import functional as crF  # noqa: E402

try:
    import torch
except ImportError:  # pragma: no cover - torch is optional
    torch = None

WORKLOADS = {
    "W1": {"sizes": (784, 256, 256, 10), "batch": 128, "rows": 60_000, "loss": "cross_entropy",
           "optimizer": "adam", "lr": 1e-3},
    "W2": {"sizes": (20, 64, 64, 1), "batch": 32, "rows": 10_000, "loss": "mse",
           "optimizer": "sgd", "lr": 1e-2, "momentum": 0.9},
    "W6": {"sizes": (2, 16, 16, 1), "batch": 100, "rows": 100, "loss": "hinge_l2",
           "optimizer": "sgd", "lr": 0.1, "momentum": 0.0, "alpha": 1e-4},
}
AIMS = {"W1": 0.59, "W2": 0.018, "W6": 5.2e-5}  # JAX jit on this 2-core machine (issue 20)
UNITS = {"W1": "s/epoch", "W2": "s/epoch", "W6": "s/step"}
W6_BLOCK = 200  # steps per timed block of W6


# ============================================================================ problem

def make_problem(workload: str, rows: int | None = None, seed: int = 0) -> dict:
    spec = dict(WORKLOADS[workload])
    rows = spec["rows"] if rows is None else rows
    sizes = spec["sizes"]
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((rows, sizes[0]), dtype=np.float32)
    if spec["loss"] == "cross_entropy":
        teacher = rng.standard_normal((sizes[0], sizes[-1]), dtype=np.float32)
        Y = np.argmax(X @ teacher, axis=1).astype(np.int64)
    elif spec["loss"] == "mse":
        t = rng.standard_normal(sizes[0]) / math.sqrt(sizes[0])
        Y = (np.tanh(X.astype(np.float64) @ t) + 0.1 * rng.standard_normal(rows)).astype(np.float32)[:, None]
    else:  # two interleaved half-moons, labels -1 / +1 (micrograd's make_moons, noise 0.1)
        angle = rng.uniform(0, math.pi, rows)
        upper = rng.integers(0, 2, rows).astype(bool)
        X = np.where(upper[:, None], np.c_[np.cos(angle), np.sin(angle)],
                     np.c_[1 - np.cos(angle), 0.5 - np.sin(angle)]).astype(np.float32)
        X += rng.normal(scale=0.1, size=X.shape).astype(np.float32)
        Y = np.where(upper, 1.0, -1.0).astype(np.float32)[:, None]
    cr.manual_seed(seed)
    params = [np.array(p.data, copy=True) for p in crnn.MLP(list(sizes)).parameters()]
    return {"workload": workload, "spec": spec, "sizes": sizes, "X": X, "Y": Y, "params": params, "rows": rows,
            "batch": min(spec["batch"], rows), "seed": seed + 1}


def batches(problem: dict, rng) -> list:
    """One epoch's index arrays (W6: the whole set, in order)."""
    rows, b = problem["rows"], problem["batch"]
    if problem["workload"] == "W6":
        return [np.arange(rows)]
    order = rng.permutation(rows)
    return [order[start:start + b] for start in range(0, rows, b)]


# ============================================================================ chainrule

class ChainruleStep:
    """chainrule as a user writes it; ``compiled=True`` wraps the step in ``chainrule.compile``."""

    def __init__(self, problem: dict, compiled: bool):
        spec = problem["spec"]
        self.name = "chainrule compiled" if compiled else "chainrule eager"
        self.model = model = crnn.MLP(list(problem["sizes"]))
        for p, array in zip(model.parameters(), problem["params"]):
            p.data[...] = array
        if spec["optimizer"] == "adam":
            opt = croptim.Adam(model.parameters(), lr=spec["lr"])
        else:
            opt = croptim.SGD(model.parameters(), lr=spec["lr"], momentum=spec["momentum"])
        if spec["loss"] == "cross_entropy":
            loss_fn = crF.cross_entropy
        elif spec["loss"] == "mse":
            loss_fn = crF.mse_loss
        else:
            alpha = spec["alpha"]

            def loss_fn(scores, y):
                return (1 - y * scores).relu().mean() + alpha * crF.l2_penalty(model.parameters())

        def step(x, y):
            opt.zero_grad()
            loss = loss_fn(model(x), y)
            loss.backward()
            opt.step()
            return loss

        self.eager_step = step
        self.step = cr.compile(step) if compiled else step
        self.X, self.Y = problem["X"], problem["Y"]
        self.rng = np.random.default_rng(problem["seed"])
        self.problem = problem

    def run(self, index_batches) -> None:
        step, X, Y, from_numpy = self.step, self.X, self.Y, cr.from_numpy
        for idx in index_batches:
            step(from_numpy(X[idx]), from_numpy(Y[idx]))

    def params(self) -> list:
        return [np.array(p.data, copy=True) for p in self.model.parameters()]


# ============================================================================ torch

class TorchStep:
    name = "torch eager"

    def __init__(self, problem: dict):
        spec, sizes = problem["spec"], problem["sizes"]
        layers = []
        for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
            layers.append(torch.nn.Linear(a, b))
            if i < len(sizes) - 2:
                layers.append(torch.nn.ReLU())
        self.model = model = torch.nn.Sequential(*layers)
        with torch.no_grad():
            for p, array in zip(model.parameters(), problem["params"]):
                p.copy_(torch.from_numpy(array))
        if spec["optimizer"] == "adam":
            self.opt = torch.optim.Adam(model.parameters(), lr=spec["lr"])
        else:
            self.opt = torch.optim.SGD(model.parameters(), lr=spec["lr"], momentum=spec["momentum"])
        if spec["loss"] == "cross_entropy":
            self.loss_fn = torch.nn.functional.cross_entropy
        elif spec["loss"] == "mse":
            self.loss_fn = torch.nn.functional.mse_loss
        else:
            alpha = spec["alpha"]

            def hinge(scores, y):
                return (1 - y * scores).relu().mean() + alpha * sum((p * p).sum() for p in model.parameters())

            self.loss_fn = hinge
        self.X, self.Y = problem["X"], problem["Y"]
        self.rng = np.random.default_rng(problem["seed"])

    def run(self, index_batches) -> None:
        model, opt, loss_fn, X, Y = self.model, self.opt, self.loss_fn, self.X, self.Y
        for idx in index_batches:
            opt.zero_grad()
            loss = loss_fn(model(torch.from_numpy(X[idx])), torch.from_numpy(Y[idx]))
            loss.backward()
            opt.step()

    def params(self) -> list:
        return [p.detach().numpy().copy() for p in self.model.parameters()]


# ============================================================================ numpy

class NumpyStep:
    """The training written out in NumPy: forward with fresh activations, backward into
    preallocated gradients, the update in place (Adam / SGD with momentum / plain SGD)."""

    name = "numpy (by hand)"

    def __init__(self, problem: dict):
        spec = problem["spec"]
        self.spec, self.loss = spec, spec["loss"]
        self.Ws = [np.ascontiguousarray(W.T) for W in problem["params"][0::2]]  # (in, out)
        self.bs = [b.copy() for b in problem["params"][1::2]]
        self.params_ = [a for pair in zip(self.Ws, self.bs) for a in pair]
        self.grads = [np.zeros_like(p) for p in self.params_]
        self.scratch = [np.empty_like(p) for p in self.params_]
        self.m = [np.zeros_like(p) for p in self.params_]
        self.v = [np.zeros_like(p) for p in self.params_]
        self.t = 0
        self.X, self.Y = problem["X"], problem["Y"]
        self.rng = np.random.default_rng(problem["seed"])

    def run(self, index_batches) -> None:
        X, Y = self.X, self.Y
        for idx in index_batches:
            dout, acts = self.forward(X[idx], Y[idx])
            self.backward(dout, acts)
            self.update()

    def forward(self, x, y):
        acts, h, last = [x], x, len(self.Ws) - 1
        for i, (W, b) in enumerate(zip(self.Ws, self.bs)):
            h = h @ W
            h += b
            if i < last:
                np.maximum(h, 0, out=h)
            acts.append(h)
        n = h.shape[0]
        if self.loss == "cross_entropy":
            h -= h.max(axis=1, keepdims=True)
            e = np.exp(h)
            e /= e.sum(axis=1, keepdims=True)
            e[np.arange(n), y] -= 1
            e *= np.float32(1.0 / n)
            return e, acts
        if self.loss == "mse":
            diff = h - y
            diff *= np.float32(2.0 / diff.size)
            return diff, acts
        margin = 1 - y * h  # hinge: d/ds mean(relu(1 - y s)) = -y [margin > 0] / n
        return (-y * (margin > 0)) * np.float32(1.0 / n), acts

    def backward(self, d, acts) -> None:
        for i in range(len(self.Ws) - 1, -1, -1):
            np.matmul(acts[i].T, d, out=self.grads[2 * i])
            d.sum(axis=0, out=self.grads[2 * i + 1])
            if i:
                d = d @ self.Ws[i].T
                d *= acts[i] > 0
        if self.loss == "hinge_l2":
            two_alpha = np.float32(2 * self.spec["alpha"])
            for p, g, s in zip(self.params_, self.grads, self.scratch):
                g += np.multiply(p, two_alpha, out=s)

    def update(self) -> None:
        spec = self.spec
        if spec["optimizer"] == "adam":
            self.t += 1
            lr, b1, b2, eps = spec["lr"], 0.9, 0.999, 1e-8
            step_size = np.float32(lr / (1 - b1 ** self.t))
            root = np.float32(math.sqrt(1 - b2 ** self.t))
            for p, g, m, v, s in zip(self.params_, self.grads, self.m, self.v, self.scratch):
                m *= np.float32(b1)
                m += np.multiply(g, np.float32(1 - b1), out=s)
                v *= np.float32(b2)
                np.multiply(g, g, out=s)
                s *= np.float32(1 - b2)
                v += s
                np.sqrt(v, out=s)
                s /= root
                s += np.float32(eps)
                np.divide(m, s, out=s)
                s *= step_size
                p -= s
            return
        lr, mu = np.float32(spec["lr"]), np.float32(spec["momentum"])
        for p, g, buf, s in zip(self.params_, self.grads, self.m, self.scratch):
            if mu:
                if self.t:
                    buf *= mu
                    buf += g
                else:
                    buf[...] = g
                g = buf
            p -= np.multiply(g, lr, out=s)
        self.t += 1

    def params(self) -> list:
        return [a.T.copy() if a.ndim == 2 else a.copy() for a in self.params_]


# ============================================================================ measuring

def make_implementations(problem: dict) -> list:
    impls = [ChainruleStep(problem, compiled=False), ChainruleStep(problem, compiled=True)]
    if torch is not None:
        impls.append(TorchStep(problem))
    impls.append(NumpyStep(problem))
    return impls


def _work(impl, problem: dict) -> list:
    """The batches of one timed unit: an epoch (W1, W2) or a block of W6_BLOCK steps."""
    if problem["workload"] == "W6":
        return batches(problem, impl.rng) * W6_BLOCK
    return batches(problem, impl.rng)


def agreement(impls: list, problem: dict) -> dict:
    """After the warm-up unit: max |compiled - eager| (0 expected: the same kernels) and the
    relative L2 distance of the others' parameters to chainrule eager's."""
    reference = impls[0].params()
    report = {}
    for impl in impls[1:]:
        got = impl.params()
        if impl.name == "chainrule compiled":
            report[impl.name] = max(float(np.max(np.abs(a - b))) for a, b in zip(got, reference))
        else:
            num = math.sqrt(sum(float(np.sum((a - b) ** 2)) for a, b in zip(got, reference)))
            den = math.sqrt(sum(float(np.sum(b ** 2)) for b in reference))
            report[impl.name] = num / den
    return report


def time_rounds(impls: list, problem: dict, rounds: int) -> dict:
    """Median seconds per unit of each implementation over ``rounds`` interleaved rounds."""
    times = {impl.name: [] for impl in impls}
    for r in range(rounds):
        shift = r % len(impls)
        for impl in impls[shift:] + impls[:shift]:
            work = _work(impl, problem)
            started = time.perf_counter()
            impl.run(work)
            times[impl.name].append(time.perf_counter() - started)
    per = W6_BLOCK if problem["workload"] == "W6" else 1
    return {name: {"median": statistics.median(t) / per, "min": min(t) / per} for name, t in times.items()}


def trace_cost(problem: dict, eager_step: float) -> dict:
    """The first call of ``chainrule.compile(step)`` on a model that has already taken eager
    steps (so that the optimizer's one-time setup is not counted): the eager step it runs, the
    recording and the plan, in units of the median eager step of the timed rounds."""
    impl = ChainruleStep(problem, compiled=False)
    idx = batches(problem, np.random.default_rng(0))[0]
    x, y = cr.from_numpy(problem["X"][idx]), cr.from_numpy(problem["Y"][idx])
    for _ in range(3):
        impl.eager_step(x, y)
    compiled = cr.compile(impl.eager_step)
    started = time.perf_counter()
    compiled(x, y)
    first = time.perf_counter() - started
    return {"first_call_s": first, "eager_steps": first / eager_step}


def bench_workload(workload: str, rows: int | None, rounds: int) -> dict:
    problem = make_problem(workload, rows)
    impls = make_implementations(problem)
    for impl in impls:  # warm-up unit (and the compiled trace)
        impl.run(_work(impl, problem))
    agree = agreement(impls, problem)
    timings = time_rounds(impls, problem, rounds)
    steps = 1 if workload == "W6" else -(-problem["rows"] // problem["batch"])
    eager_step = timings["chainrule eager"]["median"] / steps
    return {"workload": workload, "rows": problem["rows"], "steps_per_epoch": steps, "rounds": rounds,
            "timings": timings, "agreement": agree, "trace": trace_cost(problem, eager_step),
            "load_before_after": None}


def print_result(result: dict) -> None:
    w = result["workload"]
    timings = result["timings"]
    compiled = timings["chainrule compiled"]["median"]
    print(f"\n{w}: {UNITS[w]}, median of {result['rounds']} rounds (rows {result['rows']:,}); "
          f"aim (JAX jit) {AIMS[w]:.3g}; load {result['load_before_after']}")
    print(f"  {'implementation':24s} {'median':>11s} {'min':>11s} {'/ compiled':>11s}")
    for name, t in timings.items():
        print(f"  {name:24s} {t['median']:11.4g} {t['min']:11.4g} {t['median'] / compiled:11.2f}")
    trace = result["trace"]
    print(f"  trace: first call {trace['first_call_s'] * 1e3:.1f} ms = {trace['eager_steps']:.1f} eager steps")
    print("  agreement after the warm-up: " + ", ".join(f"{k} {v:.2g}" for k, v in result["agreement"].items())
          + "  (compiled: max |diff| to eager; others: relative L2 to eager)")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer rows and rounds (a smoke test)")
    parser.add_argument("--json", type=Path, help="write the results here")
    parser.add_argument("--threads", type=int, default=2, help="BLAS (threadpoolctl) and torch threads")
    parser.add_argument("--workloads", default="W1,W2,W6")
    args = parser.parse_args(argv)
    if torch is not None:
        torch.set_num_threads(args.threads)
    try:
        import threadpoolctl  # noqa: PLC0415
        limiter = threadpoolctl.threadpool_limits(limits=args.threads, user_api="blas")
    except ImportError:
        limiter = None
    results = []
    for workload in args.workloads.split(","):
        rows = {"W1": 6_000, "W2": 2_000, "W6": None}[workload] if args.quick else None
        rounds = (3 if args.quick else {"W1": 7, "W2": 15, "W6": 15}[workload])
        before = os.getloadavg()[0]
        result = bench_workload(workload, rows, rounds)
        result["load_before_after"] = (round(before, 2), round(os.getloadavg()[0], 2))
        print_result(result)
        results.append(result)
    if limiter is not None:
        limiter.restore_original_limits()
    if args.json:
        args.json.write_text(json.dumps(results, indent=2, default=str))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
