"""One pool of worker threads for the passes that cut their work into parts.

The row passes of the tall-data estimators (:mod:`chainrule.stats.row_parts`) and the
channels-last convolution's runs of images (:mod:`chainrule.nn.image_threads`) both cut a
pass into contiguous parts, one per thread, and combine the parts' results in the order of
the parts. NumPy releases the GIL inside ufunc loops, strided copies, ``einsum`` and BLAS
calls, so parts on separate threads overlap. Both run their parts here, on one shared pool
(made on first use, grown when a caller asks for more workers, made afresh in a forked
child, which has none of its parent's threads).

:func:`run_parts` runs the first part on the calling thread and the others on the pool at the
same time; results come back in the order of the parts, and an exception in any part is raised
after every part has finished (no part is left running on the caller's arrays).
"""
from __future__ import annotations

import os
import threading
from concurrent.futures import ThreadPoolExecutor

__all__ = ["run_parts"]

_lock = threading.Lock()
_pool: ThreadPoolExecutor | None = None
_pool_size = 0


def run_parts(function, parts: list[tuple]) -> list:
    """[function(*arguments) for arguments in parts], the first on the calling thread and the
    others on the pool's threads at the same time; results in the order of ``parts``."""
    if len(parts) == 1:
        return [function(*parts[0])]
    pool = _executor(len(parts) - 1)
    futures = [pool.submit(function, *arguments) for arguments in parts[1:]]
    try:
        first = function(*parts[0])
    finally:
        for future in futures:
            future.exception()  # wait for every part, whatever happened on this thread
    return [first] + [future.result() for future in futures]


def _executor(workers: int) -> ThreadPoolExecutor:
    """The shared pool, with at least ``workers`` threads (made on first use)."""
    global _pool, _pool_size
    with _lock:
        if _pool is None or _pool_size < workers:
            if _pool is not None:
                _pool.shutdown(wait=False)
            _pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="chainrule-parts")
            _pool_size = workers
        return _pool


def _forget_threads_after_fork() -> None:
    """A forked child has none of its parent's threads: it makes a pool of its own."""
    global _pool, _pool_size, _lock
    _pool, _pool_size, _lock = None, 0, threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_threads_after_fork)
