r"""Optimization error against statistical error: when does more gradient descent stop mattering?

:func:`optimization_vs_statistical` runs gradient descent on the least-squares or logistic
loss and compares ‖θ_k − θ̂‖ with the standard errors of the estimate θ̂ (from
:mod:`chainrule.stats`): once the optimization error is a small fraction of the smallest
standard error, no reported estimate, interval or test can change visibly by optimizing
further.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from ..engine import autograd
from ..engine.backend import host as np
from ..engine.tensor import tensor
from .constants import closed_form_constants, design_matrix
from .curvature import positive_number
from .rates import log_axis_values

__all__ = ["OptimizationVsStatistical", "optimization_vs_statistical"]


@dataclass
class OptimizationVsStatistical:
    r"""Gradient descent's distance to θ̂ next to θ̂'s standard errors (see
    :func:`optimization_vs_statistical`).

    Attributes:
        model: "ols" or "logit"; names: the coefficient names; theta_hat, bse: the estimate
        and its standard errors (from :class:`chainrule.stats.OLS` / ``Logit``).
        k: iterations 0 … K; error: ‖θ_k − θ̂‖₂; error_in_se: max_j |θ_kj − θ̂_j| / se_j.
        fraction, threshold: the target and fraction · min_j se_j.
        k_threshold: the first k with ‖θ_k − θ̂‖₂ ≤ threshold (None if not reached).
        lr, L: the step 1/L and the smoothness constant used.
        theta: the last iterate θ_K.
    """

    model: str
    names: list
    theta_hat: object = field(repr=False)
    bse: object = field(repr=False)
    k: object = field(repr=False)
    error: object = field(repr=False)
    error_in_se: object = field(repr=False)
    fraction: float = 0.01
    threshold: float = 0.0
    k_threshold: int | None = None
    lr: float = 0.0
    L: float = 0.0
    theta: object = field(default=None, repr=False)

    def table(self) -> list:
        """One dict per coefficient: estimate, standard error, GD value at k_threshold (or the last)."""
        return [
            {"coefficient": name, "estimate": float(b), "std_error": float(s),
             "gd_final": float(g), "abs_difference": float(abs(g - b)), "difference_in_se": float(abs(g - b) / s)}
            for name, b, s, g in zip(self.names, self.theta_hat, self.bse, self.theta)
        ]

    def figure(self):
        """‖θ_k − θ̂‖ against k (log y) with the smallest standard error and the threshold."""
        from matplotlib.figure import Figure  # noqa: PLC0415

        figure = Figure(figsize=(6.4, 4.2), layout="constrained")
        axes = figure.add_subplot()
        axes.semilogy(self.k, log_axis_values(self.error), color="black", label="optimization error ‖θ_k − θ̂‖")
        axes.axhline(float(np.min(self.bse)), color="tab:blue", label="smallest standard error of θ̂")
        axes.axhline(float(np.max(self.bse)), color="tab:blue", linestyle=":", label="largest standard error of θ̂")
        axes.axhline(self.threshold, color="tab:red", linestyle="--",
                     label=f"{self.fraction:g} × smallest standard error")
        if self.k_threshold is not None:
            axes.axvline(self.k_threshold, color="grey", linewidth=0.8, label=f"k = {self.k_threshold}")
        axes.set_xlabel("gradient-descent iteration k (steps)")
        axes.set_ylabel("distance to θ̂ (coefficient units)")
        axes.set_title(f"{self.model}: optimization error vs statistical error")
        axes.legend()
        return figure


def optimization_vs_statistical(X, y, model: str = "ols", *, fit_intercept: bool = True,
                                fraction: float = 0.01, lr=None, max_iter: int = 20_000,
                                names=None) -> OptimizationVsStatistical:
    r"""When does more optimization stop mattering? ‖θ_k − θ̂‖ of gradient descent vs se(θ̂).

    θ̂ and its standard errors come from :class:`chainrule.stats.OLS` (QR) or
    :class:`chainrule.stats.Logit` (Newton). Gradient descent then starts at θ_0 = 0 on the
    mean loss (chainrule autograd, float64), Z = [1, X] with an intercept::

        ols:    f(θ) = (1/(2n)) ‖y − Zθ‖²,                 L = λ_max(Z'Z)/n
        logit:  f(θ) = (1/n) Σ [log(1 + e^{z_i'θ}) − y_i z_i'θ],  L = λ_max(Z'Z)/(4n)
        θ_{k+1} = θ_k − t ∇f(θ_k),  t = 1/L unless ``lr`` is given

    and records ‖θ_k − θ̂‖₂ and max_j |θ_kj − θ̂_j| / se_j. Once ‖θ_k − θ̂‖ ≤ fraction ·
    min_j se_j, every coefficient is within ``fraction`` standard errors of θ̂, so no
    reported estimate, interval or test can change visibly by optimizing further: the
    optimization error is negligible next to the statistical error. The iteration stops at
    ``max_iter`` or once the error is below fraction/100 · min se. Standardize X first on
    raw data: GD's rate depends on κ(Z'Z), and columns on different scales make it huge.

    Args:
        X: (n, p) array or DataFrame of regressors; y: (n,) response (0/1 for "logit").
        model: "ols" or "logit".
        fit_intercept: include a constant (first coefficient, named "const").
        fraction: the fraction of the smallest standard error (default 0.01).
        lr: the step (default 1/L).
        max_iter: the most gradient steps.
        names: coefficient names (default: from the estimator).
    """
    if model not in ("ols", "logit"):
        raise ValueError(f"optimization_vs_statistical: model must be 'ols' or 'logit'; got {model!r}")
    fraction = positive_number(fraction, "fraction", "optimization_vs_statistical")
    if isinstance(max_iter, bool) or not isinstance(max_iter, int) or max_iter < 1:
        raise ValueError(f"optimization_vs_statistical: max_iter must be an int >= 1; got {max_iter!r}")
    from .. import stats  # noqa: PLC0415 - stats pulls in scipy

    estimator = (stats.OLS(fit_intercept=fit_intercept) if model == "ols"
                 else stats.Logit(fit_intercept=fit_intercept)).fit(X, y)
    theta_hat = np.asarray(estimator.params, dtype=np.float64).reshape(-1)
    bse = np.asarray(estimator.bse, dtype=np.float64).reshape(-1)
    if names is None:
        names = list(getattr(estimator, "param_names_", None) or getattr(estimator.results_, "names", []))
    names = [str(name) for name in names] or [f"x{j}" for j in range(theta_hat.size)]
    Z = design_matrix(np.asarray(X, dtype=np.float64), fit_intercept, "optimization_vs_statistical")
    target = _response(y, estimator, model)
    constants = closed_form_constants(Z, "least_squares" if model == "ols" else "logistic")
    t = 1.0 / constants.L if lr is None else positive_number(lr, "lr", "optimization_vs_statistical")
    threshold = fraction * float(np.min(bse))
    path = _gradient_descent_path(Z, target, model, t, max_iter, theta_hat, threshold / 100.0)
    error = np.linalg.norm(path - theta_hat, axis=1)
    error_in_se = np.max(np.abs(path - theta_hat) / bse, axis=1)
    reached = np.flatnonzero(error <= threshold)
    return OptimizationVsStatistical(
        model=model, names=names, theta_hat=theta_hat, bse=bse, k=np.arange(error.size), error=error,
        error_in_se=error_in_se, fraction=fraction, threshold=threshold,
        k_threshold=int(reached[0]) if reached.size else None, lr=t, L=constants.L, theta=path[-1].copy(),
    )


def _gradient_descent_path(Z, target, model, t, max_iter, theta_hat, stop_below):
    """θ_0 = 0, …, θ_K of gradient descent on the mean loss, gradients by chainrule autograd."""
    import chainrule.nn.functional as F  # noqa: PLC0415 - nn imports this package's siblings

    Z_t = tensor(Z, dtype=np.float64)
    y_t = tensor(target, dtype=np.float64)
    theta = tensor(np.zeros(Z.shape[1]), dtype=np.float64, requires_grad=True)
    path = [theta.numpy().copy()]
    for _ in range(max_iter):
        theta.grad = None
        with autograd.enable_grad():
            eta = Z_t @ theta
            if model == "ols":
                loss = 0.5 * ((eta - y_t) ** 2).mean()
            else:
                loss = F.binary_cross_entropy_with_logits(eta, y_t)
            loss.backward()
        theta.data -= t * theta.grad.data
        path.append(theta.numpy().copy())
        if np.linalg.norm(path[-1] - theta_hat) <= stop_below:
            break
    return np.asarray(path)


def _response(y, estimator, model):
    values = np.asarray(y)
    if model == "ols":
        return values.astype(np.float64).reshape(-1)
    classes = list(estimator.classes_)
    return (values.reshape(-1) == classes[1]).astype(np.float64)
