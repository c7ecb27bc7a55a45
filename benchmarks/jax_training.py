"""JAX jit implementations of the training workloads of ``bench_training.py`` (W1, W2, W6).

Imported by ``bench_training.py`` only when JAX is installed (``pip install -e '.[bench]'``,
a benchmark-only dependency): without it the "JAX jit" rows are skipped.

What runs, as a JAX user writes it: the parameters as a list of arrays in PyTorch's layout
(W (out, in), b (out,)), the forward pass and the loss as pure functions, the gradients by
``jax.value_and_grad``, and the whole step — gather of the minibatch rows from the training
set held on the device, forward, loss, backward and the optimizer update — as ONE
``jax.jit``-compiled function (parameters and optimizer state donated, so XLA updates them
in place). The Python loop over the minibatches only dispatches that function; each epoch
ends with ``jax.block_until_ready`` so the timing covers the work, not just the dispatch.
The updates are PyTorch's: Adam (m, v, ``p -= lr / bc1 * m / (sqrt(v) / sqrt(bc2) + eps)``,
the bias corrections computed in Python as torch does) and SGD with momentum (``buf = mu buf
+ g``, the first step ``buf = g``, which is what ``mu * 0 + g`` gives; W6's mu = 0 is plain
SGD). Same initial weights, same data and the same per-epoch permutations as every other
implementation.

Threads: JAX keeps its defaults here (XLA's CPU client sizes its thread pool to the cores,
2 on the 2-core benchmark machine; XLA_FLAGS is left as the caller set it). On a larger
machine, pin the whole benchmark to 2 cores (``taskset -c 0,1``) to compare at 2 threads.
"""
from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np

VERSION = jax.__version__


def forward(params, x):
    """MLP: Linear, ReLU, …, Linear (W in PyTorch's (out, in) layout)."""
    last = len(params) // 2 - 1
    h = x
    for i in range(last + 1):
        h = h @ params[2 * i].T + params[2 * i + 1]
        if i < last:
            h = jax.nn.relu(h)
    return h


def make_loss(spec: dict):
    """The workload's loss as a function of (params, xb, yb)."""
    kind = spec["loss"]
    if kind == "cross_entropy":
        def loss(params, xb, yb):
            logits = forward(params, xb)
            picked = jnp.take_along_axis(logits, yb[:, None], axis=1)[:, 0]
            return jnp.mean(jax.nn.logsumexp(logits, axis=1) - picked)
    elif kind == "mse":
        def loss(params, xb, yb):
            diff = forward(params, xb) - yb
            return jnp.mean(diff * diff)
    else:  # hinge_l2 (W6)
        l2 = spec["l2"]

        def loss(params, xb, yb):
            penalty = sum(jnp.sum(p * p) for p in params)
            return jnp.mean(jax.nn.relu(1 - yb * forward(params, xb))) + l2 * penalty
    return loss


def make_step(spec: dict):
    """step(params, state, xb, yb, scalars) -> (params, state, loss, grads), pure."""
    grad_fn = jax.value_and_grad(make_loss(spec))
    if spec["optimizer"] == "adam":
        b1, b2, eps = 0.9, 0.999, 1e-8

        def step(params, state, xb, yb, scalars):
            step_size, bc2_sqrt = scalars
            loss, grads = grad_fn(params, xb, yb)
            ms, vs = state
            ms = [b1 * m + (1 - b1) * g for m, g in zip(ms, grads)]
            vs = [b2 * v + (1 - b2) * (g * g) for v, g in zip(vs, grads)]
            params = [p - step_size * (m / (jnp.sqrt(v) / bc2_sqrt + eps)) for p, m, v in zip(params, ms, vs)]
            return params, (ms, vs), loss, grads
    else:
        lr, mu = spec["lr"], spec["momentum"]

        def step(params, state, xb, yb, scalars):
            loss, grads = grad_fn(params, xb, yb)
            bufs = [mu * b + g for b, g in zip(state, grads)]
            params = [p - lr * b for p, b in zip(params, bufs)]
            return params, bufs, loss, grads
    return step


class JaxJit:
    """One jitted training step per minibatch (see the module docstring)."""

    name = "JAX jit"

    def __init__(self, problem: dict, permutations):
        spec = problem["spec"]
        self.adam = spec["optimizer"] == "adam"
        self.lr = spec["lr"]
        self.rows, self.batch = problem["rows"], problem["batch"]
        self.X, self.Y = jax.device_put(problem["X"]), jax.device_put(problem["Y"])
        self.params = [jnp.asarray(a) for a in problem["params"]]
        zeros = [jnp.zeros_like(p) for p in self.params]
        self.state = (zeros, [jnp.zeros_like(p) for p in self.params]) if self.adam else zeros
        self.t = 0
        self.rng = permutations(problem["shuffle_seed"])
        self.dtype = problem["X"].dtype.type
        step = make_step(spec)

        def gathered(params, state, X, Y, order, start, scalars, size):
            idx = jax.lax.dynamic_slice(order, (start,), (size,))
            params, state, loss, _ = step(params, state, X[idx], Y[idx], scalars)
            return params, state, loss

        self._epoch_step = jax.jit(gathered, static_argnums=(7,), donate_argnums=(0, 1))
        self._probe_step = jax.jit(step)
        self.grads = None

    def _scalars(self):
        """Adam's step size and sqrt of the second bias correction (float32, as torch)."""
        if not self.adam:
            return ()
        self.t += 1
        bc1, bc2 = 1 - 0.9 ** self.t, 1 - 0.999 ** self.t
        return (self.dtype(self.lr / bc1), self.dtype(math.sqrt(bc2)))

    def epoch(self) -> None:
        order = jnp.asarray(self.rng.permutation(self.rows))
        params, state, X, Y, b, step = self.params, self.state, self.X, self.Y, self.batch, self._epoch_step
        for start in range(0, self.rows, b):
            size = min(b, self.rows - start)
            params, state, _loss = step(params, state, X, Y, order, start, self._scalars(), size)
        self.params, self.state = jax.block_until_ready((params, state))

    def step_on(self, xb, yb) -> float:
        self.params, self.state, loss, self.grads = self._probe_step(
            self.params, self.state, jnp.asarray(xb), jnp.asarray(yb), self._scalars())
        return float(loss)

    def params_numpy(self) -> list:
        return [np.array(p) for p in self.params]

    def grads_numpy(self) -> list:
        return [np.array(g) for g in self.grads]
