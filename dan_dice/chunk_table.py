"""The token ids of a whole batch of texts in a few numpy passes, not a Python call per chunk.

:meth:`dan_dice.text.Vocabulary.encode_batch` serves batches from a :class:`ChunkTable`: the
texts are joined and read as code points (UTF-32), split at ``str.isspace`` characters into
chunks (exactly ``str.split``'s), and each chunk is looked up by its hash in an open-addressing
table that maps the chunks met before to their token ids. Only the chunks the table has not
met go through Python, once: their ids come from the vocabulary's look-up (the tokenizer's
regex), and the table keeps them. So the tokens are exactly those of
:func:`dan_dice.text.tokenize`, chunk for chunk.

A chunk's key is two 64-bit polynomial hashes of its code points, computed for every chunk at
once from prefix sums; the table holds the first and 32 bits of the second, 96 bits in all. The
bases are drawn at random in each process, so nobody can pick texts whose hashes collide in it,
and chunks longer than :data:`MAX_CHUNK` (the known collisions of such hashes, whatever the
bases, need thousands of characters) never enter it: they go through Python each time they
come, as do new chunks once the table holds ``max_chunks``.
"""

from __future__ import annotations

import re
import secrets
import threading
from collections.abc import Callable

import numpy as np

ChunksIds = Callable[[list[str]], tuple[np.ndarray, np.ndarray]]
"""Chunks -> the ids of their tokens one after the other, and how many each chunk has."""

SLOTS = 1 << 18
"""Slots of the open-addressing table: 4 MB, at most half of them used (``max_chunks``)."""
PART_CHARS = 1 << 15
"""Most characters hashed at once, which bounds the working memory (about 2 MB of powers, 1 MB
of prefix sums): texts are taken a part at a time, and a longer single text goes through
Python."""
PROBE = 16
"""Slots a look-up reads at once once a chunk is not in its own slot."""
MAX_CHUNK = 256
"""Longest chunk (characters) the table keeps: the chunks known to collide under any bases
(Thue-Morse strings) are thousands of characters long."""
_LOW32 = np.uint64(0xFFFFFFFF)
_MIX = np.uint64(0x9E3779B97F4A7C15)  # odd: spreads the short chunks' small hashes over slots
_SHIFT = np.uint64(64 - (SLOTS.bit_length() - 1))  # a slot: the top bits of key * _MIX


def _space_table() -> np.ndarray:
    """``table[c]``: whether code point ``c`` is ``str.isspace`` (zeros but for its first pages,
    so little of it is ever resident). Read from this Python's Unicode tables, a plane at a
    time, which keeps the working memory small."""
    table = np.zeros(0x110000, dtype=bool)
    for start in range(0, 0x110000, 0x10000):
        codes = np.arange(start, start + 0x10000, dtype=np.uint32)
        plane = codes[(codes < 0xD800) | (codes > 0xDFFF)].tobytes().decode("utf-32-le")
        table[[ord(c) for c in re.findall(r"\s", plane)]] = True  # re's \s: str.isspace
    return table


class _Hashing:
    """The process's two random odd bases, their powers and inverse powers up to
    :data:`PART_CHARS`; made once, at the first batch."""

    def __init__(self) -> None:
        self.spaces = _space_table()
        self.bases = [secrets.randbits(64) | 1 for _ in range(2)]
        n = PART_CHARS + 2
        self.powers = [_powers(base, n) for base in self.bases]
        self.inverses = [_powers(pow(base, -1, 1 << 64), n) for base in self.bases]

    def chunks(self, text: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Start and end (code points) of each chunk of ``text``, as ``text.split()`` makes
        them, and the code points of ``text``, which must begin and end with a space."""
        codes = np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
        space = self.spaces.take(codes)
        edges = np.flatnonzero(space[1:] ^ space[:-1]) + 1  # a chunk's start, then its end
        return edges[0::2], edges[1::2], codes

    def keys(self, codes: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> list[np.ndarray]:
        """The two hashes of each chunk ``codes[start:end]``: the sum of ``(code + 1) * base**i``
        over its code points (``i`` from 0), modulo 2**64, from prefix sums over ``codes``."""
        keys = []
        wide = codes.astype(np.uint64) + np.uint64(1)  # no code point adds nothing: not even NUL
        for powers, inverses in zip(self.powers, self.inverses, strict=True):
            prefix = np.zeros(len(codes) + 1, dtype=np.uint64)
            np.cumsum(wide * powers[: len(codes)], out=prefix[1:])
            keys.append((prefix[ends] - prefix[starts]) * inverses[starts])
        return keys


def _powers(base: int, n: int) -> np.ndarray:
    """``base**i`` modulo 2**64 for ``i < n``."""
    factors = np.full(n, base, dtype=np.uint64)
    factors[0] = 1
    return np.cumprod(factors)  # unsigned products wrap modulo 2**64


_HASHING: _Hashing | None = None
_HASHING_LOCK = threading.Lock()


def _hashing() -> _Hashing:
    global _HASHING
    with _HASHING_LOCK:
        if _HASHING is None:
            _HASHING = _Hashing()
    return _HASHING


class ChunkTable:
    """The token ids of the chunks met so far, and the batches encoded from them.

    ``chunks_ids`` works out the ids of new chunks: given a list of them, the ids of their
    tokens one after the other (int64) and how many each chunk has. At most ``max_chunks``
    chunks are kept. Safe to share between threads: a batch is encoded under a lock.
    """

    def __init__(self, chunks_ids: ChunksIds, max_chunks: int = SLOTS // 2):
        self.chunks_ids = chunks_ids
        self.max_chunks = min(max_chunks, SLOTS // 2)
        self._lock = threading.Lock()
        self._slots: np.ndarray | None = None  # [SLOTS, 2]: hash 1; 32 bits of hash 2 | chunk + 1
        self._first = np.zeros(0, dtype=np.int64)  # where each chunk's ids start in _ids
        self._count = np.zeros(0, dtype=np.int64)  # how many ids each chunk has
        self._ids = np.zeros(0, dtype=np.int64)
        self._n_chunks = self._n_ids = 0  # the arrays' used lengths (they grow by doubling)

    def __len__(self) -> int:
        return self._n_chunks

    def encode(self, texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
        """Flat ids and start offsets of ``texts`` (:meth:`Vocabulary.encode_batch`)."""
        if not texts:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
        sizes = np.fromiter(map(len, texts), dtype=np.int64, count=len(texts)) + 1
        ends = np.cumsum(sizes)
        parts, start = [], 0
        while start < len(texts):  # parts of at most PART_CHARS characters, joined
            before = ends[start - 1] if start else 0
            stop = max(int(np.searchsorted(ends, before + PART_CHARS, "right")), start + 1)
            parts.append((start, stop))
            start = stop
        with self._lock:
            encoded = [self._encode_part(texts[a:b], sizes[a:b]) for a, b in parts]
        counts = np.concatenate([counts for _, counts in encoded])
        return np.concatenate([ids for ids, _ in encoded]), np.cumsum(counts) - counts

    def _encode_part(self, texts: list[str], sizes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The ids of ``texts`` (of ``sizes`` characters, plus one) and how many each text has
        (an empty text: one unknown id)."""
        joined = " ".join(["", *texts, ""])
        if len(joined) > PART_CHARS + 1:
            return self._through_python(texts)
        hashing = _hashing()
        starts, ends, codes = hashing.chunks(joined)
        keys = hashing.keys(codes, starts, ends)
        found = self._find(*keys)
        fits = ends - starts <= MAX_CHUNK
        found[~fits] = -1
        if (new := np.flatnonzero((found < 0) & fits)).size:
            self._learn(joined, starts, ends, keys, new)
            found[new] = self._find(keys[0][new], keys[1][new])
        counts = self._count.take(found, mode="clip") if len(self) else np.zeros_like(found)
        extra = np.flatnonzero(found < 0)  # long chunks, or new ones when the table is full
        extra_ids = None
        if extra.size:
            spans = zip(starts[extra].tolist(), ends[extra].tolist(), strict=True)
            extra_ids, counts[extra] = self.chunks_ids([joined[s:e] for s, e in spans])
        ids = self._gather(found, counts, extra_ids)
        text_starts = np.cumsum(sizes) - sizes + 1
        ends_of_chunks = np.cumsum(counts)
        before = np.concatenate([[0], ends_of_chunks])[np.searchsorted(starts, text_starts)]
        bounds = np.append(before, ends_of_chunks[-1] if len(counts) else 0)
        return _unknown_for_empty(ids, bounds[1:] - bounds[:-1])

    def _through_python(self, texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
        """A part too long to hash at once (one very long text): its chunks' ids worked out
        without the table."""
        encoded = [self.chunks_ids(text.split())[0] for text in texts]
        per_text = np.fromiter(map(len, encoded), dtype=np.int64, count=len(encoded))
        return _unknown_for_empty(np.concatenate(encoded), per_text)

    def _find(self, key: np.ndarray, check: np.ndarray) -> np.ndarray:
        """The chunk number of each key pair, -1 for a pair the table does not hold."""
        if self._slots is None or not len(key):
            return np.full(len(key), -1, dtype=np.int64)
        slot = ((key * _MIX) >> _SHIFT).astype(np.int64)
        check = check & ~_LOW32
        held = self._slots.take(slot, axis=0)  # most pairs sit in their own slot
        value = held[:, 1]
        hit = (held[:, 0] == key) & ((value ^ check) <= _LOW32) & (value != 0)
        found = np.where(hit, (value & _LOW32).astype(np.int64) - 1, -1)
        todo = np.flatnonzero(~hit & (value != 0))
        while todo.size:  # the rest: PROBE slots on at a time, to the pair or an empty slot
            slot[todo] += 1
            held = self._slots.take((slot[todo, None] + np.arange(PROBE)) % SLOTS, axis=0)
            value = held[..., 1]
            match = (held[..., 0] == key[todo, None]) & ((value ^ check[todo, None]) <= _LOW32)
            match &= value != 0  # no pair lies past an empty slot: a match comes before it
            hit = match.any(axis=1)
            found[todo[hit]] = (value[match] & _LOW32).astype(np.int64) - 1
            slot[todo] += PROBE - 1
            todo = todo[~hit & (value != 0).all(axis=1)]
        return found

    def _learn(
        self,
        joined: str,
        starts: np.ndarray,
        ends: np.ndarray,
        keys: list[np.ndarray],
        new: np.ndarray,
    ) -> None:
        """Work out the ids of the chunks at ``new`` (each distinct one once) and keep as many
        as the table has room for."""
        chunks: dict[str, int] = {}
        for i, s, e in zip(new.tolist(), starts[new].tolist(), ends[new].tolist(), strict=True):
            chunks.setdefault(joined[s:e], i)
        kept = list(chunks.items())[: max(self.max_chunks - len(self), 0)]
        if not kept:
            return
        ids, counts = self.chunks_ids([chunk for chunk, _ in kept])
        at = np.array([i for _, i in kept], dtype=np.int64)
        n = len(self)
        self._first = _put(self._first, n, self._n_ids + np.cumsum(counts) - counts)
        self._count = _put(self._count, n, counts)
        self._ids = _put(self._ids, self._n_ids, ids)
        self._n_chunks, self._n_ids = n + len(kept), self._n_ids + len(ids)
        self._insert(keys[0][at], keys[1][at], n + np.arange(len(kept)))

    def _insert(self, key: np.ndarray, check: np.ndarray, numbers: np.ndarray) -> None:
        if self._slots is None:
            self._slots = np.zeros((SLOTS, 2), dtype=np.uint64)
        slot = ((key * _MIX) >> _SHIFT).astype(np.int64)
        value = (check & ~_LOW32) | (numbers + 1).astype(np.uint64)
        todo = np.arange(len(key))
        while todo.size:  # each free slot goes to the first pair that reaches it
            free = np.flatnonzero(self._slots[slot[todo], 1] == 0)
            claims, first = np.unique(slot[todo[free]], return_index=True)
            placed = todo[free[first]]
            self._slots[claims, 0] = key[placed]
            self._slots[claims, 1] = value[placed]
            waiting = np.ones(len(todo), dtype=bool)
            waiting[free[first]] = False
            todo = todo[waiting]
            slot[todo] = (slot[todo] + 1) % SLOTS

    def _gather(
        self, found: np.ndarray, counts: np.ndarray, extra: np.ndarray | None
    ) -> np.ndarray:
        """The ids of each chunk in turn: from the table, or from ``extra`` (the ids of the
        chunks it does not hold, ``found`` -1, one after the other)."""
        total = int(counts.sum())
        firsts = np.cumsum(counts) - counts
        if extra is None:
            starts = self._first.take(found) - firsts
            return self._ids.take(np.repeat(starts, counts) + np.arange(total))
        chunk = np.repeat(np.arange(len(found)), counts)
        number = found[chunk]
        held = number >= 0
        ids = np.empty(total, dtype=np.int64)
        place = self._first.take(number[held]) + np.arange(total)[held] - firsts[chunk[held]]
        ids[held] = self._ids.take(place)
        ids[~held] = extra
        return ids


def _unknown_for_empty(ids: np.ndarray, per_text: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``ids`` and ``per_text`` (how many ids each text has) with the unknown id 0 for each
    text that has no token, as :meth:`dan_dice.text.Vocabulary.encode` gives it (new arrays
    where a text is empty: the caller's are left as they were)."""
    if (empty := np.flatnonzero(per_text == 0)).size:
        ids = np.insert(ids, (np.cumsum(per_text) - per_text)[empty], 0)
        per_text = per_text.copy()
        per_text[empty] = 1
    return ids, per_text


def _put(array: np.ndarray, at: int, values: np.ndarray) -> np.ndarray:
    """``array`` with ``values`` written from ``at`` on; grown to twice its length (or to
    fit) when too short, so that appending costs little over a table's life."""
    if at + len(values) > len(array):
        array = np.resize(array, max(2 * len(array), at + len(values)))
    array[at : at + len(values)] = values
    return array
