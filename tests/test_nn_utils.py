"""nn.utils against torch.nn.utils on the same gradients: clip_grad_norm_ (every norm type,
the returned total norm, the non-finite error), clip_grad_value_, parameters_to_vector and
vector_to_parameters."""
from __future__ import annotations

import math

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn, optim
from chainrule.nn.utils import clip_grad_norm_, clip_grad_value_, parameters_to_vector, vector_to_parameters

torch = pytest.importorskip("torch")

SHAPES = [(3, 4), (4,), (), (2, 1, 3)]


def make_pair(dtype="float64", scale=1.0, seed=0, missing=(), special=None):
    """The same parameters and gradients in chainrule and torch (``missing``: indices without a
    gradient; ``special``: a value written into the first gradient's first coordinate)."""
    rng = np.random.default_rng(seed)
    ours, theirs = [], []
    for i, shape in enumerate(SHAPES):
        value = rng.standard_normal(shape).astype(dtype)
        grad = (scale * rng.standard_normal(shape)).astype(dtype)
        if special is not None and i == 0:
            grad.flat[0] = special
        p = cr.tensor(value, requires_grad=True)
        q = torch.tensor(value, requires_grad=True)
        if i not in missing:
            p.grad = cr.tensor(grad.copy())
            q.grad = torch.tensor(grad.copy())
        ours.append(p)
        theirs.append(q)
    return ours, theirs


def assert_grads_equal(ours, theirs, rtol):
    for p, q in zip(ours, theirs):
        if q.grad is None:
            assert p.grad is None
            continue
        np.testing.assert_allclose(p.grad.numpy(), q.grad.numpy(), rtol=rtol, atol=0, equal_nan=True)


@pytest.mark.parametrize("dtype, rtol", [("float64", 1e-13), ("float32", 2e-6)])
@pytest.mark.parametrize("norm_type", [2.0, 1.0, 3.0, 0.5, math.inf, "inf", 0.0])
@pytest.mark.parametrize("max_norm", [0.5, 1e3, 0])
def test_clip_grad_norm_matches_torch(dtype, rtol, norm_type, max_norm):
    ours, theirs = make_pair(dtype, missing=(1,))
    total = clip_grad_norm_(ours, max_norm, norm_type=norm_type)
    expected = torch.nn.utils.clip_grad_norm_(theirs, max_norm, norm_type=float(norm_type))
    assert isinstance(total, cr.Tensor) and total.shape == () and total.dtype == getattr(cr, dtype)
    np.testing.assert_allclose(total.item(), expected.item(), rtol=rtol)
    assert_grads_equal(ours, theirs, rtol)
    if max_norm == 1e3:  # nothing to clip: the gradients are untouched, bit for bit
        _, untouched = make_pair(dtype, missing=(1,))
        for p, q in zip(ours, untouched):
            if p.grad is not None:
                np.testing.assert_array_equal(p.grad.numpy(), q.grad.numpy())


def test_clipped_gradients_have_the_norm_asked_for():
    ours, _ = make_pair(scale=10.0)
    before = np.sqrt(sum((p.grad.numpy() ** 2).sum() for p in ours))
    total = clip_grad_norm_(ours, 1.0)
    after = np.sqrt(sum((p.grad.numpy() ** 2).sum() for p in ours))
    assert total.item() == pytest.approx(before, rel=1e-12)
    assert after == pytest.approx(1.0 / (1.0 + 1e-6 / before), rel=1e-12)


@pytest.mark.parametrize("special", [math.inf, -math.inf, math.nan])
@pytest.mark.parametrize("norm_type", [2.0, math.inf])
def test_non_finite_norms_as_torch(special, norm_type):
    ours, theirs = make_pair(special=special)
    with pytest.raises(RuntimeError, match="is non-finite, so it cannot be clipped") as ours_error:
        clip_grad_norm_(ours, 1.0, norm_type, error_if_nonfinite=True)
    with pytest.raises(RuntimeError) as torch_error:
        torch.nn.utils.clip_grad_norm_(theirs, 1.0, norm_type, error_if_nonfinite=True)
    assert str(ours_error.value) == str(torch_error.value)
    assert_grads_equal(ours, theirs, 0)  # nothing was scaled
    total = clip_grad_norm_(ours, 1.0, norm_type)  # scaled by the non-finite norm, as torch
    expected = torch.nn.utils.clip_grad_norm_(theirs, 1.0, norm_type)
    np.testing.assert_equal(total.item(), expected.item())
    assert_grads_equal(ours, theirs, 0)


def test_clip_grad_norm_accepts_a_tensor_a_generator_and_no_gradients():
    ours, theirs = make_pair()
    total = clip_grad_norm_(ours[0], 0.1)
    expected = torch.nn.utils.clip_grad_norm_(theirs[0], 0.1)
    np.testing.assert_allclose(total.item(), expected.item(), rtol=1e-13)
    np.testing.assert_allclose(ours[0].grad.numpy(), theirs[0].grad.numpy(), rtol=1e-13)
    model = nn.Linear(3, 2)
    total = clip_grad_norm_(model.parameters(), 1.0)  # no backward yet: no gradients
    assert total.item() == 0.0 and total.item() == torch.nn.utils.clip_grad_norm_([], 1.0).item()
    assert all(p.grad is None for p in model.parameters())


def test_clip_grad_norm_on_an_optimizers_flat_gradients():
    cr.manual_seed(0)
    model = nn.MLP([4, 8, 3])
    opt = optim.SGD(model.parameters(), lr=0.1)
    x = cr.randn(16, 4)
    (model(x) ** 2).sum().backward()
    assert all(p.grad.data is p.grad_slot for p in model.parameters())  # views of one flat buffer
    reference = [torch.tensor(p.grad.numpy().copy(), dtype=torch.float64) for p in model.parameters()]
    holders = [torch.zeros_like(g, requires_grad=True) for g in reference]
    for holder, g in zip(holders, reference):
        holder.grad = g
    expected = torch.nn.utils.clip_grad_norm_(holders, 0.5)
    total = clip_grad_norm_(model.parameters(), 0.5)
    np.testing.assert_allclose(total.item(), expected.item(), rtol=1e-6)
    for p, holder in zip(model.parameters(), holders):
        assert p.grad.data is p.grad_slot  # still the optimizer's slot
        np.testing.assert_allclose(p.grad.numpy(), holder.grad.numpy(), rtol=1e-6)
    opt.step()


@pytest.mark.parametrize("clip_value", [0.3, 2, 0.0])
def test_clip_grad_value_matches_torch(clip_value):
    ours, theirs = make_pair(missing=(2,), special=math.nan)
    assert clip_grad_value_(ours, clip_value) is None
    torch.nn.utils.clip_grad_value_(theirs, clip_value)
    assert_grads_equal(ours, theirs, 0)


def test_parameters_to_vector_matches_torch_and_is_differentiable():
    ours, theirs = make_pair()
    vec = parameters_to_vector(ours)
    expected = torch.nn.utils.parameters_to_vector(theirs)
    np.testing.assert_array_equal(vec.numpy(), expected.detach().numpy())
    assert vec.shape == (12 + 4 + 1 + 6,) and vec.requires_grad
    weights = np.arange(vec.shape[0], dtype=np.float64)
    (vec * cr.tensor(weights)).sum().backward()
    (expected * torch.tensor(weights)).sum().backward()
    for p, q in zip(ours, theirs):
        np.testing.assert_array_equal(p.grad.numpy(), q.grad.numpy())


def test_vector_to_parameters_matches_torch():
    ours, theirs = make_pair()
    values = np.linspace(-1, 1, 23)
    vector_to_parameters(cr.tensor(values), ours)
    torch.nn.utils.vector_to_parameters(torch.tensor(values), theirs)
    for p, q in zip(ours, theirs):
        np.testing.assert_array_equal(p.numpy(), q.detach().numpy())
    np.testing.assert_array_equal(parameters_to_vector(ours).numpy(), values)


def test_vector_to_parameters_writes_into_an_optimizers_flat_buffer():
    model = nn.Linear(3, 2)
    opt = optim.SGD(model.parameters(), lr=0.1)
    views = [p.data for p in model.parameters()]
    vector_to_parameters(cr.arange(8, dtype=cr.float32), model.parameters())
    assert all(p.data is view for p, view in zip(model.parameters(), views))  # same memory, new values
    np.testing.assert_array_equal(model.weight.numpy(), np.arange(6).reshape(2, 3))
    np.testing.assert_array_equal(model.bias.numpy(), [6, 7])
    model.weight.grad, model.bias.grad = cr.ones(2, 3), cr.ones(2)
    opt.step()
    np.testing.assert_allclose(model.bias.numpy(), [5.9, 6.9], rtol=1e-6)


@pytest.mark.parametrize("call, error, match", [
    (lambda ps: vector_to_parameters(np.zeros(23), ps), TypeError, "expected a Tensor as vec, but got: ndarray"),
    (lambda ps: vector_to_parameters(cr.zeros(22), ps), ValueError, r"23 elements .* got shape \(22,\)"),
    (lambda ps: vector_to_parameters(cr.zeros(1, 23), ps), ValueError, r"must be 1-D"),
    (lambda ps: parameters_to_vector([]), ValueError, "got no parameters"),
    (lambda ps: parameters_to_vector([ps[0], np.zeros(2)]), TypeError, r"parameters\[1\] is a ndarray"),
    (lambda ps: clip_grad_norm_([ps[0], "w"], 1.0), TypeError, r"parameters\[1\] is a str"),
])
def test_errors(call, error, match):
    ours, _ = make_pair()
    with pytest.raises(error, match=match):
        call(ours)
