r"""Nuisance learners: the estimators that predict E[Y|X], E[D|X], P(D=1|X) … in each fold.

Three kinds of object are accepted wherever a model asks for a learner (``ml_l``, ``ml_m`` …):

* any scikit-learn-style estimator with ``fit(X, y)`` and ``predict(X)`` (a classifier also
  with ``predict_proba``): scikit-learn's own, or chainrule's ``stats`` estimators (``Lasso``,
  ``Ridge``, ``LogisticRegression`` …, which follow the same protocol). Each fold fits a fresh
  copy (``sklearn.base.clone`` where scikit-learn is loaded, else ``type(e)(**e.get_params())``,
  else a deep copy), so the object passed in is never fitted.
* a chainrule network: an ``nn.Module`` mapping (N, p) inputs to (N, 1) outputs (a regression
  output, or the logit of P(D=1|X)), wrapped in :class:`NetworkLearner` (done automatically
  for a bare Module, with its defaults); or a :class:`NetworkLearner` built by the user.
  Each fit copies the module, re-initializes its parameters (``reset_parameters`` of each
  layer), standardizes the inputs (and a regression target) with the training rows' mean and
  standard deviation, holds out a random ``validation_fraction`` of the training rows, and
  trains with :class:`chainrule.train.Trainer` (Adam; mean squared error, or binary
  cross-entropy on the logit) with :class:`chainrule.train.EarlyStopping` on the held-out
  loss, restoring the best epoch's weights.

:func:`as_learner` turns any of these into a :class:`Learner` (``fit_predict`` on one fold),
checking that a learner asked to give probabilities can (``predict_proba``, or a network
trained for classification).
"""
from __future__ import annotations

import copy
import inspect
import sys

from ..engine import backend
from ..engine import random as _random

np = backend.host

__all__ = ["Learner", "NetworkLearner", "as_learner"]


class NetworkLearner:
    """A chainrule network as a nuisance learner, trained with early stopping.

    Args:
        module: an ``nn.Module`` whose output is (N, 1); or a callable ``module(n_features)``
            returning one; or None for ``nn.MLP([n_features, *hidden, 1])``.
        task: "regression" (outputs are predictions; loss MSE on the standardized target) or
            "classification" (outputs are logits of P(y = 1); loss binary cross-entropy).
        hidden, activation, dropout: the MLP built when ``module`` is None (``nn.MLP``'s arguments).
        epochs: the most epochs; batch_size, lr (Adam's), weight_decay: the optimizer's.
        patience: epochs without a lower validation loss before training stops.
        validation_fraction: the share of each fold's training rows held out for early stopping.
        random_state: an int seeds chainrule's generator before each fit (initialization,
            shuffling) and the validation split; None leaves the generator as it is.

    After a fit: ``model_`` (the trained module), ``epochs_run_``, ``best_val_loss_``.
    """

    def __init__(self, module=None, task="regression", hidden=(64, 64), activation="relu", dropout=0.0, epochs=200,
                 batch_size=64, lr=1e-3, weight_decay=0.0, patience=10, validation_fraction=0.2, random_state=None):
        if task not in ("regression", "classification"):
            raise ValueError(f"NetworkLearner: task must be 'regression' or 'classification'; got {task!r}")
        if not 0 < validation_fraction < 1:
            raise ValueError(f"NetworkLearner: validation_fraction must lie in (0, 1); got {validation_fraction!r}")
        for name, value in (("epochs", epochs), ("batch_size", batch_size), ("patience", patience)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"NetworkLearner: {name} must be a positive int; got {value!r}")
        self.module, self.task, self.hidden, self.activation = module, task, tuple(hidden), activation
        self.dropout = dropout
        self.epochs, self.batch_size, self.lr, self.weight_decay = epochs, batch_size, lr, weight_decay
        self.patience, self.validation_fraction, self.random_state = patience, validation_fraction, random_state
        self._fits = [0]  # shared by the per-fold copies, so that each fit draws its own seed

    def get_params(self, deep=True) -> dict:
        """The constructor arguments (the scikit-learn protocol)."""
        names = [p for p in inspect.signature(NetworkLearner.__init__).parameters if p != "self"]
        return {name: getattr(self, name) for name in names}

    def fit(self, X, y):
        """Train a fresh copy of the network on (X, y) with early stopping; returns self."""
        from .. import nn, optim, train  # noqa: PLC0415 - the network stack only when a network is used

        X, y = np.asarray(X, dtype=np.float64), np.asarray(y, dtype=np.float64).reshape(-1)
        rng = np.random.default_rng(None if self.random_state is None else (self.random_state, self._fits[0]))
        if self.random_state is not None:
            _random.manual_seed(int(rng.integers(2**31)))
        self._fits[0] += 1
        model = self._build(X.shape[1], nn)
        dtype = _parameter_dtype(model)
        self.x_mean_, self.x_scale_ = X.mean(0), _scale(X.std(0))
        self.y_mean_, self.y_scale_ = (y.mean(), _scale(y.std())) if self.task == "regression" else (0.0, 1.0)
        Xs, ys = ((X - self.x_mean_) / self.x_scale_).astype(dtype), ((y - self.y_mean_) / self.y_scale_)
        ys = ys.astype(dtype).reshape(-1, 1)
        order = rng.permutation(len(X))
        n_val = max(1, int(round(self.validation_fraction * len(X))))
        val, fit = order[:n_val], order[n_val:]
        loss = nn.MSELoss() if self.task == "regression" else nn.BCEWithLogitsLoss()
        stopper = train.EarlyStopping(patience=self.patience)
        optimizer = optim.Adam(model.parameters(), lr=self.lr, weight_decay=self.weight_decay)
        trainer = train.Trainer(model, loss, optimizer, callbacks=[stopper], verbose=0)
        history = trainer.fit((Xs[fit], ys[fit]), (Xs[val], ys[val]), epochs=self.epochs,
                              batch_size=min(self.batch_size, len(fit)))
        self.model_, self.epochs_run_, self.best_val_loss_ = model, len(history), stopper.best
        self._trainer = trainer
        return self

    def _build(self, n_features, nn):
        if self.module is None:
            return nn.MLP([n_features, *self.hidden, 1], activation=self.activation, dropout=self.dropout,
                          dtype=backend.float64)
        if isinstance(self.module, nn.Module):
            model = copy.deepcopy(self.module)
            for layer in model.modules():
                if hasattr(layer, "reset_parameters"):
                    layer.reset_parameters()
            return model
        model = self.module(n_features)
        if not isinstance(model, nn.Module):
            raise TypeError(f"NetworkLearner: module(n_features) must return an nn.Module; got {type(model).__name__}")
        return model

    def _outputs(self, X):
        X = np.asarray(X, dtype=np.float64)
        inputs = ((X - self.x_mean_) / self.x_scale_).astype(_parameter_dtype(self.model_))
        out = self._trainer.predict(inputs)
        return np.asarray(out.numpy() if hasattr(out, "numpy") else out, dtype=np.float64).reshape(len(X), -1)[:, 0]

    def predict(self, X):
        """Regression: the predictions on the original scale; classification: the labels 0/1."""
        out = self._outputs(X)
        return out * self.y_scale_ + self.y_mean_ if self.task == "regression" else (out > 0).astype(np.float64)

    def predict_proba(self, X):
        """Classification only: (N, 2) probabilities [P(y=0), P(y=1)] = [1 − σ(logit), σ(logit)]."""
        if self.task != "classification":
            raise AttributeError("NetworkLearner.predict_proba: the network was set up with task='regression'")
        p = 1.0 / (1.0 + np.exp(-self._outputs(X)))
        return np.column_stack([1.0 - p, p])


class Learner:
    """One nuisance learner, adapted: ``fit_predict(X_train, y_train, X_test)`` fits a fresh
    copy and returns (its predictions on ``X_test``, the fitted copy); the predictions are
    P(y = 1 | X) (the column of class 1 of ``predict_proba``) when ``proba``."""

    def __init__(self, estimator, name: str, proba: bool):
        self.estimator, self.name, self.proba = estimator, name, proba

    def fit_predict(self, X_train, y_train, X_test):
        model = _fresh(self.estimator)
        if self.proba:
            classes = np.unique(y_train)
            if classes.size < 2:
                raise ValueError(f"{self.name}: a fold's training rows all have the label {classes[0]!r}; the "
                                 f"classifier cannot learn P(D=1|X) (a treatment without variation in a fold)")
        model.fit(X_train, y_train)
        if not self.proba:
            return np.asarray(model.predict(X_test), dtype=np.float64).reshape(-1), model
        probabilities = np.asarray(model.predict_proba(X_test), dtype=np.float64)
        labels = list(getattr(model, "classes_", [0, 1]))
        column = labels.index(1) if 1 in labels else probabilities.shape[1] - 1
        return probabilities[:, column], model


def as_learner(estimator, name: str, proba: bool = False) -> Learner:
    """``estimator`` adapted as :class:`Learner` named ``name`` (e.g. "ml_m"); ``proba``: the
    model needs P(y = 1 | X) from it (``predict_proba``)."""
    if estimator is None:
        raise TypeError(f"{name}: a learner is required; got None")
    module_type = _module_type()
    if module_type is not None and isinstance(estimator, module_type):
        estimator = NetworkLearner(estimator, task="classification" if proba else "regression")
    if not (callable(getattr(estimator, "fit", None)) and callable(getattr(estimator, "predict", None))):
        raise TypeError(f"{name}: a learner needs fit(X, y) and predict(X) (a scikit-learn-style estimator, a "
                        f"chainrule estimator or network); got {type(estimator).__name__}")
    if proba:
        is_network_regressor = isinstance(estimator, NetworkLearner) and estimator.task != "classification"
        if is_network_regressor or not callable(getattr(estimator, "predict_proba", None)):
            raise TypeError(f"{name} must be a classifier with predict_proba (it estimates the propensity "
                            f"P(D=1|X)); got {type(estimator).__name__}")
    return Learner(estimator, name, proba)


def is_classifier(estimator) -> bool:
    """Whether ``estimator`` is a classifier (scikit-learn's tags or ``_estimator_type``)."""
    if isinstance(estimator, NetworkLearner):
        return estimator.task == "classification"
    if "sklearn" in sys.modules:
        from sklearn.base import is_classifier as sklearn_is_classifier  # noqa: PLC0415 - already loaded

        try:
            return bool(sklearn_is_classifier(estimator))
        except (AttributeError, TypeError):
            pass
    return getattr(estimator, "_estimator_type", None) == "classifier"


def _fresh(estimator):
    if isinstance(estimator, NetworkLearner):
        return copy.copy(estimator)  # each fit builds and re-initializes its own copy of the network
    if "sklearn" in sys.modules and hasattr(estimator, "get_params"):
        from sklearn.base import clone  # noqa: PLC0415 - scikit-learn is already loaded

        return clone(estimator)
    if hasattr(estimator, "get_params"):
        return type(estimator)(**estimator.get_params())
    return copy.deepcopy(estimator)


def _module_type():
    nn = sys.modules.get("chainrule.nn")
    return None if nn is None else nn.Module


def _parameter_dtype(model):
    for parameter in model.parameters():
        return parameter.data.dtype
    return np.float64


def _scale(values):
    return np.where(np.asarray(values) > 0, values, 1.0)
