"""Measuring: the device's matmul peak, achieved training throughput, epoch-time predictions.

* :func:`matmul_peak` times square matrix products on a device (once per process
  and dtype; cached): peak FLOP/s = 2 n³ / t for the fastest of several runs
  (noise only ever adds time, so the fastest run is the closest to the machine's
  capability). On the CPU this is the BLAS SGEMM/DGEMM rate NumPy reaches, the
  honest "peak" for a library whose heavy work is matrix products.
* :func:`measure_throughput` times real training steps (forward, loss, backward,
  optimizer step) and divides the counted training FLOPs of a step
  (:func:`~chainrule.compute.count_flops`) by the median step time: the achieved
  FLOP/s, and its fraction of the measured peak (the model FLOPs utilization of
  Chowdhery et al. 2022, "PaLM", appendix B, against a measured rather than a
  datasheet peak).
* :func:`predict_epoch_time` = examples · training FLOPs per example / achieved FLOP/s.

The optimizer's own arithmetic (a few FLOPs per parameter per step) is not in the
counted FLOPs; it is in the measured time, so it lowers the achieved FLOP/s a little.
"""
from __future__ import annotations

import functools
import math
import numbers
import statistics
import time
from dataclasses import dataclass

from ..engine import backend
from ..engine.tensor import Tensor
from .counting import FlopCount, count_flops

__all__ = ["matmul_peak", "Throughput", "measure_throughput", "predict_epoch_time"]

_PEAK_SIZES = {"cpu": 1024}
_GPU_PEAK_SIZE = 8192
_PEAK_REPEATS = 7


def matmul_peak(dtype: str = "float32", device: str = "cpu") -> float:
    """Measured matrix-product FLOP/s of ``device`` at ``dtype``: 2 n³ / t_min over
    7 timed products of two n × n matrices (n = 1024 on the CPU, 8192 on a GPU),
    after one untimed warm-up. Measured once per process per (dtype, device)."""
    resolved = backend.canonical_dtype(dtype, "dtype")
    if resolved.kind != "f":
        raise ValueError(f"matmul_peak: dtype must be float32 or float64; got {resolved}")
    return _matmul_peak(str(resolved), backend.canonical_device(device))


@functools.cache
def _matmul_peak(dtype: str, device: str) -> float:
    xp = backend.namespace(device)
    n = _PEAK_SIZES.get(device, _GPU_PEAK_SIZE)
    generator = backend.host.random.default_rng(0)
    a = backend.move(generator.standard_normal((n, n)).astype(dtype), device)
    b = backend.move(generator.standard_normal((n, n)).astype(dtype), device)
    times = []
    for repeat in range(_PEAK_REPEATS + 1):
        started = time.perf_counter()
        product = xp.matmul(a, b)
        backend.to_host(product[:1, :1])  # waits for a GPU to finish
        if repeat:  # the first run warms caches and thread pools
            times.append(time.perf_counter() - started)
    return 2.0 * n**3 / min(times)


@dataclass(frozen=True)
class Throughput:
    """What :func:`measure_throughput` measured.

    Attributes:
        step_seconds: median seconds per training step; ``step_times`` all of them.
        flops_per_step: counted training FLOPs (forward + backward) of one step.
        achieved_flops: flops_per_step / step_seconds (FLOP/s).
        peak_flops: the device's measured matmul peak (:func:`matmul_peak`).
        fraction_of_peak: achieved_flops / peak_flops.
        batch_size, device, dtype: of the measured steps.
    """

    step_seconds: float
    step_times: tuple
    flops_per_step: int
    achieved_flops: float
    peak_flops: float
    batch_size: int
    device: str
    dtype: str
    count: FlopCount

    @property
    def fraction_of_peak(self) -> float:
        return self.achieved_flops / self.peak_flops

    @property
    def examples_per_second(self) -> float:
        return self.batch_size / self.step_seconds

    def as_dict(self) -> dict:
        return {
            "device": self.device, "dtype": self.dtype, "batch_size": self.batch_size,
            "steps": len(self.step_times), "step_seconds": self.step_seconds,
            "flops_per_step": self.flops_per_step, "achieved_flops": self.achieved_flops,
            "peak_flops": self.peak_flops, "fraction_of_peak": self.fraction_of_peak,
            "examples_per_second": self.examples_per_second,
        }


def measure_throughput(model, example_input, loss, optimizer, steps: int = 20, *,
                       target=None, warmup: int = 2) -> Throughput:
    """Time ``steps`` real training steps on ``example_input`` and report achieved FLOP/s.

    One step is ``out = model(x); L = loss(out, target)`` (``loss(out)`` when
    ``target`` is None); ``optimizer.zero_grad(); L.backward(); optimizer.step()``;
    and ``L.item()``, which waits for the device, as the Trainer does. ``warmup``
    untimed steps come first. The model is trained by these steps: measure on a
    copy if its weights matter.

    Achieved FLOP/s = counted training FLOPs of one step / median step time;
    fraction of peak = that / :func:`matmul_peak` of the input's device and dtype.
    """
    _check_count(steps, "steps", minimum=1)
    _check_count(warmup, "warmup", minimum=0)
    if not isinstance(example_input, Tensor):
        raise TypeError(f"measure_throughput: example_input must be a Tensor; got {type(example_input).__name__}")
    if target is not None and not isinstance(target, Tensor):
        raise TypeError(f"measure_throughput: target must be a Tensor or None; got {type(target).__name__}")
    for method in ("zero_grad", "step"):
        if not hasattr(optimizer, method):
            raise TypeError(f"measure_throughput: optimizer must have .{method}(); got {type(optimizer).__name__}")
    count = count_flops(model, example_input)
    times = []
    for step in range(warmup + steps):
        started = time.perf_counter()
        _training_step(model, example_input, target, loss, optimizer)
        if step >= warmup:
            times.append(time.perf_counter() - started)
    median = statistics.median(times)
    dtype = str(example_input.data.dtype)
    device = backend.device_of(example_input.data)
    return Throughput(
        step_seconds=median, step_times=tuple(times), flops_per_step=count.training_flops,
        achieved_flops=count.training_flops / median, peak_flops=matmul_peak(dtype, device),
        batch_size=count.batch_size, device=device, dtype=dtype, count=count,
    )


def predict_epoch_time(flops_per_example, samples: int, throughput) -> float:
    """Predicted seconds for one epoch: samples · training FLOPs per example / achieved FLOP/s.

    Args:
        flops_per_example: a :class:`~chainrule.compute.FlopCount` (its training
            FLOPs per example) or a positive number.
        samples: examples per epoch.
        throughput: a :class:`Throughput` (its achieved FLOP/s) or FLOP/s as a number.

    The prediction is only as good as the throughput's batch size is representative:
    measure with the batch size the epoch will use.
    """
    per_example = (flops_per_example.training_flops_per_example
                   if isinstance(flops_per_example, FlopCount) else flops_per_example)
    rate = throughput.achieved_flops if isinstance(throughput, Throughput) else throughput
    _check_positive_number(per_example, "flops_per_example")
    _check_positive_number(rate, "throughput")
    _check_count(samples, "samples", minimum=1)
    return samples * per_example / rate


# ---------------------------------------------------------------------- helpers


def _training_step(model, x, target, loss, optimizer) -> float:
    out = model(x)
    value = loss(out) if target is None else loss(out, target)
    optimizer.zero_grad()
    value.backward()
    optimizer.step()
    return value.item()


def _check_count(value, name: str, minimum: int) -> None:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        raise ValueError(f"{name} must be an int >= {minimum}; got {value!r}")


def _check_positive_number(value, name: str) -> None:
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value) or value <= 0:
        raise ValueError(f"predict_epoch_time: {name} must be a positive finite number; got {value!r}")
