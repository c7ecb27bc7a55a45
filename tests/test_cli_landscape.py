"""``chainrule landscape``, run in-process: an MLP's surface and line on a generated CSV, the
skip-connection study on ResNets at a tiny size, and the options each mode refuses (exit
code 2, naming the option)."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from chainrule.cli import main

TINY_STUDY = ["--study", "--depths", "8", "--widths", "2,2,2", "--epochs", "1", "--steps", "3", "--eval-rows", "32"]


@pytest.fixture()
def csv(tmp_path):
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"x1": rng.normal(size=150), "x2": 3 * rng.normal(size=150) + 5})
    frame["y"] = 1 + 2 * frame.x1 - frame.x2 + rng.normal(size=150)
    frame["label"] = np.where(frame.x1 + rng.normal(size=150) > 0, "yes", "no")
    path = tmp_path / "data.csv"
    frame.to_csv(path, index=False)
    return path


def _run(argv, capsys):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_landscape_surface_and_line(csv, tmp_path, capsys):
    out_dir = tmp_path / "surface"
    code, out, _ = _run(["landscape", csv, "--target", "y", "--features", "x1,x2", "--hidden", "8",
                         "--epochs", "2", "--steps", "5", "--out", out_dir], capsys)
    assert code == 0
    result = json.loads((out_dir / "landscape.json").read_text())
    losses = np.asarray(result["losses"])
    assert losses.shape == (5, 5) and np.isfinite(losses).all()
    assert result["alphas"] == pytest.approx(np.linspace(-1, 1, 5).tolist())
    assert f"min {losses.min():.4g}" in out
    assert (out_dir / "loss-surface-contour.png").is_file() and (out_dir / "loss-surface-3-d.png").is_file()
    line_dir = tmp_path / "line"
    code, _, _ = _run(["landscape", csv, "--target", "label", "--features", "x1,x2", "--hidden", "8",
                       "--epochs", "2", "--dim", "1", "--steps", "7", "--span", "2", "--out", line_dir], capsys)
    assert code == 0
    line = json.loads((line_dir / "landscape.json").read_text())
    assert line["alphas"] == pytest.approx(np.linspace(-2, 2, 7).tolist())
    assert "Loss along a random direction" in (line_dir / "report.html").read_text()


def test_landscape_uses_the_mlp_defaults_without_study_options(csv, tmp_path, capsys):
    out_dir = tmp_path / "defaults"
    code, _, _ = _run(["landscape", csv, "--target", "y", "--features", "x1,x2", "--hidden", "4",
                       "--epochs", "1", "--dim", "1", "--out", out_dir], capsys)
    assert code == 0
    line = json.loads((out_dir / "landscape.json").read_text())
    assert len(line["alphas"]) == 21 and line["alphas"][0] == -1.0 and line["alphas"][-1] == 1.0


def test_study_writes_the_table_figures_and_surfaces(tmp_path, capsys):
    out_dir = tmp_path / "study"
    code, out, _ = _run(["landscape", *TINY_STUDY, "--batch-size", "32", "--out", out_dir], capsys)
    assert code == 0
    result = json.loads((out_dir / "landscape.json").read_text())
    assert [(row["depth"], row["network"]) for row in result["study"]] == [(8, "plain"), (8, "residual")]
    settings = result["settings"]
    assert settings["epochs"] == 1 and settings["steps"] == 3 and settings["eval_rows"] == 32
    assert settings["batch_size"] == 32  # typed, so it overrides the study's 64 (32 is also the MLP default)
    assert settings["size"] == "default" and settings["depths"] == [8] and settings["widths"] == [2, 2, 2]
    for row, surface in zip(result["study"], result["surfaces"]):
        losses = np.asarray(surface["losses"])
        assert losses.shape == (3, 3) and row["surface_min"] == pytest.approx(losses.min())
        assert 0 <= row["nonconvex_fraction"] <= 1 and 0 <= row["test_accuracy"] <= 1
        assert f"depth   8 {row['network']:<8}: training loss {row['train_loss']:.4g}" in out
    assert "(default size)" in out
    for name in ("plain-vs-residual-loss-surfaces.png", "plain-vs-residual-3-d-surfaces.png", "report.html"):
        assert (out_dir / name).is_file()
    assert "Skip-connection study" in (out_dir / "report.html").read_text()


def test_full_selects_the_large_size(tmp_path, capsys):
    out_dir = tmp_path / "full"
    code, out, _ = _run(["landscape", *TINY_STUDY, "--full", "--out", out_dir], capsys)
    assert code == 0 and "(full size)" in out
    settings = json.loads((out_dir / "landscape.json").read_text())["settings"]
    assert settings["size"] == "full" and settings["batch_size"] == 64 and settings["epochs"] == 1


@pytest.mark.parametrize("argv, named", [
    (["--study", "data.csv"], "DATA does not apply to --study"),
    (["--study", "--target", "y"], "--target does not apply to landscape --study"),
    (["--study", "--hidden", "8"], "--hidden does not apply to landscape --study"),
    (["--study", "--dim", "1"], "--dim does not apply to --study"),
    (["--study", "--normalization", "layer"], "--normalization does not apply to --study"),
    (["--study", "--optimizer", "sgd"], "--optimizer does not apply to landscape --study"),
    (["--study", "--batchnorm"], "--batchnorm does not apply to landscape --study"),
    (["--study", "--depths", "9"], "--depths must be 6n+2"),
    (["--study", "--widths", "4,8"], "--widths needs three widths"),
    (["--study", "--steps", "2"], "--steps must be at least 3"),
    (["--full"], "--full does not apply to landscape: it applies to landscape --study"),
    (["data.csv", "--target", "y", "--depths", "8"], "--depths does not apply to landscape: it applies to landscape --study"),  # noqa: E501
    (["data.csv", "--target", "y", "--widths", "4,8,16"], "--widths does not apply to landscape: it applies to landscape --study"),  # noqa: E501
    (["data.csv", "--target", "y", "--steps", "1"], "--steps must be at least 2"),
])
def test_options_that_do_not_apply_are_refused(argv, named, tmp_path, capsys):
    with pytest.raises(SystemExit) as refused:
        main(["landscape", *argv, "--out", str(tmp_path / "refused")])
    assert refused.value.code == 2
    assert named in capsys.readouterr().err
    assert not (tmp_path / "refused").exists()  # refused before anything runs


def test_data_is_required_without_study(tmp_path, capsys):
    code, _, err = _run(["landscape", "--target", "y", "--out", tmp_path / "y"], capsys)
    assert code == 1 and "DATA is required" in err


def test_help_states_the_study_sizes_and_times(capsys):
    with pytest.raises(SystemExit):
        main(["landscape", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "1 to 2.5 minutes on 2 shared cores" in text and "about 50 minutes" in text
    assert "--full" in text and "depths 20,56,110" in text
