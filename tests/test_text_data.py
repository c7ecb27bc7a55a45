"""The bundled text corpus (chainrule.datasets.load_text), the character tokenizer, the
language-model batches and the n-gram baselines (chainrule.data.text); digits as images."""
from __future__ import annotations

import math

import numpy as np
import pytest

from chainrule.data import CharTokenizer, language_model_batches, ngram_bits_per_character
from chainrule.datasets import load_digits, load_text, text_names
from chainrule.datasets import text as text_module


@pytest.fixture(scope="module")
def shakespeare():
    return load_text("tinyshakespeare")


def test_tinyshakespeare_is_the_char_rnn_file(shakespeare):
    assert text_names() == ["tinyshakespeare"]
    assert len(shakespeare) == 1_115_394
    assert len(set(shakespeare)) == 65
    assert shakespeare.startswith("First Citizen:\nBefore we proceed any further, hear me speak.")


def test_unknown_corpus_and_damaged_file_are_errors(monkeypatch):
    with pytest.raises(ValueError, match="unknown corpus 'shakespeare'.*tinyshakespeare"):
        load_text("shakespeare")
    filename, _, size = text_module.TEXTS["tinyshakespeare"]
    monkeypatch.setitem(text_module.TEXTS, "tinyshakespeare", (filename, "0" * 64, size))
    with pytest.raises(RuntimeError, match="does not match its checksum"):
        load_text("tinyshakespeare")


def test_tokenizer_round_trip_and_errors(shakespeare):
    tok = CharTokenizer(shakespeare)
    assert tok.vocab_size == 65 and tok.vocab == sorted(tok.vocab) and repr(tok) == "CharTokenizer(vocab_size=65)"
    ids = tok.encode(shakespeare[:5000])
    assert ids.dtype == np.int64 and ids.shape == (5000,)
    assert tok.decode(ids) == shakespeare[:5000]
    assert tok.encode("").shape == (0,) and tok.decode([]) == ""
    with pytest.raises(ValueError, match="character '#' is not in the vocabulary"):
        tok.encode("To be #")
    with pytest.raises(ValueError, match=r"ids must lie in \[0, 65\)"):
        tok.decode([0, 65])
    with pytest.raises(ValueError, match="1-D sequence of integer ids"):
        tok.decode(np.zeros((2, 2), dtype=np.int64))
    with pytest.raises(ValueError, match="non-empty string"):
        CharTokenizer("")


def test_language_model_batches_shift_by_one_and_repeat_with_a_seed():
    ids = np.arange(1000, dtype=np.int64) * 3
    first = language_model_batches(ids, context=16, batch_size=4, seed=7)
    x, y = next(first)
    assert x.shape == y.shape == (4, 16) and x.dtype == y.dtype == np.int64
    np.testing.assert_array_equal(y[:, :-1], x[:, 1:])
    np.testing.assert_array_equal(y[:, -1], x[:, -1] + 3)  # the next id of this arithmetic text
    again = language_model_batches(ids, context=16, batch_size=4, seed=7)
    np.testing.assert_array_equal(next(again)[0], x)
    starts = np.concatenate([next(first)[0][:, 0] // 3 for _ in range(200)])
    assert starts.min() >= 0 and starts.max() <= 1000 - 17  # every window fits, the last one included


@pytest.mark.parametrize("kwargs, message", [
    ({"ids": np.arange(10), "context": 10, "batch_size": 2}, "fewer than context"),
    ({"ids": np.arange(10.0), "context": 2, "batch_size": 2}, "1-D integer array"),
    ({"ids": np.arange(10), "context": 0, "batch_size": 2}, "context must be a positive int"),
    ({"ids": np.arange(10), "context": 2, "batch_size": True}, "batch_size must be a positive int"),
    ({"ids": np.arange(10), "context": 2, "batch_size": 2, "seed": -1}, "seed must be"),
])
def test_language_model_batch_errors(kwargs, message):
    with pytest.raises(ValueError, match=message):
        next(language_model_batches(**kwargs))


def test_ngram_baselines_by_hand():
    # V = 2, train "abab": P(a) = P(b) = (2 + 1) / (4 + 2) = 1/2; P(b | a) = (2 + 1) / (2 + 2) = 3/4
    assert ngram_bits_per_character("abab", "ab", 1) == pytest.approx(1.0)
    assert ngram_bits_per_character("abab", "ab", 2) == pytest.approx((1.0 - math.log2(0.75)) / 2)


def test_bigram_baseline_equals_a_count_matrix(shakespeare):
    train, valid = shakespeare[:200_000], shakespeare[200_000:230_000]
    vocab = sorted(set(train) | set(valid))
    index = {c: i for i, c in enumerate(vocab)}
    a = np.array([index[c] for c in train])
    b = np.array([index[c] for c in valid])
    V = len(vocab)
    pairs = np.zeros((V, V))
    np.add.at(pairs, (a[:-1], a[1:]), 1)
    unigram = np.bincount(a, minlength=V)
    conditional = (pairs + 1) / (unigram[:, None] + V)  # P(next | current) from counts
    bits = -np.log2(conditional[b[:-1], b[1:]]).sum() - np.log2((unigram[b[0]] + 1) / (a.size + V))
    assert ngram_bits_per_character(train, valid, 2) == pytest.approx(bits / b.size, rel=1e-12)
    assert ngram_bits_per_character(train, valid, 1) > ngram_bits_per_character(train, valid, 2)


@pytest.mark.parametrize("n, alpha, message", [(0, 1.0, "n must be"), (2, 0.0, "alpha must be > 0")])
def test_ngram_errors(n, alpha, message):
    with pytest.raises(ValueError, match=message):
        ngram_bits_per_character("ab", "ab", n, alpha)


def test_digits_as_images():
    flat, y = load_digits()
    images, y_images = load_digits(as_images=True)
    assert images.shape == (1797, 1, 8, 8) and images.dtype == np.float64
    np.testing.assert_array_equal(images[5, 0], flat[5].reshape(8, 8))
    np.testing.assert_array_equal(y_images, y)
    with pytest.raises(ValueError, match="exclude each other"):
        load_digits(as_frame=True, as_images=True)
    with pytest.raises(TypeError, match="as_images must be True or False"):
        load_digits(as_images="yes")
