"""DANClassifier on multi-label data: indicator matrices and label lists, thresholds, sklearn."""

import pickle

import numpy as np
import pandas as pd
import pytest
from conftest import multilabel_toy
from scipy import sparse
from sklearn.base import clone
from sklearn.metrics import f1_score
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer, MultiLabelBinarizer

from dan_dice.estimator import DANClassifier
from dan_dice.multilabel_losses import MULTILABEL_LOSSES
from dan_dice.targets import check_targets, decode_targets, encode_targets

NAMES = np.array(["sports", "food", "tech"])
FAST = {
    "hidden_sizes": (32,),
    "max_epochs": 12,
    "patience_steps": 0,
    "lr": 0.02,
    "batch_size": 32,
    "device": "cpu",
    "random_state": 0,
}


def fast(**params) -> DANClassifier:
    return DANClassifier(**{**FAST, **params})


def as_lists(Y: np.ndarray) -> list[list[str]]:
    return [list(NAMES[np.flatnonzero(row)]) for row in Y]


@pytest.fixture(scope="module")
def split(toy_multilabel):
    X, Y = toy_multilabel
    return X[:180], Y[:180], X[180:], Y[180:]


@pytest.fixture(scope="module")
def indicator_model(split):
    X, Y, _, _ = split
    return fast().fit(X, Y)


def test_indicator_fit_predicts_an_indicator(indicator_model, split):
    _, _, X_test, Y_test = split
    clf = indicator_model
    assert clf.y_type_ == "multilabel-indicator"
    np.testing.assert_array_equal(clf.classes_, [0, 1, 2])
    predicted = clf.predict(X_test)
    assert predicted.shape == Y_test.shape and set(np.unique(predicted)) <= {0, 1}
    assert f1_score(Y_test, predicted, average="macro") > 0.8  # topic words are unambiguous
    proba = clf.predict_proba(X_test)
    assert proba.shape == Y_test.shape and ((proba >= 0) & (proba <= 1)).all()
    np.testing.assert_array_equal(predicted, (proba >= clf.threshold_).astype(int))
    np.testing.assert_array_equal(predicted, (clf.decision_function(X_test) >= 0).astype(int))


def test_per_label_thresholds_are_tuned(indicator_model):
    threshold = indicator_model.threshold_
    assert threshold.shape == (3,) and ((threshold > 0) & (threshold < 1)).all()
    history = indicator_model.history_[indicator_model.best_epoch_ - 1]
    assert indicator_model.best_validation_score_ == history["val_tuned_f1"]
    assert {"val_micro_f1", "val_macro_f1", "val_hamming", "train_loss"} <= set(history)


def test_global_and_fixed_thresholds(split):
    X, Y, _, _ = split
    shared = fast(threshold="tune_global", max_epochs=3).fit(X, Y).threshold_
    assert shared.shape == (3,) and len(set(shared.tolist())) == 1
    np.testing.assert_array_equal(fast(threshold=0.3, max_epochs=1).fit(X, Y).threshold_, 0.3)


def test_label_lists_in_and_out(split):
    X, Y, X_test, Y_test = split
    clf = fast().fit(X, as_lists(Y))
    assert clf.y_type_ == "multilabel-sequences"
    np.testing.assert_array_equal(clf.classes_, sorted(NAMES))
    predicted = clf.predict(X_test)
    assert isinstance(predicted, list) and all(isinstance(p, tuple) for p in predicted)
    binarizer = MultiLabelBinarizer(classes=clf.classes_).fit([])
    score = f1_score(
        binarizer.transform(as_lists(Y_test)), binarizer.transform(predicted), average="macro"
    )
    assert score > 0.8
    assert 0 <= clf.score(X_test, as_lists(Y_test)) <= 1


def test_dataframe_and_sparse_indicators(split):
    X, Y, X_test, _ = split
    frame = pd.DataFrame(Y, columns=NAMES)
    clf = fast(max_epochs=2).fit(X, frame)
    np.testing.assert_array_equal(clf.classes_, NAMES)
    assert clf.predict(X_test).shape == (len(X_test), 3)
    assert fast(max_epochs=1).fit(X, sparse.csr_matrix(Y)).y_type_ == "multilabel-indicator"


@pytest.mark.parametrize("loss", ["ce", *MULTILABEL_LOSSES])
def test_every_multilabel_loss_learns(loss, split):
    X, Y, X_test, Y_test = split
    clf = fast(loss=loss, max_epochs=8).fit(X, Y)
    assert f1_score(Y_test, clf.predict(X_test), average="macro") > 0.6


def test_validation_data_and_iterative_holdout(split):
    X, Y, X_test, Y_test = split
    given = fast(max_epochs=2).fit(X, Y, validation_data=(X_test, Y_test))
    assert given.history_[0]["val_loss"] > 0
    with pytest.raises(ValueError, match="label columns"):
        fast(max_epochs=1).fit(X, Y, validation_data=(X_test, Y_test[:, :2]))
    with pytest.raises(ValueError, match="not seen in fit"):
        fast(max_epochs=1).fit(X, as_lists(Y), validation_data=(X_test, [["music"]] * len(X_test)))


def test_bad_multilabel_targets(split):
    X, Y, _, _ = split
    with pytest.raises(ValueError, match="only 0 and 1"):
        fast().fit(X, Y * 2)
    with pytest.raises(ValueError, match="at least two labels"):
        fast().fit(X, Y[:, :1])
    with pytest.raises(ValueError, match="missing label"):
        fast().fit(X, [["a", None]] + [["b"]] * (len(X) - 1))
    with pytest.raises(ValueError, match="class_weight applies to single-label"):
        fast(class_weight="balanced").fit(X, Y)
    with pytest.raises(ValueError, match="different lengths"):
        fast().fit(X, Y[:-1])


def test_sklearn_clone_pickle_pipeline_and_grid_search(indicator_model, split):
    X, Y, X_test, _ = split
    restored = pickle.loads(pickle.dumps(indicator_model))
    np.testing.assert_array_equal(
        restored.predict_proba(X_test), indicator_model.predict_proba(X_test)
    )
    assert clone(indicator_model).get_params() == indicator_model.get_params()
    pipeline = make_pipeline(
        FunctionTransformer(lambda texts: [t.upper() for t in texts]), fast(max_epochs=2)
    )
    assert pipeline.fit(X, Y).predict(X_test).shape == (len(X_test), 3)
    search = GridSearchCV(fast(max_epochs=2), {"lr": [0.01, 0.02]}, scoring="f1_macro", cv=2)
    search.fit(X, Y)
    assert 0 <= search.best_score_ <= 1 and search.best_params_["lr"] in (0.01, 0.02)


def test_targets_round_trip():
    X, Y = multilabel_toy(n=20)
    y_type, classes, encoded = check_targets(as_lists(Y), len(X))
    assert y_type == "multilabel-sequences"
    back = decode_targets(encoded, y_type, classes)
    assert [sorted(t) for t in back] == [sorted(x) for x in as_lists(Y)]
    np.testing.assert_array_equal(encode_targets(back, len(X), y_type, classes), encoded)
    y_type, classes, codes = check_targets(["b", "a", "b"], 3)
    assert (y_type, classes.tolist(), codes.tolist()) == ("binary", ["a", "b"], [1, 0, 1])
