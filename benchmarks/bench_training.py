#!/usr/bin/env python3
"""Training benchmarks for chainrule: seconds per epoch of two whole training runs.

Run from the repository root::

    python benchmarks/bench_training.py              # full run, about 1-2 minutes (< 4 min)
    python benchmarks/bench_training.py --quick      # smoke test, fewer rows (< 30 s)
    python benchmarks/bench_training.py --json benchmarks/results/training.json
    python benchmarks/bench_training.py --threads 1  # BLAS and torch on 1 thread (default 2)

Workloads (the issue's W1 and W2; synthetic data, float32, shuffled minibatches every
epoch, the last batch kept (drop_last False)):

* W1: MLP 784-256-256-10, ReLU, softmax cross-entropy, Adam lr 1e-3, batch 128,
  60,000 rows (469 steps per epoch). Matmul-bound: the matmuls of one epoch are
  96.8 GFLOP counted as 3 x forward (PERF-NOTES' convention; 72.7 GFLOP are actually
  executed, as the first layer needs no input gradient).
* W2: MLP 20-64-64-1, ReLU, mean squared error, SGD momentum 0.9 lr 1e-2, batch 32,
  10,000 rows (313 steps per epoch). Overhead-bound: each step's arithmetic is a few
  microseconds, so the count of Python-level operations per step decides.
* W6: the micrograd demo's size: MLP 2-16-16-1, ReLU, the SVM hinge loss
  mean(relu(1 − y·s)) plus the L2 penalty 1e-4 Σ p² over all parameters, plain SGD lr 0.1
  (no momentum), full batch of 100 rows of two interleaved half-moons (labels ±1), one step
  per epoch; an epoch call runs ``W6_STEPS_PER_CALL`` steps (a single step is too short to
  time), and the table reports seconds per step (``--workloads W6`` alone takes seconds).

Implementations, all from the same initial weights and seeing the same minibatches in
the same order (the permutations come from PCG64(seed), as ``DataLoader(seed=...)``
draws them):

* ``numpy (reference)``: the training written by hand in plain NumPy, as a competent
  person writes it (see :class:`NumpyReference` for exactly what it does);
* ``chainrule loop``: chainrule as a user writes it: ``nn.MLP`` (its Linear and ReLU
  layers run as one fused ``linear_chain`` node), ``nn.functional.cross_entropy`` / ``mse_loss``, ``optim.Adam`` /
  ``optim.SGD(momentum=0.9)`` (flat buffers), and a manual loop over a
  ``data.DataLoader``; once with the compiled (numba) optimizer kernels allowed and
  once with ``CHAINRULE_NO_NUMBA=1`` (set in ``os.environ`` around the epoch; the
  optimizers read it at every step);
* ``chainrule Trainer``: the same model, loss, optimizer and loader through
  ``train.Trainer(verbose=0).fit(loader, epochs=1)``, to show the Trainer's overhead;
* ``chainrule compiled``: the loop's step wrapped by ``chainrule.compile`` (issue 20), with
  numba and with ``CHAINRULE_NO_NUMBA=1``; the printout gives compiled / JAX jit against the
  issue's aims (W1 <= 0.9, W2 and W6 <= 1.0). ``--only "compiled,JAX"`` times just those
  (the reference and the default loop always run);
* ``torch eager``: PyTorch with ``torch.set_num_threads(threads)``: ``nn.Sequential``,
  ``F.cross_entropy`` / ``F.mse_loss``, ``torch.optim.Adam`` / ``SGD`` (defaults), and
  minibatches gathered with ``X[perm[i:i + b]]`` from in-memory tensors;
* ``JAX jit`` (when JAX is installed: the ``bench`` extra): the whole step, minibatch
  gather included, as one ``jax.jit`` function (``jax_training.py``), JAX's default thread
  pool (2 threads on the 2-core machine);
* W1 only, ``numpy matmuls only``: just the eight matmuls of every step of an epoch
  (3 forward, 5 backward) into preallocated arrays: the sgemm floor.

Before timing, every implementation takes one step on the same batch from the same
weights; the losses, the gradients and the updated weights are compared with the NumPy
reference (printed as max abs differences). After the warm-up epoch the weights of all
implementations are compared again (relative L2 difference; they have trained on the same
batches). Expect float32 rounding to grow there: a ReLU unit whose input sits at 0 in one
implementation and not in another, or Adam's step lr * m / (sqrt(v) + eps) on gradients
near zero, turns last-bit differences into different trajectories (torch drifts from the
reference as much as chainrule does, or more).

Timing: one warm-up epoch each, then rounds in which every implementation trains one
epoch, interleaved (the order rotates every round) so that drift in machine load hits
them alike, with an untimed 0.2 s pause whenever the next epoch runs on the other
library's thread pool (see ``SETTLE_S``). Seconds per epoch: median and min over the
timed epochs. The garbage collector stays on. Then, for chainrule on W2: the median time of each phase of a step
(fetch, forward, loss, zero_grad, backward, step) against the reference's phases, and a
cProfile of one epoch (top functions by own time, in microseconds per step).

Performance aims live here and in benchmarks/README.md, never in unit tests
(tests/test_bench_training.py only checks that this instrument runs and that the
implementations compute the same thing).
"""
from __future__ import annotations

import argparse
import contextlib
import cProfile
import importlib.util
import itertools
import json
import math
import os
import pstats
import statistics
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
# Measure the working tree, not some installed copy (bench_engine does the same).
sys.path.insert(0, str(REPO / "src"))
sys.path.insert(0, str(HERE))
# The imports below come after the sys.path inserts on purpose (hence the noqa: E402).
import bench_engine as engine  # noqa: E402  # shared helpers: header facts, CPU contention

import chainrule as cr  # noqa: E402
import chainrule.nn.functional as crF  # noqa: E402
from chainrule import data as crdata  # noqa: E402
from chainrule import nn as crnn  # noqa: E402
from chainrule import optim as croptim  # noqa: E402
from chainrule import train as crtrain  # noqa: E402
from chainrule.optim import kernels as crkernels  # noqa: E402
from chainrule.optim import optimizer as croptimizer  # noqa: E402

torch = engine.torch  # None when PyTorch is missing: its rows are skipped
try:  # JAX is a benchmark-only dependency (the bench extra): without it its rows are skipped
    import jax_training  # noqa: E402
except ImportError:
    jax_training = None
threadpoolctl = engine.threadpoolctl
if torch is not None:
    import torch.nn.functional as torchF

NO_NUMBA = "CHAINRULE_NO_NUMBA"
HAS_NUMBA = importlib.util.find_spec("numba") is not None
US = 1e6

WORKLOADS = {
    "W1": {"sizes": (784, 256, 256, 10), "batch": 128, "loss": "cross_entropy",
           "optimizer": "adam", "lr": 1e-3, "rows": 60_000},
    "W2": {"sizes": (20, 64, 64, 1), "batch": 32, "loss": "mse",
           "optimizer": "sgd", "lr": 1e-2, "momentum": 0.9, "rows": 10_000},
    "W6": {"sizes": (2, 16, 16, 1), "batch": 100, "loss": "hinge_l2", "l2": 1e-4,
           "optimizer": "sgd", "lr": 0.1, "momentum": 0.0, "rows": 100},
}
# Aims of the issue: chainrule's epoch / the NumPy reference's epoch, and faster than torch.
AIMS = {"W1": 1.0, "W2": 1.5, "W6": 6.0}
#: Issue 20's aims for ``chainrule.compile``: at most this many times JAX jit's time, same run.
COMPILE_AIMS = {"W1": 0.9, "W2": 1.0, "W6": 1.0}
#: W6 steps (= epochs: one full batch each) per timed call of an implementation's ``epoch``.
W6_STEPS_PER_CALL = 200

FULL = {"rows": {"W1": 60_000, "W2": 10_000, "W6": 100}, "warmup_epochs": 1,
        "timed_epochs": {"W1": 9, "W2": 21, "W6": 15}, "profile_epochs": 2}
QUICK = {"rows": {"W1": 6_000, "W2": 2_000, "W6": 100}, "warmup_epochs": 1,
         "timed_epochs": {"W1": 3, "W2": 5, "W6": 3}, "profile_epochs": 1}


# ============================================================================ problem

def make_problem(workload: str, rows: int | None = None, seed: int = 0, dtype=np.float32,
                 sizes: tuple | None = None) -> dict:
    """Synthetic data and initial weights for one workload.

    X ~ N(0, 1). W1: labels = argmax of a random linear teacher (10 classes, int64).
    W2: y = tanh(X t) + 0.1 noise, shape (rows, 1). Initial weights: ``nn.MLP``'s
    default initialization after ``chainrule.manual_seed(seed)``, as arrays in PyTorch's
    layout (W: (out, in), b: (out,)), shared by every implementation. ``sizes`` overrides
    the workload's layer sizes (the tests use tiny nets).
    """
    spec = dict(WORKLOADS[workload])
    if sizes is not None:
        spec["sizes"] = tuple(sizes)
    rows = spec["rows"] if rows is None else rows
    sizes = spec["sizes"]
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((rows, sizes[0]), dtype=np.float32).astype(dtype, copy=False)
    if spec["loss"] == "hinge_l2":
        X, Y = half_moons(rows, rng, dtype)
    elif spec["loss"] == "cross_entropy":
        teacher = rng.standard_normal((sizes[0], sizes[-1]), dtype=np.float32)
        Y = np.argmax(X @ teacher.astype(dtype), axis=1).astype(np.int64)
    else:
        teacher = rng.standard_normal(sizes[0]) / math.sqrt(sizes[0])
        noise = rng.standard_normal(rows)
        Y = (np.tanh(X.astype(np.float64) @ teacher) + 0.1 * noise).astype(dtype).reshape(rows, 1)
    cr.manual_seed(seed)
    model = crnn.MLP(list(sizes), dtype=dtype)
    params = [np.array(p.data, copy=True) for p in model.parameters()]
    return {"workload": workload, "spec": spec, "X": X, "Y": Y, "params": params,
            "rows": rows, "sizes": sizes, "batch": spec["batch"], "shuffle_seed": seed + 1,
            "steps_per_epoch": -(-rows // spec["batch"]),
            "calls": W6_STEPS_PER_CALL if workload == "W6" else 1}


def half_moons(rows: int, rng, dtype) -> tuple:
    """Two interleaved half circles (scikit-learn's ``make_moons`` with noise 0.1, as in the
    micrograd demo), labels −1 and +1 as an (rows, 1) array."""
    half = rows // 2
    outer, inner = np.linspace(0, np.pi, rows - half), np.linspace(0, np.pi, half)
    X = np.concatenate([np.column_stack([np.cos(outer), np.sin(outer)]),
                        np.column_stack([1 - np.cos(inner), 0.5 - np.sin(inner)])])
    X += 0.1 * rng.standard_normal(X.shape)
    Y = np.concatenate([-np.ones(rows - half), np.ones(half)]).reshape(rows, 1)
    return X.astype(dtype), Y.astype(dtype)


def matmul_gflop(problem: dict) -> dict:
    """GFLOP of one epoch's matmuls: 'counted' = 3 x forward (PERF-NOTES), 'executed' =
    what runs (the first layer computes no input gradient)."""
    pairs = list(zip(problem["sizes"][:-1], problem["sizes"][1:]))
    forward = 2.0 * problem["rows"] * sum(a * b for a, b in pairs)
    first = 2.0 * problem["rows"] * pairs[0][0] * pairs[0][1]
    return {"counted": 3 * forward / 1e9, "executed": (3 * forward - first) / 1e9}


def _permutations(seed: int):
    """The per-epoch orders a ``DataLoader(..., shuffle=True, seed=seed)`` draws."""
    return np.random.Generator(np.random.PCG64(seed))


@contextlib.contextmanager
def numba_allowed(enabled: bool):
    """Allow (``CHAINRULE_NO_NUMBA=0``) or forbid (``=1``) chainrule's compiled optimizer
    kernels for the duration of the block; the optimizers read the variable at every step."""
    previous = os.environ.get(NO_NUMBA)
    os.environ[NO_NUMBA] = "0" if enabled else "1"
    try:
        yield
    finally:
        if previous is None:
            del os.environ[NO_NUMBA]
        else:
            os.environ[NO_NUMBA] = previous


def compiled_kernels_used(problem: dict, enabled: bool) -> bool:
    """Whether chainrule's optimizer runs its compiled kernels on this model (one flat
    float32 run of all parameters) with numba allowed or not."""
    count = sum(p.size for p in problem["params"])
    with numba_allowed(enabled):
        probe = np.empty(count, dtype=problem["params"][0].dtype)
        return crkernels.compiled_kernels(probe) is not None


# ============================================================================ implementations

class NumpyReference:
    """The training written by hand in plain NumPy: the reference.

    Per step: the batch is gathered with ``X[idx]`` (as the DataLoader does). Forward:
    ``z = h @ W; z += b; np.maximum(z, 0, out=z)`` with W stored (in, out). Loss and its
    gradient together: cross-entropy via the stable log-sum-exp evaluated at the labels,
    with ``d = softmax; d[rows, y] -= 1; d *= 1/n`` computed in place in the exp array;
    MSE as ``vdot(diff, diff) / n`` with ``diff *= 2/n`` in place. Backward:
    ``np.matmul(h.T, d, out=dW)`` and ``d.sum(0, out=db)`` into preallocated gradient
    arrays, ``d = d @ W.T; d *= h > 0``, no gradient for the input. Update, per
    parameter, in place with preallocated state and one scratch array per parameter,
    every scalar cast to float32: Adam exactly as ``torch.optim.Adam`` (m, v, then
    ``p -= step_size * m / (sqrt(v) / sqrt(bc2) + eps)``, 11 array passes), or SGD with
    momentum (``buf = mu * buf + g``; the first step ``buf = g``; ``p -= lr * buf``).
    The loss is computed every step (not converted to a Python float).
    """

    name = "numpy (reference)"

    def __init__(self, problem: dict):
        spec = problem["spec"]
        self.X, self.Y = problem["X"], problem["Y"]
        self.batch, self.rows = problem["batch"], problem["rows"]
        self.loss_kind, self.optimizer = spec["loss"], spec["optimizer"]
        self.Ws = [np.ascontiguousarray(W.T) for W in problem["params"][0::2]]  # (in, out)
        self.bs = [b.copy() for b in problem["params"][1::2]]
        self.gWs = [np.zeros_like(W) for W in self.Ws]
        self.gbs = [np.zeros_like(b) for b in self.bs]
        self.params = [a for pair in zip(self.Ws, self.bs) for a in pair]
        self.grads = [a for pair in zip(self.gWs, self.gbs) for a in pair]
        self.scratch = [np.empty_like(p) for p in self.params]
        cast = self.cast = self.X.dtype.type
        self.lr = spec["lr"]
        self.l2 = cast(2 * spec.get("l2", 0.0))  # the L2 penalty's gradient factor (W6)
        if self.optimizer == "adam":
            self.b1, self.b2, self.eps = 0.9, 0.999, 1e-8
            self.m = [np.zeros_like(p) for p in self.params]
            self.v = [np.zeros_like(p) for p in self.params]
            self.t = 0
            self.c_b1, self.c_b2 = cast(self.b1), cast(self.b2)
            self.c_1mb1, self.c_1mb2, self.c_eps = cast(1 - self.b1), cast(1 - self.b2), cast(self.eps)
            self.update = self.update_adam
        else:
            self.c_lr, self.c_mu = cast(self.lr), cast(spec["momentum"])
            self.buf = [np.zeros_like(p) for p in self.params]
            self.started = False
            self.update = self.update_sgd
        self.rng = _permutations(problem["shuffle_seed"])

    def epoch(self) -> None:
        X, Y, b = self.X, self.Y, self.batch
        forward, backward, update = self.forward, self.backward, self.update
        order = self.rng.permutation(self.rows)
        for start in range(0, self.rows, b):
            idx = order[start:start + b]
            _loss, dout, acts = forward(X[idx], Y[idx])
            backward(dout, acts)
            update()

    def step_on(self, xb, yb) -> float:
        loss, dout, acts = self.forward(xb, yb)
        self.backward(dout, acts)
        self.update()
        return float(loss)

    def forward(self, xb, yb):
        """Activations, the loss and the loss's gradient with respect to the output."""
        acts = [xb]
        h = xb
        last = len(self.Ws) - 1
        for i, (W, b) in enumerate(zip(self.Ws, self.bs)):
            z = h @ W
            z += b
            if i < last:
                np.maximum(z, 0, out=z)
            acts.append(z)
            h = z
        n = h.shape[0]
        if self.loss_kind == "cross_entropy":
            h -= h.max(axis=1, keepdims=True)          # the logits are not needed again
            e = np.exp(h)
            total = e.sum(axis=1, keepdims=True)
            rows = np.arange(n)
            loss = np.log(total).mean() - h[rows, yb].mean()
            e /= total                                  # softmax
            e[rows, yb] -= 1                            # - onehot
            e *= self.cast(1.0 / n)                     # mean over the batch
            return loss, e, acts
        if self.loss_kind == "hinge_l2":               # mean(relu(1 - y s)) + l2 * sum p^2
            margin = 1 - yb * h
            active = margin > 0
            penalty = sum(np.vdot(p, p) for p in self.params)
            loss = margin[active].sum() / n + self.l2 / 2 * penalty
            return loss, np.where(active, -yb, 0) * self.cast(1.0 / n), acts
        diff = h - yb
        loss = np.vdot(diff, diff) / diff.size
        diff *= self.cast(2.0 / diff.size)
        return loss, diff, acts

    def backward(self, dout, acts) -> None:
        d = dout
        for i in range(len(self.Ws) - 1, -1, -1):
            np.matmul(acts[i].T, d, out=self.gWs[i])
            d.sum(axis=0, out=self.gbs[i])
            if i:
                d = d @ self.Ws[i].T
                d *= acts[i] > 0                        # ReLU: h > 0 exactly where z > 0
        if self.l2:
            for p, g in zip(self.params, self.grads):
                g += self.l2 * p

    def update_adam(self) -> None:
        self.t += 1
        cast = self.cast
        bias_correction2 = 1 - self.b2 ** self.t
        step_size = cast(self.lr / (1 - self.b1 ** self.t))
        bc2_sqrt = cast(math.sqrt(bias_correction2))
        b1, b2, one_minus_b1, one_minus_b2, eps = self.c_b1, self.c_b2, self.c_1mb1, self.c_1mb2, self.c_eps
        for p, g, m, v, s in zip(self.params, self.grads, self.m, self.v, self.scratch):
            m *= b1
            m += np.multiply(g, one_minus_b1, out=s)
            v *= b2
            np.multiply(g, g, out=s)
            s *= one_minus_b2
            v += s
            np.sqrt(v, out=s)
            s /= bc2_sqrt
            s += eps
            np.divide(m, s, out=s)
            s *= step_size
            p -= s

    def update_sgd(self) -> None:
        lr, mu = self.c_lr, self.c_mu
        for p, g, buf, s in zip(self.params, self.grads, self.buf, self.scratch):
            if self.started:
                buf *= mu
                buf += g
            else:
                buf[...] = g
            p -= np.multiply(buf, lr, out=s)
        self.started = True

    def params_numpy(self) -> list:
        """Parameters in PyTorch's layout, W (out, in), b (out,), as copies."""
        return [a.T.copy() if a.ndim == 2 else a.copy() for a in self.params]

    def grads_numpy(self) -> list:
        return [a.T.copy() if a.ndim == 2 else a.copy() for a in self.grads]


class MatmulFloor:
    """Only the matmuls of one W1 epoch: per step 3 forward and 5 backward products
    (weight gradients of all layers, input gradients of layers 2 and 3), the last batch
    smaller, into preallocated arrays. No training: the sgemm time of an epoch."""

    name = "numpy matmuls only"

    def __init__(self, problem: dict):
        sizes, b, rows = problem["sizes"], problem["batch"], problem["rows"]
        rng = np.random.default_rng(1)
        self.batches = [b] * (rows // b) + ([rows % b] if rows % b else [])
        self.x = np.ascontiguousarray(problem["X"][:b])
        self.Ws = [np.ascontiguousarray(W.T) for W in problem["params"][0::2]]
        self.z = [np.empty((b, out), dtype=self.x.dtype) for out in sizes[1:]]
        self.d = [rng.standard_normal((b, out), dtype=np.float32).astype(self.x.dtype) * 1e-2
                  for out in sizes[1:]]
        self.gW = [np.empty_like(W) for W in self.Ws]

    def epoch(self) -> None:
        x, (W1, W2, W3), (z1, z2, z3), (d1, d2, d3), (g1, g2, g3) = self.x, self.Ws, self.z, self.d, self.gW
        matmul = np.matmul
        for r in self.batches:
            matmul(x[:r], W1, out=z1[:r])
            matmul(z1[:r], W2, out=z2[:r])
            matmul(z2[:r], W3, out=z3[:r])
            matmul(z2[:r].T, d3[:r], out=g3)
            matmul(d3[:r], W3.T, out=d2[:r])
            matmul(z1[:r].T, d2[:r], out=g2)
            matmul(d2[:r], W2.T, out=d1[:r])
            matmul(x[:r].T, d1[:r], out=g1)


def _chainrule_model(problem: dict):
    model = crnn.MLP(list(problem["sizes"]), dtype=problem["X"].dtype)
    for p, array in zip(model.parameters(), problem["params"]):
        p.data[...] = array
    spec = problem["spec"]
    if spec["optimizer"] == "adam":
        optimizer = croptim.Adam(model.parameters(), lr=spec["lr"])
    else:
        optimizer = croptim.SGD(model.parameters(), lr=spec["lr"], momentum=spec["momentum"])
    if spec["loss"] == "hinge_l2":
        loss_fn = hinge_l2(list(model.parameters()), spec["l2"], crF.relu)
    else:
        loss_fn = crF.cross_entropy if spec["loss"] == "cross_entropy" else crF.mse_loss
    loader = crdata.DataLoader(crdata.TensorDataset(problem["X"], problem["Y"]),
                               batch_size=problem["batch"], shuffle=True, drop_last=False,
                               seed=problem["shuffle_seed"])
    return model, optimizer, loss_fn, loader


def hinge_l2(params: list, l2: float, relu):
    """W6's loss as a user writes it (chainrule or torch): mean(relu(1 − y s)) + l2 Σ p²."""
    def hinge_l2_loss(out, target):
        penalty = (params[0] * params[0]).sum()
        for p in params[1:]:
            penalty = penalty + (p * p).sum()
        return relu(1 - target * out).mean() + l2 * penalty
    return hinge_l2_loss


class ChainruleLoop:
    """chainrule the way a user writes it::

        model = nn.MLP(sizes); opt = optim.Adam(model.parameters(), lr=1e-3)
        loader = data.DataLoader(data.TensorDataset(X, Y), batch_size=128, shuffle=True, seed=s)
        for xb, yb in loader:
            opt.zero_grad()
            loss = F.cross_entropy(model(xb), yb)
            loss.backward()
            opt.step()

    ``numba=False`` runs every epoch with ``CHAINRULE_NO_NUMBA=1`` (the NumPy update path).
    """

    def __init__(self, problem: dict, numba: bool = True):
        self.numba = numba
        self.name = f"chainrule loop ({'numba' if numba else 'no numba'})"
        self.model, self.optimizer, self.loss_fn, self.loader = _chainrule_model(problem)

    def epoch(self) -> None:
        model, opt, loss_fn = self.model, self.optimizer, self.loss_fn
        with numba_allowed(self.numba):
            for xb, yb in self.loader:
                opt.zero_grad()
                loss = loss_fn(model(xb), yb)
                loss.backward()
                opt.step()

    def step_on(self, xb, yb) -> float:
        with numba_allowed(self.numba):
            self.optimizer.zero_grad()
            loss = self.loss_fn(self.model(cr.tensor(xb)), cr.tensor(yb))
            loss.backward()
            self.optimizer.step()
        return float(loss.item())

    def params_numpy(self) -> list:
        return [np.array(p.data, copy=True) for p in self.model.parameters()]

    def grads_numpy(self) -> list:
        return [np.array(p.grad.data, copy=True) for p in self.model.parameters()]


class ChainruleTrainer(ChainruleLoop):
    """The same model, loss, optimizer and loader through ``train.Trainer(verbose=0)``;
    each timed epoch is one ``fit(loader, epochs=1)`` call (which also records the loss
    with ``loss.item()`` and the global gradient norm every step, and checks both for
    divergence)."""

    def __init__(self, problem: dict, numba: bool = True):
        super().__init__(problem, numba)
        self.name = f"chainrule Trainer ({'numba' if numba else 'no numba'})"
        self.trainer = crtrain.Trainer(self.model, self.loss_fn, self.optimizer, verbose=0)

    def epoch(self) -> None:
        with numba_allowed(self.numba):
            self.trainer.fit(self.loader, epochs=1)

    def step_on(self, xb, yb) -> float:
        one_batch = crdata.DataLoader(crdata.TensorDataset(xb, yb), batch_size=len(xb), shuffle=False)
        with numba_allowed(self.numba):
            history = self.trainer.fit(one_batch, epochs=1)
        return float(history.steps["loss"][0])


class ChainruleCompiled(ChainruleLoop):
    """The same loop with its step wrapped by ``chainrule.compile`` (issue 20)::

        @chainrule.compile
        def step(xb, yb):
            opt.zero_grad(); loss = loss_fn(model(xb), yb); loss.backward(); opt.step(); return loss

        for xb, yb in loader:
            step(xb, yb)

    The first call traces (an eager step); later calls replay the plan. ``numba=False`` traces
    and replays with ``CHAINRULE_NO_NUMBA=1`` (the plain NumPy replay)."""

    def __init__(self, problem: dict, numba: bool = True):
        super().__init__(problem, numba)
        self.name = f"chainrule compiled ({'numba' if numba else 'no numba'})"
        model, opt, loss_fn = self.model, self.optimizer, self.loss_fn

        def step(xb, yb):
            opt.zero_grad()
            loss = loss_fn(model(xb), yb)
            loss.backward()
            opt.step()
            return loss

        self.step = cr.compile(step)

    def epoch(self) -> None:
        step = self.step
        with numba_allowed(self.numba):
            for xb, yb in self.loader:
                step(xb, yb)

    def step_on(self, xb, yb) -> float:
        with numba_allowed(self.numba):
            loss = self.step(cr.tensor(xb), cr.tensor(yb))
        return float(loss.item())


class TorchEager:
    """PyTorch eager as a user writes it: ``nn.Sequential(Linear, ReLU, …)``,
    ``F.cross_entropy`` / ``F.mse_loss``, ``torch.optim.Adam`` / ``SGD(momentum=0.9)``
    with their defaults, minibatches ``X[perm[i:i+b]]`` from in-memory tensors (the
    same permutations as everyone else)."""

    name = "torch eager"

    def __init__(self, problem: dict):
        spec = problem["spec"]
        sizes = problem["sizes"]
        layers = []
        for i, (a, b) in enumerate(itertools.pairwise(sizes)):
            layers.append(torch.nn.Linear(a, b))
            if i < len(sizes) - 2:
                layers.append(torch.nn.ReLU())
        self.model = torch.nn.Sequential(*layers)
        with torch.no_grad():
            for p, array in zip(self.model.parameters(), problem["params"]):
                p.copy_(torch.from_numpy(array))
        if spec["optimizer"] == "adam":
            self.optimizer = torch.optim.Adam(self.model.parameters(), lr=spec["lr"])
        else:
            self.optimizer = torch.optim.SGD(self.model.parameters(), lr=spec["lr"], momentum=spec["momentum"])
        self.loss_fn = {"cross_entropy": torchF.cross_entropy, "mse": torchF.mse_loss}.get(spec["loss"])
        if spec["loss"] == "hinge_l2":
            self.loss_fn = hinge_l2(list(self.model.parameters()), spec["l2"], torchF.relu)
        self.X, self.Y = torch.from_numpy(problem["X"]), torch.from_numpy(problem["Y"])
        self.rows, self.batch = problem["rows"], problem["batch"]
        self.rng = _permutations(problem["shuffle_seed"])

    def epoch(self) -> None:
        model, opt, loss_fn, X, Y, b = self.model, self.optimizer, self.loss_fn, self.X, self.Y, self.batch
        order = torch.from_numpy(self.rng.permutation(self.rows))
        for start in range(0, self.rows, b):
            idx = order[start:start + b]
            opt.zero_grad()
            loss = loss_fn(model(X[idx]), Y[idx])
            loss.backward()
            opt.step()

    def step_on(self, xb, yb) -> float:
        self.optimizer.zero_grad()
        loss = self.loss_fn(self.model(torch.from_numpy(xb)), torch.from_numpy(yb))
        loss.backward()
        self.optimizer.step()
        return float(loss.item())

    def params_numpy(self) -> list:
        return [p.detach().numpy().copy() for p in self.model.parameters()]

    def grads_numpy(self) -> list:
        return [p.grad.numpy().copy() for p in self.model.parameters()]


def make_implementations(problem: dict, with_floor: bool = True) -> list:
    """The reference first, then chainrule (loop with and without numba, Trainer), torch,
    and (W1) the matmul floor."""
    impls = [NumpyReference(problem), ChainruleLoop(problem, numba=True),
             ChainruleLoop(problem, numba=False), ChainruleTrainer(problem, numba=True),
             ChainruleCompiled(problem, numba=True), ChainruleCompiled(problem, numba=False)]
    if torch is not None:
        impls.append(TorchEager(problem))
    if jax_training is not None:
        impls.append(jax_training.JaxJit(problem, _permutations))
    if with_floor and problem["workload"] == "W1":
        impls.append(MatmulFloor(problem))
    if ONLY:  # --only: the reference and the default chainrule loop stay (the ratios and aims need them)
        keep = (NumpyReference.name, "chainrule loop (numba)")
        impls = [impl for impl in impls if impl.name in keep or any(part in impl.name for part in ONLY)]
    return impls


#: Substrings of the implementation names to time (``--only``); empty: all of them.
ONLY: list = []


def trainable(impls: list) -> list:
    return [impl for impl in impls if hasattr(impl, "params_numpy")]


# ============================================================================ cross-checks

def _max_abs_diffs(arrays: list, reference: list) -> float:
    return max(float(np.max(np.abs(a - r))) for a, r in zip(arrays, reference))


def check_first_step(impls: list, problem: dict) -> dict:
    """One step of every implementation on the same batch (the first ``batch`` rows)
    from the same weights: losses, gradients and updated weights against the reference.

    The step is a real training step (the optimizers' state advances by one step in
    every implementation alike), so the implementations stay in lockstep afterwards.
    """
    reference = impls[0]
    assert isinstance(reference, NumpyReference)
    b = problem["batch"]
    xb, yb = np.ascontiguousarray(problem["X"][:b]), np.ascontiguousarray(problem["Y"][:b])
    results = {}
    for impl in trainable(impls):
        loss = impl.step_on(xb, yb)
        results[impl.name] = (loss, impl.grads_numpy(), impl.params_numpy())
    ref_loss, ref_grads, ref_params = results[reference.name]
    initial = problem["params"]
    # Adam's first step is lr * g / (|g| + eps): where |g| is near eps = 1e-8 it swings
    # with the last bits of g, so the updated weights are compared where |g| >= 1e-6
    # (all of them for SGD); the max over all weights is reported beside it.
    floor = 1e-6 if problem["spec"]["optimizer"] == "adam" else 0.0
    stable = [np.abs(g) >= floor for g in ref_grads]
    report = {"reference_loss": ref_loss,
              "grad_max_abs": max(float(np.max(np.abs(g))) for g in ref_grads),
              "update_max_abs": _max_abs_diffs(ref_params, initial),
              "stable_grad_floor": floor,
              "impls": {}}
    for name, (loss, grads, params) in results.items():
        if name == reference.name:
            continue
        stable_diff = max(float(np.max(np.abs(p - r)[mask], initial=0.0))
                          for p, r, mask in zip(params, ref_params, stable))
        report["impls"][name] = {"loss": loss, "loss_abs_diff": abs(loss - ref_loss),
                                 "grad_max_abs_diff": _max_abs_diffs(grads, ref_grads),
                                 "param_max_abs_diff": stable_diff,
                                 "param_max_abs_diff_all": _max_abs_diffs(params, ref_params)}
    return report


def compare_params(impls: list) -> dict:
    """Relative difference ||w - w_ref|| / ||w_ref|| (all weights as one vector) of every
    implementation's weights from the reference's, and of chainrule's from torch's."""
    impls = trainable(impls)
    flat = {impl.name: np.concatenate([a.reshape(-1) for a in impl.params_numpy()]).astype(np.float64)
            for impl in impls}
    ref = flat[impls[0].name]
    out = {name: float(np.linalg.norm(w - ref) / np.linalg.norm(ref)) for name, w in list(flat.items())[1:]}
    pair = ("chainrule loop (numba)", "torch eager")
    if all(name in flat for name in pair):  # how far two non-reference implementations drift apart
        out[f"{pair[0]} vs {pair[1]}"] = float(np.linalg.norm(flat[pair[0]] - flat[pair[1]]) / np.linalg.norm(ref))
    return out


def full_data_loss(problem: dict, params: list) -> dict:
    """Loss of weights ``params`` (PyTorch layout) over the whole training set, in float64,
    and for classification the accuracy: to tell drifting weights from worse training."""
    h = problem["X"].astype(np.float64)
    last = len(params) // 2 - 1
    for i in range(last + 1):
        h = h @ params[2 * i].T.astype(np.float64) + params[2 * i + 1]
        if i < last:
            h = np.maximum(h, 0)
    if problem["spec"]["loss"] == "cross_entropy":
        y = problem["Y"]
        shifted = h - h.max(axis=1, keepdims=True)
        losses = np.log(np.exp(shifted).sum(axis=1)) - shifted[np.arange(len(y)), y]
        return {"loss": float(losses.mean()), "accuracy": float((h.argmax(axis=1) == y).mean())}
    return {"loss": float(np.mean((h - problem["Y"]) ** 2))}


def agreement_ok(report: dict, loss_tol: float = 1e-5, grad_tol: float = 1e-5) -> bool:
    """Whether every implementation matches the reference's first step (losses and
    gradients to float32 rounding, updated weights to 1% of the update's size)."""
    update_tol = max(1e-2 * report["update_max_abs"], 1e-6)
    return all(row["loss_abs_diff"] <= loss_tol and row["grad_max_abs_diff"] <= grad_tol
               and row["param_max_abs_diff"] <= update_tol for row in report["impls"].values())


# ============================================================================ timing

#: Untimed pause before an epoch that runs on another thread pool than the previous
#: one (torch's OpenMP threads against NumPy's OpenBLAS threads). OpenBLAS's idle worker
#: keeps spinning for about 0.1 s after its last call; on 2 cores a torch epoch started
#: in that window lost 60-100 ms in its first steps (parallel regions waiting whole
#: scheduler slices for a core), which a program using one library never pays.
SETTLE_S = 0.2


def _runtime(impl) -> str:
    if isinstance(impl, TorchEager):
        return "torch"
    return "jax" if impl.name == "JAX jit" else "numpy"


def time_epochs(impls: list, warmup: int, epochs: int, settle: float = SETTLE_S,
                after_warmup=None, calls: int = 1) -> dict:
    """Seconds per epoch of every implementation: ``warmup`` untimed epochs each, then
    ``epochs`` rounds, one epoch of each implementation per round, the order rotating
    by one every round. GC stays on. An untimed pause of ``settle`` seconds precedes
    every epoch that switches between torch and NumPy's BLAS (see ``SETTLE_S``).
    ``after_warmup()``, if given, is called once the warm-up epochs are done. Each timed
    sample runs ``calls`` epochs and is divided by ``calls`` (W6's epochs are one step)."""
    clock = time.perf_counter
    previous = None
    for impl in impls:
        for _ in range(warmup * calls):
            impl.epoch()
        previous = _runtime(impl)
    if after_warmup is not None:
        after_warmup()
    samples = {impl.name: [] for impl in impls}
    for r in range(epochs):
        k = r % len(impls)
        for impl in impls[k:] + impls[:k]:
            if _runtime(impl) != previous and settle:
                time.sleep(settle)
            previous = _runtime(impl)
            t0 = clock()
            for _ in range(calls):
                impl.epoch()
            samples[impl.name].append((clock() - t0) / calls)
    return {name: {"median_s": statistics.median(v), "min_s": min(v), "n": len(v), "all_s": v}
            for name, v in samples.items()}


def bench_workload(workload: str, settings: dict, verbose: bool = True) -> dict:
    problem = make_problem(workload, settings["rows"][workload])
    impls = make_implementations(problem)
    agreement = check_first_step(impls, problem)
    if verbose:
        print_agreement(workload, problem, agreement)
    compiled = {impl.name: compiled_kernels_used(problem, impl.numba)
                for impl in impls if isinstance(impl, ChainruleLoop)}
    # after the warm-up epoch(s) every implementation has trained on the same batches
    drift, trained = {}, {}

    def after_warmup():
        drift.update(compare_params(impls))
        trained.update({impl.name: full_data_loss(problem, impl.params_numpy()) for impl in trainable(impls)})

    timings = time_epochs(impls, settings["warmup_epochs"], settings["timed_epochs"][workload],
                          settings.get("settle_s", SETTLE_S), after_warmup, problem["calls"])
    ref = timings[NumpyReference.name]["median_s"]
    gflop = matmul_gflop(problem)
    for row in timings.values():
        row["ratio"] = row["median_s"] / ref
        row["ms_per_step"] = row["median_s"] / problem["steps_per_epoch"] * 1e3
        if workload == "W1":
            row["gflops_counted"] = gflop["counted"] / row["median_s"]
    result = {"workload": workload, "spec": problem["spec"], "rows": problem["rows"],
              "steps_per_epoch": problem["steps_per_epoch"], "agreement": agreement,
              "agreement_ok": agreement_ok(agreement), "compiled_kernels": compiled,
              "weights_rel_diff_after_warmup": drift, "warmup_epochs": settings["warmup_epochs"],
              "training_set_loss_after_warmup": trained,
              "timings": timings,
              "n_params": int(sum(p.size for p in problem["params"]))}
    if workload == "W1":
        result["matmul_gflop"] = gflop
        floor = timings.get(MatmulFloor.name)
        if floor is not None:
            result["matmul_floor_gflops_executed"] = gflop["executed"] / floor["median_s"]
            for row in timings.values():
                row["share_outside_matmul"] = 1 - floor["median_s"] / row["median_s"]
    chainrule_default = timings["chainrule loop (numba)"]["ratio"]
    result["aim"] = {"target_ratio": AIMS[workload], "chainrule_ratio": chainrule_default,
                     "met_ratio": chainrule_default <= AIMS[workload]}
    if "torch eager" in timings:
        result["aim"]["faster_than_torch"] = (timings["chainrule loop (numba)"]["median_s"]
                                              < timings["torch eager"]["median_s"])
    if verbose:
        print_timings(result)
    return result


# ============================================================================ W2 profile

def phase_profile(workload: str, rows: int, epochs: int) -> dict:
    """Median time of each phase of a step: chainrule (fetch, forward, loss, zero_grad,
    backward, step) and the reference (fetch, forward with the loss and its gradient,
    backward, update), over ``epochs`` epochs after one warm-up epoch, interleaved."""
    problem = make_problem(workload, rows)
    loop = ChainruleLoop(problem, numba=True)
    ref = NumpyReference(problem)
    loop.epoch()
    ref.epoch()
    clock = time.perf_counter
    cr_phases = {k: [] for k in ("fetch", "forward", "loss", "zero_grad", "backward", "step", "total")}
    np_phases = {k: [] for k in ("fetch", "forward+loss", "backward", "update", "total")}
    model, opt, loss_fn = loop.model, loop.optimizer, loop.loss_fn
    for _ in range(epochs):
        with numba_allowed(True):
            batches = iter(loop.loader)
            while True:
                t0 = clock()
                batch = next(batches, None)
                if batch is None:
                    break
                xb, yb = batch
                t1 = clock()
                out = model(xb)
                t2 = clock()
                loss = loss_fn(out, yb)
                t3 = clock()
                opt.zero_grad()
                t4 = clock()
                loss.backward()
                t5 = clock()
                opt.step()
                t6 = clock()
                for key, value in zip(cr_phases, (t1 - t0, t2 - t1, t3 - t2, t4 - t3, t5 - t4, t6 - t5, t6 - t0)):
                    cr_phases[key].append(value)
        order = ref.rng.permutation(ref.rows)
        for start in range(0, ref.rows, ref.batch):
            t0 = clock()
            idx = order[start:start + ref.batch]
            xb, yb = ref.X[idx], ref.Y[idx]
            t1 = clock()
            _, dout, acts = ref.forward(xb, yb)
            t2 = clock()
            ref.backward(dout, acts)
            t3 = clock()
            ref.update()
            t4 = clock()
            for key, value in zip(np_phases, (t1 - t0, t2 - t1, t3 - t2, t4 - t3, t4 - t0)):
                np_phases[key].append(value)

    def summary(d):
        return {k: {"median_us": statistics.median(v) * US, "mean_us": statistics.fmean(v) * US}
                for k, v in d.items()}

    return {"workload": workload, "steps": len(cr_phases["total"]),
            "chainrule": summary(cr_phases), "numpy": summary(np_phases)}


def _entry_points(loss_fn) -> list:
    """(label, function) pairs for the cumulative view of the profile."""
    return [
        ("DataLoader batch (next)", crdata.DataLoader._batches),
        ("model(xb): Module.__call__", crnn.Module.__call__),
        ("  nn.Sequential.forward (one linear_chain node)", crnn.Sequential.forward),
        ("Function.apply (all forward ops)", cr.autograd.Function.apply),
        (f"F.{loss_fn.__name__}", loss_fn),
        ("opt.zero_grad()", croptimizer.Optimizer.zero_grad),
        ("loss.backward(): autograd.backward", cr.autograd.backward),
        ("opt.step()", croptimizer.Optimizer.step),
    ]


def _profile_key(function) -> tuple:
    code = function.__code__
    return code.co_filename, code.co_firstlineno, code.co_name


def cprofile_chainrule(workload: str, rows: int, epochs: int = 1, top: int = 18) -> dict:
    """cProfile of ``epochs`` epochs of the chainrule loop (after one warm-up epoch).

    Rows: own time (tottime) and cumulative time per step in microseconds, calls per
    step. cProfile adds roughly 0.5-1 us to every Python call it sees, so its totals
    exceed the unprofiled step; use it for where the time goes, the phase table for
    how much. NumPy operators (``@``, ``*``) are invisible to it: their time is the own
    time of the Python function that runs them.
    """
    problem = make_problem(workload, rows)
    loop = ChainruleLoop(problem, numba=True)
    loop.epoch()
    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(epochs):
        loop.epoch()
    profiler.disable()
    steps = epochs * problem["steps_per_epoch"]
    stats = pstats.Stats(profiler)
    rows_out = []
    for (filename, line, func), (_cc, nc, tt, ct, _) in stats.stats.items():
        rows_out.append({"function": f"{Path(filename).name}:{line}({func})", "file": Path(filename).name,
                         "func": func, "calls_per_step": nc / steps, "tottime_us": tt / steps * US,
                         "cumtime_us": ct / steps * US})
    rows_out.sort(key=lambda r: -r["tottime_us"])
    entry = {}
    for label, function in _entry_points(loop.loss_fn):
        found = stats.stats.get(_profile_key(function))
        if found is not None:
            entry[label] = {"cumtime_us": found[3] / steps * US, "calls_per_step": found[1] / steps}
    return {"workload": workload, "steps": steps, "total_calls_per_step": stats.total_calls / steps,
            "profiled_us_per_step": stats.total_tt / steps * US,
            "top": rows_out[:top], "entry_points": entry}


# ============================================================================ printing

def print_header(meta: dict, settings: dict, mode: str) -> None:
    print("=" * 78)
    print(f"chainrule training benchmark ({mode})   {meta['date']}")
    print("=" * 78)
    print(f"CPU      : {meta['cpu_model']}  (nproc {meta['nproc']}, os.cpu_count {meta['cpu_count']})")
    print(f"Python   : {meta['python']}   NumPy {meta['numpy']}   "
          f"PyTorch {meta['torch'] or 'not installed (its rows are skipped)'}   "
          f"numba {meta['numba'] or 'not installed'}   "
          f"JAX {jax_training.VERSION if jax_training else 'not installed (its rows are skipped)'}")
    for lib in meta["blas"]:
        print(f"BLAS     : {lib['internal_api']} {lib['version']} ({lib['user_api']}, "
              f"{lib['architecture']}, {lib['threading_layer']}), {lib['num_threads']} thread(s)")
    print(f"Threads  : NumPy BLAS {meta['blas_threads']}, torch {meta['torch_threads']}; "
          f"env {meta['thread_env'] or '(no *_NUM_THREADS set)'}")
    load = meta["load_average_at_start"]
    if load is not None:
        busy = (" (busy recently; load averages lag, the 'Other processes used' line at the "
                "end measures this run)") if load[0] > 0.5 else ""
        print(f"Load avg : {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} at start{busy}")
    print(f"chainrule: {meta['chainrule']} from {meta['chainrule_path']} "
          f"(source sha1 {meta['chainrule_source_sha1']}); compiled optimizer kernels for "
          f">= {crkernels.COMPILED_MIN_SIZE} elements")
    print(f"Timing   : seconds per epoch, {settings['warmup_epochs']} warm-up epoch(s) then "
          + " / ".join(f"{w} {n}" for w, n in settings["timed_epochs"].items())
          + " timed epochs per implementation, interleaved (order rotates), GC on; rows "
          + ", ".join(f"{w} {n:,}" for w, n in settings["rows"].items()))
    print()


def describe(result_or_problem: dict) -> str:
    spec, rows = result_or_problem["spec"], result_or_problem["rows"]
    sizes = "-".join(map(str, spec["sizes"]))
    if spec["optimizer"] == "adam":
        opt = f"Adam lr {spec['lr']:g}"
    else:
        opt = f"SGD momentum {spec['momentum']} lr {spec['lr']:g}"
    loss = {"cross_entropy": "cross-entropy", "mse": "MSE", "hinge_l2": f"hinge + L2 {spec.get('l2')}"}[spec["loss"]]
    steps = -(-rows // spec["batch"])
    return f"MLP {sizes}, ReLU, {loss}, {opt}, batch {spec['batch']}, {rows:,} rows ({steps} steps/epoch), float32"


def print_agreement(workload: str, problem: dict, report: dict) -> None:
    print(f"{workload}: {describe(problem)}")
    print(f"    cross-check, one step on the same batch from the same weights: reference loss "
          f"{report['reference_loss']:.7f}, max|grad| {report['grad_max_abs']:.2e}, max|update| "
          f"{report['update_max_abs']:.2e}")
    for name, row in report["impls"].items():
        where = (f" (|g| >= {report['stable_grad_floor']:g}; all: {row['param_max_abs_diff_all']:.1e})"
                 if report["stable_grad_floor"] else "")
        print(f"    {name:30s} loss {row['loss']:.7f}  |dloss| {row['loss_abs_diff']:.1e}  "
              f"max|dgrad| {row['grad_max_abs_diff']:.1e}  max|dweight after step| "
              f"{row['param_max_abs_diff']:.1e}{where}")
    print(f"    -> {'OK: all implementations agree' if agreement_ok(report) else 'MISMATCH: see above'}")


def print_timings(result: dict) -> None:
    w = result["workload"]
    timings = result["timings"]
    is_w1 = w == "W1"
    print("    compiled (numba) optimizer kernels used: " + ", ".join(
        f"{name}: {'yes' if used else 'no'}" for name, used in result["compiled_kernels"].items())
        + ("" if any(result["compiled_kernels"].values()) or not HAS_NUMBA else
           f"  ({result['n_params']:,} parameters < {crkernels.COMPILED_MIN_SIZE}: same code with and without numba)"))
    header = f"    {'implementation':32s} {'s/epoch':>8s} {'[min]':>8s} {'ratio':>6s} {'ms/step':>8s}"
    if is_w1:
        header += f" {'GFLOP/s':>8s} {'outside matmul':>15s}"
    print(header)
    print("    " + "-" * (len(header) - 4))
    for name, row in timings.items():
        line = (f"    {name:32s} {row['median_s']:8.4f} {row['min_s']:8.4f} {row['ratio']:6.2f} "
                f"{row['ms_per_step']:8.3f}")
        if is_w1:
            line += f" {row['gflops_counted']:8.1f} {row.get('share_outside_matmul', float('nan')) * 100:14.0f}%"
        print(line)
    if is_w1:
        g = result["matmul_gflop"]
        extra = ""
        if "matmul_floor_gflops_executed" in result:
            extra = (f"; the matmul floor executes {g['executed']:.1f} GFLOP at "
                     f"{result['matmul_floor_gflops_executed']:.0f} GFLOP/s")
        print(f"    GFLOP/s = {g['counted']:.1f} GFLOP per epoch (3 x forward, PERF-NOTES' convention) "
              f"/ s per epoch{extra}")
    drift = result["weights_rel_diff_after_warmup"]
    print(f"    weights after the {result['warmup_epochs']} warm-up epoch(s) on the same batches, "
          "||w - w_ref|| / ||w_ref||: "
          + ", ".join(f"{name} {value:.1e}" for name, value in drift.items()))
    def fmt(row):
        return f"{row['loss']:.5f}" + (f" (accuracy {row['accuracy']:.4f})" if "accuracy" in row else "")
    print("    training-set loss after the warm-up epoch(s): "
          + ", ".join(f"{name} {fmt(row)}" for name, row in result["training_set_loss_after_warmup"].items()))
    aim = result["aim"]
    torch_part = ""
    if "faster_than_torch" in aim:
        torch_part = f"; faster than torch eager: {'yes' if aim['faster_than_torch'] else 'NO'}"
    print(f"    Aim: chainrule loop (numba) <= {aim['target_ratio']:.1f}x the NumPy reference: "
          f"{aim['chainrule_ratio']:.2f}x -> {'MET' if aim['met_ratio'] else 'NOT MET'}{torch_part}")
    jax = timings.get("JAX jit")
    for name in ("chainrule compiled (numba)", "chainrule compiled (no numba)"):
        if jax is not None and name in timings:  # issue 20's aims: W1 <= 0.9x, W2 and W6 <= 1.0x JAX jit
            print(f"    {name} / JAX jit: {timings[name]['median_s'] / jax['median_s']:.2f} "
                  f"(aim <= {COMPILE_AIMS[w]:.1f})")
    print()


def print_phases(result: dict) -> None:
    cr_p, np_p = result["chainrule"], result["numpy"]
    print(f"W2 phase breakdown: median us per step over {result['steps']} steps (chainrule loop, numba allowed) "
          f"against the reference")
    print(f"    {'chainrule phase':24s} {'median':>8s} {'mean':>8s}   {'reference phase':16s} {'median':>8s}")
    pairs = [("fetch", "fetch"), ("forward", "forward+loss"), ("loss", None), ("zero_grad", None),
             ("backward", "backward"), ("step", "update"), ("total", "total")]
    for crk, npk in pairs:
        right = f"{npk:16s} {np_p[npk]['median_us']:8.1f}" if npk else ""
        print(f"    {crk:24s} {cr_p[crk]['median_us']:8.1f} {cr_p[crk]['mean_us']:8.1f}   {right}")
    print()


def print_cprofile(result: dict) -> None:
    print(f"W2 cProfile of the chainrule loop: {result['steps']} steps, "
          f"{result['total_calls_per_step']:.0f} Python-level calls per step, "
          f"{result['profiled_us_per_step']:.0f} us per step under the profiler")
    print("    cumulative, per step:")
    for label, row in result["entry_points"].items():
        print(f"      {label:32s} {row['cumtime_us']:8.1f} us  ({row['calls_per_step']:.1f} calls)")
    print(f"    top {len(result['top'])} by own time (us per step; NumPy operators count in their caller):")
    print(f"      {'own us':>7s} {'cum us':>7s} {'calls':>6s}  function")
    for row in result["top"]:
        print(f"      {row['tottime_us']:7.1f} {row['cumtime_us']:7.1f} {row['calls_per_step']:6.1f}  "
              f"{row['function']}")
    print()


# ============================================================================ main

def run(quick: bool = False, threads: int = 2, settings: dict | None = None, verbose: bool = True,
        profile: bool = True, workloads: tuple = ("W1", "W2", "W6")) -> dict:
    settings = dict(settings or (QUICK if quick else FULL))
    limiter = contextlib.nullcontext()
    if threadpoolctl is not None:
        limiter = threadpoolctl.threadpool_limits(limits=threads, user_api="blas")
    with limiter:
        if torch is not None:
            torch.set_num_threads(threads)
        meta = engine.environment(engine.blas_threads() if threadpoolctl is not None else threads)
        meta["numba"] = _numba_version()
        if verbose:
            print_header(meta, settings, "quick" if quick else "full")
        contention = engine.CpuContention()
        start = time.perf_counter()
        results = {"meta": meta, "settings": settings, "workloads": {}}
        for workload in workloads:
            results["workloads"][workload] = bench_workload(workload, settings, verbose)
        if profile and "W2" in workloads:
            phases = phase_profile("W2", settings["rows"]["W2"], settings["profile_epochs"])
            prof = cprofile_chainrule("W2", settings["rows"]["W2"], 1)
            results["profile_W2"] = {"phases": phases, "cprofile": prof}
            if verbose:
                print_phases(phases)
                print_cprofile(prof)
        elapsed = time.perf_counter() - start
    others = contention.cores_used_by_others()
    meta["cores_used_by_other_processes"] = others
    results["elapsed_s"] = elapsed
    if verbose:
        print(f"Benchmark time: {elapsed:.1f} s")
        if others is not None:
            verdict = ("OK: quiet machine" if others < 0.1 else
                       "WARNING: other processes competed for the CPU; repeat this run on a quiet machine")
            print(f"Other processes used {others:.2f} core(s) on average during the run -> {verdict}")
    return results


def _numba_version():
    if not HAS_NUMBA:
        return None
    from importlib.metadata import PackageNotFoundError, version
    try:
        return version("numba")
    except PackageNotFoundError:  # pragma: no cover - importable without metadata
        return "?"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="fewer rows and epochs (smoke test, < 30 s)")
    parser.add_argument("--json", metavar="PATH", help="write every number to PATH")
    parser.add_argument("--threads", type=int, default=2,
                        help="NumPy's BLAS (via threadpoolctl) and torch threads (default 2)")
    parser.add_argument("--no-profile", action="store_true", help="skip the W2 phase table and cProfile")
    parser.add_argument("--workloads", default="W1,W2,W6", help="comma-separated workloads (default W1,W2,W6)")
    parser.add_argument("--only", default="", help="comma-separated parts of implementation names to time, e.g. "
                        "'compiled (numba),JAX' (the NumPy reference and 'chainrule loop (numba)' always run)")
    args = parser.parse_args(argv)
    ONLY[:] = [part.strip() for part in args.only.split(",") if part.strip()]
    results = run(quick=args.quick, threads=args.threads, profile=not args.no_profile,
                  workloads=tuple(w.strip() for w in args.workloads.split(",")))
    if args.json:
        path = Path(args.json)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(results, indent=2, default=str))
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
