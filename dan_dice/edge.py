"""Torch-free runtime for the artifacts written by :func:`dan_dice.export.export_model`.

Needs only numpy and :mod:`dan_dice.text` (the tokenizer used in training, so texts are split
exactly as they were then); onnxruntime only where it computes the graph (see
:mod:`dan_dice.executors`)::

    from dan_dice.edge import EdgeClassifier

    clf = EdgeClassifier.load("spam.dan")
    clf.predict(["WIN a FREE prize now!", "see you at lunch"])

Inference runs on one CPU thread by default, which gives the best throughput per core and
the most predictable latency next to other work; pass ``n_threads`` to run onnxruntime on more.

Integrity (edge format version 2): an artifact ends with its zip comment, ``dan-dice-sha256:``
and the SHA-256 (64 hex digits) of every byte before those digits, so a change to any byte of
it (the graph, the metadata, the zip's own structure) or a truncation fails the check, before
anything is parsed. Then every value of ``meta.json`` is validated (format, tokenizer, labels
and their number against the graph's output, vocabulary, ``pad_id``, threshold, quantization,
pooling, task), since a file may also have been edited and sealed again. Anything wrong is a
``ValueError`` naming the file (exit status 2 in ``dan-dice predict``).

Multi-label artifacts (``"task": "multilabel"``: one sigmoid probability per label, a threshold
per label) are written as format version 3, the rest still as version 2: a runtime from before
multi-label refuses them by their version instead of reading their per-label probabilities as
the probabilities of exclusive classes. Version 3 is sealed as version 2 is.

Artifacts of version 1 (written before) have no such checksum, only the zip's CRCs of each
member. They are still read, with the same validation of every value and a warning, rather
than refused, so that a runtime upgrade does not break a device's deployed artifacts; export
the model again to seal them. A version 2 artifact whose checksum is missing or damaged is
refused, never read as version 1.
"""

from __future__ import annotations

import hashlib
import importlib.util
import io
import json
import os
import warnings
import zipfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .executors import NumpyExecutor, OnnxExecutor, read_initializers
from .files import one_line
from .pooling import POOLINGS
from .text import TOKENIZER_SPEC, Vocabulary, check_texts

FORMAT = "dan-dice-edge"
FORMAT_VERSION = 2
"""2: sealed by a SHA-256 of the whole file; 1 (still read, with a warning): not sealed."""
MULTILABEL_FORMAT_VERSION = 3
"""The version of multi-label artifacts: version 2 with the task ``"multilabel"``."""
TASKS = ("binary", "multiclass", "multilabel")
"""What an artifact predicts (``meta.json``'s ``"task"``; without one, read from the labels)."""
SEAL = b"dan-dice-sha256:"
"""The zip comment of a version 2 artifact: this, then the SHA-256 of every byte before the
digest's 64 hex digits (the comment's prefix included)."""
QUANTIZATIONS = (None, "int8", "fp16")
EXECUTORS = ("auto", "numpy", "onnxruntime")
"""What computes an artifact's graph (:meth:`EdgeClassifier.load`)."""
MAX_MEMBER = 1 << 31
"""Most bytes a member may claim once decompressed (ONNX itself stops at 2 GB)."""


def tokenizer_fingerprint() -> str:
    """Digest of the tokenizer's rules, stored in artifacts: a runtime whose tokenizer differs
    would split texts differently and silently lose accuracy, so it refuses the artifact.

    It digests :data:`dan_dice.text.TOKENIZER_SPEC`, committed text (the steps and the
    pattern, whose character classes are fixed Unicode 14.0 ranges), so it is the same under
    every Python: none of its Unicode tables enters it.
    """
    return hashlib.sha256(TOKENIZER_SPEC.encode()).hexdigest()[:16]


class EdgeClassifier:
    """Predict with an exported DAN: raw texts in, probabilities or labels out.

    Attributes
    ----------
    classes_ : ndarray
        The labels, as in the trained estimator; for two classes ``classes_[1]`` is positive.
    task : {"binary", "multiclass", "multilabel"}
        What the model predicts: one of two or more exclusive classes, or any set of labels.
    threshold_ : float or ndarray
        Decision threshold on P(positive) used by :meth:`predict` (two classes only), or for
        multi-label artifacts one threshold per label, in the order of ``classes_``.
    quantization : {None, "int8", "fp16"}
        How the artifact stores its weights.
    pooling : str
        How the graph pools a text's word vectors, one of :data:`POOLINGS` (for information:
        the graph applies it).
    executor : {"numpy", "onnxruntime"}
        What computes the graph (see :mod:`dan_dice.executors`).
    """

    def __init__(self, executor: NumpyExecutor | OnnxExecutor, meta: dict[str, Any]):
        self._executor = executor
        self.vocabulary = Vocabulary(meta["vocabulary"])
        self.pad_id = int(meta["pad_id"])  # the id that pads a batch of texts to one length
        self.classes_ = np.array(meta["classes"], dtype=np.dtype(meta["classes_dtype"]))
        self.task = meta.get("task") or single_label_task(len(self.classes_))
        if self.task == "multilabel":
            self.threshold_ = np.array(meta["threshold"], dtype=np.float64)
        else:
            self.threshold_ = float(meta["threshold"])
        self.quantization = meta["quantization"]
        self.pooling = meta.get("pooling", "mean")
        self.executor = "numpy" if isinstance(executor, NumpyExecutor) else "onnxruntime"

    @classmethod
    def load(
        cls, path: str | os.PathLike, *, n_threads: int = 1, executor: str = "auto"
    ) -> EdgeClassifier:
        """Open an artifact.

        ``executor`` computes the graph (:mod:`dan_dice.executors`): ``"onnxruntime"`` (with
        ``n_threads`` intra-op threads), ``"numpy"`` (one thread, onnxruntime not imported, so
        the process needs tens of MB less memory; ``reports/edge.md`` measures both) or
        ``"auto"``: numpy on one thread, which keeps a process that loads and predicts within
        issue 22's 64 MB; onnxruntime for more threads, or for an artifact whose graph the
        numpy executor does not know (dan_dice 0.1's int8).
        """
        if not isinstance(n_threads, int) or isinstance(n_threads, bool) or n_threads < 1:
            raise ValueError(f"n_threads must be a positive integer, got {n_threads!r}")
        if executor not in EXECUTORS:
            raise ValueError(f"executor must be one of {EXECUTORS}, got {executor!r}")
        if executor == "numpy" and n_threads > 1:
            raise ValueError("the numpy executor runs on one thread: pass n_threads=1")
        meta, model = _read_artifact(Path(path))
        try:
            runner = _executor(meta, model, n_threads, executor)
        except ValueError as exc:
            raise ValueError(f"{path} {exc}") from exc
        try:
            return cls(runner, meta)
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"{path} has invalid metadata ({exc!r})") from exc

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        """Class probabilities, shape ``(n_texts, n_classes)``, columns ordered as ``classes_``;
        for multi-label artifacts each label's own probability (rows need not sum to 1)."""
        texts = check_texts(texts, name="texts", allow_empty=True)
        if not texts:
            return np.empty((0, len(self.classes_)), dtype=np.float32)
        if len(texts) == 1:
            ids, offsets = self.vocabulary.encode_array(texts[0]), _FIRST
        else:
            ids, offsets = self.vocabulary.encode_batch(texts)
        return self._executor(ids, offsets)

    def predict(self, texts: Sequence[str]) -> np.ndarray | list[tuple]:
        """Predicted labels (for two classes: ``P(positive) >= threshold_``); for multi-label
        artifacts a list with each text's label set, a tuple of the labels whose probability
        reaches their threshold, in the order of ``classes_`` (as the estimator answers for
        label lists, and ``MultiLabelBinarizer.inverse_transform`` does)."""
        return self.labels_from_proba(self.predict_proba(texts))

    def labels_from_proba(self, proba: np.ndarray) -> np.ndarray | list[tuple]:
        """The labels :meth:`predict` gives for the probabilities ``proba`` (of
        :meth:`predict_proba`), without computing them again."""
        if self.task == "multilabel":
            chosen = proba >= self.threshold_
            return [tuple(self.classes_[np.flatnonzero(row)].tolist()) for row in chosen]
        if len(self.classes_) == 2:
            return self.classes_[(proba[:, 1] >= self.threshold_).astype(int)]
        return self.classes_[proba.argmax(1)]


_FIRST = np.zeros(1, dtype=np.int64)
"""The offsets of a single text."""


def _executor(
    meta: dict[str, Any], model: bytes, n_threads: int, executor: str
) -> NumpyExecutor | OnnxExecutor:
    """The executor of an artifact's graph, checked against its metadata. ``"auto"`` is numpy
    on one thread (onnxruntime never imported: tens of MB less memory) and onnxruntime on
    more, or for a graph the numpy executor does not know."""
    if executor == "onnxruntime" or (executor == "auto" and n_threads > 1):
        return _onnx_executor(meta, model, n_threads)
    try:
        arrays = read_initializers(model)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ValueError(f"holds an invalid ONNX model ({one_line(exc)})") from exc
    width = len(meta["classes"])
    pooling = meta.get("pooling", "mean")
    task = meta.get("task") or single_label_task(width)
    numpy = NumpyExecutor.from_initializers(arrays, task, pooling)
    if numpy is None:
        if executor == "auto" and importlib.util.find_spec("onnxruntime") is not None:
            return _onnx_executor(meta, model, n_threads)
        raise ValueError(
            "has a graph whose weights the numpy executor does not know (an artifact of "
            "dan_dice 0.1 before its row-wise int8 codes): install onnxruntime to run it, or "
            "export the model again with this dan_dice"
        )
    found = (numpy.n_outputs, len(numpy.table))
    if found != (meta["n_outputs"], meta["pad_id"] + 1):
        raise ValueError(
            "has a graph that does not match its metadata: (outputs, table rows) "
            f"{found} for {meta['n_outputs']} outputs and {meta['pad_id']} tokens plus padding"
        )
    return numpy


def _onnx_executor(meta: dict[str, Any], model: bytes, n_threads: int) -> OnnxExecutor:
    """An onnxruntime session of the graph, checked against the metadata's classes."""
    width = len(meta["classes"])
    session = OnnxExecutor(model, n_threads, meta["pad_id"])
    inputs, outputs = session.signature()
    if inputs != [("ids", "tensor(int64)")] or outputs != [("probabilities", width)]:
        raise ValueError(
            f"has a graph that does not match its metadata: inputs {inputs}, "
            f"outputs {outputs} (name, width) for {width} classes"
        )
    return session


def seal(data: bytes) -> bytes:
    """A zip archive's bytes whose comment is :data:`SEAL` and 64 placeholder bytes, with the
    placeholder replaced by the SHA-256 of everything before it (what the exporter writes)."""
    if data[-64 - len(SEAL) : -64] != SEAL:
        raise ValueError("the archive's comment is not the seal's placeholder")
    return data[:-64] + hashlib.sha256(data[:-64]).hexdigest().encode()


def _sealed(path: Path, data: bytes) -> bool:
    """Whether ``data`` ends with a seal (then checked: ``ValueError`` if it does not match)."""
    if len(data) < 64 + len(SEAL) or data[-64 - len(SEAL) : -64] != SEAL:
        return False
    if hashlib.sha256(data[:-64]).hexdigest().encode() != data[-64:]:
        raise ValueError(
            f"{path} is corrupted, or was changed after export: its bytes do not match their "
            "checksum (SHA-256); export the model again"
        )
    return True


def _read_artifact(path: Path) -> tuple[dict[str, Any], bytes]:
    """The metadata and ONNX bytes of an artifact, after checking its seal and every value."""
    if not path.is_file():
        raise FileNotFoundError(f"edge artifact not found: {path}")
    data = path.read_bytes()
    sealed = _sealed(path, data)
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            members = {}
            for name in ("meta.json", "model.onnx"):
                info = archive.getinfo(name)
                if info.file_size > MAX_MEMBER:
                    raise ValueError(f"{name} claims {info.file_size:,} bytes")
                members[name] = archive.read(info)
        meta = json.loads(members["meta.json"])
    except Exception as exc:  # zipfile alone raises a dozen types on odd bytes
        raise ValueError(
            f"{path} is not a dan-dice edge artifact, or it is corrupted ({one_line(exc)})"
        ) from exc
    _check_meta(path, meta, sealed)
    return meta, members["model.onnx"]


def _check_meta(path: Path, meta: Any, sealed: bool = True) -> None:
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise ValueError(f"{path} is not a dan-dice edge artifact (no {FORMAT!r} metadata)")
    version = meta.get("format_version")
    if type(version) is not int or not 1 <= version <= MULTILABEL_FORMAT_VERSION:
        raise ValueError(
            f"{path} has edge format version {version}, but this runtime reads versions 1 "
            f"to {MULTILABEL_FORMAT_VERSION} only; export the model again with this dan_dice"
        )
    if not sealed and version >= 2:
        raise ValueError(
            f"{path} is corrupted: its checksum (the zip comment of a version {version} "
            "artifact) is missing or damaged; export the model again"
        )
    if not sealed:
        warnings.warn(
            f"{path} is an edge artifact of format version 1, which has no checksum of its "
            "whole content (an edited label or vocabulary entry would go unnoticed): export "
            "the model again with this dan_dice",
            UserWarning,
            stacklevel=4,
        )
    pooling = meta.get("pooling", "mean")
    if not isinstance(pooling, str) or pooling not in POOLINGS:
        raise ValueError(
            f"{path} uses pooling {pooling!r}, which this runtime does not know (it knows "
            f"{', '.join(POOLINGS)}); update dan_dice or export the model with a known pooling"
        )
    if meta.get("tokenizer") != tokenizer_fingerprint():
        raise ValueError(
            f"{path} was exported with a different tokenizer (dan_dice "
            f"{meta.get('dan_dice_version')}); export the model again with this dan_dice"
        )
    try:
        vocabulary = check_vocabulary(meta["vocabulary"])
        pad_id = meta["pad_id"]
        if type(pad_id) is not int or pad_id != len(vocabulary):
            raise ValueError(
                f"pad_id must be {len(vocabulary)} (the vocabulary's size), got {pad_id!r}"
            )
        task = _check_task(meta, version)
        multilabel = task == "multilabel"
        classes = check_labels(  # a multi-label indicator's columns come in any order
            meta["classes"],
            meta["classes_dtype"],
            meta["n_outputs"],
            multilabel=multilabel,
            ordered=not multilabel,
        )
        if not multilabel and task != single_label_task(len(classes)):
            raise ValueError(f"task {task!r} with {len(classes)} classes")
        if multilabel:
            check_thresholds(meta["threshold"], len(classes))
        else:
            check_threshold(meta["threshold"])
        if meta["quantization"] not in QUANTIZATIONS:
            raise ValueError(
                f"quantization must be one of {QUANTIZATIONS}, got {meta['quantization']!r}"
            )
    except Exception as exc:  # a missing key, a value of the wrong type or range
        raise ValueError(f"{path} has invalid metadata: {one_line(exc)}") from exc


def _check_task(meta: dict[str, Any], version: int) -> str:
    """The artifact's task, which must agree with its format version (artifacts from before
    multi-label have no ``"task"``: single-label, read from their number of labels)."""
    task = meta.get("task")
    if version < MULTILABEL_FORMAT_VERSION and task is None:
        return single_label_task(len(meta["classes"]))
    if task not in TASKS:
        raise ValueError(f"task must be one of {TASKS}, got {task!r}")
    if (task == "multilabel") != (version == MULTILABEL_FORMAT_VERSION):
        raise ValueError(
            f"task {task!r} in an artifact of format version {version} (multi-label artifacts, "
            f"and only they, have version {MULTILABEL_FORMAT_VERSION})"
        )
    return task


def single_label_task(n_classes: int) -> str:
    """``"binary"`` for two classes, ``"multiclass"`` for more."""
    return "binary" if n_classes == 2 else "multiclass"


def check_vocabulary(tokens: Any) -> Vocabulary:
    """A stored vocabulary: a list of distinct strings starting with ``<unk>``."""
    if not isinstance(tokens, list) or not all(isinstance(token, str) for token in tokens):
        raise ValueError("the vocabulary must be a list of strings")
    return Vocabulary(tokens)


def check_labels(
    classes: Any, dtype: Any, n_outputs: Any, *, multilabel: bool = False, ordered: bool = True
) -> np.ndarray:
    """Stored labels as the estimator had them: ``classes`` (JSON values) as an array of the
    numpy ``dtype`` named, which must keep every value and type (``<U1`` would cut names short,
    ``bool`` turn 0 and 1 into False and True), distinct and sorted (``classes_`` is
    ``np.unique``'s), two or more, as many as the network's ``n_outputs`` say (one for two).

    ``multilabel``: one output per label, however many; ``ordered=False`` lets the labels come
    in any order (a multi-label indicator's columns, a DataFrame's among them)."""
    if not isinstance(classes, list) or not isinstance(dtype, str):
        raise ValueError("classes must be a list and classes_dtype a numpy dtype string")
    if type(n_outputs) is not int:
        raise ValueError(f"n_outputs must be an integer, got {n_outputs!r}")
    kind = np.dtype(dtype)
    if kind.kind not in "biufUO":
        raise ValueError(f"classes_dtype {dtype!r} is not a type of labels")
    labels = np.array(classes, dtype=kind)
    if labels.ndim != 1 or json.dumps(labels.tolist()) != json.dumps(classes):
        raise ValueError(f"classes {classes!r:.80} do not keep their values as {dtype}")
    outputs = len(labels) if multilabel or len(labels) != 2 else 1
    if len(labels) < 2 or n_outputs != outputs:
        kind = "labels" if multilabel else "classes"
        raise ValueError(f"{len(labels)} {kind} for {n_outputs!r} network outputs")
    if not ordered:
        try:
            distinct = len(set(labels.tolist())) == len(labels)
        except TypeError:  # an unhashable value: no label
            distinct = False
        if not distinct:
            raise ValueError(f"labels must be distinct, got {classes!r:.80}")
    elif not np.array_equal(np.unique(labels), labels):
        raise ValueError(f"classes must be distinct and sorted, got {classes!r:.80}")
    return labels


def check_threshold(value: Any) -> float:
    """A stored decision threshold: a number strictly between 0 and 1."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value < 1:
        raise ValueError(f"threshold must be a number in (0, 1), got {value!r}")
    return float(value)


def check_thresholds(values: Any, n_labels: int) -> np.ndarray:
    """Stored per-label thresholds: a list of ``n_labels`` numbers strictly between 0 and 1."""
    if not isinstance(values, list) or len(values) != n_labels:
        raise ValueError(
            f"threshold must be a list of {n_labels} numbers in (0, 1), one per label, "
            f"got {values!r:.80}"
        )
    for i, value in enumerate(values):
        if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value < 1:
            raise ValueError(f"threshold[{i}] must be a number in (0, 1), got {value!r}")
    return np.array(values, dtype=np.float64)
