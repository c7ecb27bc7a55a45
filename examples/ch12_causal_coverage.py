"""Chapter 12: the coverage of double/debiased machine learning's 95% interval with neural-net nuisances.

Replications of the partially linear design of Chernozhukov et al. (2018, Figure 1;
``chainrule.causal.make_plr_CCDDHNR2018``: n = 500 rows, 20 controls, true effect 0.5), each
estimated by ``chainrule.causal.PLR`` (partialling out, 5 folds) with multilayer perceptrons
(``nn.MLP`` via ``causal.NetworkLearner``: Adam, early stopping on a held-out 20% of each fold's
training rows; ReLU without weight decay, and tanh with weight decay 0.1) as the learners of
E[Y|X] and E[D|X]; for contrast, the same replications with
lasso nuisances (``stats.Lasso``), and IRM (ATE, binary treatment, ``make_irm_data``) with an
MLP outcome model and an MLP propensity. For each: the share of the 95% intervals that contain
the truth (with its exact binomial 95% interval), the bias and spread of the estimates, the
mean standard error, and the run time (ch12_coverage.png: the standardized estimates
(θ̂ − θ)/se against N(0, 1)).

Run: python examples/ch12_causal_coverage.py [--quick] [--out DIR] [--reps=N] [--parts=PART,...]
(parts: plr-mlp, plr-mlp-tanh, plr-lasso, irm-mlp, irm-mlp-tanh; all by default)
"""
import time

import _coverage  # first: it pins BLAS to one thread before NumPy loads
import numpy as np
from _common import save
from matplotlib.figure import Figure
from scipy import stats as distributions

from chainrule import stats
from chainrule.causal import IRM, PLR, NetworkLearner, make_irm_data, make_plr_CCDDHNR2018

args, QUICK, REPS, PARTS = _coverage.study_options(__doc__.splitlines()[0], (6, 200),
                                                   "plr-mlp,plr-mlp-tanh,plr-lasso,irm-mlp,irm-mlp-tanh")
N_OBS, DIM_X = (300, 10) if QUICK else (500, 20)
EPOCHS = 30 if QUICK else 200
started = time.perf_counter()


def mlp(seed, task="regression", regularized=False):
    """ReLU MLP (64, 64) without weight decay, or (``regularized``) tanh with weight decay 0.1."""
    hidden = (16,) if QUICK else (64, 64)
    activation, decay = ("tanh", 0.1) if regularized else ("relu", 0.0)
    return NetworkLearner(hidden=hidden, task=task, activation=activation, weight_decay=decay,
                          lr=1e-3 if not QUICK else 1e-2, batch_size=64, epochs=EPOCHS, patience=10,
                          validation_fraction=0.2, random_state=seed)


def replicate(part, seed):
    """One replication: (estimate, standard error, truth, losses)."""
    regularized = part.endswith("-tanh")
    if part.startswith("plr"):
        X, y, d = make_plr_CCDDHNR2018(N_OBS, DIM_X, alpha=0.5, random_state=np.random.RandomState(seed))
        if part.startswith("plr-mlp"):
            learners = mlp(seed, regularized=regularized), mlp(seed + 10_000, regularized=regularized)
        else:
            learners = stats.Lasso(alpha=0.02), stats.Lasso(alpha=0.02)
        model, truth = PLR(*learners, n_folds=5, random_state=seed), 0.5
    else:
        X, y, d = make_irm_data(N_OBS, DIM_X, theta=0.5, random_state=np.random.RandomState(seed))
        learners = mlp(seed, regularized=regularized), mlp(seed + 10_000, "classification", regularized)
        model, truth = IRM(*learners, n_folds=5, random_state=seed), 0.5
    results = model.fit(X, y, d).results_
    losses = {name: float(values[0, 0]) for name, values in results.nuisance_loss.items()}
    return float(results.params[0]), float(results.bse[0]), truth, losses


LABELS = {"plr-mlp": "PLR, MLP nuisances (ReLU)", "plr-mlp-tanh": "PLR, MLP nuisances (tanh, weight decay 0.1)",
          "plr-lasso": "PLR, lasso nuisances", "irm-mlp": "IRM (ATE), MLP nuisances (ReLU)",
          "irm-mlp-tanh": "IRM (ATE), MLP nuisances (tanh, weight decay 0.1)"}
rows, standardized = [], {}
print(f"design: n = {N_OBS}, {DIM_X} controls, 5 folds, {REPS} replications per model"
      f"{' (quick mode)' if QUICK else ''}")
for part in PARTS:
    tic = time.perf_counter()
    estimates, errors, truths, losses = [], [], [], []
    for seed in range(REPS):
        estimate, se, truth, loss = replicate(part, seed)
        estimates.append(estimate), errors.append(se), truths.append(truth), losses.append(loss)
    seconds = time.perf_counter() - tic
    rows.append(_coverage.coverage(part, LABELS[part], estimates, errors, truths, seconds))
    standardized[part] = (np.array(estimates) - np.array(truths)) / np.array(errors)
    mean_losses = {name: np.mean([entry[name] for entry in losses]) for name in losses[0]}
    print("  out-of-fold losses: " + ", ".join(f"{name} {value:.3f}" for name, value in mean_losses.items()))

_coverage.write_table(rows, args.out / "ch12_coverage.md", "model")

figure = Figure(figsize=(4 * len(standardized), 3.2), layout="constrained")
grid = np.linspace(-4, 4, 200)
for k, (part, values) in enumerate(standardized.items()):
    axis = figure.add_subplot(1, len(standardized), k + 1)
    axis.hist(values, bins=20, range=(-4, 4), density=True, color="0.7", edgecolor="0.4")
    axis.plot(grid, distributions.norm.pdf(grid), color="C0", label="N(0, 1)")
    axis.set_title(LABELS[part], fontsize=9)
    axis.set_xlabel("(θ̂ − θ) / se")
    axis.legend(fontsize=8)
save(figure, args.out, "ch12_coverage.png")
print(f"total time {time.perf_counter() - started:.1f} s")
