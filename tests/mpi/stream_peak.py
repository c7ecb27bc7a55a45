"""Run as one fresh process: stream a Parquet file and report the peak memory as JSON.

Usage: stream_peak.py {mlp|ols} PATH P BATCH. The file has columns x0 … x{P-1} and y.
"mlp" trains an MLP for one epoch with the Trainer; "ols" folds the batches into the
least-squares triangle (stats.tsqr.streamed_least_squares). A fresh process, so that
Arrow's high-water mark (``max_memory()`` of its memory pool, which cannot be reset) counts
this streaming alone; NumPy's and Python's allocations are traced by tracemalloc after a
warm-up (one batch read, a few in-memory rows fitted) and after opening the file: imports
(pyarrow imports pandas on its first read), compiled kernels and the file's metadata are
not the stream's. Prints
{"numpy_peak", "arrow_peak", ...} with the result (final loss, or the coefficients).
"""
import json
import sys
import tracemalloc

import numpy as np
import pyarrow as pa

import chainrule as cr
from chainrule import nn, optim
from chainrule.data import ParquetDataset


def main(mode, path, p, batch):
    columns = [[f"x{j}" for j in range(p)], "y"]
    # warm-up: pyarrow imports pandas on the first read; that is not the stream's memory
    next(iter(ParquetDataset(path, columns, batch_size=batch, shuffle=False)))
    if mode == "mlp":
        from chainrule.train import Trainer

        cr.manual_seed(0)
        model = nn.MLP([p, 16, 2])
        trainer = Trainer(model, nn.CrossEntropyLoss(), optim.SGD(model.parameters(), lr=0.05), verbose=0)
        # warm-up on 64 in-memory rows: imports and compiled kernels are not the streaming's memory
        trainer.fit((np.zeros((64, p), dtype=np.float32), np.zeros(64, dtype=np.int64)), epochs=1, batch_size=batch)
        data = ParquetDataset(path, columns, batch_size=batch)  # opens the file: metadata only
        tracemalloc.start()
        history = trainer.fit(data, epochs=1)
        result = {"train_loss": history["train_loss"][0]}
    else:
        from scipy import linalg

        from chainrule.stats import tsqr

        tsqr.streamed_least_squares([(np.ones((8, p)), np.arange(8.0))])  # warm-up: imports
        data = ParquetDataset(path, columns, batch_size=batch, dtype="float64", shuffle=False)
        tracemalloc.start()
        sums = tsqr.streamed_least_squares(data)
        result = {"params": linalg.solve_triangular(sums["R"], sums["qty"]).tolist(), "nobs": sums["nobs"]}
    _, numpy_peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    print(json.dumps({"numpy_peak": numpy_peak, "arrow_peak": pa.default_memory_pool().max_memory(), **result}))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))
