"""Initializers (chainrule.nn.init): each one's sample mean and variance against the
formula in its docstring, bounds of the uniform ones, gains and fans against closed
forms and PyTorch, in-place semantics, reproducibility, and errors."""
from __future__ import annotations

import math

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn
from chainrule.nn import init

SHAPE = (400, 500)  # fan_in = 500, fan_out = 400; 200,000 samples
FAN_IN, FAN_OUT = 500, 400
N = SHAPE[0] * SHAPE[1]

# Relative standard error of a sample variance: sqrt((kurtosis - 1) / N), kurtosis 3 for a
# normal and 9/5 for a uniform. Tolerances are 5 standard errors.
NORMAL_TOL = 5 * math.sqrt(2 / N)
UNIFORM_TOL = 5 * math.sqrt(0.8 / N)

relu_gain = math.sqrt(2)


def leaky_gain(a):
    return math.sqrt(2 / (1 + a * a))


VARIANCE_CASES = [
    # id, call, expected mean, expected variance, tolerance, bound (uniform) or None
    pytest.param(lambda t: init.normal_(t), 0.0, 1.0, NORMAL_TOL, None, id="normal"),
    pytest.param(lambda t: init.normal_(t, mean=2.0, std=0.1), 2.0, 0.01, NORMAL_TOL, None, id="normal-mean-std"),
    pytest.param(lambda t: init.uniform_(t), 0.5, 1 / 12, UNIFORM_TOL, None, id="uniform"),
    pytest.param(lambda t: init.uniform_(t, -3.0, 1.0), -1.0, 16 / 12, UNIFORM_TOL, None, id="uniform-a-b"),
    pytest.param(lambda t: init.xavier_uniform_(t), 0.0, 2 / (FAN_IN + FAN_OUT), UNIFORM_TOL,
                 math.sqrt(6 / (FAN_IN + FAN_OUT)), id="xavier_uniform"),
    pytest.param(lambda t: init.xavier_uniform_(t, gain=5 / 3), 0.0, (5 / 3) ** 2 * 2 / (FAN_IN + FAN_OUT),
                 UNIFORM_TOL, 5 / 3 * math.sqrt(6 / (FAN_IN + FAN_OUT)), id="xavier_uniform-gain"),
    pytest.param(lambda t: init.xavier_normal_(t), 0.0, 2 / (FAN_IN + FAN_OUT), NORMAL_TOL, None, id="xavier_normal"),
    pytest.param(lambda t: init.xavier_normal_(t, gain=2.0), 0.0, 8 / (FAN_IN + FAN_OUT), NORMAL_TOL, None,
                 id="xavier_normal-gain"),
    pytest.param(lambda t: init.kaiming_uniform_(t), 0.0, 2 / FAN_IN, UNIFORM_TOL, math.sqrt(6 / FAN_IN),
                 id="kaiming_uniform"),
    pytest.param(lambda t: init.kaiming_uniform_(t, mode="fan_out", nonlinearity="relu"), 0.0, 2 / FAN_OUT,
                 UNIFORM_TOL, math.sqrt(6 / FAN_OUT), id="kaiming_uniform-fan_out"),
    pytest.param(lambda t: init.kaiming_uniform_(t, a=math.sqrt(5)), 0.0, 1 / (3 * FAN_IN), UNIFORM_TOL,
                 1 / math.sqrt(FAN_IN), id="kaiming_uniform-a-sqrt5"),
    pytest.param(lambda t: init.kaiming_normal_(t), 0.0, 2 / FAN_IN, NORMAL_TOL, None, id="kaiming_normal"),
    pytest.param(lambda t: init.kaiming_normal_(t, a=0.2, mode="fan_out"), 0.0, leaky_gain(0.2) ** 2 / FAN_OUT,
                 NORMAL_TOL, None, id="kaiming_normal-leaky-fan_out"),
    pytest.param(lambda t: init.kaiming_normal_(t, nonlinearity="tanh"), 0.0, (5 / 3) ** 2 / FAN_IN, NORMAL_TOL,
                 None, id="kaiming_normal-tanh"),
]


@pytest.mark.parametrize("call, mean, variance, tolerance, bound", VARIANCE_CASES)
def test_sample_variance_matches_the_formula(call, mean, variance, tolerance, bound):
    cr.manual_seed(0)
    t = cr.empty(*SHAPE, dtype=cr.float64)
    assert call(t) is t
    values = t.numpy()
    assert abs(values.var() / variance - 1) < tolerance
    assert abs(values.mean() - mean) < 5 * math.sqrt(variance / N)
    if bound is not None:
        assert values.max() <= bound and values.min() >= -bound
        assert values.max() > 0.999 * bound and values.min() < -0.999 * bound


@pytest.mark.parametrize("call, value",
                         [(init.zeros_, 0.0), (init.ones_, 1.0), (lambda t: init.constant_(t, -2.5), -2.5)],
                         ids=["zeros_", "ones_", "constant_"])
def test_constant_fills(call, value):
    t = cr.empty(3, 4)
    assert call(t) is t
    np.testing.assert_array_equal(t.numpy(), np.full((3, 4), value, dtype=np.float32))


GAINS = [
    ("linear", None, 1.0), ("identity", None, 1.0), ("conv2d", None, 1.0), ("sigmoid", None, 1.0),
    ("tanh", None, 5 / 3), ("relu", None, math.sqrt(2)), ("leaky_relu", None, math.sqrt(2 / (1 + 0.01 ** 2))),
    ("leaky_relu", 0.2, math.sqrt(2 / 1.04)), ("leaky_relu", math.sqrt(5), math.sqrt(1 / 3)), ("selu", None, 0.75),
]


@pytest.mark.parametrize("nonlinearity, param, expected", GAINS)
def test_calculate_gain(nonlinearity, param, expected):
    assert init.calculate_gain(nonlinearity, param) == pytest.approx(expected, rel=1e-15)
    if nonlinearity == "identity":  # ours only (an alias of linear)
        return
    torch = pytest.importorskip("torch")
    assert init.calculate_gain(nonlinearity, param) == pytest.approx(torch.nn.init.calculate_gain(nonlinearity, param),
                                                                     rel=1e-12)


@pytest.mark.parametrize("shape, fans", [((3, 5), (5, 3)), ((4, 2, 3, 3), (18, 36)), ((6, 7, 2), (14, 12))])
def test_fans(shape, fans):
    assert init.calculate_fan_in_and_fan_out(cr.empty(*shape)) == fans
    torch = pytest.importorskip("torch")
    assert fans == torch.nn.init._calculate_fan_in_and_fan_out(torch.empty(*shape))


def test_initializers_write_in_place_and_bump_the_version():
    t = cr.zeros(4, 3)
    data = t.data
    version = t._version
    init.xavier_uniform_(t)
    assert t.data is data and data.any() and t._version == version + 1


def test_initializers_are_reproducible_and_keep_dtype():
    a, b = cr.empty(20, 10), cr.empty(20, 10, dtype=cr.float64)
    cr.manual_seed(7)
    init.kaiming_normal_(a)
    cr.manual_seed(7)
    init.kaiming_normal_(b)
    assert a.dtype == np.float32 and b.dtype == np.float64
    np.testing.assert_array_equal(a.numpy(), b.numpy().astype(np.float32))


def test_linear_default_init_is_uniform_one_over_sqrt_fan_in():
    cr.manual_seed(1)
    layer = nn.Linear(FAN_IN, FAN_OUT)
    bound = 1 / math.sqrt(FAN_IN)
    w, b = layer.weight.numpy().astype(np.float64), layer.bias.numpy()
    assert abs(w.var() / (bound ** 2 / 3) - 1) < UNIFORM_TOL
    assert np.abs(w).max() <= bound and np.abs(b).max() <= bound
    assert np.abs(w).max() > 0.999 * bound


INIT_ERRORS = [
    pytest.param(lambda: init.xavier_uniform_(cr.empty(5)), ValueError,
                 r"xavier_uniform_: needs a weight with at least 2 dimensions \(out, in, …\) "
                 r"to compute fan_in and fan_out; got shape \(5,\)",
                 id="1-d"),
    pytest.param(lambda: init.kaiming_normal_(cr.empty(2, 2), mode="fan_avg"), ValueError,
                 r"kaiming_normal_: mode must be 'fan_in' or 'fan_out'; got 'fan_avg'", id="mode"),
    pytest.param(lambda: init.kaiming_uniform_(cr.empty(2, 2), nonlinearity="swish"), ValueError,
                 r"calculate_gain: unsupported nonlinearity 'swish'", id="nonlinearity"),
    pytest.param(lambda: init.normal_(cr.zeros(2, dtype=cr.int64)), TypeError,
                 r"normal_: expected a floating-point tensor; got dtype int64", id="int-tensor"),
    pytest.param(lambda: init.normal_(np.zeros(2)), TypeError,
                 r"normal_: expected a Tensor \(e.g. layer.weight\); got ndarray", id="array"),
    pytest.param(lambda: init.normal_(cr.zeros(2), std=-1.0), ValueError,
                 r"normal_: std must be non-negative; got -1.0", id="std"),
    pytest.param(lambda: init.uniform_(cr.zeros(2), 1.0, 0.0), ValueError, r"uniform_: need a <= b; got a=1.0, b=0.0",
                 id="bounds"),
]


@pytest.mark.parametrize("call, error, message", INIT_ERRORS)
def test_init_errors(call, error, message):
    with pytest.raises(error, match=message):
        call()
