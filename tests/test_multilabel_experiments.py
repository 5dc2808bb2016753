"""The GoEmotions multi-label suite: the --quick run end to end on a tiny GoEmotions folder,
the report's tables and sentences on hand-made runs, resuming from the journal, refusing a
journal of other settings, the peer, and the real data's quick subset."""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import NEUTRAL_WORDS, TOPICS

from dan_dice import multilabel_experiments as ml
from dan_dice.cli import run_experiments
from dan_dice.estimator import DANClassifier
from dan_dice.journal import lock_folder
from dan_dice.multilabel_experiments import MULTILABEL_JOURNAL, PEER, MultilabelConfig, run
from dan_dice.peers import MULTILABEL_PEER_C, tune_multilabel_peer
from dan_dice.reporting import multilabel as report
from dan_dice.splits import Split

NAMES = ["joy", "anger", "fear", "sadness", "grief", "relief"]
RATES = [0.5, 0.4, 0.3, 0.2, 0.1, 0.06]
SIZES = {"train": 150, "dev": 50, "test": 50}
ROOT = Path(__file__).resolve().parents[1]


def tiny_goemotions(home: Path, seed: int = 0) -> Path:
    """A GoEmotions folder of a few hundred texts: each label has two words of its own, each
    text at least one label; label frequencies fall from 50 % to 6 %."""
    rng = np.random.default_rng(seed)
    folder = home / "goemotions"
    folder.mkdir(parents=True)
    (folder / "labels.txt").write_text("\n".join(NAMES) + "\n")
    for subset, n in SIZES.items():
        lines = []
        for i in range(n):
            labels = np.flatnonzero(rng.random(len(NAMES)) < RATES)
            labels = labels if len(labels) else [i % len(NAMES)]
            words = [TOPICS[2 * k + int(rng.integers(2))] for k in labels]
            words += list(rng.choice(NEUTRAL_WORDS, 2))
            ids = ",".join(map(str, labels))
            lines.append(f"{' '.join(words)}\t{ids}\t{subset}{i}")
        (folder / f"{subset}.tsv").write_text("\n".join(lines) + "\n")
    return home


@pytest.fixture
def tiny_model(monkeypatch, tiny_vectors_file):
    """The suite's DAN on the tiny word vectors with a small network."""
    plan = ml.plan

    def small(args):
        params = {"embeddings": str(tiny_vectors_file), "hidden_sizes": (8,)}
        return dataclasses.replace(plan(args), model_params=params)

    monkeypatch.setattr(ml, "plan", small)


@pytest.mark.slow
def test_quick_run_end_to_end_writes_every_file_and_leaves_the_study_alone(tmp_path, tiny_model):
    home, out = tiny_goemotions(tmp_path / "data"), tmp_path / "reports"
    out.mkdir()
    (out / "REPORT.md").write_text("the study's report\n")
    (out / "runs.jsonl").write_text("")
    argv = ["--multilabel", "--quick", "--data-dir", str(home), "--out", str(out)]
    argv += ["--losses", "ce", "distribution_balanced", "--jobs", "1"]
    assert run_experiments(argv) == 0

    results = pd.read_csv(out / "multilabel_results.csv")
    methods = ["DAN (ce)", "DAN (distribution_balanced)", "TF-IDF + OvR LogReg"]
    assert list(results["method"]) == methods
    assert (results["seed"] == 0).all()  # --quick: one seed
    assert results[["micro_f1", "macro_f1", "hamming"]].stack().between(0, 1).all()
    per_label = pd.read_csv(out / "multilabel_per_label.csv")
    assert len(per_label) == 3 * len(NAMES)
    assert set(per_label["group"]) <= {"head", "medium", "tail"}
    assert (out / report.FIGURE).read_bytes().startswith(b"\x89PNG")
    text = (out / "multilabel.md").read_text()
    for part in ("## Setup", "python run_experiments.py --multilabel --quick", "Goal macro-F1",
                 "Tail group", "| zero |", report.FIGURE, "Quick mode"):  # fmt: skip
        assert part in text
    records = [json.loads(line) for line in (out / MULTILABEL_JOURNAL).read_text().splitlines()]
    assert [len(r["history"]) for r in records if r["loss"] != PEER] == [2, 2]  # --quick: 2 epochs
    assert (out / "REPORT.md").read_text() == "the study's report\n"
    assert (out / "runs.jsonl").read_text() == ""


def test_run_one_scores_the_test_part_and_the_peer_is_tuned_on_dev(tmp_path, tiny_vectors_file):
    split = ml.load_multilabel_split(str(tiny_goemotions(tmp_path)))
    assert (len(split.X_train), len(split.X_val), len(split.X_test)) == (150, 50, 50)
    config = MultilabelConfig(
        epochs=2, model_params={"embeddings": str(tiny_vectors_file), "hidden_sizes": (8,)}
    )
    record = ml.run_one(split, "focal", 1, config)
    assert record["method"] == "DAN (focal)" and len(record["thresholds"]) == len(NAMES)
    assert record["train_counts"] == split.y_train.sum(axis=0).tolist()
    assert record["per_label"]["support"] == split.y_test.sum(axis=0).tolist()
    assert record["val_macro_f1"] == record["history"][record["best_epoch"] - 1]["val_tuned_f1"]

    model, chosen = tune_multilabel_peer(split)
    assert chosen["params"] in {f"C={c:g}" for c in MULTILABEL_PEER_C}
    assert chosen["val_macro_f1"] == max(chosen["val_macro_f1_by_C"].values())
    assert model.predict(split.X_test).shape == split.y_test.shape


def test_quick_subset_keeps_a_text_of_every_label():
    Y = np.zeros((10, 3), dtype=np.int8)
    Y[:, 0] = 1
    Y[[6, 8], 2] = 1
    assert ml.quick_subset(Y, 4).tolist() == [0, 1, 2, 3, 6]  # label 1 has no text: none added


def _fake_run_one(split, loss, seed, config):
    """A run without training: the scores are made from the loss and seed."""
    f1 = 0.1 * (seed + 1)
    return {
        "method": ml.method_name(loss),
        "micro_f1": f1, "macro_f1": f1, "hamming": 0.1, "subset_accuracy": 0.0,
        "micro_precision": f1, "micro_recall": f1, "val_macro_f1": f1, "params": "",
        "fit_seconds": 0.0, "thresholds": [0.5, 0.5],
        "per_label": {m: [f1, 0.0] for m in ("f1", "precision", "recall")} | {"support": [3, 1]},
        "train_counts": [10, 2], "target_names": ["a", "b"],
        "sizes": {"train": 12, "dev": 4, "test": 4},
    }  # fmt: skip


@pytest.fixture
def fake_runs(monkeypatch):
    calls = []

    def run_one(*args):
        calls.append(args[1:3])
        return _fake_run_one(*args)

    monkeypatch.setattr(ml, "SUITE", dataclasses.replace(ml.SUITE, run_one=run_one))
    monkeypatch.setattr(ml, "load_multilabel_split", lambda home, quick: None)
    return calls


def test_run_resumes_from_the_journal_and_trains_only_what_is_missing(tmp_path, fake_runs):
    config = MultilabelConfig(losses=("ce", "dice"), seeds=(0, 1))
    assert len(run(config, tmp_path, verbose=False)) == 5  # 2 losses x 2 seeds + the peer
    assert sorted(fake_runs) == [("ce", 0), ("ce", 1), ("dice", 0), ("dice", 1), (PEER, 0)]
    path = tmp_path / MULTILABEL_JOURNAL
    lines = path.read_text().splitlines()
    path.write_text("\n".join(lines[:2] + lines[3:]) + "\n")  # as if one run never finished
    fake_runs.clear()
    records = run(config, tmp_path, verbose=False)
    assert fake_runs == [tuple(json.loads(lines[2])[k] for k in ("loss", "seed"))]
    assert len(records) == 5 and len(path.read_text().splitlines()) == 5
    fake_runs.clear()
    run(dataclasses.replace(config, seeds=(0, 1, 2)), tmp_path, verbose=False)
    assert sorted(fake_runs) == [("ce", 2), ("dice", 2)]  # more seeds: only the new ones


def test_a_journal_of_other_settings_is_refused_until_fresh(tmp_path, fake_runs, monkeypatch):
    run(MultilabelConfig(losses=("ce",), seeds=(0,), epochs=5), tmp_path, verbose=False)
    (tmp_path / "multilabel.md").write_text("earlier report\n")
    monkeypatch.setattr(ml, "plan", lambda args: MultilabelConfig(losses=("ce",), seeds=(0,)))
    argv = ["--multilabel", "--out", str(tmp_path), "--jobs", "1"]
    with pytest.raises(ValueError, match=r"other settings.*--fresh"):
        ml.main(argv)
    assert (tmp_path / "multilabel.md").read_text() == "earlier report\n"
    assert len((tmp_path / MULTILABEL_JOURNAL).read_text().splitlines()) == 2

    fake_runs.clear()
    assert ml.main([*argv, "--fresh"]) == 0
    assert sorted(fake_runs) == [("ce", 0), (PEER, 0)]
    assert "earlier report" not in (tmp_path / "multilabel.md").read_text()


@pytest.mark.slow
def test_a_folder_in_use_is_refused_without_touching_it(tmp_path):
    (tmp_path / MULTILABEL_JOURNAL).write_text("")
    with lock_folder(tmp_path, "python run_experiments.py --multilabel"):
        script = [sys.executable, str(ROOT / "run_experiments.py")]
        result = subprocess.run(
            [*script, "--multilabel", "--fresh", "--out", str(tmp_path)],
            capture_output=True,
            text=True,
            cwd=ROOT,
            timeout=300,
        )
    assert result.returncode == 2
    assert f"{tmp_path} is in use by pid {os.getpid()}" in result.stderr
    assert (tmp_path / MULTILABEL_JOURNAL).exists()  # --fresh did not get to delete it


def test_bad_options_fail_before_any_training(tmp_path):
    with pytest.raises(ValueError, match="unknown multi-label loss 'wbce'"):
        run_experiments(["--multilabel", "--losses", "wbce", "--out", str(tmp_path)])
    with pytest.raises(ValueError, match="at least 1"):
        run_experiments(["--multilabel", "--seeds", "0", "--out", str(tmp_path)])
    with pytest.raises(SystemExit):  # the study's options do not apply
        run_experiments(["--multilabel", "--family", "--out", str(tmp_path)])
    assert not (tmp_path / MULTILABEL_JOURNAL).exists()


def _record(loss: str, seed: int, macro: float, f1: list[float]) -> dict:
    """A hand-made run over six labels of training counts 100, 90, 50, 40, 5 and 3."""
    return {
        "loss": loss, "seed": seed, "method": ml.method_name(loss),
        "micro_f1": macro + 0.1, "macro_f1": macro, "hamming": 0.05 * (seed + 1),
        "per_label": {
            "f1": f1, "precision": [2 * v for v in f1], "recall": [v / 2 for v in f1],
            "support": [9, 8, 7, 6, 5, 4],
        },
        "train_counts": [100, 90, 50, 40, 5, 3], "target_names": list("abcdef"),
    }  # fmt: skip


HAND_MADE = [
    _record("ce", 0, 0.40, [0.8, 0.6, 0.4, 0.2, 0.0, 0.0]),
    _record("ce", 1, 0.50, [0.6, 0.6, 0.2, 0.2, 0.2, 0.0]),
    _record("distribution_balanced", 0, 0.45, [0.7, 0.5, 0.4, 0.4, 0.3, 0.1]),
    _record("distribution_balanced", 1, 0.47, [0.7, 0.5, 0.4, 0.4, 0.1, 0.1]),
    _record(PEER, 0, 0.30, [0.9, 0.8, 0.0, 0.0, 0.0, 0.0]),
]


def test_main_table_means_and_sample_std_over_seeds():
    table = report.main_table(report.results_frame(HAND_MADE, ml.SUITE_NAMES)).set_index("method")
    assert list(table.index) == ["DAN (ce)", "DAN (distribution_balanced)", "TF-IDF + OvR LogReg"]
    assert table.loc["DAN (ce)", "macro-F1"] == "0.4500 ± 0.0707"
    assert table.loc["DAN (ce)", "micro-F1"] == "0.5500 ± 0.0707"
    assert table.loc["DAN (ce)", "Hamming loss"] == "0.0750 ± 0.0354"
    assert table.loc["TF-IDF + OvR LogReg", "macro-F1"] == "0.3000"  # one run: no std
    assert table.loc["TF-IDF + OvR LogReg", "runs"] == 1


def test_per_label_means_groups_and_the_zero_row():
    per_label = report.per_label_frame(HAND_MADE, ml.SUITE_NAMES)
    ce = per_label[per_label["loss"] == "ce"].set_index("label")
    assert ce["f1"].tolist() == pytest.approx([0.7, 0.6, 0.3, 0.2, 0.1, 0.0])
    assert ce["group"].tolist() == ["head", "head", "medium", "medium", "tail", "tail"]
    assert ce["support"].tolist() == [9, 8, 7, 6, 5, 4]

    groups = report.group_table(per_label).set_index(["group", "loss"])
    head, tail = groups.loc[("head", "ce")], groups.loc[("tail", "ce")]
    assert head["labels"] == 2 and head["mean_train_count"] == 95
    assert head["f1"] == pytest.approx(0.65) and head["precision"] == pytest.approx(1.3)
    assert tail["f1"] == pytest.approx(0.05) and tail["recall"] == pytest.approx(0.025)
    assert groups.loc[("tail", "distribution_balanced"), "f1"] == pytest.approx(0.15)
    # zero: F1 0 at every seed (ce's label e scores 0.2 once, so only f counts)
    assert groups.loc[("zero", "ce"), "labels"] == 1
    assert groups.loc[("zero", "ce"), "names"] == "f"
    assert groups.loc[("zero", "distribution_balanced"), "labels"] == 0
    assert groups.loc[("zero", PEER), "labels"] == 4
    assert groups.loc[("zero", PEER), "mean_train_count"] == pytest.approx(24.5)


def test_goal_sentence_met_and_missed_by_how_much():
    met = report.goal_sentences({"ce": 0.43, "dice": 0.452, PEER: 0.40}, ml.SUITE_NAMES)
    assert met[0].startswith("- **Goal macro-F1 ≥ 0.44: met by 0.0120.**")
    assert "`dice`" in met[0] and "1 of 2 DAN losses" in met[0]
    assert "0.0130 above a model2vec static-embedding classifier (0.439)" in met[1]
    assert "0.0510 below fine-tuned BERT (0.503)" in met[1]
    assert "0.4000 (-0.0400 against the goal), 0.0520 below the best DAN" in met[2]
    missed = report.goal_sentences({"ce": 0.4312}, ml.SUITE_NAMES)
    assert missed[0].startswith("- **Goal macro-F1 ≥ 0.44: missed by 0.0088.**")
    assert "0 of 1 DAN losses reach the goal." in missed[0] and len(missed) == 2


def test_tail_sentence_names_the_winner_and_the_margin():
    won = report.tail_sentence({"ce": 0.20, "distribution_balanced": 0.25})
    assert "distribution_balanced wins** over ce" in won
    assert "0.2500 vs 0.2000 (+0.0500, 25% more)" in won
    assert "ce wins** over distribution_balanced" in report.tail_sentence(
        {"ce": 0.3, "distribution_balanced": 0.1}
    )
    assert "tie" in report.tail_sentence({"ce": 0.3, "distribution_balanced": 0.3})
    assert "not compared (ce missing)" in report.tail_sentence({"distribution_balanced": 0.3})


def test_report_text_follows_the_numbers(tmp_path):
    config = MultilabelConfig().fingerprint()
    records = [
        {**r, "config": config, "command": "python run_experiments.py --multilabel",
         "sizes": {"train": 30, "dev": 10, "test": 10}}
        for r in HAND_MADE
    ]  # fmt: skip
    report.write_multilabel_reports(records, tmp_path, ml.SUITE_NAMES, DANClassifier().get_params())
    text = (tmp_path / "multilabel.md").read_text()
    assert "met by 0.0200" in text  # distribution_balanced's mean 0.46
    assert "distribution_balanced wins** over ce: mean label F1 0.1500 vs 0.0500" in text
    assert "- **Never right, DAN (ce)**: f." in text
    assert "`python run_experiments.py --multilabel` (5 runs)" in text
    assert len(pd.read_csv(tmp_path / "multilabel_results.csv")) == 5


@pytest.mark.realdata
def test_the_real_quick_subset_has_every_label_in_training(real_goemotions_home):
    split = ml.load_multilabel_split(str(real_goemotions_home), quick=True)
    assert split.y_train.sum(axis=0).min() >= 1
    assert len(split.X_val) >= ml.QUICK_SIZES["dev"] and len(split.target_names) == 28
    assert isinstance(split, Split)


@pytest.fixture
def real_goemotions_home() -> Path:
    from dan_dice.datasets import get_data_home

    for home in (get_data_home(), Path(__file__).resolve().parents[2] / "shared" / "datasets"):
        if (home / "goemotions" / "train.tsv").is_file():
            return home
    pytest.skip("GoEmotions missing (set DAN_DICE_DATA to the folder holding goemotions/)")
