"""Bad input on the command line (issue 19): every error a user can meet is one paragraph after
"chainrule CMD: error: ", without an exception class name and without a traceback (exit code 1);
the robust F statistic of a perfect fit is a number (inf), never a printed NaN. One table entry per case."""
import re

import numpy as np
import pandas as pd
import pytest

from chainrule import stats
from chainrule.cli import error_paragraph, main

_rng = np.random.default_rng(0)
X = _rng.normal(size=(30, 2))
Y = X @ np.array([1.0, -2.0]) + _rng.normal(size=30)


def _csv(tmp_path, columns):
    path = tmp_path / "data.csv"
    pd.DataFrame(columns).to_csv(path, index=False)
    return path


LABELS = np.where(X[:, 0] > 0, "yes", "no")
CLI_CASES = [
    ("scale-ols", {"a": X[:, 0] * 1e300, "b": X[:, 1], "y": Y}, ["--model", "ols"],
     r"^chainrule fit: error: OLS: X: column 'a' has values of order 1e300 .* rescale it"),
    ("scale-ridge", {"a": X[:, 0] * 1e300, "b": X[:, 1], "y": Y}, ["--model", "ridge"],
     r"^chainrule fit: error: column 'a' has values of order 1e300 .*standard deviation cannot be computed"),
    ("scale-lasso-raw", {"a": X[:, 0] * 1e300, "b": X[:, 1], "y": Y}, ["--model", "lasso", "--no-standardize"],
     r"^chainrule fit: error: LassoCV: X: column 'a' has values of order 1e300"),
    ("constant-target-ols", {"a": X[:, 0], "b": X[:, 1], "y": np.zeros(30)}, ["--model", "ols", "--cov-type", "HC1"],
     r"^chainrule fit: error: the target 'y' takes the single value 0 on all 30 training rows: there is nothing"),
    ("constant-target-mlp", {"a": X[:, 0], "b": X[:, 1], "y": np.full(30, 2.5)}, ["--model", "mlp", "--epochs", "1"],
     r"^chainrule fit: error: the target 'y' takes the single value 2.5 on all 24 training rows"),
    ("string-target-ridge", {"a": X[:, 0], "b": X[:, 1], "y": LABELS}, ["--model", "ridge"],
     r"'y' holds categories \(no, yes\); use --model logit --penalty l2 \(the classifier with the same penalty"),
    ("string-target-lasso", {"a": X[:, 0], "b": X[:, 1], "y": LABELS}, ["--model", "lasso"],
     r"'y' holds categories \(no, yes\); use --model logit --penalty l1"),
    ("string-target-elasticnet", {"a": X[:, 0], "b": X[:, 1], "y": LABELS}, ["--model", "elasticnet"],
     r"'y' holds categories \(no, yes\); use --model logit --penalty elasticnet .* or mnlogit or mlp"),
]


@pytest.mark.parametrize("columns, options, message", [c[1:] for c in CLI_CASES], ids=[c[0] for c in CLI_CASES])
def test_bad_input_is_one_paragraph_without_a_class_name(columns, options, message, tmp_path, capsys):
    code = main(["fit", str(_csv(tmp_path, columns)), "--target", "y", *options, "--out", str(tmp_path / "o")])
    err = capsys.readouterr().err
    assert code == 1, err
    assert re.search(message, err), err
    assert err.strip().count("\n") == 0 and "Traceback" not in err
    assert not re.search(r"\b[A-Z][A-Za-z]*(Error|Exception):", err), err


def test_a_zero_one_target_keeps_the_linear_probability_note(tmp_path, capsys):
    path = _csv(tmp_path, {"a": X[:, 0], "b": X[:, 1], "y": (X[:, 0] > 0).astype(int)})
    assert main(["fit", str(path), "--target", "y", "--model", "ridge", "--out", str(tmp_path / "o")]) == 0
    out = capsys.readouterr().out
    assert "fits a linear probability model" in out and "--model logit --penalty l2" in out


PARAGRAPHS = [
    ("value-error", ValueError("Lasso: alpha: expected a number >= 0; got -1"),
     "Lasso: alpha: expected a number >= 0; got -1 (run again with --debug to see the traceback)"),
    ("multi-line", ValueError("first line\n  second line"), "first line second line (run again with --debug to see "
                                                              "the traceback)"),
    ("missing-file", FileNotFoundError(2, "No such file or directory", "x.csv"),
     "No such file or directory: 'x.csv' (run again with --debug to see the traceback)"),
    ("memory", MemoryError(), "out of memory; try --chunksize ROWS (ols, logit, mlp) or a smaller --batch-size "
                              "(run again with --debug to see the traceback)"),
    ("bug", KeyError("x"), "internal error (KeyError: 'x'); this is a bug in chainrule: please report it with the "
                           "traceback that --debug shows"),
]


@pytest.mark.parametrize("exc, expected", [c[1:] for c in PARAGRAPHS], ids=[c[0] for c in PARAGRAPHS])
def test_error_paragraph(exc, expected):
    assert error_paragraph(exc) == expected


# the exact perfect fit: y = 1 + x1 + 2 x2 on small integers, so the residuals are exactly 0
EXACT_X = np.array([[1.0, 0], [0, 1], [1, 1], [2, 0], [0, 2], [3, 1]])
EXACT_Y = EXACT_X @ [1.0, 2.0] + 1
F_CASES = [(cov, EXACT_Y, np.inf, 0.0) for cov in ("nonrobust", "HC0", "HC1", "HC2", "HC3")] + [
    ("HC1", np.zeros(6), None, None), ("nonrobust", np.zeros(6), None, None)]


@pytest.mark.parametrize("cov_type, y, fvalue, pvalue", F_CASES,
                         ids=[f"{c[0]}-{'zero-y' if c[2] is None else 'perfect'}" for c in F_CASES])
def test_the_f_statistic_of_a_perfect_fit(cov_type, y, fvalue, pvalue):
    model = stats.OLS(cov_type=cov_type).fit(EXACT_X, y)
    assert np.max(np.abs(model.resid)) == 0.0
    text = str(model.summary())
    if fvalue is None:  # an all-zero y: F = 0/0, undefined (statsmodels: NaN), printed as such, not "nan"
        assert model.fvalue != model.fvalue and "F-statistic:                 undefined" in text
    else:  # b ≠ 0 with a zero covariance: the Wald statistic's limit, inf, p-value 0
        assert model.fvalue == fvalue and model.f_pvalue == pvalue and "F-statistic:                       inf" in text
    assert re.search(r"F-statistic:\s+nan", text) is None
