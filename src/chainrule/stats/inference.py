"""Wald inference and the results table shared by the estimators.

For an estimate b_j with standard error se_j:

    statistic  t_j = b_j / se_j
    p-value    2 P(T > |t_j|), T ~ Student t with df_resid degrees of freedom
               (standard normal when df_resid is None: z statistics, as for
               maximum-likelihood models)
    interval   b_j ± q_{1 - alpha/2} se_j, q the quantile of the same distribution

:class:`WaldResults` gives every estimator these numbers under statsmodels' names
(``bse``, ``tvalues``, ``pvalues``, ``conf_int()``). The tables (:class:`Table`, and
:class:`Summary` for coefficients) follow statsmodels' ``summary()`` layout (a titled header
of model facts in two columns, then one row per coefficient), so users can compare the two
side by side.
"""
from __future__ import annotations

import html
import math

from scipy import stats as _distributions

from ..engine import backend
from . import restrictions

np = backend.host


def wald(params, bse, df_resid=None, alpha: float = 0.05) -> dict:
    """Statistics, two-sided p-values and (1 - alpha) intervals for each coefficient."""
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must lie in (0, 1); got {alpha}")
    params = np.asarray(params, dtype=backend.float64)
    bse = np.asarray(bse, dtype=backend.float64)
    distribution = _distributions.norm if df_resid is None else _distributions.t(df_resid)
    with np.errstate(divide="ignore", invalid="ignore"):
        statistic = params / bse
    pvalues = 2 * distribution.sf(np.abs(statistic))
    quantile = distribution.ppf(1 - alpha / 2)
    conf_int = np.column_stack([params - quantile * bse, params + quantile * bse])
    return {"statistic": statistic, "pvalues": pvalues, "conf_int": conf_int}


class WaldResults:
    """The Wald results of an estimator under statsmodels' names, written once for OLS, Logit
    and MNLogit.

    A subclass provides ``_params_array()`` (the estimates θ̂, an array of any shape:
    MNLogit's has one column per non-reference class) and ``_cov_array()`` (their covariance
    V, θ̂ in column-major order: for MNLogit one class block after another), the parameter
    names ``_term_names()`` and whether results are named (``_named``), and may set ``use_t``
    (Student t statistics, as for OLS with the nonrobust covariance; False, the default, for
    z statistics), ``_df_inference`` (the degrees of freedom of t and F: n − k, or G − 1 for
    a cluster-robust covariance) and ``_default_alpha`` (the interval level when none is
    given; 0.05). Then, shaped as ``params``:

        bse       = sqrt(diag V)
        tvalues   = params / bse
        pvalues   = 2 P(T > |tvalues|)
        conf_int(alpha) = params ± q_{1−α/2} bse

    with T and q from t(df) or N(0, 1) as in :func:`wald`, and the tests of linear
    restrictions ``t_test``, ``f_test``, ``wald_test`` (:mod:`chainrule.stats.restrictions`).

    Named results (a fit on a DataFrame with string column names, i.e. with
    ``feature_names_in_``; for OLS also ``fit_stream(feature_names=...)``), as statsmodels
    returns them for pandas data: ``params``, ``bse``, ``tvalues``, ``pvalues`` are pandas
    Series indexed by the parameter names ("const" for the intercept), ``conf_int()`` a
    DataFrame with columns [0, 1] and ``cov_params()`` a DataFrame; for MNLogit ``params`` …
    are DataFrames (names x classes 0 … K−2, statsmodels' columns) and ``conf_int()`` and
    ``cov_params()`` have the MultiIndex (class label, name) with ``conf_int()``'s columns
    ["lower", "upper"]. Array input gives arrays (``conf_int()`` shape params.shape + (2,)), and
    so does a DataFrame whose column names are not all strings (scikit-learn's rule for
    feature names; statsmodels would label the results with them).
    """

    use_t = False
    _df_inference = None
    _default_alpha = 0.05
    _named = False

    def _term_names(self) -> list:
        return list(self.names)

    def _equations(self):
        """None for one equation; for several (MNLogit), (the level name, the column labels)."""
        return None

    @property
    def params(self):
        """The estimates θ̂ (a Series or DataFrame for named results)."""
        return self._labelled(self._params_array())

    @property
    def bse(self):
        """The standard errors sqrt(diag V), shaped as ``params``."""
        return self._labelled(self._bse_array())

    @property
    def tvalues(self):
        """The Wald statistics params / bse (t or z)."""
        with np.errstate(divide="ignore", invalid="ignore"):
            return self._labelled(self._params_array() / self._bse_array())

    @property
    def pvalues(self):
        """Two-sided p-values of the Wald statistics."""
        params = self._params_array()
        values = wald(params.ravel(), self._bse_array().ravel(), self._t_df())["pvalues"]
        return self._labelled(values.reshape(params.shape))

    def cov_params(self):
        """The covariance V of the estimates (a DataFrame for named results)."""
        V = self._cov_array().copy()
        if not self._named:
            return V
        index = self._flat_index()
        return _pandas().DataFrame(V, index=index, columns=index)

    def conf_int(self, alpha=None):
        """``1 - alpha`` Wald intervals params ± q_{1−α/2} bse (α defaults to the model's level:
        ``alpha`` of Logit and MNLogit, 0.05 for OLS): an array of shape params.shape + (2,),
        or for named results a DataFrame (see the class docstring)."""
        params, bse = self._params_array(), self._bse_array()
        if not self._named or params.ndim == 1:
            intervals = self._wald(params.ravel(), bse.ravel(), alpha)["conf_int"].reshape(params.shape + (2,))
            return _pandas().DataFrame(intervals, index=self._flat_index()) if self._named else intervals
        intervals = self._wald(params.ravel(order="F"), bse.ravel(order="F"), alpha)["conf_int"]
        return _pandas().DataFrame(intervals, index=self._flat_index(), columns=["lower", "upper"])

    def t_test(self, r_matrix, use_t=None):
        """Each linear restriction R θ = q tested by its own t (``use_t``, default the model's) or z
        statistic: a :class:`~chainrule.stats.restrictions.ContrastResults` with ``effect``,
        ``sd``, ``tvalue``, ``pvalue``, ``conf_int()``. ``r_matrix``: a string such as
        "value = capital, value = 0", an array R (R θ = 0) or a tuple (R, q); see
        :func:`~chainrule.stats.restrictions.linear_restrictions`."""
        R, q = self._restrictions(r_matrix)
        use_t = self.use_t if use_t is None else bool(use_t)
        return restrictions.t_test(self._flat_params(), self._cov_array(), R, q,
                                   self._df_inference if use_t else None, table=Summary)

    def f_test(self, r_matrix):
        """The joint F test of R θ = q: F = W / J on F(J, df) (df: n − k, or G − 1 for cluster)."""
        R, q = self._restrictions(r_matrix)
        return restrictions.wald_test(self._flat_params(), self._cov_array(), R, q, True, self._df_inference)

    def wald_test(self, r_matrix, use_f=None):
        """The joint Wald test of R θ = q: W on χ²(J), or F = W / J on F(J, df) when ``use_f``
        (default: the model's ``use_t``, as statsmodels)."""
        R, q = self._restrictions(r_matrix)
        use_f = self.use_t if use_f is None else bool(use_f)
        return restrictions.wald_test(self._flat_params(), self._cov_array(), R, q, use_f, self._df_inference)

    # -- internals --------------------------------------------------------------------------
    def _bse_array(self):
        params = self._params_array()
        with np.errstate(invalid="ignore"):
            return np.sqrt(np.diag(self._cov_array())).reshape(params.shape, order="F")

    def _t_df(self):
        """The t degrees of freedom when ``use_t``, else None (z statistics)."""
        return self._df_inference if self.use_t else None

    def _flat_params(self):
        return self._params_array().ravel(order="F")

    def _restriction_names(self) -> list:
        """The names restriction strings use: the parameter names; for several equations
        statsmodels' "y<class>_<name>" (e.g. "y1_const")."""
        equations = self._equations()
        if equations is None:
            return self._term_names()
        return [f"y{label}_{name}" for label in equations[1] for name in self._term_names()]

    def _restrictions(self, r_matrix):
        return restrictions.linear_restrictions(r_matrix, self._restriction_names())

    def _flat_index(self):
        pd = _pandas()
        equations = self._equations()
        if equations is None:
            return pd.Index(self._term_names())
        level, labels = equations
        return pd.MultiIndex.from_tuples([(label, name) for label in labels for name in self._term_names()],
                                         names=[level, None])

    def _labelled(self, values):
        """``values`` (shaped as params) as a Series/DataFrame for named results, else as is."""
        if not self._named:
            return values
        pd = _pandas()
        index = pd.Index(self._term_names())
        if values.ndim == 1:
            return pd.Series(values, index=index)
        return pd.DataFrame(values, index=index)

    def _wald(self, params, bse, alpha=None) -> dict:
        return wald(params, bse, self._t_df(), self._default_alpha if alpha is None else alpha)

    def _coefficient_summary(self, title, info, names, alpha, notes) -> Summary:
        """The statsmodels-style table of the coefficients, one row per entry of ``params``
        in column-major order (for MNLogit one class after another)."""
        alpha = self._default_alpha if alpha is None else alpha
        params, bse = self._flat_params(), self._bse_array().ravel(order="F")
        tests = self._wald(params, bse, alpha)
        return Summary(title, info, names, params, bse, tests["statistic"], tests["pvalues"], tests["conf_int"],
                       statistic_name="t" if self.use_t else "z", alpha=alpha, notes=notes)


class StoredResults(WaldResults):
    """The accessors of results whose fit stored everything as fields (OLS, the absorbed OLS
    fit, IV2SLS and IVLIML): the constructor takes the fields as keywords (``use_t``, None or
    absent for the subclass's ``_default_use_t()``, and ``named``, False when absent), the
    estimates are ``_params`` and ``_cov``, and ``resid`` and ``fittedvalues`` read ``_resid``
    and ``_fitted``."""

    def __init__(self, **fields):
        use_t = fields.pop("use_t", None)
        named = fields.pop("named", False)
        self.__dict__.update(fields)
        self.use_t = self._default_use_t() if use_t is None else bool(use_t)
        self._named = bool(named)

    def _default_use_t(self) -> bool:
        return True

    def _params_array(self):
        return self._params

    def _cov_array(self):
        return self._cov

    @property
    def resid(self):
        """The residuals of the fit (for an absorbed fit, the within residuals of the rows kept)."""
        return self._resid

    @property
    def fittedvalues(self):
        """y − resid (for an absorbed fit, the slopes' part and the fixed effects', on the rows kept)."""
        return self._fitted


def _pandas():
    import pandas  # noqa: PLC0415 - imported only for named results (pandas is slow to import)

    return pandas


class Table:
    """A results table: ``print(table)`` or ``table.as_text()``, ``table.as_html()``.

    The layout of statsmodels' ``summary()``: the title, facts about the model in two
    columns, then the rows under their headings, then notes.

    Args:
        title: the caption.
        info: (label, value) pairs shown in two columns above the rows.
        headings: the column headings.
        rows: lists of cell strings, one per row.
        notes: lines printed below the table (e.g. the covariance type, warnings).
        left: how many leading (text) columns are left-aligned; the others are right-aligned.
    """

    _html_class = "chainrule-table"

    def __init__(self, title, info, headings, rows, notes=(), left=1):
        self.title, self.info, self.left = title, list(info), left
        self.headings, self.rows, self.notes = list(headings), [list(row) for row in rows], list(notes)

    def as_text(self) -> str:
        rows = [self.headings] + self.rows
        widths = [max(len(row[k]) for row in rows) for k in range(len(self.headings))]
        lines = ["  ".join(c.ljust(widths[k]) if k < self.left else c.rjust(widths[k]) for k, c in enumerate(row))
                 for row in rows]
        width = max(len(lines[0]), 78)
        out = [self.title.center(width), "=" * width]
        if self.info:
            out += _info_lines(self.info, width) + ["=" * width]
        out += [lines[0], "-" * width] + lines[1:] + ["=" * width]
        out += [f"Note: {note}" for note in self.notes]
        return "\n".join(out)

    def as_html(self) -> str:
        info = "".join(
            f"<tr><th>{html.escape(str(k))}</th><td>{html.escape(str(v))}</td></tr>" for k, v in self.info
        )
        head = "".join(f"<th>{html.escape(h)}</th>" for h in self.headings)
        body = "".join(
            "<tr>" + "".join(_html_cell(c, "th" if k < self.left else "td") for k, c in enumerate(row)) + "</tr>"
            for row in self.rows
        )
        notes = "".join(f"<p>Note: {html.escape(n)}</p>" for n in self.notes)
        return (
            f'<table class="chainrule-summary"><caption>{html.escape(self.title)}</caption>{info}</table>'
            f'<table class="{self._html_class}"><tr>{head}</tr>{body}</table>{notes}'
        )

    def __str__(self) -> str:
        return self.as_text()

    __repr__ = __str__

    def _repr_html_(self) -> str:
        return self.as_html()


class Summary(Table):
    """The coefficient table of a model: ``print(summary)`` or ``summary.as_text()``, ``summary.as_html()``.

    A :class:`Table` with one row per coefficient: estimate, standard error, statistic,
    p-value and interval.

    Args:
        title: e.g. "OLS Regression Results".
        info: (label, value) pairs shown in two columns above the coefficients.
        names: one name per coefficient row.
        params, bse, statistic, pvalues, conf_int: the columns (conf_int has 2 columns).
        statistic_name: "t" or "z".
        alpha: the interval's level, for the column headings.
        notes: lines printed below the table (e.g. the covariance type, warnings).
    """

    _html_class = "chainrule-coefficients"

    def __init__(self, title, info, names, params, bse, statistic, pvalues, conf_int,
                 statistic_name="t", alpha=0.05, notes=()):
        self.names = list(names)
        self.columns = (params, bse, statistic, pvalues, conf_int)
        self.statistic_name, self.alpha = statistic_name, alpha
        low, high = alpha / 2, 1 - alpha / 2
        headings = ["", "coef", "std err", statistic_name, f"P>|{statistic_name}|", f"[{low:.3g}", f"{high:.3g}]"]
        rows = [
            [name, _number(params[i]), _number(bse[i]), f"{statistic[i]:.3f}", f"{pvalues[i]:.3f}",
             _number(conf_int[i][0]), _number(conf_int[i][1])]
            for i, name in enumerate(self.names)
        ]
        super().__init__(title, info, headings, rows, notes)


def format_number(value) -> str:
    """A number for a table cell: 4 decimals, or 4 in e-notation when |value| ≥ 1e6 or
    < 1e-3 (not 0); nan and ±inf as words. (Summary's coefficient columns switch to
    e-notation from 1e5.)"""
    value = float(value)
    if not math.isfinite(value):
        return "nan" if math.isnan(value) else str(value)
    if value != 0 and (abs(value) >= 1e6 or abs(value) < 1e-3):
        return f"{value:.4e}"
    return f"{value:.4f}"


def _number(value) -> str:
    value = float(value)
    if value != 0 and (abs(value) >= 1e5 or abs(value) < 1e-3):
        return f"{value:.4e}"
    return f"{value:.4f}"


def _html_cell(text, tag) -> str:
    return f"<{tag}>{html.escape(text)}</{tag}>"


def _info_lines(info, width) -> list:
    half = (len(info) + 1) // 2
    left, right = info[:half], info[half:]
    column = width // 2 - 1
    lines = []
    for i in range(half):
        left_cell = f"{left[i][0]}:".ljust(column - 14) + str(left[i][1]).rjust(14)
        right_cell = ""
        if i < len(right):
            right_cell = f"{right[i][0]}:".ljust(column - 14) + str(right[i][1]).rjust(14)
        lines.append(f"{left_cell}  {right_cell}".rstrip())
    return lines
