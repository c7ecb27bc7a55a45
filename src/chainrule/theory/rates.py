r"""Optimization theory you can check on your own model: L, μ, the 1/L step, rate certificates.

The claims (Nesterov, *Lectures on Convex Optimization*, 2nd ed., 2018, §2.1; Boyd &
Vandenberghe, *Convex Optimization*, 2004, §9.3) for gradient descent x_{k+1} = x_k − t ∇f(x_k)
on a function f with minimizer x* and minimum f*:

* f is **L-smooth** when ‖∇f(x) − ∇f(z)‖ ≤ L ‖x − z‖; for twice-differentiable f this is
  L = sup_x λ_max(∇²f(x)). f is **μ-strongly convex** when ∇²f(x) ⪰ μ I everywhere.
* convex and L-smooth, constant step t ≤ 1/L (the sublinear, O(1/k) rate)::

      f(x_k) − f* ≤ ‖x_0 − x*‖² / (2 t k)                          for k ≥ 1

* additionally μ-strongly convex, t ≤ 1/L (the linear rate; write M = 1/t ≥ L)::

      f(x_k) − f* ≤ (1 − μ/M)^k (f(x_0) − f*)
      k* = ⌈ log((f(x_0) − f*)/ε) / log(1/(1 − μ/M)) ⌉  steps guarantee f(x_k) − f* ≤ ε

  (from f(x_{k+1}) ≤ f(x_k) − (t/2)‖∇f(x_k)‖² and ‖∇f(x)‖² ≥ 2μ (f(x) − f*)).
* the step 2/(L + μ) contracts the distance to x* fastest among constant steps:
  ‖x_{k+1} − x*‖ ≤ ((κ − 1)/(κ + 1)) ‖x_k − x*‖ with κ = L/μ.

What this module computes:

* :func:`smoothness` and :func:`strong_convexity` estimate the largest and smallest eigenvalue
  of the Hessian at given parameters. chainrule's backward pass works on raw arrays and does
  not record a graph of its own (no double backward), so Hessian-vector products are
  **central differences of autodiff gradients**, in float64::

      H v ≈ (∇f(x + h v) − ∇f(x − h v)) / (2h),   ‖v‖ = 1,  h = 1e-5 · max(1, ‖x‖)

  which is exact up to rounding for quadratics (their gradient is affine) and has error
  O(h²) otherwise. λ_max comes from power iteration on v ↦ Hv (with a shift when the
  dominant eigenvalue is negative), λ_min from power iteration on v ↦ (s I − H) v with
  s ≥ λ_max, or, for up to ``dense_max`` parameters, from the eigenvalues of the whole
  Hessian assembled from p Hessian-vector products.
* :func:`closed_form_constants`: L and μ of the least-squares, ridge and logistic losses
  from the design matrix.
* :func:`step_size`: 1/L, and 2/(L + μ) with its contraction factor when μ > 0.
* :func:`certificate`: the observed gap f(x_k) − f* of a run against both bounds.
* :func:`optimization_vs_statistical`: ‖θ_k − θ̂‖ of gradient descent against the standard
  errors of θ̂, and the iteration from which further optimization changes no conclusion.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

from ..engine import autograd
from ..engine.backend import host as np
from ..engine.tensor import Tensor, tensor

__all__ = [
    "CurvatureEstimate", "smoothness", "strong_convexity", "hessian_vector_product",
    "ClosedFormConstants", "closed_form_constants", "LOSSES",
    "StepSizeAdvice", "step_size",
    "Certificate", "certificate",
    "OptimizationVsStatistical", "optimization_vs_statistical",
]

#: The losses :func:`closed_form_constants` knows, each a mean over the n rows.
LOSSES = ("least_squares", "mse", "ridge", "logistic")

_FD_STEP = 1e-5        # relative central-difference step: about eps^(1/3) for float64
_BOUND_SLACK = 1e-9    # relative rounding slack when comparing a gap with a bound


# =========================================================================== curvature

@dataclass
class CurvatureEstimate:
    """An eigenvalue of the Hessian ∇²f(x) at the given parameters.

    Attributes:
        value: the eigenvalue (L for :func:`smoothness`, μ for :func:`strong_convexity`).
        which: "largest" or "smallest".
        method: "power" (power iteration) or "dense" (all eigenvalues of the assembled Hessian).
        iterations: Hessian-vector products used.
        converged: whether successive estimates agreed to ``tol`` (always True for "dense").
        vector: the eigenvector (flattened over all parameters, unit norm, float64).
        history: the successive estimates of the eigenvalue (power iteration).

    ``float(estimate)`` is ``estimate.value``.
    """

    value: float
    which: str
    method: str
    iterations: int
    converged: bool
    vector: object = field(repr=False)
    history: object = field(repr=False)

    def __float__(self) -> float:
        return float(self.value)


def smoothness(fn, params, iters: int = 50, *, tol: float = 1e-10, seed: int = 0,
               method: str = "power", dense_max: int = 400) -> CurvatureEstimate:
    r"""Estimate L = λ_max(∇²f(x)), the local smoothness constant of ``fn`` at ``params``.

    Power iteration (Golub & Van Loan, *Matrix Computations*, 4th ed., §7.3.1) on
    Hessian-vector products, v_0 random (``seed``) and::

        w = H v_k,   λ_k = v_k' w  (Rayleigh quotient),   v_{k+1} = w / ‖w‖

    stopping when |λ_k − λ_{k−1}| ≤ tol · |λ_k| or after ``iters`` products. The error of
    λ_k shrinks like (λ_2/λ_1)^{2k}. Power iteration finds the eigenvalue of largest
    magnitude; if that is negative (a non-convex point), it is run again on H − λ I, whose
    largest eigenvalue is λ_max − λ. Hv is a central difference of autodiff gradients in
    float64 (see the module docstring): exact up to rounding for quadratics.

    For a convex function whose Hessian is largest at the point given (least squares: the
    Hessian is constant; logistic regression: at θ = 0, where every p_i(1 − p_i) = 1/4) this
    is the global smoothness constant; elsewhere it is a local one.

    Args:
        fn: a function called as ``fn(*params)`` returning a one-element tensor (as for
            :func:`chainrule.optim.minimize`); it may ignore its arguments and read a model's
            parameters, provided ``params`` are those parameters.
        params: a float64 tensor or list of float64 tensors (``model.double()`` first for a
            network). Their values are perturbed during the estimate and restored exactly.
        iters: the most Hessian-vector products for power iteration (default 50).
        tol: relative change of the estimate at which power iteration stops.
        seed: seed of the random start vector.
        method: "power" (default) or "dense" (assemble the p x p Hessian from p products and
            take its eigenvalues; exact up to rounding, allowed for p ≤ ``dense_max``).
        dense_max: the most parameters for which method="dense" is allowed.
    """
    problem = _HessianProblem(fn, params, "smoothness")
    _check_iteration_args(iters, tol, method, "smoothness")
    return problem.largest(iters, tol, seed) if method == "power" else problem.dense("largest", dense_max)


def strong_convexity(fn, params, iters: int = 1000, *, L=None, tol: float = 1e-10, seed: int = 0,
                     method: str = "auto", dense_max: int = 400) -> CurvatureEstimate:
    r"""Estimate μ = λ_min(∇²f(x)), the local strong-convexity constant of ``fn`` at ``params``.

    * method="dense" (the default "auto" picks it for at most ``dense_max`` parameters):
      H is assembled column by column, H e_j, from p Hessian-vector products, symmetrized,
      and μ is its smallest eigenvalue (``numpy.linalg.eigvalsh``).
    * method="power": power iteration on the shifted operator v ↦ (s I − H) v with
      s = 1.01 · L (L from ``L=`` or from :func:`smoothness`), which is positive
      semidefinite with largest eigenvalue s − μ; convergence is slow when κ = L/μ is large
      (error ∝ ((s − λ_2)/(s − μ))^{2k}), so ``iters`` defaults to 1000.

    For least squares the Hessian is X'X/n everywhere, so μ is exact (and global); see also
    :func:`closed_form_constants`. Arguments as for :func:`smoothness`; ``L`` may be a
    number or a :class:`CurvatureEstimate`.
    """
    problem = _HessianProblem(fn, params, "strong_convexity")
    if method == "auto":
        method = "dense" if problem.size <= dense_max else "power"
    _check_iteration_args(iters, tol, method, "strong_convexity")
    if method == "dense":
        return problem.dense("smallest", dense_max)
    if L is None:
        L = problem.largest(max(iters, 50), tol, seed).value
    shift = 1.01 * abs(_as_number(L, "L", "strong_convexity")) + 1e-300
    estimate = problem.power(lambda v: shift * v - problem.hvp(v), iters, tol, seed)
    return CurvatureEstimate(shift - estimate.value, "smallest", "power", estimate.iterations,
                             estimate.converged, estimate.vector, shift - estimate.history)


def hessian_vector_product(fn, params, vector):
    """H v at ``params`` by a central difference of autodiff gradients (float64).

    ``vector`` is a flat array with one entry per scalar parameter (in the order of
    ``params``). Returns a flat float64 NumPy array. See the module docstring for the step h.
    """
    problem = _HessianProblem(fn, params, "hessian_vector_product")
    v = np.asarray(vector, dtype=np.float64).reshape(-1)
    if v.size != problem.size:
        raise ValueError(
            f"hessian_vector_product: vector must have one entry per parameter ({problem.size}); got {v.size}"
        )
    norm = float(np.linalg.norm(v))
    if norm == 0.0:
        return np.zeros_like(v)
    return problem.hvp(v / norm) * norm


class _HessianProblem:
    """f and its parameters, with Hessian-vector products by central differences."""

    def __init__(self, fn, params, where: str):
        if not callable(fn):
            raise TypeError(f"{where}: fn must be callable as fn(*params); got {type(fn).__name__}")
        tensors = [params] if isinstance(params, Tensor) else _as_list(params, where)
        if not tensors:
            raise ValueError(f"{where}: params is empty; pass the tensors fn depends on")
        for position, p in enumerate(tensors):
            if not isinstance(p, Tensor):
                raise TypeError(f"{where}: params[{position}] is a {type(p).__name__}; expected a chainrule Tensor")
            if p.data.dtype != np.float64:
                raise TypeError(
                    f"{where}: params[{position}] has dtype {p.dtype}; Hessian-vector products are "
                    f"central differences of gradients and need float64 (call model.double() or "
                    f"create the tensors with dtype=chainrule.float64)"
                )
            if not p.requires_grad:
                raise ValueError(f"{where}: params[{position}] does not require grad; call .requires_grad_()")
        self.fn, self.tensors, self.where = fn, tensors, where
        self.size = sum(int(p.data.size) for p in tensors)
        self.x0 = np.concatenate([np.asarray(p.data, dtype=np.float64).reshape(-1) for p in tensors])
        self.step = _FD_STEP * max(1.0, float(np.linalg.norm(self.x0)))

    def gradient(self, x):
        """∇f at the flat point x (the parameters are restored to x0 afterwards)."""
        try:
            self._assign(x)
            for p in self.tensors:
                p.grad = None
            with autograd.enable_grad():
                value = self.fn(*self.tensors)
                _check_scalar(value, self.where)
                value.backward()
            parts = [np.zeros(p.data.size) if p.grad is None else np.asarray(p.grad.numpy(), dtype=np.float64).reshape(-1)
                     for p in self.tensors]
            return np.concatenate(parts)
        finally:
            self._assign(self.x0)
            for p in self.tensors:
                p.grad = None

    def hvp(self, v):
        """H v for a unit vector v."""
        h = self.step
        return (self.gradient(self.x0 + h * v) - self.gradient(self.x0 - h * v)) / (2.0 * h)

    def power(self, operator, iters, tol, seed):
        v = np.random.default_rng(seed).standard_normal(self.size)
        v /= np.linalg.norm(v)
        history, previous, converged = [], None, False
        for _ in range(iters):
            w = operator(v)
            value = float(v @ w)
            history.append(value)
            norm = float(np.linalg.norm(w))
            if not math.isfinite(value) or norm == 0.0:
                break
            v = w / norm
            if previous is not None and abs(value - previous) <= tol * abs(value):
                converged = True
                break
            previous = value
        values = np.asarray(history, dtype=np.float64)
        return CurvatureEstimate(float(values[-1]) if values.size else float("nan"), "largest", "power",
                                 len(history), converged, v, values)

    def largest(self, iters, tol, seed):
        estimate = self.power(self.hvp, iters, tol, seed)
        if estimate.value < 0:  # dominant eigenvalue negative: shift so the largest dominates
            shift = estimate.value
            shifted = self.power(lambda v: self.hvp(v) - shift * v, iters, tol, seed + 1)
            estimate = CurvatureEstimate(shifted.value + shift, "largest", "power",
                                         estimate.iterations + shifted.iterations, shifted.converged,
                                         shifted.vector, shifted.history + shift)
        return estimate

    def dense(self, which, dense_max):
        if self.size > dense_max:
            raise ValueError(
                f"{self.where}: method='dense' assembles the {self.size} x {self.size} Hessian; it is "
                f"allowed for at most dense_max={dense_max} parameters; use method='power'"
            )
        columns = [self.hvp(unit) for unit in np.eye(self.size)]
        H = np.stack(columns, axis=1)
        values, vectors = np.linalg.eigh(0.5 * (H + H.T))
        position = -1 if which == "largest" else 0
        return CurvatureEstimate(float(values[position]), which, "dense", self.size, True,
                                 vectors[:, position].copy(), values.copy())

    def _assign(self, x):
        offset = 0
        for p in self.tensors:
            count = int(p.data.size)
            p.data[...] = x[offset:offset + count].reshape(p.data.shape)  # in place: params may be views
            offset += count


# =========================================================================== closed forms

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
    Z = _design(X, fit_intercept, "closed_form_constants")
    alpha = _nonnegative(alpha, "alpha", "closed_form_constants")
    if loss in ("least_squares", "mse") and alpha != 0.0:
        raise ValueError(f"closed_form_constants: alpha applies to loss='ridge' or 'logistic'; got alpha={alpha} with loss={loss!r}")
    n, k = Z.shape
    gram = Z.T @ Z / n
    if loss == "logistic":
        if theta is None:
            hessian = gram / 4.0 + alpha * np.eye(k)
            L = float(np.linalg.eigvalsh(hessian)[-1])
            return ClosedFormConstants(loss, L, alpha, hessian, True)
        theta = np.asarray(theta, dtype=np.float64).reshape(-1)
        if theta.size != k:
            raise ValueError(f"closed_form_constants: theta must have {k} entries (columns of the design); got {theta.size}")
        p = 1.0 / (1.0 + np.exp(-(Z @ theta)))
        hessian = (Z * (p * (1.0 - p))[:, None]).T @ Z / n + alpha * np.eye(k)
        values = np.linalg.eigvalsh(hessian)
        return ClosedFormConstants(loss, float(values[-1]), float(values[0]), hessian, False)
    factor = 2.0 if loss == "mse" else 1.0
    hessian = factor * gram + alpha * np.eye(k)
    values = np.linalg.eigvalsh(hessian)
    return ClosedFormConstants(loss, float(values[-1]), float(max(values[0], 0.0)), hessian, True)


# =========================================================================== step size

@dataclass
class StepSizeAdvice:
    r"""Constant step sizes for gradient descent on an L-smooth (μ-strongly convex) f.

    Attributes:
        L, mu: the constants used (mu None or 0 when not strongly convex).
        lr: 1/L, the largest step for which the O(1/k) and linear-rate bounds hold.
        lr_strongly_convex: 2/(L + μ) when μ > 0, else None.
        condition_number: κ = L/μ (inf when μ = 0).
        gap_contraction: 1 − μ/L, the factor per step on f(x_k) − f* with step 1/L.
        distance_contraction: (κ − 1)/(κ + 1), the factor per step on ‖x_k − x*‖ with
            step 2/(L + μ) (None when μ = 0).
    """

    L: float
    mu: float | None
    lr: float
    lr_strongly_convex: float | None
    condition_number: float
    gap_contraction: float
    distance_contraction: float | None

    def as_dict(self) -> dict:
        """The fields as a plain dict (for tables)."""
        return dict(self.__dict__)


def step_size(L, mu=None) -> StepSizeAdvice:
    """Recommend the step 1/L (and 2/(L + μ) where μ > 0); L, μ numbers or :class:`CurvatureEstimate`.

    1/L guarantees descent, f(x_{k+1}) ≤ f(x_k) − (1/(2L))‖∇f(x_k)‖², and the O(1/k) bound;
    2/(L + μ) gives the fastest linear contraction of ‖x_k − x*‖ for strongly convex f
    (Nesterov 2018, Theorem 2.1.15).
    """
    L = _as_number(L, "L", "step_size")
    if not L > 0:
        raise ValueError(f"step_size: L must be > 0 (the largest Hessian eigenvalue of a convex loss); got {L}")
    mu_value = None if mu is None else _as_number(mu, "mu", "step_size")
    if mu_value is not None and mu_value < 0:
        raise ValueError(f"step_size: mu must be >= 0 (the function is not convex where mu < 0); got {mu_value}")
    if mu_value is not None and mu_value > L * (1 + 1e-9):
        raise ValueError(f"step_size: mu ({mu_value}) cannot exceed L ({L})")
    strongly = mu_value is not None and mu_value > 0
    kappa = L / mu_value if strongly else math.inf
    return StepSizeAdvice(
        L=L, mu=mu_value, lr=1.0 / L,
        lr_strongly_convex=2.0 / (L + mu_value) if strongly else None,
        condition_number=kappa,
        gap_contraction=1.0 - (mu_value / L if strongly else 0.0),
        distance_contraction=(kappa - 1.0) / (kappa + 1.0) if strongly else None,
    )


# =========================================================================== certificate

@dataclass
class Certificate:
    r"""A run's suboptimality f(x_k) − f* against the gradient-descent bounds.

    Attributes:
        k: iteration numbers 0 … K.
        gap: observed f(x_k) − f*.
        sublinear_bound: ‖x_0 − x*‖² / (2 t k) (NaN at k = 0; None without x_0 and x*).
        linear_bound: (1 − μ t)^k (f(x_0) − f*) (None without μ).
        sublinear_holds, linear_holds: bool arrays (gap ≤ bound, with a rounding slack of
            1e-9 relative plus 1e-12 · max(1, |f*|)), or None.
        lr: the step t; L, mu: the constants given; step_exceeds_1_over_L: t > 1/L (then the
            bounds are not guaranteed).
        eps: the accuracy asked for; k_star: ⌈log((f(x_0) − f*)/ε) / log(1/(1 − μt))⌉ (None
            without μ); k_observed: the first k with gap ≤ ε (None if never).
        notes: sentences on what could not be checked or why a bound is not guaranteed.
    """

    k: object = field(repr=False)
    gap: object = field(repr=False)
    sublinear_bound: object = field(repr=False)
    linear_bound: object = field(repr=False)
    sublinear_holds: object = field(repr=False)
    linear_holds: object = field(repr=False)
    lr: float
    L: float | None
    mu: float | None
    f_star: float
    step_exceeds_1_over_L: bool | None
    eps: float
    k_star: int | None
    k_observed: int | None
    notes: list

    @property
    def sublinear_tightness(self):
        """gap / sublinear bound per k ≥ 1 (1 = tight; ≤ 1 wherever the bound holds)."""
        return None if self.sublinear_bound is None else _ratio(self.gap, self.sublinear_bound)

    @property
    def linear_tightness(self):
        """gap / linear bound per k (1 = tight)."""
        return None if self.linear_bound is None else _ratio(self.gap, self.linear_bound)

    def summary(self) -> dict:
        """One row of facts: whether each bound holds at every k ≥ 1 (k = 0 is trivial), the first k
        where it fails (None if none), the largest gap/bound ratio (tightness), ε, k* and the
        observed first k with gap ≤ ε."""
        row = {"iterations": int(self.k[-1]), "lr": self.lr, "L": self.L, "mu": self.mu,
               "step_exceeds_1_over_L": self.step_exceeds_1_over_L, "final_gap": float(self.gap[-1])}
        for name in ("sublinear", "linear"):
            holds = getattr(self, f"{name}_holds")
            tightness = getattr(self, f"{name}_tightness")
            row[f"{name}_bound_holds"] = None if holds is None else bool(np.all(holds[1:]))
            failures = None if holds is None else np.flatnonzero(~holds[1:]) + 1
            row[f"{name}_first_violation"] = None if failures is None or not failures.size else int(failures[0])
            row[f"{name}_max_ratio"] = None if tightness is None else _nanmax(tightness[1:])
        row.update(eps=self.eps, k_star=self.k_star, k_observed=self.k_observed)
        return row

    def figure(self):
        """Observed gap and the bounds against k, both axes logarithmic (a matplotlib Figure)."""
        from matplotlib.figure import Figure  # noqa: PLC0415 - plotting is optional

        figure = Figure(figsize=(6.4, 4.2), layout="constrained")
        axes = figure.add_subplot()
        k = np.asarray(self.k, dtype=np.float64)
        shown = k >= 1  # k = 0 cannot appear on a log axis
        axes.loglog(k[shown], _positive(self.gap)[shown], label="observed f(x_k) − f*", color="black")
        if self.sublinear_bound is not None:
            axes.loglog(k[shown], self.sublinear_bound[shown], "--", label="‖x₀ − x*‖² / (2tk)")
        if self.linear_bound is not None:
            axes.loglog(k[shown], _positive(self.linear_bound)[shown], ":", label="(1 − μt)^k (f(x₀) − f*)")
        axes.axhline(self.eps, color="grey", linewidth=0.8, label=f"ε = {self.eps:g}")
        axes.set_xlabel("iteration k (steps)")
        axes.set_ylabel("suboptimality f(x_k) − f* (loss units)")
        title = "gradient descent: observed gap vs bounds"
        if self.step_exceeds_1_over_L:
            title += " (t > 1/L: not guaranteed)"
        axes.set_title(title)
        axes.legend()
        return figure


def certificate(result, f_star=None, x_star=None, L=None, mu=None, *, lr=None, x0=None,
                fn=None, eps: float = 1e-6) -> Certificate:
    r"""Check a gradient-descent run against the O(1/k) and linear-rate bounds.

    Args:
        result: the run: a :class:`chainrule.optim.MinimizeResult` of method "gd" (its
            ``objective`` is f(x_0) … f(x_K)), a :class:`chainrule.train.History` or a
            ``Trainer`` after full-batch training with plain SGD (its per-step losses
            f(x_0) … f(x_{K−1}) and learning rates), or a 1-D array of f(x_0), f(x_1), ….
        f_star: the minimum f*. If None, ``fn(*x_star)`` is used (``fn`` and ``x_star`` needed).
        x_star: the minimizer (a tensor, array or list of them) for the O(1/k) bound.
        L, mu: smoothness and strong-convexity constants (numbers or
            :class:`CurvatureEstimate`). With L the run is flagged when t > 1/L; with μ > 0
            the linear bound and k* are computed.
        lr: the constant step t; required for a MinimizeResult or an array (which do not
            record it), read from a History.
        x0: the starting point (same structure as ``x_star``) for the O(1/k) bound.
        fn: the objective, to compute f* = fn(*x_star) when ``f_star`` is None.
        eps: the accuracy ε for k* and the observed first k with f(x_k) − f* ≤ ε.

    Returns a :class:`Certificate` (``summary()`` for a table row, ``figure()`` for the plot).
    """
    objective, recorded_lr = _trajectory(result)
    t = recorded_lr if lr is None else _as_number(lr, "lr", "certificate")
    if t is None:
        raise ValueError(
            "certificate: lr is required: a MinimizeResult or an array of objective values does not "
            "record the step size; pass lr= (the learning rate of the run)"
        )
    if not t > 0:
        raise ValueError(f"certificate: lr must be > 0; got {t}")
    eps = _positive_number(eps, "eps", "certificate")
    f_star = _f_star(f_star, x_star, fn)
    L = None if L is None else _as_number(L, "L", "certificate")
    mu = None if mu is None else _as_number(mu, "mu", "certificate")
    notes = []
    k = np.arange(objective.size)
    gap = objective - f_star
    slack = _BOUND_SLACK * np.abs(gap) + 1e-12 * max(1.0, abs(f_star))
    if np.any(gap < -slack):
        notes.append(
            f"some f(x_k) are below f* by up to {float(-gap.min()):.3g}: f* is not the minimum "
            f"(or the run is not on the same objective)"
        )

    exceeds = None if L is None else bool(t > (1.0 / L) * (1 + 1e-12))
    if L is None:
        notes.append("L not given: whether t <= 1/L (the condition of both bounds) was not checked")
    elif exceeds:
        notes.append(f"the step t = {t:.6g} exceeds 1/L = {1.0 / L:.6g}: the bounds are not guaranteed for this run")

    sublinear = sublinear_holds = None
    if x0 is not None and x_star is not None:
        distance2 = float(np.sum((_flat(x0, "x0") - _flat(x_star, "x_star")) ** 2))
        with np.errstate(divide="ignore"):
            sublinear = np.where(k >= 1, distance2 / (2.0 * t * np.maximum(k, 1)), np.nan)
        sublinear_holds = np.where(k >= 1, gap <= sublinear + slack + _BOUND_SLACK * sublinear, True)
    else:
        notes.append("x0 and x_star not both given: the O(1/k) bound ||x0 - x*||^2 / (2tk) was not computed")

    linear = linear_holds = k_star = None
    if mu is not None and mu > 0:
        rate = max(1.0 - mu * t, 0.0)
        linear = rate ** k * gap[0]
        linear_holds = gap <= linear + slack + _BOUND_SLACK * linear
        k_star = _iterations_needed(gap[0], eps, rate)
    elif mu is not None:
        notes.append("mu = 0: not strongly convex, so no linear rate")
    below = np.flatnonzero(gap <= eps)
    return Certificate(k, gap, sublinear, linear, sublinear_holds, linear_holds, t, L, mu, f_star,
                       exceeds, eps, k_star, int(below[0]) if below.size else None, notes)


# =========================================================================== statistics vs optimization

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
        axes.semilogy(self.k, _positive(self.error), color="black", label="optimization error ‖θ_k − θ̂‖")
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
    fraction = _positive_number(fraction, "fraction", "optimization_vs_statistical")
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
    Z = _design(np.asarray(X, dtype=np.float64), fit_intercept, "optimization_vs_statistical")
    target = _response(y, estimator, model)
    constants = closed_form_constants(Z, "least_squares" if model == "ols" else "logistic")
    t = 1.0 / constants.L if lr is None else _positive_number(lr, "lr", "optimization_vs_statistical")
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


# =========================================================================== helpers

def _trajectory(result):
    """(f(x_0), …, f(x_K)) as float64 and the recorded constant step (or None)."""
    from ..optim.minimize import MinimizeResult  # noqa: PLC0415
    from ..train import History  # noqa: PLC0415

    if isinstance(result, MinimizeResult):
        if result.method != "gd":
            raise ValueError(
                f"certificate: the bounds are for plain gradient descent; the run used method={result.method!r}"
            )
        return np.asarray(result.objective, dtype=np.float64), None
    history = getattr(result, "history", result)
    if isinstance(history, History):
        losses = np.asarray(history.steps["loss"], dtype=np.float64)
        rates = np.asarray(history.steps["lr"], dtype=np.float64)
        if losses.size == 0:
            raise ValueError("certificate: the History has no recorded steps; train first")
        if np.ptp(rates) > 1e-12 * abs(rates[0]):
            raise ValueError(
                f"certificate: the bounds need a constant step size; the run's learning rate varied "
                f"from {rates.min():g} to {rates.max():g} (a scheduler?)"
            )
        return losses, float(rates[0])
    values = np.asarray(result, dtype=np.float64) if not isinstance(result, (str, bytes)) else None
    if values is None or values.ndim != 1 or values.size == 0:
        raise TypeError(
            f"certificate: result must be a MinimizeResult, a History, a Trainer or a 1-D array of objective "
            f"values; got {type(result).__name__}"
        )
    if not np.all(np.isfinite(values)):
        raise ValueError(f"certificate: the objective has {int(np.sum(~np.isfinite(values)))} non-finite value(s): the run diverged")
    return values, None


def _f_star(f_star, x_star, fn):
    if f_star is not None:
        return _as_number(f_star, "f_star", "certificate")
    if fn is None or x_star is None:
        raise ValueError(
            "certificate: f_star is required (or pass fn= and x_star= to compute f* = fn(*x_star)); "
            "for least squares it is the loss at the OLS solution"
        )
    points = [x_star] if isinstance(x_star, (Tensor, np.ndarray)) else list(x_star)
    with autograd.no_grad():
        value = fn(*[p if isinstance(p, Tensor) else tensor(p, dtype=np.float64) for p in points])
    return float(value.item())


def _iterations_needed(gap0, eps, rate):
    if gap0 <= eps:
        return 0
    if rate <= 0.0:
        return 1
    return int(math.ceil(math.log(gap0 / eps) / math.log(1.0 / rate)))


def _flat(value, name):
    if isinstance(value, Tensor):
        return np.asarray(value.numpy(), dtype=np.float64).reshape(-1)
    if isinstance(value, (list, tuple)):
        return np.concatenate([_flat(part, name) for part in value]) if value else np.zeros(0)
    try:
        return np.asarray(value, dtype=np.float64).reshape(-1)
    except (TypeError, ValueError) as err:
        raise TypeError(f"certificate: {name} must be a tensor, an array or a list of them; got {type(value).__name__}") from err


def _design(X, fit_intercept, where):
    Z = np.asarray(X, dtype=np.float64)
    if Z.ndim != 2 or Z.shape[0] == 0:
        raise ValueError(f"{where}: X must be a 2-D array with at least one row; got shape {Z.shape}")
    if not np.all(np.isfinite(Z)):
        raise ValueError(f"{where}: X has {int(np.sum(~np.isfinite(Z)))} non-finite value(s)")
    return np.hstack([np.ones((Z.shape[0], 1)), Z]) if fit_intercept else Z


def _as_list(params, where):
    try:
        return list(params)
    except TypeError as err:
        raise TypeError(f"{where}: params must be a tensor or a list of tensors; got {type(params).__name__}") from err


def _check_scalar(value, where):
    if not isinstance(value, Tensor):
        raise TypeError(f"{where}: fn must return a Tensor; got {type(value).__name__}")
    if value.numel() != 1:
        raise ValueError(f"{where}: fn must return a one-element tensor; got shape {tuple(value.shape)}")
    if not value.requires_grad:
        raise ValueError(f"{where}: fn's result does not depend on params (it does not require grad)")


def _check_iteration_args(iters, tol, method, where):
    if isinstance(iters, bool) or not isinstance(iters, int) or iters < 1:
        raise ValueError(f"{where}: iters must be an int >= 1; got {iters!r}")
    _positive_number(tol, "tol", where)
    if method not in ("power", "dense"):
        raise ValueError(f"{where}: method must be 'power', 'dense' (or 'auto' for strong_convexity); got {method!r}")


def _as_number(value, name, where):
    if isinstance(value, CurvatureEstimate):
        return float(value.value)
    if isinstance(value, bool) or not isinstance(value, (int, float, np.floating, np.integer)):
        raise TypeError(f"{where}: {name} must be a number or a CurvatureEstimate; got {type(value).__name__}")
    value = float(value)
    if not math.isfinite(value):
        raise ValueError(f"{where}: {name} must be finite; got {value}")
    return value


def _positive_number(value, name, where):
    value = _as_number(value, name, where)
    if not value > 0:
        raise ValueError(f"{where}: {name} must be > 0; got {value}")
    return value


def _nonnegative(value, name, where):
    value = _as_number(value, name, where)
    if value < 0:
        raise ValueError(f"{where}: {name} must be >= 0; got {value}")
    return value


def _ratio(gap, bound):
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(bound > 0, gap / bound, np.nan)


def _nanmax(values):
    finite = values[np.isfinite(values)]
    return float(finite.max()) if finite.size else None


def _positive(values):
    """Values for a log axis: non-positive entries (exact zeros) become NaN, which is not drawn."""
    values = np.asarray(values, dtype=np.float64)
    return np.where(values > 0, values, np.nan)
