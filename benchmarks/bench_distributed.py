#!/usr/bin/env python3
"""Data-parallel training benchmark: W1 epochs on 2 MPI ranks x 1 thread (blocking all-reduce, and
overlapped gradient buckets) against 1 rank x 2 threads, and a ring all-reduce projection to 8 and 64 ranks.

Run from the repository root (needs the ``mpi`` extra: mpi4py and the mpich wheel); one command::

    python benchmarks/bench_distributed.py             # full W1: 60,000 rows, 3 rounds (~2 min quiet)
    python benchmarks/bench_distributed.py --quick     # 6,000 rows, 2 rounds (~1 min)
    python benchmarks/bench_distributed.py --json benchmarks/results/distributed.json

W1 (as in bench_training.py): MLP 784-256-256-10, ReLU, softmax cross-entropy, Adam lr 1e-3,
global batch 128, synthetic data (float32). Every configuration runs the same global batches
(``Trainer(distributed=True)`` with 2 ranks of batch 64 takes the same steps as one process
with batch 128), so their epoch times compare like for like:

* ``1 rank x 2 threads``: one process, ``OMP_NUM_THREADS=OPENBLAS_NUM_THREADS=2``;
* ``2 ranks x 1 thread``: ``mpiexec -n 2``, one BLAS thread per rank, with the blocking
  all-reduce after backward (``DataParallel(overlap=False)``), and with overlapped gradient
  buckets (the default, one 1 MiB first bucket: all of W1's 1.08 MB, so no overlap) and with
  ``bucket_cap_mb=0.25`` (two buckets: the last two layers, started inside the backward pass
  before the first layer's weight gradient, then the first layer);
* ``2 ranks x 1 thread, zero_redundancy``: ``Trainer(zero_redundancy=True)``, ZeRO stage 1
  (:mod:`chainrule.train.zero_redundancy`): each rank updates half of the parameters and of
  Adam's state; on one machine the ranks sum and exchange their halves through an MPI
  shared-memory window;
* ``1 rank x 1 thread``: the compute of a step without communication (for the projection).

Each configuration runs in a fresh process: one warm-up epoch, then ``timed`` epochs. The
configurations are interleaved, round after round (``--rounds``), so that the machine's load
hits them alike; the table gives the median seconds per epoch over all rounds, and the
1-minute load average (``os.getloadavg``, what ``uptime`` prints) before and after each
configuration's runs. The 2-rank runs also report the time a step spends in the all-reduce
after backward (the blocking all-reduce, or starting the remaining buckets and waiting for
all; it includes waiting for the slower rank) and how many buckets started during backward.

Projection (ring all-reduce cost model; Thakur, Rabenseifner & Gropp 2005; Patarasuk & Yuan
2009): an all-reduce of S bytes over N ranks costs

    T_ar(N, S) = 2 (N − 1) α + 2 (N − 1)/N · S / β,

α the per-message latency and β the link bandwidth. With a fixed global batch of 128 rows
(strong scaling: the same optimization as one process) each rank computes 128/N rows per
step, so a blocking step costs (t_c − t_o) / N + t_o + T_ar(N, S), t_c the measured time of a
128-row step on one core without communication and t_o the optimizer step inside it (Adam over
all P parameters, which every rank runs whole; measured in the same 1 x 1 process). The rest is
assumed to shrink with the rows (the other fixed per-step costs do not, so the strong-scaling
figures stay optimistic). With ``zero_redundancy`` (ZeRO stage 1) each rank updates P/N
parameters and the reduce-scatter plus all-gather move the all-reduce's bytes in the same
2 (N − 1) messages: (t_c − t_o) / N + t_o / N + T_ar(N, S). With a fixed per-rank batch of 128
rows (weak scaling: a global batch of 128 N, fewer steps per epoch, a different optimization)
one epoch costs (rows / (128 N)) · (t_c − t_o + t_o' + T_ar(N, S)), t_o' = t_o or t_o / N.

With overlap, the buckets' all-reduces run one after another on the link while backward goes
on: bucket k (S_k bytes) is ready at r_k t_b after backward starts (t_b the backward time of
the step, r_k the measured fraction of backward after which the bucket's last gradient is
complete: post-accumulate hooks timed in the 1 x 1 process), starts at
max(r_k t_b, end of bucket k − 1) and takes T_ar(N, S_k); only what runs past the end of
backward is added to the step: step = t + max(0, end_K − t_b), t = (t_c − t_o) / N + t_o
(strong) or t_c (weak), t_b = the backward share of t_c, scaled alike. The script prints the
models for two stated networks: 10 Gb Ethernet (β = 1.25 GB/s, α = 25 µs) and InfiniBand EDR
(β = 12.5 GB/s, α = 2 µs).
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
SMALL_BUCKETS_MB = 0.25
#: name: (ranks, threads, DataParallel options or None)
CONFIGURATIONS = {
    "1 rank x 2 threads": (1, 2, None),
    "2 ranks x 1 thread, blocking": (2, 1, {"overlap": False}),
    "2 ranks x 1 thread, overlapped (default buckets)": (2, 1, {}),
    f"2 ranks x 1 thread, overlapped (bucket_cap_mb={SMALL_BUCKETS_MB})": (2, 1, {"bucket_cap_mb": SMALL_BUCKETS_MB}),
    "2 ranks x 1 thread, zero_redundancy (sharded Adam)": (2, 1, {"zero_redundancy": True}),
    "1 rank x 1 thread": (1, 1, None),
}
BASE, BLOCKING, ONE_CORE = "1 rank x 2 threads", "2 ranks x 1 thread, blocking", "1 rank x 1 thread"


# ============================================================================ worker

def w1_data(rows: int):
    """W1's data: ``rows`` standard normal float32 inputs and the classes a random linear
    teacher gives them (seed 0: the same on every rank and in every script)."""
    rng = np.random.default_rng(0)
    X = rng.standard_normal((rows, W1["sizes"][0]), dtype=np.float32)
    teacher = rng.standard_normal((W1["sizes"][0], W1["sizes"][-1]), dtype=np.float32)
    return X, np.argmax(X @ teacher, axis=1).astype(np.int64)


def worker(rows: int, timed: int, options, out: str) -> None:
    """Run inside one process (or each MPI rank): train W1 epochs and write the timings (rank 0)."""
    import chainrule as cr
    from chainrule import distributed as dist
    from chainrule import nn, optim
    from chainrule.train import Trainer
    from chainrule.train.data_parallel import DataParallel

    size = dist.world_size()
    X, y = w1_data(rows)
    cr.manual_seed(0)
    model = nn.MLP(list(W1["sizes"]))
    trainer = Trainer(model, nn.CrossEntropyLoss(), optim.Adam(model.parameters(), lr=W1["lr"]), verbose=0,
                      distributed=size > 1)
    if size > 1:
        trainer._parallel = DataParallel(**options)
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
        buckets = parallel._buckets
        result["buckets"] = 0 if buckets is None else len(buckets.buckets)
        result["started_in_backward_per_step"] = (0 if buckets is None else
                                                  buckets.started_in_backward / max(parallel.comm_steps, 1))
        result["isolated_allreduce_seconds"] = _isolated_allreduce(parallel.bytes_per_step // 4)
    else:
        result.update(_step_profile(model, X, y))
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


def _step_profile(model, X, y, repeats: int = 60) -> dict:
    """Medians over 128-row steps (forward, backward, Adam; no communication): the step, its
    backward, and when each parameter's gradient is complete as a fraction of backward
    (post-accumulate-grad hooks), with the parameters' bytes in registration order."""
    from chainrule import nn, optim, tensor

    params = list(model.parameters())
    optimizer = optim.Adam(params, lr=W1["lr"])
    loss = nn.CrossEntropyLoss()
    xb, yb = tensor(X[:W1["global_batch"]]), tensor(y[:W1["global_batch"]])
    steps, backwards, updates, ready = [], [], [], {i: [] for i in range(len(params))}

    def timed(index):
        return lambda p: stamps.__setitem__(index, time.perf_counter())

    handles = [p.register_post_accumulate_grad_hook(timed(i)) for i, p in enumerate(params)]
    for _ in range(repeats):
        stamps = {}
        started = time.perf_counter()
        optimizer.zero_grad()
        value = loss(model(xb), yb)
        backward_start = time.perf_counter()
        value.backward()
        backward_end = time.perf_counter()
        optimizer.step()
        updates.append(time.perf_counter() - backward_end)
        steps.append(time.perf_counter() - started)
        backwards.append(backward_end - backward_start)
        for i, stamp in stamps.items():
            ready[i].append((stamp - backward_start) / (backward_end - backward_start))
    for handle in handles:
        handle.remove()
    return {"compute_seconds_per_step": statistics.median(steps[5:]),
            "optimizer_share": statistics.median(u / s for u, s in zip(updates[5:], steps[5:])),
            "backward_share": statistics.median(b / s for b, s in zip(backwards[5:], steps[5:])),
            "ready_fraction": [statistics.median(ready[i][5:]) for i in range(len(params))],
            "param_bytes": [int(p.data.nbytes) for p in params]}


# ============================================================================ driver

def run_configuration(ranks: int, threads: int, options, rows: int, timed: int) -> dict:
    env = dict(os.environ, OMP_NUM_THREADS=str(threads), OPENBLAS_NUM_THREADS=str(threads),
               MKL_NUM_THREADS=str(threads))
    for name in ("PMI_SIZE", "OMPI_COMM_WORLD_SIZE", "PMIX_SIZE"):
        env.pop(name, None)
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "result.json")
        command = [sys.executable, __file__, "--worker", "--rows", str(rows), "--timed", str(timed), "--out", out,
                   "--options", json.dumps(options or {})]
        if ranks > 1:
            mpiexec = Path(sys.executable).with_name("mpiexec")
            command = [str(mpiexec) if mpiexec.exists() else "mpiexec", "-n", str(ranks)] + command
        load_before = os.getloadavg()[0]
        subprocess.run(command, check=True, env=env, timeout=1800)
        result = json.loads(Path(out).read_text())
        result["load"] = [load_before, os.getloadavg()[0]]
        return result


def ring_allreduce_seconds(ranks: int, nbytes: float, bandwidth: float, latency: float) -> float:
    """T = 2 (N − 1) α + 2 (N − 1)/N · S / β (0 for one rank)."""
    if ranks == 1:
        return 0.0
    return 2 * (ranks - 1) * latency + 2 * (ranks - 1) / ranks * nbytes / bandwidth


def exposed_comm_seconds(ranks: int, buckets: list, backward: float, bandwidth: float, latency: float) -> float:
    """What the buckets' all-reduces add to a step: ``buckets`` = [(bytes, ready fraction of
    backward)] in starting order, run one after another on the link from their ready time
    on; the part past the end of ``backward`` seconds."""
    link = 0.0
    for nbytes, ready in buckets:
        link = max(ready * backward, link) + ring_allreduce_seconds(ranks, nbytes, bandwidth, latency)
    return max(0.0, link - backward) if buckets else 0.0


def projection(compute_step: float, nbytes: int, rows: int, buckets=None, backward_share: float = 0.0,
               optimizer_step: float = 0.0, sharded: bool = False) -> list:
    """Rows of (network, N, strong-scaling epoch s, speed-up, weak-scaling epoch s, comm share);
    with ``buckets`` ([(bytes, ready fraction)]) the overlapped model (module docstring). Of the
    step's ``compute_step`` seconds, ``optimizer_step`` (the optimizer and the gradient norm) does
    not shrink with the rows: every rank pays it whole, or 1/N of it when ``sharded`` (ZeRO
    stage 1, whose reduce-scatter and all-gather cost the ring all-reduce's T)."""
    table = []
    batch = W1["global_batch"]
    for network, (bandwidth, latency) in NETWORKS.items():
        for ranks in PROJECT_RANKS:
            if buckets is None:
                strong_comm = weak_comm = ring_allreduce_seconds(ranks, nbytes, bandwidth, latency)
            else:
                strong_comm = exposed_comm_seconds(ranks, buckets, backward_share * compute_step / ranks,
                                                   bandwidth, latency)
                weak_comm = exposed_comm_seconds(ranks, buckets, backward_share * compute_step, bandwidth, latency)
            rows_part, update = compute_step - optimizer_step, optimizer_step / ranks if sharded else optimizer_step
            strong_step = rows_part / ranks + update + strong_comm
            strong_epoch = -(-rows // batch) * strong_step
            weak_step = rows_part + update + weak_comm
            weak_epoch = -(-rows // (batch * ranks)) * weak_step
            table.append({"network": network, "ranks": ranks,
                          "allreduce_ms": ring_allreduce_seconds(ranks, nbytes, bandwidth, latency) * 1e3,
                          "exposed_ms": strong_comm * 1e3, "strong_epoch_s": strong_epoch,
                          "strong_speedup": (-(-rows // batch) * compute_step) / strong_epoch,
                          "weak_epoch_s": weak_epoch, "comm_share_weak": weak_comm / weak_step})
    return table


def bucket_profile(profile: dict, bucket_cap_mb) -> list:
    """[(bytes, ready fraction)] of W1's buckets for ``bucket_cap_mb`` (the Trainer's assignment)."""
    from chainrule import zeros
    from chainrule.train.data_parallel import bucket_assignment

    params = [zeros(n // 4) for n in profile["param_bytes"]]
    return [(sum(profile["param_bytes"][i] for i in indices), max(profile["ready_fraction"][i] for i in indices))
            for indices in bucket_assignment(params, bucket_cap_mb)]


def run_all(rows: int, timed: int, rounds: int) -> dict:
    """Every configuration ``rounds`` times, interleaved; per configuration all runs' results."""
    runs = {name: [] for name in CONFIGURATIONS}
    for round_number in range(rounds):
        for name, (ranks, threads, options) in CONFIGURATIONS.items():
            runs[name].append(run_configuration(ranks, threads, options, rows, timed))
            print(f"  round {round_number + 1}/{rounds} {name}: "
                  f"{statistics.median(runs[name][-1]['epoch_seconds']):.3f} s/epoch "
                  f"(load {runs[name][-1]['load'][0]:.1f} -> {runs[name][-1]['load'][1]:.1f})", flush=True)
    return runs


def summarize(runs: list) -> dict:
    epochs = [t for run in runs for t in run["epoch_seconds"]]
    loads = [load for run in runs for load in run["load"]]
    summary = {"median": statistics.median(epochs), "min": min(epochs), "load_min": min(loads),
               "load_max": max(loads), "runs": runs}
    for key in ("comm_seconds_per_step", "isolated_allreduce_seconds", "started_in_backward_per_step"):
        if key in runs[0]:
            summary[key] = statistics.median(run[key] for run in runs)
    for key in ("bytes_per_step", "buckets", "steps_per_epoch", "parameters"):
        if key in runs[0]:
            summary[key] = runs[0][key]
    return summary


def print_projection(title: str, table: list) -> None:
    print(title)
    print(f"{'network':<26}{'N':>4}{'all-reduce ms':>15}{'added ms':>10}{'strong s/epoch':>16}{'speed-up':>10}"
          f"{'weak s/epoch':>14}{'comm share':>12}")
    for row in table:
        print(f"{row['network']:<26}{row['ranks']:>4}{row['allreduce_ms']:>15.3f}{row['exposed_ms']:>10.3f}"
              f"{row['strong_epoch_s']:>16.3f}{row['strong_speedup']:>10.2f}{row['weak_epoch_s']:>14.3f}"
              f"{row['comm_share_weak']:>12.1%}")


def report(results: dict, rows: int) -> dict:
    base = results[BASE]["median"]
    print(f"\nW1: MLP {'-'.join(map(str, W1['sizes']))}, Adam, global batch {W1['global_batch']}, {rows:,} rows, "
          f"{results[BASE]['steps_per_epoch']} steps per epoch; {results[BASE]['parameters']:,} parameters; "
          f"{os.cpu_count()} cores")
    base_min = results[BASE]["min"]
    print(f"{'configuration':<58}{'median s/epoch':>15}{'min':>8}{'throughput vs 1x2':>19}{'on minima':>11}"
          f"{'load (1-min)':>14}")
    for name, summary in results.items():
        print(f"{name:<58}{summary['median']:>15.3f}{summary['min']:>8.3f}{base / summary['median']:>18.2f}x"
              f"{base_min / summary['min']:>10.2f}x{summary['load_min']:>8.1f}-{summary['load_max']:.1f}")
    print("(on this machine whole epochs of any configuration can fall into a slow phase, ~1.5-2x; medians of "
          "few rounds then mix the phases, minima compare the normal phase)")
    double = results[BLOCKING]
    print(f"\nall-reduced per step (blocking): {double['bytes_per_step']:,} bytes (the optimizer's flat float32 "
          f"gradient in place, and [has-gradient flag, loss]); isolated blocking all-reduce of that many bytes: "
          f"{double['isolated_allreduce_seconds'] * 1e3:.3f} ms (shared memory, one machine)")
    for name, summary in results.items():
        if "comm_seconds_per_step" in summary:
            print(f"{name}: {summary['comm_seconds_per_step'] * 1e3:.3f} ms per step in the all-reduce after "
                  f"backward (incl. waiting for the slower rank); {summary['buckets']} bucket(s), "
                  f"{summary['started_in_backward_per_step']:.2f} per step started during backward")
    single = results[ONE_CORE]
    first = single["runs"][0]
    compute = single["median"] / single["steps_per_epoch"]
    share = statistics.median(run["backward_share"] for run in single["runs"])
    update = compute * statistics.median(run["optimizer_share"] for run in single["runs"])
    ready = [statistics.median(run["ready_fraction"][i] for run in single["runs"])
             for i in range(len(first["param_bytes"]))]
    profile = {"param_bytes": first["param_bytes"], "ready_fraction": ready}
    print(f"one 128-row step on one core, no communication: t_c = {compute * 1e3:.2f} ms per step of the 1 x 1 "
          f"epoch; backward is {share:.0%} of a step; gradient complete at these fractions of backward "
          f"(registration order): {', '.join(f'{r:.2f}' for r in ready)}; the optimizer step t_o = "
          f"{update * 1e3:.3f} ms of it (every rank's whole, or 1/N with zero_redundancy)")
    nbytes = double["bytes_per_step"]
    rows_full = W1["rows"]
    tables = {"blocking": projection(compute, nbytes, rows_full, optimizer_step=update)}
    print_projection(f"\nProjection for W1 at {rows_full:,} rows, blocking all-reduce (t_c = {compute * 1e3:.2f} ms, "
                     f"t_o = {update * 1e3:.3f} ms, S = {nbytes:,} bytes); strong: global batch 128, each rank "
                     f"128/N rows; weak: 128 rows per rank:", tables["blocking"])
    tables["zero_redundancy"] = projection(compute, nbytes, rows_full, optimizer_step=update, sharded=True)
    print_projection("\nProjection, zero_redundancy (reduce-scatter + all-gather: the all-reduce's T; t_o / N per "
                     "rank):", tables["zero_redundancy"])
    for cap in (None, SMALL_BUCKETS_MB):
        buckets = bucket_profile(profile, cap)
        key = f"overlapped, bucket_cap_mb={cap}"
        tables[key] = projection(compute, nbytes, rows_full, buckets, share, optimizer_step=update)
        print_projection(f"\nProjection, {key}: buckets (bytes, ready at fraction of backward) "
                         f"{[(b, round(r, 2)) for b, r in buckets]}:", tables[key])
    return {"projection": tables, "profile": profile, "backward_share": share, "compute_step": compute}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    parser.add_argument("--quick", action="store_true", help="6,000 rows, 2 timed epochs, 2 rounds")
    parser.add_argument("--rounds", type=int, default=None, help="interleaved rounds (default 3, quick 2)")
    parser.add_argument("--json", help="also write the results here")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--rows", type=int, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--timed", type=int, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--options", default="{}", help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    rows = args.rows or (6_000 if args.quick else W1["rows"])
    timed = args.timed or 2
    if args.worker:
        worker(rows, timed, json.loads(args.options), args.out)
        return 0
    rounds = args.rounds or (2 if args.quick else 3)
    uptime_before = uptime_line()
    print(f"uptime before: {uptime_before}")
    runs = run_all(rows, timed, rounds)
    results = {name: summarize(r) for name, r in runs.items()}
    extra = report(results, rows)
    uptime_after = uptime_line()
    print(f"\nuptime after: {uptime_after}")
    if args.json:
        Path(args.json).write_text(json.dumps({"uptime": [uptime_before, uptime_after], "rows": rows,
                                               "results": results, **extra}, indent=1))
    return 0


def uptime_line() -> str:
    try:
        return subprocess.run(["uptime"], capture_output=True, text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "load average {:.2f}, {:.2f}, {:.2f}".format(*os.getloadavg())


if __name__ == "__main__":
    sys.exit(main())
