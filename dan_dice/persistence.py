"""Save and load fitted :class:`~dan_dice.estimator.DANClassifier` models without pickle.

A model file is one `safetensors <https://huggingface.co/docs/safetensors>`_ file: the
network's weights as tensors, and in its metadata a JSON document with everything else (the
constructor parameters, labels, vocabulary, decision threshold, training history) plus a
SHA-256 checksum of the weights. Loading parses JSON and raw tensors only, so a model file from
an untrusted source cannot run code, and it needs neither the word vectors nor a GPU.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from . import __version__
from .files import write_atomic

if TYPE_CHECKING:
    from .estimator import DANClassifier

FORMAT = "dan-dice-model"
FORMAT_VERSION = 1


def save_model(clf: DANClassifier, path: str | os.PathLike, *, overwrite: bool = False) -> Path:
    """Write the fitted ``clf`` to ``path`` atomically; refuse to replace a file by default."""
    import safetensors.torch
    from sklearn.utils.validation import check_is_fitted

    check_is_fitted(clf)
    params = clf.get_params()
    if callable(params["loss"]):
        raise ValueError(
            f"loss={params['loss']!r} is a callable, which cannot be saved without pickle; "
            "use a named loss, or pickle the estimator"
        )
    if isinstance(params["random_state"], np.random.RandomState):
        params["random_state"] = None  # a generator's state is no parameter of the fitted model
    if isinstance(params["embeddings"], os.PathLike):
        params["embeddings"] = os.fspath(params["embeddings"])
    weights = {k: v.detach().cpu().contiguous() for k, v in clf.module_.state_dict().items()}
    config = {
        "dan_dice_version": __version__,
        "params": params,
        "classes": clf.classes_.tolist(),
        "classes_dtype": clf.classes_.dtype.str,
        "vocabulary": clf.vocabulary_.tokens,
        "threshold": clf.threshold_,
        "best_epoch": clf.best_epoch_,
        "best_validation_score": clf.best_validation_score_,
        "history": clf.history_,
        "embedding_coverage": clf.embedding_coverage_,
        "hidden_sizes": list(clf.hidden_sizes),
        "n_outputs": clf.module_.mlp[-1].out_features,
        "weights_sha256": _digest({k: v.numpy() for k, v in weights.items()}),
    }
    try:
        document = json.dumps(config, default=_to_json, ensure_ascii=False)
    except TypeError as exc:
        raise ValueError(f"cannot save the model as JSON: {exc}") from exc
    metadata = {"format": FORMAT, "format_version": str(FORMAT_VERSION), "config": document}
    return write_atomic(path, safetensors.torch.save(weights, metadata), overwrite=overwrite)


def load_model(path: str | os.PathLike) -> DANClassifier:
    """Read a model written by :func:`save_model`, on the CPU, without unpickling anything."""
    from safetensors import SafetensorError, safe_open

    from .estimator import DANClassifier
    from .model import DAN
    from .text import Vocabulary

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"model file not found: {path}")
    try:
        with safe_open(path, framework="pt", device="cpu") as f:
            config = _read_config(path, f.metadata() or {})
            weights = {name: f.get_tensor(name) for name in f.keys()}  # noqa: SIM118 (no __iter__)
    except SafetensorError as exc:
        raise ValueError(f"{path} is not a dan-dice model file, or is truncated ({exc})") from exc
    if config.get("weights_sha256") != _digest({k: v.numpy() for k, v in weights.items()}):
        raise ValueError(f"{path} is corrupted: its weights do not match their checksum")
    try:
        params = config["params"]
        params["hidden_sizes"] = tuple(params["hidden_sizes"])  # JSON has no tuples
        clf = DANClassifier(**params)
        module = DAN(
            weights["embedding.weight"].numpy(),
            hidden_sizes=config["hidden_sizes"],
            n_outputs=config["n_outputs"],
            dropout=clf.dropout,
            word_dropout=clf.word_dropout,
            freeze_embeddings=clf.freeze_embeddings,
        )
        module.load_state_dict(weights)
        clf.classes_ = np.array(config["classes"], dtype=np.dtype(config["classes_dtype"]))
        clf.vocabulary_ = Vocabulary(config["vocabulary"])
        clf.threshold_ = config["threshold"]
        clf.best_epoch_ = config["best_epoch"]
        clf.best_validation_score_ = config["best_validation_score"]
        clf.history_ = config["history"]
        clf.embedding_coverage_ = config["embedding_coverage"]
    except (KeyError, TypeError, ValueError, RuntimeError) as exc:
        raise ValueError(f"{path} is not a valid dan-dice model file ({exc!r})") from exc
    clf.module_ = module.eval()
    return clf


def _read_config(path: Path, metadata: dict[str, str]) -> dict[str, Any]:
    if metadata.get("format") != FORMAT:
        raise ValueError(f"{path} is not a dan-dice model file (no {FORMAT!r} metadata)")
    version = metadata.get("format_version")
    if version != str(FORMAT_VERSION):
        raise ValueError(
            f"{path} has model format version {version}, but this dan_dice ({__version__}) "
            f"reads version {FORMAT_VERSION} only; load it with a matching dan_dice"
        )
    try:
        return json.loads(metadata["config"])
    except (KeyError, ValueError) as exc:
        raise ValueError(f"{path} is corrupted: unreadable model configuration ({exc})") from exc


def _digest(arrays: dict[str, np.ndarray]) -> str:
    """SHA-256 of named arrays: names, dtypes, shapes and bytes, in name order."""
    digest = hashlib.sha256()
    for name in sorted(arrays):
        array = np.ascontiguousarray(arrays[name])
        digest.update(f"{name}|{array.dtype.str}|{array.shape}|".encode())
        digest.update(array.tobytes())
    return digest.hexdigest()


def _to_json(value: Any) -> Any:
    """JSON form of the numpy values that parameters may hold."""
    if isinstance(value, np.generic | np.ndarray):
        return value.tolist()
    raise TypeError(f"{value!r} of type {type(value).__name__} is not JSON-serializable")
