"""chainrule.models' text networks: TextCNN (Kim 2014) and MeanEmbedding against torch twins
(same weights: outputs and every parameter's gradient), padding invariance, TextColumns (the
network of ``chainrule fit --text``) reading several text columns and features, the argument
errors, and that each learns which word a document holds."""
import numpy as np
import pytest

import chainrule as cr
import chainrule.nn.functional as F
from chainrule import models

torch = pytest.importorskip("torch")
tnn = torch.nn

TOKENS = np.array([[2, 5, 6, 7, 0, 0], [2, 8, 0, 0, 0, 0], [2, 9, 10, 11, 12, 13]])


class TorchTextCNN(tnn.Module):
    """Kim's TextCNN in torch, pooling over the windows that start on a real token."""

    def __init__(self, vocab, classes, width, kernel_sizes, filters):
        super().__init__()
        self.kernel_sizes = kernel_sizes
        self.embedding = tnn.Embedding(vocab, width, padding_idx=0)
        self.convs = tnn.ModuleList([tnn.Conv1d(width, filters, k) for k in kernel_sizes])
        self.head = tnn.Linear(filters * len(kernel_sizes), classes)

    def forward(self, tokens):
        keep = tokens != 0
        pad = max(self.kernel_sizes) - 1
        tokens = torch.nn.functional.pad(tokens, (0, pad))
        keep = torch.nn.functional.pad(keep, (0, pad))
        x = self.embedding(tokens).transpose(1, 2)
        pooled = []
        for conv in self.convs:
            c = torch.relu(conv(x))
            pooled.append(c.masked_fill(~keep[:, None, :c.shape[2]], float("-inf")).amax(dim=2))
        return self.head(torch.cat(pooled, dim=1))


def _state_to_torch(module):
    return {k: torch.from_numpy(np.array(v.numpy())) for k, v in module.state_dict().items()}


def test_textcnn_equals_its_torch_twin_outputs_and_gradients():
    cr.manual_seed(0)
    ours = models.textcnn(20, 3, width=5, kernel_sizes=(2, 3), filters=4, dropout=0.0).double()
    twin = TorchTextCNN(20, 3, 5, (2, 3), 4).double()
    twin.load_state_dict(_state_to_torch(ours))
    y = np.array([0, 2, 1])
    loss = F.cross_entropy(ours(cr.tensor(TOKENS)), cr.tensor(y))
    loss.backward()
    expected = torch.nn.functional.cross_entropy(twin(torch.from_numpy(TOKENS)), torch.from_numpy(y))
    expected.backward()
    assert float(loss.item()) == pytest.approx(expected.item(), rel=1e-12)
    grads = dict(twin.named_parameters())
    for name, parameter in ours.named_parameters():
        np.testing.assert_allclose(parameter.grad.numpy(), grads[name].grad.numpy(), rtol=1e-9, atol=1e-12,
                                   err_msg=name)
    assert np.all(ours.embedding.weight.grad.numpy()[0] == 0)  # the padding's embedding is not trained


def test_mean_embedding_equals_torch():
    cr.manual_seed(0)
    ours = models.MeanEmbedding(20, 4).double()
    weight = torch.from_numpy(np.array(ours.embedding.weight.numpy())).requires_grad_()
    tokens = torch.from_numpy(TOKENS)
    keep = (tokens != 0).double()
    expected = (weight[tokens] * keep[..., None]).sum(1) / keep.sum(1, keepdim=True)
    out = ours(cr.tensor(TOKENS))
    np.testing.assert_allclose(out.numpy(), expected.detach().numpy(), rtol=1e-12)
    (out * out).sum().backward()
    (expected * expected).sum().backward()
    np.testing.assert_allclose(ours.embedding.weight.grad.numpy(), weight.grad.numpy(), rtol=1e-10, atol=1e-14)


@pytest.mark.parametrize("make", [
    lambda: models.textcnn(20, 2, width=4, kernel_sizes=(2, 4), filters=3),
    lambda: models.MeanEmbedding(20, 4),
])
def test_padding_never_changes_a_prediction(make):
    cr.manual_seed(0)
    model = make().double()
    model.eval()
    padded = np.hstack([TOKENS, np.zeros((3, 5), dtype=np.int64)])
    np.testing.assert_allclose(model(cr.tensor(TOKENS)).numpy(), model(cr.tensor(padded)).numpy(), rtol=1e-12)
    alone = model(cr.tensor(TOKENS[1:2, :2])).numpy()
    np.testing.assert_allclose(model(cr.tensor(TOKENS)).numpy()[1], alone[0], rtol=1e-12)


def test_text_classifier_features_then_head_is_its_forward():
    cr.manual_seed(0)
    model = models.text_classifier(20, 2, width=8, heads=2, dropout=0.0)
    model.eval()
    tokens = cr.tensor(TOKENS)
    assert model.features(tokens).shape == (3, model.feature_size)
    np.testing.assert_allclose(model.head(model.features(tokens)).numpy(), model(tokens).numpy())


@pytest.mark.parametrize("kind", ["mlp", "textcnn", "gru", "transformer"])
def test_text_columns_reads_each_column_with_one_body_then_the_features(kind):
    cr.manual_seed(0)
    net = models.text_columns(kind, 20, 3, columns=2, length=6, numeric=2, width=8, hidden=(5,), heads=2,
                              kernel_sizes=(2, 3), filters=3).double()
    net.eval()
    features = np.array([[0.5, -1.0], [2.0, 0.0], [0.0, 1.0]])
    x = np.hstack([TOKENS, TOKENS[::-1], features]).astype(np.float64)
    out = net(cr.tensor(x))
    assert out.shape == (3, 3)
    body = net.body.features
    z = np.hstack([body(cr.tensor(TOKENS)).numpy(), body(cr.tensor(TOKENS[::-1].copy())).numpy(), features])
    np.testing.assert_allclose(out.numpy(), net.head(cr.tensor(z)).numpy(), rtol=1e-10)


def test_text_columns_learns_which_word_a_document_holds():
    rng = np.random.default_rng(0)
    tokens = rng.integers(4, 30, (200, 8))
    tokens[:, 0] = 2
    tokens[np.arange(8)[None, :] >= rng.integers(2, 9, 200)[:, None]] = 0
    labels = (tokens == 5).any(axis=1).astype(np.int64)
    cr.manual_seed(0)
    net = models.text_columns("textcnn", 30, 2, columns=1, length=8, width=8, kernel_sizes=(1, 2), filters=8)
    opt = cr.optim.Adam(net.parameters(), lr=2e-2)
    x, y = cr.tensor(tokens.astype(np.float32)), cr.tensor(labels)
    for _ in range(60):
        opt.zero_grad()
        F.cross_entropy(net(x), y).backward()
        opt.step()
    net.eval()
    assert float((net(x).argmax(1) == y).float().mean()) > 0.95


@pytest.mark.parametrize("call, message", [
    (lambda: models.textcnn(0, 2), "vocab must be a positive int"),
    (lambda: models.textcnn(10, 2, kernel_sizes=()), "kernel_sizes must be a non-empty list"),
    (lambda: models.textcnn(10, 2, kernel_sizes=(2, 0)), "kernel_sizes"),
    (lambda: models.textcnn(10, 2, padding_idx=10), "padding_idx"),
    (lambda: models.textcnn(10, 2, dropout=1.0), "dropout"),
    (lambda: models.text_columns("lstm", 10, 2, 1, 4), "kind must be one of"),
    (lambda: models.text_columns("mlp", 10, 2, 0, 4), "columns must be an int >= 1"),
    (lambda: models.text_columns("mlp", 10, 2, 1, 4, numeric=-1), "numeric must be an int >= 0"),
    (lambda: models.text_columns("transformer", 10, 2, 1, 4, width=10, heads=4), "divisible"),
    (lambda: models.textcnn(10, 2)(cr.tensor([[0, 3]])), "start with one"),
    (lambda: models.textcnn(10, 2)(cr.tensor([[1.0, 3.0]])), "integer token ids"),
    (lambda: models.MeanEmbedding(10, 2)(cr.tensor([[0, 3]])), "MeanEmbedding: every document"),
    (lambda: models.text_columns("mlp", 10, 2, 1, 4)(cr.tensor(np.ones((2, 5), np.float32))), r"\(N, 4\)"),
])
def test_errors(call, message):
    with pytest.raises(ValueError, match=message):
        call()
