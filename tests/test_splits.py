"""Tests for dan_dice.splits: stratified, grouped and multi-label (iterative) splits."""

import numpy as np
import pandas as pd
import pytest
from scipy import sparse

from dan_dice.splits import check_split_sizes, multilabel_holdout, train_val_test_split

# --- single-label and grouped splits ------------------------------------------------------------


def test_train_val_test_split_sizes_and_stratification():
    X = [f"text {i}" for i in range(100)]
    y = np.array([1] * 20 + [0] * 80)
    X_train, X_val, X_test, y_train, y_val, y_test = train_val_test_split(X, y)
    assert (len(X_train), len(X_val), len(X_test)) == (60, 20, 20)
    assert isinstance(X_train, list) and isinstance(y_train, np.ndarray)
    assert (y_train.sum(), y_val.sum(), y_test.sum()) == (12, 4, 4)
    assert sorted(X_train + X_val + X_test) == sorted(X)


def test_train_val_test_split_custom_sizes_and_arrays():
    X, y = np.arange(200).reshape(100, 2), np.tile([0, 1], 50)
    X_train, X_val, X_test, *_ = train_val_test_split(X, y, val_size=0.1, test_size=0.3)
    assert (len(X_train), len(X_val), len(X_test)) == (60, 10, 30)


def test_train_val_test_split_seed():
    X, y = [str(i) for i in range(50)], [i % 2 for i in range(50)]
    first = train_val_test_split(X, y, random_state=1)
    assert first == train_val_test_split(X, y, random_state=1)
    assert first != train_val_test_split(X, y, random_state=2)


@pytest.mark.parametrize(
    ("val_size", "test_size"), [(0, 0.2), (0.2, 0), (-0.1, 0.2), (0.5, 0.5), (0.7, 0.6)]
)
def test_train_val_test_split_bad_sizes(val_size, test_size):
    with pytest.raises(ValueError, match="positive fractions that sum to less than 1"):
        train_val_test_split(["a", "b"] * 10, [0, 1] * 10, val_size=val_size, test_size=test_size)


def test_group_split_keeps_each_group_on_one_side():
    rng = np.random.default_rng(0)
    groups = rng.integers(0, 300, size=2000)
    y = (rng.random(2000) < 0.15).astype(int)
    X = [f"text {i}" for i in range(2000)]
    X_train, X_val, X_test, y_train, y_val, y_test = train_val_test_split(X, y, groups=groups)
    side = {}
    for part, texts in (("train", X_train), ("val", X_val), ("test", X_test)):
        for text in texts:
            group = groups[int(text.split()[1])]
            assert side.setdefault(group, part) == part
    assert sorted(X_train + X_val + X_test) == sorted(X)
    for part, size in ((X_train, 0.6), (X_val, 0.2), (X_test, 0.2)):
        assert len(part) / 2000 == pytest.approx(size, abs=0.03)
    for labels in (y_train, y_val, y_test):
        assert labels.mean() == pytest.approx(0.15, abs=0.03)


def test_group_split_needs_one_group_per_example():
    with pytest.raises(ValueError, match="groups has 2 entries for 3 examples"):
        train_val_test_split(["a", "b", "c"], [0, 1, 0], groups=[1, 2])


def test_check_split_sizes_accepts_fractions_that_leave_a_training_part():
    check_split_sizes(0.1, 0.3)
    with pytest.raises(ValueError, match=r"got val_size=0\.6 and test_size=0\.4"):
        check_split_sizes(0.6, 0.4)


# --- multi-label -------------------------------------------------------------------------------


def long_tailed(n: int = 2000, n_labels: int = 12, seed: int = 0) -> np.ndarray:
    """An (n, n_labels) indicator whose label frequencies fall geometrically from 30 % to a
    handful of examples; some rows have no label, some several."""
    rng = np.random.default_rng(seed)
    return (rng.random((n, n_labels)) < 0.3 * 0.6 ** np.arange(n_labels)).astype(np.int8)


def test_multilabel_holdout_keeps_every_label_share():
    Y = long_tailed()
    assert Y.sum(axis=0).min() <= 5  # a tail label with a handful of examples
    for seed in range(3):
        train, test = multilabel_holdout(Y, 0.2, random_state=seed)
        assert sorted(np.r_[train, test].tolist()) == list(range(len(Y)))
        assert len(test) == pytest.approx(0.2 * len(Y), abs=5)
        # every label's test count is its 20 % share rounded up or down
        assert np.abs(Y[test].sum(axis=0) - 0.2 * Y.sum(axis=0)).max() < 1
        np.testing.assert_allclose(Y[train].mean(axis=0), Y.mean(axis=0), atol=0.002)
        np.testing.assert_allclose(Y[test].mean(axis=0), Y.mean(axis=0), atol=0.005)


def test_a_random_holdout_strays_further_on_rare_labels():
    Y = long_tailed()
    expected = 0.2 * Y.sum(axis=0)
    rare = Y.sum(axis=0) < 100
    stratified, random = [], []
    for seed in range(10):
        _, test = multilabel_holdout(Y, 0.2, random_state=seed)
        stratified.append(np.abs(Y[test].sum(axis=0) - expected)[rare])
        test = np.random.default_rng(seed).permutation(len(Y))[: len(test)]
        random.append(np.abs(Y[test].sum(axis=0) - expected)[rare])
    assert np.max(stratified) < 1
    assert np.mean(random) > 3 * np.mean(stratified)
    assert np.max(random) >= 3


def test_multilabel_holdout_is_seeded():
    Y = long_tailed(300)
    first = multilabel_holdout(Y, 0.25, random_state=1)
    again = multilabel_holdout(Y, 0.25, random_state=1)
    other = multilabel_holdout(Y, 0.25, random_state=2)
    np.testing.assert_array_equal(first[1], again[1])
    assert set(first[1]) != set(other[1])


def test_multilabel_holdout_takes_a_count_sparse_bool_and_one_column():
    Y = long_tailed(200, 4)
    _, test = multilabel_holdout(Y, 50, random_state=0)
    assert len(test) == pytest.approx(50, abs=2)
    dense = multilabel_holdout(Y, 0.3, random_state=0)
    for other in (sparse.csr_matrix(Y), Y.astype(bool), Y.tolist()):
        np.testing.assert_array_equal(multilabel_holdout(other, 0.3, random_state=0)[1], dense[1])
    one = Y[:, :1]
    _, test = multilabel_holdout(one, 0.25, random_state=0)
    assert abs(one[test].sum() - 0.25 * one.sum()) < 1


@pytest.mark.parametrize(
    ("Y", "test_size", "match"),
    [
        ([0, 1, 1, 0], 0.5, "2-D"),
        (np.ones((4, 2, 1)), 0.5, "2-D"),
        (np.zeros((4, 0)), 0.5, "no label column"),
        ([[0, 2], [1, 0], [0, 1]], 0.5, "only 0 and 1"),
        ([[0.5, 1], [1, 0], [0, 1]], 0.5, "only 0 and 1"),
        ([[np.nan, 1], [1, 0], [0, 1]], 0.5, "only 0 and 1"),
        ([["a", "b"], ["c", "d"]], 0.5, "only 0 and 1"),
        ([[0, 1]], 0.5, "at least 2"),
        ([[0, 1], [1, 0], [1, 1]], 0, "count from 1 to 2"),
        ([[0, 1], [1, 0], [1, 1]], 1.0, r"fraction in \(0, 1\)"),
        ([[0, 1], [1, 0], [1, 1]], -0.2, r"fraction in \(0, 1\)"),
        ([[0, 1], [1, 0], [1, 1]], 3, "count from 1 to 2"),
        ([[0, 1], [1, 0], [1, 1]], True, r"fraction in \(0, 1\)"),
        ([[0, 1], [1, 0], [1, 1]], "0.5", r"fraction in \(0, 1\)"),
    ],
)
def test_multilabel_holdout_refuses_bad_input(Y, test_size, match):
    with pytest.raises(ValueError, match=match):
        multilabel_holdout(Y, test_size, random_state=0)


def test_train_val_test_split_of_a_2d_y_is_iterative():
    Y = long_tailed(1000, 8)
    X = [f"text {i}" for i in range(1000)]
    X_train, X_val, X_test, Y_train, Y_val, Y_test = train_val_test_split(X, Y)
    assert (len(X_train), len(X_val), len(X_test)) == pytest.approx((600, 200, 200), abs=5)
    assert isinstance(X_train, list) and Y_train.shape[1] == 8
    assert sorted(X_train + X_val + X_test) == sorted(X)
    for X_part, Y_part, share in (
        (X_train, Y_train, 0.6),
        (X_val, Y_val, 0.2),
        (X_test, Y_test, 0.2),
    ):
        np.testing.assert_array_equal(Y_part, Y[[int(text.split()[1]) for text in X_part]])
        assert np.abs(Y_part.sum(axis=0) - share * Y.sum(axis=0)).max() < 2


def test_train_val_test_split_of_a_dataframe_keeps_its_type_and_columns():
    Y = pd.DataFrame(long_tailed(200, 3), columns=["joy", "anger", "fear"])
    X = np.arange(200)
    X_train, _, X_test, Y_train, _, Y_test = train_val_test_split(X, Y, random_state=3)
    assert isinstance(Y_train, pd.DataFrame) and list(Y_train.columns) == ["joy", "anger", "fear"]
    np.testing.assert_array_equal(Y_test.index, X_test)
    np.testing.assert_array_equal(Y_train.index, X_train)


def test_train_val_test_split_of_a_2d_y_refuses_groups_and_mismatched_lengths():
    Y = long_tailed(100, 3)
    with pytest.raises(ValueError, match="groups are not supported with a 2-D"):
        train_val_test_split(list(range(100)), Y, groups=np.arange(100) // 2)
    with pytest.raises(ValueError, match="X has 99 examples and y 100 rows"):
        train_val_test_split(list(range(99)), Y)
    with pytest.raises(ValueError, match=r"val_size=0\.1 of 4 examples leaves no validation"):
        train_val_test_split(list(range(4)), Y[:4], val_size=0.1)
