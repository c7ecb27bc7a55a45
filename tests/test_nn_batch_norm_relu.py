"""F.batch_norm_relu and BatchNorm2d.forward_relu: relu(batch_norm(x) [+ s]) as one node
(nn/fused/batch_norm_relu.py), with the compiled kernels and with CHAINRULE_NO_NUMBA=1.

Both paths equal the composition relu(F.batch_norm(x) [+ s]) (the NumPy twin bit for bit,
the kernels to float32 rounding: their statistics are summed in float64), equal torch, update
the running statistics alike, and have second derivatives (the composition's)."""
from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn
from chainrule.autograd import gradcheck, gradgradcheck
from chainrule.engine import compiled
from chainrule.nn import functional as F
from chainrule.nn import fused, kernel_choice

torch = pytest.importorskip("torch")


@pytest.fixture(params=["numba", "numpy"])
def mode(request, monkeypatch):
    if request.param == "numpy":
        monkeypatch.setenv("CHAINRULE_NO_NUMBA", "1")
    else:
        pytest.importorskip("numba")
        monkeypatch.delenv("CHAINRULE_NO_NUMBA", raising=False)
        assert compiled.kernels(kernel_choice.KERNELS) is not None  # loaded: small arrays use them too
    return request.param


def channels_last(a):
    """a (N, C, *) with the same values in channels-last memory."""
    if a.ndim == 2:
        return a
    order = (0,) + tuple(range(2, a.ndim)) + (1,)
    back = (0, a.ndim - 1) + tuple(range(1, a.ndim - 1))
    return np.ascontiguousarray(a.transpose(order)).transpose(back)


LAYOUTS = {"channels-last": channels_last, "contiguous": np.ascontiguousarray,
           "transposed": lambda a: np.ascontiguousarray(a.swapaxes(0, 1)).swapaxes(0, 1)}
SHAPES = [(6, 4, 5, 3), (5, 3), (4, 3, 7), (2, 1, 1, 2)]


def make(shape, dtype, layout, seed=0):
    rng = np.random.default_rng(seed)
    c = shape[1]
    x = LAYOUTS[layout]((rng.standard_normal(shape) * 2 + 0.5).astype(dtype))
    s = LAYOUTS[layout](rng.standard_normal(shape).astype(dtype))
    g = rng.standard_normal(shape).astype(dtype)
    w, b = (1 + 0.3 * rng.standard_normal(c)).astype(dtype), (0.2 * rng.standard_normal(c)).astype(dtype)
    return x, s, g, w, b


def run(fused_path, arrays, affine=True, residual=True, momentum=0.1):
    """Outputs, every gradient and the running statistics of one training-mode call."""
    x_a, s_a, g_a, w_a, b_a = arrays
    x, s = cr.tensor(x_a, requires_grad=True), cr.tensor(s_a, requires_grad=True)
    w = cr.tensor(w_a, requires_grad=True) if affine else None
    b = cr.tensor(b_a, requires_grad=True) if affine else None
    rm, rv = cr.zeros(x_a.shape[1], dtype=x.dtype), cr.ones(x_a.shape[1], dtype=x.dtype)
    if fused_path:
        y = F.batch_norm_relu(x, rm, rv, w, b, True, momentum, 1e-5, s if residual else None)
        assert type(y.grad_fn) is fused.BatchNormReLU
        compiled_rows = y.grad_fn.kernels is not None  # (the engine frees the node's state in backward)
    else:
        y = F.batch_norm(x, rm, rv, w, b, True, momentum, 1e-5)
        y, compiled_rows = F.relu(y + s if residual else y), False
    y.backward(cr.tensor(g_a))
    grads = [x.grad] + ([w.grad, b.grad] if affine else []) + ([s.grad] if residual else [])
    return [y.numpy().copy()] + [t.numpy() for t in grads] + [rm.numpy().copy(), rv.numpy().copy()], compiled_rows


@pytest.mark.parametrize("layout", list(LAYOUTS))
@pytest.mark.parametrize("shape", SHAPES, ids=str)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("affine,residual", [(True, True), (True, False), (False, True)])
def test_equals_the_composition(mode, layout, shape, dtype, affine, residual):
    arrays = make(shape, dtype, layout)
    got, compiled_rows = run(True, arrays, affine, residual)
    want, _ = run(False, arrays, affine, residual)
    x = arrays[0]
    last = x if x.ndim == 2 else x.transpose((0,) + tuple(range(2, x.ndim)) + (1,))
    assert compiled_rows == (mode == "numba" and last.flags.c_contiguous)  # else the twin
    for a, b in zip(got, want):  # bit for bit: the batch norm node takes the same path (kernels or twin)
        assert a.dtype == dtype and a.shape == b.shape
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("dtype,tol", [(np.float64, 1e-10), (np.float32, 2e-5)])
def test_equals_torch(mode, dtype, tol):
    x_a, s_a, g_a, w_a, b_a = make((8, 5, 6, 4), dtype, "channels-last", seed=3)
    got, _ = run(True, (x_a, s_a, g_a, w_a, b_a))
    tx, ts = torch.tensor(x_a, requires_grad=True), torch.tensor(s_a, requires_grad=True)
    tw, tb = torch.tensor(w_a, requires_grad=True), torch.tensor(b_a, requires_grad=True)
    rm, rv = torch.zeros(5, dtype=tx.dtype), torch.ones(5, dtype=tx.dtype)
    ty = torch.relu(torch.nn.functional.batch_norm(tx, rm, rv, tw, tb, True, 0.1, 1e-5) + ts)
    ty.backward(torch.tensor(g_a))
    want = [ty, tx.grad, tw.grad, tb.grad, ts.grad, rm, rv]
    for a, b in zip(got, want):
        np.testing.assert_allclose(a, b.detach().numpy(), rtol=tol, atol=tol)


def test_kernels_equal_the_numpy_twin_on_a_feature_map(monkeypatch):
    """A ResNet-sized map (above MIN_SIZE): forward bit for bit given the kernels' statistics,
    everything to float32 rounding of the statistics."""
    pytest.importorskip("numba")
    monkeypatch.delenv("CHAINRULE_NO_NUMBA", raising=False)
    kernels = compiled.kernels(kernel_choice.KERNELS)
    arrays = make((16, 16, 12, 12), np.float32, "channels-last", seed=5)
    got, compiled_rows = run(True, arrays)
    assert compiled_rows
    monkeypatch.setenv("CHAINRULE_NO_NUMBA", "1")
    want, compiled_rows = run(True, arrays)
    assert not compiled_rows
    for a, b in zip(got, want):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5)
    x = arrays[0]
    rows = x.transpose(0, 2, 3, 1).reshape(-1, 16)
    mean, var = kernels.batch_moments(rows)
    np.testing.assert_allclose(mean, rows.astype(np.float64).mean(axis=0), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(var, rows.astype(np.float64).var(axis=0), rtol=1e-12)
    mean32, scale = mean.astype(np.float32), (1 / np.sqrt(var + 1e-5)).astype(np.float32)
    out = np.empty_like(rows)
    kernels.normalize(rows, mean32, scale, arrays[4], np.empty((0, 0), np.float32), True, out)
    np.testing.assert_array_equal(out, np.maximum((rows - mean32) * scale + arrays[4], 0))


def test_the_kernels_run_on_large_maps_without_being_loaded(monkeypatch):
    pytest.importorskip("numba")
    monkeypatch.delenv("CHAINRULE_NO_NUMBA", raising=False)
    monkeypatch.setattr(compiled, "loaded", lambda name: None)  # as a fresh process
    big = channels_last(np.ones((8, 16, 16, 16), dtype=np.float32))
    small = channels_last(np.ones((2, 4, 3, 3), dtype=np.float32))
    assert isinstance(fused.batch_statistics(big), fused.batch_norm.RowStatistics)
    assert isinstance(fused.batch_statistics(small), fused.batch_norm.BatchStatistics)


@pytest.mark.parametrize("residual", [True, False])
def test_second_derivatives(mode, residual):
    rng = np.random.default_rng(7)
    x = cr.tensor(channels_last(rng.standard_normal((3, 2, 2, 2)) + 0.3), requires_grad=True)
    s = cr.tensor(rng.standard_normal((3, 2, 2, 2)), requires_grad=True)
    w = cr.tensor(rng.standard_normal(2), requires_grad=True)
    b = cr.tensor(rng.standard_normal(2), requires_grad=True)

    def fn(x, w, b, s):
        return F.batch_norm_relu(x, None, None, w, b, True, residual=s if residual else None)
    assert gradcheck(fn, (x, w, b, s))
    assert gradgradcheck(fn, (x, w, b, s))


def test_evaluation_mode_is_the_composition():
    rng = np.random.default_rng(2)
    x, s = cr.tensor(rng.standard_normal((4, 3, 2, 2))), cr.tensor(rng.standard_normal((4, 3, 2, 2)))
    rm, rv = cr.tensor(rng.standard_normal(3)), cr.tensor(rng.random(3) + 0.5)
    w, b = cr.tensor(rng.standard_normal(3)), cr.tensor(rng.standard_normal(3))
    got = F.batch_norm_relu(x, rm, rv, w, b, False, residual=s)
    want = F.relu(F.batch_norm(x, rm, rv, w, b, False) + s)
    np.testing.assert_array_equal(got.numpy(), want.numpy())


@pytest.mark.parametrize("momentum", [0.1, None])
def test_module_forward_relu_equals_its_modules(mode, momentum):
    rng = np.random.default_rng(4)
    x_a, s_a = channels_last(rng.standard_normal((4, 3, 5, 5))), rng.standard_normal((4, 3, 5, 5))
    layers = [nn.BatchNorm2d(3, momentum=momentum, dtype=cr.float64) for _ in range(2)]
    for step in range(2):
        ours = layers[0].forward_relu(cr.tensor(x_a + step), cr.tensor(s_a))
        theirs = F.relu(layers[1](cr.tensor(x_a + step)) + cr.tensor(s_a))
        np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-12, atol=1e-12)
    for key, value in layers[1].state_dict().items():
        np.testing.assert_allclose(layers[0].state_dict()[key].numpy(), value.numpy(), rtol=1e-12)
    layers[0].eval()
    np.testing.assert_allclose(layers[0].forward_relu(cr.tensor(x_a)).numpy(),
                               F.relu(layers[0](cr.tensor(x_a))).numpy())


def test_module_hooks_see_the_batch_norm():
    layer, seen = nn.BatchNorm2d(3), []
    layer.register_forward_hook(lambda module, args, out: seen.append(tuple(out.shape)))
    y = layer.forward_relu(cr.randn(4, 3, 2, 2), cr.randn(4, 3, 2, 2))
    assert seen == [(4, 3, 2, 2)] and type(y.grad_fn) is not fused.BatchNormReLU


@pytest.mark.parametrize("kwargs,error,match", [
    ({"residual": cr.zeros(4, 3, 2, 3)}, ValueError, "residual"),
    ({"residual": cr.zeros(4, 3, 2, 2, dtype=cr.float64)}, TypeError, "residual"),
    ({"residual": "s"}, TypeError, "residual"),
    ({"weight": cr.ones(4)}, ValueError, "weight"),
    ({"x": cr.zeros(1, 3)}, ValueError, "more than 1 value per channel"),
    ({"x": cr.zeros(4, 3, 2, 2, dtype=cr.int64)}, TypeError, "input"),
    ({"x": cr.zeros(3)}, ValueError, "shape"),
])
def test_bad_arguments(kwargs, error, match):
    args = {"x": cr.zeros(4, 3, 2, 2), "weight": None, "residual": None, **kwargs}
    with pytest.raises(error, match=match):
        F.batch_norm_relu(args["x"], None, None, args["weight"], None, True, residual=args["residual"])


def test_a_replaced_forward_or_call_takes_the_three_ops(monkeypatch):
    """Synchronized batch norm and the FLOP counter give the module a forward of its own; the
    step compiler swaps Module.__call__: each must see the batch norm's call."""
    layer, calls = nn.BatchNorm2d(3), []
    own = type(layer).forward.__get__(layer)
    layer.__dict__["forward"] = lambda x: calls.append("own") or own(x)
    y = layer.forward_relu(cr.randn(4, 3, 2, 2))
    assert calls == ["own"] and type(y.grad_fn) is not fused.BatchNormReLU
    del layer.__dict__["forward"]
    assert type(layer.forward_relu(cr.randn(4, 3, 2, 2)).grad_fn) is fused.BatchNormReLU
    original = nn.Module.__call__
    monkeypatch.setattr(nn.Module, "__call__", lambda self, *a, **k: calls.append("call") or original(self, *a, **k))
    y = layer.forward_relu(cr.randn(4, 3, 2, 2))
    assert calls == ["own", "call"] and type(y.grad_fn) is not fused.BatchNormReLU


def test_compiled_resnet_step_equals_the_eager_one():
    """chainrule.compile traces the three ops (the batch norm's running statistics replayed)."""
    from chainrule import models, optim
    rng = np.random.default_rng(0)
    x, y = cr.tensor(rng.standard_normal((4, 1, 8, 8))), cr.tensor(rng.integers(0, 3, 4))
    losses = []
    for compile_it in (False, True):
        cr.manual_seed(0)
        model = models.resnet(8, (2, 2, 2), num_classes=3, in_channels=1)
        model.to(cr.float64)
        opt = optim.SGD(model.parameters(), lr=0.1)

        def step(model=model, opt=opt):
            opt.zero_grad()
            loss = F.cross_entropy(model(x), y)
            loss.backward()
            opt.step()
            return loss
        run_step = cr.compile(step) if compile_it else step
        losses.append([float(run_step().item()) for _ in range(3)])
        losses[-1].append(model.layer1[0].bn1.running_mean.numpy().copy())
    np.testing.assert_allclose(losses[0][:3], losses[1][:3], rtol=1e-10)
    np.testing.assert_allclose(losses[0][3], losses[1][3], rtol=1e-10)


@pytest.mark.parametrize("dtype,tol", [(np.float64, 1e-10), (np.float32, 2e-5)])
@pytest.mark.parametrize("shape", [(8, 5, 6, 4), (40, 6)], ids=str)
def test_the_batch_norm_node_on_the_kernels_equals_torch(mode, dtype, tol, shape):
    """F.batch_norm in training mode on channels-last maps takes the compiled passes (or, with
    CHAINRULE_NO_NUMBA=1, the twin): against torch, values, gradients and running statistics."""
    x_a, _, g_a, w_a, b_a = make(shape, dtype, "channels-last", seed=8)
    x, w, b = (cr.tensor(a, requires_grad=True) for a in (x_a, w_a, b_a))
    rm, rv = cr.zeros(shape[1], dtype=x.dtype), cr.ones(shape[1], dtype=x.dtype)
    y = F.batch_norm(x, rm, rv, w, b, True)
    assert (y.grad_fn.kernels is not None) == (mode == "numba")
    y.backward(cr.tensor(g_a))
    tx, tw, tb = (torch.tensor(a, requires_grad=True) for a in (x_a, w_a, b_a))
    trm, trv = torch.zeros(shape[1], dtype=tx.dtype), torch.ones(shape[1], dtype=tx.dtype)
    ty = torch.nn.functional.batch_norm(tx, trm, trv, tw, tb, True)
    ty.backward(torch.tensor(g_a))
    for a, t in ((y, ty), (x.grad, tx.grad), (w.grad, tw.grad), (b.grad, tb.grad), (rm, trm), (rv, trv)):
        np.testing.assert_allclose(a.numpy(), t.detach().numpy(), rtol=tol, atol=tol)


def test_the_batch_norm_kernels_equal_the_numpy_twin(monkeypatch):
    """The compiled passes against the twin on a map above MIN_SIZE: float32 rounding of the
    statistics (float64 sums against BLAS's float32 sums)."""
    pytest.importorskip("numba")
    x_a, _, g_a, w_a, b_a = make((16, 16, 12, 12), np.float32, "channels-last", seed=6)
    results = []
    for setting in ("0", "1"):
        monkeypatch.setenv("CHAINRULE_NO_NUMBA", setting)
        x, w, b = (cr.tensor(a, requires_grad=True) for a in (x_a, w_a, b_a))
        y = F.batch_norm(x, None, None, w, b, True)
        assert (y.grad_fn.kernels is not None) == (setting == "0")
        y.backward(cr.tensor(g_a))
        results.append([t.numpy().copy() for t in (y, x.grad, w.grad, b.grad)])
    for a, b in zip(*results):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=2e-5)
