"""Run under ``mpiexec -n 2``: train the same model with the blocking gradient all-reduce and
with overlapped gradient buckets of several sizes; rank 0 saves every run's weights and losses.

Usage: overlap_equivalence.py MODEL OUT.npz   (MODEL: "mlp" or "unused")
"mlp": an MLP with Adam (2 epochs). "unused": a model with a branch that only rank 0 takes
(its parameters have no gradient on rank 1), a parameter no rank uses, a frozen one, and a last global
batch of one row, which leaves rank 0 without rows.
"""
import sys

import numpy as np

import chainrule as cr
from chainrule import distributed as dist
from chainrule import nn, optim
from chainrule.train import Trainer
from chainrule.train.data_parallel import DataParallel

SETTINGS = {"blocking": None, "default": {}, "tiny": {"bucket_cap_mb": 1e-6}, "small": {"bucket_cap_mb": 0.001}}


class Branchy(nn.Module):
    def __init__(self):
        super().__init__()
        self.body = nn.Linear(5, 8)
        self.branch = nn.Linear(8, 8)
        self.head = nn.Linear(8, 2)
        self.never = nn.Linear(3, 3)
        self.never.bias.requires_grad_(False)  # frozen

    def forward(self, x):
        h = self.body(x).relu()
        if dist.rank() == 0:
            h = h + self.branch(h).tanh()
        return self.head(h)


def run(model_kind, setting):
    cr.manual_seed(3)
    rng = np.random.default_rng(0)
    rows = 100 if model_kind == "mlp" else 65  # "unused": global batch 32, the last has 1 row (rank 1's)
    X = rng.normal(size=(rows, 5)).astype(np.float32)
    y = (X @ np.array([1.0, -2.0, 0.5, 0.0, 1.0]) > 0).astype(np.int64)
    model = nn.MLP([5, 16, 16, 2]) if model_kind == "mlp" else Branchy()
    opt = optim.Adam(model.parameters(), lr=1e-2)
    trainer = Trainer(model, nn.CrossEntropyLoss(), opt, verbose=0, distributed=True)
    options = SETTINGS[setting]
    trainer._parallel = DataParallel(overlap=False) if options is None else DataParallel(**options)
    batch = 8 if model_kind == "mlp" else 16
    history = trainer.fit((X, y), epochs=2, batch_size=batch)
    weights = {f"{setting}/w/{k}": t.numpy() for k, t in model.state_dict().items()}
    losses = np.array(history.steps["loss"] + history.steps["grad_norm"])
    buckets = trainer._parallel._buckets
    count = 0 if buckets is None else len(buckets.buckets)
    early = 0 if buckets is None else buckets.started_in_backward
    grads = {f"{setting}/never_grad": np.array(model.never.weight.grad is None)} if model_kind == "unused" else {}
    return {**weights, f"{setting}/loss": losses, f"{setting}/buckets": np.array(count),
            f"{setting}/bytes": np.array(trainer._parallel.bytes_per_step),
            f"{setting}/early": np.array(early), f"{setting}/steps": np.array(len(history.steps["step"])), **grads}


def main(model_kind, out):
    saved = {}
    for setting in SETTINGS:
        saved.update(run(model_kind, setting))
    if dist.is_main():
        np.savez(out, **saved)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
