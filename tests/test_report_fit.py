"""The report of ``chainrule fit`` per model family: results first (the estimates, the metrics,
the model's figures), then the run's details collapsed; and the figures of fitted models
(chainrule.report.model_figures), whose numbers come from chainrule.metrics."""
from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

from chainrule import metrics, stats
from chainrule.cli import main
from chainrule.report import (
    FitRun,
    Report,
    add_fit_sections,
    figure_classifier_curves,
    figure_coefficient_bars,
    figure_criterion_path,
    figure_regularization_path,
    figure_residual_diagnostics,
    figure_scree,
)
from chainrule.report.fit import classifier_metrics

DETAILS = ["Run settings", "Data", "Timings"]
ROC = "ROC, precision-recall and calibration"


@pytest.fixture(scope="module")
def csv(tmp_path_factory):
    rng = np.random.default_rng(0)
    n = 240
    x1, x2 = rng.normal(size=n), rng.normal(size=n)
    g = rng.choice(["a", "b", "c"], size=n)
    eta = np.c_[np.zeros(n), x1 - 0.5 * x2, -x1 + 0.8 * x2 + (g == "b")]
    p = np.exp(eta) / np.exp(eta).sum(axis=1, keepdims=True)
    cls = np.array([rng.choice(["low", "mid", "high"], p=row) for row in p])
    frame = pd.DataFrame({"x1": x1, "x2": x2, "x3": rng.normal(size=n), "g": g, "cls": cls,
                          "b": (x1 + rng.normal(size=n) > 0).astype(int),
                          "z": 2 * x1 - x2 + (g == "c") + rng.normal(size=n)})
    path = tmp_path_factory.mktemp("data") / "table.csv"
    frame.to_csv(path, index=False)
    return path


def _fit(csv, tmp_path, capsys, *options) -> str:
    out_dir = tmp_path / "out"
    code = main(["fit", str(csv), "--features", "x1,x2,x3,g", *options, "--out", str(out_dir)])
    _, err = capsys.readouterr()
    assert code == 0, err
    return (out_dir / "report.html").read_text()


def _sections(html: str) -> list:
    """(title, is a collapsed detail, number of images) of every section, in page order."""
    found = []
    for match in re.finditer(r'<section id="[^"]+"( class="detail")?>(.*?)</section>', html, re.S):
        title = re.search(r"<h2>(.*?)</h2>", match.group(2)).group(1)
        found.append((title, bool(match.group(1)), match.group(2).count("<img ")))
    return found


TRAIN = "training rows"
CASES = {
    "ols": (["--target", "z", "--model", "ols"],
            ["Coefficients", "Metrics", "Coefficient plot", f"Predicted vs actual ({TRAIN})",
             "Residuals and leverage (training rows)"]),
    "logit": (["--target", "b", "--model", "logit"],
              ["Coefficients", "Metrics", "Coefficient plot", f"{ROC} ({TRAIN})", f"Confusion matrix ({TRAIN})",
               "Average marginal effects"]),
    "mnlogit": (["--target", "cls", "--model", "mnlogit", "--val-split", "0.25"],
                ["Coefficients", "Metrics", f"{ROC} (validation rows)", "Confusion matrix (validation rows)",
                 "Average marginal effects"]),
    "ridge": (["--target", "z", "--model", "ridge"],
              ["Ridge Regression (L2-penalized least squares)", "Metrics", "Regularization path and cross-validation",
               f"Predicted vs actual ({TRAIN})", f"Residuals ({TRAIN})"]),
    "ridge-alpha": (["--target", "z", "--model", "ridge", "--alpha", "2"],
                    ["Ridge Regression (L2-penalized least squares)", "Metrics",
                     "Regularization path and cross-validation", f"Predicted vs actual ({TRAIN})",
                     f"Residuals ({TRAIN})"]),
    "lasso-cv": (["--target", "z", "--model", "lasso", "--cv", "3"],
                 ["Lasso Regression (L1-penalized least squares)", "Metrics",
                  "Regularization path and cross-validation", f"Predicted vs actual ({TRAIN})",
                  f"Residuals ({TRAIN})"]),
    "elasticnet-cv": (["--target", "z", "--model", "elasticnet", "--cv", "3"],
                      ["Elastic Net Regression (L1 + L2-penalized least squares)", "Metrics",
                       "Regularization path and cross-validation", f"Predicted vs actual ({TRAIN})",
                       f"Residuals ({TRAIN})"]),
    "logit-l2-cv": (["--target", "b", "--model", "logit", "--penalty", "l2", "--cv", "3"],
                    ["Penalized Logistic Regression", "Metrics", "Regularization path and cross-validation",
                     f"{ROC} ({TRAIN})", f"Confusion matrix ({TRAIN})"]),
    "logit-l1-C": (["--target", "b", "--model", "logit", "--penalty", "l1", "--C", "0.5"],
                   ["Penalized Logistic Regression", "Metrics", "Coefficient plot", f"{ROC} ({TRAIN})",
                    f"Confusion matrix ({TRAIN})"]),
    "stepwise": (["--target", "z", "--model", "stepwise"],
                 ["Forward Stepwise: Final Model", "Metrics", "Stepwise criterion path",
                  f"Predicted vs actual ({TRAIN})", f"Residuals ({TRAIN})"]),
    "pcr": (["--target", "z", "--model", "pcr", "--cv", "3"],
            ["Principal Component Regression", "PCR: Components Kept", "Metrics", "Scree and cross-validation",
             f"Predicted vs actual ({TRAIN})", f"Residuals ({TRAIN})"]),
    "mlp": (["--target", "b", "--model", "mlp", "--hidden", "8", "--epochs", "3"],
            ["Metrics", "Loss curves", "Metric curves", "Gradient norm and learning rate",
             f"{ROC} (validation rows)", "Confusion matrix (validation rows)"]),
    "mlp-regression": (["--target", "z", "--model", "mlp", "--hidden", "8", "--epochs", "3"],
                       ["Metrics", "Loss curves", "Metric curves", "Gradient norm and learning rate",
                        "Predicted vs actual (validation rows)", "Residuals (validation rows)"]),
}


@pytest.mark.parametrize("case", list(CASES))
def test_each_model_reports_its_estimates_and_figures_first_then_the_details(case, csv, tmp_path, capsys):
    options, results = CASES[case]
    sections = _sections(_fit(csv, tmp_path, capsys, *options))
    titles = [title for title, _, _ in sections]
    assert titles == results + DETAILS
    assert [detail for _, detail, _ in sections] == [False] * len(results) + [True] * len(DETAILS)
    for title, _, images in sections:  # every figure section holds one image, every table none
        expected = 0 if title in DETAILS or title in ("Metrics", "Coefficients", "Average marginal effects") \
            or "Regression" in title or title.startswith(("PCR", "Forward", "Penalized")) else 1
        assert images == expected, title


def test_settings_left_unset_are_omitted_and_classifier_metrics_come_from_chainrule_metrics(csv, tmp_path, capsys):
    html = _fit(csv, tmp_path, capsys, "--target", "b", "--model", "logit")
    settings = re.search(r'<section id="run-settings" class="detail">(.*?)</section>', html, re.S).group(1)
    assert ">model<" in settings and ">alpha<" not in settings and ">C<" not in settings
    table = re.search(r'<section id="metrics">(.*?)</section>', html, re.S).group(1)
    headings = [h.replace("<wbr>", "") for h in re.findall(r'<th scope="col"[^>]*>(.*?)</th>', table)]
    assert headings == ["split", "accuracy", "log_loss", "roc_auc", "average_precision", "brier", "n"]
    frame = pd.read_csv(csv)
    X = pd.get_dummies(frame[["x1", "x2", "x3", "g"]], columns=["g"], drop_first=True, dtype=float)
    p = stats.Logit().fit(X, frame["b"]).predict_proba(X)[:, 1]
    shown = [float(cell.rstrip("\u2007\u2008")) for cell in re.findall(r'<td class="num">(.*?)</td>', table)]
    assert shown[2] == pytest.approx(metrics.roc_auc(frame["b"], p), abs=1e-4)
    assert shown[4] == pytest.approx(metrics.brier_score(frame["b"], p), abs=1e-4)


def test_classifier_metrics_equal_scikit_learn():
    sklearn_metrics = pytest.importorskip("sklearn.metrics")
    rng = np.random.default_rng(1)
    y = rng.integers(0, 2, 200)
    p = np.clip(0.3 * y + 0.7 * rng.random(200), 0.01, 0.99)
    found = classifier_metrics(y, p, 2)
    assert found["roc_auc"] == pytest.approx(sklearn_metrics.roc_auc_score(y, p), rel=1e-12)
    assert found["average_precision"] == pytest.approx(sklearn_metrics.average_precision_score(y, p), rel=1e-12)
    assert found["log_loss"] == pytest.approx(sklearn_metrics.log_loss(y, p), rel=1e-12)
    assert found["brier"] == pytest.approx(sklearn_metrics.brier_score_loss(y, p), rel=1e-12)
    k = rng.integers(0, 3, 150)
    P = rng.dirichlet(np.ones(3), 150)
    multi = classifier_metrics(k, P, 3)
    assert multi["roc_auc"] == pytest.approx(sklearn_metrics.roc_auc_score(k, P, multi_class="ovr"), rel=1e-12)
    assert multi["log_loss"] == pytest.approx(sklearn_metrics.log_loss(k, P), rel=1e-12)
    assert "average_precision" not in multi
    assert "roc_auc" not in classifier_metrics(np.zeros(5, int), np.full(5, 0.3), 2)  # undefined on one class


# ---------------------------------------------------------------------- the figures

def _texts(axes) -> list:
    legend = axes.get_legend()
    return [] if legend is None else [t.get_text() for t in legend.get_texts()]


def test_classifier_curves_show_the_auc_and_average_precision_of_chainrule_metrics():
    rng = np.random.default_rng(2)
    y = rng.integers(0, 2, 300)
    p = np.clip(0.4 * y + 0.6 * rng.random(300), 0, 1)
    roc, pr, calibration = figure_classifier_curves(y, p, ["no", "yes"]).axes
    assert _texts(roc) == [f"AUC {metrics.roc_auc(y, p):.3f}"]
    assert _texts(pr) == [f"AP {metrics.average_precision(y, p):.3f}"]
    fpr, tpr, _ = metrics.roc_curve(y, p)
    np.testing.assert_array_equal(roc.get_lines()[0].get_xdata(), fpr)
    observed, predicted = metrics.calibration_curve(y, p, n_bins=10)
    np.testing.assert_allclose(calibration.get_lines()[1].get_ydata(), observed)
    assert calibration.get_xlabel() == "predicted P(yes)"
    k = rng.integers(0, 3, 200)
    roc3 = figure_classifier_curves(k, rng.dirichlet(np.ones(3), 200), ["a", "b", "c"]).axes[0]
    assert [t.split(":")[0] for t in _texts(roc3)] == ["a", "b", "c"] and roc3.get_title() == "ROC (one-vs-rest)"


def test_regularization_path_marks_the_chosen_alpha_and_draws_the_cv_curve():
    alphas = np.logspace(1, -2, 20)
    coefs = np.vstack([np.linspace(0, 1, 20), np.linspace(0, -2, 20), np.zeros(20)])
    figure = figure_regularization_path(alphas, coefs, ["a", "b", "never"], chosen=0.1, cv_mean=np.linspace(2, 1, 20),
                                        cv_se=np.full(20, 0.1), alpha_1se=0.5)
    top, bottom = figure.axes
    assert top.get_xscale() == "log" and bottom.get_ylabel() == "CV mean squared error"
    assert "chosen α = 0.1" in _texts(top) and "never" not in _texts(top)  # an all-zero path is not named
    assert {"a", "b"} <= set(_texts(top))
    assert any(list(line.get_xdata()) == [0.1, 0.1] for line in bottom.get_lines())  # the chosen α in both panels
    assert "one-standard-error rule" in _texts(bottom)
    assert bottom.get_title() == "Cross-validation (lower is better)"
    assert len(figure_regularization_path(alphas, coefs, ["a", "b", "c"], chosen=1.0).axes) == 1  # no CV: one panel
    with pytest.raises(ValueError, match="expected \\(len\\(names\\), len\\(alphas\\)\\)"):
        figure_regularization_path(alphas, coefs.T, ["a", "b", "c"])


def test_residual_diagnostics_panels():
    rng = np.random.default_rng(3)
    X = np.column_stack([np.ones(100), rng.normal(size=(100, 2))])
    y = X @ [1.0, 2.0, -1.0] + rng.normal(size=100)
    fit = stats.OLS(fit_intercept=False).fit(X, y)
    influence = fit.results_.get_influence()
    figure = figure_residual_diagnostics(y - influence.resid, influence.resid,
                                         studentized=influence.resid_studentized_external,
                                         leverage=influence.hat_matrix_diag, n_params=3)
    fitted_axes, qq, leverage = figure.axes
    assert [a.get_title() for a in figure.axes] == ["Residuals vs fitted (red: binned mean)", "Normal QQ",
                                                     "Leverage vs studentized residual"]
    np.testing.assert_allclose(np.sort(qq.collections[0].get_offsets()[:, 1]),
                               np.sort(influence.resid_studentized_external))
    assert any(list(line.get_xdata()) == [0.06, 0.06] for line in leverage.get_lines())  # 2k/n
    assert len(figure_residual_diagnostics([1.0, 2.0, 3.0], [0.1, -0.2, 0.1]).axes) == 2


def test_stepwise_scree_and_bars():
    fit = stats.ForwardStepwise(criterion="aic").fit(
        pd.DataFrame(np.random.default_rng(4).normal(size=(80, 3)), columns=["u", "v", "w"]),
        np.random.default_rng(5).normal(size=80))
    figure = figure_criterion_path(np.arange(len(fit.criterion_values_)), fit.criterion_values_,
                                   chosen=fit.best_size_, criterion="aic", names=["u", "v", "w"])
    (axes,) = figure.axes
    assert axes.get_ylabel() == "aic" and f"chosen size d* = {fit.best_size_}" in _texts(axes)
    assert axes.get_xticklabels()[0].get_text().startswith("(mean only)")
    scree, cv = figure_scree([0.6, 0.3, 0.1], kept=2, cv_mse=[3.0, 2.0, 2.5]).axes
    np.testing.assert_allclose(scree.get_lines()[0].get_ydata(), [0.6, 0.9, 1.0])
    assert _texts(cv) == ["chosen M = 2"]
    (bars,) = figure_coefficient_bars(["const", "a", "b", "c"], [5.0, 0.5, -2.0, 0.0], title="t", xlabel="x").axes
    assert [t.get_text() for t in bars.get_yticklabels()] == ["b", "a"]  # largest on top, zeros and const left out
    assert bars.get_title() == "t (1 terms at exactly 0 not shown)"


def test_add_fit_sections_without_rows_in_memory_keeps_the_order():
    report = Report("r")
    add_fit_sections(report, FitRun(model="ols", task="regression", target="y", feature_names=["x"],
                                    metrics={"train": {"r2": 0.5, "n": 10}}, settings={"model": "ols", "alpha": None},
                                    data_summary={"rows": 10}, timings={"fit": 0.1}))
    assert report.sections == [("metrics", "Metrics"), ("run-settings", "Run settings"), ("data", "Data"),
                               ("timings", "Timings")]


def test_model_figures_fit_the_report_column_unscaled():
    from chainrule.report.html import FIGURE_DPI

    rng = np.random.default_rng(6)
    y = rng.integers(0, 2, 100)
    figures = [figure_classifier_curves(y, rng.random(100), ["a", "b"]),
               figure_residual_diagnostics(rng.normal(size=50), rng.normal(size=50), studentized=rng.normal(size=50),
                                           leverage=rng.random(50) / 5, n_params=2),
               figure_scree([0.5, 0.3, 0.2], kept=1, cv_mse=[1.0, 2.0, 3.0]),
               figure_regularization_path([1.0, 0.1], [[0.0, 1.0]], ["a"], chosen=0.1, cv_mean=[2.0, 1.0])]
    for figure in figures:
        assert figure.get_figwidth() * FIGURE_DPI <= 1044  # the page's content column


def test_a_given_summary_replaces_the_estimators_own():
    class Given:
        def as_html(self):
            return "<table><tr><th>x</th><td>1.5</td></tr></table><p>on the original scale</p>"

    fit = stats.OLS().fit(pd.DataFrame({"x": [1.0, 2.0, 3.0, 5.0]}), [1.0, 2.5, 2.9, 5.2])
    report = Report("r")
    add_fit_sections(report, FitRun(model="ols", task="regression", target="y", feature_names=["x"],
                                    metrics={"train": {"r2": 0.9, "n": 4}}, estimator=fit, summary=Given()))
    html = report.to_html()
    assert "on the original scale" in html and "OLS Regression Results" not in html
    assert report.sections[:3] == [("coefficients", "Coefficients"), ("metrics", "Metrics"),
                                   ("coefficient-plot", "Coefficient plot")]
