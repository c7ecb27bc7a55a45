"""Metrics of predictions: scikit-learn's definitions, arguments and edge cases, under shorter
names, in plain NumPy on arrays, lists, chainrule Tensors and pandas objects.

classification   accuracy, confusion_matrix, precision, recall, f1, fbeta,
                 precision_recall_fscore_support
probabilistic    log_loss, brier_score, calibration_curve
ranking          roc_curve, roc_auc, precision_recall_curve, average_precision, auc
regression       r2, mse, rmse, mae, mape

Each equals its scikit-learn twin (``accuracy`` is ``accuracy_score``, ``brier_score`` is
``brier_score_loss``, ``roc_auc`` is ``roc_auc_score``, ``average_precision`` is
``average_precision_score``, ``precision``/``recall``/``f1``/``fbeta`` are ``*_score``, ``r2`` is
``r2_score``, ``mse``/``rmse``/``mae``/``mape`` are ``mean_squared_error``,
``root_mean_squared_error``, ``mean_absolute_error`` and ``mean_absolute_percentage_error``),
tested on random cases. Where scikit-learn warns and returns a conventional value (a single
class for ROC AUC, a zero denominator for precision) these warn with
:class:`UndefinedMetricWarning` and return the same value; where it raises, these raise, with a
message naming the metric and the argument. Not supported: multilabel (indicator matrix)
targets, and the "samples" average that goes with them.

The Trainer's running metrics (``chainrule.train``) and the estimators' ``score`` compute the
same numbers from these definitions.
"""
from .checks import UndefinedMetricWarning
from .classification import (
    accuracy,
    confusion_matrix,
    f1,
    fbeta,
    precision,
    precision_recall_fscore_support,
    recall,
)
from .probabilistic import brier_score, calibration_curve, log_loss
from .ranking import auc, average_precision, precision_recall_curve, roc_auc, roc_curve
from .regression import mae, mape, mse, r2, rmse

__all__ = [
    "UndefinedMetricWarning",
    "accuracy", "confusion_matrix", "precision", "recall", "f1", "fbeta", "precision_recall_fscore_support",
    "log_loss", "brier_score", "calibration_curve",
    "roc_curve", "roc_auc", "precision_recall_curve", "average_precision", "auc",
    "r2", "mse", "rmse", "mae", "mape",
]
