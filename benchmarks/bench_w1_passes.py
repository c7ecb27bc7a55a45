#!/usr/bin/env python3
"""W1's replayed step: the compiled epilogue passes against the NumPy calls they replace (issue 20).

Run from the repository root (numba installed)::

    python benchmarks/bench_w1_passes.py                 # both parts, about a minute
    python benchmarks/bench_w1_passes.py --threads 1     # BLAS on one thread (CPU time is the number to read)

1. Each pass alone, the two forms interleaved (median / minimum µs over ``--reps`` calls):
   the ReLU mask then ``add.reduce(axis=0)`` for the bias gradient against
   ``relu_mask_sum`` (128 x 256); ``add.reduce(axis=0)`` against ``column_sums`` (128 x 10,
   the output layer); the plain cross-entropy's NumPy path against its compiled passes
   (forward + backward, 128 x 10). Each pair is checked bit-equal.
2. The whole compiled W1 step (``bench_training.ChainruleCompiled``), two trainers in one
   process from the same weights on the same batches: "base" has the three passes put back to
   the NumPy calls (the paths before these changes), "now" runs the code as it is; epochs
   interleaved with the order alternating; wall and CPU time per step, medians and minima;
   the two trainers' weights are compared bit for bit at the end.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench_training as bt  # noqa: E402

from chainrule.engine import compiled  # noqa: E402
from chainrule.engine.autograd import claim_grad_slot  # noqa: E402
from chainrule.train.compiler.buffered import BufferedCrossEntropy  # noqa: E402


def interleaved(pairs: dict, reps: int) -> dict:
    times = {name: [] for name in pairs}
    for _ in range(reps):
        for name, fn in pairs.items():
            start = time.perf_counter_ns()
            fn()
            times[name].append((time.perf_counter_ns() - start) / 1e3)
    return {name: (statistics.median(v), min(v)) for name, v in times.items()}


def passes(reps: int) -> None:
    nk = compiled.kernels("chainrule.train.compiler.numba_kernels")
    rng = np.random.default_rng(0)
    g, z = (rng.standard_normal((128, 256), dtype=np.float32) for _ in range(2))
    m1, m2 = np.empty_like(g), np.empty_like(g)
    t1, t2 = np.empty(256, np.float32), np.empty(256, np.float32)
    d = rng.standard_normal((128, 10), dtype=np.float32)
    c1, c2 = np.empty(10, np.float32), np.empty(10, np.float32)

    def mask_then_reduce():
        nk.relu_mask(g, z, m1)
        np.add.reduce(m1, axis=0, out=t1)

    logits, target = rng.standard_normal((128, 10)).astype(np.float32), rng.integers(0, 10, 128)
    one = np.ones((), np.float32)
    forms = {}
    for name, fused in (("NumPy calls", False), ("compiled passes", True)):
        node = BufferedCrossEntropy()
        node.needs_input_grad = (True,)
        node.forward(logits, target, None, -100, "mean", 0.0, False)
        if not fused:
            node.kernels = False
        forms[name] = node

    def cross_entropy(node):
        return lambda: (node.forward(logits, target, None, -100, "mean", 0.0, False), node.backward(one))

    tables = {
        "ReLU mask + bias gradient, 128 x 256": {"mask, add.reduce": mask_then_reduce,
                                                 "relu_mask_sum": lambda: nk.relu_mask_sum(g, z, m2, t2)},
        "bias gradient, 128 x 10": {"add.reduce": lambda: np.add.reduce(d, axis=0, out=c1),
                                    "column_sums": lambda: nk.column_sums(d, c2)},
        "cross-entropy forward + backward, 128 x 10": {name: cross_entropy(node) for name, node in forms.items()},
    }
    for title, pairs in tables.items():
        result = interleaved(pairs, reps)
        print(f"  {title}: " + ";  ".join(f"{name} {med:.2f} / {low:.2f} us" for name, (med, low) in result.items()))
    assert np.array_equal(m1, m2) and np.array_equal(t1, t2) and np.array_equal(c1, c2)
    a, b = (forms[name].backward(one)[0].copy() for name in forms)
    assert np.array_equal(a, b) and all(node.kernels is not None for node in forms.values())


def base_paths(impl) -> None:
    """Put the three passes of ``impl``'s replay back to the NumPy calls they replaced."""
    (entries,) = impl.step.plans.values()
    scope = entries[0][1].run.__globals__
    chain, loss = scope["N0"], scope["N1"]

    def mask_and_sum(g, out, target, bias, i):
        chain.mask(g, out, target, i)
        return bias_gradient(target, bias, i)

    def bias_gradient(g, bias, i):
        slot = claim_grad_slot(bias)
        total = np.add.reduce(g, axis=0, out=slot)
        return total if slot is None else None

    chain.mask_and_sum, chain.bias_gradient = mask_and_sum, bias_gradient
    loss.kernels = False


def whole_step(rounds: int, rows: int) -> None:
    problem = bt.make_problem("W1", rows=rows)
    impls = {"base": bt.ChainruleCompiled(problem), "now": bt.ChainruleCompiled(problem)}
    for name, impl in impls.items():
        impl.epoch()  # the trace and the first replays
        if name == "base":
            base_paths(impl)
    wall, cpu = {name: [] for name in impls}, {name: [] for name in impls}
    for r in range(rounds):
        for name in (list(impls) if r % 2 == 0 else list(impls)[::-1]):
            impl = impls[name]
            start, start_cpu = time.perf_counter(), time.process_time()
            impl.epoch()
            steps = len(impl.loader)
            wall[name].append((time.perf_counter() - start) / steps * 1e6)
            cpu[name].append((time.process_time() - start_cpu) / steps * 1e6)
    for name in impls:
        print(f"  {name:4s} wall {statistics.median(wall[name]):7.1f} / {min(wall[name]):7.1f} us per step;  "
              f"CPU {statistics.median(cpu[name]):7.1f} / {min(cpu[name]):7.1f} (median / minimum)")
    weights = [np.concatenate([p.data.ravel() for p in impl.model.parameters()]) for impl in impls.values()]
    print(f"  weights bit-equal after {rounds + 1} epochs each: {np.array_equal(*weights)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2, help="BLAS threads (default 2)")
    parser.add_argument("--reps", type=int, default=3000, help="calls per pass form (default 3000)")
    parser.add_argument("--rounds", type=int, default=15, help="epochs per trainer (default 15)")
    parser.add_argument("--rows", type=int, default=128 * 50, help="rows of the W1 problem (default 6400)")
    args = parser.parse_args()
    if bt.threadpoolctl is not None:
        bt.threadpoolctl.threadpool_limits(args.threads)
    if compiled.kernels("chainrule.train.compiler.numba_kernels") is None:
        sys.exit("numba is missing or CHAINRULE_NO_NUMBA is set: nothing to compare")
    print(f"{time.strftime('%Y-%m-%d %H:%M:%S')}  load {os.getloadavg()}  BLAS threads {args.threads}")
    print("1. each pass alone, median / minimum:")
    passes(args.reps)
    print("2. the whole compiled W1 step, base paths against now:")
    whole_step(args.rounds, args.rows)
    print(f"   load at the end {os.getloadavg()}")


if __name__ == "__main__":
    main()
