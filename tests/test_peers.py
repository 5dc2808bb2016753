"""Tests for dan_dice.peers: every peer fits and predicts on a tiny corpus, and the table."""

import dataclasses

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression

from dan_dice import DANClassifier
from dan_dice.comparison import (
    dan_method,
    default_dan_method,
    describe,
    evaluate,
    model_size,
    peer_methods,
    texts_per_second,
)
from dan_dice.experiments import Config
from dan_dice.machine import environment
from dan_dice.metrics import best_threshold
from dan_dice.peers import AtThreshold, FastTextClassifier, tfidf_pipeline
from dan_dice.reporting.peers import TABLE_COLUMNS, peer_table
from dan_dice.splits import Split, train_val_test_split
from dan_dice.study_data import load_split

TINY_GRIDS = {
    "TF-IDF + LogReg": {"clf__C": [1, 10]},
    "TF-IDF + LinearSVC": {"clf__C": [1]},
    "fastText": {"epoch": [20], "lr": [0.5]},
}


@pytest.fixture(scope="module")
def toy_split(toy_texts) -> Split:
    X, y = toy_texts
    return Split(*train_val_test_split(X, y), ["ham", "spam"])


@pytest.mark.parametrize("name", list(TINY_GRIDS))
def test_peer_fits_predicts_and_reports(name, toy_split):
    method = next(m for m in peer_methods() if m.name == name)
    record, model = evaluate(dataclasses.replace(method, grid=TINY_GRIDS[name]), toy_split, 1)
    assert record["method"] == name and record["seed"] == 1
    assert record["f1"] > 0.9 and record["val_f1"] > 0.9
    assert record["fit_seconds"] > 0 and record["texts_per_second"] > 0
    assert record["size_bytes"] == model_size(model) > 0
    assert set(model.predict(toy_split.X_test)) <= {0, 1}


def test_logreg_peer_is_balanced_and_tuned_at_its_threshold(toy_split):
    method = next(m for m in peer_methods() if m.name == "TF-IDF + LogReg")
    assert method.tune_threshold
    record, model = evaluate(dataclasses.replace(method, grid={"clf__C": [1]}), toy_split)
    assert isinstance(model, AtThreshold) and 0 < model.threshold < 1
    assert model.model.named_steps["clf"].class_weight == "balanced"
    proba = model.model.predict_proba(toy_split.X_val)[:, 1]
    assert record["val_f1"] == pytest.approx(best_threshold(toy_split.y_val, proba)[1])


def test_default_dan_peer_is_the_estimator_with_its_defaults():
    method = default_dan_method()
    assert method.name == "DAN (defaults)" and method.seeded and method.early_stopping
    model = method.build(3)
    assert model.get_params() == DANClassifier(random_state=3).get_params()
    assert [m.name for m in peer_methods()][-1] == "DAN (defaults)"


def test_dan_peer_uses_the_experiment_config(toy_split, tiny_vectors_file):
    config = Config(
        epochs=3,
        lrs=(0.01, 0.03),
        device="cpu",
        model_params={"embeddings": str(tiny_vectors_file), "hidden_sizes": (16,)},
    )
    method = dan_method("wbce", config)
    assert method.name == "DAN (wbce)" and method.seeded and method.early_stopping
    record, model = evaluate(method, toy_split, seed=0)
    assert model.max_epochs == 3 and model.random_state == 0 and model.loss == "wbce"
    assert record["params"] in ("lr=0.01", "lr=0.03")
    assert record["f1"] > 0.8 and record["size_bytes"] > 0


def test_fasttext_classifier_labels_tokens_and_empty_text():
    rng = np.random.default_rng(0)
    y = rng.random(300) < 0.3
    X = [
        " ".join(rng.choice(["FREE", "cash!", "win"] if t else ["Hello", "mom", "lunch"], 3))
        for t in y
    ]
    X += [""]  # an empty text gets a prediction too
    labels = np.r_[np.where(y, "spam", "ham"), ["ham"]]
    clf = FastTextClassifier(epoch=20, lr=0.5).fit(X, labels)
    assert list(clf.classes_) == ["ham", "spam"]
    assert (clf.predict(X) == labels).mean() > 0.95
    assert clf.model_.get_word_id("cash") >= 0  # fastText saw our tokens: "cash", "!"
    assert 0 < clf.train_seconds_ <= clf.fit_seconds_


def test_fasttext_classifier_refits_identically(toy_texts):
    X, y = toy_texts
    first, second = (FastTextClassifier(epoch=5, random_state=3).fit(X, y) for _ in range(2))
    # each fit starts from zeroed memory, never from the previous model's leftovers
    assert np.array_equal(first.model_.get_input_matrix(), second.model_.get_input_matrix())


def test_fasttext_classifier_quantized_is_smaller():
    rng = np.random.default_rng(1)
    words = [f"w{i}" for i in range(300)]  # quantization needs at least 256 rows
    y = rng.random(400) < 0.5
    X = [" ".join(rng.choice(words[:150] if t else words[150:], 5)) for t in y]
    clf = FastTextClassifier(epoch=10, lr=0.5, dim=16).fit(X, y)
    small = clf.quantized()
    assert model_size(small) < model_size(clf)
    assert (small.predict(X) == clf.predict(X)).mean() > 0.9


def test_fasttext_classifier_reports_a_failed_fit():
    with pytest.raises(RuntimeError, match="fastText training failed"):
        FastTextClassifier(dim=-1).fit(["a b", "c d"], [0, 1])


def test_describe_and_texts_per_second(toy_split):
    params = {"clf__C": 10, "tfidf__analyzer": "char_wb", "tfidf__ngram_range": (2, 5)}
    assert describe(params) == "C=10 char_wb (2, 5)"
    assert describe({"tfidf__tokenizer": None, "lr": 0.5}) == "lr=0.5"
    model = tfidf_pipeline(LogisticRegression()).fit(toy_split.X_train, toy_split.y_train)
    assert texts_per_second(model, toy_split.X_test, repeats=1) > 0


def test_peer_table_columns_and_mean_std():
    base = {"size_bytes": 2e6, "texts_per_second": 1000.0, "fit_seconds": 1.0}
    scores = {"accuracy": 0.9, "macro_f1": 0.8}
    records = [
        {"dataset": "sms", "method": "fastText", "f1": 0.8, "params": "lr=0.1", **base, **scores},
        {"dataset": "sms", "method": "fastText", "f1": 0.9, "params": "lr=0.5", **base, **scores},
        {"dataset": "sms", "method": "SVC", "f1": 0.7, "params": "C=1", **base, **scores},
    ]
    table = peer_table(records)
    assert list(table.columns) == TABLE_COLUMNS
    assert table["method"].tolist() == ["fastText", "SVC"]
    first = table.iloc[0]
    assert first["runs"] == 2 and first["f1"] == "0.8500 ± 0.0707"
    assert first["chosen"] == "lr=0.1; lr=0.5" and first["size_MB"] == "2"
    assert table.iloc[1]["f1"] == "0.7000"


def test_environment_names_the_versions():
    line = environment()
    assert "Python" in line and "scikit-learn" in line and "CPUs" in line


@pytest.mark.realdata
@pytest.mark.slow
def test_tfidf_linear_svc_on_sms(real_data_home):
    split = load_split("sms", str(real_data_home))
    method = next(m for m in peer_methods() if m.name == "TF-IDF + LinearSVC")
    record, _ = evaluate(method, split)
    assert record["f1"] >= 0.90
