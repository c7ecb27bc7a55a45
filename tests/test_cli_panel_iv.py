"""``chainrule fit --absorb`` and ``--model iv|liml`` (cli/panel_iv.py, issue 22): end to end on the bundled
Grunfeld panel and a simulated IV table, with the numbers of the estimators themselves
(``stats.OLS(absorb=...)``, ``stats.IV2SLS``, ``stats.IVLIML``) and so of pyfixest and linearmodels;
the options refused where they do not apply; ``chainrule predict`` refusing an absorbed fit."""
import json
import re

import numpy as np
import pandas as pd
import pytest

from chainrule import datasets, stats
from chainrule.cli import main
from chainrule.cli.artifacts import load_model


@pytest.fixture(scope="module")
def grunfeld():
    return datasets.load_grunfeld(as_frame=True)


@pytest.fixture(scope="module")
def iv_csv(tmp_path_factory):
    rng = np.random.default_rng(0)
    n = 300
    z1, z2, z3, x, u = rng.normal(size=(5, n))
    d1 = 0.8 * z1 + 0.5 * z2 + 0.5 * u + rng.normal(size=n)
    d2 = 0.6 * z3 - 0.4 * z1 + 0.3 * u + rng.normal(size=n)
    frame = pd.DataFrame({"y": 1 + 2 * d1 - d2 + 0.5 * x + u, "x": x, "d1": d1, "d2": d2, "z1": z1, "z2": z2,
                          "z3": z3, "g": rng.integers(0, 30, n), "h": rng.integers(0, 7, n)})
    path = tmp_path_factory.mktemp("iv") / "iv.csv"
    frame.to_csv(path, index=False)
    return path, frame


def _run(argv, capsys):
    code = main(argv)
    out, err = capsys.readouterr()
    assert code == 0, err
    return out


def _row(out, name):
    """The cells of the coefficient table's row ``name`` (coef, std err, t, P, lower, upper)."""
    match = re.search(rf"^{re.escape(name)}\s+(\S+)\s+(\S+)\s+(\S+)", out, flags=re.M)
    assert match, (name, out)
    return match.groups()


def _check_table(out, results):
    for name, coef, se, t in zip(results.names, results.params, results.bse, results.tvalues):
        assert _row(out, name) == (f"{coef:.4f}", f"{se:.4f}", f"{t:.3f}"), name


# --------------------------------------------------------------------------- --absorb

ABSORB_CASES = [  # (options, estimator's cov_type, groups)
    ([], "nonrobust", None),
    (["--cov-type", "HC1"], "HC1", None),
    (["--cluster", "firm"], "cluster", ["firm"]),
    (["--cluster", "firm,year"], "cluster", ["firm", "year"]),
]


@pytest.mark.parametrize("options, cov_type, groups", ABSORB_CASES)
def test_absorb_equals_the_estimator(options, cov_type, groups, grunfeld, tmp_path, capsys):
    out = _run(["fit", "grunfeld", "--target", "invest", "--model", "ols", "--absorb", "firm,year", *options,
                "--out", str(tmp_path)], capsys)
    X = grunfeld[["value", "capital", "firm", "year"]]
    model = stats.OLS(absorb=["firm", "year"], cov_type=cov_type).fit(
        X, grunfeld.invest, groups=None if groups is None else grunfeld[groups] if len(groups) > 1
        else grunfeld[groups[0]].to_numpy())
    results = model.results_
    _check_table(out, results)
    assert re.search(r"^firm\s+11$", out, flags=re.M) and re.search(r"^year\s+20$", out, flags=re.M)
    assert f"R-squared within:             {results.rsquared_within:.6g}" in out
    assert "Singletons dropped:                  0" in out
    predictor, _, spec = load_model(tmp_path)
    np.testing.assert_allclose(predictor.coef[:, 0], results.params, rtol=0, atol=1e-12)
    assert spec["feature_names"] == ["value", "capital"]  # the absorbed columns are not regressors
    metrics = json.loads((tmp_path / "metrics.json").read_text())["metrics"]["train"]
    assert metrics["r2"] == pytest.approx(results.rsquared, abs=1e-12) and metrics["n"] == 220
    assert "Absorbed fixed effects" in (tmp_path / "report.html").read_text()


def test_absorb_equals_pyfixest(grunfeld, tmp_path, capsys):
    pf = pytest.importorskip("pyfixest")
    _run(["fit", "grunfeld", "--target", "invest", "--model", "ols", "--absorb", "firm,year", "--cluster", "firm",
          "--out", str(tmp_path)], capsys)
    fit = pf.feols("invest ~ value + capital | firm + year", data=grunfeld, vcov={"CRV1": "firm"})
    predictor, _, _ = load_model(tmp_path)
    np.testing.assert_allclose(predictor.coef[:, 0], fit.coef().to_numpy(), rtol=1e-8)


def test_absorb_formula_equals_options(tmp_path, capsys):
    by_options = _run(["fit", "grunfeld", "--target", "invest", "--features", "value,capital", "--model", "ols",
                       "--absorb", "firm,year", "--cluster", "firm", "--out", str(tmp_path / "a")], capsys)
    by_formula = _run(["fit", "grunfeld", "--formula", "invest ~ value + capital | firm + year", "--model", "ols",
                       "--cluster", "firm", "--out", str(tmp_path / "b")], capsys)
    for name in ("value", "capital"):
        assert _row(by_options, name) == _row(by_formula, name)


def test_predict_refuses_an_absorbed_fit(tmp_path, capsys):
    _run(["fit", "grunfeld", "--target", "invest", "--model", "ols", "--absorb", "firm", "--out", str(tmp_path)],
         capsys)
    code = main(["predict", str(tmp_path), "grunfeld", "--out", str(tmp_path / "p.csv")])
    err = capsys.readouterr().err
    assert code == 1
    assert "--absorb firm" in err and "cannot predict new rows" in err and "fixed effects" in err
    assert not (tmp_path / "p.csv").exists()


# --------------------------------------------------------------------------- --model iv | liml

IV_CASES = [  # (model, options, estimator, cov_type, groups)
    ("iv", [], stats.IV2SLS, "nonrobust", None),
    ("iv", ["--cov-type", "HC1"], stats.IV2SLS, "HC1", None),
    ("iv", ["--cluster", "g"], stats.IV2SLS, "cluster", ["g"]),
    ("iv", ["--cluster", "g,h"], stats.IV2SLS, "cluster", ["g", "h"]),
    ("liml", ["--cov-type", "HC0"], stats.IVLIML, "HC0", None),
    ("liml", ["--cluster", "g"], stats.IVLIML, "cluster", ["g"]),
]


@pytest.mark.parametrize("model, options, estimator, cov_type, groups", IV_CASES)
def test_iv_equals_the_estimator(model, options, estimator, cov_type, groups, iv_csv, tmp_path, capsys):
    path, frame = iv_csv
    out = _run(["fit", str(path), "--target", "y", "--features", "x,d1,d2,z1,z2,z3", "--model", model,
                "--endog", "d1,d2", "--instruments", "z1,z2,z3", *options, "--out", str(tmp_path)], capsys)
    fitted = estimator(endog=["d1", "d2"], instruments=["z1", "z2", "z3"], cov_type=cov_type).fit(
        frame[["x", "d1", "d2", "z1", "z2", "z3"]], frame.y,
        groups=None if groups is None else frame[groups] if len(groups) > 1 else frame[groups[0]].to_numpy())
    results = fitted.results_
    _check_table(out, results)
    stage = results.first_stage
    for name in ("d1", "d2"):
        assert re.search(rf"^{name}\s+{stage.rsquared[name]:.4f}\s+{stage.partial_rsquared[name]:.4f}\s+"
                         rf"{re.escape(f'{stage.fstat[name]:.4g}')}\s", out, flags=re.M), name
    assert re.search(rf"^Sargan\s+{re.escape(f'{results.sargan.stat:.6g}')}\s", out, flags=re.M)
    assert re.search(rf"^Wooldridge score\s+{re.escape(f'{results.wooldridge_overid.stat:.6g}')}\s", out, flags=re.M)
    predictor, _, spec = load_model(tmp_path)
    coef = dict(zip(spec["feature_names"], predictor.coef[:, 0]))
    assert coef["z1"] == coef["z2"] == coef["z3"] == 0.0  # predict is X·b: the instruments do not enter
    np.testing.assert_allclose([predictor.intercept[0], coef["x"], coef["d1"], coef["d2"]], results.params,
                               rtol=0, atol=1e-12)
    code = main(["predict", str(tmp_path), str(path), "--out", str(tmp_path / "p.csv")])
    assert code == 0, capsys.readouterr().err
    predicted = pd.read_csv(tmp_path / "p.csv")["prediction"].to_numpy()
    np.testing.assert_allclose(predicted, fitted.predict(frame[["x", "d1", "d2", "z1", "z2", "z3"]]), atol=1e-10)


def test_iv_equals_linearmodels(iv_csv, tmp_path, capsys):
    iv = pytest.importorskip("linearmodels.iv")
    path, frame = iv_csv
    _run(["fit", str(path), "--target", "y", "--features", "x,d1,d2,z1,z2,z3", "--model", "liml", "--endog", "d1,d2",
          "--instruments", "z1,z2,z3", "--out", str(tmp_path)], capsys)
    exog = frame[["x"]].assign(const=1.0)[["const", "x"]]
    fit = iv.IVLIML(frame.y, exog, frame[["d1", "d2"]], frame[["z1", "z2", "z3"]]).fit(cov_type="unadjusted")
    predictor, _, spec = load_model(tmp_path)
    coef = dict(zip(spec["feature_names"], predictor.coef[:, 0]))
    np.testing.assert_allclose([predictor.intercept[0], coef["x"], coef["d1"], coef["d2"]], fit.params.to_numpy(),
                               rtol=1e-8)


def test_iv_formula_equals_options(iv_csv, tmp_path, capsys):
    path, _ = iv_csv
    by_options = _run(["fit", str(path), "--target", "y", "--features", "x,d1,z1,z2", "--model", "iv", "--endog", "d1",
                       "--instruments", "z1,z2", "--out", str(tmp_path / "a")], capsys)
    by_formula = _run(["fit", str(path), "--formula", "y ~ x + (d1 ~ z1 + z2)", "--model", "iv",
                       "--out", str(tmp_path / "b")], capsys)
    for name in ("x", "d1"):
        assert _row(by_options, name) == _row(by_formula, name)
    assert _row(by_options, "const")[:2] == _row(by_formula, "const")[:2]
    code = main(["predict", str(tmp_path / "b"), str(path), "--out", str(tmp_path / "p.csv")])
    assert code == 0, capsys.readouterr().err


@pytest.mark.parametrize("model, options, estimator, cov_type, groups", [
    ("iv", ["--cluster", "g"], stats.IV2SLS, "cluster", "g"),
    ("iv", ["--cov-type", "HC1"], stats.IV2SLS, "HC1", None),
    ("liml", [], stats.IVLIML, "nonrobust", None),
])
def test_iv_with_absorbed_fixed_effects_equals_the_estimator(model, options, estimator, cov_type, groups, iv_csv,
                                                             tmp_path, capsys):
    path, frame = iv_csv
    out = _run(["fit", str(path), "--target", "y", "--features", "x,d1,z1,z2", "--model", model, "--endog", "d1",
                "--instruments", "z1,z2", "--absorb", "g,h", *options, "--out", str(tmp_path)], capsys)
    fitted = estimator(endog="d1", instruments=["z1", "z2"], absorb=["g", "h"], cov_type=cov_type).fit(
        frame[["x", "d1", "z1", "z2", "g", "h"]], frame.y, groups=None if groups is None else frame[groups].to_numpy())
    results = fitted.results_
    _check_table(out, results)
    assert re.search(r"^g\s+30$", out, flags=re.M) and re.search(r"^h\s+7$", out, flags=re.M)
    assert re.search(rf"^Hansen J\s+{re.escape(f'{results.j_stat.stat:.6g}')}\s", out, flags=re.M)
    assert "Kleibergen-Paap rk Wald F:" in out
    predictor, _, spec = load_model(tmp_path)
    coef = dict(zip(spec["feature_names"], predictor.coef[:, 0]))
    np.testing.assert_allclose([coef["x"], coef["d1"]], results.params, rtol=0, atol=1e-12)
    assert predictor.intercept[0] == 0.0
    code = main(["predict", str(tmp_path), str(path), "--out", str(tmp_path / "p.csv")])
    assert code == 1 and "cannot predict new rows" in capsys.readouterr().err


def test_iv_with_absorbed_fixed_effects_equals_pyfixest_and_the_formula(iv_csv, tmp_path, capsys):
    pf = pytest.importorskip("pyfixest")
    path, frame = iv_csv
    by_options = _run(["fit", str(path), "--target", "y", "--features", "x,d1,z1,z2", "--model", "iv", "--endog",
                       "d1", "--instruments", "z1,z2", "--absorb", "g,h", "--cluster", "g",
                       "--out", str(tmp_path / "a")], capsys)
    by_formula = _run(["fit", str(path), "--formula", "y ~ x + (d1 ~ z1 + z2) | g + h", "--model", "iv",
                       "--cluster", "g", "--out", str(tmp_path / "b")], capsys)
    fit = pf.feols("y ~ x | g + h | d1 ~ z1 + z2", data=frame, vcov={"CRV1": "g"})
    for name, coef, se in zip(["x", "d1"], fit.coef(), fit.se()):
        assert _row(by_options, name) == _row(by_formula, name)
        assert _row(by_options, name)[:2] == (f"{coef:.4f}", f"{se:.4f}")
    predictor, _, spec = load_model(tmp_path / "a")
    coef = dict(zip(spec["feature_names"], predictor.coef[:, 0]))
    np.testing.assert_allclose([coef["x"], coef["d1"]], fit.coef().to_numpy(), rtol=1e-10)


# --------------------------------------------------------------------------- refusals

GRUNFELD = ["fit", "grunfeld", "--target", "invest"]
IV = ["fit", "{iv}", "--target", "y"]
REFUSED = [  # (argv, the flag, the model) -> exit code 2
    (GRUNFELD + ["--model", "ridge", "--absorb", "firm"], "--absorb", "--model ridge"),
    (GRUNFELD + ["--model", "mlp", "--absorb", "firm"], "--absorb", "--model mlp"),
    (GRUNFELD + ["--model", "ols", "--absorb", "firm", "--chunksize", "50"], "--absorb", "--model ols"),
    (GRUNFELD + ["--model", "ols", "--absorb", "firm", "--val-split", "0.2"], "--val-split", "--model ols"),
    (GRUNFELD + ["--model", "ols", "--absorb", "firm", "--no-intercept"], "--no-intercept", "--model ols"),
    (GRUNFELD + ["--model", "ols", "--endog", "value"], "--endog", "--model ols"),
    (GRUNFELD + ["--model", "lasso", "--instruments", "value"], "--instruments", "--model lasso"),
    (IV + ["--model", "iv", "--endog", "d1", "--instruments", "z1", "--absorb", "g", "--no-intercept"],
     "--no-intercept", "--model iv"),
    (IV + ["--model", "iv", "--endog", "d1", "--instruments", "z1", "--absorb", "g", "--chunksize", "50"],
     "--absorb", "--model iv"),
    (IV + ["--model", "liml", "--endog", "d1", "--instruments", "z1", "--alpha", "1"], "--alpha", "--model liml"),
    (IV + ["--model", "iv", "--endog", "d1", "--instruments", "z1", "--hidden", "8"], "--hidden", "--model iv"),
    (IV + ["--model", "iv", "--endog", "d1", "--instruments", "z1", "--margeff"], "--margeff", "--model iv"),
    (IV + ["--model", "iv", "--endog", "d1", "--instruments", "z1", "--standardize"], "--standardize", "--model iv"),
    (IV + ["--model", "liml", "--endog", "d1", "--instruments", "z1", "--chunksize", "50"], "--chunksize",
     "--model liml"),
]


@pytest.mark.parametrize("argv, flag, model", REFUSED)
def test_refused_where_it_does_not_apply(argv, flag, model, iv_csv, capsys):
    argv = [part.replace("{iv}", str(iv_csv[0])) for part in argv]
    with pytest.raises(SystemExit) as raised:
        main(argv)
    assert raised.value.code == 2
    err = capsys.readouterr().err
    assert f"{flag}" in err and f"does not apply to {model}" in err, err


ERRORS = [  # (argv, words of the message) -> exit code 1
    (IV + ["--model", "iv", "--endog", "d1"], "needs --endog D[,D2] and --instruments"),
    (IV + ["--model", "iv", "--endog", "d1,d2", "--instruments", "z1"], "fewer instruments"),
    (IV + ["--model", "iv", "--endog", "nope", "--instruments", "z1"], "'nope' is not a numeric feature"),
    (IV + ["--model", "iv", "--endog", "d1", "--instruments", "z1", "--cov-type", "HC3"], "--cov-type HC3"),
    (GRUNFELD + ["--model", "ols", "--absorb", "nope"], "--absorb 'nope' is not a column"),
    (GRUNFELD + ["--model", "ols", "--absorb", "firm", "--cov-type", "HC2"], "--cov-type HC2"),
    (GRUNFELD + ["--model", "ols", "--absorb", "firm", "--features", "value,firm"],
     "--absorb 'firm' is also a feature"),
    (GRUNFELD + ["--model", "ols", "--absorb", "firm", "--cluster", "nope"], "--cluster 'nope' is not a column"),
    (["fit", "grunfeld", "--formula", "invest ~ value | firm", "--model", "ridge"], "need --model ols"),
    (["fit", "{iv}", "--formula", "y ~ x + (d1 ~ z1)", "--model", "ols"], "needs --model iv or liml"),
    (["fit", "{iv}", "--formula", "y ~ x + (d1 ~ z1 + z1:z2)", "--model", "iv"], "column names joined by '+'"),
]


@pytest.mark.parametrize("argv, words", ERRORS)
def test_errors(argv, words, iv_csv, tmp_path, capsys):
    argv = [part.replace("{iv}", str(iv_csv[0])) for part in argv] + ["--out", str(tmp_path)]
    assert main(argv) == 1
    assert words in capsys.readouterr().err


def test_absorbed_report_figures_use_the_fitted_values(grunfeld):
    from types import SimpleNamespace

    from chainrule.cli import panel_iv

    model = stats.OLS(absorb=["firm", "year"]).fit(grunfeld[["value", "capital", "firm", "year"]], grunfeld.invest)
    run = SimpleNamespace(estimator=model, X_eval=None, y_eval=None, eval_split="validation", predict_scores=None)
    panel_iv.adjust_report(SimpleNamespace(absorb=["firm", "year"]), run)
    np.testing.assert_allclose(run.predict_scores(run.X_eval), model.results_.fittedvalues, rtol=0, atol=0)
    np.testing.assert_allclose(run.y_eval, grunfeld.invest.to_numpy(), rtol=0, atol=1e-9)
    assert run.eval_split == "training"
