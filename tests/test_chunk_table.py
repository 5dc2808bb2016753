"""Tests for dan_dice.chunk_table: a batch's ids from the table are those of the tokenizer,
chunk for chunk, whatever the text, the table's fill or its parts."""

import threading
from itertools import pairwise

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dan_dice import chunk_table
from dan_dice import text as dan_text
from dan_dice.chunk_table import MAX_CHUNK, ChunkTable
from dan_dice.text import Vocabulary

SPACES = "".join(chr(c) for c in range(0x3001) if chr(c).isspace())
TEXT = st.text(alphabet=f"aNTs'.,:!1_😀é\u0301\x00\x1b\u200b\udce9{SPACES}", max_size=40)
VOCABULARY = ["a", "nt", "s", "'s", "n't", ".", "1", "😀", "é", "a1", "\x00", "\x1b", "\udce9"]


@pytest.fixture(autouse=True)
def every_batch_through_the_table(monkeypatch):
    """Vocabulary.encode_batch takes small batches text by text: here, every one to the table."""
    monkeypatch.setattr(dan_text, "TABLE_CHARS", 0)


def segments(ids: np.ndarray, offsets: np.ndarray) -> list[list[int]]:
    return [ids[a:b].tolist() for a, b in pairwise([*offsets.tolist(), len(ids)])]


def check_batch(vocab: Vocabulary, texts: list[str]) -> None:
    ids, offsets = vocab.encode_batch(texts)
    assert ids.dtype == offsets.dtype == np.int64 and len(offsets) == len(texts)
    assert segments(ids, offsets) == [vocab.encode(text) for text in texts]


@settings(deadline=None)
@given(st.lists(st.one_of(TEXT, st.text()), max_size=12))
def test_a_batch_has_the_ids_of_each_text(texts):
    vocab = Vocabulary(["<unk>", *VOCABULARY])
    check_batch(vocab, texts)
    check_batch(vocab, texts[::-1])  # now from the table


def test_the_space_table_is_str_isspace():
    table = chunk_table._space_table()
    assert table.tolist() == [chr(c).isspace() for c in range(0x110000)]


def test_every_space_splits_and_no_other_character_does():
    vocab = Vocabulary(["<unk>", "a", "b"])
    texts = [f"a{space}b" for space in SPACES]
    ids, offsets = vocab.encode_batch(texts)
    assert segments(ids, offsets) == [[1, 2]] * len(SPACES) and len(vocab._table) == 2
    check_batch(vocab, ["a\u200bb", "a\x00b", "a\x1bb", "\u3000", "a\x00", "a"])
    assert len(vocab._table) == 6  # "a" and "b", then 4 chunks that no space split


def test_long_chunks_never_enter_the_table():
    vocab = Vocabulary(["<unk>", "a", "!"])
    long_chunk = "a!" * MAX_CHUNK
    check_batch(vocab, [long_chunk, "a! " + long_chunk, "a!"])
    assert len(vocab._table) == 1  # "a!" alone
    check_batch(vocab, [long_chunk])


def test_texts_are_taken_in_parts_and_a_longer_one_alone(monkeypatch):
    monkeypatch.setattr(chunk_table, "PART_CHARS", 40)
    vocab = Vocabulary(["<unk>", *VOCABULARY])
    texts = ["a nt's", "", "1 " * 30, "é😀 a1", "  ", "a" * 50, " \t" * 30, "s. n't"] * 3
    check_batch(vocab, texts)
    check_batch(vocab, texts)


def test_a_full_table_keeps_what_it_holds_and_still_encodes():
    vocab = Vocabulary(["<unk>", *VOCABULARY])
    vocab._table.max_chunks = 3
    texts = [f"a{i} s. nt! x{i}" for i in range(20)]
    check_batch(vocab, texts)
    assert len(vocab._table) == 3
    check_batch(vocab, texts)


def test_probing_past_taken_slots(monkeypatch):
    """Every key in one home slot: look-ups and insertions walk the longest chains."""
    monkeypatch.setattr(chunk_table, "_MIX", np.uint64(0))
    vocab = Vocabulary(["<unk>", *VOCABULARY])
    texts = [f"w{i} a{i % 7}! {i}" for i in range(300)]
    check_batch(vocab, texts)
    check_batch(vocab, texts[::-1])
    assert len(vocab._table) == len({c for t in texts for c in t.split()})


def test_threads_share_a_table():
    vocab = Vocabulary(["<unk>", *VOCABULARY])
    batches = [[f"a{i} s{j}. nt'{i}" for i in range(200)] for j in range(8)]
    expected = [segments(*Vocabulary(vocab.tokens).encode_batch(b)) for b in batches]
    found = [None] * len(batches)

    def encode(j: int) -> None:
        found[j] = segments(*vocab.encode_batch(batches[j]))

    threads = [threading.Thread(target=encode, args=(j,)) for j in range(len(batches))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert found == expected


def lengths(chunks: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """A stand-in look-up: each chunk's one id is its length (none for "-")."""
    ids = [len(chunk) for chunk in chunks if chunk != "-"]
    return np.array(ids, dtype=np.int64), np.array([c != "-" for c in chunks], dtype=np.int64)


def test_a_table_on_its_own():
    table = ChunkTable(lengths)
    ids, offsets = table.encode(["ab c", "", "dddd", "- -", "- c"])
    assert ids.tolist() == [2, 1, 0, 4, 0, 1] and offsets.tolist() == [0, 2, 3, 4, 5]


@pytest.mark.parametrize("max_chunks", [0, 1])
def test_a_table_without_room(max_chunks):
    table = ChunkTable(lengths, max_chunks)
    for _ in range(2):
        ids, offsets = table.encode(["ab c", "c"])
        assert ids.tolist() == [2, 1, 1] and offsets.tolist() == [0, 2]
    assert len(table) == max_chunks


def test_no_texts():
    ids, offsets = ChunkTable(lengths).encode([])
    assert ids.dtype == offsets.dtype == np.int64 and len(ids) == len(offsets) == 0
