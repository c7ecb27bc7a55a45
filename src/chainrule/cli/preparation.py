"""Preparing the user's table for a model: read, validate, encode and split.

Every subcommand that fits a model reads DATA through :func:`prepare_data` (the whole table)
or :func:`prepare_chunked_data` (``--chunksize``: chunk by chunk, never whole), so a file is
read, validated, encoded and split the same way everywhere: a
:class:`chainrule.tabular.TabularEncoder` whose standardization and imputation statistics
come from the training rows only, and a validation share held out by ``--val-split`` and
``--seed``.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from . import scaling
from .arguments import STATS_MODELS
from .errors import CommandError

# The models ``--chunksize`` fits from a file read chunk by chunk: OLS and the Logit from sums
# over blocks of rows (``fit_stream``), the MLP by mini-batches drawn chunk by chunk.
STREAM_MODELS = ("ols", "logit", "mlp")

# The task each model fits; "auto" lets the target column decide (the tabular encoder's rule).
MODEL_TASK = {
    "ols": "regression", "ridge": "regression", "lasso": "regression", "elasticnet": "regression",
    "stepwise": "regression", "pcr": "regression",
    "logit": "classification", "mnlogit": "classification", "mlp": "auto",
    "iv": "regression", "liml": "regression",  # issue 22: panel/IV
}


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
    formula: dict | None = None
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
    if not getattr(args, "target", None) and not getattr(args, "formula", None):
        raise CommandError("--target is required: the column to predict (or give --formula)")
    frame = read_table(args.data)
    original, features, formula = frame, args.features, None
    if getattr(args, "formula", None):
        frame, features, formula = _formula_design(args, frame)
    standardize = scaling.without_intercept(args, standardize)  # issue 19: centring adds an intercept
    if task is None:
        task = MODEL_TASK.get(getattr(args, "model", "mlp"), "auto")
    if task == "regression":
        check_numeric_target(frame, args.target, getattr(args, "model", "mlp"))
    share = default_val_split(args) if val_split is None else val_split
    encoder = TabularEncoder(args.target, features, task=task, dropna=args.dropna,
                             impute=args.impute, standardize=standardize)
    usable = _usable_rows(encoder, frame)
    train_rows, val_rows = _split_rows(usable, share, args.seed)
    with np.errstate(over="ignore", invalid="ignore"):  # an overflowing column: named by check_scaling
        encoder.fit(frame, standardize_rows=train_rows)
    check_scaling(encoder, frame)
    check_class_count(encoder, getattr(args, "model", "mlp"))
    X, y, kept = _transform_with_rows(encoder, frame)
    position = {row: i for i, row in enumerate(kept)}
    train_index = np.array([position[r] for r in train_rows], dtype=np.int64)
    val_index = np.array([position[r] for r in val_rows], dtype=np.int64)
    if len(train_index) < 2:
        raise CommandError(f"only {len(train_index)} training rows remain; need at least 2")
    check_target_varies(encoder, y[train_index])
    summary = dict(encoder.summary())
    summary["validation_rows"] = int(len(val_index))
    summary["training_rows"] = int(len(train_index))
    return PreparedData(
        X_train=X[train_index], y_train=y[train_index], X_val=X[val_index], y_val=y[val_index],
        feature_names=list(encoder.feature_names_), task=encoder.task_,
        classes=class_labels(encoder.classes_),
        encoder=encoder, summary=summary, frame=original, formula=formula,
        train_rows=np.asarray(train_rows, dtype=np.int64), val_rows=np.asarray(val_rows, dtype=np.int64),
    )


def _formula_design(args, frame):
    """``--formula``: (the design table, its feature columns, the spec as JSON); sets
    ``args.target`` from the left-hand side, and ``args.no_intercept`` for ``- 1``."""
    from .formula_spec import formula_frame, spec_to_dict

    table, spec = formula_frame(args, frame)
    if not spec.intercept:
        args.no_intercept = True
    return table, [name for name in table.columns if name != args.target], spec_to_dict(spec)


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
    standardize = scaling.without_intercept(args, standardize)  # issue 19: centring adds an intercept
    encoder = TabularEncoder(args.target, args.features, task=MODEL_TASK.get(model, "auto"), dropna=args.dropna,
                             impute=args.impute, standardize=standardize)
    with np.errstate(over="ignore", invalid="ignore"):  # an overflowing column: named by check_scaling
        encoder.fit_chunks(lambda: iter_table_chunks(args.data, chunksize=chunksize),
                           standardize_rows=lambda chunk: ~validation_rows(chunk.index.to_numpy(), share, seed))
    check_scaling(encoder, {})
    data = ChunkedData(
        source=str(args.data), chunksize=chunksize, encoder=encoder,
        feature_names=list(encoder.feature_names_), task=encoder.task_,
        classes=class_labels(encoder.classes_),
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


def class_labels(classes) -> list | None:
    """The class labels as the report, ``model.json`` and ``predict``'s columns show them: a
    float target holding whole numbers (0.0 and 1.0, as pandas reads a 0/1 column with a
    missing value) has the classes 0 and 1, not 0.0 and 1.0; other labels as they are."""
    if classes is None:
        return None
    labels = list(classes)
    floats = all(isinstance(label, (float, np.floating)) and not isinstance(label, bool) for label in labels)
    if labels and floats and all(np.isfinite(label) and float(label).is_integer() for label in labels):
        return [int(label) for label in labels]
    return [label.item() if isinstance(label, np.generic) else label for label in labels]


def check_numeric_target(frame, target: str, model: str) -> None:
    """A regression model (ols, ridge, …) needs a numeric target: say which models fit a
    categorical one instead."""
    import pandas as pd

    if target in frame.columns:
        column = frame[target]
        if not pd.api.types.is_numeric_dtype(column) or pd.api.types.is_bool_dtype(column):
            levels = sorted(map(str, column.dropna().unique()))
            shown = ", ".join(map(str, levels[:5])) + (", ..." if len(levels) > 5 else "")
            penalized = {"ridge": "l2", "lasso": "l1", "elasticnet": "elasticnet"}.get(model)
            remedy = (f"use --model logit --penalty {penalized} (the classifier with the same penalty; two "
                      f"classes) or mnlogit or mlp" if penalized else "use --model logit (two classes), mnlogit or mlp")
            raise CommandError(
                f"--model {model} fits a numeric target, but {target!r} holds categories "
                f"({shown}); {remedy}")


def check_target_varies(encoder, y_train) -> None:
    """A regression target with one value on the training rows (an all-zero column, say) leaves
    nothing to explain: R², the t statistics and the F statistic are 0/0. Refused, naming it."""
    if encoder.task_ == "regression" and len(y_train) and np.all(y_train == y_train[0]):
        raise CommandError(
            f"the target {encoder.target!r} takes the single value {y_train[0]:g} on all {len(y_train)} training "
            f"rows: there is nothing to explain (R², the t statistics and the F statistic would be 0/0); check "
            f"the column, or that --target names the one you mean")


def check_scaling(encoder, frame) -> None:
    """A column whose squares overflow float64 (values of order 1e155 and beyond) has no standard
    deviation to standardize by: name it and say how to rescale it, rather than fit a column of zeros."""
    if encoder.mean_ is None:
        return
    bad = ~(np.isfinite(encoder.mean_) & np.isfinite(encoder.scale_))
    for name in np.asarray(encoder.feature_names_, dtype=object)[bad]:
        largest = float(np.nanmax(np.abs(np.asarray(frame[name], dtype=np.float64)))) if name in frame else 0.0
        order = int(np.floor(np.log10(largest))) if 0 < largest < float("inf") else None
        size = f"of order 1e{order} (largest |value| {largest:.3g})" if order else "of order 1e155 or more"
        fix = f"divide it by 1e{order}" if order else "divide it by a power of ten"
        raise CommandError(
            f"column {name!r} has values {size}, whose squares overflow float64, so its standard deviation cannot "
            f"be computed to standardize it: rescale it ({fix}, or change its units) and fit again")


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
