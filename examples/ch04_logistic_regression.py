"""Chapter 4: logistic and softmax regression by maximum likelihood, on the 1996 ANES data.

The log-likelihood of the logit model, ℓ(β) = Σ_i [y_i z_i'β − log(1 + exp(z_i'β))], has the
gradient ∇ℓ(β) = Z'(y − p) with p_i = σ(z_i'β). This script writes ℓ with chainrule ops,
checks the autodiff gradient against central differences (``autograd.gradcheck``) and against
the formula Z'(y − p), does the same for the softmax (multinomial) log-likelihood, whose
gradient is Z'(Y − P), then fits ``stats.Logit`` to the vote of 944 respondents and prints
the coefficients and the average marginal effects.

Run: python examples/ch04_logistic_regression.py [--quick] [--out DIR]
"""
import numpy as np
from _common import parse_args

import chainrule as cr
import chainrule.nn.functional as F
from chainrule import autograd, datasets, stats

args = parse_args(__doc__.splitlines()[0])

frame = datasets.load_anes96(as_frame=True)
features = [c for c in frame.columns if c != "vote"]
raw = frame[features].to_numpy(dtype=np.float64)
y = frame["vote"].to_numpy(dtype=np.float64)
Z = np.column_stack([np.ones(len(y)), (raw - raw.mean(axis=0)) / raw.std(axis=0)])
Zt, yt = cr.tensor(Z), cr.tensor(y)
print(f"data: anes96, n = {len(y)} respondents, {len(features)} regressors; vote = 1 for Dole")


def log_likelihood(beta):
    """ℓ(β) = Σ y_i η_i − log(1 + e^{η_i}), η = Zβ; log(1 + e^η) as logsumexp([0, η])."""
    eta = Zt @ beta
    softplus = cr.logsumexp(cr.stack([cr.zeros_like(eta), eta], dim=1), dim=1)
    return (yt * eta - softplus).sum()


beta = cr.tensor(np.random.default_rng(0).normal(scale=0.3, size=Z.shape[1]), requires_grad=True)
print(f"gradcheck of the logit log-likelihood (central differences): {autograd.gradcheck(log_likelihood, beta)}")
log_likelihood(beta).backward()
p = 1 / (1 + np.exp(-(Z @ beta.numpy())))
print(f"max |autodiff gradient - Z'(y - p)| = {np.max(np.abs(beta.grad.numpy() - Z.T @ (y - p))):.2e}")

# softmax regression: ℓ(B) = Σ_i log softmax(z_i'B)_{y_i}, gradient Z'(Y − P), on 3 classes
rng = np.random.default_rng(1)
classes = rng.integers(0, 3, size=50)
Zs = cr.tensor(rng.normal(size=(50, 4)))
B = cr.tensor(rng.normal(size=(4, 3)), requires_grad=True)


def softmax_ll(B):
    """ℓ(B) = Σ_i log softmax(z_i'B)_{y_i}: minus the summed cross-entropy."""
    return -F.cross_entropy(Zs @ B, cr.tensor(classes), reduction="sum")


print(f"gradcheck of the softmax log-likelihood: {autograd.gradcheck(softmax_ll, B)}")
softmax_ll(B).backward()
P = np.exp(Zs.numpy() @ B.numpy())
P /= P.sum(axis=1, keepdims=True)
Y = np.eye(3)[classes]
print(f"max |autodiff gradient - Z'(Y - P)| = {np.max(np.abs(B.grad.numpy() - Zs.numpy().T @ (Y - P))):.2e}")

# maximum likelihood by Newton's method, with inference and marginal effects
logit = stats.Logit().fit(frame[features], frame["vote"])
print(logit.summary())
beta_hat_std = np.asarray(stats.Logit().fit(Z[:, 1:], y).params)
score = Z.T @ (y - 1 / (1 + np.exp(-(Z @ beta_hat_std))))
print(f"score at the maximum: max |Z'(y - p(beta_hat))| = {np.max(np.abs(score)):.2e}")
print(f"log-likelihood = {logit.llf:.2f}, pseudo R^2 = {logit.prsquared:.4f}, "
      f"accuracy = {logit.score(frame[features], frame['vote']):.4f}")
print(logit.get_margeff().summary())
