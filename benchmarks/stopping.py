"""Evidence for the estimator's stopping rule and batch size: validation score, epochs and time
of each rule, on every dataset, at every training-set size, over several seeds.

A rule sets ``patience`` and ``patience_steps`` (training stops once the validation score has
not improved for ``patience`` epochs and ``patience_steps`` optimiser steps) and may set
``batch_size`` and ``lr``; every other parameter is the estimator's default. Batches twice as
large go with half the steps, so that a rule waits for as many texts on small sets. As
``benchmarks/defaults.py`` does, each rule is fit on the fixed 60/20/20 split of SMS spam,
binarised cyberbullying, Stormfront hate speech (split by post) and the 6-class cyberbullying
task, on the training part with its validation part, and on seeded, stratified subsamples of
the training part (200 / 1,000 / 5,000 texts) with ``fit(X, y)``'s own validation split, as a
user fits; plus GoEmotions (multi-label) on its train part with dev as validation, judged by
dev macro-F1. A rule may replace the baseline (the first) when, on every task and size, its mean
validation score is within one standard deviation (over the seeds) of the baseline's or
better, and no fit warns of a collapse. Every fit is journaled in ``--out`` as it ends, so an
interrupted run resumes. Writes ``reports/stopping.md``.

    python benchmarks/stopping.py [--data-dir D] [--seeds 5] [--jobs 2]
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import numpy as np
import pandas as pd
from sized_fits import fit_and_score, holds_defaults, run_sized, within_noise

from dan_dice import DANClassifier
from dan_dice.cli import run_guarded
from dan_dice.files import atomic_write_text
from dan_dice.journal import code_fingerprint
from dan_dice.multilabel_experiments import load_multilabel_split
from dan_dice.provenance import stamp
from dan_dice.reporting import to_markdown
from dan_dice.study_data import load_split

TASKS = ("sms", "cyberbullying", "stormfront", "cyberbullying6", "goemotions")
SIZES = (200, 1000, 5000, None)
"""Training sizes (None: the whole training part, with the fixed validation part)."""


def rule_name(patience: int, steps: int, batch: int = 128, lr: float = 1e-3) -> str:
    """A rule's name: what it changes from the batches of 128 and the learning rate 1e-3."""
    return (
        f"{patience} epochs, {steps} steps"
        + ("" if batch == 128 else f", batches of {batch}")
        + ("" if lr == 1e-3 else f", lr {lr:g}")
    )


RULES = {
    rule_name(patience, steps, batch, lr): {
        "patience": patience,
        "patience_steps": steps,
        "batch_size": batch,
        "lr": lr,
    }
    for patience, steps, batch, lr in (
        (3, 250, 128, 1e-3),
        (2, 250, 128, 1e-3),
        (3, 125, 256, 1e-3),
        (2, 125, 256, 1e-3),
        (2, 250, 128, 2e-3),
        (2, 125, 256, 2e-3),
        (3, 125, 256, 2e-3),
        (2, 125, 256, 3e-3),
    )
}
"""Rule name -> the estimator's parameters it sets; the first is the baseline, the default the
others were measured against (3 epochs and 250 steps, which 2 epochs then replaced). The last
four try a larger learning rate, alone and with batches of 256: fewer epochs to the best."""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", help="folder with the datasets (default: $DAN_DICE_DATA)")
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--out", default="reports/.stopping", help="journal of the fits")
    parser.add_argument("--report", default="reports/stopping.md")
    args = parser.parse_args()
    return run_guarded(lambda: _main(args))


def _main(args: argparse.Namespace) -> int:
    splits = {
        task: load_multilabel_split(args.data_dir)
        if task == "goemotions"
        else load_split(task, args.data_dir)
        for task in TASKS
    }
    jobs = [
        (task, rule, size, seed)
        for task in TASKS
        for size in (SIZES if task != "goemotions" else (None,))
        for rule in RULES
        for seed in range(args.seeds)
        if size is None or size < len(splits[task].X_train)
    ]
    fingerprint = code_fingerprint()
    records = _run(jobs, splits, Path(args.out) / f"fits-{fingerprint}.jsonl", args.jobs)
    command = "python benchmarks/stopping.py " + " ".join(sys.argv[1:])
    text = render(pd.DataFrame(records), command.strip(), fingerprint)
    atomic_write_text(Path(args.report), stamp(text, Path(__file__)))
    print(text)
    return 0


def fit_one(split, task: str, rule: str, size: int | None, seed: int) -> dict:
    """Fit the defaults under one rule and score validation (and test, for binary and 6-class
    tasks)."""
    clf = DANClassifier(**RULES[rule], random_state=seed)
    record = {"task": task, "rule": rule, "size": size, "seed": seed}
    return record | fit_and_score(clf, split, task, size, seed)


def _run(jobs: list[tuple], splits: dict, journal: Path, n_jobs: int) -> list[dict]:
    """Fit every job not yet in the journal (one per code fingerprint), largest first."""
    return run_sized(
        journal,
        jobs,
        ("task", "rule", "size", "seed"),
        splits,
        fit_one,
        n_jobs,
        lambda r: (
            f"{r['task']:>14} {r['rule']:>20} size {r['size']} seed {r['seed']}: "
            f"val {r['val']:.4f} ({r['seconds']:.0f} s, {r['epochs']} epochs)"
        ),
    )


def render(runs: pd.DataFrame, command: str, fingerprint: str) -> str:
    """``reports/stopping.md``: per task and size, each rule's validation score (mean ± sd over
    the seeds), test score, epochs, best epoch and seconds, and the verdict."""
    runs = runs.assign(
        size=runs["size"].fillna(0).astype(int),
        rule=pd.Categorical(runs["rule"], categories=list(RULES), ordered=True),
    )
    baseline = next(iter(RULES))
    default = next((rule for rule, params in RULES.items() if holds_defaults(params)), None)
    grouped = runs.groupby(["task", "size", "rule"], observed=True)
    stats = grouped.agg(
        val=("val", "mean"),
        val_sd=("val", "std"),
        test=("test", "mean"),
        epochs=("epochs", "mean"),
        best_epoch=("best_epoch", "mean"),
        seconds=("seconds", "mean"),
        collapses=("collapse_warning", "sum"),
        seeds=("seed", "count"),
    ).reset_index()
    rows, verdicts = [], {}
    for (task, size), group in stats.groupby(["task", "size"], sort=False):
        base = group.set_index("rule").loc[baseline]
        for _, row in group.iterrows():
            within = within_noise(row["val"], base["val"], base["val_sd"])
            if row["rule"] != baseline and not (within and row["collapses"] == 0):
                verdicts.setdefault(row["rule"], []).append(f"{task} {size or 'all'}")
            rows.append(
                {
                    "task": task,
                    "size": "all" if size == 0 else size,
                    "rule": row["rule"],
                    "val": f"{row['val']:.4f} ± {row['val_sd']:.4f}",
                    "test": "" if np.isnan(row["test"]) else f"{row['test']:.4f}",
                    "epochs": f"{row['epochs']:.1f}",
                    "best epoch": f"{row['best_epoch']:.1f}",
                    "seconds": f"{row['seconds']:.1f}",
                    "collapses": int(row["collapses"]),
                    "seeds": int(row["seeds"]),
                }
            )
    time_share = runs.groupby("rule", observed=True)["seconds"].sum()
    lines = [
        "# Stopping rule and batch size: validation score, epochs and time",
        "",
        f"Made by `{command}` (code fingerprint `{fingerprint}`), "
        f"{runs['seed'].nunique()} seeds. Validation scores are F1 of the positive class "
        "(macro-F1 for cyberbullying6 and GoEmotions); size `all` is the training part with "
        "the fixed validation part (GoEmotions: train, judged on dev), other sizes are "
        "stratified subsamples fit with `fit(X, y)`. A candidate may replace the baseline rule "
        f"(`{baseline}`) when on every row its mean validation score is within one standard "
        "deviation of the baseline's or better and no fit warned of a collapse. The "
        f"estimator's default: `{default or 'none of these'}`.",
        "",
        to_markdown(pd.DataFrame(rows)),
        "",
        "| rule | all fits' seconds | against the baseline | verdict |",
        "|---|---|---|---|",
    ]
    for rule in RULES:
        share = time_share[rule] / time_share[baseline]
        failed = verdicts.get(rule)
        verdict = "fails on " + ", ".join(failed) if failed else "passes"
        verdict = "baseline" if rule == baseline else verdict
        verdict += " (the estimator's default)" if rule == default else ""
        lines.append(f"| {rule} | {time_share[rule]:.0f} | {share:.2f}x | {verdict} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    raise SystemExit(main())
