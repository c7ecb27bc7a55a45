#!/usr/bin/env python3
"""Transformer benchmark for chainrule: one TransformerEncoderLayer, forward + backward.

Run from the repository root::

    python benchmarks/bench_attn.py                 # full run, about a minute
    python benchmarks/bench_attn.py --quick         # smoke test, a few seconds
    python benchmarks/bench_attn.py --json benchmarks/results/attn.json
    python benchmarks/bench_attn.py --profile 20    # + cProfile and a per-node breakdown

What is measured: one ``TransformerEncoderLayer(d_model=128, nhead=4, dim_feedforward=512,
dropout=0.0, batch_first=True)`` (post-norm, ReLU) on a float32 batch of 32 sequences of 128
tokens, forward to the output and backward from a fixed random upstream gradient (every
parameter's gradient and the input's), in three implementations that start from the same
weights (PyTorch's initialization, loaded into the others by state dict):

- ``numpy``: the layer written by hand in NumPy as a competent person would: one packed QKV
  matmul, attention as batched matmuls on strided (N, H, L, d) views, a stable softmax in
  place, out= buffers, LayerNorm with ones-vector matmuls and einsum row dots, the
  closed-form backward of each piece (FlashAttention's D = rowsum(dO * O) trick included).
  It is the floor chainrule's fused nodes are measured against.
- ``chainrule``: ``chainrule.nn.TransformerEncoderLayer``: ``out = layer(x)``,
  ``out.backward(G)``, gradients set to None before each step.
- ``chainrule-np``: the same chainrule implementation with ``CHAINRULE_NO_NUMBA=1`` around each
  call (the plain-NumPy paths, no compiled kernels), timed only when the kernels are enabled.
- ``torch``: ``torch.nn.TransformerEncoderLayer`` eager, the same, with
  ``torch.set_num_threads(2)`` (NumPy's BLAS uses the machine's 2 cores as well).

Before timing, the three are checked to compute the same output and gradients (max abs
differences printed; all float32). Timing: the implementations are interleaved round by round
(so drift in machine load hits them alike), the garbage collector stays on, each is warmed
up; reported are ms per step, median [min], and per phase (forward, backward), and the ratios
chainrule / torch and chainrule / numpy. At the end: how many cores other processes used
during the run (from /proc/stat), since on a shared 2-core machine another process's work
slows 2-thread BLAS calls several times over; such runs must be repeated.

Performance targets live here and in benchmarks/README.md, never in unit tests
(tests/test_nn_transformer_benchmark.py checks that this instrument runs and that its three
implementations agree).
"""
from __future__ import annotations

import argparse
import cProfile
import gc
import importlib.util
import io
import json
import math
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
from chainrule import nn  # noqa: E402

try:
    import torch
except ImportError:  # pragma: no cover - depends on the machine
    torch = None

_spec = importlib.util.spec_from_file_location("bench_engine", Path(__file__).with_name("bench_engine.py"))
bench_engine = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(bench_engine)  # the shared header, BLAS and contention helpers
_spec = importlib.util.spec_from_file_location("bench_conv", Path(__file__).with_name("bench_conv.py"))
bench_conv = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(bench_conv)  # the chainrule-np twin and the ratio lines

MS = 1e3
SHAPE = {"batch": 32, "length": 128, "width": 128, "heads": 4, "feedforward": 512}
FULL = {"rounds": 15, "steps_per_round": 3, "warmup": 3, "settle_s": 0.25}
QUICK = {"rounds": 3, "steps_per_round": 1, "warmup": 1, "settle_s": 0.0}


# ============================================================================ the problem

def make_problem(shape: dict | None = None, seed: int = 0) -> dict:
    """Input x, upstream gradient G (float32) and the layer's weights (PyTorch's init, seed 0)."""
    shape = dict(SHAPE, **(shape or {}))
    rng = np.random.default_rng(seed)
    dims = (shape["batch"], shape["length"], shape["width"])
    x = rng.standard_normal(dims).astype(np.float32)
    grad = rng.standard_normal(dims).astype(np.float32)
    cr.manual_seed(seed)
    reference = nn.TransformerEncoderLayer(shape["width"], shape["heads"], shape["feedforward"], dropout=0.0,
                                           batch_first=True)
    state = {k: v.numpy().copy() for k, v in reference.state_dict().items()}
    return {"shape": shape, "x": x, "grad": grad, "state": state}


class NumpyEncoderLayer:
    """The post-norm ReLU encoder layer, forward and backward by hand in NumPy (float32)."""

    name = "numpy"

    def __init__(self, problem: dict):
        s, self.shape = problem["state"], problem["shape"]
        self.w = {k: v.astype(np.float32) for k, v in s.items()}
        self.x, self.g = problem["x"], problem["grad"]

    @staticmethod
    def layer_norm(x, gamma, beta, eps=1e-5):
        width = x.shape[-1]
        mean = x @ np.ones(width, np.float32)
        mean *= 1.0 / width
        xhat = x - mean[:, None]
        var = np.einsum("ij,ij->i", xhat, xhat)
        var *= 1.0 / width
        var += eps
        rstd = 1.0 / np.sqrt(var)
        xhat *= rstd[:, None]
        y = xhat * gamma
        y += beta
        return y, xhat, rstd

    @staticmethod
    def layer_norm_backward(dy, xhat, rstd, gamma):
        width = dy.shape[-1]
        dgamma = np.einsum("ij,ij->j", dy, xhat)
        dbeta = np.ones(dy.shape[0], np.float32) @ dy
        d = dy * gamma
        proj = np.einsum("ij,ij->i", d, xhat)
        proj *= 1.0 / width
        mean = d @ np.ones(width, np.float32)
        mean *= 1.0 / width
        d -= mean[:, None]
        d -= xhat * proj[:, None]
        d *= rstd[:, None]
        return d, dgamma, dbeta

    def forward(self):
        w, (n, length, width, heads) = self.w, (self.shape[k] for k in ("batch", "length", "width", "heads"))
        d = width // heads
        rows = self.x.reshape(-1, width)
        qkv = rows @ w["self_attn.in_proj_weight"].T
        qkv += w["self_attn.in_proj_bias"]
        split = qkv.reshape(n, length, 3, heads, d)
        q, k, v = (split[:, :, i].transpose(0, 2, 1, 3) for i in range(3))
        scale = 1.0 / math.sqrt(d)
        scores = np.matmul(q * scale, k.transpose(0, 1, 3, 2))
        scores -= scores.max(axis=-1, keepdims=True)
        np.exp(scores, out=scores)
        scores *= 1.0 / (scores @ np.ones(length, np.float32))[..., None]
        heads_out = np.empty((n, length, heads, d), np.float32)
        np.matmul(scores, v, out=heads_out.transpose(0, 2, 1, 3))
        attended = heads_out.reshape(-1, width)
        a = attended @ w["self_attn.out_proj.weight"].T
        a += w["self_attn.out_proj.bias"]
        a += rows
        h, xhat1, rstd1 = self.layer_norm(a, w["norm1.weight"], w["norm1.bias"])
        z = h @ w["linear1.weight"].T
        z += w["linear1.bias"]
        np.maximum(z, 0, out=z)
        f = z @ w["linear2.weight"].T
        f += w["linear2.bias"]
        f += h
        y, xhat2, rstd2 = self.layer_norm(f, w["norm2.weight"], w["norm2.bias"])
        self.saved = (rows, q, k, v, scores, heads_out, attended, h, xhat1, rstd1, z, xhat2, rstd2, scale)
        return y.reshape(self.x.shape)

    def backward(self, _out):
        w, (n, length, width, heads) = self.w, (self.shape[k] for k in ("batch", "length", "width", "heads"))
        d = width // heads
        rows, q, k, v, probs, heads_out, attended, h, xhat1, rstd1, z, xhat2, rstd2, scale = self.saved
        grads = {}
        df, grads["norm2.weight"], grads["norm2.bias"] = self.layer_norm_backward(
            self.g.reshape(-1, width), xhat2, rstd2, w["norm2.weight"])
        grads["linear2.weight"] = df.T @ z
        grads["linear2.bias"] = np.ones(df.shape[0], np.float32) @ df
        dz = df @ w["linear2.weight"]
        dz *= z > 0
        grads["linear1.weight"] = dz.T @ h
        grads["linear1.bias"] = np.ones(dz.shape[0], np.float32) @ dz
        dh = dz @ w["linear1.weight"]
        dh += df
        da, grads["norm1.weight"], grads["norm1.bias"] = self.layer_norm_backward(dh, xhat1, rstd1, w["norm1.weight"])
        grads["self_attn.out_proj.weight"] = da.T @ attended
        grads["self_attn.out_proj.bias"] = np.ones(da.shape[0], np.float32) @ da
        d_out = (da @ w["self_attn.out_proj.weight"]).reshape(n, length, heads, d).transpose(0, 2, 1, 3)
        dqkv = np.empty((n, length, 3, heads, d), np.float32)
        dq, dk, dv = (dqkv[:, :, i].transpose(0, 2, 1, 3) for i in range(3))
        np.matmul(probs.transpose(0, 1, 3, 2), d_out, out=dv)
        dp = np.matmul(d_out, v.transpose(0, 1, 3, 2))
        dp -= np.einsum("bhld,bhld->bhl", d_out, heads_out.transpose(0, 2, 1, 3))[..., None]
        dp *= probs
        np.matmul(dp, k, out=dq)
        dq *= scale
        np.matmul(dp.transpose(0, 1, 3, 2), q, out=dk)
        dk *= scale
        dqkv = dqkv.reshape(-1, 3 * width)
        grads["self_attn.in_proj_weight"] = dqkv.T @ rows
        grads["self_attn.in_proj_bias"] = np.ones(dqkv.shape[0], np.float32) @ dqkv
        dx = dqkv @ w["self_attn.in_proj_weight"]
        dx += da
        self.grads = grads
        return dx.reshape(self.x.shape)

    def gradients(self) -> dict:
        return self.grads


class ChainruleEncoderLayer:
    name = "chainrule"

    def __init__(self, problem: dict):
        shape = problem["shape"]
        self.layer = nn.TransformerEncoderLayer(shape["width"], shape["heads"], shape["feedforward"], dropout=0.0,
                                                batch_first=True)
        self.layer.load_state_dict(problem["state"])
        self.params = list(self.layer.parameters())
        self.x = cr.tensor(problem["x"], requires_grad=True)
        self.g = cr.tensor(problem["grad"])

    def forward(self):
        self.x.grad = None
        for p in self.params:
            p.grad = None
        return self.layer(self.x)

    def backward(self, out):
        out.backward(self.g)
        return self.x.grad.numpy()

    def gradients(self) -> dict:
        return {name: p.grad.numpy() for name, p in self.layer.named_parameters()}


class TorchEncoderLayer:
    name = "torch"

    def __init__(self, problem: dict):
        shape = problem["shape"]
        self.layer = torch.nn.TransformerEncoderLayer(shape["width"], shape["heads"], shape["feedforward"],
                                                      dropout=0.0, batch_first=True)
        self.layer.load_state_dict({k: torch.from_numpy(v) for k, v in problem["state"].items()})
        self.params = list(self.layer.parameters())
        self.x = torch.tensor(problem["x"], requires_grad=True)
        self.g = torch.from_numpy(problem["grad"])

    def forward(self):
        self.x.grad = None
        for p in self.params:
            p.grad = None
        return self.layer(self.x)

    def backward(self, out):
        out.backward(self.g)
        return self.x.grad.numpy()

    def gradients(self) -> dict:
        return {name: p.grad.numpy() for name, p in self.layer.named_parameters()}


def make_implementations(problem: dict) -> list:
    impls = [NumpyEncoderLayer(problem), ChainruleEncoderLayer(problem)]
    if torch is not None:
        impls.append(TorchEncoderLayer(problem))
    return impls


def to_numpy(value):
    if isinstance(value, np.ndarray):
        return value
    return value.detach().numpy() if torch is not None and isinstance(value, torch.Tensor) else value.numpy()


def check_agreement(impls: list) -> dict:
    """Output, input gradient and every parameter gradient of each implementation against
    NumPy's: max abs differences, and every array's dtype (float32 throughout)."""
    results = {}
    for impl in impls:
        out = impl.forward()
        dx = impl.backward(out)
        results[impl.name] = {"out": to_numpy(out).copy(), "dx": np.array(dx), "grads": impl.gradients()}
    base = results["numpy"]
    report = {}
    for name, row in results.items():
        if name == "numpy":
            continue
        diffs = {"out": float(np.abs(row["out"] - base["out"]).max()),
                 "dx": float(np.abs(row["dx"] - base["dx"]).max())}
        diffs["params"] = max(float(np.abs(row["grads"][k] - base["grads"][k]).max()) for k in base["grads"])
        dtypes = {str(row["out"].dtype), str(row["dx"].dtype)} | {str(g.dtype) for g in row["grads"].values()}
        diffs["dtypes"] = sorted(dtypes)
        report[name] = diffs
    return report


# ============================================================================ timing

def time_steps(impls: list, settings: dict) -> dict:
    """ms per forward + backward step (and per phase), implementations interleaved in an order that
    rotates each round; with ``settings["settle_s"] > 0`` each implementation's steps in a round follow
    a pause of that many seconds and one untimed step of its own, so that none is timed while the
    previous one's BLAS/OpenMP workers still spin (as bench_conv.py)."""
    clock = time.perf_counter
    gc.enable()
    for impl in impls:
        for _ in range(settings["warmup"]):
            impl.backward(impl.forward())
    samples = {impl.name: {"step": [], "forward": [], "backward": []} for impl in impls}
    settle = settings.get("settle_s", 0.0)
    for round_index in range(settings["rounds"]):
        shift = round_index % len(impls)
        for impl in impls[shift:] + impls[:shift]:
            record = samples[impl.name]
            if settle > 0:
                time.sleep(settle)
                impl.backward(impl.forward())
            for _ in range(settings["steps_per_round"]):
                t0 = clock()
                out = impl.forward()
                t1 = clock()
                impl.backward(out)
                t2 = clock()
                record["step"].append(t2 - t0)
                record["forward"].append(t1 - t0)
                record["backward"].append(t2 - t1)
                del out
    return {name: {phase: {"median": statistics.median(v) * MS, "min": min(v) * MS, "n": len(v)}
                   for phase, v in record.items()} for name, record in samples.items()}


def print_results(timed: dict, agreement: dict, shape: dict) -> None:
    print(f"TransformerEncoderLayer(d_model={shape['width']}, nhead={shape['heads']}, dim_feedforward="
          f"{shape['feedforward']}, dropout=0, batch_first=True), x ({shape['batch']}, {shape['length']}, "
          f"{shape['width']}) float32, forward + backward")
    for name, diffs in agreement.items():
        print(f"  agreement with numpy: {name:10s} out {diffs['out']:.1e}  dx {diffs['dx']:.1e}  "
              f"parameter grads {diffs['params']:.1e}  dtypes {', '.join(diffs['dtypes'])}")
    print(f"  {'implementation':12s} {'step ms: median [min]':>24s} {'forward':>9s} {'backward':>9s}")
    for name, row in timed.items():
        step = row["step"]
        print(f"  {name:12s} {step['median']:13.1f} [{step['min']:6.1f}] {row['forward']['median']:9.1f} "
              f"{row['backward']['median']:9.1f}")
    bench_conv.print_ratios(timed)


# ============================================================================ profiling

def profile_chainrule(problem: dict, steps: int, top: int = 20) -> str:
    impl = ChainruleEncoderLayer(problem)
    impl.backward(impl.forward())
    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(steps):
        impl.backward(impl.forward())
    profiler.disable()
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).strip_dirs().sort_stats("tottime").print_stats(top)
    return out.getvalue()


def node_breakdown(problem: dict, steps: int) -> dict:
    """ms per step in each graph node's forward and backward body (every Function subclass's
    methods wrapped with a timer for the run), and the rest ('engine and Python')."""
    totals = {}
    patched = []
    for cls in bench_engine._function_classes():
        for phase in ("forward", "backward"):
            if phase in vars(cls):
                method = vars(cls)[phase]
                patched.append((cls, phase, method))
                setattr(cls, phase, bench_engine._timed_method(method, phase, totals))
    impl = ChainruleEncoderLayer(problem)
    try:
        impl.backward(impl.forward())
        totals.clear()
        start = time.perf_counter()
        for _ in range(steps):
            impl.backward(impl.forward())
        total = time.perf_counter() - start
    finally:
        for cls, phase, method in patched:
            setattr(cls, phase, method)
    rows = {f"{name}.{phase}": seconds * MS / steps for (name, phase), (_, seconds) in totals.items()}
    rows["engine and Python (the rest)"] = total * MS / steps - sum(rows.values())
    return {"step_ms": total * MS / steps, "rows": dict(sorted(rows.items(), key=lambda kv: -kv[1]))}


# ============================================================================ main

def run(quick: bool = False, settings: dict | None = None, shape: dict | None = None, verbose: bool = True) -> dict:
    settings = dict(settings or (QUICK if quick else FULL))
    threads = bench_engine.blas_threads()
    if torch is not None:
        torch.set_num_threads(threads or 2)
    meta = bench_engine.environment(threads)
    if verbose:
        print("=" * 78)
        print(f"chainrule transformer benchmark ({'quick' if quick else 'full'})   {meta['date']}")
        print("=" * 78)
        print(f"CPU      : {meta['cpu_model']}  (nproc {meta['nproc']})")
        print(f"Python   : {meta['python']}   NumPy {meta['numpy']}   PyTorch {meta['torch']}")
        print(f"Threads  : NumPy BLAS {meta['blas_threads']}, torch {meta['torch_threads']}; "
              f"CHAINRULE_NO_NUMBA={os.environ.get('CHAINRULE_NO_NUMBA', '(unset)')}")
        print(f"chainrule: from {meta['chainrule_path']} (source sha1 {meta['chainrule_source_sha1']})")
        print(f"Timing   : {settings['rounds']} rounds x {settings['steps_per_round']} steps per implementation "
              f"(+{settings['warmup']} warm-up), interleaved, GC on")
        print()
    contention = bench_engine.CpuContention()
    problem = make_problem(shape)
    impls = bench_conv.with_numpy_twin(make_implementations(problem), ChainruleEncoderLayer, problem)
    agreement = check_agreement(impls)
    timed = time_steps(impls, settings)
    others = contention.cores_used_by_others()
    meta["cores_used_by_other_processes"] = others
    if verbose:
        print_results(timed, agreement, problem["shape"])
        if others is not None:
            verdict = ("OK: quiet machine" if others < 0.1 else
                       "WARNING: other processes competed for the CPU; repeat this run on a quiet machine")
            print(f"Other processes used {others:.2f} core(s) on average during the run -> {verdict}")
    return {"meta": meta, "settings": settings, "shape": problem["shape"], "agreement": agreement, "timings": timed}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="few repetitions (smoke test)")
    parser.add_argument("--json", metavar="PATH", help="write every number to PATH")
    parser.add_argument("--profile", type=int, metavar="STEPS", default=0,
                        help="also cProfile STEPS chainrule steps and time every graph node's forward/backward")
    args = parser.parse_args(argv)
    results = run(quick=args.quick)
    if args.profile:
        problem = make_problem()
        text = profile_chainrule(problem, args.profile)
        print(f"\ncProfile of {args.profile} chainrule steps, top 20 by tottime")
        print(text)
        breakdown = node_breakdown(problem, args.profile)
        print(f"Per-node breakdown of a chainrule step ({breakdown['step_ms']:.1f} ms, timers on):")
        for name, ms in breakdown["rows"].items():
            print(f"  {name:55s} {ms:7.2f} ms")
        results["profile"] = {"text": text, "breakdown": breakdown}
    if args.json:
        path = Path(args.json)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(results, indent=2, default=str))
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
