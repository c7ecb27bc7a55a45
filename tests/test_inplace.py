"""In-place operations against PyTorch: the same program succeeds in both (with the same
gradients) or fails in both (chainrule naming the op), by PyTorch's rule: an in-place
operation is allowed unless a value that some backward saved has since been modified.
"""
from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr

torch = pytest.importorskip("torch")

X = np.array([0.5, -1.5, 2.0, -0.25])
W = np.array([1.5, -0.5, 0.25, 2.0])


def _run(lib, program):
    """Run ``program(lib, x, w)`` on float64 leaves x, w; return (x.grad, w.grad), or the
    exception it raised."""
    if lib == "torch":
        x, w = torch.tensor(X, requires_grad=True), torch.tensor(W, requires_grad=True)
        ns = torch
    else:
        x, w = cr.tensor(X, dtype=cr.float64, requires_grad=True), cr.tensor(W, dtype=cr.float64, requires_grad=True)
        ns = cr
    try:
        loss = program(ns, x, w)
        loss.backward()
    except RuntimeError as err:
        return err
    return tuple(None if t.grad is None else np.asarray(t.grad.detach() if lib == "torch" else t.grad.numpy())
                 for t in (x, w))


def _bool(ns, values):
    return ns.tensor(values)


PROGRAMS = {
    # succeed in PyTorch
    "add after scalar mul": lambda ns, x, w: _add_(x * 2, 1).sum(),
    "micrograd c += c + 1": lambda ns, x, w: _micrograd(x, w),
    "sub_ with alpha": lambda ns, x, w: (x * 3).sub_(w, alpha=2).sum(),
    "mul_ by a tensor requiring grad": lambda ns, x, w: ((x + 1).mul_(w) * w).sum(),
    "div_ by a tensor requiring grad": lambda ns, x, w: (x * 2).div_(w + 3).sum(),
    "clamp_ of a computed tensor": lambda ns, x, w: ((x * w).clamp_(min=-0.5, max=1.0) * x).sum(),
    "fill_ with a one-element tensor": lambda ns, x, w: ((x * 2).fill_(w[1]) * x).sum(),
    "zero_ then add": lambda ns, x, w: ((x * 2).zero_() + x * w).sum(),
    "copy_ from a tensor requiring grad": lambda ns, x, w: ((x * 1).copy_(w * 3) * x).sum(),
    "masked_fill_ with a tensor value": lambda ns, x, w: (x * 2).masked_fill_(
        _bool(ns, [True, False, True, False]), w[0]).sum(),
    "index_put_ accumulating repeats": lambda ns, x, w: (x * 1).index_put_(
        (ns.tensor([0, 2, 0]),), w[:3] * 2, accumulate=True).pow(2).sum(),
    "setitem a slice from a tensor requiring grad": lambda ns, x, w: _setitem(x * 1, slice(1, 3), w[0:2] * w[0:2]),
    "setitem on a constant makes it require grad": lambda ns, x, w: _setitem(ns.zeros(4, dtype=x.dtype), 2, w[3]),
    "a consumer that saved nothing": lambda ns, x, w: _after(x * 2, lambda y: y + 1, lambda y: y.add_(1)),
    "sigmoid's input modified (it saved its output)": lambda ns, x, w: _after(
        x * 2, lambda y: y.sigmoid(), lambda y: y.add_(1)),
    "two in-place ops in a row": lambda ns, x, w: _add_(_add_(x * w, 1).mul_(x), 2).sum(),
    # fail in PyTorch
    "mul_ of a tensor by itself": lambda ns, x, w: (x * 1).mul_(x * 1).sum() + _self_mul(x),
    "a saved input modified": lambda ns, x, w: _after(x * 2, lambda y: y * y, lambda y: y.add_(1)),
    "exp's output modified": lambda ns, x, w: _add_(x.exp(), 1).sum(),
    "relu's output modified": lambda ns, x, w: _add_((x * w).relu(), 1).sum(),
    "a detached alias modified": lambda ns, x, w: _after(x * 2, lambda y: y * y, lambda y: y.detach().add_(1)),
    "modified under no_grad": lambda ns, x, w: _after(x * 2, lambda y: y * w, lambda y: _no_grad_add(ns, y)),
    "a leaf that requires grad": lambda ns, x, w: x.add_(1).sum(),
}


def _add_(t, value):
    t += value
    return t


def _micrograd(x, w):
    a = x * w
    c = a + x
    c += c + 1
    d = c * 2 + (w + c).relu()
    d += d * 2 + (w - d).relu()
    return (d * d).sum()


def _self_mul(x):
    y = x * 1
    y.mul_(y)
    return y.sum()


def _setitem(t, index, value):
    t[index] = value
    return (t * t).sum()


def _after(start, consume, modify):
    out = consume(start)
    modify(start)
    return out.sum()


def _no_grad_add(ns, y):
    with ns.no_grad():
        y.add_(1)


@pytest.mark.parametrize("name", sorted(PROGRAMS))
def test_inplace_succeeds_or_fails_as_in_pytorch(name):
    expected = _run("torch", PROGRAMS[name])
    got = _run("cr", PROGRAMS[name])
    if isinstance(expected, Exception):
        assert isinstance(got, Exception), f"{name}: PyTorch raises ({expected}) but chainrule computed {got}"
        assert "in place" in str(got) or "inplace" in str(got), str(got)
        return
    assert not isinstance(got, Exception), f"{name}: PyTorch succeeds but chainrule raised: {got}"
    for ours, theirs in zip(got, expected):
        if theirs is None:
            assert ours is None or not np.any(ours)
        else:
            np.testing.assert_allclose(ours, theirs, rtol=1e-12, atol=1e-14)


def test_the_error_names_the_op_and_the_shape():
    x = cr.tensor(X, dtype=cr.float64, requires_grad=True)
    y = x * 2
    z = y * y
    y.add_(1)
    with pytest.raises(RuntimeError, match=r"an input of mul \(shape \(4,\)\) was modified in place after mul used it"):
        z.sum().backward()
    e = x.exp()
    e.mul_(2)
    with pytest.raises(RuntimeError, match=r"the output of exp was modified in place"):
        e.sum().backward()


def test_a_rebased_tensor_keeps_its_identity_memory_and_new_history():
    x = cr.tensor(X, dtype=cr.float64, requires_grad=True)
    y = x * 2
    memory, node = y.data, y.grad_fn
    before = y + 0  # consumed before the in-place op: its gradient flows to the old node
    y += x
    assert y.data is memory and y.grad_fn is not node and y.grad_fn.op == "add"
    (before.sum() + y.sum()).backward()
    np.testing.assert_allclose(x.grad.numpy(), np.full(4, 2 + 3.0))


def test_in_place_on_a_view_while_recording_is_refused_with_a_hint():
    # PyTorch rewrites the base's graph (CopySlices); chainrule asks for a clone instead
    x = cr.tensor(X, dtype=cr.float64, requires_grad=True)
    y = x * 2
    view = y[0:2]
    with pytest.raises(RuntimeError, match=r"add_: this tensor .* shares its memory with a view of it.*clone"):
        view.add_(1)
    with pytest.raises(RuntimeError, match="shares its memory with a view"):
        y.add_(1)  # y has a view now, so rewriting y would leave the view's graph wrong


def test_in_place_without_gradients_writes_the_array_and_keeps_dtype_rules():
    a = cr.zeros(3, dtype=cr.int64)
    a += 2
    a.mul_(3)
    np.testing.assert_array_equal(a.numpy(), [6, 6, 6])
    with pytest.raises(TypeError, match="add_: the result would have a floating-point dtype"):
        a += 0.5
    f = cr.zeros(3)
    f.fill_(2.5).clamp_(max=1.0)
    np.testing.assert_array_equal(f.numpy(), [1.0, 1.0, 1.0])
    f.masked_fill_(cr.tensor([True, False, False]), -1.0)
    np.testing.assert_array_equal(f.numpy(), [-1.0, 1.0, 1.0])
    f.copy_(cr.tensor([1, 2, 3]))  # converted to float32, as torch's copy_
    np.testing.assert_array_equal(f.numpy(), [1.0, 2.0, 3.0])
    assert f.dtype == cr.float32
    with pytest.raises(RuntimeError,
                       match=r"index_put: values of shape \(2, 3\) do not broadcast to the indexed shape \(1,\)"):
        cr.zeros(2).index_put_((cr.tensor([0]),), cr.ones(2, 3))


def test_hooks_see_gradients_of_rebased_tensors():
    x = cr.tensor(X, dtype=cr.float64, requires_grad=True)
    y = x * 2
    seen = []
    y.register_hook(lambda g: seen.append(g.numpy().copy()))
    y += 1
    y.sum().backward()
    np.testing.assert_allclose(seen[0], np.ones(4))  # the hook sits on the node y had when registered
