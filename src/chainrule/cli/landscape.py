"""``chainrule landscape``: train an MLP on a table and draw its loss landscape, or run the
skip-connection study on convolutional ResNets.

The network of ``--hidden`` etc. is trained as ``chainrule fit --model mlp`` trains it, then
the training loss is evaluated around the trained weights θ along filter-normalized random
directions (Li et al. 2018; :mod:`chainrule.landscape`): ``--dim 1`` draws f(α) = L(θ + αδ),
``--dim 2`` (default) the surface f(α, β) = L(θ + αδ + βη) as a contour and a 3-D plot.
``--study`` instead runs :func:`chainrule.theory.skip_study.skip_connection_study` on the
bundled digits: ResNets of several depths with and without skip connections, trained alike,
their surfaces side by side (``--full`` for the large size). Options that the chosen mode
does not read are refused (exit code 2), not ignored. Writes ``report.html``, the figures as
PNG and ``landscape.json`` to ``--out``.
"""
from __future__ import annotations

import time
from functools import partial

import numpy as np

from .arguments import (
    HelpFormatter,
    add_data_arguments,
    add_debug_argument,
    add_model_arguments,
    add_output_arguments,
    int_list,
    positive_float,
    positive_int,
    settings_of,
)
from .errors import CommandError
from .networks import make_loss, network_inputs, network_targets
from .output import console, output_directory
from .preparation import prepare_data

EXAMPLES = """examples:
  chainrule landscape digits --target target --model mlp --hidden 64,64 --epochs 10
  chainrule landscape data.csv --target y --model mlp --dim 1 --span 2 --normalization layer
  chainrule landscape --study --out skip-study          # 1 to 2.5 minutes on 2 cores
  chainrule landscape --study --full --out skip-full    # about 50 minutes on 2 cores
  chainrule landscape --study --depths 8,14 --widths 4,8,16 --epochs 3 --steps 7"""

# The options the study reads; with --study every other option is refused.
STUDY_OPTIONS = frozenset({"study", "full", "depths", "widths", "epochs", "batch_size", "lr", "steps", "span",
                           "eval_rows", "seed", "out", "device"})
# The options only the study reads.
STUDY_ONLY = ("full", "depths", "widths")
# The MLP mode's sizes (the study takes its own from its size unless these are given).
TABLE_DEFAULTS = {"steps": 21, "span": 1.0, "eval_rows": 1000}


class _Default(int):
    """An int default (--epochs, --batch-size) that can be told from the same number typed:
    with --study, a typed value overrides the study's own setting."""


def register(subparsers) -> None:
    from ..theory.landscape import NORMALIZATIONS

    parser = subparsers.add_parser(
        "landscape",
        help="plot an MLP's loss along random directions, or the skip-connection study on ResNets",
        description="Train --model mlp on DATA, then evaluate the training loss around the trained "
                    "weights along filter-normalized random directions (Li et al. 2018): a 1-D "
                    "line (--dim 1) or a 2-D surface drawn as a contour and a 3-D plot (--dim 2). "
                    "With --study, run the skip-connection study instead: convolutional ResNets of "
                    "several depths with and without skip connections, trained on the bundled digits, "
                    "and their loss surfaces side by side (default size: depths 8, 20, 56, widths "
                    "4,8,16, 10 epochs, 15 x 15 grids: 1 to 2.5 minutes on 2 shared cores; --full: depths "
                    "20, 56, 110, widths 8,16,32, 20 epochs, 31 x 31 grids: about 50 minutes, measured). "
                    "Options the chosen mode does not read are refused. Writes report.html, the "
                    "figures and landscape.json to --out.",
        epilog=EXAMPLES, formatter_class=HelpFormatter,
    )
    add_data_arguments(parser, optional=True)
    add_model_arguments(parser, models=("mlp",), default_model="mlp", statistical=False)
    parser.set_defaults(epochs=_Default(20), batch_size=_Default(32))
    group = parser.add_argument_group("landscape")
    group.add_argument("--dim", type=int, choices=(1, 2), default=2,
                       help="1: a line f(alpha); 2: a surface f(alpha, beta) (default: %(default)s)")
    group.add_argument("--normalization", choices=NORMALIZATIONS, default="filter",
                       help="how the random direction is scaled to the weights (default: %(default)s)")
    group.add_argument("--steps", type=positive_int,
                       help="grid points per axis (default: 21; --study: 15, --full: 31)")
    group.add_argument("--span", type=positive_float,
                       help="the grid covers [-SPAN, SPAN] per axis (default: 1)")
    group.add_argument("--eval-rows", type=positive_int,
                       help="training rows the loss is evaluated on (default: 1000; --study: 256, --full: 500)")
    study = parser.add_argument_group(
        "skip-connection study (--study)",
        "The study also reads --epochs (default 10, --full 20), --batch-size (64), --lr (0.1, SGD with momentum "
        "0.9 and weight decay 5e-4, cosine-annealed), --steps, --span, --eval-rows, --seed and --out, and refuses "
        "every other option.")
    study.add_argument("--study", action="store_true",
                       help="run the skip-connection study (plain vs residual convolutional ResNets) on digits")
    study.add_argument("--full", action="store_true",
                       help="the study's large size: depths 20,56,110, widths 8,16,32, 20 epochs, 31 x 31 "
                            "grids on 500 images (measured: 52 minutes on 2 shared cores)")
    study.add_argument("--depths", type=int_list, metavar="D,D",
                       help="network depths 6n+2 (default: 8,20,56; --full: 20,56,110)")
    study.add_argument("--widths", type=int_list, metavar="W,W,W",
                       help="the three stages' widths (default: 4,8,16; --full: 8,16,32)")
    add_output_arguments(parser)
    add_debug_argument(parser)
    parser.set_defaults(func=partial(run, parser))


def run(parser, args) -> int:
    from .. import report as rep
    from .artifacts import strict_json, write_json

    _check_options(parser, args)
    if args.device != "cpu":
        raise CommandError(f"landscape runs on the CPU (each grid point is one small forward pass); "
                           f"drop --device {args.device}")
    out = output_directory(args)
    screen = console()
    start = time.perf_counter()
    if args.study:
        report = rep.Report("chainrule landscape: skip-connection study")
        results = _study(args, screen, report)
    else:
        for key, value in TABLE_DEFAULTS.items():
            setattr(args, key, value if getattr(args, key) is None else getattr(args, key))
        report = rep.Report(f"chainrule landscape: mlp on {args.data}")
        report.add_settings(settings_of(args), title="Run settings")
        results = _landscape(args, screen, report)
    seconds = time.perf_counter() - start
    report.add_timings({"landscape": seconds}, title="Timings")
    path = report.write(out)
    write_json(out / "landscape.json", strict_json({"data": args.data, "target": args.target,
                                                    "seconds": seconds, **results}))
    screen.print(f"wrote {path} and {out / 'landscape.json'}")
    return 0


def _check_options(parser, args) -> None:
    """Refuse (exit code 2, naming the option) what the chosen mode would not read."""
    given = [key for key, value in vars(args).items()
             if key not in ("func", "command", "debug", "given_options_") and value != parser.get_default(key)]
    if args.study:
        refused = [key for key in given if key not in STUDY_OPTIONS]
        if refused:
            parser.error(f"{_option(refused[0])} does not apply to --study (the study trains its own "
                         "ResNets on the bundled digits); leave it out")
        if args.depths and any(d < 8 or (d - 2) % 6 for d in args.depths):
            parser.error(f"--depths must be 6n+2 (8, 14, 20, 56, 110 ...); got {','.join(map(str, args.depths))}")
        if args.widths and len(args.widths) != 3:
            parser.error(f"--widths needs three widths, one per stage; got {','.join(map(str, args.widths))}")
        if args.steps is not None and args.steps < 3:
            parser.error("--steps must be at least 3 for --study (the non-convex share needs interior points)")
        return
    for key in STUDY_ONLY:
        if key in given:
            parser.error(f"{_option(key)} applies only to --study")
    if args.steps is not None and args.steps < 2:
        parser.error("--steps must be at least 2 (grid points per axis)")


def _option(key: str) -> str:
    return "DATA" if key == "data" else "--" + key.replace("_", "-")


def _landscape(args, screen, report) -> dict:
    from ..theory import landscape
    from .training import fit_network

    data = prepare_data(args, standardize=True)
    report.add_data_summary(data.summary, title="Data")
    screen.print(f"{args.data}: training the mlp on {len(data.y_train)} rows ({data.task})")
    outcome = fit_network(args, data, verbose=0)
    network = outcome.predictor.network
    final = outcome.history.epochs[-1]
    screen.print(f"trained {args.epochs} epochs: training loss {final['train_loss']:.4g}", markup=False)
    rows = min(args.eval_rows, len(data.y_train))
    evaluation = (network_inputs(data.X_train[:rows]), network_targets(data.y_train[:rows], data.task))
    loss = make_loss(data.task)
    span = (-args.span, args.span)
    if args.dim == 1:
        result = landscape.line(network, loss, evaluation, steps=args.steps, span=span,
                                normalization=args.normalization, seed=args.seed)
        report.add_figure("Loss along a random direction", result.figure(),
                          caption=f"{args.normalization}-normalized direction; {rows} training rows.")
        report.add_table("Loss along the line", {"alpha": result.alphas.tolist(), "loss": result.losses.tolist()})
        screen.print(f"loss along the line: min {result.losses.min():.4g} at alpha = "
                     f"{result.alphas[int(np.argmin(result.losses))]:.3g}, max {result.losses.max():.4g}", markup=False)
        return {"dim": 1, "alphas": result.alphas.tolist(), "losses": result.losses.tolist()}
    result = landscape.surface(network, loss, evaluation, steps=args.steps, span=span,
                               normalization=args.normalization, seed=args.seed)
    nonconvex = result.nonconvex_fraction() if args.steps >= 3 else None
    report.add_figure("Loss surface (contour)", result.figure_contour(),
                      caption=f"{args.normalization}-normalized directions; {rows} training rows; the star is "
                              f"the trained weights.")
    report.add_figure("Loss surface (3-D)", result.figure_surface())
    report.add_table("Surface summary", [{"min": float(result.losses.min()), "max": float(result.losses.max()),
                                          "centre": float(result.losses[args.steps // 2, args.steps // 2]),
                                          "nonconvex_fraction": nonconvex}],
                     caption="nonconvex_fraction: share of interior grid points with negative curvature.")
    screen.print(f"loss surface on a {args.steps} x {args.steps} grid: min {result.losses.min():.4g}, "
                 f"max {result.losses.max():.4g}, non-convex share {_number(nonconvex)}", markup=False)
    return {"dim": 2, "alphas": result.alphas.tolist(), "betas": result.betas.tolist(),
            "losses": result.losses.tolist(), "nonconvex_fraction": nonconvex}


def _study(args, screen, report) -> dict:
    from ..theory.skip_study import skip_connection_study

    size = "full" if args.full else "default"
    overrides = {"depths": args.depths, "widths": args.widths, "steps": args.steps, "eval_rows": args.eval_rows,
                 "lr": args.lr, "span": None if args.span is None else (-args.span, args.span),
                 "epochs": None if isinstance(args.epochs, _Default) else args.epochs,
                 "batch_size": None if isinstance(args.batch_size, _Default) else args.batch_size}
    screen.print(f"skip-connection study ({size} size) on the digits images: plain and residual ResNets",
                 markup=False)

    def progress(run):
        screen.print(f"  depth {run.depth:>3} {run.network:<8}: training loss {run.train_loss:.4g}, held-out "
                     f"accuracy {run.test_accuracy:.3f}, non-convex share {run.nonconvex:.3f}, surface "
                     f"{run.surface.losses.min():.3g} to {run.surface.losses.max():.3g} ({run.seconds:.1f} s)",
                     markup=False)

    study = skip_connection_study(size=size, seed=args.seed, progress=progress, **overrides)
    settings = study.settings
    report.add_settings(settings, title="Study settings")
    grid = f"{settings['steps']} x {settings['steps']}"
    report.add_figure("Plain vs residual: loss surfaces", study.figure(),
                      caption=f"Filter-normalized 2-D surfaces (a {grid} grid on {settings['eval_rows']} training "
                              "images) around each trained ResNet (red star): plain networks (top) and the same "
                              "networks with skip connections (bottom), by depth; one logarithmic colour scale.")
    report.add_figure("Plain vs residual: 3-D surfaces", study.figure_surface(),
                      caption=f"The deepest pair (depth {study.depths[-1]}); the height is log10 of the loss.")
    table = study.table()
    report.add_table("Skip-connection study", table,
                     caption="train_loss: mean training loss of the last epoch; test_accuracy: on the held-out "
                             f"{settings['n_test']} images; nonconvex_fraction: share of interior grid points "
                             "with negative curvature; seconds: training and surface.")
    surfaces = [{"depth": run.depth, "network": run.network, "alphas": run.surface.alphas.tolist(),
                 "betas": run.surface.betas.tolist(), "losses": run.surface.losses.tolist()} for run in study.runs]
    return {"study": table, "settings": settings, "surfaces": surfaces}


def _number(value) -> str:
    return "-" if value is None else f"{value:.3f}"
