"""scatter_reduce: reduce the values scattered to each position, with PyTorch's semantics.

``scatter_reduce(a, d, I, s, reduce, include_self)``: for every position q of ``a`` let S(q) be
the values ``s[p]`` whose target p[d ← I[p]] is q (notation of :mod:`.gathering`). Where S(q) is
empty the output is ``a[q]``; elsewhere it is the reduction of S(q), together with ``a[q]`` when
``include_self``:

* ``"sum"``: a[q] + Σ S(q) (or Σ S(q));
* ``"mean"``: that sum divided by N(q) = |S(q)| + include_self (floor division for integers);
* ``"amax"`` / ``"amin"``: max / min of S(q) (and a[q]).

Gradients, PyTorch's formulas (tools/autograd/derivatives.yaml, ``scatter_reduce_backward``),
with G the output gradient and r the output:

* sum: ``∂a = G``, ``∂s = gather(G, d, I)``;
* mean: ``∂a = G / N``, ``∂s = gather(G / N, d, I)`` (N taken as 1 where nothing is scattered);
* amax / amin: the gradient goes to the values that attain the result, split evenly among
  ties: with M(q) = [a[q] = r[q]] + #{p ∈ S(q): s[p] = r[q]}, ``∂a = [a = r] G / M`` and
  ``∂s[p] = [s[p] = r[q]] G[q] / M(q)`` for q the target of p.

Without ``include_self`` ``∂a`` is zero at the positions written. (As PyTorch, M still counts
``a[q]`` when it happens to equal r[q], so such a tie takes its share, which is then dropped.)

The reduction's coefficients (1 / N, the tie shares) are piecewise constant in ``a`` and ``s``,
so the gradient is linear in G with constant coefficients, and so is its ``backward_graph``.
"""
from __future__ import annotations

from .. import backend
from ..autograd import Function
from ..tensor import Tensor, wrap
from .arguments import check_same_device
from .gathering import (
    Gather,
    as_one_dimensional,
    check_dtype,
    check_gather_shapes,
    check_input,
    coordinates,
    embed,
    embed_graph,
    leading_block,
)
from .shape import reshape

REDUCTIONS = ("sum", "mean", "amax", "amin")


class ScatterReduce(Function):
    op = "scatter_reduce"
    saves_inputs = True  # as PyTorch's formula, for every reduction: the input, src …
    saves_output = True  # … and the result

    def forward(self, a, src, index, dim, reduce, include_self):
        xp = backend.namespace_of(a)
        self.index, self.dim, self.include_self = index, dim, include_self
        self.shape, self.src_shape = a.shape, src.shape
        self.coords, self.block = coordinates(index, dim), leading_block(index.shape)
        values = src[self.block]
        out = a.copy()
        if not include_self:
            out[self.coords] = _identity(reduce, a.dtype, xp)
        if reduce in ("sum", "mean"):
            xp.add.at(out, self.coords, values)
        else:
            (xp.maximum if reduce == "amax" else xp.minimum).at(out, self.coords, values)
        extreme = reduce in ("amax", "amin")
        if reduce == "mean":
            count = xp.full(a.shape, 1 if include_self else 0, dtype=a.dtype)
            xp.add.at(count, self.coords, 1)
            count = xp.maximum(count, 1)
            out = out / count if a.dtype.kind == "f" else out // count
            self.count = count
        if extreme:
            self.a, self.values, self.out = a, values, out
        self.reduce = reduce
        return out

    def coefficients(self):
        """(c_a, c_s): ``∂a = c_a · G`` and ``∂s = embed(c_s · gather(G))``; None means 1."""
        xp = backend.namespace_of(self.coords[0])
        coef_a = coef_s = None
        if self.reduce == "mean":
            coef_a = 1 / self.count
            coef_s = coef_a[self.coords]
        elif self.reduce != "sum":
            self_hit = (self.a == self.out).astype(self.out.dtype)
            src_hit = (self.values == self.out[self.coords]).astype(self.out.dtype)
            shares = self_hit.copy()
            xp.add.at(shares, self.coords, src_hit)
            coef_a = self_hit / shares
            coef_s = src_hit / shares[self.coords]
        if not self.include_self:
            coef_a = xp.ones(self.shape) if coef_a is None else coef_a.copy()
            coef_a[self.coords] = 0
        return coef_a, coef_s

    def backward(self, grad):
        needs_a, needs_src = self.needs_input_grad
        coef_a, coef_s = self.coefficients_for(grad)
        grad_a = grad_src = None
        if needs_a:
            grad_a = grad if coef_a is None else grad * coef_a
        if needs_src:
            picked = grad[self.coords]
            grad_src = embed(picked if coef_s is None else picked * coef_s, self.src_shape, self.block)
        return grad_a, grad_src

    def backward_graph(self, grad):
        needs_a, needs_src = self.needs_input_grad
        coef_a, coef_s = self.coefficients_for(grad.data)
        grad_a = grad_src = None
        if needs_a:
            grad_a = grad if coef_a is None else grad * wrap(coef_a)
        if needs_src:
            picked = Gather.apply(grad, index=self.index, dim=self.dim)
            grad_src = embed_graph(picked if coef_s is None else picked * wrap(coef_s), self.src_shape, self.block)
        return grad_a, grad_src

    def coefficients_for(self, grad):
        """:meth:`coefficients` in the gradient's dtype."""
        coef_a, coef_s = self.coefficients()
        return tuple(None if c is None else c.astype(grad.dtype, copy=False) for c in (coef_a, coef_s))


def _identity(reduce: str, dtype, xp):
    """The neutral start of a reduction that leaves the input out."""
    if reduce in ("sum", "mean"):
        return 0
    if dtype.kind == "f":
        return -xp.inf if reduce == "amax" else xp.inf
    info = backend.host.iinfo(dtype) if dtype.kind in "iu" else None
    if info is None:  # bool: False is below, True above every value
        return reduce != "amax"
    return info.min if reduce == "amax" else info.max


def scatter_reduce(input: Tensor, dim: int, index: Tensor, src: Tensor, reduce: str, *,  # noqa: A002
                   include_self: bool = True) -> Tensor:
    """``input`` with the values of ``src`` scattered along ``dim`` to the positions ``index``
    names and reduced there by ``reduce`` ("sum", "mean", "amax" or "amin"), together with the
    input's own value when ``include_self`` (torch.scatter_reduce; "prod" is not supported)."""
    check_input(input, "scatter_reduce")
    if not isinstance(src, Tensor):
        raise TypeError(f"scatter_reduce: src must be a Tensor; got {type(src).__name__}")
    if reduce not in REDUCTIONS:
        raise ValueError(f"scatter_reduce: reduce must be one of {', '.join(map(repr, REDUCTIONS))}; got {reduce!r}")
    axis = check_gather_shapes(input, index, dim, "scatter_reduce", src)
    check_dtype(input, src, "scatter_reduce", "src")
    check_same_device(input, src, "scatter_reduce")
    out = ScatterReduce.apply(as_one_dimensional(input), as_one_dimensional(src), index=as_one_dimensional(index).data,
                              dim=axis, reduce=reduce, include_self=bool(include_self))
    return out if input.ndim else reshape(out, ())
