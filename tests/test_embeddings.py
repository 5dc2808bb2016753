"""Tests for dan_dice.embeddings: the bundled GloVe table, vectors files, the embedding matrix."""

import re

import numpy as np
import pytest

from dan_dice.embeddings import DEFAULT, WordVectors, embedding_matrix, load_word_vectors
from dan_dice.text import UNK, Vocabulary


@pytest.fixture(scope="module")
def glove() -> WordVectors:
    return load_word_vectors()


def test_default_glove_is_400k_words_of_50_dims(glove):
    assert glove.dim == 50
    assert glove.vectors.shape == (400_000, 50)
    assert len(glove.index) == 400_000
    assert glove.source == DEFAULT


@pytest.mark.parametrize("word", ["the", "free", "n't", "'s", "1,000", "!", "café"])
def test_default_glove_has_tokenizer_style_words(glove, word):
    assert word in glove.index


def test_default_glove_mean_is_the_mean_vector(glove):
    expected = np.asarray(glove.vectors).mean(axis=0, dtype=np.float64)
    assert glove.mean.shape == (50,)
    assert glove.mean.dtype == np.float32
    np.testing.assert_allclose(glove.mean, expected, rtol=1e-5, atol=1e-7)


def test_default_glove_is_cached():
    first = load_word_vectors()
    assert load_word_vectors() is first
    assert load_word_vectors(DEFAULT) is first


@pytest.mark.parametrize(
    "fixture", ["tiny_vectors_file", "tiny_word2vec_file", "tiny_word2vec_bin_file"]
)
def test_vectors_file_formats_load(request, fixture, tiny_vectors):
    path = request.getfixturevalue(fixture)
    wv = load_word_vectors(path)
    assert wv.dim == 8
    assert list(wv.index) == list(tiny_vectors)
    expected = np.stack(list(tiny_vectors.values()))
    np.testing.assert_allclose(wv.vectors, expected, rtol=0, atol=1e-6)
    np.testing.assert_allclose(wv.mean, expected.mean(axis=0), rtol=1e-6, atol=1e-6)
    assert wv.source == str(path.resolve())


def test_saved_keyed_vectors_load(tmp_path, tiny_vectors):
    from gensim.models import KeyedVectors

    kv = KeyedVectors(8)
    kv.add_vectors(list(tiny_vectors), np.stack(list(tiny_vectors.values())))
    path = tmp_path / "tiny.kv"
    kv.save(str(path))
    wv = load_word_vectors(path)
    assert list(wv.index) == list(tiny_vectors)
    np.testing.assert_array_equal(wv.vectors, kv.vectors)


def test_vectors_file_is_cached_by_resolved_path(tiny_vectors_file, monkeypatch):
    first = load_word_vectors(tiny_vectors_file)
    monkeypatch.chdir(tiny_vectors_file.parent)
    assert load_word_vectors(str(tiny_vectors_file)) is first
    assert load_word_vectors(tiny_vectors_file.name) is first


def test_a_changed_vectors_file_is_read_again(tmp_path):
    path = tmp_path / "vectors.txt"
    path.write_text("a 1 2\nb 3 4\n")
    first = load_word_vectors(path)
    assert load_word_vectors(path) is first
    path.write_text("a 5 6\nb 7 8\nc 9 10\n")  # a new size, whatever the clock's resolution
    changed = load_word_vectors(path)
    assert list(changed.index) == ["a", "b", "c"]
    np.testing.assert_array_equal(changed.vectors[0], [5, 6])


def test_shared_vectors_are_read_only(tiny_vectors_file):
    wv = load_word_vectors(tiny_vectors_file)
    with pytest.raises(ValueError, match="read-only"):
        wv.vectors[0, 0] = 1.0
    with pytest.raises(ValueError, match="read-only"):
        wv.mean[0] = 1.0


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("ragged.txt", b"a 1 2 3\nb 1 2\n"),
        ("words.txt", b"hello world\nfoo bar\n"),
        ("bad_header.txt", b"5 3\na 1 2 3\n"),
        ("empty.txt", b""),
        ("junk.bin", bytes(range(256)) * 2),
    ],
)
def test_unreadable_vectors_file_raises_value_error_naming_it(tmp_path, name, content):
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(ValueError, match=re.escape(name)):
        load_word_vectors(path)


def test_missing_vectors_file_raises_file_not_found(tmp_path):
    path = tmp_path / "nope.txt"
    with pytest.raises(FileNotFoundError, match=r"nope\.txt"):
        load_word_vectors(path)


def test_embedding_matrix_rows_are_pretrained_vectors_or_the_mean(tiny_vectors_file, tiny_vectors):
    wv = load_word_vectors(tiny_vectors_file)
    vocab = Vocabulary([UNK, "free", "zzunknown", "prize", "qqunknown"])
    matrix, _ = embedding_matrix(vocab, wv)
    assert matrix.shape == (5, 8)
    assert matrix.dtype == np.float32
    np.testing.assert_allclose(matrix[1], tiny_vectors["free"], atol=1e-6)
    np.testing.assert_allclose(matrix[3], tiny_vectors["prize"], atol=1e-6)
    for row in (0, 2, 4):
        np.testing.assert_array_equal(matrix[row], wv.mean)


def test_embedding_matrix_matches_default_glove(glove):
    vocab = Vocabulary.build(["Don't call me, it's free!", "zzqqxx"])
    matrix, _ = embedding_matrix(vocab, glove)
    for i, token in enumerate(vocab.tokens):
        expected = glove.vectors[glove.index[token]] if token in glove.index else glove.mean
        np.testing.assert_array_equal(matrix[i], expected)


def test_embedding_matrix_coverage_excludes_unk(tiny_vectors_file):
    wv = load_word_vectors(tiny_vectors_file)
    vocab = Vocabulary([UNK, "free", "zzunknown", "prize", "qqunknown"])
    assert embedding_matrix(vocab, wv)[1] == pytest.approx(0.5)
    assert embedding_matrix(Vocabulary([UNK, "free"]), wv)[1] == 1.0


def test_embedding_matrix_of_unk_only_vocabulary(tiny_vectors_file):
    wv = load_word_vectors(tiny_vectors_file)
    matrix, coverage = embedding_matrix(Vocabulary([UNK]), wv)
    np.testing.assert_array_equal(matrix, wv.mean[None, :])
    assert coverage == 0.0


def test_embedding_matrix_does_not_modify_the_table(tiny_vectors_file):
    wv = load_word_vectors(tiny_vectors_file)
    before = np.array(wv.vectors, copy=True)
    matrix, _ = embedding_matrix(Vocabulary([UNK, "free"]), wv)
    matrix[:] = 0
    np.testing.assert_array_equal(wv.vectors, before)
