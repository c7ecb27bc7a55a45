"""The estimator protocol shared by every model in ``chainrule.stats``.

It is scikit-learn's, written without importing scikit-learn: ``__init__`` stores its
arguments under the same names and does nothing else; ``get_params``/``set_params``
read and write them; ``fit(X, y)`` validates, sets attributes ending in ``_`` and
returns ``self``. With ``__sklearn_tags__`` and ``__sklearn_is_fitted__`` (which
scikit-learn >= 1.6 asks every estimator that is not its own ``BaseEstimator`` for) that
is all ``sklearn.base.clone``, ``Pipeline`` and ``cross_val_score`` need. scikit-learn is
imported only when scikit-learn itself asks.

A method that needs a fitted model raises :class:`NotFittedError` before ``fit``, a
ValueError and an AttributeError as scikit-learn's own; once scikit-learn has been imported
(by the user, or by scikit-learn asking) the error raised is also an instance of
``sklearn.exceptions.NotFittedError`` (:func:`sklearn_twin`), so that ``except`` clauses
naming either class catch it, and scikit-learn's ``check_estimator`` recognizes it.
"""
from __future__ import annotations

import inspect
import sys

from .. import metrics
from ..engine import backend

np = backend.host

_TWINS: dict = {}


class NotFittedError(ValueError, AttributeError):
    """A method that needs a fitted estimator was called before ``fit``.

    scikit-learn's ``NotFittedError``: both a ValueError and an AttributeError (so
    ``hasattr(model, "params")`` is False before a fit). Once scikit-learn is imported, the
    error raised is also an instance of ``sklearn.exceptions.NotFittedError``.
    """


def sklearn_twin(cls: type, name: str) -> type:
    """``cls``; or, once scikit-learn has been imported, a subclass of ``cls`` and of
    ``sklearn.exceptions.<name>`` (made once), so that ``except`` clauses and warning filters
    naming either class match. scikit-learn is never imported here for this (importing it
    costs a second or more): a program that has not imported it cannot name its classes."""
    if "sklearn" not in sys.modules:
        return cls
    twin = _TWINS.get(cls)
    if twin is None:
        try:
            from sklearn import exceptions  # noqa: PLC0415 - already imported by the caller's program
            base = getattr(exceptions, name)
        except (ImportError, AttributeError):
            base = None
        if base is None or issubclass(cls, base):
            twin = cls
        else:
            twin = type(cls.__name__, (cls, base), {
                "__module__": cls.__module__, "__doc__": cls.__doc__, "__qualname__": cls.__qualname__,
                "__reduce__": lambda self: (cls, self.args),  # unpickles as ``cls`` (the twin has no import path)
            })
        _TWINS[cls] = twin
    return twin


class Estimator:
    """Base class: parameter introspection, ``repr``, the fitted check and scikit-learn tags.

    Subclasses set ``_estimator_type`` ("regressor", "classifier" or None) and
    ``_fitted_attribute`` (the attribute ``fit`` sets; ``coef_`` by default).
    """

    _estimator_type = None
    _fitted_attribute = "coef_"

    def __sklearn_tags__(self):
        from sklearn.utils import (  # noqa: PLC0415 - only when scikit-learn asks
            ClassifierTags,
            InputTags,
            RegressorTags,
            Tags,
            TargetTags,
            TransformerTags,
        )

        kind = self._estimator_type
        return Tags(
            estimator_type=kind,
            target_tags=TargetTags(required=kind in ("regressor", "classifier")),
            transformer_tags=TransformerTags() if hasattr(self, "transform") else None,
            regressor_tags=RegressorTags() if kind == "regressor" else None,
            classifier_tags=ClassifierTags() if kind == "classifier" else None,
            input_tags=InputTags(),
        )

    def __sklearn_is_fitted__(self) -> bool:
        return hasattr(self, self._fitted_attribute)

    @classmethod
    def _param_names(cls) -> list:
        signature = inspect.signature(cls.__init__)
        return [
            name for name, parameter in signature.parameters.items()
            if name != "self" and parameter.kind not in (parameter.VAR_POSITIONAL, parameter.VAR_KEYWORD)
        ]

    def get_params(self, deep: bool = True) -> dict:
        """The constructor arguments as a dict (``deep`` is accepted for scikit-learn)."""
        return {name: getattr(self, name) for name in self._param_names()}

    def set_params(self, **params) -> Estimator:
        """Set constructor arguments by name; unknown names raise ``ValueError``."""
        valid = self._param_names()
        for name, value in params.items():
            if name not in valid:
                raise ValueError(
                    f"{type(self).__name__}.set_params: unknown parameter {name!r}; valid: {', '.join(valid)}"
                )
            setattr(self, name, value)
        return self

    def __repr__(self) -> str:
        defaults = {
            name: parameter.default
            for name, parameter in inspect.signature(type(self).__init__).parameters.items()
        }
        changed = [
            f"{name}={value!r}" for name, value in self.get_params().items()
            if not _same(value, defaults.get(name, inspect.Parameter.empty))
        ]
        return f"{type(self).__name__}({', '.join(changed)})"

    def _remember_feature_names(self, X, names) -> None:
        """scikit-learn's ``n_features_in_``, and ``feature_names_in_`` for a DataFrame X whose
        column names are all strings (removed when a later fit gets other data), as
        scikit-learn's own estimators set them."""
        self.n_features_in_ = len(names)
        fitted = feature_names_of(X)
        if fitted is not None:
            self.feature_names_in_ = fitted
        elif hasattr(self, "feature_names_in_"):
            del self.feature_names_in_

    def _check_fitted(self, attribute: str | None = None) -> None:
        """Raise :class:`NotFittedError` unless ``fit`` has set ``attribute`` (default
        ``_fitted_attribute``)."""
        if not hasattr(self, attribute or self._fitted_attribute):
            raise sklearn_twin(NotFittedError, "NotFittedError")(
                f"{type(self).__name__} is not fitted yet; call fit(X, y) before using this method"
            )


def feature_names_of(X):
    """The column names of a DataFrame X as an object array when they are all strings, else
    None (scikit-learn's rule for ``feature_names_in_``)."""
    columns = getattr(X, "columns", None)
    if columns is None or not hasattr(X, "to_numpy"):
        return None
    names = list(columns)
    if names and all(isinstance(c, str) for c in names):
        return np.asarray(names, dtype=object)
    return None


def r_squared(y, prediction) -> float:
    """R² = 1 − Σ(y − ŷ)² / Σ(y − ȳ)², the ``score`` scikit-learn expects of a regressor:
    :func:`chainrule.metrics.r2` (a constant y gives 1.0 for a perfect prediction, else 0.0)."""
    return metrics.r2(y, prediction)


def accuracy(labels, prediction) -> float:
    """The share of rows predicted right, the ``score`` scikit-learn expects of a classifier:
    :func:`chainrule.metrics.accuracy`."""
    return metrics.accuracy(labels, prediction)


def _same(value, default) -> bool:
    try:
        return bool(value == default)
    except (TypeError, ValueError):  # arrays compare elementwise
        return value is default
