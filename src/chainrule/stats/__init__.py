"""Classical statistical learning with inference (scikit-learn's estimator protocol,
statsmodels' result names)."""
from ._base import Estimator
from ._validation import DataWarning
from .inference import Summary, wald

__all__ = ["Estimator", "DataWarning", "Summary", "wald"]
