"""The exact GELU as one graph node on the compiled kernels: y = a Phi(a) in one parallel pass.

    y = a Phi(a),  Phi(a) = (1 + erf(a / sqrt 2)) / 2,   dy/da = Phi(a) + a phi(a),
    phi(a) = exp(-a^2 / 2) / sqrt(2 pi)                  (Hendrycks & Gimpel 2016)

The engine's op (:class:`chainrule.engine.ops.activations.GELU`) computes the same with NumPy
passes and ``scipy.special.erf``, one core, 15 ns a float32 value, and stays the textbook
reference; this node runs :func:`~chainrule.nn.fused.numba_kernels.gelu` (SIMD loops on all
cores: erf as a rational function and exp as a squared polynomial, in float64, rounded once;
1 ns a value forward and backward on one core) and keeps Phi(a) for backward, as the engine's op
does. Accuracy (measured on 20M float32 values, see :mod:`.numba_kernels`): y within 0.53 ulp
of the float64 formula for a >= -1, 0.85 for a >= -2, 4.8 for a >= -3 (torch: 5.5, 38, 2200;
the engine's float32 op rounds erf and 1 + erf, 2.4, 12, 102), dy/da within 9e-8 (torch 2.9e-7).
At -inf it gives -0 and gradient 0 where the engine's op and torch give NaN.
Reference composition: the engine's ``gelu(a, "none")`` itself (tests/test_nn_numba_kernels.py
checks the forward and gradient against it, the float64 formulas and torch); second derivatives
differentiate it (:mod:`.composed`).

`fast_gelu` picks the node for ``approximate="none"`` on float32 arrays where the kernels run
(:func:`chainrule.nn.kernel_choice.kernels_for`: host float arrays, numba installed,
``CHAINRULE_NO_NUMBA`` unset, and not a small array in a process that has not loaded them);
otherwise the engine's op, unchanged.
"""
from __future__ import annotations

from ...engine import backend, ops, recycled
from ...engine.autograd import Function
from ..kernel_choice import kernels_for
from .composed import ComposedBackward

__all__ = ["GELU", "fast_gelu"]


def fast_gelu(x, approximate: str = "none"):
    """GELU of the Tensor x (arguments already checked): the compiled node where it pays, else
    the engine's op."""
    array = getattr(x, "data", None)
    if approximate == "none" and getattr(array, "dtype", None) == "float32":
        kernels = kernels_for(array)
        if kernels is not None:
            return GELU.apply(x, kernels=kernels)
    return ops.gelu(x, approximate)


class GELU(ComposedBackward, Function):
    """y = a Phi(a) (exact GELU) on the compiled kernels ``kernels``; host float32 arrays."""

    op = "gelu"

    def forward(self, a, kernels):
        xp = backend.namespace_of(a)
        self.kernels, self.shape = kernels, a.shape
        flat = xp.ascontiguousarray(a).reshape(-1)
        out, cdf = recycled.empty_like(xp, flat), recycled.empty_like(xp, flat)
        kernels.gelu(flat, out, cdf)
        self.a, self.cdf = flat, cdf
        return out.reshape(a.shape)

    def backward(self, grad):
        xp = backend.namespace_of(grad)
        a = self.a
        flat = xp.ascontiguousarray(grad, dtype=a.dtype).reshape(-1)
        out = recycled.empty_like(xp, a)
        self.kernels.gelu_gradient(flat, a, self.cdf, out)
        return (out.reshape(self.shape),)

    def reference(self, a):
        """The engine's exact GELU."""
        return ops.gelu(a, "none")
