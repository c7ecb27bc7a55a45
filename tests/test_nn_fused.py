"""Every fast path of chainrule.nn.fused equals the composition of reference ops it replaces.

Each case builds the same float64 computation twice: once through the fused node (what
``nn.functional`` and the layers run) and once from the reference ops of
``chainrule.engine.ops`` (matmul, log_softmax, indexing, exp, abs …), as the fused module's
docstring states it. Values and the gradients of every input must agree to 1e-12 relative.
"""
from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
import chainrule.nn.functional as F
from chainrule import nn

RTOL, ATOL = 1e-12, 1e-13


def leaf(rng, *shape, low=None, high=None):
    values = rng.uniform(low, high, shape) if low is not None else rng.standard_normal(shape)
    return cr.tensor(values, dtype=cr.float64, requires_grad=True)


def constant(values, dtype=cr.float64):
    return cr.tensor(np.asarray(values), dtype=dtype)


def assert_same(fused_fn, reference_fn, inputs, upstream_seed=0):
    """Values of fused_fn(*inputs) and reference_fn(*inputs), and the gradients of every
    input under the same random upstream gradient, agree."""
    fused = fused_fn(*inputs)
    weights = constant(np.random.default_rng(upstream_seed).standard_normal(fused.shape))
    fused.backward(gradient=weights)  # the upstream gradient reaches the node as it is
    fused_grads = [x.grad.numpy().copy() for x in inputs]
    for x in inputs:
        x.grad = None
    reference = reference_fn(*inputs)
    np.testing.assert_allclose(fused.numpy(), reference.numpy(), rtol=RTOL, atol=ATOL)
    reference.backward(gradient=weights)
    for got, x in zip(fused_grads, inputs):
        np.testing.assert_allclose(got, x.grad.numpy(), rtol=RTOL, atol=ATOL)


# ---------------------------------------------------------------------- linear and the linear chain

@pytest.mark.parametrize("x_shape", [(5, 3), (2, 4, 3), (3,)])
def test_linear_equals_matmul_plus_bias(x_shape):
    rng = np.random.default_rng(1)
    x, w, b = leaf(rng, *x_shape), leaf(rng, 4, 3), leaf(rng, 4)
    assert_same(F.linear, lambda x, w, b: x @ w.T + b, [x, w, b])


@pytest.mark.parametrize("biases", [(True, True, True), (True, False, True)])
def test_linear_chain_equals_the_layers_one_after_another(biases):
    cr.manual_seed(0)
    layers = [nn.Linear(3, 5, bias=biases[0]), nn.ReLU(), nn.Linear(5, 4, bias=biases[1]), nn.ReLU(),
              nn.Linear(4, 2, bias=biases[2])]
    model = nn.Sequential(*layers).double()
    x = leaf(np.random.default_rng(2), 6, 3)
    params = list(model.parameters())

    def reference(x, *_):
        h = x
        for layer in layers:
            if isinstance(layer, nn.ReLU):
                h = cr.relu(h)
            else:
                h = h @ layer.weight.T + (layer.bias if layer.bias is not None else 0.0)
        return h

    out = model(x)
    assert out.grad_fn.op == "linear_chain"  # the fast path did run
    assert_same(lambda x, *_: model(x), reference, [x, *params])


# ---------------------------------------------------------------------- classification losses

def _nll_reference(logp, t, weight, ignore_index, reduction, smoothing):
    """The loss of cross_entropy(z, t) written with log_softmax's output ``logp`` (n, C)."""
    n, classes = logp.shape
    w = weight if weight is not None else constant(np.ones(classes))
    valid = constant((t != ignore_index).astype(np.float64))
    picked = np.where(t != ignore_index, t, 0)
    w_t = w[constant(picked, cr.int64)] * valid
    losses = -(1 - smoothing) * w_t * logp[np.arange(n), picked]
    if smoothing:
        losses = losses - (smoothing / classes) * valid * (logp * w).sum(dim=1)
    if reduction == "none":
        return losses
    return losses.sum() / w_t.sum() if reduction == "mean" else losses.sum()


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("weighted, ignore, smoothing", [(False, False, 0.0), (True, False, 0.0),
                                                         (False, True, 0.0), (True, True, 0.2),
                                                         (False, False, 0.1)])
def test_cross_entropy_equals_nll_of_log_softmax(reduction, weighted, ignore, smoothing):
    rng = np.random.default_rng(3)
    z = leaf(rng, 7, 4)
    t = rng.integers(0, 4, 7)
    if ignore:
        t[[1, 4]] = -100
    weight = constant(rng.uniform(0.5, 2.0, 4)) if weighted else None

    def fused(z):
        return F.cross_entropy(z, constant(t, cr.int64), weight=weight, reduction=reduction,
                               label_smoothing=smoothing)

    def reference(z):
        return _nll_reference(cr.log_softmax(z, dim=1), t, weight, -100, reduction, smoothing)

    assert_same(fused, reference, [z])


def test_cross_entropy_with_extra_dims_equals_the_rows_version():
    rng = np.random.default_rng(4)
    z = leaf(rng, 3, 4, 5)  # (N, C, d)
    t = rng.integers(0, 4, (3, 5))

    def reference(z):
        rows = z.permute(0, 2, 1).reshape(15, 4)
        return _nll_reference(cr.log_softmax(rows, dim=1), t.reshape(-1), None, -100, "mean", 0.0)

    assert_same(lambda z: F.cross_entropy(z, constant(t, cr.int64)), reference, [z])


@pytest.mark.parametrize("weighted, smoothing", [(False, 0.0), (True, 0.3)])
def test_soft_cross_entropy_equals_the_weighted_log_likelihood(weighted, smoothing):
    rng = np.random.default_rng(5)
    z, y = leaf(rng, 6, 3), leaf(rng, 6, 3, low=0.0, high=1.0)
    weight = constant(rng.uniform(0.5, 2.0, 3)) if weighted else None

    def reference(z, y):
        smoothed = (1 - smoothing) * y + smoothing / 3
        w = weight if weight is not None else 1.0
        return -(w * smoothed * cr.log_softmax(z, dim=1)).sum(dim=1).mean()

    assert_same(lambda z, y: F.cross_entropy(z, y, weight=weight, label_smoothing=smoothing), reference, [z, y])


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_nll_loss_equals_the_picked_log_probabilities(reduction):
    rng = np.random.default_rng(6)
    a = leaf(rng, 5, 3)
    t = np.array([0, 2, -100, 1, 2])
    weight = constant([0.5, 1.0, 2.0])

    def fused(a):
        return F.nll_loss(a, constant(t, cr.int64), weight=weight, reduction=reduction)

    assert_same(fused, lambda a: _nll_reference(a, t, weight, -100, reduction, 0.0), [a])


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("weighted, pos_weighted", [(False, False), (True, False), (False, True), (True, True)])
def test_bce_with_logits_equals_the_stable_log_likelihood(reduction, weighted, pos_weighted):
    rng = np.random.default_rng(7)
    x = cr.tensor(rng.standard_normal((4, 3)) * 4, dtype=cr.float64, requires_grad=True)
    y = leaf(rng, 4, 3, low=0.0, high=1.0)
    weight = constant(rng.uniform(0.5, 2.0, (4, 3))) if weighted else None
    pos_weight = constant(rng.uniform(0.5, 3.0, 3)) if pos_weighted else None

    def reference(x, y):
        c = 1 + (pos_weight - 1) * y if pos_weight is not None else 1.0
        losses = (1 - y) * x + c * (cr.log1p(cr.exp(-x.abs())) + cr.relu(-x))
        losses = losses * weight if weight is not None else losses
        return {"mean": losses.mean(), "sum": losses.sum(), "none": losses}[reduction]

    def fused(x, y):
        return F.binary_cross_entropy_with_logits(x, y, weight=weight, pos_weight=pos_weight, reduction=reduction)

    assert_same(fused, reference, [x, y])


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_binary_cross_entropy_equals_the_log_likelihood(reduction):
    rng = np.random.default_rng(8)
    p, y = leaf(rng, 4, 3, low=0.05, high=0.95), leaf(rng, 4, 3, low=0.0, high=1.0)
    weight = constant(rng.uniform(0.5, 2.0, (4, 3)))

    def reference(p, y):
        losses = -weight * (y * cr.log(p) + (1 - y) * cr.log1p(-p))
        return {"mean": losses.mean(), "sum": losses.sum(), "none": losses}[reduction]

    assert_same(lambda p, y: F.binary_cross_entropy(p, y, weight=weight, reduction=reduction), reference, [p, y])


# ---------------------------------------------------------------------- regression losses

def _huber(d, delta):
    m = (d.abs()).clamp(max=delta)
    return m * (d.abs() - m / 2)


_POINTWISE = {
    "mse": (F.mse_loss, lambda d: d * d),
    "l1": (F.l1_loss, lambda d: d.abs()),
    "huber": (lambda x, y, reduction: F.huber_loss(x, y, reduction=reduction, delta=0.7),
              lambda d: _huber(d, 0.7)),
}


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("name", sorted(_POINTWISE))
def test_pointwise_losses_equal_their_formula(name, reduction):
    rng = np.random.default_rng(9)
    x, y = leaf(rng, 5, 2), leaf(rng, 5, 2)
    fused_fn, loss_of_difference = _POINTWISE[name]

    def reference(x, y):
        losses = loss_of_difference(x - y)
        return {"mean": losses.mean(), "sum": losses.sum(), "none": losses}[reduction]

    assert_same(lambda x, y: fused_fn(x, y, reduction=reduction), reference, [x, y])


# ---------------------------------------------------------------------- layers without parameters of their own

@pytest.mark.parametrize("shape", [(6, 3), (4, 3, 5)])
@pytest.mark.parametrize("training", [True, False])
def test_batch_norm_equals_standardize_scale_shift(shape, training):
    rng = np.random.default_rng(10)
    x, gamma, beta = leaf(rng, *shape), leaf(rng, 3), leaf(rng, 3)
    running_mean, running_var = constant(rng.standard_normal(3)), constant(rng.uniform(0.5, 2.0, 3))
    axes = (0,) if len(shape) == 2 else (0, 2)
    view = (1, 3) if len(shape) == 2 else (1, 3, 1)

    def fused(x, gamma, beta):
        return F.batch_norm(x, running_mean.clone(), running_var.clone(), gamma, beta, training=training, eps=1e-5)

    def reference(x, gamma, beta):
        if training:
            mean, var = x.mean(dim=axes, keepdim=True), x.var(dim=axes, keepdim=True, unbiased=False)
        else:
            mean, var = running_mean.reshape(*view), running_var.reshape(*view)
        return gamma.reshape(*view) * (x - mean) / cr.sqrt(var + 1e-5) + beta.reshape(*view)

    assert_same(fused, reference, [x, gamma, beta])


MEMORY_ORDERS = {"channels-last": (0, 2, 3, 1), "channel-first": (1, 0, 2, 3), "contiguous": (0, 1, 2, 3),
                 "other": (3, 1, 0, 2)}


@pytest.mark.parametrize("order", sorted(MEMORY_ORDERS))
@pytest.mark.parametrize("training", [True, False])
@pytest.mark.parametrize("affine", [True, False])
def test_batch_norm_of_feature_maps_in_every_memory_layout(order, training, affine):
    """The 2-d batch norm node reads x and the upstream gradient in the layout they come in
    (channels-last: the wide view; channel-first; contiguous; anything else copied)."""
    rng = np.random.default_rng(12)
    perm = MEMORY_ORDERS[order]
    stored = cr.tensor(rng.standard_normal(tuple(np.array((4, 3, 5, 2))[list(perm)])), dtype=cr.float64,
                       requires_grad=True)
    back = [int(i) for i in np.argsort(perm)]
    gamma, beta = leaf(rng, 3), leaf(rng, 3)
    running_mean, running_var = constant(rng.standard_normal(3)), constant(rng.uniform(0.5, 2.0, 3))
    view = (1, 3, 1, 1)
    inputs = [stored, gamma, beta] if affine else [stored]

    def fused(x, *affine_args):
        w, b = affine_args if affine else (None, None)
        return F.batch_norm(x.permute(*back), running_mean.clone(), running_var.clone(), w, b, training=training)

    def reference(x, *affine_args):
        x = x.permute(*back)
        if training:
            mean, var = x.mean(dim=(0, 2, 3), keepdim=True), x.var(dim=(0, 2, 3), keepdim=True, unbiased=False)
        else:
            mean, var = running_mean.reshape(*view), running_var.reshape(*view)
        out = (x - mean) / cr.sqrt(var + 1e-5)
        return out * affine_args[0].reshape(*view) + affine_args[1].reshape(*view) if affine else out

    assert_same(fused, reference, inputs)


def test_dropout_equals_the_product_with_its_scaled_mask():
    x = leaf(np.random.default_rng(11), 50, 4, low=0.5, high=1.5)  # no zeros: the mask is readable from y
    cr.manual_seed(3)
    mask = (F.dropout(x, p=0.3).detach().numpy() != 0) / 0.7
    cr.manual_seed(3)
    assert_same(lambda x: F.dropout(x, p=0.3), lambda x: x * constant(mask), [x])


@pytest.mark.parametrize("degree, interaction_only", [(2, False), (3, False), (3, True)])
def test_polynomial_features_equal_products_of_powers(degree, interaction_only):
    x = leaf(np.random.default_rng(12), 4, 3, low=0.5, high=2.0)
    powers = F.polynomial_powers(3, degree, interaction_only)

    def reference(x):
        out = None
        for j in range(3):  # prod_j x_j ** P[:, j], one column per output feature
            factor = x[:, j:j + 1] ** constant(powers[:, j].astype(np.float64))
            out = factor if out is None else out * factor
        return out

    assert_same(lambda x: F.polynomial_features(x, degree, interaction_only), reference, [x])


@pytest.mark.parametrize("penalty, term", [(F.l1_penalty, lambda p: p.abs()), (F.l2_penalty, lambda p: p * p)])
def test_penalties_equal_the_sum_over_every_tensor(penalty, term):
    rng = np.random.default_rng(13)
    params = [leaf(rng, 3, 2), leaf(rng, 4)]

    def reference(*params):
        return sum(term(p).sum() for p in params)

    assert_same(lambda *params: penalty(list(params)), reference, params)


# ---------------------------------------------------------------------- second derivatives (create_graph)

def _double_backward_cases():
    rng = np.random.default_rng(20)
    t = constant(rng.integers(0, 4, 5), cr.int64)
    t_ignored = constant(np.array([0, 3, -100, 1, 2]), cr.int64)
    mask = constant(rng.standard_normal((5, 4)) > 0)
    weight = constant(rng.uniform(0.5, 2.0, 4))
    t_map = constant(rng.integers(0, 4, (2, 3)), cr.int64)
    return {
        "linear": (lambda x, w, b: F.linear(x, w, b), [(5, 3), (4, 3), (4,)]),
        "cross_entropy": (lambda z: F.cross_entropy(z, t), [(5, 4)]),
        "cross_entropy weighted, smoothed, ignored": (
            lambda z: F.cross_entropy(z, t_ignored, weight=weight, label_smoothing=0.1), [(5, 4)]),
        "cross_entropy none (N, C, d)": (lambda z: F.cross_entropy(z, t_map, reduction="none"), [(2, 4, 3)]),
        "soft cross_entropy": (lambda z, y: F.cross_entropy(z, y.softmax(dim=1), label_smoothing=0.2),
                               [(5, 4), (5, 4)]),
        "nll_loss": (lambda z: F.nll_loss(z.log_softmax(dim=1), t, weight=weight), [(5, 4)]),
        "bce_with_logits": (lambda x, y: F.binary_cross_entropy_with_logits(x, y.sigmoid(), pos_weight=weight),
                            [(5, 4), (5, 4)]),
        "binary_cross_entropy": (lambda x, y: F.binary_cross_entropy(x.sigmoid(), y.sigmoid(), weight=weight),
                                 [(5, 4), (5, 4)]),
        "mse": (lambda x, y: F.mse_loss(x, y), [(5, 4), (5, 4)]),
        "mse none": (lambda x, y: F.mse_loss(x, y, reduction="none"), [(5, 4), (5, 4)]),
        "huber": (lambda x, y: F.huber_loss(x * 3, y, delta=0.5), [(5, 4), (5, 4)]),
        "batch_norm training": (lambda x, g, b: F.batch_norm(x, None, None, g, b, training=True), [(6, 4), (4,), (4,)]),
        "dropout": (lambda x: F.dropout(x, 0.3) * x, [(5, 4)]),
        "polynomial_features": (lambda x: F.polynomial_features(x, 3), [(4, 2)]),
        "penalties": (lambda a, b: F.l2_penalty([a, b]) * F.l1_penalty([a]), [(3, 2), (4,)]),
        "masked mul": (lambda x: (x * mask).sum(), [(5, 4)]),
    }


@pytest.mark.parametrize("name", sorted(_double_backward_cases()))
def test_fused_nodes_have_second_derivatives(name):
    fn, shapes = _double_backward_cases()[name]
    rng = np.random.default_rng(21)
    inputs = [leaf(rng, *shape) for shape in shapes]
    cr.manual_seed(5)  # dropout draws the same mask in every call of fn
    assert gradgradcheck_with_fixed_seed(fn, inputs)


def gradgradcheck_with_fixed_seed(fn, inputs):
    def seeded(*args):
        cr.manual_seed(5)
        return fn(*args)

    return cr.autograd.gradgradcheck(seeded, *inputs, atol=1e-6, rtol=1e-4)


def test_linear_chain_has_second_derivatives():
    cr.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 4), nn.ReLU(), nn.Linear(4, 2)).double()
    x = leaf(np.random.default_rng(3), 5, 3)
    params = list(model.parameters())
    assert model(x).grad_fn.op in ("linear_chain", "linear")

    def loss(x, *_):
        return (model(x) ** 2).sum()

    assert cr.autograd.gradgradcheck(loss, x, *params, atol=1e-6, rtol=1e-4)
