"""chainrule.theory: L and mu against closed forms, step sizes, rate certificates, and
optimization vs statistical error against independent NumPy gradient descent and statsmodels."""
from __future__ import annotations

import math

import numpy as np
import pytest
from matplotlib.figure import Figure

import chainrule as cr
import chainrule.nn.functional as F
from chainrule import nn, optim, theory
from chainrule.train import Trainer


def _data(n=120, p=4, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, p)) * np.array([1.0, 2.0, 0.5, 1.5])[:p]
    y = X @ np.array([1.0, -2.0, 0.5, 0.0])[:p] + rng.standard_normal(n)
    return X, y


def _least_squares(X, y, alpha=0.0):
    Xt, yt = cr.tensor(X, dtype=cr.float64), cr.tensor(y, dtype=cr.float64)
    if alpha:
        return lambda w: 0.5 * ((Xt @ w - yt) ** 2).mean() + 0.5 * alpha * (w ** 2).sum()
    return lambda w: 0.5 * ((Xt @ w - yt) ** 2).mean()


def _point(values):
    return cr.tensor(np.asarray(values, dtype=np.float64), dtype=cr.float64, requires_grad=True)


# ------------------------------------------------------------------ smoothness / strong convexity

@pytest.mark.parametrize("alpha", [0.0, 0.3])
def test_least_squares_and_ridge_constants_match_eigenvalues_of_the_design(alpha):
    X, y = _data()
    eigen = np.linalg.eigvalsh(X.T @ X / len(X)) + alpha  # Hessian X'X/n + alpha I
    fn = _least_squares(X, y, alpha)
    L = theory.smoothness(fn, _point(np.ones(4)), iters=2000, tol=1e-14)
    assert L.converged
    assert L.value == pytest.approx(eigen[-1], rel=1e-7)
    assert theory.smoothness(fn, _point(np.ones(4)), method="dense").value == pytest.approx(eigen[-1], rel=1e-8)
    mu = theory.strong_convexity(fn, _point(np.ones(4)))
    assert mu.method == "dense" and mu.value == pytest.approx(eigen[0], rel=1e-8)
    mu_power = theory.strong_convexity(fn, _point(np.ones(4)), iters=5000, method="power", tol=1e-14)
    assert mu_power.value == pytest.approx(eigen[0], rel=1e-6)
    closed = theory.closed_form_constants(X, "ridge" if alpha else "least_squares", alpha=alpha)
    assert (closed.L, closed.mu) == (pytest.approx(eigen[-1], rel=1e-12), pytest.approx(eigen[0], rel=1e-12))


def test_mean_squared_error_has_twice_the_curvature():
    X, y = _data()
    Xt, yt = cr.tensor(X, dtype=cr.float64), cr.tensor(y, dtype=cr.float64)
    L = theory.smoothness(lambda w: F.mse_loss(Xt @ w, yt), _point(np.zeros(4)), method="dense")
    reference = 2 * np.linalg.eigvalsh(X.T @ X / len(X))[-1]
    assert L.value == pytest.approx(reference, rel=1e-8)
    assert theory.closed_form_constants(X, "mse").L == pytest.approx(reference, rel=1e-12)


def test_logistic_constants_at_zero_and_at_a_point():
    X, _ = _data()
    rng = np.random.default_rng(1)
    y = (rng.random(len(X)) < 0.5).astype(np.float64)
    Z = np.hstack([np.ones((len(X), 1)), X])
    Zt, yt = cr.tensor(Z, dtype=cr.float64), cr.tensor(y, dtype=cr.float64)
    fn = lambda b: F.binary_cross_entropy_with_logits(Zt @ b, yt)  # noqa: E731
    bound = np.linalg.eigvalsh(Z.T @ Z / (4 * len(Z)))[-1]  # p(1 - p) = 1/4 at theta = 0
    assert theory.smoothness(fn, _point(np.zeros(5)), iters=3000, tol=1e-14).value == pytest.approx(bound, rel=1e-6)
    assert theory.closed_form_constants(X, "logistic", fit_intercept=True).L == pytest.approx(bound, rel=1e-12)
    theta = np.array([0.3, -1.0, 0.5, 0.2, 0.8])
    p = 1 / (1 + np.exp(-Z @ theta))
    eigen = np.linalg.eigvalsh(Z.T @ (Z * (p * (1 - p))[:, None]) / len(Z))
    assert theory.smoothness(fn, _point(theta), method="dense").value == pytest.approx(eigen[-1], rel=1e-7)
    assert theory.strong_convexity(fn, _point(theta)).value == pytest.approx(eigen[0], rel=1e-6)
    local = theory.closed_form_constants(X, "logistic", theta=theta, fit_intercept=True)
    assert (local.L, local.mu, local.is_global) == (pytest.approx(eigen[-1]), pytest.approx(eigen[0]), False)


def test_saddle_point_gives_largest_not_dominant_eigenvalue():
    # f(x) = x0^2 - 3 x1^2: eigenvalues 2 and -6; power iteration alone would find -6
    fn = lambda x: x[0] ** 2 - 3 * x[1] ** 2  # noqa: E731
    assert theory.smoothness(fn, _point([0.5, 0.5]), iters=200).value == pytest.approx(2.0, rel=1e-8)
    assert theory.strong_convexity(fn, _point([0.5, 0.5])).value == pytest.approx(-6.0, rel=1e-8)


def test_estimates_restore_parameters_and_grads_exactly():
    X, y = _data()
    w = _point([0.1, 0.2, 0.3, 0.4])
    before = w.data.copy()
    theory.smoothness(_least_squares(X, y), w, iters=5)
    theory.strong_convexity(_least_squares(X, y), w)
    assert np.array_equal(w.data, before) and w.grad is None


def test_exact_hessian_vector_products_agree_with_central_differences():
    # the exact product (double backward) against the finite-difference one kept as a check
    X, y = _data()
    Z = np.hstack([np.ones((len(X), 1)), X])
    Zt = cr.tensor(Z, dtype=cr.float64)
    yt = cr.tensor((np.random.default_rng(3).random(len(X)) < 0.4).astype(np.float64), dtype=cr.float64)
    fn = lambda b: F.binary_cross_entropy_with_logits(Zt @ b, yt) + (b ** 4).sum()  # noqa: E731
    point = _point(np.array([0.2, -0.4, 0.1, 0.3, -0.2]))
    v = np.random.default_rng(4).standard_normal(5)
    exact = theory.hessian_vector_product(fn, point, v)
    central = theory.hessian_vector_product(fn, point, v, method="central")
    np.testing.assert_allclose(exact, central, rtol=1e-6, atol=1e-9)
    with pytest.raises(ValueError, match="method must be 'exact' or 'central'"):
        theory.hessian_vector_product(fn, point, v, method="forward")


def test_hessian_vector_product_is_exact_for_a_quadratic():
    X, y = _data()
    v = np.array([1.0, -2.0, 0.5, 3.0])
    product = theory.hessian_vector_product(_least_squares(X, y), _point(np.zeros(4)), v)
    np.testing.assert_allclose(product, X.T @ X @ v / len(X), rtol=1e-8)


@pytest.mark.parametrize("call, match", [
    (lambda: theory.smoothness(lambda w: (w ** 2).sum(), cr.tensor([1.0, 2.0], requires_grad=True)), "float64"),
    (lambda: theory.smoothness(lambda w: (w ** 2).sum(), cr.tensor([1.0], dtype=cr.float64)),
     "requires_grad|require grad"),
    (lambda: theory.smoothness(lambda w: w * 2, _point([1.0, 2.0])), "one-element"),
    (lambda: theory.smoothness(lambda w: (w ** 2).sum(), _point([1.0]), iters=0), "iters"),
    (lambda: theory.strong_convexity(lambda w: (w ** 2).sum(), _point(np.zeros(500)), method="dense"), "dense_max"),
    (lambda: theory.closed_form_constants(np.ones((3, 2)), "hinge"), "loss must be one of"),
    (lambda: theory.closed_form_constants(np.ones((3, 2)), "least_squares", alpha=1.0), "alpha"),
])
def test_bad_arguments_are_named(call, match):
    with pytest.raises((TypeError, ValueError), match=match):
        call()


# ------------------------------------------------------------------ step size

def test_step_size_recommendations():
    advice = theory.step_size(4.0, 1.0)
    assert advice.lr == 0.25 and advice.lr_strongly_convex == pytest.approx(2 / 5)
    assert advice.condition_number == 4.0 and advice.gap_contraction == 0.75
    assert advice.distance_contraction == pytest.approx(3 / 5)
    convex = theory.step_size(2.0)
    assert convex.lr == 0.5 and convex.lr_strongly_convex is None and math.isinf(convex.condition_number)


@pytest.mark.parametrize("L, mu, match", [(0.0, None, "L must be > 0"), (1.0, -1.0, "mu must be >= 0"),
                                          (1.0, 2.0, "cannot exceed"), ("1", None, "number")])
def test_step_size_rejects_bad_constants(L, mu, match):
    with pytest.raises((TypeError, ValueError), match=match):
        theory.step_size(L, mu)


def test_two_over_l_plus_mu_contracts_the_distance_as_promised():
    X, y = _data()
    H = X.T @ X / len(X)
    x_star = np.linalg.solve(H, X.T @ y / len(X))
    advice = theory.step_size(*np.linalg.eigvalsh(H)[[-1, 0]])
    x = np.zeros(4)
    for _ in range(20):
        new = x - advice.lr_strongly_convex * (H @ x - X.T @ y / len(X))
        assert np.linalg.norm(new - x_star) <= advice.distance_contraction * np.linalg.norm(x - x_star) * (1 + 1e-12)
        x = new


# ------------------------------------------------------------------ certificate

def _gd_run(X, y, lr, max_iter=400):
    fn = _least_squares(X, y)
    w = _point(np.zeros(X.shape[1]))
    result = optim.minimize(fn, w, lr=lr, tol=1e-12, max_iter=max_iter)
    x_star = np.linalg.lstsq(X, y, rcond=None)[0]
    f_star = 0.5 * np.mean((X @ x_star - y) ** 2)
    return fn, result, x_star, f_star


def test_certificate_of_gradient_descent_with_step_one_over_l():
    X, y = _data()
    eigen = np.linalg.eigvalsh(X.T @ X / len(X))
    L, mu = eigen[-1], eigen[0]
    _, result, x_star, f_star = _gd_run(X, y, 1 / L)
    cert = theory.certificate(result, f_star=f_star, x_star=x_star, L=L, mu=mu, lr=1 / L, x0=np.zeros(4), eps=1e-8)
    k = np.arange(result.objective.size)
    np.testing.assert_allclose(cert.gap, result.objective - f_star)
    np.testing.assert_allclose(cert.sublinear_bound[1:], np.sum(x_star ** 2) * L / (2 * k[1:]))
    np.testing.assert_allclose(cert.linear_bound, (1 - mu / L) ** k * (result.objective[0] - f_star))
    assert cert.sublinear_holds.all() and cert.linear_holds.all()
    assert cert.step_exceeds_1_over_L is False
    expected_k_star = math.ceil(math.log((result.objective[0] - f_star) / 1e-8) / math.log(1 / (1 - mu / L)))
    assert cert.k_star == expected_k_star
    assert cert.k_observed is not None and cert.k_observed <= cert.k_star
    assert cert.k_observed == int(np.flatnonzero(result.objective - f_star <= 1e-8)[0])
    summary = cert.summary()
    assert summary["sublinear_bound_holds"] and summary["linear_bound_holds"]
    assert summary["sublinear_first_violation"] is None and summary["linear_first_violation"] is None
    assert 0 < summary["sublinear_max_ratio"] <= 1 and 0 < summary["linear_max_ratio"] <= 1


def test_certificate_flags_a_step_above_one_over_l():
    X, y = _data()
    L = np.linalg.eigvalsh(X.T @ X / len(X))[-1]
    _, result, x_star, f_star = _gd_run(X, y, 1.9 / L, max_iter=60)
    cert = theory.certificate(result, f_star=f_star, x_star=x_star, L=L, lr=1.9 / L, x0=np.zeros(4))
    assert cert.step_exceeds_1_over_L is True
    assert any("exceeds 1/L" in note for note in cert.notes)


def test_certificate_computes_f_star_from_fn_and_x_star():
    X, y = _data()
    fn, result, x_star, f_star = _gd_run(X, y, 0.1, max_iter=30)
    cert = theory.certificate(result, x_star=[x_star], fn=fn, lr=0.1)
    assert cert.f_star == pytest.approx(f_star, rel=1e-12)
    assert theory.certificate(result, x_star=x_star, fn=fn, lr=0.1).f_star == pytest.approx(f_star, rel=1e-12)
    assert any("x0 and x_star" in note for note in cert.notes)


def test_certificate_of_a_full_batch_trainer_run():
    X, y = _data(n=64, p=3)
    cr.manual_seed(0)
    model = nn.Linear(3, 1, dtype=cr.float64)
    x0 = np.concatenate([model.weight.numpy().ravel(), model.bias.numpy()])
    Z = np.hstack([X, np.ones((64, 1))])
    H = 2 * Z.T @ Z / 64  # MSELoss: (1/n)||y - Z theta||^2
    L, mu = np.linalg.eigvalsh(H)[[-1, 0]]
    trainer = Trainer(model, nn.MSELoss(), optim.SGD(model.parameters(), lr=1 / L), verbose=0)
    trainer.fit((cr.tensor(X, dtype=cr.float64), cr.tensor(y[:, None], dtype=cr.float64)), epochs=40, batch_size=64)
    x_star = np.linalg.lstsq(Z, y, rcond=None)[0]
    f_star = np.mean((Z @ x_star - y) ** 2)
    cert = theory.certificate(trainer, f_star=f_star, x_star=x_star, x0=x0, L=L, mu=mu)
    assert cert.lr == pytest.approx(1 / L) and cert.gap.size == 40
    assert cert.sublinear_holds.all() and cert.linear_holds.all()


def test_certificate_rejects_what_it_cannot_certify():
    X, y = _data()
    w = _point(np.zeros(4))
    momentum = optim.minimize(_least_squares(X, y), w, method="momentum", lr=0.01, max_iter=3)
    with pytest.raises(ValueError, match="plain gradient descent"):
        theory.certificate(momentum, f_star=0.0, lr=0.01)
    _, result, _, _ = _gd_run(X, y, 0.1, max_iter=3)
    with pytest.raises(ValueError, match="lr is required"):
        theory.certificate(result, f_star=0.0)
    with pytest.raises(ValueError, match="f_star is required"):
        theory.certificate(result, lr=0.1)
    with pytest.raises(TypeError, match="MinimizeResult, a History"):
        theory.certificate("run", f_star=0.0, lr=0.1)


def test_certificate_figure_has_log_axes_and_labels():
    X, y = _data()
    L = np.linalg.eigvalsh(X.T @ X / len(X))[-1]
    _, result, x_star, f_star = _gd_run(X, y, 1 / L, max_iter=50)
    figure = theory.certificate(result, f_star=f_star, x_star=x_star, x0=np.zeros(4), L=L, mu=0.1, lr=1 / L).figure()
    axes = figure.axes[0]
    assert isinstance(figure, Figure) and axes.get_xscale() == "log" and axes.get_yscale() == "log"
    assert "iteration" in axes.get_xlabel() and "f(x_k) − f*" in axes.get_ylabel()


# ------------------------------------------------------------------ optimization vs statistical error

def _numpy_gd(Z, y, grad, lr, steps):
    theta, path = np.zeros(Z.shape[1]), []
    path.append(theta.copy())
    for _ in range(steps):
        theta = theta - lr * grad(theta)
        path.append(theta.copy())
    return np.asarray(path)


def test_optimization_vs_statistical_for_ols():
    import statsmodels.api as sm

    X, y = _data(n=200)
    out = theory.optimization_vs_statistical(X, y, "ols")
    Z = sm.add_constant(X)
    reference = sm.OLS(y, Z).fit()
    np.testing.assert_allclose(out.theta_hat, reference.params, rtol=1e-10)
    np.testing.assert_allclose(out.bse, reference.bse, rtol=1e-10)
    L = np.linalg.eigvalsh(Z.T @ Z / len(Z))[-1]
    assert out.lr == pytest.approx(1 / L)
    path = _numpy_gd(Z, y, lambda t: Z.T @ (Z @ t - y) / len(Z), 1 / L, len(out.k) - 1)
    np.testing.assert_allclose(out.error, np.linalg.norm(path - reference.params, axis=1), rtol=1e-8, atol=1e-12)
    first = int(np.flatnonzero(out.error <= 0.01 * reference.bse.min())[0])
    assert out.k_threshold == first and out.threshold == pytest.approx(0.01 * reference.bse.min())
    assert out.error[first - 1] > out.threshold
    assert out.error_in_se[first] <= 0.01  # max_j |diff_j| / se_j <= ||diff|| / min se
    assert [row["coefficient"] for row in out.table()] == ["const", "x1", "x2", "x3", "x4"]


def test_optimization_vs_statistical_for_logit():
    import statsmodels.api as sm

    X, _ = _data(n=300)
    rng = np.random.default_rng(3)
    y = (rng.random(300) < 1 / (1 + np.exp(-(0.3 + X @ np.array([0.8, -0.4, 0.5, 0.0]))))).astype(float)
    out = theory.optimization_vs_statistical(X, y, "logit", fraction=0.05)
    Z = sm.add_constant(X)
    reference = sm.Logit(y, Z).fit(disp=0)
    np.testing.assert_allclose(out.theta_hat, reference.params, rtol=1e-6)
    np.testing.assert_allclose(out.bse, reference.bse, rtol=1e-5)

    def grad(theta):
        return Z.T @ (1 / (1 + np.exp(-Z @ theta)) - y) / len(Z)

    path = _numpy_gd(Z, y, grad, out.lr, len(out.k) - 1)
    np.testing.assert_allclose(out.error, np.linalg.norm(path - out.theta_hat, axis=1), rtol=1e-7, atol=1e-12)
    assert out.k_threshold == int(np.flatnonzero(out.error <= 0.05 * out.bse.min())[0])
    figure = out.figure()
    assert figure.axes[0].get_yscale() == "log" and "iteration" in figure.axes[0].get_xlabel()


def test_optimization_vs_statistical_reports_when_max_iter_is_too_small():
    X, y = _data()
    out = theory.optimization_vs_statistical(X, y, "ols", max_iter=2)
    assert out.k_threshold is None and len(out.k) == 3
    with pytest.raises(ValueError, match="model must be 'ols' or 'logit'"):
        theory.optimization_vs_statistical(X, y, "probit")


def test_certificate_finds_the_first_violation_of_a_too_large_step():
    # f(x) = (L/2) x^2, x0 = 1, t = 1.9/L: x_k = (-0.9)^k, gap_k = (L/2) 0.81^k,
    # bound_k = 1/(2tk) = L/(3.8k): violated at k = 1 (0.405 L > 0.263 L)
    L = 3.0
    x = _point([1.0])
    result = optim.minimize(lambda x: 0.5 * L * (x ** 2).sum(), x, lr=1.9 / L, tol=1e-12, max_iter=30)
    np.testing.assert_allclose(result.objective, 0.5 * L * 0.81 ** np.arange(31), rtol=1e-12)
    cert = theory.certificate(result, f_star=0.0, x_star=[0.0], x0=[1.0], L=L, lr=1.9 / L)
    summary = cert.summary()
    assert summary["step_exceeds_1_over_L"] is True
    assert summary["sublinear_bound_holds"] is False and summary["sublinear_first_violation"] == 1
    assert cert.sublinear_tightness[1] == pytest.approx(0.405 / (1 / 3.8))
