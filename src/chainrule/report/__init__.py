"""Reports: self-contained HTML pages with tables and figures (interface layer).

html      Report: sections, tables and embedded figures, written atomically
figures   the matplotlib figures every report draws (loss curves, coefficients …)
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
from .html import Report, format_value

__all__ = [
    "Report", "format_value", "figure_loss_curves", "figure_metric_curves", "figure_gradient_and_lr",
    "figure_optimizer_comparison", "figure_coefficients", "figure_predicted_vs_actual",
    "figure_confusion_matrix",
]
