"""A synthetic sequence task that a small recurrent network learns exactly (seeded, deterministic).

``binary_addition``: two n-bit numbers fed least significant bit first, one pair of bits per
step; the target at step t is bit t of their sum (n + 1 steps, the last input pair (0, 0) reads
out the final carry). Getting every bit right needs the carry kept in the state.
"""
from __future__ import annotations

import numpy as np


def binary_addition(bits: int, count: int | None = None, seed: int = 0):
    """(inputs (bits + 1, N, 2) float32, targets (bits + 1, N) int64, time first): N random pairs,
    or all 4^bits pairs when ``count`` is None."""
    if count is None:
        a, b = (g.reshape(-1) for g in np.meshgrid(np.arange(2 ** bits), np.arange(2 ** bits)))
    else:
        rng = np.random.default_rng(seed)
        a, b = rng.integers(0, 2 ** bits, count), rng.integers(0, 2 ** bits, count)
    steps = np.arange(bits + 1)[:, None]
    inputs = np.stack([(a[None, :] >> steps) & 1, (b[None, :] >> steps) & 1], axis=2).astype(np.float32)
    targets = ((a + b)[None, :] >> steps) & 1
    return inputs, targets.astype(np.int64)

