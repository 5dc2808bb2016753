"""Portable mode measured: do a few small fits give the same bits under every kernel level this
CPU offers, with and without ``--portable`` (``dan_dice.portable``), and what does it cost?

Each forced choice runs in a fresh process (the variables are read when torch, MKL and numba
load): torch's ``ATEN_CPU_CAPABILITY`` (default, avx2, avx512 where the CPU has it), MKL's
``MKL_ENABLE_INSTRUCTIONS`` (AVX512, AVX2, SSE4_2) or the CPU numba compiles the training
kernels for, ``NUMBA_CPU_NAME`` (generic x86-64, and haswell, an AVX2 CPU, where this one has
AVX2), each alone; in portable mode its variables (``dan_dice.portable.PORTABLE_ENV``) are set
on top, so a forced torch level or numba CPU is overridden there. Every process fits the same
models (the study grid's network, one seed, a few epochs, on SMS) and hashes their test
probabilities; a fit "changes" when its hash differs from the same fit's with nothing forced in
the same mode. Writes ``reports/portable.md``.

    python benchmarks/portable.py [--data-dir D] [--losses dice wbce] [--epochs 5]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

import pandas as pd

from dan_dice.cli import run_guarded
from dan_dice.files import atomic_write_text
from dan_dice.machine import environment
from dan_dice.portable import PORTABLE_ENV, child_environ
from dan_dice.provenance import stamp
from dan_dice.reporting import to_markdown

ROOT = Path(__file__).resolve().parents[1]
MKL_LEVELS = ("AVX512", "AVX2", "SSE4_2")
_FIT = """
import hashlib, json, sys, time
import numpy as np, torch
from dan_dice.experiments import Config
from dan_dice.study_data import load_split
torch.set_num_threads(1)
data_dir, losses, epochs = sys.argv[1] or None, sys.argv[2].split(","), int(sys.argv[3])
split = load_split("sms", data_dir)
out = {"capability": torch.backends.cpu.get_cpu_capability(), "fits": {}}
for loss in losses:
    start = time.perf_counter()
    clf = Config(epochs=epochs, device="cpu").estimator(loss, 0, lr=3e-3)
    clf.fit(split.X_train, split.y_train, validation_data=(split.X_val, split.y_val))
    seconds = time.perf_counter() - start
    proba = np.ascontiguousarray(clf.predict_proba(split.X_test), dtype=np.float32)
    digest = hashlib.sha256(proba.tobytes()).hexdigest()[:16]
    out["fits"][loss] = {"hash": digest, "seconds": seconds, "best_epoch": clf.best_epoch_}
print(json.dumps(out))
"""
"""Run by ``python -c`` in a fresh process with the forced variables."""


def cpu_levels() -> list[str]:
    """torch's kernel levels this CPU has, from /proc/cpuinfo's flags."""
    flags = set()
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("flags"):
                flags = set(line.split(":", 1)[1].split())
                break
    has = {"avx2": "avx2" in flags, "avx512": "avx512f" in flags}
    return ["default", *(level for level, present in has.items() if present)]


def forced_choices() -> list[tuple[str, str]]:
    """(variable, value) of each forced run; ``("", "")`` forces nothing."""
    return [
        ("", ""),
        *(("ATEN_CPU_CAPABILITY", level) for level in cpu_levels()),
        *(("MKL_ENABLE_INSTRUCTIONS", level) for level in MKL_LEVELS),
        ("NUMBA_CPU_NAME", "generic"),
        *((("NUMBA_CPU_NAME", "haswell"),) if "avx2" in cpu_levels() else ()),
    ]


def fit_once(variable: str, value: str, portable: bool, args: argparse.Namespace) -> dict:
    """Run the fits in a fresh process with ``variable=value`` forced (and portable mode)."""
    env = child_environ({variable: value} if variable else None, portable)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    command = [sys.executable, "-c", _FIT, args.data_dir or "", ",".join(args.losses)]
    done = subprocess.run(
        [*command, str(args.epochs)], capture_output=True, text=True, env=env, cwd=ROOT
    )
    if done.returncode:
        raise RuntimeError(f"fit with {variable}={value} failed: {done.stderr.strip()[-500:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", help="folder with the datasets (default: $DAN_DICE_DATA)")
    parser.add_argument("--losses", nargs="+", default=["dice", "wbce"], metavar="LOSS")
    parser.add_argument("--epochs", type=int, default=5, help="most epochs per fit")
    parser.add_argument("--repeats", type=int, default=3, help="native/portable pairs timed")
    parser.add_argument("--report", default="reports/portable.md")
    args = parser.parse_args()
    if min(args.epochs, args.repeats) < 1:
        raise ValueError("--epochs and --repeats must be at least 1")
    started, about = time.perf_counter(), f"{datetime.now():%Y-%m-%d %H:%M}; {environment()}"
    rows = []
    for portable in (False, True):
        baseline = None
        for variable, value in forced_choices():
            result = fit_once(variable, value, portable, args)
            baseline = baseline or result
            changed = [
                loss
                for loss, fit in result["fits"].items()
                if fit["hash"] != baseline["fits"][loss]["hash"]
            ]
            rows.append(
                {
                    "mode": "portable" if portable else "native",
                    "forced": f"{variable}={value}" if variable else "(nothing)",
                    "torch level": result["capability"],
                    "fits changed": f"{len(changed)} of {len(result['fits'])}",
                    "changed": ", ".join(changed),
                    "fit s": statistics.mean(f["seconds"] for f in result["fits"].values()),
                }
            )
            print(rows[-1], flush=True)
    ratios = []  # the cost: native and portable back to back, so that both see the same load
    for _ in range(args.repeats):
        native, port = (fit_once("", "", mode, args)["fits"] for mode in (False, True))
        ratios += [port[loss]["seconds"] / native[loss]["seconds"] for loss in native]
    command = "python benchmarks/portable.py " + " ".join(sys.argv[1:])
    made = f"`{command.strip()}` on {about}; {time.perf_counter() - started:.0f} s"
    text = _render(made, rows, statistics.median(ratios), args)
    atomic_write_text(Path(args.report), stamp(text, Path(__file__)))
    return 0


def _render(made: str, rows: list[dict], cost: float, args: argparse.Namespace) -> str:
    table = pd.DataFrame(rows)
    table["fit s"] = table["fit s"].map("{:.2f}".format)
    changed = {mode: int((group["changed"] != "").sum()) for mode, group in table.groupby("mode")}
    forced = {mode: int((table["mode"] == mode).sum()) - 1 for mode in ("native", "portable")}
    return (
        "\n".join(
            [
                "# Portable mode: the same bits under every kernel level",
                "",
                f"Made by {made}.",
                "",
                f"Fits: the study grid's network on SMS, seed 0, lr 0.003, at most {args.epochs} "
                f"epochs, losses {', '.join(args.losses)}, one thread; each row is a fresh process "
                "with one variable forced. A fit changes when the hash of its test probabilities "
                "differs from the same mode's unforced run. Portable mode sets "
                + ", ".join(f"`{k}={v}`" for k, v in PORTABLE_ENV.items())
                + " on top of the forced variable.",
                "",
                to_markdown(table),
                "",
                f"Forced runs with a changed fit: native {changed.get('native', 0)} of "
                f"{forced['native']}, portable {changed.get('portable', 0)} of "
                f"{forced['portable']}. Cost: a portable fit takes {cost:.2f}× the time of the "
                f"same native fit (median over {args.repeats} native/portable pairs of "
                "unforced processes run back to back, each fit timed alone; the table's `fit s` "
                "columns are single runs, exposed to the load of a shared machine).",
            ]
        )
        + "\n"
    )


if __name__ == "__main__":
    sys.exit(run_guarded(main, prog="benchmarks/portable.py"))
