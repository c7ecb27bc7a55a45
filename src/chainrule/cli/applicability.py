"""No option is silently ignored: an option given on the command line that the chosen model
or subcommand does not use is a usage error (exit code 2) naming the option and the model.

:func:`track_given_options` makes the parser record which options the user typed (a default
is not "given"), in ``args.given_options_``; :func:`refuse_inapplicable` then checks them
against the rules of the subcommand: :data:`FIT_RULES` (``chainrule fit``, by ``--model``),
:data:`COMPARE_RULES` (``compare-optimizers``), :data:`DIAGNOSE_RULES`, :data:`LANDSCAPE_RULES`
and :func:`compute_rules` (``compute``, by its mode: a preset, the 6·N·D rule, or DATA).
"""
from __future__ import annotations

import argparse

from . import dml_fit  # issue 22: --model dml-*
from .arguments import STATS_MODELS
from .panel_iv import update_rules as update_panel_iv_rules  # issue 22: panel/IV
from .text_inputs import TEXT_RULES  # --text inputs

GIVEN = "given_options_"


# --------------------------------------------------------------------------- recording what was typed

def _tracked(cls):
    """A subclass of the argparse action ``cls`` that records its dest when it is used."""

    def __call__(self, parser, namespace, values, option_string=None):
        given = getattr(namespace, GIVEN, None)
        if given is None:
            given = set()
            setattr(namespace, GIVEN, given)
        given.add(self.dest)
        cls.__call__(self, parser, namespace, values, option_string)

    return type(cls.__name__, (cls,), {"__call__": __call__})


def track_given_options(parser: argparse.ArgumentParser) -> None:
    """Make every option of ``parser`` and of its subcommands record, when typed, its dest in
    ``args.given_options_`` (a set)."""
    for action in parser._actions:
        if not action.option_strings and isinstance(action.choices, dict):  # the subcommands
            for subparser in set(action.choices.values()):
                track_given_options(subparser)
        elif action.option_strings and action.dest != argparse.SUPPRESS:
            action.__class__ = _tracked(type(action))


def given_options(args) -> set:
    """The dests of the options the user typed (empty for a Namespace built in code)."""
    return set(getattr(args, GIVEN, None) or ())


# --------------------------------------------------------------------------- the rules

def _models(*names):
    return lambda args: args.model in names, "--model " + "|".join(names)


def _penalized_logit(args) -> bool:
    return args.model == "logit" and getattr(args, "penalty", None) is not None


MLP = _models("mlp")

# dest -> (applies(args), where it applies): for ``chainrule fit``.
FIT_RULES = {
    "hidden": MLP, "activation": MLP, "dropout": MLP, "batchnorm": MLP,
    "optimizer": MLP, "lr": MLP, "epochs": MLP, "batch_size": MLP, "device": MLP,
    "alpha": _models("ridge", "lasso", "elasticnet"),
    "l1_ratio": (lambda args: args.model == "elasticnet" or (_penalized_logit(args) and args.penalty == "elasticnet"),
                 "--model elasticnet or --model logit --penalty elasticnet"),
    "penalty": (lambda args: args.model == "logit" and not getattr(args, "chunksize", None),
                "--model logit without --chunksize (penalized fits need every row in memory)"),
    "C": (_penalized_logit, "--model logit --penalty l2|l1|elasticnet"),
    "cv": (lambda args: (args.model in ("ridge", "lasso", "elasticnet") and args.alpha is None)
           or (args.model == "pcr" and args.n_components is None)
           or (_penalized_logit(args) and args.C is None)
           or (args.model == "stepwise" and args.criterion == "cv"),
           "--model ridge|lasso|elasticnet without --alpha, pcr without --n-components, "
           "logit --penalty without --C, stepwise --criterion cv (it chooses what those fix)"),
    "n_components": _models("pcr"),
    "cov_type": _models("ols"), "cluster": _models("ols"),
    "criterion": _models("stepwise"),
    "solver": (lambda args: args.model in ("ols", "logit", "mnlogit", "lasso", "elasticnet")
               and not _penalized_logit(args), "--model ols|logit|mnlogit|lasso|elasticnet"),
    "no_intercept": (lambda args: args.model in STATS_MODELS and args.model != "pcr"
                     and not getattr(args, "formula", None),
                     "the statistical models but pcr (which centres the data), without --formula (write - 1)"),
    "margeff": (lambda args: args.model in ("logit", "mnlogit") and not _penalized_logit(args),
                "--model logit|mnlogit (unpenalized)"),
    "formula": (lambda args: args.model in STATS_MODELS and not getattr(args, "chunksize", None),
                "the statistical models, without --chunksize"),
    "standardize": (lambda args: _scaling().applies(args), "--model ridge|lasso|elasticnet|pcr|mlp, logit --penalty, "
                    "--solver gd|adam|fista"),
    "target": (lambda args: not getattr(args, "formula", None), "fits without --formula (its left-hand side is "
               "the target)"),
    "features": (lambda args: not getattr(args, "formula", None), "fits without --formula (its right-hand side "
                 "makes the features)"),
}

FIT_RULES.update(TEXT_RULES)  # --text inputs: --text, its options, and the text networks' training options
update_panel_iv_rules(FIT_RULES)  # issue 22: panel/IV (--absorb, --endog, --instruments; cov types for iv/liml)
dml_fit.update_rules(FIT_RULES)  # issue 22: --treatment, --learner, ... only with --model dml-*

_NEVER = (lambda args: False, None)


def _scaling():
    from . import scaling  # issue 19: --standardize (imported when a fit is checked, not to build the parser)

    return scaling

# compare-optimizers trains every model as a network with each of --optimizers.
COMPARE_RULES = {"optimizer": _NEVER, "device": _NEVER,
                 "hidden": MLP, "activation": MLP, "dropout": MLP, "batchnorm": MLP}
_COMPARE_REASONS = {"optimizer": "compare-optimizers trains with each of --optimizers; use --optimizers A,B,...",
                    "device": "compare-optimizers trains on the CPU"}


_NETWORK = ("hidden", "activation", "dropout", "batchnorm")
_TRAINING = ("optimizer", "lr", "epochs", "batch_size")

# diagnose: the linear models' optimization diagnosis, or an MLP's initialization and smoothness.
DIAGNOSE_RULES = {**{dest: _NEVER for dest in _TRAINING},
                  **{dest: MLP for dest in _NETWORK + ("inits", "diagnostic_rows")},
                  **{dest: _models("ols", "logit") for dest in ("max_iter", "eps", "fraction")}}
_DIAGNOSE_REASONS = {dest: "diagnose does not train the model (it studies the loss at the start and gradient "
                           "descent's own steps)" for dest in _TRAINING}

_STUDY = (lambda args: bool(args.study), "landscape --study")
_NOT_STUDY = (lambda args: not args.study, "landscape without --study (the study builds its own networks)")
LANDSCAPE_RULES = {"depths": _STUDY, "widths": _STUDY, "full": _STUDY,
                   # the study reads epochs, batch_size and lr (cli/landscape.py's STUDY_OPTIONS)
                   **{dest: _NOT_STUDY for dest in _NETWORK + ("optimizer", "target", "features", "dropna", "impute",
                                                                "val_split")}}


def compute_rules(mode: str) -> dict:
    """The rules of ``chainrule compute`` in ``mode`` ("list", "preset", "rule" or "data")."""
    rules = {}
    data_only = ("target", "features", "dropna", "impute", "val_split", "hidden", "activation", "dropout",
                 "batchnorm", "lr", "epochs", "batch_size", "steps", "device")
    if mode != "data":
        rules.update({dest: _NEVER for dest in data_only})
    if mode == "preset":  # --accelerator/--count/--precision/--utilization/--price recompute it on that hardware
        rules.update({dest: _NEVER for dest in ("optimizer", "seed")})
    if mode == "list":  # the catalogue; --prices changes its price column
        rules.update({dest: _NEVER for dest in ("accelerator", "count", "precision", "utilization", "price",
                                                "optimizer", "seed")})
    return rules


def rules_for(command: str, args):
    """``(rules, where, reasons)`` for the subcommand, or None when it has no rules (or
    compute's mode is ambiguous: its own message then says so)."""
    if command == "fit" and args.model in dml_fit.MODELS:  # issue 22: only the dml options apply
        return dml_fit.checks(args, given_options(args))
    if command == "fit":
        where = f"--model {args.model}" + (f" --penalty {args.penalty}" if _penalized_logit(args) else "")
        return FIT_RULES, where, {"standardize": _scaling().REASON}
    if command == "compare-optimizers":
        return COMPARE_RULES, "compare-optimizers", _COMPARE_REASONS
    if command == "diagnose":
        return DIAGNOSE_RULES, f"diagnose --model {args.model}", _DIAGNOSE_REASONS
    if command == "landscape":
        return LANDSCAPE_RULES, "landscape" + (" --study" if args.study else ""), None
    if command == "compute":
        modes = [mode for mode, typed in (
            ("list", bool(getattr(args, "list_accelerators", False))),
            ("preset", args.preset is not None),
            ("rule", any(getattr(args, name) is not None for name in ("params", "tokens", "flops"))),
            ("data", args.data is not None)) if typed]
        if len(modes) != 1:
            return None
        where = {"list": "compute --list-accelerators (the catalogue)",
                 "preset": f"compute --preset {args.preset} (the course's example)",
                 "rule": "compute --params/--tokens/--flops (the 6·N·D rule)",
                 "data": "compute DATA (an MLP timed on this machine)"}[modes[0]]
        return compute_rules(modes[0]), where, None
    return None


# --------------------------------------------------------------------------- the check

def _flag(parser, dest: str) -> str:
    for action in parser._actions:
        if action.dest == dest and action.option_strings:
            if isinstance(action, argparse.BooleanOptionalAction):  # --standardize/--no-standardize
                return "/".join(action.option_strings)
            return max(action.option_strings, key=len)
    return "--" + dest.replace("_", "-")


def refuse_inapplicable(args, rules: dict, where: str, parser=None, reasons: dict | None = None) -> None:
    """Exit with code 2 (argparse's usage error) when a typed option does not apply: the
    message names the option, ``where`` (the model or subcommand) and where it applies."""
    for dest in sorted(given_options(args)):
        if dest not in rules:
            continue
        applies, scope = rules[dest]
        if applies(args):
            continue
        flag = _flag(parser, dest) if parser is not None else "--" + dest.replace("_", "-")
        reason = (reasons or {}).get(dest) or (f"it applies to {scope}" if scope else "it is not used there")
        message = f"{flag} does not apply to {where}: {reason}"
        if parser is not None:
            parser.error(message)
        raise SystemExit(message)
