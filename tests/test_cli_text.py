"""``chainrule fit --text COLUMN`` and ``chainrule predict`` on its model: every text network learns
a label that depends on words (well above chance), regression and classification, the saved
model predicts what the fitted one did, the tokenizer saw only the training rows, and the
usage errors (exit code 2)."""
import json
import string

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("tokenizers")

from chainrule.cli import main, parse_arguments  # noqa: E402
from chainrule.cli.fit import fit_and_write  # noqa: E402

POSITIVE = ["great", "excellent", "loved", "wonderful", "superb"]
NEGATIVE = ["awful", "terrible", "hated", "boring", "dreadful"]
NEUTRAL = ["average", "okay", "fine", "plain", "middling"]
FILLER = ["the", "movie", "plot", "was", "acting", "and", "film", "story", "really", "quite", "a", "it"]
# small networks and few epochs: the suite runs on a shared machine
SMALL = ["--embedding-dim", "16", "--epochs", "12", "--lr", "0.02", "--batch-size", "16", "--seed", "0"]
SIZES = {"mlp": ["--hidden", "16"], "textcnn": ["--filters", "8", "--kernel-sizes", "2,3"], "gru": [],
         "transformer": ["--heads", "2"]}


def marker(i: int) -> str:
    """A word unique to row i (qxaa, qxab, …), to see which rows the tokenizer read."""
    return "qx" + string.ascii_lowercase[i // 26 % 26] + string.ascii_lowercase[i % 26]


def corpus(n: int, classes: int = 2, seed: int = 0) -> pd.DataFrame:
    """Short reviews whose label is the kind of its sentiment words; ``stars`` a noisy score of it."""
    rng = np.random.default_rng(seed)
    words = [NEGATIVE, POSITIVE, NEUTRAL][:classes]
    rows = []
    for i in range(n):
        label = int(rng.integers(classes))
        text = list(rng.choice(FILLER, size=int(rng.integers(3, 7))))
        for _ in range(int(rng.integers(1, 3))):
            text.insert(int(rng.integers(len(text) + 1)), str(rng.choice(words[label])))
        text.append(marker(i))
        rows.append({"review": " ".join(text).capitalize() + ".", "title": str(rng.choice(words[label])).upper(),
                     "label": ["negative", "positive", "neutral"][label], "stars": 1 + 3 * label + rng.normal(0, 0.3),
                     "length": float(len(text)), "noise": rng.normal()})
    return pd.DataFrame(rows)


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    directory = tmp_path_factory.mktemp("text")
    paths = {}
    for name, frame in (("binary", corpus(160)), ("multiclass", corpus(180, classes=3, seed=1))):
        paths[name] = directory / f"{name}.csv"
        frame.to_csv(paths[name], index=False)
    return paths


def _fit(argv):
    args = parse_arguments([str(a) for a in argv])
    return fit_and_write(args)


def _predict(model_dir, frame, tmp_path):
    rows_csv, out = tmp_path / "rows.csv", tmp_path / "predictions.csv"
    frame.to_csv(rows_csv, index=False)
    assert main(["predict", str(model_dir), str(rows_csv), "--out", str(out)]) == 0
    return pd.read_csv(out)


@pytest.mark.slow
@pytest.mark.parametrize("model", ["mlp", "textcnn", "gru", "transformer"])
def test_binary_classification_learns_the_words_and_predict_repeats_it(model, data, tmp_path, capsys):
    out = tmp_path / model
    fitted, outcome, metrics = _fit(["fit", data["binary"], "--text", "review", "--target", "label", "--model", model,
                                     "--out", out, *SMALL, *SIZES[model]])
    printed = capsys.readouterr().out
    assert "trained on the 128 training documents only" in printed and "validation" in printed
    assert fitted.task == "binary" and fitted.classes == ["negative", "positive"]
    assert metrics["validation"]["accuracy"] >= 0.85  # chance: about 0.5
    assert (out / "tokenizer.json").is_file()
    spec = json.loads((out / "model.json").read_text())
    assert spec["model"] == model and spec["text"]["columns"] == ["review"]
    assert spec["text"]["training_documents"] == 128 and spec["feature_names"] == []

    frame = pd.read_csv(data["binary"])
    predictions = _predict(out, frame.iloc[fitted.val_rows].drop(columns=["label"]), tmp_path)
    at_fit = outcome.predictor.predict_scores(fitted.X_val)
    np.testing.assert_allclose(predictions["probability[positive]"], at_fit, rtol=1e-6, atol=1e-7)
    accuracy = np.mean(predictions["prediction"].to_numpy() == frame["label"].to_numpy()[fitted.val_rows])
    assert accuracy == pytest.approx(metrics["validation"]["accuracy"])


@pytest.mark.slow
@pytest.mark.parametrize("model", ["mlp", "gru"])
def test_regression_with_a_numeric_feature_beside_the_text(model, data, tmp_path):
    out = tmp_path / model
    fitted, outcome, metrics = _fit(["fit", data["binary"], "--text", "review", "--features", "length,noise",
                                     "--target", "stars", "--model", model, "--out", out, *SMALL, *SIZES[model]])
    assert fitted.task == "regression" and metrics["validation"]["r2"] > 0.5  # chance: 0; 128 rows, so it overfits
    spec = json.loads((out / "model.json").read_text())
    assert spec["feature_names"] == ["length", "noise"] and spec["text"]["features"] == ["length", "noise"]
    assert fitted.X_train.shape[1] == spec["text"]["tokens_per_document"] + 2
    frame = pd.read_csv(data["binary"]).iloc[fitted.val_rows].drop(columns=["stars"])
    predictions = _predict(out, frame, tmp_path)
    np.testing.assert_allclose(predictions["prediction"], outcome.predictor.predict_scores(fitted.X_val),
                               rtol=1e-6, atol=1e-6)


@pytest.mark.slow
def test_multiclass_textcnn_and_two_text_columns(data, tmp_path):
    out = tmp_path / "cnn"
    fitted, outcome, metrics = _fit(["fit", data["multiclass"], "--text", "review,title", "--target", "label",
                                     "--model", "textcnn", "--out", out, *SMALL,
                                     *SIZES["textcnn"]])
    assert fitted.task == "multiclass" and len(fitted.classes) == 3
    assert metrics["validation"]["accuracy"] >= 0.7  # chance: about 1/3
    spec = json.loads((out / "model.json").read_text())
    assert spec["text"]["columns"] == ["review", "title"] and spec["text"]["tokenizer"] == "bpe"  # the default
    frame = pd.read_csv(data["multiclass"]).iloc[fitted.val_rows].drop(columns=["label"])
    predictions = _predict(out, frame, tmp_path)
    at_fit = outcome.predictor.predict_scores(fitted.X_val)
    for k, label in enumerate(fitted.classes):
        np.testing.assert_allclose(predictions[f"probability[{label}]"], at_fit[:, k], rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("tokenizer", ["bpe", "wordpiece"])
def test_the_tokenizer_saw_only_the_training_rows(tokenizer, data, tmp_path):
    out = tmp_path / "mlp"
    fitted, _, _ = _fit(["fit", data["binary"], "--text", "review", "--target", "label", "--model", "mlp",
                         "--out", out, "--epochs", "1", "--embedding-dim", "4", "--hidden", "4",
                         "--tokenizer", tokenizer])
    assert json.loads((out / "model.json").read_text())["text"]["tokenizer"] == tokenizer
    vocabulary = json.loads((out / "tokenizer.json").read_text())["model"]["vocab"]
    markers = {marker(i) for i in range(160)}
    train = {marker(i) for i in fitted.train_rows}
    assert len(train) == 128 and train <= set(vocabulary)  # every training row's own word is a token
    assert not (markers - train) & set(vocabulary)  # no validation row's


def test_the_same_seed_fits_the_same_model(data, tmp_path):
    runs = [_fit(["fit", data["binary"], "--text", "review", "--target", "label", "--model", "textcnn",
                  "--out", tmp_path / str(run), "--epochs", "2", *SIZES["textcnn"], "--embedding-dim", "4"])
            for run in range(2)]
    assert (tmp_path / "0" / "tokenizer.json").read_text() == (tmp_path / "1" / "tokenizer.json").read_text()
    first, second = (outcome.predictor.predict_scores(fitted.X_val) for fitted, outcome, _ in runs)
    np.testing.assert_array_equal(first, second)


def test_predict_refuses_a_replaced_tokenizer_and_missing_text(data, tmp_path, capsys):
    out = tmp_path / "mlp"
    _fit(["fit", data["binary"], "--text", "review", "--target", "label", "--model", "mlp", "--out", out,
          "--epochs", "1", "--embedding-dim", "4", "--hidden", "4"])
    frame = pd.read_csv(data["binary"])
    rows = tmp_path / "rows.csv"
    frame.drop(columns=["review"]).to_csv(rows, index=False)
    assert main(["predict", str(out), str(rows), "--out", str(tmp_path / "p.csv")]) == 1
    assert "lacks the text column(s) ['review']" in capsys.readouterr().err
    frame.to_csv(rows, index=False)
    (out / "tokenizer.json").write_text((out / "tokenizer.json").read_text().replace("qxaa", "qxzz"))
    assert main(["predict", str(out), str(rows), "--out", str(tmp_path / "p.csv")]) == 1
    assert "is not the tokenizer" in capsys.readouterr().err


def test_empty_and_missing_documents_still_predict(tmp_path):
    frame = corpus(60)
    frame.loc[[3, 7], "review"] = np.nan
    frame.loc[5, "review"] = ""
    path = tmp_path / "data.csv"
    frame.to_csv(path, index=False)
    fitted, outcome, _ = _fit(["fit", path, "--text", "review", "--target", "label", "--model", "gru",
                               "--out", tmp_path / "gru", "--epochs", "1", "--embedding-dim", "4"])
    assert np.all(fitted.X_train[:, 0] == 2)  # [CLS] first: no document is empty
    assert np.isfinite(outcome.predictor.predict_scores(fitted.X_train)).all()


USAGE = [
    (["--model", "ols", "--text", "review"], "--text does not apply to --model ols"),
    (["--model", "ridge", "--text", "review"], "--text does not apply to --model ridge"),
    (["--model", "textcnn"], "--model textcnn reads text: name the text column(s) with --text"),
    (["--model", "gru", "--text", "length"], "--text 'length' is not a text column (dtype float64)"),
    (["--model", "mlp", "--text", "blank"], "--text 'blank' is empty"),
    (["--model", "mlp", "--text", "review", "--features", "review,length"], "also listed in --features"),
    (["--model", "mlp", "--text", "label"], "--text 'label' is the target"),
    (["--model", "mlp", "--text", "absent"], "--text 'absent' is not a column of the data"),
    (["--model", "mlp", "--text", "review,review"], "more than once"),
    (["--model", "mlp", "--text", "review", "--kernel-sizes", "2"], "--kernel-sizes does not apply to --model mlp"),
    (["--model", "textcnn", "--text", "review", "--hidden", "8"], "--hidden does not apply to --model textcnn"),
    (["--model", "gru", "--text", "review", "--heads", "2"], "--heads does not apply to --model gru"),
    (["--model", "mlp", "--vocab-size", "100"], "--vocab-size does not apply to --model mlp"),
    (["--model", "mlp", "--text", "review", "--chunksize", "50"], "--chunksize does not apply to --model mlp"),
    (["--model", "transformer", "--text", "review", "--embedding-dim", "10", "--heads", "4"], "not divisible"),
    (["--model", "mlp", "--text", "review", "--max-length", "1"], "--max-length at least 2"),
    (["--model", "mlp", "--text", "review", "--vocab-size", "3"], "--vocab-size must be at least 4"),
]


@pytest.mark.parametrize("options, message", USAGE)
def test_usage_errors_exit_2(options, message, tmp_path, capsys):
    frame = corpus(40)
    frame["blank"] = ["", " "] * 20
    path = tmp_path / "data.csv"
    frame.to_csv(path, index=False)
    with pytest.raises(SystemExit) as exit_info:
        main(["fit", str(path), "--target", "label", "--out", str(tmp_path / "out"), *options])
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "out" / "model.json").exists()


def test_help_lists_the_text_options(capsys):
    with pytest.raises(SystemExit):
        main(["fit", "--help"])
    help_text = capsys.readouterr().out
    for option in ("--text COL", "--tokenizer", "--vocab-size", "--max-length", "--embedding-dim", "textcnn"):
        assert option in help_text


def test_dropna_and_missing_features_follow_the_other_models(tmp_path, capsys):
    frame = corpus(60)
    frame.loc[[1, 2], "length"] = np.nan
    path = tmp_path / "data.csv"
    frame.to_csv(path, index=False)
    fitted, _, _ = _fit(["fit", path, "--text", "review", "--features", "length", "--target", "label", "--dropna",
                         "--model", "mlp", "--out", tmp_path / "mlp", "--epochs", "1", "--embedding-dim", "4"])
    assert len(fitted.y_train) + len(fitted.y_val) == 58 and not {1, 2} & set(fitted.train_rows)
    assert main(["predict", str(tmp_path / "mlp"), str(path), "--out", str(tmp_path / "p.csv")]) == 0
    assert "2 rows with missing values skipped" in capsys.readouterr().out
    assert 1 not in set(pd.read_csv(tmp_path / "p.csv")["row"]) and len(pd.read_csv(tmp_path / "p.csv")) == 58
