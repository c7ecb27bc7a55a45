"""An embedding lookup as one graph node: out[p] = W[i_p] for every position p of the index
tensor I (any shape); out has shape I.shape + (D,), W is (V, D).

Backward, G the upstream gradient: every looked-up row receives the gradient of every
position that read it, added up (a scatter-add, ``numpy.add.at``; with numba, the compiled
loop :func:`~chainrule.nn.fused.numba_kernels.add_rows_at` does the same additions in the same
order, 100x faster):

    dW[v] = sum over p with i_p = v of  c_p G[p]

with c_p = 0 where i_p is the padding index (that row gets no gradient, as PyTorch) and, with
``scale_grad_by_freq``, c_p = 1 / (number of positions of the batch with index i_p).

Reference composition (tests/test_nn_embedding.py): ``index_select(W, 0, I.flatten())`` reshaped
to I.shape + (D,). The gradient is linear in G and does not depend on W, so
``backward_graph`` is the same scatter-add written with ``index_add`` (differentiable in G).
"""
from __future__ import annotations

from ...engine import backend, ops
from ...engine.autograd import Function
from ...engine.tensor import wrap
from ..kernel_choice import kernels_for

__all__ = ["Embedding"]


class Embedding(Function):
    """W[I] with W (V, D) and an integer index array I; dW by scatter-add."""

    op = "embedding"
    saves_inputs = False  # the gradient reads only the indices

    def forward(self, weight, indices, padding_idx, scale_grad_by_freq):
        xp = backend.namespace_of(weight)
        self.indices, self.rows = indices.reshape(-1), weight.shape[0]
        self.factor = self.row_factors(xp, padding_idx, scale_grad_by_freq)
        return xp.take(weight, indices, axis=0)

    def row_factors(self, xp, padding_idx, scale_grad_by_freq):
        """c_p per looked-up position (None when every c_p is 1)."""
        flat = self.indices
        factor = None
        if scale_grad_by_freq and flat.size:
            counts = xp.bincount(flat, minlength=self.rows)
            factor = 1.0 / counts[flat]
        if padding_idx is not None:
            kept = flat != padding_idx
            factor = kept.astype(backend.float64) if factor is None else factor * kept
        return factor

    def backward(self, grad):
        xp = backend.namespace_of(grad)
        width = grad.shape[-1]
        rows = grad.reshape(-1, width)
        if self.factor is not None:
            rows = rows * self.factor.astype(grad.dtype)[:, None]
        total = xp.zeros((self.rows, width), dtype=grad.dtype)
        kernels = kernels_for(rows)
        if kernels is not None:  # the same sums, compiled (indices: integers in range, checked by nn.embedding)
            kernels.add_rows(total, self.indices, rows)
        else:
            xp.add.at(total, self.indices, rows)
        return (total,)

    def backward_graph(self, grad):
        width = grad.shape[-1]
        rows = grad.reshape(-1, width)
        if self.factor is not None:
            rows = rows * wrap(self.factor.astype(grad.dtype)[:, None])
        zeros = wrap(backend.namespace_of(grad.data).zeros((self.rows, width), dtype=grad.dtype))
        return (ops.index_add(zeros, 0, wrap(self.indices), rows),)
