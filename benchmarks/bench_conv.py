#!/usr/bin/env python3
"""Convolution benchmarks for chainrule: one Conv2d forward + backward, and a ResNet-20 training step.

Run from the repository root (``CHAINRULE_NO_NUMBA=1`` measures the default, NumPy-only install)::

    CHAINRULE_NO_NUMBA=1 python benchmarks/bench_conv.py                # full run, a few minutes
    CHAINRULE_NO_NUMBA=1 python benchmarks/bench_conv.py --quick        # smoke test
    CHAINRULE_NO_NUMBA=1 python benchmarks/bench_conv.py --only conv    # (a) only ("resnet": (b) only)
    python benchmarks/bench_conv.py --json benchmarks/results/conv.json
    python benchmarks/bench_conv.py --profile 5                         # + cProfile and a per-node breakdown

What is measured, float32, three implementations from the same weights (PyTorch's initialization,
loaded into the others by state dict):

(a) ``Conv2d(16, 16, 3, padding=1, bias=False)`` on x (128, 16, 32, 32) (a ResNet-20 first-stage
    shape), forward to the output and backward from a fixed random upstream gradient (the input's
    and the weight's gradients);
(b) one training step of ResNet-20 (He et al. 2016, the CIFAR network: a 3x3 stem to 16 channels,
    3 stages of 3 basic blocks of widths 16/32/64, BatchNorm2d and ReLU, stride-2 downsampling
    with a 1x1 convolution + BatchNorm shortcut (option B), global average pooling, Linear 64 -> 10;
    ``chainrule.models.resnet(20, (16, 32, 64))``, He-initialized)
    on a batch of 128 random 3x32x32 images with random labels: zero the gradients,
    cross-entropy, backward, SGD step (lr 0.1, momentum 0.9), in training mode.

- ``numpy``: written by hand (``benchmarks/numpy_convnet.py``: channels-last im2col into one matrix
  product per convolution, backward without col2im for stride 1, batch norm on wide views). It is
  the floor.
- ``chainrule``: ``nn.Conv2d`` / ``chainrule.models.resnet(20, (16, 32, 64))``, ``F.cross_entropy``,
  ``optim.SGD``.
- ``chainrule-np``: the same chainrule implementation with ``CHAINRULE_NO_NUMBA=1`` around each
  call (the plain-NumPy paths, no compiled kernels), timed only when the kernels are enabled.
- ``torch``: ``torch.nn.Conv2d`` / the torch twin of that ResNet (``torch_resnet``: the same modules
  and parameter names), eager, ``torch.set_num_threads(2)``.

Before timing, the three are checked to compute the same outputs and gradients (max abs differences
printed). Timing: implementations interleaved round by round (the order rotating each round), GC on,
warmed up; before each implementation's steps of a round the run pauses ``settle_s`` (0.25 s) and
takes one untimed step of that implementation, so that no implementation is timed while the one
before it still has worker threads spinning on the cores (OpenBLAS's workers spin ~0.1 s after a
multi-threaded call, OpenMP's likewise: measured, torch's Conv2d takes 25-28 ms right after a
two-thread OpenBLAS call and 12.5-14 ms otherwise); ms per step, median [min], per phase;
ratios chainrule / torch and chainrule / numpy; the cores other processes
used during the run (a run that prints a WARNING must be repeated).

Performance targets live here and in benchmarks/README.md, never in unit tests
(tests/test_bench_conv.py checks that this instrument runs and that its implementations agree).
"""
from __future__ import annotations

import argparse
import cProfile
import gc
import importlib.util
import io
import json
import os
import pstats
import statistics
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "src"))  # measure the working tree
import chainrule as cr  # noqa: E402
from chainrule import models, nn  # noqa: E402
from chainrule.nn import functional as F  # noqa: E402

try:
    import torch
except ImportError:  # pragma: no cover - depends on the machine
    torch = None


def _load(name: str):
    spec = importlib.util.spec_from_file_location(name, Path(__file__).with_name(f"{name}.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


bench_engine = _load("bench_engine")  # the shared header, BLAS and contention helpers
numpy_convnet = _load("numpy_convnet")

MS = 1e3
CONV = {"batch": 128, "channels": 16, "size": 32}
RESNET = {"batch": 128, "depth": 20, "widths": (16, 32, 64), "size": 32, "classes": 10, "lr": 0.1,
          "momentum": 0.9}
FULL = {"conv": {"rounds": 15, "steps_per_round": 3, "warmup": 3, "settle_s": 0.25},
        "resnet": {"rounds": 9, "steps_per_round": 2, "warmup": 2, "settle_s": 0.25}}
QUICK = {"conv": {"rounds": 3, "steps_per_round": 1, "warmup": 1, "settle_s": 0.0},
         "resnet": {"rounds": 2, "steps_per_round": 1, "warmup": 1, "settle_s": 0.0}}


# ============================================================================ the networks

def torch_resnet(depth=20, widths=(16, 32, 64), classes=10):
    """The torch twin of ``chainrule.models.resnet(depth, widths)``: the same modules, names
    (torchvision's: ``downsample`` for the 1x1 projection shortcut) and forward."""
    tnn = torch.nn

    class BasicBlock(tnn.Module):
        def __init__(self, cin, cout, stride):
            super().__init__()
            self.conv1 = tnn.Conv2d(cin, cout, 3, stride=stride, padding=1, bias=False)
            self.bn1 = tnn.BatchNorm2d(cout)
            self.conv2 = tnn.Conv2d(cout, cout, 3, stride=1, padding=1, bias=False)
            self.bn2 = tnn.BatchNorm2d(cout)
            self.downsample = None
            if stride != 1 or cin != cout:
                self.downsample = tnn.Sequential(tnn.Conv2d(cin, cout, 1, stride=stride, bias=False),
                                                 tnn.BatchNorm2d(cout))

        def forward(self, x):
            out = self.bn2(self.conv2(torch.relu(self.bn1(self.conv1(x)))))
            out = out + (x if self.downsample is None else self.downsample(x))
            return torch.relu(out)

    class ResNet(tnn.Module):
        def __init__(self):
            super().__init__()
            self.conv1 = tnn.Conv2d(3, widths[0], 3, padding=1, bias=False)
            self.bn1 = tnn.BatchNorm2d(widths[0])
            stages = {}
            for name, cin, cout, stride in numpy_convnet.resnet_layout(depth, widths):
                stages.setdefault(name.split(".")[0], []).append(BasicBlock(cin, cout, stride))
            self.layer1, self.layer2, self.layer3 = (tnn.Sequential(*stages[f"layer{i}"]) for i in (1, 2, 3))
            self.pool = tnn.AdaptiveAvgPool2d(1)
            self.fc = tnn.Linear(widths[-1], classes)

        def forward(self, x):
            x = self.layer3(self.layer2(self.layer1(torch.relu(self.bn1(self.conv1(x))))))
            return self.fc(torch.flatten(self.pool(x), 1))

    return ResNet()


# ============================================================================ (a) one convolution

def make_conv_problem(shape: dict | None = None, seed: int = 0) -> dict:
    shape = dict(CONV, **(shape or {}))
    rng = np.random.default_rng(seed)
    n, c, s = shape["batch"], shape["channels"], shape["size"]
    x = rng.standard_normal((n, c, s, s)).astype(np.float32)
    grad = rng.standard_normal((n, c, s, s)).astype(np.float32)
    cr.manual_seed(seed)
    weight = nn.Conv2d(c, c, 3, padding=1, bias=False).weight.numpy().copy()
    return {"kind": "conv", "shape": shape, "x": x, "grad": grad, "weight": weight}


class NumpyConv:
    name = "numpy"

    def __init__(self, problem):
        self.x, self.g, self.w = problem["x"], problem["grad"], problem["weight"]

    def forward(self):
        x = self.x.transpose(0, 2, 3, 1)  # channels-last view: the padded canvas copy transposes it
        y, self.cache = numpy_convnet.conv_forward(x, self.w, 1, 1)
        return y.transpose(0, 3, 1, 2)

    def backward(self, _out):
        g = np.ascontiguousarray(self.g.transpose(0, 2, 3, 1))
        dx, self.dw = numpy_convnet.conv_backward(g, self.w, self.cache)
        self.cache = None
        return dx.transpose(0, 3, 1, 2)

    def gradients(self):
        return {"weight": self.dw}


class ChainruleConv:
    name = "chainrule"

    def __init__(self, problem):
        c = problem["shape"]["channels"]
        self.layer = nn.Conv2d(c, c, 3, padding=1, bias=False)
        self.layer.load_state_dict({"weight": problem["weight"]})
        self.x = cr.tensor(problem["x"], requires_grad=True)
        self.g = cr.tensor(problem["grad"])

    def forward(self):
        self.x.grad = None
        self.layer.weight.grad = None
        return self.layer(self.x)

    def backward(self, out):
        out.backward(self.g)
        return self.x.grad.numpy()

    def gradients(self):
        return {"weight": self.layer.weight.grad.numpy()}


class TorchConv(ChainruleConv):
    name = "torch"

    def __init__(self, problem):
        c = problem["shape"]["channels"]
        self.layer = torch.nn.Conv2d(c, c, 3, padding=1, bias=False)
        self.layer.load_state_dict({"weight": torch.from_numpy(problem["weight"])})
        self.x = torch.tensor(problem["x"], requires_grad=True)
        self.g = torch.from_numpy(problem["grad"])


# ============================================================================ (b) ResNet-20 step

def make_resnet_problem(shape: dict | None = None, seed: int = 0) -> dict:
    shape = dict(RESNET, **(shape or {}))
    rng = np.random.default_rng(seed)
    n, s = shape["batch"], shape["size"]
    x = rng.standard_normal((n, 3, s, s)).astype(np.float32)
    y = rng.integers(0, shape["classes"], n)
    cr.manual_seed(seed)
    model = models.resnet(shape["depth"], shape["widths"], num_classes=shape["classes"])
    state = {k: v.numpy().copy() for k, v in model.state_dict().items()}
    return {"kind": "resnet", "shape": shape, "x": x, "y": y, "state": state}


class NumpyResNetStep:
    name = "numpy"

    def __init__(self, problem):
        s = problem["shape"]
        self.net = numpy_convnet.NumpyResNet(problem["state"], s["depth"], s["widths"], s["lr"], s["momentum"])
        self.x, self.y = problem["x"], problem["y"]

    def forward(self):
        self.net.grads = {}
        return self.net.forward(self.x, self.y)

    def backward(self, _loss):
        self.net.backward()

    def update(self):
        self.net.update()

    def loss_value(self, loss):
        return loss

    def gradients(self):
        return {k: np.asarray(v) for k, v in self.net.grads.items()}


class ChainruleResNetStep:
    name = "chainrule"

    def __init__(self, problem):
        s = problem["shape"]
        self.model = models.resnet(s["depth"], s["widths"], num_classes=s["classes"])
        self.model.load_state_dict(problem["state"])
        self.model.train()
        self.opt = cr.optim.SGD(self.model.parameters(), lr=s["lr"], momentum=s["momentum"])
        self.x, self.y = cr.tensor(problem["x"]), cr.tensor(problem["y"])

    def forward(self):
        self.opt.zero_grad()
        return F.cross_entropy(self.model(self.x), self.y)

    def backward(self, loss):
        loss.backward()

    def update(self):
        self.opt.step()

    def loss_value(self, loss):
        return float(loss.item())

    def gradients(self):
        return {k: p.grad.numpy() for k, p in self.model.named_parameters()}


class TorchResNetStep(ChainruleResNetStep):
    name = "torch"

    def __init__(self, problem):
        s = problem["shape"]
        self.model = torch_resnet(s["depth"], s["widths"], s["classes"])
        self.model.load_state_dict({k: torch.from_numpy(v) for k, v in problem["state"].items()})
        self.model.train()
        self.opt = torch.optim.SGD(self.model.parameters(), lr=s["lr"], momentum=s["momentum"])
        self.x, self.y = torch.from_numpy(problem["x"]), torch.from_numpy(problem["y"])

    def forward(self):
        self.opt.zero_grad(set_to_none=True)
        return torch.nn.functional.cross_entropy(self.model(self.x), self.y)

    def gradients(self):
        return {k: p.grad.numpy() for k, p in self.model.named_parameters()}


# ============================================================================ agreement and timing

IMPLEMENTATIONS = {"conv": (NumpyConv, ChainruleConv, TorchConv),
                   "resnet": (NumpyResNetStep, ChainruleResNetStep, TorchResNetStep)}


def make_implementations(problem: dict) -> list:
    classes = IMPLEMENTATIONS[problem["kind"]]
    return [cls(problem) for cls in classes if cls.name != "torch" or torch is not None]


class WithoutNumba:
    """A chainrule implementation run with ``CHAINRULE_NO_NUMBA=1`` around each of its calls
    (the plain-NumPy paths of the default install without numba), named "chainrule-np", so
    that both are timed in the same run, interleaved with torch."""

    name = "chainrule-np"

    def __init__(self, impl):
        self.impl = impl
        for method in ("forward", "backward", "update", "loss_value", "gradients"):
            if hasattr(impl, method):
                setattr(self, method, self._wrapped(getattr(impl, method)))

    @staticmethod
    def _wrapped(method):
        def call(*args):
            before = os.environ.get("CHAINRULE_NO_NUMBA")
            os.environ["CHAINRULE_NO_NUMBA"] = "1"
            try:
                return method(*args)
            finally:
                if before is None:
                    del os.environ["CHAINRULE_NO_NUMBA"]
                else:
                    os.environ["CHAINRULE_NO_NUMBA"] = before
        return call


def with_numpy_twin(impls: list, make_chainrule, problem: dict) -> list:
    """``impls`` plus, when compiled kernels are enabled here (numba installed, no
    ``CHAINRULE_NO_NUMBA``), the same chainrule implementation without them, after "chainrule"."""
    from chainrule.engine import compiled
    if compiled.disabled() or compiled.kernels("chainrule.nn.fused.numba_kernels") is None:
        return impls
    at = [impl.name for impl in impls].index("chainrule") + 1
    return impls[:at] + [WithoutNumba(make_chainrule(problem))] + impls[at:]


def print_ratios(timed: dict) -> None:
    """chainrule (and chainrule-np) over torch and numpy: medians and minima."""
    for name in ("chainrule", "chainrule-np"):
        if name not in timed:
            continue
        ours = timed[name]["step"]
        for other in ("torch", "numpy"):
            if other in timed:
                theirs = timed[other]["step"]
                print(f"  {name} / {other:6s}: {ours['median'] / theirs['median']:.2f} (medians), "
                      f"{ours['min'] / theirs['min']:.2f} (minima)")


def _array(value):
    if isinstance(value, np.ndarray):
        return value
    if torch is not None and isinstance(value, torch.Tensor):
        return value.detach().numpy()
    return value.numpy()


def check_agreement(impls: list) -> dict:
    """Each implementation against NumPy's, from the same weights: the output (conv) or loss
    (ResNet), the input gradient (conv) and every parameter gradient, as max abs differences
    (and the largest gradient, for scale); the dtypes seen (float32 throughout)."""
    results = {}
    for impl in impls:
        out = impl.forward()
        row = {"grads": None}
        if hasattr(impl, "loss_value"):
            row["loss"] = impl.loss_value(out)
            impl.backward(out)
            dtypes = set()
        else:
            row["out"] = _array(out).copy()
            row["dx"] = np.array(impl.backward(out))
            dtypes = {str(row["out"].dtype), str(row["dx"].dtype)}
        row["grads"] = {k: np.array(v) for k, v in impl.gradients().items()}
        row["dtypes"] = dtypes | {str(g.dtype) for g in row["grads"].values()}
        results[impl.name] = row
    base, report = results["numpy"], {}
    for name, row in results.items():
        if name == "numpy":
            continue
        missing = set(base["grads"]) ^ set(row["grads"])
        if missing:
            raise AssertionError(f"{name}: parameter names differ from numpy's: {sorted(missing)}")
        diffs = {k: float(np.abs(row[k] - base[k]).max()) for k in ("out", "dx") if k in row}
        if "loss" in row:
            diffs["loss"] = abs(row["loss"] - base["loss"])
        diffs["params"] = max(float(np.abs(row["grads"][k] - base["grads"][k]).max()) for k in base["grads"])
        diffs["largest_grad"] = max(float(np.abs(g).max()) for g in base["grads"].values())
        diffs["dtypes"] = sorted(row["dtypes"])
        report[name] = diffs
    return report


def time_steps(impls: list, settings: dict) -> dict:
    """ms per step (and per phase), implementations interleaved round by round in an order that
    rotates each round; with ``settings["settle_s"] > 0`` each implementation's steps in a round
    follow a pause of that many seconds and one untimed step of its own (see the module docstring)."""
    clock = time.perf_counter
    gc.enable()

    def step(impl):
        t0 = clock()
        out = impl.forward()
        t1 = clock()
        impl.backward(out)
        t2 = clock()
        if hasattr(impl, "update"):
            impl.update()
        return t0, t1, t2, clock()

    for impl in impls:
        for _ in range(settings["warmup"]):
            step(impl)
    phases = ("step", "forward", "backward", "update")
    samples = {impl.name: {phase: [] for phase in phases} for impl in impls}
    settle = settings.get("settle_s", 0.0)
    for round_index in range(settings["rounds"]):
        shift = round_index % len(impls)
        for impl in impls[shift:] + impls[:shift]:
            record = samples[impl.name]
            if settle > 0:
                time.sleep(settle)
                step(impl)
            for _ in range(settings["steps_per_round"]):
                t0, t1, t2, t3 = step(impl)
                for phase, seconds in zip(phases, (t3 - t0, t1 - t0, t2 - t1, t3 - t2)):
                    record[phase].append(seconds)
    return {name: {phase: {"median": statistics.median(v) * MS, "min": min(v) * MS, "n": len(v)}
                   for phase, v in record.items()} for name, record in samples.items()}


def describe(problem: dict) -> str:
    s = problem["shape"]
    if problem["kind"] == "conv":
        return (f"(a) Conv2d({s['channels']}, {s['channels']}, 3, padding=1, bias=False), x ({s['batch']}, "
                f"{s['channels']}, {s['size']}, {s['size']}) float32, forward + backward")
    return (f"(b) ResNet-{s['depth']} (widths {'/'.join(map(str, s['widths']))}) training step, batch "
            f"{s['batch']} x 3x{s['size']}x{s['size']} float32, cross-entropy, SGD momentum {s['momentum']}")


def print_results(problem: dict, timed: dict, agreement: dict, title: bool = True) -> None:
    if title:
        print(describe(problem))
    for name, d in agreement.items():
        parts = [f"{k} {d[k]:.1e}" for k in ("out", "dx", "loss") if k in d]
        print(f"  agreement with numpy: {name:10s} {'  '.join(parts)}  parameter grads {d['params']:.1e} "
              f"(largest grad {d['largest_grad']:.1e})  dtypes {', '.join(d['dtypes'])}")
    update = problem["kind"] != "conv"
    print(f"  {'implementation':12s} {'step ms: median [min]':>24s} {'forward':>9s} {'backward':>9s}"
          + (f" {'update':>8s}" if update else ""))
    for name, row in timed.items():
        step = row["step"]
        print(f"  {name:12s} {step['median']:13.1f} [{step['min']:6.1f}] {row['forward']['median']:9.1f} "
              f"{row['backward']['median']:9.1f}" + (f" {row['update']['median']:8.2f}" if update else ""))
    print_ratios(timed)
    if "torch" in timed:
        theirs = timed["torch"]["step"]
        print(f"  numpy / torch    : {timed['numpy']['step']['median'] / theirs['median']:.2f} (medians)")


# ============================================================================ profiling

def _chainrule_impl(problem):
    return (ChainruleConv if problem["kind"] == "conv" else ChainruleResNetStep)(problem)


def _run_step(impl):
    out = impl.forward()
    impl.backward(out)
    if hasattr(impl, "update"):
        impl.update()


def profile_chainrule(problem: dict, steps: int, top: int = 25, make_impl=None) -> str:
    """cProfile of ``steps`` chainrule steps (after one untimed), top ``top`` by tottime."""
    impl = (make_impl or _chainrule_impl)(problem)
    _run_step(impl)
    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(steps):
        _run_step(impl)
    profiler.disable()
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).strip_dirs().sort_stats("tottime").print_stats(top)
    return out.getvalue()


def node_breakdown(problem: dict, steps: int, make_impl=None) -> dict:
    """ms per step in each graph node's forward and backward body, the optimizer step, and the
    rest ('engine and Python')."""
    totals, patched = {}, []
    for cls in bench_engine._function_classes():
        for phase in ("forward", "backward"):
            if phase in vars(cls):
                method = vars(cls)[phase]
                patched.append((cls, phase, method))
                setattr(cls, phase, bench_engine._timed_method(method, phase, totals))
    impl = (make_impl or _chainrule_impl)(problem)
    update = getattr(impl, "update", None)
    if update is not None:
        impl.update = bench_engine._timed_function(update, ("optimizer", "step"), totals)
    try:
        _run_step(impl)
        totals.clear()
        start = time.perf_counter()
        for _ in range(steps):
            _run_step(impl)
        total = time.perf_counter() - start
    finally:
        for cls, phase, method in patched:
            setattr(cls, phase, method)
    rows = {f"{name}.{phase}": seconds * MS / steps for (name, phase), (_, seconds) in totals.items()}
    rows["engine and Python (the rest)"] = total * MS / steps - sum(rows.values())
    return {"step_ms": total * MS / steps, "rows": dict(sorted(rows.items(), key=lambda kv: -kv[1]))}


# ============================================================================ main

def run(quick: bool = False, only=None, settings: dict | None = None, shapes: dict | None = None,
        verbose: bool = True) -> dict:
    settings = settings or (QUICK if quick else FULL)
    shapes = shapes or {}
    threads = bench_engine.blas_threads()
    if torch is not None:
        torch.set_num_threads(threads or 2)
    meta = bench_engine.environment(threads)
    kinds = [k for k in ("conv", "resnet") if only in (None, k)]
    if verbose:
        print("=" * 78)
        print(f"chainrule convolution benchmark ({'quick' if quick else 'full'})   {meta['date']}")
        print("=" * 78)
        print(f"CPU      : {meta['cpu_model']}  (nproc {meta['nproc']})")
        print(f"Python   : {meta['python']}   NumPy {meta['numpy']}   PyTorch {meta['torch']}")
        print(f"Threads  : NumPy BLAS {meta['blas_threads']}, torch {meta['torch_threads']}; "
              f"CHAINRULE_NO_NUMBA={os.environ.get('CHAINRULE_NO_NUMBA', '(unset)')}")
        print(f"chainrule: from {meta['chainrule_path']} (source sha1 {meta['chainrule_source_sha1']})")
        for kind in kinds:
            s = settings[kind]
            print(f"Timing   : {kind}: {s['rounds']} rounds x {s['steps_per_round']} steps per implementation "
                  f"(+{s['warmup']} warm-up), interleaved"
              f" (rotating; {s.get('settle_s', 0)} s pause + one untimed step before each), GC on")
        print()
    results = {"meta": meta, "settings": settings}
    for kind in kinds:
        contention = bench_engine.CpuContention()
        make = make_conv_problem if kind == "conv" else make_resnet_problem
        problem = make(shapes.get(kind))
        impls = with_numpy_twin(make_implementations(problem), _chainrule_impl, problem)
        agreement = check_agreement(impls)
        timed = time_steps(impls, settings[kind])
        others = contention.cores_used_by_others()
        if verbose:
            print_results(problem, timed, agreement)
            if others is not None:
                verdict = ("OK: quiet machine" if others < 0.1 else
                           "WARNING: other processes competed for the CPU; repeat this run on a quiet machine")
                print(f"  Other processes used {others:.2f} core(s) on average during this part -> {verdict}")
            print()
        results[kind] = {"shape": problem["shape"], "agreement": agreement, "timings": timed,
                         "cores_used_by_other_processes": others}
    return results


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="few repetitions (smoke test)")
    parser.add_argument("--only", choices=("conv", "resnet"), help="run one of the two benchmarks")
    parser.add_argument("--json", metavar="PATH", help="write every number to PATH")
    parser.add_argument("--profile", type=int, metavar="STEPS", default=0,
                        help="also cProfile STEPS chainrule steps and time every graph node's forward/backward")
    args = parser.parse_args(argv)
    results = run(quick=args.quick, only=args.only)
    if args.profile:
        for kind in [k for k in ("conv", "resnet") if args.only in (None, k)]:
            problem = (make_conv_problem if kind == "conv" else make_resnet_problem)()
            text = profile_chainrule(problem, args.profile)
            print(f"\n[{kind}] cProfile of {args.profile} chainrule steps, top 25 by tottime")
            print(text)
            breakdown = node_breakdown(problem, args.profile)
            print(f"[{kind}] per-node breakdown of a chainrule step ({breakdown['step_ms']:.1f} ms, timers on):")
            for name, ms in breakdown["rows"].items():
                print(f"  {name:55s} {ms:7.2f} ms")
            results[kind]["profile"] = {"text": text, "breakdown": breakdown}
    if args.json:
        path = Path(args.json)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(results, indent=2, default=str))
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
