r"""L and μ of the least-squares, ridge and logistic losses in closed form, from the design matrix.

For a mean loss over the n rows of a design Z the Hessian is a Gram matrix (weighted, for the
logistic loss), so L = λ_max and μ = λ_min are its extreme eigenvalues; see
:func:`closed_form_constants` for the table of losses. :mod:`chainrule.theory.curvature`
estimates the same constants for any loss from Hessian-vector products.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from ..engine.backend import host as np
from .curvature import as_number

__all__ = ["ClosedFormConstants", "closed_form_constants", "LOSSES"]

#: The losses :func:`closed_form_constants` knows, each a mean over the n rows.
LOSSES = ("least_squares", "mse", "ridge", "logistic")


@dataclass
class ClosedFormConstants:
    """L and μ of a loss from its design matrix (see :func:`closed_form_constants`).

    Attributes: ``loss``, ``L``, ``mu``, ``hessian`` (the p x p matrix whose eigenvalues they
    are: the Hessian, or for the logistic loss without ``theta`` its upper bound X'X/(4n)),
    ``is_global`` (whether L and μ hold everywhere, not only at ``theta``).
    """

    loss: str
    L: float
    mu: float
    hessian: object = field(repr=False)
    is_global: bool = True


def closed_form_constants(X, loss: str = "least_squares", *, alpha: float = 0.0, theta=None,
                          fit_intercept: bool = False) -> ClosedFormConstants:
    r"""L = λ_max and μ = λ_min of the Hessian of a mean loss over the rows of X, in closed form.

    With Z = X (or [1, X] when ``fit_intercept``), n rows, η = Zθ:

    ==============  =========================================  ===========================
    loss            f(θ)                                       ∇²f(θ)
    ==============  =========================================  ===========================
    least_squares   (1/(2n)) ‖y − Zθ‖²                          Z'Z / n
    mse             (1/n) ‖y − Zθ‖²  (``nn.MSELoss``)           2 Z'Z / n
    ridge           (1/(2n)) ‖y − Zθ‖² + (α/2) ‖θ‖²             Z'Z / n + α I
    logistic        (1/n) Σ [log(1 + e^{η_i}) − y_i η_i]        Z'WZ / n + α I, W = diag(p_i(1 − p_i))
                    (+ (α/2)‖θ‖² when α > 0)
    ==============  =========================================  ===========================

    For the logistic loss p_i(1 − p_i) ≤ 1/4, so L = λ_max(Z'Z)/(4n) + α holds globally (and
    is attained at θ = 0); without ``theta`` the returned μ is α (the loss alone is not
    strongly convex on all of R^p), with ``theta`` L and μ are those of Z'W(θ)Z/n + α I there.
    """
    if loss not in LOSSES:
        raise ValueError(f"closed_form_constants: loss must be one of {', '.join(map(repr, LOSSES))}; got {loss!r}")
    Z = design_matrix(X, fit_intercept, "closed_form_constants")
    alpha = _nonnegative(alpha, "alpha", "closed_form_constants")
    if loss in ("least_squares", "mse") and alpha != 0.0:
        raise ValueError(
            f"closed_form_constants: alpha applies to loss='ridge' or 'logistic'; got alpha={alpha} with "
            f"loss={loss!r}"
        )
    n, k = Z.shape
    gram = Z.T @ Z / n
    if loss == "logistic":
        if theta is None:
            hessian = gram / 4.0 + alpha * np.eye(k)
            L = float(np.linalg.eigvalsh(hessian)[-1])
            return ClosedFormConstants(loss, L, alpha, hessian, True)
        theta = np.asarray(theta, dtype=np.float64).reshape(-1)
        if theta.size != k:
            raise ValueError(
                f"closed_form_constants: theta must have {k} entries (columns of the design); got "
                f"{theta.size}"
            )
        p = 1.0 / (1.0 + np.exp(-(Z @ theta)))
        hessian = (Z * (p * (1.0 - p))[:, None]).T @ Z / n + alpha * np.eye(k)
        values = np.linalg.eigvalsh(hessian)
        return ClosedFormConstants(loss, float(values[-1]), float(values[0]), hessian, False)
    factor = 2.0 if loss == "mse" else 1.0
    hessian = factor * gram + alpha * np.eye(k)
    values = np.linalg.eigvalsh(hessian)
    return ClosedFormConstants(loss, float(values[-1]), float(max(values[0], 0.0)), hessian, True)


def design_matrix(X, fit_intercept, where):
    """X as a float64 design, checked (2-D, finite), with a leading column of ones when ``fit_intercept``."""
    Z = np.asarray(X, dtype=np.float64)
    if Z.ndim != 2 or Z.shape[0] == 0:
        raise ValueError(f"{where}: X must be a 2-D array with at least one row; got shape {Z.shape}")
    if not np.all(np.isfinite(Z)):
        raise ValueError(f"{where}: X has {int(np.sum(~np.isfinite(Z)))} non-finite value(s)")
    return np.hstack([np.ones((Z.shape[0], 1)), Z]) if fit_intercept else Z


def _nonnegative(value, name, where):
    value = as_number(value, name, where)
    if value < 0:
        raise ValueError(f"{where}: {name} must be >= 0; got {value}")
    return value
