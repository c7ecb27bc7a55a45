"""Farrell, Liang and Misra (2021): the deep-net ATE (``FLM2021``) and the structured model of
individual heterogeneity (``DeepHeterogeneity``), on simulated data with known effects."""
from __future__ import annotations

import numpy as np
import pytest

from chainrule.causal import (
    FLM2021,
    DeepHeterogeneity,
    flm_ate_score,
    influence_function,
    loss_derivatives,
    make_flm_ate_data,
    make_heterogeneity_data,
    randomized_lambda,
)


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
    text = model.summary().as_text()
    assert "FLM2021" in text
    if options.get("n_folds", 1) > 1:
        assert "cross-fitted nuisances" in text and "no sample splitting" not in text
    else:  # without splits the summary must not claim cross-fitting
        assert "cross-fitted" not in text and "no sample splitting" in text


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


# -- the structured model of individual heterogeneity -------------------------------------------

def sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def test_loss_derivatives_from_autograd_equal_the_closed_forms():
    rng = np.random.default_rng(0)
    theta, t, y = rng.normal(size=(7, 3)), rng.normal(size=(7, 2)), (rng.uniform(size=7) < 0.5) * 1.0
    z = np.column_stack([np.ones(7), t])
    eta = np.sum(theta * z, axis=1)
    gradient, hessian = loss_derivatives("logit", y, t, theta)
    np.testing.assert_allclose(gradient, (sigmoid(eta) - y)[:, None] * z, atol=1e-12)
    np.testing.assert_allclose(hessian, (sigmoid(eta) * (1 - sigmoid(eta)))[:, None, None] * z[:, :, None]
                               * z[:, None, :], atol=1e-12)
    gradient, hessian = loss_derivatives("linear", y, t, theta)
    np.testing.assert_allclose(gradient, -(y - eta)[:, None] * z, atol=1e-12)
    np.testing.assert_allclose(hessian, z[:, :, None] * z[:, None, :], atol=1e-12)


def test_influence_function_with_true_nuisances_has_the_closed_form():
    X, y, t, truth = make_heterogeneity_data(200_000, "linear", random_state=5)
    theta = truth["theta"]
    Lambda = np.array([[1.0, 0.5], [0.5, 0.5]])                    # E[(1, t)(1, t)'] for t ~ Bernoulli(1/2)
    psi = influence_function("linear", y, t, theta, Lambda)
    epsilon = y - theta[:, 0] - theta[:, 1] * t
    np.testing.assert_allclose(psi, theta[:, 1] + epsilon * (t - 0.5) / 0.25, atol=1e-10)
    se = psi.std() / np.sqrt(len(y))
    assert se == pytest.approx(np.sqrt(truth["V"] / len(y)), rel=0.02)  # Var β(X) + σ²/Var(t), closed form
    assert abs(psi.mean() - truth["mean_beta"]) < 4 * se
    # the logit, with its true Λ(x) = E_t[σ'(α + βt)(1, t)(1, t)'] from the randomized treatment
    X, y, t, truth = make_heterogeneity_data(200_000, "logit", random_state=6)
    theta = truth["theta"]
    Lambda = randomized_lambda("logit", theta, np.array([0.0, 1.0]))
    d0, d1 = (sigmoid(theta[:, 0]) * (1 - sigmoid(theta[:, 0])), sigmoid(theta.sum(1)) * (1 - sigmoid(theta.sum(1))))
    np.testing.assert_allclose(Lambda[:, 0, 0], 0.5 * (d0 + d1), atol=1e-12)
    np.testing.assert_allclose(Lambda[:, 1, 1], 0.5 * d1, atol=1e-12)
    psi = influence_function("logit", y, t, theta, Lambda)
    assert abs(psi.mean() - 1.0) < 4 * psi.std() / np.sqrt(len(y))


@pytest.mark.parametrize("lambda_model", ["randomized", "constant", "network"])
def test_deep_heterogeneity_linear_is_unbiased(lambda_model):
    X, y, t, truth = make_heterogeneity_data(3000, "linear", random_state=1)
    model = DeepHeterogeneity(hidden=(32, 32), epochs=100, lambda_model=lambda_model, random_state=0).fit(X, y, t)
    theta, se = float(model.results_.params[0]), float(model.results_.bse[0])
    assert abs(theta - truth["mean_beta"]) < 3 * se
    assert se == pytest.approx(np.sqrt(truth["V"] / len(y)), rel=0.2)
    assert model.theta_.shape == (3000, 2) and "DeepHeterogeneity" in model.summary().as_text()


def test_deep_heterogeneity_logit_mean_beta_and_marginal_effect():
    X, y, t, truth = make_heterogeneity_data(6000, "logit", random_state=1)
    options = dict(model="logit", hidden=(32, 32), epochs=200, lr=3e-3, patience=20, random_state=0)
    fit = DeepHeterogeneity(**options).fit(X, y, t)
    assert abs(float(fit.results_.params[0]) - 1.0) < 3 * float(fit.results_.bse[0])
    _, _, _, population = make_heterogeneity_data(400_000, "logit", random_state=2)
    alpha, beta = population["theta"].T
    ame = np.mean(sigmoid(alpha) * (1 - sigmoid(alpha)) * beta)     # at t* = 0
    fit = DeepHeterogeneity(target="ame", **options).fit(X, y, t)
    assert abs(float(fit.results_.params[0]) - ame) < 3 * float(fit.results_.bse[0])


def test_deep_heterogeneity_callable_target():
    X, y, t, _ = make_heterogeneity_data(600, "linear", random_state=3)
    options = dict(hidden=(8,), epochs=20, random_state=0)
    base = DeepHeterogeneity(**options).fit(X, y, t).results_

    def twice_beta(theta, X):
        return 2 * theta[:, 1]

    doubled = DeepHeterogeneity(target=twice_beta, **options).fit(X, y, t).results_
    assert float(doubled.params[0]) == pytest.approx(2 * float(base.params[0]), rel=1e-10)
    assert float(doubled.bse[0]) == pytest.approx(2 * float(base.bse[0]), rel=1e-10)


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"model": "probit"}, "model must be"),
    ({"target": "median"}, "target must be"),
    ({"target": "ame"}, "logit"),
    ({"n_folds": 2}, "n_folds must be"),
    ({"lambda_model": "exact"}, "lambda_model must be"),
])
def test_deep_heterogeneity_argument_errors(kwargs, message):
    with pytest.raises(ValueError, match=message):
        DeepHeterogeneity(**kwargs)
