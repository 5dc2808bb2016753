"""What the experiment suites share: their run options, their output folder, and running the
tasks their journal still lacks.

Each (dataset, loss, seed) run is one task (:mod:`dan_dice.dispatch`: this process, local
processes through joblib, or a Dask cluster). Each finished run is appended to the output
folder's journal (:mod:`dan_dice.journal`) as it arrives, so an interrupted run resumes where
it stopped and repeats nothing, and the folder's lock is held throughout, so two runs never
write one folder. A journal resumes only runs of the same settings and code.
"""

from __future__ import annotations

import argparse
import os
import warnings
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, TypeVar

from . import journal, portable
from .dispatch import SCHEDULER_TIMEOUT, dispatch
from .files import check_writable_folder
from .journal import JournalWarning, RunSchema, journal_each, lock_folder

RUN_KEY = ("dataset", "loss", "seed")
"""What names a run in a journal, in this order."""
RunKey = tuple[str, str, int]
Plan = Callable[[set[RunKey]], list[tuple[RunKey, tuple]]]
"""Given the keys a journal holds, the ``(key, run_one's arguments)`` of every run to make."""


class _Configuration(Protocol):
    def fingerprint(self) -> dict: ...


ConfigT = TypeVar("ConfigT", bound=_Configuration)
"""A suite's configuration: :func:`prepare` hands back the type its ``plan`` makes."""


@dataclass(frozen=True)
class Dispatch:
    """Where a suite's runs train: ``jobs`` local processes (one CPU thread each), or the Dask
    cluster whose scheduler is at ``scheduler``, which must answer within
    ``scheduler_timeout`` seconds."""

    jobs: int = 1
    scheduler: str | None = None
    scheduler_timeout: float = SCHEDULER_TIMEOUT

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> Dispatch:
        """The dispatch that a suite's options (:func:`add_run_options`) ask for."""
        return cls(args.jobs, args.scheduler, args.scheduler_timeout)


IN_PROCESS = Dispatch()
"""One run at a time, in this process: what a suite's ``run`` does unless told otherwise."""


@dataclass(frozen=True)
class Suite:
    """A suite as the runner sees it: its journal's file name and run schema, the function
    that makes one run, and the line printed as each run arrives."""

    journal: str
    schema: RunSchema
    run_one: Callable[..., dict]
    describe: Callable[[dict], str]

    def run(
        self,
        out: Path,
        fingerprint: dict,
        plan: Plan,
        dispatch_to: Dispatch = IN_PROCESS,
        command: str = "",
        verbose: bool = True,
    ) -> list[dict]:
        """Make every run that ``plan`` gives for the keys the journal ``out/self.journal``
        does not hold yet, journaling (and, if ``verbose``, describing) each as it arrives;
        returns every run of the journal, old and new.

        Journal lines not of the schema are skipped with a warning
        (:func:`dan_dice.journal.read_journal`). Holds ``out``'s lock throughout
        (:func:`dan_dice.journal.lock_folder`): a second run on the same folder fails at
        once, naming this one."""
        with lock_folder(out, command):
            path = out / self.journal
            records = journal.read_journal(path, fingerprint, repair=True, schema=self.schema)
            tasks = plan({tuple(r[k] for k in RUN_KEY) for r in records})
            results = dispatch(
                self.run_one,
                tasks,
                jobs=dispatch_to.jobs,
                scheduler=dispatch_to.scheduler,
                scheduler_timeout=dispatch_to.scheduler_timeout,
            )
            finished = (
                (dict(zip(RUN_KEY, key, strict=True)), record, worker)
                for key, record, worker in results
            )
            for record in journal_each(path, finished, fingerprint, command):
                records.append(record)
                if verbose:
                    print(self.describe(record), flush=True)
        return records


def add_run_options(parser: argparse.ArgumentParser, fresh_help: str) -> None:
    """The options every suite takes: how its runs are dispatched, where they go, ``--quick``,
    ``--portable`` and ``--fresh`` (described by ``fresh_help``). ``run_experiments.py --all``
    hands them on from the grid to the other suites (:data:`HANDED_ON`)."""
    add = parser.add_argument
    add(
        "--jobs",
        type=int,
        default=os.cpu_count() or 1,
        help="runs trained in parallel local processes (joblib), one CPU thread each "
        "(default: CPU count)",
    )
    add(
        "--scheduler",
        metavar="ADDRESS",
        help="train the runs on the Dask cluster whose scheduler is at ADDRESS (e.g. "
        "tcp://host:8786; its workers need the same dan_dice) instead of --jobs processes",
    )
    add(
        "--scheduler-timeout",
        type=float,
        default=SCHEDULER_TIMEOUT,
        metavar="SECONDS",
        help=f"how long the scheduler has to answer (default {SCHEDULER_TIMEOUT:g})",
    )
    add("--out", default="reports", help="output folder (default reports/)")
    add("--quick", action="store_true", help="tiny, fast run for smoke tests")
    add(
        "--portable",
        action="store_true",
        help="the same bits on every CPU: ATEN_CPU_CAPABILITY=default, MKL_CBWR=COMPATIBLE, "
        "NUMBA_CPU_NAME=generic (slower; also $DAN_DICE_PORTABLE=1)",
    )
    add("--fresh", action="store_true", help=fresh_help)


HANDED_ON = {
    "values": ("--data-dir", "--jobs", "--scheduler", "--scheduler-timeout", "--out"),
    "flags": ("--quick", "--fresh", "--portable"),
}
"""The options that ``--all`` hands on from the grid to the GoEmotions and peers suites."""


@contextmanager
def suite_folder(
    args: argparse.Namespace, argv: Sequence[str], fresh_discards: Sequence[str]
) -> Iterator[tuple[Path, str]]:
    """The output folder ``args.out``, checked writable and locked for this command, with the
    files ``fresh_discards`` removed first under ``--fresh``; yields it and the command line
    that the suite records."""
    out = Path(args.out)
    check_writable_folder(out)
    command = command_line(argv)
    with lock_folder(out, command):
        if args.fresh:
            for name in fresh_discards:
                (out / name).unlink(missing_ok=True)
        yield out, command


def prepare(
    argv: Sequence[str],
    parse_args: Callable[[Sequence[str]], argparse.Namespace],
    plan: Callable[[argparse.Namespace], ConfigT],
    journal_name: str | None = None,
) -> tuple[argparse.Namespace, ConfigT]:
    """A suite's options and configuration (``plan``'s), bad values failing here, before
    torch is imported or anything trains. With ``journal_name``, a journal of that name in
    ``--out`` holding runs of other settings or code fails here too, as the suite would fail
    on reading it (nothing under ``--fresh``, which discards it): ``--all`` prepares its later
    suites so before the grid's hours of training, then hands each its preparation."""
    args = parse_args(argv)
    portable.enable(args.portable)  # before torch is imported
    config = plan(args)
    if journal_name is not None and not args.fresh:
        with warnings.catch_warnings():  # a damaged line: the suite itself warns when it runs
            warnings.simplefilter("ignore", JournalWarning)
            journal.read_journal(Path(args.out) / journal_name, config.fingerprint(), repair=False)
    return args, config


def command_line(argv: Sequence[str]) -> str:
    """The command a suite records with its runs and in its report."""
    return " ".join(["python run_experiments.py", *argv])
