"""``chainrule datasets``: the bundled datasets, with size, task and source."""
from __future__ import annotations

from .arguments import add_debug_argument
from .output import console


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "datasets",
        help="list the bundled datasets (usable as DATA in fit, predict, compare-optimizers)",
        description="The datasets that ship with chainrule, each usable by name wherever a "
                    "command takes DATA, with its size, task, target, source and licence.",
        epilog="example: chainrule datasets",
    )
    add_debug_argument(parser)
    parser.set_defaults(func=run)


def run(args) -> int:
    from .. import datasets

    screen = console()
    screen.print("bundled datasets (use the name as DATA, e.g. chainrule fit grunfeld --target invest ...)\n")
    for name in datasets.names():
        info = datasets.info(name)
        screen.print(f"[bold]{name}[/bold]  {info['task']}, {info['n_rows']} rows, "
                     f"{info['n_features']} features, target: {info['target']}")
        screen.print(f"  {info['description']}", markup=False)
        screen.print(f"  source: {info['source']}", markup=False)
        screen.print(f"  licence: {info['licence']}\n", markup=False)
    return 0
