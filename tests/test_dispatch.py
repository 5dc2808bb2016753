"""Where runs execute: local processes (joblib) and a real Dask cluster on loopback, with the
same records as one process; GridSearchCV on the cluster; one seed, two processes, one run."""

from __future__ import annotations

import json
import os
import pickle
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from dan_dice import dispatch as dispatch_module
from dan_dice import experiments
from dan_dice.cli import run_experiments
from dan_dice.dispatch import WorkerMismatchError, dispatch
from dan_dice.experiments import JOURNAL, Config, run, run_one
from dan_dice.journal import CONTEXT_KEYS
from dan_dice.runner import Dispatch
from dan_dice.splits import Split

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def toy_split(toy_texts) -> Split:
    texts, labels = toy_texts
    third = len(texts) // 3
    parts = (texts[:third], texts[third : 2 * third], texts[2 * third :])
    ys = (labels[:third], labels[third : 2 * third], labels[2 * third :])
    return Split(*parts, *ys, ["ham", "spam"])


@pytest.fixture
def tiny_config(tiny_vectors_file) -> Config:
    """Two cells x two seeds on the tiny word vectors: fast in a fresh process too."""
    return Config(
        cells=(("toy", "dice"), ("toy", "bce")),
        seeds=(0, 1),
        lrs=(1e-2,),
        epochs=2,
        model_params={"hidden_sizes": (8,), "embeddings": str(tiny_vectors_file)},
    )


def _computed(record: dict) -> dict:
    """What a run computed, without where it ran and how long it took."""
    return {k: v for k, v in record.items() if k not in CONTEXT_KEYS}


def _tasks(split: Split, config: Config) -> list:
    return [
        ((d, loss, s), (split, loss, s, config)) for d, loss in config.cells for s in config.seeds
    ]


def test_joblib_processes_give_the_same_runs_as_this_process(toy_split, tiny_config):
    tasks = _tasks(toy_split, tiny_config)
    serial = {key: record for key, record, _ in dispatch(run_one, tasks, jobs=1)}
    parallel = {key: record for key, record, _ in dispatch(run_one, tasks, jobs=2)}
    assert set(parallel) == set(serial) and len(serial) == 4
    for key in serial:
        assert _computed(parallel[key]) == _computed(serial[key])


def test_a_result_from_other_code_is_refused(monkeypatch, toy_split, tiny_config):
    def other_code(fn, key, *args):
        return key, {}, {"code": "0.0.1+ffffffffffffffff"}, "elsewhere (some CPU)"

    monkeypatch.setattr(dispatch_module, "call", other_code)
    with pytest.raises(WorkerMismatchError, match=r"elsewhere .* other code"):
        list(dispatch(run_one, _tasks(toy_split, tiny_config)[:1]))


def test_one_seed_in_two_fresh_processes_gives_the_same_run(tmp_path, toy_split, tiny_config):
    """Determinism across processes (and hash seeds): the record is identical but for timing."""
    (tmp_path / "task.pkl").write_bytes(pickle.dumps((toy_split, tiny_config)))
    code = (
        "import json, pickle, sys\n"
        "from dan_dice.experiments import run_one\n"
        "split, config = pickle.loads(open(sys.argv[1], 'rb').read())\n"
        "print(json.dumps(run_one(split, 'dice', 3, config)))\n"
    )
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", code, str(tmp_path / "task.pkl")],
            stdout=subprocess.PIPE,
            text=True,
            cwd=ROOT,
            env={**os.environ, "PYTHONHASHSEED": str(hash_seed)},
        )
        for hash_seed in (1, 2)
    ]
    first, second = (json.loads(p.communicate(timeout=300)[0]) for p in processes)
    assert all(p.returncode == 0 for p in processes)
    assert _computed(first) == _computed(second)
    assert first["history"] and first["seed"] == 3


@pytest.fixture(scope="module")
def dask_cluster():
    """A real Dask scheduler and two single-thread worker processes, on loopback only."""
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(
        n_workers=2,
        threads_per_worker=1,
        processes=True,
        host="127.0.0.1",
        dashboard_address=None,
    ) as cluster:
        yield cluster


def test_dask_workers_run_the_grid_and_the_driver_journals_it(
    tmp_path, monkeypatch, toy_split, tiny_config, dask_cluster
):
    monkeypatch.setattr(experiments.Config, "load_split", lambda config, name, home: toy_split)
    address = dask_cluster.scheduler_address
    records = run(tiny_config, tmp_path, dispatch_to=Dispatch(scheduler=address), verbose=False)
    journaled = [json.loads(line) for line in (tmp_path / JOURNAL).read_text().splitlines()]
    keys = sorted((r["dataset"], r["loss"], r["seed"]) for r in journaled)
    assert keys == [("toy", loss, seed) for loss in ("bce", "dice") for seed in (0, 1)]
    assert [r["seed"] for r in records] == [r["seed"] for r in journaled]
    fingerprint = json.loads(json.dumps(tiny_config.fingerprint()))
    assert all(r["worker"] and r["config"] == fingerprint for r in journaled)
    # the same runs as this process trains
    local = dict(
        ((d, loss, s), r)
        for (d, loss, s), r, _ in dispatch(run_one, _tasks(toy_split, tiny_config))
    )
    for record in journaled:
        key = (record["dataset"], record["loss"], record["seed"])
        assert _computed(local[key])["history"] == record["history"]
        assert local[key]["f1"] == record["f1"] and local[key]["lr"] == record["lr"]
    # resuming on the cluster trains nothing more
    again = run(tiny_config, tmp_path, dispatch_to=Dispatch(scheduler=address), verbose=False)
    assert len(again) == 4 and len((tmp_path / JOURNAL).read_text().splitlines()) == 4


def _fake_sms(folder: Path, toy_texts) -> Path:
    texts, labels = toy_texts
    lines = [f"{'spam' if y else 'ham'}\t{text}" for text, y in zip(texts, labels, strict=True)]
    (folder / "SMSSpamCollection").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return folder


@pytest.mark.slow
def test_a_quick_grid_through_the_dask_scheduler_writes_the_reports(
    tmp_path, toy_texts, dask_cluster
):
    data = _fake_sms(tmp_path, toy_texts)
    out = tmp_path / "reports"
    argv = ["--quick", "--datasets", "sms", "--losses", "dice", "--seeds", "2"]
    argv += ["--data-dir", str(data), "--out", str(out)]
    assert run_experiments([*argv, "--scheduler", dask_cluster.scheduler_address]) == 0
    journaled = [json.loads(line) for line in (out / JOURNAL).read_text().splitlines()]
    assert sorted(r["seed"] for r in journaled) == [0, 1]
    assert len((out / "results.csv").read_text().splitlines()) == 3
    (invocation,) = json.loads((out / "invocations.json").read_text())
    assert invocation["jobs"] == f"Dask at {dask_cluster.scheduler_address}"
    assert invocation["runs_added"] == 2


def test_grid_search_on_the_dask_cluster_through_joblib(toy_texts, tiny_vectors_file, dask_cluster):
    """The README's recipe: GridSearchCV over DANClassifier, its fits spread by joblib's Dask
    backend; the same search as in one process."""
    import joblib
    from distributed import Client, get_task_stream
    from sklearn.model_selection import GridSearchCV

    from dan_dice import DANClassifier

    X, y = toy_texts
    search = GridSearchCV(
        DANClassifier(
            embeddings=str(tiny_vectors_file), hidden_sizes=(8,), max_epochs=2, random_state=0
        ),
        {"lr": [1e-2, 3e-2], "loss": ["dice", "bce"]},
        cv=2,
        scoring="f1",
    )
    with (
        Client(dask_cluster.scheduler_address) as client,
        get_task_stream(client) as tasks,
        joblib.parallel_config(backend="dask"),
    ):
        on_dask = search.fit(X, y).cv_results_
    # joblib batches calls into tasks named "batch_of_<function>_<n>_calls": count the calls
    fits = [task["key"] for task in tasks.data if "fit_and_score" in task["key"]]
    calls = [re.search(r"_(\d+)_calls", key) for key in fits]
    assert sum(int(match[1]) if match else 1 for match in calls) >= 8  # 4 candidates x 2 folds
    in_process = GridSearchCV(search.estimator, search.param_grid, cv=2, scoring="f1").fit(X, y)
    assert np.array_equal(on_dask["mean_test_score"], in_process.cv_results_["mean_test_score"])
    assert on_dask["params"] == in_process.cv_results_["params"]


@pytest.mark.realdata
@pytest.mark.slow
def test_sigkill_of_the_dask_driver_loses_and_repeats_nothing(
    tmp_path, real_data_home, dask_cluster
):
    out = tmp_path / "reports"
    argv = [sys.executable, str(ROOT / "run_experiments.py"), "--quick", "--datasets", "sms"]
    argv += ["--losses", "dice", "wbce", "mse"]  # the study's: 6 runs of 2 quick seeds
    argv += ["--scheduler", dask_cluster.scheduler_address, "--out", str(out)]
    env = {**os.environ, "DAN_DICE_DATA": str(real_data_home)}
    driver = subprocess.Popen(argv, env=env, cwd=ROOT, stdout=subprocess.DEVNULL)
    journal = out / JOURNAL
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and driver.poll() is None:
        if journal.exists() and len(journal.read_text().splitlines()) >= 2:
            break
        time.sleep(0.02)
    assert driver.poll() is None, "the run ended before it could be killed"
    driver.send_signal(signal.SIGKILL)
    driver.wait()
    finished_before = [json.loads(line) for line in journal.read_text().splitlines()]
    assert 2 <= len(finished_before) < 6

    again = subprocess.run(argv, env=env, cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert again.returncode == 0, again.stderr
    after = [json.loads(line) for line in journal.read_text().splitlines()]
    keys = [(r["dataset"], r["loss"], r["seed"]) for r in after]
    assert len(keys) == len(set(keys)) == 6  # nothing lost, nothing repeated
    assert after[: len(finished_before)] == finished_before
