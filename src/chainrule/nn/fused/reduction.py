"""What the fused losses share: class-dim layouts and the reductions "mean", "sum", "none".

A loss is computed per row (classification: rows of C class scores) or per element
(regression), then reduced. ``rows_of_classes`` views (N, C, d1, …) data as rows (M, C) and
``restore_layout`` undoes it for the gradient; ``reduce_losses`` / ``reduce_elements`` apply the
reduction and ``row_weights`` / ``element_weights`` give each row's or element's weight in it,
which the backward multiplies in.
"""
from __future__ import annotations

from ...engine import backend

__all__ = [
    "rows_of_classes", "restore_layout", "reduce_losses", "row_weights", "reduce_elements", "element_weights", "quiet",
]


def rows_of_classes(array):
    """View class-dim-1 data (N, C, d1, …), (N, C) or unbatched (C,) as rows (M, C).

    Returns the rows and what :func:`restore_layout` needs to undo it.
    """
    if array.ndim == 2:
        return array, None
    if array.ndim == 1:
        return array.reshape(1, -1), array.shape
    xp = backend.namespace_of(array)
    moved = xp.moveaxis(array, 1, -1)
    return moved.reshape(-1, array.shape[1]), moved.shape


def restore_layout(rows, layout):
    if layout is None:
        return rows
    if len(layout) == 1:
        return rows.reshape(layout)
    xp = backend.namespace_of(rows)
    return xp.moveaxis(rows.reshape(layout), -1, 1)


def reduce_losses(losses, reduction, denominator, shape):
    """Per-row losses reduced as asked; "none" keeps the target's shape."""
    xp = backend.namespace_of(losses)
    if reduction == "none":
        return losses.reshape(shape)
    total = losses.sum()
    if reduction == "mean":
        if isinstance(denominator, int) and denominator > 0:
            total = total / denominator
        else:  # a sum of weights, which is 0 when every row is ignored: nan, as in PyTorch
            with quiet(xp):
                total = total / denominator
    return xp.asarray(total, dtype=losses.dtype)


def row_weights(grad, reduction, denominator):
    """The reduction's weight of every row: (N, 1) for "none", a 0-d array otherwise."""
    if reduction == "none":
        return grad.reshape(-1, 1)
    if reduction == "mean":
        return grad / denominator
    return grad


def reduce_elements(node, losses, reduction):
    node.count, node.shape = losses.size, losses.shape
    return reduce_losses(losses, reduction, losses.size, losses.shape)


def element_weights(node, grad):
    """The reduction's weight of every element: G itself for "none", G or G / n else."""
    if node.reduction == "mean":
        return grad / node.count
    return grad


class quiet:
    """Silence NumPy's warnings for log(0) and 0 / 0, whose results are intended."""

    def __init__(self, xp):
        self.errstate = getattr(xp, "errstate", None)

    def __enter__(self):
        if self.errstate is not None:
            self.context = self.errstate(divide="ignore", invalid="ignore")
            self.context.__enter__()

    def __exit__(self, *exc_info):
        if self.errstate is not None:
            self.context.__exit__(*exc_info)
        return False
