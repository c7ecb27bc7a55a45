"""The convolution and pooling fast paths equal the reference compositions they name
(nn/fused/convolution.py, nn/fused/pooling.py), in float64 to 1e-12: values and the gradients of
every input under a random upstream gradient, and the second derivatives (which differentiate
that same composition). unfold and fold (nn/im2col.py) equal torch's, are each other's adjoint,
and are differentiable to any order."""
from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
from chainrule.autograd import grad, gradcheck, gradgradcheck
from chainrule.nn import functional as F
from chainrule.nn import fused
from chainrule.nn.im2col import Fold, Unfold

torch = pytest.importorskip("torch")
TF = torch.nn.functional

RTOL, ATOL = 1e-12, 1e-12


def leaf(rng, *shape):
    return cr.tensor(rng.standard_normal(shape), dtype=cr.float64, requires_grad=True)


def assert_node_equals_reference(out, inputs):
    """``out`` is a fused node's output: its value and the gradients of its inputs under a random
    upstream gradient equal those of ``node.reference(*inputs)``."""
    node = out.grad_fn
    assert isinstance(node, fused.composed.ComposedBackward)
    upstream = cr.tensor(np.random.default_rng(0).standard_normal(out.shape))
    reference = node.reference(*inputs)
    np.testing.assert_allclose(out.numpy(), reference.numpy(), rtol=RTOL, atol=ATOL)
    fast = grad(out, inputs, upstream, retain_graph=True)
    slow = grad(reference, inputs, upstream)
    for a, b in zip(fast, slow):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=RTOL, atol=ATOL)


CONVOLUTIONS = [
    pytest.param((2, 3, 7, 9), (4, 3, 3, 3), {"stride": 2, "padding": 1}, id="stride2"),
    pytest.param((2, 4, 7, 9), (6, 2, 3, 2), {"stride": (1, 2), "padding": (2, 1), "dilation": 2, "groups": 2},
                 id="groups-dilation"),
    pytest.param((2, 4, 6, 5), (4, 1, 3, 3), {"padding": "same", "groups": 4}, id="depthwise-same"),
    pytest.param((1, 2, 5, 5), (3, 2, 1, 1), {}, id="1x1"),
    pytest.param((2, 3, 7, 9), (4, 3, 4, 2), {"padding": "same", "dilation": (1, 3)}, id="same-asymmetric"),
    pytest.param((3, 4, 6, 5), (5, 4, 3, 3), {"padding": 1}, id="resnet-3x3"),
    pytest.param((2, 3, 5, 4), (2, 3, 3, 2), {"padding": (3, 2)}, id="padding-beyond-the-kernel"),
    pytest.param((2, 3, 7, 6), (4, 3, 1, 1), {"stride": 2}, id="1x1-stride2"),
    pytest.param((2, 2, 9, 8), (3, 2, 2, 3), {"stride": (2, 3), "dilation": 2}, id="strided-dilated-unpadded"),
]


@pytest.mark.parametrize("x_shape, w_shape, kwargs", CONVOLUTIONS)
@pytest.mark.parametrize("bias", [True, False])
def test_convolution_equals_unfold_then_matmul(x_shape, w_shape, kwargs, bias):
    rng = np.random.default_rng(1)
    inputs = [leaf(rng, *x_shape), leaf(rng, *w_shape)] + ([leaf(rng, w_shape[0])] if bias else [])
    out = F.conv2d(*inputs, **kwargs)
    assert out.grad_fn.op == "conv2d"
    assert_node_equals_reference(out, inputs)


@pytest.mark.parametrize("dtype, tol", [("float32", 2e-5), ("float64", 1e-12)])
@pytest.mark.parametrize("kwargs", [{"padding": 1}, {"stride": 2, "padding": 1}, {"stride": 2}])
def test_convolution_of_every_memory_layout_matches_torch(kwargs, dtype, tol):
    """Channels-last, channel-first and transposed inputs and upstream gradients (the fast path's
    window copies and gradient views read any strides), chained into a second convolution."""
    rng = np.random.default_rng(8)
    x, w1, w2 = (rng.standard_normal(s).astype(dtype) for s in ((2, 3, 7, 6), (4, 3, 3, 3), (5, 4, 3, 1)))
    for order in ((0, 2, 3, 1), (1, 0, 2, 3), (0, 1, 3, 2)):
        stored = np.ascontiguousarray(x.transpose(order))
        back = [int(i) for i in np.argsort(order)]
        ours = [cr.tensor(a, requires_grad=True) for a in (stored, w1, w2)]
        theirs = [torch.tensor(a, requires_grad=True) for a in (stored, w1, w2)]
        out = F.conv2d(F.conv2d(ours[0].permute(*back), ours[1], **kwargs), ours[2], padding=(1, 0))
        expected = TF.conv2d(TF.conv2d(theirs[0].permute(*back), theirs[1], **kwargs), theirs[2], padding=(1, 0))
        upstream = rng.standard_normal(tuple(expected.shape)).astype(dtype)
        up_ours = cr.tensor(np.ascontiguousarray(upstream.transpose(order))).permute(*back)
        out.backward(up_ours)
        expected.backward(torch.tensor(upstream))
        np.testing.assert_allclose(out.numpy(), expected.detach().numpy(), rtol=tol, atol=tol)
        for a, b in zip(ours, theirs):
            np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), rtol=tol, atol=tol)


TRANSPOSED = [
    pytest.param((2, 4, 5, 6), (4, 3, 3, 3), {"stride": 2, "padding": 1, "output_padding": 1}, id="stride2"),
    pytest.param((2, 4, 5, 6), (4, 3, 3, 2), {"stride": (2, 3), "padding": (0, 2), "output_padding": (1, 0),
                                              "groups": 2, "dilation": (1, 2)}, id="groups-dilation"),
    pytest.param((2, 4, 3, 3), (4, 2, 3, 3), {"padding": 0, "output_padding": 2, "dilation": 3}, id="output-padding"),
]


@pytest.mark.parametrize("x_shape, w_shape, kwargs", TRANSPOSED)
@pytest.mark.parametrize("bias", [True, False])
def test_transposed_convolution_equals_matmul_then_fold(x_shape, w_shape, kwargs, bias):
    rng = np.random.default_rng(2)
    channels = w_shape[1] * kwargs.get("groups", 1)
    inputs = [leaf(rng, *x_shape), leaf(rng, *w_shape)] + ([leaf(rng, channels)] if bias else [])
    out = F.conv_transpose2d(*inputs, **kwargs)
    assert out.grad_fn.op == "conv_transpose2d"
    assert_node_equals_reference(out, inputs)


POOLS = [
    pytest.param(lambda x: F.max_pool2d(x, 3, 2, 1), "max_pool2d", id="max-overlapping"),
    pytest.param(lambda x: F.max_pool2d(x, 2), "max_pool2d", id="max-disjoint"),
    pytest.param(lambda x: F.max_pool2d(x, (3, 2), (2, 1), 1, dilation=2, ceil_mode=True), "max_pool2d",
                 id="max-dilated-ceil"),
    pytest.param(lambda x: F.avg_pool2d(x, 3, 2, 1, ceil_mode=True, count_include_pad=False), "avg_pool2d",
                 id="avg-ceil-exclude-pad"),
    pytest.param(lambda x: F.avg_pool2d(x, 2), "avg_pool2d", id="avg-disjoint"),
    pytest.param(lambda x: F.avg_pool2d(x, (3, 1), 1, (1, 0), divisor_override=2), "avg_pool2d",
                 id="avg-divisor-override"),
    pytest.param(lambda x: F.adaptive_avg_pool2d(x, (3, 3)), "avg_pool2d", id="adaptive-equal-windows"),
    pytest.param(lambda x: F.interpolate(x, scale_factor=(1.7, 0.6)), "upsample_nearest2d", id="nearest"),
    pytest.param(lambda x: F.interpolate(x, size=(4, 13), mode="nearest-exact"), "upsample_nearest2d",
                 id="nearest-exact"),
]


@pytest.mark.parametrize("pool, op", POOLS)
def test_pooling_equals_its_reference(pool, op):
    x = leaf(np.random.default_rng(3), 2, 3, 6, 9)
    out = pool(x)
    assert out.grad_fn.op == op
    assert_node_equals_reference(out, [x])


@pytest.mark.parametrize("pool", [pytest.param(p.values[0], id=p.id) for p in POOLS])
def test_pooling_gradgradcheck(pool):
    x = leaf(np.random.default_rng(4), 1, 2, 6, 9)
    assert gradcheck(pool, (x,))
    assert gradgradcheck(pool, (x,))


UNFOLDS = [
    pytest.param((2, 3, 7, 9), {"kernel_size": (2, 3), "padding": 1, "stride": 2, "dilation": (2, 1)}, id="mixed"),
    pytest.param((1, 2, 5, 5), {"kernel_size": 5}, id="kernel-equals-input"),
    pytest.param((3, 4, 4), {"kernel_size": 2, "stride": 2}, id="unbatched-disjoint"),
    pytest.param((2, 1, 6, 3), {"kernel_size": (3, 1), "padding": (2, 0)}, id="one-sided"),
]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("shape, kwargs", UNFOLDS)
def test_unfold_and_fold_match_torch(shape, kwargs, dtype):
    rng = np.random.default_rng(5)
    x = rng.standard_normal(shape).astype(dtype)
    ours = F.unfold(cr.tensor(x, requires_grad=True), **kwargs)
    theirs = TF.unfold(torch.tensor(x), **kwargs)
    np.testing.assert_array_equal(ours.numpy(), theirs.numpy())
    blocks = rng.standard_normal(tuple(theirs.shape)).astype(dtype)
    folded = F.fold(cr.tensor(blocks), shape[-2:], **kwargs)
    expected = TF.fold(torch.tensor(blocks), shape[-2:], **kwargs)
    tol = {"rtol": 1e-6, "atol": 1e-6} if dtype == "float32" else {"rtol": 1e-14, "atol": 1e-14}
    np.testing.assert_allclose(folded.numpy(), expected.numpy(), **tol)


def test_fold_is_the_adjoint_of_unfold_and_both_differentiate_again():
    rng = np.random.default_rng(6)
    kwargs = {"kernel_size": (3, 2), "padding": (1, 0), "stride": (2, 1), "dilation": (1, 2)}
    x = leaf(rng, 2, 3, 6, 7)
    cols = F.unfold(x, **kwargs)
    y = leaf(rng, *cols.shape)
    lhs = float((cols * y).sum().item())
    rhs = float((x * F.fold(y, (6, 7), **kwargs)).sum().item())
    assert lhs == pytest.approx(rhs, rel=1e-12)
    small = leaf(rng, 1, 2, 4, 5)
    assert gradcheck(lambda t: F.unfold(t, **kwargs), (small,))
    assert gradgradcheck(lambda t: F.unfold(t, **kwargs), (small,))
    blocks = leaf(rng, *F.unfold(small, **kwargs).shape)
    assert gradcheck(lambda t: F.fold(t, (4, 5), **kwargs), (blocks,))
    assert gradgradcheck(lambda t: F.fold(t, (4, 5), **kwargs), (blocks,))
    assert isinstance(F.unfold(small, **kwargs).grad_fn, Unfold)
    assert isinstance(F.fold(blocks, (4, 5), **kwargs).grad_fn, Fold)


def test_second_derivative_of_a_conv_net_matches_torch():
    """d/dW of ||d loss / dx||^2 through conv2d, max_pool2d and a second conv (a double-backward
    path through every fused node's reference)."""
    rng = np.random.default_rng(7)
    x, w1, w2 = rng.standard_normal((2, 2, 6, 6)), rng.standard_normal((3, 2, 3, 3)), rng.standard_normal((2, 3, 2, 2))

    def penalty(lib, fn, x, w1, w2):
        out = fn.conv2d(fn.max_pool2d(lib.tanh(fn.conv2d(x, w1, padding=1)), 2), w2)
        (gx,) = lib.autograd.grad(out.sum(), [x], create_graph=True)
        return (gx * gx).sum()

    xs = [cr.tensor(a, requires_grad=True) for a in (x, w1, w2)]
    ts = [torch.tensor(a, requires_grad=True) for a in (x, w1, w2)]
    penalty(cr, F, *xs).backward()
    penalty(torch, TF, *ts).backward()
    for a, b in zip(xs[1:], ts[1:]):
        np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), rtol=1e-10, atol=1e-12)
