"""nn.utils.rnn (padding and packing variable-length sequences) against torch.nn.utils.rnn: the
packed data, batch sizes and orders, the padded tensors and lengths, the gradients that flow
back through packing and padding, and the errors."""
from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
from chainrule.autograd import gradcheck
from chainrule.nn.utils import rnn

torch = pytest.importorskip("torch")
torch_rnn = torch.nn.utils.rnn

LENGTHS = [([5, 3, 3, 1], True), ([5, 3, 3, 1], False), ([2, 5, 3, 5], False), ([1], True), ([4, 4], True)]


def _weights(shape, seed=1):
    return np.random.default_rng(seed).standard_normal(shape)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("lengths,enforce_sorted", LENGTHS)
@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("trailing", [(2,), (), (2, 3)], ids=["features", "scalars", "matrices"])
def test_pack_and_pad_match_torch(lengths, enforce_sorted, batch_first, trailing, dtype):
    steps = max(lengths) + 1
    shape = (len(lengths), steps, *trailing) if batch_first else (steps, len(lengths), *trailing)
    x = np.random.default_rng(0).standard_normal(shape).astype(dtype)
    ours_x, their_x = cr.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    ours = rnn.pack_padded_sequence(ours_x, lengths, batch_first=batch_first, enforce_sorted=enforce_sorted)
    theirs = torch_rnn.pack_padded_sequence(their_x, torch.tensor(lengths), batch_first=batch_first,
                                            enforce_sorted=enforce_sorted)
    np.testing.assert_array_equal(ours.data.numpy(), theirs.data.detach().numpy())
    assert ours.batch_sizes.tolist() == theirs.batch_sizes.tolist() and ours.batch_sizes.dtype == cr.int64
    for mine, their in ((ours.sorted_indices, theirs.sorted_indices), (ours.unsorted_indices, theirs.unsorted_indices)):
        assert (mine is None and their is None) or mine.tolist() == their.tolist()
    for total_length in (None, steps + 2):
        padded, got_lengths = rnn.pad_packed_sequence(ours, batch_first, -2.5, total_length)
        expected, expected_lengths = torch_rnn.pad_packed_sequence(theirs, batch_first, -2.5, total_length)
        np.testing.assert_array_equal(padded.numpy(), expected.detach().numpy())
        assert got_lengths.tolist() == expected_lengths.tolist() and got_lengths.dtype == cr.int64
    w = _weights(padded.shape)
    (padded * cr.tensor(w, dtype=dtype)).sum().backward()
    (expected * torch.tensor(w, dtype=getattr(torch, dtype))).sum().backward()
    np.testing.assert_array_equal(ours_x.grad.numpy(), their_x.grad.numpy())


@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("padding_side", ["right", "left"])
@pytest.mark.parametrize("trailing", [(3,), ()])
def test_pad_sequence_matches_torch(batch_first, padding_side, trailing):
    rng = np.random.default_rng(0)
    arrays = [rng.standard_normal((length, *trailing)) for length in (2, 4, 1, 4)]
    ours = [cr.tensor(a, requires_grad=True) for a in arrays]
    theirs = [torch.tensor(a, requires_grad=True) for a in arrays]
    got = rnn.pad_sequence(ours, batch_first, 7.0, padding_side)
    expected = torch_rnn.pad_sequence(theirs, batch_first, 7.0, padding_side)
    np.testing.assert_array_equal(got.numpy(), expected.detach().numpy())
    w = _weights(got.shape)
    (got * cr.tensor(w)).sum().backward()
    (expected * torch.tensor(w)).sum().backward()
    for o, t in zip(ours, theirs):
        np.testing.assert_array_equal(o.grad.numpy(), t.grad.numpy())


@pytest.mark.parametrize("enforce_sorted", [True, False])
def test_pack_sequence_and_unpack_sequence_round_trip(enforce_sorted):
    rng = np.random.default_rng(0)
    lengths = [4, 3, 3, 1] if enforce_sorted else [2, 4, 1, 3]
    arrays = [rng.standard_normal((length, 2)) for length in lengths]
    ours = rnn.pack_sequence([cr.tensor(a) for a in arrays], enforce_sorted=enforce_sorted)
    theirs = torch_rnn.pack_sequence([torch.tensor(a) for a in arrays], enforce_sorted=enforce_sorted)
    np.testing.assert_array_equal(ours.data.numpy(), theirs.data.numpy())
    for got, a in zip(rnn.unpack_sequence(ours), arrays, strict=True):
        np.testing.assert_array_equal(got.numpy(), a)
    padded = rnn.pad_sequence([cr.tensor(a) for a in arrays], batch_first=True)
    for got, a in zip(rnn.unpad_sequence(padded, cr.tensor(lengths), batch_first=True), arrays, strict=True):
        np.testing.assert_array_equal(got.numpy(), a)


def test_packed_sequence_is_torchs_named_tuple():
    x = cr.randn(3, 2, 4)
    packed = rnn.pack_padded_sequence(x, [3, 1])
    data, batch_sizes, sorted_indices, unsorted_indices = packed
    assert packed._fields == ("data", "batch_sizes", "sorted_indices", "unsorted_indices")
    assert data is packed.data and sorted_indices is None and unsorted_indices is None
    assert batch_sizes.tolist() == [2, 1, 1] and not packed.is_cuda
    double = packed.double()
    assert double.data.dtype == cr.float64 and double.batch_sizes is packed.batch_sizes
    rebuilt = rnn.PackedSequence(packed.data, packed.batch_sizes, cr.tensor([1, 0]))
    assert rebuilt.unsorted_indices.tolist() == [1, 0]
    assert rnn.invert_permutation(cr.tensor([2, 0, 1])).tolist() == [1, 2, 0]
    assert rnn.invert_permutation(None) is None


def test_packing_and_padding_gradcheck():
    x = cr.tensor(np.random.default_rng(0).standard_normal((4, 3, 2)), requires_grad=True)

    def fn(x):
        packed = rnn.pack_padded_sequence(x, [2, 4, 3], enforce_sorted=False)
        return rnn.pad_packed_sequence(packed, padding_value=1.0)[0] * 2.0

    assert gradcheck(fn, (x,))


ERRORS = [
    (lambda: rnn.pack_padded_sequence(cr.randn(4, 3, 2), [3, 4, 1]), RuntimeError, "sorted in decreasing order"),
    (lambda: rnn.pack_padded_sequence(cr.randn(4, 3, 2), [4, 3, 0]), RuntimeError, "greater than 0"),
    (lambda: rnn.pack_padded_sequence(cr.randn(4, 3, 2), [4, 3]), RuntimeError, "equal to batch_size"),
    (lambda: rnn.pack_padded_sequence(cr.randn(4, 3, 2), [5, 3, 1]), RuntimeError, "exceeds the input's sequence"),
    (lambda: rnn.pack_padded_sequence(cr.randn(4), [4]), ValueError, r"\(T, B, \*\)"),
    (lambda: rnn.pack_padded_sequence(cr.randn(4, 3), [[4, 3, 1]]), ValueError, "1-D sequence of ints"),
    (lambda: rnn.pack_padded_sequence(cr.randn(4, 3), [4.0, 3.0, 1.0]), ValueError, "1-D sequence of ints"),
    (lambda: rnn.pad_packed_sequence(rnn.pack_padded_sequence(cr.randn(4, 2), [4, 2]), total_length=3),
     ValueError, "total_length"),
    (lambda: rnn.pad_packed_sequence(cr.randn(4, 2)), TypeError, "PackedSequence"),
    (lambda: rnn.pad_sequence([]), RuntimeError, "empty list"),
    (lambda: rnn.pad_sequence([cr.randn(2, 3), cr.randn(2, 4)]), ValueError, "trailing shape"),
    (lambda: rnn.pad_sequence([cr.randn(2)], padding_side="middle"), ValueError, "padding_side"),
    (lambda: rnn.PackedSequence(cr.randn(3, 2), [2, 1]), ValueError, "int64 tensor on the CPU"),
]


@pytest.mark.parametrize("call,error,match", ERRORS)
def test_errors(call, error, match):
    with pytest.raises(error, match=match):
        call()
