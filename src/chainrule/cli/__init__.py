"""The ``chainrule`` command.

One module per subcommand (``chainrule.cli.fit``, ``.predict``, …), each with
``register(subparsers)`` and ``run(args) -> int``. What they share, one concept a module:
:mod:`~chainrule.cli.arguments` (argument groups, argparse types, help),
:mod:`~chainrule.cli.preparation` (reading, encoding and splitting the user's table),
:mod:`~chainrule.cli.networks` (the MLP, optimizers, losses, ``--device``),
:mod:`~chainrule.cli.models` (the :class:`~chainrule.cli.models.Predictor` of a fitted
model and its metrics), :mod:`~chainrule.cli.estimators` (fitting the statistical models),
:mod:`~chainrule.cli.training` (training the networks), :mod:`~chainrule.cli.artifacts`
(the saved model and JSON files), :mod:`~chainrule.cli.output` (``--out``, the console,
MPI rank 0) and :mod:`~chainrule.cli.errors`.

``main(argv)`` returns the exit code: 0 on success; 1 when a command fails on the user's
data or model (a one-paragraph message; the traceback only with ``--debug``); 2 on a usage
error (argparse's own ``SystemExit(2)``; ``--help`` and ``--version`` exit with
``SystemExit(0)``).
"""
from __future__ import annotations

import argparse
import importlib
import sys
import traceback
import warnings

from .applicability import refuse_inapplicable, rules_for, track_given_options
from .errors import CommandError

# Subcommand modules, in the order ``chainrule --help`` lists them.
_SUBCOMMANDS = ("fit", "predict", "compare", "compute", "diagnose", "landscape", "datasets", "demo", "causal")


def _version() -> str:
    """The installed distribution's version, else the package's ``__version__``."""
    from importlib import metadata

    try:
        return metadata.version("chainrule")
    except metadata.PackageNotFoundError:
        import chainrule

        return getattr(chainrule, "__version__", "unknown")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser for ``chainrule`` and its subcommands."""
    parser = argparse.ArgumentParser(
        prog="chainrule",
        description="chainrule: reverse-mode autodiff, neural nets and statistical models "
                    "from first principles, on your CSV or Parquet file.",
        epilog="example: chainrule fit data.csv --target price --model ols --cov-type HC1",
    )
    parser.add_argument("--version", action="version", version=f"chainrule {_version()}")
    parser.add_argument("--debug", action="store_true",
                        help="show the full traceback when a command fails")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in _SUBCOMMANDS:
        importlib.import_module(f".{name}", __name__).register(sub)
    track_given_options(parser)
    parser.subcommands = sub.choices
    return parser


def parse_arguments(argv=None) -> argparse.Namespace:
    """Parse ``argv``; an option the chosen model or subcommand does not use is a usage error
    (exit code 2, naming the option and the model: :mod:`~chainrule.cli.applicability`)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    found = rules_for(args.command, args)
    if found is not None:
        rules, where, reasons = found
        refuse_inapplicable(args, rules, where, parser.subcommands[args.command], reasons)
    return args


def _data_errors() -> tuple:
    """Exceptions that mean "fix your data or options": reported without a traceback and
    without the exception's class name."""
    errors = [CommandError]
    try:
        from ..tabular import DataError
        errors.append(DataError)
    except ImportError:  # pragma: no cover - tabular ships with the package
        pass
    return tuple(errors)


def _abort_other_ranks(exc: BaseException) -> None:
    """Under ``mpiexec`` with several ranks, an error on one rank must end them all (the
    others would wait forever in their next collective call): print it and MPI_Abort."""
    from ..engine import distributed

    if distributed.launched_world_size() > 1 and distributed.world_size() > 1:
        distributed.abort(exc)


def _warning_printer(command: str):
    """Show warnings as one line each on stderr ("chainrule fit: warning: ..."), without the
    source line Python's default format adds."""
    from .output import is_main_process

    def show(message, category, filename, lineno, file=None, line=None):
        if not is_main_process():
            return
        print(f"chainrule {command}: warning: {message}", file=sys.stderr if file is None else file)

    return show


def main(argv=None) -> int:
    """Run the ``chainrule`` command with ``argv`` (default ``sys.argv[1:]``); return the exit code."""
    args = parse_arguments(argv)
    try:
        with warnings.catch_warnings():
            warnings.showwarning = _warning_printer(args.command)
            return args.func(args)
    except KeyboardInterrupt:
        print("chainrule: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # a failed command: one paragraph, no traceback
        _abort_other_ranks(exc)
        if args.debug:
            traceback.print_exc()
        else:
            print(f"chainrule {args.command}: error: {error_paragraph(exc)}", file=sys.stderr)
        return 1


# Exceptions that are chainrule's own bugs, not a problem with the user's data or options.
_BUGS = (AttributeError, NameError, KeyError, IndexError, AssertionError, ZeroDivisionError, RecursionError)


def error_paragraph(exc: BaseException) -> str:
    """The one paragraph a failed command prints after "error: ": the message alone for a problem
    with the data, the options or the environment (no exception class name; a library's own
    argument checks say what was expected), with the --debug hint for errors the command line
    did not anticipate, and "internal error" with the class for chainrule's own bugs."""
    message = " ".join(str(exc).split()) if not isinstance(exc, OSError) else _os_message(exc)
    if isinstance(exc, _data_errors()):
        return message
    if isinstance(exc, _BUGS):
        return (f"internal error ({type(exc).__name__}: {message}); this is a bug in chainrule: please report it "
                "with the traceback that --debug shows")
    if isinstance(exc, MemoryError):
        message = "out of memory" + (f": {message}" if message else "") + (
            "; try --chunksize ROWS (ols, logit, mlp) or a smaller --batch-size")
    return f"{message or type(exc).__name__} (run again with --debug to see the traceback)"


def _os_message(exc: OSError) -> str:
    """A file error as "No such file or directory: 'x.csv'" (without "[Errno 2]")."""
    if exc.strerror and exc.filename is not None:
        return f"{exc.strerror}: {str(exc.filename)!r}"
    return " ".join(str(exc).split())


if __name__ == "__main__":
    sys.exit(main())
