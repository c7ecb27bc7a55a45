"""``chainrule landscape``: train an MLP on a table and draw its loss landscape.

The network of ``--hidden`` etc. is trained as ``chainrule fit --model mlp`` trains it, then
the training loss is evaluated around the trained weights θ along filter-normalized random
directions (Li et al. 2018; :mod:`chainrule.landscape`): ``--dim 1`` draws f(α) = L(θ + αδ),
``--dim 2`` (default) the surface f(α, β) = L(θ + αδ + βη) as a contour and a 3-D plot.
``--study`` instead runs the built-in skip-connection study on the bundled digits data (a
deep plain MLP next to the same MLP with residual connections). Writes ``report.html``, the
figures as PNG and ``landscape.json`` to ``--out``.
"""
from __future__ import annotations

import time

import numpy as np

from .arguments import (
    HelpFormatter,
    add_data_arguments,
    add_debug_argument,
    add_model_arguments,
    add_output_arguments,
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
  chainrule landscape --study --depth 20 --out skip-study"""


def register(subparsers) -> None:
    from ..theory.landscape import NORMALIZATIONS

    parser = subparsers.add_parser(
        "landscape",
        help="train an MLP and plot its loss along random directions (1-D line or 2-D surface)",
        description="Train --model mlp on DATA, then evaluate the training loss around the trained "
                    "weights along filter-normalized random directions (Li et al. 2018): a 1-D "
                    "line (--dim 1) or a 2-D surface drawn as a contour and a 3-D plot (--dim 2). "
                    "With --study, run the skip-connection study on the bundled digits data "
                    "instead. Writes report.html, the figures and landscape.json to --out.",
        epilog=EXAMPLES, formatter_class=HelpFormatter,
    )
    add_data_arguments(parser, optional=True)
    add_model_arguments(parser, models=("mlp",), default_model="mlp", statistical=False)
    group = parser.add_argument_group("landscape")
    group.add_argument("--dim", type=int, choices=(1, 2), default=2,
                       help="1: a line f(alpha); 2: a surface f(alpha, beta) (default: %(default)s)")
    group.add_argument("--normalization", choices=NORMALIZATIONS, default="filter",
                       help="how the random direction is scaled to the weights (default: %(default)s)")
    group.add_argument("--steps", type=positive_int, default=21,
                       help="grid points per axis (default: %(default)s)")
    group.add_argument("--span", type=positive_float, default=1.0,
                       help="the grid covers [-SPAN, SPAN] per axis (default: %(default)s)")
    group.add_argument("--eval-rows", type=positive_int, default=1000,
                       help="training rows the loss is evaluated on (default: %(default)s)")
    group.add_argument("--study", action="store_true",
                       help="run the skip-connection study (plain vs residual deep MLP) on digits")
    group.add_argument("--depth", type=positive_int, default=20,
                       help="--study: hidden blocks of each network (default: %(default)s)")
    group.add_argument("--width", type=positive_int, default=32,
                       help="--study: width of each block (default: %(default)s)")
    add_output_arguments(parser)
    add_debug_argument(parser)
    parser.set_defaults(func=run)


def run(args) -> int:
    from .. import report as rep
    from .artifacts import strict_json, write_json

    if args.steps < 2:
        raise CommandError("--steps must be at least 2 (grid points per axis)")
    if args.device != "cpu":
        raise CommandError(f"landscape runs on the CPU (each grid point is one small forward pass); "
                           f"drop --device {args.device}")
    out = output_directory(args)
    screen = console()
    start = time.perf_counter()
    if args.study:
        if args.data:
            raise CommandError("--study runs on the bundled digits data; leave out DATA (or drop --study)")
        report = rep.Report("chainrule landscape: skip-connection study")
        report.add_settings(settings_of(args), title="Run settings")
        results = _study(args, screen, report)
    else:
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
    from ..theory import landscape

    epochs = args.epochs
    screen.print(f"skip-connection study on digits: depth {args.depth}, width {args.width}, {epochs} epochs, "
                 f"{args.steps} x {args.steps} grid", markup=False)
    study = landscape.skip_connection_study(depth=args.depth, width=args.width, epochs=epochs,
                                            steps=args.steps, span=(-args.span, args.span),
                                            seed=args.seed, eval_rows=args.eval_rows)
    report.add_figure("Plain vs residual: loss surfaces", study.figure(),
                      caption="Filter-normalized 2-D surfaces of a plain deep MLP (left) and the same MLP "
                              "with skip connections (right), trained alike.")
    report.add_figure("Plain vs residual: 3-D surfaces", study.figure_surface())
    report.add_table("Skip-connection study", study.table())
    for row in study.table():
        screen.print(f"{row['network']}: training loss {row['train_loss']:.4g}, accuracy {row['train_accuracy']:.3f}, "
                     f"non-convex share of the surface {row['nonconvex_fraction']:.3f}", markup=False)
    return {"study": study.table(), "settings": study.settings}


def _number(value) -> str:
    return "-" if value is None else f"{value:.3f}"
