"""The MLP part of ``chainrule demo``: an MLP trained by the Trainer with Adam on the bundled 8x8 digits.

Used by ``chainrule demo`` and ``examples/digits_mlp.py``. It shows the whole
pipeline with the library's own pieces:

1. hold out 20% of the 1797 images for the final test and 10% of the rest for
   validation (:func:`chainrule.data.train_test_split`);
2. standardize the 64 pixel features with statistics of the training split only
   (:class:`chainrule.data.StandardScaler`);
3. fit ``nn.MLP([64, hidden, 10])`` (Linear-ReLU-Linear: logits) to the mean
   cross-entropy ``L = (1/n) Σ_i [logsumexp(z_i) - z_{i,y_i}]`` with Adam, in
   shuffled mini-batches (:class:`chainrule.train.Trainer`), watching the
   validation loss and accuracy every epoch;
4. report the accuracy on the held-out test images, which training never saw.
"""
from __future__ import annotations

import chainrule as cr

from .. import nn, optim
from ..data import StandardScaler, train_test_split
from ..datasets import load_digits
from ..train import Trainer

NUM_CLASSES = 10


def run(epochs=30, seed=0, lr=1e-3, batch_size=64, hidden=128, verbose=True):
    """Train the digits MLP and return the final metrics.

    The splits, the initialization, the shuffles are all fixed by ``seed``.
    ``verbose`` prints progress (a bar on a terminal, one line per epoch otherwise)
    and the held-out accuracy.

    Returns a dict: ``test_accuracy`` (held-out), ``val_accuracy``, ``train_loss`` and
    ``train_accuracy`` (the last epoch's), ``epochs``, ``n_train``, ``n_val``,
    ``n_test``, and ``history`` (the Trainer's :class:`~chainrule.train.History`).
    """
    X, y = load_digits()
    X_rest, X_test, y_rest, y_test = train_test_split(X, y, test_size=0.2, seed=seed)
    X_train, X_val, y_train, y_val = train_test_split(X_rest, y_rest, test_size=0.1, seed=seed)
    scaler = StandardScaler().fit(X_train)  # training statistics only: no leak from held-out data

    def tensors(features, labels):
        return cr.tensor(scaler.transform(features), dtype=cr.float32), cr.tensor(labels)

    train, val, test = tensors(X_train, y_train), tensors(X_val, y_val), tensors(X_test, y_test)

    cr.manual_seed(seed)
    model = nn.MLP([X.shape[1], hidden, NUM_CLASSES])
    trainer = Trainer(model, nn.CrossEntropyLoss(), optim.Adam(model.parameters(), lr=lr),
                      metrics=("loss", "accuracy"), verbose=1 if verbose else 0)
    if verbose:
        print(f"digits: MLP {X.shape[1]}-{hidden}-{NUM_CLASSES}, Adam lr {lr:g}, batch {batch_size}; "
              f"{len(y_train)} train / {len(y_val)} validation / {len(y_test)} held-out images")
    history = trainer.fit(train, val=val, epochs=epochs, batch_size=batch_size)
    test_accuracy = trainer.evaluate(test)["accuracy"]
    if verbose:
        print(f"held-out accuracy {test_accuracy:.4f} ({len(y_test)} samples)")
    last = history.epochs[-1]
    return {
        "epochs": epochs,
        "train_loss": last["train_loss"],
        "train_accuracy": last["train_accuracy"],
        "val_accuracy": last["val_accuracy"],
        "test_accuracy": test_accuracy,
        "n_train": len(y_train),
        "n_val": len(y_val),
        "n_test": len(y_test),
        "history": history,
    }
