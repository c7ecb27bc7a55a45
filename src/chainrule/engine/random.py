"""The one random number generator behind every random tensor and shuffle.

chainrule keeps a single NumPy ``Generator`` on the PCG64 bit generator. Seeding it
with :func:`manual_seed` makes every later random call (``rand``, ``randn``,
``randint``, ``randperm``, initializers, dropout masks, data shuffling)
reproducible. Random values are drawn on the host and then moved to the tensor's
device, so a seed gives the same numbers on every device.
"""
from __future__ import annotations

from . import backend

_generator = backend.host.random.Generator(backend.host.random.PCG64())


def manual_seed(seed: int) -> None:
    """Reseed the global generator: ``manual_seed(s)`` then any sequence of random
    calls gives the same values every time."""
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValueError(f"manual_seed: seed must be a non-negative int; got {seed!r}")
    global _generator
    _generator = backend.host.random.Generator(backend.host.random.PCG64(seed))


def generator():
    """The global NumPy ``Generator`` (PCG64) that chainrule draws from."""
    return _generator
