"""chainrule.compute measuring: matmul peak, training throughput, epoch-time prediction."""
from __future__ import annotations

import statistics

import pytest

import chainrule as cr
from chainrule import compute, nn, optim


def test_matmul_peak_is_positive_and_measured_once():
    first = compute.matmul_peak("float32")
    assert 1e8 < first < 1e14  # between 0.1 GFLOP/s and 100 TFLOP/s: a CPU
    assert compute.matmul_peak("float32") == first  # cached for the process
    assert compute.matmul_peak(cr.float64) > 0


def test_matmul_peak_rejects_integer_dtypes():
    with pytest.raises(ValueError, match="float32 or float64"):
        compute.matmul_peak("int64")


def test_cpu_accelerator_uses_the_measured_peaks():
    cpu = compute.get_accelerator("cpu")
    assert cpu.peak_flops("fp32") == pytest.approx(compute.matmul_peak("float32"))
    assert cpu.peak_flops("fp64") == pytest.approx(compute.matmul_peak("float64"))
    assert not cpu.supports("bf16")
    assert cpu.memory_gb > 0


def test_measure_throughput_reports_consistent_figures():
    cr.manual_seed(0)
    model = nn.MLP([20, 32, 3])
    x, y = cr.randn(16, 20), cr.randint(0, 3, (16,))
    counted = compute.count_flops(model, x)
    result = compute.measure_throughput(model, x, nn.CrossEntropyLoss(), optim.SGD(model.parameters(), lr=0.1),
                                        steps=5, target=y, warmup=1)
    assert len(result.step_times) == 5
    assert result.step_seconds == statistics.median(result.step_times)
    assert result.flops_per_step == counted.training_flops
    assert result.achieved_flops == pytest.approx(counted.training_flops / result.step_seconds)
    assert result.fraction_of_peak == pytest.approx(result.achieved_flops / compute.matmul_peak("float32"))
    assert result.examples_per_second == pytest.approx(16 / result.step_seconds)
    assert (result.device, result.dtype, result.batch_size) == ("cpu", "float32", 16)
    assert result.as_dict()["steps"] == 5


def test_measure_throughput_trains_the_model():
    cr.manual_seed(0)
    model = nn.Linear(3, 1)
    x = cr.randn(8, 3)
    before = model.weight.numpy().copy()
    compute.measure_throughput(model, x, lambda out: (out * out).mean(), optim.SGD(model.parameters(), lr=0.1), 2)
    assert (model.weight.numpy() != before).any()


@pytest.mark.parametrize("kwargs, error, message", [
    ({"steps": 0}, ValueError, "steps must be an int >= 1"),
    ({"warmup": -1}, ValueError, "warmup must be an int >= 0"),
    ({"example_input": [[1.0]]}, TypeError, "example_input must be a Tensor"),
    ({"target": [1]}, TypeError, "target must be a Tensor"),
    ({"optimizer": object()}, TypeError, "optimizer must have"),
])
def test_measure_throughput_rejects_bad_arguments(kwargs, error, message):
    model = nn.Linear(2, 1)
    arguments = {"model": model, "example_input": cr.randn(4, 2), "loss": nn.MSELoss(),
                 "optimizer": optim.SGD(model.parameters(), lr=0.1), "steps": 2, **kwargs}
    with pytest.raises(error, match=message):
        compute.measure_throughput(**arguments)


def test_predict_epoch_time_formula():
    assert compute.predict_epoch_time(3e6, 1000, 1e9) == pytest.approx(3.0)
    count = compute.count_flops(nn.Linear(10, 10), cr.randn(4, 10))
    assert compute.predict_epoch_time(count, 100, 2e9) == pytest.approx(100 * count.training_flops_per_example / 2e9)


@pytest.mark.parametrize("args, message", [
    ((0.0, 10, 1e9), "flops_per_example"),
    ((1e6, 10, -1.0), "throughput"),
    ((1e6, 0, 1e9), "samples"),
])
def test_predict_epoch_time_rejects_bad_arguments(args, message):
    with pytest.raises(ValueError, match=message):
        compute.predict_epoch_time(*args)
