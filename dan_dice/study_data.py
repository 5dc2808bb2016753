"""The study grid's data: the fixed 60/20/20 split of each dataset, rarer positive rates for the
imbalance sweep, and small subsets for ``--quick`` runs. The suites, the duplicate report and the
benchmarks all load their splits here."""

from __future__ import annotations

import numpy as np

from .datasets import load_dataset
from .splits import Split, train_val_test_split

QUICK_SIZES = {"train": 600, "val": 200, "test": 300}
"""Texts per split in ``--quick`` mode: enough for a smoke test of the whole pipeline."""


def load_split(
    name: str, data_home: str | None = None, *, split_seed: int = 0, quick: bool = False
) -> Split:
    """The fixed 60/20/20 split of a dataset (the same for every seed and loss), split with
    ``split_seed``; ``quick`` keeps the first :data:`QUICK_SIZES` texts of each part.

    ``"NAME@RATE"`` (e.g. ``"sms@0.05"``) keeps every negative of the training and validation
    parts and a seeded subsample of the positives so that they make up ``RATE`` of each;
    the test part is left as it is, so every rate is scored on the same test set.
    """
    dataset, _, rate = name.partition("@")
    bunch = load_dataset(dataset, data_home)
    parts = train_val_test_split(
        bunch.data, bunch.target, random_state=split_seed, groups=bunch.get("groups")
    )
    X_train, X_val, X_test, y_train, y_val, y_test = parts
    if quick:
        X_train, y_train = X_train[: QUICK_SIZES["train"]], y_train[: QUICK_SIZES["train"]]
        X_val, y_val = X_val[: QUICK_SIZES["val"]], y_val[: QUICK_SIZES["val"]]
        X_test, y_test = X_test[: QUICK_SIZES["test"]], y_test[: QUICK_SIZES["test"]]
    if rate:
        rng = np.random.default_rng(split_seed)
        X_train, y_train = subsample_positives(X_train, y_train, float(rate), rng)
        X_val, y_val = subsample_positives(X_val, y_val, float(rate), rng)
    return Split(X_train, X_val, X_test, y_train, y_val, y_test, list(bunch.target_names))


def subsample_positives(
    X: list[str], y: np.ndarray, rate: float, rng: np.random.Generator
) -> tuple[list, np.ndarray]:
    """Keep all negatives and enough positives (at least 2) to make ``rate`` of the texts."""
    if not 0 < rate < 1:
        raise ValueError(f"a positive rate must be in (0, 1), got {rate}")
    positives, negatives = np.flatnonzero(y == 1), np.flatnonzero(y == 0)
    wanted = max(2, round(rate / (1 - rate) * len(negatives)))
    kept = np.sort(np.r_[negatives, rng.choice(positives, min(wanted, len(positives)), False)])
    return [X[i] for i in kept], y[kept]
