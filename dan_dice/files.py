"""Atomic file writes: readers see the old file or the complete new one, never a partial one.

Every file the project writes (model files, edge artifacts, reports, figures, the experiment
journal's rewrites) goes through :func:`write_atomic`, so a crash or a kill never leaves a
half-written file behind.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path


def write_atomic(
    path: str | os.PathLike, data: bytes, *, overwrite: bool = False, make_parents: bool = False
) -> Path:
    """Write ``data`` to ``path`` through a temporary file in the same folder, then rename it.

    An existing ``path`` is an error unless ``overwrite``; a missing folder is created only with
    ``make_parents``. The file gets the usual mode (``0o666`` less the umask).
    """
    path = Path(path)
    if path.exists() and not overwrite:
        raise FileExistsError(f"{path} already exists; pass overwrite=True to replace it")
    if make_parents:
        path.parent.mkdir(parents=True, exist_ok=True)
    elif not path.parent.is_dir():
        raise FileNotFoundError(f"cannot write {path}: folder {path.parent} does not exist")
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    try:
        with open(temporary, "xb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)
    return path


def atomic_write_text(path: str | os.PathLike, text: str) -> Path:
    """Replace ``path`` (creating its folder) with ``text`` in UTF-8, atomically."""
    return write_atomic(path, text.encode("utf-8"), overwrite=True, make_parents=True)
