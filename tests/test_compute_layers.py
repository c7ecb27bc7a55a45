"""chainrule.compute.count_flops against PyTorch's FlopCounterMode, layer by layer and for whole
architectures: the same model in both libraries (our state_dict loaded into torch's), one forward
and one backward under the counter; our matmul-class FLOPs (products, convolutions, attention)
must equal PyTorch's exactly, forward and backward. Where PyTorch counts something else (the
weight gradient of grouped convolutions) the test says what and checks the difference.

Every model is also counted shape-only (the layers replaced by their shape rules) and must give
the same counts, row by row."""
from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
from chainrule import compute

torch = pytest.importorskip("torch")
from torch.nn.attention import SDPBackend, sdpa_kernel  # noqa: E402
from torch.utils.flop_counter import FlopCounterMode  # noqa: E402

pytestmark = [pytest.mark.filterwarnings("ignore:TF32 acceleration:UserWarning"),
              pytest.mark.filterwarnings("ignore:LSTM with projections:UserWarning"),
              pytest.mark.filterwarnings("ignore:enable_nested_tensor is True:UserWarning")]

# ---------------------------------------------------------------------- the two libraries side by side


def to_torch(value):
    if isinstance(value, cr.Tensor):
        return torch.from_numpy(np.array(value.numpy()))
    if isinstance(value, (tuple, list)):
        return type(value)(to_torch(v) for v in value)
    return value


def torch_counts(model, inputs, grad_inputs=()):
    """(forward, backward) FLOPs that FlopCounterMode counts for one step on ``inputs``; the
    inputs at positions ``grad_inputs`` require grad."""
    inputs = [t.clone().requires_grad_(i in grad_inputs) if isinstance(t, torch.Tensor) else t
              for i, t in enumerate(inputs)]
    # MATH: PyTorch's CPU flash-attention kernel is not counted by FlopCounterMode; no oneDNN:
    # its fused LSTM kernel (mkldnn_rnn_layer) is not counted either (see chainrule.compute.counting)
    with torch.backends.mkldnn.flags(enabled=False), sdpa_kernel(SDPBackend.MATH):
        with FlopCounterMode(display=False) as forward:
            out = model(*inputs)
        first = out
        while isinstance(first, (tuple, list)):
            first = first[0]
        with FlopCounterMode(display=False) as backward:
            first.sum().backward()
    return forward.get_total_flops(), backward.get_total_flops()


def pair(build, *args):
    """The model built by ``build(lib, *args)`` in chainrule and in torch, with the same weights."""
    cr.manual_seed(0)
    ours = build(cr, *args)
    theirs = build(torch, *args)
    theirs.load_state_dict({k: to_torch(v) for k, v in ours.state_dict().items()})
    return ours, theirs


def ours_counts(model, inputs, grad_inputs=()):
    inputs = tuple(t.detach().requires_grad_(True) if i in grad_inputs else t for i, t in enumerate(inputs))
    count = compute.count_flops(model, inputs)
    shape_only = compute.count_flops(model, inputs, shape_only=True)
    assert [row.as_dict() for row in shape_only.layers] == [row.as_dict() for row in count.layers]
    assert not count.uncounted, count.uncounted
    return count


def check(build, args, inputs, grad_inputs=(), train=True, backward_extra=0):
    ours, theirs = pair(build, *args)
    ours.train(train)
    theirs.train(train)
    expected = torch_counts(theirs, [to_torch(t) for t in inputs], grad_inputs)
    count = ours_counts(ours, tuple(inputs), grad_inputs)
    assert (count.forward_matmul_flops, count.backward_matmul_flops + backward_extra) == expected
    return count


def layer(name, *args, **kwargs):
    def build(lib):
        return getattr(lib.nn, name)(*args, **kwargs)
    return build


def after_linear(name, features, *args, **kwargs):
    """A Linear in front of the layer, so that the layer's input needs a gradient."""
    def build(lib):
        return lib.nn.Sequential(lib.nn.Linear(features, features), getattr(lib.nn, name)(*args, **kwargs))
    return build


def after_conv(name, channels, *args, **kwargs):
    def build(lib):
        return lib.nn.Sequential(lib.nn.Conv2d(channels, channels, 1), getattr(lib.nn, name)(*args, **kwargs))
    return build


def x(*shape):
    return cr.randn(*shape)


def tokens(vocabulary, *shape):
    return cr.randint(0, vocabulary, shape)


# ---------------------------------------------------------------------- layers


LAYERS = [
    ("Linear", layer("Linear", 5, 3), [x(4, 5)]),
    ("Linear 3-D, no bias", layer("Linear", 5, 3, bias=False), [x(2, 6, 5)]),
    ("Linear after Linear", after_linear("Linear", 5, 5, 3), [x(4, 5)]),
    ("Conv1d strided", layer("Conv1d", 3, 8, 3, stride=2, padding=1), [x(2, 3, 17)]),
    ("Conv1d after conv", lambda lib: lib.nn.Sequential(lib.nn.Conv1d(3, 4, 1), lib.nn.Conv1d(4, 6, 5, dilation=2)),
     [x(2, 3, 20)]),
    ("Conv2d", layer("Conv2d", 3, 8, 3), [x(2, 3, 9, 9)]),
    ("Conv2d stride padding", after_conv("Conv2d", 3, 3, 8, 3, stride=2, padding=1), [x(2, 3, 11, 10)]),
    ("Conv2d dilated", after_conv("Conv2d", 3, 3, 5, (3, 2), dilation=(2, 3), padding=2), [x(1, 3, 12, 12)]),
    ("Conv2d same reflect", after_conv("Conv2d", 3, 3, 4, 3, padding="same", padding_mode="reflect", bias=False),
     [x(2, 3, 7, 7)]),
    ("Conv2d unbatched", layer("Conv2d", 3, 4, 3), [x(3, 8, 8)]),
    ("ConvTranspose2d", layer("ConvTranspose2d", 4, 6, 3, stride=2, padding=1, output_padding=1), [x(2, 4, 5, 5)]),
    ("ConvTranspose2d after conv", after_conv("ConvTranspose2d", 4, 4, 6, (2, 3), stride=(2, 1), dilation=2),
     [x(2, 4, 5, 6)]),
    ("Embedding then Linear", lambda lib: lib.nn.Sequential(lib.nn.Embedding(11, 6), lib.nn.Linear(6, 4)),
     [tokens(11, 3, 5)]),
    ("pools and norms", lambda lib: lib.nn.Sequential(
        lib.nn.Conv2d(3, 8, 3, padding=1), lib.nn.BatchNorm2d(8), lib.nn.ReLU(), lib.nn.MaxPool2d(2),
        lib.nn.GroupNorm(2, 8), lib.nn.AvgPool2d(3, stride=1, padding=1), lib.nn.Dropout2d(0.3),
        lib.nn.Upsample(scale_factor=2), lib.nn.Conv2d(8, 4, 3), lib.nn.AdaptiveAvgPool2d((2, 3)),
        lib.nn.Flatten(), lib.nn.Linear(24, 5), lib.nn.LayerNorm(5), lib.nn.Unflatten(1, (5, 1)),
        lib.nn.Flatten(), lib.nn.RMSNorm(5), lib.nn.GELU(), lib.nn.Linear(5, 2)), [x(2, 3, 10, 10)]),
    ("1-D pools", lambda lib: lib.nn.Sequential(
        lib.nn.Conv1d(2, 4, 3), lib.nn.MaxPool1d(2), lib.nn.AvgPool1d(2), lib.nn.Flatten(), lib.nn.Linear(24, 3)),
     [x(3, 2, 26)]),
]


@pytest.mark.parametrize("name, build, inputs", LAYERS, ids=[case[0] for case in LAYERS])
def test_layers_match_pytorch(name, build, inputs):
    check(build, (), inputs)


def test_grouped_convolution_weight_gradient_differs_by_the_groups():
    """PyTorch counts the weight gradient of a convolution in g groups g times over."""
    groups, n_out, taps = 4, 2 * 8 * 6 * 6, 2 * 3 * 3
    dw = 2 * n_out * taps  # ours: the true 2·n·(C_in/g)·k
    check(after_conv("Conv2d", 8, 8, 8, 3, groups=groups, padding=0), (), [x(2, 8, 8, 8)],
          backward_extra=(groups - 1) * dw)


def test_depthwise_convolution():
    n_out, groups = 2 * 6 * 5 * 5, 6
    dw = 2 * n_out * 1 * 9
    check(after_conv("Conv2d", 6, 6, 6, 3, stride=2, groups=groups, padding=2), (), [x(2, 6, 8, 8)],
          backward_extra=(groups - 1) * dw)


def test_grouped_transposed_convolution():
    groups = 2
    n_in_macs = 2 * 4 * 5 * 5 * (6 // groups) * 9
    check(after_conv("ConvTranspose2d", 4, 4, 6, 3, stride=2, groups=groups), (), [x(2, 4, 5, 5)],
          backward_extra=(groups - 1) * 2 * n_in_macs)


# ---------------------------------------------------------------------- attention


def attention(lib, embed, heads, mode="self", need_weights=False, front=True, **kwargs):
    """A Linear, then a MultiheadAttention: self-attention, or cross-attention on a second input
    (``mode="cross"``: key = value = memory; ``"kv"``: key and value given apart)."""
    class Attention(lib.nn.Module):
        def __init__(self):
            super().__init__()
            self.front = lib.nn.Linear(embed, embed) if front else lib.nn.Identity()
            self.attn = lib.nn.MultiheadAttention(embed, heads, **kwargs)

        def forward(self, query, key=None, value=None):
            h = self.front(query)
            if mode == "self":
                key = value = h
            elif mode == "cross":
                value = key
            return self.attn(h, key, value, need_weights=need_weights)[0]

    return Attention()


MHA = [
    ("self, batch_first", dict(embed=8, heads=2, batch_first=True), [x(3, 5, 8)]),
    ("self, sequence-first, weights", dict(embed=8, heads=4, need_weights=True), [x(5, 3, 8)]),
    ("self on the data", dict(embed=6, heads=3, front=False, batch_first=True), [x(2, 4, 6)]),
    ("bias_kv, zero_attn, dropout", dict(embed=8, heads=2, add_bias_kv=True, add_zero_attn=True,
                                         need_weights=True, dropout=0.2), [x(4, 2, 8)]),
    ("cross", dict(embed=8, heads=2, mode="cross", batch_first=True), [x(2, 4, 8), x(2, 6, 8)]),
    ("cross, kdim = vdim", dict(embed=8, heads=2, mode="cross", kdim=5, vdim=5), [x(4, 2, 8), x(6, 2, 5)]),
    ("key and value apart, kdim, vdim", dict(embed=8, heads=2, mode="kv", kdim=5, vdim=3, batch_first=True),
     [x(2, 4, 8), x(2, 6, 5), x(2, 6, 3)]),
    ("unbatched, no bias", dict(embed=8, heads=2, bias=False), [x(5, 8)]),
]


@pytest.mark.parametrize("name, kwargs, inputs", MHA, ids=[case[0] for case in MHA])
def test_multihead_attention_matches_pytorch(name, kwargs, inputs):
    check(lambda lib: attention(lib, **kwargs), (), inputs)


def test_cross_attention_on_a_memory_that_needs_a_gradient():
    check(lambda lib: attention(lib, 8, 2, mode="cross"), (), [x(4, 2, 8), x(6, 2, 8)], grad_inputs=(1,))


def test_the_comparison_is_not_vacuous():
    count = check(lambda lib: attention(lib, 8, 2, batch_first=True), (), [x(3, 5, 8)])
    n, length, width = 3, 5, 8
    projections = 2 * n * length * width * width * (1 + 3 + 1)  # front, q k v, out
    scores = 2 * n * length * length * width * 2  # QK' and PV
    assert count.forward_matmul_flops == projections + scores
    assert count.backward_matmul_flops == 2 * projections - 2 * n * length * width * width + 2 * scores


# ---------------------------------------------------------------------- recurrent layers


def recurrent(lib, kind, features, hidden, front=True, **kwargs):
    """A Linear (so the recurrent layer's input needs a gradient), then the layer."""
    class Model(lib.nn.Module):
        def __init__(self):
            super().__init__()
            self.front = lib.nn.Linear(features, features) if front else lib.nn.Identity()
            self.rnn = getattr(lib.nn, kind)(features, hidden, **kwargs)

        def forward(self, x, *state):
            hx = (state[0], state[1]) if len(state) == 2 else (state[0] if state else None)
            return self.rnn(self.front(x), hx)[0]

    return Model()


RECURRENT = [
    ("RNN tanh", dict(kind="RNN", features=5, hidden=7), [x(6, 2, 5)]),
    ("RNN relu, 2 layers, data input", dict(kind="RNN", features=5, hidden=4, num_layers=2, nonlinearity="relu",
                                            front=False), [x(6, 3, 5)]),
    ("GRU bidirectional batch_first", dict(kind="GRU", features=4, hidden=6, bidirectional=True, batch_first=True),
     [x(3, 7, 4)]),
    ("GRU 3 layers no bias", dict(kind="GRU", features=4, hidden=5, num_layers=3, bias=False), [x(5, 2, 4)]),
    ("LSTM", dict(kind="LSTM", features=5, hidden=7), [x(6, 2, 5)]),
    ("LSTM 2 layers bidirectional proj", dict(kind="LSTM", features=5, hidden=7, num_layers=2, bidirectional=True,
                                              proj_size=3, front=False), [x(6, 2, 5)]),
    ("LSTM unbatched", dict(kind="LSTM", features=3, hidden=4), [x(5, 3)]),
    ("GRU given h0", dict(kind="GRU", features=4, hidden=6, num_layers=2), [x(5, 2, 4), x(2, 2, 6)]),
    ("LSTM given h0, c0", dict(kind="LSTM", features=4, hidden=6, proj_size=2), [x(5, 2, 4), x(1, 2, 2),
                                                                                  x(1, 2, 6)]),
]


@pytest.mark.parametrize("name, kwargs, inputs", RECURRENT, ids=[case[0] for case in RECURRENT])
def test_recurrent_layers_match_pytorch(name, kwargs, inputs):
    check(lambda lib: recurrent(lib, **kwargs), (), inputs)


@pytest.mark.parametrize("kind", ["RNN", "GRU", "LSTM"])
def test_recurrent_initial_state_that_needs_a_gradient(kind):
    state = [x(1, 3, 5)] * (2 if kind == "LSTM" else 1)
    check(lambda lib: recurrent(lib, kind, 4, 5, front=False), (), [x(6, 3, 4), *state],
          grad_inputs=tuple(range(1, 1 + len(state))))


def packed(lib, kind, bidirectional, layers, lengths=(5, 3, 2)):
    """A Linear, then the recurrent layer on a PackedSequence of sequences of ``lengths`` steps."""
    class Model(lib.nn.Module):
        def __init__(self):
            super().__init__()
            self.front = lib.nn.Linear(4, 4)
            self.rnn = getattr(lib.nn, kind)(4, 6, num_layers=layers, bidirectional=bidirectional)

        def forward(self, xs):
            sizes = lib.tensor(list(lengths))
            return self.rnn(lib.nn.utils.rnn.pack_padded_sequence(self.front(xs), sizes))[0].data

    return Model()


@pytest.mark.parametrize("kind", ["RNN", "GRU", "LSTM"])
@pytest.mark.parametrize("bidirectional, layers", [(False, 1), (True, 2)])
def test_packed_sequences_match_pytorch(kind, bidirectional, layers):
    count = check(lambda lib: packed(lib, kind, bidirectional, layers), (), [x(5, 3, 4)])
    rows = [row for row in count.layers if row.type == kind]
    assert len(rows) == 1 and rows[0].input_shape == (10, 4)  # 5 + 3 + 2 steps in the packed data


def cell(lib, kind, features, hidden, front=True, **kwargs):
    class Model(lib.nn.Module):
        def __init__(self):
            super().__init__()
            self.front = lib.nn.Linear(features, features) if front else lib.nn.Identity()
            self.cell = getattr(lib.nn, kind)(features, hidden, **kwargs)

        def forward(self, x, *state):
            hx = (state[0], state[1]) if len(state) == 2 else (state[0] if state else None)
            h = self.cell(self.front(x), hx)
            return h[0] if isinstance(h, tuple) else h

    return Model()


CELLS = [
    ("RNNCell", dict(kind="RNNCell", features=5, hidden=7), [x(3, 5)]),
    ("RNNCell relu with h", dict(kind="RNNCell", features=5, hidden=7, nonlinearity="relu"), [x(3, 5), x(3, 7)]),
    ("GRUCell on data", dict(kind="GRUCell", features=5, hidden=4, front=False), [x(3, 5)]),
    ("LSTMCell with h, c", dict(kind="LSTMCell", features=5, hidden=4), [x(2, 5), x(2, 4), x(2, 4)]),
    ("LSTMCell unbatched", dict(kind="LSTMCell", features=5, hidden=4), [x(5)]),
]


@pytest.mark.parametrize("name, kwargs, inputs", CELLS, ids=[case[0] for case in CELLS])
def test_recurrent_cells_match_pytorch(name, kwargs, inputs):
    check(lambda lib: cell(lib, **kwargs), (), inputs, grad_inputs=tuple(range(1, len(inputs))))


# ---------------------------------------------------------------------- functional attention and transformers


def self_attention_block(lib, width, heads, causal=True, tied_keys=False):
    """A block whose own code calls F.scaled_dot_product_attention (not a module)."""
    functional = lib.nn.functional

    class Block(lib.nn.Module):
        def __init__(self):
            super().__init__()
            self.qkv = lib.nn.Linear(width, 3 * width)
            self.proj = lib.nn.Linear(width, width)

        def forward(self, x):
            b, t, c = x.shape
            q, k, v = (part.reshape(b, t, heads, c // heads).transpose(1, 2) for part in self.qkv(x).split(c, dim=2))
            y = functional.scaled_dot_product_attention(q, k, v, is_causal=causal)
            return self.proj(y.transpose(1, 2).reshape(b, t, c))

    return Block()


def test_functional_attention_in_a_custom_block():
    count = check(lambda lib: self_attention_block(lib, 8, 2), (), [x(2, 6, 8)])
    rows = {row.type: row for row in count.layers}
    attention = rows["scaled_dot_product_attention"]
    assert attention.name == "Block:scaled_dot_product_attention"  # the root module's own call
    assert attention.forward_matmul == 2 * 2 * 2 * 6 * 6 * 4 * 2


def test_functional_attention_on_data_counts_no_backward():
    def build(lib):
        class Attend(lib.nn.Module):
            def forward(self, q, k, v):
                return lib.nn.functional.scaled_dot_product_attention(q, k, v)
        return Attend()

    ours = build(cr)
    inputs = [x(2, 3, 5, 4), x(2, 3, 7, 4), x(2, 3, 7, 6)]
    count = compute.count_flops(ours, tuple(inputs))
    assert count.forward_matmul_flops == 2 * 6 * 5 * 7 * (4 + 6)
    assert count.backward_matmul_flops == 0
    for needs, expected in [((2,), 2 * 6 * 5 * 7 * 6), ((0,), 2 * 6 * 5 * 7 * (6 + 4)),
                            ((0, 1, 2), 2 * 6 * 5 * 7 * (6 + 6 + 4 + 4))]:
        assert torch_counts(build(torch), [to_torch(t) for t in inputs], needs)[1] == expected
        assert ours_counts(ours, tuple(inputs), needs).backward_matmul_flops == expected


TRANSFORMERS = [
    ("encoder layer post-norm", lambda lib: lib.nn.TransformerEncoderLayer(8, 2, 16, batch_first=True),
     [x(2, 5, 8)]),
    ("encoder layer pre-norm gelu", lambda lib: lib.nn.TransformerEncoderLayer(
        8, 4, 12, dropout=0.0, activation="gelu", norm_first=True), [x(5, 2, 8)]),
    ("decoder layer", lambda lib: lib.nn.TransformerDecoderLayer(8, 2, 16, batch_first=True),
     [x(2, 5, 8), x(2, 7, 8)]),
    ("encoder stack with a final norm", lambda lib: lib.nn.TransformerEncoder(
        lib.nn.TransformerEncoderLayer(8, 2, 16), 3, lib.nn.LayerNorm(8)), [x(5, 2, 8)]),
    ("encoder-decoder Transformer", lambda lib: lib.nn.Transformer(8, 2, 2, 2, 16, batch_first=True),
     [x(2, 5, 8), x(2, 4, 8)]),
]


@pytest.mark.parametrize("name, build, inputs", TRANSFORMERS, ids=[case[0] for case in TRANSFORMERS])
def test_transformer_layers_match_pytorch(name, build, inputs):
    count = check(build, (), inputs)
    assert not count.notes


def test_decoder_with_a_memory_that_needs_a_gradient():
    build = TRANSFORMERS[2][1]
    check(build, (), TRANSFORMERS[2][2], grad_inputs=(1,))


# ---------------------------------------------------------------------- whole architectures


def cifar_resnet(lib, widths=(8, 16), blocks=1, classes=10):
    """A small CIFAR ResNet (He et al. 2016, section 4.2): conv-BN-ReLU stem, basic blocks with
    a 1x1 strided projection where the shape changes, global average pooling, a linear head."""
    nn = lib.nn

    class Basic(nn.Module):
        def __init__(self, cin, cout, stride):
            super().__init__()
            self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
            self.bn1 = nn.BatchNorm2d(cout)
            self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
            self.bn2 = nn.BatchNorm2d(cout)
            self.relu = nn.ReLU()
            self.downsample = None
            if stride != 1 or cin != cout:
                self.downsample = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))

        def forward(self, x):
            out = self.relu(self.bn1(self.conv1(x)))
            out = self.bn2(self.conv2(out))
            return self.relu(out + (x if self.downsample is None else self.downsample(x)))

    class ResNet(nn.Module):
        def __init__(self):
            super().__init__()
            self.stem = nn.Sequential(nn.Conv2d(3, widths[0], 3, 1, 1, bias=False), nn.BatchNorm2d(widths[0]),
                                      nn.ReLU(), nn.MaxPool2d(3, 2, 1))
            layers, cin = [], widths[0]
            for i, width in enumerate(widths):
                for j in range(blocks):
                    layers.append(Basic(cin, width, 2 if i > 0 and j == 0 else 1))
                    cin = width
            self.layers = nn.Sequential(*layers)
            self.pool = nn.AdaptiveAvgPool2d(1)
            self.fc = nn.Linear(cin, classes)

        def forward(self, x):
            return self.fc(self.pool(self.layers(self.stem(x))).flatten(1))

    return ResNet()


def encoder_classifier(lib, vocabulary=20, width=16, heads=4, layers=2, length=12):
    """Token and learned position embeddings, a post-norm encoder stack, a linear head on the mean."""
    nn = lib.nn

    class Encoder(nn.Module):
        def __init__(self):
            super().__init__()
            self.tokens = nn.Embedding(vocabulary, width)
            self.positions = nn.Embedding(length, width)
            self.encoder = nn.TransformerEncoder(nn.TransformerEncoderLayer(width, heads, 2 * width, dropout=0.1,
                                                                            activation="gelu", batch_first=True),
                                                 layers)
            self.head = nn.Linear(width, 3)

        def forward(self, ids):
            positions = lib.arange(ids.shape[1])
            return self.head(self.encoder(self.tokens(ids) + self.positions(positions)).mean(dim=1))

    return Encoder()


def gpt(lib, vocabulary=23, width=16, heads=4, layers=2, length=10):
    """A causal decoder-only GPT: token and position embeddings, pre-norm blocks of causal
    F.scaled_dot_product_attention and a GELU MLP, a final LayerNorm, the output head tied to the
    token embedding (F.linear with its weight)."""
    nn, functional = lib.nn, lib.nn.functional

    class Block(nn.Module):
        def __init__(self):
            super().__init__()
            self.ln_1, self.ln_2 = nn.LayerNorm(width), nn.LayerNorm(width)
            self.attn = self_attention_block(lib, width, heads)
            self.mlp = nn.Sequential(nn.Linear(width, 4 * width), nn.GELU(approximate="tanh"),
                                     nn.Linear(4 * width, width), nn.Dropout(0.1))

        def forward(self, x):
            x = x + self.attn(self.ln_1(x))
            return x + self.mlp(self.ln_2(x))

    class GPT(nn.Module):
        def __init__(self):
            super().__init__()
            self.wte, self.wpe = nn.Embedding(vocabulary, width), nn.Embedding(length, width)
            self.h = nn.ModuleList([Block() for _ in range(layers)])
            self.ln_f = nn.LayerNorm(width)

        def forward(self, ids):
            x = self.wte(ids) + self.wpe(lib.arange(ids.shape[1]))
            for block in self.h:
                x = block(x)
            return functional.linear(self.ln_f(x), self.wte.weight)

    return GPT()


def language_model(lib, kind, vocabulary=17, width=8, hidden=12):
    nn = lib.nn

    class Model(nn.Module):
        def __init__(self):
            super().__init__()
            self.embed = nn.Embedding(vocabulary, width)
            self.rnn = getattr(nn, kind)(width, hidden, num_layers=2, batch_first=True, dropout=0.2)
            self.head = nn.Linear(hidden, vocabulary)

        def forward(self, ids):
            return self.head(self.rnn(self.embed(ids))[0])

    return Model()


def conv_decoder(lib):
    nn = lib.nn
    return nn.Sequential(nn.Linear(6, 32), nn.Unflatten(1, (8, 2, 2)), nn.ConvTranspose2d(8, 6, 4, 2, 1),
                         nn.BatchNorm2d(6), nn.LeakyReLU(0.2), nn.Upsample(scale_factor=2),
                         nn.ConvTranspose2d(6, 3, 3, 1, 1), nn.Sigmoid())


ARCHITECTURES = [
    ("CIFAR ResNet", cifar_resnet, [x(2, 3, 16, 16)]),
    ("transformer encoder stack", encoder_classifier, [tokens(20, 3, 12)]),
    ("GPT with tied embeddings", gpt, [tokens(23, 2, 10)]),
    ("LSTM language model", lambda lib: language_model(lib, "LSTM"), [tokens(17, 3, 9)]),
    ("GRU language model", lambda lib: language_model(lib, "GRU"), [tokens(17, 3, 9)]),
    ("convolutional decoder", conv_decoder, [x(4, 6)]),
]


@pytest.mark.parametrize("name, build, inputs", ARCHITECTURES, ids=[case[0] for case in ARCHITECTURES])
@pytest.mark.parametrize("train", [True, False], ids=["train", "eval"])
def test_architectures_match_pytorch(name, build, inputs, train):
    count = check(build, (), inputs, train=train)
    assert count.forward_matmul_flops > 0 and count.backward_matmul_flops > count.forward_matmul_flops
    assert not count.notes and not count.uncounted


def test_gpt_counts_the_tied_head_and_the_attention_products():
    vocabulary, width, layers, length, batch = 23, 16, 2, 10, 2
    count = check(gpt, (), [tokens(vocabulary, batch, length)])
    rows = batch * length
    per_layer = 2 * rows * width * (3 * width + width + 4 * width + 4 * width)
    attention = 2 * 2 * batch * length * length * width
    head = 2 * rows * width * vocabulary
    assert count.forward_matmul_flops == layers * (per_layer + attention) + head
    types = [row.type for row in count.layers]
    assert types.count("scaled_dot_product_attention") == layers
    assert [row.name for row in count.layers[-3:]] == ["ln_f", "GPT:linear", "GPT"]  # the head, then the root's add
    assert count.layers[-2].forward_matmul == head and count.layers[-1].forward_elementwise == rows * width
    assert count.params == vocabulary * width + length * width + layers * (
        4 * width + 3 * width * width + 3 * width + width * width + width + 8 * width * width + 5 * width) + 2 * width
