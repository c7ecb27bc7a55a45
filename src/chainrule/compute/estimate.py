"""Estimating wall time, cost and memory of a training run on named accelerators.

Time. A run of C FLOPs on k devices of dense peak P FLOP/s each, at model FLOPs
utilization u, takes

    T = C / (k · P · u)   seconds,    cost = k · T / 3600 · price per device-hour.

u is the *model FLOPs utilization* (MFU) of Chowdhery et al. (2022), "PaLM", §4.1
and appendix B: the FLOPs the model needs (6·N per token, recomputation excluded)
per second, divided by the hardware's peak. Published large runs reach 0.2-0.5:
GPT-3 21.3%, Gopher 32.5%, Megatron-Turing NLG 30.2%, PaLM 46.2% (PaLM, Table 3),
Llama 3 405B 38-43% on H100s (Dubey et al. 2024, Table 4). So the default is
u = 0.35 reported with the range 0.20-0.50: the answer is a range, not one number
that pretends to a precision nobody has.

Memory. Training keeps, per parameter, the weights, their gradients and the
optimizer state (Adam/AdamW: two more copies, m and v; momentum, Nesterov,
AdaGrad, RMSProp: one; SGD: none), plus the activations kept for backward. In full
precision (fp64, fp32, tf32) each copy has the value's size (Adam in fp32: 16 bytes
per parameter). In mixed precision (bf16, fp16, fp8) the weights and gradients
have the low-precision size and the optimizer keeps an fp32 master copy and fp32
states (Adam in bf16: 2 + 2 + 4 + 8 = 16 bytes per parameter, as in Rajbhandari et
al. 2020, "ZeRO", §3.1). Devices needed just to fit = ⌈total / device memory⌉: the
lower bound when everything is sharded (ZeRO-3/FSDP, activations partitioned), with
no allowance for the framework, fragmentation or communication buffers.
"""
from __future__ import annotations

import math
import numbers
from dataclasses import dataclass

from .catalog import ACCELERATORS, PRECISIONS, Accelerator, Prices, get_accelerator, load_prices

__all__ = [
    "DEFAULT_UTILIZATION", "UTILIZATION_RANGE", "OPTIMIZER_STATES", "BYTES_PER_VALUE",
    "Estimate", "MemoryCheck", "estimate", "memory_check", "compare_accelerators", "format_duration",
]

DEFAULT_UTILIZATION = 0.35
UTILIZATION_RANGE = (0.20, 0.50)
OPTIMIZER_STATES = {"sgd": 0, "gd": 0, "momentum": 1, "nesterov": 1, "adagrad": 1, "rmsprop": 1,
                    "adam": 2, "adamw": 2}
BYTES_PER_VALUE = {"fp64": 8, "fp32": 4, "tf32": 4, "bf16": 2, "fp16": 2, "fp8": 1}
_MIXED = ("bf16", "fp16", "fp8")
_MASTER_BYTES = 4


@dataclass(frozen=True)
class MemoryCheck:
    """Training memory against one device's memory (bytes; see the module docstring)."""

    weights: float
    gradients: float
    master_weights: float
    optimizer_state: float
    activations: float
    device_memory: float

    @property
    def total(self) -> float:
        return self.weights + self.gradients + self.master_weights + self.optimizer_state + self.activations

    @property
    def fits(self) -> bool:
        """Everything fits on one device."""
        return self.total <= self.device_memory

    @property
    def devices_to_fit(self) -> int:
        """⌈total / device memory⌉: devices needed just to hold it, fully sharded."""
        return max(1, math.ceil(self.total / self.device_memory))

    def as_dict(self) -> dict:
        return {"weights_bytes": self.weights, "gradients_bytes": self.gradients,
                "master_weights_bytes": self.master_weights, "optimizer_state_bytes": self.optimizer_state,
                "activations_bytes": self.activations, "total_bytes": self.total,
                "device_memory_bytes": self.device_memory, "fits_one_device": self.fits,
                "devices_to_fit": self.devices_to_fit}


@dataclass(frozen=True)
class Estimate:
    """Wall time and cost of ``flops`` on ``count`` × ``accelerator`` (see the module docstring).

    ``seconds`` is at the typical utilization, ``seconds_range`` = (fastest, slowest)
    over ``utilization_range``; ``cost`` and ``cost_range`` likewise (None without a price).
    """

    flops: float
    accelerator: str
    count: int
    precision: str
    peak_flops: float
    utilization: float
    utilization_range: tuple
    price_per_hour: float | None
    memory: MemoryCheck | None = None

    def seconds_at(self, utilization: float) -> float:
        """T = C / (k · P · u)."""
        return self.flops / (self.count * self.peak_flops * utilization)

    @property
    def seconds(self) -> float:
        return self.seconds_at(self.utilization)

    @property
    def seconds_range(self) -> tuple:
        low, high = self.utilization_range
        return (self.seconds_at(high), self.seconds_at(low))

    @property
    def days(self) -> float:
        return self.seconds / 86400

    @property
    def device_hours(self) -> float:
        return self.count * self.seconds / 3600

    @property
    def cost(self) -> float | None:
        return None if self.price_per_hour is None else self.device_hours * self.price_per_hour

    @property
    def cost_range(self) -> tuple | None:
        if self.price_per_hour is None:
            return None
        fast, slow = self.seconds_range
        return tuple(self.count * t / 3600 * self.price_per_hour for t in (fast, slow))

    def as_dict(self) -> dict:
        fast, slow = self.seconds_range
        costs = self.cost_range or (None, None)
        row = {"accelerator": self.accelerator, "count": self.count, "precision": self.precision,
               "flops": self.flops, "peak_flops_per_device": self.peak_flops,
               "utilization": self.utilization, "utilization_low": self.utilization_range[0],
               "utilization_high": self.utilization_range[1], "seconds": self.seconds,
               "seconds_fastest": fast, "seconds_slowest": slow, "device_hours": self.device_hours,
               "price_per_hour": self.price_per_hour, "cost": self.cost,
               "cost_low": costs[0], "cost_high": costs[1]}
        if self.memory is not None:
            row.update(self.memory.as_dict())
        return row


def estimate(flops, accelerator="A100-80GB", count=8, precision="tf32", utilization=None,
             price_per_hour=None, *, params=None, activation_bytes=0, optimizer="adam",
             prices: Prices | None = None) -> Estimate:
    """Wall time and cost of training with ``flops`` FLOPs on ``count`` accelerators.

    Args:
        flops: total training FLOPs (e.g. :func:`~chainrule.compute.training_flops`).
        accelerator: a catalog name ("A100-80GB", "H100-SXM", …, "CPU") or an
            :class:`~chainrule.compute.Accelerator`.
        count: number of devices.
        precision: one of fp64, fp32, tf32, bf16, fp16, fp8 (the device must support it).
        utilization: MFU u in (0, 1]; None = 0.35 with the range 0.20-0.50; a
            (low, high) pair = that range around its midpoint.
        price_per_hour: US$ per device-hour; None = the price list's (``prices``, by
            default :func:`~chainrule.compute.load_prices`), which may have none.
        params, activation_bytes, optimizer: when ``params`` is given, also check
            training memory against one device (:func:`memory_check`).

    Returns an :class:`Estimate`.
    """
    _check_positive(flops, "flops")
    device = accelerator if isinstance(accelerator, Accelerator) else get_accelerator(accelerator)
    if isinstance(count, bool) or not isinstance(count, numbers.Integral) or count < 1:
        raise ValueError(f"count: expected a positive int (number of devices); got {count!r}")
    peak = device.peak_flops(precision)
    typical, span = _utilization(utilization)
    if price_per_hour is None:
        price_per_hour = (load_prices() if prices is None else prices).get(device.name)
    else:
        _check_positive(price_per_hour, "price_per_hour")
    memory = None
    if params is not None:
        memory = memory_check(params, device, precision, activation_bytes=activation_bytes, optimizer=optimizer)
    return Estimate(float(flops), device.name, count, precision, peak, typical, span,
                    None if price_per_hour is None else float(price_per_hour), memory)


def memory_check(params, accelerator="A100-80GB", precision="fp32", *, activation_bytes=0,
                 optimizer="adam") -> MemoryCheck:
    """Training memory of a model with ``params`` parameters on one ``accelerator``
    (the bytes per parameter rule is in the module docstring)."""
    _check_positive(params, "params")
    if isinstance(activation_bytes, bool) or not isinstance(activation_bytes, numbers.Real) or activation_bytes < 0:
        raise ValueError(f"activation_bytes: expected a number >= 0; got {activation_bytes!r}")
    if precision not in PRECISIONS:
        raise ValueError(f"precision: expected one of {', '.join(PRECISIONS)}; got {precision!r}")
    if optimizer not in OPTIMIZER_STATES:
        raise ValueError(f"optimizer: expected one of {', '.join(OPTIMIZER_STATES)}; got {optimizer!r}")
    device = accelerator if isinstance(accelerator, Accelerator) else get_accelerator(accelerator)
    size = BYTES_PER_VALUE[precision]
    mixed = precision in _MIXED
    state_size = _MASTER_BYTES if mixed else size
    return MemoryCheck(
        weights=params * size, gradients=params * size,
        master_weights=params * _MASTER_BYTES if mixed else 0.0,
        optimizer_state=params * OPTIMIZER_STATES[optimizer] * state_size,
        activations=float(activation_bytes), device_memory=device.memory_bytes,
    )


def compare_accelerators(flops, count=1, precision="bf16", utilization=None, *, params=None,
                         activation_bytes=0, optimizer="adam", prices: Prices | None = None,
                         names=None, fallback: bool = True) -> list:
    """:func:`estimate` on every catalog accelerator (or ``names``): a list of dicts, one
    per accelerator; ``pandas.DataFrame(rows)`` makes it a table.

    A device without the ``precision`` mode runs the nearest one it has when
    ``fallback`` (what frameworks do: TF32 is a math mode of FP32 tensors, so a V100
    asked for TF32 runs FP32; mixed precision without BF16 uses FP16; without FP8,
    BF16): tf32 → fp32, fp8 → bf16 → fp16, bf16 → fp16. Each row's ``precision``
    says which ran; ``supported`` is False (and there is no time) when none could.
    """
    prices = load_prices() if prices is None else prices
    rows = []
    for name in (list(ACCELERATORS) if names is None else names):
        device = get_accelerator(name)
        used = _usable_precision(device, precision, fallback)
        if used is None:
            rows.append({"accelerator": device.name, "count": count, "precision": precision, "supported": False})
            continue
        result = estimate(flops, device, count, used, utilization, params=params,
                          activation_bytes=activation_bytes, optimizer=optimizer, prices=prices)
        rows.append({**result.as_dict(), "requested_precision": precision, "supported": True})
    return rows


_FALLBACKS = {"tf32": ("fp32",), "fp8": ("bf16", "fp16"), "bf16": ("fp16",)}


def _usable_precision(device: Accelerator, precision: str, fallback: bool):
    if device.supports(precision):
        return precision
    if not fallback:
        return None
    return next((p for p in _FALLBACKS.get(precision, ()) if device.supports(p)), None)


def format_duration(seconds: float) -> str:
    """A human reading of a duration: "420 µs", "42 ms", "3.1 s", "27 min", "5.2 h", "51.4 days", "1.3 years"."""
    if not math.isfinite(seconds):
        return "n/a"
    for limit, unit, scale in ((1e-3, "µs", 1e-6), (1, "ms", 1e-3), (120, "s", 1), (7200, "min", 60),
                               (3 * 86400, "h", 3600),
                               (730 * 86400, "days", 86400)):
        if seconds < limit:
            value = seconds / scale
            return f"{value:.3g} {unit}" if value < 100 else f"{value:.0f} {unit}"
    return f"{seconds / (365.25 * 86400):.3g} years"


# ---------------------------------------------------------------------- helpers


def _utilization(utilization) -> tuple:
    if utilization is None:
        return DEFAULT_UTILIZATION, UTILIZATION_RANGE
    if isinstance(utilization, (tuple, list)):
        if len(utilization) != 2:
            raise ValueError(f"utilization: expected a number or a (low, high) pair; got {utilization!r}")
        low, high = (_check_fraction(u) for u in utilization)
        if low > high:
            raise ValueError(f"utilization: expected low <= high; got {utilization!r}")
        return (low + high) / 2, (low, high)
    value = _check_fraction(utilization)
    return value, (value, value)


def _check_fraction(value) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not 0 < value <= 1:
        raise ValueError(f"utilization: expected a fraction of peak in (0, 1]; got {value!r}")
    return float(value)


def _check_positive(value, name: str) -> None:
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value) or value <= 0:
        raise ValueError(f"{name}: expected a positive finite number; got {value!r}")
