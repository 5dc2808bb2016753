"""``REPORT.md`` and ``summary.md``, and ``write_reports``, which renders every report file.

Every file is written to a temporary name in the same folder and renamed into place, so a
crash or a kill never leaves a half-written report behind.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from ..files import atomic_write_text
from ..metrics import COLLAPSE_SHARE
from ..params import TUNED
from ..provenance import stamp
from .discussion import (
    family_discussion,
    losses_discussion,
    multiclass_discussion,
    study_discussion,
    sweep_discussion,
)
from .figures import plot_learning_curves, plot_sweep
from .tables import (
    binary_runs,
    multiclass_table,
    results_frame,
    study_comparison,
    summary_table,
    sweep_table,
    to_markdown,
)


def write_reports(
    records: Sequence[dict],
    out: Path,
    *,
    baselines: dict[str, dict],
    invocations: list[dict],
    environment: dict[str, str],
    network: dict,
) -> None:
    """Write ``results.csv``, ``summary.md``, ``figures/*.png`` and ``REPORT.md`` into ``out``;
    ``network`` holds the parameters of the estimator the grid trains (before the journaled
    runs' own ``model_params``)."""
    frame = results_frame(records)
    tables = {"binary": to_markdown(summary_table(binary_runs(frame), baselines))}
    multiclass = [r for r in records if len(r["target_names"]) > 2]
    if multiclass:
        tables["multiclass"] = to_markdown(multiclass_table(multiclass, baselines))
    figures = plot_learning_curves(records, out / "figures")
    if frame["dataset"].str.contains("@").any():
        tables["sweep"] = to_markdown(sweep_table(frame))
        plot_sweep(frame, out / "figures")
    atomic_write_text(out / "results.csv", frame.to_csv(index=False))
    atomic_write_text(out / "summary.md", stamp(_summary_page(tables)))
    report = render_report(
        frame=frame,
        tables=tables,
        comparison=study_comparison(frame, baselines),
        figures=[p.relative_to(out) for p in figures],
        invocations=invocations,
        environment=environment,
        records=records,
        network=network,
    )
    atomic_write_text(out / "REPORT.md", stamp(report))


def _summary_page(tables: dict[str, str]) -> str:
    """``summary.md``: the results tables, with how to read them."""
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
    network: dict,
) -> str:
    """``REPORT.md``: setup, environment, command, results, figures and a discussion;
    ``network`` as :func:`write_reports` takes it."""
    config = records[0]["config"] if records else {}
    model_params = {**network, **config.get("model_params", {})}
    tuned = config.get("threshold") in TUNED
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
        f"({'frozen' if model_params['freeze_embeddings'] else 'fine-tuned'}), "
        f"{model_params.get('pooling', 'mean')} pooling of the word vectors with word dropout "
        f"{model_params['word_dropout']}, hidden layers "
        f"{tuple(model_params['hidden_sizes'])} with ReLU and dropout {model_params['dropout']}, "
        "one output logit.",
        f"- **Training**: Adam, batch {model_params['batch_size']}, at most "
        f"{config.get('epochs')} epochs, early stopping after {model_params['patience']} epochs "
        "without a better validation F1; the best epoch is restored (an epoch whose "
        "validation predictions collapsed onto one class never over one that did not; equal "
        "F1 goes to the lower validation loss). The learning rate is picked per run from "
        f"{list(config.get('lrs', []))} by validation F1, a collapsed model only when every "
        "learning rate gave one.",
        "- **Decision threshold**: "
        + (
            "tuned on validation with the other hyper-parameters (`--threshold tune`): at "
            "every epoch the threshold on P(positive) with the best validation F1 is found, "
            "and that F1 picks the epoch and the learning rate. The study tunes its "
            "hyper-parameters on validation without naming them; the threshold matters most "
            "for the class-weighted loss (see the discussion). The `F1 at 0.5` column scores "
            "the same models at 0.5; `--threshold 0.5` fixes it instead."
            if tuned
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
        *study_discussion(binary_runs(frame), comparison, tuned=tuned),
    ]
    family = family_discussion(frame)
    if family:
        lines += ["", "## The Dice family against the study's losses", "", *family]
    if "multiclass" in tables:
        lines += ["", "## Six-class cyberbullying (the study's future work)", ""]
        lines += [tables["multiclass"], "", *multiclass_discussion(records)]
    if "sweep" in tables:
        lines += ["", "## Imbalance sweep on SMS", "", tables["sweep"], ""]
        lines += ["![sweep_f1](figures/sweep_f1.png)", "", *sweep_discussion(frame)]
    lines += ["", "## All losses compared", "", *losses_discussion(frame)]
    return "\n".join(lines) + "\n"
