"""Train / validation / test splits that keep the class balance of the whole data.

A 1-D ``y`` is split by stratified sampling (each class keeps its share in every part); a 2-D
0/1 indicator ``y`` (multi-label) by iterative stratification (Sechidis, Tsoumakas & Vlahavas,
2011, as implemented by the ``iterstrat`` package), which keeps the share of every label,
rare ones included, close to its share of the whole, where a plain random split can leave a
rare label out of a part altogether. With groups (duplicates, the sentences of one post) every
group lands whole in one part.

:class:`Split` holds the three parts, as the experiment suites, the peers and the benchmarks
share them.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from numbers import Integral, Real
from typing import Any

import numpy as np
from iterstrat.ml_stratifiers import MultilabelStratifiedShuffleSplit
from sklearn.model_selection import StratifiedGroupKFold, train_test_split

from .targets import check_targets, multilabel_type


@dataclass
class Split:
    """The train, validation and test parts of a dataset, and the names of its classes (or
    labels: multi-label ``y`` parts are ``(n, L)`` indicators)."""

    X_train: list[str]
    X_val: list[str]
    X_test: list[str]
    y_train: np.ndarray
    y_val: np.ndarray
    y_test: np.ndarray
    target_names: list[str]


def take(data: Any, index: np.ndarray) -> Any:
    """The rows ``index`` of ``data``, in its own type: a list, an array, a DataFrame or Series
    (by position) or a scipy sparse matrix."""
    if hasattr(data, "iloc"):
        return data.iloc[index]
    if hasattr(data, "toarray") or isinstance(data, np.ndarray):
        return data[index]
    return [data[i] for i in index]


def check_split_sizes(val_size: float, test_size: float) -> None:
    """Refuse validation and test fractions that leave no training part."""
    if not (val_size > 0 and test_size > 0 and val_size + test_size < 1):
        raise ValueError(
            "val_size and test_size must be positive fractions that sum to less than 1, "
            f"got val_size={val_size} and test_size={test_size}"
        )


def train_val_test_split(
    X: Sequence,
    y: Sequence,
    *,
    val_size: float = 0.2,
    test_size: float = 0.2,
    random_state: int | None = 0,
    groups: Sequence | None = None,
) -> tuple:
    """Split into stratified train, validation and test parts (60/20/20 by default).

    Multi-label ``y`` (a 2-D 0/1 indicator, or label lists: :mod:`dan_dice.targets`) is split
    by iterative stratification (see :func:`multilabel_holdout`); its parts keep the type of
    ``y`` (array, DataFrame rows or lists). Pandas inputs are paired by position, as in
    scikit-learn, whatever their index.

    With ``groups`` (e.g. the post of each sentence; 1-D ``y`` only) every group lands in one
    part, through :class:`~sklearn.model_selection.StratifiedGroupKFold`: the test part is one
    of ``round(1 / test_size)`` folds and the validation part one of the folds of the rest, so
    the sizes are those fractions as nearly as whole groups allow.

    Returns ``X_train, X_val, X_test, y_train, y_val, y_test``.
    """
    check_split_sizes(val_size, test_size)
    if multilabel_type(y) is not None:
        if groups is not None:
            raise ValueError(
                "groups are not supported with a 2-D (multi-label) y: iterative "
                "stratification splits examples, not groups; pass groups=None"
            )
        return _multilabel_split(X, y, val_size, test_size, random_state)
    if groups is not None:
        return _group_split(X, y, groups, val_size, test_size, random_state)
    X_rest, X_test, y_rest, y_test = train_test_split(
        X, y, test_size=test_size, stratify=y, random_state=random_state
    )
    X_train, X_val, y_train, y_val = train_test_split(
        X_rest,
        y_rest,
        test_size=round(val_size * len(y)),  # a count: val_size is a fraction of all of X
        stratify=y_rest,
        random_state=random_state,
    )
    return X_train, X_val, X_test, y_train, y_val, y_test


def multilabel_holdout(
    Y, test_size: float | int, random_state: int | None = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Indices ``(train_index, test_index)`` of one multi-label stratified holdout.

    ``Y`` is an ``(n, L)`` 0/1 indicator (array-like or scipy sparse); ``test_size`` a fraction
    in (0, 1) or a count in [1, n - 1]. Every label keeps nearly its share of ``Y`` in both
    parts; the part sizes are those asked for as nearly as the labels allow (iterative
    stratification places rare labels first and may move a few examples between parts).
    """
    Y = _indicator(Y)
    n = len(Y)
    if n < 2:
        raise ValueError(f"Y has {n} row(s); a holdout needs at least 2")
    _check_test_size(test_size, n)
    if Y.shape[1] == 1:  # iterstrat needs two columns to see an indicator; an empty one is inert
        Y = np.hstack([Y, np.zeros_like(Y)])
    splitter = MultilabelStratifiedShuffleSplit(
        n_splits=1, test_size=test_size, random_state=random_state
    )
    train, test = next(splitter.split(np.zeros(n), Y))
    return train, test


def _indicator(Y) -> np.ndarray:
    """``Y`` as a dense boolean ``(n, L)`` array, after checking that it is a 2-D 0/1 matrix."""
    Y = Y.toarray() if hasattr(Y, "toarray") else np.asarray(Y)
    if Y.ndim != 2:
        raise ValueError(f"Y must be a 2-D (n_samples, n_labels) indicator, got shape {Y.shape}")
    if Y.shape[1] == 0:
        raise ValueError("Y has no label column")
    if Y.dtype == object or not np.isin(Y, (0, 1)).all():
        raise ValueError("Y must hold only 0 and 1 (a label indicator matrix)")
    return Y.astype(bool)


def _check_test_size(test_size: float | int, n: int) -> None:
    """Accept a fraction in (0, 1) or a count in [1, n - 1], as a holdout of ``n`` examples."""
    if isinstance(test_size, Integral) and not isinstance(test_size, bool):
        if not 1 <= test_size <= n - 1:
            raise ValueError(f"test_size={test_size} must be a count from 1 to {n - 1}")
    elif not (isinstance(test_size, Real) and 0 < test_size < 1):
        raise ValueError(f"test_size={test_size!r} must be a fraction in (0, 1) or a count")


def _multilabel_split(X: Sequence, Y, val_size: float, test_size: float, seed) -> tuple:
    """:func:`train_val_test_split` of multi-label ``Y``, by two iterative holdouts."""
    if multilabel_type(Y) == "multilabel-sequences":
        indicator = check_targets(Y, len(Y))[2]
    else:
        indicator = _indicator(Y)  # a sparse matrix has no len()
    n = len(indicator)
    if len(X) != n:
        raise ValueError(f"X has {len(X)} examples and y {n} rows")
    rest, test = multilabel_holdout(indicator, test_size, seed)
    n_val = round(val_size * n)  # val_size is a fraction of all of X: a count, from the rest
    if not 1 <= n_val < len(rest):
        raise ValueError(f"val_size={val_size} of {n} examples leaves no validation or train part")
    train, val = multilabel_holdout(indicator[rest], n_val, seed)
    train, val = rest[train], rest[val]
    parts = (train, val, test)
    return (*(take(X, part) for part in parts), *(take(Y, part) for part in parts))


def _group_split(
    X: Sequence, y: Sequence, groups: Sequence, val_size: float, test_size: float, seed
) -> tuple:
    """:func:`train_val_test_split` keeping each group in one part."""
    y, groups = np.asarray(y), np.asarray(groups)
    if len(groups) != len(y):
        raise ValueError(f"groups has {len(groups)} entries for {len(y)} examples")

    def one_fold(index: np.ndarray, size: float) -> tuple[np.ndarray, np.ndarray]:
        folds = StratifiedGroupKFold(max(2, round(1 / size)), shuffle=True, random_state=seed)
        rest, held_out = next(folds.split(index, y[index], groups[index]))
        return index[rest], index[held_out]

    rest, test = one_fold(np.arange(len(y)), test_size)
    train, val = one_fold(rest, val_size / (1 - test_size))
    parts = [take(X, part) for part in (train, val, test)]  # by position
    return (*parts, y[train], y[val], y[test])


def grouped_train_val_test_split(
    X: Sequence,
    y: Sequence,
    groups: Sequence,
    *,
    val_size: float = 0.2,
    test_size: float = 0.2,
    random_state: int | None = 0,
) -> tuple:
    """Split into train, validation and test parts with every group whole in one part.

    Like :func:`train_val_test_split`, and stratified as far as the groups allow: groups are
    dealt largest first (equal sizes in seeded random order), each to the part that lacks its
    labels most, i.e. whose class counts fall furthest below their targets, weighted by the
    group's class counts. Each part comes back in seeded random order (the data may be sorted
    by class, and fastText trains on lines in the order given).

    Returns ``X_train, X_val, X_test, y_train, y_val, y_test``.
    """
    check_split_sizes(val_size, test_size)
    y = np.asarray(y)
    if not len(y) == len(X) == len(groups):
        raise ValueError(f"X, y and groups differ in length: {len(X)}, {len(y)}, {len(groups)}")
    _, codes = np.unique(y, return_inverse=True)
    _, group_of = np.unique(np.asarray(groups), return_inverse=True)
    counts = np.zeros((group_of.max() + 1, codes.max() + 1))
    np.add.at(counts, (group_of, codes), 1)

    rng = np.random.default_rng(random_state)
    order = rng.permutation(len(counts))
    order = order[np.argsort(-counts[order].sum(1), kind="stable")]
    fractions = np.array([1 - val_size - test_size, val_size, test_size])
    deficit = fractions[:, None] * counts.sum(0)  # per part and class: texts still wanted
    part_of = np.empty(len(counts), dtype=np.int64)
    for group in order:
        part = int(np.argmax(deficit @ counts[group]))
        part_of[group] = part
        deficit[part] -= counts[group]
    parts = [rng.permutation(np.flatnonzero(part_of[group_of] == p)) for p in range(3)]
    return (*(take(X, index) for index in parts), *(y[index] for index in parts))


def holdout(
    y: np.ndarray, fraction: float, seed: int, classes: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Training and validation indices of class codes (or a multi-label indicator) ``y``,
    ``fraction`` of them held out: stratified by class, or by label set through iterative
    stratification (:func:`multilabel_holdout`). ``classes`` name the codes in the error a
    class too rare to stratify gets."""
    if y.ndim == 2:
        return multilabel_holdout(y, fraction, seed)
    counts = np.bincount(y)
    n_val = math.ceil(fraction * len(y))
    if counts.min() < 2 or min(n_val, len(y) - n_val) < len(counts):
        names = np.arange(len(counts)) if classes is None else np.asarray(classes)
        rare = names[counts < 2].tolist()
        raise ValueError(
            f"fit holds out a stratified validation part (validation_fraction={fraction}), "
            "which needs at least 2 texts of every class and room for each class on both "
            f"sides: {len(y)} texts of {len(counts)} classes"
            + (f", of which {rare} occur only once" if rare else "")
            + "; pass validation_data=(X_val, y_val), or more texts"
        )
    index = np.arange(len(y))
    return tuple(train_test_split(index, test_size=n_val, stratify=y, random_state=seed))
