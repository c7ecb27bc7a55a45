"""Run under ``mpiexec -n N`` (or as one process): train an MLP for one epoch and save the weights.

Usage: train_equivalence.py OPTIMIZER BATCH_SIZE BATCHNORM OUT.npz
Every rank builds the same data and model from one seed. Under MPI the Trainer is
data-parallel (automatic with N > 1: per-rank batch BATCH_SIZE, sync_batchnorm when the
model has BatchNorm); rank 0 alone writes OUT.npz (weights, history, bytes per step) and
the checkpoint OUT.ckpt. As one process it is the single-machine reference.
"""
import sys

import numpy as np

import chainrule as cr
from chainrule import distributed as dist
from chainrule import nn, optim
from chainrule.train import Trainer


def main(optimizer, batch_size, batchnorm, out):
    cr.manual_seed(3)
    rng = np.random.default_rng(0)
    X = rng.normal(size=(100, 5)).astype(np.float32)
    y = (X @ np.array([1.0, -2.0, 0.5, 0.0, 1.0]) > 0).astype(np.int64)
    model = nn.MLP([5, 16, 2], batchnorm=batchnorm == "bn")
    opt = (optim.SGD(model.parameters(), lr=0.1, momentum=0.9) if optimizer == "sgd"
           else optim.Adam(model.parameters(), lr=1e-2))
    trainer = Trainer(model, nn.CrossEntropyLoss(), opt, metrics=("accuracy",), verbose=2,
                      sync_batchnorm=batchnorm == "bn" and dist.world_size() > 1,
                      checkpoint_path=out + ".ckpt")
    history = trainer.fit((X, y), val=(X[:30], y[:30]), epochs=2, batch_size=batch_size)
    if dist.is_main():
        weights = {name: t.numpy() for name, t in model.state_dict().items()}
        record = history.epochs[-1]
        np.savez(out, train_loss=record["train_loss"], val_loss=record["val_loss"],
                 train_accuracy=record["train_accuracy"], val_accuracy=record["val_accuracy"],
                 bytes_per_step=0 if trainer._parallel is None else trainer._parallel.bytes_per_step,
                 **{"w/" + k: v for k, v in weights.items()})


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4])
