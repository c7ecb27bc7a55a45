"""Where a command's output goes: the ``--out`` directory, the console, and which process of
an MPI job speaks (rank 0 alone prints and writes files); the peak memory it reports."""
from __future__ import annotations

import pathlib

from .errors import CommandError


def output_directory(args) -> pathlib.Path:
    """``--out`` as a Path, created if missing."""
    path = pathlib.Path(getattr(args, "out", None) or "chainrule-output")
    if path.exists() and not path.is_dir():
        raise CommandError(f"--out must be a directory; {str(path)!r} is a file")
    path.mkdir(parents=True, exist_ok=True)
    return path


def is_main_process() -> bool:
    """True unless this is a rank other than 0 of an MPI job (``mpiexec -n N chainrule ...``):
    only rank 0 prints and writes files."""
    from ..engine import distributed

    return distributed.launched_world_size() == 1 or distributed.is_main()


def console():
    """A rich Console on stdout (plain text when stdout is not a terminal); silent on the
    ranks other than 0 of an MPI job."""
    import sys

    from rich.console import Console

    # Piped into a file or a log, rich would wrap tables at 80 columns and cut numbers short;
    # 140 columns keeps the planner's and the comparison's tables whole.
    width = None if sys.stdout.isatty() else 140
    return Console(highlight=False, soft_wrap=True, quiet=not is_main_process(), width=width)


def peak_memory_bytes() -> int:
    """This process's peak resident memory so far, in bytes (``getrusage``; Linux reports KiB)."""
    import resource
    import sys

    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return int(peak if sys.platform == "darwin" else peak * 1024)
