"""The compiled attention (nn/fused/attention_kernels.py) against the node's NumPy path
(``CHAINRULE_NO_NUMBA=1``, the reference) and torch.nn.functional.scaled_dot_product_attention:
values and gradients, float32 and float64, causal and not, bool / float / key-padding masks,
fully masked rows (0, no NaN), dropout's keep mask, odd lengths, head widths 5 to 64, the
packed (…, 3 E) projection of MultiheadAttention; gradcheck in float64 on the kernel path."""
from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
from chainrule.autograd import gradcheck, gradgradcheck
from chainrule.engine import compiled
from chainrule.nn import functional as F
from chainrule.nn.fused import attention as attention_module

pytest.importorskip("numba")
torch = pytest.importorskip("torch")

TOL = {np.float32: 2e-5, np.float64: 1e-12}


class Calls:
    """Counts the compiled kernel's forward and backward calls."""

    def __init__(self, monkeypatch):
        module = compiled.kernels(attention_module.ATTENTION_KERNELS)
        assert module is not None
        self.forward = self.backward = 0
        forward, backward = module.forward, module.backward

        def counted_forward(*args):
            self.forward += 1
            return forward(*args)

        def counted_backward(*args):
            self.backward += 1
            return backward(*args)
        monkeypatch.setattr(module, "forward", counted_forward)
        monkeypatch.setattr(module, "backward", counted_backward)


@pytest.fixture
def calls(monkeypatch):
    """The kernel on every mask (and none), as its tests need."""
    monkeypatch.delenv("CHAINRULE_NO_NUMBA", raising=False)
    monkeypatch.setattr(attention_module, "KERNEL_MAX_VISITED", 1.0)
    return Calls(monkeypatch)


@pytest.mark.parametrize("kind, expected", [("none", 0), ("causal", 1), ("bool", 0)])
def test_kernel_runs_by_default_where_the_mask_skips_enough(monkeypatch, kind, expected):
    monkeypatch.delenv("CHAINRULE_NO_NUMBA", raising=False)
    counter = Calls(monkeypatch)
    rng = np.random.default_rng(7)
    q, k, v = (rng.standard_normal((2, 3, 16, 8)).astype(np.float32) for _ in range(3))
    sdpa(q, k, v, q, mask_of(kind, [2, 3], 16, 16, rng, np.float32), kind == "causal")
    assert (counter.forward, counter.backward) == (expected, expected)


def mask_of(kind, batch, length, keys, rng, dtype):
    if kind == "none" or kind == "causal":
        return None
    if kind == "bool":
        mask = rng.random((length, keys)) < 0.7
        mask[length // 2] = False  # a fully masked query row
        return cr.tensor(mask)
    if kind == "float":
        mask = rng.standard_normal((*batch[:1], 1, length, keys)[-len(batch) - 2:])  # broadcast over dim -3
        mask[..., 0, :] = -np.inf  # a fully masked query row
        mask[..., -1, 1:] = -np.inf
        return cr.tensor(mask.astype(dtype))
    raise ValueError(kind)


def sdpa(q, k, v, upstream, mask, causal, dropout=0.0):
    tensors = [cr.tensor(a, requires_grad=True) for a in (q, k, v)]
    cr.manual_seed(3)
    out = F.scaled_dot_product_attention(*tensors, attn_mask=mask, is_causal=causal, dropout_p=dropout)
    out.backward(cr.tensor(upstream))
    return [out.numpy()] + [t.grad.numpy() for t in tensors]


def torch_sdpa(q, k, v, upstream, mask, causal):
    tensors = [torch.tensor(a, requires_grad=True) for a in (q, k, v)]
    tmask = None if mask is None else torch.tensor(mask.numpy())
    out = torch.nn.functional.scaled_dot_product_attention(*tensors, attn_mask=tmask, is_causal=causal)
    out.backward(torch.tensor(upstream))
    return [out.detach().numpy()] + [t.grad.numpy() for t in tensors]


SHAPES = [  # (*batch, L, S, d, dv)
    (2, 3, 7, 7, 8, 8), (2, 3, 9, 13, 16, 16), (3, 33, 33, 32, 32), (2, 2, 20, 17, 64, 64), (2, 5, 5, 5, 5),
    (1, 2, 40, 40, 24, 40), (4, 1, 1, 3, 3), (6, 18, 18, 32, 32),
]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", SHAPES, ids=str)
@pytest.mark.parametrize("kind", ["none", "causal", "bool", "float"])
def test_kernel_equals_numpy_path_and_torch(calls, monkeypatch, dtype, shape, kind):
    *batch, length, keys, width, v_width = shape
    if kind == "causal" and length != keys:
        pytest.skip("causal: square only here")
    rng = np.random.default_rng(sum(shape))
    q = rng.standard_normal((*batch, length, width)).astype(dtype)
    k = rng.standard_normal((*batch, keys, width)).astype(dtype)
    v = rng.standard_normal((*batch, keys, v_width)).astype(dtype)
    upstream = rng.standard_normal((*batch, length, v_width)).astype(dtype)
    mask = mask_of(kind, batch, length, keys, rng, dtype)
    fast = sdpa(q, k, v, upstream, mask, kind == "causal")
    assert calls.forward == 1 and calls.backward == 1
    monkeypatch.setenv("CHAINRULE_NO_NUMBA", "1")
    slow = sdpa(q, k, v, upstream, mask, kind == "causal")
    assert calls.forward == 1
    tol = TOL[dtype]
    for a, b in zip(fast, slow):
        assert not np.isnan(a).any()
        np.testing.assert_allclose(a, b, rtol=tol, atol=tol)
    if kind in ("none", "causal", "float"):  # torch gives NaN on a fully masked row of a bool mask
        for a, b in zip(fast, torch_sdpa(q, k, v, upstream, mask, kind == "causal")):
            finite = ~np.isnan(b)  # torch: NaN from a fully masked row; ours: 0
            np.testing.assert_allclose(a[finite], b[finite], rtol=10 * tol, atol=10 * tol)


def test_fully_masked_rows_give_zero_and_no_gradient(calls):
    rng = np.random.default_rng(1)
    q, k, v = (rng.standard_normal((2, 3, 6, 8)).astype(np.float32) for _ in range(3))
    mask = np.ones((6, 6), dtype=bool)
    mask[2] = False
    upstream = rng.standard_normal((2, 3, 6, 8)).astype(np.float32)
    out, dq, dk, dv = sdpa(q, k, v, upstream, cr.tensor(mask), False)
    assert calls.forward == 1
    assert (out[..., 2, :] == 0).all() and (dq[..., 2, :] == 0).all()
    assert not any(np.isnan(a).any() for a in (out, dq, dk, dv))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_dropout_keep_mask_equals_numpy_path(calls, monkeypatch, dtype):
    rng = np.random.default_rng(2)
    q, k, v = (rng.standard_normal((2, 3, 19, 16)).astype(dtype) for _ in range(3))
    upstream = rng.standard_normal((2, 3, 19, 16)).astype(dtype)
    fast = sdpa(q, k, v, upstream, None, True, dropout=0.3)
    assert calls.forward == 1
    monkeypatch.setenv("CHAINRULE_NO_NUMBA", "1")
    slow = sdpa(q, k, v, upstream, None, True, dropout=0.3)
    for a, b in zip(fast, slow):
        np.testing.assert_allclose(a, b, rtol=TOL[dtype], atol=TOL[dtype])


def test_bias_that_needs_a_gradient_takes_the_numpy_backward(calls):
    rng = np.random.default_rng(4)
    q, k, v = (rng.standard_normal((2, 2, 5, 8)) for _ in range(3))
    bias = rng.standard_normal((5, 5))
    tensors = [cr.tensor(a, requires_grad=True) for a in (q, k, v, bias)]
    out = F.scaled_dot_product_attention(*tensors[:3], attn_mask=tensors[3])
    out.sum().backward()
    assert calls.forward == 1 and calls.backward == 0
    twins = [torch.tensor(a, requires_grad=True) for a in (q, k, v, bias)]
    torch.nn.functional.scaled_dot_product_attention(*twins[:3], attn_mask=twins[3]).sum().backward()
    for t, twin in zip(tensors, twins):
        np.testing.assert_allclose(t.grad.numpy(), twin.grad.numpy(), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("causal", [False, True])
def test_gradcheck_and_gradgradcheck_on_the_kernel_path(calls, causal):
    rng = np.random.default_rng(5)
    tensors = [cr.tensor(rng.standard_normal((2, 2, 4, 3)), requires_grad=True) for _ in range(3)]
    assert gradcheck(lambda q, k, v: F.scaled_dot_product_attention(q, k, v, is_causal=causal), tensors)
    assert calls.backward > 0
    assert gradgradcheck(lambda q, k, v: F.scaled_dot_product_attention(q, k, v, is_causal=causal), tensors)


@pytest.mark.parametrize("batch_first", [True, False])
def test_multihead_attention_with_padding_equals_torch(calls, batch_first):
    rng = np.random.default_rng(6)
    cr.manual_seed(0)
    layer = cr.nn.MultiheadAttention(32, 4, batch_first=batch_first)
    twin = torch.nn.MultiheadAttention(32, 4, batch_first=batch_first)
    twin.load_state_dict({k: torch.tensor(v.numpy()) for k, v in layer.state_dict().items()})
    shape = (3, 11, 32) if batch_first else (11, 3, 32)
    x = rng.standard_normal(shape).astype(np.float32)
    padding = np.zeros((3, 11), dtype=bool)
    padding[0, 7:] = True
    padding[2, ::3] = True
    upstream = rng.standard_normal(shape).astype(np.float32)
    tx, cx = torch.tensor(x, requires_grad=True), cr.tensor(x, requires_grad=True)
    out, _ = layer(cx, cx, cx, key_padding_mask=cr.tensor(padding), need_weights=False)
    tout, _ = twin(tx, tx, tx, key_padding_mask=torch.tensor(padding), need_weights=False)
    out.backward(cr.tensor(upstream))
    tout.backward(torch.tensor(upstream))
    assert calls.forward == 1 and calls.backward == 1
    np.testing.assert_allclose(out.numpy(), tout.detach().numpy(), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(cx.grad.numpy(), tx.grad.numpy(), rtol=1e-4, atol=1e-5)
    for name, p in layer.named_parameters():
        np.testing.assert_allclose(p.grad.numpy(), dict(twin.named_parameters())[name].grad.numpy(),
                                   rtol=1e-4, atol=1e-4)


def test_key_limits_find_prefix_masks():
    module = compiled.kernels(attention_module.ATTENTION_KERNELS)
    causal = np.triu(np.full((4, 5), -np.inf), 1)
    limits, bias = module.key_limits(causal, 4, 5)
    assert limits.tolist() == [1, 2, 3, 4] and bias is None
    general = causal.copy()
    general[1, 0] = 0.5
    limits, bias = module.key_limits(general, 4, 5)
    assert limits.tolist() == [1, 2, 3, 4] and bias is general
    padding = np.zeros((2, 1, 1, 5))
    padding[0, ..., 3:] = -np.inf
    padding[1, ..., 1] = -np.inf
    limits, bias = module.key_limits(padding, 4, 5)
    assert limits.tolist() == [5, 5, 5, 5] and bias is padding
    limits, bias = module.key_limits(None, 3, 7)
    assert limits.tolist() == [7, 7, 7] and bias is None


def test_exp2_coefficients_are_accurate():
    module = compiled.kernels(attention_module.ATTENTION_KERNELS)
    f = np.linspace(0.0, 1.0, 10_001)
    for char, bound in (("f", 3e-9), ("d", 3e-15)):
        value = np.polynomial.polynomial.polyval(f, module.EXP2_COEFFICIENTS[char])
        assert np.max(np.abs(value / 2.0 ** f - 1)) < bound


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_register_tile_product_equals_numpy(dtype):
    """The generated tile product (the kernels' every product) adds a[:count, :inner] @ b[:inner,
    :width] into out, for count a multiple of 4 and width of 16, and touches nothing beyond."""
    numba = pytest.importorskip("numba")
    kernels = pytest.importorskip("chainrule.nn.fused.attention_kernels")

    @numba.njit
    def run(a, b, count, inner, width, out):
        kernels.product(a, b, count, inner, width, out)

    rng = np.random.default_rng(9)
    a, b = rng.standard_normal((12, 37)).astype(dtype), rng.standard_normal((37, 48)).astype(dtype)
    start = rng.standard_normal((12, 48)).astype(dtype)
    out = start.copy()
    run(a, b, 8, 29, 32, out)
    expected = start.copy()
    expected[:8, :32] += a[:8, :29] @ b[:29, :32]
    tol = TOL[dtype]
    np.testing.assert_allclose(out, expected, rtol=tol, atol=tol)
    np.testing.assert_array_equal(out[8:], start[8:])
    np.testing.assert_array_equal(out[:, 32:], start[:, 32:])
