"""Reductions (chainrule.ops.reduce): sum, mean, var, std, amax, amin, max, min, logsumexp over
dim None / int / tuple with keepdim, NumPy's axis=/keepdims= aliases; forward values
against NumPy/SciPy, gradients against central differences, ties, and errors."""
from __future__ import annotations

import numpy as np
import pytest
import scipy.special
from conftest import check_grad, layouts, leaf, make_leaf, make_values, seeds, shapes
from hypothesis import assume, given
from hypothesis import strategies as st

import chainrule as cr


@st.composite
def shape_and_dim(draw, min_dims=0):
    """A shape and a ``dim`` argument for it: None, an int (maybe negative) or a tuple."""
    shape = draw(shapes(min_dims=min_dims))
    ndim = len(shape)
    positions = max(ndim, 1)  # a 0-d tensor accepts dim 0 / -1, as in PyTorch
    kind = draw(st.sampled_from(["none", "int", "tuple"]))
    if kind == "none":
        return shape, None
    if kind == "int":
        return shape, draw(st.integers(-positions, positions - 1))
    axes = draw(st.lists(st.integers(0, positions - 1), min_size=1, max_size=positions, unique=True))
    signed = tuple(axis - positions if draw(st.booleans()) else axis for axis in axes)
    return shape, signed


def numpy_axis(dim, ndim):
    """The NumPy axis argument for a chainrule dim (a 0-d array has no axes)."""
    if dim is None or ndim == 0:
        return None
    return dim


def logsumexp_reference(a, axis, keepdims):
    """SciPy's logsumexp; for a 0-d input it returns shape (1,) with keepdims, so reshape."""
    out = np.asarray(scipy.special.logsumexp(a, axis=axis, keepdims=keepdims))
    return out.reshape(a.shape) if a.ndim == 0 else out


def reduced_count(shape, dim):
    if dim is None or len(shape) == 0:
        return int(np.prod(shape, dtype=np.int64))
    dims = (dim,) if isinstance(dim, int) else dim
    return int(np.prod([shape[d] for d in dims], dtype=np.int64))


# (chainrule reduction (x, dim, keepdim), reference (array, axis, keepdims), domain)
REDUCTIONS = [
    pytest.param(lambda x, d, k: cr.sum(x, d, k), lambda a, ax, k: np.sum(a, axis=ax, keepdims=k), "real", id="sum"),
    pytest.param(lambda x, d, k: x.sum(dim=d, keepdim=k),
                 lambda a, ax, k: np.sum(a, axis=ax, keepdims=k), "real", id="sum-method"),
    pytest.param(lambda x, d, k: x.sum(axis=d, keepdims=k),
                 lambda a, ax, k: np.sum(a, axis=ax, keepdims=k), "real", id="sum-aliases"),
    pytest.param(lambda x, d, k: cr.mean(x, d, k), lambda a, ax, k: np.mean(a, axis=ax, keepdims=k), "real", id="mean"),
    pytest.param(lambda x, d, k: x.mean(axis=d, keepdims=k),
                 lambda a, ax, k: np.mean(a, axis=ax, keepdims=k), "real", id="mean-aliases"),
    # amax/amin: the values-only reductions over any dims (max/min with a dim return (values, indices))
    pytest.param(lambda x, d, k: cr.amax(x, d, k),
                 lambda a, ax, k: np.max(a, axis=ax, keepdims=k), "distinct", id="amax"),
    pytest.param(lambda x, d, k: x.amax(dim=d, keepdim=k),
                 lambda a, ax, k: np.max(a, axis=ax, keepdims=k), "distinct", id="amax-method"),
    pytest.param(lambda x, d, k: x.amax(axis=d, keepdims=k),
                 lambda a, ax, k: np.max(a, axis=ax, keepdims=k), "distinct", id="amax-aliases"),
    pytest.param(lambda x, d, k: cr.amin(x, d, k),
                 lambda a, ax, k: np.min(a, axis=ax, keepdims=k), "distinct", id="amin"),
    pytest.param(lambda x, d, k: x.amin(axis=d, keepdims=k),
                 lambda a, ax, k: np.min(a, axis=ax, keepdims=k), "distinct", id="amin-aliases"),
    pytest.param(lambda x, d, k: cr.logsumexp(x, d, k), logsumexp_reference, "real", id="logsumexp"),
    pytest.param(lambda x, d, k: x.logsumexp(axis=d, keepdims=k), logsumexp_reference, "real", id="logsumexp-aliases"),
]


@pytest.mark.parametrize("fn, reference, domain", REDUCTIONS)
@given(case=shape_and_dim(), keepdim=st.booleans(), seed=seeds, layout=layouts)
def test_reduction_forward_and_gradcheck(fn, reference, domain, case, keepdim, seed, layout):
    shape, dim = case
    values = make_values(shape, domain, seed)
    x = make_leaf(values, layout)
    out = fn(x, dim, keepdim)
    expected = np.asarray(reference(values, numpy_axis(dim, len(shape)), keepdim))
    assert out.shape == expected.shape
    assert out.dtype == np.float64
    np.testing.assert_allclose(out.numpy(), expected, rtol=1e-6, atol=1e-12)
    check_grad(lambda t: fn(t, dim, keepdim), x)


# (chainrule var/std (x, dim, keepdim) -> tensor, ddof, sqrt?) for each way to ask for a correction
SPREAD_CALLS = [
    pytest.param(lambda x, d, k: cr.var(x, d, keepdim=k), 1, False, id="var-default"),
    pytest.param(lambda x, d, k: cr.var(x, d, True, k), 1, False, id="var-unbiased-true"),
    pytest.param(lambda x, d, k: cr.var(x, d, False, k), 0, False, id="var-unbiased-false"),
    pytest.param(lambda x, d, k: x.var(d, keepdim=k, correction=0), 0, False, id="var-correction-0"),
    pytest.param(lambda x, d, k: x.var(d, keepdim=k, correction=1), 1, False, id="var-correction-1"),
    pytest.param(lambda x, d, k: x.var(d, keepdim=k, correction=2), 2, False, id="var-correction-2"),
    pytest.param(lambda x, d, k: x.var(axis=d, keepdims=k, correction=0), 0, False, id="var-aliases"),
    pytest.param(lambda x, d, k: cr.std(x, d, keepdim=k), 1, True, id="std-default"),
    pytest.param(lambda x, d, k: cr.std(x, d, True, k), 1, True, id="std-unbiased-true"),
    pytest.param(lambda x, d, k: x.std(d, unbiased=False, keepdim=k), 0, True, id="std-unbiased-false"),
    pytest.param(lambda x, d, k: x.std(d, keepdim=k, correction=0), 0, True, id="std-correction-0"),
    pytest.param(lambda x, d, k: x.std(d, keepdim=k, correction=2), 2, True, id="std-correction-2"),
    pytest.param(lambda x, d, k: x.std(axis=d, keepdims=k, unbiased=True), 1, True, id="std-aliases"),
]


@pytest.mark.parametrize("fn, ddof, is_std", SPREAD_CALLS)
@given(case=shape_and_dim(), keepdim=st.booleans(), seed=seeds, layout=layouts)
def test_var_std_forward_and_gradcheck(fn, ddof, is_std, case, keepdim, seed, layout):
    shape, dim = case
    assume(reduced_count(shape, dim) > ddof)
    values = make_values(shape, "real", seed)
    x = make_leaf(values, layout)
    out = fn(x, dim, keepdim)
    np_fn = np.std if is_std else np.var
    expected = np.asarray(np_fn(values, axis=numpy_axis(dim, len(shape)), ddof=ddof, keepdims=keepdim))
    assert out.shape == expected.shape
    np.testing.assert_allclose(out.numpy(), expected, rtol=1e-6, atol=1e-12)
    check_grad(lambda t: fn(t, dim, keepdim), x)


# ---------------------------------------------------------------------- closed forms
def test_sum_and_mean_gradients_closed_form():
    x = leaf(np.arange(6.0).reshape(2, 3))
    (x.sum(dim=1) * cr.tensor([1.0, 10.0], dtype=cr.float64)).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [[1, 1, 1], [10, 10, 10]])
    y = leaf(np.arange(6.0).reshape(2, 3))
    y.mean(dim=0).sum().backward()
    np.testing.assert_allclose(y.grad.numpy(), np.full((2, 3), 0.5))
    z = leaf(np.arange(24.0).reshape(2, 3, 4))
    z.mean(dim=(0, 2)).sum().backward()
    np.testing.assert_allclose(z.grad.numpy(), np.full((2, 3, 4), 1 / 8))


@pytest.mark.parametrize("correction", [0, 1, 2])
def test_var_std_gradients_closed_form(correction):
    values = np.array([1.0, 2.0, 4.0, 7.0])
    n = values.size
    x = leaf(values)
    x.var(correction=correction).backward()
    np.testing.assert_allclose(x.grad.numpy(), 2 * (values - values.mean()) / (n - correction), rtol=1e-12)
    y = leaf(values)
    y.std(correction=correction).backward()
    s = np.std(values, ddof=correction)
    np.testing.assert_allclose(y.grad.numpy(), (values - values.mean()) / ((n - correction) * s), rtol=1e-12)


def test_std_gradient_of_constant_input_is_zero_not_nan():
    x = leaf([3.0, 3.0, 3.0])
    s = x.std()
    assert s.item() == 0.0
    s.backward()
    np.testing.assert_array_equal(x.grad.numpy(), [0.0, 0.0, 0.0])


def test_logsumexp_gradient_is_softmax_and_forward_is_stable():
    values = np.array([[1000.0, 1000.0, 999.0], [-1000.0, 0.0, 1.0]])
    x = leaf(values)
    out = x.logsumexp(dim=1)
    np.testing.assert_allclose(out.numpy(), scipy.special.logsumexp(values, axis=1), rtol=1e-12)
    assert np.isfinite(out.numpy()).all()
    out.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), scipy.special.softmax(values, axis=1), rtol=1e-12, atol=1e-300)


def test_logsumexp_with_infinite_entries():
    x = cr.tensor([[-np.inf, 0.0], [-np.inf, -np.inf]], dtype=cr.float64)
    with np.errstate(divide="ignore"):
        out = cr.logsumexp(x, dim=1)
    np.testing.assert_array_equal(out.numpy(), [0.0, -np.inf])


@given(shape=shapes(min_dims=2, max_dims=2), seed=seeds, layout=layouts)
def test_reductions_composed_through_cat_and_stack(shape, seed, layout):
    """Upstream gradients that arrive as slices of a larger gradient (cat/stack backward)."""
    x = make_leaf(make_values(shape, "distinct", seed), layout)
    check_grad(lambda t: cr.cat([t.sum(1), t.mean(0), t.max(1).values, t.min(0).values, t.logsumexp(1),
                                 t.var(0, correction=0)]), x)
    check_grad(lambda t: cr.stack([t.sum(0), t.std(0, correction=0), t.amax(0)], dim=1).T, x)


# ---------------------------------------------------------------------- ties
TIE_CASES = [
    # (reduction, input, dim, keepdim, hand-computed gradient of out.sum())
    pytest.param("max", [1.0, 3.0, 3.0], None, False, [0.0, 0.5, 0.5], id="max-two-ties"),
    pytest.param("min", [2.0, 1.0, 1.0, 1.0], None, False, [0.0, 1 / 3, 1 / 3, 1 / 3], id="min-three-ties"),
    # with a dim: amax/amin (max/min with a dim send the gradient to the returned index)
    pytest.param("amax", [5.0, 5.0, 5.0, 5.0], 0, False, [0.25, 0.25, 0.25, 0.25], id="amax-all-equal"),
    pytest.param("amax", [[1.0, 4.0, 4.0], [2.0, 0.0, 1.0]], 1, False,
                 [[0.0, 0.5, 0.5], [1.0, 0.0, 0.0]], id="amax-ties-per-row"),
    pytest.param("amin", [[1.0, 4.0], [1.0, 0.0]], 0, True, [[0.5, 0.0], [0.5, 1.0]], id="amin-ties-per-column"),
    pytest.param("amax", [[[2.0, 1.0], [2.0, 0.0]], [[0.0, 7.0], [7.0, 7.0]]], (1, 2), False,
                 [[[0.5, 0.0], [0.5, 0.0]], [[0.0, 1 / 3], [1 / 3, 1 / 3]]], id="amax-ties-dim-tuple"),
    pytest.param("min", [[3.0, 3.0], [3.0, 9.0]], None, True, [[1 / 3, 1 / 3], [1 / 3, 0.0]], id="min-ties-keepdim"),
]


@pytest.mark.parametrize("name, values, dim, keepdim, expected", TIE_CASES)
def test_max_min_split_gradient_evenly_among_ties(name, values, dim, keepdim, expected):
    x = leaf(values)
    out = getattr(cr, name)(x, dim, keepdim)
    np_values = np.array(values)
    reference = getattr(np, name)(np_values, axis=dim, keepdims=keepdim)
    np.testing.assert_array_equal(out.numpy(), reference)
    out.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), expected, rtol=1e-15)


def test_max_gradient_with_upstream_weights():
    x = leaf([[1.0, 4.0, 4.0], [2.0, 0.0, 1.0]])
    (x.amax(dim=1) * cr.tensor([2.0, -3.0], dtype=cr.float64)).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [[0.0, 1.0, 1.0], [-3.0, 0.0, 0.0]])


# ---------------------------------------------------------------------- dtypes
FLOAT32_REDUCTIONS = [
    pytest.param(lambda x: x.sum(), id="sum"), pytest.param(lambda x: x.mean(dim=0), id="mean"),
    pytest.param(lambda x: x.var(), id="var"), pytest.param(lambda x: x.std(dim=1), id="std"),
    pytest.param(lambda x: x.max(), id="max"), pytest.param(lambda x: x.min(dim=1).values, id="min"),
    pytest.param(lambda x: x.logsumexp(dim=0), id="logsumexp"),
]


@pytest.mark.parametrize("fn", FLOAT32_REDUCTIONS)
def test_float32_reductions_stay_float32(fn):
    x = cr.tensor(np.array([[0.5, 1.5, -2.0], [3.0, 0.25, 1.0]], dtype=np.float32), requires_grad=True)
    out = fn(x)
    assert out.dtype == np.float32
    out.sum().backward()
    assert x.grad.dtype == np.float32


def test_integer_reductions_follow_numpy():
    values = np.array([[1, 2, 3], [4, 5, 7]], dtype=np.int64)
    t = cr.tensor(values)
    assert t.sum().dtype == np.int64 and t.sum().item() == 22
    np.testing.assert_array_equal(t.sum(dim=0).numpy(), [5, 7, 10])
    assert t.mean().dtype == np.float64
    np.testing.assert_allclose(t.mean(dim=1).numpy(), values.mean(axis=1))
    np.testing.assert_array_equal(t.max(dim=1).values.numpy(), [3, 7])
    np.testing.assert_allclose(t.var(dim=1).numpy(), values.var(axis=1, ddof=1))


def test_all_any_reductions():
    b = cr.tensor([[True, False], [True, True]])
    np.testing.assert_array_equal(cr.all(b, dim=1).numpy(), [False, True])
    np.testing.assert_array_equal(cr.any(b, dim=0).numpy(), [True, True])
    assert cr.all(b).item() is False and cr.any(b).item() is True
    assert cr.all(b, axis=0, keepdims=True).shape == (1, 2)


# ---------------------------------------------------------------------- errors
OUT_OF_RANGE = [
    pytest.param(lambda x: x.sum(dim=2), "sum", id="sum"),
    pytest.param(lambda x: x.mean(dim=-3), "mean", id="mean"),
    pytest.param(lambda x: x.var(dim=5), "var", id="var"),
    pytest.param(lambda x: x.std(dim=(0, 2)), "std", id="std"),
    pytest.param(lambda x: x.max(dim=2), "max", id="max"),
    pytest.param(lambda x: x.min(axis=-3), "min", id="min"),
    pytest.param(lambda x: x.logsumexp(dim=(1, 7)), "logsumexp", id="logsumexp"),
]


@pytest.mark.parametrize("fn, op", OUT_OF_RANGE)
def test_out_of_range_dim_names_the_op(fn, op):
    x = leaf(np.ones((2, 3)))
    with pytest.raises(IndexError, match=rf"^{op}: dim -?\d+ is out of range for a tensor with 2 dimension\(s\)$"):
        fn(x)


def test_reduction_argument_errors():
    x = leaf(np.ones((2, 3)))
    with pytest.raises(ValueError, match=r"sum: dim \(1, -1\) repeats a dimension"):
        x.sum(dim=(1, -1))
    with pytest.raises(TypeError, match=r"mean: pass either dim or axis, not both"):
        cr.mean(x, 0, axis=1)
    with pytest.raises(TypeError, match=r"max: unexpected keyword argument 'axes'"):
        x.max(axes=0)
    with pytest.raises(TypeError, match=r"sum: dim must be an int or a tuple of ints"):
        x.sum(dim=1.0)
    with pytest.raises(TypeError, match=r"var: pass either unbiased or correction, not both"):
        x.var(unbiased=True, correction=1)
    with pytest.raises(ValueError, match=r"std: correction must be non-negative; got -1"):
        x.std(correction=-1)


@pytest.mark.parametrize("op", ["var", "std"])
def test_var_std_with_too_few_elements(op):
    with pytest.raises(ValueError,
                       match=rf"{op}: needs more than correction=1 element\(s\) along the reduced dims; got 1"):
        getattr(cr, op)(leaf([[1.0, 2.0, 3.0]]), dim=0)
    with pytest.raises(ValueError, match=rf"{op}: needs more than correction=2 element\(s\).*got 2"):
        getattr(cr, op)(leaf([1.0, 2.0]), correction=2)
    with pytest.raises(ValueError, match=rf"{op}: needs more than correction=1"):
        getattr(cr, op)(leaf(3.0))


@pytest.mark.parametrize("op, error", [("amax", IndexError), ("amin", IndexError), ("logsumexp", ValueError)])
def test_extreme_of_empty_dimension(op, error):
    x = cr.zeros(0, 3, dtype=cr.float64)
    with pytest.raises(error, match=rf"{op}: cannot reduce over an empty dimension \(shape \(0, 3\)"):
        getattr(cr, op)(x, dim=0)
    with pytest.raises(error, match=rf"{op}: cannot reduce over an empty dimension"):
        getattr(cr, op)(x)
    with pytest.raises(error, match=rf"{op}: cannot reduce over an empty dimension"):
        getattr(cr, op)(x, dim=(1, 0))
    np.testing.assert_array_equal(getattr(cr, op)(x, dim=1).numpy(), np.zeros(0))
    assert getattr(cr, op)(x, dim=(1,), keepdim=True).shape == (0, 1)
