"""What both experiment suites share: running the tasks their journal still lacks, and the
command line they record.

Each (dataset, loss, seed) run is one task (:mod:`dan_dice.dispatch`: this process, local
processes through joblib, or a Dask cluster). Each finished run is appended to the output
folder's journal (:mod:`dan_dice.journal`) as it arrives, so an interrupted run resumes where
it stopped and repeats nothing, and the folder's lock is held throughout, so two runs never
write one folder. A journal resumes only runs of the same settings and code.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

from . import journal
from .dispatch import SCHEDULER_TIMEOUT, dispatch
from .journal import RunSchema, journal_each, lock_folder

RUN_KEY = ("dataset", "loss", "seed")
"""What names a run in a journal, in this order."""
RunKey = tuple[str, str, int]


def run_journaled(
    out: Path,
    journal_name: str,
    fingerprint: dict,
    plan: Callable[[set[RunKey]], list[tuple[RunKey, tuple]]],
    run_one: Callable[..., dict],
    *,
    jobs: int = 1,
    scheduler: str | None = None,
    scheduler_timeout: float = SCHEDULER_TIMEOUT,
    schema: RunSchema | None = None,
    command: str = "",
    describe: Callable[[dict], str] | None = None,
) -> list[dict]:
    """Run ``run_one(*args)`` for every ``(key, args)`` that ``plan`` gives for the keys the
    journal ``out/journal_name`` does not hold yet, journaling each run as it arrives (printing
    ``describe(run)`` if given); returns every run of the journal, old and new.

    ``jobs`` local processes, or the Dask cluster whose scheduler is at ``scheduler`` (which
    must answer within ``scheduler_timeout`` seconds). Journal lines not of ``schema`` are
    skipped with a warning (:func:`dan_dice.journal.read_journal`). Holds
    ``out``'s lock throughout (:func:`dan_dice.journal.lock_folder`): a second run on the same
    folder fails at once, naming this one."""
    with lock_folder(out, command):
        path = out / journal_name
        records = journal.read_journal(path, fingerprint, repair=True, schema=schema)
        tasks = plan({tuple(r[k] for k in RUN_KEY) for r in records})
        results = dispatch(
            run_one, tasks, jobs=jobs, scheduler=scheduler, scheduler_timeout=scheduler_timeout
        )
        finished = (
            (dict(zip(RUN_KEY, key, strict=True)), record, worker)
            for key, record, worker in results
        )
        for record in journal_each(path, finished, fingerprint, command):
            records.append(record)
            if describe is not None:
                print(describe(record), flush=True)
    return records


def command_line(argv: Sequence[str]) -> str:
    """The command a suite records with its runs and in its report."""
    return " ".join(["python run_experiments.py", *argv])
