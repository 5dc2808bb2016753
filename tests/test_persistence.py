"""Saving and loading fitted models: exact round trips, no pickle, clear errors."""

from __future__ import annotations

import copy
import json
import os
import pickle
import re
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
import safetensors.torch
import torch
from conftest import TINY_MODEL
from safetensors import safe_open

from dan_dice import DANClassifier
from dan_dice.persistence import _signed, save_model

TEXTS = ["free prize now!", "", "zzqx unknown-words only", "hello mom, lunch later?", "😀 " * 3]


@pytest.fixture(scope="module")
def binary_model(toy_texts, tiny_vectors_file) -> DANClassifier:
    X, y = toy_texts
    labels = np.where(y == 1, "spam", "ham")
    clf = DANClassifier(
        embeddings=tiny_vectors_file, max_epochs=3, threshold="tune", random_state=0
    )
    return clf.fit(X, labels)


@pytest.fixture(scope="module")
def multiclass_model(toy_texts_3class, tiny_vectors_file) -> DANClassifier:
    X, y = toy_texts_3class
    clf = DANClassifier(embeddings=str(tiny_vectors_file), loss="ce", max_epochs=3, random_state=0)
    return clf.fit(X, y * 10 + 3)


@pytest.fixture(scope="module")
def indicator_model(toy_multilabel, tiny_vectors_file) -> DANClassifier:
    """Multi-label, fitted on a 0/1 indicator: per-label tuned thresholds."""
    X, Y = toy_multilabel
    return DANClassifier(embeddings=tiny_vectors_file, max_epochs=3, random_state=0).fit(X, Y)


@pytest.fixture(scope="module")
def label_lists_model(toy_multilabel, tiny_vectors_file) -> DANClassifier:
    """Multi-label, fitted on label lists with a multi-label-only loss and one shared threshold."""
    X, Y = toy_multilabel
    names = np.array(["sports", "food", "tech"])
    y = [tuple(names[np.flatnonzero(row)]) for row in Y]
    clf = DANClassifier(
        embeddings=tiny_vectors_file,
        loss="distribution_balanced",
        threshold="tune_global",
        max_epochs=3,
        random_state=0,
    )
    return clf.fit(X, y)


@pytest.fixture
def saved(binary_model, tmp_path) -> Path:
    return save_model(binary_model, tmp_path / "model.dan")


@pytest.mark.parametrize(
    "name", ["binary_model", "multiclass_model", "indicator_model", "label_lists_model"]
)
def test_round_trip_is_exact(name, request, tmp_path):
    clf = request.getfixturevalue(name)
    loaded = DANClassifier.load(save_model(clf, tmp_path / "model.dan"))
    np.testing.assert_array_equal(loaded.predict_proba(TEXTS), clf.predict_proba(TEXTS))
    np.testing.assert_equal(loaded.predict(TEXTS), clf.predict(TEXTS))  # label tuples too
    np.testing.assert_array_equal(loaded.decision_function(TEXTS), clf.decision_function(TEXTS))
    assert loaded.y_type_ == clf.y_type_
    np.testing.assert_array_equal(loaded.classes_, clf.classes_)
    assert loaded.classes_.dtype == clf.classes_.dtype
    assert loaded.get_params() == {**clf.get_params(), "embeddings": str(clf.embeddings)}
    assert loaded.vocabulary_.tokens == clf.vocabulary_.tokens
    np.testing.assert_array_equal(loaded.threshold_, clf.threshold_)
    assert type(loaded.threshold_) is type(clf.threshold_)
    assert loaded.best_epoch_ == clf.best_epoch_
    assert loaded.history_ == clf.history_
    assert loaded.embedding_coverage_ == clf.embedding_coverage_
    assert not loaded.module_.training


def test_estimator_save_and_load_methods(binary_model, tmp_path):
    binary_model.save(tmp_path / "model.dan")
    loaded = DANClassifier.load(tmp_path / "model.dan")
    np.testing.assert_array_equal(loaded.predict_proba(TEXTS), binary_model.predict_proba(TEXTS))


@pytest.mark.parametrize(
    "classes",
    [
        np.array(["ham", "spam"]),
        np.array(["ham", "spam"], dtype=object),
        np.array([0, 1]),
        np.array([-1, 7], dtype=np.int32),
        np.array([False, True]),
        np.array([0.0, 1.0]),
    ],
    ids=repr,
)
def test_labels_come_back_with_their_type(binary_model, classes, tmp_path):
    clf = copy.copy(binary_model)
    clf.classes_ = classes
    loaded = DANClassifier.load(save_model(clf, tmp_path / "model.dan"))
    np.testing.assert_array_equal(loaded.classes_, classes)
    assert loaded.classes_.dtype == classes.dtype
    assert type(loaded.predict(TEXTS)[0]) is type(clf.predict(TEXTS)[0])


def test_does_not_overwrite_unless_asked(binary_model, saved):
    before = saved.read_bytes()
    with pytest.raises(FileExistsError, match="overwrite=True"):
        save_model(binary_model, saved)
    assert saved.read_bytes() == before
    save_model(binary_model, saved, overwrite=True)
    assert [p.name for p in saved.parent.iterdir()] == [saved.name]  # no temporary file left


def test_save_into_missing_folder_is_an_error(binary_model, tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        save_model(binary_model, tmp_path / "nowhere" / "model.dan")


def test_unfitted_model_cannot_be_saved(tmp_path):
    from sklearn.exceptions import NotFittedError

    with pytest.raises(NotFittedError):
        save_model(DANClassifier(), tmp_path / "model.dan")


def test_callable_loss_is_refused(binary_model, tmp_path):
    clf = copy.copy(binary_model).set_params(loss=torch.nn.functional.mse_loss)
    with pytest.raises(ValueError, match="cannot be saved without pickle"):
        save_model(clf, tmp_path / "model.dan")
    assert not (tmp_path / "model.dan").exists()


def test_random_state_generator_is_saved_as_none(binary_model, tmp_path):
    clf = copy.copy(binary_model).set_params(random_state=np.random.RandomState(0))
    assert DANClassifier.load(save_model(clf, tmp_path / "model.dan")).random_state is None


def test_pickle_still_works(binary_model):
    restored = pickle.loads(pickle.dumps(binary_model))
    np.testing.assert_array_equal(restored.predict_proba(TEXTS), binary_model.predict_proba(TEXTS))


def test_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="not found"):
        DANClassifier.load(tmp_path / "absent.dan")


@pytest.mark.parametrize("content", [b"", b"not a model at all", b"\x00" * 64])
def test_not_a_model_file(content, tmp_path):
    path = tmp_path / "junk.dan"
    path.write_bytes(content)
    with pytest.raises(ValueError, match="not a dan-dice model file"):
        DANClassifier.load(path)


def test_other_safetensors_file_is_refused(tmp_path):
    path = tmp_path / "other.safetensors"
    safetensors.torch.save_file({"w": torch.zeros(3)}, path, metadata={"format": "pt"})
    with pytest.raises(ValueError, match="not a dan-dice model file"):
        DANClassifier.load(path)


def test_truncated_file(saved):
    saved.write_bytes(saved.read_bytes()[:-100])
    with pytest.raises(ValueError, match="truncated"):
        DANClassifier.load(saved)


def test_corrupted_weights_fail_the_checksum(saved):
    data = bytearray(saved.read_bytes())
    data[-7] ^= 0xFF  # a byte of the last tensor
    saved.write_bytes(bytes(data))
    with pytest.raises(ValueError, match="checksum"):
        DANClassifier.load(saved)


def _rewrite(path: Path, *, resign: bool = True, **metadata: str) -> None:
    """Change metadata of a model file; ``resign`` writes its whole-file checksum again, as a
    deliberate edit could, so that the checks after the checksum are the ones tested."""
    with safe_open(path, framework="pt") as f:
        tensors = {name: f.get_tensor(name) for name in f.keys()}  # noqa: SIM118
        merged = {**f.metadata(), **metadata}
    if resign:
        merged.pop("sha256", None)
        path.write_bytes(_signed(tensors, merged))
    else:
        safetensors.torch.save_file(tensors, path, metadata=merged)


def test_unsupported_format_version(saved):
    _rewrite(saved, format_version="99")
    with pytest.raises(ValueError, match="format version 99"):
        DANClassifier.load(saved)


def test_corrupted_configuration(saved):
    _rewrite(saved, config='{"params": ')
    with pytest.raises(ValueError, match="corrupted"):
        DANClassifier.load(saved)


def test_configuration_not_matching_the_weights(saved):
    with safe_open(saved, framework="pt") as f:
        config = json.loads(f.metadata()["config"])
    params = {**config["params"], "hidden_sizes": [5]}
    _rewrite(saved, config=json.dumps({**config, "params": params}))
    with pytest.raises(ValueError, match="not a valid dan-dice model file"):
        DANClassifier.load(saved)


class _Payload:
    """Unpickling this creates the file ``marker``: proof that the pickle was executed."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return Path.touch, (self.marker,)


def test_pickle_payload_is_never_executed(tmp_path):
    marker = tmp_path / "executed"
    pickled = tmp_path / "evil.dan"
    pickled.write_bytes(pickle.dumps(_Payload(marker)))
    torch_saved = tmp_path / "evil.pt"
    torch.save({"payload": _Payload(marker)}, torch_saved)
    for path in (pickled, torch_saved):
        with pytest.raises(ValueError, match="not a dan-dice model file"):
            DANClassifier.load(path)
    assert not marker.exists()


def _load_in_subprocess_without_cuda(path: Path, out: Path) -> np.ndarray:
    code = (
        "import sys, numpy as np; from dan_dice import DANClassifier; "
        f"np.save(sys.argv[2], DANClassifier.load(sys.argv[1]).predict_proba({TEXTS!r}))"
    )
    env = {**os.environ, "CUDA_VISIBLE_DEVICES": "", "PYTHONPATH": str(Path.cwd())}
    subprocess.run([sys.executable, "-c", code, str(path), str(out)], check=True, env=env)
    return np.load(out)


def test_loads_on_a_machine_without_cuda(binary_model, saved, tmp_path):
    proba = _load_in_subprocess_without_cuda(saved, tmp_path / "proba.npy")
    np.testing.assert_array_equal(proba, binary_model.predict_proba(TEXTS))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU to train on")
def test_gpu_trained_model_loads_without_cuda(toy_texts, tiny_vectors_file, tmp_path):
    X, y = toy_texts
    clf = DANClassifier(embeddings=tiny_vectors_file, max_epochs=2, device="cuda", random_state=0)
    path = save_model(clf.fit(X, y), tmp_path / "model.dan")
    proba = _load_in_subprocess_without_cuda(path, tmp_path / "proba.npy")
    np.testing.assert_allclose(proba, clf.predict_proba(TEXTS), atol=1e-6)


# Integrity: a checksum over the whole file, then every value validated


def test_estimator_save_overwrite_true_replaces_the_file(binary_model, multiclass_model, tmp_path):
    path = binary_model.save(tmp_path / "model.dan")
    assert multiclass_model.save(path, overwrite=True) == path
    assert DANClassifier.load(path).classes_.tolist() == multiclass_model.classes_.tolist()
    assert [p.name for p in tmp_path.iterdir()] == ["model.dan"]


@pytest.mark.parametrize(
    ("old", "new"),
    [
        (b'\\"spam\\"', b'\\"spaM\\"'),  # a label
        (b'\\"free\\"', b'\\"frey\\"'),  # a vocabulary entry
        (b'\\"num_threads\\": 1', b'\\"num_threads\\": 0'),
        (b'\\"threshold\\": 0.', b'\\"threshold\\": 1.'),
    ],
    ids=["label", "token", "num_threads", "threshold"],
)
def test_any_edited_byte_fails_the_checksum(saved, old, new):
    data = saved.read_bytes()
    assert data.count(old) >= 1, old
    saved.write_bytes(data.replace(old, new, 1))
    with pytest.raises(ValueError, match=rf"{saved.name} is corrupted.*checksum"):
        DANClassifier.load(saved)


def test_the_same_content_in_other_bytes_fails_the_checksum(saved):
    """One more space in the JSON header (and its length one more): the same tensors and
    metadata to a parser, but not the bytes that were saved."""
    data = saved.read_bytes()
    size = int.from_bytes(data[:8], "little")
    header = data[8 : 8 + size].replace(b'{"__metadata__":', b'{ "__metadata__":', 1)
    saved.write_bytes((size + 1).to_bytes(8, "little") + header + data[8 + size :])
    with pytest.raises(ValueError, match=r"corrupted.*checksum"):
        DANClassifier.load(saved)


def test_a_damaged_checksum_is_refused(saved):
    data = saved.read_bytes()
    with safe_open(saved, framework="pt") as f:
        digest = f.metadata()["sha256"].encode()
    saved.write_bytes(data.replace(digest, digest[:-1] + b"g"))
    with pytest.raises(ValueError, match="checksum is missing or damaged"):
        DANClassifier.load(saved)


@pytest.mark.parametrize("keep", [0, 8, 100, 0.5, -1])
def test_every_truncation_is_a_value_error(saved, keep):
    data = saved.read_bytes()
    saved.write_bytes(data[: int(len(data) * keep) if isinstance(keep, float) else keep])
    with pytest.raises(ValueError, match=r"not a dan-dice model file|truncated"):
        DANClassifier.load(saved)


def _config(path: Path) -> dict:
    with safe_open(path, framework="pt") as f:
        return json.loads(f.metadata()["config"])


def _edit(path: Path, **changes) -> None:
    """Change values of the configuration and checksum the file again: a deliberate edit."""
    config = _config(path)
    params = {**config["params"], **changes.pop("params", {})}
    _rewrite(path, config=json.dumps({**config, **changes, "params": params}))


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"params": {"num_threads": 0}}, "num_threads must be a positive integer"),
        ({"params": {"verbose": "yes"}}, "verbose must be an integer >= 0"),
        ({"params": {"threshold": 1.5}}, r"threshold must be in \(0, 1\)"),
        ({"params": {"loss": "nope"}}, "loss must be one of"),
        ({"params": {"device": "gpu"}}, "device must be one of"),
        ({"params": {"random_state": "0"}}, "random_state must be an integer"),
        ({"params": {"embeddings": 5}}, "embeddings must be a str"),
        (
            {"params": {"class_weight": {"ham": -1}}},
            "class_weight must be None, 'balanced' or a dict of finite numbers >= 0",
        ),
        ({"params": {"surprise": 1}}, "unexpected keyword argument 'surprise'"),
        ({"threshold": 1.5}, r"threshold must be a number in \(0, 1\), got 1.5"),
        ({"threshold": 0}, r"threshold must be a number in \(0, 1\), got 0"),
        ({"threshold": "0.5"}, r"threshold must be a number in \(0, 1\)"),
        ({"threshold": True}, r"threshold must be a number in \(0, 1\)"),
        ({"classes": ["ham", "ham"]}, "distinct and sorted"),
        ({"classes": ["spam", "ham"]}, "distinct and sorted"),
        ({"classes": ["ham", "spam", "eggs"]}, "3 classes for 1 network outputs"),
        ({"classes": "hamspam"}, "classes must be a list"),
        ({"classes_dtype": "<U1"}, "do not keep their values as <U1"),
        ({"classes_dtype": "<M8[s]"}, "is not a type of labels"),
        ({"classes_dtype": "no such dtype"}, "data type 'no such dtype' not understood"),
        ({"n_outputs": 2}, "2 classes for 2 network outputs"),
        ({"n_outputs": "1"}, "n_outputs must be an integer"),
        ({"vocabulary": ["<unk>", "free", "free"]}, "distinct tokens"),
        ({"vocabulary": ["free", "<unk>"]}, "starting with '<unk>'"),
        ({"vocabulary": ["<unk>", 3]}, "list of strings"),
        ({"vocabulary": ["<unk>", "free"]}, "a vocabulary of 2 tokens for an embedding table"),
        ({"best_epoch": 0}, "best_epoch 0 is not one of the"),
        ({"best_epoch": 1.5}, "best_epoch must be an integer"),
        ({"history": []}, "history must be a non-empty list"),
        ({"embedding_coverage": 2}, r"embedding_coverage must be in \[0, 1\]"),
        ({"best_validation_score": None}, "best_validation_score must be a number"),
        ({"collapsed": "no"}, "collapsed must be true or false"),
        ({"params": {"hidden_sizes": "16"}}, "hidden_sizes must be a list"),
    ],
    ids=lambda v: json.dumps(v)[:40] if isinstance(v, dict) else None,
)
def test_edited_values_are_validated(saved, changes, message):
    _edit(saved, **changes)
    with pytest.raises(ValueError, match=rf"{saved.name} is not a valid dan-dice model file") as e:
        DANClassifier.load(saved)
    assert re.search(message, str(e.value)), str(e.value)


def test_edited_config_that_is_not_an_object(saved):
    _rewrite(saved, config="[1, 2]")
    with pytest.raises(ValueError, match="configuration is not a JSON object"):
        DANClassifier.load(saved)


def test_non_finite_weights_are_refused(binary_model, tmp_path):
    clf = copy.deepcopy(binary_model)
    with torch.no_grad():
        clf.module_.mlp[-1].bias.fill_(float("nan"))
    path = save_model(clf, tmp_path / "model.dan")
    with pytest.raises(ValueError, match=r"weight 'mlp\.\d+\.bias' is not finite"):
        DANClassifier.load(path)


def _as_version_1(path: Path) -> None:
    """Rewrite a model file as dan_dice wrote format version 1: the weights' checksum inside
    the configuration, no whole-file checksum."""
    from dan_dice.persistence import _digest

    with safe_open(path, framework="pt") as f:
        tensors = {name: f.get_tensor(name) for name in f.keys()}  # noqa: SIM118
        metadata = f.metadata()
    config = json.loads(metadata["config"])
    config["weights_sha256"] = _digest({k: v.numpy() for k, v in tensors.items()})
    old = {"format": metadata["format"], "format_version": "1", "config": json.dumps(config)}
    safetensors.torch.save_file(tensors, path, metadata=old)


def test_version_1_files_load_with_a_warning(binary_model, saved):
    _as_version_1(saved)
    with pytest.warns(UserWarning, match="format version 1, whose checksum covers the weights"):
        loaded = DANClassifier.load(saved)
    np.testing.assert_array_equal(loaded.predict_proba(TEXTS), binary_model.predict_proba(TEXTS))
    loaded.save(saved, overwrite=True)  # saving it again gives it the whole-file checksum
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        DANClassifier.load(saved)


def test_version_1_files_keep_the_weights_checksum(saved):
    _as_version_1(saved)
    data = bytearray(saved.read_bytes())
    data[-7] ^= 0xFF  # a byte of the last tensor
    saved.write_bytes(bytes(data))
    with pytest.warns(UserWarning), pytest.raises(ValueError, match="weights do not match"):
        DANClassifier.load(saved)


def test_version_1_files_have_every_value_validated(saved):
    _edit(saved, threshold=1.5, params={"num_threads": 0})
    _as_version_1(saved)
    with pytest.warns(UserWarning), pytest.raises(ValueError, match="not a valid dan-dice model"):
        DANClassifier.load(saved)


def test_a_version_2_file_is_never_read_as_version_1(saved):
    """Editing the version to 1 leaves the whole-file checksum, which is checked and fails."""
    _rewrite(saved, resign=False, format_version="1")
    with pytest.raises(ValueError, match="is corrupted"):
        DANClassifier.load(saved)


@pytest.mark.filterwarnings("ignore::dan_dice.training.CollapseWarning")
def test_lone_surrogates_survive_save_and_load(tiny_vectors_file, tmp_path):
    """Texts decoded with surrogateescape hold lone surrogates; their tokens are stored as JSON
    escapes and come back unchanged, so the loaded model encodes texts as the fitted one."""
    X = ["free prize \udce9 now", "hello \ud800 mom", "win cash \udce9", "lunch \ud800 home"] * 6
    clf = DANClassifier(embeddings=tiny_vectors_file, **TINY_MODEL).fit(X, ["a\udc80", "b"] * 12)
    assert "\udce9" in clf.vocabulary_.tokens and "\ud800" in clf.vocabulary_.tokens
    loaded = DANClassifier.load(clf.save(tmp_path / "model.dan"))
    assert loaded.vocabulary_.tokens == clf.vocabulary_.tokens
    assert loaded.classes_.tolist() == ["a\udc80", "b"]
    np.testing.assert_array_equal(loaded.predict_proba(X), clf.predict_proba(X))


def test_a_surrogate_pair_in_a_label_is_a_clear_error(binary_model, tmp_path):
    clf = copy.copy(binary_model)
    clf.classes_ = np.array(["\ud83d\ude00", "b"])  # two code points JSON reads back as one
    with pytest.raises(ValueError, match="high surrogate followed by a low one"):
        save_model(clf, tmp_path / "model.dan")
    assert not (tmp_path / "model.dan").exists()


# Multi-label models: y_type, one output and one threshold per label, format version 3


def test_multilabel_files_are_version_3_and_store_the_task(label_lists_model, saved, tmp_path):
    path = save_model(label_lists_model, tmp_path / "multi.dan")
    with safe_open(path, framework="pt") as f:
        assert f.metadata()["format_version"] == "3"
    config = _config(path)
    assert config["y_type"] == "multilabel-sequences" and config["n_outputs"] == 3
    assert config["classes"] == ["food", "sports", "tech"]
    assert config["threshold"] == label_lists_model.threshold_.tolist()
    assert len(set(config["threshold"])) == 1  # tune_global: one threshold shared by all
    with safe_open(saved, framework="pt") as f:  # single-label files stay version 2
        assert f.metadata()["format_version"] == "2"
    assert _config(saved)["y_type"] == "binary"


def test_indicator_columns_keep_their_order(indicator_model, tmp_path):
    """A DataFrame's columns are the labels of an indicator fit, in its order: not sorted."""
    clf = copy.copy(indicator_model)
    clf.classes_ = np.array(["tech", "food", 7], dtype=object)
    loaded = DANClassifier.load(save_model(clf, tmp_path / "model.dan"))
    assert loaded.classes_.tolist() == ["tech", "food", 7] and loaded.classes_.dtype == object


@pytest.mark.parametrize(
    ("name", "y_type"), [("binary_model", "binary"), ("multiclass_model", "multiclass")]
)
def test_files_without_y_type_load_as_single_label(name, y_type, request, tmp_path):
    clf = request.getfixturevalue(name)
    path = save_model(clf, tmp_path / "model.dan")
    config = _config(path)
    del config["y_type"]  # as written before multi-label
    _rewrite(path, config=json.dumps(config))
    loaded = DANClassifier.load(path)
    assert loaded.y_type_ == y_type
    np.testing.assert_array_equal(loaded.predict(TEXTS), clf.predict(TEXTS))


@pytest.fixture
def multi_saved(label_lists_model, tmp_path) -> Path:
    return save_model(label_lists_model, tmp_path / "multi.dan")


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"threshold": [0.5, 0.5]}, r"threshold must be a list of 3 numbers in \(0, 1\), one per"),
        ({"threshold": 0.5}, "threshold must be a list of 3 numbers"),
        ({"threshold": [0.5, 1.5, 0.5]}, r"threshold\[1\] must be a number in \(0, 1\), got 1.5"),
        ({"threshold": [0.5, True, 0.5]}, r"threshold\[1\] must be a number in \(0, 1\)"),
        ({"y_type": "multilabel"}, "y_type must be one of"),
        ({"y_type": None}, "y_type must be one of"),
        ({"y_type": "multiclass"}, "y_type 'multiclass' in a file of format version 3"),
        ({"classes": ["food", "food", "tech"]}, "distinct and sorted"),
        ({"classes": ["sports", "food", "tech"]}, "distinct and sorted"),
        ({"classes": ["food", "sports"]}, "2 labels for 3 network outputs"),
        ({"n_outputs": 1}, "3 labels for 1 network outputs"),
        ({"params": {"loss": "wbce"}}, "loss must be one of"),
        ({"params": {"class_weight": "balanced"}}, "class_weight must be null for a multi-label"),
        ({"params": {"threshold": "tune_all"}}, "threshold must be in"),
    ],
    ids=lambda v: json.dumps(v)[:40] if isinstance(v, dict) else None,
)
def test_edited_multilabel_values_are_validated(multi_saved, changes, message):
    _edit(multi_saved, **changes)
    with pytest.raises(ValueError, match=r"multi\.dan is not a valid dan-dice model file") as e:
        DANClassifier.load(multi_saved)
    assert re.search(message, str(e.value)), str(e.value)


def test_indicator_labels_must_be_distinct(indicator_model, tmp_path):
    path = save_model(indicator_model, tmp_path / "model.dan")
    _edit(path, classes=[0, 2, 2])
    with pytest.raises(ValueError, match="labels must be distinct"):
        DANClassifier.load(path)


@pytest.mark.parametrize(
    ("fixture", "version", "message"),
    [
        ("multi_saved", "2", "y_type 'multilabel-sequences' in a file of format version 2"),
        ("saved", "3", "y_type 'binary' in a file of format version 3"),
    ],
)
def test_the_version_must_match_the_task(fixture, version, message, request):
    """An older dan_dice refuses version 3 files: a multi-label model never passes as version 2
    (it would read its per-label outputs as exclusive classes), nor the other way round."""
    path = request.getfixturevalue(fixture)
    _rewrite(path, format_version=version)
    with pytest.raises(ValueError, match=message):
        DANClassifier.load(path)
