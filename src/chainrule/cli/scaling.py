"""``--standardize/--no-standardize``: fitting on standardized features and reporting on the
original scale.

Where the scale of a column changes the fit — a penalty (ridge, lasso, elastic net, penalized
logit), principal components (pcr), a gradient method's step size (mlp, ``--solver gd|adam|fista``)
— ``chainrule fit`` standardizes the numeric features by default (chapter 7's advice: "standardize
the columns first"): z_j = (x_j − m_j) / s_j with m_j and s_j the mean and the population
standard deviation of column j on the *training* rows only (categorical dummies stay 0/1). The
statistics are saved with the model (the encoder in ``model.json``), so ``chainrule predict``
re-applies them.

Where it does not change the fit it is refused (exit code 2, :mod:`~chainrule.cli.applicability`):
least squares (ols, stepwise) and maximum likelihood (logit, mnlogit by Newton) are equivariant —
the fit on z has coefficients b̃_j = b_j s_j, the same predictions, t statistics and p-values.

The estimates are reported on the original scale. With b̃ the coefficients on z and b̃₀ the
intercept, x's coefficients are

    b_j = b̃_j / s_j,   b₀ = b̃₀ − Σ_j b̃_j m_j / s_j,

that is θ = A θ̃ with A = [[1, −(m/s)ᵀ], [0, diag(1/s)]], and for a model with standard errors
(``--solver gd|adam``) Cov(θ) = A Cov(θ̃) Aᵀ (a linear map of the estimates); average marginal
effects divide by s_j as the slopes do.
"""
from __future__ import annotations

import copy

import numpy as np

# Models whose fit depends on the scale of the columns (with --penalty for logit).
SCALE_DEPENDENT = ("ridge", "lasso", "elasticnet", "pcr", "mlp", "textcnn", "gru", "transformer")
GRADIENT_SOLVERS = ("gd", "adam", "fista")

WHERE = ("--model ridge|lasso|elasticnet|pcr|mlp|textcnn|gru|transformer, logit --penalty and --solver gd|adam|fista "
         "(where the scale of a column changes the fit)")
REASON = ("ols and stepwise (least squares) and logit and mnlogit by Newton give the same fit on either scale "
          "(the coefficients on standardized columns are b_j * sd_j, with the same predictions, t statistics "
          "and p-values), so there is nothing to switch; it applies to " + WHERE)


def applies(args) -> bool:
    """True where standardizing the inputs changes the fit (so it is on by default)."""
    model = getattr(args, "model", None)
    return (model in SCALE_DEPENDENT
            or (model == "logit" and getattr(args, "penalty", None) is not None)
            or getattr(args, "solver", None) in GRADIENT_SOLVERS)


def standardize_inputs(args) -> bool:
    """Whether ``chainrule fit`` standardizes the inputs: ``--standardize/--no-standardize`` where
    typed, else on wherever it :func:`applies`."""
    chosen = getattr(args, "standardize", None)
    return applies(args) if chosen is None else bool(chosen)


def scaling_of(data):
    """``(mean, sd)`` arrays (one entry per encoded feature; 0 and 1 for the columns left as they
    are) when the features were standardized, else None."""
    encoder = getattr(data, "encoder", None)
    mean = getattr(encoder, "mean_", None)
    if mean is None:
        return None
    return np.asarray(mean, dtype=np.float64), np.asarray(encoder.scale_, dtype=np.float64)


def note(data) -> str:
    """The note under an estimates table of a model fitted on standardized features."""
    encoder = data.encoder
    kinds = getattr(encoder, "column_kinds_", {})
    scaled = [name for name in encoder.feature_names_ if kinds.get(name) == "numeric"]
    kept = len(encoder.feature_names_) - len(scaled)
    left = f" (the {kept} dummy columns of categorical inputs kept 0/1)" if kept else ""
    return (f"fitted on standardized features: the {len(scaled)} numeric columns centred by their mean and divided "
            f"by their standard deviation on the {encoder.n_rows_standardize_} training rows{left}; coefficients "
            f"are reported on the original scale (b_j = b~_j / sd_j, intercept b~_0 - sum_j b~_j mean_j / sd_j)")


def without_intercept(args, standardize: bool) -> bool:
    """Centring a column adds an intercept (b̃_j z_j = b_j x_j − b_j m_j), so a fit without one
    (``--no-intercept``, a formula's ``- 1``) is not standardized: refused when ``--standardize``
    was typed, else a warning says so. Returns whether to standardize."""
    import warnings

    from .errors import CommandError

    if not (standardize and getattr(args, "no_intercept", False) and getattr(args, "model", None) != "mlp"):
        return standardize
    if getattr(args, "standardize", None) is True:  # typed (the default is None until the fit records it)
        raise CommandError("--standardize and a fit without an intercept: centring the columns adds an intercept; "
                           "drop --standardize (or --no-intercept / the formula's - 1)")
    warnings.warn("the inputs are not standardized: the fit has no intercept, which centring would add "
                  "(--no-standardize is implied)", UserWarning, stacklevel=2)
    return False


def to_original(coef, intercept, scaling):
    """(coef, intercept) on x's scale from those on z's: coef (p,) or (p, k), intercept scalar or (k,)."""
    mean, sd = scaling
    coef = np.asarray(coef, dtype=np.float64)
    shape = (-1,) + (1,) * (coef.ndim - 1)
    slopes = coef / sd.reshape(shape)
    return slopes, np.asarray(intercept, dtype=np.float64) - np.tensordot(mean, slopes, axes=(0, 0))


def map_matrix(scaling, intercept: bool) -> np.ndarray:
    """A with θ = A θ̃ (the intercept first when ``intercept``)."""
    mean, sd = scaling
    p = len(sd)
    if not intercept:
        return np.diag(1.0 / sd)
    A = np.zeros((p + 1, p + 1))
    A[0, 0] = 1.0
    A[0, 1:] = -mean / sd
    A[1:, 1:] = np.diag(1.0 / sd)
    return A


def original_scale_results(estimator, scaling):
    """A copy of a fitted OLS or Logit whose ``params``, covariance, ``summary()`` and ``conf_int()``
    are on x's scale (θ = A θ̃, V = A Ṽ Aᵀ); the estimator itself when ``scaling`` is None."""
    if scaling is None or estimator is None:
        return estimator
    intercept = bool(getattr(estimator, "fit_intercept", True))
    A = map_matrix(scaling, intercept)
    results = getattr(estimator, "results_", None)
    if results is not None and hasattr(results, "_params"):  # OLS: its results object
        shown = copy.copy(results)
        shown._params = A @ np.asarray(results._params, dtype=np.float64)
        shown._cov = A @ np.asarray(results._cov, dtype=np.float64) @ A.T
        view = copy.copy(estimator)
        view.results_ = shown
        return view
    if hasattr(estimator, "params_") and np.ndim(estimator.params_) == 1:  # Logit
        view = copy.copy(estimator)
        view.params_ = A @ np.asarray(estimator.params_, dtype=np.float64)
        view._cov = A @ np.asarray(estimator._cov_array(), dtype=np.float64) @ A.T
        return view
    return estimator


def original_scale_margeff(margeff, scaling):
    """Average marginal effects of a binary Logit on x's scale: dP/dx_j = (dP/dz_j) / sd_j."""
    if scaling is None:
        return margeff
    sd = scaling[1]
    return type(margeff)(margeff.names, np.asarray(margeff.margeff, dtype=np.float64) / sd,
                         np.asarray(margeff.margeff_cov, dtype=np.float64) / np.outer(sd, sd),
                         margeff.alpha, margeff.endog_name, classes=margeff.classes, method=margeff.method,
                         at=margeff.at, dummy_idx=margeff.dummy_idx, count_idx=margeff.count_idx,
                         model=margeff.model)
