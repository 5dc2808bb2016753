"""The training step's pooling on the CPU: the numba kernels against the torch formulation.

Issue 19 asks for a pooling whose forward and backward cost little more than the mean's. In
``dan_dice.bag_pooling.TorchPool`` (the path of devices other than the CPU) each part of a
pooling is a chain of torch operations, each one a pass over the batch's tokens ×
dimensions. ``dan_dice.fused_pooling.FusedPool``, which ``pool_bags`` uses on the CPU, makes
one pass a text each way: the attention scores, the softmax, the weighted mean and the
maximum together, then their gradients. Both sides run as ``pool_bags`` runs them (the
batch's rows gathered once, then the pooling) from the same batch, table and upstream
gradient, and end with the table's gradient (one row per distinct id) and the attention
vector's; each side's outputs and gradients are checked against the other's.

Batches are the cyberbullying training texts (packed by ``Vocabulary.encode_batch``, the
vocabulary of the training part) in the order of the split, at the estimator's batch size
(128) and the study grid's (256); the table is seeded random rows (the cost does not depend
on the values). One thread. Writes ``reports/fused_pooling.md``.

    python benchmarks/fused_pooling.py [--data-dir D] [--batches 40] [--repeats 5]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from datetime import datetime
from pathlib import Path

import pandas as pd
import torch

from dan_dice.bag_pooling import TorchPool, pool_bags
from dan_dice.cli import run_guarded
from dan_dice.files import atomic_write_text
from dan_dice.fused_pooling import FusedPool
from dan_dice.machine import environment, package_version
from dan_dice.provenance import stamp
from dan_dice.reporting import to_markdown
from dan_dice.study_data import load_split
from dan_dice.text import Vocabulary

DIM = 50
POOLINGS = {"mean": ("mean",), "attention+max": ("attention", "max")}
SIDES = {"torch": TorchPool, "numba": FusedPool}


def step(pool, table, att, ids, offsets, parts, grad):
    """Forward and backward of one pooling as ``pool_bags`` runs it: the pooled batch and
    both gradients."""
    table.grad = att.grad = None
    pooled = pool_bags(table, ids, offsets, parts, att, pool=pool)
    pooled.backward(grad)
    return pooled.detach(), table.grad, att.grad


def largest_difference(a, b) -> float:
    if a is None or b is None:
        return 0.0
    if a.is_sparse:
        a, b = a.to_dense(), b.to_dense()
    return float((a - b).abs().max())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", help="folder with the datasets (default: $DAN_DICE_DATA)")
    parser.add_argument("--batches", type=int, default=40, help="batches timed per row")
    parser.add_argument("--repeats", type=int, default=5, help="passes over those batches")
    parser.add_argument("--report", default="reports/fused_pooling.md")
    args = parser.parse_args()
    if args.batches < 1 or args.repeats < 1:
        raise ValueError("--batches and --repeats must be at least 1")
    torch.set_num_threads(1)
    split = load_split("cyberbullying", args.data_dir)
    vocabulary = Vocabulary.build(split.X_train, min_count=2)
    generator = torch.Generator().manual_seed(0)
    table = torch.randn(len(vocabulary) + 1, DIM, generator=generator).mul_(0.3).requires_grad_()
    att = torch.randn(DIM, generator=generator).mul_(0.3).requires_grad_()
    started = time.perf_counter()
    rows, checks = [], []
    for batch_size in (128, 256):
        texts = split.X_train[: batch_size * args.batches]
        batches = []
        for i in range(0, len(texts), batch_size):
            ids, offsets = vocabulary.encode_batch(texts[i : i + batch_size])
            grad = torch.randn(len(offsets), 2 * DIM, generator=generator)
            batches.append((torch.from_numpy(ids), torch.from_numpy(offsets), grad))
        for name, parts in POOLINGS.items():
            width = DIM * len(parts)
            first = time.perf_counter()
            step(FusedPool, table, att, *batches[0][:2], parts, batches[0][2][:, :width])
            first_call = time.perf_counter() - first
            for ids, offsets, grad in batches:
                a, b = (
                    step(pool, table, att, ids, offsets, parts, grad[:, :width])
                    for pool in SIDES.values()
                )
                checks.append(max(largest_difference(x, y) for x, y in zip(a, b, strict=True)))
            times = {side: [] for side in SIDES}
            for _ in range(args.repeats):
                for side, pool in SIDES.items():
                    start = time.perf_counter()
                    for ids, offsets, grad in batches:
                        step(pool, table, att, ids, offsets, parts, grad[:, :width])
                    times[side].append((time.perf_counter() - start) / len(batches))
            torch_ms = 1e3 * statistics.median(times["torch"])
            numba_ms = 1e3 * statistics.median(times["numba"])
            rows.append(
                {
                    "pooling": name,
                    "batch size": batch_size,
                    "tokens a batch": round(sum(len(b[0]) for b in batches) / len(batches)),
                    "torch ms": round(torch_ms, 3),
                    "numba ms": round(numba_ms, 3),
                    "torch / numba": round(torch_ms / numba_ms, 2),
                    "first call s": round(first_call, 2) if batch_size == 128 else "",
                }
            )
    frame = pd.DataFrame(rows)
    about = f"{datetime.now():%Y-%m-%d %H:%M}; {environment()}"
    command = "python benchmarks/fused_pooling.py " + " ".join(sys.argv[1:])
    text = render(frame, max(checks), command.strip(), about, time.perf_counter() - started)
    atomic_write_text(Path(args.report), stamp(text, Path(__file__)))
    print(text)
    return 0


def render(frame: pd.DataFrame, difference: float, command: str, about: str, seconds: float) -> str:
    by = frame.set_index(["pooling", "batch size"])
    lines = [
        "# The pooling's forward and backward on the CPU: numba kernels against torch",
        "",
        f"Made by `{command}` on {about}; numba {package_version('numba')}, llvmlite "
        f"{package_version('llvmlite')}; {seconds:.0f} s.",
        "",
        "Each time is one batch's forward and backward of the pooling alone (from ids to the "
        "table's and the attention vector's gradients), the median over the passes of the "
        "mean over the batches. `torch`: `bag_pooling.TorchPool` (other devices' path); "
        "`numba`: `fused_pooling.FusedPool` (the CPU's). `first call s`: the kernels' first "
        "call in this process, which compiles them or, once compiled, loads them from "
        "numba's on-disk cache.",
        "",
        to_markdown(frame),
        "",
        f"Largest difference between the two sides, over every batch, output and gradient: "
        f"{difference:.1e} (float32 sums in another order).",
        "",
    ]
    for batch_size in (128, 256):
        fused = by.loc[("attention+max", batch_size), "numba ms"]
        mean = by.loc[("mean", batch_size), "torch ms"]
        lines.append(
            f"At batches of {batch_size}, fused attention+max takes {fused:.3f} ms against "
            f"{mean:.3f} ms for torch's mean pooling ({fused / mean:.2f}×)."
        )
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(run_guarded(main, prog="benchmarks/fused_pooling.py"))
