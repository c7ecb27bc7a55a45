"""``chainrule diagnose``, run in-process on generated CSVs; the printed and saved numbers are
checked against NumPy closed forms and statsmodels (``chainrule landscape``:
tests/test_cli_landscape.py; both refuse a GPU device here)."""
from __future__ import annotations

import json
import re

import numpy as np
import pandas as pd
import pytest

from chainrule.cli import main


def _table(n=150, seed=0):
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({"x1": rng.normal(size=n), "x2": 3 * rng.normal(size=n) + 5})
    frame["y"] = 1 + 2 * frame.x1 - frame.x2 + rng.normal(size=n)
    frame["label"] = np.where(frame.x1 + rng.normal(size=n) > 0, "yes", "no")
    frame["digit"] = rng.integers(0, 3, n)
    return frame


@pytest.fixture()
def csv(tmp_path):
    path = tmp_path / "data.csv"
    _table().to_csv(path, index=False)
    return path


def _run(argv, capsys):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def _standardized_design():
    frame = _table()
    X = frame[["x1", "x2"]].to_numpy()
    X = (X - X.mean(axis=0)) / X.std(axis=0)  # population standard deviation, as the encoder uses
    return np.hstack([np.ones((len(X), 1)), X]), frame


def test_diagnose_ols_reports_curvature_certificate_and_the_threshold(csv, tmp_path, capsys):
    import statsmodels.api as sm

    out_dir = tmp_path / "ols"
    code, out, _ = _run(["diagnose", csv, "--target", "y", "--features", "x1,x2", "--model", "ols",
                         "--out", out_dir], capsys)
    assert code == 0
    Z, frame = _standardized_design()
    eigen = np.linalg.eigvalsh(Z.T @ Z / len(Z))
    result = json.loads((out_dir / "diagnose.json").read_text())
    L_row, mu_row = result["curvature"]
    assert L_row["estimate"] == pytest.approx(eigen[-1], rel=1e-6)
    assert mu_row["estimate"] == pytest.approx(eigen[0], rel=1e-6)
    assert result["step_size"]["lr"] == pytest.approx(1 / eigen[-1], rel=1e-6)
    assert result["step_size"]["lr_strongly_convex"] == pytest.approx(2 / (eigen[-1] + eigen[0]), rel=1e-6)
    certificate = result["certificate"]
    assert certificate["sublinear_bound_holds"] is True and certificate["linear_bound_holds"] is True
    assert certificate["step_exceeds_1_over_L"] is False
    assert f"1/L = {1 / L_row['estimate']:.6g}" in out
    reference = sm.OLS(frame["y"].to_numpy(), Z).fit()
    tradeoff = result["optimization_vs_statistical"]
    assert tradeoff["threshold"] == pytest.approx(0.01 * reference.bse.min(), rel=1e-8)
    estimates = [row["estimate"] for row in tradeoff["coefficients"]]
    np.testing.assert_allclose(estimates, reference.params, rtol=1e-8)
    assert f"from iteration {tradeoff['k_threshold']}" in out
    html = (out_dir / "report.html").read_text()
    assert "Observed gap vs bounds" in html and "Optimization vs statistical error" in html
    assert (out_dir / "observed-gap-vs-bounds.png").stat().st_size > 1000


def test_diagnose_logit_certifies_only_the_sublinear_rate(csv, tmp_path, capsys):
    out_dir = tmp_path / "logit"
    code, out, _ = _run(["diagnose", csv, "--target", "label", "--features", "x1,x2", "--model", "logit",
                         "--fraction", "0.05", "--out", out_dir], capsys)
    assert code == 0
    Z, _ = _standardized_design()
    result = json.loads((out_dir / "diagnose.json").read_text())
    assert result["curvature"][0]["estimate"] == pytest.approx(np.linalg.eigvalsh(Z.T @ Z / (4 * len(Z)))[-1], rel=1e-6)
    assert result["certificate"]["sublinear_bound_holds"] is True
    assert result["certificate"]["linear_bound_holds"] is None
    assert "linear rate" not in out
    assert result["optimization_vs_statistical"]["fraction"] == 0.05
    assert result["step_size"]["condition_number"] is None  # mu not used: no finite kappa
    assert "Infinity" not in (out_dir / "diagnose.json").read_text()


def test_diagnose_mlp_compares_initializations(csv, tmp_path, capsys):
    out_dir = tmp_path / "mlp"
    code, out, _ = _run(["diagnose", csv, "--target", "y", "--features", "x1,x2", "--model", "mlp",
                         "--hidden", "16,16,16,16", "--activation", "tanh", "--inits", "normal(0.01),xavier",
                         "--power-iters", "30",
                         "--out", out_dir], capsys)
    assert code == 0
    result = json.loads((out_dir / "diagnose.json").read_text())
    rows = {row["init"]: row for row in result["initialization_summary"]}
    assert set(rows) == {"normal(0.01)", "xavier"}
    assert rows["normal(0.01)"]["activation_std_last"] < 1e-4 < rows["xavier"]["activation_std_last"]
    assert result["smoothness_at_init"]["L"] > 0
    match = re.search(r"L = ([0-9.e+-]+)", out)
    assert match and float(match.group(1)) == pytest.approx(result["smoothness_at_init"]["L"], rel=1e-5)
    for quantity in ("activation-std", "gradient-std", "weight-gradient-std", "activation-mean"):
        assert (out_dir / f"initialization-{quantity}.png").is_file()


def test_diagnose_errors_exit_with_one(csv, tmp_path, capsys):
    code, _, err = _run(["diagnose", csv, "--target", "digit", "--features", "x1,x2", "--model", "logit",
                         "--out", tmp_path / "bad"], capsys)
    assert code == 1 and "binary" in err
    code, _, err = _run(["diagnose", csv, "--target", "y", "--features", "x1,x2", "--model", "mlp",
                         "--inits", "glorot", "--out", tmp_path / "bad2"], capsys)
    assert code == 1 and "glorot" in err
    with pytest.raises(SystemExit) as usage:
        main(["diagnose", str(csv), "--target", "y", "--model", "lasso"])
    assert usage.value.code == 2


@pytest.mark.parametrize("command", ["diagnose", "landscape"])
def test_a_gpu_device_is_refused_not_ignored(command, csv, tmp_path, capsys):
    code, _, err = _run([command, csv, "--target", "y", "--model", "mlp", "--device", "cuda",
                         "--out", tmp_path / "gpu"], capsys)
    assert code == 1 and "runs on the CPU" in err
