"""Reverse-mode automatic differentiation: the graph, the chain rule run backwards, gradcheck.

Read in this order:

function     Function: one differentiable op (forward and backward on raw arrays); running
             it records a node of the graph
backward     the chain rule over the recorded graph: reference_backward (the textbook walk,
             one screen) and backward (the same gradients, with a training loop's bookkeeping)
grad         autograd.grad, and the backward pass that records itself (create_graph=True)
functional   vjp, jvp, jacobian, hessian, hvp, vhp (torch.autograd.functional)
grad_mode    no_grad, enable_grad, set_grad_enabled
gradcheck    recorded gradients against float64 central differences
anomaly      detect_anomaly: stop at the first NaN or inf
grad_slots   the fast path that writes leaves' gradients into an optimizer's flat buffer
"""
from . import hooks
from .anomaly import AnomalyError, detect_anomaly
from .backward import backward, reference_backward, unbroadcast
from .function import Function, ViewFunction
from .grad import grad
from .grad_mode import enable_grad, is_grad_enabled, no_grad, set_grad_enabled
from .grad_slots import claim_grad_slot
from .gradcheck import GradcheckError, gradcheck, gradgradcheck

# isort: split
from . import functional  # vjp, jvp, jacobian, hessian, hvp, vhp (builds on grad)

__all__ = [
    "Function", "ViewFunction", "backward", "grad", "reference_backward", "no_grad", "enable_grad", "set_grad_enabled",
    "is_grad_enabled", "gradcheck", "gradgradcheck", "GradcheckError", "detect_anomaly", "AnomalyError",
    "unbroadcast", "claim_grad_slot",
]
