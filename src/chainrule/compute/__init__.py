"""The computation planner: what will training cost, and how long will it take?

    >>> from chainrule import compute, nn
    >>> count = compute.count_flops(nn.MLP([784, 256, 256, 10]), chainrule.randn(256, 784))
    >>> count.to_frame()                                   # per-layer FLOPs, params, memory
    >>> flops = compute.training_flops(params=175e9, tokens=300e9)     # 6·N·D = 3.15e23
    >>> compute.estimate(flops, "A100-80GB", count=1024, precision="bf16").seconds_range
    >>> compute.preset("gpt3").to_frame()                  # the course's 51 days, re-derived
    >>> with compute.meta_init():                          # shape only: nothing allocated
    ...     gpt3 = chainrule.models.gpt(50257, 2048, 96, 96, 12288)
    >>> compute.count_flops(gpt3, chainrule.zeros(1, 2048, dtype=chainrule.int64)).training_flops

counting.py   count_flops (forward and backward; matmul-class FLOPs as PyTorch's FlopCounterMode),
              training_flops, six_nd
observe.py    how count_flops watches a forward pass (layer calls, ops between the layers)
layer_rules.py, sequence_rules.py, op_rules.py   the FLOP rules of layers and ops
meta.py       meta_init (shape-only models: no parameter memory), MetaArray, is_meta
architectures.py   resnet50, bert_base (the presets' networks from chainrule.nn layers)
catalog.py    accelerators (dense and sparse datasheet peaks, memory), prices (TOML-overridable)
estimate.py   estimate (time and cost over a utilization range), memory_check, compare_accelerators
measure.py    matmul_peak (measured), measure_throughput, predict_epoch_time
presets.py    gpt3, bert-base, resnet50-imagenet
"""
from .architectures import bert_base, resnet50
from .catalog import (
    ACCELERATORS,
    ALIASES,
    COURSE_PRICES,
    DEFAULT_PRICES,
    PRECISIONS,
    PRICES_TAKEN,
    Accelerator,
    Prices,
    accelerator_names,
    catalog_frame,
    cpu_accelerator,
    get_accelerator,
    load_prices,
)
from .counting import FlopCount, LayerCount, count_flops, six_nd, training_flops
from .estimate import (
    BYTES_PER_VALUE,
    DEFAULT_UTILIZATION,
    OPTIMIZER_STATES,
    UTILIZATION_RANGE,
    Estimate,
    MemoryCheck,
    compare_accelerators,
    estimate,
    format_duration,
    memory_check,
)
from .measure import Throughput, matmul_peak, measure_throughput, predict_epoch_time
from .meta import MetaArray, is_meta, meta_init
from .presets import GPT3_COURSE_FLOPS, GPT3_PUBLISHED_FLOPS, GPT3_SHAPE, PRESETS, Preset, counted_preset_model, preset

__all__ = [
    "count_flops", "training_flops", "six_nd", "FlopCount", "LayerCount",
    "meta_init", "is_meta", "MetaArray", "resnet50", "bert_base",
    "ACCELERATORS", "ALIASES", "PRECISIONS", "Accelerator", "get_accelerator", "accelerator_names",
    "cpu_accelerator", "catalog_frame", "load_prices", "Prices", "DEFAULT_PRICES", "PRICES_TAKEN",
    "COURSE_PRICES",
    "estimate", "Estimate", "memory_check", "MemoryCheck", "compare_accelerators", "format_duration",
    "DEFAULT_UTILIZATION", "UTILIZATION_RANGE", "OPTIMIZER_STATES", "BYTES_PER_VALUE",
    "matmul_peak", "measure_throughput", "predict_epoch_time", "Throughput",
    "preset", "Preset", "PRESETS", "GPT3_COURSE_FLOPS", "GPT3_PUBLISHED_FLOPS", "GPT3_SHAPE", "counted_preset_model",
]
