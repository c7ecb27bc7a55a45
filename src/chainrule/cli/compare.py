"""``chainrule compare-optimizers``: the same model, the same initialization, several optimizers.

Each optimizer trains a copy of one initialized model (``--seed``) on the same standardized
training rows for ``--epochs`` epochs; the shuffles are re-seeded per optimizer, so every
run sees the same mini-batches. ``gd`` takes one full-batch step per epoch; the others
take mini-batch steps of ``--batch-size``. The figure puts the training loss against the
optimizer step and against the wall time, which is the course's comparison of GD, momentum,
AdaGrad, RMSProp and Adam made measurable: per step, and per second of computing.
"""
from __future__ import annotations

import copy
import time

from .arguments import (
    HelpFormatter,
    add_data_arguments,
    add_debug_argument,
    add_model_arguments,
    add_output_arguments,
    hide_options,
    optimizer_list,
    settings_of,
)
from .networks import learning_rate, make_loss, make_network, make_optimizer, network_inputs, network_targets
from .output import console, output_directory, peak_memory_bytes
from .preparation import prepare_data

DEFAULT_OPTIMIZERS = ["gd", "momentum", "adagrad", "rmsprop", "adam"]
MODELS = ("ols", "logit", "mnlogit", "mlp")


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "compare-optimizers",
        help="train one model with several optimizers and plot loss against step and time",
        description="Train --model from one initialization with each of --optimizers and "
                    "compare the training loss per optimizer step and per second. ols, "
                    "logit and mnlogit are trained as a single linear layer with the "
                    "matching loss (mean squared error, binary or softmax cross-entropy).",
        epilog="example: chainrule compare-optimizers digits --target target --model mlp "
               "--optimizers gd,momentum,adagrad,rmsprop,adam --epochs 10",
        formatter_class=HelpFormatter,
    )
    add_data_arguments(parser)
    add_model_arguments(parser, models=MODELS, statistical=False)
    hide_options(parser, ("optimizer", "device"))  # it trains with each of --optimizers, on the CPU
    parser.add_argument("--optimizers", type=optimizer_list, default=DEFAULT_OPTIMIZERS,
                        metavar="A,B,...",
                        help="optimizers to compare (default: " + ",".join(DEFAULT_OPTIMIZERS) + ")")
    add_output_arguments(parser)
    add_debug_argument(parser)
    parser.set_defaults(func=run)


def compare(args, data) -> dict:
    """Train one copy of the model per optimizer; ``{name: run}`` with per-step ``step``,
    ``loss``, ``time`` (seconds since the run started) and per-epoch ``val_loss``, and the
    final ``train_loss``, ``val_loss``, ``seconds`` and ``lr``."""
    import chainrule as cr

    from .training import StepClock, train_network

    cr.manual_seed(args.seed)
    network, _ = make_network(args, data, args.model)
    initial = copy.deepcopy(network.state_dict())
    _warm_up(args, data, network)
    runs = {}
    for name in args.optimizers:
        network.load_state_dict(copy.deepcopy(initial))
        cr.manual_seed(args.seed + 1)  # the same shuffles for every optimizer
        clock = StepClock()
        start = time.perf_counter()
        history = train_network(args, data, network, name, lr=args.lr, verbose=0, clock=clock)
        seconds = time.perf_counter() - start
        last = history.epochs[-1]
        runs[name] = {
            "step": list(history.steps["step"]),
            "loss": list(history.steps["loss"]),
            "time": list(clock.times),
            "val_loss": history["val_loss"] if "val_loss" in history.columns else [],
            "train_loss": last["train_loss"],
            "final_val_loss": last.get("val_loss"),
            "seconds": seconds,
            "lr": learning_rate(name, args.lr),
        }
    return runs


def _warm_up(args, data, network) -> None:
    """One untimed step of every optimizer on a throwaway copy of the network, so one-time
    costs (compiling the optimizers' kernels, first-touch allocations) are charged to no
    optimizer's wall time."""
    rows = slice(0, min(len(data.y_train), args.batch_size))
    inputs, targets = network_inputs(data.X_train[rows]), network_targets(data.y_train[rows], data.task)
    loss_fn = make_loss(data.task)
    for name in args.optimizers:
        scratch = copy.deepcopy(network)
        optimizer = make_optimizer(name, scratch.parameters(), args.lr)
        optimizer.zero_grad()
        loss_fn(scratch(inputs), targets).backward()
        optimizer.step()


def run(args) -> int:
    from .. import report as rep
    from .artifacts import write_json

    out = output_directory(args)
    data = prepare_data(args, standardize=True,
                        val_split=0.2 if args.val_split is None else args.val_split,
                        task="auto" if args.model == "mlp" else None)
    screen = console()
    screen.print(f"{args.data}: {len(data.y_train)} training rows, {len(data.y_val)} validation "
                 f"rows; {args.model}, {args.epochs} epochs, batch {args.batch_size} (gd: all rows)")
    runs = compare(args, data)
    print_comparison(screen, runs)
    figure = rep.figure_optimizer_comparison(runs)
    report = rep.Report(f"chainrule compare-optimizers: {args.model} on {args.data}")
    report.add_settings(settings_of(args))
    report.add_data_summary(data.summary)
    report.add_figure("Optimizer comparison", figure,
                      caption="Training loss per optimizer step (left) and per second of wall "
                              "time (right), from one initialization.")
    report.add_table("Final losses", final_losses(runs))
    path = report.write(out)
    write_json(out / "metrics.json", {
        "model": args.model, "task": data.task, "data": str(args.data),
        "optimizers": {name: {k: v for k, v in r.items() if k not in ("step", "loss", "time")}
                       for name, r in runs.items()},
        "peak_memory_bytes": peak_memory_bytes(),
    })
    screen.print(f"wrote {path}")
    return 0


def final_losses(runs: dict) -> list:
    """One table row per optimizer: its learning rate, steps, final losses and seconds."""
    return [{"optimizer": name, "learning rate": r["lr"], "steps": len(r["step"]),
             "final training loss": r["train_loss"], "final validation loss": r["final_val_loss"],
             "seconds": r["seconds"]} for name, r in runs.items()]


def print_comparison(screen, runs: dict) -> None:
    """The optimizers' table on the console: learning rate, steps, final losses, seconds."""
    from rich.table import Table

    table = Table(title="optimizers, from the same initialization")
    for column in ("optimizer", "lr", "steps", "train loss", "val loss", "seconds"):
        table.add_column(column, justify="left" if column == "optimizer" else "right")
    for name, r in runs.items():
        val = "-" if r["final_val_loss"] is None else f"{r['final_val_loss']:.4g}"
        table.add_row(name, f"{r['lr']:g}", str(len(r["step"])), f"{r['train_loss']:.4g}", val,
                      f"{r['seconds']:.2f}")
    screen.print(table)
