"""Tests for dan_dice.metrics, checked against scikit-learn and brute force."""

import subprocess
import sys
import time

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn import metrics as skm

from dan_dice.metrics import (
    COLLAPSE_SHARE,
    best_global_threshold,
    best_threshold,
    best_thresholds,
    confusion_matrix,
    frequency_groups,
    is_collapsed,
    majority_share,
    multilabel_scores,
    per_class_f1,
    per_label_scores,
    scores,
    tuned_thresholds,
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
    """The best F1 over every cut whose predictions are not one class for 99 % of the texts
    while the labels are not (over every cut if none is)."""
    f1s, kept = [], []
    for t in np.unique(proba):
        predicted = (proba >= t).astype(int)
        f1s.append(skm.f1_score(y_true, predicted, zero_division=0))
        share = np.bincount(predicted, minlength=2) / len(predicted)
        actual = np.bincount(y_true, minlength=2) / len(y_true)
        kept.append(not (share.max() >= 0.99 and actual[share.argmax()] < 0.99))
    return max(f for f, keep in zip(f1s, kept, strict=True) if keep or not any(kept))


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


def test_best_threshold_never_picks_everything_positive_on_mixed_labels():
    """60 validation texts, 83 % positive, scored so that only "everything positive" reaches
    the top F1 (0.91): that one-class cut is passed over for the best of the others."""
    y_true = np.r_[np.ones(50, dtype=int), np.zeros(10, dtype=int)]
    proba = np.r_[np.linspace(0.9, 0.1, 50), np.full(10, 0.5)]
    threshold, f1 = best_threshold(y_true, proba)
    assert skm.f1_score(y_true, np.ones(60)) == pytest.approx(10 / 11)
    assert (proba >= threshold).mean() < 0.99
    assert f1 == pytest.approx(skm.f1_score(y_true, proba >= threshold))
    assert f1 < 10 / 11


def test_best_threshold_keeps_everything_positive_when_labels_are_that_one_sided():
    y_true = np.r_[np.ones(199, dtype=int), 0]
    proba = np.r_[np.linspace(0.9, 0.2, 199), 0.6]
    threshold, _ = best_threshold(y_true, proba)
    assert (proba >= threshold).all()


def test_best_threshold_unsorted_input_is_same_as_sorted():
    rng = np.random.default_rng(0)
    y_true = rng.integers(0, 2, 50)
    proba = rng.random(50)
    order = rng.permutation(50)
    assert best_threshold(y_true, proba) == best_threshold(y_true[order], proba[order])


# --- multi-label -------------------------------------------------------------------------------


def random_indicators(seed: int, n: int = 60, n_labels: int = 7) -> tuple[np.ndarray, np.ndarray]:
    """A true and a predicted indicator with long-tailed label frequencies; the last label is
    never true and the one before it never predicted (the zero-division cases)."""
    rng = np.random.default_rng(seed)
    share = np.linspace(0.5, 0.02, n_labels)
    Y_true = (rng.random((n, n_labels)) < share).astype(int)
    Y_pred = (rng.random((n, n_labels)) < share).astype(int)
    Y_true[:, -1] = 0
    Y_pred[:, -2] = 0
    return Y_true, Y_pred


@st.composite
def indicator_pairs(draw):
    # two labels or more: sklearn reads an (n, 1) array as a binary column, not as multi-label
    n, n_labels = draw(st.integers(1, 12)), draw(st.integers(2, 5))
    cells = st.lists(st.integers(0, 1), min_size=n * n_labels, max_size=n * n_labels)
    return (np.array(draw(cells)).reshape(n, n_labels), np.array(draw(cells)).reshape(n, n_labels))


def check_against_sklearn(Y_true: np.ndarray, Y_pred: np.ndarray) -> None:
    result = multilabel_scores(Y_true, Y_pred)
    kw = {"zero_division": 0}
    assert result["micro_f1"] == pytest.approx(skm.f1_score(Y_true, Y_pred, average="micro", **kw))
    assert result["macro_f1"] == pytest.approx(skm.f1_score(Y_true, Y_pred, average="macro", **kw))
    assert result["hamming"] == pytest.approx(skm.hamming_loss(Y_true, Y_pred))
    assert result["subset_accuracy"] == pytest.approx(skm.accuracy_score(Y_true, Y_pred))
    precision = skm.precision_score(Y_true, Y_pred, average="micro", **kw)
    assert result["micro_precision"] == pytest.approx(precision)
    assert result["micro_recall"] == pytest.approx(
        skm.recall_score(Y_true, Y_pred, average="micro", **kw)
    )
    per_label = per_label_scores(Y_true, Y_pred)
    expected = skm.precision_recall_fscore_support(Y_true, Y_pred, average=None, **kw)
    for key, values in zip(("precision", "recall", "f1", "support"), expected, strict=True):
        np.testing.assert_allclose(per_label[key], values)
    assert all(isinstance(value, float) for value in result.values())


@pytest.mark.parametrize("seed", range(5))
def test_multilabel_scores_match_sklearn(seed):
    check_against_sklearn(*random_indicators(seed))


@settings(deadline=None, max_examples=60)
@given(indicator_pairs())
def test_multilabel_scores_match_sklearn_on_any_small_indicators(pair):
    check_against_sklearn(*pair)


def test_multilabel_scores_of_perfect_and_of_empty_predictions():
    Y = np.array([[1, 0, 1], [0, 1, 0]])
    perfect = multilabel_scores(Y, Y)
    assert perfect == {
        "micro_f1": 1.0,
        "macro_f1": 1.0,
        "hamming": 0.0,
        "subset_accuracy": 1.0,
        "micro_precision": 1.0,
        "micro_recall": 1.0,
    }
    nothing = multilabel_scores(Y, np.zeros_like(Y))
    assert nothing["micro_f1"] == nothing["macro_f1"] == nothing["micro_precision"] == 0.0
    assert nothing["hamming"] == pytest.approx(0.5)


@pytest.mark.parametrize(
    ("Y_true", "Y_pred", "match"),
    [
        ([1, 0, 1], [1, 0, 1], "2-D"),
        ([[1, 0]], [[1, 0, 1]], r"shape \(1, 2\) and Y_pred \(1, 3\)"),
        ([[1, 2]], [[1, 0]], "Y_true must hold only 0 and 1"),
        ([[1, 0]], [[0.5, 0]], "Y_pred must hold only 0 and 1"),
        (np.zeros((3, 0)), np.zeros((3, 0)), "no label column"),
    ],
)
def test_multilabel_scores_refuse_bad_input(Y_true, Y_pred, match):
    with pytest.raises(ValueError, match=match):
        multilabel_scores(Y_true, Y_pred)
    with pytest.raises(ValueError, match=match):
        per_label_scores(Y_true, Y_pred)


def random_probabilities(seed: int, n: int = 80, n_labels: int = 6, levels: int = 0):
    """A long-tailed indicator (last label never true) and probabilities that lean towards it;
    ``levels`` > 0 rounds them to that many steps, so that many tie."""
    Y_true, _ = random_indicators(seed, n, n_labels)
    rng = np.random.default_rng(seed + 100)
    proba = np.clip(0.35 * Y_true + 0.65 * rng.random(Y_true.shape), 0, 1)
    return Y_true, np.round(proba * levels) / levels if levels else proba


@pytest.mark.parametrize("levels", [0, 10])
def test_best_thresholds_are_best_threshold_per_label(levels):
    Y_true, proba = random_probabilities(0, levels=levels)
    thresholds, f1s = best_thresholds(Y_true, proba)
    assert thresholds.shape == f1s.shape == (Y_true.shape[1],)
    for j in range(Y_true.shape[1] - 1):
        assert (thresholds[j], f1s[j]) == best_threshold(Y_true[:, j], proba[:, j])
        achieved = skm.f1_score(Y_true[:, j], proba[:, j] >= thresholds[j], zero_division=0)
        assert achieved == pytest.approx(f1s[j])
    # the last label has no positive: the documented default, not a fitted cut-off
    assert (thresholds[-1], f1s[-1]) == (0.5, 0.0)


def brute_force_best_macro_f1(Y_true: np.ndarray, proba: np.ndarray) -> float:
    """Macro-F1 of ``proba >= t`` at every distinct probability t, the plain way; the best."""
    best = 0.0
    for t in np.unique(proba):
        predicted = proba >= t
        tp = (predicted & (Y_true == 1)).sum(axis=0)
        denominator = predicted.sum(axis=0) + Y_true.sum(axis=0)
        best = max(
            best, np.mean([2 * a / b if b else 0.0 for a, b in zip(tp, denominator, strict=True)])
        )
    return best


@pytest.mark.parametrize(("seed", "levels"), [(0, 0), (1, 0), (2, 10), (3, 4), (4, 20)])
def test_best_global_threshold_is_the_macro_f1_best(seed, levels):
    Y_true, proba = random_probabilities(seed, levels=levels)
    threshold, macro_f1 = best_global_threshold(Y_true, proba)
    assert 0 < threshold < 1
    assert macro_f1 == pytest.approx(brute_force_best_macro_f1(Y_true, proba))
    achieved = skm.f1_score(Y_true, proba >= threshold, average="macro", zero_division=0)
    assert achieved == pytest.approx(macro_f1)


@settings(deadline=None, max_examples=60)
@given(
    st.integers(1, 15).flatmap(
        lambda n: st.tuples(
            st.lists(st.integers(0, 1), min_size=n * 3, max_size=n * 3),
            st.lists(st.integers(1, 9), min_size=n * 3, max_size=n * 3),
        )
    )
)
def test_best_global_threshold_matches_brute_force_on_small_ties(data):
    Y_true = np.array(data[0]).reshape(-1, 3)
    proba = np.array(data[1]).reshape(-1, 3) / 10
    threshold, macro_f1 = best_global_threshold(Y_true, proba)
    if not Y_true.any():
        assert (threshold, macro_f1) == (0.5, 0.0)
        return
    assert macro_f1 == pytest.approx(brute_force_best_macro_f1(Y_true, proba))
    achieved = skm.f1_score(Y_true, proba >= threshold, average="macro", zero_division=0)
    assert achieved == pytest.approx(macro_f1)


def test_best_global_threshold_is_fast_on_goemotions_test_size():
    Y_true, proba = random_probabilities(5, n=5_427, n_labels=28)
    start = time.perf_counter()
    threshold, macro_f1 = best_global_threshold(Y_true, proba)
    assert time.perf_counter() - start < 2.0  # about 0.1 s; brute force takes minutes
    achieved = skm.f1_score(Y_true, proba >= threshold, average="macro", zero_division=0)
    assert achieved == pytest.approx(macro_f1)
    for other in np.linspace(0.05, 0.95, 19):
        assert skm.f1_score(Y_true, proba >= other, average="macro", zero_division=0) <= macro_f1


def test_threshold_tuning_refuses_bad_input():
    Y_true = np.array([[1, 0], [0, 1]])
    for tune in (best_thresholds, best_global_threshold):
        with pytest.raises(ValueError, match=r"proba has shape \(2, 3\)"):
            tune(Y_true, np.zeros((2, 3)))
        with pytest.raises(ValueError, match="NaN or infinite"):
            tune(Y_true, np.array([[0.2, np.nan], [0.1, 0.3]]))
        with pytest.raises(ValueError, match="only 0 and 1"):
            tune(Y_true * 2, np.zeros((2, 2)))


def test_frequency_groups_cuts_distinct_counts_in_thirds():
    counts = np.arange(28, 0, -1) * 10
    groups = frequency_groups(counts)
    assert groups.tolist() == ["head"] * 9 + ["medium"] * 10 + ["tail"] * 9
    shuffled = np.random.default_rng(0).permutation(28)
    np.testing.assert_array_equal(frequency_groups(counts[shuffled]), groups[shuffled])
    assert frequency_groups(np.arange(6)).tolist() == ["tail"] * 2 + ["medium"] * 2 + ["head"] * 2
    unsigned = np.array([3, 9, 1], dtype=np.uint64)  # what summing a uint8 indicator gives
    assert frequency_groups(unsigned).tolist() == ["medium", "head", "tail"]


def test_frequency_groups_keeps_ties_together():
    # Thirds would cut after the 3rd and 6th labels, inside both runs of ties. The first cut
    # goes to the nearer place between counts (after the 4th, not the 1st); the second has two
    # equally near places (after the 5th or the 7th) and takes the earlier.
    counts = [50, 40, 40, 40, 30, 20, 20, 10, 5]
    assert frequency_groups(counts).tolist() == ["head"] * 4 + ["medium"] + ["tail"] * 4


def test_frequency_groups_of_equal_counts_is_all_medium():
    assert frequency_groups([7, 7, 7, 7]).tolist() == ["medium"] * 4
    assert frequency_groups([3]).tolist() == ["medium"]


@pytest.mark.parametrize(
    ("counts", "match"),
    [
        ([], "non-empty 1-D"),
        ([[1, 2]], "non-empty 1-D"),
        ([3, -1], "non-negative"),
        (["a"], "numbers"),
    ],
)
def test_frequency_groups_refuses_bad_counts(counts, match):
    with pytest.raises(ValueError, match=match):
        frequency_groups(counts)


def test_metrics_import_neither_torch_nor_sklearn():
    code = "import sys, dan_dice.metrics; print(sorted({'torch', 'sklearn'} & set(sys.modules)))"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"


def test_tuned_thresholds_per_label_or_shared():
    rng = np.random.default_rng(0)
    Y = rng.integers(0, 2, size=(60, 3))
    proba = np.clip(Y * 0.6 + rng.uniform(0, 0.5, size=Y.shape), 0, 1)
    np.testing.assert_array_equal(tuned_thresholds(Y, proba, "tune"), best_thresholds(Y, proba)[0])
    shared = tuned_thresholds(Y, proba, "tune_global")
    assert shared.shape == (3,) and (shared == best_global_threshold(Y, proba)[0]).all()
    with pytest.raises(ValueError, match="mode must be"):
        tuned_thresholds(Y, proba, 0.5)
