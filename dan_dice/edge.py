"""Torch-free runtime for the artifacts written by :func:`dan_dice.export.export_model`.

Needs only numpy, onnxruntime and :mod:`dan_dice.text` (the tokenizer used in training, so
texts are split exactly as they were then)::

    from dan_dice.edge import EdgeClassifier

    clf = EdgeClassifier.load("spam.dan")
    clf.predict(["WIN a FREE prize now!", "see you at lunch"])

Inference runs on one CPU thread by default, which gives the best throughput per core and
the most predictable latency next to other work; pass ``n_threads`` to use more.

Integrity (edge format version 2): an artifact ends with its zip comment, ``dan-dice-sha256:``
and the SHA-256 (64 hex digits) of every byte before those digits, so a change to any byte of
it (the graph, the metadata, the zip's own structure) or a truncation fails the check, before
anything is parsed. Then every value of ``meta.json`` is validated (format, tokenizer, labels
and their number against the graph's output, vocabulary, ``pad_id``, threshold, quantization,
pooling), since a file may also have been edited and sealed again. Anything wrong is a
``ValueError`` naming the file (exit status 2 in ``dan-dice predict``).

Artifacts of version 1 (written before) have no such checksum, only the zip's CRCs of each
member. They are still read, with the same validation of every value and a warning, rather
than refused, so that a runtime upgrade does not break a device's deployed artifacts; export
the model again to seal them. A version 2 artifact whose checksum is missing or damaged is
refused, never read as version 1.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import warnings
import zipfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort

from .files import one_line
from .pooling import POOLINGS
from .text import _TOKEN, UNK, Vocabulary, check_texts

FORMAT = "dan-dice-edge"
FORMAT_VERSION = 2
"""2: sealed by a SHA-256 of the whole file; 1 (still read, with a warning): not sealed."""
SEAL = b"dan-dice-sha256:"
"""The zip comment of a version 2 artifact: this, then the SHA-256 of every byte before the
digest's 64 hex digits (the comment's prefix included)."""
QUANTIZATIONS = (None, "int8", "fp16")
MAX_MEMBER = 1 << 31
"""Most bytes a member may claim once decompressed (ONNX itself stops at 2 GB)."""
CHUNK = 64
"""Most texts per onnxruntime call; texts are sorted by length first, so little is padding."""
CELLS = 4096
"""Most padded token ids per call (unless one text is longer): bounds the working memory."""


def tokenizer_fingerprint() -> str:
    """Digest of the tokenizer's rules, stored in artifacts: a runtime whose tokenizer differs
    would split texts differently and silently lose accuracy, so it refuses the artifact."""
    return hashlib.sha256(f"lower|split|{_TOKEN.pattern}|{UNK}".encode()).hexdigest()[:16]


class EdgeClassifier:
    """Predict with an exported DAN: raw texts in, probabilities or labels out.

    Attributes
    ----------
    classes_ : ndarray
        The labels, as in the trained estimator; for two classes ``classes_[1]`` is positive.
    threshold_ : float
        Decision threshold on P(positive) used by :meth:`predict` (two classes only).
    quantization : {None, "int8", "fp16"}
        How the artifact stores its weights.
    pooling : str
        How the graph pools a text's word vectors, one of :data:`POOLINGS` (for information:
        the graph applies it).
    """

    def __init__(self, session: ort.InferenceSession, meta: dict[str, Any]):
        self._session = session
        self._vocabulary = Vocabulary(meta["vocabulary"])
        self._pad_id = meta["pad_id"]
        self.classes_ = np.array(meta["classes"], dtype=np.dtype(meta["classes_dtype"]))
        self.threshold_ = float(meta["threshold"])
        self.quantization = meta["quantization"]
        self.pooling = meta.get("pooling", "mean")

    @classmethod
    def load(cls, path: str | os.PathLike, *, n_threads: int = 1) -> EdgeClassifier:
        """Open an artifact; ``n_threads`` is onnxruntime's intra-op thread count."""
        if not isinstance(n_threads, int) or n_threads < 1:
            raise ValueError(f"n_threads must be a positive integer, got {n_threads!r}")
        meta, model = _read_artifact(Path(path))
        options = ort.SessionOptions()
        options.intra_op_num_threads = n_threads
        options.inter_op_num_threads = 1
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.log_severity_level = 3
        try:
            session = ort.InferenceSession(model, options, providers=["CPUExecutionProvider"])
        except Exception as exc:  # onnxruntime's exception types are not public
            raise ValueError(f"{path} holds an invalid ONNX model ({one_line(exc)})") from exc
        inputs = [(i.name, i.type) for i in session.get_inputs()]
        outputs = [(o.name, o.shape[-1] if o.shape else None) for o in session.get_outputs()]
        if inputs != [("ids", "tensor(int64)")] or outputs != [
            ("probabilities", len(meta["classes"]))
        ]:
            raise ValueError(
                f"{path} has a graph that does not match its metadata: inputs {inputs}, "
                f"outputs {outputs} (name, width) for {len(meta['classes'])} classes"
            )
        try:
            return cls(session, meta)
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"{path} has invalid metadata ({exc!r})") from exc

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        """Class probabilities, shape ``(n_texts, n_classes)``, columns ordered as ``classes_``."""
        texts = check_texts(texts, name="texts", allow_empty=True)
        if len(texts) == 1:  # a single message needs no padding nor reordering
            return self._run(np.array([self._vocabulary.encode(texts[0])]))
        ids, starts = self._vocabulary.encode_batch(texts)
        lengths = np.diff(starts, append=len(ids))
        order = np.argsort(lengths, kind="stable")
        proba = np.empty((len(texts), len(self.classes_)), dtype=np.float32)
        begin = 0
        while begin < len(texts):
            widest = lengths[order[min(begin + CHUNK, len(texts)) - 1]]
            chunk = order[begin : begin + max(1, min(CHUNK, CELLS // widest))]
            proba[chunk] = self._run(_pad(ids, starts[chunk], lengths[chunk], self._pad_id))
            begin += len(chunk)
        return proba

    def predict(self, texts: Sequence[str]) -> np.ndarray:
        """Predicted labels (for two classes: ``P(positive) >= threshold_``)."""
        return self._labels(self.predict_proba(texts))

    def _run(self, ids: np.ndarray) -> np.ndarray:
        return self._session.run(None, {"ids": ids})[0]

    def _labels(self, proba: np.ndarray) -> np.ndarray:
        if len(self.classes_) == 2:
            return self.classes_[(proba[:, 1] >= self.threshold_).astype(int)]
        return self.classes_[proba.argmax(1)]


def _pad(ids: np.ndarray, starts: np.ndarray, lengths: np.ndarray, pad_id: int) -> np.ndarray:
    """The ids of texts ``ids[start : start + length]`` as rows padded with ``pad_id``."""
    columns = np.arange(lengths.max())
    tokens = ids.take(starts[:, None] + columns, mode="clip")
    return np.where(columns < lengths[:, None], tokens, pad_id)


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
    if type(version) is not int or version not in (1, FORMAT_VERSION):
        raise ValueError(
            f"{path} has edge format version {version}, but this runtime reads versions 1 "
            f"and {FORMAT_VERSION} only; export the model again with this dan_dice"
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
        check_labels(meta["classes"], meta["classes_dtype"], meta["n_outputs"])
        check_threshold(meta["threshold"])
        if meta["quantization"] not in QUANTIZATIONS:
            raise ValueError(
                f"quantization must be one of {QUANTIZATIONS}, got {meta['quantization']!r}"
            )
    except Exception as exc:  # a missing key, a value of the wrong type or range
        raise ValueError(f"{path} has invalid metadata: {one_line(exc)}") from exc


def check_vocabulary(tokens: Any) -> Vocabulary:
    """A stored vocabulary: a list of distinct strings starting with ``<unk>``."""
    if not isinstance(tokens, list) or not all(isinstance(token, str) for token in tokens):
        raise ValueError("the vocabulary must be a list of strings")
    return Vocabulary(tokens)


def check_labels(classes: Any, dtype: Any, n_outputs: Any) -> np.ndarray:
    """Stored labels as the estimator had them: ``classes`` (JSON values) as an array of the
    numpy ``dtype`` named, which must keep every value and type (``<U1`` would cut names short,
    ``bool`` turn 0 and 1 into False and True), distinct and sorted (``classes_`` is
    ``np.unique``'s), two or more, as many as the network's ``n_outputs`` say (one for two)."""
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
    if len(labels) < 2 or n_outputs != (1 if len(labels) == 2 else len(labels)):
        raise ValueError(f"{len(labels)} classes for {n_outputs!r} network outputs")
    if not np.array_equal(np.unique(labels), labels):
        raise ValueError(f"classes must be distinct and sorted, got {classes!r:.80}")
    return labels


def check_threshold(value: Any) -> float:
    """A stored decision threshold: a number strictly between 0 and 1."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value < 1:
        raise ValueError(f"threshold must be a number in (0, 1), got {value!r}")
    return float(value)
