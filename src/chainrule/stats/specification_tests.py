r"""Specification tests of a least-squares fit, with statsmodels' definitions, signatures and
return values (statsmodels.stats.diagnostic, .stattools, .outliers_influence).

Heteroscedasticity, from the auxiliary regression of the squared residuals e_i² on the
columns of W (with a constant): its R², its F statistic F = (ESS/df_m) / (SSR/df_r) with
df_m = rank(W) − 1, df_r = n − rank(W), and its p-value from F(df_m, df_r):

    het_breuschpagan  W = exog_het. robust=True (Koenker 1981, statsmodels' default): LM =
                      n R², p from χ²(columns of W − 1); robust=False (Breusch & Pagan 1979):
                      the regressand is e_i² / mean(e²) and LM = ESS / 2.
    het_white         W = all products w_j w_l (j ≤ l) of the columns of exog (which holds
                      a constant, so W has the columns, their squares and cross-products;
                      White 1980): LM = n R², p from χ²(df_m). Repeated or dependent products
                      (the square of a 0/1 dummy is the dummy) leave the rank, not the count.

Normality and autocorrelation:

    jarque_bera       S = m3 / m2^{3/2}, K = m4 / m2² (m_r = mean((e − ē)^r), the biased
                      moments), JB = n/6 (S² + (K − 3)²/4), p from χ²(2); returns (JB, p, S, K)
    durbin_watson     DW = Σ_{i≥2} (e_i − e_{i−1})² / Σ e_i²

Collinearity:

    variance_inflation_factor(exog, j, standardize=True) = 1 / (1 − R_j²), R_j² of the
                      regression of column j on the other columns (centered when they hold a
                      constant, explicit or implicit, uncentered otherwise, as statsmodels' OLS
                      decides), R_j² clipped to [0, 1 − 1e-15]. ``standardize`` (statsmodels ≥
                      0.15's default) first centers and scales every non-constant column
                      (standard deviation > 1e-10): the constant's VIF is then 1 and every other
                      column's the centered one, with or without a constant in ``exog``.
    vif_from_r        the same for every column of a design with a constant first, from the R
                      factor of the fit: with Zs'Zs = R'R, VIF_j = [(Zs'Zs)⁻¹]_jj · Σ_{m ≥ 1} R_mj²
                      for a slope (the sum is the centered sum of squares of column j); the
                      constant's is 1 (standardize) or [(Zs'Zs)⁻¹]_00 R_00² (not)

The auxiliary regressions are solved by least squares on the scaled columns with the rank of
``numpy.linalg.matrix_rank`` (singular values above max(n, p) ε σ_max), as statsmodels' OLS
(which uses the pseudo-inverse).

Differences from statsmodels: ``het_breuschpagan`` and ``het_white`` add a constant column to
an ``exog`` without one (statsmodels' het_white refuses it and its het_breuschpagan counts the
degrees of freedom as if there were one); ``variance_inflation_factor`` does not warn about a
poorly conditioned design (OLS itself does, naming the columns).

References: T. S. Breusch and A. R. Pagan, Econometrica 47(5) (1979) 1287-1294; R. Koenker,
J. Econometrics 17(1) (1981) 107-112; H. White, Econometrica 48(4) (1980) 817-838; C. M.
Jarque and A. K. Bera, Economics Letters 6(3) (1980) 255-259; J. Durbin and G. S. Watson,
Biometrika 37 (1950) 409-428; D. A. Belsley, E. Kuh and R. E. Welsch, *Regression
Diagnostics*, 1980.
"""
from __future__ import annotations

import scipy.linalg as _la
from scipy import stats as _distributions

from ..engine import backend

np = backend.host

__all__ = ["het_breuschpagan", "het_white", "jarque_bera", "durbin_watson", "variance_inflation_factor",
           "vif_from_r"]


def het_breuschpagan(resid, exog_het, robust: bool = True) -> tuple:
    """(lm, lm_pvalue, fvalue, f_pvalue) of the Breusch–Pagan test (module docstring).
    ``exog_het``: (n, p) with a constant column; one without gets a constant added (where
    statsmodels would count its columns as if it had one)."""
    e = _vector(resid, "het_breuschpagan: resid")
    W = _with_constant(_matrix(exog_het, e.size, "het_breuschpagan: exog_het"))
    y = e ** 2
    if not robust:
        y = y / y.mean()
    fit = _auxiliary(y, W)
    lm = e.size * fit["rsquared"] if robust else fit["ess"] / 2
    return float(lm), float(_distributions.chi2.sf(lm, W.shape[1] - 1)), fit["fvalue"], fit["f_pvalue"]


def het_white(resid, exog) -> tuple:
    """(lm, lm_pvalue, fvalue, f_pvalue) of White's test (module docstring). ``exog``: (n, p)
    with a constant column (one is added when there is none)."""
    e = _vector(resid, "het_white: resid")
    X = _with_constant(_matrix(exog, e.size, "het_white: exog"))
    first, second = np.triu_indices(X.shape[1])
    fit = _auxiliary(e ** 2, X[:, first] * X[:, second])
    lm = e.size * fit["rsquared"]
    return float(lm), float(_distributions.chi2.sf(lm, fit["df_model"])), fit["fvalue"], fit["f_pvalue"]


def jarque_bera(resid) -> tuple:
    """(jb, jb_pvalue, skew, kurtosis) of the residuals (kurtosis not in excess: 3 for a normal)."""
    e = _vector(resid, "jarque_bera: resid")
    centered = e - e.mean()
    m2, m3, m4 = (np.mean(centered ** r) for r in (2, 3, 4))
    skew, kurtosis = m3 / m2 ** 1.5, m4 / m2 ** 2
    jb = e.size / 6.0 * (skew ** 2 + (kurtosis - 3.0) ** 2 / 4.0)
    return float(jb), float(_distributions.chi2.sf(jb, 2)), float(skew), float(kurtosis)


def durbin_watson(resid) -> float:
    """Σ (e_i − e_{i−1})² / Σ e_i², in row order (2 for no first-order autocorrelation)."""
    e = _vector(resid, "durbin_watson: resid")
    return float(np.sum(np.diff(e) ** 2) / np.sum(e ** 2))


def variance_inflation_factor(exog, exog_idx: int, *, standardize: bool = True) -> float:
    """1 / (1 − R²) of column ``exog_idx`` of ``exog`` regressed on the other columns
    (statsmodels' ``variance_inflation_factor``, module docstring; pass the design with its
    constant). Unlike statsmodels, no warning for an ill-conditioned design."""
    X = _matrix(exog, None, "variance_inflation_factor: exog")
    k = X.shape[1]
    if not -k <= exog_idx < k:
        raise IndexError(f"variance_inflation_factor: exog_idx {exog_idx} is out of range for {k} columns")
    exog_idx %= k
    if standardize:
        sd = X.std(axis=0)
        scaled = sd > 1e-10
        X = X.copy()
        X[:, scaled] = (X[:, scaled] - X[:, scaled].mean(axis=0)) / sd[scaled]
    others = X[:, np.arange(k) != exog_idx]
    fit = _auxiliary(X[:, exog_idx], others, centered=_has_constant(others))
    return _vif(fit["rsquared"])


def vif_from_r(R, Rinv=None, standardize: bool = True):
    """Every column's VIF for a design whose first column is the constant, from the R factor of
    its scaled form (module docstring); ``Rinv`` the (refined) inverse triangle, if known."""
    k = R.shape[0]
    if Rinv is None:
        Rinv = _la.solve_triangular(R, np.eye(k), check_finite=False)
    bread = np.einsum("ij,ij->i", Rinv, Rinv)  # diag (Zs'Zs)⁻¹ = row norms of R⁻¹
    vif = np.empty(k)
    vif[0] = 1.0 if standardize else bread[0] * R[0, 0] ** 2
    for m in range(1, k):
        vif[m] = bread[m] * float(R[1:m + 1, m] @ R[1:m + 1, m])
    return np.array([_vif(1.0 - 1.0 / v) for v in vif])


def _vif(rsquared) -> float:
    """1 / (1 − R²) with R² clipped to [0, 1 − 1e-15], as statsmodels."""
    return float(1.0 / (1.0 - min(max(float(rsquared), 0.0), 1.0 - 1e-15)))


def _auxiliary(y, W, centered=True) -> dict:
    """R², ESS, F and its p-value, and df_model of the least-squares regression of y on W
    (rank-deficient W allowed: the rank counts, as in statsmodels' pinv-based OLS)."""
    n = W.shape[0]
    norms = np.linalg.norm(W, axis=0)
    norms[norms == 0] = 1.0
    Ws = W / norms
    coef = _la.lstsq(Ws, y, cond=None, check_finite=False)[0]
    rank = int(np.linalg.matrix_rank(W))
    resid = y - Ws @ coef
    ssr = float(resid @ resid)
    tss = float(((y - y.mean()) ** 2).sum()) if centered else float(y @ y)
    ess = tss - ssr
    df_model, df_resid = rank - int(centered), n - rank
    with np.errstate(divide="ignore", invalid="ignore"):
        rsquared = 1.0 - ssr / tss
        fvalue = float(np.float64(ess / df_model) / np.float64(ssr / df_resid)) if df_model > 0 else float("nan")
    f_pvalue = float(_distributions.f.sf(fvalue, df_model, df_resid)) if df_model > 0 else float("nan")
    return {"rsquared": float(rsquared), "ess": ess, "fvalue": fvalue, "f_pvalue": f_pvalue, "df_model": df_model}


def _has_constant(X) -> bool:
    """Whether statsmodels' OLS would count a constant: a constant nonzero column, or an
    implicit one (the column of ones lies in the span of the columns)."""
    if X.shape[1] == 0:
        return False
    if np.any((np.ptp(X, axis=0) == 0) & (X[0] != 0)):
        return True
    augmented = np.column_stack([np.ones(X.shape[0]), X])
    return int(np.linalg.matrix_rank(augmented)) == int(np.linalg.matrix_rank(X))


def _with_constant(X):
    """X, with a column of ones first when no column is constant (a constant and nonzero column)."""
    constant = (np.ptp(X, axis=0) == 0) & (X[0] != 0)
    return X if constant.any() else np.column_stack([np.ones(X.shape[0]), X])


def _vector(values, name):
    values = np.asarray(values, dtype=backend.float64)
    if values.ndim != 1 or values.size < 2:
        raise ValueError(f"{name}: expected a 1-D array of at least 2 residuals; got shape {values.shape}")
    return values


def _matrix(values, n, name):
    values = np.asarray(values, dtype=backend.float64)
    if values.ndim == 1:
        values = values[:, None]
    if values.ndim != 2 or (n is not None and values.shape[0] != n):
        raise ValueError(f"{name}: expected a 2-D array with {n if n is not None else 'one row per'} rows; "
                         f"got shape {values.shape}")
    return values
