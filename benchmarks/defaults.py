"""The estimator's measured defaults against their alternatives, on the experiment grid.

Each alternative changes one parameter of the default ``DANClassifier`` and runs the default
grid (both study datasets x dice, wbce, mse; learning rate and threshold tuned on validation),
journaled in ``--out/<parameter>/`` so it resumes. The default arm is the runs of
``run_experiments.py`` (read from, or added to, the journal in ``--reports``). A default is
chosen by validation F1, the only score a user has when choosing; test scores are beside it.
Writes ``reports/defaults.md``.

    python benchmarks/defaults.py [--data-dir D] [--seeds 3]
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import pandas as pd

from dan_dice import DANClassifier
from dan_dice.cli import run_guarded
from dan_dice.datasets import DATASETS
from dan_dice.experiments import Config, load_split, run
from dan_dice.files import atomic_write_text
from dan_dice.reporting import to_markdown
from dan_dice.text import Vocabulary

ALTERNATIVES = {"freeze_embeddings": True, "min_count": 1}
"""Parameter -> the value measured against the default."""

WHY = {
    "freeze_embeddings": "fixed GloVe vectors against vectors fine-tuned with the network",
    "min_count": "every training word in the vocabulary against words seen at least twice "
    "(words seen once are read as the unknown word)",
}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--out", default="reports/defaults", help="journals of the alternatives")
    parser.add_argument("--reports", default="reports", help="run_experiments.py's output")
    parser.add_argument("--report", default="reports/defaults.md")
    args = parser.parse_args()

    seeds = tuple(range(args.seeds))
    command = "python benchmarks/defaults.py " + " ".join(sys.argv[1:])
    default_runs = _runs(Config(seeds=seeds), Path(args.reports), args, command)
    defaults = DANClassifier().get_params()
    sections = []
    for name, value in ALTERNATIVES.items():
        alternative = Config(seeds=seeds, model_params={name: value})
        runs = pd.concat(
            [
                default_runs.assign(arm=f"{name}={defaults[name]} (default)"),
                _runs(alternative, Path(args.out, name), args, command).assign(
                    arm=f"{name}={value}"
                ),
            ]
        )
        sections.append(_section(name, runs))
        if name == "min_count":
            sections.append(_vocabulary_sizes(args.data_dir, (defaults[name], value)))
    text = (
        "# The estimator's defaults, measured\n\n"
        f"Made by `{command.strip()}`: the default experiment grid (learning rate and "
        f"threshold tuned on validation), {args.seeds} seeds, means over seeds. `val F1` is the "
        "validation F1 of the chosen epoch, by which a default is picked; the test columns "
        "are shown beside it. `seconds per fit` is one fit at the chosen learning rate as each "
        "run logged it (the default arm's runs are those of `run_experiments.py`, timed under "
        "that invocation's load: compare times only roughly).\n\n" + "\n".join(sections)
    )
    atomic_write_text(Path(args.report), text)
    print(text)
    return 0


def _runs(config: Config, out: Path, args: argparse.Namespace, command: str) -> pd.DataFrame:
    records = run(config, out, args.data_dir, jobs=args.jobs, command=command)
    frame = pd.DataFrame(records)
    cells = pd.Series(list(zip(frame["dataset"], frame["loss"], strict=True)))
    keep = cells.isin(config.cells).to_numpy() & frame["seed"].isin(config.seeds).to_numpy()
    return frame[keep]


def _vocabulary_sizes(data_dir: str | None, min_counts: tuple[int, int]) -> str:
    """How many words each ``min_count`` keeps from each training split (the model's size)."""
    parts = []
    for dataset in DATASETS:
        texts = load_split(dataset, data_dir, Config()).X_train
        sizes = [len(Vocabulary.build(texts, min_count=n)) for n in min_counts]
        parts.append(
            f"{dataset} {sizes[0]:,} words at `min_count={min_counts[0]}` against "
            f"{sizes[1]:,} at `min_count={min_counts[1]}`"
        )
    return f"Vocabulary of the training split: {'; '.join(parts)}.\n"


def _section(name: str, runs: pd.DataFrame) -> str:
    table = (
        runs.groupby(["dataset", "loss", "arm"], sort=False)
        .agg(
            **{
                "val F1": ("val_f1", "mean"),
                "test accuracy": ("accuracy", "mean"),
                "test F1": ("f1", "mean"),
                "test macro-F1": ("macro_f1", "mean"),
                "seconds per fit": ("train_seconds", "mean"),
            }
        )
        .round(4)
        .reset_index()
    )
    first_seen = lambda s: s.map({v: i for i, v in enumerate(dict.fromkeys(s))})  # noqa: E731
    table = table.sort_values(["dataset", "loss"], key=first_seen, kind="stable")
    marked = table.assign(default=table["arm"].str.endswith("(default)"))
    wins = {}
    for column in ("val F1", "test F1"):
        score = marked.pivot_table(index=["dataset", "loss"], columns="default", values=column)
        wins[column] = int((score[True] > score[False]).sum())
    cells = int(marked["default"].sum())
    return (
        f"## `{name}`: {WHY[name]}\n\n{to_markdown(table)}\n\n"
        f"The default has the higher mean validation F1 in {wins['val F1']} of {cells} "
        f"(dataset, loss) cells, and the higher mean test F1 in {wins['test F1']} of {cells}.\n"
    )


if __name__ == "__main__":
    sys.exit(run_guarded(main, prog="benchmarks/defaults.py"))
