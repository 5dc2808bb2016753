"""Old names of moved public objects, kept working for one release with a warning.

A module whose names moved ends with ``__getattr__ = moved(__name__, "0.2.0", old=new, ...)``:
reading an old name (``from dan_dice.datasets import train_val_test_split``) warns with a
:class:`DeprecationWarning` naming the new place, and returns the object found there.
CHANGELOG.md lists every moved name.
"""

from __future__ import annotations

import importlib
import warnings
from collections.abc import Callable
from typing import Any


def moved(module: str, since: str, **names: str) -> Callable[[str], Any]:
    """A module ``__getattr__`` (PEP 562) serving each old name of ``names`` from its new
    place, a dotted path such as ``"dan_dice.splits.train_val_test_split"``; ``since`` is the
    release that moved it, the next one removes the alias."""

    def __getattr__(name: str) -> Any:
        if name not in names:
            raise AttributeError(f"module {module!r} has no attribute {name!r}")
        warnings.warn(
            f"{module}.{name} moved in dan-dice {since} and will be removed in the next "
            f"release: use {names[name]}",
            DeprecationWarning,
            stacklevel=2,
        )
        return _resolve(names[name])

    return __getattr__


def _resolve(path: str) -> Any:
    """The object at a dotted ``path``, importing modules along it as needed."""
    parts = path.split(".")
    found = importlib.import_module(parts[0])
    for i, part in enumerate(parts[1:], start=2):
        try:
            found = getattr(found, part)
        except AttributeError:
            found = importlib.import_module(".".join(parts[:i]))
    return found
