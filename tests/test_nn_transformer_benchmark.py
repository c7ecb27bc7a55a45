"""The transformer benchmark instrument (benchmarks/bench_attn.py) works and compares like with
like: its hand-written NumPy layer, chainrule's layer and PyTorch's compute the same output and
gradients (float32) from the same weights, and the timing loop reports every implementation.
No timing assertions: targets live in benchmarks/README.md."""
from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

SCRIPT = Path(__file__).resolve().parent.parent / "benchmarks" / "bench_attn.py"
SMALL = {"batch": 3, "length": 5, "width": 8, "heads": 2, "feedforward": 12}


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("bench_attn", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_three_implementations_agree(bench):
    pytest.importorskip("torch")
    problem = bench.make_problem(SMALL)
    report = bench.check_agreement(bench.make_implementations(problem))
    assert set(report) == {"chainrule", "torch"}
    for name, row in report.items():
        assert row["dtypes"] == ["float32"], name
        assert row["out"] < 1e-5 and row["dx"] < 1e-5 and row["params"] < 1e-4, (name, row)


def test_the_numpy_floor_is_right_at_the_benchmark_shape(bench):
    """The NumPy layer against chainrule's at the real shape (float32 throughout)."""
    problem = bench.make_problem({"batch": 2})
    numpy_layer, ours = bench.NumpyEncoderLayer(problem), bench.ChainruleEncoderLayer(problem)
    out, dx = numpy_layer.forward(), None
    dx = numpy_layer.backward(out)
    expected = ours.forward()
    expected_dx = ours.backward(expected)
    assert out.dtype == dx.dtype == np.float32
    np.testing.assert_allclose(out, expected.numpy(), rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(dx, expected_dx, rtol=1e-4, atol=1e-4)


def test_timing_and_profile_run(bench, capsys):
    result = bench.run(settings={"rounds": 1, "steps_per_round": 1, "warmup": 0}, shape=SMALL)
    assert result["timings"]["chainrule"]["step"]["median"] > 0
    assert "chainrule / numpy" in capsys.readouterr().out
    breakdown = bench.node_breakdown(bench.make_problem(SMALL), 1)
    assert any(name.startswith("MultiheadAttentionCore") for name in breakdown["rows"])
