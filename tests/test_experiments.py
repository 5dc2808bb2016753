"""The experiment runner: journal, resume after a kill, the --quick end-to-end run."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from dan_dice import experiments
from dan_dice.experiments import JOURNAL, Config, Split, append_journal, read_journal, run

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def toy_split(toy_texts) -> Split:
    texts, labels = toy_texts
    third = len(texts) // 3
    return Split(
        texts[:third],
        texts[third : 2 * third],
        texts[2 * third :],
        labels[:third],
        labels[third : 2 * third],
        labels[2 * third :],
        ["ham", "spam"],
    )


@pytest.fixture
def toy_config() -> Config:
    return Config(
        cells=(("toy", "dice"), ("toy", "bce")),
        seeds=(0, 1),
        lrs=(1e-2,),
        epochs=2,
        model_params={"hidden_sizes": (8,)},
    )


@pytest.fixture
def patched_split(monkeypatch, toy_split):
    monkeypatch.setattr(experiments, "load_split", lambda name, home, config: toy_split)


def test_run_one_records_scores_history_and_tuned_threshold(toy_split, toy_config):
    record = experiments.run_one(toy_split, "dice", 0, toy_config)
    for key in ("lr", "best_epoch", "accuracy", "f1", "macro_f1", "precision", "recall"):
        assert key in record
    assert 0 <= record["f1"] <= 1
    assert record["lr"] == 1e-2
    assert 1 <= record["best_epoch"] <= len(record["history"]) <= 2
    assert 0 < record["threshold"] < 1
    assert 0 <= record["f1_at_0.5"] <= 1
    assert set(record["val_f1_by_lr"]) == {"0.01"}
    best = record["history"][record["best_epoch"] - 1]
    assert record["val_f1"] == best["val_tuned_f1"]  # the epoch was judged at its best threshold


def test_run_one_with_a_fixed_threshold_scores_at_it(toy_split, toy_config):
    config = Config(**{**toy_config.__dict__, "threshold": 0.5})
    record = experiments.run_one(toy_split, "bce", 0, config)
    assert record["threshold"] == 0.5
    assert record["f1"] == record["f1_at_0.5"]
    assert record["val_f1"] == record["history"][record["best_epoch"] - 1]["val_f1"]


def test_the_threshold_is_part_of_the_journal_fingerprint(tmp_path, toy_config, patched_split):
    run(toy_config, tmp_path, verbose=False)
    fixed = Config(**{**toy_config.__dict__, "threshold": 0.5})
    with pytest.raises(ValueError, match="other settings"):
        run(fixed, tmp_path, verbose=False)


def test_run_picks_the_learning_rate_with_best_validation_f1(toy_split, toy_config):
    config = Config(**{**toy_config.__dict__, "lrs": (1e-6, 3e-2)})
    record = experiments.run_one(toy_split, "bce", 0, config)
    by_lr = record["val_f1_by_lr"]
    assert record["lr"] == float(max(by_lr, key=by_lr.get))


def test_run_journals_every_run_and_resumes_without_repeating(
    tmp_path, toy_config, patched_split, monkeypatch
):
    records = run(toy_config, tmp_path, verbose=False)
    assert len(records) == 4
    lines = (tmp_path / JOURNAL).read_text().splitlines()
    assert len(lines) == 4

    calls = []
    monkeypatch.setattr(experiments, "run_one", lambda *args: calls.append(args))
    again = run(toy_config, tmp_path, verbose=False)
    assert calls == []  # nothing trained twice
    assert [r["seed"] for r in again] == [r["seed"] for r in records]


def test_run_returns_every_journaled_run_old_and_new(tmp_path, toy_config, patched_split):
    run(toy_config, tmp_path, verbose=False)
    more = Config(**{**toy_config.__dict__, "cells": (("toy", "mse"),), "seeds": (0,)})
    records = run(more, tmp_path, verbose=False)
    assert sorted((r["loss"], r["seed"]) for r in records) == [
        ("bce", 0), ("bce", 1), ("dice", 0), ("dice", 1), ("mse", 0),
    ]  # fmt: skip


def test_sweep_split_subsamples_positives_but_keeps_the_test_set(monkeypatch, toy_texts):
    texts, labels = toy_texts
    bunch = type("Bunch", (), {"data": texts, "target": labels, "target_names": ["a", "b"]})
    monkeypatch.setattr(experiments, "load_dataset", lambda name, home: bunch)
    full = experiments.load_split("toy", None, Config())
    swept = experiments.load_split("toy@0.05", None, Config())
    assert swept.X_test == full.X_test
    assert (swept.y_test == full.y_test).all()
    for y_full, y in ((full.y_train, swept.y_train), (full.y_val, swept.y_val)):
        assert (y == 0).sum() == (y_full == 0).sum()  # every negative kept
        assert 2 <= (y == 1).sum() < (y_full == 1).sum()
        assert abs(y.mean() - 0.05) < 0.02


def test_plan_cells_adds_the_suites_without_repeats():
    args = experiments.parse_args(
        ["--losses", "dice", "bce", "--family", "--multiclass", "--sweep"]
    )
    cells = experiments.plan_cells(args)
    assert len(cells) == len(set(cells))
    assert ("sms", "dice") in cells and ("cyberbullying", "dsc") in cells
    assert ("cyberbullying6", "multiclass_dice") in cells
    assert ("sms@0.01", "tversky") in cells
    assert experiments.plan_cells(experiments.parse_args([])) == experiments.study_cells()


def test_journal_with_other_settings_is_refused(tmp_path, toy_config, patched_split):
    run(toy_config, tmp_path, verbose=False)
    other = Config(**{**toy_config.__dict__, "epochs": 3})
    with pytest.raises(ValueError, match=r"other settings.*--fresh"):
        read_journal(tmp_path / JOURNAL, other)


def test_journal_drops_a_line_cut_short_by_a_kill(tmp_path, toy_config):
    journal = tmp_path / JOURNAL
    record = {"dataset": "toy", "loss": "dice", "seed": 0, "config": toy_config.fingerprint()}
    append_journal(journal, record)
    with open(journal, "a") as f:
        f.write('{"dataset": "toy", "lo')  # what SIGKILL mid-write would leave
    assert read_journal(journal, toy_config) == [json.loads(json.dumps(record))]
    assert journal.read_text() == json.dumps(record) + "\n"


def test_parallel_jobs_give_the_same_records_as_one_process(tmp_path, toy_split, toy_config):
    tasks = [(("toy", "dice", seed), toy_split) for seed in (0, 1)]
    serial = dict(experiments._execute(tasks, toy_config, jobs=1))
    parallel = dict(experiments._execute(tasks, toy_config, jobs=2))
    for key in serial:
        for field in ("accuracy", "f1", "best_epoch", "lr"):
            assert serial[key][field] == parallel[key][field]
        assert serial[key]["history"] == parallel[key]["history"]


def _run_script(*args: str, data_home: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(ROOT / "run_experiments.py"), *args],
        env={**os.environ, "DAN_DICE_DATA": data_home},
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=600,
    )


def test_script_rejects_bad_options_without_a_traceback(tmp_path):
    result = _run_script("--losses", "nope", "--out", str(tmp_path), data_home=str(tmp_path))
    assert result.returncode == 2
    assert "unknown loss" in result.stderr.lower() or "nope" in result.stderr
    assert "Traceback" not in result.stderr
    missing = _run_script("--out", str(tmp_path / "r"), data_home=str(tmp_path))
    assert missing.returncode == 2
    assert "not found" in missing.stderr and "Traceback" not in missing.stderr
    assert not (tmp_path / "r").exists()


@pytest.mark.realdata
@pytest.mark.slow
def test_quick_run_writes_every_report(tmp_path, real_data_home):
    out = tmp_path / "reports"
    result = _run_script("--quick", "--out", str(out), data_home=real_data_home)
    assert result.returncode == 0, result.stderr
    results = (out / "results.csv").read_text().splitlines()
    assert results[0].startswith(
        "dataset,loss,seed,lr,best_epoch,accuracy,f1,macro_f1,precision,recall,train_seconds"
    )
    assert len(results) == 1 + 2 * 3 * 2  # datasets x study losses x quick seeds
    summary = (out / "summary.md").read_text()
    assert "0.8676" in summary and "(majority class)" in summary
    figures = sorted(p.name for p in (out / "figures").glob("*.png"))
    assert len(figures) == 6 and "sms_f1.png" in figures
    report = (out / "REPORT.md").read_text()
    assert "--quick" in report and "## Discussion" in report
    (invocation,) = json.loads((out / "invocations.json").read_text())
    assert invocation["runs_added"] == 12 and invocation["command"].endswith(f"--out {out}")
    assert not list(out.rglob("*.tmp"))


@pytest.mark.realdata
@pytest.mark.slow
def test_sigkill_then_restart_loses_and_repeats_nothing(tmp_path, real_data_home):
    out = tmp_path / "reports"
    command = [sys.executable, str(ROOT / "run_experiments.py"), "--quick", "--jobs", "1"]
    command += ["--out", str(out)]
    env = {**os.environ, "DAN_DICE_DATA": real_data_home}
    process = subprocess.Popen(command, env=env, cwd=ROOT, stdout=subprocess.DEVNULL)
    journal = out / JOURNAL
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and process.poll() is None:
        if journal.exists() and len(journal.read_text().splitlines()) >= 2:
            break
        time.sleep(0.02)
    assert process.poll() is None, "the run ended before it could be killed"
    process.send_signal(signal.SIGKILL)
    process.wait()
    before = journal.read_text().splitlines()
    finished_before = [json.loads(line) for line in before if line.endswith("}")]
    assert 2 <= len(finished_before) < 12
    assert not (out / "results.csv").exists()  # reports are written only at the end

    result = _run_script("--quick", "--jobs", "1", "--out", str(out), data_home=real_data_home)
    assert result.returncode == 0, result.stderr
    after = [json.loads(line) for line in journal.read_text().splitlines()]
    keys = [(r["dataset"], r["loss"], r["seed"]) for r in after]
    assert len(keys) == len(set(keys)) == 12  # nothing lost, nothing repeated
    assert after[: len(finished_before)] == finished_before  # finished runs kept as they were
    assert len((out / "results.csv").read_text().splitlines()) == 13
    assert not list(out.rglob("*.tmp"))
