#!/usr/bin/env python3
"""Where a data-parallel W1 step spends its time: one rank x 2 threads against 2 ranks x 1 thread.

Run from the repository root (needs the ``mpi`` extra); one command::

    python benchmarks/profile_distributed_step.py              # 3 interleaved rounds, 15,000 rows
    python benchmarks/profile_distributed_step.py --rounds 5 --rows 30000

W1 as in ``bench_distributed.py`` (MLP 784-256-256-10, Adam, global batch 128, float32). Each
configuration runs in a fresh process (``mpiexec -n 2`` for two ranks): a warm-up epoch, then a
timed epoch whose steps are cut into phases by timing the Trainer's own methods (a subclass that
calls the same code with ``time.perf_counter()`` stamps between the parts):

* ``load``: the loader's ``next`` (the batch's rows gathered; with ranks, this rank's slice);
* ``forward``: ``zero_grad``, the model, the loss and ``loss.item()``;
* ``begin``: arming the gradient buckets (ranks only);
* ``backward``: ``loss.backward()`` (with overlapped buckets: the hooks' copies into the
  buckets and the all-reduce of a bucket started inside it);
* ``wait``: from this rank's arrival at the gradient reduction to the later rank's arrival
  (the stamps of both ranks compared afterwards; ``perf_counter`` is the machine's monotonic
  clock, shared by the processes);
* ``reduce``: the rest of the reduction (the all-reduce's own work after both ranks arrived,
  copying the sums out);
* ``norm``: the global gradient norm (divergence check);
* ``optimizer``: ``optimizer.step()``;
* ``rest``: the metrics, the History row, the progress reporter and the loop.

It prints per configuration and rank the median milliseconds per step of each phase, the
step's wall time, and its CPU time (``time.process_time()`` over the timed epoch divided by the
steps: the ranks' own work, which other processes' load does not inflate), with the load
average beside. ``--options`` adds 2-rank configurations (JSON: name -> DataParallel options, and
``"no_shared_window": true`` to run ZeRO through MPI's reduce-scatter and all-gather on one node).
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

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench_distributed  # noqa: E402  # shared helpers: W1's data, the uptime line

W1 = {"sizes": (784, 256, 256, 10), "global_batch": 128, "lr": 1e-3}
PHASES = ("load", "forward", "begin", "backward", "wait", "reduce", "norm", "optimizer", "rest")
CONFIGURATIONS = {
    "1 rank x 2 threads": (1, 2, None),
    "2 ranks x 1 thread, blocking": (2, 1, {"overlap": False}),
    "2 ranks x 1 thread, overlapped": (2, 1, {}),
}


def _timed_trainer_class():
    import math

    from chainrule.train import Trainer
    from chainrule.train.batches import split_batch

    class TimedTrainer(Trainer):
        """The Trainer's step, the same calls, with a stamp between the parts."""

        stamps: list = []

        def _loaders(self, train, val, batch_size):
            train_loader, val_loader = super()._loaders(train, val, batch_size)
            return _TimedLoader(train_loader, self), val_loader

        def _forward_backward(self, batch, epoch, step):
            if self._parallel is not None:
                return super()._forward_backward(batch, epoch, step)
            s = self.current
            inputs, target = split_batch(batch)
            self.optimizer.zero_grad()
            outputs = self.model(*inputs)
            loss = self.loss(outputs, target)
            loss_value = float(loss.item())
            s["forward"] = time.perf_counter()
            loss.backward()
            s["backward"] = s["arrive"] = s["reduce"] = time.perf_counter()
            if not math.isfinite(loss_value):
                raise self._divergence(epoch, step, "loss", loss_value)
            self._last_finite = (loss_value, epoch, step)
            return outputs, target, loss_value, target.shape[0]

        def _parallel_step(self, item):
            s = self.current
            local, total = item
            self.optimizer.zero_grad()
            inputs, target = split_batch(local)
            outputs = self.model(*inputs)
            loss = self.loss(outputs, target)
            local_loss, n_local = float(loss.item()), target.shape[0]
            s["forward"] = time.perf_counter()
            self._parallel.begin_step(self._params, n_local, total, local_loss, self.optimizer)
            s["begin"] = time.perf_counter()
            self._parallel.backward(loss)
            s["backward"] = s["arrive"] = time.perf_counter()
            loss_value = self._parallel.reduce_gradients(self._params, n_local, total, local_loss)
            s["reduce"] = time.perf_counter()
            return outputs, target, loss_value, total

        def _optimizer_step(self, epoch, step):
            from chainrule.train.divergence import global_grad_norm

            s = self.current
            parallel = self._parallel
            grad_norm = global_grad_norm(self._params) if parallel is None else parallel.grad_norm(self._params)
            s["norm"] = time.perf_counter()
            step_lr = self._lr()
            self.optimizer.step() if parallel is None else parallel.step(self.optimizer)
            s["optimizer"] = time.perf_counter()
            self.global_step += 1
            return grad_norm, step_lr

    return TimedTrainer


class _TimedLoader:
    """The loader, with a stamp before and after each batch is drawn."""

    def __init__(self, loader, trainer):
        self.loader, self.trainer = loader, trainer

    def __len__(self):
        return len(self.loader)

    def __getattr__(self, name):
        return getattr(self.loader, name)

    def __iter__(self):
        iterator = iter(self.loader)
        while True:
            start = time.perf_counter()
            try:
                batch = next(iterator)
            except StopIteration:
                return
            self.trainer.current = {"start": start, "load": time.perf_counter()}
            self.trainer.stamps.append(self.trainer.current)
            yield batch


def worker(rows: int, options, out: str) -> None:
    import chainrule as cr
    from chainrule import distributed as dist
    from chainrule import nn, optim
    from chainrule.train.data_parallel import DataParallel

    size = dist.world_size()
    X, y = bench_distributed.w1_data(rows)
    cr.manual_seed(0)
    model = nn.MLP(list(W1["sizes"]))
    trainer = _timed_trainer_class()(model, nn.CrossEntropyLoss(), optim.Adam(model.parameters(), lr=W1["lr"]),
                                     verbose=0, distributed=size > 1)
    if size > 1:
        no_window = options.pop("no_shared_window", False)  # ZeRO through MPI's collectives only
        trainer._parallel = DataParallel(**options)
        if no_window:
            trainer._parallel._sharded._one_node = False
    batch = W1["global_batch"] // size
    trainer.fit((X, y), epochs=1, batch_size=batch)  # warm-up
    trainer.stamps = []
    dist.barrier()
    cpu, wall = time.process_time(), time.perf_counter()
    trainer.fit((X, y), epochs=1, batch_size=batch)
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    stamps = trainer.stamps
    for s, following in zip(stamps, stamps[1:] + [None]):
        s["end"] = following["start"] if following is not None else s["optimizer"]
    arrivals = np.array([s["arrive"] for s in stamps])
    if size > 1:
        arrivals = np.max(np.array(dist.communicator().allgather(arrivals)), axis=0)
    phases = {name: [] for name in PHASES + ("step",)}
    for s, last_arrival in zip(stamps[:-1], arrivals[:-1]):
        previous = s["start"]
        for name, stamp in (("load", s["load"]), ("forward", s["forward"]), ("begin", s.get("begin", s["forward"])),
                            ("backward", s["backward"]), ("wait", max(last_arrival, s["arrive"])),
                            ("reduce", s["reduce"]), ("norm", s["norm"]), ("optimizer", s["optimizer"]),
                            ("rest", s["end"])):
            phases[name].append(stamp - previous)
            previous = stamp
        phases["step"].append(s["end"] - s["start"])
    result = {"rank": dist.rank(), "steps": len(stamps), "wall_per_step": wall / len(stamps),
              "cpu_per_step": cpu / len(stamps),
              "median_ms": {k: 1e3 * statistics.median(v) for k, v in phases.items()},
              "p10_step_ms": 1e3 * float(np.percentile(phases["step"], 10)), "min_step_ms": 1e3 * min(phases["step"]),
              "mean_ms": {k: 1e3 * statistics.fmean(v) for k, v in phases.items()}}
    results = dist.communicator().allgather(result) if size > 1 else [result]
    if dist.is_main():
        Path(out).write_text(json.dumps(results))


def run(ranks, threads, options, rows):
    env = dict(os.environ, OMP_NUM_THREADS=str(threads), OPENBLAS_NUM_THREADS=str(threads),
               MKL_NUM_THREADS=str(threads), NUMBA_NUM_THREADS="1")
    for name in ("PMI_SIZE", "OMPI_COMM_WORLD_SIZE", "PMIX_SIZE"):
        env.pop(name, None)
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "result.json")
        command = [sys.executable, __file__, "--worker", "--rows", str(rows), "--out", out,
                   "--options", json.dumps(options or {})]
        if ranks > 1:
            mpiexec = Path(sys.executable).with_name("mpiexec")
            command = [str(mpiexec) if mpiexec.exists() else "mpiexec", "-n", str(ranks)] + command
        load = os.getloadavg()[0]
        subprocess.run(command, check=True, env=env, timeout=1800)
        return {"load": [load, os.getloadavg()[0]], "ranks": json.loads(Path(out).read_text())}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    parser.add_argument("--rows", type=int, default=15_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--options", default=None, help="JSON {name: DataParallel options} of extra 2-rank runs")
    parser.add_argument("--only", default=None, help="configuration names to run, separated by semicolons")
    parser.add_argument("--json", help="also write the results here")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        worker(args.rows, json.loads(args.options or "{}"), args.out)
        return 0
    configurations = dict(CONFIGURATIONS)
    for name, options in json.loads(args.options or "{}").items():
        configurations[name] = (2, 1, options)
    if args.only:
        configurations = {k: v for k, v in configurations.items() if k in args.only.split(";")}
    print(f"uptime before: {bench_distributed.uptime_line()}", flush=True)
    runs = {name: [] for name in configurations}
    for round_number in range(args.rounds):
        for name, (ranks, threads, options) in configurations.items():
            runs[name].append(run(ranks, threads, options, args.rows))
            first = runs[name][-1]
            print(f"  round {round_number + 1}/{args.rounds} {name}: "
                  + ", ".join(f"rank {r['rank']} {r['wall_per_step'] * 1e3:.3f} ms wall {r['cpu_per_step'] * 1e3:.3f}"
                              f" ms CPU" for r in first["ranks"])
                  + f" (load {first['load'][0]:.1f} -> {first['load'][1]:.1f})", flush=True)
    print(f"\nms per step, medians over {args.rounds} rounds of each round's median step per phase (one timed epoch); "
          f"wall/step and CPU/step: the epoch's wall and CPU time over its steps; p10 step: the median over rounds "
          f"of the 10th percentile of the epoch's step times (steps that other processes did not interrupt); "
          f"min step: the fastest step of all rounds")
    print(f"{'configuration / rank':<44}" + "".join(f"{p:>9}" for p in PHASES + ("step",))
          + f"{'wall/step':>10}{'CPU/step':>10}{'min wall':>10}{'p10 step':>10}{'min step':>10}")
    for name, rounds in runs.items():
        for r in range(len(rounds[0]["ranks"])):
            per = [run_["ranks"][r] for run_ in rounds]
            cells = "".join(f"{statistics.median(p['median_ms'][k] for p in per):>9.3f}" for k in PHASES + ("step",))
            walls = [p["wall_per_step"] * 1e3 for p in per]
            print(f"{name + ' / ' + str(r):<44}{cells}{statistics.median(walls):>10.3f}"
                  f"{statistics.median(p['cpu_per_step'] * 1e3 for p in per):>10.3f}{min(walls):>10.3f}"
                  f"{statistics.median(p['p10_step_ms'] for p in per):>10.3f}"
                  f"{min(p['min_step_ms'] for p in per):>10.3f}")
    loads = [x for rounds in runs.values() for run_ in rounds for x in run_["load"]]
    print(f"1-min load during the runs: {min(loads):.1f}-{max(loads):.1f}; "
          f"uptime after: {bench_distributed.uptime_line()}")
    if args.json:
        Path(args.json).write_text(json.dumps(runs, indent=1))
    return 0



if __name__ == "__main__":
    sys.exit(main())
