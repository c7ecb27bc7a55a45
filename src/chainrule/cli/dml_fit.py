"""``chainrule fit --model dml-plr|dml-irm|dml-pliv``: a treatment effect by double/debiased
machine learning from the fit command (issue 22).

    chainrule fit data.csv --target y --model dml-plr --treatment d [--features a,b,...]
                  [--instruments z] [--cluster firm[,year]] [--learner lasso|ridge|mlp] [--folds 5] [--reps 1]
                  [--score ...] [--trimming 0.01] [--seed 0] [--out DIR]

The estimation is ``chainrule dml``'s (:mod:`chainrule.cli.causal`): ``dml-plr`` is
``causal.PLR``, ``dml-irm`` is ``causal.IRM`` and ``dml-pliv`` is ``causal.PLIV``, the controls X
are ``--features`` (default: every other numeric column) and the nuisance learners those of
``--learner``; ``--cluster`` draws the folds by cluster and makes the standard errors
cluster-robust (one or two columns). The output is an effect with its standard error, not a predictor, so the fit
writes no model for ``chainrule predict``: ``--out`` receives ``report.html`` (the effects table,
the learners' out-of-fold losses, the settings) and ``metrics.json`` (the estimates, standard
errors, z statistics, p-values, 95% intervals and the out-of-fold losses).

The fit options that belong to prediction (a validation split, standardization, a formula,
missing-value handling, the statistical models' and the networks' options) do not apply and are
refused (exit code 2) with the list of what this model reads (cross-fitting is the sample
split; ``chainrule dml`` takes the same options).
"""
from __future__ import annotations

import argparse
import time

MODELS = ("dml-plr", "dml-irm", "dml-pliv")
# the fit options (argparse dests) that --model dml-* reads; every other typed option is refused
READS = ("data", "target", "features", "model", "treatment", "instruments", "cluster", "learner", "folds", "reps",
         "score", "trimming", "seed", "out", "overwrite", "debug")
_DML_ONLY = ("treatment", "learner", "folds", "reps", "score", "trimming")


def add_arguments(parser) -> None:
    """fit's group of DML options (--treatment, --score, --learner, --folds, --reps, --trimming)."""
    from .causal import add_estimation_arguments

    group = parser.add_argument_group("double/debiased machine learning (dml-plr, dml-irm, dml-pliv; the controls "
                                      "are --features, dml-pliv's instruments --instruments)")
    add_estimation_arguments(group, required=False)


def update_rules(rules: dict) -> None:
    """The DML options apply only to ``--model dml-*`` (``applicability.FIT_RULES``)."""
    scope = "--model " + "|".join(MODELS)
    rules.update({dest: (lambda args: args.model in MODELS, scope) for dest in _DML_ONLY})


def checks(args, given) -> tuple:
    """``(rules, where, reasons)`` for :func:`chainrule.cli.applicability.refuse_inapplicable`:
    of the typed options (the dests in ``given``) only :data:`READS` apply to ``--model dml-*``."""
    reads = ", ".join("--" + dest.replace("_", "-") for dest in READS[1:-1])
    reason = f"a DML fit reads only {reads} (cross-fitting is its sample split)"
    rules = {dest: (lambda args, dest=dest: dest in READS, None) for dest in given}
    return rules, f"--model {args.model}", {dest: reason for dest in given}


def estimation_args(args) -> argparse.Namespace:
    """fit's options as ``chainrule dml`` names them (``--model plr``, ``--controls`` = ``--features``)."""
    from .errors import CommandError

    if not getattr(args, "treatment", None):
        raise CommandError(f"--model {args.model} needs --treatment D (the treatment column)")
    view = argparse.Namespace(**vars(args))
    view.model, view.controls, view.model_prefix = args.model.removeprefix("dml-"), args.features, "dml-"
    # fit's --cluster is one "A,B" string (cli/panel_iv.py splits it); dml's is a list
    view.cluster = [name.strip() for name in (args.cluster or "").split(",") if name.strip()] or None
    return view


def run(args) -> int:
    """Fit the DML model, print its tables, write report.html and metrics.json to --out."""
    from ..datasets import read_table
    from .artifacts import write_json
    from .causal import estimate, headline, print_results
    from .output import is_main_process, output_directory

    start = time.perf_counter()
    view = estimation_args(args)
    frame = read_table(args.data)
    model, controls, treatments = estimate(view, frame)
    seconds = time.perf_counter() - start
    print_results(view, model, controls, treatments)
    if is_main_process():
        out = output_directory(args)
        metrics = effect_metrics(model.results_, controls, seconds)
        write_json(out / "metrics.json", metrics)
        _report(args, model, headline(view, controls, treatments), metrics).write(out)
    return 0


def effect_metrics(results, controls, seconds: float) -> dict:
    """The effects, their inference and the learners' losses, JSON-able."""
    low_high = [[float(v) for v in row] for row in _rows(results.conf_int())]
    values = {name: _rows(getattr(results, name)) for name in ("params", "bse", "tvalues", "pvalues")}
    effects = {name: {"coef": float(values["params"][j]), "std_err": float(values["bse"][j]),
                      "z": float(values["tvalues"][j]), "p_value": float(values["pvalues"][j]),
                      "ci_95": low_high[j]} for j, name in enumerate(results.names)}
    losses = {learner: [float(v) for v in loss.mean(axis=0)] for learner, loss in results.nuisance_loss.items()}
    return {"model": results.model, "score": results.score, "nobs": int(results.nobs), "folds": results.n_folds,
            "repetitions": results.n_rep, "controls": list(controls), "clusters": results.clusters, "effects": effects,
            "out_of_fold_losses": losses, "loss_kinds": dict(results.loss_kinds),
            "timings": {"fit (s)": seconds}}


def _rows(values):
    """An array (or pandas object) as a list of rows (or numbers)."""
    return values.to_numpy().tolist() if hasattr(values, "to_numpy") else [v.tolist() if hasattr(v, "tolist") else v
                                                                            for v in values]


def _report(args, model, title: str, metrics: dict):
    from ..report import Report

    report = Report(f"chainrule fit --model {args.model}: {title}")
    report.add_summary("Effects", model.results_.summary())
    report.add_summary("Nuisance learners", model.results_.nuisance_table())
    report.add_settings({dest: getattr(args, dest) for dest in READS[1:-1] if getattr(args, dest, None) is not None}
                        | {"timings": metrics["timings"]})
    return report

