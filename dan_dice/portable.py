"""Portable mode: the same bits from every CPU's kernels, at a cost.

torch picks its vectorised kernels by CPU (``ATEN_CPU_CAPABILITY``: AVX-512, AVX2 or none) and
MKL its code path (``MKL_CBWR``); each rounds differently in the last bits, which over many
epochs can change a run's best epoch or chosen learning rate; numba compiles the CPU kernels
(:mod:`dan_dice.fused_pooling`, ``LazyAdam``'s update) for the CPU it runs on, its vector width
and fused multiply-adds. Portable mode pins all three to the paths every x86-64 CPU has:
``ATEN_CPU_CAPABILITY=default``, ``MKL_CBWR=COMPATIBLE`` and ``NUMBA_CPU_NAME=generic``. They
are read when torch, MKL and numba load, so they must be set before ``torch`` or ``numba`` is
imported: this process sets them, and the worker processes it starts (joblib's loky) inherit
them. Dask workers must be started with them (``DAN_DICE_PORTABLE=1`` is not enough there:
set the three variables); the journal's fingerprint records whether a run was portable
(:func:`dan_dice.journal.software_fingerprint`), so a mixed journal is refused.
``benchmarks/portable.py`` measures the effect and the cost (``reports/portable.md``).
"""

from __future__ import annotations

import os
import sys

PORTABLE_ENV = {
    "ATEN_CPU_CAPABILITY": "default",
    "MKL_CBWR": "COMPATIBLE",
    "NUMBA_CPU_NAME": "generic",
}
"""The variables portable mode sets."""
KERNEL_CHOICES = (*PORTABLE_ENV, "MKL_ENABLE_INSTRUCTIONS")
"""Variables that choose the CPU kernels torch, MKL and numba run."""
SWITCH = "DAN_DICE_PORTABLE"
"""``DAN_DICE_PORTABLE=1`` turns portable mode on, as ``--portable`` does."""


def enable(requested: bool = False) -> bool:
    """Turn portable mode on if ``requested`` or ``$DAN_DICE_PORTABLE`` is ``1``; returns
    whether it is on. Raises ``ValueError`` when torch or numba was imported before: their
    kernels are chosen already."""
    if not (requested or os.environ.get(SWITCH) == "1"):
        return active()
    if not active() and {"torch", "numba"} & sys.modules.keys():
        raise ValueError(
            "portable mode must be set before torch and numba are imported: start the process with "
            f"{SWITCH}=1 (or {' '.join(f'{k}={v}' for k, v in PORTABLE_ENV.items())})"
        )
    os.environ.update(PORTABLE_ENV)
    return True


def active() -> bool:
    """Whether this process runs with portable mode's variables."""
    return all(os.environ.get(name) == value for name, value in PORTABLE_ENV.items())


def child_environ(forced: dict[str, str] | None = None, portable: bool = False) -> dict[str, str]:
    """The environment for a child process whose kernel choices are set here, not inherited:
    this one's without :data:`KERNEL_CHOICES`, then ``forced``, then portable mode's variables
    if ``portable``. Benchmarks compare kernel levels with it."""
    env = {k: v for k, v in os.environ.items() if k not in KERNEL_CHOICES}
    env.update(forced or {})
    if portable:
        env.update(PORTABLE_ENV)
    return env
