"""The peers table of the peers suite and ``benchmarks/peers.py``: one row per dataset and
method."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from ..files import atomic_write_text
from ..provenance import fingerprint_line
from .tables import mean_std, to_markdown

TABLE_COLUMNS = [
    "dataset", "method", "runs", "accuracy", "f1", "macro_f1",
    "fit_s", "texts_per_s", "size_MB", "chosen",
]  # fmt: skip


def peer_table(records: Sequence[dict]) -> pd.DataFrame:
    """One row per dataset and method: test scores as mean ± std over seeds, the mean fit
    seconds, prediction throughput and model size, and the distinct parameters chosen."""
    frame = pd.DataFrame(list(records))
    rows = []
    for (dataset, method), runs in frame.groupby(["dataset", "method"], sort=False):
        rows.append(
            {
                "dataset": dataset,
                "method": method,
                "runs": len(runs),
                **{metric: mean_std(runs[metric]) for metric in ("accuracy", "f1", "macro_f1")},
                "fit_s": f"{runs['fit_seconds'].mean():.2f}",
                "texts_per_s": f"{runs['texts_per_second'].mean():,.0f}",
                "size_MB": f"{runs['size_bytes'].mean() / 1e6:.3g}",
                "chosen": "; ".join(dict.fromkeys(runs["params"])),
            }
        )
    return pd.DataFrame(rows, columns=TABLE_COLUMNS)


def write_peer_report(
    records: Sequence[dict], out: Path, grids: dict, datasets: Sequence[str]
) -> None:
    """``peers.md`` of the peers suite (:mod:`dan_dice.peer_experiments`): how the methods
    were tuned, their grids (by method, in table order), and the table of :func:`peer_table`,
    rows in the order of ``datasets`` and ``grids`` whatever order the runs finished in."""
    datasets = list(dict.fromkeys([*datasets, *(r["dataset"] for r in records)]))
    methods = list(dict.fromkeys([*grids, *(r["loss"] for r in records)]))
    order = sorted(
        records,
        key=lambda r: (datasets.index(r["dataset"]), methods.index(r["loss"]), r["seed"]),
    )
    runs = [{**r, "method": r["loss"]} for r in order]
    commands = ", ".join(f"`{c}`" for c in dict.fromkeys(r["command"] for r in records))
    quick = any(r["config"]["quick"] for r in records)
    text = "\n".join(
        [
            "# The DAN and its peers",
            "",
            f"Made by {commands}.{' **Quick mode**: small subsets.' if quick else ''}",
            "",
            fingerprint_line(),
            "",
            "Each method fits every candidate of its grid on the training part of the study "
            "grid's fixed 60/20/20 split and keeps the one with the best validation F1 "
            "(positive class); that model is scored once on the test part. Seeded methods run "
            "once per seed (mean ± std), the deterministic TF-IDF models once. `TF-IDF + "
            "LogReg` is balanced and predicts at the threshold on P(positive) with the best "
            "validation F1, the DAN's rule; LinearSVC and fastText keep their own decision "
            "rule. `DAN (defaults)` is `DANClassifier(random_state=seed)`, fit with the "
            "validation part as its `validation_data`. `DAN + TF-IDF (soft vote)` is "
            "scikit-learn's `VotingClassifier(voting='soft')` over that DAN and that LogReg "
            "(both frozen once fit), at the threshold tuned on validation.",
            "",
            "`fit_s`: seconds of the kept model's fit; `texts_per_s`: test texts per second "
            "through `predict` from raw text (median of 3; one process per run, which may "
            "share the CPU with others); `size_MB`: the saved model.",
            "",
            "Grids (both TF-IDF peers: `TfidfVectorizer(sublinear_tf=True)`, words by "
            "scikit-learn's default token pattern or `char_wb` character n-grams):",
            "",
            *(f"- {name}: `{grid_text(grid)}`" for name, grid in grids.items()),
            "",
            to_markdown(peer_table(runs)),
        ]
    )
    atomic_write_text(out / "peers.md", text + "\n")


def grid_text(grid: dict | list[dict]) -> str:
    """A parameter grid in short, without the pipeline prefixes; ``{}`` for none."""
    parts = grid if isinstance(grid, list) else [grid]
    return " | ".join(
        ", ".join(f"{key.rpartition('__')[2]}={values}" for key, values in part.items()) or "{}"
        for part in parts
    )
