r"""The Neyman-orthogonal scores of double/debiased machine learning, and their solution.

Every score here is linear in the target parameter θ (Chernozhukov et al. 2018, eq. 2.1):

    ψ(W; θ, η) = θ ψ_a(W; η) + ψ_b(W; η),

so the DML estimator (their "DML2": one equation over all rows with out-of-fold nuisance
predictions η̂) solves (1/n) Σ_i ψ(W_i; θ, η̂) = 0:

    θ̂ = − mean(ψ_b) / mean(ψ_a).

Its variance is the sandwich of the score (their Theorem 3.1, with J the Jacobian):

    J = mean(ψ_a),   σ̂² = mean(ψ(W_i; θ̂, η̂)²) / J²,   se = sqrt(σ̂² / n).

Orthogonality (∂_η E ψ = 0 at the truth) makes θ̂ insensitive to first-order errors in η̂,
which is why slow-converging machine-learning nuisances still give √n inference.

Partially linear regression (PLR), Y = D θ + g(X) + ζ, D = m(X) + V; with ℓ(X) = E[Y|X],
m(X) = E[D|X] and residuals V̂ = D − m̂(X):

    "partialling out" (Robinson 1988; paper eq. 4.4):  ψ_a = −V̂²,      ψ_b = V̂ (Y − ℓ̂(X))
    "IV-type" (paper eq. 4.3):                         ψ_a = −V̂ D,     ψ_b = V̂ (Y − ĝ(X))

Interactive regression (IRM), D ∈ {0, 1}, g(d, X) = E[Y|D=d, X], propensity m(X) = P(D=1|X)
(clipped to [ε, 1 − ε], ε = ``trimming_threshold``), p̂ = mean(D):

    ATE (paper eq. 5.3):  ψ_a = −1,
        ψ_b = ĝ1 − ĝ0 + D (Y − ĝ1)/m̂ − (1 − D)(Y − ĝ0)/(1 − m̂)
    ATTE (paper eq. 5.4): ψ_a = −D / p̂,
        ψ_b = D (Y − ĝ0)/p̂ − m̂ (1 − D)(Y − ĝ0) / ((1 − m̂) p̂)

(DoubleML's form: weights ω = D/p̂ and ω̄ = m̂/p̂ multiply ĝ1 − ĝ0 and the inverse-propensity
terms, and the ĝ1 terms cancel.) With ``normalize_ipw`` the propensities are first replaced by
D m̂ mean(D/m̂) + (1 − D)(1 − (1 − m̂) mean((1 − D)/(1 − m̂))) (the weights normalized to
mean one, Busso, DiNardo & McCrary 2014), as DoubleML does.

Partially linear IV (PLIV), Y = D θ + g(X) + ζ with E[ζ | Z, X] = 0; ℓ(X) = E[Y|X],
m(X) = E[Z|X], r(X) = E[D|X], Ŵ = D − r̂(X), V̂ = Z − m̂(X):

    "partialling out", one instrument:  ψ_a = −Ŵ V̂,          ψ_b = V̂ (Y − ℓ̂(X))
    several instruments: V̂ is replaced by the fitted values Ṽ of the least-squares regression
    (with intercept) of Ŵ on the columns of V̂ (two-stage least squares on the residuals)
    "IV-type", one instrument:          ψ_a = −V̂ D,          ψ_b = V̂ (Y − ĝ(X))

Reference: Chernozhukov, Chetverikov, Demirer, Duflo, Hansen, Newey & Robins (2018),
"Double/debiased machine learning for treatment and structural parameters", The
Econometrics Journal 21(1) C1–C68; Bach, Chernozhukov, Kurz & Spindler (2022), "DoubleML",
JMLR 23(53) (the conventions matched here).
"""
from __future__ import annotations

from ..engine import backend

np = backend.host

__all__ = ["plr_partialling_out", "plr_iv_type", "irm_ate", "irm_atte", "normalize_propensity",
           "pliv_partialling_out", "pliv_iv_type", "solve_linear_score"]


def plr_partialling_out(y, d, l_hat, m_hat):
    """PLR's partialling-out score: (ψ_a, ψ_b) = (−V̂², V̂ (Y − ℓ̂)), V̂ = D − m̂."""
    v = d - m_hat
    return -v * v, v * (y - l_hat)


def plr_iv_type(y, d, g_hat, m_hat):
    """PLR's IV-type score: (ψ_a, ψ_b) = (−V̂ D, V̂ (Y − ĝ)), V̂ = D − m̂."""
    v = d - m_hat
    return -v * d, v * (y - g_hat)


def normalize_propensity(m_hat, d):
    """Propensities whose inverse weights average one within each arm (DoubleML's ``normalize_ipw``)."""
    treated = np.mean(d / m_hat)
    control = np.mean((1.0 - d) / (1.0 - m_hat))
    return d * m_hat * treated + (1.0 - d) * (1.0 - (1.0 - m_hat) * control)


def irm_ate(y, d, g0_hat, g1_hat, m_hat):
    """IRM's ATE score: ψ_a = −1, ψ_b the augmented inverse-propensity-weighted difference."""
    psi_b = g1_hat - g0_hat + d * (y - g1_hat) / m_hat - (1.0 - d) * (y - g0_hat) / (1.0 - m_hat)
    return -np.ones_like(psi_b), psi_b


def irm_atte(y, d, g0_hat, g1_hat, m_hat):
    """IRM's ATTE score (the effect on the treated), in DoubleML's weighted form."""
    p = np.mean(d)
    weights, weights_bar = d / p, m_hat / p
    psi_b = weights * (g1_hat - g0_hat) + weights_bar * (
        d * (y - g1_hat) / m_hat - (1.0 - d) * (y - g0_hat) / (1.0 - m_hat))
    return -weights / np.mean(weights), psi_b


def pliv_partialling_out(y, d, z, l_hat, m_hat, r_hat):
    """PLIV's partialling-out score; ``z`` and ``m_hat`` are (n,) for one instrument or (n, k)."""
    w = d - r_hat
    v = z - m_hat
    if v.ndim == 2 and v.shape[1] > 1:
        design = np.column_stack([np.ones(len(v)), v])
        coef = np.linalg.lstsq(design, w, rcond=None)[0]
        v = design @ coef
    v = v.reshape(-1)
    return -w * v, v * (y - l_hat)


def pliv_iv_type(y, d, z, g_hat, m_hat):
    """PLIV's IV-type score (one instrument): (ψ_a, ψ_b) = (−V̂ D, V̂ (Y − ĝ))."""
    v = (z - m_hat).reshape(-1)
    return -v * d, v * (y - g_hat)


def solve_linear_score(psi_a, psi_b):
    """θ̂ = −mean(ψ_b)/mean(ψ_a), the score ψ at θ̂, J = mean(ψ_a) and se = sqrt(mean(ψ²)/J²/n)."""
    J = np.mean(psi_a)
    if not np.isfinite(J) or J == 0:
        raise ValueError(f"the score's Jacobian mean(psi_a) is {J}: the treatment has no variation left "
                         f"after the nuisance fit (a constant treatment, or a treatment the learner predicts "
                         f"exactly)")
    theta = -np.mean(psi_b) / J
    psi = psi_a * theta + psi_b
    se = np.sqrt(np.mean(psi * psi) / (J * J) / psi.shape[0])
    return theta, psi, J, se
