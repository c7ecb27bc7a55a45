"""``chainrule demo``: a tour of chainrule on its bundled data, ending in one HTML report.

1. OLS with heteroscedasticity-robust (HC1) standard errors on the Grunfeld investment
   data (regression);
2. a logistic regression with average marginal effects on the 1996 ANES vote data
   (binary classification);
3. an MLP trained with Adam on the 8x8 digits, with its held-out accuracy;
4. the optimizer comparison (GD, momentum, AdaGrad, RMSProp, Adam) on the digits MLP.

Each step writes its own outputs under ``--out`` (default ``demo-output``) and adds its
sections to ``<out>/report.html``, whose path is printed last.
"""
from __future__ import annotations

import pathlib
import time

from .arguments import HelpFormatter, add_debug_argument, positive_int
from .output import console


def register(subparsers) -> None:
    demo = subparsers.add_parser(
        "demo",
        help="a tour on the bundled data: OLS, logit, an MLP on the digits, optimizers compared",
        description="Runs OLS with robust standard errors (grunfeld), a logistic regression "
                    "with marginal effects (anes96), an MLP trained with Adam on the digits "
                    "with its held-out accuracy, and the optimizer comparison, and writes "
                    "everything to one HTML report.",
        epilog="example: chainrule demo --out demo-output",
        formatter_class=HelpFormatter,
    )
    demo.add_argument("--out", metavar="DIR", default="demo-output",
                      help="directory for the outputs and report.html (default: %(default)s)")
    demo.add_argument("--epochs", type=positive_int, default=30,
                      help="epochs of the digits MLP (default: %(default)s)")
    demo.add_argument("--compare-epochs", type=positive_int, default=5,
                      help="epochs per optimizer in the comparison (default: %(default)s)")
    demo.add_argument("--seed", type=int, default=0, help="seed (default: %(default)s)")
    add_debug_argument(demo)
    demo.set_defaults(func=run)


def _parse(argv: list):
    from . import parse_arguments

    return parse_arguments([str(a) for a in argv])


def run(args) -> int:
    from .. import report as rep
    from . import compare, digits_mlp
    from .fit import fit_and_write
    from .preparation import prepare_data

    out = pathlib.Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    screen = console()
    report = rep.Report("chainrule demo: a tour on the bundled data")
    timings = {}

    def step(title: str):
        screen.rule(title)
        return time.perf_counter()

    start = step("1. OLS with robust (HC1) standard errors: Grunfeld investment data")
    fit_and_write(_parse(["fit", "grunfeld", "--target", "invest", "--features",
                          "value,capital,firm", "--model", "ols", "--cov-type", "HC1",
                          "--out", out / "ols"]), report=report, section_prefix="OLS: ")
    timings["1. OLS"] = time.perf_counter() - start

    start = step("2. Logistic regression with marginal effects: 1996 ANES vote")
    fit_and_write(_parse(["fit", "anes96", "--target", "vote", "--model", "logit", "--margeff",
                          "--out", out / "logit"]), report=report, section_prefix="Logit: ")
    timings["2. Logit"] = time.perf_counter() - start

    start = step("3. An MLP on the 8x8 digits, trained with Adam")
    result = digits_mlp.run(epochs=args.epochs, seed=args.seed)
    history = result["history"]
    report.add_text("MLP on the digits: result",
                    f"Held-out accuracy {result['test_accuracy']:.4f} on {result['n_test']} "
                    f"images never seen in training ({result['n_train']} training, "
                    f"{result['n_val']} validation images; {args.epochs} epochs of Adam).")
    report.add_figure("MLP on the digits: loss curves", rep.figure_loss_curves(history))
    metric_figure = rep.figure_metric_curves(history)
    if metric_figure is not None:
        report.add_figure("MLP on the digits: accuracy", metric_figure)
    timings["3. MLP"] = time.perf_counter() - start

    start = step("4. GD, momentum, AdaGrad, RMSProp and Adam on the digits MLP")
    compare_args = _parse(["compare-optimizers", "digits", "--target", _digits_target(),
                           "--model", "mlp", "--hidden", "64", "--epochs", args.compare_epochs,
                           "--batch-size", "64", "--seed", args.seed, "--out", out / "compare"])
    data = prepare_data(compare_args, standardize=True, val_split=0.2, task="auto")
    runs = compare.compare(compare_args, data)
    compare.print_comparison(screen, runs)
    report.add_figure("Optimizer comparison (digits MLP)", rep.figure_optimizer_comparison(runs),
                      caption="Training loss per optimizer step and per second of wall time, "
                              "every optimizer from the same initialization.")
    report.add_table("Optimizer comparison: final losses", compare.final_losses(runs))
    timings["4. optimizer comparison"] = time.perf_counter() - start

    report.add_timings(timings)
    path = report.write(out)
    screen.rule()
    screen.print(f"report: {path.resolve()}")
    return 0


def _digits_target() -> str:
    from .. import datasets

    return datasets.info("digits")["target"]
