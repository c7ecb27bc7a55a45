"""Embedding and embedding against PyTorch: values and the weight's gradient (a scatter-add) for
indices of any shape (repeats, 0-d, empty), padding_idx (its row zero at init and never
updated), max_norm (the same in-place renormalization), scale_grad_by_freq; the node equals
index_select; gradcheck and gradgradcheck; from_pretrained, reprs, state dicts, initialization;
errors (indices out of range, float indices, sparse=True)."""
from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn
from chainrule.autograd import gradcheck, gradgradcheck
from chainrule.nn import functional as F

torch = pytest.importorskip("torch")

TOLERANCE = {"float32": {"rtol": 1e-5, "atol": 1e-6}, "float64": {"rtol": 1e-12, "atol": 1e-14}}
INDICES = {
    "matrix with repeats": np.array([[1, 2, 0, 2], [4, 3, 3, 0]]),
    "vector": np.array([3, 1, 4, 1, 0]),
    "0-d": np.array(2),
    "empty": np.zeros((0, 3), dtype=np.int64),
    "3-d": np.array([[[0, 1], [1, 1]], [[4, 4], [2, 3]]]),
}


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("name", list(INDICES))
@pytest.mark.parametrize("options", [{}, {"padding_idx": 0}, {"padding_idx": -1}, {"scale_grad_by_freq": True},
                                     {"padding_idx": 3, "scale_grad_by_freq": True}, {"max_norm": 1.5},
                                     {"max_norm": 2.0, "norm_type": 1.0}])
def test_module_matches_torch(dtype, name, options):
    theirs = torch.nn.Embedding(5, 3, **options).to(getattr(torch, dtype))
    ours = nn.Embedding(5, 3, dtype=dtype, **options)
    assert repr(ours) == repr(theirs)
    assert list(ours.state_dict()) == ["weight"]
    with torch.no_grad():
        theirs.weight.mul_(2.0)  # rows with norms above max_norm
    ours.load_state_dict(theirs.state_dict())
    indices = INDICES[name]
    out, expected = ours(cr.tensor(indices)), theirs(torch.tensor(indices))
    assert out.shape == tuple(expected.shape) and out.dtype == ours.weight.dtype
    np.testing.assert_allclose(out.numpy(), expected.detach().numpy(), **TOLERANCE[dtype])
    weights = np.random.default_rng(0).standard_normal(out.shape).astype(dtype)
    (out * cr.tensor(weights)).sum().backward()
    (expected * torch.from_numpy(weights)).sum().backward()
    np.testing.assert_allclose(ours.weight.grad.numpy(), theirs.weight.grad.numpy(), **TOLERANCE[dtype])
    np.testing.assert_allclose(ours.weight.numpy(), theirs.weight.detach().numpy(), **TOLERANCE[dtype])  # renorm


def test_functional_form_matches_torch_and_int32_indices_work():
    rng = np.random.default_rng(1)
    weight = rng.standard_normal((6, 4))
    indices = np.array([[5, 0, 5], [1, 2, 3]], dtype=np.int32)
    w, tw = cr.tensor(weight, requires_grad=True), torch.tensor(weight, requires_grad=True)
    out = F.embedding(cr.tensor(indices.astype(np.int64)), w, padding_idx=5)
    expected = torch.nn.functional.embedding(torch.tensor(indices), tw, padding_idx=5)
    np.testing.assert_allclose(out.numpy(), expected.detach().numpy(), rtol=1e-15)
    (out * out).sum().backward()
    (expected * expected).sum().backward()
    np.testing.assert_allclose(w.grad.numpy(), tw.grad.numpy(), rtol=1e-13)
    np.testing.assert_array_equal(w.grad.numpy()[5], 0)  # the padding row gets no gradient
    assert out.grad_fn.op == "embedding"


def test_padding_row_starts_at_zero_and_stays_there_under_training():
    cr.manual_seed(0)
    layer = nn.Embedding(4, 2, padding_idx=1)
    np.testing.assert_array_equal(layer.weight.numpy()[1], 0)
    optimizer = cr.optim.SGD(layer.parameters(), lr=0.1)
    for _ in range(3):
        optimizer.zero_grad()
        layer(cr.tensor([[1, 0], [1, 1]])).pow(2).sum().backward()
        optimizer.step()
    np.testing.assert_array_equal(layer.weight.numpy()[1], 0)
    assert not np.allclose(layer.weight.numpy()[0], 0)


def test_default_initialization_is_standard_normal():
    cr.manual_seed(3)
    weight = nn.Embedding(400, 50).weight.numpy()
    assert weight.dtype == np.float32
    assert abs(weight.mean()) < 0.02 and abs(weight.std() - 1.0) < 0.02


def test_the_node_equals_index_select_and_a_tensor_used_twice():
    rng = np.random.default_rng(2)
    w = cr.tensor(rng.standard_normal((5, 3)), requires_grad=True)
    idx = cr.tensor(np.array([[4, 0], [4, 2]]))
    upstream = cr.tensor(rng.standard_normal((2, 2, 3)))
    (F.embedding(idx, w) * 2 + F.embedding(idx, w)).backward(upstream)
    fused = w.grad.numpy().copy()
    w.grad = None
    reference = cr.index_select(w, 0, idx.reshape(-1)).reshape(2, 2, 3)
    np.testing.assert_array_equal(F.embedding(idx, w).numpy(), reference.numpy())
    (reference * 3).backward(upstream)
    np.testing.assert_allclose(fused, w.grad.numpy(), rtol=1e-14)


@pytest.mark.parametrize("options", [{}, {"padding_idx": 2}, {"scale_grad_by_freq": True}])
def test_gradcheck_and_gradgradcheck(options):
    """gradcheck without the options that change the gradient on purpose (the padding row's
    and the frequency scaling's 'gradients' are not derivatives); the recorded gradient is
    recorded with create_graph=True in every case, and its second derivatives check where the
    gradient is one (the padding row's zero is consistent with them)."""
    w = cr.tensor(np.random.default_rng(4).standard_normal((4, 3)), requires_grad=True)
    idx = cr.tensor(np.array([[0, 2, 2], [3, 1, 0]]))
    if not options:
        assert gradcheck(lambda w: F.embedding(idx, w), w)
    if "scale_grad_by_freq" not in options:
        assert gradgradcheck(lambda w: F.embedding(idx, w, **options) ** 2, w)
    (first,) = cr.autograd.grad(F.embedding(idx, w, **options).sum(), [w], create_graph=True)
    w.grad = None
    F.embedding(idx, w, **options).sum().backward()
    np.testing.assert_allclose(first.numpy(), w.grad.numpy(), rtol=1e-14)


def test_from_pretrained_copies_and_freezes():
    table = cr.tensor(np.arange(12.0).reshape(4, 3))
    frozen = nn.Embedding.from_pretrained(table)
    assert not frozen.weight.requires_grad
    np.testing.assert_array_equal(frozen(cr.tensor([3])).numpy(), [[9.0, 10.0, 11.0]])
    table.data[...] = 0
    assert frozen.weight.numpy()[3, 0] == 9.0  # a copy
    learned = nn.Embedding.from_pretrained(cr.tensor(np.ones((4, 3))), freeze=False, padding_idx=0)
    assert learned.weight.requires_grad and learned.padding_idx == 0
    np.testing.assert_array_equal(learned.weight.numpy()[0], 1.0)  # PyTorch keeps the given padding row
    theirs = torch.nn.Embedding.from_pretrained(torch.ones(4, 3), freeze=False, padding_idx=0)
    assert repr(learned) == repr(theirs)


ERRORS = [
    (lambda: F.embedding(cr.tensor([0, 5]), cr.randn(5, 2)), IndexError, r"index 5 is out of range .* 5 rows"),
    (lambda: F.embedding(cr.tensor([-1]), cr.randn(5, 2)), IndexError, "index -1 is out of range"),
    (lambda: F.embedding(cr.tensor([0.0]), cr.randn(5, 2)), TypeError, "input must hold integer indices"),
    (lambda: F.embedding(cr.tensor([0]), cr.randn(5)), ValueError, r"weight must have shape \(num_embeddings"),
    (lambda: F.embedding(cr.tensor([0]), cr.tensor([[1, 2]])), TypeError, "must be floating point"),
    (lambda: F.embedding(cr.tensor([0]), cr.randn(5, 2), sparse=True), ValueError, "sparse=True"),
    (lambda: F.embedding(cr.tensor([0]), cr.randn(5, 2), padding_idx=5), ValueError, "padding_idx must be"),
    (lambda: F.embedding(cr.tensor([0]), cr.randn(5, 2), max_norm=-1.0), ValueError, "max_norm must be"),
    (lambda: F.embedding([0], cr.randn(5, 2)), TypeError, "input must be a Tensor"),
    (lambda: nn.Embedding(5, 2, padding_idx=-6), ValueError, r"padding_idx must be an int within num_embeddings"),
    (lambda: nn.Embedding(-1, 2), ValueError, "num_embeddings must be an int >= 0"),
    (lambda: nn.Embedding(5, 2, sparse=True), ValueError, "sparse=True"),
    (lambda: nn.Embedding(5, 2, _weight=cr.randn(4, 2)), ValueError, r"_weight must have shape \(5, 2\)"),
    (lambda: nn.Embedding.from_pretrained(cr.randn(5)), ValueError, "embeddings must be 2-D"),
    (lambda: nn.Embedding(3, 2)(cr.tensor([3])), IndexError, "index 3 is out of range"),
]


@pytest.mark.parametrize("call, error, message", ERRORS)
def test_errors(call, error, message):
    with pytest.raises(error, match=message):
        call()
