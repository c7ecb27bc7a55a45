r"""OLS with absorbed fixed effects, ``OLS(absorb=["firm", "year"])``: the within estimator with
the standard errors of pyfixest (``feols("y ~ x | firm + year", vcov=...)``) and reghdfe.

Fit (:mod:`chainrule.stats.fixed_effects` for the within transformation):

1. the absorb columns are taken out of X (by name for a DataFrame, by position for an array)
   and factorized; singletons are dropped, iteratively (the count is ``n_singletons``, with a
   DataWarning); cluster variables are read the same way (``groups=``: labels, an (n, m) array or
   DataFrame for m-way clustering, or column names of X);
2. ỹ = M_D y and X̃ = M_D X by accelerated alternating projections;
3. a regressor that the fixed effects explain, ‖x̃_j‖² ≤ 1e-9 ‖x_j‖² (constant within a
   factor's groups, as a firm's industry under firm effects), is dropped with a DataWarning naming
   it, as pyfixest drops it (``dropped_``); other collinearity raises CollinearityError;
4. β̂ = the least-squares slope of ỹ on X̃ (:func:`chainrule.stats.least_squares.solve`, QR),
   e = ỹ − X̃ β̂, B = (X̃'X̃)⁻¹.

Covariances (pyfixest's default ``ssc()``: k_adj=True, k_fixef="nonnested", G_adj=True,
G_df="min"), with n rows kept, k slopes and df_k = k + the absorbed degrees of freedom
(:func:`chainrule.stats.fixed_effects.absorbed_dof`, nesting-corrected for "cluster"):

    "nonrobust"  V = SSR/(n − df_k) · B                                 t on n − df_k
    "HC0"        V = B (Σ e_i² x̃_i x̃_i') B                             t on n − df_k
    "HC1"        V = n/(n − df_k) · HC0       (pyfixest's "hetero")    t on n − df_k
    "cluster"    V = Σ_S ± G/(G−1)·(n−1)/(n−df_k) · B M_S B, G = min_j G_j   t on G − 1
                 (one-way "CRV1"; multi-way by Cameron–Gelbach–Miller: :mod:`chainrule.stats.clustering`)

The fixed effects themselves are not estimated (only the slopes within groups), so ``predict``
on new rows is refused; ``fittedvalues`` are y − e on the rows kept.
R² = 1 − SSR/Σ(y − ȳ)², and the within R² = 1 − SSR/‖ỹ‖², as pyfixest's ``r2`` and ``r2_within``.
"""
from __future__ import annotations

from ..engine import backend
from ..engine.tensor import Tensor
from . import clustering, fixed_effects, least_squares, tsqr
from .estimator import feature_names_of
from .inference import StoredResults, Summary
from .validation import as_design, as_target, check_enough_rows, check_scale, warn

np = backend.host

__all__ = ["ABSORB_COV_TYPES", "AbsorbedOLSResults", "fit_absorbed", "split_columns", "check_absorb", "column_lookup"]

ABSORB_COV_TYPES = ("nonrobust", "HC0", "HC1", "cluster")
#: a regressor with ‖M_D x‖² ≤ COLLINEAR_TOL · ‖x‖² is explained by the fixed effects and dropped
COLLINEAR_TOL = 1e-9


def check_absorb(absorb, who="OLS"):
    """``absorb`` as a list of column names or positions (a single name is one factor)."""
    if isinstance(absorb, (str, int)) and not isinstance(absorb, bool):
        absorb = [absorb]
    if not isinstance(absorb, (list, tuple)) or not absorb or not all(
            isinstance(a, (str, int)) and not isinstance(a, bool) for a in absorb):
        raise TypeError(f"{who}: absorb: expected a column name or position of X, or a non-empty list of them; "
                        f"got {absorb!r}")
    if len(set(absorb)) != len(absorb):
        raise ValueError(f"{who}: absorb: a column is named twice: {list(absorb)}")
    return list(absorb)


def split_columns(X, wanted, who, argument):
    """(the columns ``wanted`` of X as a list of 1-D arrays, X without them). ``wanted`` names
    columns of a DataFrame X, or positions of an array X."""
    if hasattr(X, "columns") and hasattr(X, "to_numpy"):
        columns = list(X.columns)
        missing = [w for w in wanted if w not in columns]
        if missing:
            raise ValueError(f"{who}: {argument}: X has no column {missing[0]!r}; its columns are {columns}")
        return [X[w].to_numpy() for w in wanted], X.drop(columns=list(wanted))
    values = X.numpy() if isinstance(X, Tensor) else np.asarray(X)
    if values.ndim != 2:
        raise ValueError(f"{who}: {argument}: X must be 2-D to take columns from it; got shape {values.shape}")
    p = values.shape[1]
    bad = [w for w in wanted if not isinstance(w, int) or not -p <= w < p]
    if bad:
        raise ValueError(f"{who}: {argument}: for an array X, expected column positions in [{-p}, {p}); got {bad[0]!r} "
                         f"(column names need a DataFrame)")
    positions = [w % p for w in wanted]
    rest = np.delete(values, positions, axis=1)
    return [values[:, j] for j in positions], rest


def fit_absorbed(model, X, y, groups):
    """The fit of ``OLS(absorb=...)`` (module docstring): sets the fitted attributes on ``model``."""
    who = "OLS"
    absorb = check_absorb(model.absorb, who)
    lookup = column_lookup(X, who)
    fe_columns, rest = split_columns(X, absorb, who, "absorb")
    Xv, names = as_design(rest, "X")
    yv, target_name = as_target(y, Xv.shape[0], "y")
    check_scale(Xv, names, "X", who)
    clusters = None
    if model.cov_type == "cluster":
        if groups is None:
            raise ValueError("OLS.fit: cov_type='cluster' needs groups= (labels, an (n, m) array for m-way "
                             "clustering, or column names of X); got None")
        clusters = clustering.cluster_codes(groups, Xv.shape[0], who, lookup)[0]
    elif groups is not None:
        raise ValueError(f"OLS.fit: groups is used only with cov_type='cluster'; got cov_type={model.cov_type!r}")
    fe = fixed_effects.FixedEffects(fe_columns, [str(a) for a in absorb], who)
    if fe.n_singletons:
        warn(f"OLS(absorb=...): dropped {fe.n_singletons} singleton rows (alone in a group of a fixed effect)")
    keep = fe.keep
    Xk, yk = Xv[keep], yv[keep]
    if clusters is not None:
        clusters = [fixed_effects.factorize(c[keep], "groups", who)[0] for c in clusters]
        if any(int(c.max()) < 1 for c in clusters):
            raise ValueError("OLS.fit: groups: after dropping singletons, a cluster variable has 1 group; "
                             "cluster-robust covariance needs at least 2")
    within = fixed_effects.demean(fe, np.column_stack([yk, Xk]), float(model.tol), int(model.max_iter))
    Xt, yt, names, dropped = _drop_absorbed(within[:, 1:], within[:, 0], Xk, names)
    results = _results(model, (Xt, yt, yk), names, fe, clusters, target_name, dropped,
                       feature_names_of(rest) is not None)
    model.results_ = results
    model.coef_ = results._params.copy()
    model.intercept_ = 0.0
    model.dropped_ = dropped
    model.n_singletons_ = fe.n_singletons
    model.n_iter_ = fe.n_iter
    model.converged_ = fe.converged
    model.solver_used_ = results.solver_used
    model.refined_ = False
    model._remember_feature_names(rest, names + dropped)
    return model


def column_lookup(X, who):
    """A function giving the column ``name`` of the DataFrame X (None for an array X), for ``groups=`` names."""
    if not (hasattr(X, "columns") and hasattr(X, "to_numpy")):
        return None

    def lookup(name):
        if name not in X.columns:
            raise ValueError(f"{who}: groups: X has no column {name!r}; its columns are {list(X.columns)}")
        return X[name].to_numpy()

    return lookup


def _drop_absorbed(Xt, yt, Xk, names):
    """Drop the regressors the fixed effects explain (module docstring, step 3)."""
    before = np.einsum("ij,ij->j", Xk, Xk)
    after = np.einsum("ij,ij->j", Xt, Xt)
    explained = after <= COLLINEAR_TOL * before
    dropped = [name for name, gone in zip(names, explained) if gone]
    if dropped:
        warn(f"OLS(absorb=...): dropped {', '.join(dropped)}: collinear with the fixed effects "
             f"(constant within their groups)")
    if explained.all():
        raise ValueError(f"OLS(absorb=...): every regressor ({', '.join(names)}) is collinear with the fixed "
                         f"effects; nothing is left to estimate")
    kept = ~explained
    return np.ascontiguousarray(Xt[:, kept]), yt, [n for n, k in zip(names, kept) if k], dropped


def _results(model, data, names, fe, clusters, target_name, dropped, named):
    Xt, yt, yk = data
    n, k = Xt.shape
    df_k = k + fixed_effects.absorbed_dof(fe, clusters)
    check_enough_rows(n, df_k, "OLS(absorb=...)")
    solution = least_squares.solve(Xt, yt, n, names, False, "qr", tsqr.RowBlocks(False))
    beta = solution.beta
    resid = yt - Xt @ beta
    T = solution.d[:, None] * solution.Rinv
    bread = T @ T.T
    ssr = float(resid @ resid)
    cov, df_t = _covariance(model.cov_type, bread, Xt, resid, ssr, n, df_k, clusters)
    centered = yk - yk.mean()
    return AbsorbedOLSResults(
        _params=beta, _cov=cov, names=names, nobs=n, df_resid=float(n - df_k), df_model=float(k),
        _df_inference=float(df_t), ssr=ssr, rsquared=1 - ssr / float(centered @ centered),
        rsquared_within=1 - ssr / float(yt @ yt), _resid=resid, _fitted=yk - resid, cov_type=model.cov_type,
        n_groups=None if clusters is None else [int(c.max()) + 1 for c in clusters], absorb=list(fe.names),
        levels=list(fe.levels), n_singletons=fe.n_singletons, n_iter=fe.n_iter, dropped=dropped,
        df_absorbed=df_k - k, target_name=target_name, solver_used=solution.method,
        use_t=model.use_t, named=named,
    )


def _covariance(cov_type, bread, Xt, resid, ssr, n, df_k, clusters):
    """V and the degrees of freedom of its t statistics (module docstring)."""
    if cov_type == "nonrobust":
        return ssr / (n - df_k) * bread, n - df_k
    scores = Xt * resid[:, None]
    if cov_type in ("HC0", "HC1"):
        meat = scores.T @ scores
        if cov_type == "HC1":
            meat *= n / (n - df_k)
        return _sandwich(bread, meat), n - df_k
    counts = [int(c.max()) + 1 for c in clusters]
    meat = clustering.multiway_meat(scores, clusters, clustering.min_clusters_factor(counts, n, df_k))
    return _sandwich(bread, meat), min(counts) - 1


def _sandwich(bread, meat):
    V = bread @ meat @ bread
    return (V + V.T) / 2


class AbsorbedOLSResults(StoredResults):
    """The results of ``OLS(absorb=...)``, statsmodels' and pyfixest's names.

    ``params``, ``bse``, ``tvalues``, ``pvalues`` (Student t on ``df_resid``, or G − 1 for
    "cluster", as pyfixest), ``conf_int()``, ``cov_params()``, ``t_test``/``f_test``/``wald_test``,
    ``summary()``; ``nobs`` (rows kept), ``df_resid`` = n − df_k, ``df_model`` (slopes),
    ``df_absorbed`` (the fixed effects' parameters), ``ssr``, ``rsquared``, ``rsquared_within``,
    ``resid``, ``fittedvalues``, ``absorb`` (the factors), ``levels`` (their groups),
    ``n_singletons``, ``n_iter`` (sweeps of the projections), ``dropped`` (regressors collinear
    with the fixed effects), ``cov_type``, ``n_groups`` (clusters per variable).
    """

    def __init__(self, **fields):
        super().__init__(**fields)
        self.scale = self.ssr / self.df_resid

    def summary(self, alpha: float = 0.05) -> Summary:
        """A statsmodels-style table of the slopes, with the absorbed factors listed."""
        factors = ", ".join(f"{name} ({levels})" for name, levels in zip(self.absorb, self.levels))
        info = [("Dep. Variable", self.target_name), ("Model", "OLS, absorbed FE"),
                ("No. Observations", str(self.nobs)),
                ("Df Residuals", f"{self.df_resid:g}"), ("Df Model", f"{self.df_model:g}"),
                ("Covariance Type", self.cov_type), ("R-squared", f"{self.rsquared:.4f}"),
                ("R-squared within", f"{self.rsquared_within:.4f}"), ("Absorbed df", str(self.df_absorbed)),
                ("Singletons dropped", str(self.n_singletons))]
        notes = [f"fixed effects absorbed: {factors}"]
        if self.cov_type == "cluster":
            notes.append(f"clusters: {', '.join(map(str, self.n_groups))}; t with {self._df_inference:g} df")
        if self.dropped:
            notes.append(f"dropped as collinear with the fixed effects: {', '.join(self.dropped)}")
        return self._coefficient_summary("OLS Regression Results (absorbed fixed effects)", info, self.names,
                                         alpha, notes)

