r"""Cross-fitting sample splits: K folds, repeated n_rep times.

Cross-fitting (Chernozhukov et al. 2018, Definition 3.1) partitions the rows {1, …, n} into
K folds I_1, …, I_K of (nearly) equal size. For each fold k the nuisance functions are
learned on the other folds I_k^c and predicted on I_k, so every row gets an out-of-fold
prediction and the score uses no prediction of a row from a model that saw that row.

Repeated cross-fitting draws n_rep independent partitions; the estimates of the repetitions
are combined by medians (:mod:`chainrule.causal.aggregation`).

A split is a list of (train, test) pairs of row indices, one per fold; a repeated split is a
list of n_rep such lists (DoubleML's ``set_sample_splitting`` format, which this module reads:
a single list of pairs is one repetition). :func:`check_folds` accepts a split when, in each
repetition, the test sets are disjoint and cover every row, and no row is in both the train
and the test set of a fold.

:func:`make_folds` shuffles the rows and cuts them into K consecutive blocks, the first
n mod K of size ⌊n/K⌋ + 1 and the rest of size ⌊n/K⌋ (scikit-learn's ``KFold(shuffle=True)``
layout, with NumPy's ``default_rng(random_state)`` permutation).
"""
from __future__ import annotations

import numbers

from ..engine import backend

np = backend.host

__all__ = ["make_folds", "check_folds"]


def make_folds(n_obs: int, n_folds: int = 5, n_rep: int = 1, random_state=None) -> list:
    """``n_rep`` random partitions of ``range(n_obs)`` into ``n_folds`` folds: a list of n_rep
    lists of (train, test) index arrays (sorted within each set)."""
    for value, name, minimum in ((n_obs, "n_obs", 2), (n_folds, "n_folds", 2), (n_rep, "n_rep", 1)):
        if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
            raise ValueError(f"make_folds: {name} must be an int >= {minimum}; got {value!r}")
    if n_folds > n_obs:
        raise ValueError(f"make_folds: n_folds ({n_folds}) exceeds the number of rows ({n_obs})")
    rng = random_state if isinstance(random_state, np.random.Generator) else np.random.default_rng(random_state)
    sizes = np.full(n_folds, n_obs // n_folds)
    sizes[: n_obs % n_folds] += 1
    bounds = np.concatenate([[0], np.cumsum(sizes)])
    splits = []
    for _ in range(n_rep):
        order = rng.permutation(n_obs)
        tests = [np.sort(order[bounds[k]:bounds[k + 1]]) for k in range(n_folds)]
        splits.append([(np.setdiff1d(np.arange(n_obs), test), test) for test in tests])
    return splits


def check_folds(folds, n_obs: int, model: str = "DML") -> list:
    """``folds`` as a list of repetitions, each a list of (train, test) int arrays, after
    checking that each repetition's test sets partition the ``n_obs`` rows and that no fold
    trains on its own test rows. A single list of pairs is read as one repetition."""
    if not isinstance(folds, (list, tuple)) or len(folds) == 0:
        raise TypeError(f"{model}: folds must be a non-empty list of (train, test) index pairs, or a list of such "
                        f"lists (one per repetition); got {type(folds).__name__}")
    one_rep = _is_pair(folds[0])
    reps = [folds] if one_rep else list(folds)
    out = []
    for r, rep in enumerate(reps):
        if not isinstance(rep, (list, tuple)) or len(rep) < 2 or not all(_is_pair(p) for p in rep):
            raise TypeError(f"{model}: folds[{r}] must be a list of at least 2 (train, test) index pairs")
        pairs = [(_indices(train, n_obs, model, r, k, "train"), _indices(test, n_obs, model, r, k, "test"))
                 for k, (train, test) in enumerate(rep)]
        covered = np.zeros(n_obs, dtype=np.int64)
        for k, (train, test) in enumerate(pairs):
            np.add.at(covered, test, 1)
            if train.size == 0:
                raise ValueError(f"{model}: fold {k} of repetition {r} has no training rows")
            if np.intersect1d(train, test).size:
                raise ValueError(f"{model}: fold {k} of repetition {r} trains on rows of its own test set "
                                 f"(e.g. row {np.intersect1d(train, test)[0]})")
        if (covered != 1).any():
            missing, twice = np.flatnonzero(covered == 0), np.flatnonzero(covered > 1)
            detail = (f"{missing.size} rows are in no test set (e.g. row {missing[0]})" if missing.size
                      else f"{twice.size} rows are in several test sets (e.g. row {twice[0]})")
            raise ValueError(f"{model}: the test sets of repetition {r} must cover each of the {n_obs} rows "
                             f"exactly once; {detail}")
        out.append(pairs)
    return out


def _is_pair(value) -> bool:
    return isinstance(value, (list, tuple)) and len(value) == 2 and all(_is_index_vector(part) for part in value)


def _is_index_vector(part) -> bool:
    if isinstance(part, np.ndarray):
        return part.ndim == 1
    return isinstance(part, (list, tuple, range)) and all(isinstance(v, numbers.Integral) for v in part)


def _indices(values, n_obs, model, r, k, which):
    array = np.asarray(values)
    if array.ndim != 1 or (array.size and not np.issubdtype(array.dtype, np.integer)):
        raise TypeError(f"{model}: the {which} rows of fold {k} (repetition {r}) must be a 1-d array of integer "
                        f"indices; got dtype {array.dtype}, shape {array.shape}")
    if array.size and (array.min() < 0 or array.max() >= n_obs):
        raise ValueError(f"{model}: the {which} rows of fold {k} (repetition {r}) must lie in [0, {n_obs}); "
                         f"got {array.min()} … {array.max()}")
    return array.astype(np.int64)
