"""Tests for continued training (partial_fit, warm_start), sample_weight and scikit-learn's
meta-estimators around DANClassifier (dan_dice.incremental, dan_dice.estimator)."""

import numpy as np
import pytest
import torch
from sklearn import config_context
from sklearn.base import clone

from dan_dice.estimator import DANClassifier
from dan_dice.incremental import check_sample_weight
from dan_dice.losses import LOSSES, get_loss
from dan_dice.multilabel_losses import MULTILABEL_LOSSES

FAST = {"hidden_sizes": (16,), "max_epochs": 4, "patience_steps": 0, "lr": 0.03}
FAST |= {"batch_size": 32, "threshold": 0.5, "device": "cpu", "random_state": 0}


def fast(**params) -> DANClassifier:
    return DANClassifier(**{**FAST, **params})


# sample_weight in the losses


@pytest.mark.parametrize("name", sorted(set(LOSSES) - {"wbce", "wce"}))
def test_integer_weights_are_copies_of_the_texts(name):
    """A text of weight 2 is two copies of it: exactly for batch-sum losses, and for the
    per-term ones up to their mean's denominator (the weighted mean divides by the texts)."""
    torch.manual_seed(0)
    multiclass = LOSSES[name].multiclass
    logits = torch.randn(6, 3) if multiclass else torch.randn(6)
    target = torch.tensor([0, 1, 2, 0, 1, 2]) if multiclass else torch.tensor([0, 1, 1, 0, 1, 0.0])
    loss = get_loss(name, target.long().numpy(), 3 if multiclass else 2)
    weight = torch.tensor([2.0, 1, 1, 1, 0, 1])
    copies = torch.tensor([0, 0, 1, 2, 3, 5])
    weighted, repeated = loss(logits, target, weight), loss(logits[copies], target[copies])
    batch_sums = name in ("dice", "tversky", "multiclass_dice")
    expected = repeated if batch_sums else repeated * len(copies) / len(weight)
    if name == "dice_bce":  # half batch Dice, half per-term BCE
        dice = get_loss("dice", target.numpy(), 2)
        bce = get_loss("bce", target.numpy(), 2)
        expected = 0.5 * dice(logits[copies], target[copies])
        expected += 0.5 * bce(logits[copies], target[copies]) * len(copies) / len(weight)
    assert float(weighted) == pytest.approx(float(expected), rel=1e-5)
    assert float(loss(logits, target, torch.ones(6))) == pytest.approx(float(loss(logits, target)))


@pytest.mark.parametrize("name", sorted(MULTILABEL_LOSSES))
def test_multilabel_losses_take_weights(name):
    from dan_dice.multilabel_losses import get_multilabel_loss

    torch.manual_seed(0)
    logits, target = torch.randn(4, 3), torch.tensor([[1, 0, 1], [0, 1, 0], [1, 1, 0], [0, 0, 1.0]])
    loss = get_multilabel_loss(name, target.long().numpy())
    assert float(loss(logits, target, torch.ones(4))) == pytest.approx(float(loss(logits, target)))
    dropped = loss(logits, target, torch.tensor([1.0, 1, 1, 0]))
    assert float(dropped) != pytest.approx(float(loss(logits, target)))


def test_check_sample_weight():
    assert check_sample_weight(None, 3) is None
    assert check_sample_weight(2, 3).tolist() == [2, 2, 2]
    for bad, message in (([1, 2], "one weight per text"), ([1, -1, 1], ">= 0"), ([0, 0, 0], "0")):
        with pytest.raises(ValueError, match=message):
            check_sample_weight(bad, 3)


# sample_weight in fit


def test_zero_weights_leave_texts_out_of_training(toy_texts):
    X, y = toy_texts
    X = [*X, *X[:40]]
    y = np.r_[y, 1 - y[:40]]  # 40 copies with flipped labels, weighed 0
    weight = np.r_[np.ones(200), np.zeros(40)]
    val = (X[:200], y[:200])
    weighted = fast().fit(X, y, sample_weight=weight, validation_data=val)
    clean = fast().fit(X[:200], y[:200], validation_data=val)
    assert weighted.history_[-1]["train_loss"] != clean.history_[-1]["train_loss"]
    assert weighted.score(*val) >= clean.score(*val) - 0.02


def test_sample_weight_changes_the_model_and_class_weight_multiplies(toy_texts):
    X, y = toy_texts
    weight = np.where(y == 1, 3.0, 1.0)
    plain = fast(loss="bce").fit(X, y).predict_proba(X)[:, 1]
    weighted = fast(loss="bce").fit(X, y, sample_weight=weight).predict_proba(X)[:, 1]
    as_class = fast(loss="bce", class_weight={0: 1.0, 1: 3.0}).fit(X, y).predict_proba(X)[:, 1]
    both = fast(loss="bce", class_weight={0: 1.0, 1: 1.5})
    both = both.fit(X, y, sample_weight=np.where(y == 1, 2.0, 1.0)).predict_proba(X)[:, 1]
    assert weighted.mean() > plain.mean()
    np.testing.assert_allclose(weighted, as_class, atol=1e-5)
    np.testing.assert_allclose(both, as_class, atol=1e-5)


def test_callable_loss_without_weights_refuses_them(toy_texts):
    X, y = toy_texts

    def bce(logits, target):
        return torch.nn.functional.binary_cross_entropy_with_logits(logits, target)

    with pytest.raises(ValueError, match="cannot take sample_weight"):
        fast(loss=bce).fit(X, y, sample_weight=np.ones(len(y)))

    def weighted_bce(logits, target, weight=None):  # validation passes no weights
        terms = torch.nn.functional.binary_cross_entropy_with_logits(
            logits, target, reduction="none"
        )
        return terms.mean() if weight is None else (weight * terms).mean()

    fast(loss=weighted_bce).fit(X, y, sample_weight=np.ones(len(y)))


def test_metadata_routing_passes_sample_weight(toy_texts):
    from sklearn.model_selection import cross_validate

    X, y = toy_texts
    weight = np.where(y == 1, 5.0, 1.0)
    with config_context(enable_metadata_routing=True):
        clf = fast().set_fit_request(sample_weight=True).set_score_request(sample_weight=False)
        routed = cross_validate(
            clf, X, y, cv=2, params={"sample_weight": weight}, return_estimator=True
        )
    plain = cross_validate(fast(), X, y, cv=2, return_estimator=True)  # (1.6: params=None fails)
    for a, b in zip(routed["estimator"], plain["estimator"], strict=True):
        assert a.history_[0]["train_loss"] > b.history_[0]["train_loss"]  # positives weigh 5


# scikit-learn's meta-estimators


def test_meta_estimators(toy_texts):
    from sklearn.calibration import CalibratedClassifierCV
    from sklearn.ensemble import StackingClassifier, VotingClassifier
    from sklearn.frozen import FrozenEstimator
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import TunedThresholdClassifierCV

    X, y = toy_texts
    fitted = fast().fit(X[:150], y[:150])
    calibrated = CalibratedClassifierCV(FrozenEstimator(fitted)).fit(X[150:], y[150:])
    assert calibrated.predict_proba(X).shape == (200, 2)
    tuned = TunedThresholdClassifierCV(fast(), cv=2, random_state=0).fit(X, y)
    assert 0 < tuned.best_threshold_ < 1 and tuned.score(X, y) > 0.8
    members = [("a", fast()), ("b", fast(random_state=1, pooling="mean"))]
    voting = VotingClassifier(members, voting="soft").fit(X, y)
    assert voting.score(X, y) > 0.8
    stacking = StackingClassifier(members, final_estimator=LogisticRegression(), cv=2)
    assert stacking.fit(X, y).score(X, y) > 0.8


# partial_fit and warm_start


def test_partial_fit_needs_classes_first_then_keeps_them(toy_texts):
    X, y = toy_texts
    with pytest.raises(ValueError, match="needs classes"):
        fast().partial_fit(X, y)
    negatives = [i for i in range(200) if y[i] == 0][:20]
    clf = fast().partial_fit([X[i] for i in negatives], y[negatives], classes=[1, 0])
    assert clf.classes_.tolist() == [0, 1] and clf.y_type_ == "binary"  # one class so far
    with pytest.raises(ValueError, match=r"labels not seen in fit: \[2\]"):
        clf.partial_fit(X[:3], [0, 1, 2])
    with pytest.raises(ValueError, match="stay fixed"):
        clf.partial_fit(X[:3], [0, 1, 1], classes=[0, 1, 2])


def test_partial_fit_runs_one_epoch_a_call_and_learns(toy_texts):
    X, y = toy_texts
    clf = fast()
    for _ in range(6):
        for start in range(0, 200, 50):
            clf.partial_fit(X[start : start + 50], y[start : start + 50], classes=[0, 1])
    assert len(clf.history_) == 24 and clf.best_epoch_ == 24
    assert "val_f1" not in clf.history_[-1] and clf.threshold_ == 0.5
    assert clf.score(X, y) > 0.9


def test_partial_fit_keeps_the_optimiser_state(toy_texts):
    X, y = toy_texts
    clf = fast().partial_fit(X, y, classes=[0, 1])
    state = clf.optimizers_[0].state
    steps = [int(s["step"]) for s in state.values()]
    clf.partial_fit(X, y)
    assert [int(s["step"]) for s in clf.optimizers_[0].state.values()] == [s + 7 for s in steps]


def test_partial_fit_with_validation_tunes_the_threshold(toy_texts):
    X, y = toy_texts
    clf = fast(threshold="tune").partial_fit(X[:100], y[:100], classes=[0, 1])
    assert clf.threshold_ == 0.5
    clf.partial_fit(X[:100], y[:100], validation_data=(X[100:], y[100:]))
    assert clf.threshold_ != 0.5 and 0 <= clf.best_validation_score_ <= 1
    assert "val_f1" in clf.history_[-1]


def test_new_words_join_the_vocabulary_once_counted_min_count_times(toy_texts, tiny_vectors_file):
    X, y = toy_texts
    clf = fast(embeddings=tiny_vectors_file).partial_fit(X, y, classes=[0, 1])
    assert "pizza" not in clf.vocabulary_.index
    rows = len(clf.module_.embedding.weight)
    clf.partial_fit(["pizza you", "qwertyuiop"], [1, 0])  # once: not yet, and no vector
    assert "pizza" not in clf.vocabulary_.index
    clf.partial_fit(["pizza the pizza", "qwertyuiop qwertyuiop"], [1, 0])
    assert "pizza" in clf.vocabulary_.index and "qwertyuiop" not in clf.vocabulary_.index
    assert len(clf.module_.embedding.weight) == rows + 1 == len(clf.vocabulary_)
    moments = clf.optimizers_[1].state[clf.module_.embedding.weight]["exp_avg"]
    assert len(moments) == rows + 1
    assert clf.predict(["pizza pizza"]).shape == (1,)


def test_continued_model_saves_exports_and_runs_on_the_edge(toy_texts, tmp_path):
    from dan_dice.edge import EdgeClassifier
    from dan_dice.export import export_model

    X, y = toy_texts
    clf = fast().fit(X[:100], y[:100])
    clf.partial_fit(X[100:], y[100:], validation_data=(X[:100], y[:100]))
    path = clf.save(tmp_path / "m.dandice")
    loaded = DANClassifier.load(path)
    np.testing.assert_allclose(loaded.predict_proba(X), clf.predict_proba(X), atol=1e-6)
    assert not hasattr(loaded, "optimizers_")
    loaded.partial_fit(X[:50], y[:50])  # fresh optimiser state
    edge = EdgeClassifier.load(export_model(clf, tmp_path / "m.edge"))
    np.testing.assert_allclose(edge.predict_proba(X), clf.predict_proba(X), atol=1e-5)


def test_warm_start_fit_continues_from_the_fitted_weights(toy_texts):
    X, y = toy_texts
    clf = fast(max_epochs=2).fit(X[:100], y[:100])
    first = clf.module_.mlp[0].weight.detach().clone()
    cold = clone(clf).fit(X[100:], y[100:])
    clf.set_params(warm_start=True).fit(X[100:], y[100:])
    assert clf.module_ is not None and clf.history_[0]["epoch"] == 1
    warm_moved = (clf.module_.mlp[0].weight - first).abs().mean()
    cold_moved = (cold.module_.mlp[0].weight - first).abs().mean()
    assert warm_moved < cold_moved
    with pytest.raises(ValueError, match="labels not seen"):
        clf.fit(X[:10], ["a"] * 10)


def test_multilabel_partial_fit_takes_the_indicator_width(toy_multilabel):
    X, Y = toy_multilabel
    clf = fast().partial_fit(X[:100], Y[:100])
    assert clf.classes_.tolist() == list(range(Y.shape[1]))
    clf.partial_fit(X[100:], Y[100:], sample_weight=np.ones(len(X) - 100))
    with pytest.raises(ValueError, match="label columns"):
        clf.partial_fit(X[:5], Y[:5, :2])


def test_multilabel_partial_fit_reads_indicator_rows_as_fit_does(toy_multilabel):
    """``Y.tolist()`` is an indicator, as ``fit`` (and scikit-learn) read it: not label lists,
    which would need ``classes=`` or, given ``classes=[0, 1, ...]``, give every text every label."""
    X, Y = toy_multilabel
    rows = Y.tolist()
    from_rows = fast().partial_fit(X, rows)
    from_array = fast().partial_fit(X, Y)
    assert from_rows.y_type_ == from_array.y_type_ == "multilabel-indicator"
    np.testing.assert_array_equal(from_rows.predict_proba(X), from_array.predict_proba(X))
    named = fast().partial_fit(X, rows, classes=list(range(Y.shape[1])))
    np.testing.assert_array_equal(named.predict_proba(X), from_array.predict_proba(X))
    assert np.asarray(named.predict(X)).sum() < Y.size  # not every label for every text
