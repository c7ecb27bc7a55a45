"""End-to-end tests of ``chainrule fit``, ``predict``, ``compare-optimizers`` and ``datasets``,
run in-process (``chainrule.cli.main``) in a temporary directory on generated CSVs."""
import base64
import json
import re

import numpy as np
import pandas as pd
import pytest

from chainrule import stats
from chainrule.cli import main
from chainrule.tabular import TabularEncoder


def _table(n=240, seed=0):
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({
        "x1": rng.normal(size=n),
        "x2": rng.normal(size=n),
        "region": rng.choice(["north", "south", "west"], n),
        "member": rng.random(n) > 0.5,
        "firm": rng.integers(0, 12, n),
    })
    frame["y"] = (1 + 2 * frame.x1 - frame.x2 + 0.5 * (frame.region == "west")
                  + rng.normal(size=n))
    frame["grade"] = np.where(frame.y + rng.normal(size=n) > 1, "high", "low")
    frame["tier"] = np.select([frame.y < 0, frame.y < 2], ["bronze", "silver"], "gold")
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


def _report_images(path):
    html = path.read_text()
    images = re.findall(r'src="data:image/png;base64,([^"]+)"', html)
    return html, [base64.b64decode(image) for image in images]


# --------------------------------------------------------------------------- fit

def test_fit_ols_prints_the_summary_and_matches_the_library(csv, tmp_path, capsys):
    out_dir = tmp_path / "ols"
    code, out, _ = _run(["fit", csv, "--target", "y", "--features", "x1,x2,region,member",
                         "--model", "ols", "--cov-type", "HC1", "--out", out_dir], capsys)
    assert code == 0
    frame = _table()
    X = pd.get_dummies(frame[["x1", "x2", "region", "member"]], columns=["region"],
                       drop_first=True, dtype=float).astype(float)
    reference = stats.OLS(cov_type="HC1").fit(X, frame["y"])
    assert "OLS Regression Results" in out and "HC1" in out
    # the coefficient of x1 and its robust standard error, as printed (4 decimals)
    row = re.search(r"^x1\s+(\S+)\s+(\S+)", out, flags=re.M)
    assert float(row.group(1)) == pytest.approx(reference.params["x1"], abs=1e-4)
    assert float(row.group(2)) == pytest.approx(reference.bse["x1"], abs=1e-4)
    for name in ("report.html", "model.safetensors", "model.json", "metrics.json"):
        assert (out_dir / name).is_file()
    metrics = json.loads((out_dir / "metrics.json").read_text())
    assert metrics["metrics"]["train"]["r2"] == pytest.approx(reference.rsquared, rel=1e-10)
    assert metrics["peak_memory_bytes"] > 0


def test_fit_report_has_every_section_and_decodable_figures(csv, tmp_path, capsys):
    out_dir = tmp_path / "ols"
    assert _run(["fit", csv, "--target", "y", "--features", "x1,x2,region",
                 "--model", "ols", "--out", out_dir], capsys)[0] == 0
    html, images = _report_images(out_dir / "report.html")
    for section in ("Run settings", "Data", "Coefficients", "Coefficient plot", "Metrics",
                    "Predicted vs actual", "Timings"):
        assert f">{section}" in html, section
    assert len(images) >= 2
    assert all(image.startswith(b"\x89PNG\r\n\x1a\n") for image in images)
    assert len(list(out_dir.glob("*.png"))) == len(images)


def test_fit_logit_with_string_target_and_marginal_effects(csv, tmp_path, capsys):
    code, out, _ = _run(["fit", csv, "--target", "grade", "--features", "x1,x2,region",
                         "--model", "logit", "--margeff", "--out", tmp_path / "logit"], capsys)
    assert code == 0
    assert "classes high, low" in out
    assert "Logit Marginal Effects" in out
    frame = _table()
    X = pd.get_dummies(frame[["x1", "x2", "region"]], columns=["region"], drop_first=True,
                       dtype=float)
    reference = stats.Logit().fit(X, (frame["grade"] == "low").astype(float))
    row = re.search(r"^x1\s+(\S+)\s+(\S+)", out, flags=re.M)
    assert float(row.group(1)) == pytest.approx(reference.params["x1"], abs=1e-4)


def test_fit_then_predict_round_trip_equals_in_process_predictions(csv, tmp_path, capsys):
    out_dir = tmp_path / "mnl"
    assert _run(["fit", csv, "--target", "tier", "--features", "x1,x2,region",
                 "--model", "mnlogit", "--out", out_dir], capsys)[0] == 0
    predictions = tmp_path / "p.csv"
    code, out, _ = _run(["predict", out_dir, csv, "--out", predictions], capsys)
    assert code == 0 and "240 predictions" in out
    saved = pd.read_csv(predictions)
    frame = _table()
    encoder = TabularEncoder("tier", ["x1", "x2", "region"], task="classification")
    X, y = encoder.fit_transform(frame)
    model = stats.MNLogit().fit(X, y)
    probabilities = model.predict_proba(X)
    columns = [f"probability[{label}]" for label in encoder.classes_]
    np.testing.assert_allclose(saved[columns].to_numpy(), probabilities, rtol=1e-9, atol=1e-12)
    assert list(saved["prediction"]) == [encoder.classes_[k] for k in probabilities.argmax(1)]
    assert list(saved["row"]) == list(range(len(frame)))


@pytest.mark.parametrize("model", ["ridge", "lasso", "stepwise", "pcr", "ols"])
def test_fit_then_predict_linear_models(model, csv, tmp_path, capsys):
    out_dir = tmp_path / model
    extra = {"ridge": ["--alpha", "0.5"], "lasso": ["--alpha", "0.05"], "stepwise": [],
             "pcr": ["--n-components", "3"], "ols": ["--solver", "gd"]}[model]
    assert _run(["fit", csv, "--target", "y", "--features", "x1,x2,region,member",
                 "--model", model, *extra, "--out", out_dir], capsys)[0] == 0
    predictions = tmp_path / "p.csv"
    assert _run(["predict", out_dir, csv, "--out", predictions], capsys)[0] == 0
    saved = pd.read_csv(predictions)["prediction"].to_numpy()
    standardize = model != "stepwise"  # penalties, components and the gd solver work on standardized inputs
    encoder = TabularEncoder("y", ["x1", "x2", "region", "member"], task="regression",
                             standardize=standardize)
    X, y = encoder.fit_transform(_table())
    estimator = {"ridge": stats.Ridge(alpha=0.5), "lasso": stats.Lasso(alpha=0.05),
                 "stepwise": stats.ForwardStepwise(criterion="bic", random_state=0),
                 "pcr": stats.PCR(n_components=3, random_state=0),
                 "ols": stats.OLS(solver="gd")}[model]
    np.testing.assert_allclose(saved, estimator.fit(X, y).predict(X), rtol=1e-8, atol=1e-10)


def test_fit_mlp_trains_writes_curves_and_predicts(csv, tmp_path, capsys):
    out_dir = tmp_path / "mlp"
    code, out, _ = _run(["fit", csv, "--target", "grade", "--features", "x1,x2,region,member",
                         "--model", "mlp", "--hidden", "16", "--epochs", "15",
                         "--optimizer", "adam", "--lr", "0.01", "--out", out_dir], capsys)
    assert code == 0
    assert len(re.findall(r"^epoch +\d+/15", out, flags=re.M)) == 15
    metrics = json.loads((out_dir / "metrics.json").read_text())["metrics"]
    assert metrics["validation"]["n"] == 48 and metrics["train"]["n"] == 192
    assert metrics["validation"]["accuracy"] > 0.7
    html, images = _report_images(out_dir / "report.html")
    for section in ("Loss curves", "Metric curves", "Gradient norm and learning rate",
                    "Confusion matrix"):
        assert f">{section}" in html
    # predict: the saved network and encoder reproduce the in-process probabilities
    from chainrule.cli.artifacts import load_model
    predictor, encoder, _ = load_model(out_dir)
    X, _ = encoder.transform(_table())
    predictions = tmp_path / "p.csv"
    assert _run(["predict", out_dir, csv, "--out", predictions], capsys)[0] == 0
    saved = pd.read_csv(predictions)
    np.testing.assert_allclose(saved["probability[low]"], predictor.predict_scores(X), rtol=1e-6)


def test_fit_ols_cluster_robust(csv, tmp_path, capsys):
    code, out, _ = _run(["fit", csv, "--target", "y", "--features", "x1,x2", "--model", "ols",
                         "--cluster", "firm", "--out", tmp_path / "c"], capsys)
    assert code == 0
    frame = _table()
    reference = stats.OLS(cov_type="cluster").fit(frame[["x1", "x2"]], frame["y"], groups=frame["firm"])
    row = re.search(r"^x2\s+(\S+)\s+(\S+)", out, flags=re.M)
    assert float(row.group(2)) == pytest.approx(reference.bse["x2"], abs=1e-4)


# --------------------------------------------------------------------------- bad data

def _write(tmp_path, frame, name="bad.csv"):
    path = tmp_path / name
    frame.to_csv(path, index=False)
    return path


def test_missing_values_are_refused_with_counts_then_dropped_on_request(tmp_path, capsys):
    frame = _table()
    frame.loc[[3, 7, 11], "x1"] = np.nan
    path = _write(tmp_path, frame)
    code, _, err = _run(["fit", path, "--target", "y", "--features", "x1,x2", "--model", "ols",
                         "--out", tmp_path / "o"], capsys)
    assert code == 1
    assert "x1" in err and "3" in err and "Traceback" not in err
    code, out, _ = _run(["fit", path, "--target", "y", "--features", "x1,x2", "--model", "ols",
                         "--dropna", "--out", tmp_path / "o"], capsys)
    assert code == 0 and "237 training rows" in out
    code, out, _ = _run(["fit", path, "--target", "y", "--features", "x1,x2", "--model", "ols",
                         "--impute", "mean", "--out", tmp_path / "o", "--overwrite"], capsys)
    assert code == 0 and "240 training rows" in out


def test_infinite_values_name_the_column(tmp_path, capsys):
    frame = _table()
    frame.loc[5, "x2"] = np.inf
    code, _, err = _run(["fit", _write(tmp_path, frame), "--target", "y", "--model", "ols",
                         "--features", "x1,x2", "--out", tmp_path / "o"], capsys)
    assert code == 1 and "x2" in err and "inf" in err.lower()


def test_target_among_the_features_is_refused(csv, tmp_path, capsys):
    code, _, err = _run(["fit", csv, "--target", "y", "--features", "x1,y", "--model", "ols",
                         "--out", tmp_path / "o"], capsys)
    assert code == 1 and "'y'" in err


def test_constant_column_is_dropped_with_a_warning(tmp_path, capsys):
    frame = _table()
    frame["const_col"] = 3.0
    code, out, err = _run(["fit", _write(tmp_path, frame), "--target", "y", "--features",
                           "x1,const_col", "--model", "ols", "--out", tmp_path / "o"], capsys)
    assert code == 0
    assert re.search(r"^chainrule fit: warning: .*'const_col'.*dropped", err, flags=re.M), err
    assert "const_col" not in re.findall(r"^(\S+)\s+-?\d", out, flags=re.M)


def test_unknown_column_file_and_model_errors(csv, tmp_path, capsys):
    code, _, err = _run(["fit", csv, "--target", "nope", "--model", "ols", "--out", tmp_path / "o"], capsys)
    assert code == 1 and "nope" in err
    code, _, err = _run(["fit", tmp_path / "missing.csv", "--target", "y", "--model", "ols"], capsys)
    assert code == 1 and "missing.csv" in err
    with pytest.raises(SystemExit) as exc:
        main(["fit", str(csv), "--target", "y", "--model", "forest"])
    assert exc.value.code == 2


def test_predict_rejects_data_without_the_model_columns(csv, tmp_path, capsys):
    out_dir = tmp_path / "m"
    assert _run(["fit", csv, "--target", "y", "--features", "x1,x2,region", "--model", "ols",
                 "--out", out_dir], capsys)[0] == 0
    frame = _table().drop(columns=["region"])
    code, _, err = _run(["predict", out_dir, _write(tmp_path, frame), "--out", tmp_path / "p.csv"], capsys)
    assert code == 1 and "region" in err
    code, _, err = _run(["predict", tmp_path / "nowhere", csv], capsys)
    assert code == 1 and "model.json" in err


# --------------------------------------------------------------------------- compare, datasets, help

def test_compare_optimizers_trains_each_from_one_initialization(csv, tmp_path, capsys):
    out_dir = tmp_path / "cmp"
    code, out, _ = _run(["compare-optimizers", csv, "--target", "y", "--features", "x1,x2",
                         "--model", "ols", "--optimizers", "gd,momentum,adam", "--epochs", "4",
                         "--out", out_dir], capsys)
    assert code == 0
    for name in ("gd", "momentum", "adam"):
        assert re.search(rf"^│ {name}\s", out, flags=re.M), out
    metrics = json.loads((out_dir / "metrics.json").read_text())["optimizers"]
    assert set(metrics) == {"gd", "momentum", "adam"}
    html, images = _report_images(out_dir / "report.html")
    assert ">Optimizer comparison" in html and len(images) == 1


def test_compare_optimizers_start_from_the_same_weights(csv, tmp_path):
    import argparse

    from chainrule.cli import compare, preparation
    args = argparse.Namespace(data=str(csv), target="y", features=["x1", "x2"], dropna=False,
                              impute=None, val_split=0.2, seed=3, model="ols", hidden=[8],
                              activation="relu", dropout=0.0, batchnorm=False, lr=None,
                              epochs=2, batch_size=16, optimizers=["sgd", "adam"])
    data = preparation.prepare_data(args, standardize=True)
    runs = compare.compare(args, data)
    # the first step's loss is computed before any update: equal for every optimizer
    assert runs["sgd"]["loss"][0] == runs["adam"]["loss"][0]
    assert len(runs["sgd"]["time"]) == len(runs["sgd"]["step"]) == 2 * 12


def test_unknown_optimizer_is_a_usage_error(csv):
    with pytest.raises(SystemExit) as exc:
        main(["compare-optimizers", str(csv), "--target", "y", "--model", "ols",
              "--optimizers", "gd,lbfgs"])
    assert exc.value.code == 2


def test_datasets_lists_the_bundled_data(capsys):
    from chainrule import datasets
    code, out, _ = _run(["datasets"], capsys)
    assert code == 0
    for name in datasets.names():
        assert name in out


@pytest.mark.parametrize("command", ["fit", "predict", "compare-optimizers", "datasets", "demo"])
def test_every_subcommand_has_help_with_an_example(command, capsys):
    with pytest.raises(SystemExit) as exc:
        main([command, "--help"])
    assert exc.value.code == 0
    assert "example" in capsys.readouterr().out


def test_model_and_target_must_match(csv, tmp_path, capsys):
    code, _, err = _run(["fit", csv, "--target", "grade", "--model", "ols", "--out", tmp_path / "o"], capsys)
    assert code == 1 and "'grade' holds categories (high, low)" in err and "logit" in err
    code, _, err = _run(["fit", csv, "--target", "tier", "--features", "x1,x2", "--model", "logit",
                         "--out", tmp_path / "o"], capsys)
    assert code == 1 and "has 3: bronze, gold, silver" in err and "mnlogit" in err
    assert "Traceback" not in err and "ValueError" not in err
