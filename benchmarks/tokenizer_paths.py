"""The two tokenizers ``benchmarks/tokenizer.py`` compares with ``dan_dice.text``: the former
one (the reference, kept here only) and Hugging Face ``tokenizers`` on the same pattern. Only the
standard library is imported at the top (see ``tokenizer.py``)."""

from __future__ import annotations

import re
import unicodedata
from array import array
from collections import Counter
from collections.abc import Callable, Iterable
from itertools import chain


class ChunkMemo(dict):
    """Memo of the tokens (or ids) of whitespace-separated chunks, as ``dan_dice.text`` keeps
    one: new chunks are worked out by ``value`` and kept up to ``max_size``, so both compared
    paths do the same chunk work as the package."""

    def __init__(self, value: Callable[[str], tuple], max_size: int = 16_384):
        super().__init__()
        self.value = value
        self.max_size = max_size

    def __missing__(self, chunk: str) -> tuple:
        value = self.value(chunk)
        if len(self) < self.max_size:
            self[chunk] = value
        return value

    def join(self, chunks: Iterable[str]) -> list:
        """The values of ``chunks`` one after the other."""
        return [*chain.from_iterable(map(self.__getitem__, chunks))]


# --- The reference: the former tokenizer of dan_dice/text.py, kept here only. ---------------


def reference_marks() -> str:
    """The combining marks of the BMP as ``re`` class ranges, as the former module made them."""
    ranges, start = [], None
    for code in range(0x10001):
        mark = code < 0x10000 and unicodedata.category(chr(code)).startswith("M")
        if mark and start is None:
            start = code
        elif not mark and start is not None:
            ranges.append(f"{re.escape(chr(start))}-{re.escape(chr(code - 1))}")
            start = None
    return "".join(ranges)


REFERENCE = re.compile(
    r"""
    \w+(?=n't\b)            # "do" of "don't", "ca" of "can't"
    | n't\b                 # the negation clitic itself
    | '(?:s|re|ve|ll|d|m)\b # other clitics: 's 're 've 'll 'd 'm
    | \d+(?:[.,:]\d+)+      # numbers with separators: 1,000  3.14  10:30
    | (?:[^\W_]|[MARKS])+   # words and plain numbers (any script, combining marks included)
    | [^\w\s]               # any other symbol: punctuation, currency, emoji
    """.replace("MARKS", reference_marks()),
    re.VERBOSE,
)


def reference_tokenize(text: str) -> list[str]:
    return REFERENCE.findall(text.lower())


class ReferenceVocabulary:
    """The former ``Vocabulary``: build, encode and encode_batch as they were (its memo of the
    ids of lower-cased chunks, regex on a miss, 16,384 at most, is :class:`ChunkMemo`'s)."""

    def __init__(self, tokens: list[str]):
        self.tokens = list(tokens)
        index = {token: i for i, token in enumerate(self.tokens)}
        self.chunk_ids = ChunkMemo(lambda c: tuple([index.get(t, 0) for t in REFERENCE.findall(c)]))

    @classmethod
    def build(cls, texts: Iterable[str], min_count: int = 1) -> ReferenceVocabulary:
        counts = Counter(token for text in texts for token in reference_tokenize(text))
        counts.pop("<unk>", None)
        kept = sorted((t for t, c in counts.items() if c >= min_count), key=lambda t: -counts[t])
        return cls(["<unk>", *kept])

    def encode(self, text: str) -> list[int]:
        return self.chunk_ids.join(text.lower().split()) or [0]

    def encode_batch(self, texts: Iterable[str]):
        import numpy as np

        chunk_ids = self.chunk_ids.__getitem__
        encoded = [[*chain.from_iterable(map(chunk_ids, t.lower().split()))] or [0] for t in texts]
        lengths = np.fromiter(map(len, encoded), dtype=np.int64, count=len(encoded))
        offsets = np.zeros(len(encoded), dtype=np.int64)
        np.cumsum(lengths[:-1], out=offsets[1:])
        ids = np.fromiter(chain.from_iterable(encoded), dtype=np.int64, count=lengths.sum())
        return ids, offsets


# --- The third path: Hugging Face tokenizers on the same pattern. -------------------------------


def tokenizers_paths() -> tuple[type, Callable[[str], list[str]], Callable[[], None]] | None:
    """A ``Vocabulary`` and a ``tokenize`` doing their chunk work with ``tokenizers`` (as
    ``dan_dice.text`` did before this change), and a function clearing their token memo; None
    when ``tokenizers`` is not installed. Rust strings cannot hold lone surrogates: the datasets
    and the code-point scan have none."""
    try:
        from tokenizers import Regex, Tokenizer, models, normalizers, pre_tokenizers
    except ImportError:
        return None
    from dan_dice import text as new

    # the same pattern in Oniguruma's escape syntax: \x{1F600} for re's \U0001F600
    pattern = re.sub(r"\\U([0-9A-F]{8})", lambda m: f"\\x{{{int(m[1], 16):X}}}", new.TOKEN_PATTERN)
    lowercase = normalizers.Lowercase()
    split = pre_tokenizers.Split(Regex(pattern), behavior="removed", invert=True)

    def chunk_tokens(chunk: str) -> tuple[str, ...]:
        return tuple(token for token, _ in split.pre_tokenize_str(lowercase.normalize_str(chunk)))

    class TokenizersVocabulary(new.Vocabulary):
        def __init__(self, tokens: list[str]):
            super().__init__(tokens)
            self.compiled = Tokenizer(models.WordLevel(self.index, unk_token="<unk>"))
            self.compiled.normalizer, self.compiled.pre_tokenizer = lowercase, split
            # the chunk look-ups of Vocabulary's memo (encode_array) and its table
            # (encode_batch): these
            self._chunk_ids.value = self._compiled_ids
            self._table.chunks_ids = self._compiled_chunks_ids

        def _compiled_ids(self, chunk: str) -> bytes:
            ids = self.compiled.encode(chunk, add_special_tokens=False).ids
            return array("q", ids).tobytes()

        def _compiled_chunks_ids(self, chunks: list[str]):
            import numpy as np

            encoded = [self.compiled.encode(c, add_special_tokens=False).ids for c in chunks]
            ids = np.array([*chain.from_iterable(encoded)], dtype=np.int64)
            return ids, np.array([len(e) for e in encoded], dtype=np.int64)

        @classmethod
        def build(cls, texts: Iterable[str], min_count: int = 1):
            chunks = Counter(chain.from_iterable(map(str.split, texts)))
            counts: Counter = Counter()
            for chunk, n in chunks.items():
                for token in chunk_tokens(chunk):
                    counts[token] += n
            counts.pop("<unk>", None)
            kept = sorted(
                (t for t, c in counts.items() if c >= min_count), key=lambda t: -counts[t]
            )
            return cls(["<unk>", *kept])

    memo = ChunkMemo(chunk_tokens)
    return TokenizersVocabulary, lambda text: memo.join(text.split()), memo.clear
