"""Training speed on one thread: a DAN epoch against a fastText epoch, and the full default run.

On the cyberbullying training split of ``experiments.load_split``: the text preprocessing of
each model; one DAN epoch as ``training.train`` runs it (default estimator settings: fine-tuned
embeddings with sparse gradients, batch 128; frozen embeddings too) and its share spent scoring
the training and validation sets; one fastText epoch (``train_supervised``, ``thread=1``).
Each is the median of ``--repeats`` runs in this one process. ``--full`` times
``python run_experiments.py`` (its defaults) in a temporary folder; ``--experiments-log FILE``
reads that time from the saved output of such a run instead. When a target is missed, a cProfile
of a short DAN fit shows where the time goes. Writes ``reports/speed.md``.

    python benchmarks/speed.py [--data-dir D] [--repeats 5] [--full | --experiments-log FILE]
"""

from __future__ import annotations

import argparse
import cProfile
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
from datetime import datetime
from pathlib import Path

import pandas as pd
import torch
from threadpoolctl import threadpool_limits

from dan_dice.cli import run_guarded
from dan_dice.embeddings import embedding_matrix, load_word_vectors
from dan_dice.estimator import DANClassifier
from dan_dice.experiments import JOURNAL, Config, load_split
from dan_dice.files import atomic_write_text
from dan_dice.losses import get_loss
from dan_dice.model import DAN
from dan_dice.peers import FastTextClassifier, environment
from dan_dice.reporting import to_markdown
from dan_dice.text import Vocabulary, tokenize
from dan_dice.training import PackedTexts, evaluate, train

ROOT = Path(__file__).resolve().parents[1]
FULL_RUN_TARGET = 300.0
"""Seconds the full default ``run_experiments.py`` may take on the 2-core machine."""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", help="folder with the datasets (default: $DAN_DICE_DATA)")
    parser.add_argument("--repeats", type=int, default=5, help="runs per timing (median)")
    full = parser.add_mutually_exclusive_group()
    full.add_argument("--full", action="store_true", help="time the full default experiments")
    full.add_argument("--experiments-log", help="saved output of `python run_experiments.py`")
    parser.add_argument("--report", default="reports/speed.md")
    args = parser.parse_args()
    if args.repeats < 1:
        raise ValueError("--repeats must be at least 1")

    torch.set_num_threads(1)
    about = f"{datetime.now():%Y-%m-%d %H:%M}; {environment()}"
    with threadpool_limits(1):
        split = load_split("cyberbullying", args.data_dir, Config())
        preprocessing = _preprocessing(split.X_train)
        epochs = {
            **{
                f"DAN, {name} embeddings": _dan_epoch(split, freeze, args.repeats)
                for name, freeze in (("fine-tuned", False), ("frozen", True))
            },
            **{
                f"fastText, word_ngrams={n}": _fasttext_epoch(split, n, args.repeats)
                for n in (1, 2)
            },
        }
    full_run = _full_run(args) if args.full or args.experiments_log else None
    verdicts = _verdicts(epochs, full_run)
    profile = _profile(split) if any(not met for met, _ in verdicts) else None
    command = "python benchmarks/speed.py " + " ".join(sys.argv[1:])
    made = f"`{command.strip()}` on {about}"
    text = _render(made, args, split, preprocessing, epochs, full_run, verdicts, profile)
    atomic_write_text(Path(args.report), text)
    print(text)
    return 0


def _timed(function, *args, **kwargs) -> tuple[float, object]:
    start = time.perf_counter()
    result = function(*args, **kwargs)
    return time.perf_counter() - start, result


def _preprocessing(X: list[str]) -> dict[str, float]:
    """Seconds of each preprocessing step on the training texts (run once, cold caches)."""
    seconds = {}
    seconds["DAN: GloVe table load (once per process)"], vectors = _timed(load_word_vectors)
    seconds["DAN: tokenise + count (Vocabulary.build)"], vocabulary = _timed(Vocabulary.build, X)
    seconds["DAN: encode to ids (encode_batch, cold)"], _ = _timed(vocabulary.encode_batch, X)
    seconds["DAN: encode to ids (encode_batch, warm)"], _ = _timed(vocabulary.encode_batch, X)
    seconds["DAN: embedding rows (embedding_matrix)"], _ = _timed(
        embedding_matrix, vocabulary, vectors
    )
    seconds["fastText: tokenise to lines (tokenize)"], _ = _timed(
        lambda: [" ".join(tokenize(text)) for text in X]
    )
    return seconds


def _dan_epoch(split, freeze: bool, repeats: int) -> dict[str, float]:
    """Median seconds of one epoch of ``train`` and of its scoring part (train + val sets),
    each run from a fresh model."""
    clf = DANClassifier(freeze_embeddings=freeze)
    vocabulary = Vocabulary.build(split.X_train, min_count=clf.min_count)
    matrix, _ = embedding_matrix(vocabulary, load_word_vectors(clf.embeddings))
    cpu = torch.device("cpu")
    train_data = PackedTexts.from_numpy(*vocabulary.encode_batch(split.X_train), split.y_train, cpu)
    val_data = PackedTexts.from_numpy(*vocabulary.encode_batch(split.X_val), split.y_val, cpu)
    loss_fn = get_loss(clf.loss, split.y_train, 2, clf.loss_params)
    epoch, scoring = [], []
    for seed in range(repeats + 1):  # the first run warms torch up and is dropped
        torch.manual_seed(seed)
        model = DAN(
            matrix,
            hidden_sizes=tuple(clf.hidden_sizes),
            dropout=clf.dropout,
            word_dropout=clf.word_dropout,
            freeze_embeddings=freeze,
        )
        seconds, _ = _timed(
            train,
            model,
            loss_fn,
            train_data,
            val_data,
            n_classes=2,
            lr=clf.lr,
            batch_size=clf.batch_size,
            max_epochs=1,
            weight_decay=clf.weight_decay,
        )
        epoch.append(seconds)
        start = time.perf_counter()
        for data in (train_data, val_data):
            evaluate(model, loss_fn, data, 2)
        scoring.append(time.perf_counter() - start)
    epoch_s, scoring_s = statistics.median(epoch[1:]), statistics.median(scoring[1:])
    return {"epoch_s": epoch_s, "training_pass_s": epoch_s - scoring_s, "scoring_s": scoring_s}


def _fasttext_epoch(split, word_ngrams: int, repeats: int) -> dict[str, float]:
    """Median seconds in ``train_supervised`` for 1 and 5 epochs; an epoch is their slope."""

    def seconds(epochs: int) -> float:
        return statistics.median(
            FastTextClassifier(epoch=epochs, word_ngrams=word_ngrams, random_state=seed)
            .fit(split.X_train, split.y_train)
            .train_seconds_
            for seed in range(repeats)
        )

    one, five = seconds(1), seconds(5)
    return {"epoch_s": (five - one) / 4, "train_supervised(epoch=1)_s": one}


def _full_run(args) -> dict:
    """Wall seconds, jobs and runs of the full default ``run_experiments.py``."""
    if args.experiments_log:
        output = Path(args.experiments_log).read_text(encoding="utf-8")
        wall = re.search(r"wrote .* in (\d+) s", output)
        if wall is None:
            raise ValueError(f"{args.experiments_log} lacks run_experiments.py's 'wrote ...' line")
        return {
            "source": f"log `{args.experiments_log}`",
            "runs": len(re.findall(r" seed \d+: lr ", output)),
            "jobs": None,
            "wall_s": float(wall.group(1)),
            "fits_total_s": None,
        }
    command = [sys.executable, "run_experiments.py"]
    if args.data_dir:
        command += ["--data-dir", args.data_dir]
    with tempfile.TemporaryDirectory() as out:
        wall, done = _timed(
            subprocess.run, [*command, "--out", out], cwd=ROOT, capture_output=True, text=True
        )
        if done.returncode:
            raise RuntimeError(f"run_experiments.py failed: {done.stderr.strip()[-2000:]}")
        journal = Path(out, JOURNAL).read_text(encoding="utf-8").splitlines()
    records = [json.loads(line) for line in journal]
    return {
        "source": f"`{' '.join(['python', *command[1:]])} --out <tmpdir>`, measured",
        "runs": len(records),
        "jobs": os.cpu_count(),  # run_experiments.py's default --jobs
        "wall_s": wall,
        "fits_total_s": sum(r["tuning_seconds"] for r in records),
    }


def _verdicts(epochs: dict, full_run: dict | None) -> list[tuple[bool, str]]:
    """(met, sentence) for each target measured."""
    fasttext = epochs["fastText, word_ngrams=1"]["epoch_s"]
    dan = epochs["DAN, fine-tuned embeddings"]
    out = []
    for part, label in (("epoch_s", "whole epoch"), ("training_pass_s", "training pass alone")):
        ratio = dan[part] / fasttext
        met = ratio <= 1
        out.append(
            (
                met,
                f"**DAN epoch no slower than a fastText epoch ({label})**: "
                f"{'met' if met else 'missed'}: {dan[part]:.2f} s against {fasttext:.2f} s, "
                f"{ratio:.2f}x the fastText epoch.",
            )
        )
    if full_run:
        wall = full_run["wall_s"]
        met = wall <= FULL_RUN_TARGET
        out.append(
            (
                met,
                f"**Full default run ≤ {FULL_RUN_TARGET / 60:.0f} min**: "
                f"{'met' if met else 'missed'}: {wall:.0f} s ({wall / 60:.1f} min), "
                f"{wall - FULL_RUN_TARGET:+.0f} s against the target.",
            )
        )
    return out


def _per_step(epochs: dict, n_texts: int, batch_size: int) -> str:
    """The epoch times per update: why one model's epoch is slower than the other's."""
    dan = epochs["DAN, fine-tuned embeddings"]["training_pass_s"]
    fasttext = epochs["fastText, word_ngrams=1"]["epoch_s"]
    steps = math.ceil(n_texts / batch_size)
    return (
        f"Per update: the DAN's training pass is {steps} mini-batch steps of "
        f"{1e3 * dan / steps:.1f} ms ({1e6 * dan / n_texts:.0f} µs per text), each a forward and "
        "backward pass through torch and two optimiser updates (Adam on the dense layers, "
        "SparseAdam on the embedding rows the batch touched); fastText updates its two "
        f"matrices one text at a time in C++, {1e6 * fasttext / n_texts:.1f} µs per text."
    )


STAGES = {
    "tokenise + count (Vocabulary.build)": ("text.py", "build"),
    "encode to ids (encode_batch)": ("text.py", "encode_batch"),
    "embedding rows (embedding_matrix)": ("embeddings.py", "embedding_matrix"),
    "training loop (train)": ("training.py", "train"),
    "↳ scoring train + val each epoch (evaluate)": ("training.py", "evaluate"),
    "↳ batch packing (PackedTexts.take)": ("training.py", "take"),
    "↳ forward, training and scoring (DAN.forward)": ("model.py", "forward"),
    "↳ backward (Tensor.backward)": ("_tensor.py", "backward"),
    "↳ optimiser steps (Adam + SparseAdam)": ("optimizer.py", "wrapper"),
    "↳ best-state copies (deepcopy)": ("copy.py", "deepcopy"),
}
"""Stages of a fit: (file name, function name) whose cumulative time the profile reports."""


def _profile(split, epochs: int = 3) -> dict:
    """cProfile of a default ``DANClassifier`` fit of ``epochs`` epochs on the training split."""
    clf = DANClassifier(max_epochs=epochs, patience=epochs, device="cpu", random_state=0)
    profiler = cProfile.Profile()
    profiler.runcall(
        clf.fit, split.X_train, split.y_train, validation_data=(split.X_val, split.y_val)
    )
    stats = pstats.Stats(profiler).stats
    total = max(ct for *_, ct, _ in stats.values())
    stages = []
    for stage, (file, function) in STAGES.items():
        matches = [v for k, v in stats.items() if k[0].endswith(file) and k[2] == function]
        if matches:  # recursion counted once: cProfile's cumulative time is per entry point
            cumulative = max(ct for *_, ct, _ in matches)
            stages.append({"stage": stage, "seconds": cumulative, "share": cumulative / total})
    top = sorted(stats.items(), key=lambda item: -item[1][2])[:12]
    leaves = [
        {
            "function": f"`{Path(file).name}:{line} {name}`" if line else f"`{name}`",
            "calls": calls,
            "own_s": own,
            "share": own / total,
        }
        for (file, line, name), (_, calls, own, _, _) in top
    ]
    return {"epochs": epochs, "total_s": total, "stages": stages, "leaves": leaves}


def _frame(rows: list[dict]) -> pd.DataFrame:
    """``rows`` as a table, seconds to 3 decimals, shares in percent, missing values blank."""
    frame = pd.DataFrame(rows)
    for column in frame.columns:
        style = "{:.1%}" if column == "share" else "{:.3f}"
        if column == "share" or column.endswith("_s") or column == "seconds":
            frame[column] = frame[column].map(lambda v, s=style: "" if pd.isna(v) else s.format(v))
    return frame.fillna("")


def _render(made, args, split, preprocessing, epochs, full_run, verdicts, profile) -> str:
    clf = DANClassifier()
    lines = [
        "# Training speed",
        "",
        f"Made by {made}.",
        "",
        "One thread: `torch.set_num_threads(1)`, BLAS/OpenMP pools limited to one thread "
        "(threadpoolctl), fastText `thread=1`. The machine is shared: timings are medians of "
        f"{args.repeats} runs (the DAN's after one warm-up run), taken in the same run. "
        f"Data: the cyberbullying training split, {len(split.X_train):,} texts "
        f"(validation {len(split.X_val):,}). "
        f"DAN settings are the estimator's defaults: batch {clf.batch_size}, lr {clf.lr:g}, "
        f"loss `{clf.loss}`, hidden sizes {tuple(clf.hidden_sizes)}; fastText's are its own "
        "(dim 100, lr 0.1, softmax loss).",
        "",
        "## Preprocessing (seconds, once)",
        "",
        to_markdown(_frame([{"step": k, "seconds": v} for k, v in preprocessing.items()])),
        "",
        "## One epoch",
        "",
        "DAN: `epoch_s` is one epoch of `training.train` (shuffled mini-batches, then scoring "
        "the whole training and validation sets for early stopping, and copying the best "
        "state); `scoring_s` is that scoring, timed apart; `training_pass_s` the difference. "
        "fastText: `epoch_s` is the median time in `train_supervised` for 5 epochs minus that "
        "for 1, over 4; `train_supervised(epoch=1)_s` also reads the file and builds its "
        "dictionary. Preprocessing (above) is in neither.",
        "",
        to_markdown(_frame([{"model": name, **row} for name, row in epochs.items()])),
    ]
    if full_run:
        lines += ["", "## Full default run", "", to_markdown(_frame([full_run]))]
        if full_run["fits_total_s"]:
            total = full_run["fits_total_s"]
            lines += [
                "",
                f"Its runs trained for {total:.0f} s in all (the sum of every fit of every "
                f"learning rate), {total / full_run['jobs']:.0f} s "
                f"per job over {full_run['jobs']} jobs against {full_run['wall_s']:.0f} s of "
                "wall time: the run is bound by the DAN fits themselves.",
            ]
    lines += ["", "## Targets", "", *(f"- {sentence}" for _, sentence in verdicts)]
    lines += ["", _per_step(epochs, len(split.X_train), clf.batch_size)]
    if profile:
        lines += [
            "",
            f"## Where the time goes: cProfile of a {profile['epochs']}-epoch default fit",
            "",
            f"`DANClassifier(max_epochs={profile['epochs']}).fit` on the training split with "
            f"the validation split, {profile['total_s']:.1f} s under the profiler (which slows "
            "Python-level code more than torch kernels). Cumulative time of each stage:",
            "",
            to_markdown(_frame(profile["stages"])),
            "",
            "Functions with the most time of their own:",
            "",
            to_markdown(_frame(profile["leaves"])),
        ]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(run_guarded(main, prog="benchmarks/speed.py"))
