"""The ``stats`` estimators fitted from a formula: statsmodels' formula API on chainrule.

    >>> from chainrule import formula
    >>> model = formula.ols("invest ~ value + capital + C(firm)", grunfeld, cov_type="HC1")
    >>> print(model.summary())              # the parameters named by the formula's terms
    >>> model.predict(new_firms)            # the same design built from new rows

``ols``, ``logit``, ``mnlogit``, ``ridge`` and ``lasso`` build the design with
:func:`chainrule.formula.design_matrices`, fit the estimator of the same name (``stats.OLS`` …)
with the keyword arguments given (``cov_type``, ``alpha``, ``solver`` …; ``fit_intercept`` is
the formula's: write ``- 1`` for none) and return it: an instance of a subclass
(``FormulaOLS`` …) whose ``fit``, ``predict``, ``predict_proba`` and ``score`` take DataFrames and
re-apply the kept design. Besides the estimator's own fitted attributes it has ``formula``
(the string, also a constructor parameter, so ``get_params``/``clone`` keep it),
``design_info_`` (the :class:`~chainrule.formula.FormulaSpec`) and ``model_spec_`` (formulaic's
``ModelSpec`` of the right-hand side).

The intercept is named "Intercept", as statsmodels' formula API names it (the array API of
``chainrule.stats`` names it "const", as statsmodels' array API does). The target of
``logit``/``mnlogit`` is the column's class labels as they are (any labels, as ``stats.Logit``
takes them), where statsmodels needs 0/1 numbers for Logit. The remaining differences from
statsmodels are those of :mod:`chainrule.formula.design` (missing values refused, not dropped;
formulaic's column order) and of the estimators themselves.
"""
from __future__ import annotations

import inspect

import numpy
import pandas as pd

from ..stats import OLS, Lasso, Logit, MNLogit, Ridge
from .design import INTERCEPT, FormulaError, apply_design, design_matrices, target_values

__all__ = ["FormulaModel", "FormulaOLS", "FormulaLogit", "FormulaMNLogit", "FormulaRidge", "FormulaLasso",
           "ols", "logit", "mnlogit", "ridge", "lasso", "name_intercept"]


def name_intercept(model, name: str = INTERCEPT) -> None:
    """Name a fitted estimator's intercept ``name`` where it says "const" (the results' names,
    the collinearity diagnostics', a likelihood model's ``param_names_``)."""
    results = getattr(model, "results_", None)
    holders = [(results, "names"), (model, "param_names_")]
    if results is not None and hasattr(results, "collinearity"):
        holders.append((results.collinearity(), "names"))
    for holder, attribute in holders:
        names = getattr(holder, attribute, None) if holder is not None else None
        if isinstance(names, list) and names and names[0] == "const":
            setattr(holder, attribute, [name, *names[1:]])


class FormulaModel:
    """What a formula adds to an estimator (mixed in before it): ``fit(data)`` builds the design
    from the formula, ``predict``/``score`` re-apply it to new data."""

    _target_kind = "numeric"

    def fit(self, data, y=None, **fit_params):
        """Fit on the DataFrame ``data``, the target and the columns named by ``self.formula``.
        ``groups`` (OLS with cov_type="cluster") may be a column name of ``data``. Returns self."""
        name = type(self).__name__
        if y is not None:
            raise TypeError(f"{name}.fit(data): the target comes from the formula {self.formula!r}; "
                            f"y must be None")
        target, X, spec = design_matrices(self.formula, data, target=self._target_kind)
        if isinstance(fit_params.get("groups"), str):
            column = fit_params["groups"]
            if column not in data.columns:
                raise FormulaError(f"{name}.fit: groups: the data has no column {column!r}")
            if data[column].isna().any():
                raise FormulaError(f"{name}.fit: groups: column {column!r} has missing values")
            fit_params["groups"] = data[column].to_numpy()
        self.fit_intercept = spec.intercept  # the formula decides; not a constructor parameter here
        super().fit(X, target, **fit_params)
        self.design_info_, self.model_spec_ = spec, spec.model_spec
        name_intercept(self)
        return self

    def _formula_design(self, data):
        """X for ``data``; a DataFrame that already is the design (its columns exactly the design's,
        all float64: what the estimator's own methods pass on, e.g. ``score`` to ``predict``) is
        taken as it is."""
        self._check_fitted("design_info_")
        spec = self.design_info_
        if (isinstance(data, pd.DataFrame) and tuple(data.columns) == spec.columns
                and all(dtype == numpy.float64 for dtype in data.dtypes)):
            return data
        return apply_design(spec, data)

    def predict(self, data, **kwargs):
        """The estimator's ``predict`` on the design the formula builds from ``data``."""
        return super().predict(self._formula_design(data), **kwargs)

    def score(self, data, y=None):
        """The estimator's ``score`` (R² or accuracy) on ``data``, the target taken from the
        formula's left-hand side unless ``y`` is given."""
        X = self._formula_design(data)
        return super().score(X, target_values(self.design_info_, data) if y is None else y)

    def fit_stream(self, *args, **kwargs):
        raise TypeError(f"{type(self).__name__}: fit_stream takes arrays, not a formula; build each block with "
                        f"chainrule.formula.design_matrices and call the estimator's fit_stream")


class FormulaClassifier(FormulaModel):
    """A formula classifier: the target is the column's class labels."""

    _target_kind = "labels"

    def predict_proba(self, data):
        """The estimator's ``predict_proba`` on the design the formula builds from ``data``."""
        return super().predict_proba(self._formula_design(data))


def _formula_class(base, mixin):
    """``Formula<base>``: ``mixin`` over ``base``, constructed as ``(formula, **base's parameters
    except fit_intercept)``."""
    own = [p.replace(kind=inspect.Parameter.KEYWORD_ONLY)
           for n, p in inspect.signature(base.__init__).parameters.items() if n not in ("self", "fit_intercept")]
    name = f"Formula{base.__name__}"

    def __init__(self, formula, **params):
        if "fit_intercept" in params:
            raise TypeError(f"{name}: fit_intercept is set by the formula: write '- 1' (or '+ 0') for no intercept")
        base.__init__(self, **params)
        self.formula = formula

    positional = inspect.Parameter.POSITIONAL_OR_KEYWORD
    __init__.__signature__ = inspect.Signature(
        [inspect.Parameter("self", positional), inspect.Parameter("formula", positional), *own])
    __init__.__qualname__ = f"{name}.__init__"
    doc = (f"``stats.{base.__name__}`` fitted from a formula: ``{name}(formula, **params).fit(data)``; see "
           f":mod:`chainrule.formula.models`.")
    return type(name, (mixin, base), {"__init__": __init__, "__module__": __name__, "__qualname__": name,
                                       "__doc__": doc})


FormulaOLS = _formula_class(OLS, FormulaModel)
FormulaRidge = _formula_class(Ridge, FormulaModel)
FormulaLasso = _formula_class(Lasso, FormulaModel)
FormulaLogit = _formula_class(Logit, FormulaClassifier)
FormulaMNLogit = _formula_class(MNLogit, FormulaClassifier)


def ols(formula: str, data, *, groups=None, **params):
    """Ordinary least squares from a formula: ``FormulaOLS(formula, **params).fit(data)``
    (``params``: ``stats.OLS``'s, e.g. ``cov_type="HC3"``; ``groups``: a column name or one
    label per row, for ``cov_type="cluster"``). A formula ending in ``| firm + year`` absorbs those
    fixed effects (:func:`chainrule.formula.panel.absorbed_ols`, ``stats.OLS(absorb=...)``)."""
    if isinstance(formula, str) and "|" in formula:
        from .panel import absorbed_ols

        return absorbed_ols(formula, data, groups=groups, **params)
    return FormulaOLS(formula, **params).fit(data, groups=groups)


def logit(formula: str, data, **params):
    """Binary logistic regression from a formula (the target: a column of two class labels);
    ``params``: ``stats.Logit``'s."""
    return FormulaLogit(formula, **params).fit(data)


def mnlogit(formula: str, data, **params):
    """Multinomial logistic regression from a formula (the target: a column of class labels);
    ``params``: ``stats.MNLogit``'s."""
    return FormulaMNLogit(formula, **params).fit(data)


def ridge(formula: str, data, **params):
    """Ridge regression from a formula; ``params``: ``stats.Ridge``'s (e.g. ``alpha=1.0``)."""
    return FormulaRidge(formula, **params).fit(data)


def lasso(formula: str, data, **params):
    """The lasso from a formula; ``params``: ``stats.Lasso``'s (e.g. ``alpha=0.1``)."""
    return FormulaLasso(formula, **params).fit(data)
