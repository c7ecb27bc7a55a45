"""Reductions over dimensions: sum, mean, var, std, prod, amax, amin, max, min, logsumexp, argmax …

Every reduction takes ``dim`` (an int, a tuple of ints, or None for all; NumPy's
``axis`` is accepted as an alias) and ``keepdim`` (alias ``keepdims``). The backward
of a reduction spreads the output gradient back over the reduced positions.

``var`` and ``std`` are the unbiased estimators by default (``correction=1``, divide by
N - 1), as in PyTorch and unlike ``numpy.var``/``numpy.std`` (``ddof=0``): pass
``correction=0`` (or ``unbiased=False``) for NumPy's. PyTorch returns inf or NaN (with a
warning) when N - correction <= 0; chainrule raises a ValueError.

``amax``/``amin`` (and ``max``/``min`` without ``dim``) split the gradient evenly among
the positions that attain the extreme. ``max``/``min`` with ``dim`` return the named tuple
``(values, indices)`` and send the gradient to the returned index
(:mod:`~chainrule.engine.ops.sorting`); with a tensor second argument they are
``maximum``/``minimum``.

prod: d prod(a) / d a_k = prod_{j != k} a_j. Without zeros that is prod(a) / a_k; with zeros
it is the product of the exclusive cumulative products from both ends,
(prod_{j<k} a_j)(prod_{j>k} a_j), exact with one zero (only that position gets a
gradient) or several (all gradients 0), as PyTorch's ``prod_backward``.
"""
from __future__ import annotations

from .. import backend
from ..autograd import Function
from ..tensor import Tensor, wrap
from . import arithmetic, copies, scans, sorting
from .arguments import normalize_dim, normalize_dims, resolve_aliases
from .shape import cat


class _Reduction(Function):
    """Base for reductions: remembers the input shape and the reduced axes."""

    def setup(self, a, axes):
        self.shape = a.shape
        self.axes = axes
        if axes is None:
            self.count = a.size
        else:
            self.count = 1
            for axis in axes:
                self.count *= a.shape[axis]

    def kept_shape(self) -> tuple:
        """The input shape with the reduced axes set to 1 (the keepdim=True shape)."""
        if self.axes is None:
            return (1,) * len(self.shape)
        return tuple(1 if i in self.axes else size for i, size in enumerate(self.shape))

    def spread(self, grad):
        """The output gradient broadcast back over the input shape (a read-only view)."""
        return backend.broadcast_to(grad.reshape(self.kept_shape()), self.shape)

    def spread_graph(self, grad):
        """:meth:`spread` on a Tensor: the gradient expanded back over the input shape."""
        return grad.reshape(self.kept_shape()).expand(*self.shape)


class Sum(_Reduction):
    op = "sum"
    saves_inputs = False

    def forward(self, a, axes, keepdim):
        self.setup(a, axes)
        return a.sum(axis=axes, keepdims=keepdim)

    def backward(self, grad):
        return (self.spread(grad),)

    def backward_graph(self, grad):
        return (self.spread_graph(grad),)


class Mean(_Reduction):
    op = "mean"
    saves_inputs = False

    def forward(self, a, axes, keepdim):
        self.setup(a, axes)
        return a.mean(axis=axes, keepdims=keepdim)

    def backward(self, grad):
        return (self.spread(grad / self.count),)

    def backward_graph(self, grad):
        return (self.spread_graph(grad / self.count),)


class Var(_Reduction):
    """s^2 = sum (a - mean)^2 / (N - correction); ds^2/da = 2 (a - mean) / (N - correction)."""

    op = "var"

    def forward(self, a, axes, keepdim, correction):
        self.setup(a, axes)
        self.denominator = self.count - correction
        self.diff = a - a.mean(axis=axes, keepdims=True)
        return (self.diff * self.diff).sum(axis=axes, keepdims=keepdim) / self.denominator

    def backward(self, grad):
        scale = grad.reshape(self.kept_shape()) * (2 / self.denominator)
        return (scale * self.diff,)

    def backward_graph(self, grad):
        a = self.parents[0]
        diff = a - a.mean(dim=self.axes, keepdim=True)
        return (grad.reshape(self.kept_shape()) * (2 / self.denominator) * diff,)


class Std(_Reduction):
    """s = sqrt(var); ds/da = (a - mean) / ((N - correction) s), taken as 0 where s = 0
    (s is not differentiable there; 0 is a subgradient)."""

    op = "std"

    def forward(self, a, axes, keepdim, correction):
        xp = backend.namespace_of(a)
        self.setup(a, axes)
        self.denominator = self.count - correction
        self.diff = a - a.mean(axis=axes, keepdims=True)
        self.std = xp.sqrt((self.diff * self.diff).sum(axis=axes, keepdims=True) / self.denominator)
        return self.std if keepdim else self.std.reshape(_reduced_shape(a.shape, axes))

    def backward(self, grad):
        xp = backend.namespace_of(grad)
        std = self.std
        safe = xp.where(std > 0, std, 1)
        scale = xp.where(std > 0, grad.reshape(self.kept_shape()) / (self.denominator * safe), 0)
        return (scale * self.diff,)

    def backward_graph(self, grad):
        a = self.parents[0]
        diff = a - a.mean(dim=self.axes, keepdim=True)
        std = ((diff * diff).sum(dim=self.axes, keepdim=True) / self.denominator).sqrt()
        positive = wrap(self.std > 0)
        safe = copies.where(positive, std, 1.0)
        scale = copies.where(positive, grad.reshape(self.kept_shape()) / (self.denominator * safe), 0.0)
        return (scale * diff,)


class _Extreme(_Reduction):
    """max/min: the gradient goes to the positions that attain the extreme,
    split evenly among ties."""

    saves_output = True

    def forward(self, a, axes, keepdim):
        self.setup(a, axes)
        self.a = a
        self.out = self.reduce(a, axes)
        return self.out if keepdim else self.out.reshape(_reduced_shape(a.shape, axes))

    def backward(self, grad):
        hits = self.a == self.out
        count = hits.sum(axis=self.axes, keepdims=True)
        return (hits * (grad.reshape(self.kept_shape()) / count),)

    def backward_graph(self, grad):
        a = self.parents[0].data
        hits = a == self.out
        share = wrap((hits / hits.sum(axis=self.axes, keepdims=True)).astype(a.dtype))
        return (grad.reshape(self.kept_shape()) * share,)


class Amax(_Extreme):
    op = "amax"

    @staticmethod
    def reduce(a, axes):
        return a.max(axis=axes, keepdims=True)


class Amin(_Extreme):
    op = "amin"

    @staticmethod
    def reduce(a, axes):
        return a.min(axis=axes, keepdims=True)


class Max(Amax):
    """max(a) over every element (ties split the gradient, as amax)."""

    op = "max"


class Min(Amin):
    op = "min"


class Prod(_Reduction):
    """The product over one axis (or all); see the module docstring for the gradient."""

    op = "prod"
    saves_output = True

    def forward(self, a, axis, keepdim):
        self.setup(a, None if axis is None else (axis,))
        self.a, self.axis = a, axis
        self.out = a.prod(axis=axis, keepdims=True)
        return self.out if keepdim else self.out.reshape(_reduced_shape(a.shape, self.axes))

    def backward(self, grad):
        a = self.a
        if (a != 0).all():
            others = self.out / a
        else:
            flat = a.reshape(-1) if self.axis is None else a
            others = _others_product(flat, 0 if self.axis is None else self.axis).reshape(a.shape)
        return (grad.reshape(self.kept_shape()) * others,)

    def backward_graph(self, grad):
        a = self.parents[0]
        if (self.a != 0).all():
            others = prod(a, self.axis, keepdim=True) / a if self.axis is not None else prod(a) / a
        else:
            flat = a.reshape(-1) if self.axis is None else a
            others = _others_product_graph(flat, 0 if self.axis is None else self.axis).reshape(a.shape)
        return (grad.reshape(self.kept_shape()) * others,)


def _others_product(a, axis: int):
    """prod_{j != k} a_j along ``axis`` for every k, without division (exact with zeros)."""
    xp = backend.namespace_of(a)
    x = xp.moveaxis(a, axis, -1)
    one = xp.ones(x.shape[:-1] + (1,), dtype=x.dtype)
    left = xp.concatenate([one, xp.cumprod(x[..., :-1], axis=-1)], axis=-1)  # prod_{j<k}
    right = xp.concatenate([scans.scan_product(x[..., 1:], -1, True), one], axis=-1)  # prod_{j>k}
    return xp.moveaxis(left * right, -1, axis)


def _others_product_graph(a: Tensor, axis: int) -> Tensor:
    """:func:`_others_product` on Tensors, with the differentiable scans."""
    x = a.transpose(axis, -1)
    n = x.shape[-1]
    one = wrap(backend.namespace_of(a.data).ones(x.shape[:-1] + (1,), dtype=a.dtype))
    left = cat([one, scans.Cumprod.apply(x[..., : n - 1], axis=x.ndim - 1, reverse=False)], dim=-1)
    right = cat([scans.Cumprod.apply(x[..., 1:], axis=x.ndim - 1, reverse=True), one], dim=-1)
    return (left * right).transpose(axis, -1)


class LogSumExp(_Reduction):
    """log sum exp(a), computed as m + log sum exp(a - m) with m = max(a) so nothing
    overflows; its gradient is softmax(a) = exp(a - logsumexp(a))."""

    op = "logsumexp"
    saves_output = True

    def forward(self, a, axes, keepdim):
        self.setup(a, axes)
        self.a = a
        self.out = logsumexp_keepdims(a, axes)
        return self.out if keepdim else self.out.reshape(_reduced_shape(a.shape, axes))

    def backward(self, grad):
        xp = backend.namespace_of(grad)
        return (grad.reshape(self.kept_shape()) * xp.exp(self.a - self.out),)

    def backward_graph(self, grad):
        a = self.parents[0]
        return (grad.reshape(self.kept_shape()) * (a - logsumexp(a, self.axes, keepdim=True)).exp(),)


def logsumexp_keepdims(a, axes):
    """The stable log-sum-exp of an array along ``axes`` with keepdims=True."""
    xp = backend.namespace_of(a)
    shift = a.max(axis=axes, keepdims=True)
    shift = xp.where(xp.isfinite(shift), shift, 0)
    return xp.log(xp.exp(a - shift).sum(axis=axes, keepdims=True)) + shift


def _reduced_shape(shape: tuple, axes) -> tuple:
    if axes is None:
        return ()
    return tuple(size for i, size in enumerate(shape) if i not in axes)


# ------------------------------------------------------------------ public functions

def _reduce(cls, a: Tensor, dim, keepdim, aliases, **params) -> Tensor:
    if aliases:
        dim, keepdim = resolve_aliases(cls.op, dim, keepdim, aliases)
    axes = None if dim is None else normalize_dims(dim, a.ndim, cls.op)
    return cls.apply(a, axes=axes, keepdim=keepdim, **params)


def _reduce_nonempty(cls, a: Tensor, dim, keepdim, aliases, error=ValueError) -> Tensor:
    """Reductions without an identity element (max, min, logsumexp) refuse empty input."""
    if a.data.size == 0:
        axis_dim, _ = resolve_aliases(cls.op, dim, keepdim, aliases)
        axes = normalize_dims(axis_dim, a.ndim, cls.op)
        if axes is None or 0 in [a.shape[i] for i in axes]:  # not any(): shadowed by this module's any
            raise error(
                f"{cls.op}: cannot reduce over an empty dimension (shape {tuple(a.shape)}, dim={axis_dim})"
            )
    return _reduce(cls, a, dim, keepdim, aliases)


def sum(a: Tensor, dim=None, keepdim=False, **aliases) -> Tensor:  # noqa: A001
    """Sum over ``dim`` (all dims when None)."""
    return _reduce(Sum, a, dim, keepdim, aliases)


def mean(a: Tensor, dim=None, keepdim=False, **aliases) -> Tensor:
    """Arithmetic mean over ``dim`` (all dims when None)."""
    return _reduce(Mean, a, dim, keepdim, aliases)


def var(a: Tensor, dim=None, unbiased=None, keepdim=False, *, correction=None, **aliases) -> Tensor:
    """Variance sum (a - mean)^2 / (N - correction) over ``dim``.

    ``correction`` defaults to 1 (the unbiased sample variance, PyTorch's default;
    NumPy's default ``ddof=0`` is ``correction=0``); ``unbiased=False`` means 0.
    """
    return _reduce(Var, a, dim, keepdim, aliases, correction=_correction("var", a, dim, unbiased, correction, aliases))


def std(a: Tensor, dim=None, unbiased=None, keepdim=False, *, correction=None, **aliases) -> Tensor:
    """Standard deviation sqrt(var) over ``dim``; see :func:`var` for ``correction``."""
    return _reduce(Std, a, dim, keepdim, aliases, correction=_correction("std", a, dim, unbiased, correction, aliases))


def _correction(op, a, dim, unbiased, correction, aliases) -> int:
    if unbiased is not None and correction is not None:
        raise TypeError(f"{op}: pass either unbiased or correction, not both")
    if correction is None:
        correction = 0 if unbiased is False else 1
    if correction < 0:
        raise ValueError(f"{op}: correction must be non-negative; got {correction}")
    dim, _ = resolve_aliases(op, dim, False, aliases)
    axes = normalize_dims(dim, a.ndim, op)
    count = a.data.size if axes is None else _product(a.shape[i] for i in axes)
    if count - correction <= 0:
        raise ValueError(
            f"{op}: needs more than correction={correction} element(s) along the reduced "
            f"dims; got {count} (shape {tuple(a.shape)}, dim={dim})"
        )
    return correction


def _product(values) -> int:
    result = 1
    for value in values:
        result *= value
    return result


def max(input: Tensor, dim=None, keepdim=False, **aliases):  # noqa: A001, A002 - PyTorch's names
    """``max(input)``: the largest value (a tensor; ties split the gradient evenly).
    ``max(input, dim, keepdim=False)``: the named tuple ``(values, indices)`` along ``dim``
    (the gradient goes to the returned index). ``max(input, other)`` with a Tensor
    ``other``: the elementwise maximum. Use :func:`amax` for the largest values over
    several dims without indices."""
    return _max_or_min("max", input, dim, keepdim, aliases)


def min(input: Tensor, dim=None, keepdim=False, **aliases):  # noqa: A001, A002
    """``min(input)``, ``min(input, dim, keepdim=False)`` (named tuple ``(values, indices)``)
    or ``min(input, other)`` (elementwise minimum): see :func:`max`."""
    return _max_or_min("min", input, dim, keepdim, aliases)


def _max_or_min(op, a, dim, keepdim, aliases):
    other = aliases.pop("other", None)
    if isinstance(dim, Tensor) or other is not None:
        if aliases or keepdim:
            raise TypeError(f"{op}: with a second tensor, {op} is elementwise and takes no dim or keepdim")
        elementwise = arithmetic.maximum if op == "max" else arithmetic.minimum
        return elementwise(a, other if other is not None else dim)
    if aliases:
        dim, keepdim = resolve_aliases(op, dim, keepdim, aliases)
    if dim is None:
        return _reduce_nonempty(Max if op == "max" else Min, a, None, keepdim, {})
    return sorting.extreme_along(op, a, dim, keepdim)


def amax(input: Tensor, dim=(), keepdim=False, **aliases) -> Tensor:  # noqa: A002
    """The largest value over ``dim`` (an int or a tuple; ``()`` or None: every dim), without
    indices; the gradient is split evenly among ties."""
    return _reduce_nonempty(Amax, input, None if dim == () else dim, keepdim, aliases, IndexError)


def amin(input: Tensor, dim=(), keepdim=False, **aliases) -> Tensor:  # noqa: A002
    """The smallest value over ``dim``: see :func:`amax`."""
    return _reduce_nonempty(Amin, input, None if dim == () else dim, keepdim, aliases, IndexError)


def prod(input: Tensor, dim=None, keepdim=False, *, dtype=None, **aliases) -> Tensor:  # noqa: A002
    """The product of all elements, or along one ``dim`` (an int). Integer and bool tensors
    give int64 (as PyTorch); ``dtype`` casts the input first. The gradient is exact with
    zeros in the input."""
    if aliases:
        dim, keepdim = resolve_aliases("prod", dim, keepdim, aliases)
    if dim is not None and (isinstance(dim, bool) or not isinstance(dim, int)):
        raise TypeError(f"prod: dim must be an int or None; got {dim!r}")
    a = input
    if dtype is not None:
        a = copies.cast(a, backend.canonical_dtype(dtype, "prod: dtype"))
    elif a.dtype.kind != "f":
        a = copies.cast(a, backend.int64)
    axis = None if dim is None else normalize_dim(dim, a.ndim, "prod")
    return Prod.apply(a, axis=axis if a.ndim else None, keepdim=bool(keepdim))


def logsumexp(a: Tensor, dim=None, keepdim=False, **aliases) -> Tensor:
    """log(sum(exp(a))) over ``dim``, without overflow."""
    return _reduce_nonempty(LogSumExp, a, dim, keepdim, aliases)


def argmax(a: Tensor, dim=None, keepdim=False, **aliases) -> Tensor:
    """Index of the largest value (of the flattened tensor when dim is None); int64."""
    return _arg_extreme("argmax", a, dim, keepdim, aliases)


def argmin(a: Tensor, dim=None, keepdim=False, **aliases) -> Tensor:
    """Index of the smallest value (of the flattened tensor when dim is None); int64."""
    return _arg_extreme("argmin", a, dim, keepdim, aliases)


def _arg_extreme(op, a, dim, keepdim, aliases) -> Tensor:
    dim, keepdim = resolve_aliases(op, dim, keepdim, aliases)
    if a.data.size == 0:
        raise ValueError(f"{op}: the tensor is empty (shape {tuple(a.shape)})")
    if dim is None:
        flat = getattr(a.data.reshape(-1), op)()
        out = flat.reshape((1,) * a.ndim) if keepdim else flat
    else:
        if not isinstance(dim, int) or isinstance(dim, bool):
            raise TypeError(f"{op}: dim must be an int or None; got {dim!r}")
        axis = normalize_dims(dim, a.ndim, op)
        out = getattr(a.data, op)(axis=axis[0] if axis else None, keepdims=keepdim)
    return wrap(backend.namespace_of(a.data).asarray(out, dtype=backend.int64))


def all(a: Tensor, dim=None, keepdim=False, **aliases) -> Tensor:  # noqa: A001
    """True where every element over ``dim`` is non-zero (bool)."""
    return _logical_reduce("all", a, dim, keepdim, aliases)


def any(a: Tensor, dim=None, keepdim=False, **aliases) -> Tensor:  # noqa: A001
    """True where some element over ``dim`` is non-zero (bool)."""
    return _logical_reduce("any", a, dim, keepdim, aliases)


def _logical_reduce(op, a, dim, keepdim, aliases) -> Tensor:
    dim, keepdim = resolve_aliases(op, dim, keepdim, aliases)
    axes = normalize_dims(dim, a.ndim, op)
    return wrap(getattr(a.data, op)(axis=axes, keepdims=keepdim))
