"""Targets in every form scikit-learn users pass, as the codes the network trains on and back.

Single-label tasks take a 1-D sequence of labels of any type (``classes_`` are the sorted
distinct labels; codes index them). Multi-label tasks take either a 2-D 0/1 indicator matrix
(numpy array, scipy sparse matrix or pandas DataFrame, what ``MultiLabelBinarizer`` makes) or a
list of label collections, one per text (``[["joy"], ["anger", "fear"], []]``); both train on
the indicator, and predictions come back in the form that was given.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
import pandas as pd
from sklearn.utils.multiclass import check_classification_targets

MULTILABEL = ("multilabel-indicator", "multilabel-sequences")
"""The ``y_type_`` of multi-label fits: an indicator matrix, or lists of labels."""
_COLLECTIONS = (list, tuple, set, frozenset)


def check_targets(y: Any, n_samples: int) -> tuple[str, np.ndarray, np.ndarray]:
    """``(y_type, classes, encoded)`` for training labels ``y`` of ``n_samples`` texts.

    ``y_type`` is "binary", "multiclass", "multilabel-indicator" or "multilabel-sequences";
    ``encoded`` is an int64 code per text (single-label) or the ``(n_samples, n_labels)`` 0/1
    indicator (multi-label, at least two labels).
    """
    y = _materialise(y)
    if _is_sequences(y):
        _check_length(y, n_samples)
        labels = [_check_collection(labels, i) for i, labels in enumerate(y)]
        try:
            classes = np.array(sorted(set().union(*labels)), dtype=object)
        except TypeError as exc:
            raise ValueError(f"the labels in y cannot be ordered (mixed types?): {exc}") from exc
        classes = np.array(classes.tolist())  # a plain dtype when the labels allow one
        y_type = "multilabel-sequences"
    elif _is_matrix(y):
        classes = np.asarray(y.columns) if isinstance(y, pd.DataFrame) else np.arange(y.shape[1])
        y_type = "multilabel-indicator"
    else:
        codes = _single_label(y, n_samples)
        classes, codes = np.unique(codes, return_inverse=True)
        if len(classes) < 2:
            raise ValueError(f"y has a single class ({classes.tolist()[0]!r}): need two or more")
        return ("binary" if len(classes) == 2 else "multiclass"), classes, codes.astype(np.int64)
    if len(classes) < 2:
        raise ValueError(
            f"y has {len(classes)} label(s) {classes.tolist()}: multi-label data needs at "
            "least two labels (for one label, pass a 1-D y of 0/1)"
        )
    encoded = encode_targets(y, n_samples, y_type, classes)
    if not encoded.any():
        raise ValueError("y has no positive label at all: nothing to learn")
    return y_type, classes, encoded


def multilabel_form(y: Any) -> str | None:
    """The ``y_type`` of multi-label ``y`` ("multilabel-indicator" or "multilabel-sequences"),
    or None for one label per text: what ``y`` is, whichever labels it happens to hold."""
    y = _materialise(y)
    if _is_sequences(y):
        return "multilabel-sequences"
    return "multilabel-indicator" if _is_matrix(y) else None


def encode_targets(
    y: Any, n_samples: int, y_type: str, classes: np.ndarray, name: str = "y"
) -> np.ndarray:
    """Labels ``y`` as codes, or as the indicator of ``classes`` for multi-label ``y_type``;
    labels (or a width) unseen in ``fit`` are an error naming them."""
    y = _materialise(y)
    if y_type not in MULTILABEL:
        codes = _single_label(y, n_samples, name)
        unseen = np.setdiff1d(np.unique(codes), classes)
        if len(unseen):
            raise ValueError(f"{name} has labels not seen in fit: {unseen.tolist()}")
        return np.searchsorted(classes, codes).astype(np.int64)
    if y_type == "multilabel-sequences":
        if not _is_sequences(y):
            raise ValueError(f"{name} must be a list of label lists, as in fit")
        _check_length(y, n_samples, name)
        index = {label: j for j, label in enumerate(classes.tolist())}
        indicator = np.zeros((n_samples, len(classes)), dtype=np.int64)
        for i, labels in enumerate(y):
            labels = _check_collection(labels, i, name)
            unseen = [label for label in labels if label not in index]
            if unseen:
                raise ValueError(f"{name}[{i}] has labels not seen in fit: {unseen}")
            indicator[i, [index[label] for label in labels]] = 1
        return indicator
    if not _is_matrix(y):
        raise ValueError(f"{name} must be a 2-D 0/1 indicator matrix, as in fit")
    if isinstance(y, pd.DataFrame) and list(y.columns) != classes.tolist():
        raise ValueError(f"{name}'s columns {list(y.columns)} differ from fit's {classes.tolist()}")
    matrix = y.toarray() if hasattr(y, "toarray") else np.asarray(y)
    _check_length(matrix, n_samples, name)
    if matrix.shape[1] != len(classes):
        raise ValueError(f"{name} has {matrix.shape[1]} label columns, fit had {len(classes)}")
    if matrix.dtype.kind not in "biuf" or not np.isin(matrix, (0, 1)).all():
        raise ValueError(f"{name} must hold only 0 and 1 (an indicator matrix); got other values")
    return matrix.astype(np.int64)


def decode_targets(encoded: np.ndarray, y_type: str, classes: np.ndarray) -> Any:
    """Predictions in the form of the training labels: labels, an indicator matrix, or a list
    of label tuples (as ``MultiLabelBinarizer.inverse_transform``)."""
    if y_type == "multilabel-sequences":
        return [tuple(classes[np.flatnonzero(row)].tolist()) for row in encoded]
    if y_type == "multilabel-indicator":
        return encoded
    return classes[encoded]


def _materialise(y: Any) -> Any:
    if isinstance(y, Iterator):  # np.asarray would make a 0-d array of a generator
        return list(y)
    if isinstance(y, pd.Series) and y.map(_is_collection).all() and len(y):
        return y.tolist()
    return y


def _is_collection(item: Any) -> bool:
    return isinstance(item, _COLLECTIONS)


def _is_sequences(y: Any) -> bool:
    return isinstance(y, list | tuple) and len(y) > 0 and all(map(_is_collection, y))


def _is_matrix(y: Any) -> bool:
    if isinstance(y, pd.DataFrame) or hasattr(y, "toarray"):
        return True
    return isinstance(y, np.ndarray) and y.ndim == 2


def _check_length(y: Sequence | np.ndarray, n_samples: int, name: str = "y") -> None:
    if len(y) != n_samples:
        raise ValueError(f"X and {name} have different lengths: {n_samples} texts, {len(y)} labels")


def _check_collection(labels: Any, i: int, name: str = "y") -> set:
    if not _is_collection(labels):
        raise ValueError(f"{name}[{i}] is {type(labels).__name__}, not a list of labels")
    labels = set(labels)
    if any((isinstance(label, float) and label != label) or label is None for label in labels):
        raise ValueError(f"{name}[{i}] has a missing label (NaN or None)")
    return labels


def _single_label(y: Any, n_samples: int, name: str = "y") -> np.ndarray:
    y = np.asarray(y)
    if y.ndim != 1:
        raise ValueError(f"{name} must be 1-D, got shape {y.shape}")
    _check_length(y, n_samples, name)
    if pd.isna(y).any():
        raise ValueError(f"{name} has missing labels (NaN or None)")
    check_classification_targets(y)
    return y
