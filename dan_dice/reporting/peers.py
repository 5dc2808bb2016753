"""The peers table of ``benchmarks/peers.py``: one row per dataset and method."""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from .tables import mean_std

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
