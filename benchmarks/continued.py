"""Continued training measured: a model fitted on half of binarised cyberbullying and then
continued on the other half, against one fitted on all of it.

The training part of the fixed 60/20/20 split (``train_val_test_split(random_state=0)``) is cut
in two stratified halves. Every model uses the estimator's defaults and the validation part;
scores are on the test part (F1 of the "bullying" class, accuracy), mean ± std over the seeds:

* ``all``: ``fit`` on the whole training part;
* ``first half``: ``fit`` on the first half only;
* ``+ warm_start fit``: that model, ``warm_start=True``, ``fit`` on the second half (early
  stopping as usual);
* ``+ partial_fit``: that model, ``partial_fit`` on the second half for ``--epochs`` calls
  (one epoch each, validation data given to re-tune the threshold).

Writes ``reports/continued.md``.

    python benchmarks/continued.py [--data-dir D] [--seeds 2] [--epochs 5]
"""

from __future__ import annotations

import argparse
import copy
import time
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.base import clone
from sklearn.metrics import accuracy_score, f1_score
from sklearn.model_selection import train_test_split

from dan_dice import DANClassifier
from dan_dice.cli import run_guarded
from dan_dice.datasets import load_cyberbullying
from dan_dice.files import atomic_write_text
from dan_dice.journal import code_fingerprint
from dan_dice.provenance import stamp
from dan_dice.reporting import to_markdown
from dan_dice.splits import train_val_test_split


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", help="folder with the datasets (default: $DAN_DICE_DATA)")
    parser.add_argument("--seeds", type=int, default=2)
    parser.add_argument("--epochs", type=int, default=5, help="partial_fit calls")
    parser.add_argument("--report", default="reports/continued.md")
    args = parser.parse_args()
    return run_guarded(lambda: _main(args))


def _main(args: argparse.Namespace) -> None:
    X, y = load_cyberbullying(args.data_dir, return_X_y=True)
    X_train, X_val, X_test, y_train, y_val, y_test = train_val_test_split(X, y, random_state=0)
    first, second = train_test_split(
        np.arange(len(y_train)), test_size=0.5, stratify=y_train, random_state=0
    )
    halves = [([X_train[i] for i in part], y_train[part]) for part in (first, second)]
    rows = []
    for seed in range(args.seeds):
        base = DANClassifier(random_state=seed)
        for name, fitted, seconds in _models(base, X_train, y_train, halves, X_val, y_val, args):
            predicted = fitted.predict(X_test)
            rows.append(
                {
                    "model": name,
                    "seed": seed,
                    "F1": f1_score(y_test, predicted),
                    "accuracy": accuracy_score(y_test, predicted),
                    "seconds": seconds,
                }
            )
            print(rows[-1], flush=True)
    table = pd.DataFrame(rows).groupby("model", sort=False)
    summary = pd.DataFrame(
        {
            "model": list(table.groups),
            "test F1": [_mean_std(g["F1"]) for _, g in table],
            "test accuracy": [_mean_std(g["accuracy"]) for _, g in table],
            "fit seconds (the continued: on top of the first half's)": [
                f"{g['seconds'].mean():.1f}" for _, g in table
            ],
        }
    )
    text = "\n".join(
        [
            "# Continued training on cyberbullying",
            "",
            f"`python benchmarks/continued.py --seeds {args.seeds} --epochs {args.epochs}`, "
            f"code {code_fingerprint()}; {len(y_train)} training texts in two halves of "
            f"{len(first)} and {len(second)}, {len(y_test)} test texts; mean ± std over "
            f"{args.seeds} seeds.",
            "",
            to_markdown(summary),
            "",
        ]
    )
    atomic_write_text(Path(args.report), stamp(text, Path(__file__)))
    print(text)


def _models(base, X_train, y_train, halves, X_val, y_val, args):
    """``(name, fitted model, seconds)`` of each way of training (see the module)."""
    validation = (X_val, y_val)
    start = time.perf_counter()
    yield "all", clone(base).fit(X_train, y_train, validation_data=validation), _since(start)
    (X_first, y_first), (X_second, y_second) = halves
    start = time.perf_counter()
    half = clone(base).fit(X_first, y_first, validation_data=validation)
    yield "first half", half, _since(start)
    warm = copy.deepcopy(half).set_params(warm_start=True)  # half itself goes on below
    start = time.perf_counter()
    warm.fit(X_second, y_second, validation_data=validation)
    yield "first half + warm_start fit on the second", warm, _since(start)
    start = time.perf_counter()
    for _ in range(args.epochs):
        half.partial_fit(X_second, y_second, validation_data=validation)
    yield f"first half + {args.epochs} partial_fit epochs on the second", half, _since(start)


def _since(start: float) -> float:
    return time.perf_counter() - start


def _mean_std(values: pd.Series) -> str:
    return f"{values.mean():.4f} ± {values.std(ddof=0):.4f}"


if __name__ == "__main__":
    raise SystemExit(main())
