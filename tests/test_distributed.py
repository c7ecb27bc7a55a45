"""chainrule.distributed and the distributed estimators and Trainer.

Single-process behaviour is tested in this process. Multi-rank behaviour is tested by
starting helper scripts (tests/mpi/) under ``mpiexec -n 2`` with a timeout, and comparing
what rank 0 writes with the single-process computation on the same data.
"""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import chainrule as cr
from chainrule import distributed as dist
from chainrule.data import DistributedLoader, TensorDataset

sys.path.insert(0, str(Path(__file__).parent / "mpi"))
import runner  # noqa: E402

MPI_MISSING = runner.missing_reason()
needs_mpi = pytest.mark.skipif(MPI_MISSING is not None, reason=str(MPI_MISSING))


# ---------------------------------------------------------------------- one process

@pytest.mark.parametrize("variables, expected", [
    ({}, 1),
    ({"PMI_SIZE": "4"}, 4),
    ({"OMPI_COMM_WORLD_SIZE": "3"}, 3),
    ({"PMIX_SIZE": "2"}, 2),
])
def test_launched_world_size_reads_the_launchers_environment(monkeypatch, variables, expected):
    for name in ("PMI_SIZE", "OMPI_COMM_WORLD_SIZE", "PMIX_SIZE", "MPI_LOCALNRANKS"):
        monkeypatch.delenv(name, raising=False)
    for name, value in variables.items():
        monkeypatch.setenv(name, value)
    assert dist.launched_world_size() == expected


def test_a_single_process_never_imports_mpi4py():
    code = ("import numpy as np, sys; from chainrule import distributed as d, train; "
            "a = np.arange(3.0); d.allreduce_(a, 'mean'); d.broadcast_(a); d.barrier(); "
            "print(d.rank(), d.world_size(), d.is_main(), a.tolist(), 'mpi4py' in sys.modules)")
    env = runner.run_single.__globals__["os"].environ.copy()
    for name in ("PMI_SIZE", "OMPI_COMM_WORLD_SIZE", "PMIX_SIZE", "MPI_LOCALNRANKS"):
        env.pop(name, None)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["0", "1", "True", "[0.0,", "1.0,", "2.0]", "False"]


@pytest.mark.parametrize("call, error, match", [
    (lambda: dist.allreduce_(np.ones(3), op="max"), ValueError, "op must be 'sum' or 'mean'; got 'max'"),
    (lambda: dist.allreduce_(np.ones(3, dtype=np.int64), op="mean"), TypeError, "floating-point"),
    (lambda: dist.allreduce_(np.ones((3, 4))[:, ::2]), ValueError, "not contiguous"),
    (lambda: dist.allreduce_([1.0, 2.0]), TypeError, "got list"),
    (lambda: dist.broadcast_(np.ones(2), root=1), ValueError, "root must be a rank in 0"),
])
def test_collectives_reject_bad_arguments(call, error, match):
    with pytest.raises(error, match=match):
        call()


def test_collectives_accept_tensors_and_change_them_in_place():
    t = cr.tensor([1.0, 2.0])
    assert dist.allreduce_(t) is t and t.numpy().tolist() == [1.0, 2.0]


@pytest.mark.parametrize("n, batch, world, drop_last", [(10, 2, 2, False), (11, 3, 2, False),
                                                        (11, 3, 3, True), (5, 4, 3, False)])
def test_distributed_loader_shards_are_disjoint_and_cover_each_global_batch(n, batch, world, drop_last):
    data = TensorDataset(np.arange(n, dtype=np.int64), np.arange(n, dtype=np.int64))
    loaders = [DistributedLoader(data, batch, rank=r, world_size=world, shuffle=False, drop_last=drop_last)
               for r in range(world)]
    per_rank = [list(loader) for loader in loaders]
    full = [b[0].numpy() for b in cr.data.DataLoader(data, batch * world, shuffle=False, drop_last=drop_last)]
    assert len(loaders[0]) == len(full)
    for j, expected in enumerate(full):
        parts = [per_rank[r][j] for r in range(world)]
        assert all(m == len(expected) for _, m in parts)
        rows = np.concatenate([p[0].numpy() for p, _ in parts if p is not None])
        np.testing.assert_array_equal(rows, expected)


def test_distributed_loader_validates_rank_and_world_size():
    data = TensorDataset(np.zeros(4, dtype=np.float32))
    with pytest.raises(ValueError, match="rank must be an int in 0 … 1; got 2"):
        DistributedLoader(data, 2, rank=2, world_size=2)
    with pytest.raises(ValueError, match="world_size must be a positive int; got 0"):
        DistributedLoader(data, 2, rank=0, world_size=0)


def test_trainer_rejects_bad_distributed_arguments():
    from chainrule import nn, optim
    from chainrule.train import Trainer

    model = nn.Linear(2, 1)
    with pytest.raises(ValueError, match="distributed must be None"):
        Trainer(model, nn.MSELoss(), optim.SGD(model.parameters(), lr=0.1), distributed="yes")
    with pytest.raises(ValueError, match="sync_batchnorm must be True or False"):
        Trainer(model, nn.MSELoss(), optim.SGD(model.parameters(), lr=0.1), sync_batchnorm=1.5)
    with pytest.raises(ValueError, match="Trainer: bucket_cap_mb must be None or a positive number; got -1"):
        Trainer(model, nn.MSELoss(), optim.SGD(model.parameters(), lr=0.1), bucket_cap_mb=-1)


def test_ols_distributed_rejects_other_solvers_and_cluster():
    from chainrule.stats import OLS

    X = np.random.default_rng(0).normal(size=(20, 2))
    with pytest.raises(ValueError, match="distributed=True fits by TSQR and needs solver='qr'"):
        OLS(solver="normal", distributed=True).fit(X, X[:, 0])
    with pytest.raises(TypeError, match="distributed: expected True or False; got 'yes'"):
        OLS(distributed="yes").fit(X, X[:, 0])


@needs_mpi
@pytest.mark.parametrize("cov_type", ["nonrobust", "HC0", "HC2"])
def test_ols_distributed_on_one_rank_equals_the_plain_fit(cov_type):
    from chainrule.stats import OLS

    rng = np.random.default_rng(1)
    X = rng.normal(size=(300, 3)) * [1.0, 100.0, 1e-3]
    y = X @ [1.0, 0.01, 200.0] + rng.normal(size=300) * (1 + np.abs(X[:, 0]))
    plain = OLS(cov_type=cov_type).fit(X, y)
    tsqr = OLS(cov_type=cov_type, distributed=True).fit(X, y)
    assert tsqr.solver_used_ == "tsqr"
    np.testing.assert_allclose(tsqr.params, plain.params, rtol=1e-10)
    np.testing.assert_allclose(tsqr.bse, plain.bse, rtol=1e-10)
    np.testing.assert_allclose([tsqr.rsquared, tsqr.fvalue, tsqr.llf], [plain.rsquared, plain.fvalue, plain.llf],
                               rtol=1e-10)


def test_tsqr_r_of_blocks_equals_householder_r():
    from chainrule.stats import tsqr

    rng = np.random.default_rng(2)
    X, y = rng.normal(size=(1000, 4)), rng.normal(size=1000)
    d = np.ones(5)
    R = tsqr.tsqr_r(tsqr.augmented_r(X, y, d, True, block_rows=97), None)
    A = np.column_stack([np.ones(1000), X, y])
    R_ref = np.linalg.qr(A, mode="r")
    R_ref *= np.sign(np.diag(R_ref))[:, None]
    np.testing.assert_allclose(R, R_ref, rtol=1e-12, atol=1e-12)


# ---------------------------------------------------------------------- many ranks

@needs_mpi
def test_distributed_ols_equals_the_single_process_fit_and_rank0_alone_writes(tmp_path):
    sys.path.insert(0, str(runner.HERE))
    from fit_ols import data

    from chainrule.stats import OLS

    result = runner.run("fit_ols.py", tmp_path)
    assert result.returncode == 0, result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ols_HC1.npz", "ols_HC3.npz", "ols_nonrobust.npz"]
    X, y = data()
    for cov_type in ("nonrobust", "HC1", "HC3"):
        saved = np.load(tmp_path / f"ols_{cov_type}.npz")
        ref = OLS(cov_type=cov_type).fit(X, y).results_
        assert str(saved["solver"]) == "tsqr"
        np.testing.assert_allclose(saved["params"], ref.params, rtol=1e-10)
        np.testing.assert_allclose(saved["bse"], ref.bse, rtol=1e-10)
        np.testing.assert_allclose(saved["scalars"], [ref.rsquared, ref.rsquared_adj, ref.fvalue, ref.llf,
                                                      ref.ssr, ref.nobs, ref.condition_number], rtol=1e-10)
        np.testing.assert_allclose(saved["resid0"], ref.resid[:len(saved["resid0"])], rtol=1e-9, atol=1e-9)


@needs_mpi
@pytest.mark.parametrize("optimizer, layers", [("sgd", "plain"), ("adam", "plain"), ("sgd", "bn")])
def test_two_ranks_with_batch_b_train_like_one_process_with_batch_2b(tmp_path, optimizer, layers):
    """SGD and Adam; "bn" adds BatchNorm with sync_batchnorm=True (with SGD: the Linear bias
    before a BatchNorm has a gradient of exactly 0 in exact arithmetic, so Adam's g/√v
    would turn round-off into steps of size lr there; that parameter is not comparable)."""
    distributed, single = tmp_path / "distributed.npz", tmp_path / "single.npz"
    result = runner.run("train_equivalence.py", optimizer, 8, layers, distributed)
    assert result.returncode == 0, result.stderr
    reference = runner.run_single("train_equivalence.py", optimizer, 16, layers, single)
    assert reference.returncode == 0, reference.stderr
    got, want = np.load(distributed), np.load(single)
    weights = [k for k in want.files if k.startswith("w/")]
    assert weights
    for key in weights + ["train_loss", "val_loss", "train_accuracy", "val_accuracy"]:
        np.testing.assert_allclose(got[key], want[key], rtol=1e-5, atol=2e-6, err_msg=key)
    # only rank 0 printed: one line per epoch
    assert result.stdout.count("epoch 1/2") == 1 and result.stdout.count("epoch 2/2") == 1
    assert (tmp_path / "distributed.npz.ckpt").exists()
    params = [k for k in weights if "running" not in k and "tracked" not in k]
    # the optimizer's flat float32 gradient all-reduced in place, after [has-flat-gradient flag, loss]
    assert int(got["bytes_per_step"]) == 4 * (sum(want[k].size for k in params) + 2)


@needs_mpi
@pytest.mark.parametrize("mode", ["uncaught", "caught"])
def test_a_rank_that_raises_ends_the_whole_job_with_the_error_shown(mode):
    try:
        result = runner.run("rank_fails.py", mode, timeout=60)
    except subprocess.TimeoutExpired:
        pytest.fail("the job hung after one rank raised")
    assert result.returncode != 0
    assert "rank 1 cannot compute this loss (deliberate failure)" in result.stderr + result.stdout
    assert "aborting all ranks" in result.stderr + result.stdout


@needs_mpi
def test_logit_newton_on_rows_spread_over_ranks_equals_the_single_process_fit(tmp_path):
    sys.path.insert(0, str(runner.HERE))
    from logit_newton import data

    from chainrule.stats import Logit

    result = runner.run("logit_newton.py", tmp_path / "logit.npz")
    assert result.returncode == 0, result.stderr
    saved = np.load(tmp_path / "logit.npz")
    X, y = data()
    reference = Logit(tol=1e-10).fit(X, y)
    assert int(saved["nobs"]) == len(y)
    np.testing.assert_allclose(saved["beta"], reference.params, rtol=1e-10)
    np.testing.assert_allclose(float(saved["llf"]), reference.llf, rtol=1e-10)
    np.testing.assert_allclose(saved["bse"], reference.bse, rtol=1e-8)


@needs_mpi
def test_streaming_parquet_training_on_two_ranks_covers_every_row_and_keeps_ranks_in_step(tmp_path):
    result = runner.run("train_parquet.py", tmp_path)
    assert result.returncode == 0, result.stderr
    saved = np.load(tmp_path / "result.npz")
    # 250 rows in row groups of 40 (the last 10): rank 0 streams 130 rows (9 batches of
    # 16), rank 1 120 rows (8): 9 global steps per epoch, every row once
    assert int(saved["steps"]) == 18 and int(saved["rows_per_epoch"]) == 250
    assert bool(saved["same"])
    assert saved["train_loss"][1] < saved["train_loss"][0]


def test_benchmark_ring_allreduce_model_matches_its_formula():
    sys.path.insert(0, str(Path(__file__).parents[1] / "benchmarks"))
    import bench_distributed as bench

    S, beta, alpha = 1_000_000, 1e9, 1e-5
    assert bench.ring_allreduce_seconds(1, S, beta, alpha) == 0.0
    assert bench.ring_allreduce_seconds(8, S, beta, alpha) == pytest.approx(14 * alpha + 1.75 * S / beta)
    rows = bench.projection(compute_step=2e-3, nbytes=S, rows=1280)
    one = next(r for r in rows if r["ranks"] == 1)
    assert one["strong_epoch_s"] == pytest.approx(10 * 2e-3) and one["strong_speedup"] == pytest.approx(1.0)
    eight = [r for r in rows if r["ranks"] == 8][0]
    comm = bench.ring_allreduce_seconds(8, S, *bench.NETWORKS[eight["network"]])
    assert eight["strong_epoch_s"] == pytest.approx(10 * (2e-3 / 8 + comm))
    assert eight["weak_epoch_s"] == pytest.approx(2 * (2e-3 + comm))  # 1280 rows / (128 x 8) -> 2 steps


@pytest.mark.parametrize("n, batch, drop_last, left", [(12, 2, False, None), (9, 2, False, 1),
                                                      (9, 2, True, None), (11, 2, False, 3)])
def test_sync_batchnorm_needs_rows_on_every_rank_in_every_step(n, batch, drop_last, left):
    from chainrule.train.data_parallel import DataParallel

    parallel = DataParallel.__new__(DataParallel)
    parallel.rank, parallel.size = 0, 4  # global batch 8: the last has n % 8 rows for 4 ranks
    loader = DistributedLoader(TensorDataset(np.zeros((n, 2), dtype=np.float32)), batch, rank=0,
                               world_size=4, drop_last=drop_last)
    if left is None:
        parallel.check_every_rank_has_rows(loader, "sync_batchnorm=True")
    else:
        with pytest.raises(ValueError, match=rf"the last global batch has {left} rows for 4 ranks"):
            parallel.check_every_rank_has_rows(loader, "sync_batchnorm=True")


SETTINGS = ("blocking", "default", "tiny", "small")


@needs_mpi
@pytest.mark.parametrize("model", ["mlp", "unused"])
def test_overlapped_gradient_buckets_equal_the_blocking_all_reduce_to_the_last_bit(tmp_path, model):
    """Two ranks, Adam, 2 epochs: the weights, losses and gradient norms with buckets of every
    size (one bucket; one per parameter; two) equal the blocking all-reduce's bit for bit.
    "unused": parameters without a gradient on one rank or on all, and a step in which one
    rank has no rows: no hang, the same results."""
    out = tmp_path / "overlap.npz"
    result = runner.run("overlap_equivalence.py", model, out, timeout=180)
    assert result.returncode == 0, result.stderr
    saved = np.load(out)
    keys = [k for k in saved.files if k.startswith("blocking/") and k.split("/")[1] in ("w", "loss")]
    assert any("/w/" in k for k in keys)
    for setting in ("default", "tiny", "small"):
        for key in keys:
            np.testing.assert_array_equal(saved[key.replace("blocking/", setting + "/")], saved[key], err_msg=key)
    weights = [saved[k] for k in keys if "/w/" in k]
    packed = 4 * (sum(w.size for w in weights) + len(weights) + 1)  # gradients, has-gradient flags, loss
    if model == "mlp":  # one bucket (default) or none: the flat gradient in place, after [flag, loss]
        in_place = 4 * (sum(w.size for w in weights) + 2)
        assert [int(saved[s + "/bytes"]) for s in SETTINGS] == [in_place, in_place, packed, packed]
    else:  # a parameter without a gradient: packed, with the flags
        assert all(int(saved[s + "/bytes"]) == packed for s in SETTINGS)
    if model == "unused":
        assert all(bool(saved[s + "/never_grad"]) for s in ("blocking", "default", "tiny", "small"))
    buckets = [int(saved[s + "/buckets"]) for s in ("default", "tiny", "small")]
    assert buckets == ([1, 6, 2] if model == "mlp" else [1, 8, 1])
    if model == "mlp":  # every bucket started during backward, in every step
        steps = int(saved["tiny/steps"])
        assert int(saved["tiny/early"]) == 6 * steps and int(saved["small/early"]) == 2 * steps


@pytest.mark.parametrize("cap, expected", [
    (None, [[5, 4, 3, 2, 1, 0]]),                  # 1 MiB first bucket: all of it
    (1e-6, [[5], [4], [3], [2], [1], [0]]),
    (600 / 2**20, [[5, 4, 3, 2], [1, 0]]),        # closed once at least 600 bytes (the last one open)
])
def test_bucket_assignment_takes_parameters_in_reverse_order(cap, expected):
    from chainrule.train.data_parallel import bucket_assignment

    params = [cr.zeros(n, requires_grad=True) for n in (100, 25, 100, 100, 25, 2)]  # float32: 4 bytes each
    assert bucket_assignment(params, cap) == expected


def test_bucket_assignment_keeps_dtypes_apart():
    from chainrule.train.data_parallel import bucket_assignment

    params = [cr.zeros(4, requires_grad=True), cr.zeros(4, dtype=cr.float64, requires_grad=True),
              cr.zeros(4, requires_grad=True)]
    assert bucket_assignment(params, 1.0) == [[2, 0], [1]]


@pytest.mark.parametrize("kwargs, match", [
    ({"bucket_cap_mb": 0}, "bucket_cap_mb must be None or a positive number; got 0"),
    ({"bucket_cap_mb": "25"}, "got '25'"),
    ({"overlap": 1}, "overlap must be True or False"),
])
def test_data_parallel_rejects_bad_arguments(kwargs, match):
    from chainrule.train.data_parallel import DataParallel

    with pytest.raises(ValueError, match=match):
        DataParallel(**kwargs)


@needs_mpi
@pytest.mark.parametrize("ranks, kind, path", [
    (2, "adam", "window"), (2, "sgd", "window"), (2, "unused", "window"), (3, "adam", "window"), (3, "sgd", "window"),
    (3, "unused", "window"), (2, "adam", "collectives"), (2, "unused", "collectives"), (3, "sgd", "collectives"),
])
def test_zero_redundancy_steps_equal_the_unsharded_steps(tmp_path, ranks, kind, path):
    """Trainer(zero_redundancy=True): reduce-scatter, each rank updates its block of the flat
    parameters and state, all-gather. Weights, losses and the optimizer state (gathered at the
    end of fit) equal the unsharded run's to the bit on 2 ranks, to 1e-6 on 3 (MPI may sum in
    another order); the gradient norm is summed per block (1e-6). A sharded run checkpointed
    after epoch 1 and resumed equals the straight run to the bit. "unused": steps where rank 1
    lacks a gradient fall back to the all-reduce between sharded steps. "window": the ranks
    share their flat arrays in an MPI shared-memory window (one node); "collectives": MPI's
    reduce-scatter and all-gather, as between nodes."""
    out = tmp_path / "zero.npz"
    result = runner.run("zero_equivalence.py", kind, out, tmp_path, path, ranks=ranks, timeout=180)
    assert result.returncode == 0, result.stderr
    saved = np.load(out)
    keys = [k for k in saved.files if k.startswith("plain/") and k.split("/")[1] in ("w", "loss", "state")]
    assert any("/state/" in k for k in keys) and any("/w/" in k for k in keys)
    for key in keys:
        got, want = saved[key.replace("plain/", "zero/")], saved[key]
        if ranks == 2:
            np.testing.assert_array_equal(got, want, err_msg=key)
        else:
            np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-7, err_msg=key)
    np.testing.assert_allclose(saved["zero/grad_norm"], saved["plain/grad_norm"], rtol=1e-6)
    for key in (k for k in saved.files if k.startswith("straight/")):
        np.testing.assert_array_equal(saved[key.replace("straight/", "resumed/")], saved[key], err_msg=key)
    steps = len(saved["zero/loss"])
    sharded = int(saved["zero/sharded"])
    assert (0 < sharded < steps) if kind == "unused" else sharded == steps
    assert bool(saved["zero/window"]) == (path == "window")


def test_zero_redundancy_is_refused_with_clipping_and_checked():
    from chainrule import nn, optim
    from chainrule.train import Trainer
    from chainrule.train.data_parallel import DataParallel

    model = nn.Linear(2, 1)
    with pytest.raises(ValueError, match="zero_redundancy must be True or False, and False with clip_grad_norm; "
                                         "got 1 with clip_grad_norm=None"):
        Trainer(model, nn.MSELoss(), optim.SGD(model.parameters(), lr=0.1), zero_redundancy=1)
    with pytest.raises(ValueError, match="got True with clip_grad_norm=1.0"):
        Trainer(model, nn.MSELoss(), optim.SGD(model.parameters(), lr=0.1), zero_redundancy=True, clip_grad_norm=1.0)
    with pytest.raises(ValueError, match="DataParallel: zero_redundancy must be True or False; got 'yes'"):
        DataParallel(zero_redundancy="yes")
    assert DataParallel(zero_redundancy=True).zero_redundancy is False  # one process: nothing to shard


def test_benchmark_projection_charges_the_optimizer_step_per_rank_or_sharded():
    sys.path.insert(0, str(Path(__file__).parents[1] / "benchmarks"))
    import bench_distributed as bench

    S, t_c, t_o = 1_000_000, 2e-3, 4e-4
    for sharded in (False, True):
        rows = bench.projection(compute_step=t_c, nbytes=S, rows=1280, optimizer_step=t_o, sharded=sharded)
        eight = [r for r in rows if r["ranks"] == 8][0]
        comm = bench.ring_allreduce_seconds(8, S, *bench.NETWORKS[eight["network"]])
        update = t_o / 8 if sharded else t_o
        assert eight["strong_epoch_s"] == pytest.approx(10 * ((t_c - t_o) / 8 + update + comm))
        assert eight["weak_epoch_s"] == pytest.approx(2 * (t_c - t_o + update + comm))
