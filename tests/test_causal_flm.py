"""Farrell, Liang and Misra (2021): the deep-net ATE (``FLM2021``) and the structured model of
individual heterogeneity (``DeepHeterogeneity``), on simulated data with known effects."""
from __future__ import annotations

import numpy as np
import pytest

from chainrule.causal import FLM2021, flm_ate_score, make_flm_ate_data


@pytest.fixture(scope="module")
def ate_data():
    return make_flm_ate_data(4000, random_state=7)


@pytest.mark.parametrize("options", [{}, {"n_folds": 2}, {"outcome": "joint"}],
                         ids=["no-split", "crossfit", "joint"])
def test_flm_ate_is_unbiased_within_a_few_standard_errors(ate_data, options):
    X, y, d, truth = ate_data
    model = FLM2021(hidden=(32, 32), epochs=100, random_state=0, **options).fit(X, y, d)
    theta, se = float(model.results_.params[0]), float(model.results_.bse[0])
    assert abs(theta - truth["ate"]) < 3 * se
    # the efficiency bound: SE close to sqrt(V/n) (nuisances estimated well)
    assert se == pytest.approx(np.sqrt(truth["V"] / len(y)), rel=0.15)
    low, high = model.results_.conf_int()[0]
    assert low == pytest.approx(theta - 1.959964 * se, abs=1e-5) and high == pytest.approx(theta + 1.959964 * se,
                                                                                         abs=1e-5)
    assert "FLM2021" in model.summary().as_text()


def test_flm_score_with_true_nuisances_has_the_closed_form_standard_error():
    X, y, d, truth = make_flm_ate_data(200_000, random_state=3)
    theta, psi, se = flm_ate_score(y, d, truth["mu0"], truth["mu1"], truth["p"])
    manual = (truth["mu1"] - truth["mu0"] + d * (y - truth["mu1"]) / truth["p"]
              - (1 - d) * (y - truth["mu0"]) / (1 - truth["p"]))
    assert theta == pytest.approx(manual.mean(), abs=1e-12)
    assert se == pytest.approx(manual.std() / np.sqrt(len(y)), rel=1e-12)
    assert se == pytest.approx(np.sqrt(truth["V"] / len(y)), rel=0.02)      # the efficiency bound, in closed form
    assert abs(theta - 1.0) < 4 * se


def test_flm_ate_trims_the_propensity(ate_data):
    X, y, d, _ = ate_data

    class Extreme:
        def fit(self, X, y):
            return self

        def predict(self, X):
            return np.zeros(len(X))

        def predict_proba(self, X):
            p = np.where(X[:, 0] > 0, 0.999, 0.3)
            return np.column_stack([1 - p, p])

    model = FLM2021(ml_p=Extreme(), hidden=(8,), epochs=5, random_state=0, trimming_threshold=0.05).fit(X, y, d)
    assert model.predictions_["p"].max() == pytest.approx(0.95) and model.n_trimmed_ == int((X[:, 0] > 0).sum())


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"outcome": "both"}, "outcome must be"),
    ({"n_folds": 1}, "n_folds must be None"),
    ({"trimming_threshold": 0.5}, "trimming_threshold"),
])
def test_flm_ate_argument_errors(kwargs, message):
    with pytest.raises(ValueError, match=message):
        FLM2021(**kwargs)


def test_flm_ate_needs_a_binary_treatment():
    X = np.random.default_rng(0).normal(size=(20, 3))
    with pytest.raises(ValueError, match="binary"):
        FLM2021().fit(X, X[:, 0], X[:, 1])
