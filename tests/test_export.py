"""Exported artifacts predict as the torch model does, and stay small and self-describing."""

from __future__ import annotations

import copy
import json
import zipfile

import numpy as np
import onnx
import pytest
from onnx import numpy_helper
from sklearn.exceptions import NotFittedError

from dan_dice import DANClassifier
from dan_dice.edge import EdgeClassifier
from dan_dice.export import _quantize_rows, export_model

TEXTS = [
    "",
    "   \n\t ",
    "zzqx qqvb unknown-only words",
    "😀🎉",
    "FREE prize!!! Claim your cash now",
    "hello mom, lunch tomorrow? don't be late, it's 10:30",
    "Football match today; the team's coach won't call",
    " ".join(["free", "lunch", "pizza", "code"] * 300),  # 1,200 tokens
    *[" ".join(["hello"] * n + ["win"] * (9 - n)) for n in range(10)],
]


@pytest.fixture(scope="module")
def binary_model(toy_texts, tiny_vectors_file) -> DANClassifier:
    X, y = toy_texts
    X = [f"{text} xq{i % 7}" for i, text in enumerate(X)]  # words without a vector
    clf = DANClassifier(
        embeddings=tiny_vectors_file,
        freeze_embeddings=True,
        max_epochs=3,
        threshold=0.4,
        random_state=0,
    )
    return clf.fit(X, np.where(y == 1, "spam", "ham"))


@pytest.fixture(scope="module")
def multiclass_model(toy_texts_3class, tiny_vectors_file) -> DANClassifier:
    X, y = toy_texts_3class
    clf = DANClassifier(embeddings=tiny_vectors_file, loss="ce", max_epochs=3, random_state=0)
    return clf.fit(X, y + 5)


@pytest.fixture(params=["binary_model", "multiclass_model"])
def model(request) -> DANClassifier:
    return request.getfixturevalue(request.param)


def _export(clf, tmp_path, quantize=None) -> EdgeClassifier:
    return EdgeClassifier.load(export_model(clf, tmp_path / "model.dan", quantize=quantize))


def test_fp32_matches_torch(model, tmp_path):
    edge = _export(model, tmp_path)
    np.testing.assert_allclose(edge.predict_proba(TEXTS), model.predict_proba(TEXTS), atol=1e-5)
    np.testing.assert_array_equal(edge.predict(TEXTS), model.predict(TEXTS))


@pytest.mark.parametrize("quantize", ["int8", "fp16"])
def test_quantized_is_close(model, quantize, tmp_path):
    edge = _export(model, tmp_path, quantize)
    assert edge.quantization == quantize
    np.testing.assert_allclose(edge.predict_proba(TEXTS), model.predict_proba(TEXTS), atol=2e-3)


def test_labels_and_threshold_round_trip(model, tmp_path):
    edge = _export(model, tmp_path)
    np.testing.assert_array_equal(edge.classes_, model.classes_)
    assert edge.classes_.dtype == model.classes_.dtype
    assert edge.threshold_ == model.threshold_
    assert type(edge.predict(TEXTS)[0]) is type(model.predict(TEXTS)[0])


def test_predictions_keep_input_order_across_chunks(binary_model, tmp_path):
    texts = [" ".join(["free", "hello", "lunch"][: i % 3 + 1] * (i % 11 + 1)) for i in range(700)]
    edge = _export(binary_model, tmp_path)
    one_by_one = np.vstack([edge.predict_proba([text]) for text in texts])
    np.testing.assert_allclose(edge.predict_proba(texts), one_by_one, atol=1e-6)


def test_artifact_layout(binary_model, tmp_path):
    path = export_model(binary_model, tmp_path / "model.dan", quantize="int8")
    with zipfile.ZipFile(path) as archive:
        assert sorted(archive.namelist()) == ["meta.json", "model.onnx"]
        meta = json.loads(archive.read("meta.json"))
        model = onnx.load_from_string(archive.read("model.onnx"))
    onnx.checker.check_model(model, full_check=True)
    assert [i.name for i in model.graph.input] == ["ids"]
    assert [o.name for o in model.graph.output] == ["probabilities"]
    assert meta["format"] == "dan-dice-edge" and meta["format_version"] == 1
    assert meta["classes"] == ["ham", "spam"] and meta["quantization"] == "int8"
    table = next(t for t in model.graph.initializer if t.name == "table_uint8")
    assert table.dims[0] == len(meta["vocabulary"]) + 1  # + the padding row


def test_row_codes_span_each_rows_range_and_keep_zero_rows_exact():
    table = np.array([[0.0, 0.0, 0.0], [-1.0, 0.5, 3.0], [2.0, 2.5, 3.0]], np.float32)
    low, scale, codes = _quantize_rows(table)
    restored = low.astype(np.float32)[:, None] + scale.astype(np.float32)[:, None] * codes
    np.testing.assert_array_equal(restored[0], 0)
    assert codes[1].min() == 0 and codes[1].max() == 255  # the whole range of the row
    step = scale.astype(np.float32)[:, None]
    assert (np.abs(restored - table) <= step / 2 + 1e-3).all()  # + float16 rounding of the ends


def test_words_without_vector_are_left_out(binary_model, tmp_path):
    path = export_model(binary_model, tmp_path / "model.dan")
    with zipfile.ZipFile(path) as archive:
        vocabulary = json.loads(archive.read("meta.json"))["vocabulary"]
    assert vocabulary[0] == "<unk>"
    assert "xq1" in binary_model.vocabulary_.tokens and "xq1" not in vocabulary
    assert len(vocabulary) < len(binary_model.vocabulary_)


@pytest.mark.parametrize(
    ("quantize", "dtypes"),
    [(None, {"float32"}), ("int8", {"uint8", "float16"}), ("fp16", {"float16"})],
)
def test_weights_are_stored_compactly(binary_model, tmp_path, quantize, dtypes):
    path = export_model(binary_model, tmp_path / "model.dan", quantize=quantize)
    with zipfile.ZipFile(path) as archive:
        model = onnx.load_from_string(archive.read("model.onnx"))
    arrays = [numpy_helper.to_array(t) for t in model.graph.initializer]
    assert {str(a.dtype) for a in arrays if a.ndim and a.dtype != np.int64} == dtypes


def test_export_is_deterministic(binary_model, tmp_path):
    first = export_model(binary_model, tmp_path / "a.dan", quantize="int8").read_bytes()
    assert export_model(binary_model, tmp_path / "b.dan", quantize="int8").read_bytes() == first


def test_does_not_overwrite_unless_asked(binary_model, tmp_path):
    path = export_model(binary_model, tmp_path / "model.dan")
    with pytest.raises(FileExistsError, match="overwrite=True"):
        export_model(binary_model, path)
    export_model(binary_model, path, quantize="int8", overwrite=True)
    assert EdgeClassifier.load(path).quantization == "int8"


def test_unfitted_model_is_refused(tmp_path):
    with pytest.raises(NotFittedError):
        export_model(DANClassifier(), tmp_path / "model.dan")


def test_unknown_quantization_is_refused(binary_model, tmp_path):
    with pytest.raises(ValueError, match="quantize must be one of"):
        export_model(binary_model, tmp_path / "model.dan", quantize="int4")


def test_fine_tuned_embeddings_keep_every_word(binary_model, tmp_path):
    clf = copy.deepcopy(binary_model)
    clf.module_.embedding.weight.data[1:] += 0.01  # every row now differs from <unk>'s
    edge = _export(clf, tmp_path)
    np.testing.assert_allclose(edge.predict_proba(TEXTS), clf.predict_proba(TEXTS), atol=1e-5)


@pytest.mark.realdata
@pytest.mark.slow
def test_int8_keeps_sms_f1(real_data_home, tmp_path):
    from dan_dice.datasets import load_sms_spam, train_val_test_split
    from dan_dice.metrics import scores

    X, y = load_sms_spam(real_data_home, return_X_y=True)
    X_train, X_val, X_test, y_train, y_val, y_test = train_val_test_split(X, y, random_state=0)
    clf = DANClassifier(random_state=0).fit(X_train, y_train, validation_data=(X_val, y_val))
    fp32 = EdgeClassifier.load(export_model(clf, tmp_path / "fp32.dan"))
    int8 = EdgeClassifier.load(export_model(clf, tmp_path / "int8.dan", quantize="int8"))
    f1_fp32 = scores(y_test, fp32.predict(X_test))["f1"]
    f1_int8 = scores(y_test, int8.predict(X_test))["f1"]
    assert f1_fp32 == pytest.approx(scores(y_test, clf.predict(X_test))["f1"])
    assert abs(f1_int8 - f1_fp32) <= 0.005
