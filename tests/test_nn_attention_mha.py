"""MultiheadAttention and multi_head_attention_forward against PyTorch, with PyTorch's
parameters loaded by state dict: outputs, attention weights (averaged or per head), the
gradients of query, key, value and of every parameter, in float32 and float64; batch_first or
not, unbatched input; self-attention (one packed projection), key is value, kdim/vdim != E
(separate projection weights); key_padding_mask for variable-length padded sequences, 2-D and
3-D attn_mask, bool and float, the causal hint; add_bias_kv, add_zero_attn, bias=False; length
1 and different source and target lengths; training and evaluation with dropout; state-dict
keys, repr, initialization; errors."""
from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn
from chainrule.nn import functional as F

torch = pytest.importorskip("torch")
pytestmark = pytest.mark.filterwarnings("ignore:Support for mismatched key_padding_mask")

TOLERANCE = {"float32": {"rtol": 1e-4, "atol": 3e-5}, "float64": {"rtol": 1e-10, "atol": 1e-12}}


def twins(dtype="float64", embed_dim=8, num_heads=2, **kwargs):
    """A torch MultiheadAttention and ours with torch's parameters."""
    theirs = torch.nn.MultiheadAttention(embed_dim, num_heads, **kwargs).to(getattr(torch, dtype))
    ours = nn.MultiheadAttention(embed_dim, num_heads, dtype=dtype, **kwargs)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    ours.load_state_dict({k: v.detach().numpy() for k, v in theirs.state_dict().items()})
    return ours, theirs


def layout(length, features, n, batch_first, unbatched):
    if unbatched:
        return (length, features)
    return (n, length, features) if batch_first else (length, n, features)


def make_inputs(rng, dtype, shapes, same):
    """Leaves for query, key, value; ``same``: "qkv" (one tensor), "kv" (key is value) or None."""
    arrays = [rng.standard_normal(s).astype(dtype) for s in shapes]
    ours = [cr.tensor(a, requires_grad=True) for a in arrays]
    theirs = [torch.tensor(a, requires_grad=True) for a in arrays]
    if same == "qkv":
        return [ours[0]] * 3, [theirs[0]] * 3
    if same == "kv":
        return [ours[0], ours[1], ours[1]], [theirs[0], theirs[1], theirs[1]]
    return ours, theirs


def masks(rng, kind, n, length, source, heads, unbatched):
    """(ours, theirs) keyword masks for ``kind``."""
    found = {}
    if "padding" in kind:  # variable-length sequences, padded at the end
        lengths = rng.integers(1, source + 1, size=n)
        padding = np.arange(source)[None, :] >= lengths[:, None]
        found["key_padding_mask"] = padding[0] if unbatched else padding
    if "bool2d" in kind:
        mask = rng.random((length, source)) > 0.7
        mask[:, 0] = False
        found["attn_mask"] = mask
    if "float2d" in kind:
        found["attn_mask"] = rng.standard_normal((length, source))
    if "float3d" in kind:
        found["attn_mask"] = rng.standard_normal(((1 if unbatched else n) * heads, length, source))
    if "causal" in kind:
        found["attn_mask"] = np.triu(np.full((length, source), -np.inf), 1)
    return found


CASES = [
    {}, {"need_weights": False}, {"same": "qkv", "need_weights": False}, {"same": "qkv", "batch_first": True},
    {"same": "qkv", "average_attn_weights": False}, {"same": "kv", "need_weights": False},
    {"same": "kv", "batch_first": True}, {"kdim": 3, "vdim": 6, "need_weights": False},
    {"kdim": 3, "vdim": 6, "batch_first": True}, {"masks": "padding", "need_weights": False},
    {"masks": "padding", "same": "qkv", "batch_first": True}, {"masks": "padding bool2d", "need_weights": False},
    {"masks": "float3d", "batch_first": True, "need_weights": False}, {"masks": "float3d padding"},
    {"masks": "float2d", "average_attn_weights": False}, {"unbatched": True, "need_weights": False},
    {"unbatched": True, "masks": "padding float3d"}, {"unbatched": True, "same": "qkv", "batch_first": True},
    {"masks": "causal", "same": "qkv", "is_causal": True, "need_weights": False, "batch_first": True},
    {"masks": "causal", "same": "qkv", "is_causal": True}, {"masks": "causal padding", "same": "qkv",
                                                              "is_causal": True, "need_weights": False},
    {"add_bias_kv": True, "need_weights": False}, {"add_bias_kv": True, "masks": "padding float2d"},
    {"add_zero_attn": True, "masks": "padding bool2d", "need_weights": False},
    {"add_bias_kv": True, "add_zero_attn": True, "same": "qkv", "batch_first": True, "masks": "padding"},
    {"bias": False, "same": "qkv", "need_weights": False}, {"bias": False, "kdim": 5},
    {"length": 1, "source": 1, "need_weights": False}, {"length": 1, "source": 7, "masks": "padding"},
    {"length": 6, "source": 2, "need_weights": False, "batch_first": True},
]


def case_id(case):
    return ",".join(f"{k}={v}" for k, v in case.items()) or "defaults"


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("case", CASES, ids=[case_id(c) for c in CASES])
def test_matches_torch(dtype, case):
    case = dict(case)
    same, kind, unbatched = case.pop("same", None), case.pop("masks", ""), case.pop("unbatched", False)
    length, source = case.pop("length", 3), case.pop("source", 5)
    call = {k: case.pop(k) for k in ("need_weights", "average_attn_weights", "is_causal") if k in case}
    n, heads, width = 2, 2, 8
    if same == "qkv":
        source = length
    ours, theirs = twins(dtype, width, heads, **case)
    bf = case.get("batch_first", False)
    shapes = [layout(length, width, n, bf, unbatched), layout(source, case.get("kdim") or width, n, bf, unbatched),
              layout(source, case.get("vdim") or width, n, bf, unbatched)]
    rng = np.random.default_rng(0)
    (q, k, v), (tq, tk, tv) = make_inputs(rng, dtype, shapes, same)
    found = masks(rng, kind, n, length, source, heads, unbatched)
    ours_masks = {name: cr.tensor(m if m.dtype == bool else m.astype(dtype)) for name, m in found.items()}
    theirs_masks = {name: torch.tensor(m if m.dtype == bool else m.astype(dtype)) for name, m in found.items()}
    out, weights = ours(q, k, v, **ours_masks, **call)
    expected, expected_weights = theirs(tq, tk, tv, **theirs_masks, **call)
    compare(out, weights, expected, expected_weights, [q, k, v], [tq, tk, tv], ours, theirs, dtype)


def compare(out, weights, expected, expected_weights, xs, ts, ours, theirs, dtype):
    assert out.shape == tuple(expected.shape) and str(out.dtype) == dtype
    np.testing.assert_allclose(out.numpy(), expected.detach().numpy(), **TOLERANCE[dtype])
    if expected_weights is None:
        assert weights is None
    else:
        np.testing.assert_allclose(weights.numpy(), expected_weights.detach().numpy(), **TOLERANCE[dtype])
    upstream = np.random.default_rng(1).standard_normal(out.shape).astype(dtype)
    (out * cr.tensor(upstream)).sum().backward()
    (expected * torch.from_numpy(upstream)).sum().backward()
    for x, t in zip(xs, ts):
        np.testing.assert_allclose(x.grad.numpy(), t.grad.numpy(), **TOLERANCE[dtype])
    grads = dict(theirs.named_parameters())
    for name, p in ours.named_parameters():
        np.testing.assert_allclose(p.grad.numpy(), grads[name].grad.numpy(), **TOLERANCE[dtype], err_msg=name)


def test_functional_form_matches_torch():
    ours, theirs = twins("float64", 6, 3, kdim=4, vdim=5)
    rng = np.random.default_rng(2)
    (q, k, v), (tq, tk, tv) = make_inputs(rng, "float64", [(3, 2, 6), (4, 2, 4), (4, 2, 5)], None)
    padding = np.array([[False, False, True, True], [False] * 4])
    args = dict(embed_dim_to_check=6, num_heads=3, in_proj_weight=None, bias_k=None, bias_v=None,
                add_zero_attn=False, dropout_p=0.0, training=True, use_separate_proj_weight=True)
    out, weights = F.multi_head_attention_forward(
        q, k, v, in_proj_bias=ours.in_proj_bias, out_proj_weight=ours.out_proj.weight,
        out_proj_bias=ours.out_proj.bias, q_proj_weight=ours.q_proj_weight, k_proj_weight=ours.k_proj_weight,
        v_proj_weight=ours.v_proj_weight, key_padding_mask=cr.tensor(padding), **args)
    expected, expected_weights = torch.nn.functional.multi_head_attention_forward(
        tq, tk, tv, in_proj_bias=theirs.in_proj_bias, out_proj_weight=theirs.out_proj.weight,
        out_proj_bias=theirs.out_proj.bias, q_proj_weight=theirs.q_proj_weight, k_proj_weight=theirs.k_proj_weight,
        v_proj_weight=theirs.v_proj_weight, key_padding_mask=torch.tensor(padding), **args)
    compare(out, weights, expected, expected_weights, [q, k, v], [tq, tk, tv], ours, theirs, "float64")


def test_fully_masked_rows_give_nan_with_weights_and_zero_without_as_torch():
    ours, theirs = twins("float64", batch_first=True)
    x = np.random.default_rng(3).standard_normal((2, 3, 8))
    padding = np.array([[False, False, False], [True, True, True]])
    for need_weights in (True, False):
        out, _ = ours(*[cr.tensor(x)] * 3, key_padding_mask=cr.tensor(padding), need_weights=need_weights)
        expected, _ = theirs(*[torch.tensor(x)] * 3, key_padding_mask=torch.tensor(padding),
                             need_weights=need_weights)
        np.testing.assert_allclose(out.numpy(), expected.detach().numpy(), rtol=1e-10, atol=1e-12)
        assert np.isnan(out.numpy()[1]).all() == need_weights


def test_self_attention_is_one_packed_projection_and_one_attention_node():
    layer = nn.MultiheadAttention(8, 2, batch_first=True)
    x = cr.randn(2, 3, 8, requires_grad=True)
    out, _ = layer(x, x, x, need_weights=False)
    assert out.grad_fn.op == "linear"
    core = out.grad_fn.parents[0].grad_fn
    assert core.op == "multi_head_attention" and core.packed
    assert core.parents[0].grad_fn.op == "linear" and core.parents[0].grad_fn.parents[0] is x


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_evaluation_mode_has_no_dropout_and_training_mode_drops_weights(dtype):
    ours, theirs = twins(dtype, dropout=0.5)
    x = np.random.default_rng(4).standard_normal((3, 2, 8)).astype(dtype)
    ours.eval()
    theirs.eval()
    with torch.enable_grad():  # with gradients on, torch takes its ordinary (not the inference) path
        tx = torch.tensor(x, requires_grad=True)
        expected, expected_weights = theirs(tx, tx, tx)
    out, weights = ours(*[cr.tensor(x)] * 3)
    np.testing.assert_allclose(out.numpy(), expected.detach().numpy(), **TOLERANCE[dtype])
    np.testing.assert_allclose(weights.numpy(), expected_weights.detach().numpy(), **TOLERANCE[dtype])
    ours.train()
    cr.manual_seed(0)
    _, dropped = ours(*[cr.tensor(x)] * 3, average_attn_weights=False)
    values = dropped.numpy()
    assert (values == 0).mean() > 0.3  # about half the weights zeroed …
    kept = values != 0
    np.testing.assert_allclose(values[kept], 2 * weights_per_head(ours, x)[kept], rtol=1e-4)  # … the rest doubled


def weights_per_head(layer, x):
    layer.eval()
    _, weights = layer(*[cr.tensor(x)] * 3, average_attn_weights=False)
    layer.train()
    return weights.numpy()


def test_initialization_repr_and_parameters_as_torch():
    cr.manual_seed(0)
    layer = nn.MultiheadAttention(64, 4, add_bias_kv=True)
    assert repr(layer) == repr(torch.nn.MultiheadAttention(64, 4, add_bias_kv=True))
    bound = np.sqrt(6.0 / (64 + 192))  # Glorot-uniform on (3E, E)
    weight = layer.in_proj_weight.numpy()
    assert weight.shape == (192, 64) and np.abs(weight).max() <= bound and np.abs(weight).max() > 0.9 * bound
    np.testing.assert_array_equal(layer.in_proj_bias.numpy(), 0)
    np.testing.assert_array_equal(layer.out_proj.bias.numpy(), 0)
    assert np.abs(layer.out_proj.weight.numpy()).max() <= 1 / 8  # a Linear's U(-1/sqrt(E), 1/sqrt(E))
    assert layer.bias_k.shape == (1, 1, 64) and layer.head_dim == 16 and layer._qkv_same_embed_dim
    separate = nn.MultiheadAttention(6, 2, kdim=4, vdim=5, bias=False)
    assert separate.in_proj_weight is None and separate.in_proj_bias is None and separate.out_proj.bias is None
    assert [name for name, _ in separate.named_parameters()] == [
        name for name, _ in torch.nn.MultiheadAttention(6, 2, kdim=4, vdim=5, bias=False).named_parameters()]
    assert separate.k_proj_weight.shape == (6, 4) and separate.v_proj_weight.shape == (6, 5)


def test_state_dict_round_trip():
    ours, theirs = twins("float32", batch_first=True)
    copy = nn.MultiheadAttention(8, 2, batch_first=True)
    copy.load_state_dict(ours.state_dict())
    x = cr.randn(2, 3, 8)
    np.testing.assert_array_equal(copy(x, x, x)[0].numpy(), ours(x, x, x)[0].numpy())
    theirs_copy = torch.nn.MultiheadAttention(8, 2, batch_first=True)
    theirs_copy.load_state_dict({k: torch.from_numpy(v.numpy()) for k, v in ours.state_dict().items()})
    np.testing.assert_allclose(theirs_copy(*[torch.from_numpy(x.numpy())] * 3)[0].detach().numpy(),
                               ours(x, x, x)[0].numpy(), rtol=1e-5, atol=1e-6)


LAYER = nn.MultiheadAttention(8, 2)
SEQ = cr.randn(3, 2, 8)
ERRORS = [
    (lambda: nn.MultiheadAttention(8, 3), ValueError, "embed_dim must be divisible by num_heads"),
    (lambda: nn.MultiheadAttention(0, 1), ValueError, "embed_dim must be an int > 0"),
    (lambda: nn.MultiheadAttention(8, 2, dropout=1.5), ValueError, "p .* must be a number"),
    (lambda: LAYER(cr.randn(3, 2, 6), SEQ, SEQ), ValueError, "expected query with 8 features"),
    (lambda: LAYER(SEQ, cr.randn(3, 2, 8, 1), SEQ), ValueError, "key and value must be 3-D too"),
    (lambda: LAYER(cr.randn(2, 3, 2, 8), SEQ, SEQ), ValueError, "query must be 3-D"),
    (lambda: LAYER(SEQ, SEQ, SEQ, attn_mask=cr.zeros(3, 4)), ValueError, r"2-D attn_mask must have shape \(3, 3\)"),
    (lambda: LAYER(SEQ, SEQ, SEQ, attn_mask=cr.zeros(2, 3, 3)), ValueError,
     r"3-D attn_mask must have shape \(4, 3, 3\)"),
    (lambda: LAYER(SEQ, SEQ, SEQ, attn_mask=cr.zeros(3)), ValueError, "attn_mask must be 2-D or 3-D"),
    (lambda: LAYER(SEQ, SEQ, SEQ, key_padding_mask=cr.zeros(3, 2, dtype=cr.bool)), ValueError,
     r"key_padding_mask must have shape \(2, 3\)"),
    (lambda: LAYER(SEQ, SEQ, SEQ, key_padding_mask=cr.zeros(2, dtype=cr.bool)), ValueError,
     "key_padding_mask must be 2-D"),
    (lambda: LAYER(SEQ, SEQ, SEQ, attn_mask=cr.zeros(3, 3, dtype=cr.int64)), TypeError,
     "only bool and floating-point attn_mask"),
    (lambda: LAYER(SEQ, SEQ, SEQ, attn_mask=cr.zeros(3, 3, dtype=cr.float64)), TypeError,
     "must have the query's dtype float32"),
    (lambda: LAYER(SEQ, SEQ, SEQ, is_causal=True), ValueError, "is_causal=True needs attn_mask"),
    (lambda: LAYER(SEQ, cr.randn(4, 3, 8), cr.randn(4, 3, 8)), ValueError, "same batch size"),
    (lambda: LAYER(SEQ, cr.randn(4, 2, 8), cr.randn(5, 2, 8)), ValueError, "key and value must have the same shape"),
    (lambda: LAYER(SEQ.double(), SEQ.double(), SEQ.double()), TypeError, "dtype"),
    (lambda: F.multi_head_attention_forward(SEQ, SEQ, SEQ, 8, 2, LAYER.in_proj_weight, None, None, None, False, 0.0,
                                            LAYER.out_proj.weight, None, static_k=SEQ), ValueError, "static_k"),
]


@pytest.mark.parametrize("call, error, message", ERRORS)
def test_errors(call, error, message):
    with pytest.raises(error, match=message):
        call()
