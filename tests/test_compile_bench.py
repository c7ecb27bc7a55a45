"""benchmarks/bench_compile.py runs, and its four implementations compute the same training:
the compiled step equal to the eager one to the bit, torch and the hand-written NumPy step
close to it (the performance aims live in benchmarks/README.md, not here)."""
from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "bench_compile.py"


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("bench_compile", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("workload, rows", [("W1", 128), ("W2", 96), ("W6", None)])
def test_the_implementations_train_alike(bench, workload, rows):
    problem = bench.make_problem(workload, rows)
    impls = bench.make_implementations(problem)
    for impl in impls:
        impl.run(bench.batches(problem, impl.rng) * (3 if workload == "W6" else 1))
    eager, compiled = impls[0].params(), impls[1].params()
    for a, b in zip(compiled, eager):
        np.testing.assert_array_equal(a, b)
    for impl in impls[2:]:
        for a, b in zip(impl.params(), eager):
            np.testing.assert_allclose(a, b, rtol=1e-3, atol=1e-4)


def test_the_command_line_quick_run_writes_json(bench, tmp_path, monkeypatch):
    monkeypatch.setattr(bench, "W6_BLOCK", 5)
    out = tmp_path / "compile.json"
    assert bench.main(["--quick", "--workloads", "W6", "--json", str(out)]) == 0
    (result,) = __import__("json").loads(out.read_text())
    assert result["workload"] == "W6" and result["agreement"]["chainrule compiled"] == 0
    assert result["trace"]["eager_steps"] > 0
