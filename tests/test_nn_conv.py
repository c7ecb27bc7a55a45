"""Convolution as PyTorch (issue 17): Conv1d, Conv2d, ConvTranspose2d and F.conv1d, F.conv2d,
F.conv_transpose2d. Outputs, input gradients and parameter gradients against torch in float32
and float64 over a table of shapes (strides, paddings incl. "same"/"valid", dilation, groups,
depthwise, one-sided kernels, batch of 1, one channel, unbatched and non-contiguous inputs),
the padding modes, the default initialization's bounds, reprs, state_dict round trips with
torch's keys, gradcheck and gradgradcheck, and the errors for bad arguments."""
from __future__ import annotations

import math

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn
from chainrule.autograd import gradcheck, gradgradcheck
from chainrule.nn import functional as F

torch = pytest.importorskip("torch")
TF = torch.nn.functional

pytestmark = pytest.mark.filterwarnings("ignore:Using padding='same' with even kernel")

TOL = {"float32": {"rtol": 1e-4, "atol": 1e-5}, "float64": {"rtol": 1e-10, "atol": 1e-12}}


def run_both(ours, theirs, arrays, dtype, layout="contiguous", seed=0):
    """ours(*tensors) and theirs(*torch tensors) on the same values: the outputs, and the
    gradients of sum(out * w) of every input."""
    laid = [np.asarray(a, dtype=dtype) for a in arrays]
    if layout == "transposed":  # the first array as a non-contiguous view (its last two axes swapped)
        laid[0] = np.ascontiguousarray(laid[0].swapaxes(-1, -2)).swapaxes(-1, -2)
    xs = [cr.from_numpy(a).requires_grad_() for a in laid]
    ts = [torch.tensor(np.ascontiguousarray(a), requires_grad=True) for a in laid]
    out, expected = ours(*xs), theirs(*ts)
    assert out.shape == tuple(expected.shape) and str(out.dtype) == dtype
    weights = np.random.default_rng(seed).standard_normal(out.shape).astype(dtype)
    (out * cr.tensor(weights)).sum().backward()
    (expected * torch.from_numpy(weights)).sum().backward()
    return out, expected, xs, ts


def assert_match(ours, theirs, arrays, dtype, layout="contiguous"):
    out, expected, xs, ts = run_both(ours, theirs, arrays, dtype, layout)
    scale = max(1.0, float(np.abs(expected.detach().numpy()).max()))
    tol = {"rtol": TOL[dtype]["rtol"], "atol": TOL[dtype]["atol"] * scale}
    np.testing.assert_allclose(out.numpy(), expected.detach().numpy(), **tol)
    for x, t in zip(xs, ts):
        assert x.grad.shape == x.shape and x.grad.dtype == x.dtype
        np.testing.assert_allclose(x.grad.numpy(), t.grad.numpy(), **tol)


# (input shape, weight shape, with bias, keyword arguments)
CONV2D = [
    pytest.param((2, 3, 7, 9), (4, 3, 3, 3), True, {"stride": 2, "padding": 1}, id="stride2-pad1-odd"),
    pytest.param((2, 4, 7, 9), (6, 2, 3, 2), True, {"stride": (1, 2), "padding": (2, 1), "dilation": 2, "groups": 2},
                 id="groups2-dilation2"),
    pytest.param((2, 4, 7, 9), (4, 1, 3, 3), True, {"padding": 1, "groups": 4}, id="depthwise"),
    pytest.param((2, 3, 6, 6), (6, 1, 3, 3), False, {"groups": 3, "stride": 2}, id="depthwise-multiplier"),
    pytest.param((1, 1, 5, 5), (2, 1, 1, 1), True, {}, id="batch1-channel1-1x1"),
    pytest.param((2, 3, 7, 9), (5, 3, 1, 4), True, {"padding": (0, 2)}, id="kernel-1x4"),
    pytest.param((2, 3, 7, 9), (5, 3, 4, 1), False, {"stride": (2, 1)}, id="kernel-4x1"),
    pytest.param((2, 3, 7, 9), (4, 3, 4, 2), True, {"padding": "same", "dilation": (1, 3)}, id="same-even-kernel"),
    pytest.param((2, 3, 8, 8), (4, 3, 3, 3), True, {"padding": "same"}, id="same"),
    pytest.param((2, 3, 8, 9), (4, 3, 3, 3), True, {"padding": "valid", "stride": 3}, id="valid-stride3"),
    pytest.param((2, 3, 8, 8), (6, 3, 1, 1), False, {"stride": 2}, id="projection-1x1-stride2"),
    pytest.param((3, 2, 4, 4), (2, 2, 4, 4), True, {}, id="kernel-equals-input"),
    pytest.param((2, 3, 5, 6), (4, 3, 3, 3), True, {"padding": 2, "dilation": (2, 1), "stride": (1, 3)},
                 id="dilation-wide-padding"),
]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("x_shape, w_shape, bias, kwargs", CONV2D)
def test_conv2d_matches_torch(x_shape, w_shape, bias, kwargs, dtype):
    rng = np.random.default_rng(1)
    arrays = [rng.standard_normal(x_shape), rng.standard_normal(w_shape)]
    if bias:
        arrays.append(rng.standard_normal(w_shape[0]))
    assert_match(lambda *a: F.conv2d(*a, **kwargs), lambda *a: TF.conv2d(*a, **kwargs), arrays, dtype)


@pytest.mark.parametrize("layout", ["transposed"])
def test_conv2d_takes_non_contiguous_input(layout):
    rng = np.random.default_rng(2)
    arrays = [rng.standard_normal((2, 3, 6, 7)), rng.standard_normal((4, 3, 3, 2)), rng.standard_normal(4)]
    assert_match(lambda *a: F.conv2d(*a, padding=1), lambda *a: TF.conv2d(*a, padding=1), arrays, "float64", layout)


def test_conv2d_of_a_tensor_used_twice_and_stacked_layers():
    """conv(x, w) + conv(relu(conv(x, w)), w): a tensor feeding two convolutions, gradients added."""
    rng = np.random.default_rng(3)
    arrays = [rng.standard_normal((2, 3, 6, 6)), rng.standard_normal((3, 3, 3, 3))]

    def ours(x, w):
        return F.conv2d(x, w, padding=1) + F.conv2d(F.relu(F.conv2d(x, w, padding=1)), w, padding=1)

    def theirs(x, w):
        return TF.conv2d(x, w, padding=1) + TF.conv2d(TF.relu(TF.conv2d(x, w, padding=1)), w, padding=1)

    assert_match(ours, theirs, arrays, "float64")


def test_conv2d_unbatched_and_empty_batch():
    rng = np.random.default_rng(4)
    arrays = [rng.standard_normal((3, 6, 5)), rng.standard_normal((4, 3, 3, 3)), rng.standard_normal(4)]
    assert_match(lambda *a: F.conv2d(*a, padding=1), lambda *a: TF.conv2d(*a, padding=1), arrays, "float64")
    empty = F.conv2d(cr.zeros(0, 3, 6, 5, dtype=cr.float64), cr.tensor(arrays[1]))
    assert empty.shape == (0, 4, 4, 3)


CONV1D = [
    pytest.param((2, 3, 11), (4, 3, 3), True, {"stride": 2, "padding": 1}, id="stride2"),
    pytest.param((2, 4, 10), (6, 2, 2), True, {"dilation": 3, "groups": 2, "padding": "same"}, id="same-groups"),
    pytest.param((1, 1, 7), (1, 1, 7), False, {}, id="kernel-equals-input"),
    pytest.param((3, 7), (2, 3, 3), True, {"padding": "valid"}, id="unbatched"),
]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("x_shape, w_shape, bias, kwargs", CONV1D)
def test_conv1d_matches_torch(x_shape, w_shape, bias, kwargs, dtype):
    rng = np.random.default_rng(5)
    arrays = [rng.standard_normal(x_shape), rng.standard_normal(w_shape)]
    if bias:
        arrays.append(rng.standard_normal(w_shape[0]))
    assert_match(lambda *a: F.conv1d(*a, **kwargs), lambda *a: TF.conv1d(*a, **kwargs), arrays, dtype)


CONV_TRANSPOSE2D = [
    pytest.param((2, 4, 5, 6), (4, 3, 3, 3), True, {"stride": 2, "padding": 1, "output_padding": 1}, id="upsample2"),
    pytest.param((2, 4, 5, 6), (4, 3, 3, 2), True,
                 {"stride": (2, 3), "padding": (0, 2), "output_padding": (1, 0), "groups": 2, "dilation": (1, 2)},
                 id="groups-dilation"),
    pytest.param((2, 4, 5, 6), (4, 3, 3, 3), False, {"output_padding": 1, "dilation": 2}, id="output-padding-dilation"),
    pytest.param((1, 1, 3, 3), (1, 2, 1, 1), True, {}, id="1x1"),
    pytest.param((2, 3, 4, 4), (3, 1, 4, 4), True, {"stride": 2, "padding": 1, "groups": 3}, id="depthwise-k4s2"),
    pytest.param((3, 5, 4), (3, 2, 2, 3), True, {"stride": 2}, id="unbatched"),
]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("x_shape, w_shape, bias, kwargs", CONV_TRANSPOSE2D)
def test_conv_transpose2d_matches_torch(x_shape, w_shape, bias, kwargs, dtype):
    rng = np.random.default_rng(6)
    groups = kwargs.get("groups", 1)
    arrays = [rng.standard_normal(x_shape), rng.standard_normal(w_shape)]
    if bias:
        arrays.append(rng.standard_normal(w_shape[1] * groups))
    assert_match(lambda *a: F.conv_transpose2d(*a, **kwargs), lambda *a: TF.conv_transpose2d(*a, **kwargs),
                 arrays, dtype)


def test_conv_transpose2d_is_the_gradient_of_conv2d():
    """<conv2d(x, W), y> = <x, conv_transpose2d(y, W)>: the transpose is the adjoint."""
    rng = np.random.default_rng(7)
    x, w, y = rng.standard_normal((2, 3, 7, 8)), rng.standard_normal((4, 3, 3, 3)), rng.standard_normal((2, 4, 4, 4))
    conv = F.conv2d(cr.tensor(x), cr.tensor(w), stride=2, padding=1).numpy()
    back = F.conv_transpose2d(cr.tensor(y), cr.tensor(w), stride=2, padding=1, output_padding=(0, 1)).numpy()
    assert back.shape == x.shape
    np.testing.assert_allclose((conv * y).sum(), (x * back).sum(), rtol=1e-12)


# ---------------------------------------------------------------------- modules

MODULES = [
    pytest.param(lambda m: m.Conv2d(3, 6, 3), (2, 3, 7, 9), id="Conv2d"),
    pytest.param(lambda m: m.Conv2d(4, 6, (3, 2), stride=2, padding=1, dilation=(2, 1), groups=2, bias=False),
                 (2, 4, 9, 8), id="Conv2d-groups-no-bias"),
    pytest.param(lambda m: m.Conv2d(4, 4, 3, padding="same", groups=4), (1, 4, 6, 5), id="Conv2d-depthwise-same"),
    pytest.param(lambda m: m.Conv2d(3, 4, 3, padding=2, padding_mode="reflect"), (2, 3, 5, 6), id="Conv2d-reflect"),
    pytest.param(lambda m: m.Conv2d(3, 4, (2, 3), padding=(1, 2), padding_mode="replicate"), (2, 3, 5, 6),
                 id="Conv2d-replicate"),
    pytest.param(lambda m: m.Conv2d(3, 4, 3, stride=2, padding=(2, 1), padding_mode="circular"), (2, 3, 5, 6),
                 id="Conv2d-circular"),
    pytest.param(lambda m: m.Conv2d(2, 4, 4, padding="same", dilation=2, padding_mode="circular"), (2, 2, 7, 6),
                 id="Conv2d-same-circular"),
    pytest.param(lambda m: m.Conv2d(3, 4, 3, padding=1, padding_mode="reflect"), (3, 5, 6), id="Conv2d-unbatched"),
    pytest.param(lambda m: m.Conv1d(3, 5, 3, stride=2, padding=1), (2, 3, 11), id="Conv1d"),
    pytest.param(lambda m: m.Conv1d(4, 4, 5, padding="same", groups=2, padding_mode="reflect"), (2, 4, 9),
                 id="Conv1d-same-reflect"),
    pytest.param(lambda m: m.ConvTranspose2d(4, 6, 3, stride=2, padding=1, output_padding=1, groups=2), (2, 4, 5, 6),
                 id="ConvTranspose2d"),
    pytest.param(lambda m: m.ConvTranspose2d(3, 2, (2, 3), stride=(2, 1), bias=False, dilation=(1, 2)), (2, 3, 4, 5),
                 id="ConvTranspose2d-no-bias"),
]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("make, x_shape", MODULES)
def test_modules_match_torch_with_torch_weights(make, x_shape, dtype):
    """Load a torch layer's state_dict into ours (torch's keys): outputs, input and parameter
    gradients equal; the repr and the state_dict keys and shapes too."""
    torch.manual_seed(0)
    theirs = make(torch.nn).to(getattr(torch, dtype))
    ours = make(nn).to(getattr(cr, dtype))
    assert repr(ours) == repr(theirs)
    state = theirs.state_dict()
    assert list(ours.state_dict()) == list(state)
    ours.load_state_dict({key: value.numpy() for key, value in state.items()})
    x = np.random.default_rng(8).standard_normal(x_shape).astype(dtype)
    xs, ts = cr.from_numpy(x).requires_grad_(), torch.tensor(x, requires_grad=True)
    out, expected = ours(xs), theirs(ts)
    weights = np.random.default_rng(9).standard_normal(out.shape).astype(dtype)
    (out * cr.tensor(weights)).sum().backward()
    (expected * torch.from_numpy(weights)).sum().backward()
    tol = TOL[dtype]
    np.testing.assert_allclose(out.numpy(), expected.detach().numpy(), **tol)
    np.testing.assert_allclose(xs.grad.numpy(), ts.grad.numpy(), **tol)
    for (name, p), q in zip(ours.named_parameters(), theirs.parameters()):
        np.testing.assert_allclose(p.grad.numpy(), q.grad.numpy(), err_msg=name, **tol)


def test_conv_transpose2d_output_size_picks_the_output_padding():
    torch.manual_seed(1)
    theirs = torch.nn.ConvTranspose2d(2, 3, 3, stride=2, padding=1).double()
    ours = nn.ConvTranspose2d(2, 3, 3, stride=2, padding=1, dtype=cr.float64)
    ours.load_state_dict({key: value.numpy() for key, value in theirs.state_dict().items()})
    x = np.random.default_rng(10).standard_normal((1, 2, 4, 5))
    for size in [(7, 9), (8, 10), (1, 3, 8, 9)]:
        got = ours(cr.tensor(x), output_size=size)
        expected = theirs(torch.tensor(x), output_size=size)
        assert got.shape == tuple(expected.shape)
        np.testing.assert_allclose(got.numpy(), expected.detach().numpy(), rtol=1e-12, atol=1e-12)
    with pytest.raises(ValueError, match=r"requested an output size of \(10, 9\), but valid sizes range"):
        ours(cr.tensor(x), output_size=(10, 9))


@pytest.mark.parametrize("make, fan_in", [
    (lambda: nn.Conv2d(6, 8, (3, 2), groups=2), 3 * 3 * 2),
    (lambda: nn.Conv1d(5, 4, 7), 5 * 7),
    (lambda: nn.ConvTranspose2d(6, 8, 3, groups=2), 4 * 3 * 3),
])
def test_default_init_is_uniform_one_over_sqrt_fan_in(make, fan_in):
    """kaiming_uniform_(a=sqrt(5)) on the weight and U(-1/sqrt(fan_in), 1/sqrt(fan_in)) on the bias,
    fan_in = weight.shape[1] * receptive field (PyTorch's rule, transposed weights included)."""
    cr.manual_seed(0)
    layer = make()
    bound = 1 / math.sqrt(fan_in)
    assert init_fan_in(layer.weight) == fan_in
    for values in (layer.weight.numpy(), layer.bias.numpy()):
        assert np.abs(values).max() <= bound and np.abs(values).max() > 0.5 * bound
    assert layer.weight.dtype == cr.float32


def init_fan_in(weight):
    return nn.init.calculate_fan_in_and_fan_out(weight)[0]


def test_float32_layer_computes_in_float32():
    layer = nn.Conv2d(3, 4, 3)
    out = layer(cr.randn(2, 3, 5, 5))
    out.sum().backward()
    assert out.dtype == cr.float32 and layer.weight.grad.dtype == cr.float32 and layer.bias.grad.dtype == cr.float32


def test_a_conv_net_trains_with_an_optimizer():
    """Conv2d-BatchNorm2d-ReLU-MaxPool-Linear learns a separable toy problem (weights through the
    optimizer's flat gradient buffer)."""
    cr.manual_seed(0)
    rng = np.random.default_rng(11)
    x = rng.standard_normal((32, 1, 8, 8)).astype(np.float32)
    y = (x[:, 0, :4].mean(axis=(1, 2)) > x[:, 0, 4:].mean(axis=(1, 2))).astype(np.int64)
    model = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(), nn.MaxPool2d(2),
                          nn.Flatten(), nn.Linear(64, 2))
    opt = cr.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    losses = []
    for _ in range(40):
        opt.zero_grad()
        loss = F.cross_entropy(model(cr.tensor(x)), cr.tensor(y))
        loss.backward()
        opt.step()
        losses.append(float(loss.item()))
    assert losses[-1] < 0.3 * losses[0]


# ---------------------------------------------------------------------- second derivatives

GRAD_CASES = [
    pytest.param(lambda x, w, b: F.conv2d(x, w, b, stride=2, padding=1, groups=2), (2, 4, 5, 6), (4, 2, 3, 2), 4,
                 id="conv2d"),
    pytest.param(lambda x, w, b: F.conv2d(x, w, b, padding="same", dilation=2), (1, 2, 4, 5), (3, 2, 2, 3), 3,
                 id="conv2d-same"),
    pytest.param(lambda x, w, b: F.conv1d(x, w, b, stride=2, padding=1), (2, 3, 7), (2, 3, 3), 2, id="conv1d"),
    pytest.param(lambda x, w, b: F.conv_transpose2d(x, w, b, stride=2, padding=1, output_padding=1, groups=2),
                 (2, 4, 3, 3), (4, 2, 3, 2), 4, id="conv_transpose2d"),
]


@pytest.mark.parametrize("fn, x_shape, w_shape, bias", GRAD_CASES)
def test_gradcheck_and_gradgradcheck(fn, x_shape, w_shape, bias):
    rng = np.random.default_rng(12)
    inputs = [cr.tensor(rng.standard_normal(s), dtype=cr.float64, requires_grad=True)
              for s in (x_shape, w_shape, (bias,))]
    assert gradcheck(fn, inputs)
    assert gradgradcheck(fn, inputs)


def test_padding_modes_are_twice_differentiable():
    rng = np.random.default_rng(13)
    layer = nn.Conv2d(2, 2, 3, padding=(1, 2), padding_mode="reflect", dtype=cr.float64)
    x = cr.tensor(rng.standard_normal((1, 2, 4, 5)), requires_grad=True)
    assert gradcheck(layer, (x,))
    assert gradgradcheck(layer, (x,))


# ---------------------------------------------------------------------- errors

def _x(*shape, dtype=cr.float32):
    return cr.zeros(*shape, dtype=dtype)


ERRORS = [
    (lambda: F.conv2d(_x(2, 3, 5, 5), _x(4, 3, 3)), ValueError, r"conv2d: weight must have 4 dimensions"),
    (lambda: F.conv2d(_x(2, 4, 5, 5), _x(4, 3, 3, 3)), ValueError,
     r"conv2d: groups=1 and weight of shape \(4, 3, 3, 3\) expect input with 3 channels; got input of shape"),
    (lambda: F.conv2d(_x(2, 4, 5, 5), _x(5, 2, 3, 3), groups=2), ValueError,
     r"conv2d: weight.shape\[0\] = 5 \(out_channels\) is not divisible by groups=2"),
    (lambda: F.conv2d(_x(2, 3, 5, 5), _x(4, 3, 3, 3), groups=0), ValueError, r"conv2d: groups must be a positive int"),
    (lambda: F.conv2d(_x(2, 3, 5, 5), _x(4, 3, 3, 3), stride=0), ValueError, r"conv2d: stride must be >= 1"),
    (lambda: F.conv2d(_x(2, 3, 5, 5), _x(4, 3, 3, 3), stride=(1, 2, 3)), TypeError,
     r"conv2d: stride must be an int or a tuple of 2 ints"),
    (lambda: F.conv2d(_x(2, 3, 5, 5), _x(4, 3, 3, 3), padding=-1), ValueError, r"conv2d: padding must be >= 0"),
    (lambda: F.conv2d(_x(2, 3, 5, 5), _x(4, 3, 3, 3), padding="full"), ValueError,
     r"conv2d: padding must be an int, a tuple of 2 ints, 'same' or 'valid'; got 'full'"),
    (lambda: F.conv2d(_x(2, 3, 5, 5), _x(4, 3, 3, 3), padding="same", stride=2), ValueError,
     r"conv2d: padding='same' is not supported for strided convolutions"),
    (lambda: F.conv2d(_x(2, 3, 2, 5), _x(4, 3, 3, 3)), ValueError,
     r"conv2d: the padded input of size \(2, 5\) is smaller than the \(dilated\) kernel of size \(3, 3\)"),
    (lambda: F.conv2d(_x(2, 3, 5, 5), _x(4, 3, 3, 3), dilation=3), ValueError, r"kernel of size \(7, 7\)"),
    (lambda: F.conv2d(_x(3, 5), _x(4, 3, 3, 3)), ValueError,
     r"conv2d: expected input of shape \(N, C, H, W\) or, unbatched, \(C, H, W\); got shape \(3, 5\)"),
    (lambda: F.conv2d(cr.zeros(2, 3, 5, 5, dtype=cr.int64), _x(4, 3, 3, 3)), TypeError,
     r"conv2d: input must be floating point"),
    (lambda: F.conv2d(_x(2, 3, 5, 5, dtype=cr.float64), _x(4, 3, 3, 3)), TypeError,
     r"conv2d: weight has dtype float32 but the input has dtype float64"),
    (lambda: F.conv2d(_x(2, 3, 5, 5), _x(4, 3, 3, 3), _x(3)), ValueError, r"conv2d: bias must have shape \(4,\)"),
    (lambda: F.conv2d(np.zeros((2, 3, 5, 5)), _x(4, 3, 3, 3)), TypeError, r"conv2d: input must be a Tensor"),
    (lambda: F.conv1d(_x(2, 3, 5), _x(4, 3, 3, 3)), ValueError, r"conv1d: weight must have 3 dimensions"),
    (lambda: F.conv1d(_x(2, 3, 2), _x(4, 3, 3)), ValueError, r"conv1d: the padded input of size \(2,\)"),
    (lambda: F.conv_transpose2d(_x(2, 3, 5, 5), _x(3, 4, 3, 3), stride=2, output_padding=2), ValueError,
     r"conv_transpose2d: output_padding must be smaller than either stride or dilation"),
    (lambda: F.conv_transpose2d(_x(2, 4, 5, 5), _x(3, 4, 3, 3)), ValueError,
     r"conv_transpose2d: groups=1 and weight of shape \(3, 4, 3, 3\) expect input with 3 channels"),
    (lambda: F.conv_transpose2d(_x(2, 3, 1, 1), _x(3, 4, 1, 1), padding=1), ValueError,
     r"conv_transpose2d: the output size \(-1, -1\) is not positive"),
    (lambda: F.conv_transpose2d(_x(2, 3, 5, 5), _x(3, 4, 3, 3), padding="same"), ValueError,
     r"conv_transpose2d: padding must be an int or a tuple of 2 ints"),
    (lambda: nn.Conv2d(4, 6, 3, groups=4), ValueError, r"Conv2d: out_channels \(6\) must be divisible by groups \(4\)"),
    (lambda: nn.Conv2d(3, 6, 3, groups=2), ValueError, r"Conv2d: in_channels \(3\) must be divisible by groups \(2\)"),
    (lambda: nn.Conv2d(3, 6, 3, groups=0), ValueError, r"Conv2d: groups must be a positive int; got 0"),
    (lambda: nn.Conv2d(3, 6, 0), ValueError, r"Conv2d: kernel_size must be >= 1"),
    (lambda: nn.Conv2d(3, 6, 3, padding_mode="mirror"), ValueError, r"Conv2d: padding_mode must be one of zeros"),
    (lambda: nn.Conv2d(3, 6, 3, stride=2, padding="same"), ValueError,
     r"Conv2d: padding='same' is not supported for strided convolutions"),
    (lambda: nn.Conv2d(3, 6, 3, padding="half"), ValueError, r"Conv2d: padding must be an int, a tuple of 2 ints"),
    (lambda: nn.Conv1d(3, 6, (3, 3)), TypeError, r"Conv1d: kernel_size must be an int or a tuple of 1 ints"),
    (lambda: nn.Conv2d(-1, 6, 3), ValueError, r"Conv2d: in_channels must be an int >= 0"),
    (lambda: nn.Conv2d(3, 6, 3, dtype=cr.int64), TypeError, r"Conv2d: dtype must be float32 or float64"),
    (lambda: nn.ConvTranspose2d(3, 6, 3, padding_mode="reflect"), ValueError,
     r'ConvTranspose2d: only "zeros" padding mode is supported'),
    (lambda: nn.ConvTranspose2d(3, 6, 3, stride=2, output_padding=2), ValueError,
     r"ConvTranspose2d: output_padding must be smaller than either stride or dilation"),
    (lambda: nn.Conv2d(3, 4, 3)(_x(2, 5, 6, 6)), ValueError, r"conv2d: groups=1 and weight of shape \(4, 3, 3, 3\)"),
    (lambda: nn.Conv2d(3, 4, 3, padding=3, padding_mode="reflect")(_x(1, 3, 3, 3)), ValueError,
     r"Conv2d: reflect padding \(3, 3\) must be smaller than the input size 3"),
    (lambda: nn.Conv2d(3, 4, 3, padding=4, padding_mode="circular")(_x(1, 3, 3, 3)), ValueError,
     r"Conv2d: circular padding \(4, 4\) must not exceed the input size 3"),
]


@pytest.mark.parametrize("call, error, message", ERRORS)
def test_bad_arguments_are_named(call, error, message):
    with pytest.raises(error, match=message):
        call()
