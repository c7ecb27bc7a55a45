#!/usr/bin/env python3
"""Tall least squares: chainrule.stats.OLS (with its full inference) against lstsq and statsmodels.

Run from the repository root::

    python benchmarks/bench_ols.py                 # n = 1,000,000, p = 50, 3 repeats (~2 minutes)
    python benchmarks/bench_ols.py --quick         # n = 50,000, p = 20, smoke test
    python benchmarks/bench_ols.py --json benchmarks/results/ols.json

What is timed (seconds per fit, median and min over repeats, implementations interleaved
round-robin so drift in machine load hits them alike, one warm-up each):

* chainrule OLS (cov_type nonrobust, HC1, HC3): ``OLS(cov_type=...).fit(X, y)``, which
  validates the input (NaN/inf, constant and duplicate columns), factors the design
  (CholQR2, see chainrule.stats.ols) and computes params, bse, t, p-values, R², F,
  llf/aic/bic, residuals, the condition number and collinearity diagnostics.
* numpy.linalg.lstsq on [1, X] (SVD-based; coefficients only, no standard errors).
* torch.linalg.lstsq on [1, X] (pivoted-QR "gelsy" driver; coefficients only), if installed.
* statsmodels OLS(y, add_constant(X)).fit() and its ``bse`` (pinv-based), if installed.

Building [1, X] for the baselines (one copy) is included in their time, as it is in ours.
All methods are first checked to agree on the coefficients (max relative difference).
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))  # the working tree's chainrule, not an installed one

from chainrule.stats import OLS  # noqa: E402

try:
    import torch
except ImportError:  # pragma: no cover
    torch = None
try:
    import statsmodels.api as sm
except ImportError:  # pragma: no cover
    sm = None


def problem(n, p, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, p))
    X[:, 1:] += 0.3 * X[:, :1]  # some correlation between columns
    beta = rng.standard_normal(p)
    y = 2.0 + X @ beta + rng.standard_normal(n) * (1 + 0.5 * np.abs(X[:, 0]))
    return X, y


def implementations(X, y):
    impls = {}
    for cov_type in ("nonrobust", "HC1", "HC3"):
        def fit(cov_type=cov_type):
            model = OLS(cov_type=cov_type).fit(X, y)
            return model.params, model.bse
        impls[f"chainrule OLS ({cov_type})"] = fit

    def numpy_lstsq():
        Z = np.column_stack([np.ones(len(y)), X])
        return np.linalg.lstsq(Z, y, rcond=None)[0], None
    impls["numpy lstsq (no SEs)"] = numpy_lstsq

    if torch is not None:
        def torch_lstsq():
            Z = torch.from_numpy(np.column_stack([np.ones(len(y)), X]))
            return torch.linalg.lstsq(Z, torch.from_numpy(y)[:, None]).solution[:, 0].numpy(), None
        impls["torch lstsq (no SEs)"] = torch_lstsq

    if sm is not None:
        def statsmodels_ols():
            results = sm.OLS(y, sm.add_constant(X, has_constant="add")).fit()
            return np.asarray(results.params), np.asarray(results.bse)
        impls["statsmodels OLS (with SEs)"] = statsmodels_ols
    return impls


def agreement(impls):
    results = {name: fn() for name, fn in impls.items()}
    ref_params, ref_bse = results["chainrule OLS (nonrobust)"]
    report = {}
    for name, (params, bse) in results.items():
        row = {"params_max_rel_diff": float(np.max(np.abs(params - ref_params) / np.abs(ref_params)))}
        if bse is not None and ("nonrobust" in name or name.startswith("statsmodels")):
            row["bse_max_rel_diff"] = float(np.max(np.abs(bse - ref_bse) / ref_bse))
        report[name] = row
    return report


def bench(impls, repeat):
    times = {name: [] for name in impls}
    for _ in range(repeat):
        for name, fn in impls.items():
            start = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - start)
    return {name: {"median_s": statistics.median(ts), "min_s": min(ts), "repeats": len(ts)}
            for name, ts in times.items()}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=1_000_000)
    parser.add_argument("--p", type=int, default=50)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="n=50,000, p=20, 2 repeats")
    parser.add_argument("--no-statsmodels", action="store_true", help="skip statsmodels (the slow one)")
    parser.add_argument("--json", type=Path, help="write the results here")
    args = parser.parse_args(argv)
    if args.quick:
        args.n, args.p, args.repeat = 50_000, 20, 2
    if torch is not None:
        torch.set_num_threads(os.cpu_count() or 1)
    X, y = problem(args.n, args.p)
    impls = implementations(X, y)
    if args.no_statsmodels:
        impls.pop("statsmodels OLS (with SEs)", None)
    load = os.getloadavg()[0]
    print(f"OLS n={args.n:,} p={args.p} (+ intercept), float64, {os.cpu_count()} CPUs, "
          f"numpy {np.__version__}, torch {getattr(torch, '__version__', 'absent')}, load {load:.2f}")
    agree = agreement(impls)  # also the warm-up
    timing = bench(impls, args.repeat)
    fastest_lstsq = min(v["median_s"] for k, v in timing.items() if "lstsq" in k)
    print(f"{'method':34s} {'median s':>9s} {'min s':>8s} {'/ fastest lstsq':>16s} {'params rel diff':>16s}")
    for name, row in timing.items():
        row["ratio_to_fastest_lstsq"] = row["median_s"] / fastest_lstsq
        row.update(agree[name])
        print(f"{name:34s} {row['median_s']:9.3f} {row['min_s']:8.3f} {row['ratio_to_fastest_lstsq']:16.2f} "
              f"{row['params_max_rel_diff']:16.2e}")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"n": args.n, "p": args.p, "repeat": args.repeat, "cpus": os.cpu_count(),
                                         "loadavg_1min_at_start": load, "loadavg_1min_at_end": os.getloadavg()[0],
                                         "results": timing}, indent=2))
    return timing


if __name__ == "__main__":
    main()
