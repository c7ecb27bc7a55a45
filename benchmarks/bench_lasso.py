#!/usr/bin/env python3
"""Lasso and ridge fits on a tall design: chainrule.stats against scikit-learn.

Run from the repository root::

    python benchmarks/bench_lasso.py              # n=50,000 p=500, 7 interleaved rounds
    python benchmarks/bench_lasso.py --quick      # n=5,000 p=100, 3 rounds (smoke test)
    python benchmarks/bench_lasso.py --json benchmarks/results/lasso.json

Problem: X ~ N(0, 1) (n x p, seed 0), y = X beta + N(0, 1) noise, beta with 25 nonzero
N(0, 4) entries; Lasso alpha = 0.01 (47-48 nonzero coefficients), ridge alpha = 1.

RidgeCV: exact leave-one-out over 10 alphas (np.logspace(-2, 3, 10)), timed over half
as many rounds; both must choose the same alpha.

Before timing, every lasso implementation is fitted with tol=1e-10 and its coefficients
are compared with scikit-learn's (max abs difference; they must agree to 1e-6). Timed
fits use each library's default tol (1e-4, the same duality-gap rule in both).

Lasso implementations (chainrule's ``precompute``):

* ``working-set`` (the default at p > 200): gradients over all p columns by two
  matrix-vector products per outer round, a Gram matrix of the working set only,
  compiled coordinate descent on it.
* ``working-set, no numba``: the same with ``CHAINRULE_NO_NUMBA=1`` (NumPy loop).
* ``gram``: the whole p x p Gram matrix X'X (one BLAS call), covariance updates.

Timing: implementations interleaved round-robin, medians and minima of wall time of one
``fit`` each, garbage collector on. On these 2-core shared machines another busy process
slows 2-thread BLAS calls many times over; the header prints the load average before and
after, and a run with a load average above ~1.5 should be repeated.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "src"))  # the working tree's chainrule, not an installed one
from sklearn import linear_model  # noqa: E402

from chainrule import stats  # noqa: E402
from chainrule.stats import lasso as lasso_module  # noqa: E402

FULL = {"n": 50_000, "p": 500, "nonzero": 25, "rounds": 7, "lasso_alpha": 0.01, "ridge_alpha": 1.0}
QUICK = {"n": 5_000, "p": 100, "nonzero": 10, "rounds": 3, "lasso_alpha": 0.01, "ridge_alpha": 1.0}


def problem(config):
    rng = np.random.default_rng(0)
    X = rng.standard_normal((config["n"], config["p"]))
    beta = np.zeros(config["p"])
    beta[: config["nonzero"]] = 2.0 * rng.standard_normal(config["nonzero"])
    y = X @ beta + rng.standard_normal(config["n"])
    return X, y


class _NoNumba:
    def __enter__(self):
        self.before = os.environ.get("CHAINRULE_NO_NUMBA")
        os.environ["CHAINRULE_NO_NUMBA"] = "1"

    def __exit__(self, *exc):
        if self.before is None:
            del os.environ["CHAINRULE_NO_NUMBA"]
        else:
            os.environ["CHAINRULE_NO_NUMBA"] = self.before


def lasso_cases(alpha):
    """name -> function(X, y, tol) returning coefficients."""
    def chainrule(precompute, numba=True):
        def fit(X, y, tol):
            if numba:  # a single fit uses the kernels once a path/CV run has loaded them
                lasso_module._compiled(load=True)
                return stats.Lasso(alpha, tol=tol, precompute=precompute).fit(X, y).coef_
            with _NoNumba():
                return stats.Lasso(alpha, tol=tol, precompute=precompute).fit(X, y).coef_
        return fit

    return {
        "scikit-learn Lasso": lambda X, y, tol: linear_model.Lasso(alpha, tol=tol).fit(X, y).coef_,
        "chainrule working-set": chainrule(False),
        "chainrule working-set, no numba": chainrule(False, numba=False),
        "chainrule gram": chainrule(True),
    }


def ridge_cases(alpha):
    return {
        "scikit-learn Ridge": lambda X, y: linear_model.Ridge(alpha).fit(X, y).coef_,
        "chainrule Ridge (auto: cholesky)": lambda X, y: stats.Ridge(alpha).fit(X, y).coef_,
    }


RIDGECV_ALPHAS = tuple(np.logspace(-2, 3, 10))


def ridgecv_cases():
    """Efficient leave-one-out over 10 alphas; each returns the chosen alpha."""
    return {
        "scikit-learn RidgeCV (LOO)": lambda X, y: linear_model.RidgeCV(RIDGECV_ALPHAS).fit(X, y).alpha_,
        "chainrule RidgeCV (LOO)": lambda X, y: stats.RidgeCV(RIDGECV_ALPHAS).fit(X, y).alpha_,
    }


def _time_round_robin(cases, call, rounds):
    times = {name: [] for name in cases}
    for _ in range(rounds):
        for name, fit in cases.items():
            start = time.perf_counter()
            call(fit)
            times[name].append(time.perf_counter() - start)
    return times


def _summary(times, reference):
    ref = statistics.median(times[reference])
    return {
        name: {"median_s": statistics.median(values), "min_s": min(values), "repeats": len(values),
               "ratio_to_sklearn": statistics.median(values) / ref}
        for name, values in times.items()
    }


def run(config):
    X, y = problem(config)
    out = {"config": dict(config), "loadavg_before": os.getloadavg()[0]}
    lasso = lasso_cases(config["lasso_alpha"])
    reference = lasso["scikit-learn Lasso"](X, y, 1e-10)
    agreement = {}
    for name, fit in lasso.items():  # also warms up numba and the BLAS
        coef = fit(X, y, 1e-10)
        agreement[name] = {"max_abs_diff": float(np.max(np.abs(coef - reference))),
                           "nonzero": int(np.count_nonzero(coef))}
    out["lasso_agreement_tol_1e-10"] = agreement
    times = _time_round_robin(lasso, lambda fit: fit(X, y, 1e-4), config["rounds"])
    out["lasso"] = _summary(times, "scikit-learn Lasso")
    ridge = ridge_cases(config["ridge_alpha"])
    ridge_ref = ridge["scikit-learn Ridge"](X, y)
    out["ridge_agreement"] = {
        name: float(np.max(np.abs(fit(X, y) - ridge_ref)) / np.max(np.abs(ridge_ref))) for name, fit in ridge.items()
    }
    times = _time_round_robin(ridge, lambda fit: fit(X, y), config["rounds"])
    out["ridge"] = _summary(times, "scikit-learn Ridge")
    cv = ridgecv_cases()
    cv_ref = cv["scikit-learn RidgeCV (LOO)"](X, y)
    out["ridgecv_agreement"] = {name: bool(fit(X, y) == cv_ref) for name, fit in cv.items()}
    times = _time_round_robin(cv, lambda fit: fit(X, y), max(1, config["rounds"] // 2))
    out["ridgecv"] = _summary(times, "scikit-learn RidgeCV (LOO)")
    out["loadavg_after"] = os.getloadavg()[0]
    return out


def _print(out):
    config = out["config"]
    print(f"chainrule from {stats.__file__}")
    print(f"python {platform.python_version()}, numpy {np.__version__}, cores {os.cpu_count()}, "
          f"n={config['n']} p={config['p']}, {config['rounds']} rounds, "
          f"load average {out['loadavg_before']:.2f} -> {out['loadavg_after']:.2f}")
    print(f"\nLasso alpha={config['lasso_alpha']}: agreement with scikit-learn at tol=1e-10")
    for name, row in out["lasso_agreement_tol_1e-10"].items():
        print(f"  {name:34s} max |diff| {row['max_abs_diff']:.2e}   nonzero {row['nonzero']}")
    for section in ("lasso", "ridge", "ridgecv"):
        print(f"\n{section}, seconds per fit" + (" (default tol 1e-4):" if section == "lasso" else ":"))
        for name, row in out[section].items():
            print(f"  {name:34s} median {row['median_s']:.4f}  min {row['min_s']:.4f}  "
                  f"x{row['ratio_to_sklearn']:.2f} of scikit-learn")
    print("\nridge relative max |diff| to scikit-learn:",
          ", ".join(f"{k}: {v:.1e}" for k, v in out["ridge_agreement"].items()))
    print("RidgeCV chose the same alpha as scikit-learn:", all(out["ridgecv_agreement"].values()))
    if max(out["loadavg_before"], out["loadavg_after"]) > 1.5:
        print("WARNING: load average above 1.5: other processes competed for the CPU; repeat the run")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small problem, 3 rounds")
    parser.add_argument("--rounds", type=int, help="override the number of timed rounds")
    parser.add_argument("--json", type=Path, help="write all numbers to this file")
    args = parser.parse_args(argv)
    config = dict(QUICK if args.quick else FULL)
    if args.rounds:
        config["rounds"] = args.rounds
    out = run(config)
    _print(out)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(out, indent=2))
    return out


if __name__ == "__main__":
    main()
