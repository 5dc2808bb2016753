"""Evidence for the estimator's defaults: each measured against its alternatives, on validation,
across every dataset, at every training-set size.

The defaults were chosen one parameter at a time (coordinate descent): every arm but "defaults"
changes one parameter of ``BASE``, the point at which they were measured (today's defaults with
attention pooling), or, for "previous defaults", restores dan-dice 0.1's defaults (Dice loss,
threshold 0.5, mean pooling, 30 epochs, patience counted in epochs only). Pooling was chosen
last, from those arms: attention+max had the best mean validation score, and "defaults" (the
estimator as it is now) is checked against attention and mean pooling on more seeds. Every arm
is fit on the same fixed 60/20/20 split of each task:
SMS spam, binarised cyberbullying, Stormfront hate speech (split by post) and the 6-class
cyberbullying task. A default is chosen by the validation score (F1 of the positive class;
macro-F1 for 6 classes), the only score a user has when choosing; test scores stand beside it.
The size sweep fits on seeded, stratified subsamples of the training part (200 / 1,000 / 5,000
texts, those smaller than the part) exactly as a user would, ``fit(X, y)`` with its own
validation split, and scores the whole test part. Every fit is journaled in ``--out`` as it
ends (one journal per code fingerprint), so an interrupted run resumes. Writes
``reports/defaults.md``.

    python benchmarks/defaults.py [--data-dir D] [--seeds 3] [--jobs 2]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

import pandas as pd
from sized_fits import fit_at_size, holds_defaults, run_fits, within_noise

from dan_dice import DANClassifier
from dan_dice.cli import run_guarded
from dan_dice.files import atomic_write_text
from dan_dice.journal import code_fingerprint
from dan_dice.metrics import scores
from dan_dice.multilabel_experiments import load_multilabel_split
from dan_dice.provenance import stamp
from dan_dice.reporting import to_markdown
from dan_dice.splits import Split
from dan_dice.study_data import load_split

TASKS = ("sms", "cyberbullying", "stormfront", "cyberbullying6")
WIDTH_TASKS = (*TASKS, "goemotions")
"""The width is checked on multi-label too: GoEmotions, on its train part, judged on dev."""
SIZES = (200, 1000, 5000)
PREVIOUS = {
    "loss": "dice",
    "threshold": 0.5,
    "pooling": "mean",
    "max_epochs": 30,
    "patience_steps": 0,
}
"""dan-dice 0.1's defaults (its Dice loss is binary-only: 6 classes used ``multiclass_dice``)."""
BASE = {"pooling": "attention"}
"""The point at which each parameter was measured: the defaults, with attention pooling."""
ARMS = {
    "defaults": None,
    "pooling=attention": {},
    "pooling=mean": {"pooling": "mean"},
    "pooling=mean+max": {"pooling": "mean+max"},
    "loss=multiclass_dice": {"loss": "multiclass_dice"},
    "class_weight=balanced": {"class_weight": "balanced"},
    "threshold=0.5": {"threshold": 0.5},
    "lr=0.003": {"lr": 3e-3},
    "batch_size=64": {"batch_size": 64},
    "patience_steps=0": {"patience_steps": 0},
    "min_count=1": {"min_count": 1},
    "freeze_embeddings=True": {"freeze_embeddings": True},
    "previous defaults": PREVIOUS,
}
"""Arm name -> the parameters it changes in ``BASE`` (None: the estimator's defaults)."""
MORE_SEEDS = ("defaults", "pooling=attention", "pooling=mean")
"""Arms fit with ``--adoption-seeds`` seeds: the pooling is adopted on those."""
SIZE_ARMS = ("defaults", "pooling=attention", "patience_steps=0", "previous defaults")
WIDTHS = {
    f"hidden_sizes={sizes}": {"pooling": "attention+max", "hidden_sizes": sizes}
    for sizes in ((256, 128, 64), (128, 64, 32))
}
"""The defaults at two network widths, widest first, fit with ``--adoption-seeds`` seeds on
the full training part and ``--seeds`` at every size: the width is a cost, chosen as the
narrowest whose validation score holds (``within_noise``) on every task at every size."""
ADOPT_WINS = 3
"""An alternative replaces a default when it has the higher validation score in this many of
the tasks."""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir")
    parser.add_argument("--seeds", type=int, default=3, help="seeds of every arm (default 3)")
    parser.add_argument(
        "--adoption-seeds", type=int, default=5, help="seeds of " + ", ".join(MORE_SEEDS)
    )
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--out", default="reports/.defaults", help="journal of the fits")
    parser.add_argument("--report", default="reports/defaults.md")
    args = parser.parse_args()

    jobs = []
    for arm in ARMS:
        n_seeds = args.adoption_seeds if arm in MORE_SEEDS else args.seeds
        jobs += [(task, arm, None, seed) for task in TASKS for seed in range(n_seeds)]
    for arm in SIZE_ARMS:
        jobs += [
            (task, arm, size, seed)
            for task in TASKS
            for size in SIZES
            for seed in range(args.seeds)
        ]
    for arm in WIDTHS:
        jobs += [
            (task, arm, size, seed)
            for task in WIDTH_TASKS
            for size in ((None, *SIZES) if task in TASKS else (None,))
            for seed in range(args.adoption_seeds if size is None else args.seeds)
        ]
    records = _run(jobs, Path(args.out), args)
    command = "python benchmarks/defaults.py " + " ".join(sys.argv[1:])
    text = render(pd.DataFrame(records), command.strip(), args.seeds)
    atomic_write_text(Path(args.report), stamp(text, Path(__file__)))
    print(text)
    return 0


def arm_params(task: str, arm: str) -> dict:
    """Every parameter of the estimator an arm fits on ``task`` (its journal key, so that a
    change of a default refits exactly the arms it changes)."""
    changes = (ARMS | WIDTHS)[arm]
    params = DANClassifier(**({} if changes is None else {**BASE, **changes})).get_params()
    if task == "cyberbullying6" and params["loss"] == "dice":
        params["loss"] = "multiclass_dice"
    return params


def _key(task: str, arm: str, size: int | None, seed: int) -> str:
    return json.dumps([task, arm_params(task, arm), size, seed], sort_keys=True, default=str)


def fit_one(split: Split, task: str, arm: str, size: int | None, seed: int) -> dict:
    """Fit one arm on one task (on ``size`` training texts, or the training part and its
    validation part) and score it."""
    n_classes = len(split.target_names)
    clf = DANClassifier(**{**arm_params(task, arm), "random_state": seed})
    record = {"key": _key(task, arm, size, seed), "task": task, "arm": arm, "size": size}
    record |= {"seed": seed, **fit_at_size(clf, split, size, seed)}
    if task == "goemotions":  # judged on dev only, as benchmarks/stopping.py judges it
        return record | {"test": float("nan"), "test_accuracy": float("nan")}
    test = scores(split.y_test, clf.predict(split.X_test), n_classes)
    record["test"] = test["f1" if n_classes == 2 else "macro_f1"]
    record["test_accuracy"] = test["accuracy"]
    return record


def _run(jobs: list[tuple], out: Path, args: argparse.Namespace) -> list[dict]:
    """Fit every job not yet in the journal, two at a time by default, journaling each."""
    splits = {task: load_split(task, args.data_dir) for task in TASKS}
    splits["goemotions"] = load_multilabel_split(args.data_dir)
    jobs = [job for job in jobs if job[2] is None or job[2] < len(splits[job[0]].X_train)]
    jobs.sort(key=lambda job: -len(splits[job[0]].X_train) if job[2] is None else -job[2])
    keyed: dict[str, tuple] = {}
    for job in jobs:
        keyed.setdefault(_key(*job), job)  # an arm may share another's fits
    records = run_fits(
        out / f"fits-{code_fingerprint()}.jsonl",  # fits of other code are not reused
        [(key, (splits[job[0]], *job)) for key, job in keyed.items()],
        lambda record: record["key"],
        fit_one,
        args.jobs,
        lambda r: (
            f"{r['task']:>14} {r['arm']:>22} size {r['size']} seed {r['seed']}: "
            f"val {r['val']:.4f} test {r['test']:.4f} ({r['seconds']:.0f} s, {r['epochs']} epochs)"
        ),
    )
    by_key = {record["key"]: record for record in records}
    return [{**by_key[_key(*job)], "arm": job[1]} for job in jobs if _key(*job) in by_key]


def render(runs: pd.DataFrame, command: str, n_seeds: int) -> str:
    """``reports/defaults.md`` from the journaled fits; arms are compared on the seeds they
    share (``0..n_seeds-1``)."""
    full = runs[runs["size"].isna()]
    shared = full[full["seed"] < n_seeds]
    by_arm = shared.groupby(["arm", "task"])[["val", "test", "seconds"]].mean().unstack("task")
    table = pd.DataFrame(index=list(ARMS))
    for task in TASKS:
        table[f"{task} val"] = by_arm[("val", task)]
        table[f"{task} test"] = by_arm[("test", task)]
    table["mean val"] = table[[f"{t} val" for t in TASKS]].mean(axis=1)
    table["mean test"] = table[[f"{t} test" for t in TASKS]].mean(axis=1)
    table = table.round(4)
    table["seconds per fit"] = by_arm["seconds"][list(TASKS)].mean(axis=1).round(1)
    table = table.rename_axis("arm").reset_index()
    best = table.loc[table["mean val"].idxmax(), "arm"]
    seeds = full.groupby("arm")["seed"].nunique()
    vals = table.set_index("arm")[[f"{t} val" for t in TASKS]]
    names = {arm: arm for arm in ARMS} | {"defaults": "pooling=attention+max (defaults)"}
    wins = {
        names[arm]: int((vals.loc[arm] > vals.loc["pooling=attention"]).sum())
        for arm in ARMS
        if arm != "pooling=attention"
    }
    in_defaults = {names[arm]: holds_defaults(changes) for arm, changes in ARMS.items()}
    passing = [arm for arm, n in wins.items() if n >= ADOPT_WINS]
    adopted = [arm for arm in passing if in_defaults[arm]]
    pending = [arm for arm in passing if not in_defaults[arm]]

    adoption = full[full["arm"].isin(MORE_SEEDS)]
    adoption = adoption.groupby(["task", "arm"])[["val", "test"]].agg(["mean", "std"]).round(4)
    adoption.columns = [f"{score} {stat}" for score, stat in adoption.columns]

    sized = runs[runs["size"].notna() & ~runs["arm"].isin(list(WIDTHS))].copy()
    sized["size"] = sized["size"].astype(int)
    size_table = (
        sized.groupby(["task", "size", "arm"])
        .agg(
            val=("val", "mean"),
            test=("test", "mean"),
            collapse_warnings=("collapse_warning", "sum"),
            fits=("seed", "count"),
            epochs=("epochs", "mean"),
            seconds=("seconds", "mean"),
        )
        .round(4)
        .reset_index()
    )
    full_collapses = full.groupby("arm")["collapse_warning"].sum()
    return (
        "# The estimator's defaults, measured\n\n"
        f"Made by `{command}` ({len(runs)} fits). "
        + " ".join(__doc__.split("\n\n")[1].split())
        + "\n\n"
        "## One parameter at a time, full training part\n\n"
        f"Means over seeds 0..{n_seeds - 1}, which every arm ran. "
        "Validation and test scores are the F1 of the positive class (macro-F1 for "
        "`cyberbullying6`); `mean` averages the four tasks.\n\n"
        f"{to_markdown(table)}\n\n"
        f"Best mean validation score: **{best}**. The rule: an alternative replaces `BASE`'s "
        f"value when its validation score is higher in at least {ADOPT_WINS} of the "
        f"{len(TASKS)} tasks (a higher mean alone can be one task's noise). Tasks in which "
        f"each alternative beats `BASE` (`pooling=attention`) on validation: "
        f"{', '.join(f'{arm} {n}' for arm, n in wins.items())}; passing the rule and in the "
        f"estimator's defaults: **{', '.join(adopted) or 'none'}**; passing the rule but not "
        f"adopted: **{', '.join(pending) or 'none'}** (a pass at `BASE` makes a candidate; a "
        "default changes only once it also holds at the defaults themselves, on more seeds and "
        "at every training size, as the pooling did below). Collapse warnings per arm: "
        f"{', '.join(f'{a} {int(n)}' for a, n in full_collapses.items())}.\n\n"
        f"## The pooling, on more seeds ({int(seeds[MORE_SEEDS[0]])} seeds, mean and std)\n\n"
        "`defaults` is `pooling='attention+max'`.\n\n"
        f"{to_markdown(adoption.reset_index())}\n\n"
        "## Training-set size\n\n"
        "`fit(X, y)` on a stratified sample of the training part with the estimator's own "
        "validation split; test on the whole test part. `collapse_warnings` counts the fits "
        "that warned of a one-class model.\n\n"
        f"{to_markdown(size_table)}\n\n" + render_widths(runs)
    )


def render_widths(runs: pd.DataFrame) -> str:
    """The section on the network's width: each width's validation score (mean ± std over its
    seeds), test score and cost per task and size, and the narrowest width that holds."""
    runs = runs[runs["arm"].isin(list(WIDTHS))].copy()
    runs["order"] = runs["arm"].map(list(WIDTHS).index)
    runs = runs.sort_values(["task", "size", "order"], na_position="last")  # size "all" last
    runs["size"] = runs["size"].map(lambda size: "all" if pd.isna(size) else str(int(size)))
    widest = next(iter(WIDTHS))
    rows, holds = [], {arm: True for arm in WIDTHS}
    for (task, size), cell in runs.groupby(["task", "size"], sort=False):
        reference = cell.loc[cell["arm"] == widest, "val"]
        for arm, fits in cell.groupby("arm", sort=False):
            held = within_noise(fits["val"].mean(), reference.mean(), reference.std())
            holds[arm] &= held
            rows.append(
                {
                    "task": task,
                    "size": size,
                    "arm": arm,
                    "val": f"{fits['val'].mean():.4f} ± {fits['val'].std():.4f}",
                    "test": round(fits["test"].mean(), 4),
                    "holds": "yes" if held else "no",
                    "epochs": round(fits["epochs"].mean(), 1),
                    "seconds": round(fits["seconds"].mean(), 2),
                    "fits": len(fits),
                }
            )
    table = pd.DataFrame(rows)
    narrowest = [arm for arm in WIDTHS if holds[arm]][-1]
    default = next(arm for arm, params in WIDTHS.items() if holds_defaults(params))
    return (
        "## The network's width\n\n"
        "The defaults at each width of the three hidden layers, on the full training part "
        "and at every size (GoEmotions: train, judged by dev macro-F1; `fits`: the seeds). "
        "The width is a cost: a narrower network does fewer products in training and at the "
        "edge, so the narrowest width whose validation score holds is chosen. A width holds "
        "in a cell when its mean validation score is at least the "
        f"widest's (`{widest}`) mean minus one standard deviation of the widest's seeds; "
        "`seconds`: a fit, two fits running side by side.\n\n"
        f"{to_markdown(table)}\n\n"
        f"Widths that hold in every cell: **{', '.join(a for a in WIDTHS if holds[a])}**; "
        f"the narrowest: **{narrowest}**; in the estimator's defaults: **{default}**.\n"
    )


if __name__ == "__main__":
    sys.exit(run_guarded(main, prog="benchmarks/defaults.py"))
