#!/usr/bin/env python3
"""Two-way fixed effects with firm-clustered standard errors: chainrule's OLS(absorb=...) against pyfixest.

Run from the repository root::

    python benchmarks/bench_fixed_effects.py            # 1,000,000 rows, 10,000 firms, 20 years, 5 repeats
    python benchmarks/bench_fixed_effects.py --quick    # 20,000 rows, 500 firms, smoke test
    python benchmarks/bench_fixed_effects.py --json out.json

The panel: firm and year drawn at random for each row (an unbalanced panel), two regressors
correlated with both effects, y = x1 − 0.5 x2 + firm effect + year effect + noise. Timed (seconds
per fit from the DataFrame to the standard errors, median and min over repeats, implementations
interleaved round-robin so drift in machine load hits them alike, one warm-up each, which also
compiles pyfixest's numba kernels):

* chainrule: ``OLS(absorb=["firm", "year"], cov_type="cluster").fit(X, y, groups="firm")``
  (singleton removal, the within transformation — the exact two-factor solve that "auto" picks
  here —, QR, the CRV1 covariance with pyfixest's small-sample correction);
* chainrule, alternating projections: the same with the two-factor solve switched off, so the
  Irons–Tuck accelerated projections run (tolerance 1e-10, tighter than pyfixest's 1e-8 default);
* pyfixest: ``feols("y ~ x1 + x2 | firm + year", data, vcov={"CRV1": "firm"})`` with its defaults.

All are first checked to agree (coefficients and standard errors, max relative difference).
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))  # the working tree's chainrule, not an installed one

from chainrule.stats import OLS, fixed_effects  # noqa: E402

try:
    import pyfixest
except ImportError:  # pragma: no cover
    pyfixest = None


def make_panel(rows, firms, years, seed=0):
    rng = np.random.default_rng(seed)
    firm = rng.integers(0, firms, rows)
    year = rng.integers(0, years, rows)
    firm_effect = rng.normal(size=firms)
    year_effect = rng.normal(size=years) * 0.5
    x1 = rng.normal(size=rows) + 0.5 * firm_effect[firm] + 0.05 * year
    x2 = rng.normal(size=rows) + 0.3 * year_effect[year]
    y = x1 - 0.5 * x2 + firm_effect[firm] + year_effect[year] + rng.normal(size=rows)
    return pd.DataFrame({"y": y, "x1": x1, "x2": x2, "firm": firm, "year": year})


def chainrule_fit(data):
    model = OLS(absorb=["firm", "year"], cov_type="cluster")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the singleton note
        model.fit(data[["x1", "x2", "firm", "year"]], data["y"], groups="firm")
    return np.asarray(model.params), np.asarray(model.bse)


def chainrule_projections_fit(data):
    saved = fixed_effects.DIRECT_MAX_LEVELS
    fixed_effects.DIRECT_MAX_LEVELS = 0  # "auto" then runs the accelerated alternating projections
    try:
        return chainrule_fit(data)
    finally:
        fixed_effects.DIRECT_MAX_LEVELS = saved


def pyfixest_fit(data):
    fit = pyfixest.feols("y ~ x1 + x2 | firm + year", data=data, vcov={"CRV1": "firm"})
    return fit.coef().to_numpy(), fit.se().to_numpy()


def implementations():
    found = {"chainrule": chainrule_fit, "chainrule (alternating projections)": chainrule_projections_fit}
    if pyfixest is not None:
        found["pyfixest"] = pyfixest_fit
    return found


def agreement(data, methods):
    """Max relative differences of each method's coefficients and standard errors from chainrule's."""
    base_params, base_bse = methods["chainrule"](data)
    report = {}
    for name, method in methods.items():
        params, bse = method(data)
        report[name] = {"params_rel_diff": float(np.max(np.abs(params / base_params - 1))),
                        "bse_rel_diff": float(np.max(np.abs(bse / base_bse - 1)))}
    return report


def run(rows, firms, years, repeats):
    data = make_panel(rows, firms, years)
    methods = implementations()
    report = {"rows": rows, "firms": firms, "years": years, "repeats": repeats,
              "load_average": os.getloadavg(), "agreement": agreement(data, methods)}  # also the warm-up
    times = {name: [] for name in methods}
    for _ in range(repeats):
        for name, method in methods.items():
            start = time.perf_counter()
            method(data)
            times[name].append(time.perf_counter() - start)
    report["seconds"] = {name: {"median": statistics.median(t), "min": min(t)} for name, t in times.items()}
    report["load_average_after"] = os.getloadavg()
    return report


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--firms", type=int, default=10_000)
    parser.add_argument("--years", type=int, default=20)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--quick", action="store_true", help="20,000 rows, 500 firms, 2 repeats")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    if args.quick:
        args.rows, args.firms, args.repeats = 20_000, 500, 2
    report = run(args.rows, args.firms, args.years, args.repeats)
    print(f"{report['rows']:,} rows, {report['firms']:,} firms, {report['years']} years; load average "
          f"{report['load_average'][0]:.2f} before, {report['load_average_after'][0]:.2f} after")
    print(f"{'implementation':40s} {'median s':>10s} {'min s':>10s} {'params diff':>12s} {'bse diff':>10s}")
    for name, seconds in report["seconds"].items():
        agree = report["agreement"][name]
        print(f"{name:40s} {seconds['median']:10.3f} {seconds['min']:10.3f} {agree['params_rel_diff']:12.2e} "
              f"{agree['bse_rel_diff']:10.2e}")
    if args.json:
        args.json.write_text(json.dumps(report, indent=2))
    return report


if __name__ == "__main__":
    main()
