"""Bundled text corpora for language models, with their provenance in ``README.md`` here.

``load_text(name)`` returns a corpus as one Python string; ``text_names()`` lists them. The
one corpus today is ``"tinyshakespeare"``: 1,115,394 characters (65 distinct) of
Shakespeare's plays, the file Karpathy assembled for char-rnn (2015), stored gzip-compressed
and checked against its SHA-256 on every load. The plays are in the public domain; the
compilation comes from a repository under the MIT licence.

A character-level model reads it through :class:`chainrule.data.CharTokenizer` and
:func:`chainrule.data.language_model_batches`.
"""
from __future__ import annotations

import gzip
import hashlib
from importlib import resources

__all__ = ["load_text", "text_names", "TEXTS"]

#: name -> (file in data/, SHA-256 of the uncompressed UTF-8 text, number of characters)
TEXTS = {
    "tinyshakespeare": (
        "tinyshakespeare.txt.gz",
        "86c4e6aa9db7c042ec79f339dcb96d42b0075e16b8fc2e86bf0ca57e2dc565ed",
        1_115_394,
    ),
}


def text_names() -> list:
    """The names of the bundled text corpora."""
    return sorted(TEXTS)


def load_text(name: str = "tinyshakespeare") -> str:
    """The bundled corpus ``name`` as one string (UTF-8 decoded, newlines kept).

    Raises ValueError for an unknown name (listing the known ones) and RuntimeError when the
    bundled file does not match its recorded checksum (a damaged installation).
    """
    if not isinstance(name, str) or name not in TEXTS:
        raise ValueError(f"load_text: unknown corpus {name!r}; the bundled ones are {text_names()}")
    filename, sha256, _ = TEXTS[name]
    path = resources.files(__package__).joinpath(f"data/{filename}")
    with path.open("rb") as f:
        raw = gzip.decompress(f.read())
    if hashlib.sha256(raw).hexdigest() != sha256:
        raise RuntimeError(f"load_text: bundled file {filename!r} does not match its checksum; "
                           f"the installation is damaged")
    return raw.decode("utf-8")
