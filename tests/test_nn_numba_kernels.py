"""The compiled deep-net kernels (nn/fused/numba_kernels.py) equal their NumPy twins, float32
and float64: the GELU kernels within stated ulp bounds of the float64 formulas (scipy's erf) on a
dense grid and never less accurate than torch's, the GELU node against the engine's GELU (and
torch), the window scatter against the NumPy col2im, and the
layers that use them against torch both with the kernels and with ``CHAINRULE_NO_NUMBA=1``."""
from __future__ import annotations

import math
import re

import numpy as np
import pytest

import chainrule as cr
from chainrule.autograd import grad, gradcheck, gradgradcheck
from chainrule.engine import compiled, ops
from chainrule.nn import functional as F
from chainrule.nn import fused, im2col, kernel_choice
from chainrule.nn.im2col import Windows

numba = pytest.importorskip("numba")
special = pytest.importorskip("scipy.special")
torch = pytest.importorskip("torch")


@pytest.fixture
def kernels(monkeypatch):
    monkeypatch.delenv("CHAINRULE_NO_NUMBA", raising=False)
    module = compiled.kernels(kernel_choice.KERNELS)
    assert module is not None
    return module


@pytest.fixture(params=["numba", "numpy"])
def mode(request, monkeypatch):
    """Each layer test runs with the kernels and with CHAINRULE_NO_NUMBA=1."""
    if request.param == "numpy":
        monkeypatch.setenv("CHAINRULE_NO_NUMBA", "1")
    else:  # loaded, so that small arrays use them too (kernel_choice)
        monkeypatch.delenv("CHAINRULE_NO_NUMBA", raising=False)
        assert compiled.kernels(kernel_choice.KERNELS) is not None
    return request.param


def _gelu_reference(a):
    """y, Phi and dy/da in float64 (scipy's erf, NumPy's exp) at the float32 inputs a."""
    x = a.astype(np.float64)
    with np.errstate(invalid="ignore", over="ignore"):
        cdf = 0.5 * (1 + special.erf(x * (1 / math.sqrt(2))))
        return x * cdf, cdf, cdf + x * np.exp(-0.5 * x * x) / math.sqrt(2 * math.pi)


def _ulps(got, reference):
    """|got - reference| in units of the float32 spacing at the reference rounded to float32."""
    return np.abs(got - reference) / np.spacing(np.abs(reference.astype(np.float32))).astype(np.float64)


# A dense float32 grid: every 1e-5 of [-10, 10] plus tiny (subnormal) and huge magnitudes.
GRID = np.concatenate([np.linspace(-10, 10, 2_000_001), np.logspace(-45, -30, 2001), -np.logspace(-45, -30, 2001),
                       np.logspace(1, 38.5, 2001), -np.logspace(1, 38.5, 2001), [0.0, -0.0]]).astype(np.float32)

# (region, bound on y's error in float32 ulps, on Phi's, on dy/da's): measured on 20M points of
# [-10, 10] (2026-12-06): y 0.52 / 0.53 / 0.85 / 4.8 / 165 ulp, Phi 0.51 / 0.55 / 0.85 / 6.2 / 165,
# dy/da 1.01 / - / 1.6 / 1.3 / 11 (near dy/da = 0, at a = -0.75, only its absolute error is bounded).
# Below -3 Phi's absolute error (7e-10 at most) is a growing part of Phi; below -5.54 the kernel
# says Phi = 0 (erf rounds to -1 in float32), where the true y is above -8.3e-8.
GELU_ULPS = [((0.0, np.inf), 1.0, 1.0, 1.5), ((-1.0, 0.0), 1.0, 1.0, None), ((-2.0, -1.0), 1.0, 1.0, 2.0),
             ((-3.0, -2.0), 8.0, 8.0, 2.0), ((-4.0, -3.0), 200.0, 200.0, 15.0)]


def _gelu_kernels(kernels, a):
    out, cdf, dx = np.empty_like(a), np.empty_like(a), np.empty_like(a)
    kernels.gelu(a, out, cdf)
    kernels.gelu_gradient(np.ones_like(a), a, cdf, dx)
    return out, cdf, dx


def test_gelu_kernels_are_accurate_on_a_dense_grid(kernels):
    """y, Phi and dy/da against the float64 formulas, and never worse than torch's float32 GELU."""
    y, cdf, dx = _gelu_kernels(kernels, GRID)
    ref_y, ref_cdf, ref_dx = _gelu_reference(GRID)
    for (low, high), y_ulps, cdf_ulps, dx_ulps in GELU_ULPS:
        inside = (GRID >= low) & (GRID < high)
        assert _ulps(y, ref_y)[inside].max() <= y_ulps
        assert _ulps(cdf, ref_cdf)[inside].max() <= cdf_ulps
        if dx_ulps is not None:
            assert _ulps(dx, ref_dx)[inside].max() <= dx_ulps
    assert np.abs(y - ref_y)[GRID < 0].max() <= 8.3e-8  # measured 8.2e-8 (the clamp at -5.54)
    assert np.abs(cdf - ref_cdf).max() <= 3.1e-8  # half a float32 ulp at 1 is 3.0e-8; measured 3.05e-8
    assert np.abs(dx - ref_dx).max() <= 9.5e-8  # measured 9.0e-8 (torch: 2.9e-7)
    finite = np.abs(GRID) <= 10  # torch's GELU overflows to inf near float32's largest value
    a = GRID[finite]
    x = torch.tensor(a, requires_grad=True)
    twin_y = torch.nn.functional.gelu(x)
    twin_y.backward(torch.ones_like(twin_y))
    for got, twin, ref in ((y[finite], twin_y.detach().numpy(), ref_y[finite]), (dx[finite], x.grad.numpy(),
                                                                                 ref_dx[finite])):
        for low, high in [(-10, -5.5), (-5.5, -3), (-3, -1), (-1, 0), (0, 10.1)]:
            inside = (a >= low) & (a < high)
            assert np.abs(got - ref)[inside].max() <= np.abs(twin - ref)[inside].max()


def test_gelu_kernels_special_values(kernels):
    big = np.finfo(np.float32).max
    a = np.array([np.inf, -np.inf, np.nan, 0.0, -0.0, 1e-40, -1e-40, big, -big, 30.0, -30.0], dtype=np.float32)
    y, cdf, dx = _gelu_kernels(kernels, a)
    np.testing.assert_array_equal(y, np.float32([np.inf, -0.0, np.nan, 0.0, -0.0, 5e-41, -5e-41, big, -0.0, 30, -0.0]))
    assert list(np.signbit(y)) == [False, True, False, False, True, False, True, False, True, False, True]
    np.testing.assert_array_equal(cdf, np.float32([1, 0, np.nan, 0.5, 0.5, 0.5, 0.5, 1, 0, 1, 0]))
    np.testing.assert_array_equal(dx, np.float32([1, 0, np.nan, 0.5, 0.5, 0.5, 0.5, 1, 0, 1, 0]))


def test_gelu_backward_kernel_scales_the_gradient(kernels):
    """dx = g (Phi + a phi) rounded once: within 1 ulp of the float64 product of the kernel's own
    Phi (and 1e-10 of the terms' size, a phi's relative error being 1.3e-11 where Phi + a phi
    cancels near a = -0.75): the incoming gradient adds no error of its own."""
    rng = np.random.default_rng(0)
    a = (rng.standard_normal(200_000) * 3).astype(np.float32)
    g = rng.standard_normal(a.size).astype(np.float32)
    out, cdf, dx = np.empty_like(a), np.empty_like(a), np.empty_like(a)
    kernels.gelu(a, out, cdf)
    kernels.gelu_gradient(g, a, cdf, dx)
    x = a.astype(np.float64)
    a_phi = x * np.exp(-0.5 * x * x) / math.sqrt(2 * math.pi)
    reference = g * (cdf + a_phi)
    spacing = np.spacing(np.abs(reference.astype(np.float32))).astype(np.float64)
    assert np.all(np.abs(dx - reference) <= spacing + 1e-10 * np.abs(g) * (cdf + np.abs(a_phi)))


def test_gelu_kernels_are_vectorized(kernels):
    """The hot loops are SIMD (vector fused multiply-adds on ymm/zmm registers where the CPU has
    AVX) and call no libm exp or erf."""
    for kernel, arrays in ((kernels.gelu_forward_float32, 3), (kernels.gelu_backward, 4)):
        options = {key: value for key, value in kernel.targetoptions.items() if key not in ("cache", "nopython")}
        fresh = numba.njit(**options)(kernel.py_func)  # numba shows no assembly of cached code
        fresh(*(np.zeros(8, np.float32) for _ in range(arrays)))
        (assembly,) = fresh.inspect_asm().values()
        assert not re.search(r"\$(exp|erf)f?\b", assembly)
        if "%ymm" in assembly or "%zmm" in assembly:
            assert re.search(r"vfmadd\w+\s+%[yz]mm", assembly)


@pytest.mark.parametrize("dtype", [cr.float32, cr.float64])
@pytest.mark.parametrize("shape", [(64, 1024), (3, 40, 300)])
def test_gelu_layer_equals_torch(mode, dtype, shape):
    rng = np.random.default_rng(1)
    a = rng.standard_normal(shape) * 2
    x = cr.tensor(a, dtype=dtype, requires_grad=True)
    y = F.gelu(x.transpose(0, 1) if len(shape) == 3 else x)  # a non-contiguous input too
    assert (type(y.grad_fn) is fused.GELU) == (mode == "numba" and dtype == cr.float32)
    g = rng.standard_normal(y.shape)
    y.backward(cr.tensor(g, dtype=dtype))
    tdtype = torch.float32 if dtype == cr.float32 else torch.float64
    tx = torch.tensor(a, dtype=tdtype, requires_grad=True)
    ty = torch.nn.functional.gelu(tx.transpose(0, 1) if len(shape) == 3 else tx)
    ty.backward(torch.tensor(g, dtype=tdtype))
    tol = 2e-6 if dtype == cr.float32 else 1e-14
    np.testing.assert_allclose(y.numpy(), ty.detach().numpy(), rtol=tol, atol=tol)
    np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), rtol=tol, atol=tol)
    module_out = cr.nn.GELU()(x)
    np.testing.assert_array_equal(module_out.numpy(), F.gelu(x).numpy())
    if mode == "numpy":  # the fallback is the engine's op itself
        np.testing.assert_array_equal(F.gelu(x).numpy(), ops.gelu(x).numpy())


def test_gelu_tanh_takes_the_engine_op(kernels):
    big = cr.tensor(np.ones(1 << 16, dtype=np.float32), requires_grad=True)
    assert type(F.gelu(big, approximate="tanh").grad_fn) is not fused.GELU
    assert type(F.gelu(big).grad_fn) is fused.GELU
    with pytest.raises(ValueError):
        F.gelu(big, approximate="fast")


def test_small_arrays_load_no_kernels(kernels, monkeypatch):
    """Below MIN_SIZE the kernels are used only once loaded (numba's start-up costs ~1 s)."""
    small, big = np.ones(10, dtype=np.float32), np.ones(kernel_choice.MIN_SIZE, dtype=np.float32)
    assert kernel_choice.kernels_for(small) is kernels
    assert type(F.gelu(cr.tensor(np.ones(10, dtype=np.float64))).grad_fn) is not fused.GELU  # float64: the engine's
    monkeypatch.setattr(compiled, "loaded", lambda name: None)  # as in a process that has not loaded them
    assert kernel_choice.kernels_for(small) is None
    assert kernel_choice.kernels_for(big) is kernels
    assert kernel_choice.kernels_for(np.ones(1 << 16, dtype=np.int64)) is None
    assert type(F.gelu(cr.tensor(small, requires_grad=True)).grad_fn) is not fused.GELU
    monkeypatch.setenv("CHAINRULE_NO_NUMBA", "1")
    assert kernel_choice.kernels_for(big) is None


def test_gelu_node_equals_the_engine_op_and_has_second_derivatives(kernels):
    """float32: the forward to rounding (stated below), first and second derivatives too."""
    rng = np.random.default_rng(2)
    x32 = cr.tensor(rng.standard_normal((40, 50)) * 2, dtype=cr.float32)
    # the engine's float32 op rounds scipy's erf and 1 + erf: each 1.6 ulp from the truth at most for
    # a >= 0 and 8e-8 apart in the left tail, where the node is more accurate
    np.testing.assert_allclose(fused.GELU.apply(x32, kernels=kernels).numpy(), ops.gelu(x32).numpy(),
                               rtol=4e-7, atol=2e-7)
    x = cr.tensor(rng.standard_normal((3, 5)) * 2, dtype=cr.float32, requires_grad=True)
    v, w = (cr.tensor(rng.standard_normal((3, 5)), dtype=cr.float32) for _ in range(2))
    results = []
    for fn in (lambda t: fused.GELU.apply(t, kernels=kernels), ops.gelu):
        (first,) = grad(fn(x), [x], v, create_graph=True)  # the node's backward_graph: its reference
        (second,) = grad(first, [x], w)
        results.append((first.numpy(), second.numpy()))
    for a, b in zip(*results):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-6)


GEOMETRIES = [  # (kernel, stride, dilation, padding, size)
    ((3, 3), (1, 1), (1, 1), (1, 1), (9, 8)),
    ((3, 3), (2, 2), (1, 1), (1, 1), (9, 7)),
    ((1, 1), (2, 2), (1, 1), (0, 0), (8, 8)),
    ((3, 2), (1, 2), (2, 1), (2, 0), (7, 9)),
    ((5, 5), (1, 1), (1, 1), (-1, 4), (8, 8)),  # a crop on one axis (the flipped gradient's windows)
]


def _windows(kernel, stride, dilation, padding, size):
    grid = tuple((n + 2 * p - d * (k - 1) - 1) // s + 1 for n, p, d, k, s in zip(size, padding, dilation, kernel,
                                                                                  stride))
    return Windows(kernel, stride, dilation, grid, padding, size)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("geometry", GEOMETRIES)
def test_window_scatter_equals_numpy_col2im(kernels, monkeypatch, dtype, geometry):
    windows = _windows(*geometry)
    rng = np.random.default_rng(3)
    cols = rng.standard_normal((5 * windows.grid[0] * windows.grid[1], windows.taps * 3)).astype(dtype)
    fast_fold = im2col.fold_last(cols, windows, 5)
    monkeypatch.setenv("CHAINRULE_NO_NUMBA", "1")
    np.testing.assert_array_equal(fast_fold, im2col.fold_last(cols, windows, 5))


@pytest.mark.parametrize("dtype", [cr.float32, cr.float64])
@pytest.mark.parametrize("stride, padding, dilation", [(1, 1, 1), (2, 1, 1), (1, 2, 2), (2, 0, 1)])
def test_conv2d_equals_torch_with_and_without_kernels(mode, dtype, stride, padding, dilation):
    rng = np.random.default_rng(4)
    a, w, b = rng.standard_normal((4, 3, 9, 8)), rng.standard_normal((5, 3, 3, 3)), rng.standard_normal(5)
    x, weight, bias = (cr.tensor(v, dtype=dtype, requires_grad=True) for v in (a, w, b))
    y = F.conv2d(x, weight, bias, stride=stride, padding=padding, dilation=dilation)
    g = rng.standard_normal(y.shape)
    y.backward(cr.tensor(g, dtype=dtype))
    tdtype = torch.float32 if dtype == cr.float32 else torch.float64
    tx, tw, tb = (torch.tensor(v, dtype=tdtype, requires_grad=True) for v in (a, w, b))
    ty = torch.nn.functional.conv2d(tx, tw, tb, stride=stride, padding=padding, dilation=dilation)
    ty.backward(torch.tensor(g, dtype=tdtype))
    tol = 1e-4 if dtype == cr.float32 else 1e-12
    np.testing.assert_allclose(y.numpy(), ty.detach().numpy(), rtol=tol, atol=tol)
    for ours, theirs in ((x, tx), (weight, tw), (bias, tb)):
        np.testing.assert_allclose(ours.grad.numpy(), theirs.grad.numpy(), rtol=tol, atol=tol)


def _mask(kind, length, keys, rng):
    if kind == "none":
        return None
    if kind == "bool":
        mask = rng.random((length, keys)) < 0.7
        mask[1] = False  # a fully masked query row: 0 output, no gradient (torch gives NaN)
        mask[0, 0] = True
        return mask
    return rng.standard_normal((2, 1, length, keys))  # float, broadcast over the heads


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", [(2, 3, 7, 5, 4), (3, 6, 6, 8), (5, 9, 3)])
@pytest.mark.parametrize("mask_kind", ["none", "bool", "float"])
def test_attention_softmax_kernels_equal_numpy_twin(monkeypatch, dtype, shape, mask_kind):
    """Values and gradients of scaled_dot_product_attention with the compiled softmax passes and
    without (CHAINRULE_NO_NUMBA=1), causal too: equal to rounding (exp2 may differ by an ulp)."""
    rng = np.random.default_rng(5)
    *batch, length, keys, width = shape if len(shape) == 5 else (shape[0], shape[1], shape[1], shape[2])
    q = rng.standard_normal((*batch, length, width))
    k, v = rng.standard_normal((*batch, keys, width)), rng.standard_normal((*batch, keys, width))
    mask = _mask(mask_kind, length, keys, rng) if len(batch) == 2 or mask_kind != "float" else None
    upstream = rng.standard_normal((*batch, length, width))
    results = []
    for flag in ("0", "1"):
        monkeypatch.setenv("CHAINRULE_NO_NUMBA", flag)
        for causal in (False, True):
            if causal and (mask is not None or length != keys):
                continue
            tensors = [cr.tensor(a.astype(dtype), requires_grad=True) for a in (q, k, v)]
            out = F.scaled_dot_product_attention(*tensors, attn_mask=None if mask is None else cr.tensor(
                                                     mask if mask.dtype == bool else mask.astype(dtype)),
                                                 is_causal=causal)
            out.backward(cr.tensor(upstream.astype(dtype)))
            results.append([out.numpy()] + [t.grad.numpy() for t in tensors])
    tol = 2e-5 if dtype == np.float32 else 1e-12
    half = len(results) // 2
    for fast, slow in zip(results[:half], results[half:]):
        for a, b in zip(fast, slow):
            np.testing.assert_allclose(a, b, rtol=tol, atol=tol)


def test_transformer_layer_equals_torch_with_and_without_kernels(mode):
    rng = np.random.default_rng(6)
    cr.manual_seed(0)
    layer = cr.nn.TransformerEncoderLayer(16, 4, 32, dropout=0.0, activation="gelu", batch_first=True,
                                          norm_first=True)
    twin = torch.nn.TransformerEncoderLayer(16, 4, 32, dropout=0.0, activation="gelu", batch_first=True,
                                            norm_first=True)
    twin.load_state_dict({k: torch.tensor(v.numpy()) for k, v in layer.state_dict().items()})
    a = rng.standard_normal((64, 40, 16)).astype(np.float32)  # 64 x 40 x 32 = 81,920 GELU inputs
    mask = np.triu(np.full((40, 40), -np.inf, dtype=np.float32), 1)
    x, tx = cr.tensor(a, requires_grad=True), torch.tensor(a, requires_grad=True)
    y = layer(x, src_mask=cr.tensor(mask))
    ty = twin(tx, src_mask=torch.tensor(mask))
    g = rng.standard_normal(y.shape).astype(np.float32)
    y.backward(cr.tensor(g))
    ty.backward(torch.tensor(g))
    np.testing.assert_allclose(y.numpy(), ty.detach().numpy(), rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), rtol=1e-4, atol=1e-4)
    for name, p in layer.named_parameters():
        np.testing.assert_allclose(p.grad.numpy(), dict(twin.named_parameters())[name].grad.numpy(),
                                   rtol=1e-3, atol=1e-3)


@pytest.mark.parametrize("dtype", [cr.float32, cr.float64])
@pytest.mark.parametrize("affine", [(True, True), (True, False), (False, False)])
@pytest.mark.parametrize("shape, normalized", [((6, 5, 12), (12,)), ((4, 3, 4, 5), (4, 5)), ((7, 1), (1,))])
def test_layer_norm_equals_torch_with_and_without_kernels(mode, dtype, affine, shape, normalized):
    rng = np.random.default_rng(7)
    a = rng.standard_normal(shape) * 3 + 1
    x = cr.tensor(a, dtype=dtype, requires_grad=True)
    tdtype = torch.float32 if dtype == cr.float32 else torch.float64
    tx = torch.tensor(a, dtype=tdtype, requires_grad=True)
    params = [rng.standard_normal(normalized) if use else None for use in affine]
    ours = [None if p is None else cr.tensor(p, dtype=dtype, requires_grad=True) for p in params]
    theirs = [None if p is None else torch.tensor(p, dtype=tdtype, requires_grad=True) for p in params]
    y = F.layer_norm(x.transpose(0, 1).transpose(0, 1), normalized, *ours, eps=1e-5)  # a non-contiguous path
    ty = torch.nn.functional.layer_norm(tx, normalized, *theirs, eps=1e-5)
    assert (getattr(y.grad_fn, "kernels", None) is not None) == (mode == "numba")
    g = rng.standard_normal(shape)
    y.backward(cr.tensor(g, dtype=dtype))
    ty.backward(torch.tensor(g, dtype=tdtype))
    tol = 1e-4 if dtype == cr.float32 else 1e-12
    np.testing.assert_allclose(y.numpy(), ty.detach().numpy(), rtol=tol, atol=tol)
    np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), rtol=tol, atol=tol)
    for p, tp in zip(ours, theirs):
        if p is not None:
            np.testing.assert_allclose(p.grad.numpy(), tp.grad.numpy(), rtol=tol, atol=tol)


def test_layer_norm_kernel_has_second_derivatives(kernels):
    rng = np.random.default_rng(8)
    x = cr.tensor(rng.standard_normal((3, 4)), requires_grad=True)
    w = cr.tensor(rng.standard_normal(4), requires_grad=True)
    b = cr.tensor(rng.standard_normal(4), requires_grad=True)
    fn = lambda *t: F.layer_norm(t[0], (4,), t[1], t[2])  # noqa: E731
    assert fn(x, w, b).grad_fn.kernels is not None
    assert gradcheck(fn, (x, w, b))
    assert gradgradcheck(fn, (x, w, b))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_layer_norm_kernels_equal_the_numpy_twin(kernels, dtype):
    rng = np.random.default_rng(9)
    x = (rng.standard_normal((300, 128)) * 2 + 3).astype(dtype)
    w, b = rng.standard_normal(128).astype(dtype), rng.standard_normal(128).astype(dtype)
    xhat, out, rstd = np.empty_like(x), np.empty_like(x), np.empty(300, dtype=dtype)
    kernels.layer_norm(x, w, b, 1e-5, xhat, rstd, out)
    centred = x - x.mean(axis=1, keepdims=True)
    ref_rstd = 1 / np.sqrt((centred * centred).mean(axis=1) + dtype(1e-5))
    tol = 2e-6 if dtype == np.float32 else 1e-14
    np.testing.assert_allclose(rstd, ref_rstd, rtol=tol)
    np.testing.assert_allclose(xhat, centred * ref_rstd[:, None], rtol=tol, atol=tol)
    np.testing.assert_allclose(out, xhat * w + b, rtol=tol, atol=tol)
    g = rng.standard_normal(x.shape).astype(dtype)
    dx = np.empty_like(x)
    kernels.layer_norm_backward(g, w, xhat, rstd, dx)
    d = g * w
    ref = (d - d.mean(axis=1, keepdims=True) - xhat * (d * xhat).mean(axis=1, keepdims=True)) * rstd[:, None]
    np.testing.assert_allclose(dx, ref, rtol=10 * tol, atol=10 * tol)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_embedding_scatter_kernel_equals_numpy_add_at_bit_for_bit(kernels, dtype):
    """add_rows_at does numpy.add.at's additions in its order: the same bits, repeated indices
    included (every row of a small table is hit many times)."""
    rng = np.random.default_rng(7)
    indices = rng.integers(0, 13, 5000)
    rows = rng.standard_normal((5000, 37)).astype(dtype)
    expected, total = np.zeros((13, 37), dtype), np.zeros((13, 37), dtype)
    np.add.at(expected, indices, rows)
    kernels.add_rows(total, indices, rows)
    np.testing.assert_array_equal(total, expected)
    strided = np.zeros((13, 37), dtype)  # rows that are a non-contiguous view
    kernels.add_rows(strided, indices[::2], rows[::2])
    expected = np.zeros((13, 37), dtype)
    np.add.at(expected, indices[::2], rows[::2])
    np.testing.assert_array_equal(strided, expected)


@pytest.mark.parametrize("padding_idx", [None, 3])
def test_embedding_gradient_is_the_same_with_and_without_kernels(monkeypatch, padding_idx):
    """The token-embedding gradient of a (64, 128) batch over a 20-row table (the compiled path)
    equals CHAINRULE_NO_NUMBA=1's numpy.add.at bit for bit, and torch's to float32 rounding."""
    rng = np.random.default_rng(8)
    tokens = rng.integers(0, 20, (64, 128))
    upstream = rng.standard_normal((64, 128, 16)).astype(np.float32)
    table = rng.standard_normal((20, 16)).astype(np.float32)
    grads = {}
    for mode in ("numba", "numpy"):
        if mode == "numpy":
            monkeypatch.setenv("CHAINRULE_NO_NUMBA", "1")
        else:
            monkeypatch.delenv("CHAINRULE_NO_NUMBA", raising=False)
        weight = cr.tensor(table, requires_grad=True)
        F.embedding(cr.tensor(tokens), weight, padding_idx=padding_idx).backward(cr.tensor(upstream))
        grads[mode] = weight.grad.numpy()
    np.testing.assert_array_equal(grads["numba"], grads["numpy"])
    reference = torch.tensor(table, requires_grad=True)
    torch.nn.functional.embedding(torch.tensor(tokens), reference, padding_idx=padding_idx).backward(
        torch.tensor(upstream))
    np.testing.assert_allclose(grads["numba"], reference.grad.numpy(), rtol=1e-5, atol=1e-5)
