"""nn/fused/recycled.py: large output arrays are handed out again only when nothing refers to
them any more (no view, no derived view, no Tensor), never while one is alive."""
from __future__ import annotations

import gc

import numpy as np

import chainrule as cr
from chainrule.nn import functional as F
from chainrule.nn.fused import recycled

SHAPE = (512, 1024)  # 2 MiB of float32: above recycled.MIN_BYTES


def test_an_array_comes_back_only_after_every_view_is_gone():
    recycled.clear()
    first = recycled.empty(np, SHAPE, np.float32)
    first[...] = 1.0
    derived = first.reshape(-1)[::2]  # a view of a view keeps the memory's owner alive
    del first
    second = recycled.empty(np, SHAPE, np.float32)
    assert not np.shares_memory(second, derived)
    owners = {id(derived.base), id(second.base)}  # ids, not references: a reference would keep them busy
    del derived, second
    gc.collect()
    third, fourth = recycled.empty(np, SHAPE, np.float32), recycled.empty(np, SHAPE, np.float32)
    assert {id(third.base), id(fourth.base)} == owners  # the same two arrays, handed out again
    recycled.clear()


def test_small_arrays_and_other_shapes_are_not_shared():
    recycled.clear()
    small = recycled.empty(np, (4, 4), np.float32)
    assert small.base is None  # left to the allocator
    a = recycled.empty(np, SHAPE, np.float32)
    b = recycled.empty(np, SHAPE[::-1], np.float32)
    c = recycled.empty(np, SHAPE, np.float64)
    assert a.base is not b.base and a.base is not c.base
    recycled.clear()


def test_outputs_kept_by_the_user_are_never_overwritten():
    """Convolution outputs held across steps keep their values while new ones are made."""
    rng = np.random.default_rng(0)
    x = cr.tensor(rng.standard_normal((8, 16, 32, 32)).astype(np.float32))
    w = cr.tensor(rng.standard_normal((16, 16, 3, 3)).astype(np.float32))
    kept = [F.conv2d(x, w, padding=1) for _ in range(3)]
    values = [k.numpy().copy() for k in kept]
    for _ in range(3):
        F.conv2d(x * 2.0, w, padding=1)
    for k, v in zip(kept, values):
        np.testing.assert_array_equal(k.numpy(), v)
    bases = {id(k.numpy().base) for k in kept}
    assert len(bases) == 3
