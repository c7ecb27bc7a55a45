#!/usr/bin/env python3
"""Logistic regression to convergence with full inference: chainrule vs statsmodels, scikit-learn, PyTorch.

Run from the repository root::

    python benchmarks/bench_logit.py                 # n = 200,000, p = 50, 7 repeats (about a minute)
    python benchmarks/bench_logit.py --quick         # n = 20,000, p = 10, 3 repeats (seconds)
    python benchmarks/bench_logit.py --json benchmarks/results/logit.json

The data: X ~ N(0, Σ) with Σ = 0.7 I + 0.3 11' (a well-conditioned design, condition
number about 1 + 0.3 p / 0.7), true coefficients spread on [−0.5, 0.5], an intercept of
0.3, y ~ Bernoulli(σ(0.3 + Xβ)); float64, generated once from a fixed seed.

What is timed (each from the same arrays in memory; the garbage collector stays on;
implementations are interleaved round-robin over the repeats so that drift in machine
load hits them alike; one untimed warm-up each):

- chainrule: ``stats.Logit().fit(X, y)`` (Newton–Raphson with step halving, input
  validation, the separation guard) and then reading ``params``, ``bse``, ``pvalues``,
  ``llf`` and ``conf_int()``: the estimates *with* their inference.
- statsmodels: ``sm.Logit(y, Xc).fit(disp=0)`` (Newton, its default tol 1e-8) and the same
  results. ``Xc`` (X with the constant column) is built once outside the timing.
- scikit-learn: ``LogisticRegression(C=inf, solver="lbfgs", tol=1e-10, max_iter=10_000)``
  (C = inf is penalty=None; scikit-learn >= 1.8 deprecates the ``penalty`` argument):
  estimates only, no standard errors.
- chainrule NumPy: the same fit with ``CHAINRULE_NO_NUMBA=1`` (no compiled row kernel in
  the X'WX pass: what a machine without numba runs).
- chainrule 1 thread: the same fit with ``CHAINRULE_NUM_THREADS=1`` (the passes over the
  rows on one thread, BLAS free to use its own: what a machine without threadpoolctl runs).
- PyTorch (where installed): full-batch ``torch.optim.LBFGS`` with the strong-Wolfe line
  search on the mean binary cross-entropy, float64, ``tolerance_grad=1e-10``: estimates only.
- PyTorch + SEs: the same L-BFGS fit, then the information X'WX at its estimate (one
  matrix product with X and the constant), its Cholesky inverse, the standard errors and
  z-statistics: what a torch user computes to get chainrule's and statsmodels' inference.

``--phases`` adds where chainrule's time goes (medians over the repeats): input validation,
the subsample warm start, one full-data pass for ℓ and the score, and one pass that also
forms X'WX (with and without the compiled row kernel), with the number of each kind of
pass one fit makes.

Before timing, all implementations are checked to reach the same estimates (the largest
coefficient difference from chainrule's is printed; the first-order ones stop at their
gradient tolerance, so they agree to about 1e-6, the Newton ones to about 1e-12).
Reported: seconds per fit (median and min over repeats) and the ratio of each median to
chainrule's.
"""
from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import statistics
import sys
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "src"))

from chainrule.stats import Logit


def make_data(n: int, p: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    L = np.linalg.cholesky(0.7 * np.eye(p) + 0.3 * np.ones((p, p)))
    X = rng.standard_normal((n, p)) @ L.T
    beta = np.linspace(-0.5, 0.5, p)
    y = (rng.random(n) < 1.0 / (1.0 + np.exp(-(0.3 + X @ beta)))).astype(np.float64)
    return np.ascontiguousarray(X), y


def run_chainrule(X, y, _):
    model = Logit().fit(X, y)
    model.bse, model.pvalues, model.llf, model.conf_int()
    return model.params


def run_chainrule_numpy(X, y, Xc):
    """chainrule with its compiled (numba) row kernel switched off: the plain-NumPy path."""
    return run_without_numba(run_chainrule, X, y, Xc)


def run_statsmodels(X, y, Xc):
    import statsmodels.api as sm

    result = sm.Logit(y, Xc).fit(disp=0)
    result.bse, result.pvalues, result.llf, result.conf_int()
    return np.asarray(result.params)


def run_sklearn(X, y, _):
    from sklearn.linear_model import LogisticRegression

    model = LogisticRegression(C=np.inf, solver="lbfgs", tol=1e-10, max_iter=10_000).fit(X, y)
    return np.r_[model.intercept_, model.coef_[0]]


def run_torch(X, y, _):
    return _torch_lbfgs(X, y)[0]


def run_torch_inference(X, y, Xc):
    """torch L-BFGS, then what its estimates lack for inference: the information X'WX at the
    estimate (W = diag(p(1 − p)), X with the constant), its Cholesky inverse, the standard
    errors and z-statistics: the same job as chainrule's and statsmodels' rows."""
    import torch

    w, Xt = _torch_lbfgs(X, y)
    Xct = torch.from_numpy(Xc)
    with torch.no_grad():
        p = torch.sigmoid(Xt @ torch.from_numpy(w[1:]) + float(w[0]))
        information = Xct.T @ (Xct * (p * (1.0 - p))[:, None])
        cov = torch.cholesky_inverse(torch.linalg.cholesky(information))
        bse = torch.sqrt(torch.diagonal(cov))
        (torch.from_numpy(w) / bse).numpy()
    return w


def _torch_lbfgs(X, y):
    import torch

    Xt, yt = torch.from_numpy(X), torch.from_numpy(y)
    w = torch.zeros(X.shape[1] + 1, dtype=torch.float64, requires_grad=True)
    optimizer = torch.optim.LBFGS([w], lr=1, max_iter=1000, tolerance_grad=1e-10, tolerance_change=1e-14,
                                  history_size=20, line_search_fn="strong_wolfe")

    def closure():
        optimizer.zero_grad()
        loss = torch.nn.functional.binary_cross_entropy_with_logits(Xt @ w[1:] + w[0], yt)
        loss.backward()
        return loss

    optimizer.step(closure)
    return w.detach().numpy().copy(), Xt


def available(only=None):
    cases = {"chainrule": run_chainrule}
    if only is None or "chainrule NumPy" in only:
        cases["chainrule NumPy"] = run_chainrule_numpy
    if only is None or "chainrule 1 thread" in only:
        cases["chainrule 1 thread"] = run_chainrule_one_thread
    for name, module, fn in (("statsmodels", "statsmodels", run_statsmodels),
                             ("scikit-learn", "sklearn", run_sklearn), ("torch L-BFGS", "torch", run_torch),
                             ("torch L-BFGS + SEs", "torch", run_torch_inference)):
        if only is not None and name not in only:
            continue
        try:
            __import__(module)
        except ImportError:
            print(f"({name} is not installed; skipped)")
            continue
        cases[name] = fn
    return cases


def run_without_numba(fn, *args, **kwargs):
    """fn(*args, **kwargs) with chainrule's compiled kernels switched off (CHAINRULE_NO_NUMBA=1)."""
    return _with_environment("CHAINRULE_NO_NUMBA", "1", fn, *args, **kwargs)


def run_chainrule_one_thread(X, y, Xc):
    """chainrule with its passes over the rows on one thread (CHAINRULE_NUM_THREADS=1): what
    a machine without threadpoolctl runs."""
    return _with_environment("CHAINRULE_NUM_THREADS", "1", run_chainrule, X, y, Xc)


def _with_environment(name, value, fn, *args, **kwargs):
    previous = os.environ.get(name)
    os.environ[name] = value
    try:
        return fn(*args, **kwargs)
    finally:
        if previous is None:
            del os.environ[name]
        else:
            os.environ[name] = previous


def phases(X, y, model, repeats) -> dict:
    """Median seconds of the pieces of one chainrule fit, and how many passes of each kind it makes."""
    from chainrule.stats import logit_newton, row_parts, validation

    names = [f"x{j + 1}" for j in range(X.shape[1])]
    design = logit_newton.Design(X, True)
    start = np.zeros(X.shape[1] + 1)
    start[0] = np.log(y.mean() / (1 - y.mean()))
    pieces = {
        "validation": lambda: (validation.as_design(X), validation.as_target(y, X.shape[0]),
                               validation.check_columns(X, names, True), validation.check_binary(y)),
        "warm start": lambda: logit_newton.warm_start(design, y, start),
        "score pass": lambda: design.newton_pass(model.params_, y, hessian=False),
        "X'WX pass": lambda: design.newton_pass(model.params_, y, hessian=True),
        "X'WX pass NumPy": lambda: run_without_numba(design.newton_pass, model.params_, y, hessian=True),
    }
    times = {name: [] for name in pieces}
    with row_parts.parallel_rows():  # as inside Logit.fit: one range of rows per thread
        for _ in range(repeats):
            for name, fn in pieces.items():
                begin = time.perf_counter()
                fn()
                times[name].append(time.perf_counter() - begin)
    counts = {True: 0, False: 0}
    real = logit_newton.Design.newton_pass

    def counting(self, beta, target, hessian=True):
        if self.n == X.shape[0]:
            counts[bool(hessian)] += 1
        return real(self, beta, target, hessian)

    logit_newton.Design.newton_pass = counting
    try:
        Logit().fit(X, y)
    finally:
        logit_newton.Design.newton_pass = real
    result = {name: statistics.median(values) for name, values in times.items()}
    result["score passes per fit"], result["X'WX passes per fit"] = counts[False], counts[True]
    print("chainrule phases (median ms): " + ", ".join(
        f"{name} {value * 1e3:.1f}" for name, value in result.items() if name in pieces
    ) + f"; per fit {counts[False]} score passes and {counts[True]} X'WX pass(es) over all rows")
    return result


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small problem, 3 repeats (a smoke test)")
    parser.add_argument("--n", type=int, default=None)
    parser.add_argument("--p", type=int, default=None)
    parser.add_argument("--repeats", type=int, default=None)
    parser.add_argument("--json", default=None, help="write the results to this file")
    parser.add_argument("--phases", action="store_true", help="also time the phases of chainrule's fit")
    parser.add_argument("--only", default=None,
                        help="comma-separated competitors to run besides chainrule "
                             "(chainrule NumPy,chainrule 1 thread,statsmodels,"
                             "scikit-learn,torch L-BFGS,torch L-BFGS + SEs)")
    args = parser.parse_args(argv)
    n = args.n or (20_000 if args.quick else 200_000)
    p = args.p or (10 if args.quick else 50)
    repeats = args.repeats or (3 if args.quick else 7)
    only = None if args.only is None else [name.strip() for name in args.only.split(",")]
    try:
        if only is not None and not any(name.startswith("torch") for name in only):
            raise ImportError
        import torch

        torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", os.cpu_count() or 1)))
        torch_threads = torch.get_num_threads()
    except ImportError:
        torch_threads = None
    print(f"Logit n={n:,} p={p} float64, {repeats} repeats; python {platform.python_version()}, "
          f"numpy {np.__version__}, {os.cpu_count()} CPUs, torch threads {torch_threads}; "
          f"load average {os.getloadavg()[0]:.2f}")
    X, y = make_data(n, p)
    Xc = np.column_stack([np.ones(n), X])
    cases = available(only)
    reference = cases["chainrule"](X, y, Xc)
    agreement = {}
    for name, fn in cases.items():
        agreement[name] = float(np.max(np.abs(fn(X, y, Xc) - reference)))  # also the warm-up
    times = {name: [] for name in cases}
    for _ in range(repeats):
        for name, fn in cases.items():
            gc.collect()
            start = time.perf_counter()
            fn(X, y, Xc)
            times[name].append(time.perf_counter() - start)
    base = statistics.median(times["chainrule"])
    print(f"{'implementation':<20}{'median s':>10}{'min s':>10}{'ratio':>8}{'max |Δβ| vs chainrule':>24}")
    results = {}
    for name in cases:
        median = statistics.median(times[name])
        results[name] = {"median_s": median, "min_s": min(times[name]), "ratio_to_chainrule": median / base,
                         "max_abs_param_diff": agreement[name]}
        print(f"{name:<20}{median:>10.3f}{min(times[name]):>10.3f}{median / base:>8.2f}{agreement[name]:>24.2e}")
    model = Logit().fit(X, y)
    warm = " after the subsample warm start" if n > 50_000 else ""
    print(f"chainrule: {model.n_iter_} Newton iterations over all rows{warm}")
    out = {"n": n, "p": p, "repeats": repeats, "load_average": os.getloadavg()[0], "results": results,
           "newton_iterations": model.n_iter_}
    if args.phases:
        out["phases"] = phases(X, y, model, repeats)
    if args.json:
        with open(args.json, "w") as handle:
            json.dump(out, handle, indent=2)
    return out


if __name__ == "__main__":
    main()
