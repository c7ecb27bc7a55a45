"""Layers (chainrule.nn.layers and their functional forms): Linear (values, one node,
gradients, errors), the activation modules, Dropout (a statistical test with a fixed
seed), BatchNorm1d (its formula in both modes, running statistics, gradients,
PyTorch parity), MLP (structure), PolynomialFeatures (scikit-learn parity, gradients)."""
from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.special
from conftest import check_grad, leaf, make_leaf

import chainrule as cr
import chainrule.nn.functional as F
from chainrule import nn


def values(shape, seed, low=-2.0, high=2.0):
    return np.random.default_rng(seed).uniform(low, high, shape)


def double_linear(in_features, out_features, bias=True, seed=0):
    cr.manual_seed(seed)
    return nn.Linear(in_features, out_features, bias=bias, dtype=cr.float64)


# ---------------------------------------------------------------------- Linear

@pytest.mark.parametrize("x_shape", [(5, 3), (3,), (2, 4, 3), (0, 3)], ids=["batch", "single", "3-d", "empty"])
@pytest.mark.parametrize("bias", [True, False], ids=["bias", "no-bias"])
def test_linear_values_and_gradcheck(x_shape, bias):
    layer = double_linear(3, 4, bias)
    x = leaf(values(x_shape, 1))
    out = layer(x)
    w = layer.weight.numpy()
    expected = values(x_shape, 1) @ w.T + (layer.bias.numpy() if bias else 0)
    assert out.shape == x_shape[:-1] + (4,)
    np.testing.assert_allclose(out.numpy(), expected, rtol=1e-14)
    if x.data.size:
        params = [x, layer.weight] + ([layer.bias] if bias else [])
        check_grad(lambda *ts: F.linear(*ts), *params)


@pytest.mark.parametrize("layout", ["contiguous", "noncontiguous"])
def test_linear_is_one_node_and_matches_torch(layout):
    layer = double_linear(4, 3, seed=2)
    x = make_leaf(values((6, 4), 3), layout)
    out = layer(x)
    assert out.grad_fn.op == "linear"
    assert out.grad_fn.parents == (x, layer.weight, layer.bias)
    g = values((6, 3), 4)
    out.backward(cr.tensor(g))
    np.testing.assert_allclose(x.grad.numpy(), g @ layer.weight.numpy(), rtol=1e-14)
    np.testing.assert_allclose(layer.weight.grad.numpy(), g.T @ x.numpy(), rtol=1e-14)
    np.testing.assert_allclose(layer.bias.grad.numpy(), g.sum(axis=0), rtol=1e-14)
    torch = pytest.importorskip("torch")
    xt = torch.tensor(x.numpy(), requires_grad=True)
    wt = torch.tensor(layer.weight.numpy(), requires_grad=True)
    bt = torch.tensor(layer.bias.numpy(), requires_grad=True)
    ref = torch.nn.functional.linear(xt, wt, bt)
    ref.backward(torch.tensor(g))
    np.testing.assert_allclose(out.numpy(), ref.detach().numpy(), rtol=1e-14)
    for ours, theirs in [(x, xt), (layer.weight, wt), (layer.bias, bt)]:
        np.testing.assert_allclose(ours.grad.numpy(), theirs.grad.numpy(), rtol=1e-13)


def test_linear_skips_the_input_gradient_when_not_needed():
    layer = double_linear(3, 2)
    x = leaf(values((4, 3), 5), requires_grad=False)
    out = layer(x)
    assert out.grad_fn.needs_input_grad == (False, True, True)
    grads = out.grad_fn.backward(np.ones((4, 2)))
    assert grads[0] is None and grads[1].shape == (2, 3) and grads[2].shape == (2,)


LINEAR_ERRORS = [
    pytest.param(lambda: nn.Linear(784, 10)(cr.zeros(128, 783)), ValueError,
                 r"^Linear: expected input with last dimension 784 \(in_features\); got shape \(128, 783\)$",
                 id="last-dim"),
    pytest.param(lambda: nn.Linear(3, 2)(cr.zeros(4, 3, dtype=cr.float64)), TypeError,
                 r"^Linear: input has dtype float64 but the weights have dtype float32", id="dtype"),
    pytest.param(lambda: nn.Linear(3, 2)(np.zeros((4, 3))), TypeError,
                 r"^Linear: expected a Tensor input; got ndarray \(wrap it with chainrule.tensor\)", id="not-a-tensor"),
    pytest.param(lambda: nn.Linear(0.5, 2), ValueError, r"^Linear: in_features must be an int >= 0; got 0.5",
                 id="in_features"),
    pytest.param(lambda: nn.Linear(3, 2, dtype=cr.int64), TypeError,
                 r"^Linear: dtype must be float32 or float64; got int64", id="int-dtype"),
    pytest.param(lambda: F.linear(cr.zeros(2, 3), cr.zeros(4, 3), cr.zeros(3)), ValueError,
                 r"^linear: bias must have shape \(4,\) \(out_features\); got shape \(3,\)", id="bias-shape"),
    pytest.param(lambda: F.linear(cr.zeros(2, 3), cr.zeros(3)), ValueError,
                 r"^linear: weight must have shape \(out_features, in_features\); got shape \(3,\)", id="weight-1d"),
]


@pytest.mark.parametrize("call, error, message", LINEAR_ERRORS)
def test_linear_errors(call, error, message):
    with pytest.raises(error, match=message):
        call()


# ---------------------------------------------------------------------- activations and shape layers

ACTIVATIONS = [
    pytest.param(nn.ReLU(), lambda x: np.maximum(x, 0), id="ReLU"),
    pytest.param(nn.LeakyReLU(0.2), lambda x: np.where(x > 0, x, 0.2 * x), id="LeakyReLU"),
    pytest.param(nn.Sigmoid(), scipy.special.expit, id="Sigmoid"),
    pytest.param(nn.Tanh(), np.tanh, id="Tanh"),
    pytest.param(nn.GELU(), lambda x: x * scipy.special.ndtr(x), id="GELU"),
    pytest.param(nn.GELU("tanh"), lambda x: 0.5 * x * (1 + np.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x ** 3))),
                 id="GELU-tanh"),
    pytest.param(nn.Softmax(dim=1), lambda x: scipy.special.softmax(x, axis=1), id="Softmax"),
    pytest.param(nn.LogSoftmax(), lambda x: scipy.special.log_softmax(x, axis=-1), id="LogSoftmax"),
    pytest.param(nn.Identity(), lambda x: x, id="Identity"),
    pytest.param(nn.Flatten(), lambda x: x.reshape(3, -1), id="Flatten"),
    pytest.param(nn.Flatten(0, 1), lambda x: x.reshape(12), id="Flatten-0-1"),
]


@pytest.mark.parametrize("module, reference", ACTIVATIONS)
def test_activation_modules_match_closed_forms(module, reference):
    x = np.where(np.abs(v := values((3, 4), 6)) < 0.1, 0.5, v)  # keep off the ReLU kink
    out = module(leaf(x))
    np.testing.assert_allclose(out.numpy(), reference(x), rtol=1e-12, atol=1e-15)
    if not isinstance(module, nn.Identity):
        check_grad(module, leaf(x))


@pytest.mark.parametrize("name", ["relu", "leaky_relu", "sigmoid", "tanh", "gelu", "softmax", "log_softmax"])
def test_functional_activations_are_the_engine_ops(name):
    x = leaf(values((2, 3), 7))
    np.testing.assert_array_equal(getattr(F, name)(x).numpy(), getattr(cr, name)(x).numpy())


# ---------------------------------------------------------------------- Dropout

@pytest.mark.parametrize("p", [0.1, 0.5, 0.8])
def test_dropout_zeroes_a_fraction_near_p_and_keeps_the_mean(p):
    cr.manual_seed(2024)
    n = 200_000
    x = cr.ones(n, requires_grad=True)
    out = nn.Dropout(p)(x)
    y = out.numpy()
    zeroed = (y == 0).mean()
    # the zeroed count is Binomial(n, p): stay within 5 standard deviations
    assert abs(zeroed - p) < 5 * math.sqrt(p * (1 - p) / n)
    np.testing.assert_allclose(y[y != 0], 1 / (1 - p), rtol=1e-7)  # inverted scaling
    assert abs(y.mean() - 1) < 5 * math.sqrt(p / (1 - p) / n)  # E[y] = x
    out.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), y)  # d y / d x = m / (1 - p)


def test_dropout_eval_mode_and_p_zero_are_the_identity():
    x = cr.randn(5, 4)
    layer = nn.Dropout(0.5).eval()
    assert layer(x) is x
    assert nn.Dropout(0.0)(x) is x
    assert F.dropout(x, 0.3, training=False) is x


def test_dropout_is_reproducible_under_manual_seed():
    x = cr.ones(1000)
    cr.manual_seed(5)
    first = F.dropout(x, 0.5).numpy()
    cr.manual_seed(5)
    np.testing.assert_array_equal(F.dropout(x, 0.5).numpy(), first)


@pytest.mark.parametrize("p", [1, 1.0, -0.1, 1.5, True, "0.5", None])
def test_dropout_validates_p(p):
    with pytest.raises(ValueError, match=r"^Dropout: p \(the probability of zeroing an element\) "
                                         r"must be a number in \[0, 1\); got"):
        nn.Dropout(p)
    with pytest.raises(ValueError, match=r"^dropout: p \(the probability of zeroing an element\) "
                                         r"must be a number in \[0, 1\)"):
        F.dropout(cr.zeros(3), p)


# ---------------------------------------------------------------------- BatchNorm1d

def batchnorm_reference(x, gamma, beta, mean, var, eps):
    shape = (1, -1) + (1,) * (x.ndim - 2)
    return gamma.reshape(shape) * (x - mean.reshape(shape)) / np.sqrt(var.reshape(shape) + eps) + beta.reshape(shape)


@pytest.mark.parametrize("shape", [(8, 3), (4, 3, 5)], ids=["N,C", "N,C,L"])
def test_batchnorm_equals_its_formula_in_both_modes(shape):
    cr.manual_seed(0)
    bn = nn.BatchNorm1d(3, momentum=0.3, dtype=cr.float64)
    gamma, beta = values(3, 8, 0.5, 2.0), values(3, 9)
    bn.weight.data[...] = gamma
    bn.bias.data[...] = beta
    axes = (0,) if len(shape) == 2 else (0, 2)
    m = shape[0] * (shape[2] if len(shape) == 3 else 1)
    running_mean, running_var = np.zeros(3), np.ones(3)
    for step in range(3):
        x = values(shape, 10 + step) * (step + 1) + step
        out = bn(leaf(x, requires_grad=False))
        mean, var = x.mean(axis=axes), x.var(axis=axes)  # biased variance for normalizing
        np.testing.assert_allclose(out.numpy(), batchnorm_reference(x, gamma, beta, mean, var, 1e-5), rtol=1e-12)
        running_mean = 0.7 * running_mean + 0.3 * mean
        running_var = 0.7 * running_var + 0.3 * var * m / (m - 1)  # unbiased in the running average
        np.testing.assert_allclose(bn.running_mean.numpy(), running_mean, rtol=1e-12)
        np.testing.assert_allclose(bn.running_var.numpy(), running_var, rtol=1e-12)
    assert int(bn.num_batches_tracked.item()) == 3
    bn.eval()
    x = values(shape, 20)
    out = bn(leaf(x, requires_grad=False))
    np.testing.assert_allclose(out.numpy(), batchnorm_reference(x, gamma, beta, running_mean, running_var, 1e-5),
                               rtol=1e-12)
    np.testing.assert_allclose(bn.running_mean.numpy(), running_mean, rtol=1e-12)  # eval leaves them alone


@pytest.mark.parametrize("training", [True, False], ids=["train", "eval"])
@pytest.mark.parametrize("shape", [(5, 3), (3, 3, 2)], ids=["N,C", "N,C,L"])
@pytest.mark.parametrize("affine", [True, False], ids=["affine", "plain"])
def test_batchnorm_gradcheck(training, shape, affine):
    running_mean, running_var = cr.tensor(values(3, 21)), cr.tensor(values(3, 22, 0.5, 2.0))
    weight = leaf(values(3, 23, 0.5, 2.0)) if affine else None
    bias = leaf(values(3, 24)) if affine else None
    x = leaf(values(shape, 25))

    def function(x, *affine_params):
        # fresh copies of the running statistics: the training update must not leak between evaluations
        rm, rv = cr.tensor(running_mean.numpy()), cr.tensor(running_var.numpy())
        return F.batch_norm(x, rm, rv, *affine_params, training=training, momentum=0.1, eps=1e-3)

    out = function(x, *([weight, bias] if affine else []))
    assert out.grad_fn.op == "batch_norm"
    check_grad(function, x, *([weight, bias] if affine else []))


def test_batchnorm_matches_torch_over_training_and_eval():
    torch = pytest.importorskip("torch")
    cr.manual_seed(0)
    ours = nn.BatchNorm1d(4, dtype=cr.float64)
    theirs = torch.nn.BatchNorm1d(4, dtype=torch.float64)
    gamma, beta = values(4, 30, 0.5, 2.0), values(4, 31)
    ours.weight.data[...] = gamma
    ours.bias.data[...] = beta
    with torch.no_grad():
        theirs.weight.copy_(torch.tensor(gamma))
        theirs.bias.copy_(torch.tensor(beta))
    for step in range(4):
        x = values((6, 4), 32 + step) * 3 + 1
        g = values((6, 4), 40 + step)
        xc, xt = leaf(x), torch.tensor(x, requires_grad=True)
        out, ref = ours(xc), theirs(xt)
        out.backward(cr.tensor(g))
        ref.backward(torch.tensor(g))
        np.testing.assert_allclose(out.numpy(), ref.detach().numpy(), rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(xc.grad.numpy(), xt.grad.numpy(), rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(ours.weight.grad.numpy(), theirs.weight.grad.numpy(), rtol=1e-10)
    np.testing.assert_allclose(ours.bias.grad.numpy(), theirs.bias.grad.numpy(), rtol=1e-10)
    for name in ("running_mean", "running_var"):
        np.testing.assert_allclose(getattr(ours, name).numpy(), getattr(theirs, name).detach().numpy(), rtol=1e-12)
    assert ours.num_batches_tracked.item() == theirs.num_batches_tracked.item() == 4
    ours.eval(), theirs.eval()
    x = values((5, 4), 50)
    np.testing.assert_allclose(ours(leaf(x)).numpy(), theirs(torch.tensor(x)).detach().numpy(), rtol=1e-12)


def test_batchnorm_momentum_none_is_the_cumulative_average():
    bn = nn.BatchNorm1d(2, momentum=None, dtype=cr.float64)
    batches = [values((4, 2), 60 + i) + i for i in range(3)]
    for x in batches:
        bn(leaf(x, requires_grad=False))
    np.testing.assert_allclose(bn.running_mean.numpy(), np.mean([b.mean(axis=0) for b in batches], axis=0), rtol=1e-12)
    np.testing.assert_allclose(bn.running_var.numpy(), np.mean([b.var(axis=0, ddof=1) for b in batches], axis=0),
                               rtol=1e-12)


def test_batchnorm_without_running_stats_uses_batch_statistics_in_eval():
    bn = nn.BatchNorm1d(2, affine=False, track_running_stats=False, dtype=cr.float64).eval()
    assert list(bn.state_dict()) == [] and bn.num_parameters() == 0
    x = values((6, 2), 70)
    expected = (x - x.mean(axis=0)) / np.sqrt(x.var(axis=0) + 1e-5)
    np.testing.assert_allclose(bn(leaf(x)).numpy(), expected, rtol=1e-12)


BATCHNORM_ERRORS = [
    pytest.param(lambda: nn.BatchNorm1d(3)(cr.zeros(1, 3)), ValueError,
                 r"batch_norm: expected more than 1 value per channel when training; got input shape \(1, 3\)",
                 id="one-row"),
    pytest.param(lambda: nn.BatchNorm1d(3)(cr.zeros(4, 5)), ValueError,
                 r"BatchNorm1d: expected input of shape \(N, 3\) or \(N, 3, L\) \(num_features=3\); got shape \(4, 5\)",
                 id="channels"),
    pytest.param(lambda: nn.BatchNorm1d(3, momentum=1.5), ValueError,
                 r"BatchNorm1d: momentum must be in \[0, 1\] or None; got 1.5", id="momentum"),
    pytest.param(lambda: F.batch_norm(cr.zeros(4, 3), None, None), ValueError,
                 r"batch_norm: running_mean and running_var are required when training=False", id="eval-without-stats"),
    pytest.param(lambda: F.batch_norm(cr.zeros(4, 3), cr.zeros(2), cr.ones(3)), ValueError,
                 r"batch_norm: running_mean must have shape \(3,\) \(one value per channel", id="stat-shape"),
    pytest.param(lambda: nn.BatchNorm1d(3).double()(cr.zeros(4, 3)), TypeError,
                 r"batch_norm: running_mean has dtype float64 but the input has dtype float32", id="dtype"),
]


@pytest.mark.parametrize("call, error, message", BATCHNORM_ERRORS)
def test_batchnorm_errors(call, error, message):
    with pytest.raises(error, match=message):
        call()


# ---------------------------------------------------------------------- MLP

MLP_STRUCTURES = [
    pytest.param({}, ["Linear", "ReLU", "Linear", "ReLU", "Linear"], id="default"),
    pytest.param({"activation": "tanh", "dropout": 0.2},
                 ["Linear", "Tanh", "Dropout", "Linear", "Tanh", "Dropout", "Linear"], id="tanh-dropout"),
    pytest.param({"batchnorm": True, "activation": nn.GELU},
                 ["Linear", "BatchNorm1d", "GELU", "Linear", "BatchNorm1d", "GELU", "Linear"], id="batchnorm-gelu"),
]


@pytest.mark.parametrize("kwargs, layer_types", MLP_STRUCTURES)
def test_mlp_structure_and_forward(kwargs, layer_types):
    cr.manual_seed(0)
    model = nn.MLP([5, 8, 6, 3], **kwargs).eval()
    assert [type(m).__name__ for m in model.layers] == layer_types
    x = cr.randn(4, 5)
    manual = x
    for layer in model.layers:
        manual = layer(manual)
    np.testing.assert_array_equal(model(x).numpy(), manual.numpy())
    assert model(x).shape == (4, 3)


def test_mlp_784_256_256_10_parameter_count():
    assert nn.MLP([784, 256, 256, 10]).num_parameters() == 784 * 256 + 256 + 256 * 256 + 256 + 256 * 10 + 10


@pytest.mark.parametrize("kwargs, message", [
    ({"sizes": [5]}, r"MLP: sizes must be a list of at least 2 layer sizes"),
    ({"sizes": [5, 0, 2]}, r"MLP: sizes\[1\] must be an int >= 1; got 0"),
    ({"sizes": [5, 2], "activation": "swish"}, r"MLP: activation must be one of \["),
    ({"sizes": [5, 2], "dropout": 1.0}, r"MLP: dropout must be a probability in \[0, 1\); got 1.0"),
])
def test_mlp_errors(kwargs, message):
    with pytest.raises(ValueError, match=message):
        nn.MLP(**kwargs)


# ---------------------------------------------------------------------- PolynomialFeatures

POLY_CASES = [
    pytest.param(2, 2, False, False, id="d2-deg2"),
    pytest.param(3, 3, False, False, id="d3-deg3"),
    pytest.param(3, 2, True, False, id="d3-interactions"),
    pytest.param(2, 3, False, True, id="d2-deg3-bias"),
    pytest.param(1, 4, False, False, id="d1-deg4"),
]


@pytest.mark.parametrize("d, degree, interaction_only, include_bias", POLY_CASES)
def test_polynomial_features_match_sklearn_and_gradcheck(d, degree, interaction_only, include_bias):
    sklearn = pytest.importorskip("sklearn.preprocessing")
    x = values((6, d), 80)
    x[0, 0] = 0.0  # the gradient must stay exact where an input is zero
    layer = nn.PolynomialFeatures(degree, interaction_only=interaction_only, include_bias=include_bias)
    out = layer(leaf(x))
    reference = sklearn.PolynomialFeatures(degree, interaction_only=interaction_only, include_bias=include_bias)
    np.testing.assert_allclose(out.numpy(), reference.fit_transform(x), rtol=1e-13, atol=1e-15)
    np.testing.assert_array_equal(layer.powers(d), reference.powers_)
    check_grad(layer, leaf(x))


def test_polynomial_feature_names_and_order():
    layer = nn.PolynomialFeatures(2)
    assert layer.feature_names(["x1", "x2"]) == ["x1", "x2", "x1^2", "x1 x2", "x2^2"]
    assert nn.PolynomialFeatures(2, include_bias=True).feature_names(2)[0] == "1"
    out = layer(cr.tensor([[2.0, 3.0]], dtype=cr.float64))
    assert out.tolist() == [[2.0, 3.0, 4.0, 6.0, 9.0]]
    assert out.grad_fn is None  # a constant input records nothing


def test_polynomial_features_errors():
    with pytest.raises(ValueError, match=r"PolynomialFeatures: degree must be an int >= 1; got 0"):
        nn.PolynomialFeatures(0)
    with pytest.raises(ValueError, match=r"polynomial_features: expected input of shape \(N, d\); got shape \(3,\)"):
        nn.PolynomialFeatures(2)(cr.zeros(3))
