#!/usr/bin/env python3
"""Exact-GELU benchmark: the compiled kernels (chainrule.nn.fused.numba_kernels.gelu /
gelu_gradient) against the engine's op (NumPy + scipy.special.erf, the reference) and torch, on
2M float32 values (one GPT feed-forward activation), then their accuracy. One command each::

    NUMBA_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 python benchmarks/bench_gelu.py   # one-thread CPU time
    python benchmarks/bench_gelu.py                      # wall time, numba's and torch's 2 threads
    python benchmarks/bench_gelu.py --quick              # 2M-point accuracy grid instead of 20M

Timing: the implementations interleaved, 21 rounds, median and minimum per call (CPU time when
NUMBA_NUM_THREADS=1, else wall time); torch runs on as many threads as numba. Accuracy: largest
error in float32 ulps (and absolute) of y = a Phi(a), and of dy/da, against the float64 formulas
(scipy's erf, NumPy's exp) on every point of a dense grid of [-10, 10], per region of a.
"""
from __future__ import annotations

import argparse
import math
import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))  # measure the working tree
import torch  # noqa: E402
from scipy.special import erf  # noqa: E402

import chainrule as cr  # noqa: E402
from chainrule.autograd import grad  # noqa: E402
from chainrule.engine import ops  # noqa: E402
from chainrule.nn.fused import numba_kernels as kernels  # noqa: E402

ONE_THREAD = os.environ.get("NUMBA_NUM_THREADS") == "1"
REGIONS = [(0, 10.1), (-1, 0), (-2, -1), (-3, -2), (-4, -3), (-5.5, -4), (-10, -5.5)]


def engine(a, g=None):
    """The engine's op on float32 arrays: y, or dy (the gradient for the upstream g)."""
    x = cr.tensor(a, requires_grad=g is not None)
    y = ops.gelu(x)
    return y.numpy() if g is None else grad(y, [x], cr.tensor(g))[0].numpy()


def timings(size=2_000_000, rounds=21):
    rng = np.random.default_rng(0)
    a = (rng.standard_normal(size) * 2).astype(np.float32)
    g = rng.standard_normal(size).astype(np.float32)
    y, cdf, dx = np.empty_like(a), np.empty_like(a), np.empty_like(a)
    ta, tg = torch.from_numpy(a), torch.from_numpy(g)
    cases = {
        "kernels forward": lambda: kernels.gelu(a, y, cdf),
        "engine forward": lambda: engine(a),
        "torch forward": lambda: torch.nn.functional.gelu(ta),
        "kernels backward": lambda: kernels.gelu_gradient(g, a, cdf, dx),
        "engine fwd+bwd": lambda: engine(a, g),
        "torch backward": lambda: torch.ops.aten.gelu_backward(tg, ta),
    }
    clock = time.process_time if ONE_THREAD else time.perf_counter
    for case in cases.values():
        case()
    times = {name: [] for name in cases}
    for _ in range(rounds):
        for name, case in cases.items():
            start = clock()
            case()
            times[name].append((clock() - start) * 1e3)
    print(f"{size} float32 values, {'one-thread CPU time' if ONE_THREAD else 'wall time'} per call "
          f"(load average {os.getloadavg()[0]:.2f})")
    for name, values in times.items():
        print(f"  {name:18s} median {np.median(values):7.2f} ms   min {min(values):7.2f} ms")


def accuracy(points):
    a = np.linspace(-10, 10, points).astype(np.float32)
    x = a.astype(np.float64)
    cdf = 0.5 * (1 + erf(x / math.sqrt(2)))
    ref_y, ref_dx = x * cdf, cdf + x * np.exp(-0.5 * x * x) / math.sqrt(2 * math.pi)
    y, c, dx = np.empty_like(a), np.empty_like(a), np.empty_like(a)
    kernels.gelu(a, y, c)
    kernels.gelu_gradient(np.ones_like(a), a, c, dx)
    ta = torch.tensor(a, requires_grad=True)
    ty = torch.nn.functional.gelu(ta)
    ty.backward(torch.ones_like(ty))
    results = {"y": {"kernels": y, "engine": engine(a), "torch": ty.detach().numpy()},
               "dy/da": {"kernels": dx, "engine": engine(a, np.ones_like(a)), "torch": ta.grad.numpy()}}
    print(f"\nlargest error, float32 ulps [absolute], on {points} points of [-10, 10]")
    print("  " + " " * 17 + "".join(f"{f'[{lo}, {hi})':>20s}" for lo, hi in REGIONS))
    for quantity, reference in (("y", ref_y), ("dy/da", ref_dx)):
        spacing = np.spacing(np.abs(reference.astype(np.float32))).astype(np.float64)
        for name, got in results[quantity].items():
            error = np.abs(got - reference)
            cells = []
            for low, high in REGIONS:
                inside = (a >= low) & (a < high)
                cells.append(f"{(error / spacing)[inside].max():9.3g} [{error[inside].max():7.2g}]")
            print(f"  {quantity:5s} {name:10s} " + "".join(f"{cell:>20s}" for cell in cells))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="2M accuracy points instead of 20M")
    args = parser.parse_args(argv)
    torch.set_num_threads(1 if ONE_THREAD else max(1, int(os.environ.get("NUMBA_NUM_THREADS", os.cpu_count()))))
    timings()
    accuracy(2_000_001 if args.quick else 20_000_001)
    return 0


if __name__ == "__main__":
    sys.exit(main())
