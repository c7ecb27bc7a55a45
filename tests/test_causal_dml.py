"""chainrule.causal against the DoubleML package: the same data (DoubleML's generators), the
same folds (passed to both explicitly) and the same scikit-learn learners give the same
estimates, standard errors, p-values, intervals, nuisance losses and bootstrap draws (1e-8)."""
from __future__ import annotations

import warnings

import numpy as np
import pytest

dml = pytest.importorskip("doubleml")
sklearn_linear = pytest.importorskip("sklearn.linear_model")
from doubleml.irm.datasets import make_irm_data  # noqa: E402
from doubleml.plm.datasets import make_pliv_CHS2015, make_plr_CCDDHNR2018  # noqa: E402
from sklearn.ensemble import RandomForestClassifier, RandomForestRegressor  # noqa: E402

from chainrule.causal import IRM, PLIV, PLR, check_folds, draw_weights, make_folds  # noqa: E402
from chainrule.causal import datasets as causal_datasets  # noqa: E402

LinearRegression, LogisticRegression = sklearn_linear.LinearRegression, sklearn_linear.LogisticRegression
TOL = 1e-8


def columns(frame, prefix):
    return [c for c in frame.columns if c.startswith(prefix)]


@pytest.fixture(scope="module")
def plr_data():
    np.random.seed(11)
    return make_plr_CCDDHNR2018(n_obs=300, dim_x=6, alpha=0.5, return_type="DataFrame")


@pytest.fixture(scope="module")
def irm_data():
    np.random.seed(12)
    return make_irm_data(n_obs=400, dim_x=5, theta=0.5, return_type="DataFrame")


@pytest.fixture(scope="module")
def pliv_data():
    np.random.seed(13)
    return make_pliv_CHS2015(n_obs=300, dim_x=8, dim_z=2, alpha=1.0, return_type="DataFrame")


def forest(seed=0):
    return RandomForestRegressor(n_estimators=15, max_depth=3, random_state=seed)


def assert_same(reference, ours, losses=True):
    """DoubleML's fitted model and our results agree on every reported number."""
    np.testing.assert_allclose(ours.params, reference.coef, rtol=0, atol=TOL)
    np.testing.assert_allclose(ours.bse, reference.se, rtol=0, atol=TOL)
    np.testing.assert_allclose(ours.all_params, reference.all_coef, rtol=0, atol=TOL)
    np.testing.assert_allclose(ours.all_bse, reference.all_se, rtol=0, atol=TOL)
    np.testing.assert_allclose(ours.tvalues, reference.t_stat, rtol=0, atol=1e-7)
    np.testing.assert_allclose(ours.pvalues, reference.pval, rtol=0, atol=TOL)
    np.testing.assert_allclose(ours.conf_int(), reference.confint().to_numpy(), rtol=0, atol=TOL)
    np.testing.assert_allclose(ours.conf_int(0.1), reference.confint(level=0.9).to_numpy(), rtol=0, atol=TOL)
    if losses:
        for name, values in reference.nuisance_loss.items():
            if name in ours.nuisance_loss:
                np.testing.assert_allclose(ours.nuisance_loss[name], values, rtol=0, atol=TOL, err_msg=name)


def fit_doubleml(model, data, folds, *learners, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fitted = model(data, *learners, n_folds=len(folds[0]), n_rep=len(folds), draw_sample_splitting=False,
                       **kwargs)
        fitted.set_sample_splitting(folds)
        return fitted.fit()


# -- PLR ------------------------------------------------------------------------------------

@pytest.mark.parametrize("score", ["partialling out", "IV-type"])
@pytest.mark.parametrize("n_rep", [1, 3])
@pytest.mark.parametrize("learner", ["linear", "forest"])
def test_plr_equals_doubleml(plr_data, score, n_rep, learner):
    X, y, d = plr_data[columns(plr_data, "X")], plr_data["y"], plr_data["d"]
    folds = make_folds(len(y), 5, n_rep, random_state=n_rep)
    make = LinearRegression if learner == "linear" else forest
    extra = {"ml_g": make()} if score == "IV-type" else {}
    reference = fit_doubleml(dml.DoubleMLPLR, dml.DoubleMLData(plr_data, "y", "d"), folds, make(), make(),
                             score=score, **extra)
    ours = PLR(make(), make(), score=score, **extra).fit(X.to_numpy(), y.to_numpy(), d.to_numpy(), folds=folds)
    assert_same(reference, ours.results_)
    np.testing.assert_allclose(ours.predictions_["ml_m"][:, :, 0], reference.predictions["ml_m"][:, :, 0], atol=TOL)


def test_plr_binary_treatment_with_a_classifier(irm_data):
    X, y, d = irm_data[columns(irm_data, "X")].to_numpy(), irm_data["y"].to_numpy(), irm_data["d"].to_numpy()
    folds = make_folds(len(y), 4, 1, random_state=5)
    reference = fit_doubleml(dml.DoubleMLPLR, dml.DoubleMLData(irm_data, "y", "d"), folds, LinearRegression(),
                             LogisticRegression())
    ours = PLR(LinearRegression(), LogisticRegression()).fit(X, y, d, folds=folds)
    assert_same(reference, ours.results_)


def test_plr_two_treatments_condition_on_each_other(plr_data):
    data = plr_data.copy()
    rng = np.random.default_rng(3)
    data["d2"] = data["X1"] + rng.normal(size=len(data))
    data["y"] = data["y"] + 0.3 * data["d2"]
    folds = make_folds(len(data), 5, 2, random_state=1)
    reference = fit_doubleml(dml.DoubleMLPLR, dml.DoubleMLData(data, "y", ["d", "d2"], x_cols=columns(data, "X")),
                             folds, LinearRegression(), LinearRegression())
    ours = PLR(LinearRegression(), LinearRegression()).fit(data[columns(data, "X")], data["y"], data[["d", "d2"]],
                                                           folds=folds).results_
    assert_same(reference, ours)
    assert list(ours.params.index) == ["d", "d2"]          # named treatments give Series
    # the multiplier bootstrap: the same weights give the same draws and joint intervals
    for method in ("normal", "Bayes", "wild"):
        np.random.seed(7)
        reference.bootstrap(method=method, n_rep_boot=200)
        ours.bootstrap(method, 200, random_state=np.random.RandomState(7))
        np.testing.assert_allclose(ours.boot_t, reference.framework._boot_t_stat, rtol=0, atol=TOL)
        np.testing.assert_allclose(ours.conf_int(joint=True).to_numpy(), reference.confint(joint=True).to_numpy(),
                                   rtol=0, atol=TOL)
        joint, pointwise = ours.conf_int(joint=True).to_numpy(), ours.conf_int().to_numpy()
        assert ((joint[:, 1] - joint[:, 0]) > (pointwise[:, 1] - pointwise[:, 0])).all()


def test_paper_aggregation_of_repeated_splits(plr_data):
    X, y, d = plr_data[columns(plr_data, "X")].to_numpy(), plr_data["y"].to_numpy(), plr_data["d"].to_numpy()
    folds = make_folds(len(y), 5, 5, random_state=4)
    results = PLR(LinearRegression(), LinearRegression(), se_aggregation="paper").fit(X, y, d, folds=folds).results_
    coef = np.median(results.all_params, axis=1)
    se = np.sqrt(np.median(results.all_bse**2 + (results.all_params - coef[:, None]) ** 2, axis=1))
    np.testing.assert_allclose(results.params, coef, rtol=0, atol=1e-15)
    np.testing.assert_allclose(results.bse, se, rtol=0, atol=1e-15)


# -- IRM ------------------------------------------------------------------------------------

@pytest.mark.parametrize("score", ["ATE", "ATTE"])
@pytest.mark.parametrize("normalize_ipw", [False, True])
@pytest.mark.parametrize("n_rep", [1, 2])
def test_irm_equals_doubleml(irm_data, score, normalize_ipw, n_rep):
    X, y, d = irm_data[columns(irm_data, "X")].to_numpy(), irm_data["y"].to_numpy(), irm_data["d"].to_numpy()
    folds = make_folds(len(y), 4, n_rep, random_state=n_rep)
    settings = dict(score=score, normalize_ipw=normalize_ipw, trimming_threshold=0.05)
    reference = fit_doubleml(dml.DoubleMLIRM, dml.DoubleMLData(irm_data, "y", "d"), folds, forest(1),
                             RandomForestClassifier(n_estimators=15, max_depth=3, random_state=2), **settings)
    ours = IRM(forest(1), RandomForestClassifier(n_estimators=15, max_depth=3, random_state=2),
               **settings).fit(X, y, d, folds=folds)
    assert_same(reference, ours.results_)
    m = ours.predictions_["ml_m"]
    assert m.min() >= 0.05 and m.max() <= 0.95


def test_irm_trimming_threshold_default(irm_data):
    X, y, d = irm_data[columns(irm_data, "X")].to_numpy(), irm_data["y"].to_numpy(), irm_data["d"].to_numpy()
    folds = make_folds(len(y), 5, 1, random_state=0)
    reference = fit_doubleml(dml.DoubleMLIRM, dml.DoubleMLData(irm_data, "y", "d"), folds, LinearRegression(),
                             LogisticRegression())
    assert_same(reference, IRM(LinearRegression(), LogisticRegression()).fit(X, y, d, folds=folds).results_)


# -- PLIV -----------------------------------------------------------------------------------

@pytest.mark.parametrize("score, instruments", [("partialling out", ["Z1"]), ("IV-type", ["Z1"]),
                                                ("partialling out", ["Z1", "Z2"])])
def test_pliv_equals_doubleml(pliv_data, score, instruments):
    xs = columns(pliv_data, "X")
    data = pliv_data[xs + ["y", "d"] + instruments]
    folds = make_folds(len(data), 5, 2, random_state=9)
    extra = {"ml_g": LinearRegression()} if score == "IV-type" else {}
    reference = fit_doubleml(dml.DoubleMLPLIV, dml.DoubleMLData(data, "y", "d", x_cols=xs, z_cols=instruments),
                             folds, LinearRegression(), LinearRegression(), LinearRegression(), score=score, **extra)
    ours = PLIV(LinearRegression(), LinearRegression(), LinearRegression(), score=score, **extra)
    ours.fit(data[xs].to_numpy(), data["y"].to_numpy(), data["d"].to_numpy(), data[instruments].to_numpy(), folds=folds)
    assert_same(reference, ours.results_, losses=len(instruments) == 1)


# -- folds, bootstrap weights, results ------------------------------------------------------

def test_make_folds_partition_the_rows():
    splits = make_folds(103, 5, 3, random_state=0)
    assert len(splits) == 3 and all(len(rep) == 5 for rep in splits)
    for rep in splits:
        tests = np.sort(np.concatenate([test for _, test in rep]))
        np.testing.assert_array_equal(tests, np.arange(103))
        assert sorted(test.size for _, test in rep) == [20, 20, 21, 21, 21]
        for train, test in rep:
            assert np.intersect1d(train, test).size == 0 and train.size + test.size == 103
    assert check_folds(splits[0], 103)[0][0][1].tolist() == splits[0][0][1].tolist()


@pytest.mark.parametrize("method, mean, var", [("normal", 0, 1), ("Bayes", 0, 1), ("wild", 0, 1)])
def test_bootstrap_weights_have_mean_zero_variance_one(method, mean, var):
    weights = draw_weights(method, 400, 500, random_state=0)
    assert weights.shape == (400, 500)
    assert abs(weights.mean() - mean) < 0.01 and abs(weights.var() - var) < 0.02


def test_summary_and_named_results(plr_data):
    X, y, d = plr_data[columns(plr_data, "X")], plr_data["y"], plr_data["d"]
    model = PLR(LinearRegression(), LinearRegression(), n_folds=3, n_rep=2, random_state=0).fit(X, y, d)
    text = model.summary().as_text()
    assert "PLR Double/Debiased ML Results" in text and "partialling out" in text and "RMSE of ml_l" in text
    assert list(model.results_.conf_int().index) == ["d"]
    assert "ml_m" in model.results_.nuisance_table().as_text()
    # the folds drawn by fit are reproducible from random_state
    again = PLR(LinearRegression(), LinearRegression(), n_folds=3, n_rep=2, random_state=0).fit(X, y, d)
    assert float(again.results_.params.iloc[0]) == float(model.results_.params.iloc[0])


@pytest.mark.parametrize("name, ours, theirs, kwargs", [
    ("plr", causal_datasets.make_plr_CCDDHNR2018, make_plr_CCDDHNR2018, dict(n_obs=50, dim_x=7, alpha=0.3)),
    ("irm", causal_datasets.make_irm_data, make_irm_data, dict(n_obs=50, dim_x=6, theta=0.7)),
])
def test_the_generators_draw_what_doubleml_draws(name, ours, theirs, kwargs):
    np.random.seed(21)
    reference = theirs(return_type="array", **kwargs)
    for mine, expected in zip(ours(random_state=np.random.RandomState(21), **kwargs), reference):
        np.testing.assert_allclose(mine, expected, rtol=0, atol=1e-12)
