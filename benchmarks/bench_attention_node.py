#!/usr/bin/env python3
"""A/B of the attention node alone: its NumPy path (batched BLAS matmuls around the softmax
passes) against the compiled kernel (src/chainrule/nn/fused/attention_kernels.py), forward and
backward, interleaved round by round in one process.

Run from the repository root::

    NUMBA_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 python benchmarks/bench_attention_node.py  # one-thread CPU time
    python benchmarks/bench_attention_node.py                                            # wall time, all cores

Shapes: one GPT layer of benchmarks/bench_gpt.py (the packed (N, L, 3 E) projection, N 32,
H 4, L = S = 128, d 32, causal mask) and the encoder layer of benchmarks/bench_attn.py (the same
without a mask). With ``NUMBA_NUM_THREADS=1`` the clock is ``time.process_time`` (CPU time of
this process, robust to other processes' load), else ``time.perf_counter``. Reported: ms
median [min] of forward, backward and both, over the rounds.
"""
from __future__ import annotations

import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))  # measure the working tree

import chainrule as cr  # noqa: E402
from chainrule.nn import fused  # noqa: E402
from chainrule.nn.fused import attention  # noqa: E402

N, H, L, D = 32, 4, 128, 32
ROUNDS = 15
ONE_THREAD = os.environ.get("NUMBA_NUM_THREADS") == "1"
CLOCK = time.process_time if ONE_THREAD else time.perf_counter
COMPILED = attention.attention_kernels
DEFAULT_MAX_VISITED = attention.KERNEL_MAX_VISITED


def step_of(causal: bool):
    rng = np.random.default_rng(0)
    qkv = cr.tensor(rng.standard_normal((N, L, 3 * H * D)).astype(np.float32), requires_grad=True)
    mask = np.where(np.triu(np.ones((L, L), dtype=bool), 1), -np.inf, 0).astype(np.float32)
    inputs = (qkv, cr.tensor(mask)) if causal else (qkv,)
    upstream = cr.tensor(rng.standard_normal((N, L, H * D)).astype(np.float32))

    def step():
        start = CLOCK()
        out = fused.MultiheadAttentionCore.apply(*inputs, scale=1 / np.sqrt(D), keep=None, heads=H,
                                                 batch_first=True, packed=True)
        middle = CLOCK()
        out.backward(upstream)
        end = CLOCK()
        qkv.grad = None
        return middle - start, end - middle
    return step


def run(which: str, step):
    attention.attention_kernels = COMPILED if which == "compiled" else (lambda *arrays: None)
    attention.KERNEL_MAX_VISITED = 1.0  # the kernel without a mask too (the default takes the NumPy path there)
    try:
        return step()
    finally:
        attention.attention_kernels = COMPILED
        attention.KERNEL_MAX_VISITED = DEFAULT_MAX_VISITED


def main() -> None:
    print(f"clock: {'process_time, one thread' if ONE_THREAD else 'perf_counter'}; load: {os.getloadavg()}")
    for name, causal in (("GPT layer (causal)", True), ("encoder layer (no mask)", False)):
        step = step_of(causal)
        times = {"numpy": [], "compiled": []}
        for which in times:
            run(which, step)
            run(which, step)
        for index in range(ROUNDS):
            for which in (("numpy", "compiled") if index % 2 else ("compiled", "numpy")):
                times[which].append(run(which, step))
        for which, rows in times.items():
            rows = np.array(rows) * 1e3
            columns = (rows[:, 0], rows[:, 1], rows.sum(1))
            cells = [f"{statistics.median(col):6.2f} [{min(col):6.2f}]" for col in columns]
            print(f"{name:24s} {which:8s} forward {cells[0]}  backward {cells[1]}  both {cells[2]}")
    print(f"load after: {os.getloadavg()}")


if __name__ == "__main__":
    main()
