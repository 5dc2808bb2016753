"""The ``dan-dice`` command line.

Every command reports bad input (missing file, wrong columns, unknown option...) as one line
``dan-dice: error: ...`` on stderr with exit status 2, never as a traceback.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import sys
from collections.abc import Callable, Sequence
from itertools import islice
from pathlib import Path

USAGE_ERRORS = (ValueError, LookupError, OSError)
"""Errors caused by the user's input or files; anything else is a bug and keeps its traceback."""


def run_guarded(main: Callable[[], int | None], prog: str = "dan-dice") -> int:
    """Run ``main`` and turn a usage error into a one-line message and exit status 2."""
    try:
        return main() or 0
    except USAGE_ERRORS as exc:
        print(f"{prog}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"{prog}: interrupted", file=sys.stderr)
        return 130


def _experiments(args: argparse.Namespace) -> int | None:
    from .experiments import main

    return main(args.rest)


def _train(args: argparse.Namespace) -> None:
    import numpy as np

    from .datasets import load_dataset, train_val_test_split
    from .estimator import DANClassifier
    from .metrics import scores
    from .persistence import save_model

    _check_writable(args.out, args.overwrite)
    if args.csv is not None:
        X, y = _read_csv(args.csv, args.text_column, args.label_column)
    else:
        X, y = load_dataset(args.dataset, args.data_dir, return_X_y=True)
    X_train, X_val, X_test, y_train, y_val, y_test = train_val_test_split(X, y, random_state=0)
    chosen = {
        "loss": args.loss,
        "lr": args.lr,
        "max_epochs": args.epochs,
        "threshold": args.threshold,
    }
    clf = DANClassifier(
        **{name: value for name, value in chosen.items() if value is not None},
        device=args.device,
        random_state=args.seed,
        verbose=args.verbose,
    )
    clf.fit(X_train, y_train, validation_data=(X_val, y_val))
    codes = (
        np.searchsorted(clf.classes_, y_test),
        np.searchsorted(clf.classes_, clf.predict(X_test)),
    )
    result = scores(*codes, n_classes=len(clf.classes_))
    print(
        f"test accuracy {result['accuracy']:.4f}, F1 {result['f1']:.4f} on {len(X_test)} texts "
        f"(best epoch {clf.best_epoch_}, threshold {clf.threshold_:.3g})"
    )
    print(f"saved {save_model(clf, args.out, overwrite=args.overwrite)}")


def _export(args: argparse.Namespace) -> None:
    from .export import export_model
    from .persistence import load_model

    _check_writable(args.out, args.overwrite)
    path = export_model(
        load_model(args.model), args.out, quantize=args.quantize, overwrite=args.overwrite
    )
    print(f"wrote {path} ({path.stat().st_size / 1024:.0f} KiB)")


def _predict(args: argparse.Namespace) -> None:
    from .edge import EdgeClassifier

    clf = EdgeClassifier.load(args.model, n_threads=args.threads)
    classes = clf.classes_.tolist()
    columns = ["probability"] if len(classes) == 2 else classes  # binary: P(positive) only
    writer = csv.writer(sys.stdout, lineterminator="\n")
    if args.format == "csv":
        writer.writerow(["label", *columns])
    source = open(args.file, encoding="utf-8") if args.file else sys.stdin  # noqa: SIM115
    with source:
        while texts := [line.rstrip("\r\n") for line in islice(source, 1024)]:
            proba = clf.predict_proba(texts)
            labels = clf._labels(proba).tolist()
            rows = proba[:, -len(columns) :].astype(float).round(6).tolist()
            for label, row in zip(labels, rows, strict=True):
                if args.format == "csv":
                    writer.writerow([label, *row])
                else:
                    record = {"label": label, **dict(zip(columns, row, strict=True))}
                    print(json.dumps(record, ensure_ascii=False))


def _read_csv(path: Path, text_column: str | None, label_column: str | None):
    """Texts and labels (as str) from the named columns of a CSV file with a header row."""
    if text_column is None or label_column is None:
        raise ValueError("--csv needs --text-column and --label-column")
    with open(path, newline="", encoding="utf-8-sig") as f:
        reader = csv.DictReader(f)
        missing = [c for c in (text_column, label_column) if c not in (reader.fieldnames or [])]
        if missing:
            raise ValueError(f"{path} has no column {missing[0]!r}; found {reader.fieldnames}")
        rows = [(row[text_column] or "", row[label_column]) for row in reader]
    unlabelled = [i for i, (_, label) in enumerate(rows, start=2) if not label]
    if unlabelled:
        raise ValueError(f"{path}: line {unlabelled[0]} has no {label_column!r} value")
    return [text for text, _ in rows], [label for _, label in rows]


def _check_writable(path: Path, overwrite: bool) -> None:
    """Fail before any long work if ``path`` would be refused at the end."""
    if path.exists() and not overwrite:
        raise FileExistsError(f"{path} already exists; pass --overwrite to replace it")


def threshold_arg(text: str) -> float | str:
    """``--threshold``: ``"tune"`` or a number in (0, 1), refused at parsing otherwise."""
    if text == "tune":
        return text
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not 0 < value < 1:
        raise argparse.ArgumentTypeError(f"must be 'tune' or a number in (0, 1), got {text!r}")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="dan-dice", description="GloVe DAN text classifiers with Dice-family losses."
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    experiments = commands.add_parser(
        "experiments",
        help="reproduce the study (same as run_experiments.py; --help for its options)",
        add_help=False,
    )
    experiments.add_argument("rest", nargs=argparse.REMAINDER)
    experiments.set_defaults(handler=_experiments)

    train = commands.add_parser(
        "train",
        help="fit a model on a 60/20/20 split (train / validation / test) and save it",
        description="Fit on the train part, stop early on the validation part, report test "
        "accuracy and F1 (of the positive class; macro for more classes), save the model.",
    )
    data = train.add_mutually_exclusive_group(required=True)
    data.add_argument("--dataset", choices=("sms", "cyberbullying"), help="a study dataset")
    data.add_argument("--csv", type=Path, metavar="FILE", help="a CSV file with a header row")
    train.add_argument("--data-dir", help="folder of the datasets (default: $DAN_DICE_DATA)")
    train.add_argument("--text-column", metavar="C", help="column of the texts (with --csv)")
    train.add_argument("--label-column", metavar="L", help="column of the labels (with --csv)")
    train.add_argument("--out", type=Path, required=True, metavar="MODEL", help="model file")
    train.add_argument("--loss", help="loss name (default: the estimator's, dice)")
    train.add_argument("--epochs", type=int, help="most epochs (default: the estimator's)")
    train.add_argument("--lr", type=float, help="learning rate (default: the estimator's)")
    train.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    train.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"))
    train.add_argument(
        "--threshold",
        type=threshold_arg,
        metavar="{P,tune}",
        help="decision threshold on P(positive) (default: 0.5), or 'tune' for the best "
        "validation F1",
    )
    train.add_argument("--overwrite", action="store_true", help="replace an existing MODEL")
    train.add_argument("--verbose", action="count", default=0, help="show training progress")
    train.set_defaults(handler=_train)

    export = commands.add_parser(
        "export", help="write a saved model as a small artifact for `dan-dice predict`"
    )
    export.add_argument("model", type=Path, metavar="MODEL", help="a model saved by `train`")
    export.add_argument("out", type=Path, metavar="OUT", help="the artifact to write")
    export.add_argument("--quantize", choices=("int8", "fp16"), help="store weights compactly")
    export.add_argument("--overwrite", action="store_true", help="replace an existing OUT")
    export.set_defaults(handler=_export)

    predict = commands.add_parser(
        "predict",
        help="classify texts, one per line, with an exported artifact (no torch needed)",
    )
    predict.add_argument("--model", type=Path, required=True, metavar="ARTIFACT")
    predict.add_argument("file", nargs="?", type=Path, help="texts, one per line (default: stdin)")
    predict.add_argument(
        "--format",
        choices=("csv", "jsonl"),
        default="csv",
        help="csv: label and P(positive), or one probability column per class (default)",
    )
    predict.add_argument("--threads", type=int, default=1, help="CPU threads (default: 1)")
    predict.set_defaults(handler=_predict)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return run_guarded(lambda: args.handler(args))


if __name__ == "__main__":
    sys.exit(main())
