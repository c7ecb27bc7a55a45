"""Full-batch minimization of a scalar function of tensors, with the ‖∇f‖ < tol stopping rule."""
from __future__ import annotations

import math
from dataclasses import dataclass, field

from ..engine import autograd, backend
from ..engine.tensor import Tensor, tensor
from .adagrad import Adagrad
from .adam import Adam
from .rmsprop import RMSprop
from .sgd import SGD

__all__ = ["minimize", "MinimizeResult", "METHODS"]

#: The methods ``minimize`` accepts, and the optimizer each one runs.
METHODS = ("gd", "momentum", "nesterov", "adagrad", "rmsprop", "adam")


@dataclass
class MinimizeResult:
    """What :func:`minimize` found.

    Attributes:
        x: the solution: a Tensor (a copy) when one tensor was passed, else a list of them.
        fun: f at the solution.
        grad_norm: ‖∇f‖ at the solution.
        converged: whether the stopping rule ‖∇f(x_k)‖ < tol was met.
        iterations: the number of steps taken (k at the solution).
        objective: f(x_0), f(x_1), …, f(x_k) (a float64 NumPy array of length iterations + 1).
        grad_norms: ‖∇f(x_0)‖, …, ‖∇f(x_k)‖ (same length).
        message: why the iteration stopped.
        method: the method used.
    """

    x: object
    fun: float
    grad_norm: float
    converged: bool
    iterations: int
    objective: object = field(repr=False)
    grad_norms: object = field(repr=False)
    message: str = ""
    method: str = "gd"

    def __repr__(self) -> str:
        status = "converged" if self.converged else "did not converge"
        return (
            f"MinimizeResult(method={self.method!r}, {status} after {self.iterations} iteration(s), "
            f"fun={self.fun:.6g}, grad_norm={self.grad_norm:.3g}, message={self.message!r})"
        )


def minimize(fn, params, method: str = "gd", *, lr: float, tol: float = 1e-6,
             max_iter: int = 10_000, **options) -> MinimizeResult:
    r"""Minimize ``fn(*params)`` by a first-order method on the full objective.

    This is Algorithm 1 of the curriculum (gradient descent with a stopping rule), with the
    update of the chosen method::

        input: x_0 (params, the initial guess), α (lr), tol, max_iter
        k ← 0
        while ‖∇f(x_k)‖ >= tol and k < max_iter:
            x_{k+1} ← update(x_k, ∇f(x_k))          (gd: x_k - α ∇f(x_k))
            k ← k + 1
        return x_k

    ‖∇f‖ is the Euclidean norm over all parameters together. The iteration also stops, as
    not converged, if f or ‖∇f‖ becomes infinite or NaN (the step size is too large).

    Args:
        fn: a function of the tensors in ``params`` (called as ``fn(*params)``) that
            returns a one-element tensor.
        params: a tensor, or a list of tensors, that require grad: the initial guess x_0.
            They are updated in place and hold the solution on return.
        method: "gd" (plain gradient descent), "momentum" (heavy ball, μ = 0.9 unless
            ``momentum=`` is given), "nesterov" (likewise), "adagrad", "rmsprop" or "adam".
        lr: the learning rate α (for "gd" on an L-smooth f, α <= 1/L guarantees descent).
        tol: stop when ‖∇f(x_k)‖ < tol (default 1e-6).
        max_iter: the most steps to take (default 10,000).
        **options: passed to the optimizer (e.g. ``momentum=0.5``, ``betas=(0.9, 0.99)``,
            ``weight_decay=...``).

    Returns:
        A :class:`MinimizeResult` with the solution, the trajectories of f and ‖∇f‖, the
        number of iterations and whether the stopping rule was met.

    Example::

        >>> import chainrule as cr
        >>> x = cr.tensor([3.0, -2.0], dtype=cr.float64, requires_grad=True)
        >>> result = cr.optim.minimize(lambda x: ((x - 1.0) ** 2).sum(), x, lr=0.25)
        >>> result.converged, result.iterations
        (True, 23)
        >>> [round(value, 5) for value in result.x.tolist()]
        [1.0, 1.0]
    """
    single = isinstance(params, Tensor)
    tensors = _check_params([params] if single else params)
    _check_options(method, tol, max_iter)
    optimizer = _optimizer(method, tensors, lr, options)
    objective, grad_norms, iterations, message = _iterate(fn, tensors, optimizer, tol, max_iter)
    for p in tensors:
        p.grad = None
    solution = [tensor(p.data) for p in tensors]
    return MinimizeResult(
        x=solution[0] if single else solution,
        fun=objective[-1],
        grad_norm=grad_norms[-1],
        converged=grad_norms[-1] < tol,
        iterations=iterations,
        objective=backend.host.asarray(objective, dtype=backend.float64),
        grad_norms=backend.host.asarray(grad_norms, dtype=backend.float64),
        message=message,
        method=method,
    )


def _iterate(fn, tensors: list, optimizer, tol, max_iter: int) -> tuple:
    """The loop of the algorithm box: step while ‖∇f(x_k)‖ >= tol and k < max_iter (or until
    f or ‖∇f‖ stops being finite). Returns the trajectories of f and ‖∇f‖, k and why it stopped."""
    objective, grad_norms = [], []
    iterations = 0
    while True:
        value, norm = _evaluate(fn, tensors)
        objective.append(value)
        grad_norms.append(norm)
        if not (math.isfinite(value) and math.isfinite(norm)):
            message = f"diverged: f or its gradient became non-finite at iteration {iterations}; try a smaller lr"
            break
        if norm < tol:
            message = f"converged: gradient norm {norm:.3g} < tol {tol:g}"
            break
        if iterations >= max_iter:
            message = f"stopped at max_iter={max_iter} with gradient norm {norm:.3g} >= tol {tol:g}"
            break
        optimizer.step()
        iterations += 1
    return objective, grad_norms, iterations, message


def _check_options(method: str, tol, max_iter) -> None:
    if method not in METHODS:
        raise ValueError(f"minimize: method must be one of {', '.join(repr(m) for m in METHODS)}; got {method!r}")
    if isinstance(tol, bool) or not isinstance(tol, (int, float)) or not tol > 0:
        raise ValueError(f"minimize: tol must be a number > 0; got {tol!r}")
    if isinstance(max_iter, bool) or not isinstance(max_iter, int) or max_iter < 0:
        raise ValueError(f"minimize: max_iter must be an int >= 0; got {max_iter!r}")


def _check_params(params) -> list:
    try:
        tensors = list(params)
    except TypeError as err:
        raise TypeError(f"minimize: params must be a tensor or a list of tensors; got {type(params).__name__}") from err
    if not tensors:
        raise ValueError("minimize: params is empty; pass the initial guess x0 as a tensor")
    for position, p in enumerate(tensors):
        if not isinstance(p, Tensor):
            raise TypeError(
                f"minimize: params[{position}] is a {type(p).__name__}; pass tensors, e.g. "
                f"chainrule.tensor(x0, dtype=chainrule.float64, requires_grad=True)"
            )
        if not p.requires_grad:
            raise ValueError(f"minimize: params[{position}] does not require grad; call .requires_grad_() on it first")
    return tensors


def _optimizer(method: str, tensors: list, lr, options: dict):
    # flatten=False: the caller's tensors keep their own memory (they may alias arrays the caller holds)
    if method == "gd":
        return SGD(tensors, lr=lr, flatten=False, **options)
    if method in ("momentum", "nesterov"):
        options = {"momentum": 0.9, **options}
        return SGD(tensors, lr=lr, nesterov=method == "nesterov", flatten=False, **options)
    if method == "adagrad":
        return Adagrad(tensors, lr=lr, flatten=False, **options)
    if method == "rmsprop":
        return RMSprop(tensors, lr=lr, flatten=False, **options)
    return Adam(tensors, lr=lr, flatten=False, **options)


def _evaluate(fn, tensors: list) -> tuple:
    """f(x) and ‖∇f(x)‖, leaving ∇f in the tensors' ``.grad``."""
    for p in tensors:
        p.grad = None
    with autograd.enable_grad():
        value = fn(*tensors)
        if not isinstance(value, Tensor):
            raise TypeError(f"minimize: fn must return a Tensor; got {type(value).__name__}")
        if value.numel() != 1:
            raise ValueError(f"minimize: fn must return a one-element tensor; got shape {tuple(value.shape)}")
        if not value.requires_grad:
            raise ValueError("minimize: fn's result does not depend on params (it does not require grad)")
        value.backward()
    squares = 0.0
    for p in tensors:
        if p.grad is not None:
            g = p.grad.data.astype(backend.float64)
            squares += float(backend.namespace_of(g).vdot(g, g))  # inf, without a warning, when it overflows
    return float(value.item()), math.sqrt(squares)
