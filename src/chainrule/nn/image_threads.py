"""A batch of images cut into runs, one per thread, each run's BLAS products on one thread.

The channels-last convolution (:mod:`chainrule.nn.fused.convolution`) works a run of images at
a time: a strided copy of the run's windows into a small buffer, then one matrix product. With
one Python thread only the products use the cores BLAS has (and thin products, 16 output
columns, split badly between them), while the copies, the padded canvas and the loop run on
one. Here the batch is cut into one contiguous part per thread instead, and every thread does
its part's copies AND products, with BLAS held at one thread per call meanwhile: NumPy
releases the GIL inside strided copies and BLAS calls, so the threads overlap, and no BLAS
worker thread competes with them for the cores (OpenBLAS's idle workers keep spinning for a
while after each multi-threaded call).

Number of threads (:func:`thread_count`): ``CHAINRULE_NUM_THREADS`` when set (1 turns the
threads off), otherwise as many as NumPy's BLAS uses now (threadpoolctl's reading of it:
``OPENBLAS_NUM_THREADS``, ``OMP_NUM_THREADS``, the cores, or a ``threadpool_limits`` the caller
set), at most :data:`MAX_THREADS`. One thread (the caller's, nothing else) on any thread
but the main one (OpenBLAS takes its thread count from the main thread: only it may lower and
restore it), without threadpoolctl, and for parts under :data:`MIN_PART_BYTES` of window rows.

Reproducibility: the parts depend only on the batch, the bytes per image and the thread
count; each part is computed in a fixed order and the callers combine the parts' results in
the order of the parts, so a result is the same bits whatever the scheduling.
"""
from __future__ import annotations

import contextlib
import os
import threading

from ..engine.thread_pool import run_parts

__all__ = ["thread_count", "image_parts", "map_parts", "one_blas_thread", "MAX_THREADS", "MIN_PART_BYTES"]

MAX_THREADS = 8  #: the most threads one batch is cut for
MIN_PART_BYTES = 1 << 19  #: a part with fewer bytes of window rows than this is not worth a thread

_blas = None  # threadpoolctl's controller of NumPy's BLAS (False without threadpoolctl), made on first use


def thread_count() -> int:
    """How many threads a batch of images is cut for (see the module's docstring)."""
    if threading.current_thread() is not threading.main_thread():
        return 1
    text = os.environ.get("CHAINRULE_NUM_THREADS", "").strip()
    blas = _blas_controller()
    if not blas:
        return 1
    if text:
        try:
            explicit = int(text)
        except ValueError:
            explicit = 0
        if explicit < 1:
            raise ValueError(f"CHAINRULE_NUM_THREADS: expected a whole number of threads >= 1; got {text!r}")
        return min(explicit, MAX_THREADS)
    return max(1, min(MAX_THREADS, min(library.num_threads for library in blas.lib_controllers)))


def image_parts(batch: int, bytes_per_image: int) -> list[tuple[int, int]]:
    """Contiguous runs [n0, n1) of images covering 0..batch: one per thread (each with at least
    :data:`MIN_PART_BYTES` of window rows), the single run (0, batch) on one thread."""
    parts = max(1, min(thread_count(), batch, batch * bytes_per_image // MIN_PART_BYTES))
    bounds = [batch * index // parts for index in range(parts + 1)]
    return [(n0, n1) for n0, n1 in zip(bounds, bounds[1:]) if n1 > n0] or [(0, batch)]


def map_parts(function, parts) -> list:
    """[function(n0, n1) for each part], the first on the calling thread and the others on the
    shared pool's threads at the same time (:func:`chainrule.engine.thread_pool.run_parts`),
    BLAS at one thread per call meanwhile (restored after); results in the order of the parts.
    An exception in any part is raised here, after every part has finished. A single part runs
    on the calling thread, with BLAS at one thread too where :func:`thread_count` allows
    threads: a batch too small to cut is too small for BLAS's threads, and a multi-threaded
    OpenBLAS call leaves its workers spinning for ~0.1 s, on the cores the next parts need (a
    ResNet-20 step: 130 ms of a core a step, from three products of its smallest convolution)."""
    if len(parts) == 1 and thread_count() == 1:
        return [function(*parts[0])]
    limit = _blas_controller().limit(limits=1)
    try:
        return run_parts(function, parts)
    finally:
        limit.restore_original_limits()


@contextlib.contextmanager
def one_blas_thread():
    """BLAS at one thread per call inside (restored after) where :func:`thread_count` allows
    threads, for the other layers' BLAS calls around the parts: a multi-threaded OpenBLAS call
    leaves its workers spinning for ~0.1 s on the cores the next parts need (batch norm's
    ones-vector sums without numba: 42 such calls a ResNet-20 step, 737 ms a step against 500
    with them on one thread). Nothing changes elsewhere."""
    if thread_count() == 1:
        yield
        return
    limit = _blas_controller().limit(limits=1)
    try:
        yield
    finally:
        limit.restore_original_limits()


def _blas_controller():
    """threadpoolctl's controller of the BLAS libraries (made once, after NumPy's BLAS is
    loaded); False without threadpoolctl or without a BLAS it knows."""
    global _blas
    if _blas is None:
        try:
            import threadpoolctl
        except ImportError:  # pragma: no cover - threadpoolctl is a dependency
            _blas = False
        else:
            selected = threadpoolctl.ThreadpoolController().select(user_api="blas")
            _blas = selected if selected.lib_controllers else False
    return _blas
