"""Tests for dan_dice.targets: every form of labels scikit-learn users pass is read as the
codes the network trains on, given back in the same form, and refused with a message naming
what is wrong."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import sparse

from dan_dice.targets import (
    check_targets,
    check_validation_labels,
    decode_targets,
    encode_targets,
    multilabel_type,
)

INDICATOR = np.array([[1, 0, 0], [0, 1, 1], [0, 0, 0], [1, 0, 1]])
LISTS = [["anger"], ["fear", "joy"], [], ["anger", "joy"]]
FORMS = {
    "array": INDICATOR,
    "rows as lists": INDICATOR.tolist(),
    "sparse": sparse.csr_matrix(INDICATOR),
    "frame": pd.DataFrame(INDICATOR, columns=["anger", "fear", "joy"]),
    "label lists": LISTS,
    "label tuples and sets": [("anger",), {"fear", "joy"}, frozenset(), ("joy", "anger")],
    "series of lists": pd.Series(LISTS, index=[9, 8, 7, 6]),
}


@pytest.mark.parametrize(
    ("make", "labels", "y_type", "classes"),
    [
        (list, ["spam", "ham", "spam"], "binary", ["ham", "spam"]),
        (np.array, [2, 0, 1, 0], "multiclass", [0, 1, 2]),
        (lambda v: pd.Series(v, index=[5, 3, 1]), [True, False, True], "binary", [False, True]),
        (iter, ["b", "a"], "binary", ["a", "b"]),
    ],
)
def test_single_labels_are_codes_of_the_sorted_classes(make, labels, y_type, classes):
    found_type, found_classes, codes = check_targets(make(labels), len(labels))
    assert (found_type, found_classes.tolist()) == (y_type, classes)
    assert codes.dtype == np.int64
    assert decode_targets(codes, found_type, found_classes).tolist() == labels


@pytest.mark.parametrize("form", FORMS)
def test_every_multilabel_form_is_the_same_indicator_and_comes_back_as_given(form):
    y = FORMS[form]
    y_type, classes, encoded = check_targets(y, 4)
    assert y_type == multilabel_type(y)
    assert encoded.dtype == np.int64 and encoded.shape == (4, 3)
    if y_type == "multilabel-sequences":
        assert classes.tolist() == ["anger", "fear", "joy"]
        np.testing.assert_array_equal(encoded, INDICATOR)
        back = decode_targets(encoded, y_type, classes)
        assert back == [("anger",), ("fear", "joy"), (), ("anger", "joy")]
    else:
        np.testing.assert_array_equal(encoded, INDICATOR)
        assert decode_targets(encoded, y_type, classes) is encoded
    np.testing.assert_array_equal(encode_targets(y, 4, y_type, classes), encoded)


def test_one_label_per_text_is_not_multilabel():
    for y in (["a", "b"], np.array([0, 1]), pd.Series(["x", "y"])):
        assert multilabel_type(y) is None


@pytest.mark.parametrize(
    ("y", "n", "message"),
    [
        (["a", "a", "a"], 3, r"single class \('a'\)"),
        (["a", "b"], 3, "different lengths: 3 texts, 2 labels"),
        (np.array([[0, 1], [1, 0]])[:, :1], 2, "at least two labels"),
        ([0.5, 1.5, 0.5], 3, "Unknown label type"),
        (["a", None, "b"], 3, "missing labels"),
        ([["a"], "b"], 2, r"y\[1\] is str .* wrap a single label in a list"),
        ([["a"], ["b", float("nan")]], 2, r"y\[1\] has a missing label"),
        ([["a", 1], ["b"]], 2, "cannot be ordered"),
        ([[], []], 2, "0 label"),
        (np.zeros((3, 2), dtype=int), 3, "no positive label at all"),
        (pd.DataFrame([[1, 0], [0, 1]], columns=["x", "x"]), 2, r"repeat the label\(s\) \['x'\]"),
        (np.array([[0, 2], [1, 0]]), 2, "only 0 and 1"),
    ],
)
def test_bad_training_labels_are_refused_by_name(y, n, message):
    with pytest.raises(ValueError, match=message):
        check_targets(y, n)


def test_labels_unseen_in_fit_are_named():
    classes = np.array(["ham", "spam"])
    with pytest.raises(ValueError, match=r"y_val has labels not seen in fit: \['eggs'\]"):
        encode_targets(["ham", "eggs"], 2, "binary", classes, name="y_val")
    labels = np.array(["anger", "joy"])
    with pytest.raises(ValueError, match=r"y\[1\] has labels not seen in fit: \['fear'\]"):
        encode_targets([["joy"], ["fear"]], 2, "multilabel-sequences", labels)
    with pytest.raises(ValueError, match="2 label columns, fit had 3"):
        encode_targets(np.eye(2, dtype=int), 2, "multilabel-indicator", np.arange(3))
    frame = pd.DataFrame(np.eye(2, dtype=int), columns=["joy", "anger"])
    with pytest.raises(ValueError, match=r"columns .* differ from fit's"):
        encode_targets(frame, 2, "multilabel-indicator", labels)
    with pytest.raises(ValueError, match="a list of label lists, as in fit"):
        encode_targets(["joy", "anger"], 2, "multilabel-sequences", labels)


def test_validation_labels_need_a_positive_and_each_label_without_one_is_named():
    classes = np.array(["anger", "fear", "joy"])
    with pytest.raises(ValueError, match="no positive for any label"):
        check_validation_labels(np.zeros((3, 3), dtype=int), classes)
    with pytest.warns(UserWarning, match=r"label\(s\) \['fear'\]"):
        check_validation_labels(np.array([[1, 0, 0], [0, 0, 1]]), classes)
