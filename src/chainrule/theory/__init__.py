"""Theory you can check on your own model (layer 5).

curvature          smoothness L and strong convexity μ of any loss at given parameters,
                   from Hessian-vector products
constants          L and μ of the least-squares, ridge and logistic losses in closed form
rates              the 1/L step and the rate certificates of gradient descent
statistical_error  optimization error against statistical error
diagnostics        per-layer activation and gradient scales under each initialization
landscape          loss surfaces along filter-normalized random directions (Li et al. 2018)
skip_study         the skip-connection study: plain vs residual ResNets and their surfaces

``chainrule.theory.smoothness`` and the rest of curvature, constants, rates and
statistical_error are re-exported here; diagnostics, landscape and skip_study are imported on first use
(``chainrule.diagnostics``, ``chainrule.landscape`` and ``chainrule.theory.landscape`` are
the same modules).
"""
from .constants import LOSSES, ClosedFormConstants, closed_form_constants
from .curvature import CurvatureEstimate, hessian_vector_product, smoothness, strong_convexity
from .rates import Certificate, StepSizeAdvice, certificate, step_size
from .statistical_error import OptimizationVsStatistical, optimization_vs_statistical

__all__ = [
    "CurvatureEstimate", "smoothness", "strong_convexity", "hessian_vector_product",
    "ClosedFormConstants", "closed_form_constants", "LOSSES",
    "StepSizeAdvice", "step_size",
    "Certificate", "certificate",
    "OptimizationVsStatistical", "optimization_vs_statistical",
]
