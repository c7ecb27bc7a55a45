"""What the ``chainrule`` subcommands share: argument groups, data preparation, model and
optimizer construction, the output directory and the console.

Every subcommand that reads a table (``fit``, ``compare-optimizers``, ``diagnose``,
``landscape``, ``compute``) uses :func:`add_data_arguments` and :func:`prepare_data`, so a
file is read, validated, encoded and split the same way everywhere.
"""
from __future__ import annotations

import argparse
import pathlib
from dataclasses import dataclass, field

import numpy as np

MODELS = ("ols", "logit", "mnlogit", "ridge", "lasso", "stepwise", "pcr", "mlp")
OPTIMIZERS = ("gd", "sgd", "momentum", "nesterov", "adagrad", "rmsprop", "adam", "adamw")
STATS_MODELS = ("ols", "logit", "mnlogit", "ridge", "lasso", "stepwise", "pcr")
# The models ``--chunksize`` fits from a file read chunk by chunk: OLS and the Logit from sums
# over blocks of rows (``fit_stream``), the MLP by mini-batches drawn chunk by chunk.
STREAM_MODELS = ("ols", "logit", "mlp")

# The task each model fits; "auto" lets the target column decide (the tabular encoder's rule).
MODEL_TASK = {
    "ols": "regression", "ridge": "regression", "lasso": "regression",
    "stepwise": "regression", "pcr": "regression",
    "logit": "classification", "mnlogit": "classification", "mlp": "auto",
}

# Learning rates used when --lr is not given: common starting points for standardized inputs
# (full-batch "gd" can take a larger step than the stochastic methods).
DEFAULT_LR = {
    "gd": 0.1, "sgd": 0.01, "momentum": 0.01, "nesterov": 0.01,
    "adagrad": 0.05, "rmsprop": 0.001, "adam": 0.001, "adamw": 0.001,
}


class CommandError(Exception):
    """A problem with the user's data, model or options: the command exits with code 1 and
    prints this message (one paragraph, no traceback unless ``--debug``)."""


# --------------------------------------------------------------------------- help

class HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """Wraps one-paragraph descriptions to the terminal; keeps text that has its own line
    breaks (the examples) as written."""

    def _fill_text(self, text, width, indent):
        if "\n" in text.strip():
            return super()._fill_text(text, width, indent)
        return argparse.HelpFormatter._fill_text(self, text, width, indent)


# --------------------------------------------------------------------------- argument types

def positive_int(text: str) -> int:
    """argparse type: an integer >= 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text}")
    return value


def positive_float(text: str) -> float:
    """argparse type: a finite number > 0."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}") from None
    if not 0 < value < float("inf"):
        raise argparse.ArgumentTypeError(f"expected a positive finite number, got {text}")
    return value


def fraction(text: str) -> float:
    """argparse type: a number in [0, 1)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a fraction in [0, 1), got {text!r}") from None
    if not 0 <= value < 1:
        raise argparse.ArgumentTypeError(f"expected a fraction in [0, 1), got {text}")
    return value


def int_list(text: str) -> list:
    """argparse type: comma-separated positive integers, e.g. ``64,64``."""
    try:
        values = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected comma-separated positive integers such as 64,64; got {text!r}") from None
    if not values or any(value < 1 for value in values):
        raise argparse.ArgumentTypeError(
            f"expected comma-separated positive integers such as 64,64; got {text!r}")
    return values


def name_list(text: str) -> list:
    """argparse type: comma-separated names, e.g. ``age,income``."""
    names = [part.strip() for part in text.split(",") if part.strip()]
    if not names:
        raise argparse.ArgumentTypeError(f"expected comma-separated names; got {text!r}")
    return names


def optimizer_list(text: str) -> list:
    """argparse type: comma-separated optimizer names from :data:`OPTIMIZERS`."""
    names = name_list(text)
    unknown = [name for name in names if name not in OPTIMIZERS]
    if unknown:
        raise argparse.ArgumentTypeError(
            f"unknown optimizer(s) {', '.join(unknown)}; choose from {', '.join(OPTIMIZERS)}")
    if len(set(names)) != len(names):
        raise argparse.ArgumentTypeError(f"optimizers repeat in {text!r}")
    return names


# --------------------------------------------------------------------------- argument groups

def add_debug_argument(parser: argparse.ArgumentParser) -> None:
    """``--debug`` after the subcommand too (``chainrule fit ... --debug``)."""
    parser.add_argument("--debug", action="store_true", default=argparse.SUPPRESS,
                        help="show the full traceback when the command fails")


def add_data_arguments(parser: argparse.ArgumentParser, *, optional: bool = False) -> None:
    """DATA, ``--target``, ``--features``, ``--dropna``, ``--impute``, ``--val-split``, ``--seed``."""
    group = parser.add_argument_group("data")
    group.add_argument("data", metavar="DATA", nargs="?" if optional else None,
                       help="a .csv/.parquet file or the name of a bundled dataset "
                            "(see: chainrule datasets)")
    group.add_argument("--target", metavar="COL", required=not optional,
                       help="the column to predict")
    group.add_argument("--features", metavar="A,B,...", type=name_list,
                       help="feature columns (default: every column but the target)")
    group.add_argument("--dropna", action="store_true",
                       help="drop rows with missing values (reported); default: refuse them")
    group.add_argument("--impute", choices=("mean", "median"),
                       help="fill missing numeric features with the training mean or median")
    group.add_argument("--val-split", type=fraction, default=None, metavar="FRACTION",
                       help="share of rows held out for validation (default: 0.2 for mlp and "
                            "for compare-optimizers; 0 for the statistical models, whose "
                            "inference uses every row)")
    group.add_argument("--seed", type=int, default=0,
                       help="seed for the split, the initialization and the shuffles "
                            "(default: %(default)s)")


def add_model_arguments(parser: argparse.ArgumentParser, *, models=MODELS, default_model=None) -> None:
    """``--model`` and its options, and the optimizer options of gradient-based fits."""
    group = parser.add_argument_group("model")
    group.add_argument("--model", choices=models, required=default_model is None,
                       default=default_model, help="the model to fit")
    group.add_argument("--hidden", type=int_list, default=[64, 64], metavar="N,N",
                       help="mlp: hidden layer sizes (default: 64,64)")
    group.add_argument("--activation", default="relu",
                       choices=("relu", "leaky_relu", "tanh", "sigmoid", "gelu"),
                       help="mlp: hidden activation (default: %(default)s)")
    group.add_argument("--dropout", type=fraction, default=0.0,
                       help="mlp: dropout probability after each hidden layer (default: 0)")
    group.add_argument("--batchnorm", action="store_true",
                       help="mlp: BatchNorm1d after each hidden Linear")
    group.add_argument("--alpha", type=positive_float,
                       help="ridge/lasso: penalty strength (omit with --cv to choose it)")
    group.add_argument("--cv", type=positive_int, metavar="K",
                       help="ridge/lasso/pcr/stepwise: choose the penalty, components or "
                            "model size by K-fold cross-validation")
    group.add_argument("--n-components", type=positive_int,
                       help="pcr: principal components kept (omit to choose by --cv, default 5 folds)")
    group.add_argument("--cov-type", default="nonrobust",
                       choices=("nonrobust", "HC0", "HC1", "HC2", "HC3", "cluster"),
                       help="ols: covariance of the estimates (default: %(default)s)")
    group.add_argument("--cluster", metavar="COL",
                       help="ols: cluster-robust standard errors by this column")
    group.add_argument("--criterion", default="bic", choices=("bic", "aic", "adjr2", "cv"),
                       help="stepwise: how to choose among the nested models (default: %(default)s)")
    group.add_argument("--solver",
                       help="ols: qr|normal|gd; logit/mnlogit: newton|gd|adam; lasso: cd|fista")
    group.add_argument("--no-intercept", action="store_true",
                       help="statistical models: fit without an intercept")
    group.add_argument("--margeff", action="store_true",
                       help="logit/mnlogit: also print average marginal effects")
    optim = parser.add_argument_group("training (mlp and gradient-based fits)")
    optim.add_argument("--optimizer", choices=OPTIMIZERS, default="adam",
                       help="mlp: the optimizer (default: %(default)s)")
    optim.add_argument("--lr", type=positive_float,
                       help="learning rate (default per optimizer: "
                            + ", ".join(f"{k} {v:g}" for k, v in DEFAULT_LR.items()) + ")")
    optim.add_argument("--epochs", type=positive_int, default=20,
                       help="passes over the training rows (default: %(default)s)")
    optim.add_argument("--batch-size", type=positive_int, default=32,
                       help="mini-batch size (default: %(default)s; gd uses every row)")
    optim.add_argument("--device", default="cpu",
                       help="cpu, cuda or cuda:N (cuda needs the gpu extra: pip install chainrule[gpu])")


def add_output_arguments(parser: argparse.ArgumentParser, *, default: str = "chainrule-output") -> None:
    """``--out DIR``."""
    parser.add_argument("--out", metavar="DIR", default=default,
                        help="directory for the report, the model, metrics and figures "
                             "(default: %(default)s)")


# --------------------------------------------------------------------------- data

@dataclass
class PreparedData:
    """A table read, validated, encoded and split.

    ``X_*`` are float64 (n, p) arrays in ``feature_names`` order; ``y_*`` float64 for
    regression and int64 class ids (index into ``classes``) for classification.
    ``train_rows``/``val_rows`` are the positions of those rows in the file (after any
    ``--dropna``), so other columns (e.g. ``--cluster``) can be aligned with them.
    """

    X_train: np.ndarray
    y_train: np.ndarray
    X_val: np.ndarray
    y_val: np.ndarray
    feature_names: list
    task: str
    classes: list | None
    encoder: object
    summary: dict
    frame: object = None
    train_rows: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    val_rows: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))

    @property
    def n_outputs(self) -> int:
        """Output units of a network for this task: 1 for regression and binary, K otherwise."""
        return len(self.classes) if self.task == "multiclass" else 1


def default_val_split(args) -> float:
    """``--val-split`` if given; else 0.2 for mlp, 0 for the statistical models."""
    if getattr(args, "val_split", None) is not None:
        return args.val_split
    return 0.0 if getattr(args, "model", "mlp") in STATS_MODELS else 0.2


def prepare_data(args, *, standardize: bool, val_split: float | None = None,
                 task: str | None = None) -> PreparedData:
    """Read ``args.data``, encode it with a :class:`chainrule.tabular.TabularEncoder` and
    split off a validation share (seeded by ``args.seed``).

    The encoder's structure (features, levels, classes) comes from every usable row; the
    standardization and imputation statistics from the training rows only, so nothing about
    the validation rows leaks into training.
    """
    from ..datasets import read_table
    from ..tabular import TabularEncoder

    if not getattr(args, "data", None):
        raise CommandError("DATA is required: a .csv/.parquet file or a bundled dataset name")
    if not getattr(args, "target", None):
        raise CommandError("--target is required: the column to predict")
    frame = read_table(args.data)
    if task is None:
        task = MODEL_TASK.get(getattr(args, "model", "mlp"), "auto")
    if task == "regression":
        check_numeric_target(frame, args.target, getattr(args, "model", "mlp"))
    share = default_val_split(args) if val_split is None else val_split
    encoder = TabularEncoder(args.target, args.features, task=task, dropna=args.dropna,
                             impute=args.impute, standardize=standardize)
    usable = _usable_rows(encoder, frame)
    train_rows, val_rows = _split_rows(usable, share, args.seed)
    encoder.fit(frame, standardize_rows=train_rows)
    check_class_count(encoder, getattr(args, "model", "mlp"))
    X, y, kept = _transform_with_rows(encoder, frame)
    position = {row: i for i, row in enumerate(kept)}
    train_index = np.array([position[r] for r in train_rows], dtype=np.int64)
    val_index = np.array([position[r] for r in val_rows], dtype=np.int64)
    if len(train_index) < 2:
        raise CommandError(f"only {len(train_index)} training rows remain; need at least 2")
    summary = dict(encoder.summary())
    summary["validation_rows"] = int(len(val_index))
    summary["training_rows"] = int(len(train_index))
    return PreparedData(
        X_train=X[train_index], y_train=y[train_index], X_val=X[val_index], y_val=y[val_index],
        feature_names=list(encoder.feature_names_), task=encoder.task_,
        classes=None if encoder.classes_ is None else list(encoder.classes_),
        encoder=encoder, summary=summary, frame=frame,
        train_rows=np.asarray(train_rows, dtype=np.int64), val_rows=np.asarray(val_rows, dtype=np.int64),
    )


@dataclass
class ChunkedData:
    """A table read, validated and encoded chunk by chunk (``--chunksize``), never whole.

    The encoder is fitted by ``TabularEncoder.fit_chunks`` (two passes; standardization and
    imputation statistics from the training rows only). :meth:`encoded_chunks` reads and
    encodes the file again on every call, one chunk at a time. A row is held out for
    validation when :func:`validation_rows` says so: a seeded hash of its row number, so the
    split does not depend on the chunk size and is the same in every pass and epoch.

    ``X_train``/``y_train``/``X_val``/``y_val`` hold the rows of the *first chunk* only: a
    bounded sample for the report's figures. ``n_train``, ``n_val`` and ``n_chunks`` are the
    totals, recorded by :meth:`set_counts` after the first full pass of the fit.
    """

    source: str
    chunksize: int
    encoder: object
    feature_names: list
    task: str
    classes: list | None
    summary: dict
    val_share: float
    seed: int
    X_train: np.ndarray
    y_train: np.ndarray
    X_val: np.ndarray
    y_val: np.ndarray
    n_train: int = 0
    n_val: int = 0
    n_chunks: int = 0
    chunked: bool = True
    rank: int = 0
    size: int = 1

    @property
    def n_outputs(self) -> int:
        """Output units of a network for this task: 1 for regression and binary, K otherwise."""
        return len(self.classes) if self.task == "multiclass" else 1

    def encoded_chunks(self, every_rank: bool = False):
        """Yield ``(X, y, validation)`` per chunk of the file: the encoded features (float64),
        targets (float64 or int64 class ids) and the boolean validation mask of its rows.

        With ``size`` > 1 (an MPI job splitting the chunks) only the chunks c with
        c mod size = rank, unless ``every_rank``; the others are still read (a CSV cannot
        be skipped through) but not encoded."""
        from ..datasets import iter_table_chunks

        columns = list(self.encoder.input_columns_) + [self.encoder.target]
        chunks = iter_table_chunks(self.source, chunksize=self.chunksize, columns=columns)
        for c, chunk in enumerate(chunks):
            if not every_rank and c % self.size != self.rank:
                continue
            X, y = self.encoder.transform(chunk)
            rows = chunk.index.to_numpy()[self.encoder.last_kept_rows_]
            yield X, y, validation_rows(rows, self.val_share, self.seed)

    def batches(self, split: str = "train"):
        """A function of no arguments returning an iterator of (X_b, y_b) float64 blocks,
        one per chunk, of the training (``split="train"``) or validation rows: the
        ``batches`` argument of ``OLS.fit_stream`` / ``Logit.fit_stream``."""
        if split not in ("train", "val"):
            raise ValueError(f"ChunkedData.batches: split: expected 'train' or 'val'; got {split!r}")

        def factory():
            for X, y, held_out in self.encoded_chunks():
                keep = held_out if split == "val" else ~held_out
                yield X[keep], np.asarray(y[keep], dtype=np.float64)

        return factory

    def set_counts(self, n_train: int, n_val: int, n_chunks: int) -> None:
        """Record the totals of a full pass (made by a caller that read every chunk anyway)."""
        if n_train < 2:
            raise CommandError(f"only {n_train} training rows remain; need at least 2")
        self.n_train, self.n_val, self.n_chunks = int(n_train), int(n_val), int(n_chunks)
        self.summary.update(training_rows=self.n_train, validation_rows=self.n_val, chunks=self.n_chunks)


def validation_rows(rows, share: float, seed: int) -> np.ndarray:
    """True for the rows (0-based row numbers of the file) held out for validation.

    Row r is held out when u(r) < ``share``, with u(r) = h(r + φ·(seed + 1)) / 2⁶⁴ ∈ [0, 1),
    h the SplitMix64 finalizer (Steele, Lea & Flood 2014; φ = 0x9E3779B97F4A7C15, arithmetic
    mod 2⁶⁴): a fixed pseudo-random function of the row number and the seed, so the split
    is the same in every pass and epoch and for every chunk size, and about ``share`` of the
    rows are held out.
    """
    rows = np.asarray(rows, dtype=np.int64)
    if share <= 0:
        return np.zeros(rows.shape, dtype=bool)
    offset = np.uint64(0x9E3779B97F4A7C15 * (int(seed) + 1) % (1 << 64))
    z = rows.astype(np.uint64) + offset  # array arithmetic on uint64 wraps mod 2⁶⁴
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    z ^= z >> np.uint64(31)
    return (z >> np.uint64(11)).astype(np.float64) * 2.0 ** -53 < share


def prepare_chunked_data(args, *, standardize: bool) -> ChunkedData:
    """``prepare_data`` for ``--chunksize ROWS``: the encoder fitted from the file read in chunks
    (:meth:`chainrule.tabular.TabularEncoder.fit_chunks`), nothing read whole.

    Raises :class:`CommandError` for a model other than :data:`STREAM_MODELS` and for
    ``--impute median`` (an exact median needs the whole column).
    """
    from ..datasets import iter_table_chunks
    from ..tabular import TabularEncoder

    model = getattr(args, "model", "mlp")
    if model not in STREAM_MODELS:
        raise CommandError(f"--chunksize is available for --model {', '.join(STREAM_MODELS)} (fitted from "
                           f"sums over chunks or from mini-batches); {model} needs the whole table in memory: "
                           f"drop --chunksize")
    if not getattr(args, "data", None):
        raise CommandError("DATA is required: a .csv/.parquet file or a bundled dataset name")
    if not getattr(args, "target", None):
        raise CommandError("--target is required: the column to predict")
    if args.impute == "median":
        raise CommandError("--impute median needs each whole column in memory; with --chunksize use --impute mean")
    share, seed, chunksize = default_val_split(args), int(args.seed), int(args.chunksize)
    encoder = TabularEncoder(args.target, args.features, task=MODEL_TASK.get(model, "auto"), dropna=args.dropna,
                             impute=args.impute, standardize=standardize)
    encoder.fit_chunks(lambda: iter_table_chunks(args.data, chunksize=chunksize),
                       standardize_rows=lambda chunk: ~validation_rows(chunk.index.to_numpy(), share, seed))
    data = ChunkedData(
        source=str(args.data), chunksize=chunksize, encoder=encoder,
        feature_names=list(encoder.feature_names_), task=encoder.task_,
        classes=None if encoder.classes_ is None else list(encoder.classes_),
        summary=dict(encoder.summary()), val_share=share, seed=seed,
        X_train=np.zeros((0, len(encoder.feature_names_))), y_train=np.zeros(0),
        X_val=np.zeros((0, len(encoder.feature_names_))), y_val=np.zeros(0),
    )
    X, y, held_out = next(data.encoded_chunks(every_rank=True))  # the first chunk: the report's sample
    data.X_train, data.y_train, data.X_val, data.y_val = X[~held_out], y[~held_out], X[held_out], y[held_out]
    data.summary["chunksize"] = chunksize
    if model == "ols":  # under mpiexec the ranks split the chunks (rank r: c ≡ r mod N)
        from ..engine import distributed

        if distributed.launched_world_size() > 1:
            distributed.init()
            data.rank, data.size = distributed.rank(), distributed.world_size()
    return data


def check_numeric_target(frame, target: str, model: str) -> None:
    """A regression model (ols, ridge, …) needs a numeric target: say which models fit a
    categorical one instead."""
    import pandas as pd

    if target in frame.columns:
        column = frame[target]
        if not pd.api.types.is_numeric_dtype(column) or pd.api.types.is_bool_dtype(column):
            levels = sorted(map(str, column.dropna().unique()))
            shown = ", ".join(map(str, levels[:5])) + (", ..." if len(levels) > 5 else "")
            raise CommandError(
                f"--model {model} fits a numeric target, but {target!r} holds categories "
                f"({shown}); use --model logit (two classes), mnlogit or mlp")


def check_class_count(encoder, model: str) -> None:
    """logit needs exactly two classes; say which models fit more."""
    classes = encoder.classes_
    if model == "logit" and classes is not None and len(classes) != 2:
        raise CommandError(
            f"--model logit fits a binary target (two classes), but {encoder.target!r} has "
            f"{len(classes)}: {', '.join(map(str, classes[:10]))}; use --model mnlogit or mlp")


def _usable_rows(encoder, frame) -> np.ndarray:
    """Positions of the rows the encoder keeps (all, unless ``--dropna`` drops some)."""
    return np.asarray(encoder.usable_rows(frame), dtype=np.int64)


def _split_rows(rows: np.ndarray, share: float, seed: int):
    """A seeded random split of ``rows`` into (train, validation), both sorted."""
    n_val = int(round(share * len(rows)))
    if share > 0 and n_val == 0 and len(rows) > 1:
        n_val = 1
    order = np.random.default_rng(seed).permutation(len(rows))
    val = np.sort(rows[order[:n_val]])
    train = np.sort(rows[order[n_val:]])
    return train, val


def _transform_with_rows(encoder, frame):
    """``(X, y, kept)``: the encoded table and the positions of the rows it holds."""
    X, y = encoder.transform(frame)
    kept = getattr(encoder, "last_kept_rows_", None)
    kept = np.arange(len(frame)) if kept is None else np.asarray(kept)
    if kept.dtype == bool:
        kept = np.flatnonzero(kept)
    return X, y, kept.tolist()


# --------------------------------------------------------------------------- models

def build_mlp(args, n_inputs: int, n_outputs: int):
    """``nn.MLP([n_inputs, *hidden, n_outputs])`` (float32) from ``--hidden``,
    ``--activation``, ``--dropout`` and ``--batchnorm``."""
    from .. import nn

    return nn.MLP([n_inputs, *args.hidden, n_outputs], activation=args.activation,
                  dropout=args.dropout, batchnorm=args.batchnorm)


def make_optimizer(name: str, params, lr: float | None = None):
    """The optimizer called ``name`` over ``params`` (learning rate ``lr`` or
    :data:`DEFAULT_LR`): gd and sgd are plain SGD (gd on full batches), momentum and
    nesterov are SGD with momentum 0.9."""
    from .. import optim

    if name not in OPTIMIZERS:
        raise CommandError(f"unknown optimizer {name!r}; choose from {', '.join(OPTIMIZERS)}")
    lr = DEFAULT_LR[name] if lr is None else lr
    params = list(params)
    if name in ("gd", "sgd"):
        return optim.SGD(params, lr=lr)
    if name == "momentum":
        return optim.SGD(params, lr=lr, momentum=0.9)
    if name == "nesterov":
        return optim.SGD(params, lr=lr, momentum=0.9, nesterov=True)
    if name == "adagrad":
        return optim.Adagrad(params, lr=lr)
    if name == "rmsprop":
        return optim.RMSprop(params, lr=lr)
    if name == "adam":
        return optim.Adam(params, lr=lr)
    return optim.AdamW(params, lr=lr)


def make_loss(task: str):
    """Mean squared error (regression), binary cross-entropy on logits (binary) or
    softmax cross-entropy (multiclass)."""
    from .. import nn

    if task == "regression":
        return nn.MSELoss()
    if task == "binary":
        return nn.BCEWithLogitsLoss()
    if task == "multiclass":
        return nn.CrossEntropyLoss()
    raise CommandError(f"unknown task {task!r}; expected regression, binary or multiclass")


def network_targets(y: np.ndarray, task: str):
    """Targets as the network's loss wants them: (n, 1) float32 for regression and binary,
    int64 class ids for multiclass."""
    import chainrule as cr

    if task == "multiclass":
        return cr.tensor(np.asarray(y, dtype=np.int64))
    return cr.tensor(np.asarray(y, dtype=np.float32).reshape(-1, 1))


def network_inputs(X: np.ndarray):
    """Inputs as a float32 Tensor."""
    import chainrule as cr

    return cr.tensor(np.asarray(X, dtype=np.float32))


def check_device(name: str) -> str:
    """``cpu``, ``cuda`` or ``cuda:N``; ``cuda`` without CuPy is a :class:`CommandError`."""
    if name == "cpu":
        return name
    if name == "cuda" or (name.startswith("cuda:") and name[5:].isdigit()):
        try:
            import cupy  # noqa: F401, PLC0415
        except ImportError:
            raise CommandError(
                f"--device {name} needs CuPy and an NVIDIA GPU; install the gpu extra "
                "(pip install 'chainrule[gpu]') or use --device cpu") from None
        return name
    raise CommandError(f"--device must be cpu, cuda or cuda:N; got {name!r}")


# --------------------------------------------------------------------------- output

def output_directory(args) -> pathlib.Path:
    """``--out`` as a Path, created if missing."""
    path = pathlib.Path(getattr(args, "out", None) or "chainrule-output")
    if path.exists() and not path.is_dir():
        raise CommandError(f"--out must be a directory; {str(path)!r} is a file")
    path.mkdir(parents=True, exist_ok=True)
    return path


def is_main_process() -> bool:
    """True unless this is a rank other than 0 of an MPI job (``mpiexec -n N chainrule ...``):
    only rank 0 prints and writes files."""
    from ..engine import distributed

    return distributed.launched_world_size() == 1 or distributed.is_main()


def console():
    """A rich Console on stdout (plain text when stdout is not a terminal); silent on the
    ranks other than 0 of an MPI job."""
    import sys

    from rich.console import Console

    # Piped into a file or a log, rich would wrap tables at 80 columns and cut numbers short;
    # 140 columns keeps the planner's and the comparison's tables whole.
    width = None if sys.stdout.isatty() else 140
    return Console(highlight=False, soft_wrap=True, quiet=not is_main_process(), width=width)


def peak_memory_bytes() -> int:
    """This process's peak resident memory so far, in bytes (``getrusage``; Linux reports KiB)."""
    import resource
    import sys

    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return int(peak if sys.platform == "darwin" else peak * 1024)
