"""Frozen vs fine-tuned GloVe embeddings: test scores and training time, per dataset and loss.

The fine-tuned arm is the estimator's default, so its runs are those of ``run_experiments.py``
(read from, or added to, the journal in ``--reports``); the frozen arm runs the same grid with
``freeze_embeddings=True``, journaled in ``--out`` so it resumes. Writes ``reports/freeze.md``.
This measurement picked the default (fine-tuned).

    python benchmarks/freeze.py [--data-dir D] [--seeds 3]
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import pandas as pd

from dan_dice.cli import run_guarded
from dan_dice.experiments import Config, run
from dan_dice.reporting import atomic_write_text, to_markdown


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--out", default="reports/freeze", help="journal of the frozen arm")
    parser.add_argument("--reports", default="reports", help="run_experiments.py's output")
    parser.add_argument("--report", default="reports/freeze.md")
    args = parser.parse_args()

    rows = []
    seeds = tuple(range(args.seeds))
    arms = {
        "frozen": (Config(seeds=seeds, model_params={"freeze_embeddings": True}), args.out),
        "fine-tuned": (Config(seeds=seeds), args.reports),
    }
    command = "python benchmarks/freeze.py " + " ".join(sys.argv[1:])
    tuning = dict.fromkeys(arms, 0.0)
    for arm, (config, out) in arms.items():
        for r in run(config, Path(out), args.data_dir, jobs=args.jobs, command=command):
            if (r["dataset"], r["loss"]) in config.cells and r["seed"] in seeds:
                rows.append({"embeddings": arm, **{k: r[k] for k in _COLUMNS}})
                tuning[arm] += r["tuning_seconds"]
    frame = pd.DataFrame(rows)
    table = (
        frame.groupby(["dataset", "loss", "embeddings"], sort=False)
        .agg(
            accuracy=("accuracy", "mean"),
            f1=("f1", "mean"),
            macro_f1=("macro_f1", "mean"),
            majority_share=("majority_share", "mean"),
            seconds_per_fit=("train_seconds", "mean"),
        )
        .round(4)
        .reset_index()
    )
    wins = _fine_tuning_wins(table)
    text = (
        "# Frozen vs fine-tuned GloVe embeddings\n\n"
        f"Made by `{command.strip()}` (training time, learning-rate grid included: frozen "
        f"{tuning['frozen']:.0f} s, fine-tuned {tuning['fine-tuned']:.0f} s): the default "
        f"experiment grid (learning rate tuned on validation), {args.seeds} seeds, means over "
        "seeds; `seconds_per_fit` is one fit at the chosen learning rate, as each run logged "
        "it (the fine-tuned runs are those of `run_experiments.py`, timed in that invocation "
        "under its own machine load, so compare the times only roughly).\n\n"
        f"{to_markdown(table)}\n\n"
        f"Fine-tuning gives the higher mean test F1 in {wins} of {len(table) // 2} "
        "(dataset, loss) cells.\n"
    )
    atomic_write_text(Path(args.report), text)
    print(text)
    return 0


_COLUMNS = (
    "dataset",
    "loss",
    "seed",
    "accuracy",
    "f1",
    "macro_f1",
    "majority_share",
    "train_seconds",
)


def _fine_tuning_wins(table: pd.DataFrame) -> int:
    pivot = table.pivot_table(index=["dataset", "loss"], columns="embeddings", values="f1")
    return int((pivot["fine-tuned"] > pivot["frozen"]).sum())


if __name__ == "__main__":
    sys.exit(run_guarded(main, prog="benchmarks/freeze.py"))
