"""Model formulas: ``ols("invest ~ value + capital + C(firm)", data)``, as statsmodels' formula
API, read by formulaic.

design     design_matrices(formula, data) -> (y, X, FormulaSpec); apply_design(spec, new_data);
           FormulaError (unknown columns, missing values, unseen levels, non-numeric targets)
models     ols, logit, mnlogit, ridge, lasso: the fitted chainrule.stats estimator, whose predict,
           predict_proba and score take DataFrames (FormulaOLS, FormulaLogit, ... and their
           attributes formula, design_info_, model_spec_)
panel      ols("y ~ x | firm + year") absorbs fixed effects; iv2sls, ivliml ("y ~ x + (d ~ z1 + z2)")

The same engine serves any caller that has a formula and a table (the command line's
``--formula``): :func:`design_matrices` for the fit, :func:`apply_design` for new data.
"""
from .design import FormulaError, FormulaSpec, apply_design, design_matrices, target_values
from .models import (
    FormulaLasso,
    FormulaLogit,
    FormulaMNLogit,
    FormulaModel,
    FormulaOLS,
    FormulaRidge,
    lasso,
    logit,
    mnlogit,
    ols,
    ridge,
)
from .panel import iv2sls, ivliml

__all__ = [
    "FormulaError", "FormulaSpec", "design_matrices", "apply_design", "target_values",
    "ols", "logit", "mnlogit", "ridge", "lasso", "iv2sls", "ivliml",
    "FormulaModel", "FormulaOLS", "FormulaLogit", "FormulaMNLogit", "FormulaRidge", "FormulaLasso",
]
