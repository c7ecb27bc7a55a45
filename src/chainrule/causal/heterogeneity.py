r"""DeepHeterogeneity: deep networks for the individual heterogeneity of a structured model,
with influence-function inference (Farrell, Liang and Misra 2021, "Deep Learning for
Individual Heterogeneity: An Automatic Inference Framework", arXiv:2010.14694).

The economic model is known up to individual parameters θ(x) ∈ R^K: a per-observation loss
ℓ(y, t, θ) whose population minimizer over functions θ(·) is the truth. Here, with a
treatment vector t ∈ R^q and K = 1 + q, η = α(x) + β(x)'t and

    "linear"   ℓ = ½ (y − η)²                      (y = α(x) + β(x)'t + ε)
    "logit"    ℓ = log(1 + e^η) − y η               (P(y = 1 | x, t) = σ(α(x) + β(x)'t))

θ(x) = (α(x), β(x)) is the output layer of a ReLU MLP trained by minimizing mean ℓ. The target
is μ = E[H(x, θ(x); t*)]: the average β_1(x) (``target="beta"``), the logit's average marginal
effect of t_1 at t* (``target="ame"``: H = σ'(α + β't*) β_1), or any callable H(θ, X) → (n,)
written with chainrule tensor ops. Its influence function (their Theorem 2):

    ψ_i = H(x_i, θ̂(x_i)) − H_θ(x_i, θ̂(x_i)) Λ̂(x_i)^{-1} ℓ_θ(y_i, t_i, θ̂(x_i)) − μ̂,
    Λ(x) = E[ℓ_θθ(y, t, θ(x)) | x],     μ̂ = mean_i(ψ_i + μ̂),     SE = sd(ψ)/√n.

The gradients H_θ, ℓ_θ and the Hessian ℓ_θθ come from the engine's autograd (``autograd.grad``
of the per-row sums, with ``create_graph=True`` for the second derivatives; the rows separate,
so K backward passes give every row's K × K Hessian). Λ(x) is the regression of the K(K+1)/2
distinct entries of ℓ_θθ on x (``lambda_model="network"``: one ``NetworkLearner`` per entry,
the estimate symmetrized and its eigenvalues floored at 1e-3 of the largest); or, where t is
randomized independently of x and ℓ_θθ does not depend on y (both models here; the default
``lambda_model="randomized"``), Λ(x) = E_t[ℓ_θθ(t, θ̂(x))], the autograd Hessians at θ̂(x)
averaged over the treatment values of the Λ fold (a regression of ℓ_θθ on x by a network is
noisy where Λ is near singular, and its inverse then dominates ψ); or
(``lambda_model="constant"``, valid when t is randomized independently of x and ℓ_θθ does not
depend on x, e.g. the linear model: Λ = E[(1, t)(1, t)']) the sample mean of ℓ_θθ.

Sample splitting (their three-way splitting): the rows are cut into K >= 3 folds (``n_folds``);
for each evaluation fold, θ(·) is trained on the next ⌈(K−1)/2⌉ folds (cyclically) and Λ(·)
on the remaining ones, and ψ is evaluated on the held-out fold; every row is evaluated once.
K = 3 is the paper's three-way split, rotated so that all rows count.
"""
from __future__ import annotations

from ..engine import autograd as cr_autograd
from ..engine import backend
from ..engine import random as _random
from ..engine.backend import float64
from ..engine.tensor import tensor
from .base import as_matrix, as_vector
from .folds import make_folds
from .learners import NetworkLearner
from .results import DMLResults

np = backend.host

__all__ = ["DeepHeterogeneity", "structured_loss", "influence_function", "loss_derivatives", "randomized_lambda",
           "make_heterogeneity_data"]

MODELS = ("linear", "logit")


def structured_loss(model: str, y, t, theta):
    """The per-row loss ℓ(y, t, θ) as a chainrule tensor (n,): θ (n, 1 + q) tensor, t (n, q), y (n,)."""
    from .. import nn, ops  # noqa: PLC0415 - the network stack only when used

    eta = theta[:, 0] + ops.sum(theta[:, 1:] * t, dim=1)
    if model == "linear":
        residual = y - eta
        return 0.5 * residual * residual
    return nn.functional.softplus(eta) - y * eta


def _target_values(target, theta, X, t_star):
    if callable(target):
        return target(theta, X)
    if target == "beta":
        return theta[:, 1]
    eta = theta[:, 0] + (theta[:, 1:] * t_star).sum(dim=1)
    s = eta.sigmoid()
    return s * (1 - s) * theta[:, 1]


def loss_derivatives(model, y, t, theta_values):
    """(ℓ_θ (n, K), ℓ_θθ (n, K, K)) at θ = ``theta_values`` from autograd (second order by create_graph)."""
    theta = tensor(theta_values, requires_grad=True)
    loss = structured_loss(model, tensor(y), tensor(t), theta)
    (gradient,) = cr_autograd.grad(loss.sum(), theta, create_graph=True)
    K = theta_values.shape[1]
    hessian = np.empty((theta_values.shape[0], K, K))
    for k in range(K):
        (row,) = cr_autograd.grad(gradient[:, k].sum(), theta, retain_graph=True)
        hessian[:, k, :] = row.detach().numpy()
    return gradient.detach().numpy(), hessian


def influence_function(model, y, t, theta_values, Lambda, target="beta", X=None, t_star=None):
    """ψ_i + μ̂ = H − H_θ Λ^{-1} ℓ_θ per row (without centering), for θ (n, K) and Λ (n, K, K) or (K, K)."""
    y, t = np.asarray(y, np.float64), np.asarray(t, np.float64).reshape(len(y), -1)
    theta = tensor(np.asarray(theta_values, np.float64), requires_grad=True)
    star = tensor(np.broadcast_to(np.asarray(0.0 if t_star is None else t_star, np.float64), (t.shape[1],)))
    H = _target_values(target, theta, X, star)
    (H_theta,) = cr_autograd.grad(H.sum(), theta)
    l_theta, _ = loss_derivatives(model, y, t, np.asarray(theta_values, np.float64))
    Lambda = np.broadcast_to(Lambda, (len(y),) + l_theta.shape[1:] * 2)
    correction = np.einsum("nk,nk->n", H_theta.numpy(), np.linalg.solve(Lambda, l_theta[..., None])[..., 0])
    return H.detach().numpy() - correction


def randomized_lambda(model, theta_values, t_sample, seed=0, max_draws=64):
    """Λ(x_i) = E_t[ℓ_θθ(t, θ̂(x_i))] for t independent of x: the mean of the autograd Hessians at each
    row's θ̂ over the distinct treatment values of ``t_sample`` (weighted by their frequencies), or
    over ``max_draws`` of its rows drawn at random when it has more distinct values."""
    values, counts = np.unique(t_sample, axis=0, return_counts=True)
    if len(values) > max_draws:
        values = t_sample[np.random.default_rng(seed).choice(len(t_sample), max_draws, replace=False)]
        counts = np.ones(max_draws)
    n = theta_values.shape[0]
    Lambda = 0.0
    for value, count in zip(values, counts):
        t_rows = np.broadcast_to(value, (n, value.size))
        Lambda = Lambda + count * loss_derivatives(model, np.zeros(n), t_rows, theta_values)[1]
    return Lambda / counts.sum()


def make_heterogeneity_data(n_obs: int = 3000, model: str = "linear", dim_x: int = 3, random_state=None):
    r"""X ~ U(−1, 1)^p (p >= 3), a randomized binary treatment t ~ Bernoulli(1/2), α(x) = x_1/2 − x_2²,
    β(x) = 1 + x_1/2 + x_2 x_3 (so E β(X) = 1), and y = α + β t + ε, ε ~ N(0, 1) ("linear") or
    y ~ Bernoulli(σ(α + β t)) ("logit"). Returns (X, y, t, truth): ``theta`` (n, 2) the true
    θ(x_i), ``mean_beta`` = 1 and, for the linear model, the variance of the efficient influence
    function of E β(X): Var β(X) + σ²/Var(t) = 1/12 + 1/9 + 4."""
    if model not in MODELS or isinstance(dim_x, bool) or not isinstance(dim_x, int) or dim_x < 3:
        raise ValueError(f"make_heterogeneity_data: model must be one of {MODELS} and dim_x an int >= 3; "
                         f"got {model!r}, {dim_x!r}")
    rng = random_state if isinstance(random_state, np.random.Generator) else np.random.default_rng(random_state)
    X = rng.uniform(-1, 1, size=(n_obs, dim_x))
    alpha, beta = 0.5 * X[:, 0] - X[:, 1] ** 2, 1.0 + 0.5 * X[:, 0] + X[:, 1] * X[:, 2]
    t = (rng.uniform(size=n_obs) < 0.5).astype(np.float64)
    eta = alpha + beta * t
    y = eta + rng.normal(size=n_obs) if model == "linear" else (rng.uniform(size=n_obs) < 1 / (1 + np.exp(-eta)))
    truth = {"theta": np.column_stack([alpha, beta]), "mean_beta": 1.0, "V": 1 / 12 + 1 / 9 + 4.0}
    return X, np.asarray(y, np.float64), t, truth


class DeepHeterogeneity:
    """Individual parameters θ(x) of a structured model by a ReLU MLP, and inference on E[H(x, θ(x); t*)].

    Args:
        model: "linear" or "logit" (see the module docstring).
        target: "beta" (E β_1(X)), "ame" (the logit's average marginal effect of t_1 at ``t_star``)
            or a callable H(θ tensor (n, K), X array) -> (n,) tensor.
        t_star: the treatment values at which "ame" is evaluated (default 0).
        n_folds: K >= 3 folds for the sample splitting (3: the paper's three-way split).
        lambda_model: "network" (Λ(x) regressed on x) or "constant" (Λ the mean of ℓ_θθ).
        hidden, epochs, lr, batch_size, patience: the θ network (ReLU MLP, Adam, early stopping
            on 20% of its training rows) and, hidden and epochs, the Λ networks.
        random_state: seeds the folds and the networks.

    ``fit(X, y, t)`` stores ``results_`` (``DMLResults``), ``theta_`` (n, K, out of fold), ``psi_``.
    """

    def __init__(self, model="linear", target="beta", t_star=None, n_folds=3, lambda_model="randomized",
                 hidden=(64, 64), epochs=200, lr=1e-3, batch_size=128, patience=10, random_state=None):
        if model not in MODELS:
            raise ValueError(f"DeepHeterogeneity: model must be one of {MODELS}; got {model!r}")
        if not (callable(target) or target in ("beta", "ame")):
            raise ValueError(f"DeepHeterogeneity: target must be 'beta', 'ame' or a callable; got {target!r}")
        if target == "ame" and model != "logit":
            raise ValueError("DeepHeterogeneity: target='ame' is the logit model's average marginal effect")
        if isinstance(n_folds, bool) or not isinstance(n_folds, int) or n_folds < 3:
            raise ValueError(f"DeepHeterogeneity: n_folds must be an int >= 3 (three-way splitting); got {n_folds!r}")
        if lambda_model not in ("randomized", "network", "constant"):
            raise ValueError(f"DeepHeterogeneity: lambda_model must be 'randomized', 'network' or 'constant'; got "
                             f"{lambda_model!r}")
        self.model, self.target, self.t_star, self.n_folds, self.lambda_model = model, target, t_star, n_folds, \
            lambda_model
        self.hidden, self.epochs, self.lr, self.batch_size, self.patience = hidden, epochs, lr, batch_size, patience
        self.random_state = random_state

    def fit(self, X, y, t):
        """Train, estimate Λ and evaluate the influence function fold by fold; returns self."""
        X, _ = as_matrix(X, "X", "DeepHeterogeneity")
        y, _ = as_vector(y, X.shape[0], "y", "DeepHeterogeneity")
        t = np.asarray(t, np.float64).reshape(X.shape[0], -1)
        if self.model == "logit" and not np.isin(y, (0.0, 1.0)).all():
            raise ValueError("DeepHeterogeneity: the logit model needs a binary (0/1) outcome y")
        n, K = X.shape[0], 1 + t.shape[1]
        folds = [test for _, test in make_folds(n, self.n_folds, 1, self.random_state)[0]]
        seed = 0 if self.random_state is None else self.random_state
        self.theta_, psi = np.empty((n, K)), np.empty(n)
        for k, rows in enumerate(folds):
            order = [folds[(k + j) % self.n_folds] for j in range(1, self.n_folds)]
            half = (len(order) + 1) // 2
            theta_rows, lambda_rows = np.concatenate(order[:half]), np.concatenate(order[half:])
            net = ThetaNetwork(self, K, seed + 7 * k).fit(X[theta_rows], y[theta_rows], t[theta_rows])
            Lambda = self._lambda(net, X, y, t, lambda_rows, rows, seed + 7 * k)
            self.theta_[rows] = net.predict(X[rows])
            psi[rows] = influence_function(self.model, y[rows], t[rows], self.theta_[rows], Lambda, self.target,
                                           X[rows], self.t_star)
        theta = float(psi.mean())
        psi = psi - theta
        se = float(np.sqrt(np.mean(psi * psi) / n))
        name = self.target if isinstance(self.target, str) else getattr(self.target, "__name__", "H")
        name = "H" if name == "<lambda>" else name
        self.psi_ = psi
        self.results_ = DMLResults([[theta]], [[se]], psi.reshape(-1, 1, 1), np.array([[-1.0]]), [f"E[{name}]"],
                                   f"DeepHeterogeneity ({self.model})", "influence function", self.n_folds)
        return self

    def _lambda(self, net, X, y, t, lambda_rows, rows, seed):
        _, hessian = loss_derivatives(self.model, y[lambda_rows], t[lambda_rows], net.predict(X[lambda_rows]))
        if self.lambda_model == "constant":
            return hessian.mean(0)
        if self.lambda_model == "randomized":
            return randomized_lambda(self.model, net.predict(X[rows]), t[lambda_rows], seed)
        K = hessian.shape[1]
        upper = np.triu_indices(K)
        Lambda = np.empty((rows.size, K, K))
        for e, (i, j) in enumerate(zip(*upper)):
            learner = NetworkLearner(hidden=self.hidden, epochs=self.epochs, random_state=seed + 1000 + e)
            values = learner.fit(X[lambda_rows], hessian[:, i, j]).predict(X[rows])
            Lambda[:, i, j] = Lambda[:, j, i] = values
        eigenvalues, vectors = np.linalg.eigh(Lambda)
        floor = 1e-3 * np.abs(eigenvalues).max(axis=1, keepdims=True)
        eigenvalues = np.maximum(eigenvalues, np.maximum(floor, 1e-12))
        return np.einsum("nij,nj,nkj->nik", vectors, eigenvalues, vectors)

    def summary(self, alpha: float = 0.05):
        """``results_.summary(alpha)``."""
        if not hasattr(self, "results_"):
            raise ValueError("DeepHeterogeneity: call fit(X, y, t) first")
        return self.results_.summary(alpha)


class ThetaNetwork:
    """The ReLU MLP x -> θ(x) ∈ R^K trained on mean ℓ(y, t, θ(x)) by Adam with early stopping."""

    def __init__(self, owner, K, seed):
        self.owner, self.K, self.seed = owner, K, seed

    def fit(self, X, y, t):
        from .. import nn, optim  # noqa: PLC0415 - the network stack only when used

        o, rng = self.owner, np.random.default_rng(self.seed)
        _random.manual_seed(self.seed)
        self.mean_, self.scale_ = X.mean(0), np.where(X.std(0) > 0, X.std(0), 1.0)
        Xs = (X - self.mean_) / self.scale_
        self.net_ = nn.MLP([X.shape[1], *o.hidden, self.K], activation="relu", dtype=float64)
        optimizer = optim.Adam(self.net_.parameters(), lr=o.lr)
        order = rng.permutation(len(X))
        n_val = max(1, len(X) // 5)
        val, train = order[:n_val], order[n_val:]
        best, best_state, waited = np.inf, None, 0
        for _ in range(o.epochs):
            shuffled = rng.permutation(train)
            for start in range(0, train.size, o.batch_size):
                batch = shuffled[start:start + o.batch_size]
                optimizer.zero_grad()
                self._loss(Xs[batch], y[batch], t[batch]).backward()
                optimizer.step()
            with cr_autograd.no_grad():
                current = float(self._loss(Xs[val], y[val], t[val]).item())
            if current < best - 1e-9:
                best, waited = current, 0
                best_state = {k: v.detach().clone() for k, v in self.net_.state_dict().items()}
            else:
                waited += 1
                if waited >= o.patience:
                    break
        self.net_.load_state_dict(best_state)
        self.best_val_loss_ = best
        return self

    def _loss(self, Xs, y, t):
        theta = self.net_(tensor(Xs))
        return structured_loss(self.owner.model, tensor(y), tensor(t), theta).mean()

    def predict(self, X):
        with cr_autograd.no_grad():
            return self.net_(tensor((X - self.mean_) / self.scale_)).numpy().astype(np.float64)
