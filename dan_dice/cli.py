"""The ``dan-dice`` command line.

Every command reports bad input (missing file, wrong columns, unknown option...) as one line
``dan-dice: error: ...`` on stderr with exit status 2, never as a traceback, and each warning
as one line ``dan-dice: warning: ...``. Options are never abbreviated (``--multi`` is not
``--multilabel``).

Multi-label: ``train --csv FILE --label-separator SEP`` reads each label cell as a list of
labels (``"joy,anger"`` with ``,``; an empty cell is a text without any), and ``train --dataset
goemotions`` trains on GoEmotions; ``predict`` with a multi-label artifact writes each text's
label set (``labels``: joined by ``--label-separator``, default ``,``, in CSV; a list in JSON
lines) and every label's probability (``p_<label>``).
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
import warnings
from collections.abc import Callable, Sequence
from itertools import islice
from pathlib import Path

from .arguments import threshold_type
from .files import check_writable_file
from .params import TUNED, options

USAGE_ERRORS = (ValueError, LookupError, OSError)
"""Errors caused by the user's input or files; anything else is a bug and keeps its traceback."""


def run_guarded(main: Callable[[], int | None], prog: str = "dan-dice") -> int:
    """Run ``main``, turning a usage error into a one-line message and exit status 2, and
    showing each warning as one line on stderr (not Python's two, with a line of source)."""

    def show(message, category, filename, lineno, file=None, line=None) -> None:
        print(f"{prog}: warning: {' '.join(str(message).split())}", file=sys.stderr)

    try:
        with warnings.catch_warnings():
            warnings.showwarning = show
            return main() or 0
    except USAGE_ERRORS as exc:
        print(f"{prog}: error: {exc}", file=sys.stderr)
        return 2
    except ModuleNotFoundError as exc:  # a base install (numpy, onnxruntime) only predicts
        print(f"{prog}: error: {exc}; this needs pip install 'dan-dice[train]'", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"{prog}: interrupted", file=sys.stderr)
        return 130


def run_experiments(argv: Sequence[str] | None = None) -> int:
    """``run_experiments.py`` and ``dan-dice experiments``: the study grid and the Dice family
    (:mod:`dan_dice.experiments`); ``--multilabel`` runs only the GoEmotions suite
    (:mod:`dan_dice.multilabel_experiments`) and ``--peers`` only the peers suite
    (:mod:`dan_dice.peer_experiments`), each with its own options. ``--all`` runs the grid with
    its 6-class task and imbalance sweep, then both suites into the same ``--out``."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if "--multilabel" in argv:
        from .multilabel_experiments import main
    elif "--peers" in argv:
        from .peer_experiments import main
    else:
        from .experiments import main
    suites = []
    if "--all" in argv and not {"--multilabel", "--peers"} & set(argv):
        from . import multilabel_experiments, peer_experiments
        from .runner import prepare

        shared = suite_options(argv)
        for suite, suite_argv in (
            (multilabel_experiments, ["--multilabel", *shared, *_device(argv)]),
            (peer_experiments, ["--peers", *shared]),
        ):  # options, data or a journal they would refuse fail now, before the grid trains
            checked = prepare(suite_argv, suite.parse_args, suite.plan, suite.SUITE.journal)
            suites.append((suite, suite_argv, checked))
    status = main(argv)
    for suite, suite_argv, checked in suites:
        status = status or suite.main(suite_argv, checked)
    return status


def suite_options(argv: Sequence[str]) -> list[str]:
    """The options of ``argv`` that ``--all`` hands on to the GoEmotions and peers suites:
    where the data and the output are, how runs are dispatched, ``--quick``, ``--fresh`` and
    ``--portable``."""
    from .runner import HANDED_ON

    parser = argparse.ArgumentParser(add_help=False, allow_abbrev=False)
    for name in HANDED_ON["values"]:
        parser.add_argument(name)
    for name in HANDED_ON["flags"]:
        parser.add_argument(name, action="store_true")
    known, _ = parser.parse_known_args(argv)
    shared = []
    for name, value in vars(known).items():
        option = "--" + name.replace("_", "-")
        shared += (
            [option] if value is True else [option, value] if value not in (None, False) else []
        )
    return shared


def _device(argv: Sequence[str]) -> list[str]:
    parser = argparse.ArgumentParser(add_help=False, allow_abbrev=False)
    parser.add_argument("--device")
    device = parser.parse_known_args(argv)[0].device
    return ["--device", device] if device else []


def _train(args: argparse.Namespace) -> None:
    from .datafiles import read_labelled_csv
    from .datasets import MULTILABEL_DATASETS, load_dataset
    from .estimator import DANClassifier
    from .splits import train_val_test_split
    from .training import CollapseWarning

    if args.label_separator is not None and args.csv is None:
        raise ValueError(
            "--label-separator applies to --csv (a column of label lists); "
            f"--dataset {args.dataset} has its own labels"
        )
    _check_separator(args.label_separator)
    check_writable_file(args.out, args.overwrite, inputs=[args.csv])
    if args.dataset in MULTILABEL_DATASETS:
        parts = _official_split(args.dataset, args.data_dir)
    elif args.label_separator is not None:
        X, y = read_labelled_csv(
            args.csv, args.text_column, args.label_column, args.label_separator
        )
        parts = _multilabel_split(X, y, args.label_column)
    else:
        if args.csv is not None:
            X, y, groups = (*read_labelled_csv(args.csv, args.text_column, args.label_column), None)
        else:
            bunch = load_dataset(args.dataset, args.data_dir)
            X, y, groups = bunch.data, bunch.target, bunch.get("groups")
        parts = train_val_test_split(X, y, random_state=0, groups=groups)
    X_train, X_val, X_test, y_train, y_val, y_test = parts
    chosen = {
        "loss": args.loss,
        "lr": args.lr,
        "max_epochs": args.epochs,
        "threshold": args.threshold,
        "pooling": args.pooling,
        "class_weight": args.class_weight,
    }
    clf = DANClassifier(
        **{name: value for name, value in chosen.items() if value is not None},
        device=args.device,
        random_state=args.seed,
        verbose=args.verbose,
    )
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", CollapseWarning)
        clf.fit(X_train, y_train, validation_data=(X_val, y_val))
    print(_test_scores(clf, X_test, y_test))
    for warning in caught:
        if issubclass(warning.category, CollapseWarning):
            print(f"warning: {warning.message}")
        else:
            warnings.warn_explicit(
                warning.message, warning.category, warning.filename, warning.lineno
            )
    print(f"saved {clf.save(args.out, overwrite=args.overwrite)}")


def _test_scores(clf, X_test: list[str], y_test) -> str:
    """The line ``train`` prints: the test scores of the fitted ``clf``."""
    import numpy as np

    from .metrics import multilabel_scores, scores
    from .targets import MULTILABEL, encode_targets

    n_classes = len(clf.classes_)
    done = f"on {len(X_test)} texts (best epoch {clf.best_epoch_}"
    if clf.y_type_ in MULTILABEL:
        truth, predicted = (
            encode_targets(y, len(X_test), clf.y_type_, clf.classes_)
            for y in (y_test, clf.predict(X_test))
        )
        result = multilabel_scores(truth, predicted)
        return (
            f"test micro-F1 {result['micro_f1']:.4f}, macro-F1 {result['macro_f1']:.4f}, "
            f"subset accuracy {result['subset_accuracy']:.4f} {done}, {n_classes} labels, "
            f"thresholds {clf.threshold_.min():.3g} to {clf.threshold_.max():.3g})"
        )
    codes = (
        np.searchsorted(clf.classes_, y_test),
        np.searchsorted(clf.classes_, clf.predict(X_test)),
    )
    result = scores(*codes, n_classes=n_classes)
    f1 = f"F1 {result['f1']:.4f}" if n_classes == 2 else f"macro-F1 {result['macro_f1']:.4f}"
    threshold = f", threshold {clf.threshold_:.3g}" if n_classes == 2 else ""
    return f"test accuracy {result['accuracy']:.4f}, {f1} {done}{threshold})"


def _official_split(name: str, data_dir: str | None) -> tuple:
    """The train / dev / test parts of a multi-label dataset as published (dev validates), with
    label lists as targets, so that the model's labels are the dataset's label names."""
    from .datasets import load_dataset

    bunches = [load_dataset(name, data_dir, subset=s) for s in ("train", "dev", "test")]
    names = bunches[0].target_names
    return (
        *(bunch.data for bunch in bunches),
        *(_label_lists(bunch.target, names) for bunch in bunches),
    )


def _multilabel_split(X: list[str], labels: list[tuple[str, ...]], column: str) -> tuple:
    """The 60/20/20 split of texts and label lists, by iterative stratification; every label
    must reach the training part (the model knows only the labels it was trained on)."""
    import numpy as np

    from .splits import train_val_test_split

    names = sorted(set().union(*labels))
    if len(names) < 2:
        raise ValueError(
            f"column {column!r} holds {len(names)} distinct label(s) {names}: multi-label "
            "training needs at least two"
        )
    index = {name: j for j, name in enumerate(names)}
    Y = np.zeros((len(labels), len(names)), dtype=np.int8)
    for i, row in enumerate(labels):
        Y[i, [index[name] for name in row]] = 1
    X_train, X_val, X_test, Y_train, Y_val, Y_test = train_val_test_split(X, Y, random_state=0)
    unseen = [name for name, n in zip(names, Y_train.sum(axis=0), strict=True) if n == 0]
    if unseen:
        counts = {name: int(Y[:, index[name]].sum()) for name in unseen}
        raise ValueError(
            f"label(s) {unseen} never reach the training part of the 60/20/20 split (rows in "
            f"all: {counts}): the model could not learn or predict them; drop these labels "
            "or add texts that have them"
        )
    parts = (_label_lists(part, names) for part in (Y_train, Y_val, Y_test))
    return X_train, X_val, X_test, *parts


def _label_lists(Y, names: list[str]) -> list[tuple[str, ...]]:
    """Each row of the 0/1 indicator ``Y`` as the tuple of its labels' names."""
    import numpy as np

    return [tuple(names[j] for j in np.flatnonzero(row)) for row in Y]


def _check_separator(separator: str | None) -> None:
    if separator == "":
        raise ValueError("--label-separator must not be empty (for white space, pass ' ')")


def _export(args: argparse.Namespace) -> None:
    from .estimator import DANClassifier
    from .export import export_model

    check_writable_file(args.out, args.overwrite, inputs=[args.model])
    path = export_model(
        DANClassifier.load(args.model), args.out, quantize=args.quantize, overwrite=args.overwrite
    )
    print(f"wrote {path} ({path.stat().st_size / 1024:.0f} KiB)")


def _predict(args: argparse.Namespace) -> None:
    from .edge import EdgeClassifier

    _check_separator(args.label_separator)
    clf = EdgeClassifier.load(args.model, n_threads=args.threads)
    classes = clf.classes_.tolist()
    multilabel = clf.task == "multilabel"
    if args.label_separator is not None and not multilabel:
        raise ValueError(
            f"--label-separator applies to multi-label artifacts; {args.model} is a "
            f"{clf.task} one (one label per text)"
        )
    separator = args.label_separator or ","
    if multilabel:
        key, columns = "labels", [f"p_{label}" for label in classes]
        joined = [label for label in map(str, classes) if separator in label]
        if joined and args.format == "csv":
            raise ValueError(
                f"label {joined[0]!r} holds the separator {separator!r}, so the labels column "
                "would be ambiguous; pass another --label-separator, or --format jsonl"
            )
    else:  # binary: P(positive) only
        key, columns = "label", ["probability"] if len(classes) == 2 else classes
    path = None if args.file is None or str(args.file) == "-" else args.file  # -: stdin
    source = open(path, "rb") if path else sys.stdin  # noqa: SIM115
    with source:
        lines = _texts(source, path)
        texts = list(islice(lines, 1024))  # the input is opened and read before any output
        writer = csv.writer(sys.stdout, lineterminator="\n")
        if args.format == "csv":
            writer.writerow([key, *columns])
        while texts:
            proba = clf.predict_proba(texts)
            labels = clf.labels_from_proba(proba)
            labels = [list(s) for s in labels] if multilabel else labels.tolist()
            rows = proba[:, -len(columns) :].astype(float).round(6).tolist()
            for label, row in zip(labels, rows, strict=True):
                if args.format == "jsonl":
                    record = {key: label, **dict(zip(columns, row, strict=True))}
                    print(json.dumps(record, ensure_ascii=False))
                elif multilabel:
                    writer.writerow([separator.join(map(str, label)), *row])
                else:
                    writer.writerow([label, *row])
            texts = list(islice(lines, 1024))


def _explain(args: argparse.Namespace) -> None:
    """Each text's tokens with their contributions (:meth:`DANClassifier.explain`): one line
    a token, strongest first, or with ``--json`` one JSON line a text holding the pairs."""
    from .estimator import DANClassifier
    from .targets import MULTILABEL

    clf = DANClassifier.load(args.model)
    label = None
    if args.label is not None:  # the model's own labels, as typed on the command line
        names = {str(c): c for c in clf.classes_.tolist()}
        several = clf.y_type_ in MULTILABEL and "," in args.label
        asked = [names.get(name, name) for name in args.label.split(",")]
        label = asked if several else names.get(args.label, args.label)
    explained = clf.explain(args.texts, label=label)
    for text, pairs in zip(args.texts, explained, strict=True):
        if args.json:
            print(json.dumps({"text": text, "contributions": pairs}, ensure_ascii=False))
            continue
        print(text)
        for name, part in pairs.items() if isinstance(pairs, dict) else [(None, pairs)]:
            if name is not None:
                print(f"  label {name}")
            for token, value in sorted(part, key=lambda pair: -abs(pair[1]))[: args.top]:
                print(f"  {value:+9.4f}  {token}")


def _texts(source, path: Path | None):
    """The lines of ``predict``'s input as texts: without their line ends (``\\n``,
    ``\\r\\n``, ``\\r``) nor a byte-order mark, decoded as :func:`dan_dice.files.read_lines`
    says (UTF-8; a UTF-16 or UTF-32 mark is followed; invalid bytes read as latin-1 in their
    line, with a warning naming it). Standard input is read as bytes when it has them."""
    from .files import read_lines

    name = str(path) if path else "standard input"
    binary = source if path else getattr(source, "buffer", None)
    if binary is not None:
        yield from read_lines(binary, name)
        return
    for i, line in enumerate(source):  # a text stream without bytes (tests, embedding)
        line = line.removesuffix("\n").removesuffix("\r")
        yield line.removeprefix("\ufeff") if i == 0 else line


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="dan-dice",
        description="GloVe DAN text classifiers with Dice-family losses.",
        allow_abbrev=False,
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    commands.add_parser(  # listed here; main hands its options to run_experiments
        "experiments",
        help="reproduce the study (same as run_experiments.py; --help for its options)",
    )

    train = commands.add_parser(
        "train",
        help="fit a model on a 60/20/20 split (train / validation / test) and save it",
        description="Fit on the train part, stop early on the validation part, report test "
        "accuracy and F1 (of the positive class; macro for more classes), save the model.",
        allow_abbrev=False,
    )
    data = train.add_mutually_exclusive_group(required=True)
    data.add_argument(
        "--dataset",
        choices=("sms", "cyberbullying", "cyberbullying6", "stormfront", "goemotions"),
        help="a bundled dataset's loader (stormfront is split by post; goemotions is "
        "multi-label, trained on its train part, validated on dev, tested on test)",
    )
    data.add_argument("--csv", type=Path, metavar="FILE", help="a CSV file with a header row")
    train.add_argument("--data-dir", help="folder of the datasets (default: $DAN_DICE_DATA)")
    train.add_argument("--text-column", metavar="C", help="column of the texts (with --csv)")
    train.add_argument("--label-column", metavar="L", help="column of the labels (with --csv)")
    train.add_argument(
        "--label-separator",
        metavar="SEP",
        help="multi-label: each label cell is a list of labels separated by SEP, e.g. "
        "'joy,anger' with ','; an empty cell is no label (with --csv)",
    )
    train.add_argument("--out", type=Path, required=True, metavar="MODEL", help="model file")
    train.add_argument("--loss", help="loss name (default: the estimator's, ce)")
    train.add_argument(
        "--pooling",
        choices=options("pooling"),
        help="how word vectors are pooled (default: attention+max)",
    )
    train.add_argument(
        "--class-weight",
        choices=options("class_weight"),
        help="weigh the classes of the ce / bce loss inversely to their frequency",
    )
    train.add_argument("--epochs", type=int, help="most epochs (default: the estimator's)")
    train.add_argument("--lr", type=float, help="learning rate (default: the estimator's)")
    train.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    train.add_argument("--device", default="auto", choices=options("device"))
    train.add_argument(
        "--threshold",
        type=threshold_type(TUNED),
        metavar="{P,tune,tune_global}",
        help="decision threshold on P(positive), or 'tune' for the best validation F1 "
        "(multi-label: each label's own; 'tune_global': one for all labels; default: tune)",
    )
    train.add_argument("--overwrite", action="store_true", help="replace an existing MODEL")
    train.add_argument("--verbose", action="count", default=0, help="show training progress")
    train.set_defaults(handler=_train)

    export = commands.add_parser(
        "export",
        help="write a saved model as a small artifact for `dan-dice predict`",
        allow_abbrev=False,
    )
    export.add_argument("model", type=Path, metavar="MODEL", help="a model saved by `train`")
    export.add_argument("out", type=Path, metavar="OUT", help="the artifact to write")
    export.add_argument("--quantize", choices=("int8", "fp16"), help="store weights compactly")
    export.add_argument("--overwrite", action="store_true", help="replace an existing OUT")
    export.set_defaults(handler=_export)

    predict = commands.add_parser(
        "predict",
        help="classify texts, one per line, with an exported artifact (no torch needed)",
        allow_abbrev=False,
    )
    predict.add_argument("--model", type=Path, required=True, metavar="ARTIFACT")
    predict.add_argument(
        "file", nargs="?", type=Path, help="texts, one per line (default, or -: stdin)"
    )
    predict.add_argument(
        "--format",
        choices=("csv", "jsonl"),
        default="csv",
        help="csv: label and P(positive), or one probability column per class; multi-label: "
        "labels and one p_<label> column per label (default)",
    )
    predict.add_argument(
        "--label-separator",
        metavar="SEP",
        help="multi-label artifacts: join each text's labels with SEP in CSV (default: ',')",
    )
    predict.add_argument("--threads", type=int, default=1, help="CPU threads (default: 1)")
    predict.set_defaults(handler=_predict)

    explain = commands.add_parser(
        "explain",
        help="each word's contribution to a saved model's score of a class (exact occlusion)",
        description="For each text, every token's contribution: the change in the class's "
        "logit when that occurrence is left out (the positive class for two classes, the "
        "predicted one for more, --label for another, or for multi-label models).",
    )
    explain.add_argument("--model", type=Path, required=True, metavar="MODEL")
    explain.add_argument("texts", nargs="+", metavar="TEXT", help="texts to explain")
    explain.add_argument(
        "--label", help="the class to explain (multi-label: one label, or several joined by ',')"
    )
    explain.add_argument("--json", action="store_true", help="one JSON line a text, every pair")
    explain.add_argument(
        "--top", type=int, default=10, help="tokens shown a text, strongest first (default: 10)"
    )
    explain.set_defaults(handler=_explain)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["experiments"]:  # the suites parse their own options, --help included
        return run_guarded(lambda: run_experiments(argv[1:]), prog="dan-dice experiments")
    args = build_parser().parse_args(argv)
    return run_guarded(lambda: args.handler(args))


if __name__ == "__main__":
    sys.exit(main())
