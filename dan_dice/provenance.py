"""The source fingerprint every report records, so that a report made by older code is seen.

A report made by ``run_experiments.py`` carries a line ``Source fingerprint: `HASH`
(dan_dice/*.py)``; one made by a benchmark script names that script too, ``Source fingerprint:
`HASH` (dan_dice/*.py + benchmarks/speed.py)``, followed by the git commit where there is one.
``HASH`` is 16 hex digits of a SHA-256 of the package's source and the script's bytes, no
library versions: it changes exactly when the code that made the report does.
``tests/test_report_fingerprints.py`` compares each committed report's with the source's.
"""

from __future__ import annotations

import hashlib
import re
import subprocess
from pathlib import Path

from .journal import source_hash

PACKAGE = Path(__file__).resolve().parent
FINGERPRINT = re.compile(r"Source fingerprint: `([0-9a-f]{16})` \(dan_dice/\*\.py(?: \+ (\S+))?\)")
"""The line a report carries: group 1 the hash, group 2 the script, if any."""


def source_fingerprint(script: Path | None = None, root: Path | None = None) -> str:
    """16 hex digits hashing ``dan_dice``'s ``*.py`` files and, if given, ``script`` (named by
    its path relative to ``root``, the project's folder by default)."""
    package = source_hash(PACKAGE)
    if script is None:
        return package
    name = _relative(script, root)
    digest = hashlib.sha256(f"{package}\0{name}\0".encode() + Path(script).read_bytes())
    return digest.hexdigest()[:16]


def fingerprint_line(script: Path | None = None) -> str:
    """The line a report records: the fingerprint, what it covers and, for a benchmark
    ``script``, the git commit of its checkout when there is one."""
    if script is None:
        return f"Source fingerprint: `{source_fingerprint()}` (dan_dice/*.py)"
    name = _relative(script)
    line = f"Source fingerprint: `{source_fingerprint(script)}` (dan_dice/*.py + {name})"
    commit = git_commit(Path(script).resolve().parent)
    return line + (f"; commit `{commit}`" if commit else "")


def git_commit(folder: Path) -> str | None:
    """The commit checked out in ``folder`` (12 hex digits), or ``None`` outside a checkout."""
    try:
        done = subprocess.run(
            ["git", "rev-parse", "--short=12", "HEAD"], cwd=folder, capture_output=True, text=True
        )
    except OSError:  # no git
        return None
    return done.stdout.strip() if done.returncode == 0 else None


def _relative(script: Path, root: Path | None = None) -> str:
    root = (PACKAGE.parent if root is None else root).resolve()
    path = Path(script).resolve()
    return path.relative_to(root).as_posix() if path.is_relative_to(root) else path.name


def stamp(text: str, script: Path | None = None) -> str:
    """``text``, a Markdown report, with its :func:`fingerprint_line` after its title."""
    title, _, body = text.partition("\n")
    return f"{title}\n\n{fingerprint_line(script)}\n{body}"
