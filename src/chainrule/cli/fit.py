"""``chainrule fit``: fit a model to a table and write the report, the model and the metrics.

The steps: read and validate the table (:mod:`chainrule.tabular`), hold out a validation
share, fit (a ``chainrule.stats`` estimator, or an MLP trained by the Trainer), print the
coefficient table or the training progress and the final metrics, and write to ``--out``:
``report.html``, ``model.safetensors`` + ``model.json`` (for ``chainrule predict``),
``metrics.json`` (metrics, timings, peak memory) and the figures as PNG.
"""
from __future__ import annotations

import time

import numpy as np

from . import dml_fit, panel_iv  # issue 22: panel/IV, DML
from .arguments import (
    MODELS,
    STATS_MODELS,
    TEXT_MODELS,
    HelpFormatter,
    add_data_arguments,
    add_debug_argument,
    add_model_arguments,
    add_output_arguments,
    add_standardize_argument,
    positive_int,
    settings_of,
)
from .networks import check_device
from .output import console, is_main_process, output_directory, peak_memory_bytes
from .preparation import prepare_data

EXAMPLES = """examples:
  chainrule fit wages.csv --target wage --model ols --cov-type HC1
  chainrule fit mroz.parquet --target inlf --model logit --margeff
  chainrule fit digits --target target --model mlp --hidden 128 --epochs 30 --optimizer adam
  chainrule fit data.csv --target y --model lasso --cv 5 --out lasso-run
  chainrule fit big.parquet --target y --model ols --cov-type HC1 --chunksize 200000
  chainrule fit grunfeld --target invest --features value,capital --model ols --absorb firm,year --cluster firm
  chainrule fit data.csv --target y --model iv --endog d --instruments z1,z2 --cov-type HC1
  chainrule fit data.csv --target y --model dml-plr --treatment d --learner lasso --folds 5"""


def register(subparsers) -> None:

    parser = subparsers.add_parser(
        "fit",
        help="fit a statistical model or a neural net to a CSV/Parquet file",
        description="Fit --model to DATA's --target column from the other (or the --features) "
                    "columns. Categorical columns are one-hot encoded (first level the "
                    "reference), booleans become 0/1, missing values are refused unless "
                    "--dropna or --impute; numeric inputs are standardized (training-split "
                    "means and standard deviations, saved for predict; estimates reported on the "
                    "original scale) where their scale changes the fit: penalties, components, "
                    "gradient steps (--no-standardize to switch it off). Writes report.html, model.safetensors + "
                    "model.json, metrics.json and the figures to --out.",
        epilog=EXAMPLES, formatter_class=HelpFormatter,
    )
    add_data_arguments(parser, formula=True)
    parser.add_argument("--chunksize", type=positive_int, metavar="ROWS",
                        help="read DATA in chunks of ROWS rows, never whole, so a file larger than "
                             "memory can be fitted: ols (one pass; HC0-HC3 two), logit (Newton, one "
                             "pass per iteration) and mlp (epochs over the chunks); the validation "
                             "rows are a seeded hash of the row number. Under mpiexec -n N, ols "
                             "splits the chunks over the ranks")
    add_model_arguments(parser, models=MODELS + TEXT_MODELS + panel_iv.MODELS + dml_fit.MODELS)  # issue 22: iv, dml
    panel_iv.add_arguments(parser)  # issue 22: panel/IV (--absorb, --endog, --instruments)
    dml_fit.add_arguments(parser)  # issue 22: --model dml-plr|dml-irm|dml-pliv (--treatment, --learner, ...)
    add_standardize_argument(parser)  # issue 19: --standardize/--no-standardize
    from .text_inputs import add_text_arguments  # --text inputs

    add_text_arguments(parser)
    add_output_arguments(parser)
    parser.add_argument("--overwrite", action="store_true",  # issue 19 (safety)
                        help="replace the model a previous fit wrote to --out (default: refuse)")
    add_debug_argument(parser)
    from .artifacts import refuse_overwrite  # noqa: PLC0415 - issue 19 (safety): --out holding a model

    parser.set_defaults(func=refuse_overwrite(run))


def needs_standardization(args) -> bool:
    """Standardize the inputs where their scale changes the fit (penalties, components, gradient
    steps), unless ``--no-standardize``: :mod:`chainrule.cli.scaling`."""
    from .scaling import standardize_inputs

    return standardize_inputs(args)


def run(args) -> int:
    if args.model in dml_fit.MODELS:  # issue 22: a treatment effect, not a predictor (cli/dml_fit.py)
        return dml_fit.run(args)
    fit_and_write(args)
    return 0


def fit_and_write(args, *, report=None, section_prefix: str = ""):
    """Fit ``args.model`` as ``chainrule fit`` does, print the results, write the outputs to
    ``--out``; add the report's sections to ``report`` (titles prefixed) when one is given.
    Returns ``(data, outcome, metrics)``."""
    from .estimators import fit_statistical
    from .models import evaluate
    from .training import fit_network

    if getattr(args, "chunksize", None):
        return fit_chunks_and_write(args, report=report, section_prefix=section_prefix)
    check_device(args.device)
    panel_iv.prepare_args(args)  # issue 22: panel/IV (formula '|'/'(d ~ z)', default features, --endog)
    out = output_directory(args)
    timings = {}
    start = time.perf_counter()
    if getattr(args, "text", None) or args.model in TEXT_MODELS:  # --text inputs (cli/text_inputs.py)
        from .text_inputs import prepare_text_data

        data = prepare_text_data(args, standardize=needs_standardization(args))
    else:
        data = prepare_data(args, standardize=needs_standardization(args))
    args.standardize = data.encoder.mean_ is not None  # issue 19: the run's settings record what was done
    timings["read and encode"] = time.perf_counter() - start
    screen = console()
    screen.print(_data_line(args, data))
    if getattr(data, "text", None) is not None:  # --text inputs: the tokenizer trained on the training rows
        screen.print(data.text.description, markup=False)
    note = linear_probability_note(args, data.y_train)
    if note:
        screen.print(note, markup=False)

    if args.model in STATS_MODELS:
        outcome = fit_statistical(args, data)
        _print_statistical(screen, args, data, outcome.estimator)
        panel_iv.print_results(screen, args, outcome)  # issue 22: panel/IV (FE levels; first stage, overid)
    elif getattr(data, "text", None) is not None:  # --text inputs: the text network of --model
        from .text_inputs import fit_text_network

        outcome = fit_text_network(args, data, verbose=1)
    else:
        outcome = fit_network(args, data, verbose=1)
    timings["fit"] = outcome.seconds

    metrics = panel_iv.metrics(args, outcome) or {  # issue 22: panel/IV (--absorb: the FE fit's own fit)
        "train": evaluate(outcome.predictor, data.X_train, data.y_train)}
    if len(data.y_val):
        metrics["validation"] = evaluate(outcome.predictor, data.X_val, data.y_val)
    _print_metrics(screen, metrics)

    if is_main_process():  # MPI: rank 0 alone writes the outputs
        write_outputs(args, out, data, outcome, metrics, timings, screen, report=report,
                      section_prefix=section_prefix,
                      rows={"training": int(len(data.y_train)), "validation": int(len(data.y_val))})
    return data, outcome, metrics


def write_outputs(args, out, data, outcome, metrics: dict, timings: dict, screen, *, report,
                  section_prefix: str, rows: dict, extra: dict | None = None) -> None:
    """Write ``model.safetensors`` + ``model.json``, ``report.html`` with its figures and
    ``metrics.json`` (metrics, timings, peak memory, rows and ``extra``) to ``out``; add the
    report's sections to ``report`` too when one is given."""
    from .artifacts import save_model, write_json

    start = time.perf_counter()
    saved = {"settings": settings_of(args)}
    saved.update(panel_iv.saved(args, outcome))  # issue 22: panel/IV (--absorb: why predict refuses)
    if getattr(data, "formula", None):
        saved["formula"] = data.formula
    if getattr(data, "text", None) is not None:  # --text inputs: tokenizer.json first, model.json records it
        saved.update(data.text.save(out))
    save_model(out, outcome.predictor, data.encoder, target=args.target, extra=saved)
    report_path = build_report(args, data, outcome, metrics, timings).write(out)
    if report is not None:
        build_report(args, data, outcome, metrics, timings, report=report, prefix=section_prefix)
    timings["write outputs"] = time.perf_counter() - start
    write_json(out / "metrics.json", {
        "model": args.model, "task": data.task, "data": str(args.data), "target": args.target,
        "metrics": metrics, "timings_seconds": timings,
        "peak_memory_bytes": peak_memory_bytes(),
        "peak_memory_note": "peak resident memory of the process (getrusage ru_maxrss)",
        "rows": rows, **_chosen(args, outcome.estimator), **(extra or {}),
    })
    screen.print(f"wrote {report_path}, {out / 'model.safetensors'}, {out / 'metrics.json'}")


def _chosen(args, estimator) -> dict:
    """``{"chosen": {...}}``: the tuning values of the fit and the score that chose them."""
    from .estimates import chosen_settings

    if estimator is None:
        return {}
    chosen = chosen_settings(args.model, estimator)
    return {"chosen": chosen} if chosen else {}


def fit_chunks_and_write(args, *, report=None, section_prefix: str = ""):
    """``fit_and_write`` for ``--chunksize ROWS``: the file is read chunk by chunk, never whole.

    The encoder comes from two passes (``TabularEncoder.fit_chunks``); ols and logit are fitted
    by ``fit_stream`` (one pass, or one per Newton iteration), mlp on the chunks spilled once
    to a temporary directory (:class:`chainrule.cli.training.ChunkCache`); the metrics are
    summed over the chunks (one more pass). The report's prediction figure uses the first
    chunk's rows; ``metrics.json`` adds ``chunksize`` and ``chunks``. Under ``mpiexec -n N``
    an ols fit splits the chunks over the ranks (rank r reads chunks c ≡ r mod N; the R
    factors are combined by TSQR and the metrics' sums gathered); rank 0 writes. Returns
    ``(data, outcome, metrics)``.
    """
    import contextlib

    from .estimators import fit_statistical_chunks
    from .models import evaluate_chunks
    from .preparation import prepare_chunked_data
    from .training import ChunkCache, fit_network_chunks

    check_device(args.device)
    out = output_directory(args)
    timings = {}
    start = time.perf_counter()
    data = prepare_chunked_data(args, standardize=needs_standardization(args))
    args.standardize = data.encoder.mean_ is not None  # issue 19: the run's settings record what was done
    timings["fit the encoder (two passes)"] = time.perf_counter() - start
    screen = console()
    with contextlib.ExitStack() as stack:
        if args.model in STATS_MODELS:
            outcome = fit_statistical_chunks(args, data)
            timings["fit"] = outcome.seconds
            start = time.perf_counter()
            gather = _allgather() if data.size > 1 else None
            metrics = {"train": evaluate_chunks(outcome.predictor, data.batches("train")(), data.task, gather)}
            metrics["validation"] = evaluate_chunks(outcome.predictor, data.batches("val")(), data.task, gather)
            data.set_counts(metrics["train"]["n"], metrics["validation"].get("n", 0), outcome.estimator.n_batches_)
        else:
            start = time.perf_counter()
            cache = stack.enter_context(ChunkCache(data))
            timings["encode the chunks once"] = time.perf_counter() - start
            outcome = fit_network_chunks(args, data, cache, verbose=1)
            timings["fit"] = outcome.seconds
            start = time.perf_counter()
            metrics = {split_name: evaluate_chunks(
                outcome.predictor, (cache.load(c, split) for c in range(len(cache.paths))), data.task)
                for split_name, split in (("train", "train"), ("validation", "val"))}
        timings["evaluate (one pass)"] = time.perf_counter() - start
    if not metrics["validation"]:
        del metrics["validation"]
    screen.print(_data_line(args, data))
    if args.model in STATS_MODELS:
        _print_statistical(screen, args, data, outcome.estimator)
    _print_metrics(screen, metrics)

    if is_main_process():
        write_outputs(args, out, data, outcome, metrics, timings, screen, report=report,
                      section_prefix=section_prefix,
                      rows={"training": data.n_train, "validation": data.n_val},
                      extra={"chunksize": data.chunksize, "chunks": data.n_chunks})
    return data, outcome, metrics


def _allgather():
    from ..engine import distributed

    return distributed.init().allgather


PENALIZED_REGRESSIONS = ("ridge", "lasso", "elasticnet")


def linear_probability_note(args, y) -> str | None:
    """For a 0/1 target fitted by ridge, lasso or the elastic net: the note that this is a
    linear probability model (predictions are not probabilities and may leave [0, 1]), and
    the classifier to use instead."""
    if args.model not in PENALIZED_REGRESSIONS:
        return None
    values = np.unique(np.asarray(y, dtype=np.float64))
    if len(values) != 2 or not np.array_equal(values, [0.0, 1.0]):
        return None
    penalty = {"ridge": "l2", "lasso": "l1", "elasticnet": "elasticnet"}[args.model]
    return (f"note: {args.target!r} holds 0 and 1 only: --model {args.model} fits a linear probability model "
            f"(its predictions are not probabilities and can leave [0, 1]); for a classifier with the same "
            f"penalty use --model logit --penalty {penalty} (add --cv K to choose C)")


def _data_line(args, data) -> str:
    classes = "" if data.classes is None else f", classes {', '.join(map(str, data.classes))}"
    if getattr(data, "chunked", False):
        return (f"{args.data}: {data.n_train} training rows, {data.n_val} validation rows in {data.n_chunks} "
                f"chunks of at most {data.chunksize} rows, {len(data.feature_names)} features after encoding; "
                f"task {data.task}{classes}")
    return (f"{args.data}: {len(data.y_train)} training rows, {len(data.y_val)} validation rows, "
            f"{len(data.feature_names)} features after encoding; task {data.task}{classes}")


def _estimates(args, data, estimator) -> list:
    """The coefficient tables of a model without its own summary (penalized, stepwise, pcr), on
    the original scale of the features."""
    from .estimates import estimates_tables, has_estimates_table
    from .scaling import note, scaling_of

    if not has_estimates_table(args.model, estimator):
        return []
    n_rows = getattr(data, "n_train", 0) or len(data.y_train)
    scaling = scaling_of(data)
    return estimates_tables(args.model, estimator, data.feature_names, args.target, n_rows, cv=args.cv,
                            scaling=scaling, scaling_note=None if scaling is None else note(data))


# --------------------------------------------------------------------------- original scale (issue 19)

def _summary(data, estimator):
    """The estimator's own summary (OLS, Logit, MNLogit) on the features' original scale, with
    the standardization note when the fit was on standardized features; None without one."""
    from .scaling import note, original_scale_results, scaling_of

    if not hasattr(estimator, "summary"):
        return None
    scaling = scaling_of(data)
    summary = original_scale_results(estimator, scaling).summary()
    if scaling is not None:
        summary.notes = list(summary.notes) + [note(data)]
    return summary


def _margeff(data, estimator):
    from .scaling import original_scale_margeff, scaling_of

    return original_scale_margeff(estimator.get_margeff(), scaling_of(data))


def _print_statistical(screen, args, data, estimator) -> None:
    summary = _summary(data, estimator)
    if summary is not None:
        screen.print(str(summary), markup=False)
    for table in _estimates(args, data, estimator):
        screen.print(str(table), markup=False)
    if args.model in ("logit", "mnlogit") and args.margeff and hasattr(estimator, "get_margeff"):
        screen.print(str(_margeff(data, estimator).summary()), markup=False)
    if args.model == "ols" and args.solver == "gd":
        screen.print(f"gradient descent: {estimator.n_iter_} iterations, "
                     f"converged {estimator.converged_}", markup=False)


def _print_metrics(screen, metrics: dict) -> None:
    from rich.table import Table

    names = [name for name in metrics["train"] if name != "n"]
    table = Table(title="metrics")
    table.add_column("split")
    for name in names:
        table.add_column(name, justify="right")
    table.add_column("rows", justify="right")
    for split, values in metrics.items():
        table.add_row(split, *[_format(values.get(name)) for name in names], str(values["n"]))
    screen.print(table)


def _format(value) -> str:
    return "-" if value is None else f"{value:.4g}"


# --------------------------------------------------------------------------- report

def build_report(args, data, outcome, metrics: dict, timings: dict, *, report=None, prefix: str = ""):
    """The HTML report of a fit, results first (:func:`chainrule.report.add_fit_sections`):
    estimates, metrics and the model's figures, then settings, data and timings collapsed
    (added to ``report`` with titles prefixed by ``prefix`` when given, else to a new report)."""
    from .. import report as rep

    if report is None:
        report = rep.Report(f"chainrule fit: {args.model} on {args.data}")
    estimator, in_memory = outcome.estimator, len(data.y_val) > 0
    chunked = getattr(data, "chunked", False)
    tables = _estimates(args, data, estimator) if estimator is not None else []
    margeff = _margeff(data, estimator).summary() if (
        args.model in ("logit", "mnlogit") and estimator is not None and hasattr(estimator, "get_margeff")
        and not chunked) else None
    run = rep.FitRun(
        model=args.model, task=data.task, target=args.target, feature_names=list(data.feature_names),
        metrics=metrics, estimator=estimator, history=outcome.history,
        estimate_tables=tables + panel_iv.tables(args, estimator),  # issue 22: panel/IV
        predict_scores=outcome.predictor.predict_scores, predict_classes=outcome.predictor.predict_classes,
        X_train=data.X_train, y_train=data.y_train, X_eval=data.X_val if in_memory else data.X_train,
        y_eval=data.y_val if in_memory else data.y_train, eval_split="validation" if in_memory else "training",
        classes=None if data.classes is None else list(data.classes), settings=settings_of(args),
        data_summary=data.summary, timings=timings, margeff=margeff,
        summary=_summary(data, estimator) if estimator is not None and not tables else None,
        standardized=getattr(data.encoder, "mean_", None) is not None,
        sample_note=" of the first chunk, a bounded sample; the metrics cover all" if chunked else "")
    panel_iv.adjust_report(args, run)  # issue 22: panel/IV (--absorb: the figures show the fit's own fitted values)
    rep.add_fit_sections(_Prefixed(report, prefix), run)
    return report


class _Prefixed:
    """Adds sections to a report with their titles prefixed (for combined reports)."""

    def __init__(self, report, prefix: str):
        self.report, self.prefix = report, prefix

    def __getattr__(self, name):
        method = getattr(self.report, name)
        prefix = self.prefix

        def add(*args, **kwargs):
            if "title" in kwargs:
                kwargs["title"] = prefix + kwargs["title"]
            elif args and isinstance(args[0], str):
                args = (prefix + args[0],) + args[1:]
            return method(*args, **kwargs)

        return add
