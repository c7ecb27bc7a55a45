"""Matrix multiplication, NumPy's ``matmul`` semantics, with its gradient.

For C = A B (A of shape (..., m, k), B of shape (..., k, n)) and upstream gradient
G = dL/dC: dL/dA = G B^T and dL/dB = A^T G. A 1-D operand is treated as a row
(left) or column (right) vector whose added dimension is removed from the result;
batch dimensions broadcast, and the engine sums their gradients back.
"""
from __future__ import annotations

from .. import backend
from ..autograd import Function
from ..tensor import Tensor
from .arguments import as_operand, check_same_device


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
