"""``chainrule fit --standardize/--no-standardize`` (issue 19): on by default where the scale of a
column changes the fit (penalties, components, gradient steps), with the means and standard
deviations of the training split only, saved with the model (predict re-applies them); the
estimates reported on the original scale with a note; refused (exit 2) where it changes nothing."""
import json
import re

import numpy as np
import pandas as pd
import pytest

from chainrule.cli import main, parse_arguments


def _table(n=120, seed=3):
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({"x1": rng.normal(5.0, 2.0, n), "x2": rng.normal(-1.0, 30.0, n),
                          "g": rng.choice(["a", "b"], n)})
    frame["y"] = 1 + 0.5 * frame.x1 + 0.02 * frame.x2 + 0.7 * (frame.g == "b") + rng.normal(size=n)
    frame["c"] = (frame.y + rng.normal(size=n) > frame.y.median()).astype(int)
    return frame


@pytest.fixture(scope="module")
def csv(tmp_path_factory):
    path = tmp_path_factory.mktemp("standardize") / "data.csv"
    _table().to_csv(path, index=False)
    return path


def _fit(csv, out_dir, capsys, *options, target="y"):
    code = main(["fit", str(csv), "--target", target, "--features", "x1,x2,g", *options, "--out", str(out_dir)])
    out, err = capsys.readouterr()
    assert code == 0, err
    return out, err


def _row(out, name):
    match = re.search(rf"^{re.escape(name)}[ \t]+(\S+)(?:[ \t]+(\S+))?", out, flags=re.M)
    assert match, (name, out)
    return [float(v) for v in match.groups() if v is not None]


def _by_hand_ridge(X, y, alpha):
    """argmin ‖y − b₀ − Xb‖² + α‖b‖²: centre, solve (Xc'Xc + αI) b = Xc'yc, b₀ = ȳ − x̄'b."""
    xbar, ybar = X.mean(axis=0), y.mean()
    Xc = X - xbar
    b = np.linalg.solve(Xc.T @ Xc + alpha * np.eye(X.shape[1]), Xc.T @ (y - ybar))
    return b, ybar - xbar @ b


def test_ridge_is_fitted_on_training_split_standardized_columns_and_reported_on_the_original_scale(
        csv, tmp_path, capsys):
    out_dir = tmp_path / "ridge"
    out, _ = _fit(csv, out_dir, capsys, "--model", "ridge", "--alpha", "3", "--val-split", "0.25")
    frame = _table()
    n = len(frame)
    train = np.sort(np.random.default_rng(0).permutation(n)[int(round(0.25 * n)):])  # the CLI's seeded split
    X = np.column_stack([frame.x1, frame.x2, (frame.g == "b").astype(float)])[train]
    y = frame.y.to_numpy()[train]
    mean = np.array([X[:, 0].mean(), X[:, 1].mean(), 0.0])
    sd = np.array([X[:, 0].std(), X[:, 1].std(), 1.0])  # population sd, training rows only; the dummy kept 0/1
    b_std, b0_std = _by_hand_ridge((X - mean) / sd, y, 3.0)
    b, b0 = b_std / sd, b0_std - np.sum(b_std * mean / sd)
    for name, original, fitted in [("intercept", b0, b0_std), ("x1", b[0], b_std[0]), ("x2", b[1], b_std[1]),
                                   ("g[T.b]", b[2], b_std[2])]:
        assert _row(out, name) == pytest.approx([original, fitted], rel=1e-5), name
    assert "fitted on standardized features: the 2 numeric columns" in out and "on the 90 training rows" in out
    assert "(the 1 dummy columns of categorical inputs kept 0/1)" in out
    saved = json.loads((out_dir / "model.json").read_text())
    assert saved["settings"]["standardize"] is True
    np.testing.assert_allclose(saved["encoder"]["fitted"]["mean_"], mean, rtol=1e-12)
    np.testing.assert_allclose(saved["encoder"]["fitted"]["scale_"], sd, rtol=1e-12)
    assert "fitted on standardized features" in (out_dir / "report.html").read_text()
    # predict re-applies the saved scaling: the predictions are the original-scale fit's
    assert main(["predict", str(out_dir), str(csv), "--out", str(tmp_path / "p.csv")]) == 0
    full = np.column_stack([frame.x1, frame.x2, (frame.g == "b").astype(float)])
    np.testing.assert_allclose(pd.read_csv(tmp_path / "p.csv")["prediction"], full @ b + b0, rtol=1e-9)


def test_no_standardize_fits_the_columns_as_they_are(csv, tmp_path, capsys):
    out_dir = tmp_path / "raw"
    out, _ = _fit(csv, out_dir, capsys, "--model", "ridge", "--alpha", "3", "--no-standardize")
    frame = _table()
    X = np.column_stack([frame.x1, frame.x2, (frame.g == "b").astype(float)])
    b, b0 = _by_hand_ridge(X, frame.y.to_numpy(), 3.0)
    assert _row(out, "intercept") == pytest.approx([b0], rel=1e-5)
    assert _row(out, "x2") == pytest.approx([b[1]], rel=1e-5)
    assert "standardized" not in out
    assert json.loads((out_dir / "model.json").read_text())["settings"]["standardize"] is False


def _summary_rows(out, names):
    rows = {}
    for name in names:
        match = re.search(rf"^{re.escape(name)}\s+(\S+)\s+(\S+)\s+(\S+)", out, flags=re.M)
        rows[name] = [float(v) for v in match.groups()]
    return rows


def test_gradient_ols_reports_estimates_and_standard_errors_on_the_original_scale(csv, tmp_path, capsys):
    names = ["const", "x1", "x2", "g[T.b]"]
    qr, _ = _fit(csv, tmp_path / "qr", capsys, "--model", "ols")
    gd, _ = _fit(csv, tmp_path / "gd", capsys, "--model", "ols", "--solver", "gd")
    exact, stepped = _summary_rows(qr, names), _summary_rows(gd, names)
    for name in names:  # coef, std err, t: the gradient fit on z mapped back equals the QR fit on x
        assert stepped[name] == pytest.approx(exact[name], rel=2e-4, abs=2e-4), name
    assert "fitted on standardized features" in gd and "fitted on standardized features" not in qr


def test_gradient_logit_marginal_effects_on_the_original_scale(csv, tmp_path, capsys):
    newton, _ = _fit(csv, tmp_path / "n", capsys, "--model", "logit", "--margeff", target="c")
    gd, _ = _fit(csv, tmp_path / "g", capsys, "--model", "logit", "--solver", "gd", "--margeff", target="c")
    start = "Logit Marginal Effects"
    exact = _summary_rows(newton[newton.index(start):], ["x1", "x2"])
    stepped = _summary_rows(gd[gd.index(start):], ["x1", "x2"])
    for name in ("x1", "x2"):
        assert stepped[name] == pytest.approx(exact[name], rel=1e-3, abs=1e-4), name


def test_no_intercept_is_not_centred(csv, tmp_path, capsys):
    _, err = _fit(csv, tmp_path / "ni", capsys, "--model", "ridge", "--alpha", "1", "--no-intercept")
    assert "not standardized: the fit has no intercept" in err
    code = main(["fit", str(csv), "--target", "y", "--model", "ridge", "--alpha", "1", "--no-intercept",
                 "--standardize", "--out", str(tmp_path / "ni2")])
    assert code == 1 and "centring the columns adds an intercept" in capsys.readouterr().err


@pytest.mark.parametrize("options, expected", [
    (["--model", "ridge"], True), (["--model", "lasso"], True), (["--model", "elasticnet"], True),
    (["--model", "pcr"], True), (["--model", "mlp"], True), (["--model", "logit", "--penalty", "l1"], True),
    (["--model", "ols", "--solver", "gd"], True), (["--model", "ols"], False), (["--model", "logit"], False),
    (["--model", "stepwise"], False), (["--model", "ridge", "--no-standardize"], False),
    (["--model", "mlp", "--no-standardize"], False),
])
def test_the_default_is_on_where_the_scale_changes_the_fit(options, expected, csv):
    from chainrule.cli.scaling import standardize_inputs

    assert standardize_inputs(parse_arguments(["fit", str(csv), "--target", "y", *options])) is expected
