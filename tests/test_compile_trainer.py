"""Trainer(compile=True): the same History and weights as eager training, a checkpoint/resume
of a compiled run equal to an uninterrupted one, and the option's checks."""
from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn, optim
from chainrule.checkpoint import load_checkpoint
from chainrule.data import DataLoader, TensorDataset
from chainrule.train import Callback, Trainer


def _blobs(n=180, features=6, classes=3, seed=0):
    rng = np.random.default_rng(seed)
    centres = rng.normal(scale=2.0, size=(classes, features))
    y = rng.integers(0, classes, size=n)
    X = centres[y] + rng.normal(size=(n, features))
    return cr.tensor(X, dtype=cr.float32), cr.tensor(y)


def _trainer(seed, compile, **kwargs):  # noqa: A002 - the option's name
    cr.manual_seed(seed)
    model = nn.MLP([6, 16, 16, 3], dropout=0.2, batchnorm=True)
    optimizer = optim.Adam(model.parameters(), lr=1e-2)
    trainer = Trainer(model, nn.CrossEntropyLoss(), optimizer, metrics=("loss", "accuracy"), verbose=0,
                      compile=compile, **kwargs)
    trainer.scheduler = optim.lr_scheduler.StepLR(optimizer, step_size=2, gamma=0.5)
    return model, trainer


def _weights(model):
    return {name: t.numpy().copy() for name, t in model.state_dict().items()}


class _CrashAt(Callback):
    def __init__(self, epoch, step):
        self.epoch, self.step = epoch, step

    def on_batch_end(self, trainer, step, logs):
        if (logs["epoch"], step) == (self.epoch, self.step):
            raise KeyboardInterrupt


def test_compiled_trainer_equals_eager_trainer():
    X, y = _blobs()
    runs = {}
    for compiled in (False, True):
        model, trainer = _trainer(0, compiled)
        cr.manual_seed(42)
        history = trainer.fit(DataLoader(TensorDataset(X[:150], y[:150]), 32, seed=3), val=(X[150:], y[150:]),
                              epochs=4)
        runs[compiled] = (_weights(model), history, trainer)
    (w_e, h_e, _), (w_c, h_c, trainer) = runs[False], runs[True]
    for name in w_e:
        np.testing.assert_array_equal(w_c[name], w_e[name], err_msg=name)
    assert h_c.steps["loss"] == h_e.steps["loss"] and h_c.steps["grad_norm"] == h_e.steps["grad_norm"]
    assert h_c["train_accuracy"] == h_e["train_accuracy"] and h_c["val_loss"] == h_e["val_loss"]
    assert trainer._compiled.traces == 2  # full batches and the last batch of 22 rows
    assert trainer._compiled.replays == 4 * 5 - 2


def test_resumed_compiled_run_equals_an_uninterrupted_one(tmp_path):
    X, y = _blobs()
    val = (X[150:], y[150:])

    def loader():
        return DataLoader(TensorDataset(X[:150], y[:150]), 32, seed=7)

    straight_model, straight = _trainer(0, True, checkpoint_path=tmp_path / "straight.safetensors")
    cr.manual_seed(42)
    straight.fit(loader(), val=val, epochs=5)

    path = tmp_path / "run.safetensors"
    _, crashed = _trainer(0, True, checkpoint_path=path, callbacks=[_CrashAt(epoch=3, step=2)])
    cr.manual_seed(42)
    with pytest.raises(KeyboardInterrupt):
        crashed.fit(loader(), val=val, epochs=5)
    assert load_checkpoint(path)[1]["epoch"] == "2"

    resumed_model, resumed = _trainer(123, True, checkpoint_path=path)
    cr.manual_seed(999)
    history = resumed.fit(loader(), val=val, epochs=5, resume_from=path)
    expected, got = _weights(straight_model), _weights(resumed_model)
    assert any("running_mean" in name for name in got)
    for name in expected:
        np.testing.assert_array_equal(got[name], expected[name], err_msg=name)
    assert history.steps["loss"] == straight.history.steps["loss"]
    assert history["val_loss"] == straight.history["val_loss"]


def test_compile_option_checks():
    with pytest.raises(ValueError, match="compile must be True or False"):
        _trainer(0, "yes")
