"""The written discussion of REPORT.md: statements computed from the results, each with the
reason behind it, so that the text stays true when the runs change."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from ..metrics import COLLAPSE_SHARE
from .tables import BASELINE_TOLERANCE, binary_runs, n_collapsed, sweep_runs

DICE_FAMILY = ("dice", "dsc", "tversky", "dice_bce")
"""Dice-type losses averaged together (``dsc_published``, a known collapse, is discussed apart)."""
CROSS_ENTROPY_FAMILY = ("bce", "wbce", "focal")
"""Cross-entropy losses, averaged together against the Dice family."""


def study_discussion(frame: pd.DataFrame, comparison: list[dict], tuned: bool) -> list[str]:
    """The study's table discussed: cells reached or missed and why, collapsed cells and runs,
    losses ranked, and why our figures differ (``tuned``: the threshold was tuned on validation)."""
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


def losses_discussion(frame: pd.DataFrame) -> list[str]:
    """Which losses win where, computed from the binary runs (and the sweep, if run)."""
    binary = binary_runs(frame)
    out = []
    for dataset, group in binary.groupby("dataset", sort=False):
        means = group.groupby("loss")[["f1", "macro_f1"]].mean()
        collapsed = group.groupby("loss")["majority_share"].apply(n_collapsed)
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
            f"{n_collapsed(published['majority_share'])} of {len(published)} "
            "runs. `dsc` moves the factor outside the ratio, (1−p_t)^α·(1 − DSC_t), which is "
            "monotone in the probability of the true class."
        )
    if frame["dataset"].str.contains("@").any():
        out += _sweep_gaps(frame)
    return out or ["- Only the study's losses were run: the main job adds the Dice family."]


def _sweep_gaps(frame: pd.DataFrame) -> list[str]:
    """The best and worst loss at each sweep rate, and the Dice-minus-BCE gap."""
    data = sweep_runs(frame)
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


def sweep_discussion(frame: pd.DataFrame) -> list[str]:
    """How each loss holds up as positives get rarer, and which ones collapse."""
    data = sweep_runs(frame)
    rates = sorted(data["rate"].unique(), reverse=True)
    measured = data.groupby("rate")["positive_rate"].mean().sort_index(ascending=False)
    f1 = data.groupby(["loss", "rate"])["f1"].mean().unstack()
    share = data.groupby(["loss", "rate"])["majority_share"]
    collapsed = share.apply(n_collapsed).unstack()
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


def multiclass_discussion(records: Sequence[dict]) -> list[str]:
    """The six-class losses ranked by macro-F1, and the classes they find hardest."""
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


STUDY_LOSSES = ("dice", "wbce", "mse")
"""The study's three losses, which the Dice family is measured against."""


def family_discussion(frame: pd.DataFrame) -> list[str]:
    """Every other binary loss against the study's three, per dataset: a table of mean F1 and
    macro-F1 with collapsed runs and the gap to the study's best loss, and how many beat it."""
    binary = binary_runs(frame)
    losses = list(dict.fromkeys(binary["loss"]))
    study = [loss for loss in STUDY_LOSSES if loss in losses]
    family = [loss for loss in losses if loss not in STUDY_LOSSES]
    if not study or not family:
        return []
    out = [
        "Mean over seeds; Δ: against the study's best loss on that dataset for that metric; "
        f"collapsed: runs with at least {COLLAPSE_SHARE:.0%} of their test predictions in one "
        "class.",
        "",
        "| dataset | loss | runs | F1 | Δ F1 | macro-F1 | Δ macro-F1 | collapsed |",
        "|---|---|---|---|---|---|---|---|",
    ]
    notes = []
    for dataset, group in binary.groupby("dataset", sort=False):
        stats = group.groupby("loss").agg(
            runs=("f1", "size"),
            f1=("f1", "mean"),
            macro_f1=("macro_f1", "mean"),
            collapsed=("majority_share", n_collapsed),
        )
        ours = stats[stats.index.isin(study)]
        if ours.empty:
            continue
        best = {metric: ours[metric].idxmax() for metric in ("f1", "macro_f1")}
        for loss in [*study, *family]:
            if loss not in stats.index:
                continue
            row = stats.loc[loss]
            gaps = {m: row[m] - stats.loc[best[m], m] for m in best}
            out.append(
                f"| {dataset} | {loss}{' (study)' if loss in study else ''} | {int(row['runs'])} "
                f"| {row['f1']:.4f} | {gaps['f1']:+.4f} | {row['macro_f1']:.4f} "
                f"| {gaps['macro_f1']:+.4f} | {int(row['collapsed'])} |"
            )
        theirs = stats[stats.index.isin(family)]
        if theirs.empty:
            continue
        above = {
            m: [f"`{loss}`" for loss in theirs.index if theirs.loc[loss, m] > ours[m].max()]
            for m in best
        }
        collapsed = [
            f"`{loss}` {int(n)}/{int(theirs.loc[loss, 'runs'])}"
            for loss, n in theirs["collapsed"].items()
            if n
        ]
        notes.append(
            f"- **{dataset}**: {len(above['f1'])} of {len(theirs)} family losses beat the "
            f"study's best F1 (`{best['f1']}`, {ours['f1'].max():.4f})"
            + (f": {', '.join(above['f1'])}" if above["f1"] else "")
            + f"; {len(above['macro_f1'])} beat its best macro-F1 (`{best['macro_f1']}`, "
            f"{ours['macro_f1'].max():.4f})"
            + (f": {', '.join(above['macro_f1'])}" if above["macro_f1"] else "")
            + ". "
            + (
                f"Collapsed runs: {', '.join(collapsed)}."
                if collapsed
                else "No family run collapsed."
            )
        )
    return [*out, "", *notes]
