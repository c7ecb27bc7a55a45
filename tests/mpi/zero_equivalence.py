"""Run under ``mpiexec -n N``: train the same model with the unsharded step (blocking all-reduce)
and with ``zero_redundancy=True``; rank 0 saves both runs' weights, losses, gradient norms and
optimizer states, and a sharded run checkpointed after epoch 1 and resumed.

Usage: zero_equivalence.py MODEL OUT.npz DIR PATH   (MODEL: "adam", "sgd" or "unused"; PATH:
"window", the shared-memory window of ranks on one node, or "collectives", MPI's
reduce-scatter and all-gather as between nodes)
"adam": an MLP with Adam; "sgd": SGD with momentum (its buffer starts as the first gradient);
"unused": Adam, a branch that rank 1 skips in some steps (those fall back to the all-reduce,
between sharded steps). The MLP has 419 parameters: a tail of 1 element on 2 ranks, 2 on 3.
"""
import sys
from pathlib import Path

import numpy as np

import chainrule as cr
from chainrule import distributed as dist
from chainrule import nn, optim
from chainrule.train import Trainer
from chainrule.train.data_parallel import DataParallel


class Branchy(nn.Module):
    """A branch that rank 1 skips when its batch's first value is below -0.5 (then it has no
    gradient for it: that step falls back, between sharded steps)."""

    def __init__(self):
        super().__init__()
        self.body = nn.Linear(5, 8)
        self.branch = nn.Linear(8, 8)
        self.head = nn.Linear(8, 3)

    def forward(self, x):
        h = self.body(x).relu()
        if dist.rank() == 0 or float(x.data[0, 0]) > -0.5:
            h = h + self.branch(h).tanh()
        return self.head(h)


PATH = sys.argv[4] if len(sys.argv) > 4 else "window"


def build(kind, sharded, checkpoint=None):
    cr.manual_seed(3)
    model = Branchy() if kind == "unused" else nn.MLP([5, 16, 16, 3])
    opt = (optim.SGD(model.parameters(), lr=0.05, momentum=0.9) if kind == "sgd"
           else optim.Adam(model.parameters(), lr=1e-2))
    trainer = Trainer(model, nn.CrossEntropyLoss(), opt, verbose=0, distributed=True,
                      zero_redundancy=sharded, checkpoint_path=checkpoint)
    if not sharded:
        trainer._parallel = DataParallel(overlap=False)
    elif PATH == "collectives":
        trainer._parallel._sharded._one_node = False  # as if the ranks ran on several nodes
    return model, opt, trainer


def data():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(96, 5)).astype(np.float32)
    y = (X @ np.array([1.0, -2.0, 0.5, 0.0, 1.0]) > 0).astype(np.int64) + (X[:, 0] > 1)
    return X, y


def saved(prefix, model, opt, history):
    out = {f"{prefix}/w/{k}": t.numpy() for k, t in model.state_dict().items()}
    out[f"{prefix}/loss"] = np.array(history.steps["loss"])
    out[f"{prefix}/grad_norm"] = np.array(history.steps["grad_norm"])
    for index, entry in opt.state_dict()["state"].items():
        for name, value in entry.items():
            out[f"{prefix}/state/{index}/{name}"] = np.asarray(value)
    return out


def main(kind, out, directory):
    X, y = data()
    batch = 48 // dist.world_size()
    results = {}
    for prefix, sharded in (("plain", False), ("zero", True)):
        model, opt, trainer = build(kind, sharded)
        history = trainer.fit((X, y), epochs=3, batch_size=batch)
        results.update(saved(prefix, model, opt, history))
        results[f"{prefix}/bytes"] = np.array(trainer._parallel.bytes_per_step)
        results[f"{prefix}/sharded"] = np.array(getattr(trainer._parallel._sharded, "steps", -1))
        results[f"{prefix}/window"] = np.array(getattr(trainer._parallel._sharded, "window", None) is not None)
    checkpoint = Path(directory) / "zero.ckpt"
    cr.manual_seed(11)
    model, opt, trainer = build(kind, True, checkpoint)
    trainer.fit((X, y), epochs=1, batch_size=batch)
    cr.manual_seed(11)
    model, opt, trainer = build(kind, True)
    history = trainer.fit((X, y), epochs=3, batch_size=batch, resume_from=checkpoint)
    results.update(saved("resumed", model, opt, history))
    cr.manual_seed(11)
    model, opt, trainer = build(kind, True)
    history = trainer.fit((X, y), epochs=3, batch_size=batch)
    results.update(saved("straight", model, opt, history))
    if dist.is_main():
        np.savez(out, **results)


if __name__ == "__main__":
    main(*sys.argv[1:4])
