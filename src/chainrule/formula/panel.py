r"""Formulas with absorbed fixed effects and instrumental variables, in fixest's and pyfixest's spirit.

    >>> from chainrule import formula
    >>> formula.ols("invest ~ value + capital | firm + year", grunfeld, cov_type="cluster", groups="firm")
    >>> formula.iv2sls("y ~ x + (d ~ z1 + z2)", data, cov_type="HC1")
    >>> formula.ivliml("y ~ x + (d1 + d2 ~ z1 + z2 + z3)", data)
    >>> formula.iv2sls("y ~ x + (d ~ z) | firm + year", data, cov_type="cluster", groups="firm")

Syntax, beyond the formulas of :mod:`chainrule.formula.design`:

* ``| a + b`` at the end: absorb the fixed effects of the columns a and b (plain column names,
  any labels): ``stats.OLS(absorb=["a", "b"])`` on the design of the part before ``|``, whose
  intercept the effects absorb (see :mod:`chainrule.stats.absorbed_ols`);
* ``(d1 + d2 ~ z1 + z2)`` as a term on the right: d1 and d2 are endogenous, z1 and z2 the excluded
  instruments (any formula terms); the other terms are the exogenous regressors:
  ``stats.IV2SLS`` / ``stats.IVLIML`` with ``endog`` and ``instruments`` set to those columns.

Both together, ``"y ~ x + (d ~ z) | firm + year"`` (pyfixest's ``"y ~ x | firm + year | d ~ z"``), fit
``stats.IV2SLS(absorb=["firm", "year"])`` (:mod:`chainrule.stats.iv_absorbed`). ``groups``
may be a column name of ``data`` (or a list of names for multi-way clustering) or labels.
The result is the fitted ``stats`` estimator, with ``formula_`` (the formula) and the intercept
named "Intercept"; its ``predict`` takes the design's columns (IV: as ``fit`` had them),
not the raw data.
"""
from __future__ import annotations

import re

import pandas as pd

from ..stats import IV2SLS, IVLIML, OLS
from .design import FormulaError, design_matrices

__all__ = ["split_formula", "absorbed_ols", "iv2sls", "ivliml"]

_IV_TERM = re.compile(r"\(([^()~]+)~([^()]+)\)")
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_.]*$")


def split_formula(formula: str):
    """(the formula without its IV term and ``|`` part, endogenous terms or None, instrument terms
    or None, the absorbed column names [])."""
    if not isinstance(formula, str):
        raise TypeError(f"formula: expected a string such as 'y ~ x | firm'; got {type(formula).__name__}")
    main, absorb = formula, []
    depth, bar = 0, -1
    for position, char in enumerate(formula):
        depth += (char == "(") - (char == ")")
        if char == "|" and depth == 0:
            bar = position
    if bar >= 0:
        main = formula[:bar]
        absorb = [name.strip() for name in formula[bar + 1:].split("+")]
        bad = [name for name in absorb if not _NAME.match(name)]
        if bad:
            raise FormulaError(f"formula {formula!r}: after '|' write the fixed-effect columns as plain names joined "
                               f"by '+' (e.g. '| firm + year'); got {bad[0]!r}")
    found = _IV_TERM.findall(main)
    if len(found) > 1:
        raise FormulaError(f"formula {formula!r}: one '(endogenous ~ instruments)' term is allowed; got {len(found)}")
    endog = instruments = None
    if found:
        endog, instruments = (part.strip() for part in found[0])
        main = _IV_TERM.sub(endog, main)
    return main.strip(), endog, instruments, absorb


def _frame(data, what):
    if isinstance(data, dict):
        data = pd.DataFrame(data)
    if not isinstance(data, pd.DataFrame):
        raise TypeError(f"{what}: expected a pandas DataFrame (or a dict of columns); got {type(data).__name__}")
    return data


def _groups(groups, data, formula):
    names = [groups] if isinstance(groups, str) else groups
    if isinstance(names, (list, tuple)) and names and all(isinstance(n, str) for n in names):
        missing = [n for n in names if n not in data.columns]
        if missing:
            raise FormulaError(f"formula {formula!r}: groups: the data has no column {missing[0]!r}")
        return data[list(names)] if len(names) > 1 else data[names[0]].to_numpy()
    return groups


def _name_intercept(model):
    names = model.results_.names
    if names and names[0] == "const":
        model.results_.names = ["Intercept", *names[1:]]


def _check_absorb_columns(formula, absorb, data):
    missing = [name for name in absorb if name not in data.columns]
    if missing:
        raise FormulaError(f"formula {formula!r}: the data has no fixed-effect column {missing[0]!r}")


def absorbed_ols(formula: str, data, *, groups=None, **params):
    """OLS with the fixed effects after ``|`` absorbed (module docstring)."""
    data = _frame(data, "ols: data")
    main, endog, _, absorb = split_formula(formula)
    if endog is not None:
        raise FormulaError(f"formula {formula!r}: an '(endogenous ~ instruments)' term needs iv2sls or ivliml, "
                           f"not ols")
    _check_absorb_columns(formula, absorb, data)
    y, X, _ = design_matrices(main, data)
    clash = [name for name in absorb if name in X.columns]
    if clash:
        raise FormulaError(f"formula {formula!r}: {clash[0]!r} is both a regressor and an absorbed fixed effect")
    frame = pd.concat([X, data[absorb].set_axis(X.index)], axis=1)
    model = OLS(absorb=absorb, **params).fit(frame, y, groups=_groups(groups, data, formula))
    model.formula_ = formula
    return model


def _iv(estimator, formula, data, groups, params):
    data = _frame(data, f"{estimator.__name__.lower()}: data")
    main, endog, instruments, absorb = split_formula(formula)
    if endog is None:
        raise FormulaError(f"formula {formula!r}: no '(endogenous ~ instruments)' term, e.g. 'y ~ x + (d ~ z)'")
    _check_absorb_columns(formula, absorb, data)
    lhs = main.split("~")[0].strip()
    y, X, spec = design_matrices(main, data)
    endog_columns = list(design_matrices(f"{lhs} ~ {endog} + 0", data)[1].columns)
    Z = design_matrices(f"{lhs} ~ {instruments} + 0", data)[1]
    clash = [c for c in Z.columns if c in X.columns]
    if clash:
        raise FormulaError(f"formula {formula!r}: {clash[0]!r} is both a regressor and an excluded instrument")
    frame = pd.concat([X, Z], axis=1)
    if absorb:
        clash = [name for name in absorb if name in frame.columns]
        if clash:
            raise FormulaError(f"formula {formula!r}: {clash[0]!r} is both a model column and an absorbed fixed effect")
        frame = pd.concat([frame, data[absorb].set_axis(frame.index)], axis=1)
        params = {"absorb": absorb, **params}
    model = estimator(endog=endog_columns, instruments=list(Z.columns), fit_intercept=spec.intercept, **params)
    model.fit(frame, y, groups=_groups(groups, data, formula))
    model.formula_ = formula
    _name_intercept(model)
    return model


def iv2sls(formula: str, data, *, groups=None, **params):
    """Two-stage least squares from ``"y ~ x + (d ~ z1 + z2)"``; ``params``: ``stats.IV2SLS``'s."""
    return _iv(IV2SLS, formula, data, groups, params)


def ivliml(formula: str, data, *, groups=None, **params):
    """LIML from ``"y ~ x + (d ~ z1 + z2)"``; ``params``: ``stats.IVLIML``'s (e.g. ``fuller=1``)."""
    return _iv(IVLIML, formula, data, groups, params)
