"""Reports: self-contained HTML pages with tables and figures (interface layer).

html           Report: results first, then the run's details collapsed; tables with aligned
               decimals and embedded figures, written atomically
style          the inline style sheet (booktabs tables, decimal alignment by CSS padding)
figures        the matplotlib figures every report draws (loss curves, coefficients …)
model_figures  the figures of fitted models (residual diagnostics, regularization paths and
               CV curves, stepwise criterion, scree, ROC / precision-recall / calibration)
fit            the report of a fitted model, per model family (FitRun, add_fit_sections)
"""
from .figures import (
    figure_coefficients,
    figure_confusion_matrix,
    figure_gradient_and_lr,
    figure_loss_curves,
    figure_metric_curves,
    figure_optimizer_comparison,
    figure_predicted_vs_actual,
)
from .fit import FitRun, add_fit_sections
from .html import Report, format_value
from .model_figures import (
    figure_classifier_curves,
    figure_coefficient_bars,
    figure_criterion_path,
    figure_regularization_path,
    figure_residual_diagnostics,
    figure_scree,
)

__all__ = [
    "Report", "format_value", "figure_loss_curves", "figure_metric_curves", "figure_gradient_and_lr",
    "figure_optimizer_comparison", "figure_coefficients", "figure_predicted_vs_actual",
    "figure_confusion_matrix", "figure_residual_diagnostics", "figure_regularization_path",
    "figure_criterion_path", "figure_scree", "figure_classifier_curves", "figure_coefficient_bars",
    "FitRun", "add_fit_sections",
]
