"""Presets: the course's three "what will training cost?" examples, re-derived.

Each preset shows the course's claim, the arithmetic behind it where the course gave
one, and our estimate as a range over model FLOPs utilization (see
:mod:`chainrule.compute.estimate`), with the assumptions and sources in its notes.

``gpt3``: the course divides 3.64e23 FLOPs by 80 TFLOP/s per A100 and 128 × 8 A100s:
3.64e23 / 80e12 / 128 / 8 / 86400 ≈ 51 days ("51 - 100 days, which means 3 months").
The published figure is 3,640 petaflop/s-days (Brown et al. 2020, "Language Models
are Few-Shot Learners", Table D.1), i.e. 3,640 × 10^15 FLOP/s × 86,400 s =
3.14e23 FLOPs: the course kept the mantissa of 3,640 but not the unit conversion.
6·N·D with N = 175e9 parameters and D = 300e9 tokens gives 3.15e23, agreeing with
the corrected figure. (GPT-3 itself was trained on V100s; the course's A100 cluster
is a what-if.)
"""
from __future__ import annotations

from dataclasses import dataclass

from .catalog import COURSE_PRICES
from .counting import six_nd
from .estimate import estimate

__all__ = ["PRESETS", "Preset", "preset", "GPT3_PUBLISHED_FLOPS", "GPT3_COURSE_FLOPS"]

GPT3_COURSE_FLOPS = 3.64e23
#: 3,640 petaflop/s-days (Brown et al. 2020, Table D.1) in FLOPs.
GPT3_PUBLISHED_FLOPS = 3640 * 1e15 * 86400
_COURSE_A100_FLOPS = 80e12
_DGX_GPUS = 8


@dataclass(frozen=True)
class Preset:
    """One preset: ``rows`` (one dict per scenario: FLOPs, devices, utilization,
    time range, cost), the course's ``claim``, and ``notes`` (assumptions, sources)."""

    name: str
    title: str
    claim: str
    rows: tuple
    notes: tuple

    def to_frame(self):
        import pandas as pd  # noqa: PLC0415

        return pd.DataFrame(list(self.rows))


def preset(name: str) -> Preset:
    """The preset ``name``: "gpt3", "bert-base" or "resnet50-imagenet"."""
    builder = PRESETS.get(name)
    if builder is None:
        raise ValueError(f"preset: expected one of {', '.join(PRESETS)}; got {name!r}")
    return builder()


def _gpt3() -> Preset:
    gpus = 128 * _DGX_GPUS
    course_u = _COURSE_A100_FLOPS / 312e12  # 80 TFLOP/s of the A100's 312 dense BF16
    rows = (
        _row("course: 3.64e23 FLOPs, 80 TFLOP/s per GPU",
             estimate(GPT3_COURSE_FLOPS, "A100-80GB", gpus, "bf16", course_u,
                      COURSE_PRICES["gcp_a100_hour"])),
        _row("corrected: 3,640 PF/s-days = 3.14e23 FLOPs, 80 TFLOP/s per GPU",
             estimate(GPT3_PUBLISHED_FLOPS, "A100-80GB", gpus, "bf16", course_u,
                      COURSE_PRICES["gcp_a100_hour"])),
        _row("6·N·D = 6 × 175e9 × 300e9 FLOPs, 80 TFLOP/s per GPU",
             estimate(six_nd(175e9, 300e9), "A100-80GB", gpus, "bf16", course_u,
                      COURSE_PRICES["gcp_a100_hour"])),
        _row("ours: 3.14e23 FLOPs, MFU range of 312 TFLOP/s BF16",
             estimate(GPT3_PUBLISHED_FLOPS, "A100-80GB", gpus, "bf16", None,
                      COURSE_PRICES["gcp_a100_hour"], params=175e9)),
    )
    notes = (
        "The course's 3.64e23 pairs the mantissa of 3,640 petaflop/s-days with the wrong "
        f"exponent: 3,640 PF/s-days = 3640 × 1e15 × 86400 = {GPT3_PUBLISHED_FLOPS:.3g} FLOPs "
        "(Brown et al. 2020, Table D.1); 6·N·D = 3.15e23 agrees with the corrected figure.",
        f"80 TFLOP/s per A100 is {course_u:.1%} of its 312 TFLOP/s dense BF16 peak (A100 datasheet), "
        "i.e. the course assumes an MFU of about 26%, near GPT-3's own 21.3% (PaLM paper, Table 3).",
        f"Cost at the course's US${COURSE_PRICES['gcp_a100_hour']} per A100-hour (Google Cloud); AWS p4 "
        f"at US${COURSE_PRICES['aws_p4_8xa100_hour']} per 8 A100s is "
        f"US${COURSE_PRICES['aws_p4_8xa100_hour'] / 8:.3f} per A100-hour.",
        "Memory: 175e9 parameters with Adam in mixed precision need 16 bytes each "
        "(2.8 TB before activations): at least 35 A100-80GB just to hold them.",
        "GPT-3 was in fact trained on V100s (Brown et al. 2020, §2.3); the A100 cluster is the course's what-if.",
    )
    return Preset("gpt3", "GPT-3 175B on 128 DGX A100 servers (1,024 A100s)",
                  "3.64e23 / 80e12 / 128 / 8 / 86400 ≈ 51 days; \"51 - 100 days, which means 3 months\"",
                  rows, notes)


def _bert_base() -> Preset:
    # Devlin et al. 2019, appendix A.2: 1,000,000 steps of 256 sequences, 90% of the
    # steps at 128 tokens and 10% at 512.
    tokens = 256 * (900_000 * 128 + 100_000 * 512)
    flops = six_nd(110e6, tokens)
    rows = (_row("ours: 6·N·D, N = 110e6, D = 4.26e10 tokens",
                 estimate(flops, "A100-80GB", _DGX_GPUS, "bf16", None, params=110e6)),)
    implied = flops / (5 * 3600 * _DGX_GPUS * 312e12)
    notes = (
        "BERT-base: 110M parameters; pre-training 1M steps × 256 sequences, 90% at 128 tokens "
        "and 10% at 512 (Devlin et al. 2019, appendix A.2): D = 4.26e10 tokens, "
        f"6·N·D = {flops:.3g} FLOPs (attention's sequence-length term left out, as in Kaplan et al.).",
        f"The course's \"about 5 hours\" on one DGX A100 implies an MFU of {implied:.0%} of the "
        "312 TFLOP/s BF16 peak: above the 0.20-0.50 that published large runs report, so our range is longer.",
        "Devlin et al. trained BERT-base on 4 Cloud TPUs (16 chips) for 4 days.",
    )
    return Preset("bert-base", "BERT-base pre-training on one DGX A100 (8 A100s)",
                  "about 5 hours", rows, notes)


def _resnet50_imagenet() -> Preset:
    forward_flops = 2 * 4.1e9  # 4.1e9 multiply-adds per 224 × 224 image
    images, epochs = 1_281_167, 90
    flops = 3 * forward_flops * images * epochs
    rows = (_row("ours: 3 × forward × 1,281,167 images × 90 epochs",
                 estimate(flops, "A100-80GB", _DGX_GPUS, "bf16", None, params=25.6e6)),)
    implied = flops / (30 * 60 * _DGX_GPUS * 312e12)
    notes = (
        "ResNet-50: 25.6M parameters, 4.1e9 multiply-adds (8.2e9 FLOPs) forward per 224 × 224 image "
        "(He et al. 2016, Table 1, lists 3.8e9; torchvision measures 4.09e9); training = 3 × forward "
        f"(backward ≈ 2 × forward); ImageNet-1k has 1,281,167 training images; 90 epochs (He et al.): "
        f"{flops:.3g} FLOPs.",
        f"The course's \"about 30 minutes\" on one DGX implies an MFU of {implied:.0%} at 90 epochs; "
        "tuned benchmark runs (MLPerf) reach half an hour with large-batch schedules of about 35-40 "
        "epochs, which cuts the FLOPs by 2.2-2.6×.",
    )
    return Preset("resnet50-imagenet", "ResNet-50 on ImageNet-1k on one DGX A100 (8 A100s)",
                  "about 30 minutes on one DGX", rows, notes)


def _row(scenario: str, result) -> dict:
    return {"scenario": scenario, **result.as_dict()}


PRESETS = {"gpt3": _gpt3, "bert-base": _bert_base, "resnet50-imagenet": _resnet50_imagenet}
