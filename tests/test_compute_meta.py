"""Shape-only models (chainrule.compute.meta_init) and the presets built from layers."""
from __future__ import annotations

import copy
import time
import tracemalloc

import numpy as np
import pytest

import chainrule as cr
from chainrule import compute, models, nn, optim
from chainrule.compute.architectures import Bert
from chainrule.compute.layer_rules import tensors_in
from chainrule.compute.meta import meta_tensor
from chainrule.compute.observe import LAYER_RULES

# ---------------------------------------------------------------------- construction


def test_meta_init_allocates_nothing_and_draws_no_random_numbers():
    cr.manual_seed(3)
    expected = cr.rand(3).numpy()
    cr.manual_seed(3)
    tracemalloc.start()
    try:
        with compute.meta_init():
            layer = nn.Linear(100_000, 100_000)  # 4e10 bytes if it were allocated
            norm = nn.LayerNorm(100_000)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 1e6
    np.testing.assert_array_equal(cr.rand(3).numpy(), expected)  # the initializers drew nothing
    weight = layer.weight
    assert weight.shape == (100_000, 100_000) and weight.dtype == cr.float32 and weight.requires_grad
    assert isinstance(weight.data, compute.MetaArray) and weight.data.strides == (0, 0)
    assert compute.is_meta(layer) and compute.is_meta(weight) and not compute.is_meta(nn.Linear(2, 2))
    assert compute.is_meta(norm) and sum(p.numel() for p in layer.parameters()) == 100_000 * 100_001
    assert not isinstance(cr.zeros(3).data, compute.MetaArray)  # only inside the block


def test_meta_models_have_the_real_models_parameters_and_state_dict():
    builders = [lambda: models.gpt(31, 12, 2, 2, 8), lambda: models.resnet(8), tiny_bert,
                lambda: nn.LSTM(4, 6, num_layers=2, bidirectional=True, proj_size=3),
                lambda: nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.Embedding(7, 3, padding_idx=0))]
    for build in builders:
        real = build()
        with compute.meta_init():
            meta = build()
        real_state, meta_state = real.state_dict(), meta.state_dict()
        assert list(real_state) == list(meta_state)
        for key, value in real_state.items():
            assert (meta_state[key].shape, meta_state[key].dtype) == (value.shape, value.dtype), key


def test_deep_copies_inside_meta_init_stay_meta_and_casts_keep_meta():
    with compute.meta_init():
        encoder = nn.TransformerEncoder(nn.TransformerEncoderLayer(64, 4, 128), 3)  # deep-copies its layer
    weights = [p.data for p in encoder.parameters()]
    assert all(isinstance(w, compute.MetaArray) for w in weights)
    assert all(w.strides == (0,) * w.ndim for w in weights)
    encoder.to(cr.float64)
    assert all(isinstance(p.data, compute.MetaArray) and p.dtype == cr.float64 for p in encoder.parameters())
    ordinary = copy.deepcopy(encoder)  # outside the block: an ordinary model of zeros
    assert not compute.is_meta(ordinary)
    assert float(ordinary.layers[0].linear1.weight.abs().sum().item()) == 0.0


def tiny_bert():
    return Bert(vocab=40, width=16, layers=2, heads=2, hidden=32, positions=12)


# ---------------------------------------------------------------------- what a meta model refuses


@pytest.fixture(scope="module")
def meta_gpt():
    with compute.meta_init():
        return models.gpt(31, 12, 2, 2, 8)


@pytest.mark.parametrize("use", [
    lambda m: m(cr.zeros(1, 4, dtype=cr.int64)),
    lambda m: optim.SGD(m.parameters(), lr=0.1),
    lambda m: optim.AdamW(m.parameters()),
    lambda m: m.load_state_dict(models.gpt(31, 12, 2, 2, 8).state_dict()),
    lambda m: m.head.weight.data.__iadd__(1.0),
    lambda m: m.norm.weight.data.__setitem__(0, 2.0),
    lambda m: m.norm.weight.sum(),
], ids=["forward", "SGD", "AdamW", "load_state_dict", "in-place update", "assignment", "arithmetic"])
def test_a_meta_model_refuses_ordinary_use(meta_gpt, use):
    with pytest.raises(RuntimeError, match=r"made under chainrule\.compute\.meta_init\(\): it holds no values"):
        use(meta_gpt)


def test_count_flops_will_not_run_a_meta_model(meta_gpt):
    with pytest.raises(ValueError, match="built under meta_init"):
        compute.count_flops(meta_gpt, cr.zeros(1, 4, dtype=cr.int64), shape_only=False)


# ---------------------------------------------------------------------- counting shape-only


COUNTED = [
    ("GPT", lambda: models.gpt(31, 12, 2, 2, 8, dropout=0.1), lambda: cr.randint(0, 31, (3, 12))),
    ("CIFAR ResNet", lambda: models.resnet(8), lambda: cr.randn(2, 3, 16, 16)),
    ("BERT", tiny_bert, lambda: cr.randint(0, 40, (2, 12))),
    ("text classifier, GRU", lambda: models.text_classifier(30, 3, width=16, encoder="gru"),
     lambda: cr.tensor([[3, 4, 5, 6, 0, 0, 0], [1, 2, 3, 4, 5, 6, 7], [9, 0, 0, 0, 0, 0, 0], [5, 5, 5, 0, 0, 0, 0]])),
    ("text classifier, transformer", lambda: models.text_classifier(30, 3, width=16, heads=2, context=8),
     lambda: cr.randint(1, 30, (4, 7))),
    ("LSTM", lambda: nn.Sequential(nn.Linear(5, 5), nn.LSTM(5, 6, 2, bidirectional=True, proj_size=2)),
     lambda: cr.randn(7, 3, 5)),
]


@pytest.mark.parametrize("name, build, example", COUNTED, ids=[case[0] for case in COUNTED])
@pytest.mark.parametrize("train", [True, False], ids=["train", "eval"])
def test_a_meta_model_counts_as_the_real_model(name, build, example, train):
    x = example()
    real = build().train(train)
    with compute.meta_init():
        meta = build()
    meta.train(train)
    counted, shape_only = compute.count_flops(real, x), compute.count_flops(meta, x)
    assert shape_only.shape_only and not counted.shape_only
    assert [row.as_dict() for row in shape_only.layers] == [row.as_dict() for row in counted.layers]
    assert shape_only.totals() == counted.totals() and shape_only.params == counted.params
    assert shape_only.notes == counted.notes


class _Call(nn.Module):
    """Calls its layer with keyword arguments (what a shape rule must read like the layer)."""

    def __init__(self, layer, **kwargs):
        super().__init__()
        self.layer, self.kwargs = layer, kwargs

    def forward(self, x):
        out = self.layer(x, **self.kwargs)
        return out[0] if isinstance(out, tuple) else out


SHAPES = [
    (nn.ConvTranspose2d(3, 4, 3, stride=2), dict(output_size=(10, 10)), (2, 3, 4, 4)),
    (nn.MaxPool2d(3, 2, 1, ceil_mode=True, return_indices=True), {}, (2, 3, 8, 7)),
    (nn.MaxPool1d(3, 2, dilation=2), {}, (2, 3, 15)),
    (nn.AvgPool1d(4, 3, 1, ceil_mode=True), {}, (2, 3, 14)),
    (nn.AdaptiveAvgPool2d((None, 3)), {}, (2, 3, 7, 8)),
    (nn.Upsample(size=(5, 7)), {}, (1, 2, 3, 3)),
    (nn.Upsample(scale_factor=1.5), {}, (1, 2, 6)),
    (nn.Conv1d(3, 6, 4, stride=3, padding="valid", groups=3), {}, (2, 3, 20)),
    (nn.Conv2d(3, 6, 3, padding=1, padding_mode="circular"), {}, (3, 6, 6)),
    (nn.Unflatten(1, (2, -1)), {}, (4, 6)),
    (nn.Flatten(0, 1), {}, (4, 3, 2)),
    (nn.PolynomialFeatures(3), {}, (5, 2)),
    (nn.MultiheadAttention(8, 2, add_bias_kv=True, batch_first=True), dict(average_attn_weights=False), (2, 5, 8)),
    (nn.GRU(4, 3, batch_first=True, bidirectional=True), {}, (2, 6, 4)),
    (nn.LSTMCell(4, 3), {}, (4,)),
    (nn.RNNCell(4, 3, nonlinearity="relu"), {}, (2, 4)),
    (nn.LogSoftmax(dim=1), {}, (3, 4, 2)),
]


@pytest.mark.parametrize("layer, kwargs, shape", SHAPES, ids=[type(case[0]).__name__ for case in SHAPES])
def test_shape_rules_give_the_layers_output_shapes(layer, kwargs, shape):
    x = cr.randn(*shape)
    args = (x, x, x) if isinstance(layer, nn.MultiheadAttention) else (x,)
    real = tensors_in(layer(*args, **kwargs))
    stand_in = meta_tensor(shape)
    meta_args = tuple(stand_in for _ in args)
    meta = tensors_in(LAYER_RULES[type(layer).__name__].meta(layer, meta_args, kwargs))
    assert [(t.shape, t.dtype) for t in meta] == [(t.shape, t.dtype) for t in real]
    assert all(t.data.strides == (0,) * t.ndim for t in meta if t.ndim and t.numel() > 1)
    model = _Call(layer, **kwargs)
    if not isinstance(layer, nn.MultiheadAttention):
        counted, shape_only = compute.count_flops(model, x), compute.count_flops(model, x, shape_only=True)
        assert [row.as_dict() for row in shape_only.layers] == [row.as_dict() for row in counted.layers]


def test_a_shape_stands_for_an_input():
    model = nn.Sequential(nn.Conv2d(3, 8, 3), nn.ReLU(), nn.Flatten(), nn.Linear(8 * 6 * 6, 4))
    by_shape = compute.count_flops(model, (5, 3, 8, 8))
    by_tensor = compute.count_flops(model, cr.randn(5, 3, 8, 8))
    assert by_shape.totals() == by_tensor.totals() and by_shape.batch_size == 5


def test_shape_only_counting_does_not_run_the_layers():
    model = nn.Sequential(nn.Linear(4, 4), nn.BatchNorm1d(4))
    before = model[1].running_mean.numpy().copy()
    count = compute.count_flops(model, cr.randn(8, 4), shape_only=True)
    assert count.shape_only and int(model[1].num_batches_tracked.item()) == 0
    np.testing.assert_array_equal(model[1].running_mean.numpy(), before)


# ---------------------------------------------------------------------- the presets' networks


def test_resnet50_is_torchvisions():
    count = compute.counted_preset_model("resnet50-imagenet")
    assert count.params == compute.architectures.RESNET50_PARAMS == 25_557_032
    assert count.forward_macs == 4_089_184_256  # torchvision and fvcore: 4.09e9
    assert round(count.forward_macs / 1e9, 2) == 4.09
    assert count.layers[0].name == "conv1" and count.layers[-1].name == "fc"


def test_bert_base_has_bert_base_uncased_parameters():
    with compute.meta_init():
        model = compute.bert_base()
    assert sum(p.numel() for p in model.parameters()) == compute.architectures.BERT_BASE_PARAMS == 109_482_240


@pytest.mark.parametrize("length", [128, 512])
def test_bert_products_per_token(length):
    count = compute.counted_preset_model("bert-base", length)
    layers, width = 12, 768
    expected = length * (24 * layers * width ** 2 + 4 * layers * length * width) + 2 * width * width  # + pooler
    assert count.forward_matmul_flops == expected
    assert not count.uncounted and not count.notes


def test_gpt3_shape_only():
    vocab, context, layers, heads, width = compute.GPT3_SHAPE
    tracemalloc.start()
    start = time.perf_counter()
    try:
        with compute.meta_init():
            model = models.gpt(vocab, context, layers, heads, width)
        count = compute.count_flops(model, cr.zeros(1, context, dtype=cr.int64))
        seconds, peak = time.perf_counter() - start, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert seconds < 10 and peak < 100e6  # measured: about 0.4 s and 25 MB on a 2-core CPU
    params = 12 * layers * width ** 2 + 13 * layers * width + (vocab + context) * width + 2 * width
    assert count.params == params == 174_604_259_328  # tied output layer
    assert f"{params + vocab * width:.4g}" == "1.752e+11"  # an untied one: the 175.2e9 often quoted
    products = context * (24 * layers * width ** 2 + 4 * layers * context * width + 2 * width * vocab)
    assert count.forward_matmul_flops == products
    assert count.backward_matmul_flops == 2 * products  # every operand of every product needs a gradient
    per_token = count.training_flops / context
    assert 1.0 < per_token / (6 * params) < 1.05
    assert not count.uncounted and not count.notes
