"""The recurrent cells against PyTorch; the one-node sequence layers against their reference
compositions (float64, 1e-12); gradcheck and gradgradcheck of every cell and gradcheck of
two-layer bidirectional LSTM and GRU; and a GRU and an LSTM learning binary addition exactly.
"""
from __future__ import annotations

import numpy as np
import pytest
from sequence_tasks import binary_addition

import chainrule as cr
import chainrule.nn.functional as F
from chainrule import nn, optim
from chainrule.autograd import gradcheck, gradgradcheck
from chainrule.nn.fused.lstm import LSTMLayer
from chainrule.nn.fused.recurrent import GRULayer, RNNLayer

torch = pytest.importorskip("torch")

TOLERANCE = {"float32": {"rtol": 1e-4, "atol": 2e-5}, "float64": {"rtol": 1e-10, "atol": 1e-12}}
GRADCHECK = {"eps": 1e-6, "atol": 1e-5, "rtol": 1e-3}
CELLS = [("RNNCell", {}), ("RNNCell", {"nonlinearity": "relu"}), ("GRUCell", {}), ("LSTMCell", {}),
         ("GRUCell", {"bias": False}), ("LSTMCell", {"bias": False})]
CELL_IDS = ["rnn_tanh", "rnn_relu", "gru", "lstm", "gru_no_bias", "lstm_no_bias"]


def cell_pair(kind, dtype, *args, **kwargs):
    torch.manual_seed(0)
    theirs = getattr(torch.nn, kind)(*args, **kwargs).to(getattr(torch, dtype))
    ours = getattr(nn, kind)(*args, **kwargs, dtype=dtype)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    ours.load_state_dict({k: v.detach().numpy() for k, v in theirs.state_dict().items()})
    assert repr(ours) == repr(theirs)
    return ours, theirs


def as_list(result):
    return list(result) if isinstance(result, tuple) else [result]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("kind,kwargs", CELLS, ids=CELL_IDS)
@pytest.mark.parametrize("batch", [3, 1, None], ids=["batch3", "batch1", "unbatched"])
@pytest.mark.parametrize("given_state", [True, False])
def test_cell_matches_torch(kind, kwargs, batch, given_state, dtype):
    ours, theirs = cell_pair(kind, dtype, 4, 5, **kwargs)
    rng = np.random.default_rng(0)
    lead = () if batch is None else (batch,)
    arrays = [rng.standard_normal((*lead, 4)).astype(dtype)]
    if given_state:
        arrays += [rng.standard_normal((*lead, 5)).astype(dtype) for _ in range(2 if kind == "LSTMCell" else 1)]
    xs = [cr.tensor(a, requires_grad=True) for a in arrays]
    ts = [torch.tensor(a, requires_grad=True) for a in arrays]

    def run(module, inputs):
        if not given_state:
            return as_list(module(inputs[0]))
        return as_list(module(inputs[0], tuple(inputs[1:]) if kind == "LSTMCell" else inputs[1]))

    got, expected = run(ours, xs), run(theirs, ts)
    tolerance = TOLERANCE[dtype]
    loss_ours = loss_theirs = 0
    for g, e in zip(got, expected, strict=True):
        assert g.shape == tuple(e.shape) and str(g.dtype) == dtype
        np.testing.assert_allclose(g.numpy(), e.detach().numpy(), **tolerance)
        w = rng.standard_normal(g.shape).astype(dtype)
        loss_ours, loss_theirs = loss_ours + (g * cr.tensor(w)).sum(), loss_theirs + (e * torch.tensor(w)).sum()
    loss_ours.backward()
    loss_theirs.backward()
    for x, t in zip(xs, ts):
        np.testing.assert_allclose(x.grad.numpy(), t.grad.numpy(), **tolerance)
    named = dict(theirs.named_parameters())
    for name, p in ours.named_parameters():
        np.testing.assert_allclose(p.grad.numpy(), named[name].grad.numpy(), err_msg=name, **tolerance)


def test_cell_used_twice_accumulates_as_torch():
    """A cell applied twice in one expression (the usual Python loop): gradients accumulate."""
    ours, theirs = cell_pair("LSTMCell", "float64", 3, 4)
    x = np.random.default_rng(0).standard_normal((3, 2, 3))
    h, hc = None, None
    for t in range(3):
        h = ours(cr.tensor(x[t]), h)
        hc = theirs(torch.tensor(x[t]), hc)
    (h[0].sum() + h[1].sum()).backward()
    (hc[0].sum() + hc[1].sum()).backward()
    named = dict(theirs.named_parameters())
    for name, p in ours.named_parameters():
        np.testing.assert_allclose(p.grad.numpy(), named[name].grad.numpy(), rtol=1e-10, atol=1e-12)


# ---------------------------------------------------------------------- the fused nodes = their references

def _leaf(rng, *shape):
    return cr.tensor(rng.standard_normal(shape) * 0.5, dtype=cr.float64, requires_grad=True)


def _node_inputs(kind, rng, steps=4, batch=3, hidden=5, proj=3):
    if kind in ("rnn_tanh", "rnn_relu"):
        return RNNLayer, [_leaf(rng, steps, batch, hidden), _leaf(rng, batch, hidden), _leaf(rng, hidden, hidden)], \
            {"nonlinearity": kind[4:]}
    if kind.startswith("gru"):
        bias = [] if kind == "gru_no_bias" else [_leaf(rng, 3 * hidden)]
        return GRULayer, [_leaf(rng, steps, batch, 3 * hidden), _leaf(rng, batch, hidden),
                          _leaf(rng, 3 * hidden, hidden), *bias], {}
    size = proj if kind == "lstm_proj" else hidden
    extra = [_leaf(rng, proj, hidden)] if kind == "lstm_proj" else []
    return LSTMLayer, [_leaf(rng, steps, batch, 4 * hidden), _leaf(rng, batch, size), _leaf(rng, batch, hidden),
                       _leaf(rng, 4 * hidden, size), *extra], {}


NODES = ["rnn_tanh", "rnn_relu", "gru", "gru_no_bias", "lstm", "lstm_proj"]


@pytest.mark.parametrize("kind", NODES)
@pytest.mark.parametrize("reverse", [False, True])
@pytest.mark.parametrize("batch_sizes", [None, (3, 2, 2, 1), (3, 3, 3, 3)])
def test_sequence_node_equals_its_reference_composition(kind, reverse, batch_sizes):
    rng = np.random.default_rng(0)
    node, inputs, params = _node_inputs(kind, rng)
    out = node.apply(*inputs, reverse=reverse, batch_sizes=batch_sizes, **params)
    assert out.grad_fn.op == {"rnn": "rnn", "gru": "gru", "lst": "lstm"}[kind[:3]]
    reference = out.grad_fn.reference(*inputs)
    np.testing.assert_allclose(out.numpy(), reference.numpy(), rtol=1e-12, atol=1e-13)
    weights = cr.tensor(rng.standard_normal(out.shape))
    (out * weights).sum().backward()
    fused_grads = [x.grad.numpy().copy() for x in inputs]
    for x in inputs:
        x.grad = None
    (reference * weights).sum().backward()
    for got, x in zip(fused_grads, inputs):
        np.testing.assert_allclose(got, x.grad.numpy(), rtol=1e-12, atol=1e-13)


@pytest.mark.parametrize("kind", ["GRU", "LSTM", "RNN"])
def test_a_layer_direction_is_one_node(kind):
    model = getattr(nn, kind)(3, 4)
    out, _ = model(cr.randn(6, 2, 3, requires_grad=True))
    node = out.grad_fn
    while node.op not in ("rnn", "gru", "lstm"):
        node = node.parents[0].grad_fn  # through the views that cut the node's output
    linear = node.parents[0].grad_fn.parents[0].grad_fn
    assert linear.op == "linear"  # the input projection of all steps: one matrix product


# ---------------------------------------------------------------------- gradcheck, gradgradcheck

@pytest.mark.parametrize("kind,kwargs", CELLS, ids=CELL_IDS)
def test_cell_gradcheck_and_gradgradcheck(kind, kwargs):
    cr.manual_seed(0)
    cell = getattr(nn, kind)(2, 3, **kwargs, dtype="float64")
    rng = np.random.default_rng(0)
    x = cr.tensor(rng.standard_normal((2, 2)), requires_grad=True)
    states = [cr.tensor(rng.standard_normal((2, 3)) * 0.5, requires_grad=True)
              for _ in range(2 if kind == "LSTMCell" else 1)]
    if kwargs.get("nonlinearity") == "relu":  # keep clear of the kink of relu
        with cr.no_grad():
            cell.weight_hh.data[...] = np.abs(cell.weight_hh.data)
            x.data[...] = np.abs(x.data)
            cell.weight_ih.data[...] = np.abs(cell.weight_ih.data)
    params = list(cell.parameters())

    def fn(x, *rest):  # one output tensor: gradgradcheck takes one
        states = rest[: len(rest) - len(params)]
        if kind == "LSTMCell":
            return cr.cat(cell(x, tuple(states)), 1)
        return cell(x, states[0])

    assert gradcheck(fn, (x, *states, *params), **GRADCHECK)
    assert gradgradcheck(fn, (x, *states, *params), **GRADCHECK)


@pytest.mark.parametrize("kind", ["LSTM", "GRU"])
def test_two_layer_bidirectional_gradcheck_over_three_steps(kind):
    cr.manual_seed(0)
    model = getattr(nn, kind)(2, 2, num_layers=2, bidirectional=True, dtype="float64")
    rng = np.random.default_rng(0)
    x = cr.tensor(rng.standard_normal((3, 2, 2)), requires_grad=True)
    states = [cr.tensor(rng.standard_normal((4, 2, 2)) * 0.5, requires_grad=True)
              for _ in range(2 if kind == "LSTM" else 1)]
    params = list(model.parameters())

    def fn(x, *rest):
        states = rest[: len(rest) - len(params)]
        output, final = model(x, tuple(states) if kind == "LSTM" else states[0])
        return (output, *(final if isinstance(final, tuple) else (final,)))

    assert gradcheck(fn, (x, *states, *params), **GRADCHECK)


def test_packed_lstm_gradgradcheck():
    cr.manual_seed(0)
    model = nn.LSTM(2, 2, dtype="float64")
    x = cr.tensor(np.random.default_rng(0).standard_normal((3, 2, 2)), requires_grad=True)

    def fn(x, *params):
        packed = nn.utils.rnn.pack_padded_sequence(x, [3, 2])
        output, (h, c) = model(packed)
        return cr.cat([output.data.reshape(-1), h.reshape(-1), c.reshape(-1)])

    assert gradgradcheck(fn, (x, *model.parameters()), **GRADCHECK)


# ---------------------------------------------------------------------- learning

@pytest.mark.parametrize("kind", ["GRU", "LSTM"])
def test_learns_binary_addition_exactly(kind):
    """Adding two 6-bit numbers bit by bit (the carry kept in the state): after 250 Adam steps on
    random pairs every bit of the sum of all 4,096 pairs is right (well under a second)."""
    cr.manual_seed(0)
    recurrent, head = getattr(nn, kind)(2, 16), nn.Linear(16, 2)
    optimizer = optim.Adam(list(recurrent.parameters()) + list(head.parameters()), lr=0.02)
    for step in range(250):
        x, y = binary_addition(6, 64, seed=step)
        out, _ = recurrent(cr.tensor(x))
        loss = F.cross_entropy(head(out).reshape(-1, 2), cr.tensor(y.reshape(-1)))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    x, y = binary_addition(6)
    with cr.no_grad():
        predicted = head(recurrent(cr.tensor(x))[0]).numpy().argmax(-1)
    assert (predicted == y).all()
