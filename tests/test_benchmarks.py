"""The benchmark instrument (benchmarks/bench_engine.py) works and measures the right thing.

Only correctness is checked here: the script runs, its implementations compute the
same loss and gradients, and the NumPy floor is itself right (central differences).
No timing assertions at all: performance targets live in benchmarks/, never in tests.
"""
from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest

SCRIPT = Path(__file__).resolve().parent.parent / "benchmarks" / "bench_engine.py"
TINY = {"op_number": 3, "op_repeat": 2, "op_warmup": 2, "mlp_rounds": 1,
        "mlp_steps_per_round": 2, "mlp_warmup": 1, "mlp_small_steps_per_round": 3}


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("bench_engine", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_per_op_rows_have_numpy_baseline_and_overheads(bench):
    rows = bench.bench_per_op(TINY)
    assert len(rows) == 6
    for row in rows:
        assert row["numpy"]["median_us"] > 0
        assert row["chainrule"]["min_us"] <= row["chainrule"]["median_us"]
        assert row["chainrule"]["repeats"] == TINY["op_repeat"]
        assert row["chainrule"]["overhead_us"] == pytest.approx(
            row["chainrule"]["median_us"] - row["numpy"]["median_us"])
        assert ("torch" in row) == (bench.torch is not None)


def test_per_op_statements_compute_what_they_claim(bench):
    """Each chainrule statement's result matches its NumPy counterpart."""
    cases = {label: impls for label, _, impls in bench.per_op_cases()}
    ns = cases["mul fwd+bwd: (a*b).sum().backward()"]["chainrule"][1]
    a, b = ns["a"], ns["b"]
    a.grad = b.grad = None
    (a * b).sum().backward()
    np.testing.assert_allclose(a.grad.numpy(), b.data)
    np.testing.assert_allclose(b.grad.numpy(), a.data)
    np.testing.assert_allclose((a * b).numpy(), a.data * b.data)


def test_mlp_implementations_agree_on_first_step(bench):
    report = bench.check_agreement(bench.make_mlps(bench.mlp_problem()))
    names = [name for name in report if name != "numpy_loss"]
    assert sum(name.startswith("chainrule") for name in names) == 4
    for name in names:
        row = report[name]
        assert row["loss_abs_diff"] < 1e-5, (name, row)
        assert row["dW1_max_abs_diff"] < 1e-6, (name, row)
        assert row["grad_max_abs_diff"] < 1e-5, (name, row)


def test_numpy_floor_gradients_match_central_differences(bench):
    """The floor is hand-written: check it independently (float64, tiny net)."""
    problem = bench.mlp_problem(seed=1, batch=5, sizes=(4, 6, 5, 3))
    problem["x"] = problem["x"].astype(np.float64)
    problem["params"] = [p.astype(np.float64) + 0.1 for p in problem["params"]]
    net = bench.NumpyMLP(problem)
    net.backward(net.forward())
    eps = 1e-6
    for p, g in zip(net.params, net.grads):
        flat, numerical = p.reshape(-1), np.empty(p.size)
        for j in range(p.size):
            keep = flat[j]
            flat[j] = keep + eps
            plus = net.forward()
            flat[j] = keep - eps
            minus = net.forward()
            flat[j] = keep
            numerical[j] = (plus - minus) / (2 * eps)
        np.testing.assert_allclose(g.reshape(-1), numerical, atol=1e-7, rtol=1e-5)


def test_every_implementation_trains(bench):
    """A few SGD steps lower the loss on the fixed batch, in every implementation."""
    for impl in bench.make_mlps(bench.mlp_problem()):
        first = bench._loss_value(impl.forward())
        for _ in range(5):
            loss = impl.forward()
            impl.backward(loss)
            impl.update()
        assert bench._loss_value(impl.forward()) < first, impl.name


def test_cli_quick_writes_json(bench, tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(bench, "QUICK", TINY)
    out = tmp_path / "engine.json"
    assert bench.main(["--quick", "--json", str(out), "--profile", "2"]) == 0
    results = json.loads(out.read_text())
    assert results["settings"] == TINY
    assert results["meta"]["nproc"] >= 1
    assert len(results["per_op"]) == 6
    timings = results["mlp"]["timings"]
    assert timings["numpy"]["ratio_to_numpy"] == pytest.approx(1.0)
    assert results["mlp"]["best_chainrule"] in timings
    assert results["mlp"]["steps_timed_per_impl"] == 2
    assert results["mlp_small"]["steps_timed_per_impl"] == 3
    assert results["mlp_small"]["sizes"] == [20, 64, 64, 10]
    assert results["profile"]["breakdown"]["ops"], "no op was timed"
    assert "tottime" in results["profile"]["text"]
    printed = capsys.readouterr().out
    assert "Per-op overhead" in printed and "NumPy floor" in printed


def test_planner_benchmark_runs_and_reports_a_ratio(tmp_path):
    """benchmarks/bench_planner.py (the epoch-time prediction against a measured epoch) runs in
    --quick mode and writes its figures; the ratio itself is a benchmark result, not asserted."""
    spec = importlib.util.spec_from_file_location("bench_planner", SCRIPT.parent / "bench_planner.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    result = module.main(["--quick", "--json", str(tmp_path / "planner.json")])
    saved = json.loads((tmp_path / "planner.json").read_text())
    assert saved["ratio_measured_over_predicted"] == pytest.approx(result["ratio_measured_over_predicted"])
    assert len(saved["predicted_s"]) == len(saved["measured_s"]) == 1
    assert min(saved["predicted_s"] + saved["measured_s"]) > 0
