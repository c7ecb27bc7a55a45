"""The other layers of issue 17 as PyTorch: BatchNorm2d (training and evaluation, running
statistics with the unbiased variance, momentum including None, affine, bias=False,
track_running_stats, torch state_dicts), Dropout2d (whole channels, the mask's statistics, the
1/(1-p) scaling, evaluation mode), Unflatten, and the initializers' fans and gains on convolution
kernels against torch's."""
from __future__ import annotations

import math

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn
from chainrule.autograd import gradcheck, gradgradcheck
from chainrule.nn import functional as F
from chainrule.nn import init

torch = pytest.importorskip("torch")


def leaf(values):
    return cr.tensor(values, requires_grad=True)


# ---------------------------------------------------------------------- BatchNorm2d

@pytest.mark.parametrize("dtype, tol", [("float32", {"rtol": 1e-4, "atol": 1e-5}),
                                        ("float64", {"rtol": 1e-10, "atol": 1e-12})])
@pytest.mark.parametrize("kwargs", [{}, {"momentum": None}, {"momentum": 0.3, "eps": 1e-3},
                                    {"affine": False}, {"bias": False}, {"track_running_stats": False}],
                         ids=["default", "cumulative", "momentum-eps", "plain", "no-bias", "no-running-stats"])
def test_batchnorm2d_matches_torch_over_training_and_eval(kwargs, dtype, tol):
    torch.manual_seed(0)
    theirs = torch.nn.BatchNorm2d(3, **kwargs).to(getattr(torch, dtype))
    ours = nn.BatchNorm2d(3, dtype=getattr(cr, dtype), **kwargs)
    assert repr(ours) == repr(theirs)
    state = theirs.state_dict()
    assert list(ours.state_dict()) == list(state)
    rng = np.random.default_rng(1)
    if "weight" in state:
        with torch.no_grad():
            theirs.weight.copy_(torch.tensor(rng.uniform(0.5, 2.0, 3)))
            if theirs.bias is not None:
                theirs.bias.copy_(torch.tensor(rng.standard_normal(3)))
    ours.load_state_dict({key: value.numpy() for key, value in theirs.state_dict().items()})
    for step in range(3):
        x = (rng.standard_normal((4, 3, 5, 7)) * (step + 2) + step).astype(dtype)
        g = rng.standard_normal(x.shape).astype(dtype)
        xc, xt = leaf(x), torch.tensor(x, requires_grad=True)
        out, ref = ours(xc), theirs(xt)
        out.backward(cr.tensor(g))
        ref.backward(torch.tensor(g))
        np.testing.assert_allclose(out.numpy(), ref.detach().numpy(), **tol)
        np.testing.assert_allclose(xc.grad.numpy(), xt.grad.numpy(), **tol)
    for (name, p), q in zip(ours.named_parameters(), theirs.parameters()):
        np.testing.assert_allclose(p.grad.numpy(), q.grad.numpy(), err_msg=name, **tol)
    for name, buffer in theirs.named_buffers():
        np.testing.assert_allclose(getattr(ours, name).numpy(), buffer.numpy(), err_msg=name, **tol)
    ours.eval(), theirs.eval()
    x = rng.standard_normal((2, 3, 4, 4)).astype(dtype)
    xc, xt = leaf(x), torch.tensor(x, requires_grad=True)
    out, ref = ours(xc), theirs(xt)
    out.sum().backward()
    ref.sum().backward()
    np.testing.assert_allclose(out.numpy(), ref.detach().numpy(), **tol)
    np.testing.assert_allclose(xc.grad.numpy(), xt.grad.numpy(), **tol)


def test_batchnorm2d_normalizes_over_batch_and_space_with_the_unbiased_running_variance():
    bn = nn.BatchNorm2d(2, momentum=0.5, dtype=cr.float64)
    x = np.random.default_rng(2).standard_normal((3, 2, 4, 5)) * 3 + 1
    out = bn(cr.tensor(x)).numpy()
    mean, var = x.mean(axis=(0, 2, 3)), x.var(axis=(0, 2, 3))
    expected = (x - mean[:, None, None]) / np.sqrt(var[:, None, None] + 1e-5)
    np.testing.assert_allclose(out, expected, rtol=1e-12, atol=1e-12)
    m = 3 * 4 * 5
    np.testing.assert_allclose(bn.running_var.numpy(), 0.5 + 0.5 * var * m / (m - 1), rtol=1e-12)
    np.testing.assert_allclose(bn.running_mean.numpy(), 0.5 * mean, rtol=1e-12)


@pytest.mark.parametrize("training", [True, False])
def test_batchnorm2d_gradcheck_and_gradgradcheck(training):
    rng = np.random.default_rng(3)
    x, w, b = leaf(rng.standard_normal((2, 3, 2, 3))), leaf(rng.uniform(0.5, 2, 3)), leaf(rng.standard_normal(3))
    mean, var = rng.standard_normal(3), rng.uniform(0.5, 2, 3)

    def fn(x, w, b):
        return F.batch_norm(x, cr.tensor(mean), cr.tensor(var), w, b, training=training, eps=1e-3)

    assert gradcheck(fn, (x, w, b))
    assert gradgradcheck(fn, (x, w, b))


@pytest.mark.parametrize("call, message", [
    (lambda: nn.BatchNorm2d(3)(cr.zeros(4, 3, 5)), r"BatchNorm2d: expected input of shape \(N, 3, H, W\) "
                                                   r"\(num_features=3\); got shape \(4, 3, 5\)"),
    (lambda: nn.BatchNorm2d(3)(cr.zeros(4, 2, 5, 5)), r"BatchNorm2d: expected input of shape \(N, 3, H, W\)"),
    (lambda: nn.BatchNorm2d(3)(cr.zeros(1, 3, 1, 1)), r"batch_norm: expected more than 1 value per channel"),
    (lambda: nn.BatchNorm2d(3, momentum=-0.1), r"BatchNorm2d: momentum must be in \[0, 1\] or None"),
    (lambda: nn.BatchNorm2d(0.5), r"BatchNorm2d: num_features must be an int >= 0"),
    (lambda: F.batch_norm(cr.zeros(4), None, None, training=True), r"batch_norm: expected input of shape \(N, C\)"),
])
def test_batchnorm2d_errors(call, message):
    with pytest.raises(ValueError, match=message):
        call()


# ---------------------------------------------------------------------- Dropout2d

def test_dropout2d_zeroes_whole_channels_and_scales_the_rest():
    cr.manual_seed(0)
    x = cr.ones(400, 50, 3, 4, requires_grad=True)
    layer = nn.Dropout2d(0.3)
    y = layer(x)
    values = y.numpy()
    per_channel = values[:, :, 0, 0]
    assert (values == per_channel[:, :, None, None]).all()  # one draw per (sample, channel)
    np.testing.assert_allclose(np.unique(values), [0.0, 1 / 0.7], rtol=1e-6)
    dropped = (per_channel == 0).mean()
    assert abs(dropped - 0.3) < 5 * math.sqrt(0.3 * 0.7 / per_channel.size)
    assert abs(values.mean() - 1.0) < 0.02  # E[y] = x
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), values)  # dy/dx is the same scaled mask
    assert y.dtype == cr.float32


def test_dropout2d_is_the_identity_in_eval_and_for_p0_and_zero_for_p1():
    x = cr.randn(2, 3, 4, 4)
    layer = nn.Dropout2d(0.5).eval()
    assert layer(x) is x
    assert F.dropout2d(x, 0.0) is x
    assert (F.dropout2d(x, 1.0).numpy() == 0).all()
    assert repr(nn.Dropout2d(0.2)) == repr(torch.nn.Dropout2d(0.2))


def test_dropout2d_on_three_dimensions_is_channelwise_over_n_c():
    cr.manual_seed(1)
    y = F.dropout2d(cr.ones(30, 20, 6), 0.5).numpy()
    assert (y == y[:, :, :1]).all()


def test_dropout2d_gradgradcheck_with_a_fixed_mask():
    x = leaf(np.random.default_rng(4).standard_normal((2, 3, 2, 2)))

    def fn(x):
        cr.manual_seed(5)
        return F.dropout2d(x, 0.4) * x

    assert gradcheck(fn, (x,))
    assert gradgradcheck(fn, (x,))


@pytest.mark.parametrize("call, error, message", [
    (lambda: nn.Dropout2d(1.5), ValueError, r"Dropout2d: p \(the probability of zeroing a channel\) must be a number"),
    (lambda: nn.Dropout2d(inplace=True), ValueError, r"Dropout2d: inplace=True is not supported"),
    (lambda: F.dropout2d(cr.zeros(3, 4), 0.5), ValueError, r"dropout2d: expected input of shape \(N, C, H, W\)"),
    (lambda: F.dropout2d(cr.zeros(2, 3, 4, 4, dtype=cr.int64)), TypeError, r"dropout2d: input must be floating"),
])
def test_dropout2d_errors(call, error, message):
    with pytest.raises(error, match=message):
        call()


# ---------------------------------------------------------------------- Unflatten

@pytest.mark.parametrize("dim, sizes, shape", [(1, (2, 5), (3, 10)), (-1, (2, -1), (3, 4, 6)), (0, [2, 2], (4, 3))])
def test_unflatten_matches_torch(dim, sizes, shape):
    ours, theirs = nn.Unflatten(dim, sizes), torch.nn.Unflatten(dim, sizes)
    assert repr(ours) == repr(theirs)
    x = np.arange(np.prod(shape), dtype=np.float64).reshape(shape)
    xc = leaf(x)
    out = ours(xc)
    np.testing.assert_array_equal(out.numpy(), theirs(torch.tensor(x)).numpy())
    out.sum().backward()
    np.testing.assert_array_equal(xc.grad.numpy(), np.ones(shape))


def test_flatten_then_unflatten_round_trip_in_a_sequential():
    model = nn.Sequential(nn.Flatten(), nn.Unflatten(1, (3, 2, 2)))
    x = cr.randn(5, 3, 2, 2)
    np.testing.assert_array_equal(model(x).numpy(), x.numpy())


@pytest.mark.parametrize("call, message", [
    (lambda: nn.Unflatten(1, 5), r"Unflatten: unflattened_size must be a tuple of ints; got int"),
    (lambda: nn.Unflatten(1, (2, 2.5)), r"Unflatten: unflattened_size must be a tuple of ints; found float at "
                                        r"position 1"),
    (lambda: nn.Unflatten("1", (2, 2)), r"Unflatten: dim must be an int"),
])
def test_unflatten_errors(call, message):
    with pytest.raises(TypeError, match=message):
        call()


# ---------------------------------------------------------------------- initializers on kernels

@pytest.mark.parametrize("shape", [(16, 3, 3, 3), (8, 4, 1, 5), (6, 2, 7), (4, 4, 2, 2, 2)])
def test_fans_of_kernels_equal_torch(shape):
    ours = init.calculate_fan_in_and_fan_out(cr.zeros(*shape))
    theirs = torch.nn.init._calculate_fan_in_and_fan_out(torch.zeros(shape))
    assert ours == theirs


@pytest.mark.parametrize("name, kwargs", [
    ("kaiming_uniform_", {}), ("kaiming_uniform_", {"a": math.sqrt(5)}), ("kaiming_uniform_", {"mode": "fan_out"}),
    ("xavier_uniform_", {}), ("xavier_uniform_", {"gain": 2.0}),
])
def test_uniform_bounds_on_conv_kernels_equal_torch(name, kwargs):
    """The largest draw on a big kernel comes within 1% of the bound torch's formula gives."""
    shape = (64, 32, 5, 5)
    fan_in, fan_out = torch.nn.init._calculate_fan_in_and_fan_out(torch.zeros(shape))
    if name.startswith("kaiming"):
        gain = torch.nn.init.calculate_gain("leaky_relu", kwargs.get("a", 0))
        bound = math.sqrt(3.0) * gain / math.sqrt(fan_in if kwargs.get("mode", "fan_in") == "fan_in" else fan_out)
    else:
        bound = kwargs.get("gain", 1.0) * math.sqrt(6.0 / (fan_in + fan_out))
    cr.manual_seed(0)
    values = getattr(init, name)(cr.zeros(*shape), **kwargs).numpy()
    assert np.abs(values).max() <= bound
    assert np.abs(values).max() > 0.99 * bound
    torch_values = getattr(torch.nn.init, name)(torch.zeros(shape), **kwargs).numpy()
    assert np.abs(torch_values).max() <= bound


@pytest.mark.parametrize("nonlinearity", ["conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d",
                                          "conv_transpose3d", "linear", "sigmoid", "tanh", "relu", "selu"])
def test_calculate_gain_has_torchs_nonlinearities(nonlinearity):
    assert init.calculate_gain(nonlinearity) == pytest.approx(torch.nn.init.calculate_gain(nonlinearity), rel=1e-15)
