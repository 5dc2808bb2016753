"""The run journal of an output folder, the folder's lock, and the code fingerprint.

A journal (``runs.jsonl``) holds one JSON line per finished run. It belongs to its output
folder: it exists to resume an interrupted run there, it is not committed, and it only resumes
runs made by the same code with the same settings (:func:`code_fingerprint`); any other
journal is refused, never silently reused.

Reading never loses a good run: a line that is not a run (not UTF-8, not JSON, not an object,
keys or value types other than the suite's :class:`RunSchema` says, a repeat of an earlier run,
or the unfinished last line a kill leaves) is skipped with a warning naming the file and line,
copied to ``runs.jsonl.skipped``, and the journal is rewritten without it (atomically), so
every good line before and after it is kept, and no damaged run reaches the reports.

Only one process writes an output folder at a time: :func:`lock_folder` holds an exclusive
``flock`` on ``.lock`` in it, which the kernel releases when the process ends, even by
``kill -9``, so a lock is never left stale.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import os
import platform
import socket
import time
import typing
import warnings
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .files import atomic_write_text
from .machine import cpu_name
from .version import __version__

try:
    import fcntl
except ImportError:  # pragma: no cover - not POSIX
    fcntl = None

JOURNAL = "runs.jsonl"
MULTILABEL_JOURNAL = "multilabel_runs.jsonl"
"""The GoEmotions suite's journal, beside the study's in the same output folder."""
SKIPPED = "runs.jsonl.skipped"
"""Where the study journal's skipped lines go (any journal's: its name plus ``.skipped``)."""
LOCK = ".lock"
RUN_KEYS = ("dataset", "loss", "seed", "config")
"""Keys every journaled run has: its (dataset, loss, seed) and the fingerprint it was made under."""
CONTEXT_KEYS = ("train_seconds", "tuning_seconds", "worker")
"""Keys of a run that describe where and how fast it ran, not what it computed."""


@dataclass(frozen=True)
class RunSchema:
    """The keys of a suite's journaled run and the JSON types of their values, besides
    :data:`RUN_KEYS`, ``command`` and ``worker``, which every run has. ``float`` stands for any
    number (an integer too, never a bool), ``type(None)`` for null; ``list[float]`` and
    ``dict[str, float]`` check their items too."""

    required: Mapping[str, tuple[Any, ...]]
    optional: Mapping[str, tuple[Any, ...]] = field(default_factory=dict)

    def problem(self, record: dict) -> str:
        """What in ``record`` does not fit, or ``""``."""
        required = {**_EVERY_RUN, **self.required}
        missing = [key for key in required if key not in record]
        unknown = [k for k in record if k not in required and k not in self.optional]
        if missing or unknown:
            parts = [f"missing key(s) {', '.join(missing)}"] if missing else []
            parts += [f"unknown key(s) {', '.join(unknown)}"] if unknown else []
            return f"not a run of this suite: {'; '.join(parts)}"
        for key, types in {**required, **self.optional}.items():
            if key in record and not any(_of_type(record[key], kind) for kind in types):
                return f"not a run of this suite: {key} has the wrong type ({record[key]!r:.40})"
        return ""


_EVERY_RUN = {
    **{"dataset": (str,), "loss": (str,), "seed": (int,), "config": (dict,)},
    **{"command": (str,), "worker": (str,)},
}


def _of_type(value: object, kind: Any) -> bool:
    """Whether the JSON ``value`` is of ``kind`` (see :class:`RunSchema`)."""
    origin, args = typing.get_origin(kind), typing.get_args(kind)
    if origin is list:
        return type(value) is list and all(_of_type(item, args[0]) for item in value)
    if origin is dict:
        return type(value) is dict and all(_of_type(item, args[1]) for item in value.values())
    return type(value) in ((int, float) if kind is float else (kind,))


class JournalWarning(UserWarning):
    """A journal line was skipped (its file and line number are in the message)."""


class FolderInUseError(OSError):
    """Another process holds the output folder's lock."""


@functools.cache
def code_fingerprint() -> str:
    """``"<version>+<hash>"``: ``dan_dice.__version__`` and the first 16 hex digits of a SHA-256
    of every ``*.py`` file of the installed ``dan_dice`` package (path and bytes, sorted by path).

    The version alone is not enough: it changes at releases, not at each edit, so a journal
    written by older code of the same version would be resumed. A git commit is not used either:
    an installed copy has none, and an edited checkout keeps its commit. Hashing the source
    refuses a journal written by any other code, whatever changed (a comment edit too: a
    needless retrain is the safe side). Dependencies are in :func:`software_fingerprint`.
    """
    return f"{__version__}+{source_hash(Path(__file__).resolve().parent)}"


def source_hash(package: Path) -> str:
    """16 hex digits of a SHA-256 of every ``*.py`` file under ``package``: relative path and
    bytes, in path order (so neither the folder's location nor the file system's order count)."""
    digest = hashlib.sha256()
    for path in sorted(package.rglob("*.py"), key=lambda p: p.relative_to(package).as_posix()):
        digest.update(path.relative_to(package).as_posix().encode() + b"\0")
        digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()[:16]


@functools.cache
def software_fingerprint() -> dict[str, str]:
    """The code (:func:`code_fingerprint`) and the numeric libraries that change results.

    Part of every run's ``config``: a journal is only resumed, and a Dask worker's result only
    accepted, when they match this process's. The CPU is recorded per run (``worker``) but not
    compared: the same software on another CPU model rounds differently in the last bits (see
    the README's reproducibility notes); whether the run was portable is (:mod:`dan_dice.portable`).
    """
    import numpy
    import torch

    from .portable import active

    return {
        "code": code_fingerprint(),
        "torch": torch.__version__,
        "numpy": numpy.__version__,
        "python": ".".join(platform.python_version_tuple()[:2]),
        "portable": active(),
    }


@functools.cache
def worker_description() -> str:
    """``"host (CPU model)"`` of this process, recorded with each run it trains."""
    return f"{socket.gethostname()} ({cpu_name()})"


def _normalized(value):
    """``value`` as it reads back from JSON (tuples become lists)."""
    return json.loads(json.dumps(value))


def read_journal(
    path: Path, fingerprint: dict, *, repair: bool = True, schema: RunSchema | None = None
) -> list[dict]:
    """The finished runs of the journal ``path`` (none if it does not exist), in order; with a
    ``schema``, a line whose keys or value types differ from it is a bad line.

    Bad lines are skipped with a :class:`JournalWarning` naming ``path`` and the line; with
    ``repair`` (call it only while holding the folder's lock) they are appended to
    ``runs.jsonl.skipped`` and the journal is rewritten without them, so the next run appends
    to a clean file. A journal whose runs were made under another ``fingerprint`` (settings,
    code or software) is refused with a ``ValueError``.
    """
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return []
    except OSError as exc:
        raise OSError(f"cannot read the journal {path}: {exc.strerror or exc}") from exc
    expected = _normalized(fingerprint)
    records, good, bad = [], [], []
    seen = set()
    lines = data.split(b"\n")
    unfinished = lines.pop()  # b"" when the file ends with a newline, as every append does
    for number, line in enumerate(lines, start=1):
        record, problem = _parse(line)
        if record is not None and record["config"] != expected:
            raise ValueError(
                f"{path} holds runs made with other settings or code (line {number}: "
                f"{_differences(record['config'], expected)}); pass --fresh to start over or "
                "--out to write elsewhere"
            )
        if record is not None and schema is not None and schema.problem(record):
            record, problem = None, schema.problem(record)
        if record is not None:
            key = (record["dataset"], record["loss"], record["seed"])
            if key in seen:
                record, problem = None, f"repeats the run {key} of an earlier line"
            seen.add(key)
        if record is None:
            bad.append(line)
            warnings.warn(f"{path}, line {number}: skipped, {problem}", JournalWarning, 2)
            continue
        records.append(record)
        good.append(line)
    if unfinished:
        bad.append(unfinished)
        warnings.warn(
            f"{path}, line {len(lines) + 1}: skipped, unfinished (the process writing it was "
            "stopped); that run is trained again",
            JournalWarning,
            2,
        )
    if bad and repair:
        with open(path.with_name(path.name + ".skipped"), "ab") as f:
            f.write(b"".join(line + b"\n" for line in bad))
        atomic_write_text(path, "".join(line.decode("utf-8") + "\n" for line in good))
    return records


def _parse(line: bytes) -> tuple[dict | None, str]:
    """A journal line as a run, or ``None`` and what is wrong with it."""
    try:
        text = line.decode("utf-8")
    except UnicodeDecodeError as exc:
        return None, f"not UTF-8 text (byte {exc.start})"
    try:
        record = json.loads(text)
    except ValueError as exc:
        return None, f"not JSON ({exc})"
    if not isinstance(record, dict):
        return None, f"not a run (a JSON object) but {text.strip()[:40]}"
    missing = [key for key in RUN_KEYS if key not in record]
    if missing:
        return None, f"not a run: no {', '.join(missing)}"
    dataset, loss, seed = record["dataset"], record["loss"], record["seed"]
    if not (isinstance(dataset, str) and isinstance(loss, str) and type(seed) is int):
        return None, "not a run: its dataset and loss must be text, its seed an integer"
    return record, ""


def _differences(found: object, expected: dict) -> str:
    if not isinstance(found, dict):
        return f"config {found!r}"
    keys = [k for k in dict.fromkeys([*expected, *found]) if found.get(k) != expected.get(k)]
    return "; ".join(f"{k} {found.get(k)!r}, now {expected.get(k)!r}" for k in keys)


def append_journal(path: Path, record: dict) -> None:
    """Append one finished run durably (one JSON line, flushed and fsynced)."""
    with open(path, "a", encoding="utf-8") as f:
        f.write(json.dumps(record) + "\n")
        f.flush()
        os.fsync(f.fileno())


def journal_each(
    path: Path, finished: Iterable[tuple[dict, dict, str]], fingerprint: dict, command: str
) -> Iterator[dict]:
    """Append each finished run to the journal at ``path`` as it arrives (its identity, e.g.
    dataset, loss and seed, then its results, then what ran it) and yield it as the journal
    holds it (JSON types), so that a kill loses no finished run."""
    for identity, record, worker in finished:
        record = {**identity, **record, "config": fingerprint, "command": command}
        record["worker"] = worker
        append_journal(path, record)
        yield json.loads(json.dumps(record))


_held: dict[Path, int] = {}
"""Lock files this process holds -> how many nested :func:`lock_folder` calls hold each."""


@contextlib.contextmanager
def lock_folder(folder: Path, command: str = "") -> Iterator[None]:
    """Hold ``folder``'s exclusive lock, or raise :class:`FolderInUseError` naming the holder.

    The holder's pid, host, command and start time are written in ``folder/.lock``. Nested
    calls in one process share the lock.
    """
    folder.mkdir(parents=True, exist_ok=True)
    path = (folder / LOCK).resolve()
    if path in _held or fcntl is None:
        _held[path] = _held.get(path, 0) + 1
        try:
            yield
        finally:
            _held[path] -= 1
            if not _held[path]:
                del _held[path]
        return
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise FolderInUseError(f"{folder} is in use by {_holder(path)}") from None
        holder = {
            "pid": os.getpid(),
            "host": socket.gethostname(),
            "command": command,
            "since": time.strftime("%Y-%m-%d %H:%M:%S"),
        }
        os.ftruncate(fd, 0)
        os.pwrite(fd, (json.dumps(holder) + "\n").encode(), 0)
        _held[path] = 1
        try:
            yield
        finally:
            del _held[path]
            os.ftruncate(fd, 0)
    finally:
        os.close(fd)  # releases the flock


def _holder(path: Path) -> str:
    """Who holds the lock, as its lock file says."""
    try:
        holder = json.loads(path.read_text(encoding="utf-8"))
        return (
            f"pid {holder['pid']} on {holder['host']} (command {holder['command']!r}, "
            f"since {holder['since']}); wait for it to end or pass another --out"
        )
    except (OSError, ValueError, KeyError, TypeError):
        return "another process (its lock file names none yet); pass another --out"
