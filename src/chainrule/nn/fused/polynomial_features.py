"""The polynomial feature map as one graph node: phi_k(x) = prod_j x_j^{P_kj}.

Reference composition (tests/test_nn_fused.py): ``(x[:, None, :] ** P).prod(dim=2)`` built
from powers and products of :mod:`chainrule.engine.ops`, one column per row of the exponent
matrix P. The node's backward forms the product over i != j from prefix and suffix products,
never by dividing by x_j, so it is exact at x_j = 0.
"""
from __future__ import annotations

from ...engine import backend
from ...engine.autograd import Function
from .composed import ComposedBackward, constant

__all__ = ["PolynomialFeatures"]


class PolynomialFeatures(ComposedBackward, Function):
    """phi_k(x) = prod_j x_j^{P_kj} for every row of x (N, d), P the (K, d) matrix of
    exponents (one row per output feature).

    dphi_k/dx_j = P_kj x_j^{P_kj - 1} prod_{i != j} x_i^{P_ki}. The product over
    i != j is formed from prefix and suffix products, never by dividing by x_j,
    so it is exact at x_j = 0.
    """

    op = "polynomial_features"

    def forward(self, x, powers):
        self.x, self.powers = x, powers
        self.factors = x[:, None, :] ** powers  # (N, K, d): x_j^{P_kj}
        return self.factors.prod(axis=2)

    def backward(self, grad):
        xp = backend.namespace_of(grad)
        x, powers, factors = self.x, self.powers, self.factors
        ones = xp.ones(factors.shape[:2] + (1,), dtype=factors.dtype)
        before = xp.cumprod(xp.concatenate([ones, factors[:, :, :-1]], axis=2), axis=2)
        after = xp.cumprod(xp.concatenate([ones, factors[:, :, :0:-1]], axis=2), axis=2)[:, :, ::-1]
        lowered = x[:, None, :] ** xp.maximum(powers - 1, 0)
        derivative = powers * lowered * before * after  # (N, K, d)
        return ((grad[:, :, None] * derivative).sum(axis=1),)

    def reference(self, x):
        """prod_j x_j^{P_kj}, each power an integer power of x_j (exact at x_j = 0, where a
        real-exponent power's derivative would be 0 * inf)."""
        out = None
        for j in range(self.powers.shape[1]):
            column, exponents = x[:, j:j + 1], self.powers[:, j]
            factor = None
            for e in sorted(set(exponents.tolist())):
                term = (column ** int(e)) * constant((exponents == e).astype(x.dtype))
                factor = term if factor is None else factor + term
            out = factor if out is None else out * factor
        return out
