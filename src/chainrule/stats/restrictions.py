r"""Wald tests of linear restrictions R θ = q on an estimate θ̂ with covariance V, and the
parser of restrictions written as text ("value = capital, 2*value - capital = 1").

With r = R θ̂ − q (J restrictions) and V_R = R V R':

    t_test     each row:  t_j = r_j / sqrt(V_R,jj),  two-sided p from t(df) (or N(0, 1)),
               interval  (Rθ̂)_j ± q_{1−α/2} sqrt(V_R,jj)
    f_test     F = r' V_R⁺ r / J,  p = P(F(J, df) > F)
    wald_test  W = r' V_R⁺ r,  p = P(χ²(J) > W)   (or F = W / J with F(J, df) when use_f)

V_R⁺ is the pseudo-inverse; when V_R is singular, J becomes its rank (with a warning), as
in statsmodels. df is the results' residual degrees of freedom for inference: n − k, or
G − 1 for a cluster-robust covariance with G clusters. The results are
:class:`ContrastResults` with statsmodels' names (``effect``, ``sd``, ``tvalue``,
``fvalue``, ``statistic``, ``pvalue``, ``df_num``, ``df_denom``, ``conf_int()``,
``summary()``).

Restrictions as text (:func:`linear_restrictions`): comma-separated equations between
linear combinations of the parameter names, e.g. ``"value = capital"``,
``"value = 0, capital = 0"``, ``"2*value - capital = 1"``, ``"(value + capital)/2 = 0.1"``.
The grammar (patsy's, which statsmodels uses):

    restrictions := equation ("," equation)*
    equation     := sum ("=" sum)*          a = b = c means a = b and b = c; a lone sum means sum = 0
    sum          := product (("+" | "-") product)*
    product      := factor (("*" | "/") factor)*     one side of * and the right of / a number
    factor       := ("+" | "-") factor | number | name | "(" sum ")"

A name is any parameter name, matched longest first (so "C(firm)[T.B]" or "np.log(x)" are
names; a name that ends in a letter, digit or "_" must not be followed by one). Errors name
the position and what was expected.

Differences from statsmodels: ``t_test``'s ``effect``, ``sd``, ``tvalue`` and ``pvalue`` are
1-D arrays of J values also for one restriction (statsmodels gives ``sd`` and ``tvalue`` shape
(1, 1) and a 0-d ``pvalue`` then); ``f_test`` and ``wald_test`` give Python floats; χ² results
also carry ``df_num`` = J; a tuple (R, q) may give one q for all rows.

Reference: W. H. Greene, *Econometric Analysis*, 7th ed., 2012, §5.3 (the Wald and F tests of
linear restrictions).
"""
from __future__ import annotations

import re
import warnings

from scipy import stats as _distributions

from ..engine import backend

np = backend.host

__all__ = ["ContrastResults", "linear_restrictions", "t_test", "wald_test"]

_NUMBER = re.compile(r"(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?")
_WORD = re.compile(r"\w")


class ContrastResults:
    """The result of a test of linear restrictions (statsmodels' ContrastResults).

    t and z tests (``t_test``): ``effect`` (R θ̂, shape (J,)), ``sd`` (its standard errors),
    ``tvalue`` (= ``statistic``), ``pvalue`` (shape (J,)), ``df_denom``, ``distribution``
    ("t" or "norm"), ``conf_int(alpha)`` (J x 2), ``summary()``, ``summary_frame()``.
    F and χ² tests (``f_test``, ``wald_test``): ``fvalue`` (F only) and ``statistic``,
    ``pvalue`` (floats), ``df_num`` (J), ``df_denom`` (F: the residual df; χ²: J, as in
    statsmodels), ``distribution`` ("F" or "chi2").
    """

    def __init__(self, distribution, statistic, pvalue, df_num=None, df_denom=None, effect=None, sd=None,
                 names=None, table=None):
        self.distribution, self.statistic, self.pvalue = distribution, statistic, pvalue
        self._table = table  # the class that lays out summary() (chainrule.stats.inference.Summary)
        self.df_num, self.df_denom, self.effect, self.sd = df_num, df_denom, effect, sd
        if distribution in ("t", "norm"):
            self.tvalue = statistic
        if distribution == "F":
            self.fvalue = statistic
        self.c_names = names if names is not None else (
            None if effect is None else [f"c{j}" for j in range(len(effect))])

    def _quantile(self, alpha):
        if self.distribution == "t":
            return float(_distributions.t.ppf(1 - alpha / 2, self.df_denom))
        return float(_distributions.norm.ppf(1 - alpha / 2))

    def conf_int(self, alpha: float = 0.05):
        """(J, 2) intervals R θ̂ ± q_{1−α/2} sd (t and z tests only)."""
        if self.effect is None:
            raise ValueError("ContrastResults.conf_int: an F or chi-squared test of several restrictions has no "
                             "confidence interval; use t_test for intervals of each restriction")
        if not 0 < alpha < 1:
            raise ValueError(f"ContrastResults.conf_int: alpha must lie in (0, 1); got {alpha!r}")
        half = self._quantile(alpha) * self.sd
        return np.column_stack([self.effect - half, self.effect + half])

    def summary_frame(self, alpha: float = 0.05):
        """A pandas DataFrame (t and z tests): coef, std err, t or z, P>|t| or P>|z|, and the interval."""
        import pandas as pd

        name = "t" if self.distribution == "t" else "z"
        interval = self.conf_int(alpha)
        return pd.DataFrame({"coef": self.effect, "std err": self.sd, name: self.statistic,
                             f"P>|{name}|": self.pvalue, "Conf. Int. Low": interval[:, 0],
                             "Conf. Int. Upp.": interval[:, 1]}, index=self.c_names)

    def summary(self, alpha: float = 0.05):
        """The test as a table (``print`` it): one row per restriction for t and z tests, else one line."""
        if self.effect is None:
            return str(self)
        name = "t" if self.distribution == "t" else "z"
        if self._table is None:
            return self.summary_frame(alpha).to_string()
        return self._table("Test for Constraints", [], self.c_names, self.effect, self.sd, self.statistic,
                           self.pvalue, self.conf_int(alpha), statistic_name=name, alpha=alpha)

    def __str__(self) -> str:
        if self.distribution == "F":
            return (f"<F test: F={self.fvalue!r}, p={self.pvalue!r}, df_denom={self.df_denom:g}, "
                    f"df_num={self.df_num:g}>")
        if self.distribution == "chi2":
            return (f"<Wald test (chi2): statistic={self.statistic!r}, p-value={self.pvalue!r}, "
                    f"df_denom={self.df_num:g}>")
        return str(self.summary())

    __repr__ = __str__


def linear_restrictions(restrictions, names) -> tuple:
    """(R, q) from ``restrictions``, for parameters called ``names`` (in order):

    * a string (the grammar of the module docstring),
    * a sequence of such strings (all their equations),
    * an array R (J x k, or one row of k) meaning R θ = 0,
    * a tuple (R, q), q a scalar or J values.

    Raises ValueError naming the problem (an unknown name, a nonlinear term, a row of R with
    the wrong length, no restriction at all).
    """
    names = [str(n) for n in names]
    k = len(names)
    if isinstance(restrictions, str):
        return _parse(restrictions, names)
    if isinstance(restrictions, (list, tuple)) and restrictions and all(isinstance(r, str) for r in restrictions):
        parts = [_parse(r, names) for r in restrictions]
        return np.vstack([p[0] for p in parts]), np.concatenate([p[1] for p in parts])
    if isinstance(restrictions, tuple):
        if len(restrictions) != 2:
            raise ValueError(f"restrictions: a tuple must be (R, q); got a tuple of {len(restrictions)} items")
        R, q = restrictions
    else:
        R, q = restrictions, None
    R = np.atleast_2d(np.asarray(R, dtype=backend.float64))
    if R.ndim != 2 or R.shape[1] != k or R.shape[0] == 0:
        raise ValueError(f"restrictions: R must have {k} columns (one per parameter: {', '.join(names)}) and at "
                         f"least one row; got shape {np.shape(R)}")
    q = np.zeros(R.shape[0]) if q is None else np.asarray(q, dtype=backend.float64).reshape(-1)
    if q.size == 1 and R.shape[0] > 1:
        q = np.full(R.shape[0], float(q[0]))
    if q.size != R.shape[0]:
        raise ValueError(f"restrictions: q must have one value per row of R ({R.shape[0]}); got {q.size}")
    return R, q


def t_test(params, cov, R, q, df=None, names=None, table=None) -> ContrastResults:
    """Each restriction R_j θ = q_j by its own t (``df`` given) or z statistic (df None);
    ``table``: the class that lays out its summary (:class:`chainrule.stats.inference.Summary`)."""
    effect = R @ params
    sd = np.sqrt(np.diag(R @ cov @ R.T))
    with np.errstate(divide="ignore", invalid="ignore"):
        statistic = (effect - q) / sd
    if df is None:
        pvalue = 2 * _distributions.norm.sf(np.abs(statistic))
        return ContrastResults("norm", statistic, pvalue, df_denom=None, effect=effect, sd=sd, names=names,
                               table=table)
    pvalue = 2 * _distributions.t.sf(np.abs(statistic), df)
    return ContrastResults("t", statistic, pvalue, df_denom=df, effect=effect, sd=sd, names=names, table=table)


def wald_test(params, cov, R, q, use_f: bool, df=None) -> ContrastResults:
    """The joint test of R θ = q: F = W / J on F(J, df) (``use_f``) or W on χ²(J)."""
    residual = R @ params - q
    V = R @ cov @ R.T
    if np.isnan(V).any():
        raise ValueError("wald_test: the covariance of the restrictions has NaN entries")
    J = R.shape[0]
    rank = int(np.linalg.matrix_rank(V))
    if rank < J:
        warnings.warn(f"covariance of constraints does not have full rank. The number of constraints is {J}, "
                      f"but rank is {rank}", RuntimeWarning, stacklevel=4)
        J = rank
    W = float(residual @ np.linalg.pinv(V) @ residual)
    if use_f:
        F = W / J
        return ContrastResults("F", F, float(_distributions.f.sf(F, J, df)), df_num=float(J), df_denom=float(df))
    return ContrastResults("chi2", W, float(_distributions.chi2.sf(W, J)), df_num=float(J), df_denom=float(J))


def _parse(text, names):
    """(R, q) of a restriction string (module docstring)."""
    tokens = _tokens(text, names)
    parser = _Parser(text, tokens, len(names))
    rows = parser.restrictions()
    R = np.array([row[0] for row in rows])
    q = np.array([-row[1] for row in rows])
    for j, row in enumerate(R):
        if not row.any():
            raise ValueError(f"restrictions: {text!r}: equation {j + 1} involves no parameter")
    return R, q


def _tokens(text, names):
    """[(kind, value, position)], kind one of "name", "number", or the operator itself."""
    ordered = sorted(range(len(names)), key=lambda j: -len(names[j]))
    tokens, i = [], 0
    while i < len(text):
        if text[i].isspace():
            i += 1
            continue
        for j in ordered:
            name = names[j]
            end = i + len(name)
            if name and text.startswith(name, i) and not (
                    _WORD.match(name[-1]) and end < len(text) and _WORD.match(text[end])):
                tokens.append(("name", j, i))
                i = end
                break
        else:
            number = _NUMBER.match(text, i)
            if number:
                tokens.append(("number", float(number.group()), i))
                i = number.end()
            elif text[i] in "+-*/()=,":
                tokens.append((text[i], None, i))
                i += 1
            else:
                word = re.match(r"[^\s+\-*/()=,]+", text[i:]).group()
                raise ValueError(f"restrictions: {text!r}: unknown name {word!r} at position {i}; the parameters "
                                 f"are {', '.join(map(repr, names))}")
    return tokens


class _Parser:
    """Recursive descent over the tokens; a linear form is (coefficients, constant)."""

    def __init__(self, text, tokens, k):
        self.text, self.tokens, self.k, self.at = text, tokens, k, 0

    def _peek(self):
        return self.tokens[self.at][0] if self.at < len(self.tokens) else None

    def _fail(self, expected):
        where = self.tokens[self.at][2] if self.at < len(self.tokens) else len(self.text)
        found = repr(self.text[where:where + 10]) if self.at < len(self.tokens) else "the end"
        raise ValueError(f"restrictions: {self.text!r}: expected {expected} at position {where}; found {found}")

    def restrictions(self):
        rows = self._equation()
        while self._peek() == ",":
            self.at += 1
            rows += self._equation()
        if self.at != len(self.tokens):
            self._fail("',' or '=' or an operator")
        return rows

    def _equation(self):
        sides = [self._sum()]
        while self._peek() == "=":
            self.at += 1
            sides.append(self._sum())
        if len(sides) == 1:
            return [sides[0]]
        return [(a[0] - b[0], a[1] - b[1]) for a, b in zip(sides, sides[1:])]

    def _sum(self):
        total = self._product()
        while self._peek() in ("+", "-"):
            sign = 1.0 if self.tokens[self.at][0] == "+" else -1.0
            self.at += 1
            term = self._product()
            total = (total[0] + sign * term[0], total[1] + sign * term[1])
        return total

    def _product(self):
        left = self._factor()
        while self._peek() in ("*", "/"):
            operator, position = self.tokens[self.at][0], self.tokens[self.at][2]
            self.at += 1
            right = self._factor()
            if operator == "*":
                if left[0].any() and right[0].any():
                    raise ValueError(f"restrictions: {self.text!r}: a product of two parameters at position "
                                     f"{position} is not linear")
                scalar, form = (left[1], right) if not left[0].any() else (right[1], left)
                left = (scalar * form[0], scalar * form[1])
            else:
                if right[0].any() or right[1] == 0:
                    raise ValueError(f"restrictions: {self.text!r}: the divisor at position {position} must be a "
                                     f"nonzero number")
                left = (left[0] / right[1], left[1] / right[1])
        return left

    def _factor(self):
        kind = self._peek()
        if kind in ("+", "-"):
            self.at += 1
            form = self._factor()
            return form if kind == "+" else (-form[0], -form[1])
        if kind == "number":
            value = self.tokens[self.at][1]
            self.at += 1
            return np.zeros(self.k), value
        if kind == "name":
            coefficients = np.zeros(self.k)
            coefficients[self.tokens[self.at][1]] = 1.0
            self.at += 1
            return coefficients, 0.0
        if kind == "(":
            self.at += 1
            form = self._sum()
            if self._peek() != ")":
                self._fail("')'")
            self.at += 1
            return form
        self._fail("a number, a parameter name or '('")
