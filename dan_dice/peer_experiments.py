"""The peers suite (``run_experiments.py --all``): the DAN against the peers a careful user
would try, on the study grid's split, into ``peers.md``.

Each method of :func:`dan_dice.comparison.peer_methods` (TF-IDF + LogReg and LinearSVC on
their grids, fastText, the soft vote of the DAN and TF-IDF, the DAN with its defaults) is tuned
on the validation part of the fixed 60/20/20 split of :func:`dan_dice.study_data.load_split`
and scored once on its test part: the seeded methods once per seed, the deterministic TF-IDF
models once. Runs are journaled, resumed and dispatched as the study grid's are
(:mod:`dan_dice.runner`), in ``peer_runs.jsonl`` in the same output folder, under its lock; the
journal's ``loss`` field names the method.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from . import journal
from .comparison import evaluate, peer_methods
from .datasets import BINARY_DATASETS
from .runner import IN_PROCESS, Dispatch, Suite, add_run_options, prepare, suite_folder
from .splits import Split
from .study_data import load_split

PEER_JOURNAL = "peer_runs.jsonl"
DEFAULT_SEEDS = 3


@dataclass(frozen=True)
class PeerConfig:
    """What the suite runs; runs in one journal must share the fingerprint."""

    datasets: tuple[str, ...] = tuple(BINARY_DATASETS)
    seeds: tuple[int, ...] = tuple(range(DEFAULT_SEEDS))
    quick: bool = False
    split_seed: int = 0

    def fingerprint(self) -> dict:
        """The settings that change results and the code and libraries that ran them."""
        grids = {m.name: m.grid for m in peer_methods()}
        settings = {"suite": "peers", "quick": self.quick, "split_seed": self.split_seed}
        settings["grids"] = grids
        return json.loads(json.dumps({**settings, **journal.software_fingerprint()}))

    def tasks(self) -> list[tuple[str, str, int]]:
        """Every (dataset, method, seed): seeded methods at each seed, the others at seed 0."""
        return [
            (dataset, method.name, seed)
            for dataset in self.datasets
            for method in peer_methods()
            for seed in (self.seeds if method.seeded else self.seeds[:1])
        ]


def run_one(split: Split, method: str, seed: int) -> dict:
    """Tune ``method`` on ``split``'s validation part and score its test part."""
    chosen = next(m for m in peer_methods() if m.name == method)
    record, _ = evaluate(chosen, split, seed)
    del record["method"], record["seed"]  # the journal's loss and seed
    return record


RUN_SCHEMA = journal.RunSchema(
    required={
        **dict.fromkeys(("accuracy", "f1", "macro_f1", "precision", "recall", "val_f1"), (float,)),
        **dict.fromkeys(("fit_seconds", "texts_per_second", "size_bytes"), (float,)),
        "params": (str,),
    }
)


def _describe(record: dict) -> str:
    return (
        f"{record['dataset']:>14} {record['loss']:>26} seed {record['seed']}: "
        f"F1 {record['f1']:.4f} ({record['params']}, fit {record['fit_seconds']:.1f} s)"
    )


SUITE = Suite(PEER_JOURNAL, RUN_SCHEMA, run_one, _describe)


def run(
    config: PeerConfig,
    out: Path,
    data_home: str | None = None,
    dispatch_to: Dispatch = IN_PROCESS,
    command: str = "",
    verbose: bool = True,
) -> list[dict]:
    """Run every task of ``config`` missing from ``out``'s peer journal, journaling each as it
    arrives (:meth:`dan_dice.runner.Suite.run`); returns every run of the journal."""

    def plan(done: set) -> list[tuple]:
        todo = [key for key in config.tasks() if key not in done]
        splits = {
            name: load_split(name, data_home, split_seed=config.split_seed, quick=config.quick)
            for name in dict.fromkeys(dataset for dataset, _, _ in todo)
        }
        return [(key, (splits[key[0]], key[1], key[2])) for key in todo]

    return SUITE.run(out, config.fingerprint(), plan, dispatch_to, command, verbose)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="run_experiments.py --peers",
        description="The DAN and its peers on the study grid's split, into peers.md.",
        allow_abbrev=False,
    )
    add = parser.add_argument
    add("--peers", action="store_true", help="run this suite (the only one it runs)")
    add("--data-dir", help="folder with the datasets (default: $DAN_DICE_DATA, else data/)")
    add("--datasets", nargs="+", default=list(BINARY_DATASETS), metavar="NAME")
    add("--seeds", type=int, help=f"seeds of seeded methods (default {DEFAULT_SEEDS}; --quick 1)")
    add_run_options(parser, f"discard the runs of {PEER_JOURNAL} in --out")
    return parser.parse_args(argv)


def plan(args: argparse.Namespace) -> PeerConfig:
    """The configuration the options ask for; a bad value, a bad dataset name or a missing
    file fails here, before any training."""
    from .datasets import load_dataset

    seeds = args.seeds if args.seeds is not None else (1 if args.quick else DEFAULT_SEEDS)
    if min(seeds, args.jobs) < 1:
        raise ValueError("--seeds and --jobs must be at least 1")
    for name in args.datasets:
        load_dataset(name, args.data_dir)
    return PeerConfig(tuple(args.datasets), tuple(range(seeds)), args.quick)


def main(
    argv: Sequence[str] | None = None,
    prepared: tuple[argparse.Namespace, PeerConfig] | None = None,
) -> int:
    """The peers suite of ``run_experiments.py --peers`` (and of ``--all``, which hands over
    the options and configuration :func:`dan_dice.runner.prepare` made of ``argv``)."""
    from .reporting.peers import write_peer_report

    argv = list(sys.argv[1:] if argv is None else argv)
    args, config = prepared or prepare(argv, parse_args, plan)
    started = time.perf_counter()
    with suite_folder(args, argv, [PEER_JOURNAL]) as (out, command):
        records = run(config, out, args.data_dir, Dispatch.from_args(args), command)
        grids = {m.name: m.grid for m in peer_methods()}
        write_peer_report(records, out, grids, config.datasets)
    print(f"wrote {out / 'peers.md'} in {time.perf_counter() - started:.0f} s")
    return 0
