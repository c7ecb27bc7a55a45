r"""FLM2021: the average treatment effect with deep ReLU networks as nuisance estimates
(Farrell, Liang and Misra 2021, "Deep Neural Networks for Estimation and Inference",
Econometrica 89(1), 181–213).

A binary treatment D, an outcome Y and controls X. Multilayer perceptrons with ReLU
activations estimate the outcome regressions μ_d(x) = E[Y | D = d, X = x] and the propensity
p(x) = P(D = 1 | X = x) (clipped to [ε, 1 − ε], ε = ``trimming_threshold``). The estimate is the
mean of the doubly robust (augmented inverse-propensity) influence function

    ψ_i = μ̂_1(X_i) − μ̂_0(X_i) + D_i (Y_i − μ̂_1(X_i)) / p̂(X_i)
                                − (1 − D_i)(Y_i − μ̂_0(X_i)) / (1 − p̂(X_i)) − θ̂,

    θ̂ = mean_i (ψ_i + θ̂),        SE = sd(ψ) / √n,

with the normal 95% interval θ̂ ± 1.96 SE. Under their Theorem 3 (ReLU nets whose width and
depth grow with n, the nuisances converging faster than n^{-1/4}) θ̂ is asymptotically normal
with the semiparametric efficiency bound as variance, *without* sample splitting: the
networks' complexity bounds replace the Donsker-type argument that cross-fitting sidesteps.
Both are offered here:

* ``n_folds=None`` (the paper's estimator): each network is trained on all rows and
  predicts on the same rows;
* ``n_folds=K``: cross-fitting (Chernozhukov et al. 2018): each fold's nuisances come from
  networks trained on the other K − 1 folds.

The outcome regressions are either two networks (``outcome="separate"``: μ_0 on the
untreated rows, μ_1 on the treated) or one network with the treatment as an input
(``outcome="joint"``: μ(x, d) trained on all rows, μ_d(x) = μ(x, d), as the paper's
implementation). Nuisances are ``NetworkLearner`` s (by default ReLU MLPs (64, 64), Adam,
early stopping) or any scikit-learn-style learner. Results are a
:class:`~chainrule.causal.DMLResults` (``params``, ``bse``, ``conf_int``, ``summary()``).
"""
from __future__ import annotations

from ..engine import backend
from .base import as_matrix, as_vector
from .crossfit import out_of_fold_loss
from .folds import make_folds
from .learners import NetworkLearner, as_learner
from .results import DMLResults
from .scores import irm_ate, solve_linear_score

np = backend.host

__all__ = ["FLM2021", "flm_ate_score", "make_flm_ate_data"]


def flm_ate_score(y, d, mu0, mu1, p):
    """(θ̂, ψ at θ̂, SE = sd(ψ)/√n) of the doubly robust ATE score with nuisances μ_0, μ_1, p."""
    psi_a, psi_b = irm_ate(np.asarray(y, np.float64), np.asarray(d, np.float64), mu0, mu1, p)
    theta, psi, _, se = solve_linear_score(psi_a, psi_b)
    return theta, psi, se


def make_flm_ate_data(n_obs: int = 2000, dim_x: int = 5, random_state=None):
    r"""A simulated design with known effect: X ~ N(0, I_p) (p = ``dim_x`` >= 3),
    p(x) = σ(x_1/2 − x_2/2), D ~ Bernoulli(p(X)), μ_0(x) = x_1 + sin(x_2), τ(x) = 1 + x_3/2,
    Y = μ_0(X) + D τ(X) + ε, ε ~ N(0, 1). The ATE is 1 and the efficiency bound (the variance
    of the efficient influence function) is E[1/(p(1−p))] + Var τ(X) = 2 + 2e^{1/4} + 1/4.
    Returns (X, y, d, truth) with truth a dict of the ATE, the bound ``V`` and the true
    nuisances ``mu0``, ``mu1``, ``p`` at the rows."""
    if isinstance(dim_x, bool) or not isinstance(dim_x, int) or dim_x < 3:
        raise ValueError(f"make_flm_ate_data: dim_x must be an int >= 3; got {dim_x!r}")
    rng = random_state if isinstance(random_state, np.random.Generator) else np.random.default_rng(random_state)
    X = rng.normal(size=(n_obs, dim_x))
    p = 1.0 / (1.0 + np.exp(-(0.5 * X[:, 0] - 0.5 * X[:, 1])))
    d = (rng.uniform(size=n_obs) < p).astype(np.float64)
    mu0, tau = X[:, 0] + np.sin(X[:, 1]), 1.0 + 0.5 * X[:, 2]
    y = mu0 + d * tau + rng.normal(size=n_obs)
    truth = {"ate": 1.0, "V": 2.0 + 2.0 * np.exp(0.25) + 0.25, "mu0": mu0, "mu1": mu0 + tau, "p": p}
    return X, y, d, truth


class FLM2021:
    """The average treatment effect of a binary treatment with deep-network nuisances.

    Args:
        ml_mu: learner of the outcome regression (default: a ReLU ``NetworkLearner``).
        ml_p: classifier of the propensity (default: a ReLU ``NetworkLearner`` for classification).
        outcome: "separate" (μ_0, μ_1 fitted on the untreated and treated rows) or "joint"
            (one learner of μ(x, d) with the treatment as the last input column).
        n_folds: None (no sample splitting, the paper's estimator) or an int K >= 2 (cross-fitting).
        trimming_threshold: ε, propensities clipped to [ε, 1 − ε] (0 <= ε < 0.5).
        hidden, epochs: the default networks' hidden widths and most epochs.
        random_state: seeds the default networks and the folds.

    ``fit(X, y, d)`` stores ``results_`` (a ``DMLResults``), ``predictions_`` and returns self.
    """

    def __init__(self, ml_mu=None, ml_p=None, outcome="separate", n_folds=None, trimming_threshold=1e-2,
                 hidden=(64, 64), epochs=200, random_state=None):
        if outcome not in ("separate", "joint"):
            raise ValueError(f"FLM2021: outcome must be 'separate' or 'joint'; got {outcome!r}")
        if n_folds is not None and (isinstance(n_folds, bool) or not isinstance(n_folds, int) or n_folds < 2):
            raise ValueError(f"FLM2021: n_folds must be None (no sample splitting) or an int >= 2; got {n_folds!r}")
        threshold = trimming_threshold
        if isinstance(threshold, bool) or not isinstance(threshold, (int, float)) or not 0 <= threshold < 0.5:
            raise ValueError(f"FLM2021: trimming_threshold must be a number in [0, 0.5); got {threshold!r}")
        self.ml_mu, self.ml_p, self.outcome, self.n_folds = ml_mu, ml_p, outcome, n_folds
        self.trimming_threshold, self.hidden, self.epochs, self.random_state = threshold, hidden, epochs, random_state

    def _learners(self):
        mu = self.ml_mu if self.ml_mu is not None else NetworkLearner(
            hidden=self.hidden, epochs=self.epochs, random_state=self.random_state)
        p = self.ml_p if self.ml_p is not None else NetworkLearner(
            task="classification", hidden=self.hidden, epochs=self.epochs,
            random_state=None if self.random_state is None else self.random_state + 1)
        return as_learner(mu, "ml_mu"), as_learner(p, "ml_p", proba=True)

    def fit(self, X, y, d):
        """Estimate the ATE; returns self (``results_``: params, bse, conf_int(), summary())."""
        X, _ = as_matrix(X, "X", "FLM2021")
        y, _ = as_vector(y, X.shape[0], "y", "FLM2021")
        d, label = as_vector(d, X.shape[0], "d", "FLM2021")
        if not np.isin(d, (0.0, 1.0)).all() or d.min() == d.max():
            raise ValueError("FLM2021: the treatment d must be binary (0/1) with both values present")
        mu, prop = self._learners()
        n = X.shape[0]
        if self.n_folds is None:
            splits = [(np.arange(n), np.arange(n))]
        else:
            splits = make_folds(n, self.n_folds, 1, self.random_state)[0]
        mu0, mu1, p_raw = np.empty(n), np.empty(n), np.empty(n)
        for train, test in splits:
            mu0[test], mu1[test] = self._outcomes(mu, X, y, d, train, test)
            p_raw[test] = prop.fit_predict(X[train], d[train], X[test])[0]
        p = np.clip(p_raw, self.trimming_threshold, 1 - self.trimming_threshold)
        theta, psi, se = flm_ate_score(y, d, mu0, mu1, p)
        losses = {"ml_mu0": np.array([[out_of_fold_loss(y, mu0, False, d == 0)]]),
                  "ml_mu1": np.array([[out_of_fold_loss(y, mu1, False, d == 1)]]),
                  "ml_p": np.array([[out_of_fold_loss(d, p, True)]])}
        kinds = {"ml_mu0": "RMSE", "ml_mu1": "RMSE", "ml_p": "log loss"}
        name = str(label) if label is not None else "d"
        self.results_ = DMLResults([[theta]], [[se]], psi.reshape(-1, 1, 1), np.array([[-1.0]]), [name], "FLM2021",
                                   "ATE", len(splits), "doubleml", losses, False, kinds)
        self.predictions_ = {"mu0": mu0, "mu1": mu1, "p": p}
        self.n_trimmed_ = int(np.sum((p_raw < self.trimming_threshold) | (p_raw > 1 - self.trimming_threshold)))
        return self

    def _outcomes(self, mu, X, y, d, train, test):
        if self.outcome == "joint":
            rows = np.column_stack([X[train], d[train]])
            both = np.vstack([np.column_stack([X[test], np.zeros(test.size)]),
                              np.column_stack([X[test], np.ones(test.size)])])
            values = mu.fit_predict(rows, y[train], both)[0]
            return values[:test.size], values[test.size:]
        treated = d[train] == 1
        mu0 = mu.fit_predict(X[train[~treated]], y[train[~treated]], X[test])[0]
        mu1 = mu.fit_predict(X[train[treated]], y[train[treated]], X[test])[0]
        return mu0, mu1

    def summary(self, alpha: float = 0.05):
        """``results_.summary(alpha)``."""
        if not hasattr(self, "results_"):
            raise ValueError("FLM2021: call fit(X, y, d) first")
        return self.results_.summary(alpha)
