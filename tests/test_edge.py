"""The torch-free runtime: imports, input checks, odd texts and clear errors on bad artifacts."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dan_dice import DANClassifier
from dan_dice.edge import EdgeClassifier
from dan_dice.export import export_model
from dan_dice.text import Vocabulary, _ChunkIds, tokenize

BLOCKED = ("torch", "sklearn", "onnx", "pandas", "safetensors", "scipy")
"""Packages the runtime must do without: a ``None`` entry in sys.modules makes imports fail."""


@pytest.fixture(scope="module")
def artifact(tmp_path_factory, toy_texts, tiny_vectors) -> Path:
    folder = tmp_path_factory.mktemp("edge")
    vectors = folder / "tiny.txt"
    vectors.write_text("".join(" ".join([w, *map(str, v)]) + "\n" for w, v in tiny_vectors.items()))
    X, y = toy_texts
    clf = DANClassifier(embeddings=vectors, max_epochs=3, random_state=0).fit(X, y)
    return export_model(clf, folder / "model.dan", quantize="int8")


@pytest.fixture(scope="module")
def edge(artifact) -> EdgeClassifier:
    return EdgeClassifier.load(artifact)


def _python(code: str, *args: str, block: tuple[str, ...] = ()) -> str:
    """Run ``code`` in a fresh interpreter where the ``block`` packages cannot be imported."""
    prelude = f"import sys; sys.modules.update(dict.fromkeys({block!r}))\n"
    env = {**os.environ, "PYTHONPATH": str(Path.cwd())}
    command = [sys.executable, "-c", prelude + code, *args]
    return subprocess.run(command, check=True, capture_output=True, text=True, env=env).stdout


def test_import_does_not_load_torch():
    _python("import sys, dan_dice.edge; assert 'torch' not in sys.modules, 'torch imported'")


def test_predicts_where_torch_and_friends_cannot_be_imported(edge, artifact):
    texts = ["free prize now", "", "hello mom"]
    code = (
        "import json, sys; from dan_dice.edge import EdgeClassifier; "
        "clf = EdgeClassifier.load(sys.argv[1]); "
        "print(json.dumps(clf.predict_proba(json.loads(sys.argv[2])).tolist()))"
    )
    output = _python(code, str(artifact), json.dumps(texts), block=BLOCKED)
    np.testing.assert_array_equal(
        np.array(json.loads(output), np.float32), edge.predict_proba(texts)
    )


def test_odd_texts_are_predicted(edge):
    texts = ["", "  \t\n", "😀😀", "qqzx vvbn", "_", "'s n't", "1,000,000", "!" * 5000]
    proba = edge.predict_proba(texts)
    assert proba.shape == (len(texts), 2) and proba.dtype == np.float32
    np.testing.assert_allclose(proba.sum(axis=1), 1, rtol=1e-6)
    assert set(edge.predict(texts)) <= set(edge.classes_)


def test_empty_and_single_inputs(edge):
    assert edge.predict_proba([]).shape == (0, 2)
    assert edge.predict([]).shape == (0,)
    np.testing.assert_allclose(edge.predict_proba(["hello"]), edge.predict_proba(["hello", ""])[:1])


def test_accepts_any_sequence_of_texts(edge):
    texts = ["free prize", "hello mom"]
    expected = edge.predict_proba(texts)
    for form in (tuple(texts), np.array(texts), np.array(texts, dtype=object), iter(texts)):
        np.testing.assert_array_equal(edge.predict_proba(form), expected)


@pytest.mark.parametrize(
    ("texts", "message"),
    [
        ("a single string", "not a single string"),
        (b"bytes", "not a single string"),
        (["ok", None], r"texts\[1\] is NoneType"),
        (["ok", "fine", b"raw"], r"texts\[2\] is bytes"),
        ([1.5], r"texts\[0\] is float"),
        (np.array([["a", "b"]]), "must be 1-D"),
        (42, "must be a sequence of texts"),
    ],
)
def test_non_texts_are_refused_with_the_bad_index(edge, texts, message):
    with pytest.raises(ValueError, match=message):
        edge.predict_proba(texts)


def test_more_threads_give_the_same_probabilities(edge, artifact):
    texts = [f"free prize {i} hello" * (i % 5 + 1) for i in range(300)]
    threaded = EdgeClassifier.load(artifact, n_threads=2)
    np.testing.assert_allclose(threaded.predict_proba(texts), edge.predict_proba(texts), atol=1e-6)


@pytest.mark.parametrize("n_threads", [0, -1, 1.5, "2"])
def test_invalid_thread_count(artifact, n_threads):
    with pytest.raises(ValueError, match="n_threads"):
        EdgeClassifier.load(artifact, n_threads=n_threads)


def test_missing_artifact(tmp_path):
    with pytest.raises(FileNotFoundError, match="not found"):
        EdgeClassifier.load(tmp_path / "absent.dan")


def _rewrite(source: Path, target: Path, **members: bytes) -> Path:
    """A copy of the artifact ``source`` with some members replaced."""
    with zipfile.ZipFile(source) as archive:
        contents = {name: archive.read(name) for name in archive.namelist()}
    with zipfile.ZipFile(target, "w") as archive:
        for name, data in {**contents, **members}.items():
            archive.writestr(name, data)
    return target


def _meta(artifact: Path, **changes) -> bytes:
    with zipfile.ZipFile(artifact) as archive:
        return json.dumps({**json.loads(archive.read("meta.json")), **changes}).encode()


@pytest.mark.parametrize("content", [b"", b"garbage", b"PK\x03\x04 broken zip"])
def test_not_an_artifact(tmp_path, content):
    path = tmp_path / "junk.dan"
    path.write_bytes(content)
    with pytest.raises(ValueError, match="not a dan-dice edge artifact"):
        EdgeClassifier.load(path)


def test_truncated_artifact(artifact, tmp_path):
    path = tmp_path / "truncated.dan"
    path.write_bytes(artifact.read_bytes()[:-200])
    with pytest.raises(ValueError, match="not a dan-dice edge artifact, or it is corrupted"):
        EdgeClassifier.load(path)


def test_corrupted_member_fails_its_crc(artifact, tmp_path):
    data = bytearray(artifact.read_bytes())
    with zipfile.ZipFile(artifact) as archive:
        info = archive.getinfo("model.onnx")
    data[info.header_offset + 30 + len(info.filename) + info.compress_size // 2] ^= 0xFF
    path = tmp_path / "corrupted.dan"
    path.write_bytes(bytes(data))
    with pytest.raises(ValueError, match="corrupted"):
        EdgeClassifier.load(path)


def test_artifact_without_metadata(artifact, tmp_path):
    path = tmp_path / "other.dan"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("model.onnx", b"")
    with pytest.raises(ValueError, match="not a dan-dice edge artifact"):
        EdgeClassifier.load(path)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"format": "something-else"}, "not a dan-dice edge artifact"),
        ({"format_version": 2}, "edge format version 2"),
        ({"tokenizer": "0123456789abcdef"}, "different tokenizer"),
        ({"classes_dtype": "not a dtype"}, "invalid metadata"),
    ],
)
def test_incompatible_metadata(artifact, tmp_path, changes, message):
    path = _rewrite(artifact, tmp_path / "changed.dan", **{"meta.json": _meta(artifact, **changes)})
    with pytest.raises(ValueError, match=message):
        EdgeClassifier.load(path)


def test_invalid_onnx_model(artifact, tmp_path):
    path = _rewrite(artifact, tmp_path / "bad.dan", **{"model.onnx": b"not onnx"})
    with pytest.raises(ValueError, match="invalid ONNX model"):
        EdgeClassifier.load(path)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(st.text(), st.text("aA n't's 10:30.,!_-😀\t\nΣİ")), max_size=8))
def test_memoized_encoding_equals_tokenize(texts):
    vocab = Vocabulary.build(["free prize n't 's 10:30 a σ 😀 ! - i", *texts[:2]])
    vocab._chunk_ids = _ChunkIds(vocab.index, max_size=3)  # small: exercise the full memo
    ids, offsets = vocab.encode_batch(texts)
    for i, text in enumerate(texts):
        expected = [vocab.index.get(token, 0) for token in tokenize(text)] or [0]
        assert vocab.encode(text) == expected
        end = offsets[i + 1] if i + 1 < len(texts) else len(ids)
        assert ids[offsets[i] : end].tolist() == expected
