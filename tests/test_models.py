"""chainrule.models: the ResNet, the GPT and the text classifier against torch twins built
from torch.nn's layers (same weights by state dict: outputs and every gradient), their
structure (depth, parameter counts, tied weights, causality, padding invariance), generate's
sampling rules, the errors for bad arguments, and that each learns a small task."""
import math

import numpy as np
import pytest

import chainrule as cr
import chainrule.nn.functional as F
from chainrule import models, nn

torch = pytest.importorskip("torch")
tnn = torch.nn


# ============================================================================ torch twins

class TorchBlock(tnn.Module):
    def __init__(self, cin, cout, stride, skip):
        super().__init__()
        self.conv1 = tnn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = tnn.BatchNorm2d(cout)
        self.conv2 = tnn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = tnn.BatchNorm2d(cout)
        self.skip, self.downsample = skip, None
        if skip and (stride != 1 or cin != cout):
            self.downsample = tnn.Sequential(tnn.Conv2d(cin, cout, 1, stride, bias=False), tnn.BatchNorm2d(cout))

    def forward(self, x):
        out = self.bn2(self.conv2(torch.relu(self.bn1(self.conv1(x)))))
        if self.skip:
            out = out + (x if self.downsample is None else self.downsample(x))
        return torch.relu(out)


class TorchResNet(tnn.Module):
    def __init__(self, n, widths, skip, classes, cin):
        super().__init__()
        self.conv1, self.bn1 = tnn.Conv2d(cin, widths[0], 3, 1, 1, bias=False), tnn.BatchNorm2d(widths[0])
        previous, stages = widths[0], []
        for s, w in enumerate(widths):
            blocks = []
            for b in range(n):
                blocks.append(TorchBlock(previous, w, 2 if s and not b else 1, skip))
                previous = w
            stages.append(tnn.Sequential(*blocks))
        self.layer1, self.layer2, self.layer3 = stages
        self.fc = tnn.Linear(previous, classes)

    def forward(self, x):
        x = self.layer3(self.layer2(self.layer1(torch.relu(self.bn1(self.conv1(x))))))
        return self.fc(x.mean(dim=(2, 3)))


class TorchGPT(tnn.Module):
    def __init__(self, vocab, context, layers, heads, width):
        super().__init__()
        self.token_embedding, self.position_embedding = tnn.Embedding(vocab, width), tnn.Embedding(context, width)
        self.blocks = tnn.ModuleList([
            tnn.TransformerEncoderLayer(width, heads, 4 * width, 0.0, activation="gelu", batch_first=True,
                                        norm_first=True) for _ in range(layers)])
        self.norm = tnn.LayerNorm(width)
        self.head = tnn.Linear(width, vocab, bias=False)
        self.head.weight = self.token_embedding.weight

    def forward(self, idx):
        length = idx.shape[1]
        h = self.token_embedding(idx) + self.position_embedding(torch.arange(length))
        mask = tnn.Transformer.generate_square_subsequent_mask(length, dtype=h.dtype)
        for block in self.blocks:
            h = block(h, src_mask=mask, is_causal=True)
        return self.head(self.norm(h))


def load_into_torch(ours, theirs):
    state = {k: torch.from_numpy(np.array(v.numpy())) for k, v in ours.state_dict().items()}
    theirs.load_state_dict(state)
    return theirs


def assert_same_gradients(ours, theirs, tol):
    mine = dict(ours.named_parameters())
    for name, p in theirs.named_parameters():
        assert name in mine, name
        np.testing.assert_allclose(mine[name].grad.numpy(), p.grad.numpy(), rtol=tol, atol=tol, err_msg=name)


# ============================================================================ ResNet

@pytest.mark.parametrize("skip", [True, False])
@pytest.mark.parametrize("train", [True, False])
def test_resnet_equals_its_torch_twin(skip, train):
    cr.manual_seed(0)
    ours = models.resnet(8, (4, 8, 8), skip, num_classes=5, in_channels=2).double()
    theirs = load_into_torch(ours, TorchResNet(1, (4, 8, 8), skip, 5, 2).double())
    ours.train(train), theirs.train(train)
    x = np.random.default_rng(1).standard_normal((3, 2, 9, 9))
    y = np.array([0, 4, 2])
    loss = F.cross_entropy(ours(cr.tensor(x)), cr.tensor(y))
    tloss = tnn.functional.cross_entropy(theirs(torch.from_numpy(x)), torch.from_numpy(y))
    loss.backward(), tloss.backward()
    assert loss.item() == pytest.approx(tloss.item(), rel=1e-12)
    assert_same_gradients(ours, theirs, 1e-10)
    if train:  # the running statistics move the same way
        np.testing.assert_allclose(ours.layer2[0].bn2.running_var.numpy(), theirs.layer2[0].bn2.running_var.numpy(),
                                   rtol=1e-12)


# He et al.'s counts with option-A shortcuts (0.27M, 0.85M, 1.7M: 269,722, 853,018 and 1,727,962) plus
# the two projection shortcuts of option B: 1x1 convolutions 16·32 + 32·64 and their norms 2·(32 + 64).
@pytest.mark.parametrize("depth, params", [(20, 269_722 + 2_752), (56, 853_018 + 2_752), (110, 1_727_962 + 2_752)])
def test_resnet_depth_counts_the_weighted_layers_and_parameters(depth, params):
    model = models.resnet(depth)
    assert sum(p.numel() for p in TorchResNet((depth - 2) // 6, (16, 32, 64), True, 10, 3).parameters()) == params
    main_path = [m for name, m in model.named_modules()
                 if isinstance(m, (nn.Conv2d, nn.Linear)) and "downsample" not in name]
    assert len(main_path) == depth
    assert sum(p.numel() for p in model.parameters()) == params
    assert sum(isinstance(m, nn.Conv2d) for m in model.modules()) == depth - 1 + 2  # two projection shortcuts


def test_plain_resnet_has_no_shortcuts_and_the_same_main_path():
    plain, residual = models.resnet(20, skip=False), models.resnet(20)
    assert all(block.downsample is None and not block.skip for block in plain.modules()
               if isinstance(block, models.BasicBlock))
    residual_names = {n for n, _ in residual.named_parameters() if "downsample" not in n}
    assert {n for n, _ in plain.named_parameters()} == residual_names


def test_resnet_initialization_is_he_fan_out():
    cr.manual_seed(0)
    conv = models.resnet(8, (16, 32, 64)).layer3[0].conv2  # 64 out channels, 3x3: fan_out 576
    assert conv.weight.numpy().std() == pytest.approx(math.sqrt(2 / 576), rel=0.05)


@pytest.mark.parametrize("kwargs, message", [
    ({"depth": 21}, r"6n \+ 2"), ({"depth": 2}, r"6n \+ 2"), ({"depth": 20.0}, r"6n \+ 2"),
    ({"widths": (16, 32)}, "three positive ints"), ({"widths": (16, 0, 8)}, "three positive ints"),
    ({"skip": 1}, "skip must be True or False"), ({"num_classes": 0}, "num_classes"),
    ({"in_channels": True}, "in_channels"),
])
def test_resnet_errors(kwargs, message):
    with pytest.raises((ValueError, TypeError), match=message):
        models.resnet(**kwargs)


def test_resnet_learns_digits_images():
    from chainrule.datasets import load_digits
    X, y = load_digits(as_images=True)
    X, y = cr.tensor(X[:512] / 16.0, dtype=cr.float32), cr.tensor(y[:512])
    cr.manual_seed(0)
    model = models.resnet(8, (8, 16, 16), in_channels=1)
    opt = cr.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    for _ in range(40):
        for start in range(0, 512, 128):
            opt.zero_grad()
            F.cross_entropy(model(X[start:start + 128]), y[start:start + 128]).backward()
            opt.step()
    model.eval()
    accuracy = float((model(X).argmax(1) == y).float().mean())
    assert accuracy > 0.97


# ============================================================================ GPT

def test_gpt_equals_its_torch_twin():
    cr.manual_seed(0)
    ours = models.gpt(vocab=11, context=8, layers=2, heads=2, width=8).double()
    theirs = load_into_torch(ours, TorchGPT(11, 8, 2, 2, 8).double())
    idx = np.random.default_rng(0).integers(0, 11, (3, 7))
    logits, tlogits = ours(cr.tensor(idx)), theirs(torch.from_numpy(idx))
    np.testing.assert_allclose(logits.numpy(), tlogits.detach().numpy(), rtol=1e-10, atol=1e-12)
    target = np.random.default_rng(1).integers(0, 11, (3, 7))
    F.cross_entropy(logits.flatten(0, 1), cr.tensor(target.reshape(-1))).backward()
    tnn.functional.cross_entropy(tlogits.flatten(0, 1), torch.from_numpy(target.reshape(-1))).backward()
    assert_same_gradients(ours, theirs, 1e-10)


def test_gpt_ties_the_output_layer_to_the_embedding_and_counts_it_once():
    model = models.gpt(vocab=65, context=128, layers=4, heads=4, width=128)
    assert model.head.weight is model.token_embedding.weight
    per_block = 12 * 128 ** 2 + 13 * 128  # attention 4w² + 4w, feed-forward 8w² + 5w, two norms 4w
    expected = 65 * 128 + 128 * 128 + 4 * per_block + 2 * 128
    assert sum(p.numel() for p in model.parameters()) == expected == 818_048
    assert "head.weight" in model.state_dict() and "token_embedding.weight" in model.state_dict()


def test_gpt_is_causal_a_later_token_never_changes_an_earlier_logit():
    cr.manual_seed(0)
    model = models.gpt(vocab=13, context=16, layers=2, heads=2, width=16).double()
    idx = np.random.default_rng(0).integers(0, 13, (2, 10))
    changed = idx.copy()
    changed[:, 6:] = (changed[:, 6:] + 5) % 13
    a, b = model(cr.tensor(idx)).numpy(), model(cr.tensor(changed)).numpy()
    np.testing.assert_allclose(a[:, :6], b[:, :6], rtol=0, atol=1e-12)
    assert np.abs(a[:, 6:] - b[:, 6:]).max() > 1e-3


def test_gpt_initialization_is_gpt2s():
    cr.manual_seed(0)
    model = models.gpt(vocab=300, context=64, layers=8, heads=4, width=256)
    assert model.token_embedding.weight.numpy().std() == pytest.approx(0.02, rel=0.02)
    assert model.blocks[3].linear2.weight.numpy().std() == pytest.approx(0.02 / 4, rel=0.03)
    assert model.blocks[3].self_attn.out_proj.weight.numpy().std() == pytest.approx(0.02 / 4, rel=0.03)
    assert not model.blocks[0].linear1.bias.numpy().any() and (model.norm.weight.numpy() == 1).all()


def test_generate_greedy_is_the_argmax_and_sampling_is_repeatable():
    cr.manual_seed(0)
    model = models.gpt(vocab=17, context=6, layers=1, heads=2, width=8)
    prompt = [3, 1, 4, 1, 5]
    greedy = model.generate(prompt, 9, top_k=1).numpy()
    assert greedy.shape == (14,) and (greedy[:5] == prompt).all()
    tokens = list(prompt)
    for _ in range(9):  # the window is the last `context` tokens
        logits = model(cr.tensor([tokens[-6:]]))[0, -1].numpy()
        tokens.append(int(logits.argmax()))
    assert greedy.tolist() == tokens
    cr.manual_seed(5)
    first = model.generate([[1, 2], [3, 4]], 7, temperature=0.8, top_k=4).numpy()
    cr.manual_seed(5)
    assert (model.generate([[1, 2], [3, 4]], 7, temperature=0.8, top_k=4).numpy() == first).all()
    assert first.shape == (2, 9) and model.training


def test_sampling_follows_the_softmax_and_top_k():
    from chainrule.models.gpt import sample_next
    cr.manual_seed(0)
    logits = np.log(np.array([[0.1, 0.2, 0.3, 0.4]])).repeat(40_000, axis=0)
    frequencies = np.bincount(sample_next(logits, 1.0, None), minlength=4) / 40_000
    np.testing.assert_allclose(frequencies, [0.1, 0.2, 0.3, 0.4], atol=0.01)
    top2 = np.bincount(sample_next(logits, 1.0, 2), minlength=4) / 40_000
    np.testing.assert_allclose(top2, [0, 0, 3 / 7, 4 / 7], atol=0.01)
    hot = np.bincount(sample_next(logits, 0.25, None), minlength=4) / 40_000  # p^4, renormalized
    np.testing.assert_allclose(hot, np.array([1, 16, 81, 256]) / 354, atol=0.01)


@pytest.mark.parametrize("call, message", [
    (lambda m: m.generate([], 3), "shape"), (lambda m: m.generate([1.5], 3), "integer"),
    (lambda m: m.generate([17], 3), r"\[0, 17\)"), (lambda m: m.generate([1], -1), "max_new_tokens"),
    (lambda m: m.generate([1], 2, temperature=0), "temperature"), (lambda m: m.generate([1], 2, top_k=18), "top_k"),
    (lambda m: m(cr.tensor([[1] * 7])), "context=6"), (lambda m: m(cr.tensor([1, 2])), r"\(N, T\)"),
])
def test_gpt_errors(call, message):
    model = models.gpt(vocab=17, context=6, layers=1, heads=2, width=8)
    with pytest.raises((ValueError, TypeError), match=message):
        call(model)


@pytest.mark.parametrize("kwargs, message", [
    ({"width": 10, "heads": 4}, "divisible"), ({"layers": 0}, "layers"), ({"dropout": 1.0}, "dropout"),
])
def test_gpt_argument_errors(kwargs, message):
    arguments = {"vocab": 10, "context": 8, "layers": 1, "heads": 2, "width": 8, **kwargs}
    with pytest.raises(ValueError, match=message):
        models.gpt(**arguments)


def test_gpt_learns_a_repeating_sequence():
    cr.manual_seed(0)
    model = models.gpt(vocab=7, context=12, layers=2, heads=2, width=32)
    sequence = np.tile(np.array([0, 3, 1, 4, 1, 5, 2]), 5)
    windows = np.stack([sequence[i:i + 13] for i in range(len(sequence) - 13)])
    x, y = cr.tensor(windows[:, :-1]), cr.tensor(windows[:, 1:])
    opt = cr.optim.AdamW(model.parameters(), lr=3e-3)
    for _ in range(150):
        opt.zero_grad()
        loss = F.cross_entropy(model(x).flatten(0, 1), y.flatten())
        loss.backward()
        opt.step()
    assert loss.item() < 0.05
    assert model.generate([0, 3, 1], 11, top_k=1).numpy().tolist() == sequence[:14].tolist()


# ============================================================================ text classifier

@pytest.mark.parametrize("encoder, pooling", [("transformer", "mean"), ("transformer", "max"), ("gru", "last"),
                                              ("gru", "mean"), ("gru", "max")])
def test_padding_never_changes_a_prediction(encoder, pooling):
    cr.manual_seed(0)
    model = models.text_classifier(30, 3, width=8, encoder=encoder, layers=2, heads=2, pooling=pooling).double()
    model.eval()
    short = cr.tensor([[5, 6, 7, 0], [8, 9, 10, 11]])
    padded = cr.tensor([[5, 6, 7, 0, 0, 0], [8, 9, 10, 11, 0, 0]])
    np.testing.assert_allclose(model(short).numpy(), model(padded).numpy(), rtol=1e-12, atol=1e-12)
    alone = model(cr.tensor([[5, 6, 7]])).numpy()
    np.testing.assert_allclose(model(short).numpy()[0], alone[0], rtol=1e-12, atol=1e-12)


def test_gru_classifier_last_state_equals_torch():
    cr.manual_seed(0)
    ours = models.text_classifier(20, 2, width=6, encoder="gru", layers=1, pooling="last", dropout=0.0).double()
    embedding, gru = tnn.Embedding(20, 6, padding_idx=0).double(), tnn.GRU(6, 6, batch_first=True,
                                                                             bidirectional=True).double()
    head = tnn.Linear(12, 2).double()
    state = {k: torch.from_numpy(np.array(v.numpy())) for k, v in ours.state_dict().items()}
    embedding.load_state_dict({"weight": state["embedding.weight"]})
    gru.load_state_dict({k[len("encoder."):]: v for k, v in state.items() if k.startswith("encoder.")})
    head.load_state_dict({"weight": state["head.weight"], "bias": state["head.bias"]})
    tokens = np.array([[3, 4, 5, 0, 0], [6, 7, 8, 9, 10], [11, 0, 0, 0, 0]])
    lengths = (tokens != 0).sum(1)
    packed = tnn.utils.rnn.pack_padded_sequence(embedding(torch.from_numpy(tokens)), torch.from_numpy(lengths),
                                                batch_first=True, enforce_sorted=False)
    _, final = gru(packed)
    expected = head(torch.cat([final[-2], final[-1]], dim=1))
    np.testing.assert_allclose(ours(cr.tensor(tokens)).numpy(), expected.detach().numpy(), rtol=1e-10)


@pytest.mark.parametrize("encoder", ["transformer", "gru"])
def test_text_classifier_learns_which_token_a_document_contains(encoder):
    rng = np.random.default_rng(0)
    tokens = rng.integers(3, 20, (256, 12))
    lengths = rng.integers(3, 13, 256)
    tokens[np.arange(12)[None, :] >= lengths[:, None]] = 0
    labels = (tokens == 5).any(axis=1).astype(np.int64)
    cr.manual_seed(0)
    model = models.text_classifier(20, 2, width=16, encoder=encoder, layers=1, heads=2, dropout=0.0,
                                   pooling="max")
    opt = cr.optim.Adam(model.parameters(), lr=1e-2)
    x, y = cr.tensor(tokens), cr.tensor(labels)
    for _ in range(60):
        opt.zero_grad()
        F.cross_entropy(model(x), y).backward()
        opt.step()
    assert float((model(x).argmax(1) == y).float().mean()) > 0.97


@pytest.mark.parametrize("kwargs, message", [
    ({"encoder": "lstm"}, "encoder must be one of"), ({"pooling": "last"}, "pooling must be one of 'mean', 'max'"),
    ({"padding_idx": 30}, "padding_idx"), ({"width": 10, "heads": 4}, "divisible"), ({"vocab": 0}, "vocab"),
])
def test_text_classifier_argument_errors(kwargs, message):
    with pytest.raises(ValueError, match=message):
        models.text_classifier(**{"vocab": 30, "num_classes": 2, **kwargs})


@pytest.mark.parametrize("tokens, encoder, message", [
    ([[0, 3, 4]], "transformer", "start with one"), ([[3, 0, 4]], "gru", "right padding"),
    ([[1.0, 2.0]], "gru", "integer token ids"), ([[1] * 9], "transformer", "context=8"),
])
def test_text_classifier_input_errors(tokens, encoder, message):
    model = models.text_classifier(30, 2, width=8, heads=2, encoder=encoder, context=8)
    with pytest.raises(ValueError, match=message):
        model(cr.tensor(tokens))
