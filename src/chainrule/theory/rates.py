r"""Step sizes and rate certificates for gradient descent: the 1/L step, the O(1/k) and linear rates.

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

:func:`step_size` gives 1/L, and 2/(L + μ) with its contraction factor when μ > 0;
:func:`certificate` checks the observed gap f(x_k) − f* of a run against both bounds.
L and μ come from :mod:`chainrule.theory.curvature` or :mod:`chainrule.theory.constants`.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

from ..engine import autograd
from ..engine.backend import host as np
from ..engine.tensor import Tensor, tensor
from .curvature import as_number, positive_number

__all__ = ["StepSizeAdvice", "step_size", "Certificate", "certificate"]

_BOUND_SLACK = 1e-9    # relative rounding slack when comparing a gap with a bound


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
    L = as_number(L, "L", "step_size")
    if not L > 0:
        raise ValueError(f"step_size: L must be > 0 (the largest Hessian eigenvalue of a convex loss); got {L}")
    mu_value = None if mu is None else as_number(mu, "mu", "step_size")
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
        axes.loglog(k[shown], log_axis_values(self.gap)[shown], label="observed f(x_k) − f*", color="black")
        if self.sublinear_bound is not None:
            axes.loglog(k[shown], self.sublinear_bound[shown], "--", label="‖x₀ − x*‖² / (2tk)")
        if self.linear_bound is not None:
            axes.loglog(k[shown], log_axis_values(self.linear_bound)[shown], ":", label="(1 − μt)^k (f(x₀) − f*)")
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
    t = _step_of_run(recorded_lr, lr)
    eps = positive_number(eps, "eps", "certificate")
    f_star = _f_star(f_star, x_star, fn)
    L = None if L is None else as_number(L, "L", "certificate")
    mu = None if mu is None else as_number(mu, "mu", "certificate")
    notes = []
    k = np.arange(objective.size)
    gap = objective - f_star
    slack = _BOUND_SLACK * np.abs(gap) + 1e-12 * max(1.0, abs(f_star))
    if np.any(gap < -slack):
        notes.append(
            f"some f(x_k) are below f* by up to {float(-gap.min()):.3g}: f* is not the minimum "
            f"(or the run is not on the same objective)"
        )
    exceeds = _step_exceeds_1_over_L(t, L, notes)
    sublinear, sublinear_holds = _sublinear_bound(k, gap, slack, t, x0, x_star, notes)
    linear, linear_holds, k_star = _linear_bound(k, gap, slack, t, mu, eps, notes)
    below = np.flatnonzero(gap <= eps)
    return Certificate(k, gap, sublinear, linear, sublinear_holds, linear_holds, t, L, mu, f_star,
                       exceeds, eps, k_star, int(below[0]) if below.size else None, notes)


def log_axis_values(values):
    """Values for a log axis: non-positive entries (exact zeros) become NaN, which is not drawn."""
    values = np.asarray(values, dtype=np.float64)
    return np.where(values > 0, values, np.nan)


# ---------------------------------------------------------------------- helpers

def _step_of_run(recorded_lr, lr) -> float:
    """The constant step t: ``lr`` when given, else the one the run recorded."""
    t = recorded_lr if lr is None else as_number(lr, "lr", "certificate")
    if t is None:
        raise ValueError(
            "certificate: lr is required: a MinimizeResult or an array of objective values does not "
            "record the step size; pass lr= (the learning rate of the run)"
        )
    if not t > 0:
        raise ValueError(f"certificate: lr must be > 0; got {t}")
    return t


def _step_exceeds_1_over_L(t, L, notes) -> bool | None:
    """Whether t > 1/L, the condition of both bounds (None without L), with a note when not met."""
    exceeds = None if L is None else bool(t > (1.0 / L) * (1 + 1e-12))
    if L is None:
        notes.append("L not given: whether t <= 1/L (the condition of both bounds) was not checked")
    elif exceeds:
        notes.append(f"the step t = {t:.6g} exceeds 1/L = {1.0 / L:.6g}: the bounds are not guaranteed for this run")
    return exceeds


def _sublinear_bound(k, gap, slack, t, x0, x_star, notes):
    """‖x_0 − x*‖² / (2tk) per k (NaN at k = 0) and whether the gap is within it, or (None, None)
    with a note when x0 or x_star is missing."""
    if x0 is None or x_star is None:
        notes.append("x0 and x_star not both given: the O(1/k) bound ||x0 - x*||^2 / (2tk) was not computed")
        return None, None
    distance2 = float(np.sum((_flat(x0, "x0") - _flat(x_star, "x_star")) ** 2))
    with np.errstate(divide="ignore"):
        bound = np.where(k >= 1, distance2 / (2.0 * t * np.maximum(k, 1)), np.nan)
    return bound, np.where(k >= 1, gap <= bound + slack + _BOUND_SLACK * bound, True)


def _linear_bound(k, gap, slack, t, mu, eps, notes):
    """(1 − μt)^k (f(x_0) − f*) per k, whether the gap is within it, and k* for ``eps``; all None
    unless μ > 0 (with a note when μ = 0)."""
    if mu is None or not mu > 0:
        if mu is not None:
            notes.append("mu = 0: not strongly convex, so no linear rate")
        return None, None, None
    rate = max(1.0 - mu * t, 0.0)
    bound = rate ** k * gap[0]
    return bound, gap <= bound + slack + _BOUND_SLACK * bound, _iterations_needed(gap[0], eps, rate)


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
        raise ValueError(
            f"certificate: the objective has {int(np.sum(~np.isfinite(values)))} non-finite value(s): the run "
            "diverged"
        )
    return values, None


def _f_star(f_star, x_star, fn):
    if f_star is not None:
        return as_number(f_star, "f_star", "certificate")
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
        raise TypeError(
            f"certificate: {name} must be a tensor, an array or a list of them; got "
            f"{type(value).__name__}"
        ) from err


def _ratio(gap, bound):
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(bound > 0, gap / bound, np.nan)


def _nanmax(values):
    finite = values[np.isfinite(values)]
    return float(finite.max()) if finite.size else None
