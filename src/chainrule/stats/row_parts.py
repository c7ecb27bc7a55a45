"""Sums over the rows of a tall design, computed on several threads at once.

A pass of an estimator over n rows (the score X'(y − p), the information X'WX, …) is a sum
of per-row terms, so it can be cut into T contiguous ranges of rows, each summed on its own
thread, and the T partial sums added in the order of the ranges. NumPy releases the GIL
inside ufunc loops, ``einsum`` and BLAS calls, so threads running NumPy code on separate
ranges overlap.

They overlap only while the BLAS library keeps to one thread per call: OpenBLAS's worker
threads keep spinning for a while after each multi-threaded call, and on a machine with as
many cores as our threads they take the cores our threads need (measured on the 2-core
benchmark machine, Logit on 200,000 x 50: a score pass on two threads takes 5.1 ms with
BLAS at one thread, 10-18 ms beside a spinning OpenBLAS; one thread alone 7-8 ms). So
ranges are used only inside :func:`parallel_rows` on the main thread, which limits BLAS to
one thread per call through ``threadpoolctl`` (a dependency since issue 20) and restores the
limit on leaving; without threadpoolctl (an install that left it out), and on other threads,
every pass stays on the calling thread.

Reproducibility: each range is summed in a fixed order and the ranges are added in a fixed
order, so a result depends only on the ranges, which depend only on n and the number of
threads: the same data on the same machine with the same settings gives bit-identical
results, whatever the scheduling.

Number of threads (:func:`thread_count`): ``CHAINRULE_NUM_THREADS`` when set (1 turns the
threads off); otherwise the smallest of the usable cores, ``OMP_NUM_THREADS`` and
``OPENBLAS_NUM_THREADS`` where those are set (a process that asked its BLAS for one thread,
e.g. one MPI rank per core, gets one here too), and ``_MAX_THREADS``. A range holds at least
``_MIN_PART_ROWS`` rows: on fewer, handing work to a thread costs more than it saves.
"""
from __future__ import annotations

import contextlib
import os
import threading

from ..engine.thread_pool import run_parts

_MIN_PART_ROWS = 8_192   # fewer rows per range than this: not worth a thread
_MAX_THREADS = 8         # beyond this, passes that stream X from memory stop getting faster
_LIMITING_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS")

_active = 0                  # how many parallel_rows() contexts the main thread has open (nested)
_blas_limit = None           # the open threadpoolctl limit while _active > 0
_controller = None           # threadpoolctl.ThreadpoolController, made on first use


def thread_count() -> int:
    """How many threads a pass over rows may use (see the module's docstring)."""
    explicit = _positive_env("CHAINRULE_NUM_THREADS", strict=True)
    if explicit is not None:
        return explicit
    limits = [_usable_cores(), _MAX_THREADS]
    limits += [value for name in _LIMITING_VARIABLES if (value := _positive_env(name)) is not None]
    return min(limits)


@contextlib.contextmanager
def parallel_rows():
    """Inside this context on the main thread, :func:`row_ranges` cuts passes into one range
    per thread and BLAS calls run on one thread each (restored when the outermost context
    closes). On any other thread, without ``threadpoolctl``, or with one thread
    (:func:`thread_count`), it changes nothing: OpenBLAS takes its thread count from the main
    thread's setting (measured: after the main thread lowers it, another thread cannot
    raise it back), so only the main thread may lower and restore it."""
    global _active, _blas_limit
    if not _on_main_thread() or thread_count() == 1 or not _can_limit_blas():
        yield
        return
    if _active == 0:
        _blas_limit = _controller.limit(limits=1, user_api="blas")
    _active += 1
    try:
        yield
    finally:
        _active -= 1
        if _active == 0:
            _blas_limit.restore_original_limits()
            _blas_limit = None


def row_ranges(n: int, align: int = 1) -> list[tuple[int, int]]:
    """Contiguous ranges [start, stop) covering 0..n: one per thread inside
    :func:`parallel_rows` on the main thread (each at least ``_MIN_PART_ROWS`` rows, inner
    boundaries multiples of ``align``, so that blocks of ``align`` rows are the blocks of one
    pass over all rows), and the single range (0, n) outside it."""
    parts = max(1, min(thread_count(), n // _MIN_PART_ROWS)) if _active and _on_main_thread() else 1
    bounds = [0] + [(n * index // parts) // align * align for index in range(1, parts)] + [n]
    return [(start, stop) for start, stop in zip(bounds, bounds[1:]) if stop > start]


def map_ranges(function, ranges):
    """[function(index, start, stop) for each range], the first on the calling thread and
    the others on the shared pool's threads at the same time
    (:func:`chainrule.engine.thread_pool.run_parts`); results in the order of the ranges.
    An exception in any range is raised here, after every range has finished."""
    return run_parts(function, [(index, *bounds) for index, bounds in enumerate(ranges)])


def _on_main_thread() -> bool:
    return threading.current_thread() is threading.main_thread()


def _can_limit_blas() -> bool:
    """True when threadpoolctl is installed (its controller is made once, on first use,
    after NumPy's and SciPy's BLAS libraries are loaded)."""
    global _controller
    if _controller is None:
        try:
            import threadpoolctl
        except ImportError:
            _controller = False
        else:
            _controller = threadpoolctl.ThreadpoolController()
    return bool(_controller)


def _usable_cores() -> int:
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return max(1, os.cpu_count() or 1)


def _positive_env(name: str, strict: bool = False) -> int | None:
    """The environment variable ``name`` as a whole number ≥ 1, or None when unset or empty.
    Any other value is an error naming the variable when ``strict`` (our own variable), and
    ignored otherwise (another library's variable, under that library's rules)."""
    text = os.environ.get(name, "").strip()
    if not text:
        return None
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value >= 1:
        return value
    if strict:
        raise ValueError(f"{name}: expected a whole number of threads >= 1; got {text!r}")
    return None
