"""chainrule.causal: nuisance learners of every kind (scikit-learn, chainrule estimators,
chainrule networks with early stopping) and the errors for bad input."""
from __future__ import annotations

import numpy as np
import pytest

from chainrule import nn, stats
from chainrule.causal import IRM, PLIV, PLR, NetworkLearner, as_learner, check_folds, make_folds

sklearn_linear = pytest.importorskip("sklearn.linear_model")
LinearRegression, LogisticRegression = sklearn_linear.LinearRegression, sklearn_linear.LogisticRegression


def plr_data(n=300, p=5, theta=0.5, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, p))
    d = X[:, 0] + 0.5 * X[:, 1] + rng.normal(size=n)
    y = theta * d + X[:, 0] - X[:, 2] + rng.normal(size=n)
    return X, y, d


def irm_data(n=400, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 3))
    d = (rng.random(n) < 1 / (1 + np.exp(-X[:, 0]))).astype(float)
    y = 1.0 * d + X[:, 0] + X[:, 1] + rng.normal(size=n)
    return X, y, d


# -- learners -------------------------------------------------------------------------------

def test_chainrule_estimators_as_learners_equal_the_scikit_learn_ones():
    """stats.Ridge and stats.LogisticRegression (scikit-learn's objectives) as nuisance
    learners give scikit-learn's estimates: Ridge exactly, the logistic fit to its solver's tolerance."""
    ridge = pytest.importorskip("sklearn.linear_model").Ridge
    X, y, d = irm_data()
    folds = make_folds(len(y), 5, 1, random_state=0)
    ours = PLR(stats.Ridge(alpha=2.0), stats.Ridge(alpha=2.0)).fit(X, y, d, folds=folds).results_
    sk = PLR(ridge(alpha=2.0), ridge(alpha=2.0)).fit(X, y, d, folds=folds).results_
    np.testing.assert_allclose(ours.params, sk.params, rtol=0, atol=1e-10)
    np.testing.assert_allclose(ours.bse, sk.bse, rtol=0, atol=1e-10)
    ours = IRM(stats.Ridge(alpha=2.0), stats.LogisticRegression(C=1.0, tol=1e-10)).fit(X, y, d, folds=folds).results_
    sk = IRM(ridge(alpha=2.0), LogisticRegression(C=1.0, tol=1e-10, max_iter=10000)).fit(X, y, d, folds=folds).results_
    np.testing.assert_allclose(ours.params, sk.params, rtol=0, atol=1e-6)
    np.testing.assert_allclose(ours.bse, sk.bse, rtol=0, atol=1e-6)


def test_lasso_nuisances_recover_the_effect():
    X, y, d = plr_data(n=600)
    results = PLR(stats.Lasso(alpha=0.01), stats.Lasso(alpha=0.01), random_state=0).fit(X, y, d).results_
    low, high = results.conf_int()[0]
    assert low < 0.5 < high and results.bse[0] < 0.06


@pytest.mark.parametrize("module", [None, "module", "factory"])
def test_networks_train_with_early_stopping(module):
    X, y, d = plr_data(n=300)
    spec = {None: None, "module": nn.MLP([5, 16, 1], dtype="float64"),
            "factory": lambda p: nn.MLP([p, 16, 1], dtype="float64")}[module]
    learner = NetworkLearner(spec, hidden=(16,), lr=1e-2, epochs=60, patience=5, random_state=0)
    model = PLR(learner, learner, n_folds=3, random_state=0).fit(X, y, d, keep_models=True)
    results = model.results_
    assert abs(results.params[0] - 0.5) < 4 * results.bse[0]
    assert set(results.nuisance_loss) == {"ml_l", "ml_m"}
    assert 0.9 < results.nuisance_loss["ml_m"][0, 0] < 1.3          # the noise of d has sd 1
    fitted = model.models_["ml_m"]["d"][0]
    assert len(fitted) == 3 and fitted[0] is not fitted[1]
    assert 1 <= fitted[0].epochs_run_ <= 60 and np.isfinite(fitted[0].best_val_loss_)


def test_network_propensity_for_irm():
    X, y, d = irm_data()
    learner_g = NetworkLearner(hidden=(16,), lr=1e-2, epochs=40, patience=5, random_state=1)
    learner_m = NetworkLearner(hidden=(16,), task="classification", lr=1e-2, epochs=40, patience=5, random_state=1)
    results = IRM(learner_g, learner_m, n_folds=3, random_state=0).fit(X, y, d).results_
    assert abs(results.params[0] - 1.0) < 4 * results.bse[0]
    assert 0.4 < results.nuisance_loss["ml_m"][0, 0] < 0.7           # log loss of a logistic propensity


def test_a_bare_module_becomes_a_network_learner():
    learner = as_learner(nn.MLP([3, 4, 1]), "ml_m", proba=True)
    assert isinstance(learner.estimator, NetworkLearner) and learner.estimator.task == "classification"


def test_network_reproducible_with_random_state():
    X, y, d = plr_data(n=200)
    make = lambda: NetworkLearner(hidden=(8,), lr=1e-2, epochs=20, patience=3, random_state=3)  # noqa: E731
    first = PLR(make(), make(), n_folds=2, random_state=0).fit(X, y, d).results_.params
    second = PLR(make(), make(), n_folds=2, random_state=0).fit(X, y, d).results_.params
    np.testing.assert_array_equal(first, second)


# -- bad input ------------------------------------------------------------------------------

X0, Y0, D0 = plr_data(n=60)
XB, YB, DB = irm_data(n=60)
FOLDS = make_folds(60, 3, 1, random_state=0)[0]


class NoPredict:
    def fit(self, X, y):
        return self


BAD = [
    ("X 3-d", lambda: PLR(LinearRegression(), LinearRegression()).fit(X0[:, :, None], Y0, D0), ValueError, "2-d"),
    ("y rows", lambda: PLR(LinearRegression(), LinearRegression()).fit(X0, Y0[:-1], D0), ValueError, "shape"),
    ("d rows", lambda: PLR(LinearRegression(), LinearRegression()).fit(X0, Y0, D0[:-1]), ValueError, "shape"),
    ("nan in X", lambda: PLR(LinearRegression(), LinearRegression()).fit(np.where(X0 > 2, np.nan, X0), Y0, D0),
     ValueError, "non-finite"),
    ("constant d", lambda: PLR(LinearRegression(), LinearRegression()).fit(X0, Y0, np.ones(60)), ValueError,
     "no variation"),
    ("text y", lambda: PLR(LinearRegression(), LinearRegression()).fit(X0, np.array(["a"] * 60), D0), TypeError,
     "numeric"),
    ("bad score", lambda: PLR(LinearRegression(), LinearRegression(), score="ATE").fit(X0, Y0, D0), ValueError,
     "score must be one of"),
    ("n_folds 1", lambda: PLR(LinearRegression(), LinearRegression(), n_folds=1).fit(X0, Y0, D0), ValueError,
     "n_folds"),
    ("aggregation", lambda: PLR(LinearRegression(), LinearRegression(), se_aggregation="mean").fit(X0, Y0, D0),
     ValueError, "se_aggregation"),
    ("no predict", lambda: PLR(NoPredict(), LinearRegression()).fit(X0, Y0, D0), TypeError,
     "fit\\(X, y\\) and predict"),
    ("no learner", lambda: PLR(None, LinearRegression()).fit(X0, Y0, D0), TypeError, "ml_l: a learner is required"),
    ("classifier on continuous d", lambda: PLR(LinearRegression(), LogisticRegression()).fit(X0, Y0, D0), ValueError,
     "not binary"),
    ("IRM continuous d", lambda: IRM(LinearRegression(), LogisticRegression()).fit(X0, Y0, D0), ValueError,
     "must be binary"),
    ("IRM regressor propensity", lambda: IRM(LinearRegression(), LinearRegression()).fit(XB, YB, DB), TypeError,
     "ml_m must be a classifier with predict_proba"),
    ("IRM network regressor propensity", lambda: IRM(LinearRegression(), NetworkLearner()).fit(XB, YB, DB),
     TypeError, "ml_m must be a classifier"),
    ("IRM trimming", lambda: IRM(LinearRegression(), LogisticRegression(), trimming_threshold=0.5).fit(XB, YB, DB),
     ValueError, "trimming_threshold"),
    ("IRM two treatments", lambda: IRM(LinearRegression(), LogisticRegression()).fit(
        XB, YB, np.column_stack([DB, 1 - DB])), ValueError, "one treatment"),
    ("IRM with z", lambda: IRM(LinearRegression(), LogisticRegression()).fit(XB, YB, DB, z=XB[:, 0]), ValueError,
     "no instruments"),
    ("PLIV without z", lambda: PLIV(LinearRegression(), LinearRegression(), LinearRegression()).fit(X0, Y0, D0),
     ValueError, "instruments z are required"),
    ("PLIV IV-type two z", lambda: PLIV(LinearRegression(), LinearRegression(), LinearRegression(),
                                        score="IV-type").fit(X0, Y0, D0, X0[:, :2]), ValueError, "one instrument"),
    ("folds miss a row", lambda: PLR(LinearRegression(), LinearRegression()).fit(
        X0, Y0, D0, folds=[(tr[tr != 0], te[te != 0]) for tr, te in FOLDS]), ValueError, "no test set"),
    ("folds overlap", lambda: PLR(LinearRegression(), LinearRegression()).fit(
        X0, Y0, D0, folds=[(np.arange(60), te) for _, te in FOLDS]), ValueError, "trains on rows of its own test"),
    ("folds out of range", lambda: check_folds([(np.arange(30), np.arange(30, 61)), (np.arange(30, 60),
                                                                                    np.arange(30))], 60),
     ValueError, "must lie in"),
    ("folds not pairs", lambda: check_folds("abc", 60), TypeError, "folds must be"),
    ("folds float", lambda: check_folds([(np.arange(30.0), np.arange(30, 60)), (np.arange(30, 60), np.arange(30))],
                                        60), TypeError, "integer"),
    ("network task", lambda: NetworkLearner(task="poisson"), ValueError, "task"),
    ("joint before bootstrap", lambda: PLR(LinearRegression(), LinearRegression()).fit(X0, Y0, D0).results_.conf_int(
        joint=True), ValueError, "call bootstrap"),
    ("bootstrap method", lambda: PLR(LinearRegression(), LinearRegression()).fit(X0, Y0, D0).results_.bootstrap(
        "gamma"), ValueError, "method must be one of"),
]


@pytest.mark.parametrize("case, call, error, message", BAD, ids=[case[0] for case in BAD])
def test_bad_input_gives_a_clear_error(case, call, error, message):
    with pytest.raises(error, match=message):
        call()


def test_propensity_that_predicts_the_treatment_warns():
    X, y, d = irm_data(n=200)
    X = np.column_stack([X, 50 * (d - 0.5)])           # a control that reveals the treatment
    with pytest.warns(UserWarning, match="predicts the treatment"):
        results = IRM(LinearRegression(), LogisticRegression(C=1e6, max_iter=2000)).fit(X, y, d).results_
    assert np.isfinite(results.params).all()


def test_a_fold_without_treated_rows_is_an_error():
    X, y, d = irm_data(n=60)
    treated = np.flatnonzero(d == 1)
    others = np.setdiff1d(np.arange(60), treated)
    folds = [(others, treated), (treated, others)]      # the first fold trains on untreated rows only
    with pytest.raises(ValueError, match="no training rows|all have the label"):
        IRM(LinearRegression(), LogisticRegression()).fit(X, y, d, folds=folds)
