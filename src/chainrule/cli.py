"""The ``chainrule`` command.

``main(argv)`` returns the exit code: 0 on success, 1 when a command fails (a short
message, the traceback only with ``--debug``), 2 on a usage error (argparse's own
``SystemExit(2)``; ``--help`` and ``--version`` exit with ``SystemExit(0)``).
"""
from __future__ import annotations

import argparse
import sys
import traceback


def _version() -> str:
    """The installed distribution's version, else the package's ``__version__``."""
    from importlib import metadata

    try:
        return metadata.version("chainrule")
    except metadata.PackageNotFoundError:
        import chainrule

        return getattr(chainrule, "__version__", "unknown")


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text}")
    return value


def _positive_float(text: str) -> float:
    value = float(text)
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"expected a positive finite number, got {text}")
    return value


def _cmd_demo(args) -> int:
    from ._demo import run

    run(epochs=args.epochs, seed=args.seed, lr=args.lr, batch_size=args.batch_size, hidden=args.hidden)
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The argument parser for ``chainrule`` and its subcommands."""
    parser = argparse.ArgumentParser(
        prog="chainrule",
        description="chainrule: reverse-mode autodiff and deep learning from first principles.",
        epilog="example: chainrule demo --epochs 20 --seed 1",
    )
    parser.add_argument("--version", action="version", version=f"chainrule {_version()}")
    parser.add_argument("--debug", action="store_true",
                        help="show the full traceback when a command fails")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    demo = sub.add_parser(
        "demo",
        help="train an MLP on the bundled digits with the Trainer and Adam; report accuracy",
        description="An MLP (64-hidden-10) on the UCI 8x8 digits: 20% held out for the test, "
                    "10% of the rest for validation, features standardized with training "
                    "statistics, trained by chainrule.train.Trainer with Adam.",
        epilog="example: chainrule demo --epochs 30 --seed 0 --lr 0.001 --batch-size 64",
    )
    demo.add_argument("--epochs", type=_positive_int, default=30,
                      help="passes over the training set (default: %(default)s)")
    demo.add_argument("--seed", type=int, default=0,
                      help="seed for the splits, the initialization and the shuffles (default: %(default)s)")
    demo.add_argument("--lr", type=_positive_float, default=1e-3,
                      help="Adam's learning rate (default: %(default)s)")
    demo.add_argument("--batch-size", type=_positive_int, default=64,
                      help="mini-batch size (default: %(default)s)")
    demo.add_argument("--hidden", type=_positive_int, default=128,
                      help="units in the hidden layer (default: %(default)s)")
    demo.add_argument("--debug", action="store_true", default=argparse.SUPPRESS,
                      help="show the full traceback when the command fails")
    demo.set_defaults(func=_cmd_demo)
    return parser


def main(argv=None) -> int:
    """Run the ``chainrule`` command with ``argv`` (default ``sys.argv[1:]``); return the exit code."""
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except KeyboardInterrupt:
        print("chainrule: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # a failed command: one paragraph, no traceback
        if args.debug:
            traceback.print_exc()
        else:
            print(f"chainrule {args.command}: error: {type(exc).__name__}: {exc}\n"
                  "(run again with --debug to see the traceback)", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
