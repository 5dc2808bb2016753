"""Argument types shared by the command lines (``dan-dice`` and ``run_experiments.py``).

It sits below both: :mod:`dan_dice.cli` and :mod:`dan_dice.experiments` import it, it imports
neither.
"""

from __future__ import annotations

import argparse
import math


def threshold_arg(text: str) -> float | str:
    """``--threshold``: ``"tune"`` or a number in (0, 1), refused at parsing otherwise."""
    if text == "tune":
        return text
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not 0 < value < 1:
        raise argparse.ArgumentTypeError(f"must be 'tune' or a number in (0, 1), got {text!r}")
    return value
