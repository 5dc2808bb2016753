"""The torch-free runtime: imports, input checks, odd texts and clear errors on bad artifacts."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import warnings
import zipfile
from pathlib import Path

import numpy as np
import pytest
from conftest import TINY_MODEL
from hypothesis import given, settings
from hypothesis import strategies as st

from dan_dice import DANClassifier
from dan_dice.edge import EdgeClassifier
from dan_dice.export import export_model, package
from dan_dice.text import Vocabulary, tokenize

BLOCKED = ("torch", "sklearn", "onnx", "pandas", "safetensors", "scipy")
"""Packages the runtime must do without: a ``None`` entry in sys.modules makes imports fail."""


@pytest.fixture(scope="module")
def artifact(tmp_path_factory, toy_texts, tiny_vectors) -> Path:
    folder = tmp_path_factory.mktemp("edge")
    vectors = folder / "tiny.txt"
    vectors.write_text("".join(" ".join([w, *map(str, v)]) + "\n" for w, v in tiny_vectors.items()))
    X, y = toy_texts
    clf = DANClassifier(
        embeddings=vectors,
        loss="ce",
        threshold=0.4,
        pooling="attention+max",  # masks padding twice: the most involved graph
        lr=1e-2,
        max_epochs=5,  # learns the task (fewer epochs or a smaller rate collapse onto one class)
        patience_steps=0,
        random_state=0,
    ).fit(X, y)
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


def test_the_default_executor_never_imports_onnxruntime(artifact):
    """A process that loads an artifact with the defaults and predicts holds neither torch nor
    onnxruntime: the smallest memory of issue 22's edge process."""
    code = (
        "import sys; from dan_dice.edge import EdgeClassifier; "
        "clf = EdgeClassifier.load(sys.argv[1]); clf.predict(['free prize now', 'hello']); "
        "print(clf.executor, sorted({'torch', 'onnxruntime', 'onnx'} & set(sys.modules)))"
    )
    assert _python(code, str(artifact)).split() == ["numpy", "[]"]


def test_numpy_executor_runs_where_onnxruntime_cannot_be_imported(edge, artifact):
    texts = ["free prize now", "", "hello mom"]
    code = (
        "import json, sys; from dan_dice.edge import EdgeClassifier; "
        "clf = EdgeClassifier.load(sys.argv[1]); assert clf.executor == 'numpy'; "
        "print(json.dumps(clf.predict_proba(json.loads(sys.argv[2])).tolist()))"
    )
    output = _python(code, str(artifact), json.dumps(texts), block=(*BLOCKED, "onnxruntime"))
    np.testing.assert_allclose(
        np.array(json.loads(output), np.float32), edge.predict_proba(texts), rtol=1e-5, atol=1e-7
    )
    with pytest.raises(subprocess.CalledProcessError) as error:
        code = "import sys; from dan_dice.edge import EdgeClassifier as E; "
        code += "E.load(sys.argv[1], executor='onnxruntime')"
        _python(code, str(artifact), block=("onnxruntime",))
    assert "needs the onnxruntime package" in error.value.stderr


def test_odd_texts_are_predicted(edge):
    texts = ["", "  \t\n", "😀😀", "qqzx vvbn", "_", "'s n't", "1,000,000", "!" * 5000]
    proba = edge.predict_proba(texts)
    assert proba.shape == (len(texts), 2) and proba.dtype == np.float32
    np.testing.assert_allclose(proba.sum(axis=1), 1, rtol=1e-6)
    assert set(edge.predict(texts)) <= set(edge.classes_)


def test_empty_and_single_inputs(edge):
    assert edge.predict_proba([]).shape == (0, 2)
    assert edge.predict([]).shape == (0,)
    alone, in_batch = edge.predict_proba(["hello"]), edge.predict_proba(["hello", ""])[:1]
    np.testing.assert_allclose(alone, in_batch, rtol=1e-6)  # BLAS: one row, or a matrix


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


def _rewrite(source: Path, target: Path, *, seal: bool = True, **members: bytes) -> Path:
    """A copy of the artifact ``source`` with some members replaced; ``seal`` writes its
    whole-file checksum again, as a deliberate edit could, so that the checks after the
    checksum are the ones tested."""
    with zipfile.ZipFile(source) as archive:
        contents = {name: archive.read(name) for name in archive.namelist()}
    if seal:
        target.write_bytes(package({**contents, **members}))
        return target
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
        ({"format_version": 4}, "edge format version 4"),
        ({"format_version": True}, "edge format version True"),
        ({"tokenizer": "0123456789abcdef"}, "different tokenizer"),
        ({"classes_dtype": "not a dtype"}, "invalid metadata"),
        ({"pooling": "median"}, r"changed\.dan uses pooling 'median', which this runtime"),
        ({"pooling": None}, "uses pooling None"),
    ],
)
def test_incompatible_metadata(artifact, tmp_path, changes, message):
    path = _rewrite(artifact, tmp_path / "changed.dan", **{"meta.json": _meta(artifact, **changes)})
    with pytest.raises(ValueError, match=message):
        EdgeClassifier.load(path)


def test_pooling_is_read_and_defaults_to_the_mean(edge, artifact, tmp_path):
    assert edge.pooling == "attention+max"
    with zipfile.ZipFile(artifact) as archive:
        meta = json.loads(archive.read("meta.json"))
    del meta["pooling"]  # as written before there were other poolings: format version 1
    meta["format_version"] = 1
    members = {"meta.json": json.dumps(meta).encode()}
    path = _rewrite(artifact, tmp_path / "old.dan", seal=False, **members)
    with pytest.warns(UserWarning, match="format version 1"):
        assert EdgeClassifier.load(path).pooling == "mean"


def test_invalid_onnx_model(artifact, tmp_path):
    path = _rewrite(artifact, tmp_path / "bad.dan", **{"model.onnx": b"not onnx"})
    with pytest.raises(ValueError, match="invalid ONNX model"):
        EdgeClassifier.load(path)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(st.text(), st.text("aA n't's 10:30.,!_-😀\t\nΣİ")), max_size=8))
def test_memoized_encoding_equals_tokenize(texts):
    vocab = Vocabulary.build(["free prize n't 's 10:30 a σ 😀 ! - i", *texts[:2]])
    vocab._chunk_ids.max_size = vocab._table.max_chunks = 3  # small: exercise them full
    ids, offsets = vocab.encode_batch(texts)
    for i, text in enumerate(texts):
        expected = [vocab.index.get(token, 0) for token in tokenize(text)] or [0]
        assert vocab.encode(text) == expected
        end = offsets[i + 1] if i + 1 < len(texts) else len(ids)
        assert ids[offsets[i] : end].tolist() == expected


# Integrity: the seal over the whole artifact, then every value of meta.json validated


def _flip(path: Path, target: Path, offset: int) -> Path:
    data = bytearray(path.read_bytes())
    data[offset] ^= 0x01
    target.write_bytes(bytes(data))
    return target


def test_artifact_is_sealed(artifact):
    from dan_dice.edge import SEAL

    data = artifact.read_bytes()
    assert data[-64 - len(SEAL) : -64] == SEAL
    assert data[-64:] == hashlib.sha256(data[:-64]).hexdigest().encode()


@pytest.mark.parametrize(
    "where",
    ["zip date", "zip version", "meta.json", "model.onnx", "central directory", "the digest"],
)
def test_any_flipped_byte_fails_the_seal(artifact, tmp_path, where):
    """Even bytes zipfile ignores (a member's date, the version that made it) are sealed."""
    with zipfile.ZipFile(artifact) as archive:
        meta, onnx_member = archive.getinfo("meta.json"), archive.getinfo("model.onnx")
    offsets = {
        "zip date": meta.header_offset + 10,
        "zip version": meta.header_offset + 4,
        "meta.json": meta.header_offset + 30 + len(meta.filename) + meta.compress_size // 2,
        "model.onnx": onnx_member.header_offset + 30 + len("model.onnx") + 100,
        "central directory": len(artifact.read_bytes()) - 80 - 22 - 10,
        "the digest": len(artifact.read_bytes()) - 1,
    }
    path = _flip(artifact, tmp_path / "flipped.dan", offsets[where])
    with pytest.raises(ValueError, match=r"flipped\.dan is corrupted.*checksum"):
        EdgeClassifier.load(path)


def test_a_damaged_seal_is_not_read_as_version_1(artifact, tmp_path):
    path = _flip(artifact, tmp_path / "unsealed.dan", len(artifact.read_bytes()) - 70)
    with pytest.raises(ValueError, match=r"checksum \(the zip comment.*\) is missing or damaged"):
        EdgeClassifier.load(path)


@pytest.mark.parametrize("changes", [{"threshold": 0.99}, {"pad_id": 1}, {"classes": [1, 0]}])
def test_edited_metadata_without_the_seal_is_refused(artifact, tmp_path, changes):
    members = {"meta.json": _meta(artifact, **changes)}
    path = _rewrite(artifact, tmp_path / "edited.dan", seal=False, **members)
    with pytest.raises(ValueError, match="is corrupted: its checksum"):
        EdgeClassifier.load(path)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"threshold": 1.5}, r"threshold must be a number in \(0, 1\), got 1.5"),
        ({"threshold": 0}, r"threshold must be a number in \(0, 1\), got 0"),
        ({"threshold": True}, r"threshold must be a number in \(0, 1\), got True"),
        ({"threshold": "0.4"}, r"threshold must be a number in \(0, 1\)"),
        ({"pad_id": 3}, "pad_id must be"),
        ({"pad_id": 0}, "pad_id must be"),
        ({"pad_id": 10.0}, "pad_id must be"),
        ({"vocabulary": ["<unk>", "free", "free"]}, "distinct tokens"),
        ({"vocabulary": ["free", "<unk>"]}, "starting with '<unk>'"),
        ({"vocabulary": ["<unk>", None]}, "list of strings"),
        ({"classes": [0, 0]}, "distinct and sorted"),
        ({"classes": [1, 0]}, "distinct and sorted"),
        ({"classes": [0, 1, 2]}, "3 classes for 1 network outputs"),
        ({"classes": [0, 1, 2], "n_outputs": 3}, "task 'binary' with 3 classes"),
        ({"task": "multiclass"}, "task 'multiclass' with 2 classes"),
        ({"classes": [0.0, 1.0]}, "do not keep their values"),
        ({"classes_dtype": "|b1"}, "do not keep their values"),
        ({"classes_dtype": "<U0"}, "do not keep their values"),
        ({"n_outputs": 2}, "2 classes for 2 network outputs"),
        ({"quantization": "int4"}, "quantization must be one of"),
        ({"quantization": None}, None),  # well-formed, but not this graph's: see below
    ],
    ids=lambda v: json.dumps(v)[:40] if isinstance(v, dict) else None,
)
def test_sealed_but_invalid_metadata_is_refused(artifact, tmp_path, changes, message):
    path = _rewrite(artifact, tmp_path / "edited.dan", **{"meta.json": _meta(artifact, **changes)})
    if message is None:
        EdgeClassifier.load(path)  # the quantization is information only: it still predicts
        return
    with pytest.raises(ValueError, match=rf"edited\.dan has invalid metadata: .*{message}"):
        EdgeClassifier.load(path)


def test_missing_metadata_key_is_refused(artifact, tmp_path):
    with zipfile.ZipFile(artifact) as archive:
        meta = json.loads(archive.read("meta.json"))
    del meta["threshold"]
    path = _rewrite(artifact, tmp_path / "edited.dan", **{"meta.json": json.dumps(meta).encode()})
    with pytest.raises(ValueError, match="has invalid metadata: missing 'threshold'"):
        EdgeClassifier.load(path)


def test_graph_not_matching_the_labels_is_refused(artifact, tmp_path):
    meta = _meta(artifact, classes=[0, 1, 2], n_outputs=3, task="multiclass")  # the graph: 2
    path = _rewrite(artifact, tmp_path / "edited.dan", **{"meta.json": meta})
    with pytest.raises(ValueError, match="graph that does not match its metadata"):
        EdgeClassifier.load(path)


def test_version_1_artifacts_have_every_value_validated(artifact, tmp_path):
    """Unsealed (version 1) artifacts load with a warning, but an edited threshold or padding
    id, which would change predictions, is still refused."""
    for changes in ({"threshold": 1.5}, {"pad_id": 7}):
        meta = _meta(artifact, format_version=1, **changes)
        path = _rewrite(artifact, tmp_path / "old.dan", seal=False, **{"meta.json": meta})
        with (
            pytest.warns(UserWarning, match="format version 1"),
            pytest.raises(ValueError, match="invalid metadata"),
        ):
            EdgeClassifier.load(path)
    path = _rewrite(
        artifact,
        tmp_path / "old.dan",
        seal=False,
        **{"meta.json": _meta(artifact, format_version=1)},
    )
    with pytest.warns(UserWarning, match="export the model again"):
        old = EdgeClassifier.load(path)
    np.testing.assert_array_equal(old.predict_proba(["free prize"]), _edge(artifact))


def _edge(artifact: Path) -> np.ndarray:
    return EdgeClassifier.load(artifact).predict_proba(["free prize"])


def _resealed(data: bytes) -> bytes:
    from dan_dice.edge import seal

    return seal(data)


@pytest.mark.parametrize(
    "patches",
    [
        [("local", 8, 99), ("central", 10, 99)],  # NotImplementedError: compression method
        [("local", 6, 0x01), ("central", 8, 0x01)],  # RuntimeError: encrypted, needs a password
        [("central", 6, 0xFF)],  # NotImplementedError: zip file version 25.5
        [("local", 26, 0xFF)],  # BadZipFile: the names of the header and directory differ
        [("end", 17, 0x7F)],  # the directory's offset past the end: a negative seek
    ],
    ids=["method", "encrypted", "version", "name", "offset"],
)
def test_zip_oddities_are_value_errors(artifact, tmp_path, patches):
    """Bytes zipfile trips on with NotImplementedError, RuntimeError, OSError, ValueError...,
    sealed again so that the reader gets past the checksum: each is a ValueError naming the
    file (and exit status 2 in ``dan-dice predict``)."""
    data = bytearray(artifact.read_bytes())
    with zipfile.ZipFile(artifact) as archive:
        local = archive.getinfo("meta.json").header_offset
    starts = {"local": local, "central": data.find(b"PK\x01\x02"), "end": data.rfind(b"PK\x05\x06")}
    for where, field, value in patches:
        data[starts[where] + field] = value
    path = tmp_path / "odd.dan"
    path.write_bytes(_resealed(bytes(data)))
    with pytest.raises(ValueError, match=r"odd\.dan is not a dan-dice edge artifact"):
        EdgeClassifier.load(path)


def test_huge_member_claims_are_refused_before_reading(artifact, tmp_path):
    data = bytearray(artifact.read_bytes())
    central = data.find(b"PK\x01\x02")
    data[central + 24 : central + 28] = (2**32 - 1).to_bytes(4, "little")  # uncompressed size
    path = tmp_path / "huge.dan"
    path.write_bytes(_resealed(bytes(data)))
    with pytest.raises(ValueError, match="not a dan-dice edge artifact, or it is corrupted"):
        EdgeClassifier.load(path)


def test_lone_surrogates_survive_export(tiny_vectors_file, tmp_path):
    """Tokens that are lone surrogates (texts decoded with surrogateescape) are exported as
    JSON escapes and read back unchanged: the runtime encodes texts as training did."""
    X = ["free prize \udce9 now", "hello \ud800 mom", "win cash \udce9", "lunch \ud800 home"] * 6
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a collapse warning, maybe: no matter here
        clf = DANClassifier(embeddings=tiny_vectors_file, **TINY_MODEL).fit(
            X, ["a\udc80", "b"] * 12
        )
    edge = EdgeClassifier.load(export_model(clf, tmp_path / "model.dan"))
    assert "\udce9" in edge.vocabulary.tokens
    assert edge.classes_.tolist() == ["a\udc80", "b"]
    texts = [*X[:4], "\udce9 \ud800", "\udce9"]
    np.testing.assert_allclose(edge.predict_proba(texts), clf.predict_proba(texts), atol=1e-5)
    assert edge.predict(texts).tolist() == clf.predict(texts).tolist()


# Multi-label artifacts: task "multilabel", format version 3, a threshold per label


@pytest.fixture(scope="module")
def multilabel_artifact(tmp_path_factory, toy_multilabel, tiny_vectors_file) -> Path:
    X, Y = toy_multilabel
    names = np.array(["sports", "food", "tech"])
    y = [tuple(names[np.flatnonzero(row)]) for row in Y]
    clf = DANClassifier(embeddings=tiny_vectors_file, lr=1e-2, max_epochs=5, random_state=0)
    folder = tmp_path_factory.mktemp("multilabel")
    return export_model(clf.fit(X, y), folder / "model.dan", quantize="int8")


def test_single_label_artifacts_say_their_task(edge, artifact, tmp_path):
    assert edge.task == "binary" and isinstance(edge.threshold_, float)
    with zipfile.ZipFile(artifact) as archive:
        meta = json.loads(archive.read("meta.json"))
    del meta["task"]  # as exported before multi-label: read from the number of labels
    path = _rewrite(artifact, tmp_path / "old.dan", **{"meta.json": json.dumps(meta).encode()})
    assert EdgeClassifier.load(path).task == "binary"


def test_multilabel_artifact_predicts_label_sets(multilabel_artifact):
    edge = EdgeClassifier.load(multilabel_artifact)
    assert edge.task == "multilabel" and edge.classes_.tolist() == ["food", "sports", "tech"]
    assert edge.threshold_.shape == (3,) and ((edge.threshold_ > 0) & (edge.threshold_ < 1)).all()
    texts = ["pizza and pasta", "football team", "laptop code pizza", "", "😀"]
    proba = edge.predict_proba(texts)
    assert proba.shape == (5, 3) and proba.dtype == np.float32
    predicted = edge.predict(texts)
    assert predicted == [tuple(edge.classes_[p >= edge.threshold_]) for p in proba]
    assert all(type(labels) is tuple and type(labels[0]) is str for labels in predicted[:3])
    assert edge.predict_proba([]).shape == (0, 3) and edge.predict([]) == []


def test_multilabel_artifact_predicts_without_torch(multilabel_artifact):
    code = (
        "import json, sys; from dan_dice.edge import EdgeClassifier; "
        "print(json.dumps(EdgeClassifier.load(sys.argv[1]).predict(['pizza football'])))"
    )
    output = _python(code, str(multilabel_artifact), block=BLOCKED)
    expected = EdgeClassifier.load(multilabel_artifact).predict(["pizza football"])
    assert [tuple(labels) for labels in json.loads(output)] == expected


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"threshold": [0.5, 0.5]}, r"threshold must be a list of 3 numbers in \(0, 1\), one per"),
        ({"threshold": 0.5}, "threshold must be a list of 3 numbers"),
        ({"threshold": [0.5, 0.5, 1.0]}, r"threshold\[2\] must be a number in \(0, 1\), got 1.0"),
        ({"threshold": [0.5, "0.5", 0.5]}, r"threshold\[1\] must be a number in \(0, 1\)"),
        ({"task": "multi-label"}, "task must be one of"),
        ({"task": None}, "task must be one of"),
        ({"task": "multiclass"}, "task 'multiclass' in an artifact of format version 3"),
        ({"format_version": 2}, "task 'multilabel' in an artifact of format version 2"),
        ({"classes": ["food", "food", "tech"]}, "labels must be distinct"),
        ({"classes": ["food", "tech"]}, "2 labels for 3 network outputs"),
        ({"n_outputs": 1}, "3 labels for 1 network outputs"),
    ],
    ids=lambda v: json.dumps(v)[:40] if isinstance(v, dict) else None,
)
def test_sealed_but_invalid_multilabel_metadata_is_refused(
    multilabel_artifact, tmp_path, changes, message
):
    meta = _meta(multilabel_artifact, **changes)
    path = _rewrite(multilabel_artifact, tmp_path / "edited.dan", **{"meta.json": meta})
    with pytest.raises(ValueError, match=rf"edited\.dan has invalid metadata: .*{message}"):
        EdgeClassifier.load(path)


def test_single_label_artifact_claiming_multilabel_is_refused(artifact, tmp_path):
    meta = _meta(artifact, task="multilabel", format_version=3)
    path = _rewrite(artifact, tmp_path / "edited.dan", **{"meta.json": meta})
    with pytest.raises(ValueError, match="2 labels for 1 network outputs"):
        EdgeClassifier.load(path)
