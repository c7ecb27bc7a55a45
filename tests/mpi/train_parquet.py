"""Run under ``mpiexec -n N``: data-parallel training streamed from a Parquet file.

Usage: train_parquet.py DIR. Rank 0 writes DIR/data.parquet (row groups of unequal count
per rank), every rank streams its row groups; at the end rank 0 writes DIR/result.npz with
the steps taken, the rows one epoch covered, and whether all ranks hold identical weights.
"""
import os
import sys

import numpy as np

import chainrule as cr
from chainrule import distributed as dist
from chainrule import nn, optim
from chainrule.data import ParquetDataset
from chainrule.train import Trainer


def main(directory):
    dist.init()
    path = os.path.join(directory, "data.parquet")
    if dist.is_main():
        import pyarrow as pa
        import pyarrow.parquet as pq

        rng = np.random.default_rng(0)
        X = rng.normal(size=(250, 3)).astype(np.float32)
        table = pa.table({"a": X[:, 0], "b": X[:, 1], "c": X[:, 2], "y": (X[:, 0] > 0).astype(np.int64)})
        pq.write_table(table, path, row_group_size=40)   # 7 row groups: 4 on rank 0, 3 on rank 1
    dist.barrier()
    cr.manual_seed(1)
    model = nn.MLP([3, 8, 2])
    data = ParquetDataset(path, [["a", "b", "c"], "y"], batch_size=16, seed=2)
    trainer = Trainer(model, nn.CrossEntropyLoss(), optim.Adam(model.parameters(), lr=1e-2),
                      metrics=("accuracy",), verbose=0)
    history = trainer.fit(data, val=data, epochs=2)
    flat = np.concatenate([p.numpy().ravel() for p in model.parameters()])
    everyone = dist.communicator().allgather(flat)
    if dist.is_main():
        np.savez(os.path.join(directory, "result.npz"),
                 steps=len(history.steps["step"]),
                 rows_per_epoch=sum(sum(step) for step in trainer._train_loader.rows),
                 same=all(np.array_equal(everyone[0], w) for w in everyone),
                 train_loss=history["train_loss"], val_accuracy=history["val_accuracy"])


if __name__ == "__main__":
    main(sys.argv[1])
