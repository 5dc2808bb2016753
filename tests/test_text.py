"""Tests for dan_dice.text: the GloVe-style tokenizer and the vocabulary."""

import pickle
import unicodedata

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dan_dice.text import UNK, Vocabulary, tokenize


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Hello WORLD", ["hello", "world"]),
        ("don't", ["do", "n't"]),
        ("I CAN'T", ["i", "ca", "n't"]),
        ("won't", ["wo", "n't"]),
        ("it's", ["it", "'s"]),
        (
            "we're they've I'll she'd I'm",
            ["we", "'re", "they", "'ve", "i", "'ll", "she", "'d", "i", "'m"],
        ),
        ("Hello, world!", ["hello", ",", "world", "!"]),
        ("wait...", ["wait", ".", ".", "."]),
        ("$5 & 10%", ["$", "5", "&", "10", "%"]),
        ("hi😀!!", ["hi", "😀", "!", "!"]),
        ("👍🎉", ["👍", "🎉"]),
        ("1,000 3.14 10:30", ["1,000", "3.14", "10:30"]),
        ("in 2024.", ["in", "2024", "."]),
        ("café naïve Straße", ["café", "naïve", "straße"]),
        ("Ωmega", ["ωmega"]),
        ("北京欢迎你", ["北京欢迎你"]),
        ("  spaced\tout\n\u00a0words\u2003", ["spaced", "out", "words"]),
    ],
)
def test_tokenize_glove_style(text, expected):
    assert tokenize(text) == expected


@pytest.mark.parametrize("text", ["", " ", "\t\n \u2003"])
def test_tokenize_blank_text_gives_no_token(text):
    assert tokenize(text) == []


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("हिन्दी", ["हिन्दी"]),
        (unicodedata.normalize("NFD", "café"), [unicodedata.normalize("NFD", "café")]),
        ("İstanbul", ["i̇stanbul"]),  # 'İ'.lower() is 'i' + U+0307; GloVe has this token
    ],
)
def test_tokenize_keeps_words_with_combining_marks_whole(text, expected):
    assert tokenize(text) == expected


@settings(deadline=None)
@given(st.text())
def test_tokenize_never_fails_and_yields_nonblank_substrings(text):
    tokens = tokenize(text)
    assert isinstance(tokens, list)
    lowered = text.lower()
    for token in tokens:
        assert token
        assert token in lowered
        assert not any(ch.isspace() for ch in token)


@settings(deadline=None)
@given(st.text(alphabet="abcXYZ n't's.,!?0123"))
def test_tokenize_ignores_case(text):
    assert tokenize(text.upper()) == tokenize(text.lower())


def test_vocabulary_build_puts_unk_first_then_most_frequent():
    vocab = Vocabulary.build(["b a b", "c b a"])
    assert vocab.tokens == [UNK, "b", "a", "c"]
    assert vocab.index == {UNK: 0, "b": 1, "a": 2, "c": 3}
    assert len(vocab) == 4


def test_vocabulary_build_min_count_drops_rare_tokens():
    vocab = Vocabulary.build(["a a a b b c", "a b d"], min_count=3)
    assert vocab.tokens == [UNK, "a", "b"]


def test_vocabulary_build_has_no_duplicates_even_with_literal_unk():
    vocab = Vocabulary.build(["<unk> Hello hello HELLO", "<unk>"])
    assert vocab.tokens[0] == UNK
    assert len(set(vocab.tokens)) == len(vocab.tokens)
    assert vocab.tokens.count("hello") == 1


def test_vocabulary_build_from_no_text_is_only_unk():
    assert Vocabulary.build([]).tokens == [UNK]
    assert Vocabulary.build(["", "  "]).tokens == [UNK]


def test_vocabulary_build_accepts_a_generator():
    vocab = Vocabulary.build(text for text in ["x y", "y"])
    assert vocab.tokens == [UNK, "y", "x"]


@pytest.mark.parametrize(
    "tokens",
    [[], ["a", "b"], [UNK, "a", "a"], ["a", UNK], [UNK, UNK]],
    ids=["empty", "no-unk", "duplicate", "unk-not-first", "unk-twice"],
)
def test_vocabulary_rejects_invalid_token_lists(tokens):
    with pytest.raises(ValueError, match="distinct tokens starting with '<unk>'"):
        Vocabulary(tokens)


def test_vocabulary_accepts_valid_token_list():
    vocab = Vocabulary([UNK, "x", "y"])
    assert vocab.encode("y x z") == [2, 1, 0]


def test_encode_maps_unknown_tokens_to_zero():
    vocab = Vocabulary.build(["free prize"])
    assert vocab.encode("FREE cash prize!") == [vocab.index["free"], 0, vocab.index["prize"], 0]


@pytest.mark.parametrize("text", ["", "   ", "\n"])
def test_encode_empty_text_is_single_unknown(text):
    assert Vocabulary.build(["a b"]).encode(text) == [0]


TRICKY_TEXT = st.text(alphabet="aNTs'.,:!1 \t\n\x1c\x85\u00a0\u2003\u200b_😀é\u0301")


@settings(deadline=None)
@given(st.one_of(st.text(), TRICKY_TEXT), st.one_of(st.text(), TRICKY_TEXT))
def test_encode_is_the_ids_of_tokenize(train_text, text):
    vocab = Vocabulary.build([train_text, text[: len(text) // 2]])
    expected = [vocab.index.get(token, 0) for token in tokenize(text)] or [0]
    assert vocab.encode(text) == expected
    assert vocab.encode(text) == expected  # again, now from any memo


def test_vocabulary_pickles():
    vocab = Vocabulary.build(["free prize now", "call me"])
    vocab.encode("free call")
    restored = pickle.loads(pickle.dumps(vocab))
    assert restored.tokens == vocab.tokens
    assert restored.encode("call free zz") == vocab.encode("call free zz")


def test_encode_batch_packs_ids_with_offsets():
    vocab = Vocabulary([UNK, "a", "b", "c"])
    ids, offsets = vocab.encode_batch(["a b", "", "c a b zz", "b"])
    np.testing.assert_array_equal(ids, [1, 2, 0, 3, 1, 2, 0, 2])
    np.testing.assert_array_equal(offsets, [0, 2, 3, 7])
    assert ids.dtype == np.int64
    assert offsets.dtype == np.int64


def test_encode_batch_segments_equal_encode():
    vocab = Vocabulary.build(["the cat sat", "on the mat"])
    texts = ["the mat", "dog", "cat sat on the mat !", ""]
    ids, offsets = vocab.encode_batch(texts)
    bounds = [*offsets.tolist(), len(ids)]
    for i, text in enumerate(texts):
        assert ids[bounds[i] : bounds[i + 1]].tolist() == vocab.encode(text)


def test_encode_batch_of_no_text_is_empty():
    ids, offsets = Vocabulary([UNK]).encode_batch([])
    assert ids.shape == (0,)
    assert offsets.shape == (0,)
    assert ids.dtype == np.int64
    assert offsets.dtype == np.int64
