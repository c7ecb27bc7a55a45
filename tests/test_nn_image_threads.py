"""The convolution's batch cut into one part per thread (nn/image_threads.py) gives the one-thread
results: the same output and input gradient, the weight gradient to 1e-12 in float64 (its parts'
sums are added in a fixed order), and the same bits from run to run; the thread count follows
CHAINRULE_NUM_THREADS and BLAS, parts cover the batch, and failures in any part surface."""
from __future__ import annotations

import threading

import numpy as np
import pytest

import chainrule as cr
from chainrule.nn import functional as F
from chainrule.nn import im2col, image_threads

torch = pytest.importorskip("torch")
TF = torch.nn.functional


@pytest.fixture
def small_parts(monkeypatch):
    """Parts and chunks small enough that a test batch is cut for threads and runs."""
    monkeypatch.setattr(image_threads, "MIN_PART_BYTES", 1)
    monkeypatch.setattr(im2col, "CHUNK_BYTES", 4096)
    monkeypatch.setattr(im2col, "PART_CHUNK_BYTES", 2048)
    return monkeypatch


def conv_and_grads(x, w, upstream, threads, monkeypatch, bias=None, **kwargs):
    """The output and the gradients of x, W (and b) of conv2d on ``threads`` threads."""
    monkeypatch.setenv("CHAINRULE_NUM_THREADS", str(threads))
    inputs = [cr.tensor(a, requires_grad=True) for a in (x, w) + (() if bias is None else (bias,))]
    out = F.conv2d(*inputs, **kwargs)
    out.backward(cr.tensor(upstream))
    return [out.numpy().copy()] + [t.grad.numpy().copy() for t in inputs]


CASES = [
    pytest.param((5, 3, 7, 6), (4, 3, 3, 3), {"padding": 1}, id="3x3-stride1"),
    pytest.param((7, 2, 6, 9), (3, 2, 2, 3), {"padding": (2, 1), "dilation": 2}, id="dilated"),
    pytest.param((4, 3, 9, 8), (5, 3, 3, 3), {"stride": 2, "padding": 1}, id="stride2"),
    pytest.param((3, 4, 5, 5), (2, 4, 3, 3), {}, id="unpadded"),
    pytest.param((4, 3, 5, 6), (5, 3, 1, 1), {}, id="1x1"),
    pytest.param((5, 3, 7, 6), (4, 3, 1, 1), {"stride": 2}, id="1x1-stride2"),
]


@pytest.mark.parametrize("x_shape, w_shape, kwargs", CASES)
@pytest.mark.parametrize("threads", [2, 3])
@pytest.mark.parametrize("with_bias", [False, True])
def test_threaded_convolution_equals_one_thread(small_parts, x_shape, w_shape, kwargs, threads, with_bias):
    rng = np.random.default_rng(3)
    x, w = rng.standard_normal(x_shape), rng.standard_normal(w_shape)
    bias = rng.standard_normal(w_shape[0]) if with_bias else None
    probe = TF.conv2d(torch.from_numpy(x), torch.from_numpy(w), None if bias is None else torch.from_numpy(bias),
                      **kwargs)
    upstream = rng.standard_normal(tuple(probe.shape))
    serial = conv_and_grads(x, w, upstream, 1, small_parts, bias, **kwargs)
    parallel = conv_and_grads(x, w, upstream, threads, small_parts, bias, **kwargs)
    again = conv_and_grads(x, w, upstream, threads, small_parts, bias, **kwargs)
    for one, many, repeat in zip(serial, parallel, again):
        np.testing.assert_allclose(many, one, rtol=1e-12, atol=1e-12)
        np.testing.assert_array_equal(many, repeat)  # deterministic run to run
    np.testing.assert_allclose(parallel[0], probe.numpy(), rtol=1e-12, atol=1e-12)


def test_threaded_convolution_matches_torch_in_float32(small_parts):
    rng = np.random.default_rng(4)
    x = rng.standard_normal((6, 4, 8, 8)).astype(np.float32)
    w = rng.standard_normal((5, 4, 3, 3)).astype(np.float32)
    upstream = rng.standard_normal((6, 5, 8, 8)).astype(np.float32)
    out, dx, dw = conv_and_grads(x, w, upstream, 2, small_parts, padding=1)
    xt, wt = torch.tensor(x, requires_grad=True), torch.tensor(w, requires_grad=True)
    ref = TF.conv2d(xt, wt, padding=1)
    ref.backward(torch.from_numpy(upstream))
    for ours, theirs in ((out, ref.detach()), (dx, xt.grad), (dw, wt.grad)):
        np.testing.assert_allclose(ours, theirs.numpy(), rtol=2e-5, atol=2e-4)


@pytest.mark.parametrize("batch, threads, expected", [
    (10, 2, [(0, 5), (5, 10)]),
    (10, 3, [(0, 3), (3, 6), (6, 10)]),
    (2, 4, [(0, 1), (1, 2)]),
    (0, 2, [(0, 0)]),
    (7, 1, [(0, 7)]),
])
def test_image_parts_cover_the_batch(small_parts, batch, threads, expected):
    small_parts.setenv("CHAINRULE_NUM_THREADS", str(threads))
    assert image_threads.image_parts(batch, 100) == expected


def test_small_batches_stay_on_one_thread(monkeypatch):
    monkeypatch.setenv("CHAINRULE_NUM_THREADS", "2")
    assert image_threads.image_parts(4, image_threads.MIN_PART_BYTES // 4 - 1) == [(0, 4)]
    assert len(image_threads.image_parts(8, image_threads.MIN_PART_BYTES // 4)) == 2


@pytest.mark.parametrize("value", ["0", "-1", "two"])
def test_a_bad_thread_count_is_refused(monkeypatch, value):
    monkeypatch.setenv("CHAINRULE_NUM_THREADS", value)
    with pytest.raises(ValueError, match="CHAINRULE_NUM_THREADS"):
        image_threads.thread_count()


def test_thread_count_follows_blas_and_the_main_thread(monkeypatch):
    threadpoolctl = pytest.importorskip("threadpoolctl")
    monkeypatch.delenv("CHAINRULE_NUM_THREADS", raising=False)
    with threadpoolctl.threadpool_limits(1, user_api="blas"):
        assert image_threads.thread_count() == 1
    with threadpoolctl.threadpool_limits(2, user_api="blas"):
        assert image_threads.thread_count() == 2
        seen = []
        worker = threading.Thread(target=lambda: seen.append(image_threads.thread_count()))
        worker.start()
        worker.join()
        assert seen == [1]


def test_map_parts_keeps_order_restores_blas_and_raises():
    threadpoolctl = pytest.importorskip("threadpoolctl")
    with threadpoolctl.threadpool_limits(2, user_api="blas"):
        before = threadpoolctl.threadpool_info()
        seen = []

        def work(n0, n1):
            seen.append(min(info["num_threads"] for info in threadpoolctl.threadpool_info()
                            if info["user_api"] == "blas"))
            return n0 * 10 + n1

        assert image_threads.map_parts(work, [(0, 1), (1, 2), (2, 3)]) == [1, 12, 23]
        assert seen and max(seen) == 1  # BLAS at one thread inside
        assert threadpoolctl.threadpool_info() == before

        def fail(n0, n1):
            if n0 == 1:
                raise RuntimeError("part 1")
            return n0

        with pytest.raises(RuntimeError, match="part 1"):
            image_threads.map_parts(fail, [(0, 1), (1, 2)])
        assert threadpoolctl.threadpool_info() == before


def test_threaded_gradients_go_into_the_optimizers_slots(small_parts):
    """With an optimizer's gradient slots (optim keeps .grad arrays), the threaded backward writes
    dW and db into them: the same values as the one-thread path's."""
    rng = np.random.default_rng(5)
    x = cr.tensor(rng.standard_normal((6, 3, 6, 6)))
    results = []
    for threads in (1, 2):
        small_parts.setenv("CHAINRULE_NUM_THREADS", str(threads))
        cr.manual_seed(0)
        layer = cr.nn.Conv2d(3, 4, 3, padding=1).double()
        optimizer = cr.optim.SGD(layer.parameters(), lr=0.1)
        for _ in range(2):
            optimizer.zero_grad()
            (layer(x) ** 2).sum().backward()
            optimizer.step()
        results.append([p.grad.numpy().copy() for p in layer.parameters()] + [layer.weight.numpy().copy()])
    for one, many in zip(*results):
        np.testing.assert_allclose(many, one, rtol=1e-12, atol=1e-12)


def test_a_single_part_runs_here_with_blas_at_one_thread(monkeypatch):
    """A batch too small to cut still runs with BLAS at one thread where threads are allowed (no
    multi-threaded OpenBLAS call whose spinning workers would take the next parts' cores)."""
    threadpoolctl = pytest.importorskip("threadpoolctl")
    monkeypatch.setenv("CHAINRULE_NUM_THREADS", "2")

    def blas_threads(n0, n1):
        assert threading.current_thread() is threading.main_thread()
        return min(info["num_threads"] for info in threadpoolctl.threadpool_info() if info["user_api"] == "blas")

    with threadpoolctl.threadpool_limits(2, user_api="blas"):
        assert image_threads.map_parts(blas_threads, [(0, 3)]) == [1]
        monkeypatch.setenv("CHAINRULE_NUM_THREADS", "1")
        assert image_threads.map_parts(blas_threads, [(0, 3)]) == [2]
