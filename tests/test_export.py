"""Exported artifacts predict as the torch model does, and stay small and self-describing."""

from __future__ import annotations

import copy
import hashlib
import json
import zipfile

import numpy as np
import onnx
import pytest
import torch
from onnx import numpy_helper
from sklearn.exceptions import NotFittedError

from dan_dice import DANClassifier
from dan_dice.edge import EdgeClassifier
from dan_dice.export import TABLE_LEVELS, _quantize_rows, export_model
from dan_dice.pooling import POOLINGS

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
TASKS = ("binary", "multiclass", "multilabel")
EXECUTORS = ("numpy", "onnxruntime")
TOPICS = np.array(["sports", "food", "tech"])  # the label columns of the multi-label toy task


@pytest.fixture(scope="module")
def fitted(toy_texts, toy_texts_3class, toy_multilabel, tiny_vectors_file):
    """``fitted(task, pooling)``: a tiny model of the binary, multiclass or multi-label toy
    task, fitted once (multi-label: on label lists, with a threshold of its own per label).

    Parameters are explicit (the estimator's defaults may change): cross-entropy, five epochs
    at a large learning rate, no step patience, which learns either task (fewer epochs or a
    smaller rate collapse onto one class, whose near-constant outputs would hide errors). A
    trained tiny model keeps its attention vector near its zero start, which pools as the
    mean; a random vector instead makes the attention tests able to fail.
    """
    models = {}

    def fit(task: str, pooling: str) -> DANClassifier:
        if (task, pooling) not in models:
            params = dict(
                embeddings=tiny_vectors_file,
                loss="ce",
                pooling=pooling,
                lr=1e-2,
                max_epochs=5,
                patience_steps=0,
                random_state=0,
            )
            if task == "binary":
                X, y = toy_texts
                X = [f"{text} xq{i % 7}" for i, text in enumerate(X)]  # words without a vector
                y = np.where(y == 1, "spam", "ham")
                clf = DANClassifier(freeze_embeddings=True, threshold=0.4, **params)
            elif task == "multilabel":
                X, Y = toy_multilabel
                y = [tuple(TOPICS[np.flatnonzero(row)]) for row in Y]
                clf = DANClassifier(threshold=0.5, **params)
            else:
                X, y = toy_texts_3class
                clf = DANClassifier(**params)
                y = y + 5
            clf.fit(X, y)
            if task == "multilabel":  # thresholds that differ, and fall between probabilities
                clf.threshold_ = np.array([0.35, 0.5, 0.65])
            if pooling.startswith("attention"):
                generator = torch.Generator().manual_seed(0)
                with torch.no_grad():
                    vector = clf.module_.attention
                    vector.copy_(torch.randn(vector.shape, generator=generator))
            models[task, pooling] = clf
        return models[task, pooling]

    return fit


@pytest.fixture
def binary_model(fitted) -> DANClassifier:
    return fitted("binary", "mean")


@pytest.fixture(
    params=[(task, pooling) for task in TASKS for pooling in POOLINGS],
    ids=lambda param: "-".join(param),
)
def model(request, fitted) -> DANClassifier:
    return fitted(*request.param)


@pytest.fixture(params=EXECUTORS)
def executor(request) -> str:
    """Each way the runtime computes the graph: every parity test runs on both."""
    return request.param


def _export(clf, tmp_path, quantize=None, executor="auto") -> EdgeClassifier:
    path = export_model(clf, tmp_path / "model.dan", quantize=quantize, overwrite=True)
    edge = EdgeClassifier.load(path, executor=executor)
    assert executor == "auto" or edge.executor == executor
    return edge


def _as_stored(clf: DANClassifier, quantize: str | None) -> DANClassifier:
    """A copy of ``clf`` with the weights a ``quantize`` artifact stores: the table as its
    codes read back (int8) or rounded to float16, every other weight rounded to float16.
    The artifact's graph must compute exactly what this torch model does."""
    clf = copy.deepcopy(clf)
    if quantize is None:
        return clf
    with torch.no_grad():
        for name, weight in clf.module_.named_parameters():
            value = weight.numpy()
            if name == "embedding.weight" and quantize == "int8":
                low, scale, codes = _quantize_rows(value)  # row by row, as the export does
                value = low.astype(np.float32)[:, None] + scale.astype(np.float32)[:, None] * codes
            else:
                value = value.astype(np.float16).astype(np.float32)
            weight.copy_(torch.from_numpy(value))
    return clf


def test_fp32_matches_torch(model, executor, tmp_path, toy_texts, toy_texts_3class, toy_multilabel):
    edge = _export(model, tmp_path, executor=executor)
    texts = [*TEXTS, *toy_texts[0], *toy_texts_3class[0], *toy_multilabel[0]]
    expected = model.predict_proba(texts)
    np.testing.assert_allclose(edge.predict_proba(texts), expected, rtol=1e-4, atol=1e-5)
    alone = np.vstack([edge.predict_proba([text]) for text in texts[:12]])  # one message's path
    np.testing.assert_allclose(alone, expected[:12], rtol=1e-4, atol=1e-5)
    np.testing.assert_equal(edge.predict(texts), model.predict(texts))  # label sets too


def test_attention_is_not_the_mean(fitted):
    """The attention tests would pass with a graph that averages, were the vector zero."""
    clf = fitted("binary", "attention")
    assert clf.module_.attention.abs().min() > 0
    mean = copy.deepcopy(clf)
    mean.module_.attention.data.zero_()
    assert np.abs(clf.predict_proba(TEXTS) - mean.predict_proba(TEXTS)).max() > 1e-2


@pytest.mark.parametrize("quantize", [None, "int8", "fp16"])
@pytest.mark.parametrize("pooling", POOLINGS)
def test_padding_does_not_leak(fitted, pooling, quantize, executor, tmp_path):
    """Short texts padded to a long one in one call predict as they do alone, and as in torch.

    Padding rows are zero: were they not masked, they would raise the maximum of each negative
    component to 0, and take attention weight (a score of 0) from the real tokens.
    """
    clf = fitted("binary", pooling)
    edge = _export(clf, tmp_path, quantize, executor)
    long = " ".join(["free", "lunch", "hello", "prize", "code"] * 60)  # 300 tokens
    texts = ["free", "", "hello mom", "win cash now", "zzqx", long]  # in one onnxruntime call
    alone = np.vstack([edge.predict_proba([text]) for text in texts])
    np.testing.assert_allclose(edge.predict_proba(texts), alone, atol=1e-6)
    expected = _as_stored(clf, quantize).predict_proba(texts)
    np.testing.assert_allclose(alone, expected, atol=1e-5)


@pytest.mark.parametrize("quantize", ["int8", "fp16"])
def test_quantized_graph_computes_the_stored_model(model, quantize, executor, tmp_path):
    edge = _export(model, tmp_path, quantize, executor)
    assert edge.quantization == quantize
    stored = _as_stored(model, quantize)
    np.testing.assert_allclose(edge.predict_proba(TEXTS), stored.predict_proba(TEXTS), atol=1e-5)


@pytest.mark.parametrize(("quantize", "atol"), [("int8", 2e-2), ("fp16", 2e-3)])
def test_quantized_is_close(model, quantize, atol, executor, tmp_path):
    """The rounding costs little. Codes of 128 levels move these models' probabilities by
    0.9e-3 to 9e-3 (the multiclass max-pooled one most). On the real test sets the defaults
    move by 0.018 (cyberbullying) and 0.059 (SMS) at most, 0.0004-0.0007 on average, and their
    test F1 not at all (``reports/table_levels.md``). The graph is checked exactly above."""
    edge = _export(model, tmp_path, quantize, executor)
    np.testing.assert_allclose(edge.predict_proba(TEXTS), model.predict_proba(TEXTS), atol=atol)


def test_labels_and_threshold_round_trip(model, tmp_path):
    edge = _export(model, tmp_path)
    np.testing.assert_array_equal(edge.classes_, model.classes_)
    assert edge.classes_.dtype == model.classes_.dtype
    np.testing.assert_array_equal(edge.threshold_, model.threshold_)
    assert edge.task == model.y_type_.split("-")[0]
    assert edge.pooling == model.module_.pooling
    assert type(edge.predict(TEXTS)[0]) is type(model.predict(TEXTS)[0])


@pytest.mark.parametrize("pooling", POOLINGS)
def test_predictions_keep_input_order_across_chunks(fitted, pooling, executor, tmp_path):
    texts = [" ".join(["free", "hello", "lunch"][: i % 3 + 1] * (i % 11 + 1)) for i in range(700)]
    edge = _export(fitted("binary", pooling), tmp_path, executor=executor)
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
    assert meta["format"] == "dan-dice-edge" and meta["format_version"] == 2
    data = path.read_bytes()  # sealed: the zip comment is the SHA-256 of every byte before it
    assert archive.comment == b"dan-dice-sha256:" + hashlib.sha256(data[:-64]).hexdigest().encode()
    assert meta["classes"] == ["ham", "spam"] and meta["quantization"] == "int8"
    assert meta["pooling"] == "mean"
    table = next(t for t in model.graph.initializer if t.name == "table_uint8")
    assert table.dims[0] == len(meta["vocabulary"]) + 1  # + the padding row


def test_row_codes_span_each_rows_range_and_keep_zero_rows_exact():
    table = np.array([[0.0, 0.0, 0.0], [-1.0, 0.5, 3.0], [2.0, 2.5, 3.0]], np.float32)
    low, scale, codes = _quantize_rows(table)
    restored = low.astype(np.float32)[:, None] + scale.astype(np.float32)[:, None] * codes
    np.testing.assert_array_equal(restored[0], 0)
    assert codes[1].min() == 0 and codes[1].max() == TABLE_LEVELS - 1  # the row's whole range
    step = scale.astype(np.float32)[:, None]
    assert (np.abs(restored - table) <= step / 2 + 1e-3).all()  # + float16 rounding of the ends


def test_words_without_vector_are_left_out(binary_model, tmp_path):
    path = export_model(binary_model, tmp_path / "model.dan")
    with zipfile.ZipFile(path) as archive:
        vocabulary = json.loads(archive.read("meta.json"))["vocabulary"]
    assert vocabulary[0] == "<unk>"
    assert "xq1" in binary_model.vocabulary_.tokens and "xq1" not in vocabulary
    assert len(vocabulary) < len(binary_model.vocabulary_)


@pytest.mark.parametrize("pooling", ["mean", "attention+max"])
@pytest.mark.parametrize(
    ("quantize", "dtypes"),
    [(None, {"float32"}), ("int8", {"uint8", "float16"}), ("fp16", {"float16"})],
)
def test_weights_are_stored_compactly(fitted, pooling, tmp_path, quantize, dtypes):
    clf = fitted("binary", pooling)
    path = export_model(clf, tmp_path / "model.dan", quantize=quantize)
    with zipfile.ZipFile(path) as archive:
        model = onnx.load_from_string(archive.read("model.onnx"))
    arrays = {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}
    assert {str(a.dtype) for a in arrays.values() if a.ndim and a.dtype != np.int64} == dtypes
    if pooling.startswith("attention"):
        name = "attention" if quantize is None else "attention_fp16"
        np.testing.assert_allclose(arrays[name], clf.module_.attention.detach(), rtol=1e-3)


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


def test_unknown_pooling_is_refused(binary_model, tmp_path):
    clf = copy.deepcopy(binary_model)
    clf.module_.pooling = "median"  # a pooling added to the model but not to the export
    with pytest.raises(ValueError, match="cannot export pooling 'median'"):
        export_model(clf, tmp_path / "model.dan")


def test_fine_tuned_embeddings_keep_every_word(binary_model, tmp_path):
    clf = copy.deepcopy(binary_model)
    clf.module_.embedding.weight.data[1:] += 0.01  # every row now differs from <unk>'s
    edge = _export(clf, tmp_path)
    np.testing.assert_allclose(edge.predict_proba(TEXTS), clf.predict_proba(TEXTS), atol=1e-5)


@pytest.mark.realdata
@pytest.mark.slow
def test_int8_keeps_sms_f1(real_data_home, tmp_path):
    from dan_dice.datasets import load_sms_spam
    from dan_dice.metrics import scores
    from dan_dice.splits import train_val_test_split

    X, y = load_sms_spam(real_data_home, return_X_y=True)
    X_train, X_val, X_test, y_train, y_val, y_test = train_val_test_split(X, y, random_state=0)
    clf = DANClassifier(random_state=0).fit(X_train, y_train, validation_data=(X_val, y_val))
    fp32 = EdgeClassifier.load(export_model(clf, tmp_path / "fp32.dan"))
    int8 = EdgeClassifier.load(export_model(clf, tmp_path / "int8.dan", quantize="int8"))
    f1_fp32 = scores(y_test, fp32.predict(X_test))["f1"]
    f1_int8 = scores(y_test, int8.predict(X_test))["f1"]
    assert f1_fp32 == pytest.approx(scores(y_test, clf.predict(X_test))["f1"])
    assert abs(f1_int8 - f1_fp32) <= 0.005


# Multi-label models: a sigmoid per label, a threshold per label, label sets out


def test_multilabel_artifact_layout(fitted, tmp_path):
    clf = fitted("multilabel", "mean")
    path = export_model(clf, tmp_path / "model.dan")
    with zipfile.ZipFile(path) as archive:
        meta = json.loads(archive.read("meta.json"))
        model = onnx.load_from_string(archive.read("model.onnx"))
    assert meta["format_version"] == 3 and meta["task"] == "multilabel"
    assert meta["classes"] == ["food", "sports", "tech"] and meta["n_outputs"] == 3
    assert meta["threshold"] == [0.35, 0.5, 0.65]
    output = model.graph.output[0]
    assert output.type.tensor_type.shape.dim[1].dim_value == 3
    assert model.graph.node[-1].op_type == "Sigmoid"  # each label on its own, not a softmax
    single = export_model(fitted("multiclass", "mean"), tmp_path / "single.dan")
    with zipfile.ZipFile(single) as archive:
        meta = json.loads(archive.read("meta.json"))
    assert meta["format_version"] == 2 and meta["task"] == "multiclass"


def test_multilabel_predictions_are_the_labels_over_their_thresholds(fitted, tmp_path):
    edge = _export(fitted("multilabel", "attention+max"), tmp_path)
    proba = edge.predict_proba(TEXTS)
    assert proba.shape == (len(TEXTS), 3)
    assert not np.allclose(proba.sum(axis=1), 1)  # not exclusive classes
    expected = [tuple(edge.classes_[row >= edge.threshold_].tolist()) for row in proba]
    assert edge.predict(TEXTS) == expected
    assert {len(labels) for labels in expected} > {1}  # some texts get several labels, or none
    assert edge.predict([]) == []


def test_multilabel_indicator_model_predicts_its_columns(tmp_path, fitted):
    """Fitted on a 0/1 indicator, the labels are its columns (their indices, or a DataFrame's
    column names in its order); the runtime answers with each text's columns: the rows of the
    estimator's indicator."""
    clf = copy.deepcopy(fitted("multilabel", "mean"))
    clf.y_type_, clf.classes_ = "multilabel-indicator", np.arange(3)
    edge = _export(clf, tmp_path)
    indicator = clf.predict(TEXTS)
    assert edge.predict(TEXTS) == [tuple(np.flatnonzero(row).tolist()) for row in indicator]
    clf.classes_ = np.array(["tech", 5, "food"], dtype=object)  # a DataFrame's columns
    edge = EdgeClassifier.load(export_model(clf, tmp_path / "columns.dan"))
    assert edge.classes_.tolist() == ["tech", 5, "food"] and edge.classes_.dtype == object
    expected = [tuple(clf.classes_[row == 1].tolist()) for row in indicator]
    assert edge.predict(TEXTS) == expected
