"""Start a helper script under ``mpiexec -n N`` from the tests, with one BLAS thread per rank."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def mpiexec_path():
    """The mpiexec beside this Python (the mpich wheel's), else one on PATH, else None."""
    beside = Path(sys.executable).with_name("mpiexec")
    if beside.exists():
        return str(beside)
    return shutil.which("mpiexec")


def missing_reason():
    """Why MPI tests cannot run here, or None when they can."""
    try:
        import mpi4py  # noqa: F401, PLC0415
    except ImportError:
        return "mpi4py is not installed (pip install 'chainrule[mpi]')"
    if mpiexec_path() is None:
        return "no mpiexec next to the Python executable or on PATH"
    return None


def run(script: str, *args, ranks: int = 2, timeout: float = 90.0) -> subprocess.CompletedProcess:
    """Run tests/mpi/<script> on ``ranks`` ranks; returns the finished process (output as text)."""
    env = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1")
    command = [mpiexec_path(), "-n", str(ranks), sys.executable, str(HERE / script), *map(str, args)]
    return subprocess.run(command, capture_output=True, text=True, timeout=timeout, env=env)


def run_single(script: str, *args, timeout: float = 60.0) -> subprocess.CompletedProcess:
    """Run the same script as one plain process (no MPI launcher): the single-machine reference."""
    env = {k: v for k, v in os.environ.items() if k not in ("PMI_SIZE", "OMPI_COMM_WORLD_SIZE", "PMIX_SIZE")}
    env.update(OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1")
    command = [sys.executable, str(HERE / script), *map(str, args)]
    return subprocess.run(command, capture_output=True, text=True, timeout=timeout, env=env)
