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
import time

import _coverage  # first: it pins BLAS to one thread before NumPy loads
import numpy as np

from chainrule.causal import FLM2021, DeepHeterogeneity, make_flm_ate_data, make_heterogeneity_data

args, QUICK, REPS, PARTS = _coverage.study_options(__doc__.splitlines()[0], (4, 100),
                                                   "flm-ate,flm-ate-crossfit,het-linear,het-logit")
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


LABELS = {"flm-ate": "FLM2021 ATE, no sample splitting", "flm-ate-crossfit": "FLM2021 ATE, 2-fold cross-fitting",
          "het-linear": "DeepHeterogeneity, linear, E β(X)", "het-logit": "DeepHeterogeneity, logit, E β(X)"}
rows = []
print(f"design: ATE n = {N_ATE}, heterogeneity n = {N_HET} (logit {2 * N_HET}), {REPS} replications per part"
      f"{' (quick mode)' if QUICK else ''}")
for part in PARTS:
    tic = time.perf_counter()
    estimates, errors, truths = np.array([replicate(part, seed) for seed in range(REPS)]).T
    rows.append(_coverage.coverage(part, LABELS[part], estimates, errors, truths, time.perf_counter() - tic))

_coverage.write_table(rows, args.out / "ch12_flm.md", "estimator")
print(f"total time {time.perf_counter() - started:.1f} s")
