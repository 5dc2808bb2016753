"""The study's experiment grid: datasets x losses x seeds, learning rate tuned on validation.

Every finished (dataset, loss, seed) run is appended to a journal (``runs.jsonl`` in the output
folder) as soon as it ends, so an interrupted run resumes where it stopped and repeats nothing.
The tables, figures and report are rendered from the journal and written atomically.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from . import __version__
from .datasets import DATASETS, load_dataset, train_val_test_split
from .metrics import best_threshold, majority_share, scores
from .reporting import atomic_write_text

JOURNAL = "runs.jsonl"
STUDY_LOSSES = ("dice", "wbce", "mse")
DEFAULT_LRS = [3e-4, 1e-3, 3e-3]


@dataclass(frozen=True)
class Config:
    """What an experiment run trains; runs in one journal must share it (except seeds)."""

    datasets: tuple[str, ...] = DATASETS
    losses: tuple[str, ...] = STUDY_LOSSES
    seeds: tuple[int, ...] = (0, 1, 2, 3, 4)
    lrs: tuple[float, ...] = tuple(DEFAULT_LRS)
    epochs: int = 30
    device: str = "auto"
    quick: bool = False
    split_seed: int = 0
    model_params: dict = field(default_factory=dict)

    def fingerprint(self) -> dict:
        """The settings that change results (not which datasets, losses or seeds are run)."""
        keep = ("lrs", "epochs", "quick", "split_seed", "model_params")
        return {k: v for k, v in asdict(self).items() if k in keep}


QUICK_SIZES = {"train": 600, "val": 200, "test": 300}
"""Texts per split in ``--quick`` mode: enough for a smoke test of the whole pipeline."""


@dataclass
class Split:
    X_train: list[str]
    X_val: list[str]
    X_test: list[str]
    y_train: np.ndarray
    y_val: np.ndarray
    y_test: np.ndarray
    target_names: list[str]


def load_split(name: str, data_home: str | None, config: Config) -> Split:
    """The fixed 60/20/20 split of a dataset (the same for every seed and loss)."""
    bunch = load_dataset(name, data_home)
    parts = train_val_test_split(bunch.data, bunch.target, random_state=config.split_seed)
    X_train, X_val, X_test, y_train, y_val, y_test = parts
    if config.quick:
        X_train, y_train = X_train[: QUICK_SIZES["train"]], y_train[: QUICK_SIZES["train"]]
        X_val, y_val = X_val[: QUICK_SIZES["val"]], y_val[: QUICK_SIZES["val"]]
        X_test, y_test = X_test[: QUICK_SIZES["test"]], y_test[: QUICK_SIZES["test"]]
    return Split(X_train, X_val, X_test, y_train, y_val, y_test, list(bunch.target_names))


def run_one(split: Split, loss: str, seed: int, config: Config) -> dict:
    """Tune the learning rate on validation for one (loss, seed), then score the test set."""
    from .estimator import DANClassifier

    n_classes = len(split.target_names)
    tried = []
    for lr in config.lrs:
        start = time.perf_counter()
        clf = DANClassifier(
            loss=loss,
            lr=lr,
            max_epochs=config.epochs,
            device=config.device,
            random_state=seed,
            **config.model_params,
        ).fit(split.X_train, split.y_train, validation_data=(split.X_val, split.y_val))
        seconds = time.perf_counter() - start
        val_f1 = clf.history_[clf.best_epoch_ - 1]["val_f1"]
        tried.append((val_f1, -lr, seconds, clf))
    val_f1, neg_lr, seconds, clf = max(tried, key=lambda t: t[:2])
    proba = clf.predict_proba(split.X_test)
    predicted = proba.argmax(1)
    record = {
        "loss": loss,
        "seed": seed,
        "lr": -neg_lr,
        "best_epoch": clf.best_epoch_,
        "val_f1": val_f1,
        **scores(split.y_test, predicted, n_classes),
        "majority_share": majority_share(predicted),
        "train_seconds": round(seconds, 2),
        "tuning_seconds": round(sum(t[2] for t in tried), 2),
        "val_f1_by_lr": {f"{-t[1]:g}": t[0] for t in tried},
        "history": clf.history_,
    }
    if n_classes == 2:
        val_proba = clf.predict_proba(split.X_val)[:, 1]
        threshold, _ = best_threshold(split.y_val, val_proba)
        tuned = scores(split.y_test, (proba[:, 1] >= threshold).astype(int), 2)
        record.update(
            tuned_threshold=threshold, tuned_f1=tuned["f1"], tuned_accuracy=tuned["accuracy"]
        )
    return record


def read_journal(path: Path, config: Config) -> list[dict]:
    """Finished runs recorded in ``path``; refuses a journal made with other settings.

    A last line cut short by a kill is dropped (that run is done again) and the journal is
    rewritten without it, so the next append starts on a clean line.
    """
    if not path.exists():
        return []
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    records = []
    for line in lines:
        try:
            if not line.endswith("\n"):
                raise ValueError("unfinished line")
            records.append(json.loads(line))
        except ValueError:  # json.JSONDecodeError is one
            break
    if len(records) < len(lines):
        atomic_write_text(path, "".join(json.dumps(r) + "\n" for r in records))
    for record in records:
        if record["config"] != json.loads(json.dumps(config.fingerprint())):
            raise ValueError(
                f"{path} holds runs made with other settings ({record['config']}); "
                "pass --fresh to start over or --out to write elsewhere"
            )
    return records


def append_journal(path: Path, record: dict) -> None:
    """Append one finished run durably (one JSON line, flushed and fsynced)."""
    with open(path, "a", encoding="utf-8") as f:
        f.write(json.dumps(record) + "\n")
        f.flush()
        os.fsync(f.fileno())


def run(
    config: Config, out: Path, data_home: str | None = None, verbose: bool = True
) -> list[dict]:
    """Run every missing (dataset, loss, seed) of ``config``, journaled in ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    journal = out / JOURNAL
    records = read_journal(journal, config)
    done = {(r["dataset"], r["loss"], r["seed"]) for r in records}
    for dataset in config.datasets:
        todo = [
            (loss, seed)
            for loss in config.losses
            for seed in config.seeds
            if (dataset, loss, seed) not in done
        ]
        if not todo:
            continue
        split = load_split(dataset, data_home, config)
        for loss, seed in todo:
            record = {"dataset": dataset, **run_one(split, loss, seed, config)}
            record["config"] = config.fingerprint()
            append_journal(journal, record)
            records.append(json.loads(json.dumps(record)))
            if verbose:
                print(
                    f"{dataset:>14} {loss:>16} seed {seed}: lr {record['lr']:g} "
                    f"acc {record['accuracy']:.4f} F1 {record['f1']:.4f} "
                    f"({record['tuning_seconds']:.0f} s)",
                    flush=True,
                )
    keys = [(r["dataset"], r["loss"], r["seed"]) for r in records]
    return [
        r
        for r, (dataset, loss, seed) in zip(records, keys, strict=True)
        if dataset in config.datasets and loss in config.losses and seed in config.seeds
    ]


def majority_baselines(datasets: Sequence[str], data_home: str | None, config: Config) -> dict:
    """Test scores of always predicting the training majority class, per dataset."""
    baselines = {}
    for name in datasets:
        split = load_split(name, data_home, config)
        n_classes = len(split.target_names)
        majority = np.bincount(split.y_train).argmax()
        predicted = np.full(len(split.y_test), majority)
        baselines[name] = scores(split.y_test, predicted, n_classes)
    return baselines


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="run_experiments.py",
        description="Reproduce the study: DAN on GloVe, each loss and seed, into reports/.",
    )
    parser.add_argument(
        "--data-dir", help="folder with the datasets (default: $DAN_DICE_DATA, else data/)"
    )
    parser.add_argument("--datasets", nargs="+", default=list(DATASETS), metavar="NAME")
    parser.add_argument("--losses", nargs="+", default=list(STUDY_LOSSES), metavar="LOSS")
    parser.add_argument("--seeds", type=int, default=5, help="number of seeds, 0..N-1 (default 5)")
    parser.add_argument("--epochs", type=int, default=30, help="most epochs per fit (default 30)")
    parser.add_argument("--lrs", type=float, nargs="+", default=DEFAULT_LRS, metavar="LR")
    parser.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    parser.add_argument("--out", default="reports", help="output folder (default reports/)")
    parser.add_argument("--quick", action="store_true", help="tiny, fast run for smoke tests")
    parser.add_argument("--fresh", action="store_true", help="discard finished runs in --out")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``run_experiments.py`` and ``dan-dice experiments``."""
    from .losses import get_loss
    from .reporting import write_reports
    from .training import resolve_device

    args = parse_args(argv)
    for loss in args.losses:  # unknown names fail now, with the list of valid ones
        get_loss(loss, np.array([0, 1]), 2)
    if args.seeds < 1 or args.epochs < 1:
        raise ValueError("--seeds and --epochs must be at least 1")
    if any(lr <= 0 for lr in args.lrs):
        raise ValueError("--lrs must be positive")
    resolve_device(args.device)
    for name in args.datasets:
        load_dataset(name, args.data_dir)  # fail now, not after an hour, on missing data
    config = Config(
        datasets=tuple(args.datasets),
        losses=tuple(args.losses),
        seeds=tuple(range(2 if args.quick and args.seeds == 5 else args.seeds)),
        lrs=(1e-3,) if args.quick and args.lrs == DEFAULT_LRS else tuple(args.lrs),
        epochs=min(args.epochs, 3) if args.quick else args.epochs,
        device=args.device,
        quick=args.quick,
    )
    out = Path(args.out)
    if args.fresh and (out / JOURNAL).exists():
        (out / JOURNAL).unlink()
    started = time.perf_counter()
    records = run(config, out, args.data_dir)
    wall = time.perf_counter() - started
    command = " ".join(["python run_experiments.py", *(argv if argv is not None else sys.argv[1:])])
    write_reports(
        records,
        out,
        baselines=majority_baselines(config.datasets, args.data_dir, config),
        command=command,
        wall_seconds=wall,
        environment={"dan_dice": __version__, "python": platform.python_version()},
    )
    print(f"wrote {out}/ in {wall:.0f} s")
    return 0
