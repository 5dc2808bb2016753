"""The training step's pooling, fused: torch's ``pool_bags`` against one numba pass a text.

Issue 19 asks for a pooling whose forward and backward cost little more than the mean's. In
``dan_dice.bag_pooling`` each part of a pooling is a chain of torch operations, each one a
pass over the batch's tokens × dimensions. Here the same forward and backward run as numba
kernels that make one pass a text: the attention scores, the softmax, the weighted mean and
the maximum together, then their gradients, ties of the maximum sharing the gradient as
torch's ``amax`` does. Both sides start from the same batch, table and upstream gradient, and
end with the table's gradient (one row per distinct id) and the attention vector's. Each
side's outputs and gradients are checked against the other's.

Batches are the cyberbullying training texts (packed by ``Vocabulary.encode_batch``, the
vocabulary of the training part) in the order of the split, at the estimator's batch size
(128) and the study grid's (256); the table is seeded random rows (the cost does not depend
on the values). One thread. Needs numba, which dan-dice does not install: ``pip install
numba``. Writes ``reports/fused_pooling.md``.

    python benchmarks/fused_pooling.py [--data-dir D] [--batches 40] [--repeats 5]
"""

from __future__ import annotations

import argparse
import math
import statistics
import sys
import time
from datetime import datetime
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from dan_dice.bag_pooling import pool_bags, unique_rows
from dan_dice.cli import run_guarded
from dan_dice.files import atomic_write_text
from dan_dice.machine import environment, package_version
from dan_dice.provenance import stamp
from dan_dice.reporting import to_markdown
from dan_dice.study_data import load_split
from dan_dice.text import Vocabulary

DIM = 50
POOLINGS = {"mean": ("mean",), "attention+max": ("attention", "max")}


def kernels():
    """The numba kernels, compiled on first call (``cache=False``: the compile time is timed)."""
    import numba

    jit = numba.njit(cache=False, fastmath=True, boundscheck=False)

    @jit
    def mean_forward(sub, pos, offsets, n_tokens, out):
        for b in range(out.shape[0]):
            end = offsets[b + 1] if b + 1 < out.shape[0] else n_tokens
            pooled = out[b]
            pooled[:] = 0
            for t in range(offsets[b], end):
                pooled += sub[pos[t]]
            pooled /= np.float32(end - offsets[b])

    @jit
    def mean_backward(pos, offsets, n_tokens, grad, grad_sub):
        for b in range(grad.shape[0]):
            end = offsets[b + 1] if b + 1 < grad.shape[0] else n_tokens
            share = grad[b] / np.float32(end - offsets[b])
            for t in range(offsets[b], end):
                grad_sub[pos[t]] += share

    @jit
    def attention_max_forward(sub, att, pos, offsets, n_tokens, out, weights):
        n_texts, dim = out.shape[0], sub.shape[1]
        for b in range(n_texts):
            start, end = offsets[b], offsets[b + 1] if b + 1 < n_texts else n_tokens
            top = np.float32(-np.inf)
            for t in range(start, end):
                row, score = sub[pos[t]], np.float32(0)
                for d in range(dim):
                    score += row[d] * att[d]
                weights[t] = score
                top = max(top, score)
            total = np.float32(0)
            for t in range(start, end):
                weights[t] = np.float32(math.exp(weights[t] - top))
                total += weights[t]
            pooled, maxima = out[b, :dim], out[b, dim:]
            pooled[:] = 0
            maxima[:] = -np.inf
            for t in range(start, end):
                weights[t] /= total
                row, w = sub[pos[t]], weights[t]
                for d in range(dim):
                    pooled[d] += w * row[d]
                    maxima[d] = max(maxima[d], row[d])

    @jit
    def attention_max_backward(sub, att, pos, offsets, n_tokens, out, weights, grad, grad_sub):
        n_texts, dim = out.shape[0], sub.shape[1]
        grad_att = np.zeros(dim, dtype=np.float32)
        share = np.zeros(dim, dtype=np.float32)
        for b in range(n_texts):
            start, end = offsets[b], offsets[b + 1] if b + 1 < n_texts else n_tokens
            g, maxima = grad[b, :dim], out[b, dim:]
            through_pooled = np.float32(0)
            for d in range(dim):
                through_pooled += g[d] * out[b, d]
            share[:] = 0
            for t in range(start, end):
                row = sub[pos[t]]
                for d in range(dim):
                    share[d] += np.float32(row[d] == maxima[d])
            for d in range(dim):  # tied maxima share the gradient, as torch's amax does
                share[d] = grad[b, dim + d] / share[d]
            for t in range(start, end):
                row, target, w = sub[pos[t]], grad_sub[pos[t]], weights[t]
                through = np.float32(0)
                for d in range(dim):
                    through += g[d] * row[d]
                grad_score = w * (through - through_pooled)  # the softmax's Jacobian
                for d in range(dim):
                    grad_att[d] += grad_score * row[d]
                    hit = np.float32(row[d] == maxima[d])
                    target[d] += w * g[d] + grad_score * att[d] + share[d] * hit
        return grad_att

    return mean_forward, mean_backward, attention_max_forward, attention_max_backward


def torch_step(table, att, ids, offsets, parts, grad):
    """Forward and backward of ``pool_bags``: the pooled batch and both gradients."""
    table.grad = att.grad = None
    pooled = pool_bags(table, ids, offsets, parts, att if "attention" in parts else None)
    pooled.backward(grad)
    return pooled.detach(), table.grad, att.grad


def fused_step(compiled, table, att, ids, offsets, parts, grad):
    """The same with the numba kernels: rows gathered once, one pass a text each way."""
    mean_fwd, mean_bwd, am_fwd, am_bwd = compiled
    rows, pos = unique_rows(ids, len(table))
    sub = table.detach().numpy()[rows.numpy()]
    pos, starts, n_tokens = pos.numpy(), offsets.numpy(), len(ids)
    grad_sub, upstream = np.zeros_like(sub), grad.numpy()
    if parts == ("mean",):
        out = np.empty((len(starts), DIM), dtype=np.float32)
        mean_fwd(sub, pos, starts, n_tokens, out)
        mean_bwd(pos, starts, n_tokens, upstream, grad_sub)
        grad_att = None
    else:
        out = np.empty((len(starts), 2 * DIM), dtype=np.float32)
        weights = np.empty(n_tokens, dtype=np.float32)
        vector = att.detach().numpy()
        am_fwd(sub, vector, pos, starts, n_tokens, out, weights)
        grad_att = torch.from_numpy(
            am_bwd(sub, vector, pos, starts, n_tokens, out, weights, upstream, grad_sub)
        )
    table_grad = torch.sparse_coo_tensor(
        rows[None],
        torch.from_numpy(grad_sub),
        table.shape,
        check_invariants=False,
        is_coalesced=True,
    )
    return torch.from_numpy(out), table_grad, grad_att


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
    try:
        import numba
    except ImportError as exc:
        message = "this benchmark needs numba, which dan-dice does not install: pip install numba"
        raise SystemExit(message) from exc
    torch.set_num_threads(1)
    numba.set_num_threads(1)
    split = load_split("cyberbullying", args.data_dir)
    vocabulary = Vocabulary.build(split.X_train, min_count=2)
    generator = torch.Generator().manual_seed(0)
    table = torch.randn(len(vocabulary) + 1, DIM, generator=generator).mul_(0.3).requires_grad_()
    att = torch.randn(DIM, generator=generator).mul_(0.3).requires_grad_()
    started = time.perf_counter()
    compiled = kernels()
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
            fused_step(compiled, table, att, *batches[0][:2], parts, batches[0][2][:, :width])
            compile_s = time.perf_counter() - first
            for ids, offsets, grad in batches:
                a = torch_step(table, att, ids, offsets, parts, grad[:, :width])
                b = fused_step(compiled, table, att, ids, offsets, parts, grad[:, :width])
                checks.append(max(largest_difference(x, y) for x, y in zip(a, b, strict=True)))
            times = {"torch": [], "numba": []}
            for _ in range(args.repeats):
                for side, step in (("torch", torch_step), ("numba", fused_step)):
                    extra = (compiled,) if side == "numba" else ()
                    start = time.perf_counter()
                    for ids, offsets, grad in batches:
                        step(*extra, table, att, ids, offsets, parts, grad[:, :width])
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
                    "first call s": round(compile_s, 2) if batch_size == 128 else "",
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
        "# The pooling's forward and backward, fused with numba",
        "",
        f"Made by `{command}` on {about}; numba {package_version('numba')}, llvmlite "
        f"{package_version('llvmlite')}; {seconds:.0f} s.",
        "",
        "Each time is one batch's forward and backward of the pooling alone (from ids to the "
        "table's and the attention vector's gradients), the median over the passes of the "
        "mean over the batches. `first call s`: the numba kernels' compile time in this "
        "process (`cache=True` would keep them on disk after the first run).",
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
