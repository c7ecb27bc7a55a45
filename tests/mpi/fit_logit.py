"""Run under ``mpiexec -n N`` (or alone): each rank fits Logit(distributed=True) on its block.

Usage: fit_logit.py OUT.npz. Every rank draws the same data (class labels 3 and 7, so the
classes must be agreed over the ranks) and keeps rows [r n/N, (r+1) n/N) shifted by 9 so
that the blocks are uneven. Rank 0 alone writes OUT.npz with the estimates and results.
"""
import sys

import numpy as np

from chainrule import distributed as dist
from chainrule.stats import Logit


def data(n=611, seed=11):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 3)) * [1.0, 4.0, 0.3] + [0.0, 2.0, 0.0]
    eta = -0.4 + X @ [0.9, -0.25, 2.0]
    y = np.where(rng.uniform(size=n) < 1 / (1 + np.exp(-eta)), 7.0, 3.0)
    return X, y


def main(out):
    dist.init()
    rank, size = dist.rank(), dist.world_size()
    X, y = data()
    bounds = np.linspace(0, len(y), size + 1).astype(int) + np.array([0] + [9] * (size - 1) + [0])
    block = slice(bounds[rank], bounds[rank + 1])
    model = Logit(tol=1e-10, distributed=True).fit(X[block], y[block])
    if dist.is_main():
        np.savez(out, params=model.params, bse=model.bse, classes=model.classes_,
                 scalars=np.array([model.llf, model.llnull, model.nobs, model.prsquared, model.aic]),
                 proba=model.predict_proba(X[:5]))


if __name__ == "__main__":
    main(sys.argv[1])
