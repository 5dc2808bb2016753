"""The matplotlib figures of the report: learning curves and the imbalance sweep, as PNG.

matplotlib is imported inside each function, so the tables and the text of the report never pay
for it. Figures are drawn on :class:`matplotlib.figure.Figure` objects, without pyplot, so no
process-wide backend is switched and no figure is left open.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from ..files import write_atomic
from .tables import sweep_runs

if TYPE_CHECKING:
    from matplotlib.figure import Figure

METRICS = {"accuracy": "accuracy", "f1": "F1", "loss": "loss"}
"""History metric -> axis label; one learning-curve figure each per dataset."""


def plot_learning_curves(records: Sequence[dict], folder: Path) -> list[Path]:
    """One PNG per dataset and metric: train and validation curves of every loss, mean ± std
    over seeds (runs that stopped early simply end sooner). The train curve is the running
    figure of each epoch's mini-batches (:mod:`dan_dice.training`), the validation curve the
    end-of-epoch score."""
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    paths = []
    datasets = dict.fromkeys(r["dataset"] for r in records if "@" not in r["dataset"])
    for dataset in datasets:
        runs = [r for r in records if r["dataset"] == dataset]
        losses = list(dict.fromkeys(r["loss"] for r in runs))
        columns = min(3, len(losses))
        rows = -(-len(losses) // columns)
        for metric, label in METRICS.items():
            fig = Figure(figsize=(4.2 * columns, 3.2 * rows + 0.4))
            axes = fig.subplots(rows, columns, squeeze=False)
            for ax in axes.flat[len(losses) :]:
                ax.set_visible(False)
            for ax, loss in zip(axes.flat, losses, strict=False):
                histories = [r["history"] for r in runs if r["loss"] == loss]
                for split, color in (("train", "tab:blue"), ("val", "tab:orange")):
                    curves = _stack([[e[f"{split}_{metric}"] for e in h] for h in histories])
                    epochs = np.arange(1, curves.shape[1] + 1)
                    mean, std = np.nanmean(curves, 0), np.nanstd(curves, 0)
                    name = (
                        "train (running mean of the epoch's batches)"
                        if split == "train"
                        else "validation"
                    )
                    ax.plot(epochs, mean, color=color, label=name)
                    ax.fill_between(epochs, mean - std, mean + std, color=color, alpha=0.2)
                ax.set_title(f"{loss} loss")
                ax.xaxis.set_major_locator(MaxNLocator(integer=True))
                ax.set_xlabel("epoch")
                ax.grid(alpha=0.3)
            for row in axes:
                row[0].set_ylabel(label)
            axes[0][0].legend()
            fig.suptitle(f"{dataset}: train and validation {label} (mean ± std over seeds)")
            fig.tight_layout()
            path = folder / f"{dataset}_{metric}.png"
            write_atomic(path, _png(fig), overwrite=True, make_parents=True)
            paths.append(path)
    return paths


def plot_sweep(frame: pd.DataFrame, folder: Path) -> Path:
    """Test F1 against the training positive rate, one line per loss, mean ± std."""
    from matplotlib.figure import Figure

    data = sweep_runs(frame)
    fig = Figure(figsize=(7, 4.5))
    ax = fig.subplots()
    for loss, group in data.groupby("loss", sort=False):
        stats = group.groupby("rate")["f1"].agg(["mean", "std"]).sort_index()
        ax.errorbar(stats.index * 100, stats["mean"], yerr=stats["std"].fillna(0), label=loss,
                    marker="o", capsize=3)  # fmt: skip
    ax.set_xscale("log")
    ax.set_xticks(sorted(data["rate"].unique() * 100))
    ax.set_xticklabels([f"{r:.3g} %" for r in sorted(data["rate"].unique() * 100)])
    ax.set_xlabel("positive rate of the training and validation data (log scale)")
    ax.set_ylabel("test F1 (spam)")
    ax.set_title("SMS imbalance sweep: test F1 by loss (mean ± std over seeds, same test set)")
    ax.grid(alpha=0.3)
    ax.legend(ncol=2, fontsize="small")
    fig.tight_layout()
    path = folder / "sweep_f1.png"
    write_atomic(path, _png(fig), overwrite=True, make_parents=True)
    return path


def _png(fig: Figure) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, dpi=110, format="png")
    return buffer.getvalue()


def _stack(curves: list[list[float]]) -> np.ndarray:
    """Curves of unequal length as rows of a NaN-padded matrix."""
    matrix = np.full((len(curves), max(len(c) for c in curves)), np.nan)
    for row, curve in zip(matrix, curves, strict=True):
        row[: len(curve)] = curve
    return matrix
