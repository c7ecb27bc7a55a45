"""The command line's arguments: the argument groups the subcommands share, the argparse
types that check a value as it is parsed, the help formatter, and the settings of a run as
the report and ``model.json`` record them (:func:`settings_of`).

Every subcommand that reads a table (``fit``, ``compare-optimizers``, ``diagnose``,
``landscape``, ``compute``) takes :func:`add_data_arguments`, and those that fit a model
:func:`add_model_arguments`, so an option means the same everywhere.
"""
from __future__ import annotations

import argparse
import importlib
from collections.abc import Sequence
from functools import cached_property

from .networks import DEFAULT_LR, OPTIMIZERS

MODELS = ("ols", "logit", "mnlogit", "ridge", "lasso", "elasticnet", "stepwise", "pcr", "mlp")
STATS_MODELS = ("ols", "logit", "mnlogit", "ridge", "lasso", "elasticnet", "stepwise", "pcr")
STATS_MODELS += ("iv", "liml")  # issue 22: panel/IV (cli/panel_iv.py; fit's --model choices add them)
PENALTIES = ("l2", "l1", "elasticnet")

# --text inputs: the networks that read only text columns (cli/text_inputs.py; mlp reads them too)
TEXT_MODELS = ("textcnn", "gru", "transformer")
_TEXT_ONLY = {"text", "tokenizer", "vocab_size", "max_length", "cased", "embedding_dim", "kernel_sizes", "filters",
              "layers", "heads"}
# the options only some networks take, with --text: option -> the models that take it
TEXT_MODEL_OPTIONS = {"kernel_sizes": ("textcnn",), "filters": ("textcnn",), "layers": ("gru", "transformer"),
                      "heads": ("transformer",), "hidden": ("mlp",), "activation": ("mlp",), "batchnorm": ("mlp",),
                      "chunksize": ()}


# --------------------------------------------------------------------------- help

class HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """Wraps one-paragraph descriptions to the terminal; keeps text that has its own line
    breaks (the examples) as written."""

    def _fill_text(self, text, width, indent):
        if "\n" in text.strip():
            return super()._fill_text(text, width, indent)
        return argparse.HelpFormatter._fill_text(self, text, width, indent)


# --------------------------------------------------------------------------- choices defined elsewhere

class DeferredChoices(Sequence):
    """argparse ``choices`` kept as a constant of a library module (``module.name``), read
    when argparse first needs them: to check a value given on the command line, or to print
    a subcommand's help. Building the parser imports nothing, so ``chainrule --help`` does
    not pay for ``chainrule.stats`` (which imports scipy) to list the covariance types."""

    def __init__(self, module: str, name: str):
        self.module, self.name = module, name

    @cached_property
    def values(self) -> tuple:
        return tuple(getattr(importlib.import_module(self.module), self.name))

    def __getitem__(self, index):
        return self.values[index]

    def __len__(self) -> int:
        return len(self.values)


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


def unit_interval(text: str) -> float:
    """argparse type: a number in [0, 1]."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number in [0, 1], got {text!r}") from None
    if not 0 <= value <= 1:
        raise argparse.ArgumentTypeError(f"expected a number in [0, 1], got {text}")
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


def add_data_arguments(parser: argparse.ArgumentParser, *, optional: bool = False, formula: bool = False) -> None:
    """DATA, ``--target``, ``--features``, ``--dropna``, ``--impute``, ``--val-split``, ``--seed``;
    ``--formula`` (instead of ``--target``/``--features``) when ``formula``."""
    group = parser.add_argument_group("data")
    group.add_argument("data", metavar="DATA", nargs="?" if optional else None,
                       help="a .csv/.parquet file or the name of a bundled dataset "
                            "(see: chainrule datasets)")
    group.add_argument("--target", metavar="COL", required=not (optional or formula),
                       help="the column to predict" + (" (or give --formula)" if formula else ""))
    group.add_argument("--features", metavar="A,B,...", type=name_list,
                       help="feature columns (default: every column but the target)")
    if formula:
        group.add_argument("--formula", metavar='"Y ~ A + C(G) + A:B"',
                           help="statistical models: a model formula instead of --target/--features "
                                "(C(g) categorical, a:b interaction, a*b both, np.log(x), center(x), "
                                "- 1 no intercept); predict re-applies it")
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


def add_model_arguments(parser: argparse.ArgumentParser, *, models=MODELS, default_model=None,
                        statistical: bool = True) -> None:
    """``--model`` and its options, grouped by the models they apply to (so ``--help`` reads by
    model); the statistical models' groups only when ``statistical`` (``chainrule fit``: the
    other subcommands train networks or study the loss, and do not take them)."""
    group = parser.add_argument_group("model")
    group.add_argument("--model", choices=models, required=default_model is None,
                       default=default_model, help="the model to fit")
    if statistical:
        _add_statistical_arguments(parser)
    mlp = parser.add_argument_group("mlp")
    mlp.add_argument("--hidden", type=int_list, default=[64, 64], metavar="N,N",
                     help="hidden layer sizes (default: 64,64)")
    mlp.add_argument("--activation", default="relu",
                     choices=("relu", "leaky_relu", "tanh", "sigmoid", "gelu", "silu", "elu", "selu", "softplus"),
                     help="hidden activation (default: %(default)s)")
    mlp.add_argument("--dropout", type=fraction, default=0.0,
                     help="dropout probability after each hidden layer (default: 0)")
    mlp.add_argument("--batchnorm", action="store_true", help="BatchNorm1d after each hidden Linear")
    optim = parser.add_argument_group("training (networks)")
    optim.add_argument("--optimizer", choices=OPTIMIZERS, default="adam",
                       help="the optimizer (default: %(default)s)")
    optim.add_argument("--lr", type=positive_float,
                       help="learning rate (default per optimizer: "
                            + ", ".join(f"{k} {v:g}" for k, v in DEFAULT_LR.items()) + ")")
    optim.add_argument("--epochs", type=positive_int, default=20,
                       help="passes over the training rows (default: %(default)s)")
    optim.add_argument("--batch-size", type=positive_int, default=32,
                       help="mini-batch size (default: %(default)s; gd uses every row)")
    optim.add_argument("--device", default="cpu",
                       help="cpu, cuda or cuda:N (cuda needs the gpu extra: pip install chainrule[gpu])")


def _add_statistical_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of the statistical models, one argument group per model family."""
    common = parser.add_argument_group("statistical models")
    common.add_argument("--solver",
                        help="ols: qr|normal|gd; logit/mnlogit: newton|gd|adam; lasso/elasticnet: cd|fista")
    common.add_argument("--no-intercept", action="store_true",
                        help="fit without an intercept (not pcr; with --formula write - 1)")
    ols = parser.add_argument_group("ols")
    ols.add_argument("--cov-type", default="nonrobust", choices=DeferredChoices("chainrule.stats", "COV_TYPES"),
                     help="covariance of the estimates (default: %(default)s)")
    ols.add_argument("--cluster", metavar="COL", help="cluster-robust standard errors by this column "
                     "(--absorb, iv, liml, dml-*: COL[,COL] for multi-way clustering)")  # issue 22: panel/IV, DML
    logit = parser.add_argument_group("logit, mnlogit")
    logit.add_argument("--margeff", action="store_true", help="also print average marginal effects (unpenalized)")
    logit.add_argument("--penalty", choices=PENALTIES,
                       help="logit: penalized logistic regression (scikit-learn's objective; the remedy for "
                            "separated classes)")
    logit.add_argument("--C", dest="C", type=positive_float,
                       help="logit --penalty: inverse penalty strength (omit to choose it by --cv; default 1)")
    penalized = parser.add_argument_group("ridge, lasso, elasticnet")
    penalized.add_argument("--alpha", type=positive_float,
                           help="penalty strength (omit to choose it by cross-validation: --cv K folds)")
    penalized.add_argument("--l1-ratio", type=unit_interval, metavar="RHO",
                           help="elasticnet, logit --penalty elasticnet: the L1 share of the penalty (default 0.5)")
    selection = parser.add_argument_group("model choice (ridge, lasso, elasticnet, logit --penalty, pcr, stepwise)")
    selection.add_argument("--cv", type=positive_int, metavar="K",
                           help="choose the penalty, the components or the model size by K-fold "
                                "cross-validation (stepwise: with --criterion cv)")
    selection.add_argument("--n-components", type=positive_int,
                           help="pcr: principal components kept (omit to choose by --cv, default 5 folds)")
    selection.add_argument("--criterion", default="bic", choices=("bic", "aic", "adjr2", "cv"),
                           help="stepwise: how to choose among the nested models (default: %(default)s)")


# --------------------------------------------------------------------------- help lists what is used (issue 19)

def hide_options(parser: argparse.ArgumentParser, dests) -> None:
    """Leave the options ``dests`` out of ``--help`` (a subcommand that never reads them); typed,
    they still reach the applicability check, which refuses them with the reason (exit code 2)."""
    for action in parser._actions:
        if action.dest in dests:
            action.help = argparse.SUPPRESS


def scope_groups(parser: argparse.ArgumentParser, scope: str, titles=("data", "model", "mlp", "training (networks)")) \
        -> None:
    """Add ``(scope)`` to the titles of the shared argument groups, e.g. "mlp (compute DATA)"."""
    for group in parser._action_groups:
        if group.title in titles:
            group.title = f"{group.title} ({scope})"


# --------------------------------------------------------------------------- standardization (issue 19)

def add_standardize_argument(parser: argparse.ArgumentParser) -> None:
    """``--standardize/--no-standardize`` (``chainrule fit``): :mod:`chainrule.cli.scaling`."""
    group = parser.add_argument_group(
        "scaling (ridge, lasso, elasticnet, pcr, mlp, logit --penalty, --solver gd|adam|fista)")
    group.add_argument("--standardize", action=argparse.BooleanOptionalAction, default=None,
                       help="centre and scale each numeric feature by its training-split mean and standard deviation "
                            "before the fit (default: on where the scale changes the fit: penalties, components, "
                            "gradient steps); coefficients are reported on the original scale and predict re-applies "
                            "the scaling. Refused for ols, stepwise and Newton logit/mnlogit, whose fit it does not "
                            "change")


def add_output_arguments(parser: argparse.ArgumentParser, *, default: str = "chainrule-output") -> None:
    """``--out DIR``."""
    parser.add_argument("--out", metavar="DIR", default=default,
                        help="directory for the report, the model, metrics and figures "
                             "(default: %(default)s)")


# --------------------------------------------------------------------------- settings of a run

# Options that mean something only for networks, or only for the statistical models.
_NETWORK_ONLY = {"hidden", "activation", "dropout", "batchnorm", "optimizer", "lr", "epochs",
                 "batch_size", "optimizers", "compare_epochs"}
_STATS_ONLY = {"alpha", "cv", "n_components", "cov_type", "cluster", "criterion", "solver",
               "no_intercept", "margeff", "l1_ratio", "penalty", "C",
               "absorb", "endog", "instruments"}  # issue 22: panel/IV


def settings_of(args) -> dict:
    """The command-line settings of a run that apply to its model, JSON-able, for the report
    and model.json (an OLS fit does not list --hidden, an mlp does not list --cov-type)."""
    skip = {"func", "debug", "command", "given_options_"}
    model = getattr(args, "model", None)
    if model in STATS_MODELS and getattr(args, "solver", None) not in ("gd", "adam"):
        skip |= _NETWORK_ONLY
    elif model == "mlp" or model in TEXT_MODELS:  # --text inputs: the text networks are networks too
        skip |= _STATS_ONLY
    if not getattr(args, "text", None):  # --text inputs: the tokenizer's settings only with --text
        skip |= _TEXT_ONLY
    else:  # --text inputs: only the options of this text network
        skip |= {dest for dest, models in TEXT_MODEL_OPTIONS.items() if model not in models}
    return {key: value for key, value in sorted(vars(args).items()) if key not in skip}
