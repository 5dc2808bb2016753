"""How many levels an int8 artifact's embedding codes need: size against fidelity.

An int8 artifact stores each table row as codes over the row's own range
(:data:`dan_dice.export.TABLE_LEVELS` of them) and the zip's deflate stores a code in about the
bits its levels need, so fewer levels make a smaller file and a coarser table. For each study
set, the estimator's defaults (``random_state=0``) are fitted on the training part of the fixed
60/20/20 split with its validation part, then exported at each count of levels and read back by
the numpy executor. Printed per count: the artifact's size, the test F1 at the model's own
threshold (the torch model's beside it), and how far the test probabilities move from torch's
(largest and mean absolute change).

Writes ``reports/table_levels.md``.

    python benchmarks/table_levels.py [--data-dir D] [--levels 256 128 96 64 32]
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path
from unittest import mock

import numpy as np
import pandas as pd

from dan_dice import DANClassifier, export
from dan_dice.cli import run_guarded
from dan_dice.datasets import load_cyberbullying, load_sms_spam
from dan_dice.edge import EdgeClassifier
from dan_dice.files import atomic_write_text
from dan_dice.metrics import scores
from dan_dice.provenance import stamp
from dan_dice.reporting import to_markdown
from dan_dice.splits import train_val_test_split

LOADERS = {"sms": load_sms_spam, "cyberbullying": load_cyberbullying}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", help="folder with the datasets (default: $DAN_DICE_DATA)")
    parser.add_argument("--levels", type=int, nargs="+", default=[256, 128, 96, 64, 32])
    parser.add_argument("--report", default="reports/table_levels.md")
    args = parser.parse_args()
    if any(not 2 <= n <= 256 for n in args.levels):
        parser.error("--levels must be between 2 and 256")
    return run_guarded(lambda: _main(args))


def _main(args: argparse.Namespace) -> None:
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        for name, load in LOADERS.items():
            X, y = load(args.data_dir, return_X_y=True)
            X_train, X_val, X_test, y_train, y_val, y_test = train_val_test_split(
                X, y, random_state=0
            )
            clf = DANClassifier(random_state=0)
            clf.fit(X_train, y_train, validation_data=(X_val, y_val))
            torch_p = clf.predict_proba(X_test)[:, 1]
            torch_f1 = scores(y_test, clf.predict(X_test))["f1"]
            for levels in args.levels:
                path = Path(folder) / f"{name}-{levels}.edge"
                with mock.patch.object(export, "TABLE_LEVELS", levels):
                    export.export_model(clf, path, quantize="int8")
                edge = EdgeClassifier.load(path, executor="numpy")
                change = np.abs(edge.predict_proba(X_test)[:, 1] - torch_p)
                rows.append(
                    {
                        "dataset": name,
                        "levels": levels,
                        "artifact": f"{path.stat().st_size / 1e6:.3f} MB",
                        "test F1": round(scores(y_test, edge.predict(X_test))["f1"], 4),
                        "torch test F1": round(torch_f1, 4),
                        "largest change of p": round(float(change.max()), 4),
                        "mean change of p": round(float(change.mean()), 5),
                    }
                )
                print(rows[-1], flush=True)
    text = "\n".join(
        [
            "# Levels of the int8 table codes",
            "",
            f"`python benchmarks/table_levels.py --levels {' '.join(map(str, args.levels))}`. "
            f"The export's count today: {export.TABLE_LEVELS}. The estimator's defaults "
            "(`random_state=0`) on the 60/20/20 split, exported as int8 with each count of "
            "levels and read back by the numpy executor; F1 and probability changes on the "
            "test part (see the script's docstring).",
            "",
            to_markdown(pd.DataFrame(rows)),
            "",
        ]
    )
    atomic_write_text(Path(args.report), stamp(text, Path(__file__)))
    print(text)


if __name__ == "__main__":
    raise SystemExit(main())
