"""Pooling and resampling as PyTorch (issue 17): MaxPool1d/2d, AvgPool1d/2d, AdaptiveAvgPool2d,
Upsample and their functional forms. Outputs (and max pooling's indices) and input gradients
against torch in float32 and float64, over strides, paddings, dilation, ceil_mode,
count_include_pad, divisor_override, odd sizes, unbatched and non-contiguous inputs; reprs;
gradcheck and gradgradcheck; the errors for bad arguments."""
from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn
from chainrule.autograd import gradcheck, gradgradcheck
from chainrule.nn import functional as F

torch = pytest.importorskip("torch")
TF = torch.nn.functional

TOL = {"float32": {"rtol": 1e-5, "atol": 1e-6}, "float64": {"rtol": 1e-12, "atol": 1e-13}}


def check(ours, theirs, shape, dtype, layout="contiguous", seed=0):
    x = np.random.default_rng(seed).standard_normal(shape).astype(dtype)
    if layout == "transposed":
        x = np.ascontiguousarray(x.swapaxes(-1, -2)).swapaxes(-1, -2)
    xs, ts = cr.from_numpy(x).requires_grad_(), torch.tensor(np.ascontiguousarray(x), requires_grad=True)
    out, expected = ours(xs), theirs(ts)
    if isinstance(expected, tuple):
        np.testing.assert_array_equal(out[1].numpy(), expected[1].numpy())
        assert out[1].dtype == cr.int64
        out, expected = out[0], expected[0]
    assert out.shape == tuple(expected.shape) and str(out.dtype) == dtype
    weights = np.random.default_rng(seed + 1).standard_normal(out.shape).astype(dtype)
    (out * cr.tensor(weights)).sum().backward()
    (expected * torch.from_numpy(weights)).sum().backward()
    np.testing.assert_allclose(out.numpy(), expected.detach().numpy(), **TOL[dtype])
    np.testing.assert_allclose(xs.grad.numpy(), ts.grad.numpy(), **TOL[dtype])


POOLS = [
    ("max_pool2d", (2, 3, 7, 9), {"kernel_size": 3, "stride": 2, "padding": 1}),
    ("max_pool2d", (2, 3, 7, 9), {"kernel_size": 2}),
    ("max_pool2d", (2, 3, 7, 9), {"kernel_size": (3, 2), "stride": (2, 1), "padding": 1, "dilation": 2,
                                  "ceil_mode": True, "return_indices": True}),
    ("max_pool2d", (2, 3, 8, 9), {"kernel_size": 2, "ceil_mode": True, "return_indices": True}),
    ("max_pool2d", (3, 7, 9), {"kernel_size": 3, "stride": 2, "padding": 1, "return_indices": True}),
    ("max_pool2d", (1, 1, 5, 5), {"kernel_size": 5}),
    ("max_pool2d", (2, 2, 6, 7), {"kernel_size": (1, 3), "stride": (1, 2)}),
    ("max_pool1d", (2, 3, 11), {"kernel_size": 3, "stride": 2, "padding": 1, "return_indices": True}),
    ("max_pool1d", (2, 3, 10), {"kernel_size": 4, "dilation": 2, "ceil_mode": True}),
    ("avg_pool2d", (2, 3, 7, 9), {"kernel_size": 3, "stride": 2, "padding": 1}),
    ("avg_pool2d", (2, 3, 7, 9), {"kernel_size": 3, "stride": 2, "padding": 1, "count_include_pad": False,
                                  "ceil_mode": True}),
    ("avg_pool2d", (2, 3, 7, 9), {"kernel_size": (2, 3), "padding": (1, 1), "ceil_mode": True}),
    ("avg_pool2d", (2, 3, 7, 9), {"kernel_size": 3, "stride": 2, "padding": 1, "divisor_override": 5}),
    ("avg_pool2d", (3, 6, 6), {"kernel_size": 2}),
    ("avg_pool1d", (2, 3, 10), {"kernel_size": 3, "stride": 2, "padding": 1, "count_include_pad": False,
                                "ceil_mode": True}),
    ("avg_pool1d", (2, 3, 10), {"kernel_size": 4}),
    ("adaptive_avg_pool2d", (2, 3, 7, 9), {"output_size": 1}),
    ("adaptive_avg_pool2d", (2, 3, 7, 9), {"output_size": (3, 3)}),
    ("adaptive_avg_pool2d", (2, 3, 7, 9), {"output_size": (None, 2)}),
    ("adaptive_avg_pool2d", (2, 3, 7, 9), {"output_size": (10, 12)}),
    ("adaptive_avg_pool2d", (2, 3, 8, 9), {"output_size": (4, 3)}),
    ("adaptive_avg_pool2d", (3, 7, 9), {"output_size": (2, None)}),
    ("interpolate", (2, 3, 7, 9), {"scale_factor": 2}),
    ("interpolate", (2, 3, 7, 9), {"scale_factor": (1.7, 0.6)}),
    ("interpolate", (2, 3, 7, 9), {"size": (11, 5)}),
    ("interpolate", (2, 3, 7, 9), {"size": (3, 20), "mode": "nearest-exact"}),
    ("interpolate", (2, 3, 7, 9), {"scale_factor": 2.5, "mode": "nearest-exact"}),
    ("interpolate", (2, 3, 7, 9), {"scale_factor": 0.3, "recompute_scale_factor": True}),
    ("interpolate", (2, 3, 7), {"scale_factor": 1.5}),
    ("interpolate", (2, 3, 7), {"size": 3}),
]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("name, shape, kwargs", POOLS, ids=[f"{p[0]}-{i}" for i, p in enumerate(POOLS)])
def test_functions_match_torch(name, shape, kwargs, dtype):
    check(lambda x: getattr(F, name)(x, **kwargs), lambda t: getattr(TF, name)(t, **kwargs), shape, dtype)


@pytest.mark.parametrize("name, kwargs", [("max_pool2d", {"kernel_size": 3, "stride": 2, "padding": 1}),
                                          ("avg_pool2d", {"kernel_size": 2}),
                                          ("interpolate", {"scale_factor": 2})])
def test_non_contiguous_input(name, kwargs):
    check(lambda x: getattr(F, name)(x, **kwargs), lambda t: getattr(TF, name)(t, **kwargs), (2, 3, 6, 7), "float64",
          layout="transposed")


def test_max_pool_ties_and_nan_pick_pytorch_positions():
    x = np.array([[[[1.0, 1.0, 0.0], [1.0, np.nan, 2.0], [3.0, 3.0, np.nan]]]])
    out, idx = F.max_pool2d(cr.tensor(x), 2, 1, return_indices=True)
    t_out, t_idx = TF.max_pool2d(torch.tensor(x), 2, 1, return_indices=True)
    np.testing.assert_array_equal(idx.numpy(), t_idx.numpy())
    np.testing.assert_array_equal(out.numpy(), t_out.numpy())


def test_max_pool_gradient_goes_to_the_first_maximum_and_sums_over_windows():
    x = cr.tensor([[[[1.0, 5.0, 5.0, 0.0]]]], requires_grad=True)
    F.max_pool2d(x, (1, 2), (1, 1)).sum().backward()  # windows (1,5) (5,5) (5,0): the first 5 wins twice
    t = torch.tensor([[[[1.0, 5.0, 5.0, 0.0]]]], requires_grad=True)
    TF.max_pool2d(t, (1, 2), (1, 1)).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), t.grad.numpy())


MODULES = [
    (lambda m: m.MaxPool2d(3, 2, 1), (2, 3, 7, 9)),
    (lambda m: m.MaxPool2d((2, 3), dilation=(1, 2), ceil_mode=True), (2, 3, 7, 9)),
    (lambda m: m.MaxPool1d(3), (2, 3, 10)),
    (lambda m: m.AvgPool2d(3, 2, 1, count_include_pad=False), (2, 3, 7, 9)),
    (lambda m: m.AvgPool2d(2, divisor_override=3), (2, 3, 7, 9)),
    (lambda m: m.AvgPool1d(3, 2, 1, ceil_mode=True), (2, 3, 10)),
    (lambda m: m.AdaptiveAvgPool2d((None, 3)), (2, 3, 7, 9)),
    (lambda m: m.AdaptiveAvgPool2d(1), (2, 3, 7, 9)),
    (lambda m: m.Upsample(scale_factor=2), (2, 3, 4, 5)),
    (lambda m: m.Upsample(size=(3, 4), mode="nearest-exact"), (2, 3, 7, 9)),
    (lambda m: m.Upsample(scale_factor=(2.0, 1.5)), (2, 3, 4, 5)),
]


@pytest.mark.parametrize("make, shape", MODULES)
def test_modules_match_torch(make, shape):
    ours, theirs = make(nn), make(torch.nn)
    assert repr(ours) == repr(theirs)
    assert list(ours.state_dict()) == []
    check(ours, theirs, shape, "float64")


def test_max_pool_module_returns_indices():
    ours, theirs = nn.MaxPool2d(2, return_indices=True), torch.nn.MaxPool2d(2, return_indices=True)
    check(ours, theirs, (2, 3, 6, 5), "float32")
    x = cr.randn(1, 2, 4, 4)
    with cr.no_grad():
        out, idx = ours(x)
    np.testing.assert_array_equal(idx.numpy(), theirs(torch.tensor(x.numpy()))[1].numpy())


GRADS = [
    lambda x: F.max_pool2d(x, 3, 2, 1),
    lambda x: F.max_pool1d(x.flatten(2), 3, 2, 1),
    lambda x: F.avg_pool2d(x, 3, 2, 1, ceil_mode=True, count_include_pad=False),
    lambda x: F.avg_pool1d(x.flatten(2), 4, 3, 2),
    lambda x: F.adaptive_avg_pool2d(x, (3, 2)),
    lambda x: F.adaptive_avg_pool2d(x, 1),
    lambda x: F.interpolate(x, scale_factor=1.5),
    lambda x: F.interpolate(x.flatten(2), size=7),
]


@pytest.mark.parametrize("fn", GRADS)
def test_gradcheck_and_gradgradcheck(fn):
    x = cr.tensor(np.random.default_rng(3).standard_normal((2, 2, 5, 4)), requires_grad=True)
    assert gradcheck(fn, (x,))
    assert gradgradcheck(fn, (x,))


def _x(*shape):
    return cr.zeros(*shape)


ERRORS = [
    (lambda: F.max_pool2d(_x(1, 2, 6, 6), 3, padding=2), ValueError,
     r"max_pool2d: padding should be at most half of kernel_size"),
    (lambda: F.max_pool2d(_x(1, 2, 2, 2), 3), ValueError, r"max_pool2d: the output would be empty"),
    (lambda: F.max_pool2d(_x(1, 2, 6, 6), 2, stride=0), ValueError, r"max_pool2d: stride must be >= 1"),
    (lambda: F.max_pool2d(_x(1, 2, 6, 6), (2, 2, 2)), TypeError, r"max_pool2d: kernel_size must be an int or a tuple"),
    (lambda: F.max_pool2d(_x(6, 6), 2), ValueError, r"max_pool2d: expected input of shape \(N, C, H, W\)"),
    (lambda: F.max_pool1d(_x(1, 2, 6, 6), 2), ValueError, r"max_pool1d: expected input of shape \(N, C, L\)"),
    (lambda: F.avg_pool2d(_x(1, 2, 6, 6), 2, divisor_override=0), ValueError,
     r"avg_pool2d: divisor_override must be a non-zero int"),
    (lambda: F.avg_pool2d(cr.zeros(1, 2, 6, 6, dtype=cr.int64), 2), TypeError, r"avg_pool2d: input must be floating"),
    (lambda: F.adaptive_avg_pool2d(_x(1, 2, 6, 6), 0), ValueError, r"adaptive_avg_pool2d: output_size must be >= 1"),
    (lambda: F.adaptive_avg_pool2d(_x(1, 2, 6, 6), (1, 2, 3)), TypeError,
     r"adaptive_avg_pool2d: output_size must be an int, None or a tuple of 2"),
    (lambda: F.interpolate(_x(1, 2, 4, 4), size=8, scale_factor=2), ValueError,
     r"interpolate: only one of size or scale_factor should be defined"),
    (lambda: F.interpolate(_x(1, 2, 4, 4)), ValueError, r"interpolate: either size or scale_factor should be defined"),
    (lambda: F.interpolate(_x(1, 2, 4, 4), scale_factor=2, mode="bilinear"), ValueError,
     r"interpolate: mode='bilinear' \(a PyTorch mode\) is not offered by chainrule"),
    (lambda: F.interpolate(_x(1, 2, 4, 4), scale_factor=2, mode="cubic"), ValueError,
     r"interpolate: mode must be one of"),
    (lambda: F.interpolate(_x(1, 2, 4, 4), scale_factor=2, align_corners=True), ValueError,
     r"interpolate: align_corners can only be set with the interpolating modes"),
    (lambda: F.interpolate(_x(1, 2, 4, 4), scale_factor=0.1), ValueError,
     r"interpolate: scale_factor=0.1 gives an empty"),
    (lambda: F.interpolate(_x(1, 2, 4, 4), size=(2, 3, 4)), TypeError, r"interpolate: size must be an int or a tuple"),
    (lambda: F.interpolate(_x(1, 2, 4, 4), size=4, recompute_scale_factor=True), ValueError,
     r"interpolate: recompute_scale_factor is not meaningful with an explicit size"),
    (lambda: F.interpolate(_x(2, 4), size=4), ValueError, r"interpolate: expected input of shape \(N, C, L\)"),
    (lambda: nn.MaxPool2d(2, padding=2), ValueError, r"MaxPool2d: padding should be at most half of kernel_size"),
    (lambda: nn.MaxPool2d(0), ValueError, r"MaxPool2d: kernel_size must be >= 1"),
    (lambda: nn.AvgPool2d(3, divisor_override=1.5), ValueError, r"AvgPool2d: divisor_override must be a non-zero int"),
    (lambda: nn.AvgPool1d((2, 2)), TypeError, r"AvgPool1d: kernel_size must be an int or a tuple of 1 ints"),
    (lambda: nn.AdaptiveAvgPool2d((0, 2)), ValueError, r"AdaptiveAvgPool2d: output_size must be a positive int"),
    (lambda: nn.Upsample(scale_factor=2, mode="bicubic"), ValueError, r"Upsample: mode='bicubic' \(a PyTorch mode\)"),
    (lambda: nn.Upsample(), ValueError, r"Upsample: give exactly one of size and scale_factor"),
]


@pytest.mark.parametrize("call, error, message", ERRORS)
def test_bad_arguments_are_named(call, error, message):
    with pytest.raises(error, match=message):
        call()
