"""Run under ``mpiexec -n N``: each rank fits OLS(distributed=True) on its block of rows.

Usage: fit_ols.py OUT_DIR. The data are drawn from one seed on every rank, so each rank
knows the full matrix and takes rows [r n/N, (r+1) n/N) of it (uneven blocks on purpose).
Rank 0 alone writes OUT_DIR/ols_<cov_type>.npz with params, bse, and the scalar results;
the other ranks write OUT_DIR/rank<r>_resid.npy only to be checked as this rank's rows.
"""
import os
import sys

import numpy as np

from chainrule import distributed as dist
from chainrule.stats import OLS


def data(n=403, p=4, seed=7):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, p)) * np.array([1.0, 10.0, 0.01, 1e3])[:p]
    X[:, 0] += 5.0
    y = 1.5 + X @ np.array([0.5, -0.02, 30.0, 1e-3])[:p] + rng.normal(size=n) * (1 + np.abs(X[:, 0]))
    return X, y


def main(out):
    dist.init()
    rank, size = dist.rank(), dist.world_size()
    X, y = data()
    bounds = np.linspace(0, len(y), size + 1).astype(int) + np.array([0] + [7] * (size - 1) + [0])
    block = slice(bounds[rank], bounds[rank + 1])
    for cov_type in ("nonrobust", "HC1", "HC3"):
        model = OLS(cov_type=cov_type, distributed=True).fit(X[block], y[block])
        r = model.results_
        if dist.is_main():
            np.savez(os.path.join(out, f"ols_{cov_type}.npz"), params=r.params, bse=r.bse,
                     scalars=np.array([r.rsquared, r.rsquared_adj, r.fvalue, r.llf, r.ssr, r.nobs,
                                       r.condition_number]),
                     resid0=r.resid, solver=np.array(model.solver_used_))
        assert np.allclose(r.resid, y[block] - model.predict(X[block]), rtol=0, atol=1e-9)
    dist.barrier()


if __name__ == "__main__":
    main(sys.argv[1])
