"""Tables, learning-curve figures and the written report, from the experiment journal.

Every file is written to a temporary name in the same folder and renamed into place, so a
crash or a kill never leaves a half-written report behind.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from .files import atomic_write_text, write_atomic
from .metrics import COLLAPSE_SHARE

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
    "precision", "recall", "train_seconds",
]  # fmt: skip
EXTRA_COLUMNS = [
    "majority_share", "threshold", "f1_at_0.5", "accuracy_at_0.5", "positive_rate", "n_classes",
]  # fmt: skip
METRICS = {"accuracy": "accuracy", "f1": "F1", "loss": "loss"}
BASELINE_TOLERANCE = 0.002
"""A study cell within this of the majority baseline (accuracy and F1) was a collapsed model."""


def results_frame(records: Sequence[dict]) -> pd.DataFrame:
    """One row per (dataset, loss, seed), with the columns of ``results.csv``."""
    frame = pd.DataFrame(list(records))
    frame["n_classes"] = frame["target_names"].map(len)
    columns = RESULT_COLUMNS + [c for c in EXTRA_COLUMNS if c in frame]
    return frame[columns].sort_values(["dataset", "loss", "seed"], kind="stable")


def _mean_std(values: pd.Series) -> str:
    return f"{values.mean():.4f} ± {values.std(ddof=1) if len(values) > 1 else 0:.4f}"


def _cell(dataset: str, loss: str, group: pd.DataFrame) -> dict[str, str | int]:
    """The columns every results table starts with."""
    return {
        "dataset": dataset,
        "loss": loss,
        "runs": len(group),
        "accuracy": _mean_std(group["accuracy"]),
    }


def _n_collapsed(majority_share: pd.Series) -> int:
    """How many runs predicted (nearly) one class only."""
    return int((majority_share >= COLLAPSE_SHARE).sum())


def _collapsed(group: pd.DataFrame) -> str:
    """The collapsed-run count, flagged when any run collapsed."""
    collapsed = _n_collapsed(group["majority_share"])
    return f"⚠ {collapsed}" if collapsed else "0"


def _flagged_f1(group: pd.DataFrame) -> str:
    """Mean ± std F1, followed by the collapse flag when any run collapsed."""
    collapsed = _n_collapsed(group["majority_share"])
    return _mean_std(group["f1"]) + (f" ⚠ {collapsed}" if collapsed else "")


def summary_table(frame: pd.DataFrame, baselines: dict[str, dict]) -> pd.DataFrame:
    """Mean ± std per dataset and loss beside the study's Table 1 and the majority baseline."""
    rows = []
    for (dataset, loss), group in frame.groupby(["dataset", "loss"], sort=False):
        study = STUDY_TABLE.get((dataset, loss))
        rows.append(
            {
                **_cell(dataset, loss, group),
                "F1": _mean_std(group["f1"]),
                "macro-F1": _mean_std(group["macro_f1"]),
                "threshold": _mean_std(group["threshold"]),
                "F1 at 0.5": _mean_std(group["f1_at_0.5"]),
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


def to_markdown(table: pd.DataFrame) -> str:
    """A GitHub markdown table (no extra dependency)."""
    header = "| " + " | ".join(table.columns) + " |"
    rule = "|" + "|".join("---" for _ in table.columns) + "|"
    body = ["| " + " | ".join(str(v) for v in row) + " |" for row in table.itertuples(index=False)]
    return "\n".join([header, rule, *body])


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


def plot_learning_curves(records: Sequence[dict], folder: Path) -> list[Path]:
    """One PNG per dataset and metric: train and validation curves of every loss, mean ± std
    over seeds (runs that stopped early simply end sooner)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    paths = []
    datasets = dict.fromkeys(r["dataset"] for r in records if "@" not in r["dataset"])
    for dataset in datasets:
        runs = [r for r in records if r["dataset"] == dataset]
        losses = list(dict.fromkeys(r["loss"] for r in runs))
        columns = min(3, len(losses))
        rows = -(-len(losses) // columns)
        for metric, label in METRICS.items():
            fig, axes = plt.subplots(
                rows, columns, figsize=(4.2 * columns, 3.2 * rows + 0.4), squeeze=False
            )
            for ax in axes.flat[len(losses) :]:
                ax.set_visible(False)
            for ax, loss in zip(axes.flat, losses, strict=False):
                histories = [r["history"] for r in runs if r["loss"] == loss]
                for split, color in (("train", "tab:blue"), ("val", "tab:orange")):
                    curves = _stack([[e[f"{split}_{metric}"] for e in h] for h in histories])
                    epochs = np.arange(1, curves.shape[1] + 1)
                    mean, std = np.nanmean(curves, 0), np.nanstd(curves, 0)
                    name = "train" if split == "train" else "validation"
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
            plt.close(fig)
            paths.append(path)
    return paths


def _png(fig) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, dpi=110, format="png")
    return buffer.getvalue()


def _stack(curves: list[list[float]]) -> np.ndarray:
    """Curves of unequal length as rows of a NaN-padded matrix."""
    matrix = np.full((len(curves), max(len(c) for c in curves)), np.nan)
    for row, curve in zip(matrix, curves, strict=True):
        row[: len(curve)] = curve
    return matrix


def write_reports(
    records: Sequence[dict],
    out: Path,
    *,
    baselines: dict[str, dict],
    invocations: list[dict],
    environment: dict[str, str],
) -> None:
    """Write ``results.csv``, ``summary.md``, ``figures/*.png`` and ``REPORT.md`` into ``out``."""
    frame = results_frame(records)
    tables = {"binary": to_markdown(summary_table(_binary(frame), baselines))}
    multiclass = [r for r in records if len(r["target_names"]) > 2]
    if multiclass:
        tables["multiclass"] = to_markdown(multiclass_table(multiclass, baselines))
    figures = plot_learning_curves(records, out / "figures")
    if frame["dataset"].str.contains("@").any():
        tables["sweep"] = to_markdown(sweep_table(frame))
        plot_sweep(frame, out / "figures")
    atomic_write_text(out / "results.csv", frame.to_csv(index=False))
    atomic_write_text(out / "summary.md", _summary_page(tables))
    report = render_report(
        frame=frame,
        tables=tables,
        comparison=study_comparison(frame, baselines),
        figures=[p.relative_to(out) for p in figures],
        invocations=invocations,
        environment=environment,
        records=records,
    )
    atomic_write_text(out / "REPORT.md", report)


def _binary(frame: pd.DataFrame) -> pd.DataFrame:
    """Runs of the binary tasks on their full data (not the imbalance sweep)."""
    return frame[(frame["n_classes"] == 2) & ~frame["dataset"].str.contains("@")]


def multiclass_table(records: Sequence[dict], baselines: dict[str, dict]) -> pd.DataFrame:
    """Accuracy, macro-F1 and the F1 of every class, mean over seeds, per multi-class loss."""
    rows = []
    for (dataset, loss), group in pd.DataFrame(list(records)).groupby(["dataset", "loss"]):
        per_class = np.mean(np.stack(group["per_class_f1"].tolist()), axis=0)
        rows.append(
            {
                **_cell(dataset, loss, group),
                "macro-F1": _mean_std(group["macro_f1"]),
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
    data = _sweep_frame(frame)
    cells = data.groupby(["loss", "rate"]).apply(_flagged_f1, include_groups=False)
    table = cells.unstack("rate")
    table = table[sorted(table.columns, reverse=True)]
    table.columns = [f"F1 at {rate:.0%} positives" for rate in table.columns]
    return table.reset_index()


def _sweep_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """Sweep runs with their positive rate; the full-data runs of the same losses are the
    'as is' point."""
    swept = frame[frame["dataset"].str.contains("@")].copy()
    base_name = swept["dataset"].str.partition("@")[0].iloc[0]
    swept["rate"] = swept["dataset"].str.partition("@")[2].astype(float)
    full = frame[(frame["dataset"] == base_name) & frame["loss"].isin(swept["loss"])].copy()
    full["rate"] = full["positive_rate"]
    return pd.concat([full, swept], ignore_index=True)


def plot_sweep(frame: pd.DataFrame, folder: Path) -> Path:
    """Test F1 against the training positive rate, one line per loss, mean ± std."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    data = _sweep_frame(frame)
    fig, ax = plt.subplots(figsize=(7, 4.5))
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
    plt.close(fig)
    return path


def _summary_page(tables: dict[str, str]) -> str:
    text = (
        "# Test-set results: mean ± std over seeds\n\n"
        "Rendered from every run in `runs.jsonl` (the commands that made them are listed in "
        "`REPORT.md`). F1, precision and recall are "
        "those of the positive class (spam, bullying); a run is flagged collapsed when at least "
        f"{COLLAPSE_SHARE:.0%} of its test predictions fall in one class. The majority-class "
        "rows score always predicting the training set's most common class.\n\n"
        f"## Binary tasks\n\n{tables['binary']}\n"
    )
    if "multiclass" in tables:
        text += f"\n## Six-class cyberbullying\n\n{tables['multiclass']}\n"
    if "sweep" in tables:
        text += (
            "\n## Imbalance sweep (SMS)\n\nPositives of the training and validation splits "
            "subsampled to each rate; the test split is the same for every rate.\n\n"
            f"{tables['sweep']}\n"
        )
    return text


def render_report(
    *,
    frame: pd.DataFrame,
    tables: dict[str, str],
    comparison: list[dict],
    figures: Sequence[Path],
    invocations: Sequence[dict],
    environment: dict[str, str],
    records: Sequence[dict],
) -> str:
    """``REPORT.md``: setup, environment, command, results, figures and a discussion."""
    from .estimator import DANClassifier

    params = DANClassifier().get_params()
    config = records[0]["config"] if records else {}
    model_params = {**params, **config.get("model_params", {})}
    seeds = sorted({r["seed"] for r in records})
    compute = sum(r["tuning_seconds"] for r in records)
    env = ", ".join(f"{k} {v}" for k, v in environment.items())
    lines = [
        "# Reproducing the Dice-loss DAN study",
        "",
        "Kim (Purdue), *Lightweight Deep Neural Network for Imbalanced Binary Dataset "
        "Classification with Dice-Loss in NLP*: a 3-layer Deep Averaging Network on GloVe, "
        "trained with Dice, weighted BCE and MSE losses on SMS Spam and on Cyberbullying "
        "(binarised). Every figure below was produced by the commands in the next section.",
        "",
        "## Commands, time and environment",
        "",
        "| command | runs added | wall time | parallel jobs | date |",
        "|---|---|---|---|---|",
        *(
            f"| `{i['command']}` | {i['runs_added']} | {i['wall_seconds']:.0f} s | {i['jobs']} "
            f"| {i['date']} |"
            for i in invocations
        ),
        "",
        f"Training time summed over all {len(records)} runs (learning-rate grid included): "
        f"{compute:.0f} s. Environment: {env}.",
        "",
        "## Setup",
        "",
        "- **Split**: stratified 60/20/20 train/validation/test, the same split "
        f"(seed {config.get('split_seed', 0)}) for every loss and seed, so runs are compared "
        "on one test set; seeds vary initialisation, batch order and dropout."
        + (" **Quick mode**: small subsets, for smoke tests only." if config.get("quick") else ""),
        "- **Text**: lower-cased GloVe-style tokens; the vocabulary is the training split's "
        f"words seen at least {model_params['min_count']} times; the others are read as one "
        "unknown word. Words without a GloVe vector, and the unknown word, start from the mean "
        "of all GloVe vectors (the study's choice).",
        f"- **Model**: embeddings `{model_params['embeddings']}` "
        f"({'frozen' if model_params['freeze_embeddings'] else 'fine-tuned'}), mean of word "
        f"vectors with word dropout {model_params['word_dropout']}, hidden layers "
        f"{tuple(model_params['hidden_sizes'])} with ReLU and dropout {model_params['dropout']}, "
        "one output logit.",
        f"- **Training**: Adam, batch {model_params['batch_size']}, at most "
        f"{config.get('epochs')} epochs, early stopping after {model_params['patience']} epochs "
        "without a better validation F1; the best epoch is restored. The learning rate is "
        f"picked per run from {list(config.get('lrs', []))} by validation F1.",
        "- **Decision threshold**: "
        + (
            "tuned on validation with the other hyper-parameters (`--threshold tune`): at "
            "every epoch the threshold on P(positive) with the best validation F1 is found, "
            "and that F1 picks the epoch and the learning rate. The study tunes its "
            "hyper-parameters on validation without naming them; the threshold matters most "
            "for the class-weighted loss (see the discussion). The `F1 at 0.5` column scores "
            "the same models at 0.5; `--threshold 0.5` fixes it instead."
            if config.get("threshold") == "tune"
            else f"fixed at {config.get('threshold')} (`--threshold`)."
        ),
        f"- **Seeds**: {seeds}; tables give mean ± sample std over seeds.",
        "",
        "## Results (test set)",
        "",
        tables["binary"],
        "",
        "`results.csv` has one row per dataset, loss and seed; `runs.jsonl` also keeps each "
        "run's per-epoch history and the validation F1 of every learning rate tried.",
        "",
        "## Against the study's Table 1",
        "",
        "| dataset | loss | our accuracy | study | our F1 | study | reached | study model |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for c in comparison:
        lines.append(
            f"| {c['dataset']} | {c['loss']} | {c['accuracy']:.4f} | {c['study_accuracy']:.4f} "
            f"| {c['f1']:.4f} | {c['study_f1']:.4f} | {'yes' if c['reached'] else 'no'} | "
            f"{'majority-class predictor' if c['study_collapsed'] else 'learned'} |"
        )
    lines += ["", "## Learning curves", ""]
    lines += [f"![{p.stem}]({p.as_posix()})" for p in figures]
    lines += [
        "",
        "## Discussion of the study's table",
        "",
        *_discussion(_binary(frame), comparison, tuned=config.get("threshold") == "tune"),
    ]
    if "multiclass" in tables:
        lines += ["", "## Six-class cyberbullying (the study's future work)", ""]
        lines += [tables["multiclass"], "", *_multiclass_discussion(records)]
    if "sweep" in tables:
        lines += ["", "## Imbalance sweep on SMS", "", tables["sweep"], ""]
        lines += ["![sweep_f1](figures/sweep_f1.png)", "", *_sweep_discussion(frame)]
    lines += ["", "## All losses compared", "", *_losses_discussion(frame)]
    return "\n".join(lines) + "\n"


def _discussion(frame: pd.DataFrame, comparison: list[dict], tuned: bool) -> list[str]:
    """Statements computed from the results, each with the reason behind it (``tuned``: the
    threshold was tuned on validation)."""
    out = []
    reached = [c for c in comparison if c["reached"]]
    missed = [c for c in comparison if not c["reached"]]
    out.append(
        f"- **Study cells reached** (mean accuracy and mean F1 both at least the study's): "
        f"{len(reached)} of {len(comparison)}"
        + (": " + ", ".join(f"{c['dataset']}/{c['loss']}" for c in reached) if reached else "")
        + "."
    )
    for c in missed:
        why = ""
        if c["study_collapsed"]:
            why = (
                " The study's figure here is that of a majority-class predictor (it equals the "
                "score of predicting the positive class for every text), which a model that "
                "learns trades away: it wins macro-F1 and loses a little positive-class F1."
            )
        out.append(
            f"- **Not reached: {c['dataset']}/{c['loss']}**: accuracy {c['accuracy']:.4f} "
            f"vs {c['study_accuracy']:.4f}, F1 {c['f1']:.4f} vs {c['study_f1']:.4f}.{why}"
        )
    for c in comparison:
        if c["study_collapsed"]:
            out.append(
                f"- **The study's {c['dataset']}/{c['loss']} row is a collapsed model**: its "
                f"accuracy {c['study_accuracy']:.4f} and F1 {c['study_f1']:.4f} are within "
                f"{BASELINE_TOLERANCE} of always predicting the majority class (the "
                "'(majority class)' row). The study itself notes that Dice collapses to the "
                "majority class under a bad learning rate; choosing the epoch and learning "
                "rate by validation F1 over several seeds does not remove that risk, so "
                "the table flags collapsed runs."
            )
    collapsed = frame[frame["majority_share"] >= COLLAPSE_SHARE]
    if len(collapsed):
        pairs = zip(collapsed.dataset, collapsed.loss, strict=True)
        cells = ", ".join(sorted({f"{dataset}/{loss}" for dataset, loss in pairs}))
        out.append(
            f"- **Collapsed runs here**: {len(collapsed)} (in {cells}): their test predictions "
            f"are at least {COLLAPSE_SHARE:.0%} one class. Positive-class F1 rewards this on "
            "cyberbullying, where the positive class is 83 % of the data; macro-F1 exposes it."
        )
    else:
        out.append("- **No run collapsed** to a single predicted class on the test set.")
    for dataset, group in frame.groupby("dataset", sort=False):
        means = group.groupby("loss")["f1"].mean().sort_values(ascending=False)
        ranking = " > ".join(f"{loss} ({f1:.4f})" for loss, f1 in means.items())
        out.append(f"- **{dataset}, losses by mean test F1**: {ranking}.")
        if tuned:
            per_loss = group.groupby("loss")[["threshold", "f1", "f1_at_0.5"]].mean()
            cells = "; ".join(
                f"`{loss}` {r['threshold']:.2f} (F1 {r['f1']:.4f}, at 0.5 {r['f1_at_0.5']:.4f})"
                for loss, r in per_loss.iterrows()
            )
            out.append(f"- **{dataset}, mean tuned threshold** by loss: {cells}.")
    out += _class_weight_note(frame, tuned)
    spread = frame.groupby(["dataset", "loss"])["f1"].std()
    out.append(
        "- **Why the figures differ from the study's**: the study reports one run per cell, "
        "with its split, tokenizer, layer sizes, learning rate and embedding training unstated. "
        f"Here each cell is a mean over {frame['seed'].nunique()} seeds on one fixed stratified "
        f"split (the F1 standard deviation over seeds is {spread.min():.4f} to "
        f"{spread.max():.4f}), the epoch is chosen by validation F1, the learning rate from a "
        "grid"
        + (", the decision threshold is tuned on validation" if tuned else "")
        + ", and the vocabulary's minimum count and the embedding training are defaults "
        "chosen on validation (`reports/defaults.md`)."
    )
    return out


def _class_weight_note(frame: pd.DataFrame, tuned: bool) -> list[str]:
    """What balanced class weights do where the positive class is the majority."""
    out = []
    for dataset, group in frame[frame["loss"] == "wbce"].groupby("dataset", sort=False):
        rate = group["positive_rate"].mean()
        if rate <= 0.5:
            continue
        text = (
            f"- **{dataset}/wbce, class weights**: the positive class is the majority "
            f"({rate:.0%} of the training texts), so the balanced weights N / (2·N_c) "
            f"({1 / (2 * (1 - rate)):.2f} for a negative, {1 / (2 * rate):.2f} for a positive) "
            "favour the *negatives*, as the study's text asks (more weight to the minority "
            "class). The model learns odds scaled by the weight ratio, so its probabilities "
            "sit lower and 0.5 is no longer the F1-optimal threshold"
        )
        if tuned:
            text += (
                f": the tuned threshold is {group['threshold'].mean():.2f} on average, and "
                f"scoring the same models at 0.5 gives F1 {group['f1_at_0.5'].mean():.4f} and "
                f"accuracy {group['accuracy_at_0.5'].mean():.4f} instead of "
                f"{group['f1'].mean():.4f} and {group['accuracy'].mean():.4f}."
            )
        else:
            text += "; `--threshold tune` tunes it on validation."
        out.append(text)
    return out


DICE_FAMILY = ("dice", "dsc", "tversky", "dice_bce")
"""Dice-type losses averaged together (``dsc_published``, a known collapse, is discussed apart)."""
CROSS_ENTROPY_FAMILY = ("bce", "wbce", "focal")


def _losses_discussion(frame: pd.DataFrame) -> list[str]:
    """Which losses win where, computed from the binary runs (and the sweep, if run)."""
    binary = _binary(frame)
    out = []
    for dataset, group in binary.groupby("dataset", sort=False):
        means = group.groupby("loss")[["f1", "macro_f1"]].mean()
        collapsed = group.groupby("loss")["majority_share"].apply(_n_collapsed)
        best_f1, best_macro = means["f1"].idxmax(), means["macro_f1"].idxmax()
        out.append(
            f"- **{dataset}**: best mean F1 {means.loc[best_f1, 'f1']:.4f} with `{best_f1}`, "
            f"best macro-F1 {means.loc[best_macro, 'macro_f1']:.4f} with `{best_macro}`."
        )
        dice = means[means.index.isin(DICE_FAMILY)]
        ce = means[means.index.isin(CROSS_ENTROPY_FAMILY)]
        if len(dice) and len(ce):
            out.append(
                f"  Dice family ({', '.join(dice.index)}) mean F1 {dice['f1'].mean():.4f}, "
                f"macro-F1 {dice['macro_f1'].mean():.4f}; cross-entropy family "
                f"({', '.join(ce.index)}) {ce['f1'].mean():.4f} and {ce['macro_f1'].mean():.4f}."
            )
        flagged = collapsed[collapsed > 0]
        if len(flagged):
            runs = ", ".join(
                f"`{loss}` {n}/{(group.loss == loss).sum()}" for loss, n in flagged.items()
            )
            out.append(f"  Collapsed runs: {runs}.")
    if "dsc_published" in set(binary["loss"]):
        published = binary[binary["loss"] == "dsc_published"]
        out.append(
            "- **Li et al.'s self-adjusting DSC as published** (`dsc_published`) leaves "
            "confident false positives unpenalised (for a negative its loss (1−p)^α·p/(…+γ) is 0 "
            "at p = 1 as at p = 0); here it collapsed in "
            f"{_n_collapsed(published['majority_share'])} of {len(published)} "
            "runs. `dsc` moves the factor outside the ratio, (1−p_t)^α·(1 − DSC_t), which is "
            "monotone in the probability of the true class."
        )
    if frame["dataset"].str.contains("@").any():
        out += _sweep_gaps(frame)
    return out or ["- Only the study's losses were run: `--family` adds the others."]


def _sweep_gaps(frame: pd.DataFrame) -> list[str]:
    data = _sweep_frame(frame)
    means = data.groupby(["rate", "loss"])["f1"].mean().unstack()
    out = []
    for rate, row in means.sort_index(ascending=False).iterrows():
        out.append(f"- **{rate:.1%} positives**: best `{row.idxmax()}` ({row.max():.4f}), "
                   f"worst `{row.idxmin()}` ({row.min():.4f}).")  # fmt: skip
    if {"dice", "bce"} <= set(means.columns):
        gaps = (means["dice"] - means["bce"]).sort_index(ascending=False)
        trend = ", ".join(f"{rate:.1%}: {gap:+.4f}" for rate, gap in gaps.items())
        out.append(f"- **Dice minus BCE test F1** by positive rate: {trend}.")
    return out


def _sweep_discussion(frame: pd.DataFrame) -> list[str]:
    """How each loss holds up as positives get rarer, and which ones collapse."""
    data = _sweep_frame(frame)
    rates = sorted(data["rate"].unique(), reverse=True)
    measured = data.groupby("rate")["positive_rate"].mean().sort_index(ascending=False)
    f1 = data.groupby(["loss", "rate"])["f1"].mean().unstack()
    share = data.groupby(["loss", "rate"])["majority_share"]
    collapsed = share.apply(_n_collapsed).unstack()
    changes = ", ".join(
        f"`{loss}` {row[rates[0]]:.3f} → {row[rates[-1]]:.3f}"
        for loss, row in f1.sort_values(rates[-1], ascending=False).iterrows()
    )
    out = [
        f"Measured training positive rates: {', '.join(f'{r:.1%}' for r in measured)}. Test F1 "
        f"from the data as it is to {rates[-1]:.0%} positives: {changes}. ⚠ n: n runs of that "
        "cell predicted (nearly) one class only."
    ]
    for rate in rates:
        losses = [loss for loss in collapsed.index if collapsed.loc[loss, rate] > 0]
        if losses:
            out.append(
                f"At {rate:.0%} positives, runs collapsed with: "
                + ", ".join(f"`{loss}`" for loss in losses)
                + "."
            )
    last = rates[-1]
    failed = [loss for loss in f1.index if f1.loc[loss, last] < f1.loc[loss, rates[0]] / 2]
    best = f1[last].sort_values(ascending=False).head(3)
    text = (
        "Losses computed on the probability (soft Dice, Tversky, the self-adjusting DSC, "
        "squared error) get almost no gradient from a confidently missed positive (σ'(z) → 0), "
        "where a log term keeps one of about p − y. "
        + (
            f"{', '.join(f'`{loss}`' for loss in failed)} lost more than half their F1 by "
            f"{last:.0%} positives; "
            if failed
            else ""
        )
        + f"the best at {last:.0%} were "
        + ", ".join(f"`{loss}` ({value:.3f})" for loss, value in best.items())
        + "."
    )
    at_half = data[data["rate"] == last].groupby("loss")["f1_at_0.5"].mean()
    gains = (f1[last] - at_half).sort_values(ascending=False)
    helped = [loss for loss, gain in gains.items() if gain > 0.1]
    if helped:
        text += (
            " The threshold tuned on validation matters most there (F1 at 0.5 → tuned): "
            + ", ".join(
                f"`{loss}` {at_half[loss]:.3f} → {f1.loc[loss, last]:.3f}" for loss in helped
            )
            + ": the rare positives still rank high, though their probabilities stay low."
        )
    out.append(text)
    return out


def _multiclass_discussion(records: Sequence[dict]) -> list[str]:
    multi = pd.DataFrame([r for r in records if len(r["target_names"]) > 2])
    means = multi.groupby("loss")["macro_f1"].mean().sort_values()
    ranking = " < ".join(f"`{loss}` ({f1:.4f})" for loss, f1 in means.items())
    per_class = np.mean(np.stack(multi["per_class_f1"].tolist()), axis=0)
    names = multi["target_names"].iloc[0]
    order = np.argsort(per_class)[:2]
    hardest = ", ".join(f"`{names[i]}` ({per_class[i]:.3f})" for i in order)
    why = ""
    if {names[i] for i in order} == {"not_cyberbullying", "other_cyberbullying"}:
        why = (
            ": the two classes not defined by a topic (religion, age, gender, ethnicity) "
            "whose words the embeddings carry"
        )
    return [
        f"Macro-F1 by loss, mean over seeds: {ranking}. Averaged over every loss and seed, "
        f"the hardest classes are {hardest}{why}."
    ]
