"""Least squares and the Logit Newton iteration on data streamed batch by batch (stats.tsqr),
against the in-memory estimators, and their memory bound on a file larger than the budget."""
from __future__ import annotations

import numpy as np
import pytest
from scipy import linalg

from chainrule.stats import OLS, Logit, logit_newton, tsqr

pa = pytest.importorskip("pyarrow")
pq = pytest.importorskip("pyarrow.parquet")


def _ols_file(path, n, p, row_group_size, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, p)) * np.geomspace(1e-2, 1e2, p)
    y = 2.0 + X @ np.linspace(-1, 1, p) + rng.normal(size=n)
    pq.write_table(pa.table({**{f"x{j}": X[:, j] for j in range(p)}, "y": y}), path, row_group_size=row_group_size)
    return X, y


def _stream(path, p, batch_size):
    from chainrule.data import ParquetDataset

    return ParquetDataset(path, [[f"x{j}" for j in range(p)], "y"], batch_size=batch_size, dtype="float64",
                          shuffle=False)


def test_streamed_least_squares_equals_the_in_memory_ols_fit(tmp_path):
    X, y = _ols_file(tmp_path / "d.parquet", 1003, 4, row_group_size=97)
    sums = tsqr.streamed_least_squares(_stream(tmp_path / "d.parquet", 4, 64))
    reference = OLS().fit(X, y)
    beta = linalg.solve_triangular(sums["R"], sums["qty"])
    Rinv = linalg.solve_triangular(sums["R"], np.eye(5))
    scale = sums["ssr"] / (sums["nobs"] - 5)
    bse = np.sqrt(scale * np.einsum("ij,ij->i", Rinv, Rinv))
    np.testing.assert_allclose(beta, reference.params, rtol=1e-10)
    np.testing.assert_allclose(bse, reference.bse, rtol=1e-10)
    np.testing.assert_allclose([sums["ssr"], sums["centered_tss"], sums["ybar"]],
                               [reference.results_.ssr, reference.results_.centered_tss, y.mean()], rtol=1e-10)
    assert sums["nobs"] == 1003


def test_streamed_least_squares_rejects_changing_columns_and_no_rows():
    with pytest.raises(ValueError, match="block 1 has 3 columns; the first block had 2"):
        tsqr.streamed_least_squares([(np.ones((4, 2)), np.ones(4)), (np.ones((4, 3)), np.ones(4))])
    with pytest.raises(ValueError, match="held no rows"):
        tsqr.streamed_least_squares([])


def test_logit_newton_on_streamed_batches_equals_the_in_memory_fit(tmp_path):
    from chainrule.data import ParquetDataset

    rng = np.random.default_rng(3)
    X = rng.normal(size=(900, 3))
    y = (rng.uniform(size=900) < 1 / (1 + np.exp(-(0.5 + X @ [1.0, -0.7, 0.2])))).astype(np.int64)
    pq.write_table(pa.table({"a": X[:, 0], "b": X[:, 1], "c": X[:, 2], "y": y}), tmp_path / "l.parquet",
                   row_group_size=128)
    batches = ParquetDataset(tmp_path / "l.parquet", [["a", "b", "c"], "y"], batch_size=100, dtype="float64",
                             shuffle=False)
    design = tsqr.StreamedDesign(batches)
    result = logit_newton.newton_binary(design, None, np.zeros(4), 1e-10, 100)
    reference = Logit(tol=1e-10).fit(X, y)
    np.testing.assert_allclose(result.beta, reference.params, rtol=1e-9)
    np.testing.assert_allclose(result.llf, reference.llf, rtol=1e-12)
    np.testing.assert_allclose(np.sqrt(np.diag(np.linalg.inv(result.information[0]))), reference.bse, rtol=1e-7)
    assert design.n == 900


@pytest.mark.slow
def test_streamed_least_squares_on_a_file_larger_than_the_memory_budget(tmp_path):
    """300,000 rows x 11 float64 columns (26.4 MB in memory) against a budget of 5 MB, in a
    fresh process: the peak of NumPy allocations (tracemalloc) plus Arrow's high-water mark."""
    import json

    runner = _runner()
    n, p = 300_000, 10
    X, y = _ols_file(tmp_path / "big.parquet", n, p, row_group_size=5_000)
    in_memory = X.nbytes + y.nbytes
    reference = OLS().fit(X, y).params
    del X, y
    budget = 5_000_000
    assert in_memory > 5 * budget
    out = runner.run_single("stream_peak.py", "ols", tmp_path / "big.parquet", p, 5_000)
    assert out.returncode == 0, out.stderr
    measured = json.loads(out.stdout)
    peak = measured["numpy_peak"] + measured["arrow_peak"]
    print(f"streamed {in_memory / 1e6:.1f} MB with a peak of {peak / 1e6:.2f} MB (NumPy "
          f"{measured['numpy_peak'] / 1e6:.2f} MB, Arrow {measured['arrow_peak'] / 1e6:.2f} MB); "
          f"budget {budget / 1e6:.1f} MB")
    assert peak < budget and measured["arrow_peak"] > 0 and measured["nobs"] == n
    np.testing.assert_allclose(measured["params"], reference, rtol=1e-9)


def _runner():
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).parent / "mpi"))
    import runner  # noqa: PLC0415

    return runner
