"""chainrule.diagnostics: per-layer activation and gradient statistics against NumPy forward and
backward passes, initializers' variances, and the vanishing/preserved signal of deep nets."""
from __future__ import annotations

import numpy as np
import pytest
from matplotlib.figure import Figure

import chainrule as cr
from chainrule import diagnostics, nn


def _small_mlp():
    cr.manual_seed(0)
    return nn.MLP([3, 4, 2], activation="tanh", dtype=cr.float64)


def _numpy_forward(model, X):
    W1, b1 = model.layers[0].weight.numpy(), model.layers[0].bias.numpy()
    W2, b2 = model.layers[2].weight.numpy(), model.layers[2].bias.numpy()
    z1 = X @ W1.T + b1
    a1 = np.tanh(z1)
    return z1, a1, a1 @ W2.T + b2


def test_activation_stats_match_a_numpy_forward_pass():
    model = _small_mlp()
    X = np.random.default_rng(0).standard_normal((10, 3))
    table = diagnostics.activation_stats(model, X)
    z1, a1, z2 = _numpy_forward(model, X)
    assert table["name"].tolist() == ["layers.0", "layers.1", "layers.2"]
    assert table["kind"].tolist() == ["linear", "activation", "linear"]
    assert table["layer"].tolist() == [1, 1, 2]
    np.testing.assert_allclose(table["mean"], [z1.mean(), a1.mean(), z2.mean()], rtol=1e-12)
    np.testing.assert_allclose(table["std"], [z1.std(), a1.std(), z2.std()], rtol=1e-12)
    assert table["fraction_saturated"][1] == np.mean(np.abs(a1) > 0.99)
    assert "forward" not in model.layers[0].__dict__  # the recording forward is removed


def test_gradient_stats_match_a_numpy_backward_pass():
    model = _small_mlp()
    rng = np.random.default_rng(1)
    X, y = rng.standard_normal((10, 3)), rng.standard_normal((10, 2))
    marker = cr.tensor(np.full((4, 3), 7.0), dtype=cr.float64)
    model.layers[0].weight.grad = marker
    table = diagnostics.gradient_stats(model, X, y, nn.MSELoss())
    z1, a1, z2 = _numpy_forward(model, X)
    dz2 = 2 * (z2 - y) / z2.size           # d mean((z2 - y)^2) / d z2
    dW2 = dz2.T @ a1
    da1 = dz2 @ model.layers[2].weight.numpy()
    dz1 = da1 * (1 - a1 ** 2)
    dW1 = dz1.T @ X
    np.testing.assert_allclose(table["grad_std"], [dz1.std(), da1.std(), dz2.std()], rtol=1e-10)
    np.testing.assert_allclose(table["grad_mean"], [dz1.mean(), da1.mean(), dz2.mean()], rtol=1e-10, atol=1e-300)
    np.testing.assert_allclose(table["weight_grad_std"][[0, 2]], [dW1.std(), dW2.std()], rtol=1e-10)
    assert np.isnan(table["weight_grad_std"][1])
    assert model.layers[0].weight.grad is marker and model.layers[2].weight.grad is None  # grads put back


@pytest.mark.parametrize("init, nonlinearity, variance", [
    ("normal(0.01)", None, lambda fan_in, fan_out: 0.01 ** 2),
    ("xavier", "tanh", lambda fan_in, fan_out: (5 / 3) ** 2 * 2 / (fan_in + fan_out)),
    ("xavier_uniform", "linear", lambda fan_in, fan_out: 2 / (fan_in + fan_out)),
    ("kaiming", "relu", lambda fan_in, fan_out: 2 / fan_in),
    ("kaiming_uniform", "relu", lambda fan_in, fan_out: 2 / fan_in),
])
def test_initialize_draws_the_stated_variance(init, nonlinearity, variance):
    cr.manual_seed(0)
    model = nn.MLP([300, 400, 200], dtype=cr.float64)
    diagnostics.initialize(model, init, nonlinearity)
    for layer in (model.layers[0], model.layers[2]):
        weights = layer.weight.numpy()
        assert weights.var() == pytest.approx(variance(layer.in_features, layer.out_features), rel=0.03)
        assert abs(weights.mean()) < 3 * np.sqrt(variance(layer.in_features, layer.out_features) / weights.size)
        assert np.all(layer.bias.numpy() == 0)


def test_initialize_infers_the_gain_from_the_activations():
    cr.manual_seed(0)
    tanh_net = diagnostics.initialize(nn.MLP([500, 500, 1], activation="tanh", dtype=cr.float64), "xavier")
    assert tanh_net.layers[0].weight.numpy().var() == pytest.approx((5 / 3) ** 2 * 2 / 1000, rel=0.02)
    with pytest.raises(ValueError, match="normal\\(s\\)"):
        diagnostics.initialize(tanh_net, "glorot")
    with pytest.raises(ValueError, match="must be a number > 0"):
        diagnostics.initialize(tanh_net, "normal(-1)")


def _deep(activation, width=256, depth=10):
    return lambda: nn.MLP([64] + [width] * depth + [10], activation=activation)


def _hidden_variances(comparison, init):
    frame = comparison.activations
    rows = frame[(frame["init"] == init) & (frame["kind"] == "activation")]
    return rows["std"].to_numpy() ** 2


@pytest.mark.parametrize("activation, good", [("tanh", "xavier"), ("relu", "kaiming")])
def test_deep_net_keeps_its_signal_only_under_the_matching_init(activation, good):
    rng = np.random.default_rng(0)
    X = rng.standard_normal((512, 64)).astype(np.float32)
    y = rng.integers(0, 10, 512)
    comparison = diagnostics.compare_inits(_deep(activation), X, y, inits=("normal(0.01)", good))
    kept = _hidden_variances(comparison, good)
    vanished = _hidden_variances(comparison, "normal(0.01)")
    assert kept.size == vanished.size == 10
    assert kept.max() / kept.min() <= 2.0
    assert vanished[-1] / vanished[0] < 1e-6  # orders of magnitude smaller at the last hidden layer
    summary = comparison.summary()
    assert summary["gradient_ratio_first_last"][0] < 1e-6 < summary["gradient_ratio_first_last"][1]


def test_compare_inits_figures_one_per_quantity():
    rng = np.random.default_rng(0)
    X, y = rng.standard_normal((32, 8)).astype(np.float32), rng.integers(0, 3, 32)
    comparison = diagnostics.compare_inits(lambda: nn.MLP([8, 16, 16, 3], activation="tanh"), X, y)
    figures = comparison.figures()
    assert list(figures) == list(diagnostics.QUANTITIES)
    axes = figures["activation_std"].axes[0]
    assert isinstance(figures["gradient_std"], Figure) and axes.get_yscale() == "log"
    assert [line.get_label() for line in axes.get_lines()] == ["normal(0.01)", "xavier", "kaiming"]
    assert "layer" in axes.get_xlabel() and "std" in axes.get_ylabel()
    with pytest.raises(ValueError, match="quantity must be one of"):
        comparison.figure("variance")


def test_errors_name_the_problem():
    with pytest.raises(ValueError, match="no Linear or activation modules"):
        diagnostics.activation_stats(nn.Sequential(nn.Flatten()), np.zeros((2, 2)))
    with pytest.raises(TypeError, match="floating-point"):
        diagnostics.activation_stats(_small_mlp(), np.zeros((2, 3), dtype=np.int64))
    with pytest.raises(TypeError, match="build_model"):
        diagnostics.compare_inits(nn.MLP([2, 2]), np.zeros((2, 2)), np.zeros(2))
