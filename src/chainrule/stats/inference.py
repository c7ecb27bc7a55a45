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

    A subclass provides ``params`` (the estimates θ̂, an array of any shape: MNLogit's has one
    column per non-reference class) and ``cov_params()`` (their covariance V, θ̂ in
    column-major order: for MNLogit one class block after another), and may set
    ``_df_inference`` (the residual degrees of freedom when the statistics are Student t, as
    for OLS with the nonrobust covariance; None, the default, for z statistics) and
    ``_default_alpha`` (the interval level when none is given; 0.05). Then, shaped as ``params``:

        bse       = sqrt(diag V)
        tvalues   = params / bse
        pvalues   = 2 P(T > |tvalues|)
        conf_int(alpha) = params ± q_{1−α/2} bse     (shape params.shape + (2,))

    with T and q from t(df) or N(0, 1) as in :func:`wald`.
    """

    _df_inference = None
    _default_alpha = 0.05

    @property
    def bse(self):
        """The standard errors sqrt(diag V), shaped as ``params``."""
        return np.sqrt(np.diag(self.cov_params())).reshape(np.shape(self.params), order="F")

    @property
    def tvalues(self):
        """The Wald statistics params / bse (t or z)."""
        return self.params / self.bse

    @property
    def pvalues(self):
        """Two-sided p-values of the Wald statistics."""
        params = np.asarray(self.params)
        return wald(params.ravel(), np.ravel(self.bse), self._df_inference)["pvalues"].reshape(params.shape)

    def conf_int(self, alpha=None):
        """``1 - alpha`` Wald intervals params ± q_{1−α/2} bse, shape params.shape + (2,)
        (α defaults to the model's level: ``alpha`` of Logit and MNLogit, 0.05 for OLS)."""
        params = np.asarray(self.params)
        intervals = self._wald(params.ravel(), np.ravel(self.bse), alpha)["conf_int"]
        return intervals.reshape(params.shape + (2,))

    def _wald(self, params, bse, alpha=None) -> dict:
        return wald(params, bse, self._df_inference, self._default_alpha if alpha is None else alpha)

    def _coefficient_summary(self, title, info, names, alpha, notes) -> Summary:
        """The statsmodels-style table of the coefficients, one row per entry of ``params``
        in column-major order (for MNLogit one class after another)."""
        alpha = self._default_alpha if alpha is None else alpha
        params, bse = np.ravel(self.params, order="F"), np.ravel(self.bse, order="F")
        tests = self._wald(params, bse, alpha)
        return Summary(title, info, names, params, bse, tests["statistic"], tests["pvalues"], tests["conf_int"],
                       statistic_name="z" if self._df_inference is None else "t", alpha=alpha, notes=notes)


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
        out += _info_lines(self.info, width)
        out += ["=" * width, lines[0], "-" * width] + lines[1:] + ["=" * width]
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
