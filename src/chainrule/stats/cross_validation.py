"""K-fold cross-validation: the (train, test) rows of every cross-validated choice in ``chainrule.stats``
(``RidgeCV``, ``LassoCV``, ``ElasticNetCV``, ``ForwardStepwise(criterion="cv")``, ``PCR(n_components="cv")``;
``LogisticRegressionCV`` uses the stratified folds of :func:`stratified_kfold`, as scikit-learn's classifiers).

K folds of n rows, as scikit-learn's ``KFold(K)``: the first n mod K folds hold ⌈n/K⌉ rows and
the others ⌊n/K⌋; split j tests on fold j and trains on the other K − 1 folds. Without a seed
the folds are contiguous runs of rows in their order (``KFold(K)`` unshuffled); with a seed
the rows are first permuted by ``numpy.random.default_rng(seed).permutation(n)``, and each
fold's training and test indices are returned in increasing order.

Each estimator then scores a candidate (a penalty, a model size, a number of components) by
its prediction error on the held-out rows, summed or averaged over the folds as its own
docstring states.

References: G. James, D. Witten, T. Hastie, R. Tibshirani, *An Introduction to Statistical
Learning*, 2nd ed., 2021, section 5.1.3; T. Hastie, R. Tibshirani, J. Friedman, *The Elements
of Statistical Learning*, 2nd ed., 2009, section 7.10.
"""
from __future__ import annotations

import numbers

from ..engine import backend

np = backend.host

__all__ = ["kfold", "stratified_kfold", "check_folds", "train_test_splits"]


def kfold(n: int, folds: int, random_state=None) -> list:
    """The K = ``folds`` (train, test) index pairs of n rows: contiguous folds, or the rows
    shuffled by ``random_state`` (a seed) first (see the module docstring)."""
    index = np.arange(n)
    if random_state is not None:
        index = np.random.default_rng(random_state).permutation(n)
    sizes = np.full(folds, n // folds)
    sizes[: n % folds] += 1
    pairs, start = [], 0
    for size in sizes:
        test = index[start:start + size]
        train = np.concatenate([index[:start], index[start + size:]])
        pairs.append((np.sort(train), np.sort(test)))
        start += size
    return pairs


def stratified_kfold(y, folds: int) -> list:
    """The K = ``folds`` (train, test) index pairs of scikit-learn's unshuffled
    ``StratifiedKFold(K)``, which the classifiers' cross-validation uses: each class keeps its
    share in every fold.

    The classes are numbered in order of first appearance; the rows sorted by that number are
    dealt to the folds in turn (row i of the sorted order to fold i mod K), which fixes how many
    rows of each class every fold gets; then each class's rows, in their order, fill fold 0's
    share, then fold 1's, … Raises ValueError when every class has fewer than K rows (a
    fold would miss them all), as scikit-learn does."""
    y = np.asarray(y)
    _, first, inverse = np.unique(y, return_index=True, return_inverse=True)
    _, order = np.unique(first, return_inverse=True)
    codes = order[inverse.reshape(-1)]
    counts = np.bincount(codes)
    if np.all(folds > counts):
        raise ValueError(f"n_splits={folds} cannot be greater than the number of members in each class "
                         f"(the largest class has {int(counts.max())} rows)")
    dealt = np.sort(codes)
    allocation = np.array([np.bincount(dealt[i::folds], minlength=counts.size) for i in range(folds)])
    test_fold = np.empty(y.shape[0], dtype=backend.int64)
    for k in range(counts.size):
        test_fold[codes == k] = np.repeat(np.arange(folds), allocation[:, k])
    return [(np.flatnonzero(test_fold != f), np.flatnonzero(test_fold == f)) for f in range(folds)]


def check_folds(cv, n: int, owner: str) -> int:
    """``cv`` as a number of folds: an integer ≥ 2 and at most the n rows; ``owner`` names the
    estimator in the error."""
    if isinstance(cv, bool) or not isinstance(cv, (int, np.integer)) or cv < 2:
        raise ValueError(f"{owner}: cv must be an integer >= 2 (the number of folds); got {cv!r}")
    if cv > n:
        raise ValueError(f"{owner}: cv={cv} folds need at least {cv} rows; X has {n}")
    return int(cv)


def train_test_splits(cv, X, y, n: int) -> list:
    """The (train, test) index pairs that ``cv`` stands for: a number of folds (unshuffled
    :func:`kfold`), a splitter with ``split(X, y)`` (scikit-learn's), or an iterable of pairs."""
    if isinstance(cv, numbers.Integral) and not isinstance(cv, bool):
        if cv < 2 or cv > n:
            raise ValueError(f"cv: expected a number of folds in [2, {n}]; got {cv}")
        return kfold(n, int(cv))
    if hasattr(cv, "split"):
        return list(cv.split(X, y))
    try:
        return [(np.asarray(train), np.asarray(test)) for train, test in cv]
    except TypeError:
        raise TypeError(
            f"cv: expected None, 'gcv', a number of folds, a splitter with .split() or an "
            f"iterable of (train, test) index pairs; got {cv!r}"
        ) from None
