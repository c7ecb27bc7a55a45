"""Many processes, one job: MPI collectives for data-parallel training and estimation.

chainrule runs across processes and machines on MPI, the engine every university cluster
already has: start a script with ``mpiexec -n 4 python train.py`` (or SLURM's ``srun``) and
each of the 4 processes (ranks) runs it with its own ``rank()`` in 0 … ``world_size()`` − 1.
The ranks cooperate through collective operations on arrays:

* ``allreduce_(a, "sum")``: every rank's ``a`` becomes Σ_r a_r (``"mean"``: (1/N) Σ_r a_r).
  MPI implements it for large arrays as a ring (or recursive-halving) all-reduce, which
  moves 2 (N − 1)/N · bytes(a) per rank, almost independent of N (Thakur, Rabenseifner &
  Gropp 2005, "Optimization of collective communication operations in MPICH").
* ``broadcast_(a, root)``: every rank's ``a`` becomes the root's.
* ``barrier()``: wait until every rank has arrived.

The underscore says the array is changed in place (and returned).

mpi4py is imported lazily, only when a job was started with more than one rank (the
launcher's environment says so: ``PMI_SIZE``, ``OMPI_COMM_WORLD_SIZE``, ``PMIX_SIZE``) or
when :func:`init` is called. A plain ``python script.py`` never imports it: then ``rank()``
is 0, ``world_size()`` is 1 and the collectives leave their arrays as they are (a sum or
mean over one process is the array itself). Install it with the ``mpi`` extra,
``pip install 'chainrule[mpi]'`` (mpi4py and the MPICH wheel: no system MPI needed).

GPU arrays (CuPy) are reduced with NCCL (``cupy.cuda.nccl``) when CuPy has it, so the data
never leaves the GPUs; otherwise they are staged through host memory.

Failure: :func:`init` replaces ``sys.excepthook`` so that an uncaught exception on any rank
prints its traceback and then calls ``MPI_Abort``, which ends every rank of the job with a
non-zero exit status. Without it the other ranks would wait forever in their next
collective (mpi4py documents the same remedy as ``python -m mpi4py``).

Example (``mpiexec -n 2 python example.py``)::

    import numpy as np
    from chainrule import distributed as dist

    dist.init()
    g = np.full(3, float(dist.rank() + 1))
    dist.allreduce_(g, op="mean")          # [1.5, 1.5, 1.5] on both ranks
    if dist.is_main():
        print(g)
"""
from __future__ import annotations

import os
import sys

from . import backend
from .tensor import Tensor

np = backend.host

__all__ = [
    "init", "is_initialized", "rank", "world_size", "is_main", "barrier",
    "allreduce_", "broadcast_", "launched_world_size", "communicator", "fail_together",
    "abort", "RankError", "MPI_INSTALL_HINT",
]

MPI_INSTALL_HINT = backend.MPI_INSTALL_HINT

#: Environment variables in which MPI launchers announce the number of ranks: MPICH/Hydra
#: and Slurm's PMI2 (PMI_SIZE), Open MPI (OMPI_COMM_WORLD_SIZE), PMIx launchers (PMIX_SIZE).
_SIZE_VARIABLES = ("PMI_SIZE", "OMPI_COMM_WORLD_SIZE", "PMIX_SIZE", "MPI_LOCALNRANKS")
_OPS = ("sum", "mean")

_comm = None          # mpi4py's COMM_WORLD once init() has run
_nccl = None          # a cupy.cuda.nccl communicator, made on first GPU all-reduce
_previous_hook = None


# ---------------------------------------------------------------------- setup

def launched_world_size() -> int:
    """The number of ranks the launcher started, read from its environment (1 when none).

    This never imports mpi4py, so it is what decides whether a run is distributed.
    """
    for variable in _SIZE_VARIABLES:
        value = os.environ.get(variable)
        if value is not None and value.strip().isdigit():
            return max(int(value), 1)
    return 1


def init():
    """Start MPI (once) and return the world communicator (mpi4py's ``MPI.COMM_WORLD``).

    Also makes an uncaught exception on any rank abort the whole job (see the module
    docstring). Raises ImportError naming the ``mpi`` extra when mpi4py is missing.
    """
    global _comm, _previous_hook
    if _comm is not None:
        return _comm
    _comm = backend.mpi().COMM_WORLD
    if _comm.Get_size() > 1:
        _previous_hook = sys.excepthook
        sys.excepthook = _abort_on_uncaught
    return _comm


def is_initialized() -> bool:
    """Whether :func:`init` has run in this process."""
    return _comm is not None


def communicator():
    """The world communicator, starting MPI if the job has more than one rank; None for a
    single process that never called :func:`init`."""
    if _comm is None and launched_world_size() > 1:
        init()
    return _comm


def rank() -> int:
    """This process's rank: 0 … world_size() − 1 (0 for a single process)."""
    comm = communicator()
    return 0 if comm is None else comm.Get_rank()


def world_size() -> int:
    """The number of ranks in the job (1 for a single process)."""
    comm = communicator()
    return 1 if comm is None else comm.Get_size()


def is_main() -> bool:
    """True on rank 0, the rank that prints, writes files and reports."""
    return rank() == 0


def barrier() -> None:
    """Block until every rank has called ``barrier()``."""
    comm = communicator()
    if comm is not None:
        comm.Barrier()


def abort(error: BaseException, code: int = 1) -> None:
    """Print ``error`` with its traceback and this rank's number, then end every rank of the
    job (``MPI_Abort``) with exit status ``code``. For an error raised on some ranks only,
    where the others would otherwise wait forever in their next collective operation (a
    command-line tool that catches the error and exits would leave them waiting too).
    With one process it re-raises ``error``."""
    comm = communicator()
    if comm is None or comm.Get_size() == 1:
        raise error
    import traceback  # noqa: PLC0415

    traceback.print_exception(type(error), error, error.__traceback__, file=sys.stderr)
    print(f"chainrule.distributed: rank {comm.Get_rank()} of {comm.Get_size()} raised "
          f"{type(error).__name__}; aborting all ranks (MPI_Abort)", file=sys.stderr, flush=True)
    _let_the_launcher_forward_output()
    comm.Abort(code)


class RankError(RuntimeError):
    """Raised on the ranks that did not fail, naming the rank that did and its error."""


def fail_together(error, where: str) -> None:
    """Collective check: every rank passes the exception it caught (or None); if any rank
    has one, every rank raises (the failing rank its own error, the others a
    :class:`RankError` naming that rank and its message), so no rank is left waiting.

    Use it after a step that can fail on one rank's data only (input validation), before
    the next collective.
    """
    comm = communicator()
    if comm is None or comm.Get_size() == 1:
        if error is not None:
            raise error
        return
    reports = comm.allgather(None if error is None else f"{type(error).__name__}: {error}")
    if error is not None:
        raise error
    for source, report in enumerate(reports):
        if report is not None:
            raise RankError(f"{where}: rank {source} of {comm.Get_size()} failed: {report}")


# ---------------------------------------------------------------------- collectives

def allreduce_(array, op: str = "sum"):
    """Replace ``array`` on every rank by Σ_r array_r (``op="sum"``) or (1/N) Σ_r array_r
    (``op="mean"``), in place; return it.

    ``array`` is a NumPy or CuPy array (a Tensor's ``.data``) with the same shape and dtype
    on every rank, and contiguous in memory. Integer arrays allow only ``"sum"``.
    """
    _check_op(op)
    data = _checked_array(array, "allreduce_")
    if op == "mean" and data.dtype.kind not in "fc":
        raise TypeError(f"allreduce_: op='mean' needs a floating-point array; got dtype {data.dtype}")
    comm = communicator()
    if comm is None or comm.Get_size() == 1:
        return array
    if _is_gpu(data):
        _allreduce_gpu(comm, data)
    else:
        MPI = backend.mpi()
        comm.Allreduce(MPI.IN_PLACE, data, op=MPI.SUM)
    if op == "mean":
        data /= comm.Get_size()
    return array


def broadcast_(array, root: int = 0):
    """Replace ``array`` on every rank by rank ``root``'s, in place; return it."""
    data = _checked_array(array, "broadcast_")
    comm = communicator()
    size = 1 if comm is None else comm.Get_size()
    if isinstance(root, bool) or not isinstance(root, int) or not 0 <= root < size:
        raise ValueError(f"broadcast_: root must be a rank in 0 … {size - 1}; got {root!r}")
    if size == 1:
        return array
    if _is_gpu(data):
        host = backend.to_host(data)
        comm.Bcast(host, root=root)
        data[...] = backend.move(host, backend.device_of(data))
    else:
        comm.Bcast(data, root=root)
    return array


# ---------------------------------------------------------------------- helpers

def _check_op(op) -> None:
    if op not in _OPS:
        raise ValueError(f"allreduce_: op must be 'sum' or 'mean'; got {op!r}")


def _checked_array(array, where: str):
    data = array.data if isinstance(array, Tensor) else array
    if not backend.is_array(data):
        raise TypeError(f"{where}: expected a NumPy or CuPy array (or a Tensor); got {type(array).__name__}")
    flags = getattr(data, "flags", None)
    if flags is not None and not flags.c_contiguous:
        raise ValueError(
            f"{where}: the array of shape {tuple(data.shape)} is not contiguous in memory; "
            f"reduce a contiguous copy (array.copy()) and copy the result back"
        )
    return data


def _is_gpu(data) -> bool:
    return not isinstance(data, np.ndarray)


def _allreduce_gpu(comm, data) -> None:
    """Σ over ranks of a CuPy array: NCCL when CuPy has it, else through host memory."""
    nccl = _nccl_communicator(comm)
    if nccl is None:
        MPI = backend.mpi()
        host = backend.to_host(data)
        comm.Allreduce(MPI.IN_PLACE, host, op=MPI.SUM)
        data[...] = backend.move(host, backend.device_of(data))
        return
    cupy, _cuda_nccl = backend.namespace_of(data), backend.nccl()
    kinds = {np.dtype("float32"): _cuda_nccl.NCCL_FLOAT32, np.dtype("float64"): _cuda_nccl.NCCL_FLOAT64,
             np.dtype("int64"): _cuda_nccl.NCCL_INT64}
    if data.dtype not in kinds:
        raise TypeError(f"allreduce_: NCCL reduces float32, float64 and int64 arrays; got {data.dtype}")
    stream = cupy.cuda.get_current_stream()
    nccl.allReduce(data.data.ptr, data.data.ptr, data.size, kinds[data.dtype],
                   _cuda_nccl.NCCL_SUM, stream.ptr)
    stream.synchronize()


def _nccl_communicator(comm):
    """A NCCL communicator over the same ranks (its unique id broadcast by MPI), or None
    when CuPy was built without NCCL."""
    global _nccl
    if _nccl is not None:
        return _nccl
    _cuda_nccl = backend.nccl()
    if _cuda_nccl is None:
        return None
    unique_id = _cuda_nccl.get_unique_id() if comm.Get_rank() == 0 else None
    unique_id = comm.bcast(unique_id, root=0)
    _nccl = _cuda_nccl.NcclCommunicator(comm.Get_size(), unique_id, comm.Get_rank())
    return _nccl


def _abort_on_uncaught(kind, value, traceback) -> None:
    """Show the error as Python would, name the rank, then end every rank of the job."""
    (_previous_hook or sys.__excepthook__)(kind, value, traceback)
    try:
        print(f"chainrule.distributed: rank {_comm.Get_rank()} of {_comm.Get_size()} raised "
              f"{kind.__name__}; aborting all ranks (MPI_Abort)", file=sys.stderr, flush=True)
        _let_the_launcher_forward_output()
    finally:
        _comm.Abort(1)


def _let_the_launcher_forward_output(seconds: float = 0.25) -> None:
    """MPI_Abort tears the job down at once; the launcher may drop output it has not yet
    forwarded from this process, so flush and give it a moment (only ever on the way out)."""
    import time  # noqa: PLC0415

    sys.stdout.flush()
    sys.stderr.flush()
    time.sleep(seconds)
