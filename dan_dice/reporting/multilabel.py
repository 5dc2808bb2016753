"""The multi-label suite's report, rendered from the runs of ``multilabel_runs.jsonl``:
``multilabel.md``, ``multilabel_results.csv`` (one row per method and seed),
``multilabel_per_label.csv`` (one row per method and label) and
``figures/multilabel_f1_vs_frequency.png``.

Labels are grouped by training frequency (:func:`dan_dice.metrics.frequency_groups`: head,
medium, tail); the "zero" row counts, per method, the labels it never gets right (test F1 of
0 at every seed). Every statement of the report is computed from the runs, so it stays true
when they change. Files are written atomically.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ..files import atomic_write_text, write_atomic
from ..metrics import frequency_groups
from ..provenance import stamp
from .tables import mean_std, to_markdown

GOAL_MACRO_F1 = 0.44
PUBLISHED = (("a model2vec static-embedding classifier", 0.439), ("fine-tuned BERT", 0.503))
"""Published GoEmotions test macro-F1 the goal is set against."""
GROUPS = ("head", "medium", "tail")
FIGURE = "figures/multilabel_f1_vs_frequency.png"
RESULT_COLUMNS = [
    "method", "loss", "seed", "micro_f1", "macro_f1", "hamming", "subset_accuracy",
    "micro_precision", "micro_recall", "val_macro_f1", "best_epoch", "params", "fit_seconds",
]  # fmt: skip
MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*")


@dataclass(frozen=True)
class SuiteNames:
    """The names the report takes from the suite that made the runs."""

    losses: tuple[str, ...]
    """The DAN's losses, in report order."""
    peer: str
    """The peer's name in the runs' ``loss`` field."""
    journal: str
    """The file name of the suite's journal."""

    def order(self, loss: str) -> tuple:
        """Sort key: the DAN losses in :attr:`losses` order, other losses after them, the
        peer last."""
        known = self.losses.index(loss) if loss in self.losses else len(self.losses)
        return (loss == self.peer, known, loss)


def results_frame(records: Sequence[dict], names: SuiteNames) -> pd.DataFrame:
    """One row per method and seed, with the columns of ``multilabel_results.csv``."""
    frame = pd.DataFrame(list(records)).reindex(columns=RESULT_COLUMNS)
    frame["best_epoch"] = frame["best_epoch"].astype("Int64")  # the peer has none
    key = frame["loss"].map(names.order)
    return frame.assign(_key=key).sort_values(["_key", "seed"]).drop(columns="_key")


def main_table(results: pd.DataFrame) -> pd.DataFrame:
    """Per method: runs, and test micro-F1, macro-F1 and Hamming loss as mean ± std."""
    rows = [
        {
            "method": method,
            "runs": len(runs),
            "micro-F1": mean_std(runs["micro_f1"]),
            "macro-F1": mean_std(runs["macro_f1"]),
            "Hamming loss": mean_std(runs["hamming"]),
        }
        for method, runs in results.groupby("method", sort=False)
    ]
    return pd.DataFrame(rows)


def per_label_frame(records: Sequence[dict], names: SuiteNames) -> pd.DataFrame:
    """One row per method and label: training count, frequency group, and the test F1,
    precision and recall, each the mean over the method's runs (seeds), and its test support."""
    rows = []
    for loss in sorted({r["loss"] for r in records}, key=names.order):
        runs = [r for r in records if r["loss"] == loss]
        counts = np.asarray(runs[0]["train_counts"])
        groups = frequency_groups(counts)
        means = {
            metric: np.mean([r["per_label"][metric] for r in runs], axis=0)
            for metric in ("f1", "precision", "recall")
        }
        support = np.asarray(runs[0]["per_label"]["support"], dtype=int)  # one test set
        for k, label in enumerate(runs[0]["target_names"]):
            rows.append(
                {
                    "method": runs[0]["method"],
                    "loss": loss,
                    "label": label,
                    "train_count": int(counts[k]),
                    "group": str(groups[k]),
                    **{metric: float(value[k]) for metric, value in means.items()},
                    "support": int(support[k]),
                    "runs": len(runs),
                }
            )
    return pd.DataFrame(rows)


def group_table(per_label: pd.DataFrame) -> pd.DataFrame:
    """Per frequency group and method: the group's labels, their mean training count and the
    mean of their test F1, precision and recall; then per method the "zero" row: the labels
    whose test F1 is 0 at every seed, and their mean training count."""
    rows = []
    methods = dict(zip(per_label["method"], per_label["loss"], strict=True))
    for group in GROUPS:
        for method, loss in methods.items():
            part = per_label[(per_label["method"] == method) & (per_label["group"] == group)]
            rows.append(_group_row(group, method, loss, part))
    for method, loss in methods.items():
        part = per_label[(per_label["method"] == method) & (per_label["f1"] == 0)]
        rows.append(_group_row("zero", method, loss, part))
    return pd.DataFrame(rows)


def _group_row(group: str, method: str, loss: str, part: pd.DataFrame) -> dict:
    return {
        "group": group,
        "method": method,
        "loss": loss,
        "labels": len(part),
        "mean_train_count": part["train_count"].mean() if len(part) else np.nan,
        **{m: part[m].mean() if len(part) else np.nan for m in ("f1", "precision", "recall")},
        "names": ", ".join(part["label"]),
    }


def _group_markdown(groups: pd.DataFrame) -> str:
    """The group table as markdown (the label names of the zero rows follow it in the text)."""
    shown = pd.DataFrame(
        {
            "group": groups["group"],
            "labels": groups["labels"],
            "mean training count": groups["mean_train_count"].map(_number),
            "method": groups["method"],
            **{
                name: groups[column].map(lambda v: "–" if pd.isna(v) else f"{v:.4f}")
                for column, name in (("f1", "F1"), ("precision", "precision"), ("recall", "recall"))
            },
        }
    )
    return to_markdown(shown)


def _number(value: float) -> str:
    return "–" if pd.isna(value) else f"{value:,.0f}"


def goal_sentences(macro_f1: dict[str, float], names: SuiteNames) -> list[str]:
    """Whether the best DAN's mean test macro-F1 meets :data:`GOAL_MACRO_F1`, by how much,
    and where it stands against the published figures; ``macro_f1`` maps each loss (and the
    peer, ``names.peer``) to its mean test macro-F1."""
    dan = {loss: value for loss, value in macro_f1.items() if loss != names.peer}
    if not dan:
        return [f"- **Goal macro-F1 ≥ {GOAL_MACRO_F1}**: not checked, no DAN run."]
    best = max(dan, key=dan.get)
    value, margin = dan[best], dan[best] - GOAL_MACRO_F1
    reaching = [loss for loss in sorted(dan, key=names.order) if dan[loss] >= GOAL_MACRO_F1]
    verdict = f"met by {margin:.4f}" if margin >= 0 else f"missed by {-margin:.4f}"
    lines = [
        f"- **Goal macro-F1 ≥ {GOAL_MACRO_F1}: {verdict}.** The best DAN, `{best}`, has a mean "
        f"test macro-F1 of {value:.4f}; {len(reaching)} of {len(dan)} DAN losses reach the goal"
        + (f" ({', '.join(f'`{loss}`' for loss in reaching)})." if reaching else ".")
    ]
    published = "; ".join(
        f"{abs(value - score):.4f} {'above' if value >= score else 'below'} {name} ({score:.3f})"
        for name, score in PUBLISHED
    )
    lines.append(f"- **Against published results**: the best DAN is {published}.")
    if names.peer in macro_f1:
        peer = macro_f1[names.peer]
        side = "above" if peer >= value else "below"
        lines.append(
            f"- **The TF-IDF peer** scores {peer:.4f} ({peer - GOAL_MACRO_F1:+.4f} against the "
            f"goal), {abs(peer - value):.4f} {side} the best DAN."
        )
    return lines


def tail_sentence(tail_f1: dict[str, float]) -> str:
    """Which of ``distribution_balanced`` and ``ce`` has the higher mean test F1 on the tail
    group, and by how much; ``tail_f1`` maps each loss to its tail-group F1."""
    missing = [loss for loss in ("distribution_balanced", "ce") if loss not in tail_f1]
    if missing:
        return (
            f"- **Tail group, distribution_balanced vs ce**: not compared ({missing[0]} missing)."
        )
    balanced, plain = tail_f1["distribution_balanced"], tail_f1["ce"]
    diff = balanced - plain
    if round(diff, 4) == 0:
        return f"- **Tail group: distribution_balanced and ce tie** at F1 {plain:.4f}."
    winner, loser = ("distribution_balanced", "ce") if diff > 0 else ("ce", "distribution_balanced")
    relative = f", {abs(diff) / min(balanced, plain):.0%} more" if min(balanced, plain) > 0 else ""
    return (
        f"- **Tail group: {winner} wins** over {loser}: mean label F1 "
        f"{max(balanced, plain):.4f} vs {min(balanced, plain):.4f} (+{abs(diff):.4f}{relative})."
    )


def plot_f1_vs_frequency(per_label: pd.DataFrame, path: Path, annotate: int = 3) -> Path:
    """Per-label test F1 against training count (log scale), one marker style per method; the
    ``annotate`` rarest labels and the two most frequent are named."""
    from matplotlib.figure import Figure  # imported when drawn: matplotlib is slow to import

    fig = Figure(figsize=(8, 5))
    ax = fig.subplots()
    for i, (method, part) in enumerate(per_label.groupby("method", sort=False)):
        ax.scatter(part["train_count"], part["f1"], label=method, alpha=0.75, s=28,
                   marker=MARKERS[i % len(MARKERS)])  # fmt: skip
    labels = per_label.groupby("label").agg(count=("train_count", "first"), f1=("f1", "max"))
    labels = labels.sort_values(["count", "f1"])
    named: list[float] = []
    for name, row in pd.concat([labels.head(annotate), labels.tail(2)]).iterrows():
        near = sum(
            abs(np.log((row["count"] + 1) / (count + 1))) < 0.15 for count in named
        )  # stack them
        ax.annotate(name, (row["count"], row["f1"]), textcoords="offset points",
                    xytext=(4, 5 + 11 * near), fontsize="small")  # fmt: skip
        named.append(row["count"])
    ax.set_xscale("log")
    ax.set_xlabel("training texts with the label (log scale)")
    ax.set_ylabel("test F1 of the label (mean over seeds)")
    ax.set_title("GoEmotions: per-label test F1 against training frequency")
    ax.grid(alpha=0.3)
    ax.legend(fontsize="small")
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, dpi=110, format="png")
    return write_atomic(path, buffer.getvalue(), overwrite=True, make_parents=True)


def render_report(
    records: Sequence[dict],
    results: pd.DataFrame,
    groups: pd.DataFrame,
    names: SuiteNames,
    estimator_params: dict,
) -> str:
    """``multilabel.md``: setup, commands, the main table, the group table, the goal check
    and the tail comparison; ``estimator_params`` are the parameters of ``DANClassifier()``,
    which the suite trains with its ``model_params`` on top."""
    config = records[0]["config"]
    defaults = {**estimator_params, **config["model_params"]}
    epochs = config["epochs"] if config["epochs"] is not None else defaults["max_epochs"]
    overrides = f" and {config['model_params']}" if config["model_params"] else ""
    network = (
        f"{defaults['pooling']} pooling, hidden layers {tuple(defaults['hidden_sizes'])}, "
        f"embeddings `{defaults['embeddings']}`, lr {defaults['lr']:g}"
    )
    sizes = records[0]["sizes"]
    losses = sorted({r["loss"] for r in records if r["loss"] != names.peer}, key=names.order)
    seeds = sorted({r["seed"] for r in records if r["loss"] != names.peer})
    commands = pd.Series([r["command"] for r in records]).value_counts(sort=False)
    macro = results.groupby("loss")["macro_f1"].mean().to_dict()
    tail = groups[groups["group"] == "tail"].set_index("loss")["f1"].to_dict()
    zero = groups[(groups["group"] == "zero") & (groups["labels"] > 0)]
    lines = [
        "# GoEmotions multi-label: the DAN's losses and a TF-IDF peer",
        "",
        "## Setup",
        "",
        f"- **Data**: GoEmotions in its authors' split, {sizes['train']:,} training, "
        f"{sizes['dev']:,} dev and {sizes['test']:,} test texts, "
        f"{len(records[0]['target_names'])} labels."
        + (" **Quick mode**: small subsets, for smoke tests only." if config["quick"] else ""),
        f"- **DAN**: `DANClassifier` with its defaults{overrides} ({network}) and "
        f"`max_epochs={epochs}`; trained on train, validated on dev "
        '(best epoch by dev macro-F1; `threshold="tune"`: each label\'s F1-best threshold on '
        f"dev). Losses: {', '.join(f'`{loss}`' for loss in losses)} (`ce` is binary "
        f"cross-entropy per label); seeds {seeds}.",
        "- **Peer**: TF-IDF (the DAN's tokenizer) + one-vs-rest `LogisticRegression("
        'class_weight="balanced")`, C from '
        f"{{{', '.join(f'{c:g}' for c in config['peer_C'])}}} by dev macro-F1, per-label "
        "thresholds tuned on dev like the DAN's; deterministic, so it runs once.",
        "- **Commands**: "
        + "; ".join(f"`{command}` ({n} runs)" for command, n in commands.items())
        + f". Code {config['code']}, torch {config['torch']}, numpy {config['numpy']}, "
        f"Python {config['python']}.",
        "",
        "## Test results (mean ± std over seeds)",
        "",
        to_markdown(main_table(results)),
        "",
        f"`multilabel_results.csv` has one row per method and seed, `multilabel_per_label.csv` "
        f"one per method and label; `{names.journal}` keeps every run in full.",
        "",
        "## Labels by training frequency",
        "",
        "Labels ranked by their training count and cut into head, medium and tail groups; each "
        "group's F1, precision and recall are the means over its labels (each label's scores "
        "averaged over seeds first). The zero rows count, per method, the labels whose test F1 "
        "is 0 at every seed (they also count in their frequency group).",
        "",
        _group_markdown(groups),
        "",
        *(f"- **Never right, {row.method}**: {row.names}." for row in zero.itertuples(index=False)),
        *(["- **Every method gets every label right at least once.**"] if zero.empty else []),
        "",
        "## Goal and tail",
        "",
        *goal_sentences(macro, names),
        tail_sentence(tail),
        "",
        "## Per-label F1 against training frequency",
        "",
        f"![per-label F1 against training frequency]({FIGURE})",
    ]
    return "\n".join(lines) + "\n"


def write_multilabel_reports(
    records: Sequence[dict], out: Path, names: SuiteNames, estimator_params: dict
) -> None:
    """Write ``multilabel_results.csv``, ``multilabel_per_label.csv``, the figure and
    ``multilabel.md`` into ``out``, each atomically (``names`` and ``estimator_params`` as
    :func:`render_report` takes them)."""
    if not records:
        raise ValueError("no multi-label run to report")
    results = results_frame(records, names)
    per_label = per_label_frame(records, names)
    groups = group_table(per_label)
    atomic_write_text(out / "multilabel_results.csv", results.to_csv(index=False))
    atomic_write_text(out / "multilabel_per_label.csv", per_label.to_csv(index=False))
    plot_f1_vs_frequency(per_label, out / FIGURE)
    report = render_report(records, results, groups, names, estimator_params)
    atomic_write_text(out / "multilabel.md", stamp(report))
