"""minimize: Algorithm 1 (gradient descent with the ‖∇f‖ < tol stopping rule) and its variants."""
from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
from chainrule import optim

# f(x) = ½ xᵀAx - bᵀx with A symmetric positive definite: ∇f = Ax - b, minimizer x* = A⁻¹b,
# smoothness L = λ_max(A) = 10, strong convexity μ = λ_min(A) = 1.
_Q = np.linalg.qr(np.random.default_rng(0).standard_normal((4, 4)))[0]
A = _Q @ np.diag([1.0, 2.0, 5.0, 10.0]) @ _Q.T
B = np.array([1.0, -2.0, 0.5, 3.0])
X_STAR = np.linalg.solve(A, B)
L, MU = 10.0, 1.0


def quadratic(x):
    a, b = cr.tensor(A, dtype=cr.float64), cr.tensor(B, dtype=cr.float64)
    return 0.5 * (x * (a @ x)).sum() - (b * x).sum()


def start():
    return cr.tensor(np.zeros(4), dtype=cr.float64, requires_grad=True)


def test_gradient_descent_converges_to_the_closed_form_minimizer():
    x = start()
    result = optim.minimize(quadratic, x, lr=1 / L, tol=1e-8)
    assert result.converged and result.method == "gd"
    np.testing.assert_allclose(result.x.numpy(), X_STAR, atol=1e-7)
    np.testing.assert_array_equal(x.numpy(), result.x.numpy())  # updated in place, returned as a copy
    assert result.fun == pytest.approx(-0.5 * B @ X_STAR, rel=1e-12)
    # the stopping rule: the last gradient norm is below tol, every earlier one is not
    assert result.grad_norm < 1e-8 and (result.grad_norms[:-1] >= 1e-8).all()
    assert len(result.objective) == len(result.grad_norms) == result.iterations + 1
    assert result.grad_norms[0] == pytest.approx(np.linalg.norm(B))
    # with α = 1/L, f decreases monotonically and the error contracts at rate (1 - μ/L) per step
    assert (np.diff(result.objective) <= 1e-14).all()  # up to rounding at f ≈ -3.7
    bound = np.log(np.linalg.norm(B) / 1e-8) / -np.log(1 - MU / L)
    assert result.iterations <= bound + 1


def test_the_trajectory_is_that_of_gradient_descent_by_hand():
    result = optim.minimize(quadratic, start(), lr=0.05, max_iter=5)
    x, expected = np.zeros(4), []
    for _ in range(6):
        expected.append(0.5 * x @ A @ x - B @ x)
        x = x - 0.05 * (A @ x - B)
    np.testing.assert_allclose(result.objective, expected, rtol=1e-12)
    assert not result.converged and result.iterations == 5 and "max_iter" in result.message


@pytest.mark.parametrize("method, lr, tol, options", [
    ("gd", 0.1, 1e-6, {}),
    ("momentum", 0.05, 1e-6, {}),
    ("momentum", 0.1, 1e-6, {"momentum": 0.5}),
    ("nesterov", 0.05, 1e-6, {}),
    ("adagrad", 1.0, 1e-6, {}),
    # RMSProp's step g/√R_t does not shrink as g → 0: with a constant lr it ends in a cycle
    # of size about lr around x*, so ‖∇f‖ only falls to about L·lr
    ("rmsprop", 1e-3, 3e-2, {"alpha": 0.9}),
    ("adam", 0.05, 1e-6, {}),
])
def test_every_method_finds_the_minimizer(method, lr, tol, options):
    result = optim.minimize(quadratic, start(), method, lr=lr, tol=tol, max_iter=20_000, **options)
    assert result.converged, result
    np.testing.assert_allclose(result.x.numpy(), X_STAR, atol=10 * tol)


def test_momentum_needs_fewer_iterations_on_an_ill_conditioned_quadratic():
    gd = optim.minimize(quadratic, start(), "gd", lr=1 / L, tol=1e-8)
    heavy_ball = optim.minimize(quadratic, start(), "momentum", lr=0.1, momentum=0.5, tol=1e-8)
    assert heavy_ball.converged and heavy_ball.iterations < gd.iterations


def test_several_tensors():
    w = cr.tensor([0.0, 0.0], dtype=cr.float64, requires_grad=True)
    c = cr.tensor(0.0, dtype=cr.float64, requires_grad=True)
    result = optim.minimize(lambda w, c: ((w - 2.0) ** 2).sum() + (c + 1.0) ** 2, [w, c], lr=0.25)
    assert result.converged and isinstance(result.x, list)
    np.testing.assert_allclose(result.x[0].numpy(), [2.0, 2.0], atol=1e-6)
    assert result.x[1].item() == pytest.approx(-1.0, abs=1e-6)


def test_a_start_at_the_minimizer_takes_no_step():
    x = cr.tensor(X_STAR, dtype=cr.float64, requires_grad=True)
    result = optim.minimize(quadratic, x, lr=0.1)
    assert result.converged and result.iterations == 0 and len(result.objective) == 1


def test_too_large_a_step_diverges_and_says_so():
    result = optim.minimize(quadratic, start(), lr=2.5 / L, max_iter=100_000)
    assert not result.converged and "diverged" in result.message and "smaller lr" in result.message
    assert not np.isfinite(result.objective[-1]) or not np.isfinite(result.grad_norms[-1])


def test_repr_summarizes():
    text = repr(optim.minimize(quadratic, start(), lr=0.1, max_iter=3))
    assert "did not converge after 3 iteration(s)" in text and "method='gd'" in text


@pytest.mark.parametrize("call, error, match", [
    (lambda: optim.minimize(quadratic, start(), "newton", lr=0.1), ValueError, "method must be one of"),
    (lambda: optim.minimize(quadratic, start(), lr=0.1, tol=0), ValueError, "tol must be a number > 0"),
    (lambda: optim.minimize(quadratic, start(), lr=0.1, max_iter=-1), ValueError, "max_iter must be an int >= 0"),
    (lambda: optim.minimize(quadratic, [1.0, 2.0], lr=0.1), TypeError, "pass tensors"),
    (lambda: optim.minimize(quadratic, cr.zeros(4, dtype=cr.float64), lr=0.1), ValueError, "does not require grad"),
    (lambda: optim.minimize(lambda x: x * 2.0, start(), lr=0.1), ValueError, "one-element tensor"),
    (lambda: optim.minimize(lambda x: 1.0, start(), lr=0.1), TypeError, "must return a Tensor"),
    (lambda: optim.minimize(quadratic, start(), lr=-1.0), ValueError, "lr must be >= 0"),
    (lambda: optim.minimize(quadratic, start()), TypeError, "lr"),
])
def test_bad_arguments(call, error, match):
    with pytest.raises(error, match=match):
        call()
