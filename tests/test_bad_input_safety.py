"""Bad input and safety (issue 19): each case a clear one-paragraph error (naming what is
wrong and what to do) or the correct result, never a traceback. One table entry per case."""
import re

import numpy as np
import pytest

from chainrule import stats
from chainrule.cli import main

_rng = np.random.default_rng(0)
X = _rng.normal(size=(40, 2))
Y = X @ np.array([1.0, -2.0]) + _rng.normal(size=40)
BIG, SMALL = X * [1e300, 1.0], X * [1e-300, 1.0]



def table(names, cases):
    """One parametrized case per table row (id, *values)."""
    values = [case[1:] if "," in names else case[1] for case in cases]
    return pytest.mark.parametrize(names, values, ids=[case[0] for case in cases])


# --------------------------------------------------------------------------- estimators: scale
SCALE_CASES = [
    ("ols-big-x", lambda: stats.OLS().fit(BIG, Y), r"OLS: X: column 'x1' has values of order 1e300 .*overflow.*resc"),
    ("ols-small-x", lambda: stats.OLS().fit(SMALL, Y), r"OLS: X: column 'x1' has values of order 1e-300 .*underflow"),
    ("ols-big-y", lambda: stats.OLS().fit(X, Y * 1e300), r"OLS: y: column 'y' has values of order 1e30\d .*rescale"),
    ("ols-stream-big-x", lambda: stats.OLS().fit_stream(lambda: iter([(BIG[:20], Y[:20]), (BIG[20:], Y[20:])])),
     r"OLS: X: column 'x1' has values of order 1e300"),
    ("ridge-big-x", lambda: stats.Ridge().fit(BIG, Y), r"Ridge: X: column 'x1' has values of order 1e300"),
    ("ridge-small-x", lambda: stats.Ridge().fit(SMALL, Y), r"Ridge: X: column 'x1' has values of order 1e-300"),
    ("lasso-big-x", lambda: stats.Lasso(alpha=0.1).fit(BIG, Y), r"Lasso: X: column 'x1' has values of order 1e300"),
    ("lasso-small-y", lambda: stats.Lasso(alpha=0.1).fit(X, Y * 1e-300), r"Lasso: y: .* of order 1e-30\d .*underflow"),
    ("pca-big-x", lambda: stats.PCA(2).fit(BIG), r"PCA: X: column 'x1' has values of order 1e300"),
    ("pcr-small-x", lambda: stats.PCR(n_components=1).fit(SMALL, Y), r"PCR: X: column 'x1' has values of order 1e-300"),
]


@table("fit, message", SCALE_CASES)
def test_scale_problems_are_named(fit, message):
    with pytest.raises(ValueError, match=message):
        fit()


# --------------------------------------------------------------------------- estimators: degenerate data
def _nan(value):
    return value != value


DEGENERATE_CASES = [
    ("ols-zero-y", lambda: stats.OLS().fit(X, np.zeros(40)), lambda m: np.all(m.params == 0) and _nan(m.fvalue)),
    ("ols-zero-y-hc1", lambda: stats.OLS(cov_type="HC1").fit(X, np.zeros(40)), lambda m: _nan(m.fvalue)),
    ("ols-zero-y-summary", lambda: stats.OLS().fit(X, np.zeros(40)).summary(), lambda s: "OLS" in str(s)),
    ("ols-moderate-scale", lambda: stats.OLS().fit(X * [1e100, 1e-100], Y),
     lambda m: np.allclose(m.params * [1, 1e100, 1e-100], stats.OLS().fit(X, Y).params, rtol=1e-9)),
]


@table("fit, check", DEGENERATE_CASES)
def test_degenerate_data_gives_the_correct_result(fit, check):
    assert check(fit())


OLS_ERRORS = [
    ("ols-zero-rows", lambda: stats.OLS().fit(np.zeros((0, 2)), np.zeros(0)), r"0 sample\(s\)"),
]


@table("fit, message", OLS_ERRORS)
def test_degenerate_data_is_refused_clearly(fit, message):
    with pytest.raises(ValueError, match=message):
        fit()


# --------------------------------------------------------------------------- command line
def _run(argv, capsys):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def _frame_csv(tmp_path, columns, name="data.csv"):
    import pandas as pd

    path = tmp_path / name
    pd.DataFrame(columns).to_csv(path, index=False)
    return path


CLI_SCALE_CASES = [
    ("fit-ols-big", "ols", {"a": X[:, 0] * 1e300, "b": X[:, 1], "y": Y}, r"column 'a' has values of order 1e300"),
    ("fit-lasso-small", "lasso", {"a": X[:, 0] * 1e-300, "b": X[:, 1], "y": Y}, r"column 'a' .* of order 1e-300"),
    ("fit-ols-chunks-small", "ols --chunksize 7", {"a": X[:, 0] * 1e-300, "b": X[:, 1], "y": Y},
     r"column 'a' .* of order 1e-300"),
    ("fit-pcr-big", "pcr", {"a": X[:, 0] * 1e300, "b": X[:, 1], "y": Y}, r"column 'a' has values of order 1e300"),
    ("fit-ridge-big-standardized", "ridge", {"a": X[:, 0] * 1e300, "b": X[:, 1], "y": Y},
     r"column 'a' has values of order 1e300 .* standard deviation cannot be computed"),
    ("fit-mlp-chunks-big", "mlp --chunksize 7 --epochs 1", {"a": X[:, 0] * 1e300, "b": X[:, 1], "y": Y},
     r"column 'a' has values of order 1e155 or more"),
]


@table("model, columns, message", CLI_SCALE_CASES)
def test_cli_scale_problems_are_one_paragraph(model, columns, message, tmp_path, capsys):
    code, _, err = _run(["fit", _frame_csv(tmp_path, columns), "--target", "y", "--model", *model.split(),
                         "--out", tmp_path / "o"], capsys)
    assert code == 1 and re.search(message, err) and "Traceback" not in err, err


# --------------------------------------------------------------------------- checkpoints and saved files
def _trainer(path, optimizer="sgd"):
    import chainrule as cr
    from chainrule import nn, optim
    from chainrule.train import Trainer

    cr.manual_seed(0)
    model = nn.Linear(3, 1)
    opt = (optim.SGD(model.parameters(), lr=0.1, momentum=0.9) if optimizer == "sgd"
           else optim.Adam(model.parameters(), lr=0.01) if optimizer == "adam"
           else optim.SGD(model.parameters(), lr=0.1))
    return Trainer(model, nn.MSELoss(), opt, checkpoint_path=path, verbose=0)


def _data():
    import chainrule as cr

    return cr.tensor(X[:16, :1].repeat(3, 1).astype("float32")), cr.tensor(Y[:16, None].astype("float32"))


@pytest.fixture()
def checkpoint(tmp_path):
    path = tmp_path / "run.safetensors"
    _trainer(path).fit(_data(), epochs=1, batch_size=8)
    return path


def _damage(path, how):
    blob = path.read_bytes()
    target = path.with_name(f"{how}.safetensors")
    target.write_bytes({"truncated": blob[: len(blob) // 2], "empty": b"", "zip": b"PK\x03\x04" + bytes(64),
                        "csv": b"a,b\n1,2\n", "whole": blob}[how])
    return target


FILE_CASES = [
    ("load-truncated", "truncated", "load", r"Trainer\.load: '.*truncated\.safetensors' is truncated.*corrupt"),
    ("resume-truncated", "truncated", "resume", r"'.*truncated\.safetensors' is truncated.*corrupt"),
    ("load-empty", "empty", "load", r"'.*empty\.safetensors' is empty \(0 bytes\): it is corrupt"),
    ("load-zip", "zip", "load", r"'.*zip\.safetensors' is not a safetensors file.*not a chainrule model"),
    ("resume-csv", "csv", "resume", r"'.*csv\.safetensors' is not a safetensors file.*not a chainrule model"),
    ("chainrule-load-trainer-file", "whole", "cr.load", r"'.*whole\.safetensors' is a Trainer checkpoint"),
    ("resume-adam-from-sgd", "whole", "resume-adam", r"optimizer SGD but this Trainer has Adam"),
    ("load-adam-from-sgd", "whole", "load-adam", r"Trainer\.load: the checkpoint was written .* SGD .* Adam"),
]


@table("how, action, message", FILE_CASES)
def test_damaged_or_foreign_files_are_named(checkpoint, how, action, message):
    import chainrule as cr

    path = _damage(checkpoint, how)
    trainer = _trainer(None, "adam" if action.endswith("adam") else "sgd")
    run = {"load": lambda: trainer.load(path), "load-adam": lambda: trainer.load(path),
           "resume": lambda: trainer.fit(_data(), epochs=2, batch_size=8, resume_from=path),
           "resume-adam": lambda: trainer.fit(_data(), epochs=2, batch_size=8, resume_from=path),
           "cr.load": lambda: cr.load(path)}[action]
    with pytest.raises(ValueError, match=message):
        run()


def test_resume_refuses_other_hyperparameter_names(checkpoint):
    from chainrule.train.checkpointing import read_checkpoint, restore_model_state

    saved = read_checkpoint(checkpoint, "test")
    del saved["trainer"]["optimizer"]  # a checkpoint from before the type was recorded
    saved["optimizer"]["param_groups"][0]["betas"] = [0.9, 0.999]
    with pytest.raises(ValueError, match=r"hyper-parameters \[.*'betas'.*\] \(group 0\) but this Trainer's SGD"):
        restore_model_state(_trainer(None), saved, "Trainer.load")


STALE_CASES = [
    ("save-cleans", "save", True),
    ("resume-cleans", "resume", True),
    ("live-process-kept", "live", False),
]


@table("when, removed", STALE_CASES)
def test_temporary_file_of_a_killed_write_is_cleaned(checkpoint, when, removed):
    import os

    pid = os.getpid() if when == "live" else 999_999_999  # beyond any pid: a process that is gone
    stale = checkpoint.with_name(f".tmp-{checkpoint.name}-{pid}-abc123")
    stale.write_bytes(b"half a checkpoint")
    if when == "resume":  # a Trainer that writes no checkpoint: the resume itself cleans
        _trainer(None).fit(_data(), epochs=2, batch_size=8, resume_from=checkpoint)
    else:
        _trainer(checkpoint).fit(_data(), epochs=1, batch_size=8)
    assert stale.exists() is not removed


# --------------------------------------------------------------------------- fit --out and the saved model pair
@pytest.fixture()
def fitted(tmp_path, capsys):
    data = _frame_csv(tmp_path, {"a": X[:, 0], "b": X[:, 1], "y": Y})
    out = tmp_path / "model"
    code, _, err = _run(["fit", data, "--target", "y", "--model", "ols", "--out", out], capsys)
    assert code == 0, err
    return data, out


def test_fit_into_a_directory_holding_a_model_is_refused_unless_overwrite(fitted, capsys):
    data, out = fitted
    before = (out / "model.json").read_bytes()
    with pytest.raises(SystemExit) as exc:
        main(["fit", str(data), "--target", "y", "--model", "ridge", "--out", str(out)])
    err = capsys.readouterr().err
    assert exc.value.code == 2 and "Traceback" not in err
    assert re.search(r"--out '.*model' already holds a model .*pass --overwrite", err), err
    assert (out / "model.json").read_bytes() == before  # nothing was touched
    code, _, _ = _run(["fit", data, "--target", "y", "--model", "ridge", "--out", out, "--overwrite"], capsys)
    assert code == 0 and b'"ridge"' in (out / "model.json").read_bytes()


def _replace_weights_with_another_fit(out, data, tmp_path, capsys):
    other = tmp_path / "other"
    assert _run(["fit", data, "--target", "y", "--model", "ridge", "--out", other], capsys)[0] == 0
    (out / "model.safetensors").write_bytes((other / "model.safetensors").read_bytes())


MODEL_FILE_CASES = [
    ("weights-truncated", lambda out, *_: _cut(out / "model.safetensors"),
     r"do not belong together"),  # the checksum catches it first
    ("weights-foreign", lambda out, *_: (out / "model.safetensors").write_bytes(b"PK\x03\x04" + bytes(64)),
     r"do not belong together"),
    ("mismatched-pair", _replace_weights_with_another_fit, r"model\.safetensors' and '.*model\.json' do not belong"),
    ("spec-corrupt", lambda out, *_: _cut(out / "model.json"), r"model\.json' is corrupt or not a chainrule model"),
    ("spec-foreign", lambda out, *_: (out / "model.json").write_text("[1, 2]"), r"is not a chainrule model"),
    ("weights-truncated-old-spec", lambda out, *_: (_drop_checksum(out), _cut(out / "model.safetensors")),
     r"model\.safetensors' is truncated.*corrupt"),
    ("weights-foreign-old-spec", lambda out, *_: (_drop_checksum(out), (out / "model.safetensors").write_bytes(
        b"a,b\n1,2\n")), r"model\.safetensors' is not a safetensors file.*not a chainrule model"),
]


def _cut(path):
    blob = path.read_bytes()
    path.write_bytes(blob[: len(blob) // 2])


def _drop_checksum(out):
    import json

    spec = json.loads((out / "model.json").read_text())
    del spec["weights_sha256"]  # a model written before the pair was checked
    (out / "model.json").write_text(json.dumps(spec))


@table("damage, message", MODEL_FILE_CASES)
def test_predict_names_a_damaged_or_mismatched_model(fitted, tmp_path, capsys, damage, message):
    data, out = fitted
    damage(out, data, tmp_path, capsys)
    code, _, err = _run(["predict", out, data, "--out", tmp_path / "p.csv"], capsys)
    assert code == 1 and re.search(message, err) and "Traceback" not in err and err.count("\n") == 1, err


# --------------------------------------------------------------------------- tables: delimiters, dropna
def _table_frame():
    import pandas as pd

    return pd.DataFrame({"a": X[:, 0], "b": X[:, 1], "y": Y})


def _write_text(tmp_path, name, frame, **to_csv):
    path = tmp_path / name
    frame.to_csv(path, index=False, **to_csv)
    return path


DELIMITER_CASES = [
    ("semicolon", {"sep": ";"}, r"header has no comma but ';': read with ';' as the delimiter$"),
    ("semicolon-decimal-comma", {"sep": ";", "decimal": ","}, r"read with ';' as the delimiter and decimal commas"),
    ("tab-in-a-csv", {"sep": "\t"}, r"header has no comma but a tab"),
    ("pipe", {"sep": "|"}, r"header has no comma but '\|'"),
]


@table("to_csv, warning", DELIMITER_CASES)
def test_csv_delimiter_is_detected(tmp_path, capsys, to_csv, warning):
    from chainrule.tabular import read_table

    frame = _table_frame()
    path = _write_text(tmp_path, "data.csv", frame, **to_csv)
    with pytest.warns(UserWarning, match=warning):
        read = read_table(path)
    np.testing.assert_allclose(read.to_numpy(), frame.to_numpy(), rtol=1e-15)
    path = _write_text(tmp_path, "again.csv", frame, **to_csv)  # (announced once per file)
    code, out, err = _run(["fit", path, "--target", "y", "--model", "ols", "--out", tmp_path / "o"], capsys)
    assert code == 0 and "2 features" in out and re.search(warning.rstrip("$"), err), err


def _with_missing(pattern):
    frame = _table_frame()
    if pattern == "one-empty-column":
        frame["c"] = np.nan
    else:  # a and b missing in alternate rows: together every row
        frame.loc[::2, "a"] = np.nan
        frame.loc[1::2, "b"] = np.nan
    return frame


DROPNA_CASES = [
    ("column-missing-everywhere", "one-empty-column", [], r"column\(s\) 'c' have no value in any of the 40 rows"),
    ("columns-covering-every-row", "alternate", [],
     r"'a' \(20 of 40 rows missing\), 'b' \(20 of 40 rows missing\) together cover every row"),
    ("chunked", "one-empty-column", ["--chunksize", "7"], r"column\(s\) 'c' have no value in any of the 40 rows"),
]


@table("pattern, flags, message", DROPNA_CASES)
def test_dropna_that_removes_every_row_names_the_column(tmp_path, capsys, pattern, flags, message):
    path = _write_text(tmp_path, "data.csv", _with_missing(pattern))
    code, _, err = _run(["fit", path, "--target", "y", "--model", "ols", "--dropna", "--out", tmp_path / "o",
                         *flags], capsys)
    assert code == 1 and re.search(message, err) and "Traceback" not in err and err.count("\n") == 1, err


# --------------------------------------------------------------------------- tables: column kinds
def _with_column(name, values):
    frame = _table_frame()
    frame[name] = values
    return frame


_N = len(Y)
COLUMN_CASES = [
    ("parquet-list", "data.parquet", "tags", [[1, 2]] * _N, r"column 'tags' holds lists \(arrays\).*flatten it"),
    ("parquet-struct", "data.parquet", "s", [{"u": 1, "v": 2.0}] * _N, r"column 's' holds structs \(records\)"),
    ("dates-mixed-formats", "data.csv", "when", ["2020-01-03", "03/04/2021", "5 Jan 2022", "January 6, 2023"] * 10,
     r"column 'when' holds dates/times.*derive numeric"),
    ("dates-day-first-with-times", "data.csv", "when", ["4.3.2021 8:30", "2021/3/5 13:45"] * 20,
     r"column 'when' holds dates/times"),
    ("dates-iso-still", "data.csv", "when", ["2020-01-03", "2021-03-04"] * 20, r"column 'when' holds dates/times"),
]


@table("name, column, values, message", COLUMN_CASES)
def test_unusable_columns_are_named_and_refused(tmp_path, capsys, name, column, values, message):
    frame = _with_column(column, values)
    path = tmp_path / name
    frame.to_parquet(path) if name.endswith(".parquet") else frame.to_csv(path, index=False)
    code, _, err = _run(["fit", path, "--target", "y", "--model", "ols", "--out", tmp_path / "o"], capsys)
    assert code == 1 and re.search(message, err) and "Traceback" not in err and err.count("\n") == 1, err


NOT_DATES = [("versions", ["1.2.3", "2.0.1"] * 20), ("month-names", ["May", "June"] * 20),
             ("codes", ["a-1", "b-2"] * 20)]


@table("values", NOT_DATES)
def test_text_that_is_not_a_date_is_not_called_one(values):
    import pandas as pd

    from chainrule.tabular.inference import infer_kind

    assert infer_kind(pd.Series(values, dtype=object), "c") == "categorical"


LEADING_ZERO_CASES = [
    ("zip-code", [f"{i:05d}" for i in range(_N)], [], r"'code' \(e\.g\. '00000'\) are written with leading"),
    ("chunked", [f"{i:05d}" for i in range(_N)], ["--chunksize", "7"], r"'code' .* leading zeros"),
    ("no-zeros", [str(1000 + i) for i in range(_N)], [], None),
    ("decimals-are-not-ids", [f"0.{i}5" for i in range(_N)], [], None),
]


@table("codes, flags, warning", LEADING_ZERO_CASES)
def test_identifier_with_leading_zeros_gets_a_warning(tmp_path, capsys, codes, flags, warning):
    path = tmp_path / "data.csv"
    _with_column("code", codes).to_csv(path, index=False)
    code, _, err = _run(["fit", path, "--target", "y", "--model", "ols", "--out", tmp_path / "o", *flags], capsys)
    assert code == 0, err
    found = re.findall(r"warning: .*leading zeros.*", err)
    assert (len(found) == 1 and re.search(warning, found[0])) if warning else not found, err
