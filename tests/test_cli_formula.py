"""``chainrule fit --formula "y ~ x1 + C(g) + x1:x2"``: the design of chainrule.formula instead
of --target/--features, for every statistical model, saved with the model so ``chainrule
predict`` re-applies it (levels and transform statistics from the fit)."""
import json
import re

import numpy as np
import pandas as pd
import pytest

from chainrule import formula, stats
from chainrule.cli import main


def _table(n=200, seed=2):
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({"x1": rng.normal(size=n), "x2": rng.normal(size=n),
                          "region": rng.choice(["north", "south", "west"], n)})
    frame["y"] = 1 + 2 * frame.x1 - frame.x2 + 0.5 * (frame.region == "west") + rng.normal(size=n)
    frame["grade"] = np.where(frame.y + rng.normal(size=n) > 1, "high", "low")
    frame["tier"] = np.select([frame.y < 0, frame.y < 2], ["bronze", "silver"], "gold")
    return frame


@pytest.fixture(scope="module")
def csv(tmp_path_factory):
    path = tmp_path_factory.mktemp("formula") / "data.csv"
    _table().to_csv(path, index=False)
    return path


@pytest.fixture(scope="module")
def new_csv(tmp_path_factory):
    path = tmp_path_factory.mktemp("formula_new") / "new.csv"
    _table(n=40, seed=9).drop(columns=["y", "grade", "tier"]).to_csv(path, index=False)
    return path


def _printed(out, name):
    match = re.search(rf"^{re.escape(name)}\s+(-?[0-9.e+-]+)", out, flags=re.M)
    assert match, (name, out)
    return float(match.group(1))


FORMULA = "y ~ x1 + C(region) + x1:x2 + center(x2)"


@pytest.mark.parametrize("model, options, make", [
    ("ols", [], lambda: stats.OLS()),
    ("ridge", ["--alpha", "1"], lambda: stats.Ridge(alpha=1.0)),
    ("lasso", ["--alpha", "0.05"], lambda: stats.Lasso(alpha=0.05)),
    ("elasticnet", ["--alpha", "0.05"], lambda: stats.ElasticNet(alpha=0.05)),
    ("stepwise", [], lambda: stats.ForwardStepwise(random_state=0)),
    ("pcr", ["--n-components", "3"], lambda: stats.PCR(n_components=3, random_state=0)),
])
def test_formula_fit_and_predict_regressions(model, options, make, csv, new_csv, tmp_path, capsys):
    out_dir = tmp_path / model
    code = main(["fit", str(csv), "--formula", FORMULA, "--model", model, *options, "--out", str(out_dir)])
    out, err = capsys.readouterr()
    assert code == 0, err
    y, X, spec = formula.design_matrices(FORMULA, _table())
    # penalties and components: fitted on the design's columns standardized (every column of a formula's
    # design is numeric), the coefficients printed on the original scale
    mean, sd = (X.mean(), X.std(ddof=0)) if model not in ("ols", "stepwise") else (0.0 * X.mean(), 0.0 * X.mean() + 1)
    reference = make().fit((X - mean) / sd, y)
    assert "C(region)[T.west]" in out and "x1:x2" in out
    coef = reference.params.to_numpy()[1:] if model == "ols" else np.asarray(reference.coef_) / sd.to_numpy()
    for name, value in zip(X.columns, coef):
        if model == "stepwise" and value == 0:
            continue
        tolerance = 1e-4 if model == "ols" else 1e-6  # OLS summary: 4 decimals; the others 6 digits
        assert _printed(out, name) == pytest.approx(value, rel=1e-5, abs=tolerance), name
    saved = json.loads((out_dir / "model.json").read_text())
    assert saved["formula"]["formula"] == FORMULA and saved["formula"]["columns"] == list(X.columns)
    predictions = tmp_path / "p.csv"
    assert main(["predict", str(out_dir), str(new_csv), "--out", str(predictions)]) == 0
    new = pd.read_csv(new_csv)
    expected = reference.predict((formula.apply_design(spec, new) - mean) / sd)
    np.testing.assert_allclose(pd.read_csv(predictions)["prediction"], expected, rtol=1e-8, atol=1e-10)


@pytest.mark.parametrize("model, target, options", [
    ("logit", "grade", []), ("logit", "grade", ["--penalty", "l2"]), ("mnlogit", "tier", []),
])
def test_formula_classifiers_predict_the_library_probabilities(model, target, options, csv, new_csv, tmp_path,
                                                               capsys):
    out_dir = tmp_path / model
    text = f"{target} ~ x1 + C(region) + x1:x2"
    code = main(["fit", str(csv), "--formula", text, "--model", model, *options, "--out", str(out_dir)])
    out, err = capsys.readouterr()
    assert code == 0, err
    y, X, spec = formula.design_matrices(text, _table(), target="labels")
    estimator = (stats.LogisticRegression(penalty="l2") if options else
                 {"logit": stats.Logit(), "mnlogit": stats.MNLogit()}[model])
    labels = sorted(set(y))
    mean, sd = (X.mean(), X.std(ddof=0)) if options else (0.0 * X.mean(), 0.0 * X.mean() + 1)  # --penalty: standardized
    reference = estimator.fit((X - mean) / sd, y.map({label: k for k, label in enumerate(labels)}))
    predictions = tmp_path / "p.csv"
    assert main(["predict", str(out_dir), str(new_csv), "--out", str(predictions)]) == 0
    saved = pd.read_csv(predictions)
    expected = reference.predict_proba((formula.apply_design(spec, pd.read_csv(new_csv)) - mean) / sd)
    if expected.ndim == 1:
        expected = np.column_stack([1 - expected, expected])
    np.testing.assert_allclose(saved[[f"probability[{label}]" for label in labels]], expected, rtol=1e-7, atol=1e-10)


def test_formula_without_intercept(csv, tmp_path, capsys):
    code = main(["fit", str(csv), "--formula", "y ~ x1 + x2 - 1", "--model", "ols", "--out", str(tmp_path / "o")])
    out, _ = capsys.readouterr()
    assert code == 0
    frame = _table()
    reference = stats.OLS(fit_intercept=False).fit(frame[["x1", "x2"]], frame["y"])
    assert _printed(out, "x1") == pytest.approx(reference.params["x1"], abs=1e-4)
    assert not re.search(r"^const\s", out, flags=re.M)


@pytest.mark.parametrize("extra, flag", [
    (["--target", "y"], "--target"), (["--features", "x1"], "--features"), (["--no-intercept"], "--no-intercept"),
    (["--model", "mlp"], "--formula"), (["--chunksize", "50"], "--formula"),
])
def test_formula_refuses_options_it_replaces(extra, flag, csv, capsys):
    model = [] if "--model" in extra else ["--model", "ols"]
    with pytest.raises(SystemExit) as exc:
        main(["fit", str(csv), "--formula", FORMULA, *model, *extra])
    assert exc.value.code == 2
    assert f"error: {flag} does not apply to" in capsys.readouterr().err


def test_formula_errors_name_the_column(csv, new_csv, tmp_path, capsys):
    code = main(["fit", str(csv), "--formula", "y ~ x1 + nope", "--model", "ols", "--out", str(tmp_path / "o")])
    err = capsys.readouterr().err
    assert code == 1 and "nope" in err and "Traceback" not in err
    frame = _table(n=40, seed=9)
    frame.loc[0, "region"] = "east"
    unseen = tmp_path / "unseen.csv"
    frame.to_csv(unseen, index=False)
    assert main(["fit", str(csv), "--formula", FORMULA, "--model", "ols", "--out", str(tmp_path / "m")]) == 0
    capsys.readouterr()
    code = main(["predict", str(tmp_path / "m"), str(unseen), "--out", str(tmp_path / "p.csv")])
    err = capsys.readouterr().err
    assert code == 1 and "'east'" in err
