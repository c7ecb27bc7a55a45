"""The training benchmark instrument (benchmarks/bench_training.py) works and compares like with like.

Only correctness is checked here: the script runs end to end, every implementation
takes the same first step as the hand-written NumPy reference (loss, gradients,
updated weights), the reference itself is right (central differences), and the
implementations keep training in lockstep. No timing assertions at all: performance
aims live in benchmarks/, never in tests.
"""
from __future__ import annotations

import importlib.util
import json
import os
from pathlib import Path

import numpy as np
import pytest

SCRIPT = Path(__file__).resolve().parent.parent / "benchmarks" / "bench_training.py"
TINY = {"rows": {"W1": 300, "W2": 200, "W6": 100}, "warmup_epochs": 1,
        "timed_epochs": {"W1": 1, "W2": 2, "W6": 2}, "profile_epochs": 1, "settle_s": 0.0}


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("bench_training", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("workload", ["W1", "W2", "W6"])
def test_every_implementation_takes_the_reference_first_step(bench, workload):
    problem = bench.make_problem(workload, rows=256)
    impls = bench.make_implementations(problem, with_floor=False)
    report = bench.check_first_step(impls, problem)
    names = set(report["impls"])
    assert {"chainrule loop (numba)", "chainrule loop (no numba)", "chainrule Trainer (numba)"} <= names
    assert ("torch eager" in names) == (bench.torch is not None)
    assert ("JAX jit" in names) == (bench.jax_training is not None)  # jax: the bench extra, optional
    for name, row in report["impls"].items():
        assert row["loss_abs_diff"] < 1e-5, (name, row)
        assert row["grad_max_abs_diff"] < 1e-5, (name, row)
        assert row["param_max_abs_diff"] < 1e-2 * report["update_max_abs"] + 1e-7, (name, row)
    assert bench.agreement_ok(report)
    assert report["update_max_abs"] > 0  # the step did move the weights


@pytest.mark.parametrize("workload", ["W1", "W2", "W6"])
def test_implementations_stay_in_lockstep_over_epochs(bench, workload):
    """Same init, same batches in the same order: the weights stay together."""
    problem = bench.make_problem(workload, rows=200, sizes=(12, 16, 16, 3) if workload == "W1" else None)
    impls = bench.make_implementations(problem, with_floor=False)
    for _ in range(2):
        for impl in impls:
            impl.epoch()
    drift = bench.compare_params(impls)
    assert drift and all(value < 1e-4 for value in drift.values()), drift
    moved = np.concatenate([(a - b).reshape(-1) for a, b in zip(impls[0].params_numpy(), problem["params"])])
    assert np.abs(moved).max() > 1e-3  # it did train


@pytest.mark.parametrize("workload", ["W1", "W2", "W6"])
def test_numpy_reference_gradients_match_central_differences(bench, workload):
    """The reference is hand-written: check it independently (float64, tiny net)."""
    sizes = {"W1": (4, 5, 6, 3), "W2": (4, 5, 6, 1), "W6": (2, 5, 6, 1)}[workload]
    problem = bench.make_problem(workload, rows=7, dtype=np.float64, sizes=sizes)
    ref = bench.NumpyReference(problem)
    X, Y = problem["X"], problem["Y"]
    _loss0, dout, acts = ref.forward(X, Y)
    ref.backward(dout, acts)
    eps = 1e-6
    for p, g in zip(ref.params, ref.grads):
        flat, numerical = p.reshape(-1), np.empty(p.size)
        for j in range(p.size):
            keep = flat[j]
            flat[j] = keep + eps
            plus = float(ref.forward(X, Y)[0])
            flat[j] = keep - eps
            minus = float(ref.forward(X, Y)[0])
            flat[j] = keep
            numerical[j] = (plus - minus) / (2 * eps)
        np.testing.assert_allclose(g.reshape(-1), numerical, atol=1e-7, rtol=1e-5)


def test_numba_switch_is_scoped_and_effective(bench, monkeypatch):
    monkeypatch.delenv(bench.NO_NUMBA, raising=False)
    with bench.numba_allowed(False):
        assert os.environ[bench.NO_NUMBA] == "1"
    assert bench.NO_NUMBA not in os.environ
    w1 = bench.make_problem("W1", rows=8)
    w2 = bench.make_problem("W2", rows=8)
    assert not bench.compiled_kernels_used(w1, enabled=False)
    assert not bench.compiled_kernels_used(w2, enabled=True)  # 5,569 parameters: below the threshold
    if bench.HAS_NUMBA:
        assert bench.compiled_kernels_used(w1, enabled=True)


def test_w1_flop_count_matches_perf_notes(bench):
    gflop = bench.matmul_gflop({"sizes": (784, 256, 256, 10), "rows": 60_000})
    assert gflop["counted"] == pytest.approx(96.77, abs=0.01)
    assert gflop["executed"] == pytest.approx(96.77 - 2 * 60_000 * 784 * 256 / 1e9, abs=0.01)


def test_cli_writes_json(bench, tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(bench, "QUICK", TINY)
    monkeypatch.setattr(bench, "W6_STEPS_PER_CALL", 3)
    out = tmp_path / "training.json"
    assert bench.main(["--quick", "--json", str(out)]) == 0
    results = json.loads(out.read_text())
    assert results["settings"] == TINY
    assert results["meta"]["nproc"] >= 1 and results["meta"]["chainrule_source_sha1"]
    for workload in ("W1", "W2", "W6"):
        result = results["workloads"][workload]
        assert result["agreement_ok"], result["agreement"]
        timings = result["timings"]
        assert timings["numpy (reference)"]["ratio"] == pytest.approx(1.0)
        assert timings["chainrule loop (numba)"]["n"] == TINY["timed_epochs"][workload]
        for row in timings.values():
            assert 0 < row["min_s"] <= row["median_s"]
        assert "met_ratio" in result["aim"]
        losses = result["training_set_loss_after_warmup"]
        reference = losses["numpy (reference)"]["loss"]
        assert all(abs(row["loss"] - reference) < 1e-3 * max(1.0, reference) for row in losses.values()), losses
    w1 = results["workloads"]["W1"]
    assert "numpy matmuls only" in w1["timings"] and w1["timings"]["numpy (reference)"]["gflops_counted"] > 0
    profile = results["profile_W2"]
    assert profile["phases"]["chainrule"]["total"]["median_us"] > 0
    assert profile["cprofile"]["top"] and "opt.step()" in profile["cprofile"]["entry_points"]
    printed = capsys.readouterr().out
    assert "cross-check" in printed and "Aim:" in printed and "cProfile" in printed
