"""Tokenizer and vocabulary: raw text to integer ids, with no dependency on torch.

The tokens mimic the lower-cased, Penn-Treebank-style tokens of GloVe 6B (``don't`` ->
``do n't``, ``it's`` -> ``it 's``, punctuation and symbols as their own tokens, numbers with
separators kept whole) so that most words of a message find a pretrained vector. This module is
shared by training and by the torch-free edge runtime: there is one tokenizer, not two.

Tokenizing is Python's compiled ``re`` on ``str.lower()``, with :data:`TOKEN_PATTERN` built only
from the character classes committed at the end of this module (Unicode 14.0, the tables of
Python 3.11) rather than ``\\w``/``\\b``, whose tables move with Python's Unicode version: the
tokens and :data:`TOKENIZER_SPEC` are the same under every Python. A bounded memo of
whitespace-separated chunks makes a chunk met before cost one dict look-up, and batches are
looked up a whole batch at a time (:mod:`dan_dice.chunk_table`). Hugging Face ``tokenizers``
measured slower here (``reports/tokenizer.md``).
"""

from __future__ import annotations

import functools
import re
from array import array
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from itertools import chain
from typing import Any

import numpy as np

from .chunk_table import ChunkTable

UNK = "<unk>"
MEMO_SIZE = 1 << 14
"""Most chunks a memo keeps (about 2 MB): frequent chunks are met early and stay."""
ID_MEMO_SIZE = 1 << 17
"""Most chunks a vocabulary keeps the ids of, in its memo for single texts and in its
:class:`~dan_dice.chunk_table.ChunkTable` for batches: a missed chunk costs the regex, about
1 µs, a large part of a text's budget in batches. All the cyberbullying test texts' chunks fit
(one of 65,536 measured 2x slower on them)."""
TABLE_CHARS = 8192
"""Characters from which :meth:`Vocabulary.encode_batch` takes a batch through its chunk table,
whose numpy passes cost more than the memo's look-ups for a few texts (a fixed cost a batch)
but less for many (a smaller cost a chunk): this is where the two met on the SMS and
cyberbullying texts."""
UNICODE_VERSION = "14.0.0"
"""The Unicode version of the committed character classes (``unicodedata`` of Python 3.11)."""


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


def _chunk_tokens(chunk: str) -> tuple[str, ...]:
    """The tokens of one whitespace-free chunk. A lone surrogate (text decoded with
    surrogateescape) is a symbol token, as any character neither word nor space."""
    chunk = chunk.lower()
    if chunk.isascii() or max(chunk) <= "\uffff":
        return tuple(_TOKEN_BMP.findall(chunk))
    return tuple(_TOKEN.findall(chunk))


class _ChunkMemo(dict):
    """Memo of the tokens (or the ids, as bytes) of whitespace-separated chunks of raw text.

    No token spans whitespace and no part of the pattern looks across it (its whitespace is
    exactly ``str.isspace``), so the tokens of a text are those of its ``str.split`` chunks in
    order. Once the memo holds ``max_size`` chunks, new ones are worked out without being
    kept, so memory stays bounded in long-running services.
    """

    def __init__(self, value: Callable[[str], tuple], max_size: int = MEMO_SIZE):
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


_TOKENS = _ChunkMemo(_chunk_tokens)


def tokenize(text: str) -> list[str]:
    """Split ``text`` into lower-cased GloVe-style tokens; never fails on a ``str``."""
    return _TOKENS.join(text.split())


def count_tokens(texts: Iterable[str]) -> Counter[str]:
    """How often each token occurs in ``texts`` (the unknown-word token left out)."""
    chunks = Counter(chain.from_iterable(map(str.split, texts)))  # each once, then weighed
    counts: Counter[str] = Counter()
    for chunk, n in chunks.items():
        for token in _chunk_tokens(chunk):
            counts[token] += n
    counts.pop(UNK, None)
    return counts


def _ids_of_chunk(get: Callable[[str, int], int], one_id: list, chunk: str) -> bytes:
    """The ids of ``chunk``'s tokens (``get`` looks one up) as int64 bytes: a batch's are then
    one ``join``. The chunks of one token (most) share one object per token in ``one_id``,
    which saves the memo megabytes."""
    ids = [get(token, 0) for token in _chunk_tokens(chunk)]
    if len(ids) != 1:
        return array("q", ids).tobytes()
    if (value := one_id[ids[0]]) is None:
        value = one_id[ids[0]] = array("q", ids).tobytes()
    return value


def _ids_of_chunks(look_up: Callable[[str], bytes], chunks: list[str]) -> tuple[np.ndarray, ...]:
    """The ids of the tokens of ``chunks`` one after the other (``look_up`` gives a chunk's as
    int64 bytes), and how many each chunk has: the look-up of a
    :class:`~dan_dice.chunk_table.ChunkTable`'s new chunks. The regex costs the same per chunk
    as over many chunks joined, which would need the slower full pattern as soon as one chunk
    has a character beyond the BMP."""
    values = [look_up(chunk) for chunk in chunks]
    counts = np.fromiter(map(len, values), dtype=np.int64, count=len(values)) // 8
    return np.frombuffer(b"".join(values), dtype=np.int64), counts


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
        self._one_id: list[bytes | None] = [None] * len(self.tokens)
        # The memo's look-up holds the index, not the vocabulary: no reference cycle, so a
        # vocabulary replaced (as partial_fit grows it) frees its memo at once, not at the
        # garbage collector's next full pass.
        look_up = functools.partial(_ids_of_chunk, self.index.get, self._one_id)
        self._chunk_ids = _ChunkMemo(look_up, ID_MEMO_SIZE)
        self._table = ChunkTable(functools.partial(_ids_of_chunks, look_up), ID_MEMO_SIZE)

    def __reduce__(self):
        return type(self), (self.tokens,)

    @classmethod
    def build(cls, texts: Iterable[str], min_count: int = 1) -> Vocabulary:
        """The tokens of ``texts`` seen at least ``min_count`` times, most frequent first (ties
        in the order they were first seen)."""
        return cls.from_counts(count_tokens(texts), min_count)

    @classmethod
    def from_counts(cls, counts: Counter[str], min_count: int = 1) -> Vocabulary:
        """The tokens counted at least ``min_count`` times, most frequent first (ties in the
        order they were first counted)."""
        kept = sorted((t for t, c in counts.items() if c >= min_count), key=lambda t: -counts[t])
        return cls([UNK, *kept])

    def __len__(self) -> int:
        return len(self.tokens)

    def encode(self, text: str) -> list[int]:
        """Token ids of one text; unknown words map to 0, an empty text to ``[0]``."""
        return self.encode_array(text).tolist()

    def encode_array(self, text: str) -> np.ndarray:
        """:meth:`encode` as an int64 array."""
        ids = b"".join(map(self._chunk_ids.__getitem__, text.split()))
        return np.frombuffer(ids, dtype=np.int64) if ids else np.zeros(1, dtype=np.int64)

    def encode_batch(self, texts: Iterable[str]) -> tuple[np.ndarray, np.ndarray]:
        """Ids of many texts as one flat array plus the start offset of each text.

        This is the packed layout of ``torch.nn.EmbeddingBag``: text ``i`` owns
        ``ids[offsets[i]:offsets[i + 1]]`` (the last one runs to the end). The ids are those of
        :meth:`encode`, worked out a batch at a time by a
        :class:`~dan_dice.chunk_table.ChunkTable` (a few numpy passes, where :meth:`encode`
        makes a Python call per chunk); a batch of fewer than :data:`TABLE_CHARS` characters
        goes text by text, which then costs less than the table's passes.
        """
        texts = texts if isinstance(texts, list) else list(texts)
        if sum(map(len, texts)) >= TABLE_CHARS:
            return self._table.encode(texts)
        encoded = [self.encode_array(text) for text in texts]
        lengths = np.fromiter(map(len, encoded), dtype=np.int64, count=len(encoded))
        ids = np.concatenate(encoded) if encoded else np.zeros(0, dtype=np.int64)
        return ids, np.cumsum(lengths) - lengths


def build_vocabulary(texts: tuple[str, ...], min_count: int = 1) -> Vocabulary:
    """:meth:`Vocabulary.build`, memoised in the process on the texts themselves (a tuple,
    compared by value): the experiment grid fits every seed and learning rate, and a grid
    search every candidate, on the same texts, which are then tokenised once. The memo keeps
    the tokens; every call gets a vocabulary of its own, so estimators never share one."""
    return Vocabulary(_vocabulary_tokens(texts, min_count))


@functools.lru_cache(maxsize=4)
def _vocabulary_tokens(texts: tuple[str, ...], min_count: int) -> tuple[str, ...]:
    return tuple(Vocabulary.build(texts, min_count).tokens)


def encode_corpus(vocabulary: Vocabulary, texts: tuple[str, ...]) -> tuple[np.ndarray, np.ndarray]:
    """:meth:`Vocabulary.encode_batch`, memoised likewise for training and validation texts,
    on the vocabulary's tokens (read-only arrays: they are shared)."""
    return _encoded_corpus(tuple(vocabulary.tokens), texts)


@functools.lru_cache(maxsize=8)
def _encoded_corpus(tokens: tuple[str, ...], texts: tuple[str, ...]) -> tuple[np.ndarray, ...]:
    ids, offsets = Vocabulary(tokens).encode_batch(texts)
    ids.flags.writeable = offsets.flags.writeable = False
    return ids, offsets


def _char_class(ranges: str, last: int) -> str:
    """Hex code point ranges ("41-5A 61") up to code point ``last`` as the inside of a ``re``
    character class."""
    spans = ([int(bound, 16) for bound in span.split("-")] for span in ranges.split())
    return "".join(
        "-".join(f"\\U{min(bound, last):08X}" for bound in bounds)
        for bounds in spans
        if bounds[0] <= last
    )


def _token_pattern(last: int = 0x10FFFF) -> str:
    """The token regex (leftmost alternative first), its classes cut at code point ``last``.

    Word characters are spelled out from the committed classes; ``(?![w_])`` after a word
    character is what ``\\b`` meant. ``re`` tests the class ranges beyond the BMP one by one, so
    the pattern cut at U+FFFF, the same on text without such characters, is 3x faster there.
    """
    w, d, m, s = (_char_class(ranges, last) for ranges in (_ALNUM, _DIGITS, _MARKS, _SPACES))
    return "|".join(
        (
            f"[{w}_]+(?=n't(?![{w}_]))",  # "do" of "don't", "ca" of "can't"
            f"n't(?![{w}_])",  # the negation clitic itself
            f"'(?:s|re|ve|ll|d|m)(?![{w}_])",  # other clitics: 's 're 've 'll 'd 'm
            f"[{d}]+(?:[.,:][{d}]+)+",  # numbers with separators: 1,000  3.14  10:30
            f"[{w}{m}]+",  # words and plain numbers (any script, combining marks included)
            f"[^{w}_{s}]",  # any other symbol: punctuation, currency, emoji, lone surrogates
        )
    )


# Character classes of Unicode 14.0 as hex code point ranges, made by
# `python benchmarks/tokenizer.py --classes` under Python 3.11 (tests/test_text.py checks them
# against unicodedata under that Unicode version): _ALNUM letters and numbers (categories L*, N*,
# what str.isalnum() and Python's \w less "_" accept), _DIGITS decimal digits (Nd, Python's \d),
# _MARKS combining marks (M*: they belong inside words, as the dot of GloVe's "i̇stanbul"),
# _SPACES what str.isspace() and str.split() take as whitespace.
_ALNUM = (
    "30-39 41-5A 61-7A AA B2-B3 B5 B9-BA BC-BE C0-D6 D8-F6 F8-2C1 2C6-2D1 2E0-2E4 2EC 2EE "
    "370-374 376-377 37A-37D 37F 386 388-38A 38C 38E-3A1 3A3-3F5 3F7-481 48A-52F 531-556 559 "
    "560-588 5D0-5EA 5EF-5F2 620-64A 660-669 66E-66F 671-6D3 6D5 6E5-6E6 6EE-6FC 6FF 710 "
    "712-72F 74D-7A5 7B1 7C0-7EA 7F4-7F5 7FA 800-815 81A 824 828 840-858 860-86A 870-887 "
    "889-88E 8A0-8C9 904-939 93D 950 958-961 966-96F 971-980 985-98C 98F-990 993-9A8 9AA-9B0 "
    "9B2 9B6-9B9 9BD 9CE 9DC-9DD 9DF-9E1 9E6-9F1 9F4-9F9 9FC A05-A0A A0F-A10 A13-A28 A2A-A30 "
    "A32-A33 A35-A36 A38-A39 A59-A5C A5E A66-A6F A72-A74 A85-A8D A8F-A91 A93-AA8 AAA-AB0 "
    "AB2-AB3 AB5-AB9 ABD AD0 AE0-AE1 AE6-AEF AF9 B05-B0C B0F-B10 B13-B28 B2A-B30 B32-B33 "
    "B35-B39 B3D B5C-B5D B5F-B61 B66-B6F B71-B77 B83 B85-B8A B8E-B90 B92-B95 B99-B9A B9C "
    "B9E-B9F BA3-BA4 BA8-BAA BAE-BB9 BD0 BE6-BF2 C05-C0C C0E-C10 C12-C28 C2A-C39 C3D C58-C5A "
    "C5D C60-C61 C66-C6F C78-C7E C80 C85-C8C C8E-C90 C92-CA8 CAA-CB3 CB5-CB9 CBD CDD-CDE "
    "CE0-CE1 CE6-CEF CF1-CF2 D04-D0C D0E-D10 D12-D3A D3D D4E D54-D56 D58-D61 D66-D78 D7A-D7F "
    "D85-D96 D9A-DB1 DB3-DBB DBD DC0-DC6 DE6-DEF E01-E30 E32-E33 E40-E46 E50-E59 E81-E82 E84 "
    "E86-E8A E8C-EA3 EA5 EA7-EB0 EB2-EB3 EBD EC0-EC4 EC6 ED0-ED9 EDC-EDF F00 F20-F33 F40-F47 "
    "F49-F6C F88-F8C 1000-102A 103F-1049 1050-1055 105A-105D 1061 1065-1066 106E-1070 1075-1081 "
    "108E 1090-1099 10A0-10C5 10C7 10CD 10D0-10FA 10FC-1248 124A-124D 1250-1256 1258 125A-125D "
    "1260-1288 128A-128D 1290-12B0 12B2-12B5 12B8-12BE 12C0 12C2-12C5 12C8-12D6 12D8-1310 "
    "1312-1315 1318-135A 1369-137C 1380-138F 13A0-13F5 13F8-13FD 1401-166C 166F-167F 1681-169A "
    "16A0-16EA 16EE-16F8 1700-1711 171F-1731 1740-1751 1760-176C 176E-1770 1780-17B3 17D7 17DC "
    "17E0-17E9 17F0-17F9 1810-1819 1820-1878 1880-1884 1887-18A8 18AA 18B0-18F5 1900-191E "
    "1946-196D 1970-1974 1980-19AB 19B0-19C9 19D0-19DA 1A00-1A16 1A20-1A54 1A80-1A89 1A90-1A99 "
    "1AA7 1B05-1B33 1B45-1B4C 1B50-1B59 1B83-1BA0 1BAE-1BE5 1C00-1C23 1C40-1C49 1C4D-1C7D "
    "1C80-1C88 1C90-1CBA 1CBD-1CBF 1CE9-1CEC 1CEE-1CF3 1CF5-1CF6 1CFA 1D00-1DBF 1E00-1F15 "
    "1F18-1F1D 1F20-1F45 1F48-1F4D 1F50-1F57 1F59 1F5B 1F5D 1F5F-1F7D 1F80-1FB4 1FB6-1FBC 1FBE "
    "1FC2-1FC4 1FC6-1FCC 1FD0-1FD3 1FD6-1FDB 1FE0-1FEC 1FF2-1FF4 1FF6-1FFC 2070-2071 2074-2079 "
    "207F-2089 2090-209C 2102 2107 210A-2113 2115 2119-211D 2124 2126 2128 212A-212D 212F-2139 "
    "213C-213F 2145-2149 214E 2150-2189 2460-249B 24EA-24FF 2776-2793 2C00-2CE4 2CEB-2CEE "
    "2CF2-2CF3 2CFD 2D00-2D25 2D27 2D2D 2D30-2D67 2D6F 2D80-2D96 2DA0-2DA6 2DA8-2DAE 2DB0-2DB6 "
    "2DB8-2DBE 2DC0-2DC6 2DC8-2DCE 2DD0-2DD6 2DD8-2DDE 2E2F 3005-3007 3021-3029 3031-3035 "
    "3038-303C 3041-3096 309D-309F 30A1-30FA 30FC-30FF 3105-312F 3131-318E 3192-3195 31A0-31BF "
    "31F0-31FF 3220-3229 3248-324F 3251-325F 3280-3289 32B1-32BF 3400-4DBF 4E00-A48C A4D0-A4FD "
    "A500-A60C A610-A62B A640-A66E A67F-A69D A6A0-A6EF A717-A71F A722-A788 A78B-A7CA A7D0-A7D1 "
    "A7D3 A7D5-A7D9 A7F2-A801 A803-A805 A807-A80A A80C-A822 A830-A835 A840-A873 A882-A8B3 "
    "A8D0-A8D9 A8F2-A8F7 A8FB A8FD-A8FE A900-A925 A930-A946 A960-A97C A984-A9B2 A9CF-A9D9 "
    "A9E0-A9E4 A9E6-A9FE AA00-AA28 AA40-AA42 AA44-AA4B AA50-AA59 AA60-AA76 AA7A AA7E-AAAF AAB1 "
    "AAB5-AAB6 AAB9-AABD AAC0 AAC2 AADB-AADD AAE0-AAEA AAF2-AAF4 AB01-AB06 AB09-AB0E AB11-AB16 "
    "AB20-AB26 AB28-AB2E AB30-AB5A AB5C-AB69 AB70-ABE2 ABF0-ABF9 AC00-D7A3 D7B0-D7C6 D7CB-D7FB "
    "F900-FA6D FA70-FAD9 FB00-FB06 FB13-FB17 FB1D FB1F-FB28 FB2A-FB36 FB38-FB3C FB3E FB40-FB41 "
    "FB43-FB44 FB46-FBB1 FBD3-FD3D FD50-FD8F FD92-FDC7 FDF0-FDFB FE70-FE74 FE76-FEFC FF10-FF19 "
    "FF21-FF3A FF41-FF5A FF66-FFBE FFC2-FFC7 FFCA-FFCF FFD2-FFD7 FFDA-FFDC 10000-1000B "
    "1000D-10026 10028-1003A 1003C-1003D 1003F-1004D 10050-1005D 10080-100FA 10107-10133 "
    "10140-10178 1018A-1018B 10280-1029C 102A0-102D0 102E1-102FB 10300-10323 1032D-1034A "
    "10350-10375 10380-1039D 103A0-103C3 103C8-103CF 103D1-103D5 10400-1049D 104A0-104A9 "
    "104B0-104D3 104D8-104FB 10500-10527 10530-10563 10570-1057A 1057C-1058A 1058C-10592 "
    "10594-10595 10597-105A1 105A3-105B1 105B3-105B9 105BB-105BC 10600-10736 10740-10755 "
    "10760-10767 10780-10785 10787-107B0 107B2-107BA 10800-10805 10808 1080A-10835 10837-10838 "
    "1083C 1083F-10855 10858-10876 10879-1089E 108A7-108AF 108E0-108F2 108F4-108F5 108FB-1091B "
    "10920-10939 10980-109B7 109BC-109CF 109D2-10A00 10A10-10A13 10A15-10A17 10A19-10A35 "
    "10A40-10A48 10A60-10A7E 10A80-10A9F 10AC0-10AC7 10AC9-10AE4 10AEB-10AEF 10B00-10B35 "
    "10B40-10B55 10B58-10B72 10B78-10B91 10BA9-10BAF 10C00-10C48 10C80-10CB2 10CC0-10CF2 "
    "10CFA-10D23 10D30-10D39 10E60-10E7E 10E80-10EA9 10EB0-10EB1 10F00-10F27 10F30-10F45 "
    "10F51-10F54 10F70-10F81 10FB0-10FCB 10FE0-10FF6 11003-11037 11052-1106F 11071-11072 11075 "
    "11083-110AF 110D0-110E8 110F0-110F9 11103-11126 11136-1113F 11144 11147 11150-11172 11176 "
    "11183-111B2 111C1-111C4 111D0-111DA 111DC 111E1-111F4 11200-11211 11213-1122B 11280-11286 "
    "11288 1128A-1128D 1128F-1129D 1129F-112A8 112B0-112DE 112F0-112F9 11305-1130C 1130F-11310 "
    "11313-11328 1132A-11330 11332-11333 11335-11339 1133D 11350 1135D-11361 11400-11434 "
    "11447-1144A 11450-11459 1145F-11461 11480-114AF 114C4-114C5 114C7 114D0-114D9 11580-115AE "
    "115D8-115DB 11600-1162F 11644 11650-11659 11680-116AA 116B8 116C0-116C9 11700-1171A "
    "11730-1173B 11740-11746 11800-1182B 118A0-118F2 118FF-11906 11909 1190C-11913 11915-11916 "
    "11918-1192F 1193F 11941 11950-11959 119A0-119A7 119AA-119D0 119E1 119E3 11A00 11A0B-11A32 "
    "11A3A 11A50 11A5C-11A89 11A9D 11AB0-11AF8 11C00-11C08 11C0A-11C2E 11C40 11C50-11C6C "
    "11C72-11C8F 11D00-11D06 11D08-11D09 11D0B-11D30 11D46 11D50-11D59 11D60-11D65 11D67-11D68 "
    "11D6A-11D89 11D98 11DA0-11DA9 11EE0-11EF2 11FB0 11FC0-11FD4 12000-12399 12400-1246E "
    "12480-12543 12F90-12FF0 13000-1342E 14400-14646 16800-16A38 16A40-16A5E 16A60-16A69 "
    "16A70-16ABE 16AC0-16AC9 16AD0-16AED 16B00-16B2F 16B40-16B43 16B50-16B59 16B5B-16B61 "
    "16B63-16B77 16B7D-16B8F 16E40-16E96 16F00-16F4A 16F50 16F93-16F9F 16FE0-16FE1 16FE3 "
    "17000-187F7 18800-18CD5 18D00-18D08 1AFF0-1AFF3 1AFF5-1AFFB 1AFFD-1AFFE 1B000-1B122 "
    "1B150-1B152 1B164-1B167 1B170-1B2FB 1BC00-1BC6A 1BC70-1BC7C 1BC80-1BC88 1BC90-1BC99 "
    "1D2E0-1D2F3 1D360-1D378 1D400-1D454 1D456-1D49C 1D49E-1D49F 1D4A2 1D4A5-1D4A6 1D4A9-1D4AC "
    "1D4AE-1D4B9 1D4BB 1D4BD-1D4C3 1D4C5-1D505 1D507-1D50A 1D50D-1D514 1D516-1D51C 1D51E-1D539 "
    "1D53B-1D53E 1D540-1D544 1D546 1D54A-1D550 1D552-1D6A5 1D6A8-1D6C0 1D6C2-1D6DA 1D6DC-1D6FA "
    "1D6FC-1D714 1D716-1D734 1D736-1D74E 1D750-1D76E 1D770-1D788 1D78A-1D7A8 1D7AA-1D7C2 "
    "1D7C4-1D7CB 1D7CE-1D7FF 1DF00-1DF1E 1E100-1E12C 1E137-1E13D 1E140-1E149 1E14E 1E290-1E2AD "
    "1E2C0-1E2EB 1E2F0-1E2F9 1E7E0-1E7E6 1E7E8-1E7EB 1E7ED-1E7EE 1E7F0-1E7FE 1E800-1E8C4 "
    "1E8C7-1E8CF 1E900-1E943 1E94B 1E950-1E959 1EC71-1ECAB 1ECAD-1ECAF 1ECB1-1ECB4 1ED01-1ED2D "
    "1ED2F-1ED3D 1EE00-1EE03 1EE05-1EE1F 1EE21-1EE22 1EE24 1EE27 1EE29-1EE32 1EE34-1EE37 1EE39 "
    "1EE3B 1EE42 1EE47 1EE49 1EE4B 1EE4D-1EE4F 1EE51-1EE52 1EE54 1EE57 1EE59 1EE5B 1EE5D 1EE5F "
    "1EE61-1EE62 1EE64 1EE67-1EE6A 1EE6C-1EE72 1EE74-1EE77 1EE79-1EE7C 1EE7E 1EE80-1EE89 "
    "1EE8B-1EE9B 1EEA1-1EEA3 1EEA5-1EEA9 1EEAB-1EEBB 1F100-1F10C 1FBF0-1FBF9 20000-2A6DF "
    "2A700-2B738 2B740-2B81D 2B820-2CEA1 2CEB0-2EBE0 2F800-2FA1D 30000-3134A"
)
_DIGITS = (
    "30-39 660-669 6F0-6F9 7C0-7C9 966-96F 9E6-9EF A66-A6F AE6-AEF B66-B6F BE6-BEF C66-C6F "
    "CE6-CEF D66-D6F DE6-DEF E50-E59 ED0-ED9 F20-F29 1040-1049 1090-1099 17E0-17E9 1810-1819 "
    "1946-194F 19D0-19D9 1A80-1A89 1A90-1A99 1B50-1B59 1BB0-1BB9 1C40-1C49 1C50-1C59 A620-A629 "
    "A8D0-A8D9 A900-A909 A9D0-A9D9 A9F0-A9F9 AA50-AA59 ABF0-ABF9 FF10-FF19 104A0-104A9 "
    "10D30-10D39 11066-1106F 110F0-110F9 11136-1113F 111D0-111D9 112F0-112F9 11450-11459 "
    "114D0-114D9 11650-11659 116C0-116C9 11730-11739 118E0-118E9 11950-11959 11C50-11C59 "
    "11D50-11D59 11DA0-11DA9 16A60-16A69 16AC0-16AC9 16B50-16B59 1D7CE-1D7FF 1E140-1E149 "
    "1E2F0-1E2F9 1E950-1E959 1FBF0-1FBF9"
)
_MARKS = (
    "300-36F 483-489 591-5BD 5BF 5C1-5C2 5C4-5C5 5C7 610-61A 64B-65F 670 6D6-6DC 6DF-6E4 "
    "6E7-6E8 6EA-6ED 711 730-74A 7A6-7B0 7EB-7F3 7FD 816-819 81B-823 825-827 829-82D 859-85B "
    "898-89F 8CA-8E1 8E3-903 93A-93C 93E-94F 951-957 962-963 981-983 9BC 9BE-9C4 9C7-9C8 "
    "9CB-9CD 9D7 9E2-9E3 9FE A01-A03 A3C A3E-A42 A47-A48 A4B-A4D A51 A70-A71 A75 A81-A83 ABC "
    "ABE-AC5 AC7-AC9 ACB-ACD AE2-AE3 AFA-AFF B01-B03 B3C B3E-B44 B47-B48 B4B-B4D B55-B57 "
    "B62-B63 B82 BBE-BC2 BC6-BC8 BCA-BCD BD7 C00-C04 C3C C3E-C44 C46-C48 C4A-C4D C55-C56 "
    "C62-C63 C81-C83 CBC CBE-CC4 CC6-CC8 CCA-CCD CD5-CD6 CE2-CE3 D00-D03 D3B-D3C D3E-D44 "
    "D46-D48 D4A-D4D D57 D62-D63 D81-D83 DCA DCF-DD4 DD6 DD8-DDF DF2-DF3 E31 E34-E3A E47-E4E "
    "EB1 EB4-EBC EC8-ECD F18-F19 F35 F37 F39 F3E-F3F F71-F84 F86-F87 F8D-F97 F99-FBC FC6 "
    "102B-103E 1056-1059 105E-1060 1062-1064 1067-106D 1071-1074 1082-108D 108F 109A-109D "
    "135D-135F 1712-1715 1732-1734 1752-1753 1772-1773 17B4-17D3 17DD 180B-180D 180F 1885-1886 "
    "18A9 1920-192B 1930-193B 1A17-1A1B 1A55-1A5E 1A60-1A7C 1A7F 1AB0-1ACE 1B00-1B04 1B34-1B44 "
    "1B6B-1B73 1B80-1B82 1BA1-1BAD 1BE6-1BF3 1C24-1C37 1CD0-1CD2 1CD4-1CE8 1CED 1CF4 1CF7-1CF9 "
    "1DC0-1DFF 20D0-20F0 2CEF-2CF1 2D7F 2DE0-2DFF 302A-302F 3099-309A A66F-A672 A674-A67D "
    "A69E-A69F A6F0-A6F1 A802 A806 A80B A823-A827 A82C A880-A881 A8B4-A8C5 A8E0-A8F1 A8FF "
    "A926-A92D A947-A953 A980-A983 A9B3-A9C0 A9E5 AA29-AA36 AA43 AA4C-AA4D AA7B-AA7D AAB0 "
    "AAB2-AAB4 AAB7-AAB8 AABE-AABF AAC1 AAEB-AAEF AAF5-AAF6 ABE3-ABEA ABEC-ABED FB1E FE00-FE0F "
    "FE20-FE2F 101FD 102E0 10376-1037A 10A01-10A03 10A05-10A06 10A0C-10A0F 10A38-10A3A 10A3F "
    "10AE5-10AE6 10D24-10D27 10EAB-10EAC 10F46-10F50 10F82-10F85 11000-11002 11038-11046 11070 "
    "11073-11074 1107F-11082 110B0-110BA 110C2 11100-11102 11127-11134 11145-11146 11173 "
    "11180-11182 111B3-111C0 111C9-111CC 111CE-111CF 1122C-11237 1123E 112DF-112EA 11300-11303 "
    "1133B-1133C 1133E-11344 11347-11348 1134B-1134D 11357 11362-11363 11366-1136C 11370-11374 "
    "11435-11446 1145E 114B0-114C3 115AF-115B5 115B8-115C0 115DC-115DD 11630-11640 116AB-116B7 "
    "1171D-1172B 1182C-1183A 11930-11935 11937-11938 1193B-1193E 11940 11942-11943 119D1-119D7 "
    "119DA-119E0 119E4 11A01-11A0A 11A33-11A39 11A3B-11A3E 11A47 11A51-11A5B 11A8A-11A99 "
    "11C2F-11C36 11C38-11C3F 11C92-11CA7 11CA9-11CB6 11D31-11D36 11D3A 11D3C-11D3D 11D3F-11D45 "
    "11D47 11D8A-11D8E 11D90-11D91 11D93-11D97 11EF3-11EF6 16AF0-16AF4 16B30-16B36 16F4F "
    "16F51-16F87 16F8F-16F92 16FE4 16FF0-16FF1 1BC9D-1BC9E 1CF00-1CF2D 1CF30-1CF46 1D165-1D169 "
    "1D16D-1D172 1D17B-1D182 1D185-1D18B 1D1AA-1D1AD 1D242-1D244 1DA00-1DA36 1DA3B-1DA6C 1DA75 "
    "1DA84 1DA9B-1DA9F 1DAA1-1DAAF 1E000-1E006 1E008-1E018 1E01B-1E021 1E023-1E024 1E026-1E02A "
    "1E130-1E136 1E2AE 1E2EC-1E2EF 1E8D0-1E8D6 1E944-1E94A E0100-E01EF"
)
_SPACES = "9-D 1C-20 85 A0 1680 2000-200A 2028-2029 202F 205F 3000"

TOKEN_PATTERN = _token_pattern()
"""The token regex (``re`` syntax); each match is one token, the rest (whitespace, "_") goes."""
_TOKEN = re.compile(TOKEN_PATTERN)
_TOKEN_BMP = re.compile(_token_pattern(0xFFFF))
TOKENIZER_SPEC = f"str.lower | str.split | re.findall | unk {UNK} | pattern {TOKEN_PATTERN}"
"""Everything that decides the tokens, as committed text: what artifact fingerprints digest."""
