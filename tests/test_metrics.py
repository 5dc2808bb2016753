"""Tests for dan_dice.metrics, checked against scikit-learn and brute force."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn import metrics as skm

from dan_dice.metrics import (
    COLLAPSE_SHARE,
    best_threshold,
    confusion_matrix,
    is_collapsed,
    majority_share,
    per_class_f1,
    scores,
)


@st.composite
def label_pairs(draw, n_classes: int):
    n = draw(st.integers(1, 40))
    labels = st.lists(st.integers(0, n_classes - 1), min_size=n, max_size=n)
    return np.array(draw(labels)), np.array(draw(labels))


@settings(deadline=None)
@given(label_pairs(n_classes=2))
def test_binary_scores_match_sklearn(pair):
    y_true, y_pred = pair
    result = scores(y_true, y_pred, n_classes=2)
    kw = {"zero_division": 0}
    assert result["accuracy"] == pytest.approx(skm.accuracy_score(y_true, y_pred))
    assert result["f1"] == pytest.approx(skm.f1_score(y_true, y_pred, **kw))
    assert result["precision"] == pytest.approx(skm.precision_score(y_true, y_pred, **kw))
    assert result["recall"] == pytest.approx(skm.recall_score(y_true, y_pred, **kw))
    macro = skm.f1_score(y_true, y_pred, labels=[0, 1], average="macro", **kw)
    assert result["macro_f1"] == pytest.approx(macro)


@settings(deadline=None)
@given(label_pairs(n_classes=4))
def test_multiclass_scores_are_sklearn_macro_averages(pair):
    y_true, y_pred = pair
    result = scores(y_true, y_pred, n_classes=4)
    kw = {"labels": [0, 1, 2, 3], "average": "macro", "zero_division": 0}
    assert result["accuracy"] == pytest.approx(skm.accuracy_score(y_true, y_pred))
    assert result["f1"] == pytest.approx(skm.f1_score(y_true, y_pred, **kw))
    assert result["macro_f1"] == pytest.approx(skm.f1_score(y_true, y_pred, **kw))
    assert result["precision"] == pytest.approx(skm.precision_score(y_true, y_pred, **kw))
    assert result["recall"] == pytest.approx(skm.recall_score(y_true, y_pred, **kw))


@pytest.mark.parametrize(
    ("y_true", "y_pred"),
    [([0, 0, 0], [0, 0, 0]), ([1, 1], [0, 0]), ([0, 0], [1, 1])],
    ids=["no-positive-at-all", "no-positive-predicted", "no-positive-true"],
)
def test_binary_scores_zero_division_gives_zero(y_true, y_pred):
    result = scores(np.array(y_true), np.array(y_pred))
    assert result["f1"] == 0.0
    assert result["precision"] == 0.0
    assert result["recall"] == 0.0
    assert all(np.isfinite(v) for v in result.values())


def test_scores_of_perfect_binary_predictions():
    y = np.array([0, 1, 1, 0, 1])
    assert scores(y, y) == {
        "accuracy": 1.0,
        "f1": 1.0,
        "macro_f1": 1.0,
        "precision": 1.0,
        "recall": 1.0,
    }


def test_confusion_matrix_counts_true_rows_predicted_columns():
    cm = confusion_matrix(np.array([0, 0, 1, 2, 2, 2]), np.array([0, 1, 1, 2, 0, 2]), 3)
    np.testing.assert_array_equal(cm, [[1, 1, 0], [0, 1, 0], [1, 0, 2]])


@settings(deadline=None)
@given(label_pairs(n_classes=3))
def test_confusion_matrix_matches_sklearn(pair):
    y_true, y_pred = pair
    expected = skm.confusion_matrix(y_true, y_pred, labels=[0, 1, 2])
    np.testing.assert_array_equal(confusion_matrix(y_true, y_pred, 3), expected)


def test_confusion_matrix_includes_absent_classes():
    cm = confusion_matrix(np.array([0, 0]), np.array([0, 0]), 3)
    assert cm.shape == (3, 3)
    assert cm.sum() == 2


def test_per_class_f1_is_zero_for_a_class_never_true_nor_predicted():
    cm = confusion_matrix(np.array([0, 1]), np.array([0, 1]), 3)
    np.testing.assert_array_equal(per_class_f1(cm), [1.0, 1.0, 0.0])


def test_majority_share_is_share_of_most_predicted_class():
    assert majority_share(np.array([2, 2, 0, 2])) == 0.75
    assert majority_share(np.array([1])) == 1.0


def test_majority_share_of_no_prediction_is_zero():
    assert majority_share(np.array([], dtype=int)) == 0.0


def test_is_collapsed_at_the_share_threshold():
    y_pred = np.r_[np.zeros(99, dtype=int), 1]
    assert COLLAPSE_SHARE == 0.99
    assert is_collapsed(y_pred)
    assert not is_collapsed(np.r_[np.zeros(98, dtype=int), 1, 1])
    assert is_collapsed(np.r_[np.zeros(98, dtype=int), 1, 1], share=0.98)


def test_is_collapsed_false_for_balanced_predictions():
    assert not is_collapsed(np.array([0, 1, 0, 1]))


def brute_force_best_f1(y_true: np.ndarray, proba: np.ndarray) -> float:
    return max(skm.f1_score(y_true, proba >= t, zero_division=0) for t in np.unique(proba))


@settings(deadline=None)
@given(
    st.lists(st.tuples(st.integers(0, 1), st.integers(1, 19)), min_size=1, max_size=30).map(
        lambda pairs: (np.array([y for y, _ in pairs]), np.array([p / 20 for _, p in pairs]))
    )
)
def test_best_threshold_finds_the_best_f1_and_achieves_it(data):
    y_true, proba = data
    threshold, f1 = best_threshold(y_true, proba)
    assert f1 == pytest.approx(brute_force_best_f1(y_true, proba))
    assert skm.f1_score(y_true, proba >= threshold, zero_division=0) == pytest.approx(f1)


def test_best_threshold_is_clipped_inside_zero_one():
    threshold, f1 = best_threshold(np.array([1, 1]), np.array([0.0, 0.0]))
    assert 0 < threshold < 1e-6
    assert f1 == 1.0


def test_best_threshold_is_midpoint_below_the_chosen_probability():
    y_true = np.array([1, 1, 0, 1, 0, 0])
    proba = np.array([0.9, 0.8, 0.6, 0.4, 0.3, 0.1])
    threshold, f1 = best_threshold(y_true, proba)
    # predicting the top 4 gives F1 = 2*3 / (4 + 3) = 6/7, the best; top 2 gives 0.8
    assert f1 == pytest.approx(6 / 7)
    assert threshold == pytest.approx(0.35)


def test_best_threshold_keeps_tied_probabilities_together():
    y_true = np.array([1, 0, 0, 0])
    proba = np.array([0.7, 0.7, 0.2, 0.2])
    threshold, f1 = best_threshold(y_true, proba)
    assert f1 == pytest.approx(2 / 3)
    assert 0.2 < threshold < 0.7


def test_best_threshold_unsorted_input_is_same_as_sorted():
    rng = np.random.default_rng(0)
    y_true = rng.integers(0, 2, 50)
    proba = rng.random(50)
    order = rng.permutation(50)
    assert best_threshold(y_true, proba) == best_threshold(y_true[order], proba[order])
