"""Saving and loading fitted models: exact round trips, no pickle, clear errors."""

from __future__ import annotations

import copy
import json
import os
import pickle
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import safetensors.torch
import torch
from safetensors import safe_open

from dan_dice import DANClassifier
from dan_dice.persistence import load_model, save_model

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


@pytest.fixture
def saved(binary_model, tmp_path) -> Path:
    return save_model(binary_model, tmp_path / "model.dan")


@pytest.mark.parametrize("name", ["binary_model", "multiclass_model"])
def test_round_trip_is_exact(name, request, tmp_path):
    clf = request.getfixturevalue(name)
    loaded = load_model(save_model(clf, tmp_path / "model.dan"))
    np.testing.assert_array_equal(loaded.predict_proba(TEXTS), clf.predict_proba(TEXTS))
    np.testing.assert_array_equal(loaded.predict(TEXTS), clf.predict(TEXTS))
    assert loaded.classes_.dtype == clf.classes_.dtype
    assert loaded.get_params() == {**clf.get_params(), "embeddings": str(clf.embeddings)}
    assert loaded.vocabulary_.tokens == clf.vocabulary_.tokens
    assert loaded.threshold_ == clf.threshold_
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
    loaded = load_model(save_model(clf, tmp_path / "model.dan"))
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
    assert load_model(save_model(clf, tmp_path / "model.dan")).random_state is None


def test_pickle_still_works(binary_model):
    restored = pickle.loads(pickle.dumps(binary_model))
    np.testing.assert_array_equal(restored.predict_proba(TEXTS), binary_model.predict_proba(TEXTS))


def test_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="not found"):
        load_model(tmp_path / "absent.dan")


@pytest.mark.parametrize("content", [b"", b"not a model at all", b"\x00" * 64])
def test_not_a_model_file(content, tmp_path):
    path = tmp_path / "junk.dan"
    path.write_bytes(content)
    with pytest.raises(ValueError, match="not a dan-dice model file"):
        load_model(path)


def test_other_safetensors_file_is_refused(tmp_path):
    path = tmp_path / "other.safetensors"
    safetensors.torch.save_file({"w": torch.zeros(3)}, path, metadata={"format": "pt"})
    with pytest.raises(ValueError, match="not a dan-dice model file"):
        load_model(path)


def test_truncated_file(saved):
    saved.write_bytes(saved.read_bytes()[:-100])
    with pytest.raises(ValueError, match="truncated"):
        load_model(saved)


def test_corrupted_weights_fail_the_checksum(saved):
    data = bytearray(saved.read_bytes())
    data[-7] ^= 0xFF  # a byte of the last tensor
    saved.write_bytes(bytes(data))
    with pytest.raises(ValueError, match="checksum"):
        load_model(saved)


def _rewrite(path: Path, **metadata: str) -> None:
    with safe_open(path, framework="pt") as f:
        tensors = {name: f.get_tensor(name) for name in f.keys()}  # noqa: SIM118
        merged = {**f.metadata(), **metadata}
    safetensors.torch.save_file(tensors, path, metadata=merged)


def test_unsupported_format_version(saved):
    _rewrite(saved, format_version="99")
    with pytest.raises(ValueError, match="format version 99"):
        load_model(saved)


def test_corrupted_configuration(saved):
    _rewrite(saved, config='{"params": ')
    with pytest.raises(ValueError, match="corrupted"):
        load_model(saved)


def test_configuration_not_matching_the_weights(saved):
    with safe_open(saved, framework="pt") as f:
        config = json.loads(f.metadata()["config"])
    _rewrite(saved, config=json.dumps({**config, "hidden_sizes": [5]}))
    with pytest.raises(ValueError, match="not a valid dan-dice model file"):
        load_model(saved)


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
            load_model(path)
    assert not marker.exists()


def _load_in_subprocess_without_cuda(path: Path, out: Path) -> np.ndarray:
    code = (
        "import sys, numpy as np; from dan_dice.persistence import load_model; "
        f"np.save(sys.argv[2], load_model(sys.argv[1]).predict_proba({TEXTS!r}))"
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
