"""``chainrule fit --text COLUMN``: free-text columns as model inputs, and ``predict`` re-applying them.

A text column (reviews, filings, survey answers) becomes token ids: a subword tokenizer
(:class:`chainrule.data.SubwordTokenizer`, BPE or WordPiece by Hugging Face's ``tokenizers``)
is trained on the text of the *training* rows only (every ``--text`` column's, one shared
vocabulary), then cuts every document to the longest training document, at most
``--max-length`` ids, and right-pads it. The ids of each text column and the encoded
``--features`` (numeric or categorical, standardized with the training rows' statistics unless --no-standardize; none
unless given) form one row of the network's input, read by
:class:`chainrule.models.TextColumns`: ``--model mlp`` (mean embedding, then the MLP of
``--hidden``), ``textcnn`` (Kim 2014), ``gru`` or ``transformer``; the target decides the task
(regression, binary or multiclass) as for every other model.

``fit`` saves the tokenizer as ``tokenizer.json`` beside ``model.safetensors`` and
``model.json`` (written first, atomically; ``model.json`` records its SHA-256 and the text
settings), and ``predict`` re-applies it. A missing text value is an empty document.

Usage errors (exit code 2, before any work): ``--text`` with a model that cannot read text,
a text model without ``--text``, a ``--text`` column that is not a text column, is empty, is
missing from the data, is the target or is also a ``--features`` column.
"""
from __future__ import annotations

import hashlib
import pathlib
import sys
import time

import numpy as np

from .arguments import TEXT_MODEL_OPTIONS, TEXT_MODELS, int_list, name_list, positive_int
from .errors import CommandError

TEXT_INPUT_MODELS = ("mlp",) + TEXT_MODELS
TOKENIZER_FILE = "tokenizer.json"
PLACEHOLDER = "__chainrule_text_row__"  # the tabular encoder's one column when --text comes without --features

_TEXT_OPTIONS = ("tokenizer", "vocab_size", "max_length", "cased", "embedding_dim")


def add_text_arguments(parser) -> None:
    """``--text`` and the tokenizer's and text networks' options (``chainrule fit``)."""
    group = parser.add_argument_group("text inputs (--model mlp|textcnn|gru|transformer)")
    group.add_argument("--text", metavar="COL", type=name_list, action="extend",
                       help="a free-text column as model input (repeat, or A,B, for several); the other inputs "
                            "are then only the --features given")
    group.add_argument("--tokenizer", choices=("bpe", "wordpiece"), default="bpe",
                       help="subword vocabulary trained on the training rows' text: byte-pair encoding (default; "
                            "the same vocabulary every run) or WordPiece (Hugging Face's trainer breaks ties in "
                            "another order each run, so the vocabulary and the fit vary from run to run)")
    group.add_argument("--vocab-size", type=positive_int, default=5000, metavar="N",
                       help="largest vocabulary, special tokens included (default: %(default)s)")
    group.add_argument("--max-length", type=positive_int, default=128, metavar="N",
                       help="tokens kept per document, [CLS] included; longer ones are cut (default: %(default)s)")
    group.add_argument("--cased", action="store_true",
                       help="keep upper case (default: lower-case after Unicode NFKC normalization)")
    group.add_argument("--embedding-dim", type=positive_int, default=64, metavar="N",
                       help="token embedding (and encoder) width (default: %(default)s)")
    group.add_argument("--kernel-sizes", type=int_list, default=[3, 4, 5], metavar="K,K",
                       help="textcnn: convolution widths (default: 3,4,5)")
    group.add_argument("--filters", type=positive_int, default=64, metavar="N",
                       help="textcnn: feature maps per width (default: %(default)s)")
    group.add_argument("--layers", type=positive_int, default=1, metavar="N",
                       help="gru, transformer: encoder layers (default: %(default)s)")
    group.add_argument("--heads", type=positive_int, default=4, metavar="N",
                       help="transformer: attention heads, dividing --embedding-dim (default: %(default)s)")


def _given_text(args) -> bool:
    return bool(getattr(args, "text", None))


def _models(*names):
    return lambda args: args.model in names, "--model " + "|".join(names)


_NETWORKS = _models(*TEXT_INPUT_MODELS)
_MLP_ONLY = ("hidden", "activation", "batchnorm")  # applicability.FIT_RULES has them

# dest -> (applies(args), where it applies): added to applicability.FIT_RULES. The text networks
# train like the mlp; --text applies to the networks that read text, its options with --text.
TEXT_RULES = {
    **{dest: _NETWORKS for dest in ("dropout", "optimizer", "lr", "epochs", "batch_size", "device")},
    "text": _NETWORKS,
    **{dest: (_given_text, "fits with --text") for dest in _TEXT_OPTIONS},
    **{dest: _models(*models) for dest, models in TEXT_MODEL_OPTIONS.items() if models and dest not in _MLP_ONLY},
    "chunksize": (lambda args: not _given_text(args) and args.model not in TEXT_MODELS,
                  "fits without --text (the tokenizer is trained on the training rows in memory)"),
}


def usage_error(message: str):
    """Exit with code 2, as argparse does for a usage error, printing ``message``."""
    print(f"chainrule fit: error: {message}", file=sys.stderr)
    raise SystemExit(2)


def check_text_arguments(args) -> None:
    """The usage errors that need no data: a text model without ``--text``, ``--text`` with a
    model that cannot read text, a column given twice or as the target or a feature."""
    text = list(getattr(args, "text", None) or [])
    if not text:
        if args.model in TEXT_MODELS:
            usage_error(f"--model {args.model} reads text: name the text column(s) with --text COL")
        return
    if args.model not in TEXT_INPUT_MODELS:
        usage_error(f"--text does not apply to --model {args.model}: it applies to --model "
                    f"{'|'.join(TEXT_INPUT_MODELS)}")
    repeated = sorted({name for name in text if text.count(name) > 1})
    if repeated:
        usage_error(f"--text names {repeated} more than once")
    if args.target in text:
        usage_error(f"--text {args.target!r} is the target; a model cannot read its own target")
    both = [name for name in text if name in (args.features or [])]
    if both:
        usage_error(f"--text {both} also listed in --features: a column is either text (tokenized) or a feature "
                    f"(encoded as a number or category), not both")
    if args.vocab_size < 4 or args.max_length < 2:
        usage_error(f"--vocab-size must be at least 4 (the 3 special tokens and one piece) and --max-length at "
                    f"least 2 ([CLS] and one piece); got {args.vocab_size} and {args.max_length}")
    if args.model == "transformer" and args.embedding_dim % args.heads:
        usage_error(f"--embedding-dim {args.embedding_dim} is not divisible by --heads {args.heads}")


def check_text_columns(frame, columns) -> None:
    """Each ``--text`` column is in ``frame``, holds strings, and at least one non-empty one."""
    import pandas as pd

    for name in columns:
        if name not in frame.columns:
            usage_error(f"--text {name!r} is not a column of the data; its columns are {list(frame.columns)}")
        column = frame[name]
        values = column.dropna()
        if not any(isinstance(value, str) and value.strip() for value in values):
            if values.empty or all(isinstance(value, str) for value in values):
                usage_error(f"--text {name!r} is empty: it holds no text (every value is missing or blank)")
        is_text = (pd.api.types.is_object_dtype(column) or pd.api.types.is_string_dtype(column)
                   or isinstance(column.dtype, pd.CategoricalDtype))
        not_text = next((v for v in values if not isinstance(v, str)), None) if is_text else None
        if not is_text or not_text is not None:
            what = f"dtype {column.dtype}" if not is_text else f"{type(not_text).__name__} values such as {not_text!r}"
            usage_error(f"--text {name!r} is not a text column ({what}); --text takes a column of strings; give "
                        f"numbers and categories with --features")


class TextInputs:
    """The text side of a fit: the columns, the trained tokenizer and its settings."""

    def __init__(self, columns, tokenizer, settings: dict, numeric: list, feature_names: list, n_documents: int,
                 truncated: int):
        self.columns, self.tokenizer, self.settings = list(columns), tokenizer, dict(settings)
        self.numeric, self.feature_names = list(numeric), list(feature_names)
        self.n_documents, self.truncated = int(n_documents), int(truncated)

    @property
    def description(self) -> str:
        share = self.truncated / self.n_documents if self.n_documents else 0.0
        cut = (f"{self.truncated} training documents ({share:.0%}) cut at --max-length {self.settings['max_length']}"
               if self.truncated else "no training document cut")
        return (f"text {', '.join(self.columns)}: {self.settings['tokenizer']} vocabulary of "
                f"{self.tokenizer.vocab_size} tokens trained on the {self.n_documents} training documents only; "
                f"{self.tokenizer.length} tokens per document ([CLS] included; {cut})")

    def summary(self) -> dict:
        return {"columns": self.columns, **self.settings, "vocabulary": self.tokenizer.vocab_size,
                "tokens_per_document": self.tokenizer.length, "training_documents": self.n_documents,
                "training_documents_cut": self.truncated, "features": self.numeric}

    def save(self, directory) -> dict:
        """Write ``tokenizer.json`` to ``directory`` (atomically); returns what ``model.json`` adds."""
        from ..engine.serialization import atomic_write

        content = self.tokenizer.to_json().encode("utf-8")
        atomic_write(pathlib.Path(directory) / TOKENIZER_FILE, content)
        spec = {**self.summary(), "tokenizer_file": TOKENIZER_FILE,
                "tokenizer_sha256": hashlib.sha256(content).hexdigest()}
        return {"text": spec, "feature_names": list(self.feature_names)}


def prepare_text_data(args, standardize: bool = True):
    """``prepare_data`` for ``--text``: the tabular encoder for the target and ``--features``, the
    seeded split, the tokenizer trained on the training rows' text, and the input matrix
    [ids of each text column | encoded features] (float64). Returns a ``PreparedData`` with
    ``text`` (a :class:`TextInputs`) set."""
    from ..data import SubwordTokenizer
    from ..datasets import read_table
    from ..tabular import TabularEncoder
    from .preparation import PreparedData, class_labels, default_val_split

    check_text_arguments(args)
    frame = read_table(args.data)
    check_text_columns(frame, args.text)
    features = list(args.features or [])
    table = frame.drop(columns=list(args.text))
    if not features:
        table[PLACEHOLDER] = np.arange(len(table), dtype=np.float64)
    encoder = TabularEncoder(args.target, features or [PLACEHOLDER], task="auto", dropna=args.dropna,
                             impute=args.impute, standardize=standardize)
    usable = np.asarray(encoder.usable_rows(table), dtype=np.int64)
    train_rows, val_rows = split_rows(usable, default_val_split(args), args.seed)
    encoder.fit(table, standardize_rows=train_rows)
    X_features, y = encoder.transform(table)
    kept = np.asarray(encoder.last_kept_rows_, dtype=np.int64)
    training_text = [text for column in args.text for text in frame[column].iloc[train_rows]]
    if not any(isinstance(text, str) and text.strip() for text in training_text):
        raise CommandError(f"--text {', '.join(args.text)}: the training rows hold no text to learn a vocabulary "
                           f"from (every training document is missing or blank)")
    tokenizer = SubwordTokenizer.train(training_text, vocab_size=args.vocab_size, algorithm=args.tokenizer,
                                       lowercase=not args.cased, max_length=args.max_length)
    ids = [tokenizer.encode(frame[column].iloc[kept]) for column in args.text]
    X = np.hstack(ids + ([X_features] if features else [])).astype(np.float64)
    train_index, val_index = np.searchsorted(kept, train_rows), np.searchsorted(kept, val_rows)
    settings = {"tokenizer": args.tokenizer, "vocab_size": args.vocab_size, "max_length": args.max_length,
                "lowercase": not args.cased}
    text = TextInputs(args.text, tokenizer, settings, list(encoder.input_columns_) if features else [],
                      list(encoder.feature_names_) if features else [], len(training_text),
                      tokenizer.truncated(training_text))
    summary = _summary(encoder, features, text, len(train_index), len(val_index))
    data = PreparedData(
        X_train=X[train_index], y_train=y[train_index], X_val=X[val_index], y_val=y[val_index],
        feature_names=[f"{column} (text)" for column in args.text] + text.feature_names, task=encoder.task_,
        classes=class_labels(encoder.classes_), encoder=encoder, summary=summary, frame=frame,
        train_rows=train_rows, val_rows=val_rows)
    data.text = text
    return data


def split_rows(rows: np.ndarray, share: float, seed: int):
    """A seeded random split of ``rows`` into (train, validation), both sorted (the split of
    ``chainrule fit``'s other models)."""
    n_val = int(round(share * len(rows)))
    if share > 0 and n_val == 0 and len(rows) > 1:
        n_val = 1
    order = np.random.default_rng(seed).permutation(len(rows))
    train, val = np.sort(rows[order[n_val:]]), np.sort(rows[order[:n_val]])
    if len(train) < 2:
        raise CommandError(f"only {len(train)} training rows remain; need at least 2")
    return train, val


def _summary(encoder, features, text: TextInputs, n_train: int, n_val: int) -> dict:
    summary = dict(encoder.summary())
    if not features:  # the encoder's placeholder column is no input of the model
        summary.update(columns=[], n_features=0, feature_names=[], standardization="no --features")
    summary.update(text=text.summary(), training_rows=int(n_train), validation_rows=int(n_val))
    return summary


# --------------------------------------------------------------------------- the network

def network_spec(args, data) -> dict:
    """The :func:`chainrule.models.text_columns` arguments of this fit (saved in model.json)."""
    text = data.text
    return {"kind": args.model, "vocab": text.tokenizer.vocab_size, "num_outputs": data.n_outputs,
            "columns": len(text.columns), "length": text.tokenizer.length, "numeric": len(text.feature_names),
            "width": args.embedding_dim, "hidden": list(args.hidden), "activation": args.activation,
            "dropout": args.dropout, "batchnorm": bool(args.batchnorm), "layers": args.layers, "heads": args.heads,
            "kernel_sizes": list(args.kernel_sizes), "filters": args.filters}


def fit_text_network(args, data, *, verbose: int = 1):
    """Build the text network of ``--model`` and train it as the mlp is trained (``--optimizer``,
    ``--lr``, ``--epochs``, ``--batch-size``)."""
    import chainrule as cr

    from ..models import text_columns
    from .models import FitOutcome, Predictor
    from .networks import learning_rate
    from .training import train_network

    cr.manual_seed(args.seed)
    spec = network_spec(args, data)
    network = text_columns(**spec)
    start = time.perf_counter()
    history = train_network(args, data, network, args.optimizer, lr=args.lr, verbose=verbose)
    seconds = time.perf_counter() - start
    predictor = Predictor(kind=args.model, task=data.task, classes=data.classes, network=network,
                          network_spec={"text_network": spec})
    lr = learning_rate(args.optimizer, args.lr)
    return FitOutcome(predictor=predictor, history=history, seconds=seconds, notes=[f"{args.optimizer} lr {lr:g}"])


def rebuild_text_network(network_spec: dict, arrays: dict):
    """The network of a saved ``--text`` model, with its weights, in eval mode."""
    from ..models import text_columns

    network = text_columns(**network_spec["text_network"])
    prefix = "network."
    network.load_state_dict({name[len(prefix):]: value for name, value in arrays.items() if name.startswith(prefix)})
    network.eval()
    return network


# --------------------------------------------------------------------------- predict

def load_tokenizer(model_dir, text_spec: dict):
    """The tokenizer saved beside a model, after checking it is the one ``model.json`` names."""
    from ..data import SubwordTokenizer

    path = pathlib.Path(model_dir) / text_spec["tokenizer_file"]
    if not path.is_file():
        raise CommandError(f"{str(path)!r} is missing: a model fitted with --text needs the tokenizer saved with it")
    content = path.read_bytes()
    if hashlib.sha256(content).hexdigest() != text_spec["tokenizer_sha256"]:
        raise CommandError(f"{str(path)!r} is not the tokenizer {str(model_dir)!r}'s model was fitted with (its "
                           f"checksum differs from model.json's); fit the model again")
    try:
        return SubwordTokenizer.from_json(content.decode("utf-8"))
    except Exception as exc:  # noqa: BLE001 - tokenizers raises plain Exception for a malformed file
        raise CommandError(f"{str(path)!r} is corrupt or not a tokenizer ({exc}); fit the model again") from None


def text_design(model_dir, spec: dict, encoder, frame, *, dropna: bool):
    """``(X, rows)`` for ``predict``: the saved tokenizer's ids of each text column and the saved
    encoder's features, for the rows kept (all, unless ``--dropna`` drops rows with missing features)."""
    text_spec = spec["text"]
    absent = [column for column in text_spec["columns"] if column not in frame.columns]
    if absent:
        raise CommandError(f"the data lacks the text column(s) {absent} the model was fitted with; it has "
                           f"{list(frame.columns)}")
    tokenizer = load_tokenizer(model_dir, text_spec)
    rows, blocks = np.arange(len(frame)), []
    if text_spec["features"]:
        if dropna:  # as predict does for every model: --dropna, or the fit's own --dropna
            encoder.dropna = True
        X_features, _ = encoder.transform(frame, require_target=False)
        rows = np.asarray(encoder.last_kept_rows_, dtype=np.int64)
        blocks.append(X_features)
    try:
        ids = [tokenizer.encode(frame[column].iloc[rows]) for column in text_spec["columns"]]
    except TypeError as exc:
        raise CommandError(f"a text column holds values that are not text: {exc}") from None
    return np.hstack(ids + blocks).astype(np.float64), rows
