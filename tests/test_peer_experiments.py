"""Tests for dan_dice.peer_experiments (the peers suite of ``run_experiments.py --all``), the
soft vote of the DAN and TF-IDF, and how ``--all`` hands its options on."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest
from sklearn.ensemble import VotingClassifier

from dan_dice import comparison, datasets, experiments, multilabel_experiments, peer_experiments
from dan_dice.cli import run_experiments, suite_options
from dan_dice.comparison import DanTfidfVote, logreg_method
from dan_dice.journal import MULTILABEL_JOURNAL
from dan_dice.provenance import fingerprint_line
from dan_dice.splits import Split, train_val_test_split


@pytest.fixture(scope="module")
def toy_split(toy_texts) -> Split:
    X, y = toy_texts
    return Split(*train_val_test_split(X, y), ["ham", "spam"])


@pytest.fixture
def fake_data_home(tmp_path, toy_texts):
    """A data folder whose ``SMSSpamCollection`` holds the toy texts."""
    texts, labels = toy_texts
    lines = [f"{'spam' if y else 'ham'}\t{text}" for text, y in zip(texts, labels, strict=True)]
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "SMSSpamCollection").write_text("\n".join(lines) + "\n")
    return tmp_path / "data"


def test_soft_vote_is_the_mean_of_its_two_frozen_members(toy_split, tiny_vectors_file, monkeypatch):
    from dan_dice import DANClassifier

    def small_dan(seed):  # the DAN's defaults on tiny vectors, for speed
        return DANClassifier(embeddings=str(tiny_vectors_file), max_epochs=3, random_state=seed)

    dan = dataclasses.replace(comparison.default_dan_method(), build=small_dan)
    monkeypatch.setattr(comparison, "default_dan_method", lambda: dan)
    s = toy_split
    vote = DanTfidfVote(random_state=1).fit(
        s.X_train, s.y_train, validation_data=(s.X_val, s.y_val)
    )
    assert isinstance(vote.vote_, VotingClassifier) and vote.vote_.voting == "soft"
    members = [member.estimator for member in vote.vote_.estimators_]
    assert isinstance(members[0], DANClassifier) and members[0].random_state == 1
    assert members[1].named_steps["clf"].class_weight == "balanced"
    expected = np.mean([m.predict_proba(s.X_test) for m in members], axis=0)
    np.testing.assert_allclose(vote.predict_proba(s.X_test), expected, rtol=1e-6)
    assert set(vote.predict(s.X_test)) <= {0, 1}


def test_peer_grid_is_what_a_careful_user_searches():
    grid = logreg_method().grid
    assert {part["tfidf__analyzer"][0] for part in grid} == {"word", "char_wb"}
    assert all(part["tfidf__min_df"] == [1, 2] and part["clf__C"] == [1, 10, 100] for part in grid)
    pipeline = logreg_method().build(0)
    assert pipeline.named_steps["tfidf"].sublinear_tf
    assert pipeline.named_steps["tfidf"].tokenizer is None  # scikit-learn's token pattern
    names = [m.name for m in comparison.peer_methods()]
    assert comparison.SOFT_VOTE in names and "TF-IDF + LinearSVC" in names


def _tiny_methods():
    logreg = dataclasses.replace(logreg_method(), grid={"clf__C": [1]})
    seeded = dataclasses.replace(logreg, name="seeded LogReg", seeded=True)
    return [logreg, seeded]


def test_suite_journals_resumes_and_writes_peers_md(tmp_path, fake_data_home, monkeypatch):
    monkeypatch.setattr(peer_experiments, "peer_methods", _tiny_methods)
    out = tmp_path / "reports"
    argv = ["--peers", "--quick", "--datasets", "sms", "--seeds", "2", "--jobs", "1"]
    argv += ["--data-dir", str(fake_data_home), "--out", str(out)]
    assert peer_experiments.main(argv) == 0
    journal = (out / peer_experiments.PEER_JOURNAL).read_text().splitlines()
    assert len(journal) == 3  # the deterministic method once, the seeded one per seed
    report = (out / "peers.md").read_text()
    assert fingerprint_line() in report and "Quick mode" in report
    rows = [line for line in report.splitlines() if line.startswith("| sms |")]
    assert [row.split(" | ")[1] for row in rows] == ["TF-IDF + LogReg", "seeded LogReg"]
    assert rows[1].split(" | ")[2] == "2"
    assert peer_experiments.main(argv) == 0  # resumed: nothing run again
    assert (out / peer_experiments.PEER_JOURNAL).read_text().splitlines() == journal


def test_a_bad_dataset_fails_before_any_run(tmp_path):
    with pytest.raises((ValueError, LookupError)):
        peer_experiments.main(["--peers", "--datasets", "nope", "--out", str(tmp_path / "r")])
    assert not (tmp_path / "r").exists()


def test_all_hands_its_shared_options_to_the_suites():
    argv = ["--all", "--quick", "--losses", "dice", "--out", "x", "--jobs", "2", "--seeds", "3"]
    assert suite_options(argv) == ["--jobs", "2", "--out", "x", "--quick"]
    assert suite_options(["--all", "--fresh", "--scheduler", "tcp://h:1"]) == [
        "--scheduler",
        "tcp://h:1",
        "--fresh",
    ]


@pytest.mark.parametrize("name", [MULTILABEL_JOURNAL, peer_experiments.PEER_JOURNAL])
def test_all_refuses_a_suite_journal_of_other_code_before_the_grid_trains(
    tmp_path, monkeypatch, name
):
    out = tmp_path / "reports"
    out.mkdir()
    run = {"dataset": "sms", "loss": "dice", "seed": 0, "config": {"code": "0.1.0+0000"}}
    (out / name).write_text(json.dumps(run) + "\n")
    ran, loaded = [], []
    monkeypatch.setattr(datasets, "load_dataset", lambda name, data_home=None: loaded.append(name))
    for module in (experiments, multilabel_experiments, peer_experiments):

        def main(argv, prepared=None, m=module):
            ran.append((m.__name__, None if prepared is None else type(prepared[1])))
            return 0

        monkeypatch.setattr(module, "main", main)
    argv = ["--all", "--quick", "--out", str(out), "--data-dir", str(tmp_path)]
    with pytest.raises(ValueError, match=f"{name} holds runs made with other settings or code"):
        run_experiments(argv)
    assert ran == []  # refused before the grid's training, not after it
    loaded.clear()
    assert run_experiments([*argv, "--fresh"]) == 0  # --fresh discards it: every suite runs
    # each suite runs on the configuration checked before the grid: its data read once
    assert ran == [
        (experiments.__name__, None),
        (multilabel_experiments.__name__, multilabel_experiments.MultilabelConfig),
        (peer_experiments.__name__, peer_experiments.PeerConfig),
    ]
    assert loaded == list(peer_experiments.BINARY_DATASETS)
