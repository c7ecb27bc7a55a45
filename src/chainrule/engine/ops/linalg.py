"""Matrix products and the diagonal and triangles of matrices, with their gradients.

matmul (NumPy's semantics). For C = A B (A of shape (..., m, k), B of shape (..., k, n)) and
upstream gradient G = dL/dC: dL/dA = G B^T and dL/dB = A^T G. A 1-D operand is treated as a
row (left) or column (right) vector whose added dimension is removed from the result; batch
dimensions broadcast, and the engine sums their gradients back. ``dot`` (1-D · 1-D), ``mm``
(2-D only) and ``bmm`` (3-D only, equal batch sizes, no broadcasting) are matmul with
PyTorch's stricter shape checks; ``outer(a, b)`` = a[:, None] * b[None, :].

diagonal(A, offset, dim1, dim2) picks A[..., i, i + offset ...] into a last dimension (a view
of A's memory, writable as in PyTorch); its gradient puts G on that diagonal of zeros, which
is ``diagonal_scatter(zeros, G)``. diagonal_scatter(A, S) is A with that diagonal replaced by
S: dA = G with the diagonal zeroed, dS = diagonal(G). trace(A) = sum_i A_ii (2-D, as torch):
dA = G I. tril(A, k) keeps A_ij for j - i <= k and zeroes the rest (triu: j - i >= k); the
gradient is the same mask applied to G: dA = tril(G, k).

Differences from PyTorch: operands of different dtypes are promoted (NumPy's rule) where
PyTorch's dot, mm and bmm require equal dtypes.
"""
from __future__ import annotations

from .. import backend
from ..autograd import Function, ViewFunction
from ..tensor import Tensor, wrap
from .arguments import as_operand, check_same_device, normalize_dim


class MatMul(Function):
    op = "matmul"

    def forward(self, a, b):
        self.a, self.b = a, b
        return a @ b

    def backward(self, grad):
        a, b = self.a, self.b
        needs_a, needs_b = self.needs_input_grad
        if a.ndim == 2 and b.ndim == 2:  # the common case: no reshaping needed
            return (grad @ b.T if needs_a else None, a.T @ grad if needs_b else None)
        xp = backend.namespace_of(grad)
        a2 = a[None, :] if a.ndim == 1 else a
        b2 = b[:, None] if b.ndim == 1 else b
        if a.ndim == 1:
            grad = xp.expand_dims(grad, -2 if b.ndim > 1 else 0)
        if b.ndim == 1:
            grad = xp.expand_dims(grad, -1)
        grad_a = grad_b = None
        if needs_a:
            grad_a = grad @ xp.swapaxes(b2, -1, -2)
            if a.ndim == 1:
                grad_a = grad_a.reshape(grad_a.shape[:-2] + grad_a.shape[-1:])
        if needs_b:
            grad_b = xp.swapaxes(a2, -1, -2) @ grad
            if b.ndim == 1:
                grad_b = grad_b.reshape(grad_b.shape[:-1])
        return grad_a, grad_b

    def backward_graph(self, grad):
        a, b = self.parents
        needs_a, needs_b = self.needs_input_grad
        if a.ndim == 2 and b.ndim == 2:
            return (grad @ b.mT if needs_a else None, a.mT @ grad if needs_b else None)
        a2 = a.unsqueeze(0) if a.ndim == 1 else a
        b2 = b.unsqueeze(-1) if b.ndim == 1 else b
        if a.ndim == 1:
            grad = grad.unsqueeze(-2 if b.ndim > 1 else 0)
        if b.ndim == 1:
            grad = grad.unsqueeze(-1)
        grad_a = grad_b = None
        if needs_a:
            grad_a = grad @ b2.mT
            if a.ndim == 1:
                grad_a = grad_a.reshape(*(grad_a.shape[:-2] + grad_a.shape[-1:]))
        if needs_b:
            grad_b = a2.mT @ grad
            if b.ndim == 1:
                grad_b = grad_b.reshape(*grad_b.shape[:-1])
        return grad_a, grad_b


def matmul(a, b) -> Tensor:
    """Matrix product ``a @ b`` (1-D, 2-D and batched, as NumPy's matmul)."""
    if not isinstance(a, Tensor):
        a = as_operand(a, b, "matmul")
    if not isinstance(b, Tensor):
        b = as_operand(b, a, "matmul")
    check_same_device(a, b, "matmul")
    _check_matmul_shapes(a.shape, b.shape)
    if a.dtype == backend.bool_ or b.dtype == backend.bool_:
        raise TypeError(f"matmul: bool tensors cannot be multiplied; got {a.dtype} @ {b.dtype}")
    return MatMul.apply(a, b)


def _check_matmul_shapes(shape_a: tuple, shape_b: tuple) -> None:
    if len(shape_a) == 0 or len(shape_b) == 0:
        raise ValueError(
            f"matmul: {tuple(shape_a)} @ {tuple(shape_b)}: both operands need at least "
            f"one dimension; use * for scalars"
        )
    inner_a = shape_a[-1]
    inner_b = shape_b[-2] if len(shape_b) > 1 else shape_b[0]
    if inner_a != inner_b:
        raise ValueError(
            f"matmul: {tuple(shape_a)} @ {tuple(shape_b)}: inner dimensions "
            f"{inner_a} and {inner_b} differ"
        )
    batch_a, batch_b = shape_a[:-2], shape_b[:-2]
    for size_a, size_b in zip(reversed(batch_a), reversed(batch_b)):
        if size_a != size_b and 1 not in (size_a, size_b):
            raise ValueError(
                f"matmul: {tuple(shape_a)} @ {tuple(shape_b)}: batch dimensions "
                f"{tuple(batch_a)} and {tuple(batch_b)} do not broadcast"
            )


# ------------------------------------------------------------------ matmul with torch's stricter shapes


def _matrix_operands(op: str, a, b, ranks: tuple) -> None:
    """Raise unless a and b are Tensors of the given ranks on one device (dot, mm, bmm, outer)."""
    for name, t, rank in (("input", a, ranks[0]), ("other", b, ranks[1])):
        if not isinstance(t, Tensor):
            raise TypeError(f"{op}: {name} must be a Tensor; got {type(t).__name__}")
        if t.ndim != rank:
            raise ValueError(f"{op}: {name} must be {rank}-D; got a {t.ndim}-D tensor of shape {tuple(t.shape)}")
    check_same_device(a, b, op)
    if a.dtype == backend.bool_ or b.dtype == backend.bool_:
        raise TypeError(f"{op}: bool tensors cannot be multiplied; got {a.dtype} and {b.dtype}")


def dot(input: Tensor, other: Tensor) -> Tensor:  # noqa: A002 - PyTorch's argument name
    """The inner product of two 1-D tensors of the same length (a 0-d tensor)."""
    _matrix_operands("dot", input, other, (1, 1))
    if input.shape != other.shape:
        raise ValueError(f"dot: the vectors must have the same length; got {input.shape[0]} and {other.shape[0]}")
    return MatMul.apply(input, other)


def mm(input: Tensor, mat2: Tensor) -> Tensor:  # noqa: A002
    """The product of two matrices (2-D only: no broadcasting; use matmul for that)."""
    _matrix_operands("mm", input, mat2, (2, 2))
    if input.shape[1] != mat2.shape[0]:
        raise ValueError(f"mm: {tuple(input.shape)} @ {tuple(mat2.shape)}: inner dimensions differ")
    return MatMul.apply(input, mat2)


def bmm(input: Tensor, mat2: Tensor) -> Tensor:  # noqa: A002
    """Batched matrix product of (b, n, m) and (b, m, p) tensors (equal batch sizes, no broadcasting)."""
    _matrix_operands("bmm", input, mat2, (3, 3))
    if input.shape[0] != mat2.shape[0]:
        raise ValueError(f"bmm: the batch sizes differ: {input.shape[0]} and {mat2.shape[0]}")
    if input.shape[2] != mat2.shape[1]:
        raise ValueError(f"bmm: {tuple(input.shape)} @ {tuple(mat2.shape)}: inner dimensions differ")
    return MatMul.apply(input, mat2)


def outer(input: Tensor, vec2: Tensor) -> Tensor:  # noqa: A002
    """The outer product of two 1-D tensors: out[i, j] = input[i] * vec2[j]."""
    _matrix_operands("outer", input, vec2, (1, 1))
    return input.reshape(input.shape[0], 1) * vec2.reshape(1, vec2.shape[0])


# ------------------------------------------------------------------ diagonals and triangles


def writable_diagonal(array, offset: int, dim1: int, dim2: int):
    """``array``'s diagonal as a view that can be written (NumPy's is read-only by default)."""
    view = backend.namespace_of(array).diagonal(array, offset, dim1, dim2)
    flags = getattr(view, "flags", None)
    if flags is not None and getattr(flags, "writeable", True) is False and array.flags.writeable:
        view.flags.writeable = True
    return view


class Diagonal(ViewFunction):
    op = "diagonal"

    def forward(self, a, offset, dim1, dim2):
        self.shape, self.args = a.shape, (offset, dim1, dim2)
        return writable_diagonal(a, offset, dim1, dim2)

    def backward(self, grad):
        full = backend.namespace_of(grad).zeros(self.shape, dtype=grad.dtype)
        writable_diagonal(full, *self.args)[...] = grad
        return (full,)

    def backward_graph(self, grad):
        zeros = wrap(backend.namespace_of(grad.data).zeros(self.shape, dtype=grad.dtype))
        return (DiagonalScatter.apply(zeros, grad, args=self.args),)


class DiagonalScatter(Function):
    op = "diagonal_scatter"
    saves_inputs = False

    def forward(self, a, src, args):
        self.args = args
        out = a.copy()
        writable_diagonal(out, *args)[...] = src
        return out

    def backward(self, grad):
        needs_a, needs_src = self.needs_input_grad
        grad_a = None
        if needs_a:
            grad_a = grad.copy()
            writable_diagonal(grad_a, *self.args)[...] = 0
        grad_src = backend.namespace_of(grad).diagonal(grad, *self.args) if needs_src else None
        return grad_a, grad_src

    def backward_graph(self, grad):
        needs_a, needs_src = self.needs_input_grad
        grad_a = grad_src = None
        if needs_a:
            zeros = wrap(backend.namespace_of(grad.data).zeros(self.parents[1].shape, dtype=grad.dtype))
            grad_a = DiagonalScatter.apply(grad, zeros, args=self.args)
        if needs_src:
            grad_src = Diagonal.apply(grad, offset=self.args[0], dim1=self.args[1], dim2=self.args[2])
        return grad_a, grad_src


def _diagonal_args(op: str, t: Tensor, offset, dim1, dim2) -> tuple:
    if not isinstance(t, Tensor):
        raise TypeError(f"{op}: input must be a Tensor; got {type(t).__name__}")
    if t.ndim < 2:
        raise ValueError(f"{op}: input must have at least 2 dimensions; got shape {tuple(t.shape)}")
    if isinstance(offset, bool) or not isinstance(offset, int):
        raise TypeError(f"{op}: offset must be an int; got {offset!r}")
    first, second = normalize_dim(dim1, t.ndim, op), normalize_dim(dim2, t.ndim, op)
    if first == second:
        raise ValueError(f"{op}: dim1 and dim2 must be different dimensions; both are {first}")
    return offset, first, second


def diagonal(input: Tensor, offset: int = 0, dim1: int = 0, dim2: int = 1) -> Tensor:  # noqa: A002
    """The diagonal of the matrices in dims (dim1, dim2), shifted ``offset`` above (> 0) or below
    (< 0) the main one, as a last dimension: a view of ``input`` (writing to it writes ``input``)."""
    offset, first, second = _diagonal_args("diagonal", input, offset, dim1, dim2)
    return Diagonal.apply(input, offset=offset, dim1=first, dim2=second)


def diagonal_scatter(input: Tensor, src: Tensor, offset: int = 0, dim1: int = 0, dim2: int = 1) -> Tensor:  # noqa: A002
    """A copy of ``input`` whose diagonal (as :func:`diagonal` picks it) holds ``src``."""
    args = _diagonal_args("diagonal_scatter", input, offset, dim1, dim2)
    if not isinstance(src, Tensor):
        src = as_operand(src, input, "diagonal_scatter")
    check_same_device(input, src, "diagonal_scatter")
    expected = backend.namespace_of(input.data).diagonal(input.data, *args).shape
    if tuple(src.shape) != tuple(expected):
        raise ValueError(
            f"diagonal_scatter: src must have the diagonal's shape {tuple(expected)}; got {tuple(src.shape)}"
        )
    return DiagonalScatter.apply(input, src.to(input.dtype), args=args)


class Trace(Function):
    op = "trace"
    saves_inputs = False

    def forward(self, a):
        self.shape = a.shape
        return backend.namespace_of(a).asarray(a.trace())

    def backward(self, grad):
        return (backend.namespace_of(grad).eye(*self.shape, dtype=grad.dtype) * grad,)

    def backward_graph(self, grad):
        return (grad * wrap(backend.namespace_of(grad.data).eye(*self.shape, dtype=grad.dtype)),)


def trace(input: Tensor) -> Tensor:  # noqa: A002
    """The sum of the main diagonal of a 2-D tensor."""
    if not isinstance(input, Tensor):
        raise TypeError(f"trace: input must be a Tensor; got {type(input).__name__}")
    if input.ndim != 2:
        raise ValueError(f"trace: expected a 2-D tensor (a matrix); got shape {tuple(input.shape)}")
    return Trace.apply(input)


class Tril(Function):
    op = "tril"
    saves_inputs = False

    def forward(self, a, k):
        self.k = k
        return backend.namespace_of(a).tril(a, k)

    def backward(self, grad):
        return (backend.namespace_of(grad).tril(grad, self.k),)

    def backward_graph(self, grad):
        return (Tril.apply(grad, k=self.k),)


class Triu(Function):
    op = "triu"
    saves_inputs = False

    def forward(self, a, k):
        self.k = k
        return backend.namespace_of(a).triu(a, k)

    def backward(self, grad):
        return (backend.namespace_of(grad).triu(grad, self.k),)

    def backward_graph(self, grad):
        return (Triu.apply(grad, k=self.k),)


def _triangle(cls, t, diagonal) -> Tensor:
    op = cls.op
    if not isinstance(t, Tensor):
        raise TypeError(f"{op}: input must be a Tensor; got {type(t).__name__}")
    if t.ndim < 2:
        raise ValueError(f"{op}: input must have at least 2 dimensions; got shape {tuple(t.shape)}")
    if isinstance(diagonal, bool) or not isinstance(diagonal, int):
        raise TypeError(f"{op}: diagonal must be an int; got {diagonal!r}")
    return cls.apply(t, k=diagonal)


def tril(input: Tensor, diagonal: int = 0) -> Tensor:  # noqa: A002
    """The lower triangle of the matrices in the last two dims: entries with j - i <= diagonal kept, others 0."""
    return _triangle(Tril, input, diagonal)


def triu(input: Tensor, diagonal: int = 0) -> Tensor:  # noqa: A002
    """The upper triangle of the matrices in the last two dims: entries with j - i >= diagonal kept, others 0."""
    return _triangle(Triu, input, diagonal)
