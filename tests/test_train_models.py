"""The Trainer on image and sequence models (chapter 11 of the guide): 4-D inputs through
convolutions, BatchNorm2d and Dropout2d, a ResNet, and batch-first recurrent models whose
outputs hold one prediction per position — training, the accuracy metric, and checkpoints
that resume bit for bit."""
from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
import chainrule.nn.functional as F
from chainrule import models, nn, optim
from chainrule.data import DataLoader, TensorDataset
from chainrule.train import Callback, Trainer
from chainrule.train.metrics import make_metric


class _CrashAt(Callback):
    """Simulates the process being killed in the middle of an epoch."""

    def __init__(self, epoch, step):
        self.epoch, self.step = epoch, step

    def on_batch_end(self, trainer, step, logs):
        if (logs["epoch"], step) == (self.epoch, self.step):
            raise KeyboardInterrupt


def _images(n=96, seed=0):
    """(N, 1, 8, 8) float32 images of 3 classes (a bright row, column or diagonal) plus noise."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, size=n)
    X = rng.normal(scale=0.3, size=(n, 1, 8, 8))
    where = rng.integers(1, 7, size=n)
    for k in range(n):
        if y[k] == 0:
            X[k, 0, where[k], :] += 1.0
        elif y[k] == 1:
            X[k, 0, :, where[k]] += 1.0
        else:
            X[k, 0] += np.eye(8)
    return X.astype(np.float32), y


def _small_cnn():
    return nn.Sequential(nn.Conv2d(1, 4, 3, padding=1, bias=False), nn.BatchNorm2d(4), nn.ReLU(), nn.Dropout2d(0.25),
                         nn.MaxPool2d(2), nn.Conv2d(4, 6, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(1),
                         nn.Flatten(), nn.Dropout(0.2), nn.Linear(6, 3))


def _weights(model):
    return {name: t.numpy().copy() for name, t in model.state_dict().items()}


class _Tagger(nn.Module):
    """A batch-first GRU (2 layers, dropout between them) and a linear head: (N, T, 2) -> (N, T, 2)."""

    def __init__(self):
        super().__init__()
        self.gru = nn.GRU(2, 8, num_layers=2, dropout=0.3, batch_first=True)
        self.head = nn.Linear(8, 2)

    def forward(self, x):
        return self.head(self.gru(x)[0])


def _sequence_loss(outputs, target):
    return F.cross_entropy(outputs.flatten(0, 1), target.flatten())


def _parity_prefixes(n=64, length=5, seed=0):
    """Inputs (N, T, 2) one-hot bits, targets (N, T): the parity of the bits so far."""
    rng = np.random.default_rng(seed)
    bits = rng.integers(0, 2, size=(n, length))
    return np.eye(2, dtype=np.float32)[bits], np.cumsum(bits, axis=1) % 2


# ---------------------------------------------------------------------- accuracy per position

def _accuracy(outputs, target):
    metric = make_metric("accuracy")
    metric.update(cr.tensor(outputs), cr.tensor(target))
    return metric.compute(), metric.count


LOGITS = np.random.default_rng(3).normal(size=(4, 5, 3))


@pytest.mark.parametrize(
    "outputs, target, expected",
    [
        (LOGITS, LOGITS.argmax(-1), (1.0, 20)),                                 # (N, T, C), classes last
        (LOGITS, np.where(np.arange(5) < 2, LOGITS.argmax(-1), -1), (0.4, 20)),  # 2 of 5 positions right
        (LOGITS.transpose(0, 2, 1), LOGITS.argmax(-1), (1.0, 20)),              # PyTorch's (N, C, T)
        (LOGITS[..., :1], (LOGITS[..., 0] > 0).astype(np.int64), (1.0, 20)),   # one logit per position
    ],
    ids=["classes_last", "partly_right", "classes_dim1", "single_logit"],
)
def test_accuracy_counts_every_position(outputs, target, expected):
    accuracy, count = _accuracy(outputs, target)
    assert (accuracy, count) == pytest.approx(expected)


def test_accuracy_of_dense_predictions_in_pytorch_layout():
    logits = np.random.default_rng(4).normal(size=(2, 4, 3, 5))     # (N, C, H, W)
    target = logits.argmax(axis=1)
    target[0, 0, 0] = (target[0, 0, 0] + 1) % 4
    assert _accuracy(logits, target) == pytest.approx((29 / 30, 30))


def test_accuracy_names_the_shapes_it_expects():
    with pytest.raises(ValueError, match=r"accuracy of outputs of shape \(4, 5, 3\) needs integer targets of "
                                         r"shape \(4, 5\) \(classes last\) or \(4, 3\)"):
        _accuracy(LOGITS, np.zeros((4, 7), dtype=np.int64))


# ---------------------------------------------------------------------- sequence models

def test_sequence_model_trains_and_reports_per_position_accuracy():
    X, y = _parity_prefixes()
    cr.manual_seed(0)
    model = _Tagger()

    def exact_match(outputs, target):
        return float((outputs.numpy().argmax(-1) == target.numpy()).all(axis=1).mean())

    trainer = Trainer(model, _sequence_loss, optim.Adam(model.parameters(), lr=0.02),
                      metrics=("accuracy", exact_match), verbose=0)
    history = trainer.fit((X, y), epochs=30, batch_size=16)
    assert history["train_loss"][-1] < 0.5 * history["train_loss"][0]
    result = trainer.evaluate((X, y), batch_size=24)
    model.eval()
    with cr.no_grad():
        predicted = model(cr.tensor(X)).numpy().argmax(-1)
    assert result["accuracy"] == pytest.approx(np.mean(predicted == y))
    assert result["exact_match"] == pytest.approx(np.mean((predicted == y).all(axis=1)))
    assert result["accuracy"] > 0.9


def test_sequence_model_resumes_bit_identically(tmp_path):
    """A 2-layer GRU with dropout between the layers (random masks every step): crash in epoch 3,
    resume from the epoch-2 checkpoint in a fresh Trainer, end where the run left alone ends."""
    X, y = _parity_prefixes(n=48)

    def build(seed, path, extra=()):
        cr.manual_seed(seed)
        model = _Tagger()
        return model, Trainer(model, _sequence_loss, optim.Adam(model.parameters(), lr=0.01), metrics=("accuracy",),
                              callbacks=list(extra), checkpoint_path=path, verbose=0)

    straight_model, straight = build(0, tmp_path / "straight.safetensors")
    cr.manual_seed(7)
    straight.fit((X, y), epochs=4, batch_size=16)
    path = tmp_path / "run.safetensors"
    _, crashed = build(0, path, [_CrashAt(epoch=3, step=2)])
    cr.manual_seed(7)
    with pytest.raises(KeyboardInterrupt):
        crashed.fit((X, y), epochs=4, batch_size=16)
    resumed_model, resumed = build(5, path)
    cr.manual_seed(123)
    history = resumed.fit((X, y), epochs=4, batch_size=16, resume_from=path)
    expected, got = _weights(straight_model), _weights(resumed_model)
    assert expected.keys() == got.keys()
    for name in expected:
        assert np.array_equal(expected[name], got[name]), name
    assert history.steps["loss"] == straight.history.steps["loss"]
    assert history["train_accuracy"] == straight.history["train_accuracy"]


# ---------------------------------------------------------------------- image models

def test_cnn_learns_the_image_classes():
    X, y = _images()
    cr.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(1, 8, 3, padding=1, bias=False), nn.BatchNorm2d(8), nn.ReLU(), nn.MaxPool2d(2),
                          nn.Flatten(), nn.Linear(8 * 4 * 4, 3))
    trainer = Trainer(model, nn.CrossEntropyLoss(), optim.Adam(model.parameters(), lr=0.01),
                      metrics=("accuracy",), verbose=0)
    history = trainer.fit((X[:64], y[:64]), val=(X[64:], y[64:]), epochs=10, batch_size=16)
    assert history["val_accuracy"][-1] >= 0.9
    assert trainer.predict(X[64:]).shape == (32, 3)


@pytest.mark.parametrize("build_model", [_small_cnn, lambda: models.resnet(8, (2, 4, 4), num_classes=3,
                                                                          in_channels=1)],
                         ids=["cnn_batchnorm2d_dropout2d", "resnet8"])
def test_image_model_resumes_bit_identically(tmp_path, build_model):
    """Conv2d, BatchNorm2d (running statistics and num_batches_tracked), Dropout2d and a ResNet with
    projection shortcuts: a run interrupted mid-epoch and resumed ends with the same weights and
    buffers, bit for bit, as the run left alone."""
    X, y = _images(n=64)
    loader_seed = 11

    def build(seed, path, extra=()):
        cr.manual_seed(seed)
        model = build_model()
        optimizer = optim.SGD(model.parameters(), lr=0.05, momentum=0.9, weight_decay=1e-4)
        scheduler = optim.lr_scheduler.CosineAnnealingLR(optimizer, 4)
        return model, Trainer(model, nn.CrossEntropyLoss(), optimizer, metrics=("accuracy",), scheduler=scheduler,
                              callbacks=list(extra), checkpoint_path=path, verbose=0)

    def data():
        return DataLoader(TensorDataset(X[:48], y[:48]), 16, seed=loader_seed)

    straight_model, straight = build(0, tmp_path / "straight.safetensors")
    cr.manual_seed(3)
    straight.fit(data(), val=(X[48:], y[48:]), epochs=4)
    path = tmp_path / "run.safetensors"
    _, crashed = build(0, path, [_CrashAt(epoch=3, step=2)])
    cr.manual_seed(3)
    with pytest.raises(KeyboardInterrupt):
        crashed.fit(data(), val=(X[48:], y[48:]), epochs=4)
    resumed_model, resumed = build(9, path)
    cr.manual_seed(77)
    history = resumed.fit(data(), val=(X[48:], y[48:]), epochs=4, resume_from=path)
    expected, got = _weights(straight_model), _weights(resumed_model)
    assert any(name.endswith("num_batches_tracked") for name in got)
    assert expected.keys() == got.keys()
    for name in expected:
        assert np.array_equal(expected[name], got[name]), name
    assert history["val_loss"] == straight.history["val_loss"]
    assert resumed.global_step == straight.global_step == 4 * 3
