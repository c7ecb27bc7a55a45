"""``chainrule compute --preset NAME --accelerator A --count N`` recomputes a preset on that
hardware (the course's "~0.5 × 8 × 1.5 = 6-10 hours on a 4090" conversion) and
``--list-accelerators`` prints the catalogue (issue 19); the numbers are checked against the
catalogue's datasheet figures by hand-computed arithmetic."""
from __future__ import annotations

import re

import pytest

from chainrule import compute
from chainrule.cli import main
from chainrule.cli.compute import preset_on
from chainrule.compute import format_duration

RESNET_FLOPS = 3 * 2 * 4.1e9 * 1_281_167 * 90  # 3 × forward × images × epochs (the preset's "ours" row)


@pytest.fixture(autouse=True)
def default_prices(monkeypatch):
    monkeypatch.delenv("CHAINRULE_PRICES", raising=False)


def _run(argv, capsys):
    code = main([str(a) for a in argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_resnet50_on_one_rtx_4090_by_hand():
    rows = preset_on(compute, compute.preset("resnet50-imagenet"), "RTX-4090", 1)
    ours = rows[0]
    assert ours["flops"] == pytest.approx(RESNET_FLOPS, rel=1e-12)
    assert (ours["count"], ours["precision"], ours["peak_flops_per_device"]) == (1, "bf16", 165.2e12)
    assert ours["seconds"] == pytest.approx(RESNET_FLOPS / (165.2e12 * 0.35), rel=1e-12)  # MFU 0.35 in 0.20-0.50
    assert ours["seconds_fastest"] == pytest.approx(RESNET_FLOPS / (165.2e12 * 0.50), rel=1e-12)
    assert ours["seconds_slowest"] == pytest.approx(RESNET_FLOPS / (165.2e12 * 0.20), rel=1e-12)
    assert ours["cost"] == pytest.approx(RESNET_FLOPS / (165.2e12 * 0.35) / 3600 * 0.69, rel=1e-12)
    assert ours["factor"] == pytest.approx(8 * 312 / 165.2, rel=1e-12)  # 15.1: 8 A100s' time -> one 4090's
    assert ours["seconds"] == pytest.approx(ours["published"]["seconds"] * ours["factor"], rel=1e-12)


def test_resnet50_on_a_4090_prints_the_course_conversion(capsys):
    code, out, _ = _run(["compute", "--preset", "resnet50-imagenet", "--accelerator", "4090", "--count", "1"], capsys)
    assert code == 0
    assert "recomputed on RTX-4090" in out and "1 × RTX-4090 (bf16)" in out
    assert format_duration(RESNET_FLOPS / (165.2e12 * 0.35)) in out and "15.1" in out
    converted = 30 * 60 * 8 * 312 / 165.2  # the claim's 30 minutes on 8 A100s, on one 4090: 7.55 h (course: 6-10 h)
    assert (f"30 min × 8/1 devices × 312/165.2 TFLOP/s (bf16 → bf16) = {format_duration(converted)} on 1 × RTX-4090"
            in out)
    assert format_duration(converted) == "7.55 h"


def test_a_device_without_bf16_runs_fp16_at_the_given_price():
    rows = preset_on(compute, compute.preset("bert-base"), "T4", 4, price=0.3)
    ours = rows[0]
    flops = 6 * 110e6 * 256 * (128 * 900_000 + 512 * 100_000)  # 6·N·D of the preset
    assert ours["precision"] == "fp16" and ours["flops"] == pytest.approx(flops, rel=1e-12)
    seconds = flops / (4 * 65e12 * 0.35)
    assert ours["seconds"] == pytest.approx(seconds, rel=1e-12)
    assert ours["cost"] == pytest.approx(seconds / 3600 * 4 * 0.3, rel=1e-12)
    assert ours["factor"] == pytest.approx(8 * 312 / (4 * 65), rel=1e-12)


def test_the_course_row_keeps_its_fixed_utilization_on_other_hardware():
    rows = preset_on(compute, compute.preset("gpt3"), "H100-SXM", 1024)
    course = rows[0]  # 3.64e23 FLOPs at the course's 80 TFLOP/s per A100 = 80/312 of the dense BF16 peak
    assert course["utilization_low"] == course["utilization_high"] == pytest.approx(80 / 312)
    assert course["seconds"] == pytest.approx(3.64e23 / (1024 * 989.5e12 * 80 / 312), rel=1e-12)
    assert course["factor"] == pytest.approx(312 / 989.5, rel=1e-12)


@pytest.mark.parametrize("argv, seconds", [
    (["--count", "16"], RESNET_FLOPS / (16 * 312e12 * 0.35)),  # the preset's A100-80GB, twice as many
    (["--accelerator", "H100-SXM", "--utilization", "0.4"], RESNET_FLOPS / (8 * 989.5e12 * 0.4)),
    (["--accelerator", "A100-80GB", "--precision", "tf32"], RESNET_FLOPS / (8 * 156e12 * 0.35)),
])
def test_count_accelerator_precision_and_utilization_each_recompute(argv, seconds, capsys):
    code, out, _ = _run(["compute", "--preset", "resnet50-imagenet", *argv], capsys)
    assert code == 0 and "recomputed on" in out and format_duration(seconds) in out


def test_a_preset_without_hardware_options_is_printed_as_published(capsys):
    code, out, _ = _run(["compute", "--preset", "resnet50-imagenet"], capsys)
    assert code == 0 and "recomputed on" not in out and "the course: about 30 minutes on one DGX" in out


def _catalogue_row(out: str, name: str) -> list:
    line = next(line for line in out.splitlines() if re.match(rf"[│|]\s*{re.escape(name)}\s+[│|]", line))
    return [cell.strip() for cell in re.split(r"[│┃]", line)[1:-1]]


def test_list_accelerators_prints_the_catalogue_side_by_side(capsys):
    code, out, _ = _run(["compute", "--list-accelerators"], capsys)
    assert code == 0
    # accelerator, fp64, fp32, tf32, bf16, fp16, fp8 (dense | sparse), memory GB, GB/s, US$/h, source
    assert _catalogue_row(out, "H100-SXM") == ["H100-SXM", "67", "67", "494.5 | 989", "989.5 | 1979", "989.5 | 1979",
                                               "1979 | 3958", "80", "3,350", "12.3", "[3]"]
    assert _catalogue_row(out, "T4") == ["T4", "0.2531", "8.1", "-", "-", "65", "-", "16", "320", "0.526", "[11]"]
    assert _catalogue_row(out, "RTX-4090")[4] == "165.2 | 330.4"  # FP32-accumulate BF16, dense | sparse
    for entry in compute.ACCELERATORS.values():  # every entry, with its datasheet and its price's source
        assert entry.name in out and entry.source in out
        assert compute.DEFAULT_PRICES[entry.name][1] in out
    assert f"{98.32 / 8:.3g}" == "12.3"


def test_list_accelerators_reads_a_price_file(tmp_path, capsys):
    prices = tmp_path / "prices.toml"
    prices.write_text('taken = "2026-12-01"\n[prices]\nRTX-4090 = 0.35\n')
    code, out, _ = _run(["compute", "--list-accelerators", "--prices", prices], capsys)
    assert code == 0 and _catalogue_row(out, "RTX-4090")[9] == "0.35" and "prices: 2026-12-01" in out


@pytest.mark.parametrize("argv, flag", [
    (["--list-accelerators", "--count", "3"], "--count"),
    (["--list-accelerators", "--accelerator", "T4"], "--accelerator"),
    (["--list-accelerators", "--preset", "gpt3"], None),
    (["--preset", "gpt3", "--seed", "1"], "--seed"),
    (["--preset", "gpt3", "--optimizer", "sgd"], "--optimizer"),
])
def test_refusals(argv, flag, capsys):
    if flag is None:  # two modes at once: a data error naming them (exit 1)
        code, _, err = _run(["compute", *argv], capsys)
        assert code == 1 and "give exactly one of --list-accelerators, --preset NAME" in err
        return
    with pytest.raises(SystemExit) as exc:
        main(["compute", *argv])
    assert exc.value.code == 2 and f"{flag} does not apply to compute --" in capsys.readouterr().err
