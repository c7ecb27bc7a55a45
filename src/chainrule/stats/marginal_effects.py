r"""Marginal effects of Logit and MNLogit, with delta-method standard errors (statsmodels'
``get_margeff`` and Stata's ``margins``).

For a fitted probability F(x; θ) (Logit: F = σ(x'β); MNLogit: F_c = p_c, one per class)
and a regressor j, the effect at a row x is one of (``method``)

    dydx  ∂F/∂x_j                    eydx  ∂ log F/∂x_j = (∂F/∂x_j) / F
    dyex  x_j ∂F/∂x_j                eyex  x_j ∂F/∂x_j / F

and ``at`` says where: "overall" averages the effect over the n rows of the fit (average
marginal effects); "mean", "median" and "zero" evaluate it once, at the row of column means,
of column medians, or of zeros (the constant stays 1); "all" (Logit) returns the effect at
each of the n rows, an (n, p) array, without inference (statsmodels makes only ``margeff``
available then: :class:`ObservationMarginalEffects`). Closed forms, with η = x'β,
p = σ(η), w = p(1 − p) (Logit) and β̄ = Σ_m p_m β_m, β_0 = 0 (MNLogit):

    Logit    ∂F/∂x_j = w β_j,              ∂ log F/∂x_j = (1 − p) β_j
    MNLogit  ∂p_c/∂x_j = p_c (β_cj − β̄_j),  ∂ log p_c/∂x_j = β_cj − β̄_j

Discrete changes replace the derivative for some columns: ``dummy=True`` for the 0/1 columns
(the effect is F(x | x_j = 1) − F(x | x_j = 0)), ``count=True`` for the other columns of
non-negative integers (the effect is [F(x | x_j + 1) − F(x | x_j − 1)] / 2); with eydx the
differences are of log F. Both need method "dydx" or "eydx" and at "overall" or "mean", and
the columns are found as statsmodels finds them (a dummy: minimum 0, maximum 1, whole numbers;
a count: non-negative whole numbers, not constant, not a dummy).

Standard errors by the delta method (Greene §17.3, §18.2.2): with G = ∂ME/∂θ' (the analytic
derivative of the averaged, or single-row, effects with respect to the parameters θ, class
blocks in order for MNLogit) and V = Cov(θ̂), Cov(ME) = G V G'. Writing u for the factor of
the continuous effect (Logit: w for dy, 1 − p for ey; u' = du/dη = w (1 − 2p) or −w) and
t_j = x_j for ex, 1 for dx, the row of G for a continuous j is, averaged over the rows,

    Logit    ∂ME_j/∂β_l = β_j t_j u' x_l + δ_{l j} t_j u
    MNLogit  ∂ME_cj/∂β_al = t_j x_l [p_c (δ_ca − p_a)(β_cj − β̄_j) − p_c p_a (β_aj − β̄_j)]
                            + δ_{l j} t_j p_c (δ_ca − p_a)                              (dy)
             ∂ME_cj/∂β_al = −t_j x_l p_a (β_aj − β̄_j) + δ_{l j} t_j (δ_ca − p_a)        (ey)

(x_l = 1 for the constant), and for a discrete change from x_j = lo to x_j = hi it is
g(η_hi) x_hi,l − g(η_lo) x_lo,l (halved for counts), g = ∂F/∂η or ∂ log F/∂η, x_hi and x_lo
the row with x_j set to hi and lo. statsmodels differentiates numerically (complex step)
where this module uses these closed forms; both agree to ~1e-10.

References: W. H. Greene, *Econometric Analysis*, 7th ed., 2012, §17.3 and §18.2.2;
StataCorp, *Stata Base Reference Manual*, ``margins`` (the eyex, dyex, eydx options).
"""
from __future__ import annotations

import numbers

from scipy import special as _special

from ..engine import backend
from .inference import Summary, wald
from .logit_newton import Design

np = backend.host

__all__ = ["METHODS", "AT", "MarginalEffects", "ObservationMarginalEffects", "binary_margins",
           "binary_margins_all", "multinomial_margins"]

METHODS = ("dydx", "eyex", "dyex", "eydx")
AT = ("overall", "mean", "median", "zero")
#: statsmodels' heading of the effect column for each method
TRANSFORM_NAMES = {"dydx": "dy/dx", "eyex": "d(lny)/d(lnx)", "dyex": "dy/d(lnx)", "eydx": "d(lny)/dx"}
_AT_NOTES = {"overall": "Average marginal effects (over the rows of the fit)",
             "mean": "Marginal effects at the means of the regressors",
             "median": "Marginal effects at the medians of the regressors",
             "zero": "Marginal effects at zero regressors (the constant at 1)"}


class MarginalEffects:
    """Marginal effects and their delta-method inference (statsmodels' ``DiscreteMargins`` names).

    ``margeff``, ``margeff_se``, ``tvalues`` (z statistics), ``pvalues``: one entry per regressor
    (Logit), or shape (p, K), one column per class in the order of ``classes`` (MNLogit);
    ``margeff_cov``: their covariance (MNLogit: pK × pK in class blocks, class-major);
    ``conf_int(alpha)``: (p, 2), or (p, K, 2) for MNLogit; ``summary(alpha)``: the table;
    ``summary_frame(alpha)``: a pandas DataFrame with statsmodels' columns. ``method``, ``at``
    (and ``margeff_options``, statsmodels' dict of both), ``dummy_idx`` and ``count_idx``
    (positions among the regressors of the columns given discrete changes, or None) say what
    was computed. Intervals default to the model's ``alpha``.
    """

    def __init__(self, names, margeff, cov, alpha, endog_name, classes=None, method="dydx", at="overall",
                 dummy_idx=None, count_idx=None, model="Logit"):
        self.names, self.margeff, self.margeff_cov = list(names), margeff, cov
        self.alpha, self.endog_name, self.classes, self.model = alpha, endog_name, classes, model
        self.method, self.at = method, at
        self.margeff_options = {"method": method, "at": at}
        self.dummy_idx, self.count_idx = dummy_idx, count_idx
        self.margeff_se = self._shaped(np.sqrt(np.maximum(np.diag(cov), 0.0)))
        inference = wald(self._flat(margeff), self._flat(self.margeff_se), alpha=alpha)
        self.tvalues = self._shaped(inference["statistic"])
        self.pvalues = self._shaped(inference["pvalues"])
        self._conf_int = self._shaped(inference["conf_int"])

    def _flat(self, values):
        """Class-major: all regressors of the first class, then the next class, …"""
        return np.asarray(values).ravel(order="F") if self.classes is not None else np.asarray(values)

    def _shaped(self, values):
        if self.classes is None:
            return values
        p, K = len(self.names), len(self.classes)
        return values.reshape((K, p) + values.shape[1:]).swapaxes(0, 1)

    def conf_int(self, alpha=None):
        """Wald intervals ME ± z_{1−α/2} se (α defaults to the model's ``alpha``)."""
        if alpha is None:
            return self._conf_int
        return self._shaped(wald(self._flat(self.margeff), self._flat(self.margeff_se), alpha=alpha)["conf_int"])

    def _row_names(self):
        if self.classes is None:
            return list(self.names)
        return [f"{self.endog_name}={c}: {name}" for c in self.classes for name in self.names]

    def _flat_intervals(self, alpha):
        intervals = self.conf_int(alpha)
        return intervals if self.classes is None else intervals.swapaxes(0, 1).reshape(-1, 2)

    def summary(self, alpha=None):
        """statsmodels' table: one row per regressor (MNLogit: per class and regressor), the
        effect column headed by the method (dy/dx, d(lny)/d(lnx), dy/d(lnx), d(lny)/dx)."""
        alpha = self.alpha if alpha is None else alpha
        info = [("Dep. Variable", self.endog_name), ("Method", self.method), ("At", self.at)]
        notes = [f"{_AT_NOTES[self.at]}; delta-method standard errors"]
        for label, index in (("discrete change from 0 to 1", self.dummy_idx),
                             ("discrete change of one unit (centered)", self.count_idx)):
            if index is not None:
                notes.append(f"{label} for {', '.join(self.names[j] for j in index)}")
        table = Summary(f"{self.model} Marginal Effects", info, self._row_names(), self._flat(self.margeff),
                        self._flat(self.margeff_se), self._flat(self.tvalues), self._flat(self.pvalues),
                        self._flat_intervals(alpha), statistic_name="z", alpha=alpha, notes=notes)
        table.headings[1] = TRANSFORM_NAMES[self.method]
        return table

    def summary_frame(self, alpha=None):
        """A pandas DataFrame of the effects with statsmodels' columns ("dy/dx" or the method's
        name, "Std. Err.", "z", "Pr(>|z|)", "Conf. Int. Low", "Cont. Int. Hi.", statsmodels'
        spelling); indexed by regressor, or for MNLogit by the (endog, exog) pairs
        ("<y>=<class>", regressor), class-major."""
        try:
            import pandas as pd  # noqa: PLC0415 - pandas is optional
        except ImportError:  # pragma: no cover - pandas is in the test environment
            raise ImportError("MarginalEffects.summary_frame needs pandas; use summary() without it") from None
        alpha = self.alpha if alpha is None else alpha
        intervals = self._flat_intervals(alpha)
        columns = [TRANSFORM_NAMES[self.method], "Std. Err.", "z", "Pr(>|z|)", "Conf. Int. Low", "Cont. Int. Hi."]
        table = np.column_stack([self._flat(self.margeff), self._flat(self.margeff_se), self._flat(self.tvalues),
                                 self._flat(self.pvalues), intervals[:, 0], intervals[:, 1]])
        if self.classes is None:
            index = pd.Index(self.names)
        else:
            index = pd.MultiIndex.from_tuples([(f"{self.endog_name}={c}", name) for c in self.classes
                                               for name in self.names], names=["endog", "exog"])
        return pd.DataFrame(table, columns=columns, index=index)


class ObservationMarginalEffects:
    """The marginal effects at each row of the fit (``get_margeff(at="all")``): ``margeff`` of
    shape (n, p), one column per regressor (``names``), and ``method``, ``at``,
    ``margeff_options``, ``dummy_idx``, ``count_idx``. As statsmodels', there is no inference:
    ``tvalues``, ``pvalues``, ``conf_int()``, ``summary()`` and ``summary_frame()`` raise
    statsmodels' ValueError, and ``margeff_se`` / ``margeff_cov`` do not exist."""

    _REFUSAL = ("Only margeff are available when `at` is 'all'. Please input specific points if you would like to "
                "do inference.")

    def __init__(self, names, margeff, endog_name, method="dydx", dummy_idx=None, count_idx=None, model="Logit"):
        self.names, self.margeff, self.endog_name, self.model = list(names), margeff, endog_name, model
        self.method, self.at = method, "all"
        self.margeff_options = {"method": method, "at": "all"}
        self.dummy_idx, self.count_idx = dummy_idx, count_idx

    def _refuse(self, *args, **kwargs):
        raise ValueError(f"{self.model}.get_margeff(at='all'): {self._REFUSAL}")

    tvalues = property(_refuse)
    pvalues = property(_refuse)
    conf_int = summary = summary_frame = _refuse


def check_options(owner, at, method, dummy, count, allow_all=False):
    """The checked (at, method) of a ``get_margeff`` call (statsmodels' rules); ``allow_all``:
    also at="all" (the effects at each row)."""
    allowed = AT + ("all",) if allow_all else AT
    if not isinstance(at, str) or at.lower() not in allowed:
        raise ValueError(f"{owner}: at: expected one of {', '.join(map(repr, allowed))}; got {at!r}")
    if not isinstance(method, str) or method.lower() not in METHODS:
        raise ValueError(f"{owner}: method: expected one of {', '.join(map(repr, METHODS))}; got {method!r}")
    at, method = at.lower(), method.lower()
    for name, flag in (("dummy", dummy), ("count", count)):
        if not isinstance(flag, (bool, np.bool_)):
            raise TypeError(f"{owner}: {name}: expected True or False; got {flag!r}")
        if flag and method in ("dyex", "eyex"):
            raise ValueError(f"{owner}: {name}=True gives discrete changes, which have no elasticity with "
                             f"respect to x: method must be 'dydx' or 'eydx'; got {method!r}")
        if flag and at in ("median", "zero"):
            raise ValueError(f"{owner}: {name}=True: discrete changes are evaluated at='overall' or 'mean' "
                             f"(statsmodels' rule); got at={at!r}")
    return at, method


def dummy_columns(X):
    """Columns whose minimum is 0, maximum 1 and values whole numbers (statsmodels' ``_isdummy``)."""
    whole = np.all(X % 1.0 == 0, axis=0)
    return np.flatnonzero((X.min(axis=0) == 0) & (X.max(axis=0) == 1) & whole)


def count_columns(X):
    """Non-negative whole-number columns that vary and are not dummies (statsmodels' ``_iscount``)."""
    counts = np.all(X % 1.0 == 0, axis=0) & (X.var(axis=0) != 0) & np.all(X >= 0, axis=0)
    counts[dummy_columns(X)] = False
    return np.flatnonzero(counts)


def evaluation_rows(design, at, atexog, names, owner):
    """The rows where the effects are evaluated: the fit's rows (at="overall"), or one row of
    their means, medians or zeros; ``atexog`` ({column index or name: value}) first replaces
    columns of the fit's rows, as statsmodels does."""
    X = design.X
    if atexog is not None:
        if not isinstance(atexog, dict):
            raise TypeError(f"{owner}: atexog: expected a dict {{column index or name: value}}; got "
                            f"{type(atexog).__name__}")
        X = X.copy()
        for key, value in atexog.items():
            X[:, _column_index(key, names, owner)] = value
    if at in ("overall", "all"):
        return design if atexog is None else Design(X, design.intercept)
    if at == "mean":
        row = X.mean(axis=0)
    elif at == "median":
        row = np.median(X, axis=0)
    else:
        row = np.zeros(X.shape[1])
    return Design(row[None, :], design.intercept)


def _column_index(key, names, owner):
    if isinstance(key, str):
        if key not in names:
            raise KeyError(f"{owner}: atexog: no regressor named {key!r}; the regressors are {names}")
        return names.index(key)
    if isinstance(key, numbers.Integral) and not isinstance(key, bool) and 0 <= key < len(names):
        return int(key)
    raise KeyError(f"{owner}: atexog: keys are regressor names or positions 0..{len(names) - 1} (the "
                   f"constant is not one); got {key!r}")


def _discrete(X, dummy, count):
    """[(column, lo, hi, scale)] of the discrete changes: dummies 0 → 1, counts x − 1 → x + 1 (halved)."""
    changes = []
    if count:
        changes += [(j, -1.0, 1.0, 0.5) for j in count_columns(X)]
    if dummy:
        changes += [(j, 0.0, 1.0, 1.0) for j in dummy_columns(X)]
    return changes


def _values(rows, j, lo, hi, scale):
    """x_j at the low and high ends of a change, for each evaluation row (dummies: 0 and 1;
    counts: x_j − 1 and x_j + 1)."""
    if scale == 1.0:
        return np.full(rows.n, lo), np.full(rows.n, hi)
    x = rows.X[:, j]
    return x + lo, x + hi


def binary_margins(design, beta, cov, at, method, atexog=None, dummy=False, count=False, names=(), owner="Logit"):
    """Logit's effects and their covariance: (margeff (p,), Cov (p, p), dummy_idx, count_idx)."""
    rows = evaluation_rows(design, at, atexog, list(names), owner)
    off = int(design.intercept)
    slopes, n_r = beta[off:], rows.n
    eta = rows.dot(beta)
    p = _special.expit(eta)
    w = p * (1.0 - p)
    u, du = (w, w * (1.0 - 2.0 * p)) if method.startswith("dy") else (1.0 - p, -w)
    if method.endswith("ex"):
        mean_u = rows.X.T @ u / n_r
        moment = rows.tdot(rows.X * du[:, None]).T / n_r    # mean of x_j u' x_l, (p, k)
    else:
        mean_u = np.full(slopes.size, u.mean())
        moment = np.broadcast_to(rows.tdot(du) / n_r, (slopes.size, design.k))
    margeff = slopes * mean_u
    G = slopes[:, None] * moment
    G[np.arange(slopes.size), off + np.arange(slopes.size)] += mean_u
    changes = _discrete(design.X, dummy, count)
    for j, lo, hi, scale in changes:
        x_lo, x_hi = _values(rows, j, lo, hi, scale)
        eta_lo, eta_hi = eta + slopes[j] * (x_lo - rows.X[:, j]), eta + slopes[j] * (x_hi - rows.X[:, j])
        if method == "eydx":   # log σ(η) and its derivative 1 − σ(η)
            level_lo, level_hi = -np.logaddexp(0.0, -eta_lo), -np.logaddexp(0.0, -eta_hi)
            g_lo, g_hi = _special.expit(-eta_lo), _special.expit(-eta_hi)
        else:
            level_lo, level_hi = _special.expit(eta_lo), _special.expit(eta_hi)
            g_lo, g_hi = level_lo * (1.0 - level_lo), level_hi * (1.0 - level_hi)
        margeff[j] = scale * float(np.mean(level_hi - level_lo))
        G[j] = scale * rows.tdot(g_hi - g_lo) / n_r
        G[j, off + j] = scale * float(np.mean(g_hi * x_hi - g_lo * x_lo))
    return margeff, G @ cov @ G.T, *_indices(changes)


def binary_margins_all(design, beta, method, atexog=None, dummy=False, count=False, names=(), owner="Logit"):
    """Logit's effects at each row of the fit (at="all"): (margeff (n, p), dummy_idx, count_idx);
    row i holds the per-row terms that ``binary_margins`` averages for at="overall"."""
    rows = evaluation_rows(design, "all", atexog, list(names), owner)
    off = int(design.intercept)
    slopes = beta[off:]
    eta = rows.dot(beta)
    p = _special.expit(eta)
    u = p * (1.0 - p) if method.startswith("dy") else 1.0 - p
    margeff = u[:, None] * slopes[None, :]
    if method.endswith("ex"):
        margeff *= rows.X
    changes = _discrete(design.X, dummy, count)
    for j, lo, hi, scale in changes:
        x_lo, x_hi = _values(rows, j, lo, hi, scale)
        eta_lo, eta_hi = eta + slopes[j] * (x_lo - rows.X[:, j]), eta + slopes[j] * (x_hi - rows.X[:, j])
        if method == "eydx":
            margeff[:, j] = scale * (np.logaddexp(0.0, -eta_lo) - np.logaddexp(0.0, -eta_hi))
        else:
            margeff[:, j] = scale * (_special.expit(eta_hi) - _special.expit(eta_lo))
    return margeff, *_indices(changes)


def _indices(changes):
    dummies = [j for j, _, _, scale in changes if scale == 1.0]
    counts = [j for j, _, _, scale in changes if scale != 1.0]
    return (np.array(dummies) if dummies else None), (np.array(counts) if counts else None)


def softmax_with_reference(eta):
    """Softmax over [0, η_1, …, η_{K−1}] per row, and its logarithm."""
    full = np.column_stack([np.zeros(eta.shape[0]), eta])
    log_p = full - _special.logsumexp(full, axis=1, keepdims=True)
    return np.exp(log_p), log_p


def multinomial_margins(design, B, cov, at, method, atexog=None, dummy=False, count=False, names=(),
                        owner="MNLogit"):
    """MNLogit's effects and their covariance: (margeff (p, K), Cov (pK, pK) class-major,
    dummy_idx, count_idx)."""
    rows = evaluation_rows(design, at, atexog, list(names), owner)
    off, k, K = int(design.intercept), B.shape[0], B.shape[1] + 1
    n_r, ey, ex = rows.n, method.startswith("ey"), method.endswith("ex")
    eta = rows.dot(B)
    P, _ = softmax_with_reference(eta)
    S = np.column_stack([np.zeros(k - off), B[off:]])        # (p, K), the reference's slopes are 0
    p_count = S.shape[0]
    gap = [S[:, c][None, :] - P @ S.T for c in range(K)]     # β_c − β̄_i, (n_r, p) each
    t = rows.X if ex else 1.0
    margeff = np.empty((p_count, K))
    G = np.zeros((K, p_count, K - 1, k))
    for c in range(K):
        margeff[:, c] = np.mean(t * (gap[c] if ey else P[:, c][:, None] * gap[c]), axis=0)
        for a in range(1, K):
            own = float(c == a) - P[:, a]
            if ey:
                V = -P[:, a][:, None] * gap[a]
            else:
                own = P[:, c] * own
                V = own[:, None] * gap[c] - (P[:, c] * P[:, a])[:, None] * gap[a]
            G[c, :, a - 1, :] = rows.tdot(t * V).T / n_r
            G[c, :, a - 1, off:] += np.diag(rows.X.T @ own / n_r if ex else np.full(p_count, own.mean()))
    changes = _discrete(design.X, dummy, count)
    for j, lo, hi, scale in changes:
        margeff[j], G[:, j] = _multinomial_change(rows, eta, S, j, lo, hi, scale, ey, off)
    G = G.reshape(K * p_count, (K - 1) * k)
    return margeff, G @ cov @ G.T, *_indices(changes)


def multinomial_margins_all(design, B, method, atexog=None, dummy=False, count=False, names=(), owner="MNLogit"):
    """MNLogit's effects at each row of the fit (at="all"): (margeff (n, p, K), dummy_idx,
    count_idx), statsmodels' layout; row i holds the per-row terms that ``multinomial_margins``
    averages for at="overall"."""
    rows = evaluation_rows(design, "all", atexog, list(names), owner)
    off = int(design.intercept)
    ey, ex = method.startswith("ey"), method.endswith("ex")
    eta = rows.dot(B)
    P, _ = softmax_with_reference(eta)
    S = np.column_stack([np.zeros(B.shape[0] - off), B[off:]])        # (p, K)
    gap = S[None, :, :] - (P @ S.T)[:, :, None]                       # β_c − β̄_i, (n, p, K)
    margeff = gap if ey else P[:, None, :] * gap
    if ex:
        margeff = margeff * rows.X[:, :, None]
    changes = _discrete(design.X, dummy, count)
    for j, lo, hi, scale in changes:
        x_lo, x_hi = _values(rows, j, lo, hi, scale)
        x = rows.X[:, j]
        low, log_low = softmax_with_reference(eta + np.outer(x_lo - x, S[j, 1:]))
        high, log_high = softmax_with_reference(eta + np.outer(x_hi - x, S[j, 1:]))
        margeff[:, j, :] = scale * ((log_high - log_low) if ey else (high - low))
    return margeff, *_indices(changes)


def _multinomial_change(rows, eta, S, j, lo, hi, scale, ey, off):
    """The effects on every class of one discrete change of column j, and their rows of G
    (K, K − 1, k): g_ca = ∂F_c/∂η_a is p_c (δ_ca − p_a), or δ_ca − p_a for log p_c."""
    x_lo, x_hi = _values(rows, j, lo, hi, scale)
    x = rows.X[:, j]
    K, n_r = S.shape[1], rows.n
    effect, jacobian = 0.0, np.zeros((K, K - 1, off + S.shape[0]))
    for sign, value in ((-1.0, x_lo), (1.0, x_hi)):
        P, log_p = softmax_with_reference(eta + np.outer(value - x, S[j, 1:]))
        effect = effect + sign * np.mean(log_p if ey else P, axis=0)
        for c in range(K):
            for a in range(1, K):
                g = float(c == a) - P[:, a]
                if not ey:
                    g = P[:, c] * g
                block = rows.tdot(g) / n_r
                block[off + j] = float(np.mean(g * value))
                jacobian[c, a - 1] += sign * block
    return scale * effect, scale * jacobian
