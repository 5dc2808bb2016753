"""Training speed on one thread: a DAN epoch against a fastText epoch, and the full default run.

On the cyberbullying training split (``study_data.load_split``), in one process: the one-off
costs; one DAN epoch of ``training.train`` (training pass, validation scoring, best-state
copy; the training set is not rescored) for the study's network (``STUDY_PARAMS``: mean
pooling) and the estimator's defaults (attention+max), beside one fastText epoch on the same
texts, each the median of ``--repeats`` runs; a cProfile of a short fit of each network (the
parts of a training step and of the fit). ``--full`` times ``python run_experiments.py`` (its
defaults) in a temporary folder; ``--experiments-log FILE`` reads that time from the saved
output of such a run instead. ``--quick``: a subset of the texts and 2 repeats, a smoke test
(with ``--full``, of ``run_experiments.py --quick``). Writes ``reports/speed.md``.

    python benchmarks/speed.py [--data-dir D] [--repeats 5] [--quick] [--full | --experiments-log F]
"""

from __future__ import annotations

import argparse
import copy
import cProfile
import dataclasses
import json
import math
import os
import pstats
import re
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from datetime import datetime
from pathlib import Path

import pandas as pd
import torch
from sklearn.base import clone
from threadpoolctl import threadpool_limits

from dan_dice.cli import run_guarded
from dan_dice.embeddings import embedding_matrix, load_word_vectors
from dan_dice.estimator import DANClassifier
from dan_dice.experiments import JOURNAL, STUDY_LOSSES, Config
from dan_dice.files import atomic_write_text
from dan_dice.losses import get_loss
from dan_dice.machine import environment
from dan_dice.model import DAN
from dan_dice.peers import FastTextClassifier
from dan_dice.reporting import to_markdown
from dan_dice.study_data import load_split
from dan_dice.text import Vocabulary, build_vocabulary, encode_corpus, tokenize
from dan_dice.training import CollapseWarning, PackedTexts, evaluate, score_logits, train

ROOT = Path(__file__).resolve().parents[1]
EPOCH_TARGET, EPOCH_GOAL = 2.0, 1.0
"""A DAN epoch may take at most this many fastText epochs on the same texts (target, goal)."""
FULL_RUN_TARGET, FULL_RUN_GOAL = 180.0, 120.0
"""Seconds the full default ``run_experiments.py`` may take on the 2-core machine."""
QUICK_TEXTS = {"train": 4000, "val": 1500}
NETWORKS = {
    "study (mean pooling)": Config().estimator(STUDY_LOSSES[0], 0),
    "estimator defaults (attention+max)": DANClassifier(),
}
"""The networks timed: the study grid's (``Config.estimator``) and ``DANClassifier()``'s."""
STEPS = {
    ("training.py", "take"): "batch packing (PackedTexts.take)",
    ("module.py", "_wrapped_call_impl"): "forward, network",
    ("_tensor.py", "backward"): "backward (Tensor.backward)",
    ("_compile.py", "inner"): "zero_grad",
    ("optimizer.py", "wrapper"): "optimiser steps (fused Adam + SparseAdam)",
    ("training.py", "score_logits"): "running training scores (once an epoch)",
    ("training.py", "evaluate"): "validation scoring (once an epoch)",
    ("copy.py", "deepcopy"): "best-state copy (deepcopy)",
    ("training.py", "make_optimizers"): "optimiser set-up (once a fit)",
}
"""Direct callees of ``train`` in the profile, by (file, function), and what they are."""
WHY_MISSED = (
    "Why a DAN epoch costs several fastText epochs: fastText trains in one fused C++ loop of "
    "SGD (an averaged bag of vectors, one linear layer, no framework between steps), while a "
    "DAN step is a few dozen torch operations, each with its own dispatch and memory pass: the "
    "bag average, three 256/128/64-wide ReLU layers with dropout, forward and "
    "backward, the fused Adam over the dense layers and SparseAdam over the fine-tuned "
    "embedding rows, whose sparse gradient it must first coalesce (a sort). Freezing the "
    "embeddings would drop the last part and cost validation F1 on every task "
    "(`reports/defaults.md`). The full run is the sum of its fits: 30 runs of 3 learning rates, "
    "up to 30 epochs each, on 2 cores."
)
"""The reasons the epoch ratio stays above its target, for the report."""
FIRST_OPTIMIZER = (
    "import time, torch; p = [torch.nn.Parameter(torch.zeros(1))]; t = time.perf_counter(); "
    "torch.optim.Adam(p, fused=True); print(time.perf_counter() - t)"
)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", help="folder with the datasets (default: $DAN_DICE_DATA)")
    parser.add_argument("--repeats", type=int, help="runs per timing (median; default 5, quick 2)")
    parser.add_argument("--quick", action="store_true", help="smoke test: a subset, 2 repeats")
    full = parser.add_mutually_exclusive_group()
    full.add_argument("--full", action="store_true", help="time the full default experiments")
    full.add_argument("--experiments-log", help="saved output of `python run_experiments.py`")
    parser.add_argument("--report", default="reports/speed.md")
    args = parser.parse_args()
    args.repeats = (2 if args.quick else 5) if args.repeats is None else args.repeats
    if args.repeats < 1:
        raise ValueError("--repeats must be at least 1")
    if args.experiments_log and not Path(args.experiments_log).is_file():
        raise ValueError(f"--experiments-log: no file {args.experiments_log}")

    torch.set_num_threads(1)
    about = f"{datetime.now():%Y-%m-%d %H:%M}; {environment()}"
    with threadpool_limits(1):
        split = load_split("cyberbullying", args.data_dir)
        if args.quick:
            sizes = {f"{a}_{p}": n for p, n in QUICK_TEXTS.items() for a in "Xy"}
            split = dataclasses.replace(
                split, **{k: getattr(split, k)[:n] for k, n in sizes.items()}
            )
        preprocessing = _preprocessing(split.X_train)
        dan = {name: _dan_epoch(split, clf, args.repeats) for name, clf in NETWORKS.items()}
        fasttext = {n: _fasttext_epoch(split, n, args.repeats) for n in (1, 2)}
        epochs = 1 if args.quick else 2
        profiles = {name: _profile(split, clf, epochs) for name, clf in NETWORKS.items()}
    full_run = _full_run(args) if args.full or args.experiments_log else None
    command = "python benchmarks/speed.py " + " ".join(sys.argv[1:])
    made = f"`{command.strip()}` on {about}"
    text = _render(made, args, split, preprocessing, dan, fasttext, profiles, full_run)
    atomic_write_text(Path(args.report), text)
    print(text)
    return 0


def _timed(function, *args, **kwargs) -> tuple[float, object]:
    start = time.perf_counter()
    result = function(*args, **kwargs)
    return time.perf_counter() - start, result


def _preprocessing(X: list[str]) -> dict[str, float]:
    """Seconds of each one-off step on the training texts (run once, cold caches)."""
    seconds = {}
    first = subprocess.run([sys.executable, "-c", FIRST_OPTIMIZER], capture_output=True, text=True)
    seconds["torch: first optimiser of a process (imports torch._dynamo)"] = float(first.stdout)
    seconds["DAN: GloVe table load (once per process)"], vectors = _timed(load_word_vectors)
    seconds["DAN: tokenise + count (Vocabulary.build)"], vocabulary = _timed(Vocabulary.build, X)
    seconds["DAN: encode to ids (encode_batch, cold)"], _ = _timed(vocabulary.encode_batch, X)
    seconds["DAN: encode to ids (encode_batch, warm)"], _ = _timed(vocabulary.encode_batch, X)
    seconds["DAN: embedding rows (embedding_matrix)"], _ = _timed(
        embedding_matrix, vocabulary, vectors
    )
    build_vocabulary(tuple(X))  # what a fit does: memoised for every later fit on these texts
    encode_corpus(build_vocabulary(tuple(X)), tuple(X))
    seconds["DAN: a refit's tokenise + encode (memoised: build_vocabulary, encode_corpus)"], _ = (
        _timed(lambda: encode_corpus(build_vocabulary(tuple(X)), tuple(X)))
    )
    lines = lambda: [" ".join(tokenize(text)) for text in X]  # noqa: E731, as peers.py does
    seconds["fastText: tokenise to lines (tokenize)"], _ = _timed(lines)
    return seconds


def _dan_epoch(split, clf: DANClassifier, repeats: int) -> dict[str, float]:
    """Median seconds of one epoch of ``train`` with ``clf``'s network and settings, from a fresh
    model, and of its parts timed apart on the trained model: validation scoring (``evaluate``,
    with the threshold search when it is tuned), the state copy, the running training scores;
    the training pass is the epoch less the first two."""
    vocabulary = Vocabulary.build(split.X_train, min_count=clf.min_count)
    matrix, _ = embedding_matrix(vocabulary, load_word_vectors(clf.embeddings))
    cpu = torch.device("cpu")
    train_data = PackedTexts.from_numpy(*vocabulary.encode_batch(split.X_train), split.y_train, cpu)
    val_data = PackedTexts.from_numpy(*vocabulary.encode_batch(split.X_val), split.y_val, cpu)
    loss_fn = get_loss(clf.loss, split.y_train, 2, clf.loss_params)
    settings = {"n_classes": 2, "max_epochs": 1, "lr": clf.lr, "batch_size": clf.batch_size}
    settings |= {"weight_decay": clf.weight_decay, "threshold": clf.threshold}
    network = {k: getattr(clf, k) for k in ("dropout", "word_dropout", "freeze_embeddings")}
    network["pooling"] = clf.pooling
    runs = []
    for seed in range(repeats + 1):  # the first run warms torch up and is dropped
        torch.manual_seed(seed)
        model = DAN(matrix, hidden_sizes=tuple(clf.hidden_sizes), **network)
        epoch, _ = _timed(train, model, loss_fn, train_data, val_data, **settings)
        scoring, _ = _timed(evaluate, model, loss_fn, val_data, 2, clf.threshold)
        copying, _ = _timed(lambda m=model: copy.deepcopy(m.state_dict()))
        logits = torch.randn(len(train_data))
        running, _ = _timed(score_logits, logits, train_data.y, 2, 0.5, search=False)
        runs.append((epoch, scoring, copying, running))
    epoch, scoring, copying, running = (statistics.median(r[i] for r in runs[1:]) for i in range(4))
    return {
        "epoch_s": epoch,
        "training_pass_s": epoch - scoring - copying,
        "↳ running_scores_s": running,
        "validation_scoring_s": scoring,
        "best_state_copy_s": copying,
        "steps": math.ceil(len(train_data) / clf.batch_size),
    }


def _fasttext_epoch(split, word_ngrams: int, repeats: int) -> dict[str, float]:
    """Median seconds in ``train_supervised`` for 1 and 5 epochs; an epoch is their slope (NaN
    when noise makes it 0 or less)."""

    def seconds(epochs: int) -> float:
        return statistics.median(
            FastTextClassifier(epoch=epochs, word_ngrams=word_ngrams, random_state=seed)
            .fit(split.X_train, split.y_train)
            .train_seconds_
            for seed in range(repeats)
        )

    one, five = seconds(1), seconds(5)
    slope = (five - one) / 4
    return {"epoch_s": slope if slope > 0 else math.nan, "train_supervised(epoch=1)_s": one}


def _profile(split, clf: DANClassifier, epochs: int) -> dict:
    """cProfile of ``clf.fit`` for ``epochs`` epochs: the share of ``fit`` and of ``train`` in
    each function they call directly (the time of those calls only); the loss, a module called
    like the network, is told apart by its ``forward``."""
    clf = clone(clf).set_params(max_epochs=epochs, patience=epochs, device="cpu", random_state=0)
    profiler = cProfile.Profile()
    with warnings.catch_warnings():  # a fit of an epoch or two may well collapse
        warnings.simplefilter("ignore", CollapseWarning)
        profiler.runcall(
            clf.fit, split.X_train, split.y_train, validation_data=(split.X_val, split.y_val)
        )
    stats = pstats.Stats(profiler).stats
    fit, loop = _function(stats, "estimator.py", "fit"), _function(stats, "training.py", "train")
    parts = _callees(stats, loop, STEPS)
    loss = sum(v[3] for k, v in stats.items() if k[0].endswith("losses.py") and k[2] == "forward")
    parts[STEPS["module.py", "_wrapped_call_impl"]] -= loss
    parts["forward, loss"] = loss
    order = list(STEPS.values())
    order.insert(order.index(STEPS["module.py", "_wrapped_call_impl"]) + 1, "forward, loss")
    return {
        "epochs": epochs,
        "fit_s": stats[fit][3],
        "fit": _shares(_callees(stats, fit, {}), stats[fit][3], ()),
        "train": _shares(parts, stats[loop][3], order),
        "steps": stats[_function(stats, "training.py", "take")][4][loop][1],
    }


def _function(stats: dict, file: str, name: str) -> tuple:
    """The profile's key of the function ``name`` defined in a file named ``file``."""
    found = [k for k in stats if k[0].endswith(file) and k[2] == name]
    if not found:
        raise RuntimeError(f"the profile has no {file}:{name}")
    return found[0]


def _callees(stats: dict, caller: tuple, names: dict) -> dict[str, float]:
    """Seconds of ``caller``'s calls to each function, labelled by ``names[file, function]``
    (else ``file:function``)."""
    rows: dict[str, float] = {}
    for (file, _, function), (*_, callers) in stats.items():
        if caller in callers:
            label = names.get((Path(file).name, function), f"`{Path(file).name}:{function}`")
            rows[label] = rows.get(label, 0.0) + callers[caller][3]
    return rows


def _shares(rows: dict[str, float], total: float, order) -> list[dict]:
    """``rows`` as shares of ``total``: those in ``order`` first, then the rest from the
    largest, those under 1 % lumped together, and the caller's own code last."""
    known = [k for k in order if k in rows]
    rest = sorted((k for k in rows if k not in order), key=rows.get, reverse=True)
    small = [k for k in rest if rows[k] < 0.01 * total]
    out = {k: rows[k] for k in known + rest if k not in small}
    out["other calls (each < 1 %)"] = sum(rows[k] for k in small)
    out["own code (loop, bookkeeping)"] = total - sum(rows.values())
    return [{"part": k, "seconds": v, "share": v / total} for k, v in out.items()]


def _full_run(args) -> dict:
    """Wall seconds, jobs, runs and test F1s of the full default ``run_experiments.py`` (its
    ``--quick`` form under ``--quick``), measured or read from its saved output."""
    if args.experiments_log:
        output = Path(args.experiments_log).read_text(encoding="utf-8")
        wall = re.search(r"wrote .* in (\d+) s", output)  # the last line run_experiments prints
        if wall is None:
            raise ValueError(f"{args.experiments_log} lacks run_experiments.py's 'wrote ...' line")
        runs = re.findall(r"^\s*(\S+)\s+(\S+) seed \d+: lr .* F1 (\S+)", output, re.M)
        f1 = [{"dataset": d, "loss": loss, "f1": float(f)} for d, loss, f in runs]
        source, jobs, wall, fits = f"log `{args.experiments_log}`", None, float(wall[1]), None
    else:
        command = [sys.executable, "run_experiments.py", *(["--quick"] if args.quick else [])]
        command += ["--data-dir", args.data_dir] if args.data_dir else []
        with tempfile.TemporaryDirectory() as out:
            run = [*command, "--out", out]
            wall, done = _timed(subprocess.run, run, cwd=ROOT, capture_output=True, text=True)
            if done.returncode:
                raise RuntimeError(f"run_experiments.py failed: {done.stderr.strip()[-2000:]}")
            journal = Path(out, JOURNAL).read_text(encoding="utf-8").splitlines()
        records = [json.loads(line) for line in journal]
        f1 = [{k: r[k] for k in ("dataset", "loss", "f1")} for r in records]
        source = f"`{' '.join(['python', *command[1:]])} --out <tmpdir>`, measured"
        jobs = os.cpu_count()  # run_experiments.py's default --jobs
        fits = sum(r["tuning_seconds"] for r in records)
    full = {"source": source, "runs": len(f1), "jobs": jobs, "wall_s": wall}
    return full | {"fits_total_s": fits, "f1": f1}


def _verdict(value: float, limit: float, unit: str) -> str:
    """``met``, or by how much ``value`` exceeds ``limit`` (at most ``limit`` is wanted)."""
    if value <= limit:
        return "met"
    digits = 0 if unit == " s" else 2
    return f"missed by {value - limit:.{digits}f}{unit} ({value / limit - 1:.0%} over)"


def _targets(dan: dict, fasttext: dict, full_run: dict | None) -> list[dict]:
    """One row per target measured: the figure, and whether it meets the target and the goal."""

    def row(what: str, value: float, shown: str, target: float, goal: float, unit: str) -> dict:
        met = {"target": _verdict(value, target, unit), "goal": _verdict(value, goal, unit)}
        return {"target (goal)": what, "measured": shown, **met}

    reference, rows = fasttext[1]["epoch_s"], []
    for name, parts in dan.items():
        what = f"DAN epoch ≤ {EPOCH_TARGET:g}× (≤ {EPOCH_GOAL:g}×) a fastText epoch, {name}"
        if math.isnan(reference):
            unknown = "not measured: fastText's epoch was lost in noise; rerun on a quiet machine"
            rows.append({"target (goal)": what, "measured": unknown, "target": "", "goal": ""})
            continue
        ratio = parts["epoch_s"] / reference
        shown = f"{ratio:.2f}× ({parts['epoch_s']:.3f} s / {reference:.3f} s)"
        rows.append(row(what, ratio, shown, EPOCH_TARGET, EPOCH_GOAL, "×"))
    if full_run:
        wall = full_run["wall_s"]
        what = f"full default run ≤ {FULL_RUN_TARGET:.0f} s (≤ {FULL_RUN_GOAL:.0f} s)"
        rows.append(row(what, wall, f"{wall:.0f} s", FULL_RUN_TARGET, FULL_RUN_GOAL, " s"))
    return rows


def _f1_table(full_run: dict) -> pd.DataFrame:
    """Mean test F1 per (dataset, loss) of the timed run beside ``reports/results.csv``'s, and
    their difference in standard deviations of the latter (seed noise)."""
    table = pd.DataFrame(full_run["f1"]).groupby(["dataset", "loss"])["f1"].agg(["size", "mean"])
    committed = ROOT / "reports" / "results.csv"
    if committed.exists():
        before = pd.read_csv(committed).groupby(["dataset", "loss"])["f1"].agg(["mean", "std"])
        table = table.join(before.add_prefix("results.csv "))
        gap = (table["mean"] - table["results.csv mean"]) / table["results.csv std"]
        table["Δ in sd"] = gap.map("{:+.1f}".format)
    return table.round(4).reset_index().rename(columns={"size": "runs", "mean": "F1 mean"})


def _frame(rows: list[dict]) -> pd.DataFrame:
    """``rows`` as a table, seconds to 3 decimals, shares in percent, missing values blank."""
    frame = pd.DataFrame(rows)
    for column in frame.columns:
        style = "{:.1%}" if column == "share" else "{:.3f}"
        if column == "share" or column.endswith("_s") or column == "seconds":
            frame[column] = frame[column].map(lambda v, s=style: "" if pd.isna(v) else s.format(v))
    return frame.fillna("")


def _share_table(profiles: dict, key: str) -> pd.DataFrame:
    """Each network's shares of ``fit`` or ``train`` (``key``) side by side; for ``train`` also
    milliseconds per training step (under the profiler)."""
    rows: dict[str, dict] = {}
    for name, profile in profiles.items():
        for part in profile[key]:
            row = rows.setdefault(part["part"], {f"part of {key}": part["part"]})
            row[f"{name}: share"] = f"{part['share']:.1%}"
            if key == "train":
                row[f"{name}: ms/step"] = f"{1e3 * part['seconds'] / profile['steps']:.2f}"
    return pd.DataFrame(list(rows.values())).fillna("")


def _largest(profiles: dict) -> str:
    """The three largest parts of ``train`` for each network, in one sentence."""
    tops = []
    for name, profile in profiles.items():
        top = sorted(profile["train"], key=lambda row: -row["share"])[:3]
        tops.append(f"{name}: " + ", ".join(f"{r['part']} {r['share']:.0%}" for r in top))
    return "Largest parts of `train` (profile below): " + "; ".join(tops) + "."


def _render(made, args, split, preprocessing, dan, fasttext, profiles, full_run) -> str:
    n_train = len(split.X_train)
    reference = fasttext[1]["epoch_s"]
    epochs = [{"model": f"DAN, {name}", **parts} for name, parts in dan.items()]
    epochs += [{"model": f"fastText, word_ngrams={n}", **row} for n, row in fasttext.items()]
    for row in epochs:
        if "steps" in row:
            row["ms/step"] = f"{1e3 * row['training_pass_s'] / row.pop('steps'):.2f}"
        row["µs/text"] = f"{1e6 * row['epoch_s'] / n_train:.1f}"
        row["× fastText"] = f"{row['epoch_s'] / reference:.2f}"
    lines = [
        "# Training speed",
        "",
        f"Made by {made}.",
        "",
        "**Quick mode: a subset of the texts, few repeats; a smoke test, not the benchmark.**\n"
        if args.quick
        else "",
        "One thread (torch, BLAS/OpenMP through threadpoolctl, fastText `thread=1`); medians "
        f"of {args.repeats} runs in this one process (the DAN's after a warm-up run) on the "
        f"cyberbullying training split, {n_train:,} texts (validation {len(split.X_val):,}). "
        "Study: `Config().estimator(...)` (`STUDY_PARAMS`: mean pooling, batches of "
        f"{NETWORKS['study (mean pooling)'].batch_size}); defaults: `DANClassifier()` "
        f"(attention+max, batches of {NETWORKS['estimator defaults (attention+max)'].batch_size}). "
        "Both fine-tune the embeddings (SparseAdam on the rows a batch touches) and train the "
        "rest with the fused Adam; fastText has its own settings (dim 100, lr 0.1).",
        "",
        "## One-off costs (seconds, once)",
        "",
        to_markdown(_frame([{"step": k, "seconds": v} for k, v in preprocessing.items()])),
        "",
        "## One epoch",
        "",
        "DAN: `epoch_s` is one `training.train` epoch from a fresh model; "
        "`validation_scoring_s` (`evaluate`) and `best_state_copy_s` are timed apart on the "
        "trained model, `training_pass_s` is the rest (`↳ running_scores_s`: its scoring of "
        "the epoch's own predictions). fastText: `epoch_s` is (time in `train_supervised` for 5 "
        "epochs − for 1) / 4. `× fastText`: against word_ngrams=1, fastText's default.",
        "",
        to_markdown(_frame(epochs)),
        "",
        "## Targets",
        "",
        to_markdown(pd.DataFrame(_targets(dan, fasttext, full_run))),
        "",
        _largest(profiles),
        "",
        WHY_MISSED,
    ]
    if full_run:
        lines += ["", "## Full default run", ""]
        lines += [to_markdown(_frame([{k: v for k, v in full_run.items() if k != "f1"}]))]
        if full_run["fits_total_s"]:
            total, jobs = full_run["fits_total_s"], full_run["jobs"]
            lines += [
                "",
                f"Its runs trained for {total:.0f} s in all (every fit of every learning rate), "
                f"{total / jobs:.0f} s per job over {jobs} jobs against {full_run['wall_s']:.0f} "
                "s of wall time (the rest: start-up, loading, idle workers, reporting).",
            ]
        if full_run["f1"]:
            note = "Test F1 of the timed run (the speed targets count only with F1 unchanged"
            lines += ["", f"{note} within seed noise):", "", to_markdown(_f1_table(full_run))]
    lines += [
        "",
        "## Where the time goes: cProfile of a short fit of each network",
        "",
        *(
            f"- {name}: `fit` for {p['epochs']} epoch(s), {p['fit_s']:.2f} s under the profiler, "
            f"{p['steps']} training steps."
            for name, p in profiles.items()
        ),
        "",
        "The profiler slows Python code more than torch kernels: read shares, not seconds. "
        "`train` by direct callee (the loss, its module's `forward`, apart from the network's):",
        "",
        to_markdown(_share_table(profiles, "train")),
        "",
        "`fit`, by direct callee (the fixed cost of a fit around its epochs; the fits run one "
        "after the other on the same texts, so the later one reuses the tokens and ids that the "
        "first memoised, as refits in the grid do):",
        "",
        to_markdown(_share_table(profiles, "fit")),
        "",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(run_guarded(main, prog="benchmarks/speed.py"))
