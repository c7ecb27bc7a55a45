r"""The multiplier bootstrap of the DML estimates, and joint confidence intervals.

For repetition s and treatment j, with the score ψ_ij at θ̂_j, its Jacobian J_j and standard
error se_j, the studentized estimate is approximated by (Chernozhukov, Chetverikov and Kato
2013; Belloni, Chernozhukov, Chetverikov and Wei 2018, the "multiplier bootstrap")

    t*_bj = (1/n) Σ_i ξ_bi ψ_ij / (J_j se_j),       b = 1 … B,

with multipliers ξ_bi drawn independently of the data, mean 0 and variance 1:

    "normal":  ξ ~ N(0, 1)
    "Bayes":   ξ = E − 1, E ~ Exponential(1)
    "wild":    ξ = U/√2 + (V² − 1)/2, U, V ~ N(0, 1) (Mammen's moments: E ξ³ = 1)

(DoubleML's three methods; its draws are matched when the same legacy NumPy stream is used:
``random_state=np.random.RandomState(seed)`` here and ``np.random.seed(seed)`` there.)

Joint (simultaneous) intervals over k treatments use the (1 − α) quantile c of
max_j |t*_bj| over b: θ̂_j ± c se_j, which cover all k effects together with probability
1 − α asymptotically. With repeated splits, each repetition gets its own c and the interval
bounds are aggregated by their medians.
"""
from __future__ import annotations

import numbers

from ..engine import backend

np = backend.host

__all__ = ["BOOTSTRAP_METHODS", "draw_weights", "multiplier_bootstrap", "joint_critical_values", "as_random_state"]

BOOTSTRAP_METHODS = ("normal", "Bayes", "wild")


def as_random_state(random_state):
    """A NumPy generator: a ``RandomState``/``Generator`` as given, else ``RandomState(random_state)``."""
    if isinstance(random_state, (np.random.RandomState, np.random.Generator)):
        return random_state
    if random_state is not None and (isinstance(random_state, bool) or not isinstance(random_state, numbers.Integral)):
        raise TypeError(f"random_state must be None, an int, a RandomState or a Generator; got {random_state!r}")
    return np.random.RandomState(random_state)


def draw_weights(method: str, n_rep_boot: int, n_obs: int, random_state=None):
    """(n_rep_boot, n_obs) multipliers for ``method`` ("normal", "Bayes" or "wild")."""
    if method not in BOOTSTRAP_METHODS:
        raise ValueError(f"bootstrap: method must be one of {BOOTSTRAP_METHODS}; got {method!r}")
    if isinstance(n_rep_boot, bool) or not isinstance(n_rep_boot, numbers.Integral) or n_rep_boot < 1:
        raise ValueError(f"bootstrap: n_rep_boot must be a positive int; got {n_rep_boot!r}")
    rng = as_random_state(random_state)
    size = (n_rep_boot, n_obs)
    if method == "Bayes":
        return rng.exponential(scale=1.0, size=size) - 1.0
    if method == "normal":
        return rng.normal(loc=0.0, scale=1.0, size=size)
    first = rng.normal(loc=0.0, scale=1.0, size=size)
    second = rng.normal(loc=0.0, scale=1.0, size=size)
    return first / np.sqrt(2) + (second**2 - 1) / 2


def multiplier_bootstrap(psi, J, all_se, method="normal", n_rep_boot=500, random_state=None):
    """Bootstrap t statistics (n_rep_boot, k, S) from the scores ``psi`` (n, k, S), their
    Jacobians ``J`` (k, S) and standard errors ``all_se`` (k, S); weights are drawn per repetition."""
    rng = as_random_state(random_state)
    n, k, n_rep = psi.shape
    out = np.empty((n_rep_boot, k, n_rep))
    for s in range(n_rep):
        weights = draw_weights(method, n_rep_boot, n, rng)
        out[:, :, s] = weights @ (psi[:, :, s] / J[:, s]) / (n * all_se[:, s])
    return out


def joint_critical_values(boot_t, level: float):
    """Per repetition, the ``level`` quantile of max_j |t*_bj| over the bootstrap draws: shape (S,)."""
    return np.quantile(np.max(np.abs(boot_t), axis=1), level, axis=0)
