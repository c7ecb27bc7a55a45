"""chainrule.compute counting: FLOPs of layers against hand counts and PyTorch's counter."""
from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
from chainrule import compute, nn

# ---------------------------------------------------------------------- Linear and MLP by hand


@pytest.mark.parametrize("shape, fan_in, fan_out, bias", [
    ((4, 5), 5, 3, True),
    ((4, 5), 5, 3, False),
    ((2, 4, 5), 5, 7, True),   # leading dims multiply: 8 rows
    ((1, 1), 1, 1, True),
])
def test_linear_counts_equal_hand_computed_values(shape, fan_in, fan_out, bias):
    rows = int(np.prod(shape[:-1]))
    layer = nn.Linear(fan_in, fan_out, bias=bias)
    count = compute.count_flops(layer, cr.randn(*shape))
    (row,) = count.layers
    macs = rows * fan_in * fan_out
    assert row.forward_macs == macs
    assert row.forward_matmul == 2 * macs
    assert row.forward_elementwise == (rows * fan_out if bias else 0)
    assert row.backward_matmul == 2 * macs  # dW only: the input is data
    assert row.backward_reduction == (rows * fan_out if bias else 0)
    assert row.params == fan_in * fan_out + (fan_out if bias else 0)
    assert count.params == row.params
    assert count.batch_size == shape[0]


def test_mlp_counts_equal_hand_computed_values():
    batch, sizes = 32, [784, 256, 256, 10]
    model = nn.MLP(sizes)
    count = compute.count_flops(model, cr.randn(batch, 784))
    pairs = list(zip(sizes[:-1], sizes[1:]))
    weights = [i * o for i, o in pairs]
    totals = count.totals()
    assert totals["forward_macs"] == batch * sum(weights)
    assert totals["forward_matmul_flops"] == 2 * batch * sum(weights)
    # bias adds of the three Linear layers + one op per ReLU element
    assert totals["forward_elementwise_flops"] == batch * (256 + 256 + 10) + 2 * batch * 256
    # dW for every layer, dx for all but the first
    assert totals["backward_matmul_flops"] == 2 * batch * sum(weights) + 2 * batch * sum(weights[1:])
    assert totals["backward_elementwise_flops"] == 2 * batch * 256
    assert totals["backward_reduction_flops"] == batch * (256 + 256 + 10)
    assert count.params == 784 * 256 + 256 + 256 * 256 + 256 + 256 * 10 + 10 == 269_322
    assert count.activation_bytes == 4 * batch * (784 + 256 + 256 + 256 + 256 + 10)
    assert count.training_flops == totals["forward_flops"] + totals["backward_flops"]
    assert count.training_flops_per_example == count.training_flops / batch
    assert [layer.type for layer in count.layers] == ["Linear", "ReLU", "Linear", "ReLU", "Linear"]
    assert list(count.to_frame()["layer"]) == ["layers.0", "layers.1", "layers.2", "layers.3", "layers.4"]


def test_matmul_flops_match_pytorch_flop_counter():
    torch = pytest.importorskip("torch")
    from torch.utils.flop_counter import FlopCounterMode

    batch = 16
    reference = torch.nn.Sequential(
        torch.nn.Linear(30, 64), torch.nn.ReLU(), torch.nn.Linear(64, 48), torch.nn.Tanh(),
        torch.nn.Linear(48, 5),
    )
    x = torch.randn(batch, 30)
    with FlopCounterMode(display=False) as counter:
        reference(x).sum().backward()
    ours = compute.count_flops(
        nn.Sequential(nn.Linear(30, 64), nn.ReLU(), nn.Linear(64, 48), nn.Tanh(), nn.Linear(48, 5)),
        cr.randn(batch, 30),
    )
    totals = ours.totals()
    expected = counter.get_total_flops()
    assert expected == 2 * batch * (30 * 64 + 64 * 48 + 48 * 5) + 2 * batch * (30 * 64 + 2 * (64 * 48 + 48 * 5))
    assert totals["forward_matmul_flops"] + totals["backward_matmul_flops"] == expected


def test_six_nd_rule():
    assert compute.six_nd(175e9, 300e9) == pytest.approx(3.15e23, rel=1e-12)
    assert compute.training_flops(params=175e9, tokens=300e9) == compute.six_nd(175e9, 300e9)
    assert compute.training_flops(params=1e6, tokens=1e4, epochs=3) == 6 * 1e6 * 1e4 * 3
    # Counted matmul FLOPs of a bias-free Linear stack: 6·N·B minus the first layer's dx.
    batch, sizes = 8, [16, 512, 512, 512]
    model = nn.Sequential(*[nn.Linear(i, o, bias=False) for i, o in zip(sizes[:-1], sizes[1:])])
    count = compute.count_flops(model, cr.randn(batch, 16))
    first = 16 * 512
    assert count.training_flops == 6 * batch * count.params - 2 * batch * first
    assert count.six_nd_ratio() == pytest.approx(1 - first / (3 * count.params))
    assert 0.99 < count.six_nd_ratio() < 1


def test_training_flops_by_counting_scales_with_samples_and_epochs():
    model = nn.MLP([10, 20, 3])
    x = cr.randn(5, 10)
    per_example = compute.count_flops(model, x).training_flops_per_example
    assert compute.training_flops(model=model, example_input=x, samples=1000, epochs=2) == per_example * 2000


@pytest.mark.parametrize("kwargs, message", [
    ({}, "neither"),
    ({"params": 1e6, "tokens": 1e6, "samples": 3}, "both"),
    ({"params": 1e6}, "needs both"),
    ({"samples": 10}, "counting needs"),
    ({"params": -1.0, "tokens": 1e6}, "params must be a positive"),
    ({"params": 1e6, "tokens": 1e6, "epochs": 0}, "epochs must be a positive"),
])
def test_training_flops_rejects_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        compute.training_flops(**kwargs)


# ---------------------------------------------------------------------- other layers


@pytest.mark.parametrize("layer, forward, backward", [
    (nn.ReLU(), 1, 1),
    (nn.LeakyReLU(0.1), 2, 2),
    (nn.Sigmoid(), 4, 3),
    (nn.Tanh(), 1, 3),
    (nn.GELU(), 5, 11),
    (nn.GELU(approximate="tanh"), 9, 14),
])
def test_activation_rules(layer, forward, backward):
    batch, width = 6, 7
    count = compute.count_flops(nn.Sequential(nn.Linear(3, width), layer), cr.randn(batch, 3))
    row = count.layers[1]
    n = batch * width
    assert (row.forward_elementwise, row.backward_elementwise) == (forward * n, backward * n)
    assert row.forward_matmul == row.backward_matmul == 0


def test_activation_on_the_input_has_no_backward_work():
    count = compute.count_flops(nn.Sequential(nn.Tanh(), nn.Linear(4, 2)), cr.randn(3, 4))
    assert count.layers[0].forward_elementwise == 12
    assert count.layers[0].backward_flops == 0


@pytest.mark.parametrize("layer, per_row_log", [(nn.Softmax(dim=-1), 0), (nn.LogSoftmax(dim=1), 1)])
def test_softmax_rules(layer, per_row_log):
    batch, width = 4, 5
    row = compute.count_flops(nn.Sequential(nn.Linear(2, width), layer), cr.randn(batch, 2)).layers[1]
    n = batch * width
    assert row.forward_elementwise == 3 * n + per_row_log * batch
    assert row.forward_reduction == 2 * n
    assert (row.backward_elementwise, row.backward_reduction) == (3 * n, n)


def test_dropout_counts_in_training_mode_only():
    model = nn.Sequential(nn.Linear(3, 10), nn.Dropout(0.5))
    x = cr.randn(4, 3)
    training = compute.count_flops(model, x).layers[1]
    assert (training.forward_elementwise, training.backward_elementwise) == (80, 40)
    model.eval()
    evaluation = compute.count_flops(model, x).layers[1]
    assert evaluation.forward_flops == evaluation.backward_flops == 0


def test_batchnorm_rules_and_running_statistics_are_restored():
    batch, channels = 8, 6
    model = nn.Sequential(nn.Linear(3, channels), nn.BatchNorm1d(channels))
    bn = model[1]
    before = (bn.running_mean.numpy().copy(), bn.running_var.numpy().copy(), int(bn.num_batches_tracked.item()))
    row = compute.count_flops(model, cr.randn(batch, 3)).layers[1]
    n = batch * channels
    assert row.forward_elementwise == 4 * n + channels + 2 * n
    assert row.forward_reduction == 2 * n
    assert (row.backward_elementwise, row.backward_reduction) == (6 * n, 2 * n)
    assert row.params == 2 * channels
    np.testing.assert_array_equal(bn.running_mean.numpy(), before[0])
    np.testing.assert_array_equal(bn.running_var.numpy(), before[1])
    assert int(bn.num_batches_tracked.item()) == before[2]
    model.eval()
    row = compute.count_flops(model, cr.randn(batch, 3)).layers[1]
    assert (row.forward_elementwise, row.forward_reduction) == (4 * n, 0)
    assert (row.backward_elementwise, row.backward_reduction) == (2 * n, 2 * n)


def test_counting_leaves_the_random_generator_and_the_model_untouched():
    model = nn.MLP([5, 8, 2], dropout=0.5)
    x = cr.randn(3, 5)
    cr.manual_seed(7)
    expected = cr.rand(4).numpy()
    cr.manual_seed(7)
    compute.count_flops(model, x)
    np.testing.assert_array_equal(cr.rand(4).numpy(), expected)
    assert all("forward" not in module.__dict__ for module in model.modules())


def test_flatten_identity_and_polynomial_features():
    model = nn.Sequential(nn.Flatten(), nn.PolynomialFeatures(2), nn.Identity(), nn.Linear(5, 1))
    count = compute.count_flops(model, cr.randn(3, 2, 1))
    flatten, poly, identity, linear = count.layers
    assert flatten.forward_flops == identity.forward_flops == 0
    # features x1, x2, x1^2, x1 x2, x2^2: three products per row, no gradient to the data
    assert (poly.forward_elementwise, poly.backward_elementwise) == (3 * 3, 0)
    assert linear.forward_macs == 3 * 5


class _Scale(nn.Module):
    def forward(self, x):
        return x * 2.0


class _Sort(nn.Module):
    def forward(self, x):
        return x.sort(dim=-1)[0]


class _Residual(nn.Module):
    def __init__(self):
        super().__init__()
        self.inner = nn.Linear(4, 4)

    def forward(self, x):
        return x + self.inner(x)


def test_a_module_without_a_rule_is_counted_by_its_ops():
    count = compute.count_flops(nn.Sequential(nn.Linear(4, 4), _Scale()), cr.randn(2, 4))
    assert not count.uncounted
    row = count.layers[1]
    assert (row.name, row.type, row.note) == ("1", "_Scale (ops)", "ops: mul")
    assert (row.forward_elementwise, row.backward_elementwise) == (8, 8)  # x·2 and its gradient g·2


def test_ops_without_a_rule_are_reported_not_counted():
    count = compute.count_flops(nn.Sequential(nn.Linear(4, 4), _Sort()), cr.randn(2, 4))
    assert count.uncounted == ["1"]
    row = count.layers[1]
    assert not row.counted and "not counted (no FLOP rule): sort" in row.note
    assert row.forward_flops == row.backward_flops == 0
    assert count.forward_flops == count.layers[0].forward_flops


def test_the_arithmetic_of_containers_is_counted():
    count = compute.count_flops(nn.Sequential(_Residual()), cr.randn(2, 4))
    assert [(row.name, row.type) for row in count.layers] == [("0.inner", "Linear"), ("0", "_Residual (ops)")]
    add = count.layers[1]
    assert (add.forward_elementwise, add.backward_flops, add.note) == (8, 0, "ops: add")
    assert not count.notes


@pytest.mark.parametrize("model, x, error, message", [
    ("not a module", cr.randn(2, 2), TypeError, "model must be a chainrule.nn.Module"),
    (nn.Linear(2, 2), np.ones((2, 2)), TypeError, "example_input must be a Tensor"),
    (nn.Linear(2, 2), (2, -1), ValueError, "negative sizes"),
    (nn.Linear(2, 2), (), TypeError, "example_input must be a Tensor"),
    (nn.Linear(2, 2), cr.tensor(1.0), TypeError, "0-d Tensor"),
    (nn.Linear(2, 2), cr.zeros(0, 2), ValueError, "at least one example"),
])
def test_count_flops_rejects_bad_input(model, x, error, message):
    with pytest.raises(error, match=message):
        compute.count_flops(model, x)


class _Skips(nn.Module):
    def __init__(self):
        super().__init__()
        self.used, self.unused = nn.Linear(4, 2), nn.Linear(4, 2)

    def forward(self, x):
        return self.used(x)


def test_leaves_the_forward_pass_never_calls_are_noted():
    count = compute.count_flops(_Skips(), cr.randn(3, 4))
    assert [layer.name for layer in count.layers] == ["used"]
    assert any(note.startswith("unused (Linear) was not called") for note in count.notes)
    assert count.params == 2 * (4 * 2 + 2)


# ---------------------------------------------------------------------- the other layers by hand


def _row(layer, x):
    """The row of ``layer`` applied to data (its input needs no gradient)."""
    return compute.count_flops(nn.Sequential(layer), x).layers[0]


@pytest.mark.parametrize("layer, shape, expected", [
    # n = 2·3·4·5 = 120 elements, R = 24 rows of 5 (LayerNorm), 2·1 groups (GroupNorm)
    (nn.LayerNorm(5), (2, 3, 4, 5), dict(forward_elementwise=4 * 120 + 24 + 240, forward_reduction=240,
                                         backward_elementwise=120, backward_reduction=240)),
    (nn.GroupNorm(1, 3), (2, 3, 4, 5), dict(forward_elementwise=4 * 120 + 2 + 240, forward_reduction=240,
                                            backward_elementwise=120, backward_reduction=240)),
    (nn.RMSNorm(5), (2, 3, 4, 5), dict(forward_elementwise=2 * 120 + 24 + 120, forward_reduction=120,
                                       backward_elementwise=120, backward_reduction=120)),
    (nn.MaxPool2d(2), (2, 3, 4, 6), dict(forward_reduction=36 * 4)),
    (nn.AvgPool2d(3, stride=1, padding=1), (1, 2, 4, 4), dict(forward_reduction=32 * 9, forward_elementwise=32)),
    # windows of 5 rows into 3: rows 0-1, 1-3, 3-4 (2 + 3 + 2 = 7 taps); 4 columns into 2: 2 + 2
    (nn.AdaptiveAvgPool2d((3, 2)), (2, 3, 5, 4), dict(forward_reduction=6 * 7 * 4, forward_elementwise=6 * 6)),
    (nn.Upsample(scale_factor=2), (1, 2, 3, 3), dict()),
    (nn.Dropout2d(0.5), (2, 3, 4, 4), dict(forward_elementwise=2 * 6 + 96)),
    (nn.SiLU(), (4, 5), dict(forward_elementwise=100)),
    (nn.Conv2d(2, 4, 3, padding=1), (1, 2, 5, 5), dict(forward_matmul=2 * 100 * 18, forward_elementwise=100,
                                                       backward_matmul=2 * 100 * 18, backward_reduction=100)),
])
def test_layer_rules_by_hand(layer, shape, expected):
    row = _row(layer, cr.randn(*shape))
    keys = ("forward_matmul", "forward_elementwise", "forward_reduction", "backward_matmul",
            "backward_elementwise", "backward_reduction")
    assert {key: getattr(row, key) for key in keys} == {key: expected.get(key, 0) for key in keys}


def test_embedding_is_memory_traffic_not_arithmetic():
    vocabulary, dim = 50, 8
    count = compute.count_flops(nn.Embedding(vocabulary, dim), cr.randint(0, vocabulary, (3, 7)))
    (row,) = count.layers
    rows = 21
    assert row.forward_flops == row.forward_matmul == row.backward_matmul == 0
    assert row.forward_memory_bytes == 2 * rows * dim * 4
    assert row.backward_elementwise == rows * dim  # the scatter-add of the gradient rows
    assert row.backward_memory_bytes == (3 * rows * dim + vocabulary * dim) * 4
    assert count.totals()["forward_memory_bytes"] == row.forward_memory_bytes
    frozen = nn.Embedding.from_pretrained(cr.randn(vocabulary, dim))
    assert compute.count_flops(frozen, cr.randint(0, vocabulary, (3, 7))).backward_flops == 0


def test_frozen_parameters_get_no_gradient():
    model = nn.Sequential(nn.Linear(4, 6), nn.Linear(6, 2))
    model[0].weight.requires_grad_(False)
    model[0].bias.requires_grad_(False)
    first, second = compute.count_flops(model, cr.randn(5, 4)).layers
    assert first.backward_flops == 0  # nothing upstream needs a gradient and its weights are frozen
    assert second.backward_matmul == 2 * 5 * 6 * 2  # dW only: its input depends on nothing trainable
    model[0].weight.requires_grad_(True)
    second = compute.count_flops(model, cr.randn(5, 4)).layers[1]
    assert second.backward_matmul == 2 * 2 * 5 * 6 * 2


def test_an_input_that_requires_grad_gets_one():
    x = cr.randn(3, 4, requires_grad=True)
    (row,) = compute.count_flops(nn.Linear(4, 2), x).layers
    assert row.backward_matmul == 2 * 2 * 3 * 4 * 2
