"""End-to-end tests of ``chainrule compute``, run in-process on generated CSVs."""
from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

from chainrule.cli import main
from chainrule.compute import format_duration


@pytest.fixture(autouse=True)
def wide_console(monkeypatch):
    """rich wraps at 80 columns when stdout is not a terminal; keep rows on one line."""
    monkeypatch.setenv("COLUMNS", "220")
    monkeypatch.delenv("CHAINRULE_PRICES", raising=False)


def _run(argv, capsys):
    code = main([str(a) for a in argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.fixture()
def csv(tmp_path):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 6))
    frame = pd.DataFrame(X, columns=[f"x{i}" for i in range(6)])
    frame["label"] = np.where(X[:, 0] + X[:, 1] > 0, "yes", "no")
    path = tmp_path / "data.csv"
    frame.to_csv(path, index=False)
    return path


def test_preset_gpt3_prints_the_course_and_the_corrected_figures(capsys):
    code, out, _ = _run(["compute", "--preset", "gpt3"], capsys)
    assert code == 0
    assert "51.4 days" in out            # 3.64e23 / 80e12 / 1024 / 86400
    assert "44.4 days" in out            # 3.14e23 at the same rate
    corrected = 3640e15 * 86400  # at MFU 0.50 and 0.20 of 312 TFLOP/s × 1024:
    fast, slow = (format_duration(corrected / (1024 * 312e12 * u)) for u in (0.5, 0.2))
    assert (fast, slow) == ("22.8 days", "57 days")
    assert f"{fast} - {slow}" in out
    assert "US$5.12M" in out             # 51.4 days × 24 h × 1024 × US$4.05
    assert "3,640" in out and "wrong" in out


@pytest.mark.parametrize("preset, claim, figure", [
    ("bert-base", "about 5 hours", "109,482,240"), ("resnet50-imagenet", "30 minutes", "4,089,184,256"),
    ("gpt3", "51 days", "174,604,259,328"),
])
def test_presets_print_the_counted_network(capsys, preset, claim, figure):
    code, out, _ = _run(["compute", "--preset", preset], capsys)
    assert code == 0 and claim in out and "A100-80GB" in out
    assert "counted layer by layer" in out and figure in out


def test_params_and_tokens(capsys):
    code, out, _ = _run(["compute", "--params", "175e9", "--tokens", "300e9", "--accelerator", "A100-80GB",
                         "--count", "1024", "--precision", "bf16"], capsys)
    assert code == 0
    assert "3.15e+23" in out
    days = 6 * 175e9 * 300e9 / (1024 * 312e12 * 0.35) / 86400
    assert f"{days:.3g} days" in out
    assert re.search(r"devices needed just to fit\s*│\s*35\b", out)
    assert "fits on one device" in out


def test_flops_price_and_single_utilization(capsys):
    code, out, _ = _run(["compute", "--flops", "1e21", "--accelerator", "h100", "--count", "2",
                         "--precision", "fp8", "--utilization", "0.5", "--price", "2"], capsys)
    assert code == 0
    seconds = 1e21 / (2 * 1979e12 * 0.5)
    assert f"{seconds / 86400:.3g} days" in out
    assert f"US${2 * seconds / 3600 * 2:.3g}" in out


def test_prices_file_sets_the_cost(capsys, tmp_path):
    prices = tmp_path / "prices.toml"
    prices.write_text('taken = "2030-01-01"\n[prices]\nT4 = 10\n')
    code, out, _ = _run(["compute", "--flops", "3.6e17", "--accelerator", "T4", "--count", "1",
                         "--precision", "fp16", "--utilization", "0.5", "--prices", prices], capsys)
    assert code == 0
    hours = 3.6e17 / (65e12 * 0.5) / 3600
    assert f"US${hours * 10:.3g}" in out and "2030-01-01" in out


def test_data_mode_counts_measures_and_compares(capsys, csv):
    code, out, _ = _run(["compute", csv, "--target", "label", "--model", "mlp", "--hidden", "32,16",
                         "--epochs", "3", "--batch-size", "64", "--steps", "3", "--accelerator", "H100-SXM",
                         "--count", "2"], capsys)
    assert code == 0, out
    # 240 training rows (20% held out); MLP 6-32-16-1 has 6·32+32 + 32·16+16 + 16+1 parameters
    assert "240 training rows" in out
    assert f"parameters {6 * 32 + 32 + 32 * 16 + 16 + 16 + 1:,}" in out
    assert "this machine (measured)" in out and "GFLOP/s achieved" in out
    assert "2 × H100-SXM" in out
    for name in ("A100-80GB", "RTX-4090", "T4", "V100"):
        assert f"1 × {name}" in out
    assert "FLOPs per layer" in out and "layers.0" in out
    weights = 6 * 32 + 32 * 16 + 16
    assert f"FlopCounterMode counts), whole batch: forward {2 * 64 * weights:,}, backward " \
           f"{2 * 64 * (weights + 32 * 16 + 16):,}" in out


@pytest.mark.parametrize("argv, message", [
    (["compute"], "give exactly one of"),
    (["compute", "--preset", "gpt3", "--params", "1e9", "--tokens", "1e9"], "got preset and rule"),
    (["compute", "--params", "1e9"], "go together"),
    (["compute", "--flops", "1e20", "--tokens", "1e9"], "not both"),
    (["compute", "--flops", "1e20", "--accelerator", "B200"], "unknown 'B200'"),
    (["compute", "--flops", "1e20", "--precision", "fp8"], "A100-80GB has no fp8 mode"),
    (["compute", "--flops", "1e20", "--utilization", "2"], "--utilization"),
    (["compute", "--flops", "1e20", "--utilization", "0.5,0.3"], "LOW <= HIGH"),
    (["compute", "--flops", "1e20", "--prices", "missing.toml"], "does not exist"),
])
def test_errors_exit_with_code_1_and_a_message(capsys, argv, message):
    code, _, err = _run(argv, capsys)
    assert code == 1
    assert message in err
    assert "Traceback" not in err


def test_usage_error_exits_with_code_2(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["compute", "--preset", "gpt5"])
    assert exit_info.value.code == 2
