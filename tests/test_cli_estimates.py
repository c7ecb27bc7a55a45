"""``chainrule fit`` prints what every model estimated: the coefficient tables of ridge, lasso,
elastic net, penalized logit, stepwise (final model) and pcr (with the components kept), the
chosen alpha / C / number of components and the score that chose it; the printed numbers equal
the estimator's attributes (fitted here on the same encoded table)."""
import json
import re

import numpy as np
import pandas as pd
import pytest

from chainrule import stats
from chainrule.cli import main
from chainrule.tabular import TabularEncoder

FEATURES = ["x1", "x2", "region"]


def _table(n=200, seed=1):
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({"x1": rng.normal(size=n), "x2": rng.normal(size=n),
                          "region": rng.choice(["north", "south", "west"], n)})
    frame["y"] = 1 + 2 * frame.x1 - frame.x2 + 0.5 * (frame.region == "west") + rng.normal(size=n)
    frame["b"] = (frame.y + rng.normal(size=n) > 1).astype(int)
    return frame


@pytest.fixture(scope="module")
def csv(tmp_path_factory):
    path = tmp_path_factory.mktemp("estimates") / "data.csv"
    _table().to_csv(path, index=False)
    return path


def _encoded(target, task, standardize=False):
    encoder = TabularEncoder(target, FEATURES, task=task, standardize=standardize)
    X, y = encoder.fit_transform(_table())
    return pd.DataFrame(X, columns=encoder.feature_names_), y


def _original(coef, intercept):
    """The coefficients of a fit on the standardized columns, on the original scale (by hand)."""
    raw, _ = _encoded("y", "regression")
    sd = np.where(raw.std(ddof=0).to_numpy() > 0, raw.std(ddof=0).to_numpy(), 1.0)
    numeric = np.array([name in ("x1", "x2") for name in raw.columns])
    mean = np.where(numeric, raw.mean().to_numpy(), 0.0)
    sd = np.where(numeric, sd, 1.0)
    return coef / sd, intercept - float(np.sum(coef * mean / sd))


def _printed(out: str, name: str, column: int = 0) -> float:
    """The number in ``column`` of the row ``name`` (0: coef, on the original scale; 1: the fitted
    coefficient on standardized features)."""
    match = re.search(rf"^{re.escape(name)}\s+(-?[0-9.e+-]+)(?:\s+(-?[0-9.e+-]+))?\s*$", out, flags=re.M)
    assert match, (name, out)
    return float(match.group(1 + column))


def _info(out: str, label: str) -> float:
    match = re.search(rf"{re.escape(label)}:\s+(-?[0-9.e+-]+)", out)
    assert match, (label, out)
    return float(match.group(1))


def _fit(csv, tmp_path, capsys, target, *options):
    out_dir = tmp_path / "out"
    code = main(["fit", str(csv), "--target", target, "--features", ",".join(FEATURES), *options, "--overwrite",
                 "--out", str(out_dir)])
    out, err = capsys.readouterr()
    assert code == 0, err
    return out, json.loads((out_dir / "metrics.json").read_text()), (out_dir / "report.html").read_text()


CASES = [
    (["--model", "ridge", "--alpha", "2"], lambda: stats.Ridge(alpha=2.0), {"alpha": 2.0}),
    (["--model", "ridge"], lambda: stats.RidgeCV(alphas=np.logspace(-4, 4, 33)), None),
    (["--model", "ridge", "--cv", "4"], lambda: stats.RidgeCV(alphas=np.logspace(-4, 4, 33), cv=4), None),
    (["--model", "lasso", "--alpha", "0.05"], lambda: stats.Lasso(alpha=0.05), {"alpha": 0.05}),
    (["--model", "lasso", "--cv", "5"], lambda: stats.LassoCV(cv=5), None),
    (["--model", "elasticnet", "--alpha", "0.1", "--l1-ratio", "0.3"],
     lambda: stats.ElasticNet(alpha=0.1, l1_ratio=0.3), {"alpha": 0.1, "l1_ratio": 0.3}),
    (["--model", "elasticnet", "--cv", "4"], lambda: stats.ElasticNetCV(cv=4), None),
    (["--model", "pcr", "--n-components", "2"], lambda: stats.PCR(n_components=2, random_state=0),
     {"n_components": 2}),
    (["--model", "pcr"], lambda: stats.PCR(cv=5, random_state=0), None),
]


@pytest.mark.parametrize("options, make, expected", CASES, ids=[" ".join(c[0]) for c in CASES])
def test_regression_models_print_their_coefficients_and_choice(options, make, expected, csv, tmp_path, capsys):
    out, metrics, html = _fit(csv, tmp_path, capsys, "y", *options)
    X, y = _encoded("y", "regression", standardize=True)  # fitted on standardized columns by default
    model = make().fit(X, y)
    coef, intercept = _original(np.asarray(model.coef_), float(model.intercept_))
    assert _printed(out, "intercept") == pytest.approx(intercept, rel=1e-5, abs=1e-9)
    assert _printed(out, "intercept", 1) == pytest.approx(model.intercept_, rel=1e-5, abs=1e-9)
    for name, value, fitted in zip(X.columns, coef, model.coef_):
        assert _printed(out, name) == pytest.approx(value, rel=1e-5, abs=1e-9)
        assert _printed(out, name, 1) == pytest.approx(fitted, rel=1e-5, abs=1e-9)
    assert "fitted on standardized features" in out and "200 training rows" in out
    chosen = metrics["chosen"]
    kind = options[1]
    if kind == "pcr":
        assert chosen["n_components"] == model.n_components_
        assert _info(out, "Components kept") == model.n_components_
        for j in range(model.n_components_):
            assert float(re.search(rf"^PC{j + 1}\s+\S+\s+\S+\s+(\S+)", out, flags=re.M).group(1)) == \
                pytest.approx(model.gamma_[j], rel=1e-5)
        if model.cv_mse_ is not None:
            assert chosen["cv_mse"] == pytest.approx(model.cv_mse_[model.n_components_ - 1], rel=1e-12)
            assert _info(out, "CV mean squared error") == pytest.approx(chosen["cv_mse"], rel=1e-5)
    else:
        assert chosen["alpha"] == pytest.approx(model.alpha_ if hasattr(model, "alpha_") else model.alpha, rel=1e-12)
        assert _info(out, "alpha") == pytest.approx(chosen["alpha"], rel=1e-5)
        if hasattr(model, "alpha_"):
            errors = {"ridge": lambda m: -m.best_score_,
                      "lasso": lambda m: m.cv_mean_[list(m.alphas_).index(m.alpha_)],
                      "elasticnet": lambda m: m.mse_path_[list(m.alphas_).index(m.alpha_)].mean()}[kind]
            assert chosen["cv_mse"] == pytest.approx(errors(model), rel=1e-12)
            assert _info(out, "CV mean squared error") == pytest.approx(chosen["cv_mse"], rel=1e-5)
            assert ("leave-one-out CV" in out) == (options == ["--model", "ridge"])
    if expected:
        for key, value in expected.items():
            assert chosen[key] == pytest.approx(value)
    assert "<caption>" in html and ("Regression" in html)
    assert re.search(r"<th>x1</th><td>[-0-9.e]+</td>", html)


def test_stepwise_prints_the_final_model_and_its_criterion(csv, tmp_path, capsys):
    out, metrics, html = _fit(csv, tmp_path, capsys, "y", "--model", "stepwise", "--criterion", "aic")
    X, y = _encoded("y", "regression")
    model = stats.ForwardStepwise(criterion="aic", random_state=0).fit(X, y)
    final = out[out.index("Forward Stepwise: Final Model"):]
    assert _printed(final, "intercept") == pytest.approx(model.intercept_, rel=1e-5)
    for name, value, keep in zip(X.columns, model.coef_, model.support_):
        if keep:
            assert _printed(final, name) == pytest.approx(value, rel=1e-5)
        else:
            assert not re.search(rf"^{re.escape(name)}\s", final, flags=re.M)
    best = model.criterion_values_[model.best_size_]
    assert metrics["chosen"] == {"size": model.best_size_, "aic": pytest.approx(best)}
    assert _info(final, "AIC") == pytest.approx(model.criterion_values_[model.best_size_], rel=1e-5)
    assert "Forward Stepwise: Final Model" in html


@pytest.mark.parametrize("options, make", [
    (["--penalty", "l2"], lambda: stats.LogisticRegression(penalty="l2", C=1.0)),
    (["--penalty", "l1", "--C", "0.5"], lambda: stats.LogisticRegression(penalty="l1", C=0.5)),
    (["--penalty", "elasticnet", "--C", "2", "--l1-ratio", "0.3"],
     lambda: stats.LogisticRegression(penalty="elasticnet", C=2.0, l1_ratio=0.3)),
    (["--penalty", "l1", "--cv", "3"], lambda: stats.LogisticRegressionCV(Cs=10, cv=3, penalty="l1")),
])
def test_penalized_logit_prints_coefficients_and_c(options, make, csv, tmp_path, capsys):
    out, metrics, html = _fit(csv, tmp_path, capsys, "b", "--model", "logit", *options)
    X, y = _encoded("b", "classification", standardize=True)
    model = make().fit(X, y)
    coef, intercept = _original(np.asarray(model.coef_[0]), float(model.intercept_[0]))
    assert _printed(out, "intercept") == pytest.approx(intercept, rel=1e-5, abs=1e-9)
    for name, value, fitted in zip(X.columns, coef, model.coef_[0]):
        assert _printed(out, name) == pytest.approx(value, rel=1e-5, abs=1e-9)
        assert _printed(out, name, 1) == pytest.approx(fitted, rel=1e-5, abs=1e-9)
    C = model.C_ if hasattr(model, "C_") else model.C
    assert metrics["chosen"]["C"] == pytest.approx(C) and _info(out, "C") == pytest.approx(C, rel=1e-5)
    if hasattr(model, "C_"):
        best = list(model.Cs_).index(model.C_)
        assert metrics["chosen"]["cv_accuracy"] == pytest.approx(model.scores_[:, 0, best].mean())
    assert "Penalized Logistic Regression" in html
    # predict: the saved model gives the library's probabilities
    predictions = tmp_path / "p.csv"
    assert main(["predict", str(tmp_path / "out"), str(csv), "--out", str(predictions)]) == 0
    saved = pd.read_csv(predictions)
    np.testing.assert_allclose(saved["probability[1]"], model.predict_proba(X)[:, 1], rtol=1e-8, atol=1e-12)


@pytest.mark.parametrize("model, penalty", [("ridge", "l2"), ("lasso", "l1"), ("elasticnet", "elasticnet")])
def test_a_binary_target_with_a_penalized_regression_is_a_linear_probability_model(model, penalty, csv, tmp_path,
                                                                                     capsys):
    out, _, _ = _fit(csv, tmp_path, capsys, "b", "--model", model)
    assert "fits a linear probability model" in out
    assert f"--model logit --penalty {penalty}" in out
    out, _, _ = _fit(csv, tmp_path, capsys, "y", "--model", model)
    assert "linear probability" not in out


def test_a_string_target_with_a_penalized_regression_names_the_classifier(tmp_path, capsys):
    frame = _table()
    frame["grade"] = np.where(frame.b == 1, "high", "low")
    path = tmp_path / "grades.csv"
    frame.to_csv(path, index=False)
    code = main(["fit", str(path), "--target", "grade", "--features", "x1,x2", "--model", "lasso",
                 "--out", str(tmp_path / "o")])
    err = capsys.readouterr().err
    assert code == 1 and "'grade' holds categories (high, low)" in err and "--model logit --penalty l1" in err
