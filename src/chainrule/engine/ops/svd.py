"""The singular value decomposition, linalg.svd and linalg.svdvals, with its gradient.

A = U diag(S) V^H for A of shape (*, m, n), k = min(m, n): U (*, m, k), S (*, k) in
descending order, Vh (*, k, n) (``full_matrices=True``: U (*, m, m) and Vh (*, n, n)). The
forward is the backend's ``xp.linalg.svd``, run once; each of U, S and Vh is the output of
its own node (:class:`SVDFactor`), whose backward is the SVD's vector-Jacobian product for a
gradient on that factor alone (the engine adds the three). With gU, gS, gVh the upstream
gradients, E_ij = s_j^2 - s_i^2 (1 on the diagonal) and skew(X) = X - X^T (PyTorch's
``svd_backward``; Townsend 2016, "Differentiating the singular value decomposition"):

* S:  dA = U diag(gS) Vh;
* U:  dA = U [(skew(U^T gU) / E) diag(S)] Vh, plus (I - U U^T) gU diag(S)^{-1} Vh when m > k;
* Vh: dA = U [diag(S) (skew(Vh gVh^T) / E)] Vh, plus U diag(S)^{-1} gVh (I - Vh^T Vh) when n > k.

With ``full_matrices=True`` the extra columns of U (rows of Vh) are not unique and get no
gradient (as in PyTorch). The singular vectors are unique only up to sign (and to rotations
within repeated singular values): a loss of U or Vh has a well-defined gradient only if it
does not depend on that choice, and the formulas divide by s_j^2 - s_i^2, so they need
distinct singular values (and nonzero ones for the m > k, n > k terms). The gradient of S
alone needs neither. The formulas are written once over the operators arrays and Tensors
share (``@``, ``*``, ``/``, indexing) and run on Tensors, with the factors recomputed by these
nodes, for ``backward_graph``.
"""
from __future__ import annotations

from collections import namedtuple

from .. import backend
from ..autograd import Function, is_grad_enabled
from ..tensor import Tensor, wrap
from .arguments import require_float
from .decompositions import TENSORS, ArrayAlgebra


def svd_vjp(alg, factors, grad, which: int):
    """dA for the gradient ``grad`` on factor ``which`` (0: U, 1: S, 2: Vh) of the reduced SVD."""
    u, s, vh = factors
    m, k, n = u.shape[-2], s.shape[-1], vh.shape[-1]
    if which == 1:
        return u @ (grad[..., :, None] * vh)
    s2 = s * s
    eye = alg.const(backend.namespace_of(_data(s)).eye(k, dtype=_data(s).dtype))
    e = s2[..., None, :] - s2[..., :, None] + eye
    if which == 0:
        x = alg.mT(u) @ grad
        inner = (x - alg.mT(x)) / e * s[..., None, :]
        if m > k:
            scaled = grad / s[..., None, :]
            return (u @ inner + scaled - u @ (alg.mT(u) @ scaled)) @ vh
        return u @ inner @ vh
    x = vh @ alg.mT(grad)
    inner = s[..., :, None] * (x - alg.mT(x)) / e
    if n > k:
        scaled = grad / s[..., :, None]
        return u @ (inner @ vh + scaled - (scaled @ alg.mT(vh)) @ vh)
    return u @ inner @ vh


def _data(x):
    return x.data if isinstance(x, Tensor) else x


class SVDFactor(Function):
    """One factor (0: U, 1: S, 2: Vh) of an SVD computed once by the public function."""

    op = "linalg.svd"
    saves_inputs = False
    saves_output = True  # as PyTorch, which saves U, S, Vh (the outputs are copies of the saved factors)

    def forward(self, a, factors, which, full):
        self.factors, self.which, self.full = factors, which, full
        return factors[which].copy()

    def backward(self, grad):
        alg = ArrayAlgebra(backend.namespace_of(grad))
        factors, grad = _reduced(self.factors, grad, self.which)
        return (svd_vjp(alg, factors, grad, self.which),)

    def backward_graph(self, grad):
        a = self.parents[0]
        factors = svd_factors(a, full_matrices=False)
        if self.full:
            grad = _reduced(self.factors, grad, self.which)[1]
        return (svd_vjp(TENSORS, factors, grad, self.which),)


def _reduced(factors, grad, which):
    """The reduced factors, and the gradient of factor ``which`` without the columns of U (rows of
    Vh) past k = min(m, n), which ``full_matrices=True`` adds (they get no gradient)."""
    u, s, vh = factors
    k = s.shape[-1]
    if which == 0:
        grad = grad[..., :, :k]
    elif which == 2:
        grad = grad[..., :k, :]
    return (u[..., :, :k], s, vh[..., :k, :]), grad


def svd_factors(a: Tensor, full_matrices: bool) -> tuple:
    """(U, S, Vh) of a Tensor as three Tensors (three nodes sharing one decomposition)."""
    xp = backend.namespace_of(a.data)
    factors = tuple(xp.linalg.svd(a.data, full_matrices=full_matrices))
    return tuple(SVDFactor.apply(a, factors=factors, which=i, full=full_matrices) for i in range(3))


#: svd's result, a named tuple as PyTorch's ``torch.return_types.linalg_svd``.
SVDResult = namedtuple("linalg_svd", ["U", "S", "Vh"])


def _check(op: str, a) -> None:
    if not isinstance(a, Tensor):
        raise TypeError(f"{op}: A must be a Tensor; got {type(a).__name__}")
    require_float(a, op)
    if a.ndim < 2:
        raise ValueError(f"{op}: A must be a matrix or a batch of them (shape (*, m, n)); got shape {tuple(a.shape)}")


def svd(A: Tensor, full_matrices: bool = True) -> SVDResult:  # noqa: N803 - PyTorch's argument name
    """The singular value decomposition A = U diag(S) Vh, as a named tuple (U, S, Vh); see the
    module docstring for when the gradients of U and Vh are defined."""
    _check("linalg.svd", A)
    return SVDResult(*svd_factors(A, bool(full_matrices)))


def svdvals(A: Tensor) -> Tensor:  # noqa: N803
    """The singular values of A (or of each matrix in a batch), in descending order."""
    _check("linalg.svdvals", A)
    if not (A.requires_grad and is_grad_enabled()):  # no gradient: the singular values alone suffice
        return wrap(backend.namespace_of(A.data).linalg.svd(A.data, compute_uv=False))
    return svd_factors(A, full_matrices=False)[1]
