"""Theory you can check on your own model (layer 5).

bounds       smoothness L and strong convexity μ, the 1/L step, rate certificates, and
             optimization error against statistical error
diagnostics  per-layer activation and gradient scales under each initialization
landscape    loss surfaces along filter-normalized random directions (Li et al. 2018)

``chainrule.theory.smoothness`` and the rest of :mod:`.bounds` are re-exported here;
diagnostics and landscape are imported on first use (``chainrule.diagnostics``,
``chainrule.landscape`` and ``chainrule.theory.landscape`` are the same modules).
"""
from .rates import (
    LOSSES,
    Certificate,
    ClosedFormConstants,
    CurvatureEstimate,
    OptimizationVsStatistical,
    StepSizeAdvice,
    certificate,
    closed_form_constants,
    hessian_vector_product,
    optimization_vs_statistical,
    smoothness,
    step_size,
    strong_convexity,
)

__all__ = [
    "CurvatureEstimate", "smoothness", "strong_convexity", "hessian_vector_product",
    "ClosedFormConstants", "closed_form_constants", "LOSSES",
    "StepSizeAdvice", "step_size",
    "Certificate", "certificate",
    "OptimizationVsStatistical", "optimization_vs_statistical",
]
