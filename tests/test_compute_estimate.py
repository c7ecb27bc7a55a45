"""chainrule.compute catalog, estimates, memory accounting, prices and presets."""
from __future__ import annotations

import math

import pytest

from chainrule import compute

REQUIRED = ("A100-40GB", "A100-80GB", "H100-SXM", "H100-PCIe", "H200", "L4", "L40S", "RTX-4090",
            "RTX-3090", "V100", "T4")

# ---------------------------------------------------------------------- catalog


def test_catalog_has_the_required_accelerators():
    assert set(REQUIRED) <= set(compute.ACCELERATORS)


@pytest.mark.parametrize("name", REQUIRED)
def test_catalog_entries_are_complete_and_positive(name):
    entry = compute.ACCELERATORS[name]
    assert set(entry.dense_tflops) == set(compute.PRECISIONS)
    for precision in ("fp64", "fp32"):
        assert entry.dense_tflops[precision] > 0
    assert entry.dense_tflops["fp16"] > entry.dense_tflops["fp32"]  # every one has tensor cores
    for precision, value in entry.dense_tflops.items():
        assert value is None or (math.isfinite(value) and value > 0), precision
    for precision, sparse in entry.sparse_tflops.items():
        # the 2:4-sparsity figure is twice the dense one, to the datasheets' rounding
        # (the L40S sheet prints 362.05 dense and 733 sparse for BF16/FP16)
        assert sparse == pytest.approx(2 * entry.dense_tflops[precision], rel=0.015), precision
    assert entry.memory_gb > 0 and entry.bandwidth_gbs > 0
    assert "datasheet" in entry.source or "whitepaper" in entry.source
    prices = compute.load_prices()
    assert prices.get(name) > 0 and prices.sources[name]


@pytest.mark.parametrize("name, precision, dense, sparse", [
    ("H100-SXM", "bf16", 989.5, 1979),
    ("H100-SXM", "fp8", 1979, 3958),
    ("A100-80GB", "tf32", 156, 312),
    ("A100-80GB", "bf16", 312, 624),
    ("L40S", "fp16", 362.05, 733),
])
def test_catalog_keeps_dense_and_sparse_figures_apart(name, precision, dense, sparse):
    entry = compute.get_accelerator(name)
    assert entry.peak_flops(precision) == pytest.approx(dense * 1e12)
    assert entry.sparse_tflops[precision] == sparse


@pytest.mark.parametrize("alias, name", [("a100", "A100-80GB"), ("H100", "H100-SXM"), ("rtx4090", "RTX-4090"),
                                         ("h200", "H200")])
def test_get_accelerator_accepts_aliases(alias, name):
    assert compute.get_accelerator(alias).name == name


def test_unknown_accelerator_and_missing_precision_name_the_choices():
    with pytest.raises(ValueError, match="unknown 'B200'.*A100-80GB"):
        compute.get_accelerator("B200")
    with pytest.raises(ValueError, match="V100 has no tf32 mode; it supports fp64, fp32, fp16"):
        compute.get_accelerator("V100").peak_flops("tf32")
    with pytest.raises(ValueError, match="expected one of fp64"):
        compute.get_accelerator("T4").peak_flops("int8")


def test_catalog_frame_has_one_row_per_accelerator():
    frame = compute.catalog_frame()
    assert list(frame["accelerator"]) == list(compute.ACCELERATORS)
    assert frame.loc[frame["accelerator"] == "H100-SXM", "bf16_sparse_tflops"].item() == 1979


# ---------------------------------------------------------------------- prices


def test_prices_from_a_toml_file_override_the_defaults(tmp_path):
    path = tmp_path / "prices.toml"
    path.write_text('taken = "2026-01-01"\n[prices]\nh100 = 2.5\nCPU = 0.1\n')
    prices = compute.load_prices(path)
    assert prices.get("H100-SXM") == 2.5 and prices.get("CPU") == 0.1
    assert prices.get("T4") == compute.DEFAULT_PRICES["T4"][0]
    assert prices.taken == "2026-01-01"
    result = compute.estimate(1e18, "H100-SXM", 2, "bf16", 0.5, prices=prices)
    assert result.cost == pytest.approx(2 * 1e18 / (2 * 989.5e12 * 0.5) / 3600 * 2.5)


def test_prices_environment_variable(tmp_path, monkeypatch):
    path = tmp_path / "p.toml"
    path.write_text("[prices]\nL4 = 0.5\n")
    monkeypatch.setenv("CHAINRULE_PRICES", str(path))
    assert compute.load_prices().get("L4") == 0.5


@pytest.mark.parametrize("text, message", [
    ("[prices]\nB200 = 5\n", "unknown 'B200'"),
    ("[prices]\nT4 = -1\n", "positive number"),
    ("[prices]\nT4 = 'cheap'\n", "positive number"),
    ("T4 = 1\n", r"\[prices\] table"),
    ("[prices\n", "not valid TOML"),
])
def test_bad_price_files_are_rejected(tmp_path, text, message):
    path = tmp_path / "prices.toml"
    path.write_text(text)
    with pytest.raises(ValueError, match=message):
        compute.load_prices(path)


def test_missing_price_file_is_an_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        compute.load_prices(tmp_path / "none.toml")


# ---------------------------------------------------------------------- estimates


def test_estimate_time_and_cost_formula():
    flops, k = 1e21, 16
    result = compute.estimate(flops, "A100-80GB", k, "bf16", price_per_hour=3.0)
    peak = 312e12
    assert result.seconds == pytest.approx(flops / (k * peak * 0.35))
    fast, slow = result.seconds_range
    assert fast == pytest.approx(flops / (k * peak * 0.5))
    assert slow == pytest.approx(flops / (k * peak * 0.2))
    assert result.device_hours == pytest.approx(k * result.seconds / 3600)
    assert result.cost == pytest.approx(result.device_hours * 3.0)
    assert result.cost_range == pytest.approx((k * fast / 3600 * 3.0, k * slow / 3600 * 3.0))
    assert result.days == pytest.approx(result.seconds / 86400)


def test_estimate_utilization_forms():
    single = compute.estimate(1e20, "H100-SXM", 1, "fp8", utilization=0.4)
    assert single.utilization_range == (0.4, 0.4)
    assert single.seconds_range[0] == single.seconds_range[1] == pytest.approx(1e20 / (1979e12 * 0.4))
    ranged = compute.estimate(1e20, "H100-SXM", 1, "fp8", utilization=(0.3, 0.5))
    assert ranged.utilization == pytest.approx(0.4)
    assert ranged.seconds_range == pytest.approx((1e20 / (1979e12 * 0.5), 1e20 / (1979e12 * 0.3)))


@pytest.mark.parametrize("kwargs, message", [
    ({"flops": 0}, "flops"),
    ({"count": 0}, "count"),
    ({"utilization": 1.5}, "utilization"),
    ({"utilization": (0.5, 0.3)}, "low <= high"),
    ({"precision": "fp8", "accelerator": "A100-40GB"}, "no fp8 mode"),
    ({"price_per_hour": -2.0}, "price_per_hour"),
])
def test_estimate_rejects_bad_arguments(kwargs, message):
    arguments = {"flops": 1e20, **kwargs}
    with pytest.raises(ValueError, match=message):
        compute.estimate(**arguments)


def test_a_device_without_a_price_has_no_cost():
    prices = compute.Prices({}, {}, "never")
    assert compute.estimate(1e20, "T4", 1, "fp16", prices=prices).cost is None


# ---------------------------------------------------------------------- memory


@pytest.mark.parametrize("precision, optimizer, bytes_per_param", [
    ("fp32", "adam", 16),      # weights, grads, m, v in fp32
    ("fp32", "sgd", 8),
    ("fp32", "momentum", 12),
    ("fp64", "adamw", 32),
    ("bf16", "adam", 16),      # 2 + 2 + 4 (fp32 master) + 8 (fp32 m, v): ZeRO's 16
    ("fp16", "sgd", 8),        # 2 + 2 + 4
])
def test_memory_bytes_per_parameter(precision, optimizer, bytes_per_param):
    check = compute.memory_check(1000, "A100-80GB", precision, optimizer=optimizer, activation_bytes=123)
    assert check.total == 1000 * bytes_per_param + 123
    assert check.activations == 123


def test_memory_devices_to_fit():
    gpt3 = compute.memory_check(175e9, "A100-80GB", "bf16")
    assert gpt3.total == 175e9 * 16
    assert not gpt3.fits and gpt3.devices_to_fit == 35
    small = compute.memory_check(1e6, "T4", "fp32")
    assert small.fits and small.devices_to_fit == 1
    result = compute.estimate(1e20, "H200", 8, "bf16", params=7e9, activation_bytes=20e9)
    assert result.memory.total == 7e9 * 16 + 20e9
    assert result.memory.devices_to_fit == math.ceil((7e9 * 16 + 20e9) / 141e9)


@pytest.mark.parametrize("kwargs, message", [
    ({"params": 0}, "params"),
    ({"params": 10, "optimizer": "lbfgs"}, "optimizer"),
    ({"params": 10, "activation_bytes": -1}, "activation_bytes"),
    ({"params": 10, "precision": "int8"}, "precision"),
])
def test_memory_check_rejects_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        compute.memory_check(**kwargs)


def test_compare_accelerators_falls_back_to_the_precision_a_device_has():
    rows = {row["accelerator"]: row for row in compute.compare_accelerators(1e18, 1, "tf32")}
    assert set(rows) == set(compute.ACCELERATORS)
    assert rows["V100"]["precision"] == "fp32" and rows["A100-80GB"]["precision"] == "tf32"
    assert rows["V100"]["seconds"] == pytest.approx(1e18 / (15.7e12 * 0.35))
    strict = {row["accelerator"]: row for row in compute.compare_accelerators(1e18, 1, "fp8", fallback=False)}
    assert strict["A100-80GB"]["supported"] is False and strict["H100-SXM"]["supported"] is True


# ---------------------------------------------------------------------- presets


def test_gpt3_preset_reproduces_the_course_arithmetic():
    rows = compute.preset("gpt3").rows
    course, corrected, rule, ours, counted = rows
    days = 3.64e23 / 80e12 / 128 / 8 / 86400
    assert course["seconds"] / 86400 == pytest.approx(days, rel=1e-12)
    assert round(days) == 51
    assert course["cost"] == pytest.approx(days * 24 * 1024 * 4.05)
    assert corrected["flops"] == pytest.approx(3640 * 1e15 * 86400) == pytest.approx(3.145e23, rel=1e-3)
    assert rule["flops"] == pytest.approx(6 * 175e9 * 300e9)
    assert corrected["seconds"] / course["seconds"] == pytest.approx(3.14496e23 / 3.64e23, rel=1e-5)
    assert ours["seconds_fastest"] == pytest.approx(corrected["flops"] / (1024 * 312e12 * 0.5))
    assert ours["seconds_slowest"] == pytest.approx(corrected["flops"] / (1024 * 312e12 * 0.2))
    assert ours["devices_to_fit"] == 35
    notes = " ".join(compute.preset("gpt3").notes)
    assert "3,640" in notes and "wrong" in notes
    count = compute.preset("gpt3").count
    assert counted["flops"] == pytest.approx(count.training_flops / 2048 * 300e9, rel=1e-12)


@pytest.mark.parametrize("name, claim_seconds", [("bert-base", 5 * 3600), ("resnet50-imagenet", 30 * 60)])
def test_other_presets_report_a_range_next_to_the_course_claim(name, claim_seconds):
    result = compute.preset(name)
    for row in result.rows:  # the rule of thumb, then the network counted layer by layer
        assert row["count"] == 8 and row["accelerator"] == "A100-80GB"
        assert 0 < row["seconds_fastest"] < row["seconds"] < row["seconds_slowest"]
        # the course's figure is within a factor of 3 of our range: same order of magnitude
        assert row["seconds_fastest"] / 3 < claim_seconds < row["seconds_slowest"] * 3
    assert len(result.to_frame()) == 2 and result.rows[1]["scenario"].startswith("counted")


def test_bert_preset_flops():
    rule, counted = compute.preset("bert-base").rows
    assert rule["flops"] == pytest.approx(6 * 110e6 * 256 * (900_000 * 128 + 100_000 * 512))
    per_sequence = {length: compute.counted_preset_model("bert-base", length).training_flops for length in (128, 512)}
    assert counted["flops"] == pytest.approx(256 * (900_000 * per_sequence[128] + 100_000 * per_sequence[512]))


def test_unknown_preset():
    with pytest.raises(ValueError, match="expected one of gpt3, bert-base, resnet50-imagenet"):
        compute.preset("gpt4")


@pytest.mark.parametrize("seconds, text", [
    (4.2e-4, "420 µs"), (0.042, "42 ms"), (3.14, "3.14 s"), (27 * 60, "27 min"), (5.2 * 3600, "5.2 h"),
    (51.43 * 86400, "51.4 days"), (800 * 86400, "2.19 years"), (math.inf, "n/a"),
])
def test_format_duration(seconds, text):
    assert compute.format_duration(seconds) == text
