"""Losses and penalties (chainrule.nn.functional, chainrule.nn.losses).

Every loss is checked three ways: its forward value against a closed form written
here in NumPy, its gradients against float64 central differences (gradcheck), and
both value and gradients against torch.nn.functional where PyTorch is installed.
Plus: each fused loss is ONE graph node, numerical stability at extreme logits,
the closed-form cross-entropy gradient (softmax - onehot) / n, error messages, and
the loss modules agreeing with their functions.
"""
from __future__ import annotations

import numpy as np
import pytest
import scipy.special
from conftest import check_grad, leaf

import chainrule as cr
import chainrule.nn.functional as F
from chainrule import nn

REDUCTIONS = ["mean", "sum", "none"]


def torch_or_skip():
    return pytest.importorskip("torch")


def values(shape, seed, low=-2.0, high=2.0):
    return np.random.default_rng(seed).uniform(low, high, shape)


def labels(shape, classes, seed):
    return np.random.default_rng(seed).integers(0, classes, shape).astype(np.int64)


def reduce(losses, reduction, denominator=None):
    if reduction == "none":
        return losses
    total = losses.sum()
    return total / (losses.size if denominator is None else denominator) if reduction == "mean" else total


# ---------------------------------------------------------------------- closed forms

def ce_reference(z, t, weight=None, ignore_index=-100, reduction="mean", smoothing=0.0):
    """Cross-entropy with integer targets, (N, C) logits, written from the definition."""
    n, c = z.shape
    logp = scipy.special.log_softmax(z, axis=1)
    w = np.ones(c) if weight is None else weight
    keep = t != ignore_index
    safe = np.where(keep, t, 0)
    wt = w[safe] * keep
    nll = -logp[np.arange(n), safe] * wt
    smooth = -(logp * w).sum(axis=1) * keep
    losses = (1 - smoothing) * nll + smoothing / c * smooth
    return reduce(losses, reduction, wt.sum())


def soft_ce_reference(z, y, weight=None, reduction="mean", smoothing=0.0):
    c = z.shape[1]
    logp = scipy.special.log_softmax(z, axis=1)
    y = (1 - smoothing) * y + smoothing / c
    w = np.ones(c) if weight is None else weight
    losses = -(w * y * logp).sum(axis=1)
    return reduce(losses, reduction, len(z))


def bce_logits_reference(x, y, weight=None, pos_weight=None, reduction="mean"):
    pw = 1.0 if pos_weight is None else pos_weight
    log_sig = -np.logaddexp(0, -x)
    log_one_minus = -np.logaddexp(0, x)
    losses = -(pw * y * log_sig + (1 - y) * log_one_minus)
    if weight is not None:
        losses = losses * weight
    return reduce(losses, reduction)


def huber_reference(d, delta):
    a = np.abs(d)
    return np.where(a <= delta, 0.5 * d * d, delta * (a - 0.5 * delta))


# ---------------------------------------------------------------------- cross-entropy

CE_CASES = [
    # id, kwargs for F.cross_entropy (weight given as a list)
    pytest.param({}, id="plain"),
    pytest.param({"weight": [0.5, 2.0, 1.0, 3.0]}, id="weight"),
    pytest.param({"ignore_index": 2}, id="ignore_index"),
    pytest.param({"label_smoothing": 0.2}, id="smoothing"),
    pytest.param({"weight": [0.5, 2.0, 1.0, 3.0], "ignore_index": 1, "label_smoothing": 0.1}, id="all"),
]


def _ce_kwargs(kwargs, dtype=np.float64):
    out = dict(kwargs)
    if "weight" in out:
        out["weight"] = cr.tensor(np.array(out["weight"], dtype=dtype))
    return out


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("kwargs", CE_CASES)
def test_cross_entropy_index_targets_value_and_gradcheck(kwargs, reduction):
    z = values((6, 4), 1) * 2
    t = np.array([0, 1, 2, 3, 2, 1])
    logits = leaf(z)
    out = F.cross_entropy(logits, cr.tensor(t), reduction=reduction, **_ce_kwargs(kwargs))
    weight = np.array(kwargs["weight"]) if "weight" in kwargs else None
    expected = ce_reference(z, t, weight, kwargs.get("ignore_index", -100), reduction,
                            kwargs.get("label_smoothing", 0.0))
    np.testing.assert_allclose(out.numpy(), expected, rtol=1e-12, atol=1e-14)
    check_grad(lambda a: F.cross_entropy(a, cr.tensor(t), reduction=reduction, **_ce_kwargs(kwargs)), logits)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("kwargs", CE_CASES)
def test_cross_entropy_matches_torch(kwargs, reduction):
    torch = torch_or_skip()
    z = values((6, 4), 2) * 3
    t = np.array([3, 1, 2, 0, 2, 1])
    logits = leaf(z)
    out = F.cross_entropy(logits, cr.tensor(t), reduction=reduction, **_ce_kwargs(kwargs))
    zt = torch.tensor(z, requires_grad=True)
    torch_kwargs = {k: (torch.tensor(v, dtype=torch.float64) if k == "weight" else v) for k, v in kwargs.items()}
    ref = torch.nn.functional.cross_entropy(zt, torch.tensor(t), reduction=reduction, **torch_kwargs)
    np.testing.assert_allclose(out.numpy(), ref.detach().numpy(), rtol=1e-12, atol=1e-14)
    g = values(out.shape, 3)
    out.backward(cr.tensor(g))
    ref.backward(torch.tensor(g))
    np.testing.assert_allclose(logits.grad.numpy(), zt.grad.numpy(), rtol=1e-10, atol=1e-14)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("kwargs", [{}, {"weight": [0.5, 2.0, 1.0]}, {"label_smoothing": 0.3}],
                         ids=["plain", "weight", "smoothing"])
def test_cross_entropy_probability_targets(kwargs, reduction):
    z = values((5, 3), 4) * 2
    y = scipy.special.softmax(values((5, 3), 5) * 2, axis=1)
    logits, target = leaf(z), leaf(y)
    out = F.cross_entropy(logits, target, reduction=reduction, **_ce_kwargs(kwargs))
    weight = np.array(kwargs["weight"]) if "weight" in kwargs else None
    np.testing.assert_allclose(
        out.numpy(), soft_ce_reference(z, y, weight, reduction, kwargs.get("label_smoothing", 0.0)), rtol=1e-12
    )
    check_grad(lambda a, b: F.cross_entropy(a, b, reduction=reduction, **_ce_kwargs(kwargs)), logits, target)
    torch = pytest.importorskip("torch")
    zt, yt = torch.tensor(z, requires_grad=True), torch.tensor(y, requires_grad=True)
    torch_kwargs = {k: (torch.tensor(v, dtype=torch.float64) if k == "weight" else v) for k, v in kwargs.items()}
    ref = torch.nn.functional.cross_entropy(zt, yt, reduction=reduction, **torch_kwargs)
    np.testing.assert_allclose(out.numpy(), ref.detach().numpy(), rtol=1e-12)
    g = values(out.shape, 6)
    out.backward(cr.tensor(g))
    ref.backward(torch.tensor(g))
    np.testing.assert_allclose(logits.grad.numpy(), zt.grad.numpy(), rtol=1e-10, atol=1e-14)
    np.testing.assert_allclose(target.grad.numpy(), yt.grad.numpy(), rtol=1e-10, atol=1e-14)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("shape, target_shape", [((3, 4, 5), (3, 5)), ((2, 3, 2, 2), (2, 2, 2)), ((4,), ())],
                         ids=["N,C,d", "N,C,d1,d2", "unbatched"])
def test_cross_entropy_class_dim_one_layouts(shape, target_shape, reduction):
    classes = shape[0] if len(shape) == 1 else shape[1]
    z = values(shape, 7)
    t = labels(target_shape, classes, 8)
    logits = leaf(z)
    out = F.cross_entropy(logits, cr.tensor(t), reduction=reduction)
    rows = np.moveaxis(z, 0 if len(shape) == 1 else 1, -1).reshape(-1, classes)
    per_row = ce_reference(rows, t.reshape(-1), reduction="none").reshape(target_shape)
    np.testing.assert_allclose(out.numpy(), reduce(per_row, reduction), rtol=1e-12)
    assert out.shape == (target_shape if reduction == "none" else ())
    check_grad(lambda a: F.cross_entropy(a, cr.tensor(t), reduction=reduction), logits)
    nll = F.nll_loss(cr.log_softmax(leaf(z), dim=0 if len(shape) == 1 else 1), cr.tensor(t), reduction=reduction)
    np.testing.assert_allclose(nll.numpy(), out.numpy(), rtol=1e-12)


def test_cross_entropy_is_one_node_with_closed_form_gradient():
    z = values((8, 5), 9).astype(np.float32)
    t = labels((8,), 5, 10)
    logits = cr.tensor(z, requires_grad=True)
    loss = F.cross_entropy(logits, cr.tensor(t))
    assert loss.grad_fn.op == "cross_entropy"
    assert loss.grad_fn.parents == (logits,)  # logits are the only graph input
    assert loss.dtype == np.float32 and loss.shape == ()
    loss.backward()
    expected = (scipy.special.softmax(z.astype(np.float64), axis=1) - np.eye(5)[t]) / 8
    np.testing.assert_allclose(logits.grad.numpy(), expected, rtol=1e-5, atol=1e-7)
    assert logits.grad.dtype == np.float32


@pytest.mark.parametrize("scale", [1e2, 1e4, 1e30])
def test_cross_entropy_is_stable_for_extreme_logits(scale):
    z = np.array([[1.0, 0.0, -1.0], [-1.0, 0.5, 1.0]]) * scale
    t = np.array([2, 0])
    logits = leaf(z)
    loss = F.cross_entropy(logits, cr.tensor(t), reduction="none")
    # the target logit is 2 * scale and 2 * scale below the row maximum: loss = 2 * scale exactly
    np.testing.assert_allclose(loss.numpy(), [2 * scale, 2 * scale], rtol=1e-12)
    loss.sum().backward()
    np.testing.assert_allclose(logits.grad.numpy(), [[1, 0, -1], [-1, 0, 1]], atol=1e-12)


def test_cross_entropy_all_rows_ignored_gives_nan_mean_like_torch():
    loss = F.cross_entropy(leaf(values((2, 3), 11)), cr.tensor([-100, -100]))
    assert np.isnan(loss.item())
    assert F.cross_entropy(leaf(values((2, 3), 11)), cr.tensor([-100, -100]), reduction="sum").item() == 0.0


CE_ERRORS = [
    pytest.param((4, 3), np.array([0, 1, 3, 2]), {}, IndexError,
                 r"cross_entropy: target contains class index 3, outside \[0, 3\)", id="too-large"),
    pytest.param((4, 3), np.array([0, -1, 1, 2]), {}, IndexError,
                 r"cross_entropy: target contains class index -1, outside \[0, 3\)", id="negative"),
    pytest.param((4, 3), np.array([0, 1, 1]), {}, ValueError,
                 r"cross_entropy: target must have shape \(4,\) for input of shape \(4, 3\)", id="short-target"),
    pytest.param((4, 3), np.array([0.0, 1.0, 1.0, 2.0]), {}, ValueError,
                 r"cross_entropy: input \(logits\) and target \(probabilities\) must have the same shape",
                 id="float-target-shape"),
    pytest.param((4, 3), np.array([True, False, True, True]), {}, TypeError,
                 r"cross_entropy: target must be int64 class indices", id="bool-target"),
    pytest.param((4, 3), np.array([0, 1, 1, 2]), {"reduction": "avg"}, ValueError,
                 r"cross_entropy: reduction must be 'mean', 'sum' or 'none'; got 'avg'", id="reduction"),
    pytest.param((4, 3), np.array([0, 1, 1, 2]), {"label_smoothing": 1.5}, ValueError,
                 r"cross_entropy: label_smoothing must lie in \[0, 1\]; got 1.5", id="smoothing"),
    pytest.param((4, 3), np.array([0, 1, 1, 2]), {"ignore_index": None}, TypeError,
                 r"cross_entropy: ignore_index must be an int; got None", id="ignore_index-type"),
    pytest.param((4, 3), np.array([0, 1, 1, 2]), {"weight": cr.ones(4, dtype=cr.float64)}, ValueError,
                 r"cross_entropy: weight must have shape \(3,\) \(one per class\); got shape \(4,\)",
                 id="weight-shape"),
]


@pytest.mark.parametrize("shape, target, kwargs, error, message", CE_ERRORS)
def test_cross_entropy_errors(shape, target, kwargs, error, message):
    with pytest.raises(error, match=message):
        F.cross_entropy(leaf(values(shape, 12)), cr.tensor(target), **kwargs)


def test_cross_entropy_rejects_integer_logits():
    with pytest.raises(TypeError, match=r"cross_entropy: input \(logits\) must be floating point .* got dtype int64"):
        F.cross_entropy(cr.tensor([[1, 2]]), cr.tensor([0]))


# ---------------------------------------------------------------------- nll_loss

@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("kwargs", [{}, {"weight": [0.5, 2.0, 1.0, 3.0]}, {"ignore_index": 0}],
                         ids=["plain", "weight", "ignore"])
def test_nll_loss(kwargs, reduction):
    a = scipy.special.log_softmax(values((6, 4), 13), axis=1)
    t = np.array([0, 1, 2, 3, 0, 1])
    log_probs = leaf(a)
    out = F.nll_loss(log_probs, cr.tensor(t), reduction=reduction, **_ce_kwargs(kwargs))
    w = np.array(kwargs.get("weight", [1.0] * 4))
    keep = t != kwargs.get("ignore_index", -100)
    losses = -a[np.arange(6), t] * w[t] * keep
    np.testing.assert_allclose(out.numpy(), reduce(losses, reduction, (w[t] * keep).sum()), rtol=1e-12)
    check_grad(lambda x: F.nll_loss(x, cr.tensor(t), reduction=reduction, **_ce_kwargs(kwargs)), log_probs)
    torch = pytest.importorskip("torch")
    at = torch.tensor(a, requires_grad=True)
    torch_kwargs = {k: (torch.tensor(v, dtype=torch.float64) if k == "weight" else v) for k, v in kwargs.items()}
    ref = torch.nn.functional.nll_loss(at, torch.tensor(t), reduction=reduction, **torch_kwargs)
    np.testing.assert_allclose(out.numpy(), ref.detach().numpy(), rtol=1e-12)
    g = values(out.shape, 14)
    out.backward(cr.tensor(g))
    ref.backward(torch.tensor(g))
    np.testing.assert_allclose(log_probs.grad.numpy(), at.grad.numpy(), rtol=1e-12, atol=1e-15)


# ---------------------------------------------------------------------- binary cross-entropy

BCE_CASES = [
    pytest.param({}, id="plain"),
    pytest.param({"weight": [0.5, 1.0, 2.0]}, id="weight"),
    pytest.param({"pos_weight": [3.0, 0.5, 1.0]}, id="pos_weight"),
    pytest.param({"weight": [[2.0], [1.0], [0.5], [1.5]], "pos_weight": [3.0, 0.5, 1.0]}, id="both"),
]


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("kwargs", BCE_CASES)
def test_bce_with_logits(kwargs, reduction):
    x = values((4, 3), 15) * 3
    y = np.random.default_rng(16).uniform(0, 1, (4, 3))
    logits, target = leaf(x), leaf(y)
    tensors = {k: cr.tensor(np.array(v)) for k, v in kwargs.items()}
    out = F.binary_cross_entropy_with_logits(logits, target, reduction=reduction, **tensors)
    arrays = {k: np.array(v) for k, v in kwargs.items()}
    np.testing.assert_allclose(out.numpy(), bce_logits_reference(x, y, reduction=reduction, **arrays), rtol=1e-12)
    check_grad(lambda a, b: F.binary_cross_entropy_with_logits(a, b, reduction=reduction, **tensors), logits, target)
    torch = pytest.importorskip("torch")
    xt, yt = torch.tensor(x, requires_grad=True), torch.tensor(y, requires_grad=True)
    ref = torch.nn.functional.binary_cross_entropy_with_logits(
        xt, yt, reduction=reduction, **{k: torch.tensor(v) for k, v in arrays.items()}
    )
    np.testing.assert_allclose(out.numpy(), ref.detach().numpy(), rtol=1e-12)
    g = values(out.shape, 17)
    out.backward(cr.tensor(g))
    ref.backward(torch.tensor(g))
    np.testing.assert_allclose(logits.grad.numpy(), xt.grad.numpy(), rtol=1e-10, atol=1e-14)
    np.testing.assert_allclose(target.grad.numpy(), yt.grad.numpy(), rtol=1e-10, atol=1e-14)


def test_bce_with_logits_is_stable_for_extreme_logits():
    x = np.array([-1000.0, -40.0, 40.0, 1000.0])
    y = np.array([1.0, 0.0, 0.0, 1.0])
    logits = leaf(x)
    out = F.binary_cross_entropy_with_logits(logits, leaf(y, requires_grad=False), reduction="none")
    np.testing.assert_allclose(out.numpy(), [1000.0, np.log1p(np.exp(-40.0)), 40.0 + np.log1p(np.exp(-40.0)), 0.0],
                               rtol=1e-12, atol=1e-300)
    out.sum().backward()
    np.testing.assert_allclose(logits.grad.numpy(), scipy.special.expit(x) - y, atol=1e-15)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("with_weight", [False, True], ids=["plain", "weight"])
def test_binary_cross_entropy_on_probabilities(with_weight, reduction):
    p = np.random.default_rng(18).uniform(0.05, 0.95, (4, 3))
    y = np.random.default_rng(19).uniform(0, 1, (4, 3))
    w = np.array([0.5, 1.0, 2.0])
    probs, target = leaf(p), leaf(y)
    kwargs = {"weight": cr.tensor(w)} if with_weight else {}
    out = F.binary_cross_entropy(probs, target, reduction=reduction, **kwargs)
    losses = -(y * np.log(p) + (1 - y) * np.log1p(-p)) * (w if with_weight else 1)
    np.testing.assert_allclose(out.numpy(), reduce(losses, reduction), rtol=1e-12)
    check_grad(lambda a, b: F.binary_cross_entropy(a, b, reduction=reduction, **kwargs), probs, target)
    torch = pytest.importorskip("torch")
    pt, yt = torch.tensor(p, requires_grad=True), torch.tensor(y, requires_grad=True)
    ref = torch.nn.functional.binary_cross_entropy(pt, yt, reduction=reduction,
                                                   **({"weight": torch.tensor(w)} if with_weight else {}))
    g = values(out.shape, 20)
    out.backward(cr.tensor(g))
    ref.backward(torch.tensor(g))
    np.testing.assert_allclose(out.numpy(), ref.detach().numpy(), rtol=1e-12)
    np.testing.assert_allclose(probs.grad.numpy(), pt.grad.numpy(), rtol=1e-10)
    np.testing.assert_allclose(target.grad.numpy(), yt.grad.numpy(), rtol=1e-10)


def test_binary_cross_entropy_clamps_log_at_minus_100_like_torch():
    out = F.binary_cross_entropy(leaf([0.0, 1.0, 0.0]), leaf([1.0, 0.0, 0.0]), reduction="none")
    np.testing.assert_array_equal(out.numpy(), [100.0, 100.0, 0.0])


BINARY_ERRORS = [
    pytest.param(F.binary_cross_entropy_with_logits, [[0.5, 1.0]], [[1, 0]], TypeError,
                 r"binary_cross_entropy_with_logits: target must be floating point .* got dtype int64. "
                 r"Use target.float\(\)", id="int-target"),
    pytest.param(F.binary_cross_entropy_with_logits, [[0.5], [1.0]], [0.0, 1.0], ValueError,
                 r"input and target must have the same shape; got \(2, 1\) and \(2,\)", id="shape"),
    pytest.param(F.binary_cross_entropy, [0.5, 1.5], [0.0, 1.0], ValueError,
                 r"binary_cross_entropy: input must be probabilities in \[0, 1\]; got values from 0.5 to 1.5",
                 id="not-probabilities"),
]


@pytest.mark.parametrize("function, x, y, error, message", BINARY_ERRORS)
def test_binary_errors(function, x, y, error, message):
    with pytest.raises(error, match=message):
        function(cr.tensor(x), cr.tensor(y))


# ---------------------------------------------------------------------- regression losses

REGRESSION = [
    # id, chainrule function, closed form of the elementwise loss, torch function name, kwargs
    pytest.param(F.mse_loss, lambda d: d * d, "mse_loss", {}, id="mse"),
    pytest.param(F.l1_loss, np.abs, "l1_loss", {}, id="l1"),
    pytest.param(F.huber_loss, lambda d: huber_reference(d, 1.0), "huber_loss", {}, id="huber"),
    pytest.param(F.huber_loss, lambda d: huber_reference(d, 0.3), "huber_loss", {"delta": 0.3}, id="huber-delta"),
]


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("function, elementwise, torch_name, kwargs", REGRESSION)
def test_regression_losses(function, elementwise, torch_name, kwargs, reduction):
    x = values((5, 3), 21)
    y = values((5, 3), 22)
    predictions, target = leaf(x), leaf(y)
    out = function(predictions, target, reduction=reduction, **kwargs)
    np.testing.assert_allclose(out.numpy(), reduce(elementwise(x - y), reduction), rtol=1e-12)
    assert out.grad_fn.parents == (predictions, target)  # one node for the whole loss
    check_grad(lambda a, b: function(a, b, reduction=reduction, **kwargs), predictions, target)
    torch = pytest.importorskip("torch")
    xt, yt = torch.tensor(x, requires_grad=True), torch.tensor(y, requires_grad=True)
    ref = getattr(torch.nn.functional, torch_name)(xt, yt, reduction=reduction, **kwargs)
    g = values(out.shape, 23)
    out.backward(cr.tensor(g))
    ref.backward(torch.tensor(g))
    np.testing.assert_allclose(out.numpy(), ref.detach().numpy(), rtol=1e-12)
    np.testing.assert_allclose(predictions.grad.numpy(), xt.grad.numpy(), rtol=1e-12)
    np.testing.assert_allclose(target.grad.numpy(), yt.grad.numpy(), rtol=1e-12)


@pytest.mark.parametrize("function", [F.mse_loss, F.l1_loss, F.huber_loss])
def test_regression_losses_refuse_to_broadcast(function):
    with pytest.raises(ValueError, match=r"input and target must have the same shape; got \(4, 1\) and \(4,\) "
                                         r"\(no broadcasting: .*\); "
                                         r"reshape one of them, e.g. target.reshape\(\(4, 1\)\)"):
        function(cr.zeros(4, 1), cr.zeros(4))


def test_huber_rejects_nonpositive_delta():
    with pytest.raises(ValueError, match=r"huber_loss: delta must be positive; got 0"):
        F.huber_loss(cr.zeros(2), cr.zeros(2), delta=0)


# ---------------------------------------------------------------------- loss modules

MODULES = [
    pytest.param(nn.MSELoss(), lambda a, b: F.mse_loss(a, b), "float", id="MSELoss"),
    pytest.param(nn.L1Loss(reduction="sum"), lambda a, b: F.l1_loss(a, b, "sum"), "float", id="L1Loss"),
    pytest.param(nn.HuberLoss(delta=0.5), lambda a, b: F.huber_loss(a, b, delta=0.5), "float", id="HuberLoss"),
    pytest.param(nn.BCEWithLogitsLoss(pos_weight=cr.tensor([2.0, 1.0, 0.5], dtype=cr.float64)),
                 lambda a, b: F.binary_cross_entropy_with_logits(
                     a, b, pos_weight=cr.tensor([2.0, 1.0, 0.5], dtype=cr.float64)),
                 "unit", id="BCEWithLogitsLoss"),
    pytest.param(nn.BCELoss(), lambda a, b: F.binary_cross_entropy(a.sigmoid(), b), "unit", id="BCELoss"),
    pytest.param(nn.CrossEntropyLoss(label_smoothing=0.1), lambda a, b: F.cross_entropy(a, b, label_smoothing=0.1),
                 "labels", id="CrossEntropyLoss"),
    pytest.param(nn.NLLLoss(reduction="none"), lambda a, b: F.nll_loss(a, b, reduction="none"), "labels", id="NLLLoss"),
]


@pytest.mark.parametrize("module, function, target_kind", MODULES)
def test_loss_modules_equal_their_functions(module, function, target_kind):
    x = leaf(values((4, 3), 24))
    if target_kind == "labels":
        target = cr.tensor(labels((4,), 3, 25))
    elif target_kind == "unit":
        target = leaf(np.random.default_rng(26).uniform(0, 1, (4, 3)), requires_grad=False)
    else:
        target = leaf(values((4, 3), 27), requires_grad=False)
    prepared = x.sigmoid() if isinstance(module, nn.BCELoss) else x
    np.testing.assert_array_equal(module(prepared, target).numpy(), function(x, target).numpy())


def test_loss_module_weights_are_buffers_and_repr():
    weight = cr.tensor([1.0, 2.0])
    criterion = nn.CrossEntropyLoss(weight=weight, label_smoothing=0.1)
    assert list(criterion.state_dict()) == ["weight"]
    assert criterion.state_dict()["weight"].tolist() == [1.0, 2.0]
    assert repr(criterion) == "CrossEntropyLoss(reduction='mean', ignore_index=-100, label_smoothing=0.1)"
    assert list(nn.MSELoss().state_dict()) == []
    with pytest.raises(ValueError, match="MSELoss: reduction must be 'mean', 'sum' or 'none'; got 'avg'"):
        nn.MSELoss(reduction="avg")


# ---------------------------------------------------------------------- penalties

def test_penalties_values_gradients_and_one_node():
    a = values((3, 2), 28)
    b = values((4,), 29)
    pa, pb = leaf(a), leaf(b)
    l2 = F.l2_penalty([pa, pb])
    l1 = F.l1_penalty([pa, pb])
    np.testing.assert_allclose(l2.item(), (a ** 2).sum() + (b ** 2).sum(), rtol=1e-14)
    np.testing.assert_allclose(l1.item(), np.abs(a).sum() + np.abs(b).sum(), rtol=1e-14)
    assert l2.grad_fn.parents == (pa, pb) and l1.grad_fn.parents == (pa, pb)
    (0.5 * l2 + 3.0 * l1).backward()
    np.testing.assert_allclose(pa.grad.numpy(), a + 3.0 * np.sign(a), rtol=1e-14)
    np.testing.assert_allclose(pb.grad.numpy(), b + 3.0 * np.sign(b), rtol=1e-14)
    check_grad(lambda x, y: F.l2_penalty([x, y]), leaf(a), leaf(b))
    check_grad(lambda x, y: F.l1_penalty([x, y]), leaf(a), leaf(b))


def test_penalties_accept_a_module():
    model = nn.Linear(3, 2)
    expected = sum(float((p.numpy().astype(np.float64) ** 2).sum()) for p in model.parameters())
    np.testing.assert_allclose(F.l2_penalty(model).item(), expected, rtol=1e-6)
    with pytest.raises(ValueError, match=r"l2_penalty: params is empty"):
        F.l2_penalty([])
    with pytest.raises(TypeError, match=r"l1_penalty: params\[0\] must be floating point"):
        F.l1_penalty([cr.tensor([1, 2])])


@pytest.mark.parametrize("dtype", [cr.float32, cr.float64])
def test_mse_loss_of_empty_input_and_float32_against_float64(dtype):
    empty = F.mse_loss(cr.zeros(0, dtype=dtype), cr.zeros(0, dtype=dtype))
    assert np.isnan(empty.item()) and empty.dtype == dtype
    assert F.mse_loss(cr.zeros(0, dtype=dtype), cr.zeros(0, dtype=dtype), reduction="sum").item() == 0
    x, y = values((7, 2), 31), values((7, 2), 32)
    predictions = cr.tensor(x, dtype=dtype, requires_grad=True)
    loss = F.mse_loss(predictions, cr.tensor(y, dtype=dtype))
    assert loss.dtype == dtype
    (3 * loss).backward()
    tolerance = 1e-6 if dtype == cr.float32 else 1e-14
    np.testing.assert_allclose(loss.item(), np.mean((x - y) ** 2), rtol=tolerance)
    np.testing.assert_allclose(predictions.grad.numpy(), 3 * 2 * (x - y) / x.size, rtol=tolerance)
