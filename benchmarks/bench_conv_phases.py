#!/usr/bin/env python3
"""Conv2d phases (forward, input gradient, weight gradient) at ResNet-20's shapes: the direct
kernels (numba, :mod:`chainrule.nn.fused.direct_convolution`) against the window-matrix path
(the routing function replaced around each call; the other numba kernels stay on), interleaved,
CPU time (``time.process_time``).

Run from the repository root, one thread (the comparison that survives a loaded machine)::

    NUMBA_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 CHAINRULE_NUM_THREADS=1 python benchmarks/bench_conv_phases.py
    python benchmarks/bench_conv_phases.py --rounds 9 --wall     # wall-clock time, the default threads
    python benchmarks/bench_conv_phases.py --resnet              # + ResNet-20 training steps, old and new

Prints ms per phase, median [min] over the rounds, for each shape and path, and new / old.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))
import chainrule as cr  # noqa: E402
from chainrule.nn import functional as F  # noqa: E402
from chainrule.nn.fused import convolution  # noqa: E402

SHAPES = [  # (name, C, O, size, kernel, stride, padding), batch 128
    ("stem 3->16 3x3", 3, 16, 32, 3, 1, 1),
    ("16->16 3x3", 16, 16, 32, 3, 1, 1),
    ("16->32 3x3 s2", 16, 32, 32, 3, 2, 1),
    ("32->32 3x3", 32, 32, 16, 3, 1, 1),
    ("32->64 3x3 s2", 32, 64, 16, 3, 2, 1),
    ("64->64 3x3", 64, 64, 8, 3, 1, 1),
    ("16->32 1x1 s2", 16, 32, 32, 1, 2, 0),
    ("32->64 1x1 s2", 32, 64, 16, 1, 2, 0),
    ("16->16 1x1", 16, 16, 32, 1, 1, 0),
]


def _phases(x, w, stride, padding, grad):
    """Closures running the forward, the input gradient only, the weight gradient only."""
    def forward():
        F.conv2d(cr.tensor(x), cr.tensor(w), stride=stride, padding=padding)

    def backward(which):
        xt, wt = cr.tensor(x, requires_grad=which == "dx"), cr.tensor(w, requires_grad=which == "dw")
        y = F.conv2d(xt, wt, stride=stride, padding=padding)
        start = _clock()
        y.backward(cr.tensor(grad))
        return _clock() - start
    return forward, lambda: backward("dx"), lambda: backward("dw")


_clock = time.process_time


_DIRECT = convolution._direct_kernels


def _timed(function, old: bool) -> float:
    convolution._direct_kernels = (lambda x, windows: None) if old else _DIRECT
    try:
        start = _clock()
        inner = function()
        return inner if inner is not None else _clock() - start
    finally:
        convolution._direct_kernels = _DIRECT


def _resnet_step(batch: int):
    """One ResNet-20 training step (bench_conv.py's (b): cross-entropy, SGD momentum 0.9) as a closure."""
    from chainrule import models
    rng = np.random.default_rng(0)
    model = models.resnet(20, (16, 32, 64), num_classes=10)
    model.train()
    optimizer = cr.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    x = cr.tensor(rng.standard_normal((batch, 3, 32, 32)).astype(np.float32))
    y = cr.tensor(rng.integers(0, 10, batch))

    def step():
        optimizer.zero_grad()
        F.cross_entropy(model(x), y).backward()
        optimizer.step()
    return step


def _compare(label: str, phase, rounds: int) -> str:
    times = {True: [], False: []}
    for old in (True, False):  # warm up (and compile)
        _timed(phase, old)
    for _ in range(rounds):
        for old in (True, False):
            times[old].append(1e3 * _timed(phase, old))
    med = {key: statistics.median(value) for key, value in times.items()}
    return (f"{label} old {med[True]:6.2f} [{min(times[True]):6.2f}] new {med[False]:6.2f} "
            f"[{min(times[False]):6.2f}] x{med[False] / med[True]:.2f}")


def main() -> None:
    global _clock
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--wall", action="store_true", help="wall-clock time instead of CPU time")
    parser.add_argument("--resnet", action="store_true", help="also ResNet-20 training steps")
    parser.add_argument("--only-resnet", action="store_true", help="only ResNet-20 training steps")
    args = parser.parse_args()
    if args.wall:
        _clock = time.perf_counter
    rng = np.random.default_rng(0)
    clock = "wall" if args.wall else "CPU"
    print(f"{os.uname().nodename}: load {os.getloadavg()}, batch {args.batch}, {clock} time ms")
    for name, c, o, size, k, stride, padding in [] if args.only_resnet else SHAPES:
        x = rng.standard_normal((args.batch, c, size, size)).astype(np.float32)
        w = rng.standard_normal((o, c, k, k)).astype(np.float32) * 0.1
        out = (size + 2 * padding - k) // stride + 1
        grad = rng.standard_normal((args.batch, o, out, out)).astype(np.float32)
        phases = _phases(x, w, stride, padding, grad)
        line = [f"{name:16s}"]
        for label, phase in zip(("fwd", "dX", "dW"), phases):
            if not (label == "dX" and name.startswith("stem")):
                line.append(_compare(label, phase, args.rounds))
        print("  ".join(line), flush=True)
    if args.resnet or args.only_resnet:
        print(_compare("ResNet-20 step", _resnet_step(args.batch), args.rounds), flush=True)


if __name__ == "__main__":
    main()
