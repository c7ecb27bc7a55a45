"""Sorting and selection (chainrule.engine.ops.sorting): sort, argsort, topk, max/min along a
dim (the named tuple (values, indices)), unique — against PyTorch: values, indices and
gradients in float32 and float64, contiguous and strided inputs, negative dims, ties, NaN,
0-d and empty inputs; gradcheck and gradgradcheck in float64; errors."""
from __future__ import annotations

import numpy as np
import pytest
import torch_checks
from torch_checks import arrange

import chainrule as cr
from chainrule.autograd import gradcheck, gradgradcheck

torch = pytest.importorskip("torch")

DTYPES, LAYOUTS = torch_checks.DTYPES, torch_checks.LAYOUTS


def leaves(values, dtype, layout):
    array = arrange(values, dtype, layout)
    return cr.from_numpy(array).requires_grad_(), torch.tensor(array.copy(), requires_grad=True)


def check_pair(ours, theirs, x, x_torch, seed=0):
    """The (values, indices) tuples agree, and so do the gradients of sum(values * w)."""
    assert len(ours) == 2 and ours.values is ours[0] and ours.indices is ours[1]
    values, indices = ours  # unpacking
    assert values.shape == tuple(theirs.values.shape) and indices.shape == tuple(theirs.indices.shape)
    assert indices.dtype == cr.int64 and not indices.requires_grad
    np.testing.assert_array_equal(values.numpy(), theirs.values.detach().numpy())
    np.testing.assert_array_equal(indices.numpy(), theirs.indices.numpy())
    weights = np.random.default_rng(seed).standard_normal(values.shape).astype(values.numpy().dtype)
    (values * cr.tensor(weights)).sum().backward()
    (theirs.values * torch.from_numpy(weights)).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), x_torch.grad.numpy())


def distinct(shape, seed=0):
    size = int(np.prod(shape, dtype=np.int64))
    return (np.random.default_rng(seed).permutation(size) * 0.37 - 1.1).reshape(shape)


SHAPES_AND_DIMS = [
    pytest.param((6,), 0, id="1d"), pytest.param((6,), -1, id="1d-neg"),
    pytest.param((3, 4), 0, id="2d-dim0"), pytest.param((3, 4), -1, id="2d-last"),
    pytest.param((2, 3, 4), 1, id="3d-middle"), pytest.param((2, 1, 3), -2, id="size-1"),
    pytest.param((0, 3), 1, id="empty-other"), pytest.param((), 0, id="0d"), pytest.param((), -1, id="0d-neg"),
]

PAIRS = [
    pytest.param(lambda x, d: cr.sort(x, d), lambda t, d: torch.sort(t, d), id="sort"),
    pytest.param(lambda x, d: x.sort(dim=d, descending=True), lambda t, d: t.sort(dim=d, descending=True),
                 id="sort-descending"),
    pytest.param(lambda x, d: cr.sort(x, d, stable=True), lambda t, d: torch.sort(t, dim=d, stable=True),
                 id="sort-stable"),
    pytest.param(lambda x, d: cr.max(x, d), lambda t, d: torch.max(t, d), id="max"),
    pytest.param(lambda x, d: x.max(dim=d, keepdim=True), lambda t, d: t.max(dim=d, keepdim=True), id="max-keepdim"),
    pytest.param(lambda x, d: x.max(axis=d), lambda t, d: t.max(dim=d), id="max-axis-alias"),
    pytest.param(lambda x, d: cr.min(x, dim=d), lambda t, d: torch.min(t, dim=d), id="min"),
    pytest.param(lambda x, d: x.min(d, True), lambda t, d: t.min(d, True), id="min-keepdim"),
    pytest.param(lambda x, d: cr.topk(x, 1, d), lambda t, d: torch.topk(t, 1, d), id="topk-1"),
    pytest.param(lambda x, d: x.topk(1, dim=d, largest=False), lambda t, d: t.topk(1, dim=d, largest=False),
                 id="topk-smallest"),
]


@pytest.mark.parametrize("ours, theirs", PAIRS)
@pytest.mark.parametrize("shape, dim", SHAPES_AND_DIMS)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("layout", LAYOUTS)
def test_values_indices_and_gradients_match_torch(ours, theirs, shape, dim, dtype, layout):
    x, x_torch = leaves(distinct(shape), dtype, layout)
    check_pair(ours(x, dim), theirs(x_torch, dim), x, x_torch)


@pytest.mark.parametrize("k", [0, 2, 4])
@pytest.mark.parametrize("largest", [True, False])
@pytest.mark.parametrize("dtype", DTYPES)
def test_topk_matches_torch(k, largest, dtype):
    for dim in (0, 1, -1):
        x, x_torch = leaves(distinct((4, 5), seed=dim + 5), dtype, "strided")
        check_pair(cr.topk(x, k, dim, largest), torch.topk(x_torch, k, dim, largest), x, x_torch, seed=k)


TIES = [
    pytest.param([[1.0, 4.0, 4.0, 2.0], [3.0, 3.0, 0.0, 3.0]], id="ties-in-rows"),
    pytest.param([[2.0, 2.0], [2.0, 2.0]], id="all-equal"),
    pytest.param([[1.0, np.nan, 3.0, np.nan], [5.0, 5.0, -1.0, 0.0]], id="nan"),
]


@pytest.mark.parametrize("values", TIES)
@pytest.mark.parametrize("op", ["max", "min"])
@pytest.mark.parametrize("dim", [0, 1, -1])
def test_max_min_dim_ties_first_index_gets_the_gradient_as_torch(values, op, dim):
    x, x_torch = leaves(values, "float64", "contiguous")
    check_pair(getattr(cr, op)(x, dim), getattr(torch, op)(x_torch, dim), x, x_torch)


@pytest.mark.parametrize("values", TIES)
@pytest.mark.parametrize("descending", [False, True])
@pytest.mark.parametrize("dim", [0, 1])
def test_stable_sort_with_ties_and_nan_matches_torch(values, descending, dim):
    x, x_torch = leaves(values, "float32", "strided")
    check_pair(cr.sort(x, dim, descending), torch.sort(x_torch, dim=dim, descending=descending, stable=True),
               x, x_torch)
    np.testing.assert_array_equal(cr.argsort(x, dim, descending).numpy(),
                                  torch.argsort(x_torch, dim=dim, descending=descending, stable=True).numpy())


@pytest.mark.parametrize("dtype", ["int64", "bool"])
def test_integer_and_bool_inputs(dtype):
    values = np.array([[3, 0, 2, 0], [1, 1, 5, 4]]).astype(dtype)
    t, t_torch = cr.tensor(values), torch.from_numpy(values)
    for ours, theirs in [(cr.sort(t, 1, stable=True), torch.sort(t_torch, dim=1, stable=True)),
                         (cr.max(t, 1), torch.max(t_torch, 1)), (t.min(0), t_torch.min(0))]:
        assert str(ours.values.dtype) == dtype
        np.testing.assert_array_equal(ours.values.numpy(), theirs.values.numpy())
        np.testing.assert_array_equal(ours.indices.numpy(), theirs.indices.numpy())


def test_max_min_named_tuple_behaviour():
    x = cr.tensor([[1.0, 5.0, 2.0], [7.0, 0.0, 3.0]])
    result = x.max(dim=1)
    assert type(result).__name__ == "max" and result._fields == ("values", "indices")
    assert isinstance(result, cr.return_types.max) and isinstance(x.min(0), cr.return_types.min)
    values, indices = result
    assert values.tolist() == [5.0, 7.0] and indices.tolist() == [1, 0]
    assert result[0] is result.values and result[1] is result.indices
    assert repr(result).startswith("max(values=tensor(")
    assert isinstance(cr.sort(x), cr.return_types.sort) and isinstance(cr.topk(x, 2), cr.return_types.topk)


def test_max_min_without_dim_are_tensors_and_with_a_tensor_are_elementwise():
    x = cr.tensor([[1.0, 5.0], [5.0, 0.0]], dtype=cr.float64, requires_grad=True)
    top = x.max()
    assert isinstance(top, cr.Tensor) and top.item() == 5.0
    top.backward()
    assert x.grad.tolist() == [[0.0, 0.5], [0.5, 0.0]]  # ties split evenly, as torch.max(x)
    y = cr.tensor([[2.0, 2.0], [2.0, 2.0]], dtype=cr.float64)
    np.testing.assert_array_equal(cr.max(x, y).numpy(), [[2.0, 5.0], [5.0, 2.0]])
    np.testing.assert_array_equal(x.min(y).numpy(), [[1.0, 2.0], [2.0, 0.0]])
    np.testing.assert_array_equal(cr.min(x, other=y).numpy(), [[1.0, 2.0], [2.0, 0.0]])


@pytest.mark.parametrize("fn", [
    pytest.param(lambda x: cr.sort(x, 1).values, id="sort"),
    pytest.param(lambda x: cr.sort(x, 0, descending=True).values * x, id="sort-used-twice"),
    pytest.param(lambda x: cr.topk(x, 2, -1).values, id="topk"),
    pytest.param(lambda x: cr.max(x, 1).values, id="max"),
    pytest.param(lambda x: x.min(0, keepdim=True).values * x, id="min-used-twice"),
    pytest.param(lambda x: cr.sort(x * x, 1).values, id="sort-of-square"),
])
def test_gradcheck_and_gradgradcheck(fn):
    x = cr.tensor(distinct((3, 4), seed=7), dtype=cr.float64, requires_grad=True)
    assert gradcheck(fn, (x,))
    assert gradgradcheck(fn, (x,))


UNIQUE_CASES = [
    pytest.param([3, 1, 2, 1, 3, 3], None, id="1d"),
    pytest.param([[1, 2], [1, 2], [3, 0]], None, id="2d-flat"),
    pytest.param([[1, 2], [1, 2], [3, 0]], 0, id="rows"),
    pytest.param([[1, 2, 1], [0, 5, 0]], 1, id="columns"),
    pytest.param([[1, 2, 1], [0, 5, 0]], -1, id="columns-neg"),
    pytest.param([2.5, np.nan, 1.0, np.nan, 2.5], None, id="nan-each-distinct"),
    pytest.param(7, None, id="0d"),
    pytest.param(np.zeros((0,)), None, id="empty"),
]


@pytest.mark.parametrize("values, dim", UNIQUE_CASES)
@pytest.mark.parametrize("flags", [(False, False), (True, False), (False, True), (True, True)])
def test_unique_matches_torch(values, dim, flags):
    array = np.asarray(values)
    ours = cr.unique(cr.tensor(array), sorted=True, return_inverse=flags[0], return_counts=flags[1], dim=dim)
    theirs = torch.unique(torch.from_numpy(array), sorted=True, return_inverse=flags[0], return_counts=flags[1],
                          dim=dim)
    if not any(flags):
        ours, theirs = (ours,), (theirs,)
    assert isinstance(ours, tuple) and len(ours) == len(theirs)
    for got, expected in zip(ours, theirs):
        assert got.shape == tuple(expected.shape)
        np.testing.assert_array_equal(got.numpy(), expected.numpy())
    method = cr.tensor(array).unique(return_counts=True)
    assert len(method) == 2 and not method[0].requires_grad


def test_unique_has_no_gradient():
    x = cr.tensor([1.0, 2.0, 1.0], requires_grad=True)
    assert not cr.unique(x).requires_grad and cr.unique(x).grad_fn is None


def test_empty_reduced_dimension():
    x = cr.zeros(0, 3)
    with pytest.raises(IndexError, match=r"max: cannot reduce over the empty dimension 0 of shape \(0, 3\)"):
        cr.max(x, 0)
    values, indices = cr.min(x, 1)
    assert values.shape == (0,) and indices.shape == (0,)
    assert cr.sort(x, 0).values.shape == (0, 3) and cr.topk(x, 0, 0).values.shape == (0, 3)


ERRORS = [
    pytest.param(lambda x: cr.sort(x, 2), IndexError, r"sort: dim 2 is out of range", id="sort-range"),
    pytest.param(lambda x: cr.argsort(x, -3), IndexError, r"argsort: dim -3 is out of range", id="argsort-range"),
    pytest.param(lambda x: cr.sort(x, None), TypeError, r"sort: dim must be an int; got None", id="sort-none"),
    pytest.param(lambda x: cr.topk(x, 4), RuntimeError, r"topk: k=4 is out of range for dimension -1 of size 3",
                 id="topk-k-large"),
    pytest.param(lambda x: cr.topk(x, -1), RuntimeError, r"topk: k=-1 is out of range", id="topk-k-negative"),
    pytest.param(lambda x: cr.topk(x, 1.5), TypeError, r"topk: k must be an int; got 1.5", id="topk-k-float"),
    pytest.param(lambda x: cr.max(x, (0, 1)), TypeError, r"max: dim must be an int \(one dimension\); got \(0, 1\); "
                 r"use amax for several dimensions", id="max-tuple"),
    pytest.param(lambda x: cr.min(x, 1.0), TypeError, r"min: dim must be an int", id="min-float"),
    pytest.param(lambda x: cr.max(x, 5), IndexError, r"max: dim 5 is out of range", id="max-range"),
    pytest.param(lambda x: cr.max(x, x, keepdim=True), TypeError, r"max: with a second tensor, max is elementwise",
                 id="max-tensor-keepdim"),
    pytest.param(lambda x: x.max(axes=0), TypeError, r"max: unexpected keyword argument 'axes'", id="max-bad-keyword"),
    pytest.param(lambda x: cr.unique(x, dim=2), IndexError, r"unique: dim 2 is out of range", id="unique-range"),
    pytest.param(lambda x: cr.unique(x.numpy()), TypeError, r"unique: expected a Tensor as input; got ndarray",
                 id="unique-array"),
    pytest.param(lambda x: cr.sort([1, 2]), TypeError, r"sort: expected a Tensor as input; got list", id="sort-list"),
]


@pytest.mark.parametrize("fn, error, message", ERRORS)
def test_errors(fn, error, message):
    with pytest.raises(error, match=message):
        fn(cr.ones(2, 3))
