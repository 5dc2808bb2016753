"""Tokenizer and vocabulary: raw text to integer ids, with no dependency on torch.

The tokenizer mimics the lower-cased, Penn-Treebank-style tokens of GloVe 6B (``don't`` ->
``do n't``, ``it's`` -> ``it 's``, punctuation and symbols as their own tokens, numbers with
separators kept whole) so that most words of a message find a pretrained vector. This module is
shared by training and by the torch-free edge runtime: there is one tokenizer, not two.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Sequence

import numpy as np

UNK = "<unk>"

_TOKEN = re.compile(
    r"""
    \w+(?=n't\b)            # "do" of "don't", "ca" of "can't"
    | n't\b                 # the negation clitic itself
    | '(?:s|re|ve|ll|d|m)\b # other clitics: 's 're 've 'll 'd 'm
    | \d+(?:[.,:]\d+)+      # numbers with separators: 1,000  3.14  10:30
    | [^\W_]+               # words and plain numbers (any script)
    | [^\w\s]               # any other symbol: punctuation, currency, emoji
    """,
    re.VERBOSE,
)


def tokenize(text: str) -> list[str]:
    """Split ``text`` into lower-cased GloVe-style tokens; never fails on a ``str``."""
    return _TOKEN.findall(text.lower())


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
        index = self.index
        return [index.get(token, 0) for token in tokenize(text)] or [0]

    def encode_batch(self, texts: Iterable[str]) -> tuple[np.ndarray, np.ndarray]:
        """Ids of many texts as one flat array plus the start offset of each text.

        This is the packed layout of ``torch.nn.EmbeddingBag``: text ``i`` owns
        ``ids[offsets[i]:offsets[i + 1]]`` (the last one runs to the end).
        """
        encoded = [self.encode(text) for text in texts]
        lengths = np.fromiter((len(ids) for ids in encoded), dtype=np.int64, count=len(encoded))
        offsets = np.zeros(len(encoded), dtype=np.int64)
        np.cumsum(lengths[:-1], out=offsets[1:])
        ids = np.fromiter((i for ids in encoded for i in ids), dtype=np.int64, count=lengths.sum())
        return ids, offsets
