"""Ops that copy values into a new arrangement: repeat, tile, flip, roll (PyTorch's semantics;
each returns a new tensor, never a view).

* ``a.repeat(r_0, …, r_{k-1})`` (k ≥ ndim; ``a`` is first viewed with k - ndim leading
  dimensions of length 1) tiles ``a`` r_i times along dimension i:
  ``out[j_0, …] = a[j_0 mod n_0, …]``. Every input element appears ∏ r_i times, so its
  gradient is the sum of the output gradient over its copies: reshape G to
  (r_0, n_0, r_1, n_1, …) and sum over the r axes. ``tile(a, dims)`` is ``repeat`` with ``dims``
  padded by leading 1s to ``a``'s number of dimensions (NumPy's ``tile``).
* ``flip(a, dims)`` reverses the order along ``dims``; ``∂a = flip(G, dims)``.
* ``roll(a, shifts, dims)`` shifts cyclically, ``out[(j + s) mod n] = a[j]`` along each dim (the
  flattened tensor when dims is None); ``∂a = roll(G, -shifts, dims)``.

All are permutations or copies of elements: their gradients never read values.
"""
from __future__ import annotations

from .. import backend
from ..autograd import Function
from ..tensor import Tensor
from .arguments import normalize_dim, normalize_dims


class Repeat(Function):
    op = "repeat"
    saves_inputs = False

    def forward(self, a, repeats):
        padded = (1,) * (len(repeats) - a.ndim) + a.shape
        self.shape = a.shape
        self.interleaved = tuple(size for pair in zip(repeats, padded) for size in pair)
        self.copies = tuple(range(0, 2 * len(repeats), 2))
        return backend.namespace_of(a).tile(a, repeats)

    def backward(self, grad):
        return (grad.reshape(self.interleaved).sum(axis=self.copies).reshape(self.shape),)

    def backward_graph(self, grad):
        return (grad.reshape(self.interleaved).sum(dim=self.copies).reshape(self.shape),)


class Flip(Function):
    op = "flip"
    saves_inputs = False

    def forward(self, a, axes):
        self.axes = axes
        return backend.namespace_of(a).flip(a, axis=axes).copy()

    def backward(self, grad):
        return (backend.namespace_of(grad).flip(grad, axis=self.axes),)

    def backward_graph(self, grad):
        return (Flip.apply(grad, axes=self.axes),)


class Roll(Function):
    op = "roll"
    saves_inputs = False

    def forward(self, a, shifts, axes):
        self.shifts, self.axes = shifts, axes
        return backend.namespace_of(a).roll(a, shifts, axis=axes)

    def backward(self, grad):
        back = tuple(-s for s in self.shifts)
        return (backend.namespace_of(grad).roll(grad, back, axis=self.axes),)

    def backward_graph(self, grad):
        return (Roll.apply(grad, shifts=tuple(-s for s in self.shifts), axes=self.axes),)


# ------------------------------------------------------------------ public functions


def _int_sequence(values, op: str, name: str) -> tuple:
    """``values`` (varargs: ints, or one list or tuple of ints) as a tuple of ints."""
    if len(values) == 1 and isinstance(values[0], (list, tuple)):
        values = tuple(values[0])
    for v in values:
        if isinstance(v, bool) or not isinstance(v, int):
            raise TypeError(f"{op}: {name} must be ints; got {values!r}")
    return tuple(values)


def dims_of(dims: tuple) -> tuple:
    """A method's varargs dims (``t.flip(0, 1)``) or its one sequence of them (``t.flip((0, 1))``)
    as a tuple."""
    return tuple(dims[0]) if len(dims) == 1 and isinstance(dims[0], (list, tuple)) else dims


def _check_input(a, op: str) -> None:
    if not isinstance(a, Tensor):
        raise TypeError(f"{op}: input must be a Tensor; got {type(a).__name__}")


def repeat(a: Tensor, *sizes) -> Tensor:
    """``a`` repeated ``sizes[i]`` times along dimension i (Tensor.repeat): ``sizes`` may have more
    entries than ``a`` has dimensions (then ``a`` is treated as having leading dimensions of
    length 1), never fewer. Always a copy."""
    _check_input(a, "repeat")
    repeats = _int_sequence(sizes, "repeat", "sizes")
    if len(repeats) < a.ndim:
        raise ValueError(
            f"repeat: got {len(repeats)} repeat size(s) {repeats} for a tensor with {a.ndim} dimensions; "
            f"pass at least one per dimension"
        )
    if any(r < 0 for r in repeats):
        raise ValueError(f"repeat: sizes must be non-negative; got {repeats}")
    return Repeat.apply(a, repeats=repeats)


def tile(input: Tensor, dims) -> Tensor:  # noqa: A002 - PyTorch's name
    """``input`` repeated ``dims[i]`` times along dimension i (torch.tile): with fewer entries
    than dimensions, ``dims`` is padded with leading 1s; with more, ``input`` gets leading
    dimensions of length 1."""
    _check_input(input, "tile")
    if not isinstance(dims, (list, tuple)):
        raise TypeError(f"tile: dims must be a tuple of ints; got {type(dims).__name__}")
    reps = _int_sequence((dims,), "tile", "dims")
    if any(r < 0 for r in reps):
        raise ValueError(f"tile: dims must be non-negative; got {reps}")
    return Repeat.apply(input, repeats=(1,) * (input.ndim - len(reps)) + reps)


def flip(input: Tensor, dims) -> Tensor:  # noqa: A002
    """``input`` with the order of its elements reversed along each of ``dims`` (torch.flip:
    a copy, not a view)."""
    _check_input(input, "flip")
    if not isinstance(dims, (list, tuple)):
        raise TypeError(f"flip: dims must be a tuple of ints; got {type(dims).__name__}")
    axes = normalize_dims(tuple(dims), input.ndim, "flip")
    return Flip.apply(input, axes=axes)


def roll(input: Tensor, shifts, dims=None) -> Tensor:  # noqa: A002
    """``input`` shifted cyclically by ``shifts`` along ``dims`` (ints or tuples of the same
    length; a dim may repeat, its shifts add up); with ``dims`` None, the flattened tensor is
    shifted and the shape restored (torch.roll)."""
    _check_input(input, "roll")
    steps = _int_sequence((shifts,) if not isinstance(shifts, (list, tuple)) else (tuple(shifts),), "roll", "shifts")
    if dims is None:
        if len(steps) != 1:
            raise ValueError(f"roll: with dims None, shifts must be one int; got {steps}")
        return Roll.apply(input, shifts=steps, axes=None)
    axes = _int_sequence((dims,) if not isinstance(dims, (list, tuple)) else (tuple(dims),), "roll", "dims")
    if len(axes) != len(steps) or not axes:
        raise ValueError(f"roll: shifts {steps} and dims {axes} must have the same (non-zero) length")
    if input.ndim == 0:
        raise IndexError("roll: a 0-d tensor has no dimension to roll along; pass dims=None")
    return Roll.apply(input, shifts=steps, axes=tuple(normalize_dim(d, input.ndim, "roll") for d in axes))
