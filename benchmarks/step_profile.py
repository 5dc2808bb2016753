"""The cProfile of a short fit, for ``benchmarks/speed.py``: the share of ``fit`` and of
``train`` in each function they call directly."""

from __future__ import annotations

import cProfile
import math
import pstats
import warnings
from pathlib import Path

import pandas as pd
from sklearn.base import clone

from dan_dice.estimator import DANClassifier
from dan_dice.training import CollapseWarning

STEPS = {
    ("training.py", "take"): "batch packing (PackedTexts.take, once an epoch)",
    ("training.py", "chunks"): "batches (PackedTexts.chunks)",
    ("module.py", "_wrapped_call_impl"): "forward, network",
    ("_tensor.py", "backward"): "backward (Tensor.backward)",
    ("_compile.py", "inner"): "zero_grad",
    ("optimizer.py", "wrapper"): "optimiser steps (fused Adam + LazyAdam)",
    ("training.py", "score_logits"): "running training scores (once an epoch)",
    ("training.py", "evaluate"): "validation scoring (once an epoch)",
    ("copy.py", "deepcopy"): "best-state copy (deepcopy)",
    ("training.py", "make_optimizers"): "optimiser set-up (once a fit)",
}
"""Direct callees of ``train`` and of its ``train_epoch`` in the profile, by (file, function),
and what they are."""


def profile_fit(split, clf: DANClassifier, epochs: int) -> dict:
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
    fit, loop = (
        function_key(stats, "estimator.py", "fit"),
        function_key(stats, "training.py", "train"),
    )
    parts = callees(stats, loop, STEPS)  # the epochs' training passes, by what they call
    parts.pop("`training.py:train_epoch`")
    parts |= callees(stats, function_key(stats, "training.py", "train_epoch"), STEPS)
    loss = sum(v[3] for k, v in stats.items() if k[0].endswith("losses.py") and k[2] == "forward")
    parts[STEPS["module.py", "_wrapped_call_impl"]] -= loss
    parts["forward, loss"] = loss
    order = list(STEPS.values())
    order.insert(order.index(STEPS["module.py", "_wrapped_call_impl"]) + 1, "forward, loss")
    return {
        "epochs": epochs,
        "fit_s": stats[fit][3],
        "fit": shares(callees(stats, fit, {}), stats[fit][3], ()),
        "train": shares(parts, stats[loop][3], order),
        "steps": epochs * math.ceil(len(split.X_train) / clf.batch_size),
    }


def function_key(stats: dict, file: str, name: str) -> tuple:
    """The profile's key of the function ``name`` defined in a file named ``file``."""
    found = [k for k in stats if k[0].endswith(file) and k[2] == name]
    if not found:
        raise RuntimeError(f"the profile has no {file}:{name}")
    return found[0]


def callees(stats: dict, caller: tuple, names: dict) -> dict[str, float]:
    """Seconds of ``caller``'s calls to each function, labelled by ``names[file, function]``
    (else ``file:function``)."""
    rows: dict[str, float] = {}
    for (file, _, function), (*_, callers) in stats.items():
        if caller in callers:
            label = names.get((Path(file).name, function), f"`{Path(file).name}:{function}`")
            rows[label] = rows.get(label, 0.0) + callers[caller][3]
    return rows


def shares(rows: dict[str, float], total: float, order) -> list[dict]:
    """``rows`` as shares of ``total``: those in ``order`` first, then the rest from the
    largest, those under 1 % lumped together, and the caller's own code last."""
    known = [k for k in order if k in rows]
    rest = sorted((k for k in rows if k not in order), key=rows.get, reverse=True)
    small = [k for k in rest if rows[k] < 0.01 * total]
    out = {k: rows[k] for k in known + rest if k not in small}
    out["other calls (each < 1 %)"] = sum(rows[k] for k in small)
    out["own code (loop, bookkeeping)"] = total - sum(rows.values())
    return [{"part": k, "seconds": v, "share": v / total} for k, v in out.items()]


def share_table(profiles: dict, key: str) -> pd.DataFrame:
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


def largest_parts(profiles: dict) -> str:
    """The three largest parts of ``train`` for each network, in one sentence."""
    tops = []
    for name, profile in profiles.items():
        top = sorted(profile["train"], key=lambda row: -row["share"])[:3]
        tops.append(f"{name}: " + ", ".join(f"{r['part']} {r['share']:.0%}" for r in top))
    return "Largest parts of `train` (profile below): " + "; ".join(tops) + "."
