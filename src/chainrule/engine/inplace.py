"""In-place operations: ``add_``, ``mul_``, ``fill_``, ``a[index] = v``, ``+=`` … on any tensor.

PyTorch's rule: an in-place operation is allowed, also on a tensor that takes part in a graph,
unless a value that some backward saved has since been modified; that is an error at backward,
naming the op (version counters: every in-place write bumps the version of the memory written,
and every node compares the versions it recorded). ``y = 2 * x; y += 1; y.sum().backward()``
works, and so does micrograd's ``c += c + 1``.

How an in-place operation is recorded. With grad mode on and the target or the other operand
requiring grad, ``t.op_(v)`` runs the out-of-place op on a snapshot of ``t`` (the same values
and the same place in the graph), ``r = op(t_before, v)``, writes ``r``'s values into ``t``'s
memory (views and aliases see them) and makes ``t`` the output of ``r``'s node. Nodes recorded
earlier that consumed ``t`` still reach its old node (:func:`~chainrule.engine.autograd.
function.producer_of` looks it up by version). The snapshot is a copy only when the op's
backward reads the target's old values (``mul_``, ``div_``, ``clamp_``). Otherwise (no grad to
record) the operation writes the array in place and bumps the version.

Refused, each with an error naming the op:

* a leaf that requires grad, while grad mode is on (as in PyTorch): update parameters inside
  ``with chainrule.no_grad():``, as the optimizers do;
* a result of another dtype than the target's (``int_tensor += 0.5``), or another shape;
* while recording, a tensor that shares its memory with a view of it (made by reshape,
  transpose, slicing, expand or detach). PyTorch rewrites the view's graph too; chainrule asks
  for a ``clone()`` instead (a documented difference: the result would otherwise be wrong).
"""
from __future__ import annotations

from . import backend
from .autograd import function, grad_mode
from .tensor import Tensor, bump_version, wrap

__all__ = [
    "add_", "sub_", "mul_", "div_", "clamp_", "fill_", "zero_", "copy_", "masked_fill_", "index_put_",
    "setitem", "index_add_", "scatter_", "scatter_add_",
]


def add_(target: Tensor, other, alpha=1) -> Tensor:
    """target ← target + alpha · other."""
    step = other if alpha == 1 else _scaled(other, alpha)
    return modify(target, "add_", lambda old: old + step, [other], reads_target=False,
                  method="__iadd__", value=step)


def sub_(target: Tensor, other, alpha=1) -> Tensor:
    """target ← target − alpha · other."""
    step = other if alpha == 1 else _scaled(other, alpha)
    return modify(target, "sub_", lambda old: old - step, [other], reads_target=False,
                  method="__isub__", value=step)


def mul_(target: Tensor, other) -> Tensor:
    """target ← target · other."""
    return modify(target, "mul_", lambda old: old * other, [other], reads_target=True,
                  method="__imul__", value=other)


def div_(target: Tensor, other) -> Tensor:
    """target ← target / other."""
    return modify(target, "div_", lambda old: old / other, [other], reads_target=True,
                  method="__itruediv__", value=other)


def clamp_(target: Tensor, min=None, max=None) -> Tensor:  # noqa: A002 - PyTorch's names
    """target ← clamp(target, min, max)."""
    from . import ops  # noqa: PLC0415 - ops import Tensor, whose methods call this module

    return modify(target, "clamp_", lambda old: ops.clamp(old, min, max), [min, max], reads_target=True)


def fill_(target: Tensor, value, op: str = "fill_") -> Tensor:
    """Every element ← value (a number or a one-element tensor, which receives the gradient)."""
    if isinstance(value, Tensor) and value.numel() != 1:
        raise ValueError(f"{op}: value must be a number or a one-element tensor; got shape {tuple(value.shape)}")
    value = _in_dtype_of(target, value)
    return modify(target, op, lambda old: _replaced(old, value), [value], reads_target=False)


def zero_(target: Tensor) -> Tensor:
    """Every element ← 0."""
    return fill_(target, 0, "zero_")


def copy_(target: Tensor, source) -> Tensor:
    """target ← source, broadcast to target's shape and converted to its dtype (the gradient
    goes to ``source``)."""
    from . import ops  # noqa: PLC0415

    if not isinstance(source, Tensor):
        source = wrap(backend.namespace_of(target.data).asarray(source))
    converted = ops.cast(source, target.dtype) if source.dtype != target.dtype else source
    return modify(target, "copy_", lambda old: _replaced(old, converted), [source], reads_target=False)


def masked_fill_(target: Tensor, mask: Tensor, value) -> Tensor:
    """target ← value where ``mask`` (a bool tensor broadcasting to target) holds."""
    from . import ops  # noqa: PLC0415

    _check_mask(target, mask, "masked_fill_")
    value = _in_dtype_of(target, value)
    return modify(target, "masked_fill_", lambda old: ops.where(mask, value, old), [value], reads_target=False)


def index_put_(target: Tensor, indices, values, accumulate: bool = False) -> Tensor:
    """target[indices] ← values (``+=`` with ``accumulate``; repeated indices then add up).
    ``indices`` is a tuple of index tensors, one per leading dimension, as in PyTorch."""
    from . import ops  # noqa: PLC0415

    index = tuple(indices) if isinstance(indices, (list, tuple)) else (indices,)
    return modify(target, "index_put_", lambda old: ops.index_put(old, index, values, accumulate), [values],
                  reads_target=False)


def index_add_(target: Tensor, dim, index, source, alpha=1) -> Tensor:
    """target[…, index[k], …] += alpha · source[…, k, …] along ``dim`` (repeats add up)."""
    from . import ops  # noqa: PLC0415

    return modify(target, "index_add_", lambda old: ops.index_add(old, dim, index, source, alpha=alpha), [source],
                  reads_target=False)


def scatter_(target: Tensor, dim, index, src=None, value=None) -> Tensor:
    """target[p[dim ← index[p]]] ← src[p] (or the number ``value``) for every p of ``index``."""
    from . import ops  # noqa: PLC0415

    return modify(target, "scatter_", lambda old: ops.scatter(old, dim, index, src, value=value), [src],
                  reads_target=False)


def scatter_add_(target: Tensor, dim, index, src) -> Tensor:
    """target[p[dim ← index[p]]] += src[p] for every p of ``index`` (repeats add up)."""
    from . import ops  # noqa: PLC0415

    return modify(target, "scatter_add_", lambda old: ops.scatter_add(old, dim, index, src), [src],
                  reads_target=False)


def setitem(target: Tensor, index, value) -> None:
    """``target[index] = value``: NumPy's indexing; ``value`` broadcasts and is converted to
    the target's dtype (as PyTorch and NumPy do for assignment)."""
    from . import ops  # noqa: PLC0415

    if not isinstance(value, Tensor):
        value = backend.host.asarray(value)
        if value.dtype.kind not in "biuf":
            raise TypeError(f"__setitem__: expected numbers, bools or a tensor as value; got {value.dtype}")
        value = wrap(backend.move(value.astype(target.dtype), target.device))
    elif value.dtype != target.dtype:
        value = ops.cast(value, target.dtype)
    modify(target, "__setitem__", lambda old: ops.index_put(old, index, value), [value], reads_target=False)


# ---------------------------------------------------------------------- the mechanism

def modify(target: Tensor, op: str, out_of_place, others, reads_target: bool, method=None, value=None) -> Tensor:
    """Apply ``out_of_place`` (a function of the target's old value) to ``target`` in place:
    recorded in the graph when grad mode is on and something involved requires grad, else
    written straight into the array (with the array's in-place ``method``, e.g. ``"__iadd__"``,
    and ``value`` when given: the optimizers' and running statistics' path). Returns ``target``."""
    if grad_mode.enabled and (target.requires_grad or _any_requires_grad(others)):
        _check_recordable(target, op)
        _record(target, op, out_of_place, reads_target)
        return target
    _mark_saved_output_stale(target)
    if method is not None:
        _check_direct_operand(target, value, op)
        getattr(target.data, method)(value.data if isinstance(value, Tensor) else value)
    else:
        with grad_mode.no_grad():
            result = out_of_place(wrap(target.data.copy()))
        _check_result(target, result, op)
        target.data[...] = result.data
    bump_version(target)
    return target


def _any_requires_grad(others) -> bool:
    for other in others:
        if isinstance(other, Tensor) and other.requires_grad:
            return True
    return False


def _record(target: Tensor, op: str, out_of_place, reads_target: bool) -> None:
    _mark_saved_output_stale(target)
    snapshot = target.data.copy() if reads_target else target.data
    before = wrap(snapshot, target.requires_grad, target.grad_fn)
    result = out_of_place(before)
    _check_result(target, result, op)
    history = function.rebased.get(target)
    if history is None:
        history = function.rebased[target] = []
    history.append((target._version, target.grad_fn))
    target.data[...] = result.data
    bump_version(target)
    target.grad_fn = result.grad_fn
    target.requires_grad = result.requires_grad


def _check_recordable(target: Tensor, op: str) -> None:
    if target.requires_grad and target.grad_fn is None:
        raise RuntimeError(
            f"{op}: a leaf tensor that requires grad (shape {tuple(target.shape)}) cannot be modified in "
            f"place while gradients are recorded; update it inside 'with chainrule.no_grad():' (as "
            f"optimizers do), or modify a .clone()"
        )
    if target._memory is not None:
        raise RuntimeError(
            f"{op}: this tensor (shape {tuple(target.shape)}) shares its memory with a view of it (made by "
            f"reshape, transpose, slicing, expand or detach), and rewriting it in place while gradients are "
            f"recorded is not supported (the view's gradient would be wrong). Apply {op} to a .clone(), or "
            f"compute the result out of place"
        )


def _check_result(target: Tensor, result: Tensor, op: str) -> None:
    if result.dtype != target.dtype:
        raise TypeError(
            f"{op}: the result has dtype {result.dtype}, which cannot be written into a tensor of dtype "
            f"{target.dtype}; convert first (e.g. t = t.{'float' if result.dtype.kind == 'f' else 'long'}())"
        )
    if tuple(result.shape) != tuple(target.shape):
        raise RuntimeError(
            f"{op}: the result has shape {tuple(result.shape)}, which does not fit the tensor's shape "
            f"{tuple(target.shape)} (an in-place operation cannot change the shape)"
        )


def _check_direct_operand(target: Tensor, value, op: str) -> None:
    """``int += float`` and ``bool += int`` would change the dtype: refused, as by PyTorch;
    so is an operand on another device."""
    if isinstance(value, Tensor) and value.data.__class__ is not target.data.__class__:
        raise RuntimeError(f"{op}: tensors are on different devices: {target.device} and {value.device}")
    kind = target.data.dtype.kind
    if kind == "f":  # nothing promotes past floating point
        return
    other = value.dtype.kind if isinstance(value, Tensor) else _python_kind(value)
    order = "biuf"
    if other is not None and order.index(other if other != "u" else "i") > order.index(kind if kind != "u" else "i"):
        raise TypeError(
            f"{op}: the result would have a {'floating-point' if other == 'f' else 'integer'} dtype, which "
            f"cannot be written into a tensor of dtype {target.dtype}; convert first"
        )


def _python_kind(value):
    if isinstance(value, bool):
        return "b"
    if isinstance(value, int):
        return "i"
    if isinstance(value, float):
        return "f"
    return None


def _mark_saved_output_stale(target: Tensor) -> None:
    """The node that made ``target`` saved it for its backward: that backward is now wrong."""
    node = target.grad_fn
    if node is not None and node.saves_output:
        node.output_modified = True
        node.needs_checks = True


def _scaled(other, alpha):
    return other * alpha


def _replaced(old: Tensor, value) -> Tensor:
    """A tensor of ``old``'s shape filled from ``value`` (broadcast): where(False, old, value),
    so the gradient reaches ``value`` and none reaches ``old``."""
    from . import ops  # noqa: PLC0415

    nowhere = wrap(backend.namespace_of(old.data).zeros(old.shape, dtype=backend.bool_))
    return ops.where(nowhere, old, value)


def _in_dtype_of(target: Tensor, value):
    """``value`` converted to the target's dtype, as PyTorch's fill_ and masked_fill_ do
    (a differentiable cast for a tensor)."""
    from . import ops  # noqa: PLC0415

    if isinstance(value, Tensor):
        return ops.cast(value, target.dtype) if value.dtype != target.dtype else value
    return backend.host.asarray(value).astype(target.dtype)[()]


def _check_mask(target: Tensor, mask, op: str) -> None:
    if not isinstance(mask, Tensor) or mask.dtype != backend.bool_:
        raise TypeError(f"{op}: mask must be a bool tensor; got {getattr(mask, 'dtype', type(mask).__name__)}")
