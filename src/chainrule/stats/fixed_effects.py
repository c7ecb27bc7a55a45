r"""High-dimensional fixed effects: the within transformation by alternating projections,
singleton removal and the degrees of freedom the absorbed effects use (``OLS(absorb=...)``).

The model with F sets of fixed effects (firm, year, …) is

    y = X β + D_1 α_1 + … + D_F α_F + ε,

D_f the n x G_f indicator matrix of the f-th factor. By Frisch–Waugh–Lovell, β̂ is the OLS
slope of M_D y on M_D X, M_D = I − D (D'D)⁺ D' the annihilator of D = [D_1 … D_F]: the
*within transformation*. For one factor M_D x subtracts the group means,
(M_1 x)_i = x_i − x̄_{g(i)}. For several, M_D is the limit of the method of alternating
projections (von Neumann 1950; Halperin 1962; Guimarães & Portugal 2010, Gaure 2013):

    F(x) = M_F ⋯ M_2 M_1 x,    x_{k+1} = F(x_k) → M_D x  (x_0 = x),

each M_f one pass of group means (``numpy.bincount``). Every iterate stays in x + span(D),
and the only fixed point there orthogonal to D is M_D x. The plain iteration converges
linearly, slowly when the factors are nearly collinear (an unbalanced panel); we accelerate it
with the Irons–Tuck (1969) extrapolation of fixest (Bergé 2018) and pyfixest, applied to the
iterates themselves: from x, Fx and F²x,

    δ_1 = Fx − x,  δ_2 = F²x − Fx,  Δ = δ_2 − δ_1,  x ← F²x − (δ_2'Δ / Δ'Δ) δ_2,

an affine combination of iterates, so it stays in x + span(D). The iteration stops when one
sweep moves no value by more than ``tol · max_i |x_i|`` (``tol`` and ``max_iter`` are
``OLS``'s), and warns when ``max_iter`` sweeps did not get there. A balanced panel converges
after one sweep. Two factors of which one has few levels (firm and year) are eliminated
exactly instead, by a Schur complement on the small factor (:func:`_two_way_direct`): one
pass of group means per factor and a small dense solve, no iteration (``method="auto"``).

Singletons. A group with one row is fitted exactly by its own effect: the row carries no
information on β but shrinks the standard errors (Correia 2015). Such rows are dropped, and
dropping them can make new singletons in another factor, so the removal is iterated to a fixed
point (pyfixest's ``fixef_rm="singleton"``, reghdfe's default); the number dropped is reported.

Degrees of freedom (pyfixest's and fixest's count, ``ssc(k_fixef="nonnested")``): the F
factors use k_fe = Σ_f G_f − (F − 1) parameters (each factor after the first loses one
level to the collinearity with the others; exact for two connected factors). With a
cluster-robust covariance, a factor nested in a cluster variable (each of its levels inside one
cluster) is not counted, except one parameter for it: df_k = k + k_fe − Σ_{nested} G_f + #nested
(the "nesting correction" of reghdfe and Cameron & Miller 2015, §IV.C).

References: S. Gaure, "OLS with multiple high dimensional category variables", Computational
Statistics & Data Analysis 66 (2013); L. Bergé, "Efficient estimation of maximum likelihood
models with multiple fixed-effects: the R package FENmlm", CREA DP 2018-13; B. M. Irons and
R. C. Tuck, AIAA Journal 7 (1969); S. Correia, "Singletons, cluster-robust standard errors and
fixed effects: a bad mix" (2015); A. C. Cameron and D. L. Miller, J. Human Resources 50(2) (2015).
"""
from __future__ import annotations

import warnings

from ..engine import backend

np = backend.host

__all__ = ["FixedEffects", "factorize", "remove_singletons", "demean", "absorbed_dof", "nested_in",
           "DIRECT_MAX_LEVELS"]

#: ``demean(method="auto")`` eliminates two factors exactly when the smaller has at most this many levels
DIRECT_MAX_LEVELS = 1000


def factorize(values, name: str, who: str = "OLS"):
    """Integer codes 0 … G−1 of one column of labels, and G. Missing labels (NaN, None) are refused."""
    import pandas as pd

    codes, levels = pd.factorize(pd.Series(np.asarray(values).reshape(-1)), sort=True)
    if (codes < 0).any():
        rows = np.flatnonzero(codes < 0)
        more = " …" if rows.size > 10 else ""
        raise ValueError(f"{who}: {name}: missing labels at rows {rows[:10].tolist()}{more}")
    return codes.astype(np.intp), int(len(levels))


def _recode(codes):
    """Codes of the levels still present, renumbered 0 … G'−1."""
    present = np.bincount(codes)
    mapping = np.cumsum(present > 0) - 1
    return mapping[codes].astype(np.intp), int((present > 0).sum())


def remove_singletons(codes_list):
    """The rows kept after dropping, until none is left, every row alone in its group of some factor."""
    n = codes_list[0].shape[0]
    keep = np.ones(n, dtype=bool)
    changed = True
    while changed:
        changed = False
        for codes in codes_list:
            counts = np.bincount(codes[keep], minlength=int(codes.max()) + 1)
            alone = keep & (counts[codes] == 1)
            if alone.any():
                keep &= ~alone
                changed = True
    return keep


class FixedEffects:
    """The factors of an absorbed fit on the rows that are kept.

    Attributes: ``names``, ``codes`` (one int array per factor), ``levels`` (G_f each),
    ``keep`` (the rows of the input kept, a bool mask), ``n_singletons`` (rows dropped).
    """

    def __init__(self, columns, names, who="OLS", drop_singletons=True):
        codes = [factorize(column, f"absorb column {name!r}", who)[0] for column, name in zip(columns, names)]
        keep = remove_singletons(codes) if drop_singletons else np.ones(codes[0].shape[0], dtype=bool)
        if not keep.any():
            raise ValueError(f"{who}: absorb: every row is a singleton of some fixed effect "
                             f"({', '.join(map(str, names))}): no row is left to estimate the slopes within groups")
        self.names, self.keep = list(names), keep
        self.n_singletons = int(keep.size - keep.sum())
        recoded = [_recode(c[keep]) for c in codes]
        self.codes = [c for c, _ in recoded]
        self.levels = [g for _, g in recoded]
        self._counts = [np.bincount(c, minlength=g).astype(np.float64) for c, g in recoded]
        self.n_iter = 0
        self.converged = True

    def project_out(self, x, f):
        """x − its group means in factor f, in place."""
        means = np.bincount(self.codes[f], weights=x, minlength=self.levels[f]) / self._counts[f]
        x -= means[self.codes[f]]
        return x

    def sweep(self, x):
        """F(x) = M_F ⋯ M_1 x (a new array)."""
        x = x.copy()
        for f in range(len(self.codes)):
            self.project_out(x, f)
        return x


def demean(fe: FixedEffects, columns, tol: float, max_iter: int, method: str = "auto"):
    """M_D applied to each column of the 2-D array ``columns`` (rows already those ``fe`` keeps).

    ``method``: "map" (accelerated alternating projections, module docstring; one pass for one
    factor), "direct" (two factors, the smaller with few levels: :func:`_two_way_direct`) or
    "auto" ("direct" when there are two factors and the smaller has at most
    ``DIRECT_MAX_LEVELS`` levels, else "map"). Sets ``fe.n_iter`` (the most sweeps any column
    needed; 1 for "direct") and ``fe.converged``."""
    if method == "auto":
        method = "direct" if len(fe.codes) == 2 and min(fe.levels) <= DIRECT_MAX_LEVELS else "map"
    if method == "direct":
        fe.n_iter, fe.converged = 1, True
        return _two_way_direct(fe, np.asarray(columns, dtype=np.float64))
    out = np.empty_like(columns, dtype=np.float64, order="F")
    sweeps, converged = 0, True
    for j in range(columns.shape[1]):
        x = np.ascontiguousarray(columns[:, j], dtype=np.float64)
        if len(fe.codes) == 1:
            out[:, j], used, ok = fe.project_out(x.copy(), 0), 1, True
        else:
            out[:, j], used, ok = _accelerated(fe, x, tol, max_iter)
        sweeps, converged = max(sweeps, used), converged and ok
    fe.n_iter, fe.converged = sweeps, converged
    if not converged:
        warnings.warn(f"OLS(absorb=...): the alternating projections did not converge in {max_iter} sweeps "
                      f"(tol={tol:g}); raise max_iter or tol", RuntimeWarning, stacklevel=4)
    return out


def _two_way_direct(fe, columns):
    r"""M_D X for two factors by eliminating the larger one exactly (a Schur complement).

    With a the factor of many levels (G_a) and b the one of few (G_b), C the G_a x G_b table of
    counts, n_a and n_b the group sizes: M_D = M_a − M_a D_b S⁺ D_b' M_a with
    S = D_b' M_a D_b = diag(n_b) − C' diag(1/n_a) C (G_b x G_b; S⁺ its pseudo-inverse, S being
    singular by the one level the two factors share). So M_D x = M_a (x − D_b γ),
    γ = S⁺ D_b' M_a x: one pass of group means per factor and a G_b x G_b solve per column,
    exact (no iteration)."""
    big, small = (0, 1) if fe.levels[0] >= fe.levels[1] else (1, 0)
    a, b = fe.codes[big], fe.codes[small]
    Ga, Gb = fe.levels[big], fe.levels[small]
    n_a, n_b = fe._counts[big], fe._counts[small]
    C = np.bincount(a * Gb + b, minlength=Ga * Gb).reshape(Ga, Gb).astype(np.float64)
    S = np.diag(n_b) - C.T @ (C / n_a[:, None])
    S_pinv = np.linalg.pinv(S, hermitian=True)
    out = np.empty_like(columns, order="F")
    for j in range(columns.shape[1]):
        x = columns[:, j]
        within_a = x - (np.bincount(a, weights=x, minlength=Ga) / n_a)[a]
        gamma = S_pinv @ np.bincount(b, weights=within_a, minlength=Gb)
        out[:, j] = within_a - gamma[b] + ((C @ gamma) / n_a)[a]
    return out


def _accelerated(fe, x, tol, max_iter):
    """Irons–Tuck accelerated alternating projections of one column: (M_D x, sweeps, converged)."""
    threshold = tol * max(float(np.max(np.abs(x))), np.finfo(np.float64).tiny)
    sweeps = 0
    while sweeps < max_iter:
        gx = fe.sweep(x)
        ggx = fe.sweep(gx)
        sweeps += 2
        step = ggx - gx
        if float(np.max(np.abs(step))) <= threshold:
            return ggx, sweeps, True
        change = step - (gx - x)
        denominator = float(change @ change)
        x = ggx - (float(step @ change) / denominator) * step if denominator > 0 else ggx
    return x, sweeps, False


def nested_in(fe_codes, cluster_codes) -> bool:
    """Whether every level of the factor lies inside one cluster."""
    cluster_of = np.empty(int(fe_codes.max()) + 1, dtype=cluster_codes.dtype)
    cluster_of[fe_codes] = cluster_codes  # the cluster of one row of each level
    return bool(np.array_equal(cluster_of[fe_codes], cluster_codes))


def absorbed_dof(fe: FixedEffects, clusters=None) -> int:
    """The parameters the fixed effects use (module docstring): Σ G_f − (F − 1), less the
    levels of factors nested in a cluster variable (plus one for each such factor)."""
    k_fe = sum(fe.levels) - (len(fe.levels) - 1)
    if clusters:
        for codes, levels in zip(fe.codes, fe.levels):
            if any(nested_in(codes, c) for c in clusters):
                k_fe -= levels - 1
    return int(k_fe)
