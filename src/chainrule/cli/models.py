"""What a fitted model of the command line is: the :class:`Predictor` (also what a saved
model becomes), the :class:`FitOutcome` of a fit, and the metrics of its predictions
(:func:`evaluate`, and :func:`evaluate_chunks` over blocks of rows).

Every statistical model the command line fits (OLS, Logit, MNLogit, Ridge, Lasso, forward
stepwise, PCR) predicts through a linear predictor of the encoded features,
η = X B + c, followed by a link: identity (regression), the logistic function
p = 1 / (1 + e^(-η)) (binary), or the softmax p_k = e^(η_k) / Σ_j e^(η_j) (multiclass, the
reference class's column of B fixed at zero). PCR's components and scaling fold into B
(B = V γ / sd), so it is a linear predictor too. A network predicts through its forward pass
with the same links on its outputs. :class:`Predictor` holds exactly what is needed for that
and nothing else, so a saved model predicts the same numbers as the fitted one.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .networks import network_inputs

LINKS = {"regression": "identity", "binary": "logistic", "multiclass": "softmax"}


@dataclass
class Predictor:
    """The prediction rule of a fitted model.

    ``kind`` is the model name (ols, logit, …, mlp); ``task`` regression, binary or
    multiclass; ``coef`` (p, k) and ``intercept`` (k,) for linear models; ``network`` an
    ``nn.Module`` and ``network_spec`` its constructor arguments for mlp.
    """

    kind: str
    task: str
    classes: list | None = None
    coef: np.ndarray | None = None
    intercept: np.ndarray | None = None
    network: object = None
    network_spec: dict = field(default_factory=dict)

    def linear_predictor(self, X: np.ndarray) -> np.ndarray:
        """η (n, k): X B + c for a linear model, the network's outputs for mlp."""
        if self.network is not None:
            from ..engine.autograd import no_grad

            self.network.eval()
            with no_grad():
                return np.asarray(self.network(network_inputs(X)).numpy(), dtype=np.float64)
        return np.asarray(X, dtype=np.float64) @ self.coef + self.intercept

    def predict_scores(self, X: np.ndarray) -> np.ndarray:
        """Regression: predicted values (n,); binary: P(class 1) (n,); multiclass: (n, K)
        class probabilities."""
        eta = self.linear_predictor(X)
        if self.task == "regression":
            return eta[:, 0]
        if self.task == "binary":
            return _expit(eta[:, 0])
        return _softmax(eta)

    def predict_classes(self, X: np.ndarray) -> np.ndarray:
        """Class ids (0..K-1): the most probable class (binary: P(class 1) > 0.5)."""
        scores = self.predict_scores(X)
        if self.task == "binary":
            return (scores > 0.5).astype(np.int64)
        return scores.argmax(axis=1)


def _expit(x: np.ndarray) -> np.ndarray:
    from scipy.special import expit

    return expit(x)


def _softmax(eta: np.ndarray) -> np.ndarray:
    shifted = eta - eta.max(axis=1, keepdims=True)
    weights = np.exp(shifted)
    return weights / weights.sum(axis=1, keepdims=True)


@dataclass
class FitOutcome:
    """A fitted model: its predictor, the estimator or network, the training history (mlp),
    and the wall time of the fit."""

    predictor: Predictor
    estimator: object = None
    history: object = None
    seconds: float = 0.0
    notes: list = field(default_factory=list)


# --------------------------------------------------------------------------- metrics

def evaluate(predictor: Predictor, X: np.ndarray, y: np.ndarray) -> dict:
    """Metrics of ``predictor`` on (X, y): regression R², RMSE, MAE; classification
    accuracy and mean log loss (cross-entropy, natural log)."""
    if len(y) == 0:
        return {}
    scores = predictor.predict_scores(X)
    if predictor.task == "regression":
        residual = y - scores
        total = float(((y - y.mean()) ** 2).sum())
        return {
            "r2": 1.0 - float((residual ** 2).sum()) / total if total > 0 else None,  # undefined for a constant y
            "rmse": float(np.sqrt(np.mean(residual ** 2))),
            "mae": float(np.mean(np.abs(residual))),
            "n": int(len(y)),
        }
    eps = 1e-15
    if predictor.task == "binary":
        probability = np.clip(scores, eps, 1 - eps)
        log_loss = -np.mean(y * np.log(probability) + (1 - y) * np.log1p(-probability))
        predicted = (scores > 0.5).astype(np.int64)
    else:
        probability = np.clip(scores[np.arange(len(y)), y.astype(np.int64)], eps, 1.0)
        log_loss = -np.mean(np.log(probability))
        predicted = scores.argmax(axis=1)
    return {"accuracy": float(np.mean(predicted == y)), "log_loss": float(log_loss),
            "n": int(len(y))}


def evaluate_chunks(predictor: Predictor, blocks, task: str, gather=None) -> dict:
    """:func:`evaluate` over blocks of rows, with the same numbers as on their concatenation.

    ``blocks`` yields (X_b, y_b). Per block: n, Σe², Σ|e|, ȳ and Σ(y − ȳ)² (regression) or
    the number of correct predictions and the summed log loss (classification); blocks are
    merged by adding, except (ȳ, M2 = Σ(y − ȳ)²), merged by Chan, Golub & LeVeque's (1983)
    M2 = M2_a + M2_b + δ² n_a n_b / n, δ = ȳ_b − ȳ_a. Then R² = 1 − Σe² / M2,
    RMSE = √(Σe²/n), MAE = Σ|e|/n, accuracy = correct / n, log loss = Σ / n. ``gather``
    (e.g. an MPI communicator's ``allgather``) maps this process's sums to the list of every
    process's, which are merged the same way. Returns {} when no block holds a row.
    """
    total = _no_rows()
    for X_b, y_b in blocks:
        if len(y_b):
            total = _merge_sums(total, _block_sums(predictor, X_b, y_b, task))
    if gather is not None:
        parts, total = gather(total), _no_rows()
        for part in parts:
            total = _merge_sums(total, part)
    n = total["n"]
    if not n:
        return {}
    if task == "regression":
        sse, m2 = total["sse"], total["m2"]
        return {"r2": 1.0 - sse / m2 if m2 > 0 else None, "rmse": float(np.sqrt(sse / n)),
                "mae": total["sae"] / n, "n": n}
    return {"accuracy": total["correct"] / n, "log_loss": total["log_loss"] / n, "n": n}


def _no_rows() -> dict:
    return {"n": 0, "mean": 0.0, "m2": 0.0, "sse": 0.0, "sae": 0.0, "correct": 0, "log_loss": 0.0}


def _block_sums(predictor, X_b, y_b, task) -> dict:
    sums = _no_rows()
    m = len(y_b)
    sums["n"] = m
    if task == "regression":
        residual = y_b - predictor.predict_scores(X_b)
        sums.update(mean=float(y_b.mean()), sse=float(residual @ residual), sae=float(np.abs(residual).sum()))
        sums["m2"] = float(((y_b - sums["mean"]) ** 2).sum())
    else:
        part = evaluate(predictor, X_b, y_b)
        sums.update(correct=int(round(part["accuracy"] * m)), log_loss=part["log_loss"] * m)
    return sums


def _merge_sums(a: dict, b: dict) -> dict:
    n = a["n"] + b["n"]
    if not n:
        return _no_rows()
    delta = b["mean"] - a["mean"]
    merged = {name: a[name] + b[name] for name in ("sse", "sae", "correct", "log_loss")}
    merged.update(n=n, mean=a["mean"] + delta * b["n"] / n,
                  m2=a["m2"] + b["m2"] + delta * delta * a["n"] * b["n"] / n)
    return merged
