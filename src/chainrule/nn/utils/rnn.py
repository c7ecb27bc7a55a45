"""Variable-length sequences, as PyTorch's ``torch.nn.utils.rnn``: padding, packing, unpacking.

A batch of sequences of different lengths L_1 … L_B is kept in one of two layouts.

**Padded**: one tensor (T, B, *) (or (B, T, *) with ``batch_first``), T = max L_b, the
positions past each sequence's end filled with ``padding_value``.

**Packed** (:class:`PackedSequence`, PyTorch's layout): the sequences sorted by decreasing
length, and ``data`` (N, *), N = Σ L_b, holding the time steps one after another, step t
holding the first ``batch_sizes[t]`` sorted sequences (those longer than t).
``batch_sizes`` (T,) is an int64 CPU tensor, ``sorted_indices[k]`` the original batch
position of the k-th longest sequence (None when the batch was given sorted,
``enforce_sorted=True``) and ``unsorted_indices`` its inverse. :class:`~chainrule.nn.RNN`,
:class:`~chainrule.nn.GRU` and :class:`~chainrule.nn.LSTM` accept it: each sequence's
recurrence stops at its own length.

Every conversion is differentiable in the data: it is ONE index op on the data (padding
also appends one row of ``padding_value``), whose gradient scatters back.
"""
from __future__ import annotations

from collections import namedtuple

from ...engine import backend, ops
from ...engine.creation import full
from ...engine.tensor import Tensor, tensor, wrap

__all__ = [
    "PackedSequence", "invert_permutation", "pack_padded_sequence", "pad_packed_sequence", "pad_sequence",
    "unpad_sequence", "pack_sequence", "unpack_sequence", "packed_positions", "padded_from_packed",
    "packed_from_padded",
]

_np = backend.host

_Fields = namedtuple("PackedSequence", ["data", "batch_sizes", "sorted_indices", "unsorted_indices"])


class PackedSequence(_Fields):
    """(data, batch_sizes, sorted_indices, unsorted_indices), PyTorch's named tuple (see the
    module docstring). Made by :func:`pack_padded_sequence` and :func:`pack_sequence`;
    ``unsorted_indices`` is computed from ``sorted_indices`` when not given."""

    __slots__ = ()

    def __new__(cls, data, batch_sizes=None, sorted_indices=None, unsorted_indices=None):
        if batch_sizes is None:  # PyTorch also accepts (data, batch_sizes) as the first argument
            if not (isinstance(data, (list, tuple)) and len(data) == 2):
                raise TypeError("PackedSequence: expected data and batch_sizes, or a (data, batch_sizes) pair")
            data, batch_sizes = data
        if not isinstance(batch_sizes, Tensor) or batch_sizes.device != "cpu" or batch_sizes.dtype != backend.int64:
            raise ValueError(
                "PackedSequence: batch_sizes must be a 1-D int64 tensor on the CPU (make packed sequences "
                "with pack_padded_sequence or pack_sequence)"
            )
        if unsorted_indices is None:
            unsorted_indices = invert_permutation(sorted_indices)
        return super().__new__(cls, data, batch_sizes, sorted_indices, unsorted_indices)

    def to(self, *args, **kwargs) -> PackedSequence:
        """The data converted (``Tensor.to``'s arguments); the indices follow its device."""
        data = self.data.to(*args, **kwargs)
        if data is self.data:
            return self
        def moved(indices):
            return None if indices is None else indices.to(device=data.device)

        return type(self)(data, self.batch_sizes, moved(self.sorted_indices), moved(self.unsorted_indices))

    def float(self) -> PackedSequence:
        return self.to(backend.float32)

    def double(self) -> PackedSequence:
        return self.to(backend.float64)

    def cpu(self) -> PackedSequence:
        return self.to(device="cpu")

    @property
    def is_cuda(self) -> bool:
        return self.data.device != "cpu"


def invert_permutation(permutation):
    """The inverse permutation (None for None): ``out[permutation[k]] = k``."""
    if permutation is None:
        return None
    values = backend.to_host(permutation.data)
    inverse = _np.empty_like(values)
    inverse[values] = _np.arange(values.size)
    return wrap(backend.move(inverse, permutation.device))


def lengths_array(lengths, op: str):
    """``lengths`` (a list, an array or a 1-D int64 CPU tensor) as a host int64 array."""
    if isinstance(lengths, Tensor):
        if lengths.device != "cpu":
            raise RuntimeError(
                f"{op}: 'lengths' argument should be a 1D CPU int64 tensor, but got a tensor on {lengths.device} "
                f"(move it with lengths.cpu())"
            )
        lengths = lengths.data
    values = _np.asarray(lengths)
    if values.ndim != 1 or (values.size and values.dtype.kind not in "iu"):
        raise ValueError(f"{op}: lengths must be a 1-D sequence of ints; got {lengths!r}")
    return values.astype(_np.int64)


def packed_positions(batch_sizes):
    """(time step, position in the sorted batch) of every row of a packed ``data``."""
    sizes = _np.asarray(batch_sizes, dtype=_np.int64)
    time = _np.repeat(_np.arange(sizes.size), sizes)
    starts = _np.repeat(_np.cumsum(sizes) - sizes, sizes)
    return time, _np.arange(time.size) - starts


def padded_from_packed(data: Tensor, batch_sizes, steps=None, padding_value=0.0, order=None,
                       batch_first: bool = False) -> Tensor:
    """Packed rows (N, *) as a padded tensor (steps, B, *) (batch-major with ``batch_first``),
    the batch in sorted order, or reordered so that column j is sorted column ``order[j]``."""
    sizes = _np.asarray(batch_sizes, dtype=_np.int64)
    steps = sizes.size if steps is None else steps
    rows = data.shape[0]
    index = _np.full((steps, int(sizes[0]) if sizes.size else 0), rows, dtype=_np.int64)  # row N: padding
    time, position = packed_positions(sizes)
    index[time, position] = _np.arange(rows)
    if order is not None:
        index = index[:, order]
    if batch_first:
        index = index.T
    padding = full((1, *data.shape[1:]), padding_value, dtype=data.dtype, device=data.device)
    return ops.cat([data, padding], 0)[backend.move(_np.ascontiguousarray(index), data.device)]


def packed_from_padded(padded: Tensor, batch_sizes, order=None, batch_first: bool = False) -> Tensor:
    """The packed rows (N, *) of a padded tensor whose sorted column k is column ``order[k]``
    (the identity when None)."""
    time, position = packed_positions(batch_sizes)
    column = position if order is None else _np.asarray(order)[position]
    if batch_first:
        flat = column * padded.shape[1] + time
    else:
        flat = time * padded.shape[1] + column
    rows = padded.reshape(-1, *padded.shape[2:])
    return rows[backend.move(flat, padded.device)]


def pack_padded_sequence(input: Tensor, lengths, batch_first: bool = False,  # noqa: A002 - PyTorch's name
                         enforce_sorted: bool = True) -> PackedSequence:
    """Pack a padded batch (T, B, *) (or (B, T, *) with ``batch_first``) of sequences of the
    given ``lengths``. With ``enforce_sorted`` the lengths must be decreasing; otherwise the
    batch is sorted here (stably) and ``sorted_indices`` records the order."""
    op = "pack_padded_sequence"
    if not isinstance(input, Tensor) or input.ndim < 2:
        raise ValueError(f"{op}: input must be a Tensor (T, B, *) or (B, T, *); got {_described(input)}")
    lengths = lengths_array(lengths, op)
    batch, steps = (input.shape[0], input.shape[1]) if batch_first else (input.shape[1], input.shape[0])
    if lengths.size != batch:
        raise RuntimeError(f"{op}: Expected `len(lengths)` to be equal to batch_size, but got {lengths.size} "
                           f"(batch_size={batch})")
    if enforce_sorted:
        if (_np.diff(lengths) > 0).any():
            raise RuntimeError(
                f"{op}: `lengths` array must be sorted in decreasing order when `enforce_sorted` is True; got "
                f"{lengths.tolist()}. Pass enforce_sorted=False to sort the batch here"
            )
        order = None
    else:
        order = _np.argsort(-lengths, kind="stable")
        lengths = lengths[order]
    if lengths.size and lengths.min() <= 0:
        raise RuntimeError(f"{op}: Length of all samples has to be greater than 0; got lengths {lengths.tolist()}")
    if lengths.size and lengths.max() > steps:
        raise RuntimeError(f"{op}: a length ({int(lengths.max())}) exceeds the input's sequence length ({steps})")
    batch_sizes = (lengths[None, :] > _np.arange(int(lengths.max(initial=0)))[:, None]).sum(axis=1)
    data = packed_from_padded(input, batch_sizes, order, batch_first)
    sorted_indices = None if order is None else wrap(backend.move(order, input.device))
    return PackedSequence(data, tensor(batch_sizes, dtype=backend.int64), sorted_indices, None)


def pad_packed_sequence(sequence: PackedSequence, batch_first: bool = False, padding_value: float = 0.0,
                        total_length: int | None = None):
    """The inverse of :func:`pack_padded_sequence`: (padded (T, B, *) or (B, T, *), lengths),
    in the original batch order; T = ``total_length`` when given (at least the longest)."""
    if not isinstance(sequence, PackedSequence):
        raise TypeError(f"pad_packed_sequence: expected a PackedSequence; got {type(sequence).__name__}")
    sizes = backend.to_host(sequence.batch_sizes.data)
    steps = sizes.size
    if total_length is not None:
        if total_length < steps:
            raise ValueError(
                "pad_packed_sequence: Expected total_length to be at least the length of the longest sequence "
                f"in input, but got total_length={total_length} and max sequence length being {steps}"
            )
        steps = total_length
    lengths = (sizes[None, :] > _np.arange(int(sizes[0]))[:, None]).sum(axis=1)
    order = None
    if sequence.unsorted_indices is not None:
        order = backend.to_host(sequence.unsorted_indices.data)
        lengths = lengths[order]
    padded = padded_from_packed(sequence.data, sizes, steps, padding_value, order, batch_first)
    return padded, tensor(lengths, dtype=backend.int64)


def pad_sequence(sequences, batch_first: bool = False, padding_value: float = 0.0,
                 padding_side: str = "right") -> Tensor:
    """Stack tensors (L_b, *) into (T, B, *) (or (B, T, *) with ``batch_first``), T = max L_b,
    padding each with ``padding_value`` after it (``padding_side="right"``) or before it ("left")."""
    op = "pad_sequence"
    sequences = [sequences[k] for k in range(sequences.shape[0])] if isinstance(sequences, Tensor) else list(sequences)
    if not sequences:
        raise RuntimeError(f"{op}: received an empty list of sequences")
    if padding_side not in ("left", "right"):
        raise ValueError(f"{op}: padding_side must be 'left' or 'right'; got {padding_side!r}")
    for position, s in enumerate(sequences):
        if not isinstance(s, Tensor) or s.ndim == 0 or tuple(s.shape[1:]) != tuple(sequences[0].shape[1:]):
            raise ValueError(
                f"{op}: every sequence must be a Tensor (L, *) with the trailing shape of the first, "
                f"{tuple(sequences[0].shape[1:])}; sequence {position} is {_described(s)}"
            )
    lengths = _np.array([s.shape[0] for s in sequences], dtype=_np.int64)
    steps, total = int(lengths.max()), int(lengths.sum())
    index = _np.full((steps, lengths.size), total, dtype=_np.int64)
    starts = _np.cumsum(lengths) - lengths
    for b, (start, length) in enumerate(zip(starts.tolist(), lengths.tolist())):
        first = 0 if padding_side == "right" else steps - length
        index[first: first + length, b] = _np.arange(start, start + length)
    first = sequences[0]
    padding = full((1, *first.shape[1:]), padding_value, dtype=first.dtype, device=first.device)
    index = index.T if batch_first else index
    return ops.cat([*sequences, padding], 0)[backend.move(_np.ascontiguousarray(index), first.device)]


def unpad_sequence(padded_sequences: Tensor, lengths, batch_first: bool = False) -> list:
    """The inverse of :func:`pad_sequence` (right padding): the list of tensors (L_b, *)."""
    lengths = lengths_array(lengths, "unpad_sequence")
    if batch_first:
        return [padded_sequences[b, :length] for b, length in enumerate(lengths.tolist())]
    return [padded_sequences[:length, b] for b, length in enumerate(lengths.tolist())]


def pack_sequence(sequences, enforce_sorted: bool = True) -> PackedSequence:
    """Pack a list of tensors (L_b, *): ``pack_padded_sequence(pad_sequence(sequences), lengths)``."""
    sequences = list(sequences)
    lengths = [s.shape[0] if isinstance(s, Tensor) and s.ndim else 0 for s in sequences]
    return pack_padded_sequence(pad_sequence(sequences), lengths, enforce_sorted=enforce_sorted)


def unpack_sequence(packed_sequences: PackedSequence) -> list:
    """The inverse of :func:`pack_sequence`: the list of tensors (L_b, *) in the original order."""
    padded, lengths = pad_packed_sequence(packed_sequences, batch_first=True)
    return unpad_sequence(padded, lengths, batch_first=True)


def _described(value) -> str:
    return f"shape {tuple(value.shape)}" if isinstance(value, Tensor) else type(value).__name__
