"""Tests for dan_dice.portable: the switch sets torch's and MKL's kernel levels before torch
loads, refuses once it has, and the journal's fingerprint records it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from dan_dice import portable

ROOT = Path(__file__).resolve().parent.parent


def _python(code: str, **env: str) -> str:
    clean = portable.child_environ()
    clean.pop(portable.SWITCH, None)
    clean["PYTHONPATH"] = str(ROOT)
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env={**clean, **env}
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def test_the_switch_pins_torchs_kernels_in_a_fresh_process():
    code = (
        "from dan_dice import portable; on = portable.enable(); import torch, numba; "
        "from dan_dice.journal import software_fingerprint; "
        "print(on, torch.backends.cpu.get_cpu_capability(), software_fingerprint()['portable'], "
        "numba.config.CPU_NAME, repr(numba.config.CPU_FEATURES))"
    )
    assert _python(code, DAN_DICE_PORTABLE="1") == "True DEFAULT True generic ''"
    assert _python(code).split()[:3:2] == ["False", "False"]


def test_the_switch_after_torch_is_a_clear_error(monkeypatch):
    import torch  # noqa: F401  (loaded, as in this test process)

    for name in portable.PORTABLE_ENV:
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(ValueError, match="before torch and numba are imported"):
        portable.enable(True)
    monkeypatch.delenv(portable.SWITCH, raising=False)
    assert portable.enable(False) is False and not portable.active()


def test_a_childs_environ_sets_its_kernels_here_not_by_inheritance(monkeypatch):
    monkeypatch.setenv("MKL_ENABLE_INSTRUCTIONS", "AVX2")
    monkeypatch.setenv("ATEN_CPU_CAPABILITY", "avx2")
    monkeypatch.setenv("KEPT", "1")
    plain = portable.child_environ()
    assert plain["KEPT"] == "1" and not set(portable.KERNEL_CHOICES) & plain.keys()
    forced = portable.child_environ({"NUMBA_CPU_NAME": "haswell"})
    assert forced["NUMBA_CPU_NAME"] == "haswell" and "ATEN_CPU_CAPABILITY" not in forced
    pinned = portable.child_environ({"ATEN_CPU_CAPABILITY": "avx512"}, portable=True)
    assert {k: pinned[k] for k in portable.PORTABLE_ENV} == portable.PORTABLE_ENV
