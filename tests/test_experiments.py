"""The experiment runner: journal, lock, resume after a kill, the --quick end-to-end run,
a re-run that reproduces results.csv."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import typing
from dataclasses import replace
from pathlib import Path

import pytest
from sklearn.utils import Bunch

from dan_dice import __version__, experiments, study_data
from dan_dice.experiments import JOURNAL, Config, read_journal, run
from dan_dice.journal import JournalWarning, append_journal, lock_folder
from dan_dice.splits import Split

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
    monkeypatch.setattr(Config, "load_split", lambda config, name, home: toy_split)


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


def test_run_never_picks_a_collapsed_learning_rate_over_one_that_is_not(
    toy_split, toy_config, monkeypatch
):
    """The collapsed model has the best validation F1 (as predicting "bullying" for every tweet
    does on cyberbullying), yet the rate whose model learned is kept."""
    fit = experiments.Config.estimator

    def estimator(self, loss, seed, lr):
        clf = fit(self, loss, seed, lr=lr)
        original = clf.fit

        def scripted_fit(*args, **kwargs):
            original(*args, **kwargs)
            clf.collapsed_ = lr == 3e-2
            clf.best_validation_score_ = 0.99 if clf.collapsed_ else 0.5
            return clf

        clf.fit = scripted_fit
        return clf

    monkeypatch.setattr(experiments.Config, "estimator", estimator)
    config = Config(**{**toy_config.__dict__, "lrs": (1e-2, 3e-2)})
    record = experiments.run_one(toy_split, "bce", 0, config)
    assert record["lr"] == 1e-2 and record["val_f1"] == 0.5
    assert record["val_f1_by_lr"] == {"0.01": 0.5, "0.03": 0.99}


def test_run_journals_every_run_and_resumes_without_repeating(
    tmp_path, toy_config, patched_split, monkeypatch
):
    records = run(toy_config, tmp_path, verbose=False)
    assert len(records) == 4
    lines = (tmp_path / JOURNAL).read_text().splitlines()
    assert len(lines) == 4

    calls = []
    monkeypatch.setattr(
        experiments, "SUITE", replace(experiments.SUITE, run_one=lambda *a: calls.append(a))
    )
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
    bunch = Bunch(data=texts, target=labels, target_names=["a", "b"])
    monkeypatch.setattr(study_data, "load_dataset", lambda name, home: bunch)
    full = study_data.load_split("toy")
    swept = study_data.load_split("toy@0.05")
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
    main_job = experiments.study_cells(experiments.BINARY_DATASETS, experiments.MAIN_LOSSES)
    assert experiments.plan_cells(experiments.parse_args([])) == main_job


def test_journal_with_other_settings_is_refused(tmp_path, toy_config, patched_split):
    run(toy_config, tmp_path, verbose=False)
    other = Config(**{**toy_config.__dict__, "epochs": 3})
    with pytest.raises(ValueError, match=r"other settings.*--fresh"):
        read_journal(tmp_path / JOURNAL, other)


def test_the_fingerprint_holds_the_settings_the_code_and_the_numeric_libraries(toy_config):
    fingerprint = toy_config.fingerprint()
    assert fingerprint["epochs"] == 2 and fingerprint["threshold"] == "tune"
    assert fingerprint["code"].startswith(__version__ + "+")
    assert {"torch", "numpy", "python"} <= set(fingerprint)
    assert "seeds" not in fingerprint and "cells" not in fingerprint  # a journal can grow


def test_journal_drops_a_line_cut_short_by_a_kill(tmp_path, toy_config):
    journal = tmp_path / JOURNAL
    example = {float: 0.5, int: 1, list: [], dict: {}}  # a run of the schema, not trained
    record = {
        key: example[typing.get_origin(types[0]) or types[0]]
        for key, types in experiments.RUN_SCHEMA.required.items()
    }
    record |= {"dataset": "toy", "loss": "dice", "seed": 0, "config": toy_config.fingerprint()}
    record |= {"command": "", "worker": ""}
    append_journal(journal, record)
    with open(journal, "a") as f:
        f.write('{"dataset": "toy", "lo')  # what SIGKILL mid-write would leave
    with pytest.warns(JournalWarning, match="line 2: skipped, unfinished"):
        assert read_journal(journal, toy_config, repair=True) == [json.loads(json.dumps(record))]
    assert journal.read_text() == json.dumps(record) + "\n"


def test_run_keeps_the_good_runs_around_a_bad_line_and_trains_only_the_missing(
    tmp_path, toy_config, patched_split, monkeypatch
):
    run(toy_config, tmp_path, verbose=False)
    lines = (tmp_path / JOURNAL).read_text().splitlines()
    (tmp_path / JOURNAL).write_text("\n".join([lines[0], "null", *lines[2:]]) + "\n")
    trained = []
    real_run_one = experiments.run_one

    def counted(*args):
        trained.append(args[1:3])
        return real_run_one(*args)

    monkeypatch.setattr(experiments, "SUITE", replace(experiments.SUITE, run_one=counted))
    with pytest.warns(JournalWarning, match=rf"{JOURNAL}, line 2: skipped, not a run"):
        records = run(toy_config, tmp_path, verbose=False)
    assert trained == [(json.loads(lines[1])["loss"], json.loads(lines[1])["seed"])]
    assert len(records) == 4 == len((tmp_path / JOURNAL).read_text().splitlines())


def test_a_new_journal_drops_the_invocations_of_earlier_ones(tmp_path):
    old = {"command": "python run_experiments.py", "runs_added": 30, "wall_seconds": 400.0}
    (tmp_path / experiments.INVOCATIONS).write_text(json.dumps([old]))
    now = {"command": "python run_experiments.py", "runs_added": 30, "wall_seconds": 390.0}
    assert experiments._record_invocation(tmp_path, new_journal=True, **now) == [now]
    more = {**now, "runs_added": 2}
    assert experiments._record_invocation(tmp_path, new_journal=False, **more) == [now, more]


def _run_script(*args: str, data_home: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(ROOT / "run_experiments.py"), *args],
        env={**os.environ, "DAN_DICE_DATA": data_home},
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=600,
    )


@pytest.fixture
def fake_data_home(tmp_path, toy_texts) -> Path:
    """A data folder whose ``SMSSpamCollection`` holds the 200 toy texts."""
    texts, labels = toy_texts
    lines = [f"{'spam' if y else 'ham'}\t{text}" for text, y in zip(texts, labels, strict=True)]
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "SMSSpamCollection").write_text("\n".join(lines) + "\n")
    return tmp_path / "data"


QUICK_SMS = ("--quick", "--datasets", "sms", "--losses", "dice", "--seeds", "2", "--jobs", "1")
STUDY_GRID = ("--datasets", "sms", "cyberbullying", "--losses", "dice", "wbce", "mse")
"""The study's own 12 quick runs, not the main job's Dice family too."""


def test_script_says_who_holds_the_output_folder_and_exits_2(tmp_path, fake_data_home):
    out = tmp_path / "reports"
    with lock_folder(out, "python run_experiments.py --out reports"):
        result = _run_script(*QUICK_SMS, "--out", str(out), data_home=str(fake_data_home))
    assert result.returncode == 2
    assert result.stderr.startswith(
        f"run_experiments.py: error: {out} is in use by pid {os.getpid()} on "
    )
    assert "(command 'python run_experiments.py --out reports'" in result.stderr
    assert "Traceback" not in result.stderr and not (out / JOURNAL).exists()


def test_script_names_a_journal_it_cannot_read(tmp_path, fake_data_home):
    out = tmp_path / "reports"
    (out / JOURNAL).mkdir(parents=True)
    result = _run_script(*QUICK_SMS, "--out", str(out), data_home=str(fake_data_home))
    assert result.returncode == 2
    assert f"run_experiments.py: error: cannot read the journal {out / JOURNAL}" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.slow
def test_a_rerun_reproduces_results_csv_and_a_journal_of_other_code_is_refused(
    tmp_path, fake_data_home
):
    out = tmp_path / "reports"
    (out / "invocations.json").parent.mkdir()
    (out / "invocations.json").write_text('[{"command": "from another clone"}]')
    first = _run_script(*QUICK_SMS, "--out", str(out), data_home=str(fake_data_home))
    assert first.returncode == 0, first.stderr
    (invocation,) = json.loads((out / "invocations.json").read_text())  # only this run's
    assert invocation["runs_added"] == 2 and "REPORT.md" in {p.name for p in out.iterdir()}
    results_bytes = (out / "results.csv").read_bytes()
    again = _run_script(*QUICK_SMS, "--fresh", "--out", str(out), data_home=str(fake_data_home))
    assert again.returncode == 0, again.stderr
    assert (out / "results.csv").read_bytes() == results_bytes  # no timing in it
    # a journal written by other code is refused, never reused
    lines = [json.loads(line) for line in (out / JOURNAL).read_text().splitlines()]
    for record in lines:
        record["config"]["code"] = "0.1.0+0000000000000000"
    (out / JOURNAL).write_text("".join(json.dumps(r) + "\n" for r in lines))
    refused = _run_script(*QUICK_SMS, "--out", str(out), data_home=str(fake_data_home))
    assert refused.returncode == 2
    assert "other settings or code" in refused.stderr and "--fresh" in refused.stderr


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
        "dataset,loss,seed,lr,best_epoch,accuracy,f1,macro_f1,precision,recall,"
    )
    # the main job: binary datasets x (study losses + Dice family) x quick seeds
    runs = len(experiments.BINARY_DATASETS) * len(experiments.MAIN_LOSSES) * 2
    assert len(results) == 1 + runs
    summary = (out / "summary.md").read_text()
    assert "0.8676" in summary and "(majority class)" in summary
    figures = sorted(p.name for p in (out / "figures").glob("*.png"))
    assert len(figures) == 3 * len(experiments.BINARY_DATASETS) and "sms_f1.png" in figures
    report = (out / "REPORT.md").read_text()
    assert "--quick" in report and "## Discussion" in report
    (invocation,) = json.loads((out / "invocations.json").read_text())
    assert invocation["runs_added"] == runs and invocation["command"].endswith(f"--out {out}")
    assert not list(out.rglob("*.tmp"))


@pytest.mark.realdata
@pytest.mark.slow
@pytest.mark.parametrize("jobs", ["1", "2"])
def test_sigkill_then_restart_loses_and_repeats_nothing(tmp_path, real_data_home, jobs):
    import psutil

    out = tmp_path / "reports"
    command = [sys.executable, str(ROOT / "run_experiments.py"), "--quick", "--jobs", jobs]
    command += [*STUDY_GRID, "--out", str(out)]
    env = {**os.environ, "DAN_DICE_DATA": real_data_home}
    process = subprocess.Popen(command, env=env, cwd=ROOT, stdout=subprocess.DEVNULL)
    journal = out / JOURNAL
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and process.poll() is None:
        if journal.exists() and len(journal.read_text().splitlines()) >= 2:
            break
        time.sleep(0.02)
    assert process.poll() is None, "the run ended before it could be killed"
    workers = psutil.Process(process.pid).children(recursive=True)
    process.send_signal(signal.SIGKILL)
    process.wait()
    _, alive = psutil.wait_procs(workers, timeout=30)
    assert not alive  # the worker processes died with the driver: no orphan keeps training
    before = journal.read_text().splitlines()
    finished_before = [json.loads(line) for line in before if line.endswith("}")]
    assert 2 <= len(finished_before) < 12
    assert not (out / "results.csv").exists()  # reports are written only at the end

    args = ("--quick", "--jobs", jobs, *STUDY_GRID, "--out", str(out))
    result = _run_script(*args, data_home=real_data_home)
    assert result.returncode == 0, result.stderr
    after = [json.loads(line) for line in journal.read_text().splitlines()]
    keys = [(r["dataset"], r["loss"], r["seed"]) for r in after]
    assert len(keys) == len(set(keys)) == 12  # nothing lost, nothing repeated
    assert after[: len(finished_before)] == finished_before  # finished runs kept as they were
    assert len((out / "results.csv").read_text().splitlines()) == 13
    assert not list(out.rglob("*.tmp"))


def test_the_runner_modules_sit_below_the_command_line():
    """``cli`` imports ``experiments`` (for ``dan-dice experiments``), never the reverse."""
    import ast

    for name in ("experiments", "journal", "dispatch", "arguments"):
        tree = ast.parse((ROOT / "dan_dice" / f"{name}.py").read_text(encoding="utf-8"))
        imported = {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
        assert not imported & {"cli", "dan_dice.cli"}, name
