r"""The simulated designs of the DML literature, drawn as DoubleML draws them.

``make_plr_CCDDHNR2018`` (Chernozhukov et al. 2018, Figure 1), a partially linear model with
x_i ~ N(0, Σ), Σ_kj = 0.7^|j−k|:

    d_i = x_i1 + 0.25 e^{x_i3}/(1 + e^{x_i3}) + v_i,                       v_i ~ N(0, 1)
    y_i = α d_i + e^{x_i1}/(1 + e^{x_i1}) + 0.25 x_i3 + ζ_i,               ζ_i ~ N(0, 1)

``make_irm_data`` (Belloni, Chernozhukov, Fernández-Val and Hansen 2017, supplement), a binary
treatment with heterogeneous effects: x_i ~ N(0, Σ), Σ_kj = 0.5^|j−k|, β_k = 1/k²,

    d_i = 1{ Λ(c_d x_i'β) > u_i },   u_i ~ U(0, 1),   Λ the logistic function
    y_i = θ d_i + c_y d_i x_i'β + ζ_i,                 ζ_i ~ N(0, 1)

with c_y = sqrt(R²_y / ((1 − R²_y) β'Σβ)) and c_d = sqrt(π²/3 · R²_d / ((1 − R²_d) β'Σβ)).

``random_state``: None, an int or a NumPy ``RandomState``; the draws are made in DoubleML's
order with the legacy NumPy stream, so ``random_state=RandomState(s)`` here equals
``np.random.seed(s)`` before DoubleML's generator of the same name (tested).
"""
from __future__ import annotations

from ..engine import backend
from .bootstrap import as_random_state

np = backend.host

__all__ = ["make_plr_CCDDHNR2018", "make_irm_data"]


def _toeplitz(rho, dim_x):
    k = np.arange(dim_x)
    return rho ** np.abs(k[:, None] - k[None, :]).astype(np.float64)


def _check(n_obs, dim_x, minimum_x, name):
    for value, label, minimum in ((n_obs, "n_obs", 1), (dim_x, "dim_x", minimum_x)):
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            raise ValueError(f"{name}: {label} must be an int >= {minimum}; got {value!r}")


def make_plr_CCDDHNR2018(n_obs: int = 500, dim_x: int = 20, alpha: float = 0.5, random_state=None):
    """(X, y, d) of the partially linear design of Chernozhukov et al. (2018), true effect ``alpha``."""
    _check(n_obs, dim_x, 3, "make_plr_CCDDHNR2018")
    rng = as_random_state(random_state)
    x = rng.multivariate_normal(np.zeros(dim_x), _toeplitz(0.7, dim_x), size=[n_obs])
    d = x[:, 0] + 0.25 * np.exp(x[:, 2]) / (1 + np.exp(x[:, 2])) + rng.standard_normal(size=[n_obs])
    y = alpha * d + np.exp(x[:, 0]) / (1 + np.exp(x[:, 0])) + 0.25 * x[:, 2] + rng.standard_normal(size=[n_obs])
    return x, y, d


def make_irm_data(n_obs: int = 500, dim_x: int = 20, theta: float = 0.0, R2_d: float = 0.5, R2_y: float = 0.5,
                  random_state=None):
    """(X, y, d) of the interactive design with a binary treatment; the ATE is ``theta``."""
    _check(n_obs, dim_x, 1, "make_irm_data")
    rng = as_random_state(random_state)
    v = rng.uniform(size=[n_obs])
    zeta = rng.standard_normal(size=[n_obs])
    cov = _toeplitz(0.5, dim_x)
    x = rng.multivariate_normal(np.zeros(dim_x), cov, size=[n_obs])
    beta = np.array([1 / k**2 for k in range(1, dim_x + 1)])
    b_sigma_b = beta @ cov @ beta
    c_y = np.sqrt(R2_y / ((1 - R2_y) * b_sigma_b))
    c_d = np.sqrt(np.pi**2 / 3.0 * R2_d / ((1 - R2_d) * b_sigma_b))
    xx = np.exp(x @ (beta * c_d))
    d = 1.0 * ((xx / (1 + xx)) > v)
    y = d * theta + d * (x @ (beta * c_y)) + zeta
    return x, y, d
