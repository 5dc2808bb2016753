"""The experiment grid: (dataset, loss) cells x seeds, learning rate and decision threshold
tuned on validation.

The default grid (the main job) is every binary dataset x the study's losses (Dice, weighted
BCE, MSE) and the Dice family of Li et al. (:data:`FAMILY_LOSSES`). Options add the 6-class
cyberbullying task (``--multiclass``) and the SMS imbalance sweep (``--sweep``: positives
subsampled to rarer rates, same test set); ``--all`` adds both, and the entry point
(:func:`dan_dice.cli.run_experiments`) then runs the GoEmotions and peers suites too.

Runs are journaled, resumed and dispatched by :mod:`dan_dice.runner`, in the output folder's
``runs.jsonl``; the data comes from :mod:`dan_dice.study_data`. The tables, figures and report
(:mod:`dan_dice.reporting`) are rendered from every run in the journal, atomically. The
GoEmotions suite (``--multilabel``) is :mod:`dan_dice.multilabel_experiments`; the entry point
(:func:`dan_dice.cli.run_experiments`) routes to it.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import warnings
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from . import journal, portable, study_data
from .arguments import threshold_arg
from .datasets import BINARY_DATASETS, DATASETS, load_dataset
from .deprecation import moved
from .files import atomic_write_text
from .journal import JOURNAL, SKIPPED
from .machine import software
from .metrics import confusion_matrix, majority_share, per_class_f1, scores
from .params import options
from .runner import IN_PROCESS, Dispatch, Suite, add_run_options, suite_folder

if TYPE_CHECKING:
    from .estimator import DANClassifier
    from .splits import Split

INVOCATIONS = "invocations.json"
STUDY_LOSSES = ("dice", "wbce", "mse")
FAMILY_LOSSES = ("bce", "dsc", "dsc_published", "tversky", "focal", "dice_bce")
MAIN_LOSSES = STUDY_LOSSES + FAMILY_LOSSES
"""The losses of the main job: the study's three, then the Dice family."""
MULTICLASS_TASK = ("cyberbullying6", ("ce", "wce", "multiclass_dice"))
SWEEP_RATES = (0.05, 0.02, 0.01)
"""Positive rates of the imbalance sweep on SMS (besides the data as it is, about 13 %)."""
DEFAULT_LRS = [1e-3, 3e-3, 1e-2]
STUDY_PARAMS = {
    "pooling": "mean",
    "class_weight": None,
    "batch_size": 256,
    "patience": 5,
    "patience_steps": 0,
}
"""The study's DAN and schedule: a plain mean of the word vectors, training stopped after 5
epochs without a better validation score. The grid pins them so that it keeps reproducing the
study when the estimator's defaults (chosen for users' data) change. Batches of 256: the
fastest size whose validation F1 matches 128's on every binary dataset and that keeps every
study cell (``reports/batch_size.md``, ``benchmarks/batch_size.py``)."""


def study_cells(datasets=DATASETS, losses=STUDY_LOSSES) -> tuple[tuple[str, str], ...]:
    return tuple((dataset, loss) for dataset in datasets for loss in losses)


@dataclass(frozen=True)
class Config:
    """What an experiment run trains; runs in one journal must share the fingerprint."""

    cells: tuple[tuple[str, str], ...] = study_cells()
    seeds: tuple[int, ...] = (0, 1, 2, 3, 4)
    lrs: tuple[float, ...] = tuple(DEFAULT_LRS)
    epochs: int = 30
    device: str = "auto"
    threshold: float | str = "tune"
    quick: bool = False
    split_seed: int = 0
    model_params: dict = field(default_factory=dict)

    def estimator(self, loss: str, seed: int, **params: Any) -> DANClassifier:
        """The estimator this grid trains for one loss and seed (``params``: e.g. ``lr``): the
        study's network and schedule (:data:`STUDY_PARAMS`), whatever the estimator's defaults,
        with ``model_params`` and ``params`` on top."""
        from .estimator import DANClassifier

        return DANClassifier(
            **{
                **STUDY_PARAMS,
                "loss": loss,
                "max_epochs": self.epochs,
                "device": self.device,
                "threshold": self.threshold,
                "random_state": seed,
                **self.model_params,
                **params,
            }
        )

    def fingerprint(self) -> dict:
        """What every run of one journal shares: the settings that change results (not which
        datasets, losses or seeds are run, nor the device) and the code and numeric libraries
        that ran them (:func:`dan_dice.journal.software_fingerprint`)."""
        keep = ("lrs", "epochs", "threshold", "quick", "split_seed", "model_params")
        settings = {k: v for k, v in asdict(self).items() if k in keep}
        return {**settings, **journal.software_fingerprint()}

    def load_split(self, name: str, data_home: str | None) -> Split:
        """The split of dataset ``name`` this grid trains on (:func:`study_data.load_split`)."""
        return study_data.load_split(name, data_home, split_seed=self.split_seed, quick=self.quick)


def run_one(split: Split, loss: str, seed: int, config: Config) -> dict:
    """Tune the learning rate (and, as configured, the threshold) on validation for one
    (loss, seed), then score the test set."""
    from .training import CollapseWarning

    n_classes = len(split.target_names)
    tried = []
    for lr in config.lrs:
        start = time.perf_counter()
        with warnings.catch_warnings():  # a collapse is expected at some rates: it is ranked
            warnings.simplefilter("ignore", CollapseWarning)
            clf = config.estimator(loss, seed, lr=lr).fit(
                split.X_train, split.y_train, validation_data=(split.X_val, split.y_val)
            )
        seconds = time.perf_counter() - start
        tried.append((not clf.collapsed_, clf.best_validation_score_, -lr, seconds, clf))
    _, val_f1, neg_lr, seconds, clf = max(tried, key=lambda t: t[:3])
    proba = clf.predict_proba(split.X_test)
    predicted = clf.predict(split.X_test)  # the split's labels are class codes
    record = {
        "loss": loss,
        "seed": seed,
        "lr": -neg_lr,
        "best_epoch": clf.best_epoch_,
        "val_f1": val_f1,
        **scores(split.y_test, predicted, n_classes),
        "per_class_f1": per_class_f1(confusion_matrix(split.y_test, predicted, n_classes)).tolist(),
        "target_names": split.target_names,
        "majority_share": majority_share(predicted),
        "positive_rate": float(np.mean(split.y_train == 1)) if n_classes == 2 else None,
        "train_seconds": round(seconds, 2),
        "tuning_seconds": round(sum(t[3] for t in tried), 2),
        "val_f1_by_lr": {f"{-t[2]:g}": t[1] for t in tried},
        "history": clf.history_,
    }
    if n_classes == 2:  # the threshold used, and what 0.5 would have given the same model
        at_half = scores(split.y_test, (proba[:, 1] >= 0.5).astype(int), 2)
        record["threshold"] = clf.threshold_
        record["f1_at_0.5"], record["accuracy_at_0.5"] = at_half["f1"], at_half["accuracy"]
    return record


RUN_SCHEMA = journal.RunSchema(
    required={
        **dict.fromkeys(("accuracy", "f1", "macro_f1", "precision", "recall"), (float,)),
        **dict.fromkeys(("lr", "val_f1", "majority_share", "train_seconds"), (float,)),
        **{"tuning_seconds": (float,), "best_epoch": (int,), "positive_rate": (float, type(None))},
        **{"per_class_f1": (list[float],), "target_names": (list[str],)},
        **{"history": (list[dict],), "val_f1_by_lr": (dict[str, float],)},
    },
    optional=dict.fromkeys(("threshold", "f1_at_0.5", "accuracy_at_0.5"), (float,)),  # binary
)
"""What :func:`run_one` journals (with the run's identity): a line of other keys or types is
skipped on reading, never reported."""


def read_journal(path: Path, config: Config, *, repair: bool = False) -> list[dict]:
    """The finished runs journaled in ``path``; refuses a journal of other settings or code.
    Bad lines, and lines not of :data:`RUN_SCHEMA`, are skipped with a warning (see
    :func:`dan_dice.journal.read_journal`)."""
    return journal.read_journal(path, config.fingerprint(), repair=repair, schema=RUN_SCHEMA)


def _describe(record: dict) -> str:
    return (
        f"{record['dataset']:>14} {record['loss']:>16} seed {record['seed']}: "
        f"lr {record['lr']:g} acc {record['accuracy']:.4f} F1 {record['f1']:.4f} "
        f"({record['tuning_seconds']:.0f} s)"
    )


SUITE = Suite(JOURNAL, RUN_SCHEMA, run_one, _describe)


def run(
    config: Config,
    out: Path,
    data_home: str | None = None,
    dispatch_to: Dispatch = IN_PROCESS,
    command: str = "",
    verbose: bool = True,
) -> list[dict]:
    """Run every missing (dataset, loss, seed) of ``config``, each as one task (local
    processes or a Dask cluster, as ``dispatch_to`` says), journaling each in ``out`` as it
    arrives; returns every run of the journal, old and new.

    Holds ``out``'s lock throughout (:meth:`dan_dice.runner.Suite.run`): a second run on
    the same folder fails at once, naming this one."""

    def plan(done: set) -> list[tuple]:
        tasks = []
        for dataset in dict.fromkeys(dataset for dataset, _ in config.cells):
            losses = [loss for d, loss in config.cells if d == dataset]
            todo = [(dataset, loss, seed) for loss in losses for seed in config.seeds]
            todo = [key for key in todo if key not in done]
            if todo:
                split = config.load_split(dataset, data_home)
                tasks += [(key, (split, key[1], key[2], config)) for key in todo]
        return tasks

    return SUITE.run(out, config.fingerprint(), plan, dispatch_to, command, verbose)


def majority_baselines(datasets: Sequence[str], data_home: str | None, config: Config) -> dict:
    """Test scores of always predicting the training majority class, per dataset."""
    baselines = {}
    for name in datasets:
        split = config.load_split(name, data_home)
        majority = np.bincount(split.y_train).argmax()
        predicted = np.full(len(split.y_test), majority)
        baselines[name] = scores(split.y_test, predicted, len(split.target_names))
    return baselines


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="run_experiments.py",
        description="Reproduce the study (DAN on GloVe, each loss and seed) into reports/.",
        allow_abbrev=False,
    )
    add = parser.add_argument
    add("--data-dir", help="folder with the datasets (default: $DAN_DICE_DATA, else data/)")
    add(
        "--datasets",
        nargs="+",
        default=list(BINARY_DATASETS),
        metavar="NAME",
        help=f"binary datasets (default: {' '.join(BINARY_DATASETS)})",
    )
    add(
        "--losses",
        nargs="+",
        default=list(MAIN_LOSSES),
        metavar="LOSS",
        help=f"binary losses (default: the study's and the Dice family, {' '.join(MAIN_LOSSES)})",
    )
    add("--family", action="store_true", help=f"add the Dice family to --losses: {FAMILY_LOSSES}")
    add("--multiclass", action="store_true", help="also the 6-class cyberbullying task")
    add("--sweep", action="store_true", help="also the SMS imbalance sweep (positive rates)")
    add(
        "--all",
        action="store_true",
        help="--multiclass and --sweep, then the GoEmotions suite (multilabel.md) and the "
        "peers suite (peers.md) into the same --out",
    )
    add(
        "--multilabel",
        action="store_true",
        help="run only the GoEmotions multi-label suite (each multi-label loss and a TF-IDF "
        "peer) into multilabel.md; it takes --losses, --seeds (default 3), --epochs (default: "
        "the estimator's), --data-dir, --device, --jobs, --scheduler, --scheduler-timeout, --out, "
        "--quick, --fresh",
    )
    add(
        "--peers",
        action="store_true",
        help="run only the peers suite (TF-IDF + LogReg and LinearSVC, fastText, the DAN's "
        "defaults and a soft vote of the DAN and TF-IDF) into peers.md; it takes --datasets, "
        "--seeds (default 3), --data-dir, --jobs, --scheduler, --scheduler-timeout, --out, "
        "--quick, --fresh",
    )
    add("--seeds", type=int, default=5, help="number of seeds, 0..N-1 (default 5)")
    add("--epochs", type=int, default=30, help="most epochs per fit (default 30)")
    add("--lrs", type=float, nargs="+", default=DEFAULT_LRS, metavar="LR", help="lr grid")
    add("--device", default="auto", choices=options("device"))
    add(
        "--threshold",
        default="tune",
        type=threshold_arg,
        help="decision threshold of the binary tasks, or 'tune' to tune it on validation "
        "with the learning rate (default)",
    )
    add_run_options(
        parser,
        "discard the runs journaled in --out (a journal of other settings or code is refused "
        "without it)",
    )
    return parser.parse_args(argv)


def plan_cells(args: argparse.Namespace) -> tuple[tuple[str, str], ...]:
    """The (dataset, loss) cells the options ask for, in order, without repeats."""
    losses = list(args.losses) + (list(FAMILY_LOSSES) if args.family or args.all else [])
    losses = list(dict.fromkeys(losses))
    cells = list(study_cells(args.datasets, losses))
    if args.multiclass or args.all:
        dataset, multiclass_losses = MULTICLASS_TASK
        cells += [(dataset, loss) for loss in multiclass_losses]
    if args.sweep or args.all:
        cells += [(f"sms@{rate:g}", loss) for rate in SWEEP_RATES for loss in losses]
    return tuple(dict.fromkeys(cells))


def main(argv: Sequence[str] | None = None) -> int:
    """The study grid of ``run_experiments.py`` and ``dan-dice experiments`` (their entry
    point, :func:`dan_dice.cli.run_experiments`, routes ``--multilabel`` to the GoEmotions
    suite)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parse_args(argv)
    portable.enable(args.portable)  # before torch is imported
    from .estimator import DANClassifier
    from .losses import get_loss
    from .reporting import write_reports
    from .training import resolve_device

    if args.multilabel or args.peers:
        raise ValueError(
            "--multilabel and --peers are suites of their own: run them as run_experiments.py does"
        )
    if min(args.seeds, args.epochs, args.jobs) < 1:
        raise ValueError("--seeds, --epochs and --jobs must be at least 1")
    if any(lr <= 0 for lr in args.lrs):
        raise ValueError("--lrs must be positive")
    cells = plan_cells(args)
    for dataset, loss in cells:  # bad names fail now, not after an hour of training
        n_classes = 6 if dataset == "cyberbullying6" else 2
        get_loss(loss, np.arange(n_classes), n_classes)
    if args.scheduler is None:  # a cluster's workers resolve the device where they run
        resolve_device(args.device)
    for name in dict.fromkeys(dataset.partition("@")[0] for dataset, _ in cells):
        load_dataset(name, args.data_dir)
    config = Config(
        cells=cells,
        seeds=tuple(range(2 if args.quick and args.seeds == 5 else args.seeds)),
        lrs=(1e-3,) if args.quick and args.lrs == DEFAULT_LRS else tuple(args.lrs),
        epochs=min(args.epochs, 3) if args.quick else args.epochs,
        device=args.device,
        threshold=args.threshold,
        quick=args.quick,
    )
    with suite_folder(args, argv, [JOURNAL, SKIPPED, INVOCATIONS]) as (out, command):
        started = time.perf_counter()
        before = len(read_journal(out / JOURNAL, config, repair=True))
        _read_invocations(out / INVOCATIONS)  # a damaged file fails now, not after training
        records = run(config, out, args.data_dir, Dispatch.from_args(args), command)
        wall = time.perf_counter() - started
        invocations = _record_invocation(
            out,
            new_journal=not before,
            command=command,
            runs_added=len(records) - before,
            wall_seconds=round(wall, 1),
            jobs=args.jobs if args.scheduler is None else f"Dask at {args.scheduler}",
            date=time.strftime("%Y-%m-%d %H:%M"),
        )
        datasets = dict.fromkeys(r["dataset"] for r in records if "@" not in r["dataset"])
        write_reports(
            records,
            out,
            baselines=majority_baselines(datasets, args.data_dir, config),
            invocations=invocations,
            environment=software(),
            network={**DANClassifier().get_params(), **STUDY_PARAMS},
        )
    print(f"wrote {out}/ in {wall:.0f} s")
    return 0


def _read_invocations(path: Path) -> list[dict]:
    """The invocations listed in ``path`` (none if it does not exist); a damaged file is a
    ``ValueError`` naming it, raised before any training."""
    try:
        invocations = json.loads(path.read_bytes())
    except FileNotFoundError:
        return []
    except ValueError as exc:  # JSON's and UTF-8's errors
        raise ValueError(f"{path} is damaged: not JSON ({exc}); repair or remove it") from exc
    if not isinstance(invocations, list) or not all(isinstance(i, dict) for i in invocations):
        raise ValueError(f"{path} is damaged: not a list of invocations; repair or remove it")
    return invocations


def _record_invocation(out: Path, new_journal: bool, **invocation) -> list[dict]:
    """Add this invocation (command, runs added, wall time) to ``invocations.json``, unless it
    only re-rendered the reports. With a ``new_journal`` (no run journaled before this one: a
    fresh clone, ``--fresh``), the invocations of earlier journals are dropped: they did not make
    these runs."""
    path = out / INVOCATIONS
    invocations = [] if new_journal else _read_invocations(path)
    if invocation["runs_added"]:
        invocations.append(invocation)
        atomic_write_text(path, json.dumps(invocations, indent=1) + "\n")
    return invocations


def load_split(name: str, data_home: str | None, config: Config) -> Split:
    """Deprecated: ``config.load_split(name, data_home)``, or
    :func:`dan_dice.study_data.load_split`."""
    warnings.warn(
        "dan_dice.experiments.load_split moved to dan_dice.study_data.load_split (or "
        "Config.load_split); the old path goes in the next release",
        DeprecationWarning,
        stacklevel=2,
    )
    return config.load_split(name, data_home)


__getattr__ = moved(
    __name__,
    "0.2.0",
    append_journal="dan_dice.journal.append_journal",
    QUICK_SIZES="dan_dice.study_data.QUICK_SIZES",
    Split="dan_dice.splits.Split",
)
