"""The activations added with issue 16 as PyTorch spells them in nn and nn.functional:
Softplus, SiLU, ELU, SELU, Hardtanh (modules) and softplus, silu, elu, selu, hardtanh
(functions). Values and gradients equal torch's in float64; argument errors at construction;
reprs as torch prints them; MLP and the CLI accept the new names."""
from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn
from chainrule.nn import functional as F

torch = pytest.importorskip("torch")

VALUES = np.array([-30.0, -3.0, -1.0, -0.5, 0.0, 0.25, 1.0, 1.0000001, 2.5, 15.0, 25.0])

CASES = [
    (lambda: nn.Softplus(), lambda: torch.nn.Softplus()),
    (lambda: nn.Softplus(beta=2.0, threshold=5.0), lambda: torch.nn.Softplus(beta=2.0, threshold=5.0)),
    (lambda: nn.SiLU(), lambda: torch.nn.SiLU()),
    (lambda: nn.ELU(), lambda: torch.nn.ELU()),
    (lambda: nn.ELU(alpha=0.3), lambda: torch.nn.ELU(alpha=0.3)),
    (lambda: nn.SELU(), lambda: torch.nn.SELU()),
    (lambda: nn.Hardtanh(), lambda: torch.nn.Hardtanh()),
    (lambda: nn.Hardtanh(-2.0, 0.5), lambda: torch.nn.Hardtanh(-2.0, 0.5)),
]


def run_both(ours, theirs):
    x = cr.tensor(VALUES, requires_grad=True)
    t = torch.tensor(VALUES, requires_grad=True)
    out, expected = ours(x), theirs(t)
    weights = np.linspace(-1.0, 2.0, VALUES.size)
    (out * cr.tensor(weights)).sum().backward()
    (expected * torch.from_numpy(weights)).sum().backward()
    return out, expected, x.grad, t.grad


@pytest.mark.parametrize("make_ours, make_theirs", CASES)
def test_modules_match_torch(make_ours, make_theirs):
    ours, theirs = make_ours(), make_theirs()
    out, expected, grad, expected_grad = run_both(ours, theirs)
    np.testing.assert_allclose(out.numpy(), expected.detach().numpy(), rtol=1e-13, atol=1e-15)
    np.testing.assert_allclose(grad.numpy(), expected_grad.numpy(), rtol=1e-13, atol=1e-15)
    assert repr(ours) == repr(theirs)


@pytest.mark.parametrize("name, kwargs", [
    ("softplus", {"beta": 0.5, "threshold": 10.0}), ("silu", {}), ("elu", {"alpha": 2.0}), ("selu", {}),
    ("hardtanh", {"min_val": -0.5, "max_val": 2.0}),
])
def test_functions_match_torch(name, kwargs):
    out, expected, grad, expected_grad = run_both(lambda x: getattr(F, name)(x, **kwargs),
                                                  lambda t: getattr(torch.nn.functional, name)(t, **kwargs))
    np.testing.assert_allclose(out.numpy(), expected.detach().numpy(), rtol=1e-13, atol=1e-15)
    np.testing.assert_allclose(grad.numpy(), expected_grad.numpy(), rtol=1e-13, atol=1e-15)


@pytest.mark.parametrize("make, error, message", [
    (lambda: nn.Softplus(beta=0), ValueError, "softplus: beta must be non-zero"),
    (lambda: nn.Softplus(beta="1"), TypeError, "softplus: beta must be a number"),
    (lambda: nn.ELU(alpha=None), TypeError, "elu: alpha must be a number"),
    (lambda: nn.Hardtanh(1.0, -1.0), ValueError, "hardtanh: min_val"),
    (lambda: F.silu([1.0, 2.0]), TypeError, "silu"),
    (lambda: F.selu(cr.tensor([1, 2])), TypeError, "selu"),
])
def test_bad_arguments_are_named(make, error, message):
    with pytest.raises(error, match=message):
        make()


@pytest.mark.parametrize("activation", ["silu", "elu", "selu", "softplus"])
def test_mlp_takes_the_new_activations(activation):
    cr.manual_seed(0)
    model = nn.MLP([3, 4, 1], activation=activation, dtype=cr.float64)
    hidden = model.layers[1]
    assert type(hidden).__name__.lower() == activation
    x = cr.tensor(np.random.default_rng(0).standard_normal((5, 3)))
    first = model.layers[0]
    expected = model.layers[2](hidden(first(x)))
    np.testing.assert_allclose(model(x).numpy(), expected.numpy(), rtol=0, atol=0)


def test_the_cli_offers_every_named_mlp_activation():
    import argparse

    from chainrule.cli.arguments import add_model_arguments

    parser = argparse.ArgumentParser()
    add_model_arguments(parser)
    choices = next(a.choices for a in parser._actions if a.dest == "activation")
    named = {name for name in nn.mlp._ACTIVATIONS if name != "identity"}
    assert set(choices) == named
