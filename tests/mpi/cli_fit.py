"""Run under ``mpiexec -n N`` (or alone): the ``chainrule`` command with the given arguments.

Usage: cli_fit.py ARG... (as after ``chainrule``). Exits with the command's exit code; rank 0
alone writes the outputs.
"""
import sys

from chainrule.cli import main

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
