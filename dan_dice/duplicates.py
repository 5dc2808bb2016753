"""Duplicate texts: how many, which disagree on their label, and a split that keeps them apart.

A *duplicate* is a text whose key, at some level of normalisation, was already seen in the data:
``exact`` compares the raw strings, ``normalized`` lower-cases them and collapses whitespace,
``tokens`` compares the token sequences of :func:`dan_dice.text.tokenize` (what the DAN and
fastText see). A *group* is a key held by two or more texts; a group *conflicts* when its texts
do not all carry the same label. Duplicates split across training and test inflate test scores
(a model recalls the copy it trained on), or deflate them where the copies disagree;
:func:`load_grouped_split` keeps every group on one side
(:func:`dan_dice.splits.grouped_train_val_test_split`).

``python -m dan_dice.duplicates [--data-dir D] [--report reports/duplicates.md]`` writes the
duplicate report of both datasets.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path

import numpy as np
import pandas as pd

from . import splits
from .datasets import load_dataset
from .deprecation import moved
from .files import atomic_write_text
from .machine import environment
from .provenance import stamp
from .reporting import to_markdown
from .splits import Split
from .study_data import load_split
from .text import tokenize


def normalize(text: str) -> str:
    """Lower-case ``text`` and collapse its whitespace."""
    return " ".join(text.lower().split())


def _tokens(text: str) -> str:
    return " ".join(tokenize(text))


LEVELS: dict[str, Callable[[str], str]] = {
    "exact": str,
    "normalized": normalize,
    "tokens": _tokens,
}
"""How two texts are compared, from strictest to loosest."""


def duplicate_keys(texts: Sequence[str], level: str = "normalized") -> list[str]:
    """The key of each text at ``level``: texts with equal keys are duplicates."""
    if level not in LEVELS:
        raise ValueError(f"unknown level {level!r}; valid levels are {', '.join(LEVELS)}")
    return [LEVELS[level](text) for text in texts]


def duplicate_groups(texts: Sequence[str], level: str = "normalized") -> np.ndarray:
    """A group id per text, equal for duplicates (ids numbered by first occurrence)."""
    return pd.factorize(pd.Series(duplicate_keys(texts, level), dtype=object))[0]


def duplicate_report(
    texts: Sequence[str], labels: Sequence, levels: Sequence[str] = tuple(LEVELS)
) -> pd.DataFrame:
    """Duplicate counts of ``texts`` at each level, one row per level.

    Columns: ``texts``; ``unique`` keys; ``duplicates``, the texts whose key was seen before
    (``texts - unique``); ``groups``, keys held by several texts, and ``in_groups``, the texts
    holding them; ``conflicting_groups``, groups with more than one label, and
    ``conflicting_duplicates``, the duplicates in those groups.
    """
    labels = np.asarray(labels)
    if len(labels) != len(texts):
        raise ValueError(f"{len(texts)} texts but {len(labels)} labels")
    rows = []
    for level in levels:
        frame = pd.DataFrame({"key": duplicate_keys(texts, level), "label": labels})
        per_key = frame.groupby("key", sort=False)["label"].agg(["size", "nunique"])
        groups = per_key[per_key["size"] > 1]
        conflicting = groups[groups["nunique"] > 1]
        rows.append(
            {
                "level": level,
                "texts": len(frame),
                "unique": len(per_key),
                "duplicates": len(frame) - len(per_key),
                "groups": len(groups),
                "in_groups": int(groups["size"].sum()),
                "conflicting_groups": len(conflicting),
                "conflicting_duplicates": int((conflicting["size"] - 1).sum()),
            }
        )
    return pd.DataFrame(rows)


def leakage(
    train_texts: Sequence[str],
    train_labels: Sequence,
    test_texts: Sequence[str],
    test_labels: Sequence,
    level: str = "normalized",
) -> dict[str, int]:
    """How many test texts have a duplicate among the training texts.

    ``leaked`` counts them; ``same_label`` those with a training copy of the same label (a
    free hit for a model that memorises), ``other_label`` those whose training copies all carry
    another label (a likely miss).
    """
    train = pd.DataFrame({"key": duplicate_keys(train_texts, level), "label": train_labels})
    seen = set(train["key"])
    pairs = set(zip(train["key"], train["label"], strict=True))
    keys = duplicate_keys(test_texts, level)
    leaked = [(key, label) for key, label in zip(keys, test_labels, strict=True) if key in seen]
    same = sum((key, label) in pairs for key, label in leaked)
    return {"leaked": len(leaked), "same_label": same, "other_label": len(leaked) - same}


def load_grouped_split(
    name: str, data_home: str | None = None, split_seed: int = 0, level: str = "normalized"
) -> Split:
    """The 60/20/20 split of a dataset with each group of ``level`` duplicates on one side:
    the counterpart of :func:`dan_dice.study_data.load_split` for ``--dedup`` runs."""
    bunch = load_dataset(name, data_home)
    groups = duplicate_groups(bunch.data, level)
    parts = splits.grouped_train_val_test_split(
        bunch.data, bunch.target, groups, random_state=split_seed
    )
    return Split(*parts, list(bunch.target_names))


def render_report(data_home: str | None = None) -> str:
    """The body of ``reports/duplicates.md``: counts, conflicts, leakage and split sizes."""
    counts, leaks, sizes = [], [], []
    for name, labels in (
        ("sms", "binary"),
        ("cyberbullying", "binary"),
        ("cyberbullying6", "6-class"),
    ):
        bunch = load_dataset(name, data_home)
        dataset = name.removesuffix("6")
        counts.append(
            duplicate_report(bunch.data, bunch.target).assign(dataset=dataset, labels=labels)
        )
        if labels == "binary":
            default = load_split(dataset, data_home)
            grouped = load_grouped_split(dataset, data_home)
            for split_name, split in (("default", default), ("grouped", grouped)):
                leaks += [_leak_row(dataset, split_name, split, level) for level in LEVELS]
                sizes.append(_size_row(dataset, split_name, split))
    count_table = pd.concat(counts, ignore_index=True)
    count_table = count_table[["dataset", "labels", *count_table.columns[:-2]]]
    leak_table = pd.DataFrame(leaks)
    return "\n".join(
        [
            "## Duplicate counts",
            "",
            to_markdown(count_table),
            "",
            *_count_notes(count_table),
            "",
            "## Leakage: texts with a duplicate on the other side of the split",
            "",
            "Binary labels. `same label` and `other label` split the `test in train` texts by "
            "whether a training copy carries their label (a free hit for a model that "
            "memorises) or only the other one (a likely miss). The grouped split keeps each "
            "group of `normalized` duplicates on one side.",
            "",
            to_markdown(leak_table),
            "",
            *_leak_notes(leak_table),
            "",
            "## Split sizes and positive rates",
            "",
            to_markdown(pd.DataFrame(sizes)),
            "",
            "How the test scores move on the grouped split: `python benchmarks/peers.py --dedup` "
            "(reports/peers.md).",
        ]
    )


def _leak_row(dataset: str, split_name: str, split: Split, level: str) -> dict:
    train = (split.X_train, split.y_train)
    seen = (split.X_train + split.X_val, np.r_[split.y_train, split.y_val])
    test = (split.X_test, split.y_test)
    in_train = leakage(*train, *test, level=level)
    return {
        "dataset": dataset,
        "split": split_name,
        "level": level,
        "val in train": leakage(*train, split.X_val, split.y_val, level=level)["leaked"],
        "test in train": in_train["leaked"],
        "same label": in_train["same_label"],
        "other label": in_train["other_label"],
        "test in train+val": leakage(*seen, *test, level=level)["leaked"],
        "test texts": len(split.X_test),
    }


def _size_row(dataset: str, split_name: str, split: Split) -> dict:
    parts = {"train": split.y_train, "val": split.y_val, "test": split.y_test}
    return {
        "dataset": dataset,
        "split": split_name,
        **{f"{part} texts": len(y) for part, y in parts.items()},
        **{f"{part} positive %": f"{100 * np.mean(y):.2f}" for part, y in parts.items()},
    }


def _count_notes(table: pd.DataFrame) -> list[str]:
    """The counts in words, with the definitions behind them."""
    row = lambda dataset, labels, level="exact": table[  # noqa: E731
        (table.dataset == dataset) & (table.labels == labels) & (table.level == level)
    ].iloc[0]
    sms, cyber, cyber6 = (
        row("sms", "binary"),
        row("cyberbullying", "binary"),
        row("cyberbullying", "6-class"),
    )
    pairs = " (every group a pair)" if cyber6.in_groups == 2 * cyber6.groups else ""
    return [
        "`duplicates` counts the texts whose key occurred earlier in the file (texts minus "
        "unique keys), so a group of k copies adds k − 1. `conflicting_duplicates` counts those "
        "in groups whose texts do not all share one label.",
        "",
        f"- **SMS**: {sms.duplicates:,} exact duplicates, in {sms.groups:,} groups holding "
        f"{sms.in_groups:,} texts; {sms.conflicting_groups} groups conflict.",
        f"- **Cyberbullying**: {cyber6.duplicates:,} exact duplicates in {cyber6.groups:,} groups"
        f"{pairs}. {cyber6.conflicting_duplicates:,} of them carry a different 6-class label "
        f"from their copy (`6-class` rows); {cyber.conflicting_duplicates:,} a different binary "
        "label (`binary` rows: one copy `not_cyberbullying`, the other a bullying type), which "
        "is the label the binary task learns; the other "
        f"{cyber6.conflicting_duplicates - cyber.conflicting_duplicates:,} disagree only on the "
        "bullying type.",
    ]


def _leak_notes(table: pd.DataFrame) -> list[str]:
    notes = []
    for dataset, group in table[table.level == "normalized"].groupby("dataset", sort=False):
        default, grouped = (group[group.split == name].iloc[0] for name in ("default", "grouped"))
        share = default["test in train"] / default["test texts"]
        notes.append(
            f"- **{dataset}**: {default['test in train']:,} of {default['test texts']:,} test "
            f"texts ({share:.1%}) have a normalised duplicate in train in the default split "
            f"({default['same label']:,} with the same label, {default['other label']:,} with "
            f"the other only); {grouped['test in train']} in the grouped split."
        )
    return notes


def main(argv: Sequence[str] | None = None) -> int:
    """Write ``reports/duplicates.md`` for both datasets."""
    parser = argparse.ArgumentParser(prog="python -m dan_dice.duplicates", description=__doc__)
    parser.add_argument("--data-dir", help="folder with the datasets (default: $DAN_DICE_DATA)")
    parser.add_argument("--report", default="reports/duplicates.md")
    args = parser.parse_args(argv)
    started, about = time.perf_counter(), f"{datetime.now():%Y-%m-%d %H:%M}; {environment()}"
    body = render_report(args.data_dir)
    arguments = argv if argv is not None else sys.argv[1:]
    command = " ".join(["python -m dan_dice.duplicates", *arguments])
    text = (
        "# Duplicate texts\n\n"
        f"Made by `{command}` (the entry point of `dan_dice/duplicates.py`) on {about}; "
        f"{time.perf_counter() - started:.0f} s.\n\n"
        "Levels: `exact` compares raw strings, `normalized` lower-cases and collapses "
        "whitespace, `tokens` compares the token sequences of `dan_dice.text.tokenize`.\n\n"
        f"{body}\n"
    )
    atomic_write_text(Path(args.report), stamp(text))
    print(text, end="")
    return 0


__getattr__ = moved(
    __name__,
    "0.2.0",
    grouped_train_val_test_split="dan_dice.splits.grouped_train_val_test_split",
)

if __name__ == "__main__":
    sys.exit(main())
