"""The results tables (markdown and CSV rows) and the run selections every report part shares."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from ..metrics import COLLAPSE_SHARE

STUDY_TABLE = {
    ("sms", "dice"): (0.9677, 0.8676),
    ("sms", "wbce"): (0.9740, 0.8945),
    ("sms", "mse"): (0.9624, 0.8409),
    ("cyberbullying", "dice"): (0.8326, 0.9086),
    ("cyberbullying", "wbce"): (0.8703, 0.9259),
    ("cyberbullying", "mse"): (0.8556, 0.9125),
}
"""Table 1 of the study (test accuracy, positive-class F1)."""

RESULT_COLUMNS = [
    "dataset", "loss", "seed", "lr", "best_epoch", "accuracy", "f1", "macro_f1",
    "precision", "recall",
]  # fmt: skip
EXTRA_COLUMNS = [
    "majority_share", "threshold", "f1_at_0.5", "accuracy_at_0.5", "positive_rate", "n_classes",
]  # fmt: skip
BASELINE_TOLERANCE = 0.002
"""A study cell within this of the majority baseline (accuracy and F1) was a collapsed model."""


def results_frame(records: Sequence[dict]) -> pd.DataFrame:
    """One row per (dataset, loss, seed), with the columns of ``results.csv``."""
    frame = pd.DataFrame(list(records))
    frame["n_classes"] = frame["target_names"].map(len)
    columns = RESULT_COLUMNS + [c for c in EXTRA_COLUMNS if c in frame]
    return frame[columns].sort_values(["dataset", "loss", "seed"], kind="stable")


def binary_runs(frame: pd.DataFrame) -> pd.DataFrame:
    """Runs of the binary tasks on their full data (not the imbalance sweep)."""
    return frame[(frame["n_classes"] == 2) & ~frame["dataset"].str.contains("@")]


def sweep_runs(frame: pd.DataFrame) -> pd.DataFrame:
    """Sweep runs with their positive rate; the full-data runs of the same losses are the
    'as is' point."""
    swept = frame[frame["dataset"].str.contains("@")].copy()
    base_name = swept["dataset"].str.partition("@")[0].iloc[0]
    swept["rate"] = swept["dataset"].str.partition("@")[2].astype(float)
    full = frame[(frame["dataset"] == base_name) & frame["loss"].isin(swept["loss"])].copy()
    full["rate"] = full["positive_rate"]
    return pd.concat([full, swept], ignore_index=True)


def n_collapsed(majority_share: pd.Series) -> int:
    """How many runs predicted (nearly) one class only."""
    return int((majority_share >= COLLAPSE_SHARE).sum())


def mean_std(values: pd.Series, *, lone_std: bool = False) -> str:
    """``mean ± sample std`` to 4 decimals; a single value alone, or with ``± 0.0000`` where
    ``lone_std`` (the study's tables, whose columns line up)."""
    if len(values) == 1 and not lone_std:
        return f"{values.iloc[0]:.4f}"
    return f"{values.mean():.4f} ± {values.std(ddof=1) if len(values) > 1 else 0:.4f}"


def _cell(dataset: str, loss: str, group: pd.DataFrame) -> dict[str, str | int]:
    """The columns every results table starts with."""
    return {
        "dataset": dataset,
        "loss": loss,
        "runs": len(group),
        "accuracy": mean_std(group["accuracy"], lone_std=True),
    }


def _collapsed(group: pd.DataFrame) -> str:
    """The collapsed-run count, flagged when any run collapsed."""
    collapsed = n_collapsed(group["majority_share"])
    return f"⚠ {collapsed}" if collapsed else "0"


def _flagged_f1(group: pd.DataFrame) -> str:
    """Mean ± std F1, followed by the collapse flag when any run collapsed."""
    collapsed = n_collapsed(group["majority_share"])
    return mean_std(group["f1"], lone_std=True) + (f" ⚠ {collapsed}" if collapsed else "")


def to_markdown(table: pd.DataFrame) -> str:
    """A GitHub markdown table (no extra dependency)."""
    header = "| " + " | ".join(table.columns) + " |"
    rule = "|" + "|".join("---" for _ in table.columns) + "|"
    body = ["| " + " | ".join(str(v) for v in row) + " |" for row in table.itertuples(index=False)]
    return "\n".join([header, rule, *body])


def summary_table(frame: pd.DataFrame, baselines: dict[str, dict]) -> pd.DataFrame:
    """Mean ± std per dataset and loss beside the study's Table 1 and the majority baseline."""
    rows = []
    for (dataset, loss), group in frame.groupby(["dataset", "loss"], sort=False):
        study = STUDY_TABLE.get((dataset, loss))
        rows.append(
            {
                **_cell(dataset, loss, group),
                "F1": mean_std(group["f1"], lone_std=True),
                "macro-F1": mean_std(group["macro_f1"], lone_std=True),
                "threshold": mean_std(group["threshold"], lone_std=True),
                "F1 at 0.5": mean_std(group["f1_at_0.5"], lone_std=True),
                "study acc.": f"{study[0]:.4f}" if study else "",
                "study F1": f"{study[1]:.4f}" if study else "",
                "collapsed runs": _collapsed(group),
            }
        )
    for dataset, base in baselines.items():
        if dataset not in set(frame["dataset"]):
            continue
        rows.append(
            {
                "dataset": dataset,
                "loss": "(majority class)",
                "runs": "",
                "accuracy": f"{base['accuracy']:.4f}",
                "F1": f"{base['f1']:.4f}",
                "macro-F1": f"{base['macro_f1']:.4f}",
                "threshold": "",
                "F1 at 0.5": "",
                "study acc.": "",
                "study F1": "",
                "collapsed runs": "",
            }
        )
    table = pd.DataFrame(rows)
    order = {name: i for i, name in enumerate(dict.fromkeys(frame["dataset"]))}
    return table.sort_values("dataset", key=lambda s: s.map(order), kind="stable")


def study_comparison(frame: pd.DataFrame, baselines: dict[str, dict]) -> list[dict]:
    """For each cell of the study's table: our means, whether they reach it, and whether the
    study's own figure is that of a majority-class predictor."""
    cells = []
    for (dataset, loss), (study_acc, study_f1) in STUDY_TABLE.items():
        group = frame[(frame["dataset"] == dataset) & (frame["loss"] == loss)]
        if group.empty:
            continue
        base = baselines.get(dataset, {})
        study_collapsed = (
            abs(study_acc - base.get("accuracy", -1)) <= BASELINE_TOLERANCE
            and abs(study_f1 - base.get("f1", -1)) <= BASELINE_TOLERANCE
        )
        accuracy, f1 = group["accuracy"].mean(), group["f1"].mean()
        cells.append(
            {
                "dataset": dataset,
                "loss": loss,
                "accuracy": accuracy,
                "f1": f1,
                "study_accuracy": study_acc,
                "study_f1": study_f1,
                "reached": accuracy >= study_acc and f1 >= study_f1,
                "study_collapsed": study_collapsed,
            }
        )
    return cells


def multiclass_table(records: Sequence[dict], baselines: dict[str, dict]) -> pd.DataFrame:
    """Accuracy, macro-F1 and the F1 of every class, mean over seeds, per multi-class loss."""
    rows = []
    for (dataset, loss), group in pd.DataFrame(list(records)).groupby(["dataset", "loss"]):
        per_class = np.mean(np.stack(group["per_class_f1"].tolist()), axis=0)
        rows.append(
            {
                **_cell(dataset, loss, group),
                "macro-F1": mean_std(group["macro_f1"], lone_std=True),
                **{
                    f"F1 {name}": f"{f1:.3f}"
                    for name, f1 in zip(group["target_names"].iloc[0], per_class, strict=True)
                },
                "collapsed runs": _collapsed(group),
            }
        )
    table = pd.DataFrame(rows)
    for dataset in table["dataset"].unique():
        base = baselines.get(dataset)
        if base:
            row = {c: "" for c in table.columns}
            row |= {
                "dataset": dataset,
                "loss": "(majority class)",
                "accuracy": f"{base['accuracy']:.4f}",
                "macro-F1": f"{base['macro_f1']:.4f}",
            }
            table = pd.concat([table, pd.DataFrame([row])], ignore_index=True)
    return table


def sweep_table(frame: pd.DataFrame) -> pd.DataFrame:
    """Test F1 (mean ± std over seeds) per loss and training positive rate, same test set."""
    data = sweep_runs(frame)
    cells = data.groupby(["loss", "rate"]).apply(_flagged_f1, include_groups=False)
    table = cells.unstack("rate")
    table = table[sorted(table.columns, reverse=True)]
    table.columns = [f"F1 at {rate:.0%} positives" for rate in table.columns]
    return table.reset_index()
