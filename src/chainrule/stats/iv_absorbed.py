r"""Instrumental variables with absorbed fixed effects: ``IV2SLS(absorb=["firm", "year"])`` and
``IVLIML(absorb=...)``, pyfixest's ``feols("y ~ x | firm + year | d ~ z", ...)`` (and ivreghdfe's).

The model y = X_1 β_1 + X_2 β_2 + D α + ε with D the indicators of the absorbed factors, which
are exogenous: they belong to the regressors and to the instruments. By Frisch–Waugh–Lovell the
k-class estimate of β is the k-class estimate on the within-transformed data

    ỹ = M_D y,  X̃ = M_D [X_1, X_2],  Z̃ = M_D [X_1, Z_2],

M_D the annihilator of D, applied by the alternating projections of OLS(absorb=...)
(:func:`chainrule.stats.fixed_effects.demean`, on y, X_1, X_2 and Z_2 together); singletons are
dropped first, iteratively (the count is ``n_singletons``). The residuals ẽ = ỹ − X̃ β̂ are those
of the full model, since M_D ẽ = ẽ (and e'P_{[D,Z]} e = ẽ'P_{Z̃} ẽ, so Sargan's and the other
tests on the transformed data are those of the full model). No constant: D absorbs it.

Degrees of freedom, as pyfixest's (``ssc()`` defaults): df_k = K + k_fe with K the slopes and
k_fe = Σ_f G_f − (F − 1), less the levels of factors nested in a cluster variable (one kept per
such factor) for "cluster" (:func:`chainrule.stats.fixed_effects.absorbed_dof`):

    "nonrobust"  V = SSR/(n − df_k) · A⁻¹                          t on n − df_k
    "HC1"        V = n/(n − df_k) · HC0   (pyfixest's "hetero")    t on n − df_k
    "cluster"    V = Σ_S ± G/(G − 1)·(n − 1)/(n − df_k) · A⁻¹ M_S A⁻¹, G = min_j G_j   t on G − 1

(:mod:`chainrule.stats.iv_results`). The first stage of each endogenous regressor is the
regression of x̃_j on Z̃ with the same rules (df_k = L + k_fe), as pyfixest's first stage
``feols("d ~ x + z | firm + year")``; its R² are within R². Fuller's κ − α/(n − L − k_fe).

Refused, naming the column: an endogenous regressor or an excluded instrument that the fixed
effects explain (‖M_D x‖² ≤ 1e-9 ‖x‖²: constant within their groups); an exogenous regressor
they explain is dropped with a DataWarning, as OLS(absorb=...) drops it (``dropped_``).
"""
from __future__ import annotations

from collections import namedtuple

from ..engine import backend
from . import clustering, fixed_effects
from .absorbed_ols import COLLINEAR_TOL, check_absorb, column_lookup, split_columns
from .least_squares import CollinearityError
from .validation import as_target, check_scale, warn

np = backend.host

__all__ = ["IVDesign", "AbsorbedDesign", "absorbed_design", "absorbed_fields"]

IVDesign = namedtuple("IVDesign", ["exog", "exog_names", "endog", "instruments", "y", "target_name", "clusters",
                                   "tss", "endog_names", "instrument_names", "feature_names", "absorbed", "y_levels"])
IVDesign.__doc__ = ("The arrays of a k-class fit: exogenous regressors (with the constant, if any), endogenous ones, "
                    "excluded instruments, y; the cluster codes and counts; Σ(y − ȳ)² for R²; ``absorbed`` "
                    "(an AbsorbedDesign or None); ``y_levels`` (y before the within transformation).")

AbsorbedDesign = namedtuple("AbsorbedDesign", ["names", "levels", "df", "n_singletons", "dropped", "rest", "n_iter",
                                               "converged"])
AbsorbedDesign.__doc__ = ("The absorbed factors: their names and level counts, the degrees of freedom they use, the "
                          "singletons dropped, the exogenous regressors dropped, X without the absorbed columns, the "
                          "sweeps of the projections and whether they converged.")


def absorbed_design(model, X, y, groups, endog, instruments):
    """The within-transformed design of ``model`` (IV2SLS or IVLIML with ``absorb``; module docstring)."""
    who = type(model).__name__
    absorb = check_absorb(model.absorb, who)
    lookup = column_lookup(X, who)
    fe_columns, rest = split_columns(X, absorb, who, "absorb")
    exog, exog_names, E, Z2 = model._split(rest, endog, instruments)
    n = E.shape[0]
    yv, target_name = as_target(y, n, "y")
    endog_names, instrument_names = [str(c) for c in endog], [str(c) for c in instruments]
    check_scale(np.column_stack([exog, E, Z2]), exog_names + endog_names + instrument_names, "X", who)
    clusters = _clusters(model, groups, n, who, lookup)
    fe = fixed_effects.FixedEffects(fe_columns, [str(a) for a in absorb], who)
    if fe.n_singletons:
        warn(f"{who}(absorb=...): dropped {fe.n_singletons} singleton rows (alone in a group of a fixed effect)")
    keep = fe.keep
    if clusters is not None:
        clusters = [fixed_effects.factorize(c[keep], "groups", who)[0] for c in clusters]
        if any(int(c.max()) < 1 for c in clusters):
            raise ValueError(f"{who}.fit: groups: after dropping singletons, a cluster variable has 1 group; "
                             f"cluster-robust covariance needs at least 2")
    raw = np.column_stack([yv, exog, E, Z2])[keep]
    within = fixed_effects.demean(fe, raw, float(model.tol), int(model.max_iter))
    explained = np.einsum("ij,ij->j", within, within) <= COLLINEAR_TOL * np.einsum("ij,ij->j", raw, raw)
    p = exog.shape[1]
    _refuse_explained(who, fe.names, explained[1 + p:], endog_names + instrument_names, len(endog_names))
    dropped = [name for name, gone in zip(exog_names, explained[1:1 + p]) if gone]
    if dropped:
        warn(f"{who}(absorb=...): dropped {', '.join(dropped)}: collinear with the fixed effects "
             f"(constant within their groups)")
    kept = ~explained[1:1 + p]
    m = len(endog_names)
    counts = None if clusters is None else [int(c.max()) + 1 for c in clusters]
    y_levels = yv[keep]
    centered = y_levels - y_levels.mean()
    info = AbsorbedDesign(list(fe.names), list(fe.levels), fixed_effects.absorbed_dof(fe, clusters),
                          fe.n_singletons, dropped, rest, fe.n_iter, fe.converged)
    return IVDesign(exog=np.ascontiguousarray(within[:, 1:1 + p][:, kept]),
                    exog_names=[name for name, k in zip(exog_names, kept) if k], endog=within[:, 1 + p:1 + p + m],
                    instruments=within[:, 1 + p + m:], y=within[:, 0], target_name=target_name,
                    clusters=(clusters, counts), tss=float(centered @ centered), endog_names=endog_names,
                    instrument_names=instrument_names, feature_names=exog_names + endog_names + instrument_names,
                    absorbed=info, y_levels=y_levels)


def _clusters(model, groups, n, who, lookup):
    if model.cov_type == "cluster":
        if groups is None:
            raise ValueError(f"{who}.fit: cov_type='cluster' needs groups= (labels, an (n, m) array for m-way "
                             f"clustering, or column names of X); got None")
        return clustering.cluster_codes(groups, n, who, lookup)[0]
    if groups is not None:
        raise ValueError(f"{who}.fit: groups is used only with cov_type='cluster'; got cov_type={model.cov_type!r}")
    return None


def _refuse_explained(who, factors, explained, names, m):
    """CollinearityError for the first endogenous regressor or instrument the fixed effects explain."""
    for j in np.flatnonzero(explained):
        role = "endogenous regressor" if j < m else "excluded instrument"
        consequence = ("its coefficient is not identified within the groups" if j < m
                       else "it cannot move the endogenous regressors within the groups")
        raise CollinearityError(f"{who}(absorb=...): the {role} {names[j]!r} has no variation left after absorbing "
                                f"the fixed effects ({', '.join(factors)}): it is constant within their groups, so "
                                f"{consequence}")


def absorbed_fields(absorbed, ssr, y_within):
    """The results' fields about the fixed effects (None/0 for a fit without them)."""
    if absorbed is None:
        return dict(absorb=None, levels=None, n_singletons=0, df_absorbed=0, rsquared_within=None, dropped=[])
    return dict(absorb=absorbed.names, levels=absorbed.levels, n_singletons=absorbed.n_singletons,
                df_absorbed=absorbed.df, rsquared_within=1 - ssr / float(y_within @ y_within),
                dropped=list(absorbed.dropped))
