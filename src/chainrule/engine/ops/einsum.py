"""einsum: Einstein summation over any subscripts, with its gradient (PyTorch's ``torch.einsum``).

An equation such as ``"bij,bjk->bik"`` names each dimension of each operand by a letter; the
output is the sum, over every letter not in the output, of the product of the operands:
out[o] = sum_{s} prod_k X_k[letters of k]. Supported: any subscripts (a-z, A-Z), a letter
repeated within one operand (its diagonal: ``"ii->i"``, the trace ``"ii->"``), letters
summed away, ``...`` (ellipsis: the remaining dims, broadcast across operands, right-aligned),
size-1 dimensions broadcast against the same letter elsewhere, and the implicit output (no
``->``: the ellipsis dims, then the letters that occur exactly once, in alphabetical order,
uppercase first). The operands may also be passed as one list.

The equation is first rewritten with letters in place of every ``...`` and with an explicit
output; the forward is ``xp.einsum`` on it. ``optimize=True`` (a contraction order and BLAS
calls) costs about 10 µs of planning and pays only on real contractions: measured with NumPy
on two cores, at n = 8 ``ij,jk->ik`` takes 2.5 µs plain and 11 µs optimized, at n = 32 both
13 µs, at n = 128 456 µs plain and 70 µs optimized, and with three operands at n = 32 870 µs
plain and 31 µs optimized. So it is used when the product of all dimension sizes (the
plain loop's length) is at least ``OPTIMIZE_FROM`` and at least eight times the number of
elements read and written, i.e. when the loop does more than stream over its operands.

Gradient (the chain rule on a multilinear map). The output is linear in each operand X_k, so
dL/dX_k[s_k] = sum over the letters not in s_k of G[o] * prod_{j != k} X_j[s_j]: the einsum
of the upstream gradient G with the other operands, written to operand k's letters:
``"<out>,<others>-><letters of k>"``. Two cases need more than that einsum:

* a letter that occurs only in operand k (summed away there) does not occur on the right:
  the gradient is constant along it, so the einsum is taken without it and broadcast over it;
* a letter repeated in operand k (``"ii"``): only the diagonal was read, so the gradient is
  the einsum onto the distinct letters, scattered onto that diagonal by an identity matrix
  per repeat: ``"i,ia->ia"`` with I for ``"ia"`` (a a fresh letter).

Broadcast size-1 dimensions get the broadcast gradient, which the engine sums back. The
gradient of the gradient (create_graph=True) runs the same plan with this differentiable
einsum. Reference: the Einstein summation rules of NumPy's ``einsum`` and of PyTorch's
``torch.einsum`` documentation.

Differences from PyTorch: operands of different dtypes are promoted (NumPy's rule); PyTorch
requires one dtype. The sublist form ``einsum(op1, [0, 1], op2, [1, 2])`` is not accepted.
"""
from __future__ import annotations

import functools
import string

from .. import backend
from ..autograd import Function
from ..tensor import Tensor, wrap
from .arguments import check_same_device

LETTERS = string.ascii_uppercase + string.ascii_lowercase  # the 52 subscripts xp.einsum accepts
OPTIMIZE_FROM = 32768  # the plain loop length from which optimize=True pays (see the docstring)


def contract(equation: str, arrays, sizes: dict):
    """``xp.einsum(equation, *arrays)``, with ``optimize`` where it pays; ``sizes``: letter -> size."""
    xp = backend.namespace_of(arrays[0])
    loop = 1
    for size in sizes.values():
        loop *= size
    touched = sum(a.size for a in arrays)
    optimize = len(arrays) > 1 and loop >= OPTIMIZE_FROM and loop >= 8 * touched
    return xp.asarray(xp.einsum(equation, *arrays, optimize=optimize))


def letter_sizes(inputs, arrays) -> dict:
    """letter -> its (broadcast) size over the operands."""
    sizes = {}
    for subscripts, array in zip(inputs, arrays):
        for letter, size in zip(subscripts, array.shape):
            if sizes.get(letter, 1) == 1:  # a size other than 1 wins (1 broadcasts)
                sizes[letter] = size
    return sizes


class Einsum(Function):
    op = "einsum"

    def forward(self, *arrays, inputs, output):
        self.arrays, self.inputs, self.output = arrays, inputs, output
        if len(arrays) == 1:  # the gradient of a one-operand einsum (a sum, transpose, diagonal) reads no values
            self.saves_inputs = False
        out = contract(",".join(inputs) + "->" + output, arrays, letter_sizes(inputs, arrays))
        xp = backend.namespace_of(out)
        if len(arrays) == 1 and xp.may_share_memory(out, arrays[0]):  # a transpose or diagonal: a view
            out = out.copy()
        return out

    def backward(self, grad):
        xp = backend.namespace_of(grad)
        sizes = letter_sizes(self.inputs, self.arrays)
        sizes.update(zip(self.output, grad.shape))

        def run(equation, operands):
            return contract(equation, operands, sizes)

        def eye(n):
            return xp.eye(n, dtype=grad.dtype)

        return tuple(
            gradient_plan(self.inputs, self.output, k).run(grad, self.arrays, self.arrays[k].shape, run,
                                                           _broadcast, eye)
            if needed else None
            for k, needed in enumerate(self.needs_input_grad)
        )

    def backward_graph(self, grad):
        xp = backend.namespace_of(grad.data)

        def run(equation, operands):
            inputs, output = equation.split("->")
            return Einsum.apply(*operands, inputs=tuple(inputs.split(",")), output=output)

        def eye(n):
            return wrap(xp.eye(n, dtype=grad.dtype))

        return tuple(
            gradient_plan(self.inputs, self.output, k).run(grad, self.parents, self.parents[k].shape, run,
                                                           _expand, eye)
            if needed else None
            for k, needed in enumerate(self.needs_input_grad)
        )


def _broadcast(array, shape):
    return backend.namespace_of(array).broadcast_to(array, shape)


def _expand(t: Tensor, shape):
    return t.expand(*shape)


class GradientPlan:
    """How the gradient of one operand is made from the upstream gradient and the others.

    ``contraction``: the einsum of G with the other operands onto ``target`` (the operand's
    distinct letters that occur elsewhere), or None when that is G itself. ``missing``: the
    positions, among the distinct letters, of those that occur nowhere else (broadcast over,
    as are letters of size 1 elsewhere and larger here).
    ``diagonal``: the einsum that scatters onto repeated letters, with ``repeated`` the
    letters that need an identity matrix each, or None.
    """

    def __init__(self, subscripts, distinct, contraction, others, missing, diagonal, repeated):
        self.subscripts, self.distinct = subscripts, distinct
        self.contraction, self.others, self.missing = contraction, others, missing
        self.diagonal, self.repeated = diagonal, repeated

    def run(self, grad, operands, shape, contract_fn, broadcast_fn, eye_fn):
        """The gradient of the operand of ``shape``, from ``grad`` and ``operands`` (arrays or Tensors)."""
        g = grad
        if self.contraction is not None:
            g = contract_fn(self.contraction, [grad] + [operands[j] for j in self.others])
        sizes = dict(zip(self.subscripts, shape))
        kept, present = [], iter(g.shape)
        for position in range(len(self.distinct)):
            kept.append(1 if position in self.missing else next(present))
        full = tuple(sizes[letter] if size == 1 else size for letter, size in zip(self.distinct, kept))
        if full != tuple(g.shape):  # letters summed only here, or of size 1 elsewhere: broadcast over them
            g = broadcast_fn(g.reshape(tuple(kept)), full)
        if self.diagonal is not None:
            g = contract_fn(self.diagonal, [g] + [eye_fn(sizes[letter]) for letter in self.repeated])
        return g


@functools.lru_cache(maxsize=1024)
def gradient_plan(inputs: tuple, output: str, k: int) -> GradientPlan:
    """The :class:`GradientPlan` of operand ``k`` of the explicit equation ``inputs -> output``."""
    subscripts = inputs[k]
    distinct = "".join(dict.fromkeys(subscripts))
    others = tuple(j for j in range(len(inputs)) if j != k)
    elsewhere = set(output).union(*(inputs[j] for j in others))
    target = "".join(letter for letter in distinct if letter in elsewhere)
    missing = frozenset(i for i, letter in enumerate(distinct) if letter not in elsewhere)
    contraction = None
    if others or target != output:
        contraction = ",".join([output] + [inputs[j] for j in others]) + "->" + target
    diagonal, repeated = None, ()
    if len(distinct) < len(subscripts):
        free = iter(letter for letter in LETTERS if letter not in set("".join(inputs)))
        seen, written, pairs = set(), [], []
        for letter in subscripts:
            if letter in seen:
                fresh = next(free, None)
                if fresh is None:
                    raise ValueError("einsum: too many subscripts to differentiate a repeated one (52 at most)")
                pairs.append(letter + fresh)
                written.append(fresh)
            else:
                seen.add(letter)
                written.append(letter)
        diagonal = ",".join([distinct] + pairs) + "->" + "".join(written)
        repeated = tuple(pair[0] for pair in pairs)
    return GradientPlan(subscripts, distinct, contraction, others, missing, diagonal, repeated)


# ------------------------------------------------------------------ parsing the equation


def parse(equation: str, shapes: list) -> tuple:
    """``equation`` for operands of ``shapes`` as (input subscripts, output subscripts), with letters
    in place of every ``...`` and the output made explicit. Raises on a malformed equation."""
    if not isinstance(equation, str):
        raise TypeError(f"einsum: the equation must be a string; got {type(equation).__name__}")
    text = "".join(equation.split())
    left, arrow, right = text.partition("->")
    terms = left.split(",")
    if len(terms) != len(shapes):
        raise ValueError(
            f"einsum: the equation has {len(terms)} operand subscript(s) but {len(shapes)} operand(s) were given"
        )
    for term in terms + ([right] if arrow else []):
        _check_term(term, equation)
    used = set(text) & set(LETTERS)
    spare = [letter for letter in LETTERS if letter not in used]
    rank = max([_ellipsis_rank(term, shape, k) for k, (term, shape) in enumerate(zip(terms, shapes))] + [0])
    if rank > len(spare):
        raise ValueError(f"einsum: the ellipsis covers {rank} dimensions; too many with the letters used")
    dots = "".join(spare[:rank])
    inputs = tuple(_expand_ellipsis(term, dots, len(shape)) for term, shape in zip(terms, shapes))
    if arrow:
        output = right.replace("...", dots)
    else:
        counts = {}
        for term in terms:
            for letter in term.replace("...", ""):
                counts[letter] = counts.get(letter, 0) + 1
        output = dots + "".join(sorted(letter for letter, count in counts.items() if count == 1))
    _check_output(output, inputs)
    return inputs, output


def _expand_ellipsis(term: str, dots: str, ndim: int) -> str:
    """``term`` with its ``...`` replaced by the last letters of ``dots`` (right-aligned broadcasting)."""
    if "..." not in term:
        return term
    covered = ndim - (len(term) - 3)
    return term.replace("...", dots[len(dots) - covered:])


def _check_term(term: str, equation: str) -> None:
    if term.count("...") > 1 or "." in term.replace("...", ""):
        raise ValueError(f"einsum: {equation!r}: a subscript term has more than one ellipsis or a stray '.'")
    for char in term.replace("...", ""):
        if char not in LETTERS:
            raise ValueError(f"einsum: {equation!r}: invalid subscript {char!r}; subscripts are letters a-z, A-Z")


def _ellipsis_rank(term: str, shape: tuple, k: int) -> int:
    named = len(term.replace("...", ""))
    if "..." not in term:
        if named != len(shape):
            raise ValueError(
                f"einsum: the subscripts {term!r} name {named} dimension(s) but operand {k} has {len(shape)} "
                f"(shape {tuple(shape)}) and no ellipsis"
            )
        return 0
    if named > len(shape):
        raise ValueError(
            f"einsum: the subscripts {term!r} name {named} dimension(s) but operand {k} has only {len(shape)}"
        )
    return len(shape) - named


def _check_output(output: str, inputs: tuple) -> None:
    present = set("".join(inputs))
    for letter in output:
        if output.count(letter) > 1:
            raise ValueError(f"einsum: output subscript {letter!r} appears more than once in the output")
        if letter not in present:
            raise ValueError(f"einsum: output subscript {letter!r} does not appear in any input operand")


def check_sizes(inputs: tuple, shapes: list) -> None:
    """Raise unless each letter has one size (or 1, broadcast) across operands and one size within each."""
    sizes = {}
    for k, (subscripts, shape) in enumerate(zip(inputs, shapes)):
        own = {}
        for letter, size in zip(subscripts, shape):
            if own.setdefault(letter, size) != size:
                raise ValueError(
                    f"einsum: subscript {letter!r} is repeated in operand {k} with different sizes "
                    f"{own[letter]} and {size} (shape {tuple(shape)})"
                )
            seen, where = sizes.get(letter, (1, None))
            if size != seen and 1 not in (size, seen):
                raise ValueError(
                    f"einsum: operands do not broadcast: a dimension has size {seen} in operand {where} "
                    f"and {size} in operand {k}"
                )
            if size != 1:
                sizes[letter] = (size, k)


def einsum(equation: str, *operands) -> Tensor:
    """Einstein summation: ``einsum("ij,jk->ik", a, b)`` is ``a @ b``. Operands may be given as
    separate arguments or as one list; see the module docstring for the rules."""
    if len(operands) == 1 and isinstance(operands[0], (list, tuple)):
        operands = tuple(operands[0])
    if not operands:
        raise ValueError("einsum: at least one operand is required")
    for k, t in enumerate(operands):
        if not isinstance(t, Tensor):
            raise TypeError(f"einsum: operand {k} must be a Tensor; got {type(t).__name__}")
        check_same_device(operands[0], t, "einsum")
    shapes = [t.shape for t in operands]
    inputs, output = parse(equation, shapes)
    check_sizes(inputs, shapes)
    return Einsum.apply(*operands, inputs=inputs, output=output)
