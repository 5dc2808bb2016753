"""A cheaper update for the fine-tuned embedding rows: what it saves an epoch, and what it does
to the validation score on every dataset and training size.

The estimator updates the rows a batch gathered with ``training.LazyAdam`` (Adam's exact update,
two moments a row). Issue 19 asks whether a cheaper optimiser for those rows, SGD or
Adagrad-like as fastText's, is worth a modelling change. Two candidates, which the package does
not offer, are swapped in for the measurement only (``estimator.make_optimizers`` replaced
within each fit; the dense layers keep the fused Adam): plain SGD, the cheapest update there is
(no state), and Adagrad (one accumulator a row). A third keeps LazyAdam with a larger rate for
the rows alone: what the cheaper updates gain in time comes mostly from fewer epochs, which a
faster-learning table may give at no change of optimiser.

1. **Cost**: one epoch of ``training.train`` on the cyberbullying training split for the study
   network and the estimator's defaults, under LazyAdam, each candidate and frozen embeddings
   (no update at all, the floor); the kinds alternate within each of ``--repeats`` rounds after
   a warm-up round; best and median seconds.
2. **Learning rate**: each candidate's rate for the rows is chosen among :data:`RATES` by its
   mean validation score over every task on its full training part, seed 0.
3. **Validation**: the estimator's defaults with each candidate at its chosen rate, against
   LazyAdam, on the tasks and sizes of ``benchmarks/stopping.py`` over ``--seeds`` seeds. A
   candidate could replace LazyAdam only if on every task and size its mean validation score is
   within one standard deviation of LazyAdam's or better and no fit warned of a collapse.

Every fit is journaled in ``--out`` as it ends, so an interrupted run resumes. Writes
``reports/embedding_update.md``.

    python benchmarks/embedding_update.py [--data-dir D] [--seeds 5] [--jobs 2] [--repeats 7]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from functools import partial
from pathlib import Path
from unittest import mock

import numpy as np
import pandas as pd
import torch
from sized_fits import fit_and_score, run_sized, within_noise
from stopping import SIZES, TASKS
from threadpoolctl import threadpool_limits

from dan_dice import DANClassifier, estimator
from dan_dice.cli import run_guarded
from dan_dice.embeddings import embedding_matrix, load_word_vectors
from dan_dice.experiments import STUDY_LOSSES, Config
from dan_dice.files import atomic_write_text
from dan_dice.journal import code_fingerprint
from dan_dice.losses import get_loss
from dan_dice.machine import environment
from dan_dice.model import DAN
from dan_dice.multilabel_experiments import load_multilabel_split
from dan_dice.provenance import stamp
from dan_dice.reporting import to_markdown
from dan_dice.study_data import load_split
from dan_dice.text import Vocabulary
from dan_dice.training import (
    LazyAdam,
    PackedTexts,
    TrainingDivergedError,
    make_optimizers,
    train,
)


class RowSGD(torch.optim.Optimizer):
    """Plain SGD on the rows a sparse gradient names: one scatter-add, no state."""

    def __init__(self, params, lr: float):
        super().__init__(params, {"lr": lr})

    @torch.no_grad()
    def step(self, closure=None):
        for group in self.param_groups:
            for param in group["params"]:
                if param.grad is not None:
                    grad = param.grad
                    param.index_add_(0, grad._indices()[0], grad._values(), alpha=-group["lr"])


class RowAdagrad(torch.optim.Optimizer):
    """Adagrad on the rows a sparse gradient names: one accumulator of squared gradients a row,
    the other rows left as they are."""

    def __init__(self, params, lr: float, eps: float = 1e-10):
        super().__init__(params, {"lr": lr, "eps": eps})

    @torch.no_grad()
    def step(self, closure=None):
        for group in self.param_groups:
            for param in group["params"]:
                if param.grad is None:
                    continue
                state = self.state[param]
                if not state:
                    state["sum"] = torch.zeros_like(param)
                grad = param.grad.coalesce()  # unique rows: each is read and written once
                rows, values = grad.indices()[0], grad.values()
                total = state["sum"].index_select(0, rows).addcmul_(values, values)
                state["sum"].index_copy_(0, rows, total)
                step = values / total.sqrt_().add_(group["eps"])
                param.index_add_(0, rows, step, alpha=-group["lr"])


UPDATES = {
    "LazyAdam": None,
    "SGD": RowSGD,
    "Adagrad": RowAdagrad,
    "LazyAdam, faster rows": LazyAdam,
}
"""The row optimisers compared: today's (None: ``make_optimizers``'s own, at the estimator's
``lr``) and the candidates; the last is today's update at a rate of its own for the rows (the
same cost an epoch, so it is not timed apart)."""
RATES = {
    "SGD": (1.0, 3.0, 10.0, 30.0),
    "Adagrad": (0.01, 0.03, 0.1),
    "LazyAdam, faster rows": (0.002, 0.003, 0.01, 0.03),
}
"""Each candidate's learning rates for the rows, among which stage 2 chooses."""
FULL = 10**9
"""The size under which the full training part sorts, after every subsample."""
NETWORKS = {
    "study (mean pooling)": Config().estimator(STUDY_LOSSES[0], 0),
    "estimator defaults (attention+max)": DANClassifier(),
}


def optimizers(update: str, row_lr: float, model: torch.nn.Module, lr: float, weight_decay=0.0):
    """``make_optimizers``'s, with the embedding rows' LazyAdam replaced by ``update`` at
    ``row_lr`` (LazyAdam: unchanged)."""
    made = make_optimizers(model, lr, weight_decay)
    if UPDATES[update] is not None and isinstance(made[-1], LazyAdam):
        made[-1] = UPDATES[update](made[-1].param_groups[0]["params"], lr=row_lr)
    return made


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", help="folder with the datasets (default: $DAN_DICE_DATA)")
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--repeats", type=int, default=7, help="timed rounds of epochs")
    parser.add_argument("--out", default="reports/.embedding_update", help="journal of the fits")
    parser.add_argument("--report", default="reports/embedding_update.md")
    args = parser.parse_args()
    return run_guarded(lambda: _main(args))


def _main(args: argparse.Namespace) -> int:
    if args.seeds < 2 or args.repeats < 1:
        raise ValueError("--seeds must be at least 2 (a standard deviation) and --repeats 1")
    about = environment()
    splits = {
        task: load_multilabel_split(args.data_dir)
        if task == "goemotions"
        else load_split(task, args.data_dir)
        for task in TASKS
    }
    epochs = _epoch_costs(splits["cyberbullying"], args.repeats)
    journal = Path(args.out) / f"fits-{code_fingerprint()}.jsonl"
    probe = [
        (task, update, rate, None, 0)
        for task in TASKS
        for update, rates in RATES.items()
        for rate in rates
    ]
    probed = _run(probe, splits, journal, args.jobs)
    rates = _chosen_rates(probed)
    arms = [("LazyAdam", 0.0), *rates.items()]
    jobs = [
        (task, update, rate, size, seed)
        for task in TASKS
        for size in (SIZES if task != "goemotions" else (None,))
        for update, rate in arms
        for seed in range(args.seeds)
        if size is None or size < len(splits[task].X_train)
    ]
    fits = pd.DataFrame(_run(jobs, splits, journal, args.jobs))
    command = "python benchmarks/embedding_update.py " + " ".join(sys.argv[1:])
    text = render(epochs, fits, probed, rates, f"`{command.strip()}` on {about}")
    atomic_write_text(Path(args.report), stamp(text, Path(__file__)))
    print(text)
    return 0


def _epoch_costs(split, repeats: int) -> pd.DataFrame:
    """Seconds of one ``train`` epoch on ``split``'s training part (one thread) for each network
    under each row update and frozen, alternating within each round; best and median."""
    kinds = [kind for kind, update in UPDATES.items() if update is not LazyAdam] + ["frozen"]
    rows = []
    torch.set_num_threads(1)
    with threadpool_limits(1):
        vectors = load_word_vectors()
        for name, clf in NETWORKS.items():
            vocabulary = Vocabulary.build(split.X_train, min_count=clf.min_count)
            matrix, _ = embedding_matrix(vocabulary, vectors)
            cpu = torch.device("cpu")
            data = {
                part: PackedTexts.from_numpy(
                    *vocabulary.encode_batch(getattr(split, f"X_{part}")),
                    getattr(split, f"y_{part}"),
                    cpu,
                )
                for part in ("train", "val")
            }
            loss_fn = get_loss(clf.loss, split.y_train, 2, clf.loss_params)
            settings = {"n_classes": 2, "max_epochs": 1, "batch_size": clf.batch_size}
            settings["threshold"] = clf.threshold
            seconds = {kind: [] for kind in kinds}
            for round_ in range(repeats + 1):  # the first round warms up and is dropped
                for kind in kinds:
                    torch.manual_seed(round_)
                    model = DAN(
                        matrix,
                        hidden_sizes=tuple(clf.hidden_sizes),
                        dropout=clf.dropout,
                        word_dropout=clf.word_dropout,
                        freeze_embeddings=kind == "frozen" or clf.freeze_embeddings,
                        pooling=clf.pooling,
                    )
                    update = "LazyAdam" if kind == "frozen" else kind
                    rate = RATES[update][1] if update in RATES else clf.lr
                    made = optimizers(update, rate, model, clf.lr, clf.weight_decay)
                    start = time.perf_counter()
                    train(model, loss_fn, data["train"], data["val"], optimizers=made, **settings)
                    if round_:
                        seconds[kind].append(time.perf_counter() - start)
            adam = statistics.median(seconds["LazyAdam"])
            for kind in kinds:
                median = statistics.median(seconds[kind])
                rows.append(
                    {
                        "network": name,
                        "embedding rows": "frozen (no update)" if kind == "frozen" else kind,
                        "best_s": min(seconds[kind]),
                        "median_s": median,
                        "median against LazyAdam": f"{median / adam:.3f}",
                    }
                )
    return pd.DataFrame(rows)


def fit_one(split, task: str, update: str, rate: float, size: int | None, seed: int) -> dict:
    """Fit the estimator's defaults with ``update`` on the embedding rows (at ``rate``) and
    score validation (and test, for the binary and 6-class tasks)."""
    clf = DANClassifier(random_state=seed)
    record = {"task": task, "update": update, "rate": rate, "size": size, "seed": seed}
    with mock.patch.object(estimator, "make_optimizers", partial(optimizers, update, rate)):
        try:
            return record | fit_and_score(clf, split, task, size, seed)
        except TrainingDivergedError:  # a rate too high for the rows: the worst score
            failed = {"val": 0.0, "epochs": 0, "best_epoch": 0, "collapse_warning": False}
            return record | failed | {"seconds": np.nan, "test": 0.0, "diverged": True}


def _run(jobs: list[tuple], splits: dict, journal: Path, n_jobs: int) -> list[dict]:
    """Fit every job not yet in the journal, largest first; the records of ``jobs``."""
    return run_sized(
        journal,
        jobs,
        ("task", "update", "rate", "size", "seed"),
        splits,
        fit_one,
        n_jobs,
        lambda r: (
            f"{r['task']:>14} {r['update']:>8} {r['rate']:<5g} size {r['size']} "
            f"seed {r['seed']}: val {r['val']:.4f} ({r['seconds']:.0f} s, {r['epochs']} epochs)"
        ),
    )


def _chosen_rates(probe: list[dict]) -> dict[str, float]:
    """Each candidate's rate with the best mean validation score over the tasks (seed 0)."""
    means = pd.DataFrame(probe).groupby(["update", "rate"])["val"].mean()
    return {update: float(means[update].idxmax()) for update in RATES}


def render(epochs: pd.DataFrame, fits: pd.DataFrame, probed: list, rates: dict, made: str) -> str:
    """``reports/embedding_update.md``: the epoch costs, the rates tried, and per task and size
    each arm's validation score (mean ± sd over the seeds), test score, epochs and seconds,
    with the verdict."""
    arms = {"LazyAdam": "LazyAdam (today)"} | {u: f"{u} at {r:g}" for u, r in rates.items()}
    chosen = fits.assign(
        task=pd.Categorical(fits["task"], categories=TASKS, ordered=True),
        size=fits["size"].fillna(FULL).astype(int),
        arm=pd.Categorical(fits["update"].map(arms), categories=list(arms.values()), ordered=True),
    )
    rate_table = pd.DataFrame(probed).pivot_table("val", ["update", "rate"], "task")
    rate_table["mean"] = rate_table.mean(axis=1)
    rate_table = rate_table.round(4).reset_index()
    stats = (
        chosen.groupby(["task", "size", "arm"], observed=True)
        .agg(
            val=("val", "mean"),
            val_sd=("val", "std"),
            test=("test", "mean"),
            epochs=("epochs", "mean"),
            seconds=("seconds", "mean"),
            collapses=("collapse_warning", "sum"),
            seeds=("seed", "count"),
        )
        .reset_index()
    )
    rows, failed = [], {}
    for (task, size), group in stats.groupby(["task", "size"], observed=True):
        size = "all" if size == FULL else size
        base = group.set_index("arm").loc[arms["LazyAdam"]]
        for _, row in group.iterrows():
            holds = within_noise(row["val"], base["val"], base["val_sd"]) and not row["collapses"]
            if not holds:
                failed.setdefault(row["arm"], []).append(f"{task} {size}")
            rows.append(
                {
                    "task": task,
                    "size": size,
                    "embedding rows": row["arm"],
                    "val": f"{row['val']:.4f} ± {row['val_sd']:.4f}",
                    "test": "" if np.isnan(row["test"]) else f"{row['test']:.4f}",
                    "epochs": f"{row['epochs']:.1f}",
                    "seconds": f"{row['seconds']:.1f}",
                    "collapses": int(row["collapses"]),
                    "seeds": int(row["seeds"]),
                }
            )
    total = chosen.groupby("arm", observed=True)["seconds"].sum()
    verdicts = [
        {
            "embedding rows": arm,
            "all fits' seconds": f"{total[arm]:.0f}",
            "against LazyAdam": f"{total[arm] / total[arms['LazyAdam']]:.2f}x",
            "verdict": "today's update"
            if update == "LazyAdam"
            else ("fails on " + ", ".join(failed[arm]) if arm in failed else "holds"),
        }
        for update, arm in arms.items()
    ]
    epoch_table = epochs.assign(
        best_s=epochs["best_s"].map("{:.3f}".format),
        median_s=epochs["median_s"].map("{:.3f}".format),
    )
    lines = [
        "# A cheaper update for the fine-tuned embedding rows",
        "",
        f"Made by {made}.",
        "",
        "The estimator updates the embedding rows a batch gathered with `LazyAdam` (Adam's exact "
        "update); two cheaper candidates, which the package does not offer, are swapped in for "
        "this measurement only: plain SGD on the rows (no state, the cheapest update there is) "
        "and Adagrad (one accumulator a row); a third keeps LazyAdam at a larger rate for the "
        "rows alone (`faster rows`, the cost of today's update an epoch). The dense layers keep "
        "the fused Adam at the estimator's rate throughout.",
        "",
        "## One epoch (cyberbullying training split, one thread)",
        "",
        "The kinds alternate within each round; `frozen` makes no update at all (the floor). "
        "LazyAdam is a numba kernel, the candidates torch operations: SGD's one scatter-add is "
        "the least any update of the rows can cost, Adagrad's gathers and scatters are not "
        "its best form.",
        "",
        to_markdown(epoch_table),
        "",
        "## The candidates' learning rates (validation score, seed 0, full training parts)",
        "",
        to_markdown(rate_table),
        "",
        "Chosen by the mean: " + ", ".join(f"{u} {r:g}" for u, r in rates.items()) + ".",
        "",
        "## Validation on every task and size",
        "",
        "Validation scores are F1 of the positive class (macro-F1 for cyberbullying6 and "
        "GoEmotions); size `all` is the training part with the fixed validation part "
        "(GoEmotions: train, judged on dev), other sizes stratified subsamples fit with "
        "`fit(X, y)`, as in `reports/stopping.md`. A candidate holds when on every row its mean "
        "validation score is within one standard deviation of LazyAdam's or better and no fit "
        "warned of a collapse.",
        "",
        to_markdown(pd.DataFrame(rows)),
        "",
        to_markdown(pd.DataFrame(verdicts)),
    ]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    raise SystemExit(main())
