"""engine/recycled.py: large output arrays are handed out again only when nothing refers to
them any more (no view, no derived view, no Tensor), never while one is alive."""
from __future__ import annotations

import gc

import numpy as np

import chainrule as cr
from chainrule.engine import recycled
from chainrule.nn import functional as F

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


def _cached_owners():
    return {id(array) for arrays in recycled._cache.values() for array in arrays}


def test_add_of_large_host_arrays_writes_into_a_cached_array():
    recycled.clear()
    rng = np.random.default_rng(1)
    a, b = rng.standard_normal(SHAPE).astype(np.float32), rng.standard_normal(SHAPE).astype(np.float32)
    total = recycled.add(a, b)
    np.testing.assert_array_equal(total, a + b)
    assert total.dtype == np.float32 and id(total.base) in _cached_owners()
    owner = id(total.base)
    del total
    again = recycled.add(b, a)  # the first result is gone: its memory comes back
    assert id(again.base) == owner
    np.testing.assert_array_equal(again, b + a)
    recycled.clear()


def test_add_broadcasts_like_numpy_and_leaves_the_rest_to_numpy():
    recycled.clear()
    rng = np.random.default_rng(2)
    tokens = rng.standard_normal((4,) + SHAPE).astype(np.float32)
    positions = rng.standard_normal(SHAPE).astype(np.float32)
    np.testing.assert_array_equal(recycled.add(tokens, positions), tokens + positions)
    np.testing.assert_array_equal(recycled.add(positions, tokens), positions + tokens)
    mixed = recycled.add(positions, positions.astype(np.float64))  # NumPy's promotion, a fresh array
    assert mixed.dtype == np.float64 and mixed.base is None
    small = recycled.add(np.ones(3, np.float32), np.ones(3, np.float32))
    assert small.base is None
    np.testing.assert_array_equal(recycled.add(positions, np.float32(2.0)), positions + np.float32(2.0))
    recycled.clear()


def test_a_transformer_step_takes_its_large_arrays_from_the_cache():
    """The residual sums, layer norms, GELUs, attention outputs and the backward walk's gradient
    sums of a pre-norm transformer come from the cache: the second step reuses the first one's
    memory (no fresh pages step after step), with the same values as an uncached step."""
    rng = np.random.default_rng(3)
    cr.manual_seed(0)
    layer = cr.nn.TransformerEncoderLayer(256, 4, 512, dropout=0.0, activation="gelu", batch_first=True,
                                          norm_first=True)
    x = cr.tensor(rng.standard_normal((4, 256, 256)).astype(np.float32))  # 1 MiB activations

    def step():
        layer.zero_grad()
        out = layer(x)
        (out * out).mean().backward()
        return out.numpy().copy(), [p.grad.numpy().copy() for p in layer.parameters()]

    recycled.clear()
    first_out, first_grads = step()
    owners = _cached_owners()
    assert len(owners) >= 8
    second_out, second_grads = step()
    assert _cached_owners() == owners  # nothing new was needed: every large array came back
    np.testing.assert_array_equal(second_out, first_out)
    for g1, g2 in zip(first_grads, second_grads):
        np.testing.assert_array_equal(g2, g1)
    recycled.clear()
