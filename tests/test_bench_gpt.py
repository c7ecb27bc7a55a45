"""The GPT benchmark instrument (benchmarks/bench_gpt.py) works and compares like with like: its
hand-written NumPy GPT (benchmarks/numpy_gpt.py), chainrule.models.gpt and the torch twin take
the same first training step (loss, every gradient; float32) from the same weights, and AdamW
moves the NumPy floor's weights as torch's does. No timing assertions: targets live in
benchmarks/README.md."""
from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

SCRIPT = Path(__file__).resolve().parent.parent / "benchmarks" / "bench_gpt.py"
SMALL = {"vocab": 11, "context": 8, "layers": 2, "heads": 2, "width": 8, "batch": 3, "length": 6}


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("bench_gpt", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_three_steps_agree(bench):
    pytest.importorskip("torch")
    report = bench.bench_conv.check_agreement(bench.make_implementations(bench.make_problem(SMALL)))
    assert set(report) == {"chainrule", "torch"}
    for name, row in report.items():
        assert row["dtypes"] == ["float32"], name
        assert row["loss"] < 1e-5 and row["params"] < 1e-5, (name, row)


def test_the_numpy_floor_takes_torchs_adamw_steps(bench):
    pytest.importorskip("torch")
    problem = bench.make_problem(SMALL)
    ours, theirs = bench.NumpyGPTStep(problem), bench.TorchGPTStep(problem)
    for _ in range(3):
        for impl in (ours, theirs):
            impl.backward(impl.forward())
            impl.update()
    state = theirs.model.state_dict()
    for name, value in ours.net.p.items():
        np.testing.assert_allclose(value, state[name].numpy(), rtol=1e-4, atol=2e-6, err_msg=name)


def test_timing_and_profile_run(bench, capsys):
    result = bench.run(settings={"rounds": 1, "steps_per_round": 1, "warmup": 0}, shape=SMALL)
    assert result["timings"]["chainrule"]["step"]["median"] > 0
    assert "chainrule / numpy" in capsys.readouterr().out
    breakdown = bench.bench_conv.node_breakdown(bench.make_problem(SMALL), 1, make_impl=bench.ChainruleGPTStep)
    assert any(name.startswith("MultiheadAttentionCore") for name in breakdown["rows"])


def test_the_command_line_quick_run_writes_every_number(bench, monkeypatch, tmp_path):
    import json

    monkeypatch.setattr(bench, "SHAPE", dict(bench.SHAPE, **SMALL))
    path = tmp_path / "gpt.json"
    assert bench.main(["--quick", "--json", str(path)]) == 0
    written = json.loads(path.read_text())
    assert written["timings"]["chainrule"]["step"]["n"] == bench.QUICK["rounds"] * bench.QUICK["steps_per_round"]
