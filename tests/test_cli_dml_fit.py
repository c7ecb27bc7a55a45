"""``chainrule fit --model dml-plr|dml-irm|dml-pliv`` (issue 22): the same estimate as
``chainrule.causal`` and ``chainrule dml``, written to --out as metrics.json and report.html;
the fit options a DML fit does not read are refused."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from chainrule import stats
from chainrule.causal import IRM, PLIV, PLR, make_irm_data, make_plr_CCDDHNR2018
from chainrule.cli import main
from chainrule.cli.causal import learners

CONTROLS = ["x0", "x1", "x2", "x3"]


@pytest.fixture(scope="module")
def tables(tmp_path_factory):
    folder = tmp_path_factory.mktemp("dml_fit")
    X, y, d = make_plr_CCDDHNR2018(240, 4, 0.5, random_state=5)
    plr = pd.DataFrame(X, columns=CONTROLS).assign(y=y, d=d)
    plr["z"] = plr["d"] + np.random.default_rng(1).normal(size=len(plr))
    plr["noise"] = np.random.default_rng(2).normal(size=len(plr))
    X, y, d = make_irm_data(300, 4, theta=0.5, random_state=6)
    irm = pd.DataFrame(X, columns=CONTROLS).assign(y=y, d=d)
    paths = {"plr": folder / "plr.csv", "irm": folder / "irm.csv"}
    plr.to_csv(paths["plr"], index=False)
    irm.to_csv(paths["irm"], index=False)
    return paths, plr, irm


def metrics_of(out):
    return json.loads((out / "metrics.json").read_text())


def test_dml_plr_equals_the_library_and_writes_its_outputs(tables, tmp_path, capsys):
    paths, plr, _ = tables
    out = tmp_path / "plr"
    assert main(["fit", str(paths["plr"]), "--target", "y", "--model", "dml-plr", "--treatment", "d",
                 "--features", ",".join(CONTROLS), "--out", str(out)]) == 0
    expected = PLR(stats.LassoCV(), stats.LassoCV(), random_state=0).fit(plr[CONTROLS], plr["y"], plr["d"]).results_
    effect = metrics_of(out)["effects"]["d"]
    assert effect["coef"] == pytest.approx(float(expected.params.iloc[0]), abs=1e-12)
    assert effect["std_err"] == pytest.approx(float(expected.bse.iloc[0]), abs=1e-12)
    assert effect["ci_95"] == pytest.approx(expected.conf_int().to_numpy()[0].tolist(), abs=1e-12)
    assert metrics_of(out)["controls"] == CONTROLS and metrics_of(out)["folds"] == 5
    assert not (out / "model.json").exists()  # an effect, not a predictor
    html = (out / "report.html").read_text()
    assert "Double/Debiased ML Results" in html and "out-of-fold" in html
    assert "PLR of y on d" in capsys.readouterr().out


def test_dml_fit_without_features_uses_every_other_numeric_column(tables, tmp_path):
    paths, plr, _ = tables
    out = tmp_path / "all"
    assert main(["fit", str(paths["plr"]), "--target", "y", "--model", "dml-plr", "--treatment", "d",
                 "--folds", "3", "--seed", "4", "--out", str(out)]) == 0
    controls = CONTROLS + ["z", "noise"]
    assert metrics_of(out)["controls"] == controls
    expected = PLR(stats.LassoCV(), stats.LassoCV(), n_folds=3, random_state=4).fit(
        plr[controls], plr["y"], plr["d"]).results_
    assert metrics_of(out)["effects"]["d"]["coef"] == pytest.approx(float(expected.params.iloc[0]), abs=1e-12)


def test_dml_irm_atte_with_ridge_learners(tables, tmp_path):
    paths, _, irm = tables
    out = tmp_path / "irm"
    assert main(["fit", str(paths["irm"]), "--target", "y", "--model", "dml-irm", "--treatment", "d",
                 "--learner", "ridge", "--score", "ATTE", "--out", str(out)]) == 0
    regressor, classifier = learners("ridge", 0, "irm")
    expected = IRM(regressor, classifier, score="ATTE", random_state=0).fit(irm[CONTROLS], irm["y"], irm["d"]).results_
    assert metrics_of(out)["effects"]["d"]["coef"] == pytest.approx(float(expected.params.iloc[0]), abs=1e-12)
    assert metrics_of(out)["score"] == "ATTE" and metrics_of(out)["loss_kinds"]["ml_m"] == "log loss"


def test_dml_pliv_with_instruments(tables, tmp_path):
    paths, plr, _ = tables
    out = tmp_path / "pliv"
    assert main(["fit", str(paths["plr"]), "--target", "y", "--model", "dml-pliv", "--treatment", "d",
                 "--instruments", "z", "--features", ",".join(CONTROLS), "--out", str(out)]) == 0
    lasso = stats.LassoCV()
    expected = PLIV(lasso, lasso, lasso, random_state=0).fit(plr[CONTROLS], plr["y"], plr["d"], plr[["z"]]).results_
    assert metrics_of(out)["effects"]["d"]["coef"] == pytest.approx(float(expected.params.iloc[0]), abs=1e-12)


@pytest.mark.parametrize("extra, message", [
    (["--model", "dml-plr", "--treatment", "d", "--val-split", "0.2"], "--val-split does not apply to --model dml-plr"),
    (["--model", "dml-plr", "--treatment", "d", "--standardize"], "a DML fit reads only"),
    (["--model", "dml-irm", "--treatment", "d", "--cov-type", "HC1"], "--cov-type does not apply"),
    (["--model", "ols", "--treatment", "d"], "--treatment does not apply to --model ols"),
    (["--model", "lasso", "--folds", "3"], "--folds does not apply to --model lasso"),
])
def test_options_a_dml_fit_does_not_read_are_usage_errors(tables, tmp_path, capsys, extra, message):
    paths, _, _ = tables
    with pytest.raises(SystemExit) as stopped:
        main(["fit", str(paths["plr"]), "--target", "y", *extra, "--out", str(tmp_path / "x")])
    assert stopped.value.code == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "x").exists()


@pytest.mark.parametrize("extra, message", [
    (["--model", "dml-plr"], "--model dml-plr needs --treatment"),
    (["--model", "dml-pliv", "--treatment", "d"], "--model dml-pliv needs --instruments"),
    (["--model", "dml-plr", "--treatment", "d", "--instruments", "z"], "applies to --model dml-pliv, not dml-plr"),
    (["--model", "dml-plr", "--treatment", "d", "--score", "ATE"], "--score for dml-plr must be one of"),
    (["--model", "dml-plr", "--treatment", "nope"], "no column named 'nope'"),
])
def test_bad_dml_choices_are_one_paragraph_errors(tables, tmp_path, capsys, extra, message):
    paths, _, _ = tables
    assert main(["fit", str(paths["plr"]), "--target", "y", *extra, "--out", str(tmp_path / "y")]) == 1
    assert message in capsys.readouterr().err


def test_an_out_directory_holding_a_model_is_not_overwritten(tables, tmp_path, capsys):
    paths, _, _ = tables
    out = tmp_path / "held"
    out.mkdir()
    (out / "model.json").write_text("{}")
    with pytest.raises(SystemExit) as stopped:
        main(["fit", str(paths["plr"]), "--target", "y", "--model", "dml-plr", "--treatment", "d", "--out", str(out)])
    assert stopped.value.code == 2 and (out / "model.json").read_text() == "{}"


def test_dml_with_clusters_equals_the_library(tables, tmp_path, capsys):
    """--cluster: folds drawn by cluster and cluster-robust standard errors, in fit and in dml."""
    paths, plr, _ = tables
    frame = plr.assign(firm=np.arange(len(plr)) // 8, year=np.arange(len(plr)) % 6)
    path = tmp_path / "panel.csv"
    frame.to_csv(path, index=False)
    for clusters in (["firm"], ["firm", "year"]):
        out = tmp_path / "-".join(clusters)
        assert main(["fit", str(path), "--target", "y", "--model", "dml-plr", "--treatment", "d", "--features",
                     ",".join(CONTROLS), "--cluster", ",".join(clusters), "--folds", "3", "--out", str(out)]) == 0
        expected = PLR(stats.LassoCV(), stats.LassoCV(), n_folds=3, random_state=0).fit(
            frame[CONTROLS], frame["y"], frame["d"], clusters=frame[clusters]).results_
        effect = metrics_of(out)["effects"]["d"]
        assert effect["coef"] == pytest.approx(float(expected.params.iloc[0]), abs=1e-12)
        assert effect["std_err"] == pytest.approx(float(expected.bse.iloc[0]), abs=1e-12)
        assert metrics_of(out)["clusters"] == {name: int(frame[name].nunique()) for name in clusters}
        assert main(["dml", str(path), "--target", "y", "--treatment", "d", "--controls", ",".join(CONTROLS),
                     "--cluster", ",".join(clusters), "--folds", "3"]) == 0
        assert "robust to clustering by" in capsys.readouterr().out
    # without --features the cluster columns are not controls
    out = tmp_path / "default"
    assert main(["fit", str(path), "--target", "y", "--model", "dml-plr", "--treatment", "d", "--cluster", "firm",
                 "--folds", "3", "--out", str(out)]) == 0
    assert "firm" not in metrics_of(out)["controls"] and "year" in metrics_of(out)["controls"]
