"""``chainrule.linalg``: PyTorch's ``torch.linalg`` namespace, over the ops of :mod:`.ops`.

    >>> import chainrule as cr
    >>> A = cr.tensor([[4.0, 1.0], [1.0, 3.0]], requires_grad=True)
    >>> x = cr.linalg.solve(A, cr.tensor([1.0, 2.0]))

solve, inv, det, slogdet, cholesky (:mod:`.ops.decompositions`), svd, svdvals (:mod:`.ops.svd`),
vector_norm, matrix_norm, norm (:mod:`.ops.norms`), matmul and diagonal (:mod:`.ops.linalg`);
each differentiable, batched over leading dims. ``LinAlgError`` is raised for singular or
non-positive-definite input.
"""
from __future__ import annotations

from .ops import linalg as _products
from .ops.decompositions import LinAlgError, cholesky, det, inv, slogdet, solve
from .ops.linalg import matmul
from .ops.norms import linalg_norm as norm
from .ops.norms import matrix_norm, vector_norm
from .ops.svd import svd, svdvals

__all__ = [
    "LinAlgError", "cholesky", "det", "diagonal", "inv", "matmul", "matrix_norm", "norm", "slogdet", "solve",
    "svd", "svdvals", "vector_norm",
]


def diagonal(A, *, offset: int = 0, dim1: int = -2, dim2: int = -1):  # noqa: N803 - PyTorch's argument name
    """``torch.linalg.diagonal``: :func:`chainrule.diagonal` with the last two dims as default."""
    return _products.diagonal(A, offset, dim1, dim2)
