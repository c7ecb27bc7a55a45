"""Accelerators: peak throughput per precision, memory, and cloud prices per hour.

Every peak figure is the *dense* rate from the vendor's datasheet or architecture
whitepaper named in the entry's ``source``. Datasheets of Ampere and later print the
2:4 structured-sparsity rate first, marked "with sparsity" (a footnote asterisk),
which is twice the dense rate; training dense models never sees it. The catalog keeps
those figures too, labelled (:attr:`Accelerator.sparse_tflops`), and every estimate
uses the dense ones. Example: H100 SXM BF16 is 1,979 TFLOP/s "with sparsity" on the
datasheet, 989.5 dense.

Precisions: ``fp64`` (the FP64 Tensor Core rate where there is one, which is what a
DGEMM reaches; else the vector rate), ``fp32`` (non-tensor FP32), ``tf32``, ``bf16``,
``fp16`` (tensor-core rates with FP32 accumulation, what mixed-precision training
uses) and ``fp8``. ``None`` means the hardware has no such mode. GeForce cards (RTX
3090, 4090) run FP16/BF16 with FP32 accumulation at half their FP16-accumulate rate;
the catalog uses the FP32-accumulate figure. Where a datasheet omits FP64 the entry
derives it from the architecture's FP64:FP32 ratio and says so.

The ``CPU`` entry is this machine, measured: see :func:`cpu_accelerator`.

Prices (US$ per accelerator-hour) are editable defaults: approximate on-demand list
prices of one provider each (named in :data:`DEFAULT_PRICES`), as of
:data:`PRICES_TAKEN`. They drift; override them per call (``price_per_hour=``), on
the command line (``--price``) or in a TOML file (:func:`load_prices`)::

    taken = "2025-01-15"
    [prices]
    A100-80GB = 1.79
    H100-SXM = 2.99
"""
from __future__ import annotations

import math
import numbers
import os
from dataclasses import dataclass, field
from pathlib import Path

__all__ = [
    "PRECISIONS", "Accelerator", "ACCELERATORS", "ALIASES", "DEFAULT_PRICES", "PRICES_TAKEN",
    "COURSE_PRICES", "get_accelerator", "accelerator_names", "cpu_accelerator",
    "catalog_frame", "load_prices", "Prices",
]

PRECISIONS = ("fp64", "fp32", "tf32", "bf16", "fp16", "fp8")
_BYTES_PER_GB = 1e9


@dataclass(frozen=True)
class Accelerator:
    """One accelerator model: dense peak TFLOP/s per precision, memory and its sources.

    Attributes:
        name: the catalog key, e.g. "H100-SXM".
        memory_gb: device memory in GB (10^9 bytes).
        bandwidth_gbs: memory bandwidth in GB/s.
        dense_tflops: {precision: dense peak TFLOP/s, or None where unsupported}.
        sparse_tflops: {precision: 2:4-sparsity TFLOP/s} where the datasheet prints one.
        source: the datasheet or whitepaper the figures come from.
        notes: how a figure was chosen or derived.
    """

    name: str
    memory_gb: float
    bandwidth_gbs: float
    dense_tflops: dict
    sparse_tflops: dict = field(default_factory=dict)
    source: str = ""
    notes: str = ""

    def peak_flops(self, precision: str) -> float:
        """Dense peak FLOP/s at ``precision``; a ValueError names the supported ones if absent."""
        _check_precision(precision)
        tflops = self.dense_tflops.get(precision)
        if tflops is None:
            supported = [p for p in PRECISIONS if self.dense_tflops.get(p) is not None]
            raise ValueError(
                f"precision: {self.name} has no {precision} mode; it supports {', '.join(supported)}"
            )
        return tflops * 1e12

    def supports(self, precision: str) -> bool:
        _check_precision(precision)
        return self.dense_tflops.get(precision) is not None

    @property
    def memory_bytes(self) -> float:
        return self.memory_gb * _BYTES_PER_GB


def _tflops(fp64, fp32, tf32, bf16, fp16, fp8) -> dict:
    return dict(zip(PRECISIONS, (fp64, fp32, tf32, bf16, fp16, fp8)))


_A100_SOURCE = ("NVIDIA A100 Tensor Core GPU datasheet (2021, 1758950-r4): FP64 9.7, FP64 Tensor "
                "Core 19.5, FP32 19.5, TF32 156 | 312*, BF16 312 | 624*, FP16 312 | 624* TFLOPS "
                "(* with sparsity)")
_HOPPER_SXM = _tflops(67, 67, 494.5, 989.5, 989.5, 1979)
_HOPPER_SXM_SPARSE = {"tf32": 989, "bf16": 1979, "fp16": 1979, "fp8": 3958}

ACCELERATORS = {
    entry.name: entry for entry in (
        Accelerator("A100-40GB", 40, 1555, _tflops(19.5, 19.5, 156, 312, 312, None),
                    {"tf32": 312, "bf16": 624, "fp16": 624}, _A100_SOURCE + "; 40GB HBM2, 1,555 GB/s",
                    "fp64 is the FP64 Tensor Core rate (vector FP64: 9.7); no FP8 on Ampere"),
        Accelerator("A100-80GB", 80, 2039, _tflops(19.5, 19.5, 156, 312, 312, None),
                    {"tf32": 312, "bf16": 624, "fp16": 624}, _A100_SOURCE + "; 80GB HBM2e, 2,039 GB/s (SXM)",
                    "SXM module; fp64 is the FP64 Tensor Core rate (vector FP64: 9.7); no FP8 on Ampere"),
        Accelerator("H100-SXM", 80, 3350, _HOPPER_SXM, _HOPPER_SXM_SPARSE,
                    "NVIDIA H100 Tensor Core GPU datasheet (2023), H100 SXM column: FP64 34, FP64 "
                    "Tensor Core 67, FP32 67, TF32 989*, BF16 1,979*, FP16 1,979*, FP8 3,958* "
                    "TFLOPS (* with sparsity); 80GB HBM3, 3.35 TB/s",
                    "dense = half the sparsity figures; fp64 is the FP64 Tensor Core rate"),
        Accelerator("H100-PCIe", 80, 2000, _tflops(51, 51, 378, 756.5, 756.5, 1513),
                    {"tf32": 756, "bf16": 1513, "fp16": 1513, "fp8": 3026},
                    "NVIDIA H100 Tensor Core GPU datasheet (2023), H100 PCIe column: FP64 26, FP64 "
                    "Tensor Core 51, FP32 51, TF32 756*, BF16 1,513*, FP16 1,513*, FP8 3,026* "
                    "TFLOPS (* with sparsity); 80GB HBM2e, 2 TB/s",
                    "dense = half the sparsity figures; fp64 is the FP64 Tensor Core rate"),
        Accelerator("H200", 141, 4800, _HOPPER_SXM, _HOPPER_SXM_SPARSE,
                    "NVIDIA H200 Tensor Core GPU datasheet (2024), H200 SXM column: FP64 34, FP64 "
                    "Tensor Core 67, FP32 67, TF32 989*, BF16 1,979*, FP16 1,979*, FP8 3,958* "
                    "TFLOPS (* with sparsity); 141GB HBM3e, 4.8 TB/s",
                    "the H100 SXM's compute with more and faster memory; dense = half the sparsity figures"),
        Accelerator("L4", 24, 300, _tflops(30.3 / 64, 30.3, 60, 121, 121, 242.5),
                    {"tf32": 120, "bf16": 242, "fp16": 242, "fp8": 485},
                    "NVIDIA L4 Tensor Core GPU datasheet (2023): FP32 30.3, TF32 120*, BF16 242*, "
                    "FP16 242*, FP8 485* TFLOPS (* with sparsity); 24GB GDDR6, 300 GB/s",
                    "FP64 is not on the datasheet: derived as FP32/64 (Ada's FP64:FP32 ratio)"),
        Accelerator("L40S", 48, 864, _tflops(91.6 / 64, 91.6, 183, 362.05, 362.05, 733),
                    {"tf32": 366, "bf16": 733, "fp16": 733, "fp8": 1466},
                    "NVIDIA L40S GPU datasheet (2023): FP32 91.6, TF32 183 | 366*, BF16 362.05 | "
                    "733*, FP16 362.05 | 733*, FP8 733 | 1,466* TFLOPS (* with sparsity); 48GB "
                    "GDDR6, 864 GB/s",
                    "FP64 is not on the datasheet: derived as FP32/64 (Ada's FP64:FP32 ratio); the "
                    "sheet's own BF16/FP16 pair is not exactly 2:1 (362.05 dense, 733 sparse)"),
        Accelerator("RTX-4090", 24, 1008, _tflops(1.3, 82.6, 82.6, 165.2, 165.2, 330.3),
                    {"tf32": 165.2, "bf16": 330.4, "fp16": 330.4, "fp8": 660.6},
                    "NVIDIA Ada GPU Architecture whitepaper (v2.1, 2023), Appendix A, GeForce RTX "
                    "4090: FP64 1.3, FP32 82.6, TF32 Tensor 82.6/165.2, FP16 and BF16 Tensor with "
                    "FP32 accumulate 165.2/330.4, FP8 Tensor with FP32 accumulate 330.3/660.6 "
                    "TFLOPS (dense/sparse); 24GB GDDR6X, 1,008 GB/s",
                    "FP32-accumulate rates (GeForce runs them at half the FP16-accumulate rate, 330.3 dense)"),
        Accelerator("RTX-3090", 24, 936, _tflops(0.556, 35.6, 35.6, 71, 71, None),
                    {"tf32": 71, "bf16": 142, "fp16": 142},
                    "NVIDIA Ampere GA102 GPU Architecture whitepaper (v2.1, 2021), GeForce RTX 3090: "
                    "FP32 35.6, TF32 Tensor 35.6/71, FP16 and BF16 Tensor with FP32 accumulate "
                    "71/142 TFLOPS (dense/sparse); 24GB GDDR6X, 936 GB/s",
                    "FP64 = FP32/64 (GA102's ratio); FP32-accumulate rates (FP16 accumulate: 142 dense); no FP8"),
        Accelerator("V100", 32, 900, _tflops(7.8, 15.7, None, None, 125, None), {},
                    "NVIDIA Tesla V100 GPU datasheet (2020), V100 SXM2: FP64 7.8, FP32 15.7, "
                    "Tensor (mixed-precision FP16) 125 TFLOPS; 32GB HBM2, 900 GB/s",
                    "SXM2 32GB; Volta has no TF32, BF16 or FP8 and no sparsity mode"),
        Accelerator("T4", 16, 320, _tflops(8.1 / 32, 8.1, None, None, 65, None), {},
                    "NVIDIA T4 Tensor Core GPU datasheet (2019): FP32 8.1, mixed precision "
                    "(FP16/FP32) 65 TFLOPS; 16GB GDDR6, 320+ GB/s",
                    "FP64 is not on the datasheet: derived as FP32/32 (Turing's ratio); no TF32, BF16, FP8"),
    )
}

ALIASES = {"A100": "A100-80GB", "H100": "H100-SXM", "V100-SXM2": "V100", "RTX4090": "RTX-4090",
           "RTX3090": "RTX-3090", "4090": "RTX-4090", "3090": "RTX-3090"}

PRICES_TAKEN = "2024-06 (approximate on-demand list prices; check before budgeting)"

#: US$ per accelerator-hour and where it comes from (on-demand, one provider each).
DEFAULT_PRICES = {
    "A100-40GB": (32.77 / 8, "AWS p4d.24xlarge (8 x A100 40GB) US$32.77/h / 8, the course's figure"),
    "A100-80GB": (40.97 / 8, "AWS p4de.24xlarge (8 x A100 80GB) about US$40.97/h / 8"),
    "H100-SXM": (98.32 / 8, "AWS p5.48xlarge (8 x H100 SXM) US$98.32/h / 8 (before AWS's 2025 cut)"),
    "H100-PCIe": (2.49, "Lambda Cloud 1 x H100 PCIe"),
    "H200": (3.80, "indicative: GPU clouds list 8 x H200 at roughly US$3.5-4.5 per GPU-hour"),
    "L4": (0.71, "Google Cloud g2-standard-4 (1 x L4), us-central1"),
    "L40S": (1.86, "AWS g6e.xlarge (1 x L40S)"),
    "RTX-4090": (0.69, "RunPod secure cloud (1 x RTX 4090)"),
    "RTX-3090": (0.43, "RunPod secure cloud (1 x RTX 3090)"),
    "V100": (3.06, "AWS p3.2xlarge (1 x V100 16GB)"),
    "T4": (0.526, "AWS g4dn.xlarge (1 x T4)"),
}

#: The two prices the course uses (A100 on Google Cloud; AWS p4 with 8 A100s).
COURSE_PRICES = {"gcp_a100_hour": 4.05, "aws_p4_8xa100_hour": 32.77}


@dataclass(frozen=True)
class Prices:
    """A price list: ``per_hour`` {accelerator: US$ per accelerator-hour}, ``sources``
    {accelerator: where the price comes from}, ``taken`` (when)."""

    per_hour: dict
    sources: dict
    taken: str

    def get(self, name: str):
        """US$ per hour of the accelerator ``name``, or None when the list has no price."""
        return self.per_hour.get(name)


def accelerator_names(include_cpu: bool = False) -> list:
    """The catalog's keys (and "CPU" if asked)."""
    return list(ACCELERATORS) + (["CPU"] if include_cpu else [])


def get_accelerator(name: str) -> Accelerator:
    """The catalog entry ``name`` (case-insensitive; aliases such as "A100", "H100"
    accepted; "CPU" measures this machine)."""
    if not isinstance(name, str):
        raise TypeError(f"accelerator: expected a name such as 'A100-80GB'; got {type(name).__name__}")
    if name.upper() == "CPU":
        return cpu_accelerator()
    by_upper = {key.upper(): key for key in ACCELERATORS}
    by_upper.update({alias.upper(): key for alias, key in ALIASES.items()})
    key = by_upper.get(name.upper())
    if key is None:
        raise ValueError(f"accelerator: unknown {name!r}; expected one of {', '.join(accelerator_names(True))}")
    return ACCELERATORS[key]


def cpu_accelerator() -> Accelerator:
    """This machine's CPU as an accelerator: fp32 and fp64 peaks are the *measured*
    SGEMM and DGEMM rates of the array engine (see
    :func:`chainrule.compute.measure.matmul_peak`), memory is the physical RAM."""
    from .measure import matmul_peak  # noqa: PLC0415 - measured on first use only

    fp32 = matmul_peak("float32") / 1e12
    fp64 = matmul_peak("float64") / 1e12
    return Accelerator(
        "CPU", _physical_memory_gb(), math.nan, _tflops(fp64, fp32, None, None, None, None), {},
        "measured on this machine: median-of-best timed square matmuls (NumPy's BLAS)",
        f"{os.cpu_count()} logical cores; only fp32 and fp64 run at BLAS speed in NumPy",
    )


def catalog_frame(prices: Prices | None = None):
    """The catalog as a pandas DataFrame: one row per accelerator, dense (and sparse)
    TFLOP/s per precision, memory, price per hour and sources."""
    import pandas as pd  # noqa: PLC0415

    prices = load_prices() if prices is None else prices
    rows = []
    for entry in ACCELERATORS.values():
        row = {"accelerator": entry.name, "memory_gb": entry.memory_gb, "bandwidth_gbs": entry.bandwidth_gbs}
        row.update({f"{p}_tflops": entry.dense_tflops.get(p) for p in PRECISIONS})
        row.update({f"{p}_sparse_tflops": entry.sparse_tflops.get(p) for p in PRECISIONS})
        row.update({"price_per_hour": prices.get(entry.name), "source": entry.source, "notes": entry.notes})
        rows.append(row)
    return pd.DataFrame(rows)


def load_prices(path=None) -> Prices:
    """The price list: the defaults, overridden by a TOML file.

    The file is ``path``, else ``$CHAINRULE_PRICES``, else
    ``~/.config/chainrule/prices.toml`` if it exists. Its ``[prices]`` table maps
    catalog names (or "CPU") to positive numbers (US$ per hour); unknown names are an
    error. Its optional top-level ``taken`` string says when the prices were taken.
    """
    per_hour = {name: value for name, (value, _) in DEFAULT_PRICES.items()}
    sources = {name: source for name, (_, source) in DEFAULT_PRICES.items()}
    file = _prices_file(path)
    if file is None:
        return Prices(per_hour, sources, PRICES_TAKEN)
    import tomllib  # noqa: PLC0415 - Python >= 3.11

    with open(file, "rb") as handle:
        try:
            document = tomllib.load(handle)
        except tomllib.TOMLDecodeError as error:
            raise ValueError(f"prices file {file}: not valid TOML ({error})") from error
    table = document.get("prices")
    if not isinstance(table, dict):
        raise ValueError(f"prices file {file}: expected a [prices] table mapping accelerator names to US$ per hour")
    for name, value in table.items():
        key = "CPU" if name.upper() == "CPU" else get_accelerator(name).name
        if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value) or value <= 0:
            raise ValueError(
                f"prices file {file}: price of {name!r} must be a positive number (US$ per hour); got {value!r}"
            )
        per_hour[key] = float(value)
        sources[key] = f"{file}"
    taken = document.get("taken", f"{PRICES_TAKEN}, overridden by {file}")
    return Prices(per_hour, sources, str(taken))


# ---------------------------------------------------------------------- helpers


def _check_precision(precision) -> None:
    if precision not in PRECISIONS:
        raise ValueError(f"precision: expected one of {', '.join(PRECISIONS)}; got {precision!r}")


def _prices_file(path):
    if path is not None:
        file = Path(path)
        if not file.is_file():
            raise FileNotFoundError(f"prices file: {file} does not exist")
        return file
    from_environment = os.environ.get("CHAINRULE_PRICES")
    if from_environment:
        return _prices_file(from_environment)
    default = Path.home() / ".config" / "chainrule" / "prices.toml"
    return default if default.is_file() else None


def _physical_memory_gb() -> float:
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / _BYTES_PER_GB
    except (ValueError, OSError, AttributeError):
        return math.nan
