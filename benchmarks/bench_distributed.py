#!/usr/bin/env python3
"""Data-parallel training benchmark: W1 epochs on 2 MPI ranks x 1 thread against 1 rank x 2 threads,
the bytes each step all-reduces, and a ring all-reduce projection to 8 and 64 ranks.

Run from the repository root (needs the ``mpi`` extra: mpi4py and the mpich wheel)::

    python benchmarks/bench_distributed.py             # full W1: 60,000 rows, 3 timed epochs
    python benchmarks/bench_distributed.py --quick     # 6,000 rows, 2 timed epochs (< 1 min)
    python benchmarks/bench_distributed.py --json benchmarks/results/distributed.json

W1 (as in bench_training.py): MLP 784-256-256-10, ReLU, softmax cross-entropy, Adam lr 1e-3,
global batch 128, synthetic data (float32). Both configurations run the same global batches
(``Trainer(distributed=True)`` with 2 ranks of batch 64 takes the same steps as one process
with batch 128), so their epoch times compare like for like:

* ``1 rank x 2 threads``: one process, ``OMP_NUM_THREADS=OPENBLAS_NUM_THREADS=2``;
* ``2 ranks x 1 thread``: ``mpiexec -n 2``, one BLAS thread per rank.

Each configuration trains one warm-up epoch, then ``timed`` epochs; the table gives the median
and min seconds per epoch. The 2-rank run also reports the time spent inside the per-step
gradient all-reduce (which includes waiting for the slower rank) and, separately, the median
time of an isolated all-reduce of the same buffer (200 repetitions after a barrier): on one
machine MPICH moves it through shared memory.

Projection (ring all-reduce cost model; Thakur, Rabenseifner & Gropp 2005; Patarasuk & Yuan
2009): an all-reduce of S bytes over N ranks costs

    T_ar(N) = 2 (N − 1) α + 2 (N − 1)/N · S / β,

α the per-message latency and β the link bandwidth. With a fixed global batch of 128 rows
(strong scaling: the same optimization as one process) each rank computes 128/N rows per
step, so one step costs t_c · (1/N) + T_ar(N) where t_c is the measured time of a 128-row step
on one core without communication (this assumes the whole step shrinks with its rows; the
fixed per-step costs do not, so the strong-scaling figures are optimistic). With a fixed per-rank batch of 128 rows
(weak scaling: a global batch of 128 N, fewer steps per epoch, a different optimization) one epoch
costs (rows / (128 N)) · (t_c + T_ar(N)). The script prints both for two stated networks:
10 Gb Ethernet (β = 1.25 GB/s, α = 25 µs) and InfiniBand EDR (β = 12.5 GB/s, α = 2 µs).
t_c is the measured seconds per step of the 1 rank x 1 thread epoch (everything a step does
but communicate: fetching the batch, forward, backward, the gradient norm, Adam); the pure
forward-backward-Adam time of a 128-row step is printed beside it.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

W1 = {"sizes": (784, 256, 256, 10), "global_batch": 128, "lr": 1e-3, "rows": 60_000}
NETWORKS = {  # name: (bandwidth β in bytes/s, latency α in s)
    "10 GbE": (1.25e9, 25e-6),
    "InfiniBand EDR 100 Gb/s": (12.5e9, 2e-6),
}
PROJECT_RANKS = (1, 2, 8, 64)
ISOLATED_REPEATS = 200


# ============================================================================ worker

def worker(rows: int, timed: int, out: str) -> None:
    """Run inside one process (or each MPI rank): train W1 epochs and write the timings (rank 0)."""
    import chainrule as cr
    from chainrule import distributed as dist
    from chainrule import nn, optim
    from chainrule.train import Trainer

    size = dist.world_size()
    rng = np.random.default_rng(0)
    X = rng.standard_normal((rows, W1["sizes"][0]), dtype=np.float32)
    teacher = rng.standard_normal((W1["sizes"][0], W1["sizes"][-1]), dtype=np.float32)
    y = np.argmax(X @ teacher, axis=1).astype(np.int64)
    cr.manual_seed(0)
    model = nn.MLP(list(W1["sizes"]))
    trainer = Trainer(model, nn.CrossEntropyLoss(), optim.Adam(model.parameters(), lr=W1["lr"]), verbose=0,
                      distributed=size > 1)
    batch = W1["global_batch"] // size
    epochs = []
    for epoch in range(1 + timed):
        dist.barrier()
        started = time.perf_counter()
        trainer.fit((X, y), epochs=1, batch_size=batch)
        dist.barrier()
        if epoch > 0:
            epochs.append(time.perf_counter() - started)
    result = {"ranks": size, "threads": os.environ.get("OMP_NUM_THREADS"), "epoch_seconds": epochs,
              "steps_per_epoch": -(-rows // W1["global_batch"]),
              "parameters": int(sum(p.data.size for p in model.parameters()))}
    if size > 1:
        parallel = trainer._parallel
        result["bytes_per_step"] = parallel.bytes_per_step
        result["comm_seconds_per_step"] = parallel.comm_seconds / max(parallel.comm_steps, 1)
        result["isolated_allreduce_seconds"] = _isolated_allreduce(parallel.bytes_per_step // 4)
    else:
        result["compute_seconds_per_step"] = _compute_step_seconds(model, X, y)
    if dist.is_main():
        Path(out).write_text(json.dumps(result))


def _isolated_allreduce(length: int) -> float:
    from chainrule import distributed as dist

    buffer = np.ones(length, dtype=np.float32)
    times = []
    for _ in range(ISOLATED_REPEATS):
        dist.barrier()
        started = time.perf_counter()
        dist.allreduce_(buffer)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def _compute_step_seconds(model, X, y, repeats: int = 60) -> float:
    """Median seconds of one 128-row step (forward, backward, Adam), no communication."""
    from chainrule import nn, optim, tensor

    optimizer = optim.Adam(model.parameters(), lr=W1["lr"])
    loss = nn.CrossEntropyLoss()
    xb, yb = tensor(X[:W1["global_batch"]]), tensor(y[:W1["global_batch"]])
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        optimizer.zero_grad()
        loss(model(xb), yb).backward()
        optimizer.step()
        times.append(time.perf_counter() - started)
    return statistics.median(times[5:])


# ============================================================================ driver

def run_configuration(ranks: int, threads: int, rows: int, timed: int) -> dict:
    env = dict(os.environ, OMP_NUM_THREADS=str(threads), OPENBLAS_NUM_THREADS=str(threads),
               MKL_NUM_THREADS=str(threads))
    for name in ("PMI_SIZE", "OMPI_COMM_WORLD_SIZE", "PMIX_SIZE"):
        env.pop(name, None)
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "result.json")
        command = [sys.executable, __file__, "--worker", "--rows", str(rows), "--timed", str(timed), "--out", out]
        if ranks > 1:
            mpiexec = Path(sys.executable).with_name("mpiexec")
            command = [str(mpiexec) if mpiexec.exists() else "mpiexec", "-n", str(ranks)] + command
        subprocess.run(command, check=True, env=env, timeout=1800)
        return json.loads(Path(out).read_text())


def ring_allreduce_seconds(ranks: int, nbytes: float, bandwidth: float, latency: float) -> float:
    """T = 2 (N − 1) α + 2 (N − 1)/N · S / β (0 for one rank)."""
    if ranks == 1:
        return 0.0
    return 2 * (ranks - 1) * latency + 2 * (ranks - 1) / ranks * nbytes / bandwidth


def projection(compute_step: float, nbytes: int, rows: int) -> list:
    """Rows of (network, N, strong-scaling epoch s, speed-up, weak-scaling epoch s, comm share)."""
    table = []
    batch = W1["global_batch"]
    for network, (bandwidth, latency) in NETWORKS.items():
        for ranks in PROJECT_RANKS:
            comm = ring_allreduce_seconds(ranks, nbytes, bandwidth, latency)
            strong_step = compute_step / ranks + comm
            strong_epoch = -(-rows // batch) * strong_step
            weak_epoch = -(-rows // (batch * ranks)) * (compute_step + comm)
            table.append({"network": network, "ranks": ranks, "allreduce_ms": comm * 1e3,
                          "strong_epoch_s": strong_epoch,
                          "strong_speedup": (-(-rows // batch) * compute_step) / strong_epoch,
                          "weak_epoch_s": weak_epoch, "comm_share_weak": comm / (compute_step + comm)})
    return table


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="6,000 rows and 2 timed epochs")
    parser.add_argument("--json", help="also write the results here")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--rows", type=int, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--timed", type=int, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    rows = args.rows or (6_000 if args.quick else W1["rows"])
    timed = args.timed or (2 if args.quick else 3)
    if args.worker:
        worker(rows, timed, args.out)
        return 0

    load_before = os.getloadavg()[0]
    single = run_configuration(1, 2, rows, timed)
    double = run_configuration(2, 1, rows, timed)
    one_thread = run_configuration(1, 1, rows, timed)
    load_after = os.getloadavg()[0]
    print(f"machine: {os.cpu_count()} cores; 1-minute load average {load_before:.1f} before, "
          f"{load_after:.1f} after (a load above the core count means other processes shared the cores)")
    print(f"W1: MLP {'-'.join(map(str, W1['sizes']))}, Adam, global batch {W1['global_batch']}, {rows:,} rows, "
          f"{single['steps_per_epoch']} steps per epoch; {single['parameters']:,} parameters")
    print(f"{'configuration':<24}{'median s/epoch':>16}{'min s/epoch':>14}{'ratio':>8}")
    base = statistics.median(single["epoch_seconds"])
    for name, result in (("1 rank x 2 threads", single), ("2 ranks x 1 thread", double),
                         ("1 rank x 1 thread", one_thread)):
        median = statistics.median(result["epoch_seconds"])
        print(f"{name:<24}{median:>16.3f}{min(result['epoch_seconds']):>14.3f}{median / base:>8.2f}")
    nbytes = double["bytes_per_step"]
    print(f"\nall-reduced per step: {nbytes:,} bytes (float32 gradients of all parameters, one "
          f"has-gradient flag per parameter tensor, the batch loss); a ring all-reduce sends and "
          f"receives 2 (N-1)/N of that per rank")
    print(f"time in the per-step all-reduce (2 ranks, incl. waiting for the slower rank): "
          f"{double['comm_seconds_per_step'] * 1e3:.3f} ms; isolated all-reduce of the same buffer: "
          f"{double['isolated_allreduce_seconds'] * 1e3:.3f} ms (shared memory, one machine)")
    compute = statistics.median(one_thread["epoch_seconds"]) / one_thread["steps_per_epoch"]
    print(f"one 128-row step on one core, no communication: {compute * 1e3:.2f} ms per step of the "
          f"1 x 1 epoch (forward, backward and Adam alone: {one_thread['compute_seconds_per_step'] * 1e3:.2f} ms)")
    rows_full = W1["rows"]
    print(f"\nProjection for W1 at {rows_full:,} rows (ring all-reduce model, t_c = {compute * 1e3:.2f} ms "
          f"per 128-row step per core, S = {nbytes:,} bytes). strong: global batch 128 (the same steps as "
          f"one process), each rank 128/N rows; weak: 128 rows per rank, global batch 128 N:")
    print(f"{'network':<26}{'N':>4}{'all-reduce ms':>15}{'strong s/epoch':>16}{'speed-up':>10}"
          f"{'weak s/epoch':>14}{'comm share':>12}")
    table = projection(compute, nbytes, rows_full)
    for row in table:
        print(f"{row['network']:<26}{row['ranks']:>4}{row['allreduce_ms']:>15.3f}{row['strong_epoch_s']:>16.3f}"
              f"{row['strong_speedup']:>10.2f}{row['weak_epoch_s']:>14.3f}{row['comm_share_weak']:>12.1%}")
    if args.json:
        Path(args.json).write_text(json.dumps({"load_average": [load_before, load_after],
                                               "single_2_threads": single, "two_ranks": double,
                                               "single_1_thread": one_thread, "projection": table}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
