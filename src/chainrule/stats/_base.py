"""The estimator protocol shared by every model in ``chainrule.stats``.

It is scikit-learn's, written without importing scikit-learn: ``__init__`` stores its
arguments under the same names and does nothing else; ``get_params``/``set_params``
read and write them; ``fit(X, y)`` validates, sets attributes ending in ``_`` and
returns ``self``. That is all ``sklearn.base.clone``, ``Pipeline`` and
``cross_val_score`` need.
"""
from __future__ import annotations

import inspect


class Estimator:
    """Base class: parameter introspection, ``repr`` and the fitted check."""

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

    def set_params(self, **params) -> "Estimator":
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

    def _check_fitted(self, attribute: str = "coef_") -> None:
        if not hasattr(self, attribute):
            raise RuntimeError(
                f"{type(self).__name__} is not fitted yet; call fit(X, y) before using this method"
            )


def _same(value, default) -> bool:
    try:
        return bool(value == default)
    except (TypeError, ValueError):  # arrays compare elementwise
        return value is default
