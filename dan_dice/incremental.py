"""What continued training needs beyond :func:`~dan_dice.training.train`: per-text weights
checked, the labels of a first ``partial_fit`` call, and a vocabulary that grows with the data.

New words join the vocabulary once they have been seen ``min_count`` times across the calls
and have a pretrained vector (a word without one would start at the mean vector, which the
unknown word already stands for); their rows are appended to the embedding table, and to the
optimiser's moments, so the ids of the known words never change.
"""

from __future__ import annotations

import numbers
from collections import Counter
from typing import Any

import numpy as np
import torch

from .embeddings import WordVectors
from .targets import MULTILABEL, check_targets
from .text import Vocabulary


def check_sample_weight(sample_weight: Any, n_samples: int) -> np.ndarray | None:
    """``sample_weight`` as float64 weights, one per text, finite and ``>= 0`` with a positive
    sum (None stays None: every text weighs 1)."""
    if sample_weight is None:
        return None
    if isinstance(sample_weight, numbers.Real) and not isinstance(sample_weight, bool):
        return np.full(n_samples, float(sample_weight))
    try:
        weight = np.asarray(sample_weight, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"sample_weight must be numbers, one per text: {exc}") from exc
    if weight.shape != (n_samples,):
        raise ValueError(
            f"sample_weight must have one weight per text: {n_samples} texts, "
            f"sample_weight of shape {weight.shape}"
        )
    if not np.isfinite(weight).all() or (weight < 0).any():
        raise ValueError("sample_weight must be finite and >= 0")
    if n_samples and weight.sum() <= 0:
        raise ValueError("sample_weight sums to 0: no text would count")
    return weight


def first_targets(y: Any, n_samples: int, classes: Any) -> tuple[str, np.ndarray]:
    """``(y_type, classes)`` fixed by a first ``partial_fit`` call: from ``classes`` (every
    label the model will ever see), or for a multi-label indicator from its width."""
    if classes is None:
        y_type, found, _ = check_targets(y, n_samples)
        if y_type != "multilabel-indicator":
            raise ValueError(
                "the first partial_fit call needs classes=..., every label the model will "
                "see (later calls may hold only some); a multi-label indicator's width "
                "fixes its labels without it"
            )
        return y_type, found
    labels = list(np.unique(np.asarray(classes, dtype=object).ravel()).tolist())
    y_type, _, _ = check_targets(y, n_samples)
    if y_type in MULTILABEL:
        return y_type, np.array(labels)
    if len(labels) < 2:
        raise ValueError(f"classes must hold two labels or more, got {labels}")
    return ("binary" if len(labels) == 2 else "multiclass"), np.array(labels)


def grow_vocabulary(
    vocabulary: Vocabulary, counts: Counter[str], min_count: int, vectors: WordVectors
) -> tuple[Vocabulary, np.ndarray]:
    """The vocabulary with the words of ``counts`` seen ``min_count`` times that it lacks and
    that have a pretrained vector, most frequent first; and those words' vectors."""
    index = vectors.index
    new = [
        token
        for token, count in counts.most_common()
        if count >= min_count and token not in vocabulary.index and token in index
    ]
    if not new:
        return vocabulary, np.zeros((0, vectors.dim), dtype=np.float32)
    rows = vectors.vectors[[index[token] for token in new]].astype(np.float32)
    return Vocabulary([*vocabulary.tokens, *new]), rows


@torch.no_grad()
def add_embedding_rows(
    model: torch.nn.Module, optimizers: list[torch.optim.Optimizer], rows: np.ndarray
) -> None:
    """Append ``rows`` to ``model``'s embedding table, in place, with zero moments in any
    optimiser state of the table (as if those rows had never had a gradient)."""
    if not len(rows):
        return
    weight = model.embedding.weight
    weight.data = torch.cat([weight.data, torch.as_tensor(rows).to(weight)])
    model.embedding.num_embeddings = len(weight)
    for optimizer in optimizers:
        state = optimizer.state.get(weight, {})
        for key in ("exp_avg", "exp_avg_sq"):
            if key in state:
                moments = state[key]
                state[key] = torch.cat([moments, moments.new_zeros(len(rows), moments.shape[1])])
