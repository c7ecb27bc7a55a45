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

Each preset also counts its network, built from chainrule's layers under
:func:`~chainrule.compute.meta_init` (nothing allocated) and counted by
:func:`~chainrule.compute.count_flops` in training mode, batch 1 (``Preset.count``), and sets the
counted figures beside the published ones (``Preset.figures``): parameters, forward FLOPs per
image or per token at the stated sequence length (attention included), training FLOPs against
6·N. ``gpt3`` is :func:`chainrule.models.gpt` (50257, 2048, 96, 96, 12288): 174,604,259,328
parameters with the output layer tied to the token embedding, as GPT-2 and GPT-3 do (Brown et
al. round to 175.0e9; an untied output layer would add 617,558,016, giving 175.2e9). On a
2-core CPU building it and counting it at 2,048 tokens takes about 0.4 s and 25 MB (the
causal mask, 2048² float32, is most of it); ResNet-50 and BERT-base take under 0.2 s each.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass, field

from ..engine import backend
from ..engine.creation import zeros
from .architectures import BERT_BASE_PARAMS, RESNET50_PARAMS, bert_base, resnet50
from .catalog import COURSE_PRICES
from .counting import count_flops, six_nd
from .estimate import estimate
from .meta import meta_init

__all__ = ["PRESETS", "Preset", "preset", "counted_preset_model", "GPT3_PUBLISHED_FLOPS", "GPT3_COURSE_FLOPS",
           "GPT3_SHAPE"]

GPT3_COURSE_FLOPS = 3.64e23
#: 3,640 petaflop/s-days (Brown et al. 2020, Table D.1) in FLOPs.
GPT3_PUBLISHED_FLOPS = 3640 * 1e15 * 86400
_COURSE_A100_FLOPS = 80e12
_DGX_GPUS = 8
#: GPT-3 175B (Brown et al. 2020, Table 2.1): vocab, context, layers, heads, width.
GPT3_SHAPE = (50257, 2048, 96, 96, 12288)
_GPT3_TOKENS = 300e9
_IMAGENET_IMAGES, _EPOCHS = 1_281_167, 90
#: BERT pre-training (Devlin et al. 2019, appendix A.2): sequences per step, steps at 128 and at 512 tokens.
_BERT_BATCH, _BERT_STEPS = 256, ((128, 900_000), (512, 100_000))


@dataclass(frozen=True)
class Preset:
    """One preset: ``rows`` (one dict per scenario: FLOPs, devices, utilization,
    time range, cost), the course's ``claim``, ``notes`` (assumptions, sources), ``figures``
    (one dict per quantity: ``quantity``, ``counted``, ``published``, ``source``: the counted
    network beside the published figures) and ``count`` (its :class:`~chainrule.compute.FlopCount`)."""

    name: str
    title: str
    claim: str
    rows: tuple
    notes: tuple
    figures: tuple = field(default_factory=tuple)
    count: object = None

    def to_frame(self):
        import pandas as pd  # noqa: PLC0415

        return pd.DataFrame(list(self.rows))

    def figures_frame(self):
        """``figures`` as a pandas DataFrame."""
        import pandas as pd  # noqa: PLC0415

        return pd.DataFrame(list(self.figures))


def preset(name: str) -> Preset:
    """The preset ``name``: "gpt3", "bert-base" or "resnet50-imagenet"."""
    builder = PRESETS.get(name)
    if builder is None:
        raise ValueError(f"preset: expected one of {', '.join(PRESETS)}; got {name!r}")
    return builder()


@functools.cache
def counted_preset_model(name: str, length: int = 0):
    """The :class:`~chainrule.compute.FlopCount` of a preset's network, built shape-only and
    counted in training mode on one example: an image of 224 × 224 ("resnet50-imagenet") or a
    sequence of ``length`` tokens ("bert-base", "gpt3")."""
    from ..models import gpt  # noqa: PLC0415 - models imports much of the package

    builders = {"resnet50-imagenet": resnet50, "bert-base": bert_base, "gpt3": lambda: gpt(*GPT3_SHAPE)}
    if name not in builders:
        raise ValueError(f"counted_preset_model: expected one of {', '.join(builders)}; got {name!r}")
    with meta_init():
        model = builders[name]()
    example = (1, 3, 224, 224) if name == "resnet50-imagenet" else zeros(1, length, dtype=backend.int64)
    return count_flops(model, example)


def _figure(quantity: str, counted: float, published: float, source: str) -> dict:
    return {"quantity": quantity, "counted": counted, "published": published, "source": source}


def _gpt3() -> Preset:
    gpus = 128 * _DGX_GPUS
    course_u = _COURSE_A100_FLOPS / 312e12  # 80 TFLOP/s of the A100's 312 dense BF16
    vocab, context, layers, _, width = GPT3_SHAPE
    count = counted_preset_model("gpt3", context)
    params = count.params
    per_token = count.training_flops / context
    counted_total = per_token * _GPT3_TOKENS
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
        _row(f"counted: {per_token:.4g} FLOPs per token × 300e9 tokens, MFU range",
             estimate(counted_total, "A100-80GB", gpus, "bf16", None, COURSE_PRICES["gcp_a100_hour"],
                      params=params)),
    )
    figures = (
        _figure("parameters", params, 175.0e9, "Brown et al. 2020, Table 2.1 (tied embeddings: an untied output "
                f"layer would add {vocab * width:,})"),
        *_transformer_figures(count, context, layers, width, head=2 * width * vocab, head_text="the tied output layer"),
        _figure("training FLOPs, 300e9 tokens", counted_total, GPT3_PUBLISHED_FLOPS,
                "3,640 PF/s-days (Brown et al. 2020, Table D.1)"),
    )
    notes = _gpt3_notes(course_u, count, per_token)
    return Preset("gpt3", "GPT-3 175B on 128 DGX A100 servers (1,024 A100s)",
                  "3.64e23 / 80e12 / 128 / 8 / 86400 ≈ 51 days; \"51 - 100 days, which means 3 months\"",
                  rows, notes, figures, count)


def _transformer_figures(count, length: int, layers: int, width: int, head: float, head_text: str) -> tuple:
    """Per token at ``length`` tokens: forward FLOPs against 2N, the forward products against their
    formula (24·n_layer·d² for the weights, 4·n_layer·n_ctx·d for QK' and PV, plus ``head``), training
    FLOPs against 6N."""
    params = count.params
    products = 24 * layers * width ** 2 + 4 * layers * length * width + head
    return (
        _figure(f"forward FLOPs per token at {length:,} tokens", count.forward_flops / length, 2 * params,
                "2N (attention left out; Kaplan et al. 2020)"),
        _figure(f"  of which products (weights, QK', PV) at {length:,} tokens", count.forward_matmul_flops / length,
                products, f"24·n_layer·d² + 4·n_layer·n_ctx·d + {head_text}"),
        _figure(f"training FLOPs per token at {length:,} tokens", count.training_flops / length, 6 * params,
                "6N (Kaplan et al. 2020, eq. 2.1)"),
    )


def _gpt3_notes(course_u: float, count, per_token: float) -> tuple:
    return (
        "The course's 3.64e23 pairs the mantissa of 3,640 petaflop/s-days with the wrong "
        f"exponent: 3,640 PF/s-days = 3640 × 1e15 × 86400 = {GPT3_PUBLISHED_FLOPS:.3g} FLOPs "
        "(Brown et al. 2020, Table D.1); 6·N·D = 3.15e23 agrees with the corrected figure.",
        f"Counted: chainrule.models.gpt{GPT3_SHAPE} built shape-only ({count.params:,} parameters) and counted "
        f"layer by layer at 2,048 tokens: {per_token:.4g} training FLOPs per token = "
        f"{per_token / (6 * count.params):.3f} × 6N; the excess over 6N is attention's QK' and PV products "
        "(which 6N leaves out) and the elementwise work (layer norms, GELU, softmax, residuals).",
        f"80 TFLOP/s per A100 is {course_u:.1%} of its 312 TFLOP/s dense BF16 peak (A100 datasheet), "
        "i.e. the course assumes an MFU of about 26%, near GPT-3's own 21.3% (PaLM paper, Table 3).",
        f"Cost at the course's US${COURSE_PRICES['gcp_a100_hour']} per A100-hour (Google Cloud); AWS p4 "
        f"at US${COURSE_PRICES['aws_p4_8xa100_hour']} per 8 A100s is "
        f"US${COURSE_PRICES['aws_p4_8xa100_hour'] / 8:.3f} per A100-hour.",
        "Memory: 175e9 parameters with Adam in mixed precision need 16 bytes each "
        "(2.8 TB before activations): at least 35 A100-80GB just to hold them.",
        "GPT-3 was in fact trained on V100s (Brown et al. 2020, §2.3); the A100 cluster is the course's what-if.",
    )


def _bert_base() -> Preset:
    tokens = _BERT_BATCH * sum(length * steps for length, steps in _BERT_STEPS)
    flops = six_nd(110e6, tokens)
    counts = {length: counted_preset_model("bert-base", length) for length, _ in _BERT_STEPS}
    params = counts[128].params
    counted_total = _BERT_BATCH * sum(counts[length].training_flops * steps for length, steps in _BERT_STEPS)
    rows = (_row("ours: 6·N·D, N = 110e6, D = 4.26e10 tokens",
                 estimate(flops, "A100-80GB", _DGX_GPUS, "bf16", None, params=110e6)),
            _row(f"counted: the layers at 128 and 512 tokens, {counted_total:.3g} FLOPs",
                 estimate(counted_total, "A100-80GB", _DGX_GPUS, "bf16", None, params=params)))
    figures = (_figure("parameters", params, BERT_BASE_PARAMS, "bert-base-uncased with its pooler; "
                       "110M in Devlin et al. 2019"),)
    for length, _ in _BERT_STEPS:
        figures += _transformer_figures(counts[length], length, 12, 768, head=2 * 768 * 768 / length,
                                        head_text="the pooler on the first token")
    figures += (_figure("pre-training FLOPs", counted_total, flops, "6·N·D with N = 110e6"),)
    implied = flops / (5 * 3600 * _DGX_GPUS * 312e12)
    notes = (
        "BERT-base: 110M parameters; pre-training 1M steps × 256 sequences, 90% at 128 tokens "
        "and 10% at 512 (Devlin et al. 2019, appendix A.2): D = 4.26e10 tokens, "
        f"6·N·D = {flops:.3g} FLOPs (attention's sequence-length term left out, as in Kaplan et al.).",
        f"Counted: chainrule.compute.bert_base() built shape-only ({params:,} parameters, bert-base-uncased's) and "
        f"counted at 128 and 512 tokens, dropout on: {counted_total:.3g} FLOPs. The embeddings do no arithmetic "
        "(lookups), attention's QK' and PV grow with the length; the pre-training heads (masked-LM output over "
        "15% of the tokens, next-sentence) are left out.",
        f"The course's \"about 5 hours\" on one DGX A100 implies an MFU of {implied:.0%} of the "
        "312 TFLOP/s BF16 peak: above the 0.20-0.50 that published large runs report, so our range is longer.",
        "Devlin et al. trained BERT-base on 4 Cloud TPUs (16 chips) for 4 days.",
    )
    return Preset("bert-base", "BERT-base pre-training on one DGX A100 (8 A100s)",
                  "about 5 hours", rows, notes, figures, counts[128])


def _resnet50_imagenet() -> Preset:
    forward_flops = 2 * 4.1e9  # 4.1e9 multiply-adds per 224 × 224 image
    flops = 3 * forward_flops * _IMAGENET_IMAGES * _EPOCHS
    count = counted_preset_model("resnet50-imagenet")
    counted_total = count.training_flops * _IMAGENET_IMAGES * _EPOCHS
    rows = (_row("ours: 3 × forward × 1,281,167 images × 90 epochs",
                 estimate(flops, "A100-80GB", _DGX_GPUS, "bf16", None, params=25.6e6)),
            _row("counted: training FLOPs per image × 1,281,167 images × 90 epochs",
                 estimate(counted_total, "A100-80GB", _DGX_GPUS, "bf16", None, params=count.params)))
    figures = (
        _figure("parameters", count.params, RESNET50_PARAMS, "torchvision resnet50"),
        _figure("forward multiply-adds per 224 × 224 image", count.forward_macs, 4.09e9,
                "torchvision and fvcore (He et al. 2016, Table 1: 3.8e9)"),
        _figure("forward FLOPs per image", count.forward_flops, 2 * 4.09e9, "2 × multiply-adds"),
        _figure("training FLOPs per image", count.training_flops, 3 * 2 * 4.09e9, "3 × forward"),
        _figure("training FLOPs, 90 epochs of ImageNet-1k", counted_total, flops, "3 × 2 × 4.1e9 × images × 90"),
    )
    implied = flops / (30 * 60 * _DGX_GPUS * 312e12)
    notes = (
        "ResNet-50: 25.6M parameters, 4.1e9 multiply-adds (8.2e9 FLOPs) forward per 224 × 224 image "
        "(He et al. 2016, Table 1, lists 3.8e9; torchvision measures 4.09e9); training = 3 × forward "
        f"(backward ≈ 2 × forward); ImageNet-1k has 1,281,167 training images; 90 epochs (He et al.): "
        f"{flops:.3g} FLOPs.",
        f"Counted: chainrule.compute.resnet50() (torchvision's layout, {count.params:,} parameters) built shape-only: "
        f"{count.forward_macs:.4g} multiply-adds forward per image (convolutions and the classifier), "
        f"{count.training_flops:.4g} training FLOPs with BatchNorm, ReLU, pooling and the residual sums; the first "
        "convolution computes no input gradient, so the backward is a little under 2 × forward.",
        f"The course's \"about 30 minutes\" on one DGX implies an MFU of {implied:.0%} at 90 epochs; "
        "tuned benchmark runs (MLPerf) reach half an hour with large-batch schedules of about 35-40 "
        "epochs, which cuts the FLOPs by 2.2-2.6×.",
    )
    return Preset("resnet50-imagenet", "ResNet-50 on ImageNet-1k on one DGX A100 (8 A100s)",
                  "about 30 minutes on one DGX", rows, notes, figures, count)


def _row(scenario: str, result) -> dict:
    return {"scenario": scenario, **result.as_dict()}


PRESETS = {"gpt3": _gpt3, "bert-base": _bert_base, "resnet50-imagenet": _resnet50_imagenet}
