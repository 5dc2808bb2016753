"""Classification scores computed from one confusion matrix, plus collapse and threshold helpers.

For a binary task ``f1``, ``precision`` and ``recall`` are those of the positive class (label 1),
the rare class this toolkit is judged by; for more classes they are macro averages.

Multi-label tasks (``(n_samples, n_labels)`` 0/1 indicators) have their own scores, per-label
and shared threshold tuning, and the head / medium / tail grouping of labels by frequency.
Numpy only, so that scoring never pulls in torch or scikit-learn.
"""

from __future__ import annotations

import numpy as np

from .params import Threshold, as_threshold

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

    A cut that predicts one class for at least :data:`COLLAPSE_SHARE` of the texts, while the
    labels are not that one-sided, is a majority-class predictor (what
    :func:`~dan_dice.training.collapsed` flags): it is chosen only when every cut is. On
    small, mostly positive validation sets "everything positive" is often the F1-best cut
    (60 texts, 83 % positive: F1 0.91), and choosing it there ended fits as one-class models.
    """
    y_true = np.asarray(y_true, dtype=np.int64)
    order = np.argsort(-np.asarray(proba, dtype=np.float64), kind="stable")
    p, y = np.asarray(proba, dtype=np.float64)[order], y_true[order]
    tp = np.cumsum(y)
    fp = np.cumsum(1 - y)
    last = np.r_[np.flatnonzero(np.diff(p)), len(p) - 1]  # last index of each distinct value
    f1 = 2 * tp[last] / (tp[last] + fp[last] + y.sum())
    positive = (last + 1) / len(p)  # share predicted positive at each cut
    rate = y.mean()
    one_class = (positive >= COLLAPSE_SHARE) & (rate < COLLAPSE_SHARE)
    one_class |= (1 - positive >= COLLAPSE_SHARE) & (1 - rate < COLLAPSE_SHARE)
    best = int(np.argmax(np.where(one_class, -1.0, f1) if not one_class.all() else f1))
    i = last[best]
    below = p[i + 1] if i + 1 < len(p) else 0.0
    threshold = np.clip((p[i] + below) / 2, _TINY, 1 - _TINY)  # a usable cut-off, never 0 or 1
    return float(threshold), float(f1[best])


_TINY = float(np.finfo(np.float32).eps)


# --- multi-label: Y_true, Y_pred and proba are (n_samples, n_labels) arrays ----------------------


def _label_counts(Y_true, Y_pred) -> tuple[np.ndarray, ...]:
    """Both 0/1 indicators as boolean arrays, and per label their true positives, false
    positives and false negatives."""
    T, P = _indicator(Y_true, "Y_true"), _indicator(Y_pred, "Y_pred")
    if T.shape != P.shape:
        raise ValueError(f"Y_true has shape {T.shape} and Y_pred {P.shape}; they must match")
    tp = (T & P).sum(axis=0)
    return T, P, tp, P.sum(axis=0) - tp, T.sum(axis=0) - tp


def _indicator(Y, name: str) -> np.ndarray:
    """``Y`` as a boolean ``(n, L)`` array, after checking it is a 2-D matrix of 0s and 1s."""
    Y = np.asarray(Y)
    if Y.ndim != 2:
        raise ValueError(f"{name} must be a 2-D (n_samples, n_labels) indicator, got {Y.shape}")
    if Y.shape[1] == 0:
        raise ValueError(f"{name} has no label column")
    if Y.dtype == object or not np.isin(Y, (0, 1)).all():
        raise ValueError(f"{name} must hold only 0 and 1 (a label indicator matrix)")
    return Y.astype(bool)


def _ratio(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    """``numerator / denominator``, 0 where the denominator is 0 (sklearn's zero_division=0)."""
    numerator = np.asarray(numerator, dtype=float)
    return np.divide(numerator, denominator, out=np.zeros_like(numerator), where=denominator > 0)


def per_label_scores(Y_true, Y_pred) -> dict[str, np.ndarray]:
    """F1, precision and recall of every label, and its support (count of true positives in
    ``Y_true``): ``(L,)`` arrays; a score whose denominator is 0 is 0."""
    _, _, tp, fp, fn = _label_counts(Y_true, Y_pred)
    return {
        "f1": _ratio(2 * tp, 2 * tp + fp + fn),
        "precision": _ratio(tp, tp + fp),
        "recall": _ratio(tp, tp + fn),
        "support": tp + fn,
    }


def multilabel_scores(Y_true, Y_pred) -> dict[str, float]:
    """Micro- and macro-F1, micro precision and recall, Hamming loss (share of wrong label
    decisions) and subset accuracy (share of rows with every label right) of 0/1 indicators.

    Macro-F1 is the plain mean over labels, a label never true nor predicted counting 0 (as
    sklearn's ``f1_score(average="macro", zero_division=0)``): rare labels weigh as much as
    frequent ones, which is the point of judging imbalance-aware losses by it.
    """
    T, P, tp, fp, fn = _label_counts(Y_true, Y_pred)
    TP, FP, FN = tp.sum(), fp.sum(), fn.sum()
    return {
        "micro_f1": float(_ratio(2 * TP, 2 * TP + FP + FN)),
        "macro_f1": float(_ratio(2 * tp, 2 * tp + fp + fn).mean()),
        "hamming": float((T != P).mean()) if T.size else 0.0,
        "subset_accuracy": float((T == P).all(axis=1).mean()) if len(T) else 0.0,
        "micro_precision": float(_ratio(TP, TP + FP)),
        "micro_recall": float(_ratio(TP, TP + FN)),
    }


def best_thresholds(Y_true, proba) -> tuple[np.ndarray, np.ndarray]:
    """Per label, the threshold on its probability that maximises its F1 (by
    :func:`best_threshold`; predict ``proba >= threshold``), and that F1: two ``(L,)`` arrays.

    A label with no positive in ``Y_true`` has no F1 to maximise: it gets threshold 0.5 and
    F1 0 (whatever is predicted, its F1 against no positive is 0).
    """
    T, proba = _indicator(Y_true, "Y_true"), _probabilities(proba, Y_true)
    thresholds, f1s = np.full(T.shape[1], 0.5), np.zeros(T.shape[1])
    for j in np.flatnonzero(T.any(axis=0)):
        thresholds[j], f1s[j] = best_threshold(T[:, j], proba[:, j])
    return thresholds, f1s


def best_global_threshold(Y_true, proba) -> tuple[float, float]:
    """The one threshold shared by every label that maximises macro-F1, and that macro-F1.

    Every distinct probability is a candidate (cut just below it, as :func:`best_threshold`
    does). All are scored at once from the sorted probabilities, in O(nL log nL) rather than
    O((nL)^2): lowering the cut past one (example, label) pair changes only that label's F1,
    so macro-F1 at every cut is a running sum of those changes. The macro-F1 returned is that
    of ``proba >= threshold``, the threshold clipped as :func:`best_threshold` clips it.
    ``Y_true`` with no positive at all gives threshold 0.5 and macro-F1 0.
    """
    T, proba = _indicator(Y_true, "Y_true"), _probabilities(proba, Y_true)
    if not T.any():
        return 0.5, 0.0
    n, n_labels = T.shape
    columns = np.arange(n_labels)
    # F1 of each label when its k + 1 most probable examples are predicted positive, k = 0..n-1
    by_label = np.argsort(-proba, axis=0, kind="stable")
    tp = np.cumsum(T[by_label, columns], axis=0)
    f1 = _ratio(2 * tp, np.arange(1, n + 1)[:, None] + T.sum(axis=0))
    gain = np.empty_like(f1)  # what adding each (example, label) pair adds to its label's F1
    gain[by_label, columns] = np.diff(f1, axis=0, prepend=0.0)
    order = np.argsort(-proba.ravel(), kind="stable")
    p = proba.ravel()[order]
    macro = np.cumsum(gain.ravel()[order]) / n_labels
    last = np.r_[np.flatnonzero(np.diff(p)), len(p) - 1]  # last pair of each distinct value
    i = last[int(np.argmax(np.round(macro[last], 12)))]  # rounding: first of near-equal bests
    below = p[i + 1] if i + 1 < len(p) else 0.0
    threshold = float(np.clip((p[i] + below) / 2, _TINY, 1 - _TINY))
    return threshold, float(per_label_scores(T, proba >= threshold)["f1"].mean())


def tuned_thresholds(Y_true, proba, mode: Threshold | str) -> np.ndarray:
    """One threshold per label, tuned on (``Y_true``, ``proba``) as the tuned threshold
    setting ``mode`` says (:class:`~dan_dice.params.Threshold`): ``"tune"``, each label's
    F1-best (:func:`best_thresholds`); ``"tune_global"``, the macro-F1-best one shared by every
    label (:func:`best_global_threshold`)."""
    try:
        tuned = as_threshold(mode)
    except ValueError:
        tuned = Threshold("fixed")
    if not tuned.tuned:
        raise ValueError(f"mode must be 'tune' or 'tune_global', got {mode!r}")
    if tuned.mode == "tune_global":
        return np.full(np.shape(Y_true)[1], best_global_threshold(Y_true, proba)[0])
    return best_thresholds(Y_true, proba)[0]


def _probabilities(proba, Y_true) -> np.ndarray:
    """``proba`` as a float array of the shape of ``Y_true``, all finite."""
    proba = np.asarray(proba, dtype=np.float64)
    if proba.shape != np.shape(Y_true):
        raise ValueError(f"proba has shape {proba.shape} and Y_true {np.shape(Y_true)}; must match")
    if not np.isfinite(proba).all():
        raise ValueError("proba holds NaN or infinite values")
    return proba


def frequency_groups(train_counts) -> np.ndarray:
    """``"head"``, ``"medium"`` or ``"tail"`` for every label, by its training count.

    Labels are ranked from the most to the least frequent and cut in three groups of equal
    size as nearly as possible: each cut goes to the place between two different counts
    nearest to a third (two thirds) of the labels, so labels of equal count always share a
    group; of two equally near places the earlier is taken. With many ties a group can be
    empty (every count equal: every label is ``"medium"``).
    """
    counts = np.asarray(train_counts)
    if counts.ndim != 1 or len(counts) == 0:
        raise ValueError(f"train_counts must be a non-empty 1-D array, got shape {counts.shape}")
    if not np.issubdtype(counts.dtype, np.number) or (counts < 0).any():
        raise ValueError("train_counts must be non-negative numbers (label counts)")
    order = np.argsort(-counts.astype(np.float64), kind="stable")  # unsigned counts too
    ranked = counts[order]
    places = np.r_[0, np.flatnonzero(np.diff(ranked)) + 1, len(ranked)]  # cuts between counts
    cuts = [places[np.argmin(np.abs(places - len(counts) * k / 3))] for k in (1, 2)]
    groups = np.empty(len(counts), dtype="<U6")
    groups[order] = np.repeat(["head", "medium", "tail"], np.diff([0, *cuts, len(counts)]))
    return groups
