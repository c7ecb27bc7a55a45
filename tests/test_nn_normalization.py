"""LayerNorm, GroupNorm, RMSNorm and layer_norm, group_norm, rms_norm against PyTorch: values,
input and parameter gradients in float32 (rtol 1e-4) and float64 (1e-10), contiguous and
strided input, with and without affine parameters; the fused node equals its reference
composition (1e-12); gradcheck and gradgradcheck; reprs, state dicts with torch's keys,
initialization, the same output in training and evaluation; errors for bad arguments."""
from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn
from chainrule.autograd import gradcheck, gradgradcheck
from chainrule.nn import functional as F

torch = pytest.importorskip("torch")
TF = torch.nn.functional

TOLERANCE = {"float32": {"rtol": 1e-4, "atol": 1e-4}, "float64": {"rtol": 1e-10, "atol": 1e-12}}


def strided(values: np.ndarray) -> np.ndarray:
    """The same values as a non-contiguous view (every other element of a wider buffer)."""
    buffer = np.zeros(values.shape + (2,), dtype=values.dtype)
    buffer[..., 0] = values
    return buffer[..., 0]


def compare(ours_fn, theirs_fn, arrays: list, dtype: str, seed: int = 0) -> None:
    """Values and the gradients of every input of sum(out * w) agree with torch's."""
    xs = [cr.from_numpy(a).requires_grad_() for a in arrays]
    ts = [torch.tensor(np.array(a), requires_grad=True) for a in arrays]
    out, expected = ours_fn(*xs), theirs_fn(*ts)
    assert out.shape == tuple(expected.shape) and str(out.dtype) == dtype
    np.testing.assert_allclose(out.numpy(), expected.detach().numpy(), **TOLERANCE[dtype])
    weights = np.random.default_rng(seed).standard_normal(out.shape).astype(dtype)
    (out * cr.tensor(weights)).sum().backward()
    (expected * torch.from_numpy(weights)).sum().backward()
    for x, t in zip(xs, ts):
        assert x.grad.dtype == x.dtype
        np.testing.assert_allclose(x.grad.numpy(), t.grad.numpy(), **TOLERANCE[dtype])


def inputs(shape, dtype, layout, rng, *affine_shapes):
    x = rng.standard_normal(shape).astype(dtype) * 3 + 1
    arrays = [strided(x) if layout == "strided" else x]
    arrays += [rng.standard_normal(s).astype(dtype) for s in affine_shapes]
    return arrays


# ---------------------------------------------------------------------- functional forms against torch

LAYER_NORM_CASES = [((4, 5), (5,)), ((2, 3, 4), (4,)), ((2, 3, 4), (3, 4)), ((5,), (5,)), ((0, 3), (3,)),
                    ((3, 1), (1,))]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("layout", ["contiguous", "strided"])
@pytest.mark.parametrize("shape, normalized", LAYER_NORM_CASES)
@pytest.mark.parametrize("affine", ["weight+bias", "weight", "none"])
def test_layer_norm_matches_torch(dtype, layout, shape, normalized, affine):
    rng = np.random.default_rng(1)
    shapes = {"weight+bias": (normalized, normalized), "weight": (normalized,), "none": ()}[affine]
    arrays = inputs(shape, dtype, layout, rng, *shapes)

    def ours(x, *p):
        return F.layer_norm(x, normalized, *p, eps=1e-5)

    def theirs(x, *p):
        return TF.layer_norm(x, normalized, *p, eps=1e-5)

    compare(ours, theirs, arrays, dtype)


GROUP_NORM_CASES = [((2, 6), 3), ((2, 6, 5), 2), ((3, 4, 2, 3), 4), ((1, 4, 3), 1)]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("layout", ["contiguous", "strided"])
@pytest.mark.parametrize("shape, groups", GROUP_NORM_CASES)
@pytest.mark.parametrize("affine", [True, False])
def test_group_norm_matches_torch(dtype, layout, shape, groups, affine):
    rng = np.random.default_rng(2)
    channels = (shape[1],)
    arrays = inputs(shape, dtype, layout, rng, *((channels, channels) if affine else ()))
    compare(lambda x, *p: F.group_norm(x, groups, *p, eps=1e-4),
            lambda x, *p: TF.group_norm(x, groups, *p, eps=1e-4), arrays, dtype)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("layout", ["contiguous", "strided"])
@pytest.mark.parametrize("shape, normalized", LAYER_NORM_CASES[:4])
@pytest.mark.parametrize("eps", [None, 1e-3])
@pytest.mark.parametrize("weighted", [True, False])
def test_rms_norm_matches_torch(dtype, layout, shape, normalized, eps, weighted):
    rng = np.random.default_rng(3)
    arrays = inputs(shape, dtype, layout, rng, *((normalized,) if weighted else ()))
    compare(lambda x, *p: F.rms_norm(x, normalized, *p, eps=eps),
            lambda x, *p: TF.rms_norm(x, normalized, *p, eps=eps), arrays, dtype)


def test_a_tensor_used_twice_and_input_and_weight_the_same_tensor():
    x = cr.tensor(np.random.default_rng(4).standard_normal(3), requires_grad=True)
    t = torch.tensor(x.numpy().copy(), requires_grad=True)
    out = F.layer_norm(x, (3,), x, x) + F.rms_norm(x, 3, x)
    expected = TF.layer_norm(t, (3,), t, t) + TF.rms_norm(t, (3,), t)
    out.sum().backward()
    expected.sum().backward()
    np.testing.assert_allclose(out.numpy(), expected.detach().numpy(), rtol=1e-12)
    np.testing.assert_allclose(x.grad.numpy(), t.grad.numpy(), rtol=1e-10, atol=1e-12)


def test_group_norm_of_empty_groups_gives_zero_parameter_gradients():
    """A documented difference: PyTorch returns NaN gradients for weight and bias when every
    group is empty; the sums over no elements are 0 here."""
    x = cr.zeros(2, 6, 0, requires_grad=True)
    w, b = cr.ones(6, requires_grad=True), cr.zeros(6, requires_grad=True)
    out = F.group_norm(x, 3, w, b)
    assert out.shape == (2, 6, 0)
    out.sum().backward()
    assert x.grad.shape == (2, 6, 0)
    np.testing.assert_array_equal(w.grad.numpy(), 0)
    np.testing.assert_array_equal(b.grad.numpy(), 0)


# ---------------------------------------------------------------------- the fused node and second derivatives


def leaf(rng, *shape):
    return cr.tensor(rng.standard_normal(shape), requires_grad=True)


FUSED = [
    ("layer_norm", lambda x, *p: F.layer_norm(x, (4,), *p), (3, 4), [(4,), (4,)]),
    ("layer_norm", lambda x, *p: F.layer_norm(x, (2, 4), *p), (3, 2, 4), [(2, 4), (2, 4)]),
    ("layer_norm", lambda x, *p: F.layer_norm(x, (4,)), (2, 3, 4), []),
    ("group_norm", lambda x, *p: F.group_norm(x, 2, *p), (2, 4, 3), [(4,), (4,)]),
    ("group_norm", lambda x, *p: F.group_norm(x, 4, *p), (2, 4, 3, 2), [(4,)]),
    ("rms_norm", lambda x, *p: F.rms_norm(x, (4,), *p), (3, 4), [(4,)]),
    ("rms_norm", lambda x, *p: F.rms_norm(x, (3, 4), eps=0.1), (2, 3, 4), []),
]


@pytest.mark.parametrize("op, fn, x_shape, p_shapes", FUSED)
def test_fused_node_equals_its_reference_composition(op, fn, x_shape, p_shapes):
    rng = np.random.default_rng(5)
    leaves = [leaf(rng, *x_shape)] + [leaf(rng, *s) for s in p_shapes]
    out = fn(*leaves)
    node = out.grad_fn
    assert node.op == op
    upstream = cr.tensor(rng.standard_normal(out.shape))
    out.backward(upstream, retain_graph=True)
    fused = [t.grad.numpy().copy() for t in leaves]
    for t in leaves:
        t.grad = None
    reference = node.reference(*node.parents)
    assert reference.grad_fn.op != op  # built from reference ops
    np.testing.assert_allclose(reference.numpy(), out.numpy(), rtol=1e-12, atol=1e-13)
    reference.backward(upstream)
    for got, t in zip(fused, leaves):
        np.testing.assert_allclose(got, t.grad.numpy(), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("fn", [
    lambda x, w, b: F.layer_norm(x, (3,), w, b),
    lambda x, w, b: F.layer_norm(x, (2, 3), None, None) * w,
    lambda x, w, b: F.group_norm(x.reshape(1, 3, 2), 3, w, b),
    lambda x, w, b: F.group_norm(x.reshape(2, 3, 1), 1, w, None),
    lambda x, w, b: F.rms_norm(x, 3, w) + b,
    lambda x, w, b: F.rms_norm(x, (2, 3), None, eps=0.1),
], ids=["layer_norm", "layer_norm-no-affine", "group_norm", "group_norm-1-group", "rms_norm", "rms_norm-no-affine"])
def test_gradcheck_and_gradgradcheck(fn):
    rng = np.random.default_rng(6)
    x, w, b = leaf(rng, 2, 3), leaf(rng, 3), leaf(rng, 3)
    assert gradcheck(fn, x, w, b)
    assert gradgradcheck(fn, x, w, b)


# ---------------------------------------------------------------------- modules


MODULES = [
    (lambda: nn.LayerNorm(5), lambda: torch.nn.LayerNorm(5), (3, 5)),
    (lambda: nn.LayerNorm([2, 5], eps=1e-3), lambda: torch.nn.LayerNorm([2, 5], eps=1e-3), (3, 2, 5)),
    (lambda: nn.LayerNorm(5, bias=False), lambda: torch.nn.LayerNorm(5, bias=False), (4, 5)),
    (lambda: nn.LayerNorm(5, elementwise_affine=False), lambda: torch.nn.LayerNorm(5, elementwise_affine=False),
     (4, 5)),
    (lambda: nn.GroupNorm(2, 4), lambda: torch.nn.GroupNorm(2, 4), (3, 4, 5)),
    (lambda: nn.GroupNorm(4, 4, eps=1e-3, affine=False), lambda: torch.nn.GroupNorm(4, 4, eps=1e-3, affine=False),
     (3, 4, 2, 2)),
    (lambda: nn.GroupNorm(1, 4, bias=False), lambda: torch.nn.GroupNorm(1, 4, bias=False), (3, 4)),
    (lambda: nn.RMSNorm(5), lambda: torch.nn.RMSNorm(5), (3, 5)),
    (lambda: nn.RMSNorm([2, 5], eps=1e-6, elementwise_affine=False),
     lambda: torch.nn.RMSNorm([2, 5], eps=1e-6, elementwise_affine=False), (3, 2, 5)),
]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("make_ours, make_theirs, shape", MODULES)
def test_modules_match_torch_with_torch_parameters(dtype, make_ours, make_theirs, shape):
    ours, theirs = make_ours().to(dtype), make_theirs().to(getattr(torch, dtype))
    assert repr(ours) == repr(theirs)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    for key, value in ours.state_dict().items():  # PyTorch's initialization: ones and zeros
        np.testing.assert_array_equal(value.numpy(), theirs.state_dict()[key].numpy())
    rng = np.random.default_rng(7)
    with torch.no_grad():
        for p in theirs.parameters():
            p.copy_(torch.from_numpy(rng.standard_normal(tuple(p.shape))))
    ours.load_state_dict({k: v.numpy() for k, v in theirs.state_dict().items()})
    x = rng.standard_normal(shape).astype(dtype)
    out_train = compare_module(ours, theirs, x, dtype)
    ours.eval()
    theirs.eval()
    np.testing.assert_array_equal(compare_module(ours, theirs, x, dtype), out_train)  # no running statistics
    copy = make_ours().to(dtype)
    copy.load_state_dict(ours.state_dict())
    np.testing.assert_array_equal(copy(cr.tensor(x)).numpy(), out_train)


def compare_module(ours, theirs, x, dtype):
    ours.zero_grad()
    theirs.zero_grad()
    xs, ts = cr.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    out, expected = ours(xs), theirs(ts)
    np.testing.assert_allclose(out.numpy(), expected.detach().numpy(), **TOLERANCE[dtype])
    weights = np.random.default_rng(8).standard_normal(out.shape).astype(dtype)
    (out * cr.tensor(weights)).sum().backward()
    (expected * torch.from_numpy(weights)).sum().backward()
    np.testing.assert_allclose(xs.grad.numpy(), ts.grad.numpy(), **TOLERANCE[dtype])
    grads = dict(theirs.named_parameters())
    for name, p in ours.named_parameters():
        np.testing.assert_allclose(p.grad.numpy(), grads[name].grad.numpy(), **TOLERANCE[dtype])
    return out.numpy()


def test_parameters_default_to_float32_and_reset_parameters_restores_ones_and_zeros():
    layer = nn.LayerNorm(3)
    assert layer.weight.dtype == cr.float32 and layer.normalized_shape == (3,)
    layer.weight.data[...] = 5
    layer.bias.data[...] = 5
    layer.reset_parameters()
    np.testing.assert_array_equal(layer.weight.numpy(), 1)
    np.testing.assert_array_equal(layer.bias.numpy(), 0)
    assert nn.RMSNorm(3).eps is None and nn.GroupNorm(1, 2, dtype=cr.float64).weight.dtype == cr.float64


# ---------------------------------------------------------------------- errors

X = cr.randn(2, 4, 3)
ERRORS = [
    (lambda: F.layer_norm(X, (4,)), ValueError, r"normalized_shape=\[4\] expects input of shape \(\*, 4\)"),
    (lambda: F.layer_norm(X, (3,), cr.ones(4)), ValueError, r"weight must have shape \(3,\)"),
    (lambda: F.layer_norm(X, (3,), cr.ones(3, dtype=cr.float64)), TypeError, "weight has dtype float64"),
    (lambda: F.layer_norm(X, (3,), eps=-1.0), ValueError, "eps must be a number >= 0"),
    (lambda: F.layer_norm(X.numpy(), (3,)), TypeError, "input must be a Tensor"),
    (lambda: F.layer_norm(cr.tensor([1, 2, 3]), (3,)), TypeError, "must be floating point"),
    (lambda: F.layer_norm(X, "3"), ValueError, "normalized_shape must be an int or a non-empty sequence"),
    (lambda: F.group_norm(X, 3), ValueError, "must be divisible by num_groups; got 4 channels and num_groups=3"),
    (lambda: F.group_norm(cr.randn(4), 2), ValueError, r"expected input of shape \(N, C, \*\)"),
    (lambda: F.group_norm(X, 0), ValueError, "num_groups must be an int >= 1"),
    (lambda: F.group_norm(X, 2, cr.ones(3)), ValueError, r"weight must have shape \(4,\)"),
    (lambda: F.rms_norm(X, (4, 3), cr.ones(3)), ValueError, r"weight must have shape \(4, 3\)"),
    (lambda: nn.LayerNorm([]), ValueError, "normalized_shape must be an int or a non-empty sequence"),
    (lambda: nn.LayerNorm(3, eps="small"), ValueError, "LayerNorm: eps must be a number"),
    (lambda: nn.GroupNorm(3, 4), ValueError, r"num_channels \(4\) must be divisible by num_groups \(3\)"),
    (lambda: nn.GroupNorm(0, 4), ValueError, "num_groups must be an int >= 1"),
    (lambda: nn.GroupNorm(2, 4)(cr.randn(2, 3, 5)), ValueError, r"expected input of shape \(N, 4, \*\)"),
    (lambda: nn.RMSNorm(3, eps=-0.1), ValueError, "RMSNorm: eps must be a number >= 0"),
    (lambda: nn.LayerNorm(3, dtype=cr.int64), TypeError, "dtype must be float32 or float64"),
]


@pytest.mark.parametrize("call, error, message", ERRORS)
def test_errors(call, error, message):
    with pytest.raises(error, match=message):
        call()
