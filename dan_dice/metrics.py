"""Classification scores computed from one confusion matrix, plus collapse and threshold helpers.

For a binary task ``f1``, ``precision`` and ``recall`` are those of the positive class (label 1),
the rare class this toolkit is judged by; for more classes they are macro averages.
"""

from __future__ import annotations

import numpy as np

COLLAPSE_SHARE = 0.99
"""A model whose predictions fall in one class at least this often is flagged as collapsed."""


def confusion_matrix(y_true: np.ndarray, y_pred: np.ndarray, n_classes: int) -> np.ndarray:
    """``(n_classes, n_classes)`` counts, rows = true class, columns = predicted class."""
    y_true, y_pred = np.asarray(y_true, dtype=np.int64), np.asarray(y_pred, dtype=np.int64)
    flat = np.bincount(y_true * n_classes + y_pred, minlength=n_classes * n_classes)
    return flat.reshape(n_classes, n_classes)


def per_class_f1(cm: np.ndarray) -> np.ndarray:
    """F1 of every class from a confusion matrix (0 where a class is never true nor predicted)."""
    tp = np.diag(cm).astype(float)
    denominator = cm.sum(axis=0) + cm.sum(axis=1)
    return np.divide(2 * tp, denominator, out=np.zeros_like(tp), where=denominator > 0)


def scores(y_true: np.ndarray, y_pred: np.ndarray, n_classes: int = 2) -> dict[str, float]:
    """Accuracy, F1, macro-F1, precision and recall of predicted class indices."""
    cm = confusion_matrix(y_true, y_pred, n_classes)
    tp = np.diag(cm).astype(float)
    predicted, actual = cm.sum(axis=0), cm.sum(axis=1)
    precision = np.divide(tp, predicted, out=np.zeros_like(tp), where=predicted > 0)
    recall = np.divide(tp, actual, out=np.zeros_like(tp), where=actual > 0)
    f1 = per_class_f1(cm)
    pick = (lambda v: float(v[1])) if n_classes == 2 else (lambda v: float(v.mean()))
    return {
        "accuracy": float(tp.sum() / max(cm.sum(), 1)),
        "f1": pick(f1),
        "macro_f1": float(f1.mean()),
        "precision": pick(precision),
        "recall": pick(recall),
    }


def majority_share(y_pred: np.ndarray) -> float:
    """Share of the predictions that fall in the most predicted class."""
    y_pred = np.asarray(y_pred)
    return float(np.bincount(y_pred).max() / len(y_pred)) if len(y_pred) else 0.0


def is_collapsed(y_pred: np.ndarray, share: float = COLLAPSE_SHARE) -> bool:
    """True when (nearly) every prediction is the same class: a majority-class predictor."""
    return majority_share(y_pred) >= share


def best_threshold(y_true: np.ndarray, proba: np.ndarray) -> tuple[float, float]:
    """The decision threshold on P(positive) that maximises positive-class F1, and that F1.

    Every distinct probability is a candidate; the midpoint to the next lower one is returned
    so that the threshold generalises rather than sitting exactly on a training example. It is
    clipped to [eps, 1 - eps] (float32 eps) so that its log-odds stay finite.
    """
    y_true = np.asarray(y_true, dtype=np.int64)
    order = np.argsort(-np.asarray(proba, dtype=np.float64), kind="stable")
    p, y = np.asarray(proba, dtype=np.float64)[order], y_true[order]
    tp = np.cumsum(y)
    fp = np.cumsum(1 - y)
    last = np.r_[np.flatnonzero(np.diff(p)), len(p) - 1]  # last index of each distinct value
    f1 = 2 * tp[last] / (tp[last] + fp[last] + y.sum())
    best = int(np.argmax(f1))
    i = last[best]
    below = p[i + 1] if i + 1 < len(p) else 0.0
    threshold = np.clip((p[i] + below) / 2, _TINY, 1 - _TINY)  # a usable cut-off, never 0 or 1
    return float(threshold), float(f1[best])


_TINY = float(np.finfo(np.float32).eps)
