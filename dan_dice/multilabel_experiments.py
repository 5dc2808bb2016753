"""The GoEmotions multi-label suite (``run_experiments.py --multilabel``): every multi-label
loss of the DAN over seeds, and a TF-IDF + one-vs-rest logistic-regression peer.

GoEmotions keeps its authors' split: each model trains on ``train``, picks its epoch (the DAN)
or its C (the peer) and its per-label thresholds on ``dev``, and is scored once on ``test``.
The DAN runs with the estimator's defaults (``threshold="tune"``: one F1-best threshold per
label), ``--epochs`` as ``max_epochs``.

Runs are journaled, resumed and dispatched as the study grid's are (:mod:`dan_dice.runner`),
in a journal of their own (``multilabel_runs.jsonl``) in the same
output folder, under the folder's lock; the report files (:mod:`dan_dice.reporting.multilabel`)
are rendered from every run of that journal, atomically. The study's files are never touched.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from . import journal
from .datasets import load_goemotions
from .journal import MULTILABEL_JOURNAL
from .metrics import multilabel_scores, per_label_scores
from .params import options
from .peers import MULTILABEL_PEER_C, tune_multilabel_peer
from .reporting.multilabel import SuiteNames
from .runner import IN_PROCESS, Dispatch, Suite, add_run_options, prepare, suite_folder
from .splits import Split

if TYPE_CHECKING:
    from .estimator import DANClassifier

DATASET = "goemotions"
LOSSES = ("ce", "focal", "class_balanced", "distribution_balanced", "dice")
"""The DAN's multi-label losses, in report order ("ce" is binary cross-entropy per label)."""
PEER = "tfidf_ovr_logreg"
"""The peer's name in the journal's ``loss`` field; it is deterministic, so it runs once."""
PEER_NAME = "TF-IDF + OvR LogReg"
SUITE_NAMES = SuiteNames(LOSSES, PEER, MULTILABEL_JOURNAL)
"""What the report (:mod:`dan_dice.reporting.multilabel`) names after this suite."""
DEFAULT_SEEDS = 3
QUICK_SIZES = {"train": 400, "dev": 150, "test": 150}
"""Texts per part in ``--quick`` mode (plus a few so that training has every label)."""
QUICK_EPOCHS = 2


def method_name(loss: str) -> str:
    """How a run is named in the tables: ``DAN (focal)``, or the peer's name."""
    return PEER_NAME if loss == PEER else f"DAN ({loss})"


@dataclass(frozen=True)
class MultilabelConfig:
    """What the suite trains; runs in one journal must share the fingerprint."""

    losses: tuple[str, ...] = LOSSES
    seeds: tuple[int, ...] = tuple(range(DEFAULT_SEEDS))
    epochs: int | None = None
    """``max_epochs`` of the DAN; ``None`` keeps the estimator's default."""
    device: str = "auto"
    quick: bool = False
    peer: bool = True
    model_params: dict = field(default_factory=dict)

    def estimator(self, loss: str, seed: int) -> DANClassifier:
        """The DAN for one loss and seed: the estimator's defaults, with ``epochs`` as
        ``max_epochs`` and ``model_params`` on top."""
        from .estimator import DANClassifier

        epochs = {} if self.epochs is None else {"max_epochs": self.epochs}
        params = {"loss": loss, "device": self.device, "random_state": seed}
        return DANClassifier(**{**params, **epochs, **self.model_params})

    def fingerprint(self) -> dict:
        """The settings that change results (not which losses or seeds run, nor the device),
        the peer's C grid, and the code and libraries (:func:`journal.software_fingerprint`)."""
        settings = {
            "suite": "multilabel",
            "epochs": self.epochs,
            "quick": self.quick,
            "model_params": self.model_params,
            "peer_C": list(MULTILABEL_PEER_C),
        }
        return json.loads(json.dumps({**settings, **journal.software_fingerprint()}))

    def tasks(self) -> list[tuple[str, int]]:
        """Every (loss, seed) to run: each loss at each seed, then the peer once (seed 0)."""
        runs = [(loss, seed) for loss in self.losses for seed in self.seeds]
        return runs + ([(PEER, 0)] if self.peer else [])


def load_multilabel_split(data_home: str | None, quick: bool = False) -> Split:
    """GoEmotions' own train / dev / test parts as a :class:`~dan_dice.splits.Split`
    (``y`` parts are ``(n, L)`` indicators; ``X_val`` is ``dev``). ``quick`` keeps the first
    :data:`QUICK_SIZES` texts of each part, plus the first text of each label missing there."""
    parts = {}
    for subset in ("train", "dev", "test"):
        bunch = load_goemotions(data_home, subset=subset)
        X, Y = bunch.data, np.asarray(bunch.target)
        if quick:
            keep = quick_subset(Y, QUICK_SIZES[subset])
            X, Y = [X[i] for i in keep], Y[keep]
        parts[subset] = (X, Y)
    (X_train, Y_train), (X_dev, Y_dev), (X_test, Y_test) = parts.values()
    return Split(X_train, X_dev, X_test, Y_train, Y_dev, Y_test, list(bunch.target_names))


def quick_subset(Y: np.ndarray, n: int) -> np.ndarray:
    """Row indices: the first ``n``, plus the first row of every label that has no positive
    among them (so the label-count losses, which need one, can train on a tiny subset)."""
    keep = list(range(min(n, len(Y))))
    for label in np.flatnonzero(Y[:n].sum(axis=0) == 0):
        rows = np.flatnonzero(Y[:, label])
        if len(rows):
            keep.append(int(rows[0]))
    return np.array(sorted(set(keep)), dtype=np.int64)


_SCORES = ("micro_f1", "macro_f1", "hamming", "subset_accuracy", "micro_precision", "micro_recall")
RUN_SCHEMA = journal.RunSchema(
    required={
        **dict.fromkeys((*_SCORES, "val_macro_f1", "fit_seconds"), (float,)),
        **{"method": (str,), "params": (str,), "per_label": (dict[str, list[float]],)},
        **{"sizes": (dict[str, int],), "thresholds": (list[float],)},
        **{"train_counts": (list[int],), "target_names": (list[str],)},
    },
    optional={
        **{"best_epoch": (int,), "history": (list[dict],)},
        **{"val_macro_f1_by_C": (dict[str, float],)},
    },
)
"""What :func:`run_one` journals (a DAN run has ``best_epoch`` and ``history``, the peer
``val_macro_f1_by_C``): a line of other keys or types is skipped on reading."""


def run_one(split: Split, loss: str, seed: int, config: MultilabelConfig) -> dict:
    """Train one method (a DAN loss at ``seed``, or the peer) on ``split`` and score the test
    part: micro/macro-F1, Hamming loss, subset accuracy and every label's scores."""
    start = time.perf_counter()
    if loss == PEER:
        model, record = tune_multilabel_peer(split)
    else:
        model = config.estimator(loss, seed).fit(
            split.X_train, split.y_train, validation_data=(split.X_val, split.y_val)
        )
        record = {
            "params": "",
            "val_macro_f1": model.best_validation_score_,
            "best_epoch": model.best_epoch_,
            "fit_seconds": round(time.perf_counter() - start, 2),
            "thresholds": np.asarray(model.threshold_, dtype=float).tolist(),
            "history": model.history_,
        }
    predicted = np.asarray(model.predict(split.X_test))
    per_label = per_label_scores(split.y_test, predicted)
    return {
        "method": method_name(loss),
        **record,
        **multilabel_scores(split.y_test, predicted),
        "per_label": {key: np.asarray(v).tolist() for key, v in per_label.items()},
        "train_counts": np.asarray(split.y_train).sum(axis=0).astype(int).tolist(),
        "target_names": list(split.target_names),
        "sizes": {"train": len(split.X_train), "dev": len(split.X_val), "test": len(split.X_test)},
    }


def _describe(record: dict) -> str:
    return (
        f"{record['method']:>28} seed {record['seed']}: "
        f"micro-F1 {record['micro_f1']:.4f} macro-F1 {record['macro_f1']:.4f} "
        f"Hamming {record['hamming']:.4f} ({record['fit_seconds']:.0f} s)"
    )


SUITE = Suite(MULTILABEL_JOURNAL, RUN_SCHEMA, run_one, _describe)


def run(
    config: MultilabelConfig,
    out: Path,
    data_home: str | None = None,
    dispatch_to: Dispatch = IN_PROCESS,
    command: str = "",
    verbose: bool = True,
) -> list[dict]:
    """Run every (loss, seed) of ``config`` missing from ``out``'s multi-label journal, each as
    one task (:meth:`dan_dice.runner.Suite.run`), journaling each as it arrives; returns every
    run of the journal, old and new. Holds ``out``'s lock throughout."""

    def plan(done: set) -> list[tuple]:
        todo = [(DATASET, loss, seed) for loss, seed in config.tasks()]
        todo = [key for key in todo if key not in done]
        split = load_multilabel_split(data_home, config.quick) if todo else None
        return [(key, (split, key[1], key[2], config)) for key in todo]

    return SUITE.run(out, config.fingerprint(), plan, dispatch_to, command, verbose)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="run_experiments.py --multilabel",
        description="GoEmotions multi-label suite: the DAN with each multi-label loss over "
        "seeds, and a TF-IDF + one-vs-rest logistic-regression peer, into multilabel.md.",
        allow_abbrev=False,
    )
    add = parser.add_argument
    add("--multilabel", action="store_true", help="run this suite (the only one it runs)")
    add("--data-dir", help="folder holding goemotions/ (default: $DAN_DICE_DATA, else data/)")
    add("--losses", nargs="+", default=list(LOSSES), metavar="LOSS", help="DAN losses")
    add("--seeds", type=int, help=f"number of seeds, 0..N-1 (default {DEFAULT_SEEDS}; --quick 1)")
    add("--epochs", type=int, help="max_epochs of the DAN (default: the estimator's; --quick 2)")
    add("--device", default="auto", choices=options("device"))
    add_run_options(parser, f"discard the runs of {MULTILABEL_JOURNAL} in --out")
    return parser.parse_args(argv)


def plan(args: argparse.Namespace) -> MultilabelConfig:
    """The configuration the options ask for; bad values fail here, before any training."""
    from .multilabel_losses import get_multilabel_loss

    seeds = args.seeds if args.seeds is not None else (1 if args.quick else DEFAULT_SEEDS)
    epochs = args.epochs if args.epochs is not None else (QUICK_EPOCHS if args.quick else None)
    if min(seeds, args.jobs, 1 if epochs is None else epochs) < 1:
        raise ValueError("--seeds, --epochs and --jobs must be at least 1")
    for loss in args.losses:
        get_multilabel_loss(loss, np.eye(2, dtype=np.int8))  # an unknown name fails now
    return MultilabelConfig(
        losses=tuple(dict.fromkeys(args.losses)),
        seeds=tuple(range(seeds)),
        epochs=epochs,
        device=args.device,
        quick=args.quick,
    )


def main(
    argv: Sequence[str] | None = None,
    prepared: tuple[argparse.Namespace, MultilabelConfig] | None = None,
) -> int:
    """The GoEmotions suite of ``run_experiments.py --multilabel`` (its entry point,
    :func:`dan_dice.cli.run_experiments`, hands the arguments over, and under ``--all`` the
    options and configuration :func:`dan_dice.runner.prepare` made of them)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    args, config = prepared or prepare(argv, parse_args, plan)
    from .estimator import DANClassifier
    from .reporting.multilabel import write_multilabel_reports
    from .training import resolve_device

    if args.scheduler is None:
        resolve_device(args.device)
    started = time.perf_counter()
    with suite_folder(args, argv, [MULTILABEL_JOURNAL]) as (out, command):
        records = run(config, out, args.data_dir, Dispatch.from_args(args), command)
        write_multilabel_reports(records, out, SUITE_NAMES, DANClassifier().get_params())
    print(f"wrote {out / 'multilabel.md'} in {time.perf_counter() - started:.0f} s")
    return 0
