"""What ``benchmarks/defaults.py``, ``benchmarks/stopping.py`` and
``benchmarks/embedding_update.py`` share: fitting an estimator on a task's training part or on
a subsample of it as a user would, and a journal of those fits that an interrupted run
resumes."""

from __future__ import annotations

import json
import math
import time
import warnings
from collections.abc import Callable, Hashable, Sequence
from pathlib import Path

from joblib import Parallel, delayed
from sklearn.model_selection import train_test_split

from dan_dice import DANClassifier
from dan_dice.metrics import scores
from dan_dice.splits import Split
from dan_dice.training import CollapseWarning


def fit_at_size(clf: DANClassifier, split: Split, size: int | None, seed: int) -> dict:
    """Fit ``clf`` on the training part with its fixed validation part (``size`` None), or on a
    seeded, stratified subsample of ``size`` training texts with ``fit(X, y)`` and its own
    validation split, as a user fits. Returns its validation score, epochs, best epoch,
    whether it warned of a collapse, and its seconds."""
    start = time.perf_counter()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", CollapseWarning)
        if size is None:
            clf.fit(split.X_train, split.y_train, validation_data=(split.X_val, split.y_val))
        else:
            X, _, y, _ = train_test_split(
                split.X_train,
                split.y_train,
                train_size=size,
                stratify=split.y_train,
                random_state=seed,
            )
            clf.fit(X, y)
    return {
        "val": clf.best_validation_score_,
        "epochs": len(clf.history_),
        "best_epoch": clf.best_epoch_,
        "collapse_warning": any(issubclass(w.category, CollapseWarning) for w in caught),
        "seconds": round(time.perf_counter() - start, 2),
    }


def fit_and_score(clf: DANClassifier, split: Split, task: str, size: int | None, seed: int) -> dict:
    """:func:`fit_at_size`'s record, with the test score: F1 of the positive class, macro-F1
    for several classes (NaN for GoEmotions, which is judged on its dev part only)."""
    record = fit_at_size(clf, split, size, seed)
    record["test"] = math.nan
    if task != "goemotions":
        n_classes = len(split.target_names)
        test = scores(split.y_test, clf.predict(split.X_test), n_classes)
        record["test"] = test["f1" if n_classes == 2 else "macro_f1"]
    return record


def run_fits(
    journal: Path,
    jobs: Sequence[tuple[Hashable, tuple]],
    record_key: Callable[[dict], Hashable],
    fit: Callable[..., dict],
    n_jobs: int,
    describe: Callable[[dict], str],
) -> list[dict]:
    """``fit(*args)`` for every ``(key, args)`` of ``jobs`` whose key no record of the JSON-lines
    ``journal`` has (``record_key``), in the order given, ``n_jobs`` at a time, each record
    appended to the journal and printed (``describe``) as it ends; returns every record of the
    journal, old and new."""
    journal.parent.mkdir(parents=True, exist_ok=True)
    records = []
    if journal.exists():
        records = [json.loads(line) for line in journal.read_text().splitlines() if line.strip()]
    done = {record_key(record) for record in records}
    run = Parallel(n_jobs=n_jobs, return_as="generator_unordered")
    with open(journal, "a", encoding="utf-8") as f:
        for record in run(delayed(fit)(*args) for key, args in jobs if key not in done):
            f.write(json.dumps(record) + "\n")
            f.flush()
            records.append(record)
            print(describe(record), flush=True)
    return records


def run_sized(
    journal: Path,
    jobs: Sequence[tuple],
    fields: tuple[str, ...],
    splits: dict[str, Split],
    fit: Callable[..., dict],
    n_jobs: int,
    describe: Callable[[dict], str],
) -> list[dict]:
    """:func:`run_fits` for jobs that are tuples of the record's ``fields``, the first the task
    and one of them its ``size`` (None: the full training part), fit as ``fit(split, *job)``
    largest first; returns the records of ``jobs`` only."""
    at = fields.index("size")

    def largest_first(job: tuple) -> int:
        return -len(splits[job[0]].X_train) if job[at] is None else -job[at]

    def key(record: dict) -> tuple:
        return tuple(record[field] for field in fields)

    jobs = sorted(jobs, key=largest_first)
    records = run_fits(
        journal, [(job, (splits[job[0]], *job)) for job in jobs], key, fit, n_jobs, describe
    )
    wanted = set(jobs)
    return [record for record in records if key(record) in wanted]


def holds_defaults(params: dict | None) -> bool:
    """Whether ``DANClassifier()``'s defaults already hold every one of ``params`` (None: no
    change), so that a report can tell an adopted candidate from one that is not."""
    defaults = DANClassifier().get_params()
    return params is None or all(defaults[k] == v for k, v in params.items())


def within_noise(mean: float, reference_mean: float, reference_sd: float) -> bool:
    """Whether a candidate's mean validation score holds against a reference's: at least the
    reference's mean minus one standard deviation of the reference's seeds (the rule by which
    a default may change, as the stopping rule's and the network's width were measured)."""
    return mean >= reference_mean - reference_sd
