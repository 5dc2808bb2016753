"""Tests for dan_dice.text: the GloVe-style tokenizer and the vocabulary."""

import gc
import json
import os
import pickle
import subprocess
import sys
import unicodedata
import weakref
from itertools import chain, pairwise
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dan_dice import text as dan_text
from dan_dice.text import UNK, Vocabulary, build_vocabulary, encode_corpus, tokenize


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


# --- The committed pattern, its constants and its fingerprint. ----------------------------------

PINNED_FINGERPRINT = "db108a2072cee119"
"""``tokenizer_fingerprint()`` of the committed tokenizer. Whatever changes it makes every
artifact exported before unreadable ("exported with a different tokenizer"): change it only
with the tokenizer itself, on purpose."""


def _code_point_ranges(accept) -> str:
    spans, start = [], None
    for code in range(0x110001):
        inside = code < 0x110000 and not 0xD800 <= code <= 0xDFFF and accept(chr(code))
        if inside and start is None:
            start = code
        elif not inside and start is not None:
            spans.append(f"{start:X}" if start == code - 1 else f"{start:X}-{code - 1:X}")
            start = None
    return " ".join(spans)


def _python_interpreters_other_than_this_one() -> list[str]:
    """Other CPython 3.10+ interpreters installed by pyenv (their stdlib is enough)."""
    root = Path(os.environ.get("PYENV_ROOT", "~/.pyenv")).expanduser() / "versions"
    this = ".".join(map(str, sys.version_info[:2]))
    found = {}
    for path in sorted(root.glob("3.*/bin/python3")):
        minor = ".".join(path.parts[-3].split(".")[:2])
        if minor != this and int(minor.split(".")[1]) >= 10:
            found.setdefault(minor, str(path))
    return list(found.values())


@pytest.mark.skipif(
    unicodedata.unidata_version != dan_text.UNICODE_VERSION,
    reason=f"the classes were made from Unicode {dan_text.UNICODE_VERSION}",
)
@pytest.mark.parametrize(
    ("name", "accept"),
    [
        ("_ALNUM", lambda ch: unicodedata.category(ch)[0] in "LN"),
        ("_DIGITS", lambda ch: unicodedata.category(ch) == "Nd"),
        ("_MARKS", lambda ch: unicodedata.category(ch)[0] == "M"),
    ],
)
def test_committed_classes_are_those_of_their_unicode_version(name, accept):
    assert getattr(dan_text, name) == _code_point_ranges(accept)


def test_committed_whitespace_is_what_str_split_splits_on():
    # under every Python: the memo splits texts with str.split, the pattern drops _SPACES
    assert _code_point_ranges(str.isspace) == dan_text._SPACES


def test_the_pattern_uses_no_unicode_table_of_the_regex_engine():
    for escape in (r"\w", r"\W", r"\b", r"\d", r"\s", r"\p{", r"\h", "(?i"):
        assert escape not in dan_text.TOKEN_PATTERN
    assert dan_text.TOKEN_PATTERN in dan_text.TOKENIZER_SPEC


def test_the_fingerprint_is_pinned():
    edge = pytest.importorskip("dan_dice.edge")
    assert edge.tokenizer_fingerprint() == PINNED_FINGERPRINT


def test_the_tokenizer_spec_needs_no_unicode_database():
    code = (
        "import sys, hashlib; sys.modules['unicodedata'] = None; import dan_dice.text as t; "
        "print(hashlib.sha256(t.TOKENIZER_SPEC.encode()).hexdigest()[:16])"
    )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert run.stdout.strip() == PINNED_FINGERPRINT


def test_the_fingerprint_is_the_same_under_other_pythons():
    others = _python_interpreters_other_than_this_one()
    if not others:
        pytest.skip("no other Python 3.10+ interpreter installed (pyenv)")
    script = Path(__file__).resolve().parents[1] / "benchmarks" / "tokenizer.py"
    for python in others:  # the script's --fingerprint mode needs only the standard library
        run = subprocess.run([python, script, "--fingerprint"], capture_output=True, check=True)
        assert json.loads(run.stdout)["new"] == PINNED_FINGERPRINT, python


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Y'ALL'S", ["y", "'", "all", "'s"]),  # clitics
        ("can't've", ["ca", "n't", "'ve"]),
        ("O'Neill's rock'n'roll", ["o", "'", "neill", "'s", "rock", "'", "n", "'", "roll"]),
        ("don''t isn't_it", ["don", "'", "'", "t", "isn", "'", "t", "it"]),
        ("1,000,000.50 1.2.3 3:45pm", ["1,000,000.50", "1.2.3", "3:45", "pm"]),  # numbers
        (
            "1,,2 $1,000. -3.5 10.5%",
            ["1", ",", ",", "2", "$", "1,000", ".", "-", "3.5", "10.5", "%"],
        ),
        ("2024-01-01", ["2024", "-", "01", "-", "01"]),
        (
            "👨\u200d👩\u200d👧 👍🏽 🇫🇷",
            ["👨", "\u200d", "👩", "\u200d", "👧", "👍", "🏽", "🇫", "🇷"],
        ),
        ("❤️ a\u200bb", ["❤", "\ufe0f", "a", "\u200b", "b"]),  # emoji
        ("e\u0301te\u0301 x\u20dd", ["e\u0301te\u0301", "x\u20dd"]),  # combining marks
        ("İSTANBUL ISTANBUL ılık", ["i\u0307stanbul", "istanbul", "ılık"]),  # Turkish
        ("北京欢迎你。東京", ["北京欢迎你", "。", "東京"]),  # CJK
        ("ｆｕｌｌ！ x² ①②", ["ｆｕｌｌ", "！", "x²", "①②"]),
        (
            "@user #tag http://t.co/AbC",
            ["@", "user", "#", "tag", "http", ":", "/", "/", "t", ".", "co", "/", "abc"],
        ),
        ("__init__", ["init"]),
    ],
)
def test_tokenize_tricky_strings(raw, expected):
    assert tokenize(raw) == expected
    vocab = Vocabulary([UNK, *dict.fromkeys(expected)])
    assert vocab.encode(raw) == [vocab.index[token] for token in expected]


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("free prize \udce9 now", ["free", "prize", "\udce9", "now"]),
        ("ab\udce9cd do\udce9n't", ["ab", "\udce9", "cd", "do", "\udce9", "n't"]),
        (
            "\udce9's 1\udce92 \udce9\ud800",
            ["\udce9", "'s", "1", "\udce9", "2", "\udce9", "\ud800"],
        ),
    ],
)
def test_lone_surrogates_are_symbol_tokens(raw, expected):
    # texts decoded with surrogateescape: each lone surrogate is a symbol, as any non-word character
    assert tokenize(raw) == expected
    vocab = Vocabulary([UNK, *dict.fromkeys(expected)])
    assert vocab.encode(raw) == [vocab.index[token] for token in expected]
    assert vocab.encode_batch([raw, "x"])[0].tolist() == [*vocab.encode(raw), 0]


@settings(deadline=None)
@given(st.text(alphabet="ab'nt1.,! \udce9\ud800\u0301"))
def test_encode_is_the_ids_of_tokenize_with_surrogates(raw):
    vocab = Vocabulary.build([raw[: len(raw) // 2]])
    tokens = tokenize(raw)
    assert all(token.strip() for token in tokens)
    assert vocab.encode(raw) == ([vocab.index.get(token, 0) for token in tokens] or [0])


def test_combining_marks_beyond_the_bmp_stay_inside_words():
    # a deliberate change: the former pattern held the marks of the BMP only
    assert tokenize("𑄃𑄴 𞤀𞥄") == ["𑄃𑄴", "𞤢𞥄"]


def test_capital_sigma_lowercases_as_str_lower():
    # str.lower() ends a word with the final sigma, as the former tokenizer (Rust would not)
    assert tokenize("ΟΔΟΣ σας") == ["οδος", "σας"]


def test_whitespace_only_text_of_every_kind_gives_no_token():
    blank = "".join(chr(code) for code in range(0x110000) if chr(code).isspace())
    assert tokenize(blank) == []
    assert Vocabulary.build(["a"]).encode(blank) == [0]
    ids, offsets = Vocabulary.build(["a"]).encode_batch([blank, "a"])
    assert ids.tolist() == [0, 1] and offsets.tolist() == [0, 1]


def test_very_long_text():
    long_chunk = "ab,c" * 50_000  # 200,000 characters without a space: one regex scan
    tokens = tokenize(f"{long_chunk} {'word ' * 50_000}")
    assert tokens[:4] == ["ab", ",", "cab", ","] and len(tokens) == 100_001 + 50_000
    vocab = Vocabulary.build(["word cab"])
    assert vocab.encode(long_chunk + " word").count(vocab.index["cab"]) == 49_999


@settings(deadline=None)
@given(st.text(alphabet="aé𝐀1'nt.,😀\u0301\udce9", max_size=12))
def test_the_bmp_pattern_gives_the_tokens_of_the_full_one(chunk):
    # chunks without characters beyond U+FFFF go to the pattern cut there
    expected = tuple(dan_text._TOKEN.findall(chunk.lower()))
    assert dan_text._chunk_tokens(chunk) == expected
    if max(chunk, default="a") <= "\uffff":
        assert tuple(dan_text._TOKEN_BMP.findall(chunk.lower())) == expected


def test_a_batch_works_out_each_new_chunk_once(monkeypatch):
    monkeypatch.setattr(dan_text, "TABLE_CHARS", 0)  # every batch through the chunk table
    vocab = Vocabulary.build(["a! b? c."])
    calls = []
    value = vocab._table.chunks_ids
    monkeypatch.setattr(vocab._table, "chunks_ids", lambda c: calls.append(c) or value(c))
    ids, _ = vocab.encode_batch(["a! b?", "c. a! plain", "b?"])
    assert calls == [["a!", "b?", "c.", "plain"]]  # in one call, each once
    expected = [["a", "!", "b", "?"], ["c", ".", "a", "!", "plain"], ["b", "?"]]
    assert ids.tolist() == [vocab.index.get(t, 0) for t in chain.from_iterable(expected)]
    vocab.encode_batch(["b? a!", "plain c."])  # all met before: no regex
    assert len(calls) == 1


def test_the_memos_stay_bounded(monkeypatch):
    monkeypatch.setattr(dan_text, "TABLE_CHARS", 0)
    vocab = Vocabulary.build(["w1! w2!"])
    monkeypatch.setattr(vocab._chunk_ids, "max_size", 8)
    monkeypatch.setattr(vocab._table, "max_chunks", 8)
    monkeypatch.setattr(dan_text._TOKENS, "max_size", len(dan_text._TOKENS) + 8)
    texts = [f"w{i}! x{i}" for i in range(40)]
    ids, offsets = vocab.encode_batch(texts)
    assert len(vocab._table) == 8 and len(dan_text._TOKENS) <= dan_text._TOKENS.max_size
    assert len(vocab._chunk_ids) == 0  # batches go to the table, single texts to the memo
    for i, raw in enumerate(texts):
        expected = [vocab.index.get(token, 0) for token in tokenize(raw)]
        assert vocab.encode(raw) == expected == ids[offsets[i] : offsets[i] + 3].tolist()
    assert len(vocab._chunk_ids) == 8 and len(vocab._table) == 8


def test_small_batches_go_text_by_text_and_large_ones_through_the_table():
    vocab = Vocabulary.build(["free prize! now", "call me?"])
    small = ["free prize!", "call me now?"]
    large = small * (dan_text.TABLE_CHARS // 20 + 1)
    ids, offsets = vocab.encode_batch(small)
    assert len(vocab._table) == 0 and len(vocab._chunk_ids) == 5
    large_ids, large_offsets = vocab.encode_batch(large)
    assert len(vocab._table) == 5
    assert large_ids[: len(ids)].tolist() == ids.tolist()
    assert large_offsets[:2].tolist() == offsets.tolist()
    bounds = pairwise([*large_offsets.tolist(), len(large_ids)])
    assert [large_ids[a:b].tolist() for a, b in bounds] == [vocab.encode(t) for t in large]


def test_a_replaced_vocabulary_is_freed_at_once():
    """partial_fit replaces the vocabulary as it grows: the old one and its memo (up to
    ID_MEMO_SIZE chunks) go when the last reference does, not at the garbage collector's next
    full pass (a streamed fit held a few of them, 150 MB, at 1M texts)."""
    vocab = Vocabulary.build(["free prize! now", "call me?"])
    vocab.encode_batch(["free prize! call? me", "now"])  # fills the memo
    gone = weakref.ref(vocab)
    gc.disable()
    try:
        del vocab
        assert gone() is None
    finally:
        gc.enable()


@settings(deadline=None)
@given(st.lists(st.one_of(st.text(), TRICKY_TEXT), max_size=6))
def test_encode_batch_segments_equal_encode_on_any_text(texts):
    vocab = Vocabulary.build(texts[:2])
    ids, offsets = vocab.encode_batch(texts)
    bounds = [*offsets.tolist(), len(ids)]
    assert [ids[a:b].tolist() for a, b in pairwise(bounds)] == [vocab.encode(t) for t in texts]


def test_pickled_vocabulary_holds_only_its_tokens():
    vocab = Vocabulary.build(["free prize! now", "call me?"])
    before = vocab.encode("FREE prize! call? me")  # fills a memo
    assert vocab.__reduce__() == (Vocabulary, (vocab.tokens,))
    restored = pickle.loads(pickle.dumps(vocab))
    assert len(restored._chunk_ids) == 0
    assert restored.encode("FREE prize! call? me") == before


@pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="counts threads in /proc")
def test_encoding_starts_no_thread():
    threads = len(list(Path("/proc/self/task").iterdir()))
    vocab = Vocabulary.build([f"w{i}! x{i}?" for i in range(3000)])
    vocab.encode_batch([f"w{i}! y{i}?" for i in range(3000)])
    assert len(list(Path("/proc/self/task").iterdir())) == threads


def test_build_vocabulary_is_memoised_on_the_texts_values(monkeypatch):
    texts = ["a b c", "b c d", "c"]
    first = build_vocabulary(tuple(texts), 1)
    monkeypatch.setattr(Vocabulary, "build", None)  # a second build would fail
    again = build_vocabulary(tuple(t for t in list(texts)), 1)  # equal texts, not the same
    assert again.tokens == first.tokens
    monkeypatch.undo()
    assert build_vocabulary(tuple(texts), 2).tokens == Vocabulary.build(texts, 2).tokens
    assert build_vocabulary(tuple(texts[:2]), 1).tokens != first.tokens


def test_build_vocabulary_gives_every_caller_its_own_vocabulary():
    texts = ("a b c", "b c d")
    first = build_vocabulary(texts, 1)
    first.tokens.append("leaked")
    first.index["leaked"] = 99
    second = build_vocabulary(texts, 1)
    assert second is not first and "leaked" not in second.tokens and "leaked" not in second.index


def test_encode_corpus_is_memoised_read_only_and_equals_encode_batch():
    texts = ("spam spam eggs", "", "eggs and ham")
    vocabulary = build_vocabulary(texts, 1)
    ids, offsets = encode_corpus(vocabulary, texts)
    expected = vocabulary.encode_batch(texts)
    np.testing.assert_array_equal(ids, expected[0])
    np.testing.assert_array_equal(offsets, expected[1])
    assert encode_corpus(vocabulary, tuple(list(texts)))[0] is ids
    with pytest.raises(ValueError, match="read-only"):
        ids[0] = 1


@pytest.mark.parametrize(
    "texts",
    [
        ["a! b?", "", "c. a! plain", "   ", "b?"],
        ["", ""],
        ["one"],
        ["holds \x00 the separator", "a!", ""],  # the per-text path
        ["\x00", "a\x00b", " \x00 "],
    ],
)
def test_a_batch_is_encoded_as_each_text_alone(texts):
    vocab = Vocabulary.build(["a! b? c. one holds the separator \x00"])
    ids, offsets = vocab.encode_batch(texts)
    assert [part.tolist() for part in np.split(ids, offsets[1:])] == [
        vocab.encode(text) for text in texts
    ]
    assert vocab.encode("\x00") == [vocab.index["\x00"]]  # not the batch marker
