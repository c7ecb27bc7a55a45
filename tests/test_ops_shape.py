"""Shape ops (chainrule.ops.shape): reshape/view, transpose/permute/.T/.t(), squeeze,
unsqueeze, expand/broadcast_to, flatten, cat/stack, split/chunk, pad and indexing.
Forward values against NumPy, gradients against central differences (hypothesis
shapes, 0-d and size-1 dims, non-contiguous inputs), scatter-accumulation for
repeated indices, and error messages."""
from __future__ import annotations

import itertools

import numpy as np
import pytest
from conftest import check_grad, layouts, leaf, make_leaf, make_values, seeds, shapes
from hypothesis import given
from hypothesis import strategies as st

import chainrule as cr

LAYOUTS = ["contiguous", "noncontiguous"]


def prime_factors(n: int) -> list:
    factors, p = [], 2
    while n > 1:
        while n % p == 0:
            factors.append(p)
            n //= p
        p += 1
    return factors


@st.composite
def reshape_case(draw):
    """A shape and a different shape with the same number of elements (maybe with -1)."""
    shape = draw(shapes())
    factors = draw(st.permutations(prime_factors(int(np.prod(shape, dtype=np.int64)))))
    ngroups = draw(st.integers(0 if not factors else 1, 3))
    cuts = sorted(draw(st.lists(st.integers(0, len(factors)), min_size=max(ngroups - 1, 0),
                                max_size=max(ngroups - 1, 0))))
    bounds = [0, *cuts, len(factors)] if ngroups else []
    target = [int(np.prod(factors[a:b], dtype=np.int64)) for a, b in itertools.pairwise(bounds)]
    if target and draw(st.booleans()):
        target[draw(st.integers(0, len(target) - 1))] = -1
    return shape, tuple(target)


def expected_shape(target, size):
    if -1 not in target:
        return tuple(target)
    known = int(np.prod([s for s in target if s != -1], dtype=np.int64))
    return tuple(size // known if s == -1 else s for s in target)


# ---------------------------------------------------------------------- reshape / view
@pytest.mark.parametrize("method", ["reshape", "view", "function", "tuple-argument"])
@given(case=reshape_case(), seed=seeds, layout=layouts)
def test_reshape_forward_and_gradcheck(method, case, seed, layout):
    shape, target = case
    values = make_values(shape, "real", seed)
    calls = {
        "reshape": lambda t: t.reshape(*target),
        "view": lambda t: t.view(*target),
        "function": lambda t: cr.reshape(t, *target),
        "tuple-argument": lambda t: t.reshape(target),
    }
    fn = calls[method]
    x = make_leaf(values, layout)
    out = fn(x)
    assert out.shape == expected_shape(target, values.size)
    np.testing.assert_array_equal(out.numpy(), values.reshape(target))
    check_grad(fn, x)


def test_reshape_error_names_both_shapes():
    x = leaf(np.zeros((2, 3)))
    with pytest.raises(ValueError,
                       match=r"reshape: cannot reshape a tensor of shape \(2, 3\) \(6 elements\) into shape \(4, 2\)"):
        x.reshape(4, 2)
    with pytest.raises(ValueError, match=r"shape \(2, 3\).*into shape \(4, -1\)"):
        x.view(4, -1)
    with pytest.raises(ValueError, match=r"reshape: invalid shape \(-1, -1\)"):
        x.reshape(-1, -1)
    with pytest.raises(TypeError, match=r"shape must be ints"):
        x.reshape(2.0, 3)


# ---------------------------------------------------------------------- transpose / permute
@given(shape=shapes(), seed=seeds, layout=layouts, data=st.data())
def test_permute_forward_and_gradcheck(shape, seed, layout, data):
    axes = tuple(data.draw(st.permutations(range(len(shape)))))
    signed = tuple(a - len(shape) if data.draw(st.booleans()) else a for a in axes)
    values = make_values(shape, "real", seed)
    x = make_leaf(values, layout)
    for fn in (lambda t: t.permute(*signed), lambda t: cr.permute(t, *signed), lambda t: t.permute(signed)):
        out = fn(x)
        np.testing.assert_array_equal(out.numpy(), np.transpose(values, axes))
        check_grad(fn, x)


@given(shape=shapes(), seed=seeds, layout=layouts, data=st.data())
def test_transpose_forward_and_gradcheck(shape, seed, layout, data):
    positions = max(len(shape), 1)  # a 0-d tensor accepts dims 0 and -1, as in PyTorch
    dim0 = data.draw(st.integers(-positions, positions - 1))
    dim1 = data.draw(st.integers(-positions, positions - 1))
    values = make_values(shape, "real", seed)
    expected = np.swapaxes(values, dim0, dim1) if shape else values
    x = make_leaf(values, layout)

    def fn(t):
        return t.transpose(dim0, dim1)

    out = fn(x)
    assert out.shape == expected.shape
    np.testing.assert_array_equal(out.numpy(), expected)
    np.testing.assert_array_equal(cr.transpose(x, dim0, dim1).numpy(), expected)
    check_grad(fn, x)


@given(shape=shapes(), seed=seeds, layout=layouts)
def test_T_forward_and_gradcheck(shape, seed, layout):
    values = make_values(shape, "real", seed)
    x = make_leaf(values, layout)
    np.testing.assert_array_equal(x.T.numpy(), values.T)
    check_grad(lambda t: t.T, x)
    # a transposed intermediate fed to another op (non-contiguous inside the graph)
    check_grad(lambda t: (t.T * 2.0).exp().T, x)
    if len(shape) >= 2:
        np.testing.assert_array_equal(x.mT.numpy(), np.swapaxes(values, -1, -2))
        check_grad(lambda t: t.mT, x)


@given(shape=shapes(max_dims=2), seed=seeds, layout=layouts)
def test_t_forward_and_gradcheck(shape, seed, layout):
    values = make_values(shape, "real", seed)
    x = make_leaf(values, layout)
    np.testing.assert_array_equal(x.t().numpy(), values.T)
    check_grad(lambda t: t.t(), x)


def test_transpose_gradient_closed_form():
    x = leaf(np.arange(6.0).reshape(2, 3))
    w = cr.tensor(np.arange(6.0).reshape(3, 2) * 10, dtype=cr.float64)
    (x.T * w).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), (np.arange(6.0).reshape(3, 2) * 10).T)


def test_permute_and_t_errors():
    x = leaf(np.zeros((2, 3, 4)))
    with pytest.raises(ValueError, match=r"t: expects a tensor with at most 2 dimensions; got shape \(2, 3, 4\)"):
        x.t()
    with pytest.raises(ValueError, match=r"permute: dims \(0, 0, 1\) are not a permutation"):
        x.permute(0, 0, 1)
    with pytest.raises(IndexError, match=r"permute: dim 3 is out of range"):
        x.permute(0, 1, 3)
    with pytest.raises(IndexError, match=r"transpose: dim -4 is out of range"):
        x.transpose(0, -4)
    with pytest.raises(IndexError, match=r"transpose: dim 1 is out of range for a tensor with 0 dimension\(s\)"):
        leaf(1.0).transpose(0, 1)


# ---------------------------------------------------------------------- squeeze / unsqueeze
@given(shape=shapes(max_side=2), seed=seeds, layout=layouts, data=st.data())
def test_squeeze_forward_and_gradcheck(shape, seed, layout, data):
    values = make_values(shape, "real", seed)
    x = make_leaf(values, layout)
    out = x.squeeze()
    np.testing.assert_array_equal(out.numpy(), np.squeeze(values))
    assert out.shape == np.squeeze(values).shape
    check_grad(lambda t: cr.squeeze(t), x)
    if shape:
        dim = data.draw(st.integers(-len(shape), len(shape) - 1))
        # a dim whose size is not 1 is left alone (PyTorch), unlike NumPy which raises
        expected = np.squeeze(values, axis=dim) if shape[dim] == 1 else values
        out = x.squeeze(dim)
        assert out.shape == expected.shape
        np.testing.assert_array_equal(out.numpy(), expected)
        check_grad(lambda t: t.squeeze(dim), x)


@given(shape=shapes(), seed=seeds, layout=layouts, data=st.data())
def test_unsqueeze_forward_and_gradcheck(shape, seed, layout, data):
    dim = data.draw(st.integers(-len(shape) - 1, len(shape)))
    values = make_values(shape, "real", seed)
    x = make_leaf(values, layout)
    out = x.unsqueeze(dim)
    assert out.shape == np.expand_dims(values, dim).shape
    np.testing.assert_array_equal(out.numpy(), np.expand_dims(values, dim))
    check_grad(lambda t: cr.unsqueeze(t, dim), x)


def test_squeeze_unsqueeze_specific_shapes():
    x = leaf(np.arange(6.0).reshape(1, 2, 1, 3))
    assert x.squeeze().shape == (2, 3)
    assert x.squeeze(0).shape == (2, 1, 3)
    assert x.squeeze(-2).shape == (1, 2, 3)
    assert x.squeeze(1).shape == (1, 2, 1, 3)
    assert x.squeeze((0, 2)).shape == (2, 3)
    assert x.unsqueeze(-1).shape == (1, 2, 1, 3, 1)
    assert x.unsqueeze(0).shape == (1, 1, 2, 1, 3)
    assert leaf(5.0).unsqueeze(-1).shape == (1,)
    with pytest.raises(IndexError, match=r"squeeze: dim 4 is out of range"):
        x.squeeze(4)
    with pytest.raises(IndexError, match=r"unsqueeze: dim 5 is out of range"):
        x.unsqueeze(5)


# ---------------------------------------------------------------------- expand / broadcast_to
@st.composite
def expand_case(draw):
    """(source shape, target shape) where the source broadcasts to the target."""
    target = draw(shapes(min_dims=0, max_dims=3))
    keep = draw(st.integers(0, len(target)))
    source = tuple(1 if draw(st.booleans()) else size for size in target[len(target) - keep:])
    return source, target


@given(case=expand_case(), seed=seeds, layout=layouts, data=st.data())
def test_expand_broadcast_to_forward_and_gradcheck(case, seed, layout, data):
    source, target = case
    values = make_values(source, "real", seed)
    x = make_leaf(values, layout)
    offset = len(target) - len(source)
    # expand accepts -1 for an existing dimension: it keeps that dimension's size
    with_minus_one = tuple(
        -1 if i >= offset and source[i - offset] == size and data.draw(st.booleans()) else size
        for i, size in enumerate(target)
    )
    calls = [
        lambda t: t.expand(*target), lambda t: t.expand(target), lambda t: cr.expand(t, *with_minus_one),
        lambda t: t.broadcast_to(target), lambda t: cr.broadcast_to(t, target),
    ]
    for fn in calls:
        out = fn(x)
        assert out.shape == target
        np.testing.assert_array_equal(out.numpy(), np.broadcast_to(values, target))
        check_grad(fn, x)


def test_expand_gradient_sums_closed_form():
    x = leaf([[1.0], [2.0]])
    y = x.expand(3, 2, 4)
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [[12.0], [12.0]])


def test_expand_errors():
    x = leaf(np.zeros((2, 3)))
    with pytest.raises(ValueError, match=r"broadcast_to: cannot broadcast shape \(2, 3\) to \(4, 3\)"):
        x.expand(4, 3)
    with pytest.raises(ValueError, match=r"expand: target shape \(3,\) has fewer dimensions"):
        x.expand(3)
    with pytest.raises(ValueError, match=r"cannot broadcast shape \(2, 3\) to \(2, 2, 3, 1\)"):
        cr.broadcast_to(x, (2, 2, 3, 1))
    with pytest.raises(ValueError, match=r"expand: sizes must be non-negative \(-1 only for an existing dimension\); "
                                         r"got \(-1, 2, 3\) for a tensor of shape \(2, 3\)"):
        x.expand(-1, 2, 3)


# ---------------------------------------------------------------------- flatten
@given(shape=shapes(), seed=seeds, layout=layouts, data=st.data())
def test_flatten_forward_and_gradcheck(shape, seed, layout, data):
    values = make_values(shape, "real", seed)
    x = make_leaf(values, layout)
    ndim = max(len(shape), 1)
    start = data.draw(st.integers(-ndim, ndim - 1))
    end = data.draw(st.integers(-ndim, ndim - 1))
    s, e = start % ndim, end % ndim
    if len(shape) == 0:
        expected = values.reshape(1)
    elif s > e:
        with pytest.raises(ValueError, match=r"flatten: start_dim .* comes after end_dim"):
            x.flatten(start, end)
        return
    else:
        expected = values.reshape(shape[:s] + (-1,) + shape[e + 1:])

    def fn(t):
        return t.flatten(start, end)

    out = fn(x)
    assert out.shape == expected.shape
    np.testing.assert_array_equal(out.numpy(), expected)
    check_grad(fn, x)
    np.testing.assert_array_equal(cr.flatten(x).numpy(), values.reshape(-1))


def test_flatten_specific_shapes():
    x = leaf(np.arange(24.0).reshape(2, 3, 4))
    assert x.flatten().shape == (24,)
    assert x.flatten(1).shape == (2, 12)
    assert x.flatten(0, 1).shape == (6, 4)
    assert x.flatten(-2, -1).shape == (2, 12)
    assert x.flatten(start_dim=1, end_dim=1).shape == (2, 3, 4)
    assert leaf(3.0).flatten().shape == (1,)


# ---------------------------------------------------------------------- cat / stack
@given(shape=shapes(min_dims=1), sizes=st.lists(st.integers(1, 3), min_size=1, max_size=3),
       seed=seeds, layout=layouts, data=st.data())
def test_cat_forward_and_gradcheck(shape, sizes, seed, layout, data):
    ndim = len(shape)
    dim = data.draw(st.integers(-ndim, ndim - 1))
    axis = dim % ndim
    arrays = [make_values(shape[:axis] + (n,) + shape[axis + 1:], "real", seed + i) for i, n in enumerate(sizes)]
    tensors = [make_leaf(a, layout) for a in arrays]
    expected = np.concatenate(arrays, axis=axis)
    for fn in (lambda *ts: cr.cat(list(ts), dim), lambda *ts: cr.concatenate(ts, dim=dim)):
        out = fn(*tensors)
        np.testing.assert_array_equal(out.numpy(), expected)
        check_grad(fn, *tensors)


@given(shape=shapes(), count=st.integers(1, 3), seed=seeds, layout=layouts, data=st.data())
def test_stack_forward_and_gradcheck(shape, count, seed, layout, data):
    dim = data.draw(st.integers(-len(shape) - 1, len(shape)))
    arrays = [make_values(shape, "real", seed + i) for i in range(count)]
    tensors = [make_leaf(a, layout) for a in arrays]

    def fn(*ts):
        return cr.stack(ts, dim)

    out = fn(*tensors)
    np.testing.assert_array_equal(out.numpy(), np.stack(arrays, axis=dim))
    check_grad(fn, *tensors)


def test_cat_stack_with_constant_and_grad_inputs():
    a = leaf([[1.0, 2.0]])
    b = leaf([[3.0, 4.0], [5.0, 6.0]], requires_grad=False)
    out = cr.cat([a, b]) * cr.tensor([[1.0], [2.0], [3.0]], dtype=cr.float64)
    out.sum().backward()
    np.testing.assert_array_equal(a.grad.numpy(), [[1.0, 1.0]])
    assert b.grad is None
    c = leaf([1.0, 2.0])
    (cr.stack([c, c, c], dim=1) * cr.tensor([1.0, 2.0, 3.0], dtype=cr.float64)).sum().backward()
    np.testing.assert_array_equal(c.grad.numpy(), [6.0, 6.0])


def test_cat_and_stack_errors():
    a, b = cr.zeros(2, 3), cr.zeros(2, 4)
    with pytest.raises(ValueError, match=r"cat: tensor 1 has shape \(2, 4\), "
                                         r"which does not match tensor 0's shape \(2, 3\) outside dim 0"):
        cr.cat([a, b])
    with pytest.raises(ValueError, match=r"cat: tensor 2 has shape \(3,\)"):
        cr.cat([a, a, cr.zeros(3)], dim=1)
    np.testing.assert_array_equal(cr.cat([a, b], dim=1).numpy(), np.zeros((2, 7)))
    with pytest.raises(ValueError, match=r"cat: zero-dimensional tensors cannot be concatenated"):
        cr.cat([cr.tensor(1.0), cr.tensor(2.0)])
    with pytest.raises(ValueError, match=r"cat: expected at least one tensor"):
        cr.cat([])
    with pytest.raises(TypeError, match=r"cat: expected a list or tuple of tensors; got Tensor"):
        cr.cat(a)
    with pytest.raises(TypeError, match=r"cat: element 1 is a ndarray, not a Tensor"):
        cr.cat([a, np.zeros((2, 3))])
    with pytest.raises(IndexError, match=r"cat: dim 2 is out of range"):
        cr.cat([a, a], dim=2)
    with pytest.raises(ValueError, match=r"stack: tensor 1 has shape \(2, 4\) but tensor 0 has shape \(2, 3\)"):
        cr.stack([a, b])


# ---------------------------------------------------------------------- split / chunk
@given(shape=shapes(min_dims=1), seed=seeds, layout=layouts, data=st.data())
def test_split_int_forward_and_gradcheck(shape, seed, layout, data):
    ndim = len(shape)
    dim = data.draw(st.integers(-ndim, ndim - 1))
    size = data.draw(st.integers(1, 4))
    values = make_values(shape, "real", seed)
    x = make_leaf(values, layout)
    pieces = x.split(size, dim)
    length = shape[dim]
    boundaries = list(range(size, length, size))
    expected = np.split(values, boundaries, axis=dim)
    assert len(pieces) == len(expected)
    for piece, ref in zip(pieces, expected):
        np.testing.assert_array_equal(piece.numpy(), ref)
    # weight the pieces differently so a mixed-up backward would show
    check_grad(lambda t: cr.cat([p * (i + 1.0) for i, p in enumerate(cr.split(t, size, dim))], dim), x)


@given(shape=shapes(min_dims=1), seed=seeds, layout=layouts, data=st.data())
def test_split_sections_forward_and_gradcheck(shape, seed, layout, data):
    ndim = len(shape)
    dim = data.draw(st.integers(-ndim, ndim - 1))
    length = shape[dim]
    cuts = sorted(data.draw(st.lists(st.integers(0, length), max_size=3)))
    sections = [b - a for a, b in zip([0, *cuts], [*cuts, length])]
    values = make_values(shape, "real", seed)
    x = make_leaf(values, layout)
    pieces = x.split(sections, dim)
    expected = np.split(values, cuts, axis=dim)
    assert [p.shape for p in pieces] == [e.shape for e in expected]
    for piece, ref in zip(pieces, expected):
        np.testing.assert_array_equal(piece.numpy(), ref)
    check_grad(lambda t: cr.cat([p * (i + 1.0) for i, p in enumerate(t.split(sections, dim))], dim), x)


@given(shape=shapes(min_dims=1), chunks=st.integers(1, 5), seed=seeds, layout=layouts, data=st.data())
def test_chunk_forward_and_gradcheck(shape, chunks, seed, layout, data):
    ndim = len(shape)
    dim = data.draw(st.integers(-ndim, ndim - 1))
    values = make_values(shape, "real", seed)
    x = make_leaf(values, layout)
    pieces = cr.chunk(x, chunks, dim)
    length = shape[dim]
    size = -(-length // chunks)  # PyTorch: pieces of ceil(length / chunks), last smaller
    expected = np.split(values, list(range(size, length, size)), axis=dim)
    assert len(pieces) == len(expected) <= chunks
    for piece, ref in zip(pieces, expected):
        np.testing.assert_array_equal(piece.numpy(), ref)
    check_grad(lambda t: cr.cat([p * (i + 1.0) for i, p in enumerate(t.chunk(chunks, dim))], dim), x)


def test_chunk_sizes_match_pytorch():
    x = leaf(np.arange(6.0))
    assert [p.shape[0] for p in x.chunk(4)] == [2, 2, 2]
    assert [p.shape[0] for p in x.chunk(5)] == [2, 2, 2]
    assert [p.shape[0] for p in x.chunk(6)] == [1] * 6
    assert [p.shape[0] for p in leaf(np.arange(5.0)).chunk(2)] == [3, 2]
    assert [p.shape[0] for p in x.split(4)] == [4, 2]
    assert [p.shape[0] for p in x.split([1, 0, 5])] == [1, 0, 5]


@pytest.mark.parametrize("layout", LAYOUTS)
def test_split_backward_with_only_some_pieces_used(layout):
    values = np.arange(1.0, 13.0).reshape(3, 4)
    x = make_leaf(values, layout)
    first, _, last = x.split([1, 2, 1], dim=1)
    (first * 2.0 + last**2).sum().backward()
    expected = np.zeros((3, 4))
    expected[:, 0] = 2.0
    expected[:, 3] = 2 * values[:, 3]
    np.testing.assert_array_equal(x.grad.numpy(), expected)
    check_grad(lambda t: t.split([1, 2, 1], dim=1)[2] * 3.0, x)


@pytest.mark.parametrize("layout", LAYOUTS)
def test_chunk_backward_with_only_some_pieces_used(layout):
    values = np.arange(10.0)
    x = make_leaf(values, layout)
    pieces = x.chunk(3)  # sizes 4, 4, 2
    (pieces[1] * cr.tensor([1.0, 2.0, 3.0, 4.0], dtype=cr.float64)).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [0, 0, 0, 0, 1, 2, 3, 4, 0, 0])
    check_grad(lambda t: t.chunk(3)[2].exp(), x)


def test_split_and_chunk_errors():
    x = leaf(np.zeros((4, 3)))
    with pytest.raises(ValueError, match=r"split: sections \[1, 2\] do not add up to the length 4 of dim 0"):
        x.split([1, 2])
    with pytest.raises(ValueError, match=r"split: split_size must be positive; got 0"):
        x.split(0)
    with pytest.raises(ValueError, match=r"chunk: chunks must be a positive int; got 0"):
        x.chunk(0)
    with pytest.raises(IndexError, match=r"split: dim 2 is out of range"):
        x.split(1, dim=2)


# ---------------------------------------------------------------------- pad
PAD_CASES = [
    # (input shape, PyTorch-style pad, value, NumPy pad widths)
    pytest.param((3,), (1, 2), 0.0, [(1, 2)], id="1d"),
    pytest.param((2, 3), (1, 2), 0.0, [(0, 0), (1, 2)], id="last-dim"),
    pytest.param((2, 3), (1, 0, 0, 2), 0.0, [(0, 2), (1, 0)], id="two-dims"),
    pytest.param((2, 3), (1, 0, 0, 2), -1.5, [(0, 2), (1, 0)], id="two-dims-value"),
    pytest.param((2, 1, 3), (0, 1, 2, 0, 1, 1), 7.0, [(1, 1), (2, 0), (0, 1)], id="three-dims"),
    pytest.param((4,), (0, 0), 0.0, [(0, 0)], id="no-padding"),
    pytest.param((1, 1), (3, 3), 2.5, [(0, 0), (3, 3)], id="size-one"),
]


@pytest.mark.parametrize("shape, widths, value, np_widths", PAD_CASES)
@pytest.mark.parametrize("layout", LAYOUTS)
def test_pad_forward_and_gradcheck(shape, widths, value, np_widths, layout):
    values = make_values(shape, "real", 3)
    x = make_leaf(values, layout)

    def fn(t):
        return cr.pad(t, widths, value=value)

    out = fn(x)
    np.testing.assert_array_equal(out.numpy(), np.pad(values, np_widths, mode="constant", constant_values=value))
    check_grad(fn, x)


def test_pad_gradient_closed_form_and_errors():
    x = leaf([[1.0, 2.0]])
    out = cr.pad(x, (1, 1, 1, 0), value=9.0)
    np.testing.assert_array_equal(out.numpy(), [[9, 9, 9, 9], [9, 1, 2, 9]])
    (out * cr.tensor(np.arange(8.0).reshape(2, 4), dtype=cr.float64)).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [[5.0, 6.0]])
    with pytest.raises(ValueError,
                       match=r"pad: expected an even number of widths for at most 2 dimensions; got \(1, 2, 3\)"):
        cr.pad(x, (1, 2, 3))
    with pytest.raises(ValueError, match=r"pad: expected an even number of widths for at most 2 dimensions"):
        cr.pad(x, (1, 1, 1, 1, 1, 1))
    with pytest.raises(ValueError, match=r"pad: widths must be non-negative ints; got \(-1, 0\)"):
        cr.pad(x, (-1, 0))
    with pytest.raises(ValueError, match=r"pad: only mode='constant' is supported; got 'reflect'"):
        cr.pad(x, (1, 1), mode="reflect")


# ---------------------------------------------------------------------- indexing
IDX = np.array([2, 0, 2, 1])  # with a repeat
MASK = np.array([True, False, True])

INDEX_CASES = [
    # (input shape, index to apply to both the tensor and the NumPy array)
    pytest.param((4,), 2, id="int"),
    pytest.param((4,), -1, id="negative-int"),
    pytest.param((3, 4), (1, 2), id="two-ints"),
    pytest.param((3, 4), 1, id="int-row"),
    pytest.param((3, 4), slice(1, 3), id="slice"),
    pytest.param((3, 4), (slice(None), slice(None, None, 2)), id="slice-step"),
    pytest.param((3, 4), (slice(None, None, -1), slice(3, 0, -2)), id="negative-steps"),
    pytest.param((4,), slice(None, None, -1), id="reverse"),
    pytest.param((3, 4), (None, 1, slice(None), None), id="none"),
    pytest.param((2, 3, 4), (Ellipsis, 1), id="ellipsis"),
    pytest.param((2, 3, 4), (0, Ellipsis, slice(1, 3)), id="int-ellipsis-slice"),
    pytest.param((2, 3, 4), (Ellipsis, None), id="ellipsis-none"),
    pytest.param((3, 4), [2, 0, 2, 1], id="int-list-repeats"),
    pytest.param((3, 4), IDX[:3], id="int-array-repeats"),
    pytest.param((3, 4), (IDX[:3], slice(1, None)), id="array-and-slice"),
    pytest.param((3, 4), (slice(None), IDX), id="slice-and-array"),
    pytest.param((3, 4), (np.array([0, 0, 2]), np.array([3, 3, 1])), id="two-arrays-repeat-pairs"),
    pytest.param((3, 4), (np.array([[0, 1], [1, 0]]), 2), id="2d-index-array"),
    pytest.param((3, 4), MASK, id="bool-mask-rows"),
    pytest.param((3, 4), np.arange(12).reshape(3, 4) % 3 == 0, id="bool-mask-full"),
    pytest.param((3, 4), (MASK, slice(None, 2)), id="bool-mask-and-slice"),
    pytest.param((3, 4), (MASK, IDX[1:3]), id="bool-mask-and-array"),
    pytest.param((2, 3, 4), (slice(None), [1, 1], Ellipsis), id="list-after-slice"),
    pytest.param((), None, id="0d-none"),
    pytest.param((), Ellipsis, id="0d-ellipsis"),
    pytest.param((), (), id="0d-empty-tuple"),
    pytest.param((3, 4), (slice(5, 9),), id="empty-slice"),
]


def _as_tensor_index(index):
    """The same index with NumPy arrays replaced by chainrule tensors (int64/bool)."""
    if isinstance(index, tuple):
        return tuple(_as_tensor_index(item) for item in index)
    if isinstance(index, np.ndarray):
        return cr.tensor(index)
    return index


@pytest.mark.parametrize("shape, index", INDEX_CASES)
@pytest.mark.parametrize("layout", LAYOUTS)
def test_index_forward_and_gradcheck(shape, index, layout):
    values = make_values(shape, "real", 11)
    x = make_leaf(values, layout)
    expected = values[index]
    for key in (index, _as_tensor_index(index)):

        def fn(t, key=key):
            return t[key]

        out = fn(x)
        assert out.shape == expected.shape
        np.testing.assert_array_equal(out.numpy(), expected)
        if out.numel():
            check_grad(fn, x)


@pytest.mark.parametrize("shape, index", INDEX_CASES)
def test_index_backward_scatters_and_accumulates(shape, index):
    values = make_values(shape, "real", 5)
    x = leaf(values)
    upstream = np.arange(1.0, 1.0 + np.asarray(values[index]).size).reshape(np.shape(values[index]))
    (x[index] * cr.tensor(upstream, dtype=cr.float64)).sum().backward()
    expected = np.zeros(shape)
    np.add.at(expected, index, upstream)  # NumPy's unbuffered scatter-add
    np.testing.assert_array_equal(x.grad.numpy(), expected)


def test_repeated_indices_accumulate_closed_form():
    x = leaf(np.arange(5.0))
    x[[0, 0, 1]].sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [2.0, 1.0, 0.0, 0.0, 0.0])
    y = leaf(np.arange(12.0).reshape(3, 4))
    y[cr.tensor([0, 0, 2]), 1:].sum().backward()
    np.testing.assert_array_equal(y.grad.numpy(), [[0, 2, 2, 2], [0, 0, 0, 0], [0, 1, 1, 1]])
    z = leaf([1.0, 2.0, 3.0])
    (z[cr.tensor([2, 2, 2, 2])] * z[1]).sum().backward()
    np.testing.assert_array_equal(z.grad.numpy(), [0.0, 12.0, 8.0])


@given(shape=shapes(min_dims=1), seed=seeds, layout=layouts, data=st.data())
def test_random_integer_array_index_gradcheck(shape, seed, layout, data):
    picks = data.draw(st.lists(st.integers(-shape[0], shape[0] - 1), min_size=1, max_size=6))
    values = make_values(shape, "real", seed)
    x = make_leaf(values, layout)
    index = cr.tensor(np.array(picks, dtype=np.int64))
    out = x[index]
    np.testing.assert_array_equal(out.numpy(), values[np.array(picks)])
    check_grad(lambda t: t[index], x)
    x.grad = None
    out.sum().backward()
    expected = np.zeros(shape)
    np.add.at(expected, np.array(picks), 1.0)
    np.testing.assert_array_equal(x.grad.numpy(), expected)


def test_index_with_0d_int_tensor_and_python_bools():
    x = leaf(np.arange(6.0).reshape(2, 3))
    np.testing.assert_array_equal(x[cr.tensor(1)].numpy(), [3.0, 4.0, 5.0])
    np.testing.assert_array_equal(x[[True, False]].numpy(), [[0.0, 1.0, 2.0]])
    np.testing.assert_array_equal(x[x > 2.5].numpy(), [3.0, 4.0, 5.0])
    x[x > 2.5].sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [[0, 0, 0], [1, 1, 1]])


def test_index_errors():
    x = leaf(np.arange(6.0))
    with pytest.raises(IndexError, match=r"index: tensors used as indices must be integer or bool; got dtype float32"):
        x[cr.tensor([0.0, 1.0])]
    with pytest.raises(IndexError, match=r"index: tensors used as indices must be integer or bool; got dtype float64"):
        x[cr.tensor([1.0], dtype=cr.float64)]
    with pytest.raises(IndexError, match=r"got dtype float64"):
        x[[0.5, 1.0]]
    with pytest.raises(IndexError):
        x[6]


def test_setitem_on_plain_tensor():
    t = cr.tensor(np.zeros((2, 3)))
    t[0, [0, 2]] = 5.0
    t[1] = cr.tensor([1.0, 2.0, 3.0], dtype=cr.float64)
    np.testing.assert_array_equal(t.numpy(), [[5, 0, 5], [1, 2, 3]])


# ---------------------------------------------------------------------- dtypes
@pytest.mark.parametrize("fn", [
    pytest.param(lambda x: x.reshape(-1), id="reshape"), pytest.param(lambda x: x.T, id="T"),
    pytest.param(lambda x: x.unsqueeze(0), id="unsqueeze"), pytest.param(lambda x: x.expand(3, 2, 3), id="expand"),
    pytest.param(lambda x: cr.cat([x, x]), id="cat"), pytest.param(lambda x: cr.stack([x, x]), id="stack"),
    pytest.param(lambda x: x.split(1)[0], id="split"), pytest.param(lambda x: cr.pad(x, (1, 1), value=2.0), id="pad"),
    pytest.param(lambda x: x[[1, 1]], id="index"),
])
def test_shape_ops_keep_float32(fn):
    x = cr.tensor(np.arange(6.0, dtype=np.float32).reshape(2, 3), requires_grad=True)
    out = fn(x)
    assert out.dtype == np.float32
    out.sum().backward()
    assert x.grad.dtype == np.float32
