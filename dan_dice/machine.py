"""What a report says of the machine that made it: the processor, the CPUs, the load and the
versions of the libraries that compute the results."""

from __future__ import annotations

import contextlib
import functools
import os
import platform
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from .version import __version__


@functools.cache
def cpu_name() -> str:
    """The processor's model name (Linux ``/proc/cpuinfo``), else what ``platform`` knows."""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace").split("\n"):
            if line.startswith("model name"):
                return line.partition(":")[2].strip()
    return platform.processor() or platform.machine()


def environment() -> str:
    """The machine, its current load and the library versions, in one line for a report."""
    packages = ["numpy", "scikit-learn", "torch", "fasttext-numpy2"]
    versions = ", ".join(f"{name} {package_version(name)}" for name in packages)
    return (
        f"{platform.platform()}, {cpu_name()}, {os.cpu_count()} CPUs, load average "
        f"{os.getloadavg()[0]:.1f}; Python {platform.python_version()}, dan_dice {__version__}, "
        f"{versions}"
    )


def software() -> dict[str, str]:
    """dan_dice, Python and the numeric libraries' versions, the platform and the CPU count, as
    the study's report lists them."""
    return {
        "dan_dice": __version__,
        "python": platform.python_version(),
        "torch": package_version("torch"),
        "numpy": package_version("numpy"),
        "scikit-learn": package_version("scikit-learn"),
        "platform": platform.platform(),
        "CPUs": str(os.cpu_count()),
    }


def package_version(package: str) -> str:
    """The installed version of ``package``, or ``"not installed"``."""
    try:
        return version(package)
    except PackageNotFoundError:
        return "not installed"
