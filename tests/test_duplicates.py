"""Tests for dan_dice.duplicates: counts on hand-made lists, leakage, and the grouped split."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dan_dice.duplicates import (
    duplicate_groups,
    duplicate_keys,
    duplicate_report,
    leakage,
    normalize,
)
from dan_dice.splits import grouped_train_val_test_split

TEXTS = ["Free prize!", "free  prize!", "Free prize!", "hello", "Hello", "free prize !", "bye"]
LABELS = [1, 1, 0, 0, 0, 1, 0]


def test_normalize_lowercases_and_collapses_whitespace():
    assert normalize("  Free\tPRIZE \n now ") == "free prize now"


def test_duplicate_keys_reject_unknown_level():
    with pytest.raises(ValueError, match="unknown level"):
        duplicate_keys(TEXTS, "fuzzy")


def test_duplicate_groups_number_groups_by_first_occurrence():
    assert duplicate_groups(TEXTS, "exact").tolist() == [0, 1, 0, 2, 3, 4, 5]
    assert duplicate_groups(TEXTS, "normalized").tolist() == [0, 0, 0, 1, 1, 2, 3]
    assert duplicate_groups(TEXTS, "tokens").tolist() == [0, 0, 0, 1, 1, 0, 2]


def test_duplicate_report_counts_duplicates_groups_and_conflicts():
    report = duplicate_report(TEXTS, LABELS).set_index("level")
    assert report.loc["exact"].to_dict() == {
        "texts": 7,
        "unique": 6,
        "duplicates": 1,
        "groups": 1,
        "in_groups": 2,
        "conflicting_groups": 1,  # "Free prize!" is labelled 1 and 0
        "conflicting_duplicates": 1,
    }
    normalized = report.loc["normalized"]
    assert (normalized.duplicates, normalized.groups, normalized.in_groups) == (3, 2, 5)
    assert (normalized.conflicting_groups, normalized.conflicting_duplicates) == (1, 2)
    tokens = report.loc["tokens"]  # "free prize !" joins the first group
    assert (tokens.duplicates, tokens.groups, tokens.in_groups) == (4, 2, 6)
    assert (tokens.conflicting_groups, tokens.conflicting_duplicates) == (1, 3)


def test_duplicate_report_without_duplicates_and_length_check():
    report = duplicate_report(["a", "b"], [0, 1], levels=["exact"])
    assert report.loc[0, "duplicates"] == report.loc[0, "conflicting_groups"] == 0
    with pytest.raises(ValueError, match="2 texts but 3 labels"):
        duplicate_report(["a", "b"], [0, 1, 1])


def test_leakage_counts_test_texts_seen_in_train_by_label():
    train, train_y = ["Free prize!", "hello", "bye"], [1, 0, 0]
    test, test_y = ["free prize!", "FREE PRIZE!", "Hello", "new text", "bye"], [1, 0, 0, 1, 1]
    assert leakage(train, train_y, test, test_y, "exact") == {
        "leaked": 1,  # "bye" only
        "same_label": 0,
        "other_label": 1,
    }
    assert leakage(train, train_y, test, test_y) == {
        "leaked": 4,
        "same_label": 2,
        "other_label": 2,
    }


def _toy(n: int = 1000, seed: int = 0):
    """Texts in duplicate groups of 1 to 5 copies, about 20 % positive, labels per group."""
    rng = np.random.default_rng(seed)
    sizes = rng.integers(1, 6, size=n // 3)
    groups = np.repeat(np.arange(len(sizes)), sizes)
    y = (rng.random(len(sizes)) < 0.2).astype(int)[groups]
    X = [f"text {g}" for g in groups]
    return X, y, groups


def test_grouped_split_keeps_groups_whole_and_sizes_stratified():
    X, y, groups = _toy()
    X_tr, X_va, X_te, y_tr, y_va, y_te = grouped_train_val_test_split(X, y, groups)
    assert isinstance(X_tr, list)
    parts = [set(X_tr), set(X_va), set(X_te)]  # a text names its group
    assert not (parts[0] & parts[1] or parts[0] & parts[2] or parts[1] & parts[2])
    assert sorted(X_tr + X_va + X_te) == sorted(X)
    n = len(y)
    for part, share in ((y_tr, 0.6), (y_va, 0.2), (y_te, 0.2)):
        assert abs(len(part) / n - share) < 0.01
        assert abs(part.mean() - y.mean()) < 0.01
    for X_part, y_part in ((X_tr, y_tr), (X_va, y_va), (X_te, y_te)):
        assert np.array_equal(y_part, y[[X.index(x) for x in X_part]])


def test_grouped_split_is_seeded_and_shuffled():
    X, y, groups = _toy()
    first = grouped_train_val_test_split(X, y, groups, random_state=1)
    again = grouped_train_val_test_split(X, y, groups, random_state=1)
    other = grouped_train_val_test_split(X, y, groups, random_state=2)
    assert first[0] == again[0] and first[2] == again[2]
    assert set(first[2]) != set(other[2])
    assert first[0] != sorted(first[0], key=X.index)  # not in the data's order


def test_grouped_split_with_arrays_strings_and_odd_sizes():
    X, y, groups = _toy(300)
    labels = np.where(y == 1, "spam", "ham")
    X_tr, X_va, X_te, _, _, y_te = grouped_train_val_test_split(
        np.array(X), labels, [f"g{g}" for g in groups], val_size=0.1, test_size=0.3
    )
    assert isinstance(X_tr, np.ndarray) and set(y_te) == {"spam", "ham"}
    assert abs(len(X_te) / len(X) - 0.3) < 0.03 and abs(len(X_va) / len(X) - 0.1) < 0.03


@pytest.mark.parametrize("sizes", [(0.0, 0.2), (0.5, 0.5), (0.2, -0.1)])
def test_grouped_split_rejects_bad_sizes(sizes):
    with pytest.raises(ValueError, match="val_size and test_size"):
        grouped_train_val_test_split(
            ["a", "b"], [0, 1], [0, 1], val_size=sizes[0], test_size=sizes[1]
        )


def test_grouped_split_rejects_length_mismatch():
    with pytest.raises(ValueError, match="differ in length"):
        grouped_train_val_test_split(["a", "b"], [0, 1], [0])


@settings(max_examples=50, deadline=None)
@given(
    st.lists(st.tuples(st.integers(0, 15), st.integers(0, 2)), min_size=3, max_size=80),
    st.integers(0, 2**31),
)
def test_grouped_split_partitions_any_data(rows, seed):
    groups, y = (np.array(column) for column in zip(*rows, strict=True))
    X = list(range(len(y)))
    X_tr, X_va, X_te, *_ = grouped_train_val_test_split(X, y, groups, random_state=seed)
    assert sorted(X_tr + X_va + X_te) == X
    side = {}
    for part, indices in enumerate((X_tr, X_va, X_te)):
        for i in indices:
            assert side.setdefault(groups[i], part) == part
