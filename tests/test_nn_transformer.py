"""TransformerEncoderLayer, TransformerEncoder, TransformerDecoderLayer, TransformerDecoder and
Transformer against PyTorch with PyTorch's parameters loaded by state dict: outputs, input and
parameter gradients, float32 and float64, post-norm and pre-norm, batch_first or not, relu,
gelu and callable activations, causal and padding masks, evaluation and training (dropout);
deep copies, reprs, state-dict keys, generate_square_subsequent_mask; the positional
encodings; second derivatives through a layer; errors."""
from __future__ import annotations

import math

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn
from chainrule.autograd import gradgradcheck
from chainrule.nn import functional as F

torch = pytest.importorskip("torch")
pytestmark = pytest.mark.filterwarnings("ignore:(Support for mismatched|enable_nested_tensor)")

TOLERANCE = {"float32": {"rtol": 2e-4, "atol": 5e-5}, "float64": {"rtol": 1e-10, "atol": 1e-11}}


def load(ours, theirs):
    assert list(ours.state_dict()) == list(theirs.state_dict())
    ours.load_state_dict({k: v.detach().numpy() for k, v in theirs.state_dict().items()})


def compare(ours, theirs, arrays: list, call, dtype: str, grads: int = 1):
    """call(module, *inputs) in both; the first ``grads`` inputs require grad."""
    load(ours, theirs)
    xs = [cr.tensor(a, requires_grad=i < grads) for i, a in enumerate(arrays)]
    ts = [torch.tensor(a, requires_grad=i < grads) for i, a in enumerate(arrays)]
    out, expected = call(ours, *xs), call(theirs, *ts)
    assert out.shape == tuple(expected.shape) and str(out.dtype) == dtype
    np.testing.assert_allclose(out.numpy(), expected.detach().numpy(), **TOLERANCE[dtype])
    upstream = np.random.default_rng(9).standard_normal(out.shape).astype(dtype)
    (out * cr.tensor(upstream)).sum().backward()
    (expected * torch.from_numpy(upstream)).sum().backward()
    for x, t in zip(xs[:grads], ts[:grads]):
        np.testing.assert_allclose(x.grad.numpy(), t.grad.numpy(), **TOLERANCE[dtype])
    theirs_grads = dict(theirs.named_parameters())
    for name, p in ours.named_parameters():
        np.testing.assert_allclose(p.grad.numpy(), theirs_grads[name].grad.numpy(), **TOLERANCE[dtype], err_msg=name)
    return out


def padding(n, length, rng):
    lengths = rng.integers(1, length + 1, size=n)
    return np.arange(length)[None, :] >= lengths[:, None]


def causal(length):
    return np.triu(np.full((length, length), -np.inf), 1)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("batch_first", [True, False])
@pytest.mark.parametrize("norm_first", [False, True])
@pytest.mark.parametrize("activation", ["relu", "gelu"])
@pytest.mark.parametrize("masks", ["none", "padding", "causal", "causal+padding"])
def test_encoder_layer_matches_torch(dtype, batch_first, norm_first, activation, masks):
    options = dict(dim_feedforward=16, dropout=0.0, activation=activation, batch_first=batch_first,
                   norm_first=norm_first)
    theirs = torch.nn.TransformerEncoderLayer(8, 2, **options).to(getattr(torch, dtype))
    ours = nn.TransformerEncoderLayer(8, 2, dtype=dtype, **options)
    assert repr(ours).replace("Dropout(p=0.0)", "Dropout(p=0.0, inplace=False)") == repr(theirs)
    rng = np.random.default_rng(0)
    n, length = 3, 5
    x = rng.standard_normal((n, length, 8) if batch_first else (length, n, 8)).astype(dtype)
    arrays, names = [x], []
    if "padding" in masks:
        arrays.append(padding(n, length, rng))
        names.append("src_key_padding_mask")
    if "causal" in masks:
        arrays.append(causal(length).astype(dtype))
        names.append("src_mask")
    is_causal = "causal" in masks

    def call(module, x, *extra):
        return module(x, **dict(zip(names, extra)), is_causal=is_causal)

    compare(ours, theirs, arrays, call, dtype)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("batch_first", [True, False])
@pytest.mark.parametrize("norm_first", [False, True])
def test_decoder_layer_matches_torch(dtype, batch_first, norm_first):
    options = dict(dim_feedforward=12, dropout=0.0, batch_first=batch_first, norm_first=norm_first)
    theirs = torch.nn.TransformerDecoderLayer(8, 4, **options).to(getattr(torch, dtype))
    ours = nn.TransformerDecoderLayer(8, 4, dtype=dtype, **options)
    rng = np.random.default_rng(1)
    n, target, source = 2, 4, 6  # different source and target lengths
    shape = (lambda length: (n, length, 8)) if batch_first else (lambda length: (length, n, 8))
    arrays = [rng.standard_normal(shape(target)).astype(dtype), rng.standard_normal(shape(source)).astype(dtype),
              causal(target).astype(dtype), padding(n, target, rng), padding(n, source, rng)]

    def call(module, tgt, memory, mask, tgt_padding, memory_padding):
        return module(tgt, memory, tgt_mask=mask, tgt_key_padding_mask=tgt_padding,
                      memory_key_padding_mask=memory_padding, tgt_is_causal=True)

    compare(ours, theirs, arrays, call, dtype, grads=2)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_stacks_and_the_transformer_match_torch(dtype):
    rng = np.random.default_rng(2)
    theirs = torch.nn.Transformer(8, 2, 2, 2, 16, dropout=0.0).to(getattr(torch, dtype))
    ours = nn.Transformer(8, 2, 2, 2, 16, dropout=0.0, dtype=dtype)
    src, tgt = rng.standard_normal((6, 2, 8)).astype(dtype), rng.standard_normal((4, 2, 8)).astype(dtype)
    arrays = [src, tgt, nn.Transformer.generate_square_subsequent_mask(4, dtype=dtype).numpy(), padding(2, 6, rng)]

    def call(module, src, tgt, mask, src_padding):
        return module(src, tgt, tgt_mask=mask, src_key_padding_mask=src_padding,
                      memory_key_padding_mask=src_padding)

    compare(ours, theirs, arrays, call, dtype, grads=2)
    encoder_layer = torch.nn.TransformerEncoderLayer(8, 2, 16, dropout=0.0, batch_first=True, norm_first=True)
    theirs = torch.nn.TransformerEncoder(encoder_layer, 3, norm=torch.nn.LayerNorm(8), enable_nested_tensor=False)
    ours = nn.TransformerEncoder(nn.TransformerEncoderLayer(8, 2, 16, dropout=0.0, batch_first=True,
                                                            norm_first=True), 3, norm=nn.LayerNorm(8))
    theirs.to(getattr(torch, dtype))
    ours.to(dtype)
    x = rng.standard_normal((2, 5, 8)).astype(dtype)
    compare(ours, theirs, [x, causal(5).astype(dtype)], lambda m, x, mask: m(x, mask=mask), dtype)


def test_generic_transformer_initialization_and_structure():
    cr.manual_seed(0)
    model = nn.Transformer(16, 4, 2, 1, 32)
    reference = torch.nn.Transformer(16, 4, 2, 1, 32)
    assert list(model.state_dict()) == list(reference.state_dict())
    for name, p in model.named_parameters():  # every matrix Glorot-uniform; vectors as their layers set them
        if p.ndim > 1:
            bound = math.sqrt(6.0 / sum(p.shape))
            assert np.abs(p.numpy()).max() <= bound, name
    layers = model.encoder.layers
    assert len(layers) == 2 and layers[0] is not layers[1]
    assert layers[0].self_attn.in_proj_weight is not layers[1].self_attn.in_proj_weight
    np.testing.assert_array_equal(model.encoder.norm.weight.numpy(), 1)


def test_deep_copies_are_independent_copies_of_the_given_layer():
    layer = nn.TransformerEncoderLayer(8, 2, 16)
    stack = nn.TransformerEncoder(layer, 2)
    for copy in stack.layers:
        assert copy is not layer
        np.testing.assert_array_equal(copy.linear1.weight.numpy(), layer.linear1.weight.numpy())
    stack.layers[0].linear1.weight.data[...] = 0
    assert not np.allclose(stack.layers[1].linear1.weight.numpy(), 0)
    assert not np.allclose(layer.linear1.weight.numpy(), 0)


@pytest.mark.parametrize("activation, expected", [
    (lambda x: F.gelu(x, approximate="tanh"), lambda x: torch.nn.functional.gelu(x, approximate="tanh")),
    (nn.GELU(), torch.nn.GELU()),
    (nn.SiLU(), torch.nn.SiLU()),
])
def test_callable_and_module_activations(activation, expected):
    theirs = torch.nn.TransformerEncoderLayer(8, 2, 16, dropout=0.0, activation=expected).double()
    ours = nn.TransformerEncoderLayer(8, 2, 16, dropout=0.0, activation=activation, dtype="float64")
    x = np.random.default_rng(3).standard_normal((4, 2, 8))
    compare(ours, theirs, [x], lambda m, x: m(x), "float64")
    assert ("activation" in dict(ours.named_children())) == isinstance(activation, nn.Module)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_evaluation_mode_has_no_dropout_and_training_mode_rescales(dtype):
    theirs = torch.nn.TransformerEncoderLayer(8, 2, 16, dropout=0.3, batch_first=True).to(getattr(torch, dtype))
    ours = nn.TransformerEncoderLayer(8, 2, 16, dropout=0.3, batch_first=True, dtype=dtype)
    ours.eval()
    theirs.eval()
    x = np.random.default_rng(4).standard_normal((2, 5, 8)).astype(dtype)
    compare(ours, theirs, [x], lambda m, x: m(x), dtype)
    ours.train()
    cr.manual_seed(0)
    first = ours(cr.tensor(x)).numpy()
    cr.manual_seed(0)
    np.testing.assert_array_equal(ours(cr.tensor(x)).numpy(), first)  # reproducible
    ours.eval()
    assert not np.allclose(first, ours(cr.tensor(x)).numpy())
    plain = nn.Dropout(0.3)
    cr.manual_seed(1)
    dropped = plain(cr.ones(20000, dtype=dtype)).numpy()
    assert abs((dropped == 0).mean() - 0.3) < 0.02 and np.allclose(dropped[dropped != 0], 1 / 0.7)


def test_second_derivatives_through_an_encoder_layer():
    cr.manual_seed(0)
    layer = nn.TransformerEncoderLayer(4, 2, 6, dropout=0.0, batch_first=True, dtype="float64")
    x = cr.tensor(np.random.default_rng(5).standard_normal((2, 3, 4)), requires_grad=True)
    padding_mask = cr.tensor(np.array([[False, False, True], [False, False, False]]))
    assert gradgradcheck(lambda x: layer(x, src_key_padding_mask=padding_mask), x, atol=1e-4)


def test_generate_square_subsequent_mask():
    mask = nn.Transformer.generate_square_subsequent_mask(4)
    expected = torch.nn.Transformer.generate_square_subsequent_mask(4)
    assert mask.dtype == cr.float32
    np.testing.assert_array_equal(mask.numpy(), expected.numpy())
    assert nn.Transformer.generate_square_subsequent_mask(2, dtype=cr.float64).dtype == cr.float64
    assert nn.transformer.generate_square_subsequent_mask(0).shape == (0, 0)


def test_causal_mask_detection():
    from chainrule.nn.transformer import detect_is_causal_mask

    mask = nn.Transformer.generate_square_subsequent_mask(3)
    assert detect_is_causal_mask(mask, None, 3)
    assert not detect_is_causal_mask(cr.zeros(3, 3), None, 3)
    assert not detect_is_causal_mask(mask, False, 3) and detect_is_causal_mask(None, True, 3)
    assert not detect_is_causal_mask(cr.tensor(np.triu(np.ones((3, 3), bool), 1)), None, 3)


# ---------------------------------------------------------------------- positional encodings


def test_sinusoidal_table_is_vaswanis():
    layer = nn.SinusoidalPositionalEncoding(6, max_len=10)
    table = layer.pe.numpy()
    pos, i = 7, 2
    assert table.dtype == np.float32 and table.shape == (10, 6)
    np.testing.assert_allclose(table[pos, 2 * i], math.sin(pos / 10000 ** (2 * i / 6)), rtol=1e-6)
    np.testing.assert_allclose(table[pos, 2 * i + 1], math.cos(pos / 10000 ** (2 * i / 6)), rtol=1e-6)
    assert "pe" not in layer.state_dict()  # a function of d_model and max_len
    odd = nn.positional.sinusoidal_table(4, 5)
    np.testing.assert_allclose(odd[3, 4], math.sin(3 / 10000 ** (4 / 5)), rtol=1e-6)


@pytest.mark.parametrize("batch_first", [True, False])
def test_positional_encodings_add_their_table_in_either_layout(batch_first):
    rng = np.random.default_rng(6)
    x = rng.standard_normal((2, 5, 4) if batch_first else (5, 2, 4)).astype(np.float32)
    sinusoidal = nn.SinusoidalPositionalEncoding(4, max_len=8, batch_first=batch_first)
    learned = nn.LearnedPositionalEncoding(4, max_len=8, batch_first=batch_first)
    for layer, table in ((sinusoidal, sinusoidal.pe.numpy()), (learned, learned.embedding.weight.numpy())):
        expected = x + (table[None, :5] if batch_first else table[:5, None])
        np.testing.assert_allclose(layer(cr.tensor(x)).numpy(), expected, rtol=1e-6)
        np.testing.assert_allclose(layer(cr.tensor(x[0] if batch_first else x[:, 0])).numpy(),
                                   x[0] + table[:5] if batch_first else x[:, 0] + table[:5], rtol=1e-6)
    inputs = cr.tensor(x, requires_grad=True)
    learned(inputs).sum().backward()
    grad = learned.embedding.weight.grad.numpy()
    np.testing.assert_allclose(grad[:5], 2.0)  # each position read once per sequence
    np.testing.assert_array_equal(grad[5:], 0)
    np.testing.assert_array_equal(inputs.grad.numpy(), 1.0)
    assert repr(learned) == (f"LearnedPositionalEncoding(\n  d_model=4, max_len=8, batch_first={batch_first}\n"
                             f"  (dropout): Dropout(p=0.0)\n  (embedding): Embedding(8, 4)\n)")


def test_positional_encodings_move_with_the_module():
    layer = nn.SinusoidalPositionalEncoding(4, max_len=8).double()
    assert layer.pe.dtype == cr.float64
    out = layer(cr.zeros(3, 1, 4, dtype=cr.float64))
    assert out.dtype == cr.float64


# ---------------------------------------------------------------------- errors

ERRORS = [
    (lambda: nn.TransformerEncoderLayer(8, 3), ValueError, "embed_dim must be divisible by num_heads"),
    (lambda: nn.TransformerEncoderLayer(8, 2, activation="tanh"), ValueError, "activation should be 'relu' or"),
    (lambda: nn.TransformerDecoderLayer(8, 2, activation=3), TypeError, "activation must be 'relu', 'gelu' or"),
    (lambda: nn.TransformerEncoderLayer(8, 2, dim_feedforward=0), ValueError, "dim_feedforward must be an int > 0"),
    (lambda: nn.TransformerEncoder(nn.TransformerEncoderLayer(8, 2), 0), ValueError, "num_layers must be"),
    (lambda: nn.TransformerEncoder("layer", 2), TypeError, "expected a layer Module"),
    (lambda: nn.Transformer(8, 2, 1, 1, 16)(cr.randn(3, 2, 8), cr.randn(3, 4, 8)), ValueError, "batch sizes"),
    (lambda: nn.Transformer(8, 2, 1, 1, 16)(cr.randn(3, 2, 8), cr.randn(3, 2, 6)), ValueError, "d_model=8"),
    (lambda: nn.TransformerEncoderLayer(8, 2)(cr.randn(3, 2, 8), is_causal=True), ValueError,
     "is_causal=True needs attn_mask"),
    (lambda: nn.SinusoidalPositionalEncoding(4, max_len=3)(cr.randn(4, 1, 4)), ValueError, "more than max_len=3"),
    (lambda: nn.SinusoidalPositionalEncoding(4)(cr.randn(4, 1, 5)), ValueError, "E = d_model = 4"),
    (lambda: nn.SinusoidalPositionalEncoding(4)(cr.randn(4, 1, 4, dtype=cr.float64)), TypeError, "dtype"),
    (lambda: nn.LearnedPositionalEncoding(0), ValueError, "d_model must be an int >= 1"),
    (lambda: nn.Transformer.generate_square_subsequent_mask(-1), ValueError, "sz must be an int >= 0"),
]


@pytest.mark.parametrize("call, error, message", ERRORS)
def test_errors(call, error, message):
    with pytest.raises(error, match=message):
        call()
