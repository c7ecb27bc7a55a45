r"""Curvature of a loss at given parameters: L = λ_max(∇²f(x)), μ = λ_min(∇²f(x)), and H v.

f is **L-smooth** when ‖∇f(x) − ∇f(z)‖ ≤ L ‖x − z‖; for twice-differentiable f this is
L = sup_x λ_max(∇²f(x)). f is **μ-strongly convex** when ∇²f(x) ⪰ μ I everywhere (Nesterov,
*Lectures on Convex Optimization*, 2nd ed., 2018, §2.1). L bounds the step of gradient
descent and μ/L sets its rate (:mod:`chainrule.theory.rates`).

:func:`smoothness` and :func:`strong_convexity` estimate the largest and smallest eigenvalue
of the Hessian at given parameters from Hessian-vector products, which are **exact**: the
gradient g = ∇f(x) is computed once with its backward pass recorded (``create_graph=True``),
and each product is the gradient of a second scalar,

    H v = ∇_x (g(x) · v)          (Pearlmutter 1994, "Fast exact multiplication by the Hessian"),

one backward pass through the recorded gradient per product, in float64. The central
difference of gradients, H v ≈ (∇f(x + h v) − ∇f(x − h v)) / (2h) with ‖v‖ = 1 and
h = 1e-5 · max(1, ‖x‖) (error O(h²), exact up to rounding for quadratics), remains available
as ``hessian_vector_product(..., method="central")``: an independent check that needs only
first derivatives. λ_max comes from power iteration on v ↦ Hv (with a shift when the
dominant eigenvalue is negative), λ_min from power iteration on v ↦ (s I − H) v with
s ≥ λ_max, or, for up to ``dense_max`` parameters, from the eigenvalues of the whole
Hessian assembled from p Hessian-vector products.

The constants L and μ that the other theory functions take are numbers or
:class:`CurvatureEstimate` s; :func:`as_number` reads both.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

from ..engine import autograd
from ..engine.backend import host as np
from ..engine.tensor import Tensor, wrap

__all__ = ["CurvatureEstimate", "smoothness", "strong_convexity", "hessian_vector_product"]

_FD_STEP = 1e-5        # relative central-difference step: about eps^(1/3) for float64


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
    largest eigenvalue is λ_max − λ. Hv is exact (double backward; see the module docstring).

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
    shift = 1.01 * abs(as_number(L, "L", "strong_convexity")) + 1e-300
    estimate = problem.power(lambda v: shift * v - problem.hvp(v), iters, tol, seed)
    return CurvatureEstimate(shift - estimate.value, "smallest", "power", estimate.iterations,
                             estimate.converged, estimate.vector, shift - estimate.history)


def hessian_vector_product(fn, params, vector, method: str = "exact"):
    """H v at ``params`` (float64): exact by double backward (``method="exact"``, the
    default), or by a central difference of autodiff gradients (``method="central"``; see the
    module docstring for the step h).

    ``vector`` is a flat array with one entry per scalar parameter (in the order of
    ``params``). Returns a flat float64 NumPy array.
    """
    if method not in ("exact", "central"):
        raise ValueError(f"hessian_vector_product: method must be 'exact' or 'central'; got {method!r}")
    problem = _HessianProblem(fn, params, "hessian_vector_product")
    v = np.asarray(vector, dtype=np.float64).reshape(-1)
    if v.size != problem.size:
        raise ValueError(
            f"hessian_vector_product: vector must have one entry per parameter ({problem.size}); got {v.size}"
        )
    norm = float(np.linalg.norm(v))
    if norm == 0.0:
        return np.zeros_like(v)
    product = problem.hvp if method == "exact" else problem.hvp_central
    return product(v / norm) * norm


def as_number(value, name, where):
    """``value`` as a finite float: a number, or a :class:`CurvatureEstimate`'s value."""
    if isinstance(value, CurvatureEstimate):
        return float(value.value)
    if isinstance(value, bool) or not isinstance(value, (int, float, np.floating, np.integer)):
        raise TypeError(f"{where}: {name} must be a number or a CurvatureEstimate; got {type(value).__name__}")
    value = float(value)
    if not math.isfinite(value):
        raise ValueError(f"{where}: {name} must be finite; got {value}")
    return value


def positive_number(value, name, where):
    """As :func:`as_number`, and > 0."""
    value = as_number(value, name, where)
    if not value > 0:
        raise ValueError(f"{where}: {name} must be > 0; got {value}")
    return value


# ---------------------------------------------------------------------- helpers

class _HessianProblem:
    """f and its parameters, with exact Hessian-vector products (and central differences)."""

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
                    f"{where}: params[{position}] has dtype {p.dtype}; curvature estimates are computed "
                    f"in float64 (call model.double() or create the tensors with dtype=chainrule.float64)"
                )
            if not p.requires_grad:
                raise ValueError(f"{where}: params[{position}] does not require grad; call .requires_grad_()")
        self.fn, self.tensors, self.where = fn, tensors, where
        self.size = sum(int(p.data.size) for p in tensors)
        self.x0 = np.concatenate([np.asarray(p.data, dtype=np.float64).reshape(-1) for p in tensors])
        self.step = _FD_STEP * max(1.0, float(np.linalg.norm(self.x0)))
        self._recorded_gradient = None  # ∇f at x0 with its backward pass recorded (first hvp)

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
            parts = [np.zeros(p.data.size) if p.grad is None
                     else np.asarray(p.grad.numpy(), dtype=np.float64).reshape(-1)
                     for p in self.tensors]
            return np.concatenate(parts)
        finally:
            self._assign(self.x0)
            for p in self.tensors:
                p.grad = None

    def hvp(self, v):
        """H v = ∇_x (∇f(x) · v), exact: one backward pass through the recorded gradient."""
        gradient = self._gradient_with_graph()
        offset, terms = 0, None
        for p, g in zip(self.tensors, gradient):
            count = int(p.data.size)
            if g is not None:
                piece = wrap(v[offset:offset + count].reshape(p.data.shape))
                term = (g * piece).sum()
                terms = term if terms is None else terms + term
            offset += count
        if terms is None or not terms.requires_grad:  # f is linear (or constant) in params: H = 0
            return np.zeros(self.size)
        products = autograd.grad(terms, self.tensors, retain_graph=True, allow_unused=True)
        return np.concatenate([np.zeros(p.data.size) if hp is None else np.asarray(hp.numpy()).reshape(-1)
                               for p, hp in zip(self.tensors, products)])

    def hvp_central(self, v):
        """H v for a unit vector v by a central difference of gradients (an independent check)."""
        h = self.step
        return (self.gradient(self.x0 + h * v) - self.gradient(self.x0 - h * v)) / (2.0 * h)

    def _gradient_with_graph(self):
        if self._recorded_gradient is None:
            with autograd.enable_grad():
                value = self.fn(*self.tensors)
                _check_scalar(value, self.where)
                self._recorded_gradient = autograd.grad(value, self.tensors, create_graph=True, allow_unused=True)
        return self._recorded_gradient

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
    positive_number(tol, "tol", where)
    if method not in ("power", "dense"):
        raise ValueError(f"{where}: method must be 'power', 'dense' (or 'auto' for strong_convexity); got {method!r}")
