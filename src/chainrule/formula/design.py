r"""A model formula and a DataFrame to design matrices, and the same design on new data.

The formula language is Wilkinson & Rogers' (1973) as R, patsy and statsmodels write it, parsed
and materialized by formulaic (Wood et al.): ``y ~ a + b`` (the columns), ``a:b`` (the
product of a and b, every pair of levels for categoricals), ``a*b`` (= a + b + a:b),
``C(g)`` (g as categorical), ``np.log(x)`` or ``I(x**2)`` (any Python expression on columns,
``np`` being NumPy), ``center(x)``, ``scale(x)``, ``poly(x, 2)``, ``bs(x)`` (stateful
transforms: their statistics come from the fitting data and are kept), ``- 1`` or ``+ 0``
(no intercept). A categorical of K levels enters with treatment coding: K − 1 indicator
columns named ``C(g)[T.level]``, the first level in sorted order the reference (all K
without an intercept, so the design keeps full rank), as in patsy and statsmodels.

:func:`design_matrices` returns (y, X, spec): X without the intercept column (whether there is
one is ``spec.intercept``, which becomes the estimator's ``fit_intercept``, and the estimator
names it as statsmodels' formulas do: "Intercept"); :func:`apply_design` applies ``spec`` to
new data: the same columns, the same levels and the same transform statistics.

Nothing is dropped or guessed silently. A column the formula names but the data lacks, a
missing value (the column and rows are named: statsmodels' formulas drop such rows by
default, chainrule refuses them), a value a transformation turns into NaN or infinity (log of
0), a level of a categorical not seen in the fitting data, or a non-numeric target for a
regression: each is a :class:`FormulaError` that says what and where.

Differences from patsy/statsmodels: the columns are in formulaic's order (by degree: the
intercept, then main effects in the order written, then interactions), which can differ from
patsy's (which puts terms without numeric factors first); the values and names are the same.
A boolean column enters as 0/1 (patsy: as a categorical). Only the data's columns, NumPy (as
``np`` and ``numpy``) and formulaic's transforms can be named, not the caller's variables.

References: Wilkinson & Rogers (1973), Applied Statistics 22(3) 392-399; formulaic,
https://matthewwardrop.github.io/formulaic/; patsy, https://patsy.readthedocs.io/.
"""
from __future__ import annotations

import builtins
import difflib
import re
import warnings
from dataclasses import dataclass

import formulaic
import numpy
import pandas as pd
from formulaic.errors import FormulaicError

__all__ = ["FormulaError", "FormulaSpec", "design_matrices", "apply_design", "target_values", "NAMESPACE"]

#: The names a formula may use besides the data's columns and formulaic's transforms.
NAMESPACE = {"np": numpy, "numpy": numpy}
INTERCEPT = "Intercept"
_ANSI = re.compile(r"\x1b\[[0-9;]*m|⧛|⧚")
_SHOWN_ROWS = 10


class FormulaError(ValueError):
    """A formula that cannot be applied to the data: bad syntax, an unknown column, missing
    values, an unseen level, a non-numeric target. The message names the formula, the column
    and, where it applies, the rows."""


@dataclass
class FormulaSpec:
    """What a fitted formula keeps to build the same design from new data.

    Attributes:
        formula: the formula as written.
        intercept: whether the design has an intercept (the estimator's ``fit_intercept``).
        columns: the names of X's columns (without the intercept), in formulaic's order.
        target: the target's name (the left-hand side as written: ``y``, ``np.log(y)``).
        target_kind: "numeric" (a regression target, one float column) or "labels" (class labels,
            as the data holds them).
        rhs_spec: formulaic's ``ModelSpec`` of the right-hand side (levels, transform states).
        lhs_spec: formulaic's ``ModelSpec`` of the left-hand side, or None when the target is a
            column read as it is.
    """

    formula: str
    intercept: bool
    columns: tuple
    target: str
    target_kind: str
    rhs_spec: object
    lhs_spec: object = None

    @property
    def model_spec(self):
        """formulaic's specification of the right-hand side (``model_spec.get_model_matrix(data)``)."""
        return self.rhs_spec

    def transform(self, data) -> pd.DataFrame:
        """X for new data: :func:`apply_design`."""
        return apply_design(self, data)


def _clean(error) -> str:
    return _ANSI.sub("", str(error)).strip()


def _parse(formula: str):
    if not isinstance(formula, str):
        raise TypeError(f"formula: expected a string such as 'y ~ x1 + x2'; got {type(formula).__name__}")
    try:
        parsed = formulaic.Formula(formula)
    except (FormulaicError, SyntaxError, ValueError) as error:
        raise FormulaError(f"formula {formula!r}: cannot be parsed: {_clean(error).splitlines()[0]}") from None
    if not hasattr(parsed, "lhs"):
        raise FormulaError(f"formula {formula!r}: a two-sided formula is required, the target on the left of '~' "
                           f"(e.g. 'y ~ x1 + x2')")
    if isinstance(parsed.rhs, tuple) or isinstance(parsed.lhs, tuple):
        raise FormulaError(f"formula {formula!r}: one target and one right-hand side are expected ('|' parts "
                           f"are not supported)")
    return parsed


def _as_frame(data, what: str) -> pd.DataFrame:
    if isinstance(data, pd.DataFrame):
        return data
    if isinstance(data, dict):
        return pd.DataFrame(data)
    raise TypeError(f"{what}: expected a pandas DataFrame (or a dict of columns); got {type(data).__name__}")


def _rows(index) -> str:
    labels = [repr(label) for label in list(index[:_SHOWN_ROWS])]
    more = f" and {len(index) - _SHOWN_ROWS} more" if len(index) > _SHOWN_ROWS else ""
    return ", ".join(labels) + more


def _check_columns(formula: str, names, data: pd.DataFrame, what: str) -> None:
    """Every name the formula reads is a column of ``data`` without missing values."""
    for name in sorted(str(n) for n in names):
        if name not in data.columns and (name in NAMESPACE or hasattr(builtins, name)):
            continue
        if name not in data.columns and re.search(rf"(?<![\w.]){re.escape(name)}\s*\(", formula):
            raise FormulaError(f"formula {formula!r}: no function {name!r}: a formula can call NumPy (as np), "
                               f"Python's builtins and formulaic's transforms (C, center, scale, poly, bs …)")
        if name not in data.columns:
            close = difflib.get_close_matches(name, [str(c) for c in data.columns], n=3)
            hint = f"; did you mean {', '.join(map(repr, close))}?" if close else ""
            shown = ", ".join(map(repr, list(data.columns)[:20]))
            raise FormulaError(f"formula {formula!r}: {what} has no column {name!r}{hint} (columns: {shown})")
        missing = data[name].isna().to_numpy()
        if missing.any():
            raise FormulaError(
                f"formula {formula!r}: column {name!r} has {int(missing.sum())} missing value(s) in rows "
                f"{_rows(data.index[missing])}; chainrule drops no rows silently (statsmodels' formulas do): "
                f"drop or impute them first, e.g. data.dropna(subset=[{name!r}])")


def _check_finite(formula: str, frame: pd.DataFrame, what: str) -> None:
    """No NaN or infinity in the materialized ``frame`` (a transformation outside its domain)."""
    values = frame.to_numpy(dtype=numpy.float64)
    bad = ~numpy.isfinite(values)
    if bad.any():
        column = int(numpy.flatnonzero(bad.any(axis=0))[0])
        rows = frame.index[bad[:, column]]
        raise FormulaError(
            f"formula {formula!r}: the {what} column {frame.columns[column]!r} is NaN or infinite in rows "
            f"{_rows(rows)}: an infinite value in the data, or a transformation outside its domain (the log of 0 "
            f"or of a negative number?)")


def _materialize(formula: str, part, data: pd.DataFrame):
    try:
        return formulaic.model_matrix(part, data, context=NAMESPACE, na_action="ignore", output="pandas")
    except FormulaicError as error:
        raise FormulaError(f"formula {formula!r}: {_clean(error)}") from None


def _plain_column(part, data: pd.DataFrame):
    """The column name when the formula part is a single data column as written (``y``), else None."""
    terms = list(part)
    if len(terms) == 1 and len(terms[0].factors) == 1:
        factor = terms[0].factors[0]
        if getattr(factor.eval_method, "value", factor.eval_method) == "lookup" and factor.expr in data.columns:
            return factor.expr
    return None


def _target(formula, parsed, data, kind):
    """(y, lhs_spec): the target as a float Series (kind "numeric") or as the column's labels."""
    column = _plain_column(parsed.lhs, data)
    if column is not None:
        values = data[column]
        if kind == "labels":
            return values.rename(column), None
        if not (pd.api.types.is_numeric_dtype(values) or pd.api.types.is_bool_dtype(values)):
            example = values.iloc[0] if len(values) else None
            raise FormulaError(
                f"formula {formula!r}: the target {column!r} is not numeric (dtype {values.dtype}, values like "
                f"{example!r}); a regression needs numbers (for class labels use logit or mnlogit)")
    matrix = _materialize(formula, parsed.lhs, data)
    _check_columns(formula, matrix.model_spec.required_variables, data, "the data")
    if matrix.shape[1] != 1:
        raise FormulaError(f"formula {formula!r}: the left-hand side must be one column; it gives "
                           f"{matrix.shape[1]}: {list(matrix.columns)} (a categorical target? use logit or mnlogit)")
    name = str(matrix.columns[0])
    y = matrix.iloc[:, 0]
    if kind == "numeric":
        y = pd.Series(y.to_numpy(dtype=numpy.float64), index=y.index, name=name)
        _check_finite(formula, y.to_frame(), "target")
    return y.rename(name), matrix.model_spec


def _split_intercept(formula: str, matrix) -> tuple[pd.DataFrame, bool]:
    columns = list(matrix.columns)
    intercept = INTERCEPT in columns
    X = pd.DataFrame(matrix).drop(columns=[INTERCEPT]) if intercept else pd.DataFrame(matrix)
    if X.shape[1] == 0:
        raise FormulaError(f"formula {formula!r}: the right-hand side has no column besides the intercept; "
                           f"chainrule's estimators need at least one regressor")
    X = X.astype(numpy.float64)
    _check_finite(formula, X, "design")
    return X, intercept


def design_matrices(formula: str, data, *, target: str = "numeric"):
    """(y, X, spec) for ``formula`` on the DataFrame ``data``.

    ``y``: a float Series named by the left-hand side (``target="numeric"``), or the column as
    the data holds it (``target="labels"``: class labels for logit and mnlogit; an expression on
    the left is materialized and must give one column). ``X``: a float64 DataFrame with
    formulaic's column names, without the intercept column. ``spec``: a :class:`FormulaSpec`
    (``spec.intercept`` says whether the formula has an intercept) for :func:`apply_design`.
    Raises :class:`FormulaError` (see the module docstring)."""
    if target not in ("numeric", "labels"):
        raise ValueError(f"design_matrices: target: expected 'numeric' or 'labels'; got {target!r}")
    parsed = _parse(formula)
    data = _as_frame(data, "design_matrices: data")
    _check_columns(formula, parsed.required_variables, data, "the data")
    y, lhs_spec = _target(formula, parsed, data, target)
    rhs = _materialize(formula, parsed.rhs, data)
    # the variables formulaic read (a stateful transform's, as in center(x), are known only now)
    _check_columns(formula, rhs.model_spec.required_variables, data, "the data")
    X, intercept = _split_intercept(formula, rhs)
    spec = FormulaSpec(formula=formula, intercept=intercept, columns=tuple(X.columns), target=str(y.name),
                       target_kind=target, rhs_spec=rhs.model_spec, lhs_spec=lhs_spec)
    return y, X, spec


def _categorical_levels(spec):
    """(factor, levels) for each categorical factor of the right-hand side."""
    for factor, (kind, state) in spec.rhs_spec.encoder_state.items():
        if getattr(kind, "value", kind) == "categorical" and "categories" in state:
            yield factor, list(state["categories"])


def _check_levels(spec, data: pd.DataFrame) -> None:
    """Every level of a categorical column in ``data`` was seen when the formula was fitted."""
    for factor, levels in _categorical_levels(spec):
        column = factor if factor in data.columns else None
        match = re.fullmatch(r"C\(\s*(\w+)\s*(,.*)?\)", factor)
        if column is None and match and match.group(1) in data.columns:
            column = match.group(1)
        if column is None:
            continue  # an expression: formulaic's own check (below) applies
        values = data[column]
        unseen = ~values.isin(levels).to_numpy()
        if unseen.any():
            new = sorted({repr(v) for v in values[unseen].tolist()})
            raise FormulaError(
                f"formula {spec.formula!r}: column {column!r} has levels not seen in the fitting data: "
                f"{', '.join(new)} (rows {_rows(data.index[unseen])}); the fitted levels are {levels}")


def apply_design(spec: FormulaSpec, data) -> pd.DataFrame:
    """X for new ``data`` by the fitted ``spec``: the same columns, levels and transform
    statistics (the target need not be there). Raises :class:`FormulaError` for a missing
    column, missing values, non-finite transformed values or a level not seen in the fit."""
    if not isinstance(spec, FormulaSpec):
        raise TypeError(f"apply_design: spec: expected a FormulaSpec; got {type(spec).__name__}")
    data = _as_frame(data, "apply_design: data")
    _check_columns(spec.formula, spec.rhs_spec.required_variables, data, "the new data")
    _check_levels(spec, data)
    with warnings.catch_warnings():
        warnings.simplefilter("error", formulaic.errors.DataMismatchWarning)
        try:
            matrix = spec.rhs_spec.get_model_matrix(data, context=NAMESPACE)
        except formulaic.errors.DataMismatchWarning as warning:
            raise FormulaError(f"formula {spec.formula!r}: the new data has levels not seen in the fitting data: "
                               f"{_clean(warning)}") from None
        except FormulaicError as error:
            raise FormulaError(f"formula {spec.formula!r}: {_clean(error)}") from None
    X, _ = _split_intercept(spec.formula, matrix)
    return X


def target_values(spec: FormulaSpec, data):
    """y for new ``data`` by the fitted ``spec``: the left-hand side re-applied (or the labels
    column read as it is)."""
    data = _as_frame(data, "target_values: data")
    if spec.lhs_spec is None:
        _check_columns(spec.formula, [spec.target], data, "the data")
        return data[spec.target]
    _check_columns(spec.formula, spec.lhs_spec.required_variables, data, "the data")
    try:
        y = spec.lhs_spec.get_model_matrix(data, context=NAMESPACE).iloc[:, 0]
    except FormulaicError as error:
        raise FormulaError(f"formula {spec.formula!r}: {_clean(error)}") from None
    if spec.target_kind == "numeric":
        y = pd.Series(y.to_numpy(dtype=numpy.float64), index=y.index, name=spec.target)
        _check_finite(spec.formula, y.to_frame(), "target")
    return y.rename(spec.target)
