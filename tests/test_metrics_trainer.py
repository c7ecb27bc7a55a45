"""The Trainer's running metrics and the estimators' ``score`` give chainrule.metrics' values on
the whole data: the streaming sums (uneven batches, several outputs, constant targets) end where
the one-pass definitions do."""
from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
from chainrule import metrics, nn, optim, stats
from chainrule.train import Trainer


def _trainer(model, loss, names):
    return Trainer(model, loss, optim.SGD(model.parameters(), lr=0.01), metrics=names, verbose=0)


@pytest.mark.parametrize("outputs", [1, 3])
@pytest.mark.parametrize("batch_size", [7, 64, 500])
def test_regression_metrics_of_the_trainer_equal_chainrule_metrics(outputs, batch_size):
    rng = np.random.default_rng(outputs)
    X = rng.normal(size=(150, 4))
    y = X @ rng.normal(size=(4, outputs)) + 0.5 * rng.normal(size=(150, outputs))
    y[:, -1] += 100.0  # a large mean: the running M2 must not cancel
    cr.manual_seed(0)
    model = nn.MLP([4, 8, outputs]).double()
    trainer = _trainer(model, nn.MSELoss(), ("loss", "r2", "rmse", "mae"))
    data = (cr.tensor(X), cr.tensor(y))
    result = trainer.evaluate(data, batch_size=batch_size)
    predicted = trainer.predict(cr.tensor(X), batch_size=batch_size).numpy()
    for name, function in (("r2", metrics.r2), ("rmse", metrics.rmse), ("mae", metrics.mae)):
        assert result[name] == pytest.approx(function(y, predicted), rel=1e-10, abs=1e-12), name


def test_r2_of_a_constant_target_is_finite_as_in_chainrule_metrics():
    X = np.random.default_rng(0).normal(size=(20, 2))
    cr.manual_seed(0)
    model = nn.Linear(2, 1).double()
    trainer = _trainer(model, nn.MSELoss(), ("r2",))
    y = np.full((20, 1), 2.0)
    predicted = trainer.predict(cr.tensor(X)).numpy()
    assert trainer.evaluate((cr.tensor(X), cr.tensor(y)), batch_size=6)["r2"] == metrics.r2(y, predicted) == 0.0


@pytest.mark.parametrize("classes", [1, 4])
def test_accuracy_of_the_trainer_equals_chainrule_metrics(classes):
    rng = np.random.default_rng(classes)
    X = rng.normal(size=(123, 5))
    labels = rng.integers(0, max(classes, 2), 123)
    cr.manual_seed(1)
    model = nn.MLP([5, 8, classes]).double()
    if classes == 1:
        trainer, y = _trainer(model, nn.BCEWithLogitsLoss(), ("accuracy",)), labels[:, None].astype(np.float64)
    else:
        trainer, y = _trainer(model, nn.CrossEntropyLoss(), ("accuracy",)), labels
    result = trainer.evaluate((cr.tensor(X), cr.tensor(y)), batch_size=10)["accuracy"]
    logits = trainer.predict(cr.tensor(X), batch_size=10).numpy()
    predicted = (logits[:, 0] > 0).astype(int) if classes == 1 else logits.argmax(axis=1)
    assert result == metrics.accuracy(labels, predicted)
    assert 0 < result < 1


def _regression_data(seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(80, 3))
    return X, X @ np.array([1.0, -2.0, 0.5]) + rng.normal(size=80)


@pytest.mark.parametrize("make", [
    lambda: stats.OLS(), lambda: stats.Ridge(alpha=0.5), lambda: stats.Lasso(alpha=0.05),
    lambda: stats.PCR(n_components=2), lambda: stats.ForwardStepwise(),
], ids=["OLS", "Ridge", "Lasso", "PCR", "ForwardStepwise"])
def test_regressors_score_is_chainrule_r2(make):
    X, y = _regression_data()
    model = make().fit(X[:60], y[:60])
    assert model.score(X[60:], y[60:]) == pytest.approx(metrics.r2(y[60:], model.predict(X[60:])), rel=1e-12)


def test_classifiers_score_is_chainrule_accuracy():
    X, y = _regression_data(1)
    labels = (y + np.random.default_rng(2).normal(size=80) > 0).astype(int)
    model = stats.Logit().fit(X, labels)
    assert model.score(X, labels) == metrics.accuracy(labels, model.predict(X))
    classes = np.digitize(y, [-1.0, 1.0])
    model = stats.MNLogit().fit(X, classes)
    assert model.score(X, classes) == metrics.accuracy(classes, model.predict(X))


def test_the_score_helpers_of_the_estimator_protocol_use_chainrule_metrics():
    from chainrule.stats.estimator import accuracy, r_squared

    assert r_squared(np.array([1.0, 2.0, 3.0]), np.array([1.0, 2.0, 2.0])) == metrics.r2([1, 2, 3], [1, 2, 2])
    assert r_squared(np.ones(3), np.ones(3)) == 1.0  # a constant target: finite, as scikit-learn's score
    assert accuracy(np.array(["a", "b"]), np.array(["a", "a"])) == 0.5
