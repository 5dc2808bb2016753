"""The two executors of the edge runtime: the ONNX reader, the lean graph, and artifacts of the
earlier release (their parity with torch, for every pooling and quantization, is in
``test_export.py``)."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import numpy_helper

from dan_dice import DANClassifier
from dan_dice.edge import EdgeClassifier
from dan_dice.executors import HEAD_ROWS, TINY, NumpyExecutor, read_initializers
from dan_dice.export import export_model, package
from dan_dice.pooling import POOLINGS

DATA = Path(__file__).parent / "data"
OLD = json.loads((DATA / "dan-dice-0.1-expected.json").read_text())
"""Artifacts exported by dan_dice 0.1 (commit 295b9a3, before the lean graph) from tiny models
of the toy spam task, and the probabilities its runtime gave for a few texts."""


@pytest.fixture(scope="module")
def models(toy_texts, tiny_vectors_file) -> dict[str, DANClassifier]:
    X, y = toy_texts
    params = dict(loss="ce", lr=1e-2, max_epochs=5, patience_steps=0, random_state=0)
    return {
        pooling: DANClassifier(
            embeddings=tiny_vectors_file, pooling=pooling, hidden_sizes=(16,), **params
        ).fit(X, y)
        for pooling in POOLINGS
    }


def _onnx(path: Path) -> bytes:
    with zipfile.ZipFile(path) as archive:
        return archive.read("model.onnx")


@pytest.mark.parametrize("quantize", [None, "int8", "fp16"])
def test_initializers_are_read_as_onnx_reads_them(models, quantize, tmp_path):
    path = export_model(models["attention+max"], tmp_path / "m.dan", quantize=quantize)
    model = _onnx(path)
    expected = {
        t.name: numpy_helper.to_array(t) for t in onnx.load_from_string(model).graph.initializer
    }
    arrays = read_initializers(model)
    assert arrays.keys() == expected.keys()
    for name, array in expected.items():
        assert arrays[name].dtype == array.dtype and arrays[name].shape == array.shape
        np.testing.assert_array_equal(arrays[name], array)
        # numpy copies an unaligned array whole on every take(): a table per message
        assert arrays[name].flags.aligned, name


def test_an_initializer_at_an_odd_offset_is_read_aligned():
    """The reader's arrays are views of the file where they can be; one whose bytes start at
    an offset that is not a multiple of its item size must still come out aligned."""
    table = numpy_helper.from_array(np.arange(12, dtype=np.float32).reshape(3, 4), "table")
    graph = onnx.helper.make_graph([], "g", [], [], initializer=[table])
    model = onnx.helper.make_model(graph).SerializeToString()
    for shift in range(4):  # the same bytes at every offset modulo 4
        padded = memoryview(b"\0" * shift + model)[shift:]
        array = read_initializers(padded)["table"]
        assert array.flags.aligned
        np.testing.assert_array_equal(array, np.arange(12, dtype=np.float32).reshape(3, 4))


@pytest.mark.parametrize(
    "data", [b"", b"\x3a\x05ab", b"\x3a\x02\x2a\x7f", b"\x0f", b"\xff" * 12], ids=repr
)
def test_malformed_protobuf_is_a_value_error(data):
    with pytest.raises(ValueError):
        read_initializers(data)


@pytest.mark.parametrize("pooling", POOLINGS)
def test_the_graph_gathers_each_token_once(models, pooling, tmp_path):
    """Per call: one gather of the rows, one of the attention scores (none for the maximum
    alone), and no masking: the padding is folded into the tables."""
    graph = onnx.load_from_string(_onnx(export_model(models[pooling], tmp_path / "m.dan"))).graph
    per_token = [node.op_type for node in graph.node if "ids" in node.input]
    assert per_token == ["Gather"] * (1 if pooling == "max" else 2)
    assert not {"Where", "Less", "ReduceSum"} & {node.op_type for node in graph.node}


@pytest.mark.parametrize("name", sorted(OLD["probabilities"]))
@pytest.mark.parametrize("executor", ["numpy", "onnxruntime"])
def test_artifacts_of_the_earlier_release_predict_as_they_did(name, executor):
    edge = EdgeClassifier.load(DATA / name, executor=executor)
    np.testing.assert_allclose(
        edge.predict_proba(OLD["texts"]), OLD["probabilities"][name], rtol=1e-5, atol=1e-6
    )


def test_weights_the_numpy_executor_does_not_know_go_to_onnxruntime(models, tmp_path):
    """Version 1 int8 artifacts stored symmetric codes as ``table_int8``: onnxruntime runs them,
    the numpy executor refuses them, saying what to do."""
    path = export_model(models["mean"], tmp_path / "m.dan", quantize="int8")
    model = onnx.load_from_string(_onnx(path))
    for tensor in model.graph.initializer:
        if tensor.name == "table_uint8":
            tensor.name = "table_int8"
    for node in model.graph.node:
        node.input[:] = ["table_int8" if i == "table_uint8" else i for i in node.input]
    with zipfile.ZipFile(path) as archive:
        meta = archive.read("meta.json")
    renamed = tmp_path / "renamed.dan"
    renamed.write_bytes(package({"meta.json": meta, "model.onnx": model.SerializeToString()}))
    expected = EdgeClassifier.load(path, executor="onnxruntime").predict_proba(
        ["free prize", "hello"]
    )
    for executor in ("onnxruntime", "auto"):  # "auto" falls back to onnxruntime
        edge = EdgeClassifier.load(renamed, executor=executor)
        assert edge.executor == "onnxruntime"
        np.testing.assert_array_equal(edge.predict_proba(["free prize", "hello"]), expected)
    with pytest.raises(ValueError, match=r"renamed\.dan has a graph whose weights the numpy"):
        EdgeClassifier.load(renamed, executor="numpy")


@pytest.mark.parametrize("executor", ["numpy", "onnxruntime"])
def test_long_and_many_texts(models, executor, tmp_path):
    """Chunks of texts sorted by length, more texts than the MLP takes at once, and one text
    longer than a chunk's cells."""
    path = export_model(models["attention+max"], tmp_path / "m.dan")
    edge = EdgeClassifier.load(path, executor=executor)
    texts = [" ".join(["free", "hello"] * (i % 50)) for i in range(HEAD_ROWS + 300)]
    texts.append("win " * 5000)
    alone = np.vstack([edge.predict_proba([text]) for text in texts[::37]])
    np.testing.assert_allclose(edge.predict_proba(texts)[::37], alone, rtol=1e-5, atol=1e-7)


def test_unknown_executor_and_threads(models, tmp_path):
    path = export_model(models["mean"], tmp_path / "m.dan")
    with pytest.raises(ValueError, match="executor must be one of"):
        EdgeClassifier.load(path, executor="torch")
    with pytest.raises(ValueError, match="numpy executor runs on one thread"):
        EdgeClassifier.load(path, executor="numpy", n_threads=2)
    assert EdgeClassifier.load(path).executor == "numpy"  # "auto" on one thread
    assert EdgeClassifier.load(path, n_threads=2).executor == "onnxruntime"


def test_attention_weights_of_far_apart_scores():
    """The weights kept at load are shifted by the table's highest score: a text whose scores
    all lie far below it is shifted by its own, as the graph does, alone and in a batch."""
    rng = np.random.default_rng(0)
    table = rng.normal(size=(6, 4)).astype(np.float32)
    table[0] *= 300  # token 0 scores far above the rest (row 5 is the padding's)
    attention = (table[0] / np.linalg.norm(table[0])).astype(np.float32)
    layers = [(rng.normal(size=(3, 8)).astype(np.float32), np.zeros(3, np.float32))]
    layers.append((rng.normal(size=(1, 3)).astype(np.float32), np.zeros(1, np.float32)))
    executor = NumpyExecutor(table, layers, "binary", "attention+max", attention)

    def expected(ids: list[int]) -> np.ndarray:
        rows = table[ids].astype(np.float64)
        scores = rows @ attention
        weights = np.exp(scores - scores.max())
        pooled = np.concatenate([weights @ rows / weights.sum(), rows.max(0)])
        hidden = np.maximum(layers[0][0] @ pooled, 0)
        return 1 / (1 + np.exp(-(layers[1][0] @ hidden)))

    texts = [[1, 2, 3], [0, 4], [4, 2, 1, 3]]
    ids = np.concatenate(texts)
    assert executor.weights[texts[0]].sum() < TINY  # the shifted path is taken
    batch = executor(ids, np.array([0, 3, 5]))
    for text, row in zip(texts, batch, strict=True):
        np.testing.assert_allclose(row[1], expected(text)[0], rtol=1e-5)
        np.testing.assert_allclose(executor(np.array(text), np.zeros(1, int)), [row], atol=1e-7)
