"""The digits demo: softmax regression trained by a hand-written mini-batch SGD loop.

Used by ``chainrule demo`` and ``examples/digits_softmax.py``. It shows the core
mechanics with nothing but Tensor ops and ``backward()``: the model is
``logits = x @ W + b``, the loss the mean cross-entropy
``L = -(1/n) Σ_i log softmax(logits_i)[y_i]``, and each step is ``θ ← θ - lr ∇L``.
"""
from __future__ import annotations

import chainrule as cr

from .backend import host as np
from .datasets import load_digits

NUM_CLASSES = 10


def _standardize(X_train, X_other):
    """Scale features by the training mean and std; zero-std features are only centered."""
    mean = X_train.mean(axis=0)
    std = X_train.std(axis=0)
    scale = np.where(std > 0, std, 1.0)  # constant pixels: centered, not divided by 0
    return (X_train - mean) / scale, (X_other - mean) / scale


def _accuracy(logits, y):
    """Fraction of rows whose arg-max logit equals the label."""
    return (logits.argmax(dim=1) == y).float().mean().item()


def run(epochs=30, seed=0, lr=0.1, batch_size=64, verbose=True):
    """Train softmax regression on the digits and return the final metrics.

    Holds out a random 20% of the 1797 samples (split and shuffles fixed by ``seed``),
    standardizes with training statistics, and runs ``epochs`` passes of mini-batch
    gradient descent with step ``lr`` and batches of ``batch_size``. Prints one line
    per epoch and the held-out accuracy when ``verbose``.

    Returns a dict: ``train_loss`` and ``train_accuracy`` (means over the last
    epoch's batches), ``test_accuracy`` (held-out), ``epochs``, ``n_train``,
    ``n_test``, and ``history`` (a list of per-epoch ``(loss, accuracy)`` pairs).
    """
    cr.manual_seed(seed)
    X, y = load_digits()
    n = len(y)
    perm = cr.randperm(n).numpy()
    n_test = n // 5
    test_idx, train_idx = perm[:n_test], perm[n_test:]
    X_train, X_test = _standardize(X[train_idx], X[test_idx])

    x_train = cr.tensor(X_train, dtype=cr.float32)
    y_train = cr.tensor(y[train_idx])
    x_test = cr.tensor(X_test, dtype=cr.float32)
    y_test = cr.tensor(y[test_idx])
    n_train = len(train_idx)

    W = cr.zeros(X.shape[1], NUM_CLASSES, requires_grad=True)
    b = cr.zeros(NUM_CLASSES, requires_grad=True)

    history = []
    for epoch in range(1, epochs + 1):
        order = cr.randperm(n_train)
        loss_sum = correct = 0.0
        for start in range(0, n_train, batch_size):
            idx = order[start:start + batch_size]
            xb, yb = x_train[idx], y_train[idx]
            logits = xb @ W + b
            onehot = cr.one_hot(yb, NUM_CLASSES).float()
            loss = -(logits.log_softmax(dim=1) * onehot).sum(dim=1).mean()
            loss.backward()
            with cr.no_grad():  # θ ← θ - lr ∇L, in place on the raw arrays
                W.data -= lr * W.grad.data
                b.data -= lr * b.grad.data
            W.grad = None
            b.grad = None
            m = len(yb)
            loss_sum += loss.item() * m
            with cr.no_grad():
                correct += _accuracy(logits, yb) * m
        history.append((loss_sum / n_train, correct / n_train))
        if verbose:
            print(f"epoch {epoch:3d}  train loss {history[-1][0]:.4f}  "
                  f"train accuracy {history[-1][1]:.4f}")

    with cr.no_grad():
        test_accuracy = _accuracy(x_test @ W + b, y_test)
    if verbose:
        print(f"held-out accuracy {test_accuracy:.4f} ({n_test} samples)")
    return {
        "epochs": epochs,
        "train_loss": history[-1][0] if history else float("nan"),
        "train_accuracy": history[-1][1] if history else float("nan"),
        "test_accuracy": test_accuracy,
        "n_train": n_train,
        "n_test": n_test,
        "history": history,
    }
