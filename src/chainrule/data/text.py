"""Text for models: a character tokenizer for language models, batches of next-character
targets, the n-gram baselines a model has to beat, and a subword tokenizer for documents.

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

* :class:`SubwordTokenizer`: a WordPiece (Wu et al. 2016) or byte-pair-encoding (Sennrich
  et al. 2016) vocabulary trained on a list of documents with Hugging Face's ``tokenizers``
  (imported only when one is trained or loaded); each document becomes ``[CLS]`` and its
  subword ids, cut to ``length`` ids and right-padded with ``[PAD]`` (id 0) to it. Text is
  normalized first: Unicode NFKC, then lower-cased (unless ``lowercase=False``); words are
  split at white space and punctuation (BERT's pre-tokenizer).

Bits per character = (loss in nats) / ln 2.
"""
from __future__ import annotations

import math

from ..engine.backend import host as np
from .checks import check_seed

__all__ = ["CharTokenizer", "language_model_batches", "ngram_bits_per_character", "SubwordTokenizer"]


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


# --------------------------------------------------------------------------- subword tokenizer

SPECIAL_TOKENS = ("[PAD]", "[UNK]", "[CLS]")  # ids 0, 1, 2
ALGORITHMS = ("bpe", "wordpiece")


class SubwordTokenizer:
    """Documents <-> (n, length) int64 id arrays, by a trained Hugging Face tokenizer.

    Build one with :meth:`train` (on the training documents only), save it with
    :meth:`to_json` and rebuild it with :meth:`from_json`: the JSON holds the vocabulary, the
    normalization, the truncation to ``length`` ids and the padding to it, so a reloaded
    tokenizer encodes every document exactly as the trained one. Ids: ``[PAD]`` 0, ``[UNK]``
    1 (a piece never seen in training), ``[CLS]`` 2 (the first id of every document, so no
    document is empty).
    """

    def __init__(self, tokenizer):
        self.tokenizer = tokenizer
        self.length = int(tokenizer.padding["length"])
        self.vocab_size = int(tokenizer.get_vocab_size())

    @classmethod
    def train(cls, texts, *, vocab_size: int = 5000, algorithm: str = "bpe", lowercase: bool = True,
              max_length: int = 128) -> SubwordTokenizer:
        """Train on ``texts`` (strings; None counts as ""); ``length`` becomes the longest
        training document in ids ([CLS] included), at most ``max_length``.

        ``algorithm="bpe"`` gives the same vocabulary every run; Hugging Face's WordPiece
        trainer breaks ties between equally frequent pairs in an order that changes from run
        to run (its hash maps are randomly seeded), so ``"wordpiece"`` vocabularies (and what
        is fitted on them) vary between runs."""
        from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, processors, trainers

        if algorithm not in ALGORITHMS:
            raise ValueError(f"SubwordTokenizer.train: algorithm must be one of {', '.join(ALGORITHMS)}; "
                             f"got {algorithm!r}")
        for name, value, low in (("vocab_size", vocab_size, len(SPECIAL_TOKENS) + 1), ("max_length", max_length, 2)):
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise ValueError(f"SubwordTokenizer.train: {name} must be an int >= {low}; got {value!r}")
        texts = _strings(texts, "SubwordTokenizer.train")
        if not any(text.strip() for text in texts):
            raise ValueError("SubwordTokenizer.train: every training document is empty")
        model, trainer = ((models.WordPiece(unk_token="[UNK]"), trainers.WordPieceTrainer)
                          if algorithm == "wordpiece" else (models.BPE(unk_token="[UNK]"), trainers.BpeTrainer))
        tokenizer = Tokenizer(model)
        steps = [normalizers.NFKC()] + ([normalizers.Lowercase()] if lowercase else [])
        tokenizer.normalizer = normalizers.Sequence(steps)
        tokenizer.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
        tokenizer.train_from_iterator(texts, trainer=trainer(vocab_size=vocab_size, special_tokens=list(SPECIAL_TOKENS),
                                                            show_progress=False))
        tokenizer.post_processor = processors.TemplateProcessing(single="[CLS] $A", special_tokens=[("[CLS]", 2)])
        longest = max(len(encoding.ids) for encoding in tokenizer.encode_batch(texts))
        length = min(max_length, longest)
        tokenizer.enable_truncation(length)
        tokenizer.enable_padding(pad_id=0, pad_token="[PAD]", length=length)
        return cls(tokenizer)

    def encode(self, texts):
        """The (n, ``length``) int64 ids of ``texts``: [CLS], the pieces (cut to ``length``), [PAD]s."""
        texts = _strings(texts, "SubwordTokenizer.encode")
        if not texts:
            return np.zeros((0, self.length), dtype=np.int64)
        return np.array([encoding.ids for encoding in self.tokenizer.encode_batch(texts)], dtype=np.int64)

    def truncated(self, texts) -> int:
        """How many of ``texts`` are longer than ``length`` ids (and so cut)."""
        encodings = self.tokenizer.encode_batch(_strings(texts, "SubwordTokenizer.truncated"))
        return sum(bool(encoding.overflowing) for encoding in encodings)

    def vocabulary(self) -> dict:
        """{piece: id} of every piece in the vocabulary."""
        return dict(self.tokenizer.get_vocab())

    def to_json(self) -> str:
        """The tokenizer as Hugging Face's tokenizer.json text."""
        return self.tokenizer.to_str()

    @classmethod
    def from_json(cls, text: str) -> SubwordTokenizer:
        """The tokenizer saved by :meth:`to_json`."""
        from tokenizers import Tokenizer

        tokenizer = Tokenizer.from_str(text)
        if not tokenizer.padding or tokenizer.token_to_id("[PAD]") != 0:
            raise ValueError("SubwordTokenizer.from_json: not a tokenizer saved by SubwordTokenizer.to_json "
                             "(no fixed padding with [PAD] = 0)")
        return cls(tokenizer)

    def __repr__(self) -> str:
        return f"SubwordTokenizer(vocab_size={self.vocab_size}, length={self.length})"


def _strings(texts, who: str) -> list:
    """``texts`` as a list of str (None and NaN become "")."""
    out = []
    for text in texts:
        if text is None or (isinstance(text, float) and math.isnan(text)):
            out.append("")
        elif isinstance(text, str):
            out.append(text)
        else:
            raise TypeError(f"{who}: expected strings; got {type(text).__name__} {text!r}")
    return out
