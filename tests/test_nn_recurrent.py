"""RNN, GRU and LSTM against PyTorch: torch's state_dict loaded into ours (keys must match), then
outputs, final states and the gradients of the input, the initial states and every parameter
compared in float32 and float64, over the layouts and options PyTorch has (layers, directions,
batch_first, unbatched input, default and given states, relu, no bias, projections, packed
variable-length batches); dropout between layers; state dicts, reprs, initialization; errors.
"""
from __future__ import annotations

import warnings

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn
from chainrule.nn.utils import rnn as rnn_utils

torch = pytest.importorskip("torch")
torch_rnn = torch.nn.utils.rnn

TOLERANCE = {"float32": {"rtol": 1e-4, "atol": 2e-5}, "float64": {"rtol": 1e-10, "atol": 1e-12}}
T, B, FEATURES, H = 5, 3, 4, 6


def make_pair(kind: str, dtype: str, *args, **kwargs):
    """A torch layer (seeded) and ours, with torch's state_dict loaded into ours (same keys)."""
    torch.manual_seed(0)
    theirs = getattr(torch.nn, kind)(*args, **kwargs).to(getattr(torch, dtype))
    ours = getattr(nn, kind)(*args, **kwargs, dtype=dtype)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    ours.load_state_dict({k: v.detach().numpy() for k, v in theirs.state_dict().items()})
    return ours, theirs


def leaves(arrays):
    return [cr.tensor(a, requires_grad=True) for a in arrays], [torch.tensor(a, requires_grad=True) for a in arrays]


def flatten(result):
    """(output, h_n) or (output, (h_n, c_n)) as a flat list of tensors (a packed output: its data)."""
    output, final = result
    output = output.data if isinstance(output, (rnn_utils.PackedSequence, torch_rnn.PackedSequence)) else output
    return [output, *(final if isinstance(final, tuple) else (final,))]


def compare(ours, theirs, our_inputs, their_inputs, dtype, call=None):
    """Run both, compare every result, backpropagate sum(result * w) and compare the gradients of
    the inputs and of every parameter."""
    call = call or (lambda module, inputs: module(*inputs))
    got, expected = flatten(call(ours, our_inputs)), flatten(call(theirs, their_inputs))
    tolerance = TOLERANCE[dtype]
    rng = np.random.default_rng(1)
    loss_ours, loss_theirs = 0, 0
    for g, e in zip(got, expected, strict=True):
        assert g.shape == tuple(e.shape) and str(g.dtype) == dtype
        np.testing.assert_allclose(g.numpy(), e.detach().numpy(), **tolerance)
        w = rng.standard_normal(g.shape).astype(dtype)
        loss_ours = loss_ours + (g * cr.tensor(w)).sum()
        loss_theirs = loss_theirs + (e * torch.tensor(w)).sum()
    loss_ours.backward()
    loss_theirs.backward()
    for x, t in zip(_leaves(our_inputs), _leaves(their_inputs), strict=True):
        np.testing.assert_allclose(x.grad.numpy(), t.grad.numpy(), **tolerance)
    theirs_named = dict(theirs.named_parameters())
    for name, p in ours.named_parameters():
        np.testing.assert_allclose(p.grad.numpy(), theirs_named[name].grad.numpy(), err_msg=name, **tolerance)


def _leaves(inputs):
    flat = []
    for item in inputs:
        if isinstance(item, (tuple, list)):
            flat.extend(_leaves(item))
        elif item is not None and not isinstance(item, (rnn_utils.PackedSequence, torch_rnn.PackedSequence)):
            flat.append(item)
    return flat


def _states(kind, count, batch, dtype, proj=0, seed=2):
    rng = np.random.default_rng(seed)
    size = proj or H
    shapes = [(count, batch, size)] + ([(count, batch, H)] if kind == "LSTM" else [])
    return [rng.standard_normal(s).astype(dtype) for s in shapes]


KINDS = [("RNN", {}), ("RNN", {"nonlinearity": "relu"}), ("GRU", {}), ("LSTM", {})]
CONFIGS = [
    {},
    {"num_layers": 2},
    {"num_layers": 3},
    {"bidirectional": True},
    {"num_layers": 2, "bidirectional": True, "batch_first": True},
    {"batch_first": True},
    {"bias": False, "num_layers": 2},
]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("config", CONFIGS, ids=lambda c: "-".join(f"{k}={v}" for k, v in c.items()) or "default")
@pytest.mark.parametrize("kind,extra", KINDS, ids=["rnn_tanh", "rnn_relu", "gru", "lstm"])
@pytest.mark.parametrize("given_state", [False, True], ids=["zero_state", "given_state"])
def test_layer_matches_torch(kind, extra, config, dtype, given_state):
    ours, theirs = make_pair(kind, dtype, FEATURES, H, **extra, **config)
    directions = 2 if config.get("bidirectional") else 1
    shape = (B, T, FEATURES) if config.get("batch_first") else (T, B, FEATURES)
    x = np.random.default_rng(0).standard_normal(shape).astype(dtype)
    arrays = [x] + (_states(kind, config.get("num_layers", 1) * directions, B, dtype) if given_state else [])
    ours_in, theirs_in = leaves(arrays)
    if given_state:
        ours_in = [ours_in[0], tuple(ours_in[1:]) if kind == "LSTM" else ours_in[1]]
        theirs_in = [theirs_in[0], tuple(theirs_in[1:]) if kind == "LSTM" else theirs_in[1]]
    compare(ours, theirs, ours_in, theirs_in, dtype)


@pytest.mark.filterwarnings("ignore:LSTM with projections is not supported with oneDNN")
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("config", [{}, {"num_layers": 2, "bidirectional": True}, {"batch_first": True}])
def test_lstm_projection_matches_torch(config, dtype):
    ours, theirs = make_pair("LSTM", dtype, FEATURES, H, proj_size=3, **config)
    directions = 2 if config.get("bidirectional") else 1
    shape = (B, T, FEATURES) if config.get("batch_first") else (T, B, FEATURES)
    x = np.random.default_rng(0).standard_normal(shape).astype(dtype)
    h0, c0 = _states("LSTM", config.get("num_layers", 1) * directions, B, dtype, proj=3)
    (xo, ho, co), (xt, ht, ct) = leaves([x, h0, c0])
    compare(ours, theirs, [xo, (ho, co)], [xt, (ht, ct)], dtype)
    assert ours(xo)[0].shape == (*shape[:2], 3 * directions)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("kind", ["RNN", "GRU", "LSTM"])
@pytest.mark.parametrize("shape", [(1, B, FEATURES), (T, 1, FEATURES), (1, 1, FEATURES)],
                         ids=["one_step", "batch_of_one", "one_of_one"])
def test_odd_shapes_match_torch(kind, shape, dtype):
    ours, theirs = make_pair(kind, dtype, FEATURES, H, num_layers=2, bidirectional=True)
    x = np.random.default_rng(0).standard_normal(shape).astype(dtype)
    compare(ours, theirs, *leaves([x]), dtype)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("kind", ["RNN", "GRU", "LSTM"])
def test_non_contiguous_input_and_a_model_used_twice_match_torch(kind, dtype):
    """The input as a transposed view, and the same model applied to it twice in one loss."""
    ours, theirs = make_pair(kind, dtype, FEATURES, H, num_layers=2, bidirectional=True)
    x = np.random.default_rng(0).standard_normal((B, T, FEATURES)).astype(dtype)
    xo, xt = leaves([x])

    def call(module, inputs):
        view = inputs[0].transpose(0, 1)  # (T, B, FEATURES), not contiguous
        first, second = flatten(module(view)), flatten(module(view * 0.5))
        return first[0] + second[0], first[1] - second[1]

    compare(ours, theirs, xo, xt, dtype, call)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("kind", ["RNN", "GRU", "LSTM"])
@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("given_state", [False, True])
def test_unbatched_input_matches_torch(kind, batch_first, given_state, dtype):
    ours, theirs = make_pair(kind, dtype, FEATURES, H, num_layers=2, batch_first=batch_first)
    x = np.random.default_rng(0).standard_normal((T, FEATURES)).astype(dtype)
    states = [s[:, 0] for s in _states(kind, 2, 1, dtype)] if given_state else []
    ours_in, theirs_in = leaves([x, *states])
    if given_state:
        ours_in = [ours_in[0], tuple(ours_in[1:]) if kind == "LSTM" else ours_in[1]]
        theirs_in = [theirs_in[0], tuple(theirs_in[1:]) if kind == "LSTM" else theirs_in[1]]
    compare(ours, theirs, ours_in, theirs_in, dtype)
    output, _ = ours(cr.tensor(x))
    assert output.shape == (T, H)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("kind", ["RNN", "GRU", "LSTM"])
@pytest.mark.parametrize("config", [{}, {"num_layers": 2, "bidirectional": True}, {"batch_first": True}])
@pytest.mark.parametrize("lengths,enforce_sorted", [([5, 3, 3, 1], True), ([2, 5, 1, 4], False)])
@pytest.mark.parametrize("given_state", [False, True])
def test_packed_sequences_match_torch(kind, config, lengths, enforce_sorted, given_state, dtype):
    """Each sequence runs to its own length: outputs (the packed data), final states (in the
    original batch order) and all gradients as PyTorch's."""
    ours, theirs = make_pair(kind, dtype, FEATURES, H, **config)
    batch_first = config.get("batch_first", False)
    batch, directions = len(lengths), 2 if config.get("bidirectional") else 1
    shape = (batch, T, FEATURES) if batch_first else (T, batch, FEATURES)
    x = np.random.default_rng(0).standard_normal(shape).astype(dtype)
    states = _states(kind, config.get("num_layers", 1) * directions, batch, dtype) if given_state else []
    ours_in, theirs_in = leaves([x, *states])

    def call(module, inputs):
        pack = rnn_utils.pack_padded_sequence if module is ours else torch_rnn.pack_padded_sequence
        packed = pack(inputs[0], lengths, batch_first=batch_first, enforce_sorted=enforce_sorted)
        hx = None
        if given_state:
            hx = tuple(inputs[1:]) if kind == "LSTM" else inputs[1]
        return module(packed, hx)

    compare(ours, theirs, ours_in, theirs_in, dtype, call)


@pytest.mark.parametrize("kind", ["GRU", "LSTM"])
def test_packed_output_pads_back_with_zeros_past_each_end(kind):
    ours, theirs = make_pair(kind, "float64", FEATURES, H, bidirectional=True)
    x = np.random.default_rng(0).standard_normal((T, 3, FEATURES))
    lengths = [2, 5, 3]
    out, _ = ours(rnn_utils.pack_padded_sequence(cr.tensor(x), lengths, enforce_sorted=False))
    padded, got_lengths = rnn_utils.pad_packed_sequence(out)
    expected, _ = torch_rnn.pad_packed_sequence(
        theirs(torch_rnn.pack_padded_sequence(torch.tensor(x), lengths, enforce_sorted=False))[0])
    np.testing.assert_allclose(padded.numpy(), expected.detach().numpy(), rtol=1e-10, atol=1e-12)
    assert got_lengths.tolist() == lengths
    for b, length in enumerate(lengths):
        assert not padded.numpy()[length:, b].any()


# ---------------------------------------------------------------------- dropout between layers

@pytest.mark.parametrize("kind", ["RNN", "GRU", "LSTM"])
def test_dropout_zero_and_eval_mode_are_exactly_the_plain_stack(kind):
    cr.manual_seed(0)
    plain = getattr(nn, kind)(FEATURES, H, num_layers=2, dtype="float64")
    dropped = getattr(nn, kind)(FEATURES, H, num_layers=2, dropout=0.5, dtype="float64")
    dropped.load_state_dict(plain.state_dict())
    x = cr.tensor(np.random.default_rng(0).standard_normal((T, B, FEATURES)))
    expected = flatten(plain(x))
    for got, e in zip(flatten(dropped.eval()(x)), expected):
        np.testing.assert_array_equal(got.numpy(), e.numpy())
    zero = getattr(nn, kind)(FEATURES, H, num_layers=2, dropout=0.0, dtype="float64")
    zero.load_state_dict(plain.state_dict())
    for got, e in zip(flatten(zero.train()(x)), expected):
        np.testing.assert_array_equal(got.numpy(), e.numpy())


def test_dropout_in_training_drops_between_layers_only():
    """With dropout p the first layer's outputs feed the second layer zeroed with probability p and
    scaled by 1 / (1 - p): the second layer's input projection sees exactly that; the last layer's
    outputs are not dropped."""
    p = 0.3
    cr.manual_seed(0)
    model = nn.RNN(2, 400, num_layers=2, dropout=p, dtype="float64")
    captured = {}
    from chainrule.nn import recurrent

    original = recurrent.run_recurrence

    def spy(mode, x, *args, **kwargs):
        captured.setdefault("inputs", []).append(x.numpy().copy())
        out = original(mode, x, *args, **kwargs)
        captured.setdefault("outputs", []).append(out[0].numpy().copy())
        return out

    recurrent.run_recurrence = spy
    try:
        output, _ = model(cr.tensor(np.random.default_rng(0).standard_normal((20, 8, 2))))
    finally:
        recurrent.run_recurrence = original
    first, second_input = captured["outputs"][0], captured["inputs"][1]
    kept = second_input != 0
    assert abs(1 - kept.mean() - p) < 0.01  # 64,000 draws: the dropped fraction is p within 1%
    np.testing.assert_allclose(second_input[kept], first[kept] / (1 - p), rtol=1e-12)
    np.testing.assert_array_equal(output.numpy(), captured["outputs"][1])  # no dropout after the last layer


def test_dropout_one_zeroes_the_next_layers_input():
    model = nn.GRU(FEATURES, H, num_layers=2, dropout=1.0, dtype="float64")
    x = cr.tensor(np.random.default_rng(0).standard_normal((T, B, FEATURES)))
    out_train, _ = model(x)
    model.eval()
    zero_input = nn.GRU(H, H, dtype="float64")
    zero_input.load_state_dict({k[:-1] + "0": v for k, v in model.state_dict().items() if k.endswith("l1")})
    expected, _ = zero_input(cr.zeros(T, B, H, dtype="float64"))
    np.testing.assert_allclose(out_train.numpy(), expected.numpy(), rtol=1e-12)


def test_dropout_with_one_layer_warns_as_torch():
    with pytest.warns(UserWarning, match="num_layers greater than 1"):
        nn.LSTM(FEATURES, H, dropout=0.2)


# ---------------------------------------------------------------------- parameters, repr, state dicts

@pytest.mark.parametrize("kind,kwargs", [
    ("RNN", {}), ("RNN", {"nonlinearity": "relu", "bias": False}), ("GRU", {"num_layers": 2, "bidirectional": True}),
    ("LSTM", {"num_layers": 3, "batch_first": True, "dropout": 0.5}), ("LSTM", {"proj_size": 2, "bidirectional": True}),
])
def test_names_shapes_and_repr_as_torch(kind, kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ours, theirs = getattr(nn, kind)(FEATURES, H, **kwargs), getattr(torch.nn, kind)(FEATURES, H, **kwargs)
    assert repr(ours) == repr(theirs)
    assert [(n, tuple(p.shape)) for n, p in ours.named_parameters()] == \
        [(n, tuple(p.shape)) for n, p in theirs.named_parameters()]
    assert len(ours.all_weights) == len(theirs.all_weights)


@pytest.mark.parametrize("kind", ["RNN", "GRU", "LSTM"])
def test_default_initialization_is_uniform_within_one_over_sqrt_hidden(kind):
    cr.manual_seed(0)
    model = getattr(nn, kind)(50, 64, num_layers=2)
    bound = 1 / np.sqrt(64)
    for name, p in model.named_parameters():
        values = p.numpy()
        assert values.dtype == np.float32
        assert np.abs(values).max() <= bound, name
        assert abs(values.std() - bound / np.sqrt(3)) < 0.1 * bound, name  # U(-a, a): std a / sqrt(3)


@pytest.mark.parametrize("kind", ["RNN", "GRU", "LSTM"])
def test_state_dict_round_trip(kind):
    cr.manual_seed(0)
    first = getattr(nn, kind)(FEATURES, H, num_layers=2, bidirectional=True)
    cr.manual_seed(1)
    second = getattr(nn, kind)(FEATURES, H, num_layers=2, bidirectional=True)
    x = cr.randn(T, B, FEATURES)
    second.load_state_dict(first.state_dict())
    for a, b in zip(flatten(first(x)), flatten(second(x))):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    torch_model = getattr(torch.nn, kind)(FEATURES, H, num_layers=2, bidirectional=True)
    torch_model.load_state_dict({k: torch.tensor(v.numpy()) for k, v in first.state_dict().items()})
    expected = flatten(torch_model(torch.tensor(x.numpy())))
    for a, e in zip(flatten(first(x)), expected):
        np.testing.assert_allclose(a.numpy(), e.detach().numpy(), rtol=1e-4, atol=2e-5)


def test_float32_stays_float32_and_double_converts():
    model = nn.LSTM(FEATURES, H, num_layers=2)
    out, (h, c) = model(cr.randn(T, B, FEATURES))
    assert out.dtype == h.dtype == c.dtype == cr.float32
    (out.sum() + h.sum() + c.sum()).backward()
    assert all(p.grad.dtype == cr.float32 for p in model.parameters())
    model.double()
    out, (h, c) = model(cr.randn(T, B, FEATURES, dtype="float64"))
    assert out.dtype == cr.float64


def test_batch_first_output_layout():
    model = nn.GRU(FEATURES, H, num_layers=2, bidirectional=True, batch_first=True)
    out, h = model(cr.randn(B, T, FEATURES))
    assert out.shape == (B, T, 2 * H) and h.shape == (4, B, H)


# ---------------------------------------------------------------------- errors

CONSTRUCTION_ERRORS = [
    (lambda: nn.RNN(FEATURES, H, nonlinearity="sigmoid"), ValueError, "nonlinearity"),
    (lambda: nn.LSTM(FEATURES, H, num_layers=0), ValueError, "num_layers"),
    (lambda: nn.GRU(FEATURES, H, dropout=1.5), ValueError, "dropout"),
    (lambda: nn.GRU(FEATURES, H, dropout=-0.1), ValueError, "dropout"),
    (lambda: nn.GRU(FEATURES, H, dropout=True), ValueError, "dropout"),
    (lambda: nn.LSTM(0, H), ValueError, "input_size"),
    (lambda: nn.LSTM(FEATURES, 0), ValueError, "hidden_size"),
    (lambda: nn.LSTM(FEATURES, 2.5), TypeError, "hidden_size"),
    (lambda: nn.LSTM(FEATURES, H, bias=1), TypeError, "bias"),
    (lambda: nn.LSTM(FEATURES, H, batch_first="yes"), TypeError, "batch_first"),
    (lambda: nn.LSTM(FEATURES, H, proj_size=H), ValueError, "proj_size"),
    (lambda: nn.LSTM(FEATURES, H, proj_size=-1), ValueError, "proj_size"),
    (lambda: nn.LSTM(FEATURES, H, dtype="int64"), TypeError, "dtype"),
    (lambda: nn.RNNCell(FEATURES, H, nonlinearity="gelu"), ValueError, "nonlinearity"),
    (lambda: nn.GRUCell(FEATURES, -1), ValueError, "hidden_size"),
]


@pytest.mark.parametrize("make,error,match", CONSTRUCTION_ERRORS)
def test_construction_errors(make, error, match):
    with pytest.raises(error, match=match):
        make()


def _lstm(**kwargs):
    return nn.LSTM(FEATURES, H, num_layers=2, **kwargs)


FORWARD_ERRORS = [
    (lambda: nn.GRU(FEATURES, H)(cr.randn(T, B, FEATURES + 1)), RuntimeError, "input_size. Expected 4, got 5"),
    (lambda: nn.GRU(FEATURES, H)(cr.randn(T, B, 2, FEATURES)), ValueError, "Expected input to be 2D or 3D, got 4D"),
    (lambda: nn.GRU(FEATURES, H)(cr.randn(T, B, FEATURES, dtype="float64")), ValueError, "dtype"),
    (lambda: nn.GRU(FEATURES, H)([[1.0]]), TypeError, "Tensor or a PackedSequence"),
    (lambda: nn.GRU(FEATURES, H)(cr.randn(0, B, FEATURES)), RuntimeError, "sequence length to be larger than 0"),
    (lambda: nn.GRU(FEATURES, H, num_layers=2)(cr.randn(T, B, FEATURES), cr.randn(1, B, H)), RuntimeError,
     r"size \(2, 3, 6\).*got \(1, 3, 6\)"),
    (lambda: nn.RNN(FEATURES, H)(cr.randn(T, B, FEATURES), cr.randn(B, H)), RuntimeError, "batched 3-D input"),
    (lambda: nn.RNN(FEATURES, H)(cr.randn(T, FEATURES), cr.randn(1, 1, H)), RuntimeError, "unbatched 2-D input"),
    (lambda: _lstm()(cr.randn(T, B, FEATURES), cr.randn(2, B, H)), TypeError, r"pair \(h_0, c_0\)"),
    (lambda: _lstm()(cr.randn(T, B, FEATURES), (cr.randn(2, B, H), cr.randn(2, B, H + 1))), RuntimeError,
     r"hidden\[1\] \(c_0\) size \(2, 3, 6\)"),
    (lambda: _lstm(proj_size=2)(cr.randn(T, B, FEATURES), (cr.randn(2, B, H), cr.randn(2, B, H))), RuntimeError,
     r"hidden\[0\] \(h_0\) size \(2, 3, 2\)"),
    (lambda: nn.LSTMCell(FEATURES, H)(cr.randn(B, FEATURES), cr.randn(B, H)), TypeError, r"pair \(h, c\)"),
    (lambda: nn.GRUCell(FEATURES, H)(cr.randn(B, FEATURES + 1)), RuntimeError, "inconsistent input_size"),
    (lambda: nn.GRUCell(FEATURES, H)(cr.randn(B, 1, FEATURES)), ValueError, "1D or 2D"),
    (lambda: nn.GRUCell(FEATURES, H)(cr.randn(B, FEATURES), cr.randn(B + 1, H)), RuntimeError, r"shape \(3, 6\)"),
    (lambda: nn.RNNCell(FEATURES, H)(cr.randn(FEATURES), cr.randn(1, H)), ValueError, "1D like the input"),
]


@pytest.mark.parametrize("call,error,match", FORWARD_ERRORS)
def test_forward_errors(call, error, match):
    with pytest.raises(error, match=match):
        call()
