"""Tokenizer and vocabulary: raw text to integer ids, with no dependency on torch.

The tokenizer mimics the lower-cased, Penn-Treebank-style tokens of GloVe 6B (``don't`` ->
``do n't``, ``it's`` -> ``it 's``, punctuation and symbols as their own tokens, numbers with
separators kept whole) so that most words of a message find a pretrained vector. This module is
shared by training and by the torch-free edge runtime: there is one tokenizer, not two.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from collections.abc import Iterable, Sequence
from itertools import chain
from typing import Any

import numpy as np

UNK = "<unk>"


def _combining_marks() -> str:
    """Character-class ranges of the combining marks (Unicode categories M*) of the BMP.

    ``\\w`` leaves them out, yet they belong inside words: a decomposed "é", Indic vowel signs,
    the dot of GloVe's "i̇stanbul". Computed once at import (about 15 ms).
    """
    ranges, start = [], None
    for code in range(0x10001):
        mark = code < 0x10000 and unicodedata.category(chr(code)).startswith("M")
        if mark and start is None:
            start = code
        elif not mark and start is not None:
            ranges.append(f"{re.escape(chr(start))}-{re.escape(chr(code - 1))}")
            start = None
    return "".join(ranges)


_TOKEN = re.compile(
    r"""
    \w+(?=n't\b)            # "do" of "don't", "ca" of "can't"
    | n't\b                 # the negation clitic itself
    | '(?:s|re|ve|ll|d|m)\b # other clitics: 's 're 've 'll 'd 'm
    | \d+(?:[.,:]\d+)+      # numbers with separators: 1,000  3.14  10:30
    | (?:[^\W_]|[MARKS])+   # words and plain numbers (any script, combining marks included)
    | [^\w\s]               # any other symbol: punctuation, currency, emoji
    """.replace("MARKS", _combining_marks()),
    re.VERBOSE,
)


def check_texts(texts: Any, name: str = "X", allow_empty: bool = False) -> list[str]:
    """A list of ``str`` from any 1-D sequence of texts, or a ``ValueError`` naming the problem.

    Shared by the estimator and the edge runtime so both accept and refuse the same inputs.
    """
    if isinstance(texts, str | bytes):
        raise ValueError(
            f"{name} must be a sequence of texts, not a single string; wrap it in a list"
        )
    shape = getattr(texts, "shape", None)
    if shape is not None and len(shape) != 1:
        raise ValueError(f"{name} must be 1-D (one text per sample), got shape {shape}")
    try:
        texts = list(texts)
    except TypeError as exc:
        raise ValueError(f"{name} must be a sequence of texts, got {type(texts).__name__}") from exc
    for i, text in enumerate(texts):
        if not isinstance(text, str):
            raise ValueError(
                f"{name}[{i}] is {type(text).__name__} ({text!r:.40}), not str: every sample must "
                "be a text (replace missing values with '' and decode bytes first)"
            )
    if not texts and not allow_empty:
        raise ValueError(f"{name} is empty: need at least one text")
    return texts


def tokenize(text: str) -> list[str]:
    """Split ``text`` into lower-cased GloVe-style tokens; never fails on a ``str``."""
    return _TOKEN.findall(text.lower())


class _ChunkIds(dict):
    """Memo of the token ids of whitespace-separated chunks of lower-cased text.

    No token spans whitespace and no pattern looks across it, so the tokens of a text are
    those of its chunks in order. Encoding then costs a ``str.split`` and one dict look-up per
    chunk instead of a regex scan of every character. Once the memo holds ``max_size`` chunks
    (about 3 MB), new ones are tokenized without being kept: frequent chunks are met early and
    stay, so the hit rate holds while memory stays bounded in long-running services.
    """

    def __init__(self, index: dict[str, int], max_size: int = 1 << 14):
        super().__init__()
        self.index = index
        self.max_size = max_size

    def __missing__(self, chunk: str) -> tuple[int, ...]:
        index = self.index
        ids = tuple([index.get(token, 0) for token in _TOKEN.findall(chunk)])
        if len(self) < self.max_size:
            self[chunk] = ids
        return ids


class Vocabulary:
    """A word-to-id map built from training texts; id 0 is the unknown word.

    Words seen fewer than ``min_count`` times in training are left out and read as unknown.
    A text with no token at all (empty, or only whitespace) is encoded as a single unknown
    word, so every text has a defined average vector.
    """

    def __init__(self, tokens: Sequence[str]):
        if not tokens or tokens[0] != UNK or len(set(tokens)) != len(tokens):
            raise ValueError("a vocabulary is a list of distinct tokens starting with '<unk>'")
        self.tokens = list(tokens)
        self.index = {token: i for i, token in enumerate(self.tokens)}
        self._chunk_ids = _ChunkIds(self.index)

    def __reduce__(self):
        return type(self), (self.tokens,)

    @classmethod
    def build(cls, texts: Iterable[str], min_count: int = 1) -> Vocabulary:
        """The tokens of ``texts`` seen at least ``min_count`` times, most frequent first."""
        counts = Counter(token for text in texts for token in tokenize(text))
        counts.pop(UNK, None)
        kept = sorted((t for t, c in counts.items() if c >= min_count), key=lambda t: -counts[t])
        return cls([UNK, *kept])

    def __len__(self) -> int:
        return len(self.tokens)

    def encode(self, text: str) -> list[int]:
        """Token ids of one text; unknown words map to 0, an empty text to ``[0]``."""
        chunks = text.lower().split()
        return [*chain.from_iterable(map(self._chunk_ids.__getitem__, chunks))] or [0]

    def encode_batch(self, texts: Iterable[str]) -> tuple[np.ndarray, np.ndarray]:
        """Ids of many texts as one flat array plus the start offset of each text.

        This is the packed layout of ``torch.nn.EmbeddingBag``: text ``i`` owns
        ``ids[offsets[i]:offsets[i + 1]]`` (the last one runs to the end).
        """
        chunk_ids = self._chunk_ids.__getitem__  # encode's body, inlined: ~10 % faster
        encoded = [
            [*chain.from_iterable(map(chunk_ids, text.lower().split()))] or [0] for text in texts
        ]
        lengths = np.fromiter(map(len, encoded), dtype=np.int64, count=len(encoded))
        offsets = np.zeros(len(encoded), dtype=np.int64)
        np.cumsum(lengths[:-1], out=offsets[1:])
        ids = np.fromiter(chain.from_iterable(encoded), dtype=np.int64, count=lengths.sum())
        return ids, offsets
