"""Fitting the command line's models, and the :class:`Predictor` that a saved model becomes.

Every statistical model the command line fits (OLS, Logit, MNLogit, Ridge, Lasso, forward
stepwise, PCR) predicts through a linear predictor of the encoded features,
η = X B + c, followed by a link: identity (regression), the logistic function
p = 1 / (1 + e^(-η)) (binary), or the softmax p_k = e^(η_k) / Σ_j e^(η_j) (multiclass, the
reference class's column of B fixed at zero). PCR's components and scaling fold into B
(B = V γ / sd), so it is a linear predictor too. A network predicts through its forward pass
with the same links on its outputs. :class:`Predictor` holds exactly what is needed for that
and nothing else, so a saved model predicts the same numbers as the fitted one.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from .preparation import (
    DEFAULT_LR,
    CommandError,
    build_mlp,
    make_loss,
    make_optimizer,
    network_inputs,
    network_targets,
)

LINKS = {"regression": "identity", "binary": "logistic", "multiclass": "softmax"}


@dataclass
class Predictor:
    """The prediction rule of a fitted model.

    ``kind`` is the model name (ols, logit, …, mlp); ``task`` regression, binary or
    multiclass; ``coef`` (p, k) and ``intercept`` (k,) for linear models; ``network`` an
    ``nn.Module`` and ``network_spec`` its constructor arguments for mlp.
    """

    kind: str
    task: str
    classes: list | None = None
    coef: np.ndarray | None = None
    intercept: np.ndarray | None = None
    network: object = None
    network_spec: dict = field(default_factory=dict)

    def linear_predictor(self, X: np.ndarray) -> np.ndarray:
        """η (n, k): X B + c for a linear model, the network's outputs for mlp."""
        if self.network is not None:
            from ..engine.autograd import no_grad

            self.network.eval()
            with no_grad():
                return np.asarray(self.network(network_inputs(X)).numpy(), dtype=np.float64)
        return np.asarray(X, dtype=np.float64) @ self.coef + self.intercept

    def predict_scores(self, X: np.ndarray) -> np.ndarray:
        """Regression: predicted values (n,); binary: P(class 1) (n,); multiclass: (n, K)
        class probabilities."""
        eta = self.linear_predictor(X)
        if self.task == "regression":
            return eta[:, 0]
        if self.task == "binary":
            return _expit(eta[:, 0])
        return _softmax(eta)

    def predict_classes(self, X: np.ndarray) -> np.ndarray:
        """Class ids (0..K-1): the most probable class (binary: P(class 1) > 0.5)."""
        scores = self.predict_scores(X)
        if self.task == "binary":
            return (scores > 0.5).astype(np.int64)
        return scores.argmax(axis=1)


def _expit(x: np.ndarray) -> np.ndarray:
    from scipy.special import expit

    return expit(x)


def _softmax(eta: np.ndarray) -> np.ndarray:
    shifted = eta - eta.max(axis=1, keepdims=True)
    weights = np.exp(shifted)
    return weights / weights.sum(axis=1, keepdims=True)


@dataclass
class FitOutcome:
    """A fitted model: its predictor, the estimator or network, the training history (mlp),
    and the wall time of the fit."""

    predictor: Predictor
    estimator: object = None
    history: object = None
    seconds: float = 0.0
    notes: list = field(default_factory=list)


# --------------------------------------------------------------------------- statistics

def make_estimator(args, data):
    """The ``chainrule.stats`` estimator ``--model`` names, configured from the options."""
    from .. import stats

    model, intercept = args.model, not args.no_intercept
    solver = args.solver
    if model == "ols":
        cov_type = "cluster" if args.cluster else args.cov_type
        if cov_type == "cluster" and not args.cluster:
            raise CommandError("--cov-type cluster needs --cluster COL (the grouping column)")
        return stats.OLS(fit_intercept=intercept, cov_type=cov_type, solver=solver or "qr")
    if model == "logit":
        return stats.Logit(fit_intercept=intercept, solver=solver or "newton")
    if model == "mnlogit":
        _reject_solver(solver, "mnlogit", ("newton",), args)
        return stats.MNLogit(fit_intercept=intercept)
    if model == "ridge":
        _reject_solver(solver, "ridge", (), args)
        if args.alpha is not None:
            return stats.Ridge(alpha=args.alpha, fit_intercept=intercept)
        return stats.RidgeCV(alphas=np.logspace(-4, 4, 33), fit_intercept=intercept, cv=args.cv)
    if model == "lasso":
        if args.alpha is not None:
            return stats.Lasso(alpha=args.alpha, solver=solver or "cd", fit_intercept=intercept)
        return stats.LassoCV(cv=args.cv or 5, fit_intercept=intercept)
    if model == "stepwise":
        return stats.ForwardStepwise(criterion=args.criterion, fit_intercept=intercept,
                                     cv=args.cv or 5, random_state=args.seed)
    if model == "pcr":
        if args.no_intercept:
            raise CommandError("--no-intercept is not available for pcr (it centres the data)")
        components = args.n_components if args.n_components is not None else "cv"
        return stats.PCR(n_components=components, cv=args.cv or 5, random_state=args.seed)
    raise CommandError(f"{model!r} is not a statistical model")


def _reject_solver(solver, model: str, allowed: tuple, args) -> None:
    if solver is not None and solver not in allowed:
        choices = ", ".join(allowed) if allowed else "none (it has one closed-form solver)"
        raise CommandError(f"--solver {solver} is not available for {model}; choices: {choices}")


def fit_statistical(args, data) -> FitOutcome:
    """Fit a statistical model on the training rows; its predictor is linear in X."""
    import pandas as pd

    estimator = make_estimator(args, data)
    X = pd.DataFrame(data.X_train, columns=data.feature_names)
    y = pd.Series(data.y_train, name=args.target)
    start = time.perf_counter()
    if args.model == "ols" and args.cluster:
        groups = _cluster_groups(args, data)
        estimator.fit(X, y, groups=groups)
    else:
        estimator.fit(X, y)
    seconds = time.perf_counter() - start
    return FitOutcome(predictor=linear_predictor_of(args.model, estimator, data),
                      estimator=estimator, seconds=seconds)


def _cluster_groups(args, data) -> np.ndarray:
    frame = data.frame
    if args.cluster not in frame.columns:
        raise CommandError(f"--cluster {args.cluster!r} is not a column of the data; "
                           f"columns: {', '.join(map(str, frame.columns))}")
    groups = frame[args.cluster].to_numpy()[data.train_rows]
    missing = int(pd_isna(groups).sum())
    if missing:
        raise CommandError(f"--cluster column {args.cluster!r} has {missing} missing values "
                           "in the rows used for the fit")
    return groups


def pd_isna(values) -> np.ndarray:
    import pandas as pd

    return np.asarray(pd.isna(values))


def linear_predictor_of(kind: str, estimator, data) -> Predictor:
    """B and c of a fitted statistical model, on the encoded feature scale."""
    p = len(data.feature_names)
    if kind == "mnlogit":
        coef = np.zeros((p, len(data.classes)))
        intercept = np.zeros(len(data.classes))
        coef[:, 1:] = np.asarray(estimator.coef_, dtype=np.float64).T
        intercept[1:] = np.asarray(estimator.intercept_, dtype=np.float64)
    else:
        coef = np.asarray(estimator.coef_, dtype=np.float64).reshape(p, 1)
        intercept = np.atleast_1d(np.asarray(estimator.intercept_, dtype=np.float64)).reshape(1)
    return Predictor(kind=kind, task=data.task, classes=data.classes, coef=coef, intercept=intercept)


# --------------------------------------------------------------------------- networks

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


def make_network(args, data, kind: str):
    """The network for ``kind``: the MLP of ``--hidden``…, or for a linear model (ols,
    logit, mnlogit in compare-optimizers) one Linear layer."""
    from .. import nn

    n_inputs = len(data.feature_names)
    if kind == "mlp":
        return build_mlp(args, n_inputs, data.n_outputs), {
            "sizes": [n_inputs, *args.hidden, data.n_outputs], "activation": args.activation,
            "dropout": args.dropout, "batchnorm": bool(args.batchnorm)}
    return nn.MLP([n_inputs, data.n_outputs]), {"sizes": [n_inputs, data.n_outputs],
                                                "activation": "relu", "dropout": 0.0,
                                                "batchnorm": False}


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
    lr = DEFAULT_LR[args.optimizer] if args.lr is None else args.lr
    predictor = Predictor(kind="mlp", task=data.task, classes=data.classes, network=network,
                          network_spec=spec)
    return FitOutcome(predictor=predictor, history=history, seconds=seconds,
                      notes=[f"{args.optimizer} lr {lr:g}"])


# --------------------------------------------------------------------------- chunks (--chunksize)

def fit_statistical_chunks(args, data) -> FitOutcome:
    """Fit ols or logit on the training rows of a file read chunk by chunk (``fit_stream``).

    OLS: one pass (sequential TSQR) plus one for HC0-HC3; under ``mpiexec -n N`` rank r takes
    the chunks c ≡ r (mod N) (``data.rank``, ``data.size``) and ``OLS(distributed=True)``
    combines the ranks' triangles by TSQR. The Logit: Newton with one pass per iteration
    (every rank fits all the chunks). Refuses, as :class:`CommandError`, the options that need every row at
    once: cluster-robust errors, the ``normal``/``gd`` OLS solvers, gradient Logit solvers,
    a target with more than two classes, ``--margeff``.
    """
    if args.model == "ols":
        if args.cluster or args.cov_type == "cluster":
            raise CommandError("--chunksize: cluster-robust standard errors need every row's group at once; "
                               "use --cov-type nonrobust, HC0, HC1, HC2 or HC3, or drop --chunksize")
        _reject_solver(args.solver, "ols with --chunksize (streamed Householder QR)", ("qr",), args)
    else:
        _reject_solver(args.solver, "logit with --chunksize (Newton, one pass over the file per iteration)",
                       ("newton",), args)
        if data.task != "binary":
            raise CommandError(f"--model logit needs a target with two classes; {args.target!r} has "
                               f"{len(data.classes)} (mnlogit fits more, without --chunksize)")
        if args.margeff:
            raise CommandError("--margeff: average marginal effects are means over rows kept in memory; "
                               "drop --margeff or --chunksize")
    estimator = make_estimator(args, data)
    if args.model == "ols" and data.size > 1:
        estimator.distributed = True  # each rank streams its chunks; TSQR combines the triangles
    start = time.perf_counter()
    estimator.fit_stream(data.batches("train"), feature_names=data.feature_names, target_name=args.target)
    seconds = time.perf_counter() - start
    return FitOutcome(predictor=linear_predictor_of(args.model, estimator, data), estimator=estimator,
                      seconds=seconds, notes=[f"{estimator.n_batches_} chunks of at most {data.chunksize} rows"])


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
    lr = DEFAULT_LR[args.optimizer] if args.lr is None else args.lr
    predictor = Predictor(kind="mlp", task=data.task, classes=data.classes, network=network, network_spec=spec)
    return FitOutcome(predictor=predictor, history=history, seconds=seconds,
                      notes=[f"{args.optimizer} lr {lr:g}", f"{data.n_chunks} chunks of at most {data.chunksize} rows"])


def evaluate_chunks(predictor: Predictor, blocks, task: str, gather=None) -> dict:
    """:func:`evaluate` over blocks of rows, with the same numbers as on their concatenation.

    ``blocks`` yields (X_b, y_b). Per block: n, Σe², Σ|e|, ȳ and Σ(y − ȳ)² (regression) or
    the number of correct predictions and the summed log loss (classification); blocks are
    merged by adding, except (ȳ, M2 = Σ(y − ȳ)²), merged by Chan, Golub & LeVeque's (1983)
    M2 = M2_a + M2_b + δ² n_a n_b / n, δ = ȳ_b − ȳ_a. Then R² = 1 − Σe² / M2,
    RMSE = √(Σe²/n), MAE = Σ|e|/n, accuracy = correct / n, log loss = Σ / n. ``gather``
    (e.g. an MPI communicator's ``allgather``) maps this process's sums to the list of every
    process's, which are merged the same way. Returns {} when no block holds a row.
    """
    total = _no_rows()
    for X_b, y_b in blocks:
        if len(y_b):
            total = _merge_sums(total, _block_sums(predictor, X_b, y_b, task))
    if gather is not None:
        parts, total = gather(total), _no_rows()
        for part in parts:
            total = _merge_sums(total, part)
    n = total["n"]
    if not n:
        return {}
    if task == "regression":
        sse, m2 = total["sse"], total["m2"]
        return {"r2": 1.0 - sse / m2 if m2 > 0 else None, "rmse": float(np.sqrt(sse / n)),
                "mae": total["sae"] / n, "n": n}
    return {"accuracy": total["correct"] / n, "log_loss": total["log_loss"] / n, "n": n}


def _no_rows() -> dict:
    return {"n": 0, "mean": 0.0, "m2": 0.0, "sse": 0.0, "sae": 0.0, "correct": 0, "log_loss": 0.0}


def _block_sums(predictor, X_b, y_b, task) -> dict:
    sums = _no_rows()
    m = len(y_b)
    sums["n"] = m
    if task == "regression":
        residual = y_b - predictor.predict_scores(X_b)
        sums.update(mean=float(y_b.mean()), sse=float(residual @ residual), sae=float(np.abs(residual).sum()))
        sums["m2"] = float(((y_b - sums["mean"]) ** 2).sum())
    else:
        part = evaluate(predictor, X_b, y_b)
        sums.update(correct=int(round(part["accuracy"] * m)), log_loss=part["log_loss"] * m)
    return sums


def _merge_sums(a: dict, b: dict) -> dict:
    n = a["n"] + b["n"]
    if not n:
        return _no_rows()
    delta = b["mean"] - a["mean"]
    merged = {name: a[name] + b[name] for name in ("sse", "sae", "correct", "log_loss")}
    merged.update(n=n, mean=a["mean"] + delta * b["n"] / n,
                  m2=a["m2"] + b["m2"] + delta * delta * a["n"] * b["n"] / n)
    return merged


# --------------------------------------------------------------------------- metrics

def evaluate(predictor: Predictor, X: np.ndarray, y: np.ndarray) -> dict:
    """Metrics of ``predictor`` on (X, y): regression R², RMSE, MAE; classification
    accuracy and mean log loss (cross-entropy, natural log)."""
    if len(y) == 0:
        return {}
    scores = predictor.predict_scores(X)
    if predictor.task == "regression":
        residual = y - scores
        total = float(((y - y.mean()) ** 2).sum())
        return {
            "r2": 1.0 - float((residual ** 2).sum()) / total if total > 0 else None,  # undefined for a constant y
            "rmse": float(np.sqrt(np.mean(residual ** 2))),
            "mae": float(np.mean(np.abs(residual))),
            "n": int(len(y)),
        }
    eps = 1e-15
    if predictor.task == "binary":
        probability = np.clip(scores, eps, 1 - eps)
        log_loss = -np.mean(y * np.log(probability) + (1 - y) * np.log1p(-probability))
        predicted = (scores > 0.5).astype(np.int64)
    else:
        probability = np.clip(scores[np.arange(len(y)), y.astype(np.int64)], eps, 1.0)
        log_loss = -np.mean(np.log(probability))
        predicted = scores.argmax(axis=1)
    return {"accuracy": float(np.mean(predicted == y)), "log_loss": float(log_loss),
            "n": int(len(y))}
