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
import os

if not {"OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"} & set(os.environ):
    os.environ["OPENBLAS_NUM_THREADS"] = os.environ["MKL_NUM_THREADS"] = "1"  # before NumPy loads BLAS

import sys  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402
from _common import parse_args, save  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from scipy import stats as distributions  # noqa: E402

from chainrule import stats  # noqa: E402
from chainrule.causal import IRM, PLR, NetworkLearner, make_irm_data, make_plr_CCDDHNR2018  # noqa: E402

extra = [a for a in sys.argv[1:] if a.startswith("--reps") or a.startswith("--parts")]
sys.argv = [a for a in sys.argv if a not in extra]
options = dict(a.lstrip("-").split("=", 1) for a in extra)
args = parse_args(__doc__.splitlines()[0])
QUICK = args.quick
REPS = int(options.get("reps", 6 if QUICK else 200))
PARTS = options.get("parts", "plr-mlp,plr-mlp-tanh,plr-lasso,irm-mlp,irm-mlp-tanh").split(",")
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


def clopper_pearson(hits, n, level=0.95):
    alpha = 1 - level
    low = distributions.beta.ppf(alpha / 2, hits, n - hits + 1) if hits > 0 else 0.0
    high = distributions.beta.ppf(1 - alpha / 2, hits + 1, n - hits) if hits < n else 1.0
    return low, high


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
    estimates, errors, truths = np.array(estimates), np.array(errors), np.array(truths)
    z = distributions.norm.ppf(0.975)
    hits = int(np.sum(np.abs(estimates - truths) <= z * errors))
    low, high = clopper_pearson(hits, REPS)
    standardized[part] = (estimates - truths) / errors
    mean_losses = {name: np.mean([entry[name] for entry in losses]) for name in losses[0]}
    rows.append((LABELS[part], REPS, hits / REPS, low, high, np.mean(estimates - truths), np.std(estimates, ddof=1),
                 np.mean(errors), seconds))
    print(f"coverage {part}: {hits / REPS:.3f} ({hits}/{REPS}), binomial 95% interval [{low:.3f}, {high:.3f}]; "
          f"bias {np.mean(estimates - truths):+.4f}, sd {np.std(estimates, ddof=1):.4f}, "
          f"mean se {np.mean(errors):.4f}; time {seconds:.1f} s ({seconds / REPS:.2f} s per replication)")
    print("  out-of-fold losses: " + ", ".join(f"{name} {value:.3f}" for name, value in mean_losses.items()))

table = ["| model | replications | coverage of the 95% interval | binomial 95% interval | bias | sd of θ̂ | mean se "
         "| time (s) |", "|---|---|---|---|---|---|---|---|"]
table += [f"| {r[0]} | {r[1]} | {r[2]:.3f} | [{r[3]:.3f}, {r[4]:.3f}] | {r[5]:+.4f} | {r[6]:.4f} | {r[7]:.4f} | "
          f"{r[8]:.0f} |" for r in rows]
(args.out / "ch12_coverage.md").write_text("\n".join(table) + "\n")
print("\n".join(table))

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
