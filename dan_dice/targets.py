"""Targets in every form scikit-learn users pass, as the codes the network trains on and back.

Single-label tasks take a 1-D sequence of labels of any type (``classes_`` are the sorted
distinct labels; codes index them). Multi-label tasks take either a 2-D 0/1 indicator matrix
(numpy array, scipy sparse matrix or pandas DataFrame, what ``MultiLabelBinarizer`` makes) or a
list of label collections, one per text (``[["joy"], ["anger", "fear"], []]``); both train on
the indicator, and predictions come back in the form that was given.

Nested lists are read as scikit-learn's ``type_of_target`` reads them: rows of one length (two
or more) holding only 0 and 1 (``Y.tolist()``) are an indicator matrix, any other rows are
label lists. A list that mixes label lists with anything else (a bare string) is an error
naming the element, never a guess.
"""

from __future__ import annotations

import numbers
import warnings
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
    if _is_indicator_rows(y):
        y = np.asarray(y)
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
        repeated = pd.Index(classes)[pd.Index(classes).duplicated()].unique().tolist()
        if repeated:
            raise ValueError(
                f"y's columns repeat the label(s) {repeated}: every column must name its own "
                "label (a model could not tell them apart, nor be saved)"
            )
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
        if not _is_sequences(y, name):
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
    if _is_indicator_rows(y):
        y = np.asarray(y)
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


def check_validation_labels(Y_val: np.ndarray, classes: np.ndarray) -> None:
    """Refuse a multi-label validation indicator without any positive (there is no F1 to pick
    the best epoch by), and warn of each label without one: its F1 is 0 at every epoch and its
    tuned threshold the fallback 0.5 (:func:`dan_dice.metrics.best_thresholds`)."""
    if not Y_val.any():
        raise ValueError(
            "the validation data has no positive for any label: the best epoch (and the tuned "
            "thresholds) are chosen by validation F1, which needs positives; pass validation "
            "texts that have labels (validation_data), or more texts"
        )
    unseen = classes[~Y_val.any(axis=0)].tolist()
    if unseen:
        warnings.warn(
            f"the validation data has no positive for label(s) {unseen}: their validation F1 "
            "is 0 at every epoch and their tuned threshold the fallback 0.5; give the "
            "validation data texts with these labels",
            UserWarning,
            stacklevel=3,
        )


def decode_targets(encoded: np.ndarray, y_type: str, classes: np.ndarray) -> Any:
    """Predictions in the form of the training labels: labels, an indicator matrix, or a list
    of label tuples (as ``MultiLabelBinarizer.inverse_transform``)."""
    if y_type == "multilabel-sequences":
        return [tuple(classes[np.flatnonzero(row)].tolist()) for row in encoded]
    if y_type == "multilabel-indicator":
        return encoded
    return classes[encoded]


def multilabel_type(y: Any, name: str = "y") -> str | None:
    """``"multilabel-indicator"`` or ``"multilabel-sequences"`` for multi-label ``y`` (as
    :func:`check_targets` reads it), ``None`` for one label per text."""
    y = _materialise(y)
    if _is_matrix(y) or _is_indicator_rows(y):
        return "multilabel-indicator"
    return "multilabel-sequences" if _is_sequences(y, name) else None


def _materialise(y: Any) -> Any:
    if isinstance(y, Iterator):  # np.asarray would make a 0-d array of a generator
        return list(y)
    if isinstance(y, pd.Series) and y.map(_is_collection).any():
        return y.tolist()  # by position, as every pandas input is read
    return y


def _is_collection(item: Any) -> bool:
    return isinstance(item, _COLLECTIONS)


def _is_sequences(y: Any, name: str = "y") -> bool:
    """Whether ``y`` is a list of label collections; one that also holds anything else (a bare
    string) is an error naming that element, where numpy would report a shape."""
    if not isinstance(y, list | tuple) or not any(map(_is_collection, y)):
        return False
    for i, labels in enumerate(y):
        if not _is_collection(labels):
            raise ValueError(
                f"{name}[{i}] is {type(labels).__name__} ({labels!r:.40}), not a list of labels, "
                f"among label lists: wrap a single label in a list ([{labels!r:.40}])"
            )
    return True


def _is_indicator_rows(y: Any) -> bool:
    """Whether ``y`` is a list of rows of one length (two or more) holding only 0 and 1
    (``Y.tolist()``): an indicator matrix, as scikit-learn's ``type_of_target`` reads it."""
    if not isinstance(y, list | tuple) or not y or not all(isinstance(r, list | tuple) for r in y):
        return False
    width = len(y[0])
    return width > 1 and all(
        len(row) == width and all(isinstance(v, numbers.Real) and v in (0, 1) for v in row)
        for row in y
    )


def _is_matrix(y: Any) -> bool:
    if isinstance(y, pd.DataFrame) or hasattr(y, "toarray"):
        return True
    return isinstance(y, np.ndarray) and y.ndim == 2


def _check_length(y: Sequence | np.ndarray, n_samples: int, name: str = "y") -> None:
    if len(y) != n_samples:  # the texts of y_val are X_val
        raise ValueError(
            f"X{name[1:]} and {name} have different lengths: {n_samples} texts, {len(y)} labels"
        )


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
