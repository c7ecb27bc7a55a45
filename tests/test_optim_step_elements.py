"""Optimizer.step_elements (the sharded step of ZeRO stage 1): updating the flat elements in
pieces equals one whole step to the bit, and flat_gradient says when it may be used."""
from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn, optim

OPTIMIZERS = {
    "adam": lambda p: optim.Adam(p, lr=1e-2),
    "adamw_amsgrad": lambda p: optim.AdamW(p, lr=1e-2, amsgrad=True),
    "sgd_momentum": lambda p: optim.SGD(p, lr=0.1, momentum=0.9, nesterov=True),
    "rmsprop": lambda p: optim.RMSprop(p, lr=1e-2, momentum=0.5),
    "adagrad": lambda p: optim.Adagrad(p, lr=0.1),
}


def _model_and_grads(seed):
    cr.manual_seed(seed)
    model = nn.MLP([7, 300, 5])  # 3,905 parameters: the compiled kernels' sizes and the NumPy tail
    x = cr.randn(16, 7)
    return model, x


def _backward(model, x, opt):
    opt.zero_grad()
    (model(x) ** 2).mean().backward()


@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_steps_in_pieces_equal_whole_steps(name):
    results = []
    for pieces in (None, [(0, 1000, 0), (2000, 3905, 2000), (1000, 2000, 1000)]):
        model, x = _model_and_grads(0)
        params = list(model.parameters())
        opt = OPTIMIZERS[name](params)
        for _ in range(3):
            _backward(model, x, opt)
            if pieces is None:
                opt.step()
            else:
                assert opt.flat_gradient(params) is not None
                opt.step_elements(pieces)
        results.append(([p.numpy().copy() for p in params], opt.state_dict()))
    (want, want_state), (got, got_state) = results
    for a, b in zip(got, want):
        np.testing.assert_array_equal(a, b)
    for index, entry in want_state["state"].items():
        for key, value in entry.items():
            np.testing.assert_array_equal(got_state["state"][index][key], value)


def test_gradient_taken_from_another_offset():
    model, x = _model_and_grads(1)
    params = list(model.parameters())
    opt = optim.SGD(params, lr=0.5)
    _backward(model, x, opt)
    grad = opt.flat_gradient(params)
    before = opt.flat_arrays()["params"].copy()
    expected = before[10:20] - np.float32(0.5) * grad[:10]
    opt.step_elements([(10, 20, 0)])
    after = opt.flat_arrays()["params"]
    np.testing.assert_array_equal(after[10:20], expected)
    np.testing.assert_array_equal(np.delete(after, np.s_[10:20]), np.delete(before, np.s_[10:20]))


def test_flat_gradient_is_none_unless_one_uniform_flat_chunk():
    model, x = _model_and_grads(2)
    params = list(model.parameters())
    opt = optim.Adam(params)
    assert opt.flat_gradient(params) is None  # no gradients yet
    _backward(model, x, opt)
    assert opt.flat_gradient(params).shape == (3905,)
    assert opt.flat_gradient(params[::-1]) is None  # another order
    opt.zero_grad()
    model.layers[0].bias.grad = None
    (model(x) ** 2).mean().backward()
    model.layers[0].bias.grad = None
    assert opt.flat_gradient(params) is None  # a parameter without a gradient
    opt.step()  # its step count now differs from the others'
    _backward(model, x, opt)
    assert opt.flat_gradient(params) is None
    assert optim.Adam(params, flatten=False).flat_gradient(params) is None
    groups = optim.Adam([{"params": params[:2]}, {"params": params[2:]}])
    _backward(model, x, groups)
    assert groups.flat_gradient(params) is None
