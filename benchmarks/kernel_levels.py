"""How much of the study grid another CPU changes, measured on one machine: the grid run in
full under each forced kernel level, native and portable, its rows compared with the unforced
run of the same mode.

A CPU of another kind picks other vectorised kernels (torch's ``ATEN_CPU_CAPABILITY``, MKL's
``MKL_ENABLE_INSTRUCTIONS``), which round differently in the last bits; forcing those levels
here shows what such a CPU does to the results. Each run is ``run_experiments.py`` on the study
grid (Dice, weighted BCE, MSE on SMS and cyberbullying, 5 seeds, the learning rates tuned) in a
fresh folder, as a user runs it; a row "changes" when any of its scores, its learning rate or
its best epoch differs. Writes ``reports/kernel_levels.md``.

    python benchmarks/kernel_levels.py [--data-dir D] [--jobs 2] [--quick]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
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
GRID = ["--losses", "dice", "wbce", "mse", "--datasets", "sms", "cyberbullying"]
KEY = ["dataset", "loss", "seed"]
RUNS = [
    ("native", ""),
    ("native", "ATEN_CPU_CAPABILITY=default"),
    ("native", "MKL_ENABLE_INSTRUCTIONS=AVX2"),
    ("portable", ""),
    ("portable", "MKL_ENABLE_INSTRUCTIONS=AVX2"),
]
"""(mode, forced variable) of each grid run; the levels that changed fits in
``reports/portable.md`` (torch's lowest level, MKL without AVX-512), each mode's unforced run
first."""


def run_grid(mode: str, forced: str, out: Path, args: argparse.Namespace) -> float:
    """Run the study grid into ``out`` with ``forced`` set (and portable mode); its wall time."""
    env = child_environ(dict([forced.split("=")]) if forced else None)
    flags = ["--portable"] if mode == "portable" else []
    flags += ["--quick"] if args.quick else []
    data = ["--data-dir", args.data_dir] if args.data_dir else []
    command = [sys.executable, "run_experiments.py", *GRID, *data, *flags]
    command += ["--jobs", str(args.jobs), "--out", str(out), "--fresh"]
    started = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, env=env, cwd=ROOT)
    if done.returncode:
        raise RuntimeError(
            f"the grid with {forced or 'nothing'} forced failed: {done.stderr[-800:]}"
        )
    return time.perf_counter() - started


def compare(results: pd.DataFrame, baseline: pd.DataFrame) -> dict:
    """How the rows of ``results`` differ from the same rows of ``baseline``."""
    both = results.merge(baseline, on=KEY, suffixes=("", "_base"), validate="one_to_one")
    columns = [c for c in results.columns if c not in KEY]
    same = [
        both[c].eq(both[f"{c}_base"]) | both[[c, f"{c}_base"]].isna().all(axis=1) for c in columns
    ]
    differs = ~pd.concat(same, axis=1)
    cells = both.groupby(["dataset", "loss"])
    moved = (cells["f1"].mean() - cells["f1_base"].mean()).abs() / cells["f1_base"].std()
    return {
        "rows changed": f"{int(differs.any(axis=1).sum())} of {len(both)}",
        "lr changed": int((both["lr"] != both["lr_base"]).sum()),
        "best epoch changed": int((both["best_epoch"] != both["best_epoch_base"]).sum()),
        "largest Δ F1 of a run (absolute)": float((both["f1"] - both["f1_base"]).abs().max()),
        "largest cell mean move (sd)": float(moved.max()),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", help="folder with the datasets (default: $DAN_DICE_DATA)")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--quick", action="store_true", help="smoke test: the grid's --quick")
    parser.add_argument("--report", default="reports/kernel_levels.md")
    args = parser.parse_args()
    started, about = time.perf_counter(), f"{datetime.now():%Y-%m-%d %H:%M}; {environment()}"
    rows, baselines, native_wall = [], {}, None
    with tempfile.TemporaryDirectory() as scratch:
        for i, (mode, forced) in enumerate(RUNS):
            wall = run_grid(mode, forced, Path(scratch) / str(i), args)
            results = pd.read_csv(Path(scratch) / str(i) / "results.csv")
            baseline = baselines.setdefault(mode, results)
            native_wall = native_wall or wall
            rows.append(
                {
                    "mode": mode,
                    "forced": forced or "(nothing)",
                    **compare(results, baseline),
                    "wall s": round(wall, 1),
                    "× native wall": round(wall / native_wall, 2),
                }
            )
            print(rows[-1], flush=True)
    command = "python benchmarks/kernel_levels.py " + " ".join(sys.argv[1:])
    made = f"`{command.strip()}` on {about}; {time.perf_counter() - started:.0f} s"
    atomic_write_text(Path(args.report), stamp(_render(made, rows, args), Path(__file__)))
    return 0


def _render(made: str, rows: list[dict], args: argparse.Namespace) -> str:
    table = pd.DataFrame(rows)
    table["largest Δ F1 of a run (absolute)"] = table["largest Δ F1 of a run (absolute)"].map(
        "{:.4f}".format
    )
    table["largest cell mean move (sd)"] = table["largest cell mean move (sd)"].map("{:.2f}".format)
    quick = " **Quick mode**: small subsets." if args.quick else ""
    return (
        "\n".join(
            [
                "# The study grid under other kernel levels",
                "",
                f"Made by {made}.{quick}",
                "",
                "Each row is `python run_experiments.py "
                + " ".join(GRID)
                + f" --jobs {args.jobs} --fresh` in a fresh folder, with one variable forced "
                "(portable mode adds "
                + ", ".join(f"`{k}={v}`" for k, v in PORTABLE_ENV.items())
                + "), compared row by row (dataset, loss, seed) with the same mode's unforced run: "
                "a row changes when any score, its learning rate or its best epoch differs. "
                "`largest cell mean move (sd)`: the largest change of a cell's mean test F1, in "
                "standard deviations of the unforced run's seeds. `wall s`: the whole grid, "
                "runs back to back on this machine.",
                "",
                to_markdown(table),
            ]
        )
        + "\n"
    )


if __name__ == "__main__":
    sys.exit(run_guarded(main, prog="benchmarks/kernel_levels.py"))
