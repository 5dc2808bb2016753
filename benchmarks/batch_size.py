"""The study grid's batch size: validation F1 and training time at several batch sizes.

Each (dataset, loss, seed) is one run of the grid (``experiments.run_one``: every learning rate
of ``Config().lrs``, the best kept by validation F1) with ``STUDY_PARAMS`` and the batch size
changed, on every binary dataset. The grid's batch size is the fastest whose mean validation F1
(the only score used for choosing) is not below batch 128's by more than the seed noise; the
test F1 stands beside it, with the study's Table 1, which the grid must keep reproducing. Runs
go to ``--jobs`` processes of one thread each. Writes ``reports/batch_size.md``.

    python benchmarks/batch_size.py [--data-dir D] [--seeds 2] [--batch-sizes 128 256 512]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
import warnings
from datetime import datetime
from pathlib import Path

import pandas as pd
from joblib import Parallel, delayed

from dan_dice.cli import run_guarded
from dan_dice.datasets import BINARY_DATASETS
from dan_dice.experiments import STUDY_LOSSES, STUDY_PARAMS, Config, run_one
from dan_dice.files import atomic_write_text
from dan_dice.machine import environment
from dan_dice.provenance import stamp
from dan_dice.reporting import STUDY_TABLE, to_markdown


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", help="folder with the datasets (default: $DAN_DICE_DATA)")
    parser.add_argument("--seeds", type=int, default=2, help="seeds per (dataset, loss)")
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[128, 256, 512])
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--report", default="reports/batch_size.md")
    args = parser.parse_args()
    if args.seeds < 1 or min(args.batch_sizes) < 1:
        raise ValueError("--seeds and --batch-sizes must be at least 1")
    started, about = time.perf_counter(), f"{datetime.now():%Y-%m-%d %H:%M}; {environment()}"
    tasks = [
        (dataset, loss, seed, size)
        for dataset in BINARY_DATASETS
        for loss in STUDY_LOSSES
        for seed in range(args.seeds)
        for size in args.batch_sizes
    ]
    records = Parallel(n_jobs=args.jobs)(
        delayed(grid_run)(dataset, loss, seed, {"batch_size": size}, args.data_dir)
        for dataset, loss, seed, size in tasks
    )
    command = "python benchmarks/batch_size.py " + " ".join(sys.argv[1:])
    text = render(pd.DataFrame(records), command.strip(), about, time.perf_counter() - started)
    atomic_write_text(Path(args.report), stamp(text, Path(__file__)))
    print(text)
    return 0


def grid_run(dataset: str, loss: str, seed: int, params: dict, data_dir: str | None) -> dict:
    """One grid run (``experiments.run_one``) with ``params`` over ``STUDY_PARAMS``, on one
    thread; its CPU seconds are those of its fits (every learning rate's)."""
    config = Config(model_params={**params, "num_threads": 1})
    split = config.load_split(dataset, data_dir)
    start = time.process_time()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        record = run_one(split, loss, seed, config)
    return {
        "dataset": dataset,
        "loss": loss,
        "seed": seed,
        **{name.replace("_", " "): value for name, value in params.items()},
        "val F1": record["val_f1"],
        "test F1": record["f1"],
        "test accuracy": record["accuracy"],
        "CPU s": time.process_time() - start,
        "lr": record["lr"],
        "epochs": len(record["history"]),
    }


def render(frame: pd.DataFrame, command: str, about: str, seconds: float) -> str:
    """The report: per dataset and batch size, then per cell."""
    mean = lambda column: frame.groupby(["dataset", "batch size"])[column].mean()  # noqa: E731
    per_dataset = pd.DataFrame({c: mean(c) for c in ("val F1", "test F1", "CPU s")}).reset_index()
    base = per_dataset[per_dataset["batch size"] == per_dataset["batch size"].min()]
    per_dataset["CPU × smallest"] = [
        row["CPU s"] / base.set_index("dataset").loc[row["dataset"], "CPU s"]
        for _, row in per_dataset.iterrows()
    ]
    overall = per_dataset.groupby("batch size")[["val F1", "test F1"]].mean()
    overall["CPU s (sum of runs)"] = frame.groupby("batch size")["CPU s"].sum()
    noise = statistics.mean(
        frame.groupby(["dataset", "loss", "batch size"])["val F1"].std(ddof=1).dropna()
    )
    cells = frame.groupby(["dataset", "loss", "batch size"])
    per_cell = cells[["val F1", "test F1", "test accuracy", "CPU s"]].mean().reset_index()
    per_cell["lrs chosen"] = cells["lr"].agg(lambda s: ", ".join(f"{v:g}" for v in s)).values
    per_cell["study F1"] = [
        STUDY_TABLE.get((d, loss), (None, None))[1]
        for d, loss in zip(per_cell.dataset, per_cell.loss, strict=True)
    ]
    fmt = lambda df: df.round(4)  # noqa: E731
    return "\n".join(
        [
            "# The study grid's batch size",
            "",
            f"Made by `{command}` on {about}; {seconds:.0f} s.",
            "",
            "Each row averages the grid's runs (every learning rate of "
            f"`{list(Config().lrs)}`, the best by validation F1) over seeds 0..{frame.seed.max()} "
            f"and the losses {', '.join(STUDY_LOSSES)}; `STUDY_PARAMS` otherwise "
            f"({ {k: v for k, v in STUDY_PARAMS.items() if k != 'batch_size'} }). CPU seconds "
            "are those of the run's fits on one thread, with two runs at a time on this machine.",
            "",
            "## Per dataset",
            "",
            to_markdown(fmt(per_dataset)),
            "",
            "## All datasets",
            "",
            to_markdown(fmt(overall.reset_index())),
            "",
            f"Seed noise: the standard deviation of one run's validation F1 across seeds, averaged "
            f"over the cells, is {noise:.4f}.",
            "",
            "## Per cell",
            "",
            to_markdown(fmt(per_cell)),
            "",
        ]
    )


if __name__ == "__main__":
    sys.exit(run_guarded(main, prog="benchmarks/batch_size.py"))
