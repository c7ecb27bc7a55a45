"""The estimator protocol shared by every model in ``chainrule.stats``.

It is scikit-learn's, written without importing scikit-learn: ``__init__`` stores its
arguments under the same names and does nothing else; ``get_params``/``set_params``
read and write them; ``fit(X, y)`` validates, sets attributes ending in ``_`` and
returns ``self``. With ``__sklearn_tags__`` and ``__sklearn_is_fitted__`` (which
scikit-learn >= 1.6 asks every estimator that is not its own ``BaseEstimator`` for) that
is all ``sklearn.base.clone``, ``Pipeline`` and ``cross_val_score`` need. scikit-learn is
imported only when scikit-learn itself asks.
"""
from __future__ import annotations

import inspect

from ..engine import backend

np = backend.host


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
        """scikit-learn's ``n_features_in_``, and ``feature_names_in_`` for a DataFrame X
        (removed when a later fit gets an array), as scikit-learn's own estimators set them."""
        self.n_features_in_ = len(names)
        if hasattr(X, "columns"):
            self.feature_names_in_ = np.asarray(list(names), dtype=object)
        elif hasattr(self, "feature_names_in_"):
            del self.feature_names_in_

    def _check_fitted(self, attribute: str | None = None) -> None:
        if not hasattr(self, attribute or self._fitted_attribute):
            raise RuntimeError(
                f"{type(self).__name__} is not fitted yet; call fit(X, y) before using this method"
            )


def r_squared(y, prediction) -> float:
    """R² = 1 − Σ(y − ŷ)² / Σ(y − ȳ)², the ``score`` scikit-learn expects of a regressor."""
    resid = y - prediction
    centred = y - y.mean()
    return 1.0 - float(resid @ resid) / float(centred @ centred)


def _same(value, default) -> bool:
    try:
        return bool(value == default)
    except (TypeError, ValueError):  # arrays compare elementwise
        return value is default
