"""Save and load fitted :class:`~dan_dice.estimator.DANClassifier` models without pickle.

A model file is one `safetensors <https://huggingface.co/docs/safetensors>`_ file: the
network's weights as tensors, and in its metadata a JSON document with everything else (the
constructor parameters, the type of target (``y_type``), labels, vocabulary, decision
threshold (a list, one per label, for multi-label models), training history). Loading
parses JSON and raw tensors only, so a model file from an untrusted source cannot run code, and
it needs neither the word vectors nor a GPU.

Integrity (format version 2): the metadata key ``sha256`` holds the SHA-256 of the whole file
with that value written as 64 zeros, so a change to any byte (a weight, a label, a vocabulary
entry, the threshold, even the JSON's padding) fails it. Then every loaded value is validated
(types, ranges, labels distinct and sorted and as many as the network's outputs, a vocabulary
of distinct strings as long as the embedding table, finite weights, known parameters), since a
file may also have been edited and checksummed again. Anything wrong is a ``ValueError`` naming
the file (exit status 2 on the command line).

Multi-label models are written as format version 3: version 2 whose ``y_type`` is
``"multilabel-indicator"`` or ``"multilabel-sequences"``, with one output and one threshold per
label. Single-label models are still written as version 2, so that a dan_dice from before
multi-label reads them; it refuses version 3 by its number, where it would otherwise take the
per-label outputs for exclusive classes. Version 2 files written before ``y_type`` was stored
are read as single-label (``"binary"`` for two classes, ``"multiclass"`` for more).

Files of format version 1 (written before) have a checksum of the weights only. They are still
read, with that checksum, the same validation of every value and a warning, rather than
refused: a model file is the product of training, and an older dan_dice writes only that
format, so refusing them would strand trained models, while loading and saving one again
(``DANClassifier.load(p).save(p, overwrite=True)``) gives it the whole-file checksum. A version
2 file never passes as version 1 (a file that has a ``sha256`` key is always checked against
it, and version 1's weights checksum lives where version 2 has none).
"""

from __future__ import annotations

import hashlib
import json
import numbers
import os
import re
import secrets
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from sklearn.base import BaseEstimator

from .deprecation import moved
from .files import json_text, one_line, write_atomic
from .params import check_params
from .targets import MULTILABEL
from .version import __version__

FORMAT = "dan-dice-model"
FORMAT_VERSION = 2
"""2: a SHA-256 of the whole file; 1 (still read): a SHA-256 of the weights only."""
MULTILABEL_FORMAT_VERSION = 3
"""The version of multi-label model files: version 2 with a multi-label ``y_type``."""
Y_TYPES = ("binary", "multiclass", *MULTILABEL)
_ZEROS = b"0" * 64


@dataclass
class StoredModel:
    """What a model file holds, for :meth:`DANClassifier.load` to rebuild the estimator."""

    params: dict[str, Any]
    """The constructor parameters."""
    weights: dict[str, torch.Tensor]
    """The network's state dict."""
    n_outputs: int
    fitted: dict[str, Any]
    """The fitted attributes (``classes_``, ``vocabulary_``, ``threshold_``...) by name."""


def save_model(clf: BaseEstimator, path: str | os.PathLike, *, overwrite: bool = False) -> Path:
    """Write the fitted ``DANClassifier`` ``clf`` to ``path`` atomically; refuse to replace a
    file unless ``overwrite``. Texts with lone surrogates (in the vocabulary, the labels) are
    stored as JSON escapes and read back unchanged."""
    from sklearn.utils.validation import check_is_fitted

    check_is_fitted(clf)
    params = _saved_params(clf.get_params())
    if callable(params["loss"]):
        raise ValueError(
            f"loss={params['loss']!r} is a callable, which cannot be saved without pickle; "
            "use a named loss, or pickle the estimator"
        )
    weights = {k: v.detach().cpu().contiguous() for k, v in clf.module_.state_dict().items()}
    multilabel = clf.y_type_ in MULTILABEL
    threshold = np.asarray(clf.threshold_, dtype=np.float64)
    config = {
        "dan_dice_version": __version__,
        "params": params,
        "y_type": clf.y_type_,
        "classes": clf.classes_.tolist(),
        "classes_dtype": clf.classes_.dtype.str,
        "vocabulary": clf.vocabulary_.tokens,
        "threshold": threshold.tolist() if multilabel else float(threshold),
        "best_epoch": clf.best_epoch_,
        "best_validation_score": clf.best_validation_score_,
        "collapsed": clf.collapsed_,
        "history": clf.history_,
        "embedding_coverage": clf.embedding_coverage_,
        "n_outputs": clf.module_.mlp[-1].out_features,
    }
    try:
        document = json_text(config, default=_to_json)
    except TypeError as exc:
        raise ValueError(f"cannot save the model as JSON: {exc}") from exc
    version = MULTILABEL_FORMAT_VERSION if multilabel else FORMAT_VERSION
    metadata = {"format": FORMAT, "format_version": str(version), "config": document}
    return write_atomic(path, _signed(weights, metadata), overwrite=overwrite)


def check_saveable(clf: BaseEstimator) -> None:
    """Refuse, as ``fit`` starts, a model that :func:`save_model` could not write or
    :func:`read_model` give back as it was: parameters without a JSON form, and labels that do
    not read back as themselves (a callable loss is left to pickle, as ``save`` says)."""
    from .edge import check_labels

    params = _saved_params(clf.get_params())
    if callable(params["loss"]):
        params["loss"] = None
    try:
        config = json.loads(
            json_text({"params": params, "classes": clf.classes_.tolist()}, default=_to_json)
        )
        check_labels(
            config["classes"],
            clf.classes_.dtype.str,
            _n_outputs(clf),
            multilabel=clf.y_type_ in MULTILABEL,
            ordered=clf.y_type_ != "multilabel-indicator",
        )
    except (TypeError, ValueError) as exc:
        raise ValueError(f"this model could not be saved: {one_line(exc)}") from exc


def _saved_params(params: dict[str, Any]) -> dict[str, Any]:
    """The constructor parameters as a model file holds them: a generator's state is no
    parameter of the fitted model (``None``), a path is its ``str``, and ``class_weight``'s
    labels are plain Python values (JSON keys are text: :func:`_class_weight` reads them back
    as the labels they name)."""
    params = dict(params)
    if isinstance(params["random_state"], np.random.RandomState):
        params["random_state"] = None
    if isinstance(params["embeddings"], os.PathLike):
        params["embeddings"] = os.fspath(params["embeddings"])
    weight = params["class_weight"]
    if isinstance(weight, dict):
        params["class_weight"] = {_to_json(k, strict=False): v for k, v in weight.items()}
    return params


def _n_outputs(clf: BaseEstimator) -> int:
    """The network's outputs: one per class or label, one for two classes."""
    n = len(clf.classes_)
    return 1 if n == 2 and clf.y_type_ not in MULTILABEL else n


def read_model(path: str | os.PathLike) -> StoredModel:
    """Read a file written by :func:`save_model`, on the CPU, without unpickling anything.

    ``FileNotFoundError`` if there is no file; ``ValueError`` naming it if it is not a model
    file, is truncated, fails its checksum or holds an invalid value (see the module docstring;
    a file of format version 1 is read with a warning).
    """
    import safetensors.torch

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"model file not found: {path}")
    data = path.read_bytes()
    metadata, header_end = _header(path, data)
    version = _check_format(path, metadata)
    if "sha256" in metadata or version >= 2:
        _verify(path, data, header_end, metadata.get("sha256"))
    else:
        warnings.warn(
            f"{path} has model format version 1, whose checksum covers the weights only (an "
            "edited label or vocabulary entry would go unnoticed): save it again with this "
            "dan_dice to protect all of it",
            UserWarning,
            stacklevel=3,
        )
    try:
        config = json.loads(metadata["config"])
    except (KeyError, TypeError, ValueError) as exc:
        raise ValueError(
            f"{path} is corrupted: unreadable model configuration ({one_line(exc)})"
        ) from exc
    try:
        weights = safetensors.torch.load(data)
    except Exception as exc:  # safetensors' errors: SafetensorError, and others on odd bytes
        raise ValueError(
            f"{path} is not a dan-dice model file, or is truncated ({one_line(exc)})"
        ) from exc
    if version == 1 and (
        not isinstance(config, dict)
        or config.get("weights_sha256") != _digest({k: v.numpy() for k, v in weights.items()})
    ):
        raise ValueError(f"{path} is corrupted: its weights do not match their checksum")
    try:
        return _stored(config, weights, version)
    except Exception as exc:  # any value of the wrong type or range, wherever it trips
        raise ValueError(f"{path} is not a valid dan-dice model file: {one_line(exc)}") from exc


def _signed(weights: dict[str, torch.Tensor], metadata: dict[str, str]) -> bytes:
    """The safetensors bytes of ``weights`` and ``metadata``, with the metadata key ``sha256``
    the SHA-256 of those very bytes in which its own value reads as 64 zeros."""
    import safetensors.torch

    while True:  # a random placeholder, so it occurs once: where the checksum goes
        placeholder = secrets.token_hex(32).encode()
        data = safetensors.torch.save(weights, {**metadata, "sha256": placeholder.decode()})
        if data.count(placeholder) == 1:
            break
    digest = hashlib.sha256(data.replace(placeholder, _ZEROS)).hexdigest().encode()
    return data.replace(placeholder, digest)


def _header(path: Path, data: bytes) -> tuple[dict[str, Any], int]:
    """The metadata of a safetensors file's bytes and where its header ends; ``ValueError`` if
    they are not a safetensors file, or are cut short."""
    try:
        size = int.from_bytes(data[:8], "little")
        if len(data) < 8 or size > len(data) - 8:
            raise ValueError(f"{len(data)} bytes, for a header of {size}")
        header = json.loads(data[8 : 8 + size])
        metadata = header.get("__metadata__") or {}
        end = max(
            (info["data_offsets"][1] for name, info in header.items() if name != "__metadata__"),
            default=0,
        )
        if not isinstance(metadata, dict) or not isinstance(end, int):
            raise ValueError("malformed header")
    except Exception as exc:  # JSON, UnicodeDecode, Key, Type, Attribute... errors: all junk
        raise ValueError(
            f"{path} is not a dan-dice model file, or is truncated ({one_line(exc)})"
        ) from exc
    if metadata.get("format") != FORMAT:
        raise ValueError(f"{path} is not a dan-dice model file (no {FORMAT!r} metadata)")
    if len(data) < 8 + size + end:
        raise ValueError(
            f"{path} is truncated: {len(data):,} bytes, where its header announces "
            f"{8 + size + end:,}"
        )
    return metadata, 8 + size


def _check_format(path: Path, metadata: dict[str, Any]) -> int:
    """The format version of a model file's metadata, if this dan_dice reads it."""
    version = metadata.get("format_version")
    if version not in ("1", "2", "3"):
        raise ValueError(
            f"{path} has model format version {version}, but this dan_dice ({__version__}) "
            f"reads versions 1 to {MULTILABEL_FORMAT_VERSION} only; load it with a matching "
            "dan_dice"
        )
    return int(version)


def _verify(path: Path, data: bytes, header_end: int, digest: Any) -> None:
    """Check the whole-file checksum written by :func:`_signed`."""
    valid = isinstance(digest, str) and re.fullmatch("[0-9a-f]{64}", digest)
    header = data[:header_end]
    if not valid or header.count(digest.encode()) != 1:
        raise ValueError(f"{path} is corrupted: its checksum is missing or damaged")
    blank = header.replace(digest.encode(), _ZEROS) + data[header_end:]
    if hashlib.sha256(blank).hexdigest() != digest:
        raise ValueError(
            f"{path} is corrupted, or was changed after it was saved: its bytes do not match "
            "their checksum (SHA-256)"
        )


def _stored(config: Any, weights: dict[str, torch.Tensor], version: int) -> StoredModel:
    """The parameters and fitted attributes of a configuration, every value validated (the
    numeric parameters are checked again by the estimator's own ``_check_params``)."""
    from .edge import (
        check_labels,
        check_threshold,
        check_thresholds,
        check_vocabulary,
        single_label_task,
    )

    if not isinstance(config, dict):
        raise ValueError("its configuration is not a JSON object")
    params = config["params"]
    if not isinstance(params, dict):
        raise ValueError("its parameters are not a JSON object")
    params = dict(params)
    y_type = _y_type(config, version)
    multilabel = y_type in MULTILABEL
    _check_params(params, multilabel)
    params["hidden_sizes"] = tuple(params["hidden_sizes"])  # JSON has no tuples
    params.setdefault("pooling", "mean")  # files from before pooling was a choice
    n_outputs = config["n_outputs"]
    if not isinstance(n_outputs, int) or isinstance(n_outputs, bool):
        raise ValueError(f"n_outputs must be an integer, got {n_outputs!r}")
    classes = check_labels(
        config["classes"],
        config["classes_dtype"],
        n_outputs,
        multilabel=multilabel,
        ordered=y_type != "multilabel-indicator",  # a DataFrame's columns come in any order
    )
    if not multilabel and y_type != single_label_task(len(classes)):
        raise ValueError(f"y_type {y_type!r} with {len(classes)} classes")
    if isinstance(params.get("class_weight"), dict):
        params["class_weight"] = _class_weight(params["class_weight"], classes)
    vocabulary = check_vocabulary(config["vocabulary"])
    table = weights.get("embedding.weight")
    if table is None or table.ndim != 2 or len(table) != len(vocabulary):
        rows = None if table is None else tuple(table.shape)
        raise ValueError(f"a vocabulary of {len(vocabulary)} tokens for an embedding table {rows}")
    for name, weight in weights.items():
        if not weight.is_floating_point() or not torch.isfinite(weight).all():
            raise ValueError(f"weight {name!r} is not finite floating point ({weight.dtype})")
    history = config["history"]
    if (
        not isinstance(history, list)
        or not history
        or not all(isinstance(h, dict) for h in history)
    ):
        raise ValueError("history must be a non-empty list of per-epoch records")
    best_epoch = config["best_epoch"]
    if not isinstance(best_epoch, int) or isinstance(best_epoch, bool):
        raise ValueError(f"best_epoch must be an integer, got {best_epoch!r}")
    if not 1 <= best_epoch <= len(history):
        raise ValueError(f"best_epoch {best_epoch} is not one of the {len(history)} epochs")
    score = config["best_validation_score"]
    coverage = config["embedding_coverage"]
    if not _real(score):
        raise ValueError(f"best_validation_score must be a number, got {score!r}")
    if not _real(coverage) or not 0 <= coverage <= 1:
        raise ValueError(f"embedding_coverage must be in [0, 1], got {coverage!r}")
    collapsed = config.get("collapsed", False)  # files from before collapse was flagged
    if not isinstance(collapsed, bool):
        raise ValueError(f"collapsed must be true or false, got {collapsed!r}")
    threshold = config["threshold"]
    fitted = {
        "y_type_": y_type,
        "classes_": classes,
        "vocabulary_": vocabulary,
        "threshold_": (
            check_thresholds(threshold, len(classes)) if multilabel else check_threshold(threshold)
        ),
        "best_epoch_": best_epoch,
        "best_validation_score_": score,
        "collapsed_": collapsed,
        "history_": history,
        "embedding_coverage_": coverage,
    }
    return StoredModel(params, weights, n_outputs, fitted)


def _y_type(config: dict[str, Any], version: int) -> str:
    """The stored ``y_type``, which must agree with the format version (files from before it
    was stored are single-label: read from their number of labels)."""
    from .edge import single_label_task

    y_type = config.get("y_type")
    if y_type is None and version < MULTILABEL_FORMAT_VERSION:
        return single_label_task(len(config["classes"]))
    if y_type not in Y_TYPES:
        raise ValueError(f"y_type must be one of {Y_TYPES}, got {y_type!r}")
    if (y_type in MULTILABEL) != (version == MULTILABEL_FORMAT_VERSION):
        raise ValueError(
            f"y_type {y_type!r} in a file of format version {version} (multi-label models, "
            f"and only they, have version {MULTILABEL_FORMAT_VERSION})"
        )
    return y_type


def _check_params(params: dict[str, Any], multilabel: bool = False) -> None:
    """The stored parameters: each as :data:`~dan_dice.params.PARAMETER_CONSTRAINTS` accepts
    it, ``hidden_sizes`` as a JSON list, and a loss of the model's task (those of
    :mod:`dan_dice.multilabel_losses` for a multi-label model, which has no class weights)."""
    from .losses import LOSSES
    from .multilabel_losses import MULTILABEL_ALIASES, MULTILABEL_LOSSES

    losses = [*MULTILABEL_LOSSES, *MULTILABEL_ALIASES] if multilabel else list(LOSSES)
    if not isinstance(params.get("loss"), str) or params["loss"] not in losses:
        raise ValueError(f"loss must be one of {losses}, got {params.get('loss')!r}")
    weight = params.get("class_weight")
    if multilabel and weight is not None:
        raise ValueError(f"class_weight must be null for a multi-label model, got {weight!r}")
    if "hidden_sizes" in params and not isinstance(params["hidden_sizes"], list):
        raise ValueError(f"hidden_sizes must be a list, got {params['hidden_sizes']!r}")
    check_params(params)


def _class_weight(weight: dict[str, Any], classes: np.ndarray) -> dict[Any, Any]:
    """``class_weight`` with its JSON keys (text) read back as the labels they name: the key
    ``"1"`` as the label ``1`` of an integer model (files written before this was done too)."""
    labels = {
        json.dumps(label) if not isinstance(label, str) else label: label
        for label in classes.tolist()
    }
    unknown = [key for key in weight if key not in labels]
    if unknown:
        raise ValueError(f"class_weight names labels that are not the model's: {unknown}")
    return {labels[key]: value for key, value in weight.items()}


def _real(value: Any) -> bool:
    """Whether ``value`` is a JSON number (not a bool): finite, or NaN / infinite."""
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def _digest(arrays: dict[str, np.ndarray]) -> str:
    """SHA-256 of named arrays: names, dtypes, shapes and bytes, in name order."""
    digest = hashlib.sha256()
    for name in sorted(arrays):
        array = np.ascontiguousarray(arrays[name])
        digest.update(f"{name}|{array.dtype.str}|{array.shape}|".encode())
        digest.update(array.tobytes())
    return digest.hexdigest()


def _to_json(value: Any, strict: bool = True) -> Any:
    """JSON form of the numpy values that parameters may hold (others: a ``TypeError``, or
    themselves unless ``strict``)."""
    if isinstance(value, np.generic | np.ndarray):
        return value.tolist()
    if strict:
        raise TypeError(f"{value!r} of type {type(value).__name__} is not JSON-serializable")
    return value


__getattr__ = moved(__name__, "0.2.0", load_model="dan_dice.DANClassifier.load")
