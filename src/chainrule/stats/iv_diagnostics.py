r"""The weak-identification and overidentification statistics researchers publish with a robust or
clustered IV fit: the Kleibergen–Paap rk Wald statistic (and its F form, ivreg2's "Kleibergen-Paap
rk Wald F statistic") and Hansen's J of the two-step efficient GMM estimator.

Notation as :mod:`chainrule.stats.iv_results`: Z̃_2 = M_{X_1*} Z_2 (n x q, the excluded
instruments with the exogenous regressors partialled out; with absorbed fixed effects they are
partialled out too), X̃_2 = M_{X_1*} X_2 (n x m), L all instruments, K all regressors.

**Kleibergen–Paap rk statistic** (Kleibergen & Paap 2006), the test of H0: rank Π = m − 1 in the
first stage X̃_2 = Z̃_2 Π + V, i.e. that the model is not identified — a weak-instrument test valid
under heteroskedasticity and clustering. With Π̂ = (Z̃_2'Z̃_2)⁻¹ Z̃_2'X̃_2 and V̂_Π the covariance of
vec Π̂ (column-major) of the model's cov_type, with the first stage's corrections:

    "nonrobust"        V̂_Π = Σ̂_VV ⊗ (Z̃_2'Z̃_2)⁻¹,   Σ̂_VV = V̂'V̂/(n − L [− k_fe])
    "HC0", "HC1"       V̂_Π = (I ⊗ (Z̃'Z̃)⁻¹) [c Σ_i (v̂_i v̂_i') ⊗ (z̃_i z̃_i')] (I ⊗ (Z̃'Z̃)⁻¹)
    "cluster"          the same with the cluster sums of the scores v̂_i ⊗ z̃_i (one or several ways)

(c and the cluster factors those of :func:`chainrule.stats.iv_results.score_meat` for a
regression with L coefficients). Standardize as ivreg2's ``ranktest`` does: Θ̂ = F Π̂ G' with
F = L_Z' (Z̃_2'Z̃_2 = L_Z L_Z', Cholesky) and G = L_X⁻¹ (X̃_2'X̃_2 = L_X L_X'), so
W = cov vec Θ̂ = (G ⊗ F) V̂_Π (G ⊗ F)'. With the full SVD Θ̂ = U S V' and U_⊥ = the last q − m + 1
columns of U, v_⊥ = the last column of V (the directions of the smallest singular value),

    λ = (v_⊥' ⊗ U_⊥') vec Θ̂ = vec(U_⊥'Θ̂ v_⊥),   Ω = (v_⊥' ⊗ U_⊥') W (v_⊥' ⊗ U_⊥')',
    rk = λ'Ω⁻¹λ  ~ χ²((q − m + 1)) under H0,   rk Wald F = rk / q.

(KP's A_⊥ = U_⊥ T_a and B_⊥ = T_b v_⊥' differ from U_⊥ and v_⊥' by invertible factors, which
cancel in λ'Ω⁻¹λ.) With one endogenous regressor rk is the Wald statistic of the excluded
instruments in the first stage under the model's covariance, so the rk Wald F equals the first
stage's ``fstat``; with homoskedastic errors it is the Cragg–Donald statistic's robust
counterpart. Stock–Yogo's critical values are the usual (heuristic) benchmark. ivreg2 reports
rk/q · (n − L)/n [· (G − 1)/G clustered], i.e. uses c = n/(n − L) (= our "HC1") and
G/(G − 1) · n/(n − L) for clusters (ours: linearmodels' G/(G − 1) · (n − 1)/(n − L)).

**Hansen's J** (Hansen 1982): the two-step efficient GMM estimator with the moments E[z_i ε_i] = 0,
the first step 2SLS (residuals ẽ), Ŝ = Σ_i ẽ_i² z_i z_i' ("nonrobust", "HC0", "HC1": the robust
weight) or Σ_g S_g S_g' with S_g = Σ_{i∈g} ẽ_i z_i (one-way "cluster"; several ways: the
inclusion–exclusion sum, which need not be positive definite: J is then nan, as it is when there
are fewer clusters than instruments), no centring or degrees-of-freedom correction (linearmodels'
``IVGMM(weight_type="robust"|"clustered")``):

    β̂_GMM = (X'Z Ŝ⁻¹ Z'X)⁻¹ X'Z Ŝ⁻¹ Z'y,  e = y − X β̂_GMM,  J = (Z'e)' Ŝ⁻¹ (Z'e)  ~ χ²(L − K),

linearmodels' ``j_stat`` (n ḡ'Ŵḡ with ḡ = Z'e/n, Ŵ = (Ŝ/n)⁻¹) and ivreg2's "Hansen J statistic".
It tests the overidentifying restrictions allowing heteroskedasticity (or clustering), where
Sargan's test assumes homoskedastic errors. With absorbed fixed effects X, Z and y are the
within-transformed ones; the effects' own moments are exactly identified, so this is the J of the
model with the dummies among the regressors and the instruments.

References: F. Kleibergen and R. Paap, "Generalized reduced rank tests using the singular value
decomposition", J. Econometrics 133 (2006) 97-126; L. P. Hansen, Econometrica 50 (1982) 1029-1054;
C. F. Baum, M. E. Schaffer and S. Stillman, "Enhanced routines for instrumental variables/GMM
estimation and testing", Stata Journal 7 (2007) 465-506 (ivreg2, ranktest).
"""
from __future__ import annotations

import scipy.linalg as _la
from scipy import stats as _distributions

from ..engine import backend
from . import clustering
from .iv_results import TestStatistic, score_meat

np = backend.host

__all__ = ["kleibergen_paap", "hansen_j", "SINGULAR_TOL"]

#: the covariance of the moments is singular when its correlation form has an eigenvalue ≤ this · the largest
SINGULAR_TOL = 1e-10


def _partial(Q, values):
    return values - Q @ (Q.T @ values) if Q is not None else values


def kleibergen_paap(Z2, E, Q_exog, L, cov_type, clusters, absorbed=None):
    """The Kleibergen–Paap rk Wald statistic (a TestStatistic on χ²(q − m + 1)) and its F form rk/q
    (module docstring). ``Z2``: the excluded instruments, ``E``: the endogenous regressors, ``Q_exog``:
    an orthonormal basis of the exogenous regressors (None if there are none), ``L``: all instruments."""
    Zt, Xt = _partial(Q_exog, Z2), _partial(Q_exog, E)
    n, q = Zt.shape
    m = Xt.shape[1]
    ZZ = Zt.T @ Zt
    ZZ_inv = _la.cho_solve(_la.cho_factor(ZZ), np.eye(q))
    Pi = ZZ_inv @ (Zt.T @ Xt)
    V = Xt - Zt @ Pi
    if cov_type == "nonrobust":
        V_pi = np.kron(V.T @ V / (n - L - (absorbed or 0)), ZZ_inv)
    else:
        scores = np.concatenate([Zt * V[:, [j]] for j in range(m)], axis=1)  # v_i ⊗ z_i, vec's order
        bread = np.kron(np.eye(m), ZZ_inv)
        V_pi = bread @ score_meat(cov_type, scores, clusters, L, absorbed) @ bread
    F = _la.cholesky(ZZ, lower=True).T
    G = _la.solve_triangular(_la.cholesky(Xt.T @ Xt, lower=True), np.eye(m), lower=True)
    Theta = F @ Pi @ G.T
    T = np.kron(G, F)
    W = T @ V_pi @ T.T
    U, _, Vh = np.linalg.svd(Theta, full_matrices=True)
    P = np.kron(Vh[m - 1:, :], U[:, m - 1:].T)  # (v_⊥' ⊗ U_⊥')
    lam = P @ Theta.ravel(order="F")
    omega = P @ W @ P.T
    rk = float(lam @ _la.solve((omega + omega.T) / 2, lam, assume_a="sym"))
    df = q - m + 1
    name = "Kleibergen-Paap rk Wald statistic"
    return TestStatistic(rk, float(_distributions.chi2.sf(rk, df)), df, name), rk / q


def hansen_j(X, y, Z, Q_Z, cov_type, clusters):
    """Hansen's J of the two-step efficient GMM estimator (module docstring); a TestStatistic with nan
    for an exactly identified model."""
    n, K = X.shape
    L = Z.shape[1]
    name = "Hansen's J statistic (two-step efficient GMM)"
    if L <= K:
        return TestStatistic(float("nan"), float("nan"), 0, name + " (exactly identified: no test)")
    QX, Qy = Q_Z.T @ X, Q_Z.T @ y
    first = _la.lstsq(QX, Qy, check_finite=False)[0]  # 2SLS: the first step
    scores = Z * (y - X @ first)[:, None]
    if cov_type == "cluster":
        S = clustering.multiway_meat(scores, clusters, lambda _G: 1.0)
    else:
        S = scores.T @ scores
    scale = np.sqrt(np.diag(S))
    eigenvalues = _la.eigvalsh(S / np.outer(scale, scale)) if scale.all() else np.zeros(1)
    if eigenvalues.min() <= SINGULAR_TOL * eigenvalues.max():  # in the units-free correlation form
        return TestStatistic(float("nan"), float("nan"), L - K, name + " (undefined: the estimated covariance of the "
                             "moments is not positive definite, e.g. fewer clusters than instruments)")
    weight = _la.cho_factor(S)
    ZX, Zy = Z.T @ X, Z.T @ y
    WZX = _la.cho_solve(weight, ZX)
    beta = _la.solve(ZX.T @ WZX, WZX.T @ Zy, assume_a="sym")
    g = Z.T @ (y - X @ beta)
    stat = float(g @ _la.cho_solve(weight, g))
    return TestStatistic(stat, float(_distributions.chi2.sf(stat, L - K)), L - K, name)
