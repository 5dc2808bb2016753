"""Fuzzing the readers of model files and edge artifacts with damaged bytes.

Random byte flips and truncations of a file must give a ``ValueError`` naming the file, never
another exception, a crash or a model that loads: both formats carry a checksum of their whole
content. Past the checksum (files damaged, then checksummed again, as a deliberate edit would
be), the readers must still answer with a model or a ``ValueError``, nothing else. Each test is
bounded (``max_examples``) so that the suite stays fast.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import TINY_MODEL
from hypothesis import given, settings
from hypothesis import strategies as st
from safetensors import safe_open

from dan_dice import DANClassifier
from dan_dice.edge import EdgeClassifier, seal
from dan_dice.export import export_model
from dan_dice.files import decode_text, read_lines
from dan_dice.persistence import _signed

FUZZ = settings(max_examples=50, deadline=None)


@pytest.fixture(scope="module")
def files(toy_texts, tiny_vectors_file, tmp_path_factory) -> dict[str, Path]:
    """A tiny model file and its artifact, fitted once; read them, do not change them."""
    X, y = toy_texts
    clf = DANClassifier(embeddings=tiny_vectors_file, **TINY_MODEL)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # two epochs may collapse: no matter here
        clf.fit(X, np.where(y == 1, "spam", "ham"))
    folder = tmp_path_factory.mktemp("fuzz")
    return {
        "model": clf.save(folder / "model.dandice"),
        "artifact": export_model(clf, folder / "model.dan", quantize="int8"),
    }


@st.composite
def damage(draw, size: int) -> tuple[list[tuple[int, int]], int]:
    """Up to four (offset, xor mask) flips and a length to cut the file to (``size``: none)."""
    flips = draw(st.lists(st.tuples(st.integers(0, size - 1), st.integers(1, 255)), max_size=4))
    cut = draw(st.one_of(st.just(size), st.integers(0, size - 1)))
    if not flips and cut == size:
        flips = [(draw(st.integers(0, size - 1)), draw(st.integers(1, 255)))]
    return flips, cut


def _damaged(data: bytes, flips: list[tuple[int, int]], cut: int) -> bytes:
    damaged = bytearray(data)
    for offset, mask in flips:
        damaged[offset] ^= mask
    return bytes(damaged[:cut])


def _load(kind: str, path: Path):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if kind == "model":
            return DANClassifier.load(path)
        return EdgeClassifier.load(path)


@pytest.mark.parametrize("kind", ["model", "artifact"])
def test_damaged_files_are_value_errors(files, kind, tmp_path_factory):
    data = files[kind].read_bytes()
    target = tmp_path_factory.mktemp("damaged") / files[kind].name

    @FUZZ
    @given(damage(len(data)))
    def check(change):
        damaged = _damaged(data, *change)
        if damaged == data:
            return  # the flips undid each other
        target.write_bytes(damaged)
        with pytest.raises(ValueError, match=target.name):
            _load(kind, target)

    check()


def _config(path: Path) -> tuple[dict, dict]:
    with safe_open(path, framework="pt") as f:
        tensors = {name: f.get_tensor(name) for name in f.keys()}  # noqa: SIM118
        return tensors, dict(f.metadata())


def test_edited_and_checksummed_model_files_load_or_are_value_errors(files, tmp_path_factory):
    """Characters of the JSON configuration replaced, and the file checksummed again: the
    values are validated, so any outcome but a model or a ValueError is a bug."""
    tensors, metadata = _config(files["model"])
    metadata.pop("sha256")
    document = metadata["config"]
    target = tmp_path_factory.mktemp("edited") / "model.dandice"
    texts = ["free prize", "", "hello mom"]

    @FUZZ
    @given(
        st.lists(
            st.tuples(st.integers(0, len(document) - 1), st.sampled_from('0123456789.-"[]{},:a ')),
            min_size=1,
            max_size=3,
        )
    )
    def check(edits):
        chars = list(document)
        for offset, char in edits:
            chars[offset] = char
        target.write_bytes(_signed(tensors, {**metadata, "config": "".join(chars)}))
        try:
            clf = _load("model", target)
        except ValueError as exc:
            assert target.name in str(exc)
            return
        proba = clf.predict_proba(texts)  # loaded: then it predicts
        assert proba.shape == (3, 2) and np.isfinite(proba).all()

    check()


def test_edited_and_sealed_artifacts_load_or_are_value_errors(files, tmp_path_factory):
    """Bytes of the archive flipped, and the archive sealed again: the zip, JSON and ONNX
    readers meet damaged bytes, and must still answer with an artifact or a ValueError."""
    data = files["artifact"].read_bytes()
    target = tmp_path_factory.mktemp("sealed") / "model.dan"
    body = len(data) - 80  # the seal itself is rewritten

    @FUZZ
    @given(
        st.lists(st.tuples(st.integers(0, body - 1), st.integers(1, 255)), min_size=1, max_size=3)
    )
    def check(flips):
        target.write_bytes(seal(_damaged(data, flips, len(data))))
        try:
            clf = _load("artifact", target)
        except ValueError as exc:
            assert target.name in str(exc)
            return
        proba = clf.predict_proba(["free prize", "", "hello mom"])
        assert proba.shape == (3, 2)

    check()


def test_fuzz_damage_covers_the_json_header(files):
    """Sanity check of the model file fuzz: its header (JSON) is a large share of the file,
    so random flips often land there, not only in the weights."""
    data = files["model"].read_bytes()
    header = int.from_bytes(data[:8], "little")
    assert json.loads(data[8 : 8 + header])["__metadata__"]["format"] == "dan-dice-model"
    assert header > len(data) // 10


LINE = st.text(st.characters(exclude_categories=["Cs"], exclude_characters="\n\r\x00"), max_size=20)


@FUZZ
@given(st.lists(LINE, min_size=2, max_size=6), st.data())
def test_a_stray_byte_changes_its_own_line_only(lines, data):
    """Not a checksum, but the text readers' promise: one byte that is not UTF-8 is read as its
    latin-1 character in its own line, and every other line decodes as it was written."""
    bad = data.draw(st.integers(0, len(lines) - 1))
    byte = data.draw(st.integers(0x80, 0xFF))
    raw = [line.encode() for line in lines]
    raw[bad] += bytes([byte])  # a lone byte >= 0x80 before a line end is never UTF-8
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        decoded = decode_text(b"\n".join(raw), "f").split("\n")
        streamed = list(read_lines(iter(line + b"\n" for line in raw), "f"))
    assert caught and all("is not valid UTF-8" in str(w.message) for w in caught)
    for texts in (decoded, streamed):
        assert len(texts) == len(lines) and texts[bad].endswith(chr(byte))
        assert [t for i, t in enumerate(texts) if i != bad] == lines[:bad] + lines[bad + 1 :]
    assert streamed[bad] == lines[bad] + chr(byte)  # a stream decodes each line on its own


TASKS = {
    "binary int": [0, 1, 1],
    "binary negative int": [-3, 5, 5],
    "binary str": ["ham", "spam", "spam"],
    "binary float": [1.0, 2.0, 2.0],
    "binary bool": [False, True, True],
    "multiclass str": ["a", "b", "c"],
    "multiclass int8": np.array([2, 0, 1], dtype=np.int8),
    "label lists": [["joy"], ["anger", "joy"], []],
    "label lists of int": [[7], [1, 7], [1]],
    "indicator": np.array([[1, 0], [0, 1], [1, 1]]),
    "indicator as nested lists": [[1, 0], [0, 1], [1, 1]],
    "DataFrame": pd.DataFrame([[1, 0], [0, 1], [1, 1]], columns=["food", "sports"]),
    "DataFrame of int columns": pd.DataFrame([[1, 0], [0, 1], [1, 1]], columns=[10, 2]),
}
"""Labels of three texts, repeated to make the data: every label type ``fit`` accepts."""
ROUND_TRIP_TEXTS = ["free prize cash", "hello mom lunch", "win bonus claim"] * 8


def _repeat(y, times: int = 8):
    if isinstance(y, pd.DataFrame):
        return pd.concat([y] * times, ignore_index=True)
    return np.concatenate([y] * times) if isinstance(y, np.ndarray) else list(y) * times


@st.composite
def estimators(draw) -> tuple[dict, object]:
    """Valid parameters for one of :data:`TASKS`, and that task's labels."""
    task = draw(st.sampled_from(sorted(TASKS)))
    y = _repeat(TASKS[task])
    if task.startswith(("label", "indicator", "DataFrame")):
        losses = ["bce", "focal", "class_balanced", "distribution_balanced", "dice", "ce"]
        thresholds = st.sampled_from(["tune", "tune_global"])
        class_weight = st.none()
    else:
        classes = np.unique(np.asarray(y)).tolist()
        losses = ["ce", "dice", "wbce", "bce", "focal"] if len(classes) == 2 else ["ce", "wce"]
        thresholds = st.just("tune")
        weights = st.dictionaries(st.sampled_from(classes), st.floats(0, 5), min_size=1)
        class_weight = st.one_of(st.none(), st.just("balanced"), weights)
    loss = draw(st.sampled_from(losses))
    loss_params = {  # a parameter of each kind: float, bool, a float or None
        "dice": st.fixed_dictionaries({"smooth": st.floats(0.01, 2)}),
        "focal": st.fixed_dictionaries({"gamma": st.floats(0, 3)}),
        "class_balanced": st.fixed_dictionaries({"focal": st.booleans()}),
    }.get(loss, st.none())
    params = {
        "loss": loss,
        "loss_params": draw(st.one_of(st.none(), loss_params)),
        "class_weight": draw(class_weight) if loss in ("ce", "bce") else None,
        "pooling": draw(st.sampled_from(["mean", "attention", "max", "mean+max", "attention+max"])),
        "hidden_sizes": draw(st.lists(st.integers(1, 8), min_size=1, max_size=2).map(tuple)),
        "dropout": draw(st.floats(0, 0.9)),
        "word_dropout": draw(st.floats(0, 0.5)),
        "freeze_embeddings": draw(st.booleans()),
        "min_count": draw(st.integers(1, 3)),
        "lr": draw(st.floats(1e-4, 0.1)),
        "batch_size": draw(st.integers(8, 64)),  # a few steps: the test stays fast
        "max_epochs": 1,
        "patience": draw(st.integers(1, 9)),
        "patience_steps": draw(st.integers(0, 9)),
        "weight_decay": draw(st.floats(0, 0.1)),
        "validation_fraction": draw(st.floats(0.1, 0.5)),
        "threshold": draw(st.one_of(thresholds, st.floats(0.01, 0.99))),
        "device": "cpu",
        "num_threads": draw(st.sampled_from([1, None])),
        "random_state": draw(st.one_of(st.none(), st.integers(0, 2**31 - 1))),
        "verbose": draw(st.sampled_from([0, False])),
    }
    return params, y


@settings(max_examples=25, deadline=None)
@given(estimators())
def test_models_come_back_from_save_exactly(tmp_path_factory, tiny_vectors_file, case):
    """save -> load gives back every parameter (value and type), the labels and the
    predictions, and the loaded model refits on the same data."""
    params, y = case
    X = ROUND_TRIP_TEXTS
    clf = DANClassifier(embeddings=str(tiny_vectors_file), **params)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # one epoch may collapse: no matter here
        clf.fit(X, y, validation_data=(X, y))
        loaded = DANClassifier.load(clf.save(tmp_path_factory.mktemp("trip") / "m"))
        assert loaded.get_params() == clf.get_params()
        for name, value in clf.get_params().items():
            assert type(loaded.get_params()[name]) is type(value), name
        if isinstance(params["class_weight"], dict):
            assert list(map(type, loaded.class_weight)) == list(map(type, clf.class_weight))
        assert loaded.classes_.dtype == clf.classes_.dtype
        assert loaded.classes_.tolist() == clf.classes_.tolist()
        np.testing.assert_allclose(loaded.predict_proba(X), clf.predict_proba(X), atol=1e-6)
        loaded.fit(X, y, validation_data=(X, y))
