"""scaled_dot_product_attention against PyTorch: values and the gradients of query, key, value
(and of a float mask) in float32 (rtol 1e-4) and float64 (1e-10), contiguous and strided
(transposed) inputs, 2-D to 4-D shapes, source and target lengths that differ, length 1, bool
and float masks of every rank that broadcasts, the causal mask, rows with every key masked
(0, as PyTorch), a custom scale, grouped-query attention; dropout's statistics and seed;
the fused nodes equal their reference composition (1e-12), including dropout, fully masked
rows and the multi-head layouts; gradcheck and gradgradcheck; errors."""
from __future__ import annotations

import math

import numpy as np
import pytest

import chainrule as cr
from chainrule.autograd import gradcheck, gradgradcheck
from chainrule.nn import functional as F
from chainrule.nn import fused

torch = pytest.importorskip("torch")
TF = torch.nn.functional

TOLERANCE = {"float32": {"rtol": 1e-4, "atol": 2e-5}, "float64": {"rtol": 1e-10, "atol": 1e-12}}


def strided(values: np.ndarray) -> np.ndarray:
    """The values as a transposed view of a contiguous array (last two dims swapped back)."""
    return np.ascontiguousarray(np.swapaxes(values, -1, -2)).swapaxes(-1, -2) if values.ndim >= 2 else values


def run_both(shapes, dtype, layout="contiguous", mask=None, mask_grad=False, seed=0, **kwargs):
    """Our attention and torch's on the same inputs: (ours, theirs, our leaves, torch leaves)."""
    rng = np.random.default_rng(seed)
    arrays = [rng.standard_normal(s).astype(dtype) for s in shapes]
    arrays = [strided(a) if layout == "strided" else a for a in arrays]
    xs = [cr.from_numpy(a).requires_grad_() for a in arrays]
    ts = [torch.tensor(np.array(a), requires_grad=True) for a in arrays]
    ours_mask = theirs_mask = None
    if mask is not None:
        mask = mask if mask.dtype == bool else mask.astype(dtype)
        ours_mask = cr.tensor(mask, requires_grad=mask_grad)
        theirs_mask = torch.tensor(mask, requires_grad=mask_grad)
        if mask_grad:
            xs.append(ours_mask)
            ts.append(theirs_mask)
    out = F.scaled_dot_product_attention(*xs[:3], attn_mask=ours_mask, **kwargs)
    expected = TF.scaled_dot_product_attention(*ts[:3], attn_mask=theirs_mask, **kwargs)
    return out, expected, xs, ts


def check(out, expected, xs, ts, dtype, seed=1):
    assert out.shape == tuple(expected.shape) and str(out.dtype) == dtype
    np.testing.assert_allclose(out.numpy(), expected.detach().numpy(), **TOLERANCE[dtype])
    weights = np.random.default_rng(seed).standard_normal(out.shape).astype(dtype)
    (out * cr.tensor(weights)).sum().backward()
    (expected * torch.from_numpy(weights)).sum().backward()
    for x, t in zip(xs, ts):
        assert x.grad.dtype == x.dtype and x.grad.shape == x.shape
        np.testing.assert_allclose(x.grad.numpy(), t.grad.numpy(), **TOLERANCE[dtype])


SHAPES = {
    "4-d": [(2, 3, 4, 5), (2, 3, 6, 5), (2, 3, 6, 7)],
    "3-d": [(2, 4, 5), (2, 6, 5), (2, 6, 3)],
    "2-d": [(4, 5), (6, 5), (6, 7)],
    "target 1": [(2, 1, 5), (2, 6, 5), (2, 6, 5)],
    "source 1": [(2, 4, 5), (2, 1, 5), (2, 1, 3)],
    "both 1": [(1, 1, 1), (1, 1, 1), (1, 1, 1)],
    "longer target": [(2, 2, 7, 4), (2, 2, 3, 4), (2, 2, 3, 4)],
}


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("layout", ["contiguous", "strided"])
@pytest.mark.parametrize("name", list(SHAPES))
@pytest.mark.parametrize("is_causal", [False, True])
def test_matches_torch_without_mask(dtype, layout, name, is_causal):
    out, expected, xs, ts = run_both(SHAPES[name], dtype, layout, is_causal=is_causal)
    assert out.grad_fn.op == "scaled_dot_product_attention"
    check(out, expected, xs, ts, dtype)


def random_mask(shape, rng, kind):
    if kind == "bool":
        mask = rng.random(shape) > 0.3
        mask[..., 0] = True  # every row keeps a key
        return mask
    return rng.standard_normal(shape)


MASKS = [((4, 6), "bool"), ((2, 3, 4, 6), "bool"), ((3, 1, 6), "bool"), ((4, 6), "float"), ((1, 3, 4, 6), "float"),
         ((6,), "float"), ((2, 1, 1, 6), "bool")]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("mask_shape, kind", MASKS)
def test_matches_torch_with_masks(dtype, mask_shape, kind):
    mask = random_mask(mask_shape, np.random.default_rng(2), kind)
    out, expected, xs, ts = run_both(SHAPES["4-d"], dtype, mask=mask, mask_grad=kind == "float")
    check(out, expected, xs, ts, dtype)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("kind", ["bool", "float"])
def test_rows_with_every_key_masked_give_zero_and_no_gradient(dtype, kind):
    mask = np.ones((4, 6), dtype=bool)
    mask[1] = False
    mask[3, 2:] = False
    if kind == "float":
        mask = np.where(mask, 0.0, -np.inf)
    out, expected, xs, ts = run_both(SHAPES["4-d"], dtype, mask=mask)
    assert not np.isnan(out.numpy()).any()
    np.testing.assert_array_equal(out.numpy()[:, :, 1], 0)
    check(out, expected, xs, ts, dtype)
    np.testing.assert_array_equal(xs[0].grad.numpy()[:, :, 1], 0)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_custom_scale_and_grouped_query_attention(dtype):
    out, expected, xs, ts = run_both(SHAPES["4-d"], dtype, scale=0.37)
    check(out, expected, xs, ts, dtype)
    out, expected, xs, ts = run_both([(2, 4, 3, 5), (2, 2, 6, 5), (2, 2, 6, 3)], dtype, enable_gqa=True)
    check(out, expected, xs, ts, dtype)


def test_batch_dims_broadcast_like_the_math_reference():
    rng = np.random.default_rng(3)
    q = cr.tensor(rng.standard_normal((2, 3, 4, 5)), requires_grad=True)
    k = cr.tensor(rng.standard_normal((1, 3, 6, 5)), requires_grad=True)
    v = cr.tensor(rng.standard_normal((6, 2)), requires_grad=True)
    out = F.scaled_dot_product_attention(q, k, v)
    reference = cr.softmax(q @ k.mT / math.sqrt(5), -1) @ v
    np.testing.assert_allclose(out.numpy(), reference.numpy(), rtol=1e-12)
    assert gradcheck(lambda q, k, v: F.scaled_dot_product_attention(q, k, v), q, k, v)


def test_a_tensor_used_as_query_key_and_value():
    x = cr.tensor(np.random.default_rng(4).standard_normal((2, 5, 4)), requires_grad=True)
    t = torch.tensor(x.numpy().copy(), requires_grad=True)
    out, expected = F.scaled_dot_product_attention(x, x, x), TF.scaled_dot_product_attention(t, t, t)
    check(out, expected, [x], [t], "float64")


def test_empty_sequences():
    q = cr.randn(2, 0, 3, requires_grad=True)
    k = cr.randn(2, 4, 3, requires_grad=True)
    v = cr.randn(2, 4, 5, requires_grad=True)
    assert F.scaled_dot_product_attention(q, k, v).shape == (2, 0, 5)
    out = F.scaled_dot_product_attention(cr.randn(2, 3, 3), k[:, :0], v[:, :0])
    np.testing.assert_array_equal(out.numpy(), np.zeros((2, 3, 5)))


# ---------------------------------------------------------------------- dropout


def test_dropout_zeroes_weights_with_probability_p_and_rescales_the_rest():
    cr.manual_seed(0)
    length = 64
    q = cr.zeros(4, 8, length, 3)  # all scores 0: every weight 1 / S
    v = cr.tensor(np.eye(length).astype(np.float32)).expand(4, 8, length, length)  # the output is the weights
    out = F.scaled_dot_product_attention(q, cr.zeros(4, 8, length, 3), v, dropout_p=0.25).numpy()
    kept = out != 0
    assert abs(1 - kept.mean() - 0.25) < 0.01
    np.testing.assert_allclose(out[kept], 1.0 / length / 0.75, rtol=1e-6)
    assert abs(out.sum(-1).mean() - 1.0) < 0.01  # E[output] is the undropped output


def test_dropout_is_reproducible_and_applied_only_when_asked():
    rng = np.random.default_rng(5)
    q, k, v = (cr.tensor(rng.standard_normal((2, 3, 5, 4)).astype(np.float32)) for _ in range(3))
    cr.manual_seed(7)
    first = F.scaled_dot_product_attention(q, k, v, dropout_p=0.5)
    cr.manual_seed(7)
    np.testing.assert_array_equal(first.numpy(), F.scaled_dot_product_attention(q, k, v, dropout_p=0.5).numpy())
    plain = F.scaled_dot_product_attention(q, k, v)
    assert not np.allclose(first.numpy(), plain.numpy())
    np.testing.assert_array_equal(plain.numpy(), F.scaled_dot_product_attention(q, k, v, dropout_p=0.0).numpy())


# ---------------------------------------------------------------------- the fused nodes against their references


def leaves(rng, *shapes):
    return [cr.tensor(rng.standard_normal(s), requires_grad=True) for s in shapes]


def assert_node_equals_reference(out, inputs, rng):
    node = out.grad_fn
    upstream = cr.tensor(rng.standard_normal(out.shape))
    out.backward(upstream, retain_graph=True)
    fused_grads = [t.grad.numpy().copy() for t in inputs]
    for t in inputs:
        t.grad = None
    reference = node.reference(*node.parents)
    np.testing.assert_allclose(reference.numpy(), out.numpy(), rtol=1e-12, atol=1e-13)
    reference.backward(upstream)
    for got, t in zip(fused_grads, inputs):
        np.testing.assert_allclose(got, t.grad.numpy(), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("case", ["plain", "float bias", "bool mask with dead rows", "causal", "dropout",
                                  "dropout and bias"])
def test_sdpa_node_equals_reference(case):
    rng = np.random.default_rng(6)
    q, k, v = leaves(rng, (2, 3, 4, 5), (2, 3, 6, 5), (2, 3, 6, 2))
    inputs, kwargs = [q, k, v], {}
    if "bias" in case:
        bias = leaves(rng, (3, 1, 6))[0]
        inputs.append(bias)
        kwargs["attn_mask"] = bias
    if case == "bool mask with dead rows":
        mask = rng.random((4, 6)) > 0.4
        mask[2] = False
        kwargs["attn_mask"] = cr.tensor(mask)
    if case == "causal":
        kwargs["is_causal"] = True
    if "dropout" in case:
        cr.manual_seed(0)
        kwargs["dropout_p"] = 0.3
    out = F.scaled_dot_product_attention(q, k, v, **kwargs)
    assert out.grad_fn.op == "scaled_dot_product_attention"
    if case == "bool mask with dead rows":
        assert out.grad_fn.dead is not None
    assert_node_equals_reference(out, inputs, rng)


@pytest.mark.parametrize("batch_first", [True, False])
@pytest.mark.parametrize("packed", [True, False])
@pytest.mark.parametrize("extras", ["none", "bias", "dropout"])
def test_multihead_core_node_equals_reference(batch_first, packed, extras):
    rng = np.random.default_rng(7)
    n, length, heads, width = 2, 4, 3, 6
    first, second = (n, length) if batch_first else (length, n)
    inputs = leaves(rng, (first, second, 3 * width)) if packed else leaves(rng, *[(first, second, width)] * 3)
    params = {"scale": 0.4, "heads": heads, "batch_first": batch_first, "packed": packed, "keep": None}
    if extras == "bias":
        inputs += leaves(rng, (n, 1, length, length))
    if extras == "dropout":
        params["keep"] = (rng.random((n, heads, length, length)) > 0.3) / 0.7
    out = fused.MultiheadAttentionCore.apply(*inputs, **params)
    assert out.shape == (first, second, width)
    assert_node_equals_reference(out, inputs, rng)


@pytest.mark.parametrize("kwargs", [{}, {"is_causal": True}, {"scale": 0.5}], ids=["plain", "causal", "scale"])
def test_gradcheck_and_gradgradcheck(kwargs):
    rng = np.random.default_rng(8)
    q, k, v = leaves(rng, (2, 3, 4), (2, 3, 4), (2, 3, 2))
    fn = lambda q, k, v: F.scaled_dot_product_attention(q, k, v, **kwargs)  # noqa: E731
    assert gradcheck(fn, q, k, v)
    assert gradgradcheck(fn, q, k, v)


def test_gradcheck_and_gradgradcheck_with_masks_and_dropout():
    rng = np.random.default_rng(9)
    q, k, v, bias = leaves(rng, (2, 3, 4), (2, 5, 4), (2, 5, 2), (3, 5))
    mask = cr.tensor(np.array([[True, False, True, True, False], [False] * 5, [True] * 5]))

    def with_bias(q, k, v, bias):
        return F.scaled_dot_product_attention(q, k, v, attn_mask=bias)

    def with_bool_mask_and_dropout(q, k, v):
        cr.manual_seed(1)  # the same dropout mask at every evaluation
        return F.scaled_dot_product_attention(q, k, v, attn_mask=mask, dropout_p=0.4)

    assert gradcheck(with_bias, q, k, v, bias) and gradgradcheck(with_bias, q, k, v, bias)
    assert gradcheck(with_bool_mask_and_dropout, q, k, v) and gradgradcheck(with_bool_mask_and_dropout, q, k, v)


# ---------------------------------------------------------------------- errors

Q, K, V = cr.randn(2, 4, 5), cr.randn(2, 6, 5), cr.randn(2, 6, 3)
ERRORS = [
    (lambda: F.scaled_dot_product_attention(Q, cr.randn(2, 6, 4), V), ValueError, "key must have the query's feature"),
    (lambda: F.scaled_dot_product_attention(Q, K, cr.randn(2, 5, 3)), ValueError, "value must have as many positions"),
    (lambda: F.scaled_dot_product_attention(Q, K, V, attn_mask=cr.ones(3, 6, dtype=cr.bool)), ValueError,
     "do not broadcast"),
    (lambda: F.scaled_dot_product_attention(Q, K, V, attn_mask=cr.ones(4, 6, dtype=cr.int64)), TypeError,
     "attn_mask must be bool or have the query's dtype"),
    (lambda: F.scaled_dot_product_attention(Q, K, V, attn_mask=cr.ones(4, 6, dtype=cr.float64)), TypeError,
     "attn_mask must be bool or have the query's dtype float32"),
    (lambda: F.scaled_dot_product_attention(Q, K, V, attn_mask=cr.ones(1, 1, 2, 4, 6)), ValueError, "more dims"),
    (lambda: F.scaled_dot_product_attention(Q, K, V, attn_mask=cr.zeros(4, 6), is_causal=True), ValueError,
     "either attn_mask or is_causal"),
    (lambda: F.scaled_dot_product_attention(Q, K, V, dropout_p=1.0), ValueError, r"must be a number in \[0, 1\)"),
    (lambda: F.scaled_dot_product_attention(cr.randn(5), K, V), ValueError, "query must have at least 2 dims"),
    (lambda: F.scaled_dot_product_attention(Q, K.double(), V), TypeError, "key has dtype float64"),
    (lambda: F.scaled_dot_product_attention(Q, K, V, scale="big"), TypeError, "scale must be a number"),
    (lambda: F.scaled_dot_product_attention(Q.numpy(), K, V), TypeError, "query must be a Tensor"),
    (lambda: F.scaled_dot_product_attention(cr.randn(2, 3, 4, 5), cr.randn(2, 2, 6, 5), cr.randn(2, 2, 6, 5),
                                            enable_gqa=True), ValueError, "same number of heads"),
    (lambda: F.scaled_dot_product_attention(cr.randn(2, 3, 4, 5), cr.randn(2, 2, 6, 5), cr.randn(2, 2, 6, 5)),
     ValueError, "batch dims of query, key and value do not broadcast"),
    (lambda: F.scaled_dot_product_attention(Q, K, cr.tensor(np.ones((2, 6, 3), dtype=np.int64))), TypeError,
     "value must be floating point"),
]


@pytest.mark.parametrize("call, error, message", ERRORS)
def test_errors(call, error, message):
    with pytest.raises(error, match=message):
        call()
