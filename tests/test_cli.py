"""Tests for the ``chainrule`` command (chainrule.cli.main)."""
import re
import subprocess
import sys
from pathlib import Path

import pytest

import chainrule
from chainrule import cli
from chainrule.cli import digits_mlp as _demo


def test_version(capsys):
    with pytest.raises(SystemExit) as exc:
        cli.main(["--version"])
    assert exc.value.code == 0
    assert capsys.readouterr().out.strip() == "chainrule 0.1.0"


@pytest.mark.parametrize("argv", [["--help"], ["demo", "--help"]])
def test_help(argv, capsys):
    with pytest.raises(SystemExit) as exc:
        cli.main(argv)
    assert exc.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: chainrule")
    assert "example: chainrule" in out


@pytest.mark.parametrize("argv", [[], ["nonsense"], ["demo", "--epochs", "0"],
                                  ["demo", "--lr", "-1"], ["demo", "--bogus"]])
def test_usage_error_exits_2(argv, capsys):
    with pytest.raises(SystemExit) as exc:
        cli.main(argv)
    assert exc.value.code == 2
    assert "usage: chainrule" in capsys.readouterr().err


def test_demo_tours_the_bundled_data_into_one_report(tmp_path, capsys):
    out_dir = tmp_path / "demo-output"
    assert cli.main(["demo", "--epochs", "10", "--compare-epochs", "1", "--seed", "0",
                     "--out", str(out_dir)]) == 0
    out = capsys.readouterr().out  # captured, so not a terminal: one plain line per epoch
    assert "OLS Regression Results" in out and "HC1" in out
    assert "Logit Marginal Effects" in out
    assert "digits: MLP 64-128-10, Adam lr 0.001" in out
    assert len(re.findall(r"^epoch +\d+/10  train_loss .* val_accuracy ", out, flags=re.M)) == 10
    match = re.search(r"held-out accuracy ([0-9.]+) \(360 samples\)", out)
    assert match, out
    assert float(match.group(1)) > 0.95
    for name in ("gd", "momentum", "adagrad", "rmsprop", "adam"):
        assert re.search(rf"^│ {name}\s", out, flags=re.M)
    report = out_dir / "report.html"
    assert out.rstrip().endswith(str(report.resolve()))
    html = report.read_text()
    for section in ("OLS: Coefficients", "Logit: Average marginal effects",
                    "MLP on the digits: loss curves", "Optimizer comparison (digits MLP)"):
        assert section in html
    for step in ("ols", "logit"):
        assert (out_dir / step / "model.safetensors").is_file()


def test_demo_run_is_reproducible():
    first = _demo.run(epochs=3, seed=7, verbose=False)
    second = _demo.run(epochs=3, seed=7, verbose=False)
    for column in ("train_loss", "train_accuracy", "val_loss", "val_accuracy"):
        assert first["history"][column] == second["history"][column]
    assert first["test_accuracy"] == second["test_accuracy"]
    assert first["n_train"] + first["n_val"] + first["n_test"] == 1797


def test_demo_is_silent_when_not_verbose(capsys):
    _demo.run(epochs=1, verbose=False)
    assert capsys.readouterr().out == ""


def _fail(**kwargs):
    raise ValueError("something went wrong")


def test_failure_exits_1_without_traceback(monkeypatch, capsys, tmp_path):
    monkeypatch.setattr(_demo, "run", _fail)
    monkeypatch.chdir(tmp_path)
    assert cli.main(["demo"]) == 1
    err = capsys.readouterr().err
    assert "something went wrong" in err and "--debug" in err
    assert "Traceback" not in err


@pytest.mark.parametrize("argv", [["--debug", "demo"], ["demo", "--debug"]])
def test_failure_with_debug_shows_traceback(argv, monkeypatch, capsys, tmp_path):
    monkeypatch.setattr(_demo, "run", _fail)
    monkeypatch.chdir(tmp_path)
    assert cli.main(argv) == 1
    assert "Traceback" in capsys.readouterr().err


def test_python_dash_m(tmp_path):
    src = str(Path(chainrule.__file__).parent.parent)
    result = subprocess.run([sys.executable, "-m", "chainrule", "--version"],
                            capture_output=True, text=True, cwd=tmp_path,
                            env={"PYTHONPATH": src, "PATH": ""})
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("chainrule ")
