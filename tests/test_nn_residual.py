"""nn.Residual: y = x + F(x), its gradient, registration and errors."""
from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn
from chainrule.autograd import gradcheck


def test_forward_is_x_plus_f_of_x():
    cr.manual_seed(0)
    inner = nn.Sequential(nn.Linear(5, 5, dtype=cr.float64), nn.Tanh())
    block = nn.Residual(inner)
    x = np.random.default_rng(0).standard_normal((4, 5))
    W, b = inner[0].weight.numpy(), inner[0].bias.numpy()
    np.testing.assert_allclose(block(cr.tensor(x, dtype=cr.float64)).numpy(), x + np.tanh(x @ W.T + b), rtol=1e-14)


def test_gradient_matches_central_differences():
    cr.manual_seed(1)
    block = nn.Residual(nn.Sequential(nn.Linear(3, 3, dtype=cr.float64), nn.Sigmoid()))
    x = cr.tensor(np.random.default_rng(1).standard_normal((2, 3)), dtype=cr.float64, requires_grad=True)
    assert gradcheck(lambda t: block(t), x)
    weight = block.module[0].weight
    assert gradcheck(lambda w: nn.functional.sigmoid(x.detach() @ w.t() + block.module[0].bias.detach()) + x.detach(),
                     weight)


def test_identity_path_passes_the_gradient_through():
    block = nn.Residual(nn.Linear(4, 4, bias=False, dtype=cr.float64))
    nn.init.zeros_(block.module.weight)  # F = 0, so dy/dx = I
    x = cr.tensor(np.ones((2, 4)), dtype=cr.float64, requires_grad=True)
    block(x).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), np.ones((2, 4)))


def test_parameters_are_registered_under_module():
    block = nn.Residual(nn.Sequential(nn.Linear(2, 2), nn.ReLU()))
    assert list(block.state_dict()) == ["module.0.weight", "module.0.bias"]
    assert block.num_parameters() == 6
    assert "Residual" in repr(block)


def test_errors_name_the_problem():
    with pytest.raises(TypeError, match="module must be an nn.Module"):
        nn.Residual(lambda x: x)
    with pytest.raises(ValueError, match=r"maps shape \(2, 3\) to \(2, 4\)"):
        nn.Residual(nn.Linear(3, 4))(cr.randn(2, 3))
    with pytest.raises(TypeError, match="expected a Tensor"):
        nn.Residual(nn.Identity())(np.zeros(3))
