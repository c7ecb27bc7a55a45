"""``chainrule dml``: the command prints the estimate chainrule.causal gives on the same data,
and refuses bad column choices with a one-line error."""
from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

from chainrule import stats
from chainrule.causal import IRM, PLR, make_irm_data, make_plr_CCDDHNR2018
from chainrule.cli import main


@pytest.fixture(scope="module")
def tables(tmp_path_factory):
    folder = tmp_path_factory.mktemp("dml")
    X, y, d = make_plr_CCDDHNR2018(200, 4, 0.5, random_state=3)
    plr = pd.DataFrame(X, columns=[f"x{i}" for i in range(4)]).assign(y=y, d=d, label="a")
    plr["z"] = plr["d"] + np.random.default_rng(0).normal(size=len(plr))
    X, y, d = make_irm_data(300, 4, theta=0.5, random_state=4)
    irm = pd.DataFrame(X, columns=[f"x{i}" for i in range(4)]).assign(y=y, d=d)
    paths = {"plr": folder / "plr.csv", "irm": folder / "irm.csv"}
    plr.to_csv(paths["plr"], index=False)
    irm.to_csv(paths["irm"], index=False)
    return paths, plr, irm


def printed_coef(text):
    return float(re.search(r"^d\s+(-?[\d.]+)\s+([\d.]+)", text, re.M).group(1))


def test_plr_command_equals_the_library(tables, capsys):
    paths, plr, _ = tables
    assert main(["dml", str(paths["plr"]), "--target", "y", "--treatment", "d", "--controls", "x0,x1,x2,x3"]) == 0
    text = capsys.readouterr().out
    expected = PLR(stats.LassoCV(), stats.LassoCV(), random_state=0).fit(plr[["x0", "x1", "x2", "x3"]], plr["y"],
                                                                        plr["d"]).results_
    assert printed_coef(text) == pytest.approx(float(expected.params.iloc[0]), abs=5e-5)
    assert "RMSE" in text and "ml_m" in text


def test_irm_command(tables, capsys):
    paths, _, irm = tables
    assert main(["dml", str(paths["irm"]), "--target", "y", "--treatment", "d", "--model", "irm",
                 "--learner", "ridge", "--score", "ATTE"]) == 0
    text = capsys.readouterr().out
    from chainrule.cli.causal import learners

    regressor, classifier = learners("ridge", 0)
    expected = IRM(regressor, classifier, score="ATTE", random_state=0).fit(irm[["x0", "x1", "x2", "x3"]], irm["y"],
                                                                            irm["d"]).results_
    assert printed_coef(text) == pytest.approx(float(expected.params.iloc[0]), abs=5e-5)
    assert "log loss" in text


@pytest.mark.parametrize("extra, message", [
    (["--treatment", "nope"], "no column named 'nope'"),
    (["--treatment", "d", "--controls", "x0,label"], "needs numeric columns"),
    (["--treatment", "d", "--model", "pliv"], "needs --instruments"),
    (["--treatment", "d", "--instruments", "z"], "applies to --model pliv"),
    (["--treatment", "d", "--score", "ATE"], "--score for plr"),
    (["--treatment", "d", "--model", "irm"], "must be binary"),
])
def test_bad_choices_are_one_line_errors(tables, capsys, extra, message):
    paths, _, _ = tables
    assert main(["dml", str(paths["plr"]), "--target", "y", *extra]) == 1
    assert message in capsys.readouterr().err
