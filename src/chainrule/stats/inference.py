"""Wald inference and the results table shared by the estimators.

For an estimate b_j with standard error se_j:

    statistic  t_j = b_j / se_j
    p-value    2 P(T > |t_j|), T ~ Student t with df_resid degrees of freedom
               (standard normal when df_resid is None: z statistics, as for
               maximum-likelihood models)
    interval   b_j ± q_{1 - alpha/2} se_j, q the quantile of the same distribution

The table follows statsmodels' ``summary()`` layout (a titled header of model facts in
two columns, then one row per coefficient), so users can compare the two side by side.
"""
from __future__ import annotations

import html

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


class Summary:
    """A results table: ``print(summary)`` or ``summary.as_text()``, ``summary.as_html()``.

    Args:
        title: e.g. "OLS Regression Results".
        info: (label, value) pairs shown in two columns above the coefficients.
        names: one name per coefficient row.
        params, bse, statistic, pvalues, conf_int: the columns (conf_int has 2 columns).
        statistic_name: "t" or "z".
        alpha: the interval's level, for the column headings.
        notes: lines printed below the table (e.g. the covariance type, warnings).
    """

    def __init__(self, title, info, names, params, bse, statistic, pvalues, conf_int,
                 statistic_name="t", alpha=0.05, notes=()):
        self.title, self.info, self.names = title, list(info), list(names)
        self.columns = (params, bse, statistic, pvalues, conf_int)
        self.statistic_name, self.alpha, self.notes = statistic_name, alpha, list(notes)

    def _headings(self) -> list:
        low, high = self.alpha / 2, 1 - self.alpha / 2
        return ["", "coef", "std err", self.statistic_name, f"P>|{self.statistic_name}|",
                f"[{low:.3g}", f"{high:.3g}]"]

    def _rows(self) -> list:
        params, bse, statistic, pvalues, conf_int = self.columns
        return [
            [name, _number(params[i]), _number(bse[i]), f"{statistic[i]:.3f}", f"{pvalues[i]:.3f}",
             _number(conf_int[i][0]), _number(conf_int[i][1])]
            for i, name in enumerate(self.names)
        ]

    def as_text(self) -> str:
        rows = [self._headings()] + self._rows()
        widths = [max(len(row[k]) for row in rows) for k in range(len(rows[0]))]
        line = "  ".join(cell.ljust(widths[0]) if k == 0 else cell.rjust(widths[k]) for k, cell in enumerate(rows[0]))
        width = max(len(line), 78)
        out = [self.title.center(width), "=" * width]
        out += _info_lines(self.info, width)
        out.append("=" * width)
        for index, row in enumerate(rows):
            out.append("  ".join(c.ljust(widths[0]) if k == 0 else c.rjust(widths[k]) for k, c in enumerate(row)))
            if index == 0:
                out.append("-" * width)
        out.append("=" * width)
        out += [f"Note: {note}" for note in self.notes]
        return "\n".join(out)

    def as_html(self) -> str:
        info = "".join(
            f"<tr><th>{html.escape(str(k))}</th><td>{html.escape(str(v))}</td></tr>" for k, v in self.info
        )
        head = "".join(f"<th>{html.escape(h)}</th>" for h in self._headings())
        body = "".join(
            "<tr>" + "".join(
                f"<th>{html.escape(c)}</th>" if k == 0 else f"<td>{html.escape(c)}</td>" for k, c in enumerate(row)
            ) + "</tr>"
            for row in self._rows()
        )
        notes = "".join(f"<p>Note: {html.escape(n)}</p>" for n in self.notes)
        return (
            f'<table class="chainrule-summary"><caption>{html.escape(self.title)}</caption>{info}</table>'
            f'<table class="chainrule-coefficients"><tr>{head}</tr>{body}</table>{notes}'
        )

    def __str__(self) -> str:
        return self.as_text()

    __repr__ = __str__

    def _repr_html_(self) -> str:
        return self.as_html()


def _number(value) -> str:
    value = float(value)
    if value != 0 and (abs(value) >= 1e5 or abs(value) < 1e-3):
        return f"{value:.4e}"
    return f"{value:.4f}"


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
