"""Argument types shared by the command lines (``dan-dice`` and ``run_experiments.py``).

It sits below both: :mod:`dan_dice.cli` and :mod:`dan_dice.experiments` import it, it imports
neither. The threshold rule itself is :class:`dan_dice.params.Threshold`'s.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable

from .params import TUNED, Threshold


def threshold_type(modes: tuple[str, ...] = TUNED) -> Callable[[str], float | str]:
    """An argparse type for ``--threshold``: one of ``modes`` or a number in (0, 1), as the
    estimator's ``threshold`` takes it; anything else is refused at parsing."""

    def threshold(text: str) -> float | str:
        try:
            return Threshold.parse(text if text in modes else float(text), modes).setting
        except ValueError:
            forms = ", ".join(map(repr, modes))
            raise argparse.ArgumentTypeError(
                f"must be {forms} or a number in (0, 1), got {text!r}"
            ) from None

    return threshold


threshold_arg = threshold_type(("tune",))
"""``--threshold`` of ``run_experiments.py``: ``"tune"`` or a number in (0, 1)."""
