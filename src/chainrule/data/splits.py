"""Holding out data: random splits of a dataset, and training/test splits of aligned arrays.

:func:`random_split` cuts a dataset into non-overlapping random :class:`Subset` s (for
validation); :func:`train_test_split` splits arrays, Tensors or pandas objects with
scikit-learn's signature. Both draw their permutation from the global generator
(``chainrule.manual_seed``) unless given a ``seed``.
"""
from __future__ import annotations

import math

from ..engine import backend
from ..engine import random as _random
from ..engine.backend import host as np
from ..engine.tensor import Tensor, wrap
from .checks import check_seed, new_generator
from .loading import Subset

__all__ = ["random_split", "train_test_split"]


def random_split(dataset, lengths, seed: int | None = None) -> list:
    """Split ``dataset`` into non-overlapping random :class:`Subset` s.

    ``lengths`` are either sample counts that add up to ``len(dataset)`` or
    fractions that add up to 1 (each part gets ``floor(fraction * n)`` samples and
    the remainder is dealt out one by one from the first part, as in PyTorch).
    The permutation comes from the global generator, or from ``seed`` when given.

    Example::

        train, val = random_split(dataset, [0.8, 0.2], seed=0)
    """
    n = len(dataset)
    counts = _split_counts(list(lengths), n)
    order = _permutation(n, seed, "random_split")
    parts, start = [], 0
    for count in counts:
        parts.append(Subset(dataset, order[start:start + count]))
        start += count
    return parts


def _split_counts(lengths: list, n: int) -> list:
    if not lengths:
        raise ValueError("random_split: lengths is empty")
    if all(isinstance(v, int) and not isinstance(v, bool) for v in lengths):
        if any(v < 0 for v in lengths) or sum(lengths) != n:
            raise ValueError(
                f"random_split: lengths {lengths} must be non-negative and add up to the "
                f"dataset's {n} samples (they add up to {sum(lengths)})"
            )
        return lengths
    if all(isinstance(v, float) for v in lengths):
        if any(not 0 <= v <= 1 for v in lengths) or not math.isclose(sum(lengths), 1.0, abs_tol=1e-6):
            raise ValueError(
                f"random_split: fractions {lengths} must lie in [0, 1] and add up to 1 "
                f"(they add up to {sum(lengths)})"
            )
        counts = [math.floor(v * n) for v in lengths]
        for k in range(n - sum(counts)):
            counts[k % len(counts)] += 1
        return counts
    raise TypeError(
        f"random_split: lengths must be all ints (counts) or all floats (fractions); got {lengths}"
    )


def train_test_split(*arrays, test_size=0.25, shuffle: bool = True, seed: int | None = None):
    """Split aligned arrays into a training and a held-out part (scikit-learn's signature).

    Args:
        *arrays: host arrays, Tensors or pandas objects with the same length.
        test_size: a fraction in (0, 1) (the held-out part gets ``ceil(test_size * n)``
            samples, as in scikit-learn) or a sample count.
        shuffle: split a random permutation (default) or the stored order (the last
            rows are held out: for time-ordered data).
        seed: ``None`` uses the global generator; an int its own generator.

    Returns ``[a_train, a_test, b_train, b_test, ...]``, each of the same kind as its input.

    Example::

        X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.2, seed=0)
    """
    if not arrays:
        raise ValueError("train_test_split: expected at least one array")
    n = _length(arrays[0], "array 0")
    for position, a in enumerate(arrays[1:], start=1):
        if _length(a, f"array {position}") != n:
            raise ValueError(
                f"train_test_split: array {position} has {_length(a, '')} samples but array 0 "
                f"has {n}; all arrays must have the same length"
            )
    n_test = _test_count(test_size, n)
    order = _permutation(n, seed, "train_test_split") if shuffle else np.arange(n)
    if shuffle:
        test_idx, train_idx = order[:n_test], order[n_test:]
    else:
        train_idx, test_idx = order[:n - n_test], order[n - n_test:]
    result = []
    for a in arrays:
        result.extend((_take(a, train_idx), _take(a, test_idx)))
    return result


def _test_count(test_size, n: int) -> int:
    if isinstance(test_size, bool):
        raise TypeError(f"train_test_split: test_size must be a float or an int; got {test_size!r}")
    if isinstance(test_size, float):
        if not 0.0 < test_size < 1.0:
            raise ValueError(f"train_test_split: test_size as a fraction must lie in (0, 1); got {test_size}")
        count = math.ceil(test_size * n)
    elif isinstance(test_size, int):
        count = test_size
    else:
        raise TypeError(f"train_test_split: test_size must be a float or an int; got {test_size!r}")
    if not 1 <= count <= n - 1:
        raise ValueError(
            f"train_test_split: test_size={test_size} leaves {count} of {n} samples for "
            f"testing; both parts need at least one sample"
        )
    return count


def _length(a, name: str) -> int:
    if isinstance(a, Tensor) or backend.is_array(a):
        if a.ndim == 0:
            raise ValueError(f"train_test_split: {name} is 0-d; it needs a dimension of samples")
        return a.shape[0]
    if hasattr(a, "iloc"):
        return len(a)
    raise TypeError(
        f"train_test_split: {name} must be an array, a Tensor or a pandas object; "
        f"got {type(a).__name__}"
    )


def _take(a, indices):
    if isinstance(a, Tensor):
        return wrap(a.data[indices])
    if hasattr(a, "iloc"):
        return a.iloc[indices]
    return a[indices]


def _permutation(n: int, seed, where: str):
    check_seed(seed, where)
    generator = _random.generator() if seed is None else new_generator(seed)
    return generator.permutation(n)
