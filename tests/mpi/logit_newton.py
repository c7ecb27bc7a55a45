"""Run under ``mpiexec -n N``: the Logit Newton iteration on rows spread over the ranks.

Usage: logit_newton.py OUT.npz. Every rank draws the same data and keeps its block of rows;
stats.tsqr.SummedDesign sums ℓ, the score and the information over the ranks, and the
Newton iteration of stats.logit runs unchanged on it. Rank 0 alone writes OUT.npz.
"""
import sys

import numpy as np

from chainrule import distributed as dist
from chainrule.stats import logit_newton, tsqr


def data(n=501, seed=5):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 3)) * [1.0, 3.0, 0.5]
    eta = 0.3 + X @ [0.8, -0.4, 1.5]
    y = (rng.uniform(size=n) < 1 / (1 + np.exp(-eta))).astype(float)
    return X, y


def main(out):
    rows = tsqr.RowBlocks(True)
    X, y = data()
    bounds = np.linspace(0, len(y), rows.size + 1).astype(int)
    block = slice(bounds[rows.rank], bounds[rows.rank + 1])
    design = tsqr.SummedDesign(logit_newton.Design(np.ascontiguousarray(X[block]), True), rows)
    result = logit_newton.newton_binary(design, y[block], np.zeros(4), 1e-10, 100)
    information = result.information[0]
    if dist.is_main():
        np.savez(out, beta=result.beta, llf=result.llf, information=information, nobs=design.n,
                 bse=np.sqrt(np.diag(np.linalg.inv(information))))


if __name__ == "__main__":
    main(sys.argv[1])
