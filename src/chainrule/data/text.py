"""Text for character-level language models: a tokenizer, batches of next-character
targets, and the n-gram baselines a model has to beat.

* :class:`CharTokenizer`: every distinct character of a training text gets an id (sorted
  by code point, so the vocabulary does not depend on the order of the text);
  ``encode(str) -> int64 array``, ``decode(ids) -> str``.
* :func:`language_model_batches`: ``batch_size`` random windows of ``context + 1`` ids; the
  input is the first ``context`` ids and the target the same window shifted by one, so a
  model predicts every next character at once (as in Karpathy's nanoGPT).
* :func:`ngram_bits_per_character`: the cross-entropy, in bits per character, of an
  (n-1)-th order Markov model with add-alpha (Laplace) smoothing fitted on one text and
  scored on another. n = 1 is the unigram baseline (character frequencies), n = 2 the
  bigram one (the next character given the current one). A language model is worth its
  parameters only below these numbers.

Bits per character = (loss in nats) / ln 2.
"""
from __future__ import annotations

import math

from ..engine.backend import host as np
from .checks import check_seed

__all__ = ["CharTokenizer", "language_model_batches", "ngram_bits_per_character"]


class CharTokenizer:
    """Characters <-> integer ids for a fixed vocabulary (the characters of ``text``).

    ``vocab`` is the sorted list of characters; ``vocab_size`` its length. Encoding a
    character that is not in the vocabulary raises ValueError naming it (nothing is
    dropped or replaced silently).
    """

    def __init__(self, text: str):
        if not isinstance(text, str) or not text:
            raise ValueError(f"CharTokenizer: text must be a non-empty string; got {type(text).__name__}")
        self.vocab = sorted(set(text))
        self.vocab_size = len(self.vocab)
        self._ids = {ch: i for i, ch in enumerate(self.vocab)}

    def encode(self, text: str):
        """The int64 ids of the characters of ``text``."""
        if not isinstance(text, str):
            raise TypeError(f"CharTokenizer.encode: expected a string; got {type(text).__name__}")
        try:
            return np.fromiter((self._ids[ch] for ch in text), dtype=np.int64, count=len(text))
        except KeyError as err:
            raise ValueError(f"CharTokenizer.encode: character {err.args[0]!r} is not in the vocabulary "
                             f"({self.vocab_size} characters)") from None

    def decode(self, ids) -> str:
        """The text of a sequence of ids (a list, an array or a 1-D Tensor)."""
        ids = np.asarray(ids.numpy() if hasattr(ids, "numpy") else ids)
        if ids.ndim != 1 or (ids.size and ids.dtype.kind not in "iu"):
            raise ValueError(f"CharTokenizer.decode: expected a 1-D sequence of integer ids; got shape {ids.shape}, "
                             f"dtype {ids.dtype}")
        if ids.size and (ids.min() < 0 or ids.max() >= self.vocab_size):
            raise ValueError(f"CharTokenizer.decode: ids must lie in [0, {self.vocab_size}); got "
                             f"[{ids.min()}, {ids.max()}]")
        return "".join(self.vocab[i] for i in ids.tolist())

    def __repr__(self) -> str:
        return f"CharTokenizer(vocab_size={self.vocab_size})"


def language_model_batches(ids, context: int, batch_size: int, seed=None):
    """An endless iterator of ``(inputs, targets)``, each an int64 array (batch_size, context).

    Each row is a window of ``ids`` starting at a uniformly random position;
    ``targets[b, t] = ids[start_b + t + 1]``, the character after ``inputs[b, t]``.
    ``seed`` makes the sequence of batches reproducible.
    """
    ids = np.asarray(ids)
    if ids.ndim != 1 or ids.dtype.kind not in "iu":
        raise ValueError(f"language_model_batches: ids must be a 1-D integer array; got shape {ids.shape}, "
                         f"dtype {ids.dtype}")
    for name, value in (("context", context), ("batch_size", batch_size)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"language_model_batches: {name} must be a positive int; got {value!r}")
    if ids.size < context + 1:
        raise ValueError(f"language_model_batches: the text has {ids.size} ids, fewer than context + 1 = "
                         f"{context + 1}")
    rng = np.random.default_rng(check_seed(seed, "language_model_batches"))
    offsets = np.arange(context + 1)
    while True:
        starts = rng.integers(0, ids.size - context, size=batch_size)
        windows = ids[starts[:, None] + offsets]
        yield windows[:, :-1].astype(np.int64), windows[:, 1:].astype(np.int64)


def ngram_bits_per_character(train: str, valid: str, n: int, alpha: float = 1.0) -> float:
    """Cross-entropy in bits per character of an add-``alpha`` n-gram model of ``train`` on ``valid``.

    P(c | h) = (count(h c) + alpha) / (count(h) + alpha V), h the previous n - 1 characters and
    V the number of distinct characters in ``train`` and ``valid`` together; the first n - 1
    characters of ``valid`` are scored with the shorter histories available (the unigram for
    the first). Returns -mean(log2 P) over every character of ``valid``.
    """
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"ngram_bits_per_character: n must be an int >= 1; got {n!r}")
    if not (isinstance(alpha, (int, float)) and alpha > 0):
        raise ValueError(f"ngram_bits_per_character: alpha must be > 0; got {alpha!r}")
    for name, text in (("train", train), ("valid", valid)):
        if not isinstance(text, str) or not text:
            raise ValueError(f"ngram_bits_per_character: {name} must be a non-empty string")
    vocabulary = len(set(train) | set(valid))
    counts = [_ngram_counts(train, k) for k in range(1, n + 1)]
    total_bits = 0.0
    for position in range(len(valid)):
        k = min(n, position + 1)  # the longest history available at this position
        gram = valid[position - k + 1:position + 1]
        joint = counts[k - 1].get(gram, 0)
        history = counts[k - 2].get(gram[:-1], 0) if k > 1 else len(train)
        total_bits -= math.log2((joint + alpha) / (history + alpha * vocabulary))
    return total_bits / len(valid)


def _ngram_counts(text: str, k: int) -> dict:
    counts: dict = {}
    for start in range(len(text) - k + 1):
        gram = text[start:start + k]
        counts[gram] = counts.get(gram, 0) + 1
    return counts
