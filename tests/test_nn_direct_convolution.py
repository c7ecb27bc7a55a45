"""The direct convolution kernels (nn/fused/direct_convolution.py) and the Conv2d path that uses
them: equal to the window-matrix path and to the reference composition (float64 to 1e-12,
float32 to 1e-5 relative to the largest value), and to torch (outputs, dX, dW, db), for stride 1
and 2, padding 0, 1 and "same", dilation 2, odd sizes, batch 1, C != O, 1 x 1, 3 x 3 and 5 x 5
kernels and a 3-channel first layer; the same bits run to run on two threads; the generated
kernels' machine code multiplies whole vectors of channels."""
from __future__ import annotations

import platform
import re

import numpy as np
import pytest

import chainrule as cr
from chainrule.autograd import grad
from chainrule.engine import compiled
from chainrule.nn import functional as F
from chainrule.nn.fused import convolution

pytest.importorskip("numba")
torch = pytest.importorskip("torch")
direct = compiled.kernels(convolution.DIRECT)
pytestmark = pytest.mark.skipif(direct is None, reason="compiled kernels disabled (CHAINRULE_NO_NUMBA)")

TOLERANCES = {"float64": 1e-12, "float32": 1e-5}  # relative to the largest value compared

CASES = [  # x shape, weight shape, conv2d keywords
    pytest.param((2, 16, 9, 11), (16, 16, 3, 3), {"padding": 1}, id="3x3-stride1"),
    pytest.param((2, 16, 11, 10), (32, 16, 3, 3), {"stride": 2, "padding": 1}, id="3x3-stride2"),
    pytest.param((1, 20, 10, 19), (37, 20, 3, 3), {}, id="batch1-padding0-C!=O"),
    pytest.param((2, 9, 12, 13), (18, 9, 3, 3), {"padding": "same", "dilation": 2}, id="same-dilation2"),
    pytest.param((2, 8, 13, 12), (16, 8, 5, 5), {"padding": 2}, id="5x5"),
    pytest.param((2, 16, 9, 10), (32, 16, 1, 1), {"stride": 2}, id="1x1-stride2"),
    pytest.param((2, 16, 9, 10), (24, 16, 1, 1), {}, id="1x1"),
    pytest.param((3, 3, 12, 11), (16, 3, 3, 3), {"padding": 1}, id="first-layer-C3"),
    pytest.param((2, 4, 8, 9), (5, 4, 2, 3), {"stride": (1, 2), "padding": (1, 0), "dilation": (2, 1)},
                 id="asymmetric"),
]


@pytest.fixture
def window_path(monkeypatch):
    """A function running a callable with the direct kernels routed off (the window-matrix path)."""
    def run(function):
        with monkeypatch.context() as patch:
            patch.setattr(convolution, "_direct_kernels", lambda x: None)
            return function()
    return run


def _conv(x, w, b, kwargs, dtype, upstream):
    """Output and gradients (x, w[, b]) of F.conv2d on fresh leaves, and whether it ran direct."""
    leaves = [cr.tensor(a.astype(dtype), requires_grad=True) for a in (x, w) + ((b,) if b is not None else ())]
    out = F.conv2d(*leaves, **kwargs)
    ran_direct = out.grad_fn.direct is not None
    grads = grad(out, leaves, cr.tensor(upstream.astype(dtype)))
    return [out.numpy()] + [g.numpy() for g in grads], ran_direct


def _inputs(x_shape, w_shape, kwargs, bias, seed=0):
    rng = np.random.default_rng(seed)
    x, w = rng.standard_normal(x_shape), rng.standard_normal(w_shape)
    b = rng.standard_normal(w_shape[0]) if bias else None
    shape = F.conv2d(cr.tensor(x), cr.tensor(w), **kwargs).shape
    return x, w, b, rng.standard_normal(shape)


def _assert_close(ours, expected, tol, label):
    for name, a, e in zip(("out", "dx", "dw", "db"), ours, expected):
        scale = max(float(np.abs(e).max()), 1e-30)
        assert np.abs(a - e).max() <= tol * scale, f"{label}: {name}"


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("x_shape, w_shape, kwargs", CASES)
def test_direct_path_equals_window_path_and_torch(x_shape, w_shape, kwargs, bias, dtype, window_path):
    x, w, b, upstream = _inputs(x_shape, w_shape, kwargs, bias)
    ours, ran_direct = _conv(x, w, b, kwargs, dtype, upstream)
    assert ran_direct
    windows, ran_direct = window_path(lambda: _conv(x, w, b, kwargs, dtype, upstream))
    assert not ran_direct
    _assert_close(ours, windows, TOLERANCES[dtype], "against the window path")
    leaves = [torch.tensor(a.astype(dtype), requires_grad=True) for a in (x, w) + ((b,) if bias else ())]
    out = torch.nn.functional.conv2d(*leaves, **kwargs)
    expected = [out.detach().numpy()] + [g.numpy() for g in torch.autograd.grad(out, leaves,
                                                                                 torch.tensor(upstream.astype(dtype)))]
    _assert_close(ours, expected, TOLERANCES[dtype], "against torch")


@pytest.mark.parametrize("x_shape, w_shape, kwargs", CASES[:5])
def test_direct_path_equals_the_reference_composition(x_shape, w_shape, kwargs):
    x, w, b, upstream = _inputs(x_shape, w_shape, kwargs, True, seed=1)
    leaves = [cr.tensor(a, requires_grad=True) for a in (x, w, b)]
    out = F.conv2d(*leaves, **kwargs)
    assert out.grad_fn.direct is not None
    reference = out.grad_fn.reference(*leaves)
    fast = grad(out, leaves, cr.tensor(upstream), retain_graph=True)
    slow = grad(reference, leaves, cr.tensor(upstream))
    _assert_close([out.numpy()] + [g.numpy() for g in fast], [reference.numpy()] + [g.numpy() for g in slow],
                  TOLERANCES["float64"], "against the reference")


def test_channels_last_chain_and_second_order_gradients_match_torch():
    """Two direct convolutions chained (the second reads the first's channels-last output), and
    the gradient of a gradient (through the reference composition)."""
    rng = np.random.default_rng(3)
    arrays = [rng.standard_normal(s) for s in ((2, 8, 9, 10), (16, 8, 3, 3), (16, 16, 3, 3))]
    ours = [cr.tensor(a, requires_grad=True) for a in arrays]
    theirs = [torch.tensor(a, requires_grad=True) for a in arrays]
    y = F.conv2d(F.conv2d(ours[0], ours[1], padding=1), ours[2], stride=2)
    t = torch.nn.functional.conv2d(torch.nn.functional.conv2d(theirs[0], theirs[1], padding=1), theirs[2], stride=2)
    gx = grad((y * y).sum(), ours[0], create_graph=True)[0]
    tx = torch.autograd.grad((t * t).sum(), theirs[0], create_graph=True)[0]
    second = grad((gx * gx).sum(), ours[1:])
    expected = torch.autograd.grad((tx * tx).sum(), theirs[1:])
    np.testing.assert_allclose(gx.numpy(), tx.detach().numpy(), rtol=1e-10, atol=1e-10)
    for a, e in zip(second, expected):
        np.testing.assert_allclose(a.numpy(), e.numpy(), rtol=1e-10, atol=1e-8)


def test_same_bits_run_to_run_on_two_threads(monkeypatch):
    monkeypatch.setenv("CHAINRULE_NUM_THREADS", "2")
    from chainrule.nn import image_threads
    x, w, b, upstream = _inputs((8, 16, 32, 32), (16, 16, 3, 3), {"padding": 1}, True, seed=4)
    x = x.astype(np.float32)
    assert len(image_threads.image_parts(8, 32 * 32 * 9 * 16 * 4)) == min(2, image_threads.thread_count())
    runs = [_conv(x, w, b, {"padding": 1}, "float32", upstream)[0] for _ in range(3)]
    for run in runs[1:]:
        for a, e in zip(run, runs[0]):
            assert np.array_equal(a, e)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_kernels_equal_einsum_with_remainders(dtype):
    """The kernels themselves: full register blocks and the pixels and channels past them."""
    rng = np.random.default_rng(5)
    canvas = rng.standard_normal((2, 11, 21, 19)).astype(dtype)  # C = 19: two input blocks + 3
    weight = rng.standard_normal((3, 3, 19, 37)).astype(dtype)  # O = 37: two output blocks + 5
    bias = rng.standard_normal(37).astype(dtype)
    out = np.empty((2, 5, 10, 37), dtype)  # stride 2, dilation (1, 1): 10 pixels a row = 8 + 2
    direct.forward(canvas, weight, bias, out, 0, 2, (2, 2), (1, 1))
    windows = np.lib.stride_tricks.sliding_window_view(canvas, (3, 3), axis=(1, 2))[:, ::2, ::2]
    expected = np.einsum("nabcij,ijco->nabo", windows, weight) + bias
    np.testing.assert_allclose(out, expected, rtol=TOLERANCES[dtype], atol=TOLERANCES[dtype] * 10)
    grad_rows = rng.standard_normal(out.shape).astype(dtype)
    total = np.ones_like(weight)
    direct.weight_gradient(canvas, grad_rows, total, 0, 2, (2, 2), (1, 1))
    expected = 1 + np.einsum("nabcij,nabo->ijco", windows, grad_rows)
    np.testing.assert_allclose(total, expected, rtol=TOLERANCES[dtype] * 10, atol=TOLERANCES[dtype] * 100)


@pytest.mark.skipif(platform.machine() not in ("x86_64", "AMD64"), reason="x86 machine code")
def test_forward_kernel_multiplies_vectors_of_channels():
    """The register block is vectorized (LLVM's SLP vectorizer, on for these kernels only): packed
    single-precision multiply-adds (or multiplies) on ymm or zmm registers."""
    canvas, weight = np.zeros((1, 3, 10, 16), np.float32), np.zeros((3, 3, 16, 16), np.float32)
    args = (canvas, weight, np.zeros(16, np.float32), np.empty((1, 1, 8, 16), np.float32), 0, 1, 1, 1, 1, 1)
    kernel = direct.uncached_kernel("forward")
    direct.compile_vectorized(kernel, args)
    assembly = "\n".join(kernel.inspect_asm().values())
    if not re.search(r"\b(vfmadd|vmulps)", assembly):
        pytest.skip("no AVX on this machine")
    assert re.search(r"\b(vfmadd\d+ps|vmulps)\s[^\n]*%[yz]mm", assembly)


def test_empty_batch():
    x = cr.tensor(np.ones((0, 16, 8, 8)), requires_grad=True)
    w = cr.tensor(np.ones((16, 16, 3, 3)), requires_grad=True)
    y = F.conv2d(x, w, padding=1)
    assert y.grad_fn.direct is not None and y.shape == (0, 16, 8, 8)
    y.sum().backward()
    assert x.grad.shape == (0, 16, 8, 8)
    assert np.array_equal(w.grad.numpy(), np.zeros((16, 16, 3, 3)))


def test_kernel_source_files_and_the_fallback_without_a_cache_directory(monkeypatch, tmp_path):
    monkeypatch.setenv("NUMBA_CACHE_DIR", str(tmp_path))
    assert direct._source_directory() == tmp_path / "chainrule"
    monkeypatch.delenv("NUMBA_CACHE_DIR")
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert direct._source_directory() == tmp_path / "home" / ".cache" / "chainrule"

    def unwritable():
        raise OSError("read-only")
    monkeypatch.setattr(direct, "_source_directory", unwritable)
    kernel = direct._load("weight")  # from exec: not compiled until used
    assert not kernel.overloads and "rest(" in direct.weight_source()
