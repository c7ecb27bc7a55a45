"""Solving and factoring square matrices: linalg.solve, inv, det, slogdet, cholesky, with gradients.

Each op takes a matrix A of shape (n, n) or a batch of them, (*, n, n), as PyTorch's
``torch.linalg``; the forward is the backend's LAPACK routine (``xp.linalg``: NumPy on the
host, CuPy on a GPU). With X = A^{-1} B the solution, G the upstream gradient of the output
and A^{-T} the inverse's transpose (references: Giles 2008, "An extended collection of matrix
derivative results for forward and reverse mode AD"; Murray 2016 for Cholesky):

* solve, X = A^{-1} B:           dB = A^{-T} G (a solve with A^T),  dA = -dB X^T;
* inv, Y = A^{-1}:               dA = -Y^T G Y^T;
* det, d = det A:                dA = G d A^{-T} (the cofactor matrix times G); where A is
  singular, the cofactor matrix from the SVD A = U S V^T: det(U) det(V) U diag(prod_{j!=i} s_j) V^T;
* slogdet, (sign, log|det A|):   d(logabsdet) = G A^{-T}; the sign is piecewise constant (no gradient);
* cholesky, A = L L^T:           dA = L^{-T} Φ L^{-1} with Φ = (P + tril(P, -1)^T) / 2 and
  P = tril(L^T dL) (Murray 2016, "Differentiation of the Cholesky decomposition",
  arXiv:1602.07527, symmetrized as PyTorch does: dA is symmetric, since only symmetric A are
  valid input; the forward reads A's lower triangle).

Each formula is written once, over :class:`ArrayAlgebra` (raw arrays: ``backward``) or
:class:`TensorAlgebra` (differentiable ops: ``backward_graph``, so the gradients can be
differentiated again); the Tensor version recomputes the factor it needs (A^{-1}, L, X) with
these same differentiable ops.

Errors name the op: a non-square A (ValueError), integer input (TypeError), and a singular A
for solve and inv or a non-positive-definite A for cholesky (:class:`LinAlgError`, a
RuntimeError as ``torch.linalg.LinAlgError``), saying which batch element and, for cholesky,
the order of the leading minor that is not positive-definite.

Differences from PyTorch: at an exactly singular matrix the gradient of det is the cofactor
matrix (nonzero where the rank is n - 1), where PyTorch returns 0 (pytorch/pytorch#104675);
the second derivative of det there is not implemented (an error says so); on a GPU (CuPy)
singular or non-positive-definite input is not detected (CuPy returns NaN, as its default
error state does); operands of different dtypes are promoted (NumPy's rule) where PyTorch
requires one dtype; modifying solve's B in place before backward is an error (the engine
records one "saves inputs" flag per op, and solve's backward reads A), where PyTorch allows it.
"""
from __future__ import annotations

from collections import namedtuple

from .. import backend
from ..autograd import Function
from ..tensor import Tensor, wrap
from .arguments import check_same_device, require_float
from .linalg import tril


class LinAlgError(RuntimeError):
    """A matrix that the operation cannot handle: singular, or not positive-definite."""


class ArrayAlgebra:
    """What the gradient formulas need, on raw arrays (for ``backward``)."""

    def __init__(self, xp):
        self.xp = xp

    def mT(self, x):  # noqa: N802 - PyTorch's name for the matrix transpose
        return self.xp.swapaxes(x, -1, -2)

    def solve(self, a, b):
        return self.xp.linalg.solve(a, b)

    def tril(self, x, k: int = 0):
        return self.xp.tril(x, k)

    def const(self, array):
        return array


class TensorAlgebra:
    """The same operations on Tensors, by differentiable ops (for ``backward_graph``)."""

    @staticmethod
    def mT(x):  # noqa: N802
        return x.mT

    @staticmethod
    def solve(a, b):
        return Solve.apply(a, b, vector=False)

    @staticmethod
    def tril(x, k: int = 0):
        return tril(x, k)

    @staticmethod
    def const(array):
        return wrap(array)


TENSORS = TensorAlgebra()

# ------------------------------------------------------------------ the gradient formulas


def solve_vjp(alg, a, x, grad, vector: bool, needs: tuple) -> tuple:
    """(dA, dB) of X = A^{-1} B: dB = A^{-T} G, dA = -dB X^T (vectors as one-column matrices)."""
    if vector:
        grad, x = grad[..., None], x[..., None]
    grad_b = alg.solve(alg.mT(a), grad)
    grad_a = -(grad_b @ alg.mT(x)) if needs[0] else None
    if vector:
        grad_b = grad_b[..., 0]
    return grad_a, grad_b if needs[1] else None


def inv_vjp(alg, inverse, grad):
    """dA of Y = A^{-1}: -Y^T G Y^T."""
    inverse_t = alg.mT(inverse)
    return -(inverse_t @ grad @ inverse_t)


def cholesky_vjp(alg, lower, grad):
    """dA of A = L L^T for dL = grad (Murray 2016, symmetrized): L^{-T} Φ L^{-1}."""
    p = alg.tril(alg.mT(lower) @ grad)
    phi = 0.5 * (p + alg.mT(alg.tril(p, -1)))
    left = alg.solve(alg.mT(lower), phi)  # L^{-T} Φ
    return alg.mT(alg.solve(alg.mT(lower), alg.mT(left)))  # (L^{-T} (L^{-T} Φ)^T)^T = L^{-T} Φ L^{-1}


def cofactors(a, det):
    """det(A) A^{-T} for arrays, also where A is singular (then from the SVD, see the docstring)."""
    xp = backend.namespace_of(a)
    try:
        return det[..., None, None] * xp.swapaxes(xp.linalg.inv(a), -1, -2)
    except backend.host.linalg.LinAlgError:
        u, s, vh = xp.linalg.svd(a)
        n = s.shape[-1]
        others = xp.where(xp.eye(n, dtype=bool), 1, s[..., None, :]).prod(axis=-1)  # prod_{j != i} s_j
        sign = xp.linalg.det(u) * xp.linalg.det(vh)
        return sign[..., None, None] * ((u * others[..., None, :]) @ vh)


# ------------------------------------------------------------------ the ops


class Solve(Function):
    op = "linalg.solve"
    saves_output = True

    def forward(self, a, b, vector):
        self.a, self.vector = a, vector
        xp = backend.namespace_of(a)
        x = _lapack("linalg.solve", lambda: xp.linalg.solve(a, b[..., None] if vector else b), a)
        self.x = x[..., 0] if vector else x
        return self.x

    def backward(self, grad):
        alg = ArrayAlgebra(backend.namespace_of(grad))
        return solve_vjp(alg, self.a, self.x, grad, self.vector, self.needs_input_grad)

    def backward_graph(self, grad):
        a, b = self.parents
        x = Solve.apply(a, b, vector=self.vector)
        return solve_vjp(TENSORS, a, x, grad, self.vector, self.needs_input_grad)


class Inv(Function):
    op = "linalg.inv"
    saves_inputs = False
    saves_output = True

    def forward(self, a):
        self.out = _lapack("linalg.inv", lambda: backend.namespace_of(a).linalg.inv(a), a)
        return self.out

    def backward(self, grad):
        return (inv_vjp(ArrayAlgebra(backend.namespace_of(grad)), self.out, grad),)

    def backward_graph(self, grad):
        return (inv_vjp(TENSORS, Inv.apply(self.parents[0]), grad),)


class Det(Function):
    op = "linalg.det"
    saves_output = True

    def forward(self, a):
        self.a = a
        xp = backend.namespace_of(a)
        self.out = xp.asarray(xp.linalg.det(a))
        return self.out

    def backward(self, grad):
        return (grad[..., None, None] * cofactors(self.a, self.out),)

    def backward_graph(self, grad):
        if (self.out == 0).any():
            raise LinAlgError("linalg.det: the second derivative at a singular matrix is not implemented")
        a = self.parents[0]
        return ((grad * Det.apply(a))[..., None, None] * Inv.apply(a).mT,)


class LogAbsDet(Function):
    """log|det A| (the differentiable half of slogdet); the sign is computed beside it."""

    op = "linalg.slogdet"

    def forward(self, a, logabsdet):
        self.a = a
        return logabsdet

    def backward(self, grad):
        xp = backend.namespace_of(grad)
        reason = "the gradient of logabsdet at a singular matrix is undefined"
        inverse = _lapack("linalg.slogdet", lambda: xp.linalg.inv(self.a), self.a, reason)
        return (grad[..., None, None] * xp.swapaxes(inverse, -1, -2),)

    def backward_graph(self, grad):
        return (grad[..., None, None] * Inv.apply(self.parents[0]).mT,)


class Cholesky(Function):
    op = "linalg.cholesky"
    saves_inputs = False
    saves_output = True

    def forward(self, a, upper):
        self.upper = upper
        self.lower = _lapack("linalg.cholesky", lambda: backend.namespace_of(a).linalg.cholesky(a), a)
        return backend.namespace_of(a).swapaxes(self.lower, -1, -2) if upper else self.lower

    def backward(self, grad):
        alg = ArrayAlgebra(backend.namespace_of(grad))
        return (cholesky_vjp(alg, self.lower, alg.mT(grad) if self.upper else grad),)

    def backward_graph(self, grad):
        lower = Cholesky.apply(self.parents[0], upper=False)
        return (cholesky_vjp(TENSORS, lower, grad.mT if self.upper else grad),)


# ------------------------------------------------------------------ errors


def _lapack(op: str, call, a, reason: str | None = None):
    """``call()`` (a LAPACK routine on ``a``), with its failure turned into a LinAlgError naming
    op, what is wrong with ``a`` (or ``reason``) and the batch element."""
    try:
        return backend.namespace_of(a).asarray(call())
    except backend.host.linalg.LinAlgError:
        pass
    xp = backend.namespace_of(a)
    check = xp.linalg.cholesky if op == "linalg.cholesky" else xp.linalg.inv
    batch = a.shape[:-2]
    for index in backend.host.ndindex(*batch):
        try:
            check(a[index])
        except backend.host.linalg.LinAlgError:
            where = f" (batch element {index})" if batch else ""
            raise LinAlgError(f"{op}: {_failure(op, a[index], xp, reason)}{where}") from None
    raise LinAlgError(f"{op}: {reason or 'LAPACK reported a failure'}")  # pragma: no cover - the checks agree


def _failure(op: str, matrix, xp, reason) -> str:
    if reason is not None:
        return f"the input matrix is singular: {reason}"
    if op != "linalg.cholesky":
        return "the input matrix is singular (an exact zero pivot in its LU factorization)"
    low, high = 1, matrix.shape[-1]  # the smallest order whose leading minor fails (they fail from there on)
    while low < high:
        middle = (low + high) // 2
        try:
            xp.linalg.cholesky(matrix[:middle, :middle])
            low = middle + 1
        except backend.host.linalg.LinAlgError:
            high = middle
    return f"the input is not positive-definite (the leading minor of order {low} is not positive-definite)"


def check_square(op: str, a, name: str = "A") -> None:
    if not isinstance(a, Tensor):
        raise TypeError(f"{op}: {name} must be a Tensor; got {type(a).__name__}")
    require_float(a, op)
    if a.ndim < 2 or a.shape[-1] != a.shape[-2]:
        raise ValueError(
            f"{op}: {name} must be a square matrix or a batch of them (shape (*, n, n)); got shape {tuple(a.shape)}"
        )


# ------------------------------------------------------------------ public functions


def solve(A: Tensor, B: Tensor, *, left: bool = True) -> Tensor:  # noqa: N803 - PyTorch's argument names
    """The solution X of A X = B (``left=False``: of X A = B). B is a batch of vectors, shape
    (*, n), when it is 1-D or has A's shape without the last dim; else matrices (*, n, k).
    Batch dims broadcast."""
    check_square("linalg.solve", A)
    if not isinstance(B, Tensor):
        raise TypeError(f"linalg.solve: B must be a Tensor; got {type(B).__name__}")
    require_float(B, "linalg.solve")
    check_same_device(A, B, "linalg.solve")
    if not left:
        if B.ndim < 2:
            raise ValueError(f"linalg.solve: with left=False, B must be a matrix; got shape {tuple(B.shape)}")
        return solve(A.mT, B.mT).mT
    vector = B.ndim == 1 or (B.ndim == A.ndim - 1 and tuple(B.shape) == tuple(A.shape[:-1]))
    rows = B.shape[-1] if vector else (B.shape[-2] if B.ndim >= 2 else None)
    if rows != A.shape[-1]:
        raise ValueError(
            f"linalg.solve: A of shape {tuple(A.shape)} and B of shape {tuple(B.shape)}: B needs {A.shape[-1]} rows"
        )
    batch_a, batch_b = A.shape[:-2], B.shape[:-1] if vector else B.shape[:-2]
    for size_a, size_b in zip(reversed(batch_a), reversed(batch_b)):
        if size_a != size_b and 1 not in (size_a, size_b):
            raise ValueError(
                f"linalg.solve: the batch dimensions {tuple(batch_a)} of A and {tuple(batch_b)} of B do not broadcast"
            )
    return Solve.apply(A, B, vector=vector)


def inv(A: Tensor) -> Tensor:  # noqa: N803
    """The inverse of a square matrix (or of each in a batch); singular input raises LinAlgError."""
    check_square("linalg.inv", A)
    return Inv.apply(A)


def det(A: Tensor) -> Tensor:  # noqa: N803
    """The determinant of a square matrix (or of each in a batch)."""
    check_square("linalg.det", A)
    return Det.apply(A)


#: slogdet's result, a named tuple as PyTorch's ``torch.return_types.linalg_slogdet``.
SlogdetResult = namedtuple("linalg_slogdet", ["sign", "logabsdet"])


def slogdet(A: Tensor) -> SlogdetResult:  # noqa: N803
    """(sign, log|det A|) of a square matrix (or each in a batch), without the overflow of det:
    det A = sign * exp(logabsdet). A singular matrix gives sign 0 and logabsdet -inf."""
    check_square("linalg.slogdet", A)
    xp = backend.namespace_of(A.data)
    sign, logabsdet = xp.linalg.slogdet(A.data)
    return SlogdetResult(wrap(xp.asarray(sign)), LogAbsDet.apply(A, logabsdet=xp.asarray(logabsdet)))


def cholesky(A: Tensor, *, upper: bool = False) -> Tensor:  # noqa: N803
    """The Cholesky factor of a symmetric positive-definite matrix: lower-triangular L with
    A = L L^T (``upper=True``: U = L^T, A = U^T U). Only A's lower triangle is read."""
    check_square("linalg.cholesky", A)
    return Cholesky.apply(A, upper=bool(upper))
