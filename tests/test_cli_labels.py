"""Class labels as the user wrote them: a float target holding 0/1 (pandas reads a 0/1 column
with a missing value as float) reports classes 0 and 1, not 0.0 and 1.0, in the console,
model.json and predict's columns."""
import json

import numpy as np
import pandas as pd
import pytest

from chainrule.cli import main
from chainrule.cli.preparation import class_labels


@pytest.mark.parametrize("classes, expected", [
    ([0.0, 1.0], [0, 1]), (np.array([2.0, 3.0, 7.0]), [2, 3, 7]), ([0.5, 1.0], [0.5, 1.0]),
    (["high", "low"], ["high", "low"]), ([False, True], [False, True]), (np.array([0, 1]), [0, 1]), (None, None),
])
def test_class_labels(classes, expected):
    labels = class_labels(classes)
    assert labels == expected
    assert labels is None or [type(label) for label in labels] == [type(label) for label in expected]


@pytest.mark.parametrize("model, levels", [("logit", 2), ("mnlogit", 3)])
def test_a_float_target_of_whole_numbers_has_integer_classes(model, levels, tmp_path, capsys):
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"x1": rng.normal(size=120), "x2": rng.normal(size=120)})
    frame["passed"] = np.digitize(frame.x1 + rng.normal(size=120), [0.0, 1.0][:levels - 1]).astype(float)
    frame.loc[5, "passed"] = np.nan  # so the file's column is read as float: 0.0, 1.0, NaN
    path = tmp_path / "data.csv"
    frame.to_csv(path, index=False)
    assert "1.0" in path.read_text()
    out_dir = tmp_path / "m"
    code = main(["fit", str(path), "--model", model, "--target", "passed", "--dropna", "--out", str(out_dir)])
    out = capsys.readouterr().out
    assert code == 0
    classes = list(range(levels))
    assert f"classes {', '.join(map(str, classes))}" in out and "1.0" not in out.split("\n")[0]
    assert json.loads((out_dir / "model.json").read_text())["classes"] == classes
    predictions = tmp_path / "p.csv"
    assert main(["predict", str(out_dir), str(path), "--dropna", "--out", str(predictions)]) == 0
    saved = pd.read_csv(predictions)
    assert list(saved.columns) == ["row", "prediction", *[f"probability[{k}]" for k in classes]]
    assert set(saved["prediction"]) <= set(classes) and saved["prediction"].dtype.kind == "i"
