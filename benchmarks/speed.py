"""Training speed on one thread: a DAN epoch and fit against fastText's, threads, the study grid.

On the cyberbullying training split (``study_data.load_split``), in one process: the one-off
costs; one DAN epoch of ``training.train`` (training pass, validation scoring, best-state
copy; the training set is not rescored) for the study's network (``STUDY_PARAMS``: mean
pooling) and the estimator's defaults (attention+max), fine-tuned and, as the floor, with
frozen embeddings, each the median of ``--repeats`` runs; one fastText epoch on the same
texts (fastText trains in its own process on zeroed memory, ``peers.FastTextClassifier``),
the best of ``--repeats`` runs, since a shared machine only ever slows it; a default fit
(``DANClassifier().fit(X, y)``) against fastText's default ``train_supervised``, writing its
input file included; a default fit on one thread against every core; a cProfile of a short
fit of each network. ``--full`` times ``python run_experiments.py`` (its defaults) in a
temporary folder; ``--experiments-log FILE`` reads that time from the saved output of such a
run instead, and ``--baseline-log FILE`` the time of the previous release's run on the same
machine, for the grid's target. ``--quick``: a subset of the texts and 2 repeats, a smoke test
(with ``--full``, of ``run_experiments.py --quick``). Writes ``reports/speed.md``.

    python benchmarks/speed.py [--data-dir D] [--repeats 5] [--quick]
        [--full | --experiments-log F] [--baseline-log F]
"""

from __future__ import annotations

import argparse
import copy
import dataclasses
import json
import math
import os
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
from step_profile import largest_parts, profile_fit, share_table
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
from dan_dice.provenance import stamp
from dan_dice.reporting import to_markdown
from dan_dice.study_data import load_split
from dan_dice.text import Vocabulary, build_vocabulary, encode_corpus, tokenize
from dan_dice.training import CollapseWarning, PackedTexts, evaluate, score_logits, train

ROOT = Path(__file__).resolve().parents[1]
QUICK_TEXTS = {"train": 4000, "val": 1500}
NETWORKS = {
    "study (mean pooling)": Config().estimator(STUDY_LOSSES[0], 0),
    "estimator defaults (attention+max)": DANClassifier(),
}
"""The networks timed: the study grid's (``Config.estimator``) and ``DANClassifier()``'s."""
EPOCH_TARGETS = dict(zip(NETWORKS, (4.5, 7.0), strict=True))
"""A DAN epoch may take at most this many fastText epochs on the same texts."""
FLOORS = {
    f"{name}, frozen": clone(clf).set_params(freeze_embeddings=True)
    for name, clf in NETWORKS.items()
}
"""The same networks with frozen embeddings: what a step costs without the embedding update."""
FIT_TARGET = 5.0
"""A default fit may take at most this many times fastText's default fit."""
GRID_TARGET = 0.40
"""The study grid's wall time, as a share of the previous release's on the same machine."""
WHY_MISSED = (
    "Why a DAN epoch costs several fastText epochs: fastText trains in one fused C++ loop of "
    "SGD (an averaged bag of vectors, one linear layer, no framework between steps), while a "
    "DAN step is a few dozen torch operations, each with its own dispatch and memory pass: the "
    "pooling (`bag_pooling`), three 256/128/64-wide ReLU layers with dropout, forward and "
    "backward, the fused Adam over the dense layers and the lazy Adam over the fine-tuned "
    "embedding rows a batch gathered. The MLP does about 0.3 MFLOP a text (fastText's linear "
    "layer a few kFLOP): the frozen rows above are its floor. The full run is the sum of its "
    "fits: 30 runs of 3 learning rates, up to 30 epochs each, on 2 cores."
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
    parser.add_argument(
        "--baseline-log", help="saved output of the previous release's run_experiments.py here"
    )
    parser.add_argument("--report", default="reports/speed.md")
    args = parser.parse_args()
    args.repeats = (2 if args.quick else 5) if args.repeats is None else args.repeats
    if args.repeats < 1:
        raise ValueError("--repeats must be at least 1")
    for name in ("experiments_log", "baseline_log"):
        if getattr(args, name) and not Path(getattr(args, name)).is_file():
            raise ValueError(f"--{name.replace('_', '-')}: no file {getattr(args, name)}")

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
        networks = NETWORKS | FLOORS
        dan = {name: _dan_epoch(split, clf, args.repeats) for name, clf in networks.items()}
        fasttext = {n: _fasttext_epoch(split, n, args.repeats) for n in (1, 2)}
        fits = _fits(split, args.repeats)
        epochs = 1 if args.quick else 2
        profiles = {name: profile_fit(split, clf, epochs) for name, clf in NETWORKS.items()}
    threads = _threads(split)  # outside the one-thread limits: every core
    full_run = _full_run(args) if args.full or args.experiments_log else None
    baseline = _wall_seconds(Path(args.baseline_log)) if args.baseline_log else None
    command = "python benchmarks/speed.py " + " ".join(sys.argv[1:])
    made = f"`{command.strip()}` on {about}"
    measured = {"dan": dan, "fasttext": fasttext, "fits": fits, "threads": threads}
    text = _render(made, args, split, preprocessing, measured, profiles, full_run, baseline)
    atomic_write_text(Path(args.report), stamp(text, Path(__file__)))
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
    """Best seconds in ``train_supervised`` for 1 and 5 epochs (a shared machine only slows
    fastText down); an epoch is their slope (NaN when noise makes it 0 or less)."""

    def seconds(epochs: int) -> float:
        return min(
            FastTextClassifier(epoch=epochs, word_ngrams=word_ngrams, random_state=seed)
            .fit(split.X_train, split.y_train)
            .train_seconds_
            for seed in range(repeats)
        )

    one, five = seconds(1), seconds(5)
    slope = (five - one) / 4
    return {"epoch_s": slope if slope > 0 else math.nan, "train_supervised(epoch=1)_s": one}


def _fits(split, repeats: int) -> dict[str, float]:
    """A default fit as a user makes it, ``DANClassifier(random_state=seed).fit(X, y)`` (its
    own validation split; tokens memoised after the first), median seconds over ``repeats``
    seeds, against fastText's default fit (tokenising and writing its file, then
    ``train_supervised``), the best of ``repeats``."""
    dan, epochs = [], []
    for seed in range(repeats):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", CollapseWarning)
            seconds, clf = _timed(
                DANClassifier(random_state=seed).fit, split.X_train, split.y_train
            )
        dan.append(seconds)
        epochs.append(len(clf.history_))
    fasttext = min(
        FastTextClassifier(random_state=seed).fit(split.X_train, split.y_train).fit_seconds_
        for seed in range(repeats)
    )
    return {
        "dan_s": statistics.median(dan),
        "epochs": statistics.median(epochs),
        "fasttext_s": fasttext,
    }


def _threads(split) -> list[dict]:
    """A default fit (seed 0) on one thread and on every core, its seconds and whether its
    predictions on the test part are those of one thread."""
    rows, predictions = [], {}
    for threads in (1, os.cpu_count() or 1):
        clf = DANClassifier(num_threads=threads, random_state=0)
        seconds, _ = _timed(clf.fit, split.X_train, split.y_train)
        predictions[threads] = clf.predict_proba(split.X_test)
        rows.append(
            {
                "num_threads": threads,
                "fit_s": seconds,
                "epochs": len(clf.history_),
                "same probabilities as 1 thread": bool(
                    (predictions[threads] == predictions[1]).all()
                ),
            }
        )
    return rows


def _full_run(args) -> dict:
    """Wall seconds, jobs, runs and test F1s of the full default ``run_experiments.py`` (its
    ``--quick`` form under ``--quick``), measured or read from its saved output."""
    if args.experiments_log:
        log = Path(args.experiments_log)
        runs = re.findall(r"^\s*(\S+)\s+(\S+) seed \d+: lr .* F1 (\S+)", log.read_text(), re.M)
        f1 = [{"dataset": d, "loss": loss, "f1": float(f)} for d, loss, f in runs]
        source, jobs, wall, fits = f"log `{log}`", None, _wall_seconds(log), None
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


def _wall_seconds(log: Path) -> float:
    """The wall seconds in the saved output of ``run_experiments.py`` (its last line)."""
    wall = re.search(r"wrote .* in (\d+) s", log.read_text(encoding="utf-8"))
    if wall is None:
        raise ValueError(f"{log} lacks run_experiments.py's 'wrote ... in N s' line")
    return float(wall[1])


def _verdict(value: float, limit: float, unit: str) -> str:
    """``met``, or by how much ``value`` exceeds ``limit`` (at most ``limit`` is wanted)."""
    if value <= limit:
        return "met"
    digits = 0 if unit == " s" else 2
    return f"missed by {value - limit:.{digits}f}{unit} ({value / limit - 1:.0%} over)"


def _targets(measured: dict, full_run: dict | None, baseline: float | None) -> list[dict]:
    """One row per target measured: the figure, and whether it meets the target."""

    def row(what: str, value: float, shown: str, target: float, unit: str) -> dict:
        return {"target": what, "measured": shown, "verdict": _verdict(value, target, unit)}

    reference, rows = measured["fasttext"][1]["epoch_s"], []
    for name, target in EPOCH_TARGETS.items():
        what = f"DAN epoch ≤ {target:g}× a fastText epoch, {name}"
        if math.isnan(reference):
            unknown = "not measured: fastText's epoch was lost in noise; rerun on a quiet machine"
            rows.append({"target": what, "measured": unknown, "verdict": ""})
            continue
        seconds = measured["dan"][name]["epoch_s"]
        shown = f"{seconds / reference:.2f}× ({seconds:.3f} s / {reference:.3f} s)"
        rows.append(row(what, seconds / reference, shown, target, "×"))
    fits = measured["fits"]
    ratio = fits["dan_s"] / fits["fasttext_s"]
    dan_fit = f"{fits['dan_s']:.1f} s, {fits['epochs']:g} epochs"
    shown = f"{ratio:.2f}× ({dan_fit} / {fits['fasttext_s']:.2f} s)"
    rows.append(
        row(f"default fit ≤ {FIT_TARGET:g}× fastText's default fit", ratio, shown, FIT_TARGET, "×")
    )
    if full_run and baseline:
        share = full_run["wall_s"] / baseline
        what = f"study grid ≤ {GRID_TARGET:.0%} of the previous release's wall time here"
        shown = f"{share:.0%} ({full_run['wall_s']:.0f} s / {baseline:.0f} s)"
        rows.append(row(what, share, shown, GRID_TARGET, ""))
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


def _render(made, args, split, preprocessing, measured, profiles, full_run, baseline) -> str:
    n_train = len(split.X_train)
    dan, fasttext = measured["dan"], measured["fasttext"]
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
        "One thread (torch, BLAS/OpenMP through threadpoolctl, fastText `thread=1`); the DAN's "
        f"figures are medians of {args.repeats} runs in this one process (after a warm-up run), "
        f"fastText's the best of {args.repeats} (each in its own process), on the "
        f"cyberbullying training split, {n_train:,} texts (validation {len(split.X_val):,}). "
        "Study: `Config().estimator(...)` (`STUDY_PARAMS`: mean pooling, batches of "
        f"{NETWORKS['study (mean pooling)'].batch_size}); defaults: `DANClassifier()` "
        f"(attention+max, batches of {NETWORKS['estimator defaults (attention+max)'].batch_size}). "
        "Both fine-tune the embeddings (the lazy Adam on the rows a batch gathers) and train the "
        "rest with the fused Adam; the `frozen` rows keep the embeddings fixed, the floor of "
        "each network's step. fastText has its own settings (dim 100, lr 0.1).",
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
        to_markdown(pd.DataFrame(_targets(measured, full_run, baseline))),
        "",
        "## Threads",
        "",
        "A default fit on the training split (seed 0, `fit(X, y)`), on one torch thread and on "
        "every core, outside the one-thread limits of the rest:",
        "",
        to_markdown(_frame(measured["threads"])),
        "",
        largest_parts(profiles),
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
        to_markdown(share_table(profiles, "train")),
        "",
        "`fit`, by direct callee (the fixed cost of a fit around its epochs; the fits run one "
        "after the other on the same texts, so the later one reuses the tokens and ids that the "
        "first memoised, as refits in the grid do):",
        "",
        to_markdown(share_table(profiles, "fit")),
        "",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(run_guarded(main, prog="benchmarks/speed.py"))
