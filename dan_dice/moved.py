"""Old import paths of names that moved to another module: they keep working for one release,
with a :class:`DeprecationWarning` naming the new place.

A module whose names moved ends with ``__getattr__ = moved_names(__name__, {...})``. The new
module is imported when an old name is first read, through :mod:`importlib`, so an old path
never ties its module to the layer above it.
"""

from __future__ import annotations

import importlib
import warnings
from collections.abc import Callable
from typing import Any


def moved_names(module: str, new_places: dict[str, str]) -> Callable[[str], Any]:
    """A module ``__getattr__`` for ``module`` that hands on each name of ``new_places``
    (name -> the module it lives in now) with a :class:`DeprecationWarning`."""

    def __getattr__(name: str) -> Any:
        if name not in new_places:
            raise AttributeError(f"module {module!r} has no attribute {name!r}")
        new = new_places[name]
        warnings.warn(
            f"{module}.{name} moved to {new}.{name}; the old path goes in the next release",
            DeprecationWarning,
            stacklevel=2,
        )
        return getattr(importlib.import_module(new), name)

    return __getattr__
