"""Training the command line's networks with the Trainer: on the rows in memory, or on a
file read in chunks (``--chunksize``: the encoded chunks spilled once to a temporary
directory, :class:`ChunkCache`, and read back in mini-batches, one chunk at a time).
"""
from __future__ import annotations

import time

import numpy as np

from .models import FitOutcome, Predictor
from .networks import learning_rate, make_loss, make_network, make_optimizer, network_inputs, network_targets


class StepClock:
    """A Trainer callback that records the wall time (seconds since the start of training)
    after every optimizer step, for loss-against-time plots."""

    def __init__(self):
        from ..train import Callback

        self._callback_base = Callback
        self.times: list = []
        self._start = None

    def as_callback(self):
        clock = self

        class _Clock(self._callback_base):
            def on_train_begin(self, trainer):
                clock._start = time.perf_counter()
                clock.times = []

            def on_batch_end(self, trainer, step, logs):
                clock.times.append(time.perf_counter() - clock._start)

        return _Clock()


def train_network(args, data, network, optimizer_name: str, *, lr=None, verbose: int = 1,
                  clock: StepClock | None = None, checkpoint_path=None):
    """Train ``network`` with the named optimizer; returns the Trainer's History.

    ``gd`` is full-batch gradient descent (one step per epoch); the others use
    ``--batch-size``. Metrics: accuracy for classification, R² and RMSE for regression.
    """
    trainer = _trainer(data, network, optimizer_name, lr=lr, verbose=verbose, clock=clock,
                       checkpoint_path=checkpoint_path)
    train = (network_inputs(data.X_train), network_targets(data.y_train, data.task))
    val = None
    if len(data.y_val):
        val = (network_inputs(data.X_val), network_targets(data.y_val, data.task))
    batch_size = len(data.y_train) if optimizer_name == "gd" else args.batch_size
    return trainer.fit(train, val=val, epochs=args.epochs, batch_size=batch_size)


def _trainer(data, network, optimizer_name: str, *, lr=None, verbose: int = 1, clock=None, checkpoint_path=None):
    """The Trainer of ``network`` for ``data.task`` (metrics: accuracy, or R² and RMSE)."""
    from ..train import Trainer

    metrics = ("loss", "accuracy") if data.task != "regression" else ("loss", "r2", "rmse")
    optimizer = make_optimizer(optimizer_name, network.parameters(), lr)
    callbacks = [clock.as_callback()] if clock is not None else []
    return Trainer(network, make_loss(data.task), optimizer, metrics=metrics,
                   callbacks=callbacks, verbose=verbose, checkpoint_path=checkpoint_path)


def fit_network(args, data, *, verbose: int = 1, checkpoint_path=None) -> FitOutcome:
    """Build and train the MLP of ``--hidden`` etc. with ``--optimizer``."""
    import chainrule as cr

    cr.manual_seed(args.seed)
    network, spec = make_network(args, data, "mlp")
    start = time.perf_counter()
    history = train_network(args, data, network, args.optimizer, lr=args.lr, verbose=verbose,
                            checkpoint_path=checkpoint_path)
    seconds = time.perf_counter() - start
    lr = learning_rate(args.optimizer, args.lr)
    predictor = Predictor(kind="mlp", task=data.task, classes=data.classes, network=network,
                          network_spec=spec)
    return FitOutcome(predictor=predictor, history=history, seconds=seconds,
                      notes=[f"{args.optimizer} lr {lr:g}"])


# --------------------------------------------------------------------------- chunks (--chunksize)

class ChunkCache:
    """The encoded chunks of a file, spilled once to a temporary directory as .npz files, so
    that the epochs of training read them in any order without parsing the file again.

    ``paths[c]`` holds chunk c's (X_train, y_train, X_val, y_val) and ``rows[split][c]``
    their numbers of rows; X is float32 (the network's input dtype, so nothing is lost), y
    float64 (regression) or int64 (class ids). One chunk is in memory at a time. Use as a
    context manager; the directory is removed on exit.
    """

    def __init__(self, data):
        import tempfile

        self._directory = tempfile.TemporaryDirectory(prefix="chainrule-chunks-")
        self.paths, self.rows = [], {"train": [], "val": []}
        for c, (X, y, held_out) in enumerate(data.encoded_chunks()):
            path = f"{self._directory.name}/chunk{c}.npz"
            X = X.astype(np.float32)
            np.savez(path, X_train=X[~held_out], y_train=y[~held_out], X_val=X[held_out], y_val=y[held_out])
            self.paths.append(path)
            self.rows["train"].append(int((~held_out).sum()))
            self.rows["val"].append(int(held_out.sum()))
        data.set_counts(sum(self.rows["train"]), sum(self.rows["val"]), len(self.paths))

    def load(self, c: int, split: str):
        """(X, y) of chunk c's ``split`` ("train" or "val") rows."""
        with np.load(self.paths[c]) as arrays:
            return arrays[f"X_{split}"], arrays[f"y_{split}"]

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self._directory.cleanup()


def _chunk_loader_class():
    from ..data import DataLoader

    class ChunkLoader(DataLoader):
        """Mini-batches of one split of a :class:`ChunkCache`, chunk by chunk, for the Trainer.

        An epoch visits the chunks in an order drawn from a generator seeded by (seed,
        epoch) and, with ``shuffle``, the rows of each chunk in a random order from the same
        generator; batches of ``batch_size`` rows never span two chunks (a chunk's last batch
        may be smaller). Without ``shuffle`` (validation) the file's order. Memory: one chunk.
        """

        def __init__(self, cache, split, batch_size, task, *, shuffle, seed):
            self.cache, self.split, self.task = cache, split, task
            self.batch_size, self.shuffle, self.seed = int(batch_size), bool(shuffle), int(seed)
            self.drop_last, self.dataset, self.epoch = False, None, 0

        def __len__(self):
            return sum(-(-rows // self.batch_size) for rows in self.cache.rows[self.split])

        def __iter__(self):
            generator = np.random.default_rng([self.seed, self.epoch])
            self.epoch += 1
            chunks = np.arange(len(self.cache.paths))
            if self.shuffle:
                chunks = generator.permutation(chunks)
            for c in chunks:
                X, y = self.cache.load(int(c), self.split)
                order = generator.permutation(len(y)) if self.shuffle else np.arange(len(y))
                for start in range(0, len(y), self.batch_size):
                    rows = order[start:start + self.batch_size]
                    yield network_inputs(X[rows]), network_targets(y[rows], self.task)

        def state_dict(self):
            return {"epoch": self.epoch}

        def load_state_dict(self, state):
            self.epoch = int(state["epoch"])

    return ChunkLoader


def fit_network_chunks(args, data, cache: ChunkCache, *, verbose: int = 1) -> FitOutcome:
    """Train the MLP of ``--hidden`` etc. on a file read in chunks (see :class:`ChunkCache`):
    every epoch iterates the chunks (order and rows within a chunk shuffled by ``--seed``);
    ``--optimizer gd`` takes one step per chunk (the chunk's training rows as the batch)."""
    import chainrule as cr

    cr.manual_seed(args.seed)
    network, spec = make_network(args, data, "mlp")
    trainer = _trainer(data, network, args.optimizer, lr=args.lr, verbose=verbose)
    batch_size = data.chunksize if args.optimizer == "gd" else args.batch_size
    ChunkLoader = _chunk_loader_class()
    train = ChunkLoader(cache, "train", batch_size, data.task, shuffle=True, seed=args.seed)
    val = ChunkLoader(cache, "val", batch_size, data.task, shuffle=False, seed=args.seed) if data.n_val else None
    start = time.perf_counter()
    history = trainer.fit(train, val=val, epochs=args.epochs)
    seconds = time.perf_counter() - start
    lr = learning_rate(args.optimizer, args.lr)
    predictor = Predictor(kind="mlp", task=data.task, classes=data.classes, network=network, network_spec=spec)
    return FitOutcome(predictor=predictor, history=history, seconds=seconds,
                      notes=[f"{args.optimizer} lr {lr:g}", f"{data.n_chunks} chunks of at most {data.chunksize} rows"])
