"""The DAN against TF-IDF + linear models and fastText on the experiments' split, one thread.

Every method is tuned on the validation part of the fixed 60/20/20 split of
``study_data.load_split`` (see ``dan_dice.peers``; Stormfront is split by post) and scored once
on its test part; fastText and the DAN once per seed. The DAN is ``DANClassifier()`` with its
defaults; ``--dan-losses`` adds the DAN as the study grid trains it, per loss. ``--dedup`` adds
the split that keeps each group of duplicate texts on one side
(``dan_dice.duplicates.load_grouped_split``) and how the test scores move. Writes
``reports/peers_benchmark.md`` (``run_experiments.py --all`` writes ``reports/peers.md``
with the same methods).

    python benchmarks/peers.py [--data-dir D] [--seeds 5] [--dedup] [--dan-losses wbce ...]
"""

from __future__ import annotations

import argparse
import sys
import time
from datetime import datetime
from pathlib import Path

import pandas as pd
import torch
from threadpoolctl import threadpool_limits

from dan_dice.cli import run_guarded
from dan_dice.comparison import evaluate, model_size, peer_methods
from dan_dice.datasets import BINARY_DATASETS
from dan_dice.duplicates import leakage, load_grouped_split
from dan_dice.experiments import Config
from dan_dice.files import atomic_write_text
from dan_dice.machine import environment
from dan_dice.metrics import scores
from dan_dice.peers import FastTextClassifier
from dan_dice.provenance import stamp
from dan_dice.reporting import to_markdown
from dan_dice.reporting.peers import grid_text, peer_table
from dan_dice.study_data import load_split


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", help="folder with the datasets (default: $DAN_DICE_DATA)")
    parser.add_argument("--datasets", nargs="+", default=list(BINARY_DATASETS), metavar="NAME")
    parser.add_argument("--seeds", type=int, default=5, help="seeds of fastText and the DAN")
    parser.add_argument(
        "--dan-losses", nargs="*", default=[], metavar="LOSS", help="also the study grid's DAN"
    )
    parser.add_argument("--dedup", action="store_true", help="also the grouped split")
    parser.add_argument("--report", default="reports/peers_benchmark.md")
    args = parser.parse_args()
    if args.seeds < 1:
        raise ValueError("--seeds must be at least 1")

    torch.set_num_threads(1)
    started, about = time.perf_counter(), f"{datetime.now():%Y-%m-%d %H:%M}; {environment()}"
    config = Config()
    methods = peer_methods(config, args.dan_losses)
    splits = {"default": lambda name: load_split(name, args.data_dir, split_seed=config.split_seed)}
    if args.dedup:
        splits["grouped"] = lambda name: load_grouped_split(name, args.data_dir)
    records, quantized, leaks = {name: [] for name in splits}, [], []
    with threadpool_limits(1):
        for split_name, load in splits.items():
            for dataset in args.datasets:
                split = load(dataset)
                if args.dedup:  # the leakage table compares the two splits
                    parts = (split.X_train, split.y_train, split.X_test, split.y_test)
                    leaks.append({"split": split_name, "dataset": dataset, **leakage(*parts)})
                for method in methods:
                    for seed in range(args.seeds if method.seeded else 1):
                        record, model = evaluate(method, split, seed)
                        records[split_name].append({"dataset": dataset, **record})
                        print(_progress(split_name, dataset, record), flush=True)
                        first = split_name == "default" and seed == 0
                        if first and isinstance(model, FastTextClassifier):
                            quantized.append(_quantize(dataset, model, split, record))
    command = "python benchmarks/peers.py " + " ".join(sys.argv[1:])
    minutes = (time.perf_counter() - started) / 60
    made = f"`{command.strip()}` on {about}; {minutes:.0f} min"
    text = _render(made, config, methods, records, quantized, leaks, args)
    atomic_write_text(Path(args.report), stamp(text, Path(__file__)))
    print(text)
    return 0


def _progress(split_name: str, dataset: str, record: dict) -> str:
    return (
        f"{split_name:>8} {dataset:>14} {record['method']:>18} seed {record['seed']}: "
        f"F1 {record['f1']:.4f} ({record['params']}, fit {record['fit_seconds']:.1f} s)"
    )


def _quantize(dataset: str, model: FastTextClassifier, split, record: dict) -> dict:
    """Size and test F1 of the seed-0 fastText model quantized to ``.ftz``, and the cost."""
    start = time.perf_counter()
    small = model.quantized()
    seconds = time.perf_counter() - start
    f1 = scores(split.y_test, small.predict(split.X_test))["f1"]
    return {
        "dataset": dataset,
        "chosen": record["params"],
        ".bin MB": f"{record['size_bytes'] / 1e6:.3g}",
        ".ftz MB": f"{model_size(small) / 1e6:.3g}",
        ".bin F1": f"{record['f1']:.4f}",
        ".ftz F1": f"{f1:.4f}",
        "quantize_s": f"{seconds:.1f}",
    }


def _render(
    made: str, config: Config, methods: list, records: dict, quantized: list, leaks: list, args
) -> str:
    grids = "\n".join(f"- {m.name}: `{grid_text(m.grid)}`" for m in methods)
    lines = [
        "# The DAN and its peers",
        "",
        f"Made by {made}.",
        "",
        "One thread throughout: `torch.set_num_threads(1)`, BLAS/OpenMP pools limited to one "
        "thread (threadpoolctl), fastText `thread=1`, the DAN's `num_threads=1`. Each method "
        "fits every candidate of its grid on the training part and keeps the one with the best "
        "validation F1 (positive class); that model is scored once on the test part. fastText "
        f"and the DAN are run with seeds 0..{args.seeds - 1} (mean ± std over seeds), the "
        "deterministic TF-IDF models once. fastText's seeds barely differ: with `thread=1` "
        "its seed only draws the initial vectors of the first tenth of its input rows (the "
        "rest start at zero) and it reads its training lines in order. `DAN (defaults)` is "
        "`DANClassifier(random_state=seed)` with every default, trained in this run with the "
        "validation part as its `validation_data` (it picks its epoch and its decision "
        "threshold there, as `fit` does). `TF-IDF + LogReg` is balanced "
        "(`class_weight='balanced'`) and predicts at the threshold on P(positive) with the "
        "best validation F1, the DAN's rule; LinearSVC and fastText keep their own decision "
        "rule."
        + (
            f" The `DAN (loss)` rows are trained as `experiments.run_one` trains them (the "
            f"study's network, its learning-rate grid, {config.epochs} epochs at most)."
            if args.dan_losses
            else ""
        ),
        "",
        "`fit_s`: seconds of the kept model's fit (fastText: tokenising, writing its input file "
        "and `train_supervised`; the DAN: at the chosen learning rate, early stopping included). "
        "`texts_per_s`: test texts per second through `predict` from raw text (median of 3). "
        "`size_MB`: the saved model (sklearn pipelines pickled, fastText `.bin`, "
        "`DANClassifier.save`). `chosen`: the parameters kept (per seed where they differ).",
        "",
        "Grids:",
        "",
        grids,
        "",
        "## Default split: the fixed 60/20/20 split of `experiments.load_split`",
        "",
        to_markdown(peer_table(records["default"])),
        "",
        "## The DAN with its defaults against balanced TF-IDF + LogReg at a tuned threshold",
        "",
        "Test F1 of the positive class, mean over the DAN's seeds:",
        "",
        to_markdown(_against_logreg(records["default"])),
    ]
    if "grouped" in records:
        lines += [
            "",
            "## Grouped split (`--dedup`: each group of normalised duplicates on one side)",
            "",
            to_markdown(peer_table(records["grouped"])),
            "",
            "## Test score change, grouped minus default split (means over seeds)",
            "",
            to_markdown(_change(records)),
            "",
            "Test texts with a normalised duplicate in the training part "
            "(`dan_dice.duplicates.leakage`): one whose training copy has the same label is a "
            "free hit for a model that memorises, one whose copies all have the other label a "
            "likely miss (see reports/duplicates.md):",
            "",
            to_markdown(pd.DataFrame(leaks)),
        ]
    if quantized:
        lines += [
            "",
            "## fastText quantized",
            "",
            "The seed-0 fastText model of the default split quantized with `model.quantize()` "
            "(product quantization, no retraining), as saved to `.ftz`:",
            "",
            to_markdown(pd.DataFrame(quantized)),
        ]
    return "\n".join(lines) + "\n"


def _against_logreg(records: list[dict]) -> pd.DataFrame:
    """Per dataset: the DAN's mean test F1, the LogReg peer's, and the difference."""
    f1 = pd.DataFrame(records).groupby(["dataset", "method"], sort=False)["f1"].mean().unstack()
    dan, logreg = f1["DAN (defaults)"], f1["TF-IDF + LogReg"]
    return pd.DataFrame(
        {
            "DAN (defaults)": dan.map("{:.4f}".format),
            "TF-IDF + LogReg": logreg.map("{:.4f}".format),
            "DAN minus LogReg": (dan - logreg).map("{:+.4f}".format),
        }
    ).reset_index()


def _change(records: dict) -> pd.DataFrame:
    metrics = ["accuracy", "f1", "macro_f1"]
    default, grouped = (
        pd.DataFrame(records[name]).groupby(["dataset", "method"], sort=False)[metrics].mean()
        for name in ("default", "grouped")
    )
    table = pd.DataFrame(
        {
            "F1 default": default["f1"].map("{:.4f}".format),
            "F1 grouped": grouped["f1"].map("{:.4f}".format),
            **{f"Δ {m}": (grouped[m] - default[m]).map("{:+.4f}".format) for m in metrics},
        }
    )
    return table.reset_index()


if __name__ == "__main__":
    sys.exit(run_guarded(main, prog="benchmarks/peers.py"))
