"""The study grid's patience: what stopping sooner saves, and whether it moves the study's cells.

Each (dataset, loss, seed) of the study's cells is one run of the grid
(``experiments.run_one``: every learning rate of ``Config().lrs``, the best kept by validation
F1) with ``STUDY_PARAMS`` and the patience changed (epochs without a better validation score
before a fit stops). The grid may take a patience only if no cell's mean test F1, nor its mean
validation F1, falls below the grid's own (``STUDY_PARAMS["patience"]``, the first) by more than
that cell's standard deviation over the seeds: the grid exists to reproduce the study's cells.
Runs go to ``--jobs`` processes of one thread each; CPU seconds are those of each run's fits.
Writes ``reports/grid_patience.md``.

    python benchmarks/grid_patience.py [--data-dir D] [--seeds 5] [--patience 5 3 2]
"""

from __future__ import annotations

import argparse
import sys
import time
from datetime import datetime
from pathlib import Path

import pandas as pd
from batch_size import grid_run
from joblib import Parallel, delayed

from dan_dice.cli import run_guarded
from dan_dice.datasets import DATASETS
from dan_dice.experiments import STUDY_LOSSES, STUDY_PARAMS, Config
from dan_dice.files import atomic_write_text
from dan_dice.machine import environment
from dan_dice.provenance import stamp
from dan_dice.reporting import STUDY_TABLE, to_markdown

SCORES = ("val F1", "test F1")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", help="folder with the datasets (default: $DAN_DICE_DATA)")
    parser.add_argument("--seeds", type=int, default=5, help="seeds per (dataset, loss)")
    parser.add_argument("--patience", type=int, nargs="+", default=[5, 3, 2])
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--report", default="reports/grid_patience.md")
    args = parser.parse_args()
    if args.seeds < 2 or min(args.patience) < 1:
        raise ValueError(
            "--seeds must be at least 2 (the noise is a standard deviation), --patience at least 1"
        )
    if args.patience[0] != STUDY_PARAMS["patience"]:
        args.patience.insert(0, STUDY_PARAMS["patience"])  # the grid's own: the reference
    started, about = time.perf_counter(), f"{datetime.now():%Y-%m-%d %H:%M}; {environment()}"
    records = Parallel(n_jobs=args.jobs)(
        delayed(grid_run)(dataset, loss, seed, {"patience": patience}, args.data_dir)
        for dataset in DATASETS
        for loss in STUDY_LOSSES
        for seed in range(args.seeds)
        for patience in args.patience
    )
    command = "python benchmarks/grid_patience.py " + " ".join(sys.argv[1:])
    text = render(pd.DataFrame(records), command.strip(), about, time.perf_counter() - started)
    atomic_write_text(Path(args.report), stamp(text, Path(__file__)))
    print(text)
    return 0


def render(frame: pd.DataFrame, command: str, about: str, seconds: float) -> str:
    """The report: per cell and patience, then per patience with its verdict."""
    reference = frame["patience"].iloc[0]
    cells = frame.groupby(["dataset", "loss", "patience"], sort=False)
    per_cell = cells.agg(
        **{f"{s} mean": (s, "mean") for s in SCORES},
        **{f"{s} sd": (s, "std") for s in SCORES},
        epochs=("epochs", "mean"),
        cpu_s=("CPU s", "mean"),
    ).reset_index()
    base = per_cell[per_cell["patience"] == reference].set_index(["dataset", "loss"])
    moved: dict[int, list[str]] = {}
    for _, row in per_cell.iterrows():
        ref = base.loc[(row["dataset"], row["loss"])]
        for score in SCORES:
            if row[f"{score} mean"] < ref[f"{score} mean"] - ref[f"{score} sd"]:
                moved.setdefault(row["patience"], []).append(
                    f"{row['dataset']} {row['loss']} ({score})"
                )
    per_cell["study F1"] = [
        STUDY_TABLE.get((d, loss), (None, None))[1]
        for d, loss in zip(per_cell.dataset, per_cell.loss, strict=True)
    ]
    for score in SCORES:
        per_cell[score] = [
            f"{m:.4f} ± {sd:.4f}"
            for m, sd in zip(per_cell[f"{score} mean"], per_cell[f"{score} sd"], strict=True)
        ]
    per_cell = per_cell.rename(columns={"cpu_s": "CPU s"})[
        ["dataset", "loss", "patience", *SCORES, "epochs", "CPU s", "study F1"]
    ]
    totals = frame.groupby("patience", sort=False)["CPU s"].sum()
    summary = pd.DataFrame(
        {
            "patience": totals.index,
            "CPU s (sum of runs)": totals.values,
            f"× patience {reference}": totals.values / totals[reference],
            "verdict": [
                "the grid's own"
                if p == reference
                else ("moves " + "; ".join(moved[p]) if p in moved else "keeps every cell")
                for p in totals.index
            ],
        }
    )
    return "\n".join(
        [
            "# The study grid's patience",
            "",
            f"Made by `{command}` on {about}; {seconds:.0f} s.",
            "",
            "Each row averages the grid's runs (every learning rate of "
            f"`{list(Config().lrs)}`, the best by validation F1) over seeds 0..{frame.seed.max()}; "
            f"`STUDY_PARAMS` otherwise "
            f"({ {k: v for k, v in STUDY_PARAMS.items() if k != 'patience'} }). `epochs`: those of "
            "the kept learning rate's fit. CPU seconds are those of all the run's fits on one "
            "thread, two runs at a time on this machine. A patience keeps a cell when its mean "
            f"validation and test F1 are not below patience {reference}'s by more than that "
            "cell's standard deviation over the seeds.",
            "",
            "## Per patience",
            "",
            to_markdown(summary.round(3)),
            "",
            "## Per cell",
            "",
            to_markdown(per_cell.round(4)),
            "",
        ]
    )


if __name__ == "__main__":
    sys.exit(run_guarded(main, prog="benchmarks/grid_patience.py"))
