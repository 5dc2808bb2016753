"""Torch-free runtime for the artifacts written by :func:`dan_dice.export.export_model`.

Needs only numpy, onnxruntime and :mod:`dan_dice.text` (the tokenizer used in training, so
texts are split exactly as they were then)::

    from dan_dice.edge import EdgeClassifier

    clf = EdgeClassifier.load("spam.dan")
    clf.predict(["WIN a FREE prize now!", "see you at lunch"])

Inference runs on one CPU thread by default, which gives the best throughput per core and
the most predictable latency next to other work; pass ``n_threads`` to use more.
"""

from __future__ import annotations

import hashlib
import json
import os
import zipfile
import zlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort

from .text import _TOKEN, UNK, Vocabulary, check_texts

FORMAT = "dan-dice-edge"
FORMAT_VERSION = 1
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
    """

    def __init__(self, session: ort.InferenceSession, meta: dict[str, Any]):
        self._session = session
        self._vocabulary = Vocabulary(meta["vocabulary"])
        self._pad_id = meta["pad_id"]
        self.classes_ = np.array(meta["classes"], dtype=np.dtype(meta["classes_dtype"]))
        self.threshold_ = float(meta["threshold"])
        self.quantization = meta["quantization"]

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
            raise ValueError(f"{path} holds an invalid ONNX model ({exc})") from exc
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


def _read_artifact(path: Path) -> tuple[dict[str, Any], bytes]:
    """The metadata and ONNX bytes of an artifact, after checking its format."""
    if not path.is_file():
        raise FileNotFoundError(f"edge artifact not found: {path}")
    try:
        with zipfile.ZipFile(path) as archive:
            meta = json.loads(archive.read("meta.json"))
            _check_meta(path, meta)
            model = archive.read("model.onnx")
    except (zipfile.BadZipFile, zlib.error, KeyError, EOFError, json.JSONDecodeError) as exc:
        raise ValueError(
            f"{path} is not a dan-dice edge artifact, or it is corrupted ({exc})"
        ) from exc
    return meta, model


def _check_meta(path: Path, meta: Any) -> None:
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise ValueError(f"{path} is not a dan-dice edge artifact (no {FORMAT!r} metadata)")
    if meta.get("format_version") != FORMAT_VERSION:
        raise ValueError(
            f"{path} has edge format version {meta.get('format_version')}, but this runtime "
            f"reads version {FORMAT_VERSION} only; export the model again with this dan_dice"
        )
    if meta.get("tokenizer") != tokenizer_fingerprint():
        raise ValueError(
            f"{path} was exported with a different tokenizer (dan_dice "
            f"{meta.get('dan_dice_version')}); export the model again with this dan_dice"
        )
