"""chainrule.data.SubwordTokenizer: WordPiece and BPE vocabularies trained on documents with
Hugging Face's tokenizers; [CLS] first, cut to the longest training document (at most
max_length), right-padded with [PAD] = 0; normalization; the JSON round trip; the errors."""
import numpy as np
import pytest

pytest.importorskip("tokenizers")

from chainrule.data import SubwordTokenizer  # noqa: E402

DOCUMENTS = ["Great movie, loved it!", "A terrible film; I hated it.", "The plot was fine", None, ""]


@pytest.mark.parametrize("algorithm", ["wordpiece", "bpe"])
def test_cls_first_then_pieces_then_padding_to_the_longest_training_document(algorithm):
    tokenizer = SubwordTokenizer.train(DOCUMENTS, vocab_size=200, algorithm=algorithm)
    ids = tokenizer.encode(["great film", "", None, "loved it"])
    longest = max(len(d.replace(",", " ,").replace("!", " !").replace(";", " ;").replace(".", " .").split())
                  for d in DOCUMENTS if d)
    assert tokenizer.length == longest + 1 and ids.shape == (4, tokenizer.length) and ids.dtype == np.int64
    assert np.all(ids[:, 0] == 2)  # [CLS]
    np.testing.assert_array_equal(ids[1], [2] + [0] * (tokenizer.length - 1))  # empty and missing: [CLS] only
    np.testing.assert_array_equal(ids[1], ids[2])
    vocabulary = tokenizer.vocabulary()
    assert vocabulary["[PAD]"] == 0 and vocabulary["[UNK]"] == 1 and vocabulary["[CLS]"] == 2
    assert list(ids[0, 1:3]) == [vocabulary["great"], vocabulary["film"]]


def test_lowercase_by_default_and_cased_on_request():
    lowered = SubwordTokenizer.train(["Great GREAT great"], vocab_size=100)
    assert len(set(lowered.encode(["Great GREAT great"])[0, 1:4])) == 1
    cased = SubwordTokenizer.train(["Great GREAT great"], vocab_size=100, lowercase=False)
    assert len(set(cased.encode(["Great GREAT great"])[0, 1:4])) == 3


def test_truncation_at_max_length_and_unknown_pieces():
    tokenizer = SubwordTokenizer.train(["one two three four five six"], vocab_size=100, max_length=4)
    assert tokenizer.length == 4
    ids = tokenizer.encode(["one two three four five six", "zzz"])
    assert tokenizer.truncated(["one two three four five six", "one"]) == 1
    assert ids[0, 3] == tokenizer.vocabulary()["three"]
    assert ids[1, 1] == 1  # a word of letters never seen: [UNK]


def test_json_round_trip_encodes_the_same():
    tokenizer = SubwordTokenizer.train(DOCUMENTS, vocab_size=200, max_length=5)
    again = SubwordTokenizer.from_json(tokenizer.to_json())
    texts = ["great film, hated the plot", "", "unseen words here"]
    np.testing.assert_array_equal(again.encode(texts), tokenizer.encode(texts))
    assert (again.length, again.vocab_size) == (tokenizer.length, tokenizer.vocab_size)
    assert repr(again) == f"SubwordTokenizer(vocab_size={tokenizer.vocab_size}, length=5)"


@pytest.mark.parametrize("call, error, message", [
    (lambda: SubwordTokenizer.train(["a b"], algorithm="unigram"), ValueError, "algorithm must be one of"),
    (lambda: SubwordTokenizer.train(["a b"], vocab_size=3), ValueError, "vocab_size must be an int >= 4"),
    (lambda: SubwordTokenizer.train(["a b"], max_length=1), ValueError, "max_length must be an int >= 2"),
    (lambda: SubwordTokenizer.train(["", None, "  "]), ValueError, "every training document is empty"),
    (lambda: SubwordTokenizer.train(["a", 3]), TypeError, "expected strings; got int"),
    (lambda: SubwordTokenizer.train(["a b"]).encode([b"a"]), TypeError, "expected strings; got bytes"),
])
def test_errors(call, error, message):
    with pytest.raises(error, match=message):
        call()


def test_from_json_refuses_a_tokenizer_without_fixed_padding():
    from tokenizers import Tokenizer, models

    with pytest.raises(ValueError, match="not a tokenizer saved by SubwordTokenizer.to_json"):
        SubwordTokenizer.from_json(Tokenizer(models.WordPiece(unk_token="[UNK]")).to_str())
