#!/usr/bin/env python3
"""Multinomial logit (softmax regression) with full inference: chainrule vs statsmodels, scikit-learn.

Run from the repository root::

    python benchmarks/bench_mnlogit.py                 # n = 200,000, p = 20, K = 4, 7 rounds
    python benchmarks/bench_mnlogit.py --quick         # n = 20,000, p = 5, K = 3, 3 rounds
    python benchmarks/bench_mnlogit.py --json benchmarks/results/mnlogit.json

The data: X ~ N(0, 1) (seed 0), class logits [0, X B] with B ~ N(0, 0.3²), y drawn from the
softmax probabilities (classes 0..K−1, class 0 the reference).

What is timed (each from the same arrays in memory; implementations interleaved round-robin
over the rounds; one untimed warm-up each, which is also the agreement check):

- chainrule: ``stats.MNLogit().fit(X, y)`` (Newton with step halving, input validation, the
  separation guard) and then ``params``, ``bse``, ``pvalues``: estimates with inference.
- statsmodels: ``sm.MNLogit(y, Xc).fit(disp=0)`` (Newton, tol 1e-8) and the same results;
  ``Xc`` (X with the constant) is built once outside the timing.
- scikit-learn: ``LogisticRegression(C=inf, tol=1e-10, max_iter=10_000)`` (lbfgs, multinomial
  for K > 2): estimates only, parameterized against no reference class, so only its predicted
  probabilities are compared.

Before timing: chainrule's params and standard errors are compared with statsmodels' (max
relative difference), scikit-learn's probabilities with chainrule's (max abs difference).
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

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))

from chainrule.stats import MNLogit

FULL = {"n": 200_000, "p": 20, "K": 4, "rounds": 7}
QUICK = {"n": 20_000, "p": 5, "K": 3, "rounds": 3}


def make_data(n: int, p: int, K: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, p))
    logits = np.column_stack([np.zeros(n), X @ (0.3 * rng.standard_normal((p, K - 1)))])
    probabilities = np.exp(logits - logits.max(axis=1, keepdims=True))
    probabilities /= probabilities.sum(axis=1, keepdims=True)
    y = (probabilities.cumsum(axis=1) > rng.random(n)[:, None]).argmax(axis=1)
    return X, y


def run_chainrule(X, y, _):
    model = MNLogit().fit(X, y)
    _ = model.bse, model.pvalues  # the inference is part of the timed work
    return model


def run_statsmodels(X, y, Xc):
    import statsmodels.api as sm

    result = sm.MNLogit(y, Xc).fit(disp=0)
    _ = result.bse, result.pvalues  # the inference is part of the timed work
    return result


def run_sklearn(X, y, _):
    from sklearn.linear_model import LogisticRegression

    return LogisticRegression(C=np.inf, tol=1e-10, max_iter=10_000).fit(X, y)


def available():
    cases = {"chainrule": run_chainrule}
    for name, module, fn in (("statsmodels", "statsmodels", run_statsmodels),
                             ("scikit-learn", "sklearn", run_sklearn)):
        try:
            __import__(module)
        except ImportError:
            print(f"({name} is not installed; skipped)")
            continue
        cases[name] = fn
    return cases


def agreement(fitted, X, Xc):
    """How far each implementation is from chainrule's answer."""
    ours = fitted["chainrule"]
    out = {}
    if "statsmodels" in fitted:
        theirs = fitted["statsmodels"]
        out["statsmodels params max rel diff"] = float(np.max(np.abs(ours.params / np.asarray(theirs.params) - 1)))
        out["statsmodels bse max rel diff"] = float(np.max(np.abs(ours.bse / np.asarray(theirs.bse) - 1)))
    if "scikit-learn" in fitted:
        out["scikit-learn probabilities max abs diff"] = float(
            np.max(np.abs(fitted["scikit-learn"].predict_proba(X) - ours.predict_proba(X))))
    return out


def run(config):
    X, y = make_data(config["n"], config["p"], config["K"])
    Xc = np.column_stack([np.ones(len(X)), X])
    cases = available()
    fitted = {name: fn(X, y, Xc) for name, fn in cases.items()}  # also the warm-up
    times = {name: [] for name in cases}
    for _ in range(config["rounds"]):
        for name, fn in cases.items():
            start = time.perf_counter()
            fn(X, y, Xc)
            times[name].append(time.perf_counter() - start)
    base = statistics.median(times["chainrule"])
    results = {name: {"median_s": statistics.median(values), "min_s": min(values),
                      "ratio_to_chainrule": statistics.median(values) / base} for name, values in times.items()}
    return {"config": config, "python": platform.python_version(), "numpy": np.__version__,
            "cpus": os.cpu_count(), "load_average": os.getloadavg()[0], "results": results,
            "agreement": agreement(fitted, X, Xc), "newton_iterations": fitted["chainrule"].n_iter_}


def _print(out):
    c = out["config"]
    print(f"MNLogit n={c['n']:,} p={c['p']} K={c['K']} float64, {c['rounds']} rounds; python {out['python']}, "
          f"numpy {out['numpy']}, {out['cpus']} CPUs; load average {out['load_average']:.2f}")
    print(f"{'implementation':<16}{'median s':>10}{'min s':>10}{'ratio':>8}")
    for name, row in out["results"].items():
        print(f"{name:<16}{row['median_s']:>10.3f}{row['min_s']:>10.3f}{row['ratio_to_chainrule']:>8.2f}")
    for name, value in out["agreement"].items():
        print(f"{name}: {value:.1e}")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small problem, 3 rounds (a smoke test)")
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
