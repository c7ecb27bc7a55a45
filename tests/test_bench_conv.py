"""The convolution benchmark instrument (benchmarks/bench_conv.py) works and compares like with like:
its hand-written NumPy convolution and ResNet (benchmarks/numpy_convnet.py), chainrule's and
PyTorch's compute the same outputs and gradients (float32) from the same weights, and the timing
loop and profiler report every implementation. No timing assertions: targets live in
benchmarks/README.md."""
from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

SCRIPT = Path(__file__).resolve().parent.parent / "benchmarks" / "bench_conv.py"
SMALL_CONV = {"batch": 3, "channels": 4, "size": 6}
SMALL_RESNET = {"batch": 4, "depth": 8, "widths": (4, 6, 8), "size": 8}
TINY = {"conv": {"rounds": 1, "steps_per_round": 1, "warmup": 0},
        "resnet": {"rounds": 1, "steps_per_round": 1, "warmup": 0}}


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("bench_conv", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_three_convolutions_agree(bench):
    pytest.importorskip("torch")
    report = bench.check_agreement(bench.make_implementations(bench.make_conv_problem(SMALL_CONV)))
    assert set(report) == {"chainrule", "torch"}
    for name, row in report.items():
        assert row["dtypes"] == ["float32"], name
        assert row["out"] < 1e-5 and row["dx"] < 1e-5 and row["params"] < 1e-4, (name, row)


def test_the_three_resnet_steps_agree(bench):
    """Loss and every parameter gradient (stem, stages with projection shortcuts, fc) of one step."""
    pytest.importorskip("torch")
    problem = bench.make_resnet_problem(SMALL_RESNET)
    assert any(".downsample.0.weight" in k for k in problem["state"])
    report = bench.check_agreement(bench.make_implementations(problem))
    assert set(report) == {"chainrule", "torch"}
    for name, row in report.items():
        assert row["dtypes"] == ["float32"], name
        assert row["loss"] < 1e-5 and row["params"] < 1e-4 * max(row["largest_grad"], 1.0), (name, row)


def test_the_numpy_floor_takes_torchs_sgd_step(bench):
    """Two steps of the NumPy ResNet leave the weights where torch's SGD with momentum leaves them."""
    torch = pytest.importorskip("torch")
    problem = bench.make_resnet_problem(SMALL_RESNET)
    ours, theirs = bench.NumpyResNetStep(problem), bench.TorchResNetStep(problem)
    for _ in range(2):
        for impl in (ours, theirs):
            impl.backward(impl.forward())
            impl.update()
    state = theirs.model.state_dict()
    for name, value in ours.net.p.items():
        expected = state[name].numpy() if isinstance(state[name], torch.Tensor) else state[name]
        np.testing.assert_allclose(value, expected, rtol=1e-4, atol=1e-5, err_msg=name)


def test_numpy_convolution_gradients_by_central_differences(bench):
    """The floor's convolution backward (flip path, col2im path and 1x1 paths) in float64."""
    conv = bench.numpy_convnet
    rng = np.random.default_rng(0)
    for k, stride, pad in ((3, 1, 1), (3, 2, 1), (1, 2, 0), (1, 1, 0)):
        x, w = rng.standard_normal((2, 5, 5, 3)), rng.standard_normal((4, 3, k, k))
        y, cache = conv.conv_forward(x, w, stride, pad)
        g = rng.standard_normal(y.shape)
        dx, dw = conv.conv_backward(g, w, cache)
        for array, grad, index in ((x, dx, (1, 2, 3, 1)), (w, dw, (2, 1, k - 1, 0))):
            bumped = array.copy()
            bumped[index] += 1e-6
            slope = (np.vdot(conv.conv_forward(*(bumped, w) if array is x else (x, bumped), stride, pad)[0], g)
                     - np.vdot(y, g)) / 1e-6
            assert slope == pytest.approx(grad[index], rel=1e-4, abs=1e-6), (k, stride, pad)


def test_timing_and_profile_run(bench, capsys):
    result = bench.run(settings=TINY, shapes={"conv": SMALL_CONV, "resnet": SMALL_RESNET})
    for kind in ("conv", "resnet"):
        assert result[kind]["timings"]["chainrule"]["step"]["median"] > 0
    assert "chainrule / numpy" in capsys.readouterr().out
    breakdown = bench.node_breakdown(bench.make_resnet_problem(SMALL_RESNET), 1)
    assert any(name.startswith("Convolution") for name in breakdown["rows"])
    assert "optimizer.step" in breakdown["rows"]
    assert "tottime" in bench.profile_chainrule(bench.make_conv_problem(SMALL_CONV), 1)


def test_the_command_line_quick_run_writes_every_number(bench, monkeypatch, tmp_path, capsys):
    """``--quick --json`` (on the small shapes) runs both parts and writes their timings."""
    import json

    monkeypatch.setattr(bench, "CONV", dict(bench.CONV, **SMALL_CONV))
    monkeypatch.setattr(bench, "RESNET", dict(bench.RESNET, **SMALL_RESNET))
    path = tmp_path / "conv.json"
    assert bench.main(["--quick", "--json", str(path)]) == 0
    written = json.loads(path.read_text())
    assert {"conv", "resnet"} <= set(written)
    assert written["resnet"]["timings"]["torch" if bench.torch is not None else "numpy"]["step"]["n"] >= 1
    assert "Other processes used" in capsys.readouterr().out
