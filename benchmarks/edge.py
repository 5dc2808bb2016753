#!/usr/bin/env python
"""Edge benchmark: the issue's runtime targets, measured on one thread from raw text.

Trains a DAN with the estimator's defaults (attention+max pooling) and one with mean pooling
on each study dataset (SMS, cyberbullying; the 60/20/20 split, random_state=0), exports each at
every quantization (fp32, int8, fp16) and measures each artifact with
:class:`dan_dice.edge.EdgeClassifier` on both executors (onnxruntime, numpy) beside the torch
estimator: artifact size, load time, single-message latency (p50, p99), batch throughput, the
peak resident memory of a fresh process that loads the artifact and predicts, and test F1.
Latency and throughput are from raw text (tokenization included), after a warm-up on the
training texts (as one batch, then one at a time), timed on the unseen test texts. A small
profile splits each call into tokenising, the executor and the rest, and the peak memory into
imports, load and prediction, so that a missed target says why. ``--before`` adds the ratio
to each earlier report's throughput and latency (issue 22 asks for 3x the runtime of its
filing, 250c2b9's; 0.1's, with mean pooling, is the other usual baseline). Writes
``reports/edge.md``.

    python benchmarks/edge.py [--data-dir DIR] [--report reports/edge.md]
                              [--before OLD.md [OLD.md ...]] [--quick]

``--quick`` is a smoke test of this script: a subset of the texts, 3 epochs, few repeats.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import onnxruntime
import torch
from threadpoolctl import threadpool_limits

from dan_dice import DANClassifier, __version__
from dan_dice.cli import run_guarded
from dan_dice.datasets import DATASETS, load_dataset
from dan_dice.edge import EdgeClassifier
from dan_dice.export import QUANTIZATIONS, export_model
from dan_dice.files import atomic_write_text
from dan_dice.machine import cpu_name
from dan_dice.metrics import scores
from dan_dice.persistence import save_model
from dan_dice.provenance import stamp
from dan_dice.splits import train_val_test_split

ROOT = Path(__file__).resolve().parents[1]
BATCH = 1024
DEFAULTS = DANClassifier().pooling
POOLINGS = (DEFAULTS, "mean")
"""The models of each dataset: the estimator's defaults, then mean pooling (dan-dice 0.1's)."""
EXECUTORS = ("onnxruntime", "numpy")
TARGETS = {"texts_per_s": 300_000, "p50_us": 30.0, "rss_mb": 64.0, "size_mb": 1.0, "f1_gap": 0.005}
"""Issue 22's targets for the defaults' artifacts: throughput at least (its goal; the floor is
3x an earlier runtime, see ``--before``), the others at most (p50: its goal is 15 µs; size:
the int8 artifact; F1 gap: any artifact against the torch model)."""
QUICK = {"train": 3000, "val": 1000, "test": 2000, "max_epochs": 3}
"""``--quick``: the first texts of each part, and the most epochs of the fit."""

RSS_SCRIPT = """
import itertools, json, resource, sys

def peak():  # Linux: ru_maxrss would count the parent's pages that the child had before exec
    try:
        with open("/proc/self/status") as status:
            return next(int(line.split()[1]) for line in status if line.startswith("VmHWM"))
    except OSError:  # not Linux: macOS, which reports bytes
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024

if sys.argv[1] == "torch":
    from dan_dice import DANClassifier
    load = DANClassifier.load
else:
    from dan_dice.edge import EdgeClassifier
    load = lambda path: EdgeClassifier.load(path, executor=sys.argv[1])
marks = [peak()]
model = load(sys.argv[2])
marks.append(peak())
with open(sys.argv[3], encoding="utf-8") as lines:  # streamed, as a service would
    while texts := [json.loads(line) for line in itertools.islice(lines, 1024)]:
        model.predict_proba(texts)
assert sys.argv[1] == "torch" or "torch" not in sys.modules
assert sys.argv[1] != "numpy" or "onnxruntime" not in sys.modules
print(*marks, peak())
"""
"""Prints the peak resident set (KiB) after the imports, after loading and after predicting."""


def measure(load: Callable[[], object], X_warm: list[str], X_test, y_test, messages, repeats):
    """Load time, single-message latency, batch throughput and test F1 of one predictor."""
    load_times = []
    for _ in range(3):
        start = time.perf_counter()
        model = load()
        load_times.append(time.perf_counter() - start)
    model.predict_proba(X_warm)  # batches are served from the vocabulary's chunk table,
    for text in X_warm:  # single messages from its memo: each path warmed as it is used
        model.predict_proba([text])
    latencies = []
    for text in messages:
        start = time.perf_counter_ns()
        model.predict_proba([text])
        latencies.append(time.perf_counter_ns() - start)
    runs = []
    for _ in range(repeats):
        start = time.perf_counter()
        for i in range(0, len(X_test), BATCH):
            model.predict_proba(X_test[i : i + BATCH])
        runs.append(time.perf_counter() - start)
    codes = [np.searchsorted(model.classes_, y) for y in (y_test, model.predict(X_test))]
    return model, {
        "load_ms": 1e3 * float(np.median(load_times)),
        "p50_us": float(np.percentile(latencies, 50)) / 1e3,
        "p99_us": float(np.percentile(latencies, 99)) / 1e3,
        "texts_per_s": len(X_test) / min(runs),
        "f1": scores(*codes, n_classes=len(model.classes_))["f1"],
    }


class _Clocked:
    """A stand-in for ``target`` that adds the time of each call (of ``target`` itself, or of
    its ``methods``) to ``tally[key]``, and passes everything else through."""

    def __init__(self, target: object, methods: tuple[str, ...], tally: dict, key: str):
        self._target, self._methods, self._tally, self._key = target, methods, tally, key

    def __call__(self, *args, **kwargs):
        return self._timed(self._target)(*args, **kwargs)

    def __getattr__(self, name: str):
        attribute = getattr(self._target, name)
        return self._timed(attribute) if name in self._methods else attribute

    def _timed(self, function: Callable) -> Callable:
        def timed(*args, **kwargs):
            start = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                self._tally[self._key] += time.perf_counter() - start

        return timed


def time_split(model: EdgeClassifier, X_test: list[str], messages: list[str], repeats: int):
    """Microseconds per text spent tokenising, in the executor (padding, the onnxruntime session
    or numpy's arrays) and in the rest (checks): in batches over the test set (the fastest of
    ``repeats`` runs), and for single messages (medians per message)."""
    tally = {"tokenise": 0.0, "executor": 0.0}
    methods = ("encode_array", "encode_batch")
    model.vocabulary = _Clocked(model.vocabulary, methods, tally, "tokenise")
    model._executor = _Clocked(model._executor, (), tally, "executor")

    def parts(call: Callable[[], object], n_texts: int) -> list[float]:
        tally.update(tokenise=0.0, executor=0.0)
        start = time.perf_counter()
        call()
        rest = time.perf_counter() - start - sum(tally.values())
        return [1e6 * seconds / n_texts for seconds in (*tally.values(), rest)]

    def batches() -> None:
        for i in range(0, len(X_test), BATCH):
            model.predict_proba(X_test[i : i + BATCH])

    batch = min((parts(batches, len(X_test)) for _ in range(repeats)), key=sum)
    single = np.median([parts(lambda t=t: model.predict_proba([t]), 1) for t in messages], 0)
    names = ("tokenise", "executor", "rest")
    return {
        "batch": dict(zip(names, batch, strict=True)),
        "single": dict(zip(names, single, strict=True)),
    }


def peak_rss_mb(kind: str, path: Path, texts_file: Path) -> list[float]:
    """Peak resident memory (MB) of a fresh process that loads ``path`` and predicts every
    text: after its imports, after loading, and at the end."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}
    env["PYTHONPATH"] = str(ROOT)
    command = [sys.executable, "-c", RSS_SCRIPT, kind, str(path), str(texts_file)]
    output = subprocess.run(command, check=True, capture_output=True, text=True, env=env).stdout
    return [int(kib) / 1024 for kib in output.split()[-3:]]


def benchmark(name: str, args, folder: Path) -> list[dict]:
    """The rows of one dataset: for each pooling, torch eager, then the artifact at each
    quantization on each executor."""
    X, y = load_dataset(name, args.data_dir, return_X_y=True)
    parts = train_val_test_split(X, y, random_state=0)
    params = {"random_state": 0}
    if args.quick:  # the first texts of each part, as many as QUICK says
        sizes = [QUICK[part] for part in ("train", "val", "test") * 2]
        parts = [part[:n] for part, n in zip(parts, sizes, strict=True)]
        params["max_epochs"] = QUICK["max_epochs"]
    X_train, X_val, X_test, y_train, y_val, y_test = parts
    rng = np.random.default_rng(0)
    pick = rng.choice(len(X_test), args.messages, replace=len(X_test) < args.messages)
    messages = [X_test[i] for i in pick]
    texts_file = folder / f"{name}.jsonl"
    texts_file.write_text("".join(json.dumps(t) + "\n" for t in X_train + X_test), "utf-8")
    data = (X_train, X_test, y_test, messages, args.repeats)
    rows = []
    for pooling in POOLINGS:
        start = time.perf_counter()
        clf = DANClassifier(pooling=pooling, **params)
        clf.fit(X_train, y_train, validation_data=(X_val, y_val))
        print(f"{name} {pooling}: trained in {time.perf_counter() - start:.0f} s", file=sys.stderr)
        model_path = save_model(clf, folder / f"{name}-{pooling}.model")
        _, measured = measure(lambda p=model_path: DANClassifier.load(p), *data)
        rss = peak_rss_mb("torch", model_path, texts_file)
        torch_f1 = measured["f1"]
        row = {"runtime": "torch eager", "size_mb": model_path.stat().st_size / 1e6, **measured}
        rows.append(row | {"pooling": pooling, "rss_mb": rss[-1], "rss_stages": rss})
        for quantize in QUANTIZATIONS:
            weights = quantize or "fp32"
            path = export_model(clf, folder / f"{name}-{pooling}-{weights}.dan", quantize=quantize)
            for executor in EXECUTORS:
                model, measured = measure(
                    lambda p=path, e=executor: EdgeClassifier.load(p, executor=e), *data
                )
                rss = peak_rss_mb(executor, path, texts_file)
                row = {"runtime": f"{executor} {weights}", "size_mb": path.stat().st_size / 1e6}
                row |= {**measured, "rss_mb": rss[-1], "rss_stages": rss, "pooling": pooling}
                row |= {"quantization": weights, "executor": executor}
                row |= {"f1_gap": abs(measured["f1"] - torch_f1)}
                rows.append(row | {"split": time_split(model, X_test, messages, args.repeats)})
    return [{"dataset": name, "n_test": len(X_test), **row} for row in rows]


def read_before(path: Path) -> dict[tuple[str, str], dict[str, float]]:
    """Throughput and p50 latency of the onnxruntime rows of the defaults in an earlier
    ``reports/edge.md`` (of this release or of 0.1, whose table has no pooling column), by
    (dataset, weights)."""
    before = {}
    for line in path.read_text("utf-8").split("\n## ")[0].splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if len(cells) == 9:  # dataset, runtime, then the figures
            cells.insert(1, DEFAULTS)
        if len(cells) != 10 or cells[1] != DEFAULTS or not cells[2].startswith("onnxruntime "):
            continue
        p50, throughput = cells[-5], cells[-3]
        before[cells[0], cells[2].split()[1]] = {
            "p50_us": float(p50.split()[0]),
            "texts_per_s": float(throughput.split()[0].replace(",", "")),
        }
    return before


def _verdict(value: float, target: float, at_least: bool, form: str) -> str:
    """``met``, or by how much ``value`` misses ``target``."""
    if (value >= target) if at_least else (value <= target):
        return "met"
    return f"missed by {form.format(abs(value - target))} ({abs(value / target - 1):.0%})"


def _why(row: dict, key: str) -> str:
    """What a miss of the target ``key`` comes from, from the row's profile."""
    if key == "rss_mb":
        imports, load, end = row["rss_stages"]
        return f"imports {imports:.0f} MB, +{load - imports:.0f} load, +{end - load:.0f} predicting"
    if key == "size_mb":
        return ""
    part = row["split"]["single" if key == "p50_us" else "batch"]
    total = sum(part.values())
    return ", ".join(f"{k} {v / total:.0%}" for k, v in sorted(part.items(), key=lambda i: -i[1]))


CHECKS = (
    (
        f"batch throughput ≥ {TARGETS['texts_per_s']:,} texts/s",
        "texts_per_s",
        True,
        "{:,.0f} texts/s",
    ),
    (f"p50 single-message latency ≤ {TARGETS['p50_us']:g} µs", "p50_us", False, "{:.1f} µs"),
    (f"peak RSS ≤ {TARGETS['rss_mb']:g} MB", "rss_mb", False, "{:.1f} MB"),
    (f"int8 artifact ≤ {TARGETS['size_mb']:g} MB", "size_mb", False, "{:.2f} MB"),
    (f"F1 gap to torch ≤ {TARGETS['f1_gap']:g}", "f1_gap", False, "{:.4f}"),
)
"""(target, key in ``TARGETS`` and the rows, whether it is a floor, format of its values)."""


def _ratios(row: dict, before: dict) -> str:
    """Throughput and p50 against the earlier report's onnxruntime row (``×`` faster)."""
    old = before.get((row["dataset"], row.get("quantization")))
    if old is None:
        return "| | "
    return (
        f"| {row['texts_per_s'] / old['texts_per_s']:.2f}× | {old['p50_us'] / row['p50_us']:.2f}× "
    )


def render(rows: list[dict], args, command: str, started: str, befores: dict) -> str:
    """The report: the table of every row, the targets, the ratios to each earlier report
    in ``befores`` (by path) and the profile."""
    edge = [r for r in rows if "split" in r]
    table = [
        f"| {r['dataset']} | {r['pooling']} | {r['runtime']} | {r['size_mb']:.2f} MB "
        f"| {r['load_ms']:.0f} ms | {r['p50_us']:.1f} µs | {r['p99_us']:.1f} µs "
        f"| {r['texts_per_s']:,.0f} texts/s | {r['rss_mb']:.0f} MB | {r['f1']:.4f} |"
        for r in rows
    ]
    checks = [*CHECKS]
    for n, (path, before) in enumerate(befores.items()):
        key = f"speedup {path}"
        checks.insert(1 + n, (f"batch throughput ≥ 3× `{path}`", key, True, "{:.2f}×"))
        for r in edge:
            old = before.get((r["dataset"], r["quantization"]))
            if old is not None:
                r[key] = r["texts_per_s"] / old["texts_per_s"]
    targets, tally = [], {}
    for what, key, at_least, form in checks:
        for r in edge:
            if r["pooling"] != DEFAULTS or key not in r:
                continue
            if key == "size_mb" and r["quantization"] != "int8":
                continue
            speedup = key.startswith("speedup")
            target = 3.0 if speedup else TARGETS[key]
            verdict = _verdict(r[key], target, at_least, form)
            counts = tally.setdefault(what, [0, 0, 0, 0])  # met, rows; met, rows of numpy
            counts[0] += verdict == "met"
            counts[1] += 1
            if r["executor"] == "numpy":
                counts[2] += verdict == "met"
                counts[3] += 1
            why = _why(r, key) if verdict != "met" and not speedup else ""
            targets.append(
                f"| {what} | {r['dataset']} {r['runtime']} | {form.format(r[key])} "
                f"| {verdict} | {why} |"
            )
    split = []
    for r in edge:
        b, s = r["split"]["batch"], r["split"]["single"]
        split.append(
            f"| {r['dataset']} | {r['pooling']} | {r['runtime']} "
            + "".join(f"| {v:.2f} µs " for v in (sum(b.values()), *b.values()))
            + "".join(f"| {v:.1f} µs " for v in (sum(s.values()), *s.values()))
            + "| "
            + " / ".join(f"{v:.0f}" for v in r["rss_stages"])
            + " MB |"
        )
    speed = []
    for path, before in befores.items():
        speed += [
            "",
            f"## Against the earlier report `{path}`",
            "",
            "Throughput and p50 latency of each artifact of the defaults over the earlier "
            "report's onnxruntime row of the same dataset and weights (above 1: faster now). "
            "Compare only runs made on one machine, as close in time as may be.",
            "",
            "| dataset | runtime | throughput | p50 latency |",
            "|---|---|---:|---:|",
            *[
                f"| {r['dataset']} | {r['runtime']} " + _ratios(r, before) + "|"
                for r in edge
                if r["pooling"] == DEFAULTS
            ],
        ]
    loads = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    tests = {r["dataset"]: r["n_test"] for r in rows}
    return "\n".join(
        [
            "# Edge runtime benchmark",
            "",
            f"Command: `{command}`  ",
            f"Date: {started} (UTC)  ",
            f"Machine: {platform.platform()}, {cpu_name()}, {os.cpu_count()} CPUs, load average "
            f"{loads} at the end (1, 5, 15 min)  ",
            f"Versions: dan_dice {__version__}, Python {platform.python_version()}, torch "
            f"{torch.__version__}, onnxruntime {onnxruntime.__version__}, numpy {np.__version__}",
            "",
            "**Quick mode: a subset of the texts, 3 epochs; a smoke test, not the benchmark.**\n"
            if args.quick
            else "",
            "One CPU thread everywhere (`torch.set_num_threads(1)`, onnxruntime "
            "`intra_op_num_threads=1`, numpy's BLAS limited to one thread). "
            f"`DANClassifier(random_state=0)` (the estimator's defaults: {DEFAULTS} pooling) "
            'and `DANClassifier(pooling="mean", random_state=0)` on the 60/20/20 split; test '
            "sets of "
            + ", ".join(f"{n:,} {name}" for name, n in tests.items())
            + " texts. Each artifact on each executor: `EdgeClassifier.load(path, "
            "executor=...)`. Latency: one `predict_proba([text])` call per message from raw "
            f"text (tokenization included), {args.messages:,} messages drawn from the test set; "
            f"throughput: the whole test set in batches of {BATCH} raw texts, best of "
            f"{args.repeats} runs; both after a warm-up on the training texts, predicted as one "
            "batch, then one at a time (the runtime looks chunks up in a table for batches and "
            "in a memo for single messages: each is warmed as it is used). Load: median of "
            "3. Peak RSS: high-water mark (`VmHWM`) of a fresh process that loads the model and "
            "predicts the training and test texts (the edge process never imports torch, the "
            "numpy one not onnxruntime either). Torch rows: the estimator loaded from a "
            "`save_model` file.",
            "",
            "| dataset | pooling | runtime | artifact | load | p50 latency | p99 latency "
            "| throughput | peak RSS | test F1 |",
            "|---|---|---|---:|---:|---:|---:|---:|---:|---:|",
            *table,
            "",
            "## Targets",
            "",
            f"Each artifact of the defaults ({DEFAULTS}) on each executor; a miss names where "
            "the time (the profile below) or the memory goes.",
            "",
            "| target | met: every row | met: numpy, the default executor |",
            "|---|---:|---:|",
            *[f"| {what} | {a} of {b} | {c} of {d} |" for what, (a, b, c, d) in tally.items()],
            "",
            "Numpy is the executor `EdgeClassifier.load(path)` picks on one thread "
            '(`executor="auto"`); the onnxruntime rows are `executor="onnxruntime"`.',
            "",
            "| target | dataset, runtime | measured | verdict | where it goes |",
            "|---|---|---:|---|---|",
            *targets,
            *speed,
            "",
            "## Where the time and memory go",
            "",
            "Each call split by timers around the runtime's tokenizer (`encode_array`, "
            "`encode_batch`) and its executor (padding and the onnxruntime session, or numpy's "
            "arrays); the rest is input checks. Batch: per text over the test set, the fastest "
            "of the runs; single: medians per message, each part's own (a timer adds about "
            "0.3 µs a call). Peak RSS after the imports / after loading the artifact / after "
            "predicting.",
            "",
            "| dataset | pooling | runtime | batch: total | tokenise | executor | rest "
            "| single: total | tokenise | executor | rest | peak RSS stages |",
            "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
            *split,
            "",
        ]
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data-dir", help="folder of the datasets (default: $DAN_DICE_DATA)")
    parser.add_argument("--report", "--out", type=Path, default=Path("reports/edge.md"))
    parser.add_argument("--messages", type=int, help="single-message calls (default 3000)")
    parser.add_argument("--repeats", type=int, help="throughput runs, best kept (default 10)")
    parser.add_argument(
        "--before", type=Path, nargs="+", default=[], help="earlier edge reports to compare with"
    )
    parser.add_argument("--quick", action="store_true", help="smoke test: a subset of the texts")
    args = parser.parse_args()
    args.messages = (300 if args.quick else 3000) if args.messages is None else args.messages
    args.repeats = (2 if args.quick else 10) if args.repeats is None else args.repeats
    if min(args.messages, args.repeats) < 1:
        raise ValueError("--messages and --repeats must be at least 1")
    befores = {path: read_before(path) for path in args.before}
    torch.set_num_threads(1)
    threadpool_limits(1)  # numpy's BLAS
    started = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M")
    with tempfile.TemporaryDirectory() as tmp:
        rows = [row for name in DATASETS for row in benchmark(name, args, Path(tmp))]
    report = render(rows, args, " ".join(["python", *sys.argv]), started, befores)
    atomic_write_text(args.report, stamp(report, Path(__file__)))
    print(report)
    return 0


if __name__ == "__main__":
    sys.exit(run_guarded(main, prog="benchmarks/edge.py"))
