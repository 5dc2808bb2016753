"""Training on a corpus larger than memory: ``partial_fit`` over chunks read from a file.

Cyberbullying's training texts (the fixed 60/20/20 split, ``random_state=0``) are drawn with
replacement and shuffled into CSV files of each ``--sizes`` count. For each, a fresh process
reads its file with ``pandas.read_csv(chunksize=...)`` and calls ``partial_fit`` once a chunk
(one pass over the file, the first call naming the classes, each call given the validation
part to re-tune the threshold), then scores the test part. The process's peak resident memory
(``ru_maxrss``) is what a fit of that size costs: it should not grow with the file.
Writes ``reports/streaming.md``.

    python benchmarks/streaming.py [--data-dir D] [--sizes 100000 1000000] [--chunk 50000]
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from dan_dice.cli import run_guarded
from dan_dice.files import atomic_write_text
from dan_dice.journal import code_fingerprint
from dan_dice.provenance import stamp
from dan_dice.reporting import to_markdown


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", help="folder with the datasets (default: $DAN_DICE_DATA)")
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--chunk", type=int, default=50_000, help="texts a partial_fit call")
    parser.add_argument("--work", type=Path, help="folder for the CSV files (default: a temp)")
    parser.add_argument("--report", default="reports/streaming.md")
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        return run_guarded(lambda: _stream(args))
    return run_guarded(lambda: _main(args))


def _split(data_dir: str | None) -> tuple:
    from dan_dice.datasets import load_cyberbullying
    from dan_dice.splits import train_val_test_split

    X, y = load_cyberbullying(data_dir, return_X_y=True)
    return train_val_test_split(X, y, random_state=0)


def _main(args: argparse.Namespace) -> None:
    X_train, _, _, y_train, _, _ = _split(args.data_dir)
    rows = []
    with tempfile.TemporaryDirectory(dir=args.work) as work:
        for size in args.sizes:
            rng = np.random.default_rng(size)
            pick = rng.integers(len(y_train), size=size)
            path = Path(work) / f"cyberbullying_{size}.csv"
            frame = pd.DataFrame({"text": np.asarray(X_train, dtype=object)[pick]})
            frame["label"] = y_train[pick]
            frame.to_csv(path, index=False)
            del frame, pick
            command = [sys.executable, __file__, "--child", str(path), "--chunk", str(args.chunk)]
            if args.data_dir:
                command += ["--data-dir", args.data_dir]
            done = subprocess.run(command, check=True, capture_output=True, text=True)
            rows.append({"texts": size, **json.loads(done.stdout.splitlines()[-1])})
            print(rows[-1], flush=True)
    table = pd.DataFrame(rows)
    table["texts"] = table["texts"].map("{:,}".format)
    ratio = rows[-1]["peak RSS (MiB)"] / rows[0]["peak RSS (MiB)"]
    text = "\n".join(
        [
            "# Streaming partial_fit over a file",
            "",
            f"`python benchmarks/streaming.py --sizes {' '.join(map(str, args.sizes))} "
            f"--chunk {args.chunk}`, code {code_fingerprint()}: one pass of `partial_fit` over "
            "cyberbullying training texts re-shuffled to each size, read with "
            f"`pandas.read_csv(chunksize={args.chunk})`, in a fresh process each.",
            "",
            to_markdown(table),
            "",
            f"Peak RSS at {rows[-1]['texts']:,} texts is {ratio:.2f}× that at "
            f"{rows[0]['texts']:,}.",
            "",
        ]
    )
    atomic_write_text(Path(args.report), stamp(text, Path(__file__)))
    print(text)


def _stream(args: argparse.Namespace) -> None:
    from dan_dice import DANClassifier

    _, X_val, X_test, _, y_val, y_test = _split(args.data_dir)
    clf = DANClassifier(random_state=0)
    start = time.perf_counter()
    for chunk in pd.read_csv(args.child, chunksize=args.chunk, keep_default_na=False):
        texts, labels = chunk["text"].astype(str).tolist(), chunk["label"].to_numpy()
        clf.partial_fit(texts, labels, classes=[0, 1], validation_data=(X_val, y_val))
    seconds = time.perf_counter() - start
    predicted = clf.predict(X_test)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # ru_maxrss is in KiB on Linux
    record = {
        "peak RSS (MiB)": round(peak, 1),
        "seconds": round(seconds, 1),
        "partial_fit calls": len(clf.history_),
        "vocabulary": len(clf.vocabulary_),
        "threshold": round(float(clf.threshold_), 4),
        "test F1": _f1(y_test, predicted),
    }
    print(json.dumps(record))


def _f1(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    from sklearn.metrics import f1_score

    return round(float(f1_score(y_true, y_pred)), 4)


if __name__ == "__main__":
    raise SystemExit(main())
