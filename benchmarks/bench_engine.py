#!/usr/bin/env python3
"""Engine benchmarks for chainrule: per-op overhead and one MLP training step.

Run from the repository root::

    python benchmarks/bench_engine.py              # full run, under 2 minutes
    python benchmarks/bench_engine.py --quick      # smoke test, under 20 seconds
    python benchmarks/bench_engine.py --json benchmarks/results/engine.json
    python benchmarks/bench_engine.py --profile 200   # also cProfile 200 chainrule MLP steps

What is measured (see benchmarks/README.md for how to read the numbers):

1. Per-op overhead. Small (100-element float32) elementwise ops through chainrule,
   against the same NumPy call(s) and PyTorch eager. Forward only (inputs requiring
   grad, inputs not requiring grad, and under ``no_grad()``), and forward + backward
   (``(a * b).sum().backward()`` against the hand-written NumPy equivalent). Reported:
   microseconds per call (median and min over repeats) and the overhead above NumPy.
   Target: forward overhead < 3 us above NumPy.

2. One training step of a 784-256-256-10 ReLU MLP on a batch of 128 float32 rows,
   mean softmax cross-entropy, plain SGD (lr 0.01): chainrule (two ways of picking the
   label log-probabilities x two update idioms), a hand-written NumPy floor, and
   PyTorch eager. All three are first checked to compute the same loss and gradients
   from identical weights. Reported: ms per step (median, min), per phase (forward,
   backward, update), and the ratios to the NumPy floor. Target: chainrule within
   1.3x of NumPy.

3. The same step on a small MLP (20-64-64-10, batch 32), where the engine's per-op
   cost dominates the arithmetic (the overhead-bound regime of PERF-NOTES' W2).
   Reported like (2), without a target.

With ``--profile STEPS``: cProfile of STEPS chainrule MLP steps (top 15 by tottime),
and a breakdown timing each op's forward/backward body against the NumPy floor's
phases, so that what remains ('engine') is the bookkeeping beyond the array work.

Timing method: the garbage collector stays ON (as in a real training loop; timeit
turns it off by default, which would hide the cost of cyclic garbage). Implementations
are interleaved (round-robin over repeats) so that drift in machine load hits them
alike. Every case is warmed up before it is timed. The BLAS thread count is printed in
the header and PyTorch is set to the same number of threads.

Performance targets live here, never in unit tests (tests/test_benchmarks.py only
checks that this instrument works and that the implementations agree).
"""
from __future__ import annotations

import argparse
import contextlib
import cProfile
import gc
import hashlib
import io
import itertools
import json
import os
import platform
import pstats
import statistics
import sys
import time
import timeit
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
# Measure the working tree, not some installed copy.
sys.path.insert(0, str(REPO / "src"))
import chainrule as cr  # noqa: E402 - after the sys.path insert, to measure the working tree

try:  # PyTorch is optional: its rows are skipped when it is absent.
    import torch
    import torch.nn.functional as F
except ImportError:  # pragma: no cover - depends on the machine
    torch = None
    F = None

try:
    import threadpoolctl
except ImportError:  # pragma: no cover - depends on the machine
    threadpoolctl = None

US = 1e6
MS = 1e3

# Repetition settings. "number" = calls per timed repeat (per-op); "repeat" = timed
# repeats per case; MLP: "rounds" x "steps_per_round" timed steps per implementation.
FULL = {"op_number": 2000, "op_repeat": 31, "op_warmup": 2000, "mlp_rounds": 25,
        "mlp_steps_per_round": 20, "mlp_warmup": 20, "mlp_small_steps_per_round": 200}
QUICK = {"op_number": 300, "op_repeat": 7, "op_warmup": 300, "mlp_rounds": 5,
         "mlp_steps_per_round": 6, "mlp_warmup": 5, "mlp_small_steps_per_round": 40}


# ============================================================================ environment

def blas_info() -> list:
    """BLAS/OpenMP libraries loaded by this process and their thread counts."""
    if threadpoolctl is None:
        return []
    return [
        {k: info.get(k) for k in ("user_api", "internal_api", "version", "num_threads",
                                   "threading_layer", "architecture")}
        for info in threadpoolctl.threadpool_info()
    ]


def blas_threads() -> int | None:
    """The thread count NumPy's BLAS uses (None when threadpoolctl is missing)."""
    for info in blas_info():
        if info["user_api"] == "blas":
            return info["num_threads"]
    return None


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def source_fingerprint() -> str:
    """Short hash of chainrule's source files, to tell which engine version was measured."""
    digest = hashlib.sha1()
    for path in sorted((REPO / "src" / "chainrule").rglob("*.py")):
        digest.update(path.relative_to(REPO).as_posix().encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


class CpuContention:
    """How much CPU *other* processes used while this one was measuring.

    Reads the machine's busy time from /proc/stat and subtracts this process's own
    CPU time (all its threads, BLAS included). On a small shared machine another
    process's work (a test run, a build) slows multi-threaded BLAS a lot: a run with
    more than ~0.1 core used by others should be repeated.
    """

    def __init__(self):
        self.available = Path("/proc/stat").exists()
        self.start = self._sample()

    @staticmethod
    def _busy_seconds() -> float:
        with open("/proc/stat") as f:
            fields = [int(v) for v in f.readline().split()[1:]]
        # user nice system idle iowait irq softirq steal ...
        busy = fields[0] + fields[1] + fields[2] + fields[5] + fields[6] + fields[7]
        return busy / os.sysconf("SC_CLK_TCK")

    def _sample(self):
        if not self.available:
            return None
        own = os.times()
        return time.perf_counter(), self._busy_seconds(), own.user + own.system

    def cores_used_by_others(self) -> float | None:
        """Average number of cores other processes kept busy since the start."""
        end = self._sample()
        if end is None or self.start is None:
            return None
        wall = end[0] - self.start[0]
        others = (end[1] - self.start[1]) - (end[2] - self.start[2])
        return max(others, 0.0) / wall if wall > 0 else None


def load_average() -> tuple | None:
    try:
        return os.getloadavg()
    except OSError:  # pragma: no cover - not Unix
        return None


def environment(threads: int | None) -> dict:
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        usable = os.cpu_count()
    env = {k: os.environ[k] for k in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS",
                                      "MKL_NUM_THREADS") if k in os.environ}
    return {
        "date": time.strftime("%Y-%m-%d %H:%M:%S"),
        "machine": platform.node(),
        "cpu_model": cpu_model(),
        "nproc": usable,
        "cpu_count": os.cpu_count(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "torch": torch.__version__ if torch is not None else None,
        "torch_threads": torch.get_num_threads() if torch is not None else None,
        "chainrule": getattr(cr, "__version__", "?"),
        "chainrule_path": str(Path(cr.__file__).parent),
        "chainrule_source_sha1": source_fingerprint(),
        "blas": blas_info(),
        "blas_threads": threads,
        "thread_env": env,
        "threadpoolctl": threadpoolctl is not None,
        "load_average_at_start": load_average(),
    }


def print_header(meta: dict, settings: dict, mode: str) -> None:
    print("=" * 78)
    print(f"chainrule engine benchmark ({mode})   {meta['date']}")
    print("=" * 78)
    print(f"CPU      : {meta['cpu_model']}  (nproc {meta['nproc']}, os.cpu_count {meta['cpu_count']})")
    print(f"Python   : {meta['python']}   NumPy {meta['numpy']}   "
          f"PyTorch {meta['torch'] or 'not installed (its rows are skipped)'}")
    for lib in meta["blas"]:
        print(f"BLAS     : {lib['internal_api']} {lib['version']} ({lib['user_api']}, "
              f"{lib['architecture']}, {lib['threading_layer']}), {lib['num_threads']} thread(s)")
    if not meta["threadpoolctl"]:
        print("BLAS     : threadpoolctl not installed; thread count from the environment only")
    print(f"Threads  : NumPy BLAS {meta['blas_threads']}, torch {meta['torch_threads']}; "
          f"env {meta['thread_env'] or '(no *_NUM_THREADS set)'}")
    load = meta["load_average_at_start"]
    if load is not None:
        busy = (" (busy recently; load averages lag, the 'Other processes used' line at the "
                "end measures this run)") if load[0] > 0.5 else ""
        print(f"Load avg : {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} at start{busy}")
    print(f"chainrule: {meta['chainrule']} from {meta['chainrule_path']} "
          f"(source sha1 {meta['chainrule_source_sha1']})")
    print(f"Timing   : per-op {settings['op_repeat']} repeats x {settings['op_number']} calls "
          f"(+{settings['op_warmup']} warm-up); MLP {settings['mlp_rounds']} rounds x "
          f"{settings['mlp_steps_per_round']} steps per implementation "
          f"(+{settings['mlp_warmup']} warm-up; small MLP {settings['mlp_small_steps_per_round']} "
          f"steps per round), interleaved, GC on")
    print()


# ============================================================================ timing

def _summary(per_call_seconds: list, scale: float) -> dict:
    values = [t * scale for t in per_call_seconds]
    return {"median": statistics.median(values), "min": min(values), "n": len(values)}


def time_interleaved(cases: dict, number: int, repeat: int, warmup: int) -> dict:
    """Time statements round-robin: repeat r runs every case ``number`` times.

    ``cases`` maps a name to (stmt, namespace, context_factory); the statement is
    compiled by timeit (no per-call function-call overhead) and runs inside the
    context (e.g. ``no_grad``) when one is given. GC stays on. Returns, per case, the
    median and min over the repeats of the time per call, in microseconds.
    """
    timers = {}
    for name, (stmt, namespace, context) in cases.items():
        timer = timeit.Timer(stmt, setup="gc.enable()", globals={**namespace, "gc": gc})
        timers[name] = (timer, context or contextlib.nullcontext)
    for timer, context in timers.values():  # warm-up (and a first check that it runs)
        with context():
            timer.timeit(warmup)
    samples = {name: [] for name in timers}
    for _ in range(repeat):
        for name, (timer, context) in timers.items():
            with context():
                samples[name].append(timer.timeit(number) / number)
    return {name: _summary(values, US) for name, values in samples.items()}


# ============================================================================ (1) per-op

def per_op_cases(size: int = 100, seed: int = 0) -> list:
    """The per-op cases: (label, kind, {impl: (stmt, namespace, context)})."""
    rng = np.random.default_rng(seed)
    an = rng.standard_normal(size).astype(np.float32)
    bn = rng.standard_normal(size).astype(np.float32)
    ns_np = {"np": np, "an": an.copy(), "bn": bn.copy()}
    ns_cr = {
        "cr": cr,
        "a": cr.tensor(an, requires_grad=True), "b": cr.tensor(bn, requires_grad=True),
        "c": cr.tensor(an), "d": cr.tensor(bn),
    }
    ns_th = {}
    if torch is not None:
        ns_th = {
            "torch": torch,
            "ta": torch.tensor(an, requires_grad=True), "tb": torch.tensor(bn, requires_grad=True),
            "tc": torch.tensor(an), "td": torch.tensor(bn),
        }
    cr_no_grad = cr.no_grad
    th_no_grad = torch.no_grad if torch is not None else None
    np_mul = ("an * bn", ns_np, None)
    np_exp = ("np.exp(an)", ns_np, None)
    cases = [
        ("mul fwd, inputs require grad", "forward", {
            "chainrule": ("a * b", ns_cr, None), "numpy": np_mul,
            "torch": ("ta * tb", ns_th, None)}),
        ("exp fwd, input requires grad", "forward", {
            "chainrule": ("a.exp()", ns_cr, None), "numpy": np_exp,
            "torch": ("ta.exp()", ns_th, None)}),
        ("mul fwd, inputs without grad", "forward", {
            "chainrule": ("c * d", ns_cr, None), "numpy": np_mul,
            "torch": ("tc * td", ns_th, None)}),
        ("mul fwd under no_grad()", "forward", {
            "chainrule": ("a * b", ns_cr, cr_no_grad), "numpy": np_mul,
            "torch": ("ta * tb", ns_th, th_no_grad)}),
        ("mul fwd+bwd: (a*b).sum().backward()", "forward+backward", {
            "chainrule": ("a.grad = None; b.grad = None; (a * b).sum().backward()", ns_cr, None),
            "numpy": ("p = an * bn; s = p.sum(); g = np.ones_like(s); ga = g * bn; gb = g * an",
                      ns_np, None),
            "torch": ("ta.grad = None; tb.grad = None; (ta * tb).sum().backward()", ns_th, None)}),
        ("exp fwd+bwd: a.exp().sum().backward()", "forward+backward", {
            "chainrule": ("a.grad = None; a.exp().sum().backward()", ns_cr, None),
            "numpy": ("e = np.exp(an); s = e.sum(); g = np.ones_like(s); ga = g * e", ns_np, None),
            "torch": ("ta.grad = None; ta.exp().sum().backward()", ns_th, None)}),
    ]
    if torch is None:
        for _, _, impls in cases:
            impls.pop("torch")
    return cases


def bench_per_op(settings: dict) -> list:
    cases = per_op_cases()
    flat = {}
    for label, _, impls in cases:
        for impl, spec in impls.items():
            flat[(label, impl)] = spec
    # Identical NumPy statements are timed once per case anyway (cheap, and each case
    # then carries its own baseline measured in the same rounds).
    timed = time_interleaved(flat, settings["op_number"], settings["op_repeat"], settings["op_warmup"])
    results = []
    for label, kind, impls in cases:
        row = {"case": label, "kind": kind}
        base = timed[(label, "numpy")]
        for impl in impls:
            t = timed[(label, impl)]
            row[impl] = {"median_us": t["median"], "min_us": t["min"], "repeats": t["n"],
                         "calls_per_repeat": settings["op_number"]}
            if impl != "numpy":
                row[impl]["overhead_us"] = t["median"] - base["median"]
                row[impl]["overhead_min_us"] = t["min"] - base["min"]
                row[impl]["ratio"] = t["median"] / base["median"]
        results.append(row)
    return results


def print_per_op(results: list) -> None:
    print("(1) Per-op overhead, 100-element float32 tensors, microseconds per call")
    print("    median [min]; 'over' = chainrule or torch median minus NumPy median")
    header = f"{'case':40s} {'numpy':>14s} {'chainrule':>14s} {'over':>7s} {'torch':>14s} {'over':>7s}"
    print(header)
    print("-" * len(header))
    def cell(row, impl):
        if impl not in row:
            return f"{'-':>14s}"
        return f"{row[impl]['median_us']:7.2f} [{row[impl]['min_us']:5.2f}]"

    def over(row, impl):
        return f"{row[impl]['overhead_us']:7.2f}" if impl in row else f"{'-':>7s}"

    for row in results:
        print(f"{row['case']:40s} {cell(row, 'numpy')} {cell(row, 'chainrule')} "
              f"{over(row, 'chainrule')} {cell(row, 'torch')} {over(row, 'torch')}")
    fwd = results[0]["chainrule"]["overhead_us"]
    verdict = "MET" if fwd < 3.0 else "NOT MET"
    print(f"Target: chainrule forward overhead < 3 us above NumPy (mul, requires grad): "
          f"{fwd:.2f} us -> {verdict}")
    print()


# ============================================================================ (2) MLP

BATCH, SIZES, LR = 128, (784, 256, 256, 10), 0.01
SMALL_BATCH, SMALL_SIZES = 32, (20, 64, 64, 10)  # overhead-bound, like PERF-NOTES' W2


def mlp_problem(seed: int = 0, batch: int = BATCH, sizes=SIZES) -> dict:
    """Random data (fixed seed), labels 0..9, He-initialized float32 weights, zero biases."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((batch, sizes[0])).astype(np.float32)
    y = rng.integers(0, sizes[-1], size=batch).astype(np.int64)
    params = []
    for fan_in, fan_out in itertools.pairwise(sizes):
        params.append((rng.standard_normal((fan_in, fan_out)) * np.sqrt(2.0 / fan_in)).astype(np.float32))
        params.append(np.zeros(fan_out, dtype=np.float32))
    return {"x": x, "y": y, "params": params, "sizes": tuple(sizes), "batch": batch}


class NumpyMLP:
    """The floor: forward, backward and SGD by hand, as a competent person writes them."""

    name = "numpy"

    def __init__(self, problem: dict, lr: float = LR):
        self.x, self.y = problem["x"], problem["y"]
        self.params = [p.copy() for p in problem["params"]]
        self.lr = np.float32(lr)
        self.grads = None

    def forward(self):
        x, y = self.x, self.y
        W1, b1, W2, b2, W3, b3 = self.params
        z1 = x @ W1
        z1 += b1
        h1 = np.maximum(z1, 0, out=z1)
        z2 = h1 @ W2
        z2 += b2
        h2 = np.maximum(z2, 0, out=z2)
        logits = h2 @ W3
        logits += b3
        shifted = logits - logits.max(axis=1, keepdims=True)
        e = np.exp(shifted)
        total = e.sum(axis=1, keepdims=True)
        rows = np.arange(len(y))
        logp_y = shifted[rows, y] - np.log(total[:, 0])
        self.saved = (h1, h2, e, total, rows)
        return -logp_y.mean()

    def backward(self, loss):
        x, y = self.x, self.y
        _, _, W2, _, W3, _ = self.params
        h1, h2, e, total, rows = self.saved
        n = np.float32(len(y))
        d = e / total                 # softmax
        d[rows, y] -= 1               # - onehot
        d /= n                        # dlogits for the mean loss
        dW3 = h2.T @ d
        db3 = d.sum(axis=0)
        dh2 = d @ W3.T
        dh2 *= h2 > 0                 # ReLU mask (h > 0 exactly where z > 0)
        dW2 = h1.T @ dh2
        db2 = dh2.sum(axis=0)
        dh1 = dh2 @ W2.T
        dh1 *= h1 > 0
        dW1 = x.T @ dh1               # no gradient for the input itself
        db1 = dh1.sum(axis=0)
        self.grads = [dW1, db1, dW2, db2, dW3, db3]
        self.saved = None

    def update(self):
        lr = self.lr
        for p, g in zip(self.params, self.grads):
            p -= lr * g

    def grads_numpy(self) -> list:
        return self.grads


class ChainruleMLP:
    """The same model written with chainrule ops.

    pick:   "index"  -> loss = -logp[cr.arange(n), y].mean()
            "onehot" -> loss = -(logp * onehot).sum(dim=1).mean()  (onehot: float32,
                        made once per batch, like data from a loader)
    update: "data"   -> with cr.no_grad(): W.data -= lr * W.grad.data   (raw arrays)
            "tensor" -> with cr.no_grad(): W -= lr * W.grad             (Tensor ops)
    Gradients are reset to None after the update.
    """

    def __init__(self, problem: dict, pick: str = "index", update: str = "data", lr: float = LR):
        if pick not in ("index", "onehot") or update not in ("data", "tensor"):
            raise ValueError(f"unknown variant pick={pick!r} update={update!r}")
        self.name = f"chainrule[{pick},{update}]"
        self.pick, self.update_idiom, self.lr = pick, update, lr
        self.params = [cr.tensor(p, requires_grad=True) for p in problem["params"]]
        self.x = cr.tensor(problem["x"])
        self.y = cr.tensor(problem["y"])
        self.n = len(problem["y"])
        classes = problem["params"][-1].shape[0]
        self.onehot = cr.one_hot(self.y, classes).to(self.params[0].dtype)

    def forward(self):
        W1, b1, W2, b2, W3, b3 = self.params
        h = (self.x @ W1 + b1).relu()
        h = (h @ W2 + b2).relu()
        logits = h @ W3 + b3
        logp = logits.log_softmax(dim=1)
        if self.pick == "index":
            return -logp[cr.arange(self.n), self.y].mean()
        return -(logp * self.onehot).sum(dim=1).mean()

    def backward(self, loss):
        loss.backward()

    def update(self):
        lr = self.lr
        with cr.no_grad():
            if self.update_idiom == "data":
                for p in self.params:
                    p.data -= lr * p.grad.data
                    p.grad = None
            else:
                for p in self.params:
                    p -= lr * p.grad
                    p.grad = None

    def grads_numpy(self) -> list:
        return [p.grad.numpy() for p in self.params]


class TorchMLP:
    """PyTorch eager, float32: same model, F.cross_entropy, manual SGD with add_."""

    name = "torch"

    def __init__(self, problem: dict, lr: float = LR):
        self.params = [torch.tensor(p, requires_grad=True) for p in problem["params"]]
        self.x = torch.tensor(problem["x"])
        self.y = torch.tensor(problem["y"])
        self.lr = lr

    def forward(self):
        W1, b1, W2, b2, W3, b3 = self.params
        h = torch.relu(self.x @ W1 + b1)
        h = torch.relu(h @ W2 + b2)
        logits = h @ W3 + b3
        return F.cross_entropy(logits, self.y)

    def backward(self, loss):
        loss.backward()

    def update(self):
        with torch.no_grad():
            for p in self.params:
                p.add_(p.grad, alpha=-self.lr)
                p.grad = None

    def grads_numpy(self) -> list:
        return [p.grad.numpy() for p in self.params]


def make_mlps(problem: dict) -> list:
    impls = [NumpyMLP(problem)]
    for pick in ("index", "onehot"):
        for update in ("data", "tensor"):
            impls.append(ChainruleMLP(problem, pick, update))
    if torch is not None:
        impls.append(TorchMLP(problem))
    return impls


def _loss_value(loss) -> float:
    if isinstance(loss, cr.Tensor):
        return float(loss.item())
    if torch is not None and isinstance(loss, torch.Tensor):
        return float(loss.item())
    return float(loss)


def check_agreement(impls: list) -> dict:
    """First step from identical weights: losses and gradients against the NumPy floor.

    Runs forward and backward, compares, then applies the update (so every
    implementation continues from the same state it would have in training).
    Returns max abs differences per implementation.
    """
    reference = impls[0]
    assert reference.name == "numpy"
    losses, grads = {}, {}
    for impl in impls:
        loss = impl.forward()
        impl.backward(loss)
        losses[impl.name] = _loss_value(loss)
        grads[impl.name] = [np.asarray(g).copy() for g in impl.grads_numpy()]
        impl.update()
    report = {"numpy_loss": losses["numpy"]}
    for impl in impls[1:]:
        diffs = [float(np.max(np.abs(g - r))) for g, r in zip(grads[impl.name], grads["numpy"])]
        report[impl.name] = {
            "loss": losses[impl.name],
            "loss_abs_diff": abs(losses[impl.name] - losses["numpy"]),
            "dW1_max_abs_diff": diffs[0],
            "grad_max_abs_diff": max(diffs),
            "dW1_max_abs": float(np.max(np.abs(grads["numpy"][0]))),
        }
    return report


def describe(problem_or_result: dict) -> str:
    sizes, batch = problem_or_result["sizes"], problem_or_result["batch"]
    return f"MLP {'-'.join(map(str, sizes))}, batch {batch}, float32, SGD lr {LR}"


def print_agreement(report: dict, title: str) -> None:
    print(f"{title}: correctness cross-check (first step, identical weights)")
    print(f"    NumPy loss {report['numpy_loss']:.7f}; "
          f"max|dW1| {next(v for k, v in report.items() if k != 'numpy_loss')['dW1_max_abs']:.3e}")
    for name, row in report.items():
        if name == "numpy_loss":
            continue
        print(f"    {name:26s} loss {row['loss']:.7f}  |loss - numpy| {row['loss_abs_diff']:.2e}  "
              f"max|dW1 - numpy| {row['dW1_max_abs_diff']:.2e}  max over all grads {row['grad_max_abs_diff']:.2e}")
    print()


def time_mlps(impls: list, rounds: int, steps_per_round: int, warmup: int) -> dict:
    """Per-step times (and per phase), implementations interleaved round by round."""
    clock = time.perf_counter
    for impl in impls:
        for _ in range(warmup):
            loss = impl.forward()
            impl.backward(loss)
            impl.update()
    samples = {impl.name: {"step": [], "forward": [], "backward": [], "update": []} for impl in impls}
    for _ in range(rounds):
        for impl in impls:
            record = samples[impl.name]
            forward, backward, update = impl.forward, impl.backward, impl.update
            for _ in range(steps_per_round):
                t0 = clock()
                loss = forward()
                t1 = clock()
                backward(loss)
                t2 = clock()
                update()
                t3 = clock()
                record["step"].append(t3 - t0)
                record["forward"].append(t1 - t0)
                record["backward"].append(t2 - t1)
                record["update"].append(t3 - t2)
            del loss
    return {name: {phase: _summary(values, MS) for phase, values in record.items()}
            for name, record in samples.items()}


def bench_mlp(settings: dict, problem: dict | None = None, steps_per_round: int | None = None) -> dict:
    problem = problem or mlp_problem()
    steps_per_round = steps_per_round or settings["mlp_steps_per_round"]
    impls = make_mlps(problem)
    agreement = check_agreement(impls)
    timed = time_mlps(impls, settings["mlp_rounds"], steps_per_round, settings["mlp_warmup"])
    floor = timed["numpy"]["step"]["median"]
    for row in timed.values():
        row["ratio_to_numpy"] = row["step"]["median"] / floor
        row["ratio_to_numpy_min"] = row["step"]["min"] / timed["numpy"]["step"]["min"]
    chainrule_names = [n for n in timed if n.startswith("chainrule")]
    best = min(chainrule_names, key=lambda n: timed[n]["step"]["median"])
    by_update = {}
    for idiom in ("data", "tensor"):
        names = [n for n in chainrule_names if n.endswith(f",{idiom}]")]
        by_update[idiom] = min(timed[n]["step"]["median"] for n in names)
    by_pick = {}
    for pick in ("index", "onehot"):
        names = [n for n in chainrule_names if f"[{pick}," in n]
        by_pick[pick] = min(timed[n]["step"]["median"] for n in names)
    return {
        "agreement": agreement,
        "timings": timed,
        "best_chainrule": best,
        "faster_update_idiom": min(by_update, key=by_update.get),
        "faster_pick": min(by_pick, key=by_pick.get),
        "steps_timed_per_impl": settings["mlp_rounds"] * steps_per_round,
        "sizes": problem["sizes"],
        "batch": problem["batch"],
    }


def print_mlp(result: dict, target: bool = True) -> None:
    timed = result["timings"]
    print(f"    {describe(result)}: ms per training step, {result['steps_timed_per_impl']} timed steps each; "
          f"median [min]; ratio = median / NumPy median")
    header = (f"{'implementation':26s} {'step':>16s} {'ratio':>6s} {'forward':>8s} "
              f"{'backward':>8s} {'update':>8s}")
    print(header)
    print("-" * len(header))
    for name, row in timed.items():
        print(f"{name:26s} {row['step']['median']:7.4f} [{row['step']['min']:6.4f}] "
              f"{row['ratio_to_numpy']:6.2f} {row['forward']['median']:8.4f} "
              f"{row['backward']['median']:8.4f} {row['update']['median']:8.4f}")
    best = result["best_chainrule"]
    ratio = timed[best]["ratio_to_numpy"]
    print(f"Faster update idiom: {result['faster_update_idiom']!r} "
          f"({'W.data -= lr * W.grad.data' if result['faster_update_idiom'] == 'data' else 'W -= lr * W.grad'}); "
          f"faster label pick: {result['faster_pick']!r}")
    if "torch" in timed:
        print(f"torch / numpy = {timed['torch']['ratio_to_numpy']:.2f}")
    if target:
        print(f"Target: chainrule within 1.3x of the NumPy floor: best {best} = {ratio:.2f}x -> "
              f"{'MET' if ratio <= 1.3 else 'NOT MET'}")
    else:
        print(f"No target here (overhead-bound): best {best} = {ratio:.2f}x the NumPy floor")
    print()


# ============================================================================ profile

def profile_chainrule(steps: int, pick: str = "index", update: str = "data", top: int = 15,
                      problem: dict | None = None) -> str:
    """cProfile ``steps`` chainrule MLP steps; the top functions by tottime, as text.

    Note: NumPy operators (``a @ b``, ``a * b``) are not calls cProfile can see; their
    time is counted in the tottime of the Python function that runs them (e.g. an op's
    ``forward``), while NumPy *methods* (``.sum``, ``.max``) appear on their own rows.
    """
    impl = ChainruleMLP(problem or mlp_problem(), pick, update)
    for _ in range(5):
        loss = impl.forward()
        impl.backward(loss)
        impl.update()
    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(steps):
        loss = impl.forward()
        impl.backward(loss)
        impl.update()
    profiler.disable()
    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out)
    stats.strip_dirs().sort_stats("tottime").print_stats(top)
    return out.getvalue()


def _function_classes() -> list:
    """Every class (recursively) derived from chainrule's autograd.Function."""
    base = getattr(cr.autograd, "Function", None)
    if base is None:
        return []
    found, stack = [], [base]
    while stack:
        cls = stack.pop()
        for sub in cls.__subclasses__():
            if sub not in found:
                found.append(sub)
                stack.append(sub)
    return found


def _timed_method(method, key_phase: str, totals: dict, clock=time.perf_counter):
    def timed(self, *args, **kwargs):
        t0 = clock()
        try:
            return method(self, *args, **kwargs)
        finally:
            key = (type(self).__name__, key_phase)
            entry = totals.get(key)
            if entry is None:
                totals[key] = entry = [0, 0.0]
            entry[0] += 1
            entry[1] += clock() - t0
    return timed


def _timed_function(function, key: tuple, totals: dict, clock=time.perf_counter):
    def timed(*args, **kwargs):
        t0 = clock()
        try:
            return function(*args, **kwargs)
        finally:
            entry = totals.setdefault(key, [0, 0.0])
            entry[0] += 1
            entry[1] += clock() - t0
    return timed


def op_breakdown(steps: int, pick: str = "index", update: str = "data") -> dict:
    """Where one chainrule MLP step's time goes, split into array work and the rest.

    Every ``forward``/``backward`` defined on a Function subclass (and
    ``autograd.unbroadcast``, which does the bias-gradient sums) is wrapped with a
    timer for the run (restored afterwards). 'engine' is the step time left after
    subtracting the ops' forward/backward bodies, unbroadcast and the update: graph
    recording, Tensor wrapping, the backward walk, argument checks, gradient
    accumulation and freeing. The timers add about 0.2 us per wrapped call. The NumPy
    floor's phases are measured alongside for comparison.
    """
    totals: dict = {}
    patched = []
    try:
        for cls in _function_classes():
            for phase in ("forward", "backward"):
                if phase in cls.__dict__:
                    original = cls.__dict__[phase]
                    patched.append((cls, phase, original))
                    setattr(cls, phase, _timed_method(original, phase, totals))
        original_unbroadcast = getattr(cr.autograd, "unbroadcast", None)
        if original_unbroadcast is not None:
            cr.autograd.unbroadcast = _timed_function(
                original_unbroadcast, ("unbroadcast (engine)", "backward"), totals)
        impl = ChainruleMLP(mlp_problem(), pick, update)
        floor = NumpyMLP(mlp_problem())
        phases = {"chainrule": {"forward": 0.0, "backward": 0.0, "update": 0.0},
                  "numpy": {"forward": 0.0, "backward": 0.0, "update": 0.0}}
        for net in (impl, floor):  # warm-up
            for _ in range(5):
                loss = net.forward()
                net.backward(loss)
                net.update()
        totals.clear()
        clock = time.perf_counter
        for _ in range(steps):
            for name, net in (("chainrule", impl), ("numpy", floor)):
                t0 = clock()
                loss = net.forward()
                t1 = clock()
                net.backward(loss)
                t2 = clock()
                net.update()
                t3 = clock()
                record = phases[name]
                record["forward"] += t1 - t0
                record["backward"] += t2 - t1
                record["update"] += t3 - t2
    finally:
        for cls, phase, original in reversed(patched):
            setattr(cls, phase, original)
        if original_unbroadcast is not None:
            cr.autograd.unbroadcast = original_unbroadcast
    per_step = {key: {"calls_per_step": n / steps, "ms_per_step": t / steps * MS}
                for key, (n, t) in totals.items()}
    result = {"variant": impl.name, "steps": steps, "ops": {}, "phases_ms": {}}
    for (name, phase), row in sorted(per_step.items(), key=lambda kv: -kv[1]["ms_per_step"]):
        result["ops"][f"{name}.{phase}"] = row
    for name, record in phases.items():
        result["phases_ms"][name] = {k: v / steps * MS for k, v in record.items()}
        result["phases_ms"][name]["step"] = sum(record.values()) / steps * MS
    cr_phases = result["phases_ms"]["chainrule"]
    for phase in ("forward", "backward"):
        array_work = sum(row["ms_per_step"] for key, row in result["ops"].items()
                         if key.endswith("." + phase))
        result["phases_ms"]["chainrule"][f"{phase}_engine"] = cr_phases[phase] - array_work
        result["phases_ms"]["chainrule"][f"{phase}_array_work"] = array_work
    return result


def print_breakdown(result: dict) -> None:
    cr_p, np_p = result["phases_ms"]["chainrule"], result["phases_ms"]["numpy"]
    print(f"Op breakdown of {result['variant']} over {result['steps']} steps (mean ms per step; "
          f"op bodies timed by wrappers, 'engine' = the rest)")
    print(f"{'phase':10s} {'numpy floor':>11s} {'chainrule':>10s} {'= array work':>13s} "
          f"{'+ engine':>9s} {'excess':>8s}")
    for phase in ("forward", "backward"):
        print(f"{phase:10s} {np_p[phase]:11.3f} {cr_p[phase]:10.3f} {cr_p[phase + '_array_work']:13.3f} "
              f"{cr_p[phase + '_engine']:9.3f} {cr_p[phase] - np_p[phase]:8.3f}")
    print(f"{'update':10s} {np_p['update']:11.3f} {cr_p['update']:10.3f} {'':13s} {'':9s} "
          f"{cr_p['update'] - np_p['update']:8.3f}")
    print(f"{'step':10s} {np_p['step']:11.3f} {cr_p['step']:10.3f} {'':13s} {'':9s} "
          f"{cr_p['step'] - np_p['step']:8.3f}")
    print(f"{'op body':34s} {'calls/step':>10s} {'ms/step':>8s}")
    for key, row in result["ops"].items():
        print(f"{key:34s} {row['calls_per_step']:10.1f} {row['ms_per_step']:8.4f}")
    print()


# ============================================================================ main

def run(quick: bool = False, threads: int | None = None, settings: dict | None = None,
        verbose: bool = True) -> dict:
    """Run both benchmarks and return every number (what --json writes)."""
    settings = dict(settings or (QUICK if quick else FULL))
    limiter = contextlib.nullcontext()
    if threads is not None and threadpoolctl is not None:
        limiter = threadpoolctl.threadpool_limits(limits=threads)
    with limiter:
        used = blas_threads() if threadpoolctl is not None else threads
        if torch is not None:  # PyTorch gets the same thread count as NumPy's BLAS
            torch.set_num_threads(used or threads or torch.get_num_threads())
        meta = environment(used)
        if verbose:
            print_header(meta, settings, "quick" if quick else "full")
        contention = CpuContention()
        start = time.perf_counter()
        per_op = bench_per_op(settings)
        if verbose:
            print_per_op(per_op)
        middle = time.perf_counter()
        problem = mlp_problem()
        mlp = bench_mlp(settings, problem)
        if verbose:
            print_agreement(mlp["agreement"], f"(2) {describe(problem)}")
            print_mlp(mlp)
        small_start = time.perf_counter()
        small_problem = mlp_problem(batch=SMALL_BATCH, sizes=SMALL_SIZES)
        mlp_small = bench_mlp(settings, small_problem, settings["mlp_small_steps_per_round"])
        if verbose:
            print(f"(3) Overhead-bound case: {describe(small_problem)} (same code; the "
                  f"engine's per-op cost dominates)")
            print_agreement(mlp_small["agreement"], "    same check")
            print_mlp(mlp_small, target=False)
        end = time.perf_counter()
    elapsed = {"per_op_s": middle - start, "mlp_s": small_start - middle,
               "mlp_small_s": end - small_start, "total_s": end - start}
    others = contention.cores_used_by_others()
    meta["cores_used_by_other_processes"] = others
    if verbose:
        print(f"Benchmark time: {elapsed['total_s']:.1f} s (per-op {elapsed['per_op_s']:.1f} s, "
              f"MLP {elapsed['mlp_s']:.1f} s, small MLP {elapsed['mlp_small_s']:.1f} s)")
        if others is not None:
            verdict = ("OK: quiet machine" if others < 0.1 else
                       "WARNING: other processes competed for the CPU; repeat this run on a quiet machine")
            print(f"Other processes used {others:.2f} core(s) on average during the run -> {verdict}")
    return {"meta": meta, "settings": settings, "per_op": per_op, "mlp": mlp,
            "mlp_small": mlp_small, "elapsed": elapsed}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="few repetitions (smoke test, < 20 s)")
    parser.add_argument("--json", metavar="PATH", help="write all medians and ratios to PATH")
    parser.add_argument("--threads", type=int, default=None,
                        help="limit NumPy's BLAS (via threadpoolctl) and torch to N threads "
                             "(default: leave BLAS as it is and give torch the same count)")
    parser.add_argument("--profile", type=int, metavar="STEPS", default=0,
                        help="also cProfile STEPS chainrule MLP steps (index pick, data update), "
                             "print the top 15 functions by tottime, and time each op's "
                             "forward/backward body against the NumPy floor's phases")
    args = parser.parse_args(argv)
    results = run(quick=args.quick, threads=args.threads)
    if args.profile:
        contention = CpuContention()
        text = profile_chainrule(args.profile)
        print(f"cProfile of {args.profile} chainrule MLP steps [index, data], top 15 by tottime")
        print("(NumPy operators such as @ and * are invisible to cProfile: their time is in the")
        print(" tottime of the Python function that runs them, e.g. MatMul.forward)")
        print(text)
        breakdown = op_breakdown(args.profile)
        print_breakdown(breakdown)
        small_steps = 10 * args.profile
        small_text = profile_chainrule(small_steps, problem=mlp_problem(batch=SMALL_BATCH, sizes=SMALL_SIZES))
        print(f"cProfile of {small_steps} steps of the small, overhead-bound MLP "
              f"({'-'.join(map(str, SMALL_SIZES))}, batch {SMALL_BATCH}) [index, data]: "
              f"here the engine's Python work dominates")
        print(small_text)
        others = contention.cores_used_by_others()
        if others is not None:
            print(f"Other processes used {others:.2f} core(s) on average during the profile"
                  f"{' -> WARNING: repeat on a quiet machine' if others >= 0.1 else ''}")
        results["profile"] = {"steps": args.profile, "text": text, "breakdown": breakdown,
                              "small_steps": small_steps, "small_text": small_text,
                              "cores_used_by_other_processes": others}
    if args.json:
        path = Path(args.json)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(results, indent=2, default=str))
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
