"""Chapter 1: supervised learning in one page, on the bundled Grunfeld investment data.

data → model → loss → optimizer → fitted parameters, twice: OLS in closed form (QR) and the
same least-squares loss minimized by gradient descent with chainrule's autodiff, side by side,
with the optimization error ‖θ_k − θ̂‖ next to the statistical error (standard errors of θ̂).

Run: python examples/ch01_supervised_learning.py [--quick] [--out DIR]
"""
import numpy as np
from _common import parse_args, save

import chainrule as cr
from chainrule import datasets, optim, stats, theory

args = parse_args(__doc__.splitlines()[0])

# data: invest ~ value + capital, 220 firm-years; standardized regressors
frame = datasets.load_grunfeld(as_frame=True)
raw = frame[["value", "capital"]].to_numpy(dtype=np.float64)
X = (raw - raw.mean(axis=0)) / raw.std(axis=0)
y = frame["invest"].to_numpy(dtype=np.float64)
names = ["const", "value (std.)", "capital (std.)"]
print(f"data: n = {len(y)} rows, p = {X.shape[1]} regressors + intercept")

# closed form: θ̂ = argmin (1/(2n))‖y − Zθ‖², solved by QR, with standard errors
ols = stats.OLS().fit(X, y)
theta_hat, se = np.asarray(ols.params), np.asarray(ols.bse)

# gradient descent on the same loss: model Zθ, loss by autodiff, step 1/L
Z = cr.tensor(np.column_stack([np.ones(len(y)), X]), dtype=cr.float64)
target = cr.tensor(y, dtype=cr.float64)
L = theory.closed_form_constants(Z.numpy(), "least_squares").L
theta = cr.zeros(3, dtype=cr.float64, requires_grad=True)


def loss(theta):
    residual = target - Z @ theta
    return (residual * residual).mean() / 2


result = optim.minimize(loss, theta, "gd", lr=1.0 / L, tol=1e-8, max_iter=200 if args.quick else 10_000)
theta_gd = result.x.numpy()
print(f"L = {L:.4f}, step 1/L = {1 / L:.4f}; gradient descent: {result.iterations} steps, "
      f"converged = {result.converged}")
print(f"{'coefficient':<16}{'closed form':>14}{'std. error':>12}{'grad. descent':>15}{'|diff|/se':>11}")
for name, b, s, g in zip(names, theta_hat, se, theta_gd):
    print(f"{name:<16}{b:14.4f}{s:12.4f}{g:15.4f}{abs(g - b) / s:11.2e}")
print(f"max |theta_gd - theta_hat| = {np.max(np.abs(theta_gd - theta_hat)):.3e}")

# optimization error vs statistical error along the whole run
study = theory.optimization_vs_statistical(X, y, "ols", names=names, max_iter=200 if args.quick else 20_000)
print(f"smallest standard error = {se.min():.4f}; gradient descent is within 1% of it "
      f"(||theta_k - theta_hat|| <= {study.threshold:.4f}) from step k = {study.k_threshold}")
save(study.figure(), args.out, "ch01_optimization_vs_statistical.png")
