"""Chapter 12: Farrell, Liang and Misra's deep-net inference: the coverage of its 95% intervals.

Replications on simulated designs whose truth is known:

* ``flm-ate``, ``flm-ate-crossfit``: the average treatment effect by ``chainrule.causal.FLM2021``
  (ReLU MLPs for μ_0, μ_1 and the propensity; the doubly robust influence function), trained on
  all rows (their estimator, no sample splitting) and 2-fold cross-fitted
  (``make_flm_ate_data``: 5 controls, ATE 1, efficiency bound V = 2 + 2e^{1/4} + 1/4);
* ``het-linear``, ``het-logit``: the average β(x) of a structured model y = α(x) + β(x) t + ε, and
  of a heterogeneous logit P(y = 1) = σ(α(x) + β(x) t), by ``chainrule.causal.DeepHeterogeneity``
  (θ(x) = (α, β)(x) a ReLU MLP's outputs, the influence function with autograd Hessians,
  three-way splitting; ``make_heterogeneity_data``: t randomized, E β(X) = 1).

For each: the share of the 95% intervals that contain the truth, with its exact (Clopper-Pearson)
binomial 95% interval, the bias and spread of the estimates and the mean standard error
(ch12_flm.md: the table).

Run: python examples/ch12_flm.py [--quick] [--out DIR] [--reps=N] [--parts=PART,...]
"""
import os

if not {"OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"} & set(os.environ):
    os.environ["OPENBLAS_NUM_THREADS"] = os.environ["MKL_NUM_THREADS"] = "1"  # before NumPy loads BLAS

import sys  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402
from _common import parse_args  # noqa: E402
from scipy import stats as distributions  # noqa: E402

from chainrule.causal import FLM2021, DeepHeterogeneity, make_flm_ate_data, make_heterogeneity_data  # noqa: E402

extra = [a for a in sys.argv[1:] if a.startswith("--reps") or a.startswith("--parts")]
sys.argv = [a for a in sys.argv if a not in extra]
options = dict(a.lstrip("-").split("=", 1) for a in extra)
args = parse_args(__doc__.splitlines()[0])
QUICK = args.quick
REPS = int(options.get("reps", 4 if QUICK else 100))
PARTS = options.get("parts", "flm-ate,flm-ate-crossfit,het-linear,het-logit").split(",")
N_ATE, N_HET = (600, 900) if QUICK else (2000, 3000)
EPOCHS = 20 if QUICK else 100
started = time.perf_counter()


def replicate(part, seed):
    """One replication: (estimate, standard error, truth)."""
    if part.startswith("flm-ate"):
        X, y, d, truth = make_flm_ate_data(N_ATE, random_state=seed)
        folds = 2 if part.endswith("crossfit") else None
        results = FLM2021(hidden=(32, 32), epochs=EPOCHS, n_folds=folds, random_state=seed).fit(X, y, d).results_
        return float(results.params[0]), float(results.bse[0]), truth["ate"]
    model = "logit" if part.endswith("logit") else "linear"
    X, y, t, truth = make_heterogeneity_data(2 * N_HET if model == "logit" else N_HET, model, random_state=seed)
    fitted = DeepHeterogeneity(model=model, hidden=(32, 32), epochs=2 * EPOCHS, lr=3e-3 if model == "logit" else 1e-3,
                               patience=20 if model == "logit" else 10, random_state=seed).fit(X, y, t)
    return float(fitted.results_.params[0]), float(fitted.results_.bse[0]), truth["mean_beta"]


def clopper_pearson(hits, n, level=0.95):
    alpha = 1 - level
    low = distributions.beta.ppf(alpha / 2, hits, n - hits + 1) if hits > 0 else 0.0
    high = distributions.beta.ppf(1 - alpha / 2, hits + 1, n - hits) if hits < n else 1.0
    return low, high


LABELS = {"flm-ate": "FLM2021 ATE, no sample splitting", "flm-ate-crossfit": "FLM2021 ATE, 2-fold cross-fitting",
          "het-linear": "DeepHeterogeneity, linear, E β(X)", "het-logit": "DeepHeterogeneity, logit, E β(X)"}
rows = []
print(f"design: ATE n = {N_ATE}, heterogeneity n = {N_HET} (logit {2 * N_HET}), {REPS} replications per part"
      f"{' (quick mode)' if QUICK else ''}")
for part in PARTS:
    tic = time.perf_counter()
    draws = np.array([replicate(part, seed) for seed in range(REPS)])
    seconds = time.perf_counter() - tic
    estimates, errors, truths = draws.T
    hits = int(np.sum(np.abs(estimates - truths) <= distributions.norm.ppf(0.975) * errors))
    low, high = clopper_pearson(hits, REPS)
    bias, sd = np.mean(estimates - truths), np.std(estimates, ddof=1)
    rows.append((LABELS[part], REPS, hits / REPS, low, high, bias, sd, np.mean(errors), seconds))
    print(f"coverage {part}: {hits / REPS:.3f} ({hits}/{REPS}), binomial 95% interval [{low:.3f}, {high:.3f}]; "
          f"bias {bias:+.4f}, sd {sd:.4f}, mean se {np.mean(errors):.4f}; time {seconds:.1f} s")

table = ["| estimator | replications | coverage of the 95% interval | binomial 95% interval | bias | sd of θ̂ "
         "| mean se | time (s) |", "|---|---|---|---|---|---|---|---|"]
table += [f"| {r[0]} | {r[1]} | {r[2]:.3f} | [{r[3]:.3f}, {r[4]:.3f}] | {r[5]:+.4f} | {r[6]:.4f} | {r[7]:.4f} | "
          f"{r[8]:.0f} |" for r in rows]
(args.out / "ch12_flm.md").write_text("\n".join(table) + "\n")
print("\n".join(table))
print(f"total time {time.perf_counter() - started:.1f} s")
