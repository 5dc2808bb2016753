"""Tests for dan_dice.edge_explain: an artifact's explanations against the estimator's."""

import numpy as np
import pytest

from dan_dice.edge_explain import INT8_TOLERANCE, EdgeExplainer
from dan_dice.estimator import DANClassifier
from dan_dice.export import export_model

FAST = {"hidden_sizes": (16,), "max_epochs": 4, "patience_steps": 0, "lr": 0.03}
FAST |= {"batch_size": 32, "threshold": 0.5, "device": "cpu", "random_state": 0}
TEXTS = ["free prize you win hello zzzunknown the prize", "hello", "", "pizza goal the code now"]


def contributions(explained: list) -> np.ndarray:
    return np.array([c for pairs in explained for _, c in pairs])


@pytest.mark.parametrize("pooling", ["attention+max", "mean"])
@pytest.mark.parametrize(("quantize", "tolerance"), [(None, 1e-5), ("int8", INT8_TOLERANCE)])
def test_artifact_explanations_match_the_estimator(
    toy_texts, tmp_path, pooling, quantize, tolerance
):
    clf = DANClassifier(**FAST, pooling=pooling).fit(*toy_texts)
    explainer = EdgeExplainer(export_model(clf, tmp_path / "m.edge", quantize=quantize))
    expected, got = clf.explain(TEXTS), explainer.explain(TEXTS)
    assert [[t for t, _ in pairs] for pairs in got] == [[t for t, _ in p] for p in expected]
    np.testing.assert_allclose(contributions(got), contributions(expected), atol=tolerance)


def test_more_classes_and_labels(toy_texts_3class, toy_multilabel, tmp_path):
    three = DANClassifier(**{**FAST, "loss": "ce"}).fit(*toy_texts_3class)
    explainer = EdgeExplainer(export_model(three, tmp_path / "three.edge"))
    for label in (None, 2):
        expected = contributions(three.explain(TEXTS, label=label))
        np.testing.assert_allclose(
            contributions(explainer.explain(TEXTS, label=label)), expected, atol=1e-5
        )
    labels = DANClassifier(**FAST).fit(*toy_multilabel)
    explainer = EdgeExplainer(export_model(labels, tmp_path / "labels.edge"))
    expected = contributions(labels.explain(TEXTS, label=1))
    np.testing.assert_allclose(
        contributions(explainer.explain(TEXTS, label=1)), expected, atol=1e-5
    )
