#!/usr/bin/env python3
"""How close the compute planner's epoch-time prediction comes to a measured Trainer epoch.

Run from the repository root::

    python benchmarks/bench_planner.py            # 5 rounds, about 30 s on a quiet 2-core machine
    python benchmarks/bench_planner.py --quick    # smoke test, 1 small round
    python benchmarks/bench_planner.py --json benchmarks/results/planner.json

What is measured (see benchmarks/README.md, "The planner's epoch-time prediction"): an MLP
784-512-512-10 (matmul-dominated), batch 512, 4,096 rows, Adam. Each round first predicts one
epoch with ``compute.predict_epoch_time`` from counted FLOPs and the throughput
``compute.measure_throughput`` measures on the same model and batch size, then times one real
``Trainer`` epoch. Rounds alternate (predict, run), so a burst of load from other processes on a
shared machine hits both sides; the ratio is median(measured) / median(predicted). BLAS runs one
thread (threadpoolctl) when threadpoolctl is installed: with two, one descheduled thread stalls
every product and timings swing by several times on a loaded machine.

This was a timed unit test until 2026-12-06; a timing is a benchmark, not a test (it failed
under load), so it lives here and tests/test_benchmarks.py only runs it in --quick mode.
"""
from __future__ import annotations

import argparse
import contextlib
import json
import os
import statistics
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
# Measure the working tree, not some installed copy (bench_engine does the same).
sys.path.insert(0, str(HERE.parent / "src"))

import chainrule as cr  # noqa: E402
from chainrule import compute, nn, optim  # noqa: E402
from chainrule.train import Trainer  # noqa: E402

FULL = {"rows": 4096, "batch": 512, "widths": [784, 512, 512, 10], "rounds": 5, "steps": 8}
QUICK = {"rows": 256, "batch": 64, "widths": [784, 64, 10], "rounds": 1, "steps": 2}


def one_thread():
    """BLAS on one thread when threadpoolctl is present, else a no-op context."""
    try:
        import threadpoolctl
    except ImportError:
        return contextlib.nullcontext()
    return threadpoolctl.threadpool_limits(1)


def run(settings: dict) -> dict:
    """Alternate prediction and measured epoch ``rounds`` times; medians and their ratio."""
    cr.manual_seed(0)
    rows, batch = settings["rows"], settings["batch"]
    X, y = cr.randn(rows, settings["widths"][0]), cr.randint(0, settings["widths"][-1], (rows,))
    model, loss = nn.MLP(settings["widths"]), nn.CrossEntropyLoss()
    predicted, measured = [], []
    with one_thread():
        for _ in range(settings["rounds"]):
            throughput = compute.measure_throughput(model, X[:batch], loss, optim.Adam(model.parameters(), lr=1e-3),
                                                    steps=settings["steps"], target=y[:batch])
            predicted.append(compute.predict_epoch_time(throughput.count, rows, throughput))
            trainer = Trainer(model, loss, optim.Adam(model.parameters(), lr=1e-3), verbose=0)
            measured.append(trainer.fit((X, y), epochs=1, batch_size=batch).epochs[0]["time"])
    return {"settings": settings, "predicted_s": predicted, "measured_s": measured,
            "ratio_measured_over_predicted": statistics.median(measured) / statistics.median(predicted),
            "load_average": os.getloadavg()[0]}


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="one small round (smoke test)")
    parser.add_argument("--json", type=Path, help="also write the results to this JSON file")
    args = parser.parse_args(argv)
    result = run(QUICK if args.quick else FULL)
    print(f"predicted {statistics.median(result['predicted_s']):.4f} s, measured "
          f"{statistics.median(result['measured_s']):.4f} s per epoch: ratio "
          f"{result['ratio_measured_over_predicted']:.3f} (load {result['load_average']:.1f})")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=2))
    return result


if __name__ == "__main__":
    main()
