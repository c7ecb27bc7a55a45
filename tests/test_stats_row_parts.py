"""Passes over rows on several threads (chainrule.stats.row_parts): the ranges, the BLAS limit,
and that a fit on threads gives the digits of a fit on one."""
import multiprocessing
import threading

import numpy as np
import pytest

from chainrule.stats import Logit, MNLogit, row_parts
from chainrule.stats.logit_newton import Design
from chainrule.stats.validation import as_design

threadpoolctl = pytest.importorskip("threadpoolctl")


@pytest.fixture
def threads(monkeypatch):
    """Set CHAINRULE_NUM_THREADS for one test."""
    def set_threads(count):
        monkeypatch.setenv("CHAINRULE_NUM_THREADS", str(count))
    return set_threads


def blas_threads():
    return [info["num_threads"] for info in threadpoolctl.threadpool_info() if info["user_api"] == "blas"]


def binary_data(n, p, seed):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, p))
    beta = np.linspace(-0.6, 0.6, p)
    y = (rng.random(n) < 1.0 / (1.0 + np.exp(-(0.2 + X @ beta)))).astype(float)
    return X, y


# ----------------------------------------------------------------------------- settings and ranges


def test_thread_count_reads_our_variable_first_and_others_as_limits(monkeypatch):
    for name in ("CHAINRULE_NUM_THREADS", "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        monkeypatch.delenv(name, raising=False)
    assert 1 <= row_parts.thread_count() <= row_parts._MAX_THREADS
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    assert row_parts.thread_count() == 1
    monkeypatch.setenv("OMP_NUM_THREADS", "auto")  # another library's value we cannot read: no limit from it
    monkeypatch.setenv("OPENBLAS_NUM_THREADS", "1")
    assert row_parts.thread_count() == 1
    monkeypatch.setenv("CHAINRULE_NUM_THREADS", "5")  # ours is taken as given
    assert row_parts.thread_count() == 5
    for bad in ("0", "-2", "two", "1.5"):
        monkeypatch.setenv("CHAINRULE_NUM_THREADS", bad)
        with pytest.raises(ValueError, match=r"CHAINRULE_NUM_THREADS: expected a whole number of threads >= 1; "
                                             rf"got '{bad}'"):
            row_parts.thread_count()


def test_ranges_cover_the_rows_with_aligned_inner_bounds_only_inside_the_context(threads):
    threads(3)
    n = 50_000
    assert row_parts.row_ranges(n, 4096) == [(0, n)]  # outside parallel_rows: one range
    with row_parts.parallel_rows():
        ranges = row_parts.row_ranges(n, 4096)
        assert len(ranges) == 3
        assert ranges[0][0] == 0 and ranges[-1][1] == n
        assert all(stop == start for (_, stop), (start, _) in zip(ranges, ranges[1:]))
        assert all(stop % 4096 == 0 for _, stop in ranges[:-1])
        assert row_parts.row_ranges(2 * row_parts._MIN_PART_ROWS - 1) == [(0, 2 * row_parts._MIN_PART_ROWS - 1)]
        assert len(row_parts.row_ranges(2 * row_parts._MIN_PART_ROWS)) == 2


def test_one_thread_changes_nothing(threads):
    threads(1)
    before = blas_threads()
    with row_parts.parallel_rows():
        assert blas_threads() == before
        assert row_parts.row_ranges(10**6) == [(0, 10**6)]


def test_map_ranges_keeps_the_order_and_raises_what_a_range_raised(threads):
    threads(4)
    ranges = [(0, 10), (10, 20), (20, 30), (30, 35)]
    seen = []
    assert row_parts.map_ranges(lambda i, a, b: (i, a, b), ranges) == [(i, a, b) for i, (a, b) in enumerate(ranges)]

    def failing(index, start, stop):
        seen.append(index)
        if index == 2:
            raise ArithmeticError(f"range {start}:{stop}")
        return index

    with pytest.raises(ArithmeticError, match="range 20:30"):
        row_parts.map_ranges(failing, ranges)
    assert sorted(seen) == [0, 1, 2, 3]  # every range ran to its end before the error came back

    def failing_first(index, start, stop):
        if index == 0:
            raise KeyError("first")
        seen.append(("done", index))
        return index

    seen.clear()
    with pytest.raises(KeyError):
        row_parts.map_ranges(failing_first, ranges)
    assert sorted(seen) == [("done", 1), ("done", 2), ("done", 3)]


# ----------------------------------------------------------------------------- the BLAS limit


def test_blas_runs_on_one_thread_inside_nested_contexts_and_is_restored_after(threads):
    threads(2)
    before = blas_threads()
    with row_parts.parallel_rows():
        assert blas_threads() and all(count == 1 for count in blas_threads())
        with row_parts.parallel_rows():  # nested
            assert all(count == 1 for count in blas_threads())
        assert all(count == 1 for count in blas_threads())  # the outer context is still open
    assert blas_threads() == before


def test_other_threads_fit_on_one_thread_and_leave_blas_alone(threads):
    """OpenBLAS follows the main thread's setting (another thread cannot raise it back), so
    only the main thread lowers it; a fit on another thread runs its passes on that thread."""
    threads(2)
    before = blas_threads()
    seen, fits = [], []
    X, y = binary_data(30_000, 3, seed=7)

    def elsewhere():
        with row_parts.parallel_rows():
            seen.append((blas_threads(), row_parts.row_ranges(10**6)))
        fits.append(Logit().fit(X, y).params)

    worker = threading.Thread(target=elsewhere)
    worker.start()
    worker.join(30)
    assert seen == [(before, [(0, 10**6)])]
    np.testing.assert_allclose(fits[0], Logit().fit(X, y).params, rtol=1e-11)
    assert blas_threads() == before


def test_the_limit_is_restored_when_the_fit_raises(threads):
    threads(2)
    before = blas_threads()
    X, y = binary_data(20_000, 3, seed=1)
    X[15_000, 1] = np.nan
    with pytest.raises(ValueError, match=r"x2 \(1 of 20000 rows, first at row 15000\)"):
        Logit().fit(X, y)  # the NaN is in the second range of rows
    assert blas_threads() == before


# ----------------------------------------------------------------------------- same digits on threads


def test_passes_on_threads_match_one_pass_over_all_rows(threads):
    X, y = binary_data(41_000, 7, seed=2)
    beta = np.linspace(-0.3, 0.4, 8)
    W = np.random.default_rng(3).uniform(-0.2, 0.3, size=(len(y), 3))
    results = {}
    for count in (1, 4):
        threads(count)
        with row_parts.parallel_rows():
            assert len(row_parts.row_ranges(len(y), 4096)) == count
            design = Design(X, True)
            results[count] = (design.newton_pass(beta, y, hessian=False), design.newton_pass(beta, y, hessian=True),
                              design.gram(np.abs(W[:, 0])), design.grams(W))
    single, parallel = results[1], results[4]
    for one, many in zip(single[0], parallel[0]):
        if one is not None:
            np.testing.assert_allclose(many, one, rtol=1e-13, atol=1e-10)
    for one, many in zip(single[1], parallel[1]):
        np.testing.assert_allclose(many, one, rtol=1e-13, atol=1e-10)
    np.testing.assert_allclose(parallel[2], single[2], rtol=1e-13)
    np.testing.assert_allclose(parallel[3], single[3], rtol=1e-13, atol=1e-10)
    Z = np.column_stack([np.ones(len(y)), X])
    eta = Z @ beta
    p = 1.0 / (1.0 + np.exp(-eta))
    np.testing.assert_allclose(parallel[1][1], (Z * (p * (1 - p))[:, None]).T @ Z, rtol=1e-12)
    np.testing.assert_allclose(parallel[1][2], Z.T @ (y - p), rtol=1e-12, atol=1e-9)
    np.testing.assert_allclose(parallel[2], (Z * np.abs(W[:, :1])).T @ Z, rtol=1e-12)
    F = np.asfortranarray(X)  # the F-ordered design takes the m x p block buffers
    for count in (1, 4):
        threads(count)
        with row_parts.parallel_rows():
            design = Design(F, True)
            np.testing.assert_allclose(design.newton_pass(beta, y, hessian=True)[1], parallel[1][1], rtol=1e-12)
            np.testing.assert_allclose(design.gram(np.abs(W[:, 0])), parallel[2], rtol=1e-12)
            np.testing.assert_allclose(design.grams(W), parallel[3], rtol=1e-12, atol=1e-10)
    for m in range(W.shape[1]):  # mixed signs: the stacked products against the closed form
        np.testing.assert_allclose(parallel[3][m], (Z * W[:, m:m + 1]).T @ Z, rtol=1e-11, atol=1e-10)


def test_fits_on_threads_match_fits_on_one_thread_and_repeat_exactly(threads):
    X, y = binary_data(60_000, 5, seed=4)
    threads(1)
    one = Logit().fit(X, y)
    threads(3)
    many, again = Logit().fit(X, y), Logit().fit(X, y)
    np.testing.assert_allclose(many.params, one.params, rtol=1e-11, atol=1e-12)
    np.testing.assert_allclose(many.bse, one.bse, rtol=1e-9)
    np.testing.assert_allclose(many.llf, one.llf, rtol=1e-13)
    assert np.array_equal(many.params, again.params) and np.array_equal(many.bse, again.bse)

    rng = np.random.default_rng(5)
    Xm = rng.normal(size=(30_000, 4))
    logits = np.column_stack([np.zeros(len(Xm)), Xm @ rng.normal(size=(4, 2)) * 0.5])
    labels = np.array([rng.choice(3, p=row) for row in np.exp(logits) / np.exp(logits).sum(1, keepdims=True)])
    threads(1)
    single = MNLogit().fit(Xm, labels)
    threads(3)
    threaded = MNLogit().fit(Xm, labels)
    np.testing.assert_allclose(threaded.params, single.params, rtol=1e-11, atol=1e-12)
    np.testing.assert_allclose(threaded.bse, single.bse, rtol=1e-9)


def test_finite_check_inside_the_context_reads_every_range(threads):
    threads(4)
    X = np.ones((40_000, 3))
    X[39_999, 2] = np.inf
    with row_parts.parallel_rows(), pytest.raises(ValueError, match=r"x3 \(1 of 40000 rows, first at row 39999\)"):
        as_design(X)


def _fit_in_child(n):
    X, y = binary_data(n, 3, seed=6)
    return Logit().fit(X, y).params


def test_a_forked_child_makes_its_own_threads(threads):
    threads(2)
    parent = _fit_in_child(30_000)  # the parent's pool exists now
    with multiprocessing.get_context("fork").Pool(1) as pool:
        child = pool.apply(_fit_in_child, (30_000,))
    np.testing.assert_array_equal(child, parent)
